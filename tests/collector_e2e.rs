//! End to end: the collector node measures a simulated VLA stack that nobody here wrote the
//! middleware of. `tests/peers/stack_peer.py` plays voice -> transcript -> plan -> vision ->
//! action on Cyclone DDS and prints the wall time of every message it sends; the collector
//! (ros2-client/RustDDS) must report each command's outcome and, for every stage it
//! reached, a latency equal to the difference of those send times.
//!
//! The collector times stages by receive time, so each measured latency differs from the
//! truth by the difference of two loopback delivery delays; 1 ms at p99 is far above that
//! and far below every simulated stage delay (>= 10 ms), so a collector that pairs a stage
//! with the wrong command, or times it by anything but its own message, fails.
//!
//! Runs in a private network namespace on its own domain id (see `common::isolated`).

#![cfg(feature = "ros2-client")]

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{isolated, repo, require_python_module, LOOPBACK_MULTICAST};
use vla_perf::msg::builtin_interfaces::Time;
use vla_perf::msg::CommandLatency;
use vla_perf::transport::ros2_client::Ros2ClientTransport;
use vla_perf::transport::{NodeOptions, Qos, Subscription, Transport, Typed};

const DOMAIN: u16 = 41;
const ROBOT: &str = "e2e_robot";
const STAGES: [&str; 6] = [
    "voice",
    "transcript",
    "plan",
    "vision",
    "action_start",
    "action_done",
];
/// The collector's command timeout, seconds (also written into its config).
const COMMAND_TIMEOUT: f64 = 3.0;
/// Allowed |measured - true| latency at the 99th percentile, seconds.
const TOLERANCE: f64 = 0.001;

/// The collector config matching stack_peer.py's topics.
const SETTINGS: &str = r#"  robot_id: e2e_robot
  namespace: /vla_perf
  command_timeout: 3s
  publish_period: 500ms
  resources: {period: 1s, processes: [], gpu: false}
  prometheus: {enabled: false}
"#;

/// One scripted command: what the stack does with it and how long each stage takes.
struct Scripted {
    id: &'static str,
    /// succeeded | rejected | aborted | lost (stack_peer.py outcomes).
    outcome: &'static str,
    /// Seconds from the previous stage: transcript, plan, vision, action_start, action_done.
    delays: [f64; 5],
}

impl Scripted {
    /// Stages the stack publishes for this command.
    fn reached(&self) -> usize {
        match self.outcome {
            "rejected" | "lost" => 3,
            _ => STAGES.len(),
        }
    }

    fn duration(&self) -> f64 {
        self.delays[..self.reached() - 1].iter().sum()
    }

    /// (outcome constant, failed stage) the collector must report.
    fn expected(&self) -> (u8, &'static str) {
        match self.outcome {
            "succeeded" => (CommandLatency::OUTCOME_SUCCEEDED, ""),
            "rejected" => (CommandLatency::OUTCOME_FAILED, "plan"),
            "aborted" => (CommandLatency::OUTCOME_FAILED, "action_done"),
            "lost" => (CommandLatency::OUTCOME_TIMED_OUT, ""),
            other => unreachable!("unknown scripted outcome {other}"),
        }
    }
}

/// Twelve commands with varied delays (10 ms .. 900 ms), two plans rejected, one goal
/// aborted and one command lost after its plan.
fn script() -> Vec<Scripted> {
    let c = |id, outcome, delays| Scripted {
        id,
        outcome,
        delays,
    };
    vec![
        c("c00", "succeeded", [0.12, 0.45, 0.05, 0.02, 0.80]),
        c("c01", "succeeded", [0.30, 0.20, 0.10, 0.05, 0.40]),
        c("c02", "rejected", [0.15, 0.60, 0.0, 0.0, 0.0]),
        c("c03", "succeeded", [0.08, 0.90, 0.03, 0.01, 0.25]),
        c("c04", "aborted", [0.20, 0.35, 0.07, 0.02, 0.50]),
        c("c05", "succeeded", [0.25, 0.15, 0.12, 0.04, 0.60]),
        c("c06", "lost", [0.10, 0.30, 0.0, 0.0, 0.0]),
        c("c07", "succeeded", [0.05, 0.55, 0.02, 0.03, 0.35]),
        c("c08", "rejected", [0.40, 0.10, 0.0, 0.0, 0.0]),
        c("c09", "succeeded", [0.18, 0.28, 0.09, 0.015, 0.70]),
        c("c10", "succeeded", [0.11, 0.33, 0.04, 0.06, 0.15]),
        c("c11", "succeeded", [0.22, 0.12, 0.06, 0.025, 0.45]),
    ]
}

/// stack_peer.py's plan: commands back to back 0.3 s apart. After the lost command the stack
/// stays quiet until it has timed out, because the vision and action stages pair FIFO and
/// would otherwise (rightly) be given to the oldest command still waiting for them.
fn plan_json(script: &[Scripted]) -> (serde_json::Value, f64) {
    let mut start = 0.5;
    let mut commands = Vec::new();
    for c in script {
        let mut delays = serde_json::Map::new();
        for (stage, delay) in STAGES[1..c.reached()].iter().zip(c.delays) {
            delays.insert((*stage).into(), delay.into());
        }
        commands.push(serde_json::json!({
            "id": c.id, "start": start, "outcome": c.outcome, "delays": delays,
        }));
        start += c.duration()
            + if c.outcome == "lost" {
                COMMAND_TIMEOUT + 1.5
            } else {
                0.3
            };
    }
    (
        serde_json::json!({"domain": DOMAIN, "period": 1.0, "commands": commands}),
        start,
    )
}

/// The simulated stack process; killed if the test ends without waiting for it.
struct Stack(Option<Child>);

impl Stack {
    fn start(plan: &std::path::Path) -> Self {
        let child = Command::new("python3")
            .arg(repo().join("tests/peers/stack_peer.py"))
            .args(["--plan"])
            .arg(plan)
            .args(["--domain", &DOMAIN.to_string(), "--timeout", "30"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 must be installed; run `bash .ci/setup`");
        Self(Some(child))
    }

    /// Exit status once the process has exited.
    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.0.as_mut().and_then(|c| c.try_wait().ok().flatten())
    }

    /// Waits up to `limit`; the send time of every (command id, stage), or a panic with the
    /// stack's stderr when it failed or hung.
    fn finish(mut self, limit: Duration) -> HashMap<(String, String), f64> {
        let mut child = self.0.take().expect("finished once");
        let deadline = Instant::now() + limit;
        while child.try_wait().expect("stack status").is_none() {
            if Instant::now() >= deadline {
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let output = child.wait_with_output().expect("stack output");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "stack_peer.py failed ({}):\n{stderr}",
            output.status
        );
        BufReader::new(&output.stdout[..])
            .lines()
            .map(|line| {
                let v: serde_json::Value =
                    serde_json::from_str(&line.expect("utf-8")).expect("stack prints JSON lines");
                let key = (
                    v["id"].as_str().expect("id").to_owned(),
                    v["stage"].as_str().expect("stage").to_owned(),
                );
                (key, v["t"].as_f64().expect("t"))
            })
            .collect()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn seconds(t: &Time) -> f64 {
    f64::from(t.sec) + f64::from(t.nanosec) * 1e-9
}

/// Nearest-rank percentile of `values` (sorted in place).
fn percentile(values: &mut [f64], p: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let rank = (p * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

#[test]
fn collector_reports_every_command_of_a_cyclone_stack_with_true_stage_latencies() {
    if !isolated(
        "collector_reports_every_command_of_a_cyclone_stack_with_true_stage_latencies",
        LOOPBACK_MULTICAST,
    ) {
        return;
    }
    require_python_module("cyclonedds");
    let script = script();
    let (plan, run_length) = plan_json(&script);
    let dir = tempfile::tempdir().expect("temp dir");
    let plan_path = dir.path().join("plan.json");
    std::fs::write(&plan_path, plan.to_string()).expect("write plan");
    let config_path = dir.path().join("collector.yaml");
    std::fs::File::create(&config_path)
        .and_then(|mut f| f.write_all(common::stack_peer_config(SETTINGS, "").as_bytes()))
        .expect("write config");
    let config = vla_perf::config::load_collector(&config_path).expect("the test config is valid");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let (received, sent, unexpected) = runtime.block_on(async {
        // Our subscription exists before the collector, so it has discovered the collector's
        // publisher long before the first command finishes (>= 1 s after the stack matched).
        let mut node = Ros2ClientTransport
            .create_node(&NodeOptions::new("vla_perf_e2e_probe", "/").with_domain(DOMAIN))
            .expect("node");
        let mut latencies = Subscription::<Typed<CommandLatency>>::typed(
            node.as_mut(),
            "/vla_perf/command_latency",
            Qos::reliable(100),
        )
        .expect("subscription");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let transport: Arc<dyn Transport> = Arc::new(Ros2ClientTransport);
        let collector = tokio::spawn(vla_perf::collector::run(
            config,
            transport,
            DOMAIN,
            async move {
                let _ = stopped.await;
            },
        ));

        let mut stack = Stack::start(&plan_path);
        let ids: Vec<&str> = script.iter().map(|c| c.id).collect();
        let mut received: HashMap<String, CommandLatency> = HashMap::new();
        let mut unexpected = Vec::new();
        // Readers matched within 30 s, the run itself, the last timeout: then give up.
        let deadline = Instant::now() + Duration::from_secs_f64(30.0 + run_length + 10.0);
        while received.len() < ids.len() && Instant::now() < deadline {
            match tokio::time::timeout(Duration::from_millis(500), latencies.recv()).await {
                Ok(Some(r)) => {
                    let m = r.message;
                    if ids.contains(&m.command_id.as_str()) && !received.contains_key(&m.command_id)
                    {
                        received.insert(m.command_id.clone(), m);
                    } else {
                        unexpected.push(m);
                    }
                }
                Ok(None) => break,
                // A stack that died (no readers, bad plan) will not send anything more.
                Err(_) if stack.exited().is_some_and(|s| !s.success()) => break,
                Err(_) => {}
            }
        }
        let sent = tokio::task::spawn_blocking(move || stack.finish(Duration::from_secs(60)))
            .await
            .expect("stack join");
        let _ = stop.send(());
        let result = tokio::time::timeout(Duration::from_secs(10), collector)
            .await
            .expect("the collector stops within 10 s of its shutdown signal")
            .expect("collector task");
        assert!(
            result.is_ok(),
            "collector::run returned an error: {result:?}"
        );
        (received, sent, unexpected)
    });

    assert!(
        unexpected.is_empty(),
        "command latencies for unknown or repeated commands: {unexpected:#?}"
    );
    let missing: Vec<&str> = script
        .iter()
        .map(|c| c.id)
        .filter(|id| !received.contains_key(*id))
        .collect();
    assert!(missing.is_empty(), "no CommandLatency for {missing:?}");

    let truth = |id: &str, stage: &str| -> f64 {
        *sent
            .get(&(id.to_owned(), stage.to_owned()))
            .unwrap_or_else(|| panic!("the stack sent no {stage} for {id}"))
    };
    // (what, |measured - true|) for every latency the collector reported.
    let mut errors: Vec<(String, f64)> = Vec::new();
    for c in &script {
        let m = &received[c.id];
        let (outcome, failed_stage) = c.expected();
        assert_eq!(
            (m.outcome, m.failed_stage.as_str()),
            (outcome, failed_stage),
            "{} ({}): outcome and failed stage",
            c.id,
            c.outcome
        );
        assert_eq!(m.robot_id, ROBOT, "{}: robot id", c.id);
        let names: Vec<&str> = m.stages.iter().map(|s| s.stage.as_str()).collect();
        assert_eq!(names, STAGES, "{}: every configured stage, in order", c.id);
        let t_voice = truth(c.id, "voice");
        // Receive times cannot precede send times on one machine's wall clock.
        assert!(
            seconds(&m.started) + 1e-6 >= t_voice,
            "{}: started {} before the voice message was sent at {t_voice}",
            c.id,
            seconds(&m.started)
        );
        for (i, s) in m.stages.iter().enumerate() {
            let reached = i < c.reached();
            assert_eq!(s.reached, reached, "{} {}: reached", c.id, s.stage);
            if i == 0 || !reached {
                assert!(
                    s.latency.is_nan(),
                    "{} {}: latency {} should be NaN",
                    c.id,
                    s.stage,
                    s.latency
                );
                continue;
            }
            let expected = truth(c.id, s.stage.as_str()) - truth(c.id, STAGES[i - 1]);
            errors.push((
                format!(
                    "{} {}: measured {:.6} true {expected:.6}",
                    c.id, s.stage, s.latency
                ),
                (s.latency - expected).abs(),
            ));
        }
        match c.outcome {
            "succeeded" => {
                let expected = truth(c.id, "action_done") - t_voice;
                errors.push((
                    format!(
                        "{} end_to_end: measured {:.6} true {expected:.6}",
                        c.id, m.end_to_end
                    ),
                    (m.end_to_end - expected).abs(),
                ));
            }
            _ => assert!(
                m.end_to_end.is_nan(),
                "{}: end_to_end {} of an unsuccessful command should be NaN",
                c.id,
                m.end_to_end
            ),
        }
        if c.outcome == "lost" {
            let open_for = seconds(&m.ended) - seconds(&m.started);
            assert!(
                open_for >= COMMAND_TIMEOUT - 1e-6,
                "{}: timed out after {open_for:.3} s, before the {COMMAND_TIMEOUT} s timeout",
                c.id
            );
        }
    }

    assert!(errors.len() >= 50, "{} latencies compared", errors.len());
    let mut abs: Vec<f64> = errors.iter().map(|(_, e)| *e).collect();
    let p99 = percentile(&mut abs, 0.99);
    let (worst, max) = errors
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(w, e)| (w.as_str(), *e))
        .expect("errors");
    println!(
        "{} latencies: |error| p99 {:.3} ms, max {:.3} ms ({worst})",
        errors.len(),
        p99 * 1e3,
        max * 1e3
    );
    assert!(
        p99 <= TOLERANCE,
        "stage latencies off by {:.3} ms at p99 (> {:.1} ms); max {:.3} ms: {worst}",
        p99 * 1e3,
        TOLERANCE * 1e3,
        max * 1e3
    );
}
