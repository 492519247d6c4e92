//! `/admin/sessions`: the login system records sessions and the clients that got an ID token in
//! them; operators end one session or all of a user's.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::errors::{invalid, AdminError};
use super::{json_body, query_param, Answer};
use crate::budget::SUBJECT_LOGOUT_PAGE;
use crate::http::{HttpRequest, HttpResponse};
use crate::ports::{Ctx, Platform, Store};
use crate::protocol::logout;
use crate::protocol::logout::{Ending, LogoutEvent};
use crate::state::clients;
use crate::state::deliveries::EndReason;
use crate::state::secrets::random_token;
use crate::state::sessions::{self, Lookup, Session, MAX_CLIENTS_PER_SESSION, MAX_LOGOUT_HINTS, MAX_LOGOUT_HINT_LEN};
use crate::state::store::MIN_TTL_S;

const DEFAULT_SESSION_TTL_S: i64 = 24 * 3600;
const MAX_SESSION_TTL_S: i64 = 366 * 24 * 3600;
/// How many sessions of one subject the admin API lists.
const MAX_LISTED_SESSIONS: usize = 1000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewSession {
    sub: String,
    #[serde(default)]
    clients: Vec<String>,
    expires_in: Option<i64>,
    sid: Option<String>,
    /// What a `logout_hint` may name this user by besides `sub` (a login name, an email).
    #[serde(default)]
    logout_hints: Vec<String>,
}

/// A new expiry, from now.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewExpiry {
    expires_in: i64,
}

/// A session lifetime (`expires_in`) within what a session may live, or the 400 that says so.
fn checked_ttl(ttl: i64) -> Result<i64, AdminError> {
    if (MIN_TTL_S..=MAX_SESSION_TTL_S).contains(&ttl) {
        Ok(ttl)
    } else {
        Err(invalid(format!("expires_in must be between {MIN_TTL_S} and {MAX_SESSION_TTL_S} seconds")))
    }
}

/// Checks that every id names a registered client (one bulk read); the first that does not is
/// the error.
async fn check_clients(store: &impl Store, ids: &[String]) -> Result<(), AdminError> {
    let found = clients::read_many(store, ids).await?;
    match ids.iter().zip(found).find(|(_, c)| c.is_none()) {
        Some((id, _)) => Err(invalid(format!("unknown client {id:?}"))),
        None => Ok(()),
    }
}

pub async fn create<S: Store, N>(ctx: &Ctx<'_, S, N>, req: &HttpRequest) -> Answer {
    let input: NewSession = json_body(req)?;
    if !sessions::valid_sub(&input.sub) {
        return Err(invalid("sub must be 1 to 255 bytes without control characters"));
    }
    let ttl = checked_ttl(input.expires_in.unwrap_or(DEFAULT_SESSION_TTL_S))?;
    let mut client_ids: Vec<String> = Vec::new();
    for c in input.clients {
        if !client_ids.contains(&c) {
            client_ids.push(c);
        }
    }
    let hints_ok = |h: &String| !h.is_empty() && h.len() <= MAX_LOGOUT_HINT_LEN && !h.chars().any(char::is_control);
    if input.logout_hints.len() > MAX_LOGOUT_HINTS || !input.logout_hints.iter().all(hints_ok) {
        return Err(invalid(format!(
            "logout_hints must be at most {MAX_LOGOUT_HINTS} strings of 1 to {MAX_LOGOUT_HINT_LEN} bytes without control characters"
        )));
    }
    if client_ids.len() > MAX_CLIENTS_PER_SESSION {
        return Err(invalid("too many clients"));
    }
    check_clients(ctx.store, &client_ids).await?;
    let logout_hints: Vec<String> = input.logout_hints.iter().map(|h| sessions::keep_logout_hint(h)).collect();
    let (sid, named) = match input.sid {
        Some(sid) if !sessions::valid_sid(&sid) => {
            return Err(invalid("sid must be 1 to 128 visible ASCII characters without '/'"))
        }
        Some(sid) => match sessions::lookup(ctx.store, &sid, ctx.now).await? {
            Lookup::Live(existing) if existing.sub == input.sub => {
                return again(ctx, existing, &client_ids).await;
            }
            Lookup::Live(_) => return Err(AdminError::SessionExists),
            Lookup::Ended => return Err(AdminError::SessionEnded),
            Lookup::Unknown => (sid, true),
        },
        None => (random_token(16), false),
    };
    let (cookie, cookie_hash) = sessions::new_cookie(&ctx.config.cookie_key, &sid);
    let session = Session {
        sid,
        sub: input.sub,
        clients: client_ids,
        created_at: ctx.now,
        expires_at: ctx.now + ttl,
        cookie_hash,
        logout_hints,
    };
    if named {
        // The login system names the session: where a first creation is not seen yet, a second
        // one writes the record again (KV has no compare-and-swap). Its clients also get keys of
        // their own, which no later write replaces, so that neither creation's clients are lost.
        for id in &session.clients {
            sessions::add_member(ctx.store, &session, id).await?;
        }
    }
    sessions::save(ctx.store, &session, true).await?;
    Ok(created(ctx, 201, &session, &cookie))
}

/// The answer to a creation (one per login): serialised straight from the session, without a
/// JSON value built first. Members in the order `json!` wrote them (sorted), so the bytes are
/// the same as before.
#[derive(Serialize)]
struct Created<'a> {
    clients: &'a [String],
    cookie: &'a str,
    cookie_name: &'a str,
    expires_at: i64,
    sid: &'a str,
    sub: &'a str,
}

/// The answer to a creation: the session and a cookie for the browser.
fn created<S, N>(ctx: &Ctx<'_, S, N>, status: u16, session: &Session, cookie: &str) -> HttpResponse {
    let body = Created {
        clients: &session.clients,
        cookie,
        cookie_name: &ctx.config.cookie.name,
        expires_at: session.expires_at,
        sid: &session.sid,
        sub: &session.sub,
    };
    HttpResponse::json(status, &body)
}

/// A creation of a session that exists already, for the same user: its new clients are
/// recorded, and the browser gets a cookie of its own (signed, so it proves the session as the
/// first one does). 200, not 201.
async fn again<S: Store, N>(ctx: &Ctx<'_, S, N>, mut session: Session, client_ids: &[String]) -> Answer {
    session = sessions::with_members(ctx.store, session).await?;
    for id in client_ids {
        if !session.clients.contains(id) {
            sessions::add_member(ctx.store, &session, id).await?;
            session.clients.push(id.clone());
        }
    }
    let (cookie, _) = sessions::new_cookie(&ctx.config.cookie_key, &session.sid);
    Ok(created(ctx, 200, &session, &cookie))
}

/// A live session by `sid`: 404 when unknown or ended.
async fn live(store: &impl Store, sid: &str, now: i64) -> Result<Session, AdminError> {
    match sessions::lookup(store, sid, now).await? {
        Lookup::Live(s) => Ok(s),
        Lookup::Ended | Lookup::Unknown => Err(AdminError::NotFound("session")),
    }
}

/// A session with every client recorded in it.
pub async fn get<S: Store, N>(ctx: &Ctx<'_, S, N>, sid: &str) -> Answer {
    let session = sessions::with_members(ctx.store, live(ctx.store, sid, ctx.now).await?).await?;
    Ok(HttpResponse::json(200, &session.view()))
}

/// The `sub` query parameter, or the 400 that says it is missing.
fn subject_param(req: &HttpRequest) -> Result<String, AdminError> {
    match query_param(req, "sub")? {
        Some(sub) if sessions::valid_sub(&sub) => Ok(sub),
        _ => Err(invalid("the query parameter sub is required")),
    }
}

pub async fn list<S: Store, N>(ctx: &Ctx<'_, S, N>, req: &HttpRequest) -> Answer {
    let sub = subject_param(req)?;
    let found = sessions::of_subject(ctx.store, &sub, MAX_LISTED_SESSIONS, ctx.now).await?;
    // An ended session whose record this location still sees is not listed.
    let sids: Vec<&str> = found.iter().map(|s| s.sid.as_str()).collect();
    let ended = sessions::ended_among(ctx.store, &sids).await?;
    let views: Vec<_> = found.iter().zip(ended).filter(|(_, e)| !e).map(|(s, _)| s.view()).collect();
    Ok(HttpResponse::json(200, &json!({ "sessions": views })))
}

/// Records that `client_id` got an ID token in the session: its own key, never a rewrite of the
/// session record, so that concurrent recordings all stay. Refused once the session has ended
/// (409 `session_ended`). The answer lists the clients the session was created with and this
/// one; `GET /admin/sessions/{sid}` lists them all.
pub async fn add_client<S: Store, N>(ctx: &Ctx<'_, S, N>, sid: &str, client_id: &str) -> Answer {
    let mut session = changeable(ctx.store, sid, ctx.now).await?;
    check_clients(ctx.store, &[client_id.to_string()]).await?;
    if !session.clients.iter().any(|c| c == client_id) {
        sessions::add_member(ctx.store, &session, client_id).await?;
        session.clients.push(client_id.to_string());
    }
    Ok(HttpResponse::json(200, &session.view()))
}

/// A live session by `sid`, to be changed: 409 `session_ended` once it has ended (it stays
/// ended), 404 when unknown or expired.
async fn changeable(store: &impl Store, sid: &str, now: i64) -> Result<Session, AdminError> {
    match sessions::lookup(store, sid, now).await? {
        Lookup::Live(s) => Ok(s),
        Lookup::Ended => Err(AdminError::SessionEnded),
        Lookup::Unknown => Err(AdminError::NotFound("session")),
    }
}

/// Sets a live session's expiry to `expires_in` seconds from now, longer or shorter (sliding
/// sessions): its record, its subject index entry and its recorded clients are written again.
/// An ended session stays ended (409 `session_ended`). The answer is the session with every
/// client.
pub async fn extend<S: Store, N>(ctx: &Ctx<'_, S, N>, sid: &str, req: &HttpRequest) -> Answer {
    let input: NewExpiry = json_body(req)?;
    let ttl = checked_ttl(input.expires_in)?;
    let session = changeable(ctx.store, sid, ctx.now).await?;
    let session = sessions::set_expiry(ctx.store, session, ctx.now + ttl).await?;
    Ok(HttpResponse::json(200, &session.view()))
}

/// Admin logout of one session: its relying parties are told, as for a user's own logout.
/// A session this location does not see (yet) is ended where KV shows it: `202`, and it
/// converges as a user's logout does (see `protocol::logout::end_unseen`).
pub async fn end<S: Store, N: Platform>(ctx: &Ctx<'_, S, N>, sid: &str) -> Answer {
    let ending =
        Ending { reason: EndReason::AdminLogoutSession, initiator: None, events: ctx.config.session_events.as_ref() };
    let session = match sessions::lookup(ctx.store, sid, ctx.now).await? {
        Lookup::Live(s) => sessions::with_members(ctx.store, s).await?,
        Lookup::Ended => return Err(AdminError::NotFound("session")),
        Lookup::Unknown if !sessions::valid_sid(sid) => return Err(AdminError::NotFound("session")),
        Lookup::Unknown => {
            let unseen = logout::Unseen { sid, sub: None };
            logout::end_unseen(ctx.store, ctx.platform, unseen, ending, ctx.now).await?;
            return Ok(HttpResponse::json(202, &json!({ "sessions_ended": [], "pending": [sid] }))
                .with_log(json!({"event": "admin_logout", "sessions_ended": 0, "pending": 1})));
        }
    };
    let event = LogoutEvent::of(None, vec![session]);
    let inline_max = ctx.config.backchannel.inline_max;
    let ended = logout::end_sessions(ctx.store, ctx.platform, &event, ending, inline_max, Vec::new(), ctx.now).await?;
    Ok(HttpResponse::json(200, &json!({ "sessions_ended": [sid], "backchannel": ended.summary }))
        .with_log(json!({"event": "admin_logout", "sessions_ended": 1, "backchannel": ended.summary})))
}

/// Admin logout of every session of a user, [`SUBJECT_LOGOUT_PAGE`] sessions per request: while
/// the answer has a `cursor`, more sessions remain, and the caller asks again with it.
pub async fn end_subject<S: Store, N: Platform>(ctx: &Ctx<'_, S, N>, req: &HttpRequest) -> Answer {
    let sub = subject_param(req)?;
    let cursor = query_param(req, "cursor")?;
    let (found, next) = sessions::page_of_subject(ctx.store, &sub, SUBJECT_LOGOUT_PAGE, cursor, ctx.now).await?;
    let mut complete = Vec::with_capacity(found.len());
    for s in found {
        complete.push(sessions::with_members(ctx.store, s).await?);
    }
    let sids: Vec<String> = complete.iter().map(|s| s.sid.clone()).collect();
    let event = LogoutEvent::of(Some(sub), complete);
    let inline_max = ctx.config.backchannel.inline_max;
    let ending =
        Ending { reason: EndReason::AdminLogoutSubject, initiator: None, events: ctx.config.session_events.as_ref() };
    let ended = logout::end_sessions(ctx.store, ctx.platform, &event, ending, inline_max, Vec::new(), ctx.now).await?;
    let mut body = json!({ "sessions_ended": sids, "backchannel": ended.summary });
    if let Some(c) = next {
        body["cursor"] = c.into();
    }
    Ok(HttpResponse::json(200, &body)
        .with_log(json!({"event": "admin_logout", "sessions_ended": sids.len(), "backchannel": ended.summary})))
}
