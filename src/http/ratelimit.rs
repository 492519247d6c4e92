//! Rate limits on what an anonymous caller can repeat cheaply: answers to the confirmation page
//! and admin calls that fail authentication. The worker asks the Workers Rate Limiting binding
//! (https://developers.cloudflare.com/workers/runtime-apis/bindings/rate-limit/: a limit per
//! `period` of 10 or 60 s, counted per Cloudflare location, the same figures as in
//! `wrangler.toml`'s `[[ratelimits]]`); where the binding is absent, it counts in the isolate
//! with [`LocalLimiter`], which the host tests drive through `ports::Platform::over_limit`.
//! An answer over the limit is a 429 with `Retry-After` and changes nothing.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// What is counted, each with its own limit and binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Bucket {
    /// POSTs of the confirmation page's answer ("Log out" or "Stay signed in").
    EndSessionAnswer,
    /// Admin calls whose bearer token is missing or wrong (a correct token is never limited).
    AdminAuthFailure,
}

/// The window of every limit, in seconds: one of the two periods the binding accepts.
pub const PERIOD_S: i64 = 60;

impl Bucket {
    /// The rate-limiting binding's name in `wrangler.toml`.
    pub const fn binding(self) -> &'static str {
        match self {
            Bucket::EndSessionAnswer => "END_SESSION_ANSWER_LIMITER",
            Bucket::AdminAuthFailure => "ADMIN_AUTH_LIMITER",
        }
    }

    /// Requests per client and [`PERIOD_S`]: a person answers a confirmation a few times a
    /// minute at most; an operator's client mistypes its token far less often.
    pub const fn limit(self) -> u32 {
        match self {
            Bucket::EndSessionAnswer => 20,
            Bucket::AdminAuthFailure => 10,
        }
    }
}

/// Who a request is counted against: the address Cloudflare saw (`CF-Connecting-IP`, which a
/// client cannot set through Cloudflare), or one shared key when there is none (local runs).
pub fn client_key(connecting_ip: Option<&str>) -> String {
    match connecting_ip.map(str::trim).filter(|ip| !ip.is_empty()) {
        Some(ip) => ip.chars().take(64).collect(),
        None => "unknown".into(),
    }
}

/// Fixed-window counters per bucket and client, in memory: what an isolate enforces alone when
/// the worker has no rate-limiting binding. Bounded: past [`LocalLimiter::CAPACITY`] clients,
/// counters of windows gone by are dropped first, then the oldest.
pub struct LocalLimiter {
    windows: Mutex<BTreeMap<(Bucket, String), (i64, u32)>>,
}

impl Default for LocalLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl LocalLimiter {
    const CAPACITY: usize = 10_000;

    pub const fn new() -> Self {
        LocalLimiter { windows: Mutex::new(BTreeMap::new()) }
    }

    /// Counts one request of `bucket` from `client` at `now`: `None` while within the limit,
    /// else `Some(seconds)` until its window ends (the `Retry-After`).
    pub fn hit(&self, bucket: Bucket, client: &str, now: i64) -> Option<u32> {
        let window = now.div_euclid(PERIOD_S);
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() >= Self::CAPACITY {
            windows.retain(|_, (w, _)| *w == window);
            if windows.len() >= Self::CAPACITY {
                windows.clear();
            }
        }
        let entry = windows.entry((bucket, client.to_string())).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        (entry.1 > bucket.limit()).then(|| ((window + 1) * PERIOD_S - now) as u32)
    }
}

/// The limiter of a worker without the binding: one per isolate.
pub static LOCAL: LocalLimiter = LocalLimiter::new();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_over_its_limit_waits_until_the_window_ends_and_others_are_not_counted_with_it() {
        let l = LocalLimiter::new();
        let start = 6000; // a window's first second
        for i in 0..Bucket::EndSessionAnswer.limit() {
            assert_eq!(l.hit(Bucket::EndSessionAnswer, "198.51.100.1", start + i64::from(i)), None, "{i}");
        }
        assert_eq!(l.hit(Bucket::EndSessionAnswer, "198.51.100.1", start + 30), Some(30));
        assert_eq!(l.hit(Bucket::EndSessionAnswer, "198.51.100.2", start + 30), None, "another client");
        assert_eq!(l.hit(Bucket::AdminAuthFailure, "198.51.100.1", start + 30), None, "another bucket");
        assert_eq!(l.hit(Bucket::EndSessionAnswer, "198.51.100.1", start + PERIOD_S), None, "the next window");
    }

    #[test]
    fn the_counters_stay_bounded() {
        let l = LocalLimiter::new();
        for i in 0..LocalLimiter::CAPACITY + 10 {
            l.hit(Bucket::AdminAuthFailure, &format!("c{i}"), 0);
        }
        assert!(l.windows.lock().unwrap().len() <= LocalLimiter::CAPACITY);
    }

    #[test]
    fn clients_are_keyed_by_the_connecting_address() {
        assert_eq!(client_key(Some(" 2001:db8::1 ")), "2001:db8::1");
        assert_eq!(client_key(Some("")), "unknown");
        assert_eq!(client_key(None), "unknown");
        assert_eq!(client_key(Some(&"x".repeat(100))).len(), 64);
    }
}
