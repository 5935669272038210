-- Likely duplicates are searched by category, position and status: without this index
-- the search ranges over every category's issues in the latitude band.
CREATE INDEX issues_category_position ON issues (category_code, lat, lon, status);
