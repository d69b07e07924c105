//! A SIMULATED Vision-Language-Action stack: the demo and test target of vla_perf.
//!
//! Nothing here listens, understands or moves a robot. The nodes talk ROS 2 exactly like a
//! real stack on the topics of the collector's default pipeline (`config/collector.yaml`),
//! so `collector` measures it with no configuration:
//!
//! | node | in | out |
//! |---|---|---|
//! | (driver: benchmark, demo, test) | | `/audio/utterance` `audio_common_msgs/msg/AudioStamped` |
//! | `sim_asr` | `/audio/utterance` | `/asr/transcript` `std_msgs/msg/String` `{"text", "confidence"}` |
//! | `sim_planner` | `/asr/transcript` | `/planner/plan` `std_msgs/msg/String` `{"command_id", "status", "steps"}` |
//! | `sim_camera` | | `/camera/image_raw` `sensor_msgs/msg/Image` rgb8 (sensor-data QoS) |
//! | `sim_vision` | `/camera/image_raw` | `/vision/detections` `vision_msgs/msg/Detection2DArray` |
//! | `sim_executor` | `/planner/plan`, `/vision/detections` | `/execute_plan/_action/status` `action_msgs/msg/GoalStatusArray` (latched) |
//!
//! What is simulated and how:
//! - Processing time is a `tokio` sleep of a latency drawn from the stage's configured
//!   distribution, counted from when the input message was produced (its DDS source
//!   timestamp, else its arrival), so the stage latency a collector measures between the
//!   two messages is the drawn value. ASR, planner and executor handle one command at a
//!   time, in order, as a real sequential pipeline does (a command that arrives while the
//!   previous one is still being processed waits).
//! - The ASR reads text (see [`speech`] for the utterance convention and the `[ID] `
//!   command tag) and garbles it with seeded word errors.
//! - The planner maps keywords to steps; it rejects commands without a known verb and a
//!   configured fraction of the others.
//! - The vision node does real pixel work ([`vision`]) on the camera's frames ([`scene`]),
//!   so perception latency, CPU load and detection accuracy are real measurements.
//! - The executor grounds each accepted plan on the first detections produced after the
//!   plan, then runs a goal: EXECUTING, then SUCCEEDED, ABORTED (failure rate) or nothing
//!   more (lost rate; a FIFO-correlating collector times that command out, and pairs the
//!   next goals correctly only when commands are driven one at a time).
//!
//! Every random draw is seeded from `seed`, the node and the command (its command id; for
//! the ASR the utterance text, plus its header stamp when it has no tag), so a command's
//! fate does not depend on what else the stack saw, and a tagged command's is the same in
//! every run. What the stack did
//! (drawn latencies, transcripts, outcomes) is reported as [`SimEvent`]s to whoever asks
//! ([`run_stack_with_events`]), which is the ground truth of tests and benchmarks.

pub mod config;
mod nodes;
pub mod planner;
pub mod scene;
pub mod speech;
pub mod vision;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub use config::{DegradeSwitch, SimConfig};
pub use planner::{Plan, PlanStatus, Step};

use crate::transport::{self, Transport};

/// Topic of the utterances (input).
pub const UTTERANCE_TOPIC: &str = "/audio/utterance";
/// Topic of the transcripts.
pub const TRANSCRIPT_TOPIC: &str = "/asr/transcript";
/// Topic of the plans.
pub const PLAN_TOPIC: &str = "/planner/plan";
/// Topic of the camera images.
pub const IMAGE_TOPIC: &str = "/camera/image_raw";
/// Topic of the detections.
pub const DETECTIONS_TOPIC: &str = "/vision/detections";
/// Topic of the executor's action status.
pub const ACTION_STATUS_TOPIC: &str = "/execute_plan/_action/status";

/// Why the simulated stack could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A configuration value is invalid.
    #[error("{file}{}{field}: {message}", if file.is_empty() { "" } else { ": " })]
    Config {
        /// The file, when read from one.
        file: String,
        /// Dotted path of the field (`executor.lost_rate`).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The middleware refused a node, publisher or subscription.
    #[error(transparent)]
    Transport(#[from] transport::Error),
}

/// Result alias of this module.
pub type Result<T> = std::result::Result<T, Error>;

/// How a goal ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoalOutcome {
    /// SUCCEEDED was published.
    Succeeded,
    /// ABORTED was published.
    Aborted,
    /// Nothing was published after EXECUTING.
    Lost,
}

/// What the simulated stack did: the ground truth. Times are wall-clock since the UNIX
/// epoch; `input_at` is the production time of the message a stage reacted to (its DDS
/// source timestamp, else arrival) and `output_at` the time just before its own publish.
#[derive(Debug, Clone, PartialEq)]
pub enum SimEvent {
    /// `sim_asr` published a transcript.
    Transcribed {
        /// The utterance's header stamp (the collector's command stamp).
        utterance_stamp: Duration,
        /// What was said (`UNINTELLIGIBLE` for real audio).
        reference: String,
        /// What was published as `text`.
        transcript: String,
        /// Published confidence.
        confidence: f64,
        /// Word edits the noise made.
        edits: usize,
        /// Drawn latency.
        drawn: Duration,
        /// When the utterance was produced.
        input_at: Duration,
        /// When the transcript was published.
        output_at: Duration,
    },
    /// `sim_planner` published a plan.
    Planned {
        /// The plan as published.
        plan: Plan,
        /// Drawn latency.
        drawn: Duration,
        /// When the transcript was produced.
        input_at: Duration,
        /// When the plan was published.
        output_at: Duration,
    },
    /// `sim_vision` published the detections of one frame.
    Detected {
        /// The image's header stamp.
        image_stamp: Duration,
        /// Objects found.
        objects: usize,
        /// Pixel work for this frame (all `load` passes).
        processing: Duration,
        /// Frames dropped because a newer one was already waiting.
        skipped: u64,
    },
    /// `sim_executor` started a goal (published EXECUTING).
    Executing {
        /// The plan's command id.
        command_id: String,
        /// The goal's UUID.
        goal_id: [u8; 16],
        /// When the plan was produced.
        plan_at: Duration,
        /// Production time of the detections the plan was grounded on (`None`: none came
        /// within the grounding timeout).
        grounded_at: Option<Duration>,
        /// Drawn dispatch latency.
        drawn: Duration,
        /// When EXECUTING was published.
        output_at: Duration,
    },
    /// `sim_executor` finished a goal (or lost it).
    Finished {
        /// The plan's command id.
        command_id: String,
        /// The goal's UUID.
        goal_id: [u8; 16],
        /// How it ended.
        outcome: GoalOutcome,
        /// Drawn execution time.
        drawn: Duration,
        /// When EXECUTING was published.
        input_at: Duration,
        /// When the final status was published (when it would have been, if lost).
        output_at: Duration,
    },
}

/// Ground-truth events, sent as they happen; the stack never waits for the receiver.
pub type EventSender = tokio::sync::mpsc::UnboundedSender<SimEvent>;

/// Runs the SIMULATED stack on `transport` (one node per stage, each its own participant)
/// in `domain` until `shutdown` resolves.
pub async fn run_stack(
    config: SimConfig,
    transport: Arc<dyn Transport>,
    domain: u16,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    run_stack_with_events(config, transport, domain, shutdown, None).await
}

/// [`run_stack`], also reporting what the stack does to `events`.
pub async fn run_stack_with_events(
    config: SimConfig,
    transport: Arc<dyn Transport>,
    domain: u16,
    shutdown: impl Future<Output = ()> + Send + 'static,
    events: Option<EventSender>,
) -> Result<()> {
    let degrade = DegradeSwitch::new(config.degrade.enabled);
    run_stack_switched(config, transport, domain, shutdown, events, degrade).await
}

/// [`run_stack_with_events`] with the degrade knobs applied while `degrade` is on (from the
/// next command or frame), whatever `degrade.enabled` says.
pub async fn run_stack_switched(
    config: SimConfig,
    transport: Arc<dyn Transport>,
    domain: u16,
    shutdown: impl Future<Output = ()> + Send + 'static,
    events: Option<EventSender>,
    degrade: DegradeSwitch,
) -> Result<()> {
    config.validate()?;
    let mut tasks = nodes::start(&config, transport.as_ref(), domain, events, &degrade)?;
    tracing::info!(
        degraded = degrade.is_on(),
        "SIMULATED VLA stack running on domain {domain} (sim_asr, sim_planner, sim_camera, \
         sim_vision, sim_executor); nothing here is a real robot"
    );
    tokio::pin!(shutdown);
    tokio::select! {
        _ = &mut shutdown => {}
        Some(done) = tasks.join_next() => {
            // Nodes run until shutdown; one that ends early has lost its middleware.
            tracing::warn!("SIMULATED stack: a node stopped early ({done:?}); stopping the rest");
        }
    }
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    tracing::info!("SIMULATED VLA stack stopped");
    Ok(())
}
