//! Which route a request path names, and which methods each route answers.

use crate::form;
use crate::http::Method;

pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
pub const JWKS_PATH: &str = "/jwks";
pub const END_SESSION_PATH: &str = "/session/end";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Discovery,
    Jwks,
    EndSession,
    AdminClients,
    AdminClient(String),
    AdminSessions,
    AdminSession(String),
    AdminSessionClient { sid: String, client_id: String },
    AdminDeliveries,
}

impl Route {
    /// The methods this route answers; anything else is a 405 with this list in `Allow`.
    pub fn methods(&self) -> &'static [Method] {
        use Method::*;
        match self {
            Route::Discovery | Route::Jwks => &[Get, Head, Options],
            Route::EndSession => &[Get, Post],
            Route::AdminClients => &[Get],
            Route::AdminClient(_) => &[Get, Put, Delete],
            Route::AdminSessions => &[Get, Post, Delete],
            Route::AdminSession(_) => &[Get, Delete],
            Route::AdminSessionClient { .. } => &[Put],
            Route::AdminDeliveries => &[Get],
        }
    }

    pub fn is_admin(&self) -> bool {
        matches!(
            self,
            Route::AdminClients
                | Route::AdminClient(_)
                | Route::AdminSessions
                | Route::AdminSession(_)
                | Route::AdminSessionClient { .. }
                | Route::AdminDeliveries
        )
    }
}

/// Resolves `path` (raw, percent-encoded) under the issuer's `base_path`. Path parameters are
/// decoded strictly; a segment that does not decode matches no route.
pub fn resolve(base_path: &str, path: &str) -> Option<Route> {
    let rest = path.strip_prefix(base_path)?;
    match rest {
        DISCOVERY_PATH => return Some(Route::Discovery),
        JWKS_PATH => return Some(Route::Jwks),
        END_SESSION_PATH => return Some(Route::EndSession),
        _ => {}
    }
    let segments: Vec<&str> = rest.strip_prefix("/admin/")?.split('/').collect();
    let param = |s: &str| form::percent_decode(s.as_bytes(), false).ok().filter(|p| !p.is_empty());
    match segments.as_slice() {
        ["clients"] => Some(Route::AdminClients),
        ["clients", id] => Some(Route::AdminClient(param(id)?)),
        ["sessions"] => Some(Route::AdminSessions),
        ["deliveries"] => Some(Route::AdminDeliveries),
        ["sessions", sid] => Some(Route::AdminSession(param(sid)?)),
        ["sessions", sid, "clients", id] => Some(Route::AdminSessionClient { sid: param(sid)?, client_id: param(id)? }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_routes() {
        assert_eq!(resolve("", "/.well-known/openid-configuration"), Some(Route::Discovery));
        assert_eq!(resolve("", "/jwks"), Some(Route::Jwks));
        assert_eq!(resolve("", "/session/end"), Some(Route::EndSession));
        assert_eq!(resolve("", "/admin/clients"), Some(Route::AdminClients));
        assert_eq!(resolve("", "/admin/clients/rp%3A1"), Some(Route::AdminClient("rp:1".into())));
        assert_eq!(resolve("", "/admin/sessions/s1"), Some(Route::AdminSession("s1".into())));
        assert_eq!(
            resolve("", "/admin/sessions/s1/clients/rp1"),
            Some(Route::AdminSessionClient { sid: "s1".into(), client_id: "rp1".into() })
        );
        assert_eq!(resolve("/t", "/t/jwks"), Some(Route::Jwks));
    }

    #[test]
    fn unknown_paths_match_nothing() {
        for p in
            ["/", "/jwks/", "/admin", "/admin/clients/", "/admin/clients/%ZZ", "/admin/x", "/t/jwks", "/session/end/x"]
        {
            assert_eq!(resolve("", p), None, "{p}");
        }
        assert_eq!(resolve("/t", "/jwks"), None);
    }
}
