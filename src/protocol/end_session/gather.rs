//! Gather: every read of a step, before anything is decided. From the request's own inputs
//! (parameters and cookies: `params::Inputs`): for a logout request the verified hint, for an answer what its token carries (checked, not spent); then the
//! browser's session through its cookies, on which the rest depends; then, joined, the session
//! the decision needs besides it ([`hint_sid_to_read`], [`recorded_sid_to_read`]) and, in one
//! bulk read, the client the step names with the first clients of the browser's session.
//! Nothing is written here.

use futures::future::join;

use super::errors::{redeemed, EndSessionError};
use super::hint::{self, VerifiedHint};
use super::params::{ConfirmAnswer, EndSessionRequest, Inputs, LogoutParams};
use crate::budget;
use crate::ports::{Ctx, Platform, Store};
use crate::state::clients::{self, Client};
use crate::state::confirmations::{self, Pending};
use crate::state::sessions::{self, BrowserSession, Lookup, Session};

/// The browser's session, as its cookies show it at this location (several sessions, none of
/// them the one at stake, are refused before anything is decided).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Browser {
    /// No cookie of ours, a forged or foreign one, or its session ended or expired.
    None,
    /// Its live session, seen here.
    Seen(Session),
    /// A session its signed cookie proves, which this location does not see (yet): the
    /// browser's session all the same.
    Unseen(String),
}

/// Everything a step read, for the decision.
pub enum Gathered<'i> {
    /// A logout request: its parameters, its verified hint (if any), whether that hint is
    /// recent enough to put a session at stake without the browser's cookie
    /// ([`hint_is_recent`]), and its reads.
    Request { params: &'i LogoutParams, hint: Option<VerifiedHint>, hint_recent: bool, reads: Reads },
    /// The user's answer on the confirmation page, what its token carries, and its reads.
    Answer { answer: &'i ConfirmAnswer, pending: Pending, reads: Reads },
}

/// The store's share of what a step read.
pub struct Reads {
    /// The browser's session (not read, [`Browser::None`], for an answer that ends nothing).
    pub browser: Browser,
    /// The session the step needs besides the browser's: the hint's, or the one a confirmation
    /// was shown for ([`Lookup::Unknown`] when the decision does not need it).
    pub session: Lookup,
    /// The registered clients among the one the step names and the first of the browser's
    /// session: the first names the page; a logout does not read them again.
    pub clients: Vec<Client>,
}

impl Gathered<'_> {
    /// The client the step names: the hint's, or the request's `client_id`, or the one the
    /// confirmation was shown for.
    pub fn client_id(&self) -> Option<&str> {
        match self {
            Gathered::Request { params, hint, .. } => {
                hint.as_ref().map(|h| h.client_id.as_str()).or(params.client_id.as_deref())
            }
            Gathered::Answer { pending, .. } => pending.client_id.as_deref(),
        }
    }

    /// That client, as the registry has it.
    pub fn client(&self) -> Option<&Client> {
        let id = self.client_id()?;
        self.reads().clients.iter().find(|c| c.client_id == id)
    }

    pub fn reads(&self) -> &Reads {
        match self {
            Gathered::Request { reads, .. } | Gathered::Answer { reads, .. } => reads,
        }
    }

    /// The languages the step asked for (the request's, or those its token carries).
    pub fn ui_locales(&self) -> Option<&str> {
        match self {
            Gathered::Request { params, .. } => params.ui_locales.as_deref(),
            Gathered::Answer { pending, .. } => pending.ui_locales.as_deref(),
        }
    }
}

/// Every read of the step `inputs` bring. A request: the hint first (the reads depend on the
/// client and the session it names). An answer: what its token carries first (checked here,
/// spent only once a "Log out" acts); "Stay signed in" reads no cookie: it ends nothing,
/// whatever the browser holds.
pub async fn gather<'i, S: Store, N: Platform>(
    ctx: &Ctx<'_, S, N>,
    inputs: &'i Inputs<'_>,
) -> Result<Gathered<'i>, EndSessionError> {
    match &inputs.request {
        Err(e) => Err(EndSessionError::BadRequest(e.clone())),
        Ok(EndSessionRequest::Logout(params)) => {
            let hint = verify_hint(ctx, params).await?;
            let client_id = hint.as_ref().map(|h| h.client_id.as_str()).or(params.client_id.as_deref());
            let hint_sid = hint.as_ref().and_then(|h| h.sid.as_deref());
            let hint_recent = hint.as_ref().is_some_and(|h| hint_is_recent(h, ctx.now, ctx.config.hint_max_age_s));
            let to_read = |b: &Browser| hint_sid_to_read(hint.as_ref(), hint_recent, b);
            let reads = reads(ctx, inputs, true, hint_sid, to_read, client_id).await?;
            Ok(Gathered::Request { params, hint, hint_recent, reads })
        }
        Ok(EndSessionRequest::Confirm(answer)) => {
            let key = &ctx.config.confirm_key;
            let pending = redeemed(confirmations::check(key, &answer.token, inputs.binding_cookie, ctx.now))?;
            let target_sid = pending.target_sid.as_str();
            let to_read = |b: &Browser| recorded_sid_to_read(answer.log_out, b, target_sid);
            let client_id = pending.client_id.as_deref();
            let reads = reads(ctx, inputs, answer.log_out, Some(target_sid), to_read, client_id).await?;
            Ok(Gathered::Answer { answer, pending, reads })
        }
    }
}

/// The store's reads of a step: first the browser's session (through its cookies, when
/// `read_cookies`; `prefer` picks among several), on which the rest depends; then, joined, the
/// session `session_to_read` names and, in one bulk read, the client `client_id` names with
/// the first clients of the browser's session (those a logout tells during the request, and
/// draws front-channel frames for).
async fn reads<'s, S: Store, N>(
    ctx: &Ctx<'_, S, N>,
    inputs: &Inputs<'_>,
    read_cookies: bool,
    prefer: Option<&str>,
    session_to_read: impl FnOnce(&Browser) -> Option<&'s str>,
    client_id: Option<&str>,
) -> Result<Reads, EndSessionError> {
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
    Ok(Reads { browser, session: session?, clients: clients? })
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

/// Whether `hint` may still put a session at stake without the browser's cookie: it expired
/// no more than `max_age_s` ago (`HINT_MAX_AGE_S`). An ID token outlives its use (logs, URL
/// fragments, a compromised relying party): an old one, sent without the session's cookie,
/// ends nothing, whatever the answer to a confirmation. It still names the client, so the
/// relying party gets its redirect; with the browser's cookie, the browser's session is at
/// stake whatever the hint's age (the decision's rule). A hint without `exp` (an ID token must
/// have one) counts as too old.
pub fn hint_is_recent(hint: &VerifiedHint, now: i64, max_age_s: i64) -> bool {
    hint.expires_at.is_some_and(|exp| now <= exp.saturating_add(max_age_s))
}

/// The `sid` whose session the decision needs besides the browser's: the hint's, when the
/// browser presents no session (its cookie was not sent with a cross-site request) and the hint
/// is `recent` enough to put one at stake ([`hint_is_recent`]). With a browser session, that
/// one is at stake, never the hint's.
pub fn hint_sid_to_read<'a>(hint: Option<&'a VerifiedHint>, recent: bool, browser: &Browser) -> Option<&'a str> {
    match browser {
        Browser::None if recent => hint?.sid.as_deref(),
        Browser::None | Browser::Seen(_) | Browser::Unseen(_) => None,
    }
}

/// The `sid` of the confirmation's recorded session, when the decision needs it: only when the
/// user agreed and the browser presents no session of its own but, perhaps, that one unseen.
pub fn recorded_sid_to_read<'a>(log_out: bool, browser: &Browser, recorded_sid: &'a str) -> Option<&'a str> {
    let needed = match browser {
        Browser::None => true,
        Browser::Unseen(sid) => sid == recorded_sid,
        Browser::Seen(_) => false,
    };
    (log_out && needed).then_some(recorded_sid)
}
