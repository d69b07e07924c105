//! Distribution and calibration of model confidence scores.
//!
//! Scores are expected in [0, 1]. Bins are half-open, `[k/B, (k+1)/B)`, except the last,
//! which also holds 1.0. A score outside [0, 1] or NaN is counted as invalid and otherwise
//! ignored, so a misbehaving model shows up as a count rather than a crash.

use serde::Serialize;

/// Why a confidence histogram could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfidenceError {
    /// A histogram needs at least one bin.
    #[error("confidence histogram needs at least one bin, got {bins}")]
    NoBins {
        /// The requested bin count.
        bins: usize,
    },
}

/// Result alias of this module.
pub type Result<T, E = ConfidenceError> = std::result::Result<T, E>;

/// Bin index of a valid score, `None` for a score outside [0, 1] or NaN.
fn bin_of(score: f64, bins: usize) -> Option<usize> {
    if !(0.0..=1.0).contains(&score) {
        return None;
    }
    // `as usize` saturates, and 1.0 maps to `bins`, which belongs to the last bin.
    Some(((score * bins as f64) as usize).min(bins - 1))
}

/// Fixed-bin histogram of confidence scores over [0, 1].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfidenceHistogram {
    counts: Vec<u64>,
    invalid: u64,
}

impl ConfidenceHistogram {
    /// A histogram with `bins` equal-width bins.
    pub fn new(bins: usize) -> Result<Self> {
        if bins == 0 {
            return Err(ConfidenceError::NoBins { bins });
        }
        Ok(Self {
            counts: vec![0; bins],
            invalid: 0,
        })
    }

    /// Counts one score; returns `false` (and counts it as invalid) if it is not in [0, 1].
    pub fn record(&mut self, score: f64) -> bool {
        match bin_of(score, self.counts.len()) {
            Some(b) => {
                self.counts[b] = self.counts[b].saturating_add(1);
                true
            }
            None => {
                self.invalid = self.invalid.saturating_add(1);
                false
            }
        }
    }

    /// Counts per bin, lowest scores first.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// Lower and upper edge of bin `index`; `None` past the last bin.
    pub fn bin_edges(&self, index: usize) -> Option<(f64, f64)> {
        let bins = self.counts.len();
        (index < bins).then(|| (index as f64 / bins as f64, (index + 1) as f64 / bins as f64))
    }

    /// Scores rejected as outside [0, 1] or NaN.
    pub fn invalid(&self) -> u64 {
        self.invalid
    }

    /// Valid scores counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().fold(0u64, |a, &c| a.saturating_add(c))
    }

    /// Fraction of valid scores in each bin; `None` when no valid score was counted.
    pub fn fractions(&self) -> Option<Vec<f64>> {
        let total = self.total();
        (total > 0).then(|| {
            self.counts
                .iter()
                .map(|&c| c as f64 / total as f64)
                .collect()
        })
    }
}

/// One calibration bin.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CalibrationBin {
    /// Lower edge of the bin.
    pub lower: f64,
    /// Upper edge of the bin.
    pub upper: f64,
    /// Predictions whose confidence fell in the bin.
    pub count: u64,
    /// Mean confidence of those predictions; `None` for an empty bin.
    pub mean_confidence: Option<f64>,
    /// Fraction of those predictions that were correct; `None` for an empty bin.
    pub accuracy: Option<f64>,
}

/// Reliability diagram accumulator: confidence versus correctness per bin.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Calibration {
    counts: Vec<u64>,
    correct: Vec<u64>,
    confidence_sum: Vec<f64>,
    invalid: u64,
}

impl Calibration {
    /// A calibration accumulator with `bins` equal-width bins (15 is a common choice).
    pub fn new(bins: usize) -> Result<Self> {
        if bins == 0 {
            return Err(ConfidenceError::NoBins { bins });
        }
        Ok(Self {
            counts: vec![0; bins],
            correct: vec![0; bins],
            confidence_sum: vec![0.0; bins],
            invalid: 0,
        })
    }

    /// Counts one prediction with its confidence and whether it was right; returns `false`
    /// (and counts it as invalid) when the confidence is not in [0, 1].
    pub fn record(&mut self, confidence: f64, correct: bool) -> bool {
        let Some(b) = bin_of(confidence, self.counts.len()) else {
            self.invalid = self.invalid.saturating_add(1);
            return false;
        };
        self.counts[b] = self.counts[b].saturating_add(1);
        self.correct[b] = self.correct[b].saturating_add(u64::from(correct));
        self.confidence_sum[b] += confidence;
        true
    }

    /// Predictions rejected for an invalid confidence.
    pub fn invalid(&self) -> u64 {
        self.invalid
    }

    /// Valid predictions counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().fold(0u64, |a, &c| a.saturating_add(c))
    }

    /// Per-bin count, mean confidence and accuracy, lowest confidence first.
    pub fn bins(&self) -> Vec<CalibrationBin> {
        let n = self.counts.len();
        (0..n)
            .map(|b| {
                let count = self.counts[b];
                let mean = |x: f64| (count > 0).then(|| x / count as f64);
                CalibrationBin {
                    lower: b as f64 / n as f64,
                    upper: (b + 1) as f64 / n as f64,
                    count,
                    mean_confidence: mean(self.confidence_sum[b]),
                    accuracy: mean(self.correct[b] as f64),
                }
            })
            .collect()
    }

    /// Expected calibration error: Σ (n_b / N) · |accuracy_b − confidence_b|.
    ///
    /// `None` when no valid prediction was counted.
    pub fn expected_calibration_error(&self) -> Option<f64> {
        let total = self.total();
        if total == 0 {
            return None;
        }
        let ece = self
            .bins()
            .iter()
            .filter_map(|b| {
                let gap = (b.accuracy? - b.mean_confidence?).abs();
                Some(b.count as f64 / total as f64 * gap)
            })
            .sum();
        Some(ece)
    }

    /// Maximum calibration error: the largest per-bin gap; `None` when nothing was counted.
    pub fn maximum_calibration_error(&self) -> Option<f64> {
        self.bins()
            .iter()
            .filter_map(|b| Some((b.accuracy? - b.mean_confidence?).abs()))
            .reduce(f64::max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn zero_bins_is_an_error() {
        assert_eq!(
            ConfidenceHistogram::new(0),
            Err(ConfidenceError::NoBins { bins: 0 })
        );
        assert!(Calibration::new(0).is_err());
    }

    #[test]
    fn scores_land_in_half_open_bins_with_one_in_the_last() {
        let mut h = ConfidenceHistogram::new(4).unwrap();
        for s in [0.0, 0.25, 0.49, 0.5, 0.99, 1.0] {
            assert!(h.record(s));
        }
        assert_eq!(h.counts(), &[1, 2, 1, 2]);
        assert_eq!(h.bin_edges(1), Some((0.25, 0.5)));
        assert_eq!(h.bin_edges(4), None);
    }

    #[test]
    fn nan_and_out_of_range_scores_are_counted_as_invalid() {
        let mut h = ConfidenceHistogram::new(10).unwrap();
        for s in [f64::NAN, -0.1, 1.5, f64::INFINITY] {
            assert!(!h.record(s));
        }
        assert_eq!((h.invalid(), h.total(), h.fractions()), (4, 0, None));
    }

    #[test]
    fn empty_calibration_has_no_ece() {
        let c = Calibration::new(10).unwrap();
        assert_eq!(c.expected_calibration_error(), None);
        assert_eq!(c.maximum_calibration_error(), None);
        assert!(c.bins().iter().all(|b| b.accuracy.is_none()));
    }

    #[test]
    fn ece_weights_each_bin_gap_by_its_share() {
        let mut c = Calibration::new(2).unwrap();
        // Low bin: confidence 0.2, 1 of 2 right -> gap 0.3, weight 2/4.
        c.record(0.2, true);
        c.record(0.2, false);
        // High bin: confidence 0.9, both right -> gap 0.1, weight 2/4.
        c.record(0.9, true);
        c.record(0.9, true);
        let ece = c.expected_calibration_error().unwrap();
        assert!((ece - 0.2).abs() < 1e-12, "ece = {ece}");
        assert!((c.maximum_calibration_error().unwrap() - 0.3).abs() < 1e-12);
    }

    proptest! {
        #[test]
        fn every_score_is_either_binned_or_invalid(scores in prop::collection::vec(prop_oneof![any::<f64>(), 0.0..=1.0f64], 0..200), bins in 1usize..30) {
            let mut h = ConfidenceHistogram::new(bins).unwrap();
            for &s in &scores { h.record(s); }
            prop_assert_eq!(h.total() + h.invalid(), scores.len() as u64);
        }

        #[test]
        fn ece_lies_in_unit_interval(preds in prop::collection::vec((0.0..=1.0f64, any::<bool>()), 1..200), bins in 1usize..30) {
            let mut c = Calibration::new(bins).unwrap();
            for &(p, ok) in &preds { c.record(p, ok); }
            let ece = c.expected_calibration_error().unwrap();
            prop_assert!((0.0..=1.0 + 1e-12).contains(&ece));
            prop_assert!(ece <= c.maximum_calibration_error().unwrap() + 1e-12);
        }

        #[test]
        fn perfectly_calibrated_extremes_have_zero_ece(oks in prop::collection::vec(any::<bool>(), 1..100)) {
            let mut c = Calibration::new(10).unwrap();
            for &ok in &oks { c.record(if ok { 1.0 } else { 0.0 }, ok); }
            prop_assert_eq!(c.expected_calibration_error(), Some(0.0));
        }
    }
}
