DROP INDEX issues_position;
CREATE INDEX issues_position ON issues USING gist (point(lon, lat));
