-- A near search first asks the index alone how far the page's last issue lies, then
-- reads only the rows within that reach (`models::search_issues`). With each issue's
-- position and whether moderators hid it in the index, that first question reads no
-- row: the GiST index answers it by an index-only scan.
DROP INDEX issues_position;
CREATE INDEX issues_position ON issues USING gist (point(lon, lat)) INCLUDE (lat, lon, hidden_at);
