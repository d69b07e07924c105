//! `vla-perf check-config` as a user runs it: the built binary on real files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn shipped(name: &str) -> PathBuf {
    root().join("config").join(name)
}

fn bad(name: &str) -> PathBuf {
    root().join("tests/fixtures/bad_configs").join(name)
}

fn check_config(files: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vla-perf"))
        .arg("check-config")
        .args(files)
        .output()
        .expect("the vla-perf binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_good_collector_config_exits_zero_and_prints_its_stages() {
    let output = check_config(&[&shipped("collector.yaml")]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "stderr: {}", text(&output.stderr));
    assert!(stdout.contains("OK (collector config)"), "{stdout}");
    for expected in [
        "voice",
        "/asr/transcript",
        "std_msgs/msg/String",
        "id (command_id)",
        "windows: [10s, 1m, 5m]",
        "slo:",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
}

#[test]
fn alert_rules_are_printed_as_understood() {
    let output = check_config(&[&shipped("alerts.yaml"), &shipped("alerts_compact.yaml")]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "stderr: {}", text(&output.stderr));
    assert!(
        stdout.contains("p95(stage_latency{stage=plan}) over 1m"),
        "{stdout}"
    );
    assert!(
        stdout.contains("lower is worse: warning <= 0.9, critical <= 0.8"),
        "{stdout}"
    );
    assert!(
        stdout.contains("alertmanager http://localhost:9093"),
        "{stdout}"
    );
}

#[test]
fn a_scenario_summary_lists_commands_load_and_thresholds() {
    let output = check_config(&[&shipped("scenarios/basic.yaml")]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "stderr: {}", text(&output.stderr));
    assert!(stdout.contains("OK (benchmark scenario)"), "{stdout}");
    assert!(stdout.contains("load: sequential, 6 commands"), "{stdout}");
    assert!(stdout.contains("WER <= 0.25"), "{stdout}");
}

#[test]
fn a_bad_file_exits_non_zero_naming_file_line_column_and_field_on_stderr() {
    let path = bad("bad_correlation_mode.yaml");
    let output = check_config(&[&path]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "stderr: {stderr}");
    let expected = format!(
        "{}:7:15: collector.stages[0].correlation.mode: unknown variant `timestamp`",
        path.display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
}

#[test]
fn checking_stops_at_the_first_bad_file() {
    let good = shipped("collector.yaml");
    let first_bad = bad("zero_window.yaml");
    let second_bad = bad("empty_stage_list.yaml");
    let output = check_config(&[&good, &first_bad, &second_bad]);
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(!output.status.success());
    assert!(
        stdout.contains(&format!("{}: OK", good.display())),
        "{stdout}"
    );
    assert!(
        stderr.contains("zero_window.yaml:3:7: collector.windows[0]"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("empty_stage_list"),
        "checked past the first error: {stderr}"
    );
    assert!(!stdout.contains("empty_stage_list"), "{stdout}");
}

#[test]
fn unknown_metric_names_are_warnings_that_do_not_fail_the_check() {
    let dir = std::env::temp_dir().join(format!("vla_perf_cli_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("custom_metric.yaml");
    std::fs::write(
        &file,
        "rules:\n  - {name: r, metric: my_custom_metric, warning: 1, critical: 2}\n",
    )
    .unwrap();
    let output = check_config(&[&file]);
    std::fs::remove_dir_all(&dir).ok();
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "stderr: {stderr}");
    assert!(
        stderr.contains("warning:") && stderr.contains("unknown metric `my_custom_metric`"),
        "{stderr}"
    );
    assert!(stderr.contains("custom_metric.yaml:2:"), "{stderr}");
}

#[test]
fn a_file_of_no_known_kind_lists_the_expected_top_level_keys() {
    let output = check_config(&[&bad("no_known_kind.yaml")]);
    let stderr = text(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("`rules`/`performance_alerts`/`notifications`"),
        "{stderr}"
    );
}

#[test]
fn no_files_is_a_usage_error() {
    let output = check_config(&[]);
    assert_eq!(output.status.code(), Some(2));
}
