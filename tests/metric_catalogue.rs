//! The metric catalogue (`core::metric`) against what the suite really publishes.
//!
//! Everything runs in process (in-process bus, no DDS): the SIMULATED stack, the collector
//! with its default pipeline plus a watched audio topic, and a benchmark run of every suite
//! that drives the stack. A probe records every metric name on
//! the metrics and topic health topics; the alert node's intake names the resource samples
//! and derives its aliases and rates; the Prometheus endpoint lists its families. The test
//! fails when a name is published that the catalogue lacks (or lists under another
//! surface), and when the catalogue lists a metric that nothing published.

#![cfg(feature = "ros2-client")]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use vla_perf::alerts::intake;
use vla_perf::bench;
use vla_perf::config::{AudioFormat, CollectorConfig, WatchedTopic};
use vla_perf::core::metric::{self, Metric, Surface, CATALOGUE};
use vla_perf::core::timeline::Outcome;
use vla_perf::msg::{audio_common_msgs, cdr, GpuUsage, MetricArray, ProcessUsage, ResourceUsage};
use vla_perf::prometheus::Exporter;
use vla_perf::sim::config::Latency;
use vla_perf::sim::{self, SimConfig};
use vla_perf::transport::inproc::InprocTransport;
use vla_perf::transport::{NodeOptions, Qos, Subscription, Transport, Typed};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

const AUDIO_TOPIC: &str = "/audio/chunks";

/// The SIMULATED stack, fast and without failures, so every command completes quickly.
fn stack() -> SimConfig {
    let ms = Duration::from_millis;
    let mut c = SimConfig {
        seed: 5,
        ..SimConfig::default()
    };
    c.asr.latency = Latency::normal(ms(60), ms(10));
    c.planner.latency = Latency::normal(ms(80), ms(10));
    c.planner.reject_rate = 0.0;
    c.camera.width = 160;
    c.camera.height = 120;
    c.executor.dispatch = Latency::normal(ms(20), ms(5));
    c.executor.execution = Latency::normal(ms(100), ms(20));
    c.executor.failure_rate = 0.0;
    c.executor.lost_rate = 0.0;
    c
}

/// The default pipeline (it matches the simulated stack) plus a watched audio topic.
fn collector_config() -> CollectorConfig {
    let mut c = CollectorConfig {
        publish_period: Duration::from_millis(500),
        ..CollectorConfig::default()
    };
    c.prometheus.enabled = false;
    c.resources.gpu = false;
    c.topics.push(WatchedTopic {
        topic: AUDIO_TOPIC.into(),
        msg_type: audio_common_msgs::AUDIO_DATA.into(),
        expected_rate_hz: None,
        stale_after: None,
        audio: Some(AudioFormat::default()),
        stamped: None,
        qos: None,
        qos_depth: None,
    });
    c
}

/// Every suite, with a command that navigates (navigation success) and the simulated
/// camera's image set (detection mAP).
/// Paths stay inside the scenario's directory, so the image set is copied beside it.
fn scenario_text() -> String {
    String::from(
        "scenario:\n  name: catalogue\n  suites: [voice_processing, cognitive_planning, \
         visual_perception, action_execution, end_to_end]\n  commands:\n    \
         - {text: pick up the red cup, expected_plan: [pick]}\n    \
         - {text: go to the kitchen, expected_plan: [navigate]}\n  image_sets:\n    \
         - {name: sim_shapes, directory: images, annotations: images/instances.json}\n  \
         load: {mode: sequential, timeout: 5s}\n",
    )
}

/// Names seen, by the surface they were seen on.
type Seen = Arc<Mutex<BTreeMap<Surface, BTreeSet<String>>>>;

fn record(seen: &Seen, surface: Surface, names: impl IntoIterator<Item = String>) {
    let mut seen = seen.lock().unwrap();
    seen.entry(surface).or_default().extend(names);
}

/// The surface a name on the collector's metrics topic belongs to: the collector's, or the
/// benchmark node's (both publish there).
fn metrics_topic_surface(name: &str) -> Surface {
    match Metric::parse(name) {
        Some(m) if m.spec().surface == Surface::Benchmark => Surface::Benchmark,
        _ => Surface::Metrics,
    }
}

/// Runs the demo with a benchmark and returns every metric name published, by surface.
fn published() -> BTreeMap<Surface, BTreeSet<String>> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let seen: Seen = Arc::default();
    runtime.block_on(async {
        let transport = InprocTransport::new();
        let mut probe = transport
            .create_node(&NodeOptions::new("catalogue_probe", "/"))
            .unwrap();
        let qos = Qos::reliable(1000);
        let mut metrics =
            Subscription::<Typed<MetricArray>>::typed(probe.as_mut(), "/vla_perf/metrics", qos)
                .unwrap();
        let mut health = Subscription::<Typed<MetricArray>>::typed(
            probe.as_mut(),
            "/vla_perf/topic_health",
            qos,
        )
        .unwrap();
        let mut resources = Subscription::<Typed<ResourceUsage>>::typed(
            probe.as_mut(),
            "/vla_perf/resources",
            qos,
        )
        .unwrap();
        let probe_seen = seen.clone();
        let listener = tokio::spawn(async move {
            let at = Duration::ZERO;
            loop {
                tokio::select! {
                    Some(m) = metrics.recv() => {
                        let array = m.message;
                        for s in &array.metrics {
                            record(&probe_seen, metrics_topic_surface(&s.name), [s.name.clone()]);
                        }
                        // The alert node's aliases and derived rates.
                        let derived = intake::from_metric_array(&array, at);
                        record(&probe_seen, Surface::Derived, derived.into_iter().map(|o| o.metric));
                    }
                    Some(m) = health.recv() => {
                        let names = m.message.metrics.into_iter().map(|s| s.name);
                        record(&probe_seen, Surface::TopicHealth, names);
                    }
                    Some(m) = resources.recv() => {
                        let mut usage = m.message;
                        // No GPU here: the intake's GPU names are checked with a GPU added
                        // to the collector's real sample.
                        usage.gpus.push(test_gpu());
                        let names = intake::from_resources(&usage, at).into_iter().map(|o| o.metric);
                        record(&probe_seen, Surface::Resources, names);
                    }
                    else => break,
                }
            }
        });
        let transport: Arc<dyn Transport> = Arc::new(transport);
        let (stop_tx, _) = tokio::sync::broadcast::channel::<()>(1);
        let stopped = |tx: &tokio::sync::broadcast::Sender<()>| {
            let mut rx = tx.subscribe();
            async move {
                let _ = rx.recv().await;
            }
        };
        let sim = tokio::spawn(sim::run_stack(
            stack(),
            transport.clone(),
            0,
            stopped(&stop_tx),
        ));
        let collector = tokio::spawn(vla_perf::collector::run(
            collector_config(),
            transport.clone(),
            0,
            stopped(&stop_tx),
        ));
        // Audio chunks on the watched audio topic: 1600 bytes = 800 S16LE samples each.
        let audio = probe
            .create_raw_publisher(AUDIO_TOPIC, audio_common_msgs::AUDIO_DATA, qos)
            .unwrap();
        let chunk = cdr::to_cdr(&vec![0u8; 1600]).unwrap();
        let audio_task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            loop {
                tick.tick().await;
                audio.publish_cdr(&chunk).unwrap();
            }
        });
        let dir = std::env::temp_dir().join(format!("vla_perf_catalogue_{}", std::process::id()));
        std::fs::create_dir_all(dir.join("images")).unwrap();
        let images = repo().join("config/scenarios/images/sim_shapes");
        for entry in std::fs::read_dir(images).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, dir.join("images").join(path.file_name().unwrap())).unwrap();
        }
        let scenario_path = dir.join("scenario.yaml");
        std::fs::write(&scenario_path, scenario_text()).unwrap();
        let scenario = vla_perf::config::load_scenario(&scenario_path).unwrap();
        let options = bench::Options {
            scenario_path,
            scenario,
            results_dir: dir.join("results"),
            domain: 0,
            node_name: "vla_perf_benchmark".into(),
            processes: vec![],
            gpu: false,
            progress_bar: false,
        };
        let (_bench_stop, bench_stopped) = tokio::sync::watch::channel(false);
        let finished = bench::run_once(
            &options,
            &bench::Settings::default(),
            transport.clone(),
            bench_stopped,
        )
        .await;
        assert!(finished.is_ok(), "the benchmark ran: {:?}", finished.err());
        // Past the collector's next publish, so the last commands are in its metrics.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        audio_task.abort();
        let _ = stop_tx.send(());
        sim.await.unwrap().unwrap();
        collector.await.unwrap().unwrap();
        let _ = std::fs::remove_dir_all(dir);
        listener.abort();
    });
    let mut seen = seen.lock().unwrap().clone();
    // Derived holds every observation the intake made; keep only what it adds.
    let direct: BTreeSet<String> = seen
        .iter()
        .filter(|(s, _)| **s != Surface::Derived)
        .flat_map(|(_, n)| n.iter().cloned())
        .collect();
    if let Some(derived) = seen.get_mut(&Surface::Derived) {
        derived.retain(|n| !direct.contains(n));
    }
    seen
}

/// Prometheus families the endpoint exposes once every kind of figure was recorded (a
/// family appears with its first series), named as in PromQL.
fn prometheus_families() -> BTreeSet<String> {
    let exporter = Exporter::new("r1");
    exporter.observe_stage_latency("plan", 0.5);
    exporter.observe_end_to_end(1.5);
    exporter.inc_commands(Outcome::Succeeded);
    exporter.add_topic_traffic("/camera", 3, 300);
    exporter.add_decode_failures("/camera", 1);
    exporter.add_dropped("queue_full", 2);
    exporter.set_slo(0.75);
    exporter.set_in_flight(2);
    exporter.set_topic_health("/camera", Some(30.0), Some(0.02));
    exporter.set_audio_rate(AUDIO_TOPIC, Some(16_000.0));
    exporter.set_resources(&ResourceUsage {
        cpu_percent: 42.5,
        memory_used_bytes: 1 << 30,
        memory_total_bytes: 4 << 30,
        processes: vec![ProcessUsage {
            name: "planner".into(),
            pid: 7,
            cpu_percent: 150.0,
            rss_bytes: 1 << 20,
        }],
        gpu_available: true,
        gpus: vec![test_gpu()],
        ..ResourceUsage::default()
    });
    let text = exporter.encode().unwrap();
    let mut families = BTreeSet::new();
    let mut help = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            help = rest.split_whitespace().next().map(str::to_owned);
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut words = rest.split_whitespace();
            let (name, kind) = (words.next(), words.next());
            assert_eq!(name.map(str::to_owned), help.take(), "{line}");
            // OpenMetrics names a counter's family without the `_total` of its samples.
            let suffix = if kind == Some("counter") {
                "_total"
            } else {
                ""
            };
            families.insert(format!("{}{suffix}", name.unwrap_or_default()));
        }
    }
    families
}

fn test_gpu() -> GpuUsage {
    GpuUsage {
        index: 0,
        name: "test GPU".into(),
        utilization_percent: 50.0,
        memory_used_bytes: 1,
        memory_total_bytes: 2,
        temperature_celsius: 60.0,
        power_watts: 100.0,
        ..GpuUsage::default()
    }
}

#[test]
fn the_catalogue_lists_exactly_what_the_suite_publishes() {
    let published = published();
    let mut problems = Vec::new();
    let mut covered: BTreeSet<&str> = BTreeSet::new();
    for (surface, names) in &published {
        for name in names {
            // An alias (or derived rate) the intake adds belongs to its metric's row.
            match metric::lookup(name) {
                None => problems.push(format!(
                    "published on {surface:?} but not in the catalogue: {name}"
                )),
                Some(named) => {
                    let row = named.metric.spec();
                    let expected = if named.alias.is_some() {
                        Surface::Derived
                    } else {
                        row.surface
                    };
                    if expected != *surface {
                        problems.push(format!(
                            "{name}: published on {surface:?}, catalogued as {expected:?}"
                        ));
                    }
                    covered.insert(name.as_str());
                }
            }
        }
    }
    for row in CATALOGUE
        .iter()
        .filter(|r| r.surface != Surface::Prometheus)
    {
        for name in std::iter::once(row.name).chain(row.aliases.iter().map(|a| a.name)) {
            if !covered.contains(name) {
                problems.push(format!("catalogued but nothing published it: {name}"));
            }
        }
    }
    let families = prometheus_families();
    let catalogued: BTreeSet<String> = CATALOGUE
        .iter()
        .filter_map(|r| r.prometheus)
        .map(|p| p.family.to_owned())
        .collect();
    for family in families.symmetric_difference(&catalogued) {
        problems.push(if families.contains(family) {
            format!("Prometheus family not in the catalogue: {family}")
        } else {
            format!("catalogued Prometheus family the endpoint lacks: {family}")
        });
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
