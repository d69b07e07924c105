//! The SIMULATED VLA stack: `sim_stack [--config FILE] [--degrade]` or
//! `sim_stack --ros-args -p config:=FILE [-p degrade:=true] [-p seed:=7]
//! [-p use_sim_time:=false] [--params-file FILE]`. A demo and test target, not a robot: ASR,
//! planner, camera, vision and executor nodes on the topics of the collector's default
//! pipeline. Stops on SIGINT or SIGTERM.
//!
//! Domain and discovery range follow `ROS_DOMAIN_ID` and `ROS_AUTOMATIC_DISCOVERY_RANGE`
//! (localhost unless told otherwise).

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use vla_perf::node_main;
use vla_perf::sim::SimConfig;
use vla_perf::transport::NodeOptions;

/// Plays a SIMULATED Vision-Language-Action stack over ROS 2 topics.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Configuration (YAML, `sim_stack:` root); defaults built in when absent.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Degrade on purpose: slow planner, heavy vision (the `degrade:` knobs).
    #[arg(long)]
    degrade: bool,
    /// Arguments after `--ros-args` (passed by `ros2 run` / `ros2 launch`).
    #[arg(long = "ros-args", num_args = 0.., allow_hyphen_values = true)]
    ros_args: Vec<String>,
}

fn main() -> anyhow::Result<()> {
    // RustDDS's own info lines (discovery chatter of five participants, thousands of lines
    // a second at start-up) are left out unless asked for.
    node_main::run_node("info,rustdds=warn", run)
}

async fn run() -> anyhow::Result<()> {
    // Installed before start-up so an early signal is not lost to the default action.
    let shutdown = node_main::shutdown_signal();
    let args = Args::parse();
    let params = node_main::node_parameters("sim_stack", &args.ros_args)?;
    node_main::note_use_sim_time(&params)?;
    let config_path = args
        .config
        .clone()
        .or(params.get("config").map(PathBuf::from));
    let mut config = match &config_path {
        Some(path) => {
            SimConfig::load(path).with_context(|| format!("loading {}", path.display()))?
        }
        None => SimConfig::default(),
    };
    config.degrade.enabled |= args.degrade;
    config.degrade.enabled |= node_main::parameter::<bool>(&params, "degrade")? == Some(true);
    if let Some(seed) = node_main::parameter::<u64>(&params, "seed")? {
        config.seed = seed;
    }
    let domain = NodeOptions::from_env("sim_stack", "/")?.domain_id;
    tracing::info!(
        "SIMULATED VLA stack starting (demo/test target, not a robot){}",
        if config.degrade.enabled {
            ", DEGRADED on purpose"
        } else {
            ""
        }
    );
    vla_perf::sim::run_stack(config, node_main::transport(), domain, shutdown).await?;
    Ok(())
}
