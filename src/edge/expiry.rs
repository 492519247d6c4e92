//! The cron's expiry step on the platform: [`crate::protocol::expiry::tick`] with this
//! worker's store, platform and settings, and its log record.

use serde_json::json;

use super::platform::EdgePlatform;
use crate::ports::Log;
use crate::protocol::expiry;

/// Ends what expired at `at` (unix seconds, the tick's time); the service calls it spent, which
/// the sweep does not spend again.
pub async fn tick(platform: &EdgePlatform<'_>, at: i64) -> usize {
    let config = platform.config;
    let events = config.session_events.as_ref();
    let inline_max = config.backchannel.inline_max;
    match expiry::tick(platform.store, platform, events, inline_max, at, expiry::TICK_BUDGET).await {
        Ok(done) => {
            if !done.ended.is_empty() || done.cleaned > 0 || !done.complete {
                platform.record(json!({"event": "expiry", "sessions_ended": done.ended.len(),
                    "cleaned": done.cleaned, "backchannel": done.summary, "subrequests": done.spent,
                    "complete": done.complete}));
            }
            done.spent
        }
        Err(e) => {
            platform.error(json!({"event": "expiry", "error": e.0}));
            // What it spent is not known: the sweep keeps to the rest of a whole expiry budget.
            expiry::TICK_BUDGET
        }
    }
}
