//! Our `/metrics` endpoint scraped by a real Prometheus server (Debian `prometheus`, which
//! nobody here wrote): what we record must come back from its query API with the same
//! values, labels and histogram semantics.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use common::servers::{free_port, http_agent, Prometheus};
use vla_perf::core::timeline::Outcome;
use vla_perf::msg::ResourceUsage;
use vla_perf::prometheus::Exporter;

/// Generous: Prometheus has to start, replay an empty WAL and scrape once or twice.
const STARTUP_LIMIT: Duration = Duration::from_secs(90);

/// Scrapes `target` every second.
fn scrape_config(target: SocketAddr) -> String {
    format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
         scrape_configs:\n  - job_name: vla_perf\n    static_configs:\n      \
         - targets: ['{target}']\n"
    )
}

#[test]
fn prometheus_scrapes_recorded_latencies_commands_and_resources_with_the_robot_label() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let exporter = Exporter::new("r1");
    for secs in [0.1, 0.2, 0.3] {
        exporter.observe_stage_latency("plan", secs);
    }
    for _ in 0..3 {
        exporter.inc_commands(Outcome::Succeeded);
    }
    exporter.inc_commands(Outcome::Failed);
    exporter.set_resources(&ResourceUsage {
        cpu_percent: 42.5,
        ..ResourceUsage::default()
    });
    let endpoint = runtime
        .block_on(exporter.serve(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))))
        .expect("serve /metrics");

    let dir = tempfile::tempdir().expect("temp dir");
    let mut prometheus = Prometheus::start(dir.path(), &scrape_config(endpoint.local_addr()));
    let agent = http_agent();
    let deadline = Instant::now() + STARTUP_LIMIT;
    prometheus.wait_for_targets_up(&agent, 1, deadline);

    let plan = r#"stage="plan",robot="r1""#;
    let count = prometheus.value(
        &agent,
        &format!("vla_perf_stage_latency_seconds_count{{{plan}}}"),
        deadline,
    );
    assert_eq!(count, 3.0);
    let sum = prometheus.value(
        &agent,
        &format!("vla_perf_stage_latency_seconds_sum{{{plan}}}"),
        deadline,
    );
    assert!((sum - 0.6).abs() < 1e-9, "sum {sum}");
    let bucket = prometheus.value(
        &agent,
        &format!(r#"vla_perf_stage_latency_seconds_bucket{{{plan},le="0.25"}}"#),
        deadline,
    );
    assert_eq!(bucket, 2.0);
    // Prometheus reads our buckets as a histogram: the median of 0.1, 0.2, 0.3 interpolates
    // to 0.175 inside (0.1, 0.25].
    let median = prometheus.value(
        &agent,
        &format!("histogram_quantile(0.5, vla_perf_stage_latency_seconds_bucket{{{plan}}})"),
        deadline,
    );
    assert!((median - 0.175).abs() < 1e-9, "median {median}");

    let succeeded = r#"vla_perf_commands_total{outcome="succeeded"}"#;
    assert_eq!(prometheus.value(&agent, succeeded, deadline), 3.0);
    let failed = r#"vla_perf_commands_total{outcome="failed"}"#;
    assert_eq!(prometheus.value(&agent, failed, deadline), 1.0);

    let cpu = prometheus.query(&agent, "vla_perf_cpu_usage_percent", deadline);
    assert_eq!(cpu.len(), 1, "{cpu:?}");
    assert_eq!(cpu[0]["metric"]["robot"], "r1", "{cpu:?}");
    assert_eq!(cpu[0]["metric"]["job"], "vla_perf", "{cpu:?}");
    assert_eq!(cpu[0]["value"][1], "42.5", "{cpu:?}");

    drop(prometheus);
    runtime.block_on(endpoint.shutdown());
}

#[test]
fn prometheus_scrapes_a_running_collector_with_its_latencies_outcomes_traffic_and_resources() {
    use std::sync::Arc;
    use vla_perf::config::{
        CollectorConfig, FieldMatch, JsonFields, PrometheusConfig, StageConfig,
    };
    use vla_perf::core::timeline::Correlation;
    use vla_perf::msg::std_msgs::String as RosString;
    use vla_perf::msg::MetricArray;
    use vla_perf::transport::inproc::InprocTransport;
    use vla_perf::transport::{NodeOptions, Publisher, Qos, Subscription, Transport, Typed};

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let text = |name: &str, corr: Correlation| {
        StageConfig::new(name, &format!("/vla/{name}"), "std_msgs/msg/String", corr)
    };
    let mut plan = text(
        "plan",
        Correlation::Id {
            field: "command_id".into(),
        },
    )
    .with_json(JsonFields {
        id: Some("command_id".into()),
        status: Some("status".into()),
        ..JsonFields::default()
    });
    plan.failure = Some(FieldMatch {
        field: "status".into(),
        values: vec!["rejected".into()],
    });
    let endpoint = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()));
    let mut config = CollectorConfig {
        robot_id: "r2".into(),
        stages: vec![
            text("voice", Correlation::Fifo),
            plan,
            text("done", Correlation::Fifo),
        ],
        publish_period: Duration::from_millis(200),
        prometheus: PrometheusConfig {
            enabled: true,
            listen: endpoint,
        },
        ..CollectorConfig::default()
    };
    config.resources.period = Duration::from_millis(500);
    config.resources.gpu = false;

    let transport = InprocTransport::new();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let collector = runtime.spawn(vla_perf::collector::run(
        config,
        Arc::new(transport.clone()),
        0,
        async move {
            let _ = stopped.await;
        },
    ));
    runtime.block_on(async {
        let mut probe = transport
            .create_node(&NodeOptions::new("probe", "/"))
            .expect("probe node");
        let mut metrics = Subscription::<Typed<MetricArray>>::typed(
            probe.as_mut(),
            "/vla_perf/metrics",
            Qos::reliable(10),
        )
        .expect("metrics subscription");
        tokio::time::timeout(Duration::from_secs(10), metrics.recv())
            .await
            .expect("the collector runs and publishes metrics");
        let publishers: Vec<Publisher<RosString>> = ["voice", "plan", "done"]
            .iter()
            .map(|s| {
                Publisher::new(probe.as_mut(), &format!("/vla/{s}"), Qos::reliable(10))
                    .expect("publisher")
            })
            .collect();
        for i in 0..3 {
            for (stage, data) in [
                (0, "pick up the cup".to_owned()),
                (
                    1,
                    format!(r#"{{"command_id": "c{i}", "status": "accepted"}}"#),
                ),
                (2, "done".to_owned()),
            ] {
                publishers[stage]
                    .publish(&RosString { data })
                    .expect("publish");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    });

    let dir = tempfile::tempdir().expect("temp dir");
    let mut prometheus = Prometheus::start(dir.path(), &scrape_config(endpoint));
    let agent = http_agent();
    let deadline = Instant::now() + STARTUP_LIMIT;
    prometheus.wait_for_targets_up(&agent, 1, deadline);

    let three = |v: f64| v == 3.0;
    prometheus.value_until(
        &agent,
        r#"vla_perf_end_to_end_latency_seconds_count{robot="r2"}"#,
        three,
        deadline,
    );
    prometheus.value_until(
        &agent,
        r#"vla_perf_stage_latency_seconds_count{stage="plan",robot="r2"}"#,
        three,
        deadline,
    );
    prometheus.value_until(
        &agent,
        r#"vla_perf_commands_total{outcome="succeeded",robot="r2"}"#,
        three,
        deadline,
    );
    prometheus.value_until(
        &agent,
        r#"vla_perf_topic_messages_total{topic="/vla/voice",robot="r2"}"#,
        three,
        deadline,
    );
    // Resource gauges come from the real sampler of this machine.
    let cpu = prometheus.value_until(
        &agent,
        r#"vla_perf_cpu_usage_percent{robot="r2"}"#,
        |v| (0.0..=100.0).contains(&v),
        deadline,
    );
    let memory = prometheus.value_until(
        &agent,
        r#"vla_perf_memory_used_bytes{robot="r2"}"#,
        |v| v > 0.0,
        deadline,
    );
    println!("scraped from the collector: cpu {cpu}%, memory used {memory} B");
    drop(prometheus);
    stop.send(()).expect("collector still running");
    runtime
        .block_on(collector)
        .expect("collector task")
        .expect("collector stopped cleanly");
}
