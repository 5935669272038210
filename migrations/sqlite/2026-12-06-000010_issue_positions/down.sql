DROP TRIGGER issue_positions_delete;
DROP TRIGGER issue_positions_move;
DROP TRIGGER issue_positions_insert;
DROP TABLE issue_positions;
