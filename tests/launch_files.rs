//! The launch files reference only what exists: every executable is a `[[bin]]` installed by
//! CMakeLists.txt, every config path is installed and loads, every parameter is one the node
//! reads, and the Python and XML files parse and agree. The ROS `launch` package is not
//! available here; `tests/reference/launch_refs.py` reads the files with Python's `ast` and
//! `xml.etree`. Also: the node binaries take their config and knobs from a ROS 2
//! parameters file, as `ros2 launch` passes them.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use common::repo;
use serde_json::Value;

/// Executables the launch files name whose `[[bin]]` is added by another branch (the
/// benchmark node). Once it is a `[[bin]]`, `pending_binaries_are_not_built_yet` fails:
/// empty this list then.
const PENDING_BINARIES: &[&str] = &[];

const ARGUMENTS: [&str; 6] = [
    "config",
    "alerts",
    "namespace",
    "use_sim_time",
    "benchmark",
    "scenario",
];

fn refs() -> Value {
    let out = common::python()
        .arg(repo().join("tests/reference/launch_refs.py"))
        .arg(repo().join("launch/vla_perf.launch.py"))
        .arg(repo().join("launch/vla_perf.launch.xml"))
        .arg(repo().join("Cargo.toml"))
        .output()
        .expect("running the launch file reader");
    assert!(
        out.status.success(),
        "the launch files do not parse:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("launch_refs.py prints JSON")
}

fn cmake() -> String {
    std::fs::read_to_string(repo().join("CMakeLists.txt")).unwrap()
}

/// The names of `set(VLA_PERF_EXECUTABLES ...)` in CMakeLists.txt.
fn cmake_executables() -> BTreeSet<String> {
    let text = cmake();
    let line = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("set(VLA_PERF_EXECUTABLES "))
        .expect("CMakeLists.txt sets VLA_PERF_EXECUTABLES");
    line.trim_end_matches(')')
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

fn nodes(launch: &Value) -> Vec<(String, Vec<String>, bool)> {
    launch["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            assert_eq!(n["package"], "vla_perf", "{n}");
            let params = n["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().expect("parameter names are strings").to_owned())
                .collect();
            (
                n["executable"].as_str().expect("executable").to_owned(),
                params,
                n["conditional"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[test]
fn both_launch_files_parse_declare_the_same_arguments_and_start_the_same_nodes() {
    let refs = refs();
    for kind in ["py", "xml"] {
        let declared: BTreeSet<&str> = refs[kind]["arguments"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(declared, BTreeSet::from(ARGUMENTS), "{kind}");
        let names: Vec<String> = nodes(&refs[kind]).into_iter().map(|n| n.0).collect();
        assert_eq!(names, ["collector", "alert_manager", "benchmark"], "{kind}");
    }
    assert_eq!(nodes(&refs["py"]), nodes(&refs["xml"]));
    let arg = |kind: &str, name: &str, field: &str| refs[kind]["arguments"][name][field].clone();
    for name in ARGUMENTS {
        assert_eq!(
            arg("py", name, "share_path"),
            arg("xml", name, "share_path"),
            "{name}"
        );
    }
    assert_eq!(arg("xml", "benchmark", "default"), "false");
    assert_eq!(arg("py", "namespace", "default"), "/vla_perf");
    // Only the benchmark is optional.
    for (exe, _, conditional) in nodes(&refs["py"]) {
        assert_eq!(conditional, exe == "benchmark", "{exe}");
    }
}

#[test]
fn every_launched_executable_is_a_cargo_binary_installed_by_cmake() {
    let refs = refs();
    let bins: BTreeSet<String> = refs["cargo_bins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_str().unwrap().to_owned())
        .collect();
    let installed = cmake_executables();
    for bin in &bins {
        assert!(installed.contains(bin), "[[bin]] {bin} is not installed");
    }
    for kind in ["py", "xml"] {
        for (exe, _, _) in nodes(&refs[kind]) {
            assert!(
                installed.contains(&exe),
                "{kind}: {exe} is not in VLA_PERF_EXECUTABLES"
            );
            assert!(
                bins.contains(&exe) || PENDING_BINARIES.contains(&exe.as_str()),
                "{kind}: {exe} is not a [[bin]] of Cargo.toml ({bins:?})"
            );
        }
    }
}

#[test]
fn pending_binaries_are_not_built_yet() {
    let refs = refs();
    for pending in PENDING_BINARIES {
        assert!(
            !refs["cargo_bins"]
                .as_array()
                .unwrap()
                .iter()
                .any(|b| b == pending),
            "{pending} is a [[bin]] now: remove it from PENDING_BINARIES"
        );
    }
}

#[test]
fn every_config_path_is_installed_and_loads() {
    let refs = refs();
    assert!(
        cmake().contains("install(DIRECTORY launch config DESTINATION share/${PROJECT_NAME})"),
        "CMakeLists.txt installs launch/ and config/ into share/vla_perf"
    );
    let mut checked = BTreeMap::new();
    for kind in ["py", "xml"] {
        for (name, arg) in refs[kind]["arguments"].as_object().unwrap() {
            let Some(path) = arg["share_path"].as_str() else {
                continue;
            };
            // share/vla_perf holds the repository's launch/ and config/ as they are.
            let file = repo().join(path);
            assert!(file.is_file(), "{kind}: {name} -> {path} does not exist");
            let loaded = match name.as_str() {
                "config" => vla_perf::config::load_collector(&file).map(|_| "collector"),
                "alerts" => vla_perf::config::load_alerts(&file).map(|_| "alert rules"),
                "scenario" => vla_perf::config::load_scenario(&file).map(|_| "scenario"),
                other => panic!("{kind}: no loader for argument {other} ({path})"),
            };
            let what = loaded.unwrap_or_else(|e| panic!("{kind}: {name} -> {path}: {e}"));
            checked.insert(name.clone(), what);
        }
    }
    assert_eq!(
        checked.keys().map(String::as_str).collect::<Vec<_>>(),
        ["alerts", "config", "scenario"]
    );
}

#[test]
fn every_parameter_a_launch_file_passes_is_read_by_its_node() {
    let refs = refs();
    for (exe, params, _) in nodes(&refs["py"]) {
        if PENDING_BINARIES.contains(&exe.as_str()) {
            continue;
        }
        let mut source = std::fs::read_to_string(repo().join(format!("src/bin/{exe}.rs")))
            .unwrap_or_else(|e| panic!("src/bin/{exe}.rs: {e}"));
        // The benchmark's parameters are read where its command line is.
        if exe == "benchmark" {
            source += &std::fs::read_to_string(repo().join("src/bench/cli.rs")).unwrap();
        }
        for param in params {
            let read = match param.as_str() {
                "use_sim_time" => source.contains("note_use_sim_time(&params)"),
                p => source.contains(&format!("\"{p}\"")),
            };
            assert!(read, "{exe} does not read parameter {param}");
        }
    }
}

/// Runs a node binary with `--ros-args ARGS`; it must fail before touching the network,
/// with an error containing every `expected` text.
fn fails_with(exe: &str, args: &[&str], expected: &[&str]) {
    let out = Command::new(exe)
        .arg("--ros-args")
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{exe} {args:?} succeeded:\n{stderr}");
    for e in expected {
        assert!(
            stderr.contains(e),
            "{exe} {args:?}: {e:?} missing:\n{stderr}"
        );
    }
}

#[test]
fn node_binaries_take_config_and_knobs_from_a_params_file_as_ros2_launch_passes_them() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let missing = dir.path().join("missing.yaml").display().to_string();
    // What launch_ros writes for `parameters=[{...}]`, plus the node rename it passes.
    let params = file(
        "collector.yaml",
        &format!("/**:\n  ros__parameters:\n    config: {missing}\n    use_sim_time: false\n"),
    );
    fails_with(
        env!("CARGO_BIN_EXE_collector"),
        &["-r", "__node:=collector", "--params-file", &params],
        &["loading", &missing],
    );
    // A per-node section and a later -p: the knob is checked like the config file's.
    let params = file(
        "knobs.yaml",
        &format!(
            "collector:\n  ros__parameters:\n    config: {}\n    robot_id: ok_id\n",
            repo().join("config/collector.yaml").display()
        ),
    );
    fails_with(
        env!("CARGO_BIN_EXE_collector"),
        &[
            "-r",
            "__node:=collector",
            "--params-file",
            &params,
            "-p",
            "robot_id:=not-an-id",
        ],
        &["robot_id", "not-an-id"],
    );
    fails_with(
        env!("CARGO_BIN_EXE_collector"),
        &["-p", "namespace:=relative"],
        &["namespace", "relative"],
    );
    // The alert node: rules from the file, a bad knob named with its value.
    let params = file(
        "alerts.yaml",
        &format!(
            "alert_manager:\n  ros__parameters:\n    config: {}\n    evaluation_period: soon\n",
            repo().join("config/alerts.yaml").display()
        ),
    );
    fails_with(
        env!("CARGO_BIN_EXE_alert_manager"),
        &["-r", "__node:=alert_manager", "--params-file", &params],
        &["evaluation_period:=soon"],
    );
    fails_with(
        env!("CARGO_BIN_EXE_alert_manager"),
        &["-p", &format!("config:={missing}")],
        &[&missing],
    );
    fails_with(
        env!("CARGO_BIN_EXE_alert_manager"),
        &[],
        &["no alert rules"],
    );
    // The SIMULATED stack: typed knobs.
    fails_with(
        env!("CARGO_BIN_EXE_sim_stack"),
        &["-p", "seed:=minus one"],
        &["seed:=minus one"],
    );
    fails_with(
        env!("CARGO_BIN_EXE_sim_stack"),
        &["-p", "use_sim_time:=maybe"],
        &["use_sim_time:=maybe"],
    );
    // A malformed params file names itself and the key.
    let params = file("bad.yaml", "/**:\n  ros__parameters:\n    config: [a, b]\n");
    fails_with(
        env!("CARGO_BIN_EXE_sim_stack"),
        &["--params-file", &params],
        &[&params, "ros__parameters.config"],
    );
}
