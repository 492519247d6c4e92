//! The worker layer: the runtime's three events (a request, a queue batch, a cron tick), each
//! handed to the plain-Rust core ([`crate::app`], [`crate::protocol`]) with a [`Platform`]
//! made of the bindings, one file each: KV ([`kv`]), the queue ([`queue`]), post.js
//! ([`fetch`]), WebCrypto ([`signer`]), rate limits ([`ratelimit`]), the clock and console
//! ([`clock`]), composed in [`platform`]. No decision is made here.
//! May import anything of the crate's; nothing imports it.
//!
//! [`Platform`]: crate::ports::Platform
// The bench-memory build (bench/ only) leaves the KV calls unused; the default build is linted.
#![cfg_attr(feature = "bench-memory", allow(dead_code, unused_imports))]

#[cfg(feature = "bench-memory")]
mod bench_memory;
mod clock;
mod expiry;
mod fetch;
mod kv;
mod platform;
mod queue;
mod ratelimit;
mod request;
mod signer;

use std::cell::OnceCell;
use std::rc::Rc;

use serde_json::json;
use worker::worker_sys::web_sys;
use worker::{event, Context, Env, MessageBatch, Result, ScheduleContext, ScheduledEvent};

use self::kv::KvStores;
use self::platform::EdgePlatform;
use self::request::{read_request, write_response};
use crate::app;
use crate::budget;
use crate::config::{Config, ConfigError};
use crate::http::HttpResponse;
use crate::ports::{Ctx, Log};
use crate::protocol::backchannel::{dead_letter, retry};
use crate::protocol::{consumer, logout};

thread_local! {
    /// Parsed once per isolate: keys in particular are expensive to import.
    static CONFIG: OnceCell<std::result::Result<Rc<Config>, ConfigError>> = const { OnceCell::new() };
}

fn config(env: &Env) -> std::result::Result<Rc<Config>, ConfigError> {
    CONFIG.with(|cell| {
        cell.get_or_init(|| {
            Config::from_lookup(|name| {
                env.var(name).map(|v| v.to_string()).or_else(|_| env.secret(name).map(|v| v.to_string())).ok()
            })
            .map(Rc::new)
        })
        .clone()
    })
}

fn platform<'a>(config: &'a Config, stores: &'a KvStores, env: &Env) -> EdgePlatform<'a> {
    EdgePlatform::new(config, stores, env.queue("BACKCHANNEL_QUEUE").ok())
}

#[event(fetch)]
async fn fetch(req: web_sys::Request, env: Env, _ctx: Context) -> Result<web_sys::Response> {
    let config = match config(&env) {
        Ok(c) => c,
        Err(e) => {
            worker::console_error!("{e}");
            return write_response(HttpResponse::json_error(
                500,
                "server_error",
                &format!("edge-logout is misconfigured: {e}"),
            ));
        }
    };
    let request = match read_request(req).await {
        Ok(r) => r,
        Err(resp) => return write_response(resp),
    };
    let stores = KvStores::of(&env)?;
    ratelimit::remember(&env);
    let platform = platform(&config, &stores, &env);
    let started = clock::now_ms();
    let ctx = Ctx { config: &config, store: &stores, platform: &platform, now: clock::now() };
    let mut response = app::handle(&ctx, &request).await;
    let line = response.log.take().map(|mut log| {
        log["status"] = response.status.into();
        log["ms"] = clock::now_ms().saturating_sub(started).into();
        log
    });
    platform.flush_log(line);
    write_response(response)
}

/// A batch of the back-channel queue ([`consumer::consume`]) or of its dead-letter queue
/// ([`dead_letter::consume`]), each message then acked or retried as they say. Never returns an
/// error: in worker 0.8 that panics in the glue.
#[event(queue)]
async fn queue(batch: MessageBatch<String>, env: Env, _ctx: Context) -> Result<()> {
    let later = || worker::QueueRetryOptionsBuilder::new().with_delay_seconds(retry::CONSUMER_RETRY_MIN_S).build();
    let config = match config(&env) {
        Ok(c) => c,
        Err(e) => {
            worker::console_error!("{e}");
            batch.retry_all_with_options(&later());
            return Ok(());
        }
    };
    let Ok(stores) = KvStores::of(&env) else {
        batch.retry_all_with_options(&later());
        return Ok(());
    };
    let platform = platform(&config, &stores, &env);
    let messages = queue::messages(&batch);
    let received = queue::received(&messages);
    let settled = if batch.queue() == dead_letter_queue(&env) {
        dead_letter::consume(&stores, &platform, &platform, &received, clock::now()).await
    } else {
        consumer::consume(&config, &stores, &platform, &received, clock::now()).await
    };
    queue::settle(&messages, &settled);
    platform.flush_log(None);
    Ok(())
}

/// The name of the dead-letter queue (`DEAD_LETTER_QUEUE`, as in wrangler.toml's
/// `dead_letter_queue`).
fn dead_letter_queue(env: &Env) -> String {
    env.var("DEAD_LETTER_QUEUE").map(|v| v.to_string()).unwrap_or_else(|_| "edge-logout-backchannel-dlq".into())
}

/// The cron tick: ends the sessions that reached their expiry, as logouts
/// ([`crate::protocol::expiry`]); then [`logout::sweep`] re-queues retries whose queue message
/// was lost (see [`crate::state::deliveries::reissue_overdue`]) and sends again what logouts
/// left in the outbox, so that a failed queue send loses nothing, within what is left of the
/// tick's budget of service calls (the free plan's, [`budget::FREE_SERVICE_SUBREQUESTS`]: a
/// tick spends KV and queue calls, not fetches). Its clock is the tick's scheduled time (on the
/// platform, the cron's; `wrangler dev` takes `?time=` on its trigger URL, which lets a test run
/// the tick of half an hour later).
#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let Ok(config) = config(&env) else { return };
    let Ok(stores) = KvStores::of(&env) else { return };
    let platform = platform(&config, &stores, &env);
    let at = ((event.schedule() / 1000.0) as i64).max(clock::now());
    let spent = expiry::tick(&platform, at).await;
    let budget = budget::FREE_SERVICE_SUBREQUESTS.saturating_sub(spent);
    let grace = config.backchannel.sweep_grace_s;
    match logout::sweep(&stores, &platform, at, grace, budget, || clock::random(12)).await {
        Ok(swept) if swept.looked => platform.record(json!({"event": "sweep", "requeued": swept.requeued,
            "outbox_resent": swept.resent, "subrequests": swept.spent, "complete": swept.complete})),
        Ok(_) => {}
        Err(e) => platform.error(json!({"event": "sweep", "error": e.0})),
    }
    platform.flush_log(None);
}
