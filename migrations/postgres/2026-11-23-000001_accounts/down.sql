DROP TABLE login_throttle;
DROP TABLE signing_keys;
DROP TABLE email_tokens;
DROP TABLE spent_refresh_tokens;
DROP TABLE sessions;
DROP TABLE accounts;
