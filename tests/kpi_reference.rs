//! The accuracy KPIs against golden values from the reference Python tools.
//!
//! Goldens come from `.venv/bin/python3 tests/reference/kpi_golden.py` (jiwer for WER, pycocotools
//! COCOeval for AP/mAP); the generated files are committed so this runs without Python.
//! Each comparison collects every mismatch into a list so one failure shows them all.

use std::path::Path;

use serde_json::Value;
use vla_perf::core::kpi::detection::{
    iou_thresholds, BBox, Detection, DetectionEvaluator, GroundTruth,
};
use vla_perf::core::kpi::wer::{
    corpus_word_errors, normalize, word_errors, WerAccumulator, WordErrors,
};

const WER_TOLERANCE: f64 = 1e-6;
const AP_TOLERANCE: f64 = 1e-4;

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/kpi")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}; run .venv/bin/python3 tests/reference/kpi_golden.py",
            path.display()
        )
    });
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", path.display()))
}

fn u64_of(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("field {key} missing or not an integer in {v}"))
}

fn f64_of(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("{v} is not a number"))
}

/// `None` for JSON null; that is how the goldens spell an undefined statistic.
fn opt_f64(v: &Value) -> Option<f64> {
    if v.is_null() {
        None
    } else {
        Some(f64_of(v))
    }
}

fn close(label: &str, ours: Option<f64>, golden: Option<f64>, tol: f64, out: &mut Vec<String>) {
    let ok = match (ours, golden) {
        (Some(a), Some(b)) => (a - b).abs() <= tol,
        (None, None) => true,
        _ => false,
    };
    if !ok {
        out.push(format!(
            "{label}: ours {ours:?}, golden {golden:?} (tolerance {tol})"
        ));
    }
}

fn same_counts(label: &str, ours: &WordErrors, golden: &Value, out: &mut Vec<String>) {
    let ours_tuple = (
        ours.hits,
        ours.substitutions,
        ours.deletions,
        ours.insertions,
        ours.reference_words,
    );
    let golden_tuple = (
        u64_of(golden, "hits"),
        u64_of(golden, "substitutions"),
        u64_of(golden, "deletions"),
        u64_of(golden, "insertions"),
        u64_of(golden, "reference_words"),
    );
    if ours_tuple != golden_tuple {
        out.push(format!(
            "{label}: (hits, S, D, I, N) ours {ours_tuple:?}, golden {golden_tuple:?}"
        ));
    }
    close(
        label,
        ours.wer(),
        opt_f64(&golden["wer"]),
        WER_TOLERANCE,
        out,
    );
}

/// Every difference between the Rust WER and the jiwer golden.
fn wer_mismatches(pairs: &Value, golden: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let pairs = pairs.as_array().expect("wer_pairs.json is a list");
    let goldens = golden["pairs"]
        .as_array()
        .expect("wer_golden.json has pairs");
    if pairs.len() != goldens.len() {
        out.push(format!(
            "{} pairs but {} goldens: regenerate the goldens",
            pairs.len(),
            goldens.len()
        ));
        return out;
    }
    let mut acc = WerAccumulator::new();
    let (mut refs, mut hyps) = (Vec::new(), Vec::new());
    for (i, (pair, g)) in pairs.iter().zip(goldens).enumerate() {
        let r = pair["reference"].as_str().expect("reference is a string");
        let h = pair["hypothesis"].as_str().expect("hypothesis is a string");
        let label = format!("pair {i} ({r:?} vs {h:?})");
        for (text, key) in [(r, "reference_normalized"), (h, "hypothesis_normalized")] {
            if normalize(text) != g[key].as_str().unwrap_or_default() {
                out.push(format!(
                    "{label}: normalised {:?}, jiwer {}",
                    normalize(text),
                    g[key]
                ));
            }
        }
        match word_errors(r, h) {
            Ok(c) => same_counts(&label, &c, g, &mut out),
            Err(e) => out.push(format!("{label}: error {e}")),
        }
        if let Err(e) = acc.add(r, h) {
            out.push(format!("{label}: accumulator error {e}"));
        }
        refs.push(r);
        hyps.push(h);
    }
    same_counts(
        "corpus (accumulator)",
        &acc.totals(),
        &golden["corpus"],
        &mut out,
    );
    match corpus_word_errors(&refs, &hyps) {
        Ok(c) => same_counts("corpus (batch)", &c, &golden["corpus"], &mut out),
        Err(e) => out.push(format!("corpus: error {e}")),
    }
    out
}

fn bbox_of(v: &Value) -> BBox {
    let a: Vec<f64> = v
        .as_array()
        .expect("bbox is a list")
        .iter()
        .map(f64_of)
        .collect();
    assert_eq!(a.len(), 4, "bbox {v} does not have 4 numbers");
    BBox::new(a[0], a[1], a[2], a[3]).unwrap_or_else(|e| panic!("bbox {v}: {e}"))
}

fn evaluator(gt: &Value, dt: &Value) -> DetectionEvaluator {
    let mut ev = DetectionEvaluator::new();
    for c in gt["categories"].as_array().expect("categories") {
        ev.add_category(u64_of(c, "id"));
    }
    for a in gt["annotations"].as_array().expect("annotations") {
        ev.add_ground_truth(GroundTruth {
            image_id: u64_of(a, "image_id"),
            category_id: u64_of(a, "category_id"),
            bbox: bbox_of(&a["bbox"]),
            iscrowd: a["iscrowd"].as_u64() == Some(1),
            area: a.get("area").map(f64_of),
        })
        .unwrap_or_else(|e| panic!("annotation {a}: {e}"));
    }
    for d in dt.as_array().expect("detections are a list") {
        ev.add_detection(Detection {
            image_id: u64_of(d, "image_id"),
            category_id: u64_of(d, "category_id"),
            bbox: bbox_of(&d["bbox"]),
            score: f64_of(&d["score"]),
        })
        .unwrap_or_else(|e| panic!("detection {d}: {e}"));
    }
    ev
}

/// Every difference between the Rust COCO evaluation and the pycocotools golden.
fn coco_mismatches(ev: &DetectionEvaluator, golden: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let thresholds: Vec<f64> = golden["iou_thresholds"]
        .as_array()
        .expect("iou_thresholds")
        .iter()
        .map(f64_of)
        .collect();
    if thresholds != iou_thresholds() {
        out.push(format!(
            "IoU thresholds differ bitwise: ours {:?}, golden {thresholds:?}",
            iou_thresholds()
        ));
    }
    let summary = ev.coco_summary();
    let golden_classes = golden["classes"].as_array().expect("classes");
    let ours_ids: Vec<u64> = summary.classes.iter().map(|c| c.category_id).collect();
    let golden_ids: Vec<u64> = golden_classes
        .iter()
        .map(|c| u64_of(c, "category_id"))
        .collect();
    if ours_ids != golden_ids {
        out.push(format!("classes: ours {ours_ids:?}, golden {golden_ids:?}"));
    }
    for g in golden_classes {
        let id = u64_of(g, "category_id");
        let Some(c) = summary.class(id) else {
            continue;
        };
        close(
            &format!("class {id} AP50"),
            c.ap50(),
            opt_f64(&g["ap50"]),
            AP_TOLERANCE,
            &mut out,
        );
        close(
            &format!("class {id} AP@[.5:.95]"),
            c.ap(),
            opt_f64(&g["ap"]),
            AP_TOLERANCE,
            &mut out,
        );
        for (t, (ours, gold)) in c
            .ap_per_iou
            .iter()
            .zip(g["ap_per_iou"].as_array().expect("ap_per_iou"))
            .enumerate()
        {
            close(
                &format!("class {id} AP at IoU {:.2}", thresholds[t]),
                *ours,
                opt_f64(gold),
                AP_TOLERANCE,
                &mut out,
            );
        }
        for (t, (ours, gold)) in c
            .recall_per_iou
            .iter()
            .zip(g["recall_per_iou"].as_array().expect("recall_per_iou"))
            .enumerate()
        {
            close(
                &format!("class {id} recall at IoU {:.2}", thresholds[t]),
                *ours,
                opt_f64(gold),
                AP_TOLERANCE,
                &mut out,
            );
        }
    }
    close(
        "mAP50",
        summary.map50(),
        opt_f64(&golden["map50"]),
        AP_TOLERANCE,
        &mut out,
    );
    close(
        "mAP@[.5:.95]",
        summary.map(),
        opt_f64(&golden["map"]),
        AP_TOLERANCE,
        &mut out,
    );
    // COCOeval.summarize's own figures: stats[0] = AP, stats[1] = AP50.
    close(
        "COCO stats[0]",
        summary.map(),
        opt_f64(&golden["stats"][0]),
        AP_TOLERANCE,
        &mut out,
    );
    close(
        "COCO stats[1]",
        summary.map50(),
        opt_f64(&golden["stats"][1]),
        AP_TOLERANCE,
        &mut out,
    );

    for setting in golden["counts"].as_array().expect("counts") {
        let iou = f64_of(&setting["iou_threshold"]);
        let score = f64_of(&setting["score_threshold"]);
        let counts = match ev.counts(iou, score) {
            Ok(c) => c,
            Err(e) => {
                out.push(format!("counts at IoU {iou}, score {score}: error {e}"));
                continue;
            }
        };
        for g in setting["classes"].as_array().expect("classes") {
            let id = u64_of(g, "category_id");
            let label = format!("class {id} at IoU {iou}, score >= {score}");
            let Some(c) = counts.iter().find(|c| c.category_id == id) else {
                out.push(format!("{label}: missing in ours"));
                continue;
            };
            let ours = (
                c.true_positives,
                c.false_positives,
                c.false_negatives,
                c.ignored_detections,
            );
            let gold = (
                u64_of(g, "true_positives"),
                u64_of(g, "false_positives"),
                u64_of(g, "false_negatives"),
                u64_of(g, "ignored_detections"),
            );
            if ours != gold {
                out.push(format!(
                    "{label}: (TP, FP, FN, ignored) ours {ours:?}, golden {gold:?}"
                ));
            }
        }
    }
    out
}

fn assert_none(what: &str, mismatches: Vec<String>) {
    assert!(
        mismatches.is_empty(),
        "{what}: {} mismatch(es) against the reference goldens:\n  {}",
        mismatches.len(),
        mismatches.join("\n  ")
    );
}

#[test]
fn word_error_rates_match_jiwer() {
    let pairs = fixture("wer_pairs.json");
    let golden = fixture("wer_golden.json");
    assert!(
        pairs.as_array().is_some_and(|p| p.len() >= 50),
        "the WER fixture needs at least 50 pairs"
    );
    assert_none("WER vs jiwer", wer_mismatches(&pairs, &golden));
}

#[test]
fn coco_average_precision_matches_pycocotools() {
    let ev = evaluator(&fixture("coco_gt.json"), &fixture("coco_dt.json"));
    let golden = fixture("coco_golden.json");
    assert!(
        golden["classes"].as_array().is_some_and(|c| c.len() >= 4),
        "the COCO fixture needs at least 4 classes"
    );
    assert_none("COCO AP vs pycocotools", coco_mismatches(&ev, &golden));
}

#[test]
fn comparisons_report_a_changed_golden() {
    let pairs = fixture("wer_pairs.json");
    let mut golden = fixture("wer_golden.json");
    golden["pairs"][1]["substitutions"] = Value::from(99);
    golden["corpus"]["wer"] = Value::from(f64_of(&golden["corpus"]["wer"]) + 1e-3);
    let found = wer_mismatches(&pairs, &golden);
    assert!(found.iter().any(|m| m.starts_with("pair 1 ")), "{found:?}");
    assert!(found.iter().any(|m| m.starts_with("corpus")), "{found:?}");

    let ev = evaluator(&fixture("coco_gt.json"), &fixture("coco_dt.json"));
    let mut golden = fixture("coco_golden.json");
    golden["map50"] = Value::from(f64_of(&golden["map50"]) + 1e-3);
    golden["counts"][0]["classes"][0]["true_positives"] = Value::from(1000);
    let found = coco_mismatches(&ev, &golden);
    assert!(found.iter().any(|m| m.starts_with("mAP50")), "{found:?}");
    assert!(
        found.iter().any(|m| m.contains("(TP, FP, FN, ignored)")),
        "{found:?}"
    );
}
