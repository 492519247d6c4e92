//! Handing deliveries to the queue so that none can vanish: a delivery queued for its first
//! attempt gets its KV record (status `queued`, `delivery/failed/{id}`) before its message is
//! sent, carrying the message's nonce and issue. From then on, whatever becomes of the message
//! (a failed send, a consumer that keeps failing until the queue dead-letters it, a dead-letter
//! consumer that fails too), the record is listed by `GET /admin/deliveries?status=queued` and
//! the sweep sends it again once overdue ([`crate::state::deliveries::reissue_overdue`]); the
//! consumer forgets it when the delivery succeeds, or replaces it with a `failed` or `dead` one.
//!
//! Why a record per delivery and not the logout's outbox (written before any attempt, holding
//! every delivery): a queued attempt that succeeds writes nothing, so the outbox could not tell
//! a delivered one from a lost one without a write per delivery anyway, to one shared key that
//! KV gives no compare-and-swap for, one write per second, and 60 s to be seen elsewhere.

use crate::ports::{Store, StoreError};
use crate::state::deliveries::{self, Delivery, DeliveryRecord};

/// Sends messages to the queue (the runtime's `sendBatch`): what [`hand_to_queue`] needs of it.
#[allow(async_fn_in_trait)] // single-threaded wasm: no Send bound wanted
pub trait Sender {
    /// Sends every delivery as one message each; an error when the send failed.
    async fn send_all(&self, deliveries: &[Delivery]) -> Result<(), String>;
}

/// What became of deliveries handed to the queue.
#[derive(Debug, Default)]
pub struct Queued {
    /// Recorded, and sent unless `send_failed`: either way the record makes them durable.
    pub recorded: usize,
    /// Not recorded (the write failed), and so not sent: the caller keeps them (the outbox).
    pub unsent: Vec<Delivery>,
    /// Why the send failed, if it did: the records are there, and the sweep must be told.
    pub send_failed: Option<String>,
}

/// Records each delivery not yet recorded (one without a nonce: a new one, or one from an
/// outbox) as `queued`, with a nonce from `new_nonce` and `issued_at` now, then sends every
/// recorded one. A delivery that comes with a nonce (a retry, a re-issue) has its record already.
pub async fn hand_to_queue(
    store: &impl Store,
    sender: &impl Sender,
    deliveries: Vec<Delivery>,
    now: i64,
    mut new_nonce: impl FnMut() -> String,
) -> Queued {
    let stamped: Vec<(Delivery, bool)> = deliveries
        .into_iter()
        .map(|mut d| {
            let new = d.nonce.is_none();
            if new {
                d.nonce = Some(new_nonce());
                d.issued_at = Some(now);
            }
            (d, new)
        })
        .collect();
    // The new ones' records, written together (one crossing in the worker).
    let records: Vec<DeliveryRecord> =
        stamped.iter().filter(|(_, new)| *new).map(|(d, _)| DeliveryRecord::queued(d.clone(), now)).collect();
    let mut written = deliveries::save_pending(store, &records).await.into_iter();
    let mut out = Queued::default();
    let mut send = Vec::new();
    for (mut d, new) in stamped {
        let w = match new {
            true => written.next().unwrap_or_else(|| Err(StoreError("no outcome for the record".into()))),
            false => Ok(()),
        };
        match w {
            Ok(()) => send.push(d),
            Err(_) => {
                // Kept as it came: the outbox sends it again, as a new one.
                d.nonce = None;
                d.issued_at = None;
                out.unsent.push(d);
            }
        }
    }
    out.recorded = send.len();
    if !send.is_empty() {
        out.send_failed = sender.send_all(&send).await.err();
    }
    out
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use futures::executor::block_on;

    use super::*;
    use crate::ports::Ns;
    use crate::protocol::backchannel::event::LogoutEvent;
    use crate::protocol::backchannel::plan;
    use crate::protocol::backchannel::retry::{self, DeadLettered};
    use crate::state::deliveries::{reissue_overdue, DeliveryStatus};
    use crate::state::memory::MemoryStore;
    use crate::testing::fixtures::{clients, ids, session};
    use crate::testing::stores::FailingWrites;

    /// A queue that keeps what it is sent, or fails every send.
    #[derive(Default)]
    struct FakeQueue {
        sent: RefCell<Vec<Delivery>>,
        down: bool,
    }

    impl Sender for FakeQueue {
        async fn send_all(&self, deliveries: &[Delivery]) -> Result<(), String> {
            if self.down {
                return Err("queue down".into());
            }
            self.sent.borrow_mut().extend_from_slice(deliveries);
            Ok(())
        }
    }

    fn two() -> Vec<Delivery> {
        plan::plan(&LogoutEvent::Sessions(vec![session("s1", &["rp1", "rp2"])]), &clients(), ids())
    }

    fn nonces() -> impl FnMut() -> String {
        let mut n = 0;
        move || {
            n += 1;
            format!("n{n}")
        }
    }

    #[test]
    fn a_delivery_queued_on_its_first_attempt_is_recorded_before_it_is_sent_and_listed_as_queued() {
        block_on(async {
            let store = MemoryStore::new(1000);
            let queue = FakeQueue::default();
            let q = hand_to_queue(&store, &queue, two(), 1000, nonces()).await;
            assert_eq!((q.recorded, q.unsent.len(), q.send_failed), (2, 0, None));
            // What the quota table counts: one write per queued delivery, nothing else.
            let counts = store.take_counts();
            assert_eq!((counts.reads, counts.writes, counts.deletes, counts.lists), (0, 2, 0, 0));
            let sent = queue.sent.borrow().clone();
            for d in &sent {
                let rec = deliveries::pending(&store, &d.id).await.unwrap().expect("recorded");
                assert_eq!(rec.status, DeliveryStatus::Queued);
                assert_eq!(&rec.delivery, d, "the message is the record's delivery");
                assert!(!retry::stale(Some(&rec), d), "its own message is live");
            }
            let (listed, _) = deliveries::page(&store, DeliveryStatus::Queued, None, 100).await.unwrap();
            assert_eq!(listed.len(), 2);
            assert_eq!(listed[0].view()["status"], "queued");
            assert_eq!(listed[0].view()["attempts"], 0);
            let (failed, _) = deliveries::page(&store, DeliveryStatus::Failed, None, 100).await.unwrap();
            assert!(failed.is_empty(), "queued is not failed");
            // Delivered: the record goes.
            store.take_counts();
            deliveries::delivered(&store, &sent[0]).await.unwrap();
            assert_eq!(store.take_counts().deletes, 1);
            assert!(deliveries::pending(&store, &sent[0].id).await.unwrap().is_none());
        });
    }

    #[test]
    fn a_queued_delivery_whose_send_failed_is_sent_again_by_the_sweep() {
        block_on(async {
            let store = MemoryStore::new(1000);
            let down = FakeQueue { down: true, ..Default::default() };
            let q = hand_to_queue(&store, &down, two(), 1000, nonces()).await;
            assert_eq!(q.recorded, 2);
            assert!(q.send_failed.is_some());
            let grace = 300;
            store.now.set(1000 + grace + 1);
            let again = reissue_overdue(&store, 1000 + grace + 1, grace, 1000, || "r".into()).await.unwrap();
            assert_eq!(again.deliveries.len(), 2, "both found by the sweep");
            assert!(again.complete);
            // Handed to the queue again: already recorded, so no second write.
            let before = store.snapshot();
            let queue = FakeQueue::default();
            let q = hand_to_queue(&store, &queue, again.deliveries, 1000 + grace + 1, nonces()).await;
            assert_eq!((q.recorded, q.send_failed), (2, None));
            assert_eq!(store.snapshot(), before);
            assert!(queue.sent.borrow().iter().all(|d| d.nonce.as_deref() == Some("r")));
        });
    }

    #[test]
    fn a_queued_delivery_whose_record_cannot_be_written_is_not_sent_and_comes_back() {
        block_on(async {
            let mem = MemoryStore::new(1000);
            let store = FailingWrites::new(&mem, 1);
            let queue = FakeQueue::default();
            let q = hand_to_queue(&store, &queue, two(), 1000, nonces()).await;
            assert_eq!(q.recorded, 1);
            assert_eq!(queue.sent.borrow().len(), 1, "only the recorded one is sent");
            assert_eq!(q.unsent.len(), 1);
            assert_eq!((q.unsent[0].nonce.as_ref(), q.unsent[0].issued_at), (None, None), "as it came");
            assert_eq!(mem.snapshot().iter().filter(|(ns, _, _)| *ns == Ns::Sessions).count(), 1);
        });
    }

    #[test]
    fn a_dead_lettered_delivery_is_listed_and_re_driven() {
        block_on(async {
            let store = MemoryStore::new(1000);
            let queue = FakeQueue::default();
            hand_to_queue(&store, &queue, two(), 1000, nonces()).await;
            let lost = queue.sent.borrow()[0].clone();
            // The consumer failed on it until the queue gave up: the dead-letter consumer.
            let seen = deliveries::pending(&store, &lost.id).await.unwrap();
            let DeadLettered::Redrive(rec) = retry::after_dead_letter(&lost, seen.as_ref(), 5000, "d1".into()) else {
                panic!("re-driven")
            };
            deliveries::save(&store, &rec).await.unwrap();
            let listed = deliveries::pending(&store, &lost.id).await.unwrap().unwrap();
            assert_eq!(listed.status, DeliveryStatus::Queued);
            assert!(listed.view()["last_error"].as_str().unwrap().contains("dead-lettered"));
            assert!(!retry::stale(Some(&listed), &rec.delivery), "the re-driven message runs");
            assert!(retry::stale(Some(&listed), &lost), "the dead-lettered one, should it come back, does not");
            // Re-driven and dead-lettered again and again: dead, listed for an operator.
            let mut d = rec.delivery.clone();
            for i in 0..retry::MAX_REDRIVES {
                let seen = deliveries::pending(&store, &d.id).await.unwrap();
                match retry::after_dead_letter(&d, seen.as_ref(), 6000 + i64::from(i), format!("x{i}")) {
                    DeadLettered::Redrive(r) => {
                        deliveries::save(&store, &r).await.unwrap();
                        d = r.delivery;
                    }
                    DeadLettered::Dead(r) => {
                        deliveries::save(&store, &r).await.unwrap();
                        break;
                    }
                    DeadLettered::Stale => panic!("the latest is never stale"),
                }
            }
            assert!(deliveries::pending(&store, &lost.id).await.unwrap().is_none());
            let dead = deliveries::load(&store, DeliveryStatus::Dead, &lost.id).await.unwrap().expect("listed as dead");
            assert!(dead.delivery.last_error.unwrap().contains("dead-lettered"));
        });
    }
}
