//! Offline analysis of rosbag2 recordings: the collector's [`Pipeline`], fed from a file
//! instead of DDS, so a recording yields every figure the live collector would have
//! published.
//!
//! [`Analyzer`] is the measuring part without I/O: recorded connections and messages in
//! (log time = receive time, MCAP publish time = the stage's production time where
//! recorded), finished commands and periodic metric snapshots out to a [`Sink`], and a
//! [`Report`] at the end. Messages are fed in log-time order through a bounded reorder
//! buffer ([`Options::reorder_window`] of bag time), so memory stays constant whatever the
//! recording's size. [`run`] wires a [`Reader`], the sinks (CSV, MCAP) and the report.

pub mod mcap_out;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::Digest;

use crate::bag::{self, BagMessage, Connection, Event, ReadStats, Reader};
use crate::collector::pipeline::{Arrival, Batch, Message};
use crate::collector::Pipeline;
use crate::config::CollectorConfig;
use crate::core::stats::Window;
use crate::core::timeline::CompletedCommand;
use crate::msg::CommandLatency;
use crate::report::{self, CommandTable, Inputs, OutcomeCounts, Report, Series, SeriesPoint, Skip};

/// Errors that stop an analysis.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The recording could not be opened.
    #[error(transparent)]
    Bag(#[from] bag::Error),
    /// The configuration is not usable.
    #[error("{0}")]
    Config(#[from] crate::collector::pipeline::ConfigError),
    /// An output could not be written.
    #[error(transparent)]
    Report(#[from] report::Error),
    /// The MCAP output could not be written.
    #[error("{path}: writing MCAP: {source}")]
    McapOut {
        /// The output file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: McapOutError,
    },
}

/// What failed while writing the MCAP output.
#[derive(Debug, thiserror::Error)]
pub enum McapOutError {
    /// The file system.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The MCAP writer.
    #[error(transparent)]
    Mcap(#[from] mcap::McapError),
    /// Serializing a message.
    #[error(transparent)]
    Cdr(#[from] crate::msg::cdr::Error),
    /// Written to after it was finished.
    #[error("the file was already finished")]
    Finished,
}

/// Result of this module.
pub type Result<T> = std::result::Result<T, Error>;

/// Warnings kept verbatim; beyond it they are only counted.
const MAX_WARNINGS: usize = 200;

/// Settings of one analysis.
#[derive(Debug, Clone)]
pub struct Options {
    /// How far behind the latest log time a message may arrive and still be put in order.
    pub reorder_window: Duration,
    /// Verify MCAP chunk checksums (finds garbage inside chunks; costs a CRC over every byte).
    pub verify_checksums: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            reorder_window: Duration::from_secs(1),
            verify_checksums: true,
        }
    }
}

/// Where finished commands and periodic snapshots go while the recording is read.
pub trait Sink {
    /// A command finished at bag time `cmd.ended`.
    fn command(&mut self, cmd: &CommandLatency) -> Result<()>;
    /// The collector's periodic batches at bag time `at`.
    fn snapshot(&mut self, at: Duration, metrics: &Batch, health: &Batch) -> Result<()>;
    /// Whether [`Self::snapshot`] wants the batches; computing them every publish period
    /// costs, so a sink that drops them says so.
    fn wants_snapshots(&self) -> bool {
        true
    }
}

/// A sink that keeps nothing.
impl Sink for () {
    fn command(&mut self, _: &CommandLatency) -> Result<()> {
        Ok(())
    }
    fn snapshot(&mut self, _: Duration, _: &Batch, _: &Batch) -> Result<()> {
        Ok(())
    }
    fn wants_snapshots(&self) -> bool {
        false
    }
}

/// What the analysis does with a recorded connection.
#[derive(Debug, Clone)]
enum Route {
    /// Feed it to the pipeline's topic.
    Topic(usize),
    /// Skip its messages, for this reason (index into `skip_reasons`).
    Skip(usize),
}

/// A decoded message waiting in the reorder buffer; ordered by log time, then arrival.
struct Pending {
    key: (Duration, u64),
    arrival: Arrival,
}

/// Counts of one interval of the time series.
#[derive(Debug, Default, Clone, Copy)]
struct Interval {
    commands: u64,
    messages: u64,
    bytes: u64,
}

/// The collector's measuring, fed from a recording.
pub struct Analyzer {
    pipeline: Pipeline,
    config: CollectorConfig,
    options: Options,
    routes: Vec<Option<Route>>,
    /// Per (topic, recorded type, reason), the messages skipped.
    skips: Vec<Skip>,
    topic_bytes: Vec<u64>,
    /// Decoded messages not yet fed, sorted by (log time, arrival).
    pending: VecDeque<Pending>,
    sequence: u64,
    latest_log: Option<Duration>,
    released: Option<Duration>,
    first: Option<Duration>,
    next_snapshot: Option<Duration>,
    last_snapshot: Option<Duration>,
    interval: Interval,
    series: Series,
    outcomes: OutcomeCounts,
    late: u64,
    warnings: Vec<String>,
    dropped_warnings: u64,
    error: Option<Error>,
}

impl Analyzer {
    /// An analysis of recordings with `config`'s stages.
    pub fn new(config: &CollectorConfig, options: Options) -> Result<Self> {
        let pipeline = Pipeline::new(config)?;
        let topics = pipeline.topics().len();
        Ok(Self {
            pipeline,
            config: config.clone(),
            options,
            routes: Vec::new(),
            skips: Vec::new(),
            topic_bytes: vec![0; topics],
            pending: VecDeque::new(),
            sequence: 0,
            latest_log: None,
            released: None,
            first: None,
            next_snapshot: None,
            last_snapshot: None,
            interval: Interval::default(),
            series: Series::default(),
            outcomes: OutcomeCounts::default(),
            late: 0,
            warnings: Vec::new(),
            dropped_warnings: 0,
            error: None,
        })
    }

    /// The pipeline (statistics so far).
    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// Notes a warning for the report.
    pub fn warn(&mut self, warning: String) {
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(warning);
        } else {
            self.dropped_warnings += 1;
        }
    }

    /// Handles one reader event; sink errors are kept and returned by [`Self::finish`].
    pub fn event(&mut self, event: Event<'_>, sink: &mut dyn Sink) {
        if self.error.is_some() {
            return;
        }
        let result = match event {
            Event::Connection(c) => {
                self.connection(c);
                Ok(())
            }
            Event::Message(m) => self.message(m, sink),
            Event::Warning(w) => {
                self.warn(w);
                Ok(())
            }
            Event::Progress(_) => Ok(()),
        };
        if let Err(e) = result {
            self.error = Some(e);
        }
    }

    /// Decides what to do with a recorded connection: feed it, or skip it and say why.
    pub fn connection(&mut self, c: &Connection) {
        let watched = self
            .pipeline
            .topics()
            .iter()
            .position(|t| t.topic == c.topic);
        let route = match watched {
            None => self.skip(c, "topic not in the configuration".into(), false),
            Some(_) if c.msg_type.is_empty() => {
                self.skip(c, "no schema in the recording".into(), true)
            }
            Some(_) if c.encoding != "cdr" => self.skip(
                c,
                format!("serialization `{}` is not cdr", c.encoding),
                true,
            ),
            Some(i)
                if normalize_type(&self.pipeline.topics()[i].msg_type)
                    != normalize_type(&c.msg_type) =>
            {
                let configured = self.pipeline.topics()[i].msg_type.clone();
                self.skip(
                    c,
                    format!(
                        "recorded type {} but the configuration says {configured}",
                        c.msg_type
                    ),
                    true,
                )
            }
            Some(i) => Route::Topic(i),
        };
        if self.routes.len() <= c.id {
            self.routes.resize(c.id + 1, None);
        }
        self.routes[c.id] = Some(route);
    }

    fn skip(&mut self, c: &Connection, reason: String, warn: bool) -> Route {
        if warn {
            self.warn(format!(
                "topic {} ({}): {reason}; its messages are skipped",
                c.topic,
                if c.msg_type.is_empty() {
                    "untyped"
                } else {
                    &c.msg_type
                }
            ));
        }
        self.skips.push(Skip {
            topic: c.topic.clone(),
            msg_type: c.msg_type.clone(),
            reason,
            messages: 0,
        });
        Route::Skip(self.skips.len() - 1)
    }

    /// Decodes one recorded message and queues it; releases what is now in order.
    pub fn message(&mut self, m: BagMessage<'_>, sink: &mut dyn Sink) -> Result<()> {
        let topic = match self.routes.get(m.connection).cloned().flatten() {
            Some(Route::Topic(t)) => t,
            Some(Route::Skip(s)) => {
                self.skips[s].messages += 1;
                return Ok(());
            }
            None => {
                self.warn(format!(
                    "a message of undeclared connection {} was skipped",
                    m.connection
                ));
                return Ok(());
            }
        };
        let received_at = Duration::from_nanos(m.log_time);
        let produced_at = m
            .publish_time
            .map(Duration::from_nanos)
            .unwrap_or(received_at);
        let decoded = Message::decode(&self.pipeline.topics()[topic].msg_type, m.data);
        let message = match decoded {
            Ok(message) => message,
            Err(e) => {
                self.undecodable(topic, received_at, &e);
                return Ok(());
            }
        };
        self.topic_bytes[topic] += m.data.len() as u64;
        if self.released.is_some_and(|r| received_at < r) {
            self.late += 1;
        }
        self.latest_log = Some(self.latest_log.map_or(received_at, |l| l.max(received_at)));
        self.sequence += 1;
        let pending = Pending {
            key: (received_at, self.sequence),
            arrival: Arrival {
                topic,
                received_at,
                produced_at,
                size: m.data.len(),
                message,
            },
        };
        // Recordings are nearly in order: appending is the rule, inserting the exception.
        if self
            .pending
            .back()
            .is_none_or(|last| last.key <= pending.key)
        {
            self.pending.push_back(pending);
        } else {
            let at = self.pending.partition_point(|p| p.key <= pending.key);
            self.pending.insert(at, pending);
        }
        let horizon = self
            .latest_log
            .and_then(|l| l.checked_sub(self.options.reorder_window))
            .unwrap_or_default();
        while self.pending.front().is_some_and(|p| p.key.0 <= horizon) {
            if let Some(p) = self.pending.pop_front() {
                self.feed(p.arrival, sink)?;
            }
        }
        Ok(())
    }

    /// Counts a message its topic's type cannot decode; warns once per topic.
    fn undecodable(&mut self, topic: usize, at: Duration, e: &crate::msg::cdr::Error) {
        let t = &self.pipeline.topics()[topic];
        let reason = format!("cannot be decoded as {}", t.msg_type);
        let (name, msg_type) = (t.topic.clone(), t.msg_type.clone());
        let index = match self
            .skips
            .iter()
            .position(|s| s.topic == name && s.reason == reason)
        {
            Some(i) => i,
            None => {
                self.warn(format!(
                    "topic {name}: a message logged at {:.9} s cannot be decoded: {e} \
                     (further ones are only counted)",
                    at.as_secs_f64()
                ));
                self.skips.push(Skip {
                    topic: name,
                    msg_type,
                    reason,
                    messages: 0,
                });
                self.skips.len() - 1
            }
        };
        self.skips[index].messages += 1;
    }

    /// Feeds one message in order, taking the snapshots due before it.
    fn feed(&mut self, arrival: Arrival, sink: &mut dyn Sink) -> Result<()> {
        let at = arrival.received_at;
        let at = self.released.map_or(at, |r| r.max(at));
        self.released = Some(at);
        if self.first.is_none() {
            self.first = Some(at);
            self.next_snapshot = Some(at + self.config.publish_period);
            self.last_snapshot = Some(at);
        }
        while let Some(due) = self.next_snapshot.filter(|due| *due <= at) {
            self.snapshot(due, sink)?;
            self.next_snapshot = Some(due + self.config.publish_period);
        }
        self.interval.messages += 1;
        self.interval.bytes += arrival.size as u64;
        let arrived = self.pipeline.arrive(&arrival);
        for problem in arrived.unreadable {
            let topic = &self.pipeline.topics()[arrival.topic].topic;
            let line = format!(
                "topic {topic}: unreadable at {:.9} s: {problem}",
                at.as_secs_f64()
            );
            self.warn(line);
        }
        self.finished(&arrived.finished, sink)
    }

    fn finished(&mut self, commands: &[CompletedCommand], sink: &mut dyn Sink) -> Result<()> {
        for cmd in commands {
            self.outcomes.add(cmd.outcome);
            self.interval.commands += 1;
            sink.command(&self.pipeline.command_latency(cmd))?;
        }
        Ok(())
    }

    fn snapshot(&mut self, at: Duration, sink: &mut dyn Sink) -> Result<()> {
        let expired = self.pipeline.expire(at);
        self.finished(&expired, sink)?;
        if sink.wants_snapshots() {
            let metrics = self.pipeline.metrics(at);
            let health = self
                .pipeline
                .topic_health(&self.pipeline.topic_snapshots(at), at);
            sink.snapshot(at, &metrics, &health)?;
        }
        let window = self.config.windows.first().copied().map(Window::Sliding);
        let e2e = self
            .pipeline
            .recorder()
            .end_to_end()
            .summary(at, window.unwrap_or(Window::Cumulative));
        let since = self.last_snapshot.unwrap_or(at);
        let start = self.first.unwrap_or(at);
        self.series.push(SeriesPoint {
            t: at.saturating_sub(start).as_secs_f64(),
            interval: at.saturating_sub(since).as_secs_f64(),
            end_to_end_p50: e2e.map(|s| s.p50),
            end_to_end_p95: e2e.map(|s| s.p95),
            command_rate_hz: self.pipeline.recorder().command_rate(at),
            commands: self.interval.commands,
            messages: self.interval.messages,
            bytes: self.interval.bytes,
        });
        self.interval = Interval::default();
        self.last_snapshot = Some(at);
        Ok(())
    }

    /// Ends the input: releases the reorder buffer, times out and abandons open commands,
    /// takes the last snapshot and builds the report.
    pub fn finish(mut self, mut inputs: Inputs, sink: &mut dyn Sink) -> Result<Report> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        while let Some(p) = self.pending.pop_front() {
            self.feed(p.arrival, sink)?;
        }
        let end = self.released.unwrap_or_default();
        let start = self.first.unwrap_or(end);
        // Commands whose timeout passed within the recording timed out; the rest were cut
        // off by its end.
        let expired = self.pipeline.expire(end);
        self.finished(&expired, sink)?;
        let flushed = self.pipeline.flush(end);
        self.finished(&flushed, sink)?;
        if self.interval.messages > 0
            || self.interval.commands > 0
            || self.series.points().is_empty()
        {
            self.snapshot(end, sink)?;
        }
        if self.late > 0 {
            self.warn(format!(
                "{} messages were logged more than {:?} before one already analysed; they \
                 were fed late (raise the reorder window)",
                self.late, self.options.reorder_window
            ));
        }
        if self.dropped_warnings > 0 {
            let n = self.dropped_warnings;
            self.warnings
                .push(format!("{n} further warnings not listed"));
        }
        let metrics = self.pipeline.metrics(end);
        let health = self
            .pipeline
            .topic_health(&self.pipeline.topic_snapshots(end), end);
        let recorder = self.pipeline.recorder();
        inputs.stages = self
            .config
            .stages
            .iter()
            .map(|s| (s.name.clone(), s.topic.clone()))
            .collect();
        inputs.stage_histograms = (0..self.config.stages.len())
            .map(|i| {
                recorder
                    .stage_latency(i)
                    .filter(|s| s.count() > 0)
                    .map(|s| s.histogram().clone())
            })
            .collect();
        inputs.end_to_end_histogram = Some(recorder.end_to_end().histogram().clone());
        inputs.topics = self
            .pipeline
            .topics()
            .iter()
            .zip(&self.topic_bytes)
            .map(|(t, b)| (t.topic.clone(), t.msg_type.clone(), *b))
            .collect();
        inputs.slo = (
            self.config.slo.threshold.as_secs_f64(),
            self.config.slo.target,
        );
        inputs.commands = self.outcomes.clone();
        inputs.duration = end.saturating_sub(start).as_secs_f64();
        inputs.series = self.series.clone();
        inputs.skips = std::mem::take(&mut self.skips);
        inputs.warnings.append(&mut self.warnings);
        if self.first.is_some() {
            inputs.source.start = Some(start.as_secs_f64());
            inputs.source.end = Some(end.as_secs_f64());
        }
        Ok(Report::build(
            inputs,
            (metrics.metrics, metrics.status),
            (health.metrics, health.status),
        ))
    }
}

/// `pkg/msg/Type` and `pkg/Type` name the same type.
fn normalize_type(t: &str) -> String {
    t.replace("/msg/", "/")
}

/// What to write besides the report.
#[derive(Debug, Clone, Default)]
pub struct Outputs {
    /// Directory of report.json, report.md and the plots.
    pub dir: PathBuf,
    /// Per-command CSV, if wanted.
    pub csv: Option<PathBuf>,
    /// MCAP of the computed vla_perf messages, if wanted.
    pub mcap: Option<PathBuf>,
}

/// What a run produced.
#[derive(Debug)]
pub struct Analysis {
    /// The report.
    pub report: Report,
    /// What was read.
    pub read: ReadStats,
    /// Files written.
    pub written: Vec<PathBuf>,
}

/// The sinks `run` writes to while reading.
struct Files {
    csv: Option<CommandTable>,
    mcap: Option<mcap_out::McapOut>,
}

impl Sink for Files {
    fn command(&mut self, cmd: &CommandLatency) -> Result<()> {
        if let Some(csv) = self.csv.as_mut() {
            csv.push(cmd)?;
        }
        if let Some(mcap) = self.mcap.as_mut() {
            mcap.command(cmd)?;
        }
        Ok(())
    }
    fn snapshot(&mut self, at: Duration, metrics: &Batch, health: &Batch) -> Result<()> {
        if let Some(mcap) = self.mcap.as_mut() {
            mcap.snapshot(at, metrics, health)?;
        }
        Ok(())
    }
    fn wants_snapshots(&self) -> bool {
        self.mcap.is_some()
    }
}

/// Analyses the recording at `bag` with `config` (read from `config_path` if given, for
/// the report's source) and writes the outputs. `progress` gets (bytes read, total bytes).
// Long: open the bag and outputs, stream it through the analyzer, write every output: one pass.
pub fn run(
    bag: &Path,
    config: &CollectorConfig,
    config_path: Option<&Path>,
    options: Options,
    outputs: &Outputs,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Analysis> {
    let mut reader = Reader::open(bag)?;
    reader.verify_checksums(options.verify_checksums);
    let total = reader.total_bytes();
    let mut analyzer = Analyzer::new(config, options)?;
    let stage_names: Vec<String> = config.stages.iter().map(|s| s.name.clone()).collect();
    let mut files = Files {
        csv: outputs
            .csv
            .as_deref()
            .map(|p| CommandTable::create(p, &stage_names))
            .transpose()?,
        mcap: outputs
            .mcap
            .as_deref()
            .map(|p| mcap_out::McapOut::create(p, config))
            .transpose()?,
    };
    let read = reader.read(&mut |event| {
        if let Event::Progress(bytes) = event {
            progress(bytes, total);
        }
        analyzer.event(event, &mut files);
    })?;
    let formats: Vec<&str> = {
        let mut f: Vec<&str> = reader
            .files()
            .iter()
            .map(|f| match f.storage {
                bag::Storage::Mcap => "mcap",
                bag::Storage::Sqlite3 => "sqlite3",
            })
            .collect();
        f.dedup();
        f
    };
    let (config_path_text, config_sha256) = match config_path {
        Some(p) => (
            p.display().to_string(),
            std::fs::read(p)
                .map(|bytes| hex(&sha2::Sha256::digest(&bytes)))
                .unwrap_or_default(),
        ),
        None => ("(built-in defaults)".into(), String::new()),
    };
    let mut warnings = Vec::new();
    if read.damaged_files > 0 {
        warnings.push(format!(
            "the recording is damaged: {} of {} files ended early; this report covers the \
             readable part only",
            read.damaged_files,
            reader.files().len()
        ));
    }
    let inputs = Inputs {
        title: format!(
            "vla_perf analysis of {}",
            bag.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| bag.display().to_string())
        ),
        source: report::Source {
            input: bag.display().to_string(),
            format: formats.join("+"),
            config_path: config_path_text,
            config_sha256,
            tool: format!("vla-perf {}", env!("CARGO_PKG_VERSION")),
            host: sysinfo::System::host_name().unwrap_or_default(),
            start: None,
            end: None,
        },
        warnings,
        ..Inputs::default()
    };
    let report = analyzer.finish(inputs, &mut files)?;
    let mut written = report.write_to(&outputs.dir)?;
    if let Some(csv) = files.csv.take() {
        written.push(csv.finish()?);
    }
    if let Some(mcap) = files.mcap.take() {
        written.push(mcap.finish()?);
    }
    Ok(Analysis {
        report,
        read,
        written,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::StageConfig;
    use crate::core::timeline::Correlation;
    use crate::msg::builtin_interfaces::Time;
    use crate::msg::cdr::to_cdr;
    use crate::msg::std_msgs::{Header, String as RosString};
    use crate::msg::RosMessage;

    fn config() -> CollectorConfig {
        CollectorConfig {
            stages: vec![
                StageConfig::new("voice", "/voice", RosString::TYPE_NAME, Correlation::Fifo),
                StageConfig::new(
                    "vision",
                    "/det",
                    "vision_msgs/msg/Detection2DArray",
                    Correlation::Fifo,
                ),
            ],
            ..CollectorConfig::default()
        }
    }

    fn conn(id: usize, topic: &str, msg_type: &str) -> Connection {
        Connection {
            id,
            topic: topic.into(),
            msg_type: msg_type.into(),
            encoding: "cdr".into(),
        }
    }

    fn ms(v: u64) -> u64 {
        v * 1_000_000
    }

    struct Collect(Vec<CommandLatency>, usize);
    impl Sink for Collect {
        fn command(&mut self, cmd: &CommandLatency) -> Result<()> {
            self.0.push(cmd.clone());
            Ok(())
        }
        fn snapshot(&mut self, _: Duration, _: &Batch, _: &Batch) -> Result<()> {
            self.1 += 1;
            Ok(())
        }
    }

    #[test]
    fn messages_out_of_log_order_are_put_back_in_order_before_the_pipeline() {
        let mut a = Analyzer::new(&config(), Options::default()).unwrap();
        let mut sink = Collect(Vec::new(), 0);
        a.connection(&conn(0, "/voice", "std_msgs/msg/String"));
        a.connection(&conn(1, "/det", "vision_msgs/msg/Detection2DArray"));
        let voice = to_cdr(&RosString { data: "go".into() }).unwrap();
        let det = to_cdr(&Header {
            stamp: Time { sec: 1, nanosec: 0 },
            frame_id: String::new(),
        })
        .unwrap();
        // The detection is stored before the voice message it answers.
        fn msg(connection: usize, t: u64, data: &[u8]) -> BagMessage<'_> {
            BagMessage {
                connection,
                log_time: t,
                publish_time: None,
                data,
            }
        }
        a.message(msg(1, ms(10_300), &det), &mut sink).unwrap();
        a.message(msg(0, ms(10_000), &voice), &mut sink).unwrap();
        let report = a.finish(Inputs::default(), &mut sink).unwrap();
        assert_eq!(sink.0.len(), 1, "{:?}", sink.0);
        assert_eq!(sink.0[0].outcome, CommandLatency::OUTCOME_SUCCEEDED);
        assert!((sink.0[0].end_to_end - 0.3).abs() < 1e-9);
        assert_eq!(report.commands.succeeded, 1);
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    }

    #[test]
    fn a_message_stored_later_than_the_reorder_window_is_fed_late_and_reported() {
        let options = Options {
            reorder_window: Duration::from_millis(100),
            ..Options::default()
        };
        let mut a = Analyzer::new(&config(), options).unwrap();
        a.connection(&conn(0, "/voice", "std_msgs/msg/String"));
        let voice = to_cdr(&RosString { data: "go".into() }).unwrap();
        // 1.5 s arrives after 2 s was fed (3 s pushed the horizon past it).
        for t in [1_000, 2_000, 3_000, 1_500] {
            let m = BagMessage {
                connection: 0,
                log_time: ms(t),
                publish_time: None,
                data: &voice,
            };
            a.message(m, &mut ()).unwrap();
        }
        let report = a.finish(Inputs::default(), &mut ()).unwrap();
        assert!(
            report
                .warnings
                .iter()
                .any(|w| w.starts_with("1 messages were logged")),
            "{:?}",
            report.warnings
        );
        assert_eq!(report.stages[0].messages, 4);
    }

    #[test]
    fn a_recorded_type_unlike_the_configured_one_is_skipped_and_counted() {
        let mut a = Analyzer::new(&config(), Options::default()).unwrap();
        a.connection(&conn(0, "/det", "sensor_msgs/msg/Image"));
        a.connection(&conn(1, "/camera", "sensor_msgs/msg/Image"));
        a.connection(&conn(2, "/voice", ""));
        for i in 0..3 {
            for c in 0..3 {
                let m = BagMessage {
                    connection: c,
                    log_time: ms(i),
                    publish_time: None,
                    data: &[0, 1, 0, 0],
                };
                a.message(m, &mut ()).unwrap();
            }
        }
        let report = a.finish(Inputs::default(), &mut ()).unwrap();
        let det = report.skips.iter().find(|s| s.topic == "/det").unwrap();
        assert_eq!(det.messages, 3);
        assert!(
            det.reason.contains("sensor_msgs/msg/Image"),
            "{}",
            det.reason
        );
        assert!(report.warnings.iter().any(|w| w.contains("/det")));
        let untyped = report.skips.iter().find(|s| s.topic == "/voice").unwrap();
        assert_eq!(untyped.messages, 3);
        assert_eq!(untyped.reason, "no schema in the recording");
        let camera = report.skips.iter().find(|s| s.topic == "/camera").unwrap();
        assert_eq!(camera.messages, 3);
        assert!(!report.warnings.iter().any(|w| w.contains("/camera")));
    }

    #[test]
    fn publish_times_time_the_stages_and_log_times_order_them() {
        let mut a = Analyzer::new(&config(), Options::default()).unwrap();
        let mut sink = Collect(Vec::new(), 0);
        a.connection(&conn(0, "/voice", "std_msgs/msg/String"));
        a.connection(&conn(1, "/det", "vision_msgs/msg/Detection2DArray"));
        let voice = to_cdr(&RosString { data: "go".into() }).unwrap();
        let det = to_cdr(&Header::default()).unwrap();
        fn m(connection: usize, log: u64, publish: u64, data: &[u8]) -> BagMessage<'_> {
            BagMessage {
                connection,
                log_time: log,
                publish_time: Some(publish),
                data,
            }
        }
        a.message(m(0, ms(5_010), ms(5_000), &voice), &mut sink)
            .unwrap();
        a.message(m(1, ms(5_900), ms(5_450), &det), &mut sink)
            .unwrap();
        a.finish(Inputs::default(), &mut sink).unwrap();
        assert!((sink.0[0].end_to_end - 0.45).abs() < 1e-9, "{:?}", sink.0);
    }
}
