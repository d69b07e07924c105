//! sqlite3 storage (`.db3`): the `topics` and `messages` tables rosbag2 writes, read in
//! timestamp order through one streaming query. sqlite3 records only the receive time.

use std::collections::HashMap;

use rusqlite::{Connection as Db, OpenFlags};

use super::{connection_id, BagFile, BagMessage, Event, ReadStats, Result};
use crate::bag::Connection;

/// Progress is reported after at least this many payload bytes.
const PROGRESS_STEP: u64 = 8 << 20;

/// Reads one sqlite3 file; false when it ended early (the warning says where and why).
pub(super) fn read(
    file: &BagFile,
    connections: &mut Vec<Connection>,
    stats: &mut ReadStats,
    visit: &mut dyn FnMut(Event<'_>),
) -> Result<bool> {
    let start_bytes = stats.bytes;
    let outcome = read_rows(file, connections, stats, visit);
    // Page and index bytes were read too; count the file once it is done.
    stats.bytes = stats.bytes.max(start_bytes + file.size);
    visit(Event::Progress(stats.bytes));
    match outcome {
        Ok(()) => Ok(true),
        Err((row, e)) => {
            visit(Event::Warning(format!(
                "{}: sqlite3 storage damaged after {row} messages: {e}; the messages before it \
                 were read, the rest of this file is skipped",
                file.path.display()
            )));
            Ok(false)
        }
    }
}

fn read_rows(
    file: &BagFile,
    connections: &mut Vec<Connection>,
    stats: &mut ReadStats,
    visit: &mut dyn FnMut(Event<'_>),
) -> std::result::Result<(), (u64, rusqlite::Error)> {
    let db = Db::open_with_flags(
        &file.path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| (0, e))?;
    let mut topics: HashMap<i64, usize> = HashMap::new();
    {
        let mut query = db
            .prepare("SELECT id, name, type, serialization_format FROM topics")
            .map_err(|e| (0, e))?;
        let mut rows = query.query([]).map_err(|e| (0, e))?;
        while let Some(row) = rows.next().map_err(|e| (0, e))? {
            let id: i64 = row.get(0).map_err(|e| (0, e))?;
            let name: String = row.get(1).map_err(|e| (0, e))?;
            let msg_type: String = row.get(2).map_err(|e| (0, e))?;
            let encoding: String = row.get(3).map_err(|e| (0, e))?;
            let conn = connection_id(connections, &name, &msg_type, &encoding, visit);
            topics.insert(id, conn);
        }
    }
    let mut query = db
        .prepare("SELECT topic_id, timestamp, data FROM messages ORDER BY timestamp, id")
        .map_err(|e| (0, e))?;
    let mut rows = query.query([]).map_err(|e| (0, e))?;
    let mut row_index: u64 = 0;
    let mut unknown_topic: u64 = 0;
    let mut next_progress = stats.bytes + PROGRESS_STEP;
    while let Some(row) = rows.next().map_err(|e| (row_index, e))? {
        row_index += 1;
        let topic: i64 = row.get(0).map_err(|e| (row_index, e))?;
        let stamp: i64 = row.get(1).map_err(|e| (row_index, e))?;
        let data = row
            .get_ref(2)
            .and_then(|v| v.as_blob().map_err(Into::into))
            .map_err(|e| (row_index, e))?;
        let Some(&connection) = topics.get(&topic) else {
            unknown_topic += 1;
            continue;
        };
        stats.messages += 1;
        stats.bytes += data.len() as u64;
        visit(Event::Message(BagMessage {
            connection,
            log_time: u64::try_from(stamp).unwrap_or(0),
            publish_time: None,
            data,
        }));
        if stats.bytes >= next_progress {
            visit(Event::Progress(stats.bytes));
            next_progress = stats.bytes + PROGRESS_STEP;
        }
    }
    if unknown_topic > 0 {
        visit(Event::Warning(format!(
            "{}: {unknown_topic} messages of undeclared topics skipped",
            file.path.display()
        )));
    }
    Ok(())
}
