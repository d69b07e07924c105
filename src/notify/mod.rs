//! Notification channels: one seam ([`Notifier`]), one queue and worker per channel.
//!
//! The node hands every notification to a [`Dispatcher`], which puts it on each channel's
//! bounded queue without waiting; each channel's worker delivers in order, retrying
//! failures with exponential backoff, and reports the outcome back so the node can record
//! it. A slow or dead channel never holds up rule evaluation or the other channels; a full
//! queue drops and counts.

mod alertmanager;
mod email;
mod webhook;

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{json, Value};
use tokio::sync::mpsc;

pub use alertmanager::AlertmanagerNotifier;
pub use email::{EmailNotifier, SMTP_PASSWORD_VAR, SMTP_USERNAME_VAR};
pub use webhook::WebhookNotifier;

use crate::config::Channel;
use crate::core::alert::{Notification, State};

/// Why a channel could not be set up or a delivery failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The channel's settings cannot work (bad address, bad URL).
    #[error("{channel}: {message}")]
    Config {
        /// Channel id.
        channel: String,
        /// What is wrong.
        message: String,
    },
    /// One delivery attempt failed.
    #[error("{channel}: {message}")]
    Delivery {
        /// Channel id.
        channel: String,
        /// Why.
        message: String,
    },
    /// One HTTP POST of a delivery failed.
    #[error("{channel}: POST {url}: {source}")]
    Post {
        /// Channel id.
        channel: String,
        /// The URL posted to.
        url: String,
        /// What the HTTP client said.
        #[source]
        source: Box<ureq::Error>,
    },
    /// A file channel's file could not be created or opened.
    #[error("{channel}: {}: {source}", path.display())]
    OpenFile {
        /// Channel id.
        channel: String,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// One line could not be written to a file channel's file.
    #[error("{channel}: {}: {source}", path.display())]
    WriteFile {
        /// Channel id.
        channel: String,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An email channel's address does not parse.
    #[error("{channel}: address {address:?}: {source}")]
    Address {
        /// Channel id.
        channel: String,
        /// The address as configured.
        address: String,
        /// What the parser said.
        #[source]
        source: lettre::address::AddressError,
    },
    /// An email channel's TLS connection to its SMTP server cannot be set up.
    #[error("{channel}: {tls} to {host}: {source}")]
    SmtpRelay {
        /// Channel id.
        channel: String,
        /// `starttls` or `tls`.
        tls: &'static str,
        /// The SMTP server's host.
        host: String,
        /// What the SMTP client said.
        #[source]
        source: lettre::transport::smtp::Error,
    },
    /// A notification's mail could not be built.
    #[error("{channel}: building the mail: {source}")]
    BuildMail {
        /// Channel id.
        channel: String,
        /// What the mail builder said.
        #[source]
        source: lettre::error::Error,
    },
    /// One mail could not be sent.
    #[error("{channel}: SMTP: {source}")]
    Smtp {
        /// Channel id.
        channel: String,
        /// What the SMTP client said.
        #[source]
        source: lettre::transport::smtp::Error,
    },
    /// The thread that made one HTTP POST did not finish.
    #[error("{channel}: POST {url}: delivery task: {source}")]
    PostTask {
        /// Channel id.
        channel: String,
        /// The URL posted to.
        url: String,
        /// Why the task ended.
        #[source]
        source: tokio::task::JoinError,
    },
}

/// Result alias of this module.
pub type Result<T> = std::result::Result<T, Error>;

/// One place notifications go.
pub trait Notifier: Send + Sync {
    /// Stable id of the channel, recorded in the history (`file:/var/log/alerts.jsonl`).
    fn id(&self) -> &str;
    /// Delivers one notification (one attempt).
    fn deliver<'a>(&'a self, notification: &'a Notification) -> BoxFuture<'a, Result<()>>;
    /// Whether the channel already holds this notification (idempotent redelivery after a
    /// restart). Channels that cannot tell say no.
    fn holds(&self, _notification_id: &str) -> bool {
        false
    }
    /// Takes note of an alert that was firing before a restart (nothing is sent).
    fn resume(&self, _notification: &Notification) {}
    /// Periodic upkeep (Alertmanager re-posts active alerts before they time out).
    fn heartbeat(&self) -> Option<BoxFuture<'_, Result<()>>> {
        None
    }
}

/// The id of a configured channel, as recorded in the history.
pub fn channel_id(channel: &Channel) -> String {
    match channel {
        Channel::Console => "console".to_owned(),
        Channel::File { path } => format!("file:{}", path.display()),
        Channel::Email { recipients, .. } => format!("email:{}", recipients.join(",")),
        Channel::Webhook { url } => format!("webhook:{url}"),
        Channel::Alertmanager { url } => format!("alertmanager:{url}"),
    }
}

/// Builds the notifier of a configured channel.
pub fn notifier(channel: &Channel) -> Result<Arc<dyn Notifier>> {
    let id = channel_id(channel);
    Ok(match channel {
        Channel::Console => Arc::new(ConsoleNotifier { id }),
        Channel::File { path } => Arc::new(FileNotifier::open(id, path)?),
        Channel::Email { .. } => Arc::new(EmailNotifier::new(id, channel)?),
        Channel::Webhook { url } => Arc::new(WebhookNotifier::new(id, url, HTTP_TIMEOUT)),
        Channel::Alertmanager { url } => Arc::new(AlertmanagerNotifier::new(id, url, HTTP_TIMEOUT)),
    })
}

/// Longest one HTTP delivery attempt may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);

pub use crate::core::clock::rfc3339;

/// The JSON a notification is sent as (webhook body, file line).
pub fn payload(n: &Notification) -> Value {
    json!({
        "id": n.id,
        "alert_id": n.alert_id,
        "rule": n.rule,
        "kind": n.kind,
        "status": n.status.as_str(),
        "severity": n.severity.as_str(),
        "previous_severity": n.previous_severity.map(|s| s.as_str()),
        "metric": n.metric,
        "value": n.value,
        "warning_threshold": n.warning,
        "critical_threshold": n.critical,
        "labels": n.labels,
        "message": n.message,
        "starts_at": rfc3339(n.starts_at),
        "ends_at": n.ends_at.map(rfc3339),
        "at": rfc3339(n.at),
    })
}

/// Logs notifications through `tracing`.
struct ConsoleNotifier {
    id: String,
}

impl Notifier for ConsoleNotifier {
    fn id(&self) -> &str {
        &self.id
    }

    fn deliver<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<()>> {
        match n.status {
            State::Resolved => tracing::info!(alert_id = %n.alert_id, "RESOLVED {}", n.message),
            _ => tracing::warn!(
                alert_id = %n.alert_id,
                kind = ?n.kind,
                "{} {}",
                n.severity.as_str().to_uppercase(),
                n.message
            ),
        }
        Box::pin(async { Ok(()) })
    }
}

/// Appends one JSON line per notification, flushed and synced per line.
struct FileNotifier {
    id: String,
    path: PathBuf,
    file: Mutex<File>,
    /// Notification ids already in the file when it was opened.
    present: HashSet<String>,
}

impl FileNotifier {
    fn open(id: String, path: &Path) -> Result<Self> {
        let error = |source: std::io::Error| Error::OpenFile {
            channel: id.clone(),
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(error)?;
        }
        let mut present = HashSet::new();
        if let Ok(existing) = File::open(path) {
            for line in BufReader::new(existing)
                .split(b'\n')
                .map_while(std::io::Result::ok)
            {
                if let Ok(value) = serde_json::from_slice::<Value>(&line) {
                    if let Some(id) = value.get("id").and_then(Value::as_str) {
                        present.insert(id.to_owned());
                    }
                }
            }
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(error)?;
        // A line torn by a kill must not swallow the next one.
        if std::fs::read(path).is_ok_and(|b| b.last().is_some_and(|c| *c != b'\n')) {
            file.write_all(b"\n").map_err(error)?;
        }
        Ok(Self {
            id,
            path: path.to_owned(),
            file: Mutex::new(file),
            present,
        })
    }
}

impl Notifier for FileNotifier {
    fn id(&self) -> &str {
        &self.id
    }

    fn deliver<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<()>> {
        let mut line = payload(n).to_string();
        line.push('\n');
        let result = match self.file.lock() {
            Ok(mut file) => file
                .write_all(line.as_bytes())
                .and_then(|()| file.flush())
                .and_then(|()| file.sync_data())
                .map_err(|source| Error::WriteFile {
                    channel: self.id.clone(),
                    path: self.path.clone(),
                    source,
                }),
            Err(_) => Err(Error::Delivery {
                channel: self.id.clone(),
                message: "file lock poisoned".to_owned(),
            }),
        };
        Box::pin(async move { result })
    }

    fn holds(&self, notification_id: &str) -> bool {
        self.present.contains(notification_id)
    }
}

/// How a channel retries a failed delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, at least 1.
    pub attempts: u32,
    /// Wait after the first failure; doubled after each further one.
    pub first_backoff: Duration,
    /// Longest wait between two attempts.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 6,
            first_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt number `attempt` (1-based).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.first_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// Delivery counters of one channel.
#[derive(Debug, Default)]
pub struct ChannelCounters {
    delivered: AtomicU64,
    retries: AtomicU64,
    gave_up: AtomicU64,
    dropped: AtomicU64,
}

/// A snapshot of one channel's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CounterSnapshot {
    /// Notifications delivered.
    pub delivered: u64,
    /// Failed attempts that were retried.
    pub retries: u64,
    /// Notifications given up after every attempt failed.
    pub gave_up: u64,
    /// Notifications dropped because the channel's queue was full.
    pub dropped: u64,
}

impl ChannelCounters {
    fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            delivered: self.delivered.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            gave_up: self.gave_up.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }
}

/// One channel's outcome for one notification, for the history.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The notification.
    pub notification_id: String,
    /// The channel id.
    pub channel: String,
    /// Attempts made.
    pub attempts: u32,
    /// `None` when delivered, else the last error.
    pub error: Option<String>,
    /// From the notification's decision to the end of delivery.
    pub latency: Duration,
}

struct Lane {
    notifier: Arc<dyn Notifier>,
    tx: mpsc::Sender<Arc<Notification>>,
    counters: Arc<ChannelCounters>,
}

/// Queues per channel and their workers.
pub struct Dispatcher {
    lanes: Vec<Lane>,
}

/// Notifications a channel may have queued before new ones are dropped.
const QUEUE_DEPTH: usize = 1024;
/// How often notifiers get their heartbeat.
const HEARTBEAT: Duration = Duration::from_secs(60);

impl Dispatcher {
    /// Starts one worker per notifier; outcomes go to `outcomes`. Must run inside tokio.
    pub fn start(
        notifiers: Vec<Arc<dyn Notifier>>,
        retry: RetryPolicy,
        outcomes: mpsc::UnboundedSender<Outcome>,
        clock: fn() -> Duration,
    ) -> Self {
        let lanes = notifiers
            .into_iter()
            .map(|notifier| {
                let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
                let counters = Arc::new(ChannelCounters::default());
                tokio::spawn(worker(
                    notifier.clone(),
                    rx,
                    retry,
                    counters.clone(),
                    outcomes.clone(),
                    clock,
                ));
                Lane {
                    notifier,
                    tx,
                    counters,
                }
            })
            .collect();
        Self { lanes }
    }

    /// Ids of every channel, in configuration order.
    pub fn channel_ids(&self) -> Vec<String> {
        self.lanes
            .iter()
            .map(|l| l.notifier.id().to_owned())
            .collect()
    }

    /// Queues `notification` on the channels named in `channels` (all when `None`); never
    /// waits. Returns the ids of channels whose queue was full.
    pub fn send(&self, notification: &Notification, channels: Option<&[String]>) -> Vec<String> {
        let shared = Arc::new(notification.clone());
        let mut dropped = Vec::new();
        for lane in &self.lanes {
            let id = lane.notifier.id();
            if channels.is_some_and(|c| !c.iter().any(|c| c == id)) {
                continue;
            }
            if lane.tx.try_send(shared.clone()).is_err() {
                lane.counters.dropped.fetch_add(1, Ordering::Relaxed);
                tracing::error!("{id}: queue full, notification {} dropped", notification.id);
                dropped.push(id.to_owned());
            }
        }
        dropped
    }

    /// Tells every channel about an alert that was firing before a restart.
    pub fn resume(&self, notification: &Notification) {
        for lane in &self.lanes {
            lane.notifier.resume(notification);
        }
    }

    /// Counters of every channel.
    pub fn counters(&self) -> Vec<(String, CounterSnapshot)> {
        self.lanes
            .iter()
            .map(|l| (l.notifier.id().to_owned(), l.counters.snapshot()))
            .collect()
    }
}

async fn worker(
    notifier: Arc<dyn Notifier>,
    mut rx: mpsc::Receiver<Arc<Notification>>,
    retry: RetryPolicy,
    counters: Arc<ChannelCounters>,
    outcomes: mpsc::UnboundedSender<Outcome>,
    clock: fn() -> Duration,
) {
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    heartbeat.tick().await;
    loop {
        let notification = tokio::select! {
            n = rx.recv() => match n {
                Some(n) => n,
                None => break,
            },
            _ = heartbeat.tick() => {
                if let Some(beat) = notifier.heartbeat() {
                    if let Err(e) = beat.await {
                        counters.retries.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!("{e}");
                    }
                }
                continue;
            }
        };
        if notifier.holds(&notification.id) {
            counters.delivered.fetch_add(1, Ordering::Relaxed);
            let _ = outcomes.send(Outcome {
                notification_id: notification.id.clone(),
                channel: notifier.id().to_owned(),
                attempts: 0,
                error: None,
                latency: Duration::ZERO,
            });
            continue;
        }
        let mut attempt = 0;
        let error = loop {
            attempt += 1;
            match notifier.deliver(&notification).await {
                Ok(()) => break None,
                Err(e) if attempt >= retry.attempts.max(1) => break Some(e.to_string()),
                Err(e) => {
                    counters.retries.fetch_add(1, Ordering::Relaxed);
                    let wait = retry.backoff(attempt);
                    tracing::warn!(
                        "{e} (attempt {attempt} of {}, retrying in {wait:?})",
                        retry.attempts
                    );
                    tokio::time::sleep(wait).await;
                }
            }
        };
        match &error {
            None => counters.delivered.fetch_add(1, Ordering::Relaxed),
            Some(e) => {
                tracing::error!(
                    "{}: gave up on notification {} after {attempt} attempts: {e}",
                    notifier.id(),
                    notification.id
                );
                counters.gave_up.fetch_add(1, Ordering::Relaxed)
            }
        };
        let _ = outcomes.send(Outcome {
            notification_id: notification.id.clone(),
            channel: notifier.id().to_owned(),
            attempts: attempt,
            error,
            latency: clock().saturating_sub(notification.at),
        });
    }
}

#[cfg(test)]
mod tests;
