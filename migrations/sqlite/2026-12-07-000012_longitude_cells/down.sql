DROP INDEX issues_open_by_category_cell;
ALTER TABLE issues DROP COLUMN lon_cell;
