//! Claim names we release about a person (OIDC Core §5.1), besides `sub`.

/// Namespaced claims for the Fediverse identity itself.
pub const CLAIM_ACTOR_URI: &str = "fediverse_actor_uri";
pub const CLAIM_HANDLE: &str = "fediverse_handle";

/// Claims released with the `profile` scope.
pub const PROFILE_CLAIMS: &[&str] =
    &["name", "preferred_username", "nickname", "profile", "picture", "updated_at", CLAIM_ACTOR_URI, CLAIM_HANDLE];
