-- Partner clients (charities, the council's systems): OAuth 2 client credentials.
-- The secret is 256 random bits, so only its SHA-256 is kept; it is also the Open311
-- api_key of a client with the `open311:submit` scope.
CREATE TABLE partner_clients (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    -- Granted scopes, space-separated (RFC 6749 §3.3).
    scopes TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    secret_rotated_at TIMESTAMP NOT NULL,
    disabled_at TIMESTAMP
);

-- A report made by a partner (through Open311 or the REST API) names the partner.
ALTER TABLE issues ADD COLUMN partner_client_id TEXT REFERENCES partner_clients (id);
-- Contact details an Open311 client sent for the reporter (email, names, phone,
-- device_id, account_id) as JSON: shown to staff only.
ALTER TABLE issues ADD COLUMN reporter_contact TEXT;
-- An Open311 `media_url`: a photo the client hosts elsewhere.
ALTER TABLE issues ADD COLUMN media_url TEXT;
-- The token an Open311 POST answered with, for `GET tokens/{token}`.
ALTER TABLE issues ADD COLUMN open311_token TEXT;
-- Timeline events done by a partner client name it here (actor_id names accounts only).
ALTER TABLE issue_events ADD COLUMN actor_client_id TEXT REFERENCES partner_clients (id);
CREATE UNIQUE INDEX issues_open311_token ON issues (open311_token);
CREATE INDEX issues_partner_client_id ON issues (partner_client_id);
