//! Prints the subrequest budget (src/budget.rs) as JSON, for bench/lib/budget.mjs: the figures,
//! and what a request spends, computed with the worker's own rule (`budget::affordable_inline`).
//!
//!   edge-logout-budget                      {"figures": {...}}
//!   edge-logout-budget logout:K:D admin:S:K:D ...
//!       and, per query, what one request spends: an RP-initiated logout whose session has K
//!       clients, D of them with a back-channel URI; a page of S sessions of an admin logout of a
//!       user, K clients, D deliveries.
//!
//! The counts per request follow the code that spends the budget (src/protocol/logout.rs
//! `end_sessions`, src/admin/sessions.rs), as the host tests in src/app.rs count its KV calls.

use std::process::ExitCode;

use edge_logout::budget::{self, Spend, BULK_READ_MAX, DEFAULT_INLINE_MAX, DELETES_PER_SESSION};
use serde_json::{json, Value};

/// A KV list returns at most this many keys.
const KV_LIST_MAX: usize = 1_000;

/// What one request spends: its KV calls by kind, its POSTs and queue sends, both budgets at
/// their worst (every inline delivery failing), and whether that fits the plan.
struct Request {
    kv_gets: usize,
    kv_gets_sequential: usize,
    kv_lists: usize,
    client_reads: usize,
    kv_puts: usize,
    kv_deletes: usize,
    /// Queue sends before the deliveries: the re-check.
    recheck_sends: usize,
    deliveries: usize,
}

impl Request {
    fn json(&self, extra: Value) -> Value {
        let spent = Spend::services(self.kv_gets + self.kv_lists + self.kv_puts + self.recheck_sends);
        // Reserved as end_sessions does: the deletes, the expansion's send and its fallback
        // record, and one send batch for the wave.
        let reserved = Spend::services(self.kv_deletes + 3);
        let inline = self.deliveries.min(budget::affordable_inline(budget::PLAN, spent, reserved, DEFAULT_INLINE_MAX));
        // What the wave does not take goes in one expansion message (the consumer's to plan and
        // queue), whatever its size: one per 100 KB of relying parties' ids, and one
        // `sendBatch` at most for the wave's own overflow (a client in several sessions).
        let queue_sends = self.recheck_sends + usize::from(self.deliveries > inline);
        let services = self.kv_gets + self.kv_lists + self.kv_puts + self.kv_deletes + queue_sends;
        // Each inline delivery's POST is already counted; at its worst it adds its failure's.
        let failures =
            if inline > 0 { budget::INLINE_ONCE + budget::INLINE_DELIVERY * inline } else { Spend::default() };
        let worst = Spend { fetches: inline, services: services + failures.services };
        let mut v = json!({
            "kvGets": self.kv_gets, "kvGetsSequential": self.kv_gets_sequential, "kvLists": self.kv_lists,
            "clientReads": self.client_reads, "kvPuts": self.kv_puts, "kvDeletes": self.kv_deletes,
            "fetches": inline, "queueSends": queue_sends, "services": services, "total": inline + services,
            "worst": {"fetches": worst.fetches, "services": worst.services},
            "fits": budget::PLAN.allows(worst),
        });
        if let (Some(v), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
            v.extend(extra.clone());
        }
        v
    }
}

/// An RP-initiated logout (hint and cookie): one bulk read (the session and its tombstone), one
/// list (its recorded clients), the clients in bulk reads (the named one among them), the outbox
/// and the tombstone written, the re-check sent, the session, its subject index and the outbox
/// deleted.
fn logout(k: usize, d: usize) -> Value {
    let reads = k.div_ceil(BULK_READ_MAX);
    Request {
        kv_gets: 1 + reads,
        kv_gets_sequential: 1,
        kv_lists: 1,
        client_reads: reads,
        kv_puts: 2,
        kv_deletes: DELETES_PER_SESSION + 1,
        recheck_sends: 1,
        deliveries: d,
    }
    .json(json!({"clientKeys": k}))
}

/// One page of an admin logout of a user: the subject's listing, the sessions in bulk reads, a
/// list per session (its recorded clients), the clients in bulk reads, the outbox and a tombstone
/// per session written, the re-check sent, the deletes and the outbox's removal.
fn admin(s: usize, k: usize, d: usize) -> Value {
    let session_reads = s.div_ceil(BULK_READ_MAX);
    let reads = k.div_ceil(BULK_READ_MAX);
    Request {
        kv_gets: session_reads + reads,
        kv_gets_sequential: session_reads,
        kv_lists: s.div_ceil(KV_LIST_MAX).max(1) + s,
        client_reads: reads,
        kv_puts: 1 + s,
        kv_deletes: DELETES_PER_SESSION * s + 1,
        recheck_sends: 1,
        deliveries: d,
    }
    .json(json!({"sessionKeys": s, "clientKeys": k}))
}

fn query(q: &str) -> Result<Value, String> {
    let mut parts = q.split(':');
    let kind = parts.next().unwrap_or_default();
    let n: Vec<usize> =
        parts.map(|p| p.parse().map_err(|_| format!("{q}: not a number: {p}"))).collect::<Result<_, _>>()?;
    match (kind, n.as_slice()) {
        ("logout", [k]) => Ok(logout(*k, *k)),
        ("logout", [k, d]) => Ok(logout(*k, *d)),
        ("admin", [s]) => Ok(admin(*s, 3, 3 * s)),
        ("admin", [s, k]) => Ok(admin(*s, *k, k * s)),
        ("admin", [s, k, d]) => Ok(admin(*s, *k, *d)),
        _ => Err(format!("{q}: expected logout:K[:D] or admin:S[:K[:D]]")),
    }
}

fn main() -> ExitCode {
    let mut out = serde_json::Map::new();
    out.insert("figures".into(), budget::figures());
    for q in std::env::args().skip(1) {
        match query(&q) {
            Ok(v) => {
                out.insert(q, v);
            }
            Err(e) => {
                eprintln!("edge-logout-budget: {e}");
                return ExitCode::from(2);
            }
        }
    }
    println!("{}", Value::Object(out));
    ExitCode::SUCCESS
}
