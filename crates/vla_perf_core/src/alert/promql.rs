//! Alert rules as Prometheus rules: the same rules, evaluated by a fleet Prometheus over
//! the series every robot's collector exports (`GET /metrics`), and the recording rules a
//! fleet dashboard reads.
//!
//! Each rule becomes one alerting rule per severity. The value compared is built only on
//! families the catalogue says the endpoint exports ([`crate::metric::Prom`]): histogram
//! quantiles with `histogram_quantile` over `_bucket` rates, means as `_sum` / `_count`
//! rates, gauges with the `*_over_time` function of the aggregation, counter rates, and the
//! outcome shares as ratios of the outcome counter. Where the result can differ from what
//! the alert node computes, the rule carries a note saying how ([`AlertingRule::notes`]);
//! where it cannot be expressed at all, the rule is refused with the reason
//! ([`Refused`]), never changed silently.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::alert::{Aggregation, AlertRule};
use crate::metric::{self, Metric, PromKind};

/// One Prometheus alerting rule (one severity of one vla_perf rule).
#[derive(Debug, Clone, PartialEq)]
pub struct AlertingRule {
    /// The alert name: the vla_perf rule's name.
    pub alert: String,
    /// The PromQL condition.
    pub expr: String,
    /// How long the condition must hold (`for`).
    pub pending: Duration,
    /// How long the alert keeps firing after the condition cleared (`keep_firing_for`).
    pub keep_firing_for: Duration,
    /// The rule's labels and `severity`.
    pub labels: BTreeMap<String, String>,
    /// `summary` (the message template in Prometheus' template language) and
    /// `description` (what is compared).
    pub annotations: BTreeMap<String, String>,
    /// How it differs from the alert node's evaluation; empty when it does not.
    pub notes: Vec<String>,
}

/// A rule that cannot be expressed over the exported series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The vla_perf rule's name.
    pub rule: String,
    /// Why.
    pub reason: String,
}

/// One Prometheus recording rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingRule {
    /// The recorded series' name (`level:metric:operations`).
    pub record: String,
    /// Its PromQL expression.
    pub expr: String,
}

/// Prometheus' duration syntax: `90s` -> `1m30s`, `250ms`, `2h`; zero is `0s`.
pub fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    let mut rest = ms;
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ] {
        if rest >= size {
            out.push_str(&format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    if rest > 0 {
        out.push_str(&format!("{rest}ms"));
    }
    out
}

/// A PromQL string literal of `value`.
fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A number as PromQL writes it (`0.95`, `5`, `1e-06`).
fn number(v: f64) -> String {
    format!("{v}")
}

/// The value a rule compares, as PromQL, with notes on how it differs.
struct Value {
    expr: String,
    notes: Vec<String>,
}

/// `{k="v",...}` of the rule's tags, each of which must be a label of the family.
fn selector(rule: &AlertRule, labels: &[&str], family: &str) -> Result<String, String> {
    let mut matchers = Vec::new();
    for (key, value) in &rule.tags {
        if key != "robot" && !labels.contains(&key.as_str()) {
            return Err(format!(
                "tag `{key}` is not a label of {family} (its labels: robot{})",
                labels.iter().map(|l| format!(", {l}")).collect::<String>()
            ));
        }
        matchers.push(format!("{key}={}", quoted(value)));
    }
    Ok(match matchers.is_empty() {
        true => String::new(),
        false => format!("{{{}}}", matchers.join(",")),
    })
}

/// `by (robot, <labels>)`.
fn by(labels: &[&str], extra: &[&str]) -> String {
    let all: Vec<&str> = extra
        .iter()
        .copied()
        .chain(std::iter::once("robot"))
        .chain(labels.iter().copied())
        .collect();
    format!("by ({})", all.join(", "))
}

/// The `*_over_time` function of an aggregation over a gauge's samples.
fn over_time(aggregation: Aggregation, series: &str, window: &str) -> Result<String, String> {
    Ok(match aggregation {
        Aggregation::Mean => format!("avg_over_time({series}[{window}])"),
        Aggregation::Max => format!("max_over_time({series}[{window}])"),
        Aggregation::Min => format!("min_over_time({series}[{window}])"),
        Aggregation::Last => format!("last_over_time({series}[{window}])"),
        Aggregation::Rate => {
            return Err("`rate` (samples per second) of a gauge has no meaning in PromQL".into())
        }
        q => format!(
            "quantile_over_time({}, {series}[{window}])",
            number(q.quantile().unwrap_or(0.5))
        ),
    })
}

/// The share of finished commands with `outcome` over the window.
fn outcome_share(outcome: &str, window: &str) -> Value {
    let family = Metric::Commands.prometheus_family();
    Value {
        expr: format!(
            "sum by (robot) (increase({family}{{outcome={}}}[{window}])) / sum by (robot) \
             (increase({family}[{window}]))",
            quoted(outcome)
        ),
        notes: vec![format!(
            "the share of the commands finished within the last {window}, from the outcome \
             counter; the alert node reads the collector's figure over its shortest window"
        )],
    }
}

/// The value of `rule` over the exported series.
fn value(rule: &AlertRule) -> Result<Value, String> {
    let named = metric::lookup(&rule.metric)
        .ok_or_else(|| format!("`{}` is not a metric vla_perf publishes", rule.metric))?;
    let window = duration(rule.window);
    let aggregation = rule.aggregation;
    let mut value = match (named.metric, named.metric.spec().prometheus) {
        (m @ (Metric::TaskSuccessRate | Metric::ErrorRate | Metric::TimeoutRate), _) => {
            if !rule.tags.keys().all(|k| k == "robot") {
                return Err(format!("`{}` carries no tags in Prometheus", rule.metric));
            }
            let outcome = match m {
                Metric::TaskSuccessRate => "succeeded",
                Metric::ErrorRate => "failed",
                _ => "timed_out",
            };
            outcome_share(outcome, &window)
        }
        (Metric::MemoryUsage, _) => {
            selector(rule, &[], "memory usage")?;
            let ratio = format!(
                "(100 * {} / {})",
                Metric::MemoryUsed.prometheus_family(),
                Metric::MemoryTotal.prometheus_family()
            );
            Value {
                expr: over_time(aggregation, &ratio, &format!("{window}:"))?,
                notes: Vec::new(),
            }
        }
        (Metric::GpuMemoryUsage, _) => {
            let (used, total) = (
                Metric::GpuMemoryUsed.prometheus_family(),
                Metric::GpuMemoryTotal.prometheus_family(),
            );
            let sel = selector(rule, &["gpu"], used)?;
            Value {
                expr: over_time(
                    aggregation,
                    &format!("({used}{sel} / {total}{sel})"),
                    &format!("{window}:"),
                )?,
                notes: Vec::new(),
            }
        }
        (Metric::CommandRate, _) => {
            selector(rule, &[], "the command rate")?;
            let family = Metric::Commands.prometheus_family();
            Value {
                expr: format!("sum by (robot) (rate({family}[{window}]))"),
                notes: vec![
                    "commands finished per second (the outcome counter's rate); the \
                     collector's command_rate counts commands started"
                        .into(),
                ],
            }
        }
        (Metric::TopicBandwidth, _) => {
            let family = Metric::TopicBytes.prometheus_family();
            let sel = selector(rule, &["topic"], family)?;
            Value {
                expr: format!(
                    "sum {} (rate({family}{sel}[{window}]))",
                    by(&["topic"], &[])
                ),
                notes: Vec::new(),
            }
        }
        (_, None) => {
            return Err(format!(
                "`{}` is not exported on the collector's Prometheus endpoint",
                rule.metric
            ))
        }
        (_, Some(p)) => {
            let sel = selector(rule, p.labels, p.family)?;
            let family = p.family;
            match (p.kind, aggregation) {
                (PromKind::Histogram, Aggregation::Mean) => Value {
                    expr: format!(
                        "sum {by} (rate({family}_sum{sel}[{window}])) / sum {by} \
                         (rate({family}_count{sel}[{window}]))",
                        by = by(p.labels, &[])
                    ),
                    notes: Vec::new(),
                },
                (PromKind::Histogram, Aggregation::Rate) => Value {
                    expr: format!(
                        "sum {} (rate({family}_count{sel}[{window}]))",
                        by(p.labels, &[])
                    ),
                    notes: Vec::new(),
                },
                (PromKind::Histogram, q) if q.quantile().is_some() => Value {
                    expr: format!(
                        "histogram_quantile({}, sum {} (rate({family}_bucket{sel}[{window}])))",
                        number(q.quantile().unwrap_or(0.5)),
                        by(p.labels, &["le"])
                    ),
                    notes: vec![format!(
                        "{} interpolated within the histogram's buckets; the alert node \
                         reads the collector's HDR summaries",
                        q.as_str()
                    )],
                },
                (PromKind::Histogram, other) => {
                    return Err(format!(
                        "`{}` of {family}: a histogram keeps no single samples",
                        other.as_str()
                    ))
                }
                (PromKind::Gauge, _) => Value {
                    expr: over_time(aggregation, &format!("{family}{sel}"), &window)?,
                    notes: Vec::new(),
                },
                (PromKind::Counter, Aggregation::Rate) => Value {
                    expr: format!("sum {} (rate({family}{sel}[{window}]))", by(p.labels, &[])),
                    notes: Vec::new(),
                },
                (PromKind::Counter, Aggregation::Last) => Value {
                    expr: format!("sum {} ({family}{sel})", by(p.labels, &[])),
                    notes: Vec::new(),
                },
                (PromKind::Counter, other) => {
                    return Err(format!(
                        "`{}` of the counter {family}: only `rate` and `last` apply",
                        other.as_str()
                    ))
                }
            }
        }
    };
    if let Some(alias) = named.alias.filter(|a| a.scale != 1.0) {
        value.expr = format!("{} * ({})", number(alias.scale), value.expr);
    }
    Ok(value)
}

/// `{stage=plan}` of the rule's tags; empty without tags.
fn braced_tags(rule: &AlertRule) -> String {
    if rule.tags.is_empty() {
        return String::new();
    }
    let tags: Vec<String> = rule.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{{{}}}", tags.join(","))
}

/// The message template in Prometheus' template language: `{value}` is `$value`,
/// `{robot_id}` and the rule's tags are labels of the alert, the rest is fixed text.
fn summary(rule: &AlertRule, severity: &str, threshold: f64) -> String {
    let direction = rule.thresholds.direction().as_str();
    let Some(template) = &rule.message else {
        let op = rule.thresholds.direction().crossing();
        return format!(
            "{} firing ({severity}) on {{{{ $labels.robot }}}}: {}({}{}) = {{{{ $value }}}} \
             {op} {threshold}",
            rule.name,
            rule.aggregation.as_str(),
            rule.metric,
            braced_tags(rule)
        );
    };
    let lookup = |name: &str| -> String {
        match name {
            "name" => rule.name.clone(),
            "metric" => rule.metric.clone(),
            "value" => "{{ $value }}".into(),
            "warning" => number(rule.thresholds.warning()),
            "critical" => number(rule.thresholds.critical()),
            "threshold" => number(threshold),
            "severity" => severity.into(),
            "status" => "firing".into(),
            "window" => duration(rule.window),
            "aggregation" => rule.aggregation.as_str().into(),
            "direction" => direction.into(),
            "robot_id" => "{{ $labels.robot }}".into(),
            other => match rule.labels.get(other) {
                Some(label) => label.clone(),
                None => format!("{{{{ $labels.{other} }}}}"),
            },
        }
    };
    crate::alert::expand(template, lookup)
}

/// The Prometheus alerting rules of `rules` (one per severity), and the rules refused.
/// `evaluation_period` is the alert node's, which turns `consecutive_violations` into time.
pub fn alerting_rules(
    rules: &[AlertRule],
    evaluation_period: Duration,
) -> (Vec<AlertingRule>, Vec<Refused>) {
    let mut out = Vec::new();
    let mut refused = Vec::new();
    for rule in rules {
        let value = match value(rule) {
            Ok(v) => v,
            Err(reason) => {
                refused.push(Refused {
                    rule: rule.name.clone(),
                    reason,
                });
                continue;
            }
        };
        let mut notes = value.notes;
        let consecutive = evaluation_period * rule.consecutive_violations.saturating_sub(1);
        let pending = rule.pending.max(consecutive);
        if rule.consecutive_violations > 1 {
            notes.push(format!(
                "consecutive_violations: {} at the alert node's {} evaluation period is \
                 for: {} here",
                rule.consecutive_violations,
                duration(evaluation_period),
                duration(pending)
            ));
        }
        if let Some(repeat) = rule.repeat_interval {
            notes.push(format!(
                "repeat_interval: {} is Alertmanager's to apply (its route's repeat_interval)",
                duration(repeat)
            ));
        }
        let op = rule.thresholds.direction().crossing();
        for (severity, threshold) in [
            ("warning", rule.thresholds.warning()),
            ("critical", rule.thresholds.critical()),
        ] {
            let mut labels = rule.labels.clone();
            labels.insert("severity".into(), severity.into());
            let annotations = BTreeMap::from([
                ("summary".to_owned(), summary(rule, severity, threshold)),
                (
                    "description".to_owned(),
                    format!(
                        "{}({}{}) over {} {op} {} ({severity})",
                        rule.aggregation.as_str(),
                        rule.metric,
                        braced_tags(rule),
                        duration(rule.window),
                        number(threshold)
                    ),
                ),
            ]);
            out.push(AlertingRule {
                alert: rule.name.clone(),
                expr: format!("{} {op} {}", value.expr, number(threshold)),
                pending,
                keep_firing_for: rule.keep_firing_for,
                labels,
                annotations,
                notes: notes.clone(),
            });
        }
    }
    (out, refused)
}

/// Recording rules for a fleet over `window`: per robot and fleet-wide end-to-end and
/// per-stage p50/p95/p99, SLO compliance, command rate and outcome shares, named
/// `level:metric:operations`.
pub fn recording_rules(window: Duration) -> Vec<RecordingRule> {
    let w = duration(window);
    let e2e = Metric::EndToEndLatency.prometheus_family();
    let stage = Metric::StageLatency.prometheus_family();
    let slo = Metric::SloCompliance.prometheus_family();
    let commands = Metric::Commands.prometheus_family();
    let count = commands.trim_end_matches("_total");
    let mut out = Vec::new();
    let mut rule = |record: String, expr: String| out.push(RecordingRule { record, expr });
    for (q, name) in [(0.5, "p50"), (0.95, "p95"), (0.99, "p99")] {
        for (level, by) in [("robot", "le, robot"), ("fleet", "le")] {
            rule(
                format!("{level}:{e2e}:{name}_rate{w}"),
                format!("histogram_quantile({q}, sum by ({by}) (rate({e2e}_bucket[{w}])))"),
            );
        }
        for (level, by) in [("robot_stage", "le, robot, stage"), ("stage", "le, stage")] {
            rule(
                format!("{level}:{stage}:{name}_rate{w}"),
                format!("histogram_quantile({q}, sum by ({by}) (rate({stage}_bucket[{w}])))"),
            );
        }
    }
    rule(
        format!("robot:{slo}:avg_over_time{w}"),
        format!("avg by (robot) (avg_over_time({slo}[{w}]))"),
    );
    rule(
        format!("fleet:{slo}:avg_over_time{w}"),
        format!("avg(avg by (robot) (avg_over_time({slo}[{w}])))"),
    );
    rule(
        format!("fleet:{slo}:min_over_time{w}"),
        format!("min(avg by (robot) (avg_over_time({slo}[{w}])))"),
    );
    rule(
        format!("robot:{count}:rate{w}"),
        format!("sum by (robot) (rate({commands}[{w}]))"),
    );
    rule(
        format!("fleet:{count}:rate{w}"),
        format!("sum(rate({commands}[{w}]))"),
    );
    rule(
        format!("robot_outcome:{count}:ratio_rate{w}"),
        format!(
            "sum by (robot, outcome) (rate({commands}[{w}])) / ignoring (outcome) group_left \
             sum by (robot) (rate({commands}[{w}]))"
        ),
    );
    rule(
        format!("outcome:{count}:ratio_rate{w}"),
        format!(
            "sum by (outcome) (rate({commands}[{w}])) / ignoring (outcome) group_left \
             sum(rate({commands}[{w}]))"
        ),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trend::Thresholds;

    fn rule(metric: &str, aggregation: Aggregation, warning: f64, critical: f64) -> AlertRule {
        AlertRule {
            name: format!("{metric}_rule"),
            metric: metric.into(),
            tags: BTreeMap::new(),
            aggregation,
            thresholds: Thresholds::inferred(warning, critical).unwrap(),
            window: Duration::from_secs(60),
            pending: Duration::ZERO,
            consecutive_violations: 1,
            keep_firing_for: Duration::ZERO,
            repeat_interval: None,
            labels: BTreeMap::new(),
            message: None,
        }
    }

    fn one(r: AlertRule) -> Vec<AlertingRule> {
        let (rules, refused) = alerting_rules(&[r], Duration::from_secs(1));
        assert!(refused.is_empty(), "{refused:?}");
        rules
    }

    #[test]
    fn durations_use_prometheus_units() {
        assert_eq!(duration(Duration::ZERO), "0s");
        assert_eq!(duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(duration(Duration::from_secs(7200)), "2h");
        assert_eq!(duration(Duration::from_millis(1500)), "1s500ms");
        assert_eq!(duration(Duration::from_secs(86_400 + 60)), "1d1m");
    }

    #[test]
    fn a_stage_quantile_is_a_histogram_quantile_per_robot_and_stage_in_both_severities() {
        let mut r = rule("stage_latency", Aggregation::P95, 2.0, 4.0);
        r.tags.insert("stage".into(), "plan".into());
        r.pending = Duration::from_secs(30);
        let rules = one(r);
        assert_eq!(rules.len(), 2);
        let inner = "histogram_quantile(0.95, sum by (le, robot, stage) \
                     (rate(vla_perf_stage_latency_seconds_bucket{stage=\"plan\"}[1m])))";
        assert_eq!(rules[0].expr, format!("{inner} >= 2"));
        assert_eq!(rules[1].expr, format!("{inner} >= 4"));
        assert_eq!(rules[0].labels["severity"], "warning");
        assert_eq!(rules[1].labels["severity"], "critical");
        assert_eq!(rules[0].pending, Duration::from_secs(30));
        assert!(
            rules[0].notes[0].contains("buckets"),
            "{:?}",
            rules[0].notes
        );
    }

    #[test]
    fn lower_is_worse_compares_downwards_and_aliases_scale() {
        let rules = one(rule("slo_compliance", Aggregation::Last, 0.95, 0.9));
        assert_eq!(
            rules[0].expr,
            "last_over_time(vla_perf_slo_compliance_ratio[1m]) <= 0.95"
        );
        let rules = one(rule("throughput", Aggregation::Mean, 30.0, 10.0));
        assert_eq!(
            rules[1].expr,
            "60 * (sum by (robot) (rate(vla_perf_commands_total[1m]))) <= 10"
        );
        let rules = one(rule("success_rate", Aggregation::Last, 0.9, 0.8));
        assert!(
            rules[0].expr.contains("outcome=\"succeeded\""),
            "{}",
            rules[0].expr
        );
        assert!(rules[0].expr.ends_with("<= 0.9"), "{}", rules[0].expr);
    }

    #[test]
    fn consecutive_violations_become_for_with_a_note_and_repeat_goes_to_alertmanager() {
        let mut r = rule("cpu_usage", Aggregation::Max, 80.0, 95.0);
        r.consecutive_violations = 3;
        r.pending = Duration::from_secs(1);
        r.repeat_interval = Some(Duration::from_secs(1800));
        r.keep_firing_for = Duration::from_secs(60);
        let (rules, _) = alerting_rules(&[r], Duration::from_secs(5));
        assert_eq!(rules[0].pending, Duration::from_secs(10));
        assert_eq!(rules[0].keep_firing_for, Duration::from_secs(60));
        assert_eq!(
            rules[0].expr,
            "max_over_time(vla_perf_cpu_usage_percent[1m]) >= 80"
        );
        assert!(rules[0].notes.iter().any(|n| n.contains("for: 10s")));
        assert!(rules[0].notes.iter().any(|n| n.contains("Alertmanager")));
    }

    #[test]
    fn what_the_endpoint_cannot_express_is_refused_with_the_reason() {
        let cases = [
            (
                rule("benchmark_degradation", Aggregation::Max, 0.5, 5.0),
                "not exported",
            ),
            (
                rule("stage_latency", Aggregation::Max, 1.0, 2.0),
                "no single samples",
            ),
            (rule("cpu_usage", Aggregation::Rate, 1.0, 2.0), "gauge"),
            (
                rule("confidence", Aggregation::Min, 0.8, 0.6),
                "not exported",
            ),
        ];
        for (r, why) in cases {
            let name = r.name.clone();
            let (rules, refused) = alerting_rules(&[r], Duration::from_secs(1));
            assert!(rules.is_empty());
            assert_eq!(refused[0].rule, name);
            assert!(
                refused[0].reason.contains(why),
                "{name}: {}",
                refused[0].reason
            );
        }
        let mut r = rule("slo_compliance", Aggregation::Last, 0.95, 0.9);
        r.tags.insert("met".into(), "true".into());
        let (_, refused) = alerting_rules(&[r], Duration::from_secs(1));
        assert!(refused[0].reason.contains("tag `met`"), "{:?}", refused);
    }

    #[test]
    fn message_templates_become_prometheus_templates() {
        let mut r = rule("task_success_rate", Aggregation::Last, 0.9, 0.8);
        r.message = Some("rate {value} on {robot_id} below {threshold} {{x}} ({severity})".into());
        let rules = one(r);
        assert_eq!(
            rules[1].annotations["summary"],
            "rate {{ $value }} on {{ $labels.robot }} below 0.8 {x} (critical)"
        );
    }

    #[test]
    fn recording_rules_follow_the_level_metric_operations_convention() {
        let rules = recording_rules(Duration::from_secs(300));
        let names: Vec<&str> = rules.iter().map(|r| r.record.as_str()).collect();
        for name in [
            "robot:vla_perf_end_to_end_latency_seconds:p95_rate5m",
            "fleet:vla_perf_end_to_end_latency_seconds:p95_rate5m",
            "robot_stage:vla_perf_stage_latency_seconds:p99_rate5m",
            "stage:vla_perf_stage_latency_seconds:p50_rate5m",
            "fleet:vla_perf_slo_compliance_ratio:avg_over_time5m",
            "robot:vla_perf_commands:rate5m",
            "outcome:vla_perf_commands:ratio_rate5m",
        ] {
            assert!(names.contains(&name), "{name} in {names:?}");
        }
        for r in &rules {
            assert_eq!(r.record.split(':').count(), 3, "{}", r.record);
        }
    }
}
