//! The pure-Rust backend: `ros2-client` over RustDDS (feature `ros2-client`, default).
//!
//! Each node gets its own DDS participant (`Context`): participants on one host find each
//! other through RustDDS's localhost unicast discovery even where loopback has no
//! multicast, which a shared participant does not give nodes in one process.
//! [`DiscoveryRange::Localhost`] restricts the participant to the loopback interface.
//!
//! Publishers are ros2-client publishers, so they are listed in the node's graph entry.
//! Subscriptions read raw CDR bytes through a RustDDS reader on the node's participant, so
//! that sizes can be counted and headers decoded without touching payloads; the topic and
//! reader are visible to DDS discovery (`ros2 topic info`) but not listed under the node
//! in `ros_discovery_info`.

use std::net::{IpAddr, Ipv4Addr};

use futures::StreamExt;
use ros2_client::dds::rustdds::policy::ResourceLimits;
use ros2_client::dds::rustdds::{
    self, no_key, DomainParticipant, DomainParticipantBuilder, QosPolicies, QosPolicyBuilder,
    RepresentationIdentifier, TopicKind,
};
use ros2_client::qos::{Durability as RosDurability, History, WhenFull};
use ros2_client::{
    Context, MessageTypeName, Name, NodeName, NodeOptions as RosNodeOptions, ParameterValue,
    QosProfile,
};
use serde::ser::{SerializeTuple, Serializer};

use crate::msg::{dds_type_name, type_hash};

use super::{
    group_topics, DiscoveryRange, Durability, Error, GraphTopic, Node, NodeOptions, ParamValue,
    Qos, RawPublisher, Reliability, Result, Sample, SampleSink, Transport,
};

const BACKEND: &str = "ros2-client";

fn backend_error(
    operation: impl Into<String>,
    error: impl std::error::Error + Send + Sync + 'static,
) -> Error {
    Error::backend_failed(BACKEND, operation, error)
}

/// Creates ros2-client nodes; needs a running tokio runtime (each node spawns its spinner
/// and one task per subscription).
#[derive(Debug, Default, Clone)]
pub struct Ros2ClientTransport;

impl Transport for Ros2ClientTransport {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn create_node(&self, options: &NodeOptions) -> Result<Box<dyn Node>> {
        announce_type_hashes();
        let mut builder = DomainParticipantBuilder::new(options.domain_id);
        if options.range == DiscoveryRange::Localhost {
            builder = builder.with_only_networks([IpAddr::V4(Ipv4Addr::LOCALHOST)]);
        }
        let participant = builder
            .build()
            .map_err(|e| backend_error("create DDS participant", e))?;
        let subscriber = participant
            .create_subscriber(&QosPolicies::qos_none())
            .map_err(|e| backend_error("create DDS subscriber", e))?;
        let context = Context::from_domain_participant(participant.clone())
            .map_err(|e| backend_error("create context", e))?;
        let name = NodeName::new(&options.namespace, &options.name).map_err(|e| Error::Name {
            what: "node name",
            name: format!("{}/{}", options.namespace, options.name),
            reason: e.to_string(),
        })?;
        let mut ros_options = RosNodeOptions::new().enable_rosout(true);
        for (name, value) in &options.parameters {
            ros_options = ros_options.declare_parameter(name, to_ros(value));
        }
        let name_for_topics = name.clone();
        let mut node = context
            .new_node(name, ros_options)
            .map_err(|e| backend_error("create node", e))?;
        let spinner = node
            .spinner()
            .map_err(|e| backend_error("create spinner", e))?;
        // The spinner publishes the node's graph entry and answers parameter services.
        tokio::spawn(async move {
            if let Err(e) = spinner.spin().await {
                tracing::warn!("ros2-client spinner stopped: {e}");
            }
        });
        Ok(Box::new(Ros2ClientNode {
            name: options.name.clone(),
            namespace: options.namespace.clone(),
            node_name: name_for_topics,
            node,
            participant,
            subscriber,
            _context: context,
        }))
    }
}

/// Puts the ROS 2 type hash (REP-2011) of every type this build knows into the USER_DATA
/// of the endpoints RustDDS creates, as Jazzy's RMW layers do (`typehash=RIHS01_...;`), so
/// that rmw_cyclonedds and `ros2 topic info -v` accept them. Once per process, before the
/// first participant: ros2-client creates endpoints (`ros_discovery_info`, rosout,
/// parameter services) inside its own constructors.
fn announce_type_hashes() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        for type_name in type_hash::known_types() {
            if let Some(user_data) = type_hash::user_data(type_name) {
                rustdds::set_endpoint_user_data(&dds_type_name(type_name), user_data.into_bytes());
            }
        }
    });
}

/// For a type this build does not know (a raw watch of any installed type), the type hash
/// ROS 2 itself generated: `share/<pkg>/msg/<Type>.json` under `AMENT_PREFIX_PATH`, else
/// what a discovered publisher of the type announces. Without either the endpoint goes
/// out without one, as an rmw does for a type support lacking a hash.
fn adopt_type_hash(participant: &DomainParticipant, type_name: &str) -> Result<()> {
    let message = message_type(type_name)?;
    let dds_type = message.dds_msg_type();
    if !rustdds::endpoint_user_data(&dds_type).is_empty() {
        return Ok(());
    }
    let type_name = format!("{}/msg/{}", message.package_name(), message.type_name());
    let prefixes = std::env::var_os("AMENT_PREFIX_PATH").unwrap_or_default();
    let installed = std::env::split_paths(&prefixes)
        .find_map(|prefix| installed_hash(&prefix.join("share"), &type_name));
    let hash = installed.or_else(|| {
        participant
            .discovered_writers()
            .into_iter()
            .filter(|w| w.publication_topic_data.type_name == dds_type)
            .find_map(|w| type_hash::hash_in_user_data(&w.user_data).map(str::to_owned))
    });
    if let Some(hash) = hash {
        tracing::debug!(%type_name, %hash, "type hash adopted");
        rustdds::set_endpoint_user_data(&dds_type, type_hash::user_data_of(&hash).into_bytes());
    }
    Ok(())
}

/// The hash ROS 2's generator wrote for `type_name` (`pkg/msg/Type`) into
/// `SHARE/pkg/msg/Type.json` (`type_hashes[0]`, the type itself), if that file is there.
fn installed_hash(share: &std::path::Path, type_name: &str) -> Option<String> {
    let (package, rest) = type_name.split_once('/')?;
    let file = share.join(package).join(format!("{rest}.json"));
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(file).ok()?).ok()?;
    json["type_hashes"]
        .as_array()?
        .iter()
        .find(|h| h["type_name"] == type_name)?["hash_string"]
        .as_str()
        .filter(|h| type_hash::is_rihs01(h))
        .map(str::to_owned)
}

struct Ros2ClientNode {
    name: String,
    namespace: String,
    /// The node's name as ros2-client resolves topic names against it.
    node_name: NodeName,
    node: ros2_client::Node,
    participant: DomainParticipant,
    subscriber: rustdds::Subscriber,
    _context: Context,
}

impl Ros2ClientNode {
    fn topic(&mut self, topic: &str, type_name: &str, qos: &QosProfile) -> Result<rustdds::Topic> {
        let full = super::resolve_topic(&self.namespace, topic)?;
        let name = Name::parse(&full).map_err(|e| Error::Name {
            what: "topic",
            name: full.clone(),
            reason: e.to_string(),
        })?;
        self.node
            .create_topic(&name, message_type(type_name)?, qos)
            .map_err(|e| backend_error(format!("create topic {full}"), e))
    }
}

fn to_ros(value: &ParamValue) -> ParameterValue {
    match value {
        ParamValue::Bool(b) => ParameterValue::Boolean(*b),
        ParamValue::Integer(i) => ParameterValue::Integer(*i),
        ParamValue::Double(d) => ParameterValue::Double(*d),
        ParamValue::String(s) => ParameterValue::String(s.clone()),
    }
}

/// `pkg/msg/Type` (or `pkg/Type`) as ros2-client's type name.
fn message_type(type_name: &str) -> Result<MessageTypeName> {
    let parts: Vec<&str> = type_name.split('/').collect();
    let invalid = || Error::Name {
        what: "type",
        name: type_name.to_owned(),
        reason: "expected package/msg/Type".into(),
    };
    let (package, ty) = match parts.as_slice() {
        [package, "msg", ty] | [package, ty] => (*package, *ty),
        _ => return Err(invalid()),
    };
    if package.is_empty() || ty.is_empty() {
        return Err(invalid());
    }
    Ok(MessageTypeName::new(package, ty))
}

/// The ROS name of a DDS topic: `rt/a/b` is `/a/b`; other prefixes (services, actions'
/// requests) are not message topics.
fn ros_topic_name(dds: &str) -> Option<String> {
    dds.strip_prefix("rt/").map(|rest| format!("/{rest}"))
}

/// The ROS name of a DDS type: `pkg::msg::dds_::Type_` is `pkg/msg/Type`; any other name is
/// kept as it is.
fn ros_type_name(dds: &str) -> String {
    let parts: Vec<&str> = dds.split("::").collect();
    match parts.as_slice() {
        [package, kind, "dds_", ty] => {
            format!("{package}/{kind}/{}", ty.strip_suffix('_').unwrap_or(ty))
        }
        _ => dds.to_owned(),
    }
}

fn profile(qos: Qos) -> QosProfile {
    let base = QosProfile::publisher_default();
    let base = match qos.reliability {
        // Waiting briefly keeps a slow reader from silently losing reliable samples while
        // never stalling a node for long.
        Reliability::Reliable => base.reliability_reliable(WhenFull::DEFAULT),
        Reliability::BestEffort => base.reliability_best_effort(),
    };
    base.durability(match qos.durability {
        Durability::Volatile => RosDurability::Volatile,
        Durability::TransientLocal => RosDurability::TransientLocal,
    })
    .history(History::KeepLast {
        depth: qos.depth.max(1),
    })
}

impl Node for Ros2ClientNode {
    fn name(&self) -> &str {
        &self.name
    }

    fn namespace(&self) -> &str {
        &self.namespace
    }

    fn create_raw_publisher(
        &mut self,
        topic: &str,
        type_name: &str,
        qos: Qos,
    ) -> Result<Box<dyn RawPublisher>> {
        let qos = profile(qos);
        adopt_type_hash(&self.participant, type_name)?;
        let dds_topic = self.topic(topic, type_name, &qos)?;
        let publisher = self
            .node
            .create_publisher::<CdrBody>(&dds_topic, Some(qos))
            .map_err(|e| backend_error(format!("create publisher {topic}"), e))?;
        Ok(Box::new(Ros2ClientPublisher {
            topic: topic.to_owned(),
            publisher,
        }))
    }

    // Long: QoS mapping, DDS topic and reader, and the pump task share these locals.
    fn create_raw_subscription(
        &mut self,
        topic: &str,
        type_name: &str,
        qos: Qos,
        sink: SampleSink,
    ) -> Result<()> {
        let reliability = qos.reliability;
        let depth = i32::try_from(qos.depth.max(1)).unwrap_or(i32::MAX);
        let profile = profile(qos);
        // RustDDS keeps up to `max_samples` of every topic in its cache, 64 when the QoS
        // names no limit: 64 camera frames of 900 KiB each. Bound it by the history depth.
        let limits = QosPolicyBuilder::new()
            .resource_limits(ResourceLimits {
                max_samples: depth,
                max_instances: 1,
                max_samples_per_instance: depth,
            })
            .build();
        let dds_qos = QosPolicies::from(&profile).modify_by(&limits);
        let full = super::resolve_topic(&self.namespace, topic)?;
        let dds_name = Name::parse(&full)
            .map_err(|e| Error::Name {
                what: "topic",
                name: full.clone(),
                reason: e.to_string(),
            })?
            .to_dds_name("rt", &self.node_name, "");
        adopt_type_hash(&self.participant, type_name)?;
        let dds_topic = self
            .participant
            .create_topic(
                dds_name,
                message_type(type_name)?.dds_msg_type(),
                &dds_qos,
                TopicKind::NoKey,
            )
            .map_err(|e| backend_error(format!("create topic {full}"), e))?;
        let reader = self
            .subscriber
            .create_simple_datareader_no_key::<RawSample, RawAdapter>(&dds_topic, Some(dds_qos))
            .map_err(|e| backend_error(format!("create subscription {topic}"), e))?;
        let topic = topic.to_owned();
        // Reliable data waits for room in the node's queue (pushing back on the DDS reader);
        // best-effort data is dropped and counted when the node falls behind.
        let wait = reliability == Reliability::Reliable;
        tokio::spawn(async move {
            let stream = reader.as_async_stream_with(RawDecoder {
                prefix: sink.prefix(),
            });
            futures::pin_mut!(stream);
            while let Some(item) = stream.next().await {
                if sink.is_closed() {
                    break;
                }
                match item {
                    Ok(change) => {
                        let since_epoch = |t: rustdds::Timestamp| {
                            t.duration_since(rustdds::Timestamp::ZERO).to_std()
                        };
                        let source_time = change
                            .write_options
                            .source_timestamp()
                            .filter(|t| *t != rustdds::Timestamp::INVALID)
                            .map(since_epoch);
                        let sample = Sample {
                            received_at: since_epoch(change.receive_instant),
                            source_time,
                            size: change.sample.size,
                            cdr: change.sample.cdr,
                        };
                        if wait {
                            sink.deliver_waiting(sample).await;
                        } else {
                            sink.deliver(sample);
                        }
                    }
                    Err(e) => tracing::warn!(topic = %topic, "DDS read error: {e}"),
                }
            }
        });
        Ok(())
    }

    fn parameter(&self, name: &str) -> Option<ParamValue> {
        match self.node.get_parameter(name)? {
            ParameterValue::Boolean(b) => Some(ParamValue::Bool(b)),
            ParameterValue::Integer(i) => Some(ParamValue::Integer(i)),
            ParameterValue::Double(d) => Some(ParamValue::Double(d)),
            ParameterValue::String(s) => Some(ParamValue::String(s)),
            _ => None,
        }
    }

    fn graph_topics(&self) -> Result<Vec<GraphTopic>> {
        // RustDDS's discovery database: every remote writer (and this participant's own).
        // Node names would need ros_discovery_info; participants name the publishers.
        let writers = self.participant.discovered_writers();
        Ok(group_topics(writers.into_iter().filter_map(|w| {
            let data = &w.publication_topic_data;
            let topic = ros_topic_name(&data.topic_name)?;
            // The writer's GUID prefix is its participant's.
            let participant = format!("participant {:?}", data.key.prefix);
            Some((topic, ros_type_name(&data.type_name), participant))
        })))
    }

    fn now(&self) -> std::time::Duration {
        let nanos = self.node.time_now().to_nanos();
        std::time::Duration::from_nanos(u64::try_from(nanos).unwrap_or(0))
    }
}

/// A message body already in CDR: written byte for byte after the encapsulation header
/// ros2-client adds (CDR octets have no alignment, so the bytes come out unchanged).
struct CdrBody(Vec<u8>);

impl serde::Serialize for CdrBody {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut tuple = serializer.serialize_tuple(self.0.len())?;
        for byte in &self.0 {
            tuple.serialize_element(byte)?;
        }
        tuple.end()
    }
}

struct Ros2ClientPublisher {
    topic: String,
    publisher: ros2_client::Publisher<CdrBody>,
}

impl RawPublisher for Ros2ClientPublisher {
    fn publish_cdr(&self, cdr: &[u8]) -> Result<()> {
        // ros2-client writes its own little-endian encapsulation header.
        let body = match cdr {
            [0x00, 0x01, _, _, body @ ..] => body,
            _ => {
                return Err(Error::Backend {
                    backend: BACKEND,
                    operation: format!("publish {}", self.topic),
                    message: "only little-endian CDR (encapsulation 00 01) can be published".into(),
                })
            }
        };
        self.publisher
            .publish(CdrBody(body.to_vec()))
            // The error would hold the unsent body: drop it.
            .map_err(|e| backend_error(format!("publish {}", self.topic), e.forget_data()))
    }
}

/// A received sample as CDR bytes with the encapsulation header put back, possibly cut to
/// the prefix its subscriber reads.
struct RawSample {
    cdr: Vec<u8>,
    /// Size of the whole serialised message.
    size: usize,
}

/// Hands samples over undecoded; decoding (and counting failures) happens in the seam.
struct RawAdapter;

const RAW_ENCODINGS: [RepresentationIdentifier; 2] = [
    RepresentationIdentifier::CDR_LE,
    RepresentationIdentifier::CDR_BE,
];

impl no_key::DeserializerAdapter<RawSample> for RawAdapter {
    type Error = std::convert::Infallible;
    type Decoded = RawSample;

    fn supported_encodings() -> &'static [RepresentationIdentifier] {
        &RAW_ENCODINGS
    }

    fn transform_decoded(decoded: RawSample) -> RawSample {
        decoded
    }
}

impl no_key::DefaultDecoder<RawSample> for RawAdapter {
    type Decoder = RawDecoder;
    const DECODER: RawDecoder = RawDecoder { prefix: None };
}

/// Copies a sample out of RustDDS, only as far as `prefix` when set: a header-only reader
/// of 900 KiB images then allocates and copies a few KiB per frame instead.
#[derive(Clone)]
struct RawDecoder {
    prefix: Option<usize>,
}

impl<'de> no_key::Decode<'de, RawSample> for RawDecoder {
    type Error = std::convert::Infallible;

    fn decode_bytes(
        self,
        input: &'de [u8],
        encoding: RepresentationIdentifier,
    ) -> std::result::Result<RawSample, Self::Error> {
        let body = match self.prefix {
            Some(n) => &input[..input.len().min(n.saturating_sub(4))],
            None => input,
        };
        let mut cdr = Vec::with_capacity(body.len() + 4);
        cdr.extend_from_slice(&encoding.to_bytes());
        cdr.extend_from_slice(&[0, 0]);
        cdr.extend_from_slice(body);
        Ok(RawSample {
            cdr,
            size: input.len() + 4,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ros_type_names_map_to_package_and_type() {
        let t = message_type("vla_perf/msg/StageEvent").unwrap();
        assert_eq!(t.dds_msg_type(), "vla_perf::msg::dds_::StageEvent_");
        assert_eq!(
            message_type("std_msgs/String").unwrap().dds_msg_type(),
            "std_msgs::msg::dds_::String_"
        );
        for bad in ["", "String", "a/b/c/d", "/msg/X", "pkg/msg/"] {
            assert!(message_type(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn dds_names_map_back_to_ros_names() {
        assert_eq!(
            ros_topic_name("rt/audio/utterance").as_deref(),
            Some("/audio/utterance")
        );
        assert_eq!(ros_topic_name("rq/add_twoRequest"), None);
        assert_eq!(
            ros_type_name("action_msgs::msg::dds_::GoalStatusArray_"),
            "action_msgs/msg/GoalStatusArray"
        );
        assert_eq!(ros_type_name("Plain"), "Plain");
    }

    #[test]
    fn cdr_bodies_serialise_byte_for_byte() {
        let body = CdrBody(vec![1, 2, 3, 250, 0, 7]);
        let bytes = cdr_encoding::to_vec::<_, byteorder::LittleEndian>(&body).unwrap();
        assert_eq!(bytes, body.0);
    }
}
