//! Command timelines: correlating stage events into commands, and commands into outcomes.
//!
//! A command starts at the first configured stage (normally voice input) and passes through
//! the others in order. Every event names its stage by index and carries the keys an adapter
//! could extract from the message: an explicit id (a message field or a key of a JSON
//! payload) and/or a header stamp. Each stage is correlated by one rule:
//!
//! - [`Correlation::Id`]: the event belongs to the open command with the same id. A command
//!   gets its id from the first id-carrying stage it passes; when no open command has the
//!   id yet, the event binds to the oldest open command that has no id and has not reached
//!   this stage (a planner that assigns ids mid-pipeline).
//! - [`Correlation::HeaderStamp`]: the event carries the upstream header stamp unchanged
//!   (a downstream node copied `header.stamp`); it matches the command started with it.
//! - [`Correlation::Fifo`]: sequential pipelines: the event belongs to the oldest open
//!   command whose furthest stage is the one just before this one. Messages of a stage
//!   that arrive while no command waits for it (a detection stream between commands) are
//!   counted as unmatched.
//!
//! An event of an id or stamp stage that lacks its key (the field was absent) falls back to
//! FIFO pairing among the commands that have no such key yet. A command keeps the first id
//! and the first stamp it sees, whichever stage brings them.
//!
//! Open commands are bounded: beyond `max_open` the oldest is evicted as
//! [`Outcome::Abandoned`] and counted. A command that has not finished within
//! `command_timeout` of its start becomes [`Outcome::TimedOut`] at the next [`Tracker::expire`].
//! Unmatched, duplicate and out-of-order events are counted, never panics.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How events of one stage are matched to open commands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case", deny_unknown_fields)]
pub enum Correlation {
    /// Match on an explicit command id taken from a message field or a JSON payload key.
    Id {
        /// Dotted path of the id: a message field (`goal_id`) or JSON key (`meta.command_id`).
        field: String,
    },
    /// Match on a header stamp copied unchanged from the upstream message.
    HeaderStamp,
    /// Pair with the oldest open command waiting for this stage (sequential pipelines).
    Fifo,
}

/// One stage of the pipeline as the tracker sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageSpec {
    /// Stage name, e.g. `transcript`; used as the `stage` tag of every metric.
    pub name: String,
    /// How this stage's events find their command.
    pub correlation: Correlation,
}

impl StageSpec {
    /// A stage with the given name and correlation rule.
    pub fn new(name: impl Into<String>, correlation: Correlation) -> Self {
        Self {
            name: name.into(),
            correlation,
        }
    }
}

/// Whether a stage event reports progress or a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The stage produced its output (transcript published, plan produced, action done).
    Done,
    /// The stage failed or rejected the command (plan rejected, goal aborted/canceled).
    Failed,
}

/// A stage event as extracted by an adapter from one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageEvent {
    /// Index of the stage in the tracker's stage list.
    pub stage: usize,
    /// Time the event happened (receive time, or the stage's own stamp), since the epoch.
    pub at: Duration,
    /// Explicit command id, when the message carries one.
    pub id: Option<String>,
    /// Header stamp of the message (or of its upstream origin), when it has one.
    pub stamp: Option<Duration>,
    /// Progress or failure.
    pub kind: EventKind,
}

impl StageEvent {
    /// A `Done` event at `stage` with no keys (FIFO correlation).
    pub fn done(stage: usize, at: Duration) -> Self {
        Self {
            stage,
            at,
            id: None,
            stamp: None,
            kind: EventKind::Done,
        }
    }

    /// This event with an explicit id.
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// This event with a header stamp.
    pub fn with_stamp(mut self, stamp: Duration) -> Self {
        self.stamp = Some(stamp);
        self
    }

    /// This event marked as a failure.
    pub fn failed(mut self) -> Self {
        self.kind = EventKind::Failed;
        self
    }
}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The last stage reported done.
    Succeeded,
    /// A stage reported failure.
    Failed,
    /// The command did not finish within the command timeout.
    TimedOut,
    /// Evicted because too many commands were open, or flushed at shutdown.
    Abandoned,
}

impl Outcome {
    /// All outcomes, in a stable order (for counters and reports).
    pub const ALL: [Outcome; 4] = [
        Outcome::Succeeded,
        Outcome::Failed,
        Outcome::TimedOut,
        Outcome::Abandoned,
    ];

    /// The snake_case name used in messages, metrics and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::TimedOut => "timed_out",
            Outcome::Abandoned => "abandoned",
        }
    }
}

/// A finished command: its timeline and outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CompletedCommand {
    /// The command's id: the explicit id if one was seen, else `cmd-<sequence>`.
    pub id: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Start time (the first stage's event).
    pub started_at: Duration,
    /// Time of the last event seen for it (or of the expiry/eviction).
    pub ended_at: Duration,
    /// Index of the stage that failed, for [`Outcome::Failed`].
    pub failed_stage: Option<usize>,
    /// Per stage (same order as the tracker's stages): the time since the previous reached
    /// stage. `None` for the first stage, stages not reached, and out-of-order events.
    pub stage_latency: Vec<Option<Duration>>,
    /// Start to the last stage's done event; `Some` only for [`Outcome::Succeeded`].
    pub end_to_end: Option<Duration>,
}

/// Settings of a [`Tracker`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackerConfig {
    /// The stages, first one opens commands, last one completes them.
    pub stages: Vec<StageSpec>,
    /// Most commands open at once; beyond it the oldest is abandoned.
    pub max_open: usize,
    /// A command still open this long after its start times out.
    pub command_timeout: Duration,
}

/// Counters of everything the tracker did not turn into a normal timeline step.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TrackerCounters {
    /// Events accepted into a command.
    pub events: u64,
    /// Events that matched no open command.
    pub unmatched: u64,
    /// Events for a stage the command had already passed (repeated messages).
    pub duplicates: u64,
    /// Events timed before the command's previous stage (clock or transport reordering).
    pub out_of_order: u64,
    /// Events naming a stage index the tracker does not have.
    pub unknown_stage: u64,
    /// Commands evicted because `max_open` was reached.
    pub evicted: u64,
    /// Commands opened.
    pub opened: u64,
    /// Commands timed out because they started more than `command_timeout` after the time
    /// they were expired at: the clock jumped backwards while they were open.
    pub clock_backwards: u64,
}

/// Why a tracker configuration is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// No stages were given.
    #[error("stages: the stage list is empty; at least one stage is needed")]
    NoStages,
    /// Two stages share a name.
    #[error("stages[{index}].name: stage name {name:?} is used twice")]
    DuplicateStage {
        /// Index of the second use.
        index: usize,
        /// The repeated name.
        name: String,
    },
    /// `max_open` is zero.
    #[error("max_open: must be at least 1, got 0")]
    ZeroMaxOpen,
    /// `command_timeout` is zero.
    #[error("command_timeout: must be greater than zero")]
    ZeroTimeout,
}

/// Result alias of this module.
pub type Result<T> = std::result::Result<T, Error>;

/// One open command.
#[derive(Debug)]
struct Open {
    seq: u64,
    id: Option<String>,
    stamp: Option<u128>,
    started_at: Duration,
    /// Highest stage index reached.
    furthest: usize,
    /// Per stage, the time it was reached.
    reached: Box<[Option<Duration>]>,
}

impl Open {
    /// Whether a FIFO (or key-binding) event of `stage` may belong to this command: the
    /// command has just reached the stage before. Requiring that keeps a stream that never
    /// stops (detections at 10 Hz) from claiming commands that are still being planned.
    fn waits_for(&self, stage: usize) -> bool {
        stage > 0 && self.furthest + 1 == stage
    }
}

/// Correlates stage events into command timelines. See the module docs for the rules.
#[derive(Debug)]
pub struct Tracker {
    config: TrackerConfig,
    /// Open commands in the order they were opened; `None` marks one already finished.
    /// Sequence numbers are increasing along the deque, so a lookup is a binary search.
    open: VecDeque<Option<Open>>,
    live: usize,
    // foldhash: a fraction of SipHash's cost per lookup, and still seeded per process so
    // ids chosen by a remote publisher cannot be aimed at one bucket.
    by_id: HashMap<String, u64, foldhash::fast::RandomState>,
    by_stamp: HashMap<u128, u64, foldhash::fast::RandomState>,
    next_seq: u64,
    counters: TrackerCounters,
}

impl Tracker {
    /// A tracker for the given stages; rejects empty or duplicate stage lists.
    pub fn new(config: TrackerConfig) -> Result<Self> {
        if config.stages.is_empty() {
            return Err(Error::NoStages);
        }
        for (index, stage) in config.stages.iter().enumerate() {
            if config.stages[..index].iter().any(|s| s.name == stage.name) {
                return Err(Error::DuplicateStage {
                    index,
                    name: stage.name.clone(),
                });
            }
        }
        if config.max_open == 0 {
            return Err(Error::ZeroMaxOpen);
        }
        if config.command_timeout.is_zero() {
            return Err(Error::ZeroTimeout);
        }
        Ok(Self {
            config,
            open: VecDeque::new(),
            live: 0,
            by_id: HashMap::default(),
            by_stamp: HashMap::default(),
            next_seq: 0,
            counters: TrackerCounters::default(),
        })
    }

    /// The stages this tracker correlates.
    pub fn stages(&self) -> &[StageSpec] {
        &self.config.stages
    }

    /// Commands currently open (in flight).
    pub fn open_count(&self) -> usize {
        self.live
    }

    /// What the tracker counted so far.
    pub fn counters(&self) -> &TrackerCounters {
        &self.counters
    }

    /// Feeds one event; commands it finishes (or evicts) are appended to `done`.
    pub fn ingest(&mut self, event: StageEvent, done: &mut Vec<CompletedCommand>) {
        let stages = self.config.stages.len();
        if event.stage >= stages {
            self.counters.unknown_stage += 1;
            return;
        }
        let Some(seq) = self.find(&event, done) else {
            return;
        };
        let Some((pos, Some(cmd))) = self.position(seq).map(|pos| (pos, self.open[pos].as_mut()))
        else {
            // `find` only returns live sequence numbers; stay safe anyway.
            self.counters.unmatched += 1;
            return;
        };
        if cmd.reached[event.stage].is_some() {
            self.counters.duplicates += 1;
            return;
        }
        let latest_before = cmd.reached[..event.stage].iter().flatten().max().copied();
        if event.stage < cmd.furthest || latest_before.is_some_and(|t| event.at < t) {
            self.counters.out_of_order += 1;
        }
        self.counters.events += 1;
        cmd.reached[event.stage] = Some(event.at);
        cmd.furthest = cmd.furthest.max(event.stage);
        let bind_id = cmd.id.is_none().then_some(event.id).flatten();
        if let Some(id) = &bind_id {
            cmd.id = Some(id.clone());
        }
        let bind_stamp = cmd.stamp.is_none().then_some(event.stamp).flatten();
        if let Some(stamp) = bind_stamp {
            cmd.stamp = Some(stamp.as_nanos());
        }
        let finished = match event.kind {
            EventKind::Failed => Some((Outcome::Failed, Some(event.stage))),
            EventKind::Done if event.stage + 1 == stages => Some((Outcome::Succeeded, None)),
            EventKind::Done => None,
        };
        if let Some(id) = bind_id {
            self.by_id.entry(id).or_insert(seq);
        }
        if let Some(stamp) = bind_stamp {
            self.by_stamp.entry(stamp.as_nanos()).or_insert(seq);
        }
        if let Some((outcome, failed_stage)) = finished {
            done.extend(self.close(Some(pos), outcome, failed_stage, event.at));
        }
    }

    /// Times out commands open for `command_timeout` or longer at `now`.
    pub fn expire(&mut self, now: Duration, done: &mut Vec<CompletedCommand>) {
        let timeout = self.config.command_timeout;
        while let Some(front) = self.front_live() {
            // A start this far in the future of `now` means the clock went back: waiting for
            // it to catch up would keep the command open for as long as the jump.
            let from_the_future = front.started_at > now.saturating_add(timeout);
            if front.started_at.saturating_add(timeout) > now && !from_the_future {
                break;
            }
            self.counters.clock_backwards += u64::from(from_the_future);
            done.extend(self.close(None, Outcome::TimedOut, None, now));
        }
    }

    /// Abandons every open command (shutdown), oldest first.
    pub fn flush(&mut self, now: Duration, done: &mut Vec<CompletedCommand>) {
        while self.front_live().is_some() {
            done.extend(self.close(None, Outcome::Abandoned, None, now));
        }
    }

    /// The sequence number of the command `event` belongs to, opening one for the first
    /// stage. Counts the event when it cannot be placed.
    fn find(&mut self, event: &StageEvent, done: &mut Vec<CompletedCommand>) -> Option<u64> {
        let keyed = match &self.config.stages[event.stage].correlation {
            Correlation::Id { .. } => match &event.id {
                Some(id) => Some(self.by_id.get(id).copied()),
                None => None,
            },
            Correlation::HeaderStamp => match event.stamp {
                Some(stamp) => Some(self.by_stamp.get(&stamp.as_nanos()).copied()),
                None => None,
            },
            Correlation::Fifo => None,
        };
        match keyed {
            Some(Some(seq)) => return Some(seq),
            // The key is known to nobody yet: open (first stage) or bind (oldest waiting).
            Some(None) | None if event.stage == 0 => return Some(self.open_command(event, done)),
            _ => {}
        }
        let stage = event.stage;
        let needs_unbound = |cmd: &Open| match &self.config.stages[stage].correlation {
            Correlation::Id { .. } => cmd.id.is_none(),
            Correlation::HeaderStamp => cmd.stamp.is_none(),
            Correlation::Fifo => true,
        };
        let seq = self
            .open
            .iter()
            .flatten()
            .find(|cmd| cmd.waits_for(stage) && needs_unbound(cmd))
            .map(|cmd| cmd.seq);
        if seq.is_none() {
            self.counters.unmatched += 1;
        }
        seq
    }

    fn open_command(&mut self, event: &StageEvent, done: &mut Vec<CompletedCommand>) -> u64 {
        if self.live >= self.config.max_open {
            self.counters.evicted += 1;
            done.extend(self.close(None, Outcome::Abandoned, None, event.at));
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.counters.opened += 1;
        self.open.push_back(Some(Open {
            seq,
            id: None,
            stamp: None,
            started_at: event.at,
            furthest: 0,
            reached: vec![None; self.config.stages.len()].into_boxed_slice(),
        }));
        self.live += 1;
        seq
    }

    /// Position in the deque of live command `seq`.
    fn position(&self, seq: u64) -> Option<usize> {
        // Every opened command is pushed with the next sequence number and finished ones
        // stay as `None` until they reach the front, so the deque holds exactly the
        // sequence numbers `next_seq - len .. next_seq`.
        let base = self.next_seq - self.open.len() as u64;
        let pos = usize::try_from(seq.checked_sub(base)?).ok()?;
        self.open.get(pos)?.as_ref().filter(|c| c.seq == seq)?;
        Some(pos)
    }

    fn front_live(&mut self) -> Option<&Open> {
        while matches!(self.open.front(), Some(None)) {
            self.open.pop_front();
        }
        self.open.front().and_then(Option::as_ref)
    }

    /// Removes the command at `pos` (`None` at the front means the oldest live one) and
    /// builds its record.
    fn close(
        &mut self,
        pos: Option<usize>,
        outcome: Outcome,
        failed_stage: Option<usize>,
        at: Duration,
    ) -> Option<CompletedCommand> {
        if pos.is_none() {
            self.front_live();
        }
        let cmd = self.open.get_mut(pos.unwrap_or(0))?.take()?;
        self.live -= 1;
        if let Some(id) = &cmd.id {
            if self.by_id.get(id) == Some(&cmd.seq) {
                self.by_id.remove(id);
            }
        }
        if let Some(stamp) = cmd.stamp {
            if self.by_stamp.get(&stamp) == Some(&cmd.seq) {
                self.by_stamp.remove(&stamp);
            }
        }
        self.front_live();
        Some(record(cmd, outcome, failed_stage, at))
    }
}

/// Builds the finished record of a command.
fn record(
    cmd: Open,
    outcome: Outcome,
    failed_stage: Option<usize>,
    ended_at: Duration,
) -> CompletedCommand {
    let mut stage_latency = Vec::with_capacity(cmd.reached.len());
    let mut previous: Option<Duration> = None;
    for reached in cmd.reached.iter() {
        stage_latency.push(match (previous, reached) {
            (Some(prev), Some(at)) => at.checked_sub(prev),
            _ => None,
        });
        if reached.is_some() {
            previous = *reached;
        }
    }
    let end_to_end = match outcome {
        Outcome::Succeeded => cmd
            .reached
            .last()
            .copied()
            .flatten()
            .and_then(|last| last.checked_sub(cmd.started_at)),
        _ => None,
    };
    CompletedCommand {
        id: cmd.id.unwrap_or_else(|| format!("cmd-{}", cmd.seq)),
        outcome,
        started_at: cmd.started_at,
        // A clock that ran backwards must not make a command end before it started.
        ended_at: ended_at.max(cmd.started_at),
        failed_stage,
        stage_latency,
        end_to_end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn tracker(modes: &[Correlation]) -> Tracker {
        let stages = modes
            .iter()
            .enumerate()
            .map(|(i, c)| StageSpec::new(format!("s{i}"), c.clone()))
            .collect();
        Tracker::new(TrackerConfig {
            stages,
            max_open: 4,
            command_timeout: ms(1000),
        })
        .unwrap()
    }

    fn id() -> Correlation {
        Correlation::Id {
            field: "command_id".into(),
        }
    }

    fn feed(t: &mut Tracker, events: Vec<StageEvent>) -> Vec<CompletedCommand> {
        let mut done = Vec::new();
        for e in events {
            t.ingest(e, &mut done);
        }
        done
    }

    #[test]
    fn a_fifo_pipeline_yields_every_stage_latency_and_end_to_end() {
        let mut t = tracker(&[Correlation::Fifo, Correlation::Fifo, Correlation::Fifo]);
        let done = feed(
            &mut t,
            vec![
                StageEvent::done(0, ms(100)),
                StageEvent::done(1, ms(350)),
                StageEvent::done(2, ms(1000)),
            ],
        );
        assert_eq!(done.len(), 1);
        let c = &done[0];
        assert_eq!(c.outcome, Outcome::Succeeded);
        assert_eq!(c.stage_latency, vec![None, Some(ms(250)), Some(ms(650))]);
        assert_eq!(c.end_to_end, Some(ms(900)));
        assert_eq!(c.id, "cmd-0");
        assert_eq!(t.open_count(), 0);
    }

    #[test]
    fn interleaved_commands_are_told_apart_by_id() {
        let mut t = tracker(&[id(), id()]);
        let done = feed(
            &mut t,
            vec![
                StageEvent::done(0, ms(0)).with_id("a"),
                StageEvent::done(0, ms(10)).with_id("b"),
                StageEvent::done(1, ms(30)).with_id("b"),
                StageEvent::done(1, ms(100)).with_id("a"),
            ],
        );
        let got: Vec<_> = done.iter().map(|c| (c.id.as_str(), c.end_to_end)).collect();
        assert_eq!(got, vec![("b", Some(ms(20))), ("a", Some(ms(100)))]);
    }

    #[test]
    fn header_stamps_copied_downstream_match_their_command() {
        let mut t = tracker(&[Correlation::HeaderStamp, Correlation::HeaderStamp]);
        let done = feed(
            &mut t,
            vec![
                StageEvent::done(0, ms(0)).with_stamp(ms(5)),
                StageEvent::done(0, ms(1)).with_stamp(ms(6)),
                StageEvent::done(1, ms(40)).with_stamp(ms(6)),
                StageEvent::done(1, ms(50)).with_stamp(ms(5)),
            ],
        );
        assert_eq!(done[0].id, "cmd-1");
        assert_eq!(done[0].end_to_end, Some(ms(39)));
        assert_eq!(done[1].end_to_end, Some(ms(50)));
    }

    #[test]
    fn an_id_assigned_mid_pipeline_binds_to_the_oldest_waiting_command() {
        // voice (fifo) -> transcript (fifo) -> plan carries a planner-assigned id -> action by id
        let mut t = tracker(&[Correlation::Fifo, Correlation::Fifo, id(), id()]);
        let done = feed(
            &mut t,
            vec![
                StageEvent::done(0, ms(0)),
                StageEvent::done(0, ms(5)),
                StageEvent::done(1, ms(10)),
                StageEvent::done(1, ms(12)),
                StageEvent::done(2, ms(20)).with_id("p1"),
                StageEvent::done(2, ms(22)).with_id("p2"),
                StageEvent::done(3, ms(30)).with_id("p2"),
                StageEvent::done(3, ms(40)).with_id("p1"),
            ],
        );
        assert_eq!(done.len(), 2);
        assert_eq!(
            (done[0].id.as_str(), done[0].end_to_end),
            ("p2", Some(ms(25)))
        );
        assert_eq!(
            (done[1].id.as_str(), done[1].end_to_end),
            ("p1", Some(ms(40)))
        );
    }

    #[test]
    fn a_continuous_stream_on_a_later_stage_waits_for_the_stage_before_it() {
        // voice -> plan -> vision(fifo): detections keep coming, planning takes a while.
        let mut t = tracker(&[Correlation::Fifo, Correlation::Fifo, Correlation::Fifo]);
        let done = feed(
            &mut t,
            vec![
                StageEvent::done(0, ms(0)),
                StageEvent::done(2, ms(100)),
                StageEvent::done(2, ms(200)),
                StageEvent::done(1, ms(800)),
                StageEvent::done(2, ms(900)),
            ],
        );
        assert_eq!(done.len(), 1);
        assert_eq!(
            done[0].stage_latency,
            vec![None, Some(ms(800)), Some(ms(100))]
        );
        assert_eq!(t.counters().unmatched, 2);
    }

    #[test]
    fn a_failed_stage_ends_the_command_as_failed() {
        let mut t = tracker(&[Correlation::Fifo, Correlation::Fifo, Correlation::Fifo]);
        let done = feed(
            &mut t,
            vec![
                StageEvent::done(0, ms(0)),
                StageEvent::done(1, ms(70)).failed(),
            ],
        );
        assert_eq!(done[0].outcome, Outcome::Failed);
        assert_eq!(done[0].failed_stage, Some(1));
        assert_eq!(done[0].stage_latency[1], Some(ms(70)));
        assert_eq!(done[0].end_to_end, None);
    }

    #[test]
    fn commands_past_the_timeout_expire_as_timed_out_and_later_events_are_unmatched() {
        let mut t = tracker(&[Correlation::Fifo, Correlation::Fifo]);
        let mut done = feed(&mut t, vec![StageEvent::done(0, ms(0))]);
        t.expire(ms(999), &mut done);
        assert!(done.is_empty());
        t.expire(ms(1000), &mut done);
        assert_eq!(done[0].outcome, Outcome::TimedOut);
        assert_eq!(done[0].ended_at, ms(1000));
        t.ingest(StageEvent::done(1, ms(1100)), &mut done);
        assert_eq!(done.len(), 1);
        assert_eq!(t.counters().unmatched, 1);
    }

    #[test]
    fn a_clock_that_jumps_back_records_no_negative_latency_and_counts_the_step() {
        let mut t = tracker(&[Correlation::Fifo, Correlation::Fifo, Correlation::Fifo]);
        // Stage 1 is stamped 40 ms before stage 0: the clock stepped back in between.
        let done = feed(
            &mut t,
            vec![
                StageEvent::done(0, ms(500)),
                StageEvent::done(1, ms(460)),
                StageEvent::done(2, ms(470)),
            ],
        );
        assert_eq!(done.len(), 1);
        let cmd = &done[0];
        assert_eq!(cmd.outcome, Outcome::Succeeded);
        assert_eq!(cmd.stage_latency[1], None, "no negative stage latency");
        assert_eq!(cmd.stage_latency[2], Some(ms(10)));
        assert_eq!(cmd.end_to_end, None, "the end lies before the start");
        assert!(cmd.ended_at >= cmd.started_at);
        // Both later stages lie before the start.
        assert_eq!(t.counters().out_of_order, 2);
    }

    #[test]
    fn commands_opened_before_a_clock_jumped_back_time_out_at_once_and_are_counted() {
        let mut t = tracker(&[Correlation::Fifo, Correlation::Fifo]);
        let mut done = feed(
            &mut t,
            vec![
                StageEvent::done(0, ms(3_600_000)),
                StageEvent::done(0, ms(3_600_010)),
            ],
        );
        // The clock went back an hour: waiting for it would keep both open for an hour.
        t.expire(ms(5), &mut done);
        assert_eq!(done.len(), 2);
        assert!(done.iter().all(|c| c.outcome == Outcome::TimedOut));
        assert!(done.iter().all(|c| c.ended_at >= c.started_at));
        assert_eq!(t.counters().clock_backwards, 2);
        assert_eq!(t.open_count(), 0);
        // A command within the timeout's reach of `now` is not from the future.
        t.ingest(StageEvent::done(0, ms(900)), &mut done);
        t.expire(ms(5), &mut done);
        assert_eq!((done.len(), t.open_count()), (2, 1));
    }

    #[test]
    fn a_clock_that_jumps_forward_times_the_command_out_instead_of_a_huge_latency() {
        let mut t = tracker(&[Correlation::Fifo, Correlation::Fifo]);
        let mut done = feed(&mut t, vec![StageEvent::done(0, ms(0))]);
        // As the collector does: overdue commands expire at each event's time first.
        let jumped = ms(3_600_000);
        t.expire(jumped, &mut done);
        t.ingest(StageEvent::done(1, jumped), &mut done);
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].outcome, Outcome::TimedOut);
        assert_eq!(done[0].end_to_end, None);
        assert_eq!(t.counters().unmatched, 1);
    }

    #[test]
    fn beyond_the_cap_the_oldest_command_is_abandoned_and_counted() {
        let mut t = tracker(&[Correlation::Fifo, Correlation::Fifo]);
        let done = feed(&mut t, (0..6).map(|i| StageEvent::done(0, ms(i))).collect());
        assert_eq!(t.open_count(), 4);
        assert_eq!(t.counters().evicted, 2);
        let ids: Vec<_> = done.iter().map(|c| (c.id.as_str(), c.outcome)).collect();
        assert_eq!(
            ids,
            vec![("cmd-0", Outcome::Abandoned), ("cmd-1", Outcome::Abandoned)]
        );
    }

    #[test]
    fn duplicates_unknown_stages_and_reordering_are_counted_not_fatal() {
        let mut t = tracker(&[id(), id(), id(), id()]);
        let done = feed(
            &mut t,
            vec![
                StageEvent::done(0, ms(100)).with_id("a"),
                StageEvent::done(0, ms(100)).with_id("a"),
                StageEvent::done(9, ms(100)).with_id("a"),
                StageEvent::done(2, ms(150)).with_id("a"),
                // stage 1 arrives after stage 2 and is stamped before stage 0
                StageEvent::done(1, ms(50)).with_id("a"),
                StageEvent::done(1, ms(60)).with_id("zzz"),
            ],
        );
        let c = t.counters();
        assert_eq!(c.duplicates, 1);
        assert_eq!(c.unknown_stage, 1);
        assert_eq!(c.out_of_order, 1);
        assert_eq!(c.unmatched, 1);
        assert!(done.is_empty(), "the last stage was never reached");
    }

    #[test]
    fn flush_abandons_everything_open() {
        let mut t = tracker(&[Correlation::Fifo, Correlation::Fifo]);
        let mut done = feed(
            &mut t,
            vec![StageEvent::done(0, ms(0)), StageEvent::done(0, ms(1))],
        );
        t.flush(ms(5), &mut done);
        assert_eq!(done.len(), 2);
        assert!(done.iter().all(|c| c.outcome == Outcome::Abandoned));
        assert_eq!(t.open_count(), 0);
    }

    #[test]
    fn invalid_configurations_are_rejected_by_name() {
        let mk = |stages: Vec<StageSpec>, max_open, timeout| {
            Tracker::new(TrackerConfig {
                stages,
                max_open,
                command_timeout: timeout,
            })
            .err()
        };
        let s = |n: &str| StageSpec::new(n, Correlation::Fifo);
        assert_eq!(mk(vec![], 1, ms(1)), Some(Error::NoStages));
        assert_eq!(
            mk(vec![s("a"), s("a")], 1, ms(1)),
            Some(Error::DuplicateStage {
                index: 1,
                name: "a".into()
            })
        );
        assert_eq!(mk(vec![s("a")], 0, ms(1)), Some(Error::ZeroMaxOpen));
        assert_eq!(mk(vec![s("a")], 1, ms(0)), Some(Error::ZeroTimeout));
    }

    fn arb_event(stages: usize) -> impl Strategy<Value = StageEvent> {
        (
            0..stages + 1,
            0u64..5_000,
            proptest::option::of(0u8..6),
            proptest::option::of(0u64..6),
            any::<bool>(),
        )
            .prop_map(|(stage, at, id, stamp, fail)| {
                let mut e = StageEvent::done(stage, ms(at));
                e.id = id.map(|i| format!("c{i}"));
                e.stamp = stamp.map(ms);
                if fail && stage % 2 == 1 {
                    e = e.failed();
                }
                e
            })
    }

    proptest! {
        #[test]
        fn every_opened_command_is_accounted_for_exactly_once(
            events in proptest::collection::vec(arb_event(4), 0..200),
            modes in proptest::collection::vec(0u8..3, 4),
        ) {
            let corr: Vec<_> = modes.iter().map(|m| match m {
                0 => Correlation::Fifo,
                1 => Correlation::HeaderStamp,
                _ => id(),
            }).collect();
            let mut t = tracker(&corr);
            let mut done = Vec::new();
            let mut now = Duration::ZERO;
            for e in events {
                now = now.max(e.at);
                t.ingest(e, &mut done);
                prop_assert!(t.open_count() <= 4);
                t.expire(now, &mut done);
            }
            let open = t.open_count() as u64;
            t.flush(now, &mut done);
            prop_assert_eq!(done.len() as u64, t.counters().opened);
            prop_assert!(open <= 4);
            prop_assert_eq!(t.open_count(), 0);
            for c in &done {
                prop_assert_eq!(c.stage_latency.len(), 4);
                prop_assert_eq!(c.failed_stage.is_some(), c.outcome == Outcome::Failed);
                if c.outcome != Outcome::Succeeded {
                    prop_assert!(c.end_to_end.is_none());
                }
                prop_assert!(c.ended_at >= c.started_at);
            }
        }
    }
}
