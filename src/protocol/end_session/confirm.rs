//! The confirmation step's browser side: the cookie that binds a confirmation token to the
//! browser it was shown to, and what the token carries (`state::confirmations` signs it).

use crate::config::Config;
use crate::http::cookies::{self, SameSite};
use crate::routes::END_SESSION_PATH;
use crate::state::confirmations::{Pending, CONFIRM_TTL_S};
use crate::state::secrets::hash_secret;

/// The most of `ui_locales` a token carries: the language is the first supported tag, and a
/// real list is a few tags long; the cap keeps the token within what the form may post back.
const MAX_UI_LOCALES_BYTES: usize = 256;

/// The binding cookie's name: the session cookie's, with `_confirm`; with the `__Host-` prefix
/// when the issuer is https (the browser then refuses it unless Secure, `Path=/` and without
/// `Domain`, so a sibling subdomain cannot plant or overwrite it).
pub fn binding_cookie_name(config: &Config) -> String {
    let prefix = if config.cookie.secure { "__Host-" } else { "" };
    format!("{prefix}{}_confirm", config.cookie.name)
}

/// Where the confirmation form posts: the end-session endpoint under the issuer's path.
pub fn form_action(config: &Config) -> String {
    format!("{}{END_SESSION_PATH}", config.base_path)
}

/// The `Set-Cookie` of the binding value: only same-site (`SameSite=Strict`), for as long as
/// the confirmation lives; sent back only to the end-session endpoint, except under `__Host-`,
/// which requires `Path=/`.
pub fn binding_cookie(config: &Config, value: &str) -> String {
    let name = binding_cookie_name(config);
    let action = form_action(config);
    let path = if config.cookie.secure { "/" } else { action.as_str() };
    let attrs = cookies::Attributes { path, domain: None, secure: config.cookie.secure, same_site: SameSite::Strict };
    cookies::set(&name, value, CONFIRM_TTL_S, &attrs)
}

/// `ui_locales` cut to whole tags within [`MAX_UI_LOCALES_BYTES`].
fn capped_locales(ui_locales: Option<String>) -> Option<String> {
    let list = ui_locales?;
    if list.len() <= MAX_UI_LOCALES_BYTES {
        return Some(list);
    }
    let mut kept = String::new();
    for tag in list.split(' ').filter(|t| !t.is_empty()) {
        if kept.len() + tag.len() + 1 > MAX_UI_LOCALES_BYTES {
            break;
        }
        if !kept.is_empty() {
            kept.push(' ');
        }
        kept.push_str(tag);
    }
    Some(kept)
}

/// What the token carries for a confirmation shown at `now` for the session `target_sid`.
pub fn pending(
    binding: &str,
    target_sid: &str,
    redirect: Option<String>,
    client_id: Option<String>,
    ui_locales: Option<String>,
    now: i64,
) -> Pending {
    Pending {
        binding: hash_secret(binding),
        target_sid: target_sid.to_string(),
        redirect,
        client_id,
        ui_locales: capped_locales(ui_locales),
        expires_at: now + CONFIRM_TTL_S,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::confirmations::{issue, MAX_TOKEN_BYTES};
    use crate::testing::{load, settings};

    #[test]
    fn https_binding_cookies_are_host_prefixed() {
        let c = load(&settings()).unwrap();
        assert_eq!(binding_cookie_name(&c), "__Host-op_session_confirm");
        let set = binding_cookie(&c, "v");
        assert!(set.starts_with("__Host-op_session_confirm=v;"), "{set}");
        assert!(set.contains("; Path=/;") && set.contains("; Secure") && !set.contains("Domain"), "{set}");
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"), "{set}");
    }

    #[test]
    fn http_binding_cookies_keep_their_name_and_path() {
        let mut s = settings();
        s.insert("ISSUER", "http://127.0.0.1:8787/op".into());
        s.insert("ALLOW_HTTP_URIS", "true".into());
        s.insert("SESSION_COOKIE_DOMAIN", "example.com".into());
        let c = load(&s).unwrap();
        assert_eq!(binding_cookie_name(&c), "op_session_confirm");
        let set = binding_cookie(&c, "v");
        assert!(set.starts_with("op_session_confirm=v;") && set.contains("; Path=/op/session/end;"), "{set}");
        assert!(!set.contains("Secure") && !set.contains("Domain"), "{set}");
    }

    #[test]
    fn the_largest_confirmation_fits_a_token() {
        let redirect = format!("https://rp.example/{}?state={}", "p".repeat(1970), "%22".repeat(2048));
        let locales = "de-CH ".repeat(1400);
        let p = pending("b", "s".repeat(255).as_str(), Some(redirect), Some("c".repeat(255)), Some(locales), 0);
        assert!(p.ui_locales.as_ref().unwrap().len() <= MAX_UI_LOCALES_BYTES);
        assert!(p.ui_locales.as_ref().unwrap().starts_with("de-CH de-CH"));
        assert!(issue(&[0; 32], &p).len() <= MAX_TOKEN_BYTES);
        assert_eq!(capped_locales(Some("fr de".into())), Some("fr de".into()));
        assert_eq!(capped_locales(None), None);
    }
}
