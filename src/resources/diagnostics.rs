//! One diagnostic status per resource of a sample, for rqt_robot_monitor and Foxglove.
//!
//! Levels: WARN when a resource is nearly exhausted (CPU or memory at or above
//! [`BUSY_PERCENT`], a GPU at or above [`GPU_HOT_CELSIUS`] or its memory at or above
//! [`BUSY_PERCENT`]), WARN for a watched process that is not running, STALE for GPU
//! metrics that are unavailable (no GPU or no NVML: reported, not an error), else OK.

use crate::msg::diagnostic_msgs::{DiagnosticStatus, KeyValue};
use crate::msg::{GpuUsage, ResourceUsage};

/// Percent of CPU or memory from which a resource is reported as nearly exhausted.
pub const BUSY_PERCENT: f64 = 90.0;
/// GPU temperature from which it is reported as hot.
pub const GPU_HOT_CELSIUS: f64 = 85.0;

fn kv(key: &str, value: String) -> KeyValue {
    KeyValue {
        key: key.into(),
        value,
    }
}

fn status(name: &str, level: u8, message: String, values: Vec<KeyValue>) -> DiagnosticStatus {
    DiagnosticStatus {
        level,
        name: format!("vla_perf: resource {name}"),
        message,
        hardware_id: String::new(),
        values,
    }
}

fn percent(part: u64, total: u64) -> Option<f64> {
    (total > 0).then(|| part as f64 / total as f64 * 100.0)
}

/// The statuses of `usage`; `watched` are the configured process names.
pub fn resource_statuses(usage: &ResourceUsage, watched: &[String]) -> Vec<DiagnosticStatus> {
    let mut out = vec![
        cpu_status(usage),
        memory_status(usage),
        throughput_status(usage),
    ];
    out.extend(watched.iter().map(|name| process_status(usage, name)));
    if !usage.gpu_available {
        out.push(status(
            "gpu",
            DiagnosticStatus::STALE,
            format!("GPU metrics unavailable: {}", usage.gpu_status),
            Vec::new(),
        ));
    }
    out.extend(usage.gpus.iter().map(gpu_status));
    out
}

/// Total CPU usage, with the busiest core.
fn cpu_status(usage: &ResourceUsage) -> DiagnosticStatus {
    let cpu = usage.cpu_percent;
    let (level, message) = match cpu {
        c if !c.is_finite() => (DiagnosticStatus::STALE, "CPU usage unreadable".to_owned()),
        c if c >= BUSY_PERCENT => (DiagnosticStatus::WARN, format!("CPU at {c:.0}%")),
        c => (DiagnosticStatus::OK, format!("CPU at {c:.0}%")),
    };
    let busiest = usage
        .cpu_per_core_percent
        .iter()
        .copied()
        .filter(|c| c.is_finite())
        .fold(f64::NAN, f64::max);
    status(
        "cpu",
        level,
        message,
        vec![
            kv("percent", format!("{cpu:.1}")),
            kv("busiest_core_percent", format!("{busiest:.1}")),
        ],
    )
}

/// Memory used of the total.
fn memory_status(usage: &ResourceUsage) -> DiagnosticStatus {
    let memory = percent(usage.memory_used_bytes, usage.memory_total_bytes);
    let (level, message) = match memory {
        None => (DiagnosticStatus::STALE, "memory unreadable".to_owned()),
        Some(m) if m >= BUSY_PERCENT => (DiagnosticStatus::WARN, format!("memory {m:.0}% used")),
        Some(m) => (DiagnosticStatus::OK, format!("memory {m:.0}% used")),
    };
    status(
        "memory",
        level,
        message,
        vec![
            kv("used_bytes", usage.memory_used_bytes.to_string()),
            kv("total_bytes", usage.memory_total_bytes.to_string()),
        ],
    )
}

/// Disk and network throughput (always OK: there is no limit to compare with).
fn throughput_status(usage: &ResourceUsage) -> DiagnosticStatus {
    status(
        "disk and network",
        DiagnosticStatus::OK,
        "bytes per second".to_owned(),
        vec![
            kv(
                "disk_read_bytes_per_second",
                format!("{:.0}", usage.disk_read_bytes_per_second),
            ),
            kv(
                "disk_write_bytes_per_second",
                format!("{:.0}", usage.disk_write_bytes_per_second),
            ),
            kv(
                "network_rx_bytes_per_second",
                format!("{:.0}", usage.network_rx_bytes_per_second),
            ),
            kv(
                "network_tx_bytes_per_second",
                format!("{:.0}", usage.network_tx_bytes_per_second),
            ),
        ],
    )
}

/// The processes named `name`: how many run, their CPU and resident memory together.
fn process_status(usage: &ResourceUsage, name: &str) -> DiagnosticStatus {
    let mine: Vec<_> = usage.processes.iter().filter(|p| p.name == name).collect();
    let (level, message) = if mine.is_empty() {
        (DiagnosticStatus::WARN, "not running".to_owned())
    } else {
        (DiagnosticStatus::OK, format!("{} running", mine.len()))
    };
    let cpu: f64 = mine
        .iter()
        .map(|p| p.cpu_percent)
        .filter(|c| c.is_finite())
        .sum();
    let rss: u64 = mine.iter().map(|p| p.rss_bytes).sum();
    status(
        &format!("process {name}"),
        level,
        message,
        vec![
            kv("cpu_percent", format!("{cpu:.1}")),
            kv("rss_bytes", rss.to_string()),
        ],
    )
}

/// One GPU: WARN when hot or its memory nearly full, else its utilisation.
fn gpu_status(gpu: &GpuUsage) -> DiagnosticStatus {
    let memory = percent(gpu.memory_used_bytes, gpu.memory_total_bytes);
    let mut problems = Vec::new();
    if gpu.temperature_celsius >= GPU_HOT_CELSIUS {
        problems.push(format!("{:.0} °C", gpu.temperature_celsius));
    }
    if let Some(m) = memory.filter(|m| *m >= BUSY_PERCENT) {
        problems.push(format!("memory {m:.0}% used"));
    }
    let (level, message) = match problems.is_empty() {
        true => (
            DiagnosticStatus::OK,
            format!("{:.0}% busy", gpu.utilization_percent),
        ),
        false => (DiagnosticStatus::WARN, problems.join(", ")),
    };
    status(
        &format!("gpu {} ({})", gpu.index, gpu.name),
        level,
        message,
        vec![
            kv(
                "utilization_percent",
                format!("{:.1}", gpu.utilization_percent),
            ),
            kv("memory_used_bytes", gpu.memory_used_bytes.to_string()),
            kv("memory_total_bytes", gpu.memory_total_bytes.to_string()),
            kv(
                "temperature_celsius",
                format!("{:.1}", gpu.temperature_celsius),
            ),
            kv("power_watts", format!("{:.1}", gpu.power_watts)),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::{GpuUsage, ProcessUsage};

    fn usage() -> ResourceUsage {
        ResourceUsage {
            cpu_percent: 35.0,
            cpu_per_core_percent: vec![20.0, 50.0],
            memory_used_bytes: 4 << 30,
            memory_total_bytes: 16 << 30,
            processes: vec![ProcessUsage {
                name: "planner".into(),
                pid: 42,
                cpu_percent: 80.0,
                rss_bytes: 1 << 30,
            }],
            gpu_available: false,
            gpu_status: "NVML library not found".into(),
            ..ResourceUsage::default()
        }
    }

    fn level_of(statuses: &[DiagnosticStatus], name: &str) -> Option<u8> {
        statuses
            .iter()
            .find(|s| s.name == format!("vla_perf: resource {name}"))
            .map(|s| s.level)
    }

    #[test]
    fn healthy_resources_are_ok_and_a_missing_gpu_is_stale_not_an_error() {
        let s = resource_statuses(&usage(), &["planner".into(), "asr".into()]);
        assert_eq!(level_of(&s, "cpu"), Some(DiagnosticStatus::OK));
        assert_eq!(level_of(&s, "memory"), Some(DiagnosticStatus::OK));
        assert_eq!(level_of(&s, "process planner"), Some(DiagnosticStatus::OK));
        assert_eq!(level_of(&s, "process asr"), Some(DiagnosticStatus::WARN));
        assert_eq!(level_of(&s, "gpu"), Some(DiagnosticStatus::STALE));
        let gpu = s.iter().find(|s| s.name.ends_with("resource gpu")).unwrap();
        assert!(gpu.message.contains("NVML library not found"));
    }

    #[test]
    fn nearly_exhausted_resources_warn() {
        let mut u = usage();
        u.cpu_percent = 95.0;
        u.memory_used_bytes = 15 << 30;
        u.gpu_available = true;
        u.gpus = vec![GpuUsage {
            index: 0,
            name: "H200".into(),
            memory_used_bytes: 10,
            memory_total_bytes: 100,
            temperature_celsius: 91.0,
            ..GpuUsage::default()
        }];
        let s = resource_statuses(&u, &[]);
        assert_eq!(level_of(&s, "cpu"), Some(DiagnosticStatus::WARN));
        assert_eq!(level_of(&s, "memory"), Some(DiagnosticStatus::WARN));
        assert_eq!(level_of(&s, "gpu 0 (H200)"), Some(DiagnosticStatus::WARN));
        assert_eq!(level_of(&s, "gpu"), None);
    }
}
