//! Collector configuration: which topics form the VLA pipeline, how a command is followed
//! across them, and how the collector aggregates and publishes what it measures.
//!
//! The file has one top-level key, `collector:`, so its kind is recognised from content.
//! Every field has a default (see the `Default` impls, the only place defaults live);
//! `config/collector.yaml` spells them all out with comments.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::duration::{self, format_duration};
use super::yaml::{Checker, FieldPath};
use crate::core::timeline::{Correlation, StageSpec, TrackerConfig};

/// Message types known to have no `std_msgs/Header`, so header-stamp correlation is
/// impossible on them.
const HEADERLESS_TYPES: &[&str] = &["std_msgs/msg/String", "action_msgs/msg/GoalStatusArray"];

/// The collector file: the `collector:` root.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CollectorFile {
    /// The collector settings.
    pub(crate) collector: CollectorConfig,
}

/// Settings of the collector node.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CollectorConfig {
    /// Robot identifier put on every metric and message (`robot` tag); no hostname lookup.
    pub robot_id: String,
    /// Prefix of every output topic (`/vla_perf/command_latency`, ...).
    pub namespace: String,
    /// Pipeline stages in order: the first opens a command, the last completes it.
    pub stages: Vec<StageConfig>,
    /// A command still open this long after its first stage times out.
    #[serde(deserialize_with = "duration::required")]
    pub command_timeout: Duration,
    /// Most commands followed at once; beyond it the oldest is abandoned.
    pub max_open_commands: usize,
    /// Sliding windows over which statistics are published (e.g. 10 s, 1 min, 5 min).
    #[serde(deserialize_with = "duration::list")]
    pub windows: Vec<Duration>,
    /// Significant decimal digits kept by latency histograms (1..=5).
    pub significant_digits: u8,
    /// How often metric summaries are published.
    #[serde(deserialize_with = "duration::required")]
    pub publish_period: Duration,
    /// Messages are held this long after they arrive and handed to the pipeline in order
    /// of production, undoing reordering between independently delivered topics (0..=1 s).
    #[serde(deserialize_with = "duration::required")]
    pub reorder_window: Duration,
    /// End-to-end latency objective.
    pub slo: SloConfig,
    /// Extra topics whose rate and age are watched (topic health), beyond the stages.
    pub topics: Vec<WatchedTopic>,
    /// CPU, memory and GPU sampling.
    pub resources: ResourcesConfig,
    /// Prometheus/OpenMetrics endpoint.
    pub prometheus: PrometheusConfig,
    /// When set, every completed command is appended to this file as one JSON line.
    pub jsonl_path: Option<PathBuf>,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        Self {
            robot_id: "robot".to_owned(),
            namespace: "/vla_perf".to_owned(),
            stages: default_stages(),
            command_timeout: Duration::from_secs(30),
            max_open_commands: 1024,
            windows: vec![
                Duration::from_secs(10),
                Duration::from_secs(60),
                Duration::from_secs(300),
            ],
            significant_digits: 3,
            publish_period: Duration::from_secs(1),
            reorder_window: Duration::from_millis(50),
            slo: SloConfig::default(),
            topics: Vec::new(),
            resources: ResourcesConfig::default(),
            prometheus: PrometheusConfig::default(),
            jsonl_path: None,
        }
    }
}

/// The default pipeline: voice -> transcript -> plan -> vision -> action_start -> action_done.
///
/// Chosen to correlate with no cooperation from the stack: audio chunks carry a header
/// stamp that opens the command, the transcript follows in order, the planner's JSON names
/// the command id, and detections and action status follow in order.
fn default_stages() -> Vec<StageConfig> {
    let status_is = |values: &[&str]| FieldMatch {
        field: "status".to_owned(),
        values: values.iter().map(|v| (*v).to_owned()).collect(),
    };
    vec![
        StageConfig::new(
            "voice",
            "/audio/utterance",
            "audio_common_msgs/msg/AudioStamped",
            Correlation::HeaderStamp,
        ),
        StageConfig::new(
            "transcript",
            "/asr/transcript",
            "std_msgs/msg/String",
            Correlation::Fifo,
        )
        .with_json(JsonFields {
            id: None,
            confidence: Some("confidence".to_owned()),
            status: None,
        }),
        StageConfig {
            failure: Some(status_is(&["rejected", "failed"])),
            ..StageConfig::new(
                "plan",
                "/planner/plan",
                "std_msgs/msg/String",
                Correlation::Id {
                    field: "command_id".to_owned(),
                },
            )
            .with_json(JsonFields {
                id: Some("command_id".to_owned()),
                confidence: None,
                status: Some("status".to_owned()),
            })
        },
        StageConfig::new(
            "vision",
            "/vision/detections",
            "vision_msgs/msg/Detection2DArray",
            Correlation::Fifo,
        ),
        StageConfig {
            accept: Some(status_is(&["2"])),
            ..StageConfig::new(
                "action_start",
                "/execute_plan/_action/status",
                "action_msgs/msg/GoalStatusArray",
                Correlation::Fifo,
            )
        },
        StageConfig {
            accept: Some(status_is(&["4", "5", "6"])),
            failure: Some(status_is(&["5", "6"])),
            ..StageConfig::new(
                "action_done",
                "/execute_plan/_action/status",
                "action_msgs/msg/GoalStatusArray",
                Correlation::Fifo,
            )
        },
    ]
}

/// One pipeline stage: a topic whose messages mark a command reaching the stage.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageConfig {
    /// Stage name, the `stage` tag of its metrics (`[A-Za-z_][A-Za-z0-9_]*`).
    pub name: String,
    /// Topic to subscribe to.
    pub topic: String,
    /// ROS 2 type of the topic, `package/msg/Type`.
    pub msg_type: String,
    /// How messages of this stage find their command.
    pub correlation: Correlation,
    /// For `std_msgs/msg/String` payloads holding JSON: keys the collector reads.
    #[serde(default)]
    pub json: Option<JsonFields>,
    /// Only messages whose field has one of these values are events of this stage
    /// (two stages on one action status topic: executing vs. finished).
    #[serde(default)]
    pub accept: Option<FieldMatch>,
    /// Messages whose field has one of these values mark the command as failed here.
    #[serde(default)]
    pub failure: Option<FieldMatch>,
    /// Expected message rate, for topic health; `None` disables the rate check.
    #[serde(default)]
    pub expected_rate_hz: Option<f64>,
    /// Subscription QoS profile (`reliable`, `sensor_data`, `latched`); `None` picks by
    /// type (see [`WatchedTopic::qos`]).
    #[serde(default)]
    pub qos: Option<String>,
    /// History depth of the subscription, overriding the profile's (see
    /// [`WatchedTopic::qos_depth`]).
    #[serde(default)]
    pub qos_depth: Option<usize>,
}

impl StageConfig {
    /// A stage with no JSON block, filters or expected rate.
    pub fn new(name: &str, topic: &str, msg_type: &str, correlation: Correlation) -> Self {
        Self {
            name: name.to_owned(),
            topic: topic.to_owned(),
            msg_type: msg_type.to_owned(),
            correlation,
            json: None,
            accept: None,
            failure: None,
            expected_rate_hz: None,
            qos: None,
            qos_depth: None,
        }
    }

    /// This stage reading the given keys from a JSON payload.
    pub fn with_json(mut self, json: JsonFields) -> Self {
        self.json = Some(json);
        self
    }
}

/// Keys (dotted paths) read from a JSON string payload.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JsonFields {
    /// Key of the command id (must equal the correlation field when correlating by id).
    pub id: Option<String>,
    /// Key of a confidence in 0..1 (ASR confidence, planner confidence).
    pub confidence: Option<String>,
    /// Key of a status text recorded with the event.
    pub status: Option<String>,
}

/// A field (dotted path into the message, or JSON key) and the values that match.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldMatch {
    /// Dotted path of the field.
    pub field: String,
    /// Values, compared with the field rendered as text (`rejected`, `6`).
    #[serde(deserialize_with = "scalar_strings")]
    pub values: Vec<String>,
}

/// End-to-end service level objective.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SloConfig {
    /// A command meets the objective when its end-to-end latency is at most this.
    #[serde(deserialize_with = "duration::required")]
    pub threshold: Duration,
    /// Fraction of commands that should meet it, in (0, 1].
    pub target: f64,
}

impl Default for SloConfig {
    fn default() -> Self {
        Self {
            threshold: Duration::from_secs(5),
            target: 0.95,
        }
    }
}

/// A topic watched for rate and staleness only.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchedTopic {
    /// Topic name.
    pub topic: String,
    /// ROS 2 type, `package/msg/Type`.
    pub msg_type: String,
    /// Expected rate; `None` only reports the measured rate.
    #[serde(default)]
    pub expected_rate_hz: Option<f64>,
    /// The topic is stale when no message arrived for this long; `None` never.
    #[serde(default, deserialize_with = "duration::optional")]
    pub stale_after: Option<Duration>,
    /// Sample layout of an `audio_common_msgs` chunk topic, to count samples per second;
    /// audio topics without it are taken as S16LE mono.
    #[serde(default)]
    pub audio: Option<AudioFormat>,
    /// `false` for a type that does not start with a `std_msgs/Header` (`std_msgs/msg/Int32`,
    /// `geometry_msgs/msg/Twist`, ...): the topic is watched by arrival only (rate, jitter,
    /// bandwidth) without reading the message, as `ros2 topic hz` does. Unset or `true`
    /// reads the header's stamp (age) of any other type.
    #[serde(default)]
    pub stamped: Option<bool>,
    /// Subscription QoS profile: `reliable` (reliable, volatile, depth 10), `sensor_data`
    /// (best effort, depth 5) or `latched` (reliable, transient local, depth 1). `None`
    /// picks by type: `latched` for action status, `reliable` for strings and stage events,
    /// `sensor_data` for everything else, which matches reliable and best-effort publishers
    /// alike but may lose samples a reliable reader would have had retransmitted.
    #[serde(default)]
    pub qos: Option<String>,
    /// History depth of the subscription, overriding the profile's: samples the
    /// middleware keeps until the collector takes them. A kHz topic wants more than the
    /// sensor-data profile's 5 to ride out scheduling delays; large messages (images) cost
    /// their size per slot in the middleware's cache. 1..=10000.
    #[serde(default)]
    pub qos_depth: Option<usize>,
}

/// A subscription QoS profile by its name in the configuration. The configuration knows
/// names; the collector maps them onto the transport's QoS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QosProfile {
    /// `reliable` (or `default`): reliable, volatile, depth 10.
    Reliable,
    /// `sensor_data` (or `best_effort`): best effort, volatile, depth 5.
    SensorData,
    /// `latched` (or `transient_local`): reliable, transient local, depth 1.
    Latched,
}

impl QosProfile {
    /// The profile a config name stands for.
    pub fn by_name(name: &str) -> Option<Self> {
        match name {
            "default" | "reliable" => Some(Self::Reliable),
            "sensor_data" | "best_effort" => Some(Self::SensorData),
            "latched" | "transient_local" => Some(Self::Latched),
            _ => None,
        }
    }
}

/// What a watched topic's subscription asks for: a profile, and a depth when not the
/// profile's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscriptionQos {
    /// The profile.
    pub profile: QosProfile,
    /// History depth overriding the profile's.
    pub depth: Option<usize>,
}

impl WatchedTopic {
    /// The subscription QoS: the configured profile, else the type's usual one.
    pub fn subscription_qos(&self) -> SubscriptionQos {
        let (profile, depth) = match self.qos.as_deref().and_then(QosProfile::by_name) {
            Some(profile) => (profile, None),
            None => match self.msg_type.as_str() {
                // Action servers publish status transient-local (latched), keep last 1.
                "action_msgs/msg/GoalStatusArray" => (QosProfile::Latched, None),
                "std_msgs/msg/String" | "vla_perf/msg/StageEvent" => {
                    (QosProfile::Reliable, Some(100))
                }
                // A best-effort reader matches both reliable and best-effort publishers
                // (cameras usually publish sensor data).
                _ => (QosProfile::SensorData, None),
            },
        };
        SubscriptionQos {
            profile,
            depth: self.qos_depth.or(depth),
        }
    }

    /// The sample layout used for this topic, if it carries countable audio.
    pub fn audio_format(&self) -> Option<AudioFormat> {
        crate::msg::audio_common_msgs::is_audio(&self.msg_type)
            .then(|| self.audio.clone().unwrap_or_default())
    }
}

/// How an audio topic's samples are laid out; its `AudioInfo` topic says the same.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AudioFormat {
    /// GStreamer-style sample format as in `AudioInfo.sample_format`: `S16LE`, `F32LE`,
    /// `U8`, `S24LE`, `S32LE` ... (the number is bits per sample).
    pub sample_format: String,
    /// Interleaved channels.
    pub channels: u32,
}

impl Default for AudioFormat {
    fn default() -> Self {
        Self {
            sample_format: "S16LE".to_owned(),
            channels: 1,
        }
    }
}

impl AudioFormat {
    /// Bytes of one sample of one channel; `None` for a format that is not understood.
    pub fn sample_bytes(&self) -> Option<u32> {
        let body = self.sample_format.strip_prefix(['S', 'U', 'F'])?;
        let digits: String = body.chars().take_while(char::is_ascii_digit).collect();
        let rest = &body[digits.len()..];
        if !matches!(rest, "" | "LE" | "BE") {
            return None;
        }
        match digits.parse::<u32>().ok()? {
            bits @ (8 | 16 | 24 | 32 | 64) => Some(bits / 8),
            _ => None,
        }
    }

    /// Bytes of one frame: a sample of every channel.
    pub fn frame_bytes(&self) -> Option<u64> {
        Some(u64::from(self.sample_bytes()?) * u64::from(self.channels))
    }
}

/// Resource sampling.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResourcesConfig {
    /// Sampling period.
    #[serde(deserialize_with = "duration::required")]
    pub period: Duration,
    /// Process names sampled individually (e.g. the ASR and planner nodes).
    pub processes: Vec<String>,
    /// Whether to sample NVIDIA GPUs through NVML.
    pub gpu: bool,
}

impl Default for ResourcesConfig {
    fn default() -> Self {
        Self {
            period: Duration::from_secs(1),
            processes: Vec::new(),
            gpu: true,
        }
    }
}

/// Prometheus/OpenMetrics endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrometheusConfig {
    /// Whether to serve `/metrics`.
    pub enabled: bool,
    /// Address to listen on; loopback by default so nothing is exposed unasked.
    pub listen: SocketAddr,
}

impl Default for PrometheusConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 9464)),
        }
    }
}

/// Accepts YAML scalars of any type as strings, so `values: [4, 5]` and `[rejected]` both work.
fn scalar_strings<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        Text(String),
        Int(i64),
        Float(f64),
        Bool(bool),
    }
    let values = Vec::<Scalar>::deserialize(deserializer)?;
    Ok(values
        .into_iter()
        .map(|v| match v {
            Scalar::Text(s) => s,
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Bool(b) => b.to_string(),
        })
        .collect())
}

impl CollectorConfig {
    /// The stages as the command tracker needs them.
    pub fn to_tracker_stages(&self) -> Vec<StageSpec> {
        self.stages
            .iter()
            .map(|stage| StageSpec::new(stage.name.clone(), stage.correlation.clone()))
            .collect()
    }

    /// The command tracker's settings.
    pub fn tracker_config(&self) -> TrackerConfig {
        TrackerConfig {
            stages: self.to_tracker_stages(),
            max_open: self.max_open_commands,
            command_timeout: self.command_timeout,
        }
    }

    /// Checks the rules serde cannot express; `at` is the path of this config in the file.
    pub(crate) fn validate(&self, at: &FieldPath, check: &mut Checker) {
        if !is_identifier(&self.robot_id) {
            check.error(at.key("robot_id"), &self.robot_id, ROBOT_ID_RULE);
        }
        if !is_namespace(&self.namespace) {
            check.error(at.key("namespace"), &self.namespace, NAMESPACE_RULE);
        }
        let stages = at.key("stages");
        if self.stages.is_empty() {
            check.error(stages.clone(), "[]", "at least one stage is required");
        }
        for (i, stage) in self.stages.iter().enumerate() {
            stage.validate(&stages.index(i), check);
            if let Some(first) = self.stages[..i].iter().position(|s| s.name == stage.name) {
                check.error(
                    stages.index(i).key("name"),
                    &stage.name,
                    format!("duplicate stage name; stages[{first}] has the same name"),
                );
            }
        }
        positive(check, at.key("command_timeout"), self.command_timeout);
        if self.max_open_commands == 0 {
            check.error(
                at.key("max_open_commands"),
                0,
                "max_open_commands must be > 0",
            );
        }
        if self.windows.is_empty() {
            check.error(
                at.key("windows"),
                "[]",
                "at least one statistics window is required",
            );
        }
        for (i, window) in self.windows.iter().enumerate() {
            positive(check, at.key("windows").index(i), *window);
            if self.windows[..i].contains(window) {
                check.error(
                    at.key("windows").index(i),
                    format_duration(*window),
                    "duplicate window",
                );
            }
        }
        if !(1..=5).contains(&self.significant_digits) {
            check.error(
                at.key("significant_digits"),
                self.significant_digits,
                "significant_digits must be between 1 and 5",
            );
        }
        positive(check, at.key("publish_period"), self.publish_period);
        if self.reorder_window > Duration::from_secs(1) {
            check.error(
                at.key("reorder_window"),
                format_duration(self.reorder_window),
                "reorder_window delays every output and must be at most 1s",
            );
        }
        positive(check, at.key("slo").key("threshold"), self.slo.threshold);
        if !(self.slo.target > 0.0 && self.slo.target <= 1.0) {
            check.error(
                at.key("slo").key("target"),
                self.slo.target,
                "slo.target is a fraction of commands and must be in (0, 1]",
            );
        }
        for (i, topic) in self.topics.iter().enumerate() {
            let path = at.key("topics").index(i);
            check_topic(check, path.key("topic"), &topic.topic);
            check_msg_type(check, path.key("msg_type"), &topic.msg_type);
            if let Some(rate) = topic.expected_rate_hz {
                positive_rate(check, path.key("expected_rate_hz"), rate);
            }
            if let Some(stale) = topic.stale_after {
                positive(check, path.key("stale_after"), stale);
            }
            check_qos(check, path.key("qos"), topic.qos.as_deref());
            check_depth(check, path.key("qos_depth"), topic.qos_depth);
            if let Some(audio) = &topic.audio {
                let path = path.key("audio");
                if !crate::msg::audio_common_msgs::is_audio(&topic.msg_type) {
                    check.error(
                        path.clone(),
                        &topic.msg_type,
                        "audio applies only to audio_common_msgs/msg/AudioData and \
                         audio_common_msgs/msg/AudioDataStamped topics",
                    );
                }
                if audio.sample_bytes().is_none() {
                    check.error(
                        path.key("sample_format"),
                        &audio.sample_format,
                        "sample_format must be like S16LE, U8, S24LE, S32LE, F32LE or F64LE",
                    );
                }
                if audio.channels == 0 {
                    check.error(path.key("channels"), 0, "channels must be at least 1");
                }
            }
        }
        positive(
            check,
            at.key("resources").key("period"),
            self.resources.period,
        );
        for (i, process) in self.resources.processes.iter().enumerate() {
            if process.trim().is_empty() {
                check.error(
                    at.key("resources").key("processes").index(i),
                    process,
                    "process name must not be empty",
                );
            }
        }
        if let Some(path) = &self.jsonl_path {
            if path.as_os_str().is_empty() {
                check.error(at.key("jsonl_path"), "", "jsonl_path must not be empty");
            }
        }
    }

    /// Sets `robot_id` (a node parameter overriding the file), checked as the file's is.
    pub fn set_robot_id(&mut self, robot_id: &str) -> std::result::Result<(), String> {
        if !is_identifier(robot_id) {
            return Err(format!("{robot_id:?}: {ROBOT_ID_RULE}"));
        }
        robot_id.clone_into(&mut self.robot_id);
        Ok(())
    }

    /// Sets `namespace` (a node parameter overriding the file), checked as the file's is.
    pub fn set_namespace(&mut self, namespace: &str) -> std::result::Result<(), String> {
        if !is_namespace(namespace) {
            return Err(format!("{namespace:?}: {NAMESPACE_RULE}"));
        }
        namespace.clone_into(&mut self.namespace);
        Ok(())
    }

    /// A readable account of what was understood, for `vla-perf check-config`.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "robot_id: {}   namespace: {}",
            self.robot_id, self.namespace
        );
        let _ = writeln!(out, "stages ({}):", self.stages.len());
        for (i, stage) in self.stages.iter().enumerate() {
            let _ = writeln!(
                out,
                "  {}. {:<13} {:<32} {:<38} correlation: {}",
                i + 1,
                stage.name,
                stage.topic,
                stage.msg_type,
                correlation_text(&stage.correlation)
            );
            if let Some(json) = &stage.json {
                let keys: Vec<String> = [
                    ("id", &json.id),
                    ("confidence", &json.confidence),
                    ("status", &json.status),
                ]
                .iter()
                .filter_map(|(name, key)| key.as_ref().map(|k| format!("{name}={k}")))
                .collect();
                let _ = writeln!(out, "     json: {}", keys.join(", "));
            }
            if let Some(accept) = &stage.accept {
                let _ = writeln!(
                    out,
                    "     accept when {} in [{}]",
                    accept.field,
                    accept.values.join(", ")
                );
            }
            if let Some(failure) = &stage.failure {
                let _ = writeln!(
                    out,
                    "     failed when {} in [{}]",
                    failure.field,
                    failure.values.join(", ")
                );
            }
            if let Some(rate) = stage.expected_rate_hz {
                let _ = writeln!(out, "     expected rate: {rate} Hz");
            }
        }
        let windows: Vec<String> = self.windows.iter().map(|w| format_duration(*w)).collect();
        let _ = writeln!(
            out,
            "command_timeout: {}   max_open_commands: {}",
            format_duration(self.command_timeout),
            self.max_open_commands
        );
        let _ = writeln!(
            out,
            "windows: [{}]   significant_digits: {}   publish_period: {}   reorder_window: {}",
            windows.join(", "),
            self.significant_digits,
            format_duration(self.publish_period),
            format_duration(self.reorder_window)
        );
        let _ = writeln!(
            out,
            "slo: end-to-end latency <= {} for {}% of commands",
            format_duration(self.slo.threshold),
            self.slo.target * 100.0
        );
        for topic in &self.topics {
            let rate = topic
                .expected_rate_hz
                .map_or("any rate".to_owned(), |r| format!("{r} Hz"));
            let stale = topic.stale_after.map_or("never stale".to_owned(), |s| {
                format!("stale after {}", format_duration(s))
            });
            let audio = topic.audio_format().map_or(String::new(), |a| {
                format!(", audio {} x {} channel(s)", a.sample_format, a.channels)
            });
            let _ = writeln!(
                out,
                "watched topic: {} ({}) {rate}, {stale}{audio}",
                topic.topic, topic.msg_type
            );
        }
        let _ = writeln!(
            out,
            "resources: every {}, processes [{}], gpu {}",
            format_duration(self.resources.period),
            self.resources.processes.join(", "),
            if self.resources.gpu { "on" } else { "off" }
        );
        let _ = writeln!(
            out,
            "prometheus: {}",
            if self.prometheus.enabled {
                format!("http://{}/metrics", self.prometheus.listen)
            } else {
                "disabled".to_owned()
            }
        );
        if let Some(path) = &self.jsonl_path {
            let _ = writeln!(out, "jsonl: {}", path.display());
        }
        out
    }
}

impl StageConfig {
    fn validate(&self, at: &FieldPath, check: &mut Checker) {
        if !is_identifier(&self.name) {
            check.error(
                at.key("name"),
                &self.name,
                "stage name must be an identifier ([A-Za-z_][A-Za-z0-9_]*)",
            );
        }
        check_topic(check, at.key("topic"), &self.topic);
        check_msg_type(check, at.key("msg_type"), &self.msg_type);
        check_qos(check, at.key("qos"), self.qos.as_deref());
        check_depth(check, at.key("qos_depth"), self.qos_depth);
        match &self.correlation {
            Correlation::Id { field } if !is_field_path(field) => check.error(
                at.key("correlation").key("field"),
                field,
                "correlation field must be a dotted path such as `meta.command_id`",
            ),
            Correlation::HeaderStamp if HEADERLESS_TYPES.contains(&self.msg_type.as_str()) => check
                .error(
                    at.key("correlation").key("mode"),
                    "header_stamp",
                    format!(
                        "{} has no header; correlate with `id` or `fifo`",
                        self.msg_type
                    ),
                ),
            _ => {}
        }
        if let Some(json) = &self.json {
            if self.msg_type != "std_msgs/msg/String" {
                check.error(
                    at.key("json"),
                    &self.msg_type,
                    "a json block is only meaningful for std_msgs/msg/String payloads",
                );
            }
            for (name, key) in [
                ("id", &json.id),
                ("confidence", &json.confidence),
                ("status", &json.status),
            ] {
                if let Some(key) = key {
                    if !is_field_path(key) {
                        check.error(
                            at.key("json").key(name),
                            key,
                            "must be a dotted key path such as `meta.command_id`",
                        );
                    }
                }
            }
            if let (Some(id), Correlation::Id { field }) = (&json.id, &self.correlation) {
                if id != field {
                    check.error(
                        at.key("json").key("id"),
                        id,
                        format!(
                            "differs from correlation.field `{field}`; the id is read from one key"
                        ),
                    );
                }
            }
        }
        for (name, rule) in [("accept", &self.accept), ("failure", &self.failure)] {
            if let Some(rule) = rule {
                if !is_field_path(&rule.field) {
                    check.error(
                        at.key(name).key("field"),
                        &rule.field,
                        "must be a dotted field path",
                    );
                }
                if rule.values.is_empty() {
                    check.error(
                        at.key(name).key("values"),
                        "[]",
                        "at least one value is required",
                    );
                }
            }
        }
        if let Some(rate) = self.expected_rate_hz {
            positive_rate(check, at.key("expected_rate_hz"), rate);
        }
    }
}

/// How a correlation rule reads in a summary.
pub(crate) fn correlation_text(correlation: &Correlation) -> String {
    match correlation {
        Correlation::Id { field } => format!("id ({field})"),
        Correlation::HeaderStamp => "header_stamp".to_owned(),
        Correlation::Fifo => "fifo".to_owned(),
    }
}

fn positive(check: &mut Checker, field: FieldPath, value: Duration) {
    if value.is_zero() {
        check.error(field, format_duration(value), "must be greater than zero");
    }
}

fn positive_rate(check: &mut Checker, field: FieldPath, rate: f64) {
    if !(rate.is_finite() && rate > 0.0) {
        check.error(
            field,
            rate,
            "rate must be a finite number of Hz greater than zero",
        );
    }
}

fn check_topic(check: &mut Checker, field: FieldPath, topic: &str) {
    if !is_topic(topic) {
        check.error(
            field,
            topic,
            "not a valid ROS topic name (letters, digits, `_`, `/`; no `//`, no trailing `/`)",
        );
    }
}

fn check_qos(check: &mut Checker, field: FieldPath, qos: Option<&str>) {
    if let Some(name) = qos {
        if QosProfile::by_name(name).is_none() {
            check.error(
                field,
                name,
                "qos must be one of reliable, sensor_data (best_effort), latched (transient_local)",
            );
        }
    }
}

fn check_depth(check: &mut Checker, field: FieldPath, depth: Option<usize>) {
    if let Some(depth) = depth.filter(|d| !(1..=10_000).contains(d)) {
        check.error(field, depth, "qos_depth must be from 1 to 10000");
    }
}

fn check_msg_type(check: &mut Checker, field: FieldPath, msg_type: &str) {
    let parts: Vec<&str> = msg_type.split('/').collect();
    let valid = parts.len() == 3
        && parts[1] == "msg"
        && is_identifier(parts[0])
        && parts[2]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_uppercase())
        && is_identifier(parts[2]);
    if !valid {
        check.error(
            field,
            msg_type,
            "message type must be `package/msg/Type`, e.g. `std_msgs/msg/String`",
        );
    }
}

const ROBOT_ID_RULE: &str = "robot_id must be a non-empty identifier ([A-Za-z_][A-Za-z0-9_]*)";
const NAMESPACE_RULE: &str = "namespace must be an absolute ROS name such as `/vla_perf`";

/// An absolute topic namespace (`/vla_perf`).
fn is_namespace(text: &str) -> bool {
    text.starts_with('/') && is_topic(text)
}

/// `[A-Za-z_][A-Za-z0-9_]*`.
pub(crate) fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Dot-separated non-empty keys (`meta.command_id`, `goal_info.goal_id`).
fn is_field_path(text: &str) -> bool {
    crate::core::extract::JsonPath::parse(text).is_ok()
}

/// A ROS 2 topic name, absolute or relative (`/asr/transcript`, `~/status`).
pub(crate) fn is_topic(text: &str) -> bool {
    let body = text
        .strip_prefix("~/")
        .or_else(|| text.strip_prefix('/'))
        .unwrap_or(text);
    !body.is_empty()
        && !body.ends_with('/')
        && body.split('/').all(|token| {
            token
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && token.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_collector;

    fn parse(text: &str) -> crate::config::Result<CollectorConfig> {
        parse_collector("test.yaml", text).map(|loaded| loaded.config)
    }

    #[test]
    fn an_empty_collector_block_takes_every_default() {
        assert_eq!(
            parse("collector: {}\n").unwrap(),
            CollectorConfig::default()
        );
    }

    #[test]
    fn the_default_pipeline_has_six_stages_in_order() {
        let names: Vec<String> = CollectorConfig::default()
            .to_tracker_stages()
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(
            names,
            [
                "voice",
                "transcript",
                "plan",
                "vision",
                "action_start",
                "action_done"
            ]
        );
    }

    #[test]
    fn tracker_config_carries_limits_and_correlation() {
        let config = parse(
            "collector:\n  max_open_commands: 8\n  command_timeout: 2s\n  stages:\n    - {name: a, topic: /a, msg_type: std_msgs/msg/String, correlation: {mode: id, field: meta.command_id}}\n",
        )
        .unwrap();
        let tracker = config.tracker_config();
        assert_eq!(tracker.max_open, 8);
        assert_eq!(tracker.command_timeout, Duration::from_secs(2));
        assert_eq!(
            tracker.stages,
            vec![StageSpec::new(
                "a",
                Correlation::Id {
                    field: "meta.command_id".to_owned()
                }
            )]
        );
    }

    #[test]
    fn failure_values_accept_numbers_and_text() {
        let config = parse(
            "collector:\n  stages:\n    - name: done\n      topic: /x/_action/status\n      msg_type: action_msgs/msg/GoalStatusArray\n      correlation: {mode: fifo}\n      failure: {field: status, values: [6, aborted]}\n",
        )
        .unwrap();
        let failure = config.stages[0].failure.clone().unwrap();
        assert_eq!(failure.values, ["6", "aborted"]);
    }

    #[test]
    fn header_stamp_on_a_headerless_type_is_rejected_at_the_mode() {
        let error = parse(
            "collector:\n  stages:\n    - name: t\n      topic: /t\n      msg_type: std_msgs/msg/String\n      correlation: {mode: header_stamp}\n",
        )
        .unwrap_err();
        assert_eq!(error.field(), Some("collector.stages[0].correlation.mode"));
        assert_eq!(error.position(), Some((6, 27)));
        assert!(error.to_string().contains("has no header"), "{error}");
    }

    #[test]
    fn json_id_must_agree_with_the_correlation_field() {
        let error = parse(
            "collector:\n  stages:\n    - name: p\n      topic: /p\n      msg_type: std_msgs/msg/String\n      correlation: {mode: id, field: a}\n      json: {id: b}\n",
        )
        .unwrap_err();
        assert_eq!(error.field(), Some("collector.stages[0].json.id"));
    }

    #[test]
    fn topic_and_type_syntax_is_checked() {
        assert!(is_topic("/asr/transcript"));
        assert!(is_topic("~/status"));
        assert!(is_topic("relative/name"));
        assert!(!is_topic("/a//b"));
        assert!(!is_topic("/a/"));
        assert!(!is_topic("/1a"));
        assert!(!is_topic("/has space"));
        let mut check = Checker::default();
        check_msg_type(&mut check, FieldPath::root(), "std_msgs/String");
        check_msg_type(&mut check, FieldPath::root(), "std_msgs/msg/String");
        assert_eq!(check.errors.len(), 1);
    }

    #[test]
    fn the_summary_lists_every_stage_with_topic_type_and_correlation() {
        let summary = CollectorConfig::default().summary();
        assert!(summary.contains("plan"), "{summary}");
        assert!(summary.contains("/planner/plan"));
        assert!(summary.contains("id (command_id)"));
        assert!(summary.contains("windows: [10s, 1m, 5m]"));
        assert!(summary.contains("http://127.0.0.1:9464/metrics"));
    }
}
