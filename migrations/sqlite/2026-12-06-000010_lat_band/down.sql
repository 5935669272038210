DROP INDEX issues_lat_band_lon;
ALTER TABLE issues DROP COLUMN lat_band;
