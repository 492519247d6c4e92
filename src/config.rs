//! Typed configuration, read from the worker's vars and secrets once per isolate.
//! A wrong setting is an error that names it, never a silent default.
//! Imports `http` (URI rules), `keys`, `budget` and `ui` (the pages' branding).

use std::fmt;

use serde_json::{Map, Value};

use crate::budget::DEFAULT_INLINE_MAX;
use crate::http::uris::{self, UriPolicy};
use crate::keys::{KeyError, KeySet};
use crate::ui::i18n::{Languages, TextsError};
use crate::ui::pages::Branding;

/// `HINT_MAX_AGE_S` by default: a day past the hint's `exp`.
pub const DEFAULT_HINT_MAX_AGE_S: i64 = 86_400;

/// The admin token must be long enough that guessing it is hopeless.
const MIN_ADMIN_TOKEN_LEN: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub setting: &'static str,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "configuration error in {}: {}", self.setting, self.message)
    }
}

fn bad(setting: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError { setting, message: message.into() }
}

/// How the provider's session cookie is named and scoped (the login system sets it; logout
/// clears it with the same name, path and domain).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieConfig {
    pub name: String,
    pub domain: Option<String>,
    pub path: String,
    /// `Secure` when the issuer is https.
    pub secure: bool,
}

/// Back-channel settings, with the defaults the README documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackchannelConfig {
    /// Per relying party (`BACKCHANNEL_TIMEOUT_MS`).
    pub timeout_ms: u32,
    /// For all inline deliveries of one logout together (`BACKCHANNEL_DEADLINE_MS`).
    pub deadline_ms: u32,
    /// Logout token lifetime (`LOGOUT_TOKEN_TTL_S`).
    pub token_ttl_s: i64,
    /// First retry delay; doubles each attempt (`BACKCHANNEL_RETRY_DELAY_S`).
    pub retry_delay_s: u32,
    /// Attempts in all, the inline one included (`BACKCHANNEL_MAX_ATTEMPTS`).
    pub max_attempts: u32,
    /// Relying parties one request notifies itself; the rest go through the queue at once
    /// (`BACKCHANNEL_INLINE_MAX`).
    pub inline_max: usize,
    /// How overdue a retry must be before the cron sweeper re-queues it
    /// (`BACKCHANNEL_SWEEP_GRACE_S`).
    pub sweep_grace_s: i64,
}

impl Default for BackchannelConfig {
    fn default() -> Self {
        BackchannelConfig {
            timeout_ms: 2500,
            deadline_ms: 5000,
            token_ttl_s: 120,
            retry_delay_s: 10,
            max_attempts: 8,
            inline_max: DEFAULT_INLINE_MAX,
            sweep_grace_s: 300,
        }
    }
}

/// Where session-ended events go (`SESSION_EVENTS_URI`), and their audience
/// (`SESSION_EVENTS_AUDIENCE`, default the URI).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionEvents {
    pub uri: String,
    pub audience: String,
}

pub struct Config {
    /// The issuer identifier, exactly as configured (no trailing slash).
    pub issuer: String,
    /// The issuer's path, under which every route lives ("" for a bare origin).
    pub base_path: String,
    pub keys: KeySet,
    /// `None` turns the admin API off.
    pub admin_token: Option<String>,
    /// The provider's other metadata; discovery puts its own members over these.
    pub provider_metadata: Map<String, Value>,
    pub uri_policy: UriPolicy,
    pub cookie: CookieConfig,
    pub backchannel: BackchannelConfig,
    /// Sign with the runtime's WebCrypto (`SIGNER=webcrypto`, the default) or with the Rust
    /// code compiled to wasm (`SIGNER=wasm`, for comparison): the tokens are the same.
    pub sign_with_webcrypto: bool,
    /// How the pages present the provider (`PROVIDER_NAME`, default the issuer's host;
    /// `PROVIDER_LOGO_URL`; `PROVIDER_COLOR`; `PROVIDER_STYLESHEET_URL`).
    pub brand: Branding,
    /// The pages' words in every language, the operator's `PAGE_TEXTS` merged in.
    pub languages: Languages,
    /// How long the front-channel page waits for the relying parties' frames
    /// (`FRONTCHANNEL_TIMEOUT_MS`).
    pub frontchannel_timeout_ms: u32,
    /// Session-ended events for the login system, when it takes them.
    pub session_events: Option<SessionEvents>,
    /// How long after its `exp` an `id_token_hint` may still end a session without the
    /// browser's cookie (`HINT_MAX_AGE_S`, default [`DEFAULT_HINT_MAX_AGE_S`]); older, it only
    /// names its client (see `protocol::end_session::gather::hint_is_recent`).
    pub hint_max_age_s: i64,
    /// Whether answers to the confirmation page and admin calls that fail authentication are
    /// rate-limited (`RATE_LIMITS`, "on" by default; "off" for load tests that post from one
    /// address). See `http::ratelimit`.
    pub rate_limits: bool,
    /// Signs confirmation tokens (HMAC-SHA256): derived from `SIGNING_JWKS`, see [`confirm_key`].
    pub confirm_key: [u8; 32],
    /// Signs session cookies (HMAC-SHA256): derived from `SIGNING_JWKS` under a label of its own.
    pub cookie_key: [u8; 32],
    /// The bodies of discovery and the JWKS, serialised at their first request and kept.
    pub published: Published,
}

/// Response bodies that depend on the configuration alone, serialised once per isolate (the
/// worker parses the configuration once per isolate and never changes it; a test that built a
/// configuration and then changed it would have to build a fresh one): discovery and the JWKS,
/// which relying parties fetch whenever their cache runs out.
#[derive(Default)]
pub struct Published {
    pub discovery: std::sync::OnceLock<Vec<u8>>,
    pub jwks: std::sync::OnceLock<Vec<u8>>,
}

/// The confirmation tokens' key: SHA-256 over a label of its own and the private JWKS. Secret
/// as the JWKS is, and no setting more to manage; the label keeps it apart from any other use
/// of the JWKS. Changing the JWKS (a key rotation) voids the open confirmations (10 minutes).
fn confirm_key(signing_jwks: &str) -> [u8; 32] {
    derived_key(b"edge-logout confirmation-token key v1\0", signing_jwks)
}

/// The session cookies' key, derived the same way under its own label. A key rotation voids
/// the cookies' signatures, not the cookies: a session seen in KV still matches its cookie by
/// the hash its record keeps; only a session not yet seen (its first window) needs the
/// signature.
fn cookie_key(signing_jwks: &str) -> [u8; 32] {
    derived_key(b"edge-logout session-cookie key v1\0", signing_jwks)
}

fn derived_key(label: &[u8], signing_jwks: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(label);
    h.update(signing_jwks.as_bytes());
    h.finalize().into()
}

impl Config {
    /// Reads every setting through `get`, which returns a var's or secret's value by name.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let nonempty = |name: &str| get(name).filter(|v| !v.trim().is_empty());

        let uri_policy = match nonempty("ALLOW_HTTP_URIS").as_deref().map(str::trim) {
            None | Some("false") => UriPolicy::HttpsOnly,
            Some("true") => UriPolicy::AllowHttp,
            Some(other) => return Err(bad("ALLOW_HTTP_URIS", format!("must be \"true\" or \"false\", not {other:?}"))),
        };

        let issuer = nonempty("ISSUER").ok_or_else(|| bad("ISSUER", "is not set"))?;
        let issuer_url = uris::parse_absolute(&issuer, uri_policy).map_err(|e| bad("ISSUER", e))?;
        if issuer_url.query().is_some() {
            return Err(bad("ISSUER", "must not have a query"));
        }
        if issuer.ends_with('/') {
            return Err(bad("ISSUER", "must not end with a slash"));
        }
        let base_path = issuer_url.path().trim_end_matches('/').to_string();

        let signing = nonempty("SIGNING_JWKS").ok_or_else(|| bad("SIGNING_JWKS", "is not set"))?;
        let confirm_key = confirm_key(&signing);
        let cookie_key = cookie_key(&signing);
        let extra = nonempty("ID_TOKEN_JWKS");
        // Parsed once (with ID_TOKEN_JWKS, the signing keys were parsed twice before: once to
        // tell which setting an error is in): the first request of an isolate pays for it.
        let keys = KeySet::parse(&signing, None).map_err(|KeyError(e)| bad("SIGNING_JWKS", e))?;
        let keys = match extra {
            None => keys,
            Some(extra) => keys.with_extra(&extra).map_err(|KeyError(e)| bad("ID_TOKEN_JWKS", e))?,
        };

        let admin_token = match get("ADMIN_TOKEN").filter(|t| !t.is_empty()) {
            None => None,
            Some(t) if t.len() < MIN_ADMIN_TOKEN_LEN => {
                return Err(bad("ADMIN_TOKEN", format!("must be at least {MIN_ADMIN_TOKEN_LEN} characters long")))
            }
            Some(t) if t.chars().any(|c| c.is_whitespace() || c.is_control()) => {
                return Err(bad("ADMIN_TOKEN", "must not contain spaces or control characters"))
            }
            Some(t) => Some(t),
        };

        let provider_metadata = match nonempty("PROVIDER_METADATA") {
            None => Map::new(),
            Some(json) => match serde_json::from_str::<Value>(&json) {
                Ok(Value::Object(map)) => map,
                Ok(_) => return Err(bad("PROVIDER_METADATA", "must be a JSON object")),
                Err(e) => return Err(bad("PROVIDER_METADATA", format!("is not valid JSON: {e}"))),
            },
        };

        let name = nonempty("SESSION_COOKIE").unwrap_or_else(|| "op_session".into());
        if !is_cookie_name(&name) {
            return Err(bad("SESSION_COOKIE", format!("{name:?} is not a valid cookie name")));
        }
        let domain = nonempty("SESSION_COOKIE_DOMAIN");
        if let Some(d) = &domain {
            if !d.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-') {
                return Err(bad("SESSION_COOKIE_DOMAIN", format!("{d:?} is not a domain name")));
            }
        }
        let path = nonempty("SESSION_COOKIE_PATH").unwrap_or_else(|| "/".into());
        if !path.starts_with('/') || path.chars().any(|c| c == ';' || c.is_control() || c.is_whitespace()) {
            return Err(bad("SESSION_COOKIE_PATH", format!("{path:?} is not a cookie path")));
        }
        let cookie = CookieConfig { name, domain, path, secure: issuer_url.scheme() == "https" };

        let provider_name = nonempty("PROVIDER_NAME")
            .map(|n| n.trim().to_string())
            .unwrap_or_else(|| issuer_url.host_str().unwrap_or_default().to_string());
        if provider_name.chars().count() > 100 || provider_name.chars().any(char::is_control) {
            return Err(bad("PROVIDER_NAME", "must be at most 100 characters, without control characters"));
        }
        let (logo_url, logo_origin) = linked_url(&nonempty, "PROVIDER_LOGO_URL", uri_policy)?.unzip();
        let color = nonempty("PROVIDER_COLOR").map(|c| c.trim().to_string());
        if let Some(c) = &color {
            let hex = c.strip_prefix('#').unwrap_or("");
            if !matches!(hex.len(), 3 | 6) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad("PROVIDER_COLOR", "must be a colour as #rgb or #rrggbb"));
            }
        }
        let brand = Branding::new(provider_name, logo_url, logo_origin, color.as_deref());
        let brand = match linked_url(&nonempty, "PROVIDER_STYLESHEET_URL", uri_policy)? {
            Some((url, origin)) => brand.with_stylesheet(url, origin),
            None => brand,
        };
        let languages = match nonempty("PAGE_TEXTS") {
            None => Languages::default(),
            Some(json) => Languages::with_overrides(&json).map_err(|TextsError(e)| bad("PAGE_TEXTS", e))?,
        };
        let frontchannel_timeout_ms = number(&get, "FRONTCHANNEL_TIMEOUT_MS", 3000, 500..=30_000)?;
        let hint_max_age_s = number(&get, "HINT_MAX_AGE_S", DEFAULT_HINT_MAX_AGE_S, 0..=31_536_000)?;
        let rate_limits = match nonempty("RATE_LIMITS").as_deref().map(str::trim) {
            None | Some("on") => true,
            Some("off") => false,
            Some(other) => return Err(bad("RATE_LIMITS", format!("must be \"on\" or \"off\", not {other:?}"))),
        };

        let d = BackchannelConfig::default();
        let backchannel = BackchannelConfig {
            timeout_ms: number(&get, "BACKCHANNEL_TIMEOUT_MS", d.timeout_ms, 100..=30_000)?,
            deadline_ms: number(&get, "BACKCHANNEL_DEADLINE_MS", d.deadline_ms, 100..=30_000)?,
            token_ttl_s: number(&get, "LOGOUT_TOKEN_TTL_S", d.token_ttl_s, 10..=600)?,
            retry_delay_s: number(&get, "BACKCHANNEL_RETRY_DELAY_S", d.retry_delay_s, 0..=3600)?,
            max_attempts: number(&get, "BACKCHANNEL_MAX_ATTEMPTS", d.max_attempts, 1..=50)?,
            inline_max: number(&get, "BACKCHANNEL_INLINE_MAX", d.inline_max, 0..=40)?,
            sweep_grace_s: number(&get, "BACKCHANNEL_SWEEP_GRACE_S", d.sweep_grace_s, 0..=86_400)?,
        };

        let session_events = match nonempty("SESSION_EVENTS_URI") {
            None => None,
            Some(uri) => {
                uris::parse_absolute(&uri, uri_policy).map_err(|e| bad("SESSION_EVENTS_URI", e))?;
                let audience =
                    nonempty("SESSION_EVENTS_AUDIENCE").map(|a| a.trim().to_string()).unwrap_or_else(|| uri.clone());
                if audience.chars().any(char::is_control) {
                    return Err(bad("SESSION_EVENTS_AUDIENCE", "must not contain control characters"));
                }
                Some(SessionEvents { uri, audience })
            }
        };

        let sign_with_webcrypto = match nonempty("SIGNER").as_deref().map(str::trim) {
            None | Some("webcrypto") => true,
            // Only where the Rust signer is compiled in (src/keys/jwk.rs).
            Some("wasm") if cfg!(any(not(target_arch = "wasm32"), feature = "wasm-crypto")) => false,
            Some("wasm") => return Err(bad("SIGNER", "\"wasm\" needs a build with the wasm-crypto feature")),
            Some(other) => return Err(bad("SIGNER", format!("must be \"webcrypto\" or \"wasm\", not {other:?}"))),
        };

        Ok(Config {
            issuer,
            base_path,
            keys,
            admin_token,
            provider_metadata,
            uri_policy,
            cookie,
            backchannel,
            sign_with_webcrypto,
            brand,
            languages,
            frontchannel_timeout_ms,
            session_events,
            hint_max_age_s,
            rate_limits,
            confirm_key,
            cookie_key,
            published: Published::default(),
        })
    }

    /// The absolute URL of one of this provider's routes.
    pub fn url(&self, route_path: &str) -> String {
        format!("{}{}", self.issuer, route_path)
    }
}

/// An optional whole-number setting within `range`.
fn number<T>(
    get: &impl Fn(&str) -> Option<String>,
    setting: &'static str,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
{
    let Some(raw) = get(setting).filter(|v| !v.trim().is_empty()) else { return Ok(default) };
    match raw.trim().parse::<T>() {
        Ok(v) if range.contains(&v) => Ok(v),
        _ => Err(bad(setting, format!("must be a whole number from {} to {}", range.start(), range.end()))),
    }
}

/// An optional URL the pages load (`PROVIDER_LOGO_URL`, `PROVIDER_STYLESHEET_URL`), https
/// unless `ALLOW_HTTP_URIS`, and its origin for the CSP.
fn linked_url(
    nonempty: &impl Fn(&str) -> Option<String>,
    setting: &'static str,
    policy: UriPolicy,
) -> Result<Option<(String, String)>, ConfigError> {
    let Some(url) = nonempty(setting) else { return Ok(None) };
    let parsed = uris::parse_absolute(&url, policy).map_err(|e| bad(setting, e))?;
    Ok(Some((url, parsed.origin().ascii_serialization())))
}

/// An RFC 6265 cookie name: an RFC 7230 token.
fn is_cookie_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{load, settings};

    fn error_of(change: &[(&'static str, &str)]) -> ConfigError {
        let mut s = settings();
        for (k, v) in change {
            s.insert(k, v.to_string());
        }
        load(&s).err().expect("expected a configuration error")
    }

    #[test]
    fn defaults() {
        let c = load(&settings()).unwrap();
        assert_eq!(c.issuer, "https://id.example.com");
        assert_eq!(c.base_path, "");
        assert_eq!(c.cookie, CookieConfig { name: "op_session".into(), domain: None, path: "/".into(), secure: true });
        assert_eq!(c.uri_policy, UriPolicy::HttpsOnly);
        assert!(c.provider_metadata.is_empty());
        assert_eq!(c.url("/jwks"), "https://id.example.com/jwks");
        assert_eq!(c.brand.name, "id.example.com");
        assert_eq!(c.frontchannel_timeout_ms, 3000);
        assert_eq!(c.backchannel, BackchannelConfig::default());
        assert_eq!(c.session_events, None);
        assert_eq!(c.hint_max_age_s, 86_400);
        assert!(c.rate_limits);
    }

    #[test]
    fn issuer_with_a_path() {
        let mut s = settings();
        s.insert("ISSUER", "https://example.com/tenant/a".into());
        let c = load(&s).unwrap();
        assert_eq!(c.base_path, "/tenant/a");
    }

    #[test]
    fn each_wrong_setting_is_named() {
        assert_eq!(error_of(&[("ISSUER", "")]).setting, "ISSUER");
        assert_eq!(error_of(&[("ISSUER", "http://id.example.com")]).setting, "ISSUER");
        assert_eq!(error_of(&[("ISSUER", "https://id.example.com/")]).setting, "ISSUER");
        assert_eq!(error_of(&[("ISSUER", "https://id.example.com?x=1")]).setting, "ISSUER");
        assert_eq!(error_of(&[("SIGNING_JWKS", "{}")]).setting, "SIGNING_JWKS");
        assert_eq!(error_of(&[("ID_TOKEN_JWKS", "[1]")]).setting, "ID_TOKEN_JWKS");
        // A kid of SIGNING_JWKS again in ID_TOKEN_JWKS: refused, naming the setting and the kid.
        let clash = crate::testing::keys().public_jwks().to_string();
        let e = error_of(&[("ID_TOKEN_JWKS", &clash)]);
        assert_eq!(e.setting, "ID_TOKEN_JWKS");
        assert!(e.to_string().contains("\"test-rs256\" is already a key of SIGNING_JWKS"), "{e}");
        assert_eq!(error_of(&[("ADMIN_TOKEN", "short")]).setting, "ADMIN_TOKEN");
        assert_eq!(error_of(&[("BACKCHANNEL_TIMEOUT_MS", "fast")]).setting, "BACKCHANNEL_TIMEOUT_MS");
        assert_eq!(error_of(&[("PROVIDER_COLOR", "red")]).setting, "PROVIDER_COLOR");
        assert_eq!(error_of(&[("PROVIDER_LOGO_URL", "javascript:x")]).setting, "PROVIDER_LOGO_URL");
        assert_eq!(error_of(&[("SIGNER", "gpu")]).setting, "SIGNER");
        assert_eq!(error_of(&[("BACKCHANNEL_INLINE_MAX", "1000")]).setting, "BACKCHANNEL_INLINE_MAX");
        assert_eq!(error_of(&[("HINT_MAX_AGE_S", "-1")]).setting, "HINT_MAX_AGE_S");
        assert_eq!(error_of(&[("RATE_LIMITS", "no")]).setting, "RATE_LIMITS");
        assert_eq!(error_of(&[("LOGOUT_TOKEN_TTL_S", "-1")]).setting, "LOGOUT_TOKEN_TTL_S");
        assert_eq!(error_of(&[("PROVIDER_METADATA", "[]")]).setting, "PROVIDER_METADATA");
        assert_eq!(error_of(&[("PROVIDER_METADATA", "{")]).setting, "PROVIDER_METADATA");
        assert_eq!(error_of(&[("ALLOW_HTTP_URIS", "yes")]).setting, "ALLOW_HTTP_URIS");
        assert_eq!(error_of(&[("SESSION_COOKIE", "a b")]).setting, "SESSION_COOKIE");
        assert_eq!(error_of(&[("SESSION_COOKIE_PATH", "x")]).setting, "SESSION_COOKIE_PATH");
        assert_eq!(error_of(&[("SESSION_COOKIE_DOMAIN", "a;b")]).setting, "SESSION_COOKIE_DOMAIN");
        assert_eq!(error_of(&[("SESSION_EVENTS_URI", "ftp://login.example/events")]).setting, "SESSION_EVENTS_URI");
        assert!(error_of(&[("ADMIN_TOKEN", "short")]).to_string().contains("ADMIN_TOKEN"));
        assert_eq!(
            error_of(&[("PROVIDER_STYLESHEET_URL", "http://cdn.example/a.css")]).setting,
            "PROVIDER_STYLESHEET_URL"
        );
        assert_eq!(error_of(&[("PROVIDER_STYLESHEET_URL", "data:text/css,x")]).setting, "PROVIDER_STYLESHEET_URL");
        for texts in [
            "{",
            r#"{"nl": {"no_such_key": "x"}}"#,
            r#"{"nl": {"confirm_yes": false}}"#,
            r#"{"de": {"confirm_title": "Abmelden?"}}"#,
            r#"{"not a tag": {}}"#,
        ] {
            let e = error_of(&[("PAGE_TEXTS", texts)]);
            assert_eq!(e.setting, "PAGE_TEXTS", "{texts}");
            assert!(e.to_string().starts_with("configuration error in PAGE_TEXTS: "), "{e}");
        }
    }

    #[test]
    fn page_texts_are_merged_once_with_the_configuration() {
        let mut s = settings();
        s.insert("PAGE_TEXTS", r#"{"it": {"confirm_yes": "Esci"}, "de": {"confirm_no": "Bleiben"}}"#.into());
        let c = load(&s).unwrap();
        let it = c.languages.negotiate(None, Some("it-IT"));
        assert_eq!((it.lang.as_ref(), it.confirm_yes.as_ref()), ("it", "Esci"));
        assert_eq!(it.confirm_no, "Stay signed in", "English for what it does not give");
        assert_eq!(c.languages.negotiate(Some("de"), None).confirm_no, "Bleiben");
        assert_eq!(load(&settings()).unwrap().languages.negotiate(Some("it"), None).lang, "en");
    }

    #[test]
    fn the_stylesheet_and_its_origin() {
        let mut s = settings();
        s.insert("PROVIDER_STYLESHEET_URL", "https://cdn.example:8443/css/brand.css?v=3".into());
        let c = load(&s).unwrap();
        assert_eq!(c.brand.stylesheet_url.as_deref(), Some("https://cdn.example:8443/css/brand.css?v=3"));
        assert_eq!(c.brand.stylesheet_origin.as_deref(), Some("https://cdn.example:8443"));
        assert_eq!(load(&settings()).unwrap().brand.stylesheet_url, None);
        s.insert("PROVIDER_STYLESHEET_URL", "http://127.0.0.1:9000/brand.css".into());
        assert_eq!(load(&s).err().unwrap().setting, "PROVIDER_STYLESHEET_URL");
        s.insert("ALLOW_HTTP_URIS", "true".into());
        assert_eq!(load(&s).unwrap().brand.stylesheet_origin.as_deref(), Some("http://127.0.0.1:9000"));
    }

    #[test]
    fn http_issuer_only_with_allow_http() {
        let mut s = settings();
        s.insert("ISSUER", "http://127.0.0.1:8787".into());
        s.insert("ALLOW_HTTP_URIS", "true".into());
        let c = load(&s).unwrap();
        assert!(!c.cookie.secure);
        assert_eq!(c.uri_policy, UriPolicy::AllowHttp);
    }

    #[test]
    fn the_confirmation_key_follows_the_signing_jwks() {
        let a = load(&settings()).unwrap().confirm_key;
        assert_eq!(a, load(&settings()).unwrap().confirm_key);
        let mut s = settings();
        s.insert("SIGNING_JWKS", format!(" {}", s["SIGNING_JWKS"]));
        assert_ne!(load(&s).unwrap().confirm_key, a);
        assert_ne!(a, <[u8; 32]>::from(<sha2::Sha256 as sha2::Digest>::digest(settings()["SIGNING_JWKS"].as_bytes())));
    }

    #[test]
    fn admin_api_off_without_token() {
        let mut s = settings();
        s.remove("ADMIN_TOKEN");
        assert!(load(&s).unwrap().admin_token.is_none());
        s.insert("ADMIN_TOKEN", String::new());
        assert!(load(&s).unwrap().admin_token.is_none());
    }

    #[test]
    fn a_default_logout_fits_its_deadline_in_waves() {
        let d = BackchannelConfig::default();
        let waves = d.inline_max.div_ceil(crate::budget::CONNECTIONS) as u32;
        assert!(
            waves * d.timeout_ms <= d.deadline_ms,
            "{waves} waves of {} ms past {} ms",
            d.timeout_ms,
            d.deadline_ms
        );
        // And not a wave fewer than fits: a third would pass the deadline.
        assert!((waves + 1) * d.timeout_ms > d.deadline_ms);
        assert_eq!(d.inline_max % crate::budget::CONNECTIONS, 0, "every wave full");
    }
}
