-- Idempotency records: the first answer to a keyed write, stored in the same transaction
-- as the change, so a retry replays it instead of acting twice. Scoped to the caller;
-- kept 24 hours. A request still running is known by its lock (in process, and on
-- PostgreSQL a transaction-scoped advisory lock), not by a row.
CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    headers TEXT NOT NULL,
    body BLOB NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    PRIMARY KEY (scope, idempotency_key)
);
CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at);

-- The sync log: one row per change to something a citizen's app may cache. SQLite has
-- one writer at a time and numbers rows inside the write lock, so `seq` is commit order
-- and `txid` stays 0. `account_id` set = that citizen's relation to the thing changed
-- (gained or lost); unset = the thing itself changed.
CREATE TABLE sync_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    txid BIGINT NOT NULL DEFAULT 0,
    entity_type TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    account_id TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX sync_changes_position ON sync_changes (txid, seq);
CREATE INDEX sync_changes_account ON sync_changes (account_id, txid, seq);
