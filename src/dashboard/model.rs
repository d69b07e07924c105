//! What the dashboard shows, built from the collector's and the alert node's messages.
//!
//! Pure: every update comes with the time it was received, and the model keeps only what
//! the view needs (latest values, short histories for trends and sparklines), in memory
//! bounded whatever the run length.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use crate::alerts::intake;
use crate::core::alert::Observation;
use crate::core::metric::Metric;
use crate::core::trend::Trend;
use crate::msg::diagnostic_msgs::{DiagnosticArray, DiagnosticStatus};
use crate::msg::{Alert, CommandLatency, MetricArray, ResourceUsage};

/// A relative change of a percentile at least this large, against the previous window,
/// shows as a rising or falling arrow.
pub const TREND_THRESHOLD: f64 = 0.10;
/// End-to-end latencies kept for the sparkline.
pub const SPARKLINE_POINTS: usize = 240;
/// Finished commands listed.
pub const RECENT_COMMANDS: usize = 6;
/// Alert state changes listed.
pub const RECENT_ALERT_CHANGES: usize = 6;
/// Percentile history kept per latency row, a bound on memory whatever the window.
const HISTORY: usize = 1024;

/// One message the dashboard listens to.
#[derive(Debug, Clone)]
pub enum Update {
    /// `<ns>/command_latency`.
    Command(CommandLatency),
    /// `<ns>/metrics` or `<ns>/topic_health`.
    Metrics(MetricArray),
    /// `<ns>/resources`.
    Resources(ResourceUsage),
    /// `<ns>/alerts`.
    Alert(Alert),
    /// `/diagnostics`.
    Diagnostics(DiagnosticArray),
}

/// p50, p95 and p99 of a latency over the display window, seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
}

/// One latency row: a stage, or end to end.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencyRow {
    /// Stage name, or `end to end`.
    pub name: String,
    /// Percentiles of the latest batch.
    pub latest: Percentiles,
    /// p50/p95/p99 as received over time, oldest first (for the trend).
    history: VecDeque<(Duration, Percentiles)>,
}

impl LatencyRow {
    fn new(name: &str, at: Duration, p: Percentiles) -> Self {
        Self {
            name: name.to_owned(),
            latest: p,
            history: VecDeque::from([(at, p)]),
        }
    }

    fn push(&mut self, at: Duration, p: Percentiles) {
        self.latest = p;
        self.history.push_back((at, p));
        while self.history.len() > HISTORY {
            self.history.pop_front();
        }
    }

    /// Drops what is older than two windows before `now`: the previous window's value is
    /// the newest one at least one window old.
    fn prune(&mut self, now: Duration, window: Duration) {
        let keep_from = now.saturating_sub(window * 2);
        while self.history.len() > 1 && self.history[1].0 <= keep_from {
            self.history.pop_front();
        }
    }

    /// The percentiles published one `window` before the latest ones: the previous,
    /// non-overlapping window. `None` until the row is that old.
    pub fn previous(&self, window: Duration) -> Option<Percentiles> {
        let (latest_at, _) = *self.history.back()?;
        let cutoff = latest_at.checked_sub(window)?;
        self.history
            .iter()
            .rev()
            .find(|(at, _)| *at <= cutoff)
            .map(|(_, p)| *p)
    }

    /// Trend of each percentile against the previous window (p50, p95, p99).
    pub fn trends(&self, window: Duration) -> Option<[Trend; 3]> {
        let previous = self.previous(window)?;
        let l = self.latest;
        Some([
            trend(previous.p50, l.p50),
            trend(previous.p95, l.p95),
            trend(previous.p99, l.p99),
        ])
    }
}

/// Rising, falling or stable by [`TREND_THRESHOLD`] relative to `before`.
pub fn trend(before: f64, now: f64) -> Trend {
    let change = now - before;
    let scale = before.abs().max(1e-9);
    if change / scale >= TREND_THRESHOLD {
        Trend::Rising
    } else if change / scale <= -TREND_THRESHOLD {
        Trend::Falling
    } else {
        Trend::Stable
    }
}

/// An alert that is pending or firing.
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveAlert {
    /// Rule name.
    pub rule: String,
    /// Metric the rule watches.
    pub metric: String,
    /// `Alert::STATE_PENDING` or `Alert::STATE_FIRING`.
    pub state: u8,
    /// `Alert::SEVERITY_*`.
    pub severity: u8,
    /// Value that triggered the change.
    pub value: f64,
    /// The alert's message.
    pub message: String,
    /// When the dashboard saw it become active.
    pub since: Duration,
}

/// One alert state change, for the recent-changes list.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertChange {
    /// When it was received.
    pub at: Duration,
    /// Rule name.
    pub rule: String,
    /// New state.
    pub state: u8,
    /// Severity.
    pub severity: u8,
}

/// One finished command.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandRow {
    /// Command id.
    pub command_id: String,
    /// `CommandLatency::OUTCOME_*`.
    pub outcome: u8,
    /// End to end, seconds (NaN when it did not finish).
    pub end_to_end: f64,
    /// Stage where it failed, if it did.
    pub failed_stage: String,
}

/// A watched topic.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TopicRow {
    /// Messages per second.
    pub rate_hz: Option<f64>,
    /// Mean header-stamp age, seconds.
    pub age: Option<f64>,
}

/// Everything the dashboard shows.
#[derive(Debug, Clone, Default)]
pub struct Dashboard {
    /// Robot id of the latest message that carried one.
    pub robot_id: String,
    /// Window of the latency percentiles, seconds (the shortest sliding window published).
    pub window: Option<f64>,
    /// Stage latency rows in pipeline order.
    pub stages: Vec<LatencyRow>,
    /// End-to-end latency.
    pub end_to_end: Option<LatencyRow>,
    /// SLO compliance over the window (fraction of commands within the SLO threshold).
    pub slo_compliance: Option<f64>,
    /// Whether the SLO target is met, as the collector judged it.
    pub slo_met: Option<bool>,
    /// Commands per second.
    pub command_rate: Option<f64>,
    /// Commands in flight.
    pub in_flight: Option<f64>,
    /// Commands per outcome since the collector started.
    pub outcomes: BTreeMap<String, f64>,
    /// Success rates (label, fraction): task, understanding, per stage, per action.
    pub success: BTreeMap<String, f64>,
    /// Watched topics.
    pub topics: BTreeMap<String, TopicRow>,
    /// Latest resource sample.
    pub resources: Option<ResourceUsage>,
    /// Pending and firing alerts by alert id.
    pub alerts: BTreeMap<String, ActiveAlert>,
    /// Latest alert state changes, oldest first.
    pub alert_changes: VecDeque<AlertChange>,
    /// Alerts that went firing / resolved while watched.
    pub fired: usize,
    /// ... and resolved.
    pub resolved: usize,
    /// End-to-end latency of finished commands (time received, seconds), oldest first.
    pub e2e: VecDeque<(Duration, f64)>,
    /// Latest finished commands, oldest first.
    pub recent: VecDeque<CommandRow>,
    /// Commands received while watched.
    pub commands_seen: usize,
    /// Latest diagnostic status by component name.
    pub diagnostics: BTreeMap<String, DiagnosticStatus>,
    /// When the first and the latest message arrived.
    pub first_update: Option<Duration>,
    /// When the latest message arrived.
    pub last_update: Option<Duration>,
}

impl Dashboard {
    /// An empty dashboard.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes in one message received at `at`.
    pub fn apply(&mut self, at: Duration, update: &Update) {
        self.first_update.get_or_insert(at);
        self.last_update = Some(self.last_update.map_or(at, |t| t.max(at)));
        match update {
            Update::Command(c) => self.command(at, c),
            Update::Metrics(m) => self.metrics(at, m),
            Update::Resources(r) => {
                self.set_robot(&r.robot_id);
                self.resources = Some(r.clone());
            }
            Update::Alert(a) => self.alert(at, a),
            Update::Diagnostics(d) => {
                for status in &d.status {
                    self.diagnostics.insert(status.name.clone(), status.clone());
                }
            }
        }
    }

    fn set_robot(&mut self, robot_id: &str) {
        if !robot_id.is_empty() {
            robot_id.clone_into(&mut self.robot_id);
        }
    }

    fn command(&mut self, at: Duration, c: &CommandLatency) {
        self.set_robot(&c.robot_id);
        self.commands_seen += 1;
        if c.end_to_end.is_finite() {
            self.e2e.push_back((at, c.end_to_end));
            while self.e2e.len() > SPARKLINE_POINTS {
                self.e2e.pop_front();
            }
        }
        self.recent.push_back(CommandRow {
            command_id: c.command_id.clone(),
            outcome: c.outcome,
            end_to_end: c.end_to_end,
            failed_stage: c.failed_stage.clone(),
        });
        while self.recent.len() > RECENT_COMMANDS {
            self.recent.pop_front();
        }
    }

    fn metrics(&mut self, at: Duration, array: &MetricArray) {
        self.set_robot(&array.robot_id);
        if let Some(window) = array
            .metrics
            .iter()
            .filter(|s| {
                s.name == Metric::StageLatency.name() && s.window > 0.0 && s.window.is_finite()
            })
            .map(|s| s.window)
            .min_by(f64::total_cmp)
        {
            self.window = Some(window);
        }
        // The `met` tag is a value the alert intake drops from the series identity.
        if let Some(slo) = array
            .metrics
            .iter()
            .filter(|s| s.name == Metric::SloCompliance.name() && s.count > 0 && s.window > 0.0)
            .min_by(|a, b| a.window.total_cmp(&b.window))
        {
            self.slo_met = slo
                .tags
                .iter()
                .find(|kv| kv.key == "met")
                .map(|kv| kv.value == "true");
        }
        for o in intake::from_metric_array(array, at) {
            self.observe(at, &o);
        }
        // The collector lists stages in pipeline order; observations come sorted by name.
        let mut order: Vec<&str> = Vec::new();
        for s in array
            .metrics
            .iter()
            .filter(|s| s.name == Metric::StageLatency.name())
        {
            if let Some(stage) = s.tags.iter().find(|kv| kv.key == "stage") {
                if !order.contains(&stage.value.as_str()) {
                    order.push(&stage.value);
                }
            }
        }
        self.stages.sort_by_key(|r| {
            order
                .iter()
                .position(|n| *n == r.name)
                .unwrap_or(usize::MAX)
        });
        if let Some(window) = self.window_duration() {
            for row in self.stages.iter_mut().chain(self.end_to_end.as_mut()) {
                row.prune(at, window);
            }
        }
    }

    fn observe(&mut self, at: Duration, o: &Observation) {
        let tag = |key: &str| o.tags.get(key).cloned().unwrap_or_default();
        let p = Percentiles {
            p50: o.stats.p50,
            p95: o.stats.p95,
            p99: o.stats.p99,
        };
        let value = o.stats.mean;
        let Some(metric) = Metric::parse(&o.metric) else {
            return;
        };
        match metric {
            Metric::StageLatency => {
                let stage = tag("stage");
                match self.stages.iter_mut().find(|r| r.name == stage) {
                    Some(row) => row.push(at, p),
                    None => self.stages.push(LatencyRow::new(&stage, at, p)),
                }
            }
            Metric::EndToEndLatency => match self.end_to_end.as_mut() {
                Some(row) => row.push(at, p),
                None => self.end_to_end = Some(LatencyRow::new("end to end", at, p)),
            },
            Metric::SloCompliance => self.slo_compliance = Some(value),
            Metric::CommandRate => self.command_rate = Some(value),
            Metric::CommandsInFlight => self.in_flight = Some(value),
            Metric::Commands => {
                self.outcomes.insert(tag("outcome"), value);
            }
            Metric::TaskSuccessRate => {
                self.success.insert("task".into(), value);
            }
            Metric::UnderstandingRate => {
                self.success.insert("understanding".into(), value);
            }
            Metric::StageSuccessRate => {
                self.success
                    .insert(format!("stage {}", tag("stage")), value);
            }
            Metric::ActionSuccessRate => {
                self.success
                    .insert(format!("action {}", tag("topic")), value);
            }
            Metric::TopicRate => self.topics.entry(tag("topic")).or_default().rate_hz = Some(value),
            Metric::TopicAge => self.topics.entry(tag("topic")).or_default().age = Some(value),
            _ => {}
        }
    }

    fn alert(&mut self, at: Duration, a: &Alert) {
        self.set_robot(&a.robot_id);
        let key = if a.alert_id.is_empty() {
            a.rule.clone()
        } else {
            a.alert_id.clone()
        };
        match a.state {
            Alert::STATE_PENDING | Alert::STATE_FIRING => {
                let since = self
                    .alerts
                    .get(&key)
                    .filter(|old| old.state == a.state)
                    .map_or(at, |old| old.since);
                if a.state == Alert::STATE_FIRING
                    && self.alerts.get(&key).map(|old| old.state) != Some(Alert::STATE_FIRING)
                {
                    self.fired += 1;
                }
                self.alerts.insert(
                    key,
                    ActiveAlert {
                        rule: a.rule.clone(),
                        metric: a.metric.clone(),
                        state: a.state,
                        severity: a.severity,
                        value: a.value,
                        message: a.message.clone(),
                        since,
                    },
                );
            }
            _ => {
                if self.alerts.remove(&key).map(|old| old.state) == Some(Alert::STATE_FIRING)
                    && a.state == Alert::STATE_RESOLVED
                {
                    self.resolved += 1;
                }
            }
        }
        self.alert_changes.push_back(AlertChange {
            at,
            rule: a.rule.clone(),
            state: a.state,
            severity: a.severity,
        });
        while self.alert_changes.len() > RECENT_ALERT_CHANGES {
            self.alert_changes.pop_front();
        }
    }

    /// The percentile window as a duration.
    pub fn window_duration(&self) -> Option<Duration> {
        self.window
            .filter(|w| w.is_finite() && *w > 0.0)
            .map(Duration::from_secs_f64)
    }

    /// Active alerts, most severe first, then firing before pending, then by rule.
    pub fn active_alerts(&self) -> Vec<&ActiveAlert> {
        let mut v: Vec<&ActiveAlert> = self.alerts.values().collect();
        v.sort_by(|a, b| (b.severity, b.state, &a.rule).cmp(&(a.severity, a.state, &b.rule)));
        v
    }

    /// Diagnostic statuses worse than OK, worst first.
    pub fn diagnostic_problems(&self) -> Vec<&DiagnosticStatus> {
        let mut v: Vec<&DiagnosticStatus> = self
            .diagnostics
            .values()
            .filter(|s| s.level != DiagnosticStatus::OK)
            .collect();
        v.sort_by(|a, b| b.level.cmp(&a.level).then(a.name.cmp(&b.name)));
        v
    }

    /// End-to-end latencies for the sparkline, oldest first.
    pub fn e2e_values(&self) -> impl Iterator<Item = f64> + '_ {
        self.e2e.iter().map(|(_, v)| *v)
    }
}

/// The name of an alert state.
pub fn state_name(state: u8) -> &'static str {
    match state {
        Alert::STATE_INACTIVE => "inactive",
        Alert::STATE_PENDING => "pending",
        Alert::STATE_FIRING => "firing",
        Alert::STATE_RESOLVED => "resolved",
        _ => "unknown",
    }
}

/// The name of an alert severity.
pub fn severity_name(severity: u8) -> &'static str {
    match severity {
        Alert::SEVERITY_NONE => "none",
        Alert::SEVERITY_WARNING => "warning",
        Alert::SEVERITY_CRITICAL => "critical",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::diagnostic_msgs::KeyValue;
    use crate::msg::{GpuUsage, MetricSummary};

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    fn kv(key: &str, value: &str) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: value.into(),
        }
    }

    fn summary(name: &str, window: f64, p: [f64; 3], tags: &[(&str, &str)]) -> MetricSummary {
        MetricSummary {
            name: name.into(),
            unit: "s".into(),
            window,
            count: 3,
            mean: p[0],
            stddev: 0.0,
            min: p[0],
            max: p[2],
            p50: p[0],
            p90: p[1],
            p95: p[1],
            p99: p[2],
            p999: p[2],
            tags: tags.iter().map(|(k, v)| kv(k, v)).collect(),
        }
    }

    fn scalar(name: &str, value: f64, tags: &[(&str, &str)]) -> MetricSummary {
        summary(name, 0.0, [value; 3], tags)
    }

    fn metrics(plan_p95: f64) -> Update {
        Update::Metrics(MetricArray {
            robot_id: "r1".into(),
            metrics: vec![
                // The cumulative and the 60 s window are ignored for the 10 s one.
                summary(
                    "stage_latency",
                    0.0,
                    [0.3, 0.4, 0.5],
                    &[("stage", "transcript")],
                ),
                summary("stage_latency", 0.0, [9.0, 9.0, 9.0], &[("stage", "plan")]),
                summary("stage_latency", 60.0, [8.0, 8.0, 8.0], &[("stage", "plan")]),
                summary(
                    "stage_latency",
                    10.0,
                    [0.3, 0.4, 0.5],
                    &[("stage", "transcript")],
                ),
                summary(
                    "stage_latency",
                    10.0,
                    [0.5, plan_p95, plan_p95 + 0.1],
                    &[("stage", "plan")],
                ),
                summary("end_to_end_latency", 10.0, [2.0, 2.5, 3.0], &[]),
                summary("slo_compliance", 10.0, [0.75; 3], &[("met", "false")]),
                summary("command_rate", 10.0, [0.33; 3], &[]),
                scalar("commands", 7.0, &[("outcome", "succeeded")]),
                scalar("commands", 1.0, &[("outcome", "timed_out")]),
                scalar("task_success_rate", 0.875, &[]),
                scalar("understanding_rate", 1.0, &[]),
            ],
            ..MetricArray::default()
        })
    }

    #[test]
    fn latency_rows_keep_pipeline_order_and_the_shortest_window() {
        let mut d = Dashboard::new();
        d.apply(s(100), &metrics(1.0));
        assert_eq!(d.window, Some(10.0));
        let names: Vec<&str> = d.stages.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            ["transcript", "plan"],
            "the order the collector publishes"
        );
        let plan = &d.stages[1];
        assert_eq!(plan.latest.p95, 1.0);
        assert_eq!(plan.latest.p99, 1.1);
        assert_eq!(d.end_to_end.as_ref().map(|r| r.latest.p50), Some(2.0));
        assert_eq!(d.slo_compliance, Some(0.75));
        assert_eq!(d.slo_met, Some(false));
        assert_eq!(d.command_rate, Some(0.33));
        assert_eq!(d.outcomes.get("succeeded"), Some(&7.0));
        assert_eq!(d.outcomes.get("timed_out"), Some(&1.0));
        assert_eq!(d.success.get("task"), Some(&0.875));
        assert_eq!(d.success.get("understanding"), Some(&1.0));
        assert_eq!(d.robot_id, "r1");
    }

    #[test]
    fn trend_arrows_compare_with_the_previous_window_only_once_there_is_one() {
        let mut d = Dashboard::new();
        d.apply(s(100), &metrics(1.0));
        let window = d.window_duration().unwrap();
        assert_eq!(d.stages[1].trends(window), None, "no previous window yet");
        d.apply(s(105), &metrics(5.0));
        assert_eq!(d.stages[1].trends(window), None, "5 s is not a window ago");
        d.apply(s(110), &metrics(2.0));
        // 10 s after the first batch: p95 2.0 against 1.0 rises; p50 0.5 is unchanged.
        let t = d.stages[1].trends(window).unwrap();
        assert_eq!(t, [Trend::Stable, Trend::Rising, Trend::Rising]);
        d.apply(s(120), &metrics(0.5));
        // Against the batch at 110 s (p95 2.0): falling.
        assert_eq!(d.stages[1].trends(window).unwrap()[1], Trend::Falling);
        d.apply(s(130), &metrics(0.52));
        assert_eq!(d.stages[1].trends(window).unwrap()[1], Trend::Stable);
        // History is bounded by two windows.
        assert!(d.stages[1].history.len() <= 3, "{:?}", d.stages[1].history);
    }

    #[test]
    fn alerts_are_active_while_pending_or_firing_and_counted_when_resolved() {
        let alert = |id: &str, state: u8, severity: u8| {
            Update::Alert(Alert {
                alert_id: id.into(),
                rule: format!("rule_{id}"),
                metric: "stage_latency".into(),
                state,
                severity,
                value: 3.0,
                ..Alert::default()
            })
        };
        let mut d = Dashboard::new();
        d.apply(
            s(1),
            &alert("a", Alert::STATE_PENDING, Alert::SEVERITY_WARNING),
        );
        d.apply(
            s(2),
            &alert("b", Alert::STATE_FIRING, Alert::SEVERITY_WARNING),
        );
        d.apply(
            s(3),
            &alert("a", Alert::STATE_FIRING, Alert::SEVERITY_CRITICAL),
        );
        let active: Vec<(&str, u8)> = d
            .active_alerts()
            .iter()
            .map(|a| (a.rule.as_str(), a.severity))
            .collect();
        assert_eq!(
            active,
            [
                ("rule_a", Alert::SEVERITY_CRITICAL),
                ("rule_b", Alert::SEVERITY_WARNING)
            ]
        );
        assert_eq!(d.alerts["a"].since, s(3), "firing since it went firing");
        assert_eq!(d.fired, 2);
        d.apply(
            s(4),
            &alert("a", Alert::STATE_FIRING, Alert::SEVERITY_CRITICAL),
        );
        assert_eq!(d.fired, 2, "a repeat is not a new firing");
        assert_eq!(d.alerts["a"].since, s(3));
        d.apply(
            s(5),
            &alert("a", Alert::STATE_RESOLVED, Alert::SEVERITY_NONE),
        );
        assert_eq!(d.resolved, 1);
        assert_eq!(d.active_alerts().len(), 1);
        assert_eq!(d.alert_changes.len(), 5);
        assert_eq!(state_name(d.alert_changes[4].state), "resolved");
    }

    #[test]
    fn commands_feed_the_sparkline_and_the_recent_list_within_bounds() {
        let mut d = Dashboard::new();
        for i in 0..(2 * SPARKLINE_POINTS) {
            let outcome = if i % 5 == 4 {
                CommandLatency::OUTCOME_TIMED_OUT
            } else {
                CommandLatency::OUTCOME_SUCCEEDED
            };
            let e2e = if outcome == CommandLatency::OUTCOME_SUCCEEDED {
                1.0 + i as f64 / 100.0
            } else {
                f64::NAN
            };
            d.apply(
                s(i as u64),
                &Update::Command(CommandLatency {
                    command_id: format!("c{i}"),
                    outcome,
                    end_to_end: e2e,
                    ..CommandLatency::default()
                }),
            );
        }
        assert_eq!(d.commands_seen, 2 * SPARKLINE_POINTS);
        assert_eq!(d.e2e.len(), SPARKLINE_POINTS);
        assert!(
            d.e2e_values().all(f64::is_finite),
            "timed-out commands have no e2e"
        );
        assert_eq!(d.recent.len(), RECENT_COMMANDS);
        assert_eq!(
            d.recent.back().map(|c| c.command_id.as_str()),
            Some(format!("c{}", 2 * SPARKLINE_POINTS - 1).as_str())
        );
    }

    #[test]
    fn resources_topics_and_diagnostics_keep_the_latest_state() {
        let mut d = Dashboard::new();
        d.apply(
            s(1),
            &Update::Resources(ResourceUsage {
                cpu_percent: 42.0,
                gpus: vec![GpuUsage {
                    name: "gpu0".into(),
                    ..GpuUsage::default()
                }],
                ..ResourceUsage::default()
            }),
        );
        assert_eq!(d.resources.as_ref().map(|r| r.cpu_percent), Some(42.0));
        d.apply(
            s(2),
            &Update::Metrics(MetricArray {
                metrics: vec![
                    summary(
                        "topic_rate",
                        10.0,
                        [29.9; 3],
                        &[("topic", "/camera/image_raw")],
                    ),
                    summary(
                        "topic_age",
                        10.0,
                        [0.02; 3],
                        &[("topic", "/camera/image_raw")],
                    ),
                ],
                ..MetricArray::default()
            }),
        );
        let camera = d.topics["/camera/image_raw"];
        assert_eq!(camera.rate_hz, Some(29.9));
        assert_eq!(camera.age, Some(0.02));
        let status = |name: &str, level: u8| DiagnosticStatus {
            level,
            name: name.into(),
            message: format!("{name} level {level}"),
            ..DiagnosticStatus::default()
        };
        d.apply(
            s(3),
            &Update::Diagnostics(DiagnosticArray {
                status: vec![
                    status("vla_perf: stage plan", DiagnosticStatus::WARN),
                    status("vla_perf: cpu", DiagnosticStatus::OK),
                    status("vla_perf: topic /x", DiagnosticStatus::ERROR),
                ],
                ..DiagnosticArray::default()
            }),
        );
        let problems: Vec<&str> = d
            .diagnostic_problems()
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(problems, ["vla_perf: topic /x", "vla_perf: stage plan"]);
        d.apply(
            s(4),
            &Update::Diagnostics(DiagnosticArray {
                status: vec![status("vla_perf: topic /x", DiagnosticStatus::OK)],
                ..DiagnosticArray::default()
            }),
        );
        assert_eq!(d.diagnostic_problems().len(), 1);
        assert_eq!(d.first_update, Some(s(1)));
        assert_eq!(d.last_update, Some(s(4)));
    }

    #[test]
    fn trend_needs_a_relative_change_of_ten_percent() {
        assert_eq!(trend(1.0, 1.05), Trend::Stable);
        assert_eq!(trend(1.0, 1.15), Trend::Rising);
        assert_eq!(trend(1.0, 0.85), Trend::Falling);
        assert_eq!(trend(0.0, 0.0), Trend::Stable);
        assert_eq!(trend(0.0, 0.1), Trend::Rising);
    }
}
