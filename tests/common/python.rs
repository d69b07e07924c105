//! The Python the tests run their peers and reference tools with: the project's virtual
//! environment `.venv/`, which `bash .ci/setup` creates from the system Python and fills
//! with the reference packages (jiwer, pycocotools, rosbags, cyclonedds, aiosmtpd). One
//! place, so a stock machine (whose `python3` refuses `pip install`, PEP 668) and one with
//! another `python3` first on `PATH` run the same interpreter.

use std::path::PathBuf;
use std::process::Command;

/// `.venv/bin/python3` of the repository.
pub fn python_path() -> PathBuf {
    super::repo().join(".venv/bin/python3")
}

/// A command running the project's Python; fails with what to run when the environment
/// does not exist yet.
pub fn python() -> Command {
    let path = python_path();
    assert!(
        path.exists(),
        "the tests' Python environment {} is missing: run `bash .ci/setup`",
        path.display()
    );
    Command::new(path)
}

/// Fails with what to run unless the project's Python can import `module`.
pub fn require_python_module(module: &str) {
    let ok = python()
        .args(["-c", &format!("import {module}")])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "{} cannot import {module}: run `bash .ci/setup` to install the test peers' packages",
        python_path().display()
    );
}
