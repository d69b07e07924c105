//! The vla_perf collector node: `collector [--config FILE]` or
//! `collector --ros-args -p config:=FILE`. Stops on SIGINT or SIGTERM.
//!
//! Domain and discovery range follow `ROS_DOMAIN_ID` and `ROS_AUTOMATIC_DISCOVERY_RANGE`
//! (localhost unless told otherwise).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use vla_perf::node_main;
use vla_perf::transport::{NodeOptions, Transport};

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

fn transport() -> Arc<dyn Transport> {
    #[cfg(feature = "r2r")]
    {
        Arc::new(vla_perf::transport::r2r::R2rTransport)
    }
    #[cfg(all(feature = "ros2-client", not(feature = "r2r")))]
    {
        Arc::new(vla_perf::transport::ros2_client::Ros2ClientTransport)
    }
    #[cfg(not(any(feature = "ros2-client", feature = "r2r")))]
    {
        compile_error!("the collector needs a ROS 2 backend: feature ros2-client or r2r")
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    node_main::init_logging();
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
    vla_perf::collector::run(config, transport(), domain, node_main::shutdown_signal()).await?;
    Ok(())
}
