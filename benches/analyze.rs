//! Offline analysis throughput: `vla-perf analyze` over a big MCAP recording against plain
//! iteration over the same file with the `mcap` crate (the I/O ceiling).
//!
//! Writes a recording into a temporary directory first (default 1 GiB: 30 Hz 640x480 rgb8
//! images, 10 Hz header-first detections, one six-message command every 2 s), then runs,
//! alternating over two rounds, (a) the mcap crate's linear reader visiting every record
//! and (b) the full analysis (header-only decoding, the collector pipeline, report files).
//! Prints MB/s and messages/s of each, their ratio, and peak RSS of each phase.
//! `VLA_PERF_BENCH_BAG_MB` sets the recording's size.

use std::collections::BTreeMap;
use std::io::{BufWriter, Read};
use std::path::Path;
use std::time::{Duration, Instant};

use mcap::records::MessageHeader;
use mcap::sans_io::linear_reader::{LinearReadEvent, LinearReader};
use vla_perf::analyze::{self, Options, Outputs};
use vla_perf::config::CollectorConfig;
use vla_perf::msg::builtin_interfaces::Time;
use vla_perf::msg::cdr::to_cdr;
use vla_perf::msg::std_msgs::{Header, String as RosString};

const CONFIG: &str = r#"
collector:
  prometheus: {enabled: false}
  command_timeout: 10s
  stages:
    - {name: voice, topic: /vla/voice, msg_type: std_msgs/msg/String, correlation: {mode: fifo}}
    - name: plan
      topic: /vla/plan
      msg_type: std_msgs/msg/String
      correlation: {mode: id, field: command_id}
      json: {id: command_id}
    - name: vision
      topic: /vision/detections
      msg_type: vision_msgs/msg/Detection2DArray
      correlation: {mode: fifo}
    - {name: done, topic: /vla/done, msg_type: std_msgs/msg/String, correlation: {mode: fifo}}
  topics:
    - {topic: /camera/image_raw, msg_type: sensor_msgs/msg/Image, expected_rate_hz: 30}
"#;

/// A `sensor_msgs/Image` with `payload` bytes of pixels, CDR little endian.
fn image(stamp: Duration, width: u32, height: u32) -> Vec<u8> {
    let mut out = to_cdr(&Header {
        stamp: Time::from(stamp),
        frame_id: "camera".into(),
    })
    .expect("a header encodes");
    let align = |out: &mut Vec<u8>, n: usize| {
        while !(out.len() - 4).is_multiple_of(n) {
            out.push(0);
        }
    };
    align(&mut out, 4);
    out.extend_from_slice(&height.to_le_bytes());
    out.extend_from_slice(&width.to_le_bytes());
    out.extend_from_slice(&5u32.to_le_bytes());
    out.extend_from_slice(b"rgb8\0");
    out.push(0); // is_bigendian
    align(&mut out, 4);
    out.extend_from_slice(&(width * 3).to_le_bytes());
    let len = (width * height * 3) as usize;
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out.resize(out.len() + len, 0x5a);
    out
}

/// A header-first message of `extra` bytes after the header (a detection array).
fn detections(stamp: Duration, extra: usize) -> Vec<u8> {
    let mut out = to_cdr(&Header {
        stamp: Time::from(stamp),
        frame_id: "camera".into(),
    })
    .expect("a header encodes");
    out.resize(out.len() + extra, 1);
    out
}

fn text(s: &str) -> Vec<u8> {
    to_cdr(&RosString { data: s.into() }).expect("a string encodes")
}

/// Writes the recording; returns its message count. `images`: 30 Hz 640x480 camera plus
/// 10 Hz detections; else only small messages: 1 kHz detections of 200 bytes.
fn write_bag(path: &Path, target_bytes: u64, images: bool) -> u64 {
    let file = std::fs::File::create(path).expect("temp file");
    let mut w = mcap::WriteOptions::new()
        .profile("ros2")
        .compression(None)
        .create(BufWriter::with_capacity(1 << 20, file))
        .expect("mcap writer");
    let mut channels = BTreeMap::new();
    for (topic, ty) in [
        ("/camera/image_raw", "sensor_msgs/msg/Image"),
        ("/vision/detections", "vision_msgs/msg/Detection2DArray"),
        ("/vla/voice", "std_msgs/msg/String"),
        ("/vla/plan", "std_msgs/msg/String"),
        ("/vla/done", "std_msgs/msg/String"),
    ] {
        let schema = w
            .add_schema(ty, "ros2msg", b"# omitted in this benchmark\n")
            .expect("schema");
        let id = w
            .add_channel(schema, topic, "cdr", &BTreeMap::new())
            .expect("channel");
        channels.insert(topic, id);
    }
    let start = Duration::from_secs(1_700_000_000);
    let mut out = Out {
        w,
        channels,
        seq: 0,
        written: 0,
        messages: 0,
    };
    // One tick per 1/30 s (1 ms for small messages): an image every tick, detections
    // every third (every tick), a command every 60 ticks (2000).
    let (period, every, command) = if images {
        (33_333_333, 3, 60)
    } else {
        (1_000_000, 1, 2000)
    };
    let mut tick = 0u64;
    while out.written < target_bytes {
        let at = start + Duration::from_nanos(tick * period);
        if images {
            out.put("/camera/image_raw", at, &image(at, 640, 480));
        }
        if tick.is_multiple_of(every) {
            let d = at + Duration::from_micros(500);
            out.put(
                "/vision/detections",
                d,
                &detections(d, if images { 400 } else { 200 }),
            );
        }
        if tick % command == 5 {
            let id = format!("c{}", tick / command);
            out.put("/vla/voice", at, &text("pick up the red cup"));
            let plan = format!(r#"{{"command_id": "{id}", "steps": ["grasp"]}}"#);
            out.put("/vla/plan", at + Duration::from_millis(5), &text(&plan));
        }
        if tick % command == command * 2 / 3 {
            out.put("/vla/done", at, &text("done"));
        }
        tick += 1;
    }
    out.w.finish().expect("finish");
    out.messages
}

/// The writer and what went through it.
struct Out {
    w: mcap::Writer<BufWriter<std::fs::File>>,
    channels: BTreeMap<&'static str, u16>,
    seq: u32,
    written: u64,
    messages: u64,
}

impl Out {
    fn put(&mut self, topic: &str, at: Duration, data: &[u8]) {
        self.seq += 1;
        let t = at.as_nanos() as u64;
        self.w
            .write_to_known_channel(
                &MessageHeader {
                    channel_id: self.channels[topic],
                    sequence: self.seq,
                    log_time: t,
                    publish_time: t,
                },
                data,
            )
            .expect("write");
        self.written += data.len() as u64;
        self.messages += 1;
    }
}

/// The mcap crate's linear reader over the file: every record visited, messages counted.
fn plain_iteration(path: &Path) -> (u64, u64) {
    let mut file = std::fs::File::open(path).expect("open");
    let mut reader = LinearReader::new();
    let (mut messages, mut bytes) = (0u64, 0u64);
    while let Some(event) = reader.next_event() {
        match event.expect("a valid file") {
            LinearReadEvent::ReadRequest(n) => {
                // Block reads, as the analysis does: a system call per record would make
                // the ceiling a measure of syscalls.
                let read = file.read(reader.insert(n.max(256 << 10))).expect("read");
                reader.notify_read(read);
                bytes += read as u64;
            }
            LinearReadEvent::Record { opcode, data } => {
                if opcode == mcap::records::op::MESSAGE {
                    messages += 1;
                    std::hint::black_box(data);
                }
            }
        }
    }
    (messages, bytes)
}

/// Resets the peak RSS counter (Linux `clear_refs`), so each phase reports its own peak.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Peak resident memory since the last reset, MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

#[derive(Clone, Copy)]
struct Figure {
    seconds: f64,
    messages: u64,
    bytes: u64,
    peak_mib: f64,
}

impl Figure {
    fn mb_s(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.seconds
    }
    fn msg_s(&self) -> f64 {
        self.messages as f64 / self.seconds
    }
}

fn analyse(bag: &Path, config: &CollectorConfig, dir: &Path, verify: bool) -> Figure {
    reset_peak_rss();
    let t = Instant::now();
    let outputs = Outputs {
        dir: dir.join("report"),
        ..Outputs::default()
    };
    let a = analyze::run(
        bag,
        config,
        None,
        Options {
            verify_checksums: verify,
            ..Options::default()
        },
        &outputs,
        &mut |_, _| {},
    )
    .expect("analysis");
    if a.report.commands.succeeded == 0 {
        println!("  (no command completed: the recording is shorter than one command)");
    }
    Figure {
        seconds: t.elapsed().as_secs_f64(),
        messages: a.read.messages,
        bytes: a.read.bytes,
        peak_mib: peak_rss_mib(),
    }
}

fn plain(bag: &Path) -> Figure {
    reset_peak_rss();
    let t = Instant::now();
    let (messages, bytes) = plain_iteration(bag);
    Figure {
        seconds: t.elapsed().as_secs_f64(),
        messages,
        bytes,
        peak_mib: peak_rss_mib(),
    }
}

fn print(name: &str, f: &Figure) {
    println!(
        "  {name:<34} {:8.1} MB/s {:10.0} messages/s  ({:.2} s, peak RSS {:.1} MiB)",
        f.mb_s(),
        f.msg_s(),
        f.seconds,
        f.peak_mib
    );
}

/// Best of `rounds` alternating runs of plain iteration and analysis (with and without
/// checksum verification), printed with the ratios.
fn compare(label: &str, bag: &Path, config: &CollectorConfig, dir: &Path, rounds: usize) {
    let size = std::fs::metadata(bag).expect("bag").len();
    let (mut p, mut a, mut n) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        p.push(plain(bag));
        a.push(analyse(bag, config, dir, true));
        n.push(analyse(bag, config, dir, false));
    }
    let best = |v: &[Figure]| {
        v.iter()
            .min_by(|a, b| a.seconds.total_cmp(&b.seconds))
            .copied()
            .expect("rounds > 0")
    };
    let (p, a, n) = (best(&p), best(&a), best(&n));
    println!(
        "{label}: {:.1} MB, {} messages (best of {rounds}, page cache warm)",
        size as f64 / 1e6,
        p.messages
    );
    print("plain mcap iteration (ceiling)", &p);
    print("vla-perf analyze", &a);
    print("vla-perf analyze --no-checksums", &n);
    println!(
        "  analyze / plain: {:.2}; with --no-checksums: {:.2}",
        a.mb_s() / p.mb_s(),
        n.mb_s() / p.mb_s()
    );
}

fn main() {
    let mb = |var: &str, default: u64| {
        std::env::var(var)
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(default)
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let config_path = dir.path().join("collector.yaml");
    std::fs::write(&config_path, CONFIG).expect("config");
    let config = vla_perf::config::load_collector(&config_path).expect("bench config");
    for (label, var, default, images) in [
        (
            "images (30 Hz 640x480 + 10 Hz detections)",
            "VLA_PERF_BENCH_BAG_MB",
            1024,
            true,
        ),
        (
            "small messages (1 kHz detections)",
            "VLA_PERF_BENCH_SMALL_MB",
            64,
            false,
        ),
    ] {
        let bag = dir.path().join("bench.mcap");
        let started = Instant::now();
        let written = write_bag(&bag, mb(var, default) << 20, images);
        println!(
            "wrote {written} messages in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        compare(label, &bag, &config, dir.path(), 3);
        std::fs::remove_file(&bag).expect("remove the bag");
    }
}
