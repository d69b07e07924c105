//! Per-command timelines as CSV, streamed row by row (memory does not grow with commands)
//! into a temporary file that is renamed into place when complete.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use super::{temp_path, Error, Result};
use crate::msg::builtin_interfaces::Time;
use crate::msg::CommandLatency;

/// A CSV file of finished commands: id, outcome, failed stage, start, end (seconds since
/// the epoch), end to end and each stage's latency (seconds; empty where undefined).
pub struct CommandTable {
    path: PathBuf,
    tmp: PathBuf,
    stages: Vec<String>,
    writer: Option<csv::Writer<BufWriter<File>>>,
    rows: u64,
}

fn stamp(t: &Time) -> String {
    format!("{}.{:09}", t.sec, t.nanosec)
}

fn seconds(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.9}")
    } else {
        String::new()
    }
}

impl CommandTable {
    /// Starts a table for a pipeline of `stages` (the first one has no latency column).
    pub fn create(path: &Path, stages: &[String]) -> Result<Self> {
        let tmp = temp_path(path);
        let file = File::create(&tmp).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut writer = csv::Writer::from_writer(BufWriter::new(file));
        let mut header: Vec<String> = [
            "command_id",
            "outcome",
            "failed_stage",
            "start",
            "end",
            "end_to_end",
        ]
        .map(String::from)
        .to_vec();
        header.extend(stages.iter().skip(1).cloned());
        let csv_err = |source| Error::Csv {
            path: path.to_owned(),
            source,
        };
        writer.write_record(&header).map_err(csv_err)?;
        Ok(Self {
            path: path.to_owned(),
            tmp,
            stages: stages.to_vec(),
            writer: Some(writer),
            rows: 0,
        })
    }

    /// Appends one finished command.
    pub fn push(&mut self, cmd: &CommandLatency) -> Result<()> {
        let outcome = CommandLatency::outcome_of(cmd.outcome)
            .unwrap_or(crate::core::timeline::Outcome::Abandoned)
            .as_str();
        let mut row = vec![
            cmd.command_id.clone(),
            outcome.to_owned(),
            cmd.failed_stage.clone(),
            stamp(&cmd.started),
            stamp(&cmd.ended),
            seconds(cmd.end_to_end),
        ];
        for name in self.stages.iter().skip(1) {
            let latency = cmd
                .stages
                .iter()
                .find(|s| &s.stage == name)
                .map_or(f64::NAN, |s| s.latency);
            row.push(seconds(latency));
        }
        let path = &self.path;
        if let Some(writer) = self.writer.as_mut() {
            writer.write_record(&row).map_err(|source| Error::Csv {
                path: path.clone(),
                source,
            })?;
        }
        self.rows += 1;
        Ok(())
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Flushes and renames the table into place.
    pub fn finish(mut self) -> Result<PathBuf> {
        let path = self.path.clone();
        let io = |source| Error::Io {
            path: path.clone(),
            source,
        };
        if let Some(writer) = self.writer.take() {
            let inner = writer.into_inner().map_err(|e| io(e.into_error()))?;
            // On disk before the rename makes it visible.
            let file = inner.into_inner().map_err(|e| io(e.into_error()))?;
            file.sync_all().map_err(io)?;
        }
        std::fs::rename(&self.tmp, &self.path).map_err(io)?;
        Ok(path)
    }
}

impl Drop for CommandTable {
    fn drop(&mut self) {
        // Unfinished (an error stopped the run): leave no temporary behind. After `finish`
        // the temporary has been renamed and this removes nothing.
        let _ = std::fs::remove_file(&self.tmp);
    }
}
