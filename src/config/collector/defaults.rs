//! The collector's defaults: the `Default` impls, the only place they live.

use std::net::SocketAddr;
use std::time::Duration;

use super::schema::{
    AudioFormat, CollectorConfig, FieldMatch, FoxgloveConfig, JsonFields, PrometheusConfig,
    ResourcesConfig, SloConfig, StageConfig, DEFAULT_CONFIDENCE_KEY,
};
use crate::core::stage::StageKind;
use crate::core::timeline::Correlation;

impl Default for CollectorConfig {
    fn default() -> Self {
        Self {
            robot_id: "robot".to_owned(),
            namespace: "/vla_perf".to_owned(),
            stages: default_stages(),
            command_timeout: Duration::from_secs(30),
            max_open_commands: 1024,
            windows: vec![
                Duration::from_secs(10),
                Duration::from_secs(60),
                Duration::from_secs(300),
            ],
            significant_digits: 3,
            publish_period: Duration::from_secs(1),
            reorder_window: Duration::from_millis(50),
            slo: SloConfig::default(),
            topics: Vec::new(),
            resources: ResourcesConfig::default(),
            prometheus: PrometheusConfig::default(),
            foxglove: FoxgloveConfig::default(),
            jsonl_path: None,
        }
    }
}

/// The default pipeline: voice -> transcript -> plan -> vision -> action_start -> action_done.
///
/// Chosen to correlate with no cooperation from the stack: audio chunks carry a header
/// stamp that opens the command, the transcript follows in order, the planner's JSON names
/// the command id, and detections and action status follow in order.
fn default_stages() -> Vec<StageConfig> {
    let status_is = |values: &[&str]| FieldMatch {
        field: "status".to_owned(),
        values: values.iter().map(|v| (*v).to_owned()).collect(),
    };
    vec![
        StageConfig::new(
            StageKind::Voice.name(),
            "/audio/utterance",
            "audio_common_msgs/msg/AudioStamped",
            Correlation::HeaderStamp,
        ),
        StageConfig::new(
            StageKind::Transcript.name(),
            "/asr/transcript",
            "std_msgs/msg/String",
            Correlation::Fifo,
        )
        .with_json(JsonFields {
            id: None,
            confidence: Some(DEFAULT_CONFIDENCE_KEY.to_owned()),
            status: None,
        }),
        StageConfig {
            failure: Some(status_is(&["rejected", "failed"])),
            ..StageConfig::new(
                StageKind::Plan.name(),
                "/planner/plan",
                "std_msgs/msg/String",
                Correlation::Id {
                    field: "command_id".to_owned(),
                },
            )
            .with_json(JsonFields {
                id: Some("command_id".to_owned()),
                confidence: None,
                status: Some("status".to_owned()),
            })
        },
        StageConfig::new(
            StageKind::Vision.name(),
            "/vision/detections",
            "vision_msgs/msg/Detection2DArray",
            Correlation::Fifo,
        ),
        StageConfig {
            accept: Some(status_is(&["2"])),
            ..StageConfig::new(
                StageKind::ActionStart.name(),
                "/execute_plan/_action/status",
                "action_msgs/msg/GoalStatusArray",
                Correlation::Fifo,
            )
        },
        StageConfig {
            accept: Some(status_is(&["4", "5", "6"])),
            failure: Some(status_is(&["5", "6"])),
            ..StageConfig::new(
                StageKind::ActionDone.name(),
                "/execute_plan/_action/status",
                "action_msgs/msg/GoalStatusArray",
                Correlation::Fifo,
            )
        },
    ]
}

impl Default for SloConfig {
    fn default() -> Self {
        Self {
            threshold: Duration::from_secs(5),
            target: 0.95,
        }
    }
}

impl Default for AudioFormat {
    fn default() -> Self {
        Self {
            sample_format: "S16LE".to_owned(),
            channels: 1,
        }
    }
}

impl Default for ResourcesConfig {
    fn default() -> Self {
        Self {
            period: Duration::from_secs(1),
            processes: Vec::new(),
            gpu: true,
        }
    }
}

impl Default for PrometheusConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 9464)),
        }
    }
}

impl Default for FoxgloveConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            listen: SocketAddr::from(([127, 0, 0, 1], 8765)),
            stack_topics: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_collector;

    fn parse(text: &str) -> crate::config::Result<CollectorConfig> {
        parse_collector("test.yaml", text).map(|loaded| loaded.config)
    }

    #[test]
    fn an_empty_collector_block_takes_every_default() {
        assert_eq!(
            parse("collector: {}\n").unwrap(),
            CollectorConfig::default()
        );
    }

    #[test]
    fn the_default_pipeline_has_six_stages_in_order() {
        let names: Vec<String> = CollectorConfig::default()
            .to_tracker_stages()
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(
            names,
            [
                "voice",
                "transcript",
                "plan",
                "vision",
                "action_start",
                "action_done"
            ]
        );
    }

    #[test]
    fn foxglove_is_off_on_loopback_unless_configured_and_a_bad_listen_is_located() {
        let default = CollectorConfig::default().foxglove;
        assert!(!default.enabled && !default.stack_topics);
        assert_eq!(default.listen, SocketAddr::from(([127, 0, 0, 1], 8765)));
        let on = parse("collector:\n  foxglove: {enabled: true, listen: \"0.0.0.0:9000\"}\n")
            .unwrap()
            .foxglove;
        assert!(on.enabled);
        assert_eq!(on.listen, SocketAddr::from(([0, 0, 0, 0], 9000)));
        let err = parse("collector:\n  foxglove:\n    listen: localhost:99999\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("test.yaml:3:")
                && err.contains("collector.foxglove.listen")
                && err.contains("localhost:99999"),
            "{err}"
        );
        let err = parse("collector:\n  foxglove:\n    port: 8765\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("port"), "{err}");
    }
}
