//! Soak: the demo stack as deployed (the `sim_stack`, `collector` and `alert_manager`
//! binaries, one process each, over ROS 2 on loopback) driven at a multiple of the demo's
//! command rate for a long time. Prints figures; asserts nothing about speed.
//!
//! The demo speaks one command every 3 s; this driver speaks one every 3 s /
//! `VLA_PERF_SOAK_RATE` (default 10, i.e. every 300 ms) for `VLA_PERF_SOAK_SECONDS`
//! (default 1800). Each node's RSS is read every second; every `VLA_PERF_SOAK_SAMPLE`
//! seconds (default 60) a line shows each node's RSS and CPU.
//!
//! RSS moves by a few MiB from one second to the next in a node that has camera frames in
//! flight, so one reading is a poor "RSS at start". At the end, per node: RSS at start
//! (the median of the minute after a 60 s warm-up, when the collector's windows have
//! filled), at the end (the median of the last minute), the growth between the two in
//! percent, the single readings at both instants, the range, the peak (VmHWM), the
//! least-squares trend in MiB per hour, CPU as % of one core, and the commands spoken,
//! measured (CommandLatency received) and not measured, with outcomes and the collector's
//! own drop counters (Prometheus `vla_perf_dropped_events_total`,
//! `vla_perf_topic_decode_failures_total`). The last line says whether every node's RSS
//! grew by less than 5 %.
//!
//! DDS stays on loopback: the bench re-runs itself in a private network namespace
//! (`unshare -n`, or `-rn` without root) and the nodes inherit it.
//! `cargo bench --bench soak` (see docs/reliability.md for the recorded run).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vla_perf::msg::builtin_interfaces::Time;
use vla_perf::msg::std_msgs::Header;
use vla_perf::msg::CommandLatency;
use vla_perf::sim::speech;
use vla_perf::transport::ros2_client::Ros2ClientTransport;
use vla_perf::transport::{
    wall_clock, NodeOptions, Publisher, Qos, Subscription, Transport, Typed,
};

const INSIDE: &str = "VLA_PERF_IN_NETNS";
const DOMAIN: u16 = 79;
/// The demo's command period (`vla-perf demo --command-period`).
const DEMO_PERIOD: Duration = Duration::from_secs(3);
/// RSS at "start" is taken after this long: histograms, windows and DDS caches fill first.
const WARM_UP: Duration = Duration::from_secs(60);
/// How often each node's RSS is read.
const READ_EVERY: Duration = Duration::from_secs(1);
/// The span whose median is "RSS at start" (after the warm-up) and "RSS at end".
const MEDIAN_OVER: Duration = Duration::from_secs(60);
/// Most RSS growth from start to end that passes.
const RSS_GROWTH_LIMIT_PERCENT: f64 = 5.0;

fn env_f64(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v > 0.0)
        .unwrap_or(default)
}

/// One node of the stack as a child process.
struct NodeProcess {
    name: &'static str,
    child: Child,
}

impl NodeProcess {
    fn start(name: &'static str, binary: &str, args: &[String], stderr: Stdio) -> Self {
        let child = Command::new(binary)
            .args(args)
            .env("ROS_DOMAIN_ID", DOMAIN.to_string())
            // RustDDS reports its own teardown as errors at every clean exit.
            .env("RUST_LOG", "warn,rustdds=off")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("{name} binary {binary}: {e}"));
        Self { name, child }
    }

    fn proc_file(&self, file: &str) -> String {
        std::fs::read_to_string(format!("/proc/{}/{file}", self.child.id())).unwrap_or_default()
    }

    /// A `VmXXX:` line of /proc/<pid>/status, in MiB.
    fn memory_mib(&self, field: &str) -> f64 {
        self.proc_file("status")
            .lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    }

    /// User + system CPU seconds so far (fields 14 and 15 of /proc/<pid>/stat).
    fn cpu_seconds(&self) -> f64 {
        let stat = self.proc_file("stat");
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map_or("", |(_, rest)| rest)
            .split_whitespace()
            .collect();
        let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
        // USER_HZ is 100 on every Linux ABI this runs on.
        match (ticks(11), ticks(12)) {
            (Some(user), Some(system)) => (user + system) / 100.0,
            _ => f64::NAN,
        }
    }

    /// SIGINT (a clean shutdown), then SIGKILL if it lingers.
    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A node's figures at one moment.
#[derive(Clone, Copy)]
struct Sample {
    rss_mib: f64,
    cpu_seconds: f64,
    at: Instant,
}

/// A node's RSS over the soak, from its once-a-second readings.
struct RssFigures {
    /// Median of the first [`MEDIAN_OVER`].
    start: f64,
    /// Median of the last [`MEDIAN_OVER`].
    end: f64,
    min: f64,
    max: f64,
    /// Least-squares slope over every reading.
    trend_mib_per_hour: f64,
}

impl RssFigures {
    fn of(series: &[Sample]) -> Self {
        let t0 = series[0].at;
        let points: Vec<(f64, f64)> = series
            .iter()
            .filter(|s| s.rss_mib.is_finite())
            .map(|s| (s.at.duration_since(t0).as_secs_f64(), s.rss_mib))
            .collect();
        let last_t = points.last().map_or(0.0, |p| p.0);
        let span = MEDIAN_OVER.as_secs_f64();
        let median_of = |keep: &dyn Fn(f64) -> bool| {
            let mut v: Vec<f64> = points.iter().filter(|p| keep(p.0)).map(|p| p.1).collect();
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
        };
        Self {
            start: median_of(&|t| t < span),
            end: median_of(&|t| t > last_t - span),
            min: points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min),
            max: points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max),
            trend_mib_per_hour: vla_perf::core::trend::slope(&points)
                .map_or(f64::NAN, |s| s * 3600.0),
        }
    }

    fn growth_percent(&self) -> f64 {
        (self.end - self.start) / self.start * 100.0
    }
}

fn sample(node: &NodeProcess) -> Sample {
    Sample {
        rss_mib: node.memory_mib("VmRSS:"),
        cpu_seconds: node.cpu_seconds(),
        at: Instant::now(),
    }
}

/// Reads the collector's stderr: remembers its Prometheus URL, passes warnings through.
fn watch_collector_log(stderr: impl std::io::Read + Send + 'static) -> Arc<Mutex<Option<String>>> {
    let url = Arc::new(Mutex::new(None));
    let found = url.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(at) = line.find("http://") {
                let link = line[at..]
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_owned();
                *found.lock().unwrap() = Some(link);
            } else {
                eprintln!("collector: {line}");
            }
        }
    });
    url
}

/// Sums of the samples of each family the collector counts drops and failures in.
fn collector_drops(url: &str) -> BTreeMap<String, f64> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .proxy(None)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    let Ok(body) = agent
        .get(url)
        .call()
        .and_then(|mut r| r.body_mut().read_to_string())
    else {
        return BTreeMap::new();
    };
    let mut sums = BTreeMap::new();
    for line in body.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let family = series.split('{').next().unwrap_or(series);
        let counted = [
            "vla_perf_dropped_events_total",
            "vla_perf_topic_decode_failures_total",
        ];
        if counted.contains(&family) {
            let key = series.to_owned();
            *sums.entry(key).or_insert(0.0) += value.parse::<f64>().unwrap_or(0.0);
        }
    }
    sums
}

fn reexec_in_network_namespace() -> ! {
    let exe = std::env::current_exe().expect("bench path");
    let setup = "ip link set lo up multicast on && ip route add 224.0.0.0/4 dev lo";
    for flags in [&["-n"][..], &["-r", "-n"][..]] {
        let status = Command::new("unshare")
            .args(flags)
            .args(["--", "sh", "-c", &format!("{setup} && exec \"$0\" \"$@\"")])
            .arg(&exe)
            .args(std::env::args().skip(1))
            .env(INSIDE, "1")
            .status()
            .expect("unshare (util-linux)");
        // 1 is unshare's own failure (no privilege for this flag set): try the next.
        if status.code() != Some(1) {
            std::process::exit(status.code().unwrap_or(1));
        }
    }
    eprintln!("cannot create a private network namespace (unshare -n / -rn)");
    std::process::exit(1);
}

fn main() {
    if std::env::args().any(|a| a == "--test" || a == "--list") {
        return;
    }
    if std::env::var_os(INSIDE).is_none() {
        reexec_in_network_namespace();
    }
    let seconds = env_f64("VLA_PERF_SOAK_SECONDS", 1800.0);
    let rate = env_f64("VLA_PERF_SOAK_RATE", 10.0);
    let sample_every = Duration::from_secs_f64(env_f64("VLA_PERF_SOAK_SAMPLE", 60.0));
    let duration = Duration::from_secs_f64(seconds);
    let period = DEMO_PERIOD.div_f64(rate);
    let warm_up = WARM_UP.min(duration / 4);
    let dir = tempfile::tempdir().expect("temp dir");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let collector_config = dir.path().join("collector.yaml");
    // The demo's collector settings; the default stages match the simulated stack.
    std::fs::write(
        &collector_config,
        "collector:\n  robot_id: soak\n  command_timeout: 10s\n  \
         prometheus: {enabled: true, listen: 127.0.0.1:0}\n  resources: {gpu: false}\n",
    )
    .expect("collector config");
    println!(
        "soak: demo stack at {rate}x the demo's command rate (one command every {:?}) for {:?}, warm-up {:?}",
        period, duration, warm_up
    );

    let sim = NodeProcess::start(
        "sim_stack",
        env!("CARGO_BIN_EXE_sim_stack"),
        &[],
        Stdio::inherit(),
    );
    let mut collector = NodeProcess::start(
        "collector",
        env!("CARGO_BIN_EXE_collector"),
        &["--config".into(), collector_config.display().to_string()],
        Stdio::piped(),
    );
    let prometheus_url = watch_collector_log(collector.child.stderr.take().expect("stderr"));
    let alerts = NodeProcess::start(
        "alert_manager",
        env!("CARGO_BIN_EXE_alert_manager"),
        &[
            "--config".into(),
            repo.join("config/alerts.yaml").display().to_string(),
            "--history".into(),
            dir.path().join("alert_history.jsonl").display().to_string(),
        ],
        Stdio::inherit(),
    );
    let nodes = [sim, collector, alerts];

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let _entered = runtime.enter();
    let mut driver = Ros2ClientTransport
        .create_node(&NodeOptions::new("vla_perf_soak_driver", "/").with_domain(DOMAIN))
        .expect("driver node");
    let speak = Publisher::new(driver.as_mut(), "/audio/utterance", Qos::reliable(10))
        .expect("utterance publisher");
    let mut latencies = Subscription::<Typed<CommandLatency>>::typed(
        driver.as_mut(),
        "/vla_perf/command_latency",
        Qos::reliable(1000),
    )
    .expect("command_latency subscription");
    let outcomes: Arc<Mutex<BTreeMap<&'static str, u64>>> = Arc::default();
    let counted = outcomes.clone();
    runtime.spawn(async move {
        while let Some(m) = latencies.recv().await {
            *counted
                .lock()
                .unwrap()
                .entry(CommandLatency::outcome_name(m.message.outcome))
                .or_default() += 1;
        }
    });
    // Discovery settles before the first command, as in the demo.
    std::thread::sleep(Duration::from_secs(3));

    let started = Instant::now();
    let mut next_command = started;
    let mut next_read = started + warm_up;
    let mut next_line = next_read;
    let mut spoken = 0u64;
    // One reading of every node per second from the end of the warm-up on.
    let mut readings: Vec<Vec<Sample>> = Vec::new();
    while started.elapsed() < duration {
        let now = Instant::now();
        if now >= next_command {
            let header = Header {
                stamp: Time::from(wall_clock()),
                frame_id: "soak_microphone".into(),
            };
            let text = format!("[s{spoken}] pick up the red cup");
            if let Err(e) = speak.publish(&speech::utterance(&text, header)) {
                eprintln!("speaking: {e}");
            }
            spoken += 1;
            // Fixed schedule: a late tick does not shift the ones after it.
            next_command += period;
        }
        if now >= next_read {
            readings.push(nodes.iter().map(sample).collect());
            next_read += READ_EVERY;
        }
        if now >= next_line {
            let samples = readings.last().expect("read at this instant or before");
            let measured: u64 = outcomes.lock().unwrap().values().sum();
            let line: Vec<String> = nodes
                .iter()
                .zip(samples)
                .map(|(n, s)| format!("{} {:.1} MiB {:.1} cpu-s", n.name, s.rss_mib, s.cpu_seconds))
                .collect();
            println!(
                "t={:>5.0}s spoken {spoken} measured {measured} | {}",
                started.elapsed().as_secs_f64(),
                line.join(" | ")
            );
            next_line += sample_every;
        }
        let wake = next_command.min(next_read).min(next_line);
        std::thread::sleep(wake.saturating_duration_since(Instant::now()));
    }
    readings.push(nodes.iter().map(sample).collect());
    let hwm: Vec<f64> = nodes.iter().map(|n| n.memory_mib("VmHWM:")).collect();
    // Commands still in the stack finish or time out (command_timeout 10 s).
    std::thread::sleep(Duration::from_secs(12));
    let drops = prometheus_url
        .lock()
        .unwrap()
        .clone()
        .map(|url| collector_drops(&url))
        .unwrap_or_default();
    let outcomes = outcomes.lock().unwrap().clone();
    let measured: u64 = outcomes.values().sum();

    println!(
        "\n---- soak figures ({:?} at {rate}x, {spoken} commands) ----",
        duration
    );
    println!(
        "RSS start/end: medians of the first minute after the warm-up and of the last minute \
         ({} readings a node, one a second)",
        readings.len()
    );
    println!(
        "node           rss start MiB  rss end MiB  growth %  first/last reading MiB  \
         range MiB    peak MiB  trend MiB/h  cpu % of a core"
    );
    let mut worst_growth = f64::NEG_INFINITY;
    for (i, node) in nodes.iter().enumerate() {
        let series: Vec<Sample> = readings.iter().map(|r| r[i]).collect();
        let rss = RssFigures::of(&series);
        worst_growth = worst_growth.max(rss.growth_percent());
        let (start, end) = (series[0], series[series.len() - 1]);
        let cpu = (end.cpu_seconds - start.cpu_seconds)
            / end.at.duration_since(start.at).as_secs_f64().max(1e-9)
            * 100.0;
        println!(
            "{:<14} {:>13.1}  {:>11.1}  {:>8.2}  {:>10.1} / {:<10.1}  {:>5.1}-{:<5.1}  {:>8.1}  {:>11.2}  {:>15.1}",
            node.name,
            rss.start,
            rss.end,
            rss.growth_percent(),
            start.rss_mib,
            end.rss_mib,
            rss.min,
            rss.max,
            hwm[i].max(rss.max),
            rss.trend_mib_per_hour,
            cpu
        );
    }
    println!(
        "commands: spoken {spoken}, measured {measured}, not measured {}",
        spoken.saturating_sub(measured)
    );
    println!("outcomes: {outcomes:?}");
    if drops.is_empty() {
        println!("collector drop counters: none reported");
    }
    for (series, value) in &drops {
        println!("collector {series} = {value}");
    }
    println!(
        "RSS growth start->end, worst node: {worst_growth:.2} % (limit {RSS_GROWTH_LIMIT_PERCENT} %): {}",
        if worst_growth < RSS_GROWTH_LIMIT_PERCENT {
            "PASS"
        } else {
            "FAIL"
        }
    );
    drop(driver);
    for node in nodes {
        node.stop();
    }
}
