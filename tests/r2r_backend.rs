//! The rcl-native backend (feature `r2r`) end to end, on a real ROS 2 (rcl, rmw_cyclonedds):
//! messages published through the seam on one node come back through another; any installed
//! message type works without being compiled in; samples carry the publisher's source
//! timestamp; and r2r-built and ros2-client-built nodes talk to each other both ways.
//!
//! Every test runs in a private network namespace (tests/common) with the localhost
//! discovery range exported, as any ROS 2 node would be told. The feature only builds with a
//! sourced ROS 2, so these tests fail, never skip, when rcl is not there. The `vla_perf`
//! message test needs the vla_perf interfaces installed and sourced (the colcon build).
//! Without the feature this file compiles to no tests at all.

#[cfg(feature = "r2r")]
#[path = "common/mod.rs"]
mod common;

#[cfg(feature = "r2r")]
mod with_r2r {
    use std::ffi::OsStr;
    use std::time::Duration;

    use super::common;
    use vla_perf::msg::builtin_interfaces::Time;
    use vla_perf::msg::sensor_msgs::Image;
    use vla_perf::msg::std_msgs::{Header, String as RosString};
    use vla_perf::msg::{CommandLatency, RosMessage, StageLatency};
    use vla_perf::transport::r2r::R2rTransport;
    use vla_perf::transport::{
        wall_clock, Error, Node, NodeOptions, Publisher, Qos, Subscription, Transport, Typed,
    };

    /// One rcl context per process fixes the domain; each test runs in its own process
    /// (its own namespace), so they may share it.
    const DOMAIN_ID: u16 = 93;
    /// Discovery between two nodes takes a moment; this only bounds a broken run.
    const DELIVERY_LIMIT: Duration = Duration::from_secs(30);

    /// Re-runs `name` in a private namespace with the localhost range exported; true inside.
    fn isolated(name: &str) -> bool {
        assert!(
            std::env::var_os("AMENT_PREFIX_PATH").is_some(),
            "rcl is not sourced: source /opt/ros/jazzy/setup.bash (ROS 2 Jazzy; .ci/setup \
             installs it) before cargo test --features r2r"
        );
        common::isolated_with_env(
            &format!("with_r2r::{name}"),
            common::LOOPBACK_MULTICAST,
            &[("ROS_AUTOMATIC_DISCOVERY_RANGE", OsStr::new("LOCALHOST"))],
        )
    }

    fn options(name: &str, domain_id: u16) -> NodeOptions {
        NodeOptions::new(name, "/vla_perf_test").with_domain(domain_id)
    }

    fn r2r_node(name: &str) -> Box<dyn Node> {
        R2rTransport
            .create_node(&options(name, DOMAIN_ID))
            .unwrap_or_else(|e| panic!("create r2r node {name}: {e}"))
    }

    #[cfg(feature = "ros2-client")]
    fn ros2_client_node(name: &str) -> Box<dyn Node> {
        vla_perf::transport::ros2_client::Ros2ClientTransport
            .create_node(&options(name, DOMAIN_ID))
            .unwrap_or_else(|e| panic!("create ros2-client node {name}: {e}"))
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime")
    }

    /// Publishes `message` from `publishing` every 100 ms until `subscribing` receives one,
    /// which covers the time discovery takes; returns what arrived with its source time and
    /// the wall time just before the publish that got through.
    fn round_trip<M>(
        publishing: &mut dyn Node,
        subscribing: &mut dyn Node,
        topic: &str,
        message: &M,
    ) -> vla_perf::transport::Received<M>
    where
        M: RosMessage + std::fmt::Debug,
    {
        let mut sub = Subscription::<Typed<M>>::typed(subscribing, topic, Qos::reliable(10))
            .unwrap_or_else(|e| panic!("subscribe {topic}: {e}"));
        let publisher = Publisher::<M>::new(publishing, topic, Qos::reliable(10))
            .unwrap_or_else(|e| panic!("publisher {topic}: {e}"));
        let received = runtime()
            .block_on(async {
                tokio::time::timeout(DELIVERY_LIMIT, async {
                    loop {
                        publisher.publish(message).expect("publish");
                        if let Ok(Some(got)) =
                            tokio::time::timeout(Duration::from_millis(100), sub.recv()).await
                        {
                            return got;
                        }
                    }
                })
                .await
            })
            .unwrap_or_else(|_| panic!("nothing arrived on {topic} within {DELIVERY_LIMIT:?}"));
        assert!(received.size > 4, "a sample carries its header and body");
        assert_eq!(sub.counters().decode_failures(), 0);
        received
    }

    #[test]
    fn a_std_string_published_through_rcl_comes_back_with_the_publishers_source_time() {
        if !isolated(
            "a_std_string_published_through_rcl_comes_back_with_the_publishers_source_time",
        ) {
            return;
        }
        let sent = RosString {
            data: "pick up the red cup".into(),
        };
        let before = wall_clock();
        let got = round_trip(
            r2r_node("string_pub").as_mut(),
            r2r_node("string_sub").as_mut(),
            "chatter",
            &sent,
        );
        assert_eq!(got.message, sent);
        let source = got
            .source_time
            .expect("rmw_cyclonedds reports the source timestamp in the message info");
        assert!(
            before <= source && source <= got.received_at,
            "source {source:?} must lie between the first publish {before:?} and receipt {:?}",
            got.received_at
        );
    }

    #[test]
    fn a_message_type_that_is_not_compiled_in_is_watched_header_only() {
        if !isolated("a_message_type_that_is_not_compiled_in_is_watched_header_only") {
            return;
        }
        // vision_msgs is loaded from its installed type support; vla_perf has no code for it
        // in this backend. The header is read from the serialised bytes.
        let mut subscribing = r2r_node("header_sub");
        let mut sub = Subscription::header_only(
            subscribing.as_mut(),
            "camera/image_raw",
            "sensor_msgs/msg/Image",
            Qos::reliable(10),
        )
        .expect("subscribe to an installed type");
        let mut publishing = r2r_node("header_pub");
        let publisher =
            Publisher::<Image>::new(publishing.as_mut(), "camera/image_raw", Qos::reliable(10))
                .expect("publisher");
        let stamp = Time {
            sec: 1_700_000_123,
            nanosec: 456,
        };
        let image = Image {
            header: Header {
                stamp: stamp.clone(),
                frame_id: "camera".into(),
            },
            height: 480,
            width: 640,
            encoding: "rgb8".into(),
            is_bigendian: 0,
            step: 1920,
            data: vec![7; 640 * 480 * 3],
        };
        let got = runtime().block_on(async {
            tokio::time::timeout(DELIVERY_LIMIT, async {
                loop {
                    publisher.publish(&image).expect("publish");
                    if let Ok(Some(got)) =
                        tokio::time::timeout(Duration::from_millis(100), sub.recv()).await
                    {
                        return got;
                    }
                }
            })
            .await
            .expect("an image arrives")
        });
        assert_eq!(got.message.stamp, stamp);
        assert_eq!(got.message.frame_id, "camera");
        assert!(
            got.size > 640 * 480 * 3,
            "the whole image's size is counted"
        );
        let err = Subscription::header_only(
            subscribing.as_mut(),
            "nothing",
            "no_such_msgs/msg/Nothing",
            Qos::reliable(10),
        )
        .err()
        .expect("a type nobody installed is refused");
        assert!(
            matches!(err, Error::Name { what: "type", .. })
                && err
                    .to_string()
                    .contains("libno_such_msgs__rosidl_typesupport_c.so"),
            "{err}"
        );
    }

    #[test]
    fn a_command_latency_published_through_rcl_comes_back_intact() {
        if !isolated("a_command_latency_published_through_rcl_comes_back_intact") {
            return;
        }
        let sent = CommandLatency {
            header: Header {
                stamp: Time {
                    sec: 1_700_000_000,
                    nanosec: 250_000_000,
                },
                frame_id: "base_link".into(),
            },
            robot_id: "robot1".into(),
            command_id: "cmd-7".into(),
            outcome: CommandLatency::OUTCOME_SUCCEEDED,
            failed_stage: String::new(),
            started: Time {
                sec: 1_700_000_000,
                nanosec: 0,
            },
            ended: Time {
                sec: 1_700_000_000,
                nanosec: 250_000_000,
            },
            end_to_end: 0.25,
            stages: vec![
                StageLatency {
                    stage: "asr".into(),
                    reached: true,
                    latency: 0.0,
                },
                StageLatency {
                    stage: "planner".into(),
                    reached: true,
                    latency: 0.25,
                },
            ],
        };
        let got = round_trip(
            r2r_node("latency_pub").as_mut(),
            r2r_node("latency_sub").as_mut(),
            "vla_perf/command_latency",
            &sent,
        );
        assert_eq!(got.message, sent);
    }

    #[cfg(feature = "ros2-client")]
    #[test]
    fn rcl_and_ros2_client_nodes_talk_to_each_other_both_ways() {
        if !isolated("rcl_and_ros2_client_nodes_talk_to_each_other_both_ways") {
            return;
        }
        let rt = runtime();
        // ros2-client nodes spawn their spinners on the ambient tokio runtime.
        let _entered = rt.enter();
        let mut rcl = r2r_node("interop_rcl");
        let mut rustdds = ros2_client_node("interop_rustdds");
        let to_rustdds = RosString {
            data: "from rcl".into(),
        };
        let got = round_trip(rcl.as_mut(), rustdds.as_mut(), "to_rustdds", &to_rustdds);
        assert_eq!(got.message, to_rustdds);
        let to_rcl = RosString {
            data: "from RustDDS".into(),
        };
        let got = round_trip(rustdds.as_mut(), rcl.as_mut(), "to_rcl", &to_rcl);
        assert_eq!(got.message, to_rcl);
        assert!(
            got.source_time.is_some(),
            "RustDDS writes source timestamps"
        );
    }

    /// The graph as `vla-perf discover` reads it: a topic another node publishes, with its
    /// type and its publisher's node name.
    #[cfg(feature = "ros2-client")]
    #[test]
    fn the_graph_lists_topics_with_their_types_and_publishing_nodes() {
        if !isolated("the_graph_lists_topics_with_their_types_and_publishing_nodes") {
            return;
        }
        let rt = runtime();
        let _entered = rt.enter();
        let rcl = r2r_node("graph_reader");
        let mut rustdds = ros2_client_node("graph_writer");
        let mut talker = r2r_node("graph_talker");
        let _a = Publisher::<RosString>::new(talker.as_mut(), "/graph/chatter", Qos::reliable(10))
            .expect("rcl publisher");
        let _b = Publisher::<Image>::new(rustdds.as_mut(), "/graph/image", Qos::sensor_data())
            .expect("ros2-client publisher");
        let deadline = std::time::Instant::now() + DELIVERY_LIMIT;
        loop {
            let topics = rcl.graph_topics().expect("graph");
            let chatter = topics.iter().find(|t| t.name == "/graph/chatter");
            let image = topics.iter().find(|t| t.name == "/graph/image");
            if let (Some(chatter), Some(image)) = (chatter, image) {
                assert_eq!(chatter.types, ["std_msgs/msg/String"]);
                assert_eq!(chatter.publishers, ["/vla_perf_test/graph_talker"]);
                assert_eq!(image.types, ["sensor_msgs/msg/Image"]);
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "not in the graph after {DELIVERY_LIMIT:?}: {topics:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        // And the other way round: RustDDS's discovery sees the rcl node's topic.
        let deadline = std::time::Instant::now() + DELIVERY_LIMIT;
        loop {
            let topics = rustdds.graph_topics().expect("graph");
            if let Some(t) = topics.iter().find(|t| t.name == "/graph/chatter") {
                assert_eq!(t.types, ["std_msgs/msg/String"]);
                assert_eq!(t.publishers.len(), 1, "{t:?}");
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{topics:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    #[test]
    fn a_second_domain_in_one_process_is_refused_with_a_clear_error() {
        if !isolated("a_second_domain_in_one_process_is_refused_with_a_clear_error") {
            return;
        }
        let _first = r2r_node("first_domain");
        let err = R2rTransport
            .create_node(&options("other_domain", DOMAIN_ID + 1))
            .err()
            .expect("a node on another domain must be refused");
        assert!(
            matches!(err, Error::Backend { backend: "r2r", .. }),
            "{err}"
        );
        assert!(err.to_string().contains(&DOMAIN_ID.to_string()), "{err}");
    }

    #[test]
    fn invalid_names_are_refused_as_names() {
        if !isolated("invalid_names_are_refused_as_names") {
            return;
        }
        let err = R2rTransport
            .create_node(&options("bad name", DOMAIN_ID))
            .err()
            .expect("rcl refuses a node name with a space");
        assert!(
            matches!(
                err,
                Error::Name {
                    what: "node name",
                    ..
                }
            ),
            "{err}"
        );
        let err = R2rTransport
            .create_node(&options("nul\0name", DOMAIN_ID))
            .err()
            .expect("a NUL is refused before rcl sees it");
        assert!(matches!(err, Error::Name { .. }), "{err}");
    }
}
