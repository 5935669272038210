-- On PostgreSQL this puts each issue's position and `hidden_at` in the GiST index of
-- positions, so a near search can find its page's reach from the index alone. SQLite's
-- R*Tree (`issue_positions`) answers that from its own entries: nothing to do here.
SELECT 1;
