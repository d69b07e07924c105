//! What `vla-perf discover` heard, kept as an MCAP recording (`--record FILE`), so that the
//! same traffic can be discovered again offline (`--from FILE`) or analysed
//! (`vla-perf analyze`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::analyze::mcap_out::McapFile;
use crate::analyze::McapOutError;
use crate::msg::definition::{definition, description};

/// Writing the recording failed.
#[derive(Debug, thiserror::Error)]
#[error("{path}: recording: {source}")]
pub struct RecordError {
    /// The recording.
    pub path: PathBuf,
    /// What went wrong.
    #[source]
    pub source: McapOutError,
}

/// An MCAP recording of raw samples, one channel per topic.
pub struct Recording {
    file: McapFile,
    channels: HashMap<String, u16>,
    messages: u64,
}

impl Recording {
    /// Starts the recording at `path` (written in place when finished).
    pub fn create(path: &Path) -> Result<Self, RecordError> {
        let file = McapFile::create(path).map_err(|source| RecordError {
            path: path.to_owned(),
            source,
        })?;
        Ok(Self {
            file,
            channels: HashMap::new(),
            messages: 0,
        })
    }

    fn error(&self, source: McapOutError) -> RecordError {
        RecordError {
            path: self.file.path().to_owned(),
            source,
        }
    }

    /// One sample (CDR with encapsulation header) of `topic`, produced at `at`.
    pub fn message(
        &mut self,
        topic: &str,
        type_name: &str,
        at: Duration,
        cdr: &[u8],
    ) -> Result<(), RecordError> {
        let channel = match self.channels.get(topic) {
            Some(c) => *c,
            None => {
                // The definition of types vla_perf knows; other types get an empty one
                // (rosbag2 readers that decode need the type installed then).
                let text = description(type_name).map(definition).unwrap_or_default();
                let c = self
                    .file
                    .channel(topic, type_name, &text)
                    .map_err(|e| self.error(e))?;
                self.channels.insert(topic.to_owned(), c);
                c
            }
        };
        self.file
            .write(channel, at, cdr)
            .map_err(|e| self.error(e))?;
        self.messages += 1;
        Ok(())
    }

    /// Finishes the file; returns its path and how many messages it holds.
    pub fn finish(self) -> Result<(PathBuf, u64), RecordError> {
        let path = self.file.path().to_owned();
        let messages = self.messages;
        self.file
            .finish()
            .map(|p| (p, messages))
            .map_err(|source| RecordError { path, source })
    }
}
