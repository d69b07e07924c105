//! Load benchmark of the collector node as it is deployed: the `collector` binary as a child
//! process, fed over ROS 2 (ros2-client over RustDDS) by a load generator in this process.
//! Prints figures; asserts nothing about speed.
//!
//! 1. Typical VLA load for `VLA_PERF_LOAD_SECONDS` (default 60): a 30 Hz 640x480 rgb8
//!    camera (`sensor_msgs/Image`, a watched topic), 10 Hz `vision_msgs/Detection2DArray`
//!    and 1 command/s through the default six-stage pipeline with realistic gaps, resources
//!    sampled at 1 Hz. Reports the collector's CPU (utime+stime from /proc after a warm-up)
//!    as % of one core, its RSS, and CommandLatency messages received vs commands sent.
//! 2. Stage-event rate before loss: a two-stage String pipeline (voice, done; FIFO) driven at
//!    increasing command rates, a fresh collector per rate; per rate, commands sent vs
//!    CommandLatency received, what the collector counted per topic, and its CPU.
//!
//! DDS traffic stays on loopback: the benchmark re-runs itself inside a private network
//! namespace (`unshare -n`), and the collector child inherits it.
//! `cargo bench --bench collector_load`.

#[path = "common/netns.rs"]
mod netns;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use vla_perf::msg::action_msgs::{GoalInfo, GoalStatus, GoalStatusArray};
use vla_perf::msg::builtin_interfaces::Time;
use vla_perf::msg::cdr::to_cdr;
use vla_perf::msg::sensor_msgs::Image;
use vla_perf::msg::std_msgs::{Header, String as RosString};
use vla_perf::msg::unique_identifier_msgs::UUID;
use vla_perf::msg::{CommandLatency, MetricArray};
use vla_perf::transport::ros2_client::Ros2ClientTransport;
use vla_perf::transport::{
    wall_clock, Node, NodeOptions, Publisher, Qos, RawPublisher, Subscription, TopicCounters,
    Transport, Typed,
};

const WARM_UP: Duration = Duration::from_secs(5);
const LOAD_DOMAIN: u16 = 70;
const RATE_DOMAIN: u16 = 71;
/// Commands per second tried in part 2, each for `RATE_SECONDS` (`VLA_PERF_RATES=1000,5000`
/// overrides; empty skips part 2).
const RATES: [u32; 5] = [1_000, 2_000, 5_000, 10_000, 20_000];
const RATE_SECONDS: f64 = 3.0;
/// Gap between a command's voice and done messages in part 2: the two topics are read
/// independently, so a done overtaking its voice would be a FIFO mispairing, not a loss.
const RATE_GAP: Duration = Duration::from_millis(5);

// ---------------------------------------------------------------------------------------
// Messages without a Rust mirror in vla_perf: header-first structs, enough for the
// collector, which decodes only the header of these types.

/// An `audio_common_msgs/msg/AudioStamped`-like utterance: header and a little audio.
#[derive(Serialize)]
struct AudioStamped {
    header: Header,
    format: String,
    sample_rate: u32,
    data: Vec<u8>,
}

/// A cut-down `vision_msgs/msg/Detection2DArray`: header, then detections.
#[derive(Serialize)]
struct Detection2DArray {
    header: Header,
    detections: Vec<Detection2D>,
}

#[derive(Serialize)]
struct Detection2D {
    header: Header,
    class_id: String,
    score: f64,
    center_x: f64,
    center_y: f64,
    theta: f64,
    size_x: f64,
    size_y: f64,
    id: String,
}

fn header(frame_id: &str) -> Header {
    Header {
        stamp: Time::from(wall_clock()),
        frame_id: frame_id.into(),
    }
}

// ---------------------------------------------------------------------------------------
// The collector child.

struct Collector {
    child: Child,
    metrics_url: Arc<Mutex<Option<String>>>,
    /// Warnings and errors RustDDS logged through the collector (counted, not shown).
    dds_log_lines: Arc<std::sync::atomic::AtomicUsize>,
    _dir: tempfile::TempDir,
}

impl Collector {
    fn start(binary: &Path, yaml: &str, domain: u16) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let config = dir.path().join("collector.yaml");
        std::fs::write(&config, yaml).expect("write config");
        let mut command = Command::new(binary);
        // The binary's own default filter unless the caller chose one (RUST_LOG is inherited).
        // vla_perf's own info lines carry the Prometheus address.
        match std::env::var("RUST_LOG") {
            Ok(filter) if !filter.trim().is_empty() => {
                command.env("RUST_LOG", format!("{filter},vla_perf=info"))
            }
            _ => command.env("RUST_LOG", "info"),
        };
        let mut child = command
            .arg("--config")
            .arg(&config)
            .env("ROS_DOMAIN_ID", domain.to_string())
            .env_remove("ROS_AUTOMATIC_DISCOVERY_RANGE")
            .env_remove("ROS_LOCALHOST_ONLY")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
        let metrics_url = Arc::new(Mutex::new(None));
        let dds_log_lines = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        // Drain both pipes so the child never blocks on logging; keep the Prometheus
        // address (the config asks for port 0) and pass warnings and errors on.
        let forward = |stream: Box<dyn std::io::Read + Send>,
                       url: Arc<Mutex<Option<String>>>,
                       dds: Arc<std::sync::atomic::AtomicUsize>| {
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    if let Some(at) = line.find("http://") {
                        let addr: String = line[at + 7..]
                            .chars()
                            .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
                            .collect();
                        url.lock()
                            .unwrap()
                            .get_or_insert(format!("http://{addr}/metrics"));
                    }
                    let loud = line.contains("WARN") || line.contains("ERROR");
                    if loud && line.contains(" rustdds::") {
                        dds.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    } else if (loud && !line.contains("ROS_DISTRO is not set"))
                        || line.contains("panick")
                    {
                        eprintln!("  [collector] {line}");
                    }
                }
            });
        };
        forward(
            Box::new(child.stdout.take().expect("stdout")),
            metrics_url.clone(),
            dds_log_lines.clone(),
        );
        forward(
            Box::new(child.stderr.take().expect("stderr")),
            metrics_url.clone(),
            dds_log_lines.clone(),
        );
        Collector {
            child,
            metrics_url,
            dds_log_lines,
            _dir: dir,
        }
    }

    fn dds_log_lines(&self) -> usize {
        self.dds_log_lines
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// User + system CPU seconds the child has used so far.
    fn cpu_seconds(&self) -> f64 {
        cpu_seconds_of(&format!("/proc/{}/stat", self.pid()))
    }

    /// A `VmXXX` line of /proc/<pid>/status in MiB.
    fn memory_mib(&self, field: &str) -> f64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    }

    /// The collector's Prometheus exposition, if it can be fetched.
    fn scrape(&self) -> Option<String> {
        let url = self.metrics_url.lock().unwrap().clone()?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .timeout_global(Some(Duration::from_secs(5)))
            .build()
            .into();
        agent
            .get(&url)
            .call()
            .ok()?
            .body_mut()
            .read_to_string()
            .ok()
    }

    /// SIGINT (the collector's clean shutdown), then SIGKILL if it lingers.
    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

fn cpu_seconds_of(stat_path: &str) -> f64 {
    let stat = std::fs::read_to_string(stat_path).unwrap_or_default();
    // Fields after the command name, which may contain spaces, start at field 3 (state);
    // utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
    match (ticks(11), ticks(12)) {
        (Some(u), Some(s)) => (u + s) / clock_ticks(),
        _ => f64::NAN,
    }
}

/// Sum of the samples of `family` whose label set contains `label` (`""`: all of them).
fn prom_value(body: &str, family: &str, label: &str) -> Option<f64> {
    let mut found = None;
    for line in body.lines() {
        let Some(rest) = line.strip_prefix(family) else {
            continue;
        };
        if !(rest.starts_with('{') || rest.starts_with(' ')) || !rest.contains(label) {
            continue;
        }
        let value = rest
            .rsplit_once('}')
            .map_or(rest, |(_, v)| v)
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<f64>().ok());
        if let Some(v) = value {
            *found.get_or_insert(0.0) += v;
        }
    }
    found
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or_else(|| "?".into(), |v| format!("{v:.0}"))
}

// ---------------------------------------------------------------------------------------
// Shared bench-side plumbing.

fn node(name: &str, domain: u16) -> Box<dyn Node> {
    Ros2ClientTransport
        .create_node(&NodeOptions::new(name, "/").with_domain(domain))
        .expect("node")
}

/// Collects every CommandLatency the collector publishes.
fn collect_latencies(
    node: &mut dyn Node,
) -> (
    Arc<Mutex<Vec<CommandLatency>>>,
    tokio::task::JoinHandle<()>,
    Arc<TopicCounters>,
) {
    let mut sub = Subscription::<Typed<CommandLatency>>::typed(
        node,
        "/vla_perf/command_latency",
        Qos::reliable(100_000),
    )
    .expect("command_latency subscription");
    let counters = sub.counters().clone();
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = got.clone();
    let task = tokio::spawn(async move {
        while let Some(m) = sub.recv().await {
            sink.lock().unwrap().push(m.message);
        }
    });
    (got, task, counters)
}

/// Waits for the collector's first metrics: it is up and its publishers have matched ours.
async fn wait_until_up(metrics: &mut Subscription<Typed<MetricArray>>) -> bool {
    tokio::time::timeout(Duration::from_secs(40), metrics.recv())
        .await
        .is_ok_and(|m| m.is_some())
}

fn succeeded(got: &Mutex<Vec<CommandLatency>>) -> usize {
    got.lock()
        .unwrap()
        .iter()
        .filter(|m| m.outcome == CommandLatency::OUTCOME_SUCCEEDED)
        .count()
}

/// Waits until no new CommandLatency came for `quiet` (at most `limit`).
async fn drain(got: &Mutex<Vec<CommandLatency>>, quiet: Duration, limit: Duration) {
    let deadline = Instant::now() + limit;
    let mut last = got.lock().unwrap().len();
    let mut since = Instant::now();
    while Instant::now() < deadline && since.elapsed() < quiet {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = got.lock().unwrap().len();
        if now != last {
            last = now;
            since = Instant::now();
        }
    }
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

// ---------------------------------------------------------------------------------------
// Part 1: typical VLA load.

const LOAD_YAML: &str = "\
collector:
  robot_id: load_bench
  topics:
    - topic: /camera/image_raw
      msg_type: sensor_msgs/msg/Image
      expected_rate_hz: 30
  prometheus:
    enabled: true
    listen: 127.0.0.1:0
";

/// One thing the load generator publishes, at an offset from the start.
#[derive(Clone, Copy)]
enum Ev {
    Frame,
    Detections,
    Voice(usize),
    Transcript(usize),
    Plan(usize),
    Executing(usize),
    Succeeded(usize),
}

/// The generated gaps after the previous stage: transcript, plan, vision, action_start,
/// action_done (ms). Vision is the 10 Hz detection that follows the plan by 50 ms.
const GAPS_MS: [(&str, u64); 5] = [
    ("transcript", 300),
    ("plan", 800),
    ("vision", 50),
    ("action_start", 20),
    ("action_done", 1500),
];

/// Who publishes the 30 Hz camera in a typical-load run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Camera {
    /// The load generator, through RustDDS: its writer cuts a 900 KiB frame into 256-byte
    /// fragments in ~1.4 KiB datagrams (about 650 datagrams a frame), a worst case.
    RustDds,
    /// A Cyclone DDS process (tests/peers/cyclone_peer.py), as a camera driver on
    /// rmw_cyclonedds would: 1344-byte fragments packed into datagrams of up to 14.7 KiB.
    Cyclone,
    /// No camera: the rest of the load alone, to tell the camera's cost from it.
    Off,
}

impl Camera {
    fn describe(self) -> &'static str {
        match self {
            Camera::RustDds => "camera published by RustDDS (256 B fragments)",
            Camera::Cyclone => "camera published by Cyclone DDS (python peer)",
            Camera::Off => "no camera",
        }
    }
}

fn load_schedule(total: Duration, camera: Camera) -> (Vec<(Duration, Ev)>, usize) {
    let total_ms = total.as_millis() as u64;
    let mut events = Vec::new();
    let frame = Duration::from_nanos(1_000_000_000 / 30);
    let mut t = Duration::ZERO;
    while camera == Camera::RustDds && t < total {
        events.push((t, Ev::Frame));
        t += frame;
    }
    // Detections at 50 ms + k * 100 ms, so one follows every plan by exactly 50 ms.
    let mut ms = 50;
    while ms < total_ms {
        events.push((Duration::from_millis(ms), Ev::Detections));
        ms += 100;
    }
    let pipeline_ms: u64 = GAPS_MS.iter().map(|(_, g)| g).sum();
    let mut commands = 0;
    loop {
        let voice = 500 + 1000 * commands as u64;
        if voice + pipeline_ms + 500 > total_ms {
            break;
        }
        let transcript = voice + GAPS_MS[0].1;
        let plan = transcript + GAPS_MS[1].1;
        let start = plan + GAPS_MS[2].1 + GAPS_MS[3].1;
        let done = start + GAPS_MS[4].1;
        for (at, ev) in [
            (voice, Ev::Voice(commands)),
            (transcript, Ev::Transcript(commands)),
            (plan, Ev::Plan(commands)),
            (start, Ev::Executing(commands)),
            (done, Ev::Succeeded(commands)),
        ] {
            events.push((Duration::from_millis(at), ev));
        }
        commands += 1;
    }
    // Stable: at equal offsets the detection (pushed first) precedes the status.
    events.sort_by_key(|(at, _)| *at);
    (events, commands)
}

struct LoadPublishers {
    image: Box<dyn RawPublisher>,
    detections: Box<dyn RawPublisher>,
    voice: Box<dyn RawPublisher>,
    transcript: Publisher<RosString>,
    plan: Publisher<RosString>,
    status: Publisher<GoalStatusArray>,
}

struct ScheduleReport {
    published: usize,
    errors: usize,
    max_lag: Duration,
    generator_cpu: f64,
}

fn goal_id(i: usize) -> UUID {
    let mut uuid = [0xA5; 16];
    uuid[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
    UUID { uuid }
}

/// Publishes `events` at their offsets from `t0` (late events go out at once: the lag is
/// reported rather than the schedule shifted).
fn run_load_schedule(
    p: LoadPublishers,
    events: Vec<(Duration, Ev)>,
    t0: Instant,
) -> ScheduleReport {
    let cpu0 = cpu_seconds_of("/proc/self/stat");
    let (w, h) = (640u32, 480u32);
    let mut image = to_cdr(&Image {
        header: header("camera"),
        height: h,
        width: w,
        encoding: "rgb8".into(),
        is_bigendian: 0,
        step: w * 3,
        data: (0..w * h * 3).map(|i| (i % 251) as u8).collect(),
    })
    .expect("image");
    let detections = |stamp: &Header| {
        let detection = |k: usize| Detection2D {
            header: stamp.clone(),
            class_id: ["cup", "bowl", "sponge"][k % 3].into(),
            score: 0.9 - k as f64 * 0.1,
            center_x: 120.0 + 80.0 * k as f64,
            center_y: 240.0,
            theta: 0.0,
            size_x: 60.0,
            size_y: 90.0,
            id: format!("obj{k}"),
        };
        to_cdr(&Detection2DArray {
            header: stamp.clone(),
            detections: (0..3).map(detection).collect(),
        })
        .expect("detections")
    };
    // The action server republishes every goal it still tracks: the last few.
    let mut goals: Vec<GoalStatus> = Vec::new();
    let (mut published, mut errors, mut max_lag) = (0, 0, Duration::ZERO);
    for (at, ev) in events {
        let due = t0 + at;
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        } else {
            max_lag = max_lag.max(now - due);
        }
        let result = match ev {
            Ev::Frame => {
                // Only the stamp changes: patch it in place of re-encoding 900 KiB.
                let stamp = Time::from(wall_clock());
                image[4..8].copy_from_slice(&stamp.sec.to_le_bytes());
                image[8..12].copy_from_slice(&stamp.nanosec.to_le_bytes());
                p.image.publish_cdr(&image)
            }
            Ev::Detections => p.detections.publish_cdr(&detections(&header("camera"))),
            Ev::Voice(i) => {
                let utterance = AudioStamped {
                    header: header("microphone"),
                    format: "S16LE".into(),
                    sample_rate: 16_000,
                    data: vec![i as u8; 3200],
                };
                p.voice.publish_cdr(&to_cdr(&utterance).expect("audio"))
            }
            Ev::Transcript(i) => p.transcript.publish(&RosString {
                data: format!(
                    r#"{{"text": "pick up the red cup number {i}", "confidence": 0.93}}"#
                ),
            }),
            Ev::Plan(i) => p.plan.publish(&RosString {
                data: format!(r#"{{"command_id": "c{i}", "status": "accepted"}}"#),
            }),
            Ev::Executing(i) => {
                goals.push(GoalStatus {
                    goal_info: GoalInfo {
                        goal_id: goal_id(i),
                        stamp: Time::from(wall_clock()),
                    },
                    status: GoalStatus::STATUS_EXECUTING,
                });
                if goals.len() > 4 {
                    goals.remove(0);
                }
                p.status.publish(&GoalStatusArray {
                    status_list: goals.clone(),
                })
            }
            Ev::Succeeded(i) => {
                if let Some(g) = goals.iter_mut().find(|g| g.goal_info.goal_id == goal_id(i)) {
                    g.status = GoalStatus::STATUS_SUCCEEDED;
                }
                p.status.publish(&GoalStatusArray {
                    status_list: goals.clone(),
                })
            }
        };
        match result {
            Ok(()) => published += 1,
            Err(e) => {
                errors += 1;
                if errors == 1 {
                    eprintln!("  publish error: {e}");
                }
            }
        }
    }
    ScheduleReport {
        published,
        errors,
        max_lag,
        generator_cpu: cpu_seconds_of("/proc/self/stat") - cpu0,
    }
}

/// Starts the Cyclone DDS camera: `frames` 640x480 rgb8 images at 30 Hz, best effort,
/// stamped when sent, once the collector's reader has matched.
fn cyclone_camera(domain: u16, frames: usize, subscribers: usize) -> Child {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let peer = repo.join("tests/peers/cyclone_peer.py");
    // The project's Python environment (`bash .ci/setup`), as the tests use.
    Command::new(repo.join(".venv/bin/python3"))
        .arg(peer)
        .args(["publish", "--topic", "/camera/image_raw"])
        .args(["--type", "sensor_msgs/msg/Image", "--image", "640x480"])
        .args(["--rate", "30", "--stamp", "now", "--qos", "best_effort"])
        .args(["--wait-subscribers", &subscribers.to_string()])
        .args(["--timeout", "20", "--linger", "0"])
        .args([
            "--domain",
            &domain.to_string(),
            "--count",
            &frames.to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 tests/peers/cyclone_peer.py")
}

/// Only the header of an image, which is all a header-only subscriber deserializes.
#[derive(serde::Deserialize)]
struct ImageHeader {
    #[allow(dead_code)]
    header: Header,
}

const BARE_CAMERA: &str = "VLA_PERF_BARE_CAMERA";

/// Re-runs this bench as a bare ros2-client subscriber to `/camera/image_raw`.
fn bare_camera_subscriber(domain: u16, seconds: u64) -> Child {
    Command::new(std::env::current_exe().expect("bench path"))
        .env(BARE_CAMERA, format!("{domain}:{seconds}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("bare subscriber")
}

/// The bare subscriber's body: a ros2-client node with one best-effort subscription,
/// taking samples for `seconds`.
fn run_bare_camera_subscriber(spec: &str) {
    use futures::StreamExt;
    use ros2_client::{Context, MessageTypeName, Name, NodeName, NodeOptions as RosNodeOptions};
    let mut parts = spec.split(':').map(|v| v.parse::<u64>().unwrap_or(0));
    let (domain, seconds) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    let participant = ros2_client::dds::rustdds::DomainParticipantBuilder::new(domain as u16)
        .with_only_networks([std::net::IpAddr::from([127, 0, 0, 1])])
        .build()
        .expect("participant");
    let context = Context::from_domain_participant(participant).expect("context");
    let mut node = context
        .new_node(
            NodeName::new("/", "bare_camera").expect("name"),
            RosNodeOptions::new(),
        )
        .expect("node");
    let qos = ros2_client::QosProfile::publisher_default()
        .reliability_best_effort()
        .history(ros2_client::qos::History::KeepLast { depth: 100 });
    let topic = node
        .create_topic(
            &Name::new("/camera", "image_raw").expect("topic"),
            MessageTypeName::new("sensor_msgs", "Image"),
            &qos,
        )
        .expect("topic");
    let sub = node
        .create_subscription::<ImageHeader>(&topic, Some(qos))
        .expect("subscription");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let stream = sub.async_stream();
        futures::pin_mut!(stream);
        let _ = tokio::time::timeout(Duration::from_secs(seconds), async {
            while let Some(sample) = stream.next().await {
                std::hint::black_box(&sample);
            }
        })
        .await;
    });
}

async fn typical_load(binary: &Path, seconds: u64, camera: Camera, domain: u16) {
    let total = Duration::from_secs(seconds);
    let mut bench = node("vla_perf_load_generator", domain);
    let (got, receiver, counters) = collect_latencies(bench.as_mut());
    let mut metrics = Subscription::<Typed<MetricArray>>::typed(
        bench.as_mut(),
        "/vla_perf/metrics",
        Qos::reliable(10),
    )
    .expect("metrics subscription");
    let n = bench.as_mut();
    let publishers = LoadPublishers {
        image: n
            .create_raw_publisher(
                "/camera/image_raw",
                "sensor_msgs/msg/Image",
                Qos::sensor_data(),
            )
            .expect("image publisher"),
        detections: n
            .create_raw_publisher(
                "/vision/detections",
                "vision_msgs/msg/Detection2DArray",
                Qos::reliable(10),
            )
            .expect("detections publisher"),
        voice: n
            .create_raw_publisher(
                "/audio/utterance",
                "audio_common_msgs/msg/AudioStamped",
                Qos::reliable(10),
            )
            .expect("voice publisher"),
        transcript: Publisher::new(n, "/asr/transcript", Qos::reliable(10)).expect("transcript"),
        plan: Publisher::new(n, "/planner/plan", Qos::reliable(10)).expect("plan"),
        status: Publisher::new(n, "/execute_plan/_action/status", Qos::latched()).expect("status"),
    };
    let collector = Collector::start(binary, LOAD_YAML, domain);
    let started = Instant::now();
    if !wait_until_up(&mut metrics).await {
        println!("typical load: the collector never published metrics; skipped");
        collector.stop();
        return;
    }
    let up_after = started.elapsed();
    // Give the collector's readers time to match our writers (volatile data published
    // before that is not delivered).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_ready = collector.memory_mib("VmRSS:");
    let (events, commands) = load_schedule(total, camera);
    let mut frames = events.iter().filter(|e| matches!(e.1, Ev::Frame)).count();
    // Beside the collector, a bare ros2-client subscriber to the camera in its own process:
    // the cost of receiving the stream through RustDDS at all, the floor for any node.
    let mut bare = (camera != Camera::Off).then(|| bare_camera_subscriber(domain, seconds + 5));
    let mut cyclone = (camera == Camera::Cyclone).then(|| {
        frames = (seconds * 30) as usize;
        cyclone_camera(domain, frames, 1 + usize::from(bare.is_some()))
    });
    let t0 = Instant::now();
    let schedule = tokio::task::spawn_blocking(move || run_load_schedule(publishers, events, t0));
    tokio::time::sleep_until((t0 + WARM_UP).into()).await;
    let (cpu_start, rss_start) = (collector.cpu_seconds(), collector.memory_mib("VmRSS:"));
    let bare_start = bare
        .as_ref()
        .map(|b| cpu_seconds_of(&format!("/proc/{}/stat", b.id())));
    let measured_from = Instant::now();
    tokio::time::sleep_until((t0 + total).into()).await;
    let (cpu_end, rss_end) = (collector.cpu_seconds(), collector.memory_mib("VmRSS:"));
    let bare_end = bare
        .as_ref()
        .map(|b| cpu_seconds_of(&format!("/proc/{}/stat", b.id())));
    let measured = measured_from.elapsed().as_secs_f64();
    let peak = collector.memory_mib("VmHWM:");
    let report = schedule.await.expect("schedule");
    drain(&got, Duration::from_secs(1), Duration::from_secs(5)).await;
    if let Some(child) = cyclone.as_mut() {
        // Frames it actually sent: one JSON line each.
        let _ = child.wait();
        if let Some(out) = child.stdout.take() {
            frames = BufReader::new(out).lines().count();
        }
    }
    let scrape = collector.scrape();
    let dds_lines = collector.dds_log_lines();
    collector.stop();
    receiver.abort();

    let got = got.lock().unwrap().clone();
    let ok: Vec<&CommandLatency> = got
        .iter()
        .filter(|m| m.outcome == CommandLatency::OUTCOME_SUCCEEDED)
        .collect();
    let mut ids: Vec<&str> = ok.iter().map(|m| m.command_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let cpu = (cpu_end - cpu_start) / measured * 100.0;
    println!(
        "typical VLA load, {seconds} s, {}: 30 Hz 640x480 rgb8 Image (watched), 10 Hz Detection2DArray, \
         1 command/s through 6 stages, resources at 1 Hz; collector up after {:.1} s",
        camera.describe(),
        up_after.as_secs_f64()
    );
    println!(
        "  collector CPU: {cpu:.2}% of one core (utime+stime over {measured:.1} s after a {} s warm-up)   target <= 2%",
        WARM_UP.as_secs()
    );
    if let (Some(start), Some(end), Some(child)) = (bare_start, bare_end, bare.as_mut()) {
        let _ = child.kill();
        let _ = child.wait();
        println!(
            "  bare ros2-client subscriber to the camera alone (same run, own process): {:.2}% of one core",
            (end - start) / measured * 100.0
        );
    }
    println!(
        "  collector RSS: {rss_ready:.1} MiB when up, {rss_start:.1} MiB after warm-up, {rss_end:.1} MiB at end, peak {peak:.1} MiB   target <= 50 MB ({:.1} MiB)",
        50e6 / 1048576.0
    );
    println!(
        "  CommandLatency: {} received ({} succeeded, {} distinct command ids) for {commands} commands sent; bench queue drops {}",
        got.len(),
        ok.len(),
        ids.len(),
        counters.queue_drops()
    );
    for (i, (stage, gap)) in GAPS_MS.iter().enumerate() {
        let lat: Vec<f64> = ok
            .iter()
            .filter_map(|m| m.stages.get(i + 1))
            .filter(|s| s.reached)
            .map(|s| s.latency)
            .collect();
        let reached = lat.len();
        println!(
            "  stage {stage:>12}: generated gap {:.3} s, collector's median {} (reached in {reached} of {} succeeded)",
            *gap as f64 / 1000.0,
            median(lat).map_or("-".into(), |m| format!("{m:.3} s")),
            ok.len()
        );
    }
    let e2e = median(ok.iter().map(|m| m.end_to_end).collect());
    let generated: u64 = GAPS_MS.iter().map(|(_, g)| g).sum();
    println!(
        "  end to end: generated {:.3} s, collector's median {}",
        generated as f64 / 1000.0,
        e2e.map_or("-".into(), |m| format!("{m:.3} s"))
    );
    if let Some(body) = scrape {
        let topic =
            |t: &str| prom_value(&body, "vla_perf_topic_messages_total", &format!("\"{t}\""));
        println!(
            "  collector counted (Prometheus): camera {} of {frames} frames, detections {}, voice {}, transcript {}, plan {}, action status {}; dropped events {}",
            fmt_opt(topic("/camera/image_raw")),
            fmt_opt(topic("/vision/detections")),
            fmt_opt(topic("/audio/utterance")),
            fmt_opt(topic("/asr/transcript")),
            fmt_opt(topic("/planner/plan")),
            fmt_opt(topic("/execute_plan/_action/status")),
            fmt_opt(prom_value(&body, "vla_perf_dropped_events_total", "")),
        );
    }
    println!(
        "  collector log: {dds_lines} RustDDS WARN/ERROR lines (RUST_LOG={})",
        std::env::var("RUST_LOG").unwrap_or_else(|_| "info, the binary's default".into())
    );
    println!(
        "  load generator: {} messages published, {} errors, max schedule lag {:.1} ms, its own CPU {:.1}% of one core",
        report.published,
        report.errors,
        report.max_lag.as_secs_f64() * 1e3,
        report.generator_cpu / total.as_secs_f64() * 100.0
    );
}

// ---------------------------------------------------------------------------------------
// Part 2: stage-event rate before loss.

const RATE_YAML: &str = "\
collector:
  robot_id: rate_bench
  stages:
    - name: voice
      topic: /bench/voice
      msg_type: std_msgs/msg/String
      correlation: {mode: fifo}
    - name: done
      topic: /bench/done
      msg_type: std_msgs/msg/String
      correlation: {mode: fifo}
  prometheus:
    enabled: true
    listen: 127.0.0.1:0
";

struct RateRow {
    rate: u32,
    sent: usize,
    achieved: f64,
    publish_errors: usize,
    received: usize,
    /// Timed out, abandoned, failed (by name) among what came back.
    other_outcomes: Vec<(&'static str, usize)>,
    voice_seen: Option<f64>,
    done_seen: Option<f64>,
    /// Collector CPU as % of one core while the load was sent.
    cpu_sending: f64,
    /// Collector CPU per command, sending and draining together.
    cpu_per_command_us: f64,
    bench_queue_drops: u64,
}

/// Publishes `count` commands at `rate`: voice i at i/rate, done i `RATE_GAP` later.
fn run_rate_schedule(
    voice: &Publisher<RosString>,
    done: &Publisher<RosString>,
    rate: u32,
    count: usize,
) -> (Duration, usize) {
    let t0 = Instant::now();
    let (mut next_voice, mut next_done, mut errors) = (0usize, 0usize, 0usize);
    let due = |i: usize| Duration::from_secs_f64(i as f64 / rate as f64);
    while next_done < count {
        let elapsed = t0.elapsed();
        let voice_target = ((elapsed.as_secs_f64() * rate as f64) as usize + 1).min(count);
        while next_voice < voice_target {
            let data = format!("pick up the red cup #{next_voice:08}");
            errors += voice.publish(&RosString { data }).is_err() as usize;
            next_voice += 1;
        }
        while next_done < next_voice && due(next_done) + RATE_GAP <= elapsed {
            let data = format!("done #{next_done:08}");
            errors += done.publish(&RosString { data }).is_err() as usize;
            next_done += 1;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    (t0.elapsed(), errors)
}

async fn rate_step(binary: &Path, domain: u16, rate: u32) -> Option<RateRow> {
    let mut bench = node("vla_perf_rate_generator", domain);
    let (got, receiver, counters) = collect_latencies(bench.as_mut());
    let mut metrics = Subscription::<Typed<MetricArray>>::typed(
        bench.as_mut(),
        "/vla_perf/metrics",
        Qos::reliable(10),
    )
    .expect("metrics subscription");
    // Deep writer history, so that loss is the collector's and not our keep-last window's.
    let voice = Publisher::<RosString>::new(bench.as_mut(), "/bench/voice", Qos::reliable(10_000))
        .expect("voice");
    let done = Publisher::<RosString>::new(bench.as_mut(), "/bench/done", Qos::reliable(10_000))
        .expect("done");
    let collector = Collector::start(binary, RATE_YAML, domain);
    if !wait_until_up(&mut metrics).await {
        println!("  {rate} commands/s: the collector never published metrics; skipped");
        collector.stop();
        return None;
    }
    // Prime both directions: single commands until one comes back.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut primed = 0;
    while succeeded(&got) == 0 && Instant::now() < deadline {
        let _ = voice.publish(&RosString {
            data: "prime".into(),
        });
        tokio::time::sleep(RATE_GAP).await;
        let _ = done.publish(&RosString {
            data: "prime done".into(),
        });
        primed += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    if succeeded(&got) == 0 {
        println!("  {rate} commands/s: no primed command came back in 30 s; skipped");
        collector.stop();
        return None;
    }
    drain(&got, Duration::from_millis(500), Duration::from_secs(5)).await;
    let base_ok = succeeded(&got);
    let base_all = got.lock().unwrap().len();
    let base_scrape = collector.scrape();
    let count = (rate as f64 * RATE_SECONDS) as usize;
    let cpu0 = collector.cpu_seconds();
    let (sent_tx, sent_rx) = tokio::sync::oneshot::channel();
    let schedule = tokio::task::spawn_blocking(move || {
        let r = run_rate_schedule(&voice, &done, rate, count);
        let _ = sent_tx.send(());
        // Keep the writers up while the reliable protocol catches up.
        std::thread::sleep(Duration::from_secs(1));
        drop((voice, done));
        r
    });
    let _ = sent_rx.await;
    let cpu_sent = collector.cpu_seconds();
    let (elapsed, publish_errors) = schedule.await.expect("schedule");
    drain(&got, Duration::from_secs(1), Duration::from_secs(10)).await;
    let cpu_drained = collector.cpu_seconds();
    let scrape = collector.scrape();
    collector.stop();
    receiver.abort();
    let seen = |topic: &str| {
        let label = format!("\"{topic}\"");
        let after = prom_value(scrape.as_deref()?, "vla_perf_topic_messages_total", &label)?;
        let before = prom_value(
            base_scrape.as_deref().unwrap_or(""),
            "vla_perf_topic_messages_total",
            &label,
        )
        .unwrap_or(primed as f64);
        Some(after - before)
    };
    let received = succeeded(&got) - base_ok;
    let others = |outcome: u8| {
        got.lock().unwrap()[base_all..]
            .iter()
            .filter(|m| m.outcome == outcome)
            .count()
    };
    let other_outcomes = [
        ("failed", CommandLatency::OUTCOME_FAILED),
        ("timed_out", CommandLatency::OUTCOME_TIMED_OUT),
        ("abandoned", CommandLatency::OUTCOME_ABANDONED),
    ]
    .into_iter()
    .map(|(name, o)| (name, others(o)))
    .filter(|(_, n)| *n > 0)
    .collect();
    Some(RateRow {
        rate,
        sent: count,
        achieved: count as f64 / elapsed.as_secs_f64(),
        publish_errors,
        received,
        other_outcomes,
        voice_seen: seen("/bench/voice"),
        done_seen: seen("/bench/done"),
        cpu_sending: (cpu_sent - cpu0) / elapsed.as_secs_f64() * 100.0,
        cpu_per_command_us: (cpu_drained - cpu0) / count as f64 * 1e6,
        bench_queue_drops: counters.queue_drops(),
    })
}

async fn stage_rate(binary: &Path) {
    println!(
        "stage-event rate before loss: 2-stage String pipeline (voice, done; FIFO; reliable), \
         {RATE_SECONDS} s per rate, done {} ms after voice, fresh collector per rate",
        RATE_GAP.as_millis()
    );
    let rates: Vec<u32> = match std::env::var("VLA_PERF_RATES") {
        Ok(list) => list
            .split(',')
            .filter_map(|r| r.trim().parse().ok())
            .collect(),
        Err(_) => RATES.to_vec(),
    };
    if rates.is_empty() {
        println!("  skipped (VLA_PERF_RATES is empty)");
        return;
    }
    let mut best = None;
    for (k, rate) in rates.into_iter().enumerate() {
        let Some(row) = rate_step(binary, RATE_DOMAIN + k as u16, rate).await else {
            continue;
        };
        let lost = row.sent.saturating_sub(row.received);
        let others: Vec<String> = row
            .other_outcomes
            .iter()
            .map(|(name, n)| format!("{n} {name}"))
            .collect();
        println!(
            "  {:>6} commands/s ({:>6} stage events/s): sent {} (achieved {:.0}/s, {} publish errors); \
             CommandLatency succeeded {} ({} short{}); collector counted voice {} done {}; \
             collector CPU {:.1}% of one core while sending, {:.0} us per command{}",
            row.rate,
            2 * row.rate,
            row.sent,
            row.achieved,
            row.publish_errors,
            row.received,
            lost,
            if others.is_empty() { String::new() } else { format!(", other outcomes: {}", others.join(", ")) },
            fmt_opt(row.voice_seen),
            fmt_opt(row.done_seen),
            row.cpu_sending,
            row.cpu_per_command_us,
            if row.bench_queue_drops > 0 {
                format!(", bench queue drops {}", row.bench_queue_drops)
            } else {
                String::new()
            }
        );
        if lost == 0 && row.other_outcomes.is_empty() {
            best = Some(row.rate);
        }
    }
    match best {
        Some(rate) => println!(
            "  highest rate with zero loss: {rate} commands/s ({} stage events/s)",
            2 * rate
        ),
        None => println!("  no rate ran without loss"),
    }
}

fn collector_binary() -> PathBuf {
    let built = PathBuf::from(env!("CARGO_BIN_EXE_collector"));
    if built.exists() {
        return built;
    }
    // Fall back to the release binary beside this bench (target/release/deps/..).
    let exe = std::env::current_exe().expect("bench path");
    exe.parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("collector"))
        .filter(|p| p.exists())
        .expect("the collector binary (cargo build --release --bin collector)")
}

fn main() {
    if std::env::args().any(|a| a == "--test" || a == "--list") {
        return;
    }
    if let Ok(spec) = std::env::var(BARE_CAMERA) {
        run_bare_camera_subscriber(&spec);
        return;
    }
    netns::enter();
    let binary = collector_binary();
    let seconds = std::env::var("VLA_PERF_LOAD_SECONDS")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|s| *s > WARM_UP.as_secs() + 5)
        .unwrap_or(60);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!("collector binary: {}", binary.display());
    // Side by side in one run; VLA_PERF_LOAD_CAMERAS picks some (rustdds,cyclone,off).
    let chosen =
        std::env::var("VLA_PERF_LOAD_CAMERAS").unwrap_or_else(|_| "cyclone,rustdds,off".into());
    for (i, camera) in [
        ("cyclone", Camera::Cyclone),
        ("rustdds", Camera::RustDds),
        ("off", Camera::Off),
    ]
    .into_iter()
    .enumerate()
    .filter(|(_, (name, _))| chosen.split(',').any(|c| c.trim() == *name))
    .map(|(i, (_, c))| (i, c))
    {
        runtime.block_on(typical_load(
            &binary,
            seconds,
            camera,
            LOAD_DOMAIN + 10 * i as u16,
        ));
    }
    runtime.block_on(stage_rate(&binary));
}
