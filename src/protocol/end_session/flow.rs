//! One end-session request: parse → gather → decide → effect → render. The request's inputs
//! (parameters, cookies, JSON preference) are read once in [`Inputs`]; the language is
//! negotiated once, when the answer is rendered.

use serde_json::json;

use super::confirm;
use super::decision::{self, Answered, Decision, Facts, NamedClient};
use super::errors::EndSessionError;
use super::hint::{self, VerifiedHint};
use super::params::{self, ConfirmAnswer, EndSessionRequest, LogoutParams, ParamError};
use crate::http::cookies::{self, SameSite};
use crate::http::errors::ErrorTable;
use crate::http::{prefers_json, HttpRequest, HttpResponse};
use crate::ports::{Ctx, Platform, Store, Summary};
use crate::protocol::frontchannel::{self, Frames};
use crate::protocol::logout;
use crate::protocol::logout::{Ending, LogoutEvent};
use crate::state::clients::{self, Client};
use crate::state::confirmations::{self, binding_value, Redeemed};
use crate::state::deliveries::EndReason;
use crate::state::sessions::{self, BrowserSession, Lookup, Session};
use crate::ui::pages::{self, PageContext, WayBack};

/// What the request brings, read once.
struct Inputs<'r> {
    request: Result<EndSessionRequest, ParamError>,
    /// The provider's session cookie: every value sent (a sibling subdomain may have planted one).
    session_cookies: Vec<&'r str>,
    /// The cookie binding a confirmation to this browser.
    binding_cookie: Option<&'r str>,
    accept_language: Option<&'r str>,
    prefers_json: bool,
}

impl<'r> Inputs<'r> {
    fn read<S, N>(ctx: &Ctx<'_, S, N>, req: &'r HttpRequest) -> Self {
        let cookie = req.header("cookie");
        Inputs {
            request: params::parse(req),
            session_cookies: cookies::get_all(cookie, &ctx.config.cookie.name),
            binding_cookie: cookies::get(cookie, &confirm::binding_cookie_name(ctx.config)),
            accept_language: req.header("accept-language"),
            prefers_json: prefers_json(req.header("accept")),
        }
    }
}

/// What to show, once the effects are done.
enum View {
    Confirm {
        client_id: Option<String>,
        client_name: Option<String>,
        token: String,
        /// Where the confirmed logout may redirect: the form's CSP must allow it.
        redirect_origin: Option<String>,
        binding: String,
    },
    LoggedOut {
        client_id: Option<String>,
        sessions_ended: usize,
        summary: Summary,
        frames: Frames,
        redirect: Option<String>,
    },
    StillSignedIn {
        client_id: Option<String>,
        /// The client's registered `client_uri`, if it has one.
        way_back: Option<WayBack>,
    },
}

/// A view and the `ui_locales` it is rendered in.
struct Answer {
    view: View,
    ui_locales: Option<String>,
}

pub async fn handle<S: Store, N: Platform>(ctx: &Ctx<'_, S, N>, req: &HttpRequest) -> HttpResponse {
    let inputs = Inputs::read(ctx, req);
    let answer = match &inputs.request {
        Err(e) => Err((EndSessionError::BadRequest(e.clone()), None)),
        Ok(EndSessionRequest::Logout(p)) => start(ctx, &inputs, p).await.map_err(|e| (e, p.ui_locales.clone())),
        Ok(EndSessionRequest::Confirm(a)) => confirmed(ctx, &inputs, a).await.map_err(|e| (e, None)),
    };
    render(ctx, &inputs, answer)
}

/// The browser's session as its cookies show it: seen here, or proven by a signed cookie but not
/// seen yet (its `sid`), or none; when its cookies name several, the one `prefer` names (the
/// hint's, or the one a confirmation was shown for), else a refusal: which is the user's is
/// unknown.
async fn browser_session<S: Store, N>(
    ctx: &Ctx<'_, S, N>,
    inputs: &Inputs<'_>,
    prefer: Option<&str>,
) -> Result<(Option<Session>, Option<String>), EndSessionError> {
    let key = &ctx.config.cookie_key;
    match sessions::load_by_cookies(ctx.store, key, &inputs.session_cookies, prefer, ctx.now).await? {
        BrowserSession::None => Ok((None, None)),
        BrowserSession::One(s) => Ok((Some(s), None)),
        BrowserSession::Unseen(sid) => Ok((None, Some(sid))),
        BrowserSession::Ambiguous => Err(EndSessionError::AmbiguousCookie),
    }
}

async fn verify_hint<S, N: Platform>(
    ctx: &Ctx<'_, S, N>,
    p: &LogoutParams,
) -> Result<Option<VerifiedHint>, EndSessionError> {
    let Some(jwt) = &p.id_token_hint else { return Ok(None) };
    let c = ctx.config;
    hint::verify(&c.keys, ctx.platform, &c.issuer, jwt, p.client_id.as_deref(), ctx.now)
        .await
        .map(Some)
        .map_err(EndSessionError::BadHint)
}

/// The first step: gather the facts, decide, then log out or store a confirmation.
async fn start<S: Store, N: Platform>(
    ctx: &Ctx<'_, S, N>,
    inputs: &Inputs<'_>,
    p: &LogoutParams,
) -> Result<Answer, EndSessionError> {
    let hint = verify_hint(ctx, p).await?;
    let client_id = hint.as_ref().map(|h| h.client_id.as_str()).or(p.client_id.as_deref());
    let (browser, browser_unseen) = browser_session(ctx, inputs, hint.as_ref().and_then(|h| h.sid.as_deref())).await?;
    // One bulk read: the client the request names, and the clients of the browser's session,
    // which a logout tells (and then does not read again).
    let ids = clients::unique_ids(
        client_id.into_iter().chain(browser.iter().flat_map(|b| b.clients.iter().map(String::as_str))),
    );
    let loaded = if ids.is_empty() { Vec::new() } else { clients::load_many(ctx.store, &ids).await? };
    let client = client_id.and_then(|id| loaded.iter().find(|c| c.client_id == id));
    let named = match (client_id, client) {
        (None, _) => NamedClient::None,
        (Some(_), Some(c)) => NamedClient::Found(c),
        (Some(_), None) => NamedClient::Unknown,
    };
    // Without the browser's session, a hint long expired names its client only (point 13).
    let session_hint = decision::hint_for_sessions(hint.as_ref(), browser.as_ref(), ctx.now, ctx.config.hint_max_age_s);
    let hint_lookup = match decision::hint_sid_to_read(session_hint, browser.as_ref(), browser_unseen.as_deref()) {
        Some(sid) => sessions::lookup(ctx.store, sid, ctx.now).await?,
        None => Lookup::Unknown,
    };
    let hint_session_ended = hint_lookup == Lookup::Ended;
    let hint_session = match hint_lookup {
        Lookup::Live(s) => Some(s),
        Lookup::Ended | Lookup::Unknown => None,
    };
    let facts = Facts {
        params: p,
        hint: session_hint,
        client: named,
        browser: browser.as_ref(),
        browser_unseen: browser_unseen.as_deref(),
        hint_session: hint_session.as_ref(),
        hint_session_ended,
    };
    let view = match decision::decide(&facts) {
        Decision::Reject(r) => return Err(EndSessionError::Refused(r)),
        Decision::LogOut { target, redirect } => {
            if let Some(unseen) = decision::unseen_session(&facts) {
                let ending = rp_ending(ctx, client_id);
                logout::end_unseen(ctx.store, ctx.platform, unseen, ending, ctx.now).await?;
            }
            let client_id = client_id.map(str::to_string);
            log_out(ctx, target, client_id, redirect, loaded.clone()).await?
        }
        Decision::Confirm { target, redirect } | Decision::AskAgain { target, redirect } => {
            ask(ctx, inputs, p.ui_locales.clone(), client, &target.sid, redirect)
        }
        Decision::ConfirmUnseen { sid, redirect } => ask(ctx, inputs, p.ui_locales.clone(), client, &sid, redirect),
        Decision::StaySignedIn => {
            View::StillSignedIn { client_id: client_id.map(str::to_string), way_back: client.and_then(way_back) }
        }
    };
    Ok(Answer { view, ui_locales: p.ui_locales.clone() })
}

/// Signs what the confirmation confirms into a fresh single-use token bound to this browser.
/// Writes nothing: showing the page must not spend KV writes (anyone can load it).
fn ask<S, N>(
    ctx: &Ctx<'_, S, N>,
    inputs: &Inputs<'_>,
    ui_locales: Option<String>,
    client: Option<&Client>,
    target_sid: &str,
    redirect: Option<String>,
) -> View {
    let binding = binding_value(inputs.binding_cookie);
    let client_id = client.map(|c| c.client_id.clone());
    let redirect_origin =
        redirect.as_deref().and_then(|r| url::Url::parse(r).ok()).map(|u| u.origin().ascii_serialization());
    let pending = confirm::pending(&binding, target_sid, redirect, client_id.clone(), ui_locales, ctx.now);
    let token = confirmations::issue(&ctx.config.confirm_key, &pending);
    let client_name = client.map(|c| c.display_name().to_string());
    View::Confirm { client_id, client_name, token, redirect_origin, binding }
}

/// The user's answer: redeem the token, gather the sessions, decide, then log out or not.
async fn confirmed<S: Store, N: Platform>(
    ctx: &Ctx<'_, S, N>,
    inputs: &Inputs<'_>,
    answer: &ConfirmAnswer,
) -> Result<Answer, EndSessionError> {
    let key = &ctx.config.confirm_key;
    // "Stay signed in" changes nothing: checked, never marked used, so it writes nothing (a
    // script looping "load the page, answer no" must not spend the daily KV writes).
    let redeemed = if answer.log_out {
        confirmations::redeem(ctx.store, key, &answer.token, inputs.binding_cookie, ctx.now).await?
    } else {
        confirmations::check(key, &answer.token, inputs.binding_cookie, ctx.now)
    };
    let pending = match redeemed {
        Redeemed::Valid(p) => p,
        Redeemed::Invalid => return Err(EndSessionError::ConfirmationInvalid),
        Redeemed::OtherBrowser => return Err(EndSessionError::ConfirmationOtherBrowser),
    };
    let (browser, browser_unseen) = if answer.log_out {
        browser_session(ctx, inputs, Some(pending.target_sid.as_str())).await?
    } else {
        (None, None)
    };
    let recorded = match decision::recorded_sid_to_read(answer.log_out, browser.as_ref(), &pending.target_sid) {
        Some(sid) => sessions::load_live(ctx.store, sid, ctx.now).await?,
        None => None,
    };
    let answered = Answered {
        log_out: answer.log_out,
        target_sid: &pending.target_sid,
        browser: browser.as_ref(),
        browser_unseen: browser_unseen.as_deref(),
        recorded: recorded.as_ref(),
        redirect: pending.redirect.clone(),
    };
    let client_id = pending.client_id.clone();
    let view = match decision::decide_answer(&answered) {
        Decision::LogOut { target, redirect } => {
            if let Some(unseen) = decision::unseen_answered(&answered) {
                let ending = rp_ending(ctx, client_id.as_deref());
                logout::end_unseen(ctx.store, ctx.platform, unseen, ending, ctx.now).await?;
            }
            log_out(ctx, target, client_id, redirect, Vec::new()).await?
        }
        Decision::StaySignedIn => {
            let way_back = match &client_id {
                Some(id) => clients::load(ctx.store, id).await?.as_ref().and_then(way_back),
                None => None,
            };
            View::StillSignedIn { client_id, way_back }
        }
        Decision::AskAgain { target, redirect } => {
            // The client only names the page: its record is read on this rare path alone.
            let client = match &client_id {
                Some(id) => clients::load(ctx.store, id).await?,
                None => None,
            };
            ask(ctx, inputs, pending.ui_locales.clone(), client.as_ref(), &target.sid, redirect)
        }
        Decision::Reject(r) => return Err(EndSessionError::Refused(r)),
        Decision::Confirm { .. } | Decision::ConfirmUnseen { .. } => {
            unreachable!("an answer is decided by decide_answer, which never asks first")
        }
    };
    Ok(Answer { view, ui_locales: pending.ui_locales })
}

/// The way back to a client after "Stay signed in": its registered `client_uri`, never another.
fn way_back(client: &Client) -> Option<WayBack> {
    let uri = client.client_uri.clone()?;
    Some(WayBack { uri, client: client.display_name().to_string() })
}

/// Ends the session, if any, telling its relying parties; `known` holds clients already read.
/// Its clients recorded after login are listed here, once it is decided to end it: a page that
/// only asks spends no list.
async fn log_out<S: Store, N: Platform>(
    ctx: &Ctx<'_, S, N>,
    target: Option<Session>,
    client_id: Option<String>,
    redirect: Option<String>,
    known: Vec<Client>,
) -> Result<View, EndSessionError> {
    let ended: Vec<Session> = match target {
        Some(s) => vec![sessions::with_members(ctx.store, s).await?],
        None => Vec::new(),
    };
    let sessions_ended = ended.len();
    let event = LogoutEvent::Sessions(ended);
    let ending = rp_ending(ctx, client_id.as_deref());
    let inline_max = ctx.config.backchannel.inline_max;
    let result = logout::end_sessions(ctx.store, ctx.platform, &event, ending, inline_max, known, ctx.now).await?;
    let frames = frontchannel::frames(&ctx.config.issuer, event.sessions(), &result.clients);
    Ok(View::LoggedOut { client_id, sessions_ended, summary: result.summary, frames, redirect })
}

/// A logout the user asked for, through `client_id` when it is named.
fn rp_ending<'a, S, N>(ctx: &'a Ctx<'_, S, N>, client_id: Option<&'a str>) -> Ending<'a> {
    Ending { reason: EndReason::RpLogout, initiator: client_id, events: ctx.config.session_events.as_ref() }
}

/// The answer as a response, in the one language negotiated for it.
fn render<S, N>(
    ctx: &Ctx<'_, S, N>,
    inputs: &Inputs<'_>,
    answer: Result<Answer, (EndSessionError, Option<String>)>,
) -> HttpResponse {
    let ui_locales = match &answer {
        Ok(a) => a.ui_locales.as_deref(),
        Err((_, ui_locales)) => ui_locales.as_deref(),
    };
    let texts = ctx.config.languages.negotiate(ui_locales, inputs.accept_language);
    let page = PageContext { brand: &ctx.config.brand, texts };
    let t = page.texts;
    let view = match answer {
        Ok(a) => a.view,
        Err((e, _)) => {
            let response = if inputs.prefers_json {
                e.json()
            } else {
                pages::message(e.status(), &page, &t.error_title, e.text(t), e.detail().as_deref())
            };
            return response.with_log(e.log());
        }
    };
    match view {
        View::Confirm { client_id, client_name, token, redirect_origin, binding } => {
            let action = confirm::form_action(ctx.config);
            pages::confirm(&page, client_name.as_deref(), &action, &token, redirect_origin.as_deref())
                .append_header("set-cookie", &confirm::binding_cookie(ctx.config, &binding))
                .with_log(json!({"event": "logout", "result": "confirmation_shown", "client_id": client_id}))
        }
        View::StillSignedIn { client_id, way_back } => pages::still_signed_in(&page, way_back.as_ref())
            .with_log(json!({"event": "logout", "result": "cancelled", "client_id": client_id})),
        View::LoggedOut { client_id, sessions_ended, summary, frames, redirect } => {
            let response = if !frames.uris.is_empty() {
                let wait = ctx.config.frontchannel_timeout_ms;
                pages::frontchannel(&page, &frames.uris, &frames.origins, redirect.as_deref(), wait)
            } else if let Some(url) = &redirect {
                HttpResponse::see_other(url)
            } else {
                pages::message(200, &page, &t.signed_out_title, &t.signed_out_text, None)
            };
            let c = &ctx.config.cookie;
            let attrs = cookies::Attributes {
                path: &c.path,
                domain: c.domain.as_deref(),
                secure: c.secure,
                same_site: SameSite::Lax,
            };
            response.append_header("set-cookie", &cookies::clear(&c.name, &attrs)).with_log(json!({
                "event": "logout",
                "result": "logged_out",
                "client_id": client_id,
                "sessions_ended": sessions_ended,
                "backchannel": summary,
                "frontchannel_frames": frames.uris.len(),
                "redirect": redirect.is_some(),
            }))
        }
    }
}
