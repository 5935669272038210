-- A near search narrows by the box around its circle. With (lat, lon) alone the index
-- can seek on latitude only, and scans every issue in the band of latitude the box
-- spans, across the whole map. Bands of 0.001° of latitude (about 111 m) let it seek on
-- both: one short range of longitude per band. The same value as SQLite's column.
ALTER TABLE issues ADD COLUMN lat_band INTEGER
    GENERATED ALWAYS AS (floor((lat + 90.0) * 1000.0)::integer) STORED;
CREATE INDEX issues_lat_band_lon ON issues (lat_band, lon);
