//! Everything edge-logout keeps in Workers KV, and the one place where each KV key is built.
//! Imports `http` (URI rules), `keys` (algorithms), `budget` and `config`'s types; never the
//! protocol, the admin API or the runtime.
//!
//! The key layout. `CLIENTS` namespace:
//! - `client/{client_id}` → a [`clients::Client`] record, no expiry ([`clients`]).
//!
//! `SESSIONS` namespace (one key per item, so that no key is written more than once a second
//! per session, and no per-user key is hot):
//! - `session/{sid}` → a [`sessions::Session`] record with `{"exp": ...}` metadata (its logical
//!   expiry: the cron lists these to end expired sessions as logouts, `protocol::expiry`), kept in
//!   KV [`sessions::KEPT_AFTER_EXPIRY_S`] past that expiry, read as ended from it on;
//! - `subject/{b64url(sub)}/{sid}` → `""` with `{"exp": ...}` metadata: a subject's sessions,
//!   listed by prefix, kept as long as the record ([`sessions`]);
//! - `confirm-used/{b64url(sha256(token))}` → `"1"`: a confirmation token that was answered,
//!   expiring with the token (at least KV's minimum TTL). The confirmation itself is not
//!   stored: its token is signed and carries it, so showing the page writes nothing
//!   ([`confirmations`]);
//! - `member/{sid}/{client_id}` → `""`: a client recorded in the session after its creation,
//!   kept as long as the record ([`sessions`]);
//! - `ended/{sid}` → `{"sub", "ended_at"}`: the tombstone of an ended session, for as long as a
//!   session may live ([`sessions`]);
//! - `delivery/failed/{id}` → a back-channel delivery to be retried, expiring a day after its
//!   next attempt; `delivery/dead/{id}` → one given up, kept 30 days;
//!   `delivery/cancelled/{id}` → one not made because its client was deleted, kept 30 days
//!   ([`deliveries`]);
//! - `outbox/{logout_id}` → the deliveries of a logout not yet handed off (its wave, its
//!   expansion and its look); `outbox/{logout_id}.x{n}` → the guard of its `n`th expansion
//!   message, `outbox/{logout_id}.r{round}` / `.u{round}` → a look the queue refused / what a
//!   look could not hand off; and `sweep/due` →
//!   the time something was last left for the cron sweep ([`outbox`]).
//!
//! The browser cookie names its session itself (`{b64url(sid)}.{secret}`, the secret stored
//! only hashed), so there is no browser index to keep.

pub mod clients;
pub mod confirmations;
pub mod deliveries;
pub mod logouts;
#[cfg(any(test, feature = "test-support", feature = "bench-memory"))]
pub mod memory;
pub mod outbox;
pub mod secrets;
pub mod sessions;
pub mod store;
