//! Fault injection (issue 9): nodes killed mid-stream and restarted, a publisher that
//! vanishes, the wall clock stepped back and forward mid-command, and results directories
//! that are full or read-only.
//!
//! DDS tests run in a private network namespace; the file-system tests also get a private
//! mount namespace, where a small tmpfs stands for a full disk and a read-only remount for
//! a read-only one (root in CI cannot be kept out of a directory by `chmod`). The clock
//! test runs the publishers and the collector under libfaketime, whose offset it rewrites.
//! The alert node's own kill test is `tests/alert_node.rs`.

#![cfg(feature = "ros2-client")]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::fault::{collect_for, first_within, read_jsonl, KillSchedule, NodeProcess};
use common::{
    inside_namespace, isolated, isolated_with_env, isolated_with_mounts, LOOPBACK_MULTICAST,
};
use serde_json::Value;
use vla_perf::alerts::history::{self, History};
use vla_perf::msg::cdr::to_cdr;
use vla_perf::msg::diagnostic_msgs::{DiagnosticArray, DiagnosticStatus};
use vla_perf::msg::std_msgs::String as RosString;
use vla_perf::msg::{CommandLatency, MetricArray, RosMessage};
use vla_perf::transport::ros2_client::Ros2ClientTransport;
use vla_perf::transport::{
    wall_clock, Node, NodeOptions, Publisher, Qos, Subscription, Transport, Typed,
};

const LIMIT: Duration = Duration::from_secs(60);
/// The issue's bound on a restarted collector's silence.
const RESUME_WITHIN: Duration = Duration::from_secs(2);

/// A two-stage pipeline of JSON strings correlated by id: `{"id": "..."}` on
/// `/fault/voice` opens a command, the same id on `/fault/done` ends it.
fn collector_config(dir: &Path, voice_rate_hz: Option<f64>) -> PathBuf {
    let rate = voice_rate_hz.map_or(String::new(), |hz| {
        format!("      expected_rate_hz: {hz}\n")
    });
    let text = format!(
        "collector:\n  robot_id: fault\n  publish_period: 200ms\n  command_timeout: 1500ms\n  \
         prometheus: {{enabled: false}}\n  resources: {{gpu: false}}\n  jsonl_path: {}\n  \
         stages:\n    - name: voice\n      topic: /fault/voice\n      msg_type: std_msgs/msg/String\n      \
         correlation: {{mode: id, field: id}}\n{rate}    - name: done\n      topic: /fault/done\n      \
         msg_type: std_msgs/msg/String\n      correlation: {{mode: id, field: id}}\n",
        dir.join("commands.jsonl").display()
    );
    let path = dir.join("collector.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

fn collector(config: PathBuf, domain: u16) -> NodeProcess {
    NodeProcess::start("collector", move || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_collector"));
        c.arg("--config")
            .arg(&config)
            .env("ROS_DOMAIN_ID", domain.to_string())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        c
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// The test's own participant: the stack's two topics and what the collector publishes.
struct Stack {
    voice: Arc<Publisher<RosString>>,
    done: Arc<Publisher<RosString>>,
    _node: Box<dyn Node>,
}

impl Stack {
    fn new(domain: u16) -> Self {
        let mut node = Ros2ClientTransport
            .create_node(&NodeOptions::new("fault_stack", "/").with_domain(domain))
            .unwrap();
        let voice = Publisher::new(node.as_mut(), "/fault/voice", Qos::reliable(100)).unwrap();
        let done = Publisher::new(node.as_mut(), "/fault/done", Qos::reliable(100)).unwrap();
        Self {
            voice: Arc::new(voice),
            done: Arc::new(done),
            _node: node,
        }
    }
}

/// The test's participant that watches what the collector publishes.
fn probe(domain: u16) -> Box<dyn Node> {
    Ros2ClientTransport
        .create_node(&NodeOptions::new("fault_probe", "/").with_domain(domain))
        .unwrap()
}

/// The stack's publishers, and the collector's metrics and measured commands as a probe
/// receives them.
struct Watched {
    stack: Stack,
    metrics: Subscription<Typed<MetricArray>>,
    latencies: Subscription<Typed<CommandLatency>>,
    /// Keeps the subscriptions alive.
    _probe: Box<dyn Node>,
}

impl Watched {
    fn new(domain: u16) -> Self {
        let stack = Stack::new(domain);
        let mut probe = probe(domain);
        Self {
            stack,
            metrics: subscribe(probe.as_mut(), "/vla_perf/metrics"),
            latencies: subscribe(probe.as_mut(), "/vla_perf/command_latency"),
            _probe: probe,
        }
    }
}

fn subscribe<M: RosMessage + Send + 'static>(
    node: &mut dyn Node,
    topic: &str,
) -> Subscription<Typed<M>> {
    Subscription::typed(node, topic, Qos::reliable(1000)).unwrap()
}

fn say(publisher: &Publisher<RosString>, id: &str) {
    let data = format!(r#"{{"id": "{id}"}}"#);
    publisher.publish(&RosString { data }).unwrap();
}

/// Speaks a command every 50 ms (done 20 ms after voice) until `stop`; ids `c0`, `c1`...
fn stream(
    stack: &Stack,
    stop: Arc<AtomicBool>,
    spoken: Arc<AtomicU64>,
) -> std::thread::JoinHandle<()> {
    let (voice, done) = (stack.voice.clone(), stack.done.clone());
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            let id = format!("c{}", spoken.fetch_add(1, Ordering::Relaxed));
            say(&voice, &id);
            std::thread::sleep(Duration::from_millis(20));
            say(&done, &id);
            std::thread::sleep(Duration::from_millis(30));
        }
    })
}

fn stamp_of(m: &MetricArray) -> Duration {
    m.header.stamp.to_duration().unwrap_or_default()
}

#[test]
fn a_sigkilled_collector_resumes_publishing_within_two_seconds_and_keeps_every_finished_command() {
    if !isolated(
        "a_sigkilled_collector_resumes_publishing_within_two_seconds_and_keeps_every_finished_command",
        LOOPBACK_MULTICAST,
    ) {
        return;
    }
    const KILLS: usize = 4;
    let dir = tempfile::tempdir().unwrap();
    let domain = 81;
    let rt = runtime();
    let _entered = rt.enter();
    let mut w = Watched::new(domain);
    let stop = Arc::new(AtomicBool::new(false));
    let spoken = Arc::new(AtomicU64::new(0));
    let streamer = stream(&w.stack, stop.clone(), spoken.clone());

    let mut node = collector(collector_config(dir.path(), None), domain);
    let mut schedule = KillSchedule::new(9);
    let mut received: Vec<String> = Vec::new();
    let mut resumed = Vec::new();
    for life in 0..=KILLS {
        // The first publication of this life: stamped after it was spawned.
        let spawned_wall = wall_clock();
        let spawned = node.spawned_at();
        let wait = if life == 0 { LIMIT } else { RESUME_WITHIN * 5 };
        let (_, at) = first_within(&rt, &mut w.metrics, wait, |m| stamp_of(m) >= spawned_wall)
            .unwrap_or_else(|| panic!("life {life}: no /vla_perf/metrics within {wait:?}"));
        if life > 0 {
            resumed.push(at.duration_since(spawned));
        }
        let alive = schedule.between(Duration::from_millis(800), Duration::from_millis(2000));
        let measured: Vec<CommandLatency> = collect_for(&rt, &mut w.latencies, alive);
        assert!(
            measured
                .iter()
                .any(|c| c.outcome == CommandLatency::OUTCOME_SUCCEEDED),
            "life {life}: no command measured in {alive:?} ({} messages)",
            measured.len()
        );
        received.extend(measured.into_iter().map(|c| c.command_id));
        if life < KILLS {
            node.sigkill();
            node.restart();
        }
    }
    stop.store(true, Ordering::Relaxed);
    streamer.join().unwrap();
    let status = node.terminate(Duration::from_secs(10));
    assert!(status.success(), "{status}");
    received.extend(
        collect_for(&rt, &mut w.latencies, Duration::from_millis(500))
            .into_iter()
            .map(|c| c.command_id),
    );

    // Every command seen on the topic is in the file, once; no line is torn.
    let (lines, torn) = read_jsonl::<Value>(&dir.path().join("commands.jsonl"));
    assert_eq!(torn, 0, "torn lines after {KILLS} kills");
    let in_file: Vec<String> = lines
        .iter()
        .map(|l| l["command_id"].as_str().unwrap().to_owned())
        .collect();
    let unique: BTreeSet<&String> = in_file.iter().collect();
    assert_eq!(unique.len(), in_file.len(), "a command recorded twice");
    let missing: Vec<&String> = received.iter().filter(|id| !unique.contains(id)).collect();
    assert!(
        missing.is_empty(),
        "published but not in the JSONL file: {missing:?}"
    );
    let slowest = resumed.iter().max().copied().unwrap();
    println!(
        "{KILLS} kills, {} commands spoken, {} measured on the topic, {} in the file; \
         publishing resumed after {resumed:?}",
        spoken.load(Ordering::Relaxed),
        received.len(),
        in_file.len()
    );
    assert!(
        slowest <= RESUME_WITHIN,
        "a restarted collector first published after {slowest:?} (all: {resumed:?})"
    );
}

#[test]
fn a_publisher_that_disappears_turns_its_stage_stale_and_times_out_the_open_command() {
    if !isolated(
        "a_publisher_that_disappears_turns_its_stage_stale_and_times_out_the_open_command",
        LOOPBACK_MULTICAST,
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let domain = 82;
    let rt = runtime();
    let _entered = rt.enter();
    let mut probe = probe(domain);
    let mut diagnostics = subscribe::<DiagnosticArray>(probe.as_mut(), "/diagnostics");
    let mut latencies = subscribe::<CommandLatency>(probe.as_mut(), "/vla_perf/command_latency");
    // Voice is expected at 10 Hz: stale after five silent periods (0.5 s).
    let mut node = collector(collector_config(dir.path(), Some(10.0)), domain);
    let stack = Stack::new(domain);
    let voice_status = |a: &DiagnosticArray| -> Option<DiagnosticStatus> {
        a.status
            .iter()
            .find(|s| s.name == "vla_perf: stage voice")
            .cloned()
    };

    // Commands at 10 Hz until the collector has measured one and reports voice OK.
    let stop = Arc::new(AtomicBool::new(false));
    let streamer = stream(&stack, stop.clone(), Arc::new(AtomicU64::new(0)));
    first_within(&rt, &mut latencies, LIMIT, |c| {
        c.outcome == CommandLatency::OUTCOME_SUCCEEDED
    })
    .expect("the collector measures the stream");
    first_within(&rt, &mut diagnostics, LIMIT, |a| {
        voice_status(a).is_some_and(|s| s.level == DiagnosticStatus::OK)
    })
    .expect("voice is OK while its publisher streams");
    stop.store(true, Ordering::Relaxed);
    streamer.join().unwrap();
    // A last command that never finishes, then the publisher's participant is gone.
    say(&stack.voice, "orphan");
    std::thread::sleep(Duration::from_millis(100));
    let gone = Instant::now();
    drop(stack);

    let (stale, at) = first_within(&rt, &mut diagnostics, LIMIT, |a| {
        voice_status(a).is_some_and(|s| s.level == DiagnosticStatus::STALE)
    })
    .expect("voice goes STALE on /diagnostics once its publisher is gone");
    let stale = voice_status(&stale).unwrap();
    assert!(stale.message.contains("no message for"), "{stale:?}");
    let (orphan, _) = first_within(&rt, &mut latencies, LIMIT, |c| c.command_id == "orphan")
        .expect("the open command is finished");
    assert_eq!(
        orphan.outcome,
        CommandLatency::OUTCOME_TIMED_OUT,
        "{orphan:?}"
    );
    assert!(orphan.end_to_end.is_nan());
    println!(
        "voice STALE {:?} after the publisher left: {}",
        at.duration_since(gone),
        stale.message
    );
    assert!(node.terminate(Duration::from_secs(10)).success());
}

// ---------------------------------------------------------------------------------------
// Full and read-only results directories.

const FULL_ENV: &str = "VLA_PERF_FAULT_FULL_DIR";
const READ_ONLY_ENV: &str = "VLA_PERF_FAULT_RO_DIR";

/// Mounts a 16 KiB tmpfs on `$VLA_PERF_FAULT_FULL_DIR` and a read-only tmpfs on
/// `$VLA_PERF_FAULT_RO_DIR` (both made by the outer test), with loopback for DDS.
const MOUNTS: &str = "mount -t tmpfs -o size=16k tmpfs \"$VLA_PERF_FAULT_FULL_DIR\" && \
     mount -t tmpfs -o size=1m tmpfs \"$VLA_PERF_FAULT_RO_DIR\" && \
     mount -o remount,ro \"$VLA_PERF_FAULT_RO_DIR\" && \
     ip link set lo up multicast on && ip route add 224.0.0.0/4 dev lo";

/// Outside the namespace: makes the mount points and re-runs test `name` with them.
/// Inside: returns the two directories.
/// Debian's `libfaketime` (installed by .ci/setup), under `/usr/lib/<multiarch>/faketime/`:
/// preloaded, it offsets the wall clock by what `FAKETIME_TIMESTAMP_FILE` says (`+0`,
/// `-30`, ...), re-read at every call with `FAKETIME_NO_CACHE`; the monotonic clock is left
/// alone.
fn libfaketime() -> Option<PathBuf> {
    std::fs::read_dir("/usr/lib")
        .ok()?
        .flatten()
        .map(|dir| dir.path().join("faketime/libfaketime.so.1"))
        .find(|lib| lib.exists())
}
/// Where the re-run test finds the offset file it steps the clock with.
const CLOCK_FILE: &str = "VLA_PERF_TEST_CLOCK_FILE";

/// Sets the offset of every process under libfaketime (a rename, so that no reader ever
/// sees a half-written file).
fn set_clock_offset(file: &Path, offset: &str) {
    let temp = file.with_extension("tmp");
    std::fs::write(&temp, format!("{offset}\n")).unwrap();
    std::fs::rename(&temp, file).unwrap();
}

/// Seconds of a latency field; None for "not measured" (NaN, or null in the JSONL file).
fn measured(latency: f64) -> Option<f64> {
    latency.is_finite().then_some(latency)
}

#[test]
fn a_wall_clock_stepped_back_and_forward_mid_command_records_no_negative_or_jumped_latency() {
    const NAME: &str =
        "a_wall_clock_stepped_back_and_forward_mid_command_records_no_negative_or_jumped_latency";
    if !inside_namespace() {
        let lib = libfaketime()
            .expect("libfaketime.so.1 is missing: install Debian's libfaketime (.ci/setup does)");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("offset");
        set_clock_offset(&file, "+0");
        let env = [
            ("LD_PRELOAD", lib.as_os_str()),
            ("FAKETIME_TIMESTAMP_FILE", file.as_os_str()),
            ("FAKETIME_NO_CACHE", "1".as_ref()),
            ("FAKETIME_DONT_FAKE_MONOTONIC", "1".as_ref()),
            (CLOCK_FILE, file.as_os_str()),
        ];
        isolated_with_env(NAME, LOOPBACK_MULTICAST, &env);
        return;
    }
    /// How far the clock is stepped each way: far past the collector's command timeout.
    const STEP_SECONDS: u64 = 30;
    const PER_PHASE: usize = 20;
    let file = PathBuf::from(std::env::var_os(CLOCK_FILE).unwrap());
    // The step must be real in this process: the stack's stamps come from its wall clock.
    let (wall, mono) = (wall_clock(), Instant::now());
    set_clock_offset(&file, "-3600");
    let behind = (wall + mono.elapsed()).saturating_sub(wall_clock());
    set_clock_offset(&file, "+0");
    assert!(
        behind > Duration::from_secs(3590),
        "libfaketime did not step this process's clock (behind by {behind:?})"
    );

    let dir = tempfile::tempdir().unwrap();
    let domain = 84;
    let rt = runtime();
    let _entered = rt.enter();
    let mut w = Watched::new(domain);
    // The collector inherits LD_PRELOAD and the offset file: it sees every step too.
    let mut node = collector(collector_config(dir.path(), None), domain);
    first_within(&rt, &mut w.metrics, LIMIT, |_| true).expect("no /vla_perf/metrics");
    // Discovery both ways: a command is measured.
    let mut warm = 0;
    let mut results: Vec<CommandLatency> = Vec::new();
    let deadline = Instant::now() + LIMIT;
    while results.is_empty() {
        assert!(
            Instant::now() < deadline,
            "no command measured within {LIMIT:?}"
        );
        say(&w.stack.voice, &format!("w{warm}"));
        std::thread::sleep(Duration::from_millis(20));
        say(&w.stack.done, &format!("w{warm}"));
        warm += 1;
        results = collect_for(&rt, &mut w.latencies, Duration::from_millis(300));
    }

    // One command: voice, 20 ms, the clock stepped (or not), done.
    let command = |id: &str, step_to: Option<&str>| {
        say(&w.stack.voice, id);
        std::thread::sleep(Duration::from_millis(20));
        if let Some(offset) = step_to {
            set_clock_offset(&file, offset);
        }
        say(&w.stack.done, id);
        std::thread::sleep(Duration::from_millis(30));
    };
    let back = format!("-{STEP_SECONDS}");
    for i in 0..PER_PHASE {
        command(&format!("a{i}"), None);
    }
    command("back", Some(&back));
    for i in 0..PER_PHASE {
        command(&format!("b{i}"), None);
    }
    command("fwd", Some("+0"));
    for i in 0..PER_PHASE {
        command(&format!("c{i}"), None);
    }
    // Past the command timeout (1.5 s), so that every command has ended.
    results.extend(collect_for(&rt, &mut w.latencies, Duration::from_secs(4)));
    let last_metrics = collect_for(&rt, &mut w.metrics, Duration::from_millis(600))
        .pop()
        .expect("the collector still publishes metrics");
    let status = node.terminate(Duration::from_secs(10));
    assert!(status.success(), "{status}");

    // No latency is negative or as long as the step, on the topic or in the file.
    let limit = 1.5; // the command timeout
    let in_range = |latency: f64| measured(latency).is_none_or(|s| (0.0..limit).contains(&s));
    for c in &results {
        assert!(in_range(c.end_to_end), "{c:?}");
        assert!(c.stages.iter().all(|s| in_range(s.latency)), "{c:?}");
    }
    let (lines, torn) = read_jsonl::<Value>(&dir.path().join("commands.jsonl"));
    assert_eq!(torn, 0);
    let seconds = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    for line in &lines {
        assert!(in_range(seconds(&line["end_to_end"])), "{line}");
        for stage in line["stages"].as_array().unwrap() {
            assert!(in_range(seconds(&stage["latency"])), "{line}");
        }
    }
    assert_eq!(lines.len(), results.len(), "file and topic disagree");

    // The commands across a step have no end-to-end latency; those around them do.
    let by_id = |id: &str| results.iter().find(|c| c.command_id == id);
    for id in ["back", "fwd"] {
        let c = by_id(id).unwrap_or_else(|| panic!("command {id} never ended"));
        assert!(measured(c.end_to_end).is_none(), "{id}: {c:?}");
        assert!(measured(c.stages[1].latency).is_none(), "{id}: {c:?}");
    }
    let mut fine = BTreeMap::new();
    for phase in ["a", "b", "c"] {
        let n = (0..PER_PHASE)
            .filter_map(|i| by_id(&format!("{phase}{i}")))
            .filter(|c| {
                c.outcome == CommandLatency::OUTCOME_SUCCEEDED
                    && measured(c.end_to_end).is_some_and(|s| s < 1.0)
            })
            .count();
        fine.insert(phase, n);
    }
    // The anomalies were counted: both steps by the collector's own clock check, and the
    // stage stamped before its command's start.
    let anomalies = |reason: &str| {
        last_metrics
            .metrics
            .iter()
            .find(|m| m.name == "correlation_anomalies" && m.tags.iter().any(|t| t.value == reason))
            .map_or(0.0, |m| m.max)
    };
    let counted: BTreeMap<&str, f64> = [
        "clock_step",
        "out_of_order",
        "clock_backwards",
        "unmatched",
        "duplicate",
        "evicted",
    ]
    .into_iter()
    .map(|r| (r, anomalies(r)))
    .collect();
    println!(
        "{} commands ended; measured normally per phase (before, during, after the step back): \
         {fine:?}; back: {:?}; fwd: {:?}; anomalies {counted:?}",
        results.len(),
        by_id("back").map(|c| c.outcome),
        by_id("fwd").map(|c| c.outcome),
    );
    assert!(
        fine.values().all(|&n| n >= PER_PHASE - 2),
        "commands between the steps were not measured: {fine:?}"
    );
    assert!(counted["clock_step"] >= 2.0, "{counted:?}");
    assert!(
        counted["out_of_order"] + counted["clock_backwards"] >= 1.0,
        "{counted:?}"
    );
}

fn with_small_and_read_only_dirs(name: &str) -> Option<(PathBuf, PathBuf)> {
    if common::inside_namespace() {
        let dir = |var| PathBuf::from(std::env::var_os(var).expect(var));
        return Some((dir(FULL_ENV), dir(READ_ONLY_ENV)));
    }
    let base = tempfile::tempdir().unwrap();
    let (full, ro) = (base.path().join("full"), base.path().join("read_only"));
    std::fs::create_dir(&full).unwrap();
    std::fs::create_dir(&ro).unwrap();
    isolated_with_mounts(
        name,
        MOUNTS,
        &[
            (FULL_ENV, full.as_os_str()),
            (READ_ONLY_ENV, ro.as_os_str()),
        ],
    );
    None
}

/// A recording of `commands` two-stage commands (voice on /a, done on /b, 10 ms apart) as
/// one MCAP file, and the collector config that reads it.
fn recording(dir: &Path, commands: u64) -> (PathBuf, PathBuf) {
    let bag = dir.join("recording.mcap");
    let file = std::fs::File::create(&bag).unwrap();
    let mut w = mcap::Writer::new(std::io::BufWriter::new(file)).unwrap();
    let schema = w
        .add_schema(RosString::TYPE_NAME, "ros2msg", b"string data")
        .unwrap();
    let a = w
        .add_channel(schema, "/a", "cdr", &Default::default())
        .unwrap();
    let b = w
        .add_channel(schema, "/b", "cdr", &Default::default())
        .unwrap();
    let data = to_cdr(&RosString { data: "x".into() }).unwrap();
    let start = 1_700_000_000_000_000_000u64;
    for i in 0..commands {
        for (channel, offset) in [(a, 0), (b, 10_000_000)] {
            let t = start + i * 100_000_000 + offset;
            let header = mcap::records::MessageHeader {
                channel_id: channel,
                sequence: i as u32,
                log_time: t,
                publish_time: t,
            };
            w.write_to_known_channel(&header, &data).unwrap();
        }
    }
    w.finish().unwrap();
    let config = dir.join("collector.yaml");
    std::fs::write(
        &config,
        "collector:\n  robot_id: fault\n  prometheus: {enabled: false}\n  stages:\n    \
         - {name: voice, topic: /a, msg_type: std_msgs/msg/String, correlation: {mode: fifo}}\n    \
         - {name: done, topic: /b, msg_type: std_msgs/msg/String, correlation: {mode: fifo}}\n",
    )
    .unwrap();
    (bag, config)
}

/// `vla-perf analyze` of `bag` with the report under `out` and, with `streams`, the CSV
/// and MCAP outputs too (written while reading, before the report); its stderr on failure.
fn analyze(bag: &Path, config: &Path, out: &Path, streams: bool) -> Result<(), String> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vla-perf"));
    command
        .arg("analyze")
        .arg(bag)
        .arg("--config")
        .arg(config)
        .arg("--out")
        .arg(out.join("report"))
        .arg("--quiet");
    if streams {
        command
            .arg("--csv")
            .arg(out.join("commands.csv"))
            .arg("--mcap-out")
            .arg(out.join("out.mcap"));
    }
    let output = command.output().unwrap();
    match output.status.success() {
        true => Ok(()),
        false => Err(String::from_utf8_lossy(&output.stderr).into_owned()),
    }
}

/// Every file below `dir`.
fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_below(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn a_full_or_read_only_results_directory_fails_analyze_with_the_path_and_leaves_nothing_half_written(
) {
    let Some((full, read_only)) = with_small_and_read_only_dirs(
        "a_full_or_read_only_results_directory_fails_analyze_with_the_path_and_leaves_nothing_half_written",
    ) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let (bag, config) = recording(work.path(), 3000);
    // The same analysis fits in an ordinary directory.
    analyze(&bag, &config, work.path(), true).expect("analysis into a roomy directory");
    let roomy = files_below(work.path());
    assert!(roomy.iter().any(|p| p.ends_with("report/report.json")));

    // Filled by the streamed outputs, then (report only) by the report's files.
    for streams in [true, false] {
        let err = analyze(&bag, &config, &full, streams).expect_err("16 KiB cannot hold it");
        assert!(
            err.contains(&full.display().to_string()) && err.contains("No space left on device"),
            "{err}"
        );
        assert_eq!(err.matches("No space left").count(), 1, "said once: {err}");
        for file in files_below(&full) {
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            assert!(
                !name.starts_with('.'),
                "temporary left behind: {}",
                file.display()
            );
            // Whatever is in place was renamed there whole.
            if name == "report.json" {
                let text = std::fs::read_to_string(&file).unwrap();
                serde_json::from_str::<Value>(&text).expect("a complete report.json");
            }
        }
        println!("full (streams {streams}): {err}");
    }

    let err = analyze(&bag, &config, &read_only, true).expect_err("a read-only directory");
    assert!(
        err.contains(&read_only.display().to_string()) && err.contains("Read-only file system"),
        "{err}"
    );
    assert!(files_below(&read_only).is_empty());
    println!("read-only: {err}");
}

#[test]
fn the_alert_history_on_a_read_only_or_full_disk_fails_clearly_and_keeps_every_whole_record() {
    let Some((full, read_only)) = with_small_and_read_only_dirs(
        "the_alert_history_on_a_read_only_or_full_disk_fails_clearly_and_keeps_every_whole_record",
    ) else {
        return;
    };
    // The node refuses to start on a history it cannot write, naming the file.
    let work = tempfile::tempdir().unwrap();
    let rules = work.path().join("rules.yaml");
    std::fs::write(
        &rules,
        "rules:\n  - {name: slow, metric: end_to_end_latency, aggregation: last, warning: 1.0, critical: 2.0, window: 2s}\n",
    )
    .unwrap();
    let history_path = read_only.join("history.jsonl");
    let output = Command::new(env!("CARGO_BIN_EXE_alert_manager"))
        .arg("--config")
        .arg(&rules)
        .arg("--history")
        .arg(&history_path)
        .args(["--domain", "84"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains(&history_path.display().to_string())
            && stderr.contains("Read-only file system"),
        "{stderr}"
    );

    // Appends until the disk is full: the error names the file, and every record that was
    // acknowledged is read back whole.
    let path = full.join("history.jsonl");
    let (mut history, _) = History::open(&path).unwrap();
    let mut acknowledged = 0u64;
    let err = loop {
        let channel = format!("webhook-{acknowledged:06}");
        match history.outcome("notification-id", &channel, 1, None) {
            Ok(()) => acknowledged += 1,
            Err(e) => break e.to_string(),
        }
        assert!(acknowledged < 100_000, "a 16 KiB tmpfs never filled");
    };
    assert!(
        err.contains(&path.display().to_string()) && err.contains("No space left on device"),
        "{err}"
    );
    let (records, torn) = history::read(&path).unwrap();
    assert_eq!(records.len() as u64, acknowledged);
    assert!(torn <= 1, "{torn} torn lines");
    // Room again: the node reopens the history, ends the torn line and carries on.
    let grown = Command::new("mount")
        .args(["-o", "remount,size=1m"])
        .arg(&full)
        .status()
        .unwrap();
    assert!(grown.success());
    drop(history);
    let (mut history, _) = History::open(&path).unwrap();
    history
        .outcome("notification-id", "after", 1, None)
        .unwrap();
    let (records, torn_after) = history::read(&path).unwrap();
    assert_eq!(records.len() as u64, acknowledged + 1);
    assert_eq!(torn_after, torn);
    println!("{acknowledged} records before: {err}; {torn} torn line skipped");
}
