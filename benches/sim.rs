//! Figures of the SIMULATED stack's real work: the vision node's pixel work per frame at
//! 640x480 (and at `load` 4, the degrade knob), the camera's rendering, detection AP on
//! clean frames, and the ASR noise's measured WER against its configured rate.
//!
//! `cargo bench --bench sim` runs it. Prints figures; nothing is asserted (tests do that).

use std::time::{Duration, Instant};

use rand::SeedableRng;
use vla_perf::core::kpi::detection::{BBox, Detection, DetectionEvaluator, GroundTruth};
use vla_perf::core::kpi::wer::WerAccumulator;
use vla_perf::sim::config::WerNoise;
use vla_perf::sim::scene::{render, PixelBox};
use vla_perf::sim::{speech, vision};

const FRAMES: usize = 60;

fn coco(b: &PixelBox) -> BBox {
    let f = f64::from;
    BBox::new(f(b.x), f(b.y), f(b.width), f(b.height)).expect("valid box")
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let (w, h) = (640, 480);
    let frames: Vec<_> = (0..FRAMES).map(|i| render(w, h, i as f64 * 0.5)).collect();
    let render_time = median(
        (0..FRAMES)
            .map(|i| {
                let t = Instant::now();
                std::hint::black_box(render(w, h, i as f64 * 0.5));
                t.elapsed()
            })
            .collect(),
    );
    println!("sim_camera render {w}x{h} rgb8: median {render_time:?} per frame");
    let mut evaluator = DetectionEvaluator::new();
    for load in [1u32, 4] {
        let mut times = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            let t = Instant::now();
            let mut found = Vec::new();
            for _ in 0..load {
                found = vision::detect("rgb8", w, h, w * 3, &f.rgb, 30).expect("detect");
            }
            times.push(t.elapsed());
            if load == 1 {
                let category = |c: vla_perf::sim::scene::Colour, s: vla_perf::sim::scene::Shape| {
                    c as u64 * 2 + s as u64
                };
                for o in &f.objects {
                    evaluator
                        .add_ground_truth(GroundTruth {
                            image_id: i as u64,
                            category_id: category(o.colour, o.shape),
                            bbox: coco(&o.bbox),
                            iscrowd: false,
                            area: None,
                        })
                        .expect("gt");
                }
                for d in &found {
                    evaluator
                        .add_detection(Detection {
                            image_id: i as u64,
                            category_id: category(d.colour, d.shape),
                            bbox: coco(&d.bbox),
                            score: d.score,
                        })
                        .expect("dt");
                }
            }
        }
        println!(
            "sim_vision detect {w}x{h}, load {load}: median {:?} per frame ({} frames)",
            median(times),
            FRAMES
        );
    }
    let s = evaluator.coco_summary();
    println!(
        "detection on {FRAMES} clean frames: mAP50 {:?}, mAP@[.5:.95] {:?}",
        s.map50(),
        s.map()
    );
    let sentences = [
        "pick up the red cup",
        "place the green box on the table",
        "go to the kitchen and open the fridge",
        "look at the yellow ball then pick it up",
        "close the top drawer",
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    for (sub, del, ins) in [
        (0.0, 0.0, 0.0),
        (0.04, 0.02, 0.02),
        (0.1, 0.05, 0.05),
        (0.2, 0.1, 0.1),
    ] {
        let noise = WerNoise {
            substitution: sub,
            deletion: del,
            insertion: ins,
        };
        let mut acc = WerAccumulator::new();
        for i in 0..5000 {
            let r = sentences[i % sentences.len()];
            let (hyp, _) = speech::add_noise(r, &noise, &mut rng);
            acc.add(r, &hyp).expect("wer");
        }
        println!(
            "sim_asr noise: configured WER {:.3}, measured {:.4} over {} sentences",
            noise.expected_wer(),
            acc.wer().unwrap_or(f64::NAN),
            acc.pairs()
        );
    }
}
