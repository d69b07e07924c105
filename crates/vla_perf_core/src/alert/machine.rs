//! The life of one alert (one rule, one label set): inactive -> pending -> firing ->
//! resolved, with severity changes while firing, flap damping and repeat notifications.
//!
//! The machine is a value: [`AlertMachine::step`] takes the time and the threshold status
//! of the rule's aggregated value and returns what changed. Its whole state is the
//! serialisable [`AlertMachine`], so persisting it after every change and reloading it is
//! a restart.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::trend::Status;

/// How a rule turns violations into an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// The condition must hold this long (`for`) ...
    pub pending: Duration,
    /// ... and for this many evaluations in a row before firing (at least 1).
    pub consecutive: u32,
    /// A firing alert resolves (or de-escalates) only after the condition has been clear
    /// this long.
    pub keep_firing_for: Duration,
    /// Least time between two notifications of the same firing alert at one severity.
    pub repeat: Duration,
}

/// Severity of a pending or firing alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The warning threshold is crossed.
    Warning,
    /// The critical threshold is crossed.
    Critical,
}

impl Severity {
    /// The severity of a threshold status; `None` for normal.
    pub fn of(status: Status) -> Option<Self> {
        match status {
            Status::Normal => None,
            Status::Warning => Some(Severity::Warning),
            Status::Critical => Some(Severity::Critical),
        }
    }

    /// Lower-case name (`warning`, `critical`).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// The externally visible state of an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Condition not met.
    Inactive,
    /// Condition met, waiting out `for` / the consecutive count.
    Pending,
    /// Notifications go out.
    Firing,
    /// Condition cleared after firing (a transition target; the machine is then inactive).
    Resolved,
}

impl State {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Inactive => "inactive",
            State::Pending => "pending",
            State::Firing => "firing",
            State::Resolved => "resolved",
        }
    }
}

/// Why a notification is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyKind {
    /// The alert started firing.
    Firing,
    /// Still firing, the repeat interval has passed.
    Repeat,
    /// Warning became critical.
    Escalated,
    /// Critical became warning.
    Deescalated,
    /// The alert resolved.
    Resolved,
}

/// One state change of an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// State before.
    pub from: State,
    /// State after.
    pub to: State,
    /// Severity after (before, for `Resolved`).
    pub severity: Option<Severity>,
    /// Severity before (differs from `severity` on escalation and de-escalation).
    pub previous_severity: Option<Severity>,
}

/// What one step produced: at most one change and at most one notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Step {
    /// The state change, if any.
    pub change: Option<Change>,
    /// The notification to send, if any.
    pub notify: Option<NotifyKind>,
}

/// Where the alert is in its life, with the times that govern it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// Condition not met.
    Inactive,
    /// Waiting out the pending duration since `since`.
    Pending {
        /// First violating evaluation of this run.
        since: Duration,
        /// Worst severity of the last evaluation.
        severity: Severity,
    },
    /// Firing since `since` at `severity`.
    Firing {
        /// When it started firing.
        since: Duration,
        /// Current severity.
        severity: Severity,
        /// When the last notification was sent.
        last_notified: Duration,
        /// Since when the condition for the current severity has been clear, if it is.
        cleared_since: Option<Duration>,
    },
}

/// The state of one alert. Serialisable: persisting it is enough to resume after a restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertMachine {
    /// Phase and its times.
    pub phase: Phase,
    /// Consecutive violating evaluations so far.
    pub consecutive: u32,
}

impl Default for AlertMachine {
    fn default() -> Self {
        Self {
            phase: Phase::Inactive,
            consecutive: 0,
        }
    }
}

impl AlertMachine {
    /// The visible state.
    pub fn state(&self) -> State {
        match self.phase {
            Phase::Inactive => State::Inactive,
            Phase::Pending { .. } => State::Pending,
            Phase::Firing { .. } => State::Firing,
        }
    }

    /// Current severity (none when inactive).
    pub fn severity(&self) -> Option<Severity> {
        match self.phase {
            Phase::Inactive => None,
            Phase::Pending { severity, .. } | Phase::Firing { severity, .. } => Some(severity),
        }
    }

    /// When the alert entered its current state (none when inactive).
    pub fn active_since(&self) -> Option<Duration> {
        match self.phase {
            Phase::Inactive => None,
            Phase::Pending { since, .. } | Phase::Firing { since, .. } => Some(since),
        }
    }

    /// Advances the machine to `now` given the status of the rule's value at `now`.
    pub fn step(&mut self, policy: &Policy, now: Duration, status: Status) -> Step {
        self.step_observed(policy, now, now, status)
    }

    /// Like [`step`](Self::step), where the value comes from an observation made at
    /// `observed_at` (not after `now`): a violation's pending time counts from the
    /// observation, not from the evaluation that noticed it.
    // Long: the transition table, one arm per (phase, observation), read side by side.
    pub fn step_observed(
        &mut self,
        policy: &Policy,
        now: Duration,
        observed_at: Duration,
        status: Status,
    ) -> Step {
        let observed_at = observed_at.min(now);
        let observed = Severity::of(status);
        self.consecutive = match observed {
            Some(_) => self.consecutive.saturating_add(1),
            None => 0,
        };
        let elapsed = |since: Duration| now.saturating_sub(since);
        match (self.phase, observed) {
            (Phase::Inactive, None) => Step::default(),
            (Phase::Inactive, Some(severity)) => {
                self.phase = Phase::Pending {
                    since: observed_at,
                    severity,
                };
                let step = self.fire_if_due(policy, now, severity, observed_at);
                if step.change.is_some() {
                    // Straight to firing: report one change from inactive.
                    return Step {
                        change: step.change.map(|c| Change {
                            from: State::Inactive,
                            ..c
                        }),
                        notify: step.notify,
                    };
                }
                Step {
                    change: Some(Change {
                        from: State::Inactive,
                        to: State::Pending,
                        severity: Some(severity),
                        previous_severity: None,
                    }),
                    notify: None,
                }
            }
            (Phase::Pending { severity, .. }, None) => {
                self.phase = Phase::Inactive;
                Step {
                    change: Some(Change {
                        from: State::Pending,
                        to: State::Inactive,
                        severity: None,
                        previous_severity: Some(severity),
                    }),
                    notify: None,
                }
            }
            (Phase::Pending { since, .. }, Some(severity)) => {
                self.phase = Phase::Pending { since, severity };
                self.fire_if_due(policy, now, severity, since)
            }
            (
                Phase::Firing {
                    since,
                    severity,
                    last_notified,
                    cleared_since,
                },
                observed,
            ) => {
                // Below the current severity counts as clearing it; keep_firing_for damps
                // both resolution and de-escalation.
                let holds = observed.is_some_and(|o| o >= severity);
                if let (Some(o), true) = (observed, holds) {
                    if o > severity {
                        self.phase = Phase::Firing {
                            since,
                            severity: o,
                            last_notified: now,
                            cleared_since: None,
                        };
                        return Step {
                            change: Some(Change {
                                from: State::Firing,
                                to: State::Firing,
                                severity: Some(o),
                                previous_severity: Some(severity),
                            }),
                            notify: Some(NotifyKind::Escalated),
                        };
                    }
                    let due = elapsed(last_notified) >= policy.repeat;
                    self.phase = Phase::Firing {
                        since,
                        severity,
                        last_notified: if due { now } else { last_notified },
                        cleared_since: None,
                    };
                    return Step {
                        change: None,
                        notify: due.then_some(NotifyKind::Repeat),
                    };
                }
                let cleared = cleared_since.unwrap_or(now);
                if elapsed(cleared) < policy.keep_firing_for {
                    let due = elapsed(last_notified) >= policy.repeat;
                    self.phase = Phase::Firing {
                        since,
                        severity,
                        last_notified: if due { now } else { last_notified },
                        cleared_since: Some(cleared),
                    };
                    return Step {
                        change: None,
                        notify: due.then_some(NotifyKind::Repeat),
                    };
                }
                match observed {
                    None => {
                        self.phase = Phase::Inactive;
                        Step {
                            change: Some(Change {
                                from: State::Firing,
                                to: State::Resolved,
                                severity: Some(severity),
                                previous_severity: Some(severity),
                            }),
                            notify: Some(NotifyKind::Resolved),
                        }
                    }
                    Some(lower) => {
                        self.phase = Phase::Firing {
                            since,
                            severity: lower,
                            last_notified: now,
                            cleared_since: None,
                        };
                        Step {
                            change: Some(Change {
                                from: State::Firing,
                                to: State::Firing,
                                severity: Some(lower),
                                previous_severity: Some(severity),
                            }),
                            notify: Some(NotifyKind::Deescalated),
                        }
                    }
                }
            }
        }
    }

    /// Moves a pending alert to firing when both the pending time and the consecutive count
    /// are met.
    fn fire_if_due(
        &mut self,
        policy: &Policy,
        now: Duration,
        severity: Severity,
        since: Duration,
    ) -> Step {
        let due = now.saturating_sub(since) >= policy.pending
            && self.consecutive >= policy.consecutive.max(1);
        if !due {
            return Step::default();
        }
        self.phase = Phase::Firing {
            since: now,
            severity,
            last_notified: now,
            cleared_since: None,
        };
        Step {
            change: Some(Change {
                from: State::Pending,
                to: State::Firing,
                severity: Some(severity),
                previous_severity: Some(severity),
            }),
            notify: Some(NotifyKind::Firing),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(pending: u64, consecutive: u32, keep: u64, repeat: u64) -> Policy {
        Policy {
            pending: Duration::from_secs(pending),
            consecutive,
            keep_firing_for: Duration::from_secs(keep),
            repeat: Duration::from_secs(repeat),
        }
    }

    /// Runs statuses at t = 0, 1, 2 ... and returns (t, step) for every non-empty step.
    fn run(p: &Policy, statuses: &[Status]) -> Vec<(u64, Step)> {
        let mut m = AlertMachine::default();
        statuses
            .iter()
            .enumerate()
            .map(|(t, s)| (t as u64, m.step(p, Duration::from_secs(t as u64), *s)))
            .filter(|(_, s)| *s != Step::default())
            .collect()
    }

    use Status::{Critical as C, Normal as N, Warning as W};

    #[test]
    fn a_violation_waits_out_the_pending_duration_before_firing() {
        let steps = run(&policy(3, 1, 0, 100), &[W, W, W, W, W]);
        assert_eq!(steps[0].1.change.unwrap().to, State::Pending);
        assert_eq!(steps[1].0, 3, "fires once 3 s have passed since t=0");
        assert_eq!(steps[1].1.notify, Some(NotifyKind::Firing));
        assert_eq!(steps.len(), 2);
    }

    #[test]
    fn consecutive_violations_are_counted_and_reset_by_a_normal_value() {
        let steps = run(&policy(0, 3, 0, 100), &[W, W, N, W, W, W]);
        let fired: Vec<u64> = steps
            .iter()
            .filter(|(_, s)| s.notify == Some(NotifyKind::Firing))
            .map(|(t, _)| *t)
            .collect();
        assert_eq!(fired, vec![5]);
        assert_eq!(steps[1].1.change.unwrap().to, State::Inactive);
    }

    #[test]
    fn without_pending_time_or_count_an_alert_fires_at_once() {
        let steps = run(&policy(0, 1, 0, 100), &[C]);
        let change = steps[0].1.change.unwrap();
        assert_eq!((change.from, change.to), (State::Inactive, State::Firing));
        assert_eq!(change.severity, Some(Severity::Critical));
    }

    #[test]
    fn escalation_notifies_at_once_and_critical_suppresses_warning_repeats() {
        let steps = run(&policy(0, 1, 0, 10), &[W, C, W, W]);
        assert_eq!(steps[1].1.notify, Some(NotifyKind::Escalated));
        // Back to warning without keep_firing_for: de-escalated, no separate warning alert.
        assert_eq!(steps[2].1.notify, Some(NotifyKind::Deescalated));
        assert_eq!(steps.len(), 3);
    }

    #[test]
    fn keep_firing_for_damps_resolution_and_a_relapse_keeps_the_same_alert() {
        let steps = run(&policy(0, 1, 3, 100), &[W, N, N, W, N, N, N, N]);
        let resolved: Vec<u64> = steps
            .iter()
            .filter(|(_, s)| s.notify == Some(NotifyKind::Resolved))
            .map(|(t, _)| *t)
            .collect();
        assert_eq!(resolved, vec![7], "cleared at 4, resolved 3 s later");
        assert_eq!(steps.len(), 2);
    }

    #[test]
    fn repeats_respect_the_repeat_interval() {
        let statuses = vec![W; 25];
        let steps = run(&policy(0, 1, 0, 10), &statuses);
        let times: Vec<u64> = steps.iter().map(|(t, _)| *t).collect();
        assert_eq!(times, vec![0, 10, 20]);
    }

    #[test]
    fn pending_time_counts_from_the_violating_observation_not_the_evaluation() {
        let p = policy(1, 1, 0, 100);
        let mut m = AlertMachine::default();
        let ms = Duration::from_millis;
        // Observed at 1.05 s, noticed by the evaluation at 1.1 s.
        m.step_observed(&p, ms(1100), ms(1050), W);
        assert_eq!(m.step_observed(&p, ms(2000), ms(1950), W).notify, None);
        assert_eq!(
            m.step_observed(&p, ms(2100), ms(2050), W).notify,
            Some(NotifyKind::Firing),
            "1.05 s after the first violating observation"
        );
        // An observation stamped in the future counts from the evaluation.
        let mut m = AlertMachine::default();
        m.step_observed(&p, ms(100), ms(900), W);
        assert_eq!(m.active_since(), Some(ms(100)));
    }

    #[test]
    fn the_machine_round_trips_through_json() {
        let mut m = AlertMachine::default();
        m.step(&policy(5, 1, 0, 10), Duration::from_secs(1), W);
        let text = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<AlertMachine>(&text).unwrap(), m);
    }
}
