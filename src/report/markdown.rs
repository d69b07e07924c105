//! The report as a Markdown page: tables a person reads, plots linked.

use std::fmt::Write;

use super::Report;
use crate::core::stats::Summary;

/// Milliseconds with three decimals, or `-` for an undefined figure.
fn ms(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{:.3}", v * 1e3),
        _ => "-".into(),
    }
}

fn ratio(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{:.1}%", v * 100.0),
        _ => "-".into(),
    }
}

fn num(v: Option<f64>, digits: usize) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{v:.digits$}"),
        _ => "-".into(),
    }
}

/// Pipes and newlines would break a table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The count and the statistics columns of a latency table row (mean, min, p50, p90, p95,
/// p99, max), each formatted by `ms`.
pub(super) fn summary_cells(s: Option<&Summary>, ms: fn(Option<f64>) -> String) -> Vec<String> {
    let stats: [fn(&Summary) -> f64; 7] = [
        |s| s.mean,
        |s| s.min,
        |s| s.p50,
        |s| s.p90,
        |s| s.p95,
        |s| s.p99,
        |s| s.max,
    ];
    std::iter::once(s.map_or(0, |s| s.count).to_string())
        .chain(stats.iter().map(|f| ms(s.map(f))))
        .collect()
}

fn latency_row(out: &mut String, name: &str, s: Option<&Summary>) {
    let _ = writeln!(
        out,
        "| {} | {} |",
        cell(name),
        summary_cells(s, ms).join(" | ")
    );
}

// Long: the Markdown report top to bottom, one table per section, so it reads in page order.
pub(super) fn render(r: &Report, plots: &[&str]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", r.title);
    let s = &r.source;
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(out, "| input | `{}` ({}) |", cell(&s.input), s.format);
    let _ = writeln!(
        out,
        "| config | `{}` (sha256 `{}`) |",
        cell(&s.config_path),
        s.config_sha256
    );
    let _ = writeln!(out, "| tool | {} on {} |", s.tool, cell(&s.host));
    let _ = writeln!(
        out,
        "| time | {} .. {} s since the epoch ({:.3} s) |",
        num(s.start, 3),
        num(s.end, 3),
        r.duration
    );
    let c = &r.commands;
    let _ = writeln!(out, "\n## Commands\n");
    let _ = writeln!(
        out,
        "| total | succeeded | failed | timed out | abandoned | rate (1/min) |\n|---|---|---|---|---|---|"
    );
    let _ = writeln!(
        out,
        "| {} | {} | {} | {} | {} | {} |",
        c.total(),
        c.succeeded,
        c.failed,
        c.timed_out,
        c.abandoned,
        num(r.command_rate_hz.map(|h| h * 60.0), 2)
    );
    let _ = writeln!(
        out,
        "\nSLO: {} of commands within {} s (target {}): **{}**",
        ratio(r.slo.compliance),
        r.slo.threshold,
        ratio(Some(r.slo.target)),
        if r.slo.count == 0 {
            "no commands"
        } else if r.slo.met {
            "met"
        } else {
            "missed"
        }
    );
    let _ = writeln!(out, "\n## Latency (ms, since the previous stage)\n");
    let _ = writeln!(
        out,
        "| stage | count | mean | min | p50 | p90 | p95 | p99 | max |\n|---|---|---|---|---|---|---|---|---|"
    );
    for stage in r.stages.iter().skip(1) {
        latency_row(&mut out, &stage.name, stage.latency.summary.as_ref());
    }
    latency_row(&mut out, "**end to end**", r.end_to_end.summary.as_ref());
    let _ = writeln!(out, "\n## Stages\n");
    let _ = writeln!(
        out,
        "| stage | topic | messages | unreadable | failures | success rate | confidence p50 |\n|---|---|---|---|---|---|---|"
    );
    for stage in &r.stages {
        let _ = writeln!(
            out,
            "| {} | `{}` | {} | {} | {} | {} | {} |",
            cell(&stage.name),
            cell(&stage.topic),
            stage.messages,
            stage.unreadable,
            stage.failures,
            ratio(stage.success_rate),
            num(stage.confidence.map(|c| c.p50), 3)
        );
    }
    let a = &r.accuracy;
    let _ = writeln!(
        out,
        "\nUnderstanding rate {}, task success rate {}.",
        ratio(a.understanding_rate),
        ratio(a.task_success_rate)
    );
    for (topic, rate) in &a.action_success_rate {
        let _ = writeln!(
            out,
            "Action success rate on `{}`: {}.",
            cell(topic),
            ratio(*rate)
        );
    }
    let _ = writeln!(out, "\n## Topics\n");
    let _ = writeln!(
        out,
        "| topic | type | messages | MB | rate (Hz) | jitter (ms) | max gap (ms) | age p50 (ms) | status |\n|---|---|---|---|---|---|---|---|---|"
    );
    for t in &r.topics {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {:.3} | {} | {} | {} | {} | {} {} |",
            cell(&t.topic),
            cell(&t.msg_type),
            t.messages,
            t.bytes as f64 / 1e6,
            num(t.rate_hz, 2),
            ms(t.jitter),
            ms(t.max_gap),
            ms(t.age.map(|a| a.p50)),
            t.status,
            cell(&t.reason)
        );
    }
    if r.correlation_anomalies.values().any(|n| *n > 0) {
        let _ = writeln!(out, "\nCorrelation anomalies:");
        for (reason, n) in &r.correlation_anomalies {
            let _ = writeln!(out, "- {reason}: {n}");
        }
    }
    if !r.skips.is_empty() {
        let _ = writeln!(out, "\n## Skipped messages\n");
        let _ = writeln!(
            out,
            "| topic | type | messages | reason |\n|---|---|---|---|"
        );
        for s in &r.skips {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} |",
                cell(&s.topic),
                cell(&s.msg_type),
                s.messages,
                cell(&s.reason)
            );
        }
    }
    if !r.warnings.is_empty() {
        let _ = writeln!(out, "\n## Warnings\n");
        for w in &r.warnings {
            let _ = writeln!(out, "- {}", w.replace('\n', " "));
        }
    }
    if !plots.is_empty() {
        let _ = writeln!(out, "\n## Plots\n");
        for p in plots {
            let _ = writeln!(out, "![{p}]({p})");
        }
    }
    out
}
