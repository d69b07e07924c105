//! Benchmark reports end to end: a hand-built run record (tests/fixtures/bench) scored,
//! written to disk and read back; `vla-perf compare` and `vla-perf recommend` run on them.
//!
//! The Markdown report is compared with a golden file; `UPDATE_GOLDEN=1` rewrites it. The
//! accuracy figures are checked against jiwer and pycocotools
//! (`tests/fixtures/bench/score_reference.py`).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use vla_perf::config::load_scenario;
use vla_perf::config::scenario::{Scenario, Suite};
use vla_perf::core::bench::{score, BenchReport, RunRecord};
use vla_perf::report::bench::ReportFiles;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bench")
}

fn scenario() -> Scenario {
    load_scenario(fixtures().join("scenario.yaml")).unwrap()
}

fn record() -> RunRecord {
    let text = std::fs::read_to_string(fixtures().join("run_record.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The fixture run with every latency after the send stretched by `factor`.
fn slower(factor: f64) -> RunRecord {
    let mut r = record();
    for s in &mut r.suites {
        for c in &mut s.commands {
            for t in c.reached.iter_mut().flatten() {
                *t = c.sent + (*t - c.sent) * factor;
            }
        }
    }
    r.run_id = format!("slower-x{factor}");
    r
}

fn vla_perf(args: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vla-perf"))
        .args(args)
        .output()
        .unwrap()
}

fn write(report: &BenchReport, dir: &Path) -> PathBuf {
    report.write_to(dir).unwrap();
    dir.join("report.json")
}

#[test]
fn a_scored_run_writes_a_report_that_reads_back_and_matches_the_golden_markdown() {
    let report = score(&record(), &scenario().expectations());
    let dir = tempfile::tempdir().unwrap();
    let written = report.write_to(dir.path()).unwrap();
    let names: Vec<String> = written
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "report.json",
            "report.md",
            "latency_cdf.svg",
            "latency_over_time.svg",
            "throughput.svg"
        ]
    );
    // No temporary file is left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 5);

    let json = std::fs::read_to_string(dir.path().join("report.json")).unwrap();
    let back = BenchReport::from_json(&json).unwrap();
    assert_eq!(back.run_id, "golden-run");
    assert_eq!(back.meta.host, "bench-host");
    assert_eq!(back.suites.len(), 3);
    let e2e = back.suite(Suite::EndToEnd).unwrap();
    assert_eq!(
        (
            e2e.commands_sent,
            e2e.commands_succeeded,
            e2e.commands_failed,
            e2e.commands_timed_out
        ),
        (12, 7, 4, 1)
    );
    // One late send: corrected and uncorrected end to end differ.
    let max = |n: &str| e2e.latency(n).unwrap().summary.unwrap().max;
    assert!(max("end_to_end") > max("end_to_end_uncorrected"));
    // The headline thresholds: latency passes, success (11/12 as expected) passes, the
    // voice suite's WER (one substitution in 29 words) passes, the planner's p95 passes.
    assert!(e2e.passed, "{:?}", e2e.kpis);
    let vision = back.suite(Suite::VisualPerception).unwrap();
    assert_eq!(vision.commands_timed_out, 1);
    assert_eq!(
        vision.kpi("unknown_class_detections").unwrap().value,
        Some(3.0)
    );
    assert!(!back.recommendations.is_empty());
    assert!(back
        .recommendations
        .iter()
        .any(|r| r.rule == "cpu_core_saturated"));

    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    let golden = fixtures().join("report.md");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &md).unwrap();
    }
    let expected = std::fs::read_to_string(&golden).unwrap();
    for (i, (got, want)) in md.lines().zip(expected.lines()).enumerate() {
        assert_eq!(
            got,
            want,
            "report.md line {} differs from {}",
            i + 1,
            golden.display()
        );
    }
    assert_eq!(
        md.lines().count(),
        expected.lines().count(),
        "report.md length"
    );

    let svgs = ["latency_cdf.svg", "latency_over_time.svg", "throughput.svg"];
    for svg in svgs {
        let text = std::fs::read_to_string(dir.path().join(svg)).unwrap();
        assert!(text.contains("<polyline"), "{svg} has no line");
    }
    // An XML parser nobody here wrote finds an svg root in the SVG namespace.
    common::assert_svgs_parse(&svgs.map(|f| dir.path().join(f)));
}

#[test]
fn wer_and_map_agree_with_jiwer_and_pycocotools() {
    common::require_python_module("jiwer");
    common::require_python_module("pycocotools");
    let scenario = scenario();
    let dir = tempfile::tempdir().unwrap();
    let references: Vec<&str> = scenario.commands.iter().map(|c| c.reference()).collect();
    let refs = dir.path().join("references.json");
    std::fs::write(&refs, serde_json::to_string(&references).unwrap()).unwrap();
    let out = common::python()
        .arg(fixtures().join("score_reference.py"))
        .arg(fixtures().join("run_record.json"))
        .arg(&refs)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let report = score(&record(), &scenario.expectations());
    let got = |suite, kpi| {
        report
            .suite(suite)
            .unwrap()
            .kpi(kpi)
            .unwrap()
            .value
            .unwrap()
    };
    let close = |a: f64, b: &serde_json::Value, tol: f64| {
        let b = b.as_f64().unwrap();
        assert!((a - b).abs() < tol, "vla_perf {a}, reference {b}");
    };
    close(
        got(Suite::VoiceProcessing, "wer"),
        &want["wer"]["voice_processing"],
        1e-9,
    );
    close(
        got(Suite::EndToEnd, "wer"),
        &want["wer"]["end_to_end"],
        1e-9,
    );
    close(got(Suite::VisualPerception, "map"), &want["map"], 1e-4);
    close(got(Suite::VisualPerception, "map50"), &want["map50"], 1e-4);
}

#[test]
fn compare_exits_3_when_the_current_run_is_slower_and_0_when_it_is_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario();
    let baseline = write(
        &score(&record(), &scenario.expectations()),
        &dir.path().join("base"),
    );
    let same = write(
        &score(&record(), &scenario.expectations()),
        &dir.path().join("same"),
    );
    let slow = write(
        &score(&slower(1.3), &scenario.expectations()),
        &dir.path().join("slow"),
    );

    let out = vla_perf(&[Path::new("compare"), &baseline, &same]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("no regressions"), "{text}");

    let out = vla_perf(&[Path::new("compare"), &baseline, &slow]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("regressed") && l.contains("p95_end_to_end")),
        "{text}"
    );

    // A wide enough noise band accepts the slower run; Markdown output is a table.
    let out = vla_perf(&[
        Path::new("compare"),
        &baseline,
        &slow,
        Path::new("--noise"),
        Path::new("0.5"),
        Path::new("--format"),
        Path::new("markdown"),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("| suite | metric |"), "{text}");

    let out = vla_perf(&[
        Path::new("compare"),
        &baseline,
        &dir.path().join("nope.json"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.json"));
}

#[test]
fn recommend_prints_the_newest_reports_recommendations_with_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("vla_perf_results");
    let scenario = scenario();
    let mut old = record();
    old.processes.clear();
    old.gpu_unavailable = None;
    old.run_id = "old-run".into();
    write(
        &score(&old, &scenario.expectations()),
        &results.join("2026-01-01T00-00-00"),
    );
    let newest = write(
        &score(&record(), &scenario.expectations()),
        &results.join("2026-01-02T00-00-00"),
    );

    for path in [&results, &newest] {
        let out = vla_perf(&[Path::new("recommend"), path]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}");
        assert!(text.contains("golden-run"), "{text}");
        assert!(text.contains("cpu_core_saturated"), "{text}");
        assert!(
            text.contains("evidence: cpu_mean_percent.planner = 97.0000 (limit 90.0000)"),
            "{text}"
        );
        assert!(text.contains("gpu_metrics_unavailable"), "{text}");
    }
    let out = vla_perf(&[Path::new("recommend"), &dir.path().join("empty")]);
    assert_eq!(out.status.code(), Some(1));
}
