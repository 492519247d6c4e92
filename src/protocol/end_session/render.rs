//! Render: what a step did, as a response in the one language negotiated for it: the page or
//! redirect, the cookies the act calls for, the log line. Reads and writes nothing.

use serde_json::json;

use super::confirm;
use super::errors::EndSessionError;
use super::params::Inputs;
use crate::http::cookies::{self, SameSite};
use crate::http::errors::ErrorTable;
use crate::http::HttpResponse;
use crate::ports::{Ctx, Summary};
use crate::protocol::backchannel::event::SessionEnd;
use crate::protocol::frontchannel;
use crate::state::clients::Client;
use crate::ui::pages::{self, PageContext, WayBack};

/// What to show, once the act is done.
pub enum View {
    Confirm {
        client_id: Option<String>,
        client_name: Option<String>,
        token: String,
        /// Where the confirmed logout may redirect: the form's CSP must allow it.
        redirect_origin: Option<String>,
        /// The value binding the token to this browser (its cookie is set with the page).
        binding: String,
    },
    LoggedOut {
        client_id: Option<String>,
        /// The sessions ended, and the registered clients among theirs (their front-channel
        /// frames).
        ended: Vec<SessionEnd>,
        clients: Vec<Client>,
        summary: Summary,
        redirect: Option<String>,
    },
    StillSignedIn {
        client_id: Option<String>,
        /// The client's registered `client_uri`, if it has one.
        way_back: Option<WayBack>,
    },
}

/// A view and the `ui_locales` it is rendered in.
pub struct Shown {
    pub view: View,
    pub ui_locales: Option<String>,
}

/// The response to a step: `shown`, or the error that stopped it (never a redirect).
pub fn render<S, N>(ctx: &Ctx<'_, S, N>, inputs: &Inputs<'_>, shown: Result<Shown, EndSessionError>) -> HttpResponse {
    let ui_locales = match &shown {
        Ok(s) => s.ui_locales.as_deref(),
        Err(_) => inputs.error_locales(),
    };
    let texts = ctx.config.languages.negotiate(ui_locales, inputs.accept_language);
    let page = PageContext { brand: &ctx.config.brand, texts };
    let t = page.texts;
    let view = match shown {
        Ok(s) => s.view,
        Err(e) => {
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
        View::Confirm { client_id, client_name, token, redirect_origin, binding } => {
            let action = confirm::form_action(ctx.config);
            pages::confirm(&page, client_name.as_deref(), &action, &token, redirect_origin.as_deref())
                .append_header("set-cookie", &confirm::binding_cookie(ctx.config, &binding))
                .with_log(json!({"event": "logout", "result": "confirmation_shown", "client_id": client_id}))
        }
        View::StillSignedIn { client_id, way_back } => pages::still_signed_in(&page, way_back.as_ref())
            .with_log(json!({"event": "logout", "result": "cancelled", "client_id": client_id})),
        View::LoggedOut { client_id, ended, clients, summary, redirect } => {
            // Clears the browser's session cookie, with the attributes it was set with.
            let c = &ctx.config.cookie;
            let same_site = SameSite::Lax;
            let attrs = cookies::Attributes { path: &c.path, domain: c.domain.as_deref(), secure: c.secure, same_site };
            let clear_session = cookies::clear(&c.name, &attrs);
            let frames = frontchannel::frames(&ctx.config.issuer, &ended, &clients);
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
                "sessions_ended": ended.len(),
                "backchannel": summary,
                "frontchannel_frames": frames.uris.len(),
                "redirect": redirect.is_some(),
            }))
        }
    }
}
