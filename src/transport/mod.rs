//! The middleware seam: the few operations vla_perf nodes need from ROS 2.
//!
//! Nodes talk to a [`Transport`] and the [`Node`]s it creates, never to a backend directly.
//! Backends move CDR bytes (with their 4-byte encapsulation header), so the seam is
//! object-safe and every backend sees the same bytes; typed publishing and subscribing,
//! header-only decoding and the per-topic counters live here, once, on top of the bytes.
//!
//! Backends:
//! - [`ros2_client`] (feature `ros2-client`, default): pure Rust over RustDDS.
//! - `r2r` (feature `r2r`): rcl-native, for colcon builds on ROS 2 machines.
//! - [`inproc`]: an in-process bus for unit tests of node logic; not a ROS 2 transport.

pub mod inproc;
#[cfg(feature = "r2r")]
pub mod r2r;
#[cfg(feature = "ros2-client")]
pub mod ros2_client;
mod subscription;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use subscription::{
    AudioChunks, Decoder, HeaderOnly, Received, Subscription, TopicCounters, Typed, Unstamped,
    WholeCdr,
};

use crate::msg::RosMessage;

/// Why a transport operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An environment variable holds a value the ROS 2 conventions do not allow.
    #[error("environment variable {name}={value:?}: {reason}")]
    Env {
        /// Variable name.
        name: &'static str,
        /// Its value.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A node, topic or type name is not a valid ROS 2 name.
    #[error("invalid {what} {name:?}: {reason}")]
    Name {
        /// `node name`, `namespace`, `topic` or `type`.
        what: &'static str,
        /// The offending name.
        name: String,
        /// Why it is invalid.
        reason: String,
    },
    /// A topic is already used with another message type on this node.
    #[error("topic {topic} carries {existing}, not {requested}")]
    TypeMismatch {
        /// The topic.
        topic: String,
        /// The type it already has.
        existing: String,
        /// The type asked for.
        requested: String,
    },
    /// A message could not be serialised.
    #[error("cannot serialise {type_name}: {source}")]
    Encode {
        /// ROS type of the message.
        type_name: &'static str,
        /// The CDR error.
        source: crate::msg::cdr::Error,
    },
    /// The backend refused (creation, publishing).
    #[error("{backend}: {operation}: {message}")]
    Backend {
        /// Which backend.
        backend: &'static str,
        /// What was attempted, e.g. `create publisher /vla_perf/alerts`.
        operation: String,
        /// The backend's own error text.
        message: String,
    },
    /// The backend failed with an error of its own (creation, publishing).
    #[error("{backend}: {operation}: {source}")]
    BackendFailed {
        /// Which backend.
        backend: &'static str,
        /// What was attempted, e.g. `create publisher /vla_perf/alerts`.
        operation: String,
        /// The backend's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Error {
    /// `backend` failed at `operation` with an error of its own, kept as the source.
    pub fn backend_failed(
        backend: &'static str,
        operation: impl Into<String>,
        error: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        Error::BackendFailed {
            backend,
            operation: operation.into(),
            source: Box::new(error),
        }
    }
}

/// Result alias of this module.
pub type Result<T> = std::result::Result<T, Error>;

/// Delivery guarantee of a topic endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reliability {
    /// Retransmit until acknowledged (ROS default).
    Reliable,
    /// Send once; newer data wins (sensor data).
    BestEffort,
}

/// Whether late joiners receive samples published before they joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Durability {
    /// Only samples published after the subscription exists.
    Volatile,
    /// The last `depth` samples are kept for late joiners ("latched").
    TransientLocal,
}

/// A QoS profile: the subset of DDS QoS that ROS 2 profiles set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Qos {
    /// Reliable or best effort.
    pub reliability: Reliability,
    /// Volatile or transient-local.
    pub durability: Durability,
    /// History depth (keep last N).
    pub depth: usize,
}

impl Qos {
    /// The ROS 2 default profile: reliable, volatile, keep last `depth`.
    pub const fn reliable(depth: usize) -> Self {
        Self {
            reliability: Reliability::Reliable,
            durability: Durability::Volatile,
            depth,
        }
    }

    /// The ROS 2 sensor-data profile: best effort, volatile, keep last 5.
    pub const fn sensor_data() -> Self {
        Self {
            reliability: Reliability::BestEffort,
            durability: Durability::Volatile,
            depth: 5,
        }
    }

    /// Latched status: reliable, transient-local, keep last 1.
    pub const fn latched() -> Self {
        Self {
            reliability: Reliability::Reliable,
            durability: Durability::TransientLocal,
            depth: 1,
        }
    }

    /// A profile by name: `default`/`reliable`, `sensor_data`/`best_effort`, `latched`.
    pub fn by_name(name: &str) -> Option<Self> {
        match name {
            "default" | "reliable" => Some(Self::reliable(10)),
            "sensor_data" | "best_effort" => Some(Self::sensor_data()),
            "latched" | "transient_local" => Some(Self::latched()),
            _ => None,
        }
    }
}

/// Which peers discovery may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DiscoveryRange {
    /// Only processes on this host, over loopback (vla_perf's default).
    Localhost,
    /// The local networks too (opt in).
    Subnet,
}

impl DiscoveryRange {
    /// The range set by the environment, with ROS 2 semantics: `ROS_AUTOMATIC_DISCOVERY_RANGE`
    /// (`LOCALHOST`, `SUBNET`, `SYSTEM_DEFAULT`, `OFF`) wins over the older
    /// `ROS_LOCALHOST_ONLY=1`. Unlike ROS 2, which defaults to the subnet, vla_perf stays on
    /// localhost unless the network is asked for explicitly.
    pub fn from_env() -> Result<Self> {
        Self::from_vars(
            std::env::var("ROS_AUTOMATIC_DISCOVERY_RANGE")
                .ok()
                .as_deref(),
            std::env::var("ROS_LOCALHOST_ONLY").ok().as_deref(),
        )
    }

    fn from_vars(range: Option<&str>, localhost_only: Option<&str>) -> Result<Self> {
        match range.map(str::trim).filter(|v| !v.is_empty()) {
            Some(v) if v.eq_ignore_ascii_case("SUBNET") => return Ok(Self::Subnet),
            Some(v) if v.eq_ignore_ascii_case("SYSTEM_DEFAULT") => return Ok(Self::Subnet),
            // OFF would mean no discovery at all; localhost is the closest that still works.
            Some(v) if v.eq_ignore_ascii_case("LOCALHOST") || v.eq_ignore_ascii_case("OFF") => {
                return Ok(Self::Localhost)
            }
            Some(v) => {
                return Err(Error::Env {
                    name: "ROS_AUTOMATIC_DISCOVERY_RANGE",
                    value: v.to_owned(),
                    reason: "expected LOCALHOST, SUBNET, SYSTEM_DEFAULT or OFF".into(),
                })
            }
            None => {}
        }
        match localhost_only.map(str::trim) {
            None | Some("") | Some("1") => Ok(Self::Localhost),
            Some("0") => Ok(Self::Subnet),
            Some(v) => Err(Error::Env {
                name: "ROS_LOCALHOST_ONLY",
                value: v.to_owned(),
                reason: "expected 0 or 1".into(),
            }),
        }
    }
}

/// A node parameter value: the ROS 2 scalar types vla_perf's nodes use.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    /// `bool`
    Bool(bool),
    /// `integer` (int64)
    Integer(i64),
    /// `double` (float64)
    Double(f64),
    /// `string`
    String(String),
}

/// Where and how to create a node.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeOptions {
    /// Node name, e.g. `vla_perf_collector`.
    pub name: String,
    /// Namespace, `/` or `/robot1`.
    pub namespace: String,
    /// DDS domain (`ROS_DOMAIN_ID`).
    pub domain_id: u16,
    /// Discovery range.
    pub range: DiscoveryRange,
    /// Parameters the node declares, with their initial values. Backends that read
    /// `--ros-args -p name:=value` from the command line (r2r) let those override them.
    pub parameters: Vec<(String, ParamValue)>,
}

impl NodeOptions {
    /// Options for `name` in `namespace` on domain 0, localhost only, no parameters.
    pub fn new(name: &str, namespace: &str) -> Self {
        Self {
            name: name.to_owned(),
            namespace: namespace.to_owned(),
            domain_id: 0,
            range: DiscoveryRange::Localhost,
            parameters: Vec::new(),
        }
    }

    /// These options on another domain.
    pub fn with_domain(mut self, domain_id: u16) -> Self {
        self.domain_id = domain_id;
        self
    }

    /// These options declaring parameter `name` with initial `value`.
    pub fn with_parameter(mut self, name: &str, value: ParamValue) -> Self {
        self.parameters.push((name.to_owned(), value));
        self
    }

    /// Options for `name` in `namespace`, domain and range taken from the environment.
    pub fn from_env(name: &str, namespace: &str) -> Result<Self> {
        let domain_id = match std::env::var("ROS_DOMAIN_ID") {
            Ok(v) if !v.trim().is_empty() => parse_domain_id(&v)?,
            _ => 0,
        };
        Ok(Self {
            domain_id,
            range: DiscoveryRange::from_env()?,
            ..Self::new(name, namespace)
        })
    }
}

fn parse_domain_id(value: &str) -> Result<u16> {
    // 232 is the largest id whose ports fit for every participant on Linux (ROS 2 docs).
    match value.trim().parse::<u16>() {
        Ok(id) if id <= 232 => Ok(id),
        _ => Err(Error::Env {
            name: "ROS_DOMAIN_ID",
            value: value.to_owned(),
            reason: "expected an integer from 0 to 232".into(),
        }),
    }
}

/// One received message, still serialised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// CDR bytes including the 4-byte encapsulation header; only the first
    /// [`SampleSink::prefix`] bytes when the subscriber asked for a prefix.
    pub cdr: Vec<u8>,
    /// Serialised size of the whole message, whatever `cdr` kept.
    pub size: usize,
    /// Wall-clock receive time, since the UNIX epoch.
    pub received_at: Duration,
    /// The publisher's own timestamp of the write (DDS source timestamp), when the
    /// middleware delivers one.
    pub source_time: Option<Duration>,
}

/// One topic of the ROS 2 graph, as `ros2 topic info` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GraphTopic {
    /// Fully qualified topic name.
    pub name: String,
    /// Its ROS types (`pkg/msg/Type`); more than one means publishers disagree.
    pub types: Vec<String>,
    /// Its publishers: `/namespace/node` where the backend knows node names, else the
    /// publishing DDS participant.
    pub publishers: Vec<String>,
}

/// Creates nodes on one middleware.
pub trait Transport: Send + Sync {
    /// A short name of the backend for logs (`ros2-client`, `r2r`, `inproc`).
    fn backend(&self) -> &'static str;
    /// Creates a node that appears in the ROS 2 graph.
    fn create_node(&self, options: &NodeOptions) -> Result<Box<dyn Node>>;
}

/// A node: publishers, subscriptions and a clock.
pub trait Node: Send {
    /// The node's name.
    fn name(&self) -> &str;
    /// The node's namespace.
    fn namespace(&self) -> &str;
    /// A publisher of already-serialised messages of ROS type `type_name` (`pkg/msg/Type`).
    fn create_raw_publisher(
        &mut self,
        topic: &str,
        type_name: &str,
        qos: Qos,
    ) -> Result<Box<dyn RawPublisher>>;
    /// A subscription delivering serialised samples of `type_name` into `sink`. Samples the
    /// sink cannot take at once are dropped and counted in `counters`, never blocking the
    /// middleware.
    fn create_raw_subscription(
        &mut self,
        topic: &str,
        type_name: &str,
        qos: Qos,
        sink: SampleSink,
    ) -> Result<()>;
    /// ROS time now (simulated time when the backend follows `/clock`).
    fn now(&self) -> Duration {
        wall_clock()
    }
    /// Monotonic time since the process's first look at it: for periods and timeouts,
    /// which must not jump with the wall clock.
    fn steady(&self) -> Duration {
        steady_clock()
    }
    /// The current value of a declared parameter (it may have been set remotely).
    fn parameter(&self, name: &str) -> Option<ParamValue>;
    /// The topics with publishers that discovery knows now, this node's own included, sorted
    /// by name (`ros2 topic list -t`).
    fn graph_topics(&self) -> Result<Vec<GraphTopic>>;
}

/// Topics grouped from (topic, type, publisher) triples: sorted, each type and publisher
/// once.
pub fn group_topics(
    endpoints: impl IntoIterator<Item = (String, String, String)>,
) -> Vec<GraphTopic> {
    let mut topics: std::collections::BTreeMap<String, GraphTopic> = Default::default();
    for (name, type_name, publisher) in endpoints {
        let t = topics.entry(name.clone()).or_insert_with(|| GraphTopic {
            name,
            ..GraphTopic::default()
        });
        if !t.types.contains(&type_name) {
            t.types.push(type_name);
        }
        if !publisher.is_empty() && !t.publishers.contains(&publisher) {
            t.publishers.push(publisher);
        }
    }
    topics.into_values().collect()
}

/// Monotonic time since the first call in this process.
pub fn steady_clock() -> Duration {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed()
}

/// Publishes serialised messages.
pub trait RawPublisher: Send + Sync {
    /// Publishes one message given as CDR bytes with encapsulation header.
    fn publish_cdr(&self, cdr: &[u8]) -> Result<()>;
}

/// Where a backend delivers the samples of one subscription.
#[derive(Debug, Clone)]
pub struct SampleSink {
    tx: tokio::sync::mpsc::Sender<Sample>,
    counters: std::sync::Arc<TopicCounters>,
    prefix: Option<usize>,
}

impl SampleSink {
    /// How many leading bytes of each sample the subscriber reads (`None`: all of them).
    /// Header-only subscriptions read a few hundred bytes of megabyte images; backends that
    /// can avoid copying the rest should.
    pub fn prefix(&self) -> Option<usize> {
        self.prefix
    }

    /// `cdr` cut to the prefix the subscriber reads.
    pub fn cut<'a>(&self, cdr: &'a [u8]) -> &'a [u8] {
        match self.prefix {
            Some(n) if n < cdr.len() => &cdr[..n],
            _ => cdr,
        }
    }

    /// Hands one sample over; a full queue drops it and counts the drop.
    pub fn deliver(&self, sample: Sample) {
        use tokio::sync::mpsc::error::TrySendError;
        self.counters.record_received(sample.size);
        match self.tx.try_send(sample) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Closed(_)) => {
                self.counters.record_queue_drop()
            }
        }
    }

    /// Hands one sample over, waiting while the queue is full: for reliable subscriptions,
    /// where waiting pushes back on the middleware instead of losing data.
    pub async fn deliver_waiting(&self, sample: Sample) {
        self.counters.record_received(sample.size);
        if self.tx.send(sample).await.is_err() {
            self.counters.record_queue_drop();
        }
    }

    /// Counts a sample the middleware held but could not hand over (a failed take).
    pub fn record_drop(&self) {
        self.counters.record_queue_drop();
    }

    /// Whether the subscriber is gone (the backend may stop reading).
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// The fully qualified name of `topic` for a node in `namespace`: absolute names stay, relative
/// ones are put under the namespace. Private (`~`) names are not supported by the seam.
pub fn resolve_topic(namespace: &str, topic: &str) -> Result<String> {
    let invalid = |reason: &str| Error::Name {
        what: "topic",
        name: topic.to_owned(),
        reason: reason.to_owned(),
    };
    let full = if topic.starts_with('/') {
        topic.to_owned()
    } else {
        format!("{}/{}", namespace.trim_end_matches('/'), topic)
    };
    let full = if full.starts_with('/') {
        full
    } else {
        format!("/{full}")
    };
    if topic.is_empty() || full == "/" {
        return Err(invalid("empty name"));
    }
    if full.ends_with('/') || full.contains("//") {
        return Err(invalid("empty path element (trailing or doubled '/')"));
    }
    for token in full[1..].split('/') {
        if token.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(invalid("a path element starts with a digit"));
        }
        if !token.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(invalid("only letters, digits, '_' and '/' are allowed"));
        }
    }
    Ok(full)
}

/// Wall-clock time since the UNIX epoch (zero if the clock is before 1970).
pub fn wall_clock() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// A typed publisher on top of a [`RawPublisher`].
pub struct Publisher<M> {
    raw: Box<dyn RawPublisher>,
    _message: std::marker::PhantomData<fn(&M)>,
}

impl<M: RosMessage + serde::Serialize> Publisher<M> {
    /// Creates a publisher of `M` on `topic`.
    pub fn new(node: &mut dyn Node, topic: &str, qos: Qos) -> Result<Self> {
        Ok(Self {
            raw: node.create_raw_publisher(topic, M::TYPE_NAME, qos)?,
            _message: std::marker::PhantomData,
        })
    }

    /// Serialises and publishes one message.
    pub fn publish(&self, message: &M) -> Result<()> {
        let cdr = crate::msg::cdr::to_cdr(message).map_err(|source| Error::Encode {
            type_name: M::TYPE_NAME,
            source,
        })?;
        self.raw.publish_cdr(&cdr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_stays_on_localhost_unless_the_network_is_asked_for() {
        let r = DiscoveryRange::from_vars;
        assert_eq!(r(None, None).unwrap(), DiscoveryRange::Localhost);
        assert_eq!(r(None, Some("1")).unwrap(), DiscoveryRange::Localhost);
        assert_eq!(r(None, Some("0")).unwrap(), DiscoveryRange::Subnet);
        assert_eq!(
            r(Some("SUBNET"), Some("1")).unwrap(),
            DiscoveryRange::Subnet
        );
        assert_eq!(
            r(Some("localhost"), Some("0")).unwrap(),
            DiscoveryRange::Localhost
        );
        assert_eq!(
            r(Some("SYSTEM_DEFAULT"), None).unwrap(),
            DiscoveryRange::Subnet
        );
        let err = r(Some("everywhere"), None).unwrap_err().to_string();
        assert!(err.contains("ROS_AUTOMATIC_DISCOVERY_RANGE") && err.contains("everywhere"));
        assert!(r(None, Some("yes")).is_err());
    }

    #[test]
    fn relative_topics_resolve_under_the_namespace() {
        assert_eq!(resolve_topic("/", "chatter").unwrap(), "/chatter");
        assert_eq!(
            resolve_topic("/robot1", "vla_perf/alerts").unwrap(),
            "/robot1/vla_perf/alerts"
        );
        assert_eq!(
            resolve_topic("/robot1", "/diagnostics").unwrap(),
            "/diagnostics"
        );
        for bad in ["", "/", "a//b", "a/", "~/x", "1abc", "a-b"] {
            assert!(resolve_topic("/", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn domain_ids_follow_the_ros_2_range() {
        assert_eq!(parse_domain_id("0").unwrap(), 0);
        assert_eq!(parse_domain_id(" 42 ").unwrap(), 42);
        assert_eq!(parse_domain_id("232").unwrap(), 232);
        for bad in ["233", "-1", "x", "70000"] {
            let err = parse_domain_id(bad).unwrap_err().to_string();
            assert!(err.contains("ROS_DOMAIN_ID") && err.contains(bad), "{err}");
        }
    }

    #[test]
    fn qos_profiles_by_name_match_ros_presets() {
        assert_eq!(Qos::by_name("sensor_data"), Some(Qos::sensor_data()));
        assert_eq!(Qos::by_name("reliable"), Some(Qos::reliable(10)));
        assert_eq!(
            Qos::by_name("latched").map(|q| q.durability),
            Some(Durability::TransientLocal)
        );
        assert_eq!(Qos::by_name("fast"), None);
    }
}
