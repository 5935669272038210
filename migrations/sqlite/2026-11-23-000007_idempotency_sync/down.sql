DROP TABLE sync_changes;
DROP TABLE idempotency_keys;
