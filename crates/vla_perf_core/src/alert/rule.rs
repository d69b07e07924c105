//! An alert rule as the engine evaluates it: the domain type configuration parses into.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::trend::Thresholds;

/// How a metric's samples in the window are reduced to the value compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    /// Arithmetic mean.
    #[default]
    Mean,
    /// Largest sample.
    Max,
    /// Smallest sample.
    Min,
    /// Median.
    P50,
    /// 90th percentile.
    P90,
    /// 95th percentile.
    P95,
    /// 99th percentile.
    P99,
    /// Samples per second.
    Rate,
    /// Most recent sample.
    Last,
}

impl Aggregation {
    /// The quantile in 0..1 for percentile aggregations.
    pub fn quantile(self) -> Option<f64> {
        match self {
            Aggregation::P50 => Some(0.50),
            Aggregation::P90 => Some(0.90),
            Aggregation::P95 => Some(0.95),
            Aggregation::P99 => Some(0.99),
            _ => None,
        }
    }

    /// The snake_case name used in YAML.
    pub fn as_str(self) -> &'static str {
        match self {
            Aggregation::Mean => "mean",
            Aggregation::Max => "max",
            Aggregation::Min => "min",
            Aggregation::P50 => "p50",
            Aggregation::P90 => "p90",
            Aggregation::P95 => "p95",
            Aggregation::P99 => "p99",
            Aggregation::Rate => "rate",
            Aggregation::Last => "last",
        }
    }
}

/// A validated alert rule, from either form.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRule {
    /// Unique rule name (the metric name for compact rules).
    pub name: String,
    /// Metric the rule watches.
    pub metric: String,
    /// Tag selectors: only series with these tag values (`stage: plan`).
    pub tags: BTreeMap<String, String>,
    /// How the window's samples are reduced.
    pub aggregation: Aggregation,
    /// Warning and critical thresholds with the metric's direction.
    pub thresholds: Thresholds,
    /// Window the aggregation covers.
    pub window: Duration,
    /// The condition must hold this long before the alert fires (`for`).
    pub pending: Duration,
    /// The condition must hold for this many consecutive evaluations before firing.
    pub consecutive_violations: u32,
    /// The alert keeps firing this long after the condition cleared (flap damping).
    pub keep_firing_for: Duration,
    /// Re-notify a firing alert this often; `None` uses `notifications.alert_cooldown`.
    pub repeat_interval: Option<Duration>,
    /// Extra labels attached to the alert (Alertmanager routing).
    pub labels: BTreeMap<String, String>,
    /// Message template with `{placeholders}`; `None` uses the built-in message.
    pub message: Option<String>,
}
