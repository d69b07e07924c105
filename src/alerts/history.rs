//! The alert history: an append-only JSONL file, fsync'd after every record, that is also
//! the node's state.
//!
//! Records, one per line:
//! - `transition`: a state change of an alert, with the machine after it and, in the same
//!   line, the notification the change caused and the channels it must reach;
//! - `notification`: a notification without a state change (a repeat);
//! - `delivered` / `gave_up`: one channel's outcome for one notification.
//!
//! Notifications are written *before* they are handed to any channel.
//!
//! Restoring replays the file: each alert resumes from its last machine, and every
//! notification without a `delivered` (or `gave_up`) record for a channel is handed to
//! that channel again. Writing the notification first means a kill can never lose one;
//! the price is a possible second delivery when the process dies between a channel's
//! success and its `delivered` record (channels that can check, like the file channel,
//! skip what they already hold; Alertmanager treats a repeat as the same alert).
//!
//! A torn last line (the process died mid-write) or any other unreadable line is skipped
//! and counted, never fatal; the next append starts on a fresh line.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::core::alert::{AlertKey, AlertMachine, Notification, State, Transition};

/// Why the history could not be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Opening, reading, writing or syncing the file failed.
    #[error("alert history {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A record could not be serialised.
    #[error("alert history {path}: cannot serialise a record: {source}")]
    Encode {
        /// The file.
        path: PathBuf,
        /// The JSON error.
        source: serde_json::Error,
    },
}

/// Result alias of this module.
pub type Result<T> = std::result::Result<T, Error>;

/// One line of the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum Record {
    /// A state change, with the notification it caused (if any) in the same line, so a
    /// kill can never keep one and lose the other.
    Transition {
        /// Sequence number, unique in the file.
        seq: u64,
        /// The change.
        #[serde(flatten)]
        transition: Transition,
        /// The notification the change caused, before any delivery.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        notification: Option<Box<Notification>>,
        /// Channel ids that must receive the notification.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        channels: Vec<String>,
    },
    /// A notification decided, before any delivery.
    Notification {
        /// Sequence number.
        seq: u64,
        /// Channel ids that must receive it.
        channels: Vec<String>,
        /// The notification.
        notification: Box<Notification>,
    },
    /// A channel delivered a notification.
    Delivered {
        /// Sequence number.
        seq: u64,
        /// The notification.
        notification_id: String,
        /// The channel id.
        channel: String,
        /// Attempts it took.
        attempts: u32,
    },
    /// A channel gave up on a notification after its retries.
    GaveUp {
        /// Sequence number.
        seq: u64,
        /// The notification.
        notification_id: String,
        /// The channel id.
        channel: String,
        /// Attempts made.
        attempts: u32,
        /// The last error.
        error: String,
    },
}

impl Record {
    /// The record's sequence number.
    pub fn seq(&self) -> u64 {
        match self {
            Record::Transition { seq, .. }
            | Record::Notification { seq, .. }
            | Record::Delivered { seq, .. }
            | Record::GaveUp { seq, .. } => *seq,
        }
    }
}

/// What replaying the history found.
#[derive(Debug, Default)]
pub struct Restored {
    /// Every alert that is not inactive, with its last machine.
    pub active: Vec<(AlertKey, AlertMachine)>,
    /// Notifications some channel has not finished with: (notification, channel ids).
    pub undelivered: Vec<(Notification, Vec<String>)>,
    /// The last notification of every alert still firing (channels that keep state, like
    /// Alertmanager's re-posting, resume from it).
    pub firing: Vec<Notification>,
    /// Records read.
    pub records: u64,
    /// Lines skipped as unreadable (a torn last line after a kill is one).
    pub skipped_lines: u64,
}

/// The open history file.
#[derive(Debug)]
pub struct History {
    path: PathBuf,
    file: File,
    next_seq: u64,
}

impl History {
    /// Opens (creating) the history at `path` and replays it.
    pub fn open(path: &Path) -> Result<(Self, Restored)> {
        let io = |source| Error::Io {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)
            .map_err(io)?;
        let restored = replay(&mut file, path).map_err(io)?;
        crate::report::end_torn_line(&mut file).map_err(io)?;
        let next_seq = restored.1 + 1;
        Ok((
            Self {
                path: path.to_owned(),
                file,
                next_seq,
            },
            restored.0,
        ))
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The next record's sequence number (what `append` will stamp).
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Appends a transition and the notification it caused, if any, for `channels`;
    /// returns once it is on disk.
    pub fn transition(
        &mut self,
        transition: &Transition,
        notification: Option<&Notification>,
        channels: &[String],
    ) -> Result<()> {
        self.append(Record::Transition {
            seq: self.next_seq,
            transition: transition.clone(),
            channels: match notification {
                Some(_) => channels.to_vec(),
                None => Vec::new(),
            },
            notification: notification.map(|n| Box::new(n.clone())),
        })
    }

    /// Appends a notification with the channels it is for; returns once it is on disk.
    pub fn notification(&mut self, notification: &Notification, channels: &[String]) -> Result<()> {
        self.append(Record::Notification {
            seq: self.next_seq,
            channels: channels.to_vec(),
            notification: Box::new(notification.clone()),
        })
    }

    /// Appends a channel's outcome for a notification: delivered, or given up with `error`.
    pub fn outcome(
        &mut self,
        notification_id: &str,
        channel: &str,
        attempts: u32,
        error: Option<String>,
    ) -> Result<()> {
        let seq = self.next_seq;
        let (notification_id, channel) = (notification_id.to_owned(), channel.to_owned());
        self.append(match error {
            None => Record::Delivered {
                seq,
                notification_id,
                channel,
                attempts,
            },
            Some(error) => Record::GaveUp {
                seq,
                notification_id,
                channel,
                attempts,
                error,
            },
        })
    }

    fn append(&mut self, record: Record) -> Result<()> {
        let mut line = serde_json::to_vec(&record).map_err(|source| Error::Encode {
            path: self.path.clone(),
            source,
        })?;
        line.push(b'\n');
        // One write per record: O_APPEND keeps it whole against other writers, and a kill
        // leaves at most this one line torn.
        self.file
            .write_all(&line)
            .and_then(|()| self.file.sync_data())
            .map_err(|source| Error::Io {
                path: self.path.clone(),
                source,
            })?;
        self.next_seq += 1;
        Ok(())
    }
}

/// Reads every record of `path` (for tools and tests); unreadable lines are counted.
pub fn read(path: &Path) -> std::io::Result<(Vec<Record>, u64)> {
    let file = File::open(path)?;
    let mut records = Vec::new();
    let mut skipped = 0;
    for line in BufReader::new(file).split(b'\n') {
        let line = line?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Record>(&line) {
            Ok(record) => records.push(record),
            Err(_) => skipped += 1,
        }
    }
    Ok((records, skipped))
}

type Pending = BTreeMap<String, (Notification, BTreeSet<String>)>;

/// Notes a notification that `channels` still have to deliver, in first-seen order.
fn remember(
    pending: &mut Pending,
    order: &mut Vec<String>,
    last: &mut BTreeMap<String, Notification>,
    notification: Notification,
    channels: Vec<String>,
) {
    last.insert(notification.alert_id.clone(), notification.clone());
    let id = notification.id.clone();
    if !pending.contains_key(&id) {
        order.push(id.clone());
    }
    pending.insert(id, (notification, channels.into_iter().collect()));
}

/// Replays the file; returns what it found and the largest sequence number.
// Long: one match arm per history record kind, replayed in file order onto shared state.
fn replay(file: &mut File, path: &Path) -> std::io::Result<(Restored, u64)> {
    file.seek(SeekFrom::Start(0))?;
    let mut restored = Restored::default();
    let mut max_seq = 0;
    let mut machines: BTreeMap<String, (AlertKey, AlertMachine)> = BTreeMap::new();
    let mut pending: Pending = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut last_notification: BTreeMap<String, Notification> = BTreeMap::new();
    for (number, line) in BufReader::new(&mut *file).split(b'\n').enumerate() {
        let line = line?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let record = match serde_json::from_slice::<Record>(&line) {
            Ok(record) => record,
            Err(e) => {
                restored.skipped_lines += 1;
                tracing::warn!(
                    "alert history {}: line {} is unreadable and skipped ({e}); a torn last \
                     line is what a kill mid-write leaves",
                    path.display(),
                    number + 1
                );
                continue;
            }
        };
        restored.records += 1;
        max_seq = max_seq.max(record.seq());
        match record {
            Record::Transition {
                transition,
                notification,
                channels,
                ..
            } => {
                machines.insert(
                    transition.key.alert_id.clone(),
                    (transition.key, transition.machine),
                );
                if let Some(notification) = notification {
                    remember(
                        &mut pending,
                        &mut order,
                        &mut last_notification,
                        *notification,
                        channels,
                    );
                }
            }
            Record::Notification {
                channels,
                notification,
                ..
            } => {
                let key = AlertKey {
                    alert_id: notification.alert_id.clone(),
                    rule: notification.rule.clone(),
                    labels: notification.labels.clone(),
                };
                machines.insert(key.alert_id.clone(), (key, notification.machine));
                remember(
                    &mut pending,
                    &mut order,
                    &mut last_notification,
                    *notification,
                    channels,
                );
            }
            Record::Delivered {
                notification_id,
                channel,
                ..
            }
            | Record::GaveUp {
                notification_id,
                channel,
                ..
            } => {
                if let Some((_, channels)) = pending.get_mut(&notification_id) {
                    channels.remove(&channel);
                }
            }
        }
    }
    restored.active = machines
        .into_values()
        .filter(|(_, m)| m.state() != State::Inactive)
        .collect();
    restored.firing = restored
        .active
        .iter()
        .filter(|(_, m)| m.state() == State::Firing)
        .filter_map(|(key, _)| last_notification.remove(&key.alert_id))
        .collect();
    for id in order {
        if let Some((notification, channels)) = pending.remove(&id) {
            if !channels.is_empty() {
                restored
                    .undelivered
                    .push((notification, channels.into_iter().collect()));
            }
        }
    }
    Ok((restored, max_seq))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::alert::{NotifyKind, Phase, Severity};
    use std::time::Duration;

    fn key() -> AlertKey {
        AlertKey {
            alert_id: "a1".into(),
            rule: "cpu".into(),
            labels: [("alertname".to_owned(), "cpu".to_owned())].into(),
        }
    }

    fn firing() -> AlertMachine {
        AlertMachine {
            phase: Phase::Firing {
                since: Duration::from_secs(10),
                severity: Severity::Warning,
                last_notified: Duration::from_secs(10),
                cleared_since: None,
            },
            consecutive: 1,
        }
    }

    fn notification() -> Notification {
        Notification {
            id: "a1-10".into(),
            alert_id: "a1".into(),
            rule: "cpu".into(),
            kind: NotifyKind::Firing,
            status: State::Firing,
            severity: Severity::Warning,
            previous_severity: None,
            metric: "cpu_usage".into(),
            value: Some(91.0),
            warning: 80.0,
            critical: 95.0,
            labels: key().labels,
            message: "cpu high".into(),
            starts_at: Duration::from_secs(10),
            ends_at: None,
            at: Duration::from_secs(10),
            machine: firing(),
        }
    }

    #[test]
    fn a_restart_resumes_active_alerts_and_undelivered_notifications() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/history.jsonl");
        {
            let (mut h, restored) = History::open(&path).unwrap();
            assert_eq!(restored.records, 0);
            h.transition(
                &Transition {
                    key: key(),
                    at: Duration::from_secs(10),
                    from: State::Pending,
                    to: State::Firing,
                    severity: Some(Severity::Warning),
                    value: Some(91.0),
                    metric: "cpu_usage".into(),
                    warning: 80.0,
                    critical: 95.0,
                    message: "cpu high".into(),
                    machine: firing(),
                },
                Some(&notification()),
                &["console".into(), "file:/x".into()],
            )
            .unwrap();
            h.outcome("a1-10", "console", 1, None).unwrap();
        }
        let (h, restored) = History::open(&path).unwrap();
        assert_eq!(restored.records, 2);
        assert_eq!(restored.active, vec![(key(), firing())]);
        assert_eq!(restored.undelivered.len(), 1);
        assert_eq!(restored.undelivered[0].1, vec!["file:/x".to_owned()]);
        assert_eq!(restored.firing, vec![notification()]);
        assert_eq!(h.next_seq(), 3);
    }

    #[test]
    fn a_torn_last_line_is_skipped_counted_and_closed_off() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        {
            let (mut h, _) = History::open(&path).unwrap();
            h.notification(&notification(), &["console".into()])
                .unwrap();
        }
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(br#"{"record":"delivered","seq":2,"notifica"#)
            .unwrap();
        drop(f);
        let (mut h, restored) = History::open(&path).unwrap();
        assert_eq!(restored.skipped_lines, 1);
        assert_eq!(
            restored.undelivered.len(),
            1,
            "the torn delivery never happened"
        );
        h.outcome("a1-10", "console", 1, None).unwrap();
        drop(h);
        let (records, skipped) = read(&path).unwrap();
        assert_eq!((records.len(), skipped), (2, 1));
        let (_, restored) = History::open(&path).unwrap();
        assert!(restored.undelivered.is_empty());
    }

    #[test]
    fn a_resolved_alert_is_not_restored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        {
            let (mut h, _) = History::open(&path).unwrap();
            h.transition(
                &Transition {
                    key: key(),
                    at: Duration::from_secs(20),
                    from: State::Firing,
                    to: State::Resolved,
                    severity: Some(Severity::Warning),
                    value: Some(1.0),
                    metric: "cpu_usage".into(),
                    warning: 80.0,
                    critical: 95.0,
                    message: "cpu ok".into(),
                    machine: AlertMachine::default(),
                },
                None,
                &[],
            )
            .unwrap();
        }
        let (_, restored) = History::open(&path).unwrap();
        assert!(restored.active.is_empty());
    }
}
