//! The computed vla_perf messages as an MCAP file a ROS 2 tool can play beside the
//! recording: `ros2` profile, `ros2msg` schemas ([`crate::msg::definition`]) and CDR
//! payloads. Written to a temporary file and renamed into place when complete.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mcap::records::MessageHeader;

use super::{Error, McapOutError, Result};
use crate::collector::pipeline::Batch;
use crate::config::CollectorConfig;
use crate::msg::builtin_interfaces::Time;
use crate::msg::cdr::to_cdr;
use crate::msg::definition::definition;
use crate::msg::diagnostic_msgs::DiagnosticArray;
use crate::msg::std_msgs::Header;
use crate::msg::{CommandLatency, MessageDescription, MetricArray, RosMessage};

/// A ROS 2 MCAP file being written: `ros2` profile, `ros2msg` schemas, CDR payloads.
/// Written to a temporary file and renamed into place by [`McapFile::finish`]; dropped
/// unfinished, it leaves nothing behind.
pub struct McapFile {
    path: PathBuf,
    tmp: PathBuf,
    writer: Option<mcap::Writer<BufWriter<File>>>,
    sequence: u32,
}

impl McapFile {
    /// Starts the file at `path`.
    pub fn create(path: &Path) -> std::result::Result<Self, McapOutError> {
        let tmp = crate::report::temp_path(path);
        let file = File::create(&tmp)?;
        let writer = mcap::WriteOptions::new()
            .profile("ros2")
            .library(format!("vla-perf {}", env!("CARGO_PKG_VERSION")))
            .create(BufWriter::new(file))?;
        Ok(Self {
            path: path.to_owned(),
            tmp,
            writer: Some(writer),
            sequence: 0,
        })
    }

    /// The file it becomes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Declares `topic` of ROS type `type_name` with its `ros2msg` definition (empty when
    /// unknown); returns the channel to write to.
    pub fn channel(
        &mut self,
        topic: &str,
        type_name: &str,
        definition: &str,
    ) -> std::result::Result<u16, McapOutError> {
        let writer = self.writer.as_mut().ok_or(McapOutError::Finished)?;
        let schema = writer.add_schema(type_name, "ros2msg", definition.as_bytes())?;
        Ok(writer.add_channel(schema, topic, "cdr", &BTreeMap::new())?)
    }

    /// One message (CDR with encapsulation header) logged and published at `at`.
    pub fn write(
        &mut self,
        channel: u16,
        at: Duration,
        data: &[u8],
    ) -> std::result::Result<(), McapOutError> {
        self.sequence = self.sequence.wrapping_add(1);
        let nanos = u64::try_from(at.as_nanos()).unwrap_or(u64::MAX);
        let header = MessageHeader {
            channel_id: channel,
            sequence: self.sequence,
            log_time: nanos,
            publish_time: nanos,
        };
        let writer = self.writer.as_mut().ok_or(McapOutError::Finished)?;
        writer.write_to_known_channel(&header, data)?;
        Ok(())
    }

    /// Writes the summary, syncs and renames the file into place.
    pub fn finish(mut self) -> std::result::Result<PathBuf, McapOutError> {
        if let Some(mut writer) = self.writer.take() {
            writer.finish()?;
            let inner = writer.into_inner();
            // On disk before the rename makes it visible.
            let file = inner.into_inner().map_err(|e| e.into_error())?;
            file.sync_all()?;
        }
        std::fs::rename(&self.tmp, &self.path)?;
        Ok(self.path.clone())
    }
}

impl Drop for McapFile {
    fn drop(&mut self) {
        // Unfinished: leave no temporary behind (after `finish` it was renamed away).
        if self.writer.is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// An MCAP file of CommandLatency, MetricArray (metrics and topic health) and
/// DiagnosticArray messages, on the collector's topics.
pub struct McapOut {
    file: McapFile,
    robot_id: String,
    command: u16,
    metrics: u16,
    health: u16,
    diagnostics: u16,
}

impl McapOut {
    /// Starts the file, declaring the collector's output topics under `config.namespace`.
    pub fn create(path: &Path, config: &CollectorConfig) -> Result<Self> {
        let err = |source: McapOutError| Error::McapOut {
            path: path.to_owned(),
            source,
        };
        let mut file = McapFile::create(path).map_err(err)?;
        let ns = config.namespace.trim_end_matches('/');
        let mut channel = |topic: String, d: MessageDescription| -> Result<u16> {
            file.channel(&topic, d.type_name, &definition(&d))
                .map_err(err)
        };
        let command = channel(format!("{ns}/command_latency"), CommandLatency::DESCRIPTION)?;
        let metrics = channel(format!("{ns}/metrics"), MetricArray::DESCRIPTION)?;
        let health = channel(format!("{ns}/topic_health"), MetricArray::DESCRIPTION)?;
        let diagnostics = channel("/diagnostics".into(), DiagnosticArray::DESCRIPTION)?;
        Ok(Self {
            file,
            robot_id: config.robot_id.clone(),
            command,
            metrics,
            health,
            diagnostics,
        })
    }

    fn write<T: RosMessage>(&mut self, channel: u16, at: Duration, message: &T) -> Result<()> {
        let written = to_cdr(message)
            .map_err(McapOutError::from)
            .and_then(|data| self.file.write(channel, at, &data));
        written.map_err(|source| Error::McapOut {
            path: self.file.path().to_owned(),
            source,
        })
    }

    /// One finished command, logged at its end time.
    pub fn command(&mut self, cmd: &CommandLatency) -> Result<()> {
        let at = cmd.ended.to_duration().unwrap_or_default();
        self.write(self.command, at, cmd)
    }

    /// The periodic batches at bag time `at`.
    pub fn snapshot(&mut self, at: Duration, metrics: &Batch, health: &Batch) -> Result<()> {
        let header = Header {
            stamp: Time::from(at),
            frame_id: String::new(),
        };
        let array = |m: &Batch| MetricArray {
            header: header.clone(),
            robot_id: self.robot_id.clone(),
            metrics: m.metrics.clone(),
        };
        let (m, h) = (array(metrics), array(health));
        self.write(self.metrics, at, &m)?;
        self.write(self.health, at, &h)?;
        let diagnostics = DiagnosticArray {
            header,
            status: metrics
                .status
                .iter()
                .chain(&health.status)
                .cloned()
                .collect(),
        };
        self.write(self.diagnostics, at, &diagnostics)
    }

    /// Writes the summary and renames the file into place.
    pub fn finish(self) -> Result<PathBuf> {
        let path = self.file.path().to_owned();
        self.file
            .finish()
            .map_err(|source| Error::McapOut { path, source })
    }
}
