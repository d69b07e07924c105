//! What serving Foxglove costs the collector: the `collector` binary as a child process
//! measuring the SIMULATED stack (`sim_stack` child, one spoken command every 500 ms from
//! this process), in three runs side by side: Foxglove off; the `foxglove` section on with
//! no client; on with one client subscribed to every channel and reading all of it. Per
//! run: the collector's CPU (utime+stime from /proc after a warm-up) as % of one core, its
//! RSS, commands measured, and what the client received. Prints figures; asserts nothing.
//!
//! DDS stays on loopback: the benchmark re-runs itself inside a private network namespace.
//! `cargo bench --bench foxglove` (`VLA_PERF_FOXGLOVE_SECONDS`, default 30 per run).

#[path = "../tests/common/drive.rs"]
mod drive;
#[path = "common/netns.rs"]
mod netns;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use drive::Stopping;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use vla_perf::msg::CommandLatency;
use vla_perf::transport::ros2_client::Ros2ClientTransport;
use vla_perf::transport::{NodeOptions, Publisher, Qos, Subscription, Transport, Typed};

const DOMAIN: u16 = 72;
const WARM_UP: Duration = Duration::from_secs(5);
const LISTEN: &str = "127.0.0.1:8765";

/// One child process, stopped when dropped.
struct Process(Stopping);

impl Process {
    fn start(binary: &Path, args: &[&str]) -> Self {
        let child = Command::new(binary)
            .args(args)
            .env("ROS_DOMAIN_ID", DOMAIN.to_string())
            .env("RUST_LOG", "error,rustdds=off,foxglove=off")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
        Self(Stopping(child))
    }

    /// User + system CPU seconds so far.
    fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.0 .0.id())).unwrap();
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let fields: Vec<f64> = rest
            .split_whitespace()
            .map(|v| v.parse().unwrap_or(0.0))
            .collect();
        (fields[11] + fields[12]) / 100.0
    }

    fn rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.0 .0.id())).unwrap();
        status
            .lines()
            .find(|l| l.starts_with("VmRSS"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    }
}

/// Connects to the collector's server, subscribes to every channel and reads everything,
/// counting message frames and bytes, until the connection closes.
async fn client(messages: Arc<AtomicU64>, bytes: Arc<AtomicU64>) {
    let mut request = format!("ws://{LISTEN}").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "foxglove.sdk.v1".parse().unwrap());
    let mut ws = loop {
        match tokio_tungstenite::connect_async(request.clone()).await {
            Ok((ws, _)) => break ws,
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    while let Some(Ok(message)) = ws.next().await {
        match message {
            Message::Text(text) => {
                let op: serde_json::Value = serde_json::from_str(&text).unwrap();
                if op["op"] == "advertise" {
                    let subscriptions: Vec<serde_json::Value> = op["channels"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|c| serde_json::json!({"id": c["id"], "channelId": c["id"]}))
                        .collect();
                    let subscribe =
                        serde_json::json!({"op": "subscribe", "subscriptions": subscriptions});
                    ws.send(Message::text(subscribe.to_string())).await.unwrap();
                }
            }
            Message::Binary(data) => {
                messages.fetch_add(1, Ordering::Relaxed);
                bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
            }
            _ => {}
        }
    }
}

/// One run: a fresh collector with `foxglove` (and a client when `with_client`).
async fn run(
    bins: &Path,
    label: &str,
    foxglove: bool,
    with_client: bool,
    seconds: u64,
) -> (f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("collector.yaml");
    std::fs::write(
        &config,
        format!(
            "collector:\n  robot_id: bench\n  prometheus: {{enabled: false}}\n  foxglove: \
             {{enabled: {foxglove}, listen: \"{LISTEN}\"}}\n"
        ),
    )
    .unwrap();
    let sim = Process::start(&bins.join("sim_stack"), &[]);
    let collector = Process::start(
        &bins.join("collector"),
        &["--config", config.to_str().unwrap()],
    );
    let mut node = Ros2ClientTransport
        .create_node(&NodeOptions::new("foxglove_bench_driver", "/").with_domain(DOMAIN))
        .unwrap();
    let speak = Publisher::new(node.as_mut(), "/audio/utterance", Qos::reliable(10)).unwrap();
    let mut latencies = Subscription::<Typed<CommandLatency>>::typed(
        node.as_mut(),
        "/vla_perf/command_latency",
        Qos::reliable(1000),
    )
    .unwrap();
    let measured = Arc::new(AtomicU64::new(0));
    let counted = measured.clone();
    let listener = tokio::spawn(async move {
        while latencies.recv().await.is_some() {
            counted.fetch_add(1, Ordering::Relaxed);
        }
    });
    let (messages, bytes) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let reader = with_client.then(|| tokio::spawn(client(messages.clone(), bytes.clone())));
    let speaking =
        tokio::spawn(
            async move { drive::speak_commands(speak, Duration::from_millis(500), "").await },
        );
    tokio::time::sleep(WARM_UP).await;
    let (cpu0, t0, measured0) = (
        collector.cpu_seconds(),
        Instant::now(),
        measured.load(Ordering::Relaxed),
    );
    let (messages0, bytes0) = (
        messages.load(Ordering::Relaxed),
        bytes.load(Ordering::Relaxed),
    );
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let elapsed = t0.elapsed().as_secs_f64();
    let cpu = (collector.cpu_seconds() - cpu0) / elapsed * 100.0;
    let rss = collector.rss_mib();
    let commands = measured.load(Ordering::Relaxed) - measured0;
    let received = messages.load(Ordering::Relaxed) - messages0;
    let kib = (bytes.load(Ordering::Relaxed) - bytes0) as f64 / 1024.0;
    speaking.abort();
    listener.abort();
    if let Some(reader) = reader {
        reader.abort();
    }
    drop(collector);
    drop(sim);
    println!(
        "{label:<34} collector CPU {cpu:5.2}% of a core, RSS {rss:5.1} MiB, {commands} commands \
         measured in {elapsed:.0} s{}",
        if with_client {
            format!(
                "; the client got {received} messages ({:.1}/s, {:.1} KiB/s)",
                received as f64 / elapsed,
                kib / elapsed
            )
        } else {
            String::new()
        }
    );
    (cpu, rss)
}

fn binaries() -> PathBuf {
    // target/release/deps/foxglove-<hash> -> target/release
    let exe = std::env::current_exe().expect("bench path");
    let dir = exe.parent().and_then(Path::parent).unwrap().to_owned();
    for bin in ["collector", "sim_stack"] {
        assert!(
            dir.join(bin).exists(),
            "{} missing (cargo bench builds it; or cargo build --release)",
            dir.join(bin).display()
        );
    }
    dir
}

fn main() {
    if std::env::args().any(|a| a == "--test" || a == "--list") {
        return;
    }
    netns::enter();
    let seconds = std::env::var("VLA_PERF_FOXGLOVE_SECONDS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(30);
    let bins = binaries();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    println!(
        "collector serving Foxglove, {seconds} s per run after {} s warm-up, SIMULATED stack, \
         a command every 500 ms",
        WARM_UP.as_secs()
    );
    let (off, _) = runtime.block_on(run(&bins, "foxglove off", false, false, seconds));
    let (idle, _) = runtime.block_on(run(&bins, "foxglove on, no client", true, false, seconds));
    let (busy, _) = runtime.block_on(run(
        &bins,
        "foxglove on, one client subscribed",
        true,
        true,
        seconds,
    ));
    println!(
        "ratios: serving with no client {:.2}x, with one subscribed client {:.2}x the CPU of \
         foxglove off ({:.2}x of serving with no client)",
        idle / off,
        busy / off,
        busy / idle
    );
}
