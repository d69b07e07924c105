//! An in-process bus implementing the seam, for unit tests of node logic.
//!
//! It is not a ROS 2 transport: nothing leaves the process and there is no discovery. It
//! keeps the parts of ROS 2 semantics node logic depends on: one type per topic, queues that
//! drop rather than block, and transient-local history for late subscribers.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use super::{
    group_topics, wall_clock, Durability, Error, GraphTopic, Node, NodeOptions, ParamValue, Qos,
    RawPublisher, Result, Sample, SampleSink, Transport,
};

#[derive(Default)]
struct Topic {
    type_name: String,
    /// Nodes that created a publisher on it.
    publishers: Vec<String>,
    sinks: Vec<SampleSink>,
    /// Samples kept for late transient-local subscribers.
    latched: VecDeque<Vec<u8>>,
    latched_depth: usize,
}

#[derive(Default)]
struct Bus {
    topics: Mutex<HashMap<String, Topic>>,
}

impl Bus {
    fn with_topic<T>(
        &self,
        name: &str,
        type_name: &str,
        f: impl FnOnce(&mut Topic) -> T,
    ) -> Result<T> {
        let mut topics = self.topics.lock().unwrap_or_else(PoisonError::into_inner);
        let topic = topics.entry(name.to_owned()).or_insert_with(|| Topic {
            type_name: type_name.to_owned(),
            ..Topic::default()
        });
        if topic.type_name != type_name {
            return Err(Error::TypeMismatch {
                topic: name.to_owned(),
                existing: topic.type_name.clone(),
                requested: type_name.to_owned(),
            });
        }
        Ok(f(topic))
    }
}

/// An in-process transport; nodes created from clones of it share one bus.
#[derive(Clone, Default)]
pub struct InprocTransport {
    bus: Arc<Bus>,
}

impl InprocTransport {
    /// A transport with an empty bus.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Transport for InprocTransport {
    fn backend(&self) -> &'static str {
        "inproc"
    }

    fn create_node(&self, options: &NodeOptions) -> Result<Box<dyn Node>> {
        Ok(Box::new(InprocNode {
            name: options.name.clone(),
            namespace: options.namespace.clone(),
            parameters: options.parameters.iter().cloned().collect(),
            bus: self.bus.clone(),
        }))
    }
}

struct InprocNode {
    name: String,
    namespace: String,
    parameters: HashMap<String, ParamValue>,
    bus: Arc<Bus>,
}

impl Node for InprocNode {
    fn name(&self) -> &str {
        &self.name
    }

    fn parameter(&self, name: &str) -> Option<ParamValue> {
        self.parameters.get(name).cloned()
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
        let topic = super::resolve_topic(&self.namespace, topic)?;
        let depth = match qos.durability {
            Durability::TransientLocal => qos.depth.max(1),
            Durability::Volatile => 0,
        };
        let me = format!("{}/{}", self.namespace.trim_end_matches('/'), self.name);
        self.bus.with_topic(&topic, type_name, |t| {
            t.latched_depth = t.latched_depth.max(depth);
            if !t.publishers.contains(&me) {
                t.publishers.push(me);
            }
        })?;
        Ok(Box::new(InprocPublisher {
            bus: self.bus.clone(),
            topic,
            type_name: type_name.to_owned(),
        }))
    }

    fn create_raw_subscription(
        &mut self,
        topic: &str,
        type_name: &str,
        qos: Qos,
        sink: SampleSink,
    ) -> Result<()> {
        let topic = super::resolve_topic(&self.namespace, topic)?;
        self.bus.with_topic(&topic, type_name, |t| {
            if qos.durability == Durability::TransientLocal {
                for cdr in &t.latched {
                    sink.deliver(Sample {
                        cdr: sink.cut(cdr).to_vec(),
                        size: cdr.len(),
                        received_at: wall_clock(),
                        source_time: None,
                    });
                }
            }
            t.sinks.push(sink);
        })
    }

    fn graph_topics(&self) -> Result<Vec<GraphTopic>> {
        let topics = self
            .bus
            .topics
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Ok(group_topics(topics.iter().flat_map(|(name, t)| {
            t.publishers
                .iter()
                .map(move |p| (name.clone(), t.type_name.clone(), p.clone()))
        })))
    }
}

struct InprocPublisher {
    bus: Arc<Bus>,
    topic: String,
    type_name: String,
}

impl RawPublisher for InprocPublisher {
    fn publish_cdr(&self, cdr: &[u8]) -> Result<()> {
        self.bus.with_topic(&self.topic, &self.type_name, |t| {
            t.sinks.retain(|s| !s.is_closed());
            let now = wall_clock();
            for sink in &t.sinks {
                sink.deliver(Sample {
                    cdr: sink.cut(cdr).to_vec(),
                    size: cdr.len(),
                    received_at: now,
                    source_time: Some(now),
                });
            }
            if t.latched_depth > 0 {
                if t.latched.len() == t.latched_depth {
                    t.latched.pop_front();
                }
                t.latched.push_back(cdr.to_vec());
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::builtin_interfaces::Time;
    use crate::msg::std_msgs::{Header, String as RosString};
    use crate::transport::{Publisher, Subscription};

    fn node(t: &InprocTransport, name: &str) -> Box<dyn Node> {
        t.create_node(
            &NodeOptions::new(name, "/").with_parameter("rate_hz", ParamValue::Double(2.5)),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn typed_messages_published_on_one_node_reach_another() {
        let t = InprocTransport::new();
        let mut a = node(&t, "a");
        let mut b = node(&t, "b");
        let mut sub = Subscription::<crate::transport::Typed<RosString>>::typed(
            b.as_mut(),
            "/chatter",
            Qos::reliable(10),
        )
        .unwrap();
        let publisher =
            Publisher::<RosString>::new(a.as_mut(), "chatter", Qos::reliable(10)).unwrap();
        publisher
            .publish(&RosString {
                data: "pick up the red cup".into(),
            })
            .unwrap();
        let got = sub.recv().await.unwrap();
        assert_eq!(got.message.data, "pick up the red cup");
        assert_eq!(sub.counters().received(), 1);
        assert!(sub.counters().bytes() > 0);
    }

    #[tokio::test]
    async fn undecodable_samples_are_counted_and_skipped() {
        let t = InprocTransport::new();
        let mut a = node(&t, "a");
        let mut sub = Subscription::header_only(
            a.as_mut(),
            "/camera/image",
            "sensor_msgs/msg/Image",
            Qos::sensor_data(),
        )
        .unwrap();
        let raw = a
            .create_raw_publisher("/camera/image", "sensor_msgs/msg/Image", Qos::sensor_data())
            .unwrap();
        raw.publish_cdr(&[0, 1, 0, 0, 7]).unwrap();
        let header = Header {
            stamp: Time {
                sec: 12,
                nanosec: 5,
            },
            frame_id: "camera".into(),
        };
        raw.publish_cdr(&crate::msg::cdr::to_cdr(&header).unwrap())
            .unwrap();
        let got = sub.recv().await.unwrap();
        assert_eq!(got.message, header);
        assert_eq!(sub.counters().decode_failures(), 1);
        assert_eq!(sub.counters().received(), 2);
    }

    #[test]
    fn declared_parameters_and_clocks_are_readable() {
        let t = InprocTransport::new();
        let a = node(&t, "a");
        assert_eq!(a.parameter("rate_hz"), Some(ParamValue::Double(2.5)));
        assert_eq!(a.parameter("missing"), None);
        let (s1, s2) = (a.steady(), a.steady());
        assert!(s2 >= s1);
        assert!(a.now() > std::time::Duration::from_secs(1_600_000_000));
    }

    #[tokio::test]
    async fn header_only_readers_keep_a_prefix_but_count_the_whole_message() {
        #[derive(serde::Serialize)]
        struct Image {
            header: Header,
            data: Vec<u8>,
        }
        let t = InprocTransport::new();
        let mut a = node(&t, "a");
        let mut sub = Subscription::header_only(
            a.as_mut(),
            "/cam",
            "sensor_msgs/msg/Image",
            Qos::sensor_data(),
        )
        .unwrap();
        let raw = a
            .create_raw_publisher("/cam", "sensor_msgs/msg/Image", Qos::sensor_data())
            .unwrap();
        let header = Header {
            stamp: Time { sec: 3, nanosec: 4 },
            frame_id: "camera".into(),
        };
        let image = crate::msg::cdr::to_cdr(&Image {
            header: header.clone(),
            data: vec![7; 921_600],
        })
        .unwrap();
        raw.publish_cdr(&image).unwrap();
        let got = sub.recv().await.unwrap();
        assert_eq!(got.message, header);
        assert_eq!(got.size, image.len());
        assert_eq!(sub.counters().bytes(), image.len() as u64);
    }

    #[tokio::test]
    async fn a_type_without_a_header_is_counted_by_arrival_when_unstamped() {
        let t = InprocTransport::new();
        let mut a = node(&t, "a");
        let mut header_only = Subscription::header_only(
            a.as_mut(),
            "/ticks",
            "std_msgs/msg/Int32",
            Qos::sensor_data(),
        )
        .unwrap();
        let mut arrivals = Subscription::new(
            a.as_mut(),
            "/ticks",
            "std_msgs/msg/Int32",
            Qos::sensor_data(),
            super::super::Unstamped,
        )
        .unwrap();
        let raw = a
            .create_raw_publisher("/ticks", "std_msgs/msg/Int32", Qos::sensor_data())
            .unwrap();
        // std_msgs/Int32 {data: 7}: encapsulation header, then the int32.
        let int32 = [0u8, 1, 0, 0, 7, 0, 0, 0];
        for _ in 0..3 {
            raw.publish_cdr(&int32).unwrap();
        }
        for _ in 0..3 {
            let got = arrivals.recv().await.unwrap();
            assert_eq!(got.message, Header::default(), "an unset stamp");
            assert_eq!(got.size, int32.len());
        }
        assert_eq!(arrivals.counters().received(), 3);
        assert_eq!(arrivals.counters().decode_failures(), 0);
        // Read as header-first, the same samples do not decode.
        let pending =
            tokio::time::timeout(std::time::Duration::from_millis(50), header_only.recv());
        assert!(pending.await.is_err(), "nothing decodes as a header");
        assert_eq!(header_only.counters().decode_failures(), 3);
    }

    #[test]
    fn a_topic_keeps_one_type() {
        let t = InprocTransport::new();
        let mut a = node(&t, "a");
        a.create_raw_publisher("/x", "std_msgs/msg/String", Qos::reliable(1))
            .unwrap();
        let err = a
            .create_raw_publisher("/x", "sensor_msgs/msg/Image", Qos::reliable(1))
            .err()
            .unwrap();
        assert!(err.to_string().contains("std_msgs/msg/String"));
    }

    #[tokio::test]
    async fn late_transient_local_subscribers_get_the_latched_sample() {
        let t = InprocTransport::new();
        let mut a = node(&t, "a");
        let p = Publisher::<RosString>::new(a.as_mut(), "/status", Qos::latched()).unwrap();
        for data in ["old", "new"] {
            p.publish(&RosString { data: data.into() }).unwrap();
        }
        let mut sub = Subscription::<crate::transport::Typed<RosString>>::typed(
            a.as_mut(),
            "/status",
            Qos::latched(),
        )
        .unwrap();
        assert_eq!(sub.recv().await.unwrap().message.data, "new");
        assert!(sub.try_recv().is_none());
    }
}
