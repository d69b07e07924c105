//! Baseline comparison: the figures of two reports, suite by suite, with a verdict each.
//!
//! A change is *relative* (`(current − baseline) / |baseline|`) for latencies, throughput,
//! frames/s and the peak rate, and *absolute* (`current − baseline`) for rates in [0, 1]
//! (WER, success, understanding, mAP). Within ±`noise` of its kind it is unchanged; beyond
//! it, improved or regressed by the figure's direction. A figure the baseline had and the
//! current run lacks is regressed. p50 and p99 are shown; p95, throughput, peak rate and
//! the KPIs gate ([`Comparison::regressed`]).

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::scenario::Suite;
use super::score::BenchReport;
use crate::trend::Direction;

/// How large a change must be to count.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NoiseThreshold {
    /// For latencies and throughput: a fraction of the baseline.
    pub relative: f64,
    /// For rates in [0, 1]: an absolute difference.
    pub absolute: f64,
}

impl Default for NoiseThreshold {
    fn default() -> Self {
        Self::uniform(0.05)
    }
}

impl NoiseThreshold {
    /// The same number for both kinds (`--noise`).
    pub fn uniform(noise: f64) -> Self {
        Self {
            relative: noise,
            absolute: noise,
        }
    }
}

/// How a figure moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Better beyond the noise.
    Improved,
    /// Within the noise.
    Unchanged,
    /// Worse beyond the noise, or no longer measured.
    Regressed,
}

/// One figure of one suite in both runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComparisonRow {
    /// Suite.
    pub suite: Suite,
    /// Figure, e.g. `p95_end_to_end`.
    pub metric: String,
    /// Baseline value.
    pub baseline: Option<f64>,
    /// Current value.
    pub current: Option<f64>,
    /// Relative or absolute change (see `absolute`); `None` when the current run lacks it.
    pub change: Option<f64>,
    /// The change is absolute (a rate), else relative.
    pub absolute: bool,
    /// Whether this row gates [`Comparison::regressed`].
    pub gating: bool,
    /// The verdict.
    pub verdict: Verdict,
}

/// A comparison of two runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Baseline run id.
    pub baseline_run: String,
    /// Current run id.
    pub current_run: String,
    /// The noise used.
    pub noise: NoiseThreshold,
    /// Every figure of every suite both runs have.
    pub rows: Vec<ComparisonRow>,
    /// Suites of the baseline the current run lacks (reported, not a regression).
    pub missing_suites: Vec<Suite>,
}

impl Comparison {
    /// Any gating figure regressed.
    pub fn regressed(&self) -> bool {
        self.regressions().next().is_some()
    }

    /// The gating rows that regressed.
    pub fn regressions(&self) -> impl Iterator<Item = &ComparisonRow> {
        self.rows
            .iter()
            .filter(|r| r.gating && r.verdict == Verdict::Regressed)
    }

    /// The row of `metric` in `suite`.
    pub fn row(&self, suite: Suite, metric: &str) -> Option<&ComparisonRow> {
        self.rows
            .iter()
            .find(|r| r.suite == suite && r.metric == metric)
    }

    /// Plain text, one line per figure.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "baseline {} -> current {} (noise: {} relative, {} absolute)\n",
            self.baseline_run, self.current_run, self.noise.relative, self.noise.absolute
        );
        for r in &self.rows {
            let _ = writeln!(
                out,
                "{:<10} {:<20} {:<28} {:>12} -> {:<12} {}",
                verdict_name(r.verdict),
                r.suite.as_str(),
                r.metric,
                value(r.baseline),
                value(r.current),
                change(r)
            );
        }
        self.footer(&mut out);
        out
    }

    /// A Markdown table.
    pub fn to_markdown(&self) -> String {
        let mut out = format!(
            "## Comparison: `{}` against baseline `{}`\n\nNoise: {} relative (latency, \
             throughput), {} absolute (rates).\n\n| suite | metric | baseline | current | change | verdict |\n|---|---|---:|---:|---:|---|\n",
            self.current_run, self.baseline_run, self.noise.relative, self.noise.absolute
        );
        for r in &self.rows {
            let verdict = match r.verdict {
                Verdict::Regressed if r.gating => "**regressed**",
                v => verdict_name(v),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {verdict} |",
                r.suite.as_str(),
                r.metric,
                value(r.baseline),
                value(r.current),
                change(r)
            );
        }
        out.push('\n');
        self.footer(&mut out);
        out
    }

    fn footer(&self, out: &mut String) {
        for s in &self.missing_suites {
            let _ = writeln!(out, "suite {} is missing from the current run", s.as_str());
        }
        let n = self.regressions().count();
        let _ = writeln!(
            out,
            "{}",
            if n == 0 {
                "no regressions".to_owned()
            } else {
                format!("{n} regression(s)")
            }
        );
    }
}

fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Improved => "improved",
        Verdict::Unchanged => "unchanged",
        Verdict::Regressed => "regressed",
    }
}

fn value(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.4}"))
}

fn change(r: &ComparisonRow) -> String {
    match r.change {
        None => "missing".into(),
        Some(c) if r.absolute => format!("{c:+.4}"),
        Some(c) => format!("{:+.1}%", c * 100.0),
    }
}

/// Compares `current` against `baseline`.
pub fn compare(
    baseline: &BenchReport,
    current: &BenchReport,
    noise: &NoiseThreshold,
) -> Comparison {
    let mut rows = Vec::new();
    let mut missing_suites = Vec::new();
    for b in &baseline.suites {
        let Some(c) = current.suite(b.suite) else {
            missing_suites.push(b.suite);
            continue;
        };
        let now = c.figures();
        for f in b.figures() {
            let Some(base) = f.value else { continue };
            let cur = now
                .iter()
                .find(|n| n.metric == f.metric)
                .and_then(|n| n.value);
            let change = cur.map(|cur| {
                if f.absolute {
                    cur - base
                } else if base == 0.0 {
                    if cur == 0.0 {
                        0.0
                    } else {
                        f64::INFINITY.copysign(cur)
                    }
                } else {
                    (cur - base) / base.abs()
                }
            });
            let limit = if f.absolute {
                noise.absolute
            } else {
                noise.relative
            };
            let verdict = match change {
                None => Verdict::Regressed,
                Some(c) => {
                    let worse = match f.direction {
                        Direction::HigherIsWorse => c,
                        Direction::LowerIsWorse => -c,
                    };
                    if worse > limit {
                        Verdict::Regressed
                    } else if worse < -limit {
                        Verdict::Improved
                    } else {
                        Verdict::Unchanged
                    }
                }
            };
            rows.push(ComparisonRow {
                suite: b.suite,
                metric: f.metric,
                baseline: Some(base),
                current: cur,
                change,
                absolute: f.absolute,
                gating: f.headline,
                verdict,
            });
        }
    }
    Comparison {
        baseline_run: baseline.run_id.clone(),
        current_run: current.run_id.clone(),
        noise: *noise,
        rows,
        missing_suites,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::record::RunRecord;
    use crate::bench::score::{score, KpiFigure};
    use crate::bench::testing::{cmd, none, scenario, suite};
    use crate::timeline::Outcome::Succeeded;

    /// Ten commands taking `latency` each, spaced a second apart.
    fn run(id: &str, latency: f64) -> BenchReport {
        let commands = (0..10)
            .map(|i| cmd(0, i as f64, &[Some(i as f64 + latency)], Succeeded))
            .collect();
        let record = RunRecord {
            run_id: id.into(),
            suites: vec![suite(Suite::EndToEnd, &["plan"], 10.0, commands)],
            ..RunRecord::default()
        };
        score(&record, &scenario(none()))
    }

    fn set_kpi(r: &mut BenchReport, name: &str, value: Option<f64>) {
        let k: &mut KpiFigure = r.suites[0]
            .kpis
            .iter_mut()
            .find(|k| k.name == name)
            .unwrap();
        k.value = value;
    }

    #[test]
    fn a_thirty_percent_slower_p95_is_a_regression() {
        let c = compare(&run("a", 1.0), &run("b", 1.3), &NoiseThreshold::default());
        let row = c.row(Suite::EndToEnd, "p95_end_to_end").unwrap();
        assert_eq!(row.verdict, Verdict::Regressed);
        assert!((row.change.unwrap() - 0.3).abs() < 2e-3);
        assert!(c.regressed());
        assert!(c.to_text().contains("regressed"));
        assert!(c.to_markdown().contains("**regressed**"));
    }

    #[test]
    fn a_one_percent_change_is_noise_and_faster_is_an_improvement() {
        let c = compare(&run("a", 1.0), &run("b", 1.01), &NoiseThreshold::default());
        assert_eq!(
            c.row(Suite::EndToEnd, "p95_end_to_end").unwrap().verdict,
            Verdict::Unchanged
        );
        assert!(!c.regressed());
        assert!(c.to_text().ends_with("no regressions\n"));
        let c = compare(&run("a", 1.0), &run("b", 0.5), &NoiseThreshold::default());
        assert_eq!(
            c.row(Suite::EndToEnd, "p95_plan").unwrap().verdict,
            Verdict::Improved
        );
    }

    #[test]
    fn rates_change_by_absolute_amounts_and_a_lost_figure_regresses() {
        let base = run("a", 1.0);
        let mut cur = run("b", 1.0);
        // 1.0 -> 0.97 is within 0.05 absolute though it is 3% relative.
        set_kpi(&mut cur, "success_rate", Some(0.97));
        let c = compare(&base, &cur, &NoiseThreshold::default());
        let row = c.row(Suite::EndToEnd, "success_rate").unwrap();
        assert!(row.absolute);
        assert_eq!(row.verdict, Verdict::Unchanged);
        set_kpi(&mut cur, "success_rate", Some(0.9));
        let c = compare(&base, &cur, &NoiseThreshold::default());
        assert_eq!(
            c.row(Suite::EndToEnd, "success_rate").unwrap().verdict,
            Verdict::Regressed
        );
        set_kpi(&mut cur, "success_rate", None);
        let c = compare(&base, &cur, &NoiseThreshold::default());
        assert_eq!(c.row(Suite::EndToEnd, "success_rate").unwrap().change, None);
        assert!(c.regressed());
    }

    #[test]
    fn p99_alone_does_not_gate_and_a_missing_suite_is_listed() {
        let base = run("a", 1.0);
        let mut cur = run("b", 1.0);
        let s = cur.suites[0].latencies[0].summary.as_mut().unwrap();
        s.p99 *= 2.0;
        let c = compare(&base, &cur, &NoiseThreshold::default());
        assert_eq!(
            c.row(Suite::EndToEnd, "p99_plan").unwrap().verdict,
            Verdict::Regressed
        );
        assert!(!c.regressed());
        cur.suites.clear();
        let c = compare(&base, &cur, &NoiseThreshold::default());
        assert_eq!(c.missing_suites, vec![Suite::EndToEnd]);
        assert!(c.rows.is_empty());
    }
}
