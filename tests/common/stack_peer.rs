//! The scripted stacks of `tests/peers/` (`stack_peer.py` on the cyclonedds wheel,
//! `rclpy_stack.py` on rclpy): the script of commands a test plays, the JSON plan both read,
//! the stack process and its ground truth (the wall time of every message it sent), and the
//! comparison of a collector's `CommandLatency` records with that truth.
//!
//! ```ignore
//! let (plan, run_length) = plan_json(&script, DOMAIN, Pacing { gap: 0.3, quiet_after_lost });
//! let stack = StackProcess::start("stack_peer.py", command);
//! let sent = stack.finish(Duration::from_secs(60));
//! let errors = latency_errors(&script, &received, &sent.times, ROBOT, COMMAND_TIMEOUT);
//! let summary = ErrorSummary::of(&errors);
//! ```

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use vla_perf::msg::builtin_interfaces::Time;
use vla_perf::msg::CommandLatency;

/// The stages of the stack peers, in pipeline order (`common::STACK_PEER_STAGES`).
pub const STAGES: [&str; 6] = [
    "voice",
    "transcript",
    "plan",
    "vision",
    "action_start",
    "action_done",
];

/// One scripted command: what the stack does with it and how long each stage takes.
pub struct Scripted {
    pub id: &'static str,
    /// succeeded | rejected | aborted | lost (the stack peers' outcomes).
    pub outcome: &'static str,
    /// Seconds from the previous stage: transcript, plan, vision, action_start, action_done.
    pub delays: [f64; 5],
}

impl Scripted {
    pub fn new(id: &'static str, outcome: &'static str, delays: [f64; 5]) -> Self {
        Self {
            id,
            outcome,
            delays,
        }
    }

    /// Stages the stack publishes for this command.
    pub fn reached(&self) -> usize {
        match self.outcome {
            "rejected" | "lost" => 3,
            _ => STAGES.len(),
        }
    }

    /// Seconds from its voice message to its last message.
    pub fn duration(&self) -> f64 {
        self.delays[..self.reached() - 1].iter().sum()
    }

    /// (outcome constant, failed stage) the collector must report.
    pub fn expected(&self) -> (u8, &'static str) {
        match self.outcome {
            "succeeded" => (CommandLatency::OUTCOME_SUCCEEDED, ""),
            "rejected" => (CommandLatency::OUTCOME_FAILED, "plan"),
            "aborted" => (CommandLatency::OUTCOME_FAILED, "action_done"),
            "lost" => (CommandLatency::OUTCOME_TIMED_OUT, ""),
            other => unreachable!("unknown scripted outcome {other}"),
        }
    }
}

/// How a plan spaces its commands.
pub struct Pacing {
    /// Seconds from one command's last message to the next command's voice message.
    pub gap: f64,
    /// The gap after a lost command instead: it must outlast the collector's command
    /// timeout, because the vision and action stages pair FIFO and would otherwise
    /// (rightly) be given to the oldest command still waiting for them.
    pub quiet_after_lost: f64,
}

/// The stack peers' plan for `script` on `domain`, the first command 0.5 s after the
/// readers matched; returns it with the run's length in seconds.
pub fn plan_json(script: &[Scripted], domain: u16, pacing: Pacing) -> (serde_json::Value, f64) {
    let mut start = 0.5;
    let mut commands = Vec::new();
    for c in script {
        let mut delays = serde_json::Map::new();
        for (stage, delay) in STAGES[1..c.reached()].iter().zip(c.delays) {
            delays.insert((*stage).into(), delay.into());
        }
        commands.push(serde_json::json!({
            "id": c.id, "start": start, "outcome": c.outcome, "delays": delays,
        }));
        start += c.duration()
            + match c.outcome {
                "lost" => pacing.quiet_after_lost,
                _ => pacing.gap,
            };
    }
    (
        serde_json::json!({"domain": domain, "period": 1.0, "commands": commands}),
        start,
    )
}

/// When each (command id, stage) was sent: the wall time just before the publish call and,
/// where the stack reports it, just after it (else the same). The middleware stamps the
/// write somewhere in between, so a stack preempted inside the call widens the interval
/// instead of moving the truth.
pub type SendTimes = HashMap<(String, String), (f64, f64)>;

/// What a stack process printed once it exited.
pub struct Sent {
    /// Its ground truth.
    pub times: SendTimes,
    /// Its diagnostics (stderr).
    pub stderr: String,
}

/// A stack peer process; killed if the test ends without waiting for it.
pub struct StackProcess {
    child: Option<Child>,
    what: String,
}

impl StackProcess {
    /// Spawns `command` (a stack peer and its arguments) with stdout and stderr piped;
    /// `what` names it in failures.
    pub fn start(what: &str, mut command: Command) -> Self {
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}; run `bash .ci/setup`"));
        Self {
            child: Some(child),
            what: what.to_owned(),
        }
    }

    /// Exit status once the process has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// Waits up to `limit`; what the stack sent, or a panic with its stderr when it failed
    /// or hung.
    pub fn finish(mut self, limit: Duration) -> Sent {
        let mut child = self.child.take().expect("finished once");
        let deadline = Instant::now() + limit;
        while child.try_wait().expect("stack status").is_none() {
            if Instant::now() >= deadline {
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let output = child.wait_with_output().expect("stack output");
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(
            output.status.success(),
            "{} failed ({}):\n{stderr}",
            self.what,
            output.status
        );
        let times = BufReader::new(&output.stdout[..])
            .lines()
            .map(|line| {
                let v: serde_json::Value =
                    serde_json::from_str(&line.expect("utf-8")).expect("stack prints JSON lines");
                let key = (
                    v["id"].as_str().expect("id").to_owned(),
                    v["stage"].as_str().expect("stage").to_owned(),
                );
                let before = v["t"].as_f64().expect("t");
                (key, (before, v["t_after"].as_f64().unwrap_or(before)))
            })
            .collect();
        Sent { times, stderr }
    }
}

impl Drop for StackProcess {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn seconds(t: &Time) -> f64 {
    f64::from(t.sec) + f64::from(t.nanosec) * 1e-9
}

/// Nearest-rank percentile of `values` (sorted in place).
pub fn percentile(values: &mut [f64], p: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let rank = (p * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

/// A line of the collector's `jsonl_path` file as the message it was written from: the
/// figures JSON cannot hold (NaN latencies) are written as `null` and read back as NaN.
pub fn command_from_jsonl(line: &serde_json::Value) -> CommandLatency {
    let mut v = line.clone();
    let mut nan_at = Vec::new();
    if v["end_to_end"].is_null() {
        v["end_to_end"] = 0.0.into();
        nan_at.push(None);
    }
    if let Some(stages) = v["stages"].as_array_mut() {
        for (i, stage) in stages.iter_mut().enumerate() {
            if stage["latency"].is_null() {
                stage["latency"] = 0.0.into();
                nan_at.push(Some(i));
            }
        }
    }
    let mut m: CommandLatency = serde_json::from_value(v)
        .unwrap_or_else(|e| panic!("a JSONL line that is no CommandLatency ({e}): {line}"));
    for at in nan_at {
        match at {
            None => m.end_to_end = f64::NAN,
            Some(i) => m.stages[i].latency = f64::NAN,
        }
    }
    m
}

/// Checks every command's outcome, failed stage, robot id and stage list exactly, the
/// NaNs where nothing was measured, and that a lost command stayed open for the command
/// timeout; returns (what, |measured - true|) for every latency the collector reported
/// (each reached stage after the first, and end to end for a success).
pub fn latency_errors(
    script: &[Scripted],
    received: &HashMap<String, CommandLatency>,
    sent: &SendTimes,
    robot: &str,
    command_timeout: f64,
) -> Vec<(String, f64)> {
    let sent_at = |id: &str, stage: &str| -> (f64, f64) {
        *sent
            .get(&(id.to_owned(), stage.to_owned()))
            .unwrap_or_else(|| panic!("the stack sent no {stage} for {id}"))
    };
    // The true latency from `from` to `to` lies in [to.before - from.after,
    // to.after - from.before]; a measurement's error is its distance from that interval.
    let check = |id: &str, what: &str, from: &str, to: &str, measured: f64| {
        let ((from_before, from_after), (to_before, to_after)) =
            (sent_at(id, from), sent_at(id, to));
        let (low, high) = (to_before - from_after, to_after - from_before);
        let error = (low - measured).max(measured - high).max(0.0);
        (
            format!("{id} {what}: measured {measured:.6} true {low:.6}..{high:.6}"),
            error,
        )
    };
    let mut errors: Vec<(String, f64)> = Vec::new();
    for c in script {
        let m = &received[c.id];
        let (outcome, failed_stage) = c.expected();
        assert_eq!(
            (m.outcome, m.failed_stage.as_str()),
            (outcome, failed_stage),
            "{} ({}): outcome and failed stage",
            c.id,
            c.outcome
        );
        assert_eq!(m.robot_id, robot, "{}: robot id", c.id);
        let names: Vec<&str> = m.stages.iter().map(|s| s.stage.as_str()).collect();
        assert_eq!(names, STAGES, "{}: every configured stage, in order", c.id);
        let t_voice = sent_at(c.id, "voice").0;
        // Receive times cannot precede send times on one machine's wall clock.
        assert!(
            seconds(&m.started) + 1e-6 >= t_voice,
            "{}: started {} before the voice message was sent at {t_voice}",
            c.id,
            seconds(&m.started)
        );
        for (i, s) in m.stages.iter().enumerate() {
            let reached = i < c.reached();
            assert_eq!(s.reached, reached, "{} {}: reached", c.id, s.stage);
            if i == 0 || !reached {
                assert!(
                    s.latency.is_nan(),
                    "{} {}: latency {} should be NaN",
                    c.id,
                    s.stage,
                    s.latency
                );
                continue;
            }
            errors.push(check(
                c.id,
                &s.stage,
                STAGES[i - 1],
                s.stage.as_str(),
                s.latency,
            ));
        }
        match c.outcome {
            "succeeded" => errors.push(check(
                c.id,
                "end_to_end",
                "voice",
                "action_done",
                m.end_to_end,
            )),
            _ => assert!(
                m.end_to_end.is_nan(),
                "{}: end_to_end {} of an unsuccessful command should be NaN",
                c.id,
                m.end_to_end
            ),
        }
        if c.outcome == "lost" {
            let open_for = seconds(&m.ended) - seconds(&m.started);
            assert!(
                open_for >= command_timeout - 1e-6,
                "{}: timed out after {open_for:.3} s, before the {command_timeout} s timeout",
                c.id
            );
        }
    }
    errors
}

/// The distribution of |measured - true| latency errors, seconds.
pub struct ErrorSummary {
    pub count: usize,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
    /// What the largest error was.
    pub worst: String,
}

impl ErrorSummary {
    pub fn of(errors: &[(String, f64)]) -> Self {
        assert!(!errors.is_empty(), "no latency to compare");
        let mut abs: Vec<f64> = errors.iter().map(|(_, e)| *e).collect();
        let p50 = percentile(&mut abs, 0.50);
        let p99 = percentile(&mut abs, 0.99);
        let (worst, max) = errors
            .iter()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(w, e)| (w.clone(), *e))
            .expect("errors");
        Self {
            count: errors.len(),
            p50,
            p99,
            max,
            worst,
        }
    }
}

impl std::fmt::Display for ErrorSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} latencies: |error| p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms ({})",
            self.count,
            self.p50 * 1e3,
            self.p99 * 1e3,
            self.max * 1e3,
            self.worst
        )
    }
}

/// The stack peers' plan in their discover layout (`vla-perf discover`'s target):
/// irregular starts, a rejected plan and an aborted goal; the distractor's period is the
/// commands' mean period.
pub fn discover_layout_plan(domain: u16) -> serde_json::Value {
    let starts = [2.0, 3.7, 5.0, 6.9, 8.4, 9.8, 11.7, 13.1, 14.9, 16.2, 17.9];
    let commands: Vec<serde_json::Value> = starts
        .iter()
        .enumerate()
        .map(|(i, start)| {
            let outcome = match i {
                3 => "rejected",
                6 => "aborted",
                _ => "succeeded",
            };
            let jitter = (i % 4) as f64 * 0.01;
            serde_json::json!({
                "id": format!("c{i}"), "start": start, "outcome": outcome,
                "delays": {"transcript": 0.12 + jitter, "plan": 0.25 + 2.0 * jitter,
                           "vision": 0.06 + jitter, "action_start": 0.02,
                           "action_done": 0.4 + 3.0 * jitter}
            })
        })
        .collect();
    let period = (starts[starts.len() - 1] - starts[0]) / (starts.len() - 1) as f64;
    serde_json::json!({
        "domain": domain, "layout": "discover", "period": period, "commands": commands
    })
}

/// The configuration a user would write by hand for the discover layout.
pub const DISCOVER_LAYOUT_CONFIG: &str = r#"collector:
  stages:
    - {name: voice, topic: /robot/mic/utterance, msg_type: audio_common_msgs/msg/AudioStamped,
       correlation: {mode: header_stamp}}
    - {name: transcript, topic: /robot/stt/text, msg_type: std_msgs/msg/String,
       correlation: {mode: fifo}, json: {confidence: confidence}}
    - {name: plan, topic: /robot/llm/plan, msg_type: std_msgs/msg/String,
       correlation: {mode: id, field: task.uid}, json: {id: task.uid, status: state},
       failure: {field: state, values: [rejected]}}
    - {name: vision, topic: /robot/perception/annotated, msg_type: sensor_msgs/msg/Image,
       correlation: {mode: header_stamp}}
    - {name: action_start, topic: /robot/do_task/_action/status,
       msg_type: action_msgs/msg/GoalStatusArray, correlation: {mode: fifo},
       accept: {field: status, values: [2]}}
    - {name: action_done, topic: /robot/do_task/_action/status,
       msg_type: action_msgs/msg/GoalStatusArray, correlation: {mode: fifo},
       accept: {field: status, values: [4, 5, 6]}, failure: {field: status, values: [5, 6]}}
"#;

/// What makes a pipeline: each stage's name, topic, type and correlation, in order.
pub fn shape(stages: &[vla_perf::config::StageConfig]) -> Vec<String> {
    stages
        .iter()
        .map(|s| format!("{} {} {} {:?}", s.name, s.topic, s.msg_type, s.correlation))
        .collect()
}
