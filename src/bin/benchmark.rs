//! The vla_perf benchmark node: `benchmark SCENARIO [options]` or
//! `benchmark --ros-args -p scenario:=FILE [-p results_dir:=DIR -p baseline:=REPORT ...]`.
//! Drives the stack from the scenario, scores it, writes the report, publishes
//! `BenchmarkResult`s; exits 0 (passed), 2 (a threshold failed), 3 (regressed against the
//! baseline) or 1 (could not run). SIGINT/SIGTERM stop it; what was measured is kept.
//!
//! Domain and discovery range follow `ROS_DOMAIN_ID` and `ROS_AUTOMATIC_DISCOVERY_RANGE`
//! (localhost unless told otherwise).

use std::process::ExitCode;

use clap::Parser;
use vla_perf::bench::cli;
use vla_perf::node_main;

/// Benchmarks a live VLA stack from a scenario file.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(flatten)]
    args: cli::Args,
    /// Arguments after `--ros-args` (passed by `ros2 run` / `ros2 launch`).
    #[arg(long = "ros-args", num_args = 0.., allow_hyphen_values = true)]
    ros_args: Vec<String>,
}

fn main() -> ExitCode {
    let arenas = node_main::bound_malloc_arenas();
    node_main::init_logging("info,rustdds=off,ros2_client=warn");
    node_main::log_malloc_arenas(arenas);
    let cli = Cli::parse();
    let args = node_main::node_parameters("vla_perf_benchmark", &cli.ros_args)
        .and_then(|params| node_main::note_use_sim_time(&params).map(|()| params))
        .map_err(anyhow::Error::from)
        .and_then(|params| cli.args.with_parameters(&params));
    match args {
        Ok(args) => cli::run(&args, "vla_perf_benchmark", node_main::transport()),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
