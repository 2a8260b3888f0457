-- Provider sessions (single sign-on): one per browser, bound to the browser
-- id kept in its session cookie. `auth_time` is when the instance really
-- signed the person in; `used_at`/`expires_at` slide with use.
CREATE TABLE provider_sessions (
    sid        TEXT PRIMARY KEY,
    browser_id TEXT NOT NULL UNIQUE,
    subject    TEXT NOT NULL REFERENCES subjects (sub) ON DELETE CASCADE,
    instance   TEXT NOT NULL,
    auth_time  BIGINT NOT NULL,
    used_at    BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX provider_sessions_expires ON provider_sessions (expires_at);
CREATE INDEX provider_sessions_subject ON provider_sessions (subject);

-- The clients a provider session signed in to (for logout).
CREATE TABLE provider_session_clients (
    sid       TEXT NOT NULL REFERENCES provider_sessions (sid) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    PRIMARY KEY (sid, client_id)
);

-- Pushed authorization requests (RFC 9126). Only the hash of the
-- request_uri's random part is stored.
CREATE TABLE pushed_authorization_requests (
    request_uri_hash TEXT PRIMARY KEY,
    client_id        TEXT NOT NULL,
    params           TEXT NOT NULL,
    expires_at       BIGINT NOT NULL
);
CREATE INDEX pushed_authorization_requests_expires ON pushed_authorization_requests (expires_at);

-- Claims asked for by name with the `claims` request parameter (OIDC Core
-- §5.5), as JSON, carried from the code to the tokens.
ALTER TABLE authorization_codes ADD COLUMN claims TEXT;
ALTER TABLE access_tokens ADD COLUMN claims TEXT;

-- The provider session a code was issued in (`sid` in its ID token).
ALTER TABLE authorization_codes ADD COLUMN sid TEXT;
