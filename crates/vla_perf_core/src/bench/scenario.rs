//! What a benchmark scenario expects, as scoring reads it: its suites, its commands' ground
//! truth and its pass thresholds. Configuration parses scenario files into these types.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::timeline::Outcome;

/// A benchmark suite: one part of the stack measured on its own, or all of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Suite {
    /// Speech to text: latency and word error rate.
    VoiceProcessing,
    /// LLM planning: latency, understanding rate, plan correctness.
    CognitivePlanning,
    /// Object detection: latency, precision/recall, mAP.
    VisualPerception,
    /// Action execution: latency and success rate.
    ActionExecution,
    /// Voice to finished action.
    EndToEnd,
}

impl Suite {
    /// The snake_case name used in YAML and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Suite::VoiceProcessing => "voice_processing",
            Suite::CognitivePlanning => "cognitive_planning",
            Suite::VisualPerception => "visual_perception",
            Suite::ActionExecution => "action_execution",
            Suite::EndToEnd => "end_to_end",
        }
    }

    /// Whether the suite speaks its commands on the voice topic (the others type the
    /// transcript, send the plan, or send images).
    pub fn starts_at_voice(self) -> bool {
        matches!(self, Suite::VoiceProcessing | Suite::EndToEnd)
    }
}

/// One spoken (or typed) command and what it should lead to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioCommand {
    /// The command text, published as the transcript when there is no audio.
    pub text: String,
    /// WAV recording of the command, relative to the scenario file.
    #[serde(default)]
    pub audio: Option<PathBuf>,
    /// What ASR should transcribe, for WER; defaults to `text`.
    #[serde(default)]
    pub reference_transcript: Option<String>,
    /// Action types the plan should contain, in order (`navigate`, `pick`, ...).
    #[serde(default)]
    pub expected_plan: Vec<String>,
    /// How the command should end.
    #[serde(default = "succeeded")]
    pub expected_outcome: Outcome,
}

fn succeeded() -> Outcome {
    Outcome::Succeeded
}

impl ScenarioCommand {
    /// The transcript WER is computed against.
    pub fn reference(&self) -> &str {
        self.reference_transcript.as_deref().unwrap_or(&self.text)
    }
}

/// Pass/fail thresholds; an absent one is not checked.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PassThresholds {
    /// Largest acceptable p95 latency per stage name (`end_to_end` for the whole command).
    pub max_p95_latency: BTreeMap<String, Duration>,
    /// Least acceptable fraction of commands with the expected outcome.
    pub min_success_rate: Option<f64>,
    /// Largest acceptable word error rate.
    pub max_wer: Option<f64>,
    /// Least acceptable detection mAP@[.5:.95].
    pub min_map: Option<f64>,
    /// Least acceptable fraction of commands whose plan matched the expected plan.
    pub min_understanding_rate: Option<f64>,
}

/// What scoring needs of a scenario: the commands' ground truth and the pass thresholds.
#[derive(Debug, Clone, Copy)]
pub struct Expectations<'a> {
    /// Commands in the order they were sent (records refer to them by index).
    pub commands: &'a [ScenarioCommand],
    /// What counts as a pass.
    pub thresholds: &'a PassThresholds,
}
