-- What we learnt about each instance (NodeInfo, RFC 8414 metadata, instance
-- info), shared by every replica, until `expires_at`.
CREATE TABLE instance_info (
    instance   TEXT PRIMARY KEY,
    info       TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX instance_info_expires ON instance_info (expires_at);

-- Who WebFinger said the person is: the account domain and actor URI that
-- the instance must confirm after the login.
ALTER TABLE login_transactions ADD COLUMN expected_domain TEXT;
ALTER TABLE login_transactions ADD COLUMN expected_actor TEXT;
-- How often the upstream leg was restarted because the instance had
-- forgotten our app (at most once).
ALTER TABLE login_transactions ADD COLUMN upstream_restarts INTEGER NOT NULL DEFAULT 0;
