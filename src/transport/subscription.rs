//! Typed and header-only subscriptions over serialised samples, with per-topic counters.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use super::{Node, Qos, Result, Sample, SampleSink};
use crate::msg::audio_common_msgs::{self, AudioChunk};
use crate::msg::cdr;
use crate::msg::std_msgs::Header;
use crate::msg::RosMessage;

/// Samples queued between the middleware and the node before drops start.
const QUEUE_CAPACITY: usize = 1024;
/// Bytes a header-only subscription keeps of each message: encapsulation, stamp and a
/// frame id of up to 4 000 bytes; a longer frame id is counted as a decode failure.
const HEADER_PREFIX: usize = 4096;
/// At most one decode-failure log line per topic per this period.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// Counters of one subscribed topic. Shared with the backend, readable at any time.
#[derive(Debug, Default)]
pub struct TopicCounters {
    received: AtomicU64,
    bytes: AtomicU64,
    decode_failures: AtomicU64,
    queue_drops: AtomicU64,
}

impl TopicCounters {
    pub(super) fn record_received(&self, bytes: usize) {
        self.received.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub(super) fn record_queue_drop(&self) {
        self.queue_drops.fetch_add(1, Ordering::Relaxed);
    }

    fn record_decode_failure(&self) -> u64 {
        self.decode_failures.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Samples the middleware delivered.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// Serialised bytes the middleware delivered.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Samples that did not decode as the topic's type.
    pub fn decode_failures(&self) -> u64 {
        self.decode_failures.load(Ordering::Relaxed)
    }

    /// Samples dropped because the node did not keep up.
    pub fn queue_drops(&self) -> u64 {
        self.queue_drops.load(Ordering::Relaxed)
    }
}

/// Turns serialised samples into values.
pub trait Decoder: Send {
    /// What a sample decodes to.
    type Output;
    /// Decodes one sample (CDR with encapsulation header).
    fn decode(&self, cdr: &[u8]) -> cdr::Result<Self::Output>;
    /// How many leading bytes decoding needs, when not the whole message.
    fn prefix(&self) -> Option<usize> {
        None
    }
    /// What to tell the user when samples do not decode, beyond the error itself.
    fn failure_hint(&self) -> &'static str {
        ""
    }
}

/// Decodes whole messages of type `M`.
#[derive(Debug)]
pub struct Typed<M>(PhantomData<fn() -> M>);

impl<M> Default for Typed<M> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<M: DeserializeOwned> Decoder for Typed<M> {
    type Output = M;

    fn decode(&self, bytes: &[u8]) -> cdr::Result<M> {
        cdr::from_cdr(bytes)
    }
}

/// Decodes only the leading `std_msgs/Header` of any message that starts with one
/// (images, detections, audio ...); the payload is never touched.
#[derive(Debug, Default, Clone, Copy)]
pub struct HeaderOnly;

impl Decoder for HeaderOnly {
    type Output = Header;

    fn decode(&self, bytes: &[u8]) -> cdr::Result<Header> {
        cdr::decode_header(bytes)
    }

    fn prefix(&self) -> Option<usize> {
        Some(HEADER_PREFIX)
    }

    fn failure_hint(&self) -> &'static str {
        " (a type without a leading std_msgs/Header? Watch it with `stamped: false`)"
    }
}

/// The samples of a subscription, untouched: CDR with its encapsulation header (relays,
/// recorders, and readers that decode by type themselves).
#[derive(Debug, Default, Clone, Copy)]
pub struct WholeCdr;

impl Decoder for WholeCdr {
    type Output = Vec<u8>;

    fn decode(&self, cdr: &[u8]) -> cdr::Result<Vec<u8>> {
        Ok(cdr.to_vec())
    }
}

/// Reads nothing of any message: an arrival with an unset header, for types that do not
/// start with a `std_msgs/Header` (watched by rate, jitter and bandwidth only, as
/// `ros2 topic hz` does).
#[derive(Debug, Default, Clone, Copy)]
pub struct Unstamped;

impl Decoder for Unstamped {
    type Output = Header;

    fn decode(&self, _bytes: &[u8]) -> cdr::Result<Header> {
        Ok(Header::default())
    }

    fn prefix(&self) -> Option<usize> {
        Some(0)
    }
}

/// Reads an `audio_common_msgs` chunk's header and buffer length (see
/// [`crate::msg::audio_common_msgs`]); the samples are never copied.
#[derive(Debug, Clone)]
pub struct AudioChunks {
    msg_type: String,
}

impl AudioChunks {
    /// A decoder for chunks of `msg_type` (`AudioData` or `AudioDataStamped`).
    pub fn new(msg_type: &str) -> Self {
        Self {
            msg_type: msg_type.to_owned(),
        }
    }
}

impl Decoder for AudioChunks {
    type Output = AudioChunk;

    fn decode(&self, bytes: &[u8]) -> cdr::Result<AudioChunk> {
        audio_common_msgs::decode_chunk(&self.msg_type, bytes)
    }

    fn prefix(&self) -> Option<usize> {
        Some(HEADER_PREFIX)
    }
}

/// A decoded sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Received<T> {
    /// The decoded value.
    pub message: T,
    /// Wall-clock receive time, since the UNIX epoch.
    pub received_at: Duration,
    /// The publisher's timestamp of the write, when the middleware delivers one.
    pub source_time: Option<Duration>,
    /// Serialised size in bytes.
    pub size: usize,
}

/// A subscription that decodes its samples with `D`, counting what it cannot decode.
pub struct Subscription<D: Decoder> {
    topic: String,
    rx: tokio::sync::mpsc::Receiver<Sample>,
    counters: Arc<TopicCounters>,
    decoder: D,
    last_log: Option<Instant>,
}

impl<M: RosMessage + DeserializeOwned> Subscription<Typed<M>> {
    /// Subscribes to `topic` as messages of type `M`.
    pub fn typed(node: &mut dyn Node, topic: &str, qos: Qos) -> Result<Self> {
        Self::new(node, topic, M::TYPE_NAME, qos, Typed::default())
    }
}

impl Subscription<HeaderOnly> {
    /// Subscribes to `topic` of header-first type `type_name`, decoding only headers.
    pub fn header_only(
        node: &mut dyn Node,
        topic: &str,
        type_name: &str,
        qos: Qos,
    ) -> Result<Self> {
        Self::new(node, topic, type_name, qos, HeaderOnly)
    }
}

impl<D: Decoder> Subscription<D> {
    /// Subscribes to `topic` of `type_name`, decoding with `decoder`.
    pub fn new(
        node: &mut dyn Node,
        topic: &str,
        type_name: &str,
        qos: Qos,
        decoder: D,
    ) -> Result<Self> {
        let (tx, rx) = tokio::sync::mpsc::channel(QUEUE_CAPACITY.max(qos.depth));
        let counters = Arc::new(TopicCounters::default());
        let sink = SampleSink {
            tx,
            counters: counters.clone(),
            prefix: decoder.prefix(),
        };
        node.create_raw_subscription(topic, type_name, qos, sink)?;
        Ok(Self {
            topic: topic.to_owned(),
            rx,
            counters,
            decoder,
            last_log: None,
        })
    }

    /// The topic name.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The topic's counters.
    pub fn counters(&self) -> &Arc<TopicCounters> {
        &self.counters
    }

    /// The next decodable sample; `None` once the backend has shut down. Samples that do
    /// not decode are counted and logged (at most once per 10 s per topic) and skipped.
    pub async fn recv(&mut self) -> Option<Received<D::Output>> {
        loop {
            let sample = self.rx.recv().await?;
            if let Some(decoded) = self.decode(sample) {
                return Some(decoded);
            }
        }
    }

    /// Hands every received sample, mapped by `wrap`, to `tx` from a task of its own, until
    /// the backend shuts down or the receiver goes away.
    pub fn forward<T, F>(mut self, tx: tokio::sync::mpsc::Sender<T>, wrap: F)
    where
        D: Send + 'static,
        D::Output: Send,
        T: Send + 'static,
        F: Fn(Received<D::Output>) -> T + Send + 'static,
    {
        tokio::spawn(async move {
            while let Some(received) = self.recv().await {
                if tx.send(wrap(received)).await.is_err() {
                    break;
                }
            }
        });
    }

    /// Like [`Self::recv`] without waiting: `None` when nothing decodable is queued.
    pub fn try_recv(&mut self) -> Option<Received<D::Output>> {
        while let Ok(sample) = self.rx.try_recv() {
            if let Some(decoded) = self.decode(sample) {
                return Some(decoded);
            }
        }
        None
    }

    fn decode(&mut self, sample: Sample) -> Option<Received<D::Output>> {
        match self.decoder.decode(&sample.cdr) {
            Ok(message) => Some(Received {
                message,
                received_at: sample.received_at,
                source_time: sample.source_time,
                size: sample.size,
            }),
            Err(error) => {
                let failures = self.counters.record_decode_failure();
                let now = Instant::now();
                if self
                    .last_log
                    .is_none_or(|t| now.duration_since(t) >= LOG_EVERY)
                {
                    self.last_log = Some(now);
                    tracing::warn!(
                        topic = %self.topic,
                        size = sample.size,
                        failures,
                        "dropping a sample that does not decode: {error}{}",
                        self.decoder.failure_hint()
                    );
                }
                None
            }
        }
    }
}
