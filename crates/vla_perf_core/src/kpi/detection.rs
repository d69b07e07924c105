//! Object detection accuracy: IoU matching, precision/recall, AP and COCO-style mAP.
//!
//! The evaluation reproduces `pycocotools.cocoeval.COCOeval` for `iouType='bbox'` with the
//! area range `all` and `maxDets=100` (the numbers behind COCO's `AP`, `AP50` and `AP75`):
//!
//! - Boxes are COCO `[x, y, width, height]`. IoU is computed with the same floating-point
//!   expression as pycocotools' `bbIou`; against a crowd region (`iscrowd`) the
//!   denominator is the detection's own area, so detections inside a crowd are absorbed.
//! - Per image and class, detections are sorted by descending score with a stable sort
//!   (numpy `mergesort`), only the first 100 are kept, ground truths that are crowd
//!   regions (or whose area lies outside [0, 1e10]) are ignored and sorted last. Each
//!   detection greedily takes the best-IoU ground truth not yet taken (crowd regions can
//!   be taken many times; on equal IoU the later ground truth wins, as in pycocotools). A
//!   detection matched to an ignored ground truth is ignored.
//! - Per class, detections of all images (in ascending image id order) are stably sorted
//!   by score, precision is made monotone from the right and sampled at the 101 recall
//!   points 0, 0.01, …, 1 (first index whose recall reaches the point; 0 past the curve).
//!   AP is the mean of those samples; mAP@[.5:.95] averages over the ten IoU thresholds
//!   0.5, 0.55, …, 0.95.
//! - A class without any non-ignored ground truth has no AP (pycocotools stores -1); it is
//!   `None` here and left out of the mean exactly as pycocotools leaves out entries ≤ -1.
//!
//! Deviations, all on input pycocotools rejects or mishandles: a detection on an image that
//! has no ground truth at all is simply a false positive (pycocotools only accepts images
//! listed in the ground-truth file, which may list images without annotations); classes
//! that occur only among detections are reported with AP `None` rather than dropped;
//! annotation ids play no role (pycocotools treats a ground truth with id 0 as unmatched).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

/// Detections kept per image and class, COCO's `maxDets` for the headline AP.
pub const MAX_DETECTIONS_PER_IMAGE: usize = 100;

/// Ground truths whose area is above this (pycocotools' area range `all`, 1e5²) are ignored.
const MAX_AREA: f64 = 1e10;

/// Why a box, annotation or threshold was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DetectionError {
    /// A box coordinate or size is NaN or infinite.
    #[error("box field {field} = {value} is not a finite number")]
    NonFiniteBox {
        /// `x`, `y`, `width` or `height`.
        field: &'static str,
        /// The offending value.
        value: f64,
    },
    /// A box has negative width or height.
    #[error("box {field} = {value} is negative")]
    NegativeSize {
        /// `width` or `height`.
        field: &'static str,
        /// The offending value.
        value: f64,
    },
    /// A ground-truth area is negative, NaN or infinite.
    #[error("ground-truth area {value} is not a finite non-negative number")]
    InvalidArea {
        /// The offending value.
        value: f64,
    },
    /// A detection score is NaN or infinite.
    #[error("detection score {value} is not a finite number")]
    InvalidScore {
        /// The offending value.
        value: f64,
    },
    /// An IoU threshold outside [0, 1] or NaN.
    #[error("IoU threshold {value} is not in [0, 1]")]
    InvalidIouThreshold {
        /// The offending value.
        value: f64,
    },
    /// A score threshold that is NaN.
    #[error("score threshold is NaN")]
    NanScoreThreshold,
}

/// Result alias of this module.
pub type Result<T, E = DetectionError> = std::result::Result<T, E>;

/// Axis-aligned box in COCO layout: top-left corner, width and height (pixels).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BBox {
    /// Left edge.
    pub x: f64,
    /// Top edge.
    pub y: f64,
    /// Width, ≥ 0.
    pub width: f64,
    /// Height, ≥ 0.
    pub height: f64,
}

impl BBox {
    /// A validated box: finite coordinates and non-negative size.
    pub fn new(x: f64, y: f64, width: f64, height: f64) -> Result<Self> {
        let b = BBox {
            x,
            y,
            width,
            height,
        };
        b.validate()?;
        Ok(b)
    }

    /// Checks the box is finite and has non-negative size (the fields are public).
    pub fn validate(&self) -> Result<()> {
        for (field, value) in [
            ("x", self.x),
            ("y", self.y),
            ("width", self.width),
            ("height", self.height),
        ] {
            if !value.is_finite() {
                return Err(DetectionError::NonFiniteBox { field, value });
            }
        }
        for (field, value) in [("width", self.width), ("height", self.height)] {
            if value < 0.0 {
                return Err(DetectionError::NegativeSize { field, value });
            }
        }
        Ok(())
    }

    /// Width × height.
    pub fn area(&self) -> f64 {
        self.width * self.height
    }

    /// Intersection over union with another box; 0 when they do not overlap.
    pub fn iou(&self, other: &BBox) -> f64 {
        coco_iou(self, other, false)
    }

    /// Intersection over this box's own area, COCO's overlap of a detection with a crowd.
    pub fn crowd_overlap(&self, crowd: &BBox) -> f64 {
        coco_iou(self, crowd, true)
    }
}

/// pycocotools `bbIou` for one detection/ground-truth pair, same operation order.
fn coco_iou(dt: &BBox, gt: &BBox, crowd: bool) -> f64 {
    let w = (dt.width + dt.x).min(gt.width + gt.x) - dt.x.max(gt.x);
    if w <= 0.0 {
        return 0.0;
    }
    let h = (dt.height + dt.y).min(gt.height + gt.y) - dt.y.max(gt.y);
    if h <= 0.0 {
        return 0.0;
    }
    let i = w * h;
    let da = dt.width * dt.height;
    let u = if crowd {
        da
    } else {
        da + gt.width * gt.height - i
    };
    i / u
}

/// One annotated object (or crowd region) in an image.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GroundTruth {
    /// Image the object is in.
    pub image_id: u64,
    /// Object class.
    pub category_id: u64,
    /// Bounding box.
    pub bbox: BBox,
    /// A region of many objects; detections in it are neither rewarded nor penalised.
    pub iscrowd: bool,
    /// Annotated area (COCO's segmentation area); the box area when `None`.
    pub area: Option<f64>,
}

/// One detector output.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Detection {
    /// Image the detection is in.
    pub image_id: u64,
    /// Predicted class.
    pub category_id: u64,
    /// Predicted box.
    pub bbox: BBox,
    /// Confidence; higher is more confident.
    pub score: f64,
}

/// True/false positives and negatives of one class at one IoU and score threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ClassCounts {
    /// The class.
    pub category_id: u64,
    /// Detections matched to a non-ignored ground truth.
    pub true_positives: u64,
    /// Detections matched to nothing.
    pub false_positives: u64,
    /// Non-ignored ground truths no detection matched.
    pub false_negatives: u64,
    /// Detections absorbed by crowd regions (counted neither way).
    pub ignored_detections: u64,
    /// TP / (TP + FP); `None` without counted detections.
    pub precision: Option<f64>,
    /// TP / (TP + FN); `None` without non-ignored ground truth.
    pub recall: Option<f64>,
}

/// AP of one class at each COCO IoU threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassAp {
    /// The class.
    pub category_id: u64,
    /// Non-ignored ground truths of the class.
    pub ground_truths: u64,
    /// Detections of the class (after the per-image limit).
    pub detections: u64,
    /// AP at each of [`iou_thresholds`]; `None` when the class has no ground truth.
    pub ap_per_iou: Vec<Option<f64>>,
    /// Recall reached with all detections at each IoU threshold.
    pub recall_per_iou: Vec<Option<f64>>,
}

impl ClassAp {
    /// AP at IoU 0.5.
    pub fn ap50(&self) -> Option<f64> {
        self.ap_per_iou.first().copied().flatten()
    }

    /// AP at IoU 0.75.
    pub fn ap75(&self) -> Option<f64> {
        self.ap_per_iou.get(5).copied().flatten()
    }

    /// AP averaged over IoU 0.5:0.05:0.95 (COCO's headline AP).
    pub fn ap(&self) -> Option<f64> {
        mean(self.ap_per_iou.iter().copied())
    }
}

/// COCO-style evaluation of all classes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CocoSummary {
    /// Per-class results in ascending category id.
    pub classes: Vec<ClassAp>,
}

impl CocoSummary {
    /// mAP at IoU 0.5 over classes that have ground truth.
    pub fn map50(&self) -> Option<f64> {
        mean(self.classes.iter().map(ClassAp::ap50))
    }

    /// mAP at IoU 0.75 over classes that have ground truth.
    pub fn map75(&self) -> Option<f64> {
        mean(self.classes.iter().map(ClassAp::ap75))
    }

    /// mAP@[.5:.95] over classes that have ground truth.
    pub fn map(&self) -> Option<f64> {
        mean(self.classes.iter().map(ClassAp::ap))
    }

    /// The result of one class.
    pub fn class(&self, category_id: u64) -> Option<&ClassAp> {
        self.classes.iter().find(|c| c.category_id == category_id)
    }
}

fn mean(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let (sum, n) = values
        .flatten()
        .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / n as f64)
}

/// `np.linspace(start, stop, num)` with numpy's exact arithmetic, so thresholds compare
/// bit-for-bit like pycocotools'.
fn linspace<const N: usize>(start: f64, stop: f64) -> [f64; N] {
    let step = (stop - start) / (N - 1) as f64;
    let mut out = [0.0; N];
    for (k, v) in out.iter_mut().enumerate() {
        *v = k as f64 * step + start;
    }
    out[N - 1] = stop;
    out
}

/// COCO's IoU thresholds 0.5, 0.55, …, 0.95.
pub fn iou_thresholds() -> [f64; 10] {
    linspace::<10>(0.5, 0.95)
}

/// COCO's recall sampling points 0, 0.01, …, 1.
pub fn recall_thresholds() -> [f64; 101] {
    linspace::<101>(0.0, 1.0)
}

/// Collects ground truth and detections, then evaluates them.
#[derive(Debug, Clone, Default)]
pub struct DetectionEvaluator {
    /// Keyed by (category, image) so iteration visits images in ascending id per class,
    /// the order pycocotools concatenates them in.
    ground_truth: BTreeMap<(u64, u64), Vec<GroundTruth>>,
    detections: BTreeMap<(u64, u64), Vec<Detection>>,
    categories: BTreeSet<u64>,
}

/// Matching result of one image and class at several IoU thresholds.
struct ImageMatch {
    /// Scores of the kept detections, descending.
    scores: Vec<f64>,
    /// `[threshold][detection]`: matched to some ground truth.
    matched: Vec<Vec<bool>>,
    /// `[threshold][detection]`: matched to an ignored ground truth.
    ignored: Vec<Vec<bool>>,
    /// Non-ignored ground truths.
    ground_truths: u64,
}

impl DetectionEvaluator {
    /// An empty evaluator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Declares a class so it is reported even without annotations or detections.
    pub fn add_category(&mut self, category_id: u64) {
        self.categories.insert(category_id);
    }

    /// Adds one ground-truth object after validating its box and area.
    pub fn add_ground_truth(&mut self, gt: GroundTruth) -> Result<()> {
        gt.bbox.validate()?;
        if let Some(area) = gt.area {
            if !(area.is_finite() && area >= 0.0) {
                return Err(DetectionError::InvalidArea { value: area });
            }
        }
        self.categories.insert(gt.category_id);
        self.ground_truth
            .entry((gt.category_id, gt.image_id))
            .or_default()
            .push(gt);
        Ok(())
    }

    /// Adds one detection after validating its box and score.
    pub fn add_detection(&mut self, dt: Detection) -> Result<()> {
        dt.bbox.validate()?;
        if !dt.score.is_finite() {
            return Err(DetectionError::InvalidScore { value: dt.score });
        }
        self.categories.insert(dt.category_id);
        self.detections
            .entry((dt.category_id, dt.image_id))
            .or_default()
            .push(dt);
        Ok(())
    }

    /// Images of one class that have ground truth or detections, ascending.
    fn images_of(&self, category_id: u64) -> BTreeSet<u64> {
        let range = (category_id, 0)..=(category_id, u64::MAX);
        self.ground_truth
            .range(range.clone())
            .map(|(&(_, img), _)| img)
            .chain(self.detections.range(range).map(|(&(_, img), _)| img))
            .collect()
    }

    /// pycocotools `evaluateImg` for one image and class.
    fn match_image(&self, key: (u64, u64), thresholds: &[f64], min_score: f64) -> ImageMatch {
        let no_gt = Vec::new();
        let no_dt = Vec::new();
        let gts = self.ground_truth.get(&key).unwrap_or(&no_gt);
        let dts = self.detections.get(&key).unwrap_or(&no_dt);

        let gt_ignored_of = |g: &GroundTruth| {
            let area = g.area.unwrap_or_else(|| g.bbox.area());
            g.iscrowd || !(0.0..=MAX_AREA).contains(&area)
        };
        // Stable sort: non-ignored first, each group in insertion order.
        let mut gt_sorted: Vec<(&GroundTruth, bool)> =
            gts.iter().map(|g| (g, gt_ignored_of(g))).collect();
        gt_sorted.sort_by_key(|&(_, ig)| ig);

        let mut dt_sorted: Vec<&Detection> = dts.iter().collect();
        dt_sorted.sort_by(|a, b| {
            b.score
                .partial_cmp(&a.score)
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        dt_sorted.truncate(MAX_DETECTIONS_PER_IMAGE);
        // Filtering after truncation keeps a prefix of the score order, so the greedy
        // matches of the kept detections are exactly those of the full run.
        dt_sorted.retain(|d| d.score >= min_score);

        let ious: Vec<Vec<f64>> = dt_sorted
            .iter()
            .map(|d| {
                gt_sorted
                    .iter()
                    .map(|(g, _)| coco_iou(&d.bbox, &g.bbox, g.iscrowd))
                    .collect()
            })
            .collect();

        let mut matched = Vec::with_capacity(thresholds.len());
        let mut ignored = Vec::with_capacity(thresholds.len());
        for &t in thresholds {
            let mut gt_taken = vec![false; gt_sorted.len()];
            let mut dt_matched = vec![false; dt_sorted.len()];
            let mut dt_ignored = vec![false; dt_sorted.len()];
            for (d, det) in dt_sorted.iter().enumerate() {
                let mut best_iou = t.min(1.0 - 1e-10);
                let mut best: Option<usize> = None;
                for (g, &(gt, gt_ig)) in gt_sorted.iter().enumerate() {
                    if gt_taken[g] && !gt.iscrowd {
                        continue;
                    }
                    // Once a real object matched, ignored (crowd) ones cannot replace it.
                    if best.is_some_and(|m| !gt_sorted[m].1) && gt_ig {
                        break;
                    }
                    if ious[d][g] < best_iou {
                        continue;
                    }
                    best_iou = ious[d][g];
                    best = Some(g);
                }
                if let Some(m) = best {
                    dt_ignored[d] = gt_sorted[m].1;
                    dt_matched[d] = true;
                    gt_taken[m] = true;
                } else {
                    let area = det.bbox.area();
                    dt_ignored[d] = !(0.0..=MAX_AREA).contains(&area);
                }
            }
            matched.push(dt_matched);
            ignored.push(dt_ignored);
        }
        ImageMatch {
            scores: dt_sorted.iter().map(|d| d.score).collect(),
            matched,
            ignored,
            ground_truths: gt_sorted.iter().filter(|(_, ig)| !ig).count() as u64,
        }
    }

    /// Runs [`Self::match_image`] on every image of a class.
    fn match_class(&self, category_id: u64, thresholds: &[f64], min_score: f64) -> Vec<ImageMatch> {
        self.images_of(category_id)
            .into_iter()
            .map(|img| self.match_image((category_id, img), thresholds, min_score))
            .collect()
    }

    /// AP per class at the given IoU thresholds (pycocotools `accumulate`).
    pub fn average_precision(&self, iou_thresholds: &[f64]) -> Result<Vec<ClassAp>> {
        for &t in iou_thresholds {
            check_iou_threshold(t)?;
        }
        let recall_points = recall_thresholds();
        let mut out = Vec::with_capacity(self.categories.len());
        for &category_id in &self.categories {
            let images = self.match_class(category_id, iou_thresholds, f64::NEG_INFINITY);
            let npig: u64 = images.iter().map(|m| m.ground_truths).sum();
            // Concatenate images in ascending id, then stable-sort by descending score.
            let mut order: Vec<(usize, usize)> = images
                .iter()
                .enumerate()
                .flat_map(|(i, m)| (0..m.scores.len()).map(move |d| (i, d)))
                .collect();
            let score = |&(i, d): &(usize, usize)| images[i].scores[d];
            order.sort_by(|a, b| {
                score(b)
                    .partial_cmp(&score(a))
                    .unwrap_or(std::cmp::Ordering::Equal)
            });

            let mut ap_per_iou = Vec::with_capacity(iou_thresholds.len());
            let mut recall_per_iou = Vec::with_capacity(iou_thresholds.len());
            for t in 0..iou_thresholds.len() {
                if npig == 0 {
                    ap_per_iou.push(None);
                    recall_per_iou.push(None);
                    continue;
                }
                let (mut tp, mut fp) = (0.0f64, 0.0f64);
                let mut recall = Vec::with_capacity(order.len());
                let mut precision = Vec::with_capacity(order.len());
                for &(i, d) in &order {
                    if images[i].ignored[t][d] {
                        // Ignored detections leave the cumulative sums unchanged but
                        // still occupy a point on the curve, as in pycocotools.
                    } else if images[i].matched[t][d] {
                        tp += 1.0;
                    } else {
                        fp += 1.0;
                    }
                    recall.push(tp / npig as f64);
                    precision.push(tp / (fp + tp + f64::EPSILON));
                }
                for k in (1..precision.len()).rev() {
                    if precision[k] > precision[k - 1] {
                        precision[k - 1] = precision[k];
                    }
                }
                let mut sum = 0.0;
                for &r in &recall_points {
                    // First index whose recall reaches r (numpy searchsorted, side='left').
                    let idx = recall.partition_point(|&x| x < r);
                    match precision.get(idx) {
                        Some(&p) => sum += p,
                        None => break,
                    }
                }
                ap_per_iou.push(Some(sum / recall_points.len() as f64));
                recall_per_iou.push(Some(recall.last().copied().unwrap_or(0.0)));
            }
            out.push(ClassAp {
                category_id,
                ground_truths: npig,
                detections: order.len() as u64,
                ap_per_iou,
                recall_per_iou,
            });
        }
        Ok(out)
    }

    /// COCO evaluation at IoU 0.5:0.05:0.95 (AP, AP50, AP75 and their means).
    pub fn coco_summary(&self) -> CocoSummary {
        // The fixed thresholds are valid, so the error branch cannot be taken.
        let classes = self
            .average_precision(&iou_thresholds())
            .unwrap_or_default();
        CocoSummary { classes }
    }

    /// TP/FP/FN, precision and recall per class at one IoU threshold, counting only
    /// detections with `score >= score_threshold`, matched the COCO way.
    pub fn counts(&self, iou_threshold: f64, score_threshold: f64) -> Result<Vec<ClassCounts>> {
        check_iou_threshold(iou_threshold)?;
        if score_threshold.is_nan() {
            return Err(DetectionError::NanScoreThreshold);
        }
        let mut out = Vec::with_capacity(self.categories.len());
        for &category_id in &self.categories {
            let images = self.match_class(category_id, &[iou_threshold], score_threshold);
            let (mut tp, mut fp, mut ig, mut npig) = (0u64, 0u64, 0u64, 0u64);
            for m in &images {
                npig += m.ground_truths;
                for (&matched, &ignored) in m.matched[0].iter().zip(&m.ignored[0]) {
                    match (matched, ignored) {
                        (_, true) => ig += 1,
                        (true, false) => tp += 1,
                        (false, false) => fp += 1,
                    }
                }
            }
            let ratio = |n: u64, d: u64| (d > 0).then(|| n as f64 / d as f64);
            out.push(ClassCounts {
                category_id,
                true_positives: tp,
                false_positives: fp,
                false_negatives: npig - tp,
                ignored_detections: ig,
                precision: ratio(tp, tp + fp),
                recall: ratio(tp, npig),
            });
        }
        Ok(out)
    }
}

fn check_iou_threshold(t: f64) -> Result<()> {
    if (0.0..=1.0).contains(&t) {
        Ok(())
    } else {
        Err(DetectionError::InvalidIouThreshold { value: t })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// pycocotools divides by `tp + fp + eps`, so a perfect curve sits a hair below 1.
    fn near(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-12)
    }

    fn bb(x: f64, y: f64, w: f64, h: f64) -> BBox {
        BBox::new(x, y, w, h).unwrap()
    }

    fn gt(image_id: u64, category_id: u64, bbox: BBox) -> GroundTruth {
        GroundTruth {
            image_id,
            category_id,
            bbox,
            iscrowd: false,
            area: None,
        }
    }

    fn dt(image_id: u64, category_id: u64, bbox: BBox, score: f64) -> Detection {
        Detection {
            image_id,
            category_id,
            bbox,
            score,
        }
    }

    #[test]
    fn thresholds_match_numpy_linspace() {
        let t = iou_thresholds();
        assert_eq!(t[0], 0.5);
        assert_eq!(t[9], 0.95);
        // numpy: 0.5 + 1 * (0.45 / 9)
        assert_eq!(t[1], 0.55);
        assert_eq!(recall_thresholds()[100], 1.0);
        assert_eq!(recall_thresholds()[1], 0.01);
    }

    #[test]
    fn iou_of_half_overlapping_boxes_is_one_third() {
        let a = bb(0.0, 0.0, 10.0, 10.0);
        let b = bb(5.0, 0.0, 10.0, 10.0);
        assert!((a.iou(&b) - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(a.iou(&bb(20.0, 0.0, 1.0, 1.0)), 0.0);
        // Inside a crowd region a small box overlaps fully.
        assert_eq!(bb(1.0, 1.0, 2.0, 2.0).crowd_overlap(&a), 1.0);
    }

    #[test]
    fn invalid_input_is_rejected_with_the_field_named() {
        assert!(matches!(
            BBox::new(0.0, f64::NAN, 1.0, 1.0),
            Err(DetectionError::NonFiniteBox { field: "y", .. })
        ));
        assert!(matches!(
            BBox::new(0.0, 0.0, -1.0, 1.0),
            Err(DetectionError::NegativeSize { field: "width", .. })
        ));
        let mut ev = DetectionEvaluator::new();
        let err = ev
            .add_detection(dt(1, 1, bb(0.0, 0.0, 1.0, 1.0), f64::NAN))
            .unwrap_err();
        assert!(matches!(err, DetectionError::InvalidScore { .. }));
        assert!(ev.counts(1.5, 0.0).is_err());
        assert!(ev.counts(0.5, f64::NAN).is_err());
    }

    #[test]
    fn perfect_detections_give_ap_one() {
        let mut ev = DetectionEvaluator::new();
        for i in 0..5 {
            let b = bb(i as f64 * 20.0, 0.0, 10.0, 10.0);
            ev.add_ground_truth(gt(1, 3, b)).unwrap();
            ev.add_detection(dt(1, 3, b, 0.9)).unwrap();
        }
        let s = ev.coco_summary();
        assert!(near(s.map50(), 1.0));
        assert!(near(s.map(), 1.0));
    }

    #[test]
    fn class_without_ground_truth_has_no_ap_and_is_left_out_of_the_mean() {
        let mut ev = DetectionEvaluator::new();
        ev.add_ground_truth(gt(1, 1, bb(0.0, 0.0, 10.0, 10.0)))
            .unwrap();
        ev.add_detection(dt(1, 1, bb(0.0, 0.0, 10.0, 10.0), 0.8))
            .unwrap();
        ev.add_detection(dt(1, 2, bb(0.0, 0.0, 10.0, 10.0), 0.8))
            .unwrap();
        let s = ev.coco_summary();
        assert_eq!(s.class(2).unwrap().ap50(), None);
        assert!(near(s.map50(), 1.0));
    }

    #[test]
    fn class_with_ground_truth_but_no_detections_has_ap_zero() {
        let mut ev = DetectionEvaluator::new();
        ev.add_ground_truth(gt(1, 1, bb(0.0, 0.0, 10.0, 10.0)))
            .unwrap();
        assert_eq!(ev.coco_summary().class(1).unwrap().ap50(), Some(0.0));
    }

    #[test]
    fn empty_evaluator_has_no_map() {
        assert_eq!(DetectionEvaluator::new().coco_summary().map(), None);
    }

    #[test]
    fn detections_inside_a_crowd_are_ignored_not_false_positives() {
        let mut ev = DetectionEvaluator::new();
        ev.add_ground_truth(GroundTruth {
            iscrowd: true,
            ..gt(1, 1, bb(0.0, 0.0, 100.0, 100.0))
        })
        .unwrap();
        ev.add_ground_truth(gt(1, 1, bb(200.0, 0.0, 10.0, 10.0)))
            .unwrap();
        ev.add_detection(dt(1, 1, bb(10.0, 10.0, 5.0, 5.0), 0.9))
            .unwrap();
        ev.add_detection(dt(1, 1, bb(20.0, 10.0, 5.0, 5.0), 0.8))
            .unwrap();
        ev.add_detection(dt(1, 1, bb(200.0, 0.0, 10.0, 10.0), 0.7))
            .unwrap();
        let c = ev.counts(0.5, 0.0).unwrap()[0];
        assert_eq!(
            (
                c.true_positives,
                c.false_positives,
                c.false_negatives,
                c.ignored_detections
            ),
            (1, 0, 0, 2)
        );
        assert_eq!(c.precision, Some(1.0));
        assert!(near(ev.coco_summary().map50(), 1.0));
    }

    #[test]
    fn score_threshold_drops_low_confidence_detections() {
        let mut ev = DetectionEvaluator::new();
        ev.add_ground_truth(gt(1, 1, bb(0.0, 0.0, 10.0, 10.0)))
            .unwrap();
        ev.add_ground_truth(gt(1, 1, bb(50.0, 0.0, 10.0, 10.0)))
            .unwrap();
        ev.add_detection(dt(1, 1, bb(0.0, 0.0, 10.0, 10.0), 0.9))
            .unwrap();
        ev.add_detection(dt(1, 1, bb(50.0, 0.0, 10.0, 10.0), 0.3))
            .unwrap();
        ev.add_detection(dt(2, 1, bb(0.0, 0.0, 10.0, 10.0), 0.2))
            .unwrap();
        let all = ev.counts(0.5, 0.0).unwrap()[0];
        assert_eq!((all.true_positives, all.false_positives), (2, 1));
        let high = ev.counts(0.5, 0.5).unwrap()[0];
        assert_eq!(
            (
                high.true_positives,
                high.false_positives,
                high.false_negatives
            ),
            (1, 0, 1)
        );
        assert_eq!(high.recall, Some(0.5));
    }

    #[test]
    fn only_the_hundred_best_detections_per_image_count() {
        let mut ev = DetectionEvaluator::new();
        ev.add_ground_truth(gt(1, 1, bb(0.0, 0.0, 10.0, 10.0)))
            .unwrap();
        for k in 0..150 {
            let score = 1.0 - k as f64 / 1000.0;
            ev.add_detection(dt(1, 1, bb(500.0 + k as f64, 0.0, 1.0, 1.0), score))
                .unwrap();
        }
        // The true match has the lowest score and is cut off.
        ev.add_detection(dt(1, 1, bb(0.0, 0.0, 10.0, 10.0), 0.01))
            .unwrap();
        let c = ev.counts(0.5, 0.0).unwrap()[0];
        assert_eq!((c.true_positives, c.false_positives), (0, 100));
    }

    fn boxes() -> impl Strategy<Value = Vec<(u64, f64, f64, f64, f64, f64)>> {
        prop::collection::vec(
            (
                0u64..3,
                0.0..50.0f64,
                0.0..50.0f64,
                1.0..30.0f64,
                1.0..30.0f64,
                0.0..1.0f64,
            ),
            0..25,
        )
    }

    proptest! {
        #[test]
        fn iou_is_symmetric_and_in_unit_interval(a in (-50.0..50.0f64, -50.0..50.0f64, 0.0..40.0f64, 0.0..40.0f64), b in (-50.0..50.0f64, -50.0..50.0f64, 0.0..40.0f64, 0.0..40.0f64)) {
            let a = bb(a.0, a.1, a.2, a.3);
            let b = bb(b.0, b.1, b.2, b.3);
            let (x, y) = (a.iou(&b), b.iou(&a));
            prop_assert!((x - y).abs() < 1e-12);
            prop_assert!((0.0..=1.0 + 1e-12).contains(&x));
        }

        #[test]
        fn ap_lies_in_unit_interval(gts in boxes(), dts in boxes()) {
            let mut ev = DetectionEvaluator::new();
            for (img, x, y, w, h, crowd) in gts {
                ev.add_ground_truth(GroundTruth { iscrowd: crowd < 0.2, ..gt(img, 1 + img % 2, bb(x, y, w, h)) }).unwrap();
            }
            for (img, x, y, w, h, s) in dts {
                ev.add_detection(dt(img, 1 + (img + 1) % 2, bb(x, y, w, h), s)).unwrap();
            }
            let s = ev.coco_summary();
            for c in &s.classes {
                for ap in c.ap_per_iou.iter().flatten() {
                    prop_assert!((0.0..=1.0).contains(ap));
                }
            }
            if let Some(m) = s.map() { prop_assert!((0.0..=1.0).contains(&m)); }
        }

        #[test]
        fn copying_ground_truth_as_detections_gives_ap_one(gts in boxes()) {
            let mut ev = DetectionEvaluator::new();
            for (i, &(img, x, y, w, h, s)) in gts.iter().enumerate() {
                // Spread boxes apart so no two ground truths overlap.
                let b = bb(x + 1000.0 * i as f64, y, w, h);
                ev.add_ground_truth(gt(img, 1, b)).unwrap();
                ev.add_detection(dt(img, 1, b, s)).unwrap();
            }
            let s = ev.coco_summary();
            if gts.is_empty() {
                prop_assert_eq!(s.map(), None);
            } else {
                prop_assert!(near(s.map(), 1.0), "{:?}", s.map());
            }
        }

        #[test]
        fn counts_add_up(gts in boxes(), dts in boxes(), t in 0.1..0.95f64, st in 0.0..1.0f64) {
            let mut ev = DetectionEvaluator::new();
            for (img, x, y, w, h, _) in &gts { ev.add_ground_truth(gt(*img, 1, bb(*x, *y, *w, *h))).unwrap(); }
            for (img, x, y, w, h, s) in &dts { ev.add_detection(dt(*img, 1, bb(*x, *y, *w, *h), *s)).unwrap(); }
            for c in ev.counts(t, st).unwrap() {
                prop_assert_eq!(c.true_positives + c.false_negatives, gts.len() as u64);
                let kept = dts.iter().filter(|d| d.5 >= st).count() as u64;
                prop_assert_eq!(c.true_positives + c.false_positives + c.ignored_detections, kept);
            }
        }
    }
}
