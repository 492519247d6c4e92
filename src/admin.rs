//! The admin API: the login system and operators register clients and record sessions.
//! JSON in and out; errors are `{"error", "error_description"}`; nothing changes on an error.

use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::app::Ctx;
use crate::backchannel::{DeliveryRecord, DeliveryStatus, LogoutEvent};
use crate::clients::{self, Client};
use crate::form;
use crate::http::{HttpRequest, HttpResponse, Method};
use crate::logout::{self, Platform};
use crate::router::Route;
use crate::sessions::{self, Session};
use crate::store::{Ns, Store, StoreError, MIN_TTL_S};

const DEFAULT_SESSION_TTL_S: i64 = 24 * 3600;
const MAX_SESSION_TTL_S: i64 = 366 * 24 * 3600;
/// How many sessions of one subject the admin API lists.
const MAX_LISTED_SESSIONS: usize = 1000;
/// Sessions one `DELETE /admin/sessions?sub=` ends. Each costs 2 KV deletes: 20 of them, the
/// listing, the two bulk reads and a queue send make 44 of the free plan's 50 subrequests
/// (the deliveries that no longer fit go to the queue).
pub const SUBJECT_LOGOUT_PAGE: usize = 20;
const CLIENT_PAGE: u32 = 100;

fn error(status: u16, code: &str, description: &str) -> HttpResponse {
    HttpResponse::json_error(status, code, description)
}

fn not_found(what: &str) -> HttpResponse {
    error(404, "not_found", &format!("no such {what}"))
}

pub fn storage_failed(e: &StoreError) -> HttpResponse {
    // The detail goes to the log, not to the caller.
    error(503, "temporarily_unavailable", "the storage did not answer; try again")
        .with_log(json!({ "event": "storage_error", "error": e.0 }))
}

fn client_key(client_id: &str) -> String {
    format!("client/{client_id}")
}

/// Several clients in one bulk read (per 100), each in the place of its id: `None` for an
/// invalid id, an unknown (or deleted) client or an unreadable record.
async fn read_clients<I: AsRef<str>>(store: &impl Store, ids: &[I]) -> Result<Vec<Option<Client>>, StoreError> {
    let valid: Vec<&str> = ids.iter().map(AsRef::as_ref).filter(|id| clients::valid_client_id(id)).collect();
    let keys: Vec<String> = valid.iter().map(|id| client_key(id)).collect();
    let mut found = valid.into_iter().zip(store.get_many(Ns::Clients, &keys).await?);
    Ok(ids
        .iter()
        .map(|id| {
            let id = id.as_ref();
            if !clients::valid_client_id(id) {
                return None;
            }
            let (_, raw) = found.next().expect("one value per valid id");
            raw.and_then(|r| serde_json::from_str(&r).ok())
        })
        .collect())
}

/// Several clients in one bulk read; unknown (or deleted) ones are left out.
pub async fn load_clients(store: &impl Store, ids: &[&str]) -> Result<Vec<Client>, StoreError> {
    Ok(read_clients(store, ids).await?.into_iter().flatten().collect())
}

/// Compares the bearer token with the configured one in constant time: both are hashed first,
/// so neither their contents nor their lengths show in the timing.
fn authorized(req: &HttpRequest, expected: &str) -> bool {
    let Some(given) = req.header("authorization").and_then(|h| {
        let (scheme, token) = h.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    }) else {
        return false;
    };
    let a = Sha256::digest(given.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    bool::from(a.ct_eq(&b))
}

pub async fn load_client(store: &impl Store, client_id: &str) -> Result<Option<Client>, StoreError> {
    if !clients::valid_client_id(client_id) {
        return Ok(None);
    }
    let raw = store.get(Ns::Clients, &client_key(client_id)).await?;
    Ok(raw.and_then(|r| serde_json::from_str(&r).ok()))
}

fn query_param(req: &HttpRequest, name: &str) -> Result<Option<String>, HttpResponse> {
    let pairs = form::parse(req.query.as_deref().unwrap_or("").as_bytes())
        .map_err(|e| error(400, "invalid_request", &e.to_string()))?;
    Ok(pairs.into_iter().find(|(n, _)| n == name).map(|(_, v)| v))
}

/// Handles an admin route, after the method was checked against the route.
pub async fn handle<S: Store, N: Platform>(ctx: &Ctx<'_, S, N>, route: Route, req: &HttpRequest) -> HttpResponse {
    let Some(token) = ctx.config.admin_token.as_deref() else {
        return error(404, "not_found", "the admin API is off: ADMIN_TOKEN is not set");
    };
    if !authorized(req, token) {
        return error(401, "invalid_token", "a valid admin bearer token is required")
            .with_header("www-authenticate", "Bearer realm=\"edge-logout-admin\"");
    }
    let result = match (route, req.method) {
        (Route::AdminClients, Method::Get) => list_clients(ctx, req).await,
        (Route::AdminClient(id), Method::Put) => put_client(ctx, &id, req).await,
        (Route::AdminClient(id), Method::Get) => get_client(ctx, &id).await,
        (Route::AdminClient(id), Method::Delete) => delete_client(ctx, &id).await,
        (Route::AdminSessions, Method::Post) => create_session(ctx, req).await,
        (Route::AdminSessions, Method::Get) => list_sessions(ctx, req).await,
        (Route::AdminSession(sid), Method::Get) => get_session(ctx, &sid).await,
        (Route::AdminSession(sid), Method::Delete) => end_session(ctx, &sid).await,
        (Route::AdminSessions, Method::Delete) => end_subject(ctx, req).await,
        (Route::AdminDeliveries, Method::Get) => list_deliveries(ctx, req).await,
        (Route::AdminSessionClient { sid, client_id }, Method::Put) => add_client(ctx, &sid, &client_id).await,
        (route, method) => Ok(crate::app::method_not_allowed(&route, method)),
    };
    result.unwrap_or_else(|e| storage_failed(&e))
}

/// A JSON body, or the 400 that says why it is not one. Parsed twice: as a value (syntax,
/// nesting depth, an object), then into the typed input, where a member given twice is an
/// error rather than "last one wins".
fn json_body<T: for<'de> Deserialize<'de>>(req: &HttpRequest, code: &str) -> Result<T, HttpResponse> {
    if req.content_type().as_deref() != Some("application/json") {
        return Err(error(415, "invalid_request", "the body must be application/json"));
    }
    let value: Value = serde_json::from_slice(&req.body)
        .map_err(|e| error(400, "invalid_request", &format!("the body is not JSON: {e}")))?;
    if !value.is_object() {
        return Err(error(400, code, "the body must be a JSON object"));
    }
    serde_json::from_slice(&req.body).map_err(|e| error(400, code, &e.to_string()))
}

type Answer = Result<HttpResponse, StoreError>;

async fn list_clients<S: Store, N>(ctx: &Ctx<'_, S, N>, req: &HttpRequest) -> Answer {
    let cursor = match query_param(req, "cursor") {
        Ok(c) => c,
        Err(resp) => return Ok(resp),
    };
    let page = ctx.store.list(Ns::Clients, "client/", cursor, CLIENT_PAGE).await?;
    let ids: Vec<&str> = page.keys.iter().map(|l| &l.key["client/".len()..]).collect();
    let clients = load_clients(ctx.store, &ids).await?;
    Ok(HttpResponse::json(200, &json!({ "clients": clients, "cursor": page.cursor })))
}

async fn put_client<S: Store, N>(ctx: &Ctx<'_, S, N>, id: &str, req: &HttpRequest) -> Answer {
    if req.content_type().as_deref() != Some("application/json") {
        return Ok(error(415, "invalid_request", "the body must be application/json"));
    }
    let client = match Client::from_registration(id, &req.body, ctx.config.uri_policy, &ctx.config.keys.signing_algs())
    {
        Ok(c) => c,
        Err(e) => return Ok(error(400, "invalid_client_metadata", &e.0)),
    };
    let existed = ctx.store.get(Ns::Clients, &client_key(id)).await?.is_some();
    let record = serde_json::to_string(&client).expect("a client serialises");
    ctx.store.put(Ns::Clients, &client_key(id), &record, None, None).await?;
    Ok(HttpResponse::json(if existed { 200 } else { 201 }, &client))
}

async fn get_client<S: Store, N>(ctx: &Ctx<'_, S, N>, id: &str) -> Answer {
    Ok(match load_client(ctx.store, id).await? {
        Some(c) => HttpResponse::json(200, &c),
        None => not_found("client"),
    })
}

async fn delete_client<S: Store, N>(ctx: &Ctx<'_, S, N>, id: &str) -> Answer {
    if load_client(ctx.store, id).await?.is_none() {
        return Ok(not_found("client"));
    }
    ctx.store.delete(Ns::Clients, &client_key(id)).await?;
    Ok(HttpResponse::new(204))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewSession {
    sub: String,
    #[serde(default)]
    clients: Vec<String>,
    expires_in: Option<i64>,
    sid: Option<String>,
}

/// Checks that every id names a registered client (one bulk read); the first that does not is
/// the error.
async fn check_clients<S: Store, N>(ctx: &Ctx<'_, S, N>, ids: &[String]) -> Result<Option<HttpResponse>, StoreError> {
    let found = read_clients(ctx.store, ids).await?;
    Ok(ids
        .iter()
        .zip(found)
        .find(|(_, c)| c.is_none())
        .map(|(id, _)| error(400, "invalid_request", &format!("unknown client {id:?}"))))
}

async fn create_session<S: Store, N>(ctx: &Ctx<'_, S, N>, req: &HttpRequest) -> Answer {
    let input: NewSession = match json_body(req, "invalid_request") {
        Ok(v) => v,
        Err(resp) => return Ok(resp),
    };
    if !sessions::valid_sub(&input.sub) {
        return Ok(error(400, "invalid_request", "sub must be 1 to 255 bytes without control characters"));
    }
    let ttl = input.expires_in.unwrap_or(DEFAULT_SESSION_TTL_S);
    if !(MIN_TTL_S..=MAX_SESSION_TTL_S).contains(&ttl) {
        return Ok(error(
            400,
            "invalid_request",
            &format!("expires_in must be between {MIN_TTL_S} and {MAX_SESSION_TTL_S} seconds"),
        ));
    }
    let mut clients: Vec<String> = Vec::new();
    for c in input.clients {
        if !clients.contains(&c) {
            clients.push(c);
        }
    }
    if clients.len() > sessions::MAX_CLIENTS_PER_SESSION {
        return Ok(error(400, "invalid_request", "too many clients"));
    }
    if let Some(resp) = check_clients(ctx, &clients).await? {
        return Ok(resp);
    }
    let sid = match input.sid {
        Some(sid) if !sessions::valid_sid(&sid) => {
            return Ok(error(400, "invalid_request", "sid must be 1 to 128 visible ASCII characters without '/'"))
        }
        Some(sid) => {
            if sessions::load(ctx.store, &sid, ctx.now).await?.is_some() {
                return Ok(error(409, "conflict", "a session with this sid exists"));
            }
            sid
        }
        None => sessions::random_token(16),
    };
    let (cookie, cookie_hash) = sessions::new_cookie(&sid);
    let session = Session { sid, sub: input.sub, clients, created_at: ctx.now, expires_at: ctx.now + ttl, cookie_hash };
    sessions::save(ctx.store, &session, true).await?;
    Ok(HttpResponse::json(
        201,
        &json!({
            "sid": session.sid,
            "sub": session.sub,
            "clients": session.clients,
            "expires_at": session.expires_at,
            "cookie": cookie,
            "cookie_name": ctx.config.cookie.name,
        }),
    ))
}

async fn get_session<S: Store, N>(ctx: &Ctx<'_, S, N>, sid: &str) -> Answer {
    Ok(match sessions::load(ctx.store, sid, ctx.now).await? {
        Some(s) => HttpResponse::json(200, &s.view()),
        None => not_found("session"),
    })
}

/// The `sub` query parameter, or the 400 that says it is missing.
fn subject_param(req: &HttpRequest) -> Result<String, HttpResponse> {
    match query_param(req, "sub")? {
        Some(sub) if sessions::valid_sub(&sub) => Ok(sub),
        _ => Err(error(400, "invalid_request", "the query parameter sub is required")),
    }
}

async fn list_sessions<S: Store, N>(ctx: &Ctx<'_, S, N>, req: &HttpRequest) -> Answer {
    let sub = match subject_param(req) {
        Ok(sub) => sub,
        Err(resp) => return Ok(resp),
    };
    let found = sessions::of_subject(ctx.store, &sub, MAX_LISTED_SESSIONS, ctx.now).await?;
    let views: Vec<_> = found.iter().map(Session::view).collect();
    Ok(HttpResponse::json(200, &json!({ "sessions": views })))
}

async fn add_client<S: Store, N>(ctx: &Ctx<'_, S, N>, sid: &str, client_id: &str) -> Answer {
    let Some(mut session) = sessions::load(ctx.store, sid, ctx.now).await? else {
        return Ok(not_found("session"));
    };
    if let Some(resp) = check_clients(ctx, &[client_id.to_string()]).await? {
        return Ok(resp);
    }
    if !session.clients.iter().any(|c| c == client_id) {
        if session.clients.len() >= sessions::MAX_CLIENTS_PER_SESSION {
            return Ok(error(400, "invalid_request", "too many clients"));
        }
        session.clients.push(client_id.to_string());
        sessions::save(ctx.store, &session, false).await?;
    }
    Ok(HttpResponse::json(200, &session.view()))
}

/// Admin logout of one session: its relying parties are told, as for a user's own logout.
async fn end_session<S: Store, N: Platform>(ctx: &Ctx<'_, S, N>, sid: &str) -> Answer {
    let Some(session) = sessions::load(ctx.store, sid, ctx.now).await? else {
        return Ok(not_found("session"));
    };
    let event = LogoutEvent::Sessions(vec![session]);
    let ended =
        logout::end_sessions(ctx.store, ctx.platform, &event, ctx.config.backchannel.inline_max, Vec::new()).await?;
    Ok(HttpResponse::json(200, &json!({ "sessions_ended": [sid], "backchannel": ended.summary }))
        .with_log(json!({"event": "admin_logout", "sessions_ended": 1, "backchannel": ended.summary})))
}

/// Admin logout of every session of a user, [`SUBJECT_LOGOUT_PAGE`] sessions per request: while
/// the answer has a `cursor`, more sessions remain, and the caller asks again with it.
async fn end_subject<S: Store, N: Platform>(ctx: &Ctx<'_, S, N>, req: &HttpRequest) -> Answer {
    let sub = match subject_param(req) {
        Ok(sub) => sub,
        Err(resp) => return Ok(resp),
    };
    let cursor = match query_param(req, "cursor") {
        Ok(c) => c,
        Err(resp) => return Ok(resp),
    };
    let (found, next) = sessions::page_of_subject(ctx.store, &sub, SUBJECT_LOGOUT_PAGE, cursor, ctx.now).await?;
    let sids: Vec<String> = found.iter().map(|s| s.sid.clone()).collect();
    let event = LogoutEvent::Subject { sub, sessions: found };
    let ended =
        logout::end_sessions(ctx.store, ctx.platform, &event, ctx.config.backchannel.inline_max, Vec::new()).await?;
    let mut body = json!({ "sessions_ended": sids, "backchannel": ended.summary });
    if let Some(c) = next {
        body["cursor"] = c.into();
    }
    Ok(HttpResponse::json(200, &body)
        .with_log(json!({"event": "admin_logout", "sessions_ended": sids.len(), "backchannel": ended.summary})))
}

/// Deliveries that failed and will be retried (`status=failed`), or were given up (`dead`).
async fn list_deliveries<S: Store, N>(ctx: &Ctx<'_, S, N>, req: &HttpRequest) -> Answer {
    let status = match query_param(req, "status") {
        Ok(Some(s)) => match DeliveryStatus::parse(&s) {
            Some(status) => status,
            None => return Ok(error(400, "invalid_request", "status must be failed or dead")),
        },
        Ok(None) => {
            return Ok(error(400, "invalid_request", "the query parameter status (failed or dead) is required"))
        }
        Err(resp) => return Ok(resp),
    };
    let cursor = match query_param(req, "cursor") {
        Ok(c) => c,
        Err(resp) => return Ok(resp),
    };
    let page = ctx.store.list(Ns::Sessions, status.prefix(), cursor, CLIENT_PAGE).await?;
    let keys: Vec<String> = page.keys.into_iter().map(|l| l.key).collect();
    let records = ctx.store.get_many(Ns::Sessions, &keys).await?;
    let deliveries: Vec<_> = records
        .into_iter()
        .flatten()
        .filter_map(|r| serde_json::from_str::<DeliveryRecord>(&r).ok())
        .map(|rec| rec.view())
        .collect();
    Ok(HttpResponse::json(200, &json!({ "deliveries": deliveries, "cursor": page.cursor })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::tests::{request, with_app, TestApp};

    const TOKEN: &str = "Bearer test-admin-token-0123456789";

    fn admin(method: Method, path: &str, body: Option<Value>) -> HttpRequest {
        let mut r = request(method, path);
        r.headers.push(("authorization".into(), TOKEN.into()));
        if let Some(b) = body {
            r.headers.push(("content-type".into(), "application/json".into()));
            r.body = serde_json::to_vec(&b).unwrap();
        }
        r
    }

    fn body(r: &HttpResponse) -> Value {
        serde_json::from_slice(&r.body).unwrap()
    }

    fn rp(id: &str) -> Value {
        json!({
            "redirect_uris": [format!("https://{id}.example/cb")],
            "post_logout_redirect_uris": [format!("https://{id}.example/bye")],
            "client_name": id,
        })
    }

    #[test]
    fn clients_crud() {
        with_app(|app| async move {
            let r = app.call(admin(Method::Put, "/admin/clients/rp1", Some(rp("rp1")))).await;
            assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
            assert_eq!(body(&r)["client_id"], "rp1");
            let r = app.call(admin(Method::Put, "/admin/clients/rp1", Some(rp("rp1")))).await;
            assert_eq!(r.status, 200);
            app.call(admin(Method::Put, "/admin/clients/rp2", Some(rp("rp2")))).await;
            let r = app.call(admin(Method::Get, "/admin/clients/rp1", None)).await;
            assert_eq!(body(&r)["post_logout_redirect_uris"][0], "https://rp1.example/bye");
            let r = app.call(admin(Method::Get, "/admin/clients", None)).await;
            assert_eq!(body(&r)["clients"].as_array().unwrap().len(), 2);
            let r = app.call(admin(Method::Delete, "/admin/clients/rp1", None)).await;
            assert_eq!(r.status, 204);
            let r = app.call(admin(Method::Get, "/admin/clients/rp1", None)).await;
            assert_eq!(r.status, 404);
            assert_eq!(body(&r)["error"], "not_found");
            let r = app.call(admin(Method::Delete, "/admin/clients/rp1", None)).await;
            assert_eq!(r.status, 404);
        });
    }

    #[test]
    fn bad_requests_change_nothing() {
        with_app(|app| async move {
            app.call(admin(Method::Put, "/admin/clients/rp1", Some(rp("rp1")))).await;
            let before = app.store.snapshot();
            let mut bad_json = admin(Method::Put, "/admin/clients/rp1", None);
            bad_json.headers.push(("content-type".into(), "application/json".into()));
            bad_json.body = b"{\"redirect_uris\": [".to_vec();
            let r = app.call(bad_json).await;
            assert_eq!((r.status, body(&r)["error"].as_str()), (400, Some("invalid_client_metadata")));
            let r = app
                .call(admin(
                    Method::Put,
                    "/admin/clients/rp1",
                    Some(json!({"post_logout_redirect_uris": ["https://x/#f"]})),
                ))
                .await;
            assert_eq!(r.status, 400);
            let r = app
                .call(admin(Method::Post, "/admin/sessions", Some(json!({"sub": "alice", "clients": ["nope"]}))))
                .await;
            assert_eq!((r.status, body(&r)["error"].as_str()), (400, Some("invalid_request")));
            let r = app.call(admin(Method::Post, "/admin/sessions", Some(json!({"clients": ["rp1"]})))).await;
            assert_eq!(r.status, 400);
            let mut dup = admin(Method::Post, "/admin/sessions", None);
            dup.headers.push(("content-type".into(), "application/json".into()));
            dup.body = br#"{"sub": "alice", "sub": "mallory"}"#.to_vec();
            let r = app.call(dup).await;
            assert_eq!(r.status, 400);
            assert!(body(&r)["error_description"].as_str().unwrap().contains("duplicate"));
            let r = app.call(admin(Method::Post, "/admin/sessions", Some(json!({"sub": "a", "expires_in": 5})))).await;
            assert_eq!(r.status, 400);
            let r = app.call(admin(Method::Put, "/admin/sessions/nope/clients/rp1", None)).await;
            assert_eq!(r.status, 404);
            let mut no_auth = admin(Method::Put, "/admin/clients/rp9", Some(rp("rp9")));
            no_auth.headers.retain(|(n, _)| n != "authorization");
            assert_eq!(app.call(no_auth).await.status, 401);
            let mut wrong = admin(Method::Delete, "/admin/clients/rp1", None);
            wrong.headers[0].1 = "Bearer test-admin-token-0123456788".into();
            let r = app.call(wrong).await;
            assert_eq!(r.status, 401);
            assert!(r.header("www-authenticate").is_some());
            let mut basic = admin(Method::Delete, "/admin/clients/rp1", None);
            basic.headers[0].1 = "Basic test-admin-token-0123456789".into();
            assert_eq!(app.call(basic).await.status, 401);
            assert_eq!(app.store.snapshot(), before);
        });
    }

    #[test]
    fn sessions_lifecycle() {
        with_app(|app| async move {
            app.call(admin(Method::Put, "/admin/clients/rp1", Some(rp("rp1")))).await;
            app.call(admin(Method::Put, "/admin/clients/rp2", Some(rp("rp2")))).await;
            let r = app
                .call(admin(
                    Method::Post,
                    "/admin/sessions",
                    Some(json!({"sub": "alice", "clients": ["rp1"], "expires_in": 3600})),
                ))
                .await;
            assert_eq!(r.status, 201);
            let created = body(&r);
            let sid = created["sid"].as_str().unwrap().to_string();
            let cookie = created["cookie"].as_str().unwrap();
            assert_ne!(cookie, sid);
            assert!(cookie.len() >= 43);
            assert_eq!(created["expires_at"], app.now + 3600);
            // The cookie is stored only hashed.
            assert!(!app.store.snapshot().iter().any(|(_, k, v)| k.contains(cookie) || v.contains(cookie)));

            let r = app.call(admin(Method::Put, &format!("/admin/sessions/{sid}/clients/rp2"), None)).await;
            assert_eq!(body(&r)["clients"], json!(["rp1", "rp2"]));
            let r = app.call(admin(Method::Get, &format!("/admin/sessions/{sid}"), None)).await;
            assert_eq!(body(&r)["clients"], json!(["rp1", "rp2"]));
            assert!(body(&r).get("cookie").is_none() && body(&r).get("cookie_hash").is_none());

            app.call(admin(Method::Post, "/admin/sessions", Some(json!({"sub": "alice", "sid": "s-2"})))).await;
            app.call(admin(Method::Post, "/admin/sessions", Some(json!({"sub": "bob"})))).await;
            let r = app.call(admin(Method::Get, "/admin/sessions?sub=alice", None)).await;
            let listed = body(&r);
            let sids: Vec<&str> =
                listed["sessions"].as_array().unwrap().iter().map(|s| s["sid"].as_str().unwrap()).collect();
            assert_eq!(sids.len(), 2);
            assert!(sids.contains(&sid.as_str()) && sids.contains(&"s-2"));
            let r = app.call(admin(Method::Post, "/admin/sessions", Some(json!({"sub": "alice", "sid": "s-2"})))).await;
            assert_eq!(r.status, 409);
            assert_eq!(app.call(admin(Method::Get, "/admin/sessions", None)).await.status, 400);
        });
    }

    #[test]
    fn admin_logout_of_a_session_and_of_a_user() {
        with_app(|app| async move {
            app.call(admin(Method::Put, "/admin/clients/rp1", Some(rp("rp1")))).await;
            for sid in ["a1", "a2", "a3"] {
                let r = app
                    .call(admin(
                        Method::Post,
                        "/admin/sessions",
                        Some(json!({"sub": "alice", "sid": sid, "clients": ["rp1"]})),
                    ))
                    .await;
                assert_eq!(r.status, 201);
            }
            app.call(admin(Method::Post, "/admin/sessions", Some(json!({"sub": "bob", "sid": "b1"})))).await;
            let r = app.call(admin(Method::Delete, "/admin/sessions/a1", None)).await;
            assert_eq!((r.status, body(&r)["sessions_ended"].clone()), (200, json!(["a1"])));
            assert_eq!(app.call(admin(Method::Get, "/admin/sessions/a1", None)).await.status, 404);
            assert_eq!(app.call(admin(Method::Delete, "/admin/sessions/a1", None)).await.status, 404);
            let r = app.call(admin(Method::Delete, "/admin/sessions?sub=alice", None)).await;
            assert_eq!(body(&r)["sessions_ended"], json!(["a2", "a3"]));
            assert_eq!(app.call(admin(Method::Get, "/admin/sessions/a2", None)).await.status, 404);
            assert_eq!(app.call(admin(Method::Get, "/admin/sessions/b1", None)).await.status, 200);
            assert_eq!(app.call(admin(Method::Delete, "/admin/sessions", None)).await.status, 400);
            let events = app.notified.0.borrow();
            assert!(matches!(&events[0], LogoutEvent::Sessions(s) if s.len() == 1 && s[0].sid == "a1"));
            assert!(
                matches!(&events[1], LogoutEvent::Subject { sub, sessions } if sub == "alice" && sessions.len() == 2)
            );
        });
    }

    /// Subrequests of one request, counting every inline delivery at its worst (a failure).
    fn worst_subrequests(app: &TestApp) -> usize {
        let inline = app.notified.1.borrow().last().copied().unwrap_or(0);
        app.store.subrequests() + inline * crate::backchannel::SUBREQUESTS_PER_DELIVERY
    }

    #[test]
    fn admin_logout_of_many_sessions_goes_page_by_page_within_the_subrequest_limit() {
        with_app(|app| async move {
            let ids: Vec<String> = (0..3).map(|i| format!("rp{i}")).collect();
            for id in &ids {
                app.call(admin(Method::Put, &format!("/admin/clients/{id}"), Some(rp(id)))).await;
            }
            let mut sids: Vec<String> = Vec::new();
            for i in 0..45 {
                let r = app
                    .call(admin(
                        Method::Post,
                        "/admin/sessions",
                        Some(json!({"sub": "carol", "sid": format!("c{i:02}"), "clients": ids})),
                    ))
                    .await;
                assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
                sids.push(format!("c{i:02}"));
            }
            let (mut ended, mut pages, mut cursor) = (Vec::new(), 0, None::<String>);
            loop {
                let path = match &cursor {
                    None => "/admin/sessions?sub=carol".to_string(),
                    Some(c) => format!("/admin/sessions?sub=carol&cursor={}", crate::form::encode_component(c)),
                };
                let r = app.call(admin(Method::Delete, &path, None)).await;
                assert_eq!(r.status, 200);
                pages += 1;
                let worst = worst_subrequests(app);
                assert!(worst <= crate::backchannel::SUBREQUEST_LIMIT, "page {pages}: {worst} subrequests");
                let b = body(&r);
                let page: Vec<String> = serde_json::from_value(b["sessions_ended"].clone()).unwrap();
                assert!(page.len() <= SUBJECT_LOGOUT_PAGE);
                ended.extend(page);
                cursor = b["cursor"].as_str().map(str::to_string);
                if cursor.is_none() {
                    break;
                }
                assert!(pages < 10, "the pages do not end");
            }
            assert_eq!(pages, 3);
            ended.sort();
            assert_eq!(ended, sids, "every session ended exactly once");
            assert_eq!(
                body(&app.call(admin(Method::Get, "/admin/sessions?sub=carol", None)).await)["sessions"],
                json!([])
            );
            // A full page leaves room for one inline delivery; the rest are queued.
            assert_eq!(app.notified.1.borrow()[0], 1);
        });
    }

    #[test]
    fn a_logout_of_many_relying_parties_stays_within_the_subrequest_limit() {
        with_app(|app| async move {
            let ids: Vec<String> = (0..200).map(|i| format!("rp{i}")).collect();
            for id in &ids {
                app.call(admin(Method::Put, &format!("/admin/clients/{id}"), Some(rp(id)))).await;
            }
            let r = app
                .call(admin(Method::Post, "/admin/sessions", Some(json!({"sub": "dan", "sid": "d1", "clients": ids}))))
                .await;
            assert_eq!(r.status, 201);
            let r = app.call(admin(Method::Delete, "/admin/sessions/d1", None)).await;
            assert_eq!(r.status, 200);
            assert!(worst_subrequests(app) <= crate::backchannel::SUBREQUEST_LIMIT);
            assert_eq!(app.notified.1.borrow()[0], crate::backchannel::DEFAULT_INLINE_MAX);
        });
    }

    #[test]
    fn lists_failed_and_dead_deliveries() {
        with_app(|app| async move {
            use crate::backchannel::{after_failure, plan, record, BackchannelConfig, Outcome};
            let client: Client = serde_json::from_value(json!({
                "client_id": "rp1", "redirect_uris": [], "post_logout_redirect_uris": [],
                "backchannel_logout_uri": "https://rp1.example/bc", "backchannel_logout_session_required": true,
                "frontchannel_logout_session_required": false, "id_token_signed_response_alg": "RS256"
            }))
            .unwrap();
            let session = Session {
                sid: "s1".into(),
                sub: "alice".into(),
                clients: vec!["rp1".into()],
                created_at: 0,
                expires_at: app.now + 100,
                cookie_hash: String::new(),
            };
            let d = plan(&LogoutEvent::Sessions(vec![session]), &[client], || "d1".into()).remove(0);
            let cfg = BackchannelConfig::default();
            let next = after_failure(&cfg, &d, &Outcome::Retry { error: "HTTP 500".into(), after_s: None }).unwrap();
            record(&app.store, &next, app.now).await.unwrap();
            let r = app.call(admin(Method::Get, "/admin/deliveries?status=failed", None)).await;
            let listed = body(&r)["deliveries"].clone();
            assert_eq!(listed[0]["client_id"], "rp1");
            assert_eq!(listed[0]["sid"], "s1");
            assert_eq!(listed[0]["attempts"], 1);
            assert_eq!(listed[0]["last_error"], "HTTP 500");
            assert_eq!(listed[0]["next_attempt_at"], app.now + 10);
            let r = app.call(admin(Method::Get, "/admin/deliveries?status=dead", None)).await;
            assert_eq!(body(&r)["deliveries"], json!([]));
            assert_eq!(app.call(admin(Method::Get, "/admin/deliveries?status=x", None)).await.status, 400);
        });
    }

    #[test]
    fn admin_api_is_off_without_a_token() {
        let mut settings = crate::config::tests::settings();
        settings.remove("ADMIN_TOKEN");
        crate::app::tests::with_settings(settings, |app| async move {
            let r = app.call(admin(Method::Get, "/admin/clients", None)).await;
            assert_eq!(r.status, 404);
        });
    }
}
