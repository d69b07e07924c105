//! Alert rule evaluation: observations of metric series in, alert changes and
//! notifications out, as values.
//!
//! Each rule watches every series of its metric whose tags include the rule's selectors;
//! every matching series (one label set) is its own alert with its own [`AlertMachine`],
//! like Prometheus alerting rules. [`Engine::evaluate`] runs at the caller's cadence and
//! timestamps are arguments, so the engine is deterministic and replayable.

pub mod machine;
pub mod promql;
pub mod window;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use machine::{AlertMachine, Change, NotifyKind, Phase, Policy, Severity, State, Step};
pub use window::{Rejected, SeriesWindow, Stats};

mod rule;
use crate::trend::Status;
pub use rule::{Aggregation, AlertRule};

/// Labels of an alert: series tags, rule labels, `alertname` and `severity`-free.
pub type Labels = BTreeMap<String, String>;

/// Why the engine refused something.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A restored alert names a rule the current rules do not have.
    #[error("restored alert {alert_id} belongs to rule `{rule}`, which no longer exists")]
    UnknownRule {
        /// The alert.
        alert_id: String,
        /// Its rule name.
        rule: String,
    },
}

/// Result alias of this module.
pub type Result<T> = std::result::Result<T, Error>;

/// One observation of a metric series.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// Metric name (`stage_latency`).
    pub metric: String,
    /// Series tags (`stage=plan`, `robot_id=r1`).
    pub tags: Labels,
    /// When it was observed.
    pub at: Duration,
    /// What was observed.
    pub stats: Stats,
}

/// Identity of one alert: rule and series.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AlertKey {
    /// Stable id: a hash of the rule name and the sorted labels.
    pub alert_id: String,
    /// Rule name.
    pub rule: String,
    /// All labels: series tags, then rule labels, plus `alertname`.
    pub labels: Labels,
}

/// A state change of one alert, ready to publish and persist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    /// Which alert.
    pub key: AlertKey,
    /// When.
    pub at: Duration,
    /// State before.
    pub from: State,
    /// State after.
    pub to: State,
    /// Severity after (for `resolved`: the severity it had).
    pub severity: Option<Severity>,
    /// The aggregated value that caused it (`None` when no data).
    pub value: Option<f64>,
    /// The metric the rule watches.
    pub metric: String,
    /// The rule's warning threshold.
    pub warning: f64,
    /// The rule's critical threshold.
    pub critical: f64,
    /// The rule's message, rendered for this change.
    pub message: String,
    /// The machine after the change (what a restart resumes from).
    pub machine: AlertMachine,
}

/// A notification to deliver on every channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// Unique and deterministic: alert id and time.
    pub id: String,
    /// Which alert.
    pub alert_id: String,
    /// Rule name.
    pub rule: String,
    /// Why it is sent.
    pub kind: NotifyKind,
    /// `firing` or `resolved`.
    pub status: State,
    /// Current severity (the last one for resolved alerts).
    pub severity: Severity,
    /// The severity before an escalation or de-escalation.
    pub previous_severity: Option<Severity>,
    /// Metric watched.
    pub metric: String,
    /// Aggregated value at the time.
    pub value: Option<f64>,
    /// Warning threshold.
    pub warning: f64,
    /// Critical threshold.
    pub critical: f64,
    /// Labels of the alert.
    pub labels: Labels,
    /// The rendered message.
    pub message: String,
    /// When the alert started firing.
    pub starts_at: Duration,
    /// When it resolved (resolved notifications only).
    pub ends_at: Option<Duration>,
    /// When the notification was decided.
    pub at: Duration,
    /// The machine after the notification (its `last_notified`).
    pub machine: AlertMachine,
}

/// What one evaluation produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evaluation {
    /// State changes, in rule order.
    pub transitions: Vec<Transition>,
    /// Notifications, in rule order.
    pub notifications: Vec<Notification>,
}

/// The current state of one alert, for status reports.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertStatus {
    /// Which alert.
    pub key: AlertKey,
    /// Its state.
    pub state: State,
    /// Its severity.
    pub severity: Option<Severity>,
    /// Last aggregated value.
    pub value: Option<f64>,
}

struct Series {
    key: AlertKey,
    tags: Labels,
    window: SeriesWindow,
    machine: AlertMachine,
    /// Newest observation, or the restore time: absence is measured from it.
    last_seen: Duration,
    value: Option<f64>,
}

struct RuleState {
    rule: AlertRule,
    policy: Policy,
    series: BTreeMap<Labels, Series>,
}

/// Every rule's alerts.
pub struct Engine {
    rules: Vec<RuleState>,
    rejected: u64,
}

impl Engine {
    /// An engine for `rules`; a rule without `repeat_interval` repeats every `cooldown`.
    pub fn new(rules: &[AlertRule], cooldown: Duration) -> Self {
        Self {
            rules: rules
                .iter()
                .map(|rule| RuleState {
                    policy: Policy {
                        pending: rule.pending,
                        consecutive: rule.consecutive_violations.max(1),
                        keep_firing_for: rule.keep_firing_for,
                        repeat: rule.repeat_interval.unwrap_or(cooldown),
                    },
                    rule: rule.clone(),
                    series: BTreeMap::new(),
                })
                .collect(),
            rejected: 0,
        }
    }

    /// Observations refused so far (non-finite or out of order).
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    /// Feeds one observation to every rule that watches its series; returns how many did.
    pub fn observe(&mut self, observation: &Observation) -> usize {
        let mut matched = 0;
        for state in &mut self.rules {
            let rule = &state.rule;
            if rule.metric != observation.metric
                || !rule
                    .tags
                    .iter()
                    .all(|(k, v)| observation.tags.get(k) == Some(v))
            {
                continue;
            }
            matched += 1;
            // Look up before inserting: cloning the tags for every observation would cost
            // more than evaluating it.
            if !state.series.contains_key(&observation.tags) {
                state.series.insert(
                    observation.tags.clone(),
                    Series {
                        key: alert_key(rule, &observation.tags),
                        tags: observation.tags.clone(),
                        window: SeriesWindow::new(rule.window),
                        machine: AlertMachine::default(),
                        last_seen: observation.at,
                        value: None,
                    },
                );
            }
            let Some(series) = state.series.get_mut(&observation.tags) else {
                continue;
            };
            match series.window.push(observation.at, observation.stats) {
                Ok(()) => series.last_seen = series.last_seen.max(observation.at),
                Err(_) => self.rejected += 1,
            }
        }
        matched
    }

    /// Resumes an alert from its persisted machine, as of `now`.
    pub fn restore(&mut self, key: &AlertKey, machine: AlertMachine, now: Duration) -> Result<()> {
        let Some(state) = self.rules.iter_mut().find(|s| s.rule.name == key.rule) else {
            return Err(Error::UnknownRule {
                alert_id: key.alert_id.clone(),
                rule: key.rule.clone(),
            });
        };
        let rule_labels = &state.rule.labels;
        let tags: Labels = key
            .labels
            .iter()
            .filter(|(k, _)| k.as_str() != "alertname" && !rule_labels.contains_key(*k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let key = alert_key(&state.rule, &tags);
        state.series.insert(
            tags.clone(),
            Series {
                key,
                tags,
                window: SeriesWindow::new(state.rule.window),
                machine,
                last_seen: now,
                value: None,
            },
        );
        Ok(())
    }

    /// Evaluates every alert at `now`.
    ///
    /// A series without data in its window keeps its state until it has been silent for a
    /// whole window (so a restart, which starts with empty windows, does not resolve
    /// anything); then it counts as recovered.
    // Long: per series: step its machine, then build its Transition and Notification.
    pub fn evaluate(&mut self, now: Duration) -> Evaluation {
        let mut out = Evaluation::default();
        for state in &mut self.rules {
            let rule = &state.rule;
            for series in state.series.values_mut() {
                let value = series.window.aggregate(now, rule.aggregation);
                series.value = value;
                let status = match value {
                    Some(v) => rule.thresholds.status(v).unwrap_or(Status::Normal),
                    None if now.saturating_sub(series.last_seen) >= rule.window => Status::Normal,
                    None => continue,
                };
                let before = series.machine;
                let observed_at = series.window.newest().unwrap_or(now);
                let step = series
                    .machine
                    .step_observed(&state.policy, now, observed_at, status);
                if let Some(change) = step.change {
                    out.transitions.push(Transition {
                        key: series.key.clone(),
                        at: now,
                        from: change.from,
                        to: change.to,
                        severity: change.severity,
                        value,
                        metric: rule.metric.clone(),
                        warning: rule.thresholds.warning(),
                        critical: rule.thresholds.critical(),
                        message: render(
                            rule,
                            &series.tags,
                            value,
                            change
                                .severity
                                .or(change.previous_severity)
                                .unwrap_or(Severity::Warning),
                            change.to == State::Resolved || change.to == State::Inactive,
                        ),
                        machine: series.machine,
                    });
                }
                if let Some(kind) = step.notify {
                    let severity = step
                        .change
                        .and_then(|c| c.severity)
                        .or(series.machine.severity())
                        .unwrap_or(Severity::Warning);
                    let previous = step
                        .change
                        .and_then(|c| c.previous_severity)
                        .filter(|p| *p != severity);
                    let resolved = kind == NotifyKind::Resolved;
                    // A resolved machine is inactive again: the start is the one it had.
                    let starts_at = if resolved { &before } else { &series.machine }
                        .active_since()
                        .unwrap_or(now);
                    out.notifications.push(Notification {
                        id: format!("{}-{}", series.key.alert_id, now.as_nanos()),
                        alert_id: series.key.alert_id.clone(),
                        rule: rule.name.clone(),
                        kind,
                        status: if resolved {
                            State::Resolved
                        } else {
                            State::Firing
                        },
                        severity,
                        previous_severity: previous,
                        metric: rule.metric.clone(),
                        value,
                        warning: rule.thresholds.warning(),
                        critical: rule.thresholds.critical(),
                        labels: series.key.labels.clone(),
                        message: render(rule, &series.tags, value, severity, resolved),
                        starts_at,
                        ends_at: resolved.then_some(now),
                        at: now,
                        machine: series.machine,
                    });
                }
            }
            // Resolved alerts whose series went quiet are forgotten: they would only ever
            // come back as new data, which recreates them.
            state
                .series
                .retain(|_, s| s.machine.state() != State::Inactive || !s.window.is_empty());
        }
        out
    }

    /// Every known alert with its state, rule by rule.
    pub fn statuses(&self) -> impl Iterator<Item = (&AlertRule, Vec<AlertStatus>)> {
        self.rules.iter().map(|state| {
            (
                &state.rule,
                state
                    .series
                    .values()
                    .map(|s| AlertStatus {
                        key: s.key.clone(),
                        state: s.machine.state(),
                        severity: s.machine.severity(),
                        value: s.value,
                    })
                    .collect(),
            )
        })
    }
}

/// The key of `rule`'s alert on the series with `tags`.
pub fn alert_key(rule: &AlertRule, tags: &Labels) -> AlertKey {
    let mut labels = tags.clone();
    for (k, v) in &rule.labels {
        labels.insert(k.clone(), v.clone());
    }
    labels.insert("alertname".to_owned(), rule.name.clone());
    AlertKey {
        alert_id: alert_id(&rule.name, &labels),
        rule: rule.name.clone(),
        labels,
    }
}

/// A stable id of a rule and label set: 64-bit FNV-1a over the rule name and the sorted
/// labels, as 16 hex digits. Stable across runs and builds (no randomised hasher).
pub fn alert_id(rule: &str, labels: &Labels) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for b in bytes.iter().chain(std::iter::once(&0xff)) {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    feed(rule.as_bytes());
    for (k, v) in labels {
        feed(k.as_bytes());
        feed(v.as_bytes());
    }
    format!("{hash:016x}")
}

/// The rule's message (its template or the built-in one) for the current value.
pub fn render(
    rule: &AlertRule,
    tags: &Labels,
    value: Option<f64>,
    severity: Severity,
    resolved: bool,
) -> String {
    let threshold = match severity {
        Severity::Warning => rule.thresholds.warning(),
        Severity::Critical => rule.thresholds.critical(),
    };
    let value_text = value.map_or_else(|| "no data".to_owned(), |v| format!("{v:.4}"));
    let status = if resolved { "resolved" } else { "firing" };
    let direction = rule.thresholds.direction().as_str();
    let Some(template) = &rule.message else {
        let selector: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let op = rule.thresholds.direction().crossing();
        return format!(
            "{} {status} ({}): {}({}{{{}}}) = {value_text} {op} {threshold}",
            rule.name,
            severity.as_str(),
            rule.aggregation.as_str(),
            rule.metric,
            selector.join(",")
        );
    };
    let lookup = |name: &str| -> Option<String> {
        Some(match name {
            "name" => rule.name.clone(),
            "metric" => rule.metric.clone(),
            "value" => value_text.clone(),
            "warning" => rule.thresholds.warning().to_string(),
            "critical" => rule.thresholds.critical().to_string(),
            "threshold" => threshold.to_string(),
            "severity" => severity.as_str().to_owned(),
            "status" => status.to_owned(),
            "window" => humantime::format_duration(rule.window).to_string(),
            "aggregation" => rule.aggregation.as_str().to_owned(),
            "direction" => direction.to_owned(),
            other => tags
                .get(other)
                .or_else(|| rule.labels.get(other))
                .cloned()
                .unwrap_or_default(),
        })
    };
    expand(template, |name| lookup(name).unwrap_or_default())
}

/// `template` with each `{name}` replaced by `value(name)`; `{{` and `}}` are literal
/// braces. A lone brace is kept as text (validated templates have none).
pub fn expand(template: &str, value: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
        } else if let (true, Some(end)) = (tail.starts_with('{'), tail.find('}')) {
            out.push_str(&value(&tail[1..end]));
            rest = &tail[end + 1..];
        } else {
            out.push_str(&tail[..1]);
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}
