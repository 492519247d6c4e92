//! The end-session endpoint (OpenID Connect RP-Initiated Logout 1.0): reads the request,
//! gathers the facts (hint, client, sessions), applies [`decision::decide`], and answers with a
//! redirect, a confirmation page, a signed-out page or an error. Errors never redirect.

pub mod confirm;
pub mod decision;
pub mod hint;
pub mod params;

use serde_json::json;

use crate::admin::{load_clients, storage_failed};
use crate::app::Ctx;
use crate::backchannel::LogoutEvent;
use crate::clients::Client;
use crate::cookies::{self, SameSite};
use crate::frontchannel;
use crate::http::{prefers_json, HttpRequest, HttpResponse};
use crate::i18n::{self, Texts};
use crate::logout::{self, Platform};
use crate::pages::{self, PageContext};
use crate::router::END_SESSION_PATH;
use crate::sessions::{self, hash_secret, Session};
use crate::store::{Store, StoreError};

use confirm::{Pending, Redeemed, CONFIRM_TTL_S};
use decision::{Decision, Facts, NamedClient, Rejection};
use params::{ConfirmAnswer, EndSessionRequest, LogoutParams};

/// What kind of problem a refused request had: chooses the words of the error page.
#[derive(Debug, Clone, Copy, serde::Serialize)]
#[serde(rename_all = "snake_case")]
enum Problem {
    BadRequest,
    BadHint,
    UnknownClient,
    BadRedirect,
    Confirmation,
}

impl Problem {
    fn text(self, t: &Texts) -> &'static str {
        match self {
            Problem::BadRequest => t.error_bad_request,
            Problem::BadHint => t.error_bad_hint,
            Problem::UnknownClient => t.error_unknown_client,
            Problem::BadRedirect => t.error_bad_redirect,
            Problem::Confirmation => t.error_confirmation,
        }
    }
}

/// A refused request: 400, as an HTML page or as JSON when the client prefers it. The detail
/// says what was wrong in plain words (never which key or what was expected).
struct Refusal {
    problem: Problem,
    detail: String,
}

fn refuse(problem: Problem, detail: impl std::fmt::Display) -> Refusal {
    Refusal { problem, detail: detail.to_string() }
}

impl From<Rejection> for Refusal {
    fn from(r: Rejection) -> Self {
        let problem = match r {
            Rejection::UnknownClient => Problem::UnknownClient,
            Rejection::RedirectWithoutClient | Rejection::RedirectNotRegistered => Problem::BadRedirect,
        };
        refuse(problem, r)
    }
}

pub async fn handle<S: Store, N: Platform>(ctx: &Ctx<'_, S, N>, req: &HttpRequest) -> HttpResponse {
    let (outcome, ui_locales) = match params::parse(req) {
        Err(e) => (Ok(Err(refuse(Problem::BadRequest, e))), None),
        Ok(EndSessionRequest::Logout(p)) => (start(ctx, req, &p).await, p.ui_locales.clone()),
        Ok(EndSessionRequest::Confirm(answer)) => (confirmed(ctx, req, &answer).await, None),
    };
    let json = prefers_json(req.header("accept"));
    let page = page_context(ctx, req, ui_locales.as_deref());
    match outcome {
        Ok(Ok(response)) => response,
        Ok(Err(Refusal { problem, detail })) => {
            let log = json!({"event": "logout", "result": "refused", "problem": problem, "detail": detail});
            let response = if json {
                HttpResponse::json_error(400, "invalid_request", &detail)
            } else {
                pages::message(400, &page, page.texts.error_title, problem.text(page.texts), Some(&detail))
            };
            response.with_log(log)
        }
        Err(e) if json => storage_failed(&e),
        Err(e) => pages::message(503, &page, page.texts.error_title, page.texts.error_unavailable, None)
            .with_log(json!({"event": "storage_error", "error": e.0})),
    }
}

fn page_context<'a, S, N>(ctx: &'a Ctx<'_, S, N>, req: &HttpRequest, ui_locales: Option<&str>) -> PageContext<'a> {
    PageContext { brand: &ctx.config.brand, texts: i18n::negotiate(ui_locales, req.header("accept-language")) }
}

fn session_cookie<'a, S, N>(ctx: &'a Ctx<'_, S, N>) -> cookies::Attributes<'a> {
    let c = &ctx.config.cookie;
    cookies::Attributes { path: &c.path, domain: c.domain.as_deref(), secure: c.secure, same_site: SameSite::Lax }
}

/// The cookie that binds a confirmation to the browser it was shown to.
fn binding_cookie_name<S, N>(ctx: &Ctx<'_, S, N>) -> String {
    format!("{}_confirm", ctx.config.cookie.name)
}

async fn browser_session<S: Store, N>(ctx: &Ctx<'_, S, N>, req: &HttpRequest) -> Result<Option<Session>, StoreError> {
    match cookies::get(req.header("cookie"), &ctx.config.cookie.name) {
        Some(value) => sessions::load_by_cookie(ctx.store, value, ctx.now).await,
        None => Ok(None),
    }
}

type Outcome = Result<Result<HttpResponse, Refusal>, StoreError>;

async fn start<S: Store, N: Platform>(ctx: &Ctx<'_, S, N>, req: &HttpRequest, p: &LogoutParams) -> Outcome {
    let hint = match &p.id_token_hint {
        None => None,
        Some(jwt) => {
            match hint::verify(&ctx.config.keys, ctx.platform, &ctx.config.issuer, jwt, p.client_id.as_deref(), ctx.now)
                .await
            {
                Ok(h) => Some(h),
                Err(e) => return Ok(Err(refuse(Problem::BadHint, e))),
            }
        }
    };
    let client_id = hint.as_ref().map(|h| h.client_id.as_str()).or(p.client_id.as_deref());
    let browser = browser_session(ctx, req).await?;
    // One bulk read: the client the request names, and the clients of the browser's session,
    // which a logout tells (and then does not read again).
    let ids = crate::clients::unique_ids(
        client_id.into_iter().chain(browser.iter().flat_map(|b| b.clients.iter().map(String::as_str))),
    );
    let loaded = if ids.is_empty() { Vec::new() } else { load_clients(ctx.store, &ids).await? };
    let client = client_id.and_then(|id| loaded.iter().find(|c| c.client_id == id)).cloned();
    let named = match (client_id, &client) {
        (None, _) => NamedClient::None,
        (Some(_), Some(c)) => NamedClient::Found(c),
        (Some(_), None) => NamedClient::Unknown,
    };
    let hint_session = match hint.as_ref().and_then(|h| h.sid.as_deref().map(|sid| (sid, &h.sub))) {
        // Without a cookie, the hint's session is the one at stake: only when it is that user's.
        Some((sid, sub)) if browser.is_none() => {
            sessions::load(ctx.store, sid, ctx.now).await?.filter(|s| &s.sub == sub)
        }
        _ => None,
    };
    let facts = Facts {
        params: p,
        hint: hint.as_ref(),
        client: named,
        browser: browser.as_ref(),
        hint_session: hint_session.as_ref(),
    };
    match decision::decide(&facts) {
        Decision::Reject(r) => Ok(Err(r.into())),
        Decision::LogOut { target, redirect } => {
            let ended: Vec<Session> = target.into_iter().collect();
            log_out(ctx, req, &ended, client_id, redirect.as_deref(), p.ui_locales.as_deref(), loaded).await.map(Ok)
        }
        Decision::Confirm { target, redirect } => ask(ctx, req, p, client.as_ref(), &target, redirect).await,
    }
}

/// Shows the confirmation page, after storing what it confirms under a fresh single-use token
/// bound to this browser.
async fn ask<S: Store, N>(
    ctx: &Ctx<'_, S, N>,
    req: &HttpRequest,
    p: &LogoutParams,
    client: Option<&Client>,
    target: &Session,
    redirect: Option<String>,
) -> Outcome {
    let binding = confirm::binding_value(cookies::get(req.header("cookie"), &binding_cookie_name(ctx)));
    let client_id = client.map(|c| c.client_id.clone());
    let redirect_origin =
        redirect.as_deref().and_then(|r| url::Url::parse(r).ok()).map(|u| u.origin().ascii_serialization());
    let pending = Pending {
        binding: hash_secret(&binding),
        target_sid: target.sid.clone(),
        redirect,
        client_id: client_id.clone(),
        ui_locales: p.ui_locales.clone(),
        expires_at: ctx.now + CONFIRM_TTL_S,
    };
    let token = confirm::issue(ctx.store, &pending, ctx.now).await?;
    let action = format!("{}{END_SESSION_PATH}", ctx.config.base_path);
    let attrs = cookies::Attributes {
        path: &action,
        domain: None,
        secure: ctx.config.cookie.secure,
        same_site: SameSite::Strict,
    };
    let set_binding = cookies::set(&binding_cookie_name(ctx), &binding, CONFIRM_TTL_S, &attrs);
    let client_name = client.map(|c| c.client_name.as_deref().unwrap_or(&c.client_id));
    let page = page_context(ctx, req, p.ui_locales.as_deref());
    Ok(Ok(pages::confirm(&page, client_name, &action, &token, redirect_origin.as_deref())
        .append_header("set-cookie", &set_binding)
        .with_log(json!({"event": "logout", "result": "confirmation_shown", "client_id": client_id}))))
}

async fn confirmed<S: Store, N: Platform>(ctx: &Ctx<'_, S, N>, req: &HttpRequest, answer: &ConfirmAnswer) -> Outcome {
    let binding = cookies::get(req.header("cookie"), &binding_cookie_name(ctx));
    let pending = match confirm::redeem(ctx.store, &answer.token, binding, ctx.now).await? {
        Redeemed::Valid(p) => p,
        Redeemed::Invalid => {
            return Ok(Err(refuse(Problem::Confirmation, "the confirmation has expired or was already used")))
        }
        Redeemed::OtherBrowser => {
            return Ok(Err(refuse(Problem::Confirmation, "the confirmation was not issued to this browser")))
        }
    };
    let page = page_context(ctx, req, pending.ui_locales.as_deref());
    if !answer.log_out {
        let t = page.texts;
        return Ok(Ok(pages::message(200, &page, t.still_signed_in_title, t.still_signed_in_text, None)
            .with_log(json!({"event": "logout", "result": "cancelled", "client_id": pending.client_id}))));
    }
    // The browser's current session is the one that ends; the recorded one only when the
    // browser presents none (its cookie was not sent with the original cross-site request).
    let target = match browser_session(ctx, req).await? {
        Some(s) => Some(s),
        None => sessions::load(ctx.store, &pending.target_sid, ctx.now).await?,
    };
    let ended: Vec<Session> = target.into_iter().collect();
    let (client_id, redirect) = (pending.client_id.as_deref(), pending.redirect.as_deref());
    log_out(ctx, req, &ended, client_id, redirect, pending.ui_locales.as_deref(), Vec::new()).await.map(Ok)
}

/// Ends the sessions, clears the session cookie, and sends the user on: through the
/// front-channel page when relying parties of the ended sessions registered for it.
async fn log_out<S: Store, N: Platform>(
    ctx: &Ctx<'_, S, N>,
    req: &HttpRequest,
    ended: &[Session],
    client_id: Option<&str>,
    redirect: Option<&str>,
    ui_locales: Option<&str>,
    known_clients: Vec<Client>,
) -> Result<HttpResponse, StoreError> {
    let event = LogoutEvent::Sessions(ended.to_vec());
    let inline_max = ctx.config.backchannel.inline_max;
    let result = logout::end_sessions(ctx.store, ctx.platform, &event, inline_max, known_clients).await?;
    let page = page_context(ctx, req, ui_locales);
    let frames = frontchannel::frames(&ctx.config.issuer, ended, &result.clients);
    let response = if !frames.uris.is_empty() {
        pages::frontchannel(&page, &frames.uris, &frames.origins, redirect, ctx.config.frontchannel_timeout_ms)
    } else if let Some(url) = redirect {
        HttpResponse::see_other(url)
    } else {
        pages::message(200, &page, page.texts.signed_out_title, page.texts.signed_out_text, None)
    };
    let log = json!({
        "event": "logout",
        "result": "logged_out",
        "client_id": client_id,
        "sessions_ended": ended.len(),
        "backchannel": result.summary,
        "frontchannel_frames": frames.uris.len(),
        "redirect": redirect.is_some(),
    });
    Ok(response
        .append_header("set-cookie", &cookies::clear(&ctx.config.cookie.name, &session_cookie(ctx)))
        .with_log(log))
}

#[cfg(test)]
mod tests;
