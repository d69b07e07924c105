#!/usr/bin/env python3
"""Golden values for vla_perf's accuracy KPIs, computed by the reference Python tools.

Run from the repository root:

    pip install jiwer pycocotools numpy
    python3 tests/reference/kpi_golden.py            # rewrite the goldens
    python3 tests/reference/kpi_golden.py --regen-inputs   # also rebuild the inputs

Inputs (written only when absent, or with --regen-inputs; both are deterministic):
    tests/fixtures/kpi/wer_pairs.json   reference/hypothesis transcript pairs
    tests/fixtures/kpi/coco_gt.json     COCO ground truth (images, annotations, categories)
    tests/fixtures/kpi/coco_dt.json     COCO detection results (list of bbox results)
Goldens (always rewritten):
    tests/fixtures/kpi/wer_golden.json  jiwer.process_words per pair and for the corpus
    tests/fixtures/kpi/coco_golden.json pycocotools COCOeval (iouType 'bbox') results

tests/kpi_reference.rs compares the Rust implementation against the goldens.
"""

import contextlib
import io
import json
import random
import sys
from pathlib import Path

import jiwer
import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

FIXTURES = Path("tests/fixtures/kpi")

# The same normalisation as vla_perf::core::kpi::wer::normalize, expressed in jiwer
# transforms: lowercase, delete Unicode punctuation (category P*), turn every run of
# whitespace (Python's definition, which the Rust side mirrors) into one space, strip.
NORMALIZE = jiwer.Compose(
    [
        jiwer.ToLowerCase(),
        jiwer.RemovePunctuation(),
        jiwer.SubstituteRegexes({r"\s+": " "}),
        jiwer.Strip(),
        jiwer.ReduceToListOfListOfWords(),
    ]
)

# Hand-written robot commands with ASR-like errors: substitutions of similar-sounding
# words, dropped and inserted words, casing, punctuation, Unicode text and whitespace.
HANDWRITTEN_PAIRS = [
    ("pick up the red cup", "pick up the red cup"),
    ("Pick up the red cup.", "pick up the bread cup"),
    ("pick up the red cup", "pick the red cup up"),
    ("move to the kitchen and open the fridge", "move to the kitchen open the fridge"),
    ("place the bottle on the table", "please the bottle on the table"),
    ("go to the charging station", "go to the charging station now please"),
    ("grab the blue block and put it in the bin", "grab the glue block and put it in the bin"),
    ("stop", "stop stop"),
    ("STOP!", "top"),
    ("turn left, then go forward two meters", "turn left then go forward to meters"),
    ("open the top drawer", "open the drawer"),
    ("hand me the screwdriver", "hand me a screw driver"),
    ("bring me a glass of water", "bring me glass of water"),
    ("wipe the counter", "wipe the counter clockwise"),
    ("put the apple in the bowl", "put the apple in the ball"),
    ("follow me", "follow"),
    ("look at the person on your right", "look at the person on your left"),
    ("navigate to room 204", "navigate to room two oh four"),
    ("don't touch the knife!", "dont touch the knife"),
    ("it's the green one, not the yellow one", "its the green one not the yellow one"),
    ("Pick-up the mug", "pickup the mug"),
    ("fold the towel and place it on the shelf", "hold the towel and place it on the shelf"),
    ("close the gripper slowly", "close the gripper"),
    ("raise the arm by ten centimeters", "raise the arm by ten centimetres"),
    ("rotate the wrist ninety degrees", "rotate the risk ninety degrees"),
    ("find my keys", "find my keys please robot"),
    ("go to the living room and wait", "go to living room and wait there"),
    ("  pick   up\tthe\ncup  ", "pick up the cup"),
    ("pick up the cup", "pick up the cup"),
    ("put the cup on the plate on the table", "put the cup on the table on the plate"),
    ("the the the", "the the"),
    ("a b a b", "b a b a"),
    ("move the box to the left of the box", "move box the to left the of box the"),
    ("Bring the café au lait", "bring the cafe au lait"),
    ("öffne die Tür", "öffne die tür"),
    ("fahre zur Straße", "fahre zur strasse"),
    ("apporte la tasse à la cuisine", "apporte la tasse a la cuisine"),
    ("«pick up» the “red” cup…", "pick up the red cup"),
    ("pick up the red cup — quickly", "pick up the red cup quickly"),
    ("把红色的杯子拿起来。", "把红色的杯子拿起来"),
    ("赤い カップ を 取って、ください", "赤い カップ 取って ください"),
    ("ΟΔΥΣΣΕΥΣ go home", "οδυσσευς go home"),
    ("pick\u00a0up the red cup", "pick up the red cup"),
    ("", "hello robot"),
    ("", ""),
    ("cancel the current task", ""),
    ("resume", "resume"),
    ("set the speed to 0.5 meters per second", "set the speed to 05 meters per second"),
    ("lift the box", "lift the fox box"),
    ("take the left door then the right door", "take the right door then the left door"),
    ("scan the shelf for red cans", "can the shelf for red scans"),
    ("go go go", "no go"),
    ("put it back", "put it back put it back"),
    ("what do you see", "what do you sea"),
    ("drop the ball", "drop all"),
]


def generated_pairs(count, seed):
    """Pairs from a tiny vocabulary with random edits, so many alignments tie."""
    rng = random.Random(seed)
    vocab = ["go", "to", "the", "cup", "red", "up", "pick", "a"]

    def pick(seq):
        return seq[int(rng.random() * len(seq))]

    pairs = []
    for k in range(count):
        # A few long pairs exercise references longer than 64 words (several bit blocks).
        n = 70 + int(rng.random() * 60) if k % 10 == 9 else 1 + int(rng.random() * 14)
        ref = [pick(vocab) for _ in range(n)]
        hyp = []
        for w in ref:
            r = rng.random()
            if r < 0.12:
                continue  # deletion
            if r < 0.24:
                hyp.append(pick(vocab))  # substitution (possibly by the same word)
            else:
                hyp.append(w)
            if rng.random() < 0.1:
                hyp.append(pick(vocab))  # insertion
        pairs.append((" ".join(ref), " ".join(hyp)))
    return pairs


def wer_inputs(regen):
    path = FIXTURES / "wer_pairs.json"
    if path.exists() and not regen:
        return json.loads(path.read_text(encoding="utf-8"))
    pairs = [{"reference": r, "hypothesis": h} for r, h in HANDWRITTEN_PAIRS]
    pairs += [{"reference": r, "hypothesis": h} for r, h in generated_pairs(40, seed=20240601)]
    write_json(path, pairs)
    return pairs


def measure(refs, hyps):
    out = jiwer.process_words(
        refs, hyps, reference_transform=NORMALIZE, hypothesis_transform=NORMALIZE
    )
    n = out.hits + out.substitutions + out.deletions
    return {
        # jiwer reports the number of insertions as the WER of an empty reference; the
        # Rust side calls that undefined, so the rate is null here.
        "wer": out.wer if n > 0 else None,
        "jiwer_wer": out.wer,
        "hits": out.hits,
        "substitutions": out.substitutions,
        "deletions": out.deletions,
        "insertions": out.insertions,
        "reference_words": n,
        "reference_normalized": [" ".join(s) for s in out.references],
        "hypothesis_normalized": [" ".join(s) for s in out.hypotheses],
    }


def wer_golden(pairs):
    per_pair = []
    for p in pairs:
        m = measure([p["reference"]], [p["hypothesis"]])
        m["reference_normalized"] = m["reference_normalized"][0]
        m["hypothesis_normalized"] = m["hypothesis_normalized"][0]
        per_pair.append(m)
    corpus = measure([p["reference"] for p in pairs], [p["hypothesis"] for p in pairs])
    del corpus["reference_normalized"], corpus["hypothesis_normalized"]
    return {
        "tool": f"jiwer {jiwer_version()}",
        "pairs": per_pair,
        "corpus": corpus,
    }


def jiwer_version():
    try:
        from importlib.metadata import version

        return version("jiwer")
    except Exception:  # pragma: no cover - metadata missing
        return "unknown"


CATEGORIES = [
    {"id": 1, "name": "cup"},
    {"id": 2, "name": "bottle"},
    {"id": 3, "name": "person"},
    {"id": 4, "name": "chair"},
    {"id": 5, "name": "apple"},  # annotated but never detected: AP 0
    {"id": 6, "name": "drone"},  # never annotated, falsely detected: no AP
    {"id": 7, "name": "plate"},  # neither annotated nor detected: no AP
]


def coco_inputs(regen):
    gt_path, dt_path = FIXTURES / "coco_gt.json", FIXTURES / "coco_dt.json"
    if gt_path.exists() and dt_path.exists() and not regen:
        return
    rng = random.Random(7)

    def uniform(lo, hi):
        return lo + (hi - lo) * rng.random()

    def quarter(v):
        # Quarter pixels are exact in binary, so both sides parse identical coordinates.
        return round(v * 4) / 4

    def score():
        # Two decimals make equal scores common, which exercises the stable sort.
        return round(uniform(0.05, 1.0), 2)

    images, anns, dets = [], [], []
    for img in range(1, 15):
        images.append({"id": img, "width": 640, "height": 480, "file_name": f"{img:04d}.png"})
    # Images 13 and 14 have no annotations: anything detected there is a false positive.
    for img in range(1, 13):
        crowded = img % 3 == 0
        n_objects = 12 + int(rng.random() * 10) if crowded else 2 + int(rng.random() * 6)
        cx, cy = uniform(100, 500), uniform(100, 350)
        for _ in range(n_objects):
            cat = [1, 2, 3, 4, 5][int(rng.random() * 5)]
            spread = 60 if crowded else 250
            w, h = quarter(uniform(8, 90)), quarter(uniform(8, 120))
            x = quarter(min(max(cx + uniform(-spread, spread), 0), 640 - w))
            y = quarter(min(max(cy + uniform(-spread, spread), 0), 480 - h))
            anns.append({"image_id": img, "category_id": cat, "bbox": [x, y, w, h],
                         "area": w * h, "iscrowd": 0})
            if cat == 5:
                continue
            r = rng.random()
            if r < 0.8:
                # Jitter of up to ~35% of the size spreads IoUs over 0.4..1.
                j = uniform(0.0, 0.35)
                dx, dy = uniform(-j, j) * w, uniform(-j, j) * h
                sw, sh = 1 + uniform(-j, j), 1 + uniform(-j, j)
                dets.append({"image_id": img, "category_id": cat,
                             "bbox": [quarter(x + dx), quarter(y + dy),
                                      quarter(w * sw), quarter(h * sh)],
                             "score": score()})
                if rng.random() < 0.15:  # duplicate detection of the same object
                    dets.append({"image_id": img, "category_id": cat,
                                 "bbox": [quarter(x + dy), quarter(y + dx), w, h],
                                 "score": score()})
            if rng.random() < 0.1:  # confusion with a wrong class
                dets.append({"image_id": img, "category_id": [1, 2, 3, 4][int(rng.random() * 4)],
                             "bbox": [x, y, w, h], "score": score()})
        if crowded:
            # A crowd region of people, with detections inside it that must be ignored.
            w, h = quarter(uniform(120, 200)), quarter(uniform(100, 160))
            x, y = quarter(min(cx, 640 - w)), quarter(min(cy, 480 - h))
            anns.append({"image_id": img, "category_id": 3, "bbox": [x, y, w, h],
                         "area": round(w * h * 0.6, 2), "iscrowd": 1})
            for _ in range(3):
                dets.append({"image_id": img, "category_id": 3,
                             "bbox": [quarter(x + uniform(0, w - 30)),
                                      quarter(y + uniform(0, h - 40)), 25.0, 35.0],
                             "score": score()})
    # Background false positives, some of them of the never-annotated class 6.
    for img in range(1, 15):
        for _ in range(int(rng.random() * 4)):
            w, h = quarter(uniform(10, 60)), quarter(uniform(10, 60))
            dets.append({"image_id": img, "category_id": [1, 2, 3, 4, 6][int(rng.random() * 5)],
                         "bbox": [quarter(uniform(0, 640 - w)), quarter(uniform(0, 480 - h)), w, h],
                         "score": score()})
    # More than 100 detections of one class in one image: only the best 100 count.
    for _ in range(110):
        w, h = quarter(uniform(5, 20)), quarter(uniform(5, 20))
        dets.append({"image_id": 4, "category_id": 2,
                     "bbox": [quarter(uniform(0, 600)), quarter(uniform(0, 440)), w, h],
                     "score": round(uniform(0.3, 0.9), 2)})
    for i, a in enumerate(anns, start=1):
        a["id"] = i  # ids start at 1: pycocotools treats id 0 as "unmatched"
    write_json(gt_path, {"images": images, "annotations": anns, "categories": CATEGORIES})
    write_json(dt_path, dets)


def coco_golden():
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(FIXTURES / "coco_gt.json"))
        dt = gt.loadRes(json.loads((FIXTURES / "coco_dt.json").read_text()))
        ev = COCOeval(gt, dt, iouType="bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    p = ev.params
    area_all = 0  # index of area range 'all'
    max_det = p.maxDets.index(100)
    precision = ev.eval["precision"]  # [T, R, K, A, M]
    recall = ev.eval["recall"]  # [T, K, A, M]

    def mean_defined(s):
        s = s[s > -1]
        return float(np.mean(s)) if s.size else None

    classes = []
    for k, cat in enumerate(p.catIds):
        pr = precision[:, :, k, area_all, max_det]
        classes.append({
            "category_id": int(cat),
            "ap_per_iou": [mean_defined(pr[t]) for t in range(len(p.iouThrs))],
            "ap50": mean_defined(pr[0]),
            "ap": mean_defined(pr),
            "recall_per_iou": [
                None if recall[t, k, area_all, max_det] <= -1 else float(recall[t, k, area_all, max_det])
                for t in range(len(p.iouThrs))
            ],
        })
    t50 = 0
    return {
        "tool": "pycocotools COCOeval iouType=bbox, areaRng=all, maxDets=100",
        "iou_thresholds": [float(t) for t in p.iouThrs],
        "classes": classes,
        "map50": mean_defined(precision[t50, :, :, area_all, max_det]),
        "map": mean_defined(precision[:, :, :, area_all, max_det]),
        "stats": [float(s) for s in ev.stats],
        "counts": [counts_at(ev, p, iou, score) for iou, score in
                   [(0.5, 0.0), (0.5, 0.5), (0.75, 0.3)]],
    }


def counts_at(ev, p, iou, score_threshold):
    """TP/FP/FN per class from COCOeval's own per-image matching (evalImgs).

    Matching is greedy in descending score, so keeping the detections with
    score >= threshold after matching equals matching only those detections.
    """
    t = int(np.argmin(np.abs(p.iouThrs - iou)))
    per_class = {}
    for e in ev.evalImgs:
        if e is None or list(e["aRng"]) != list(p.areaRng[0]):
            continue
        c = per_class.setdefault(e["category_id"], {"tp": 0, "fp": 0, "ignored": 0, "gt": 0})
        keep = np.array(e["dtScores"], dtype=float) >= score_threshold
        matched = e["dtMatches"][t] > 0
        ignored = e["dtIgnore"][t].astype(bool)
        c["tp"] += int(np.sum(keep & matched & ~ignored))
        c["fp"] += int(np.sum(keep & ~matched & ~ignored))
        c["ignored"] += int(np.sum(keep & ignored))
        c["gt"] += int(np.sum(np.asarray(e["gtIgnore"]) == 0))
    return {
        "iou_threshold": float(p.iouThrs[t]),
        "score_threshold": score_threshold,
        "classes": [
            {"category_id": int(cat), "true_positives": c["tp"], "false_positives": c["fp"],
             "false_negatives": c["gt"] - c["tp"], "ignored_detections": c["ignored"]}
            for cat, c in sorted(per_class.items())
        ],
    }


def write_json(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def main():
    regen = "--regen-inputs" in sys.argv[1:]
    pairs = wer_inputs(regen)
    write_json(FIXTURES / "wer_golden.json", wer_golden(pairs))
    coco_inputs(regen)
    write_json(FIXTURES / "coco_golden.json", coco_golden())
    print(f"wrote goldens for {len(pairs)} WER pairs and the COCO fixture to {FIXTURES}")


if __name__ == "__main__":
    main()
