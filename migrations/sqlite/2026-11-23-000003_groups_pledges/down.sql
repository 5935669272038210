DROP TABLE pledges;
DROP TABLE opportunities;
ALTER TABLE issues DROP COLUMN adopted_by_group_id;
DROP TABLE group_members;
DROP TABLE groups;
