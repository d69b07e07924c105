//! The SIMULATED stack's nodes: each a task that owns its own [`Node`] (its own DDS
//! participant with ros2-client), its subscriptions and publishers.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, RngExt, SeedableRng};
use tokio::task::JoinSet;

use super::config::{DegradeSwitch, SimConfig};
use super::planner::{self, Plan, PlanStatus};
use super::scene;
use super::speech::{self, Heard, UNINTELLIGIBLE};
use super::vision::{self, Found};
use super::{
    EventSender, GoalOutcome, Result, SimEvent, ACTION_STATUS_TOPIC, DETECTIONS_TOPIC, IMAGE_TOPIC,
    PLAN_TOPIC, TRANSCRIPT_TOPIC, UTTERANCE_TOPIC,
};
use crate::msg::action_msgs::{GoalInfo, GoalStatus, GoalStatusArray};
use crate::msg::audio_common_msgs::AudioStamped;
use crate::msg::builtin_interfaces::Time;
use crate::msg::geometry_msgs::{Point, Pose, PoseWithCovariance, Quaternion};
use crate::msg::sensor_msgs::Image;
use crate::msg::std_msgs::{Header, String as RosString};
use crate::msg::unique_identifier_msgs::UUID;
use crate::msg::vision_msgs::{
    BoundingBox2D, Detection2D, Detection2DArray, ObjectHypothesis, ObjectHypothesisWithPose,
    Point2D, Pose2D,
};
use crate::msg::RosMessage;
use crate::transport::{
    wall_clock, Node, NodeOptions, Publisher, Qos, Received, Subscription, Transport, Typed,
};

/// Detection production times the executor remembers for grounding plans.
const RECENT_DETECTIONS: usize = 256;

/// The random stream of one node's work on one command, seeded from the configured seed,
/// the node and the command's key (utterance text, command id): a command's draws do not
/// depend on which other commands the stack saw before, or in which order.
pub(super) fn rng_for(seed: u64, node: &str, key: &str) -> StdRng {
    // FNV-1a: a fixed function, unlike std's hasher, so seeds mean the same in every build.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed
        .to_le_bytes()
        .iter()
        .chain(node.as_bytes())
        .chain([0u8].iter())
        .chain(key.as_bytes())
    {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    StdRng::seed_from_u64(h)
}

fn emit(events: &Option<EventSender>, event: SimEvent) {
    if let Some(tx) = events {
        // A receiver that went away only means nobody is watching any more.
        let _ = tx.send(event);
    }
}

/// Sleeps until wall-clock time `at` (since the UNIX epoch); returns at once if it passed.
async fn sleep_until_wall(at: Duration) {
    let left = at.saturating_sub(wall_clock());
    if !left.is_zero() {
        tokio::time::sleep(left).await;
    }
}

/// When the stage's input was produced: its source timestamp, else its arrival.
fn produced<T>(r: &Received<T>) -> Duration {
    r.source_time.unwrap_or(r.received_at)
}

fn stamp(t: Duration) -> Time {
    Time::from_duration(t)
}

/// Creates the nodes and starts their tasks.
pub(super) fn start(
    config: &SimConfig,
    transport: &dyn Transport,
    domain: u16,
    events: Option<EventSender>,
    degrade: &DegradeSwitch,
) -> Result<JoinSet<()>> {
    let create = |name: &str| -> Result<Box<dyn Node>> {
        Ok(transport.create_node(&NodeOptions::new(name, "/").with_domain(domain))?)
    };
    let mut tasks = JoinSet::new();
    asr(&mut tasks, create("sim_asr")?, config, events.clone())?;
    let planner_node = create("sim_planner")?;
    planner(
        &mut tasks,
        planner_node,
        config,
        events.clone(),
        degrade.clone(),
    )?;
    camera(&mut tasks, create("sim_camera")?, config)?;
    let vision_node = create("sim_vision")?;
    vision(
        &mut tasks,
        vision_node,
        config,
        events.clone(),
        degrade.clone(),
    )?;
    executor(&mut tasks, create("sim_executor")?, config, events)?;
    Ok(tasks)
}

fn asr(
    tasks: &mut JoinSet<()>,
    mut node: Box<dyn Node>,
    config: &SimConfig,
    events: Option<EventSender>,
) -> Result<()> {
    let mut utterances = Subscription::<Typed<AudioStamped>>::typed(
        node.as_mut(),
        UTTERANCE_TOPIC,
        Qos::reliable(10),
    )?;
    let transcripts =
        Publisher::<RosString>::new(node.as_mut(), TRANSCRIPT_TOPIC, Qos::reliable(10))?;
    let cfg = config.asr.clone();
    let seed = config.seed;
    tasks.spawn(async move {
        let _node = node;
        let mut unreadable = 0u64;
        while let Some(r) = utterances.recv().await {
            let input_at = produced(&r);
            let utterance_stamp = r.message.header.stamp.to_duration().unwrap_or_default();
            let reference = match speech::hear(&r.message.audio) {
                Ok(Heard::Text(text)) => text,
                Ok(Heard::Audio) => UNINTELLIGIBLE.to_owned(),
                Err(e) => {
                    unreadable += 1;
                    tracing::warn!(unreadable, "SIMULATED sim_asr: dropping an utterance: {e}");
                    continue;
                }
            };
            // A tagged utterance is keyed by its text alone (reproducible across runs); an
            // untagged one also by its stamp, so repeating a command does not repeat its draws.
            let key = match speech::split_tag(&reference).0 {
                Some(_) => reference.clone(),
                None => format!("{reference}@{}", utterance_stamp.as_nanos()),
            };
            let mut rng = rng_for(seed, "sim_asr", &key);
            let drawn = cfg.latency.sample(&mut rng);
            let (transcript, edits, confidence) = if reference == UNINTELLIGIBLE {
                (reference.clone(), 0, 0.1)
            } else {
                let (text, edits) = speech::add_noise(&reference, &cfg.wer, &mut rng);
                let words = speech::split_tag(&reference).1.split_whitespace().count();
                (text, edits, speech::confidence(words, edits))
            };
            sleep_until_wall(input_at + drawn).await;
            // The key the collector's default pipeline reads the confidence from.
            let data = serde_json::json!({
                "text": transcript,
                (crate::config::collector::DEFAULT_CONFIDENCE_KEY): confidence,
            });
            let output_at = wall_clock();
            if let Err(e) = transcripts.publish(&RosString {
                data: data.to_string(),
            }) {
                tracing::warn!("SIMULATED sim_asr: publishing: {e}");
            }
            tracing::debug!(%transcript, edits, ?drawn, "SIMULATED sim_asr transcribed");
            emit(
                &events,
                SimEvent::Transcribed {
                    utterance_stamp,
                    reference,
                    transcript,
                    confidence,
                    edits,
                    drawn,
                    input_at,
                    output_at,
                },
            );
        }
    });
    Ok(())
}

/// The text of a transcript message: the `text` of a JSON object, else the whole payload.
fn transcript_text(data: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(data) {
        Ok(serde_json::Value::Object(o)) => match o.get("text") {
            Some(serde_json::Value::String(t)) => t.clone(),
            _ => String::new(),
        },
        _ => data.to_owned(),
    }
}

fn planner(
    tasks: &mut JoinSet<()>,
    mut node: Box<dyn Node>,
    config: &SimConfig,
    events: Option<EventSender>,
    degrade: DegradeSwitch,
) -> Result<()> {
    let mut transcripts = Subscription::<Typed<RosString>>::typed(
        node.as_mut(),
        TRANSCRIPT_TOPIC,
        Qos::reliable(10),
    )?;
    let plans = Publisher::<RosString>::new(node.as_mut(), PLAN_TOPIC, Qos::reliable(10))?;
    let cfg = config.planner.clone();
    let seed = config.seed;
    let latencies = [config.planner_latency(false), config.planner_latency(true)];
    tasks.spawn(async move {
        let _node = node;
        let mut next_id = 1u64;
        while let Some(r) = transcripts.recv().await {
            let input_at = produced(&r);
            let text = transcript_text(&r.message.data);
            let (tag, body) = speech::split_tag(&text);
            let command_id = match tag {
                Some(id) => id.to_owned(),
                None => {
                    let id = format!("c{next_id}");
                    next_id += 1;
                    id
                }
            };
            let steps = planner::steps(body);
            let mut rng = rng_for(seed, "sim_planner", &command_id);
            let drawn = latencies[usize::from(degrade.is_on())].sample(&mut rng);
            let refuses = rng.random::<f64>() < cfg.reject_rate;
            let status = if steps.is_empty() || refuses {
                PlanStatus::Rejected
            } else {
                PlanStatus::Accepted
            };
            let plan = Plan {
                command_id,
                status,
                steps: if status == PlanStatus::Accepted {
                    steps
                } else {
                    Vec::new()
                },
            };
            sleep_until_wall(input_at + drawn).await;
            let data = serde_json::to_string(&plan).unwrap_or_default();
            let output_at = wall_clock();
            if let Err(e) = plans.publish(&RosString { data }) {
                tracing::warn!("SIMULATED sim_planner: publishing: {e}");
            }
            tracing::info!(
                command_id = %plan.command_id,
                status = plan.status.as_str(),
                steps = plan.steps.len(),
                "SIMULATED sim_planner planned in {drawn:?}"
            );
            emit(
                &events,
                SimEvent::Planned {
                    plan,
                    drawn,
                    input_at,
                    output_at,
                },
            );
        }
    });
    Ok(())
}

fn camera(tasks: &mut JoinSet<()>, mut node: Box<dyn Node>, config: &SimConfig) -> Result<()> {
    let images = Arc::new(Publisher::<Image>::new(
        node.as_mut(),
        IMAGE_TOPIC,
        Qos::sensor_data(),
    )?);
    let cfg = config.camera.clone();
    tasks.spawn(async move {
        let _node = node;
        let start = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / cfg.rate_hz));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            let (images, cfg) = (images.clone(), cfg.clone());
            let t = start.elapsed().as_secs_f64();
            // Rendering and serialising a frame is CPU work: off the async workers.
            let sent = tokio::task::spawn_blocking(move || {
                let acquired = wall_clock();
                let frame = scene::render(cfg.width, cfg.height, t);
                images.publish(&Image {
                    header: Header {
                        stamp: stamp(acquired),
                        frame_id: cfg.frame_id.clone(),
                    },
                    height: frame.height,
                    width: frame.width,
                    encoding: "rgb8".into(),
                    is_bigendian: 0,
                    step: frame.width * 3,
                    data: frame.rgb,
                })
            })
            .await;
            match sent {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!("SIMULATED sim_camera: publishing: {e}"),
                Err(_) => break,
            }
        }
    });
    Ok(())
}

/// The detections message of one image.
pub(super) fn detections_message(header: &Header, found: &[Found]) -> Detection2DArray {
    let detections = found
        .iter()
        .map(|f| {
            let (w, h) = (f64::from(f.bbox.width), f64::from(f.bbox.height));
            let (cx, cy) = (f64::from(f.bbox.x) + w / 2.0, f64::from(f.bbox.y) + h / 2.0);
            Detection2D {
                header: header.clone(),
                results: vec![ObjectHypothesisWithPose {
                    hypothesis: ObjectHypothesis {
                        class_id: scene::class_id(f.colour, f.shape),
                        score: f.score,
                    },
                    pose: PoseWithCovariance {
                        pose: Pose {
                            position: Point {
                                x: cx,
                                y: cy,
                                z: 0.0,
                            },
                            orientation: Quaternion::IDENTITY,
                        },
                        covariance: Default::default(),
                    },
                }],
                bbox: BoundingBox2D {
                    center: Pose2D {
                        position: Point2D { x: cx, y: cy },
                        theta: 0.0,
                    },
                    size_x: w,
                    size_y: h,
                },
                id: String::new(),
            }
        })
        .collect();
    Detection2DArray {
        header: header.clone(),
        detections,
    }
}

fn vision(
    tasks: &mut JoinSet<()>,
    mut node: Box<dyn Node>,
    config: &SimConfig,
    events: Option<EventSender>,
    degrade: DegradeSwitch,
) -> Result<()> {
    let mut images =
        Subscription::<Typed<Image>>::typed(node.as_mut(), IMAGE_TOPIC, Qos::sensor_data())?;
    let detections = Arc::new(Publisher::<Detection2DArray>::new(
        node.as_mut(),
        DETECTIONS_TOPIC,
        Qos::reliable(10),
    )?);
    let cfg = config.vision.clone();
    let loads = [config.vision_load(false), config.vision_load(true)];
    tasks.spawn(async move {
        let _node = node;
        let (mut skipped, mut unreadable) = (0u64, 0u64);
        while let Some(mut r) = images.recv().await {
            // Keep up like a keep-last-1 perception node: only the newest frame is worth it.
            let mut dropped = 0;
            while let Some(newer) = images.try_recv() {
                r = newer;
                dropped += 1;
            }
            skipped += dropped;
            let (detections, cfg) = (detections.clone(), cfg.clone());
            let load = loads[usize::from(degrade.is_on())];
            let image = r.message;
            let result = tokio::task::spawn_blocking(move || {
                let started = Instant::now();
                let mut found = Ok(Vec::new());
                // `load` passes: the degrade knob makes this node heavy for real.
                for _ in 0..load {
                    found = vision::detect(
                        &image.encoding,
                        image.width,
                        image.height,
                        image.step,
                        &image.data,
                        cfg.min_area,
                    );
                }
                let processing = started.elapsed();
                let found = found?;
                let msg = detections_message(&image.header, &found);
                if let Err(e) = detections.publish(&msg) {
                    tracing::warn!("SIMULATED sim_vision: publishing: {e}");
                }
                Ok::<_, vision::ImageError>((image.header.stamp, found.len(), processing))
            })
            .await;
            match result {
                Ok(Ok((image_stamp, objects, processing))) => emit(
                    &events,
                    SimEvent::Detected {
                        image_stamp: image_stamp.to_duration().unwrap_or_default(),
                        objects,
                        processing,
                        skipped: dropped,
                    },
                ),
                Ok(Err(e)) => {
                    unreadable += 1;
                    if unreadable.is_power_of_two() {
                        tracing::warn!(unreadable, "SIMULATED sim_vision: dropping an image: {e}");
                    }
                }
                Err(_) => break,
            }
            if skipped.is_power_of_two() && dropped > 0 {
                tracing::info!(skipped, "SIMULATED sim_vision is behind the camera");
            }
        }
    });
    Ok(())
}

/// The status list of an action server: the most recent goals, newest last.
struct Goals {
    list: VecDeque<GoalStatus>,
    capacity: usize,
}

impl Goals {
    fn set(&mut self, goal_id: [u8; 16], accepted: Time, status: i8) -> GoalStatusArray {
        match self
            .list
            .iter_mut()
            .find(|g| g.goal_info.goal_id.uuid == goal_id)
        {
            Some(g) => g.status = status,
            None => {
                self.list.push_back(GoalStatus {
                    goal_info: GoalInfo {
                        goal_id: UUID { uuid: goal_id },
                        stamp: accepted,
                    },
                    status,
                });
                while self.list.len() > self.capacity {
                    self.list.pop_front();
                }
            }
        }
        GoalStatusArray {
            status_list: self.list.iter().cloned().collect(),
        }
    }
}

// Long: the simulated executor node: its endpoints and the two tasks that own them.
fn executor(
    tasks: &mut JoinSet<()>,
    mut node: Box<dyn Node>,
    config: &SimConfig,
    events: Option<EventSender>,
) -> Result<()> {
    let mut plans =
        Subscription::<Typed<RosString>>::typed(node.as_mut(), PLAN_TOPIC, Qos::reliable(10))?;
    let mut detections = Subscription::header_only(
        node.as_mut(),
        DETECTIONS_TOPIC,
        Detection2DArray::TYPE_NAME,
        Qos::sensor_data(),
    )?;
    let status =
        Publisher::<GoalStatusArray>::new(node.as_mut(), ACTION_STATUS_TOPIC, Qos::latched())?;
    let cfg = config.executor.clone();
    let seed = config.seed;
    // Production times of the latest detections, kept current by a task of their own so
    // that none is missed (or queued stale) while a goal executes.
    let (recent_tx, recent) = tokio::sync::watch::channel(VecDeque::<Duration>::new());
    tasks.spawn(async move {
        while let Some(d) = detections.recv().await {
            recent_tx.send_modify(|recent| {
                recent.push_back(produced(&d));
                while recent.len() > RECENT_DETECTIONS {
                    recent.pop_front();
                }
            });
        }
    });
    tasks.spawn(async move {
        let _node = node;
        let mut recent = recent;
        let mut goals = Goals {
            list: VecDeque::new(),
            capacity: cfg.status_history,
        };
        while let Some(r) = plans.recv().await {
            let plan_at = produced(&r);
            let plan: Plan = match serde_json::from_str(&r.message.data) {
                Ok(plan) => plan,
                Err(e) => {
                    tracing::warn!("SIMULATED sim_executor: ignoring a plan that is not one: {e}");
                    continue;
                }
            };
            if plan.status != PlanStatus::Accepted {
                continue;
            }
            // Ground the plan on the first detections produced after it.
            let deadline = tokio::time::Instant::now() + cfg.grounding_timeout;
            let grounded_at = loop {
                let found = recent
                    .borrow_and_update()
                    .iter()
                    .find(|t| **t > plan_at)
                    .copied();
                if found.is_some() {
                    break found;
                }
                match tokio::time::timeout_at(deadline, recent.changed()).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) | Err(_) => break None,
                }
            };
            if grounded_at.is_none() {
                tracing::warn!(
                    command_id = %plan.command_id,
                    "SIMULATED sim_executor: no detections within {:?}; executing ungrounded",
                    cfg.grounding_timeout
                );
            }
            let mut rng = rng_for(seed, "sim_executor", &plan.command_id);
            let mut goal_id = [0u8; 16];
            rng.fill_bytes(&mut goal_id);
            let dispatch = cfg.dispatch.sample(&mut rng);
            let execution = cfg.execution.sample(&mut rng);
            let roll = rng.random::<f64>();
            let outcome = if roll < cfg.failure_rate {
                GoalOutcome::Aborted
            } else if roll < cfg.failure_rate + cfg.lost_rate {
                GoalOutcome::Lost
            } else {
                GoalOutcome::Succeeded
            };
            sleep_until_wall(grounded_at.unwrap_or_else(wall_clock) + dispatch).await;
            let started = wall_clock();
            let accepted = stamp(started);
            let array = goals.set(goal_id, accepted.clone(), GoalStatus::STATUS_EXECUTING);
            if let Err(e) = status.publish(&array) {
                tracing::warn!("SIMULATED sim_executor: publishing: {e}");
            }
            emit(
                &events,
                SimEvent::Executing {
                    command_id: plan.command_id.clone(),
                    goal_id,
                    plan_at,
                    grounded_at,
                    drawn: dispatch,
                    output_at: started,
                },
            );
            sleep_until_wall(started + execution).await;
            let end = match outcome {
                GoalOutcome::Succeeded => Some(GoalStatus::STATUS_SUCCEEDED),
                GoalOutcome::Aborted => Some(GoalStatus::STATUS_ABORTED),
                GoalOutcome::Lost => None,
            };
            let output_at = wall_clock();
            if let Some(code) = end {
                let array = goals.set(goal_id, accepted, code);
                if let Err(e) = status.publish(&array) {
                    tracing::warn!("SIMULATED sim_executor: publishing: {e}");
                }
            }
            tracing::info!(
                command_id = %plan.command_id,
                ?outcome,
                "SIMULATED sim_executor: goal ended after {execution:?}"
            );
            emit(
                &events,
                SimEvent::Finished {
                    command_id: plan.command_id,
                    goal_id,
                    outcome,
                    drawn: execution,
                    input_at: started,
                    output_at,
                },
            );
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transcripts_are_read_as_json_or_plain_text() {
        assert_eq!(
            transcript_text(r#"{"text": "[c1] pick it", "confidence": 0.9}"#),
            "[c1] pick it"
        );
        assert_eq!(transcript_text("open the door"), "open the door");
        assert_eq!(transcript_text(r#"{"confidence": 0.9}"#), "");
    }

    #[test]
    fn the_status_list_keeps_the_newest_goals_and_updates_in_place() {
        let mut goals = Goals {
            list: VecDeque::new(),
            capacity: 2,
        };
        let t = Time::default();
        goals.set([1; 16], t.clone(), GoalStatus::STATUS_EXECUTING);
        goals.set([2; 16], t.clone(), GoalStatus::STATUS_EXECUTING);
        let a = goals.set([1; 16], t.clone(), GoalStatus::STATUS_SUCCEEDED);
        assert_eq!(a.status_list.len(), 2);
        assert_eq!(a.status_list[0].status, GoalStatus::STATUS_SUCCEEDED);
        let b = goals.set([3; 16], t, GoalStatus::STATUS_EXECUTING);
        let ids: Vec<u8> = b
            .status_list
            .iter()
            .map(|g| g.goal_info.goal_id.uuid[0])
            .collect();
        assert_eq!(ids, [2, 3]);
    }

    #[test]
    fn detections_carry_the_image_header_class_score_and_box_centre() {
        let header = Header {
            stamp: Time { sec: 5, nanosec: 7 },
            frame_id: "sim_camera".into(),
        };
        let found = [Found {
            colour: scene::Colour::Red,
            shape: scene::Shape::Rectangle,
            bbox: scene::PixelBox {
                x: 10,
                y: 20,
                width: 30,
                height: 40,
            },
            score: 0.98,
        }];
        let msg = detections_message(&header, &found);
        assert_eq!(msg.header, header);
        let d = &msg.detections[0];
        assert_eq!(d.results[0].hypothesis.class_id, "red_rectangle");
        assert_eq!(d.results[0].hypothesis.score, 0.98);
        assert_eq!(
            (
                d.bbox.center.position.x,
                d.bbox.center.position.y,
                d.bbox.size_x,
                d.bbox.size_y
            ),
            (25.0, 40.0, 30.0, 40.0)
        );
        assert_eq!(d.results[0].pose.pose.orientation.w, 1.0);
    }
}
