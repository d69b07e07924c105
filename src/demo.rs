//! `vla-perf demo`: the suite on the built-in SIMULATED stack, over localhost-only DDS.
//!
//! Starts the simulated VLA stack, the collector (default config: it matches the stack),
//! the alert node (`config/alerts.yaml` rules unless told otherwise) and a driver that
//! speaks one command every `command_period`; prints each measured command and alert as a
//! log line, then a summary. Every node is its own DDS participant bound to 127.0.0.1.
//! With [`DemoOptions::foxglove`] the collector also serves Foxglove ([`crate::foxglove`]).
//!
//! With `degrade`, the simulated stack is degraded for the middle of the run only (from
//! [`DEGRADE_FROM`] to [`DEGRADE_UNTIL`] of `duration`), so that alerts fire and then
//! resolve while the demo still runs.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::alerts::Settings;
use crate::config::scenario::Scenario;
use crate::config::{AlertRules, CollectorConfig};
use crate::dashboard::model::{severity_name, state_name};
use crate::msg::audio_common_msgs::AudioStamped;
use crate::msg::builtin_interfaces::Time;
use crate::msg::std_msgs::Header;
use crate::msg::{Alert, CommandLatency};
use crate::sim::{speech, DegradeSwitch, SimConfig};
use crate::transport::{
    wall_clock, Node, NodeOptions, Publisher, Qos, Subscription, Transport, Typed,
};

/// What can stop the demo.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A node failed to start or stopped with an error.
    #[error("{node}: {source}")]
    Node {
        /// Which node.
        node: &'static str,
        /// What went wrong.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Result alias of this module.
pub type Result<T> = std::result::Result<T, Error>;

/// Fraction of `duration` after which `--degrade` degrades the simulated stack.
pub const DEGRADE_FROM: f64 = 0.20;
/// Fraction of `duration` after which the simulated stack is healthy again.
pub const DEGRADE_UNTIL: f64 = 0.55;
/// Planner slowdown of the demo's degraded phase: enough for commands to miss the default
/// SLO (5 s end to end), so `slo_breached` of `config/alerts.yaml` fires at once and
/// resolves once the SLO window holds healthy commands only.
pub const DEGRADE_PLANNER_SLOWDOWN: f64 = 6.0;

/// How the demo runs.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// How long commands are spoken.
    pub duration: Duration,
    /// One command this often.
    pub command_period: Duration,
    /// DDS domain of every node.
    pub domain: u16,
    /// Make the simulated stack slow (planner) and heavy (vision) so alerts fire.
    pub degrade: bool,
    /// Alert rules.
    pub alerts: AlertRules,
    /// Where the alert history goes.
    pub state_dir: PathBuf,
    /// After the spoken commands, a benchmark run of this scenario (file, parsed).
    pub scenario: Option<(PathBuf, Scenario)>,
    /// Where the benchmark's results go.
    pub results_dir: PathBuf,
    /// Where the collector serves Foxglove (`None`: it does not).
    pub foxglove: Option<std::net::SocketAddr>,
}

/// What the demo measured.
#[derive(Debug, Default, Clone)]
pub struct DemoSummary {
    /// Commands spoken.
    pub spoken: usize,
    /// Every CommandLatency the collector published.
    pub commands: Vec<CommandLatency>,
    /// Every Alert state change the alert node published.
    pub alerts: Vec<Alert>,
    /// The benchmark run, when one was made.
    pub benchmark: Option<crate::bench::Finished>,
    /// Why the benchmark run failed, when it did (shared: the summary is cloned).
    pub benchmark_error: Option<Arc<crate::bench::Error>>,
    /// When the benchmark run began (wall clock since the Unix epoch): commands that
    /// started earlier are the driver's, later ones the benchmark's.
    pub benchmark_started: Option<Duration>,
}

impl DemoSummary {
    /// Whether command `c` is one the benchmark sent (it started after the benchmark
    /// began) rather than one the driver spoke.
    pub fn from_benchmark(&self, c: &CommandLatency) -> bool {
        self.benchmark_started
            .is_some_and(|at| c.started.to_duration().is_some_and(|s| s >= at))
    }
}

const COMMANDS: &[&str] = &[
    "pick up the red cup",
    "go to the kitchen",
    "open the drawer",
    "place the blue box on the table",
    "look at the green ball",
    "close the door",
];

/// Wraps an error of `node` (a join error or the node's own).
pub fn node_error<E: std::error::Error + Send + Sync + 'static>(
    node: &'static str,
) -> impl Fn(E) -> Error {
    move |e| Error::Node {
        node,
        source: Box::new(e),
    }
}

/// Runs the demo on `transport` until its duration has passed (and the last commands had
/// time to finish) or `stop` resolves, and returns what was measured.
pub async fn run(
    options: DemoOptions,
    transport: Arc<dyn Transport>,
    stop: impl Future<Output = ()>,
) -> Result<DemoSummary> {
    tokio::pin!(stop);
    let domain = options.domain;
    // Degraded only in the middle of the run (see the degrade task below).
    let degrade = DegradeSwitch::new(false);
    let nodes = Nodes::start(&options, &transport, degrade.clone());

    let mut driver = transport
        .create_node(&NodeOptions::new("vla_perf_demo_driver", "/").with_domain(domain))
        .map_err(node_error("driver"))?;
    let speak = Publisher::new(driver.as_mut(), "/audio/utterance", Qos::reliable(10))
        .map_err(node_error("driver"))?;
    let summary = Arc::new(Mutex::new(DemoSummary::default()));
    let listener = listen(driver.as_mut(), summary.clone())?;

    // Discovery between the participants takes a moment; commands spoken before the
    // stack's ASR matched the driver would be lost, so start after a short settle.
    let mut stopped_early = false;
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_secs(2)) => {}
        _ = &mut stop => stopped_early = true,
    }
    let started = tokio::time::Instant::now();
    let degrader = options
        .degrade
        .then(|| degrade_for_a_while(&options, started, degrade));
    let mut spoken = 0;
    if !stopped_early {
        (spoken, stopped_early) = speak_commands(&options, &speak, started, stop.as_mut()).await;
    }
    let mut benchmark = None;
    let mut benchmark_started = None;
    if let (Some((path, scenario)), false) = (&options.scenario, stopped_early) {
        benchmark_started = Some(wall_clock());
        let result = run_benchmark(&options, path, scenario, &transport, stop.as_mut()).await;
        benchmark = Some(result.map_err(Arc::new));
    }
    // Let the last commands finish (or time out) before stopping.
    if !stopped_early && benchmark.is_none() {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(12)) => {}
            _ = &mut stop => {}
        }
    }
    if let Some(degrader) = degrader {
        degrader.abort();
    }
    nodes.stop().await?;
    listener.abort();
    let mut summary = summary.lock().unwrap_or_else(|p| p.into_inner()).clone();
    summary.spoken = spoken;
    summary.benchmark_started = benchmark_started;
    match benchmark {
        Some(Ok(finished)) => summary.benchmark = Some(finished),
        Some(Err(e)) => summary.benchmark_error = Some(e),
        None => {}
    }
    Ok(summary)
}

/// The demo's nodes (simulated stack, collector, alert node), each on a task of its own
/// until [`Nodes::stop`].
struct Nodes {
    stop: tokio::sync::broadcast::Sender<()>,
    sim: tokio::task::JoinHandle<crate::sim::Result<()>>,
    collector: tokio::task::JoinHandle<crate::collector::Result<()>>,
    alerts: tokio::task::JoinHandle<crate::alerts::node::Result<()>>,
}

impl Nodes {
    /// Starts the nodes on `options.domain`; `degrade` switches the simulated stack.
    fn start(
        options: &DemoOptions,
        transport: &Arc<dyn Transport>,
        degrade: DegradeSwitch,
    ) -> Self {
        let domain = options.domain;
        let (stop_tx, _) = tokio::sync::broadcast::channel::<()>(1);
        let stopped = |tx: &tokio::sync::broadcast::Sender<()>| {
            let mut rx = tx.subscribe();
            async move {
                let _ = rx.recv().await;
            }
        };
        let mut sim_config = SimConfig::default();
        sim_config.degrade.planner_slowdown = DEGRADE_PLANNER_SLOWDOWN;
        let sim = tokio::spawn(crate::sim::run_stack_switched(
            sim_config,
            transport.clone(),
            domain,
            stopped(&stop_tx),
            None,
            degrade,
        ));
        let mut collector_config = CollectorConfig {
            robot_id: "demo_robot".into(),
            command_timeout: Duration::from_secs(10),
            ..CollectorConfig::default()
        };
        collector_config.prometheus.listen = ([127, 0, 0, 1], 0).into();
        if let Some(listen) = options.foxglove {
            collector_config.foxglove.enabled = true;
            collector_config.foxglove.listen = listen;
        }
        let collector = tokio::spawn(crate::collector::run(
            collector_config,
            transport.clone(),
            domain,
            stopped(&stop_tx),
        ));
        let settings = Settings::new(options.state_dir.join("alert_history.jsonl"));
        let alerts = tokio::spawn(crate::alerts::run(
            options.alerts.clone(),
            settings,
            transport.clone(),
            domain,
            stopped(&stop_tx),
        ));
        Self {
            stop: stop_tx,
            sim,
            collector,
            alerts,
        }
    }

    /// Stops every node and waits for it; the first failure is the error.
    async fn stop(self) -> Result<()> {
        let _ = self.stop.send(());
        self.sim
            .await
            .map_err(node_error("sim_stack"))?
            .map_err(node_error("sim_stack"))?;
        self.collector
            .await
            .map_err(node_error("collector"))?
            .map_err(node_error("collector"))?;
        self.alerts
            .await
            .map_err(node_error("alert_manager"))?
            .map_err(node_error("alert_manager"))?;
        Ok(())
    }
}

/// Speaks one command every `command_period` from `started` until the duration has
/// passed; returns how many were spoken and whether `stop` ended it early.
async fn speak_commands<F: Future<Output = ()>>(
    options: &DemoOptions,
    speak: &Publisher<AudioStamped>,
    started: tokio::time::Instant,
    mut stop: Pin<&mut F>,
) -> (usize, bool) {
    let mut tick = tokio::time::interval(options.command_period);
    let mut spoken = 0usize;
    while started.elapsed() < options.duration {
        tokio::select! {
            _ = tick.tick() => {}
            _ = &mut stop => return (spoken, true),
        }
        let text = format!("[c{spoken}] {}", COMMANDS[spoken % COMMANDS.len()]);
        let header = Header {
            stamp: Time::from(wall_clock()),
            frame_id: "demo_microphone".into(),
        };
        if let Err(e) = speak.publish(&speech::utterance(&text, header)) {
            tracing::warn!("speaking {text:?}: {e}");
        }
        spoken += 1;
    }
    (spoken, false)
}

/// Runs the benchmark of `scenario` against the simulated stack; `stop` ends it early
/// (the run stops and reports what it measured).
async fn run_benchmark<F: Future<Output = ()>>(
    options: &DemoOptions,
    path: &Path,
    scenario: &Scenario,
    transport: &Arc<dyn Transport>,
    mut stop: Pin<&mut F>,
) -> crate::bench::Result<crate::bench::Finished> {
    tracing::info!(
        "benchmark: running scenario {} ({})",
        scenario.name,
        path.display()
    );
    let (bench_options, settings) = benchmark_options(options, path, scenario);
    let (bench_stop, bench_stopped) = tokio::sync::watch::channel(false);
    let run = crate::bench::run_once(&bench_options, &settings, transport.clone(), bench_stopped);
    tokio::pin!(run);
    let mut stopped = false;
    loop {
        tokio::select! {
            r = &mut run => return r,
            _ = &mut stop, if !stopped => {
                stopped = true;
                let _ = bench_stop.send(true);
            }
        }
    }
}

/// Subscribes the driver to the collector's command latencies and the alert node's state
/// changes; a task logs each and keeps it in `summary`.
fn listen(
    driver: &mut dyn Node,
    log: Arc<Mutex<DemoSummary>>,
) -> Result<tokio::task::JoinHandle<()>> {
    let mut latencies = Subscription::<Typed<CommandLatency>>::typed(
        driver,
        "/vla_perf/command_latency",
        Qos::reliable(100),
    )
    .map_err(node_error("driver"))?;
    let mut alert_sub =
        Subscription::<Typed<Alert>>::typed(driver, "/vla_perf/alerts", Qos::reliable(100))
            .map_err(node_error("driver"))?;
    Ok(tokio::spawn(async move {
        loop {
            tokio::select! {
                m = latencies.recv() => {
                    let Some(m) = m else { break };
                    let c = m.message;
                    log_command(&c);
                    log.lock().unwrap_or_else(|p| p.into_inner()).commands.push(c);
                }
                a = alert_sub.recv() => {
                    let Some(a) = a else { break };
                    let a = a.message;
                    log_alert(&a);
                    log.lock().unwrap_or_else(|p| p.into_inner()).alerts.push(a);
                }
            }
        }
    }))
}

/// One finished command as a log line with its stage latencies.
fn log_command(c: &CommandLatency) {
    let stages: Vec<String> = c
        .stages
        .iter()
        .filter(|s| s.latency.is_finite())
        .map(|s| format!("{} {:.0} ms", s.stage, s.latency * 1e3))
        .collect();
    tracing::info!(
        "command {}: outcome {} end to end {:.2} s [{}]",
        c.command_id,
        CommandLatency::outcome_name(c.outcome),
        c.end_to_end,
        stages.join(", ")
    );
}

/// One alert state change as a log line.
fn log_alert(a: &Alert) {
    tracing::warn!(
        "alert {} ({}): state {} severity {}: {}",
        a.rule,
        a.metric,
        state_name(a.state),
        severity_name(a.severity),
        a.message
    );
}

/// Degrades the simulated stack from [`DEGRADE_FROM`] to [`DEGRADE_UNTIL`] of the run.
fn degrade_for_a_while(
    options: &DemoOptions,
    started: tokio::time::Instant,
    degrade: DegradeSwitch,
) -> tokio::task::JoinHandle<()> {
    let (from, until) = (
        options.duration.mul_f64(DEGRADE_FROM),
        options.duration.mul_f64(DEGRADE_UNTIL),
    );
    tokio::spawn(async move {
        tokio::time::sleep_until(started + from).await;
        tracing::warn!(
            "degrading the SIMULATED stack (planner x{DEGRADE_PLANNER_SLOWDOWN}, heavy vision) \
             for {}",
            humantime::format_duration(until - from)
        );
        degrade.set(true);
        tokio::time::sleep_until(started + until).await;
        tracing::warn!("the SIMULATED stack is healthy again");
        degrade.set(false);
    })
}

/// The benchmark run after the spoken commands: the scenario against the simulated stack.
fn benchmark_options(
    options: &DemoOptions,
    path: &Path,
    scenario: &Scenario,
) -> (crate::bench::Options, crate::bench::Settings) {
    let bench_options = crate::bench::Options {
        scenario_path: path.to_owned(),
        scenario: scenario.clone(),
        results_dir: options.results_dir.clone(),
        domain: options.domain,
        node_name: "vla_perf_benchmark".into(),
        // The SIMULATED stack runs inside this process.
        processes: std::env::current_exe()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .into_iter()
            .collect(),
        gpu: true,
        progress_bar: false,
    };
    let settings = crate::bench::Settings {
        robot_id: "demo_robot".into(),
        camera_rate_hz: Some(SimConfig::default().camera.rate_hz),
        ..crate::bench::Settings::default()
    };
    (bench_options, settings)
}
