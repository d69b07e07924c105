//! Visual perception: frames answered per second and COCO detection accuracy (mAP, per-class
//! precision and recall) of the detections against each image set's ground truth.

use std::collections::BTreeMap;

use super::threshold_for;
use crate::bench::record::{ImageRecord, ImageSetTruth, SuiteRecord};
use crate::bench::report::{kpi, ClassFigure, KpiFigure, DETECTION_IOU, DETECTION_SCORE_THRESHOLD};
use crate::bench::scenario::Expectations;
use crate::kpi::{BBox, CocoSummary, Detection, DetectionEvaluator, GroundTruth};
use crate::trend::Direction;

/// The vision figures of `record` and its per-class figures.
pub(super) fn kpis(
    record: &SuiteRecord,
    scenario: &Expectations<'_>,
) -> (Vec<KpiFigure>, Vec<ClassFigure>) {
    let lower = Some(Direction::LowerIsWorse);
    let duration = record.ended - record.started;
    let answered = record
        .images
        .iter()
        .filter(|i| i.received.is_some())
        .count();
    let d = detection(record);
    let limit = threshold_for(record.suite, kpi::MAP, scenario.thresholds);
    let count = |name, n: u64| KpiFigure::new(name, "count", Some(n as f64), None, None);
    let figures = vec![
        KpiFigure::new(
            kpi::FRAMES_PER_SECOND,
            "Hz",
            (duration > 0.0).then(|| answered as f64 / duration),
            lower,
            None,
        ),
        KpiFigure::new(kpi::MAP, "1", d.map, lower, limit),
        KpiFigure::new(kpi::MAP50, "1", d.map50, lower, None),
        count(kpi::UNKNOWN_CLASS_DETECTIONS, d.unknown),
        count(kpi::INVALID_DETECTIONS, d.invalid),
    ];
    (figures, d.classes)
}

struct DetectionScore {
    map: Option<f64>,
    map50: Option<f64>,
    classes: Vec<ClassFigure>,
    unknown: u64,
    invalid: u64,
}

/// Categories merged by name (trimmed, lower case) across the image sets: the names, whose
/// index is the evaluation's category id, and per set its category id -> that index.
fn merge_categories(sets: &[ImageSetTruth]) -> (Vec<String>, Vec<BTreeMap<u64, u64>>) {
    let mut names: Vec<String> = Vec::new();
    let mut per_set = Vec::new();
    for set in sets {
        let mut ids = BTreeMap::new();
        for (id, name) in &set.categories {
            let key = name.trim().to_lowercase();
            let global = match names.iter().position(|n| *n == key) {
                Some(i) => i,
                None => {
                    names.push(key);
                    names.len() - 1
                }
            } as u64;
            ids.insert(*id, global);
        }
        per_set.push(ids);
    }
    (names, per_set)
}

/// One sent image, as evaluation image `eval_id`, with its set and the set's category map.
struct EvalImage<'a> {
    eval_id: u64,
    image: &'a ImageRecord,
    set: Option<&'a ImageSetTruth>,
    ids: &'a BTreeMap<u64, u64>,
}

impl EvalImage<'_> {
    /// Adds the image's ground truth; returns the objects that could not be added.
    fn add_ground_truth(&self, eval: &mut DetectionEvaluator) -> u64 {
        let mut invalid = 0;
        for truth in self
            .set
            .into_iter()
            .flat_map(|s| &s.annotations)
            .filter(|a| a.image_id == self.image.image_id)
        {
            let Some(&category_id) = self.ids.get(&truth.category_id) else {
                invalid += 1;
                continue;
            };
            let [x, y, w, h] = truth.bbox;
            let added = BBox::new(x, y, w, h).and_then(|bbox| {
                eval.add_ground_truth(GroundTruth {
                    image_id: self.eval_id,
                    category_id,
                    bbox,
                    iscrowd: truth.iscrowd,
                    area: Some(truth.area),
                })
            });
            if added.is_err() {
                invalid += 1;
            }
        }
        invalid
    }

    /// Adds the image's detections; returns those of no known class and the invalid ones.
    fn add_detections(&self, eval: &mut DetectionEvaluator) -> (u64, u64) {
        let (mut unknown, mut invalid) = (0u64, 0u64);
        for d in &self.image.detections {
            let key = d.class.trim().to_lowercase();
            let by_name = self.set.and_then(|s| {
                s.categories
                    .iter()
                    .find(|(_, n)| n.trim().to_lowercase() == key)
                    .map(|(id, _)| *id)
            });
            let by_id = key
                .parse::<u64>()
                .ok()
                .filter(|id| self.ids.contains_key(id));
            let Some(category_id) = by_name.or(by_id).and_then(|id| self.ids.get(&id)) else {
                unknown += 1;
                continue;
            };
            let [x, y, w, h] = d.bbox;
            let added = BBox::new(x, y, w, h).and_then(|bbox| {
                eval.add_detection(Detection {
                    image_id: self.eval_id,
                    category_id: *category_id,
                    bbox,
                    score: d.score,
                })
            });
            if added.is_err() {
                invalid += 1;
            }
        }
        (unknown, invalid)
    }
}

fn detection(record: &SuiteRecord) -> DetectionScore {
    let (names, per_set) = merge_categories(&record.image_sets);
    let mut eval = DetectionEvaluator::new();
    for id in 0..names.len() as u64 {
        eval.add_category(id);
    }
    let (mut unknown, mut invalid) = (0u64, 0u64);
    let no_categories = BTreeMap::new();
    for (n, image) in record.images.iter().enumerate() {
        // Each send is its own evaluation image, so repeats are scored as repeats.
        let image = EvalImage {
            eval_id: n as u64,
            image,
            set: record.image_sets.get(image.set),
            ids: per_set.get(image.set).unwrap_or(&no_categories),
        };
        invalid += image.add_ground_truth(&mut eval);
        let (u, i) = image.add_detections(&mut eval);
        unknown += u;
        invalid += i;
    }
    let summary = eval.coco_summary();
    DetectionScore {
        map: summary.map(),
        map50: summary.map50(),
        classes: class_figures(&eval, &summary, &names),
        unknown,
        invalid,
    }
}

/// AP and counts at [`DETECTION_IOU`] and [`DETECTION_SCORE_THRESHOLD`] per category.
fn class_figures(
    eval: &DetectionEvaluator,
    summary: &CocoSummary,
    names: &[String],
) -> Vec<ClassFigure> {
    let counts = eval
        .counts(DETECTION_IOU, DETECTION_SCORE_THRESHOLD)
        .unwrap_or_default();
    names
        .iter()
        .enumerate()
        .map(|(id, name)| {
            let id = id as u64;
            let ap = summary.class(id);
            let c = counts.iter().find(|c| c.category_id == id);
            ClassFigure {
                name: name.clone(),
                ground_truths: ap.map_or(0, |a| a.ground_truths),
                true_positives: c.map_or(0, |c| c.true_positives),
                false_positives: c.map_or(0, |c| c.false_positives),
                false_negatives: c.map_or(0, |c| c.false_negatives),
                precision: c.and_then(|c| c.precision),
                recall: c.and_then(|c| c.recall),
                ap50: ap.and_then(|a| a.ap50()),
                ap: ap.and_then(|a| a.ap()),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::score_suite;
    use super::*;
    use crate::bench::record::{DetectionRecord, TruthImage, TruthObject};
    use crate::bench::scenario::{PassThresholds, Suite};
    use crate::bench::testing::{close, none, scenario, suite};

    fn vision(detections: Vec<DetectionRecord>) -> SuiteRecord {
        let obj = |category_id, bbox: [f64; 4]| TruthObject {
            image_id: 7,
            category_id,
            bbox,
            area: bbox[2] * bbox[3],
            iscrowd: false,
        };
        let mut s = suite(Suite::VisualPerception, &["vision"], 2.0, Vec::new());
        s.image_sets.push(ImageSetTruth {
            name: "kitchen".into(),
            categories: vec![(44, "cup".into()), (84, "book".into())],
            images: vec![TruthImage {
                id: 7,
                file_name: "a.png".into(),
                width: 640,
                height: 480,
            }],
            annotations: vec![
                obj(44, [10.0, 10.0, 50.0, 50.0]),
                obj(84, [100.0, 100.0, 40.0, 60.0]),
            ],
        });
        s.images.push(ImageRecord {
            set: 0,
            image_id: 7,
            step: 0,
            intended: 0.0,
            sent: 0.0,
            received: Some(0.1),
            detections,
        });
        s
    }

    fn det(class: &str, bbox: [f64; 4], score: f64) -> DetectionRecord {
        DetectionRecord {
            class: class.into(),
            bbox,
            score,
        }
    }

    #[test]
    fn perfect_detections_score_map_one() {
        let record = vision(vec![
            det("Cup", [10.0, 10.0, 50.0, 50.0], 0.9),
            // By numeric id when the name is not a category.
            det("84", [100.0, 100.0, 40.0, 60.0], 0.8),
        ]);
        let r = score_suite(
            &record,
            &scenario(PassThresholds {
                min_map: Some(0.5),
                ..none()
            }),
        );
        let near_one = |v: Option<f64>| v.is_some_and(|v| (v - 1.0).abs() < 1e-6);
        assert!(near_one(r.kpi_value(kpi::MAP)), "{:?}", r.kpis);
        assert!(near_one(r.kpi_value(kpi::MAP50)));
        assert_eq!(r.kpi(kpi::MAP).unwrap().passed, Some(true));
        assert!(close(r.kpi_value(kpi::FRAMES_PER_SECOND), 0.5));
        let cup = &r.classes[0];
        assert_eq!(cup.name, "cup");
        assert_eq!((cup.true_positives, cup.false_positives), (1, 0));
        assert_eq!((cup.precision, cup.recall), (Some(1.0), Some(1.0)));
    }

    #[test]
    fn a_shifted_box_lowers_map_but_not_map50_and_unknown_classes_are_counted() {
        let record = vision(vec![
            // IoU 2000/3000 = 0.667: a match at IoU 0.5..0.65, four of ten thresholds.
            det("cup", [20.0, 10.0, 50.0, 50.0], 0.9),
            det("book", [100.0, 100.0, 40.0, 60.0], 0.8),
            det("dog", [300.0, 300.0, 10.0, 10.0], 0.8),
        ]);
        let r = score_suite(&record, &scenario(none()));
        let map = r.kpi_value(kpi::MAP).unwrap();
        assert!((map - (0.4 + 1.0) / 2.0).abs() < 1e-6, "{map}");
        assert!((r.kpi_value(kpi::MAP50).unwrap() - 1.0).abs() < 1e-6);
        assert!(close(r.classes[0].ap, 0.4));
        assert_eq!(r.kpi_value(kpi::UNKNOWN_CLASS_DETECTIONS), Some(1.0));
    }

    #[test]
    fn a_low_score_detection_counts_for_ap_but_not_for_precision_and_recall() {
        let record = vision(vec![det("cup", [10.0, 10.0, 50.0, 50.0], 0.1)]);
        let r = score_suite(&record, &scenario(none()));
        let cup = &r.classes[0];
        assert_eq!((cup.true_positives, cup.false_negatives), (0, 1));
        assert!(cup.ap.is_some_and(|ap| ap > 0.99));
        assert_eq!(r.classes[1].recall, Some(0.0));
    }
}
