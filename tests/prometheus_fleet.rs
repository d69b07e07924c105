//! A fleet on Prometheus: three robots, each a SIMULATED stack (`sim_stack`) measured by its
//! own `collector` on its own DDS domain, one real Prometheus scraping the three endpoints
//! with the rules `vla-perf export prometheus-rules --recording` made of
//! `tests/fixtures/prometheus/fleet_alerts.yaml`, and a real Alertmanager receiving its
//! alerts. After a healthy phase one robot's stack restarts degraded (planning 6x slower):
//! Prometheus' alert must fire for that robot only and reach Alertmanager, the other two
//! stay quiet throughout, and the fleet p95 recording rule must agree with the p95 of every
//! succeeded command in the three collectors' JSONL files within the resolution of the histogram (the width of the bucket the exact p95 falls in).
//! Runs in a private network namespace.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::drive::Stopping;
use common::servers::{free_port, http_agent, Alertmanager, Prometheus};
use common::{isolated, repo, LOOPBACK_MULTICAST};
use serde_json::Value;
use vla_perf::prometheus::LATENCY_BUCKETS;
use vla_perf::transport::ros2_client::Ros2ClientTransport;
use vla_perf::transport::{NodeOptions, Publisher, Qos, Transport};

const ROBOTS: [&str; 3] = ["robot_1", "robot_2", "robot_3"];
const DEGRADED: &str = "robot_3";
const ALERT: &str = "fleet_plan_slow";
const FIRST_DOMAIN: u16 = 81;
const HEALTHY: Duration = Duration::from_secs(20);
const LIMIT: Duration = Duration::from_secs(120);

/// Small, quick stacks: healthy planning 300 +- 50 ms, degraded 6x.
const SIM: &str = "sim_stack:
  planner:
    latency: {mean: 300ms, stddev: 50ms, shape: normal}
    reject_rate: 0.0
  camera: {width: 160, height: 120, rate_hz: 10.0}
  executor:
    execution: {mean: 500ms, stddev: 100ms, shape: normal}
    failure_rate: 0.0
    lost_rate: 0.0
  degrade:
    planner_slowdown: 6.0
    vision_load: 1
";

/// Starts `binary` with `args` on DDS `domain`, its output in `log`; stopped when dropped.
fn start(binary: &str, args: &[&str], domain: u16, log: &Path) -> Stopping {
    let file = std::fs::File::create(log).unwrap();
    let child = Command::new(binary)
        .args(args)
        .env("ROS_DOMAIN_ID", domain.to_string())
        .env("RUST_LOG", "warn,rustdds=off")
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .unwrap_or_else(|e| panic!("{binary}: {e}"));
    Stopping(child)
}

/// The end-to-end latencies of the succeeded commands in a collector's JSONL file.
fn end_to_end(path: &Path) -> Vec<f64> {
    let (lines, _) = common::fault::read_jsonl::<Value>(path);
    lines
        .iter()
        .filter_map(|c| c["end_to_end"].as_f64())
        .filter(|v| v.is_finite())
        .collect()
}

/// The bucket of the latency histogram `v` falls in: (lower, upper].
fn bucket(v: f64) -> (f64, f64) {
    let mut lower = 0.0;
    for upper in LATENCY_BUCKETS {
        if v <= upper {
            return (lower, upper);
        }
        lower = upper;
    }
    (lower, f64::INFINITY)
}

/// Robots of the alerts named ALERT Prometheus holds, by state.
fn prometheus_alerts(prometheus: &Prometheus, agent: &ureq::Agent) -> Vec<(String, String)> {
    prometheus
        .alerts(agent)
        .iter()
        .filter(|a| a["labels"]["alertname"] == ALERT)
        .map(|a| {
            (
                a["labels"]["robot"].as_str().unwrap_or("").to_owned(),
                a["state"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_fleet_prometheus_alerts_on_the_degraded_robot_only_and_records_the_fleet_p95() {
    if !isolated(
        "a_fleet_prometheus_alerts_on_the_degraded_robot_only_and_records_the_fleet_p95",
        LOOPBACK_MULTICAST,
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| -> PathBuf { dir.path().join(name) };
    let sim_config = path("sim.yaml");
    std::fs::write(&sim_config, SIM).unwrap();

    // The rules, as a fleet operator exports them.
    let rules = path("rules.yaml");
    let exported = Command::new(env!("CARGO_BIN_EXE_vla-perf"))
        .args(["export", "prometheus-rules"])
        .arg(repo().join("tests/fixtures/prometheus/fleet_alerts.yaml"))
        .args(["--recording", "--recording-window", "10m", "--out"])
        .arg(&rules)
        .output()
        .unwrap();
    assert!(
        exported.status.success(),
        "{}",
        String::from_utf8_lossy(&exported.stderr)
    );

    // Three robots: a stack and a collector each, on a domain each.
    let mut stacks = Vec::new();
    let mut collectors = Vec::new();
    let mut targets = Vec::new();
    for (i, robot) in ROBOTS.iter().enumerate() {
        let domain = FIRST_DOMAIN + i as u16;
        let port = free_port();
        targets.push(format!("'127.0.0.1:{port}'"));
        let config = path(&format!("{robot}.yaml"));
        std::fs::write(
            &config,
            format!(
                "collector:\n  robot_id: {robot}\n  command_timeout: 10s\n  prometheus: \
                 {{listen: \"127.0.0.1:{port}\"}}\n  jsonl_path: {}\n",
                path(&format!("{robot}.jsonl")).display()
            ),
        )
        .unwrap();
        collectors.push(start(
            env!("CARGO_BIN_EXE_collector"),
            &["--config", config.to_str().unwrap()],
            domain,
            &path(&format!("{robot}.collector.log")),
        ));
        stacks.push(start(
            env!("CARGO_BIN_EXE_sim_stack"),
            &["--config", sim_config.to_str().unwrap()],
            domain,
            &path(&format!("{robot}.sim.log")),
        ));
    }
    let am_dir = path("alertmanager");
    std::fs::create_dir_all(&am_dir).unwrap();
    let mut alertmanager = Alertmanager::start(&am_dir, LIMIT);
    alertmanager.wait_ready();
    let mut prometheus = Prometheus::start(
        dir.path(),
        &format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             rule_files: ['{}']\n\
             alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{}']\n\
             scrape_configs:\n  - job_name: vla_perf\n    static_configs:\n      - targets: [{}]\n",
            rules.display(),
            alertmanager.address(),
            targets.join(", ")
        ),
    );
    let agent = http_agent();
    prometheus.wait_for_targets_up(&agent, 3, Instant::now() + LIMIT);

    // A driver per robot: one spoken command a second.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut drivers = Vec::new();
    let mut speakers = Vec::new();
    for (i, robot) in ROBOTS.iter().enumerate() {
        let _enter = runtime.enter();
        let mut node = Ros2ClientTransport
            .create_node(
                &NodeOptions::new(&format!("fleet_driver_{i}"), "/")
                    .with_domain(FIRST_DOMAIN + i as u16),
            )
            .unwrap();
        let speak = Publisher::new(node.as_mut(), "/audio/utterance", Qos::reliable(10)).unwrap();
        let prefix = format!("{robot}-");
        speakers.push(runtime.spawn(async move {
            common::drive::speak_commands(speak, Duration::from_secs(1), &prefix).await
        }));
        drivers.push(node);
    }

    // Healthy: nobody alerts.
    let healthy_until = Instant::now() + HEALTHY;
    while Instant::now() < healthy_until {
        let alerts = prometheus_alerts(&prometheus, &agent);
        assert!(
            alerts.is_empty(),
            "an alert while every robot is healthy: {alerts:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let healthy_p95 = prometheus.value(
        &agent,
        "max(robot_stage:vla_perf_stage_latency_seconds:p95_rate10m{stage=\"plan\"})",
        Instant::now() + LIMIT,
    );

    // robot_3's stack restarts degraded.
    let degraded = ROBOTS.iter().position(|r| *r == DEGRADED).unwrap();
    drop(stacks.remove(degraded));
    stacks.push(start(
        env!("CARGO_BIN_EXE_sim_stack"),
        &["--config", sim_config.to_str().unwrap(), "--degrade"],
        FIRST_DOMAIN + degraded as u16,
        &path(&format!("{DEGRADED}.sim.degraded.log")),
    ));
    let degraded_at = Instant::now();
    let deadline = degraded_at + LIMIT;
    let fired_after = loop {
        let alerts = prometheus_alerts(&prometheus, &agent);
        for (robot, state) in &alerts {
            assert_eq!(
                robot, DEGRADED,
                "{state} alert for a healthy robot: {alerts:?}"
            );
        }
        if alerts.iter().any(|(_, state)| state == "firing") {
            break degraded_at.elapsed();
        }
        assert!(
            Instant::now() < deadline,
            "{ALERT} never fired for {DEGRADED}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let listed = alertmanager.wait_for(ALERT, "Alertmanager lists the alert", |alerts| {
        !alerts.is_empty()
    });
    let in_alertmanager = degraded_at.elapsed();
    for alert in &listed {
        assert_eq!(alert["labels"]["robot"], DEGRADED, "{listed:?}");
        assert_eq!(alert["labels"]["team"], "planning", "{listed:?}");
        let summary = alert["annotations"]["summary"].as_str().unwrap();
        assert!(summary.contains(&format!("on {DEGRADED}")), "{summary}");
    }
    let severities: Vec<&str> = listed
        .iter()
        .filter_map(|a| a["labels"]["severity"].as_str())
        .collect();
    assert!(severities.contains(&"warning"), "{listed:?}");

    // Stop speaking, let the last commands finish, and compare the fleet p95.
    for speaker in &speakers {
        speaker.abort();
    }
    std::thread::sleep(Duration::from_secs(8));
    let mut all: Vec<f64> = ROBOTS
        .iter()
        .flat_map(|r| end_to_end(&path(&format!("{r}.jsonl"))))
        .collect();
    let succeeded = all.len();
    let first_lines = |robot: &str| -> String {
        let text = std::fs::read_to_string(path(&format!("{robot}.jsonl"))).unwrap_or_default();
        let log =
            std::fs::read_to_string(path(&format!("{robot}.collector.log"))).unwrap_or_default();
        format!(
            "{robot}.jsonl: {:.600}\n{robot} collector log: {log:.2000}",
            text
        )
    };
    assert!(
        succeeded >= 30,
        "only {succeeded} succeeded commands:\n{}",
        ROBOTS.map(first_lines).join("\n")
    );
    prometheus.value_until(
        &agent,
        "sum(vla_perf_end_to_end_latency_seconds_count)",
        |v| v as usize == succeeded,
        Instant::now() + LIMIT,
    );
    // One more scrape and rule evaluation after the count settled.
    std::thread::sleep(Duration::from_secs(3));
    let recorded = prometheus.value(
        &agent,
        "fleet:vla_perf_end_to_end_latency_seconds:p95_rate10m",
        Instant::now() + LIMIT,
    );
    all.sort_by(f64::total_cmp);
    let rank = ((0.95 * succeeded as f64).ceil() as usize).max(1);
    let exact = all[rank - 1];
    let (lower, upper) = bucket(exact);
    println!(
        "healthy planning p95 (recorded, worst robot) {healthy_p95:.3} s; {ALERT} firing in \
         Prometheus {:.1} s after {DEGRADED} degraded, listed by Alertmanager after {:.1} s \
         ({severities:?}); fleet end-to-end p95: recording rule {recorded:.3} s, JSONL \
         {exact:.3} s over {succeeded} succeeded commands (bucket ({lower}, {upper}])",
        fired_after.as_secs_f64(),
        in_alertmanager.as_secs_f64()
    );
    assert!(healthy_p95 < 1.0, "healthy planning p95 {healthy_p95}");
    // Within the histogram's resolution: the width of the bucket the exact p95 falls in.
    assert!(
        (recorded - exact).abs() <= upper - lower,
        "recorded fleet p95 {recorded} vs the JSONL p95 {exact}: further apart than the \
         bucket ({lower}, {upper}]"
    );
    drop(prometheus);
    drop(stacks);
    drop(collectors);
}
