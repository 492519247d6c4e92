//! The confirmation step's browser side: the cookie that binds a pending confirmation to the
//! browser it was shown to, and what is stored for it (`state::confirmations` keeps it).

use crate::config::Config;
use crate::http::cookies::{self, SameSite};
use crate::routes::END_SESSION_PATH;
use crate::state::confirmations::{Pending, CONFIRM_TTL_S};
use crate::state::secrets::hash_secret;

/// The binding cookie's name: the session cookie's, with `_confirm`.
pub fn binding_cookie_name(config: &Config) -> String {
    format!("{}_confirm", config.cookie.name)
}

/// Where the confirmation form posts: the end-session endpoint under the issuer's path.
pub fn form_action(config: &Config) -> String {
    format!("{}{END_SESSION_PATH}", config.base_path)
}

/// The `Set-Cookie` of the binding value: only sent back to the end-session endpoint, and only
/// same-site (`SameSite=Strict`), for as long as the confirmation lives.
pub fn binding_cookie(config: &Config, value: &str) -> String {
    let action = form_action(config);
    let attrs =
        cookies::Attributes { path: &action, domain: None, secure: config.cookie.secure, same_site: SameSite::Strict };
    cookies::set(&binding_cookie_name(config), value, CONFIRM_TTL_S, &attrs)
}

/// What is stored for a confirmation shown at `now` for the session `target_sid`.
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
        ui_locales,
        expires_at: now + CONFIRM_TTL_S,
    }
}
