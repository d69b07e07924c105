//! The vla_perf collector node: `collector [--config FILE]` or
//! `collector --ros-args -p config:=FILE [-p robot_id:=ID] [-p namespace:=/vla_perf]
//! [-p use_sim_time:=false] [--params-file FILE]`. Stops on SIGINT or SIGTERM.
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

fn main() -> anyhow::Result<()> {
    node_main::run_node_on_one_thread("info", run)
}

async fn run() -> anyhow::Result<()> {
    let args = Args::parse();
    let params = node_main::node_parameters("vla_perf_collector", &args.ros_args)?;
    node_main::note_use_sim_time(&params)?;
    // `--config` wins over `--ros-args -p config:=FILE` (what a launch file passes).
    let config_path = args
        .config
        .clone()
        .or(params.get("config").map(PathBuf::from));
    let mut config = match &config_path {
        Some(path) => vla_perf::config::load_collector(path)
            .with_context(|| format!("loading {}", path.display()))?,
        None => vla_perf::config::CollectorConfig::default(),
    };
    // The main knobs as parameters, over the file's values.
    if let Some(id) = params.get("robot_id") {
        config
            .set_robot_id(id)
            .map_err(|e| anyhow::anyhow!("parameter {e}"))?;
    }
    if let Some(ns) = params.get("namespace") {
        config
            .set_namespace(ns)
            .map_err(|e| anyhow::anyhow!("parameter {e}"))?;
    }
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
