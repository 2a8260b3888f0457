//! Which language a page is shown in: the first of the request's
//! `ui_locales` (OIDC Core §3.1.2.1) we have, then the browser's
//! `Accept-Language` in the order of its q-values, then the operator's
//! default. A pure function: reading the header is the http layer's.

use fluent_langneg::{negotiate_languages, NegotiationStrategy};
pub use unic_langid::LanguageIdentifier;

/// The languages we ship a catalogue for (`locales/<tag>/`), the first being
/// the one every catalogue is checked against.
pub const SHIPPED: &[&str] = &["en", "de", "fr", "es", "ja", "pt-BR"];

/// Longest `ui_locales` or `Accept-Language` value read; the rest is ignored.
pub const MAX_PREFERENCE_LEN: usize = 512;

/// The best of `available` for a person who asked for `ui_locales` (space
/// separated BCP 47 tags) and whose browser sent `accept_language`, else
/// `default`. `de-AT` finds `de`, and `pt` finds `pt-BR`.
pub fn negotiate<'a>(
    ui_locales: Option<&str>,
    accept_language: Option<&str>,
    available: &'a [LanguageIdentifier],
    default: &'a LanguageIdentifier,
) -> &'a LanguageIdentifier {
    let ui = ui_locales.map(|v| parse_list(v.split_ascii_whitespace())).unwrap_or_default();
    let accepted = accept_language.map(|v| by_quality(truncate(v))).unwrap_or_default();
    ui.iter().chain(accepted.iter()).find_map(|wanted| best_match(wanted, available)).unwrap_or(default)
}

/// `ui_locales`' tags, each parsed; those that are not BCP 47 are skipped.
fn parse_list<'v>(tags: impl Iterator<Item = &'v str>) -> Vec<LanguageIdentifier> {
    tags.take(16).filter_map(|t| t.parse().ok()).collect()
}

/// `Accept-Language` (RFC 9110 §12.5.4): its tags, most wanted first (a
/// stable sort on the q-values); `q=0` and `*` are left out.
fn by_quality(header: &str) -> Vec<LanguageIdentifier> {
    let mut weighted: Vec<(f32, LanguageIdentifier)> = header
        .split(',')
        .take(32)
        .filter_map(|item| {
            let mut parts = item.split(';').map(str::trim);
            let tag = parts.next()?.parse::<LanguageIdentifier>().ok()?;
            let q = parts
                .find_map(|p| p.strip_prefix("q=").or_else(|| p.strip_prefix("Q=")))
                .map_or(Some(1.0), |q| q.parse::<f32>().ok())?;
            (q > 0.0 && q <= 1.0 && tag != LanguageIdentifier::default()).then_some((q, tag))
        })
        .collect();
    weighted.sort_by(|a, b| b.0.total_cmp(&a.0));
    weighted.into_iter().map(|(_, tag)| tag).collect()
}

fn truncate(value: &str) -> &str {
    match value.char_indices().nth(MAX_PREFERENCE_LEN) {
        Some((end, _)) => &value[..end],
        None => value,
    }
}

/// The one of `available` closest to `wanted`, if any matches at all.
fn best_match<'a>(wanted: &LanguageIdentifier, available: &'a [LanguageIdentifier]) -> Option<&'a LanguageIdentifier> {
    negotiate_languages(std::slice::from_ref(wanted), available, None, NegotiationStrategy::Lookup).first().copied()
}

/// `rtl` for languages written right to left, else `ltr` (for `<html dir>`).
pub fn direction(language: &LanguageIdentifier) -> &'static str {
    match language.character_direction() {
        unic_langid::CharacterDirection::RTL => "rtl",
        _ => "ltr",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> Vec<LanguageIdentifier> {
        ["en", "de", "fr", "es", "ja", "pt-BR"].iter().map(|l| l.parse().expect("a tag")).collect()
    }

    fn pick(ui: Option<&str>, accept: Option<&str>) -> String {
        let available = shipped();
        let default: LanguageIdentifier = "fr".parse().expect("a tag");
        negotiate(ui, accept, &available, &default).to_string()
    }

    #[test]
    fn ui_locales_come_before_accept_language() {
        assert_eq!(pick(Some("ja"), Some("de")), "ja");
        assert_eq!(pick(Some("xx-YY ja de"), Some("es")), "ja");
    }

    #[test]
    fn unknown_ui_locales_fall_back_to_accept_language_then_the_default() {
        assert_eq!(pick(Some("nl sv"), Some("de;q=0.5, es;q=0.9")), "es");
        assert_eq!(pick(Some("nl"), Some("nl, sv;q=0.8")), "fr");
        assert_eq!(pick(None, None), "fr");
        assert_eq!(pick(Some("!!! ???"), Some("*")), "fr");
    }

    #[test]
    fn accept_language_follows_q_values_not_order() {
        assert_eq!(pick(None, Some("de;q=0.1, ja;q=0.8, en;q=0.5")), "ja");
        assert_eq!(pick(None, Some("en-GB,en;q=0.9,de;q=0.8")), "en");
    }

    #[test]
    fn regional_variants_find_their_language() {
        assert_eq!(pick(Some("de-AT"), None), "de");
        assert_eq!(pick(None, Some("pt")), "pt-BR");
        assert_eq!(pick(None, Some("pt-PT")), "pt-BR");
        assert_eq!(pick(Some("ja-JP"), None), "ja");
        assert_eq!(pick(None, Some("fr-CA")), "fr");
    }

    #[test]
    fn a_huge_header_is_cut_not_parsed_whole() {
        let long = format!("{}ja", "x-x, ".repeat(1000));
        assert_eq!(pick(None, Some(&long)), "fr");
    }

    #[test]
    fn direction_follows_the_script() {
        assert_eq!(direction(&"ar".parse().expect("a tag")), "rtl");
        assert_eq!(direction(&"he".parse().expect("a tag")), "rtl");
        assert_eq!(direction(&"ja".parse().expect("a tag")), "ltr");
    }
}
