//! The vla_perf alert node: `alert_manager --config RULES.yaml [--state-dir DIR]`, or with
//! ROS parameters (`--ros-args -p config:=RULES.yaml -p namespace:=/vla_perf
//! -p history:=FILE -p state_dir:=DIR -p evaluation_period:=1s -p use_sim_time:=false`,
//! or `--params-file FILE`); command-line options win over parameters.
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
    /// Alert rules (YAML: `rules:` and/or `performance_alerts:`, `notifications:`); or
    /// parameter `config`.
    #[arg(long)]
    config: Option<PathBuf>,
    /// DDS domain id (default: ROS_DOMAIN_ID, else 0).
    #[arg(long)]
    domain: Option<u16>,
    /// Namespace of the collector topics and of the `alerts` topic [default: /vla_perf].
    #[arg(long)]
    namespace: Option<String>,
    /// Directory for the alert history (`alert_history.jsonl`) [default: $ROS_HOME/vla_perf,
    /// where ROS_HOME defaults to ~/.ros, as for every ROS 2 node's logs].
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// The history file itself (overrides --state-dir).
    #[arg(long)]
    history: Option<PathBuf>,
    /// How often rules are evaluated (`1s`, `500ms`) [default: 1s].
    #[arg(long, value_parser = vla_perf::config::duration::parse_duration)]
    evaluation_period: Option<Duration>,
    /// Arguments after `--ros-args` (passed by `ros2 run` / `ros2 launch`).
    #[arg(long = "ros-args", num_args = 0.., allow_hyphen_values = true)]
    ros_args: Vec<String>,
}

fn main() -> anyhow::Result<()> {
    node_main::run_node("info", run)
}

async fn run() -> anyhow::Result<()> {
    // Installed before start-up so an early signal is not lost to the default action.
    let shutdown = node_main::shutdown_signal();
    let args = Args::parse();
    let params = node_main::node_parameters("vla_perf_alert_manager", &args.ros_args)?;
    node_main::note_use_sim_time(&params)?;
    let param_path = |name: &str| params.get(name).map(PathBuf::from);
    let Some(config) = args.config.clone().or(param_path("config")) else {
        anyhow::bail!("no alert rules: give --config FILE or --ros-args -p config:=FILE");
    };
    // Warnings (unknown metric names, with file and line) are logged by the loader.
    let rules = vla_perf::config::load_alerts(&config)
        .with_context(|| format!("loading {}", config.display()))?;
    let evaluation_period = match args.evaluation_period {
        Some(period) => period,
        None => match params.get("evaluation_period") {
            // A number of seconds (what a YAML double gives) or `500ms`.
            Some(v) => match v.parse::<f64>() {
                Ok(secs) => vla_perf::config::duration::from_secs(secs),
                Err(_) => vla_perf::config::duration::parse_duration(v),
            }
            .map_err(|e| anyhow::anyhow!("parameter evaluation_period:={v}: {e}"))?,
            None => Duration::from_secs(1),
        },
    };
    if evaluation_period.is_zero() {
        anyhow::bail!("the evaluation period must be greater than zero");
    }
    let domain = match args.domain {
        Some(domain) => domain,
        None => NodeOptions::from_env("vla_perf_alert_manager", "/")?.domain_id,
    };
    let state_dir = args
        .state_dir
        .or(param_path("state_dir"))
        .unwrap_or_else(|| node_main::ros_home().join("vla_perf"));
    let mut settings = Settings::new(
        args.history
            .or(param_path("history"))
            .unwrap_or_else(|| state_dir.join("alert_history.jsonl")),
    );
    settings.namespace = args
        .namespace
        .or(params.get("namespace").cloned())
        .unwrap_or_else(|| "/vla_perf".to_owned());
    settings.evaluation_period = evaluation_period;
    vla_perf::alerts::run(rules, settings, node_main::transport(), domain, shutdown).await?;
    Ok(())
}
