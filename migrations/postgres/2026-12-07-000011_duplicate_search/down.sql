DROP INDEX issues_open_by_category;
CREATE INDEX issues_category_position ON issues (category_code, lat, lon, status);
