//! The shipped SIMULATED image set (`config/scenarios/images/sim_shapes/`) is exactly what
//! `sim::scene::image_set` renders, and it loads through the benchmark's asset checks.
//! Regenerate it with `VLA_PERF_REGENERATE=1 cargo test --test scenario_assets`.

use std::path::Path;

use vla_perf::bench::assets;

const DIR: &str = "config/scenarios/images/sim_shapes";
const COUNT: usize = 8;

#[test]
fn the_shipped_image_set_is_what_the_simulated_camera_renders() {
    let (frames, coco) = vla_perf::sim::scene::image_set(COUNT, 640, 480);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(DIR);
    if std::env::var_os("VLA_PERF_REGENERATE").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for (name, frame) in &frames {
            assets::write_png(&dir.join(name), frame.width, frame.height, &frame.rgb).unwrap();
        }
        let text = serde_json::to_string_pretty(&coco).unwrap() + "\n";
        std::fs::write(dir.join("instances.json"), text).unwrap();
    }
    let shipped: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("instances.json")).unwrap()).unwrap();
    assert_eq!(shipped, coco, "instances.json differs from the generator");
    for (i, (name, frame)) in frames.iter().enumerate() {
        let image = assets::load_png(&dir.join(name), i as u64 + 1, "test").unwrap();
        assert_eq!((image.width, image.height), (frame.width, frame.height));
        assert!(image.data == frame.rgb, "{name} differs from the generator");
    }
}

#[test]
fn the_shipped_scenarios_load_with_every_file_they_name() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/scenarios");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let name = path.display();
        checked += 1;
        let scenario = vla_perf::config::load_scenario(&path).unwrap();
        let loaded = assets::load(&scenario, path.parent().unwrap(), true).unwrap();
        assert_eq!(loaded.clips.len(), scenario.commands.len());
        let images: usize = loaded.image_sets.iter().map(|s| s.images.len()).sum();
        assert!(images > 0 || scenario.image_sets.is_empty(), "{name}");
    }
    assert!(checked >= 1, "no scenario in {}", dir.display());
}
