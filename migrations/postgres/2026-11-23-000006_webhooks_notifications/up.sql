-- Webhook subscriptions of partner clients. The secret signs deliveries (HMAC-SHA256,
-- Standard Webhooks), so it is kept as issued; it is shown to the partner once.
CREATE TABLE webhook_subscriptions (
    id TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL REFERENCES partner_clients (id),
    url TEXT NOT NULL,
    -- Event types or patterns (`issue.*`, `*`), space-separated.
    events TEXT NOT NULL,
    secret TEXT NOT NULL,
    description TEXT,
    -- Deliveries that failed for good since the last success; at the limit the
    -- subscription is disabled.
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    disabled_at TIMESTAMP,
    disabled_reason TEXT,
    deleted_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX webhook_subscriptions_client_id ON webhook_subscriptions (client_id, id);

-- One delivery of one event to one subscription; its id is the `webhook-id` header, the
-- same on every attempt. A node leases a due delivery (`locked_until`) before sending it,
-- so two nodes never send the same attempt.
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY NOT NULL,
    subscription_id TEXT NOT NULL REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    -- pending, delivered, failed
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    locked_until TIMESTAMP,
    last_status_code INTEGER,
    last_error TEXT,
    last_latency_ms INTEGER,
    last_attempt_at TIMESTAMP,
    delivered_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX webhook_deliveries_event ON webhook_deliveries (subscription_id, event_id);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);

-- The in-app notification feed.
CREATE TABLE notifications (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT,
    data TEXT NOT NULL DEFAULT '{}',
    read_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX notifications_event_account ON notifications (event_id, account_id);
CREATE INDEX notifications_account_id ON notifications (account_id, id);

-- Push registrations: a token belongs to the account that registered it last.
CREATE TABLE push_devices (
    token TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    platform TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX push_devices_account_id ON push_devices (account_id);

-- Which kinds of notification a citizen wants, as a JSON object of booleans (absent
-- kinds are on).
ALTER TABLE accounts ADD COLUMN notification_preferences TEXT NOT NULL DEFAULT '{}';

-- Partner-owned opportunities name the partner.
ALTER TABLE opportunities ADD COLUMN partner_client_id TEXT REFERENCES partner_clients (id);
CREATE INDEX opportunities_partner_client_id ON opportunities (partner_client_id);
