//! End to end: the collector node measures a simulated VLA stack that nobody here wrote the
//! middleware of. `tests/peers/stack_peer.py` plays voice -> transcript -> plan -> vision ->
//! action on Cyclone DDS and prints the wall time of every message it sends; the collector
//! (ros2-client/RustDDS) must report each command's outcome and, for every stage it
//! reached, a latency equal to the difference of those send times.
//!
//! The collector times stages by the DDS source timestamp of each write, which the peer sets
//! to the time it prints, so each measured latency should equal the truth; 1 ms at p99 is far
//! below every simulated stage delay (>= 10 ms), so a collector that pairs a stage with the
//! wrong command, or times it by anything but its own message, fails.
//!
//! Runs in a private network namespace on its own domain id (see `common::isolated`).

#![cfg(feature = "ros2-client")]

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::stack_peer::{latency_errors, plan_json, ErrorSummary, Pacing, Scripted, StackProcess};
use common::{isolated, repo, require_python_module, LOOPBACK_MULTICAST};
use vla_perf::msg::CommandLatency;
use vla_perf::transport::ros2_client::Ros2ClientTransport;
use vla_perf::transport::{NodeOptions, Qos, Subscription, Transport, Typed};

const DOMAIN: u16 = 41;
const ROBOT: &str = "e2e_robot";
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

/// Twelve commands with varied delays (10 ms .. 900 ms), two plans rejected, one goal
/// aborted and one command lost after its plan.
fn script() -> Vec<Scripted> {
    let c = Scripted::new;
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
    // Commands back to back 0.3 s apart; after the lost command the stack stays quiet
    // until it has timed out.
    let pacing = Pacing {
        gap: 0.3,
        quiet_after_lost: COMMAND_TIMEOUT + 1.5,
    };
    let (plan, run_length) = plan_json(&script, DOMAIN, pacing);
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

        let mut stack = {
            let mut command = common::python();
            command
                .arg(repo().join("tests/peers/stack_peer.py"))
                .arg("--plan")
                .arg(&plan_path)
                .args(["--domain", &DOMAIN.to_string(), "--timeout", "30"]);
            StackProcess::start("stack_peer.py", command)
        };
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
            .expect("stack join")
            .times;
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

    let errors = latency_errors(&script, &received, &sent, ROBOT, COMMAND_TIMEOUT);
    assert!(errors.len() >= 50, "{} latencies compared", errors.len());
    let summary = ErrorSummary::of(&errors);
    println!("{summary}");
    assert!(
        summary.p99 <= TOLERANCE,
        "stage latencies off by {:.3} ms at p99 (> {:.1} ms); max {:.3} ms: {}",
        summary.p99 * 1e3,
        TOLERANCE * 1e3,
        summary.max * 1e3,
        summary.worst
    );
}
