//! The bottom layer: time, randomness, hashing and constant-time comparison.
//! Every secret comes from [`random_token`].

pub mod clock;
pub mod recent;
pub mod resolver;

pub use clock::{Clock, ManualClock, SystemClock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;

/// `bytes` random bytes from the OS generator, base64url without padding.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// A 128-bit random identifier in lower-case hex (32 characters).
pub fn random_id() -> String {
    let mut buf = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a secret, base64url: what the database keeps instead of codes,
/// tokens and client secrets. The inputs are 128 bits of randomness or more,
/// so a fast hash is enough.
pub fn hash_secret(secret: &str) -> String {
    use sha2::Digest;
    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(secret.as_bytes()))
}

/// Constant-time comparison of two strings.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// `text` without the Unicode controls that reorder the text around it
/// (U+061C, U+200E/F, U+202A–U+202E, U+2066–U+2069): a display name or a
/// server's name from elsewhere must not turn "X wants to know who you are"
/// around it.
pub fn without_bidi_controls(text: &str) -> String {
    text.chars()
        .filter(
            |c| !matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'),
        )
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn bidi_controls_are_dropped_and_other_text_kept() {
        assert_eq!(super::without_bidi_controls("evil\u{202E}gnp.exe\u{2066}x\u{200F}"), "evilgnp.exex");
        assert_eq!(super::without_bidi_controls("Ålice 🐈 عربي"), "Ålice 🐈 عربي");
    }
}
