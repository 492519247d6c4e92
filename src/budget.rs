//! The subrequest budget of one invocation: what a request may spend on KV, fetch and queue
//! calls, and so how many relying parties it can tell itself. The one home of these figures;
//! `bench/lib/budget.mjs` reads them from this file.
//!
//! The figure is the Workers free plan's: 50 subrequests per request, where fetch and the calls
//! to KV and queue bindings all count; the paid plan allows 10,000
//! (developers.cloudflare.com/workers/platform/limits/, "Subrequests"). KV has a limit of its
//! own, 1,000 operations per invocation with a bulk read counting as one
//! (developers.cloudflare.com/kv/platform/limits/), which the 50 keep far below. Staying within
//! the free plan keeps every deployment working.

/// Subrequests (fetch, KV and queue calls) one invocation may make on the Workers free plan.
pub const SUBREQUEST_LIMIT: usize = 50;

/// Subrequests one inline delivery may cost: the POST and, if it fails, its record, the delete
/// of an earlier record and the queue (or dead-letter) send.
pub const SUBREQUESTS_PER_DELIVERY: usize = 4;

/// Deliveries one logout request makes itself at most (`BACKCHANNEL_INLINE_MAX`'s default);
/// fewer when the request cannot afford them, see [`affordable_inline`]. CPU is not the limit
/// (bench/: signing is WebCrypto's); the subrequests are: a logout by hint makes 1 KV read (the
/// session), 1 list (its recorded clients), 1 bulk read (the named client and the session's
/// clients), the re-check's queue send, the outbox's write and removal, the tombstone, 2 KV
/// deletes and 1 queue send for the overflow: 10, and 4 per inline delivery. The budget
/// allows 10 inline until the request has spent more; [`affordable_inline`] then allows fewer.
pub const DEFAULT_INLINE_MAX: usize = 10;

/// Sessions one `DELETE /admin/sessions?sub=` ends. Each costs a list (its recorded clients),
/// a tombstone and [`DELETES_PER_SESSION`] deletes: 10 of them, the listing, the two bulk reads,
/// the re-check's send, the outbox's write and removal and a queue send make 47 of the 50
/// subrequests (the deliveries then all go to the queue).
pub const SUBJECT_LOGOUT_PAGE: usize = 10;

/// KV deletes that ending one session makes (its record and its subject index entry).
pub const DELETES_PER_SESSION: usize = 2;

/// The most keys one KV bulk read takes; each bulk read is one subrequest.
pub const BULK_READ_MAX: usize = 100;

/// The most messages one queue `sendBatch` takes; each send is one subrequest.
pub const QUEUE_BATCH_MAX: usize = 100;

/// Subrequests one queued delivery may cost in the queue consumer: its retry record (is it
/// current), its client (its URI now), the POST, and on failure a record, a delete and a queue
/// send.
pub const QUEUED_DELIVERY_SUBREQUESTS: usize = 6;

/// Sessions one re-check message handles; the rest go on in a message of their own.
pub const RECHECK_SESSIONS_PER_MESSAGE: usize = 6;

/// Subrequests of one re-check message besides its sessions: the outbox read and its settling,
/// the late clients' bulk read and queue send, the message passing the rest on, the next round.
pub const RECHECK_SUBREQUESTS: usize = 6;

/// Subrequests of each session of a re-check: its record, its recorded clients (a list), and if
/// it is seen again its tombstone and 2 deletes.
pub const RECHECK_SUBREQUESTS_PER_SESSION: usize = 5;

/// Which of a consumer batch's messages (their costs in subrequests, in order) the invocation
/// handles itself: those that fit in [`SUBREQUEST_LIMIT`] with room kept to pass each of the
/// others on (one queue send each). The others are sent to the queue again, not retried, so that
/// no message runs out of the queue's retries for want of subrequests.
pub fn affordable_messages(costs: &[usize]) -> Vec<bool> {
    let mut spent = 0;
    costs
        .iter()
        .enumerate()
        .map(|(i, cost)| {
            // As if every later message were passed on: whatever follows still fits.
            let later = costs.len() - i - 1;
            let fits = spent + cost + later <= SUBREQUEST_LIMIT;
            spent += if fits { *cost } else { 1 };
            fits
        })
        .collect()
}

/// How many deliveries a request can still make itself, after `spent` subrequests, keeping room
/// for `deletes` more and for queueing up to `deliveries` (one send per [`QUEUE_BATCH_MAX`]):
/// never more than `inline_max`. What it cannot afford goes to the queue.
pub fn affordable_inline(spent: usize, deletes: usize, deliveries: usize, inline_max: usize) -> usize {
    let reserved = spent + deletes + deliveries.div_ceil(QUEUE_BATCH_MAX);
    (SUBREQUEST_LIMIT.saturating_sub(reserved) / SUBREQUESTS_PER_DELIVERY).min(inline_max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_deliveries_fit_the_subrequest_limit() {
        // A logout by hint: 3 reads spent, 2 deletes, 3 deliveries: all 10 allowed.
        assert_eq!(affordable_inline(3, 2, 3, DEFAULT_INLINE_MAX), 10);
        assert_eq!(affordable_inline(3, 2, 3, 4), 4);
        // Everything spent or reserved: none inline, all queued.
        assert_eq!(affordable_inline(3, 44, 60, DEFAULT_INLINE_MAX), 0);
        assert_eq!(affordable_inline(60, 0, 1, DEFAULT_INLINE_MAX), 0);
        // Worked out by hand from the budget (50; 4 per delivery; one queue send per 100
        // queued), not by the formula under test: (spent, deletes, deliveries) -> inline.
        for (spent, deletes, deliveries, inline) in [
            (0, 0, 0, 12),   // 50 / 4
            (3, 2, 3, 11),   // 50 - 6 = 44: 11 deliveries of 4
            (3, 2, 101, 10), // two queue sends: 50 - 7 = 43: 10 (40), not 11 (44)
            (10, 0, 500, 8), // five queue sends: 35 left: 8
            (45, 0, 1, 1),   // 46 reserved: 4 left, exactly one
            (46, 0, 1, 0),   // 47 reserved: 3 left, none
            (49, 2, 0, 0),   // over the limit already: none, no underflow
        ] {
            assert_eq!(
                affordable_inline(spent, deletes, deliveries, usize::MAX),
                inline,
                "{spent} {deletes} {deliveries}"
            );
        }
        // What it allows always fits, and more spent, reserved or queued never allows more.
        for spent in 0..60 {
            for deletes in [0, 2, 20, 40] {
                let mut before = usize::MAX;
                for deliveries in [0, 1, 99, 101, 500] {
                    let n = affordable_inline(spent, deletes, deliveries, usize::MAX);
                    let worst = spent + deletes + deliveries.div_ceil(100) + n * 4;
                    assert!(n == 0 || worst <= SUBREQUEST_LIMIT, "{spent} {deletes} {deliveries}: {n}");
                    assert!(n <= before, "{spent} {deletes} {deliveries}: more queued, more inline");
                    assert!(n >= affordable_inline(spent + 1, deletes, deliveries, usize::MAX));
                    assert!(n >= affordable_inline(spent, deletes + 1, deliveries, usize::MAX));
                    before = n;
                }
            }
        }
    }

    // A full page of `DELETE /admin/sessions?sub=` is measured, not computed from these
    // constants: admin/tests.rs, admin_logout_of_many_sessions_goes_page_by_page_within_the_subrequest_limit
    // counts the store's subrequests, the queue sends and the inline deliveries of each page.

    #[test]
    fn a_consumer_batch_takes_what_fits_and_passes_the_rest_on() {
        let recheck = RECHECK_SUBREQUESTS + RECHECK_SESSIONS_PER_MESSAGE * RECHECK_SUBREQUESTS_PER_SESSION;
        assert!(recheck < SUBREQUEST_LIMIT, "one full re-check always fits");
        let costs = [QUEUED_DELIVERY_SUBREQUESTS; 8];
        assert!(affordable_messages(&costs).iter().all(|f| *f), "a full batch of deliveries fits");
        let mixed = [recheck, recheck, QUEUED_DELIVERY_SUBREQUESTS];
        let run = affordable_messages(&mixed);
        assert_eq!(run, [true, false, true]);
        let spent: usize = mixed.iter().zip(&run).map(|(c, r)| if *r { *c } else { 1 }).sum();
        assert!(spent <= SUBREQUEST_LIMIT, "{spent}");
    }
}
