//! The rcl-native backend (feature `r2r`) end to end: messages published through the seam
//! on one r2r node come back through a typed subscription on another.
//!
//! rcl exists only on ROS 2 machines, so every test returns early, saying so, unless
//! `ROS_DISTRO` is set (a sourced ROS 2 installation). The `vla_perf` message test also
//! needs r2r to have been built with the vla_perf interfaces sourced (the colcon build).
//! Nodes use the localhost discovery range, so no DDS traffic leaves the host. Without the
//! feature this file compiles to no tests at all.

#[cfg(feature = "r2r")]
mod with_r2r {
    use std::time::Duration;

    use vla_perf::msg::builtin_interfaces::Time;
    use vla_perf::msg::std_msgs::{Header, String as RosString};
    use vla_perf::msg::{CommandLatency, RosMessage, StageLatency};
    use vla_perf::transport::r2r::R2rTransport;
    use vla_perf::transport::{
        Error, Node, NodeOptions, Publisher, Qos, Subscription, Transport, Typed,
    };

    /// r2r has one rcl context per process, so every test of this binary shares a domain.
    const DOMAIN_ID: u16 = 93;
    /// Discovery between two nodes takes a moment; this only bounds a broken run.
    const DELIVERY_LIMIT: Duration = Duration::from_secs(30);

    fn ros_present(test: &str) -> bool {
        let present = std::env::var_os("ROS_DISTRO").is_some();
        if !present {
            println!("{test}: skipped, ROS_DISTRO is not set (no ROS 2 installation sourced)");
        }
        present
    }

    fn options(name: &str, domain_id: u16) -> NodeOptions {
        NodeOptions::new(name, "/vla_perf_test").with_domain(domain_id)
    }

    fn node(name: &str) -> Box<dyn Node> {
        R2rTransport
            .create_node(&options(name, DOMAIN_ID))
            .unwrap_or_else(|e| panic!("create r2r node {name}: {e}"))
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("tokio runtime")
    }

    /// Publishes `message` every 100 ms until the subscription yields one, which covers the
    /// time discovery takes, and returns what arrived.
    fn round_trip<M>(test: &str, topic: &str, message: &M) -> M
    where
        M: RosMessage + std::fmt::Debug,
    {
        let mut publishing = node(&format!("{test}_publisher"));
        let mut subscribing = node(&format!("{test}_subscriber"));
        let mut sub =
            Subscription::<Typed<M>>::typed(subscribing.as_mut(), topic, Qos::reliable(10))
                .unwrap_or_else(|e| panic!("subscribe {topic}: {e}"));
        let publisher = Publisher::<M>::new(publishing.as_mut(), topic, Qos::reliable(10))
            .unwrap_or_else(|e| panic!("publisher {topic}: {e}"));
        let received = runtime().block_on(async {
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
        });
        let received = received
            .unwrap_or_else(|_| panic!("nothing arrived on {topic} within {DELIVERY_LIMIT:?}"));
        assert!(
            received.size > 4,
            "a sample carries its encapsulation header and body"
        );
        assert_eq!(sub.counters().decode_failures(), 0);
        received.message
    }

    #[test]
    fn a_std_string_published_through_r2r_comes_back_through_a_typed_subscription() {
        if !ros_present("std_string_round_trip") {
            return;
        }
        let sent = RosString {
            data: "pick up the red cup".into(),
        };
        assert_eq!(round_trip("string", "chatter", &sent), sent);
    }

    #[test]
    fn a_command_latency_published_through_r2r_comes_back_intact() {
        if !ros_present("command_latency_round_trip") {
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
        assert_eq!(
            round_trip("latency", "vla_perf/command_latency", &sent),
            sent
        );
    }

    #[test]
    fn a_second_domain_in_one_process_is_refused_with_a_clear_error() {
        if !ros_present("second_domain_refused") {
            return;
        }
        let _first = node("first_domain");
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
    fn the_node_clock_reads_a_time_after_the_epoch() {
        if !ros_present("node_clock") {
            return;
        }
        let n = node("clock");
        assert!(
            n.now() > Duration::from_secs(1_600_000_000),
            "{:?}",
            n.now()
        );
    }
}
