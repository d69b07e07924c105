//! `vla-perf dashboard`: the live terminal dashboard attached to a running collector.

use std::process::ExitCode;

use vla_perf::dashboard::{self, Ending};

/// Options of `vla-perf dashboard`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// DDS domain id (default: ROS_DOMAIN_ID, else 0).
    #[arg(long)]
    domain: Option<u16>,
    /// Namespace of the collector's topics.
    #[arg(long, default_value = "/vla_perf")]
    namespace: String,
}

/// Why the dashboard could not run.
#[derive(Debug, thiserror::Error)]
enum Failure {
    /// Its participant or subscriptions could not be created.
    #[error("{0}")]
    Transport(#[from] vla_perf::transport::Error),
    /// The terminal could not be drawn on or read.
    #[error("terminal: {0}")]
    Terminal(#[source] std::io::Error),
}

/// Attaches to the collector's topics (its own participant, localhost unless
/// ROS_AUTOMATIC_DISCOVERY_RANGE says otherwise) and shows them until q / Esc / Ctrl-C.
pub fn main(args: &Args) -> ExitCode {
    let Some((options, runtime)) = crate::attach_setup("vla_perf_dashboard", args.domain) else {
        return ExitCode::FAILURE;
    };
    let note = format!("attached, domain {}", options.domain_id);
    let result = runtime.block_on(async {
        let mut node = vla_perf::node_main::transport().create_node(&options)?;
        let updates = dashboard::subscribe(node.as_mut(), &args.namespace)?;
        let shown = dashboard::run_terminal(
            updates,
            &args.namespace,
            &note,
            vla_perf::node_main::shutdown_signal(),
        )
        .await
        .map_err(Failure::Terminal);
        drop(node);
        shown
    });
    match result {
        Ok((ending, model)) => {
            let how = match ending {
                Ending::Quit => "quit",
                Ending::Finished => "stopped",
            };
            println!(
                "vla-perf dashboard {how}: {} commands and {} alert changes seen on {}",
                model.commands_seen,
                model.fired + model.resolved,
                args.namespace
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
