//! What one invocation may spend on the platform, and so how many relying parties a request
//! tells itself, how many sessions a page of a user-wide logout ends, and how queue messages are
//! batched. The one home of these figures: `bench/lib/budget.mjs` takes them from
//! `edge-logout-budget` (src/bin/edge-logout-budget.rs), which prints [`figures`].
//!
//! Today's platform (checked 2026-12-07):
//! - Two subrequest budgets per invocation. On the free plan, 50 *external* subrequests (`fetch`)
//!   and 1,000 subrequests *to Cloudflare services* (KV, Queues, ...); on the paid plan 10,000
//!   by default in all, settable with `[limits] subrequests` (changelog 2026-02-11, "Workers are
//!   no longer limited to 1000 subrequests",
//!   https://developers.cloudflare.com/changelog/ ; the limits page,
//!   https://developers.cloudflare.com/workers/platform/limits/#subrequests).
//! - KV's own limit: 1,000 operations per invocation on either plan, a bulk read counting as one
//!   (https://developers.cloudflare.com/kv/platform/limits/).
//! - Six simultaneous open connections per invocation: `fetch`, KV and queue calls all count; a
//!   seventh waits for a slot, and a response body never read or cancelled keeps its slot
//!   (https://developers.cloudflare.com/workers/platform/limits/#simultaneous-open-connections).
//! - A queue `sendBatch` takes at most 100 messages and 256 KB in all, a message at most 128 KB,
//!   1 KB being 1,000 bytes and each message carrying up to ~100 bytes of metadata
//!   (https://developers.cloudflare.com/queues/platform/limits/).
//!
//! The worker runs within [`PLAN`], the free plan's limits: every deployment works. The paid
//! plan is modelled too ([`Plan::Paid`]) so that the tests show what it would allow.

use std::ops::{Add, Mul, Range};

/// External subrequests (`fetch`) per invocation on the free plan.
pub const FREE_EXTERNAL_SUBREQUESTS: usize = 50;
/// Subrequests to Cloudflare services (KV, Queues) per invocation on the free plan.
pub const FREE_SERVICE_SUBREQUESTS: usize = 1_000;
/// Subrequests per invocation on the paid plan unless `[limits] subrequests` says otherwise.
pub const PAID_DEFAULT_SUBREQUESTS: usize = 10_000;
/// KV operations per invocation, either plan (a bulk read counts as one). Queue calls are
/// counted here too, which only makes the model stricter.
pub const KV_OPERATIONS: usize = 1_000;
/// Simultaneous open connections per invocation: fetch, KV and queue calls together.
pub const CONNECTIONS: usize = 6;

/// What one invocation spends: two counters, because the platform has two budgets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Spend {
    /// External subrequests: `fetch` (a POST to a relying party or to the login system).
    pub fetches: usize,
    /// Subrequests to Cloudflare services: KV calls and queue sends.
    pub services: usize,
}

impl Spend {
    pub const fn fetches(n: usize) -> Spend {
        Spend { fetches: n, services: 0 }
    }
    pub const fn services(n: usize) -> Spend {
        Spend { fetches: 0, services: n }
    }
}

impl Add for Spend {
    type Output = Spend;
    fn add(self, o: Spend) -> Spend {
        Spend { fetches: self.fetches + o.fetches, services: self.services + o.services }
    }
}

impl Mul<usize> for Spend {
    type Output = Spend;
    fn mul(self, n: usize) -> Spend {
        Spend { fetches: self.fetches * n, services: self.services * n }
    }
}

/// A Workers plan, as far as an invocation's subrequests go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// 50 fetches and 1,000 service calls, each its own budget.
    Free,
    /// One budget for both (`[limits] subrequests`, 10,000 by default), and KV's 1,000.
    Paid { subrequests: usize },
}

/// The plan the worker budgets for.
pub const PLAN: Plan = Plan::Free;

impl Plan {
    /// Whether an invocation may spend `s`.
    pub fn allows(self, s: Spend) -> bool {
        match self {
            Plan::Free => s.fetches <= FREE_EXTERNAL_SUBREQUESTS && s.services <= FREE_SERVICE_SUBREQUESTS,
            Plan::Paid { subrequests } => s.fetches + s.services <= subrequests && s.services <= KV_OPERATIONS,
        }
    }
}

/// What one inline delivery may cost: its POST and, if it fails, its record, the delete of an
/// earlier record and the queue (or dead-letter) send.
pub const INLINE_DELIVERY: Spend = Spend { fetches: 1, services: 3 };

/// What a request that delivers inline may spend once besides: the sweep's marker
/// (`EdgePlatform::tell_the_sweep`), written at the first failure.
pub const INLINE_ONCE: Spend = Spend::services(1);

/// Deliveries one logout request makes itself at most (`BACKCHANNEL_INLINE_MAX`'s default):
/// two waves of [`CONNECTIONS`] POSTs, so that with the default per-delivery timeout (2.5 s)
/// even relying parties that all take the whole timeout are answered within the default
/// deadline for all of them (5 s); see config.rs's `a_default_logout_fits_its_deadline_in_waves`. The
/// subrequests allow more (50 fetches); [`affordable_inline`] allows fewer when a request has
/// spent its service calls.
pub const DEFAULT_INLINE_MAX: usize = 2 * CONNECTIONS;

/// Sessions one `DELETE /admin/sessions?sub=` ends. Subrequests no longer bind it (a full page
/// with 500 clients per session spends a fraction of the 1,000 service calls, see
/// admin/tests.rs `a_full_page_of_subject_logout_fits_both_budgets`); what does is the request's CPU (10 ms on
/// the free plan) and the re-check message, which carries every session's clients and must stay
/// under 128 KB. Kept at 10.
pub const SUBJECT_LOGOUT_PAGE: usize = 10;

/// KV deletes that ending one session makes (its record and its subject index entry).
pub const DELETES_PER_SESSION: usize = 2;

/// The most keys one KV bulk read takes; each bulk read is one service call.
pub const BULK_READ_MAX: usize = 100;

/// The most messages one queue `sendBatch` takes.
pub const QUEUE_BATCH_MAX: usize = 100;
/// The most bytes of one `sendBatch`, all messages together (256 KB, 1 KB = 1,000 bytes).
pub const QUEUE_BATCH_BYTES: usize = 256_000;
/// The most bytes of one message.
pub const QUEUE_MESSAGE_BYTES: usize = 128_000;
/// Bytes of metadata the queue may add to each message, counted against both byte limits.
pub const QUEUE_MESSAGE_OVERHEAD: usize = 100;

/// Messages one queue-consumer invocation is handed (`max_batch_size` in wrangler.toml, checked
/// by a test): the consumer attempts its deliveries at once, and no more than [`CONNECTIONS`]
/// POSTs may be open together without one waiting for a slot while its timeout runs.
pub const CONSUMER_BATCH: usize = CONNECTIONS;

/// What one queued delivery may cost its consumer: its retry record (is it current), its client
/// (its URI now), the POST, and on failure a record, a delete and a queue send.
pub const QUEUED_DELIVERY: Spend = Spend { fetches: 1, services: 5 };

/// Sessions one re-check message handles; the rest go on in a message of their own.
pub const RECHECK_SESSIONS_PER_MESSAGE: usize = 6;

/// What one re-check message costs besides its sessions: the outbox read and its settling, the
/// late clients' bulk read and queue send, the message passing the rest on, the next round.
pub const RECHECK: Spend = Spend::services(6);

/// What each session of a re-check costs: its record, its recorded clients (a list), and if it
/// is seen again its tombstone and 2 deletes.
pub const RECHECK_PER_SESSION: Spend = Spend::services(5);

/// Relying parties one expansion message plans (one bulk read of their clients); the rest are
/// passed on in one message (`protocol::logout::expand`).
pub const EXPAND_CLIENTS: usize = BULK_READ_MAX;

/// Deliveries one expansion message hands to the queue at most (a record and a message each).
pub const EXPAND_DELIVERIES: usize = 100;

/// What one expansion message may cost its consumer: the bulk read, a record per delivery, the
/// send batches of the deliveries (by bytes, at most two for 100 deliveries), the message
/// passing the rest on, and should something not be handed off its outbox record and the
/// sweep's marker.
pub const EXPANSION: Spend = Spend::services(1 + EXPAND_DELIVERIES + 2 + 1 + 2);

/// What passing a consumer message on costs (one queue send).
pub const PASS_ON: Spend = Spend::services(1);

/// Which of a consumer batch's messages (their costs, in order) the invocation handles itself
/// under `plan`: those that fit with room kept to pass each of the others on. The others are
/// sent to the queue again, not retried, so that no message runs out of the queue's retries for
/// want of subrequests.
pub fn affordable_messages(plan: Plan, costs: &[Spend]) -> Vec<bool> {
    let mut spent = Spend::default();
    costs
        .iter()
        .enumerate()
        .map(|(i, cost)| {
            // As if every later message were passed on: whatever follows still fits.
            let later = costs.len() - i - 1;
            let fits = plan.allows(spent + *cost + PASS_ON * later);
            spent = spent + if fits { *cost } else { PASS_ON };
            fits
        })
        .collect()
}

/// How many deliveries a request can still make itself under `plan`, after `spent`, keeping
/// `reserved` for what it must still do (deletes, the outbox's removal, the queue sends of all
/// its deliveries should none go inline): never more than `inline_max`. What it cannot afford
/// goes to the queue.
pub fn affordable_inline(plan: Plan, spent: Spend, reserved: Spend, inline_max: usize) -> usize {
    let base = spent + reserved;
    let fits = |n: usize| n == 0 || plan.allows(base + INLINE_ONCE + INLINE_DELIVERY * n);
    // `fits` holds up to some n and not after: the largest such n, by bisection.
    // No plan allows 10 M fetches (the paid plan's most): the bound keeps the bisection finite.
    let (mut lo, mut hi) = (0, inline_max.min(10_000_000));
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if fits(mid) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo
}

/// The bytes a message of `body` bytes counts for against the queue's limits.
pub fn queued_bytes(body: usize) -> usize {
    body + QUEUE_MESSAGE_OVERHEAD
}

/// Splits messages of the given body sizes, in order, into `sendBatch` calls that each hold at
/// most [`QUEUE_BATCH_MAX`] messages and [`QUEUE_BATCH_BYTES`] bytes. A message over
/// [`QUEUE_MESSAGE_BYTES`] goes alone (its send fails, and only it stays unsent).
pub fn send_batches(sizes: &[usize]) -> Vec<Range<usize>> {
    let mut batches = Vec::new();
    let (mut start, mut bytes, mut alone) = (0, 0, false);
    for (i, size) in sizes.iter().map(|s| queued_bytes(*s)).enumerate() {
        let oversize = size > QUEUE_MESSAGE_BYTES;
        let full = i - start == QUEUE_BATCH_MAX || bytes + size > QUEUE_BATCH_BYTES;
        if i > start && (full || oversize || alone) {
            batches.push(start..i);
            (start, bytes) = (i, 0);
        }
        bytes += size;
        alone = oversize;
    }
    if start < sizes.len() {
        batches.push(start..sizes.len());
    }
    batches
}

/// Every figure above, for `edge-logout-budget` (and so for bench/lib/budget.mjs).
pub fn figures() -> serde_json::Value {
    let spend = |s: Spend| serde_json::json!({"fetches": s.fetches, "services": s.services});
    serde_json::json!({
        "plan": "free",
        "free": {"externalSubrequests": FREE_EXTERNAL_SUBREQUESTS, "serviceSubrequests": FREE_SERVICE_SUBREQUESTS},
        "paid": {"defaultSubrequests": PAID_DEFAULT_SUBREQUESTS},
        "kvOperations": KV_OPERATIONS,
        "connections": CONNECTIONS,
        "inlineDelivery": spend(INLINE_DELIVERY),
        "inlineOnce": spend(INLINE_ONCE),
        "inlineMax": DEFAULT_INLINE_MAX,
        "subjectPage": SUBJECT_LOGOUT_PAGE,
        "deletesPerSession": DELETES_PER_SESSION,
        "bulkReadMax": BULK_READ_MAX,
        "queueBatchMax": QUEUE_BATCH_MAX,
        "queueBatchBytes": QUEUE_BATCH_BYTES,
        "queueMessageBytes": QUEUE_MESSAGE_BYTES,
        "consumerBatch": CONSUMER_BATCH,
        "queuedDelivery": spend(QUEUED_DELIVERY),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLANS: [Plan; 3] =
        [Plan::Free, Plan::Paid { subrequests: PAID_DEFAULT_SUBREQUESTS }, Plan::Paid { subrequests: 100 }];

    fn spends() -> impl Iterator<Item = Spend> {
        [0, 1, 7, 49, 50, 51, 200].into_iter().flat_map(|f| {
            [0, 3, 100, 900, 996, 1_000, 1_001].into_iter().map(move |s| Spend { fetches: f, services: s })
        })
    }

    #[test]
    fn the_free_plan_has_two_budgets_and_the_paid_plan_one_with_kvs_own() {
        assert!(Plan::Free.allows(Spend { fetches: 50, services: 1_000 }));
        assert!(!Plan::Free.allows(Spend { fetches: 51, services: 0 }), "the 51st fetch");
        assert!(!Plan::Free.allows(Spend { fetches: 0, services: 1_001 }), "the 1,001st KV or queue call");
        let paid = Plan::Paid { subrequests: PAID_DEFAULT_SUBREQUESTS };
        assert!(paid.allows(Spend { fetches: 9_000, services: 1_000 }));
        assert!(!paid.allows(Spend { fetches: 9_001, services: 1_000 }), "one budget in all");
        assert!(!paid.allows(Spend { fetches: 0, services: 1_001 }), "KV's own 1,000 operations");
    }

    #[test]
    fn inline_deliveries_never_exceed_either_budget_and_not_one_fewer_than_fits() {
        for plan in PLANS {
            for spent in spends() {
                for reserved in [Spend::default(), Spend::services(4), Spend::services(600), Spend::fetches(10)] {
                    for inline_max in [0, 1, 6, DEFAULT_INLINE_MAX, 40, 10_000] {
                        let n = affordable_inline(plan, spent, reserved, inline_max);
                        assert!(n <= inline_max);
                        let worst = |n: usize| spent + reserved + INLINE_ONCE + INLINE_DELIVERY * n;
                        if n > 0 {
                            assert!(plan.allows(worst(n)), "{plan:?} {spent:?} {reserved:?}: {n} inline overspend");
                        }
                        if n < inline_max {
                            assert!(!plan.allows(worst(n + 1)), "{plan:?} {spent:?} {reserved:?}: {n}, one more fits");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn on_the_free_plan_fetches_bind_inline_deliveries_not_kv() {
        // A logout that spent a few KV calls could make 50 POSTs, each with room for its failure
        // to be recorded and queued; the connections, not the subrequests, keep the default at
        // two waves.
        assert_eq!(affordable_inline(Plan::Free, Spend::services(10), Spend::services(5), usize::MAX), 50);
        assert_eq!(affordable_inline(Plan::Free, Spend::services(10), Spend::services(5), DEFAULT_INLINE_MAX), 12);
    }

    #[test]
    fn a_consumer_batch_takes_what_fits_and_passes_the_rest_on() {
        for plan in PLANS {
            for costs in [
                vec![QUEUED_DELIVERY; CONSUMER_BATCH],
                vec![QUEUED_DELIVERY; 100],
                vec![Spend::fetches(30), Spend::fetches(30), Spend::services(400), Spend::services(700)],
                vec![Spend::services(2_000), QUEUED_DELIVERY],
            ] {
                let run = affordable_messages(plan, &costs);
                let spent =
                    costs.iter().zip(&run).fold(Spend::default(), |a, (c, r)| a + if *r { *c } else { PASS_ON });
                assert!(plan.allows(spent), "{plan:?}: {spent:?} for {costs:?}");
                // Not one fewer than fits: a message passed on would not have fit where it was.
                for (i, r) in run.iter().enumerate() {
                    if !r {
                        let before = costs[..i]
                            .iter()
                            .zip(&run)
                            .fold(Spend::default(), |a, (c, r)| a + if *r { *c } else { PASS_ON });
                        let later = costs.len() - i - 1;
                        assert!(!plan.allows(before + costs[i] + PASS_ON * later), "{plan:?}: message {i} would fit");
                    }
                }
            }
        }
        // On the free plan a full batch of deliveries always runs whole.
        assert!(affordable_messages(PLAN, &[QUEUED_DELIVERY; CONSUMER_BATCH]).iter().all(|f| *f));
    }

    #[test]
    fn a_consumer_batch_of_expansions_runs_whole_on_the_free_plan() {
        // Six expansion messages of a large logout, each its bulk read, 100 records and sends.
        assert!(affordable_messages(PLAN, &[EXPANSION; CONSUMER_BATCH]).iter().all(|f| *f));
        let mixed = [EXPANSION, QUEUED_DELIVERY, EXPANSION, QUEUED_DELIVERY, EXPANSION, EXPANSION];
        assert!(affordable_messages(PLAN, &mixed).iter().all(|f| *f));
        assert_eq!(EXPANSION.fetches, 0, "an expansion POSTs nothing itself");
    }

    #[test]
    fn the_consumer_batch_in_wrangler_toml_is_the_budgets() {
        let toml = include_str!("../wrangler.toml");
        let batch: Vec<usize> = toml
            .lines()
            .filter_map(|l| l.trim().strip_prefix("max_batch_size"))
            .filter_map(|v| v.trim().trim_start_matches('=').trim().parse().ok())
            .collect();
        assert!(!batch.is_empty(), "wrangler.toml names max_batch_size");
        assert!(batch.iter().all(|b| *b == CONSUMER_BATCH), "{batch:?}");
    }

    #[test]
    fn send_batches_keep_every_limit_and_lose_no_message() {
        let cases: Vec<Vec<usize>> = vec![
            vec![],
            vec![10; 250],
            vec![2_000; 300],
            vec![127_900, 127_900, 127_900],
            vec![100_000, 50_000, 100_000, 10, 10],
            vec![5, 200_000, 5, 5],
            (0..400).map(|i| (i * 7_919) % 60_000).collect(),
        ];
        for sizes in cases {
            let batches = send_batches(&sizes);
            // In order, every message once.
            let flat: Vec<usize> = batches.iter().flat_map(|r| r.clone()).collect();
            assert_eq!(flat, (0..sizes.len()).collect::<Vec<_>>());
            for r in &batches {
                let bytes: usize = sizes[r.clone()].iter().map(|s| queued_bytes(*s)).sum();
                assert!(!r.is_empty() && r.len() <= QUEUE_BATCH_MAX, "{r:?}");
                let alone = r.len() == 1;
                assert!(bytes <= QUEUE_BATCH_BYTES || alone, "{r:?}: {bytes} bytes");
                assert!(alone || sizes[r.clone()].iter().all(|s| queued_bytes(*s) <= QUEUE_MESSAGE_BYTES));
            }
            // Not one batch more than needed: the first message of a batch could not have joined
            // the batch before it.
            for w in batches.windows(2) {
                let (prev, next) = (&sizes[w[0].clone()], queued_bytes(sizes[w[1].start]));
                let prev_bytes: usize = prev.iter().map(|s| queued_bytes(*s)).sum();
                let could_join = prev.len() < QUEUE_BATCH_MAX
                    && prev_bytes + next <= QUEUE_BATCH_BYTES
                    && next <= QUEUE_MESSAGE_BYTES
                    && prev.iter().all(|s| queued_bytes(*s) <= QUEUE_MESSAGE_BYTES);
                assert!(!could_join, "{w:?} could have gone in one batch");
            }
        }
    }

    #[test]
    fn figures_carry_what_the_bench_reads() {
        let f = figures();
        for key in ["connections", "inlineMax", "subjectPage", "deletesPerSession", "bulkReadMax", "consumerBatch"] {
            assert!(f[key].as_u64().is_some(), "{key}");
        }
        assert_eq!(f["free"]["externalSubrequests"], 50);
        assert_eq!(f["free"]["serviceSubrequests"], 1_000);
    }
}
