//! From the messages of one stage's topic to stage events: the part of the collector that
//! knows message types. Pure: receive times come in as arguments.
//!
//! | type | id | stamp | fields for `accept` / `failure` |
//! |---|---|---|---|
//! | `std_msgs/msg/String` | JSON key (`json.id` or the id correlation field) | none | JSON keys |
//! | `action_msgs/msg/GoalStatusArray` | goal UUID (hex) | goal stamp | `status` |
//! | `vla_perf/msg/StageEvent` | `command_id` | `header.stamp` | `stage`, `phase`, `command_id` |
//! | any type starting with `std_msgs/Header` | `header.frame_id` if configured | `header.stamp` | `header.frame_id` |
//!
//! An action status topic republishes every goal it knows; one event is produced per goal
//! when its status first matches the stage (a bounded memory of goals per stage).

use std::time::Duration;

use super::GoalMemory;
use crate::config::{FieldMatch, StageConfig};
use crate::core::extract::{JsonPath, JsonPayload};
use crate::core::timeline::{Correlation, EventKind, StageEvent};
use crate::msg::action_msgs::GoalStatusArray;
use crate::msg::std_msgs::Header;
use crate::msg::StageEvent as StageEventMsg;

/// Why a message gave no event although it was for this stage.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// A payload that should be JSON is not.
    #[error("{stage}: {source}")]
    Json {
        /// Stage name.
        stage: String,
        /// What the JSON reader said.
        source: crate::core::extract::Error,
    },
    /// A configured path is not a valid path (caught at config load; kept for safety).
    #[error("{stage}: {source}")]
    Path {
        /// Stage name.
        stage: String,
        /// The path error.
        source: crate::core::extract::Error,
    },
}

/// What one message yielded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extracted {
    /// Stage events for the tracker.
    pub events: Vec<StageEvent>,
    /// A confidence the payload carried (JSON `json.confidence`, StageEvent `confidence`).
    pub confidence: Option<f64>,
    /// A status text the payload carried (JSON `json.status`).
    pub status: Option<String>,
}

/// A decoded message of a stage's topic.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    /// `std_msgs/msg/String` data.
    Text(&'a str),
    /// The header of a header-first message.
    Header(&'a Header),
    /// A vla_perf StageEvent.
    StageEvent(&'a StageEventMsg),
    /// An action status array.
    GoalStatuses(&'a GoalStatusArray),
}

/// Turns one stage's messages into events.
#[derive(Debug)]
pub struct StageInput {
    stage: usize,
    name: String,
    id_path: Option<JsonPath>,
    confidence_path: Option<JsonPath>,
    status_path: Option<JsonPath>,
    accept: Option<Matcher>,
    failure: Option<Matcher>,
    /// Action goals already turned into an event of this stage.
    goals_seen: GoalMemory,
}

#[derive(Debug)]
struct Matcher {
    field: String,
    path: Option<JsonPath>,
    values: Vec<String>,
}

impl Matcher {
    fn new(rule: &FieldMatch) -> Self {
        Self {
            field: rule.field.clone(),
            path: JsonPath::parse(&rule.field).ok(),
            values: rule.values.clone(),
        }
    }

    fn matches(&self, value: Option<&str>) -> bool {
        value.is_some_and(|v| self.values.iter().any(|x| x == v))
    }
}

impl StageInput {
    /// The input of stage number `stage` as configured.
    pub fn new(stage: usize, config: &StageConfig) -> Result<Self, InputError> {
        let path = |p: &Option<String>| -> Result<Option<JsonPath>, InputError> {
            p.as_deref()
                .map(JsonPath::parse)
                .transpose()
                .map_err(|source| InputError::Path {
                    stage: config.name.clone(),
                    source,
                })
        };
        let json = config.json.clone().unwrap_or_default();
        let id = json.id.clone().or(match &config.correlation {
            Correlation::Id { field } => Some(field.clone()),
            _ => None,
        });
        Ok(Self {
            stage,
            name: config.name.clone(),
            id_path: path(&id)?,
            confidence_path: path(&json.confidence)?,
            status_path: path(&json.status)?,
            accept: config.accept.as_ref().map(Matcher::new),
            failure: config.failure.as_ref().map(Matcher::new),
            goals_seen: GoalMemory::default(),
        })
    }

    /// The events (and side signals) of one message received at `at`.
    pub fn extract(&mut self, at: Duration, payload: Payload<'_>) -> Result<Extracted, InputError> {
        match payload {
            Payload::Text(text) => self.text(at, text),
            Payload::Header(header) => {
                Ok(self.single(at, None, header.stamp.to_duration(), |field| {
                    (field == "header.frame_id").then(|| header.frame_id.clone())
                }))
            }
            Payload::StageEvent(msg) => {
                if msg.phase == StageEventMsg::PHASE_START {
                    return Ok(Extracted::default());
                }
                let mut out = self.single(
                    at,
                    Some(msg.command_id.clone()),
                    msg.header.stamp.to_duration(),
                    |field| match field {
                        "stage" => Some(msg.stage.clone()),
                        "phase" => Some(msg.phase.to_string()),
                        "command_id" => Some(msg.command_id.clone()),
                        _ => None,
                    },
                );
                if msg.phase == StageEventMsg::PHASE_FAIL {
                    for e in &mut out.events {
                        e.kind = EventKind::Failed;
                    }
                }
                out.confidence = msg.confidence.is_finite().then_some(msg.confidence);
                Ok(out)
            }
            Payload::GoalStatuses(array) => Ok(self.goals(at, array)),
        }
    }

    fn text(&mut self, at: Duration, text: &str) -> Result<Extracted, InputError> {
        let wants_json = self.id_path.is_some()
            || self.confidence_path.is_some()
            || self.status_path.is_some()
            || self.accept.as_ref().is_some_and(|m| m.path.is_some())
            || self.failure.as_ref().is_some_and(|m| m.path.is_some());
        if !wants_json {
            return Ok(self.single(at, None, None, |_| None));
        }
        let json = JsonPayload::parse(text).map_err(|source| InputError::Json {
            stage: self.name.clone(),
            source,
        })?;
        let read = |path: &Option<JsonPath>| -> Result<Option<String>, InputError> {
            let Some(path) = path else { return Ok(None) };
            json.field(path)
                .map(|v| v.map(|s| s.to_key()))
                .map_err(|source| InputError::Json {
                    stage: self.name.clone(),
                    source,
                })
        };
        let id = read(&self.id_path)?;
        let status = read(&self.status_path)?;
        let confidence = read(&self.confidence_path)?.and_then(|c| c.parse::<f64>().ok());
        let lookup = |field: &str| {
            JsonPath::parse(field)
                .ok()
                .and_then(|p| json.field(&p).ok().flatten())
                .map(|v| v.to_key())
        };
        let mut out = self.single(at, id, None, lookup);
        out.confidence = confidence.filter(|c| c.is_finite());
        out.status = status;
        Ok(out)
    }

    /// One event unless `accept` rejects the message; failed when `failure` matches.
    fn single(
        &self,
        at: Duration,
        id: Option<String>,
        stamp: Option<Duration>,
        field: impl Fn(&str) -> Option<String>,
    ) -> Extracted {
        if let Some(accept) = &self.accept {
            if !accept.matches(field(&accept.field).as_deref()) {
                return Extracted::default();
            }
        }
        let mut event = StageEvent::done(self.stage, at);
        event.id = id;
        event.stamp = stamp;
        if let Some(failure) = &self.failure {
            if failure.matches(field(&failure.field).as_deref()) {
                event.kind = EventKind::Failed;
            }
        }
        Extracted {
            events: vec![event],
            ..Extracted::default()
        }
    }

    fn goals(&mut self, at: Duration, array: &GoalStatusArray) -> Extracted {
        let mut out = Extracted::default();
        for goal in &array.status_list {
            let uuid = goal.goal_info.goal_id.uuid;
            if self.goals_seen.contains(&uuid) {
                continue;
            }
            let status = goal.status.to_string();
            let field = |f: &str| (f == "status").then(|| status.clone());
            let mut one = self.single(
                at,
                Some(hex(&uuid)),
                goal.goal_info.stamp.to_duration(),
                field,
            );
            if one.events.is_empty() {
                continue;
            }
            self.goals_seen.insert(uuid);
            out.events.append(&mut one.events);
        }
        out
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::JsonFields;
    use crate::msg::action_msgs::{GoalInfo, GoalStatus};
    use crate::msg::builtin_interfaces::Time;
    use crate::msg::unique_identifier_msgs::UUID;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn rule(field: &str, values: &[&str]) -> FieldMatch {
        FieldMatch {
            field: field.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    fn plan_stage() -> StageInput {
        let mut cfg = StageConfig::new(
            "plan",
            "/planner/plan",
            "std_msgs/msg/String",
            Correlation::Id {
                field: "command_id".into(),
            },
        )
        .with_json(JsonFields {
            id: Some("command_id".into()),
            confidence: Some("confidence".into()),
            status: Some("status".into()),
        });
        cfg.failure = Some(rule("status", &["rejected"]));
        StageInput::new(2, &cfg).unwrap()
    }

    #[test]
    fn a_json_plan_yields_its_id_status_and_confidence() {
        let mut s = plan_stage();
        let out = s
            .extract(
                ms(500),
                Payload::Text(r#"{"command_id": "c1", "status": "accepted", "confidence": 0.8}"#),
            )
            .unwrap();
        assert_eq!(out.events.len(), 1);
        let e = &out.events[0];
        assert_eq!(
            (e.stage, e.at, e.id.as_deref(), e.kind),
            (2, ms(500), Some("c1"), EventKind::Done)
        );
        assert_eq!(out.status.as_deref(), Some("accepted"));
        assert_eq!(out.confidence, Some(0.8));
    }

    #[test]
    fn a_rejected_plan_fails_the_command_and_bad_json_is_an_error() {
        let mut s = plan_stage();
        let out = s
            .extract(
                ms(1),
                Payload::Text(r#"{"command_id": 7, "status": "rejected"}"#),
            )
            .unwrap();
        assert_eq!(out.events[0].kind, EventKind::Failed);
        assert_eq!(out.events[0].id.as_deref(), Some("7"));
        let err = s.extract(ms(2), Payload::Text("go left")).unwrap_err();
        assert!(err.to_string().contains("plan") && err.to_string().contains("not JSON"));
    }

    #[test]
    fn plain_text_stages_need_no_json() {
        let cfg = StageConfig::new(
            "transcript",
            "/asr",
            "std_msgs/msg/String",
            Correlation::Fifo,
        );
        let mut s = StageInput::new(1, &cfg).unwrap();
        let out = s
            .extract(ms(3), Payload::Text("pick up the red cup"))
            .unwrap();
        assert_eq!(out.events, vec![StageEvent::done(1, ms(3))]);
    }

    #[test]
    fn header_first_messages_carry_their_stamp() {
        let cfg = StageConfig::new(
            "vision",
            "/det",
            "vision_msgs/msg/Detection2DArray",
            Correlation::HeaderStamp,
        );
        let mut s = StageInput::new(3, &cfg).unwrap();
        let header = Header {
            stamp: Time {
                sec: 12,
                nanosec: 5,
            },
            frame_id: "cam".into(),
        };
        let out = s.extract(ms(9), Payload::Header(&header)).unwrap();
        assert_eq!(out.events[0].stamp, Some(Duration::new(12, 5)));
    }

    fn goal(id: u8, status: i8) -> GoalStatus {
        GoalStatus {
            goal_info: GoalInfo {
                goal_id: UUID { uuid: [id; 16] },
                stamp: Time { sec: 1, nanosec: 0 },
            },
            status,
        }
    }

    #[test]
    fn each_goal_becomes_one_event_per_stage_however_often_its_status_is_republished() {
        let mut done_cfg = StageConfig::new(
            "action_done",
            "/execute/_action/status",
            "action_msgs/msg/GoalStatusArray",
            Correlation::Fifo,
        );
        done_cfg.accept = Some(rule("status", &["4", "5", "6"]));
        done_cfg.failure = Some(rule("status", &["5", "6"]));
        let mut done = StageInput::new(5, &done_cfg).unwrap();
        let running = GoalStatusArray {
            status_list: vec![goal(1, GoalStatus::STATUS_EXECUTING)],
        };
        assert!(done
            .extract(ms(1), Payload::GoalStatuses(&running))
            .unwrap()
            .events
            .is_empty());
        let finished = GoalStatusArray {
            status_list: vec![
                goal(1, GoalStatus::STATUS_SUCCEEDED),
                goal(2, GoalStatus::STATUS_ABORTED),
            ],
        };
        let out = done
            .extract(ms(2), Payload::GoalStatuses(&finished))
            .unwrap();
        let kinds: Vec<_> = out.events.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, vec![EventKind::Done, EventKind::Failed]);
        assert_eq!(out.events[0].id.as_deref(), Some("01".repeat(16).as_str()));
        // republished: nothing new
        assert!(done
            .extract(ms(3), Payload::GoalStatuses(&finished))
            .unwrap()
            .events
            .is_empty());
    }

    #[test]
    fn stage_event_messages_map_phases_to_done_and_failed() {
        let cfg = StageConfig::new(
            "plan",
            "/vla_perf/stage_events",
            "vla_perf/msg/StageEvent",
            Correlation::Id {
                field: "command_id".into(),
            },
        );
        let mut cfg = cfg;
        cfg.accept = Some(rule("stage", &["plan"]));
        let mut s = StageInput::new(2, &cfg).unwrap();
        let mut msg = StageEventMsg {
            command_id: "c9".into(),
            stage: "plan".into(),
            phase: StageEventMsg::PHASE_START,
            confidence: f64::NAN,
            ..Default::default()
        };
        assert!(s
            .extract(ms(1), Payload::StageEvent(&msg))
            .unwrap()
            .events
            .is_empty());
        msg.phase = StageEventMsg::PHASE_FAIL;
        let out = s.extract(ms(2), Payload::StageEvent(&msg)).unwrap();
        assert_eq!(out.events[0].kind, EventKind::Failed);
        assert_eq!(out.confidence, None);
        msg.stage = "vision".into();
        msg.phase = StageEventMsg::PHASE_END;
        assert!(s
            .extract(ms(3), Payload::StageEvent(&msg))
            .unwrap()
            .events
            .is_empty());
    }
}
