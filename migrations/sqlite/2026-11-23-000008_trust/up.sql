-- Moderation: content a moderator (or enough flags) took out of public view keeps its row
-- with `hidden_at` set, so restoring it is one update and the audit can show what it was.
ALTER TABLE issues ADD COLUMN hidden_at TIMESTAMP;
ALTER TABLE issue_events ADD COLUMN hidden_at TIMESTAMP;
ALTER TABLE issue_photos ADD COLUMN hidden_at TIMESTAMP;
ALTER TABLE groups ADD COLUMN hidden_at TIMESTAMP;
ALTER TABLE opportunities ADD COLUMN hidden_at TIMESTAMP;

-- Accounts: a suspension ends by itself at `suspended_until`; a ban lasts until lifted;
-- `deleted_at` marks an account erased at its owner's request (the row stays, without
-- anything that identifies the person, so public contributions keep an author).
ALTER TABLE accounts ADD COLUMN suspended_until TIMESTAMP;
ALTER TABLE accounts ADD COLUMN banned_at TIMESTAMP;
ALTER TABLE accounts ADD COLUMN deleted_at TIMESTAMP;

-- Flags: one per citizen per item, ever (a dismissed flag is not raised again by the
-- same person). `status`: open, upheld (the item was hidden), dismissed.
CREATE TABLE flags (
    id TEXT PRIMARY KEY,
    target_type TEXT NOT NULL,
    target_id TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    reason TEXT NOT NULL,
    details TEXT,
    status TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    resolved_at TIMESTAMP,
    resolved_by TEXT,
    UNIQUE (target_type, target_id, account_id)
);
CREATE INDEX flags_queue ON flags (status, created_at);
CREATE INDEX flags_target ON flags (target_type, target_id, status);
CREATE INDEX flags_account ON flags (account_id);

-- The audit log: every staff action, append-only (the triggers below refuse UPDATE and
-- DELETE). Ids are UUIDv7, so they sort by time. `before_state`/`after_state` are JSON.
CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    actor_id TEXT,
    actor_role TEXT NOT NULL,
    action TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id TEXT NOT NULL,
    before_state TEXT,
    after_state TEXT,
    reason TEXT,
    request_id TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX audit_log_actor ON audit_log (actor_id, id);
CREATE INDEX audit_log_target ON audit_log (target_type, target_id, id);
CREATE INDEX audit_log_action ON audit_log (action, id);

-- Consents with their history: each change is a new row; the newest per purpose holds.
CREATE TABLE consents (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    purpose TEXT NOT NULL,
    granted BOOLEAN NOT NULL,
    version TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX consents_account ON consents (account_id, purpose, created_at);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
