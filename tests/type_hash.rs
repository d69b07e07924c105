//! The REP-2011 type hashes of `vla_perf::msg::type_hash` against ROS 2 Jazzy itself:
//! every known type outside the vla_perf package against the hash its installed
//! `share/<pkg>/{msg,srv}/<Name>.json` records, and the vla_perf messages against what ROS's
//! own generator (rosidl_adapter + rosidl_generator_type_description, driven by
//! `tests/peers/type_hashes.py`) computes from the repository's `msg/*.msg`.
//!
//! Needs ROS 2 Jazzy at /opt/ros/jazzy and the system `/usr/bin/python3` it was built for
//! (`.ci/setup` installs them); fails, saying so, without them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use vla_perf::msg::type_hash::{known_types, type_description_json, type_hash};

const ROS_SHARE: &str = "/opt/ros/jazzy/share";
const ROS_SETUP: &str = "/opt/ros/jazzy/setup.bash";
const SYSTEM_PYTHON: &str = "/usr/bin/python3";
/// System directories only: no pyenv or virtualenv python3 shadows the system one.
const SYSTEM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Fails, saying what to do, unless ROS 2 Jazzy and its system Python are there.
fn require_ros_jazzy() {
    for path in [ROS_SHARE, ROS_SETUP, SYSTEM_PYTHON] {
        assert!(
            Path::new(path).exists(),
            "{path} is missing: install ROS 2 Jazzy (.ci/setup does it)"
        );
    }
}

/// The installed JSON file recording `type_name`'s hash: `pkg/msg/Name` ->
/// `SHARE/pkg/msg/Name.json`, `pkg/srv/Name_Request` -> `SHARE/pkg/srv/Name.json`.
fn installed_json(type_name: &str) -> PathBuf {
    let mut parts = type_name.splitn(3, '/');
    let (package, kind, name) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let stem = match kind {
        "srv" => name
            .strip_suffix("_Request")
            .or_else(|| name.strip_suffix("_Response"))
            .unwrap_or(name),
        _ => name,
    };
    Path::new(ROS_SHARE)
        .join(package)
        .join(kind)
        .join(format!("{stem}.json"))
}

/// The hash ROS recorded for `type_name` in its installed JSON file.
fn installed_hash(type_name: &str) -> Result<String, String> {
    let path = installed_json(type_name);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    json["type_hashes"]
        .as_array()
        .and_then(|hashes| hashes.iter().find(|h| h["type_name"] == type_name))
        .and_then(|h| h["hash_string"].as_str())
        .map(str::to_owned)
        .ok_or_else(|| format!("{} records no hash for {type_name}", path.display()))
}

/// Fails listing every mismatch, with the JSON we hashed for each.
fn report(mismatches: &[String], checked: usize) {
    assert!(
        mismatches.is_empty(),
        "{} of {checked} type hashes differ from ROS 2 Jazzy's:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    println!("{checked} type hashes equal ROS 2 Jazzy's");
}

fn mismatch(type_name: &str, ours: Option<&str>, theirs: &str) -> String {
    format!(
        "  {type_name}: ours {ours:?}, ROS {theirs}\n    we hashed {}",
        type_description_json(type_name).unwrap_or_default()
    )
}

#[test]
fn hashes_of_standard_and_ros_internal_types_equal_the_installed_ones() {
    require_ros_jazzy();
    let mut mismatches = Vec::new();
    let mut checked = 0;
    for type_name in known_types().filter(|t| !t.starts_with("vla_perf/")) {
        checked += 1;
        let ours = type_hash(type_name);
        match installed_hash(type_name) {
            Ok(theirs) if ours.as_deref() == Some(theirs.as_str()) => {}
            Ok(theirs) => mismatches.push(mismatch(type_name, ours.as_deref(), &theirs)),
            Err(e) => mismatches.push(format!("  {type_name}: {e}")),
        }
    }
    assert!(checked > 30, "only {checked} types outside vla_perf");
    report(&mismatches, checked);
}

#[test]
fn hashes_of_vla_perf_messages_equal_what_the_ros_generator_computes() {
    require_ros_jazzy();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = Command::new("/bin/bash")
        .arg("-c")
        .arg(format!(
            "source {ROS_SETUP} || exit 1\nexec {SYSTEM_PYTHON} \"$0\" \"$1\" vla_perf"
        ))
        .arg(repo.join("tests/peers/type_hashes.py"))
        .arg(repo)
        .env("PATH", SYSTEM_PATH)
        .env_remove("PYTHONPATH")
        .env_remove("PYTHONHOME")
        .env_remove("PYENV_VERSION")
        .env_remove("VIRTUAL_ENV")
        .output()
        .expect("/bin/bash");
    assert!(
        output.status.success(),
        "tests/peers/type_hashes.py failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let theirs: BTreeMap<String, String> =
        serde_json::from_slice(&output.stdout).expect("type_hashes.py prints a JSON object");

    let ours: Vec<&str> = known_types()
        .filter(|t| t.starts_with("vla_perf/"))
        .collect();
    let mut mismatches = Vec::new();
    for type_name in &ours {
        match theirs.get(*type_name) {
            Some(hash) if type_hash(type_name).as_deref() == Some(hash.as_str()) => {}
            Some(hash) => {
                mismatches.push(mismatch(type_name, type_hash(type_name).as_deref(), hash))
            }
            None => mismatches.push(format!("  {type_name}: no msg/*.msg file defines it")),
        }
    }
    for type_name in theirs.keys() {
        if !ours.contains(&type_name.as_str()) {
            mismatches.push(format!(
                "  {type_name}: msg/*.msg defines it, type_hash does not know it"
            ));
        }
    }
    report(&mismatches, ours.len());
}
