//! Benchmark scoring, pure: a [`RunRecord`] (what the live driver sent and what came back)
//! in; figures per suite, threshold verdicts, a profile of where the time went,
//! recommendations, baseline comparisons and trend detection out.

pub mod record;

pub use record::{
    CommandRecord, DetectionRecord, GpuRecord, ImageRecord, ImageSetTruth, PlanRecord,
    ProcessRecord, RunMeta, RunRecord, StepRecord, SuiteRecord, TruthImage, TruthObject,
};
