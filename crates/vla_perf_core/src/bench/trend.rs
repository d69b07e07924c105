//! Continuous mode: one [`HistoryPoint`] per run (a line of `history.jsonl`) and the
//! degradations of the newest run against the thresholds and against the trend.
//!
//! For every headline figure (p95 latencies, throughput, peak rate, KPIs with a direction)
//! of the current run, with runs as the x axis (the history's order, the last
//! [`TREND_WINDOW`] runs, at least [`MIN_TREND_POINTS`] of them):
//! - **threshold**: the current value breaks its scenario threshold;
//! - **projected breach**: a least-squares line through the history and the current run
//!   heads the worse way (t-statistic of the slope ≥ 2) and reaches the threshold within
//!   [`PROJECTION_RUNS`] runs, though the current value is still within it;
//! - **drift**: that line heads the worse way with t ≥ [`DRIFT_T`] and changes the figure by
//!   at least [`DRIFT_CHANGE`] (relative; absolute for rates) across the window;
//! - **beyond trend**: the current value is worse than the history's line predicts by more
//!   than [`RESIDUAL_SIGMAS`] residual standard deviations (and more than the noise floor:
//!   5% relative, 0.02 absolute).
//!
//! At most one trend degradation per figure is reported, in that order of precedence.

use serde::{Deserialize, Serialize};

use super::scenario::{PassThresholds, Suite};
use super::score::{threshold_for, BenchReport, Compare};
use crate::trend::{slope, Direction};

/// Most recent runs fitted.
pub const TREND_WINDOW: usize = 20;
/// Past runs needed before a trend is judged.
pub const MIN_TREND_POINTS: usize = 5;
/// How many runs ahead a projected breach is looked for.
pub const PROJECTION_RUNS: f64 = 5.0;
/// Residual standard deviations beyond the trend that make an outlier.
pub const RESIDUAL_SIGMAS: f64 = 3.0;
/// t-statistic of the slope that makes a drift.
pub const DRIFT_T: f64 = 3.0;
/// Change across the window that makes a drift: relative, or absolute for rates.
pub const DRIFT_CHANGE: f64 = 0.10;
const PROJECTION_T: f64 = 2.0;
const RELATIVE_FLOOR: f64 = 0.05;
const ABSOLUTE_FLOOR: f64 = 0.02;

/// One headline figure of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryFigure {
    /// Suite.
    pub suite: Suite,
    /// Figure, e.g. `p95_end_to_end`.
    pub metric: String,
    /// Value.
    pub value: f64,
    /// Which way it gets worse.
    pub worse: Direction,
    /// A rate whose changes are absolute.
    pub absolute: bool,
}

/// One run in `history.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryPoint {
    /// Run id.
    pub run_id: String,
    /// Start of the run, seconds since the Unix epoch.
    pub unix: f64,
    /// Whether the run passed.
    pub passed: bool,
    /// Its headline figures (measured ones only).
    pub figures: Vec<HistoryFigure>,
}

impl HistoryPoint {
    /// The headline figures of a report.
    pub fn from_report(report: &BenchReport) -> Self {
        let figures = report
            .suites
            .iter()
            .flat_map(|s| {
                s.figures().into_iter().filter_map(move |f| {
                    Some(HistoryFigure {
                        suite: s.suite,
                        value: f.value.filter(|v| v.is_finite() && f.headline)?,
                        metric: f.metric,
                        worse: f.direction,
                        absolute: f.absolute,
                    })
                })
            })
            .collect();
        Self {
            run_id: report.run_id.clone(),
            unix: report.meta.started_unix,
            passed: report.passed,
            figures,
        }
    }

    /// One JSON line (no newline).
    pub fn to_json_line(&self) -> serde_json::Result<String> {
        serde_json::to_string(self)
    }

    fn value(&self, suite: Suite, metric: &str) -> Option<f64> {
        self.figures
            .iter()
            .find(|f| f.suite == suite && f.metric == metric)
            .map(|f| f.value)
    }
}

/// Parses `history.jsonl`: the points, and how many non-empty lines were unreadable.
pub fn parse_history(text: &str) -> (Vec<HistoryPoint>, usize) {
    let mut bad = 0;
    let points = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| serde_json::from_str(l).map_err(|_| bad += 1).ok())
        .collect();
    (points, bad)
}

/// Why a figure is flagged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DegradationKind {
    /// It breaks its threshold.
    Threshold,
    /// It drifts, heads for its threshold, or left its trend.
    Trend,
}

/// A figure of the current run that degraded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Degradation {
    /// Suite.
    pub suite: Suite,
    /// Figure.
    pub metric: String,
    /// Its current value.
    pub value: f64,
    /// Threshold or trend.
    pub kind: DegradationKind,
    /// In words, with the numbers.
    pub reason: String,
    /// The threshold, when one applies.
    pub limit: Option<f64>,
    /// What the trend line predicts (for the current run, or at the projected breach).
    pub predicted: Option<f64>,
}

/// A least-squares line over y at x = 0, 1, ….
struct Fit {
    slope: f64,
    intercept: f64,
    /// Residual standard deviation (n − 2 degrees of freedom).
    residual_sd: f64,
    /// Slope over its standard error; infinite for a perfect non-flat line.
    t: f64,
}

impl Fit {
    fn of(ys: &[f64]) -> Option<Self> {
        if ys.len() < 3 {
            return None;
        }
        let points: Vec<(f64, f64)> = ys.iter().enumerate().map(|(i, &y)| (i as f64, y)).collect();
        let b = slope(&points)?;
        let n = ys.len() as f64;
        let mean_x = (n - 1.0) / 2.0;
        let mean_y = ys.iter().sum::<f64>() / n;
        let intercept = mean_y - b * mean_x;
        let sse: f64 = points
            .iter()
            .map(|(x, y)| (y - intercept - b * x).powi(2))
            .sum();
        let residual_sd = (sse / (n - 2.0)).sqrt();
        let sxx: f64 = points.iter().map(|(x, _)| (x - mean_x).powi(2)).sum();
        let se = residual_sd / sxx.sqrt();
        let t = if se > 0.0 {
            b / se
        } else if b == 0.0 {
            0.0
        } else {
            f64::INFINITY.copysign(b)
        };
        Some(Self {
            slope: b,
            intercept,
            residual_sd,
            t,
        })
    }

    fn at(&self, x: f64) -> f64 {
        self.intercept + self.slope * x
    }
}

/// Degradations of `current` against `thresholds` and the trend of `history` (oldest first,
/// not including `current`).
// Long: per figure: the threshold check, then the trend fit and prediction.
pub fn degradations(
    history: &[HistoryPoint],
    current: &HistoryPoint,
    thresholds: &PassThresholds,
) -> Vec<Degradation> {
    let mut out = Vec::new();
    let recent = &history[history.len().saturating_sub(TREND_WINDOW)..];
    for f in &current.figures {
        let limit = threshold_for(f.suite, &f.metric, thresholds);
        let breaks = |v: f64| match limit {
            Some((Compare::AtMost, t)) => v > t,
            Some((Compare::AtLeast, t)) => v < t,
            _ => false,
        };
        let limit_value = limit.map(|l| l.1);
        let mut push = |kind, reason: String, predicted: Option<f64>| {
            out.push(Degradation {
                suite: f.suite,
                metric: f.metric.clone(),
                value: f.value,
                kind,
                reason,
                limit: limit_value,
                predicted,
            });
        };
        if breaks(f.value) {
            push(
                DegradationKind::Threshold,
                format!(
                    "{} = {:.4} breaks its threshold {:.4}",
                    f.metric,
                    f.value,
                    limit_value.unwrap_or(f64::NAN)
                ),
                None,
            );
        }
        let past: Vec<f64> = recent
            .iter()
            .filter_map(|p| p.value(f.suite, &f.metric))
            .filter(|v| v.is_finite())
            .collect();
        if past.len() < MIN_TREND_POINTS {
            continue;
        }
        // Positive when worse.
        let sign = match f.worse {
            Direction::HigherIsWorse => 1.0,
            Direction::LowerIsWorse => -1.0,
        };
        let mut all = past.clone();
        all.push(f.value);
        let n = past.len() as f64;
        if let Some(fit) = Fit::of(&all) {
            let worse_t = fit.t * sign;
            let projected = fit.at(n + PROJECTION_RUNS);
            let mean = all.iter().sum::<f64>() / all.len() as f64;
            let across = (fit.slope * n).abs();
            let big = if f.absolute {
                across >= DRIFT_CHANGE
            } else {
                mean != 0.0 && across / mean.abs() >= DRIFT_CHANGE
            };
            if limit.is_some() && !breaks(f.value) && worse_t >= PROJECTION_T && breaks(projected) {
                push(
                    DegradationKind::Trend,
                    format!(
                        "{} = {:.4} is heading for its threshold {:.4}: the trend over {} runs \
                         reaches {projected:.4} within {PROJECTION_RUNS} runs",
                        f.metric,
                        f.value,
                        limit_value.unwrap_or(f64::NAN),
                        all.len()
                    ),
                    Some(projected),
                );
                continue;
            }
            if worse_t >= DRIFT_T && big {
                push(
                    DegradationKind::Trend,
                    format!(
                        "{} drifts the worse way: {:+.4} per run over {} runs (t = {:.1}), now {:.4}",
                        f.metric,
                        fit.slope,
                        all.len(),
                        fit.t,
                        f.value
                    ),
                    Some(fit.at(n)),
                );
                continue;
            }
        }
        if let Some(fit) = Fit::of(&past) {
            let predicted = fit.at(n);
            let floor = if f.absolute {
                ABSOLUTE_FLOOR
            } else {
                RELATIVE_FLOOR * predicted.abs()
            };
            let tolerance = (RESIDUAL_SIGMAS * fit.residual_sd).max(floor);
            let worse_by = (f.value - predicted) * sign;
            if worse_by > tolerance {
                push(
                    DegradationKind::Trend,
                    format!(
                        "{} = {:.4} is beyond its trend: predicted {predicted:.4} ± {tolerance:.4}",
                        f.metric, f.value
                    ),
                    Some(predicted),
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn point(i: usize, p95: f64) -> HistoryPoint {
        HistoryPoint {
            run_id: format!("run{i}"),
            unix: 1e9 + i as f64 * 600.0,
            passed: true,
            figures: vec![
                HistoryFigure {
                    suite: Suite::EndToEnd,
                    metric: "p95_end_to_end".into(),
                    value: p95,
                    worse: Direction::HigherIsWorse,
                    absolute: false,
                },
                HistoryFigure {
                    suite: Suite::EndToEnd,
                    metric: "success_rate".into(),
                    value: 0.95,
                    worse: Direction::LowerIsWorse,
                    absolute: true,
                },
            ],
        }
    }

    /// Deterministic noise in [-1, 1].
    fn noise(i: usize) -> f64 {
        ((i * 7919 % 101) as f64 / 50.0) - 1.0
    }

    fn thresholds(p95: Option<f64>) -> PassThresholds {
        let mut t = PassThresholds::default();
        if let Some(p95) = p95 {
            t.max_p95_latency
                .insert("end_to_end".into(), Duration::from_secs_f64(p95));
        }
        t.min_success_rate = Some(0.9);
        t
    }

    #[test]
    fn a_steady_upward_drift_is_a_trend_degradation() {
        let level = |i: usize| 1.0 + 0.05 * i as f64 + 0.01 * noise(i);
        let history: Vec<_> = (0..10).map(|i| point(i, level(i))).collect();
        let found = degradations(&history, &point(10, level(10)), &thresholds(None));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].kind, DegradationKind::Trend);
        assert_eq!(found[0].metric, "p95_end_to_end");
        assert!(found[0].reason.contains("drifts"), "{}", found[0].reason);
    }

    #[test]
    fn noise_around_a_level_is_not_a_degradation() {
        let history: Vec<_> = (0..15).map(|i| point(i, 1.0 + 0.03 * noise(i))).collect();
        for current in [0.97, 1.0, 1.03] {
            let found = degradations(&history, &point(15, current), &thresholds(Some(2.0)));
            assert!(found.is_empty(), "{current}: {found:?}");
        }
    }

    #[test]
    fn a_jump_beyond_the_trend_is_flagged_before_any_threshold_breaks() {
        let history: Vec<_> = (0..15).map(|i| point(i, 1.0 + 0.01 * noise(i))).collect();
        let found = degradations(&history, &point(15, 1.3), &thresholds(Some(2.0)));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].reason.contains("beyond its trend"));
        assert!(found[0].predicted.is_some_and(|p| (p - 1.0).abs() < 0.02));
    }

    #[test]
    fn a_drift_heading_for_the_threshold_is_projected() {
        let history: Vec<_> = (0..10).map(|i| point(i, 1.0 + 0.1 * i as f64)).collect();
        let found = degradations(&history, &point(10, 2.0), &thresholds(Some(2.3)));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].reason.contains("heading for its threshold"));
        assert_eq!(found[0].limit, Some(2.3));
    }

    #[test]
    fn a_broken_threshold_is_reported_even_without_history() {
        let found = degradations(&[], &point(0, 3.0), &thresholds(Some(2.0)));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, DegradationKind::Threshold);
    }

    #[test]
    fn history_lines_round_trip_and_bad_lines_are_counted() {
        let a = point(0, 1.0);
        let text = format!(
            "{}\nnot json\n\n{}\n",
            a.to_json_line().unwrap(),
            a.to_json_line().unwrap()
        );
        let (points, bad) = parse_history(&text);
        assert_eq!((points.len(), bad), (2, 1));
        assert_eq!(points[0], a);
    }

    #[test]
    fn a_report_becomes_a_history_point_of_its_headline_figures() {
        use crate::bench::record::RunRecord;
        use crate::bench::score::score;
        use crate::bench::testing::{cmd, none, scenario, suite};
        use crate::timeline::Outcome::Succeeded;
        let record = RunRecord {
            run_id: "r".into(),
            suites: vec![suite(
                Suite::EndToEnd,
                &["plan"],
                1.0,
                vec![cmd(0, 0.0, &[Some(0.5)], Succeeded)],
            )],
            ..RunRecord::default()
        };
        let p = HistoryPoint::from_report(&score(&record, &scenario(none())));
        let metrics: Vec<&str> = p.figures.iter().map(|f| f.metric.as_str()).collect();
        assert!(metrics.contains(&"p95_end_to_end") && metrics.contains(&"success_rate"));
        assert!(!metrics.contains(&"p50_end_to_end"), "{metrics:?}");
        assert!(p.figures.iter().all(|f| f.value.is_finite()));
    }
}
