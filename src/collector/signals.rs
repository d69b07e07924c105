//! Accuracy signals available online, without ground truth: the stack's own confidences,
//! how often a stage passes commands on rather than failing them (the planner's
//! understanding rate), task success, and action goal outcomes from status topics.

use super::GoalMemory;
use crate::core::kpi::SuccessCounter;
use crate::core::timeline::{CompletedCommand, Outcome};
use crate::msg::action_msgs::{GoalStatus, GoalStatusArray};

/// Per stage: commands it passed on and commands that failed there.
#[derive(Debug, Clone, Default)]
pub struct StageOutcomes {
    per_stage: Vec<SuccessCounter>,
    task: SuccessCounter,
}

impl StageOutcomes {
    /// Counters for `stages` stages.
    pub fn new(stages: usize) -> Self {
        Self {
            per_stage: vec![SuccessCounter::default(); stages],
            task: SuccessCounter::default(),
        }
    }

    /// Counts a finished command: every stage it got past succeeded, the failing stage
    /// failed; the task succeeded or not. Abandoned commands (shutdown, eviction) say
    /// nothing about the stack and are not counted.
    pub fn record(&mut self, cmd: &CompletedCommand) {
        if cmd.outcome == Outcome::Abandoned {
            return;
        }
        self.task.record(cmd.outcome == Outcome::Succeeded);
        for (stage, latency) in cmd.stage_latency.iter().enumerate().skip(1) {
            if cmd.failed_stage == Some(stage) {
                if let Some(c) = self.per_stage.get_mut(stage) {
                    c.record(false);
                }
            } else if latency.is_some() {
                if let Some(c) = self.per_stage.get_mut(stage) {
                    c.record(true);
                }
            }
        }
    }

    /// Fraction of commands reaching `stage` that it passed on; `None` before any.
    pub fn stage_success_rate(&self, stage: usize) -> Option<(u64, f64)> {
        let c = self.per_stage.get(stage)?;
        Some((c.total(), c.success_rate()?))
    }

    /// Fraction of finished (not abandoned) commands that succeeded.
    pub fn task_success_rate(&self) -> Option<(u64, f64)> {
        Some((self.task.total(), self.task.success_rate()?))
    }
}

/// Terminal outcomes of the goals seen on one action status topic.
#[derive(Debug, Clone, Default)]
pub struct GoalOutcomes {
    outcomes: SuccessCounter,
    seen: GoalMemory,
}

impl GoalOutcomes {
    /// Counts every goal that reached SUCCEEDED, CANCELED or ABORTED, once; returns how
    /// many finished for the first time in `array`.
    pub fn record(&mut self, array: &GoalStatusArray) -> u64 {
        let mut finished = 0;
        for goal in &array.status_list {
            let succeeded = match goal.status {
                GoalStatus::STATUS_SUCCEEDED => true,
                GoalStatus::STATUS_CANCELED | GoalStatus::STATUS_ABORTED => false,
                _ => continue,
            };
            if self.seen.insert(goal.goal_info.goal_id.uuid) {
                self.outcomes.record(succeeded);
                finished += 1;
            }
        }
        finished
    }

    /// Fraction of finished goals that succeeded; `None` before any finished.
    pub fn success_rate(&self) -> Option<(u64, f64)> {
        Some((self.outcomes.total(), self.outcomes.success_rate()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::action_msgs::GoalInfo;
    use crate::msg::unique_identifier_msgs::UUID;
    use std::time::Duration;

    fn cmd(outcome: Outcome, failed_stage: Option<usize>, reached: usize) -> CompletedCommand {
        CompletedCommand {
            id: "c".into(),
            outcome,
            started_at: Duration::ZERO,
            ended_at: Duration::from_secs(1),
            failed_stage,
            stage_latency: (0..4)
                .map(|i| (i > 0 && i <= reached).then_some(Duration::from_millis(10)))
                .collect(),
            end_to_end: None,
        }
    }

    #[test]
    fn a_planner_that_rejects_one_command_in_four_understands_three_quarters() {
        let mut s = StageOutcomes::new(4);
        for _ in 0..3 {
            s.record(&cmd(Outcome::Succeeded, None, 3));
        }
        s.record(&cmd(Outcome::Failed, Some(2), 2));
        s.record(&cmd(Outcome::Abandoned, None, 1));
        assert_eq!(s.stage_success_rate(2), Some((4, 0.75)));
        assert_eq!(s.stage_success_rate(1), Some((4, 1.0)));
        assert_eq!(s.stage_success_rate(3), Some((3, 1.0)));
        assert_eq!(s.task_success_rate(), Some((4, 0.75)));
        assert_eq!(StageOutcomes::new(4).task_success_rate(), None);
    }

    fn goal(id: u8, status: i8) -> GoalStatus {
        GoalStatus {
            goal_info: GoalInfo {
                goal_id: UUID { uuid: [id; 16] },
                ..GoalInfo::default()
            },
            status,
        }
    }

    #[test]
    fn each_finished_goal_counts_once_however_often_it_is_republished() {
        let mut g = GoalOutcomes::default();
        g.record(&GoalStatusArray {
            status_list: vec![goal(1, GoalStatus::STATUS_EXECUTING)],
        });
        assert_eq!(g.success_rate(), None);
        let finished = GoalStatusArray {
            status_list: vec![
                goal(1, GoalStatus::STATUS_SUCCEEDED),
                goal(2, GoalStatus::STATUS_ABORTED),
                goal(3, GoalStatus::STATUS_SUCCEEDED),
                goal(4, GoalStatus::STATUS_CANCELED),
            ],
        };
        g.record(&finished);
        g.record(&finished);
        assert_eq!(g.success_rate(), Some((4, 0.5)));
    }
}
