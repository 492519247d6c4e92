//! One end-session request, as the spec reads it: parse, then each step (the request; the
//! user's answer on the confirmation page) **gathers** every read it needs at once ([`gather`]:
//! the reads that do not depend on each other are joined), **decides** in one pure function
//! (`decision::decide`, `decision::decide_answer`, each with its own result type), **acts**
//! (spends a confirmation token, ends the session through `protocol::logout`, or signs a fresh
//! confirmation; nothing is written before the decision) and **renders** the view in the one
//! language negotiated for it. The request's inputs (parameters, cookies, JSON preference) are
//! read once in [`Inputs`].

use futures::future::join;
use serde_json::json;

use super::confirm;
use super::decision::{self, AnswerVerdict, Answered, Browser, Facts, NamedClient, Target, Verdict};
use super::errors::EndSessionError;
use super::hint::{self, VerifiedHint};
use super::params::{self, ConfirmAnswer, EndSessionRequest, LogoutParams, ParamError};
use crate::budget;
use crate::http::cookies::{self, SameSite};
use crate::http::errors::ErrorTable;
use crate::http::{prefers_json, HttpRequest, HttpResponse};
use crate::ports::{Ctx, Platform, Store, Summary};
use crate::protocol::frontchannel::{self, Frames};
use crate::protocol::logout::{self, Ended, Ending, LogoutEvent};
use crate::state::clients::{self, Client};
use crate::state::confirmations::{self, binding_value, Pending, Redeemed};
use crate::state::deliveries::EndReason;
use crate::state::sessions::{self, BrowserSession, Lookup};
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

/// What to show, once the effects are done, with the cookies they set.
enum View {
    Confirm {
        client_id: Option<String>,
        client_name: Option<String>,
        token: String,
        /// Where the confirmed logout may redirect: the form's CSP must allow it.
        redirect_origin: Option<String>,
        /// The `Set-Cookie` binding the token to this browser.
        set_binding: String,
    },
    LoggedOut {
        client_id: Option<String>,
        sessions_ended: usize,
        summary: Summary,
        frames: Frames,
        redirect: Option<String>,
        /// The `Set-Cookie` clearing the session cookie.
        clear_session: String,
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

/// The request: gather (the hint, then the reads), decide, then log out or sign a confirmation.
async fn start<S: Store, N: Platform>(
    ctx: &Ctx<'_, S, N>,
    inputs: &Inputs<'_>,
    p: &LogoutParams,
) -> Result<Answer, EndSessionError> {
    // Gather. The hint first: the reads depend on the client and the session it names.
    let hint = verify_hint(ctx, p).await?;
    let hint = hint.as_ref();
    let client_id = hint.map(|h| h.client_id.as_str()).or(p.client_id.as_deref());
    let max_age = ctx.config.hint_max_age_s;
    let hint_sid = hint.and_then(|h| h.sid.as_deref());
    let read = |b: &Browser| decision::hint_sid_to_read(hint, b, ctx.now, max_age);
    let gathered = gather(ctx, inputs, true, hint_sid, read, client_id).await?;
    // Decide.
    let facts = Facts {
        params: p,
        hint,
        client: named(client_id, gathered.client(client_id)),
        browser: &gathered.browser,
        hint_session: &gathered.session,
        now: ctx.now,
        hint_max_age_s: max_age,
    };
    // Act.
    let view = match decision::decide(&facts) {
        Verdict::Reject(r) => return Err(EndSessionError::Refused(r)),
        Verdict::Ask { sid, redirect } => {
            ask(ctx, inputs, p.ui_locales.clone(), gathered.client(client_id), sid, redirect)
        }
        Verdict::LogOut { target, redirect } => {
            log_out(ctx, target, client_id, redirect, gathered.clients.clone()).await?
        }
    };
    Ok(Answer { view, ui_locales: p.ui_locales.clone() })
}

/// The user's answer: gather (the token, then the reads), decide, then spend the token and log
/// out or ask again, or else change nothing.
async fn confirmed<S: Store, N: Platform>(
    ctx: &Ctx<'_, S, N>,
    inputs: &Inputs<'_>,
    answer: &ConfirmAnswer,
) -> Result<Answer, EndSessionError> {
    // Gather. What the token carries first (checked here, spent only once a "Log out" acts);
    // "Stay signed in" reads no cookie: it ends nothing, whatever the browser holds.
    let key = &ctx.config.confirm_key;
    let pending = valid(confirmations::check(key, &answer.token, inputs.binding_cookie, ctx.now))?;
    let target_sid = pending.target_sid.as_str();
    let client_id = pending.client_id.as_deref();
    let read = |b: &Browser| decision::recorded_sid_to_read(answer.log_out, b, target_sid);
    let gathered = gather(ctx, inputs, answer.log_out, Some(target_sid), read, client_id).await?;
    // Decide.
    let answered = Answered {
        log_out: answer.log_out,
        target_sid,
        browser: &gathered.browser,
        recorded: &gathered.session,
        redirect: pending.redirect.clone(),
    };
    // Act. "Log out" spends the token (single use) before anything else, whether it then ends a
    // session or asks again; "Stay signed in" writes nothing (a script looping "load the page,
    // answer no" must not spend the daily KV writes).
    let client = gathered.client(client_id);
    let view = match decision::decide_answer(&answered) {
        AnswerVerdict::StaySignedIn => {
            View::StillSignedIn { client_id: client_id.map(str::to_string), way_back: client.and_then(way_back) }
        }
        AnswerVerdict::LogOut { target, redirect } => {
            spend(ctx, inputs, answer).await?;
            log_out(ctx, target, client_id, redirect, gathered.clients.clone()).await?
        }
        AnswerVerdict::AskAgain { sid, redirect } => {
            spend(ctx, inputs, answer).await?;
            ask(ctx, inputs, pending.ui_locales.clone(), client, sid, redirect)
        }
    };
    Ok(Answer { view, ui_locales: pending.ui_locales.clone() })
}

/// Everything a step reads, gathered before it decides.
struct Gathered {
    /// The browser's session (not read, [`Browser::None`], for an answer that ends nothing).
    browser: Browser,
    /// The session the step needs besides the browser's: the hint's, or the one a confirmation
    /// was shown for ([`Lookup::Unknown`] when the decision does not need it).
    session: Lookup,
    /// The registered clients among the one the request names and those of the browser's
    /// session: the first names the page; a logout does not read them again.
    clients: Vec<Client>,
}

impl Gathered {
    fn client(&self, client_id: Option<&str>) -> Option<&Client> {
        self.clients.iter().find(|c| Some(c.client_id.as_str()) == client_id)
    }
}

/// Every read of a step, at once: first the browser's session (through its cookies, when
/// `read_cookies`; `prefer` picks among several), on which the rest depends; then, joined, the
/// session `session_to_read` names and, in one bulk read, the client `client_id` names with
/// the first clients of the browser's session (those a logout tells during the request, and
/// draws front-channel frames for).
async fn gather<'s, S: Store, N>(
    ctx: &Ctx<'_, S, N>,
    inputs: &Inputs<'_>,
    read_cookies: bool,
    prefer: Option<&str>,
    session_to_read: impl FnOnce(&Browser) -> Option<&'s str>,
    client_id: Option<&str>,
) -> Result<Gathered, EndSessionError> {
    let browser = match read_cookies {
        true => browser_session(ctx, inputs, prefer).await?,
        false => Browser::None,
    };
    let (session, clients) = {
        let session = async {
            match session_to_read(&browser) {
                Some(sid) => sessions::lookup(ctx.store, sid, ctx.now).await,
                None => Ok(Lookup::Unknown),
            }
        };
        // The first of them only, as many as one bulk read takes: the request's work does not
        // grow with the relying parties (the logout's expansion reads the rest in the consumer).
        let browsers = match &browser {
            Browser::Seen(s) => &s.clients[..s.clients.len().min(budget::BULK_READ_MAX)],
            Browser::Unseen(_) | Browser::None => &[],
        };
        let mut ids = clients::unique_ids(client_id.into_iter().chain(browsers.iter().map(String::as_str)));
        ids.truncate(budget::BULK_READ_MAX);
        let clients = async {
            match ids.is_empty() {
                true => Ok(Vec::new()),
                false => clients::load_many(ctx.store, &ids).await,
            }
        };
        join(session, clients).await
    };
    Ok(Gathered { browser, session: session?, clients: clients? })
}

/// The browser's session as its cookies show it: seen here, or proven by a signed cookie but not
/// seen yet (its `sid`), or none; when its cookies name several, the one `prefer` names (the
/// hint's, or the one a confirmation was shown for), else a refusal: which is the user's is
/// unknown.
async fn browser_session<S: Store, N>(
    ctx: &Ctx<'_, S, N>,
    inputs: &Inputs<'_>,
    prefer: Option<&str>,
) -> Result<Browser, EndSessionError> {
    let key = &ctx.config.cookie_key;
    match sessions::load_by_cookies(ctx.store, key, &inputs.session_cookies, prefer, ctx.now).await? {
        BrowserSession::None => Ok(Browser::None),
        BrowserSession::One(s) => Ok(Browser::Seen(s)),
        BrowserSession::Unseen(sid) => Ok(Browser::Unseen(sid)),
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

/// The client the request names, as the registry has it.
fn named<'a>(client_id: Option<&str>, client: Option<&'a Client>) -> NamedClient<'a> {
    match (client_id, client) {
        (None, _) => NamedClient::None,
        (Some(_), Some(c)) => NamedClient::Found(c),
        (Some(_), None) => NamedClient::Unknown,
    }
}

/// What the token carries, or why it is refused.
fn valid(redeemed: Redeemed) -> Result<Pending, EndSessionError> {
    match redeemed {
        Redeemed::Valid(p) => Ok(p),
        Redeemed::Invalid => Err(EndSessionError::ConfirmationInvalid),
        Redeemed::OtherBrowser => Err(EndSessionError::ConfirmationOtherBrowser),
    }
}

/// Marks the answered token used: refused when another answer spent it first.
async fn spend<S: Store, N>(
    ctx: &Ctx<'_, S, N>,
    inputs: &Inputs<'_>,
    answer: &ConfirmAnswer,
) -> Result<(), EndSessionError> {
    let key = &ctx.config.confirm_key;
    valid(confirmations::redeem(ctx.store, key, &answer.token, inputs.binding_cookie, ctx.now).await?).map(drop)
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
    let set_binding = confirm::binding_cookie(ctx.config, &binding);
    View::Confirm { client_id, client_name, token, redirect_origin, set_binding }
}

/// The way back to a client after "Stay signed in": its registered `client_uri`, never another.
fn way_back(client: &Client) -> Option<WayBack> {
    let uri = client.client_uri.clone()?;
    Some(WayBack { uri, client: client.display_name().to_string() })
}

/// Ends `target`, if any, telling its relying parties; `known` holds clients already read. A
/// seen session's clients recorded after login are listed here, once it is decided to end it:
/// a page that only asks spends no list.
async fn log_out<S: Store, N: Platform>(
    ctx: &Ctx<'_, S, N>,
    target: Target<'_>,
    client_id: Option<&str>,
    redirect: Option<String>,
    known: Vec<Client>,
) -> Result<View, EndSessionError> {
    let ending = rp_ending(ctx, client_id);
    let (event, ended) = match target {
        Target::Seen(s) => {
            let event = LogoutEvent::Sessions(vec![sessions::with_members(ctx.store, s.clone()).await?]);
            let inline_max = ctx.config.backchannel.inline_max;
            let ended =
                logout::end_sessions(ctx.store, ctx.platform, &event, ending, inline_max, known, ctx.now).await?;
            (event, ended)
        }
        Target::Unseen(unseen) => {
            logout::end_unseen(ctx.store, ctx.platform, unseen, ending, ctx.now).await?;
            (LogoutEvent::Sessions(Vec::new()), Ended::default())
        }
        Target::Nothing => (LogoutEvent::Sessions(Vec::new()), Ended::default()),
    };
    let frames = frontchannel::frames(&ctx.config.issuer, event.sessions(), &ended.clients);
    Ok(View::LoggedOut {
        client_id: client_id.map(str::to_string),
        sessions_ended: event.sessions().len(),
        summary: ended.summary,
        frames,
        redirect,
        clear_session: cleared_session_cookie(ctx),
    })
}

/// The `Set-Cookie` that clears the browser's session cookie (the attributes it was set with).
fn cleared_session_cookie<S, N>(ctx: &Ctx<'_, S, N>) -> String {
    let c = &ctx.config.cookie;
    let attrs =
        cookies::Attributes { path: &c.path, domain: c.domain.as_deref(), secure: c.secure, same_site: SameSite::Lax };
    cookies::clear(&c.name, &attrs)
}

/// A logout the user asked for, through `client_id` when it is named.
fn rp_ending<'a, S, N>(ctx: &'a Ctx<'_, S, N>, client_id: Option<&'a str>) -> Ending<'a> {
    Ending { reason: EndReason::RpLogout, initiator: client_id, events: ctx.config.session_events.as_ref() }
}

/// The answer as a response, in the one language negotiated for it: the page or redirect, the
/// cookies the act set, the log line.
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
                let (text, detail) = (e.text(t), e.detail());
                pages::message(e.status(), &page, &t.error_title, text, detail.as_deref())
            };
            return response.with_log(e.log());
        }
    };
    match view {
        View::Confirm { client_id, client_name, token, redirect_origin, set_binding } => {
            let action = confirm::form_action(ctx.config);
            pages::confirm(&page, client_name.as_deref(), &action, &token, redirect_origin.as_deref())
                .append_header("set-cookie", &set_binding)
                .with_log(json!({"event": "logout", "result": "confirmation_shown", "client_id": client_id}))
        }
        View::StillSignedIn { client_id, way_back } => pages::still_signed_in(&page, way_back.as_ref())
            .with_log(json!({"event": "logout", "result": "cancelled", "client_id": client_id})),
        View::LoggedOut { client_id, sessions_ended, summary, frames, redirect, clear_session } => {
            let response = if !frames.uris.is_empty() {
                let wait = ctx.config.frontchannel_timeout_ms;
                pages::frontchannel(&page, &frames.uris, &frames.origins, redirect.as_deref(), wait)
            } else if let Some(url) = &redirect {
                HttpResponse::see_other(url)
            } else {
                pages::message(200, &page, &t.signed_out_title, &t.signed_out_text, None)
            };
            response.append_header("set-cookie", &clear_session).with_log(json!({
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
