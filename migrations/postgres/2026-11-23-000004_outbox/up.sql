-- Domain events, written in the same transaction as the change they describe, for the
-- dispatcher (webhooks, notifications, push) to deliver.
CREATE TABLE outbox_events (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    data TEXT NOT NULL DEFAULT '{}',
    created_at TIMESTAMP NOT NULL,
    dispatched_at TIMESTAMP
);
CREATE INDEX outbox_events_pending ON outbox_events (dispatched_at, id);
