//! MCAP storage, read front to back with the `mcap` crate's sans-io linear reader: memory is
//! one record (or one chunk's decompression buffer), whatever the file's size, and neither
//! the summary section nor the index is needed, so a file cut off by a crash still reads.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};

use mcap::records::op;
use mcap::sans_io::linear_reader::{LinearReadEvent, LinearReader, LinearReaderOptions};

use super::{connection_id, BagFile, BagMessage, Error, Event, ReadStats, Result};
use crate::bag::Connection;

/// Largest record accepted: a garbage length field must not make us allocate gigabytes.
const RECORD_LIMIT: usize = 1 << 30;
/// Smallest read from the file.
const READ_BLOCK: usize = 256 << 10;
/// Progress is reported after at least this many bytes.
const PROGRESS_STEP: u64 = 8 << 20;
/// Bytes of a Message record before its payload: channel id, sequence, log and publish time.
const MESSAGE_PREFIX: usize = 2 + 4 + 8 + 8;

/// Reads one MCAP file; false when it ended early (the warning says where and why).
// Long: one streaming pass whose id maps, counters and resume point every record kind updates.
pub(super) fn read(
    file: &BagFile,
    verify_checksums: bool,
    connections: &mut Vec<Connection>,
    stats: &mut ReadStats,
    visit: &mut dyn FnMut(Event<'_>),
) -> Result<bool> {
    let path = &file.path;
    let mut source = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })?;
    let options = LinearReaderOptions::default()
        .with_validate_chunk_crcs(verify_checksums)
        .with_record_length_limit(RECORD_LIMIT);
    let mut reader = LinearReader::new_with_options(options.clone());
    // Schema id -> type name; channel id -> connection (this file's id spaces).
    let mut schemas: HashMap<u16, String> = HashMap::new();
    let mut channels: HashMap<u16, usize> = HashMap::new();
    let mut fed: u64 = 0;
    let mut next_progress = stats.bytes + PROGRESS_STEP;
    let mut unknown_channel: u64 = 0;
    let mut short_messages: u64 = 0;
    let mut complete = true;
    // Damage ends a segment; reading resumes at the next intact chunk header, if any.
    'segments: loop {
        let mut resume_at = None;
        while let Some(event) = reader.next_event() {
            match event {
                Err(e) => {
                    complete = false;
                    match next_chunk(&mut source, fed, file.size) {
                        Some(at) => {
                            visit(Event::Warning(format!(
                                "{}: MCAP damaged after byte {fed}: {e}; skipped to the next \
                             intact chunk at byte {at}",
                                path.display()
                            )));
                            resume_at = Some(at);
                        }
                        None => visit(Event::Warning(format!(
                            "{}: MCAP cut off or damaged after byte {fed}: {e}; the messages \
                         before it were read, the rest of this file is skipped",
                            path.display()
                        ))),
                    }
                    break;
                }
                Ok(LinearReadEvent::ReadRequest(want)) => {
                    // The reader asks for what its next record needs, often a few bytes; reading
                    // at least a block at a time saves a system call per small record.
                    let buf = reader.insert(want.max(READ_BLOCK));
                    let n = match read_some(&mut source, buf) {
                        Ok(n) => n,
                        Err(e) => {
                            reader.notify_read(0);
                            visit(Event::Warning(format!(
                                "{}: read error after byte {fed}: {e}; the rest of this file is \
                             skipped",
                                path.display()
                            )));
                            complete = false;
                            break;
                        }
                    };
                    reader.notify_read(n);
                    fed += n as u64;
                    stats.bytes += n as u64;
                    if stats.bytes >= next_progress {
                        visit(Event::Progress(stats.bytes));
                        next_progress = stats.bytes + PROGRESS_STEP;
                    }
                }
                Ok(LinearReadEvent::Record { opcode, data }) => match opcode {
                    op::MESSAGE => {
                        let Some((channel, log_time, publish_time, payload)) = split_message(data)
                        else {
                            short_messages += 1;
                            continue;
                        };
                        let Some(&connection) = channels.get(&channel) else {
                            unknown_channel += 1;
                            continue;
                        };
                        stats.messages += 1;
                        visit(Event::Message(BagMessage {
                            connection,
                            log_time,
                            publish_time: (publish_time != 0).then_some(publish_time),
                            data: payload,
                        }));
                    }
                    op::SCHEMA => match mcap::parse_record(opcode, data) {
                        Ok(mcap::records::Record::Schema { header, .. }) => {
                            schemas.insert(header.id, header.name);
                        }
                        _ => visit(Event::Warning(format!(
                        "{}: unreadable schema record after byte {fed}; its channels have no type",
                        path.display()
                    ))),
                    },
                    op::CHANNEL => match mcap::parse_record(opcode, data) {
                        Ok(mcap::records::Record::Channel(c)) => {
                            let msg_type = match schemas.get(&c.schema_id) {
                                Some(name) => name.clone(),
                                None => {
                                    visit(Event::Warning(format!(
                                        "{}: channel {} ({}) has no schema (id {}); its messages \
                                     cannot be typed",
                                        path.display(),
                                        c.id,
                                        c.topic,
                                        c.schema_id
                                    )));
                                    String::new()
                                }
                            };
                            let id = connection_id(
                                connections,
                                &c.topic,
                                &msg_type,
                                &c.message_encoding,
                                visit,
                            );
                            channels.insert(c.id, id);
                        }
                        _ => visit(Event::Warning(format!(
                        "{}: unreadable channel record after byte {fed}; its messages are skipped",
                        path.display()
                    ))),
                    },
                    _ => {}
                },
            }
        }
        match resume_at {
            Some(at) if source.seek(SeekFrom::Start(at)).is_ok() => {
                fed = at;
                reader =
                    LinearReader::new_with_options(options.clone().with_skip_start_magic(true));
            }
            _ => break 'segments,
        }
    }
    if unknown_channel > 0 {
        visit(Event::Warning(format!(
            "{}: {unknown_channel} messages of undeclared channels skipped",
            path.display()
        )));
    }
    if short_messages > 0 {
        visit(Event::Warning(format!(
            "{}: {short_messages} message records too short to hold their header skipped",
            path.display()
        )));
    }
    visit(Event::Progress(stats.bytes));
    Ok(complete)
}

/// Channel id, log time, publish time and payload of a Message record's body.
fn split_message(body: &[u8]) -> Option<(u16, u64, u64, &[u8])> {
    if body.len() < MESSAGE_PREFIX {
        return None;
    }
    let u64_at = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&body[at..at + 8]);
        u64::from_le_bytes(b)
    };
    let channel = u16::from_le_bytes([body[0], body[1]]);
    Some((channel, u64_at(6), u64_at(14), &body[MESSAGE_PREFIX..]))
}

/// The offset of the first plausible Chunk record at or after `from`: opcode, length, and a
/// header whose compression is one rosbag2 writes and whose sizes add up to that length.
fn next_chunk(source: &mut std::fs::File, from: u64, size: u64) -> Option<u64> {
    const HEADER: usize = 1 + 8 + 8 + 8 + 8 + 4 + 4 + 4 + 8;
    let mut block = vec![0u8; READ_BLOCK + HEADER];
    let mut pos = from;
    while pos < size {
        source.seek(SeekFrom::Start(pos)).ok()?;
        let mut filled = 0;
        while filled < block.len() {
            match read_some(source, &mut block[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(_) => return None,
            }
        }
        let data = &block[..filled];
        for i in 0..data.len().saturating_sub(HEADER - 4).min(READ_BLOCK) {
            if data[i] == op::CHUNK && plausible_chunk(&data[i..], pos + i as u64, size) {
                return Some(pos + i as u64);
            }
        }
        if filled < block.len() {
            return None;
        }
        pos += READ_BLOCK as u64;
    }
    None
}

fn plausible_chunk(d: &[u8], at: u64, size: u64) -> bool {
    let u64_at = |i: usize| {
        d.get(i..i + 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
    };
    let u32_at = |i: usize| {
        d.get(i..i + 4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap_or([0; 4])))
    };
    let (Some(len), Some(start), Some(end), Some(_uncompressed), Some(name_len)) =
        (u64_at(1), u64_at(9), u64_at(17), u64_at(25), u32_at(37))
    else {
        return false;
    };
    let name_len = name_len as usize;
    let name = match d.get(41..41 + name_len) {
        Some(n) => n,
        None => return false,
    };
    let Some(compressed) = u64_at(41 + name_len) else {
        return false;
    };
    matches!(name, b"" | b"lz4" | b"zstd")
        && start <= end
        && len.checked_sub(8 + 8 + 8 + 4 + 4 + name_len as u64 + 8) == Some(compressed)
        && at
            .checked_add(9)
            .and_then(|a| a.checked_add(len))
            .is_some_and(|e| e <= size)
}

/// One `read`, retried when interrupted.
fn read_some(source: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match source.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::bag::Reader;

    /// An MCAP file with a typed channel and one without schema, two messages each.
    fn write(path: &std::path::Path) {
        let file = std::fs::File::create(path).unwrap();
        let mut w = mcap::Writer::new(std::io::BufWriter::new(file)).unwrap();
        let schema = w
            .add_schema("std_msgs/msg/String", "ros2msg", b"string data")
            .unwrap();
        let typed = w
            .add_channel(schema, "/typed", "cdr", &BTreeMap::new())
            .unwrap();
        let untyped = w
            .add_channel(0, "/untyped", "cdr", &BTreeMap::new())
            .unwrap();
        for (i, channel) in [typed, untyped, typed, untyped].into_iter().enumerate() {
            let header = mcap::records::MessageHeader {
                channel_id: channel,
                sequence: i as u32,
                log_time: 10 + i as u64,
                publish_time: if i == 0 { 0 } else { 5 },
            };
            w.write_to_known_channel(&header, &[0, 1, 0, 0, i as u8])
                .unwrap();
        }
        w.finish().unwrap();
    }

    #[test]
    fn connections_carry_their_schema_name_or_none_and_payloads_come_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.mcap");
        write(&path);
        let mut reader = Reader::open(&path).unwrap();
        let mut seen = Vec::new();
        let stats = reader
            .read(&mut |e| match e {
                Event::Message(m) => seen.push((m.connection, m.publish_time, m.data.to_vec())),
                Event::Warning(w) => seen.push((99, None, w.into_bytes())),
                _ => {}
            })
            .unwrap();
        assert_eq!(stats.messages, 4);
        assert_eq!(stats.complete_files, 1);
        let types: Vec<&str> = reader
            .connections()
            .iter()
            .map(|c| c.msg_type.as_str())
            .collect();
        assert_eq!(types, ["std_msgs/msg/String", ""]);
        // A zero publish time means "not recorded".
        assert_eq!(seen[0].1, None);
        assert_eq!(seen[2].1, Some(5));
        assert!(seen
            .iter()
            .any(|(c, _, w)| *c == 99 && String::from_utf8_lossy(w).contains("no schema")));
        assert!(seen.iter().any(|(_, _, d)| d == &[0, 1, 0, 0, 2]));
    }

    #[test]
    fn reading_resumes_at_the_next_intact_chunk_after_garbage_without_repeating_messages() {
        const N: u32 = 12_000;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chunks.mcap");
        let file = std::fs::File::create(&path).unwrap();
        let mut w = mcap::WriteOptions::new()
            .compression(None)
            .chunk_size(Some(4096))
            .create(std::io::BufWriter::new(file))
            .unwrap();
        let schema = w
            .add_schema("std_msgs/msg/String", "ros2msg", b"string data")
            .unwrap();
        let channel = w
            .add_channel(schema, "/t", "cdr", &BTreeMap::new())
            .unwrap();
        // Larger than one read block, so intact chunks follow what was read at the damage.
        for i in 0..N {
            let header = mcap::records::MessageHeader {
                channel_id: channel,
                sequence: i,
                log_time: u64::from(i),
                publish_time: 0,
            };
            let mut data = vec![0, 1, 0, 0];
            data.extend_from_slice(&i.to_le_bytes());
            data.resize(64, 0);
            w.write_to_known_channel(&header, &data).unwrap();
        }
        w.finish().unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle..middle + 300].fill(0xee);
        std::fs::write(&path, &bytes).unwrap();
        let mut seen = Vec::new();
        let mut warnings = Vec::new();
        let stats = Reader::open(&path)
            .unwrap()
            .read(&mut |e| match e {
                Event::Message(m) => {
                    seen.push(u32::from_le_bytes(m.data[4..8].try_into().unwrap()))
                }
                Event::Warning(w) => warnings.push(w),
                _ => {}
            })
            .unwrap();
        assert_eq!(stats.damaged_files, 1);
        assert!(
            warnings.iter().any(|w| w.contains("next intact chunk")),
            "{warnings:?}"
        );
        assert!(
            seen.windows(2).all(|w| w[0] < w[1]),
            "repeated or reordered: {seen:?}"
        );
        let n = seen.len() as u32;
        assert!(n < N && n > N / 2, "{n} read");
        assert_eq!(seen.last(), Some(&(N - 1)));
    }

    #[test]
    fn a_file_cut_anywhere_reads_up_to_the_cut_and_says_where() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.mcap");
        write(&path);
        let bytes = std::fs::read(&path).unwrap();
        for cut in [9, bytes.len() / 3, bytes.len() / 2, bytes.len() - 9] {
            let cut_path = dir.path().join(format!("cut{cut}.mcap"));
            std::fs::write(&cut_path, &bytes[..cut]).unwrap();
            let mut warnings = Vec::new();
            let stats = Reader::open(&cut_path)
                .unwrap()
                .read(&mut |e| {
                    if let Event::Warning(w) = e {
                        warnings.push(w)
                    }
                })
                .unwrap();
            assert_eq!(stats.damaged_files, 1, "cut at {cut}");
            assert!(stats.messages <= 4);
            assert!(
                warnings.iter().any(|w| w.contains("after byte")),
                "cut at {cut}: {warnings:?}"
            );
        }
    }

    #[test]
    fn a_message_record_splits_into_channel_times_and_payload() {
        let mut body = Vec::new();
        body.extend_from_slice(&7u16.to_le_bytes());
        body.extend_from_slice(&1u32.to_le_bytes());
        body.extend_from_slice(&11u64.to_le_bytes());
        body.extend_from_slice(&13u64.to_le_bytes());
        body.extend_from_slice(b"cdr");
        assert_eq!(split_message(&body), Some((7, 11, 13, &b"cdr"[..])));
        assert_eq!(split_message(&body[..21]), None);
    }
}
