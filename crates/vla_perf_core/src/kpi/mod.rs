//! Accuracy KPIs: speech recognition (WER), command understanding, task/action/navigation
//! success, confidence calibration and object detection (COCO AP/mAP).
//!
//! Everything here is a pure function or accumulator: callers feed in transcripts,
//! outcomes, scores and boxes, and read numbers back. A statistic that is undefined for
//! the data seen so far (no reference words, no attempts, no ground truth) is `None`.

pub mod confidence;
pub mod detection;
pub mod understanding;
pub mod wer;

pub use confidence::{Calibration, CalibrationBin, ConfidenceError, ConfidenceHistogram};
pub use detection::{
    BBox, ClassAp, ClassCounts, CocoSummary, Detection, DetectionError, DetectionEvaluator,
    GroundTruth,
};
pub use understanding::{
    CommandOutcome, SuccessCounter, SuccessKind, SuccessRates, UnderstandingCounter,
};
pub use wer::{normalize, WerAccumulator, WerError, WordErrors};
