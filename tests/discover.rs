//! `vla-perf discover` as its user runs it: against the SIMULATED stack live (and the
//! recording it made of it), against an independent Cyclone DDS stack with a layout of its
//! own, and against bad or silent inputs.
//!
//! - The simulated stack: the proposed pipeline equals the shipped default (stage names,
//!   topics, types, order and correlation); discovering the recording gives the same; and
//!   `vla-perf analyze` of the recording measures every command alike with the proposed and
//!   the shipped configuration.
//! - `tests/peers/stack_peer.py` in its discover layout: a stamped utterance, a planner that
//!   assigns a nested JSON id mid-pipeline, an image that copies the utterance's stamp, and
//!   beside them a camera stream and a distractor on a timer at the command rate. The right
//!   chain must come out, and measuring the recording with it must give the same latencies
//!   as a hand-written configuration.
//!
//! Live runs are in private network namespaces on their own domain ids.

#![cfg(feature = "ros2-client")]

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::drive::Stopping;
use common::stack_peer::{discover_layout_plan, shape, StackProcess, DISCOVER_LAYOUT_CONFIG};
use common::{isolated, repo, require_python_module, LOOPBACK_MULTICAST};
use vla_perf::config::CollectorConfig;
use vla_perf::msg::audio_common_msgs::AudioStamped;
use vla_perf::msg::builtin_interfaces::Time;
use vla_perf::msg::std_msgs::Header;
use vla_perf::transport::ros2_client::Ros2ClientTransport;
use vla_perf::transport::{wall_clock, NodeOptions, Publisher, Qos, Transport};

const SIM_DOMAIN: u16 = 61;
const PEER_DOMAIN: u16 = 62;
const SILENT_DOMAIN: u16 = 63;

fn vla_perf() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vla-perf"))
}

fn run(mut c: Command) -> Output {
    let output = c.output().expect("vla-perf runs");
    println!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn load(path: &Path) -> CollectorConfig {
    vla_perf::config::load_collector(path)
        .unwrap_or_else(|e| panic!("{} does not pass check-config: {e}", path.display()))
}

/// `vla-perf analyze BAG --config CONFIG`: the CSV of every command's timeline.
fn analyze(dir: &Path, bag: &Path, config: &Path, name: &str) -> String {
    let csv = dir.join(format!("{name}.csv"));
    let mut c = vla_perf();
    c.arg("analyze")
        .arg(bag)
        .arg("--config")
        .arg(config)
        .arg("--out")
        .arg(dir.join(name))
        .arg("--csv")
        .arg(&csv)
        .arg("--quiet");
    let out = run(c);
    assert!(out.status.success(), "analyze with {}", config.display());
    std::fs::read_to_string(&csv).expect("csv written")
}

/// Commands in an analysis CSV (one row each after the header).
fn measured_rows(csv: &str) -> usize {
    csv.lines().skip(1).count()
}

/// Starts `vla-perf discover` listening on `domain` for `seconds`, recording.
fn start_discover(dir: &Path, domain: u16, seconds: u64) -> std::process::Child {
    vla_perf()
        .arg("discover")
        .args([
            "--duration",
            &format!("{seconds}s"),
            "--domain",
            &domain.to_string(),
        ])
        .arg("--record")
        .arg(dir.join("heard.mcap"))
        .arg("--out")
        .arg(dir.join("proposed.yaml"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vla-perf discover starts")
}

fn finish(child: std::process::Child) -> Output {
    let output = child.wait_with_output().expect("discover exits");
    println!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The simulated stack at test speed: the default topics and message layout, shorter
/// latencies, and a 10 Hz camera, so that a dozen commands fit in half a minute.
const SIM_CONFIG: &str = r#"sim_stack:
  seed: 11
  asr:
    latency: {mean: 200ms, stddev: 30ms, shape: normal}
  planner:
    latency: {mean: 300ms, stddev: 60ms, shape: normal}
    reject_rate: 0.1
  camera: {width: 160, height: 120, rate_hz: 10.0}
  executor:
    dispatch: {mean: 50ms, stddev: 10ms, shape: normal}
    execution: {mean: 500ms, stddev: 100ms, shape: normal}
    failure_rate: 0.1
    lost_rate: 0.0
"#;

/// Seconds between commands: irregular, as people speak, and longer than a command takes.
const SIM_GAPS: [f64; 11] = [2.0, 2.6, 2.2, 3.0, 2.4, 2.1, 2.8, 2.3, 2.7, 2.2, 2.5];

#[test]
fn the_simulated_stack_live_and_recorded_gives_the_shipped_pipeline() {
    if !isolated(
        "the_simulated_stack_live_and_recorded_gives_the_shipped_pipeline",
        LOOPBACK_MULTICAST,
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let sim_config = dir.path().join("sim.yaml");
    std::fs::write(&sim_config, SIM_CONFIG).expect("sim config");
    let _stack = Stopping(
        Command::new(env!("CARGO_BIN_EXE_sim_stack"))
            .arg("--config")
            .arg(&sim_config)
            .env("ROS_DOMAIN_ID", SIM_DOMAIN.to_string())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sim_stack starts"),
    );
    let listen = 2 + SIM_GAPS.iter().sum::<f64>().ceil() as u64 + 3;
    let discover = start_discover(dir.path(), SIM_DOMAIN, listen);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let mut node = Ros2ClientTransport
            .create_node(&NodeOptions::new("speaker", "/").with_domain(SIM_DOMAIN))
            .expect("node");
        let speak =
            Publisher::<AudioStamped>::new(node.as_mut(), "/audio/utterance", Qos::reliable(10))
                .expect("publisher");
        // Discovery and the stack find each other first.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let texts = [
            "pick up the red cup",
            "bring me the green box",
            "pick up the blue ball",
        ];
        for (n, gap) in SIM_GAPS.iter().enumerate() {
            let header = Header {
                stamp: Time::from(wall_clock()),
                frame_id: "mic".into(),
            };
            let text = format!("[d{n}] {}", texts[n % texts.len()]);
            speak
                .publish(&vla_perf::sim::speech::utterance(&text, header))
                .expect("speak");
            tokio::time::sleep(Duration::from_secs_f64(*gap)).await;
        }
    });
    let out = finish(discover);
    assert!(out.status.success(), "discover failed");
    let proposed = dir.path().join("proposed.yaml");
    let shipped = repo().join("config/collector.yaml");
    let expected = shape(&load(&shipped).stages);
    assert_eq!(shape(&load(&proposed).stages), expected);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("waits for its first message"), "{stdout}");

    // The recording it made, discovered again offline.
    let bag = dir.path().join("heard.mcap");
    let from_bag = dir.path().join("from_bag.yaml");
    let mut c = vla_perf();
    c.arg("discover")
        .arg("--from")
        .arg(&bag)
        .arg("--out")
        .arg(&from_bag);
    assert!(run(c).status.success(), "discover --from");
    assert_eq!(shape(&load(&from_bag).stages), expected);

    // Measured with the proposed configuration or the shipped one: the same commands with
    // the same stage latencies.
    let with_proposed = analyze(dir.path(), &bag, &proposed, "proposed");
    let with_shipped = analyze(dir.path(), &bag, &shipped, "shipped");
    assert!(measured_rows(&with_shipped) >= 8, "{with_shipped}");
    assert_eq!(with_proposed, with_shipped);
}

#[test]
fn a_cyclone_stack_with_its_own_layout_and_a_distractor_gets_the_right_chain() {
    if !isolated(
        "a_cyclone_stack_with_its_own_layout_and_a_distractor_gets_the_right_chain",
        LOOPBACK_MULTICAST,
    ) {
        return;
    }
    require_python_module("cyclonedds");
    let dir = tempfile::tempdir().expect("temp dir");
    let plan_path = dir.path().join("plan.json");
    std::fs::write(&plan_path, discover_layout_plan(PEER_DOMAIN).to_string()).expect("plan");
    let discover = start_discover(dir.path(), PEER_DOMAIN, 24);
    // Discover subscribes to what it finds; the stack waits for nobody and starts playing
    // 2 s after it came up.
    std::thread::sleep(Duration::from_millis(500));
    let mut command = common::python();
    command
        .arg(repo().join("tests/peers/stack_peer.py"))
        .arg("--plan")
        .arg(&plan_path)
        .args(["--readers", "0", "--settle", "0"]);
    let stack = StackProcess::start("stack_peer.py", command);
    let sent = stack.finish(Duration::from_secs(60));
    let voices = sent
        .times
        .keys()
        .filter(|(_, stage)| stage == "voice")
        .count();
    assert_eq!(voices, 11, "every command played");
    let out = finish(discover);
    assert!(out.status.success(), "discover failed");
    let proposed = dir.path().join("proposed.yaml");
    let hand = dir.path().join("hand.yaml");
    std::fs::write(&hand, DISCOVER_LAYOUT_CONFIG).expect("hand-written config");
    let proposed_config = load(&proposed);
    assert_eq!(
        shape(&proposed_config.stages),
        shape(&load(&hand).stages),
        "{}",
        std::fs::read_to_string(&proposed).unwrap_or_default()
    );
    let plan = &proposed_config.stages[2];
    assert_eq!(
        plan.json.as_ref().and_then(|j| j.status.clone()).as_deref(),
        Some("state")
    );
    let watched: Vec<&str> = proposed_config
        .topics
        .iter()
        .map(|t| t.topic.as_str())
        .collect();
    assert!(watched.contains(&"/robot/battery"), "{watched:?}");
    assert!(watched.contains(&"/robot/camera/image_raw"), "{watched:?}");
    let text = std::fs::read_to_string(&proposed).expect("proposed");
    assert!(text.contains("# Candidates discovery rejected:"), "{text}");

    let bag = dir.path().join("heard.mcap");
    let with_proposed = analyze(dir.path(), &bag, &proposed, "proposed");
    let with_hand = analyze(dir.path(), &bag, &hand, "hand");
    assert_eq!(measured_rows(&with_hand), 11, "{with_hand}");
    assert_eq!(with_proposed, with_hand);
}

#[test]
fn bad_or_silent_inputs_get_a_clear_message() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A recording that is not there.
    let mut c = vla_perf();
    c.args(["discover", "--from"])
        .arg(dir.path().join("missing.mcap"));
    c.arg("--out").arg(dir.path().join("x.yaml"));
    let out = run(c);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.mcap"));

    // A recording of streams only: no command in it.
    let bag = dir.path().join("streams.mcap");
    let mut rec = vla_perf::discover::record::Recording::create(&bag).expect("recording");
    let t0 = wall_clock();
    for i in 0..100u32 {
        let at = t0 + Duration::from_millis(u64::from(i) * 100);
        let header = Header {
            stamp: Time::from(at),
            frame_id: "cam".into(),
        };
        let cdr = vla_perf::msg::cdr::to_cdr(&header).expect("cdr");
        rec.message("/camera/image_raw", "sensor_msgs/msg/Image", at, &cdr)
            .expect("write");
    }
    rec.finish().expect("finish");
    let out_path = dir.path().join("streams.yaml");
    let mut c = vla_perf();
    c.args(["discover", "--from"])
        .arg(&bag)
        .arg("--out")
        .arg(&out_path);
    let out = run(c);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no pipeline inferred") && stderr.contains("once per command"),
        "{stderr}"
    );
    assert!(!out_path.exists(), "nothing written without a pipeline");

    // An existing file is not overwritten without --force.
    std::fs::write(&out_path, "keep me").expect("write");
    let mut c = vla_perf();
    c.args(["discover", "--from"])
        .arg(&bag)
        .arg("--out")
        .arg(&out_path);
    let out = run(c);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    assert_eq!(std::fs::read_to_string(&out_path).unwrap(), "keep me");
}

#[test]
fn a_silent_graph_says_what_discovery_needs() {
    if !isolated(
        "a_silent_graph_says_what_discovery_needs",
        LOOPBACK_MULTICAST,
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let mut c = vla_perf();
    c.args([
        "discover",
        "--duration",
        "2s",
        "--domain",
        &SILENT_DOMAIN.to_string(),
    ])
    .arg("--out")
    .arg(dir.path().join("c.yaml"));
    let out = run(c);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no topic with a publisher was seen on ROS_DOMAIN_ID 63"),
        "{stderr}"
    );
}
