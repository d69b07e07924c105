//! End to end against the standard ROS 2 client library: `tests/peers/rclpy_stack.py`, a
//! SIMULATED voice -> transcript -> plan -> vision -> action stack on rclpy (and the rmw the
//! ROS 2 installation selects, rmw_cyclonedds_cpp on Jazzy), plays 20 scripted commands
//! back to back and prints the wall time of every message it publishes. Every collector
//! build under test runs as its own process on that one stack, with its own namespace and
//! JSONL file, and must report each command's outcome exactly and every stage latency
//! within 1 ms (p99) of the difference of those send times. rclpy cannot set a write's
//! source timestamp, so the stack prints the time just before and just after each publish
//! call; the rmw stamps the write in between, and a latency's truth is the interval that
//! follows (a stack preempted inside the call on the busy machine widens it).
//!
//! The builds: always the cargo-built `collector` (this crate's default backend,
//! ros2-client/RustDDS, which times a stage by the DDS source timestamp the rmw put on the
//! write); with `VLA_PERF_R2R_BIN_DIR` set, also `$VLA_PERF_R2R_BIN_DIR/collector`, the
//! rcl-native r2r build colcon installs (it times a stage by when rcl handed it over).
//!
//! Needs ROS 2 Jazzy at /opt/ros/jazzy and the system `/usr/bin/python3` it was built for;
//! the test fails, saying so, without them. Runs in a private network namespace (see
//! `common::isolated`) on its own domain id, with ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST.

#![cfg(feature = "ros2-client")]

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::fault::{read_jsonl, NodeProcess};
use common::stack_peer::{
    command_from_jsonl, discover_layout_plan, latency_errors, plan_json, shape, ErrorSummary,
    Pacing, Scripted, StackProcess, DISCOVER_LAYOUT_CONFIG,
};
use common::{isolated, repo, LOOPBACK_MULTICAST};
use vla_perf::msg::CommandLatency;

const DOMAIN: u16 = 47;
const ROS_SETUP: &str = "/opt/ros/jazzy/setup.bash";
const SYSTEM_PYTHON: &str = "/usr/bin/python3";
/// System directories only: no pyenv or virtualenv python3 shadows the system one.
const SYSTEM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// What to do when ROS 2 is missing.
const INSTALL_ROS: &str = "install ROS 2 Jazzy at /opt/ros/jazzy (.ci/setup does it)";
/// The collectors' command timeout, seconds (also written into their configs).
const COMMAND_TIMEOUT: f64 = 2.0;
/// Allowed |measured - true| latency at the 99th percentile, seconds.
const TOLERANCE: f64 = 0.001;

/// Twenty commands with known delays (10 ms .. 600 ms): twelve succeed, three plans are
/// rejected, three goals aborted and two commands lost after their plan.
fn script() -> Vec<Scripted> {
    let c = Scripted::new;
    vec![
        c("r00", "succeeded", [0.12, 0.25, 0.05, 0.02, 0.30]),
        c("r01", "aborted", [0.08, 0.15, 0.03, 0.01, 0.20]),
        c("r02", "succeeded", [0.02, 0.40, 0.01, 0.05, 0.10]),
        c("r03", "rejected", [0.15, 0.30, 0.0, 0.0, 0.0]),
        c("r04", "succeeded", [0.05, 0.05, 0.05, 0.05, 0.05]),
        c("r05", "succeeded", [0.30, 0.12, 0.08, 0.02, 0.60]),
        c("r06", "lost", [0.10, 0.20, 0.0, 0.0, 0.0]),
        c("r07", "succeeded", [0.04, 0.33, 0.02, 0.03, 0.25]),
        c("r08", "aborted", [0.20, 0.10, 0.06, 0.015, 0.15]),
        c("r09", "rejected", [0.01, 0.01, 0.0, 0.0, 0.0]),
        c("r10", "succeeded", [0.11, 0.22, 0.04, 0.06, 0.18]),
        c("r11", "succeeded", [0.01, 0.02, 0.01, 0.01, 0.01]),
        c("r12", "succeeded", [0.25, 0.15, 0.12, 0.04, 0.35]),
        c("r13", "rejected", [0.06, 0.45, 0.0, 0.0, 0.0]),
        c("r14", "succeeded", [0.09, 0.28, 0.09, 0.025, 0.40]),
        c("r15", "aborted", [0.13, 0.07, 0.02, 0.01, 0.50]),
        c("r16", "succeeded", [0.18, 0.11, 0.03, 0.02, 0.22]),
        c("r17", "succeeded", [0.03, 0.19, 0.07, 0.035, 0.12]),
        c("r18", "succeeded", [0.22, 0.06, 0.05, 0.01, 0.28]),
        c("r19", "lost", [0.07, 0.14, 0.0, 0.0, 0.0]),
    ]
}

/// One collector build under test.
struct Build {
    /// How the figures name it.
    label: &'static str,
    /// The directory holding its `collector` binary.
    bin_dir: PathBuf,
    robot_id: &'static str,
    namespace: &'static str,
}

impl Build {
    /// The cargo-built collector, and the r2r one when `VLA_PERF_R2R_BIN_DIR` names it.
    fn under_test() -> Vec<Build> {
        let cargo = Path::new(env!("CARGO_BIN_EXE_collector"));
        let mut builds = vec![Build {
            label: "cargo-built collector",
            bin_dir: cargo.parent().expect("binary directory").to_owned(),
            robot_id: "rclpy_cargo",
            namespace: "/vla_perf_cargo",
        }];
        if let Some(dir) = std::env::var_os("VLA_PERF_R2R_BIN_DIR") {
            let dir = PathBuf::from(dir);
            assert!(
                dir.join("collector").is_file(),
                "VLA_PERF_R2R_BIN_DIR={} holds no `collector`",
                dir.display()
            );
            builds.push(Build {
                label: "r2r collector (VLA_PERF_R2R_BIN_DIR)",
                bin_dir: dir,
                robot_id: "rclpy_r2r",
                namespace: "/vla_perf_r2r",
            });
        }
        builds
    }

    fn jsonl(&self, dir: &Path) -> PathBuf {
        dir.join(format!("{}.jsonl", self.robot_id))
    }

    fn log(&self, dir: &Path) -> PathBuf {
        dir.join(format!("{}.log", self.robot_id))
    }

    /// Writes its config into `dir` and starts it with ROS 2 sourced (which an r2r build
    /// needs for its libraries), plus the colcon overlay around its directory if any.
    fn start(&self, dir: &Path) -> NodeProcess {
        self.start_with(dir, "")
    }

    /// As [`Build::start`], with `rest` appended to its config (after the stages).
    fn start_with(&self, dir: &Path, rest: &str) -> NodeProcess {
        let config = dir.join(format!("{}.yaml", self.robot_id));
        let settings = format!(
            "  robot_id: {}\n  namespace: {}\n  command_timeout: {COMMAND_TIMEOUT}s\n  \
             publish_period: 500ms\n  resources: {{period: 1s, processes: [], gpu: false}}\n  \
             prometheus: {{enabled: false}}\n  jsonl_path: {}\n",
            self.robot_id,
            self.namespace,
            self.jsonl(dir).display()
        );
        std::fs::write(&config, common::stack_peer_config(&settings, rest)).expect("write config");
        let (bin_dir, log) = (self.bin_dir.clone(), self.log(dir));
        let ros_log = dir.join("ros_log");
        NodeProcess::start(self.label, move || {
            // $0: the binary's directory (a colcon install's lib/vla_perf), $1: the config.
            let script = format!(
                "source {ROS_SETUP} || exit 1\n\
                 for f in package.bash local_setup.bash; do\n  \
                   overlay=\"$0/../../share/vla_perf/$f\"\n  \
                   if [ -f \"$overlay\" ]; then source \"$overlay\"; break; fi\n\
                 done\n\
                 exec {}\"$0/collector\" --config \"$1\"",
                pinned(BUSY_CPU)
            );
            let mut c = ros_command(&script, &ros_log);
            c.arg(&bin_dir)
                .arg(&config)
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).expect("collector log"));
            c
        })
    }
}

/// `bash -c SCRIPT` with PATH reduced to system directories, no Python overrides, and the
/// test's ROS 2 domain, discovery range and log directory; arguments go to `$0`, `$1`...
fn ros_command(script: &str, ros_log: &Path) -> Command {
    let mut c = Command::new("/bin/bash");
    c.args(["-c", script])
        .env("PATH", SYSTEM_PATH)
        .env_remove("PYTHONPATH")
        .env_remove("PYTHONHOME")
        .env_remove("PYENV_VERSION")
        .env_remove("VIRTUAL_ENV")
        .env("ROS_DOMAIN_ID", DOMAIN.to_string())
        .env("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
        .env("ROS_LOG_DIR", ros_log);
    c
}

/// Fails, in one line, unless ROS 2 Jazzy and the system python3 with rclpy are there.
fn require_ros_jazzy() {
    assert!(
        Path::new(ROS_SETUP).is_file(),
        "{ROS_SETUP} is missing: {INSTALL_ROS}"
    );
    assert!(
        Path::new(SYSTEM_PYTHON).is_file(),
        "{SYSTEM_PYTHON} is missing: {INSTALL_ROS}"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let check = ros_command(
        &format!(
            "source {ROS_SETUP} && exec {SYSTEM_PYTHON} -c 'import rclpy, std_msgs.msg, \
             sensor_msgs.msg, action_msgs.msg, unique_identifier_msgs.msg'"
        ),
        dir.path(),
    )
    .output()
    .expect("/bin/bash");
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert!(
        check.status.success(),
        "{SYSTEM_PYTHON} cannot import rclpy and the stack's messages with {ROS_SETUP} sourced \
         ({}): {INSTALL_ROS}",
        stderr.lines().last().unwrap_or("no error output").trim()
    );
}

/// A process's stderr without colours, with runs of alike lines (the same text once
/// timestamps, ids and numbers are set aside) shown once with their count.
fn condensed(stderr: &str) -> Vec<String> {
    let plain = |line: &str| {
        let mut out = String::new();
        let mut chars = line.chars();
        while let Some(ch) = chars.next() {
            if ch == '\u{1b}' {
                chars.by_ref().find(|c| c.is_ascii_alphabetic());
            } else {
                out.push(ch);
            }
        }
        out
    };
    let shape = |line: &str| -> String {
        let kept: String = line
            .split(['\'', '{', '('])
            .next()
            .unwrap_or(line)
            .chars()
            .filter(|c| !c.is_ascii_digit())
            .collect();
        kept.rsplit(']').next().unwrap_or(&kept).trim().to_owned()
    };
    let mut runs: Vec<(String, String, usize)> = Vec::new();
    for line in stderr.lines().map(plain) {
        let key = shape(&line);
        match runs.iter_mut().find(|(k, _, _)| *k == key) {
            Some((_, _, n)) => *n += 1,
            None => runs.push((key, line, 1)),
        }
    }
    runs.into_iter()
        .map(|(_, first, n)| match n {
            1 => first,
            n => format!("{first} [and {} more like it]", n - 1),
        })
        .collect()
}

/// The command ids of the records in a collector's JSONL file so far.
fn recorded_ids(path: &Path) -> Vec<String> {
    let (records, _) = read_jsonl::<serde_json::Value>(path);
    records
        .iter()
        .filter_map(|r| r["command_id"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn an_rclpy_stack_is_measured_within_a_millisecond_by_every_collector_build_on_a_busy_machine() {
    require_ros_jazzy();
    if !isolated(
        "an_rclpy_stack_is_measured_within_a_millisecond_by_every_collector_build_on_a_busy_machine",
        LOOPBACK_MULTICAST,
    ) {
        return;
    }
    let script = script();
    let ids: Vec<&str> = script.iter().map(|c| c.id).collect();
    // Back to back: each command's voice right after the previous one's last message (the
    // plan's starts overlap the previous command's end by the time publishing took, so the
    // stack starts most commands a few ms late and says so); after a lost command the
    // stack stays quiet until the collectors timed it out.
    let pacing = Pacing {
        gap: 0.0,
        quiet_after_lost: COMMAND_TIMEOUT + 1.5,
    };
    let (plan, run_length) = plan_json(&script, DOMAIN, pacing);
    let dir = tempfile::tempdir().expect("temp dir");
    let plan_path = dir.path().join("plan.json");
    std::fs::write(&plan_path, plan.to_string()).expect("write plan");

    // A busy machine for the collectors: they share a core with two spinning processes for
    // the whole run, so a collector that timed stages by when it got round to reading them
    // would be off by scheduling delays (milliseconds). The stack has the other core to
    // itself, so its printed send times stay tight around the rmw's write stamps.
    let _load = CpuLoad::start();
    let builds = Build::under_test();
    let mut collectors: Vec<NodeProcess> = builds.iter().map(|b| b.start(dir.path())).collect();
    // The stack starts once every topic has a reader in every collector.
    let mut stack = {
        let mut command = ros_command(
            &format!(
                "source {ROS_SETUP} && exec {}{SYSTEM_PYTHON} \"$0\" \"$@\"",
                pinned(STACK_CPU)
            ),
            &dir.path().join("ros_log"),
        );
        command
            .arg(repo().join("tests/peers/rclpy_stack.py"))
            .arg("--plan")
            .arg(&plan_path)
            .args(["--domain", &DOMAIN.to_string(), "--timeout", "30"])
            .args(["--readers", &builds.len().to_string()]);
        StackProcess::start("rclpy_stack.py", command)
    };

    // Readers matched within 30 s, the run itself, the last timeout: then give up.
    let deadline = Instant::now() + Duration::from_secs_f64(30.0 + run_length + 10.0);
    let complete = |b: &Build| {
        let got = recorded_ids(&b.jsonl(dir.path()));
        ids.iter().all(|id| got.iter().any(|g| g == id))
    };
    while !builds.iter().all(complete) && Instant::now() < deadline {
        // A stack that died (no readers, bad plan) will not send anything more.
        if stack.exited().is_some_and(|s| !s.success()) {
            break;
        }
        for (b, c) in builds.iter().zip(&mut collectors) {
            assert!(
                c.running(),
                "the {} exited early:\n{}",
                b.label,
                std::fs::read_to_string(b.log(dir.path())).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let sent = stack.finish(Duration::from_secs(60));
    for (b, c) in builds.iter().zip(&mut collectors) {
        let status = c.terminate(Duration::from_secs(10));
        assert!(
            status.success(),
            "the {} exited with {status} after SIGTERM:\n{}",
            b.label,
            std::fs::read_to_string(b.log(dir.path())).unwrap_or_default()
        );
    }
    // What the middleware had to say, condensed.
    for line in condensed(&sent.stderr) {
        println!("rclpy_stack.py stderr: {line}");
    }
    // Every endpoint of every build announces its type hash, RustDDS's included.
    assert!(
        !sent.stderr.contains("Failed to parse type hash"),
        "rmw_cyclonedds found an endpoint without a type hash:\n{}",
        condensed(&sent.stderr).join("\n")
    );
    for b in &builds {
        let log = std::fs::read_to_string(b.log(dir.path())).unwrap_or_default();
        for line in condensed(&log) {
            println!("{} stderr: {line}", b.label);
        }
    }

    let mut figures = Vec::new();
    for b in &builds {
        let (records, torn) = read_jsonl::<serde_json::Value>(&b.jsonl(dir.path()));
        assert_eq!(torn, 0, "{}: unreadable JSONL lines", b.label);
        let mut received: HashMap<String, CommandLatency> = HashMap::new();
        let mut unexpected = Vec::new();
        for record in &records {
            let m = command_from_jsonl(record);
            if ids.contains(&m.command_id.as_str()) && !received.contains_key(&m.command_id) {
                received.insert(m.command_id.clone(), m);
            } else {
                unexpected.push(m);
            }
        }
        assert!(
            unexpected.is_empty(),
            "{}: records of unknown or repeated commands: {unexpected:#?}",
            b.label
        );
        let missing: Vec<&str> = ids
            .iter()
            .copied()
            .filter(|id| !received.contains_key(*id))
            .collect();
        assert!(missing.is_empty(), "{}: no record of {missing:?}", b.label);
        let errors = latency_errors(&script, &received, &sent.times, b.robot_id, COMMAND_TIMEOUT);
        // Every reached stage after the first, and end to end for each success.
        let compared: usize = script
            .iter()
            .map(|c| c.reached() - 1 + usize::from(c.outcome == "succeeded"))
            .sum();
        assert_eq!(errors.len(), compared, "{}: latencies compared", b.label);
        let summary = ErrorSummary::of(&errors);
        println!("{}: {} commands, {summary}", b.label, received.len());
        figures.push((b.label, summary));
    }
    for (label, summary) in &figures {
        assert!(
            summary.p99 <= TOLERANCE,
            "{label}: stage latencies off by {:.3} ms at p99 (> {:.1} ms); max {:.3} ms: {}",
            summary.p99 * 1e3,
            TOLERANCE * 1e3,
            summary.max * 1e3,
            summary.worst
        );
    }
}

/// The core the stack runs on, alone.
const STACK_CPU: usize = 0;
/// The core the collectors share with the spinning processes.
const BUSY_CPU: usize = 1;

/// `taskset -c CPU ` to prefix a command with, or nothing on a single-core machine.
fn pinned(cpu: usize) -> String {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores > 1 {
        format!("taskset -c {cpu} ")
    } else {
        String::new()
    }
}

/// Two busy-looping shell processes on the collectors' core; stopped on drop.
struct CpuLoad(Vec<std::process::Child>);

impl CpuLoad {
    fn start() -> Self {
        let spin = format!("exec {}sh -c 'while :; do :; done'", pinned(BUSY_CPU));
        Self(
            (0..2)
                .map(|_| {
                    Command::new("sh")
                        .args(["-c", &spin])
                        .stdin(Stdio::null())
                        .spawn()
                        .expect("sh")
                })
                .collect(),
        )
    }
}

impl Drop for CpuLoad {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `vla-perf discover` on either backend against the rclpy stack in its discover layout (a
/// stamped utterance, a nested JSON id assigned by the planner, an image that copies the
/// utterance's stamp, a camera stream and a distractor at the command rate): both find the
/// chain a user would write by hand. The r2r build is the colcon install's (when
/// VLA_PERF_R2R_BIN_DIR names it, as in CI).
#[test]
fn discover_on_either_backend_finds_the_rclpy_stacks_pipeline() {
    require_ros_jazzy();
    if !isolated(
        "discover_on_either_backend_finds_the_rclpy_stacks_pipeline",
        LOOPBACK_MULTICAST,
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let plan_path = dir.path().join("plan.json");
    std::fs::write(&plan_path, discover_layout_plan(DOMAIN).to_string()).expect("plan");
    let ros_log = dir.path().join("ros_log");
    let discover_args = |out: &Path| -> Vec<String> {
        [
            "discover",
            "--duration",
            "24s",
            "--domain",
            &DOMAIN.to_string(),
            "--out",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([out.display().to_string()])
        .collect()
    };
    let mut runs = Vec::new();
    let out = dir.path().join("ros2_client.yaml");
    let child = Command::new(env!("CARGO_BIN_EXE_vla-perf"))
        .args(discover_args(&out))
        .env("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vla-perf discover");
    runs.push(("ros2-client", out, child));
    if let Some(bin_dir) = std::env::var_os("VLA_PERF_R2R_BIN_DIR").map(PathBuf::from) {
        let out = dir.path().join("r2r.yaml");
        // $0: the install's lib/vla_perf; the rest: discover's arguments.
        let script = format!(
            "source {ROS_SETUP} || exit 1\n\
             source \"$0/../../share/vla_perf/local_setup.bash\" 2>/dev/null\n\
             exec \"$0/vla-perf\" \"$@\""
        );
        let child = ros_command(&script, &ros_log)
            .arg(&bin_dir)
            .args(discover_args(&out))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("r2r vla-perf discover");
        runs.push(("r2r", out, child));
    }
    std::thread::sleep(Duration::from_millis(500));
    let stack = {
        let mut command = ros_command(
            &format!("source {ROS_SETUP} && exec {SYSTEM_PYTHON} \"$0\" \"$@\""),
            &ros_log,
        );
        command
            .arg(repo().join("tests/peers/rclpy_stack.py"))
            .arg("--plan")
            .arg(&plan_path)
            .args([
                "--domain",
                &DOMAIN.to_string(),
                "--readers",
                "0",
                "--settle",
                "0",
            ]);
        StackProcess::start("rclpy_stack.py", command)
    };
    let sent = stack.finish(Duration::from_secs(60));
    let voices = sent.times.keys().filter(|(_, s)| s == "voice").count();
    assert_eq!(voices, 11, "every command played");
    let hand = dir.path().join("hand.yaml");
    std::fs::write(&hand, DISCOVER_LAYOUT_CONFIG).expect("hand-written config");
    let expected = shape(
        &vla_perf::config::load_collector(&hand)
            .expect("valid")
            .stages,
    );
    for (backend, out, child) in runs {
        let output = child.wait_with_output().expect("discover exits");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "discover ({backend}) failed:\n{stdout}\n{stderr}"
        );
        println!("discover ({backend}):\n{stdout}");
        let proposed =
            vla_perf::config::load_collector(&out).unwrap_or_else(|e| panic!("{backend}: {e}"));
        assert_eq!(shape(&proposed.stages), expected, "{backend}:\n{stdout}");
        let watched: Vec<&str> = proposed.topics.iter().map(|t| t.topic.as_str()).collect();
        assert!(
            watched.contains(&"/robot/battery"),
            "{backend}: {watched:?}"
        );
    }
}

/// `ros2 topic info -v` (rclpy over rmw_cyclonedds) reads the REP-2011 type hash of the
/// pure-Rust collector's endpoints as ROS 2 computes it: publishers of a vla_perf message
/// and of a standard one, a stage subscription, and a raw watch of a type the build does
/// not mirror (its hash read from the installed `share/<pkg>/msg/<Type>.json`).
#[test]
fn ros2_topic_info_reads_the_type_hash_of_the_pure_rust_collectors_endpoints() {
    require_ros_jazzy();
    if !isolated(
        "ros2_topic_info_reads_the_type_hash_of_the_pure_rust_collectors_endpoints",
        LOOPBACK_MULTICAST,
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let build = Build::under_test().remove(0);
    let watch = "  topics:\n    - {topic: /robot/cmd_vel, msg_type: geometry_msgs/msg/Twist, \
                 stamped: false}\n";
    let mut collector = build.start_with(dir.path(), watch);
    let installed = |type_name: &str| -> String {
        let (package, rest) = type_name.split_once('/').expect("pkg/kind/Type");
        let file = Path::new("/opt/ros/jazzy/share")
            .join(package)
            .join(format!("{rest}.json"));
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&file).expect("installed type description"))
                .expect("JSON");
        json["type_hashes"][0]["hash_string"]
            .as_str()
            .expect("hash_string")
            .to_owned()
    };
    let ns = build.namespace;
    let cases = [
        (
            format!("{ns}/command_latency"),
            "PUBLISHER",
            vla_perf::msg::type_hash::type_hash("vla_perf/msg/CommandLatency")
                .expect("a vla_perf message"),
        ),
        (
            "/diagnostics".to_owned(),
            "PUBLISHER",
            installed("diagnostic_msgs/msg/DiagnosticArray"),
        ),
        (
            "/vla/execute/_action/status".to_owned(),
            "SUBSCRIPTION",
            installed("action_msgs/msg/GoalStatusArray"),
        ),
        (
            "/robot/cmd_vel".to_owned(),
            "SUBSCRIPTION",
            installed("geometry_msgs/msg/Twist"),
        ),
    ];
    let ros_log = dir.path().join("ros_log");
    for (topic, kind, expected) in &cases {
        // Discovery takes a moment: ask again until the collector's endpoint is listed.
        let deadline = Instant::now() + Duration::from_secs(30);
        let info = loop {
            assert!(
                collector.running(),
                "the collector exited:\n{}",
                std::fs::read_to_string(build.log(dir.path())).unwrap_or_default()
            );
            let output = ros_command(
                &format!(
                    "source {ROS_SETUP} && exec ros2 topic info -v \"$0\" --no-daemon \
                     --spin-time 2"
                ),
                &ros_log,
            )
            .arg(topic)
            .output()
            .expect("ros2 topic info");
            let text = String::from_utf8_lossy(&output.stdout).into_owned();
            let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
            if text.contains(&format!("Endpoint type: {kind}")) || Instant::now() > deadline {
                break (text, stderr);
            }
        };
        let (text, stderr) = info;
        println!("ros2 topic info -v {topic}:\n{text}");
        assert!(
            text.contains(&format!("Endpoint type: {kind}")),
            "no {kind} on {topic} within 30 s:\n{text}\n{stderr}"
        );
        let hashes: Vec<&str> = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("Topic type hash: "))
            .collect();
        assert!(
            !hashes.is_empty() && hashes.iter().all(|h| h == expected),
            "{topic}: type hashes {hashes:?}, ROS 2 computes {expected}\n{stderr}"
        );
        assert!(
            !stderr.contains("Failed to parse type hash"),
            "{topic}: {stderr}"
        );
    }
    let status = collector.terminate(Duration::from_secs(10));
    assert!(status.success(), "the collector exited with {status}");
}
