//! Benchmark scoring, pure: a [`RunRecord`] (what the live driver sent and what came back)
//! in; figures per suite, threshold verdicts, a profile of where the time went,
//! recommendations, baseline comparisons and trend detection out.

pub mod compare;
pub mod profile;
pub mod recommend;
pub mod record;
pub mod report;
pub mod scenario;
pub mod score;
#[cfg(test)]
pub(crate) mod testing;
pub mod trend;

pub use compare::{compare, Comparison, ComparisonRow, NoiseThreshold, Verdict};
pub use recommend::recommend;
pub use record::{
    CommandRecord, DetectionRecord, GpuRecord, ImageRecord, ImageSetTruth, PlanRecord,
    ProcessRecord, RunMeta, RunRecord, StepRecord, SuiteRecord, TruthImage, TruthObject,
};
pub use report::{Evidence, Recommendation, Severity};
pub use report::{GpuSummary, ProcessSummary, Profile, StageProfile};
pub use scenario::{Expectations, PassThresholds, ScenarioCommand, Suite};
pub use score::{
    score, score_with, step_verdict, BenchReport, ClassFigure, Compare, KpiFigure, LatencyFigure,
    PeakSearch, ScoreOptions, StepVerdict, SuiteReport, TimeBin,
};
pub use trend::{degradations, Degradation, DegradationKind, HistoryFigure, HistoryPoint};
