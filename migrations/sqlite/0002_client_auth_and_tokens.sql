-- Client metadata beyond the basics (token_endpoint_auth_method, JWKS,
-- lifetimes, access token format, ...) as a JSON object, and the secret in
-- the clear for client_secret_jwt clients only (HMAC verification needs it;
-- every other client keeps only the SHA-256 in secret_hash).
ALTER TABLE clients ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}';
ALTER TABLE clients ADD COLUMN client_secret TEXT;
-- Dynamically registered clients: SHA-256 of their registration access
-- token (RFC 7592); NULL for clients added by the operator.
ALTER TABLE clients ADD COLUMN registration_token_hash TEXT;

-- jti values of client assertions (RFC 7523 §3), kept until the assertion
-- expires so that each is accepted once, across replicas.
CREATE TABLE client_assertion_jtis (
    client_id  TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX client_assertion_jtis_expires ON client_assertion_jtis (expires_at);

-- Refresh tokens (SHA-256 only). A family is everything one authorization
-- code led to: its id is that code's hash, which access tokens carry in
-- code_hash, so revoking a family revokes its access tokens too.
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    family_id  TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    subject    TEXT NOT NULL REFERENCES subjects (sub) ON DELETE CASCADE,
    scope      TEXT NOT NULL,
    auth_time  INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    revoked_at INTEGER
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);

-- Server-wide secrets that every replica must share (e.g. the key of
-- pairwise subject identifiers), generated once.
CREATE TABLE server_secrets (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
