//! The dead-letter queue's consumer, platform-free: what the main consumer failed on
//! `max_retries` times (developers.cloudflare.com/queues/configuration/dead-letter-queues/:
//! without a consumer, a dead-lettered message is deleted after 4 days). A delivery is recorded
//! and sent to the queue again, or after [`retry::MAX_REDRIVES`] recorded as dead
//! ([`retry::after_dead_letter`]); a look or an expansion is sent to the queue again, or kept in
//! the outbox for the sweep. The runtime acks a message only once that is durable
//! ([`Handled::ack`]); until then it retries it ([`consume`] says which).

use futures::future::join_all;
use serde_json::json;

use crate::ports::{Log, Platform, Store};
use crate::protocol::backchannel::queued::Sender;
use crate::protocol::backchannel::retry::{self, DeadLettered, Received, Settle};
use crate::state::deliveries::{self, QueueMessage};
use crate::state::outbox::{self, Outbox};

/// What became of a dead-lettered message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// A later message of the delivery exists: dropped.
    Stale,
    /// Recorded as pending (a fresh nonce) and sent again (or, the send failing, left to the
    /// sweep, which its record and the marker tell).
    Redriven,
    /// Re-driven too often: recorded as dead, listed for an operator.
    Dead,
    /// A look or an expansion sent to the queue again.
    Requeued,
    /// A look or an expansion the queue refused, kept in the outbox (due at once).
    Kept,
    /// Nothing durable written (a KV call failed): the message must come again.
    Retry,
}

impl Handled {
    /// Whether the runtime may ack the message.
    pub fn ack(self) -> bool {
        self != Handled::Retry
    }

    /// For the log.
    pub fn name(self) -> &'static str {
        match self {
            Handled::Stale => "stale",
            Handled::Redriven => "redrive",
            Handled::Dead => "dead",
            Handled::Requeued => "requeued",
            Handled::Kept => "kept",
            Handled::Retry => "retry",
        }
    }
}

/// A batch of the dead-letter queue at `now`, each message [`handle`]d (all at once) and its
/// decision logged; one [`Settle`] per message, in order: acked once what was decided is
/// durable, else again after the delay its age earns it. A body that is no message of ours is
/// logged and acked.
pub async fn consume(
    store: &impl Store,
    platform: &(impl Platform + Sender),
    log: &impl Log,
    received: &[Received<'_>],
    now: i64,
) -> Vec<Settle> {
    let work = received.iter().map(|m| async move {
        let Ok(parsed) = serde_json::from_str::<QueueMessage>(m.body) else {
            log.error(json!({"event": "queue_bad_message", "queue": "dead-letter"}));
            return Settle::Ack;
        };
        let id = retry::message_id(&parsed).to_string();
        let handled = handle(store, platform, parsed, now, || platform.random_id()).await;
        log.record(json!({"event": "dead_lettered", "id": id, "decision": handled.name()}));
        match handled.ack() {
            true => Settle::Ack,
            false => Settle::again(m),
        }
    });
    join_all(work).await
}

/// Handles one dead-lettered message at `now`; `new_id` draws nonces and record names.
pub async fn handle(
    store: &impl Store,
    platform: &(impl Platform + Sender),
    message: QueueMessage,
    now: i64,
    mut new_id: impl FnMut() -> String,
) -> Handled {
    let (logout_id, recheck, expansions) = match message {
        QueueMessage::Deliver(d) => {
            let Ok(pending) = deliveries::pending(store, &d.id).await else { return Handled::Retry };
            let (record, handled) = match retry::after_dead_letter(&d, pending.as_ref(), now, new_id()) {
                DeadLettered::Stale => return Handled::Stale,
                DeadLettered::Redrive(r) => (r, Handled::Redriven),
                DeadLettered::Dead(r) => (r, Handled::Dead),
            };
            if deliveries::save(store, &record).await.is_err() {
                return Handled::Retry;
            }
            if record.status.is_pending() && platform.send_all(std::slice::from_ref(&record.delivery)).await.is_err() {
                // Recorded: the sweep sends it again once told to look (best effort).
                outbox::mark_due(store, now).await;
            }
            return handled;
        }
        QueueMessage::Recheck(r) if platform.enqueue(&QueueMessage::Recheck(r.clone()), 0).await => {
            return Handled::Requeued
        }
        QueueMessage::Expand(e) if platform.enqueue(&QueueMessage::Expand(e.clone()), 0).await => {
            return Handled::Requeued
        }
        QueueMessage::Recheck(r) => (r.logout_id.clone(), Some(r), Vec::new()),
        QueueMessage::Expand(e) => (e.logout_id.clone(), None, vec![e]),
    };
    let left = Outbox {
        logout_id: format!("{logout_id}.dlq.{}", new_id()),
        deliveries: Vec::new(),
        recheck,
        expansions,
        created_at: now,
        due_at: None,
    };
    match outbox::settle(store, &left, now).await {
        Ok(()) => Handled::Kept,
        Err(_) => Handled::Retry,
    }
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;

    use super::*;
    use crate::protocol::backchannel::event::LogoutEvent;
    use crate::protocol::backchannel::plan;
    use crate::state::deliveries::{DeliveryStatus, Expansion, OwedClient};
    use crate::state::memory::MemoryStore;
    use crate::testing::fixtures::{clients, ids, session};
    use crate::testing::stores::FailingWrites;
    use crate::testing::{Queueing, NOW};

    fn nonces() -> impl FnMut() -> String {
        let mut n = 0;
        move || {
            n += 1;
            format!("d{n}")
        }
    }

    /// A delivery handed to the queue (recorded `queued`), as the consumer last saw it.
    fn queued(store: &MemoryStore) -> crate::state::deliveries::Delivery {
        let d = plan::plan(&LogoutEvent::Sessions(vec![session("s1", &["rp1"])]), &clients(), ids()).remove(0);
        let platform = Queueing::new(store, NOW);
        block_on(crate::protocol::backchannel::queued::hand_to_queue(store, &platform, vec![d], NOW, || "q".into()));
        platform.queued().remove(0)
    }

    #[test]
    fn a_dead_lettered_delivery_is_recorded_and_redriven_at_most_three_times_then_dead() {
        let store = MemoryStore::new(NOW);
        let mut message = queued(&store);
        let mut nonce = nonces();
        for round in 1..=retry::MAX_REDRIVES {
            let platform = Queueing::new(&store, NOW);
            let handled = block_on(handle(&store, &platform, QueueMessage::Deliver(message.clone()), NOW, &mut nonce));
            assert_eq!(handled, Handled::Redriven, "round {round}");
            let rec = block_on(deliveries::pending(&store, &message.id)).unwrap().expect("recorded");
            assert_eq!(rec.status, DeliveryStatus::Queued);
            let sent = platform.queued();
            assert_eq!(sent.len(), 1, "sent again");
            assert_eq!(sent[0], rec.delivery, "the message is the record's delivery");
            message = sent[0].clone();
        }
        let platform = Queueing::new(&store, NOW);
        assert_eq!(
            block_on(handle(&store, &platform, QueueMessage::Deliver(message.clone()), NOW, nonces())),
            Handled::Dead
        );
        assert!(platform.queued().is_empty(), "not sent again");
        assert!(block_on(deliveries::pending(&store, &message.id)).unwrap().is_none());
        assert!(
            block_on(deliveries::load(&store, DeliveryStatus::Dead, &message.id)).unwrap().is_some(),
            "listed dead"
        );
    }

    #[test]
    fn a_stale_dead_lettered_delivery_is_dropped_and_a_failed_record_write_retried() {
        let store = MemoryStore::new(NOW);
        let first = queued(&store);
        let platform = Queueing::new(&store, NOW);
        // Re-driven once, later: the first message, should it come back, is stale.
        let later = NOW + 10;
        let redriven = block_on(handle(&store, &platform, QueueMessage::Deliver(first.clone()), later, nonces()));
        assert_eq!(redriven, Handled::Redriven);
        let again = block_on(handle(&store, &platform, QueueMessage::Deliver(first.clone()), later, nonces()));
        assert_eq!((again, again.ack()), (Handled::Stale, true));
        // KV refuses the record: nothing durable, the message comes again.
        let again = platform.queued().remove(0);
        let failing = FailingWrites::new(&store, 0);
        let handled = block_on(handle(&failing, &platform, QueueMessage::Deliver(again), NOW, nonces()));
        assert_eq!((handled, handled.ack()), (Handled::Retry, false));
    }

    #[test]
    fn a_dead_lettered_expansion_is_queued_again_or_kept_in_the_outbox_for_the_sweep() {
        let store = MemoryStore::new(NOW);
        let e = Expansion {
            logout_id: "L9".into(),
            subject: None,
            ended: Vec::new(),
            expand: vec![OwedClient { n: 7, id: "rp1".into(), of: Vec::new() }],
        };
        let platform = Queueing::new(&store, NOW);
        assert_eq!(
            block_on(handle(&store, &platform, QueueMessage::Expand(e.clone()), NOW, nonces())),
            Handled::Requeued
        );
        assert_eq!(platform.inner.expansions(), vec![e.clone()]);
        platform.inner.queue_down.set(true);
        assert_eq!(block_on(handle(&store, &platform, QueueMessage::Expand(e.clone()), NOW, nonces())), Handled::Kept);
        let kept = block_on(outbox::page(&store, 10)).unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].expansions, vec![e.clone()]);
        assert!(block_on(outbox::due(&store)).unwrap(), "the sweep is told");
        let failing = FailingWrites::new(&store, 0);
        assert_eq!(block_on(handle(&failing, &platform, QueueMessage::Expand(e), NOW, nonces())), Handled::Retry);
    }

    /// Log lines, kept.
    #[derive(Default)]
    struct Lines(std::cell::RefCell<Vec<serde_json::Value>>);

    impl Log for Lines {
        fn record(&self, line: serde_json::Value) {
            self.0.borrow_mut().push(line);
        }
        fn error(&self, line: serde_json::Value) {
            self.0.borrow_mut().push(line);
        }
    }

    #[test]
    fn a_dead_letter_batch_acks_what_is_durable_and_logs_each_decision() {
        let store = MemoryStore::new(NOW);
        let message = serde_json::to_string(&queued(&store)).unwrap();
        let platform = Queueing::new(&store, NOW);
        let lines = Lines::default();
        let batch = [Received { body: "[]", age_s: 0 }, Received { body: &message, age_s: 0 }];
        assert_eq!(block_on(consume(&store, &platform, &lines, &batch, NOW)), [Settle::Ack, Settle::Ack]);
        assert_eq!(platform.queued().len(), 1, "re-driven");
        let logged = lines.0.take();
        assert_eq!(logged[0], serde_json::json!({"event": "queue_bad_message", "queue": "dead-letter"}));
        assert_eq!(logged[1]["decision"], "redrive");
        // KV refuses the record: nothing durable, so again, after as long as it has waited.
        let failing = FailingWrites::new(&store, 0);
        let batch = [Received { body: &message, age_s: 90 }];
        let settled = block_on(consume(&failing, &platform, &lines, &batch, NOW));
        assert_eq!(settled, [Settle::RetryIn(retry::consumer_retry_delay(90))]);
        assert_eq!(lines.0.take()[0]["decision"], "retry");
    }
}
