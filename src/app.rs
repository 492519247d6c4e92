//! The service as one function from request to response, free of the platform: the worker
//! layer builds a [`Ctx`] (configuration, storage, clock) and calls [`handle`].

use serde_json::{Map, Value};

use crate::config::Config;
use crate::http::{HttpRequest, HttpResponse, Method, MAX_BODY_BYTES, MAX_URL_BYTES};
use crate::logout::Platform;
use crate::router::{self, Route};
use crate::store::Store;

/// Everything a request is handled with.
pub struct Ctx<'a, S, N> {
    pub config: &'a Config,
    pub store: &'a S,
    pub platform: &'a N,
    /// Unix time in seconds.
    pub now: i64,
}

pub async fn handle<S: Store, N: Platform>(ctx: &Ctx<'_, S, N>, req: &HttpRequest) -> HttpResponse {
    let Some(route) = router::resolve(&ctx.config.base_path, &req.path) else {
        return HttpResponse::json_error(404, "not_found", "no such resource");
    };
    if !route.methods().contains(&req.method) {
        return method_not_allowed(&route, req.method);
    }
    if req.body.len() > MAX_BODY_BYTES {
        return HttpResponse::json_error(413, "invalid_request", "the request body is larger than 16 KB");
    }
    if req.path.len() + req.query.as_ref().map_or(0, |q| q.len() + 1) > MAX_URL_BYTES {
        return HttpResponse::json_error(414, "invalid_request", "the URL is longer than 8 KB");
    }
    let response = match route {
        Route::Discovery | Route::Jwks if req.method == Method::Options => cors(HttpResponse::new(204))
            .with_header("access-control-allow-methods", "GET, HEAD, OPTIONS")
            .with_header("access-control-max-age", "86400"),
        Route::Discovery => cors(HttpResponse::json(200, &discovery(ctx.config))),
        Route::Jwks => cors(
            HttpResponse::json(200, ctx.config.keys.public_jwks())
                .with_header("content-type", "application/jwk-set+json"),
        ),
        Route::EndSession => crate::end_session::handle(ctx, req).await,
        admin => crate::admin::handle(ctx, admin, req).await,
    };
    if req.method == Method::Head {
        return response.with_body(Vec::new());
    }
    response
}

pub fn method_not_allowed(route: &Route, method: Method) -> HttpResponse {
    let allow: Vec<&str> = route.methods().iter().map(|m| m.as_str()).collect();
    HttpResponse::json_error(405, "invalid_request", &format!("{} is not allowed here", method.as_str()))
        .with_header("allow", &allow.join(", "))
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
        "jwks_uri": config.url(router::JWKS_PATH),
        "end_session_endpoint": config.url(router::END_SESSION_PATH),
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
pub(crate) mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;
    use std::collections::HashMap;
    use std::future::Future;

    pub const NOW: i64 = 1_800_000_000;

    /// Records the events it is told of, and how many deliveries each could make inline.
    #[derive(Default)]
    pub struct Recorder(
        pub std::cell::RefCell<Vec<crate::backchannel::LogoutEvent>>,
        pub std::cell::RefCell<Vec<usize>>,
    );

    impl Platform for Recorder {
        async fn notify(
            &self,
            event: &crate::backchannel::LogoutEvent,
            _clients: &[crate::clients::Client],
            inline_max: usize,
        ) -> crate::logout::Summary {
            self.0.borrow_mut().push(event.clone());
            self.1.borrow_mut().push(inline_max);
            crate::logout::Summary::default()
        }
    }

    pub struct TestApp {
        pub config: Config,
        pub store: MemoryStore,
        pub notified: Recorder,
        pub now: i64,
    }

    impl TestApp {
        pub async fn call(&self, req: HttpRequest) -> HttpResponse {
            self.store.now.set(self.now);
            // Subrequests are counted per request, as the worker's store does.
            self.store.ops.set(0);
            let ctx = Ctx { config: &self.config, store: &self.store, platform: &self.notified, now: self.now };
            handle(&ctx, &req).await
        }
    }

    pub fn with_settings<F, Fut>(settings: HashMap<&'static str, String>, f: F)
    where
        F: FnOnce(&'static TestApp) -> Fut,
        Fut: Future<Output = ()>,
    {
        let config = crate::config::tests::load(&settings).unwrap();
        // Leaked so that the async test body may borrow it for as long as it likes.
        let app: &'static TestApp = Box::leak(Box::new(TestApp {
            config,
            store: MemoryStore::new(NOW),
            notified: Recorder::default(),
            now: NOW,
        }));
        futures::executor::block_on(f(app));
    }

    pub fn with_app<F, Fut>(f: F)
    where
        F: FnOnce(&'static TestApp) -> Fut,
        Fut: Future<Output = ()>,
    {
        with_settings(crate::config::tests::settings(), f)
    }

    pub fn request(method: Method, path_and_query: &str) -> HttpRequest {
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p.to_string(), Some(q.to_string())),
            None => (path_and_query.to_string(), None),
        };
        HttpRequest { method, path, query, headers: vec![], body: vec![] }
    }

    fn json(r: &HttpResponse) -> Value {
        serde_json::from_slice(&r.body).unwrap()
    }

    #[test]
    fn discovery_document() {
        let mut settings = crate::config::tests::settings();
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
