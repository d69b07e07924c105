//! A Foxglove client that stops reading, or vanishes, never slows measuring.
//!
//! In one process on the in-process bus: the SIMULATED stack, a driver speaking a command
//! every 400 ms, a flood topic (16 KiB strings at 500 Hz, watched by the collector and
//! relayed to Foxglove as a stack topic) and the collector with its Foxglove server. Three
//! phases of equal length: no client; a client subscribed to every channel that stops
//! reading (its socket and the server's backlog for it fill within a second); the client
//! gone without a close. Each command's measuring delay (from its last stage's stamp to
//! the CommandLatency arriving) is compared across the phases, and the stalled client is
//! shown to have lost flood messages: the server dropped them for it instead of waiting.
//!
//! The bounds are loose on purpose (a blocked collector would miss commands or delay them
//! by seconds); the figures printed are what the closing notes quote.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::foxglove::{channel, Client};
use common::sim_truth::fast_stack;
use vla_perf::config::{CollectorConfig, WatchedTopic};
use vla_perf::msg::std_msgs;
use vla_perf::msg::CommandLatency;
use vla_perf::transport::inproc::InprocTransport;
use vla_perf::transport::{NodeOptions, Publisher, Qos, Subscription, Transport, Typed};

const PHASE: Duration = Duration::from_secs(8);
const FLOOD: &str = "/flood";
const FLOOD_BYTES: usize = 16 * 1024;

/// A port nobody listens on now (the collector's server takes it a moment later).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn collector_config(port: u16) -> CollectorConfig {
    let mut config = CollectorConfig {
        robot_id: "slow_client_test".into(),
        command_timeout: Duration::from_secs(3),
        ..CollectorConfig::default()
    };
    config.prometheus.enabled = false;
    config.foxglove.enabled = true;
    config.foxglove.listen = ([127, 0, 0, 1], port).into();
    config.foxglove.stack_topics = true;
    config.topics.push(WatchedTopic {
        qos: Some("reliable".into()),
        qos_depth: Some(1000),
        ..WatchedTopic::new(FLOOD, "std_msgs/msg/String")
    });
    config
}

/// The flood message number of a `std_msgs/String` CDR payload (`seq 000123 ...`).
fn flood_seq(cdr: &[u8]) -> u64 {
    let text = std::str::from_utf8(&cdr[8..18]).unwrap();
    text.trim_start_matches("seq ").parse().unwrap()
}

fn p95(delays: &mut [f64]) -> f64 {
    delays.sort_by(f64::total_cmp);
    delays[((delays.len() as f64 * 0.95).ceil() as usize).saturating_sub(1)]
}

#[test]
fn a_stalled_or_vanished_foxglove_client_never_slows_measuring() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let transport: Arc<dyn Transport> = Arc::new(InprocTransport::new());
        let port = free_port();
        let (stop_tx, _) = tokio::sync::broadcast::channel::<()>(1);
        let stopped = |tx: &tokio::sync::broadcast::Sender<()>| {
            let mut rx = tx.subscribe();
            async move {
                let _ = rx.recv().await;
            }
        };
        let sim = tokio::spawn(vla_perf::sim::run_stack(
            fast_stack(),
            transport.clone(),
            0,
            stopped(&stop_tx),
        ));
        let collector = tokio::spawn(vla_perf::collector::run(
            collector_config(port),
            transport.clone(),
            0,
            stopped(&stop_tx),
        ));
        let mut driver = transport
            .create_node(&NodeOptions::new("slow_client_driver", "/"))
            .unwrap();

        // Measuring delay of every command, with the phase it finished in.
        let phase = Arc::new(Mutex::new(0usize));
        let delays: Arc<Mutex<[Vec<f64>; 3]>> = Arc::default();
        let mut latencies = Subscription::<Typed<CommandLatency>>::typed(
            driver.as_mut(),
            "/vla_perf/command_latency",
            Qos::reliable(1000),
        )
        .unwrap();
        let (probe_phase, probe_delays) = (phase.clone(), delays.clone());
        tokio::spawn(async move {
            while let Some(m) = latencies.recv().await {
                let ended = m.message.ended.to_duration().unwrap_or_default();
                let delay = m.received_at.saturating_sub(ended).as_secs_f64();
                let at = *probe_phase.lock().unwrap();
                probe_delays.lock().unwrap()[at].push(delay);
            }
        });

        // The flood and the spoken commands.
        let flood =
            Publisher::<std_msgs::String>::new(driver.as_mut(), FLOOD, Qos::reliable(100)).unwrap();
        let flooding = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(2));
            for seq in 0u64.. {
                tick.tick().await;
                let mut data = format!("seq {seq:06} ");
                data.extend(std::iter::repeat_n('x', FLOOD_BYTES));
                flood.publish(&std_msgs::String { data }).unwrap();
            }
        });
        let speak = Publisher::new(driver.as_mut(), "/audio/utterance", Qos::reliable(10)).unwrap();
        let speaking = tokio::spawn(common::drive::speak_commands(
            speak,
            Duration::from_millis(400),
            "",
        ));

        // Phase 0: no client (after the stack and the collector settled).
        tokio::time::sleep(Duration::from_secs(2)).await;
        delays.lock().unwrap()[0].clear();
        tokio::time::sleep(PHASE).await;

        // Phase 1: a client subscribed to every channel, then not reading.
        let mut client = Client::connect(&format!("ws://127.0.0.1:{port}"), 8).await;
        let flood_id = channel(&client.channels, FLOOD).id as u32;
        client.subscribe_all().await;
        let (mut first, mut got) = (None, 0u64);
        while got < 50 {
            let (id, payload) = client.next_message().await;
            if id == flood_id {
                first.get_or_insert(flood_seq(&payload));
                got += 1;
            }
        }
        *phase.lock().unwrap() = 1;
        tokio::time::sleep(PHASE).await;
        // It reads again: what the server kept for it, then live messages.
        *phase.lock().unwrap() = 2;
        let mut last = 0;
        let resumed = tokio::time::Instant::now();
        while resumed.elapsed() < Duration::from_secs(2) {
            let (id, payload) = client.next_message().await;
            if id == flood_id {
                last = flood_seq(&payload);
                got += 1;
            }
        }
        let first = first.unwrap();
        let lost = (last - first + 1).saturating_sub(got);

        // Phase 2: the client vanishes without a close.
        drop(client);
        delays.lock().unwrap()[2].clear();
        tokio::time::sleep(PHASE).await;

        flooding.abort();
        speaking.abort();
        let _ = stop_tx.send(());
        collector.await.unwrap().unwrap();
        sim.await.unwrap().unwrap();

        let mut delays = delays.lock().unwrap().clone();
        let spoken_per_phase = PHASE.as_secs_f64() / 0.4;
        let names = ["no client", "stalled client", "vanished client"];
        let mut p95s = [0.0; 3];
        for (i, d) in delays.iter_mut().enumerate() {
            let n = d.len();
            let median = {
                let mut s = d.clone();
                s.sort_by(f64::total_cmp);
                s[n / 2]
            };
            p95s[i] = p95(d);
            println!(
                "{}: {n} commands measured (about {spoken_per_phase:.0} spoken), measuring \
                 delay median {:.1} ms, p95 {:.1} ms",
                names[i],
                median * 1e3,
                p95s[i] * 1e3
            );
            assert!(
                n as f64 >= 0.7 * spoken_per_phase,
                "{}: only {n} commands measured",
                names[i]
            );
        }
        println!(
            "the stalled client read {got} flood messages of {} sent meanwhile: the server \
             dropped {lost} for it",
            last - first + 1
        );
        assert!(lost > 0, "the client never fell behind: not a stall");
        for i in [1, 2] {
            assert!(
                p95s[i] <= (2.0 * p95s[0]).max(p95s[0] + 0.1),
                "{}: measuring delay p95 {:.3} s vs {:.3} s without a client",
                names[i],
                p95s[i],
                p95s[0]
            );
        }
    });
}
