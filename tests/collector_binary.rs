//! The `collector` binary as `ros2 run` / `ros2 launch` start it: config from
//! `--ros-args -p config:=FILE`, a clean exit on SIGTERM, a clear error for a bad config.

#![cfg(feature = "ros2-client")]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{isolated, LOOPBACK_MULTICAST};

const CONFIG: &str = "\
collector:
  robot_id: binary_test
  prometheus: {enabled: true, listen: 127.0.0.1:0}
  resources: {gpu: false}
";

#[test]
fn the_collector_takes_its_config_from_ros_args_and_exits_cleanly_on_sigterm() {
    if !isolated(
        "the_collector_takes_its_config_from_ros_args_and_exits_cleanly_on_sigterm",
        LOOPBACK_MULTICAST,
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("collector.yaml");
    std::fs::write(&config, CONFIG).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_collector"))
        .args(["--ros-args", "-r", "__node:=collector", "-p"])
        .arg(format!("config:={}", config.display()))
        .env("ROS_DOMAIN_ID", "61")
        .stderr(Stdio::piped())
        .spawn()
        .expect("collector binary");
    // The endpoint line proves the config was read: the default would be port 9464.
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let endpoint = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.contains("Prometheus metrics on"))
        .expect("the collector logs its endpoint");
    assert!(
        endpoint.contains("http://127.0.0.1:") && !endpoint.contains(":9464/"),
        "{endpoint}"
    );
    let pid = child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "no exit within 10 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "exit status after SIGTERM: {status}");
}

#[test]
fn a_bad_config_stops_the_collector_with_the_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.yaml");
    std::fs::write(&config, "collector:\n  publish_period: -1s\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_collector"))
        .arg("--config")
        .arg(&config)
        .output()
        .expect("collector binary");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("bad.yaml") && stderr.contains("publish_period") && stderr.contains(":2"),
        "{stderr}"
    );
}
