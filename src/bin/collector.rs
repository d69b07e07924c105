//! The vla_perf collector node: `collector [--config FILE]` or
//! `collector --ros-args -p config:=FILE`. Stops on SIGINT or SIGTERM.
//!
//! Domain and discovery range follow `ROS_DOMAIN_ID` and `ROS_AUTOMATIC_DISCOVERY_RANGE`
//! (localhost unless told otherwise).

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use vla_perf::node_main;
use vla_perf::transport::NodeOptions;

/// Measures a VLA stack's command latency per stage and publishes it as ROS 2 topics.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Collector configuration (YAML, `collector:` root); defaults built in when absent.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Arguments after `--ros-args` (passed by `ros2 run` / `ros2 launch`).
    #[arg(long = "ros-args", num_args = 0.., allow_hyphen_values = true)]
    ros_args: Vec<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    node_main::init_logging("info");
    let args = Args::parse();
    let params = node_main::ros_parameters(&args.ros_args)?;
    // `--config` wins over `--ros-args -p config:=FILE` (what a launch file passes).
    let config_path = args
        .config
        .clone()
        .or(params.get("config").map(PathBuf::from));
    let config = match &config_path {
        Some(path) => vla_perf::config::load_collector(path)
            .with_context(|| format!("loading {}", path.display()))?,
        None => vla_perf::config::CollectorConfig::default(),
    };
    let domain = NodeOptions::from_env("vla_perf_collector", "/")?.domain_id;
    vla_perf::collector::run(
        config,
        node_main::transport(),
        domain,
        node_main::shutdown_signal(),
    )
    .await?;
    Ok(())
}
