//! Start-up recovery, and the `check` and `repair` commands: load snapshot.db,
//! replay the log records after the sequence number it covers, cut a torn tail,
//! and refuse damage anywhere else with the file and offset.

use super::codec::{self, FRAME_HEADER, Reader};
use super::log::{self, HEADER_LEN, segment_number};
use super::snapshot::{self, Damage};
use crate::engine::{Engine, Group, Mutation};
use crate::fsutil;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Why the data directory cannot be loaded. The files are left untouched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: damaged at offset {offset}: {reason} (run 'inmem check' for a report, 'inmem repair' to cut the damage after keeping a copy)", path.display())]
pub struct Corruption {
    /// The damaged file.
    pub path: PathBuf,
    /// Byte offset of the damage.
    pub offset: u64,
    /// What is wrong.
    pub reason: String,
}

/// What recovery found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Keys loaded from the snapshot (unexpired).
    pub snapshot_keys: u64,
    /// Log records replayed.
    pub records: u64,
    /// Bytes read from the snapshot and the log.
    pub bytes: u64,
    /// Milliseconds spent.
    pub millis: u64,
    /// Warnings (torn tails cut), one line each.
    pub warnings: Vec<String>,
    /// The sequence number the next record gets.
    pub next_seq: u64,
    /// The segment the next records go to.
    pub next_segment: u64,
    /// The sequence number the snapshot covers.
    pub snapshot_seq: u64,
}

/// One log record read back: its groups are applied together or not at all.
struct Record {
    seq: u64,
    groups: Vec<Group>,
}

/// How a segment's scan ended.
enum End {
    /// Every byte was a good record.
    Clean,
    /// An incomplete or bad-checksum last record: the offset where it starts.
    Torn(u64, String),
    /// Damage with more data after it.
    Damaged(u64, String),
}

/// Reads a segment's records; stops at the first problem.
fn scan_segment(bytes: &[u8], each: &mut dyn FnMut(u64, Record) -> Result<(), String>) -> End {
    if bytes.len() < HEADER_LEN {
        return End::Torn(0, format!("header is cut short ({} bytes)", bytes.len()));
    }
    if &bytes[..8] != log::MAGIC {
        return End::Damaged(0, "not an inmem log segment (bad magic bytes)".into());
    }
    let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if !(log::MIN_VERSION..=log::VERSION).contains(&version) {
        return End::Damaged(
            8,
            format!(
                "format version {version} is not supported (this build reads versions {} to {})",
                log::MIN_VERSION,
                log::VERSION
            ),
        );
    }
    let mut pos = HEADER_LEN;
    while pos < bytes.len() {
        let rest = &bytes[pos..];
        if rest.len() < FRAME_HEADER {
            return End::Torn(pos as u64, "record header is cut short".into());
        }
        let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
        // A crash can leave the end of a file zero-filled (its length was
        // saved, its last blocks were not): that is a torn tail too, and no
        // record is made of zeros.
        if len == 0 && rest.iter().all(|&b| b == 0) {
            return End::Torn(pos as u64, "zero-filled tail".into());
        }
        let end = FRAME_HEADER.saturating_add(len);
        if end > rest.len() {
            // A damaged length field also seems to run past the end.
            return if next_record_follows(rest, version) {
                End::Damaged(
                    pos as u64,
                    format!(
                        "record length {len} runs past the end of the file, yet the next record follows it (damaged length)"
                    ),
                )
            } else {
                End::Torn(pos as u64, format!("record of {len} bytes is cut short"))
            };
        }
        let payload = &rest[FRAME_HEADER..end];
        if crc32fast::hash(payload) != crc {
            let reason = "record checksum mismatch".to_string();
            return if end == rest.len() {
                End::Torn(pos as u64, reason)
            } else {
                End::Damaged(pos as u64, reason)
            };
        }
        let record = match decode_record(payload, version) {
            Ok(record) => record,
            Err(e) => return End::Damaged(pos as u64, format!("bad record: {e}")),
        };
        if let Err(reason) = each(pos as u64, record) {
            return End::Damaged(pos as u64, reason);
        }
        pos += end;
    }
    End::Clean
}

/// For a record at the start of `rest` that claims more bytes than are left:
/// true when the record after it is there anyway, complete, with a good
/// checksum and the next sequence number. Then its length field is damaged;
/// a torn last write has nothing after it.
fn next_record_follows(rest: &[u8], version: u32) -> bool {
    let Some(seq) = rest
        .get(FRAME_HEADER..FRAME_HEADER + 8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
    else {
        return false;
    };
    let next = u64::from_le_bytes(seq).wrapping_add(1).to_le_bytes();
    (1..rest.len()).any(|at| {
        let Some(head) = rest.get(at..at + FRAME_HEADER + 8) else {
            return false;
        };
        if head[FRAME_HEADER..] != next {
            return false;
        }
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        let start = at + FRAME_HEADER;
        rest.get(start..start.saturating_add(len))
            .is_some_and(|payload| {
                crc32fast::hash(payload) == crc && decode_record(payload, version).is_ok()
            })
    })
}

/// Decodes a record's payload as segment format `version` writes it.
fn decode_record(payload: &[u8], version: u32) -> Result<Record, codec::DecodeError> {
    let mut r = Reader::new(payload);
    let seq = r.u64()?;
    let name_len = usize::from(r.u16()?);
    // Since version 2, a zero namespace length marks a multi-group record.
    let groups = if name_len == 0 && version >= 2 {
        codec::groups(&mut r)?
    } else {
        let namespace = r.name_of_len(name_len)?;
        vec![Group::Changes(namespace, codec::mutations(&mut r)?)]
    };
    if !r.is_done() {
        return Err(codec::DecodeError("extra bytes after the mutations".into()));
    }
    Ok(Record { seq, groups })
}

/// Log segments in `dir`, oldest first.
pub fn segments(dir: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(n) = entry.file_name().to_str().and_then(segment_number) {
            found.push((n, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

fn corruption(path: &Path, offset: u64, reason: impl Into<String>) -> Corruption {
    Corruption {
        path: path.to_path_buf(),
        offset,
        reason: reason.into(),
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, Corruption> {
    std::fs::read(path).map_err(|e| corruption(path, 0, format!("cannot read: {e}")))
}

/// Loads the data directory into `engine`. Torn tails are cut (unless `strict`);
/// any other damage stops with an error and changes nothing on disk.
pub fn recover(dir: &Path, engine: &Engine, strict: bool) -> Result<Report, Corruption> {
    let started = Instant::now();
    let now = engine.now();
    let mut report = Report::default();
    remove_stale_temp_files(dir);
    let snapshot_path = dir.join(snapshot::FILE_NAME);
    if snapshot_path.exists() {
        let bytes = read_file(&snapshot_path)?;
        let header = snapshot::read(&bytes, &mut |(namespace, entries)| {
            // Expired entries are loaded too: a log record after the snapshot
            // may have moved or removed their deadline in time (`persist`,
            // `expire`). Whatever is still expired after replay is purged below.
            report.snapshot_keys += entries
                .iter()
                .filter(|(_, _, at)| at.is_none_or(|at| at > now))
                .count() as u64;
            let mutations: Vec<Mutation> = entries
                .into_iter()
                .map(|(key, value, expires_at)| Mutation::put(key, value, expires_at))
                .collect();
            engine.restore_group(&namespace, mutations);
        })
        .map_err(|d: Damage| corruption(&snapshot_path, d.offset, d.reason))?;
        report.snapshot_seq = header.seq;
        report.bytes += bytes.len() as u64;
    }
    let mut expected = report.snapshot_seq + 1;
    let segments = segments(dir).map_err(|e| corruption(dir, 0, format!("cannot list: {e}")))?;
    let mut last = segments.last().map(|(n, _)| *n);
    let mut last_complete = true;
    for (number, path) in &segments {
        let is_last = Some(*number) == last;
        last_complete = replay_segment(engine, path, is_last, strict, &mut expected, &mut report)?;
    }
    if let Some(n) = last {
        let temp = dir.join(log::temp_segment_name(n + 1));
        if temp.exists() {
            let path = dir.join(log::segment_name(n + 1));
            if adopt_switched(&temp, &path, last_complete, expected, &mut report)? {
                replay_segment(engine, &path, true, strict, &mut expected, &mut report)?;
                last = Some(n + 1);
            }
        }
    }
    // Keys that expired while the database was down stay gone.
    while engine.purge_expired(10_000) > 0 {}
    report.next_seq = expected;
    report.next_segment = last.unwrap_or(0) + 1;
    report.millis = started.elapsed().as_millis() as u64;
    Ok(report)
}

/// Replays one segment's records after `expected` into `engine`; a torn
/// tail of the last segment is cut (unless `strict`), any other damage stops.
/// Returns true when every byte was a good record.
fn replay_segment(
    engine: &Engine,
    path: &Path,
    is_last: bool,
    strict: bool,
    expected: &mut u64,
    report: &mut Report,
) -> Result<bool, Corruption> {
    let bytes = read_file(path)?;
    report.bytes += bytes.len() as u64;
    let end = scan_segment(&bytes, &mut |_, record| {
        if record.seq < *expected {
            return Ok(()); // covered by the snapshot
        }
        if record.seq != *expected {
            return Err(format!(
                "sequence gap: expected record {expected}, found {}",
                record.seq
            ));
        }
        *expected += 1;
        report.records += 1;
        engine.restore_record(record.groups);
        Ok(())
    });
    match end {
        End::Clean => Ok(true),
        End::Torn(offset, reason) if is_last && !strict => {
            let dropped = bytes.len() as u64 - offset;
            cut(path, offset)
                .map_err(|e| corruption(path, offset, format!("cannot cut torn tail: {e}")))?;
            report.warnings.push(format!(
                "{}: cut a torn record at offset {offset} ({reason}; {dropped} bytes dropped)",
                path.display()
            ));
            Ok(false)
        }
        End::Torn(offset, reason) if is_last => Err(corruption(
            path,
            offset,
            format!("{reason} (torn tail; --strict-recovery refuses to cut it)"),
        )),
        End::Torn(offset, reason) | End::Damaged(offset, reason) => {
            Err(corruption(path, offset, reason))
        }
    }
}

/// Decides on a segment left under its temporary name by a crash during a
/// switch (see `AppendLog::rotate`): its records were written before the
/// segment before it was known durable. It is renamed into place when that
/// segment is complete and its first record continues the sequence (nothing
/// between was lost); true then. Otherwise it is removed with a warning.
fn adopt_switched(
    temp: &Path,
    path: &Path,
    previous_complete: bool,
    expected: u64,
    report: &mut Report,
) -> Result<bool, Corruption> {
    let bytes = read_file(temp)?;
    let first_seq = bytes
        .get(HEADER_LEN + FRAME_HEADER..HEADER_LEN + FRAME_HEADER + 8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_le_bytes);
    let dir = temp.parent().unwrap_or(Path::new("."));
    let durable = |result: std::io::Result<()>| {
        result
            .and_then(|()| fsutil::sync_dir(dir))
            .map_err(|e| corruption(temp, 0, format!("cannot settle a segment switch: {e}")))
    };
    match first_seq {
        Some(seq) if previous_complete && seq <= expected => {
            durable(std::fs::rename(temp, path))?;
            Ok(true)
        }
        _ => {
            durable(std::fs::remove_file(temp))?;
            if bytes.len() > HEADER_LEN {
                report.warnings.push(format!(
                    "{}: dropped {} bytes of records written during a segment switch that did not finish (the segment before it lost its tail)",
                    temp.display(),
                    bytes.len().saturating_sub(HEADER_LEN)
                ));
            }
            Ok(false)
        }
    }
}

/// Cuts a file at `offset` and makes the cut durable.
fn cut(path: &Path, offset: u64) -> std::io::Result<()> {
    let file = std::fs::OpenOptions::new().write(true).open(path)?;
    // A segment cut before its header is removed: it held nothing.
    if offset < HEADER_LEN as u64 {
        drop(file);
        std::fs::remove_file(path)?;
    } else {
        file.set_len(offset)?;
        file.sync_all()?;
    }
    fsutil::sync_dir(path.parent().unwrap_or(Path::new(".")))
}

fn remove_stale_temp_files(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry
                .file_name()
                .to_str()
                .is_some_and(snapshot::is_temp_name)
            {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// The state of one file, as `check` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileState {
    /// Fully readable; a one-line summary.
    Good(String),
    /// A torn last record that start-up would cut.
    Torn(u64, String),
    /// Damage that stops start-up.
    Damaged(u64, String),
    /// A segment left under its temporary name by a segment switch that
    /// did not finish; start-up adopts or drops it. A one-line summary.
    Unsettled(String),
}

/// Checks every file of the data directory without changing anything.
pub fn check(dir: &Path) -> Vec<(PathBuf, FileState)> {
    let mut out = Vec::new();
    let snapshot_path = dir.join(snapshot::FILE_NAME);
    if let Ok(bytes) = std::fs::read(&snapshot_path) {
        let state = match snapshot::read(&bytes, &mut |_| {}) {
            Ok(h) => FileState::Good(format!(
                "snapshot of {} keys covering record {}, format {}",
                h.keys, h.seq, h.version
            )),
            Err(d) => FileState::Damaged(d.offset, d.reason),
        };
        out.push((snapshot_path, state));
    }
    let segments = segments(dir).unwrap_or_default();
    let last = segments.last().map(|(n, _)| *n);
    for (number, path) in segments {
        let Ok(bytes) = std::fs::read(&path) else {
            out.push((path, FileState::Damaged(0, "cannot read".into())));
            continue;
        };
        let (end, records) = summarize(&bytes);
        let state = match end {
            End::Clean => FileState::Good(records),
            End::Torn(offset, reason) if Some(number) == last => FileState::Torn(offset, reason),
            End::Torn(offset, reason) | End::Damaged(offset, reason) => {
                FileState::Damaged(offset, reason)
            }
        };
        out.push((path, state));
    }
    if let Some(n) = last {
        let temp = dir.join(log::temp_segment_name(n + 1));
        if let Ok(bytes) = std::fs::read(&temp) {
            out.push((temp, unsettled(&bytes)));
        }
    }
    out
}

/// Scans a segment's records: how it ends, and which records it holds
/// (`3 records, 61..=63` or `no records`).
fn summarize(bytes: &[u8]) -> (End, String) {
    let (mut count, mut first, mut last_seq) = (0u64, None, 0u64);
    let end = scan_segment(bytes, &mut |_, r| {
        count += 1;
        first.get_or_insert(r.seq);
        last_seq = r.seq;
        Ok(())
    });
    let records = match first {
        Some(first) => format!("{count} records, {first}..={last_seq}"),
        None => "no records".into(),
    };
    (end, records)
}

/// What `check` says of a segment left by an unfinished switch.
fn unsettled(bytes: &[u8]) -> FileState {
    let (end, records) = summarize(bytes);
    let torn = match end {
        End::Clean => String::new(),
        End::Torn(offset, _) | End::Damaged(offset, _) => format!(", bad from offset {offset}"),
    };
    FileState::Unsettled(format!(
        "left by a segment switch that did not finish ({records}{torn}); start-up adopts it when the segment before it is whole, else drops it"
    ))
}

/// Repairs the data directory: keeps a copy of each damaged file, then cuts it at
/// its first bad record (log segments after a damaged one are set aside too, as
/// their records would no longer follow on). Returns one line per action.
pub fn repair(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut actions = Vec::new();
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let keep_copy = |path: &Path| -> std::io::Result<PathBuf> {
        let copy = path.with_file_name(format!(
            "{}.damaged-{stamp}",
            path.file_name().and_then(|n| n.to_str()).unwrap_or("file")
        ));
        std::fs::copy(path, &copy)?;
        Ok(copy)
    };
    let mut set_aside_rest = false;
    for (path, state) in check(dir) {
        let is_snapshot = path.file_name().is_some_and(|n| n == snapshot::FILE_NAME);
        if set_aside_rest && !is_snapshot {
            let aside = keep_copy(&path)?;
            std::fs::remove_file(&path)?;
            actions.push(format!(
                "{}: set aside as {} (follows a damaged segment)",
                path.display(),
                aside.display()
            ));
            continue;
        }
        let (FileState::Damaged(offset, reason) | FileState::Torn(offset, reason)) = state else {
            continue;
        };
        let copy = keep_copy(&path)?;
        let bytes = std::fs::read(&path)?;
        if is_snapshot {
            match snapshot::read(&bytes, &mut |_| {}) {
                Err(damage) if damage.good_end > 0 => {
                    snapshot::rewrite_good_part(&bytes, &damage, &path)?;
                    actions.push(format!(
                        "{}: kept {} keys before offset {offset} ({reason}); copy in {}",
                        path.display(),
                        damage.good_entries,
                        copy.display()
                    ));
                }
                _ => match first_log_seq(dir) {
                    // Without the snapshot, start-up would refuse the log after
                    // it for a sequence gap: an empty snapshot covering what
                    // came before lets those records replay.
                    Some(first) if first > 1 => {
                        let created_ms = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map_or(0, |d| d.as_millis() as u64);
                        fsutil::write_atomic(&path, &snapshot::empty(created_ms, first - 1))?;
                        actions.push(format!(
                            "{}: unreadable header ({reason}); its keys are lost, replaced by an empty snapshot covering records up to {} so the log after it replays; copy in {}",
                            path.display(),
                            first - 1,
                            copy.display()
                        ));
                    }
                    _ => {
                        std::fs::remove_file(&path)?;
                        actions.push(format!(
                            "{}: unreadable header ({reason}); removed, copy in {}",
                            path.display(),
                            copy.display()
                        ));
                    }
                },
            }
        } else {
            let dropped = bytes.len() as u64 - offset;
            cut(&path, offset)?;
            actions.push(format!(
                "{}: cut at offset {offset} ({reason}); {dropped} bytes dropped, copy in {}",
                path.display(),
                copy.display()
            ));
            set_aside_rest = true;
        }
    }
    Ok(actions)
}

/// The sequence number of the first readable log record in `dir`.
fn first_log_seq(dir: &Path) -> Option<u64> {
    for (_, path) in segments(dir).ok()? {
        let bytes = std::fs::read(&path).ok()?;
        let mut first = None;
        scan_segment(&bytes, &mut |_, record| {
            first = Some(record.seq);
            Err(String::new()) // found: stop reading
        });
        if first.is_some() {
            return first;
        }
    }
    None
}
