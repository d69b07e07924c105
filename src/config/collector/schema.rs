//! The collector file's shape: the serde structs (defaults are in `defaults`) and what
//! they derive for the tracker and the subscriptions.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::config::duration;
use crate::core::timeline::{Correlation, StageSpec, TrackerConfig};

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
    /// Foxglove WebSocket server relaying the suite's topics (off unless enabled).
    pub foxglove: FoxgloveConfig,
    /// When set, every completed command is appended to this file as one JSON line.
    pub jsonl_path: Option<PathBuf>,
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

/// The JSON key the default pipeline reads the transcript's confidence from (the simulated
/// speech recogniser writes it).
pub const DEFAULT_CONFIDENCE_KEY: &str = "confidence";

impl JsonFields {
    /// Each configurable key with its YAML name.
    pub fn keys(&self) -> [(&'static str, &Option<String>); 3] {
        [
            ("id", &self.id),
            (DEFAULT_CONFIDENCE_KEY, &self.confidence),
            ("status", &self.status),
        ]
    }
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
    /// `topic` of `msg_type` with every option unset: measured rate, stamp read, QoS by type.
    pub fn new(topic: &str, msg_type: &str) -> Self {
        Self {
            topic: topic.to_owned(),
            msg_type: msg_type.to_owned(),
            expected_rate_hz: None,
            stale_after: None,
            audio: None,
            stamped: None,
            qos: None,
            qos_depth: None,
        }
    }

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

/// Prometheus/OpenMetrics endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrometheusConfig {
    /// Whether to serve `/metrics`.
    pub enabled: bool,
    /// Address to listen on; loopback by default so nothing is exposed unasked.
    pub listen: SocketAddr,
}

/// Foxglove WebSocket server (`foxglove.websocket.v1`): the suite's topics, live, for the
/// Foxglove app, without `foxglove_bridge`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FoxgloveConfig {
    /// Whether to serve.
    pub enabled: bool,
    /// Address to listen on; loopback by default so nothing is exposed unasked.
    pub listen: SocketAddr,
    /// Also relay the stack topics the collector reads whole (strings, stage events,
    /// action status); header-only topics (images, audio) are never relayed.
    pub stack_topics: bool,
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_collector;

    fn parse(text: &str) -> crate::config::Result<CollectorConfig> {
        parse_collector("test.yaml", text).map(|loaded| loaded.config)
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
}
