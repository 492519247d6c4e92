//! The queue consumer's choices, free of the platform: which messages of a batch run here and
//! which are passed on ([`crate::budget::affordable_messages`]), and for each one that runs
//! what it does and whether the runtime acks it or has it come again ([`Verdict`]). The runtime
//! (`edge/queue.rs`) hands the batch's bodies in and acks or retries each message as
//! [`consume`] says; every decision is here, tested on the host.

use futures::future::join_all;
use serde_json::json;

use crate::budget::{self, Spend};
use crate::config::Config;
use crate::ports::{Log, Platform, Store};
use crate::protocol::backchannel::retry::{self, Next, Outcome, Received, Settle};
use crate::protocol::logout;
use crate::state::clients;
use crate::state::deliveries::{self, Delivery, DeliveryRecord, QueueMessage};

/// What the consumer needs of the runtime beyond [`Platform`]: one attempt of a delivery (a
/// fresh token, signed and POSTed), and the recording of a failed one's next step (its record,
/// then its retry's message).
#[allow(async_fn_in_trait)] // single-threaded wasm: no Send bound wanted
pub trait Attempts {
    async fn attempt(&self, d: &Delivery) -> Outcome;
    /// An error when nothing durable was written (the message must come again).
    async fn after(&self, next: &Next) -> Result<(), String>;
}

/// Whether the runtime acks a message or has it delivered again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Ack,
    /// Not done, and nothing lost: the message comes again (with the runtime's delay). Why.
    Retry(String),
}

/// The most a queue message may cost its consumer.
pub fn message_spend(message: &QueueMessage) -> Spend {
    match message {
        QueueMessage::Deliver(_) => budget::QUEUED_DELIVERY,
        QueueMessage::Expand(_) => budget::EXPANSION,
        QueueMessage::Recheck(r) => {
            let sessions = r.sessions.len().min(budget::RECHECK_SESSIONS_PER_MESSAGE);
            budget::RECHECK + budget::RECHECK_PER_SESSION * sessions
        }
    }
}

/// Which messages of a batch run in this invocation (the rest are passed on).
pub fn fits(messages: &[QueueMessage]) -> Vec<bool> {
    let costs: Vec<Spend> = messages.iter().map(message_spend).collect();
    budget::affordable_messages(budget::PLAN, &costs)
}

/// Handles one message at `now`: passed on when it does not `fit` (sent to the queue again,
/// not retried, so that it does not use up its retries), else run. `new_nonce` names a retry.
pub async fn handle(
    config: &Config,
    store: &impl Store,
    platform: &(impl Platform + Attempts),
    message: &QueueMessage,
    fits: bool,
    now: i64,
    new_nonce: impl FnOnce() -> String,
) -> Verdict {
    if !fits {
        return match platform.enqueue(message, 0).await {
            true => Verdict::Ack,
            false => Verdict::Retry("passing it on failed".into()),
        };
    }
    let done = match message {
        QueueMessage::Deliver(d) => deliver_queued(config, store, platform, d, now, new_nonce).await,
        QueueMessage::Expand(e) => logout::expand(store, platform, e, now).await.map(|_| ()).map_err(|e| e.0),
        QueueMessage::Recheck(r) => {
            logout::recheck(store, platform, r, config.session_events.as_ref(), now).await.map_err(|e| e.0)
        }
    };
    match done {
        Ok(()) => Verdict::Ack,
        Err(e) => Verdict::Retry(e),
    }
}

/// A batch of the queue, at `now`: each message parsed, and what it does decided by [`handle`]
/// (all at once: their KV calls and POSTs overlap); one [`Settle`] per message, in order. A
/// body that is no message of ours, and never will be, is logged and acked; a message that
/// could not be handled is logged and comes again after the delay its age earns it
/// ([`retry::consumer_retry_delay`]), so that an outage of minutes does not use up its retries.
pub async fn consume(
    config: &Config,
    store: &impl Store,
    platform: &(impl Platform + Attempts + Log),
    received: &[Received<'_>],
    now: i64,
) -> Vec<Settle> {
    let parsed: Vec<Option<QueueMessage>> = received.iter().map(|m| serde_json::from_str(m.body).ok()).collect();
    let ours: Vec<QueueMessage> = parsed.iter().flatten().cloned().collect();
    let mut fit = fits(&ours).into_iter();
    let work = received.iter().zip(&parsed).map(|(m, p)| {
        let fits = p.as_ref().map(|_| fit.next().expect("a fit per message of ours"));
        async move {
            let (Some(p), Some(fits)) = (p, fits) else {
                platform.error(json!({"event": "queue_bad_message"}));
                return Settle::Ack;
            };
            match handle(config, store, platform, p, fits, now, || platform.random_id()).await {
                Verdict::Ack => Settle::Ack,
                Verdict::Retry(error) => {
                    platform.error(json!({"event": "consumer_retry", "id": retry::message_id(p), "error": error}));
                    Settle::again(m)
                }
            }
        }
    });
    join_all(work).await
}

/// One queued delivery attempt, to the client's current registration: dropped when a later
/// message of it exists (stale), cancelled when its client was deleted, else attempted and its
/// outcome settled (delivered: its record goes; failed: recorded and retried, or dead).
async fn deliver_queued(
    config: &Config,
    store: &impl Store,
    platform: &impl Attempts,
    queued: &Delivery,
    now: i64,
    new_nonce: impl FnOnce() -> String,
) -> Result<(), String> {
    let pending = deliveries::pending(store, &queued.id).await.map_err(|e| e.0)?;
    if retry::stale(pending.as_ref(), queued) {
        return Ok(());
    }
    let client = clients::load(store, &queued.client_id).await.map_err(|e| e.0)?;
    let Some(d) = retry::current(queued, client.as_ref(), config.session_events.as_ref()) else {
        // Its client was deleted: cancelled, and listed as such.
        return deliveries::save(store, &DeliveryRecord::cancelled(queued.clone(), now)).await.map_err(|e| e.0);
    };
    let outcome = platform.attempt(&d).await;
    match retry::after_failure(&config.backchannel, &d, &outcome, new_nonce()) {
        None => deliveries::delivered(store, &d).await.map_err(|e| e.0),
        Some(next) => platform.after(&next).await,
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use futures::executor::block_on;

    use super::*;
    use crate::protocol::backchannel::queued::hand_to_queue;
    use crate::state::deliveries::DeliveryStatus;
    use crate::state::memory::MemoryStore;
    use crate::testing::stores::FailingWrites;
    use crate::testing::{self, seeded_store, Queueing, NOW};

    /// The queueing platform, answering every attempt with `outcome`, recording as the worker
    /// does (the record, then the retry's message).
    struct Scripted<'a> {
        queue: Queueing<'a, MemoryStore>,
        outcome: Outcome,
        attempted: RefCell<Vec<Delivery>>,
        errors: RefCell<Vec<serde_json::Value>>,
    }

    impl Log for Scripted<'_> {
        fn record(&self, _line: serde_json::Value) {}
        fn error(&self, line: serde_json::Value) {
            self.errors.borrow_mut().push(line);
        }
    }

    impl Platform for Scripted<'_> {
        async fn deliver(&self, d: Vec<Delivery>, inline_max: usize) -> crate::ports::Handoff {
            self.queue.deliver(d, inline_max).await
        }
        async fn enqueue(&self, m: &QueueMessage, delay_s: u32) -> bool {
            self.queue.enqueue(m, delay_s).await
        }
        fn random_id(&self) -> String {
            self.queue.random_id()
        }
    }

    impl Attempts for Scripted<'_> {
        async fn attempt(&self, d: &Delivery) -> Outcome {
            self.attempted.borrow_mut().push(d.clone());
            self.outcome.clone()
        }
        async fn after(&self, next: &Next) -> Result<(), String> {
            let rec = retry::record(self.queue.store, next, NOW).await.map_err(|e| e.0)?;
            if let Next::RetryIn { delay_s, .. } = next {
                self.queue.enqueue(&QueueMessage::Deliver(rec.delivery), *delay_s).await;
            }
            Ok(())
        }
    }

    fn scripted(store: &MemoryStore, outcome: Outcome) -> Scripted<'_> {
        Scripted {
            queue: Queueing::new(store, NOW),
            outcome,
            attempted: RefCell::default(),
            errors: RefCell::default(),
        }
    }

    /// rp1's delivery for sid-1, handed to the queue (recorded `queued`).
    fn queued(store: &MemoryStore) -> Delivery {
        let d = crate::protocol::backchannel::plan::plan(
            &crate::protocol::backchannel::event::LogoutEvent::of(
                None,
                vec![block_on(crate::state::sessions::load(store, "sid-1", NOW)).unwrap().unwrap()],
            ),
            &[block_on(clients::load(store, "rp1")).unwrap().unwrap()],
            testing::fixtures::ids(),
        )
        .remove(0);
        let q = Queueing::new(store, NOW);
        block_on(hand_to_queue(store, &q, vec![d], NOW, || "q1".into()));
        q.queued().remove(0)
    }

    fn run(store: &impl Store, p: &Scripted<'_>, m: &QueueMessage, fits: bool) -> Verdict {
        block_on(handle(testing::config(), store, p, m, fits, NOW, || "n2".into()))
    }

    #[test]
    fn a_delivered_message_is_acked_and_its_record_goes() {
        let store = seeded_store();
        let d = queued(&store);
        let p = scripted(&store, Outcome::Delivered);
        assert_eq!(run(&store, &p, &QueueMessage::Deliver(d.clone()), true), Verdict::Ack);
        assert_eq!(p.attempted.borrow().len(), 1);
        assert!(block_on(deliveries::pending(&store, &d.id)).unwrap().is_none());
    }

    #[test]
    fn a_failed_attempt_is_recorded_and_its_retry_queued_then_acked() {
        let store = seeded_store();
        let d = queued(&store);
        let p = scripted(&store, Outcome::Retry { error: "HTTP 503".into(), after_s: None });
        assert_eq!(run(&store, &p, &QueueMessage::Deliver(d.clone()), true), Verdict::Ack);
        let rec = block_on(deliveries::pending(&store, &d.id)).unwrap().unwrap();
        assert_eq!((rec.status, rec.delivery.attempt), (DeliveryStatus::Failed, 2));
        assert_eq!(p.queue.queued(), [rec.delivery], "the retry's message is its record's");
        // A final answer: dead, nothing queued.
        let store = seeded_store();
        let d = queued(&store);
        let p = scripted(&store, Outcome::Final { error: "HTTP 400".into() });
        assert_eq!(run(&store, &p, &QueueMessage::Deliver(d.clone()), true), Verdict::Ack);
        assert!(block_on(deliveries::load(&store, DeliveryStatus::Dead, &d.id)).unwrap().is_some());
        assert!(p.queue.queued().is_empty());
    }

    #[test]
    fn an_outcome_that_cannot_be_settled_has_the_message_come_again() {
        let store = seeded_store();
        let d = queued(&store);
        // Delivered, but KV refuses the record's delete: the message must come again.
        let failing = FailingWrites::new(&store, 0);
        let p = scripted(&store, Outcome::Delivered);
        let verdict =
            block_on(handle(testing::config(), &failing, &p, &QueueMessage::Deliver(d), true, NOW, || "n".into()));
        assert!(matches!(verdict, Verdict::Retry(_)), "{verdict:?}");
        assert_eq!(p.attempted.borrow().len(), 1);
    }

    #[test]
    fn a_stale_retry_is_dropped_without_an_attempt() {
        let store = seeded_store();
        let d = queued(&store);
        // A later message of it was issued (the sweep re-issued it): this one is stale.
        let mut later = block_on(deliveries::pending(&store, &d.id)).unwrap().unwrap();
        later.delivery.nonce = Some("later".into());
        later.delivery.issued_at = Some(NOW + 60);
        block_on(deliveries::save(&store, &later)).unwrap();
        let p = scripted(&store, Outcome::Delivered);
        assert_eq!(run(&store, &p, &QueueMessage::Deliver(d), true), Verdict::Ack);
        assert!(p.attempted.borrow().is_empty(), "not attempted");
        assert!(block_on(deliveries::pending(&store, &later.delivery.id)).unwrap().is_some(), "the later one stays");
    }

    #[test]
    fn a_message_that_does_not_fit_is_passed_on_not_run() {
        let store = seeded_store();
        let d = queued(&store);
        let p = scripted(&store, Outcome::Delivered);
        assert_eq!(run(&store, &p, &QueueMessage::Deliver(d.clone()), false), Verdict::Ack);
        assert!(p.attempted.borrow().is_empty());
        assert_eq!(p.queue.queued(), vec![d.clone()], "sent to the queue again");
        p.queue.inner.queue_down.set(true);
        assert!(matches!(run(&store, &p, &QueueMessage::Deliver(d), false), Verdict::Retry(_)));
        // A full batch of deliveries runs whole; a batch of large looks passes some on.
        let batch: Vec<QueueMessage> =
            (0..budget::CONSUMER_BATCH).map(|_| QueueMessage::Deliver(queued(&store))).collect();
        assert!(fits(&batch).iter().all(|f| *f));
    }

    #[test]
    fn a_batch_acks_what_is_done_or_not_ours_and_has_the_rest_come_again_after_its_age() {
        let store = seeded_store();
        let (done, failing) = (queued(&store), queued(&store));
        let p = scripted(&store, Outcome::Delivered);
        let (done, failing) = (serde_json::to_string(&done).unwrap(), serde_json::to_string(&failing).unwrap());
        let batch = [Received { body: "{\"not\": \"ours\"}", age_s: 5 }, Received { body: &done, age_s: 5 }];
        let settled = block_on(consume(testing::config(), &store, &p, &batch, NOW));
        assert_eq!(settled, [Settle::Ack, Settle::Ack]);
        assert_eq!(p.attempted.borrow().len(), 1, "only the message of ours is attempted");
        assert_eq!(p.errors.borrow()[0]["event"], "queue_bad_message");
        // Delivered, but its record cannot be deleted: again, after as long as it has waited.
        let refusing = FailingWrites::new(&store, 0);
        let batch = [Received { body: &failing, age_s: 300 }];
        let settled = block_on(consume(testing::config(), &refusing, &p, &batch, NOW));
        assert_eq!(settled, [Settle::RetryIn(300)]);
        assert_eq!(retry::consumer_retry_delay(300), 300);
        let logged = p.errors.borrow().last().cloned().unwrap();
        assert_eq!(logged["event"], "consumer_retry");
        assert!(logged["id"].as_str().unwrap().starts_with('d'), "{logged}");
    }
}
