//! The baseline: a previous run's report that this one is compared with.

use std::path::Path;

use super::{Error, Result};
use crate::core::bench::BenchReport;
use crate::report::bench::ReportFiles;

/// Reads a previous run's report to compare with.
pub fn read_baseline(path: &Path) -> Result<BenchReport> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Results {
        path: path.to_owned(),
        action: "cannot read the baseline",
        source,
    })?;
    BenchReport::from_json(&text).map_err(|source| Error::Baseline {
        path: path.to_owned(),
        source,
    })
}
