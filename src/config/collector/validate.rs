//! The rules serde cannot express (names, ranges, agreement between fields), reported
//! with the field's path, and the syntax checks other config files share.

use std::time::Duration;

use super::schema::{
    CollectorConfig, FieldMatch, JsonFields, QosProfile, StageConfig, WatchedTopic,
};
use crate::config::duration::format_duration;
use crate::config::yaml::{Checker, FieldPath};
use crate::core::timeline::Correlation;

/// Message types known to have no `std_msgs/Header`, so header-stamp correlation is
/// impossible on them.
const HEADERLESS_TYPES: &[&str] = &["std_msgs/msg/String", "action_msgs/msg/GoalStatusArray"];

impl CollectorConfig {
    /// Checks the rules serde cannot express; `at` is the path of this config in the file.
    pub(crate) fn validate(&self, at: &FieldPath, check: &mut Checker) {
        if !is_identifier(&self.robot_id) {
            check.error(at.key("robot_id"), &self.robot_id, ROBOT_ID_RULE);
        }
        if !is_namespace(&self.namespace) {
            check.error(at.key("namespace"), &self.namespace, NAMESPACE_RULE);
        }
        self.validate_stages(&at.key("stages"), check);
        self.validate_timing(at, check);
        for (i, topic) in self.topics.iter().enumerate() {
            topic.validate(&at.key("topics").index(i), check);
        }
        positive(
            check,
            at.key("resources").key("period"),
            self.resources.period,
        );
        for (i, process) in self.resources.processes.iter().enumerate() {
            if process.trim().is_empty() {
                check.error(
                    at.key("resources").key("processes").index(i),
                    process,
                    "process name must not be empty",
                );
            }
        }
        if let Some(path) = &self.jsonl_path {
            if path.as_os_str().is_empty() {
                check.error(at.key("jsonl_path"), "", "jsonl_path must not be empty");
            }
        }
    }

    /// At least one stage, each valid, no two with one name.
    fn validate_stages(&self, stages: &FieldPath, check: &mut Checker) {
        if self.stages.is_empty() {
            check.error(stages.clone(), "[]", "at least one stage is required");
        }
        for (i, stage) in self.stages.iter().enumerate() {
            stage.validate(&stages.index(i), check);
            if let Some(first) = self.stages[..i].iter().position(|s| s.name == stage.name) {
                check.error(
                    stages.index(i).key("name"),
                    &stage.name,
                    format!("duplicate stage name; stages[{first}] has the same name"),
                );
            }
        }
    }

    /// Timeouts, limits, statistics windows, periods and the objective.
    fn validate_timing(&self, at: &FieldPath, check: &mut Checker) {
        positive(check, at.key("command_timeout"), self.command_timeout);
        if self.max_open_commands == 0 {
            check.error(
                at.key("max_open_commands"),
                0,
                "max_open_commands must be > 0",
            );
        }
        if self.windows.is_empty() {
            check.error(
                at.key("windows"),
                "[]",
                "at least one statistics window is required",
            );
        }
        for (i, window) in self.windows.iter().enumerate() {
            positive(check, at.key("windows").index(i), *window);
            if self.windows[..i].contains(window) {
                check.error(
                    at.key("windows").index(i),
                    format_duration(*window),
                    "duplicate window",
                );
            }
        }
        if !(1..=5).contains(&self.significant_digits) {
            check.error(
                at.key("significant_digits"),
                self.significant_digits,
                "significant_digits must be between 1 and 5",
            );
        }
        positive(check, at.key("publish_period"), self.publish_period);
        if self.reorder_window > Duration::from_secs(1) {
            check.error(
                at.key("reorder_window"),
                format_duration(self.reorder_window),
                "reorder_window delays every output and must be at most 1s",
            );
        }
        positive(check, at.key("slo").key("threshold"), self.slo.threshold);
        if !(self.slo.target > 0.0 && self.slo.target <= 1.0) {
            check.error(
                at.key("slo").key("target"),
                self.slo.target,
                "slo.target is a fraction of commands and must be in (0, 1]",
            );
        }
    }

    /// Sets `robot_id` (a node parameter overriding the file), checked as the file's is.
    pub fn set_robot_id(&mut self, robot_id: &str) -> std::result::Result<(), String> {
        if !is_identifier(robot_id) {
            return Err(format!("{robot_id:?}: {ROBOT_ID_RULE}"));
        }
        robot_id.clone_into(&mut self.robot_id);
        Ok(())
    }

    /// Sets `namespace` (a node parameter overriding the file), checked as the file's is.
    pub fn set_namespace(&mut self, namespace: &str) -> std::result::Result<(), String> {
        if !is_namespace(namespace) {
            return Err(format!("{namespace:?}: {NAMESPACE_RULE}"));
        }
        namespace.clone_into(&mut self.namespace);
        Ok(())
    }
}

impl StageConfig {
    fn validate(&self, at: &FieldPath, check: &mut Checker) {
        if !is_identifier(&self.name) {
            check.error(
                at.key("name"),
                &self.name,
                "stage name must be an identifier ([A-Za-z_][A-Za-z0-9_]*)",
            );
        }
        check_topic(check, at.key("topic"), &self.topic);
        check_msg_type(check, at.key("msg_type"), &self.msg_type);
        check_qos(check, at.key("qos"), self.qos.as_deref());
        check_depth(check, at.key("qos_depth"), self.qos_depth);
        match &self.correlation {
            Correlation::Id { field } if !is_field_path(field) => check.error(
                at.key("correlation").key("field"),
                field,
                "correlation field must be a dotted path such as `meta.command_id`",
            ),
            Correlation::HeaderStamp if HEADERLESS_TYPES.contains(&self.msg_type.as_str()) => check
                .error(
                    at.key("correlation").key("mode"),
                    "header_stamp",
                    format!(
                        "{} has no header; correlate with `id` or `fifo`",
                        self.msg_type
                    ),
                ),
            _ => {}
        }
        if let Some(json) = &self.json {
            self.validate_json(json, &at.key("json"), check);
        }
        for (name, rule) in [("accept", &self.accept), ("failure", &self.failure)] {
            if let Some(rule) = rule {
                rule.validate(&at.key(name), check);
            }
        }
        if let Some(rate) = self.expected_rate_hz {
            positive_rate(check, at.key("expected_rate_hz"), rate);
        }
    }

    /// A JSON block belongs on string payloads, names dotted keys, and reads the id from the
    /// correlation field.
    fn validate_json(&self, json: &JsonFields, at: &FieldPath, check: &mut Checker) {
        if self.msg_type != "std_msgs/msg/String" {
            check.error(
                at.clone(),
                &self.msg_type,
                "a json block is only meaningful for std_msgs/msg/String payloads",
            );
        }
        for (name, key) in json.keys() {
            if let Some(key) = key {
                if !is_field_path(key) {
                    check.error(
                        at.key(name),
                        key,
                        "must be a dotted key path such as `meta.command_id`",
                    );
                }
            }
        }
        if let (Some(id), Correlation::Id { field }) = (&json.id, &self.correlation) {
            if id != field {
                check.error(
                    at.key("id"),
                    id,
                    format!(
                        "differs from correlation.field `{field}`; the id is read from one key"
                    ),
                );
            }
        }
    }
}

impl FieldMatch {
    fn validate(&self, at: &FieldPath, check: &mut Checker) {
        if !is_field_path(&self.field) {
            check.error(at.key("field"), &self.field, "must be a dotted field path");
        }
        if self.values.is_empty() {
            check.error(at.key("values"), "[]", "at least one value is required");
        }
    }
}

impl WatchedTopic {
    fn validate(&self, path: &FieldPath, check: &mut Checker) {
        check_topic(check, path.key("topic"), &self.topic);
        check_msg_type(check, path.key("msg_type"), &self.msg_type);
        if let Some(rate) = self.expected_rate_hz {
            positive_rate(check, path.key("expected_rate_hz"), rate);
        }
        if let Some(stale) = self.stale_after {
            positive(check, path.key("stale_after"), stale);
        }
        check_qos(check, path.key("qos"), self.qos.as_deref());
        check_depth(check, path.key("qos_depth"), self.qos_depth);
        if let Some(audio) = &self.audio {
            let path = path.key("audio");
            if !crate::msg::audio_common_msgs::is_audio(&self.msg_type) {
                check.error(
                    path.clone(),
                    &self.msg_type,
                    "audio applies only to audio_common_msgs/msg/AudioData and \
                     audio_common_msgs/msg/AudioDataStamped topics",
                );
            }
            if audio.sample_bytes().is_none() {
                check.error(
                    path.key("sample_format"),
                    &audio.sample_format,
                    "sample_format must be like S16LE, U8, S24LE, S32LE, F32LE or F64LE",
                );
            }
            if audio.channels == 0 {
                check.error(path.key("channels"), 0, "channels must be at least 1");
            }
        }
    }
}

fn positive(check: &mut Checker, field: FieldPath, value: Duration) {
    if value.is_zero() {
        check.error(field, format_duration(value), "must be greater than zero");
    }
}

fn positive_rate(check: &mut Checker, field: FieldPath, rate: f64) {
    if !(rate.is_finite() && rate > 0.0) {
        check.error(
            field,
            rate,
            "rate must be a finite number of Hz greater than zero",
        );
    }
}

fn check_topic(check: &mut Checker, field: FieldPath, topic: &str) {
    if !is_topic(topic) {
        check.error(
            field,
            topic,
            "not a valid ROS topic name (letters, digits, `_`, `/`; no `//`, no trailing `/`)",
        );
    }
}

fn check_qos(check: &mut Checker, field: FieldPath, qos: Option<&str>) {
    if let Some(name) = qos {
        if QosProfile::by_name(name).is_none() {
            check.error(
                field,
                name,
                "qos must be one of reliable, sensor_data (best_effort), latched (transient_local)",
            );
        }
    }
}

fn check_depth(check: &mut Checker, field: FieldPath, depth: Option<usize>) {
    if let Some(depth) = depth.filter(|d| !(1..=10_000).contains(d)) {
        check.error(field, depth, "qos_depth must be from 1 to 10000");
    }
}

fn check_msg_type(check: &mut Checker, field: FieldPath, msg_type: &str) {
    let parts: Vec<&str> = msg_type.split('/').collect();
    let valid = parts.len() == 3
        && parts[1] == "msg"
        && is_identifier(parts[0])
        && parts[2]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_uppercase())
        && is_identifier(parts[2]);
    if !valid {
        check.error(
            field,
            msg_type,
            "message type must be `package/msg/Type`, e.g. `std_msgs/msg/String`",
        );
    }
}

const ROBOT_ID_RULE: &str = "robot_id must be a non-empty identifier ([A-Za-z_][A-Za-z0-9_]*)";
const NAMESPACE_RULE: &str = "namespace must be an absolute ROS name such as `/vla_perf`";

/// An absolute topic namespace (`/vla_perf`).
fn is_namespace(text: &str) -> bool {
    text.starts_with('/') && is_topic(text)
}

/// `[A-Za-z_][A-Za-z0-9_]*`.
pub(crate) fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Dot-separated non-empty keys (`meta.command_id`, `goal_info.goal_id`).
fn is_field_path(text: &str) -> bool {
    crate::core::extract::JsonPath::parse(text).is_ok()
}

/// A ROS 2 topic name, absolute or relative (`/asr/transcript`, `~/status`).
pub(crate) fn is_topic(text: &str) -> bool {
    let body = text
        .strip_prefix("~/")
        .or_else(|| text.strip_prefix('/'))
        .unwrap_or(text);
    !body.is_empty()
        && !body.ends_with('/')
        && body.split('/').all(|token| {
            token
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && token.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_collector;

    fn parse(text: &str) -> crate::config::Result<CollectorConfig> {
        parse_collector("test.yaml", text).map(|loaded| loaded.config)
    }

    #[test]
    fn header_stamp_on_a_headerless_type_is_rejected_at_the_mode() {
        let error = parse(
            "collector:\n  stages:\n    - name: t\n      topic: /t\n      msg_type: std_msgs/msg/String\n      correlation: {mode: header_stamp}\n",
        )
        .unwrap_err();
        assert_eq!(error.field(), Some("collector.stages[0].correlation.mode"));
        assert_eq!(error.position(), Some((6, 27)));
        assert!(error.to_string().contains("has no header"), "{error}");
    }

    #[test]
    fn json_id_must_agree_with_the_correlation_field() {
        let error = parse(
            "collector:\n  stages:\n    - name: p\n      topic: /p\n      msg_type: std_msgs/msg/String\n      correlation: {mode: id, field: a}\n      json: {id: b}\n",
        )
        .unwrap_err();
        assert_eq!(error.field(), Some("collector.stages[0].json.id"));
    }

    #[test]
    fn topic_and_type_syntax_is_checked() {
        assert!(is_topic("/asr/transcript"));
        assert!(is_topic("~/status"));
        assert!(is_topic("relative/name"));
        assert!(!is_topic("/a//b"));
        assert!(!is_topic("/a/"));
        assert!(!is_topic("/1a"));
        assert!(!is_topic("/has space"));
        let mut check = Checker::default();
        check_msg_type(&mut check, FieldPath::root(), "std_msgs/String");
        check_msg_type(&mut check, FieldPath::root(), "std_msgs/msg/String");
        assert_eq!(check.errors.len(), 1);
    }
}
