//! Foxglove, live: a WebSocket server (protocol `foxglove.websocket.v1`, served by
//! Foxglove's own Rust SDK) that relays vla_perf's topics to Foxglove clients.
//!
//! The one seam to Foxglove. Each relayed topic is subscribed to over the transport, like
//! any other subscriber, and every sample is handed to the SDK as it arrived: `cdr`
//! messages on a channel whose schema is the type's `ros2msg` text, under the type's full
//! name (`vla_perf/msg/CommandLatency`) — what `foxglove_bridge` advertises on a ROS 2
//! machine, so `config/foxglove_layout.json` works against either.
//!
//! Measuring is never slowed by a client: the SDK queues each client's messages in a
//! bounded backlog and drops its oldest when a client does not read (a stalled or vanished
//! client loses messages, nobody else does), and this relay only ever hands messages over
//! without waiting. Samples the relay itself could not take are counted per topic
//! ([`RelayedTopic::dropped`]).
//!
//! Used by the collector (its `foxglove` section), by `vla-perf demo` (on by default at
//! 127.0.0.1:8765) and by `vla-perf foxglove`, which attaches to a running collector.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use foxglove::websocket::ShutdownHandle;
use foxglove::{ChannelBuilder, Context, PartialMetadata, RawChannel, Schema, WebSocketServer};

use crate::config::WatchedTopic;
use crate::msg::action_msgs::GoalStatusArray;
use crate::msg::definition::{definition, description};
use crate::msg::diagnostic_msgs::DiagnosticArray;
use crate::msg::std_msgs::String as RosString;
use crate::msg::{
    Alert, BenchmarkResult, CommandLatency, MetricArray, ResourceUsage, RosMessage, StageEvent,
};
use crate::transport::{self, Node, Qos, Subscription, TopicCounters, WholeCdr};

/// What the connect hint tells a user to import.
pub const LAYOUT: &str = "config/foxglove_layout.json";

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The WebSocket server could not listen.
    #[error("foxglove: cannot serve on {listen}: {source}")]
    Listen {
        /// The address asked for.
        listen: SocketAddr,
        /// What the SDK reported.
        #[source]
        source: foxglove::FoxgloveError,
    },
    /// A topic's type is not one whose message definition vla_perf carries.
    #[error(
        "foxglove: topic {topic}: no message definition of {type_name} to advertise \
         (vla_perf relays the types it mirrors: its own, std_msgs, diagnostic_msgs, \
         action_msgs, vision_msgs, audio_common_msgs ...)"
    )]
    UnknownType {
        /// The topic.
        topic: String,
        /// Its type.
        type_name: String,
    },
    /// The SDK refused a channel.
    #[error("foxglove: channel {topic}: {source}")]
    Channel {
        /// The topic.
        topic: String,
        /// What the SDK reported.
        #[source]
        source: foxglove::FoxgloveError,
    },
    /// A subscription could not be created.
    #[error("foxglove: subscribing to {topic}: {source}")]
    Subscribe {
        /// The topic.
        topic: String,
        /// What the transport reported.
        #[source]
        source: transport::Error,
    },
}

/// Result alias of this module.
pub type Result<T> = std::result::Result<T, Error>;

/// One topic to relay.
#[derive(Debug, Clone, PartialEq)]
pub struct Topic {
    /// Fully qualified topic name.
    pub topic: String,
    /// ROS 2 type, `pkg/msg/Type`.
    pub type_name: String,
    /// Subscription QoS (reliable for vla_perf's own outputs).
    pub qos: Qos,
}

impl Topic {
    fn new(topic: String, type_name: &str, qos: Qos) -> Self {
        Self {
            topic,
            type_name: type_name.to_owned(),
            qos,
        }
    }
}

/// Every topic the suite publishes under `namespace` (default `/vla_perf`), and
/// `/diagnostics`: the collector's, the alert node's and the benchmark's.
pub fn output_topics(namespace: &str) -> Vec<Topic> {
    let ns = namespace.trim_end_matches('/');
    let reliable = Qos::reliable(100);
    let ours =
        |name: &str, type_name: &str| Topic::new(format!("{ns}/{name}"), type_name, reliable);
    vec![
        ours("command_latency", CommandLatency::TYPE_NAME),
        ours("metrics", MetricArray::TYPE_NAME),
        ours("topic_health", MetricArray::TYPE_NAME),
        ours("resources", ResourceUsage::TYPE_NAME),
        ours("alerts", Alert::TYPE_NAME),
        ours("benchmark_results", BenchmarkResult::TYPE_NAME),
        Topic::new("/diagnostics".into(), DiagnosticArray::TYPE_NAME, reliable),
    ]
}

/// Of the topics the collector watches (`Pipeline::topics`), those it reads whole (strings,
/// stage events, action status), with the QoS it reads them with. Topics it reads only the
/// header of (images, detections, audio) or only counts are not relayed: it never has their
/// payload.
pub fn stack_topics(watched: &[WatchedTopic]) -> Vec<Topic> {
    watched
        .iter()
        .filter(|t| {
            matches!(
                t.msg_type.as_str(),
                RosString::TYPE_NAME | StageEvent::TYPE_NAME | GoalStatusArray::TYPE_NAME
            )
        })
        .map(|t| {
            let qos = crate::collector::transport_qos(t.subscription_qos());
            Topic::new(t.topic.clone(), &t.msg_type, qos)
        })
        .collect()
}

/// How one relayed topic is doing.
#[derive(Debug, Clone)]
pub struct RelayedTopic {
    /// The topic.
    pub topic: String,
    /// Its type.
    pub type_name: String,
    counters: Arc<TopicCounters>,
    forwarded: Arc<AtomicU64>,
}

impl RelayedTopic {
    /// Samples received over the transport.
    pub fn received(&self) -> u64 {
        self.counters.received()
    }

    /// Samples handed to the WebSocket server (to every subscribed client).
    pub fn forwarded(&self) -> u64 {
        self.forwarded.load(Ordering::Relaxed)
    }

    /// Samples the relay could not take in time (its queue was full).
    pub fn dropped(&self) -> u64 {
        self.counters.queue_drops()
    }
}

/// A running Foxglove WebSocket server relaying topics; stops when dropped.
pub struct Server {
    addr: SocketAddr,
    /// Owns the channels: they close when it goes.
    _context: Arc<Context>,
    handle: Option<foxglove::WebSocketServerHandle>,
    relays: Vec<tokio::task::JoinHandle<()>>,
    topics: Vec<RelayedTopic>,
}

impl Server {
    /// Serves `topics` on `listen` (port 0 picks a free port), subscribing to them through
    /// `node`. Every topic's type must be one vla_perf mirrors.
    pub async fn start(listen: SocketAddr, node: &mut dyn Node, topics: &[Topic]) -> Result<Self> {
        // A context of its own: several servers in one process (tests) never share channels.
        let context = Context::new();
        let mut channels = Vec::with_capacity(topics.len());
        for t in topics {
            channels.push((t, channel(&context, t)?));
        }
        let mut info = HashMap::from([(
            "vla_perf_version".to_owned(),
            env!("CARGO_PKG_VERSION").to_owned(),
        )]);
        if let Ok(distro) = std::env::var("ROS_DISTRO") {
            info.insert("ROS_DISTRO".into(), distro);
        }
        let handle = WebSocketServer::new()
            .name("vla_perf")
            .context(&context)
            .bind(listen.ip().to_string(), listen.port())
            .server_info(info)
            .start()
            .await
            .map_err(|source| Error::Listen { listen, source })?;
        let addr = SocketAddr::new(listen.ip(), handle.port());
        let mut server = Self {
            addr,
            _context: context,
            handle: Some(handle),
            relays: Vec::new(),
            topics: Vec::new(),
        };
        for (t, channel) in channels {
            let mut sub = Subscription::new(node, &t.topic, &t.type_name, t.qos, WholeCdr)
                .map_err(|source| Error::Subscribe {
                    topic: t.topic.clone(),
                    source,
                })?;
            let forwarded = Arc::new(AtomicU64::new(0));
            server.topics.push(RelayedTopic {
                topic: t.topic.clone(),
                type_name: t.type_name.clone(),
                counters: sub.counters().clone(),
                forwarded: forwarded.clone(),
            });
            server.relays.push(tokio::spawn(async move {
                while let Some(sample) = sub.recv().await {
                    let log_time = u64::try_from(sample.received_at.as_nanos()).unwrap_or(0);
                    // Never waits: the SDK drops a slow client's oldest messages instead.
                    channel
                        .log_with_meta(&sample.message, PartialMetadata::with_log_time(log_time));
                    forwarded.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        Ok(server)
    }

    /// The address it serves on (the port it got when asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `ws://host:port`.
    pub fn url(&self) -> String {
        url(self.addr)
    }

    /// Clients connected now.
    pub fn client_count(&self) -> usize {
        self.handle.as_ref().map_or(0, |h| h.client_count())
    }

    /// The relayed topics and their counts.
    pub fn topics(&self) -> &[RelayedTopic] {
        &self.topics
    }

    /// Stops serving: closes every client connection and waits for the server to finish.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown() {
            shutdown.wait().await;
        }
    }

    fn shutdown(&mut self) -> Option<ShutdownHandle> {
        for relay in self.relays.drain(..) {
            relay.abort();
        }
        self.handle.take().map(|h| h.stop())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Stops accepting and closes the connections in the background.
        drop(self.shutdown());
    }
}

/// `ws://host:port` of `addr` (IPv6 in brackets).
pub fn url(addr: SocketAddr) -> String {
    format!("ws://{addr}")
}

/// What to tell a user: where to connect and which layout to import.
pub fn connect_hint(addr: SocketAddr) -> String {
    format!(
        "open Foxglove -> Open connection -> {}, then import {LAYOUT}",
        url(addr)
    )
}

/// The SDK channel of `t`: `cdr` messages, the type's `ros2msg` schema.
fn channel(context: &Arc<Context>, t: &Topic) -> Result<Arc<RawChannel>> {
    let d = description(&t.type_name).ok_or_else(|| Error::UnknownType {
        topic: t.topic.clone(),
        type_name: t.type_name.clone(),
    })?;
    let schema = Schema::new(d.type_name, "ros2msg", definition(d).into_bytes());
    ChannelBuilder::new(&t.topic)
        .context(context)
        .message_encoding("cdr")
        .schema(schema)
        .build_raw()
        .map_err(|source| Error::Channel {
            topic: t.topic.clone(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::inproc::InprocTransport;
    use crate::transport::{NodeOptions, Transport};

    fn watched(topic: &str, msg_type: &str) -> WatchedTopic {
        WatchedTopic::new(topic, msg_type)
    }

    #[test]
    fn the_outputs_are_the_suites_topics_under_its_namespace() {
        let topics: Vec<(String, String)> = output_topics("/robot1/vla_perf/")
            .into_iter()
            .map(|t| (t.topic, t.type_name))
            .collect();
        assert_eq!(topics.len(), 7);
        assert!(topics.contains(&(
            "/robot1/vla_perf/command_latency".into(),
            "vla_perf/msg/CommandLatency".into()
        )));
        assert!(topics.contains(&(
            "/diagnostics".into(),
            "diagnostic_msgs/msg/DiagnosticArray".into()
        )));
        // Every output has a definition to advertise.
        for (topic, type_name) in &topics {
            assert!(description(type_name).is_some(), "{topic}: {type_name}");
        }
    }

    #[test]
    fn only_stack_topics_read_whole_are_relayed() {
        let relayed: Vec<String> = stack_topics(&[
            watched("/transcript", "std_msgs/msg/String"),
            watched("/camera/image_raw", "sensor_msgs/msg/Image"),
            watched("/events", "vla_perf/msg/StageEvent"),
            watched("/audio", "audio_common_msgs/msg/AudioStamped"),
            watched("/execute/_action/status", "action_msgs/msg/GoalStatusArray"),
        ])
        .into_iter()
        .map(|t| t.topic)
        .collect();
        assert_eq!(
            relayed,
            ["/transcript", "/events", "/execute/_action/status"]
        );
    }

    #[tokio::test]
    async fn a_type_without_a_definition_or_a_taken_address_is_a_clear_error() {
        let transport = InprocTransport::new();
        let mut node = transport
            .create_node(&NodeOptions::new("foxglove_unit", "/"))
            .unwrap();
        let listen: SocketAddr = ([127, 0, 0, 1], 0).into();
        let odd = [Topic::new(
            "/odd".into(),
            "my_msgs/msg/Odd",
            Qos::reliable(10),
        )];
        let err = Server::start(listen, node.as_mut(), &odd)
            .await
            .err()
            .expect("an unknown type is refused");
        assert!(
            err.to_string().contains("/odd") && err.to_string().contains("my_msgs/msg/Odd"),
            "{err}"
        );
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let at = taken.local_addr().unwrap();
        let err = Server::start(at, node.as_mut(), &output_topics("/vla_perf"))
            .await
            .err()
            .expect("a taken address is refused");
        assert!(err.to_string().contains(&at.to_string()), "{err}");
        let server = Server::start(listen, node.as_mut(), &output_topics("/vla_perf"))
            .await
            .unwrap();
        assert_ne!(server.local_addr().port(), 0);
        assert_eq!(server.topics().len(), 7);
        assert_eq!(
            connect_hint(server.local_addr()),
            format!(
                "open Foxglove -> Open connection -> ws://{}, then import {LAYOUT}",
                server.local_addr()
            )
        );
        server.stop().await;
    }
}
