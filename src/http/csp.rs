//! The Content Security Policy of our responses. Every response gets
//! [`DEFAULT`]; a page that shows images from elsewhere (an avatar, a
//! client's logo) names exactly their origins in its own policy.

use axum::http::{header, HeaderValue};
use axum::response::Response;

/// Nothing but our own inline styles and our own images.
pub const DEFAULT: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The policy of a page that shows images from `origins` (each an origin
/// as `Url::origin` serialises it: scheme, host, port, nothing else).
pub fn with_images(origins: &[String]) -> String {
    // Defence in depth: an origin with anything but these characters could
    // end the directive or widen it (the services only pass plain names).
    let plain = |o: &&String| o.bytes().all(|b| b.is_ascii_alphanumeric() || b".:/-".contains(&b));
    let images: String = origins.iter().filter(plain).map(|o| format!(" {o}")).collect();
    format!("default-src 'none'; style-src 'unsafe-inline'; img-src 'self'{images}; frame-ancestors 'none'; base-uri 'none'")
}

/// `response`, allowed to show images from `origins` and the operator's
/// logo (and no others).
pub fn allow_images(mut response: Response, origins: &[String]) -> Response {
    let mut origins = origins.to_vec();
    origins.extend(crate::http::page::site().brand.logo_origin());
    if origins.is_empty() {
        return response;
    }
    if let Ok(value) = HeaderValue::from_str(&with_images(&origins)) {
        response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_image_sources_are_exactly_the_origins_given() {
        assert_eq!(
            with_images(&["https://cdn.example".into(), "https://logo.example:8443".into()]),
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https://cdn.example https://logo.example:8443; \
             frame-ancestors 'none'; base-uri 'none'"
        );
        assert_eq!(with_images(&[]), DEFAULT);
        assert_eq!(with_images(&["https://x;sandbox".into(), "https://*".into(), "https://a,b".into()]), DEFAULT);
    }
}
