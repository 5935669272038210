DROP INDEX issues_partner_client_id;
DROP INDEX issues_open311_token;
ALTER TABLE issue_events DROP COLUMN actor_client_id;
ALTER TABLE issues DROP COLUMN open311_token;
ALTER TABLE issues DROP COLUMN media_url;
ALTER TABLE issues DROP COLUMN reporter_contact;
ALTER TABLE issues DROP COLUMN partner_client_id;
DROP TABLE partner_clients;
