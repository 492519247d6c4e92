//! Which route a request path names, and which endpoint each method of it reaches: the one
//! table of allowed methods (anything else is a 405 listing them in `Allow`).
//! Imports only `http`.

use crate::http::form;
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
    AdminDelivery(String),
    AdminDeliveryRetry(String),
    AdminOpenApi,
}

/// What a request asks for: a route and one of its methods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Discovery,
    Jwks,
    /// A CORS preflight of discovery or the JWKS.
    Preflight,
    EndSession,
    Admin(AdminCall),
}

/// The calls of the admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminCall {
    ListClients,
    GetClient(String),
    PutClient(String),
    DeleteClient(String),
    CreateSession,
    ListSessions,
    EndSubject,
    GetSession(String),
    /// Sets a live session's expiry (sliding sessions).
    ExtendSession(String),
    EndSession(String),
    AddClient {
        sid: String,
        client_id: String,
    },
    ListDeliveries,
    RetryDelivery(String),
    AcknowledgeDelivery(String),
    /// The OpenAPI document of the admin API.
    OpenApi,
}

impl Route {
    /// The endpoint `method` reaches on this route, if any: the one table of allowed methods.
    /// `HEAD` is `GET` without the body, where `GET` is listed with it.
    pub fn endpoint(&self, method: Method) -> Option<Endpoint> {
        use Method::*;
        let admin = |call: AdminCall| Some(Endpoint::Admin(call));
        match (self, method) {
            (Route::Discovery, Get | Head) => Some(Endpoint::Discovery),
            (Route::Jwks, Get | Head) => Some(Endpoint::Jwks),
            (Route::Discovery | Route::Jwks, Options) => Some(Endpoint::Preflight),
            (Route::EndSession, Get | Post) => Some(Endpoint::EndSession),
            (Route::AdminClients, Get) => admin(AdminCall::ListClients),
            (Route::AdminClient(id), Get) => admin(AdminCall::GetClient(id.clone())),
            (Route::AdminClient(id), Put) => admin(AdminCall::PutClient(id.clone())),
            (Route::AdminClient(id), Delete) => admin(AdminCall::DeleteClient(id.clone())),
            (Route::AdminSessions, Get) => admin(AdminCall::ListSessions),
            (Route::AdminSessions, Post) => admin(AdminCall::CreateSession),
            (Route::AdminSessions, Delete) => admin(AdminCall::EndSubject),
            (Route::AdminSession(sid), Get) => admin(AdminCall::GetSession(sid.clone())),
            (Route::AdminSession(sid), Patch) => admin(AdminCall::ExtendSession(sid.clone())),
            (Route::AdminSession(sid), Delete) => admin(AdminCall::EndSession(sid.clone())),
            (Route::AdminSessionClient { sid, client_id }, Put) => {
                admin(AdminCall::AddClient { sid: sid.clone(), client_id: client_id.clone() })
            }
            (Route::AdminDeliveries, Get) => admin(AdminCall::ListDeliveries),
            (Route::AdminDelivery(id), Delete) => admin(AdminCall::AcknowledgeDelivery(id.clone())),
            (Route::AdminDeliveryRetry(id), Post) => admin(AdminCall::RetryDelivery(id.clone())),
            (Route::AdminOpenApi, Get) => admin(AdminCall::OpenApi),
            _ => None,
        }
    }

    /// The methods this route answers, from [`Route::endpoint`]'s table.
    pub fn methods(&self) -> Vec<Method> {
        Method::ALL.into_iter().filter(|m| self.endpoint(*m).is_some()).collect()
    }

    /// The route's path under the base path, its parameters as `{name}` (the OpenAPI
    /// document's keys).
    pub fn template(&self) -> &'static str {
        match self {
            Route::Discovery => DISCOVERY_PATH,
            Route::Jwks => JWKS_PATH,
            Route::EndSession => END_SESSION_PATH,
            Route::AdminClients => "/admin/clients",
            Route::AdminClient(_) => "/admin/clients/{client_id}",
            Route::AdminSessions => "/admin/sessions",
            Route::AdminSession(_) => "/admin/sessions/{sid}",
            Route::AdminSessionClient { .. } => "/admin/sessions/{sid}/clients/{client_id}",
            Route::AdminDeliveries => "/admin/deliveries",
            Route::AdminDelivery(_) => "/admin/deliveries/{id}",
            Route::AdminDeliveryRetry(_) => "/admin/deliveries/{id}/retry",
            Route::AdminOpenApi => OPENAPI_PATH,
        }
    }
}

pub const OPENAPI_PATH: &str = "/admin/openapi.json";

/// One route of each kind of the admin API (parameters named `p`): what the OpenAPI document
/// must describe. A new admin route belongs here ([`Route::template`] cannot miss it).
pub fn admin_routes() -> Vec<Route> {
    let p = || "p".to_string();
    vec![
        Route::AdminClients,
        Route::AdminClient(p()),
        Route::AdminSessions,
        Route::AdminSession(p()),
        Route::AdminSessionClient { sid: p(), client_id: p() },
        Route::AdminDeliveries,
        Route::AdminDelivery(p()),
        Route::AdminDeliveryRetry(p()),
        Route::AdminOpenApi,
    ]
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
        ["openapi.json"] => Some(Route::AdminOpenApi),
        ["deliveries"] => Some(Route::AdminDeliveries),
        ["deliveries", id] => Some(Route::AdminDelivery(param(id)?)),
        ["deliveries", id, "retry"] => Some(Route::AdminDeliveryRetry(param(id)?)),
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

    #[test]
    fn the_allowed_methods_come_from_the_endpoint_table() {
        use Method::*;
        assert_eq!(Route::Discovery.methods(), [Get, Head, Options]);
        assert_eq!(Route::EndSession.methods(), [Get, Post]);
        assert_eq!(Route::AdminClient("x".into()).methods(), [Get, Put, Delete]);
        assert_eq!(Route::AdminSessions.methods(), [Get, Post, Delete]);
        assert_eq!(
            Route::AdminSession("s".into()).endpoint(Delete),
            Some(Endpoint::Admin(AdminCall::EndSession("s".into())))
        );
        assert_eq!(Route::AdminDeliveries.endpoint(Post), None);
        assert_eq!(Route::AdminSession("s".into()).methods(), [Get, Delete, Patch]);
        assert_eq!(Route::AdminOpenApi.methods(), [Get]);
    }

    /// Each admin route's template, its parameters filled in, resolves to that route: the
    /// templates (the OpenAPI document's paths) and the resolver agree.
    #[test]
    fn admin_templates_resolve_to_their_routes() {
        for route in admin_routes() {
            let path = route.template().replace("{sid}", "p").replace("{client_id}", "p").replace("{id}", "p");
            assert_eq!(resolve("", &path), Some(route.clone()), "{path}");
            assert!(!route.methods().is_empty(), "{path}");
        }
    }
}
