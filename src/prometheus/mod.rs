//! Prometheus/OpenMetrics endpoint: the collector's live figures as scrapeable metrics.
//!
//! [`Exporter`] owns a `prometheus-client` registry whose every series carries the
//! `robot` label (added once, in [`Exporter::new`]); [`Exporter::serve`] exposes it as
//! `GET /metrics` in the OpenMetrics text format. The exporter only mirrors values the core
//! already computed: it keeps no statistics of its own beyond Prometheus' cumulative
//! histograms and counters.
//!
//! Invalid input never panics: a non-finite gauge value is skipped (the series keeps its
//! previous value), and a non-finite or negative latency is not observed but counted in
//! [`DROPPED_EVENTS_TOTAL`] with reason [`REASON_INVALID_LATENCY`].

pub mod rules;
mod server;

use std::borrow::Cow;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::core::metric::Metric;
use crate::core::timeline::{CompletedCommand, Outcome};
use crate::msg::ResourceUsage;

pub use server::ServerHandle;

/// Where the endpoint listens unless configured: loopback only, port 9464 (the port
/// OpenTelemetry's Prometheus exporter uses, so fleet scrape configs often expect it).
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 9464));

/// The path Prometheus scrapes.
pub const METRICS_PATH: &str = "/metrics";

/// Content type of the `/metrics` response.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Label every series carries: the collector's `robot_id`.
pub const ROBOT_LABEL: &str = "robot";

// Metric family names as they appear in PromQL, from the catalogue (`core::metric`), which
// also gives their HELP text. Counters are registered without their `_total` suffix
// because the OpenMetrics encoder appends it.

/// Histogram{stage}: time from the previous reached stage to this one.
pub const STAGE_LATENCY_SECONDS: &str = Metric::StageLatency.prometheus_family();
/// Histogram: command start to the last stage's done event (succeeded commands).
pub const END_TO_END_LATENCY_SECONDS: &str = Metric::EndToEndLatency.prometheus_family();
/// Counter{outcome}: finished commands by outcome (`succeeded`, `failed`, ...).
pub const COMMANDS_TOTAL: &str = Metric::Commands.prometheus_family();
/// Counter{topic}: messages received per watched topic.
pub const TOPIC_MESSAGES_TOTAL: &str = Metric::TopicMessages.prometheus_family();
/// Counter{topic}: payload bytes received per watched topic.
pub const TOPIC_BYTES_TOTAL: &str = Metric::TopicBytes.prometheus_family();
/// Counter{topic}: messages that could not be decoded.
pub const TOPIC_DECODE_FAILURES_TOTAL: &str = Metric::TopicDecodeFailures.prometheus_family();
/// Counter{reason}: events the collector dropped instead of measuring.
pub const DROPPED_EVENTS_TOTAL: &str = Metric::DroppedEvents.prometheus_family();
/// Gauge: fraction of recent commands within the latency SLO (0..1).
pub const SLO_COMPLIANCE_RATIO: &str = Metric::SloCompliance.prometheus_family();
/// Gauge: commands started but not yet finished.
pub const COMMANDS_IN_FLIGHT: &str = Metric::CommandsInFlight.prometheus_family();
/// Gauge{topic}: recent message rate.
pub const TOPIC_RATE_HZ: &str = Metric::TopicRate.prometheus_family();
/// Gauge{topic}: time since the last message.
pub const TOPIC_AGE_SECONDS: &str = Metric::TopicAge.prometheus_family();
/// Gauge{topic}: audio samples per second per channel on an audio chunk topic.
pub const AUDIO_SAMPLE_RATE_HZ: &str = Metric::AudioSampleRate.prometheus_family();
/// Gauge: whole-system CPU, percent of all cores (0..100).
pub const CPU_USAGE_PERCENT: &str = Metric::CpuUsage.prometheus_family();
/// Gauge: system memory in use.
pub const MEMORY_USED_BYTES: &str = Metric::MemoryUsed.prometheus_family();
/// Gauge: system memory in total.
pub const MEMORY_TOTAL_BYTES: &str = Metric::MemoryTotal.prometheus_family();
/// Gauge{process}: CPU of a watched process, percent of one core.
pub const PROCESS_CPU_PERCENT: &str = Metric::ProcessCpu.prometheus_family();
/// Gauge{process}: resident set size of a watched process.
pub const PROCESS_RESIDENT_MEMORY_BYTES: &str = Metric::ProcessResidentMemory.prometheus_family();
/// Gauge{gpu}: percent of time a kernel was running.
pub const GPU_UTILIZATION_PERCENT: &str = Metric::GpuUtilization.prometheus_family();
/// Gauge{gpu}: device memory in use.
pub const GPU_MEMORY_USED_BYTES: &str = Metric::GpuMemoryUsed.prometheus_family();
/// Gauge{gpu}: device memory in total.
pub const GPU_MEMORY_TOTAL_BYTES: &str = Metric::GpuMemoryTotal.prometheus_family();
/// Gauge{gpu}: die temperature.
pub const GPU_TEMPERATURE_CELSIUS: &str = Metric::GpuTemperature.prometheus_family();
/// Gauge{gpu}: board power draw.
pub const GPU_POWER_WATTS: &str = Metric::GpuPower.prometheus_family();

/// [`DROPPED_EVENTS_TOTAL`] reason for a latency that was NaN, infinite or negative.
pub const REASON_INVALID_LATENCY: &str = "invalid_latency";

/// Upper bounds (seconds) of the latency histogram buckets, shared by stage and end-to-end
/// latency so the two can be compared bucket by bucket.
///
/// Hand-picked 1-2.5-5 steps: a VLA stage spans ~5 ms (a detector on GPU) to tens of
/// seconds (speech recognition of a long utterance, an LLM plan, an arm motion); 60 s is the
/// longest a command is plausibly allowed to take, beyond it only `+Inf` counts.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0,
];

/// Errors of the Prometheus endpoint.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listen address could not be bound (in use, not local, no permission).
    #[error("cannot listen for Prometheus scrapes on {addr}: {source}")]
    Bind {
        /// The configured address.
        addr: SocketAddr,
        /// Why the OS refused.
        source: std::io::Error,
    },
    /// The bound socket did not report its address.
    #[error("cannot read the address of the Prometheus listener bound to {addr}: {source}")]
    LocalAddr {
        /// The configured address.
        addr: SocketAddr,
        /// Why the OS refused.
        source: std::io::Error,
    },
    /// The registry could not be encoded as OpenMetrics text.
    #[error("cannot encode metrics as OpenMetrics text: {0}")]
    Encode(#[from] std::fmt::Error),
}

/// Result of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct StageLabels {
    stage: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct TopicLabels {
    topic: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ProcessLabels {
    process: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct GpuLabels {
    gpu: String,
}

type F64Gauge = Gauge<f64, std::sync::atomic::AtomicU64>;

/// The label set of a series with only the registry's `robot` label.
type Unlabeled = [(&'static str, &'static str); 0];

/// An unlabeled gauge that has no series until first set: before the first sample the value
/// is undefined, and an absent series says so where a 0 would read as a real reading.
type LazyGauge = Family<Unlabeled, F64Gauge>;
type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// The registered metric handles; each is a shared handle into the registry.
#[derive(Debug, Clone)]
struct Metrics {
    stage_latency: HistogramFamily<StageLabels>,
    end_to_end: Histogram,
    commands: Family<OutcomeLabels, Counter>,
    topic_messages: Family<TopicLabels, Counter>,
    topic_bytes: Family<TopicLabels, Counter>,
    topic_decode_failures: Family<TopicLabels, Counter>,
    dropped_events: Family<ReasonLabels, Counter>,
    slo_compliance: LazyGauge,
    in_flight: Gauge,
    topic_rate: Family<TopicLabels, F64Gauge>,
    topic_age: Family<TopicLabels, F64Gauge>,
    audio_rate: Family<TopicLabels, F64Gauge>,
    cpu: LazyGauge,
    memory_used: LazyGauge,
    memory_total: LazyGauge,
    process_cpu: Family<ProcessLabels, F64Gauge>,
    process_rss: Family<ProcessLabels, F64Gauge>,
    gpu_utilization: Family<GpuLabels, F64Gauge>,
    gpu_memory_used: Family<GpuLabels, F64Gauge>,
    gpu_memory_total: Family<GpuLabels, F64Gauge>,
    gpu_temperature: Family<GpuLabels, F64Gauge>,
    gpu_power: Family<GpuLabels, F64Gauge>,
}

impl Metrics {
    fn register(registry: &mut Registry) -> Self {
        let m = Metrics {
            stage_latency: Family::new_with_constructor(latency_histogram),
            end_to_end: latency_histogram(),
            commands: Family::default(),
            topic_messages: Family::default(),
            topic_bytes: Family::default(),
            topic_decode_failures: Family::default(),
            dropped_events: Family::default(),
            slo_compliance: LazyGauge::default(),
            in_flight: Gauge::default(),
            topic_rate: Family::default(),
            topic_age: Family::default(),
            audio_rate: Family::default(),
            cpu: LazyGauge::default(),
            memory_used: LazyGauge::default(),
            memory_total: LazyGauge::default(),
            process_cpu: Family::default(),
            process_rss: Family::default(),
            gpu_utilization: Family::default(),
            gpu_memory_used: Family::default(),
            gpu_memory_total: Family::default(),
            gpu_temperature: Family::default(),
            gpu_power: Family::default(),
        };
        // Every outcome's series exists from the start, so `increase()` sees the first one.
        for outcome in Outcome::ALL {
            drop(m.commands.get_or_create(&outcome_labels(outcome)));
        }
        register(registry, Metric::StageLatency, m.stage_latency.clone());
        register(registry, Metric::EndToEndLatency, m.end_to_end.clone());
        register(registry, Metric::Commands, m.commands.clone());
        register(registry, Metric::TopicMessages, m.topic_messages.clone());
        register(registry, Metric::TopicBytes, m.topic_bytes.clone());
        register(
            registry,
            Metric::TopicDecodeFailures,
            m.topic_decode_failures.clone(),
        );
        register(registry, Metric::DroppedEvents, m.dropped_events.clone());
        register(registry, Metric::SloCompliance, m.slo_compliance.clone());
        register(registry, Metric::CommandsInFlight, m.in_flight.clone());
        register(registry, Metric::TopicRate, m.topic_rate.clone());
        register(registry, Metric::TopicAge, m.topic_age.clone());
        register(registry, Metric::AudioSampleRate, m.audio_rate.clone());
        register(registry, Metric::CpuUsage, m.cpu.clone());
        register(registry, Metric::MemoryUsed, m.memory_used.clone());
        register(registry, Metric::MemoryTotal, m.memory_total.clone());
        register(registry, Metric::ProcessCpu, m.process_cpu.clone());
        register(
            registry,
            Metric::ProcessResidentMemory,
            m.process_rss.clone(),
        );
        register(registry, Metric::GpuUtilization, m.gpu_utilization.clone());
        register(registry, Metric::GpuMemoryUsed, m.gpu_memory_used.clone());
        register(registry, Metric::GpuMemoryTotal, m.gpu_memory_total.clone());
        register(registry, Metric::GpuTemperature, m.gpu_temperature.clone());
        register(registry, Metric::GpuPower, m.gpu_power.clone());
        m
    }
}

/// Registers `handle` as `metric`'s family, named and described by the catalogue.
fn register(
    registry: &mut Registry,
    metric: Metric,
    handle: impl prometheus_client::registry::Metric,
) {
    let family = metric.prometheus_family();
    let name = family.strip_suffix("_total").unwrap_or(family);
    registry.register(name, metric.spec().help, handle);
}

/// Sets the series `labels` of `family` unless `value` is NaN or infinite, which alerting
/// would misread; a skipped value neither creates the series nor changes it.
fn set_finite<L>(family: &Family<L, F64Gauge>, labels: &L, value: f64)
where
    L: Clone + std::hash::Hash + Eq,
{
    if value.is_finite() {
        family.get_or_create(labels).set(value);
    }
}

/// The collector's metrics as a Prometheus registry; cheap to clone, all clones share state.
#[derive(Debug, Clone)]
pub struct Exporter {
    registry: Arc<Registry>,
    metrics: Metrics,
}

impl Exporter {
    /// Creates the registry; every series will carry `robot="<robot_id>"`.
    pub fn new(robot_id: impl Into<String>) -> Self {
        let robot = (Cow::Borrowed(ROBOT_LABEL), Cow::Owned(robot_id.into()));
        let mut registry = Registry::with_labels(std::iter::once(robot));
        let metrics = Metrics::register(&mut registry);
        Exporter {
            registry: Arc::new(registry),
            metrics,
        }
    }

    /// Records one stage latency; NaN, infinite or negative values are counted as dropped.
    pub fn observe_stage_latency(&self, stage: &str, secs: f64) {
        if self.valid_latency(secs) {
            let labels = StageLabels {
                stage: stage.to_owned(),
            };
            self.metrics
                .stage_latency
                .get_or_create(&labels)
                .observe(secs);
        }
    }

    /// Records one end-to-end latency; NaN, infinite or negative values are counted as dropped.
    pub fn observe_end_to_end(&self, secs: f64) {
        if self.valid_latency(secs) {
            self.metrics.end_to_end.observe(secs);
        }
    }

    /// Counts one finished command.
    pub fn inc_commands(&self, outcome: Outcome) {
        self.metrics
            .commands
            .get_or_create(&outcome_labels(outcome))
            .inc();
    }

    /// Records a finished command: its outcome, each reached stage's latency (named by
    /// `stage_names`, in the tracker's stage order) and its end-to-end latency.
    pub fn record_command<S: AsRef<str>>(&self, command: &CompletedCommand, stage_names: &[S]) {
        self.inc_commands(command.outcome);
        for (name, latency) in stage_names.iter().zip(&command.stage_latency) {
            if let Some(latency) = latency {
                self.observe_stage_latency(name.as_ref(), latency.as_secs_f64());
            }
        }
        if let Some(end_to_end) = command.end_to_end {
            self.observe_end_to_end(end_to_end.as_secs_f64());
        }
    }

    /// Adds received traffic of a watched topic.
    pub fn add_topic_traffic(&self, topic: &str, messages: u64, bytes: u64) {
        let labels = topic_labels(topic);
        self.metrics
            .topic_messages
            .get_or_create(&labels)
            .inc_by(messages);
        self.metrics
            .topic_bytes
            .get_or_create(&labels)
            .inc_by(bytes);
    }

    /// Adds messages of a watched topic that could not be decoded.
    pub fn add_decode_failures(&self, topic: &str, count: u64) {
        let labels = topic_labels(topic);
        self.metrics
            .topic_decode_failures
            .get_or_create(&labels)
            .inc_by(count);
    }

    /// Adds events dropped for `reason` (a short snake_case word).
    pub fn add_dropped(&self, reason: &str, count: u64) {
        let labels = ReasonLabels {
            reason: reason.to_owned(),
        };
        self.metrics
            .dropped_events
            .get_or_create(&labels)
            .inc_by(count);
    }

    /// Sets a topic's rate and age; `None` (undefined, e.g. no message yet) removes the
    /// series so Prometheus sees it as absent rather than as a misleading 0.
    pub fn set_topic_health(&self, topic: &str, rate_hz: Option<f64>, age_secs: Option<f64>) {
        let labels = topic_labels(topic);
        for (family, value) in [
            (&self.metrics.topic_rate, rate_hz),
            (&self.metrics.topic_age, age_secs),
        ] {
            match value {
                Some(value) => set_finite(family, &labels, value),
                None => {
                    family.remove(&labels);
                }
            }
        }
    }

    /// Sets an audio topic's sample rate; `None` removes the series.
    pub fn set_audio_rate(&self, topic: &str, samples_per_second: Option<f64>) {
        let labels = topic_labels(topic);
        match samples_per_second {
            Some(value) => set_finite(&self.metrics.audio_rate, &labels, value),
            None => {
                self.metrics.audio_rate.remove(&labels);
            }
        }
    }

    /// Mirrors a resource sample; values the sampler could not read (NaN) are skipped.
    pub fn set_resources(&self, usage: &ResourceUsage) {
        let m = &self.metrics;
        set_finite(&m.cpu, &[], usage.cpu_percent);
        set_finite(&m.memory_used, &[], usage.memory_used_bytes as f64);
        set_finite(&m.memory_total, &[], usage.memory_total_bytes as f64);
        for process in &usage.processes {
            let labels = ProcessLabels {
                process: process.name.clone(),
            };
            set_finite(&m.process_cpu, &labels, process.cpu_percent);
            set_finite(&m.process_rss, &labels, process.rss_bytes as f64);
        }
        for gpu in &usage.gpus {
            let labels = GpuLabels {
                gpu: gpu.index.to_string(),
            };
            let pairs = [
                (&m.gpu_utilization, gpu.utilization_percent),
                (&m.gpu_memory_used, gpu.memory_used_bytes as f64),
                (&m.gpu_memory_total, gpu.memory_total_bytes as f64),
                (&m.gpu_temperature, gpu.temperature_celsius),
                (&m.gpu_power, gpu.power_watts),
            ];
            for (family, value) in pairs {
                set_finite(family, &labels, value);
            }
        }
    }

    /// Sets the SLO compliance ratio; a non-finite value is skipped.
    pub fn set_slo(&self, ratio: f64) {
        set_finite(&self.metrics.slo_compliance, &[], ratio);
    }

    /// Sets the number of commands in flight.
    pub fn set_in_flight(&self, commands: usize) {
        self.metrics
            .in_flight
            .set(i64::try_from(commands).unwrap_or(i64::MAX));
    }

    /// The registry as OpenMetrics text, exactly what `GET /metrics` answers.
    pub fn encode(&self) -> Result<String> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }

    /// Serves `GET /metrics` on `addr` (port 0 picks a free port) until the returned handle
    /// is dropped or shut down.
    pub async fn serve(&self, addr: SocketAddr) -> Result<ServerHandle> {
        server::serve(self.clone(), addr).await
    }

    fn valid_latency(&self, secs: f64) -> bool {
        let valid = secs.is_finite() && secs >= 0.0;
        if !valid {
            self.add_dropped(REASON_INVALID_LATENCY, 1);
        }
        valid
    }
}

fn outcome_labels(outcome: Outcome) -> OutcomeLabels {
    OutcomeLabels {
        outcome: outcome.as_str().to_owned(),
    }
}

fn topic_labels(topic: &str) -> TopicLabels {
    TopicLabels {
        topic: topic.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PrometheusConfig;
    use crate::msg::{GpuUsage, ProcessUsage};
    use std::time::Duration;

    /// The value of the sample `name{labels}` in OpenMetrics `text`, labels in any order;
    /// the sample must carry exactly `labels` plus `robot`.
    fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut wanted: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
        wanted.push("robot=\"r1\"".to_owned());
        wanted.sort();
        text.lines().find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (series_name, rest) = series.split_once('{')?;
            let mut found: Vec<String> = rest
                .strip_suffix('}')?
                .split(',')
                .map(str::to_owned)
                .collect();
            found.sort();
            (series_name == name && found == wanted).then(|| value.parse().ok())?
        })
    }

    fn encoded(exporter: &Exporter) -> String {
        exporter.encode().expect("a String sink cannot fail")
    }

    fn plan_latencies() -> Exporter {
        let exporter = Exporter::new("r1");
        for secs in [0.1, 0.2, 0.3] {
            exporter.observe_stage_latency("plan", secs);
        }
        exporter
    }

    fn resource_sample() -> ResourceUsage {
        ResourceUsage {
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
            gpus: vec![GpuUsage {
                index: 1,
                name: "H200".into(),
                utilization_percent: 80.0,
                memory_used_bytes: 2 << 30,
                memory_total_bytes: 8 << 30,
                temperature_celsius: f64::NAN,
                power_watts: 300.0,
                ..GpuUsage::default()
            }],
            ..ResourceUsage::default()
        }
    }

    #[test]
    fn stage_histogram_has_cumulative_buckets_count_and_sum_per_stage() {
        let text = encoded(&plan_latencies());
        let name = "vla_perf_stage_latency_seconds";
        let bucket = |le| {
            sample(
                &text,
                &format!("{name}_bucket"),
                &[("stage", "plan"), ("le", le)],
            )
        };
        assert_eq!(bucket("0.05"), Some(0.0));
        assert_eq!(bucket("0.1"), Some(1.0));
        assert_eq!(bucket("0.25"), Some(2.0));
        assert_eq!(bucket("0.5"), Some(3.0));
        assert_eq!(bucket("+Inf"), Some(3.0));
        let count = sample(&text, &format!("{name}_count"), &[("stage", "plan")]);
        assert_eq!(count, Some(3.0));
        let sum = sample(&text, &format!("{name}_sum"), &[("stage", "plan")]).unwrap();
        assert!((sum - 0.6).abs() < 1e-9, "sum {sum}");
        assert!(text.contains("# TYPE vla_perf_stage_latency_seconds histogram\n"));
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn every_bucket_bound_is_exposed_in_increasing_order() {
        assert!(LATENCY_BUCKETS.windows(2).all(|pair| pair[0] < pair[1]));
        let exporter = Exporter::new("r1");
        exporter.observe_end_to_end(61.0);
        let text = encoded(&exporter);
        let name = "vla_perf_end_to_end_latency_seconds_bucket";
        for bound in LATENCY_BUCKETS {
            let le = format!("{bound:?}");
            assert_eq!(sample(&text, name, &[("le", &le)]), Some(0.0), "le={le}");
        }
        assert_eq!(sample(&text, name, &[("le", "+Inf")]), Some(1.0));
    }

    #[test]
    fn every_family_is_exposed_and_every_sample_carries_the_robot_label() {
        let exporter = plan_latencies();
        exporter.observe_end_to_end(1.5);
        exporter.inc_commands(Outcome::Succeeded);
        exporter.add_topic_traffic("/camera", 3, 300);
        exporter.add_decode_failures("/camera", 1);
        exporter.add_dropped("queue_full", 2);
        exporter.set_slo(0.75);
        exporter.set_in_flight(2);
        exporter.set_topic_health("/camera", Some(30.0), Some(0.02));
        exporter.set_resources(&resource_sample());
        let text = encoded(&exporter);

        let mut expected = vec![
            (STAGE_LATENCY_SECONDS, "_count"),
            (END_TO_END_LATENCY_SECONDS, "_count"),
        ];
        expected.extend(
            [
                COMMANDS_TOTAL,
                TOPIC_MESSAGES_TOTAL,
                TOPIC_BYTES_TOTAL,
                TOPIC_DECODE_FAILURES_TOTAL,
                DROPPED_EVENTS_TOTAL,
                SLO_COMPLIANCE_RATIO,
                COMMANDS_IN_FLIGHT,
                TOPIC_RATE_HZ,
                TOPIC_AGE_SECONDS,
                CPU_USAGE_PERCENT,
                MEMORY_USED_BYTES,
                MEMORY_TOTAL_BYTES,
                PROCESS_CPU_PERCENT,
                PROCESS_RESIDENT_MEMORY_BYTES,
                GPU_UTILIZATION_PERCENT,
                GPU_MEMORY_USED_BYTES,
                GPU_MEMORY_TOTAL_BYTES,
                GPU_POWER_WATTS,
            ]
            .map(|name| (name, "")),
        );
        for (name, suffix) in expected {
            let series = format!("{name}{suffix}{{");
            assert!(text.contains(&series), "{series} missing in\n{text}");
        }
        for line in text.lines().filter(|line| !line.starts_with('#')) {
            assert!(line.contains("robot=\"r1\""), "no robot label: {line}");
        }
    }

    #[test]
    fn counters_and_gauges_hold_what_was_recorded() {
        let exporter = Exporter::new("r1");
        exporter.inc_commands(Outcome::Succeeded);
        exporter.inc_commands(Outcome::Succeeded);
        exporter.inc_commands(Outcome::Failed);
        exporter.add_topic_traffic("/camera", 3, 300);
        exporter.add_topic_traffic("/camera", 1, 100);
        exporter.add_decode_failures("/asr", 4);
        exporter.add_dropped("queue_full", 2);
        exporter.set_slo(0.75);
        exporter.set_in_flight(2);
        exporter.set_topic_health("/camera", Some(30.0), Some(0.02));
        let text = encoded(&exporter);

        let commands = |outcome| sample(&text, COMMANDS_TOTAL, &[("outcome", outcome)]);
        assert_eq!(commands("succeeded"), Some(2.0));
        assert_eq!(commands("failed"), Some(1.0));
        let camera = [("topic", "/camera")];
        assert_eq!(sample(&text, TOPIC_MESSAGES_TOTAL, &camera), Some(4.0));
        assert_eq!(sample(&text, TOPIC_BYTES_TOTAL, &camera), Some(400.0));
        let asr = [("topic", "/asr")];
        assert_eq!(sample(&text, TOPIC_DECODE_FAILURES_TOTAL, &asr), Some(4.0));
        let reason = [("reason", "queue_full")];
        assert_eq!(sample(&text, DROPPED_EVENTS_TOTAL, &reason), Some(2.0));
        assert_eq!(sample(&text, SLO_COMPLIANCE_RATIO, &[]), Some(0.75));
        assert_eq!(sample(&text, COMMANDS_IN_FLIGHT, &[]), Some(2.0));
        assert_eq!(sample(&text, TOPIC_RATE_HZ, &camera), Some(30.0));
        assert_eq!(sample(&text, TOPIC_AGE_SECONDS, &camera), Some(0.02));
    }

    #[test]
    fn every_outcome_counter_exists_at_zero_before_the_first_command() {
        let text = encoded(&Exporter::new("r1"));
        for outcome in Outcome::ALL {
            let labels = [("outcome", outcome.as_str())];
            assert_eq!(
                sample(&text, COMMANDS_TOTAL, &labels),
                Some(0.0),
                "{outcome:?}"
            );
        }
    }

    #[test]
    fn sampled_gauges_are_absent_until_first_set() {
        let text = encoded(&Exporter::new("r1"));
        for name in [SLO_COMPLIANCE_RATIO, CPU_USAGE_PERCENT, MEMORY_USED_BYTES] {
            assert!(
                !text.contains(&format!("{name}{{")),
                "{name} present in\n{text}"
            );
        }
    }

    #[test]
    fn non_finite_gauge_values_are_skipped_and_keep_the_previous_value() {
        let exporter = Exporter::new("r1");
        exporter.set_slo(0.9);
        exporter.set_slo(f64::NAN);
        exporter.set_slo(f64::INFINITY);
        exporter.set_topic_health("/camera", Some(5.0), Some(0.1));
        exporter.set_topic_health("/camera", Some(f64::NAN), Some(f64::NEG_INFINITY));
        exporter.set_topic_health("/lidar", Some(f64::NAN), None);
        let text = encoded(&exporter);
        assert_eq!(sample(&text, SLO_COMPLIANCE_RATIO, &[]), Some(0.9));
        assert_eq!(
            sample(&text, TOPIC_RATE_HZ, &[("topic", "/camera")]),
            Some(5.0)
        );
        assert_eq!(
            sample(&text, TOPIC_AGE_SECONDS, &[("topic", "/camera")]),
            Some(0.1)
        );
        assert_eq!(sample(&text, TOPIC_RATE_HZ, &[("topic", "/lidar")]), None);
        assert!(!text.contains("NaN") && !text.contains("Inf}"), "{text}");
    }

    #[test]
    fn invalid_latencies_are_counted_as_dropped_not_observed() {
        let exporter = Exporter::new("r1");
        exporter.observe_stage_latency("plan", f64::NAN);
        exporter.observe_stage_latency("plan", -0.5);
        exporter.observe_end_to_end(f64::INFINITY);
        let text = encoded(&exporter);
        let reason = [("reason", REASON_INVALID_LATENCY)];
        assert_eq!(sample(&text, DROPPED_EVENTS_TOTAL, &reason), Some(3.0));
        let count = format!("{STAGE_LATENCY_SECONDS}_count");
        assert_eq!(sample(&text, &count, &[("stage", "plan")]), None);
        let count = format!("{END_TO_END_LATENCY_SECONDS}_count");
        assert_eq!(sample(&text, &count, &[]), Some(0.0));
    }

    #[test]
    fn undefined_topic_health_removes_the_series() {
        let exporter = Exporter::new("r1");
        exporter.set_topic_health("/camera", Some(30.0), Some(0.5));
        exporter.set_topic_health("/camera", None, Some(1.5));
        let text = encoded(&exporter);
        let camera = [("topic", "/camera")];
        assert_eq!(sample(&text, TOPIC_RATE_HZ, &camera), None);
        assert_eq!(sample(&text, TOPIC_AGE_SECONDS, &camera), Some(1.5));
    }

    #[test]
    fn audio_sample_rate_is_a_gauge_per_topic_removed_when_undefined() {
        let exporter = Exporter::new("r1");
        exporter.set_audio_rate("/mic", Some(16_000.0));
        exporter.set_audio_rate("/mic2", Some(8_000.0));
        exporter.set_audio_rate("/mic2", None);
        let text = encoded(&exporter);
        assert_eq!(
            sample(&text, AUDIO_SAMPLE_RATE_HZ, &[("topic", "/mic")]),
            Some(16_000.0)
        );
        assert_eq!(
            sample(&text, AUDIO_SAMPLE_RATE_HZ, &[("topic", "/mic2")]),
            None
        );
    }

    #[test]
    fn resource_sample_sets_system_process_and_gpu_gauges_skipping_unreadable_values() {
        let exporter = Exporter::new("r1");
        exporter.set_resources(&resource_sample());
        let text = encoded(&exporter);
        assert_eq!(sample(&text, CPU_USAGE_PERCENT, &[]), Some(42.5));
        assert_eq!(
            sample(&text, MEMORY_USED_BYTES, &[]),
            Some((1u64 << 30) as f64)
        );
        assert_eq!(
            sample(&text, MEMORY_TOTAL_BYTES, &[]),
            Some((4u64 << 30) as f64)
        );
        let planner = [("process", "planner")];
        assert_eq!(sample(&text, PROCESS_CPU_PERCENT, &planner), Some(150.0));
        let rss = sample(&text, PROCESS_RESIDENT_MEMORY_BYTES, &planner);
        assert_eq!(rss, Some((1u64 << 20) as f64));
        let gpu = [("gpu", "1")];
        assert_eq!(sample(&text, GPU_UTILIZATION_PERCENT, &gpu), Some(80.0));
        let memory = sample(&text, GPU_MEMORY_USED_BYTES, &gpu);
        assert_eq!(memory, Some((2u64 << 30) as f64));
        let total = sample(&text, GPU_MEMORY_TOTAL_BYTES, &gpu);
        assert_eq!(total, Some((8u64 << 30) as f64));
        assert_eq!(sample(&text, GPU_POWER_WATTS, &gpu), Some(300.0));
        // NVML could not read the temperature (NaN): the series is never created.
        assert_eq!(sample(&text, GPU_TEMPERATURE_CELSIUS, &gpu), None);

        let mut unreadable = resource_sample();
        unreadable.cpu_percent = f64::NAN;
        exporter.set_resources(&unreadable);
        assert_eq!(
            sample(&encoded(&exporter), CPU_USAGE_PERCENT, &[]),
            Some(42.5)
        );
    }

    #[test]
    fn completed_command_records_outcome_reached_stages_and_end_to_end() {
        let exporter = Exporter::new("r1");
        let command = CompletedCommand {
            id: "cmd-1".into(),
            outcome: Outcome::Succeeded,
            started_at: Duration::ZERO,
            ended_at: Duration::from_millis(1300),
            failed_stage: None,
            stage_latency: vec![None, Some(Duration::from_millis(300)), None],
            end_to_end: Some(Duration::from_millis(1300)),
        };
        exporter.record_command(&command, &["voice", "plan", "act"]);
        let text = encoded(&exporter);
        let succeeded = [("outcome", "succeeded")];
        assert_eq!(sample(&text, COMMANDS_TOTAL, &succeeded), Some(1.0));
        let count = format!("{STAGE_LATENCY_SECONDS}_count");
        assert_eq!(sample(&text, &count, &[("stage", "plan")]), Some(1.0));
        assert_eq!(sample(&text, &count, &[("stage", "voice")]), None);
        assert_eq!(sample(&text, &count, &[("stage", "act")]), None);
        let sum = format!("{END_TO_END_LATENCY_SECONDS}_sum");
        assert_eq!(sample(&text, &sum, &[]), Some(1.3));
    }

    #[test]
    fn robot_id_with_quotes_is_escaped_in_the_label_value() {
        let exporter = Exporter::new("arm \"left\"\\1");
        exporter.set_slo(1.0);
        let text = encoded(&exporter);
        let expected = r#"vla_perf_slo_compliance_ratio{robot="arm \"left\"\\1"} 1.0"#;
        assert!(text.contains(expected), "{text}");
    }

    #[test]
    fn default_listen_address_is_loopback_port_9464_as_in_the_config() {
        assert!(DEFAULT_LISTEN.ip().is_loopback());
        assert_eq!(DEFAULT_LISTEN.port(), 9464);
        assert_eq!(PrometheusConfig::default().listen, DEFAULT_LISTEN);
    }
}
