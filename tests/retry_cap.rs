//! The queue consumer's retry decision on the host (src/protocol/backchannel/retry.rs; the
//! consumer, src/protocol/backchannel/delivery.rs, acts on it): a `Retry-After` longer than the 1 h cap (README:
//! "it doubles each attempt (at most 1 h; a longer `Retry-After` wins)") waits 1 h, in both of
//! its forms, and a shorter one still wins over the backoff.

use edge_logout::config::BackchannelConfig;
use edge_logout::protocol::backchannel::retry::{judge, retry_delay, Answer, Outcome};

fn asked(status: u16, retry_after: &str, now: i64) -> Option<u32> {
    match judge(&Answer::Status { status, retry_after: Some(retry_after.into()) }, now) {
        Outcome::Retry { after_s, .. } => after_s,
        other => panic!("{status} is not retried: {other:?}"),
    }
}

#[test]
fn a_retry_after_longer_than_an_hour_waits_an_hour() {
    let cfg = BackchannelConfig { retry_delay_s: 10, ..Default::default() };
    // Delay-seconds: two hours asked, by a 503 and by a 429.
    for status in [503, 429] {
        let after = asked(status, "7200", 0);
        assert_eq!(after, Some(7200), "the answer's own figure is kept");
        assert_eq!(retry_delay(&cfg, 2, after), 3600, "{status}: capped at 1 h");
    }
    // An HTTP-date a day ahead (Sun, 22 Nov 2026 10:00:00 GMT is 1795341600).
    let now = 1_795_341_600;
    let after = asked(503, "Mon, 23 Nov 2026 10:00:00 GMT", now);
    assert_eq!(after, Some(86_400));
    assert_eq!(retry_delay(&cfg, 2, after), 3600);
    // Below the cap, the longer of Retry-After and the backoff.
    assert_eq!(retry_delay(&cfg, 2, asked(503, "90", 0)), 90);
    assert_eq!(retry_delay(&cfg, 5, asked(503, "1", 0)), 80);
    // The backoff alone is capped too.
    assert_eq!(retry_delay(&cfg, 40, None), 3600);
}
