//! The vla_perf alert node: `alert_manager --config RULES.yaml [--state-dir DIR]`.
//!
//! Domain and discovery range follow `ROS_DOMAIN_ID` and `ROS_AUTOMATIC_DISCOVERY_RANGE`
//! (localhost unless told otherwise); `--domain` overrides the domain. SMTP credentials
//! come from `VLA_PERF_SMTP_USERNAME` / `VLA_PERF_SMTP_PASSWORD`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use vla_perf::alerts::Settings;
use vla_perf::node_main;
use vla_perf::transport::NodeOptions;

/// Evaluates alert rules over the collector's metrics and sends notifications.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Alert rules (YAML: `rules:` and/or `performance_alerts:`, `notifications:`).
    #[arg(long)]
    config: PathBuf,
    /// DDS domain id (default: ROS_DOMAIN_ID, else 0).
    #[arg(long)]
    domain: Option<u16>,
    /// Namespace of the collector topics and of the `alerts` topic.
    #[arg(long, default_value = "/vla_perf")]
    namespace: String,
    /// Directory for the alert history (`alert_history.jsonl`).
    #[arg(long, default_value = "vla_perf_state")]
    state_dir: PathBuf,
    /// The history file itself (overrides --state-dir).
    #[arg(long)]
    history: Option<PathBuf>,
    /// How often rules are evaluated (`1s`, `500ms`).
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    evaluation_period: Duration,
    /// Arguments after `--ros-args` (passed by `ros2 run` / `ros2 launch`).
    #[arg(long = "ros-args", num_args = 0.., allow_hyphen_values = true)]
    ros_args: Vec<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    node_main::init_logging("info");
    // Installed before start-up so an early signal is not lost to the default action.
    let shutdown = node_main::shutdown_signal();
    let args = Args::parse();
    // Warnings (unknown metric names, with file and line) are logged by the loader.
    let rules = vla_perf::config::load_alerts(&args.config)
        .with_context(|| format!("loading {}", args.config.display()))?;
    if args.evaluation_period.is_zero() {
        anyhow::bail!("--evaluation-period must be greater than zero");
    }
    let domain = match args.domain {
        Some(domain) => domain,
        None => NodeOptions::from_env("vla_perf_alert_manager", "/")?.domain_id,
    };
    let mut settings = Settings::new(
        args.history
            .unwrap_or_else(|| args.state_dir.join("alert_history.jsonl")),
    );
    settings.namespace = args.namespace;
    settings.evaluation_period = args.evaluation_period;
    vla_perf::alerts::run(rules, settings, node_main::transport(), domain, shutdown).await?;
    Ok(())
}
