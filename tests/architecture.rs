//! The rings as the code has them, checked: the core crate depends on pure crates only, and
//! its modules import each other without cycles (ARCHITECTURE.md).
//!
//! The compiler already refuses a `use` of config, transport, messages or nodes from the
//! core (they are in another crate it does not depend on); these tests keep the two things
//! the compiler does not check: which crates the core may pull in, and cycles between its
//! modules.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn core_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/vla_perf_core")
}

/// Crates the core may depend on: no I/O, no async runtime, no parsing of files.
const PURE_CRATES: &[&str] = &[
    "foldhash",
    "hdrhistogram",
    "humantime",
    "serde",
    "serde_json",
    "thiserror",
    "unicode-properties",
];

#[test]
fn the_core_crate_depends_on_pure_crates_only() {
    let manifest = std::fs::read_to_string(core_dir().join("Cargo.toml")).expect("manifest");
    let mut section = String::new();
    let mut dependencies = Vec::new();
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line.to_owned();
        } else if section == "[dependencies]" && !line.is_empty() && !line.starts_with('#') {
            let name = line.split('=').next().unwrap_or_default().trim();
            dependencies.push(name.to_owned());
        }
    }
    assert!(!dependencies.is_empty(), "no [dependencies] read");
    let impure: Vec<&String> = dependencies
        .iter()
        .filter(|d| !PURE_CRATES.contains(&d.as_str()))
        .collect();
    assert!(
        impure.is_empty(),
        "the core may only depend on {PURE_CRATES:?}; it also has {impure:?}"
    );
}

/// The module path of a source file under `src/` (`bench/score.rs` -> `bench::score`).
fn module_of(relative: &Path) -> String {
    let text = relative
        .with_extension("")
        .to_string_lossy()
        .replace('/', "::");
    match text.as_str() {
        "lib" => String::new(),
        t => t.strip_suffix("::mod").unwrap_or(t).to_owned(),
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("source dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Paths like `a::b::c` that follow `prefix` in `text`.
fn paths_after<'a>(text: &'a str, prefix: &str) -> impl Iterator<Item = Vec<&'a str>> + 'a {
    let prefix = prefix.to_owned();
    text.match_indices(prefix.clone().as_str())
        .map(move |(at, _)| {
            text[at + prefix.len()..]
                .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .next()
                .unwrap_or_default()
                .split("::")
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
        })
        .collect::<Vec<_>>()
        .into_iter()
}

/// Each core module and the core modules its non-test code names.
fn core_module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = core_dir().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<String> = files
        .iter()
        .map(|f| module_of(f.strip_prefix(&src).expect("under src")))
        .collect();
    // The longest module path that `parts` starts with.
    let resolve = |parts: &[&str]| -> Option<String> {
        (1..=parts.len())
            .rev()
            .map(|n| parts[..n].join("::"))
            .find(|m| modules.contains(m))
    };
    let mut graph = BTreeMap::new();
    for file in &files {
        let module = module_of(file.strip_prefix(&src).expect("under src"));
        let text = std::fs::read_to_string(file).expect("source");
        // Unit tests may reach anywhere; only the code itself forms the rings.
        let code = text
            .find("#[cfg(test)]\nmod tests")
            .map_or(text.as_str(), |at| &text[..at]);
        let parent: Vec<&str> = module.split("::").filter(|s| !s.is_empty()).collect();
        let parent = &parent[..parent.len().saturating_sub(1)];
        let mut deps = BTreeSet::new();
        for path in paths_after(code, "crate::") {
            deps.extend(resolve(&path));
        }
        for path in paths_after(code, "super::") {
            let full: Vec<&str> = parent.iter().copied().chain(path).collect();
            deps.extend(resolve(&full));
        }
        // A module's own children and its ancestors (re-exports in mod.rs) are not edges.
        deps.retain(|d| {
            d != &module
                && !d.starts_with(&format!("{module}::"))
                && !module.starts_with(&format!("{d}::"))
                && !d.is_empty()
        });
        graph.insert(module, deps);
    }
    graph
}

/// A cycle through `start`, if there is one.
fn cycle_from(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    let mut stack = vec![(start.to_owned(), vec![start.to_owned()])];
    let mut seen = BTreeSet::new();
    while let Some((node, path)) = stack.pop() {
        for next in graph.get(&node).into_iter().flatten() {
            if next == start {
                let mut cycle = path.clone();
                cycle.push(start.to_owned());
                return Some(cycle);
            }
            if seen.insert(next.clone()) {
                let mut longer = path.clone();
                longer.push(next.clone());
                stack.push((next.clone(), longer));
            }
        }
    }
    None
}

#[test]
fn the_core_modules_import_each_other_without_cycles() {
    let graph = core_module_graph();
    assert!(
        graph.contains_key("bench::score") && graph["bench::score"].contains("bench::report"),
        "the graph is read: bench::score uses bench::report ({graph:?})"
    );
    let cycles: Vec<Vec<String>> = graph.keys().filter_map(|m| cycle_from(&graph, m)).collect();
    assert!(cycles.is_empty(), "import cycles in the core: {cycles:?}");
}

#[test]
fn a_cycle_is_found_when_there_is_one() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a", &["b"][..]),
        ("b", &["c"][..]),
        ("c", &["a"][..]),
        ("d", &["a"][..]),
    ]
    .into_iter()
    .map(|(m, deps)| (m.to_owned(), deps.iter().map(|d| (*d).to_owned()).collect()))
    .collect();
    assert_eq!(
        cycle_from(&graph, "a"),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    assert_eq!(cycle_from(&graph, "d"), None);
}
