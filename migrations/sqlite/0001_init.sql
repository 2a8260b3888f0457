CREATE TABLE clients (
    client_id       TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    redirect_uris   TEXT NOT NULL,
    secret_hash     TEXT,
    public          INTEGER NOT NULL,
    trusted         INTEGER NOT NULL,
    id_token_claims INTEGER NOT NULL,
    created_at      INTEGER NOT NULL
);

CREATE TABLE upstream_apps (
    instance      TEXT PRIMARY KEY,
    client_id     TEXT NOT NULL,
    client_secret TEXT NOT NULL,
    redirect_uri  TEXT NOT NULL,
    scopes        TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    -- When we last confirmed the instance still knows the app.
    checked_at    INTEGER NOT NULL
);

CREATE TABLE subjects (
    sub        TEXT PRIMARY KEY,
    actor_uri  TEXT NOT NULL UNIQUE,
    instance   TEXT NOT NULL,
    account_id TEXT NOT NULL,
    handle     TEXT NOT NULL,
    profile    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE login_transactions (
    id             TEXT PRIMARY KEY,
    browser_id     TEXT NOT NULL,
    csrf_token     TEXT NOT NULL,
    request        TEXT NOT NULL,
    instance       TEXT,
    upstream_state TEXT UNIQUE,
    upstream_verifier TEXT,
    expected_username TEXT,
    upstream_client_id TEXT,
    subject        TEXT REFERENCES subjects (sub) ON DELETE CASCADE,
    auth_time      INTEGER,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL
);
CREATE INDEX login_transactions_expires ON login_transactions (expires_at);

CREATE TABLE consents (
    subject    TEXT NOT NULL REFERENCES subjects (sub) ON DELETE CASCADE,
    client_id  TEXT NOT NULL,
    scope      TEXT NOT NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (subject, client_id)
);

CREATE TABLE authorization_codes (
    code_hash      TEXT PRIMARY KEY,
    client_id      TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    subject        TEXT NOT NULL REFERENCES subjects (sub) ON DELETE CASCADE,
    scope          TEXT NOT NULL,
    nonce          TEXT,
    code_challenge TEXT,
    auth_time      INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    used_at        INTEGER
);
CREATE INDEX authorization_codes_expires ON authorization_codes (expires_at);

CREATE TABLE access_tokens (
    token_hash TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    subject    TEXT NOT NULL REFERENCES subjects (sub) ON DELETE CASCADE,
    scope      TEXT NOT NULL,
    code_hash  TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX access_tokens_code ON access_tokens (code_hash);
CREATE INDEX access_tokens_expires ON access_tokens (expires_at);

CREATE TABLE browser_sessions (
    id_hash    TEXT PRIMARY KEY,
    data       TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX browser_sessions_expires ON browser_sessions (expires_at);

-- The instances each browser (by its session's browser id) signed in at.
CREATE TABLE browser_instances (
    browser_id TEXT NOT NULL,
    instance   TEXT NOT NULL,
    used_at    INTEGER NOT NULL,
    PRIMARY KEY (browser_id, instance)
);
CREATE INDEX browser_instances_used ON browser_instances (used_at);
