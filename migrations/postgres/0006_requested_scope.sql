-- The scope a client asked for, unsupported scopes included, kept with the
-- grant beside the scope granted (RFC 6749 §3.3: we may grant less). A
-- refresh may repeat it: what was asked for but not granted is dropped, and
-- only a scope never asked for is invalid_scope (RFC 6749 §6). NULL for
-- grants made before this column: the granted scope is what was asked for.
ALTER TABLE authorization_codes ADD COLUMN requested_scope TEXT;
ALTER TABLE refresh_tokens ADD COLUMN requested_scope TEXT;
