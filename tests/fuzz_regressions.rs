//! Replays every committed fuzz input (the seed corpora under `fuzz/seeds/<target>/` and
//! the inputs of past findings under `fuzz/regressions/<target>/`) through the fuzz
//! targets' own bodies, in an ordinary `cargo test`: a fixed bug stays fixed without
//! cargo-fuzz or a nightly toolchain. The bodies are `fuzz/src/lib.rs`, included as is.

#[path = "../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod fuzz_targets;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use vla_perf::collector::pipeline::Message;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files of `dir`, sorted; none when it does not exist.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_fuzz_target_binary_has_a_body_and_a_seed_corpus() {
    let binaries: BTreeSet<String> = inputs(&fuzz_dir().join("fuzz_targets"))
        .iter()
        .filter_map(|p| Some(p.file_stem()?.to_str()?.to_owned()))
        .collect();
    let bodies: BTreeSet<String> = fuzz_targets::TARGETS
        .iter()
        .map(|(name, _)| name.to_string())
        .collect();
    assert_eq!(binaries, bodies, "fuzz/fuzz_targets/*.rs vs TARGETS");
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap();
    for name in &bodies {
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "{name} is not a [[bin]] of fuzz/Cargo.toml"
        );
        assert!(
            !inputs(&fuzz_dir().join("seeds").join(name)).is_empty(),
            "fuzz/seeds/{name}/ is empty"
        );
    }
}

#[test]
fn every_committed_seed_and_regression_input_replays_without_a_panic() {
    let mut replayed = 0;
    let mut failures = Vec::new();
    for (name, body) in fuzz_targets::TARGETS {
        for kind in ["seeds", "regressions"] {
            for file in inputs(&fuzz_dir().join(kind).join(name)) {
                let data = std::fs::read(&file).unwrap();
                replayed += 1;
                if std::panic::catch_unwind(|| body(&data)).is_err() {
                    failures.push(format!("{name}: {}", file.display()));
                }
            }
        }
    }
    assert!(failures.is_empty(), "inputs that panic: {failures:#?}");
    assert!(replayed >= fuzz_targets::TARGETS.len(), "{replayed} inputs");
}

#[test]
fn cdr_messages_covers_every_vla_perf_message() {
    let fuzzed: BTreeSet<&str> = fuzz_targets::MESSAGES.iter().map(|(t, _)| *t).collect();
    for message in vla_perf::msg::VLA_PERF_MESSAGES {
        assert!(fuzzed.contains(message.type_name), "{}", message.type_name);
    }
}

/// Seeds that no longer decode would leave the fuzzer starting from noise: every input
/// type has a seed the collector's decoder accepts.
#[test]
fn every_cdr_input_type_has_a_seed_that_decodes() {
    let types = fuzz_targets::INPUT_TYPES;
    let mut decoded = BTreeSet::new();
    for file in inputs(&fuzz_dir().join("seeds/cdr_inputs")) {
        let data = std::fs::read(&file).unwrap();
        let Some((&selector, bytes)) = data.split_first() else {
            continue;
        };
        let msg_type = types[usize::from(selector) % types.len()];
        if Message::decode(msg_type, bytes).is_ok() {
            decoded.insert(msg_type);
        }
    }
    let missing: Vec<&&str> = types.iter().filter(|t| !decoded.contains(*t)).collect();
    assert!(missing.is_empty(), "no decodable seed for {missing:?}");
}
