//! `vla-perf export prometheus-rules` against Prometheus' own tool: every alert file the
//! repository ships or tests with exports to a rule file `promtool check rules` accepts
//! (with the fleet recording rules), the promtool unit tests of
//! `tests/fixtures/prometheus/kinds_test.yaml` pass on the export of `kinds_alerts.yaml`
//! (each translated rule kind fires for the right robot and severity, on the right side of
//! each threshold, after its `for`, and keeps firing for `keep_firing_for`; the recording
//! rules give the expected fleet figures), and rules that cannot be expressed are refused
//! by name. Needs `promtool` (Debian `prometheus`; `bash .ci/setup` installs it).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::repo;

const PROMTOOL: &str = "/usr/bin/promtool";

fn promtool() -> Command {
    assert!(
        Path::new(PROMTOOL).exists(),
        "{PROMTOOL} is missing: install Debian's prometheus package (`bash .ci/setup` does)"
    );
    Command::new(PROMTOOL)
}

fn export(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vla-perf"))
        .args(["export", "prometheus-rules"])
        .args(args)
        .output()
        .expect("vla-perf binary")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Every valid alert file of the repository: the shipped ones and the test fixtures.
fn alert_files() -> Vec<PathBuf> {
    let mut files = vec![
        repo().join("config/alerts.yaml"),
        repo().join("config/alerts_compact.yaml"),
        repo().join("tests/fixtures/demo/alerts.yaml"),
        repo().join("tests/fixtures/prometheus/kinds_alerts.yaml"),
    ];
    for file in &files {
        vla_perf::config::load_alerts(file).unwrap_or_else(|e| panic!("{e}"));
    }
    files.sort();
    files
}

#[test]
fn every_alert_file_exports_to_rules_promtool_accepts() {
    let dir = tempfile::tempdir().unwrap();
    for (i, file) in alert_files().into_iter().enumerate() {
        let out = dir.path().join(format!("{i}.rules.yaml"));
        let exported = export(&[
            file.to_str().unwrap(),
            "--recording",
            "--skip-unsupported",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(exported.status.success(), "{}", text(&exported.stderr));
        let checked = promtool()
            .args(["check", "rules"])
            .arg(&out)
            .output()
            .unwrap();
        let report = text(&checked.stdout) + &text(&checked.stderr);
        assert!(
            checked.status.success() && report.contains("SUCCESS"),
            "{}:\n{report}\n{}",
            file.display(),
            std::fs::read_to_string(&out).unwrap()
        );
        println!("{}: {}", file.display(), report.trim().replace('\n', " "));
    }
}

#[test]
fn promtool_unit_tests_pass_for_every_translated_rule_kind() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = repo().join("tests/fixtures/prometheus");
    let exported = export(&[
        fixtures.join("kinds_alerts.yaml").to_str().unwrap(),
        "--evaluation-period",
        "15s",
        "--recording",
        "--out",
        dir.path().join("kinds_rules.yaml").to_str().unwrap(),
    ]);
    assert!(exported.status.success(), "{}", text(&exported.stderr));
    let test = dir.path().join("kinds_test.yaml");
    std::fs::copy(fixtures.join("kinds_test.yaml"), &test).unwrap();
    let tested = promtool()
        .args(["test", "rules"])
        .arg(&test)
        .output()
        .unwrap();
    let report = text(&tested.stdout) + &text(&tested.stderr);
    assert!(
        tested.status.success() && report.contains("SUCCESS"),
        "{report}"
    );
    println!("{}", report.trim());
}

#[test]
fn rules_that_cannot_be_expressed_are_refused_by_name() {
    let shipped = repo().join("config/alerts.yaml");
    let refused = export(&[shipped.to_str().unwrap()]);
    let stderr = text(&refused.stderr);
    assert!(!refused.status.success());
    assert!(refused.stdout.is_empty(), "{}", text(&refused.stdout));
    assert!(
        stderr.contains("rule `benchmark_degraded`: `benchmark_degradation` is not exported")
            && stderr.contains("--skip-unsupported"),
        "{stderr}"
    );
    // Skipped, it is listed in the file and on stderr; everything else is there.
    let skipped = export(&[shipped.to_str().unwrap(), "--skip-unsupported"]);
    let rules = text(&skipped.stdout);
    assert!(skipped.status.success());
    assert!(text(&skipped.stderr).contains("rule `benchmark_degraded` not exported"));
    assert!(
        rules.contains("# not exported: benchmark_degraded: "),
        "{rules}"
    );
    for alert in [
        "planner_latency_high",
        "end_to_end_slow",
        "slo_breached",
        "commands_failing",
        "camera_stalled",
        "gpu_memory_high",
    ] {
        assert_eq!(
            rules.matches(&format!("- alert: {alert}\n")).count(),
            2,
            "{alert} once per severity in\n{rules}"
        );
    }
    // A metric the suite does not publish loads (with a warning) but cannot be exported.
    let dir = tempfile::tempdir().unwrap();
    let unknown = dir.path().join("unknown.yaml");
    let rule = "rules:\n  - name: x\n    metric: no_such_metric\n    warning: 1\n    \
                critical: 2\n    window: WINDOW\n";
    std::fs::write(&unknown, rule.replace("WINDOW", "1m")).unwrap();
    let failed = export(&[unknown.to_str().unwrap()]);
    let stderr = text(&failed.stderr);
    assert!(!failed.status.success());
    assert!(
        stderr.contains("rule `x`: `no_such_metric` is not a metric"),
        "{stderr}"
    );
    // A file that does not load is the loader's positioned error.
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, rule.replace("WINDOW", "soon")).unwrap();
    let failed = export(&[bad.to_str().unwrap()]);
    let stderr = text(&failed.stderr);
    assert!(!failed.status.success());
    assert!(
        stderr.contains("bad.yaml:6:") && stderr.contains("soon"),
        "{stderr}"
    );
}
