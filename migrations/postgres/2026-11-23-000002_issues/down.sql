DROP TABLE issue_photos;
DROP TABLE issue_events;
DROP TABLE issue_follows;
DROP TABLE issue_supports;
DROP TABLE issues;
DROP TABLE categories;
