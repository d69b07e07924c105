//! Transport benchmark of the default backend (ros2-client over RustDDS), printing figures:
//!
//! 1. Small-message throughput on loopback, reliable QoS: a ros2-client publisher sends
//!    `std_msgs/String` messages as fast as the reliable window allows, received (a) through
//!    vla_perf's subscriber path (seam, raw reader, CDR decode, counters, channel) and (b) by
//!    a bare ros2-client subscriber: the transport's own ceiling. Both in the same run,
//!    alternating, with losses counted.
//! 2. Decoding a 640x480 rgb8 `sensor_msgs/Image`: header only vs the whole message.
//!
//! DDS traffic stays on loopback: the benchmark re-runs itself inside a private network
//! namespace (`unshare -n`) unless it already is in one. `cargo bench --bench transport`.

#[path = "common/netns.rs"]
mod netns;

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use ros2_client::qos::WhenFull;
use ros2_client::{
    Context, MessageTypeName, Name, NodeName, NodeOptions as RosNodeOptions, QosProfile,
};
use vla_perf::msg::cdr::{decode_header, from_cdr, to_cdr};
use vla_perf::msg::sensor_msgs::Image;
use vla_perf::msg::std_msgs::{Header, String as RosString};
use vla_perf::transport::ros2_client::Ros2ClientTransport;
use vla_perf::transport::{NodeOptions, Qos, Subscription, Transport, Typed};

const MESSAGES: usize = 100_000;
const ROUNDS: usize = 3;

/// Reliable, with history deep enough for a whole burst on both sides: DDS keep-last
/// readers replace samples the application has not taken yet, which would be loss.
fn reliable() -> QosProfile {
    QosProfile::publisher_default()
        .reliability_reliable(WhenFull::Block)
        .history(ros2_client::qos::History::KeepLast { depth: MESSAGES })
}

fn ros_node(name: &str, domain: u16) -> (Context, ros2_client::Node) {
    let participant = ros2_client::dds::rustdds::DomainParticipantBuilder::new(domain)
        .with_only_networks([std::net::IpAddr::from([127, 0, 0, 1])])
        .build()
        .expect("participant");
    let context = Context::from_domain_participant(participant).expect("context");
    let node = context
        .new_node(
            NodeName::new("/", name).expect("name"),
            RosNodeOptions::new(),
        )
        .expect("node");
    (context, node)
}

/// Publishes `n` small strings on `/bench/<topic>` from its own participant, after a
/// subscriber has matched, and stays up until `done` so retransmissions can complete.
fn publish(
    domain: u16,
    topic: &'static str,
    n: usize,
    done: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Duration> {
    std::thread::spawn(move || {
        let (_context, mut node) = ros_node("bench_publisher", domain);
        let t = node
            .create_topic(
                &Name::new("/bench", topic).expect("topic"),
                MessageTypeName::new("std_msgs", "String"),
                &reliable(),
            )
            .expect("topic");
        let publisher = node
            .create_publisher::<RosString>(&t, Some(reliable()))
            .expect("publisher");
        let deadline = Instant::now() + Duration::from_secs(30);
        while publisher.get_subscription_count(&node) == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        // Let the reader learn about this writer too before the burst starts.
        std::thread::sleep(Duration::from_millis(500));
        let start = Instant::now();
        for i in 0..n {
            let data = format!("pick up the red cup #{i:08}");
            publisher.publish(RosString { data }).expect("publish");
        }
        let elapsed = start.elapsed();
        let linger = Instant::now() + Duration::from_secs(30);
        while !done.load(Ordering::Acquire) && Instant::now() < linger {
            std::thread::sleep(Duration::from_millis(10));
        }
        elapsed
    })
}

/// How long to wait for the next message: discovery may take a while before the first.
fn patience(received: usize) -> Duration {
    Duration::from_secs(if received == 0 { 40 } else { 5 })
}

struct Measured {
    received: usize,
    per_second: f64,
}

async fn ours(domain: u16) -> Measured {
    let mut node = Ros2ClientTransport
        .create_node(&NodeOptions::new("bench_ours", "/").with_domain(domain))
        .expect("node");
    let mut sub = Subscription::<Typed<RosString>>::typed(
        node.as_mut(),
        "/bench/ours",
        Qos::reliable(MESSAGES),
    )
    .expect("sub");
    let done = Arc::new(AtomicBool::new(false));
    let publisher = publish(domain, "ours", MESSAGES, done.clone());
    let mut received = 0;
    let mut first = None;
    let mut last = Instant::now();
    while received < MESSAGES {
        match tokio::time::timeout(patience(received), sub.recv()).await {
            Ok(Some(m)) => {
                black_box(&m.message.data);
                received += 1;
                last = Instant::now();
                first.get_or_insert(last);
            }
            _ => break,
        }
    }
    done.store(true, Ordering::Release);
    publisher.join().expect("publisher");
    let dropped = sub.counters().queue_drops();
    assert_eq!(dropped, 0, "the node queue never overflowed");
    let span = last.duration_since(first.unwrap_or(last)).as_secs_f64();
    Measured {
        received,
        per_second: received as f64 / span.max(1e-9),
    }
}

async fn bare(domain: u16) -> Measured {
    let (_context, mut node) = ros_node("bench_bare", domain);
    let t = node
        .create_topic(
            &Name::new("/bench", "bare").expect("topic"),
            MessageTypeName::new("std_msgs", "String"),
            &reliable(),
        )
        .expect("topic");
    let sub = node
        .create_subscription::<RosString>(&t, Some(reliable()))
        .expect("subscription");
    let done = Arc::new(AtomicBool::new(false));
    let publisher = publish(domain, "bare", MESSAGES, done.clone());
    let stream = sub.async_stream();
    futures::pin_mut!(stream);
    let mut received = 0;
    let mut first = None;
    let mut last = Instant::now();
    while received < MESSAGES {
        match tokio::time::timeout(patience(received), stream.next()).await {
            Ok(Some(Ok((m, _info)))) => {
                black_box(&m.data);
                received += 1;
                last = Instant::now();
                first.get_or_insert(last);
            }
            _ => break,
        }
    }
    done.store(true, Ordering::Release);
    publisher.join().expect("publisher");
    let span = last.duration_since(first.unwrap_or(last)).as_secs_f64();
    Measured {
        received,
        per_second: received as f64 / span.max(1e-9),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn decode_figures() {
    let (w, h) = (640u32, 480u32);
    let image = Image {
        header: Header {
            stamp: vla_perf::msg::builtin_interfaces::Time { sec: 1, nanosec: 2 },
            frame_id: "camera".into(),
        },
        height: h,
        width: w,
        encoding: "rgb8".into(),
        is_bigendian: 0,
        step: w * 3,
        data: (0..w * h * 3).map(|i| i as u8).collect(),
    };
    let bytes = to_cdr(&image).expect("encode");
    let time = |iterations: usize, f: &dyn Fn()| {
        let samples: Vec<f64> = (0..15)
            .map(|_| {
                let t = Instant::now();
                for _ in 0..iterations {
                    f();
                }
                t.elapsed().as_nanos() as f64 / iterations as f64
            })
            .collect();
        median(samples)
    };
    let header_ns = time(100_000, &|| {
        black_box(decode_header(black_box(&bytes)).expect("header"));
    });
    let full_ns = time(20, &|| {
        black_box(from_cdr::<Image>(black_box(&bytes)).expect("image"));
    });
    println!(
        "decode 640x480 rgb8 Image ({} bytes): header only {:.0} ns, full {:.0} ns ({:.0}x)",
        bytes.len(),
        header_ns,
        full_ns,
        full_ns / header_ns
    );
}

fn main() {
    if std::env::args().any(|a| a == "--test" || a == "--list") {
        return;
    }
    netns::enter();
    decode_figures();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (mut our_rates, mut bare_rates) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let domain = 40 + 2 * round as u16;
        let o = runtime.block_on(ours(domain));
        let b = runtime.block_on(bare(domain + 1));
        println!(
            "round {round}: vla_perf subscriber {:.0} msgs/s ({} of {MESSAGES} received), bare ros2-client {:.0} msgs/s ({} of {MESSAGES})",
            o.per_second, o.received, b.per_second, b.received
        );
        assert_eq!(o.received, MESSAGES, "vla_perf subscriber lost messages");
        assert_eq!(b.received, MESSAGES, "bare subscriber lost messages");
        our_rates.push(o.per_second);
        bare_rates.push(b.per_second);
    }
    let (o, b) = (median(our_rates), median(bare_rates));
    println!(
        "small messages, reliable, zero loss: vla_perf {o:.0} msgs/s, bare ros2-client {b:.0} msgs/s, ratio {:.1}% (median of {ROUNDS})",
        o / b * 100.0
    );
}
