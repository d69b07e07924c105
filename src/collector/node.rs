//! The collector node: subscribes to the configured stage topics, correlates commands and
//! publishes what it measured. Thin: the measuring is in the core and in [`super::inputs`];
//! this file wires them to the transport and the clock.
//!
//! Published under the configured namespace (default `/vla_perf`):
//! - `command_latency` ([`CommandLatency`]): one per finished command.
//! - `metrics` ([`MetricArray`]): every `publish_period`, per-stage and end-to-end latency
//!   summaries (cumulative and every sliding window), SLO compliance, command rate,
//!   commands in flight, outcome counts and correlation anomalies.
//!
//! - `topic_health` ([`MetricArray`]): rate, bandwidth, jitter, largest gap and header-stamp
//!   age of every stage topic and extra watched topic.
//! - `resources` ([`ResourceUsage`]): every `resources.period`.
//!
//! And `/diagnostics` ([`DiagnosticArray`]): one status per stage and per watched topic;
//! and, unless disabled, Prometheus/OpenMetrics on `prometheus.listen` (127.0.0.1:9464);
//! when enabled, a Foxglove WebSocket server on `foxglove.listen` ([`crate::foxglove`]).

use std::fs::File;
use std::future::Future;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::pipeline::{Arrival, Batch, ConfigError, Message, Pipeline};
use crate::config::{CollectorConfig, WatchedTopic};
use crate::core::clock::ClockWatch;
use crate::core::reorder::Reorder;
use crate::core::stats::Window;
use crate::core::timeline::CompletedCommand;
use crate::msg::action_msgs::GoalStatusArray;
use crate::msg::audio_common_msgs;
use crate::msg::builtin_interfaces::Time;
use crate::msg::diagnostic_msgs::DiagnosticArray;
use crate::msg::std_msgs::{Header, String as RosString};
use crate::msg::{CommandLatency, MetricArray, ResourceUsage, RosMessage, StageEvent};
use crate::prometheus::Exporter;
use crate::resources::{resource_statuses, ResourceOptions, ResourceSampler};
use crate::transport::{
    self, wall_clock, AudioChunks, Decoder, NodeOptions, Publisher, Qos, Received, Subscription,
    Transport, Typed, Unstamped,
};

/// Why the collector could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The resource sampler could not be set up.
    #[error("configuration: resources: {0}")]
    Resources(#[source] crate::resources::ResourceError),
    /// The pipeline could not be built.
    #[error(transparent)]
    Pipeline(#[from] ConfigError),
    /// The transport failed.
    #[error(transparent)]
    Transport(#[from] transport::Error),
    /// The Prometheus endpoint could not be served.
    #[error(transparent)]
    Prometheus(#[from] crate::prometheus::Error),
    /// The Foxglove WebSocket server could not be started.
    #[error(transparent)]
    Foxglove(#[from] crate::foxglove::Error),
    /// The JSONL output could not be written.
    #[error("jsonl_path {path}: {source}")]
    Jsonl {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Result alias of this module.
pub type Result<T> = std::result::Result<T, Error>;

/// Disagreement between the wall and monotonic clocks over one publish period that counts
/// as a step of the wall clock rather than slewing or a late tick.
const CLOCK_STEP_TOLERANCE: Duration = Duration::from_millis(250);

/// Subscribes to `topic` with the decoder its type needs and forwards into `tx`.
fn subscribe(
    node: &mut dyn transport::Node,
    index: usize,
    watched: &WatchedTopic,
    tx: mpsc::Sender<Arrival>,
) -> Result<()> {
    fn forward<D, F>(sub: Subscription<D>, index: usize, tx: mpsc::Sender<Arrival>, wrap: F)
    where
        D: Decoder + Send + 'static,
        D::Output: Send,
        F: Fn(D::Output) -> Message + Send + 'static,
    {
        sub.forward(tx, move |r: Received<D::Output>| Arrival {
            topic: index,
            received_at: r.received_at,
            produced_at: r.source_time.unwrap_or(r.received_at),
            size: r.size,
            message: wrap(r.message),
        });
    }
    let (topic, qos) = (
        watched.topic.as_str(),
        super::transport_qos(watched.subscription_qos()),
    );
    match watched.msg_type.as_str() {
        RosString::TYPE_NAME => forward(
            Subscription::<Typed<RosString>>::typed(node, topic, qos)?,
            index,
            tx,
            |m| Message::Text(m.data),
        ),
        GoalStatusArray::TYPE_NAME => forward(
            Subscription::<Typed<GoalStatusArray>>::typed(node, topic, qos)?,
            index,
            tx,
            Message::Goals,
        ),
        t if audio_common_msgs::is_audio(t) => forward(
            Subscription::new(node, topic, t, qos, AudioChunks::new(t))?,
            index,
            tx,
            Message::Audio,
        ),
        StageEvent::TYPE_NAME => forward(
            Subscription::<Typed<StageEvent>>::typed(node, topic, qos)?,
            index,
            tx,
            Message::StageEvent,
        ),
        // A type without a header: arrivals only.
        other if watched.stamped == Some(false) => forward(
            Subscription::new(node, topic, other, qos, Unstamped)?,
            index,
            tx,
            Message::Header,
        ),
        // Anything else starts with a header.
        other => forward(
            Subscription::header_only(node, topic, other, qos)?,
            index,
            tx,
            Message::Header,
        ),
    }
    Ok(())
}

/// Runs the collector until `shutdown` resolves; then abandons open commands (publishing
/// them) and returns.
// Long: the node's whole life: publishers, subscriptions, endpoints and the loop that owns them.
pub async fn run(
    config: CollectorConfig,
    transport: Arc<dyn Transport>,
    domain_id: u16,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let mut node = transport
        .create_node(&NodeOptions::new("vla_perf_collector", "/").with_domain(domain_id))?;
    let ns = config.namespace.trim_end_matches('/').to_owned();
    let mut pipeline = Pipeline::new(&config)?;
    let latency_pub = Publisher::<CommandLatency>::new(
        node.as_mut(),
        &format!("{ns}/command_latency"),
        Qos::reliable(100),
    )?;
    let metrics_pub =
        Publisher::<MetricArray>::new(node.as_mut(), &format!("{ns}/metrics"), Qos::reliable(10))?;
    let health_pub = Publisher::<MetricArray>::new(
        node.as_mut(),
        &format!("{ns}/topic_health"),
        Qos::reliable(10),
    )?;
    let diagnostics_pub =
        Publisher::<DiagnosticArray>::new(node.as_mut(), "/diagnostics", Qos::reliable(10))?;
    let (tx, mut rx) = mpsc::channel::<Arrival>(4096);
    for (index, t) in pipeline.topics().iter().enumerate() {
        subscribe(node.as_mut(), index, t, tx.clone())?;
    }
    drop(tx);
    let jsonl = match &config.jsonl_path {
        Some(path) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .read(true)
                .append(true)
                .open(path)
                .and_then(|mut file| crate::report::end_torn_line(&mut file).map(|()| file))
                .map_err(|source| Error::Jsonl {
                    path: path.display().to_string(),
                    source,
                })?,
        ),
        None => None,
    };
    let exporter = Exporter::new(&config.robot_id);
    // Held until the collector returns; dropping it stops the HTTP listener.
    let _server = match config.prometheus.enabled {
        true => {
            let server = exporter.serve(config.prometheus.listen).await?;
            tracing::info!(
                "Prometheus metrics on http://{}/metrics",
                server.local_addr()
            );
            Some(server)
        }
        false => None,
    };
    // Held until the collector returns; dropping it closes every Foxglove connection.
    let _foxglove = serve_foxglove(&config, &pipeline, transport.as_ref(), domain_id).await?;
    spawn_resource_sampler(&config, node.as_mut(), &ns, exporter.clone())?;
    let mut tick = tokio::time::interval(config.publish_period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);

    let (publications, publisher) = spawn_publisher(Publishers {
        robot_id: config.robot_id.clone(),
        latency_pub,
        metrics_pub,
        health_pub,
        diagnostics_pub,
        jsonl,
    });
    let mut out = Output {
        exporter,
        publications,
        unreadable: 0,
    };
    // Held messages are released by the monotonic clock: a wall clock set back must not
    // hold them for as long as the step. Their production order is kept by shifting each
    // production stamp into monotonic time by its own delivery lag.
    let started = std::time::Instant::now();
    let monotonic = || started.elapsed();
    let mut held = Reorder::new(config.reorder_window);
    let mut clock = ClockWatch::new(CLOCK_STEP_TOLERANCE);
    clock.observe(wall_clock(), monotonic());
    loop {
        let due = held.next_due();
        let release = async {
            match due {
                Some(due) => tokio::time::sleep(due.saturating_sub(monotonic())).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = &mut shutdown => break,
            arrival = rx.recv() => {
                let Some(arrival) = arrival else { break };
                let topic = &pipeline.topics()[arrival.topic].topic;
                out.exporter.add_topic_traffic(topic, 1, arrival.size as u64);
                pipeline.observe(&arrival);
                // A topic watched only for its health is done here: holding it for the
                // reorder window would cost a timer wake-up per message (a camera's 30/s)
                // for nothing. Open commands time out on the tick and on stage messages.
                if pipeline.is_stage_topic(arrival.topic) {
                    hold(&mut held, monotonic(), arrival);
                }
            }
            _ = release => {}
            _ = tick.tick() => {
                // Commands are timed out only as far as held messages cannot still end them.
                let now = wall_clock();
                if let Some(step) = clock.observe(now, monotonic()) {
                    pipeline.clock_stepped();
                    tracing::warn!(
                        "the wall clock stepped ({step:?}); latencies across the step are \
                         not recorded, commands opened before a step back time out"
                    );
                }
                let expired = pipeline.expire(now.saturating_sub(config.reorder_window));
                out.finished(&pipeline, expired).await;
                out.metrics(&pipeline, now).await;
                out.topic_health(&pipeline, now).await;
            }
        }
        for arrival in held.pop_due(monotonic()).collect::<Vec<_>>() {
            out.arrive(&mut pipeline, &arrival).await;
        }
    }
    // What already arrived is measured before the open commands are abandoned.
    while let Ok(arrival) = rx.try_recv() {
        pipeline.observe(&arrival);
        hold(&mut held, monotonic(), arrival);
    }
    for arrival in held.drain().collect::<Vec<_>>() {
        out.arrive(&mut pipeline, &arrival).await;
    }
    let now = wall_clock();
    let abandoned = pipeline.flush(now);
    out.finished(&pipeline, abandoned).await;
    out.metrics(&pipeline, now).await;
    // Everything queued is published before the node returns.
    drop(out);
    let _ = tokio::task::spawn_blocking(move || publisher.join()).await;
    Ok(())
}

/// Starts the Foxglove WebSocket server of the `foxglove` section, when enabled: it relays
/// the suite's topics (and the stack topics read whole, when asked) from a node of its own,
/// so what it serves is what went out over the middleware.
async fn serve_foxglove(
    config: &CollectorConfig,
    pipeline: &Pipeline,
    transport: &dyn Transport,
    domain_id: u16,
) -> Result<Option<(crate::foxglove::Server, Box<dyn transport::Node>)>> {
    if !config.foxglove.enabled {
        return Ok(None);
    }
    let mut topics = crate::foxglove::output_topics(&config.namespace);
    if config.foxglove.stack_topics {
        topics.extend(crate::foxglove::stack_topics(pipeline.topics()));
    }
    let mut node = transport
        .create_node(&NodeOptions::new("vla_perf_foxglove", "/").with_domain(domain_id))?;
    let server =
        crate::foxglove::Server::start(config.foxglove.listen, node.as_mut(), &topics).await?;
    tracing::info!(
        "Foxglove WebSocket server on {} ({} topics): {}",
        server.url(),
        topics.len(),
        crate::foxglove::connect_hint(server.local_addr())
    );
    Ok(Some((server, node)))
}

/// Holds `arrival`, received at monotonic time `now`, for reordering: its production stamp
/// is placed in monotonic time by its delivery lag (wall receive time minus production).
fn hold(held: &mut Reorder<Arrival>, now: Duration, arrival: Arrival) {
    let lag = arrival.received_at.saturating_sub(arrival.produced_at);
    held.push(now.saturating_sub(lag), now, arrival);
}

/// Samples CPU, memory, disks, network, watched processes and GPUs every
/// `resources.period` on a blocking thread and publishes `<ns>/resources`.
fn spawn_resource_sampler(
    config: &CollectorConfig,
    node: &mut dyn transport::Node,
    ns: &str,
    exporter: Exporter,
) -> Result<()> {
    let options = ResourceOptions {
        processes: config.resources.processes.clone(),
        gpu: config.resources.gpu,
    };
    let mut task = ResourceTask {
        sampler: ResourceSampler::new(options).map_err(Error::Resources)?,
        publisher: Publisher::new(node, &format!("{ns}/resources"), Qos::reliable(10))?,
        diagnostics: Publisher::new(node, "/diagnostics", Qos::reliable(10))?,
        watched: config.resources.processes.clone(),
        robot_id: config.robot_id.clone(),
        exporter,
    };
    let mut tick = tokio::time::interval(config.resources.period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::spawn(async move {
        loop {
            tick.tick().await;
            let now = wall_clock();
            // sysinfo reads /proc synchronously, and a reliable write may wait for its
            // readers: both stay off the runtime's thread, which measures.
            match tokio::task::spawn_blocking(move || {
                task.sample_and_publish(now);
                task
            })
            .await
            {
                Ok(back) => task = back,
                Err(_) => break,
            }
        }
    });
    Ok(())
}

/// What the resource sampler owns between samples.
struct ResourceTask {
    sampler: ResourceSampler,
    publisher: Publisher<ResourceUsage>,
    diagnostics: Publisher<DiagnosticArray>,
    watched: Vec<String>,
    robot_id: String,
    exporter: Exporter,
}

impl ResourceTask {
    fn sample_and_publish(&mut self, now: Duration) {
        let message = self
            .sampler
            .sample(now)
            .to_message(Time::from(now), &self.robot_id);
        self.exporter.set_resources(&message);
        if let Err(e) = self.publisher.publish(&message) {
            tracing::warn!("publishing resources: {e}");
        }
        let status = DiagnosticArray {
            header: message.header.clone(),
            status: resource_statuses(&message, &self.watched),
        };
        if let Err(e) = self.diagnostics.publish(&status) {
            tracing::warn!("publishing resource diagnostics: {e}");
        }
    }
}

/// What the publishing thread sends.
enum Publication {
    /// A finished command: published and appended to the JSONL file.
    Command(CommandLatency),
    /// A metric batch on `metrics` or `topic_health`, with its diagnostics.
    Batch {
        health: bool,
        array: MetricArray,
        diagnostics: DiagnosticArray,
    },
}

/// The publishers, owned by the publishing thread.
struct Publishers {
    robot_id: String,
    latency_pub: Publisher<CommandLatency>,
    metrics_pub: Publisher<MetricArray>,
    health_pub: Publisher<MetricArray>,
    diagnostics_pub: Publisher<DiagnosticArray>,
    jsonl: Option<File>,
}

/// Publications queued before the node waits for the publishing thread.
const PUBLICATION_QUEUE: usize = 1024;

/// Starts the thread that publishes, so that a middleware write that blocks (a reliable
/// writer waiting for its event loop) never holds up measuring. The queue applies
/// back-pressure rather than dropping: a finished command is never lost.
fn spawn_publisher(mut p: Publishers) -> (mpsc::Sender<Publication>, std::thread::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel::<Publication>(PUBLICATION_QUEUE);
    let handle = std::thread::spawn(move || {
        while let Some(publication) = rx.blocking_recv() {
            match publication {
                Publication::Command(msg) => {
                    // The file first: a kill between the two may leave a record on disk
                    // that was never published, never one published and not on disk.
                    if let Some(file) = p.jsonl.as_mut() {
                        let mut line = serde_json::to_vec(&msg).unwrap_or_default();
                        line.push(b'\n');
                        // One write per line (`writeln!` would write the newline apart): a
                        // kill leaves no line without its end for the next one to run into.
                        if let Err(e) = file.write_all(&line) {
                            tracing::warn!("appending to the JSONL file: {e}");
                        }
                    }
                    if let Err(e) = p.latency_pub.publish(&msg) {
                        tracing::warn!("publishing command_latency: {e}");
                    }
                }
                Publication::Batch {
                    health,
                    mut array,
                    diagnostics,
                } => {
                    array.robot_id.clone_from(&p.robot_id);
                    let (publisher, what) = match health {
                        true => (&p.health_pub, "topic health"),
                        false => (&p.metrics_pub, "metrics"),
                    };
                    if let Err(e) = publisher.publish(&array) {
                        tracing::warn!("publishing {what}: {e}");
                    }
                    if let Err(e) = p.diagnostics_pub.publish(&diagnostics) {
                        tracing::warn!("publishing diagnostics: {e}");
                    }
                }
            }
        }
    });
    (tx, handle)
}

/// The node's outputs as seen from the measuring loop.
struct Output {
    exporter: Exporter,
    publications: mpsc::Sender<Publication>,
    /// Messages a stage input could not read, so far.
    unreadable: u64,
}

impl Output {
    async fn send(&self, publication: Publication) {
        if self.publications.send(publication).await.is_err() {
            tracing::warn!("the publishing thread has stopped");
        }
    }

    /// Feeds one released message to the pipeline and publishes what it finished.
    async fn arrive(&mut self, pipeline: &mut Pipeline, arrival: &Arrival) {
        let arrived = pipeline.measure(arrival);
        for e in &arrived.unreadable {
            // Logged the first time and then at powers of two.
            self.unreadable += 1;
            self.exporter.add_dropped("unreadable_payload", 1);
            if self.unreadable.is_power_of_two() {
                tracing::warn!(unreadable = self.unreadable, "{e}");
            }
        }
        self.finished(pipeline, arrived.finished).await;
    }

    async fn finished(&self, pipeline: &Pipeline, commands: Vec<CompletedCommand>) {
        for cmd in commands {
            self.exporter.record_command(&cmd, pipeline.stage_names());
            self.send(Publication::Command(pipeline.command_latency(&cmd)))
                .await;
        }
    }

    async fn metrics(&self, pipeline: &Pipeline, now: Duration) {
        let recorder = pipeline.recorder();
        if let Some(slo) = recorder.slo_status(now, Window::Cumulative) {
            self.exporter.set_slo(slo.compliance);
        }
        self.exporter.set_in_flight(recorder.tracker().open_count());
        self.batch(false, pipeline.metrics(now), now).await;
    }

    async fn topic_health(&self, pipeline: &Pipeline, now: Duration) {
        let snapshots = pipeline.topic_snapshots(now);
        for (i, (t, snap)) in pipeline.topics().iter().zip(&snapshots).enumerate() {
            self.exporter
                .set_topic_health(&t.topic, snap.rate_hz, snap.age.map(|a| a.mean));
            if t.audio_format().is_some() {
                self.exporter
                    .set_audio_rate(&t.topic, pipeline.audio_sample_rate(i, now));
            }
        }
        let batch = pipeline.topic_health(&snapshots, now);
        self.batch(true, batch, now).await;
    }

    /// Queues one batch of metrics and its diagnostic statuses, stamped `now`.
    async fn batch(&self, health: bool, batch: Batch, now: Duration) {
        let header = Header {
            stamp: Time::from(now),
            frame_id: String::new(),
        };
        let array = MetricArray {
            header: header.clone(),
            robot_id: String::new(),
            metrics: batch.metrics,
        };
        let diagnostics = DiagnosticArray {
            header,
            status: batch.status,
        };
        self.send(Publication::Batch {
            health,
            array,
            diagnostics,
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{JsonFields, StageConfig};
    use crate::core::timeline::Correlation;
    use crate::transport::inproc::InprocTransport;

    #[test]
    fn held_messages_leave_by_the_monotonic_clock_whatever_the_wall_clock_does() {
        let at = |wall_secs: u64| Arrival {
            topic: 0,
            received_at: Duration::from_secs(wall_secs),
            produced_at: Duration::from_secs(wall_secs) - Duration::from_millis(5),
            size: 1,
            message: Message::Text(wall_secs.to_string()),
        };
        let mono = Duration::from_millis;
        let mut held = Reorder::new(Duration::from_millis(50));
        hold(&mut held, mono(1_000), at(10_000));
        // The wall clock is set back an hour between the two messages.
        hold(&mut held, mono(1_010), at(6_400));
        assert_eq!(
            held.pop_due(mono(1_030)).count(),
            0,
            "still within the hold"
        );
        let released: Vec<Message> = held.pop_due(mono(1_100)).map(|a| a.message).collect();
        assert_eq!(
            released,
            [Message::Text("10000".into()), Message::Text("6400".into())],
            "both leave within the hold, in arrival order"
        );
    }

    fn config() -> CollectorConfig {
        let text = |name: &str, corr: Correlation| {
            StageConfig::new(name, &format!("/vla/{name}"), "std_msgs/msg/String", corr)
        };
        let mut plan = text(
            "plan",
            Correlation::Id {
                field: "command_id".into(),
            },
        )
        .with_json(JsonFields {
            id: Some("command_id".into()),
            status: Some("status".into()),
            ..JsonFields::default()
        });
        plan.failure = Some(crate::config::FieldMatch {
            field: "status".into(),
            values: vec!["rejected".into()],
        });
        CollectorConfig {
            stages: vec![
                text("voice", Correlation::Fifo),
                plan,
                text("done", Correlation::Fifo),
            ],
            publish_period: Duration::from_millis(50),
            command_timeout: Duration::from_secs(60),
            prometheus: crate::config::PrometheusConfig {
                enabled: true,
                listen: "127.0.0.1:0".parse().unwrap(),
            },
            ..CollectorConfig::default()
        }
    }

    #[tokio::test]
    async fn commands_through_the_in_process_bus_come_out_as_command_latency_and_metrics() {
        let transport = InprocTransport::new();
        let mut probe = transport
            .create_node(&NodeOptions::new("probe", "/"))
            .unwrap();
        let mut latencies = Subscription::<Typed<CommandLatency>>::typed(
            probe.as_mut(),
            "/vla_perf/command_latency",
            Qos::reliable(100),
        )
        .unwrap();
        let mut metrics = Subscription::<Typed<MetricArray>>::typed(
            probe.as_mut(),
            "/vla_perf/metrics",
            Qos::reliable(10),
        )
        .unwrap();
        let pubs: Vec<Publisher<RosString>> = ["voice", "plan", "done"]
            .iter()
            .map(|s| {
                Publisher::new(probe.as_mut(), &format!("/vla/{s}"), Qos::reliable(10)).unwrap()
            })
            .collect();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let collector = tokio::spawn(run(config(), Arc::new(transport.clone()), 0, async move {
            let _ = stopped.await;
        }));
        // The collector subscribes as it starts; wait for it through its first metrics.
        let first = tokio::time::timeout(Duration::from_secs(5), metrics.recv()).await;
        assert!(
            first.is_ok(),
            "the collector publishes metrics at its cadence"
        );
        let say = |i: usize, data: &str| pubs[i].publish(&RosString { data: data.into() }).unwrap();
        say(0, "pick up the cup");
        say(1, r#"{"command_id": "c1", "status": "accepted"}"#);
        say(2, "done");
        say(0, "fly to the moon");
        say(1, r#"{"command_id": "c2", "status": "rejected"}"#);
        say(1, "not json at all");
        let mut got = Vec::new();
        while got.len() < 2 {
            let m = tokio::time::timeout(Duration::from_secs(5), latencies.recv())
                .await
                .expect("a command within 5 s")
                .expect("open");
            got.push(m.message);
        }
        // Topics are forwarded independently, so completions need not follow publish order.
        got.sort_by(|a, b| a.command_id.cmp(&b.command_id));
        assert_eq!(got[0].command_id, "c1");
        assert_eq!(got[0].outcome, CommandLatency::OUTCOME_SUCCEEDED);
        assert!(got[0].end_to_end >= 0.0);
        assert_eq!(got[0].stages.len(), 3);
        assert_eq!(got[1].command_id, "c2");
        assert_eq!(got[1].outcome, CommandLatency::OUTCOME_FAILED);
        assert_eq!(got[1].failed_stage, "plan");
        // The next metrics carry one end-to-end sample and the outcome counts.
        let array = loop {
            let m = metrics.recv().await.expect("metrics").message;
            let e2e = m
                .metrics
                .iter()
                .find(|s| s.name == "end_to_end_latency" && s.window == 0.0)
                .map(|s| s.count);
            if e2e == Some(1) {
                break m;
            }
        };
        let count = |outcome: &str| {
            array
                .metrics
                .iter()
                .find(|s| s.name == "commands" && s.tags.iter().any(|t| t.value == outcome))
                .map(|s| s.mean)
        };
        assert_eq!(count("succeeded"), Some(1.0));
        assert_eq!(count("failed"), Some(1.0));
        let value = |name: &str| {
            array
                .metrics
                .iter()
                .find(|s| s.name == name)
                .map(|s| (s.count, s.mean))
        };
        assert_eq!(value("understanding_rate"), Some((2, 0.5)));
        assert_eq!(value("task_success_rate"), Some((2, 0.5)));
        stop.send(()).unwrap();
        collector.await.unwrap().unwrap();
    }
}
