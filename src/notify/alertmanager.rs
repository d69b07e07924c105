//! Prometheus Alertmanager, through its v2 API (`POST /api/v2/alerts`).
//!
//! Alertmanager keys an alert by its label set, `severity` included, and resolves an alert
//! whose `endsAt` has passed. So a firing alert is posted with `endsAt` a few minutes
//! ahead and re-posted every heartbeat (as Prometheus does); a resolved one with `endsAt`
//! set to the resolution time; an escalation ends the old severity's alert and starts the
//! new one, so only the worse severity stays active (critical inhibits warning).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{json, Value};

use super::webhook::{agent, post_json};
use super::{rfc3339, Notifier, Result};
use crate::core::alert::{Notification, Severity, State};
use crate::transport::wall_clock;

/// How far ahead a firing alert's `endsAt` is set; heartbeats (60 s) renew it well before.
const LEASE: Duration = Duration::from_secs(300);

/// Pushes alerts to one Alertmanager.
pub struct AlertmanagerNotifier {
    id: String,
    endpoint: String,
    agent: ureq::Agent,
    /// Alerts firing now, by alert id, as last posted.
    active: Mutex<BTreeMap<String, Notification>>,
}

impl AlertmanagerNotifier {
    /// A notifier for the Alertmanager at `url` (base URL, e.g. `http://localhost:9093`).
    pub fn new(id: String, url: &str, timeout: Duration) -> Self {
        Self {
            id,
            endpoint: format!("{}/api/v2/alerts", url.trim_end_matches('/')),
            agent: agent(timeout),
            active: Mutex::new(BTreeMap::new()),
        }
    }
}

/// One alert in the v2 API's form, at `severity`, ending at `ends_at`.
fn alert(n: &Notification, severity: Severity, ends_at: Duration) -> Value {
    let mut labels = n.labels.clone();
    labels.insert("severity".to_owned(), severity.as_str().to_owned());
    let robot = n.labels.get("robot_id").map_or("local", String::as_str);
    json!({
        "labels": labels,
        "annotations": {
            "summary": n.message,
            "metric": n.metric,
            "value": n.value.map_or_else(|| "no data".to_owned(), |v| v.to_string()),
            "warning_threshold": n.warning.to_string(),
            "critical_threshold": n.critical.to_string(),
            "alert_id": n.alert_id,
        },
        "startsAt": rfc3339(n.starts_at),
        "endsAt": rfc3339(ends_at),
        "generatorURL": format!("vla-perf://{robot}/alerts/{}", n.rule),
    })
}

/// The alerts to post for one notification.
fn alerts_for(n: &Notification) -> Vec<Value> {
    let mut out = Vec::new();
    if let Some(previous) = n.previous_severity.filter(|p| *p != n.severity) {
        out.push(alert(n, previous, n.at));
    }
    match n.status {
        State::Resolved => out.push(alert(n, n.severity, n.ends_at.unwrap_or(n.at))),
        _ => out.push(alert(n, n.severity, n.at + LEASE)),
    }
    out
}

impl Notifier for AlertmanagerNotifier {
    fn id(&self) -> &str {
        &self.id
    }

    fn deliver<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<()>> {
        if let Ok(mut active) = self.active.lock() {
            match n.status {
                State::Resolved => active.remove(&n.alert_id),
                _ => active.insert(n.alert_id.clone(), n.clone()),
            };
        }
        Box::pin(post_json(
            &self.agent,
            &self.id,
            &self.endpoint,
            Value::Array(alerts_for(n)),
        ))
    }

    fn resume(&self, n: &Notification) {
        // Re-posted at the next heartbeat, before its last `endsAt` lease runs out.
        if let Ok(mut active) = self.active.lock() {
            active.insert(n.alert_id.clone(), n.clone());
        }
    }

    fn heartbeat(&self) -> Option<BoxFuture<'_, Result<()>>> {
        let now = wall_clock();
        let alerts: Vec<Value> = self
            .active
            .lock()
            .ok()?
            .values()
            .map(|n| alert(n, n.severity, now + LEASE))
            .collect();
        if alerts.is_empty() {
            return None;
        }
        Some(Box::pin(post_json(
            &self.agent,
            &self.id,
            &self.endpoint,
            Value::Array(alerts),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::alert::{AlertMachine, NotifyKind};

    #[test]
    fn an_escalation_ends_the_warning_alert_and_starts_the_critical_one() {
        let n = Notification {
            id: "a-1".into(),
            alert_id: "a".into(),
            rule: "cpu".into(),
            kind: NotifyKind::Escalated,
            status: State::Firing,
            severity: Severity::Critical,
            previous_severity: Some(Severity::Warning),
            metric: "cpu_usage".into(),
            value: Some(99.0),
            warning: 80.0,
            critical: 95.0,
            labels: [("alertname".to_owned(), "cpu".to_owned())].into(),
            message: "m".into(),
            starts_at: Duration::from_secs(1_700_000_000),
            ends_at: None,
            at: Duration::from_secs(1_700_000_060),
            machine: AlertMachine::default(),
        };
        let alerts = alerts_for(&n);
        assert_eq!(alerts.len(), 2);
        assert_eq!(alerts[0]["labels"]["severity"], "warning");
        assert_eq!(alerts[0]["endsAt"], "2023-11-14T22:14:20.000Z");
        assert_eq!(alerts[1]["labels"]["severity"], "critical");
        assert_eq!(alerts[1]["startsAt"], "2023-11-14T22:13:20.000Z");
        assert_eq!(alerts[1]["endsAt"], "2023-11-14T22:19:20.000Z");
    }
}
