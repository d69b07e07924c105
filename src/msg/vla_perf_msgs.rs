//! Mirrors of the vla_perf package's own messages (`msg/*.msg`, the source of truth).

use super::builtin_interfaces::Time;
use super::diagnostic_msgs::KeyValue;
use super::ros_message;
use super::std_msgs::Header;
use crate::core::metric::Metric;
use crate::core::stats::{Summary, Window};
use crate::core::timeline::Outcome;

ros_message! {
    /// Optional instrumentation a VLA node may publish to mark a stage of a command.
    pub struct StageEvent = "vla_perf/msg/StageEvent";
    constants {
        /// The stage started working on the command.
        PHASE_START: u8 as "uint8" = 0;
        /// The stage finished its part of the command.
        PHASE_END: u8 as "uint8" = 1;
        /// The stage gave up on the command.
        PHASE_FAIL: u8 as "uint8" = 2;
    }
    fields {
        /// stamp: when the phase happened (the node's clock); frame_id unused.
        header: Header as "std_msgs/Header",
        /// Identifier of the command, unique while the command is open.
        command_id: String as "string",
        /// Stage name as configured in the collector (e.g. "transcript", "plan").
        stage: String as "string",
        /// One of the PHASE_* constants.
        phase: u8 as "uint8",
        /// The stage's own confidence in its output in `[0, 1]`; NaN when it has none.
        confidence: f64 as "float64",
        /// Free text (e.g. a rejection reason); empty when there is nothing to say.
        detail: String as "string",
    }
}

ros_message! {
    /// Latency of one stage of a command: the time from the previous reached stage.
    pub struct StageLatency = "vla_perf/msg/StageLatency";
    fields {
        /// Stage name as configured in the collector.
        stage: String as "string",
        /// Whether the command reached this stage.
        reached: bool as "bool",
        /// Seconds since the previous reached stage; NaN when not reached, for the first
        /// stage, and when the stamp lies before the previous stage's.
        latency: f64 as "float64",
    }
}

ros_message! {
    /// One finished command: its outcome, every stage latency and the end-to-end latency.
    pub struct CommandLatency = "vla_perf/msg/CommandLatency";
    constants {
        /// The last stage reported done.
        OUTCOME_SUCCEEDED: u8 as "uint8" = 0;
        /// A stage reported failure.
        OUTCOME_FAILED: u8 as "uint8" = 1;
        /// The command did not finish within the command timeout.
        OUTCOME_TIMED_OUT: u8 as "uint8" = 2;
        /// Evicted because too many commands were open, or flushed at shutdown.
        OUTCOME_ABANDONED: u8 as "uint8" = 3;
    }
    fields {
        /// stamp: when the command finished (or timed out / was abandoned).
        header: Header as "std_msgs/Header",
        /// The robot this command ran on (collector robot_id).
        robot_id: String as "string",
        /// The command's explicit id, or `cmd-<sequence>` when the stack carries none.
        command_id: String as "string",
        /// One of the OUTCOME_* constants.
        outcome: u8 as "uint8",
        /// Name of the stage that failed; empty unless outcome is OUTCOME_FAILED.
        failed_stage: String as "string",
        /// Time of the first stage's event.
        started: Time as "builtin_interfaces/Time",
        /// Time of the last stage's event (or of the timeout/abandonment).
        ended: Time as "builtin_interfaces/Time",
        /// Seconds from the first stage to the last; NaN unless OUTCOME_SUCCEEDED.
        end_to_end: f64 as "float64",
        /// Every configured stage, in pipeline order.
        stages: Vec<StageLatency> as "StageLatency[]",
    }
}

ros_message! {
    /// Summary statistics of one metric over one window; undefined statistics are NaN.
    pub struct MetricSummary = "vla_perf/msg/MetricSummary";
    fields {
        /// Metric name, e.g. stage_latency, end_to_end_latency, topic_rate.
        name: String as "string",
        /// Unit of the values: s, Hz, B, B/s, percent, 1 (ratio) ...
        unit: String as "string",
        /// Window length in seconds; 0 means cumulative since the collector started.
        window: f64 as "float64",
        /// Samples in the window.
        count: u64 as "uint64",
        /// Arithmetic mean.
        mean: f64 as "float64",
        /// Standard deviation.
        stddev: f64 as "float64",
        /// Smallest sample.
        min: f64 as "float64",
        /// Largest sample.
        max: f64 as "float64",
        /// Median.
        p50: f64 as "float64",
        /// 90th percentile.
        p90: f64 as "float64",
        /// 95th percentile.
        p95: f64 as "float64",
        /// 99th percentile.
        p99: f64 as "float64",
        /// 99.9th percentile.
        p999: f64 as "float64",
        /// Labels of the series: stage, topic, robot ...
        tags: Vec<KeyValue> as "diagnostic_msgs/KeyValue[]",
    }
}

ros_message! {
    /// A batch of metric summaries published together at the collector's cadence.
    pub struct MetricArray = "vla_perf/msg/MetricArray";
    fields {
        /// stamp: the time the summaries were computed for.
        header: Header as "std_msgs/Header",
        /// The robot these metrics describe (collector robot_id).
        robot_id: String as "string",
        /// The summaries.
        metrics: Vec<MetricSummary> as "MetricSummary[]",
    }
}

ros_message! {
    /// CPU and memory of one watched process (a VLA node).
    pub struct ProcessUsage = "vla_perf/msg/ProcessUsage";
    fields {
        /// Process name.
        name: String as "string",
        /// Process id.
        pid: u32 as "uint32",
        /// Percent of one core (can exceed 100 on several cores).
        cpu_percent: f64 as "float64",
        /// Resident set size in bytes.
        rss_bytes: u64 as "uint64",
    }
}

ros_message! {
    /// One GPU as reported by NVML; values NVML could not read are NaN.
    pub struct GpuUsage = "vla_perf/msg/GpuUsage";
    fields {
        /// NVML device index.
        index: u32 as "uint32",
        /// Device name.
        name: String as "string",
        /// Device UUID as NVML prints it.
        uuid: String as "string",
        /// Percent of time a kernel was running over the last sample period.
        utilization_percent: f64 as "float64",
        /// Device memory in use.
        memory_used_bytes: u64 as "uint64",
        /// Device memory in total.
        memory_total_bytes: u64 as "uint64",
        /// Die temperature.
        temperature_celsius: f64 as "float64",
        /// Board power draw.
        power_watts: f64 as "float64",
    }
}

ros_message! {
    /// System and process resource usage, sampled periodically; unreadable values are NaN.
    pub struct ResourceUsage = "vla_perf/msg/ResourceUsage";
    fields {
        /// stamp: when the sample was taken.
        header: Header as "std_msgs/Header",
        /// The robot sampled.
        robot_id: String as "string",
        /// Whole-system CPU, percent of all cores (0..100).
        cpu_percent: f64 as "float64",
        /// Per core, percent of that core (0..100).
        cpu_per_core_percent: Vec<f64> as "float64[]",
        /// System memory in use.
        memory_used_bytes: u64 as "uint64",
        /// System memory in total.
        memory_total_bytes: u64 as "uint64",
        /// Disk read rate.
        disk_read_bytes_per_second: f64 as "float64",
        /// Disk write rate.
        disk_write_bytes_per_second: f64 as "float64",
        /// Network receive rate.
        network_rx_bytes_per_second: f64 as "float64",
        /// Network transmit rate.
        network_tx_bytes_per_second: f64 as "float64",
        /// Temperature sensors: `temperature_labels[i]` reads `temperatures_celsius[i]`.
        temperature_labels: Vec<String> as "string[]",
        /// Readings of the sensors named in temperature_labels.
        temperatures_celsius: Vec<f64> as "float64[]",
        /// The configured processes that are running.
        processes: Vec<ProcessUsage> as "ProcessUsage[]",
        /// False when there is no GPU or no NVML library; gpu_status then says why.
        gpu_available: bool as "bool",
        /// Why the GPUs are missing, or empty.
        gpu_status: String as "string",
        /// One entry per GPU.
        gpus: Vec<GpuUsage> as "GpuUsage[]",
    }
}

ros_message! {
    /// An alert state change, published on every transition of a rule's alert.
    pub struct Alert = "vla_perf/msg/Alert";
    constants {
        /// Condition not met.
        STATE_INACTIVE: u8 as "uint8" = 0;
        /// Condition met, waiting out the rule's pending duration.
        STATE_PENDING: u8 as "uint8" = 1;
        /// Condition met long enough; notifications go out.
        STATE_FIRING: u8 as "uint8" = 2;
        /// Condition cleared after firing.
        STATE_RESOLVED: u8 as "uint8" = 3;
        /// No severity (inactive alerts).
        SEVERITY_NONE: u8 as "uint8" = 0;
        /// The warning threshold was crossed.
        SEVERITY_WARNING: u8 as "uint8" = 1;
        /// The critical threshold was crossed.
        SEVERITY_CRITICAL: u8 as "uint8" = 2;
    }
    fields {
        /// stamp: when the transition happened.
        header: Header as "std_msgs/Header",
        /// Stable per rule and label set.
        alert_id: String as "string",
        /// Name of the rule.
        rule: String as "string",
        /// The robot the alert is about.
        robot_id: String as "string",
        /// One of the STATE_* constants.
        state: u8 as "uint8",
        /// One of the SEVERITY_* constants.
        severity: u8 as "uint8",
        /// The metric that caused the transition.
        metric: String as "string",
        /// The aggregated value that caused the transition.
        value: f64 as "float64",
        /// The rule's warning threshold.
        warning_threshold: f64 as "float64",
        /// The rule's critical threshold.
        critical_threshold: f64 as "float64",
        /// The rule's message template, rendered.
        message: String as "string",
        /// When the alert entered its current state.
        active_since: Time as "builtin_interfaces/Time",
        /// Labels of the alert.
        labels: Vec<KeyValue> as "diagnostic_msgs/KeyValue[]",
    }
}

ros_message! {
    /// One scored figure of a benchmark run, with its pass/fail threshold.
    pub struct Kpi = "vla_perf/msg/Kpi";
    constants {
        /// Informative only, never fails.
        COMPARE_NONE: u8 as "uint8" = 0;
        /// Passes when value <= threshold.
        COMPARE_AT_MOST: u8 as "uint8" = 1;
        /// Passes when value >= threshold.
        COMPARE_AT_LEAST: u8 as "uint8" = 2;
    }
    fields {
        /// e.g. wer, understanding_rate, map_50, success_rate, throughput
        name: String as "string",
        /// Unit of the value.
        unit: String as "string",
        /// The figure.
        value: f64 as "float64",
        /// One of the COMPARE_* constants.
        compare: u8 as "uint8",
        /// The threshold the value is compared with.
        threshold: f64 as "float64",
        /// Whether the comparison passed (true for COMPARE_NONE).
        passed: bool as "bool",
    }
}

ros_message! {
    /// The result of one benchmark suite run against the live stack.
    pub struct BenchmarkResult = "vla_perf/msg/BenchmarkResult";
    fields {
        /// stamp: when the suite finished.
        header: Header as "std_msgs/Header",
        /// The robot benchmarked.
        robot_id: String as "string",
        /// Identifies the run (all suites of one run share it).
        run_id: String as "string",
        /// voice_processing, cognitive_planning, visual_perception, action_execution or
        /// end_to_end.
        suite: String as "string",
        /// Scenario name.
        scenario: String as "string",
        /// Commands sent to the stack.
        commands_sent: u32 as "uint32",
        /// Commands that succeeded.
        commands_succeeded: u32 as "uint32",
        /// Commands that failed.
        commands_failed: u32 as "uint32",
        /// Commands that timed out.
        commands_timed_out: u32 as "uint32",
        /// Seconds the suite ran.
        duration: f64 as "float64",
        /// Completed commands per second.
        throughput: f64 as "float64",
        /// Latency per stage and end to end.
        latencies: Vec<MetricSummary> as "MetricSummary[]",
        /// Scored figures (WER, mAP, success rates ...).
        kpis: Vec<Kpi> as "Kpi[]",
        /// True when every KPI with a threshold passed.
        passed: bool as "bool",
        /// Where the JSON/Markdown report was written.
        report_path: String as "string",
    }
}

/// The one mapping between the core's outcomes and `CommandLatency`'s codes.
impl CommandLatency {
    /// The message code of `outcome`.
    pub fn outcome_code(outcome: Outcome) -> u8 {
        match outcome {
            Outcome::Succeeded => Self::OUTCOME_SUCCEEDED,
            Outcome::Failed => Self::OUTCOME_FAILED,
            Outcome::TimedOut => Self::OUTCOME_TIMED_OUT,
            Outcome::Abandoned => Self::OUTCOME_ABANDONED,
        }
    }

    /// The outcome `code` stands for; `None` for a code this version does not know.
    pub fn outcome_of(code: u8) -> Option<Outcome> {
        Outcome::ALL
            .into_iter()
            .find(|&outcome| Self::outcome_code(outcome) == code)
    }

    /// The name of `code`'s outcome (`succeeded`, ...); `unknown` for a code this version
    /// does not know.
    pub fn outcome_name(code: u8) -> &'static str {
        Self::outcome_of(code).map_or("unknown", Outcome::as_str)
    }
}

/// The window of a summary as the message carries it: seconds, 0 for cumulative.
fn window_secs(window: Window) -> f64 {
    match window {
        Window::Cumulative => 0.0,
        Window::Sliding(w) => w.as_secs_f64(),
    }
}

/// Summaries of the core's statistics as messages.
impl MetricSummary {
    /// The message of `s` (every statistic NaN, count 0, when there is none).
    pub fn from_summary(
        name: &str,
        unit: &str,
        window: Window,
        s: Option<Summary>,
        tags: Vec<KeyValue>,
    ) -> Self {
        let s = s.unwrap_or(Summary {
            count: 0,
            mean: f64::NAN,
            stddev: f64::NAN,
            min: f64::NAN,
            max: f64::NAN,
            p50: f64::NAN,
            p90: f64::NAN,
            p95: f64::NAN,
            p99: f64::NAN,
            p999: f64::NAN,
        });
        Self {
            name: name.into(),
            unit: unit.into(),
            window: window_secs(window),
            count: s.count,
            mean: s.mean,
            stddev: s.stddev,
            min: s.min,
            max: s.max,
            p50: s.p50,
            p90: s.p90,
            p95: s.p95,
            p99: s.p99,
            p999: s.p999,
            tags,
        }
    }

    /// A single value as a summary: count and every statistic equal to the value.
    pub fn scalar(
        name: &str,
        unit: &str,
        window: Window,
        v: Option<(u64, f64)>,
        tags: Vec<KeyValue>,
    ) -> Self {
        let (count, value) = v.unwrap_or((0, f64::NAN));
        let s = Summary {
            count,
            mean: value,
            stddev: if count > 0 { 0.0 } else { f64::NAN },
            min: value,
            max: value,
            p50: value,
            p90: value,
            p95: value,
            p99: value,
            p999: value,
        };
        Self::from_summary(name, unit, window, Some(s), tags)
    }

    /// [`MetricSummary::from_summary`] of a catalogue metric: its name and unit.
    pub fn of(metric: Metric, window: Window, s: Option<Summary>, tags: Vec<KeyValue>) -> Self {
        Self::from_summary(metric.name(), metric.unit(), window, s, tags)
    }

    /// [`MetricSummary::scalar`] of a catalogue metric: its name and unit.
    pub fn scalar_of(
        metric: Metric,
        window: Window,
        v: Option<(u64, f64)>,
        tags: Vec<KeyValue>,
    ) -> Self {
        Self::scalar(metric.name(), metric.unit(), window, v, tags)
    }
}

#[cfg(test)]
mod outcome_tests {
    use super::*;

    #[test]
    fn every_outcome_round_trips_through_its_message_code() {
        for outcome in Outcome::ALL {
            let code = CommandLatency::outcome_code(outcome);
            assert_eq!(CommandLatency::outcome_of(code), Some(outcome));
        }
        assert_eq!(CommandLatency::outcome_of(200), None);
    }
}
