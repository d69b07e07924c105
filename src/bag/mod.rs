//! rosbag2 recordings read as a stream of messages, in file order, with constant memory.
//!
//! A recording is a directory (`metadata.yaml` plus `.mcap` or `.db3` files, split by size)
//! or a single storage file. [`Reader::read`] visits every connection and message of every
//! file in turn, borrowing each payload from its read buffer, never copying it. A file that
//! stops making sense (cut off, garbage in a chunk, a broken database) ends with a
//! [`Event::Warning`] naming file and byte offset, and reading goes on with the next file:
//! whatever was readable has been delivered.

mod mcap_file;
mod sqlite;

use std::path::{Path, PathBuf};

/// Errors that stop a recording from being read at all.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be opened or listed.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The path holds nothing this reader understands.
    #[error("{path}: not a rosbag2 recording: {reason}")]
    NotABag {
        /// The path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// Result of this module.
pub type Result<T> = std::result::Result<T, Error>;

/// How a storage file stores its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    /// MCAP, rosbag2's default storage since Iron.
    Mcap,
    /// The sqlite3 storage (`.db3`).
    Sqlite3,
}

/// One storage file of a recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BagFile {
    /// Where it is.
    pub path: PathBuf,
    /// Its storage.
    pub storage: Storage,
    /// Its size in bytes.
    pub size: u64,
}

/// A topic as recorded: one per (topic, type); files of a split recording share them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// Index in [`Reader::connections`].
    pub id: usize,
    /// Topic name.
    pub topic: String,
    /// ROS type name (`pkg/msg/Type`); empty when the recording does not say.
    pub msg_type: String,
    /// Serialization format (`cdr` for every ROS 2 middleware).
    pub encoding: String,
}

/// One recorded message; its payload is borrowed from the reader's buffer.
#[derive(Debug, Clone, Copy)]
pub struct BagMessage<'a> {
    /// Index into [`Reader::connections`].
    pub connection: usize,
    /// When the recorder received it, nanoseconds since the epoch.
    pub log_time: u64,
    /// When the publisher sent it, where the storage records it (MCAP `publish_time`,
    /// nonzero); nanoseconds since the epoch.
    pub publish_time: Option<u64>,
    /// The serialized message (CDR with its encapsulation header).
    pub data: &'a [u8],
}

/// What reading a recording yields, in file order.
#[derive(Debug)]
pub enum Event<'a> {
    /// A connection was declared (before its first message).
    Connection(&'a Connection),
    /// A message.
    Message(BagMessage<'a>),
    /// Something could not be read: a skipped record, or the rest of a file.
    Warning(String),
    /// Bytes of storage read so far (all files together), reported now and then.
    Progress(u64),
}

/// What was read, counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReadStats {
    /// Storage bytes read.
    pub bytes: u64,
    /// Messages delivered.
    pub messages: u64,
    /// Files read to their end without error.
    pub complete_files: usize,
    /// Files whose reading stopped early.
    pub damaged_files: usize,
}

/// Reads the files of one recording.
#[derive(Debug)]
pub struct Reader {
    files: Vec<BagFile>,
    connections: Vec<Connection>,
    verify_checksums: bool,
}

impl Reader {
    /// Opens a recording: a rosbag2 directory or one `.mcap`/`.db3` file.
    pub fn open(path: &Path) -> Result<Self> {
        let files = bag_files(path)?;
        Ok(Self {
            files,
            connections: Vec::new(),
            verify_checksums: true,
        })
    }

    /// Whether MCAP chunk checksums are verified (default: yes). Verification finds garbage
    /// inside chunks; it costs a CRC-32 over every byte.
    pub fn verify_checksums(&mut self, verify: bool) {
        self.verify_checksums = verify;
    }

    /// The storage files, in reading order.
    pub fn files(&self) -> &[BagFile] {
        &self.files
    }

    /// Total storage bytes.
    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    /// The connections seen so far.
    pub fn connections(&self) -> &[Connection] {
        &self.connections
    }

    /// Visits every connection and message of every file. Damage ends a file with a warning
    /// and the next file is read; only a file that cannot be opened at all is an error.
    pub fn read(&mut self, visit: &mut dyn FnMut(Event<'_>)) -> Result<ReadStats> {
        let mut stats = ReadStats::default();
        let files = self.files.clone();
        for file in &files {
            let complete = match file.storage {
                Storage::Mcap => mcap_file::read(
                    file,
                    self.verify_checksums,
                    &mut self.connections,
                    &mut stats,
                    visit,
                )?,
                Storage::Sqlite3 => sqlite::read(file, &mut self.connections, &mut stats, visit)?,
            };
            if complete {
                stats.complete_files += 1;
            } else {
                stats.damaged_files += 1;
            }
        }
        Ok(stats)
    }
}

/// The connection for (topic, type), declared to `visit` when new.
fn connection_id(
    connections: &mut Vec<Connection>,
    topic: &str,
    msg_type: &str,
    encoding: &str,
    visit: &mut dyn FnMut(Event<'_>),
) -> usize {
    if let Some(c) = connections
        .iter()
        .find(|c| c.topic == topic && c.msg_type == msg_type)
    {
        return c.id;
    }
    let id = connections.len();
    connections.push(Connection {
        id,
        topic: topic.to_owned(),
        msg_type: msg_type.to_owned(),
        encoding: encoding.to_owned(),
    });
    visit(Event::Connection(&connections[id]));
    id
}

const MCAP_MAGIC: &[u8] = b"\x89MCAP0\r\n";
const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";
const ZSTD_MAGIC: &[u8] = b"\x28\xb5\x2f\xfd";

/// The storage of one file, from its first bytes (the extension may lie or be missing).
fn storage_of(path: &Path) -> Result<Storage> {
    use std::io::Read;
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let mut head = [0u8; 16];
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut filled = 0;
    while filled < head.len() {
        let n = file.read(&mut head[filled..]).map_err(io)?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    let head = &head[..filled];
    if head.starts_with(MCAP_MAGIC) {
        Ok(Storage::Mcap)
    } else if head.starts_with(SQLITE_MAGIC) {
        Ok(Storage::Sqlite3)
    } else if head.starts_with(ZSTD_MAGIC) {
        Err(Error::NotABag {
            path: path.to_owned(),
            reason: "a zstd-compressed file (rosbag2 file compression); decompress it first \
                     (`zstd -d`)"
                .into(),
        })
    } else {
        Err(Error::NotABag {
            path: path.to_owned(),
            reason: "neither MCAP nor sqlite3 (the first bytes are no storage's magic)".into(),
        })
    }
}

fn bag_file(path: &Path) -> Result<BagFile> {
    let storage = storage_of(path)?;
    let size = std::fs::metadata(path)
        .map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?
        .len();
    Ok(BagFile {
        path: path.to_owned(),
        storage,
        size,
    })
}

/// The storage files of a recording in order: `metadata.yaml`'s `relative_file_paths`
/// where it lists them, else every `.mcap`/`.db3` file sorted by its split index.
fn bag_files(path: &Path) -> Result<Vec<BagFile>> {
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    if !std::fs::metadata(path).map_err(io)?.is_dir() {
        return Ok(vec![bag_file(path)?]);
    }
    let listed = metadata_files(&path.join("metadata.yaml"));
    let names = match listed {
        Some(names) if !names.is_empty() => names
            .into_iter()
            .map(|n| path.join(n))
            .filter(|p| p.exists())
            .collect::<Vec<_>>(),
        _ => {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(io)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    matches!(
                        p.extension().and_then(|e| e.to_str()),
                        Some("mcap") | Some("db3")
                    )
                })
                .collect();
            found.sort_by_key(|p| (split_index(p), p.clone()));
            found
        }
    };
    if names.is_empty() {
        return Err(Error::NotABag {
            path: path.to_owned(),
            reason: "the directory holds no .mcap or .db3 file".into(),
        });
    }
    names.iter().map(|p| bag_file(p)).collect()
}

/// `relative_file_paths` of a rosbag2 `metadata.yaml`, if it can be read.
fn metadata_files(path: &Path) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(path).ok()?;
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).ok()?;
    let list = doc
        .get("rosbag2_bagfile_information")?
        .get("relative_file_paths")?
        .as_sequence()?;
    Some(
        list.iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
    )
}

/// The `N` of `name_N.mcap`, so `_10` sorts after `_9`.
fn split_index(path: &Path) -> u64 {
    path.file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.rsplit('_').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_files_sort_by_their_index_not_their_name() {
        let mut paths = vec![
            PathBuf::from("b/rec_10.mcap"),
            PathBuf::from("b/rec_2.mcap"),
            PathBuf::from("b/rec_0.mcap"),
        ];
        paths.sort_by_key(|p| (split_index(p), p.clone()));
        assert_eq!(
            paths,
            ["b/rec_0.mcap", "b/rec_2.mcap", "b/rec_10.mcap"].map(PathBuf::from)
        );
    }

    /// One MCAP file with a String channel on `topic` and messages at `times` (ns).
    fn mcap(path: &Path, topic: &str, times: &[u64]) {
        let file = std::fs::File::create(path).unwrap();
        let mut w = mcap::Writer::new(std::io::BufWriter::new(file)).unwrap();
        let schema = w
            .add_schema("std_msgs/msg/String", "ros2msg", b"string data")
            .unwrap();
        let channel = w
            .add_channel(schema, topic, "cdr", &Default::default())
            .unwrap();
        for (i, t) in times.iter().enumerate() {
            let header = mcap::records::MessageHeader {
                channel_id: channel,
                sequence: i as u32,
                log_time: *t,
                publish_time: *t,
            };
            w.write_to_known_channel(&header, &[0, 1, 0, 0]).unwrap();
        }
        w.finish().unwrap();
    }

    #[test]
    fn a_split_recording_is_read_in_the_order_metadata_lists_and_shares_connections() {
        let dir = tempfile::tempdir().unwrap();
        // Named so that sorting by name alone would read them in the wrong order.
        mcap(&dir.path().join("rec_10.mcap"), "/a", &[30, 40]);
        mcap(&dir.path().join("rec_9.mcap"), "/a", &[10, 20]);
        std::fs::write(
            dir.path().join("metadata.yaml"),
            "rosbag2_bagfile_information:\n  version: 9\n  relative_file_paths:\n  \
             - rec_9.mcap\n  - rec_10.mcap\n",
        )
        .unwrap();
        let mut reader = Reader::open(dir.path()).unwrap();
        let mut times = Vec::new();
        let stats = reader
            .read(&mut |e| {
                if let Event::Message(m) = e {
                    times.push((m.connection, m.log_time));
                }
            })
            .unwrap();
        assert_eq!(times, [(0, 10), (0, 20), (0, 30), (0, 40)]);
        assert_eq!(reader.connections().len(), 1);
        assert_eq!(stats.complete_files, 2);
        // Without metadata.yaml the split index orders them.
        std::fs::remove_file(dir.path().join("metadata.yaml")).unwrap();
        let names: Vec<_> = Reader::open(dir.path())
            .unwrap()
            .files()
            .iter()
            .map(|f| f.path.file_name().unwrap().to_owned())
            .collect();
        assert_eq!(names, ["rec_9.mcap", "rec_10.mcap"]);
    }

    #[test]
    fn a_file_that_is_no_storage_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.mcap");
        std::fs::write(&path, "hello, not a bag").unwrap();
        let err = Reader::open(&path).unwrap_err();
        assert!(err.to_string().contains("notes.mcap"), "{err}");
        assert!(err.to_string().contains("magic"), "{err}");
        let zstd = dir.path().join("rec_0.mcap.zstd");
        std::fs::write(&zstd, b"\x28\xb5\x2f\xfd\x00\x00").unwrap();
        let err = Reader::open(&zstd).unwrap_err();
        assert!(err.to_string().contains("zstd -d"), "{err}");
        let empty = tempfile::tempdir().unwrap();
        let err = Reader::open(empty.path()).unwrap_err();
        assert!(err.to_string().contains("no .mcap or .db3"), "{err}");
    }
}
