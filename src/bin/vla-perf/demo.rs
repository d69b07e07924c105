//! `vla-perf demo`: the suite on the built-in SIMULATED stack.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use vla_perf::config;
use vla_perf::demo::DemoOptions;
use vla_perf::msg::CommandLatency;

/// Alert rules used when `--alerts` is not given: the shipped example.
const DEFAULT_ALERTS: &str = include_str!("../../../config/alerts.yaml");

/// Options of `vla-perf demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// How long commands are spoken (`60s`, `2m`).
    #[arg(long, default_value = "40s", value_parser = vla_perf::config::duration::parse_duration)]
    duration: Duration,
    /// One command this often.
    #[arg(long, default_value = "3s", value_parser = vla_perf::config::duration::parse_duration)]
    command_period: Duration,
    /// Make the simulated planner slow and the vision heavy for the middle of the run
    /// (20% to 55% of --duration), to watch alerts fire and resolve.
    #[arg(long)]
    degrade: bool,
    /// Plain log lines instead of the live dashboard (the default when stdout is not a
    /// terminal, e.g. in CI).
    #[arg(long)]
    no_dashboard: bool,
    /// Alert rules (default: the shipped config/alerts.yaml).
    #[arg(long, value_name = "FILE")]
    alerts: Option<PathBuf>,
    /// DDS domain id of every node (default: ROS_DOMAIN_ID, else 0).
    #[arg(long)]
    domain: Option<u16>,
    /// Where the alert history is written.
    #[arg(long, default_value = "vla_perf_demo")]
    state_dir: PathBuf,
    /// Benchmark scenario run after the spoken commands (default:
    /// config/scenarios/basic.yaml when it is there).
    #[arg(long, value_name = "FILE")]
    scenario: Option<PathBuf>,
    /// Skip the benchmark run.
    #[arg(long, conflicts_with = "scenario")]
    no_benchmark: bool,
    /// Where the benchmark report goes (default: STATE_DIR/results).
    #[arg(long, value_name = "DIR")]
    results: Option<PathBuf>,
    /// Address of the Foxglove WebSocket server (the collector's `foxglove` section);
    /// loopback unless told otherwise.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8765")]
    foxglove: std::net::SocketAddr,
    /// No Foxglove WebSocket server.
    #[arg(long)]
    no_foxglove: bool,
}

/// The scenario the demo benchmarks unless told otherwise (relative to the working
/// directory: the repository root, where README's command runs).
const DEFAULT_SCENARIO: &str = "config/scenarios/basic.yaml";

/// Log filter of the demo: its own lines, not RustDDS's discovery chatter.
const LOG_FILTER: &str = "info,rustdds=off,ros2_client=warn";

/// Runs the demo; prints a summary.
pub fn main(args: &Args) -> ExitCode {
    let dashboard = !args.no_dashboard && std::io::stdout().is_terminal();
    if let Err(e) = init_logging(args, dashboard) {
        eprintln!("error: {}: {e}", args.state_dir.join("demo.log").display());
        return ExitCode::FAILURE;
    }
    let options = match demo_options(args) {
        Ok(options) => options,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let domain = options.domain;
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let banner = format!(
        "vla_perf demo on the SIMULATED VLA stack: {} of commands, domain {domain}, localhost only{}",
        humantime::format_duration(args.duration),
        if args.degrade { ", degraded mid-run" } else { "" }
    );
    let transport = vla_perf::node_main::transport();
    let note = format!(
        "SIMULATED stack, {}{}",
        humantime::format_duration(args.duration),
        if args.degrade {
            ", degraded mid-run"
        } else {
            ""
        }
    );
    let foxglove = options.foxglove.map(vla_perf::foxglove::connect_hint);
    // The top line is short on a terminal: the address only (the full hint is printed on
    // exit, and in demo.log by the collector).
    let note = match options.foxglove {
        Some(addr) => format!("{note} | Foxglove {}", vla_perf::foxglove::url(addr)),
        None => note,
    };
    let result = match dashboard {
        true => runtime.block_on(with_dashboard(options, transport, &note)),
        false => {
            println!("{banner}");
            if let Some(hint) = &foxglove {
                println!("Foxglove, live: {hint}");
            }
            // Ctrl-C stops the demo early, with its summary (signals need the runtime).
            runtime.block_on(async {
                let stop = vla_perf::node_main::shutdown_signal();
                vla_perf::demo::run(options, transport, stop).await
            })
        }
    };
    if dashboard {
        println!("{banner}");
        println!("log lines: {}", args.state_dir.join("demo.log").display());
        if let Some(hint) = &foxglove {
            println!("Foxglove was served while it ran: {hint}");
        }
    }
    let summary = match result {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    print_summary(&summary, args);
    if let Some(finished) = &summary.benchmark {
        vla_perf::bench::cli::print_finished(finished);
    }
    if summary.commands.is_empty() {
        eprintln!("error: no command was measured");
        return ExitCode::FAILURE;
    }
    if let Some(e) = &summary.benchmark_error {
        eprintln!("error: benchmark: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Logs to `STATE_DIR/demo.log` when the dashboard owns the terminal, else to stderr; the
/// error is the log file's.
fn init_logging(args: &Args, dashboard: bool) -> std::io::Result<()> {
    if !dashboard {
        vla_perf::node_main::init_logging(LOG_FILTER);
        return Ok(());
    }
    // The dashboard owns the terminal: log lines go to a file beside the history.
    let log = args.state_dir.join("demo.log");
    let file =
        std::fs::create_dir_all(&args.state_dir).and_then(|_| std::fs::File::create(&log))?;
    vla_perf::node_main::init_logging_to(LOG_FILTER, std::sync::Mutex::new(file), false);
    Ok(())
}

/// The demo's options from the command line: alert rules, domain, and the scenario of
/// the benchmark run (none when skipped or when the default one is not here).
fn demo_options(args: &Args) -> anyhow::Result<DemoOptions> {
    let rules = match &args.alerts {
        Some(path) => config::load_alerts(path)?,
        None => config::parse_alerts("config/alerts.yaml (built in)", DEFAULT_ALERTS)?.config,
    };
    let domain = match args.domain {
        Some(d) => d,
        None => vla_perf::transport::NodeOptions::from_env("vla_perf_demo", "/")?.domain_id,
    };
    let scenario_path = match (&args.scenario, args.no_benchmark) {
        (_, true) => None,
        (Some(path), false) => Some(path.clone()),
        (None, false) => Some(PathBuf::from(DEFAULT_SCENARIO)).filter(|p| p.is_file()),
    };
    let scenario = match scenario_path {
        Some(path) => {
            let scenario = config::load_scenario(&path)?;
            Some((path, scenario))
        }
        None => {
            if !args.no_benchmark {
                eprintln!(
                    "note: {DEFAULT_SCENARIO} not found (run from the repository root); no benchmark run"
                );
            }
            None
        }
    };
    let foxglove = match args.no_foxglove {
        true => None,
        false => Some(free_to_serve(args.foxglove)?),
    };
    Ok(DemoOptions {
        foxglove,
        scenario,
        results_dir: args
            .results
            .clone()
            .unwrap_or_else(|| args.state_dir.join("results")),
        duration: args.duration,
        command_period: args.command_period,
        domain,
        degrade: args.degrade,
        alerts: rules,
        state_dir: args.state_dir.clone(),
    })
}

/// `addr` when the Foxglove server can listen there: taken (another demo, a
/// `foxglove_bridge`) is an error now, not a collector failing in the background.
fn free_to_serve(addr: std::net::SocketAddr) -> anyhow::Result<std::net::SocketAddr> {
    match std::net::TcpListener::bind(addr) {
        Ok(_) => Ok(addr),
        Err(e) => anyhow::bail!(
            "--foxglove {addr}: cannot listen there ({e}); pick another address with \
             --foxglove HOST:PORT, or --no-foxglove"
        ),
    }
}

/// Commands by outcome (the driver's and the benchmark's apart), the median end-to-end
/// latency and the alert state changes.
fn print_summary(summary: &vla_perf::demo::DemoSummary, args: &Args) {
    // The benchmark's warm-up commands (ids `w1`, `w2`, ...: until the stack answers) are
    // counted apart from its measured ones.
    let warm_up = |c: &CommandLatency| {
        let id = c.command_id.as_bytes();
        id.len() > 1 && id[0] == b'w' && id[1..].iter().all(u8::is_ascii_digit)
    };
    let outcomes = |benchmark: bool| {
        let mut by = std::collections::BTreeMap::<&str, usize>::new();
        let mine = |c: &&CommandLatency| summary.from_benchmark(c) == benchmark && !warm_up(c);
        for c in summary.commands.iter().filter(mine) {
            *by.entry(CommandLatency::outcome_name(c.outcome))
                .or_default() += 1;
        }
        let total: usize = by.values().sum();
        (total, by)
    };
    let (driver, driver_outcomes) = outcomes(false);
    println!(
        "driver: spoke {} commands; the collector measured {driver}: {driver_outcomes:?}",
        summary.spoken
    );
    if let Some(bench) = &summary.benchmark {
        // Only suites that speak on the voice topic reach the collector's pipeline; the
        // others send transcripts, plans or images to a later stage, or images only.
        let sent = |spoken: bool| -> u64 {
            bench
                .report
                .suites
                .iter()
                .filter(|s| s.suite.starts_at_voice() == spoken)
                .map(|s| s.commands_sent)
                .sum()
        };
        let (measured, bench_outcomes) = outcomes(true);
        let warm = summary.commands.iter().filter(|c| warm_up(c)).count();
        println!(
            "benchmark: spoke {} commands (and sent {} inputs to later stages); the collector \
             measured {measured}: {bench_outcomes:?} (and {warm} warm-up)",
            sent(true),
            sent(false)
        );
    }
    let mut e2e: Vec<f64> = summary
        .commands
        .iter()
        .map(|c| c.end_to_end)
        .filter(|v| v.is_finite())
        .collect();
    e2e.sort_by(f64::total_cmp);
    if let Some(median) = e2e.get(e2e.len() / 2) {
        println!(
            "end-to-end latency median {median:.2} s over {} succeeded commands",
            e2e.len()
        );
    }
    let count = |state: u8| summary.alerts.iter().filter(|a| a.state == state).count();
    println!(
        "alerts: {} state changes ({} firing, {} resolved); history in {}",
        summary.alerts.len(),
        count(vla_perf::msg::Alert::STATE_FIRING),
        count(vla_perf::msg::Alert::STATE_RESOLVED),
        args.state_dir.join("alert_history.jsonl").display()
    );
}

/// Runs the demo with the live dashboard attached (its own DDS participant, like
/// `vla-perf dashboard`); q / Ctrl-C stops the demo early.
async fn with_dashboard(
    options: DemoOptions,
    transport: std::sync::Arc<dyn vla_perf::transport::Transport>,
    note: &str,
) -> vla_perf::demo::Result<vla_perf::demo::DemoSummary> {
    use vla_perf::dashboard;
    use vla_perf::demo::node_error;
    use vla_perf::transport::NodeOptions;
    let namespace = "/vla_perf";
    let mut node = transport
        .create_node(&NodeOptions::new("vla_perf_dashboard", "/").with_domain(options.domain))
        .map_err(node_error("dashboard"))?;
    let updates =
        dashboard::subscribe(node.as_mut(), namespace).map_err(node_error("dashboard"))?;
    let (quit_tx, quit_rx) = tokio::sync::oneshot::channel::<()>();
    let demo = tokio::spawn(vla_perf::demo::run(options, transport, async move {
        let _ = quit_rx.await;
    }));
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let demo = tokio::spawn(async move {
        let result = demo.await;
        let _ = done_tx.send(());
        result
    });
    let shown = dashboard::run_terminal(updates, namespace, note, async move {
        let _ = done_rx.await;
    })
    .await;
    // Quit, a terminal error or the end of the demo: either way the demo stops now.
    let _ = quit_tx.send(());
    if let Err(e) = shown {
        eprintln!("warning: the dashboard stopped: {e}");
    }
    let result = demo
        .await
        .map_err(node_error("dashboard"))?
        .map_err(node_error("dashboard"))?;
    drop(node);
    result
}
