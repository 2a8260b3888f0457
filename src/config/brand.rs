//! The operator's brand: the name, logo, accent colour and footer links of
//! the pages, and a directory of templates that replace the built-in ones.
//! Checked at start-up like every other setting.

use url::Url;

use super::{bad, Config, ConfigError};

/// The smallest contrast an accent colour must have against white.
pub const MIN_ACCENT_CONTRAST: f64 = 4.5;

/// Check the brand settings of `config`.
pub(super) fn validate(config: &Config) -> Result<(), ConfigError> {
    if let Some(name) = &config.service_name {
        if name.trim().is_empty() || name.chars().count() > 60 {
            return Err(bad("service_name", "must be 1 to 60 characters"));
        }
    }
    if let Some(url) = &config.logo_url {
        https("logo_url", url, false)?;
    }
    if let Some(colour) = &config.accent_color {
        let rgb = parse_colour(colour).ok_or_else(|| bad("accent_color", "must be a colour like #1a5fb4"))?;
        let contrast = contrast_with_white(rgb);
        if contrast < MIN_ACCENT_CONTRAST {
            return Err(bad(
                "accent_color",
                format!("{colour} has a contrast of {contrast:.2}:1 with white; it needs at least 4.5:1 (darker)"),
            ));
        }
    }
    for (setting, value, mailto) in [
        ("privacy_url", &config.privacy_url, false),
        ("terms_url", &config.terms_url, false),
        ("contact_url", &config.contact_url, true),
    ] {
        if let Some(url) = value {
            https(setting, url, mailto)?;
        }
    }
    if let Some(dir) = &config.template_dir {
        if !dir.is_dir() {
            return Err(bad("template_dir", format!("{} is not a directory", dir.display())));
        }
    }
    Ok(())
}

fn https(setting: &str, value: &str, mailto: bool) -> Result<(), ConfigError> {
    let url = Url::parse(value).map_err(|e| bad(setting, format!("not a URL: {e}")))?;
    match url.scheme() {
        "https" if url.host().is_some() => Ok(()),
        "mailto" if mailto && url.path().contains('@') => Ok(()),
        _ if mailto => Err(bad(setting, "must be an https: or mailto: URL")),
        _ => Err(bad(setting, "must be an https URL")),
    }
}

/// `#rrggbb` as red, green and blue.
pub fn parse_colour(value: &str) -> Option<[u8; 3]> {
    let hex = value.strip_prefix('#').filter(|h| h.len() == 6 && h.bytes().all(|b| b.is_ascii_hexdigit()))?;
    let channel = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
    Some([channel(0)?, channel(2)?, channel(4)?])
}

/// The WCAG 2.1 contrast ratio of `rgb` with white.
pub fn contrast_with_white(rgb: [u8; 3]) -> f64 {
    let linear = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.039_28 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let luminance = 0.2126 * linear(rgb[0]) + 0.7152 * linear(rgb[1]) + 0.0722 * linear(rgb[2]);
    1.05 / (luminance + 0.05)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(change: impl FnOnce(&mut Config)) -> Result<(), ConfigError> {
        let mut config = Config::default();
        change(&mut config);
        validate(&config)
    }

    #[test]
    fn contrast_follows_wcag() {
        assert!((contrast_with_white([0, 0, 0]) - 21.0).abs() < 0.01);
        assert!((contrast_with_white([255, 255, 255]) - 1.0).abs() < 0.01);
        // #767676 is the lightest grey that passes AA on white.
        assert!(contrast_with_white([0x76, 0x76, 0x76]) >= 4.5);
        assert!(contrast_with_white([0x77, 0x77, 0x77]) < 4.5);
    }

    #[test]
    fn an_accent_colour_must_be_hex_and_dark_enough() {
        assert!(check(|b| b.accent_color = Some("#1a5fb4".into())).is_ok());
        for bad_colour in ["1a5fb4", "#1a5fb", "#1a5fbz", "blue", "#fff"] {
            let e = check(|b| b.accent_color = Some(bad_colour.into())).expect_err(bad_colour);
            assert_eq!(e.setting, "accent_color");
        }
        let e = check(|b| b.accent_color = Some("#ffcc00".into())).expect_err("too light");
        assert!(e.message.contains("4.5:1"), "{e}");
    }

    #[test]
    fn links_must_be_https_and_contact_may_be_mailto() {
        assert!(check(|b| b.contact_url = Some("mailto:help@example.org".into())).is_ok());
        assert!(check(|b| b.privacy_url = Some("https://example.org/privacy".into())).is_ok());
        assert_eq!(check(|b| b.privacy_url = Some("mailto:a@b.example".into())).unwrap_err().setting, "privacy_url");
        assert_eq!(check(|b| b.terms_url = Some("http://example.org/t".into())).unwrap_err().setting, "terms_url");
        assert_eq!(check(|b| b.logo_url = Some("javascript:alert(1)".into())).unwrap_err().setting, "logo_url");
        assert_eq!(check(|b| b.contact_url = Some("mailto:".into())).unwrap_err().setting, "contact_url");
    }

    #[test]
    fn the_service_name_and_template_dir_are_checked() {
        assert_eq!(check(|b| b.service_name = Some(" ".into())).unwrap_err().setting, "service_name");
        let e = check(|b| b.template_dir = Some("/no/such/dir".into())).unwrap_err();
        assert_eq!(e.setting, "template_dir");
    }
}
