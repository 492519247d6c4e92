//! Act: every effect of a step's decision, once it is made. A "Log out" answer spends its
//! token (single use) before anything else; a logout ends its session through
//! `protocol::logout` (which writes, tells the relying parties and queues the rest); a
//! confirmation is signed into a fresh token, writing nothing (anyone can load the page, and
//! must not spend the daily KV writes). "Stay signed in" and a refusal write nothing.

use super::decision::{AnswerVerdict, Decision, Target, Verdict};
use super::errors::{redeemed, EndSessionError};
use super::gather::Gathered;
use super::params::Inputs;
use super::render::View;
use crate::ports::{Ctx, Platform, Store};
use crate::protocol::logout::{self, Ended, Ending};
use crate::state::clients::Client;
use crate::state::confirmations::{self, binding_value, Pending, CONFIRM_TTL_S};
use crate::state::deliveries::EndReason;
use crate::state::secrets::hash_secret;
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
    let pending = pending(&binding, target_sid, redirect, client_id.clone(), ui_locales, ctx.now);
    let token = confirmations::issue(&ctx.config.confirm_key, &pending);
    let client_name = client.map(|c| c.display_name().to_string());
    View::Confirm { client_id, client_name, token, redirect_origin, binding }
}

/// The most of `ui_locales` a token carries: the language is the first supported tag, and a
/// real list is a few tags long; the cap keeps the token within what the form may post back.
const MAX_UI_LOCALES_BYTES: usize = 256;

/// `ui_locales` cut to whole tags within [`MAX_UI_LOCALES_BYTES`].
fn capped_locales(ui_locales: Option<String>) -> Option<String> {
    let list = ui_locales?;
    if list.len() <= MAX_UI_LOCALES_BYTES {
        return Some(list);
    }
    let mut kept = String::new();
    for tag in list.split(' ').filter(|t| !t.is_empty()) {
        if kept.len() + tag.len() + 1 > MAX_UI_LOCALES_BYTES {
            break;
        }
        if !kept.is_empty() {
            kept.push(' ');
        }
        kept.push_str(tag);
    }
    Some(kept)
}

/// What the token carries for a confirmation shown at `now` for the session `target_sid`.
fn pending(
    binding: &str,
    target_sid: &str,
    redirect: Option<String>,
    client_id: Option<String>,
    ui_locales: Option<String>,
    now: i64,
) -> Pending {
    Pending {
        binding: hash_secret(binding),
        target_sid: target_sid.to_string(),
        redirect,
        client_id,
        ui_locales: capped_locales(ui_locales),
        expires_at: now + CONFIRM_TTL_S,
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::confirmations::{issue, MAX_TOKEN_BYTES};

    #[test]
    fn the_largest_confirmation_fits_a_token() {
        let redirect = format!("https://rp.example/{}?state={}", "p".repeat(1970), "%22".repeat(2048));
        let locales = "de-CH ".repeat(1400);
        let p = pending("b", "s".repeat(255).as_str(), Some(redirect), Some("c".repeat(255)), Some(locales), 0);
        assert!(p.ui_locales.as_ref().unwrap().len() <= MAX_UI_LOCALES_BYTES);
        assert!(p.ui_locales.as_ref().unwrap().starts_with("de-CH de-CH"));
        assert!(issue(&[0; 32], &p).len() <= MAX_TOKEN_BYTES);
        assert_eq!(capped_locales(Some("fr de".into())), Some("fr de".into()));
        assert_eq!(capped_locales(None), None);
    }
}
