//! Benchmark scenarios: which commands to send, how hard to push the stack, and what
//! counts as a pass.
//!
//! The file has one top-level key, `scenario:`. Paths (audio files, image sets) are only
//! checked for form here; whether they exist is checked when the benchmark starts, relative
//! to the scenario file. They must stay inside the scenario file's directory (relative,
//! no `..`): a scenario cannot make the benchmark read files from elsewhere.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::duration::{self, format_duration};
use super::yaml::{Checker, FieldPath};
use crate::core::bench::scenario::Expectations;
pub use crate::core::bench::scenario::{PassThresholds, ScenarioCommand, Suite};
use crate::core::timeline::Outcome;

/// Images with COCO ground truth, for the visual perception suite.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageSet {
    /// Name used in reports.
    pub name: String,
    /// Directory holding the images.
    pub directory: PathBuf,
    /// COCO annotation file (`instances.json`).
    pub annotations: PathBuf,
}

/// How commands are issued.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LoadMode {
    /// One command at a time, the next after the previous one ended.
    Sequential,
    /// Open loop at a fixed rate (latency corrected for coordinated omission).
    FixedRate {
        /// Commands per second.
        rate_hz: f64,
    },
    /// A fixed number of commands in flight.
    Concurrent {
        /// Commands in flight.
        concurrency: u32,
    },
    /// Raise the rate step by step until thresholds fail, to find the sustainable peak.
    PeakSearch {
        /// First rate.
        start_hz: f64,
        /// Increase per step.
        step_hz: f64,
        /// Highest rate tried.
        max_hz: f64,
    },
}

/// When a run (or, for peak search, each step) ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopCondition {
    /// After this many commands.
    Count(u32),
    /// After this long.
    Duration(Duration),
}

/// Load settings, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadSettings {
    /// How commands are issued.
    pub mode: LoadMode,
    /// When the run (or each peak-search step) ends.
    pub stop: StopCondition,
    /// A command not finished this long after it was sent counts as timed out.
    pub timeout: Duration,
}

/// The `thresholds:` section as written; it becomes a [`PassThresholds`].
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct ThresholdsSpec {
    /// Largest acceptable p95 latency per stage name (`end_to_end` for the whole command).
    #[serde(deserialize_with = "duration::map")]
    max_p95_latency: BTreeMap<String, Duration>,
    /// Least acceptable fraction of commands with the expected outcome.
    min_success_rate: Option<f64>,
    /// Largest acceptable word error rate.
    max_wer: Option<f64>,
    /// Least acceptable detection mAP@[.5:.95].
    min_map: Option<f64>,
    /// Least acceptable fraction of commands whose plan matched the expected plan.
    min_understanding_rate: Option<f64>,
}

impl ThresholdsSpec {
    fn into_thresholds(self) -> PassThresholds {
        PassThresholds {
            max_p95_latency: self.max_p95_latency,
            min_success_rate: self.min_success_rate,
            max_wer: self.max_wer,
            min_map: self.min_map,
            min_understanding_rate: self.min_understanding_rate,
        }
    }
}

/// The stack's topics as the benchmark drives and reads them. Every default is the
/// collector's default pipeline, which the SIMULATED stack (`sim_stack`) speaks.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StackTopics {
    /// Where commands are spoken: `audio_common_msgs/msg/AudioStamped`.
    pub voice: TopicRef,
    /// The ASR's output (`std_msgs/msg/String`), and the planning suite's input.
    pub transcript: TranscriptTopic,
    /// The planner's output (`std_msgs/msg/String`, JSON), and the action suite's input.
    pub plan: PlanTopic,
    /// Where the perception suite publishes its images (`sensor_msgs/msg/Image`).
    pub image: TopicRef,
    /// The detector's output (`vision_msgs/msg/Detection2DArray`, header copied from the
    /// image).
    pub detections: TopicRef,
    /// The executor's action status (`action_msgs/msg/GoalStatusArray`).
    pub action_status: TopicRef,
    /// Prefix each command's text with a `[bN] ` tag that a stack passing it through (the
    /// SIMULATED one does) echoes as the plan's id, so outputs match commands exactly;
    /// without it (real stacks) outputs pair with commands in order.
    pub command_tags: bool,
}

/// A topic name.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicRef {
    /// Topic name.
    pub topic: String,
}

impl TopicRef {
    fn new(topic: &str) -> Self {
        Self {
            topic: topic.into(),
        }
    }
}

/// The transcript topic and how its text is found.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TranscriptTopic {
    /// Topic name.
    pub topic: String,
    /// Key of the text in a JSON payload; `null`: the payload is the text.
    pub text_field: Option<String>,
}

/// The plan topic and how a plan's JSON is read.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlanTopic {
    /// Topic name.
    pub topic: String,
    /// Dotted path of the command id (matched against command tags).
    pub id_field: Option<String>,
    /// Dotted path of the status.
    pub status_field: Option<String>,
    /// Status values that mean the planner refused the command.
    pub failure_values: Vec<String>,
    /// Dotted path of the list of steps.
    pub steps_field: String,
    /// Key of a step's action type.
    pub action_field: String,
}

impl Default for StackTopics {
    fn default() -> Self {
        Self {
            voice: TopicRef::new("/audio/utterance"),
            transcript: TranscriptTopic::default(),
            plan: PlanTopic::default(),
            image: TopicRef::new("/camera/image_raw"),
            detections: TopicRef::new("/vision/detections"),
            action_status: TopicRef::new("/execute_plan/_action/status"),
            command_tags: true,
        }
    }
}

impl Default for TranscriptTopic {
    fn default() -> Self {
        Self {
            topic: "/asr/transcript".into(),
            text_field: Some("text".into()),
        }
    }
}

impl Default for PlanTopic {
    fn default() -> Self {
        Self {
            topic: "/planner/plan".into(),
            id_field: Some("command_id".into()),
            status_field: Some("status".into()),
            failure_values: vec!["rejected".into(), "failed".into()],
            steps_field: "steps".into(),
            action_field: "action".into(),
        }
    }
}

impl StackTopics {
    fn validate(&self, at: &FieldPath, check: &mut Checker) {
        if let Some(key) = &self.transcript.text_field {
            if let Err(e) = crate::core::extract::JsonPath::parse(key) {
                check.error(at.key("transcript").key("text_field"), key, e.to_string());
            }
        }
        for (name, topic) in [
            ("voice", &self.voice.topic),
            ("transcript", &self.transcript.topic),
            ("plan", &self.plan.topic),
            ("image", &self.image.topic),
            ("detections", &self.detections.topic),
            ("action_status", &self.action_status.topic),
        ] {
            if !super::collector::is_topic(topic) {
                check.error(
                    at.key(name).key("topic"),
                    topic,
                    "not a ROS topic name such as /asr/transcript",
                );
            }
        }
        for (name, value) in [
            ("steps_field", Some(&self.plan.steps_field)),
            ("action_field", Some(&self.plan.action_field)),
            ("id_field", self.plan.id_field.as_ref()),
            ("status_field", self.plan.status_field.as_ref()),
        ] {
            if let Some(value) = value {
                if let Err(e) = crate::core::extract::JsonPath::parse(value) {
                    check.error(at.key("plan").key(name), value, e.to_string());
                }
            }
        }
    }
}

/// A validated benchmark scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Scenario name, used in reports.
    pub name: String,
    /// What the scenario exercises.
    pub description: Option<String>,
    /// Suites to run.
    pub suites: Vec<Suite>,
    /// Commands to send.
    pub commands: Vec<ScenarioCommand>,
    /// Image sets for the visual perception suite.
    pub image_sets: Vec<ImageSet>,
    /// How hard to push.
    pub load: LoadSettings,
    /// What counts as a pass.
    pub thresholds: PassThresholds,
    /// The stack's topics (boxed: it is large, and rarely read).
    pub stack: Box<StackTopics>,
}

/// The scenario file: the `scenario:` root.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScenarioFile {
    scenario: ScenarioSpec,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioSpec {
    name: String,
    #[serde(default)]
    description: Option<String>,
    suites: Vec<Suite>,
    commands: Vec<ScenarioCommand>,
    #[serde(default)]
    image_sets: Vec<ImageSet>,
    #[serde(default)]
    load: LoadSpec,
    #[serde(default)]
    thresholds: ThresholdsSpec,
    #[serde(default)]
    stack: StackTopics,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ModeName {
    #[default]
    Sequential,
    FixedRate,
    Concurrent,
    PeakSearch,
}

/// Load settings as written: one flat block whose parameters depend on `mode`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct LoadSpec {
    mode: ModeName,
    rate_hz: Option<f64>,
    concurrency: Option<u32>,
    start_hz: Option<f64>,
    step_hz: Option<f64>,
    max_hz: Option<f64>,
    #[serde(deserialize_with = "duration::optional")]
    duration: Option<Duration>,
    count: Option<u32>,
    #[serde(deserialize_with = "duration::required")]
    timeout: Duration,
}

impl Default for LoadSpec {
    fn default() -> Self {
        Self {
            mode: ModeName::Sequential,
            rate_hz: None,
            concurrency: None,
            start_hz: None,
            step_hz: None,
            max_hz: None,
            duration: None,
            count: None,
            timeout: Duration::from_secs(30),
        }
    }
}

impl ScenarioFile {
    /// Validates the scenario and builds the public form; problems go to `check`.
    // Long: one check per scenario rule in file order, then the parts' own checks; a flat list.
    pub(crate) fn build(self, check: &mut Checker) -> Scenario {
        let at = FieldPath::root().key("scenario");
        let spec = self.scenario;
        if spec.name.trim().is_empty() {
            check.error(
                at.key("name"),
                &spec.name,
                "scenario name must not be empty",
            );
        }
        if spec.suites.is_empty() {
            check.error(at.key("suites"), "[]", "at least one suite is required");
        }
        for (i, suite) in spec.suites.iter().enumerate() {
            if spec.suites[..i].contains(suite) {
                check.error(
                    at.key("suites").index(i),
                    suite.as_str(),
                    "suite listed twice",
                );
            }
        }
        if spec.commands.is_empty() {
            check.error(at.key("commands"), "[]", "at least one command is required");
        }
        for (i, command) in spec.commands.iter().enumerate() {
            let path = at.key("commands").index(i);
            if command.text.trim().is_empty() {
                check.error(
                    path.key("text"),
                    &command.text,
                    "command text must not be empty",
                );
            }
            if let Some(audio) = &command.audio {
                check_confined(check, path.key("audio"), audio);
                if !has_extension(audio, "wav") {
                    check.error(
                        path.key("audio"),
                        audio.display(),
                        "audio must be a .wav file",
                    );
                }
            }
            for (j, action) in command.expected_plan.iter().enumerate() {
                if !super::collector::is_identifier(action) {
                    check.error(
                        path.key("expected_plan").index(j),
                        action,
                        "action type must be an identifier such as `navigate`",
                    );
                }
            }
            if command.expected_outcome == Outcome::Abandoned {
                check.error(
                    path.key("expected_outcome"),
                    Outcome::Abandoned.as_str(),
                    "expected_outcome must be succeeded, failed or timed_out",
                );
            }
        }
        for (i, set) in spec.image_sets.iter().enumerate() {
            let path = at.key("image_sets").index(i);
            if set.name.trim().is_empty() {
                check.error(
                    path.key("name"),
                    &set.name,
                    "image set name must not be empty",
                );
            }
            if set.directory.as_os_str().is_empty() {
                check.error(path.key("directory"), "", "directory must not be empty");
            }
            check_confined(check, path.key("directory"), &set.directory);
            check_confined(check, path.key("annotations"), &set.annotations);
            if !has_extension(&set.annotations, "json") {
                check.error(
                    path.key("annotations"),
                    set.annotations.display(),
                    "annotations must be a COCO .json file",
                );
            }
        }
        if spec.suites.contains(&Suite::VisualPerception) && spec.image_sets.is_empty() {
            check.error(
                at.key("suites"),
                "visual_perception",
                "the visual_perception suite needs at least one entry in image_sets",
            );
        }
        let load = spec.load.build(&at.key("load"), spec.commands.len(), check);
        spec.thresholds.validate(&at.key("thresholds"), check);
        spec.stack.validate(&at.key("stack"), check);
        Scenario {
            name: spec.name,
            description: spec.description,
            suites: spec.suites,
            commands: spec.commands,
            image_sets: spec.image_sets,
            load,
            thresholds: spec.thresholds.into_thresholds(),
            stack: Box::new(spec.stack),
        }
    }
}

impl LoadSpec {
    // Long: the fields each load mode allows, then one arm per mode and per stop condition.
    fn build(&self, at: &FieldPath, commands: usize, check: &mut Checker) -> LoadSettings {
        let mode_name = match self.mode {
            ModeName::Sequential => "sequential",
            ModeName::FixedRate => "fixed_rate",
            ModeName::Concurrent => "concurrent",
            ModeName::PeakSearch => "peak_search",
        };
        let params: [(&str, bool, &[ModeName]); 5] = [
            ("rate_hz", self.rate_hz.is_some(), &[ModeName::FixedRate]),
            (
                "concurrency",
                self.concurrency.is_some(),
                &[ModeName::Concurrent],
            ),
            ("start_hz", self.start_hz.is_some(), &[ModeName::PeakSearch]),
            ("step_hz", self.step_hz.is_some(), &[ModeName::PeakSearch]),
            ("max_hz", self.max_hz.is_some(), &[ModeName::PeakSearch]),
        ];
        for (name, given, modes) in params {
            if given && !modes.contains(&self.mode) {
                check.error(
                    at.key(name),
                    "",
                    format!("`{name}` does not apply to mode {mode_name}"),
                );
            }
        }
        let mut rate = |name: &str, value: Option<f64>| -> f64 {
            match value {
                None => {
                    check.error(
                        at.key(name),
                        "",
                        format!("mode {mode_name} requires `{name}`"),
                    );
                    1.0
                }
                Some(v) if !(v.is_finite() && v > 0.0) => {
                    check.error(
                        at.key(name),
                        v,
                        "must be a finite number of Hz greater than zero",
                    );
                    1.0
                }
                Some(v) => v,
            }
        };
        let mode = match self.mode {
            ModeName::Sequential => LoadMode::Sequential,
            ModeName::FixedRate => LoadMode::FixedRate {
                rate_hz: rate("rate_hz", self.rate_hz),
            },
            ModeName::PeakSearch => {
                let start_hz = rate("start_hz", self.start_hz);
                let step_hz = rate("step_hz", self.step_hz);
                let max_hz = rate("max_hz", self.max_hz);
                if self.start_hz.is_some() && self.max_hz.is_some() && max_hz < start_hz {
                    check.error(
                        at.key("max_hz"),
                        max_hz,
                        format!("max_hz must be >= start_hz ({start_hz})"),
                    );
                }
                LoadMode::PeakSearch {
                    start_hz,
                    step_hz,
                    max_hz,
                }
            }
            ModeName::Concurrent => {
                let concurrency = match self.concurrency {
                    None => {
                        check.error(
                            at.key("concurrency"),
                            "",
                            "mode concurrent requires `concurrency`",
                        );
                        1
                    }
                    Some(0) => {
                        check.error(at.key("concurrency"), 0, "must be at least 1");
                        1
                    }
                    Some(n) => n,
                };
                LoadMode::Concurrent { concurrency }
            }
        };
        let stop = match (self.count, self.duration) {
            (Some(_), Some(_)) => {
                check.error(
                    at.key("count"),
                    "",
                    "give either `count` or `duration`, not both",
                );
                StopCondition::Count(1)
            }
            (Some(0), None) => {
                check.error(at.key("count"), 0, "must be at least 1");
                StopCondition::Count(1)
            }
            (Some(count), None) => StopCondition::Count(count),
            (None, Some(duration)) => {
                if duration.is_zero() {
                    check.error(at.key("duration"), "0s", "must be greater than zero");
                }
                StopCondition::Duration(duration)
            }
            // Each command once: the natural unit of a scenario.
            (None, None) => StopCondition::Count(u32::try_from(commands).unwrap_or(u32::MAX)),
        };
        if self.timeout.is_zero() {
            check.error(at.key("timeout"), "0s", "must be greater than zero");
        }
        LoadSettings {
            mode,
            stop,
            timeout: self.timeout,
        }
    }
}

impl ThresholdsSpec {
    fn validate(&self, at: &FieldPath, check: &mut Checker) {
        for (stage, limit) in &self.max_p95_latency {
            if !super::collector::is_identifier(stage) {
                check.error(
                    at.key("max_p95_latency").key(stage),
                    stage,
                    "stage name must be an identifier",
                );
            }
            if limit.is_zero() {
                check.error(
                    at.key("max_p95_latency").key(stage),
                    "0s",
                    "must be greater than zero",
                );
            }
        }
        for (name, value) in [
            ("min_success_rate", self.min_success_rate),
            ("max_wer", self.max_wer),
            ("min_map", self.min_map),
            ("min_understanding_rate", self.min_understanding_rate),
        ] {
            if let Some(value) = value {
                let upper = if name == "max_wer" {
                    f64::INFINITY
                } else {
                    1.0
                };
                // WER can exceed 1 (insertions), fractions cannot.
                if !(value >= 0.0 && value <= upper) || value.is_nan() {
                    check.error(
                        at.key(name),
                        value,
                        if name == "max_wer" {
                            "must be >= 0"
                        } else {
                            "must be a fraction in [0, 1]"
                        },
                    );
                }
            }
        }
    }
}

/// Paths a scenario reads must stay inside the scenario file's directory: relative, with
/// no `..` component.
fn check_confined(check: &mut Checker, field: FieldPath, path: &Path) {
    use std::path::Component;
    let escapes = path.components().any(|c| {
        matches!(
            c,
            Component::RootDir | Component::Prefix(_) | Component::ParentDir
        )
    });
    if escapes {
        check.error(
            field,
            path.display(),
            "paths must stay inside the scenario file's directory: relative, without `..`",
        );
    }
}

fn has_extension(path: &Path, extension: &str) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case(extension))
}

impl Scenario {
    /// What scoring needs of this scenario (`core::bench::score`).
    pub fn expectations(&self) -> Expectations<'_> {
        Expectations {
            commands: &self.commands,
            thresholds: &self.thresholds,
        }
    }

    /// A readable account of what was understood, for `vla-perf check-config`.
    // Long: one writeln per line of check-config's account, in the order it prints.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "scenario: {}", self.name);
        if let Some(description) = &self.description {
            let _ = writeln!(out, "  {}", description.trim());
        }
        let suites: Vec<&str> = self.suites.iter().map(|s| s.as_str()).collect();
        let _ = writeln!(out, "suites: {}", suites.join(", "));
        let _ = writeln!(out, "commands ({}):", self.commands.len());
        for (i, command) in self.commands.iter().enumerate() {
            let _ = writeln!(
                out,
                "  {}. \"{}\" -> {}",
                i + 1,
                command.text,
                command.expected_outcome.as_str()
            );
            if let Some(audio) = &command.audio {
                let _ = writeln!(out, "     audio: {}", audio.display());
            }
            if command.reference_transcript.is_some() {
                let _ = writeln!(out, "     reference: \"{}\"", command.reference());
            }
            if !command.expected_plan.is_empty() {
                let _ = writeln!(out, "     plan: {}", command.expected_plan.join(" -> "));
            }
        }
        for set in &self.image_sets {
            let _ = writeln!(
                out,
                "image set {}: {} (annotations {})",
                set.name,
                set.directory.display(),
                set.annotations.display()
            );
        }
        let mode = match self.load.mode {
            LoadMode::Sequential => "sequential".to_owned(),
            LoadMode::FixedRate { rate_hz } => format!("fixed rate {rate_hz} Hz"),
            LoadMode::Concurrent { concurrency } => format!("{concurrency} concurrent"),
            LoadMode::PeakSearch {
                start_hz,
                step_hz,
                max_hz,
            } => format!("peak search {start_hz} Hz to {max_hz} Hz in steps of {step_hz} Hz"),
        };
        let stop = match self.load.stop {
            StopCondition::Count(n) => format!("{n} commands"),
            StopCondition::Duration(d) => format!("for {}", format_duration(d)),
        };
        let _ = writeln!(
            out,
            "load: {mode}, {stop}, timeout {} per command",
            format_duration(self.load.timeout)
        );
        let t = &self.thresholds;
        let mut pass = Vec::new();
        for (stage, limit) in &t.max_p95_latency {
            pass.push(format!("p95 {stage} <= {}", format_duration(*limit)));
        }
        for (text, value) in [
            ("success rate >=", t.min_success_rate),
            ("WER <=", t.max_wer),
            ("mAP >=", t.min_map),
            ("understanding rate >=", t.min_understanding_rate),
        ] {
            if let Some(value) = value {
                pass.push(format!("{text} {value}"));
            }
        }
        let _ = writeln!(
            out,
            "pass when: {}",
            if pass.is_empty() {
                "no thresholds (report only)".to_owned()
            } else {
                pass.join("; ")
            }
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_scenario;

    const MINIMAL: &str = "scenario:\n  name: s\n  suites: [end_to_end]\n  commands:\n    - text: go to the kitchen\n";

    #[test]
    fn a_minimal_scenario_runs_each_command_once_sequentially() {
        let scenario = parse_scenario("s.yaml", MINIMAL).unwrap().config;
        assert_eq!(scenario.load.mode, LoadMode::Sequential);
        assert_eq!(scenario.load.stop, StopCondition::Count(1));
        assert_eq!(scenario.load.timeout, Duration::from_secs(30));
        assert_eq!(scenario.commands[0].reference(), "go to the kitchen");
        assert_eq!(scenario.commands[0].expected_outcome, Outcome::Succeeded);
    }

    #[test]
    fn fixed_rate_requires_its_rate() {
        let text = format!("{MINIMAL}  load: {{mode: fixed_rate, duration: 1m}}\n");
        let error = parse_scenario("s.yaml", &text).unwrap_err();
        assert_eq!(error.field(), Some("scenario.load.rate_hz"));
        assert!(error.to_string().contains("requires `rate_hz`"), "{error}");
    }

    #[test]
    fn parameters_of_another_mode_are_rejected() {
        let text = format!("{MINIMAL}  load: {{mode: sequential, rate_hz: 2}}\n");
        let error = parse_scenario("s.yaml", &text).unwrap_err();
        assert_eq!(error.field(), Some("scenario.load.rate_hz"));
        assert_eq!(error.value(), Some("2"));
    }

    #[test]
    fn peak_search_collects_its_three_rates() {
        let text = format!(
            "{MINIMAL}  load: {{mode: peak_search, start_hz: 0.5, step_hz: 0.5, max_hz: 4, duration: 30s}}\n"
        );
        let scenario = parse_scenario("s.yaml", &text).unwrap().config;
        assert_eq!(
            scenario.load.mode,
            LoadMode::PeakSearch {
                start_hz: 0.5,
                step_hz: 0.5,
                max_hz: 4.0
            }
        );
        assert_eq!(
            scenario.load.stop,
            StopCondition::Duration(Duration::from_secs(30))
        );
    }

    #[test]
    fn visual_perception_without_image_sets_is_rejected() {
        let text = MINIMAL.replace("[end_to_end]", "[visual_perception]");
        let error = parse_scenario("s.yaml", &text).unwrap_err();
        assert_eq!(error.field(), Some("scenario.suites"));
    }

    #[test]
    fn paths_outside_the_scenario_directory_are_rejected_with_their_field() {
        for bad in [
            "/etc/passwd.wav",
            "../elsewhere/cmd.wav",
            "audio/../../cmd.wav",
        ] {
            let text = format!("{MINIMAL}      audio: {bad}\n");
            let error = parse_scenario("s.yaml", &text).unwrap_err();
            assert_eq!(error.field(), Some("scenario.commands[0].audio"), "{bad}");
            assert!(error
                .to_string()
                .contains("inside the scenario file's directory"));
        }
        let fine = format!("{MINIMAL}      audio: audio/./cmd.wav\n");
        assert!(parse_scenario("s.yaml", &fine).is_ok());
    }

    #[test]
    fn audio_must_be_a_wav_file() {
        let text = format!("{MINIMAL}      audio: cmd.mp3\n");
        let error = parse_scenario("s.yaml", &text).unwrap_err();
        assert_eq!(error.field(), Some("scenario.commands[0].audio"));
    }
}
