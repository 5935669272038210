-- The duplicate search after each report narrows by category, then by latitude, and
-- tested the longitude of every entry of the category in its band of latitude, across
-- the whole map: about 4,500 entries a report at 1,000,000 issues. `lon_cell` cuts the
-- map into strips 0.005 degrees of longitude wide (about 350 m in London), so the search
-- seeks the two or three strips its box touches and reads their entries in its band.
--
-- The strip is the longitude shifted to be positive and truncated:
-- `models::lon_cells` computes the same in Rust. A virtual column: computed when read,
-- stored only in the index.
ALTER TABLE issues ADD COLUMN lon_cell INTEGER NOT NULL
    GENERATED ALWAYS AS (CAST((lon + 180.0) * 200.0 AS INTEGER)) VIRTUAL;

-- Beside `issues_open_by_category`, which searches by category with a box of any size
-- still use: the strips only help a box a few strips wide.
CREATE INDEX issues_open_by_category_cell
    ON issues (category_code, lon_cell, lat, lon, status, hidden_at);
