//! Writers of a scored benchmark run ([`BenchReport`]): `report.json`, `report.md` and
//! three SVG plots, each written atomically.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::svg::{line_chart, Line};
use super::{write_atomic, Error, Result};
use crate::config::scenario::Suite;
use crate::core::bench::score::{
    DETECTION_IOU, DETECTION_SCORE_THRESHOLD, END_TO_END, END_TO_END_UNCORRECTED,
};
use crate::core::bench::{BenchReport, Compare, SuiteReport, TimeBin};
use crate::core::clock::rfc3339;

/// The plots written beside the report, in order.
pub const BENCH_PLOTS: [&str; 3] = ["latency_cdf.svg", "latency_over_time.svg", "throughput.svg"];

/// A benchmark report's files: JSON, Markdown and plots (the report itself is pure data of
/// the core, `core::bench::BenchReport`).
pub trait ReportFiles: Sized {
    /// The report as pretty JSON (undefined figures are `null`).
    fn to_json(&self) -> Result<String>;
    /// Parses a `report.json` written by [`ReportFiles::to_json`].
    fn from_json(text: &str) -> Result<Self>;
    /// The report as a Markdown page; `plots` are linked where given.
    fn to_markdown(&self, plots: &[&str]) -> String;
    /// Writes `report.json`, `report.md`, `latency_cdf.svg`, `latency_over_time.svg` and
    /// `throughput.svg` into `dir` (created if missing); returns the paths written.
    fn write_to(&self, dir: &Path) -> Result<Vec<PathBuf>>;
}

impl ReportFiles for BenchReport {
    fn to_json(&self) -> Result<String> {
        Ok(serde_json::to_string_pretty(self)?)
    }

    fn from_json(text: &str) -> Result<Self> {
        Ok(serde_json::from_str(text)?)
    }

    fn to_markdown(&self, plots: &[&str]) -> String {
        render(self, plots)
    }

    fn write_to(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_owned(),
            source,
        })?;
        let files = [
            ("report.json", self.to_json()?),
            ("report.md", self.to_markdown(&BENCH_PLOTS)),
            (BENCH_PLOTS[0], latency_cdf(self)),
            (BENCH_PLOTS[1], latency_over_time(self)),
            (BENCH_PLOTS[2], throughput(self)),
        ];
        let mut written = Vec::with_capacity(files.len());
        for (name, text) in files {
            let path = dir.join(name);
            write_atomic(&path, text.as_bytes())?;
            written.push(path);
        }
        Ok(written)
    }
}

/// The suites plotted: the end_to_end suite when there is one, else all.
fn plotted(r: &BenchReport) -> Vec<&SuiteReport> {
    match r.suite(Suite::EndToEnd) {
        Some(s) => vec![s],
        None => r.suites.iter().collect(),
    }
}

/// A line name, prefixed by the suite when several suites share a plot.
fn label(several: bool, suite: Suite, what: &str) -> String {
    if several {
        format!("{}: {what}", suite.as_str())
    } else {
        what.to_owned()
    }
}

/// Latency CDF per stage and end to end (corrected).
pub fn latency_cdf(r: &BenchReport) -> String {
    let suites = plotted(r);
    let several = suites.len() > 1;
    let mut lines = Vec::new();
    for s in &suites {
        for l in &s.latencies {
            let end_to_end = l.name == END_TO_END;
            // With several suites, one line per stage is enough.
            if l.cdf.is_empty() || l.name == END_TO_END_UNCORRECTED || (several && end_to_end) {
                continue;
            }
            let mut points = Vec::with_capacity(l.cdf.len() * 2);
            let mut below = 0.0;
            for p in &l.cdf {
                points.push((p[0] * 1e3, below));
                points.push((p[0] * 1e3, p[1]));
                below = p[1];
            }
            lines.push(Line {
                name: label(several, s.suite, &l.name),
                points,
            });
        }
    }
    line_chart(
        &format!("Latency distribution: {}", r.meta.scenario),
        "latency (ms)",
        "fraction at or below",
        &lines,
    )
}

/// A value of a time bin, already in the plot's unit.
type BinValue = fn(&TimeBin) -> Option<f64>;

/// One line per `(name, value)` and plotted suite, a point per time bin at its middle.
fn bin_lines(r: &BenchReport, values: &[(&str, BinValue)]) -> Vec<Line> {
    let suites = plotted(r);
    let several = suites.len() > 1;
    let mut lines = Vec::new();
    for s in &suites {
        for (name, value) in values {
            lines.push(Line {
                name: label(several, s.suite, name),
                points: s
                    .over_time
                    .iter()
                    .filter_map(|b| value(b).map(|v| ((b.start + b.end) / 2.0, v)))
                    .collect(),
            });
        }
    }
    lines
}

fn per_second(n: u64, b: &TimeBin) -> Option<f64> {
    (b.end > b.start).then(|| n as f64 / (b.end - b.start))
}

/// End-to-end p50 and p95 per time bin across each plotted suite.
pub fn latency_over_time(r: &BenchReport) -> String {
    let lines = bin_lines(
        r,
        &[
            ("end to end p50", |b| b.p50.map(|v| v * 1e3)),
            ("end to end p95", |b| b.p95.map(|v| v * 1e3)),
        ],
    );
    line_chart(
        &format!("Latency over time: {}", r.meta.scenario),
        "time since suite start (s)",
        "latency (ms)",
        &lines,
    )
}

/// Sent and answered per second, per time bin.
pub fn throughput(r: &BenchReport) -> String {
    let lines = bin_lines(
        r,
        &[
            ("sent / s", |b| per_second(b.sent, b)),
            ("answered / s", |b| per_second(b.completed, b)),
        ],
    );
    line_chart(
        &format!("Throughput: {}", r.meta.scenario),
        "time since suite start (s)",
        "per second",
        &lines,
    )
}

fn or_dash(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.filter(|v| v.is_finite()).map_or_else(|| "-".into(), f)
}

fn millis(v: Option<f64>) -> String {
    or_dash(v, |v| format!("{:.1}", v * 1e3))
}

fn percent(v: Option<f64>) -> String {
    or_dash(v, |v| format!("{:.1}%", v * 100.0))
}

/// A KPI value in its unit.
fn kpi_value(unit: &str, v: Option<f64>) -> String {
    match unit {
        "1" => or_dash(v, |v| format!("{v:.3}")),
        "s" => or_dash(v, |v| format!("{:.1} ms", v * 1e3)),
        "count" => or_dash(v, |v| format!("{v:.0}")),
        u => or_dash(v, |v| format!("{v:.2} {u}")),
    }
}

fn escape_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn when(unix: f64) -> String {
    if unix.is_finite() && unix > 0.0 {
        rfc3339(Duration::from_secs_f64(unix))
    } else {
        "-".into()
    }
}

/// A Markdown table: the first column left-aligned, the others right-aligned; cells escaped.
fn table(out: &mut String, header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) {
    let line = |cells: &mut dyn Iterator<Item = String>| {
        let cells: Vec<String> = cells.map(|c| escape_cell(&c)).collect();
        format!("| {} |\n", cells.join(" | "))
    };
    out.push_str(&line(&mut header.iter().map(|h| (*h).to_owned())));
    let rule: Vec<&str> = (0..header.len())
        .map(|i| if i == 0 { "---" } else { "---:" })
        .collect();
    let _ = writeln!(out, "|{}|", rule.join("|"));
    for row in rows {
        out.push_str(&line(&mut row.into_iter()));
    }
}

// Long: the report's sections top to bottom, each table inline, so it reads in page order.
fn render(r: &BenchReport, plots: &[&str]) -> String {
    let mut out = String::new();
    let m = &r.meta;
    let _ = writeln!(
        out,
        "# Benchmark: {} — {}\n",
        escape_cell(&m.scenario),
        if r.passed { "PASSED" } else { "FAILED" }
    );
    table(
        &mut out,
        &["", ""],
        [
            ("run", r.run_id.clone()),
            ("host", m.host.clone()),
            ("tool", m.tool.clone()),
            ("platform", m.platform.clone()),
            (
                "scenario",
                format!("`{}` (sha256 `{}`)", m.scenario_path, m.scenario_sha256),
            ),
            (
                "config",
                format!("`{}` (sha256 `{}`)", m.config_path, m.config_sha256),
            ),
            ("load", format!("{}, timeout {} s", m.load, m.timeout)),
            ("started", when(m.started_unix)),
            ("ended", when(m.ended_unix)),
        ]
        .map(|(k, v)| vec![k.to_owned(), v]),
    );
    let _ = writeln!(out, "\n## Suites\n");
    table(
        &mut out,
        &[
            "suite",
            "sent",
            "succeeded",
            "failed",
            "timed out",
            "duration (s)",
            "throughput (/s)",
            "result",
        ],
        r.suites.iter().map(|s| {
            vec![
                s.suite.as_str().to_owned(),
                s.commands_sent.to_string(),
                s.commands_succeeded.to_string(),
                s.commands_failed.to_string(),
                s.commands_timed_out.to_string(),
                format!("{:.1}", s.duration),
                or_dash(s.throughput, |v| format!("{v:.2}")),
                verdict(Some(s.passed)).to_owned(),
            ]
        }),
    );
    for s in &r.suites {
        suite_section(&mut out, s);
    }
    profile_section(&mut out, r);
    resources_section(&mut out, r);
    let _ = writeln!(out, "\n## Recommendations\n");
    if r.recommendations.is_empty() {
        let _ = writeln!(out, "None: no rule fired.");
    }
    for rec in &r.recommendations {
        let _ = writeln!(
            out,
            "- **{:?}** `{}`: {} _(evidence: {})_",
            rec.severity, rec.rule, rec.message, rec.evidence
        );
    }
    if !plots.is_empty() {
        let _ = writeln!(out, "\n## Plots\n");
        for p in plots {
            let _ = writeln!(out, "![{p}]({p})");
        }
    }
    out
}

fn verdict(passed: Option<bool>) -> &'static str {
    match passed {
        Some(true) => "pass",
        Some(false) => "**FAIL**",
        None => "",
    }
}

// Long: one table per part of a suite (KPIs, latencies, classes, peak search), in page order.
fn suite_section(out: &mut String, s: &SuiteReport) {
    let _ = writeln!(out, "\n## {}\n", s.suite.as_str());
    if !s.kpis.is_empty() {
        table(
            out,
            &["KPI", "value", "threshold", "result"],
            s.kpis.iter().map(|k| {
                let threshold = match (k.compare, k.threshold) {
                    (Compare::AtMost, Some(t)) => format!("≤ {}", kpi_value(&k.unit, Some(t))),
                    (Compare::AtLeast, Some(t)) => format!("≥ {}", kpi_value(&k.unit, Some(t))),
                    _ => "-".into(),
                };
                vec![
                    k.name.clone(),
                    kpi_value(&k.unit, k.value),
                    threshold,
                    verdict(k.passed).to_owned(),
                ]
            }),
        );
        out.push('\n');
    }
    table(
        out,
        &[
            "latency (ms)",
            "count",
            "mean",
            "min",
            "p50",
            "p90",
            "p95",
            "p99",
            "max",
        ],
        s.latencies.iter().map(|l| {
            let mut row = vec![l.name.clone()];
            row.extend(super::markdown::summary_cells(l.summary.as_ref(), millis));
            row
        }),
    );
    if !s.classes.is_empty() {
        out.push('\n');
        let score = |v: Option<f64>| or_dash(v, |v| format!("{v:.3}"));
        table(
            out,
            &[
                "class",
                "ground truths",
                "TP",
                "FP",
                "FN",
                "precision",
                "recall",
                "AP50",
                "AP",
            ],
            s.classes.iter().map(|c| {
                vec![
                    c.name.clone(),
                    c.ground_truths.to_string(),
                    c.true_positives.to_string(),
                    c.false_positives.to_string(),
                    c.false_negatives.to_string(),
                    percent(c.precision),
                    percent(c.recall),
                    score(c.ap50),
                    score(c.ap),
                ]
            }),
        );
        let _ = writeln!(
            out,
            "\nPrecision and recall at IoU {DETECTION_IOU} and score ≥ {DETECTION_SCORE_THRESHOLD}."
        );
    }
    if let Some(p) = &s.peak_search {
        let _ = writeln!(
            out,
            "\nPeak search: highest sustainable rate **{}**.\n",
            or_dash(p.peak_sustainable_hz, |v| format!("{v} /s"))
        );
        table(
            out,
            &[
                "offered (/s)",
                "sent",
                "achieved (/s)",
                "dropped",
                "p95 end to end (ms)",
                "sustainable",
            ],
            p.steps.iter().map(|st| {
                vec![
                    st.rate_hz.to_string(),
                    st.sent.to_string(),
                    or_dash(st.throughput, |v| format!("{v:.2}")),
                    percent(Some(st.drop_rate)),
                    millis(st.p95.get(END_TO_END).copied()),
                    match &st.reason {
                        None => "yes".to_owned(),
                        Some(why) => format!("no: {why}"),
                    },
                ]
            }),
        );
    }
    if s.unmatched > 0 || s.skipped > 0 {
        let _ = writeln!(
            out,
            "\n{} stack outputs matched nothing sent; {} observations could not be scored.",
            s.unmatched, s.skipped
        );
    }
}

fn profile_section(out: &mut String, r: &BenchReport) {
    let Some(p) = &r.profile else { return };
    let _ = writeln!(
        out,
        "\n## Profile ({})\n\nDominant stage: **{}** at p95, {} at p50.\n",
        p.suite.as_str(),
        p.dominant_p95.as_deref().unwrap_or("-"),
        p.dominant_p50.as_deref().unwrap_or("-")
    );
    table(
        out,
        &[
            "stage",
            "p50 (ms)",
            "p95 (ms)",
            "share of p50",
            "share of p95",
            "mean wait (ms)",
            "mean processing (ms)",
        ],
        p.stages.iter().map(|st| {
            vec![
                st.stage.clone(),
                millis(st.p50),
                millis(st.p95),
                percent(st.share_p50),
                percent(st.share_p95),
                millis(st.mean_wait),
                millis(st.mean_processing),
            ]
        }),
    );
    let _ = writeln!(
        out,
        "\nShares are of the sum of stage quantiles. Wait is an estimate valid for stages that \
         serve one command at a time."
    );
}

fn mebibytes(bytes: Option<u64>) -> String {
    or_dash(bytes.map(|b| b as f64 / (1u64 << 20) as f64), |v| {
        format!("{v:.1}")
    })
}

fn resources_section(out: &mut String, r: &BenchReport) {
    let _ = writeln!(out, "\n## Resources\n");
    let one = |v: Option<f64>| or_dash(v, |v| format!("{v:.1}"));
    if !r.processes.is_empty() {
        table(
            out,
            &[
                "process",
                "CPU mean (% of a core)",
                "CPU max",
                "RSS max (MiB)",
                "cores",
            ],
            r.processes.iter().map(|p| {
                vec![
                    p.name.clone(),
                    one(p.cpu_mean_percent),
                    one(p.cpu_max_percent),
                    mebibytes(p.rss_max_bytes),
                    p.cores.to_string(),
                ]
            }),
        );
        out.push('\n');
    }
    if let Some(why) = &r.gpu_unavailable {
        let _ = writeln!(out, "GPU metrics unavailable: {}", escape_cell(why));
    } else if !r.gpus.is_empty() {
        table(
            out,
            &[
                "GPU",
                "utilisation mean (%)",
                "utilisation max (%)",
                "memory max (MiB)",
                "of total",
            ],
            r.gpus.iter().map(|g| {
                vec![
                    g.name.clone(),
                    one(g.utilization_mean_percent),
                    one(g.utilization_max_percent),
                    mebibytes(g.memory_max_bytes),
                    percent(g.memory_max_fraction),
                ]
            }),
        );
    }
}

#[cfg(test)]
mod round_trip {
    use crate::core::timeline::Outcome;

    #[test]
    fn the_report_of_a_run_where_nothing_answered_reads_back() {
        let dir = env!("CARGO_MANIFEST_DIR");
        let text =
            std::fs::read_to_string(format!("{dir}/tests/fixtures/bench/run_record.json")).unwrap();
        let mut record: crate::core::bench::RunRecord = serde_json::from_str(&text).unwrap();
        for suite in &mut record.suites {
            for image in &mut suite.images {
                image.received = None;
                image.detections.clear();
            }
            for c in &mut suite.commands {
                c.reached.iter_mut().for_each(|r| *r = None);
                c.outcome = Outcome::TimedOut;
                c.transcript = None;
                c.plan = None;
            }
        }
        let scenario =
            crate::config::load_scenario(format!("{dir}/tests/fixtures/bench/scenario.yaml"))
                .unwrap();
        let report = crate::core::bench::score(&record, &scenario.expectations());
        use super::ReportFiles as _;
        // Unmeasured figures are NaN in places (a recommendation's evidence) and null in JSON.
        let json = report.to_json().unwrap();
        let back = super::BenchReport::from_json(&json).unwrap();
        assert_eq!(back.suites.len(), report.suites.len());
        assert_eq!(back.recommendations.len(), report.recommendations.len());
    }
}
