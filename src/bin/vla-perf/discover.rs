//! `vla-perf discover`: listen to a running stack (or read a recording) and propose a
//! collector configuration for it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use vla_perf::core::discover::{discover, Discovery, TopicTraffic};
use vla_perf::discover::{self as d, yaml::Source};

/// Options of `vla-perf discover`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// How long to listen to the live graph; speak (or send) a few commands, one at a
    /// time, meanwhile.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = vla_perf::config::duration::parse_duration)]
    duration: Duration,
    /// Where to write the proposed configuration.
    #[arg(long, value_name = "FILE", default_value = "collector.yaml")]
    out: PathBuf,
    /// Overwrite --out if it exists.
    #[arg(long)]
    force: bool,
    /// Read a rosbag2 recording (directory, .mcap or .db3) instead of listening.
    #[arg(long, value_name = "BAG")]
    from: Option<PathBuf>,
    /// Also record what was heard into this MCAP file (live only), to discover again
    /// offline with --from or to run `vla-perf analyze` on.
    #[arg(long, value_name = "FILE.mcap", conflicts_with = "from")]
    record: Option<PathBuf>,
    /// DDS domain id (default: ROS_DOMAIN_ID, else 0).
    #[arg(long)]
    domain: Option<u16>,
    /// Namespace of vla_perf's own topics, which are never stages.
    #[arg(long, default_value = "/vla_perf")]
    namespace: String,
    /// Most topics subscribed while listening.
    #[arg(long, default_value_t = 256)]
    max_topics: usize,
}

/// Exit status when the traffic held no pipeline.
const NOTHING_INFERRED: u8 = 2;

/// Runs discovery; exit 0 with the configuration written, 2 when no pipeline could be
/// inferred (the reason printed), 1 on errors.
pub fn main(args: &Args) -> ExitCode {
    vla_perf::node_main::init_logging("warn,rustdds=off,ros2_client=warn");
    if args.out.exists() && !args.force {
        eprintln!(
            "error: {} exists; pass --force to overwrite it or --out elsewhere",
            args.out.display()
        );
        return ExitCode::FAILURE;
    }
    let heard = match &args.from {
        Some(bag) => from_recording(bag),
        None => listen(args),
    };
    let Some((traffic, source)) = heard else {
        return ExitCode::FAILURE;
    };
    let found = discover(&traffic, &args.namespace);
    println!("{}", d::report::summary(&found));
    if let Some(problem) = &found.problem {
        eprintln!("no pipeline inferred: {problem}");
        return ExitCode::from(NOTHING_INFERRED);
    }
    match write(&found, &source, &args.out) {
        Ok(()) => {
            println!(
                "Wrote {} ({} stages, {} watched topics); check it with: vla-perf check-config {}",
                args.out.display(),
                found.stages.len(),
                found.watched.len(),
                args.out.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Renders the configuration, checks it as check-config would, and writes it.
fn write(found: &Discovery, source: &Source, out: &Path) -> Result<(), String> {
    let text = d::yaml::render(found, source);
    let name = out.display().to_string();
    if let Err(e) = vla_perf::config::parse_collector(&name, &text) {
        return Err(format!(
            "the proposed configuration does not pass check-config ({e}); this is a bug, \
             please report it with the summary above"
        ));
    }
    std::fs::write(out, text).map_err(|e| format!("{name}: {e}"))
}

fn from_recording(bag: &Path) -> Option<(Vec<TopicTraffic>, Source)> {
    match d::from_bag(bag) {
        Ok((traffic, summary)) => {
            for w in &summary.warnings {
                eprintln!("warning: {w}");
            }
            println!(
                "Read {} messages of {} topics from {}",
                summary.messages,
                traffic.len(),
                bag.display()
            );
            Some((traffic, Source::Recording(bag.display().to_string())))
        }
        Err(e) => {
            eprintln!("error: {e}");
            None
        }
    }
}

#[cfg(any(feature = "ros2-client", feature = "r2r"))]
fn listen(args: &Args) -> Option<(Vec<TopicTraffic>, Source)> {
    use d::live::{self, Options, Progress};
    let (node, runtime) = crate::attach_setup("vla_perf_discover", args.domain)?;
    let transport = vla_perf::node_main::transport();
    let options = Options {
        node: node.clone(),
        duration: args.duration,
        max_topics: args.max_topics,
        record: args.record.clone(),
    };
    eprintln!(
        "Listening on ROS_DOMAIN_ID {} for {:?} ({} backend): speak (or send) at least 3 \
         commands, one at a time; Ctrl-C stops early.",
        node.domain_id,
        args.duration,
        transport.backend()
    );
    let mut last = None;
    let mut progress = |p: Progress| {
        let step = p.left.as_secs() / 5;
        if last != Some(step) {
            last = Some(step);
            eprintln!(
                "  {} topics, {} messages, {} s left",
                p.topics,
                p.messages,
                p.left.as_secs()
            );
        }
    };
    let heard = runtime.block_on(async {
        live::listen(
            transport.as_ref(),
            &options,
            vla_perf::node_main::shutdown_signal(),
            &mut progress,
        )
        .await
    });
    match heard {
        Ok(heard) => {
            for s in &heard.skipped {
                eprintln!("note: {s}");
            }
            if let Some((path, n)) = &heard.recorded {
                println!("Recorded {n} messages into {}", path.display());
            }
            // Our own node's /rosout and /parameter_events do not make a graph.
            if heard
                .traffic
                .iter()
                .all(|t| live::NOT_SUBSCRIBED.contains(&t.topic.as_str()))
            {
                eprintln!(
                    "no topic with a publisher was seen on ROS_DOMAIN_ID {} in {:?}: is the \
                     stack running, on this domain, and within discovery's reach \
                     (ROS_AUTOMATIC_DISCOVERY_RANGE; vla_perf stays on localhost unless it is \
                     SUBNET)?",
                    node.domain_id, args.duration
                );
                return None;
            }
            Some((
                heard.traffic,
                Source::Live {
                    domain: node.domain_id,
                    backend: transport.backend(),
                },
            ))
        }
        Err(e) => {
            eprintln!("error: {e}");
            None
        }
    }
}

#[cfg(not(any(feature = "ros2-client", feature = "r2r")))]
fn listen(_args: &Args) -> Option<(Vec<TopicTraffic>, Source)> {
    eprintln!("error: this build has no ROS 2 backend; use --from BAG");
    None
}
