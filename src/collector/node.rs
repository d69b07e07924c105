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
//! and, unless disabled, Prometheus/OpenMetrics on `prometheus.listen` (127.0.0.1:9464).

use std::collections::BTreeMap;
use std::fs::File;
use std::future::Future;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::inputs::{Extracted, Payload, StageInput};
use super::signals::{GoalOutcomes, StageOutcomes};
use crate::config::{CollectorConfig, WatchedTopic};
use crate::core::ingest::{Recorder, RecorderConfig};
use crate::core::stats::{Distribution, DistributionConfig};
use crate::core::stats::{Slo, StatsConfig, Summary, Window};
use crate::core::timeline::{CompletedCommand, Outcome};
use crate::core::topic_health::{TopicHealth, TopicHealthConfig};
use crate::msg::action_msgs::GoalStatusArray;
use crate::msg::builtin_interfaces::Time;
use crate::msg::diagnostic_msgs::{DiagnosticArray, DiagnosticStatus, KeyValue};
use crate::msg::std_msgs::{Header, String as RosString};
use crate::msg::{
    CommandLatency, MetricArray, MetricSummary, ResourceUsage, RosMessage, StageEvent, StageLatency,
};
use crate::prometheus::Exporter;
use crate::resources::{ResourceOptions, ResourceSampler};

/// The stage whose success rate is published as the command understanding rate.
const UNDERSTANDING_STAGE: &str = "plan";
use crate::transport::{
    self, wall_clock, Decoder, NodeOptions, Publisher, Qos, Received, Subscription, Transport,
    Typed,
};

/// Why the collector could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration does not make a working pipeline.
    #[error("configuration: {0}")]
    Config(String),
    /// The transport failed.
    #[error(transparent)]
    Transport(#[from] transport::Error),
    /// The Prometheus endpoint could not be served.
    #[error(transparent)]
    Prometheus(#[from] crate::prometheus::Error),
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

/// A message of one subscribed topic, decoded as its type requires.
enum Owned {
    Text(String),
    Header(Header),
    StageEvent(StageEvent),
    Goals(GoalStatusArray),
}

impl Owned {
    fn payload(&self) -> Payload<'_> {
        match self {
            Owned::Text(t) => Payload::Text(t),
            Owned::Header(h) => Payload::Header(h),
            Owned::StageEvent(e) => Payload::StageEvent(e),
            Owned::Goals(g) => Payload::GoalStatuses(g),
        }
    }
}

struct Incoming {
    topic: usize,
    received_at: Duration,
    /// When the stage produced the message: the publisher's source timestamp where the
    /// middleware carries one, else the receive time.
    produced_at: Duration,
    size: usize,
    message: Owned,
}

impl Incoming {
    /// The header stamp, if the message has one that is set (all-zero means unset).
    fn stamp(&self) -> Option<Duration> {
        let stamp = match &self.message {
            Owned::Header(h) => &h.stamp,
            Owned::StageEvent(e) => &e.header.stamp,
            Owned::Text(_) | Owned::Goals(_) => return None,
        };
        (stamp.sec != 0 || stamp.nanosec != 0)
            .then(|| stamp.to_duration())
            .flatten()
    }
}

/// Subscribes to `topic` with the decoder its type needs and forwards into `tx`.
fn subscribe(
    node: &mut dyn transport::Node,
    index: usize,
    topic: &str,
    msg_type: &str,
    tx: mpsc::Sender<Incoming>,
) -> Result<()> {
    fn forward<D, F>(mut sub: Subscription<D>, index: usize, tx: mpsc::Sender<Incoming>, wrap: F)
    where
        D: Decoder + 'static,
        D::Output: Send,
        F: Fn(D::Output) -> Owned + Send + 'static,
    {
        tokio::spawn(async move {
            while let Some(Received {
                message,
                received_at,
                source_time,
                size,
            }) = sub.recv().await
            {
                let incoming = Incoming {
                    topic: index,
                    received_at,
                    produced_at: source_time.unwrap_or(received_at),
                    size,
                    message: wrap(message),
                };
                if tx.send(incoming).await.is_err() {
                    break;
                }
            }
        });
    }
    match msg_type {
        RosString::TYPE_NAME => forward(
            Subscription::<Typed<RosString>>::typed(node, topic, Qos::reliable(100))?,
            index,
            tx,
            |m| Owned::Text(m.data),
        ),
        // Action servers publish status transient-local (latched), keep last 1.
        GoalStatusArray::TYPE_NAME => forward(
            Subscription::<Typed<GoalStatusArray>>::typed(node, topic, Qos::latched())?,
            index,
            tx,
            Owned::Goals,
        ),
        StageEvent::TYPE_NAME => forward(
            Subscription::<Typed<StageEvent>>::typed(node, topic, Qos::reliable(100))?,
            index,
            tx,
            Owned::StageEvent,
        ),
        // Anything else starts with a header; a best-effort reader matches both reliable
        // and best-effort publishers (cameras usually publish sensor data).
        other => forward(
            Subscription::header_only(node, topic, other, Qos::sensor_data())?,
            index,
            tx,
            Owned::Header,
        ),
    }
    Ok(())
}

/// Accuracy signals the node keeps beside the core's latency statistics.
struct Signals {
    outcomes: StageOutcomes,
    /// Per stage, the confidences its messages carried (0..1).
    confidence: Vec<Distribution>,
    /// Per topic, goal outcomes when it is an action status topic.
    goals: Vec<Option<GoalOutcomes>>,
}

impl Signals {
    fn new(config: &CollectorConfig, topics: &[WatchedTopic]) -> Result<Self> {
        let mut cfg = DistributionConfig::with_range(0.001, 1.0);
        cfg.windows = config.windows.clone();
        let confidence = config
            .stages
            .iter()
            .map(|_| Distribution::new(&cfg))
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| Error::Config(format!("confidence statistics: {e}")))?;
        Ok(Self {
            outcomes: StageOutcomes::new(config.stages.len()),
            confidence,
            goals: topics
                .iter()
                .map(|t| (t.msg_type == GoalStatusArray::TYPE_NAME).then(GoalOutcomes::default))
                .collect(),
        })
    }
}

/// Per-stage bookkeeping the node keeps beside the core.
#[derive(Default)]
struct StageSide {
    messages: u64,
    dropped: u64,
}

/// Runs the collector until `shutdown` resolves; then abandons open commands (publishing
/// them) and returns.
pub async fn run(
    config: CollectorConfig,
    transport: Arc<dyn Transport>,
    domain_id: u16,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let mut node = transport
        .create_node(&NodeOptions::new("vla_perf_collector", "/").with_domain(domain_id))?;
    let ns = config.namespace.trim_end_matches('/').to_owned();
    let latency_pub = Publisher::<CommandLatency>::new(
        node.as_mut(),
        &format!("{ns}/command_latency"),
        Qos::reliable(100),
    )?;
    let metrics_pub =
        Publisher::<MetricArray>::new(node.as_mut(), &format!("{ns}/metrics"), Qos::reliable(10))?;
    let diagnostics_pub =
        Publisher::<DiagnosticArray>::new(node.as_mut(), "/diagnostics", Qos::reliable(10))?;

    // One subscription per topic; stages sharing a topic share it. Extra watched topics
    // only feed topic health.
    let mut topics: Vec<WatchedTopic> = Vec::new();
    let mut stage_topic = Vec::new();
    let watched = config.stages.iter().map(|s| WatchedTopic {
        topic: s.topic.clone(),
        msg_type: s.msg_type.clone(),
        expected_rate_hz: s.expected_rate_hz,
        stale_after: None,
    });
    for (i, topic) in watched.chain(config.topics.iter().cloned()).enumerate() {
        let index = match topics.iter().position(|t| t.topic == topic.topic) {
            Some(index) => index,
            None => {
                topics.push(topic);
                topics.len() - 1
            }
        };
        if i < config.stages.len() {
            stage_topic.push(index);
        }
    }
    let mut health = Vec::new();
    for t in &topics {
        let cfg = TopicHealthConfig {
            window: config
                .windows
                .first()
                .copied()
                .unwrap_or(Duration::from_secs(10)),
            expected_rate_hz: t.expected_rate_hz,
            stale_after: t.stale_after,
            ..TopicHealthConfig::default()
        };
        health.push(
            TopicHealth::new(cfg).map_err(|e| Error::Config(format!("topic {}: {e}", t.topic)))?,
        );
    }
    let mut inputs = Vec::new();
    for (i, stage) in config.stages.iter().enumerate() {
        inputs.push(StageInput::new(i, stage).map_err(|e| Error::Config(e.to_string()))?);
    }
    let (tx, mut rx) = mpsc::channel::<Incoming>(4096);
    for (index, t) in topics.iter().enumerate() {
        subscribe(node.as_mut(), index, &t.topic, &t.msg_type, tx.clone())?;
    }
    drop(tx);

    let slo = Slo::new(config.slo.threshold, config.slo.target)
        .map_err(|e| Error::Config(format!("slo: {e}")))?;
    let stats = StatsConfig {
        windows: config.windows.clone(),
        significant_digits: config.significant_digits,
        ..StatsConfig::default()
    };
    let mut recorder = Recorder::new(RecorderConfig {
        tracker: config.tracker_config(),
        stats,
        slo,
    })
    .map_err(|e| Error::Config(e.to_string()))?;
    let mut jsonl = match &config.jsonl_path {
        Some(path) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|source| Error::Jsonl {
                    path: path.display().to_string(),
                    source,
                })?,
        ),
        None => None,
    };
    let stage_names: Vec<String> = config.stages.iter().map(|s| s.name.clone()).collect();
    let mut signals = Signals::new(&config, &topics)?;
    let mut sides: Vec<StageSide> = config.stages.iter().map(|_| StageSide::default()).collect();
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
    spawn_resource_sampler(&config, node.as_mut(), &ns, exporter.clone())?;
    let mut tick = tokio::time::interval(config.publish_period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);

    let health_pub = Publisher::<MetricArray>::new(
        node.as_mut(),
        &format!("{ns}/topic_health"),
        Qos::reliable(10),
    )?;
    let out = Output {
        robot_id: config.robot_id.clone(),
        stage_names: stage_names.clone(),
        windows: config.windows.clone(),
        latency_pub,
        metrics_pub,
        health_pub,
        diagnostics_pub,
        exporter,
    };
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            incoming = rx.recv() => {
                let Some(incoming) = incoming else { break };
                // Time out overdue commands before this message can be paired with one.
                let expired = recorder.expire(incoming.produced_at).to_vec();
                out.finished(&expired, &mut jsonl, &mut signals);
                if let (Some(Some(goals)), Owned::Goals(array)) =
                    (signals.goals.get_mut(incoming.topic), &incoming.message)
                {
                    goals.record(array);
                }
                health[incoming.topic].record(incoming.received_at, incoming.size, incoming.stamp());
                out.exporter.add_topic_traffic(&topics[incoming.topic].topic, 1, incoming.size as u64);
                for (stage, input) in inputs.iter_mut().enumerate() {
                    if stage_topic[stage] != incoming.topic {
                        continue;
                    }
                    let side = &mut sides[stage];
                    match input.extract(incoming.produced_at, incoming.message.payload()) {
                        Ok(Extracted { events, confidence, .. }) => {
                            side.messages += 1;
                            if let Some(c) = confidence {
                                signals.confidence[stage].record(incoming.produced_at, c);
                            }
                            for event in events {
                                let finished = recorder.ingest(event).to_vec();
                                out.finished(&finished, &mut jsonl, &mut signals);
                            }
                        }
                        Err(e) => {
                            side.dropped += 1;
                            out.exporter.add_dropped("unreadable_payload", 1);
                            if side.dropped == 1 || side.dropped.is_power_of_two() {
                                tracing::warn!(dropped = side.dropped, "{e}");
                            }
                        }
                    }
                }
            }
            _ = tick.tick() => {
                let now = wall_clock();
                let expired = recorder.expire(now).to_vec();
                out.finished(&expired, &mut jsonl, &mut signals);
                out.metrics(&recorder, &sides, &signals, &topics, now);
                out.topic_health(&topics, &health, now);
            }
        }
    }
    let now = wall_clock();
    let abandoned = recorder.flush(now).to_vec();
    out.finished(&abandoned, &mut jsonl, &mut signals);
    out.metrics(&recorder, &sides, &signals, &topics, now);
    Ok(())
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
    let mut sampler =
        ResourceSampler::new(options).map_err(|e| Error::Config(format!("resources: {e}")))?;
    let publisher =
        Publisher::<ResourceUsage>::new(node, &format!("{ns}/resources"), Qos::reliable(10))?;
    let robot_id = config.robot_id.clone();
    let mut tick = tokio::time::interval(config.resources.period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::spawn(async move {
        loop {
            tick.tick().await;
            let now = wall_clock();
            // sysinfo reads /proc synchronously; keep it off the async workers.
            let Ok((back, sample)) = tokio::task::spawn_blocking(move || {
                let sample = sampler.sample(now);
                (sampler, sample)
            })
            .await
            else {
                break;
            };
            sampler = back;
            let message = sample.to_message(Time::from(now), &robot_id);
            exporter.set_resources(&message);
            if let Err(e) = publisher.publish(&message) {
                tracing::warn!("publishing resources: {e}");
            }
        }
    });
    Ok(())
}

/// The publishers and what they need to build messages.
struct Output {
    robot_id: String,
    stage_names: Vec<String>,
    windows: Vec<Duration>,
    latency_pub: Publisher<CommandLatency>,
    metrics_pub: Publisher<MetricArray>,
    health_pub: Publisher<MetricArray>,
    diagnostics_pub: Publisher<DiagnosticArray>,
    exporter: Exporter,
}

impl Output {
    /// Rate, jitter, age and bandwidth of every watched topic, and a diagnostic status each.
    fn topic_health(&self, topics: &[WatchedTopic], health: &[TopicHealth], now: Duration) {
        let mut metrics = Vec::new();
        let mut status = Vec::new();
        for (t, h) in topics.iter().zip(health) {
            let snap = h.snapshot(now);
            self.exporter
                .set_topic_health(&t.topic, snap.rate_hz, snap.age.map(|a| a.mean));
            let tags = || {
                vec![KeyValue {
                    key: "topic".into(),
                    value: t.topic.clone(),
                }]
            };
            let window = Window::Sliding(h.config().window);
            let scalar = |name: &str, unit: &str, v: Option<f64>| {
                scalar_msg(name, unit, window, v.map(|v| (snap.messages, v)), tags())
            };
            metrics.push(scalar("topic_rate", "Hz", snap.rate_hz));
            metrics.push(scalar("topic_bandwidth", "B/s", snap.bytes_per_second));
            metrics.push(scalar("topic_jitter", "s", snap.jitter));
            metrics.push(scalar("topic_max_gap", "s", snap.max_gap));
            metrics.push(summary_msg("topic_age", "s", window, snap.age, tags()));
            metrics.push(scalar_msg(
                "topic_messages",
                "1",
                Window::Cumulative,
                Some((snap.messages, snap.messages as f64)),
                tags(),
            ));
            status.push(DiagnosticStatus {
                level: snap.status.diagnostic_level(),
                name: format!("vla_perf: topic {}", t.topic),
                message: snap.reason.clone(),
                hardware_id: String::new(),
                values: vec![
                    KeyValue {
                        key: "future_stamps".into(),
                        value: snap.future_stamps.to_string(),
                    },
                    KeyValue {
                        key: "out_of_order".into(),
                        value: snap.out_of_order.to_string(),
                    },
                ],
            });
        }
        self.publish(&self.health_pub, "topic health", metrics, status, now);
    }

    /// Confidences, stage success (the planner's is the understanding rate), task success
    /// and action goal success, all cumulative except the confidence windows.
    fn accuracy(
        &self,
        metrics: &mut Vec<MetricSummary>,
        signals: &Signals,
        topics: &[WatchedTopic],
        now: Duration,
    ) {
        let tag = |k: &str, v: &str| KeyValue {
            key: k.into(),
            value: v.into(),
        };
        for (stage, name) in self.stage_names.iter().enumerate() {
            let confidence = &signals.confidence[stage];
            if confidence.count() > 0 {
                let windows = std::iter::once(Window::Cumulative)
                    .chain(self.windows.iter().map(|w| Window::Sliding(*w)));
                for window in windows {
                    metrics.push(summary_msg(
                        "confidence",
                        "1",
                        window,
                        confidence.summary(now, window),
                        vec![tag("stage", name)],
                    ));
                }
            }
            if stage == 0 {
                continue;
            }
            let rate = signals.outcomes.stage_success_rate(stage);
            metrics.push(scalar_msg(
                "stage_success_rate",
                "1",
                Window::Cumulative,
                rate,
                vec![tag("stage", name)],
            ));
            if name == UNDERSTANDING_STAGE {
                metrics.push(scalar_msg(
                    "understanding_rate",
                    "1",
                    Window::Cumulative,
                    rate,
                    vec![],
                ));
            }
        }
        metrics.push(scalar_msg(
            "task_success_rate",
            "1",
            Window::Cumulative,
            signals.outcomes.task_success_rate(),
            vec![],
        ));
        for (topic, goals) in topics.iter().zip(&signals.goals) {
            if let Some(goals) = goals {
                metrics.push(scalar_msg(
                    "action_success_rate",
                    "1",
                    Window::Cumulative,
                    goals.success_rate(),
                    vec![tag("topic", &topic.topic)],
                ));
            }
        }
    }

    fn finished(
        &self,
        commands: &[CompletedCommand],
        jsonl: &mut Option<File>,
        signals: &mut Signals,
    ) {
        for cmd in commands {
            signals.outcomes.record(cmd);
            self.exporter.record_command(cmd, &self.stage_names);
            let msg = command_latency(cmd, &self.robot_id, &self.stage_names);
            if let Err(e) = self.latency_pub.publish(&msg) {
                tracing::warn!("publishing command_latency: {e}");
            }
            if let Some(file) = jsonl.as_mut() {
                let line = serde_json::to_string(&msg).unwrap_or_default();
                if let Err(e) = writeln!(file, "{line}").and_then(|_| file.flush()) {
                    tracing::warn!("appending to the JSONL file: {e}");
                }
            }
        }
    }

    fn metrics(
        &self,
        recorder: &Recorder,
        sides: &[StageSide],
        signals: &Signals,
        topics: &[WatchedTopic],
        now: Duration,
    ) {
        let tag = |k: &str, v: &str| KeyValue {
            key: k.into(),
            value: v.into(),
        };
        let mut metrics = Vec::new();
        let windows: Vec<Window> = std::iter::once(Window::Cumulative)
            .chain(self.windows.iter().map(|w| Window::Sliding(*w)))
            .collect();
        for window in &windows {
            for (i, name) in self.stage_names.iter().enumerate().skip(1) {
                if let Some(stats) = recorder.stage_latency(i) {
                    metrics.push(summary_msg(
                        "stage_latency",
                        "s",
                        *window,
                        stats.summary(now, *window),
                        vec![tag("stage", name)],
                    ));
                }
            }
            metrics.push(summary_msg(
                "end_to_end_latency",
                "s",
                *window,
                recorder.end_to_end().summary(now, *window),
                vec![],
            ));
            let slo = recorder.slo_status(now, *window);
            metrics.push(scalar_msg(
                "slo_compliance",
                "1",
                *window,
                slo.map(|s| (s.count, s.compliance)),
                vec![tag("met", &slo.is_some_and(|s| s.met).to_string())],
            ));
        }
        self.accuracy(&mut metrics, signals, topics, now);
        if let Some(slo) = recorder.slo_status(now, Window::Cumulative) {
            self.exporter.set_slo(slo.compliance);
        }
        self.exporter.set_in_flight(recorder.tracker().open_count());
        let first = self.windows.first().copied().map(Window::Sliding);
        metrics.push(scalar_msg(
            "command_rate",
            "Hz",
            first.unwrap_or(Window::Cumulative),
            recorder.command_rate(now).map(|r| (1, r)),
            vec![],
        ));
        metrics.push(scalar_msg(
            "commands_in_flight",
            "1",
            Window::Cumulative,
            Some((1, recorder.tracker().open_count() as f64)),
            vec![],
        ));
        for outcome in Outcome::ALL {
            metrics.push(scalar_msg(
                "commands",
                "1",
                Window::Cumulative,
                Some((1, recorder.outcome_count(outcome) as f64)),
                vec![tag("outcome", outcome.as_str())],
            ));
        }
        let c = recorder.tracker().counters();
        for (reason, n) in [
            ("unmatched", c.unmatched),
            ("duplicate", c.duplicates),
            ("out_of_order", c.out_of_order),
            ("evicted", c.evicted),
        ] {
            metrics.push(scalar_msg(
                "correlation_anomalies",
                "1",
                Window::Cumulative,
                Some((1, n as f64)),
                vec![tag("reason", reason)],
            ));
        }
        let status = self
            .stage_names
            .iter()
            .zip(sides)
            .enumerate()
            .map(|(i, (name, side))| stage_status(name, i, side, recorder))
            .collect();
        self.publish(&self.metrics_pub, "metrics", metrics, status, now);
    }

    /// Publishes one batch of metrics and its diagnostic statuses, stamped `now`.
    fn publish(
        &self,
        publisher: &Publisher<MetricArray>,
        what: &str,
        metrics: Vec<MetricSummary>,
        status: Vec<DiagnosticStatus>,
        now: Duration,
    ) {
        let header = Header {
            stamp: Time::from(now),
            frame_id: String::new(),
        };
        let array = MetricArray {
            header: header.clone(),
            robot_id: self.robot_id.clone(),
            metrics,
        };
        if let Err(e) = publisher.publish(&array) {
            tracing::warn!("publishing {what}: {e}");
        }
        if let Err(e) = self
            .diagnostics_pub
            .publish(&DiagnosticArray { header, status })
        {
            tracing::warn!("publishing diagnostics: {e}");
        }
    }
}

fn stage_status(
    name: &str,
    index: usize,
    side: &StageSide,
    recorder: &Recorder,
) -> DiagnosticStatus {
    let failures = recorder.stage_failures(index).unwrap_or(0);
    let (level, message) = if side.messages == 0 {
        (
            DiagnosticStatus::STALE,
            "no message received yet".to_owned(),
        )
    } else if side.dropped > 0 {
        (
            DiagnosticStatus::WARN,
            format!("{} messages could not be read", side.dropped),
        )
    } else {
        (DiagnosticStatus::OK, "receiving".to_owned())
    };
    let values = BTreeMap::from([
        ("messages", side.messages.to_string()),
        ("unreadable", side.dropped.to_string()),
        ("failures", failures.to_string()),
    ])
    .into_iter()
    .map(|(k, v)| KeyValue {
        key: k.into(),
        value: v,
    })
    .collect();
    DiagnosticStatus {
        level,
        name: format!("vla_perf: stage {name}"),
        message,
        hardware_id: String::new(),
        values,
    }
}

fn window_secs(window: Window) -> f64 {
    match window {
        Window::Cumulative => 0.0,
        Window::Sliding(w) => w.as_secs_f64(),
    }
}

fn summary_msg(
    name: &str,
    unit: &str,
    window: Window,
    s: Option<Summary>,
    tags: Vec<KeyValue>,
) -> MetricSummary {
    let s = s.unwrap_or(Summary {
        count: 0,
        mean: f64::NAN,
        stddev: f64::NAN,
        min: f64::NAN,
        max: f64::NAN,
        p50: f64::NAN,
        p90: f64::NAN,
        p95: f64::NAN,
        p99: f64::NAN,
        p999: f64::NAN,
    });
    MetricSummary {
        name: name.into(),
        unit: unit.into(),
        window: window_secs(window),
        count: s.count,
        mean: s.mean,
        stddev: s.stddev,
        min: s.min,
        max: s.max,
        p50: s.p50,
        p90: s.p90,
        p95: s.p95,
        p99: s.p99,
        p999: s.p999,
        tags,
    }
}

/// A single value as a summary: count and every statistic equal to the value.
fn scalar_msg(
    name: &str,
    unit: &str,
    window: Window,
    v: Option<(u64, f64)>,
    tags: Vec<KeyValue>,
) -> MetricSummary {
    let (count, value) = v.unwrap_or((0, f64::NAN));
    let s = Summary {
        count,
        mean: value,
        stddev: if count > 0 { 0.0 } else { f64::NAN },
        min: value,
        max: value,
        p50: value,
        p90: value,
        p95: value,
        p99: value,
        p999: value,
    };
    summary_msg(name, unit, window, Some(s), tags)
}

/// The message of a finished command.
pub fn command_latency(
    cmd: &CompletedCommand,
    robot_id: &str,
    stages: &[String],
) -> CommandLatency {
    let outcome = match cmd.outcome {
        Outcome::Succeeded => CommandLatency::OUTCOME_SUCCEEDED,
        Outcome::Failed => CommandLatency::OUTCOME_FAILED,
        Outcome::TimedOut => CommandLatency::OUTCOME_TIMED_OUT,
        Outcome::Abandoned => CommandLatency::OUTCOME_ABANDONED,
    };
    CommandLatency {
        header: Header {
            stamp: Time::from(cmd.ended_at),
            frame_id: String::new(),
        },
        robot_id: robot_id.into(),
        command_id: cmd.id.clone(),
        outcome,
        failed_stage: cmd
            .failed_stage
            .and_then(|i| stages.get(i).cloned())
            .unwrap_or_default(),
        started: Time::from(cmd.started_at),
        ended: Time::from(cmd.ended_at),
        end_to_end: cmd.end_to_end.map_or(f64::NAN, |d| d.as_secs_f64()),
        stages: stages
            .iter()
            .zip(&cmd.stage_latency)
            .enumerate()
            .map(|(i, (name, latency))| StageLatency {
                stage: name.clone(),
                reached: i == 0 || latency.is_some() || cmd.failed_stage == Some(i),
                latency: latency.map_or(f64::NAN, |d| d.as_secs_f64()),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{JsonFields, StageConfig};
    use crate::core::timeline::Correlation;
    use crate::transport::inproc::InprocTransport;

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
