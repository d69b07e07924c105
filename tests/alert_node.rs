//! The `alert_manager` binary over DDS (ros2-client/RustDDS, in a private network
//! namespace): metric batches published by the test cross a threshold and recover, and the
//! node must publish pending -> firing -> resolved on `/vla_perf/alerts` and write its file
//! channel; then the same node is SIGKILLed again and again mid-stream and must lose no
//! record and send no notification twice.

#![cfg(feature = "ros2-client")]

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{isolated, LOOPBACK_MULTICAST};
use serde_json::Value;
use vla_perf::alerts::history::{self, Record};
use vla_perf::core::alert::{NotifyKind, State};
use vla_perf::msg::diagnostic_msgs::DiagnosticArray;
use vla_perf::msg::{Alert, MetricArray, MetricSummary};
use vla_perf::transport::ros2_client::Ros2ClientTransport;
use vla_perf::transport::{NodeOptions, Publisher, Qos, Subscription, Transport, Typed};

const LIMIT: Duration = Duration::from_secs(60);

fn rules(dir: &Path) -> PathBuf {
    let path = dir.join("rules.yaml");
    let text = format!(
        "rules:\n  - name: e2e_slow\n    metric: end_to_end_latency\n    aggregation: last\n    \
         warning: 1.0\n    critical: 2.0\n    window: 2s\n    consecutive_violations: 3\n    \
         repeat_interval: 500ms\n\
         notifications:\n  channels:\n    - {{type: file, path: '{}'}}\n  alert_cooldown: 1h\n",
        dir.join("alerts.jsonl").display()
    );
    std::fs::write(&path, text).expect("rules");
    path
}

/// Starts the binary on `domain` with its history in `dir`.
fn start_node(dir: &Path, domain: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_alert_manager"))
        .arg("--config")
        .arg(rules(dir))
        .args([
            "--domain",
            &domain.to_string(),
            "--evaluation-period",
            "100ms",
        ])
        .arg("--history")
        .arg(dir.join("history.jsonl"))
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("alert_manager binary")
}

fn batch(latency: f64) -> MetricArray {
    MetricArray {
        robot_id: "r1".into(),
        metrics: vec![MetricSummary {
            name: "end_to_end_latency".into(),
            unit: "s".into(),
            window: 10.0,
            count: 3,
            mean: latency,
            stddev: 0.0,
            min: latency,
            max: latency,
            p50: latency,
            p90: latency,
            p95: latency,
            p99: latency,
            p999: latency,
            tags: Vec::new(),
        }],
        ..MetricArray::default()
    }
}

struct Probe {
    runtime: tokio::runtime::Runtime,
    metrics: Arc<Publisher<MetricArray>>,
    alerts: Subscription<Typed<Alert>>,
    diagnostics: Subscription<Typed<DiagnosticArray>>,
    _node: Box<dyn vla_perf::transport::Node>,
}

impl Probe {
    fn new(domain: u16) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let _entered = runtime.enter();
        let mut node = Ros2ClientTransport
            .create_node(&NodeOptions::new("vla_perf_alert_probe", "/").with_domain(domain))
            .expect("node");
        let metrics = Arc::new(
            Publisher::new(node.as_mut(), "/vla_perf/metrics", Qos::reliable(10))
                .expect("publisher"),
        );
        let alerts = Subscription::typed(node.as_mut(), "/vla_perf/alerts", Qos::reliable(100))
            .expect("alerts");
        let diagnostics = Subscription::typed(node.as_mut(), "/diagnostics", Qos::reliable(10))
            .expect("diagnostics");
        Self {
            runtime,
            metrics,
            alerts,
            diagnostics,
            _node: node,
        }
    }

    /// Waits for the node's first rule status on /diagnostics: it is up and discovered.
    fn wait_for_node(&mut self) -> DiagnosticArray {
        let diagnostics = &mut self.diagnostics;
        self.runtime.block_on(async {
            let deadline = tokio::time::Instant::now() + LIMIT;
            loop {
                let got = tokio::time::timeout_at(deadline, diagnostics.recv())
                    .await
                    .expect("the alert node publishes /diagnostics")
                    .expect("open");
                if got
                    .message
                    .status
                    .iter()
                    .any(|s| s.name == "vla_perf: alert rule e2e_slow")
                {
                    return got.message;
                }
            }
        })
    }

    /// Alerts received during the next `wait`.
    fn alerts_within(&mut self, wait: Duration) -> Vec<Alert> {
        let alerts = &mut self.alerts;
        self.runtime.block_on(async {
            let deadline = tokio::time::Instant::now() + wait;
            let mut out = Vec::new();
            while let Ok(Some(a)) = tokio::time::timeout_at(deadline, alerts.recv()).await {
                out.push(a.message);
            }
            out
        })
    }
}

#[test]
fn metrics_over_dds_raise_pending_firing_and_resolved_alerts_and_file_lines() {
    if !isolated(
        "metrics_over_dds_raise_pending_firing_and_resolved_alerts_and_file_lines",
        LOOPBACK_MULTICAST,
    ) {
        return;
    }
    const DOMAIN: u16 = 71;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut probe = Probe::new(DOMAIN);
    let mut node = start_node(dir.path(), DOMAIN);
    let status = probe.wait_for_node();
    let rule = status
        .status
        .iter()
        .find(|s| s.name == "vla_perf: alert rule e2e_slow")
        .expect("rule status");
    assert_eq!(rule.level, 0, "OK before any data: {rule:?}");

    let mut received = Vec::new();
    for (latency, until) in [(2.5, Alert::STATE_FIRING), (0.3, Alert::STATE_RESOLVED)] {
        let deadline = Instant::now() + LIMIT;
        while !received.iter().any(|a: &Alert| a.state == until) {
            assert!(Instant::now() < deadline, "no state {until}: {received:?}");
            probe.metrics.publish(&batch(latency)).expect("publish");
            received.extend(probe.alerts_within(Duration::from_millis(100)));
        }
    }
    let _ = node.kill();
    let _ = node.wait();
    let states: Vec<u8> = received.iter().map(|a| a.state).collect();
    assert_eq!(
        states,
        [
            Alert::STATE_PENDING,
            Alert::STATE_FIRING,
            Alert::STATE_RESOLVED
        ]
    );
    let firing = &received[1];
    assert_eq!(firing.severity, Alert::SEVERITY_CRITICAL);
    assert_eq!(
        (firing.rule.as_str(), firing.robot_id.as_str()),
        ("e2e_slow", "r1")
    );
    assert_eq!(firing.metric, "end_to_end_latency");
    assert_eq!(
        (firing.warning_threshold, firing.critical_threshold),
        (1.0, 2.0)
    );
    assert_eq!(firing.value, 2.5);
    assert!(received.iter().all(|a| a.alert_id == firing.alert_id));
    let lines: Vec<Value> = std::fs::read_to_string(dir.path().join("alerts.jsonl"))
        .expect("file channel")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let kinds: Vec<&str> = lines.iter().filter_map(|l| l["kind"].as_str()).collect();
    assert_eq!(kinds.first(), Some(&"firing"));
    assert_eq!(kinds.last(), Some(&"resolved"));
    assert!(lines
        .iter()
        .all(|l| l["alert_id"] == firing.alert_id.as_str()));
}

/// The latency pattern the metric stream follows, sample by sample (every 50 ms): long
/// enough in each band to fire, repeat, escalate, de-escalate and resolve.
fn pattern(i: u64) -> f64 {
    match i % 60 {
        0..=9 => 0.3,
        10..=29 => 1.5,
        30..=39 => 2.5,
        40..=49 => 1.5,
        _ => 0.2,
    }
}

/// A small deterministic generator for kill times (no dependency, reproducible).
fn next(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    *seed >> 33
}

#[test]
fn sigkill_at_any_moment_loses_no_record_and_sends_nothing_twice() {
    if !isolated(
        "sigkill_at_any_moment_loses_no_record_and_sends_nothing_twice",
        LOOPBACK_MULTICAST,
    ) {
        return;
    }
    const DOMAIN: u16 = 72;
    const KILLS: usize = 12;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut probe = Probe::new(DOMAIN);
    // The stream runs on its own thread through every kill and restart.
    let running = Arc::new(AtomicBool::new(true));
    let metrics = probe.metrics.clone();
    let streamer = {
        let running = running.clone();
        std::thread::spawn(move || {
            let mut i = 0;
            while running.load(Ordering::Relaxed) {
                if let Err(e) = metrics.publish(&batch(pattern(i))) {
                    eprintln!("publishing metrics: {e}");
                }
                i += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let mut received: Vec<Alert> = Vec::new();
    let mut seed = 0x5eed_u64;
    for _ in 0..KILLS {
        let mut node = start_node(dir.path(), DOMAIN);
        probe.wait_for_node();
        // Alive between 0.2 s and 2.5 s, then killed without warning.
        let alive = Duration::from_millis(200 + next(&mut seed) % 2300);
        let until = Instant::now() + alive;
        while Instant::now() < until {
            received.extend(probe.alerts_within(Duration::from_millis(20)));
        }
        node.kill().expect("SIGKILL");
        let _ = node.wait();
        received.extend(probe.alerts_within(Duration::from_millis(50)));
    }
    // A last run long enough to pass through a whole pattern, then the stream stops with
    // a recovered metric and the node finishes what it has to deliver.
    let mut node = start_node(dir.path(), DOMAIN);
    probe.wait_for_node();
    received.extend(probe.alerts_within(Duration::from_secs(8)));
    running.store(false, Ordering::Relaxed);
    streamer.join().expect("streamer");
    let deadline = Instant::now() + LIMIT;
    loop {
        probe.metrics.publish(&batch(0.1)).expect("publish");
        received.extend(probe.alerts_within(Duration::from_millis(100)));
        let last = received.last().map(|a| a.state);
        if last == Some(Alert::STATE_RESOLVED) || last == Some(Alert::STATE_INACTIVE) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the alert never settled: {received:?}"
        );
    }
    // Give deliveries a moment, then stop cleanly (SIGTERM) so outcomes are recorded.
    received.extend(probe.alerts_within(Duration::from_millis(500)));
    terminate(&mut node);

    let (records, torn) = history::read(&dir.path().join("history.jsonl")).expect("history");
    assert!(
        torn <= KILLS as u64,
        "{torn} torn lines after {KILLS} kills"
    );
    // Sequence numbers are unique: no record written twice.
    let seqs: HashSet<u64> = records.iter().map(Record::seq).collect();
    assert_eq!(seqs.len(), records.len());

    // Every transition exactly once: per alert, each change starts where the last ended.
    let mut last_state: HashMap<String, State> = HashMap::new();
    let mut transitions = 0;
    let mut recorded: HashSet<(String, u8, i32, u32)> = HashSet::new();
    for r in &records {
        if let Record::Transition { transition: t, .. } = r {
            transitions += 1;
            let before = last_state
                .get(&t.key.alert_id)
                .copied()
                .unwrap_or(State::Inactive);
            let from = if t.from == State::Resolved {
                State::Inactive
            } else {
                t.from
            };
            assert_eq!(before, from, "transition {t:?} does not follow {before:?}");
            let after = if t.to == State::Resolved {
                State::Inactive
            } else {
                t.to
            };
            last_state.insert(t.key.alert_id.clone(), after);
            let message = vla_perf::alerts::node::alert_message(t);
            recorded.insert((
                message.alert_id,
                message.state,
                message.header.stamp.sec,
                message.header.stamp.nanosec,
            ));
        }
    }
    assert!(
        transitions >= 6,
        "the stream went through several alert lives: {transitions}"
    );
    // No alert message was published without its record.
    for a in &received {
        let key = (
            a.alert_id.clone(),
            a.state,
            a.header.stamp.sec,
            a.header.stamp.nanosec,
        );
        assert!(recorded.contains(&key), "published but not recorded: {a:?}");
    }

    // Notifications: each decided once, in a valid order, and delivered exactly once.
    let mut decided: BTreeMap<String, (NotifyKind, Duration)> = BTreeMap::new();
    let mut order: Vec<(NotifyKind, Duration)> = Vec::new();
    for r in &records {
        let n = match r {
            Record::Transition {
                notification: Some(n),
                ..
            }
            | Record::Notification {
                notification: n, ..
            } => n,
            _ => continue,
        };
        assert!(
            decided.insert(n.id.clone(), (n.kind, n.at)).is_none(),
            "notification {} decided twice",
            n.id
        );
        order.push((n.kind, n.at));
    }
    let mut firing = false;
    let mut last_at: Option<Duration> = None;
    for (kind, at) in &order {
        match kind {
            NotifyKind::Firing => {
                assert!(!firing, "fired again without resolving: {order:?}");
                firing = true;
            }
            NotifyKind::Resolved => {
                assert!(firing, "resolved without firing: {order:?}");
                firing = false;
            }
            NotifyKind::Repeat => {
                assert!(firing);
                let gap = *at - last_at.expect("a notification before a repeat");
                assert!(
                    gap >= Duration::from_millis(500),
                    "repeat after {gap:?}: {order:?}"
                );
            }
            NotifyKind::Escalated | NotifyKind::Deescalated => assert!(firing),
        }
        last_at = Some(*at);
    }
    let lines = std::fs::read_to_string(dir.path().join("alerts.jsonl")).expect("file channel");
    let mut in_file: HashMap<String, usize> = HashMap::new();
    let mut torn_lines = 0;
    for line in lines.lines() {
        match serde_json::from_str::<Value>(line) {
            Ok(v) => {
                *in_file
                    .entry(v["id"].as_str().unwrap_or_default().to_owned())
                    .or_default() += 1
            }
            Err(_) => torn_lines += 1,
        }
    }
    assert!(torn_lines <= KILLS, "{torn_lines} torn lines");
    for id in decided.keys() {
        assert_eq!(in_file.get(id), Some(&1), "notification {id} in the file");
    }
    assert_eq!(
        in_file.len(),
        decided.len(),
        "nothing in the file that was not decided"
    );
    println!(
        "{KILLS} kills: {} records ({torn} torn), {transitions} transitions, {} notifications, {} alert messages received",
        records.len(),
        decided.len(),
        received.len()
    );
}

/// Stops the node with SIGTERM and waits for it to exit.
fn terminate(node: &mut Child) {
    let pid = node.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = node.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = node.kill();
    let _ = node.wait();
    panic!("alert_manager did not stop within 10 s of SIGTERM");
}
