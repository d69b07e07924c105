//! Pipeline discovery: which topics are a stack's command pipeline, in which order, and how
//! each stage's messages find their command, inferred from what the topics carried and when.
//!
//! The input is the traffic of every topic ([`TopicTraffic`]: when each message was produced,
//! its header stamp, the scalar keys of a JSON payload or id field, and for action status
//! arrays the goal statuses it changed). The output ([`Discovery`]) is a proposed pipeline
//! with the evidence behind every choice, the streams to watch, and the topics rejected.
//!
//! How (`docs/discover.md` has the user's view):
//! 1. **Series.** One per topic, two per action status topic (goals starting to execute;
//!    goals ending), each the sorted times of its events.
//! 2. **"B follows A".** Each message of A opens a window up to A's next message; B follows A
//!    when B's first message in the window is there for at least half the windows
//!    (coverage), at most once per window for nearly all of B (it fires once per command,
//!    not as a stream), and at a consistent lag: the lags' interquartile range is small
//!    against A's typical gap. A topic published on a timer at the command rate lands at a
//!    lag spread over the whole gap and fails this.
//! 3. **Root.** With an action status topic, the root (voice-like input) is the series the
//!    ending goals follow from furthest back; without one, the series most others follow.
//!    Stages are the series that follow the root, ordered by their lag from it; action
//!    status comes last by construction (its goals end after everything they needed).
//! 4. **Streams that answer commands.** A stream far faster than the commands (camera,
//!    detections) is a stage only when it gates the next stage: the next stage's lag from
//!    the stream's first message after the previous stage varies clearly less than its lag
//!    from the previous stage itself, i.e. the next stage waits for that message.
//! 5. **Correlation per stage**, from the messages paired to commands by the windows: an id
//!    key whose values are unique per command and repeat along the chain (or are named as
//!    ids); a header stamp equal to the command's first stamp (copied downstream); else
//!    FIFO, with the alternation that makes FIFO exact as evidence.
//!
//! Commands must be driven one at a time while discovering (a command that starts before
//! the previous one ended falls into its window); [`Discovery::problem`] says when too few
//! were seen. Pure: every time is an argument.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::timeline::Correlation;

/// Fewest commands a pipeline is inferred from.
pub const MIN_COMMANDS: usize = 3;

/// `action_msgs/msg/GoalStatus` values.
pub mod goal_status {
    /// ACCEPTED.
    pub const ACCEPTED: i8 = 1;
    /// EXECUTING.
    pub const EXECUTING: i8 = 2;
    /// SUCCEEDED.
    pub const SUCCEEDED: i8 = 4;
    /// CANCELED.
    pub const CANCELED: i8 = 5;
    /// ABORTED.
    pub const ABORTED: i8 = 6;
}

/// The ROS type of action status topics.
pub const GOAL_STATUS_ARRAY: &str = "action_msgs/msg/GoalStatusArray";

/// A scalar a message carried under a key.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Text (JSON string, id field).
    Text(String),
    /// A number (JSON number).
    Number(f64),
    /// A boolean (JSON true/false).
    Bool(bool),
}

impl Value {
    /// The value as the collector compares it: text as is, numbers and booleans printed.
    pub fn as_key(&self) -> String {
        match self {
            Value::Text(t) => t.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
        }
    }
}

/// One message as discovery needs it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Observed {
    /// When it was produced (the publisher's source time, else its arrival), since the epoch.
    pub at: Duration,
    /// Its header stamp, when its type has a header and the stamp is set.
    pub stamp: Option<Duration>,
    /// Scalar keys (dotted JSON paths of a string payload, id fields of a typed message).
    pub keys: Vec<(String, Value)>,
    /// For action status arrays: the statuses goals reached in this message (one per goal
    /// whose status changed since the previous array).
    pub goals: Vec<i8>,
}

/// Everything seen on one topic.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TopicTraffic {
    /// Topic name.
    pub topic: String,
    /// ROS type, `pkg/msg/Type`.
    pub msg_type: String,
    /// Publishing nodes (or participants), as the graph names them.
    pub publishers: Vec<String>,
    /// Its messages, in any order.
    pub messages: Vec<Observed>,
    /// Messages that could not be decoded as their type.
    pub undecodable: u64,
    /// Whether the type starts with a `std_msgs/Header` (stamps were readable and plausible).
    pub stamped: bool,
}

/// Low, median and high (10th, 50th, 90th percentile) of a set of lags.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Spread {
    /// 10th percentile.
    pub p10: Duration,
    /// Median.
    pub p50: Duration,
    /// 90th percentile.
    pub p90: Duration,
}

impl Spread {
    fn of(values: &[Duration]) -> Self {
        let mut v = values.to_vec();
        v.sort();
        Self {
            p10: quantile(&v, 0.10),
            p50: quantile(&v, 0.50),
            p90: quantile(&v, 0.90),
        }
    }
}

/// One choice with its evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    /// 0..1: how strongly the observations support the choice.
    pub confidence: f64,
    /// Commands (or messages) the choice was judged on.
    pub samples: usize,
    /// Why, in a sentence.
    pub reason: String,
    /// Alternatives considered and why each was not chosen.
    pub rejected: Vec<String>,
    /// Another choice is about as well supported: the user must decide.
    pub ambiguous: bool,
}

/// A `{field, values}` filter of a stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldValues {
    /// Field or JSON key.
    pub field: String,
    /// Matching values, as text.
    pub values: Vec<String>,
}

/// JSON keys of a string stage.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JsonKeys {
    /// Key of the command id.
    pub id: Option<String>,
    /// Key of a confidence in 0..1.
    pub confidence: Option<String>,
    /// Key of a status text.
    pub status: Option<String>,
}

/// One proposed pipeline stage.
#[derive(Debug, Clone, PartialEq)]
pub struct ProposedStage {
    /// Stage name.
    pub name: String,
    /// Topic.
    pub topic: String,
    /// ROS type.
    pub msg_type: String,
    /// Correlation rule.
    pub correlation: Correlation,
    /// Why this correlation.
    pub correlation_evidence: Evidence,
    /// Why this topic is a stage here (lag from the previous stage, coverage).
    pub placement: Evidence,
    /// JSON keys read from a string payload.
    pub json: JsonKeys,
    /// Accepted values (action status stages).
    pub accept: Option<FieldValues>,
    /// Failure values.
    pub failure: Option<FieldValues>,
    /// Lag from the previous stage (none for the first).
    pub lag: Option<Spread>,
    /// Messages seen on the topic.
    pub messages: usize,
}

/// A topic proposed for topic health only.
#[derive(Debug, Clone, PartialEq)]
pub struct ProposedTopic {
    /// Topic.
    pub topic: String,
    /// ROS type.
    pub msg_type: String,
    /// Measured rate, messages per second.
    pub rate_hz: f64,
    /// Whether its type has a header.
    pub stamped: bool,
    /// Why it is watched and not a stage.
    pub reason: String,
}

/// What a topic turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A pipeline stage (or two, for action status).
    Stage,
    /// Watched for rate and age.
    Watched,
    /// Seen but not used (ROS infrastructure, vla_perf's own outputs, too few messages).
    Ignored,
}

/// One topic of the graph with what discovery made of it.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicSummary {
    /// Topic.
    pub topic: String,
    /// ROS type.
    pub msg_type: String,
    /// Publishers.
    pub publishers: Vec<String>,
    /// Messages seen.
    pub messages: usize,
    /// Messages per second over the observation.
    pub rate_hz: f64,
    /// Undecodable messages.
    pub undecodable: u64,
    /// Its role.
    pub role: Role,
    /// Why.
    pub note: String,
}

/// What discovery inferred.
#[derive(Debug, Clone, PartialEq)]
pub struct Discovery {
    /// How long the traffic covers.
    pub span: Duration,
    /// Commands seen (messages of the first stage).
    pub commands: usize,
    /// Every topic, with its role.
    pub topics: Vec<TopicSummary>,
    /// The proposed pipeline, in order (empty when none was found).
    pub stages: Vec<ProposedStage>,
    /// Topics proposed for topic health.
    pub watched: Vec<ProposedTopic>,
    /// Series that were candidates for the chain and why they are not in it.
    pub rejected: Vec<String>,
    /// Why no pipeline could be inferred, and what discovery needs.
    pub problem: Option<String>,
}

/// Topics never part of a stack's pipeline: ROS 2 infrastructure.
const INFRASTRUCTURE: [&str; 4] = [
    "/rosout",
    "/parameter_events",
    "/ros_discovery_info",
    "/diagnostics",
];

/// Which part of a topic a series follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// Every message.
    All,
    /// Action goals starting (EXECUTING, else ACCEPTED).
    GoalStart(i8),
    /// Action goals ending (SUCCEEDED, CANCELED, ABORTED).
    GoalEnd,
}

/// One event series: a topic or a part of an action status topic.
#[derive(Debug, Clone)]
struct Series {
    topic: usize,
    part: Part,
    /// Event times, sorted, with the index of the message.
    events: Vec<(Duration, usize)>,
    /// For goal ends: the terminal status of each event.
    statuses: Vec<i8>,
}

impl Series {
    fn times(&self) -> impl Iterator<Item = Duration> + '_ {
        self.events.iter().map(|e| e.0)
    }

    fn len(&self) -> usize {
        self.events.len()
    }

    /// Coefficient of variation of the gaps between events: near 0 for a timer.
    fn gap_cv(&self) -> f64 {
        let gaps: Vec<f64> = self
            .events
            .windows(2)
            .map(|w| secs(w[1].0.saturating_sub(w[0].0)))
            .collect();
        if gaps.len() < 2 {
            return f64::NAN;
        }
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        if mean <= 0.0 {
            return f64::NAN;
        }
        variance(&gaps).sqrt() / mean
    }

    /// Fires like a clock: gaps within 10% of each other.
    fn clock_like(&self) -> bool {
        self.gap_cv() < CLOCK_CV
    }

    fn median_gap(&self) -> Duration {
        let mut gaps: Vec<Duration> = self
            .events
            .windows(2)
            .map(|w| w[1].0.saturating_sub(w[0].0))
            .collect();
        gaps.sort();
        quantile(&gaps, 0.5)
    }
}

/// How B's first message per window of A behaves.
#[derive(Debug, Clone)]
struct Follow {
    /// Per window of A: index into B's events of the first B in it.
    firsts: Vec<Option<usize>>,
    coverage: f64,
    /// Share of B's events that are the first of a window.
    explained: f64,
    lags: Vec<Duration>,
    /// Interquartile range of the lags over A's median gap.
    dispersion: f64,
}

impl Follow {
    fn holds(&self) -> bool {
        self.lags.len() >= 2
            && self.coverage >= 0.5
            && self.explained >= 0.7
            && self.dispersion <= MAX_DISPERSION
    }

    fn median_lag(&self) -> Duration {
        Spread::of(&self.lags).p50
    }

    fn describe(&self) -> String {
        format!(
            "in {:.0}% of the windows, {:.0}% of its messages once per window, lag IQR {:.2} of \
             the command gap",
            self.coverage * 100.0,
            self.explained * 100.0,
            self.dispersion
        )
    }
}

/// Largest interquartile range of a stage's lag, as a share of the gap between commands,
/// for it to count as answering commands. A topic on a timer independent of the commands
/// spreads its lags over the whole gap (about 0.5).
const MAX_DISPERSION: f64 = 0.3;

/// Gaps varying less than this (coefficient of variation) make a series a clock. People
/// do not speak commands that regularly, and a stage caused by commands inherits their
/// irregularity.
const CLOCK_CV: f64 = 0.1;

/// Smallest t statistic of the gating slope (see [`Gating`]) for a stream to count as
/// gating the next stage.
const MIN_GATING_T: f64 = 3.0;

/// Whether stage B waits for a stream's first message after stage A: regress B's lag from A
/// on the wait from A to that message. B waiting for it gives slope 1 (each millisecond of
/// wait delays B by one); B independent of the stream gives slope 0.
#[derive(Debug, Clone, Copy)]
struct Gating {
    slope: f64,
    /// slope over its standard error.
    t: f64,
    /// Median wait from the previous stage to the stream's message, in seconds.
    wait: f64,
    n: usize,
}

impl Gating {
    fn fit(waits: &[f64], direct: &[f64]) -> Option<Self> {
        let n = waits.len();
        if n < MIN_COMMANDS + 1 {
            return None;
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let (mw, md) = (mean(waits), mean(direct));
        let sww: f64 = waits.iter().map(|w| (w - mw).powi(2)).sum();
        if sww <= 0.0 {
            return None;
        }
        let swd: f64 = waits
            .iter()
            .zip(direct)
            .map(|(w, d)| (w - mw) * (d - md))
            .sum();
        let slope = swd / sww;
        let rss: f64 = waits
            .iter()
            .zip(direct)
            .map(|(w, d)| (d - md - slope * (w - mw)).powi(2))
            .sum();
        let se = (rss / (n - 2) as f64 / sww).sqrt();
        Some(Self {
            slope,
            t: if se > 0.0 { slope / se } else { f64::INFINITY },
            wait: {
                let mut w = waits.to_vec();
                w.sort_by(f64::total_cmp);
                w[w.len() / 2]
            },
            n,
        })
    }

    fn gates(&self) -> bool {
        (0.5..=1.5).contains(&self.slope) && self.t >= MIN_GATING_T
    }

    fn describe(&self) -> String {
        format!(
            "its lag grows with the wait for the stream's next message, slope {:.2} (1 = waits \
             for it, 0 = independent; t = {:.1}, {} commands)",
            self.slope, self.t, self.n
        )
    }
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// B's first events in the windows of A (`A[i]` up to `A[i+1]`; the last window is one
/// median gap long).
fn follow(a: &Series, b: &Series) -> Follow {
    let gap = a.median_gap();
    let a_times: Vec<Duration> = a.times().collect();
    let b_times: Vec<Duration> = b.times().collect();
    let mut firsts = Vec::with_capacity(a_times.len());
    let mut lags = Vec::new();
    for (i, &start) in a_times.iter().enumerate() {
        let end = a_times.get(i + 1).copied().unwrap_or(start + gap);
        let j = b_times.partition_point(|&t| t < start);
        match b_times.get(j) {
            Some(&t) if t < end || (i + 1 == a_times.len() && gap.is_zero()) => {
                firsts.push(Some(j));
                lags.push(t - start);
            }
            _ => firsts.push(None),
        }
    }
    let hits = lags.len();
    let mut sorted = lags.clone();
    sorted.sort();
    let iqr = quantile(&sorted, 0.75).saturating_sub(quantile(&sorted, 0.25));
    let dispersion = if gap.is_zero() {
        f64::INFINITY
    } else {
        secs(iqr) / secs(gap)
    };
    Follow {
        firsts,
        coverage: hits as f64 / a_times.len().max(1) as f64,
        explained: hits as f64 / b_times.len().max(1) as f64,
        lags,
        dispersion,
    }
}

fn ignored_topic(topic: &str, msg_type: &str, own_namespace: &str) -> Option<&'static str> {
    let ns = own_namespace.trim_end_matches('/');
    if INFRASTRUCTURE.contains(&topic) || topic.starts_with("/tf") {
        return Some("ROS 2 infrastructure");
    }
    if (!ns.is_empty() && topic.starts_with(&format!("{ns}/")))
        || (msg_type.starts_with("vla_perf/") && msg_type != "vla_perf/msg/StageEvent")
    {
        return Some("vla_perf's own output");
    }
    if topic.contains("/_action/") && !topic.ends_with("/_action/status") {
        return Some("action feedback (the status topic carries goal starts and ends)");
    }
    None
}

fn build_series(traffic: &[TopicTraffic], usable: &[bool]) -> Vec<Series> {
    let mut out = Vec::new();
    for (ti, t) in traffic.iter().enumerate() {
        if !usable[ti] {
            continue;
        }
        let mut order: Vec<usize> = (0..t.messages.len()).collect();
        order.sort_by_key(|&i| t.messages[i].at);
        if t.msg_type != GOAL_STATUS_ARRAY {
            out.push(Series {
                topic: ti,
                part: Part::All,
                events: order.iter().map(|&i| (t.messages[i].at, i)).collect(),
                statuses: Vec::new(),
            });
            continue;
        }
        let has = |s: i8| t.messages.iter().any(|m| m.goals.contains(&s));
        let start = if has(goal_status::EXECUTING) {
            Some(goal_status::EXECUTING)
        } else if has(goal_status::ACCEPTED) {
            Some(goal_status::ACCEPTED)
        } else {
            None
        };
        if let Some(s) = start {
            let events = order
                .iter()
                .filter(|&&i| t.messages[i].goals.contains(&s))
                .map(|&i| (t.messages[i].at, i))
                .collect();
            out.push(Series {
                topic: ti,
                part: Part::GoalStart(s),
                events,
                statuses: Vec::new(),
            });
        }
        let mut end = Series {
            topic: ti,
            part: Part::GoalEnd,
            events: Vec::new(),
            statuses: Vec::new(),
        };
        for &i in &order {
            for &g in &t.messages[i].goals {
                if matches!(
                    g,
                    goal_status::SUCCEEDED | goal_status::CANCELED | goal_status::ABORTED
                ) {
                    end.events.push((t.messages[i].at, i));
                    end.statuses.push(g);
                }
            }
        }
        if !end.events.is_empty() {
            out.push(end);
        }
    }
    out
}

/// Infers the pipeline from `traffic`, observed over `span`. `own_namespace` is the
/// collector's output prefix (`/vla_perf`), whose topics are never stages.
pub fn discover(traffic: &[TopicTraffic], own_namespace: &str) -> Discovery {
    let span = observed_span(traffic);
    let notes: Vec<Option<&'static str>> = traffic
        .iter()
        .map(|t| ignored_topic(&t.topic, &t.msg_type, own_namespace))
        .collect();
    let usable: Vec<bool> = traffic
        .iter()
        .zip(&notes)
        .map(|(t, n)| n.is_none() && !t.messages.is_empty())
        .collect();
    let series = build_series(traffic, &usable);
    let mut out = Discovery {
        span,
        commands: 0,
        topics: Vec::new(),
        stages: Vec::new(),
        watched: Vec::new(),
        rejected: Vec::new(),
        problem: None,
    };
    let chain = infer_chain(traffic, &series, &mut out);
    let in_chain: BTreeSet<usize> = chain.iter().map(|l| series[l.series].topic).collect();
    if !chain.is_empty() {
        out.commands = series[chain[0].series].len();
        out.stages = propose_stages(traffic, &series, &chain);
    }
    for (ti, t) in traffic.iter().enumerate() {
        let rate = rate_hz(t.messages.len(), span);
        let (role, note) = if in_chain.contains(&ti) {
            (Role::Stage, "pipeline stage".to_owned())
        } else if let Some(n) = notes[ti] {
            (Role::Ignored, n.to_owned())
        } else if t.messages.len() < 2 {
            (Role::Ignored, "fewer than 2 messages".to_owned())
        } else {
            let reason = out
                .rejected
                .iter()
                .find(|r| r.starts_with(&format!("{} ", t.topic)))
                .map(|r| format!("not a stage: {}", &r[t.topic.len() + 1..]))
                .unwrap_or_else(|| "a stream, not once per command".to_owned());
            out.watched.push(ProposedTopic {
                topic: t.topic.clone(),
                msg_type: t.msg_type.clone(),
                rate_hz: rate,
                stamped: t.stamped,
                reason: reason.clone(),
            });
            (Role::Watched, reason)
        };
        out.topics.push(TopicSummary {
            topic: t.topic.clone(),
            msg_type: t.msg_type.clone(),
            publishers: t.publishers.clone(),
            messages: t.messages.len(),
            rate_hz: rate,
            undecodable: t.undecodable,
            role,
            note,
        });
    }
    out
}

fn observed_span(traffic: &[TopicTraffic]) -> Duration {
    let times = traffic.iter().flat_map(|t| t.messages.iter().map(|m| m.at));
    let (lo, hi) = times.fold(
        (None, None),
        |(lo, hi): (Option<Duration>, Option<Duration>), t| {
            (
                Some(lo.map_or(t, |l| l.min(t))),
                Some(hi.map_or(t, |h| h.max(t))),
            )
        },
    );
    match (lo, hi) {
        (Some(lo), Some(hi)) => hi - lo,
        _ => Duration::ZERO,
    }
}

fn rate_hz(messages: usize, span: Duration) -> f64 {
    if span.is_zero() || messages < 2 {
        return 0.0;
    }
    (messages - 1) as f64 / secs(span)
}

/// One link of the chain: a series, and how it follows the root or its predecessor.
#[derive(Debug, Clone)]
struct Link {
    series: usize,
    /// Per command: the index into the series' events of this stage's event.
    per_command: Vec<Option<usize>>,
    placement: Evidence,
    lag: Option<Spread>,
}

fn label(traffic: &[TopicTraffic], s: &Series) -> String {
    let topic = &traffic[s.topic].topic;
    match s.part {
        Part::All => topic.clone(),
        Part::GoalStart(st) => format!("{topic} (goals reaching status {st})"),
        Part::GoalEnd => format!("{topic} (goals ending)"),
    }
}

// Long: root choice, members, order and the streams that gate a stage read as one story.
fn infer_chain(traffic: &[TopicTraffic], series: &[Series], out: &mut Discovery) -> Vec<Link> {
    let candidates: Vec<usize> = (0..series.len())
        .filter(|&i| series[i].part == Part::All && series[i].len() >= 2)
        .collect();
    let Some(root) = choose_root(traffic, series, &candidates) else {
        out.problem = Some(no_chain_problem(traffic, series));
        return Vec::new();
    };
    let root_len = series[root].len();
    if root_len < MIN_COMMANDS {
        out.problem = Some(format!(
            "saw only {root_len} command(s) on {}; discovery needs at least {MIN_COMMANDS}: \
             speak (or send) commands one at a time while it listens, or record more",
            label(traffic, &series[root])
        ));
        return Vec::new();
    }
    let mut members: Vec<(usize, Follow)> = Vec::new();
    let mut streams = Vec::new();
    for (i, s) in series.iter().enumerate() {
        if i == root {
            continue;
        }
        let f = follow(&series[root], s);
        let clock = s.clock_like() && s.gap_cv() < 0.5 * series[root].gap_cv();
        if f.holds() && clock {
            out.rejected.push(format!(
                "{} fires like a clock (gaps vary {:.0}%, commands {:.0}%): a timer at about the \
                 command rate, not caused by commands",
                label(traffic, s),
                s.gap_cv() * 100.0,
                series[root].gap_cv() * 100.0
            ));
        } else if f.holds() {
            members.push((i, f));
        } else if s.len() as f64 > 2.5 * root_len as f64 && s.part == Part::All {
            streams.push(i);
        } else if s.len() >= 2 {
            out.rejected.push(format!(
                "{} does not follow {}: {}",
                label(traffic, s),
                traffic[series[root].topic].topic,
                f.describe()
            ));
        }
    }
    drop_outside_command_span(traffic, series, &mut members, out);
    if members.is_empty() {
        out.problem = Some(format!(
            "{} fired {root_len} times, but no other topic answered it once per command at a \
             consistent lag; discovery needs the stack's stages to publish while commands are \
             spoken one at a time",
            label(traffic, &series[root])
        ));
        return Vec::new();
    }
    members.sort_by_key(|(_, f)| f.median_lag());
    let root_placement = Evidence {
        confidence: 1.0,
        samples: root_len,
        reason: format!(
            "first of the chain: {} later stage(s) follow each of its {root_len} messages",
            members.len()
        ),
        rejected: Vec::new(),
        ambiguous: false,
    };
    let mut chain = vec![Link {
        series: root,
        per_command: (0..root_len).map(Some).collect(),
        placement: root_placement,
        lag: None,
    }];
    for (i, f) in members {
        let lag = Spread::of(&f.lags);
        let placement = Evidence {
            confidence: f.coverage.min(f.explained) * (1.0 - f.dispersion / MAX_DISPERSION / 2.0),
            samples: f.lags.len(),
            reason: format!(
                "follows {} {}; lag from it p50 {:.0} ms (p10 {:.0}, p90 {:.0})",
                traffic[series[root].topic].topic,
                f.describe(),
                secs(lag.p50) * 1e3,
                secs(lag.p10) * 1e3,
                secs(lag.p90) * 1e3
            ),
            rejected: Vec::new(),
            ambiguous: false,
        };
        chain.push(Link {
            series: i,
            per_command: f.firsts,
            placement,
            lag: None,
        });
    }
    insert_gating_streams(traffic, series, &streams, &mut chain, out);
    for k in 1..chain.len() {
        let lags = stage_lags(series, &chain[k - 1], &chain[k]);
        chain[k].lag = (!lags.is_empty()).then(|| Spread::of(&lags));
    }
    chain
}

/// With an action status topic, a stage fires between a command's first message and its
/// goal's end. A topic on a timer at about the command rate also lands once per command at a
/// steady lag, but often after the goal ended, while the stack is idle: it is dropped.
fn drop_outside_command_span(
    traffic: &[TopicTraffic],
    series: &[Series],
    members: &mut Vec<(usize, Follow)>,
    out: &mut Discovery,
) {
    let Some(end) = members
        .iter()
        .position(|(i, _)| series[*i].part == Part::GoalEnd)
    else {
        return;
    };
    let ends: Vec<Option<Duration>> = members[end]
        .1
        .firsts
        .iter()
        .map(|e| e.map(|e| series[members[end].0].events[e].0))
        .collect();
    members.retain(|(i, f)| {
        let s = &series[*i];
        let (mut inside, mut total) = (0usize, 0usize);
        for (e, end) in f.firsts.iter().zip(&ends) {
            if let (Some(e), Some(end)) = (e, end) {
                total += 1;
                inside += usize::from(s.events[*e].0 <= *end);
            }
        }
        // A command that overlapped the next one now and then (its goal ended after the next
        // command started) misplaces a window; a timer lands outside far more often.
        let keep = total == 0 || inside * 5 >= total * 4;
        if !keep {
            out.rejected.push(format!(
                "{} fires after the command's goal ended in {} of {total} commands: not caused \
                 by commands (a timer at about the command rate?)",
                label(traffic, s),
                total - inside
            ));
        }
        keep
    });
}

fn no_chain_problem(traffic: &[TopicTraffic], series: &[Series]) -> String {
    let active = series.iter().filter(|s| s.len() >= 2).count();
    if traffic.iter().all(|t| t.messages.is_empty()) {
        format!(
            "no messages on any of the {} topic(s) seen: discovery needs traffic; start the \
             stack and speak (or send) at least {MIN_COMMANDS} commands, one at a time, while \
             it listens",
            traffic.len()
        )
    } else {
        format!(
            "no topic fires once per command: {active} topic(s) carried messages but none is \
             followed by the others at a consistent lag; speak (or send) at least \
             {MIN_COMMANDS} commands, one at a time, while discovery listens"
        )
    }
}

/// The series commands start on.
fn choose_root(traffic: &[TopicTraffic], series: &[Series], candidates: &[usize]) -> Option<usize> {
    let ends: Vec<usize> = (0..series.len())
        .filter(|&i| series[i].part == Part::GoalEnd)
        .collect();
    // With action status: of the candidates the ending goals follow, a voice-like one (a
    // sequential pipeline is a cycle, and timing alone cannot tell where a cycle starts),
    // else the one furthest back.
    let followers = |c: usize| {
        (0..series.len())
            .filter(|&o| o != c && follow(&series[c], &series[o]).holds())
            .count()
    };
    let mut best: Option<((bool, bool, Duration), usize)> = None;
    for &end in &ends {
        for &c in candidates {
            let f = follow(&series[c], &series[end]);
            if !f.holds() {
                continue;
            }
            let score = (
                voice_like(&traffic[series[c].topic]),
                !series[c].clock_like(),
                f.median_lag(),
            );
            if best.is_none_or(|(b, _)| score > b) {
                best = Some((score, c));
            }
        }
    }
    if let Some((_, root)) = best {
        return Some(root);
    }
    // Without: the candidate most others follow; ties go to the voice-like one.
    let score = |c: usize| {
        (
            voice_like(&traffic[series[c].topic]),
            !series[c].clock_like(),
            followers(c),
        )
    };
    candidates
        .iter()
        .copied()
        .map(|c| (score(c), c))
        .filter(|((_, _, followers), _)| *followers > 0)
        .max_by_key(|(s, c)| (*s, std::cmp::Reverse(*c)))
        .map(|(_, c)| c)
}

fn voice_like(t: &TopicTraffic) -> bool {
    let name = t.topic.to_ascii_lowercase();
    t.msg_type.starts_with("audio_common_msgs/")
        || ["voice", "audio", "speech", "utterance", "mic"]
            .iter()
            .any(|w| name.contains(w))
}

/// Each link's event per command, as indexes into its series; for the gap between two
/// links, the lag of the later from the earlier.
fn stage_lags(series: &[Series], a: &Link, b: &Link) -> Vec<Duration> {
    a.per_command
        .iter()
        .zip(&b.per_command)
        .filter_map(|(x, y)| {
            let ta = series[a.series].events[(*x)?].0;
            let tb = series[b.series].events[(*y)?].0;
            tb.checked_sub(ta)
        })
        .collect()
}

fn variance(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0)
}

/// Puts a fast stream between two links when the later one waits for the stream's first
/// message after the earlier one.
fn insert_gating_streams(
    traffic: &[TopicTraffic],
    series: &[Series],
    streams: &[usize],
    chain: &mut Vec<Link>,
    out: &mut Discovery,
) {
    let mut k = 1;
    while k < chain.len() {
        let (a, b) = (&chain[k - 1], &chain[k]);
        let mut best: Option<(Gating, usize, Vec<Option<usize>>, usize)> = None;
        let mut notes = Vec::new();
        for &s in streams {
            let times: Vec<Duration> = series[s].times().collect();
            let mut direct = Vec::new();
            let mut waits = Vec::new();
            let mut firsts = vec![None; a.per_command.len()];
            for (c, (x, y)) in a.per_command.iter().zip(&b.per_command).enumerate() {
                let (Some(x), Some(y)) = (x, y) else { continue };
                let ta = series[a.series].events[*x].0;
                let tb = series[b.series].events[*y].0;
                let j = times.partition_point(|&t| t < ta);
                if let Some(&ts) = times.get(j).filter(|&&ts| ts <= tb) {
                    firsts[c] = Some(j);
                    direct.push(secs(tb - ta));
                    waits.push(secs(ts - ta));
                }
            }
            let pairs = a
                .per_command
                .iter()
                .zip(&b.per_command)
                .filter(|(x, y)| x.is_some() && y.is_some())
                .count();
            // A stream the next stage waits for has its message before that stage every time.
            if direct.len() < MIN_COMMANDS || direct.len() * 20 < pairs * 19 {
                continue;
            }
            let Some(fit) = Gating::fit(&waits, &direct) else {
                continue;
            };
            notes.push((s, fit));
            // Of several gating streams (camera frames and the detections made from them),
            // the one closest to the next stage: the latest to arrive after the previous one.
            if fit.gates() && best.as_ref().is_none_or(|b| fit.wait > b.0.wait) {
                best = Some((fit, s, firsts, direct.len()));
            }
        }
        let Some((fit, s, firsts, samples)) = best else {
            k += 1;
            continue;
        };
        let (prev, next) = (
            traffic[series[a.series].topic].topic.clone(),
            label(traffic, &series[b.series]),
        );
        let rejected = notes
            .iter()
            .filter(|(o, _)| *o != s)
            .map(|(o, f)| {
                format!(
                    "{}: {}{}",
                    traffic[series[*o].topic].topic,
                    f.describe(),
                    if f.gates() {
                        " (gates too, but arrives earlier: upstream of the chosen stream)"
                    } else {
                        ""
                    }
                )
            })
            .collect();
        let placement = Evidence {
            confidence: (1.0 - (fit.slope - 1.0).abs()).clamp(0.0, 1.0),
            samples,
            reason: format!(
                "a stream that answers commands: {next} waits for its first message after \
                 {prev}: {}",
                fit.describe()
            ),
            rejected,
            ambiguous: fit.t < 2.0 * MIN_GATING_T,
        };
        chain.insert(
            k,
            Link {
                series: s,
                per_command: firsts,
                placement,
                lag: None,
            },
        );
        out.rejected
            .retain(|r| !r.starts_with(&traffic[series[s].topic].topic));
        k += 2;
    }
}

// Long: the stage record gathers correlation, JSON keys and filters for one link.
fn propose_stages(
    traffic: &[TopicTraffic],
    series: &[Series],
    chain: &[Link],
) -> Vec<ProposedStage> {
    let mut stages: Vec<ProposedStage> = Vec::new();
    let mut used_names = BTreeSet::new();
    for (k, link) in chain.iter().enumerate() {
        let s = &series[link.series];
        let t = &traffic[s.topic];
        let messages = paired_messages(series, link);
        let (correlation, evidence, id_key) = correlation_for(traffic, series, chain, k);
        let json = if t.msg_type == "std_msgs/msg/String" {
            JsonKeys {
                id: id_key.clone(),
                confidence: confidence_key(t, &messages),
                status: status_key(t, &messages),
            }
        } else {
            JsonKeys::default()
        };
        let (accept, failure) = filters(t, s, &json);
        let name = unique_name(stage_name(t, s, k, chain.len()), &mut used_names);
        stages.push(ProposedStage {
            name,
            topic: t.topic.clone(),
            msg_type: t.msg_type.clone(),
            correlation,
            correlation_evidence: evidence,
            placement: link.placement.clone(),
            json,
            accept,
            failure,
            lag: link.lag,
            messages: t.messages.len(),
        });
    }
    stages
}

/// The messages of `link`, one per command it reached.
fn paired_messages(series: &[Series], link: &Link) -> Vec<Option<usize>> {
    let s = &series[link.series];
    link.per_command
        .iter()
        .map(|e| e.map(|e| s.events[e].1))
        .collect()
}

fn unique_name(base: String, used: &mut BTreeSet<String>) -> String {
    let mut name = base.clone();
    let mut n = 2;
    while !used.insert(name.clone()) {
        name = format!("{base}_{n}");
        n += 1;
    }
    name
}

fn stage_name(t: &TopicTraffic, s: &Series, k: usize, len: usize) -> String {
    match s.part {
        Part::GoalStart(_) => return "action_start".into(),
        Part::GoalEnd => return "action_done".into(),
        Part::All => {}
    }
    let topic = t.topic.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| topic.contains(w));
    let key = |k: &str| {
        t.messages
            .iter()
            .any(|m| m.keys.iter().any(|(n, _)| n == k))
    };
    if k == 0 {
        return "voice".into();
    }
    if t.msg_type.starts_with("vision_msgs/")
        || t.msg_type.starts_with("sensor_msgs/")
        || has(&["vision", "detect", "percept", "camera", "image"])
    {
        return "vision".into();
    }
    if has(&["plan", "llm"]) || key("steps") || key("plan") {
        return "plan".into();
    }
    if has(&["asr", "stt", "transcript", "speech", "text"]) || key("text") {
        return "transcript".into();
    }
    if k + 1 == len {
        return "action_done".into();
    }
    let last = t.topic.rsplit('/').next().unwrap_or("stage");
    let mut name: String = last
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert_str(0, "stage_");
    }
    name
}

fn key_values<'a>(
    t: &'a TopicTraffic,
    messages: &[Option<usize>],
    key: &str,
) -> Vec<Option<&'a Value>> {
    messages
        .iter()
        .map(|m| {
            m.and_then(|i| {
                t.messages[i]
                    .keys
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v)
            })
        })
        .collect()
}

fn all_keys(t: &TopicTraffic) -> BTreeSet<String> {
    t.messages
        .iter()
        .flat_map(|m| m.keys.iter().map(|(k, _)| k.clone()))
        .collect()
}

fn last_segment(key: &str) -> String {
    key.rsplit('.').next().unwrap_or(key).to_ascii_lowercase()
}

fn id_named(key: &str) -> bool {
    let segment = key.rsplit('.').next().unwrap_or(key);
    let k = segment.to_ascii_lowercase();
    ["id", "uid", "uuid", "guid"].contains(&k.as_str())
        || ["_id", "_uid", "_uuid"].iter().any(|s| k.ends_with(s))
        || segment.ends_with("Id")
        || segment.ends_with("ID")
}

fn confidence_key(t: &TopicTraffic, messages: &[Option<usize>]) -> Option<String> {
    all_keys(t).into_iter().find(|k| {
        let name = last_segment(k);
        ["confidence", "conf", "score", "probability"].contains(&name.as_str())
            && key_values(t, messages, k)
                .iter()
                .flatten()
                .all(|v| matches!(v, Value::Number(n) if (0.0..=1.0).contains(n)))
    })
}

fn status_key(t: &TopicTraffic, messages: &[Option<usize>]) -> Option<String> {
    all_keys(t).into_iter().find(|k| {
        let name = last_segment(k);
        let values: BTreeSet<String> = key_values(t, messages, k)
            .iter()
            .flatten()
            .map(|v| v.as_key())
            .collect();
        ["status", "state", "result", "outcome"].contains(&name.as_str())
            && !values.is_empty()
            && values.len() <= 8
    })
}

const FAILURE_WORDS: [&str; 10] = [
    "rejected",
    "failed",
    "failure",
    "error",
    "aborted",
    "canceled",
    "cancelled",
    "invalid",
    "timeout",
    "timed_out",
];

fn filters(
    t: &TopicTraffic,
    s: &Series,
    json: &JsonKeys,
) -> (Option<FieldValues>, Option<FieldValues>) {
    let field = |values: &[i8]| FieldValues {
        field: "status".into(),
        values: values.iter().map(|v| v.to_string()).collect(),
    };
    match s.part {
        Part::GoalStart(st) => return (Some(field(&[st])), None),
        Part::GoalEnd => {
            return (
                Some(field(&[
                    goal_status::SUCCEEDED,
                    goal_status::CANCELED,
                    goal_status::ABORTED,
                ])),
                Some(field(&[goal_status::CANCELED, goal_status::ABORTED])),
            )
        }
        Part::All => {}
    }
    let Some(key) = &json.status else {
        return (None, None);
    };
    let seen: BTreeSet<String> = t
        .messages
        .iter()
        .flat_map(|m| {
            m.keys
                .iter()
                .filter(|(k, _)| k == key)
                .map(|(_, v)| v.as_key())
        })
        .collect();
    let failing: Vec<String> = seen
        .into_iter()
        .filter(|v| FAILURE_WORDS.contains(&v.to_ascii_lowercase().as_str()))
        .collect();
    let failure = (!failing.is_empty()).then(|| FieldValues {
        field: key.clone(),
        values: failing,
    });
    (None, failure)
}

/// A key whose value is a token (no whitespace, not too long): ids are.
fn token(v: &Value) -> Option<String> {
    match v {
        Value::Text(t) if !t.is_empty() && t.len() <= 64 && !t.contains(char::is_whitespace) => {
            Some(t.clone())
        }
        Value::Number(n) if n.fract() == 0.0 => Some(v.as_key()),
        _ => None,
    }
}

/// An id key of stage `k`: (key, commands with it, where its values repeat).
fn id_candidates(
    traffic: &[TopicTraffic],
    series: &[Series],
    chain: &[Link],
    k: usize,
) -> Vec<(String, usize, Vec<String>)> {
    let t = &traffic[series[chain[k].series].topic];
    let mine = paired_messages(series, &chain[k]);
    let mut out = Vec::new();
    for key in all_keys(t) {
        let values: Vec<Option<String>> = key_values(t, &mine, &key)
            .into_iter()
            .map(|v| v.and_then(token))
            .collect();
        let present: Vec<&String> = values.iter().flatten().collect();
        let distinct: BTreeSet<&String> = present.iter().copied().collect();
        if present.len() < 2 || (distinct.len() as f64) < 0.9 * present.len() as f64 {
            continue;
        }
        let mut repeats = Vec::new();
        for (o, link) in chain.iter().enumerate() {
            if o == k {
                continue;
            }
            let other = &traffic[series[link.series].topic];
            let theirs = paired_messages(series, link);
            for okey in all_keys(other) {
                let ovalues = key_values(other, &theirs, &okey);
                let (mut both, mut equal) = (0, 0);
                for (v, ov) in values.iter().zip(&ovalues) {
                    if let (Some(v), Some(ov)) = (v, ov.and_then(token)) {
                        both += 1;
                        equal += usize::from(*v == ov);
                    }
                }
                if both >= 2 && equal as f64 >= 0.9 * both as f64 {
                    repeats.push(format!("{}:{okey}", other.topic));
                }
            }
        }
        if !repeats.is_empty() || id_named(&key) {
            out.push((key, present.len(), repeats));
        }
    }
    out.sort_by_key(|(key, n, repeats)| {
        (
            std::cmp::Reverse(repeats.len().min(1)),
            std::cmp::Reverse(*n),
            !id_named(key),
        )
    });
    out
}

/// The command's first stamp per command, from the links before `k` (in chain order).
fn first_stamps(
    traffic: &[TopicTraffic],
    series: &[Series],
    chain: &[Link],
    k: usize,
) -> Vec<Option<(Duration, String)>> {
    let commands = chain[0].per_command.len();
    (0..commands)
        .map(|c| {
            chain[..k].iter().find_map(|link| {
                let t = &traffic[series[link.series].topic];
                let e = link.per_command[c]?;
                let m = &t.messages[series[link.series].events[e].1];
                m.stamp.map(|s| (s, t.topic.clone()))
            })
        })
        .collect()
}

// Long: the three rules are weighed against each other here, with their evidence.
fn correlation_for(
    traffic: &[TopicTraffic],
    series: &[Series],
    chain: &[Link],
    k: usize,
) -> (Correlation, Evidence, Option<String>) {
    let t = &traffic[series[chain[k].series].topic];
    let mine = paired_messages(series, &chain[k]);
    let reached = mine.iter().flatten().count();
    let mut rejected = Vec::new();
    let ids = if t.msg_type == GOAL_STATUS_ARRAY {
        Vec::new()
    } else {
        id_candidates(traffic, series, chain, k)
    };
    if let Some((key, n, repeats)) = ids.first() {
        let ambiguous = ids
            .get(1)
            .is_some_and(|(_, n2, r2)| r2.len().min(1) == repeats.len().min(1) && n2 == n);
        for (other, _, r) in ids.iter().skip(1) {
            rejected.push(format!(
                "{{mode: id, field: {other}}}{}",
                if r.is_empty() {
                    " (unique, but repeats nowhere along the chain)".to_owned()
                } else {
                    format!(" (also repeats in {})", r.join(", "))
                }
            ));
        }
        let why = if repeats.is_empty() {
            format!(
                "`{key}` is an id: unique in {n} of {n} commands (assigned here, repeats nowhere \
                 else; the tracker binds it to the oldest command waiting)"
            )
        } else {
            format!(
                "`{key}` is an id: unique per command ({n} commands) and the same value repeats \
                 along the chain in {}",
                repeats.join(", ")
            )
        };
        rejected.push("{mode: fifo} (an explicit id is exact even when commands overlap)".into());
        return (
            Correlation::Id { field: key.clone() },
            Evidence {
                confidence: if repeats.is_empty() { 0.8 } else { 0.95 },
                samples: *n,
                reason: why,
                rejected,
                ambiguous,
            },
            Some(key.clone()),
        );
    }
    if k == 0 {
        let stamped = mine
            .iter()
            .flatten()
            .filter(|&&i| t.messages[i].stamp.is_some())
            .count();
        if stamped * 10 >= reached * 9 && stamped > 0 {
            return (
                Correlation::HeaderStamp,
                Evidence {
                    confidence: stamped as f64 / reached.max(1) as f64,
                    samples: stamped,
                    reason: format!(
                        "first stage; its header stamp ({stamped} of {reached} messages stamped) \
                         becomes the command's stamp, which stages that copy it match"
                    ),
                    rejected: vec!["{mode: fifo} (equivalent for the first stage)".into()],
                    ambiguous: false,
                },
                None,
            );
        }
        return (
            Correlation::Fifo,
            Evidence {
                confidence: 1.0,
                samples: reached,
                reason: "first stage: every message opens a command".into(),
                rejected,
                ambiguous: false,
            },
            None,
        );
    }
    let firsts = first_stamps(traffic, series, chain, k);
    let (mut both, mut equal, mut origin) = (0, 0, None);
    for (m, first) in mine.iter().zip(&firsts) {
        let (Some(i), Some((stamp, from))) = (m, first) else {
            continue;
        };
        let Some(own) = t.messages[*i].stamp else {
            continue;
        };
        both += 1;
        if own == *stamp {
            equal += 1;
            origin.get_or_insert_with(|| from.clone());
        }
    }
    if both >= 2 && equal * 10 >= both * 9 {
        let from = origin.unwrap_or_default();
        return (
            Correlation::HeaderStamp,
            Evidence {
                confidence: equal as f64 / both as f64,
                samples: both,
                reason: format!(
                    "its header stamp equals the command's stamp (from {from}) in {equal} of \
                     {both} commands: copied downstream"
                ),
                rejected: vec![
                    "{mode: fifo} (a copied stamp stays exact when commands overlap)".into(),
                ],
                ambiguous: false,
            },
            None,
        );
    }
    if both > 0 {
        rejected.push(format!(
            "{{mode: header_stamp}} (its stamp equals the command's stamp in only {equal} of \
             {both} commands: it stamps its own messages)"
        ));
    } else if t.stamped {
        rejected.push("{mode: header_stamp} (no earlier stage carries a stamp)".into());
    }
    let (clean, total) = alternation(series, &chain[k - 1], &chain[k]);
    (
        Correlation::Fifo,
        Evidence {
            confidence: clean as f64 / total.max(1) as f64,
            samples: total,
            reason: format!(
                "no id key, no copied stamp; strict alternation with the previous stage in \
                 {clean} of {total} commands makes FIFO pairing exact"
            ),
            rejected,
            ambiguous: false,
        },
        None,
    )
}

/// Commands where this stage's event came after the previous stage's and before the next
/// command's previous-stage event; and commands where both stages fired.
fn alternation(series: &[Series], prev: &Link, link: &Link) -> (usize, usize) {
    let p = &series[prev.series];
    let s = &series[link.series];
    let prev_times: Vec<Option<Duration>> = prev
        .per_command
        .iter()
        .map(|e| e.map(|e| p.events[e].0))
        .collect();
    let mut clean = 0;
    let mut total = 0;
    for (c, e) in link.per_command.iter().enumerate() {
        let (Some(e), Some(tp)) = (e, prev_times[c]) else {
            continue;
        };
        total += 1;
        let t = s.events[*e].0;
        let next = prev_times[c + 1..].iter().flatten().next();
        if t >= tp && next.is_none_or(|&n| t <= n) {
            clean += 1;
        }
    }
    (clean, total)
}

/// Scalar keys of a JSON document, flattened to dotted paths (objects only; arrays and
/// values nested deeper than `depth` are skipped), at most `limit` of them.
pub fn json_keys(value: &serde_json::Value, depth: usize, limit: usize) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    flatten(value, String::new(), depth, limit, &mut out);
    out
}

fn flatten(
    value: &serde_json::Value,
    prefix: String,
    depth: usize,
    limit: usize,
    out: &mut Vec<(String, Value)>,
) {
    let serde_json::Value::Object(map) = value else {
        return;
    };
    for (k, v) in map {
        if out.len() >= limit {
            return;
        }
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            serde_json::Value::String(s) => out.push((path, Value::Text(s.clone()))),
            serde_json::Value::Number(n) => {
                if let Some(f) = n.as_f64() {
                    out.push((path, Value::Number(f)));
                }
            }
            serde_json::Value::Bool(b) => out.push((path, Value::Bool(*b))),
            serde_json::Value::Object(_) if depth > 1 => flatten(v, path, depth - 1, limit, out),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;
