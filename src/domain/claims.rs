//! Claim names we release about a person (OIDC Core §5.1), besides `sub`.

/// Namespaced claims for the Fediverse identity itself.
/// The one authentication context class (`acr`) of our ID tokens: the
/// person was authenticated by their own Fediverse server, which signed them
/// in to us over OAuth; how (password, second factor, a session there) that
/// server does not tell us. See docs/reference/authorization-endpoint.md.
pub const ACR_DELEGATED: &str = "urn:fedi-oidc:acr:delegated";

pub const CLAIM_ACTOR_URI: &str = "fediverse_actor_uri";
pub const CLAIM_HANDLE: &str = "fediverse_handle";

/// Claims released with the `profile` scope.
pub const PROFILE_CLAIMS: &[&str] =
    &["name", "preferred_username", "nickname", "profile", "picture", "updated_at", CLAIM_ACTOR_URI, CLAIM_HANDLE];
