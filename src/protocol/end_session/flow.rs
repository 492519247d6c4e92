//! One end-session request, as the spec reads it, top-down once: **gather** every read the step
//! needs ([`gather`], from the request's inputs read once: the hint or the confirmation token, the browser's
//! session, the session at stake, the clients; the independent reads joined), **decide** in one
//! pure function ([`decision::decide`], each step with its own result type), **act** on the
//! decision ([`act`]: the token spent, the logout, or a fresh confirmation; nothing is written
//! before the decision) and **render** the response ([`render`]). Each is called once, here.

use super::act;
use super::decision;
use super::errors::EndSessionError;
use super::gather;
use super::params::Inputs;
use super::render::{self, Shown};
use crate::http::{HttpRequest, HttpResponse};
use crate::ports::{Ctx, Platform, Store};

pub async fn handle<S: Store, N: Platform>(ctx: &Ctx<'_, S, N>, req: &HttpRequest) -> HttpResponse {
    let inputs = Inputs::read(ctx.config, req);
    let shown: Result<Shown, EndSessionError> = async {
        let gathered = gather::gather(ctx, &inputs).await?;
        let decision = decision::decide(&gathered);
        let view = act::act(ctx, &inputs, &gathered, decision).await?;
        Ok(Shown { view, ui_locales: gathered.ui_locales().map(str::to_string) })
    }
    .await;
    render::render(ctx, &inputs, shown)
}
