-- A near search narrows by the box around its circle. With (lat, lon) alone the index
-- can seek on latitude only, and scans every issue in the band of latitude the box
-- spans, across the whole map. Bands of 0.001° of latitude (about 111 m) let it seek on
-- both: one short range of longitude per band. VIRTUAL: computed from lat, stored only
-- in the index. (lat + 90) is never negative, so CAST truncates as floor does.
ALTER TABLE issues ADD COLUMN lat_band INTEGER
    GENERATED ALWAYS AS (CAST((lat + 90.0) * 1000.0 AS INTEGER)) VIRTUAL;
CREATE INDEX issues_lat_band_lon ON issues (lat_band, lon);
