-- The accounts each browser (by its session's browser id) signed in with,
-- for the picker's "Continue as" buttons. Only the browser whose session
-- holds the id ever sees them; they go after the session's idle lifetime.
CREATE TABLE browser_accounts (
    browser_id TEXT NOT NULL,
    sub        TEXT NOT NULL REFERENCES subjects (sub) ON DELETE CASCADE,
    used_at    BIGINT NOT NULL,
    PRIMARY KEY (browser_id, sub)
);
CREATE INDEX browser_accounts_used ON browser_accounts (used_at);
