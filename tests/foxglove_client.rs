//! `vla-perf demo` serves Foxglove, and a real client from the Foxglove ecosystem reads it:
//! `tests/foxglove/client.mjs` (Node: `@foxglove/ws-protocol`'s FoxgloveClient, schemas
//! parsed by `@foxglove/rosmsg`, CDR decoded by `@foxglove/rosmsg2-serialization`) connects
//! to the demo's server at 127.0.0.1:8765, receives `serverInfo` and the channel list,
//! subscribes, and decodes CommandLatency, MetricArray and DiagnosticArray messages. Their
//! field values must equal those of the same messages received over DDS by a probe in this
//! process during the same run. Runs in a private network namespace (DDS on loopback only).
//!
//! Needs Node.js and `npm ci` in tests/foxglove (`bash .ci/setup` does both).

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{isolated, repo, LOOPBACK_MULTICAST};
use serde_json::Value;
use vla_perf::msg::builtin_interfaces::Time;
use vla_perf::msg::diagnostic_msgs::DiagnosticArray;
use vla_perf::msg::{CommandLatency, MetricArray};
use vla_perf::transport::ros2_client::Ros2ClientTransport;
use vla_perf::transport::{NodeOptions, Qos, Subscription, Transport, Typed};

const DOMAIN: u16 = 66;
const TOPICS: [&str; 3] = [
    "/vla_perf/command_latency",
    "/vla_perf/metrics",
    "/diagnostics",
];

/// What the DDS probe received, per topic.
#[derive(Default)]
struct OverDds {
    commands: Vec<CommandLatency>,
    metrics: Vec<MetricArray>,
    diagnostics: Vec<DiagnosticArray>,
}

/// Subscribes a probe node to the three topics over DDS on a runtime of its own.
fn probe(runtime: &tokio::runtime::Runtime, seen: Arc<Mutex<OverDds>>) {
    runtime.spawn(async move {
        let mut node = Ros2ClientTransport
            .create_node(&NodeOptions::new("foxglove_test_probe", "/").with_domain(DOMAIN))
            .expect("probe node");
        let qos = Qos::reliable(1000);
        let node = node.as_mut();
        let mut commands =
            Subscription::<Typed<CommandLatency>>::typed(node, TOPICS[0], qos).unwrap();
        let mut metrics = Subscription::<Typed<MetricArray>>::typed(node, TOPICS[1], qos).unwrap();
        let mut diagnostics =
            Subscription::<Typed<DiagnosticArray>>::typed(node, TOPICS[2], qos).unwrap();
        loop {
            tokio::select! {
                Some(m) = commands.recv() => seen.lock().unwrap().commands.push(m.message),
                Some(m) = metrics.recv() => seen.lock().unwrap().metrics.push(m.message),
                Some(m) = diagnostics.recv() => seen.lock().unwrap().diagnostics.push(m.message),
                else => break,
            }
        }
    });
}

fn node_client() -> Command {
    let dir = repo().join("tests/foxglove");
    assert!(
        dir.join("node_modules/@foxglove/ws-protocol").is_dir(),
        "the Foxglove test client's packages are missing: run `bash .ci/setup` (or `npm ci` in \
         tests/foxglove)"
    );
    let mut command = Command::new("node");
    command.arg(dir.join("client.mjs"));
    command
}

/// A float of the client's JSON: a number, or "NaN" / "Infinity" / "-Infinity".
fn float(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap(),
        Value::String(s) => s.parse().unwrap_or_else(|_| panic!("float {s}")),
        other => panic!("float {other}"),
    }
}

fn same_float(what: &str, json: &Value, dds: f64) {
    let v = float(json);
    let same = (v.is_nan() && dds.is_nan()) || v == dds || (v - dds).abs() <= 1e-12 * dds.abs();
    assert!(same, "{what}: Foxglove {v} vs DDS {dds}");
}

/// A `builtin_interfaces/Time` as the client's JSON has it, (sec, nanosec).
fn dds_time(t: &Time) -> (i64, u64) {
    (i64::from(t.sec), u64::from(t.nanosec))
}

fn time(v: &Value) -> (i64, u64) {
    (v["sec"].as_i64().unwrap(), v["nanosec"].as_u64().unwrap())
}

fn check_command(m: &Value, dds: &[CommandLatency]) {
    let id = m["command_id"].as_str().unwrap();
    let c = dds
        .iter()
        .find(|c| c.command_id == id)
        .unwrap_or_else(|| panic!("command {id} decoded from Foxglove never came over DDS"));
    assert_eq!(m["robot_id"], c.robot_id.as_str());
    assert_eq!(m["outcome"], c.outcome);
    assert_eq!(m["failed_stage"], c.failed_stage.as_str());
    assert_eq!(time(&m["started"]), dds_time(&c.started));
    assert_eq!(time(&m["ended"]), dds_time(&c.ended));
    same_float(&format!("{id} end_to_end"), &m["end_to_end"], c.end_to_end);
    let stages = m["stages"].as_array().unwrap();
    assert_eq!(stages.len(), c.stages.len(), "{id} stages");
    for (j, s) in stages.iter().zip(&c.stages) {
        assert_eq!(j["stage"], s.stage.as_str());
        assert_eq!(j["reached"], s.reached);
        same_float(
            &format!("{id} {} latency", s.stage),
            &j["latency"],
            s.latency,
        );
    }
}

fn check_metrics(m: &Value, dds: &[MetricArray]) {
    let stamp = time(&m["header"]["stamp"]);
    let a = dds
        .iter()
        .find(|a| dds_time(&a.header.stamp) == stamp)
        .unwrap_or_else(|| panic!("metrics of {stamp:?} never came over DDS"));
    assert_eq!(m["robot_id"], a.robot_id.as_str());
    let metrics = m["metrics"].as_array().unwrap();
    assert_eq!(metrics.len(), a.metrics.len());
    assert!(!metrics.is_empty());
    for (j, s) in metrics.iter().zip(&a.metrics) {
        let what = format!("{} window {}", s.name, s.window);
        assert_eq!(j["name"], s.name.as_str());
        assert_eq!(j["unit"], s.unit.as_str());
        assert_eq!(j["count"].as_u64(), Some(s.count), "{what}");
        for (field, value) in [
            ("window", s.window),
            ("mean", s.mean),
            ("stddev", s.stddev),
            ("min", s.min),
            ("max", s.max),
            ("p50", s.p50),
            ("p95", s.p95),
            ("p99", s.p99),
        ] {
            same_float(&format!("{what} {field}"), &j[field], value);
        }
        let tags: Vec<(String, String)> = j["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["key"].as_str().unwrap().into(),
                    t["value"].as_str().unwrap().into(),
                )
            })
            .collect();
        let dds_tags: Vec<(String, String)> = s
            .tags
            .iter()
            .map(|t| (t.key.clone(), t.value.clone()))
            .collect();
        assert_eq!(tags, dds_tags, "{what}");
    }
}

fn check_diagnostics(m: &Value, dds: &[DiagnosticArray]) {
    let stamp = time(&m["header"]["stamp"]);
    let names: Vec<&str> = m["status"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    let a = dds
        .iter()
        .find(|a| {
            dds_time(&a.header.stamp) == stamp
                && a.status
                    .iter()
                    .map(|s| s.name.as_str())
                    .eq(names.iter().copied())
        })
        .unwrap_or_else(|| panic!("diagnostics {names:?} of {stamp:?} never came over DDS"));
    for (j, s) in m["status"].as_array().unwrap().iter().zip(&a.status) {
        assert_eq!(j["level"], s.level, "{}", s.name);
        assert_eq!(j["message"], s.message.as_str(), "{}", s.name);
        assert_eq!(j["hardware_id"], s.hardware_id.as_str(), "{}", s.name);
        let values: BTreeMap<&str, &str> = j["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|kv| (kv["key"].as_str().unwrap(), kv["value"].as_str().unwrap()))
            .collect();
        let dds_values: BTreeMap<&str, &str> = s
            .values
            .iter()
            .map(|kv| (kv.key.as_str(), kv.value.as_str()))
            .collect();
        assert_eq!(values, dds_values, "{}", s.name);
    }
}

#[test]
fn a_foxglove_client_decodes_the_demos_messages_with_the_values_sent_over_dds() {
    if !isolated(
        "a_foxglove_client_decodes_the_demos_messages_with_the_values_sent_over_dds",
        LOOPBACK_MULTICAST,
    ) {
        return;
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let seen = Arc::new(Mutex::new(OverDds::default()));
    probe(&runtime, seen.clone());
    let state = tempfile::tempdir().unwrap();
    let mut demo = Command::new(env!("CARGO_BIN_EXE_vla-perf"))
        .args([
            "demo",
            "--no-dashboard",
            "--no-benchmark",
            "--duration",
            "30",
        ])
        .args(["--command-period", "1s", "--domain", &DOMAIN.to_string()])
        .arg("--state-dir")
        .arg(state.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vla-perf binary");
    // The demo tells where to connect on stdout; the collector logs when it serves.
    let mut stdout = BufReader::new(demo.stdout.take().unwrap()).lines();
    let hint = stdout
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.starts_with("Foxglove, live:"))
        .expect("the demo prints where Foxglove connects");
    assert!(
        hint.contains("ws://127.0.0.1:8765") && hint.contains("config/foxglove_layout.json"),
        "{hint}"
    );
    let log = Arc::new(Mutex::new(String::new()));
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let stderr = demo.stderr.take().unwrap();
    let demo_log = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("Foxglove WebSocket server on ws://127.0.0.1:8765") {
                let _ = ready_tx.send(());
            }
            demo_log.lock().unwrap().push_str(&line);
            demo_log.lock().unwrap().push('\n');
        }
    });
    ready_rx
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| {
            panic!(
                "the collector never served Foxglove:\n{}",
                log.lock().unwrap()
            )
        });

    let started = Instant::now();
    let output = node_client()
        .arg("ws://127.0.0.1:8765")
        .args([
            "--topics",
            &TOPICS.join(","),
            "--count",
            "4",
            "--timeout",
            "60",
        ])
        .output()
        .expect("node");
    println!("Node client: {:.1} s", started.elapsed().as_secs_f64());
    // The DDS probe got the same messages at about the same time; let it catch up.
    std::thread::sleep(Duration::from_secs(2));
    let _ = Command::new("kill")
        .args(["-INT", &demo.id().to_string()])
        .status();
    let status = demo.wait().unwrap();
    let client_out = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "client: {}\n{client_out}\ndemo:\n{}",
        String::from_utf8_lossy(&output.stderr),
        log.lock().unwrap()
    );
    assert!(status.success(), "demo: {status}\n{}", log.lock().unwrap());
    let json: Value = serde_json::from_str(&client_out).unwrap();

    // The handshake and the channel list.
    assert_eq!(json["subprotocol"], "foxglove.sdk.v1");
    assert_eq!(json["serverInfo"]["name"], "vla_perf");
    let channels = json["channels"].as_array().unwrap();
    let advertised: BTreeMap<&str, &str> = channels
        .iter()
        .map(|c| {
            assert_eq!(
                (c["encoding"].as_str(), c["schemaEncoding"].as_str()),
                (Some("cdr"), Some("ros2msg"))
            );
            (
                c["topic"].as_str().unwrap(),
                c["schemaName"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        advertised,
        BTreeMap::from([
            ("/diagnostics", "diagnostic_msgs/msg/DiagnosticArray"),
            ("/vla_perf/alerts", "vla_perf/msg/Alert"),
            (
                "/vla_perf/benchmark_results",
                "vla_perf/msg/BenchmarkResult"
            ),
            ("/vla_perf/command_latency", "vla_perf/msg/CommandLatency"),
            ("/vla_perf/metrics", "vla_perf/msg/MetricArray"),
            ("/vla_perf/resources", "vla_perf/msg/ResourceUsage"),
            ("/vla_perf/topic_health", "vla_perf/msg/MetricArray"),
        ])
    );

    // Every decoded message equals one that came over DDS.
    let dds = seen.lock().unwrap();
    let decoded = |topic: &str| -> Vec<Value> {
        json["messages"][topic]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["message"].clone())
            .collect()
    };
    let commands = decoded(TOPICS[0]);
    assert_eq!(commands.len(), 4);
    for m in &commands {
        check_command(m, &dds.commands);
    }
    for m in &decoded(TOPICS[1]) {
        check_metrics(m, &dds.metrics);
    }
    for m in &decoded(TOPICS[2]) {
        check_diagnostics(m, &dds.diagnostics);
    }
    println!(
        "decoded {} commands, {} metric arrays, {} diagnostic arrays; all equal to DDS's \
         ({} commands, {} metric arrays, {} diagnostic arrays over DDS)",
        commands.len(),
        decoded(TOPICS[1]).len(),
        decoded(TOPICS[2]).len(),
        dds.commands.len(),
        dds.metrics.len(),
        dds.diagnostics.len()
    );
}

/// Starts `vla-perf` with `args`, stdout piped and stderr kept in `log`.
fn spawn_logged(args: &[&str], log: Arc<Mutex<String>>) -> std::process::Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vla-perf"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vla-perf binary");
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let mut log = log.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
    child
}

#[test]
fn vla_perf_foxglove_attaches_to_a_running_collector_and_serves_its_topics() {
    if !isolated(
        "vla_perf_foxglove_attaches_to_a_running_collector_and_serves_its_topics",
        LOOPBACK_MULTICAST,
    ) {
        return;
    }
    let state = tempfile::tempdir().unwrap();
    let demo_log = Arc::new(Mutex::new(String::new()));
    let mut demo = spawn_logged(
        &[
            "demo",
            "--no-dashboard",
            "--no-benchmark",
            "--no-foxglove",
            "--duration",
            "30",
            "--command-period",
            "1s",
            "--domain",
            "67",
            "--state-dir",
            state.path().to_str().unwrap(),
        ],
        demo_log.clone(),
    );
    let attach_log = Arc::new(Mutex::new(String::new()));
    let mut attach = spawn_logged(
        &["foxglove", "--listen", "127.0.0.1:8766", "--domain", "67"],
        attach_log.clone(),
    );
    let mut stdout = BufReader::new(attach.stdout.take().unwrap()).lines();
    let hint = stdout
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.starts_with("open Foxglove"))
        .unwrap_or_else(|| panic!("no connect hint: {}", attach_log.lock().unwrap()));
    assert!(hint.contains("ws://127.0.0.1:8766"), "{hint}");
    let output = node_client()
        .arg("ws://127.0.0.1:8766")
        .args(["--topics", TOPICS[0], "--count", "2", "--timeout", "60"])
        .output()
        .expect("node");
    let _ = Command::new("kill")
        .args(["-INT", &attach.id().to_string()])
        .status();
    let attached = attach.wait().unwrap();
    let counts: Vec<String> = stdout.map_while(Result::ok).collect();
    let _ = Command::new("kill")
        .args(["-INT", &demo.id().to_string()])
        .status();
    demo.wait().unwrap();
    assert!(
        output.status.success(),
        "client: {}\n{}\nattach: {}\ndemo: {}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout),
        attach_log.lock().unwrap(),
        demo_log.lock().unwrap()
    );
    assert!(attached.success(), "{}", attach_log.lock().unwrap());
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    for m in json["messages"][TOPICS[0]].as_array().unwrap() {
        assert_eq!(m["message"]["robot_id"], "demo_robot");
        assert!(m["message"]["command_id"]
            .as_str()
            .unwrap()
            .starts_with('c'));
    }
    // On Ctrl-C it says what it relayed, per topic.
    let line = counts
        .iter()
        .find(|l| l.starts_with("/vla_perf/command_latency (vla_perf/msg/CommandLatency): "))
        .unwrap_or_else(|| panic!("no count line: {counts:?}"));
    let received: u64 = line
        .split(": ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(received >= 2, "{line}");
    assert!(line.ends_with(" 0 dropped"), "{line}");
    println!("{}", counts.join("\n"));
}
