//! A model of Workers KV no kinder than the platform, for host tests of what one local runtime
//! cannot show. Several locations share one namespace; time is the test's ([`World::set_now`]).
//! What the model allows, each from Cloudflare's documentation:
//! - **Propagation.** A location sees its own writes at once; another location sees a write
//!   only after a delay drawn per write and per location ([`Delays`]), from 0 to a maximum the
//!   test sets: "changes are usually immediately visible in the location where they are made,
//!   but may take up to 60 seconds or more to be visible in other global network locations"
//!   (developers.cloudflare.com/kv/concepts/how-kv-works/, "Consistency"). Of the writes a
//!   location sees, the newest wins (KV has no transactions: last write wins).
//! - **Caching.** A location that read a key (found or not) serves that answer again, without
//!   looking, until its cache time is over: reads are cached at the edge for `cacheTtl`,
//!   60 s by default, and "negative lookups" are cached too
//!   (developers.cloudflare.com/kv/api/read-key-value-pairs/, "cacheTtl";
//!   developers.cloudflare.com/kv/concepts/how-kv-works/). A location's own write replaces its
//!   cached answer.
//! - **Lists** see what their location sees: they lag like reads
//!   (developers.cloudflare.com/kv/api/list-keys/: "list operations ... are eventually consistent").
//! - **Failures.** Any operation fails during an [`Outage`] (at one location or all): Workers
//!   KV calls can throw, and the code must survive it.
//! - **One write per second per key**: a second write (or delete) of the same key within the
//!   same second fails, as the platform answers 429
//!   (developers.cloudflare.com/kv/platform/limits/: "Writes to same key: 1 per second").
//! - Expirations at least 60 s ahead (the same page), as the local runtime also enforces.
//!
//! So a write made at `t` is seen by every read anywhere from `t + max delay + cache time` on:
//! [`World::window_s`], the figure the consistency bounds are stated in.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use crate::budget::BULK_READ_MAX;
use crate::state::memory::page_of;
use crate::state::store::{ListPage, Listed, Ns, Store, StoreError, MIN_TTL_S};

/// A stored value: the value, its expiry and its listing metadata.
type Stored = (String, Option<i64>, Option<Value>);

/// One write (or delete, `value: None`) as it happened.
struct Write {
    seq: u64,
    at: i64,
    from: usize,
    ns: Ns,
    key: String,
    value: Option<Stored>,
}

/// How long a write takes to reach another location.
#[derive(Debug, Clone, Copy)]
pub enum Delays {
    /// Every write reaches every other location after exactly this long.
    Fixed(i64),
    /// Each write reaches each other location after its own delay, from 0 to `max_s`, drawn
    /// from `seed` (the same seed gives the same world).
    Drawn { max_s: i64, seed: u64 },
}

impl Delays {
    pub fn max_s(&self) -> i64 {
        match *self {
            Delays::Fixed(d) => d,
            Delays::Drawn { max_s, .. } => max_s,
        }
    }

    fn of(&self, seq: u64, location: usize) -> i64 {
        match *self {
            Delays::Fixed(d) => d,
            Delays::Drawn { max_s, seed } => {
                // SplitMix64 over (seed, write, location): a fixed, well-spread draw.
                let mut z = seed
                    ^ seq.wrapping_mul(0x9E37_79B9_7F4A_7C15)
                    ^ (location as u64).wrapping_mul(0xD1B5_4A32_D192_ED03);
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                z ^= z >> 31;
                (z % (max_s as u64 + 1)) as i64
            }
        }
    }
}

/// A time during which KV operations fail: at one location, or everywhere (`location: None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outage {
    pub location: Option<usize>,
    pub from: i64,
    pub until: i64,
}

/// What a location remembers of one key it read.
struct Cached {
    value: Option<Stored>,
    until: i64,
}

/// The namespaces as every location will eventually see them.
pub struct World {
    now: Cell<i64>,
    seq: Cell<u64>,
    writes: RefCell<Vec<Write>>,
    cache: RefCell<HashMap<(usize, Ns, String), Cached>>,
    /// The second of the last write of each key (any location).
    last_write: RefCell<HashMap<(Ns, String), i64>>,
    pub delays: Delays,
    /// How long a location serves what it read (a value or a miss) without looking again.
    pub cache_ttl_s: i64,
    pub outages: RefCell<Vec<Outage>>,
    /// Whether a second write of a key within one second fails (the platform's 429).
    pub one_write_per_second: bool,
}

impl World {
    /// A world where another location's writes show after `delay_s` and every read (or miss) is
    /// cached for `cache_ttl_s`; no outages, and writes of one key limited to one per second.
    pub fn new(now: i64, delay_s: i64, cache_ttl_s: i64) -> Self {
        Self::with(now, Delays::Fixed(delay_s), cache_ttl_s)
    }

    pub fn with(now: i64, delays: Delays, cache_ttl_s: i64) -> Self {
        World {
            now: Cell::new(now),
            seq: Cell::new(0),
            writes: RefCell::default(),
            cache: RefCell::default(),
            last_write: RefCell::default(),
            delays,
            cache_ttl_s,
            outages: RefCell::default(),
            one_write_per_second: true,
        }
    }

    pub fn now(&self) -> i64 {
        self.now.get()
    }

    pub fn set_now(&self, now: i64) {
        self.now.set(now);
    }

    /// The longest any location can go on not seeing a write: its propagation, then an answer
    /// cached just before it arrived.
    pub fn window_s(&self) -> i64 {
        self.delays.max_s() + self.cache_ttl_s
    }

    pub fn add_outage(&self, outage: Outage) {
        self.outages.borrow_mut().push(outage);
    }

    /// The store as location `id` sees it.
    pub fn at(&self, id: usize) -> Location<'_> {
        Location { world: self, id, ops: Cell::new(0) }
    }

    fn failing(&self, id: usize) -> bool {
        let now = self.now();
        self.outages.borrow().iter().any(|o| o.location.is_none_or(|l| l == id) && o.from <= now && now < o.until)
    }

    fn visible(&self, w: &Write, id: usize, now: i64) -> bool {
        w.from == id || w.at + self.delays.of(w.seq, id) <= now
    }

    /// What location `id` sees now, before its cache: of the writes that reached it, the
    /// newest per key.
    fn view(&self, id: usize, ns: Ns, key: Option<&str>) -> BTreeMap<String, Stored> {
        let now = self.now();
        let mut newest: BTreeMap<String, (i64, u64, Option<Stored>)> = BTreeMap::new();
        for w in self.writes.borrow().iter() {
            if w.ns != ns || key.is_some_and(|k| k != w.key) || !self.visible(w, id, now) {
                continue;
            }
            let newer = newest.get(&w.key).is_none_or(|(at, seq, _)| (w.at, w.seq) > (*at, *seq));
            if newer {
                newest.insert(w.key.clone(), (w.at, w.seq, w.value.clone()));
            }
        }
        newest
            .into_iter()
            .filter_map(|(k, (_, _, v))| v.map(|v| (k, v)))
            .filter(|(_, (_, exp, _))| exp.is_none_or(|e| e > now))
            .collect()
    }

    fn write(&self, from: usize, ns: Ns, key: &str, value: Option<Stored>) -> Result<(), StoreError> {
        let now = self.now();
        let id = (ns, key.to_string());
        if self.one_write_per_second && self.last_write.borrow().get(&id) == Some(&now) {
            return Err(StoreError(format!("429: {key} was written less than a second ago")));
        }
        self.last_write.borrow_mut().insert(id, now);
        self.cache.borrow_mut().remove(&(from, ns, key.to_string()));
        let seq = self.seq.get() + 1;
        self.seq.set(seq);
        self.writes.borrow_mut().push(Write { seq, at: now, from, ns, key: key.to_string(), value });
        Ok(())
    }
}

impl World {
    /// What a read of `key` at location `id` would answer now, without the read: its cache is
    /// left as it is (a check from outside must not change what the code under test sees).
    pub fn peek(&self, id: usize, ns: Ns, key: &str) -> Option<String> {
        let now = self.now();
        let cached = match self.cache.borrow().get(&(id, ns, key.to_string())) {
            Some(c) if c.until > now => Some(c.value.clone()),
            _ => None,
        };
        let value = cached.unwrap_or_else(|| self.view(id, ns, Some(key)).remove(key));
        value.filter(|(_, exp, _)| exp.is_none_or(|e| e > now)).map(|(v, _, _)| v)
    }
}

/// One location's view of the [`World`].
pub struct Location<'w> {
    world: &'w World,
    id: usize,
    ops: Cell<usize>,
}

impl Location<'_> {
    fn op(&self) -> Result<(), StoreError> {
        self.ops.set(self.ops.get() + 1);
        if self.world.failing(self.id) {
            return Err(StoreError(format!("KV is unavailable at location {}", self.id)));
        }
        Ok(())
    }

    fn read(&self, ns: Ns, key: &str) -> Option<String> {
        let w = self.world;
        let now = w.now();
        let cache_key = (self.id, ns, key.to_string());
        let value = match w.cache.borrow().get(&cache_key) {
            Some(c) if c.until > now => Some(c.value.clone()),
            _ => None,
        };
        let value = value.unwrap_or_else(|| {
            let found = w.view(self.id, ns, Some(key)).remove(key);
            w.cache.borrow_mut().insert(cache_key, Cached { value: found.clone(), until: now + w.cache_ttl_s });
            found
        });
        value.filter(|(_, exp, _)| exp.is_none_or(|e| e > now)).map(|(v, _, _)| v)
    }
}

impl Store for Location<'_> {
    async fn get(&self, ns: Ns, key: &str) -> Result<Option<String>, StoreError> {
        self.op()?;
        Ok(self.read(ns, key))
    }

    async fn get_many(&self, ns: Ns, keys: &[String]) -> Result<Vec<Option<String>>, StoreError> {
        self.ops.set(self.ops.get() + keys.len().div_ceil(BULK_READ_MAX).saturating_sub(1));
        self.op()?;
        Ok(keys.iter().map(|k| self.read(ns, k)).collect())
    }

    async fn put(
        &self,
        ns: Ns,
        key: &str,
        value: &str,
        expires_at: Option<i64>,
        metadata: Option<Value>,
    ) -> Result<(), StoreError> {
        self.op()?;
        if expires_at.is_some_and(|e| e < self.world.now() + MIN_TTL_S) {
            return Err(StoreError("expiration less than 60 s ahead".into()));
        }
        self.world.write(self.id, ns, key, Some((value.to_string(), expires_at, metadata)))
    }

    async fn delete(&self, ns: Ns, key: &str) -> Result<(), StoreError> {
        self.op()?;
        self.world.write(self.id, ns, key, None)
    }

    async fn list(&self, ns: Ns, prefix: &str, cursor: Option<String>, limit: u32) -> Result<ListPage, StoreError> {
        self.op()?;
        let visible =
            self.world.view(self.id, ns, None).into_iter().map(|(k, (_, _, m))| Listed { key: k, metadata: m });
        Ok(page_of(visible, prefix, cursor.as_deref(), limit))
    }

    fn subrequests(&self) -> usize {
        self.ops.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;

    #[test]
    fn another_locations_write_shows_after_the_delay_and_a_miss_is_cached() {
        block_on(async {
            let world = World::new(1000, 60, 60);
            let (a, b) = (world.at(0), world.at(1));
            // b looks first: the miss is remembered for 60 s.
            assert_eq!(b.get(Ns::Sessions, "k").await.unwrap(), None);
            a.put(Ns::Sessions, "k", "v", None, None).await.unwrap();
            assert_eq!(a.get(Ns::Sessions, "k").await.unwrap().as_deref(), Some("v"), "its own write at once");
            world.set_now(1059);
            assert_eq!(b.get(Ns::Sessions, "k").await.unwrap(), None);
            world.set_now(1060);
            assert_eq!(b.get(Ns::Sessions, "k").await.unwrap().as_deref(), Some("v"));
            assert_eq!(b.list(Ns::Sessions, "k", None, 10).await.unwrap().keys.len(), 1);
            b.delete(Ns::Sessions, "k").await.unwrap();
            assert_eq!(a.get(Ns::Sessions, "k").await.unwrap().as_deref(), Some("v"), "the delete is not seen yet");
            world.set_now(1120);
            assert_eq!(a.get(Ns::Sessions, "k").await.unwrap(), None);
        });
    }

    #[test]
    fn a_cached_value_is_served_after_it_changed_until_the_cache_time_is_over() {
        block_on(async {
            let world = World::new(1000, 10, 60);
            let (a, b) = (world.at(0), world.at(1));
            a.put(Ns::Sessions, "k", "old", None, None).await.unwrap();
            world.set_now(1010);
            assert_eq!(b.get(Ns::Sessions, "k").await.unwrap().as_deref(), Some("old"));
            world.set_now(1011);
            a.put(Ns::Sessions, "k", "new", None, None).await.unwrap();
            // Propagated at 1021, but b answers from its cache until 1070.
            world.set_now(1069);
            assert_eq!(b.get(Ns::Sessions, "k").await.unwrap().as_deref(), Some("old"));
            world.set_now(1070);
            assert_eq!(b.get(Ns::Sessions, "k").await.unwrap().as_deref(), Some("new"));
            // The window: a write is seen everywhere within delay + cache time.
            assert_eq!(world.window_s(), 70);
        });
    }

    #[test]
    fn drawn_delays_differ_per_write_and_location_and_stay_within_the_maximum() {
        let d = Delays::Drawn { max_s: 150, seed: 7 };
        let draws: Vec<i64> = (0..200).flat_map(|seq| (0..3).map(move |loc| d.of(seq, loc))).collect();
        assert!(draws.iter().all(|x| (0..=150).contains(x)));
        assert!(draws.iter().any(|x| *x < 20) && draws.iter().any(|x| *x > 130), "spread over the range");
        assert_eq!(d.of(5, 1), d.of(5, 1), "the same world every time");
    }

    #[test]
    fn a_second_write_of_a_key_within_a_second_fails_and_an_outage_fails_everything() {
        block_on(async {
            let world = World::new(1000, 0, 60);
            let a = world.at(0);
            a.put(Ns::Sessions, "k", "1", None, None).await.unwrap();
            assert!(a.delete(Ns::Sessions, "k").await.is_err(), "429");
            a.put(Ns::Sessions, "other", "1", None, None).await.unwrap();
            world.set_now(1001);
            a.delete(Ns::Sessions, "k").await.unwrap();
            world.add_outage(Outage { location: Some(0), from: 1002, until: 1010 });
            world.set_now(1005);
            assert!(a.get(Ns::Sessions, "other").await.is_err());
            assert!(a.list(Ns::Sessions, "", None, 10).await.is_err());
            assert!(world.at(1).get(Ns::Sessions, "other").await.is_ok(), "only location 0 is out");
            world.set_now(1010);
            assert!(a.get(Ns::Sessions, "other").await.is_ok());
        });
    }
}
