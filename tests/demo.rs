//! `vla-perf demo` as a newcomer runs it: no multicast on loopback (a stock machine's `lo`
//! has none), localhost-only DDS, the built-in SIMULATED stack.

#![cfg(feature = "ros2-client")]

mod common;

use std::process::Command;

use common::isolated;

#[test]
fn the_demo_measures_simulated_commands_through_every_stage_without_multicast() {
    if !isolated(
        "the_demo_measures_simulated_commands_through_every_stage_without_multicast",
        "ip link set lo up",
    ) {
        return;
    }
    let state = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_vla-perf"))
        .args([
            "demo",
            "--duration",
            "10s",
            "--no-dashboard",
            "--domain",
            "63",
        ])
        .arg("--state-dir")
        .arg(state.path())
        .output()
        .expect("vla-perf binary");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    // The summary line: spoken N commands; the collector reported M: {...}.
    let reported: usize = stdout
        .lines()
        .find_map(|l| l.split("the collector reported ").nth(1))
        .and_then(|rest| rest.split(':').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no summary line:\n{stdout}"));
    assert!(reported >= 2, "{stdout}");
    // At least one command went through all six stages, measured by the collector.
    let full = stderr
        .lines()
        .filter(|l| l.contains("outcome succeeded") && l.contains("action_done"))
        .count();
    assert!(
        full >= 1,
        "no command measured through every stage:\n{stderr}"
    );
    assert!(stdout.contains("SIMULATED"), "{stdout}");
}
