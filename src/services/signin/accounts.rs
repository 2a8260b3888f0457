//! The people a page shows: the account on the consent page, the accounts
//! this browser signed in with on the picker ("Continue as …"), and the
//! application with its logo and pages.
//!
//! Everything about an account comes from its instance, which may be
//! hostile: names are shown as text (the templates escape them; a custom
//! emoji shortcode stays `:blobcat:`), and an avatar is shown only from an
//! https URL, loaded without a referrer, from an origin the page's CSP names.

use serde::Serialize;
use url::Url;

use crate::util::without_bidi_controls;

use super::{LoginError, SignIn, Transaction};
use crate::domain::client::ClientLinks;
use crate::infrastructure::store::SubjectRow;

/// An account as a page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountCard {
    /// The full handle, `@alice@example.social`.
    pub handle: String,
    /// The display name (the username when the account has none).
    pub name: String,
    /// The avatar, only when it is an https URL.
    pub avatar: Option<String>,
    /// The server's own name when we know it, else its host.
    pub server: String,
}

/// The application a person signs in to, as consent shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientCard {
    pub name: String,
    pub links: ClientLinks,
}

/// `s` if a page may load it: https on a public DNS name
/// ([`crate::domain::image_url`]); avatars come from hostile instances too.
pub fn https_url(s: &str) -> Option<Url> {
    crate::domain::image_url::public_https_url(s)
}

/// The origins of the images a page shows (for its CSP `img-src`), each once.
pub fn image_origins<'a>(urls: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut origins: Vec<String> =
        urls.into_iter().filter_map(https_url).map(|u| u.origin().ascii_serialization()).collect();
    origins.sort();
    origins.dedup();
    origins
}

impl AccountCard {
    /// `subject` as a page shows it, at the server called `server`.
    pub fn of(subject: &SubjectRow, server: Option<String>) -> AccountCard {
        let text = |k: &str| subject.profile.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let host = Url::parse(&subject.instance).ok().and_then(|u| u.host_str().map(str::to_string));
        AccountCard {
            handle: format!("@{}", subject.handle),
            name: without_bidi_controls(
                &text("name").unwrap_or_else(|| subject.handle.split('@').next().unwrap_or_default().to_string()),
            ),
            avatar: text("picture").filter(|p| https_url(p).is_some()),
            server: without_bidi_controls(&server.or(host).unwrap_or_else(|| subject.instance.clone())),
        }
    }
}

impl SignIn {
    /// The account of `subject` for the consent page, with its server's
    /// name if detection found one (never asks the server now).
    pub async fn account_card(&self, subject: &SubjectRow) -> Result<AccountCard, LoginError> {
        let server = self.detector.cached(&subject.instance).await?.and_then(|info| info.name);
        Ok(AccountCard::of(subject, server))
    }

    /// The accounts the browser of `txn` signed in with while its session
    /// lived, the most recent first. Only ever this browser's.
    pub async fn remembered_accounts(&self, txn: &Transaction) -> Result<Vec<AccountCard>, LoginError> {
        let since = self.clock.now() - self.settings.session_ttl_secs as i64;
        let subjects = self.store.browser_accounts(&txn.row.browser_id, since).await?;
        Ok(subjects.iter().map(|s| AccountCard::of(s, None)).collect())
    }

    /// The browser of `txn` no longer lists the account `handle`. Forgetting
    /// an account it does not list is no error.
    pub async fn forget_account(&self, txn: &Transaction, handle: &str) -> Result<(), LoginError> {
        let since = self.clock.now() - self.settings.session_ttl_secs as i64;
        let subjects = self.store.browser_accounts(&txn.row.browser_id, since).await?;
        let wanted = handle.trim().trim_start_matches('@');
        if let Some(subject) = subjects.iter().find(|s| s.handle.eq_ignore_ascii_case(wanted)) {
            self.store.forget_browser_account(&txn.row.browser_id, &subject.sub).await?;
        }
        Ok(())
    }

    /// The application of `txn`: its name (its id if it is gone) and links.
    pub async fn client_card(&self, txn: &Transaction) -> Result<ClientCard, LoginError> {
        Ok(match self.clients.get(&txn.request.client_id).await? {
            Some(client) => ClientCard { name: without_bidi_controls(&client.name), links: client.metadata.links },
            None => ClientCard { name: txn.request.client_id.clone(), links: ClientLinks::default() },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(profile: serde_json::Value) -> SubjectRow {
        SubjectRow {
            sub: "s".into(),
            actor_uri: "https://social.example/users/alice".into(),
            instance: "https://social.example".into(),
            account_id: "1".into(),
            handle: "alice@social.example".into(),
            profile,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn a_card_shows_https_avatars_only_and_falls_back_to_the_host() {
        let card = AccountCard::of(
            &subject(serde_json::json!({ "name": "<b>Alice</b> :blobcat:", "picture": "https://cdn.example/a.png" })),
            Some("Social Example".into()),
        );
        assert_eq!(card.handle, "@alice@social.example");
        assert_eq!(card.name, "<b>Alice</b> :blobcat:");
        assert_eq!(card.avatar.as_deref(), Some("https://cdn.example/a.png"));
        assert_eq!(card.server, "Social Example");
        for picture in ["http://cdn.example/a.png", "data:image/png;base64,AA", "javascript:x", "//cdn.example/a"] {
            let card = AccountCard::of(&subject(serde_json::json!({ "picture": picture })), None);
            assert_eq!(card.avatar, None, "{picture}");
            assert_eq!(card.server, "social.example");
            assert_eq!(card.name, "alice");
        }
    }

    #[test]
    fn image_origins_are_https_origins_each_once() {
        let origins = image_origins([
            "https://cdn.example/a.png",
            "https://cdn.example:443/b.png",
            "https://logo.example:8443/l.svg?x=';",
            "http://plain.example/a.png",
            "not a url",
        ]);
        assert_eq!(origins, vec!["https://cdn.example".to_string(), "https://logo.example:8443".to_string()]);
    }
}
