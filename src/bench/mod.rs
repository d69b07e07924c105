//! The benchmark node: drives a live stack from a scenario, records what came back, and
//! scores it (`core::bench`) into reports under a results directory.
//!
//! A run: load and check the scenario's files (before anything is sent), open one DDS
//! participant, wait for the stack to be quiet, then run each suite at the scenario's
//! load. Suites run in a fixed order (visual perception, action execution, end to end,
//! cognitive planning, voice processing) whatever order the scenario lists them in: the
//! suites that start work the benchmark does not wait for (a transcript the planner then
//! plans, a plan the executor then executes) come last, so their leftovers cannot land in
//! another suite's figures. Every finished command or image is appended to
//! `commands.jsonl` and flushed to disk as it finishes, so a killed run loses nothing it
//! measured.
//!
//! Here: the options and the error; `progress` shows the run, `journal` writes what
//! finished, `sampling` watches the stack's processes, `run_loop` drives the suites,
//! `once` scores, writes and publishes one run, `baseline` reads the run compared with,
//! `continuous` repeats runs.

pub mod assets;
mod baseline;
pub mod cli;
mod continuous;
pub mod driver;
mod journal;
mod once;
mod progress;
pub mod publish;
mod run_loop;
mod sampling;
pub mod track;

use std::path::PathBuf;

use crate::config::scenario::{Scenario, Suite};

pub use baseline::read_baseline;
pub use continuous::run_continuous;
pub use once::{run_once, Finished, Settings};
pub use progress::Progress;
pub use run_loop::{file_sha256, record_run, RunOutput};

/// What can stop a benchmark run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A scenario file is missing or does not match.
    #[error("{0}")]
    Asset(#[from] assets::AssetError),
    /// A file or directory of the results could not be created, read or written.
    #[error("{}: {action}: {source}", path.display())]
    Results {
        /// The file or directory.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// A figure of the run could not be serialized for its file.
    #[error("{}: {action}: {source}", path.display())]
    Json {
        /// The file it was for.
        path: PathBuf,
        /// What was being serialized.
        action: &'static str,
        /// What serde said.
        #[source]
        source: serde_json::Error,
    },
    /// A report file could not be written.
    #[error("{}: {source}", path.display())]
    Report {
        /// The file or directory.
        path: PathBuf,
        /// What the report writer said.
        #[source]
        source: crate::report::Error,
    },
    /// The baseline is not a benchmark report.
    #[error("{}: not a benchmark report: {source}", path.display())]
    Baseline {
        /// The baseline file.
        path: PathBuf,
        /// Why it could not be read as one.
        #[source]
        source: crate::report::Error,
    },
    /// The middleware failed.
    #[error("ROS 2 transport: {0}")]
    Transport(#[from] crate::transport::Error),
    /// The middleware shut down while the run waited on it.
    #[error("ROS 2 transport: the middleware shut down")]
    ShutDown,
}

/// Result alias of this module.
pub type Result<T> = std::result::Result<T, Error>;

/// Suites in the order they run.
pub const SUITE_ORDER: [Suite; 5] = [
    Suite::VisualPerception,
    Suite::ActionExecution,
    Suite::EndToEnd,
    Suite::CognitivePlanning,
    Suite::VoiceProcessing,
];

/// How a run is made.
#[derive(Debug, Clone)]
pub struct Options {
    /// The scenario file (its folder is where its relative paths start).
    pub scenario_path: PathBuf,
    /// The scenario, validated.
    pub scenario: Scenario,
    /// Runs are written to `<results_dir>/<run id>/`.
    pub results_dir: PathBuf,
    /// DDS domain.
    pub domain: u16,
    /// Node name of the benchmark's participant.
    pub node_name: String,
    /// Processes of the stack to sample (names as in the collector's `resources`).
    pub processes: Vec<String>,
    /// Read GPUs through NVML.
    pub gpu: bool,
    /// Show a progress bar (a terminal); otherwise log lines.
    pub progress_bar: bool,
}
