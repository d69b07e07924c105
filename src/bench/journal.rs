//! The run's journal: one JSON line per finished item, and appends to the results
//! directory's line files, each flushed to disk at once so a killed run loses nothing.

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::{Error, Result};

/// Appends one JSON line per finished item, flushed to disk at once.
pub(super) struct Journal {
    pub(super) path: PathBuf,
    file: File,
    /// The first write that failed, if any.
    pub(super) error: Option<std::io::Error>,
}

impl Journal {
    pub(super) fn create(path: PathBuf) -> Result<Self> {
        let file = File::options()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|source| Error::Results {
                path: path.clone(),
                action: "cannot create",
                source,
            })?;
        Ok(Self {
            path,
            file,
            error: None,
        })
    }

    pub(super) fn append(&mut self, suite: &str, item: &serde_json::Value) {
        let line = serde_json::json!({"suite": suite, "item": item}).to_string();
        let written = write_synced(&mut self.file, &[line]);
        if let Err(e) = written {
            if self.error.is_none() {
                tracing::error!("benchmark: {}: {e}", self.path.display());
            }
            self.error = Some(e);
        }
    }
}

/// Writes `lines` in one write call (a kill cannot tear one line apart from the next
/// write of the same process) and flushes them to disk.
fn write_synced(file: &mut File, lines: &[String]) -> std::io::Result<()> {
    let mut buf = String::new();
    for line in lines {
        buf.push_str(line);
        buf.push('\n');
    }
    file.write_all(buf.as_bytes())?;
    file.sync_data()
}

/// Appends `lines` to `path` and flushes them to disk.
pub(super) fn append_lines(path: &Path, lines: &[String]) -> Result<()> {
    let error = |action| {
        move |source| Error::Results {
            path: path.to_owned(),
            action,
            source,
        }
    };
    let mut file = File::options()
        .create(true)
        .append(true)
        .open(path)
        .map_err(error("cannot open"))?;
    write_synced(&mut file, lines).map_err(error("cannot write"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_journal_appends_one_json_line_per_item() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("commands.jsonl");
        let mut j = Journal::create(path.clone()).unwrap();
        j.append("end_to_end", &serde_json::json!({"command": 0}));
        j.append("end_to_end", &serde_json::json!({"command": 1}));
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1]["item"]["command"], 1);
        assert!(j.error.is_none());
    }
}
