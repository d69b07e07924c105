//! The collector's config as `vla-perf check-config` prints it: what was understood.

use std::fmt::Write as _;

use super::schema::{CollectorConfig, StageConfig, WatchedTopic};
use crate::config::duration::format_duration;
use crate::core::timeline::Correlation;

impl CollectorConfig {
    /// A readable account of what was understood, for `vla-perf check-config`.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "robot_id: {}   namespace: {}",
            self.robot_id, self.namespace
        );
        let _ = writeln!(out, "stages ({}):", self.stages.len());
        for (i, stage) in self.stages.iter().enumerate() {
            stage_lines(&mut out, i, stage);
        }
        let windows: Vec<String> = self.windows.iter().map(|w| format_duration(*w)).collect();
        let _ = writeln!(
            out,
            "command_timeout: {}   max_open_commands: {}",
            format_duration(self.command_timeout),
            self.max_open_commands
        );
        let _ = writeln!(
            out,
            "windows: [{}]   significant_digits: {}   publish_period: {}   reorder_window: {}",
            windows.join(", "),
            self.significant_digits,
            format_duration(self.publish_period),
            format_duration(self.reorder_window)
        );
        let _ = writeln!(
            out,
            "slo: end-to-end latency <= {} for {}% of commands",
            format_duration(self.slo.threshold),
            self.slo.target * 100.0
        );
        for topic in &self.topics {
            topic_line(&mut out, topic);
        }
        let _ = writeln!(
            out,
            "resources: every {}, processes [{}], gpu {}",
            format_duration(self.resources.period),
            self.resources.processes.join(", "),
            if self.resources.gpu { "on" } else { "off" }
        );
        let _ = writeln!(
            out,
            "prometheus: {}",
            if self.prometheus.enabled {
                format!("http://{}/metrics", self.prometheus.listen)
            } else {
                "disabled".to_owned()
            }
        );
        let _ = writeln!(
            out,
            "foxglove: {}",
            if self.foxglove.enabled {
                format!(
                    "ws://{}{}",
                    self.foxglove.listen,
                    if self.foxglove.stack_topics {
                        ", with the stack topics"
                    } else {
                        ""
                    }
                )
            } else {
                "disabled".to_owned()
            }
        );
        if let Some(path) = &self.jsonl_path {
            let _ = writeln!(out, "jsonl: {}", path.display());
        }
        out
    }
}

/// A stage's lines: number, name, topic, type, correlation, then its JSON keys, filters
/// and expected rate when it has them.
fn stage_lines(out: &mut String, i: usize, stage: &StageConfig) {
    let _ = writeln!(
        out,
        "  {}. {:<13} {:<32} {:<38} correlation: {}",
        i + 1,
        stage.name,
        stage.topic,
        stage.msg_type,
        correlation_text(&stage.correlation)
    );
    if let Some(json) = &stage.json {
        let keys: Vec<String> = json
            .keys()
            .iter()
            .filter_map(|(name, key)| key.as_ref().map(|k| format!("{name}={k}")))
            .collect();
        let _ = writeln!(out, "     json: {}", keys.join(", "));
    }
    if let Some(accept) = &stage.accept {
        let _ = writeln!(
            out,
            "     accept when {} in [{}]",
            accept.field,
            accept.values.join(", ")
        );
    }
    if let Some(failure) = &stage.failure {
        let _ = writeln!(
            out,
            "     failed when {} in [{}]",
            failure.field,
            failure.values.join(", ")
        );
    }
    if let Some(rate) = stage.expected_rate_hz {
        let _ = writeln!(out, "     expected rate: {rate} Hz");
    }
}

/// A watched topic's line: rate, staleness and audio layout.
fn topic_line(out: &mut String, topic: &WatchedTopic) {
    let rate = topic
        .expected_rate_hz
        .map_or("any rate".to_owned(), |r| format!("{r} Hz"));
    let stale = topic.stale_after.map_or("never stale".to_owned(), |s| {
        format!("stale after {}", format_duration(s))
    });
    let audio = topic.audio_format().map_or(String::new(), |a| {
        format!(", audio {} x {} channel(s)", a.sample_format, a.channels)
    });
    let _ = writeln!(
        out,
        "watched topic: {} ({}) {rate}, {stale}{audio}",
        topic.topic, topic.msg_type
    );
}

/// How a correlation rule reads in a summary.
fn correlation_text(correlation: &Correlation) -> String {
    match correlation {
        Correlation::Id { field } => format!("id ({field})"),
        Correlation::HeaderStamp => "header_stamp".to_owned(),
        Correlation::Fifo => "fifo".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_lists_every_stage_with_topic_type_and_correlation() {
        let summary = CollectorConfig::default().summary();
        assert!(summary.contains("plan"), "{summary}");
        assert!(summary.contains("/planner/plan"));
        assert!(summary.contains("id (command_id)"));
        assert!(summary.contains("windows: [10s, 1m, 5m]"));
        assert!(summary.contains("http://127.0.0.1:9464/metrics"));
    }
}
