//! `vla-perf foxglove`: a Foxglove WebSocket server attached to a running collector.

use std::process::ExitCode;

use vla_perf::foxglove::{self, Topic};
use vla_perf::transport::Qos;

/// Options of `vla-perf foxglove`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to serve on; loopback unless told otherwise (0.0.0.0:8765 exposes it to the
    /// network).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8765")]
    listen: std::net::SocketAddr,
    /// DDS domain id (default: ROS_DOMAIN_ID, else 0).
    #[arg(long)]
    domain: Option<u16>,
    /// Namespace of the suite's topics.
    #[arg(long, default_value = "/vla_perf")]
    namespace: String,
    /// Also relay this topic, as `TOPIC=TYPE` (`/plan=std_msgs/msg/String`), of a type
    /// vla_perf carries the definition of; repeatable.
    #[arg(long, value_name = "TOPIC=TYPE", value_parser = parse_topic)]
    topic: Vec<Topic>,
}

/// `/plan=std_msgs/msg/String` as a topic to relay (reliable QoS).
fn parse_topic(text: &str) -> Result<Topic, String> {
    let (topic, type_name) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?}: expected TOPIC=TYPE, e.g. /plan=std_msgs/msg/String"))?;
    let topic = vla_perf::transport::resolve_topic("/", topic.trim()).map_err(|e| e.to_string())?;
    Ok(Topic {
        topic,
        type_name: type_name.trim().to_owned(),
        qos: Qos::reliable(100),
    })
}

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
enum Failure {
    /// Its participant could not be created.
    #[error("{0}")]
    Transport(#[from] vla_perf::transport::Error),
    /// The server could not start.
    #[error("{0}")]
    Foxglove(#[from] foxglove::Error),
}

/// Relays the suite's topics (its own participant, localhost unless
/// ROS_AUTOMATIC_DISCOVERY_RANGE says otherwise) until Ctrl-C; then prints what it relayed.
pub fn main(args: &Args) -> ExitCode {
    vla_perf::node_main::init_logging("warn,rustdds=off,ros2_client=warn");
    let Some((options, runtime)) = crate::attach_setup("vla_perf_foxglove", args.domain) else {
        return ExitCode::FAILURE;
    };
    let mut topics = foxglove::output_topics(&args.namespace);
    topics.extend(args.topic.iter().cloned());
    let result = runtime.block_on(async {
        let mut node = vla_perf::node_main::transport().create_node(&options)?;
        let server = foxglove::Server::start(args.listen, node.as_mut(), &topics).await?;
        println!(
            "vla-perf foxglove: serving {} topics of domain {} on {}",
            topics.len(),
            options.domain_id,
            server.url()
        );
        println!("{}", foxglove::connect_hint(server.local_addr()));
        println!("Ctrl-C stops");
        vla_perf::node_main::shutdown_signal().await;
        let relayed = server.topics().to_vec();
        server.stop().await;
        drop(node);
        Ok::<_, Failure>(relayed)
    });
    match result {
        Ok(relayed) => {
            for t in relayed {
                println!(
                    "{} ({}): {} received, {} served, {} dropped",
                    t.topic,
                    t.type_name,
                    t.received(),
                    t.forwarded(),
                    t.dropped()
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
