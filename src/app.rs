//! The service as one function from request to response, free of the platform: the worker
//! layer builds a [`Ctx`] (configuration, storage, platform, clock) and calls [`handle`].
//! Routing (through `routes`' one table of methods) and discovery live here; the endpoints in
//! `protocol` and `admin`.

use serde_json::{Map, Value};

use crate::config::Config;
use crate::http::errors::{ErrorTable, RequestError};
use crate::http::{HttpRequest, HttpResponse, Method, MAX_BODY_BYTES, MAX_URL_BYTES};
use crate::ports::{Ctx, Platform, Store};
use crate::routes::{self, Endpoint};

pub async fn handle<S: Store, N: Platform>(ctx: &Ctx<'_, S, N>, req: &HttpRequest) -> HttpResponse {
    let endpoint = match accept(ctx.config, req) {
        Ok(e) => e,
        Err(e) => return e.json(),
    };
    let response = match endpoint {
        Endpoint::Preflight => cors(HttpResponse::new(204))
            .with_header("access-control-allow-methods", "GET, HEAD, OPTIONS")
            .with_header("access-control-max-age", "86400"),
        Endpoint::Discovery => cors(HttpResponse::json(200, &discovery(ctx.config))),
        Endpoint::Jwks => cors(
            HttpResponse::json(200, ctx.config.keys.public_jwks())
                .with_header("content-type", "application/jwk-set+json"),
        ),
        Endpoint::EndSession => crate::protocol::end_session::handle(ctx, req).await,
        Endpoint::Admin(call) => crate::admin::handle(ctx, call, req).await,
    };
    if req.method == Method::Head {
        return response.with_body(Vec::new());
    }
    response
}

/// The endpoint a request reaches, or why it reaches none.
fn accept(config: &Config, req: &HttpRequest) -> Result<Endpoint, RequestError> {
    let route = routes::resolve(&config.base_path, &req.path).ok_or(RequestError::NoSuchRoute)?;
    let endpoint = route
        .endpoint(req.method)
        .ok_or_else(|| RequestError::MethodNotAllowed { method: req.method, allow: route.methods() })?;
    if req.body.len() > MAX_BODY_BYTES {
        return Err(RequestError::BodyTooLarge);
    }
    if req.path.len() + req.query.as_ref().map_or(0, |q| q.len() + 1) > MAX_URL_BYTES {
        return Err(RequestError::UrlTooLong);
    }
    Ok(endpoint)
}

/// Discovery and keys are public and read by browser-based relying parties too.
fn cors(response: HttpResponse) -> HttpResponse {
    response.with_header("access-control-allow-origin", "*")
}

/// The provider metadata document: `PROVIDER_METADATA`, with this service's members over it.
/// A capability is advertised only where it is implemented.
pub fn discovery(config: &Config) -> Value {
    let mut doc: Map<String, Value> = config.provider_metadata.clone();
    let algs: Vec<&str> = config.keys.verifying_algs().iter().map(|a| a.name()).collect();
    let ours = serde_json::json!({
        "issuer": config.issuer,
        "jwks_uri": config.url(routes::JWKS_PATH),
        "end_session_endpoint": config.url(routes::END_SESSION_PATH),
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "frontchannel_logout_supported": true,
        "frontchannel_logout_session_supported": true,
        "id_token_signing_alg_values_supported": algs,
    });
    if let Value::Object(ours) = ours {
        doc.extend(ours);
    }
    Value::Object(doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{request, with_app, with_settings};

    fn json(r: &HttpResponse) -> Value {
        serde_json::from_slice(&r.body).unwrap()
    }

    #[test]
    fn discovery_document() {
        let mut settings = crate::testing::settings();
        settings.insert(
            "PROVIDER_METADATA",
            r#"{"authorization_endpoint": "https://login.example.com/authorize", "issuer": "https://wrong", "jwks_uri": "x"}"#.into(),
        );
        with_settings(settings, |app| async move {
            let r = app.call(request(Method::Get, "/.well-known/openid-configuration")).await;
            assert_eq!(r.status, 200);
            assert_eq!(r.header("content-type"), Some("application/json"));
            assert_eq!(r.header("access-control-allow-origin"), Some("*"));
            let d = json(&r);
            assert_eq!(d["issuer"], "https://id.example.com");
            assert_eq!(d["jwks_uri"], "https://id.example.com/jwks");
            assert_eq!(d["end_session_endpoint"], "https://id.example.com/session/end");
            assert_eq!(d["authorization_endpoint"], "https://login.example.com/authorize");
            assert_eq!(d["id_token_signing_alg_values_supported"], serde_json::json!(["RS256", "ES256", "EdDSA"]));
            for flag in ["backchannel_logout_supported", "frontchannel_logout_supported"] {
                assert!(d[flag].is_boolean(), "{flag}");
            }
        });
    }

    #[test]
    fn jwks_serves_public_keys() {
        with_app(|app| async move {
            let r = app.call(request(Method::Get, "/jwks")).await;
            assert_eq!(r.status, 200);
            let keys = json(&r);
            assert_eq!(keys["keys"].as_array().unwrap().len(), 3);
            assert!(keys["keys"].as_array().unwrap().iter().all(|k| k.get("d").is_none()));
        });
    }

    #[test]
    fn unknown_routes_and_methods() {
        with_app(|app| async move {
            let r = app.call(request(Method::Get, "/nope")).await;
            assert_eq!(r.status, 404);
            let r = app.call(request(Method::Post, "/jwks")).await;
            assert_eq!(r.status, 405);
            assert_eq!(r.header("allow"), Some("GET, HEAD, OPTIONS"));
            let r = app.call(request(Method::Patch, "/admin/clients/x")).await;
            assert_eq!(r.status, 405);
            assert_eq!(r.header("allow"), Some("GET, PUT, DELETE"));
            let r = app.call(request(Method::Head, "/jwks")).await;
            assert_eq!((r.status, r.body.len()), (200, 0));
            let mut big = request(Method::Post, "/session/end");
            big.body = vec![b'a'; MAX_BODY_BYTES + 1];
            assert_eq!(app.call(big).await.status, 413);
            let long = request(Method::Get, &format!("/session/end?state={}", "a".repeat(MAX_URL_BYTES)));
            assert_eq!(app.call(long).await.status, 414);
        });
    }
}
