//! The alert node: collector topics in, rules evaluated on a fixed cadence, alerts out.
//!
//! Subscribes (under the namespace, default `/vla_perf`) to `metrics` and `topic_health`
//! ([`MetricArray`]) and `resources` ([`ResourceUsage`]); publishes `alerts` ([`Alert`]) on
//! every state change and one status per rule, plus one for the channels, on
//! `/diagnostics` every evaluation.
//!
//! Order of effects, which is what makes a kill at any moment safe: a transition is
//! fsync'd to the history before its `Alert` is published; a notification is fsync'd
//! before it is queued on any channel; a channel's success is recorded after it returns.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::history::{self, History};
use super::intake;
use crate::config::AlertRules;
use crate::core::alert::{Engine, Evaluation, Severity, State, Transition};
use crate::msg::builtin_interfaces::Time;
use crate::msg::diagnostic_msgs::{DiagnosticArray, DiagnosticStatus, KeyValue};
use crate::msg::std_msgs::Header;
use crate::msg::{Alert, MetricArray, ResourceUsage};
use crate::notify::{self, Dispatcher, RetryPolicy};
use crate::transport::{
    self, wall_clock, NodeOptions, Publisher, Qos, Subscription, Transport, Typed,
};

/// Why the alert node could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The transport failed.
    #[error(transparent)]
    Transport(#[from] transport::Error),
    /// The history file could not be opened.
    #[error(transparent)]
    History(#[from] history::Error),
    /// A notification channel cannot be set up.
    #[error(transparent)]
    Channel(#[from] notify::Error),
}

/// Result alias of this module.
pub type Result<T> = std::result::Result<T, Error>;

/// How the node runs, besides its rules.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Namespace of the collector topics and of `alerts` (`/vla_perf`).
    pub namespace: String,
    /// The history file (JSONL): state and record of every alert.
    pub history: PathBuf,
    /// How often rules are evaluated.
    pub evaluation_period: Duration,
    /// How channels retry.
    pub retry: RetryPolicy,
}

impl Settings {
    /// Defaults: namespace `/vla_perf`, evaluation every second, default retries.
    pub fn new(history: PathBuf) -> Self {
        Self {
            namespace: "/vla_perf".to_owned(),
            history,
            evaluation_period: Duration::from_secs(1),
            retry: RetryPolicy::default(),
        }
    }
}

enum Input {
    Metrics(MetricArray, Duration),
    Resources(ResourceUsage, Duration),
}

/// Runs the alert node until `shutdown` resolves, then waits briefly for deliveries in
/// flight to finish and be recorded.
// Long: the node's whole life: history, engine, endpoints and the loop that owns them.
pub async fn run(
    rules: AlertRules,
    settings: Settings,
    transport: Arc<dyn Transport>,
    domain_id: u16,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let (mut history, restored) = History::open(&settings.history)?;
    if restored.skipped_lines > 0 {
        tracing::warn!(
            "alert history {}: {} unreadable line(s) skipped",
            settings.history.display(),
            restored.skipped_lines
        );
    }
    let now = wall_clock();
    let mut engine = Engine::new(&rules.rules, rules.notifications.alert_cooldown);
    let mut resumed = 0;
    for (key, machine) in &restored.active {
        match engine.restore(key, *machine, now) {
            Ok(()) => resumed += 1,
            Err(e) => tracing::warn!("{e}; dropped"),
        }
    }
    tracing::info!(
        "alert history {}: {} record(s), {resumed} active alert(s) resumed, {} notification(s) to finish",
        settings.history.display(),
        restored.records,
        restored.undelivered.len()
    );
    for rule in &rules.rules {
        if intake::from_the_benchmark(&rule.metric) {
            tracing::info!(
                "rule `{}`: metric `{}` comes from the benchmark node; the rule fires only \
                 while a benchmark publishes it on {}/metrics",
                rule.name,
                rule.metric,
                settings.namespace
            );
        } else if !intake::produced(&rule.metric) {
            tracing::warn!(
                "rule `{}`: the collector does not publish metric `{}`; it fires only if \
                 another node publishes it in a MetricArray on {}/metrics",
                rule.name,
                rule.metric,
                settings.namespace
            );
        }
    }

    let notifiers = rules
        .notifications
        .channels
        .iter()
        .map(notify::notifier)
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let (outcome_tx, mut outcomes) = mpsc::unbounded_channel();
    let dispatcher = Dispatcher::start(notifiers, settings.retry, outcome_tx, wall_clock);
    let channel_ids = dispatcher.channel_ids();
    for notification in &restored.firing {
        dispatcher.resume(notification);
    }
    let mut outstanding: usize = 0;
    for (notification, channels) in &restored.undelivered {
        let channels: Vec<String> = channels
            .iter()
            .filter(|c| channel_ids.contains(c))
            .cloned()
            .collect();
        outstanding += channels.len();
        dispatcher.send(notification, Some(&channels));
    }

    let mut node = transport
        .create_node(&NodeOptions::new("vla_perf_alert_manager", "/").with_domain(domain_id))?;
    let ns = settings.namespace.trim_end_matches('/').to_owned();
    let alert_pub =
        Publisher::<Alert>::new(node.as_mut(), &format!("{ns}/alerts"), Qos::reliable(100))?;
    let diagnostics_pub =
        Publisher::<DiagnosticArray>::new(node.as_mut(), "/diagnostics", Qos::reliable(10))?;
    let (tx, mut inputs) = mpsc::channel::<Input>(1024);
    for topic in ["metrics", "topic_health"] {
        Subscription::<Typed<MetricArray>>::typed(
            node.as_mut(),
            &format!("{ns}/{topic}"),
            Qos::reliable(10),
        )?
        .forward(tx.clone(), |r| Input::Metrics(r.message, r.received_at));
    }
    Subscription::<Typed<ResourceUsage>>::typed(
        node.as_mut(),
        &format!("{ns}/resources"),
        Qos::reliable(10),
    )?
    .forward(tx, |r| Input::Resources(r.message, r.received_at));

    let mut out = Output {
        alert_pub,
        diagnostics_pub,
        history_errors: 0,
        skipped_lines: restored.skipped_lines,
    };
    let mut tick = tokio::time::interval(settings.evaluation_period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            Some(input) = inputs.recv() => {
                let observations = match &input {
                    Input::Metrics(array, at) => intake::from_metric_array(array, *at),
                    Input::Resources(usage, at) => intake::from_resources(usage, *at),
                };
                for observation in &observations {
                    engine.observe(observation);
                }
            }
            Some(outcome) = outcomes.recv() => {
                outstanding = outstanding.saturating_sub(1);
                out.record_outcome(&mut history, &outcome);
            }
            _ = tick.tick() => {
                let evaluation = engine.evaluate(wall_clock());
                outstanding += out.apply(&mut history, &dispatcher, &channel_ids, evaluation);
                out.diagnostics(&engine, &dispatcher, wall_clock());
            }
        }
    }
    // Deliveries in flight get a moment to finish, so their outcome is recorded rather
    // than retried on the next start.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while outstanding > 0 {
        match tokio::time::timeout_at(deadline, outcomes.recv()).await {
            Ok(Some(outcome)) => {
                outstanding -= 1;
                out.record_outcome(&mut history, &outcome);
            }
            _ => break,
        }
    }
    Ok(())
}

struct Output {
    alert_pub: Publisher<Alert>,
    diagnostics_pub: Publisher<DiagnosticArray>,
    history_errors: u64,
    skipped_lines: u64,
}

impl Output {
    /// Persists and publishes one evaluation; returns how many deliveries were queued.
    fn apply(
        &mut self,
        history: &mut History,
        dispatcher: &Dispatcher,
        channel_ids: &[String],
        evaluation: Evaluation,
    ) -> usize {
        let mut queued = 0;
        for transition in &evaluation.transitions {
            // The notification a change causes shares its record: both or neither survive.
            let caused = evaluation
                .notifications
                .iter()
                .find(|n| n.alert_id == transition.key.alert_id && n.at == transition.at);
            if let Err(e) = history.transition(transition, caused, channel_ids) {
                self.history_error(&e);
            }
            tracing::info!(
                alert_id = %transition.key.alert_id,
                "alert {} {} -> {}",
                transition.key.rule,
                transition.from.as_str(),
                transition.to.as_str()
            );
            if let Err(e) = self.alert_pub.publish(&alert_message(transition)) {
                tracing::warn!("publishing alert: {e}");
            }
            if let Some(notification) = caused {
                queued += self.dispatch(history, dispatcher, channel_ids, notification);
            }
        }
        for notification in &evaluation.notifications {
            let caused_by_change = evaluation
                .transitions
                .iter()
                .any(|t| t.key.alert_id == notification.alert_id && t.at == notification.at);
            if caused_by_change {
                continue;
            }
            if let Err(e) = history.notification(notification, channel_ids) {
                self.history_error(&e);
            }
            queued += self.dispatch(history, dispatcher, channel_ids, notification);
        }
        queued
    }

    /// Queues a recorded notification on every channel; returns how many took it.
    fn dispatch(
        &mut self,
        history: &mut History,
        dispatcher: &Dispatcher,
        channel_ids: &[String],
        notification: &crate::core::alert::Notification,
    ) -> usize {
        let dropped = dispatcher.send(notification, None);
        for channel in &dropped {
            let error = Some("queue full; dropped".to_owned());
            if let Err(e) = history.outcome(&notification.id, channel, 0, error) {
                self.history_error(&e);
            }
        }
        channel_ids.len() - dropped.len()
    }

    fn record_outcome(&mut self, history: &mut History, outcome: &notify::Outcome) {
        if outcome.error.is_none() && outcome.attempts > 0 {
            tracing::debug!(
                "{} delivered {} in {:?} ({} attempt(s))",
                outcome.channel,
                outcome.notification_id,
                outcome.latency,
                outcome.attempts
            );
        }
        if let Err(e) = history.outcome(
            &outcome.notification_id,
            &outcome.channel,
            outcome.attempts,
            outcome.error.clone(),
        ) {
            self.history_error(&e);
        }
    }

    fn history_error(&mut self, e: &history::Error) {
        self.history_errors += 1;
        if self.history_errors.is_power_of_two() {
            tracing::error!(
                "{e} ({} history write error(s) so far)",
                self.history_errors
            );
        }
    }

    /// One status per rule (OK inactive, WARN pending or firing warning, ERROR firing
    /// critical) and one for the channels.
    // Long: the per-rule statuses and the channels' status, built into one DiagnosticArray.
    fn diagnostics(&self, engine: &Engine, dispatcher: &Dispatcher, now: Duration) {
        let kv = |key: &str, value: String| KeyValue {
            key: key.to_owned(),
            value,
        };
        let mut status = Vec::new();
        for (rule, alerts) in engine.statuses() {
            let count = |state: State, severity: Option<Severity>| {
                alerts
                    .iter()
                    .filter(|a| a.state == state && (severity.is_none() || a.severity == severity))
                    .count()
            };
            let critical = count(State::Firing, Some(Severity::Critical));
            let warning = count(State::Firing, Some(Severity::Warning));
            let pending = count(State::Pending, None);
            let (level, message) = if critical > 0 {
                (
                    DiagnosticStatus::ERROR,
                    format!("{critical} firing critical"),
                )
            } else if warning > 0 {
                (DiagnosticStatus::WARN, format!("{warning} firing warning"))
            } else if pending > 0 {
                (DiagnosticStatus::WARN, format!("{pending} pending"))
            } else {
                (DiagnosticStatus::OK, "no alert".to_owned())
            };
            let mut values = vec![
                kv("metric", rule.metric.clone()),
                kv("series", alerts.len().to_string()),
                kv("pending", pending.to_string()),
                kv("firing", (critical + warning).to_string()),
            ];
            for a in &alerts {
                let value = a
                    .value
                    .map_or_else(|| "no data".to_owned(), |v| v.to_string());
                values.push(kv(
                    &a.key.alert_id,
                    format!("{} {}", a.state.as_str(), value),
                ));
            }
            status.push(DiagnosticStatus {
                level,
                name: format!("vla_perf: alert rule {}", rule.name),
                message,
                hardware_id: String::new(),
                values,
            });
        }
        let mut values = vec![
            kv("observations_rejected", engine.rejected().to_string()),
            kv("history_write_errors", self.history_errors.to_string()),
            kv("history_skipped_lines", self.skipped_lines.to_string()),
        ];
        let mut failing = false;
        for (id, c) in dispatcher.counters() {
            failing |= c.gave_up > 0 || c.dropped > 0;
            values.push(kv(
                &id,
                format!(
                    "delivered {} retries {} gave_up {} dropped {}",
                    c.delivered, c.retries, c.gave_up, c.dropped
                ),
            ));
        }
        let (level, message) = if self.history_errors > 0 {
            (DiagnosticStatus::ERROR, "alert history cannot be written")
        } else if failing {
            (
                DiagnosticStatus::WARN,
                "some notifications were not delivered",
            )
        } else {
            (DiagnosticStatus::OK, "delivering")
        };
        status.push(DiagnosticStatus {
            level,
            name: "vla_perf: alert channels".to_owned(),
            message: message.to_owned(),
            hardware_id: String::new(),
            values,
        });
        let header = Header {
            stamp: Time::from(now),
            frame_id: String::new(),
        };
        if let Err(e) = self
            .diagnostics_pub
            .publish(&DiagnosticArray { header, status })
        {
            tracing::warn!("publishing diagnostics: {e}");
        }
    }
}

/// The `Alert` message of a transition.
pub fn alert_message(t: &Transition) -> Alert {
    let state = match t.to {
        State::Inactive => Alert::STATE_INACTIVE,
        State::Pending => Alert::STATE_PENDING,
        State::Firing => Alert::STATE_FIRING,
        State::Resolved => Alert::STATE_RESOLVED,
    };
    let severity = match (t.to, t.severity) {
        (State::Inactive, _) | (_, None) => Alert::SEVERITY_NONE,
        (_, Some(Severity::Warning)) => Alert::SEVERITY_WARNING,
        (_, Some(Severity::Critical)) => Alert::SEVERITY_CRITICAL,
    };
    let labels: BTreeMap<_, _> = t.key.labels.clone();
    Alert {
        header: Header {
            stamp: Time::from(t.at),
            frame_id: String::new(),
        },
        alert_id: t.key.alert_id.clone(),
        rule: t.key.rule.clone(),
        robot_id: labels.get("robot_id").cloned().unwrap_or_default(),
        state,
        severity,
        metric: t.metric.clone(),
        value: t.value.unwrap_or(f64::NAN),
        warning_threshold: t.warning,
        critical_threshold: t.critical,
        message: t.message.clone(),
        active_since: Time::from(t.machine.active_since().unwrap_or(t.at)),
        labels: labels
            .into_iter()
            .map(|(key, value)| KeyValue { key, value })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_alerts;
    use crate::msg::MetricSummary;
    use crate::transport::inproc::InprocTransport;

    fn latency(value: f64) -> MetricArray {
        MetricArray {
            robot_id: "r1".into(),
            metrics: vec![MetricSummary {
                name: "end_to_end_latency".into(),
                unit: "s".into(),
                window: 10.0,
                count: 5,
                mean: value,
                min: value,
                max: value,
                p50: value,
                p90: value,
                p95: value,
                p99: value,
                p999: value,
                ..MetricSummary::default()
            }],
            ..MetricArray::default()
        }
    }

    #[tokio::test]
    async fn metrics_crossing_a_threshold_come_out_as_pending_firing_and_resolved_alerts() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("alerts.jsonl");
        let yaml = format!(
            "rules:\n  - {{name: slow, metric: response_time, aggregation: last, warning: 1.0, critical: 2.0, window: 1s, consecutive_violations: 2}}\nnotifications:\n  channels: [{{type: file, path: {}}}]\n  alert_cooldown: 1h\n",
            file.display()
        );
        let rules = parse_alerts("rules.yaml", &yaml).unwrap().config;
        let transport = InprocTransport::new();
        let mut probe = transport
            .create_node(&NodeOptions::new("probe", "/"))
            .unwrap();
        let metrics =
            Publisher::<MetricArray>::new(probe.as_mut(), "/vla_perf/metrics", Qos::reliable(10))
                .unwrap();
        let mut alerts = Subscription::<Typed<Alert>>::typed(
            probe.as_mut(),
            "/vla_perf/alerts",
            Qos::reliable(100),
        )
        .unwrap();
        let mut settings = Settings::new(dir.path().join("history.jsonl"));
        settings.evaluation_period = Duration::from_millis(20);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let node = tokio::spawn(run(rules, settings, Arc::new(transport), 0, async move {
            let _ = stopped.await;
        }));
        let mut states = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        for wanted in [Alert::STATE_FIRING, Alert::STATE_RESOLVED] {
            let value = if wanted == Alert::STATE_FIRING {
                2.5
            } else {
                0.5
            };
            loop {
                metrics.publish(&latency(value)).unwrap();
                match tokio::time::timeout_at(
                    deadline.min(tokio::time::Instant::now() + Duration::from_millis(30)),
                    alerts.recv(),
                )
                .await
                {
                    Ok(Some(a)) => {
                        states.push(a.message.state);
                        if a.message.state == wanted {
                            assert_eq!(a.message.rule, "slow");
                            assert_eq!(a.message.robot_id, "r1");
                            assert_eq!(a.message.metric, "response_time");
                            assert_eq!(a.message.severity, Alert::SEVERITY_CRITICAL);
                            break;
                        }
                    }
                    Ok(None) => panic!("alerts closed"),
                    Err(_) => assert!(
                        tokio::time::Instant::now() < deadline,
                        "no {wanted} in time: {states:?}"
                    ),
                }
            }
        }
        assert_eq!(
            states,
            vec![
                Alert::STATE_PENDING,
                Alert::STATE_FIRING,
                Alert::STATE_RESOLVED
            ]
        );
        stop.send(()).unwrap();
        node.await.unwrap().unwrap();
        let lines: Vec<serde_json::Value> = std::fs::read_to_string(&file)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let statuses: Vec<&str> = lines
            .iter()
            .map(|l| l["status"].as_str().unwrap())
            .collect();
        assert_eq!(statuses, ["firing", "resolved"]);
        let (records, skipped) = history::read(&dir.path().join("history.jsonl")).unwrap();
        assert_eq!(skipped, 0);
        let delivered = records
            .iter()
            .filter(|r| matches!(r, history::Record::Delivered { .. }))
            .count();
        assert_eq!(delivered, 2, "both notifications recorded as delivered");
    }
}
