//! What a benchmark run recorded: the raw observations the live driver (`crate::bench`)
//! collects, and the only input of the scoring in [`super`]. Times are seconds since the
//! run's start on the driver's steady clock; nothing here is computed, only observed.

use serde::{Deserialize, Serialize};

use super::scenario::Suite;
use crate::timeline::Outcome;

/// Everything one benchmark run observed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunRecord {
    /// Identifies the run (every suite of it and every published result share it).
    pub run_id: String,
    /// Where, when and with what the run was made.
    pub meta: RunMeta,
    /// One entry per suite run, in the order they ran.
    pub suites: Vec<SuiteRecord>,
    /// CPU and memory of the stack's processes during the run.
    pub processes: Vec<ProcessRecord>,
    /// GPUs during the run; empty when GPU metrics are unavailable.
    pub gpus: Vec<GpuRecord>,
    /// Why GPU figures are missing, when they are (e.g. "NVML not found").
    pub gpu_unavailable: Option<String>,
}

/// Where, when and with what a run was made.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunMeta {
    /// Host name.
    pub host: String,
    /// `vla_perf <version>`.
    pub tool: String,
    /// Operating system and architecture, e.g. `linux x86_64`.
    pub platform: String,
    /// Scenario name.
    pub scenario: String,
    /// Scenario file path.
    pub scenario_path: String,
    /// SHA-256 (hex) of the scenario file's bytes.
    pub scenario_sha256: String,
    /// Collector config path (the stack's topics), or `built-in`.
    pub config_path: String,
    /// SHA-256 (hex) of the collector config file's bytes (of its YAML when built in).
    pub config_sha256: String,
    /// Start, seconds since the Unix epoch.
    pub started_unix: f64,
    /// End, seconds since the Unix epoch.
    pub ended_unix: f64,
    /// Load mode as written in the scenario, e.g. `fixed_rate 2 Hz`.
    pub load: String,
    /// Per-command timeout, seconds.
    pub timeout: f64,
}

/// One suite as run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SuiteRecord {
    /// Which suite.
    pub suite: Suite,
    /// The stages observed after the input, in pipeline order; [`CommandRecord::reached`]
    /// is aligned with it. voice_processing: `[transcript]`; cognitive_planning: `[plan]`;
    /// visual_perception: `[vision]`; action_execution: `[action_start, action_done]`;
    /// end_to_end: every stage after the first (`[transcript, plan, vision, action_start,
    /// action_done]` with the default collector config).
    pub stages: Vec<String>,
    /// Start of the suite, seconds since the run's start.
    pub started: f64,
    /// End of the suite (last command finished or timed out).
    pub ended: f64,
    /// Every command sent, in send order.
    pub commands: Vec<CommandRecord>,
    /// Every image sent (visual_perception), in send order.
    pub images: Vec<ImageRecord>,
    /// Ground truth of the image sets used (visual_perception).
    pub image_sets: Vec<ImageSetTruth>,
    /// Peak search: one entry per rate tried, in order; empty for other load modes.
    pub steps: Vec<StepRecord>,
    /// Stack outputs that matched no sent command or image (counted, not scored).
    pub unmatched: u64,
}

/// One command as sent and what came back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommandRecord {
    /// Index of the command in the scenario's `commands`.
    pub command: usize,
    /// Peak search step it belongs to (index into [`SuiteRecord::steps`]); 0 otherwise.
    pub step: usize,
    /// The `[tag] ` it was sent with (matched against the stack's ids), if any.
    #[serde(default)]
    pub tag: Option<String>,
    /// When the load generator meant to send it (open loop: the schedule), seconds since
    /// the run's start. Latency measured from here is corrected for coordinated omission.
    pub intended: f64,
    /// When it was actually published.
    pub sent: f64,
    /// When each stage of [`SuiteRecord::stages`] was reached; `None` if it never was.
    pub reached: Vec<Option<f64>>,
    /// How it ended: `Succeeded` (last stage reached without failure), `Failed` (a stage
    /// reported failure: plan rejected, goal aborted), `TimedOut` (per-command timeout).
    pub outcome: Outcome,
    /// The stage that reported failure, when `outcome` is `Failed`.
    pub failed_at: Option<String>,
    /// The transcript the stack produced, when the suite sees one.
    pub transcript: Option<String>,
    /// The plan the stack produced, when the suite sees one.
    pub plan: Option<PlanRecord>,
}

/// A plan as the planner published it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanRecord {
    /// Action types of its steps, in order.
    pub actions: Vec<String>,
    /// The planner refused the command (its status was a failure value).
    pub rejected: bool,
}

/// One image as sent and the detections that came back for it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageRecord {
    /// Index into [`SuiteRecord::image_sets`].
    pub set: usize,
    /// COCO image id.
    pub image_id: u64,
    /// Peak search step (see [`CommandRecord::step`]).
    pub step: usize,
    /// When the load generator meant to send it.
    pub intended: f64,
    /// When it was published.
    pub sent: f64,
    /// When its detections arrived; `None` if they never did (timed out).
    pub received: Option<f64>,
    /// What the detector reported.
    pub detections: Vec<DetectionRecord>,
}

/// One detection, in the image's pixel coordinates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectionRecord {
    /// Class as the detector named it (matched to a COCO category by name, else by id).
    pub class: String,
    /// `[x, y, width, height]`, top-left origin, pixels.
    pub bbox: [f64; 4],
    /// Confidence score.
    pub score: f64,
}

/// COCO ground truth of one image set.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ImageSetTruth {
    /// Set name.
    pub name: String,
    /// `(category id, name)`.
    pub categories: Vec<(u64, String)>,
    /// Images of the set.
    pub images: Vec<TruthImage>,
    /// Annotated objects.
    pub annotations: Vec<TruthObject>,
}

/// One image of a set.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TruthImage {
    /// COCO image id.
    pub id: u64,
    /// File name inside the set's directory.
    pub file_name: String,
    /// Pixels.
    pub width: u32,
    /// Pixels.
    pub height: u32,
}

/// One annotated object.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TruthObject {
    /// COCO image id.
    pub image_id: u64,
    /// COCO category id.
    pub category_id: u64,
    /// `[x, y, width, height]`, pixels.
    pub bbox: [f64; 4],
    /// Segment area (COCO `area`); the box's area when absent.
    pub area: f64,
    /// COCO `iscrowd`.
    pub iscrowd: bool,
}

/// One rate of a peak search.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepRecord {
    /// Offered rate, commands (or images) per second.
    pub rate_hz: f64,
    /// Start, seconds since the run's start.
    pub started: f64,
    /// End.
    pub ended: f64,
}

/// One watched process over the run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProcessRecord {
    /// Process name as configured.
    pub name: String,
    /// CPU, percent of one core, one value per sample.
    pub cpu_percent: Vec<f64>,
    /// Resident memory, bytes, one value per sample.
    pub rss_bytes: Vec<u64>,
    /// Busiest single thread's share isn't observable here; the number of cores, so
    /// "saturates one core" can be told from "uses the machine".
    pub cores: usize,
}

/// One GPU over the run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GpuRecord {
    /// Index and name, e.g. `0: NVIDIA H100`.
    pub name: String,
    /// Utilisation, percent, per sample.
    pub utilization_percent: Vec<f64>,
    /// Memory used, bytes, per sample.
    pub memory_used_bytes: Vec<u64>,
    /// Total memory, bytes.
    pub memory_total_bytes: u64,
}
