use std::sync::atomic::AtomicU32;
use std::time::Duration;

use super::*;
use crate::core::alert::{AlertMachine, NotifyKind, Severity};

fn notification(id: &str) -> Notification {
    Notification {
        id: id.into(),
        alert_id: "a".into(),
        rule: "cpu".into(),
        kind: NotifyKind::Firing,
        status: State::Firing,
        severity: Severity::Warning,
        previous_severity: None,
        metric: "cpu_usage".into(),
        value: Some(90.0),
        warning: 80.0,
        critical: 95.0,
        labels: [("alertname".to_owned(), "cpu".to_owned())].into(),
        message: "cpu high".into(),
        starts_at: Duration::from_secs(1),
        ends_at: None,
        at: Duration::from_secs(1),
        machine: AlertMachine::default(),
    }
}

/// Fails its first `failures` attempts, then succeeds; optionally never returns.
struct Flaky {
    failures: u32,
    attempts: AtomicU32,
    hang: bool,
}

impl Notifier for Flaky {
    fn id(&self) -> &str {
        if self.hang {
            "hang"
        } else {
            "flaky"
        }
    }

    fn deliver<'a>(&'a self, _: &'a Notification) -> BoxFuture<'a, Result<()>> {
        let n = self.attempts.fetch_add(1, Ordering::SeqCst);
        let hang = self.hang;
        let fail = n < self.failures;
        Box::pin(async move {
            if hang {
                futures::future::pending::<()>().await;
            }
            if fail {
                Err(Error::Delivery {
                    channel: "flaky".into(),
                    message: format!("attempt {n} refused"),
                })
            } else {
                Ok(())
            }
        })
    }
}

fn quick() -> RetryPolicy {
    RetryPolicy {
        attempts: 4,
        first_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(4),
    }
}

#[tokio::test]
async fn failures_are_retried_with_backoff_counted_and_reported() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let flaky = Arc::new(Flaky {
        failures: 2,
        attempts: AtomicU32::new(0),
        hang: false,
    });
    let d = Dispatcher::start(vec![flaky.clone()], quick(), tx, || Duration::from_secs(3));
    assert!(d.send(&notification("n1"), None).is_empty());
    let outcome = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((outcome.attempts, outcome.error), (3, None));
    assert_eq!(outcome.latency, Duration::from_secs(2));
    let counters = d.counters()[0].1;
    assert_eq!((counters.delivered, counters.retries), (1, 2));
}

#[tokio::test]
async fn a_channel_that_keeps_failing_is_given_up_after_its_attempts() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let flaky = Arc::new(Flaky {
        failures: u32::MAX,
        attempts: AtomicU32::new(0),
        hang: false,
    });
    let d = Dispatcher::start(vec![flaky], quick(), tx, || Duration::ZERO);
    d.send(&notification("n1"), None);
    let outcome = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(outcome.attempts, 4);
    assert!(outcome.error.unwrap().contains("attempt 3 refused"));
    assert_eq!(d.counters()[0].1.gave_up, 1);
}

#[tokio::test]
async fn a_hung_channel_does_not_hold_up_the_others_and_overflows_into_counted_drops() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let hung = Arc::new(Flaky {
        failures: 0,
        attempts: AtomicU32::new(0),
        hang: true,
    });
    let fine = Arc::new(Flaky {
        failures: 0,
        attempts: AtomicU32::new(0),
        hang: false,
    });
    let d = Dispatcher::start(vec![hung, fine], quick(), tx, || Duration::ZERO);
    let sent = QUEUE_DEPTH + 10;
    let mut dropped = 0;
    for i in 0..sent {
        dropped += d.send(&notification(&format!("n{i}")), None).len();
    }
    let counters = d.counters();
    let (hung_dropped, fine_dropped) = (counters[0].1.dropped, counters[1].1.dropped);
    assert_eq!((hung_dropped + fine_dropped) as usize, dropped);
    assert!(
        hung_dropped >= 9,
        "the hung channel's queue overflowed: {hung_dropped}"
    );
    // Everything the healthy channel queued is delivered while the other one hangs.
    for _ in 0..(sent - fine_dropped as usize) {
        let o = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(o.channel, "flaky");
        assert!(o.error.is_none());
    }
}

#[tokio::test]
async fn the_file_channel_writes_one_line_each_and_skips_what_it_already_holds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("alerts.jsonl");
    let channel = Channel::File { path: path.clone() };
    let file = notifier(&channel).unwrap();
    file.deliver(&notification("n1")).await.unwrap();
    assert!(!file.holds("n1"), "only what was there at opening counts");
    let reopened = notifier(&channel).unwrap();
    assert!(reopened.holds("n1"));
    assert!(!reopened.holds("n2"));
    let text = std::fs::read_to_string(&path).unwrap();
    let line: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(line["id"], "n1");
    assert_eq!(line["severity"], "warning");
    assert_eq!(line["starts_at"], "1970-01-01T00:00:01.000Z");
}

#[test]
fn backoff_doubles_up_to_its_ceiling() {
    let p = RetryPolicy::default();
    assert_eq!(p.backoff(1), Duration::from_millis(500));
    assert_eq!(p.backoff(3), Duration::from_secs(2));
    assert_eq!(p.backoff(20), Duration::from_secs(30));
}
