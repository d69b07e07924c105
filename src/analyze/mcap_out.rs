//! The computed vla_perf messages as an MCAP file a ROS 2 tool can play beside the
//! recording: `ros2` profile, `ros2msg` schemas (the message definition followed by every
//! type it uses, each after a line of 80 `=` and `MSG: pkg/Type`, as rosbag2 writes them)
//! and CDR payloads. Written to a temporary file and renamed into place when complete.

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
use crate::msg::diagnostic_msgs::DiagnosticArray;
use crate::msg::std_msgs::Header;
use crate::msg::{
    CommandLatency, MessageDescription, MetricArray, RosMessage, STANDARD_MESSAGES,
    VLA_PERF_MESSAGES,
};

const PRIMITIVES: [&str; 17] = [
    "bool", "byte", "char", "float32", "float64", "int8", "uint8", "int16", "uint16", "int32",
    "uint32", "int64", "uint64", "string", "wstring", "octet", "duration",
];

/// The type a field's ROS type refers to (`StageLatency[]` in package vla_perf ->
/// `vla_perf/msg/StageLatency`), or `None` for a primitive.
fn referenced_type(ros_type: &str, package: &str) -> Option<String> {
    let base = ros_type.split(['[', '<']).next().unwrap_or(ros_type).trim();
    if PRIMITIVES.contains(&base) {
        return None;
    }
    Some(match base.split_once('/') {
        Some((pkg, name)) => format!("{pkg}/msg/{}", name.rsplit('/').next().unwrap_or(name)),
        None if base == "Header" => "std_msgs/msg/Header".into(),
        None => format!("{package}/msg/{base}"),
    })
}

fn description(type_name: &str) -> Option<&'static MessageDescription> {
    VLA_PERF_MESSAGES
        .iter()
        .chain(STANDARD_MESSAGES)
        .find(|d| d.type_name == type_name)
}

/// A message's own `.msg` text: constants, then fields.
fn own_definition(d: &MessageDescription) -> String {
    let mut text = String::new();
    for c in d.constants {
        text.push_str(&format!("{} {}={}\n", c.ros_type, c.name, c.value));
    }
    for f in d.fields {
        text.push_str(&format!("{} {}\n", f.ros_type, f.name));
    }
    text
}

/// The full `ros2msg` schema of `d`: its definition and every type it uses, depth first.
pub fn definition(d: &MessageDescription) -> String {
    fn collect(d: &MessageDescription, seen: &mut Vec<&'static MessageDescription>) {
        for f in d.fields {
            let Some(name) = referenced_type(f.ros_type, d.package()) else {
                continue;
            };
            if let Some(dep) = description(&name) {
                if !seen.iter().any(|s| s.type_name == dep.type_name) {
                    seen.push(dep);
                    collect(dep, seen);
                }
            }
        }
    }
    let mut deps = Vec::new();
    collect(d, &mut deps);
    let mut text = own_definition(d);
    for dep in deps {
        text.push_str(&"=".repeat(80));
        text.push('\n');
        text.push_str(&format!("MSG: {}\n", dep.type_name.replace("/msg/", "/")));
        text.push_str(&own_definition(dep));
    }
    text
}

/// An MCAP file of CommandLatency, MetricArray (metrics and topic health) and
/// DiagnosticArray messages, on the collector's topics.
pub struct McapOut {
    path: PathBuf,
    tmp: PathBuf,
    writer: Option<mcap::Writer<BufWriter<File>>>,
    robot_id: String,
    command: u16,
    metrics: u16,
    health: u16,
    diagnostics: u16,
    sequence: u32,
}

impl McapOut {
    /// Starts the file, declaring the collector's output topics under `config.namespace`.
    pub fn create(path: &Path, config: &CollectorConfig) -> Result<Self> {
        let tmp = crate::report::temp_path(path);
        let err = |source: McapOutError| Error::McapOut {
            path: path.to_owned(),
            source,
        };
        let file = File::create(&tmp).map_err(|e| err(e.into()))?;
        let mut writer = mcap::WriteOptions::new()
            .profile("ros2")
            .library(format!("vla-perf {}", env!("CARGO_PKG_VERSION")))
            .create(BufWriter::new(file))
            .map_err(|e| err(e.into()))?;
        let ns = config.namespace.trim_end_matches('/');
        let mut channel = |topic: String, d: MessageDescription| -> Result<u16> {
            let schema = writer
                .add_schema(d.type_name, "ros2msg", definition(&d).as_bytes())
                .map_err(|e| err(e.into()))?;
            writer
                .add_channel(schema, &topic, "cdr", &BTreeMap::new())
                .map_err(|e| err(e.into()))
        };
        let command = channel(format!("{ns}/command_latency"), CommandLatency::DESCRIPTION)?;
        let metrics = channel(format!("{ns}/metrics"), MetricArray::DESCRIPTION)?;
        let health = channel(format!("{ns}/topic_health"), MetricArray::DESCRIPTION)?;
        let diagnostics = channel("/diagnostics".into(), DiagnosticArray::DESCRIPTION)?;
        Ok(Self {
            path: path.to_owned(),
            tmp,
            writer: Some(writer),
            robot_id: config.robot_id.clone(),
            command,
            metrics,
            health,
            diagnostics,
            sequence: 0,
        })
    }

    fn write<T: RosMessage>(&mut self, channel: u16, at: Duration, message: &T) -> Result<()> {
        let err = |source: McapOutError| Error::McapOut {
            path: self.path.clone(),
            source,
        };
        let data = to_cdr(message).map_err(|e| err(e.into()))?;
        self.sequence = self.sequence.wrapping_add(1);
        let nanos = u64::try_from(at.as_nanos()).unwrap_or(u64::MAX);
        let header = MessageHeader {
            channel_id: channel,
            sequence: self.sequence,
            log_time: nanos,
            publish_time: nanos,
        };
        if let Some(writer) = self.writer.as_mut() {
            writer
                .write_to_known_channel(&header, &data)
                .map_err(|e| err(e.into()))?;
        }
        Ok(())
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
    pub fn finish(mut self) -> Result<PathBuf> {
        let err = |source: McapOutError| Error::McapOut {
            path: self.path.clone(),
            source,
        };
        if let Some(mut writer) = self.writer.take() {
            writer.finish().map_err(|e| err(e.into()))?;
            let inner = writer.into_inner();
            // On disk before the rename makes it visible.
            let file = inner.into_inner().map_err(|e| err(e.into_error().into()))?;
            file.sync_all().map_err(|e| err(e.into()))?;
        }
        std::fs::rename(&self.tmp, &self.path).map_err(|e| err(e.into()))?;
        Ok(self.path.clone())
    }
}

impl Drop for McapOut {
    fn drop(&mut self) {
        // Unfinished: leave no temporary behind (after `finish` it was renamed away).
        let _ = std::fs::remove_file(&self.tmp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schema_lists_every_used_type_once_after_its_own_definition() {
        let text = definition(&CommandLatency::DESCRIPTION);
        assert!(text.starts_with("uint8 OUTCOME_SUCCEEDED=0\n"), "{text}");
        for dep in [
            "MSG: std_msgs/Header\n",
            "MSG: builtin_interfaces/Time\n",
            "MSG: vla_perf/StageLatency\n",
        ] {
            assert_eq!(text.matches(dep).count(), 1, "{dep} in\n{text}");
        }
        assert_eq!(text.matches(&"=".repeat(80)).count(), 3);
        let diag = definition(&DiagnosticArray::DESCRIPTION);
        assert!(diag.contains("MSG: diagnostic_msgs/KeyValue\n"), "{diag}");
    }

    #[test]
    fn field_types_resolve_to_full_names() {
        assert_eq!(referenced_type("float64[]", "vla_perf"), None);
        assert_eq!(referenced_type("string<=10", "vla_perf"), None);
        assert_eq!(
            referenced_type("StageLatency[]", "vla_perf").as_deref(),
            Some("vla_perf/msg/StageLatency")
        );
        assert_eq!(
            referenced_type("std_msgs/Header", "vla_perf").as_deref(),
            Some("std_msgs/msg/Header")
        );
    }
}
