//! Support shared by the integration tests that open DDS participants.
//!
//! DDS traffic must never leave loopback. [`isolated`] re-runs the calling test in a private
//! network namespace (`unshare -n`, falling back to `unshare -rn` without root) whose only
//! interface is `lo`, with multicast on and 224.0.0.0/4 routed through it.
//! [`fault`] holds the fault-injection helpers (restartable node processes, waiting for a
//! topic, reading JSONL files that may end torn). [`stack_peer`] plays scripted commands on
//! the stack peers of `tests/peers/` and compares a collector's figures with their ground
//! truth.

#![allow(dead_code)]

pub mod drive;
pub mod fault;
pub mod foxglove;
pub mod python;
pub mod servers;
pub mod sim_truth;
pub mod stack_peer;

#[allow(unused_imports)] // not every test binary uses both
pub use python::{python, require_python_module};

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const INSIDE: &str = "VLA_PERF_IN_NETNS";

/// Loopback with multicast, as a stock machine has once `lo` multicast is switched on.
pub const LOOPBACK_MULTICAST: &str =
    "ip link set lo up multicast on && ip route add 224.0.0.0/4 dev lo";

/// Returns true when the caller is already inside the private namespace and should run its
/// body. Otherwise re-runs test `name` of this test binary inside a fresh namespace prepared
/// by `setup` (shell commands), asserts it passed, and returns false.
pub fn isolated(name: &str, setup: &str) -> bool {
    reexec_in(name, &[&["-n"], &["-r", "-n"]], setup, &[])
}

/// Like [`isolated`], with `env` passed to the re-run test (and to `setup`).
pub fn isolated_with_env(name: &str, setup: &str, env: &[(&str, &std::ffi::OsStr)]) -> bool {
    reexec_in(name, &[&["-n"], &["-r", "-n"]], setup, env)
}

/// Like [`isolated`], with a private mount namespace as well: `setup` may mount (a small
/// tmpfs to fill, a read-only remount) without touching the machine's mounts; `env` is
/// passed to the re-run test (and to `setup`).
pub fn isolated_with_mounts(name: &str, setup: &str, env: &[(&str, &std::ffi::OsStr)]) -> bool {
    reexec_in(name, &[&["-m", "-n"], &["-r", "-m", "-n"]], setup, env)
}

/// Whether this process is a test re-run inside its private namespace.
pub fn inside_namespace() -> bool {
    std::env::var_os(INSIDE).is_some()
}

/// Re-runs test `name` under `unshare` with the first of `flag_sets` that works.
fn reexec_in(
    name: &str,
    flag_sets: &[&[&str]],
    setup: &str,
    env: &[(&str, &std::ffi::OsStr)],
) -> bool {
    if inside_namespace() {
        return true;
    }
    // One namespace at a time per test binary: DDS tests measure rates and latencies, and
    // several of them sharing the machine's two cores at once lose best-effort samples.
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let exe = std::env::current_exe().expect("test binary path");
    let script = format!("{setup} && exec \"$0\" \"$@\"");
    let mut last_error = String::new();
    for flags in flag_sets {
        let output = Command::new("unshare")
            .args(*flags)
            .args(["--", "sh", "-c", &script])
            .arg(&exe)
            .args([name, "--exact", "--nocapture", "--test-threads=1"])
            .env(INSIDE, "1")
            .envs(env.iter().copied())
            .output()
            .expect("unshare is missing: install util-linux (`bash .ci/setup` does)");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        if output.status.success() && stdout.contains("1 passed") {
            print!("{stdout}");
            return false;
        }
        // A namespace we could not create is worth the next attempt; a failed test is not.
        if stdout.contains("running 1 test") {
            panic!("{name} failed inside its namespace:\n{stdout}\n{stderr}");
        }
        last_error = format!("unshare {flags:?}: {stderr}");
    }
    panic!(
        "cannot create a private network namespace for {name} (run the tests as root, or \
         allow unprivileged user namespaces: sysctl kernel.unprivileged_userns_clone=1): \
         {last_error}"
    );
}

/// The repository root.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The Cyclone DDS peer script.
pub fn cyclone_peer() -> PathBuf {
    repo().join("tests/peers/cyclone_peer.py")
}

/// A running Python peer whose stdout is JSON lines.
pub struct Peer {
    child: Option<Child>,
    what: String,
}

impl Peer {
    /// Starts `tests/peers/cyclone_peer.py ARGS` with the project's Python.
    pub fn cyclone(args: &[&str]) -> Self {
        let child = python()
            .arg(cyclone_peer())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting the Cyclone DDS peer");
        Self {
            child: Some(child),
            what: args.join(" "),
        }
    }

    /// Waits up to `limit` for the peer to exit; returns its JSON lines, panicking with its
    /// stderr when it failed or hung.
    pub fn finish(mut self, limit: Duration) -> Vec<serde_json::Value> {
        let mut child = self.child.take().expect("a peer is finished once");
        let deadline = Instant::now() + limit;
        loop {
            match child.try_wait().expect("peer status") {
                Some(_) => break,
                None if Instant::now() >= deadline => {
                    let _ = child.kill();
                    break;
                }
                None => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        let output = child.wait_with_output().expect("peer output");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "peer `{}` failed ({}):\n{stderr}",
            self.what,
            output.status
        );
        BufReader::new(&output.stdout[..])
            .lines()
            .map(|l| serde_json::from_str(&l.expect("utf-8")).expect("peer prints JSON lines"))
            .collect()
    }

    /// Whether the peer has exited.
    pub fn exited(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(Some(_))),
            None => true,
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A message as the Cyclone peer prints it: fields by name, non-finite floats as strings.
pub fn peer_json<T: serde::Serialize>(message: &T) -> serde_json::Value {
    fn convert(v: serde_value::Value) -> serde_json::Value {
        use serde_json::Value as J;
        use serde_value::Value as V;
        let float = |f: f64| match serde_json::Number::from_f64(f) {
            Some(n) => J::Number(n),
            None if f.is_nan() => "nan".into(),
            None if f > 0.0 => "inf".into(),
            None => "-inf".into(),
        };
        match v {
            V::Bool(b) => J::Bool(b),
            V::U8(n) => n.into(),
            V::U16(n) => n.into(),
            V::U32(n) => n.into(),
            V::U64(n) => n.into(),
            V::I8(n) => n.into(),
            V::I16(n) => n.into(),
            V::I32(n) => n.into(),
            V::I64(n) => n.into(),
            V::F32(f) => float(f64::from(f)),
            V::F64(f) => float(f),
            V::String(s) => J::String(s),
            V::Seq(items) => J::Array(items.into_iter().map(convert).collect()),
            V::Map(fields) => J::Object(
                fields
                    .into_iter()
                    .map(|(k, v)| match k {
                        V::String(k) => (k, convert(v)),
                        other => panic!("non-string field name {other:?}"),
                    })
                    .collect(),
            ),
            other => panic!("no ROS field serializes as {other:?}"),
        }
    }
    convert(serde_value::to_value(message).expect("message converts"))
}

/// The `stages:` block of a collector config (indented for `collector:`) matching the
/// topics of `tests/peers/stack_peer.py` and `tests/peers/bag_writer.py`.
pub const STACK_PEER_STAGES: &str = r#"  stages:
    - name: voice
      topic: /vla/voice
      msg_type: std_msgs/msg/String
      correlation: {mode: fifo}
    - name: transcript
      topic: /vla/transcript
      msg_type: std_msgs/msg/String
      correlation: {mode: fifo}
      json: {confidence: confidence}
    - name: plan
      topic: /vla/plan
      msg_type: std_msgs/msg/String
      correlation: {mode: id, field: command_id}
      json: {id: command_id, status: status}
      failure: {field: status, values: [rejected]}
    - name: vision
      topic: /vla/detections
      msg_type: sensor_msgs/msg/Image
      correlation: {mode: fifo}
    - name: action_start
      topic: /vla/execute/_action/status
      msg_type: action_msgs/msg/GoalStatusArray
      correlation: {mode: fifo}
      accept: {field: status, values: [2]}
    - name: action_done
      topic: /vla/execute/_action/status
      msg_type: action_msgs/msg/GoalStatusArray
      correlation: {mode: fifo}
      accept: {field: status, values: [4, 5, 6]}
      failure: {field: status, values: [5, 6]}
"#;

/// A collector config for the stack peers: `settings` (lines indented for `collector:`),
/// the stages, then `rest` (more such lines, e.g. `topics:`).
pub fn stack_peer_config(settings: &str, rest: &str) -> String {
    format!("collector:\n{settings}{STACK_PEER_STAGES}{rest}")
}

/// Asserts that an XML parser nobody here wrote (Python's) finds an `svg` root in the SVG
/// namespace in each file.
pub fn assert_svgs_parse(files: &[PathBuf]) {
    let parsed = python()
        .args([
            "-c",
            "import sys, xml.etree.ElementTree as E\n\
             for f in sys.argv[1:]:\n    assert E.parse(f).getroot().tag == \
             '{http://www.w3.org/2000/svg}svg', f",
        ])
        .args(files)
        .output()
        .expect("running the project's Python");
    assert!(
        parsed.status.success(),
        "{}",
        String::from_utf8_lossy(&parsed.stderr)
    );
}
