//! `vla-perf discover`: a stack's traffic (live over DDS, or a rosbag2 recording) turned into
//! a proposed collector configuration.
//!
//! The inference is the core's ([`crate::core::discover`]); this module feeds it: it decodes
//! every message as far as discovery needs ([`Observer`]: produce time, header stamp, JSON
//! keys, action goal transitions), reads recordings ([`from_bag`]), listens live
//! ([`live`]), and writes the commented `collector.yaml` ([`yaml::render`]) and the printed
//! summary ([`report`]).

#[cfg(any(feature = "ros2-client", feature = "r2r"))]
pub mod live;
pub mod record;
pub mod report;
pub mod yaml;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

use crate::bag::{self, Event};
use crate::collector::pipeline::Message;
use crate::core::discover::{json_keys, Observed, TopicTraffic, Value};
use crate::msg::action_msgs::GoalStatus;
use crate::msg::StageEvent;

/// How far a header stamp may be from the message's produce time and still be a stamp
/// (not a counter or garbage read from a type without a header).
const PLAUSIBLE_STAMP: Duration = Duration::from_secs(24 * 3600);

/// Depth and count limits of the JSON keys kept per message.
const JSON_DEPTH: usize = 4;
const JSON_KEYS: usize = 32;

/// One topic's state while observing.
#[derive(Debug, Default)]
struct Topic {
    traffic: TopicTraffic,
    /// Action status: each goal's last status.
    goals: HashMap<[u8; 16], i8>,
    /// Action status: whether an array was seen yet.
    seen_array: bool,
    /// Messages with a plausible header stamp.
    stamped: usize,
}

/// Collects what discovery needs from every message of every topic.
#[derive(Debug, Default)]
pub struct Observer {
    topics: BTreeMap<String, Topic>,
}

impl Observer {
    /// An observer that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Declares a topic (even one that never carries a message), with its publishers.
    pub fn topic(&mut self, name: &str, msg_type: &str, publishers: &[String]) {
        let t = self.topics.entry(name.to_owned()).or_default();
        t.traffic.topic = name.to_owned();
        if t.traffic.msg_type.is_empty() {
            t.traffic.msg_type = msg_type.to_owned();
        }
        for p in publishers {
            if !t.traffic.publishers.contains(p) {
                t.traffic.publishers.push(p.clone());
            }
        }
    }

    /// Whether `name` was declared.
    pub fn knows(&self, name: &str) -> bool {
        self.topics.contains_key(name)
    }

    /// Messages observed so far, all topics together.
    pub fn messages(&self) -> usize {
        self.topics.values().map(|t| t.traffic.messages.len()).sum()
    }

    /// One message of a declared topic, produced at `at` (CDR with encapsulation header).
    pub fn message(&mut self, name: &str, at: Duration, cdr: &[u8]) {
        let Some(t) = self.topics.get_mut(name) else {
            return;
        };
        let decoded = match Message::decode(&t.traffic.msg_type, cdr) {
            Ok(m) => m,
            Err(_) => {
                t.traffic.undecodable += 1;
                return;
            }
        };
        let mut observed = Observed {
            at,
            ..Observed::default()
        };
        if let Some(stamp) = decoded.stamp() {
            let off = stamp.max(at) - stamp.min(at);
            if off <= PLAUSIBLE_STAMP {
                observed.stamp = Some(stamp);
                t.stamped += 1;
            }
        }
        match &decoded {
            Message::Text(text) => {
                if let Ok(json) = serde_json::from_str::<serde_json::Value>(text) {
                    observed.keys = json_keys(&json, JSON_DEPTH, JSON_KEYS);
                }
            }
            Message::StageEvent(e) => observed.keys = stage_event_keys(e),
            Message::Goals(array) => {
                observed.goals = transitions(t, &array.status_list);
            }
            Message::Header(_) | Message::Audio(_) => {}
        }
        t.traffic.messages.push(observed);
    }

    /// Everything observed, one entry per declared topic.
    pub fn into_traffic(self) -> Vec<TopicTraffic> {
        self.topics
            .into_values()
            .map(|mut t| {
                // A type reads as stamped when most of its messages carried a plausible stamp.
                t.traffic.stamped = t.stamped * 2 > t.traffic.messages.len();
                t.traffic
            })
            .collect()
    }
}

fn stage_event_keys(e: &StageEvent) -> Vec<(String, Value)> {
    let mut keys = vec![("stage".to_owned(), Value::Text(e.stage.clone()))];
    if !e.command_id.is_empty() {
        keys.push(("command_id".to_owned(), Value::Text(e.command_id.clone())));
    }
    keys
}

/// The statuses goals reached in this array. The first array of a (latched) status topic
/// also lists goals that ended before discovery started: those are history, not events.
fn transitions(t: &mut Topic, list: &[GoalStatus]) -> Vec<i8> {
    let first = !t.seen_array;
    t.seen_array = true;
    let mut out = Vec::new();
    for g in list {
        let previous = t.goals.insert(g.goal_info.goal_id.uuid, g.status);
        let terminal = g.status >= GoalStatus::STATUS_SUCCEEDED;
        if previous != Some(g.status) && !(first && terminal) {
            out.push(g.status);
        }
    }
    out
}

/// What reading a recording found besides the messages.
#[derive(Debug, Clone, Default)]
pub struct BagSummary {
    /// Messages read.
    pub messages: u64,
    /// Warnings of the reader (damaged parts skipped).
    pub warnings: Vec<String>,
}

/// Observes every message of a rosbag2 recording (a directory or one `.mcap`/`.db3` file).
/// A message's time is its publish time where the storage keeps one, else its log time.
pub fn from_bag(path: &Path) -> Result<(Vec<TopicTraffic>, BagSummary), bag::Error> {
    let mut reader = bag::Reader::open(path)?;
    let mut observer = Observer::new();
    let mut names: Vec<String> = Vec::new();
    let mut warnings = Vec::new();
    let stats = reader.read(&mut |event| match event {
        Event::Connection(c) => {
            if names.len() <= c.id {
                names.resize(c.id + 1, String::new());
            }
            names[c.id] = c.topic.clone();
            observer.topic(&c.topic, &c.msg_type, &[]);
        }
        Event::Message(m) => {
            let nanos = m.publish_time.unwrap_or(m.log_time);
            if let Some(name) = names.get(m.connection) {
                observer.message(name, Duration::from_nanos(nanos), m.data);
            }
        }
        Event::Warning(w) => warnings.push(w),
        Event::Progress(_) => {}
    })?;
    Ok((
        observer.into_traffic(),
        BagSummary {
            messages: stats.messages,
            warnings,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::action_msgs::{GoalInfo, GoalStatusArray};
    use crate::msg::builtin_interfaces::Time;
    use crate::msg::cdr::to_cdr;
    use crate::msg::std_msgs::{Header, String as RosString};
    use crate::msg::unique_identifier_msgs::UUID;
    use crate::msg::RosMessage;

    fn goal(id: u8, status: i8) -> GoalStatus {
        GoalStatus {
            goal_info: GoalInfo {
                goal_id: UUID { uuid: [id; 16] },
                stamp: Time::default(),
            },
            status,
        }
    }

    #[test]
    fn messages_yield_stamps_json_keys_and_goal_transitions() {
        let mut o = Observer::new();
        let t0 = Duration::from_secs(1_700_000_000);
        o.topic("/plan", "std_msgs/msg/String", &["/planner".into()]);
        o.topic("/status", GoalStatusArray::TYPE_NAME, &[]);
        o.topic("/image", "sensor_msgs/msg/Image", &[]);
        let plan = RosString {
            data: r#"{"task": {"uid": "c1"}, "state": "accepted"}"#.into(),
        };
        o.message("/plan", t0, &to_cdr(&plan).unwrap());
        let array =
            |goals: Vec<GoalStatus>| to_cdr(&GoalStatusArray { status_list: goals }).unwrap();
        // The first array's finished goal is history; the executing one is an event.
        o.message("/status", t0, &array(vec![goal(1, 4), goal(2, 2)]));
        o.message("/status", t0, &array(vec![goal(1, 4), goal(2, 6)]));
        let header = Header {
            stamp: Time::from(t0 - Duration::from_millis(5)),
            frame_id: "cam".into(),
        };
        o.message("/image", t0, &to_cdr(&header).unwrap());
        o.message("/image", t0, &[0, 1, 0, 0, 1]);
        let traffic = o.into_traffic();
        let by = |n: &str| traffic.iter().find(|t| t.topic == n).unwrap();
        let keys: Vec<&str> = by("/plan").messages[0]
            .keys
            .iter()
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(keys, ["state", "task.uid"]);
        assert_eq!(by("/plan").publishers, ["/planner"]);
        let goals: Vec<Vec<i8>> = by("/status")
            .messages
            .iter()
            .map(|m| m.goals.clone())
            .collect();
        assert_eq!(goals, [vec![2], vec![6]]);
        let image = by("/image");
        assert_eq!(image.messages[0].stamp, Some(t0 - Duration::from_millis(5)));
        assert_eq!(image.undecodable, 1);
        assert!(image.stamped);
    }
}
