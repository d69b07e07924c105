//! ROS 2 wire interop of the default backend (ros2-client over RustDDS) against an
//! implementation nobody here wrote: Cyclone DDS through the Python `cyclonedds` wheel,
//! acting as ROS 2 nodes (topics `rt/<name>`, types `pkg::msg::dds_::Type_`, XCDR1).
//!
//! Every test runs in its own private network namespace (see `common::isolated`) on its
//! own domain id, so no DDS packet leaves loopback.

#![cfg(feature = "ros2-client")]

mod common;

use std::time::Duration;

use common::{isolated, peer_json, require_python_module, Peer, LOOPBACK_MULTICAST};
use vla_perf::msg::builtin_interfaces::Time;
use vla_perf::msg::diagnostic_msgs::KeyValue;
use vla_perf::msg::std_msgs::{Header, String as RosString};
use vla_perf::msg::*;
use vla_perf::transport::ros2_client::Ros2ClientTransport;
use vla_perf::transport::{Node, NodeOptions, Publisher, Qos, Subscription, Transport, Typed};

const PEER_LIMIT: Duration = Duration::from_secs(60);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn node(name: &str, domain_id: u16) -> Box<dyn Node> {
    Ros2ClientTransport
        .create_node(&NodeOptions::new(name, "/").with_domain(domain_id))
        .expect("node")
}

fn qos_name(qos: Qos) -> &'static str {
    if qos == Qos::sensor_data() {
        "best_effort"
    } else {
        "reliable"
    }
}

#[test]
fn strings_published_by_cyclone_reach_our_subscriber_reliable_and_best_effort() {
    if !isolated(
        "strings_published_by_cyclone_reach_our_subscriber_reliable_and_best_effort",
        LOOPBACK_MULTICAST,
    ) {
        return;
    }
    require_python_module("cyclonedds");
    runtime().block_on(async {
        for (domain, qos) in [(11u16, Qos::reliable(10)), (12, Qos::sensor_data())] {
            let mut n = node("vla_perf_interop", domain);
            let mut sub = Subscription::<Typed<RosString>>::typed(n.as_mut(), "/chatter", qos)
                .expect("subscription");
            let d = domain.to_string();
            let peer = Peer::cyclone(&[
                "publish",
                "--domain",
                &d,
                "--topic",
                "/chatter",
                "--type",
                "std_msgs/msg/String",
                "--qos",
                qos_name(qos),
                "--count",
                "20",
                "--rate",
                "50",
                "--wait-subscribers",
                "1",
                "--timeout",
                "30",
                "--json",
                r#"{"data": "pick up the red cup {i} ✓"}"#,
            ]);
            let mut got = Vec::new();
            while got.len() < 20 {
                match tokio::time::timeout(Duration::from_secs(30), sub.recv()).await {
                    Ok(Some(r)) => got.push(r.message.data),
                    _ => break,
                }
            }
            let sent = peer.finish(PEER_LIMIT);
            assert_eq!(sent.len(), 20, "the peer sent all its messages");
            let expected: Vec<String> = (0..20)
                .map(|i| format!("pick up the red cup {i} ✓"))
                .collect();
            assert_eq!(got, expected, "{} strings in order", qos_name(qos));
            assert_eq!(sub.counters().received(), 20);
            assert_eq!(sub.counters().decode_failures(), 0);
        }
    });
}

#[test]
fn header_first_images_from_cyclone_are_decoded_header_only() {
    if !isolated(
        "header_first_images_from_cyclone_are_decoded_header_only",
        LOOPBACK_MULTICAST,
    ) {
        return;
    }
    require_python_module("cyclonedds");
    runtime().block_on(async {
        let mut n = node("vla_perf_interop", 13);
        let mut sub = Subscription::header_only(
            n.as_mut(),
            "/camera/image_raw",
            "sensor_msgs/msg/Image",
            Qos::sensor_data(),
        )
        .expect("subscription");
        let peer = Peer::cyclone(&[
            "publish",
            "--domain",
            "13",
            "--topic",
            "/camera/image_raw",
            "--type",
            "sensor_msgs/msg/Image",
            "--qos",
            "best_effort",
            "--count",
            "10",
            "--rate",
            "30",
            "--image",
            "640x480",
            "--stamp",
            "now",
            "--wait-subscribers",
            "1",
            "--timeout",
            "30",
            "--json",
            r#"{"header": {"frame_id": "camera_{i}"}}"#,
        ]);
        let mut got = Vec::new();
        while got.len() < 10 {
            match tokio::time::timeout(Duration::from_secs(30), sub.recv()).await {
                Ok(Some(r)) => got.push(r),
                _ => break,
            }
        }
        let sent = peer.finish(PEER_LIMIT);
        assert_eq!(got.len(), 10, "all 10 images arrived");
        for (i, (r, s)) in got.iter().zip(&sent).enumerate() {
            let stamp = &s["stamp"];
            assert_eq!(
                (
                    i64::from(r.message.stamp.sec),
                    i64::from(r.message.stamp.nanosec)
                ),
                (stamp[0].as_i64().unwrap(), stamp[1].as_i64().unwrap()),
                "image {i} stamp"
            );
            assert_eq!(r.message.frame_id, format!("camera_{i}"));
            assert!(r.size > 640 * 480 * 3, "the whole image was received");
        }
        assert!(sub.counters().bytes() >= 10 * 640 * 480 * 3);
    });
}

/// Creates a publisher of one sample on a node and returns "publish it once".
type MakePublisher = Box<dyn Fn(&mut dyn Node, Qos) -> Box<dyn Fn() + Send>>;

/// One value of every vla_perf message, with every field set and non-ASCII text.
fn samples() -> Vec<(&'static str, serde_json::Value, MakePublisher)> {
    fn entry<M>(message: M) -> (&'static str, serde_json::Value, MakePublisher)
    where
        M: RosMessage + serde::Serialize + Clone + Send + Sync + 'static,
    {
        let json = peer_json(&message);
        let make = move |node: &mut dyn Node, qos: Qos| -> Box<dyn Fn() + Send> {
            let topic = format!(
                "/interop/{}",
                M::TYPE_NAME.rsplit('/').next().unwrap_or_default()
            );
            let publisher = Publisher::<M>::new(node, &topic, qos).expect("publisher");
            let message = message.clone();
            Box::new(move || publisher.publish(&message).expect("publish"))
        };
        (M::TYPE_NAME, json, Box::new(make))
    }
    let header = Header {
        stamp: Time {
            sec: 1_700_000_123,
            nanosec: 456_789_012,
        },
        frame_id: "base_link · ロボット".into(),
    };
    let kv = |k: &str, v: &str| KeyValue {
        key: k.into(),
        value: v.into(),
    };
    let summary = |name: &str| MetricSummary {
        name: name.into(),
        unit: "s".into(),
        window: 10.0,
        count: u64::MAX,
        mean: 0.5,
        stddev: 0.125,
        min: 1e-6,
        max: 1.7976931348623157e308,
        p50: 0.25,
        p90: 0.75,
        p95: 0.875,
        p99: 0.9375,
        p999: 0.99,
        tags: vec![kv("stage", "plan"), kv("robot", "tiago_01")],
    };
    vec![
        entry(StageEvent {
            header: header.clone(),
            command_id: "cmd-42".into(),
            stage: "transcript".into(),
            phase: StageEvent::PHASE_FAIL,
            confidence: 0.93,
            detail: "ASR gave up: «bruit»".into(),
        }),
        entry(StageLatency {
            stage: "vision".into(),
            reached: true,
            latency: 0.0425,
        }),
        entry(CommandLatency {
            header: header.clone(),
            robot_id: "tiago_01".into(),
            command_id: "cmd-7".into(),
            outcome: CommandLatency::OUTCOME_FAILED,
            failed_stage: "plan".into(),
            started: Time {
                sec: 10,
                nanosec: 1,
            },
            ended: Time {
                sec: 12,
                nanosec: 999_999_999,
            },
            end_to_end: -0.0,
            stages: vec![
                StageLatency {
                    stage: "voice".into(),
                    reached: true,
                    latency: 0.0,
                },
                StageLatency {
                    stage: "plan".into(),
                    reached: false,
                    latency: 2.5,
                },
            ],
        }),
        entry(summary("stage_latency")),
        entry(MetricArray {
            header: header.clone(),
            robot_id: "tiago_01".into(),
            metrics: vec![summary("end_to_end_latency"), summary("topic_rate")],
        }),
        entry(ProcessUsage {
            name: "llm_planner".into(),
            pid: u32::MAX,
            cpu_percent: 187.5,
            rss_bytes: 12_345_678_901,
        }),
        entry(GpuUsage {
            index: 1,
            name: "NVIDIA H200".into(),
            uuid: "GPU-1234".into(),
            utilization_percent: 99.5,
            memory_used_bytes: 80 << 30,
            memory_total_bytes: 141 << 30,
            temperature_celsius: 71.0,
            power_watts: 612.25,
        }),
        entry(ResourceUsage {
            header: header.clone(),
            robot_id: "tiago_01".into(),
            cpu_percent: 42.5,
            cpu_per_core_percent: vec![10.0, 75.0],
            memory_used_bytes: 1 << 33,
            memory_total_bytes: 24 << 30,
            disk_read_bytes_per_second: 1024.5,
            disk_write_bytes_per_second: 0.0,
            network_rx_bytes_per_second: 125_000.0,
            network_tx_bytes_per_second: 3.25,
            temperature_labels: vec!["cpu".into(), "nvme".into()],
            temperatures_celsius: vec![55.5, 40.0],
            processes: vec![ProcessUsage {
                name: "whisper_asr".into(),
                pid: 4242,
                cpu_percent: 12.5,
                rss_bytes: 1 << 30,
            }],
            gpu_available: false,
            gpu_status: "NVML library not found".into(),
            gpus: vec![],
        }),
        entry(Alert {
            header: header.clone(),
            alert_id: "planner_latency_high/3f2a".into(),
            rule: "planner_latency_high".into(),
            robot_id: "tiago_01".into(),
            state: Alert::STATE_FIRING,
            severity: Alert::SEVERITY_CRITICAL,
            metric: "stage_latency".into(),
            value: 4.75,
            warning_threshold: 2.0,
            critical_threshold: 4.0,
            message: "p95 plan latency 4.75 s ≥ 4 s".into(),
            active_since: Time {
                sec: 1_700_000_000,
                nanosec: 0,
            },
            labels: vec![kv("team", "planning")],
        }),
        entry(Kpi {
            name: "wer".into(),
            unit: "1".into(),
            value: 0.0625,
            compare: Kpi::COMPARE_AT_MOST,
            threshold: 0.1,
            passed: true,
        }),
        entry(BenchmarkResult {
            header,
            robot_id: "tiago_01".into(),
            run_id: "run-2026-11-28".into(),
            suite: "end_to_end".into(),
            scenario: "basic".into(),
            commands_sent: 100,
            commands_succeeded: 95,
            commands_failed: 3,
            commands_timed_out: 2,
            duration: 123.5,
            throughput: 0.75,
            latencies: vec![summary("end_to_end_latency")],
            kpis: vec![Kpi {
                name: "success_rate".into(),
                unit: "1".into(),
                value: 0.95,
                compare: Kpi::COMPARE_AT_LEAST,
                threshold: 0.9,
                passed: true,
            }],
            passed: true,
            report_path: "/tmp/results/report.json".into(),
        }),
    ]
}

#[test]
fn cyclone_decodes_every_vla_perf_message_we_publish_reliable_and_best_effort() {
    if !isolated(
        "cyclone_decodes_every_vla_perf_message_we_publish_reliable_and_best_effort",
        LOOPBACK_MULTICAST,
    ) {
        return;
    }
    require_python_module("cyclonedds");
    let samples = samples();
    assert_eq!(
        samples.len(),
        VLA_PERF_MESSAGES.len(),
        "one sample per vla_perf message"
    );
    runtime().block_on(async {
        for (domain, qos) in [(21u16, Qos::reliable(10)), (22, Qos::sensor_data())] {
            let mut n = node("vla_perf_publisher", domain);
            let d = domain.to_string();
            let mut peers = Vec::new();
            let mut publishers = Vec::new();
            for (type_name, _, make) in &samples {
                let topic = format!(
                    "/interop/{}",
                    type_name.rsplit('/').next().unwrap_or_default()
                );
                peers.push(Peer::cyclone(&[
                    "subscribe",
                    "--domain",
                    &d,
                    "--topic",
                    &topic,
                    "--type",
                    type_name,
                    "--qos",
                    qos_name(qos),
                    "--count",
                    "1",
                    "--timeout",
                    "45",
                ]));
                publishers.push(make(n.as_mut(), qos));
            }
            // Publish until every peer has its sample: discovery takes a moment, and a
            // volatile topic delivers nothing to a reader that has not matched yet.
            let deadline = std::time::Instant::now() + Duration::from_secs(45);
            while peers.iter_mut().any(|p| !p.exited()) && std::time::Instant::now() < deadline {
                for publish in &publishers {
                    publish();
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            for ((type_name, expected, _), peer) in samples.iter().zip(peers) {
                let lines = peer.finish(PEER_LIMIT);
                assert_eq!(lines.len(), 1, "{type_name}: one sample");
                assert_eq!(
                    &lines[0]["msg"],
                    expected,
                    "{type_name} over {} decoded by Cyclone",
                    qos_name(qos)
                );
            }
        }
    });
}

#[test]
fn our_node_is_listed_in_the_ros_graph() {
    if !isolated("our_node_is_listed_in_the_ros_graph", LOOPBACK_MULTICAST) {
        return;
    }
    require_python_module("cyclonedds");
    runtime().block_on(async {
        let _n = node("vla_perf_graph_probe", 31);
        let peer = Peer::cyclone(&[
            "subscribe",
            "--domain",
            "31",
            "--raw-topic",
            "--topic",
            "ros_discovery_info",
            "--type",
            "rmw_dds_common/msg/ParticipantEntitiesInfo",
            "--qos",
            "latched",
            "--count",
            "0",
            "--timeout",
            "8",
        ]);
        let lines = tokio::task::spawn_blocking(move || peer.finish(PEER_LIMIT))
            .await
            .expect("peer thread");
        let nodes: Vec<(String, String)> = lines
            .iter()
            .flat_map(|l| {
                l["msg"]["node_entities_info_seq"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .map(|n| {
                (
                    n["node_namespace"].as_str().unwrap_or_default().to_owned(),
                    n["node_name"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        assert!(
            nodes.contains(&("/".to_owned(), "vla_perf_graph_probe".to_owned())),
            "ros_discovery_info lists {nodes:?}"
        );
    });
}

#[test]
fn declared_parameters_and_clocks_work_on_the_ros2_client_backend() {
    if !isolated(
        "declared_parameters_and_clocks_work_on_the_ros2_client_backend",
        LOOPBACK_MULTICAST,
    ) {
        return;
    }
    runtime().block_on(async {
        use vla_perf::transport::ParamValue;
        let n = Ros2ClientTransport
            .create_node(
                &NodeOptions::new("vla_perf_params", "/robot1")
                    .with_domain(32)
                    .with_parameter("config", ParamValue::String("collector.yaml".into()))
                    .with_parameter("publish_period", ParamValue::Double(0.5)),
            )
            .expect("node");
        assert_eq!(n.namespace(), "/robot1");
        assert_eq!(
            n.parameter("config"),
            Some(ParamValue::String("collector.yaml".into()))
        );
        assert_eq!(n.parameter("publish_period"), Some(ParamValue::Double(0.5)));
        assert_eq!(n.parameter("undeclared"), None);
        let wall = vla_perf::transport::wall_clock();
        let ros = n.now();
        let skew = ros.abs_diff(wall);
        assert!(
            skew < Duration::from_secs(1),
            "ROS time {ros:?} vs wall {wall:?}"
        );
    });
}

#[test]
fn action_goal_status_arrays_from_cyclone_decode_as_typed_messages() {
    if !isolated(
        "action_goal_status_arrays_from_cyclone_decode_as_typed_messages",
        LOOPBACK_MULTICAST,
    ) {
        return;
    }
    require_python_module("cyclonedds");
    use vla_perf::msg::action_msgs::{GoalStatus, GoalStatusArray};
    runtime().block_on(async {
        let mut n = node("vla_perf_interop", 14);
        // Action servers publish status reliable + transient-local, keep last 1.
        let mut sub = Subscription::<Typed<GoalStatusArray>>::typed(
            n.as_mut(),
            "/execute_plan/_action/status",
            Qos::latched(),
        )
        .expect("subscription");
        let uuid: Vec<u8> = (1..=16).collect();
        let template = serde_json::json!({"status_list": [
            {"goal_info": {"goal_id": {"uuid": uuid}, "stamp": {"sec": 5, "nanosec": 6}}, "status": 2},
            {"goal_info": {"goal_id": {"uuid": vec![9u8; 16]}, "stamp": {"sec": 7, "nanosec": 8}}, "status": 6}
        ]});
        let peer = Peer::cyclone(&[
            "publish", "--domain", "14", "--topic", "/execute_plan/_action/status", "--type",
            "action_msgs/msg/GoalStatusArray", "--qos", "latched", "--count", "3", "--rate", "20",
            "--wait-subscribers", "1", "--timeout", "30", "--json", &template.to_string(),
        ]);
        let got = tokio::time::timeout(Duration::from_secs(30), sub.recv())
            .await
            .expect("a status array within 30 s")
            .expect("subscription open");
        peer.finish(PEER_LIMIT);
        let list = &got.message.status_list;
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].status, GoalStatus::STATUS_EXECUTING);
        assert_eq!(list[0].goal_info.goal_id.uuid.to_vec(), uuid);
        assert_eq!(
            (list[0].goal_info.stamp.sec, list[0].goal_info.stamp.nanosec),
            (5, 6)
        );
        assert_eq!(list[1].status, GoalStatus::STATUS_ABORTED);
        assert_eq!(sub.counters().decode_failures(), 0);
    });
}
