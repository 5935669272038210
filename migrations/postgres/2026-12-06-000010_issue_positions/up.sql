-- Near searches narrow by a GiST index over the issues' positions. The (lat, lon) index
-- narrows by latitude only: a search read every issue in its band of latitude, around
-- the whole map, so it slowed as the map filled. The GiST index finds the issues inside
-- the search's box, however many there are elsewhere.
CREATE INDEX issues_position ON issues USING gist (point(lon, lat));
