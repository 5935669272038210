-- Near searches narrow by an R*Tree over the issues' positions. The (lat, lon) index
-- narrows by latitude only: a search read every issue in its band of latitude, around
-- the whole map, so it slowed as the map filled. The tree finds the issues inside the
-- search's box, however many there are elsewhere.
--
-- Each entry is keyed by the issue's rowid. VACUUM and `.backup` keep rowids; a copy
-- made by re-inserting rows (`.dump`) renumbers them, and must rebuild this table
-- (README, "Backups").
CREATE VIRTUAL TABLE issue_positions USING rtree(id, min_lat, max_lat, min_lon, max_lon);

INSERT INTO issue_positions (id, min_lat, max_lat, min_lon, max_lon)
SELECT rowid, lat, lat, lon, lon FROM issues;

CREATE TRIGGER issue_positions_insert AFTER INSERT ON issues BEGIN
    INSERT INTO issue_positions (id, min_lat, max_lat, min_lon, max_lon)
    VALUES (new.rowid, new.lat, new.lat, new.lon, new.lon);
END;

CREATE TRIGGER issue_positions_move AFTER UPDATE OF lat, lon ON issues BEGIN
    UPDATE issue_positions
    SET min_lat = new.lat, max_lat = new.lat, min_lon = new.lon, max_lon = new.lon
    WHERE id = new.rowid;
END;

CREATE TRIGGER issue_positions_delete AFTER DELETE ON issues BEGIN
    DELETE FROM issue_positions WHERE id = old.rowid;
END;

