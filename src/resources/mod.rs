//! Resource sampler: system and per-process CPU and memory, disk and network rates and
//! temperatures through `sysinfo`, GPUs through NVML (`nvml-wrapper`).
//!
//! The sampler is an adapter: [`ResourceSampler::sample`] reads the machine and returns a
//! [`ResourceSample`]; it owns no clock and no timer, the caller passes `now` (a monotonic
//! time) and decides the period. A failed read never fails the sample: the figure is `None`
//! (NaN in the message), the failure is counted in [`ResourceSampler::errors`] and logged on
//! its first occurrence only. A missing NVML is not a failure: the sample reports
//! [`GpuStatus::Unavailable`] with the reason.
//!
//! What each figure covers:
//! - CPU percentages (system, per core, per process) cover the time since the previous
//!   sample, and for the first sample the time since the sampler was built. `sysinfo`
//!   refreshes CPU times at most every [`sysinfo::MINIMUM_CPU_UPDATE_INTERVAL`] (200 ms on
//!   Linux); sampling faster repeats the previous CPU figures.
//! - Disk and network rates are bytes per second over the time between this sample's `now`
//!   and the previous one's, so they are `None` on the first sample (and whenever `now` did
//!   not advance).
//! - Disk rates sum the block devices behind mounted filesystems (`sysinfo::Disks`, which
//!   reads `/proc/diskstats`), each device once however often it is mounted. Devices with no
//!   mounted filesystem are not seen, and a device newly mounted counts from the sample
//!   after it appeared. Per-process I/O counters were not used: `/proc/<pid>/io` of other
//!   users' processes is unreadable without privileges and exited processes drop out.
//! - Network rates sum every interface except loopback (`lo`), so traffic a bridge forwards
//!   between a veth and a physical interface counts on both.

mod diagnostics;
mod gpu;

pub use diagnostics::{resource_statuses, BUSY_PERCENT, GPU_HOT_CELSIUS};

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::time::Duration;

use nvml_wrapper::error::NvmlError;
use nvml_wrapper::Nvml;
use sysinfo::{
    Components, DiskRefreshKind, Disks, MemoryRefreshKind, Networks, Process, ProcessRefreshKind,
    ProcessesToUpdate, System, UpdateKind,
};

use crate::msg::builtin_interfaces::Time;
use crate::msg::std_msgs::Header;
use crate::msg::{GpuUsage, ProcessUsage, ResourceUsage};
use gpu::{GpuSource, GPU_DISABLED};

/// Errors of the resource sampler.
#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    /// A watched process name is empty and would match no process.
    #[error("resources.processes[{index}] is empty; name the process to watch")]
    EmptyProcessName {
        /// Position of the name in [`ResourceOptions::processes`].
        index: usize,
    },
    /// NVML could not read one field of a GPU.
    #[error("NVML could not read {field}{}: {source}", gpu_label(.index))]
    Gpu {
        /// The field kind, also the key of the error counter (`gpu_power`, ...).
        field: &'static str,
        /// The NVML device index, when the failure concerns one device.
        index: Option<u32>,
        /// What NVML said.
        source: NvmlError,
    },
    /// A system sensor could not be read.
    #[error("could not read {sensor}: {reason}")]
    Sensor {
        /// The sensor kind, also the key of the error counter (`cpu`, `temperature`, ...).
        sensor: &'static str,
        /// What went wrong.
        reason: String,
    },
}

impl ResourceError {
    /// The key this error is counted under in [`ResourceSampler::errors`].
    pub fn kind(&self) -> &'static str {
        match self {
            Self::EmptyProcessName { .. } => "options",
            Self::Gpu { field, .. } => field,
            Self::Sensor { sensor, .. } => sensor,
        }
    }
}

fn gpu_label(index: &Option<u32>) -> String {
    index.map(|i| format!(" of GPU {i}")).unwrap_or_default()
}

/// Result of this module.
pub type Result<T, E = ResourceError> = std::result::Result<T, E>;

/// What to sample besides the system-wide figures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceOptions {
    /// Processes to report (the VLA nodes), matched by process name or by the file name of
    /// their executable. Linux keeps only the first 15 bytes of a process name, so a longer
    /// name here also matches a process whose name is its first 15 bytes (a Python node
    /// started through its shebang has the script's name, truncated).
    pub processes: Vec<String>,
    /// Whether to read GPUs through NVML.
    pub gpu: bool,
}

/// One temperature sensor.
#[derive(Debug, Clone, PartialEq)]
pub struct Temperature {
    /// Sensor label as the kernel names it.
    pub label: String,
    /// The reading; `None` when the sensor could not be read.
    pub celsius: Option<f64>,
}

/// One running process that matched a watched name.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessSample {
    /// The watched name it matched (not the truncated kernel name), so a node keeps one name.
    pub name: String,
    /// Process id.
    pub pid: u32,
    /// Percent of one core since the previous sample; exceeds 100 on several cores.
    pub cpu_percent: f64,
    /// Resident set size.
    pub rss_bytes: u64,
}

/// One GPU as NVML reports it; `None` where NVML could not read that field.
#[derive(Debug, Clone, PartialEq)]
pub struct GpuSample {
    /// NVML device index.
    pub index: u32,
    /// Device name; empty when unreadable.
    pub name: String,
    /// Device UUID as NVML prints it; empty when unreadable.
    pub uuid: String,
    /// Percent of time a kernel was running over NVML's last sample period.
    pub utilization_percent: Option<f64>,
    /// Device memory in use.
    pub memory_used_bytes: Option<u64>,
    /// Device memory in total.
    pub memory_total_bytes: Option<u64>,
    /// Die temperature.
    pub temperature_celsius: Option<f64>,
    /// Board power draw.
    pub power_watts: Option<f64>,
}

/// GPU figures, or why there are none.
#[derive(Debug, Clone, PartialEq)]
pub enum GpuStatus {
    /// NVML answered; one entry per device it could open.
    Available(Vec<GpuSample>),
    /// No GPU figures (GPU sampling off, no NVML library or driver, no GPU), with the reason.
    Unavailable(String),
}

/// One reading of the machine; see the module documentation for what each figure covers.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceSample {
    /// The `now` the sample was taken at.
    pub at: Duration,
    /// Whole-system CPU, percent of all cores (0..100); `None` when no CPU could be read.
    pub cpu_percent: Option<f64>,
    /// Per core, percent of that core (0..100), in the kernel's CPU order.
    pub cpu_per_core_percent: Vec<f64>,
    /// System memory in use; `None` when unreadable.
    pub memory_used_bytes: Option<u64>,
    /// System memory in total; `None` when unreadable.
    pub memory_total_bytes: Option<u64>,
    /// Disk read rate; `None` on the first sample.
    pub disk_read_bytes_per_second: Option<f64>,
    /// Disk write rate; `None` on the first sample.
    pub disk_write_bytes_per_second: Option<f64>,
    /// Network receive rate, loopback excluded; `None` on the first sample.
    pub network_rx_bytes_per_second: Option<f64>,
    /// Network transmit rate, loopback excluded; `None` on the first sample.
    pub network_tx_bytes_per_second: Option<f64>,
    /// Temperature sensors, by label.
    pub temperatures: Vec<Temperature>,
    /// Running processes that match a watched name, by name then pid.
    pub processes: Vec<ProcessSample>,
    /// GPU figures or why there are none.
    pub gpu: GpuStatus,
}

impl ResourceSample {
    /// The `vla_perf/msg/ResourceUsage` message of this sample; `None` floats become NaN and
    /// `None` byte counts 0 (the message has no NaN for integers).
    pub fn to_message(&self, stamp: Time, robot_id: &str) -> ResourceUsage {
        let nan = |value: Option<f64>| value.unwrap_or(f64::NAN);
        let (gpu_available, gpu_status, gpus) = match &self.gpu {
            GpuStatus::Available(gpus) => {
                (true, String::new(), gpus.iter().map(gpu_usage).collect())
            }
            GpuStatus::Unavailable(reason) => (false, reason.clone(), Vec::new()),
        };
        ResourceUsage {
            header: Header {
                stamp,
                frame_id: String::new(),
            },
            robot_id: robot_id.to_owned(),
            cpu_percent: nan(self.cpu_percent),
            cpu_per_core_percent: self.cpu_per_core_percent.clone(),
            memory_used_bytes: self.memory_used_bytes.unwrap_or(0),
            memory_total_bytes: self.memory_total_bytes.unwrap_or(0),
            disk_read_bytes_per_second: nan(self.disk_read_bytes_per_second),
            disk_write_bytes_per_second: nan(self.disk_write_bytes_per_second),
            network_rx_bytes_per_second: nan(self.network_rx_bytes_per_second),
            network_tx_bytes_per_second: nan(self.network_tx_bytes_per_second),
            temperature_labels: self.temperatures.iter().map(|t| t.label.clone()).collect(),
            temperatures_celsius: self.temperatures.iter().map(|t| nan(t.celsius)).collect(),
            processes: self
                .processes
                .iter()
                .map(|p| ProcessUsage {
                    name: p.name.clone(),
                    pid: p.pid,
                    cpu_percent: p.cpu_percent,
                    rss_bytes: p.rss_bytes,
                })
                .collect(),
            gpu_available,
            gpu_status,
            gpus,
        }
    }
}

fn gpu_usage(gpu: &GpuSample) -> GpuUsage {
    let nan = |value: Option<f64>| value.unwrap_or(f64::NAN);
    GpuUsage {
        index: gpu.index,
        name: gpu.name.clone(),
        uuid: gpu.uuid.clone(),
        utilization_percent: nan(gpu.utilization_percent),
        memory_used_bytes: gpu.memory_used_bytes.unwrap_or(0),
        memory_total_bytes: gpu.memory_total_bytes.unwrap_or(0),
        temperature_celsius: nan(gpu.temperature_celsius),
        power_watts: nan(gpu.power_watts),
    }
}

/// Failed reads, counted by kind; each kind is logged the first time only so a sensor that
/// keeps failing does not flood the log.
#[derive(Debug, Default)]
pub(crate) struct ErrorLog {
    counts: BTreeMap<&'static str, u64>,
}

impl ErrorLog {
    fn record(&mut self, error: ResourceError) {
        let count = self.counts.entry(error.kind()).or_insert(0);
        *count += 1;
        if *count == 1 {
            tracing::warn!(
                kind = error.kind(),
                %error,
                "resource read failed; further failures of this kind are only counted"
            );
        }
    }
}

/// Linux keeps this many bytes of a process name (`TASK_COMM_LEN` less the NUL).
const PROCESS_NAME_MAX: usize = 15;

/// Reads the machine on demand; keeps what `sysinfo` needs between samples to compute
/// CPU percentages and byte deltas.
pub struct ResourceSampler {
    watched: Vec<String>,
    system: System,
    disks: Disks,
    networks: Networks,
    components: Components,
    gpu: GpuSource,
    /// `now` of the previous sample.
    previous: Option<Duration>,
    /// Block devices seen by the previous sample; a device new to this one has no delta yet.
    devices_seen: HashSet<OsString>,
    errors: ErrorLog,
}

impl ResourceSampler {
    /// A sampler for `options`; opens NVML once when `options.gpu` is set (its absence is
    /// logged once and reported in every sample, not an error).
    pub fn new(options: ResourceOptions) -> Result<Self> {
        Self::with_nvml(options, Nvml::init)
    }

    /// As [`new`](Self::new) with NVML initialised by `init` (a test points it elsewhere).
    fn with_nvml(
        options: ResourceOptions,
        init: impl FnOnce() -> Result<Nvml, NvmlError>,
    ) -> Result<Self> {
        if let Some(index) = options.processes.iter().position(|n| n.trim().is_empty()) {
            return Err(ResourceError::EmptyProcessName { index });
        }
        let mut watched: Vec<String> = Vec::with_capacity(options.processes.len());
        for name in options.processes {
            if !watched.contains(&name) {
                watched.push(name);
            }
        }
        let gpu = if options.gpu {
            GpuSource::open(init)
        } else {
            GpuSource::Unavailable(GPU_DISABLED.to_owned())
        };
        let mut sampler = Self {
            watched,
            system: System::new(),
            disks: Disks::new_with_refreshed_list_specifics(disk_refresh()),
            networks: Networks::new_with_refreshed_list(),
            components: Components::new_with_refreshed_list(),
            gpu,
            previous: None,
            devices_seen: HashSet::new(),
            errors: ErrorLog::default(),
        };
        // A baseline, so the first sample's CPU percentages cover the time since now.
        sampler.refresh_cpu_and_processes();
        Ok(sampler)
    }

    /// Failed reads so far, by kind: `cpu`, `memory`, `clock`, `temperature` (samples in which
    /// a sensor gave no reading), `gpu_count`, `gpu_device`, `gpu_name`, `gpu_uuid`,
    /// `gpu_utilization`, `gpu_memory`, `gpu_temperature`, `gpu_power` (one per GPU read).
    pub fn errors(&self) -> &BTreeMap<&'static str, u64> {
        &self.errors.counts
    }

    /// Reads the machine at `now` (a monotonic time, the same clock every call).
    pub fn sample(&mut self, now: Duration) -> ResourceSample {
        self.refresh_cpu_and_processes();
        let elapsed = self.elapsed_since_previous(now);

        let cpus = self.system.cpus();
        let cpu_per_core_percent: Vec<f64> =
            cpus.iter().map(|c| f64::from(c.cpu_usage())).collect();
        let cpu_percent = if cpus.is_empty() {
            self.errors.record(ResourceError::Sensor {
                sensor: "cpu",
                reason: "the kernel lists no CPU".to_owned(),
            });
            None
        } else {
            Some(f64::from(self.system.global_cpu_usage()))
        };

        self.system
            .refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram());
        let (memory_used_bytes, memory_total_bytes) = match self.system.total_memory() {
            0 => {
                self.errors.record(ResourceError::Sensor {
                    sensor: "memory",
                    reason: "the kernel reports no memory".to_owned(),
                });
                (None, None)
            }
            total => (Some(self.system.used_memory()), Some(total)),
        };

        let (disk_read, disk_write) = self.disk_deltas();
        let (network_rx, network_tx) = self.network_deltas();
        let rate = |bytes: u64| elapsed.map(|dt| bytes as f64 / dt.as_secs_f64());

        ResourceSample {
            at: now,
            cpu_percent,
            cpu_per_core_percent,
            memory_used_bytes,
            memory_total_bytes,
            disk_read_bytes_per_second: rate(disk_read),
            disk_write_bytes_per_second: rate(disk_write),
            network_rx_bytes_per_second: rate(network_rx),
            network_tx_bytes_per_second: rate(network_tx),
            temperatures: self.temperatures(),
            processes: self.watched_processes(),
            gpu: self.gpu.sample(&mut self.errors),
        }
    }

    /// CPU first: the process refresh reuses the CPU times when they are this fresh, whereas
    /// the other order would refresh only the global CPU and leave the cores stale.
    fn refresh_cpu_and_processes(&mut self) {
        self.system.refresh_cpu_usage();
        if !self.watched.is_empty() {
            self.system.refresh_processes_specifics(
                ProcessesToUpdate::All,
                true,
                ProcessRefreshKind::nothing()
                    .without_tasks()
                    .with_cpu()
                    .with_memory()
                    .with_exe(UpdateKind::OnlyIfNotSet),
            );
        }
    }

    /// Time since the previous sample; `None` on the first and when `now` did not advance
    /// (counted as a `clock` error: the caller's clock went backwards or stood still).
    fn elapsed_since_previous(&mut self, now: Duration) -> Option<Duration> {
        let previous = self.previous.replace(now)?;
        match now.checked_sub(previous) {
            Some(elapsed) if !elapsed.is_zero() => Some(elapsed),
            _ => {
                self.errors.record(ResourceError::Sensor {
                    sensor: "clock",
                    reason: format!(
                        "sample time {now:?} is not after the previous one, {previous:?}"
                    ),
                });
                None
            }
        }
    }

    /// Bytes read and written since the previous refresh, each block device once.
    fn disk_deltas(&mut self) -> (u64, u64) {
        self.disks.refresh_specifics(true, disk_refresh());
        // Every mount of one device carries the same delta, except a mount new to this
        // refresh, whose delta is everything since boot: the smallest is the right one.
        let mut per_device: HashMap<&OsStr, (u64, u64)> = HashMap::new();
        for disk in self.disks.list() {
            let usage = disk.usage();
            let delta = (usage.read_bytes, usage.written_bytes);
            per_device
                .entry(disk.name())
                .and_modify(|d| *d = (d.0.min(delta.0), d.1.min(delta.1)))
                .or_insert(delta);
        }
        let totals = per_device
            .iter()
            .filter(|(name, _)| self.devices_seen.contains(**name))
            .fold((0u64, 0u64), |(r, w), (_, d)| {
                (r.saturating_add(d.0), w.saturating_add(d.1))
            });
        self.devices_seen = per_device.keys().map(|name| name.to_os_string()).collect();
        totals
    }

    /// Bytes received and sent since the previous refresh, loopback excluded.
    fn network_deltas(&mut self) -> (u64, u64) {
        // `sysinfo` gives an interface that just appeared a zero delta, and drops those gone.
        self.networks.refresh(true);
        self.networks
            .list()
            .iter()
            .filter(|(name, _)| name.as_str() != "lo")
            .fold((0u64, 0u64), |(rx, tx), (_, data)| {
                (
                    rx.saturating_add(data.received()),
                    tx.saturating_add(data.transmitted()),
                )
            })
    }

    fn temperatures(&mut self) -> Vec<Temperature> {
        self.components.refresh(true);
        let mut temperatures: Vec<Temperature> = Vec::new();
        let mut unreadable: Option<String> = None;
        for component in self.components.list() {
            let celsius = component
                .temperature()
                .map(f64::from)
                .filter(|t| t.is_finite());
            if celsius.is_none() && unreadable.is_none() {
                unreadable = Some(component.label().to_owned());
            }
            temperatures.push(Temperature {
                label: component.label().to_owned(),
                celsius,
            });
        }
        if let Some(label) = unreadable {
            self.errors.record(ResourceError::Sensor {
                sensor: "temperature",
                reason: format!("sensor {label:?} gave no reading"),
            });
        }
        temperatures.sort_by(|a, b| a.label.cmp(&b.label));
        temperatures
    }

    fn watched_processes(&self) -> Vec<ProcessSample> {
        if self.watched.is_empty() {
            return Vec::new();
        }
        let mut found: Vec<ProcessSample> = self
            .system
            .processes()
            .values()
            .filter(|p| p.thread_kind().is_none())
            .filter_map(|process| {
                let name = self.watched.iter().find(|w| matches(w, process))?;
                Some(ProcessSample {
                    name: name.clone(),
                    pid: process.pid().as_u32(),
                    cpu_percent: f64::from(process.cpu_usage()),
                    rss_bytes: process.memory(),
                })
            })
            .collect();
        found.sort_by(|a, b| a.name.cmp(&b.name).then(a.pid.cmp(&b.pid)));
        found
    }
}

fn disk_refresh() -> DiskRefreshKind {
    DiskRefreshKind::nothing().with_io_usage()
}

/// Whether `process` is the one called `watched`: by kernel name, whole or as Linux
/// truncates it, or by executable file name.
fn matches(watched: &str, process: &Process) -> bool {
    let name = process.name().as_encoded_bytes();
    if name == watched.as_bytes()
        || (name.len() == PROCESS_NAME_MAX && watched.as_bytes().starts_with(name))
    {
        return true;
    }
    process
        .exe()
        .and_then(Path::file_name)
        .is_some_and(|file| file == OsStr::new(watched))
}

#[cfg(test)]
mod tests {
    use std::hint::black_box;
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    use std::process::{Child, Command, Stdio};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Instant;

    use tracing_subscriber::layer::{Context, SubscriberExt};
    use tracing_subscriber::Layer;

    use super::*;

    fn sampler(processes: &[&str], gpu: bool) -> ResourceSampler {
        let options = ResourceOptions {
            processes: processes.iter().map(|p| p.to_string()).collect(),
            gpu,
        };
        ResourceSampler::new(options).unwrap()
    }

    /// The file name of this test binary, which is how the sampler must find this process
    /// (its kernel name is truncated to 15 bytes).
    fn own_name() -> String {
        let exe = std::env::current_exe().unwrap();
        exe.file_name().unwrap().to_str().unwrap().to_owned()
    }

    /// A child that blocks reading its stdin; dropping stdin ends it, no signal needed.
    struct Waiting(Child);

    impl Waiting {
        fn spawn(program: &Path) -> Self {
            // A freshly written script can be "text file busy" while another test thread
            // forks with its write handle open; that passes within moments.
            for _ in 0..100 {
                match Command::new(program)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::null())
                    .spawn()
                {
                    Ok(child) => return Self(child),
                    Err(e) if e.raw_os_error() == Some(26) => {
                        std::thread::sleep(Duration::from_millis(10))
                    }
                    Err(e) => panic!("cannot start {program:?}: {e}"),
                }
            }
            panic!("{program:?} stayed busy")
        }

        fn pid(&self) -> u32 {
            self.0.id()
        }
    }

    impl Drop for Waiting {
        fn drop(&mut self) {
            drop(self.0.stdin.take());
            let _ = self.0.wait();
        }
    }

    /// Counts WARN events whose message contains a needle, to prove what is logged once.
    #[derive(Clone)]
    struct CountWarnings {
        needle: &'static str,
        seen: Arc<AtomicUsize>,
    }

    impl<S: tracing::Subscriber> Layer<S> for CountWarnings {
        fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
            struct Text(String);
            impl tracing::field::Visit for Text {
                fn record_debug(&mut self, _: &tracing::field::Field, v: &dyn std::fmt::Debug) {
                    self.0.push_str(&format!("{v:?} "));
                }
            }
            let mut text = Text(String::new());
            event.record(&mut text);
            if *event.metadata().level() <= tracing::Level::INFO && text.0.contains(self.needle) {
                self.seen.fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    fn count_logged(needle: &'static str, run: impl FnOnce()) -> usize {
        let counter = CountWarnings {
            needle,
            seen: Arc::new(AtomicUsize::new(0)),
        };
        let subscriber = tracing_subscriber::registry().with(counter.clone());
        tracing::subscriber::with_default(subscriber, run);
        counter.seen.load(Ordering::SeqCst)
    }

    #[test]
    fn a_sample_has_one_per_core_value_for_every_cpu_the_kernel_lists() {
        let mut sampler = sampler(&[], false);
        let sample = sampler.sample(Duration::from_secs(1));
        // /proc/stat lists every online CPU; available_parallelism can be lower under a
        // cgroup CPU quota, never higher.
        let stat = std::fs::read_to_string("/proc/stat").unwrap();
        let kernel_cpus = stat
            .lines()
            .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
            .count();
        let parallelism = std::thread::available_parallelism().unwrap().get();
        assert_eq!(sample.cpu_per_core_percent.len(), kernel_cpus);
        assert!(sample.cpu_per_core_percent.len() >= parallelism);
        let cpu = sample.cpu_percent.unwrap();
        assert!((0.0..=100.0).contains(&cpu), "{cpu}");
        for core in &sample.cpu_per_core_percent {
            assert!((0.0..=100.0).contains(core), "{core}");
        }
        assert!(sampler.errors().is_empty(), "{:?}", sampler.errors());
    }

    #[test]
    fn memory_total_exceeds_used_which_exceeds_zero() {
        let sample = sampler(&[], false).sample(Duration::from_secs(1));
        let used = sample.memory_used_bytes.unwrap();
        let total = sample.memory_total_bytes.unwrap();
        assert!(0 < used && used < total, "used {used} of {total}");
    }

    #[test]
    fn watching_this_test_binary_by_its_executable_name_finds_this_process() {
        let name = own_name();
        assert!(
            name.len() > PROCESS_NAME_MAX,
            "the exe match is what this test proves"
        );
        let sample = sampler(&[&name], false).sample(Duration::from_secs(1));
        let me: Vec<_> = sample
            .processes
            .iter()
            .filter(|p| p.pid == std::process::id())
            .collect();
        assert_eq!(me.len(), 1, "{:?}", sample.processes);
        assert_eq!(me[0].name, name);
        assert!(me[0].rss_bytes > 0);
    }

    #[test]
    fn every_running_process_with_a_watched_name_is_listed() {
        let cat = Path::new("/bin/cat");
        let (first, second) = (Waiting::spawn(cat), Waiting::spawn(cat));
        let sample = sampler(&["cat"], false).sample(Duration::from_secs(1));
        for child in [&first, &second] {
            let found = sample.processes.iter().find(|p| p.pid == child.pid());
            let found = found.unwrap_or_else(|| panic!("{} missing", child.pid()));
            assert_eq!(found.name, "cat");
            assert!(found.rss_bytes > 0);
        }
        assert!(sample.processes.windows(2).all(|w| w[0].pid < w[1].pid));
    }

    #[test]
    fn a_long_watched_name_finds_the_process_the_kernel_named_by_its_first_15_bytes() {
        // A script started through its shebang is named after the script, truncated, while
        // its executable is the shell: only the truncated-name rule can find it.
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("vla_speech_recognizer_node");
        let mut file = std::fs::File::create(&script).unwrap();
        file.write_all(b"#!/bin/sh\nread line\n").unwrap();
        file.set_permissions(std::fs::Permissions::from_mode(0o755))
            .unwrap();
        drop(file);
        let node = Waiting::spawn(&script);
        let mut sampler = sampler(&["vla_speech_recognizer_node", "vla_speech_other"], false);
        // The child may still be exec'ing its shell; give it a few samples to get its name.
        let mut found = None;
        for tick in 1..=50 {
            let sample = sampler.sample(Duration::from_millis(tick * 20));
            found = sample.processes.into_iter().find(|p| p.pid == node.pid());
            if found.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let found = found.expect("the script process was not found");
        assert_eq!(found.name, "vla_speech_recognizer_node");
    }

    #[test]
    fn a_busy_thread_raises_this_process_cpu_percent() {
        let mut sampler = sampler(&[&own_name()], false);
        let mine = |sample: &ResourceSample| {
            let me = sample
                .processes
                .iter()
                .find(|p| p.pid == std::process::id());
            me.map(|p| p.cpu_percent).unwrap()
        };
        sampler.sample(Duration::from_secs(1));
        // A fixed amount of work, continued until sysinfo will refresh CPU times again, so
        // the busy thread fills the whole interval however fast this machine is.
        let started = Instant::now();
        let busy = std::thread::spawn(move || {
            let mut x = 0u64;
            let mut rounds = 0u64;
            while rounds < 20_000_000
                || started.elapsed() < sysinfo::MINIMUM_CPU_UPDATE_INTERVAL * 2
            {
                x = black_box(
                    x.wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(rounds),
                );
                rounds += 1;
            }
            x
        });
        black_box(busy.join().unwrap());
        let after = sampler.sample(Duration::from_secs(2));
        // One busy thread is ~100 % of a core; 20 leaves room for a starved shared machine.
        assert!(mine(&after) > 20.0, "{}", mine(&after));
    }

    #[test]
    fn rates_are_undefined_on_the_first_sample_and_finite_on_the_second() {
        let mut sampler = sampler(&[], false);
        let first = sampler.sample(Duration::from_secs(10));
        let rates = |s: &ResourceSample| {
            [
                s.disk_read_bytes_per_second,
                s.disk_write_bytes_per_second,
                s.network_rx_bytes_per_second,
                s.network_tx_bytes_per_second,
            ]
        };
        assert_eq!(rates(&first), [None; 4]);
        let message = first.to_message(Time::default(), "r");
        assert!(message.disk_read_bytes_per_second.is_nan());
        assert!(message.network_tx_bytes_per_second.is_nan());
        std::fs::write(
            tempfile::NamedTempFile::new().unwrap().path(),
            vec![0u8; 1 << 20],
        )
        .unwrap();
        let second = sampler.sample(Duration::from_millis(10_500));
        for rate in rates(&second) {
            let rate = rate.unwrap();
            assert!(rate.is_finite() && rate >= 0.0, "{rate}");
        }
        assert!(sampler.errors().is_empty(), "{:?}", sampler.errors());
    }

    #[test]
    fn a_sample_time_that_does_not_advance_leaves_rates_undefined_and_is_counted() {
        let mut sampler = sampler(&[], false);
        sampler.sample(Duration::from_secs(5));
        let same = sampler.sample(Duration::from_secs(5));
        let earlier = sampler.sample(Duration::from_secs(4));
        assert_eq!(same.network_rx_bytes_per_second, None);
        assert_eq!(earlier.disk_write_bytes_per_second, None);
        assert_eq!(sampler.errors().get("clock"), Some(&2));
        let later = sampler.sample(Duration::from_secs(6));
        assert!(later.network_rx_bytes_per_second.is_some());
    }

    #[test]
    fn gpu_sampling_turned_off_reports_unavailable_without_opening_nvml() {
        let mut sampler = ResourceSampler::with_nvml(ResourceOptions::default(), || {
            panic!("NVML must not be opened")
        })
        .unwrap();
        let sample = sampler.sample(Duration::from_secs(1));
        assert_eq!(sample.gpu, GpuStatus::Unavailable(GPU_DISABLED.to_owned()));
    }

    #[test]
    fn an_nvml_library_that_cannot_be_loaded_makes_gpu_metrics_unavailable_without_errors() {
        let options = ResourceOptions {
            processes: Vec::new(),
            gpu: true,
        };
        let missing = OsStr::new("/nonexistent/libnvidia-ml.so.1");
        let mut sampler =
            ResourceSampler::with_nvml(options, || Nvml::builder().lib_path(missing).init())
                .unwrap();
        for tick in 1..=3 {
            match sampler.sample(Duration::from_secs(tick)).gpu {
                GpuStatus::Unavailable(reason) => {
                    assert!(
                        reason.contains("/nonexistent/libnvidia-ml.so.1"),
                        "{reason}"
                    )
                }
                GpuStatus::Available(gpus) => panic!("{gpus:?}"),
            }
        }
        assert!(sampler.errors().is_empty(), "{:?}", sampler.errors());
    }

    #[test]
    fn requesting_gpu_metrics_on_this_machine_reports_them_or_says_why_not() {
        let mut sampler = sampler(&[], true);
        let sample = sampler.sample(Duration::from_secs(1));
        match &sample.gpu {
            // The machines without an NVIDIA driver, this project's CI among them.
            GpuStatus::Unavailable(reason) => {
                assert!(!reason.is_empty());
                assert!(sampler.errors().is_empty(), "{:?}", sampler.errors());
            }
            GpuStatus::Available(gpus) => {
                assert!(!gpus.is_empty());
                assert!(gpus.iter().all(|g| !g.uuid.is_empty()), "{gpus:?}");
            }
        }
    }

    #[test]
    fn a_missing_nvml_is_logged_once_however_often_the_gpu_is_sampled() {
        let warnings = count_logged("GPU metrics unavailable", || {
            let options = ResourceOptions {
                processes: Vec::new(),
                gpu: true,
            };
            let missing = OsStr::new("/nonexistent/libnvidia-ml.so.1");
            let init = || Nvml::builder().lib_path(missing).init();
            let mut sampler = ResourceSampler::with_nvml(options, init).unwrap();
            for tick in 1..=5 {
                sampler.sample(Duration::from_secs(tick));
            }
        });
        assert_eq!(warnings, 1);
    }

    #[test]
    fn a_failing_sensor_is_counted_every_time_and_logged_once() {
        let mut log = ErrorLog::default();
        let warnings = count_logged("resource read failed", || {
            for _ in 0..3 {
                log.record(ResourceError::Gpu {
                    field: "gpu_power",
                    index: Some(0),
                    source: NvmlError::NotSupported,
                });
            }
            log.record(ResourceError::Sensor {
                sensor: "temperature",
                reason: "sensor \"x\" gave no reading".to_owned(),
            });
        });
        assert_eq!(warnings, 2);
        let counts: Vec<_> = log.counts.into_iter().collect();
        assert_eq!(counts, [("gpu_power", 3), ("temperature", 1)]);
    }

    #[test]
    fn an_empty_process_name_is_rejected_with_its_position() {
        let options = ResourceOptions {
            processes: vec!["planner".into(), " ".into()],
            gpu: false,
        };
        let error = ResourceSampler::new(options).err().unwrap();
        assert!(matches!(
            error,
            ResourceError::EmptyProcessName { index: 1 }
        ));
        assert_eq!(
            error.to_string(),
            "resources.processes[1] is empty; name the process to watch"
        );
    }

    #[test]
    fn the_message_carries_every_figure_of_a_real_sample() {
        let name = own_name();
        let mut sampler = sampler(&[&name], true);
        sampler.sample(Duration::from_secs(1));
        let sample = sampler.sample(Duration::from_secs(2));
        let stamp = Time {
            sec: 1_700_000_000,
            nanosec: 5,
        };
        let message = sample.to_message(stamp.clone(), "robot-7");
        assert_eq!(message.header.stamp, stamp);
        assert_eq!(message.robot_id, "robot-7");
        assert_eq!(message.cpu_percent, sample.cpu_percent.unwrap());
        assert_eq!(message.cpu_per_core_percent, sample.cpu_per_core_percent);
        assert_eq!(
            message.cpu_per_core_percent.len(),
            sample.cpu_per_core_percent.len()
        );
        assert_eq!(
            message.memory_total_bytes,
            sample.memory_total_bytes.unwrap()
        );
        assert_eq!(message.memory_used_bytes, sample.memory_used_bytes.unwrap());
        assert_eq!(
            message.network_rx_bytes_per_second,
            sample.network_rx_bytes_per_second.unwrap()
        );
        assert_eq!(
            message.temperature_labels.len(),
            message.temperatures_celsius.len()
        );
        let mine = message
            .processes
            .iter()
            .find(|p| p.pid == std::process::id())
            .unwrap();
        assert_eq!(mine.name, name);
        assert!(mine.rss_bytes > 0);
        assert_eq!(message.processes.len(), sample.processes.len());
        match &sample.gpu {
            GpuStatus::Unavailable(reason) => {
                assert!(!message.gpu_available);
                assert_eq!(&message.gpu_status, reason);
                assert!(message.gpus.is_empty());
            }
            GpuStatus::Available(gpus) => {
                assert!(message.gpu_available);
                assert!(message.gpu_status.is_empty());
                assert_eq!(message.gpus.len(), gpus.len());
            }
        }
    }

    #[test]
    fn unreadable_figures_become_nan_or_zero_in_the_message() {
        let sample = ResourceSample {
            at: Duration::from_secs(3),
            cpu_percent: None,
            cpu_per_core_percent: vec![12.5, 50.0],
            memory_used_bytes: None,
            memory_total_bytes: None,
            disk_read_bytes_per_second: None,
            disk_write_bytes_per_second: Some(4096.0),
            network_rx_bytes_per_second: None,
            network_tx_bytes_per_second: Some(0.0),
            temperatures: vec![
                Temperature {
                    label: "acpitz temp1".into(),
                    celsius: Some(41.0),
                },
                Temperature {
                    label: "nvme Composite".into(),
                    celsius: None,
                },
            ],
            processes: vec![ProcessSample {
                name: "planner".into(),
                pid: 42,
                cpu_percent: 130.0,
                rss_bytes: 1 << 30,
            }],
            gpu: GpuStatus::Available(vec![GpuSample {
                index: 0,
                name: "NVIDIA H200".into(),
                uuid: "GPU-0".into(),
                utilization_percent: Some(87.0),
                memory_used_bytes: Some(1 << 34),
                memory_total_bytes: None,
                temperature_celsius: None,
                power_watts: Some(412.5),
            }]),
        };
        let m = sample.to_message(Time::default(), "r");
        assert!(m.cpu_percent.is_nan());
        assert_eq!((m.memory_used_bytes, m.memory_total_bytes), (0, 0));
        assert!(m.disk_read_bytes_per_second.is_nan());
        assert_eq!(m.disk_write_bytes_per_second, 4096.0);
        assert!(m.network_rx_bytes_per_second.is_nan());
        assert_eq!(m.network_tx_bytes_per_second, 0.0);
        assert_eq!(m.temperature_labels, ["acpitz temp1", "nvme Composite"]);
        assert_eq!(m.temperatures_celsius[0], 41.0);
        assert!(m.temperatures_celsius[1].is_nan());
        let p = &m.processes[0];
        assert_eq!(
            (p.name.as_str(), p.pid, p.cpu_percent, p.rss_bytes),
            ("planner", 42, 130.0, 1 << 30)
        );
        assert!(m.gpu_available && m.gpu_status.is_empty());
        let g = &m.gpus[0];
        assert_eq!(
            (g.index, g.name.as_str(), g.uuid.as_str()),
            (0, "NVIDIA H200", "GPU-0")
        );
        assert_eq!(g.utilization_percent, 87.0);
        assert_eq!((g.memory_used_bytes, g.memory_total_bytes), (1 << 34, 0));
        assert!(g.temperature_celsius.is_nan());
        assert_eq!(g.power_watts, 412.5);
    }

    #[test]
    fn the_sampler_can_move_into_a_sampling_task() {
        fn send<T: Send + 'static>() {}
        send::<ResourceSampler>();
        send::<ResourceSample>();
    }
}
