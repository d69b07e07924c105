//! Matching what the stack publishes to the commands and images the benchmark sent: pure
//! state machines fed with times (seconds since the run's start) and decoded outputs.
//!
//! A command's outputs are found by its tag when the stack echoes one (a transcript that
//! starts with `[bN] `, a plan whose id is `bN`), else in order: the oldest open command
//! that has not reached that stage yet. Detections reach the vision stage of every open
//! command whose plan is already there (the executor grounds a plan on the next
//! detections). A goal on the action status topic belongs to the oldest open command
//! waiting for one; goals first seen already finished, or with no command waiting, are
//! counted as unmatched. Images are matched by their exact header stamp.

use std::collections::{BTreeMap, HashMap};

use crate::config::scenario::Suite;
use crate::core::bench::{CommandRecord, DetectionRecord, ImageRecord, PlanRecord};
use crate::core::timeline::Outcome;

/// A stage the benchmark observes after its input (never [`Stage::Voice`], its input).
pub use crate::core::stage::StageKind as Stage;

/// The stages a command suite observes (visual perception tracks images instead).
pub fn stages(suite: Suite) -> &'static [Stage] {
    match suite {
        Suite::VoiceProcessing => &[Stage::Transcript],
        Suite::CognitivePlanning => &[Stage::Plan],
        Suite::VisualPerception => &[],
        Suite::ActionExecution => &[Stage::ActionStart, Stage::ActionDone],
        Suite::EndToEnd => &[
            Stage::Transcript,
            Stage::Plan,
            Stage::Vision,
            Stage::ActionStart,
            Stage::ActionDone,
        ],
    }
}

/// `action_msgs/msg/GoalStatus` codes.
mod status {
    pub const EXECUTING: i8 = 2;
    pub const CANCELING: i8 = 3;
    pub const SUCCEEDED: i8 = 4;
    pub const CANCELED: i8 = 5;
    pub const ABORTED: i8 = 6;
}

fn terminal(code: i8) -> bool {
    matches!(code, status::SUCCEEDED | status::CANCELED | status::ABORTED)
}

struct Open {
    tag: Option<String>,
    record: CommandRecord,
    goal: Option<[u8; 16]>,
}

/// Commands of one suite, from send to outcome.
pub struct Tracker {
    stages: Vec<Stage>,
    timeout: f64,
    open: Vec<Open>,
    finished: Vec<CommandRecord>,
    goals: HashMap<[u8; 16], i8>,
    /// Production times of the latest detections: a plan delivered after detections that
    /// were produced after it still finds them.
    detections: std::collections::VecDeque<f64>,
    unmatched: u64,
}

/// Detection times remembered for plans that arrive late.
const RECENT_DETECTIONS: usize = 64;

impl Tracker {
    /// A tracker of `suite`'s stages; a command still open `timeout` seconds after its
    /// intended send time times out.
    pub fn new(suite: Suite, timeout: f64) -> Self {
        Self {
            stages: stages(suite).to_vec(),
            timeout,
            open: Vec::new(),
            finished: Vec::new(),
            goals: HashMap::new(),
            detections: std::collections::VecDeque::new(),
            unmatched: 0,
        }
    }

    /// The stage names, in order.
    pub fn stage_names(&self) -> Vec<String> {
        self.stages.iter().map(|s| s.name().to_owned()).collect()
    }

    /// Goals already on the status topic before any command: never matched to one.
    pub fn known_goals(&mut self, goals: &[([u8; 16], i8)]) {
        for (id, code) in goals {
            self.goals.insert(*id, *code);
        }
    }

    /// A command was published.
    pub fn sent(
        &mut self,
        command: usize,
        step: usize,
        tag: Option<String>,
        intended: f64,
        sent: f64,
    ) {
        self.open.push(Open {
            tag: tag.clone(),
            record: CommandRecord {
                command,
                step,
                tag,
                intended,
                sent,
                reached: vec![None; self.stages.len()],
                outcome: Outcome::TimedOut,
                failed_at: None,
                transcript: None,
                plan: None,
            },
            goal: None,
        });
    }

    fn index(&self, stage: Stage) -> Option<usize> {
        self.stages.iter().position(|s| *s == stage)
    }

    /// The open command an output of `stage` belongs to: by tag, else the oldest that has
    /// not reached the stage.
    fn find(&self, stage: usize, tag: Option<&str>) -> Option<usize> {
        if let Some(tag) = tag {
            if let Some(i) = self.open.iter().position(|o| o.tag.as_deref() == Some(tag)) {
                return (self.open[i].record.reached[stage].is_none()).then_some(i);
            }
        }
        self.open
            .iter()
            .position(|o| o.record.reached[stage].is_none())
    }

    fn finish(&mut self, i: usize, outcome: Outcome, failed_at: Option<Stage>) {
        let mut open = self.open.remove(i);
        open.record.outcome = outcome;
        open.record.failed_at = failed_at.map(|s| s.name().to_owned());
        self.finished.push(open.record);
    }

    /// Reaching the last stage finishes a command successfully.
    fn reached(&mut self, i: usize, stage: usize, at: f64) {
        self.open[i].record.reached[stage] = Some(at);
        if stage + 1 == self.stages.len() {
            self.finish(i, Outcome::Succeeded, None);
        }
    }

    /// A transcript arrived (its text may carry a command tag).
    pub fn transcript(&mut self, at: f64, text: &str) {
        let Some(stage) = self.index(Stage::Transcript) else {
            return;
        };
        let (tag, body) = crate::sim::speech::split_tag(text);
        match self.find(stage, tag) {
            Some(i) => {
                self.open[i].record.transcript = Some(body.to_owned());
                self.reached(i, stage, at);
            }
            None => self.unmatched += 1,
        }
    }

    /// A plan arrived: its id (matched against tags), whether it was refused, its actions.
    pub fn plan(&mut self, at: f64, id: Option<&str>, plan: PlanRecord) {
        let Some(stage) = self.index(Stage::Plan) else {
            return;
        };
        match self.find(stage, id) {
            Some(i) => {
                let rejected = plan.rejected;
                self.open[i].record.plan = Some(plan);
                if rejected {
                    self.open[i].record.reached[stage] = Some(at);
                    self.finish(i, Outcome::Failed, Some(Stage::Plan));
                } else {
                    let before = self.open.len();
                    self.reached(i, stage, at);
                    // Detections produced after the plan but delivered before it.
                    let vision = self.index(Stage::Vision);
                    let later = self
                        .detections
                        .iter()
                        .copied()
                        .filter(|t| *t > at)
                        .reduce(f64::min);
                    if let (Some(vision), Some(t), true) =
                        (vision, later, self.open.len() == before)
                    {
                        self.reached(i, vision, t);
                    }
                }
            }
            None => self.unmatched += 1,
        }
    }

    /// Detections produced at `at` arrived: the vision stage of every command whose plan
    /// was produced before them.
    pub fn detections(&mut self, at: f64) {
        let (Some(stage), Some(plan)) = (self.index(Stage::Vision), self.index(Stage::Plan)) else {
            return;
        };
        self.detections.push_back(at);
        if self.detections.len() > RECENT_DETECTIONS {
            self.detections.pop_front();
        }
        let mut i = 0;
        while i < self.open.len() {
            let r = &self.open[i].record;
            let after_plan = r.reached[plan].is_some_and(|p| p < at);
            // An earlier detection (delivered late) still wins.
            let earlier = r.reached[stage].is_none_or(|v| at < v);
            if after_plan && earlier {
                let before = self.open.len();
                self.reached(i, stage, at);
                if self.open.len() < before {
                    continue;
                }
            }
            i += 1;
        }
    }

    /// The action status topic listed these goals and codes.
    pub fn goal_status(&mut self, at: f64, goals: &[([u8; 16], i8)]) {
        let (Some(start), Some(done)) = (
            self.index(Stage::ActionStart),
            self.index(Stage::ActionDone),
        ) else {
            return;
        };
        let plan = self.index(Stage::Plan);
        for &(id, code) in goals {
            let previous = self.goals.insert(id, code);
            if previous == Some(code) {
                continue;
            }
            let owner = self.open.iter().position(|o| o.goal == Some(id));
            let owner = match (owner, previous) {
                (Some(i), _) => Some(i),
                // A goal new to us, not already over: the oldest command waiting for one.
                (None, None) if !terminal(code) => {
                    let waiting = self.open.iter().position(|o| {
                        o.goal.is_none() && plan.is_none_or(|p| o.record.reached[p].is_some())
                    });
                    match waiting {
                        Some(i) => {
                            self.open[i].goal = Some(id);
                            Some(i)
                        }
                        None => {
                            self.unmatched += 1;
                            None
                        }
                    }
                }
                (None, None) => {
                    self.unmatched += 1;
                    None
                }
                // A goal of a command already finished (or never ours).
                (None, Some(_)) => None,
            };
            let Some(i) = owner else { continue };
            match code {
                status::EXECUTING | status::CANCELING
                    if self.open[i].record.reached[start].is_none() =>
                {
                    self.open[i].record.reached[start] = Some(at);
                }
                status::SUCCEEDED => self.reached(i, done, at),
                status::CANCELED | status::ABORTED => {
                    self.open[i].record.reached[done] = Some(at);
                    self.finish(i, Outcome::Failed, Some(Stage::ActionDone));
                }
                // ACCEPTED (and unknown codes): waiting to start.
                _ => {}
            }
        }
    }

    /// Times out commands open longer than the timeout; returns how many.
    pub fn expire(&mut self, now: f64) -> usize {
        let mut expired = 0;
        let mut i = 0;
        while i < self.open.len() {
            if now - self.open[i].record.intended >= self.timeout {
                self.finish(i, Outcome::TimedOut, None);
                expired += 1;
            } else {
                i += 1;
            }
        }
        expired
    }

    /// Times out every open command (the run is over).
    pub fn expire_all(&mut self) {
        while !self.open.is_empty() {
            self.finish(0, Outcome::TimedOut, None);
        }
    }

    /// Commands still open.
    pub fn open(&self) -> usize {
        self.open.len()
    }

    /// The earliest time an open command times out.
    pub fn next_deadline(&self) -> Option<f64> {
        self.open
            .iter()
            .map(|o| o.record.intended + self.timeout)
            .min_by(f64::total_cmp)
    }

    /// Commands finished since the last call, in finishing order.
    pub fn take_finished(&mut self) -> Vec<CommandRecord> {
        std::mem::take(&mut self.finished)
    }

    /// Outputs that matched no command.
    pub fn unmatched(&self) -> u64 {
        self.unmatched
    }
}

/// Images of the perception suite, matched to detections by header stamp.
#[derive(Default)]
pub struct ImageTracker {
    open: BTreeMap<u64, ImageRecord>,
    finished: Vec<ImageRecord>,
    unmatched: u64,
}

impl ImageTracker {
    /// An image stamped `stamp_ns` was published.
    pub fn sent(&mut self, stamp_ns: u64, record: ImageRecord) {
        self.open.insert(stamp_ns, record);
    }

    /// Detections for the image stamped `stamp_ns` arrived.
    pub fn detections(&mut self, at: f64, stamp_ns: u64, detections: Vec<DetectionRecord>) {
        match self.open.remove(&stamp_ns) {
            Some(mut image) => {
                image.received = Some(at);
                image.detections = detections;
                self.finished.push(image);
            }
            None => self.unmatched += 1,
        }
    }

    /// Images without detections `timeout` seconds after their intended send time.
    pub fn expire(&mut self, now: f64, timeout: f64) -> usize {
        let late: Vec<u64> = self
            .open
            .iter()
            .filter(|(_, r)| now - r.intended >= timeout)
            .map(|(k, _)| *k)
            .collect();
        for k in &late {
            if let Some(r) = self.open.remove(k) {
                self.finished.push(r);
            }
        }
        late.len()
    }

    /// Gives up on every open image.
    pub fn expire_all(&mut self) {
        let open = std::mem::take(&mut self.open);
        self.finished.extend(open.into_values());
    }

    /// Images still waiting.
    pub fn open(&self) -> usize {
        self.open.len()
    }

    /// The earliest time an open image times out.
    pub fn next_deadline(&self, timeout: f64) -> Option<f64> {
        self.open
            .values()
            .map(|r| r.intended + timeout)
            .min_by(f64::total_cmp)
    }

    /// Images finished since the last call.
    pub fn take_finished(&mut self) -> Vec<ImageRecord> {
        std::mem::take(&mut self.finished)
    }

    /// Detections that matched no image of ours.
    pub fn unmatched(&self) -> u64 {
        self.unmatched
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(actions: &[&str]) -> PlanRecord {
        PlanRecord {
            actions: actions.iter().map(|a| (*a).to_owned()).collect(),
            rejected: false,
        }
    }

    fn goal(n: u8) -> [u8; 16] {
        [n; 16]
    }

    #[test]
    fn an_end_to_end_command_reaches_every_stage_in_turn() {
        let mut t = Tracker::new(Suite::EndToEnd, 30.0);
        t.known_goals(&[(goal(9), 4)]);
        t.sent(0, 0, Some("b1".into()), 1.0, 1.01);
        t.transcript(1.3, "[b1] pick up the cup");
        t.detections(1.4); // before the plan: not this command's vision stage
        t.plan(1.9, Some("b1"), plan(&["pick"]));
        t.detections(1.95);
        t.goal_status(2.0, &[(goal(9), 4), (goal(1), 2)]);
        t.goal_status(3.5, &[(goal(9), 4), (goal(1), 4)]);
        let done = t.take_finished();
        assert_eq!(done.len(), 1);
        let r = &done[0];
        assert_eq!(r.outcome, Outcome::Succeeded);
        assert_eq!(
            r.reached,
            vec![Some(1.3), Some(1.9), Some(1.95), Some(2.0), Some(3.5)]
        );
        assert_eq!(r.transcript.as_deref(), Some("pick up the cup"));
        assert_eq!(t.unmatched(), 0);
    }

    #[test]
    fn detections_delivered_before_the_plan_but_produced_after_it_count_for_it() {
        let mut t = Tracker::new(Suite::EndToEnd, 30.0);
        t.sent(0, 0, None, 0.0, 0.0);
        t.transcript(0.3, "go home");
        t.detections(0.95); // produced before the plan
        t.detections(1.02); // produced after it, delivered before it
        t.plan(1.0, None, plan(&["navigate"]));
        t.detections(1.05);
        t.detections(1.01); // delivered late, produced earlier still
        t.goal_status(1.2, &[(goal(1), 2)]);
        t.goal_status(2.0, &[(goal(1), 4)]);
        assert_eq!(t.take_finished()[0].reached[2], Some(1.01));
    }

    #[test]
    fn tags_match_out_of_order_outputs_and_untagged_ones_pair_in_order() {
        let mut t = Tracker::new(Suite::CognitivePlanning, 30.0);
        t.sent(0, 0, Some("b1".into()), 0.0, 0.0);
        t.sent(1, 0, Some("b2".into()), 0.1, 0.1);
        t.sent(2, 0, None, 0.2, 0.2);
        t.plan(0.5, Some("b2"), plan(&["navigate"]));
        t.plan(0.6, None, plan(&["pick"]));
        t.plan(
            0.7,
            Some("zz"),
            PlanRecord {
                actions: vec![],
                rejected: true,
            },
        );
        let done = t.take_finished();
        let by_command: Vec<(usize, Outcome)> =
            done.iter().map(|r| (r.command, r.outcome)).collect();
        // b2 by tag; the untagged plan pairs with the oldest (b1); "zz" matches no tag, so
        // it pairs with the oldest left (command 2) and fails it at the plan stage.
        assert_eq!(
            by_command,
            vec![
                (1, Outcome::Succeeded),
                (0, Outcome::Succeeded),
                (2, Outcome::Failed)
            ]
        );
        assert_eq!(done[2].failed_at.as_deref(), Some("plan"));
    }

    #[test]
    fn aborted_goals_fail_and_silent_commands_time_out_from_their_intended_time() {
        let mut t = Tracker::new(Suite::ActionExecution, 5.0);
        t.sent(0, 0, None, 0.0, 0.0);
        t.sent(1, 0, None, 1.0, 1.5);
        t.goal_status(0.2, &[(goal(1), 2)]);
        t.goal_status(0.9, &[(goal(1), 6)]);
        assert_eq!(t.next_deadline(), Some(6.0));
        assert_eq!(t.expire(5.9), 0);
        assert_eq!(t.expire(6.0), 1);
        let done = t.take_finished();
        assert_eq!(done[0].outcome, Outcome::Failed);
        assert_eq!(done[0].reached, vec![Some(0.2), Some(0.9)]);
        assert_eq!(done[1].outcome, Outcome::TimedOut);
        assert_eq!(t.open(), 0);
    }

    #[test]
    fn goals_first_seen_finished_or_with_nobody_waiting_are_unmatched() {
        let mut t = Tracker::new(Suite::EndToEnd, 5.0);
        t.sent(0, 0, None, 0.0, 0.0);
        // No plan yet: nobody waits for a goal.
        t.goal_status(0.1, &[(goal(1), 2)]);
        t.transcript(0.2, "go");
        t.plan(0.3, None, plan(&["navigate"]));
        t.goal_status(0.4, &[(goal(1), 2), (goal(2), 4)]);
        assert_eq!(t.unmatched(), 2);
        t.goal_status(0.5, &[(goal(3), 1)]);
        t.goal_status(0.6, &[(goal(3), 2)]);
        t.goal_status(0.7, &[(goal(3), 4)]);
        assert_eq!(t.take_finished()[0].reached[3..], [Some(0.6), Some(0.7)]);
    }

    #[test]
    fn images_match_by_stamp_and_strangers_are_counted() {
        let mut t = ImageTracker::default();
        let image = |id| ImageRecord {
            set: 0,
            image_id: id,
            step: 0,
            intended: 0.0,
            sent: 0.0,
            received: None,
            detections: vec![],
        };
        t.sent(10, image(1));
        t.sent(20, image(2));
        t.detections(0.5, 20, vec![]);
        t.detections(0.6, 30, vec![]);
        assert_eq!(t.expire(2.0, 2.0), 1);
        let done = t.take_finished();
        assert_eq!(done[0].image_id, 2);
        assert_eq!(done[0].received, Some(0.5));
        assert_eq!(done[1].received, None);
        assert_eq!(t.unmatched(), 1);
    }
}
