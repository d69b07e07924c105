//! Listening to a live graph: every topic with a publisher is subscribed as it appears
//! (best effort, which matches reliable and best-effort publishers alike) and each sample
//! is observed, and recorded when asked, until the time is up or the caller stops it.

use std::collections::BTreeSet;
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use super::record::{RecordError, Recording};
use super::Observer;
use crate::core::discover::TopicTraffic;
use crate::transport::{
    self, Durability, NodeOptions, Qos, Received, Reliability, Subscription, Transport, WholeCdr,
};

/// How often the graph is asked for new topics.
const GRAPH_PERIOD: Duration = Duration::from_millis(250);

/// Topics never subscribed: chatty ROS 2 infrastructure that is never a stage.
pub const NOT_SUBSCRIBED: [&str; 2] = ["/rosout", "/parameter_events"];

/// What to listen to, and for how long.
#[derive(Debug, Clone)]
pub struct Options {
    /// The listening node (its domain and discovery range).
    pub node: NodeOptions,
    /// How long to listen.
    pub duration: Duration,
    /// Most topics subscribed; the rest are listed as seen but not heard.
    pub max_topics: usize,
    /// Record every sample into this MCAP file.
    pub record: Option<PathBuf>,
}

/// What listening found.
#[derive(Debug)]
pub struct Heard {
    /// Every topic seen, with its messages.
    pub traffic: Vec<TopicTraffic>,
    /// Topics seen but not subscribed, and why.
    pub skipped: Vec<String>,
    /// The recording and its message count, when asked for.
    pub recorded: Option<(PathBuf, u64)>,
}

/// Listening failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The middleware refused.
    #[error("{0}")]
    Transport(#[from] transport::Error),
    /// The recording could not be written.
    #[error("{0}")]
    Record(#[from] RecordError),
}

/// Progress while listening.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Topics subscribed.
    pub topics: usize,
    /// Messages observed.
    pub messages: usize,
    /// Time left.
    pub left: Duration,
}

/// Listens on `transport` until `options.duration` passed or `stop` resolves.
// Long: the select loop owns the subscriptions, the observer and the recording together.
pub async fn listen(
    transport: &dyn Transport,
    options: &Options,
    stop: impl Future<Output = ()>,
    progress: &mut dyn FnMut(Progress),
) -> Result<Heard, Error> {
    let mut node = transport.create_node(&options.node)?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(usize, Received<Vec<u8>>)>(4096);
    let mut observer = Observer::new();
    let mut recording = options
        .record
        .as_deref()
        .map(Recording::create)
        .transpose()?;
    let mut subscribed: Vec<(String, String)> = Vec::new();
    let mut skipped = BTreeSet::new();
    let started = tokio::time::Instant::now();
    let deadline = started + options.duration;
    let mut tick = tokio::time::interval(GRAPH_PERIOD);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = tokio::time::sleep_until(deadline) => break,
            _ = tick.tick() => {
                for topic in node.graph_topics()? {
                    if observer.knows(&topic.name) {
                        continue;
                    }
                    let Some(msg_type) = topic.types.first().cloned() else { continue };
                    observer.topic(&topic.name, &msg_type, &topic.publishers);
                    if topic.types.len() > 1 {
                        skipped.insert(format!(
                            "{}: publishers disagree on its type ({}); observed as {msg_type}",
                            topic.name,
                            topic.types.join(", ")
                        ));
                    }
                    if NOT_SUBSCRIBED.contains(&topic.name.as_str()) {
                        continue;
                    }
                    if subscribed.len() >= options.max_topics {
                        skipped.insert(format!(
                            "{}: not subscribed, more than {} topics",
                            topic.name, options.max_topics
                        ));
                        continue;
                    }
                    let qos = Qos {
                        reliability: Reliability::BestEffort,
                        durability: Durability::Volatile,
                        depth: 100,
                    };
                    match Subscription::new(node.as_mut(), &topic.name, &msg_type, qos, WholeCdr) {
                        Ok(sub) => {
                            let index = subscribed.len();
                            subscribed.push((topic.name.clone(), msg_type));
                            sub.forward(tx.clone(), move |r| (index, r));
                        }
                        Err(e) => {
                            skipped.insert(format!("{}: cannot subscribe: {e}", topic.name));
                        }
                    }
                }
                progress(Progress {
                    topics: subscribed.len(),
                    messages: observer.messages(),
                    left: deadline.saturating_duration_since(tokio::time::Instant::now()),
                });
            }
            Some((index, sample)) = rx.recv() => {
                take(&mut observer, recording.as_mut(), &subscribed[index], &sample)?;
            }
        }
    }
    // What arrived before the end still counts.
    while let Ok((index, sample)) = rx.try_recv() {
        take(
            &mut observer,
            recording.as_mut(),
            &subscribed[index],
            &sample,
        )?;
    }
    drop(node);
    let recorded = recording.map(Recording::finish).transpose()?;
    Ok(Heard {
        traffic: observer.into_traffic(),
        skipped: skipped.into_iter().collect(),
        recorded,
    })
}

/// One sample observed (at the publisher's source time where the middleware gives it) and
/// recorded.
fn take(
    observer: &mut Observer,
    recording: Option<&mut Recording>,
    (topic, msg_type): &(String, String),
    sample: &Received<Vec<u8>>,
) -> Result<(), RecordError> {
    let at = sample.source_time.unwrap_or(sample.received_at);
    observer.message(topic, at, &sample.message);
    match recording {
        Some(r) => r.message(topic, msg_type, at, &sample.message),
        None => Ok(()),
    }
}
