//! vla_perf as a ROS 2 user runs it, on a real ROS 2 (rcl, rmw_cyclonedds, ros2cli, launch):
//! the colcon-installed package is started with `ros2 launch` (Python and XML files) beside
//! the SIMULATED stack from `ros2 run`, and ROS 2's own command-line tools see and echo it.
//!
//! Needs the colcon install of vla_perf sourced (`.ci/ros2-build` builds it; `.ci/test` runs
//! this file with it). No discovery variable is exported: nodes and ros2cli use ROS 2's
//! defaults, inside a private network namespace whose only interface is loopback.
//! Built only with feature `r2r` (a sourced ROS 2), so it fails, never skips, without one.

#![cfg(feature = "r2r")]

#[path = "common/mod.rs"]
mod common;

use std::ffi::OsStr;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use vla_perf::msg::builtin_interfaces::Time;
use vla_perf::msg::std_msgs::Header;
use vla_perf::sim::speech;
use vla_perf::transport::r2r::R2rTransport;
use vla_perf::transport::{wall_clock, NodeOptions, Publisher, Qos, Transport};

/// Discovery variables a ROS user normally does not set; the test clears them.
const DISCOVERY_VARIABLES: [&str; 3] = [
    "ROS_AUTOMATIC_DISCOVERY_RANGE",
    "ROS_LOCALHOST_ONLY",
    "ROS_STATIC_PEERS",
];

/// The install prefix of the vla_perf package on AMENT_PREFIX_PATH.
fn vla_perf_prefix() -> PathBuf {
    let paths = std::env::var_os("AMENT_PREFIX_PATH").unwrap_or_default();
    std::env::split_paths(&paths)
        .find(|prefix| {
            prefix
                .join("share/ament_index/resource_index/packages/vla_perf")
                .is_file()
        })
        .expect(
            "the vla_perf package is not installed and sourced: colcon build it and source \
             install/setup.bash (.ci/ros2-build does both)",
        )
}

/// A ros2cli command with the test's environment, its output captured.
fn ros2(args: &[&str], cwd: &Path, env: &[(&str, &Path)]) -> Command {
    let mut command = Command::new("ros2");
    command.args(args).current_dir(cwd);
    for name in DISCOVERY_VARIABLES {
        command.env_remove(name);
    }
    command.envs(env.iter().map(|(k, v)| (*k, v.as_os_str())));
    command
}

/// Runs `command` with a time limit; its output, or a panic naming it.
fn run_limited(mut command: Command, limit: Duration, what: &str) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot start ({e}); is ROS 2 sourced?"));
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("status").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().expect("output");
            panic!(
                "{what}: no answer within {limit:?}\n{}\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

/// A long-running process in its own process group, logging into a file.
struct Background {
    child: Child,
    log: PathBuf,
}

impl Background {
    fn start(mut command: Command, log: PathBuf) -> Self {
        use std::os::unix::process::CommandExt;
        let file = File::create(&log).expect("log file");
        let child = command
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log file"))
            .stderr(file)
            .process_group(0)
            .spawn()
            .expect("start ros2");
        Self { child, log }
    }

    /// Ctrl-C as a terminal sends it (SIGINT to the whole group); waits for the exit.
    fn interrupt(&mut self, limit: Duration) -> std::process::ExitStatus {
        let group = format!("-{}", self.child.id());
        let sent = Command::new("kill")
            .args(["-INT", "--", &group])
            .status()
            .expect("kill");
        assert!(sent.success(), "SIGINT to {group}");
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("status") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "still running {limit:?} after Ctrl-C:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let group = format!("-{}", self.child.id());
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            let _ = self.child.wait();
        }
    }
}

/// Speaks a command to the SIMULATED stack every `period` from an r2r node of this process
/// until `stop` is set.
fn speak_commands(stop: std::sync::Arc<std::sync::atomic::AtomicBool>, period: Duration) {
    let mut node = R2rTransport
        .create_node(&NodeOptions::from_env("test_driver", "/").expect("ROS environment"))
        .expect("r2r driver node");
    let speak = Publisher::new(node.as_mut(), "/audio/utterance", Qos::reliable(10))
        .expect("utterance publisher");
    let mut spoken = 0;
    while !stop.load(std::sync::atomic::Ordering::Acquire) {
        let header = Header {
            stamp: Time::from(wall_clock()),
            frame_id: "test_microphone".into(),
        };
        let text = format!("[t{spoken}] pick up the red cup");
        speak
            .publish(&speech::utterance(&text, header))
            .expect("speak");
        spoken += 1;
        std::thread::sleep(period);
    }
}

/// Polls `ros2 ARGS` until its output has every one of `needles`; the last output.
fn ros2_until(args: &[&str], needles: &[&str], cwd: &Path, env: &[(&str, &Path)]) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let output = run_limited(
            ros2(args, cwd, env),
            Duration::from_secs(30),
            &args.join(" "),
        );
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        if needles.iter().all(|n| text.contains(n)) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "ros2 {}: never listed {needles:?}; last output:\n{text}\n{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn launch_file_is_seen_and_echoed_by_ros2_tools(test: &str, launch_file: &str, domain: &str) {
    if !common::isolated_with_env(
        test,
        common::LOOPBACK_MULTICAST,
        &[("ROS_DOMAIN_ID", OsStr::new(domain))],
    ) {
        return;
    }
    for name in DISCOVERY_VARIABLES {
        // Single-threaded here: the test runs alone in its namespace process.
        std::env::remove_var(name);
    }
    let prefix = vla_perf_prefix();
    let work = tempfile::tempdir().expect("temp dir");
    let cwd = work.path().join("cwd");
    let ros_home = work.path().join("ros_home");
    std::fs::create_dir_all(&cwd).expect("cwd");
    let env = [("ROS_HOME", ros_home.as_path())];

    let _stack = Background::start(
        ros2(&["run", "vla_perf", "sim_stack"], &cwd, &env),
        work.path().join("sim_stack.log"),
    );
    let mut launch = Background::start(
        ros2(&["launch", "vla_perf", launch_file], &cwd, &env),
        work.path().join("launch.log"),
    );
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let driver = {
        let stop = stop.clone();
        std::thread::spawn(move || speak_commands(stop, Duration::from_millis(700)))
    };

    let nodes = ros2_until(
        &["node", "list", "--no-daemon"],
        &["/collector", "/alert_manager", "/sim_asr"],
        &cwd,
        &env,
    );
    let topics = ros2_until(
        &["topic", "list", "-t", "--no-daemon"],
        &[
            "/vla_perf/command_latency [vla_perf/msg/CommandLatency]",
            "/vla_perf/metrics [vla_perf/msg/MetricArray]",
            "/vla_perf/alerts [vla_perf/msg/Alert]",
            "/diagnostics [diagnostic_msgs/msg/DiagnosticArray]",
        ],
        &cwd,
        &env,
    );
    let echo = |topic: &str, type_name: &str| {
        let output = run_limited(
            ros2(
                &["topic", "echo", "--once", "--no-daemon", topic, type_name],
                &cwd,
                &env,
            ),
            Duration::from_secs(60),
            &format!("ros2 topic echo --once {topic}"),
        );
        assert!(output.status.success(), "echo {topic}: {output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let latency = echo("/vla_perf/command_latency", "vla_perf/msg/CommandLatency");
    let diagnostics = echo("/diagnostics", "diagnostic_msgs/msg/DiagnosticArray");
    let interface = run_limited(
        ros2(
            &["interface", "show", "vla_perf/msg/CommandLatency"],
            &cwd,
            &env,
        ),
        Duration::from_secs(30),
        "ros2 interface show",
    );
    stop.store(true, std::sync::atomic::Ordering::Release);
    driver.join().expect("driver thread");
    let status = launch.interrupt(Duration::from_secs(20));
    let log = launch.output();
    println!("{launch_file} under {}:\n{nodes}{topics}", prefix.display());
    println!(
        "{}",
        latency.lines().take(12).collect::<Vec<_>>().join("\n")
    );

    assert!(
        latency.contains("command_id: t") && latency.contains("end_to_end:"),
        "a measured command of the test's driver:\n{latency}"
    );
    assert!(
        latency.contains("stage: voice") && latency.contains("stage: action_done"),
        "the stage breakdown:\n{latency}"
    );
    assert!(diagnostics.contains("status:"), "{diagnostics}");
    let interface = String::from_utf8_lossy(&interface.stdout);
    assert!(interface.contains("StageLatency[] stages"), "{interface}");
    assert!(
        status.success(),
        "ros2 launch after Ctrl-C: {status}\n{log}"
    );
    for node in ["collector", "alert_manager"] {
        assert!(
            log.lines()
                .any(|l| l.contains(&format!("[{node}-")) && l.contains("finished cleanly")),
            "{node} must exit cleanly on Ctrl-C:\n{log}"
        );
    }
    // launch's own "[WARNING] [launch]: user interrupted with ctrl-c" is expected.
    let noisy: Vec<&str> = log
        .lines()
        .filter(|l| !l.starts_with("[WARNING] [launch]: user interrupted"))
        .filter(|l| l.contains("ERROR") || l.contains("WARN"))
        .collect();
    assert!(
        noisy.is_empty(),
        "no ERROR/WARN in normal operation:\n{}",
        noisy.join("\n")
    );
    let left: Vec<_> = std::fs::read_dir(&cwd).expect("cwd").collect();
    assert!(
        left.is_empty(),
        "nothing is written into the working directory: {left:?}"
    );
    assert!(
        ros_home.join("vla_perf").is_dir(),
        "the alert node keeps its state under ROS_HOME"
    );
}

#[test]
fn the_python_launch_file_runs_beside_the_simulated_stack_and_ros2_tools_see_it() {
    launch_file_is_seen_and_echoed_by_ros2_tools(
        "the_python_launch_file_runs_beside_the_simulated_stack_and_ros2_tools_see_it",
        "vla_perf.launch.py",
        "96",
    );
}

#[test]
fn the_xml_launch_file_runs_beside_the_simulated_stack_and_ros2_tools_see_it() {
    launch_file_is_seen_and_echoed_by_ros2_tools(
        "the_xml_launch_file_runs_beside_the_simulated_stack_and_ros2_tools_see_it",
        "vla_perf.launch.xml",
        "97",
    );
}

/// The `topic_rate` of `topic` in a `ros2 topic echo` of `vla_perf/MetricArray`.
fn topic_rate_in(echo: &str, topic: &str) -> Option<f64> {
    let doc = echo.split("\n---").next()?;
    let array: serde_yaml::Value = serde_yaml::from_str(doc).ok()?;
    array["metrics"].as_sequence()?.iter().find_map(|m| {
        let tagged = m["tags"]
            .as_sequence()?
            .iter()
            .any(|kv| kv["key"].as_str() == Some("topic") && kv["value"].as_str() == Some(topic));
        (m["name"].as_str() == Some("topic_rate") && tagged).then(|| m["mean"].as_f64())?
    })
}

#[test]
fn a_type_without_a_header_is_watched_by_rate_like_ros2_topic_hz() {
    if !common::isolated_with_env(
        "a_type_without_a_header_is_watched_by_rate_like_ros2_topic_hz",
        common::LOOPBACK_MULTICAST,
        &[("ROS_DOMAIN_ID", OsStr::new("98"))],
    ) {
        return;
    }
    vla_perf_prefix();
    let work = tempfile::tempdir().expect("temp dir");
    let ros_home = work.path().join("ros_home");
    let env = [("ROS_HOME", ros_home.as_path())];
    // std_msgs/Int32 has no header and is not compiled into vla_perf: its type support is
    // loaded at run time, and nothing of it is read.
    let config = work.path().join("ticks.yaml");
    std::fs::write(
        &config,
        "collector:\n  publish_period: 1s\n  prometheus: {enabled: false}\n  topics:\n    \
         - {topic: /ticks, msg_type: std_msgs/msg/Int32, stamped: false, expected_rate_hz: 20}\n",
    )
    .expect("config");
    let mut run = ros2(
        &["run", "vla_perf", "collector", "--ros-args", "-p"],
        work.path(),
        &env,
    );
    run.arg(format!("config:={}", config.display()));
    let mut collector = Background::start(run, work.path().join("collector.log"));
    let _ticks = Background::start(
        ros2(
            &[
                "topic",
                "pub",
                "-r",
                "20",
                "/ticks",
                "std_msgs/msg/Int32",
                "{data: 7}",
            ],
            work.path(),
            &env,
        ),
        work.path().join("pub.log"),
    );
    // Read the collector's figure until it has settled (or give up after a minute).
    let deadline = Instant::now() + Duration::from_secs(60);
    let rate = loop {
        let output = run_limited(
            ros2(
                &[
                    "topic",
                    "echo",
                    "--once",
                    "--no-daemon",
                    "/vla_perf/topic_health",
                    "vla_perf/msg/MetricArray",
                ],
                work.path(),
                &env,
            ),
            Duration::from_secs(30),
            "ros2 topic echo /vla_perf/topic_health",
        );
        let rate = topic_rate_in(&String::from_utf8_lossy(&output.stdout), "/ticks");
        if rate.is_some_and(|r| (r - 20.0).abs() < 1.0) || Instant::now() > deadline {
            break rate;
        }
        std::thread::sleep(Duration::from_secs(1));
    };
    let status = collector.interrupt(Duration::from_secs(20));
    let log = collector.output();
    println!("/ticks (std_msgs/Int32, 20 Hz) topic_rate: {rate:?}");
    let rate = rate.unwrap_or_else(|| panic!("no topic_rate for /ticks:\n{log}"));
    assert!(
        (rate - 20.0).abs() < 1.0,
        "rate {rate} of a 20 Hz topic\n{log}"
    );
    assert!(status.success(), "collector after Ctrl-C: {status}\n{log}");
    assert!(
        !log.contains("does not decode") && !log.contains("WARN"),
        "nothing is decoded, so nothing fails to:\n{log}"
    );
}
