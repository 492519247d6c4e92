//! What an end-session request brings, read once ([`Inputs`]): its parameters (RP-Initiated
//! Logout 1.0, section 2), read the same way from a GET query and a POST form, or the fields
//! of the confirmation form; its cookies, language and JSON preference.

use std::fmt;

use super::confirm;
use crate::config::Config;
use crate::http::cookies;
use crate::http::form::{self, FormError};
use crate::http::{prefers_json, HttpRequest, Method};
use crate::state::confirmations::MAX_TOKEN_BYTES;

/// Longest accepted value of any one parameter (an ID token is a few KB at most).
pub const MAX_PARAM_BYTES: usize = 8 * 1024;
/// Longest accepted `state`: it is echoed into a `Location` header.
pub const MAX_STATE_BYTES: usize = 2048;

/// What an end-session request asks for. Empty values count as absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogoutParams {
    pub id_token_hint: Option<String>,
    pub client_id: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
    pub logout_hint: Option<String>,
    pub ui_locales: Option<String>,
}

/// The user's answer on the confirmation page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmAnswer {
    /// The server-issued confirmation token from the form's hidden input.
    pub token: String,
    pub log_out: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndSessionRequest {
    Logout(LogoutParams),
    Confirm(ConfirmAnswer),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamError {
    Form(FormError),
    Duplicate(&'static str),
    TooLong(&'static str),
    WrongContentType,
    /// A confirmation form without its token or answer.
    IncompleteConfirmation,
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamError::Form(e) => e.fmt(f),
            ParamError::Duplicate(name) => write!(f, "the parameter {name} was given more than once"),
            ParamError::TooLong(name) => write!(f, "the parameter {name} is too long"),
            ParamError::WrongContentType => f.write_str("a POST must be application/x-www-form-urlencoded"),
            ParamError::IncompleteConfirmation => f.write_str("the confirmation form is incomplete"),
        }
    }
}

const NAMES: [&str; 8] = [
    "id_token_hint",
    "client_id",
    "post_logout_redirect_uri",
    "state",
    "logout_hint",
    "ui_locales",
    "confirm",
    "logout",
];

/// What the request brings, read once.
pub struct Inputs<'r> {
    pub request: Result<EndSessionRequest, ParamError>,
    /// The provider's session cookie: every value sent (a sibling subdomain may have planted one).
    pub session_cookies: Vec<&'r str>,
    /// The cookie binding a confirmation to this browser.
    pub binding_cookie: Option<&'r str>,
    pub accept_language: Option<&'r str>,
    pub prefers_json: bool,
}

impl<'r> Inputs<'r> {
    pub fn read(config: &Config, req: &'r HttpRequest) -> Self {
        let cookie = req.header("cookie");
        Inputs {
            request: parse(req),
            session_cookies: cookies::get_all(cookie, &config.cookie.name),
            binding_cookie: cookies::get(cookie, &confirm::binding_cookie_name(config)),
            accept_language: req.header("accept-language"),
            prefers_json: prefers_json(req.header("accept")),
        }
    }

    /// The `ui_locales` an error is shown in: the request's (an answer's are in its token,
    /// which an error may not have opened).
    pub fn error_locales(&self) -> Option<&str> {
        match &self.request {
            Ok(EndSessionRequest::Logout(p)) => p.ui_locales.as_deref(),
            Ok(EndSessionRequest::Confirm(_)) | Err(_) => None,
        }
    }
}

/// Reads the request: the query of a GET, the form body of a POST (its query is ignored).
/// A known parameter given twice is an error; unknown parameters are ignored.
pub fn parse(req: &HttpRequest) -> Result<EndSessionRequest, ParamError> {
    let raw: &[u8] = match req.method {
        Method::Post => {
            if req.content_type().as_deref() != Some("application/x-www-form-urlencoded") {
                return Err(ParamError::WrongContentType);
            }
            &req.body
        }
        _ => req.query.as_deref().unwrap_or("").as_bytes(),
    };
    let pairs = form::parse(raw).map_err(ParamError::Form)?;
    let mut values: [Option<String>; NAMES.len()] = Default::default();
    for (name, value) in pairs {
        let Some(i) = NAMES.iter().position(|n| *n == name) else { continue };
        if values[i].is_some() {
            return Err(ParamError::Duplicate(NAMES[i]));
        }
        let limit = match NAMES[i] {
            "state" => MAX_STATE_BYTES,
            // The token carries its confirmation (a redirect with its state among it).
            "confirm" => MAX_TOKEN_BYTES,
            _ => MAX_PARAM_BYTES,
        };
        if value.len() > limit {
            return Err(ParamError::TooLong(NAMES[i]));
        }
        values[i] = Some(value);
    }
    let [id_token_hint, client_id, post_logout_redirect_uri, state, logout_hint, ui_locales, confirm, logout] =
        values.map(|v| v.filter(|s| !s.is_empty()));

    if req.method == Method::Post && (confirm.is_some() || logout.is_some()) {
        return match (confirm, logout.as_deref()) {
            (Some(token), Some("yes")) => Ok(EndSessionRequest::Confirm(ConfirmAnswer { token, log_out: true })),
            (Some(token), Some("no")) => Ok(EndSessionRequest::Confirm(ConfirmAnswer { token, log_out: false })),
            _ => Err(ParamError::IncompleteConfirmation),
        };
    }
    Ok(EndSessionRequest::Logout(LogoutParams {
        id_token_hint,
        client_id,
        post_logout_redirect_uri,
        state,
        logout_hint,
        ui_locales,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(query: &str) -> Result<EndSessionRequest, ParamError> {
        parse(&HttpRequest { method: Method::Get, query: Some(query.into()), ..Default::default() })
    }

    fn post(body: &str) -> Result<EndSessionRequest, ParamError> {
        parse(&HttpRequest {
            method: Method::Post,
            headers: vec![("content-type".into(), "application/x-www-form-urlencoded; charset=UTF-8".into())],
            body: body.as_bytes().to_vec(),
            ..Default::default()
        })
    }

    fn logout(r: Result<EndSessionRequest, ParamError>) -> LogoutParams {
        match r.unwrap() {
            EndSessionRequest::Logout(p) => p,
            other => panic!("not a logout: {other:?}"),
        }
    }

    #[test]
    fn get_and_post_mean_the_same() {
        let q = "id_token_hint=a.b.c&client_id=rp1&post_logout_redirect_uri=https%3A%2F%2Frp%2Fbye&state=s+1&ui_locales=de%20fr&logout_hint=x&other=ignored";
        let expected = LogoutParams {
            id_token_hint: Some("a.b.c".into()),
            client_id: Some("rp1".into()),
            post_logout_redirect_uri: Some("https://rp/bye".into()),
            state: Some("s 1".into()),
            logout_hint: Some("x".into()),
            ui_locales: Some("de fr".into()),
        };
        assert_eq!(logout(get(q)), expected);
        assert_eq!(logout(post(q)), expected);
    }

    #[test]
    fn empty_values_are_absent() {
        assert_eq!(logout(get("state=&client_id=")), LogoutParams::default());
        assert_eq!(logout(get("")), LogoutParams::default());
    }

    #[test]
    fn rejects_duplicates_bad_encoding_and_huge_values() {
        assert_eq!(get("state=a&state=b"), Err(ParamError::Duplicate("state")));
        assert_eq!(get("state=a&state="), Err(ParamError::Duplicate("state")));
        assert_eq!(post("client_id=a&client_id=a"), Err(ParamError::Duplicate("client_id")));
        assert!(get("other=1&other=2").is_ok());
        assert_eq!(get("state=%ZZ"), Err(ParamError::Form(FormError::BadPercentEncoding)));
        assert_eq!(get("state=%FF"), Err(ParamError::Form(FormError::NotUtf8)));
        assert_eq!(get(&format!("state={}", "a".repeat(MAX_STATE_BYTES + 1))), Err(ParamError::TooLong("state")));
    }

    #[test]
    fn post_needs_a_form() {
        let r = parse(&HttpRequest {
            method: Method::Post,
            headers: vec![("content-type".into(), "application/json".into())],
            body: b"{}".to_vec(),
            ..Default::default()
        });
        assert_eq!(r, Err(ParamError::WrongContentType));
    }

    #[test]
    fn confirmation_form() {
        assert_eq!(
            post("confirm=tok&logout=yes").unwrap(),
            EndSessionRequest::Confirm(ConfirmAnswer { token: "tok".into(), log_out: true })
        );
        assert_eq!(
            post("confirm=tok&logout=no").unwrap(),
            EndSessionRequest::Confirm(ConfirmAnswer { token: "tok".into(), log_out: false })
        );
        for bad in ["logout=yes", "confirm=tok", "confirm=tok&logout=maybe", "confirm=&logout=yes"] {
            assert_eq!(post(bad), Err(ParamError::IncompleteConfirmation), "{bad}");
        }
        // A GET cannot confirm: the confirmation is a same-site POST.
        assert!(matches!(get("confirm=tok&logout=yes").unwrap(), EndSessionRequest::Logout(_)));
    }
}
