//! The append-only log: committed change groups become framed, checksummed,
//! sequence-numbered records in numbered segment files.
//!
//! Records are encoded into memory under the engine's lock (cheap, no I/O),
//! then written out by whoever needs them on disk first: a front-end about to
//! acknowledge a write (the "ack barrier"), or the background syncer. Under
//! `always` the barrier also fsyncs; concurrent barriers queue on one mutex, so
//! the first fsync covers everybody who arrived meanwhile (group commit).

use super::codec::{FRAME_HEADER, Put, put_groups, put_mutations, put_name};
use super::disk::{Disk, DiskFile};
use crate::engine::{Group, Journal, Mutation};
use crate::error::CommandError;
use crate::fsutil;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// First bytes of every log segment.
pub const MAGIC: &[u8; 8] = b"INMEMLOG";
/// The log format version this build writes: 2 added multi-group records.
pub const VERSION: u32 = 2;
/// The oldest log format version this build still reads.
pub const MIN_VERSION: u32 = 1;
/// Bytes before the first record of a segment.
pub const HEADER_LEN: usize = 16;

/// When the log is fsynced, as in Redis's `appendfsync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Fsync {
    /// Before every acknowledgement: nothing acknowledged is ever lost.
    Always,
    /// Once a second: a power loss costs at most about a second of writes.
    Everysec,
    /// Never explicitly: the operating system decides.
    No,
}

/// The file name of segment `n`.
pub fn segment_name(n: u64) -> String {
    format!("log-{n:010}.aof")
}

/// The segment number in a file name, if it is one.
pub fn segment_number(name: &str) -> Option<u64> {
    name.strip_prefix("log-")?
        .strip_suffix(".aof")?
        .parse()
        .ok()
}

/// Encoded records not yet handed to the file, by segment.
#[derive(Debug, Default)]
struct Pending {
    next_seq: u64,
    segment: u64,
    chunks: Vec<(u64, Vec<u8>)>,
}

/// The open segment and what of it is safely on disk.
struct Io {
    file: Option<Box<dyn DiskFile>>,
    segment: u64,
    /// Length known to be durable (or, under `no`, fully written).
    good_len: u64,
    /// Bytes written after `good_len`, kept to rewrite them after a failure.
    unsynced: Vec<u8>,
    written_seq: u64,
    synced_seq: u64,
    failure: Option<String>,
}

/// The append-only log; the engine's [`Journal`].
pub struct AppendLog {
    dir: PathBuf,
    disk: Arc<dyn Disk>,
    policy: Fsync,
    pending: Mutex<Pending>,
    io: Mutex<Io>,
    /// Bytes recorded since the last checkpoint (drives automatic compaction).
    bytes_since_checkpoint: AtomicU64,
    /// The counter's value when the last snapshot began; subtracted once that
    /// snapshot has trimmed the log (a backup trims nothing, so it changes nothing).
    bytes_at_checkpoint: AtomicU64,
    records: AtomicU64,
}

impl std::fmt::Debug for AppendLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppendLog")
            .field("dir", &self.dir)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// Bytes of rewrite buffer kept between syncs; a burst's larger buffer is released.
const UNSYNCED_KEPT_CAPACITY: usize = 1 << 20;

/// Empties the rewrite buffer after a sync, giving back memory a burst needed.
fn forget_unsynced(unsynced: &mut Vec<u8>) {
    unsynced.clear();
    unsynced.shrink_to(UNSYNCED_KEPT_CAPACITY);
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl AppendLog {
    /// A log in `dir` whose next record is `next_seq`, written to a new segment `segment`.
    pub fn new(
        dir: &Path,
        disk: Arc<dyn Disk>,
        policy: Fsync,
        next_seq: u64,
        segment: u64,
    ) -> Self {
        AppendLog {
            dir: dir.to_path_buf(),
            disk,
            policy,
            pending: Mutex::new(Pending {
                next_seq,
                segment,
                chunks: Vec::new(),
            }),
            io: Mutex::new(Io {
                file: None,
                segment: 0,
                good_len: 0,
                unsynced: Vec::new(),
                written_seq: next_seq.saturating_sub(1),
                synced_seq: next_seq.saturating_sub(1),
                failure: None,
            }),
            bytes_since_checkpoint: AtomicU64::new(0),
            bytes_at_checkpoint: AtomicU64::new(0),
            records: AtomicU64::new(0),
        }
    }

    /// Continues after recovery: the next record is `next_seq`, in new segment `segment`.
    pub fn resume(&self, next_seq: u64, segment: u64) {
        let mut pending = lock(&self.pending);
        pending.next_seq = next_seq;
        pending.segment = segment;
        let mut io = lock(&self.io);
        io.written_seq = next_seq.saturating_sub(1);
        io.synced_seq = io.written_seq;
    }

    /// Called when a snapshot has dropped the log it covers: the bytes recorded
    /// before it began no longer count towards the next compaction.
    pub fn compacted(&self) {
        let covered = self.bytes_at_checkpoint.swap(0, Ordering::Relaxed);
        let _ =
            self.bytes_since_checkpoint
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
                    Some(b.saturating_sub(covered))
                });
    }

    /// Bytes recorded in the log that no snapshot has compacted yet.
    pub fn bytes_since_checkpoint(&self) -> u64 {
        self.bytes_since_checkpoint.load(Ordering::Relaxed)
    }

    /// Records written since start.
    pub fn records(&self) -> u64 {
        self.records.load(Ordering::Relaxed)
    }

    /// The sequence number of the last record.
    pub fn last_seq(&self) -> u64 {
        lock(&self.pending).next_seq - 1
    }

    /// The segment new records go to.
    pub fn current_segment(&self) -> u64 {
        lock(&self.pending).segment
    }

    /// Makes every record so far safe to acknowledge: written to the operating
    /// system, and under `always` also fsynced.
    pub fn barrier(&self) -> Result<(), String> {
        self.flush(self.policy == Fsync::Always)
    }

    /// Writes every pending record and, when `sync`, fsyncs it. A failure is
    /// remembered (writes are refused until a later flush succeeds) and returned.
    pub fn flush(&self, sync: bool) -> Result<(), String> {
        let mut io = lock(&self.io);
        if io.failure.is_some() {
            self.repair(&mut io)?;
        }
        let (chunks, last_seq) = {
            let mut pending = lock(&self.pending);
            (std::mem::take(&mut pending.chunks), pending.next_seq - 1)
        };
        let mut chunks = chunks.into_iter();
        while let Some((segment, bytes)) = chunks.next() {
            if let Err(e) = self.write_chunk(&mut io, segment, &bytes) {
                // Put back what was not written, ahead of anything newer.
                let mut pending = lock(&self.pending);
                let newer = std::mem::take(&mut pending.chunks);
                pending.chunks = std::iter::once((segment, bytes))
                    .chain(chunks)
                    .chain(newer)
                    .collect();
                return Err(self.fail(&mut io, e));
            }
        }
        io.written_seq = io.written_seq.max(last_seq);
        // Under `no` only an explicit request (close, exit) fsyncs; the barrier
        // and the background tick never ask.
        if self.policy == Fsync::No && !sync {
            io.good_len += io.unsynced.len() as u64;
            forget_unsynced(&mut io.unsynced);
        } else if sync && io.synced_seq < io.written_seq {
            if let Some(file) = io.file.as_mut()
                && let Err(e) = file.sync()
            {
                return Err(self.fail(&mut io, format!("fsync failed: {e}")));
            }
            io.good_len += io.unsynced.len() as u64;
            forget_unsynced(&mut io.unsynced);
            io.synced_seq = io.written_seq;
        }
        Ok(())
    }

    fn fail(&self, io: &mut Io, message: String) -> String {
        let message = format!(
            "cannot write the append-only log in {}: {message}",
            self.dir.display()
        );
        io.failure = Some(message.clone());
        message
    }

    /// After a failure: cut the segment back to what is known good and write
    /// the rest again, so no torn or half-synced record stays in the middle.
    fn repair(&self, io: &mut Io) -> Result<(), String> {
        let Some(file) = io.file.as_mut() else {
            io.failure = None;
            return Ok(());
        };
        let good = io.good_len;
        let redo = std::mem::take(&mut io.unsynced);
        let result = file
            .truncate(good)
            .and_then(|()| file.write_all(&redo))
            .and_then(|()| file.sync());
        match result {
            Ok(()) => {
                io.good_len += redo.len() as u64;
                io.synced_seq = io.written_seq;
                io.failure = None;
                Ok(())
            }
            Err(e) => {
                io.unsynced = redo;
                Err(self.fail(io, format!("still failing: {e}")))
            }
        }
    }

    fn write_chunk(&self, io: &mut Io, segment: u64, bytes: &[u8]) -> Result<(), String> {
        if io.file.is_none() || io.segment != segment {
            self.open_segment(io, segment)?;
        }
        let Some(file) = io.file.as_mut() else {
            return Err("no open segment".into());
        };
        file.write_all(bytes)
            .map_err(|e| format!("write failed: {e}"))?;
        io.unsynced.extend_from_slice(bytes);
        Ok(())
    }

    /// Finishes the current segment (synced) and starts `segment` with its header.
    fn open_segment(&self, io: &mut Io, segment: u64) -> Result<(), String> {
        if let Some(file) = io.file.as_mut() {
            file.sync().map_err(|e| format!("fsync failed: {e}"))?;
            io.good_len += io.unsynced.len() as u64;
            forget_unsynced(&mut io.unsynced);
        }
        let path = self.dir.join(segment_name(segment));
        let mut file = self
            .disk
            .create(&path)
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        let mut header = Vec::with_capacity(HEADER_LEN);
        header.extend_from_slice(MAGIC);
        header.put_u32(VERSION);
        header.put_u32(0);
        file.write_all(&header)
            .and_then(|()| file.sync())
            .map_err(|e| format!("cannot start {}: {e}", path.display()))?;
        fsutil::sync_dir(&self.dir).map_err(|e| format!("cannot sync directory: {e}"))?;
        io.file = Some(file);
        io.segment = segment;
        io.good_len = HEADER_LEN as u64;
        Ok(())
    }

    /// The failure that is refusing writes, if any.
    pub fn failure(&self) -> Option<String> {
        lock(&self.io).failure.clone()
    }
}

/// The body of a multi-group record: the marker (a zero namespace length,
/// which no single-namespace record has), then the groups.
fn put_multi(out: &mut Vec<u8>, groups: &[Group]) {
    out.put_u16(0);
    put_groups(out, groups);
}

impl AppendLog {
    /// Appends one framed record whose payload is the next sequence number
    /// followed by what `body` writes.
    fn append(&self, body: impl FnOnce(&mut Vec<u8>)) {
        let mut pending = lock(&self.pending);
        let seq = pending.next_seq;
        pending.next_seq += 1;
        let segment = pending.segment;
        if pending.chunks.last().is_none_or(|(s, _)| *s != segment) {
            pending.chunks.push((segment, Vec::new()));
        }
        let Some((_, out)) = pending.chunks.last_mut() else {
            return;
        };
        let start = out.len();
        out.extend_from_slice(&[0; FRAME_HEADER]);
        out.put_u64(seq);
        body(out);
        let payload = &out[start + FRAME_HEADER..];
        let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
        let crc = crc32fast::hash(payload);
        out[start..start + 4].copy_from_slice(&len.to_le_bytes());
        out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
        let added = (out.len() - start) as u64;
        self.bytes_since_checkpoint
            .fetch_add(added, Ordering::Relaxed);
        self.records.fetch_add(1, Ordering::Relaxed);
    }
}

impl Journal for AppendLog {
    fn writable(&self) -> Result<(), CommandError> {
        // Only a try: a flush holding the lock must not block the engine.
        match self.io.try_lock() {
            Ok(io) => match &io.failure {
                Some(message) => Err(CommandError::LogUnavailable(message.clone())),
                None => Ok(()),
            },
            Err(_) => Ok(()),
        }
    }

    fn record(&self, namespace: &str, mutations: &[Mutation]) {
        if namespace.is_empty() {
            // An empty name would read as the multi-group marker.
            let group = Group::Changes(String::new(), mutations.to_vec());
            self.append(|out| put_multi(out, std::slice::from_ref(&group)));
        } else {
            self.append(|out| {
                put_name(out, namespace);
                put_mutations(out, mutations);
            });
        }
    }

    fn record_groups(&self, groups: &[Group]) {
        match groups {
            [Group::Changes(namespace, mutations)] => self.record(namespace, mutations),
            _ => self.append(|out| put_multi(out, groups)),
        }
    }

    fn checkpoint(&self) -> u64 {
        let mut pending = lock(&self.pending);
        pending.segment += 1;
        let bytes = self.bytes_since_checkpoint.load(Ordering::Relaxed);
        self.bytes_at_checkpoint.store(bytes, Ordering::Relaxed);
        pending.next_seq - 1
    }
}
