DROP INDEX opportunities_partner_client_id;
ALTER TABLE opportunities DROP COLUMN partner_client_id;
ALTER TABLE accounts DROP COLUMN notification_preferences;
DROP TABLE push_devices;
DROP TABLE notifications;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_subscriptions;
