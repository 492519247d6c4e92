//! Act: every effect of a step's decision, once it is made. A "Log out" answer spends its
//! token (single use) before anything else; a logout ends its session through
//! `protocol::logout` (which writes, tells the relying parties and queues the rest); a
//! confirmation is signed into a fresh token, writing nothing (anyone can load the page, and
//! must not spend the daily KV writes). "Stay signed in" and a refusal write nothing.

use super::confirm;
use super::decision::{AnswerVerdict, Decision, Target, Verdict};
use super::errors::{redeemed, EndSessionError};
use super::gather::Gathered;
use super::params::Inputs;
use super::render::View;
use crate::ports::{Ctx, Platform, Store};
use crate::protocol::logout::{self, Ended, Ending};
use crate::state::clients::Client;
use crate::state::confirmations::{self, binding_value};
use crate::state::deliveries::EndReason;
use crate::ui::pages::WayBack;

/// Carries out `decision`, taken on what `gathered` read: what to show.
pub async fn act<S: Store, N: Platform>(
    ctx: &Ctx<'_, S, N>,
    inputs: &Inputs<'_>,
    gathered: &Gathered<'_>,
    decision: Decision<'_>,
) -> Result<View, EndSessionError> {
    let client = gathered.client();
    let client_id = gathered.client_id();
    // The clients already read: a logout does not read them again.
    let known = || gathered.reads().clients.clone();
    match decision {
        Decision::Request(Verdict::Reject(r)) => Err(EndSessionError::Refused(r)),
        Decision::Request(Verdict::Ask { sid, redirect }) => Ok(ask(ctx, inputs, gathered, client, sid, redirect)),
        Decision::Request(Verdict::LogOut { target, redirect }) => {
            log_out(ctx, target, client_id, redirect, known()).await
        }
        Decision::Answer { verdict: AnswerVerdict::StaySignedIn, .. } => {
            Ok(View::StillSignedIn { client_id: client_id.map(str::to_string), way_back: client.and_then(way_back) })
        }
        Decision::Answer { token, verdict: AnswerVerdict::LogOut { target, redirect } } => {
            spend(ctx, inputs, token).await?;
            log_out(ctx, target, client_id, redirect, known()).await
        }
        Decision::Answer { token, verdict: AnswerVerdict::AskAgain { sid, redirect } } => {
            spend(ctx, inputs, token).await?;
            Ok(ask(ctx, inputs, gathered, client, sid, redirect))
        }
    }
}

/// Marks the answered token used: refused when another answer spent it first.
async fn spend<S: Store, N>(ctx: &Ctx<'_, S, N>, inputs: &Inputs<'_>, token: &str) -> Result<(), EndSessionError> {
    let key = &ctx.config.confirm_key;
    redeemed(confirmations::redeem(ctx.store, key, token, inputs.binding_cookie, ctx.now).await?).map(drop)
}

/// Signs what the confirmation confirms into a fresh single-use token bound to this browser.
/// Writes nothing: showing the page must not spend KV writes (anyone can load it).
fn ask<S, N>(
    ctx: &Ctx<'_, S, N>,
    inputs: &Inputs<'_>,
    gathered: &Gathered<'_>,
    client: Option<&Client>,
    target_sid: &str,
    redirect: Option<String>,
) -> View {
    let binding = binding_value(inputs.binding_cookie);
    let client_id = client.map(|c| c.client_id.clone());
    let redirect_origin =
        redirect.as_deref().and_then(|r| url::Url::parse(r).ok()).map(|u| u.origin().ascii_serialization());
    let ui_locales = gathered.ui_locales().map(str::to_string);
    let pending = confirm::pending(&binding, target_sid, redirect, client_id.clone(), ui_locales, ctx.now);
    let token = confirmations::issue(&ctx.config.confirm_key, &pending);
    let client_name = client.map(|c| c.display_name().to_string());
    View::Confirm { client_id, client_name, token, redirect_origin, binding }
}

/// The way back to a client after "Stay signed in": its registered `client_uri`, never another.
fn way_back(client: &Client) -> Option<WayBack> {
    let uri = client.client_uri.clone()?;
    Some(WayBack { uri, client: client.display_name().to_string() })
}

/// Ends `target`, if any, telling its relying parties; `known` holds clients already read.
async fn log_out<S: Store, N: Platform>(
    ctx: &Ctx<'_, S, N>,
    target: Target<'_>,
    client_id: Option<&str>,
    redirect: Option<String>,
    known: Vec<Client>,
) -> Result<View, EndSessionError> {
    // A logout the user asked for, through `client_id` when it is named.
    let ending =
        Ending { reason: EndReason::RpLogout, initiator: client_id, events: ctx.config.session_events.as_ref() };
    let ended = match target {
        Target::Seen(s) => {
            let inline_max = ctx.config.backchannel.inline_max;
            logout::end_seen(ctx.store, ctx.platform, s.clone(), ending, inline_max, known, ctx.now).await?
        }
        Target::Unseen(unseen) => {
            logout::end_unseen(ctx.store, ctx.platform, unseen, ending, ctx.now).await?;
            Ended::default()
        }
        Target::Nothing => Ended::default(),
    };
    Ok(View::LoggedOut {
        client_id: client_id.map(str::to_string),
        ended: ended.sessions,
        clients: ended.clients,
        summary: ended.summary,
        redirect,
    })
}
