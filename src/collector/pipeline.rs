//! The collector's measuring without I/O: messages of the watched topics in, finished
//! commands and metric batches out. The live node feeds it from the middleware; an offline
//! analysis feeds it from a recording. Times are inputs, never read from a clock here.

use std::collections::BTreeMap;
use std::time::Duration;

use super::inputs::{Extracted, InputError, Payload, StageInput};
use super::signals::{GoalOutcomes, StageOutcomes};
use crate::config::{CollectorConfig, WatchedTopic};
use crate::core::ingest::{self, Recorder, RecorderConfig};
use crate::core::metric::Metric;
use crate::core::stage::StageKind;
use crate::core::stats::{Distribution, DistributionConfig, Error as StatsError, RateMeter};
use crate::core::stats::{Slo, StatsConfig, Window};
use crate::core::timeline::{CompletedCommand, Outcome};
use crate::core::topic_health::{self, TopicHealth, TopicHealthConfig, TopicSnapshot};
use crate::msg::action_msgs::GoalStatusArray;
use crate::msg::audio_common_msgs::{self, AudioChunk};
use crate::msg::builtin_interfaces::Time;
use crate::msg::cdr;
use crate::msg::diagnostic_msgs::{DiagnosticStatus, KeyValue};
use crate::msg::std_msgs::{Header, String as RosString};
use crate::msg::{CommandLatency, MetricSummary, RosMessage, StageEvent, StageLatency};

/// The stage whose success rate is published as the command understanding rate.
const UNDERSTANDING_STAGE: StageKind = StageKind::Plan;

/// Why a pipeline could not be built from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A watched topic's health statistics cannot be set up.
    #[error("configuration: topic {topic}: {source}")]
    TopicHealth {
        /// The topic.
        topic: String,
        /// What the core said.
        #[source]
        source: topic_health::Error,
    },
    /// A watched topic's rate meter (audio samples, action goals, stamps) cannot be set up.
    #[error("configuration: topic {topic}: {source}")]
    TopicRate {
        /// The topic.
        topic: String,
        /// What the core said.
        #[source]
        source: StatsError,
    },
    /// An audio topic's sample format has no known frame size.
    #[error("configuration: topic {topic}: audio sample format {sample_format:?}")]
    AudioFormat {
        /// The topic.
        topic: String,
        /// The configured sample format.
        sample_format: String,
    },
    /// A stage's input (correlation key, JSON paths) cannot be built.
    #[error("configuration: {0}")]
    Stage(#[source] InputError),
    /// The SLO is not a valid one.
    #[error("configuration: slo: {0}")]
    Slo(#[source] StatsError),
    /// The core recorder (tracker, latency statistics) cannot be set up.
    #[error("configuration: {0}")]
    Recorder(#[source] ingest::Error),
    /// The confidence statistics cannot be set up.
    #[error("configuration: confidence statistics: {0}")]
    Confidence(#[source] StatsError),
}

/// A message of one watched topic, decoded as far as its type requires.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// `std_msgs/msg/String`.
    Text(String),
    /// Any message that starts with a `std_msgs/Header`: only the header is read.
    Header(Header),
    /// `vla_perf/msg/StageEvent`.
    StageEvent(StageEvent),
    /// `action_msgs/msg/GoalStatusArray`.
    Goals(GoalStatusArray),
    /// An `audio_common_msgs` chunk: its header (if stamped) and size.
    Audio(AudioChunk),
}

/// The header of messages without one: unset stamp.
static NO_HEADER: Header = Header {
    stamp: Time { sec: 0, nanosec: 0 },
    frame_id: String::new(),
};

impl Message {
    /// Decodes a serialized (CDR, with encapsulation header) message of type `msg_type`.
    pub fn decode(msg_type: &str, data: &[u8]) -> Result<Self, cdr::Error> {
        Ok(match msg_type {
            RosString::TYPE_NAME => Message::Text(cdr::from_cdr::<RosString>(data)?.data),
            GoalStatusArray::TYPE_NAME => Message::Goals(cdr::from_cdr(data)?),
            StageEvent::TYPE_NAME => Message::StageEvent(cdr::from_cdr(data)?),
            t if audio_common_msgs::is_audio(t) => {
                Message::Audio(audio_common_msgs::decode_chunk(t, data)?)
            }
            _ => Message::Header(cdr::decode_header(data)?),
        })
    }

    /// What the stage inputs read.
    pub fn payload(&self) -> Payload<'_> {
        match self {
            Message::Text(t) => Payload::Text(t),
            Message::Header(h) => Payload::Header(h),
            Message::StageEvent(e) => Payload::StageEvent(e),
            Message::Goals(g) => Payload::GoalStatuses(g),
            Message::Audio(a) => Payload::Header(a.header.as_ref().unwrap_or(&NO_HEADER)),
        }
    }

    /// The header stamp, if the message has one that is set (all-zero means unset).
    pub fn stamp(&self) -> Option<Duration> {
        let stamp = match self {
            Message::Header(h) => &h.stamp,
            Message::StageEvent(e) => &e.header.stamp,
            Message::Audio(AudioChunk {
                header: Some(h), ..
            }) => &h.stamp,
            Message::Text(_) | Message::Goals(_) | Message::Audio(_) => return None,
        };
        (stamp.sec != 0 || stamp.nanosec != 0)
            .then(|| stamp.to_duration())
            .flatten()
    }
}

/// One message as it arrived on a watched topic.
#[derive(Debug, Clone)]
pub struct Arrival {
    /// Index into [`Pipeline::topics`].
    pub topic: usize,
    /// When it was received (wall clock).
    pub received_at: Duration,
    /// When the stage produced it: the publisher's source timestamp where the middleware
    /// or the recording carries one, else the receive time.
    pub produced_at: Duration,
    /// Serialized size in bytes.
    pub size: usize,
    /// The decoded message.
    pub message: Message,
}

/// What one arrival caused.
#[derive(Debug, Default)]
pub struct Arrived {
    /// Commands that finished: overdue ones timed out first, then those this message ended.
    pub finished: Vec<CompletedCommand>,
    /// Stage inputs that could not read the message (malformed JSON, missing fields).
    pub unreadable: Vec<String>,
}

/// A batch of metrics and the diagnostic statuses that go with it.
#[derive(Debug, Default)]
pub struct Batch {
    /// Metric summaries.
    pub metrics: Vec<MetricSummary>,
    /// One status per stage or topic.
    pub status: Vec<DiagnosticStatus>,
}

/// Accuracy signals kept beside the core's latency statistics.
struct Signals {
    outcomes: StageOutcomes,
    /// Per stage, the confidences its messages carried (0..1).
    confidence: Vec<Distribution>,
    /// Per topic, goal outcomes and finished goals per second when it is an action
    /// status topic.
    goals: Vec<Option<(GoalOutcomes, RateMeter)>>,
}

/// Per-stage message counts.
#[derive(Debug, Default, Clone, Copy)]
struct StageSide {
    messages: u64,
    unreadable: u64,
}

/// The collector's state: watched topics, stage inputs, the core recorder and signals.
pub struct Pipeline {
    robot_id: String,
    stage_names: Vec<String>,
    windows: Vec<Duration>,
    topics: Vec<WatchedTopic>,
    /// For each stage, the index of its topic.
    stage_topic: Vec<usize>,
    health: Vec<TopicHealth>,
    /// Per topic, for audio topics: bytes per frame and the samples-per-second meter.
    audio: Vec<Option<(u64, RateMeter)>>,
    /// Per topic, messages per second by header stamp: the source's own rate (a camera's
    /// frame rate), free of delivery jitter; with the latest stamp seen.
    stamp_rate: Vec<(RateMeter, Duration)>,
    inputs: Vec<StageInput>,
    recorder: Recorder,
    signals: Signals,
    sides: Vec<StageSide>,
    /// Steps of the receiving machine's wall clock seen so far (see [`Self::clock_stepped`]).
    clock_steps: u64,
}

impl Pipeline {
    /// Builds the pipeline `config` describes.
    pub fn new(config: &CollectorConfig) -> Result<Self, ConfigError> {
        let (topics, stage_topic) = merge_topics(config);
        let window = config
            .windows
            .first()
            .copied()
            .unwrap_or(Duration::from_secs(10));
        let health = topics
            .iter()
            .map(|t| {
                TopicHealth::new(TopicHealthConfig {
                    window,
                    expected_rate_hz: t.expected_rate_hz,
                    stale_after: t.stale_after,
                    ..TopicHealthConfig::default()
                })
                .map_err(|source| ConfigError::TopicHealth {
                    topic: t.topic.clone(),
                    source,
                })
            })
            .collect::<Result<_, _>>()?;
        let audio = topics
            .iter()
            .map(|t| audio_meter(t, window))
            .collect::<Result<_, _>>()?;
        let inputs = config
            .stages
            .iter()
            .enumerate()
            .map(|(i, stage)| StageInput::new(i, stage).map_err(ConfigError::Stage))
            .collect::<Result<_, _>>()?;
        let signals = Signals {
            outcomes: StageOutcomes::new(config.stages.len()),
            confidence: confidence_statistics(config)?,
            goals: topics
                .iter()
                .map(|t| goal_meter(t, window))
                .collect::<Result<_, _>>()?,
        };
        let stamp_rate = topics
            .iter()
            .map(|t| Ok((rate_meter(t, window)?, Duration::ZERO)))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            robot_id: config.robot_id.clone(),
            stage_names: config.stages.iter().map(|s| s.name.clone()).collect(),
            windows: config.windows.clone(),
            topics,
            stage_topic,
            health,
            audio,
            stamp_rate,
            inputs,
            recorder: recorder(config)?,
            signals,
            sides: vec![StageSide::default(); config.stages.len()],
            clock_steps: 0,
        })
    }

    /// Counts a step of the wall clock the arrivals are stamped with (published with the
    /// correlation anomalies as `clock_step`); the live node detects them with
    /// [`crate::core::clock::ClockWatch`].
    pub fn clock_stepped(&mut self) {
        self.clock_steps += 1;
    }

    /// The topics to subscribe to, each once.
    pub fn topics(&self) -> &[WatchedTopic] {
        &self.topics
    }

    /// Whether topic `index` of [`Self::topics`] feeds a stage (rather than only being
    /// watched for its health).
    pub fn is_stage_topic(&self, index: usize) -> bool {
        self.stage_topic.contains(&index)
    }

    /// The stage names in pipeline order.
    pub fn stage_names(&self) -> &[String] {
        &self.stage_names
    }

    /// The core recorder: latency statistics, SLO, outcome counts, open commands.
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// Health of each topic of [`Self::topics`] at `now`.
    pub fn topic_snapshots(&self, now: Duration) -> Vec<TopicSnapshot> {
        self.health.iter().map(|h| h.snapshot(now)).collect()
    }

    /// Audio samples per second per channel of topic `index`, for audio topics.
    pub fn audio_sample_rate(&self, index: usize, now: Duration) -> Option<f64> {
        let (_, meter) = self.audio.get(index)?.as_ref()?;
        meter.rate(now)
    }

    /// Feeds one message: [`observe`](Self::observe) then [`measure`](Self::measure).
    pub fn arrive(&mut self, arrival: &Arrival) -> Arrived {
        self.observe(arrival);
        self.measure(arrival)
    }

    /// Records a message's receipt on its topic (rate, age, bandwidth, audio samples,
    /// action goal outcomes): call as it is received, in receive order.
    pub fn observe(&mut self, arrival: &Arrival) {
        if let (Some(Some((goals, meter))), Message::Goals(array)) =
            (self.signals.goals.get_mut(arrival.topic), &arrival.message)
        {
            meter.record(arrival.received_at, goals.record(array));
        }
        let stamp = arrival.message.stamp();
        if let Some(health) = self.health.get_mut(arrival.topic) {
            health.record(arrival.received_at, arrival.size, stamp);
        }
        if let (Some((meter, latest)), Some(stamp)) =
            (self.stamp_rate.get_mut(arrival.topic), stamp)
        {
            meter.record(stamp, 1);
            *latest = (*latest).max(stamp);
        }
        if let (Some(Some((frame, meter))), Message::Audio(chunk)) =
            (self.audio.get_mut(arrival.topic), &arrival.message)
        {
            meter.record(arrival.received_at, chunk.bytes / *frame);
        }
    }

    /// Turns a message into stage events for the commands it concerns: call in order of
    /// production (see [`crate::core::reorder`]).
    pub fn measure(&mut self, arrival: &Arrival) -> Arrived {
        // Time out overdue commands before this message can be paired with one.
        let mut finished = self.recorder.expire(arrival.produced_at).to_vec();
        let mut unreadable = Vec::new();
        for (stage, input) in self.inputs.iter_mut().enumerate() {
            if self.stage_topic[stage] != arrival.topic {
                continue;
            }
            let side = &mut self.sides[stage];
            match input.extract(arrival.produced_at, arrival.message.payload()) {
                Ok(Extracted {
                    events, confidence, ..
                }) => {
                    side.messages += 1;
                    if let Some(c) = confidence {
                        self.signals.confidence[stage].record(arrival.produced_at, c);
                    }
                    for event in events {
                        finished.extend_from_slice(self.recorder.ingest(event));
                    }
                }
                Err(e) => {
                    side.unreadable += 1;
                    unreadable.push(e.to_string());
                }
            }
        }
        self.count(&finished);
        Arrived {
            finished,
            unreadable,
        }
    }

    /// Times out commands overdue at `now`.
    pub fn expire(&mut self, now: Duration) -> Vec<CompletedCommand> {
        let expired = self.recorder.expire(now).to_vec();
        self.count(&expired);
        expired
    }

    /// Abandons every open command (end of input).
    pub fn flush(&mut self, now: Duration) -> Vec<CompletedCommand> {
        let abandoned = self.recorder.flush(now).to_vec();
        self.count(&abandoned);
        abandoned
    }

    fn count(&mut self, finished: &[CompletedCommand]) {
        for cmd in finished {
            self.signals.outcomes.record(cmd);
        }
    }

    /// The message of a finished command.
    pub fn command_latency(&self, cmd: &CompletedCommand) -> CommandLatency {
        command_latency(cmd, &self.robot_id, &self.stage_names)
    }

    /// Rate, jitter, age and bandwidth of every watched topic, and a diagnostic status each.
    pub fn topic_health(&self, snapshots: &[TopicSnapshot], now: Duration) -> Batch {
        let mut batch = Batch::default();
        for (i, ((t, h), snap)) in self
            .topics
            .iter()
            .zip(&self.health)
            .zip(snapshots)
            .enumerate()
        {
            let tags = || vec![tag("topic", &t.topic)];
            let window = Window::Sliding(h.config().window);
            let scalar = |metric: Metric, v: Option<f64>| {
                MetricSummary::scalar_of(metric, window, v.map(|v| (snap.messages, v)), tags())
            };
            batch.metrics.push(scalar(Metric::TopicRate, snap.rate_hz));
            batch
                .metrics
                .push(scalar(Metric::TopicBandwidth, snap.bytes_per_second));
            batch.metrics.push(scalar(Metric::TopicJitter, snap.jitter));
            batch
                .metrics
                .push(scalar(Metric::TopicMaxGap, snap.max_gap));
            batch.metrics.push(MetricSummary::of(
                Metric::TopicAge,
                window,
                snap.age,
                tags(),
            ));
            if let Some((meter, latest)) = self.stamp_rate.get(i).filter(|(m, _)| m.total() > 0) {
                // Measured up to the latest stamp: the source's clock, not this host's.
                let rate = meter.rate(*latest).map(|r| (meter.total(), r));
                batch.metrics.push(MetricSummary::scalar_of(
                    Metric::TopicStampRate,
                    window,
                    rate,
                    tags(),
                ));
            }
            if let Some(Some((_, meter))) = self.signals.goals.get(i) {
                let rate = meter.rate(now).map(|r| (meter.total(), r));
                batch.metrics.push(MetricSummary::scalar_of(
                    Metric::ActionRate,
                    window,
                    rate,
                    tags(),
                ));
            }
            if let Some(Some((_, meter))) = self.audio.get(i) {
                let rate = meter.rate(now).map(|r| (meter.total(), r));
                batch.metrics.push(MetricSummary::scalar_of(
                    Metric::AudioSampleRate,
                    window,
                    rate,
                    tags(),
                ));
            }
            batch.metrics.push(MetricSummary::scalar_of(
                Metric::TopicMessages,
                Window::Cumulative,
                Some((snap.messages, snap.messages as f64)),
                tags(),
            ));
            batch.status.push(DiagnosticStatus {
                level: snap.status.diagnostic_level(),
                name: format!("vla_perf: topic {}", t.topic),
                message: snap.reason.clone(),
                hardware_id: String::new(),
                values: vec![
                    tag("future_stamps", &snap.future_stamps.to_string()),
                    tag("out_of_order", &snap.out_of_order.to_string()),
                ],
            });
        }
        batch
    }

    /// Latency summaries per stage and end to end (cumulative and every window), SLO
    /// compliance, accuracy signals, command rate and counts, correlation anomalies; and a
    /// diagnostic status per stage.
    pub fn metrics(&self, now: Duration) -> Batch {
        let mut metrics = Vec::new();
        self.latency(&mut metrics, now);
        self.accuracy(&mut metrics, now);
        self.commands(&mut metrics, now);
        self.anomalies(&mut metrics);
        Batch {
            metrics,
            status: self.stage_statuses(now),
        }
    }

    /// Per window (cumulative first): stage and end-to-end latency, SLO compliance.
    fn latency(&self, metrics: &mut Vec<MetricSummary>, now: Duration) {
        let recorder = &self.recorder;
        let windows = std::iter::once(Window::Cumulative)
            .chain(self.windows.iter().map(|w| Window::Sliding(*w)));
        for window in windows {
            for (i, name) in self.stage_names.iter().enumerate().skip(1) {
                if let Some(stats) = recorder.stage_latency(i) {
                    metrics.push(MetricSummary::of(
                        Metric::StageLatency,
                        window,
                        stats.summary(now, window),
                        vec![tag("stage", name)],
                    ));
                }
            }
            metrics.push(MetricSummary::of(
                Metric::EndToEndLatency,
                window,
                recorder.end_to_end().summary(now, window),
                vec![],
            ));
            let slo = recorder.slo_status(now, window);
            metrics.push(MetricSummary::scalar_of(
                Metric::SloCompliance,
                window,
                slo.map(|s| (s.count, s.compliance)),
                vec![tag("met", &slo.is_some_and(|s| s.met).to_string())],
            ));
        }
    }

    /// Command rate (over the first window), commands in flight and counts per outcome.
    fn commands(&self, metrics: &mut Vec<MetricSummary>, now: Duration) {
        let recorder = &self.recorder;
        let first = self.windows.first().copied().map(Window::Sliding);
        metrics.push(MetricSummary::scalar_of(
            Metric::CommandRate,
            first.unwrap_or(Window::Cumulative),
            recorder.command_rate(now).map(|r| (1, r)),
            vec![],
        ));
        metrics.push(MetricSummary::scalar_of(
            Metric::CommandsInFlight,
            Window::Cumulative,
            Some((1, recorder.tracker().open_count() as f64)),
            vec![],
        ));
        for outcome in Outcome::ALL {
            metrics.push(MetricSummary::scalar_of(
                Metric::Commands,
                Window::Cumulative,
                Some((1, recorder.outcome_count(outcome) as f64)),
                vec![tag("outcome", outcome.as_str())],
            ));
        }
    }

    /// Correlation anomalies by reason, with the clock steps seen.
    fn anomalies(&self, metrics: &mut Vec<MetricSummary>) {
        let c = self.recorder.tracker().counters();
        for (reason, n) in [
            ("unmatched", c.unmatched),
            ("duplicate", c.duplicates),
            ("out_of_order", c.out_of_order),
            ("evicted", c.evicted),
            ("clock_backwards", c.clock_backwards),
            ("clock_step", self.clock_steps),
        ] {
            metrics.push(MetricSummary::scalar_of(
                Metric::CorrelationAnomalies,
                Window::Cumulative,
                Some((1, n as f64)),
                vec![tag("reason", reason)],
            ));
        }
    }

    /// A diagnostic status per stage.
    fn stage_statuses(&self, now: Duration) -> Vec<DiagnosticStatus> {
        self.stage_names
            .iter()
            .zip(&self.sides)
            .enumerate()
            .map(|(i, (name, side))| {
                // Only a topic with a stated rhythm (an expected rate or `stale_after`) can
                // fall silent: voice commands may legitimately pause for hours.
                let health = &self.health[self.stage_topic[i]];
                let timed = health.config().expected_rate_hz.is_some()
                    || health.config().stale_after.is_some();
                let silence = timed.then(|| health.staleness(now)).flatten();
                stage_status(name, i, *side, silence, &self.recorder)
            })
            .collect()
    }

    /// Confidences, stage success (the planner's is the understanding rate), task success
    /// and action goal success, all cumulative except the confidence windows.
    fn accuracy(&self, metrics: &mut Vec<MetricSummary>, now: Duration) {
        let signals = &self.signals;
        for (stage, name) in self.stage_names.iter().enumerate() {
            let confidence = &signals.confidence[stage];
            if confidence.count() > 0 {
                let windows = std::iter::once(Window::Cumulative)
                    .chain(self.windows.iter().map(|w| Window::Sliding(*w)));
                for window in windows {
                    metrics.push(MetricSummary::of(
                        Metric::Confidence,
                        window,
                        confidence.summary(now, window),
                        vec![tag("stage", name)],
                    ));
                }
            }
            if stage == 0 {
                continue;
            }
            let rate = signals.outcomes.stage_success_rate(stage);
            metrics.push(MetricSummary::scalar_of(
                Metric::StageSuccessRate,
                Window::Cumulative,
                rate,
                vec![tag("stage", name)],
            ));
            if name == UNDERSTANDING_STAGE.name() {
                metrics.push(MetricSummary::scalar_of(
                    Metric::UnderstandingRate,
                    Window::Cumulative,
                    rate,
                    vec![],
                ));
            }
        }
        metrics.push(MetricSummary::scalar_of(
            Metric::TaskSuccessRate,
            Window::Cumulative,
            signals.outcomes.task_success_rate(),
            vec![],
        ));
        for (topic, goals) in self.topics.iter().zip(&signals.goals) {
            if let Some((goals, _)) = goals {
                metrics.push(MetricSummary::scalar_of(
                    Metric::ActionSuccessRate,
                    Window::Cumulative,
                    goals.success_rate(),
                    vec![tag("topic", &topic.topic)],
                ));
            }
        }
    }
}

/// The topics to watch, each once: the stages' topics, then the extra watched topics
/// (which only feed topic health); with, for each stage, the index of its topic.
fn merge_topics(config: &CollectorConfig) -> (Vec<WatchedTopic>, Vec<usize>) {
    let mut topics: Vec<WatchedTopic> = Vec::new();
    let mut stage_topic = Vec::new();
    let watched = config.stages.iter().map(|s| WatchedTopic {
        topic: s.topic.clone(),
        msg_type: s.msg_type.clone(),
        expected_rate_hz: s.expected_rate_hz,
        stale_after: None,
        audio: None,
        stamped: None,
        qos: s.qos.clone(),
        qos_depth: s.qos_depth,
    });
    for (i, topic) in watched.chain(config.topics.iter().cloned()).enumerate() {
        let index = match topics.iter().position(|t| t.topic == topic.topic) {
            Some(index) => {
                // A topic listed again (a stage's topic under `topics:`) adds what the
                // first mention left unset.
                let known = &mut topics[index];
                known.expected_rate_hz = known.expected_rate_hz.or(topic.expected_rate_hz);
                known.stale_after = known.stale_after.or(topic.stale_after);
                known.audio = known.audio.take().or(topic.audio);
                known.stamped = known.stamped.or(topic.stamped);
                known.qos = known.qos.take().or(topic.qos);
                known.qos_depth = known.qos_depth.or(topic.qos_depth);
                index
            }
            None => {
                topics.push(topic);
                topics.len() - 1
            }
        };
        if i < config.stages.len() {
            stage_topic.push(index);
        }
    }
    (topics, stage_topic)
}

/// A per-second meter over `window` for `topic`.
fn rate_meter(topic: &WatchedTopic, window: Duration) -> Result<RateMeter, ConfigError> {
    RateMeter::new(window, 10).map_err(|source| ConfigError::TopicRate {
        topic: topic.topic.clone(),
        source,
    })
}

/// For an audio topic, its bytes per frame and its samples-per-second meter.
fn audio_meter(
    topic: &WatchedTopic,
    window: Duration,
) -> Result<Option<(u64, RateMeter)>, ConfigError> {
    let Some(format) = topic.audio_format() else {
        return Ok(None);
    };
    let frame =
        format
            .frame_bytes()
            .filter(|b| *b > 0)
            .ok_or_else(|| ConfigError::AudioFormat {
                topic: topic.topic.clone(),
                sample_format: format.sample_format.clone(),
            })?;
    Ok(Some((frame, rate_meter(topic, window)?)))
}

/// For an action status topic, its goal outcomes and finished-goals-per-second meter.
fn goal_meter(
    topic: &WatchedTopic,
    window: Duration,
) -> Result<Option<(GoalOutcomes, RateMeter)>, ConfigError> {
    if topic.msg_type != GoalStatusArray::TYPE_NAME {
        return Ok(None);
    }
    Ok(Some((GoalOutcomes::default(), rate_meter(topic, window)?)))
}

/// The core recorder: tracker, latency statistics over the configured windows, SLO.
fn recorder(config: &CollectorConfig) -> Result<Recorder, ConfigError> {
    let slo = Slo::new(config.slo.threshold, config.slo.target).map_err(ConfigError::Slo)?;
    Recorder::new(RecorderConfig {
        tracker: config.tracker_config(),
        stats: StatsConfig {
            windows: config.windows.clone(),
            significant_digits: config.significant_digits,
            ..StatsConfig::default()
        },
        slo,
    })
    .map_err(ConfigError::Recorder)
}

/// One confidence distribution (0..1) per stage, over the configured windows.
fn confidence_statistics(config: &CollectorConfig) -> Result<Vec<Distribution>, ConfigError> {
    let mut cfg = DistributionConfig::with_range(0.001, 1.0);
    cfg.windows = config.windows.clone();
    config
        .stages
        .iter()
        .map(|_| Distribution::new(&cfg))
        .collect::<Result<_, _>>()
        .map_err(ConfigError::Confidence)
}

fn tag(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: value.into(),
    }
}

/// A stage's diagnostic status; `silence` says why its topic went quiet, if it did.
fn stage_status(
    name: &str,
    index: usize,
    side: StageSide,
    silence: Option<String>,
    recorder: &Recorder,
) -> DiagnosticStatus {
    let failures = recorder.stage_failures(index).unwrap_or(0);
    let (level, message) = if side.messages == 0 && side.unreadable == 0 {
        (
            DiagnosticStatus::STALE,
            "no message received yet".to_owned(),
        )
    } else if let Some(silence) = silence {
        (DiagnosticStatus::STALE, silence)
    } else if side.unreadable > 0 {
        (
            DiagnosticStatus::WARN,
            format!("{} messages could not be read", side.unreadable),
        )
    } else {
        (DiagnosticStatus::OK, "receiving".to_owned())
    };
    let values = BTreeMap::from([
        ("messages", side.messages.to_string()),
        ("unreadable", side.unreadable.to_string()),
        ("failures", failures.to_string()),
    ])
    .into_iter()
    .map(|(k, v)| KeyValue {
        key: k.into(),
        value: v,
    })
    .collect();
    DiagnosticStatus {
        level,
        name: format!("vla_perf: stage {name}"),
        message,
        hardware_id: String::new(),
        values,
    }
}

/// The message of a finished command.
pub fn command_latency(
    cmd: &CompletedCommand,
    robot_id: &str,
    stages: &[String],
) -> CommandLatency {
    let outcome = CommandLatency::outcome_code(cmd.outcome);
    CommandLatency {
        header: Header {
            stamp: Time::from(cmd.ended_at),
            frame_id: String::new(),
        },
        robot_id: robot_id.into(),
        command_id: cmd.id.clone(),
        outcome,
        failed_stage: cmd
            .failed_stage
            .and_then(|i| stages.get(i).cloned())
            .unwrap_or_default(),
        started: Time::from(cmd.started_at),
        ended: Time::from(cmd.ended_at),
        end_to_end: cmd.end_to_end.map_or(f64::NAN, |d| d.as_secs_f64()),
        stages: stages
            .iter()
            .zip(&cmd.stage_latency)
            .enumerate()
            .map(|(i, (name, latency))| StageLatency {
                stage: name.clone(),
                reached: i == 0 || latency.is_some() || cmd.failed_stage == Some(i),
                latency: latency.map_or(f64::NAN, |d| d.as_secs_f64()),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::StageConfig;
    use crate::core::timeline::Correlation;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn pipeline() -> Pipeline {
        let config = CollectorConfig {
            stages: vec![
                StageConfig::new("voice", "/asr", RosString::TYPE_NAME, Correlation::Fifo),
                StageConfig::new(
                    "vision",
                    "/detections",
                    "vision_msgs/msg/Detection2DArray",
                    Correlation::HeaderStamp,
                ),
            ],
            ..CollectorConfig::default()
        };
        Pipeline::new(&config).unwrap()
    }

    fn watched(topic: &str, msg_type: &str) -> WatchedTopic {
        WatchedTopic::new(topic, msg_type)
    }

    /// A voice stage on `/asr` and `topics` watched beside it.
    fn voice_and(topics: Vec<WatchedTopic>) -> CollectorConfig {
        CollectorConfig {
            stages: vec![StageConfig::new(
                "voice",
                "/asr",
                RosString::TYPE_NAME,
                Correlation::Fifo,
            )],
            topics,
            ..CollectorConfig::default()
        }
    }

    /// Voice on `/asr`, then done on `/done`, both FIFO.
    fn voice_and_done() -> CollectorConfig {
        let mut config = voice_and(vec![]);
        config.stages.push(StageConfig::new(
            "done",
            "/done",
            RosString::TYPE_NAME,
            Correlation::Fifo,
        ));
        config
    }

    fn arrival(topic: usize, at: Duration, message: Message) -> Arrival {
        Arrival {
            topic,
            received_at: at,
            produced_at: at,
            size: 64,
            message,
        }
    }

    #[test]
    fn serialized_messages_decode_as_their_type_requires() {
        let text = cdr::to_cdr(&RosString { data: "go".into() }).unwrap();
        assert_eq!(
            Message::decode(RosString::TYPE_NAME, &text).unwrap(),
            Message::Text("go".into())
        );
        let header = Header {
            stamp: Time { sec: 5, nanosec: 7 },
            frame_id: "cam".into(),
        };
        let mut image = cdr::to_cdr(&header).unwrap();
        image.extend_from_slice(&[0u8; 100]);
        let decoded = Message::decode("sensor_msgs/msg/Image", &image).unwrap();
        assert_eq!(decoded.stamp(), Some(Duration::new(5, 7)));
        assert!(Message::decode(RosString::TYPE_NAME, &[0, 1, 0]).is_err());
    }

    #[test]
    fn messages_fed_in_order_finish_commands_and_fill_the_metrics() {
        let mut p = pipeline();
        assert_eq!(p.topics().len(), 2);
        let stamp = Header {
            stamp: Time::from(ms(1_000)),
            frame_id: String::new(),
        };
        let first = p.arrive(&arrival(0, ms(1_000), Message::Text("pick".into())));
        assert!(first.finished.is_empty());
        // FIFO then stamp: the vision stage's stamp must be the command's start.
        let done = p.arrive(&arrival(1, ms(1_250), Message::Header(stamp)));
        assert_eq!(done.finished.len(), 1, "{done:?}");
        assert_eq!(done.finished[0].end_to_end, Some(ms(250)));
        let batch = p.metrics(ms(2_000));
        let e2e = batch
            .metrics
            .iter()
            .find(|m| m.name == "end_to_end_latency" && m.window == 0.0)
            .unwrap();
        assert_eq!(e2e.count, 1);
        assert!((e2e.p50 - 0.25).abs() < 0.001, "{}", e2e.p50);
        assert_eq!(batch.status.len(), 2);
        let health = p.topic_health(&p.topic_snapshots(ms(2_000)), ms(2_000));
        assert!(health.metrics.iter().any(|m| m.name == "topic_age"));
    }

    #[test]
    fn unreadable_messages_are_reported_and_counted_per_stage() {
        let config = CollectorConfig {
            stages: vec![StageConfig::new(
                "plan",
                "/plan",
                RosString::TYPE_NAME,
                Correlation::Id { field: "id".into() },
            )
            .with_json(crate::config::JsonFields {
                id: Some("id".into()),
                ..Default::default()
            })],
            ..CollectorConfig::default()
        };
        let mut p = Pipeline::new(&config).unwrap();
        let arrived = p.arrive(&arrival(0, ms(1), Message::Text("{not json".into())));
        assert_eq!(arrived.unreadable.len(), 1);
        let status = &p.metrics(ms(2)).status[0];
        assert_eq!(status.level, DiagnosticStatus::WARN);
    }

    #[test]
    fn a_stage_with_an_expected_rate_goes_stale_when_its_publisher_falls_silent() {
        let mut config = voice_and_done();
        config.stages[0].expected_rate_hz = Some(10.0);
        let mut p = Pipeline::new(&config).unwrap();
        for i in 0..10 {
            p.arrive(&arrival(0, ms(1_000 + 100 * i), Message::Text("go".into())));
        }
        p.arrive(&arrival(1, ms(1_950), Message::Text("ok".into())));
        let level = |p: &Pipeline, at| p.metrics(ms(at)).status[0].level;
        assert_eq!(level(&p, 2_000), DiagnosticStatus::OK);
        // Five expected periods (0.5 s) of silence: the publisher is gone.
        let status = &p.metrics(ms(2_500)).status[0];
        assert_eq!(status.level, DiagnosticStatus::STALE, "{status:?}");
        assert!(
            status.message.contains("no message for"),
            "{}",
            status.message
        );
        // A stage without a stated rhythm may pause: silence alone does not make it stale.
        assert_eq!(p.metrics(ms(60_000)).status[1].level, DiagnosticStatus::OK);
    }

    #[test]
    fn a_backward_stamp_is_an_out_of_order_anomaly_not_a_negative_latency() {
        let config = voice_and_done();
        let mut p = Pipeline::new(&config).unwrap();
        p.arrive(&arrival(0, ms(5_000), Message::Text("go".into())));
        // The done stage's clock stepped back 2 s.
        let done = p.arrive(&arrival(1, ms(3_000), Message::Text("ok".into())));
        assert_eq!(done.finished.len(), 1);
        let msg = p.command_latency(&done.finished[0]);
        assert!(
            msg.stages
                .iter()
                .all(|s| s.latency.is_nan() || s.latency >= 0.0),
            "{msg:?}"
        );
        assert!(msg.end_to_end.is_nan(), "{}", msg.end_to_end);
        p.clock_stepped();
        let anomalies = |reason: &str| {
            p.metrics(ms(6_000))
                .metrics
                .iter()
                .find(|m| {
                    m.name == "correlation_anomalies" && m.tags.iter().any(|t| t.value == reason)
                })
                .map(|m| m.max)
        };
        assert_eq!(anomalies("out_of_order"), Some(1.0));
        assert_eq!(anomalies("clock_step"), Some(1.0));
        assert_eq!(anomalies("clock_backwards"), Some(0.0));
    }

    #[test]
    fn audio_chunks_count_frames_by_the_configured_sample_format() {
        use crate::config::AudioFormat;
        let format = |f: &str, channels| AudioFormat {
            sample_format: f.into(),
            channels,
        };
        assert_eq!(format("S16LE", 2).frame_bytes(), Some(4));
        assert_eq!(format("F32LE", 1).frame_bytes(), Some(4));
        assert_eq!(format("U8", 1).frame_bytes(), Some(1));
        assert_eq!(format("S24LE", 1).frame_bytes(), Some(3));
        assert_eq!(format("S12LE", 1).frame_bytes(), None);
        assert_eq!(format("MP3", 1).frame_bytes(), None);
        let config = voice_and(vec![WatchedTopic {
            audio: Some(format("S32LE", 1)),
            ..watched("/audio", audio_common_msgs::AUDIO_DATA)
        }]);
        let mut p = Pipeline::new(&config).unwrap();
        // 10 chunks of 1600 frames every 100 ms: 16 000 samples/s.
        for i in 0..10 {
            let chunk = Message::Audio(AudioChunk {
                header: None,
                bytes: 6400,
            });
            p.arrive(&arrival(1, ms(100 * i), chunk));
        }
        let rate = p.audio_sample_rate(1, ms(900)).unwrap();
        assert!((rate - 16_000.0).abs() < 1e-6, "{rate}");
        assert_eq!(p.audio_sample_rate(0, ms(900)), None);
    }

    #[test]
    fn subscription_qos_follows_the_type_unless_configured() {
        use crate::transport::{Durability, Qos, Reliability};
        let mut topic = watched("/t", "sensor_msgs/msg/Image");
        assert_eq!(
            crate::collector::transport_qos(topic.subscription_qos()).reliability,
            Reliability::BestEffort
        );
        topic.qos = Some("reliable".into());
        assert_eq!(
            crate::collector::transport_qos(topic.subscription_qos()).reliability,
            Reliability::Reliable
        );
        topic.qos = None;
        topic.msg_type = GoalStatusArray::TYPE_NAME.into();
        assert_eq!(
            crate::collector::transport_qos(topic.subscription_qos()).durability,
            Durability::TransientLocal
        );
        // A stage's profile reaches its topic, and a later listing fills an unset one.
        let mut stage = StageConfig::new("voice", "/asr", RosString::TYPE_NAME, Correlation::Fifo);
        stage.qos = Some("sensor_data".into());
        let config = CollectorConfig {
            stages: vec![stage],
            ..CollectorConfig::default()
        };
        let p = Pipeline::new(&config).unwrap();
        assert_eq!(
            crate::collector::transport_qos(p.topics()[0].subscription_qos()),
            Qos::sensor_data()
        );
    }

    #[test]
    fn stamp_rate_follows_the_source_clock_and_action_rate_counts_finished_goals() {
        use crate::msg::action_msgs::{GoalInfo, GoalStatus};
        use crate::msg::unique_identifier_msgs::UUID;
        let config = voice_and(vec![
            watched("/camera", "sensor_msgs/msg/Image"),
            watched("/execute/_action/status", GoalStatusArray::TYPE_NAME),
        ]);
        let mut p = Pipeline::new(&config).unwrap();
        // Frames stamped every 40 ms (25 Hz) but delivered with up to 15 ms of jitter.
        for i in 0..50u64 {
            let stamp = ms(1_000 + 40 * i);
            let header = Header {
                stamp: Time::from(stamp),
                frame_id: String::new(),
            };
            let jitter = ms((i * 7) % 16);
            p.observe(&arrival(1, stamp + ms(5) + jitter, Message::Header(header)));
        }
        // Goals finishing: each status array repeats the goals seen so far.
        let goal = |id: u8, status| GoalStatus {
            goal_info: GoalInfo {
                goal_id: UUID { uuid: [id; 16] },
                stamp: Time::default(),
            },
            status,
        };
        let mut list = Vec::new();
        for id in 0..5u8 {
            list.push(goal(id, GoalStatus::STATUS_SUCCEEDED));
            let array = GoalStatusArray {
                status_list: list.clone(),
            };
            p.observe(&arrival(
                2,
                ms(1_000 + 500 * u64::from(id)),
                Message::Goals(array),
            ));
        }
        let now = ms(3_000);
        let batch = p.topic_health(&p.topic_snapshots(now), now);
        let metric = |name: &str, topic: &str| {
            batch
                .metrics
                .iter()
                .find(|m| m.name == name && m.tags[0].value == topic)
                .map(|m| m.mean)
        };
        let stamp_rate = metric("topic_stamp_rate", "/camera").unwrap();
        assert!((stamp_rate - 25.0).abs() < 1e-9, "{stamp_rate}");
        let receive_rate = metric("topic_rate", "/camera").unwrap();
        assert!(
            (receive_rate - 25.0).abs() > 1e-3,
            "jitter shows in the receive rate"
        );
        // Five goals finished at 0.5 s intervals: 2 per second.
        let actions = metric("action_rate", "/execute/_action/status").unwrap();
        assert!((actions - 2.0).abs() < 1e-9, "{actions}");
    }
}
