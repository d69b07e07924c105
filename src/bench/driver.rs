//! The live part of a benchmark run: publishes a suite's inputs on the stack's topics at
//! the scenario's load, reads the stack's outputs, and hands them to the trackers. Time is
//! seconds since the run's start on the wall clock, the clock DDS source timestamps use.

use std::time::Duration;

use tokio::sync::watch;

use super::assets::{Assets, Clip, LoadedImage};
use super::track::{ImageTracker, Tracker};
use super::{Error, Progress, Result};
use crate::config::scenario::{
    LoadMode, LoadSettings, Scenario, StackTopics, StopCondition, Suite,
};
use crate::core::bench::{
    CommandRecord, DetectionRecord, ImageRecord, PlanRecord, StepRecord, SuiteRecord,
};
use crate::core::extract::{JsonPath, JsonPayload};
use crate::msg::action_msgs::GoalStatusArray;
use crate::msg::audio_common_msgs::{Audio, AudioData, AudioInfo, AudioStamped};
use crate::msg::builtin_interfaces::Time;
use crate::msg::sensor_msgs::Image;
use crate::msg::std_msgs::{Header, String as RosString};
use crate::msg::vision_msgs::Detection2DArray;
use crate::transport::{wall_clock, Node, Publisher, Qos, Received, Subscription, Typed};

/// `frame_id` of the images the benchmark publishes.
pub const IMAGE_FRAME: &str = "vla_perf_benchmark";

/// PortAudio's `paInt16`, the format of published clips.
const PA_INT16: i32 = 8;

/// How long the stack must stay silent (no transcript, plan or goal change) before the
/// next suite starts, so one suite's leftover work does not land in the next.
const QUIET: f64 = 2.0;

/// The benchmark's publishers and subscriptions on the stack's topics.
pub struct Wiring {
    voice: Publisher<AudioStamped>,
    transcript_pub: Publisher<RosString>,
    plan_pub: Publisher<RosString>,
    image_pub: Publisher<Image>,
    transcripts: Subscription<Typed<RosString>>,
    plans: Subscription<Typed<RosString>>,
    detections: Subscription<Typed<Detection2DArray>>,
    status: Subscription<Typed<GoalStatusArray>>,
    topics: StackTopics,
    /// Goals seen on the status topic, kept across suites.
    goals: Vec<([u8; 16], i8)>,
    epoch: Duration,
    last_stamp: Duration,
}

/// What came out of the stack.
enum Output {
    Transcript(f64, String),
    Plan(f64, Option<String>, PlanRecord),
    Detections(f64, Detection2DArray),
    Status(f64, Vec<([u8; 16], i8)>),
}

fn produced<T>(r: &Received<T>) -> Duration {
    r.source_time.unwrap_or(r.received_at)
}

impl Wiring {
    /// Creates the publishers and subscriptions on `node`; `epoch` is the run's start.
    pub fn new(node: &mut dyn Node, topics: &StackTopics, epoch: Duration) -> Result<Self> {
        Ok(Self {
            voice: Publisher::new(node, &topics.voice.topic, Qos::reliable(10))?,
            transcript_pub: Publisher::new(node, &topics.transcript.topic, Qos::reliable(10))?,
            plan_pub: Publisher::new(node, &topics.plan.topic, Qos::reliable(10))?,
            image_pub: Publisher::new(node, &topics.image.topic, Qos::sensor_data())?,
            transcripts: Subscription::typed(node, &topics.transcript.topic, Qos::reliable(100))?,
            plans: Subscription::typed(node, &topics.plan.topic, Qos::reliable(100))?,
            detections: Subscription::typed(node, &topics.detections.topic, Qos::reliable(100))?,
            status: Subscription::typed(node, &topics.action_status.topic, Qos::latched())?,
            topics: topics.clone(),
            goals: Vec::new(),
            epoch,
            last_stamp: Duration::ZERO,
        })
    }

    /// Seconds since the run's start.
    pub fn now(&self) -> f64 {
        self.since(wall_clock())
    }

    fn since(&self, t: Duration) -> f64 {
        t.as_secs_f64() - self.epoch.as_secs_f64()
    }

    /// A wall-clock stamp strictly after the previous one (images are matched by stamp).
    fn unique_stamp(&mut self) -> Duration {
        let now = wall_clock().max(self.last_stamp + Duration::from_nanos(1));
        self.last_stamp = now;
        now
    }

    async fn next_output(&mut self) -> Option<Output> {
        tokio::select! {
            r = self.transcripts.recv() => {
                let r = r?;
                let at = self.since(produced(&r));
                Some(Output::Transcript(at, transcript_text(&self.topics, &r.message.data)))
            }
            r = self.plans.recv() => {
                let r = r?;
                let at = self.since(produced(&r));
                let (id, plan) = read_plan(&self.topics, &r.message.data);
                Some(Output::Plan(at, id, plan))
            }
            r = self.detections.recv() => {
                let r = r?;
                Some(Output::Detections(self.since(produced(&r)), r.message))
            }
            r = self.status.recv() => {
                let r = r?;
                let goals = r.message.status_list.iter()
                    .map(|g| (g.goal_info.goal_id.uuid, g.status))
                    .collect();
                Some(Output::Status(self.since(produced(&r)), goals))
            }
        }
    }

    fn remember_goals(&mut self, goals: &[([u8; 16], i8)]) {
        for &(id, code) in goals {
            match self.goals.iter_mut().find(|(g, _)| *g == id) {
                Some(entry) => entry.1 = code,
                None => self.goals.push((id, code)),
            }
        }
        // Bounded: the status topic lists a few recent goals; old ones never come back.
        if self.goals.len() > 4096 {
            self.goals.drain(..self.goals.len() - 4096);
        }
    }

    /// Waits until the stack has been quiet for [`QUIET`] seconds, at most `max` seconds.
    pub async fn settle(&mut self, max: f64, stop: &mut watch::Receiver<bool>) {
        let start = self.now();
        let mut last = start;
        loop {
            let now = self.now();
            if now - last >= QUIET || now - start >= max || *stop.borrow() {
                return;
            }
            let until = (last + QUIET).min(start + max);
            let wait = Duration::from_secs_f64((until - now).max(0.0));
            tokio::select! {
                out = self.next_output() => match out {
                    None => return,
                    Some(Output::Detections(..)) => {}
                    Some(Output::Status(_, goals)) => {
                        let changed = goals.iter().any(|g| !self.goals.contains(g));
                        self.remember_goals(&goals);
                        if changed {
                            last = self.now();
                        }
                    }
                    Some(_) => last = self.now(),
                },
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// Sends the first command (tagged `w1`, `w2` ...) until its transcript comes back, and
    /// one image until its detections do: proof that discovery is done both ways before
    /// anything is measured. Returns whether the stack answered within `max` seconds.
    pub async fn warm_up(
        &mut self,
        text: &str,
        clip: Option<&Clip>,
        image: Option<&LoadedImage>,
        max: f64,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<bool> {
        let start = self.now();
        let mut heard = false;
        let mut seen = image.is_none();
        let mut attempt = 0u32;
        while !(heard && seen) {
            if self.now() - start >= max || *stop.borrow() {
                return Ok(false);
            }
            attempt += 1;
            if !heard {
                let spoken = if self.topics.command_tags && clip.is_none() {
                    format!("[w{attempt}] {text}")
                } else {
                    text.to_owned()
                };
                self.speak(&spoken, clip)?;
            }
            let mut stamp = None;
            if let (false, Some(image)) = (seen, image) {
                stamp = Some(self.show(image)?.0);
            }
            let until = self.now() + 2.0;
            while !(heard && seen) && self.now() < until {
                let wait = Duration::from_secs_f64((until - self.now()).max(0.0));
                tokio::select! {
                    out = self.next_output() => match out {
                        None => return Err(Error::ShutDown),
                        Some(Output::Transcript(..)) => heard = true,
                        Some(Output::Detections(_, m)) => {
                            let ns = m.header.stamp.to_duration()
                                .and_then(|d| u64::try_from(d.as_nanos()).ok());
                            if m.header.frame_id == IMAGE_FRAME && ns.is_some() && ns == stamp {
                                seen = true;
                            }
                        }
                        Some(Output::Status(_, goals)) => self.remember_goals(&goals),
                        Some(Output::Plan(..)) => {}
                    },
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.changed() => return Ok(false),
                }
            }
        }
        Ok(true)
    }

    fn speak(&mut self, text: &str, clip: Option<&Clip>) -> Result<f64> {
        let stamp = self.unique_stamp();
        let header = Header {
            stamp: Time::from_duration(stamp),
            frame_id: String::new(),
        };
        let message = match clip {
            Some(clip) => AudioStamped {
                header,
                audio: Audio {
                    audio_data: AudioData {
                        int16_data: clip.samples.clone(),
                        ..AudioData::default()
                    },
                    info: AudioInfo {
                        format: PA_INT16,
                        channels: i32::from(clip.channels),
                        rate: i32::try_from(clip.rate).unwrap_or(i32::MAX),
                        chunk: i32::try_from(clip.samples.len() / usize::from(clip.channels))
                            .unwrap_or(i32::MAX),
                    },
                },
            },
            None => crate::sim::speech::utterance(text, header),
        };
        self.voice.publish(&message)?;
        Ok(self.since(stamp))
    }

    fn type_text(&mut self, text: &str) -> Result<f64> {
        let data = match &self.topics.transcript.text_field {
            Some(key) => serde_json::json!({ key.as_str(): text }).to_string(),
            None => text.to_owned(),
        };
        let at = self.now();
        self.transcript_pub.publish(&RosString { data })?;
        Ok(at)
    }

    fn send_plan(&mut self, id: &str, actions: &[String]) -> Result<f64> {
        let p = &self.topics.plan;
        let steps: Vec<serde_json::Value> = actions
            .iter()
            .map(|a| serde_json::json!({ p.action_field.as_str(): a }))
            .collect();
        let mut plan = serde_json::Map::new();
        if let Some(f) = &p.id_field {
            plan.insert(f.clone(), id.into());
        }
        if let Some(f) = &p.status_field {
            plan.insert(f.clone(), "accepted".into());
        }
        plan.insert(p.steps_field.clone(), steps.into());
        let data = serde_json::Value::Object(plan).to_string();
        let at = self.now();
        self.plan_pub.publish(&RosString { data })?;
        Ok(at)
    }

    fn show(&mut self, image: &LoadedImage) -> Result<(u64, f64)> {
        let stamp = self.unique_stamp();
        let message = Image {
            header: Header {
                stamp: Time::from_duration(stamp),
                frame_id: IMAGE_FRAME.into(),
            },
            height: image.height,
            width: image.width,
            encoding: image.encoding.into(),
            is_bigendian: 0,
            step: image.step,
            data: image.data.clone(),
        };
        self.image_pub.publish(&message)?;
        let ns = u64::try_from(stamp.as_nanos()).unwrap_or(u64::MAX);
        Ok((ns, self.since(stamp)))
    }
}

fn field(payload: &JsonPayload, path: &str) -> Option<String> {
    let path = JsonPath::parse(path).ok()?;
    payload.field(&path).ok().flatten().map(|s| s.to_key())
}

/// The text of a transcript payload: the configured JSON key, else the whole payload.
fn transcript_text(topics: &StackTopics, data: &str) -> String {
    topics
        .transcript
        .text_field
        .as_deref()
        .and_then(|key| field(&JsonPayload::parse(data).ok()?, key))
        .unwrap_or_else(|| data.to_owned())
}

/// A plan payload's id and content; a payload that is not the configured JSON is a plan
/// without actions.
fn read_plan(topics: &StackTopics, data: &str) -> (Option<String>, PlanRecord) {
    let p = &topics.plan;
    let payload = JsonPayload::parse(data).ok();
    let text = |path: &Option<String>| field(payload.as_ref()?, path.as_deref()?);
    let id = text(&p.id_field);
    let rejected = text(&p.status_field).is_some_and(|s| p.failure_values.contains(&s));
    let actions = serde_json::from_str::<serde_json::Value>(data)
        .ok()
        .and_then(|v| {
            let mut node = &v;
            for key in p.steps_field.split('.') {
                node = node.get(key)?;
            }
            node.as_array().map(|steps| {
                steps
                    .iter()
                    .filter_map(|s| s.get(&p.action_field)?.as_str().map(str::to_owned))
                    .collect()
            })
        })
        .unwrap_or_default();
    (id, PlanRecord { actions, rejected })
}

fn detection_records(message: &Detection2DArray) -> Vec<DetectionRecord> {
    message
        .detections
        .iter()
        .filter_map(|d| {
            // The best hypothesis names the class.
            let best = d
                .results
                .iter()
                .max_by(|a, b| a.hypothesis.score.total_cmp(&b.hypothesis.score))?;
            let (w, h) = (d.bbox.size_x, d.bbox.size_y);
            Some(DetectionRecord {
                class: best.hypothesis.class_id.clone(),
                bbox: [
                    d.bbox.center.position.x - w / 2.0,
                    d.bbox.center.position.y - h / 2.0,
                    w,
                    h,
                ],
                score: best.hypothesis.score,
            })
        })
        .collect()
}

/// One load level: how items are issued and when the level ends.
#[derive(Debug, Clone, Copy)]
struct Level {
    /// `None`: closed loop with this many in flight; `Some(rate)`: open loop.
    rate_hz: Option<f64>,
    in_flight: u32,
    stop: StopCondition,
    step: usize,
}

/// Everything one suite's run needs.
pub struct SuiteRun<'a> {
    /// The scenario.
    pub scenario: &'a Scenario,
    /// Its loaded files.
    pub assets: &'a Assets,
    /// Per-command timeout, seconds.
    pub timeout: f64,
    /// Where finished records are appended as they finish.
    pub journal: &'a mut (dyn FnMut(&str, &serde_json::Value) + Send),
    /// Progress display.
    pub progress: &'a Progress,
    /// Flips to true on shutdown.
    pub stop: watch::Receiver<bool>,
    /// Command tag counter, unique over the run.
    pub next_tag: &'a mut u64,
}

/// Runs `suite` and returns what it observed. Peak search runs rate steps until a step is
/// not sustainable (`verdict` says so) or the highest rate was tried.
pub async fn run_suite(
    wiring: &mut Wiring,
    suite: Suite,
    run: &mut SuiteRun<'_>,
    verdict: &(dyn Fn(&SuiteRecord, usize) -> bool + Sync),
) -> Result<SuiteRecord> {
    let mut record = SuiteRecord {
        suite,
        stages: Vec::new(),
        started: wiring.now(),
        ended: 0.0,
        commands: Vec::new(),
        images: Vec::new(),
        image_sets: run
            .assets
            .image_sets
            .iter()
            .map(|s| s.truth.clone())
            .collect(),
        steps: Vec::new(),
        unmatched: 0,
    };
    if suite != Suite::VisualPerception {
        record.image_sets.clear();
    }
    let load = &run.scenario.load;
    let levels = levels(load);
    let peak = matches!(load.mode, LoadMode::PeakSearch { .. });
    for level in levels {
        let started = wiring.now();
        if suite == Suite::VisualPerception {
            drive_images(wiring, run, level, &mut record).await?;
        } else {
            drive_commands(wiring, suite, run, level, &mut record).await?;
        }
        if peak {
            record.steps.push(StepRecord {
                rate_hz: level.rate_hz.unwrap_or(0.0),
                started,
                ended: wiring.now(),
            });
            if *run.stop.borrow() || !verdict(&record, level.step) {
                break;
            }
        }
        if *run.stop.borrow() {
            break;
        }
    }
    record.ended = wiring.now();
    Ok(record)
}

/// The load levels of a suite: one for a fixed load, one per rate step of a peak search.
fn levels(load: &LoadSettings) -> Vec<Level> {
    match load.mode {
        LoadMode::Sequential => vec![Level {
            rate_hz: None,
            in_flight: 1,
            stop: load.stop,
            step: 0,
        }],
        LoadMode::Concurrent { concurrency } => vec![Level {
            rate_hz: None,
            in_flight: concurrency,
            stop: load.stop,
            step: 0,
        }],
        LoadMode::FixedRate { rate_hz } => vec![Level {
            rate_hz: Some(rate_hz),
            in_flight: u32::MAX,
            stop: load.stop,
            step: 0,
        }],
        LoadMode::PeakSearch {
            start_hz,
            step_hz,
            max_hz,
        } => {
            let mut levels = Vec::new();
            let mut rate = start_hz;
            // A small tolerance so 0.1-steps reach max_hz despite rounding.
            while rate <= max_hz * (1.0 + 1e-9) {
                levels.push(Level {
                    rate_hz: Some(rate),
                    in_flight: u32::MAX,
                    stop: load.stop,
                    step: levels.len(),
                });
                rate += step_hz;
            }
            levels
        }
    }
}

/// What a load level asks for next.
enum Pace {
    /// Send one item now; its intended send time.
    Send(f64),
    /// Wait for outputs, timeouts or the next send.
    Wait,
    /// Everything sent and finished.
    Done,
}

/// When a level sends its items: the schedule (open loop) or the number in flight (closed
/// loop), until its count or duration is reached.
struct Pacer {
    level: Level,
    started: f64,
    sent: u64,
}

impl Pacer {
    fn new(level: Level, started: f64) -> Self {
        Self {
            level,
            started,
            sent: 0,
        }
    }

    fn done_sending(&self, now: f64, stopping: bool) -> bool {
        stopping
            || match self.level.stop {
                StopCondition::Count(n) => self.sent >= u64::from(n),
                StopCondition::Duration(d) => now - self.started >= d.as_secs_f64(),
            }
    }

    /// The next send time of an open-loop level, or `None` when the closed loop decides.
    fn scheduled(&self) -> Option<f64> {
        self.level
            .rate_hz
            .map(|r| self.started + self.sent as f64 / r)
    }

    fn next(&self, now: f64, open: usize, stopping: bool) -> Pace {
        if self.done_sending(now, stopping) {
            return if open == 0 { Pace::Done } else { Pace::Wait };
        }
        let due = match self.scheduled() {
            Some(at) => (at <= now).then_some(at),
            None => (open < self.level.in_flight as usize).then_some(now),
        };
        due.map_or(Pace::Wait, Pace::Send)
    }

    /// How long to wait for an output before the next send, the level's end or the next
    /// timeout (`deadline`) needs attention; at most a second.
    fn wait(&self, now: f64, deadline: Option<f64>, stopping: bool) -> Duration {
        let mut wake = deadline;
        if !self.done_sending(now, stopping) {
            let end = match self.level.stop {
                StopCondition::Duration(d) => Some(self.started + d.as_secs_f64()),
                StopCondition::Count(_) => None,
            };
            for at in [self.scheduled(), end].into_iter().flatten() {
                wake = Some(wake.map_or(at, |w| w.min(at)));
            }
        }
        wake.map_or(Duration::from_secs(1), |w| {
            Duration::from_secs_f64((w - now).clamp(0.0, 1.0))
        })
    }
}

async fn drive_commands(
    wiring: &mut Wiring,
    suite: Suite,
    run: &mut SuiteRun<'_>,
    level: Level,
    record: &mut SuiteRecord,
) -> Result<()> {
    let mut tracker = Tracker::new(suite, run.timeout);
    record.stages = tracker.stage_names();
    tracker.known_goals(&wiring.goals);
    let commands = &run.scenario.commands;
    let mut pacer = Pacer::new(level, wiring.now());
    loop {
        let now = wiring.now();
        let stopping = *run.stop.borrow();
        match pacer.next(now, tracker.open(), stopping) {
            Pace::Done => break,
            Pace::Wait => {}
            Pace::Send(intended) => {
                let index = (pacer.sent % commands.len() as u64) as usize;
                let command = &commands[index];
                *run.next_tag += 1;
                let clip = run.assets.clips.get(index).and_then(Option::as_ref);
                let tag = (run.scenario.stack.command_tags && clip.is_none())
                    .then(|| format!("b{}", run.next_tag));
                let text = match &tag {
                    Some(tag) => format!("[{tag}] {}", command.text),
                    None => command.text.clone(),
                };
                let at = match suite {
                    Suite::VoiceProcessing | Suite::EndToEnd => wiring.speak(&text, clip)?,
                    Suite::CognitivePlanning => wiring.type_text(&text)?,
                    Suite::ActionExecution => {
                        let id = tag.clone().unwrap_or_else(|| format!("b{}", run.next_tag));
                        wiring.send_plan(&id, &command.expected_plan)?
                    }
                    Suite::VisualPerception => unreachable!("images are driven elsewhere"),
                };
                tracker.sent(index, level.step, tag, intended, at);
                pacer.sent += 1;
                run.progress.sent(suite, level.step);
                continue;
            }
        }
        // Otherwise wait for an output, the next send or the next timeout.
        let wait = pacer.wait(now, tracker.next_deadline(), stopping);
        let mut stop = run.stop.clone();
        tokio::select! {
            out = wiring.next_output() => match out {
                None => return Err(Error::ShutDown),
                Some(Output::Transcript(at, text)) => tracker.transcript(at, &text),
                Some(Output::Plan(at, id, plan)) => tracker.plan(at, id.as_deref(), plan),
                Some(Output::Detections(at, _)) => tracker.detections(at),
                Some(Output::Status(at, goals)) => {
                    wiring.remember_goals(&goals);
                    tracker.goal_status(at, &goals);
                }
            },
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => {}
        }
        if *run.stop.borrow() {
            tracker.expire_all();
        } else {
            tracker.expire(wiring.now());
        }
        for finished in tracker.take_finished() {
            finish_command(run, suite, record, finished);
        }
    }
    for finished in tracker.take_finished() {
        finish_command(run, suite, record, finished);
    }
    record.unmatched += tracker.unmatched();
    Ok(())
}

fn finish_command(
    run: &mut SuiteRun<'_>,
    suite: Suite,
    record: &mut SuiteRecord,
    c: CommandRecord,
) {
    run.progress.finished(suite, c.outcome);
    (run.journal)(
        suite.as_str(),
        &serde_json::to_value(&c).unwrap_or_default(),
    );
    record.commands.push(c);
}

// Long: the vision suite's pacing loop: send, collect detections, expire, on one tracker.
async fn drive_images(
    wiring: &mut Wiring,
    run: &mut SuiteRun<'_>,
    level: Level,
    record: &mut SuiteRecord,
) -> Result<()> {
    let images: Vec<(usize, &LoadedImage)> = run
        .assets
        .image_sets
        .iter()
        .enumerate()
        .flat_map(|(i, s)| s.images.iter().map(move |img| (i, img)))
        .collect();
    if images.is_empty() {
        return Ok(());
    }
    // Each image once when the scenario did not say how many.
    let level = match level.stop {
        StopCondition::Count(_) if run.scenario.load.stop == default_stop(run.scenario) => Level {
            stop: StopCondition::Count(u32::try_from(images.len()).unwrap_or(u32::MAX)),
            ..level
        },
        _ => level,
    };
    // One stage: image to detections, named as the collector's default pipeline names it.
    record.stages = vec![super::track::Stage::Vision.name().to_owned()];
    let mut tracker = ImageTracker::default();
    let mut pacer = Pacer::new(level, wiring.now());
    loop {
        let now = wiring.now();
        let stopping = *run.stop.borrow();
        match pacer.next(now, tracker.open(), stopping) {
            Pace::Done => break,
            Pace::Wait => {}
            Pace::Send(intended) => {
                let (set, image) = images[(pacer.sent % images.len() as u64) as usize];
                let (stamp, at) = wiring.show(image)?;
                tracker.sent(
                    stamp,
                    ImageRecord {
                        set,
                        image_id: image.id,
                        step: level.step,
                        intended,
                        sent: at,
                        received: None,
                        detections: Vec::new(),
                    },
                );
                pacer.sent += 1;
                run.progress.sent(Suite::VisualPerception, level.step);
                continue;
            }
        }
        let wait = pacer.wait(now, tracker.next_deadline(run.timeout), stopping);
        let mut stop = run.stop.clone();
        tokio::select! {
            out = wiring.next_output() => match out {
                None => return Err(Error::ShutDown),
                Some(Output::Detections(at, message)) => {
                    // Only our own images: the camera's frames go to the same detector.
                    if message.header.frame_id == IMAGE_FRAME {
                        let stamp = message.header.stamp.to_duration().unwrap_or_default();
                        let ns = u64::try_from(stamp.as_nanos()).unwrap_or(u64::MAX);
                        tracker.detections(at, ns, detection_records(&message));
                    }
                }
                Some(Output::Status(_, goals)) => wiring.remember_goals(&goals),
                Some(_) => {}
            },
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => {}
        }
        if *run.stop.borrow() {
            tracker.expire_all();
        } else {
            tracker.expire(wiring.now(), run.timeout);
        }
        for image in tracker.take_finished() {
            finish_image(run, record, image);
        }
    }
    for image in tracker.take_finished() {
        finish_image(run, record, image);
    }
    record.unmatched += tracker.unmatched();
    Ok(())
}

fn finish_image(run: &mut SuiteRun<'_>, record: &mut SuiteRecord, image: ImageRecord) {
    let outcome = if image.received.is_some() {
        crate::core::timeline::Outcome::Succeeded
    } else {
        crate::core::timeline::Outcome::TimedOut
    };
    run.progress.finished(Suite::VisualPerception, outcome);
    (run.journal)(
        Suite::VisualPerception.as_str(),
        &serde_json::to_value(&image).unwrap_or_default(),
    );
    record.images.push(image);
}

/// The stop condition a scenario gets when it gives neither `count` nor `duration`.
fn default_stop(scenario: &Scenario) -> StopCondition {
    StopCondition::Count(u32::try_from(scenario.commands.len()).unwrap_or(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_open_loop_level_sends_on_schedule_whatever_is_in_flight() {
        let level = Level {
            rate_hz: Some(2.0),
            in_flight: u32::MAX,
            stop: StopCondition::Count(3),
            step: 0,
        };
        let mut p = Pacer::new(level, 10.0);
        assert!(matches!(p.next(10.0, 0, false), Pace::Send(t) if t == 10.0));
        p.sent += 1;
        assert!(matches!(p.next(10.2, 5, false), Pace::Wait));
        assert_eq!(p.wait(10.2, None, false), Duration::from_secs_f64(0.3));
        // Late: the intended time stays the schedule's (coordinated omission).
        assert!(matches!(p.next(11.3, 5, false), Pace::Send(t) if t == 10.5));
        p.sent += 2;
        assert!(matches!(p.next(12.0, 1, false), Pace::Wait));
        assert!(matches!(p.next(12.0, 0, false), Pace::Done));
    }

    #[test]
    fn a_closed_loop_level_keeps_its_count_in_flight_until_its_duration_ends() {
        let level = Level {
            rate_hz: None,
            in_flight: 2,
            stop: StopCondition::Duration(Duration::from_secs(5)),
            step: 0,
        };
        let p = Pacer::new(level, 0.0);
        assert!(matches!(p.next(1.0, 1, false), Pace::Send(t) if t == 1.0));
        assert!(matches!(p.next(1.0, 2, false), Pace::Wait));
        assert_eq!(p.wait(4.5, Some(9.0), false), Duration::from_secs_f64(0.5));
        assert!(matches!(p.next(5.0, 0, false), Pace::Done));
        assert!(
            matches!(p.next(1.0, 0, true), Pace::Done),
            "stopping ends sending"
        );
    }

    #[test]
    fn plans_are_read_by_the_configured_fields() {
        let topics = StackTopics::default();
        let (id, plan) = read_plan(
            &topics,
            r#"{"command_id": "b3", "status": "accepted", "steps": [{"action": "pick", "object": "cup"}, {"action": "place"}]}"#,
        );
        assert_eq!(id.as_deref(), Some("b3"));
        assert_eq!(plan.actions, vec!["pick", "place"]);
        assert!(!plan.rejected);
        let (id, plan) = read_plan(
            &topics,
            r#"{"command_id": 4, "status": "rejected", "steps": []}"#,
        );
        assert_eq!(id.as_deref(), Some("4"));
        assert!(plan.rejected);
        let (id, plan) = read_plan(&topics, "not json");
        assert_eq!((id, plan.actions.len(), plan.rejected), (None, 0, false));
    }

    #[test]
    fn transcripts_are_read_from_the_configured_key_or_whole() {
        let mut topics = StackTopics::default();
        assert_eq!(
            transcript_text(&topics, r#"{"text": "go home"}"#),
            "go home"
        );
        assert_eq!(transcript_text(&topics, "go home"), "go home");
        topics.transcript.text_field = None;
        assert_eq!(
            transcript_text(&topics, r#"{"text": "x"}"#),
            r#"{"text": "x"}"#
        );
    }

    #[test]
    fn detections_become_top_left_boxes_of_their_best_class() {
        use crate::msg::vision_msgs::*;
        let hyp = |class: &str, score| ObjectHypothesisWithPose {
            hypothesis: ObjectHypothesis {
                class_id: class.into(),
                score,
            },
            ..Default::default()
        };
        let msg = Detection2DArray {
            detections: vec![Detection2D {
                results: vec![hyp("a", 0.2), hyp("b", 0.9)],
                bbox: BoundingBox2D {
                    center: Pose2D {
                        position: Point2D { x: 50.0, y: 40.0 },
                        theta: 0.0,
                    },
                    size_x: 20.0,
                    size_y: 10.0,
                },
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(
            detection_records(&msg),
            vec![DetectionRecord {
                class: "b".into(),
                bbox: [40.0, 35.0, 20.0, 10.0],
                score: 0.9
            }]
        );
    }
}
