//! Alert rules: when a metric crosses its thresholds, and where the alert goes.
//!
//! One file may hold either or both forms:
//! - compact: `performance_alerts:` maps a metric name to warning/critical thresholds, an
//!   evaluation window in seconds and a count of consecutive violations;
//! - full: `rules:` lists named rules with tag selectors, aggregation, direction, pending
//!   time, labels and a message template.
//!
//! Both become [`AlertRule`]s; `notifications:` says where alerts are sent. Unknown metric
//! names are warnings, not errors, so a stack's own metrics can be alerted on.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::duration::{self, format_duration};
use super::yaml::{Checker, FieldPath};
pub use crate::core::alert::{Aggregation, AlertRule};
use crate::core::metric;
use crate::core::trend::{Direction, ThresholdError, Thresholds};

/// Placeholders a message template may use, besides the rule's tag and label names.
pub const TEMPLATE_PLACEHOLDERS: &[&str] = &[
    "name",
    "metric",
    "value",
    "warning",
    "critical",
    "threshold",
    "severity",
    "status",
    "window",
    "aggregation",
    "direction",
    "robot_id",
];

/// Whether alert rules know metric (or alias) `name`: the catalogue, [`metric::lookup`].
pub fn known_metric(name: &str) -> bool {
    metric::lookup(name).is_some()
}

/// The natural direction of a known metric or alias.
pub fn metric_direction(name: &str) -> Option<Direction> {
    metric::lookup(name).and_then(|n| n.worse().direction())
}

/// The alternative spelling of a direction: alert when the value goes `above` or `below`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Comparison {
    Above,
    Below,
}

/// Where alerts are sent.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Notifications {
    /// Channels every alert goes to.
    pub channels: Vec<Channel>,
    /// Least time between two notifications of the same firing alert.
    #[serde(deserialize_with = "duration::required")]
    pub alert_cooldown: Duration,
}

impl Default for Notifications {
    fn default() -> Self {
        Self {
            channels: vec![Channel::Console],
            alert_cooldown: Duration::from_secs(300),
        }
    }
}

/// One notification channel.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Channel {
    /// Log lines on the node's console.
    Console,
    /// Append JSON lines to a file.
    File {
        /// File to append to.
        path: PathBuf,
    },
    /// Send mail through an SMTP relay.
    Email {
        /// Addresses to send to.
        recipients: Vec<String>,
        /// SMTP relay as `host:port`.
        #[serde(default = "default_smtp_server")]
        smtp_server: String,
        /// Sender address.
        #[serde(default = "default_sender")]
        from: String,
        /// Transport security: `none` (plain, the default for a local relay), `starttls`
        /// or `tls` (implicit TLS, usually port 465). Credentials come only from the
        /// environment (`VLA_PERF_SMTP_USERNAME`, `VLA_PERF_SMTP_PASSWORD`).
        #[serde(default)]
        tls: SmtpTls,
    },
    /// POST the alert as JSON.
    Webhook {
        /// Endpoint URL (http or https).
        url: String,
    },
    /// Push to Alertmanager's v2 API.
    Alertmanager {
        /// Alertmanager base URL, e.g. `http://localhost:9093`.
        url: String,
    },
}

/// How the email channel secures its SMTP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTls {
    /// Plain SMTP (a relay on localhost).
    #[default]
    None,
    /// Upgrade with STARTTLS; fails if the server does not offer it.
    Starttls,
    /// TLS from the first byte (SMTPS).
    Tls,
}

impl SmtpTls {
    /// The snake_case name used in YAML.
    pub fn as_str(self) -> &'static str {
        match self {
            SmtpTls::None => "none",
            SmtpTls::Starttls => "starttls",
            SmtpTls::Tls => "tls",
        }
    }
}

fn default_smtp_server() -> String {
    "localhost:25".to_owned()
}

fn default_sender() -> String {
    "vla_perf@localhost".to_owned()
}

impl Channel {
    /// The `type` name used in YAML.
    pub fn kind(&self) -> &'static str {
        match self {
            Channel::Console => "console",
            Channel::File { .. } => "file",
            Channel::Email { .. } => "email",
            Channel::Webhook { .. } => "webhook",
            Channel::Alertmanager { .. } => "alertmanager",
        }
    }

    fn describe(&self) -> String {
        match self {
            Channel::Console => "console".to_owned(),
            Channel::File { path } => format!("file {}", path.display()),
            Channel::Email {
                recipients,
                smtp_server,
                from,
                tls,
            } => format!(
                "email to {} via {smtp_server} (tls: {}) from {from}",
                recipients.join(", "),
                tls.as_str()
            ),
            Channel::Webhook { url } => format!("webhook {url}"),
            Channel::Alertmanager { url } => format!("alertmanager {url}"),
        }
    }
}

/// All alert rules of a file, compact ones first, plus their notification settings.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRules {
    /// Every rule, validated.
    pub rules: Vec<AlertRule>,
    /// Where alerts go.
    pub notifications: Notifications,
}

/// The alert file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AlertFile {
    #[serde(default)]
    performance_alerts: BTreeMap<String, CompactAlert>,
    #[serde(default)]
    notifications: Notifications,
    #[serde(default)]
    rules: Vec<RuleSpec>,
}

/// A compact-form entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CompactAlert {
    warning_threshold: f64,
    critical_threshold: f64,
    #[serde(default = "default_window", deserialize_with = "duration::required")]
    evaluation_window: Duration,
    #[serde(default = "one")]
    consecutive_violations: u32,
}

/// A full-form rule as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    name: String,
    metric: String,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    #[serde(default)]
    aggregation: Aggregation,
    #[serde(default)]
    direction: Option<Direction>,
    #[serde(default)]
    comparison: Option<Comparison>,
    warning: f64,
    critical: f64,
    #[serde(default = "default_window", deserialize_with = "duration::required")]
    window: Duration,
    #[serde(rename = "for", default, deserialize_with = "duration::required")]
    pending: Duration,
    #[serde(default = "one")]
    consecutive_violations: u32,
    #[serde(default, deserialize_with = "duration::required")]
    keep_firing_for: Duration,
    #[serde(default, deserialize_with = "duration::optional")]
    repeat_interval: Option<Duration>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    message: Option<String>,
}

fn default_window() -> Duration {
    Duration::from_secs(60)
}

fn one() -> u32 {
    1
}

impl AlertFile {
    /// Validates every rule and builds the public form; problems go to `check`.
    pub(crate) fn build(self, check: &mut Checker) -> AlertRules {
        let root = FieldPath::root();
        let mut rules = Vec::new();
        if self.performance_alerts.is_empty() && self.rules.is_empty() {
            check.error(
                root.clone(),
                "",
                "no alert rules: give `rules:` and/or `performance_alerts:`",
            );
        }
        for (metric, alert) in self.performance_alerts {
            let at = root.key("performance_alerts").key(&metric);
            if !known_metric(&metric) {
                check.warn(at.clone(), &metric, unknown_metric_message(&metric));
            }
            let direction = metric_direction(&metric);
            let thresholds = thresholds(
                check,
                (&at.key("warning_threshold"), &at.key("critical_threshold")),
                alert.warning_threshold,
                alert.critical_threshold,
                direction,
            );
            positive(check, at.key("evaluation_window"), alert.evaluation_window);
            at_least_one(
                check,
                at.key("consecutive_violations"),
                alert.consecutive_violations,
            );
            if let Some(thresholds) = thresholds {
                rules.push(AlertRule {
                    name: metric.clone(),
                    metric,
                    tags: BTreeMap::new(),
                    aggregation: Aggregation::Mean,
                    thresholds,
                    window: alert.evaluation_window,
                    pending: Duration::ZERO,
                    consecutive_violations: alert.consecutive_violations,
                    keep_firing_for: Duration::ZERO,
                    repeat_interval: None,
                    labels: BTreeMap::new(),
                    message: None,
                });
            }
        }
        for (i, spec) in self.rules.into_iter().enumerate() {
            let at = root.key("rules").index(i);
            if let Some(rule) = spec.build(&at, check) {
                if rules.iter().any(|r: &AlertRule| r.name == rule.name) {
                    check.error(
                        at.key("name"),
                        &rule.name,
                        "duplicate rule name (compact rules are named after their metric)",
                    );
                }
                rules.push(rule);
            }
        }
        let channels = root.key("notifications").key("channels");
        for (i, channel) in self.notifications.channels.iter().enumerate() {
            validate_channel(check, &channels.index(i), channel);
        }
        positive(
            check,
            root.key("notifications").key("alert_cooldown"),
            self.notifications.alert_cooldown,
        );
        AlertRules {
            rules,
            notifications: self.notifications,
        }
    }
}

impl RuleSpec {
    fn build(self, at: &FieldPath, check: &mut Checker) -> Option<AlertRule> {
        self.check_names(at, check);
        let direction = self.worse_direction(at, check);
        let thresholds = thresholds(
            check,
            (&at.key("warning"), &at.key("critical")),
            self.warning,
            self.critical,
            direction,
        );
        positive(check, at.key("window"), self.window);
        at_least_one(
            check,
            at.key("consecutive_violations"),
            self.consecutive_violations,
        );
        if let Some(repeat) = self.repeat_interval {
            positive(check, at.key("repeat_interval"), repeat);
        }
        self.check_message(at, check);
        Some(AlertRule {
            name: self.name,
            metric: self.metric,
            tags: self.tags,
            aggregation: self.aggregation,
            thresholds: thresholds?,
            window: self.window,
            pending: self.pending,
            consecutive_violations: self.consecutive_violations,
            keep_firing_for: self.keep_firing_for,
            repeat_interval: self.repeat_interval,
            labels: self.labels,
            message: self.message,
        })
    }

    /// The rule's name, its metric (a warning if unknown), tag and label names.
    fn check_names(&self, at: &FieldPath, check: &mut Checker) {
        if self.name.trim().is_empty() {
            check.error(at.key("name"), &self.name, "rule name must not be empty");
        }
        if !known_metric(&self.metric) {
            check.warn(
                at.key("metric"),
                &self.metric,
                unknown_metric_message(&self.metric),
            );
        }
        for key in self.tags.keys() {
            if !super::collector::is_identifier(key) {
                check.error(
                    at.key("tags").key(key),
                    key,
                    "tag name must be an identifier",
                );
            }
        }
        for key in self.labels.keys() {
            if !super::collector::is_identifier(key) {
                check.error(
                    at.key("labels").key(key),
                    key,
                    "label name must match [A-Za-z_][A-Za-z0-9_]* (Prometheus label syntax)",
                );
            }
        }
    }

    /// Which way the metric gets worse: `direction`, else `comparison`, else the metric's
    /// own (from the catalogue); `None` when unknown or both were given.
    fn worse_direction(&self, at: &FieldPath, check: &mut Checker) -> Option<Direction> {
        match (self.direction, self.comparison) {
            (Some(_), Some(_)) => {
                check.error(
                    at.key("comparison"),
                    "",
                    "give either `direction` or `comparison`, not both",
                );
                None
            }
            (Some(direction), None) => Some(direction),
            (None, Some(Comparison::Above)) => Some(Direction::HigherIsWorse),
            (None, Some(Comparison::Below)) => Some(Direction::LowerIsWorse),
            (None, None) => metric_direction(&self.metric),
        }
    }

    /// The message template's placeholders: the standard ones, the rule's tags and labels.
    fn check_message(&self, at: &FieldPath, check: &mut Checker) {
        if let Some(message) = &self.message {
            let mut allowed: Vec<&str> = TEMPLATE_PLACEHOLDERS.to_vec();
            allowed.extend(self.tags.keys().map(String::as_str));
            allowed.extend(self.labels.keys().map(String::as_str));
            if let Err(problem) = check_template(message, &allowed) {
                check.error(at.key("message"), message, problem);
            }
        }
    }
}

fn unknown_metric_message(metric: &str) -> String {
    format!(
        "unknown metric `{metric}`; it will only match if something publishes it (known: {})",
        metric::rule_names().collect::<Vec<_>>().join(", ")
    )
}

/// Thresholds in the given direction, or inferred from their order when none is known.
fn thresholds(
    check: &mut Checker,
    (warning_field, critical_field): (&FieldPath, &FieldPath),
    warning: f64,
    critical: f64,
    direction: Option<Direction>,
) -> Option<Thresholds> {
    let result = match direction {
        Some(direction) => Thresholds::new(warning, critical, direction),
        None => Thresholds::inferred(warning, critical),
    };
    match result {
        Ok(thresholds) => Some(thresholds),
        Err(ThresholdError::WarningBeyondCritical { direction, .. }) => {
            let (worse, rule) = match direction {
                Direction::HigherIsWorse => ("higher", "warning must be <= critical"),
                Direction::LowerIsWorse => ("lower", "warning must be >= critical"),
            };
            check.error(
                warning_field.clone(),
                warning,
                format!("warning {warning} is beyond critical {critical} for a metric where {worse} is worse ({rule})"),
            );
            None
        }
        Err(error) => {
            let (field, value) = match error {
                ThresholdError::NotFinite {
                    name: "critical", ..
                } => (critical_field, critical),
                _ => (warning_field, warning),
            };
            check.error(field.clone(), value, error.to_string());
            None
        }
    }
}

fn positive(check: &mut Checker, field: FieldPath, value: Duration) {
    if value.is_zero() {
        check.error(field, format_duration(value), "must be greater than zero");
    }
}

fn at_least_one(check: &mut Checker, field: FieldPath, count: u32) {
    if count == 0 {
        check.error(field, count, "must be at least 1");
    }
}

fn validate_channel(check: &mut Checker, at: &FieldPath, channel: &Channel) {
    match channel {
        Channel::Console => {}
        Channel::File { path } => {
            if path.as_os_str().is_empty() {
                check.error(at.key("path"), "", "file channel needs a path");
            }
        }
        Channel::Email {
            recipients,
            smtp_server,
            from,
            ..
        } => {
            if recipients.is_empty() {
                check.error(
                    at.key("recipients"),
                    "[]",
                    "email channel needs at least one recipient",
                );
            }
            for (i, address) in recipients.iter().enumerate() {
                if !is_address(address) {
                    check.error(
                        at.key("recipients").index(i),
                        address,
                        "not an email address",
                    );
                }
            }
            if !is_address(from) {
                check.error(at.key("from"), from, "not an email address");
            }
            let port_ok = smtp_server
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !port_ok {
                check.error(
                    at.key("smtp_server"),
                    smtp_server,
                    "smtp_server must be `host:port`",
                );
            }
        }
        Channel::Webhook { url } | Channel::Alertmanager { url } => {
            let ok = ["http://", "https://"].iter().any(|scheme| {
                url.strip_prefix(scheme)
                    .is_some_and(|rest| !rest.is_empty() && !rest.contains(' '))
            });
            if !ok {
                check.error(
                    at.key("url"),
                    url,
                    "url must start with http:// or https://",
                );
            }
            // Credentials come from the environment only: a config file is shared, checked
            // in and printed by check-config, and the URL names the channel in logs.
            let authority = url.split("://").nth(1).unwrap_or("").split('/').next();
            if let Some((_, host)) = authority.and_then(|a| a.rsplit_once('@')) {
                let scheme = url.split("://").next().unwrap_or("");
                check.secret_error(
                    at.key("url"),
                    format!("{scheme}://***@{host}/..."),
                    "url must not carry credentials (user:password@host)",
                );
            }
        }
    }
}

fn is_address(text: &str) -> bool {
    text.split_once('@').is_some_and(|(user, host)| {
        !user.is_empty() && !host.is_empty() && !text.contains(char::is_whitespace)
    })
}

/// Checks `{placeholder}` names against `allowed`; `{{` and `}}` are literal braces.
fn check_template(template: &str, allowed: &[&str]) -> Result<(), String> {
    let mut chars = template.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '{' if chars.peek().map(|(_, c)| *c) == Some('{') => {
                chars.next();
            }
            '}' if chars.peek().map(|(_, c)| *c) == Some('}') => {
                chars.next();
            }
            '{' => {
                let rest = &template[i + 1..];
                let Some(end) = rest.find('}') else {
                    return Err(
                        "unclosed `{` in message template (write `{{` for a literal brace)"
                            .to_owned(),
                    );
                };
                let name = &rest[..end];
                if !allowed.contains(&name) {
                    return Err(format!(
                        "unknown placeholder `{{{name}}}` in message template; known: {}",
                        allowed.join(", ")
                    ));
                }
                for _ in 0..=end {
                    chars.next();
                }
            }
            '}' => {
                return Err(
                    "unmatched `}` in message template (write `}}` for a literal brace)".to_owned(),
                )
            }
            _ => {}
        }
    }
    Ok(())
}

impl AlertRules {
    /// A readable account of every rule as understood, for `vla-perf check-config`.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "rules ({}):", self.rules.len());
        for rule in &self.rules {
            let tags: Vec<String> = rule.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let selector = if tags.is_empty() {
                String::new()
            } else {
                format!("{{{}}}", tags.join(","))
            };
            let direction = rule.thresholds.direction();
            let worse = direction.as_str().replace('_', " ");
            let op = direction.crossing();
            let _ = writeln!(
                out,
                "  {}: {}({}{}) over {}",
                rule.name,
                rule.aggregation.as_str(),
                rule.metric,
                selector,
                format_duration(rule.window)
            );
            let _ = writeln!(
                out,
                "     {worse}: warning {op} {}, critical {op} {}",
                rule.thresholds.warning(),
                rule.thresholds.critical()
            );
            let mut firing = format!(
                "fires after {} consecutive violation(s)",
                rule.consecutive_violations
            );
            if !rule.pending.is_zero() {
                let _ = write!(firing, ", pending for {}", format_duration(rule.pending));
            }
            if !rule.keep_firing_for.is_zero() {
                let _ = write!(
                    firing,
                    ", keeps firing for {}",
                    format_duration(rule.keep_firing_for)
                );
            }
            let repeat = rule
                .repeat_interval
                .unwrap_or(self.notifications.alert_cooldown);
            let _ = write!(firing, ", repeats every {}", format_duration(repeat));
            let _ = writeln!(out, "     {firing}");
            if !rule.labels.is_empty() {
                let labels: Vec<String> = rule
                    .labels
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                let _ = writeln!(out, "     labels: {}", labels.join(", "));
            }
            if let Some(message) = &rule.message {
                let _ = writeln!(out, "     message: {message}");
            }
        }
        let channels: Vec<String> = self
            .notifications
            .channels
            .iter()
            .map(Channel::describe)
            .collect();
        let _ = writeln!(
            out,
            "channels: {}   cooldown: {}",
            if channels.is_empty() {
                "none".to_owned()
            } else {
                channels.join("; ")
            },
            format_duration(self.notifications.alert_cooldown)
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_alerts;

    #[test]
    fn compact_success_rate_with_critical_below_warning_is_lower_is_worse() {
        let loaded = parse_alerts(
            "a.yaml",
            "performance_alerts:\n  success_rate: {warning_threshold: 0.9, critical_threshold: 0.8, evaluation_window: 300, consecutive_violations: 3}\n",
        )
        .unwrap();
        let rule = &loaded.config.rules[0];
        assert_eq!(rule.thresholds.direction(), Direction::LowerIsWorse);
        assert_eq!(rule.window, Duration::from_secs(300));
        assert_eq!(rule.consecutive_violations, 3);
        assert!(loaded.warnings.is_empty());
    }

    #[test]
    fn a_metric_without_natural_direction_infers_it_from_threshold_order() {
        let loaded = parse_alerts(
            "a.yaml",
            "rules:\n  - {name: r, metric: command_rate, warning: 0.5, critical: 0.1}\n",
        )
        .unwrap();
        assert_eq!(
            loaded.config.rules[0].thresholds.direction(),
            Direction::LowerIsWorse
        );
    }

    #[test]
    fn unknown_metrics_are_warnings_with_a_position() {
        let loaded = parse_alerts(
            "a.yaml",
            "rules:\n  - name: r\n    metric: my_custom_metric\n    warning: 1\n    critical: 2\n",
        )
        .unwrap();
        assert_eq!(loaded.warnings.len(), 1);
        let warning = &loaded.warnings[0];
        assert_eq!(
            (warning.line, warning.field.as_str()),
            (3, "rules[0].metric")
        );
        assert!(warning.message.contains("unknown metric"));
    }

    #[test]
    fn comparison_below_means_lower_is_worse() {
        let loaded = parse_alerts(
            "a.yaml",
            "rules:\n  - {name: r, metric: throughput, comparison: below, warning: 2, critical: 1}\n",
        )
        .unwrap();
        assert_eq!(
            loaded.config.rules[0].thresholds.direction(),
            Direction::LowerIsWorse
        );
    }

    #[test]
    fn templates_accept_known_tag_and_label_placeholders_and_escaped_braces() {
        let allowed = ["value", "stage"];
        assert!(check_template("{stage} is {value} {{literal}}", &allowed).is_ok());
        assert!(check_template("{nope}", &allowed)
            .unwrap_err()
            .contains("unknown placeholder"));
        assert!(check_template("{value", &allowed)
            .unwrap_err()
            .contains("unclosed"));
        assert!(check_template("value}", &allowed)
            .unwrap_err()
            .contains("unmatched"));
    }

    #[test]
    fn rule_names_must_be_unique_across_both_forms() {
        let error = parse_alerts(
            "a.yaml",
            "performance_alerts:\n  cpu_usage: {warning_threshold: 80, critical_threshold: 95}\nrules:\n  - {name: cpu_usage, metric: cpu_usage, warning: 1, critical: 2}\n",
        )
        .unwrap_err();
        assert_eq!(error.field(), Some("rules[0].name"));
    }

    #[test]
    fn percentile_aggregations_know_their_quantile() {
        assert_eq!(Aggregation::P95.quantile(), Some(0.95));
        assert_eq!(Aggregation::Mean.quantile(), None);
    }

    #[test]
    fn known_metrics_and_their_directions_come_from_the_catalogue() {
        assert!(known_metric("response_time") && known_metric("topic_jitter"));
        assert!(!known_metric("gpu_power"), "Prometheus only");
        assert_eq!(
            metric_direction("throughput"),
            Some(Direction::LowerIsWorse)
        );
        assert_eq!(metric_direction("command_rate"), None);
    }
}
