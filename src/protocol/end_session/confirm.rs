//! The confirmation step's browser side: the cookie that binds a confirmation token to the
//! browser it was shown to, and where the confirmation form posts. What the token carries is
//! made where the confirmation is signed (`act`).

use crate::config::Config;
use crate::http::cookies::{self, SameSite};
use crate::routes::END_SESSION_PATH;
use crate::state::confirmations::CONFIRM_TTL_S;

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

#[cfg(test)]
mod tests {
    use super::*;
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
}
