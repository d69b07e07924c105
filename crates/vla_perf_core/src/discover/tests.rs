use std::collections::BTreeMap;

use super::*;

/// A small deterministic generator (xorshift), so the synthetic stacks are the same in
/// every run.
struct Rng(u64);

impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Roughly normal (sum of uniforms), in seconds.
    fn around(&mut self, mean: f64, sd: f64) -> f64 {
        let z: f64 = (0..6).map(|_| self.unit()).sum::<f64>() - 3.0;
        (mean + z * sd * std::f64::consts::SQRT_2).max(0.001)
    }
}

fn at(s: f64) -> Duration {
    Duration::from_secs_f64(1_700_000_000.0 + s)
}

fn text(k: &str, v: &str) -> (String, Value) {
    (k.to_owned(), Value::Text(v.to_owned()))
}

fn num(k: &str, v: f64) -> (String, Value) {
    (k.to_owned(), Value::Number(v))
}

struct Stack {
    topics: BTreeMap<&'static str, TopicTraffic>,
}

impl Stack {
    fn new() -> Self {
        Self {
            topics: BTreeMap::new(),
        }
    }

    fn add(&mut self, topic: &'static str, msg_type: &str, m: Observed) {
        let t = self.topics.entry(topic).or_insert_with(|| TopicTraffic {
            topic: topic.to_owned(),
            msg_type: msg_type.to_owned(),
            publishers: vec!["/node".into()],
            ..TopicTraffic::default()
        });
        t.stamped |= m.stamp.is_some();
        t.messages.push(m);
    }

    fn stream(&mut self, topic: &'static str, msg_type: &str, hz: f64, from: f64, to: f64) {
        let mut t = from;
        while t < to {
            self.add(
                topic,
                msg_type,
                Observed {
                    at: at(t),
                    stamp: Some(at(t)),
                    ..Observed::default()
                },
            );
            t += 1.0 / hz;
        }
    }

    fn traffic(self) -> Vec<TopicTraffic> {
        self.topics.into_values().collect()
    }
}

/// The layout of the built-in simulated stack: stamped utterances, JSON transcripts and
/// plans (the planner assigns ids), a 30 Hz detection stream the executor waits on, and an
/// action status topic; plus a camera stream, a distractor on a timer at the command rate
/// and /rosout.
fn simulated(commands: usize, seed: u64) -> Vec<TopicTraffic> {
    let mut rng = Rng(seed);
    let mut s = Stack::new();
    let mut goals = 0u32;
    let mut t = 1.0;
    // A 10 Hz camera: see docs/discover.md on fast streams and jitter.
    let frame = 0.1;
    // Detections: a few ms after each frame (the detector's own time), stamped with the
    // frame's stamp: (stamp, produced).
    let detections: Vec<(f64, f64)> = (0..commands * 60)
        .map(|k| {
            let f = k as f64 * frame;
            (f, f + rng.around(0.012, 0.004))
        })
        .collect();
    for c in 0..commands {
        let voice = t;
        s.add(
            "/audio/utterance",
            "audio_common_msgs/msg/AudioStamped",
            Observed {
                at: at(voice),
                stamp: Some(at(voice)),
                ..Observed::default()
            },
        );
        let tr = voice + rng.around(0.3, 0.05);
        s.add(
            "/asr/transcript",
            "std_msgs/msg/String",
            Observed {
                at: at(tr),
                keys: vec![text("text", "pick up the red cup"), num("confidence", 0.9)],
                ..Observed::default()
            },
        );
        let plan = tr + rng.around(0.6, 0.15);
        let rejected = c % 7 == 3;
        let status = if rejected { "rejected" } else { "accepted" };
        s.add(
            "/planner/plan",
            "std_msgs/msg/String",
            Observed {
                at: at(plan),
                keys: vec![
                    text("command_id", &format!("cmd-{c}")),
                    text("status", status),
                ],
                ..Observed::default()
            },
        );
        let mut end = plan;
        if !rejected {
            // The executor starts on the first detection produced after the plan.
            let next_detection = detections.iter().map(|d| d.1).find(|&d| d > plan);
            let start = next_detection.unwrap() + rng.around(0.05, 0.01);
            goals += 1;
            s.add(
                "/execute_plan/_action/status",
                GOAL_STATUS_ARRAY,
                Observed {
                    at: at(start),
                    goals: vec![goal_status::EXECUTING],
                    ..Observed::default()
                },
            );
            end = start + rng.around(1.5, 0.3);
            let result = if c % 9 == 5 {
                goal_status::ABORTED
            } else {
                goal_status::SUCCEEDED
            };
            s.add(
                "/execute_plan/_action/status",
                GOAL_STATUS_ARRAY,
                Observed {
                    at: at(end),
                    goals: vec![result],
                    ..Observed::default()
                },
            );
        }
        t = end + 0.3 + 1.5 * rng.unit();
    }
    assert!(goals > 0);
    s.stream("/camera/image_raw", "sensor_msgs/msg/Image", 10.0, 0.0, t);
    for &(stamp, produced) in detections.iter().filter(|d| d.1 < t) {
        s.add(
            "/vision/detections",
            "vision_msgs/msg/Detection2DArray",
            Observed {
                at: at(produced),
                stamp: Some(at(stamp)),
                ..Observed::default()
            },
        );
    }
    // A timer at about the command rate, independent of the commands.
    let period = t / commands as f64;
    let mut b = period / 2.0;
    let mut n = 0;
    while b < t {
        s.add(
            "/battery",
            "std_msgs/msg/String",
            Observed {
                at: at(b),
                keys: vec![text("id", &format!("b{n}")), num("level", 0.8)],
                ..Observed::default()
            },
        );
        b += period;
        n += 1;
    }
    s.stream("/rosout", "rcl_interfaces/msg/Log", 5.0, 0.0, t);
    s.traffic()
}

fn shape(d: &Discovery) -> Vec<(String, String, Correlation)> {
    d.stages
        .iter()
        .map(|s| (s.name.clone(), s.topic.clone(), s.correlation.clone()))
        .collect()
}

fn stage(name: &str, topic: &str, c: Correlation) -> (String, String, Correlation) {
    (name.to_owned(), topic.to_owned(), c)
}

#[test]
fn the_simulated_stacks_layout_is_found_with_the_stream_the_executor_waits_on() {
    for seed in 1..40 {
        let d = discover(&simulated(20, seed), "/vla_perf");
        assert_eq!(d.problem, None, "seed {seed}");
        assert_eq!(
            shape(&d),
            vec![
                stage("voice", "/audio/utterance", Correlation::HeaderStamp),
                stage("transcript", "/asr/transcript", Correlation::Fifo),
                stage(
                    "plan",
                    "/planner/plan",
                    Correlation::Id {
                        field: "command_id".into()
                    }
                ),
                stage("vision", "/vision/detections", Correlation::Fifo),
                stage(
                    "action_start",
                    "/execute_plan/_action/status",
                    Correlation::Fifo
                ),
                stage(
                    "action_done",
                    "/execute_plan/_action/status",
                    Correlation::Fifo
                ),
            ],
            "seed {seed}: {:#?}",
            d.stages
        );
        assert_eq!(d.commands, 20);
        let s = &d.stages;
        assert_eq!(s[1].json.confidence.as_deref(), Some("confidence"));
        assert_eq!(s[2].json.id.as_deref(), Some("command_id"));
        assert_eq!(s[2].json.status.as_deref(), Some("status"));
        assert_eq!(
            s[2].failure.as_ref().map(|f| f.values.clone()),
            Some(vec!["rejected".to_owned()])
        );
        assert_eq!(s[4].accept.as_ref().unwrap().values, ["2"]);
        assert_eq!(s[5].accept.as_ref().unwrap().values, ["4", "5", "6"]);
        assert_eq!(s[5].failure.as_ref().unwrap().values, ["5", "6"]);
        assert!(s[3]
            .placement
            .reason
            .contains("waits for its first message"));
        let watched: Vec<&str> = d.watched.iter().map(|w| w.topic.as_str()).collect();
        assert_eq!(watched, ["/battery", "/camera/image_raw"], "seed {seed}");
        let battery = &d.watched[0];
        assert!(
            battery.reason.starts_with("not a stage: "),
            "{}",
            battery.reason
        );
        let rosout = d.topics.iter().find(|t| t.topic == "/rosout").unwrap();
        assert_eq!(rosout.role, Role::Ignored);
    }
}

/// The discover layout of the test peers: a stamped utterance, a planner that assigns a
/// nested JSON id, an annotated image that copies the utterance's stamp, and a distractor
/// at the command rate.
fn peer_layout(commands: usize, seed: u64) -> Vec<TopicTraffic> {
    let mut rng = Rng(seed);
    let mut s = Stack::new();
    let mut t = 0.5;
    for c in 0..commands {
        let voice = t;
        s.add(
            "/robot/mic/utterance",
            "audio_common_msgs/msg/AudioStamped",
            Observed {
                at: at(voice),
                stamp: Some(at(voice)),
                ..Observed::default()
            },
        );
        let tr = voice + rng.around(0.1, 0.02);
        s.add(
            "/robot/stt/text",
            "std_msgs/msg/String",
            Observed {
                at: at(tr),
                keys: vec![text("text", "bring me the cup"), num("confidence", 0.8)],
                ..Observed::default()
            },
        );
        let plan = tr + rng.around(0.25, 0.05);
        s.add(
            "/robot/llm/plan",
            "std_msgs/msg/String",
            Observed {
                at: at(plan),
                keys: vec![
                    text("task.uid", &format!("c{c}")),
                    text("state", "accepted"),
                ],
                ..Observed::default()
            },
        );
        let vision = plan + rng.around(0.05, 0.01);
        s.add(
            "/robot/perception/annotated",
            "sensor_msgs/msg/Image",
            Observed {
                at: at(vision),
                stamp: Some(at(voice)),
                ..Observed::default()
            },
        );
        let start = vision + 0.02;
        let end = start + rng.around(0.3, 0.05);
        for (when, g) in [
            (start, goal_status::EXECUTING),
            (end, goal_status::SUCCEEDED),
        ] {
            s.add(
                "/robot/do_task/_action/status",
                GOAL_STATUS_ARRAY,
                Observed {
                    at: at(when),
                    goals: vec![g],
                    ..Observed::default()
                },
            );
        }
        // People pause irregularly between commands.
        t = end + 0.2 + 1.3 * rng.unit();
    }
    let period = t / commands as f64;
    let mut b = period / 2.0;
    while b < t {
        s.add(
            "/robot/battery",
            "std_msgs/msg/String",
            Observed {
                at: at(b),
                keys: vec![text("id", &format!("b{b}")), num("level", 0.5)],
                ..Observed::default()
            },
        );
        b += period;
    }
    s.stream(
        "/robot/camera/image_raw",
        "sensor_msgs/msg/Image",
        10.0,
        0.0,
        t,
    );
    s.traffic()
}

#[test]
fn copied_stamps_nested_json_ids_and_a_distractor_at_the_command_rate() {
    for seed in 1..40 {
        let d = discover(&peer_layout(12, seed), "/vla_perf");
        assert_eq!(d.problem, None);
        assert_eq!(
            shape(&d),
            vec![
                stage("voice", "/robot/mic/utterance", Correlation::HeaderStamp),
                stage("transcript", "/robot/stt/text", Correlation::Fifo),
                stage(
                    "plan",
                    "/robot/llm/plan",
                    Correlation::Id {
                        field: "task.uid".into()
                    }
                ),
                stage(
                    "vision",
                    "/robot/perception/annotated",
                    Correlation::HeaderStamp
                ),
                stage(
                    "action_start",
                    "/robot/do_task/_action/status",
                    Correlation::Fifo
                ),
                stage(
                    "action_done",
                    "/robot/do_task/_action/status",
                    Correlation::Fifo
                ),
            ],
            "seed {seed}: {:#?}",
            d.stages
        );
        let vision = &d.stages[3].correlation_evidence;
        assert!(
            vision.reason.contains("/robot/mic/utterance"),
            "{}",
            vision.reason
        );
        assert_eq!(d.stages[2].json.status.as_deref(), Some("state"));
        let rejected = d.rejected.join("\n");
        assert!(rejected.contains("/robot/battery "), "{rejected}");
    }
}

#[test]
fn without_commands_discovery_says_what_it_needs() {
    // Nothing at all.
    let silent = vec![TopicTraffic {
        topic: "/chatter".into(),
        msg_type: "std_msgs/msg/String".into(),
        ..TopicTraffic::default()
    }];
    let d = discover(&silent, "/vla_perf");
    assert!(d.stages.is_empty());
    assert!(
        d.problem.as_deref().unwrap().contains("no messages"),
        "{d:?}"
    );
    // Only streams.
    let mut s = Stack::new();
    s.stream(
        "/camera/image_raw",
        "sensor_msgs/msg/Image",
        30.0,
        0.0,
        10.0,
    );
    s.stream("/imu", "sensor_msgs/msg/Imu", 100.0, 0.0, 10.0);
    let d = discover(&s.traffic(), "/vla_perf");
    assert!(d.stages.is_empty());
    let problem = d.problem.unwrap();
    assert!(problem.contains("once per command"), "{problem}");
    assert_eq!(d.watched.len(), 2);
    // Two commands are not enough.
    let d = discover(&peer_layout(2, 5), "/vla_perf");
    assert!(d.stages.is_empty());
    assert!(d.problem.unwrap().contains("at least 3"));
}

#[test]
fn json_documents_flatten_to_dotted_scalar_keys() {
    let v: serde_json::Value = serde_json::from_str(
        r#"{"task": {"uid": "c1", "meta": {"deep": {"x": 1}}}, "ok": true, "n": 2.5,
            "steps": ["a", "b"]}"#,
    )
    .unwrap();
    let keys = json_keys(&v, 3, 16);
    let names: Vec<&str> = keys.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["n", "ok", "task.uid"]);
    assert_eq!(json_keys(&v, 3, 1).len(), 1);
}

#[test]
fn ids_are_named_as_ids_or_repeat() {
    for yes in [
        "id",
        "command_id",
        "task.uid",
        "goalId",
        "requestID",
        "uuid",
    ] {
        assert!(id_named(yes), "{yes}");
    }
    for no in ["valid", "text", "status", "width"] {
        assert!(!id_named(no), "{no}");
    }
}
