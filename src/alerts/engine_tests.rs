use std::time::Duration;

use proptest::prelude::*;

// The alert engine (`core::alert`) driven by rules as users write them (YAML through
// `config::parse_alerts`), which is why these tests live outside the pure core.

use crate::config::{parse_alerts, AlertRules};
use crate::core::alert::*;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn rules(yaml: &str) -> AlertRules {
    parse_alerts("rules.yaml", yaml).unwrap().config
}

fn engine_for(rules: &AlertRules) -> Engine {
    Engine::new(&rules.rules, rules.notifications.alert_cooldown)
}

fn observe(engine: &mut Engine, metric: &str, tags: &[(&str, &str)], at: u64, value: f64) {
    engine.observe(&Observation {
        metric: metric.to_owned(),
        tags: tags
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        at: secs(at),
        stats: Stats::scalar(value),
    });
}

const COMPACT: &str = "
performance_alerts:
  response_time: {warning_threshold: 5.0, critical_threshold: 10.0, evaluation_window: 60, consecutive_violations: 3}
  success_rate: {warning_threshold: 0.90, critical_threshold: 0.80, evaluation_window: 300, consecutive_violations: 2}
  cpu_usage: {warning_threshold: 80.0, critical_threshold: 95.0, evaluation_window: 30, consecutive_violations: 3}
  memory_usage: {warning_threshold: 85.0, critical_threshold: 95.0, evaluation_window: 60, consecutive_violations: 2}
  throughput: {warning_threshold: 2.0, critical_threshold: 1.0, evaluation_window: 300, consecutive_violations: 1}
notifications:
  channels: [{type: console}]
  alert_cooldown: 300
";

#[test]
fn the_compact_form_with_healthy_values_raises_nothing() {
    let mut engine = engine_for(&rules(COMPACT));
    let mut all = Evaluation::default();
    for t in 0..20 {
        observe(&mut engine, "response_time", &[], t, 1.0);
        observe(&mut engine, "success_rate", &[], t, 0.95);
        observe(&mut engine, "cpu_usage", &[], t, 40.0);
        observe(&mut engine, "memory_usage", &[], t, 50.0);
        observe(&mut engine, "throughput", &[], t, 6.0);
        let e = engine.evaluate(secs(t));
        all.transitions.extend(e.transitions);
        all.notifications.extend(e.notifications);
    }
    assert_eq!(all, Evaluation::default());
}

#[test]
fn the_compact_form_fires_on_low_success_rate_and_high_cpu_with_their_counts() {
    let mut engine = engine_for(&rules(COMPACT));
    let mut fired = Vec::new();
    for t in 0..5 {
        observe(&mut engine, "success_rate", &[], t, 0.70);
        observe(&mut engine, "cpu_usage", &[], t, 85.0);
        for n in engine.evaluate(secs(t)).notifications {
            fired.push((t, n.rule, n.severity));
        }
    }
    assert!(fired.contains(&(1, "success_rate".into(), Severity::Critical)));
    assert!(fired.contains(&(2, "cpu_usage".into(), Severity::Warning)));
    assert_eq!(fired.len(), 2);
}

#[test]
fn each_series_matching_a_rule_is_its_own_alert_with_a_stable_id() {
    let r = rules(
        "rules:\n  - {name: slow, metric: stage_latency, aggregation: last, warning: 1, critical: 2, window: 10s}\n",
    );
    let mut engine = engine_for(&r);
    observe(&mut engine, "stage_latency", &[("stage", "plan")], 0, 1.5);
    observe(&mut engine, "stage_latency", &[("stage", "vision")], 0, 3.0);
    observe(&mut engine, "end_to_end_latency", &[], 0, 30.0);
    let e = engine.evaluate(secs(0));
    assert_eq!(e.notifications.len(), 2);
    let ids: Vec<&str> = e
        .notifications
        .iter()
        .map(|n| n.alert_id.as_str())
        .collect();
    assert_ne!(ids[0], ids[1]);
    let labels: Labels = [("alertname", "slow"), ("stage", "plan")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    assert_eq!(
        alert_id("slow", &labels),
        ids[0],
        "ids depend only on rule and labels"
    );
    // FNV-1a computed independently (Python) for this rule and label set.
    assert_eq!(alert_id("slow", &labels), "db93d46fb927e344");
}

#[test]
fn tag_selectors_restrict_a_rule_to_matching_series() {
    let r = rules(
        "rules:\n  - {name: plan, metric: stage_latency, tags: {stage: plan}, aggregation: last, warning: 1, critical: 2, window: 10s}\n",
    );
    let mut engine = engine_for(&r);
    observe(&mut engine, "stage_latency", &[("stage", "vision")], 0, 3.0);
    assert!(engine.evaluate(secs(0)).notifications.is_empty());
    observe(
        &mut engine,
        "stage_latency",
        &[("stage", "plan"), ("robot_id", "r1")],
        1,
        3.0,
    );
    let e = engine.evaluate(secs(1));
    assert_eq!(e.notifications.len(), 1);
    assert_eq!(
        e.notifications[0]
            .labels
            .get("robot_id")
            .map(String::as_str),
        Some("r1")
    );
}

#[test]
fn templates_render_values_tags_and_labels() {
    let r = rules(
        "rules:\n  - name: plan\n    metric: stage_latency\n    tags: {stage: plan}\n    labels: {team: planning}\n    aggregation: last\n    warning: 1\n    critical: 2\n    message: \"{stage} at {value} ({severity}, > {threshold}) for {team} {{x}}\"\n",
    );
    let mut engine = engine_for(&r);
    observe(&mut engine, "stage_latency", &[("stage", "plan")], 0, 1.5);
    let n = &engine.evaluate(secs(0)).notifications[0];
    assert_eq!(n.message, "plan at 1.5000 (warning, > 1) for planning {x}");
}

#[test]
fn a_quiet_series_keeps_its_state_for_a_window_then_resolves() {
    let r = rules(
        "rules:\n  - {name: cpu, metric: cpu_usage, aggregation: last, warning: 80, critical: 95, window: 10s}\n",
    );
    let mut engine = engine_for(&r);
    observe(&mut engine, "cpu_usage", &[], 0, 90.0);
    assert_eq!(engine.evaluate(secs(0)).notifications.len(), 1);
    assert!(engine.evaluate(secs(9)).transitions.is_empty());
    let e = engine.evaluate(secs(11));
    assert_eq!(e.transitions[0].to, State::Resolved);
    assert_eq!(e.notifications[0].kind, NotifyKind::Resolved);
    assert_eq!(e.notifications[0].starts_at, secs(0));
    assert_eq!(e.notifications[0].ends_at, Some(secs(11)));
}

#[test]
fn a_restored_firing_alert_is_not_notified_again_before_its_repeat_interval() {
    let r = rules(
        "rules:\n  - {name: cpu, metric: cpu_usage, aggregation: last, warning: 80, critical: 95, window: 10s, repeat_interval: 60s}\n",
    );
    let mut first = engine_for(&r);
    observe(&mut first, "cpu_usage", &[], 0, 90.0);
    let fired = first.evaluate(secs(0)).notifications.remove(0);
    let key = AlertKey {
        alert_id: fired.alert_id.clone(),
        rule: fired.rule.clone(),
        labels: fired.labels.clone(),
    };
    let mut second = engine_for(&r);
    second.restore(&key, fired.machine, secs(5)).unwrap();
    let mut later = Vec::new();
    for t in 5..70 {
        observe(&mut second, "cpu_usage", &[], t, 90.0);
        later.extend(second.evaluate(secs(t)).notifications);
    }
    assert_eq!(later.len(), 1);
    assert_eq!((later[0].kind, later[0].at), (NotifyKind::Repeat, secs(60)));
    assert_eq!(
        later[0].alert_id, fired.alert_id,
        "same alert after restore"
    );
    let unknown = AlertKey {
        rule: "gone".into(),
        ..key
    };
    assert!(second.restore(&unknown, fired.machine, secs(5)).is_err());
}

#[test]
fn non_finite_observations_are_counted_not_used() {
    let r = rules("rules:\n  - {name: cpu, metric: cpu_usage, warning: 80, critical: 95}\n");
    let mut engine = engine_for(&r);
    observe(&mut engine, "cpu_usage", &[], 0, f64::NAN);
    assert_eq!(engine.rejected(), 1);
    assert!(engine.evaluate(secs(0)).notifications.is_empty());
}

/// A rule over `last(cpu_usage)` with the given policy, evaluated once per second.
fn policy_rules(pending: u64, consecutive: u32, keep: u64, repeat: u64) -> AlertRules {
    rules(&format!(
        "rules:\n  - {{name: r, metric: cpu_usage, aggregation: last, warning: 50, critical: 90, window: 1s, for: {pending}s, consecutive_violations: {consecutive}, keep_firing_for: {keep}s, repeat_interval: {repeat}s}}\n"
    ))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_streams_obey_pending_cooldown_and_recovery(
        values in prop::collection::vec(prop_oneof![0.0..49.0f64, 50.0..89.0f64, 90.0..100.0f64], 1..120),
        pending in 0u64..6,
        consecutive in 1u32..5,
        keep in 0u64..6,
        repeat in 1u64..15,
    ) {
        let r = policy_rules(pending, consecutive, keep, repeat);
        let mut engine = engine_for(&r);
        let mut transitions = Vec::new();
        let mut notifications = Vec::new();
        let recovery = keep + 5;
        for (t, v) in values.iter().copied().chain(std::iter::repeat_n(10.0, recovery as usize)).enumerate() {
            let t = t as u64;
            observe(&mut engine, "cpu_usage", &[], t, v);
            let e = engine.evaluate(secs(t));
            transitions.extend(e.transitions);
            notifications.extend(e.notifications);
        }
        let violating = |t: u64| values.get(t as usize).is_some_and(|v| *v >= 50.0);
        for tr in transitions.iter().filter(|tr| tr.to == State::Firing && tr.from != State::Firing) {
            let t = tr.at.as_secs();
            // The run of violations that ends at t.
            let mut start = t;
            while start > 0 && violating(start - 1) {
                start -= 1;
            }
            prop_assert!(violating(t), "fired at {t} on a normal value");
            prop_assert!(t - start >= pending, "fired at {t}, violations since {start}, for {pending}");
            prop_assert!(t - start + 1 >= u64::from(consecutive), "fired at {t} after {} of {consecutive}", t - start + 1);
        }
        let mut last: Option<&Notification> = None;
        for n in &notifications {
            if let Some(prev) = last {
                prop_assert!(n.at > prev.at, "two notifications at one time");
                if n.kind == NotifyKind::Repeat {
                    prop_assert!(n.at - prev.at >= secs(repeat), "repeat at {:?} only {:?} after the last", n.at, n.at - prev.at);
                }
            }
            last = Some(n);
        }
        let fired = notifications.iter().filter(|n| n.kind == NotifyKind::Firing).count();
        let resolved = notifications.iter().filter(|n| n.kind == NotifyKind::Resolved).count();
        prop_assert_eq!(fired, resolved, "every firing alert resolves once the metric recovers");
        prop_assert!(engine.statuses().all(|(_, s)| s.iter().all(|a| a.state == State::Inactive)));
    }

    #[test]
    fn no_notification_is_lost_or_repeated_across_a_restart_at_any_point(
        values in prop::collection::vec(prop_oneof![0.0..49.0f64, 50.0..100.0f64], 1..60),
        cut in 0usize..60,
    ) {
        let r = policy_rules(2, 1, 2, 5);
        // Reference: one engine all the way.
        let mut whole = engine_for(&r);
        let mut reference = Vec::new();
        for (t, v) in values.iter().enumerate() {
            observe(&mut whole, "cpu_usage", &[], t as u64, *v);
            reference.extend(whole.evaluate(secs(t as u64)).notifications.into_iter().map(|n| (n.at, n.kind)));
        }
        // Restarted: the second engine resumes from the last persisted machine.
        let cut = cut.min(values.len());
        let mut first = engine_for(&r);
        let mut persisted: Option<(AlertKey, AlertMachine)> = None;
        let mut got = Vec::new();
        for (t, v) in values[..cut].iter().enumerate() {
            observe(&mut first, "cpu_usage", &[], t as u64, *v);
            let e = first.evaluate(secs(t as u64));
            for tr in &e.transitions {
                persisted = Some((tr.key.clone(), tr.machine));
            }
            for n in &e.notifications {
                let key = AlertKey { alert_id: n.alert_id.clone(), rule: n.rule.clone(), labels: n.labels.clone() };
                persisted = Some((key, n.machine));
            }
            got.extend(e.notifications.into_iter().map(|n| (n.at, n.kind)));
        }
        let mut second = engine_for(&r);
        if let Some((key, machine)) = &persisted {
            if machine.state() != State::Inactive {
                second.restore(key, *machine, secs(cut as u64)).unwrap();
            }
        }
        for (t, v) in values.iter().enumerate().skip(cut) {
            observe(&mut second, "cpu_usage", &[], t as u64, *v);
            got.extend(second.evaluate(secs(t as u64)).notifications.into_iter().map(|n| (n.at, n.kind)));
        }
        // A restart forgets the consecutive count and the window, never a sent notification:
        // nothing the reference sent before the cut is sent again after it.
        let before: Vec<_> = reference.iter().filter(|(at, _)| *at < secs(cut as u64)).collect();
        let got_before: Vec<_> = got.iter().filter(|(at, _)| *at < secs(cut as u64)).collect();
        prop_assert_eq!(before, got_before);
        let firing = got.iter().filter(|(_, k)| *k == NotifyKind::Firing).count();
        let resolved = got.iter().filter(|(_, k)| *k == NotifyKind::Resolved).count();
        prop_assert!(firing >= resolved && firing <= resolved + 1, "firing {firing} resolved {resolved}: {got:?}");
    }
}
