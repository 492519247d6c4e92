//! The service as one function from request to response, free of the platform: the worker
//! layer builds a [`Ctx`] (configuration, storage, platform, clock) and calls [`handle`].
//! Routing (through `routes`' one table of methods) and discovery live here; the endpoints in
//! `protocol` and `admin`.

use serde_json::{Map, Value};

use crate::config::Config;
use crate::http::errors::{ErrorTable, RequestError};
use crate::http::ratelimit::{self, Bucket};
use crate::http::{prefers_json, HttpRequest, HttpResponse, Method, MAX_BODY_BYTES, MAX_URL_BYTES};
use crate::ports::{Ctx, Platform, Store};
use crate::routes::{self, Endpoint};
use crate::ui::pages::{self, PageContext};

pub async fn handle<S: Store, N: Platform>(ctx: &Ctx<'_, S, N>, req: &HttpRequest) -> HttpResponse {
    let endpoint = match accept(ctx.config, req) {
        Ok(e) => e,
        Err(e) => return e.json(),
    };
    let response = match endpoint {
        Endpoint::Preflight => cors(HttpResponse::new(204))
            .with_header("access-control-allow-methods", "GET, HEAD, OPTIONS")
            .with_header("access-control-max-age", "86400"),
        Endpoint::Discovery => {
            let body = ctx.config.published.discovery.get_or_init(|| serialised(&discovery(ctx.config)));
            cors(HttpResponse::json_bytes(200, body.clone()))
        }
        Endpoint::Jwks => {
            let body = ctx.config.published.jwks.get_or_init(|| serialised(ctx.config.keys.public_jwks()));
            cors(HttpResponse::json_bytes(200, body.clone()).with_header("content-type", "application/jwk-set+json"))
        }
        Endpoint::EndSession => match answer_over_limit(ctx, req).await {
            Some(refused) => refused,
            None => crate::protocol::end_session::handle(ctx, req).await,
        },
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

/// An answer to the confirmation page beyond its client's rate limit: a 429 with
/// `Retry-After`, nothing read or written (see [`crate::http::ratelimit`]). Anyone can post
/// answers; they must not be a cheap way to spend the store's quotas.
async fn answer_over_limit<S: Store, N: Platform>(ctx: &Ctx<'_, S, N>, req: &HttpRequest) -> Option<HttpResponse> {
    if !ctx.config.rate_limits || !crate::protocol::end_session::is_answer(req) {
        return None;
    }
    let client = ratelimit::client_key(req.header("cf-connecting-ip"));
    let wait = ctx.platform.over_limit(Bucket::EndSessionAnswer, &client, ctx.now).await?;
    let response = if prefers_json(req.header("accept")) {
        HttpResponse::json_error(429, "too_many_requests", &format!("too many answers; try again in {wait} s"))
    } else {
        let texts = ctx.config.languages.negotiate(None, req.header("accept-language"));
        let page = PageContext { brand: &ctx.config.brand, texts };
        pages::message(429, &page, &texts.error_title, &texts.error_unavailable, None)
    };
    let log = serde_json::json!({"event": "rate_limited", "bucket": "end_session_answer"});
    Some(response.with_header("retry-after", &wait.to_string()).with_log(log))
}

fn serialised(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("serialising a JSON value cannot fail")
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

    /// Discovery and the JWKS are serialised at their first request and kept with the
    /// configuration: a second request answers the same bytes without building them again.
    #[test]
    fn discovery_and_jwks_bodies_are_built_once_per_configuration() {
        with_app(|app| async move {
            let published = &app.config.published;
            assert!(published.discovery.get().is_none() && published.jwks.get().is_none());
            for path in ["/.well-known/openid-configuration", "/jwks"] {
                let first = app.call(request(Method::Get, path)).await;
                let second = app.call(request(Method::Get, path)).await;
                assert_eq!((first.status, &first.body), (200, &second.body), "{path}");
            }
            assert_eq!(published.discovery.get(), Some(&serde_json::to_vec(&discovery(&app.config)).unwrap()));
            assert_eq!(published.jwks.get(), Some(&serde_json::to_vec(app.config.keys.public_jwks()).unwrap()));
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
    fn jwks_serves_the_id_token_keys_too() {
        use crate::keys::{generate::private_jwk, Alg};
        let mut login = private_jwk(Alg::ES256, "login-es256");
        login.as_object_mut().unwrap().remove("d");
        let mut settings = crate::testing::settings();
        settings.insert("ID_TOKEN_JWKS", serde_json::json!({ "keys": [login.clone()] }).to_string());
        with_settings(settings, |app| async move {
            let r = app.call(request(Method::Get, "/jwks")).await;
            assert_eq!(r.status, 200);
            let keys = json(&r)["keys"].as_array().unwrap().clone();
            let kids: Vec<&str> = keys.iter().map(|k| k["kid"].as_str().unwrap()).collect();
            assert_eq!(kids, ["test-rs256", "test-es256", "test-eddsa", "login-es256"]);
            for member in ["kty", "crv", "x", "y"] {
                assert_eq!(keys[3][member], login[member], "{member}");
            }
            assert!(keys.iter().all(|k| ["d", "p", "q", "dp", "dq", "qi"].iter().all(|m| k.get(*m).is_none())));
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

    /// KV operations of each operation, as the daily quotas count them (the README's quota
    /// table): a change in what an operation costs fails here first.
    mod quota {
        use serde_json::json;

        use crate::http::Method;
        use crate::state::memory::OpCounts;
        use crate::testing::{admin_request as admin, id_token, request, with_app, TestApp, ISSUER};

        fn ops(reads: usize, writes: usize, deletes: usize, lists: usize) -> OpCounts {
            OpCounts { reads, writes, deletes, lists }
        }

        /// Registers `n` clients with back-channel URIs (not counted).
        async fn clients(app: &TestApp, n: usize) -> Vec<String> {
            clients_from(app, 0, n).await
        }

        async fn clients_from(app: &TestApp, first: usize, n: usize) -> Vec<String> {
            let ids: Vec<String> = (first..first + n).map(|i| format!("rp{i}")).collect();
            for id in &ids {
                let body = json!({"redirect_uris": [format!("https://{id}.example/cb")], "backchannel_logout_uri": format!("https://{id}.example/bc")});
                assert_eq!(app.call(admin(Method::Put, &format!("/admin/clients/{id}"), Some(body))).await.status, 201);
            }
            app.store.take_counts();
            ids
        }

        async fn counted(app: &TestApp, req: crate::http::HttpRequest, status: u16) -> OpCounts {
            app.store.take_counts();
            let r = app.call(req).await;
            assert_eq!(r.status, status, "{}", String::from_utf8_lossy(&r.body));
            app.store.take_counts()
        }

        /// A session of alice with `ids` (not counted); its sid and cookie.
        async fn session(app: &TestApp, ids: &[String], sid: &str) -> String {
            let body = json!({"sub": "alice", "sid": sid, "clients": ids});
            let r = app.call(admin(Method::Post, "/admin/sessions", Some(body))).await;
            assert_eq!(r.status, 201);
            app.store.take_counts();
            serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["cookie"].as_str().unwrap().to_string()
        }

        fn user_logout(sid: &str, cookie: &str) -> crate::http::HttpRequest {
            let hint =
                id_token(crate::keys::Alg::RS256, json!({"iss": ISSUER, "sub": "alice", "sid": sid, "aud": "rp0"}));
            let mut r = request(Method::Get, &format!("/session/end?id_token_hint={hint}"));
            r.headers.push(("cookie".into(), format!("op_session={cookie}")));
            r
        }

        #[test]
        fn a_login_and_a_recorded_client() {
            with_app(|app| async move {
                let ids = clients(app, 3).await;
                let login = admin(Method::Post, "/admin/sessions", Some(json!({"sub": "alice", "clients": ids})));
                // The clients checked in one bulk read; the record and the subject index.
                assert_eq!(counted(app, login, 201).await, ops(3, 2, 0, 0));
                let with_sid =
                    admin(Method::Post, "/admin/sessions", Some(json!({"sub": "alice", "sid": "s2", "clients": ids})));
                // And the sid's record and tombstone, read together; each client also gets its
                // own key (a second creation where this one is not seen yet keeps them).
                assert_eq!(counted(app, with_sid, 201).await, ops(5, 2 + 3, 0, 0));
                let extra = clients_from(app, 3, 1).await;
                let record = admin(Method::Put, &format!("/admin/sessions/s2/clients/{}", extra[0]), None);
                assert_eq!(counted(app, record, 200).await, ops(3, 1, 0, 0));
            });
        }

        #[test]
        fn a_logout_by_number_of_relying_parties() {
            for k in [1usize, 3, 10] {
                with_app(|app| async move {
                    let ids = clients(app, k).await;
                    let cookie = session(app, &ids, "s1").await;
                    // The session and its tombstone; its recorded clients (a list); its clients
                    // (one bulk read); the outbox and the tombstone written; the session and its
                    // subject index deleted (the outbox stays until the look).
                    assert_eq!(counted(app, user_logout("s1", &cookie), 200).await, ops(2 + k, 2, 2, 1), "{k} RPs");
                    // Its look: the session, its recorded clients (a list), the outbox deleted.
                    let rechecks = app.notified.rechecks();
                    assert_eq!(rechecks.len(), 1);
                    let check = &rechecks[0];
                    crate::protocol::logout::recheck(&app.store, &app.notified, check, None, app.now).await.unwrap();
                    assert_eq!(app.store.take_counts(), ops(1, 0, 1, 1), "{k} RPs, a look");
                });
            }
        }

        /// Queue operations of a user's logout with `k` relying parties, as the free plan's daily
        /// 10,000 count them: a message written, read and deleted is 3 (per 64 KB; ours are far
        /// smaller; https://developers.cloudflare.com/queues/platform/pricing/). Counted from what
        /// the request and every re-check it leads to hand the queue, all answered at once.
        #[test]
        fn a_logout_in_queue_operations() {
            use crate::budget::DEFAULT_INLINE_MAX;
            use crate::protocol::logout::{recheck, RECHECK_DELAYS_S};
            use crate::state::deliveries::QueueMessage;
            for k in [1usize, 3, 10, 12, 13, 50] {
                with_app(|app| async move {
                    let ids = clients(app, k).await;
                    let cookie = session(app, &ids, "s1").await;
                    counted(app, user_logout("s1", &cookie), 200).await;
                    let inline = k.min(app.notified.inline_max.borrow()[0]);
                    // Every message sent is written once, and read and deleted once by the consumer.
                    let mut consumed = 0;
                    let mut rechecks = 0;
                    while consumed < app.notified.enqueued.borrow().len() {
                        let (message, _) = app.notified.enqueued.borrow()[consumed].clone();
                        consumed += 1;
                        match message {
                            QueueMessage::Recheck(check) => {
                                rechecks += 1;
                                recheck(&app.store, &app.notified, &check, None, app.now + 150).await.unwrap();
                            }
                            QueueMessage::Expand(e) => {
                                crate::protocol::logout::expand(&app.store, &app.notified, &e, app.now).await.unwrap();
                            }
                            QueueMessage::Deliver(_) => {}
                        }
                    }
                    let queued = app.notified.handed.borrow().len() - inline;
                    let messages = consumed + queued;
                    let operations = 3 * messages;
                    eprintln!("queue operations: {k} RPs, {inline} inline, {queued} queued, {rechecks} re-checks: {operations}");
                    assert_eq!(inline, k.min(DEFAULT_INLINE_MAX), "{k} RPs");
                    assert_eq!(rechecks, RECHECK_DELAYS_S.len(), "one re-check message per look");
                    assert_eq!(
                        operations,
                        // The look, the one expansion message past the wave (up to 100 relying
                        // parties a page), and one message per queued delivery.
                        3 * (RECHECK_DELAYS_S.len()
                            + usize::from(k > DEFAULT_INLINE_MAX)
                            + k.saturating_sub(DEFAULT_INLINE_MAX)),
                        "{k} RPs"
                    );
                });
            }
        }

        #[test]
        fn each_admin_operation() {
            with_app(|app| async move {
                let ids = clients(app, 3).await;
                let get = |p: &str| admin(Method::Get, p, None);
                assert_eq!(counted(app, get("/admin/clients/rp0"), 200).await, ops(1, 0, 0, 0));
                assert_eq!(counted(app, get("/admin/openapi.json"), 200).await, ops(0, 0, 0, 0));
                assert_eq!(counted(app, get("/admin/clients"), 200).await, ops(3, 0, 0, 1));
                let body = json!({"redirect_uris": ["https://rp0.example/cb"]});
                assert_eq!(
                    counted(app, admin(Method::Put, "/admin/clients/rp0", Some(body)), 200).await,
                    ops(1, 1, 0, 0)
                );
                let _ = session(app, &ids, "s1").await;
                let _ = session(app, &ids, "s2").await;
                assert_eq!(counted(app, get("/admin/sessions/s1"), 200).await, ops(2, 0, 0, 1));
                // The subject's index; the records and the tombstones, each in one bulk read.
                assert_eq!(counted(app, get("/admin/sessions?sub=alice"), 200).await, ops(4, 0, 0, 1));
                assert_eq!(counted(app, get("/admin/deliveries?status=dead"), 200).await, ops(0, 0, 0, 1));
                let end_one = admin(Method::Delete, "/admin/sessions/s1", None);
                assert_eq!(counted(app, end_one, 200).await, ops(5, 2, 2, 1));
                // A page of the user's `s` sessions with `k` clients, in terms of both, so that
                // each term is checked (s = 2 here, one of them made now): reads, the records (one
                // bulk read, a read per key) and the clients, s + k (the subject's index is a
                // list, not a read: the table's "1 + s + k" counted it twice); writes, the outbox
                // and a tombstone per session; deletes, 2 per session (the outbox stays until
                // the look); lists, the index and per session its recorded clients.
                let _ = session(app, &ids, "s3").await;
                let (s, k) = (2, 3);
                let end_user = admin(Method::Delete, "/admin/sessions?sub=alice", None);
                assert_eq!(counted(app, end_user, 200).await, ops(s + k, 1 + s, 2 * s, 1 + s));
                assert_eq!(counted(app, admin(Method::Delete, "/admin/clients/rp2", None), 204).await, ops(1, 0, 1, 0));
            });
        }

        #[test]
        fn a_session_extended_with_m_recorded_clients() {
            for m in [0usize, 2] {
                with_app(|app| async move {
                    let ids = clients(app, 3).await;
                    let _ = session(app, &ids, "s1").await;
                    for id in clients_from(app, 3, m).await {
                        let record = admin(Method::Put, &format!("/admin/sessions/s1/clients/{id}"), None);
                        assert_eq!(app.call(record).await.status, 200);
                    }
                    // The record and the tombstone (one bulk read); the recorded clients (a
                    // list); the record, the subject index and each recorded client written
                    // (the 3 it was created with under its own sid, and the m recorded since).
                    let extend = admin(Method::Patch, "/admin/sessions/s1", Some(json!({"expires_in": 7200})));
                    assert_eq!(counted(app, extend, 200).await, ops(2, 2 + 3 + m, 0, 1), "{m} recorded");
                });
            }
        }

        #[test]
        fn a_cron_tick() {
            with_app(|app| async move {
                use crate::protocol::logout::sweep;
                let (store, platform) = (&app.store, &app.notified);
                store.take_counts();
                // Nothing left for it: one read, no list (not at the first tick of an hour).
                let idle = app.now - app.now % 3600 + 300;
                assert!(!sweep(store, platform, idle, 300, 50, || "n".into()).await.unwrap().looked);
                assert_eq!(store.take_counts(), ops(1, 0, 0, 0));
                // At the hour: the pending deliveries and the outbox are listed once each.
                assert!(sweep(store, platform, idle - 300, 300, 50, || "n".into()).await.unwrap().looked);
                assert_eq!(store.take_counts(), ops(1, 0, 0, 2));
                // Something due: the same.
                assert!(crate::state::outbox::mark_due(store, app.now).await);
                store.take_counts();
                assert!(sweep(store, platform, idle, 300, 50, || "n".into()).await.unwrap().looked);
                assert_eq!(store.take_counts(), ops(1, 0, 0, 2));
            });
        }
    }
}
