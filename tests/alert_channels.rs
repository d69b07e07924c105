//! The alert node's notification channels against servers nobody here wrote, each started
//! by the test on 127.0.0.1: `aiosmtpd` receives the email, Python's `http.server` the
//! webhook (answering 500 once, so the retry is exercised), and Debian's
//! `prometheus-alertmanager` the alert, which its own API must list and then resolve.
//!
//! The node runs in-process on the in-process transport: these tests are about delivery,
//! not DDS (tests/alert_node.rs covers DDS and the binary).

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::repo;
use common::servers::{free_port, Alertmanager};
use serde_json::Value;
use vla_perf::alerts::history::{self, Record};
use vla_perf::alerts::Settings;
use vla_perf::config::parse_alerts;
use vla_perf::msg::diagnostic_msgs::KeyValue;
use vla_perf::msg::{Alert, MetricArray, MetricSummary};
use vla_perf::notify::RetryPolicy;
use vla_perf::transport::inproc::InprocTransport;
use vla_perf::transport::{NodeOptions, Publisher, Qos, Subscription, Transport, Typed};

const LIMIT: Duration = Duration::from_secs(60);

/// A Python peer printing JSON lines; stdin is held open and closing it ends the peer.
struct Peer {
    child: Child,
    _stdin: ChildStdin,
    lines: mpsc::Receiver<Value>,
}

impl Peer {
    fn start(script: &str, args: &[&str]) -> Self {
        let mut child = common::python()
            .arg(repo().join("tests/peers").join(script))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("starting a Python peer");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let value = serde_json::from_str(&line).expect("peer prints JSON lines");
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            _stdin: stdin,
            lines,
        }
    }

    fn next(&self, what: &str) -> Value {
        self.lines
            .recv_timeout(LIMIT)
            .unwrap_or_else(|_| panic!("peer gave no {what} within {LIMIT:?}"))
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The alert node, in-process, with one rule on end-to-end latency of robot r1.
struct Node {
    runtime: tokio::runtime::Runtime,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<vla_perf::alerts::node::Result<()>>>,
    metrics: Publisher<MetricArray>,
    alerts: Subscription<Typed<Alert>>,
    history: PathBuf,
    _dir: tempfile::TempDir,
}

impl Node {
    fn start(channel: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let yaml = format!(
            "rules:\n  - name: e2e_slow\n    metric: end_to_end_latency\n    aggregation: last\n    \
             warning: 1.0\n    critical: 2.0\n    window: 1s\n    labels: {{team: vla}}\n    \
             message: \"end-to-end latency {{value}} s on {{robot_id}} ({{severity}})\"\n\
             notifications:\n  channels:\n    - {channel}\n  alert_cooldown: 1h\n"
        );
        let rules = parse_alerts("rules.yaml", &yaml)
            .expect("valid rules")
            .config;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        // The in-process bus spawns its forwarding tasks on the current runtime.
        let _entered = runtime.enter();
        let transport = InprocTransport::new();
        let mut probe = transport
            .create_node(&NodeOptions::new("probe", "/"))
            .expect("node");
        let metrics = Publisher::new(probe.as_mut(), "/vla_perf/metrics", Qos::reliable(10))
            .expect("publisher");
        let alerts = Subscription::typed(probe.as_mut(), "/vla_perf/alerts", Qos::reliable(100))
            .expect("subscription");
        let history = dir.path().join("history.jsonl");
        let mut settings = Settings::new(history.clone());
        settings.evaluation_period = Duration::from_millis(50);
        settings.retry = RetryPolicy {
            attempts: 5,
            first_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(2),
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = runtime.spawn(vla_perf::alerts::run(
            rules,
            settings,
            Arc::new(transport),
            0,
            async move {
                let _ = stopped.await;
            },
        ));
        Self {
            runtime,
            stop: Some(stop),
            task: Some(task),
            metrics,
            alerts,
            history,
            _dir: dir,
        }
    }

    /// Publishes `latency` every 50 ms until the node publishes an alert in `state`;
    /// returns it and when the first sample was published.
    fn drive(&mut self, latency: f64, state: u8) -> (Alert, Instant) {
        let started = Instant::now();
        let deadline = started + LIMIT;
        loop {
            assert!(Instant::now() < deadline, "no alert in state {state}");
            self.metrics.publish(&batch(latency)).expect("publish");
            let alerts = &mut self.alerts;
            let got = self.runtime.block_on(async {
                tokio::time::timeout(Duration::from_millis(50), alerts.recv()).await
            });
            if let Ok(Some(alert)) = got {
                if alert.message.state == state {
                    return (alert.message, started);
                }
            }
        }
    }

    fn stop(mut self) -> Vec<Record> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            self.runtime
                .block_on(task)
                .expect("node task")
                .expect("node ran");
        }
        let (records, skipped) = history::read(&self.history).expect("history");
        assert_eq!(skipped, 0);
        records
    }
}

/// What the collector publishes: end-to-end latency over its 10 s window.
fn batch(latency: f64) -> MetricArray {
    MetricArray {
        robot_id: "r1".into(),
        metrics: vec![MetricSummary {
            name: "end_to_end_latency".into(),
            unit: "s".into(),
            window: 10.0,
            count: 4,
            mean: latency,
            stddev: 0.0,
            min: latency,
            max: latency,
            p50: latency,
            p90: latency,
            p95: latency,
            p99: latency,
            p999: latency,
            tags: Vec::<KeyValue>::new(),
        }],
        ..MetricArray::default()
    }
}

#[test]
fn aiosmtpd_receives_the_firing_and_the_resolved_mail() {
    common::require_python_module("aiosmtpd");
    let port = free_port();
    let smtp = Peer::start("smtp_sink.py", &["--port", &port.to_string()]);
    assert_eq!(smtp.next("ready line")["ready"], port);
    let mut node = Node::start(&format!(
        "{{type: email, recipients: [ops@example.com, lead@example.com], smtp_server: '127.0.0.1:{port}', from: vla@example.com}}"
    ));
    let (firing, started) = node.drive(2.5, Alert::STATE_FIRING);
    let mail = smtp.next("firing mail");
    println!(
        "email: first violating sample -> mail received: {:?}",
        started.elapsed()
    );
    assert_eq!(mail["from"], "vla@example.com");
    assert_eq!(
        mail["to"],
        serde_json::json!(["ops@example.com", "lead@example.com"])
    );
    assert_eq!(
        mail["subject"],
        "[vla_perf] FIRING critical: e2e_slow on r1"
    );
    let body = mail["body"].as_str().expect("body");
    assert!(
        body.contains("end-to-end latency 2.5000 s on r1 (critical)"),
        "{body}"
    );
    assert!(body.contains("critical threshold: 2"), "{body}");
    assert!(
        body.contains(&format!("alert id: {}", firing.alert_id)),
        "{body}"
    );
    assert!(body.contains("team=vla"), "{body}");
    node.drive(0.2, Alert::STATE_RESOLVED);
    let mail = smtp.next("resolved mail");
    assert_eq!(mail["subject"], "[vla_perf] RESOLVED: e2e_slow on r1");
    assert!(mail["body"].as_str().unwrap_or("").contains("resolved: "));
    let records = node.stop();
    let delivered = records
        .iter()
        .filter(|r| matches!(r, Record::Delivered { channel, .. } if channel.starts_with("email:")))
        .count();
    assert_eq!(delivered, 2);
}

#[test]
fn starttls_to_a_server_without_it_is_retried_given_up_and_recorded() {
    common::require_python_module("aiosmtpd");
    let port = free_port();
    let smtp = Peer::start("smtp_sink.py", &["--port", &port.to_string()]);
    assert_eq!(smtp.next("ready line")["ready"], port);
    let mut node = Node::start(&format!(
        "{{type: email, recipients: [ops@example.com], smtp_server: '127.0.0.1:{port}', tls: starttls}}"
    ));
    node.drive(2.5, Alert::STATE_FIRING);
    // Five attempts with 0.2 s doubling backoff: about 3 s until the channel gives up.
    let deadline = Instant::now() + LIMIT;
    let gave_up = loop {
        let (records, _) = history::read(&node.history).expect("history");
        let found = records.into_iter().find_map(|r| match r {
            Record::GaveUp {
                attempts, error, ..
            } => Some((attempts, error)),
            _ => None,
        });
        if let Some(found) = found {
            break found;
        }
        assert!(Instant::now() < deadline, "the email channel never gave up");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(gave_up.0, 5, "every attempt made: {gave_up:?}");
    assert!(gave_up.1.contains("SMTP"), "{gave_up:?}");
    assert!(
        smtp.lines.try_recv().is_err(),
        "no mail may go out in the clear when STARTTLS is required"
    );
    node.stop();
}

#[test]
fn the_webhook_gets_the_json_again_after_answering_500() {
    let hook = Peer::start("webhook_receiver.py", &["--fail-first", "1"]);
    let port = hook.next("ready line")["ready"].as_u64().expect("port");
    let mut node = Node::start(&format!(
        "{{type: webhook, url: 'http://127.0.0.1:{port}/hooks/vla'}}"
    ));
    let (firing, started) = node.drive(1.5, Alert::STATE_FIRING);
    let first = hook.next("first POST");
    let second = hook.next("retried POST");
    println!(
        "webhook: first violating sample -> delivered after one 500 and a retry: {:?}",
        started.elapsed()
    );
    assert_eq!(
        (first["status"].as_u64(), second["status"].as_u64()),
        (Some(500), Some(200))
    );
    assert_eq!(
        first["body"], second["body"],
        "the retry sends the same notification"
    );
    let body = &second["body"];
    assert_eq!(second["path"], "/hooks/vla");
    assert_eq!(body["rule"], "e2e_slow");
    assert_eq!(body["status"], "firing");
    assert_eq!(body["severity"], "warning");
    assert_eq!(body["alert_id"], firing.alert_id.as_str());
    assert_eq!(body["labels"]["team"], "vla");
    assert_eq!(body["labels"]["robot_id"], "r1");
    assert_eq!(body["value"], 1.5);
    node.drive(3.0, Alert::STATE_FIRING);
    let escalated = hook.next("escalation");
    assert_eq!(escalated["body"]["kind"], "escalated");
    assert_eq!(escalated["body"]["previous_severity"], "warning");
    node.drive(0.1, Alert::STATE_RESOLVED);
    let resolved = hook.next("resolution");
    assert_eq!(resolved["body"]["status"], "resolved");
    assert!(resolved["body"]["ends_at"].is_string());
    let records = node.stop();
    let attempts: Vec<u32> = records
        .iter()
        .filter_map(|r| match r {
            Record::Delivered { attempts, .. } => Some(*attempts),
            _ => None,
        })
        .collect();
    assert_eq!(attempts, vec![2, 1, 1], "the first delivery took one retry");
}

#[test]
fn alertmanager_lists_the_alert_with_its_labels_then_resolves_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut am = Alertmanager::start(dir.path(), LIMIT);
    am.wait_ready();
    let mut node = Node::start(&format!("{{type: alertmanager, url: '{}'}}", am.url));
    let (firing, started) = node.drive(1.5, Alert::STATE_FIRING);
    let active = am.wait_for("e2e_slow", "the firing alert is listed", |alerts| {
        alerts.iter().any(|a| a["status"]["state"] == "active")
    });
    println!(
        "alertmanager: first violating sample -> alert active in its API: {:?}",
        started.elapsed()
    );
    assert_eq!(active.len(), 1, "{active:?}");
    let alert = &active[0];
    assert_eq!(alert["labels"]["alertname"], "e2e_slow");
    assert_eq!(alert["labels"]["severity"], "warning");
    assert_eq!(alert["labels"]["team"], "vla");
    assert_eq!(alert["labels"]["robot_id"], "r1");
    assert_eq!(alert["annotations"]["alert_id"], firing.alert_id.as_str());
    assert_eq!(alert["generatorURL"], "vla-perf://r1/alerts/e2e_slow");

    // Escalation: the warning alert ends, the critical one is the only active one.
    node.drive(2.5, Alert::STATE_FIRING);
    am.wait_for("e2e_slow", "only the critical alert is active", |alerts| {
        let active: Vec<&Value> = alerts
            .iter()
            .filter(|a| a["status"]["state"] == "active")
            .collect();
        active.len() == 1 && active[0]["labels"]["severity"] == "critical"
    });

    node.drive(0.2, Alert::STATE_RESOLVED);
    // A resolved alert (endsAt in the past) is no longer active; Alertmanager drops it from
    // its list or shows it with an endsAt no later than now.
    let after = am.wait_for("e2e_slow", "the alert resolves", |alerts| {
        alerts.iter().all(|a| a["status"]["state"] != "active")
    });
    for a in &after {
        let ends = a["endsAt"].as_str().unwrap_or("");
        let ends = humantime::parse_rfc3339_weak(ends).expect("endsAt");
        assert!(ends <= std::time::SystemTime::now(), "{a}");
    }
    node.stop();
}
