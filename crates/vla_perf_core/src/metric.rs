//! The metric catalogue: every metric vla_perf publishes or accepts, in one table.
//!
//! Each row ([`Spec`]) gives a metric's name, unit, which way it gets worse, its tags, its
//! help text, the seed-style aliases it is also published under, where it is published
//! ([`Surface`]) and its Prometheus family. Producers name what they publish with a
//! [`Metric`]; alert rule validation and intake, the dashboard, the Prometheus endpoint,
//! the reports and `docs/metrics.md` ([`markdown`]) read the same rows. Adding a KPI is one
//! row here plus its producer; a test in the suite fails when something is published that
//! the catalogue lacks, or the catalogue lists something nothing publishes.

use std::fmt::Write as _;

use crate::trend::Direction;

/// Where a metric is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Surface {
    /// The collector's `MetricArray` on `<ns>/metrics`: latency, SLO, accuracy, counts.
    Metrics,
    /// The collector's `MetricArray` on `<ns>/topic_health`: per watched topic.
    TopicHealth,
    /// Named by the alert node from the collector's `ResourceUsage` on `<ns>/resources`.
    Resources,
    /// Derived by the alert node from another series (`commands{outcome}` shares).
    Derived,
    /// The benchmark node's `MetricArray` on the metrics topic, per scored suite.
    Benchmark,
    /// The Prometheus endpoint only.
    Prometheus,
}

impl Surface {
    /// Every surface, in the order `docs/metrics.md` lists them.
    pub const ALL: [Surface; 6] = [
        Surface::Metrics,
        Surface::TopicHealth,
        Surface::Resources,
        Surface::Derived,
        Surface::Benchmark,
        Surface::Prometheus,
    ];

    /// A heading for the surface.
    pub fn title(self) -> &'static str {
        match self {
            Surface::Metrics => "Collector: `<ns>/metrics` (`vla_perf/MetricArray`)",
            Surface::TopicHealth => "Collector: `<ns>/topic_health` (`vla_perf/MetricArray`)",
            Surface::Resources => {
                "Alert node, from the collector's `<ns>/resources` (`vla_perf/ResourceUsage`)"
            }
            Surface::Derived => "Alert node, derived from the collector's `commands{outcome}`",
            Surface::Benchmark => "Benchmark node: `<ns>/metrics` (`vla_perf/MetricArray`)",
            Surface::Prometheus => "Prometheus endpoint only (`GET /metrics`)",
        }
    }
}

/// Which way a metric gets worse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Worse {
    /// Higher is worse (latency, CPU, error rates).
    Higher,
    /// Lower is worse (success rates, throughput, topic rates).
    Lower,
    /// Neither: a count or a rate with no natural direction (`command_rate`); an alert
    /// rule takes the direction from its own thresholds.
    Neither,
}

impl Worse {
    /// The direction alert rules and trends use; `None` for [`Worse::Neither`].
    pub fn direction(self) -> Option<Direction> {
        match self {
            Worse::Higher => Some(Direction::HigherIsWorse),
            Worse::Lower => Some(Direction::LowerIsWorse),
            Worse::Neither => None,
        }
    }

    fn text(self) -> &'static str {
        match self {
            Worse::Higher => "higher",
            Worse::Lower => "lower",
            Worse::Neither => "neutral",
        }
    }
}

/// Another name the alert node also publishes a metric under (the seed-style names).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Alias {
    /// The alias name.
    pub name: &'static str,
    /// Factor from the metric's value to the alias's value.
    pub scale: f64,
    /// Unit of the alias's value.
    pub unit: &'static str,
    /// Which way the alias gets worse.
    pub worse: Worse,
}

/// Prometheus metric type of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PromKind {
    /// A gauge.
    Gauge,
    /// A counter (the family name ends in `_total`).
    Counter,
    /// A histogram.
    Histogram,
}

/// A metric's Prometheus family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Prom {
    /// The family name in PromQL, with its unit suffix (and `_total` for counters).
    pub family: &'static str,
    /// Its type.
    pub kind: PromKind,
    /// The labels of its series besides `robot` (and `le` of a histogram's buckets): the
    /// row's tags unless the family has fewer.
    pub labels: &'static [&'static str],
}

/// One row of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spec {
    /// The metric.
    pub metric: Metric,
    /// Its name on the wire and in alert rules.
    pub name: &'static str,
    /// Its unit (`s`, `Hz`, `1` for ratios and counts, ...).
    pub unit: &'static str,
    /// Which way it gets worse.
    pub worse: Worse,
    /// The tags (Prometheus labels) identifying its series, besides the robot.
    pub tags: &'static [&'static str],
    /// What it measures.
    pub help: &'static str,
    /// Where it is published.
    pub surface: Surface,
    /// Other names the alert node publishes it under.
    pub aliases: &'static [Alias],
    /// Its Prometheus family, if the endpoint exposes it.
    pub prometheus: Option<Prom>,
}

/// Every metric in the catalogue. The variants are in the order of [`CATALOGUE`].
#[allow(missing_docs)] // each variant's documentation is its row's help text
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    StageLatency,
    EndToEndLatency,
    SloCompliance,
    CommandRate,
    CommandsInFlight,
    Commands,
    CorrelationAnomalies,
    Confidence,
    StageSuccessRate,
    UnderstandingRate,
    TaskSuccessRate,
    ActionSuccessRate,
    TopicRate,
    TopicBandwidth,
    TopicJitter,
    TopicMaxGap,
    TopicAge,
    TopicStampRate,
    ActionRate,
    AudioSampleRate,
    TopicMessages,
    CpuUsage,
    MemoryUsage,
    GpuUtilization,
    GpuMemoryUsage,
    GpuTemperature,
    TimeoutRate,
    ErrorRate,
    WordErrorRate,
    DetectionMap,
    NavigationSuccessRate,
    BenchmarkSuccessRate,
    BenchmarkUnderstandingRate,
    BenchmarkPassed,
    BenchmarkDegradation,
    TopicBytes,
    TopicDecodeFailures,
    DroppedEvents,
    MemoryUsed,
    MemoryTotal,
    ProcessCpu,
    ProcessResidentMemory,
    GpuMemoryUsed,
    GpuPower,
    GpuMemoryTotal,
}

const fn row(
    metric: Metric,
    surface: Surface,
    name: &'static str,
    unit: &'static str,
    worse: Worse,
    tags: &'static [&'static str],
    help: &'static str,
) -> Spec {
    Spec {
        metric,
        name,
        unit,
        worse,
        tags,
        help,
        surface,
        aliases: &[],
        prometheus: None,
    }
}

impl Spec {
    const fn prom(mut self, family: &'static str, kind: PromKind) -> Spec {
        self.prometheus = Some(Prom {
            family,
            kind,
            labels: self.tags,
        });
        self
    }

    /// The family's series carry only `labels` (the row's tags are published on ROS 2).
    const fn prom_labels(mut self, labels: &'static [&'static str]) -> Spec {
        if let Some(p) = self.prometheus.as_mut() {
            p.labels = labels;
        }
        self
    }

    const fn aka(mut self, aliases: &'static [Alias]) -> Spec {
        self.aliases = aliases;
        self
    }
}

use Metric as M;
use PromKind::{Counter, Gauge, Histogram};
use Surface as S;
use Worse::{Higher, Lower, Neither};

/// The catalogue, one row per [`Metric`] in declaration order.
#[rustfmt::skip] // a table: one row per metric reads best unwrapped
pub const CATALOGUE: &[Spec] = &[
    // The collector's metrics topic.
    row(M::StageLatency, S::Metrics, "stage_latency", "s", Higher, &["stage"],
        "Time from the previous reached stage to this stage")
        .prom("vla_perf_stage_latency_seconds", Histogram),
    row(M::EndToEndLatency, S::Metrics, "end_to_end_latency", "s", Higher, &[],
        "Time from command start to the last stage's done event, succeeded commands")
        .prom("vla_perf_end_to_end_latency_seconds", Histogram)
        .aka(&[Alias { name: "response_time", scale: 1.0, unit: "s", worse: Higher }]),
    row(M::SloCompliance, S::Metrics, "slo_compliance", "1", Lower, &["met"],
        "Fraction of recent commands within the latency SLO (tag met: whether the SLO holds)")
        .prom("vla_perf_slo_compliance_ratio", Gauge).prom_labels(&[]),
    row(M::CommandRate, S::Metrics, "command_rate", "Hz", Neither, &[],
        "Commands started per second, over the shortest window")
        .aka(&[Alias { name: "throughput", scale: 60.0, unit: "1/min", worse: Lower }]),
    row(M::CommandsInFlight, S::Metrics, "commands_in_flight", "1", Neither, &[],
        "Commands started but not yet finished")
        .prom("vla_perf_commands_in_flight", Gauge),
    row(M::Commands, S::Metrics, "commands", "1", Neither, &["outcome"],
        "Finished commands by outcome (succeeded, failed, timed_out)")
        .prom("vla_perf_commands_total", Counter),
    row(M::CorrelationAnomalies, S::Metrics, "correlation_anomalies", "1", Higher, &["reason"],
        "Stage events the correlator could not place, by reason (unmatched, duplicate, \
         out_of_order, evicted, clock_backwards, clock_step)"),
    row(M::Confidence, S::Metrics, "confidence", "1", Lower, &["stage"],
        "Confidence a stage's messages report (e.g. the speech recogniser's), per stage")
        .aka(&[Alias { name: "asr_confidence", scale: 1.0, unit: "1", worse: Lower }]),
    row(M::StageSuccessRate, S::Metrics, "stage_success_rate", "1", Lower, &["stage"],
        "Share of commands reaching a stage whose output there was a success"),
    row(M::UnderstandingRate, S::Metrics, "understanding_rate", "1", Lower, &[],
        "Command understanding: the planner stage's success rate"),
    row(M::TaskSuccessRate, S::Metrics, "task_success_rate", "1", Lower, &[],
        "Share of finished commands whose task succeeded")
        .aka(&[Alias { name: "success_rate", scale: 1.0, unit: "1", worse: Lower }]),
    row(M::ActionSuccessRate, S::Metrics, "action_success_rate", "1", Lower, &["topic"],
        "Share of action goals that succeeded, per action status topic"),
    // The collector's topic health topic.
    row(M::TopicRate, S::TopicHealth, "topic_rate", "Hz", Lower, &["topic"],
        "Message receive rate per watched topic")
        .prom("vla_perf_topic_rate_hz", Gauge),
    row(M::TopicBandwidth, S::TopicHealth, "topic_bandwidth", "B/s", Neither, &["topic"],
        "Payload bytes per second per watched topic"),
    row(M::TopicJitter, S::TopicHealth, "topic_jitter", "s", Higher, &["topic"],
        "Standard deviation of the gaps between messages per watched topic"),
    row(M::TopicMaxGap, S::TopicHealth, "topic_max_gap", "s", Higher, &["topic"],
        "Longest gap between two messages per watched topic"),
    row(M::TopicAge, S::TopicHealth, "topic_age", "s", Higher, &["topic"],
        "Time since the last message per watched topic")
        .prom("vla_perf_topic_age_seconds", Gauge),
    row(M::TopicStampRate, S::TopicHealth, "topic_stamp_rate", "Hz", Lower, &["topic"],
        "Message rate by the publisher's header stamps, per watched topic"),
    row(M::ActionRate, S::TopicHealth, "action_rate", "Hz", Neither, &["topic"],
        "New action goals per second per action status topic"),
    row(M::AudioSampleRate, S::TopicHealth, "audio_sample_rate", "Hz", Neither, &["topic"],
        "Audio samples per second per channel on an audio chunk topic")
        .prom("vla_perf_audio_sample_rate_hz", Gauge),
    row(M::TopicMessages, S::TopicHealth, "topic_messages", "1", Neither, &["topic"],
        "Messages received per watched topic")
        .prom("vla_perf_topic_messages_total", Counter),
    // Resources, as the alert node names them.
    row(M::CpuUsage, S::Resources, "cpu_usage", "%", Higher, &[],
        "Whole-system CPU usage, percent of all cores")
        .prom("vla_perf_cpu_usage_percent", Gauge),
    row(M::MemoryUsage, S::Resources, "memory_usage", "%", Higher, &[],
        "System memory in use, percent of the total"),
    row(M::GpuUtilization, S::Resources, "gpu_utilization", "%", Higher, &["gpu"],
        "Percent of time a GPU kernel was running (gpu: NVML index)")
        .prom("vla_perf_gpu_utilization_percent", Gauge),
    row(M::GpuMemoryUsage, S::Resources, "gpu_memory_usage", "1", Higher, &["gpu"],
        "GPU device memory in use, fraction of the total"),
    row(M::GpuTemperature, S::Resources, "gpu_temperature", "°C", Higher, &["gpu"],
        "GPU die temperature")
        .prom("vla_perf_gpu_temperature_celsius", Gauge),
    // Derived by the alert node.
    row(M::TimeoutRate, S::Derived, "timeout_rate", "1", Higher, &[],
        "Share of finished commands that timed out"),
    row(M::ErrorRate, S::Derived, "error_rate", "1", Higher, &[],
        "Share of finished commands that failed"),
    // The benchmark node.
    row(M::WordErrorRate, S::Benchmark, "word_error_rate", "1", Higher, &["suite"],
        "Word error rate of the transcripts against the scenario's reference texts"),
    row(M::DetectionMap, S::Benchmark, "detection_map", "1", Lower, &["suite"],
        "Detection mean average precision (COCO mAP@[.5:.95]) against the scenario's truth"),
    row(M::NavigationSuccessRate, S::Benchmark, "navigation_success_rate", "1", Lower,
        &["suite"], "Share of navigation goals that succeeded"),
    row(M::BenchmarkSuccessRate, S::Benchmark, "benchmark_success_rate", "1", Lower,
        &["suite"], "Share of a suite's commands that succeeded"),
    row(M::BenchmarkUnderstandingRate, S::Benchmark, "benchmark_understanding_rate", "1",
        Lower, &["suite"], "Share of a suite's commands planned as the scenario expects"),
    row(M::BenchmarkPassed, S::Benchmark, "benchmark_passed", "1", Lower, &["suite"],
        "1 when a suite met every pass threshold, else 0"),
    row(M::BenchmarkDegradation, S::Benchmark, "benchmark_degradation", "1", Higher,
        &["suite", "figure", "kind"],
        "1 per figure the continuous mode found degraded; one untagged 0 when none is"),
    // The Prometheus endpoint only.
    row(M::TopicBytes, S::Prometheus, "topic_bytes", "B", Neither, &["topic"],
        "Payload bytes received per watched topic")
        .prom("vla_perf_topic_bytes_total", Counter),
    row(M::TopicDecodeFailures, S::Prometheus, "topic_decode_failures", "1", Higher,
        &["topic"], "Messages per watched topic that could not be decoded")
        .prom("vla_perf_topic_decode_failures_total", Counter),
    row(M::DroppedEvents, S::Prometheus, "dropped_events", "1", Higher, &["reason"],
        "Events dropped instead of measured, by reason")
        .prom("vla_perf_dropped_events_total", Counter),
    row(M::MemoryUsed, S::Prometheus, "memory_used", "B", Higher, &[],
        "System memory in use")
        .prom("vla_perf_memory_used_bytes", Gauge),
    row(M::MemoryTotal, S::Prometheus, "memory_total", "B", Neither, &[],
        "System memory in total")
        .prom("vla_perf_memory_total_bytes", Gauge),
    row(M::ProcessCpu, S::Prometheus, "process_cpu", "%", Higher, &["process"],
        "CPU usage of a watched process, percent of one core")
        .prom("vla_perf_process_cpu_percent", Gauge),
    row(M::ProcessResidentMemory, S::Prometheus, "process_resident_memory", "B", Higher,
        &["process"], "Resident set size of a watched process")
        .prom("vla_perf_process_resident_memory_bytes", Gauge),
    row(M::GpuMemoryUsed, S::Prometheus, "gpu_memory_used", "B", Higher, &["gpu"],
        "GPU device memory in use")
        .prom("vla_perf_gpu_memory_used_bytes", Gauge),
    row(M::GpuPower, S::Prometheus, "gpu_power", "W", Higher, &["gpu"],
        "GPU board power draw")
        .prom("vla_perf_gpu_power_watts", Gauge),
    row(M::GpuMemoryTotal, S::Prometheus, "gpu_memory_total", "B", Neither, &["gpu"],
        "GPU device memory in total")
        .prom("vla_perf_gpu_memory_total_bytes", Gauge),
];

impl Metric {
    /// Every metric, in catalogue order.
    pub fn all() -> impl Iterator<Item = Metric> {
        CATALOGUE.iter().map(|s| s.metric)
    }

    /// The metric's row.
    pub const fn spec(self) -> &'static Spec {
        &CATALOGUE[self as usize]
    }

    /// Its name on the wire and in alert rules.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// Its unit.
    pub fn unit(self) -> &'static str {
        self.spec().unit
    }

    /// The metric named `name` (not an alias).
    pub fn parse(name: &str) -> Option<Metric> {
        CATALOGUE.iter().find(|s| s.name == name).map(|s| s.metric)
    }

    /// Its Prometheus family name (usable in constants).
    ///
    /// # Panics
    /// If the catalogue gives it none: a programming error, caught at compile time where
    /// it initialises a constant.
    pub const fn prometheus_family(self) -> &'static str {
        match self.spec().prometheus {
            Some(p) => p.family,
            None => panic!("a metric without a Prometheus family in the catalogue"),
        }
    }
}

/// What a name in an alert rule refers to: a metric, or one of its aliases.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Named {
    /// The metric.
    pub metric: Metric,
    /// The alias the name is, if it is one.
    pub alias: Option<&'static Alias>,
}

impl Named {
    /// Which way the named series gets worse.
    pub fn worse(&self) -> Worse {
        self.alias.map_or(self.metric.spec().worse, |a| a.worse)
    }

    /// The named series' unit.
    pub fn unit(&self) -> &'static str {
        self.alias.map_or(self.metric.unit(), |a| a.unit)
    }
}

/// The metric or alias an alert rule may name as `name`; metrics only the Prometheus
/// endpoint exposes are not published on ROS 2, so rules cannot name them.
pub fn lookup(name: &str) -> Option<Named> {
    CATALOGUE
        .iter()
        .filter(|s| s.surface != Surface::Prometheus)
        .find_map(|s| {
            if s.name == name {
                return Some(Named {
                    metric: s.metric,
                    alias: None,
                });
            }
            s.aliases.iter().find(|a| a.name == name).map(|a| Named {
                metric: s.metric,
                alias: Some(a),
            })
        })
}

/// Every name an alert rule may use (metrics and aliases), in catalogue order.
pub fn rule_names() -> impl Iterator<Item = &'static str> {
    CATALOGUE
        .iter()
        .filter(|s| s.surface != Surface::Prometheus)
        .flat_map(|s| std::iter::once(s.name).chain(s.aliases.iter().map(|a| a.name)))
}

/// The catalogue as Markdown: the text of `docs/metrics.md`.
pub fn markdown() -> String {
    let mut out = String::from(
        "# Metrics\n\n\
         Every metric vla_perf publishes or accepts. Generated from the catalogue \
         (`crates/vla_perf_core/src/metric.rs`) by `cargo test -p vla_perf_core`; \
         edit the catalogue, not this file.\n\n\
         Every series also carries the robot: `robot_id` on ROS 2 topics and in alert \
         rules, the `robot` label in Prometheus. *Worse* is the direction alert rules \
         assume; an alias is the same series under another name, times its scale.\n",
    );
    for surface in Surface::ALL {
        let _ = write!(
            out,
            "\n## {}\n\n| metric | unit | worse | tags | aliases | Prometheus | description |\n\
             |---|---|---|---|---|---|---|\n",
            surface.title()
        );
        for s in CATALOGUE.iter().filter(|s| s.surface == surface) {
            let tags = s.tags.join(", ");
            let aliases = s
                .aliases
                .iter()
                .map(|a| {
                    if a.scale == 1.0 {
                        format!("`{}`", a.name)
                    } else {
                        format!("`{}` (×{}, {})", a.name, a.scale, a.unit)
                    }
                })
                .collect::<Vec<_>>()
                .join(", ");
            let prom = s
                .prometheus
                .map(|p| format!("`{}` ({:?})", p.family, p.kind).to_lowercase())
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {tags} | {aliases} | {prom} | {} |",
                s.name,
                s.unit,
                s.worse.text(),
                s.help
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_row_sits_at_its_metrics_index() {
        for (i, s) in CATALOGUE.iter().enumerate() {
            assert_eq!(s.metric as usize, i, "{} is out of place", s.name);
            assert_eq!(s.metric.spec().name, s.name);
        }
    }

    #[test]
    fn names_aliases_and_families_are_unique_snake_case() {
        let mut names = BTreeSet::new();
        let mut families = BTreeSet::new();
        for s in CATALOGUE {
            for name in std::iter::once(s.name).chain(s.aliases.iter().map(|a| a.name)) {
                assert!(names.insert(name), "{name} twice");
                assert!(
                    name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                    "{name}"
                );
            }
            if let Some(p) = s.prometheus {
                assert!(families.insert(p.family), "{} twice", p.family);
                assert!(p.family.starts_with("vla_perf_"), "{}", p.family);
                assert_eq!(p.kind == PromKind::Counter, p.family.ends_with("_total"));
            }
            assert!(!s.help.is_empty() && !s.unit.is_empty(), "{}", s.name);
        }
    }

    #[test]
    fn lookup_finds_metrics_and_aliases_with_their_direction_but_not_prometheus_only() {
        let named = lookup("throughput").unwrap();
        assert_eq!(named.metric, Metric::CommandRate);
        assert_eq!(named.worse(), Worse::Lower);
        assert_eq!(lookup("command_rate").unwrap().worse(), Worse::Neither);
        assert_eq!(lookup("response_time").unwrap().unit(), "s");
        assert!(lookup("gpu_power").is_none());
        assert!(lookup("latency").is_none());
        assert!(rule_names().any(|n| n == "asr_confidence"));
        assert!(!rule_names().any(|n| n == "dropped_events"));
    }

    #[test]
    fn docs_metrics_md_is_the_catalogue() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/metrics.md");
        let generated = markdown();
        if std::env::var_os("VLA_PERF_BLESS").is_some() {
            std::fs::write(path, &generated).unwrap();
        }
        let on_disk = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            on_disk == generated,
            "docs/metrics.md is stale: run `VLA_PERF_BLESS=1 cargo test -p vla_perf_core \
             docs_metrics_md` and commit it"
        );
    }
}
