//! The append-only log: committed change groups become framed, checksummed,
//! sequence-numbered records in numbered segment files.
//!
//! Records are encoded into memory under the engine's lock (cheap, no I/O),
//! then written out by whoever needs them on disk first: a front-end about to
//! acknowledge a write (the "ack barrier"), or the background syncer. Under
//! `always` the barrier also fsyncs; concurrent barriers queue on one mutex, so
//! the first fsync covers everybody who arrived meanwhile (group commit). An
//! fsync never holds the lock that writing needs: under `everysec` the
//! background fsync does not delay writers, and under `always` the next group
//! is written while the current one is being synced.

use super::codec::{FRAME_HEADER, Put, put_groups, put_mutations, put_name, put_put};
use super::disk::{Disk, DiskFile};
use super::snapshot::{Step, StepHook};
use super::unsynced::Unsynced;
use crate::engine::{Group, Journal, Mutation};
use crate::error::CommandError;
use crate::fsutil;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

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

/// The name segment `n` has while a switch to it is not yet durable (see
/// [`AppendLog::rotate`]); recovery adopts or drops such a file.
pub fn temp_segment_name(n: u64) -> String {
    format!("{}.new", segment_name(n))
}

/// The segment number in a file name, if it is one.
pub fn segment_number(name: &str) -> Option<u64> {
    name.strip_prefix("log-")?
        .strip_suffix(".aof")?
        .parse()
        .ok()
}

/// Encoded records not yet handed to the file, by segment, and counts of
/// what was recorded (kept here, under the lock recording takes anyway,
/// rather than in atomics that every record would pay for again).
#[derive(Debug, Default)]
struct Pending {
    next_seq: u64,
    segment: u64,
    /// (segment, records) in order; a segment's records may span several
    /// chunks, each at most about [`PENDING_CHUNK`] bytes.
    chunks: Vec<(u64, Vec<u8>)>,
    /// Bytes recorded since the last checkpoint (drives automatic compaction).
    bytes_since_checkpoint: u64,
    /// The counter's value when the last snapshot began; subtracted once that
    /// snapshot has trimmed the log (a backup trims nothing, so it changes nothing).
    bytes_at_checkpoint: u64,
    records: u64,
    /// Room a new chunk starts with: as much as the largest chunk of the last
    /// write needed, so a busy log does not grow every chunk from nothing.
    chunk_hint: usize,
}

/// Bytes after which records go to a new pending chunk. When nobody
/// acknowledges, a second of records waits for the background write; in one
/// growing buffer each doubling would copy all of them under the lock every
/// writer takes, stalling writers for milliseconds.
const PENDING_CHUNK: usize = 1 << 20;

/// Room beyond [`PENDING_CHUNK`] a full-size chunk starts with, for the
/// record that crosses it (a larger one still grows the chunk).
const CROSSING_RECORD_ROOM: usize = 64 << 10;

/// Bytes written and not yet fsynced after which `everysec` does not wait
/// for its next second: the backlog alarm (see [`AppendLog::on_backlog`])
/// asks for an fsync now. A burst of writes then reaches the disk while it
/// runs rather than all at once at the next tick or at exit, and the copy
/// kept to rewrite unsynced bytes after a failure stays small.
pub const SYNC_BACKLOG: u64 = 8 << 20;

/// Why [`AppendLog::rotate`] started no new segment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RotateError {
    /// The log failed, before or during the switch: writes are refused
    /// until a flush repairs it (which finishes the switch).
    #[error("no snapshot while the log fails: {0}")]
    Log(String),
    /// The next segment could not be prepared; the log goes on in the open one.
    #[error("no snapshot: the next log segment cannot be prepared: {0}")]
    Prepare(String),
}

/// The open segment and what of it is safely on disk.
struct Io {
    /// Shared with an fsync running outside this lock.
    file: Option<Arc<dyn DiskFile>>,
    segment: u64,
    /// Length known to be durable (or, under `no`, fully written).
    good_len: u64,
    /// Bytes written after `good_len`, kept to rewrite them after a failure.
    unsynced: Unsynced,
    written_seq: u64,
    synced_seq: u64,
    failure: Option<String>,
    /// Whether the backlog alarm rang since the last fsync.
    backlog_reported: bool,
    /// The previous segment while a switch makes it durable; the open one
    /// still has its temporary name meanwhile.
    sealing: Option<Sealing>,
}

/// A segment left by a switch, not yet known to be durable, and the names of
/// the segment that follows it: temporary until this one is fsynced.
struct Sealing {
    file: Arc<dyn DiskFile>,
    good_len: u64,
    unsynced: Unsynced,
    temp: PathBuf,
    path: PathBuf,
}

/// What one fsync covers: the segment's length and the last record written
/// when it started.
#[derive(Debug, Clone, Copy)]
struct SyncTarget {
    len: u64,
    seq: u64,
}

/// The append-only log; the engine's [`Journal`].
///
/// Locks, always taken in this order: `sync` (one fsync, segment switch or
/// repair at a time), `io` (the open segment's bookkeeping, held only for
/// `write` calls), `pending` (records not yet written, held for a memcpy).
/// A writer that only needs its records in the operating system takes `io`
/// alone, so it never waits for an fsync in progress.
pub struct AppendLog {
    dir: PathBuf,
    disk: Arc<dyn Disk>,
    policy: Fsync,
    pending: Mutex<Pending>,
    io: Mutex<Io>,
    sync: Mutex<()>,
    /// Set while `Io::failure` is: writers check it without taking a lock.
    failing: AtomicBool,
    /// Rung under `everysec` when [`SYNC_BACKLOG`] bytes wait for an fsync.
    backlog_alarm: OnceLock<Box<dyn Fn() + Send + Sync>>,
}

impl std::fmt::Debug for AppendLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppendLog")
            .field("dir", &self.dir)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Pending chunks taken for writing, and the last sequence number among them.
type Taken = (Vec<(u64, Vec<u8>)>, u64);

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
                ..Pending::default()
            }),
            io: Mutex::new(Io {
                file: None,
                segment: 0,
                good_len: 0,
                unsynced: Unsynced::default(),
                written_seq: next_seq.saturating_sub(1),
                synced_seq: next_seq.saturating_sub(1),
                failure: None,
                backlog_reported: false,
                sealing: None,
            }),
            sync: Mutex::new(()),
            failing: AtomicBool::new(false),
            backlog_alarm: OnceLock::new(),
        }
    }

    /// Sets what to call (once per fsync at most, under `everysec` only) when
    /// [`SYNC_BACKLOG`] bytes have been written since the last fsync: the
    /// background thread that fsyncs. It is called with the log's own lock
    /// held, so it must only signal, never call back into the log. Only the
    /// first alarm set is kept.
    pub fn on_backlog(&self, alarm: impl Fn() + Send + Sync + 'static) {
        let _ = self.backlog_alarm.set(Box::new(alarm));
    }

    /// Continues after recovery: the next record is `next_seq`, in new segment `segment`.
    pub fn resume(&self, next_seq: u64, segment: u64) {
        let mut io = lock(&self.io);
        let mut pending = lock(&self.pending);
        pending.next_seq = next_seq;
        pending.segment = segment;
        io.written_seq = next_seq.saturating_sub(1);
        io.synced_seq = io.written_seq;
    }

    /// Called when a snapshot has dropped the log it covers: the bytes recorded
    /// before it began no longer count towards the next compaction.
    pub fn compacted(&self) {
        let mut pending = lock(&self.pending);
        let covered = std::mem::take(&mut pending.bytes_at_checkpoint);
        pending.bytes_since_checkpoint = pending.bytes_since_checkpoint.saturating_sub(covered);
    }

    /// Bytes recorded in the log that no snapshot has compacted yet.
    pub fn bytes_since_checkpoint(&self) -> u64 {
        lock(&self.pending).bytes_since_checkpoint
    }

    /// Records written since start.
    pub fn records(&self) -> u64 {
        lock(&self.pending).records
    }

    /// The sequence number of the last record.
    pub fn last_seq(&self) -> u64 {
        lock(&self.pending).next_seq - 1
    }

    /// The segment new records go to.
    pub fn current_segment(&self) -> u64 {
        lock(&self.pending).segment
    }

    /// The sequence number of the last record known to be on disk (fsynced).
    pub fn synced_seq(&self) -> u64 {
        lock(&self.io).synced_seq
    }

    /// Bytes of records that an fsync now would have to bring to disk, at
    /// least: written since the last fsync, or still waiting in memory.
    /// Under `no` written bytes are not tracked, so only those waiting count.
    pub fn unsynced_bytes(&self) -> u64 {
        let written = lock(&self.io).unsynced.len();
        let waiting: usize = lock(&self.pending)
            .chunks
            .iter()
            .map(|(_, bytes)| bytes.len())
            .sum();
        written + waiting as u64
    }

    /// Makes every record so far safe to acknowledge: written to the operating
    /// system, and under `always` also fsynced.
    pub fn barrier(&self) -> Result<(), String> {
        self.flush(self.policy == Fsync::Always)
    }

    /// Writes every pending record and, when `sync`, fsyncs it. A failure is
    /// remembered (writes are refused until a later flush succeeds) and returned.
    ///
    /// The fsync runs without the lock that writing needs: writers keep
    /// handing records to the operating system meanwhile, and concurrent
    /// syncing callers queue behind it, the first one after it covering
    /// everybody who arrived meanwhile (group commit).
    pub fn flush(&self, sync: bool) -> Result<(), String> {
        let wanted = self.last_seq();
        {
            // Into the operating system first, even while another fsync runs:
            // the next fsync then has everything waiting at hand.
            let mut io = lock(&self.io);
            if io.failure.is_none()
                && let Some(taken) = self.take_pending(&io, false)
            {
                let written = self.write_taken(&mut io, taken, sync);
                if !sync || written.is_err() {
                    return written;
                }
            }
        }
        // A repair, a segment switch or an fsync: one at a time.
        let _one_at_a_time = lock(&self.sync);
        let (file, target) = {
            let mut io = lock(&self.io);
            if io.failure.is_some() {
                self.repair(&mut io)?;
                self.failing.store(false, Ordering::Release);
            }
            if let Some(taken) = self.take_pending(&io, true) {
                self.write_taken(&mut io, taken, sync)?;
            }
            if !sync || io.synced_seq >= wanted {
                return Ok(());
            }
            let target = SyncTarget {
                len: io.good_len + io.unsynced.len(),
                seq: io.written_seq,
            };
            match io.file.clone() {
                Some(file) => (file, target),
                None => {
                    io.synced_seq = target.seq;
                    return Ok(());
                }
            }
        };
        // Only `sync` is held here: a segment switch or a repair, the only
        // changes that would make `target` stale, wait for it.
        let result = file.sync();
        let mut io = lock(&self.io);
        match result {
            Ok(()) => {
                Self::mark_synced(&mut io, target);
                Ok(())
            }
            Err(e) => Err(self.fail(&mut io, format!("fsync failed: {e}"))),
        }
    }

    /// Takes the pending chunks, unless one needs a segment switch and
    /// `switch` is false (the caller must hold `sync` to switch); `None` then.
    fn take_pending(&self, io: &Io, switch: bool) -> Option<Taken> {
        let mut pending = lock(&self.pending);
        let needs_switch = pending
            .chunks
            .iter()
            .any(|(segment, _)| io.file.is_none() || *segment != io.segment);
        if needs_switch && !switch {
            return None;
        }
        Some(take_chunks(&mut pending))
    }

    /// Writes taken chunks; on a failure puts back what was not written.
    fn write_taken(
        &self,
        io: &mut Io,
        (chunks, last_seq): Taken,
        sync: bool,
    ) -> Result<(), String> {
        let mut chunks = chunks.into_iter();
        while let Some((segment, bytes)) = chunks.next() {
            if let Err(e) = self.write_chunk(io, segment, &bytes) {
                // Put back what was not written, ahead of anything newer.
                let mut pending = lock(&self.pending);
                let newer = std::mem::take(&mut pending.chunks);
                pending.chunks = std::iter::once((segment, bytes))
                    .chain(chunks)
                    .chain(newer)
                    .collect();
                return Err(self.fail(io, e));
            }
            io.unsynced.push(bytes);
        }
        io.written_seq = io.written_seq.max(last_seq);
        if self.policy == Fsync::Everysec
            && !io.backlog_reported
            && io.unsynced.len() >= SYNC_BACKLOG
        {
            io.backlog_reported = true;
            if let Some(alarm) = self.backlog_alarm.get() {
                alarm();
            }
        }
        // Under `no` only an explicit request (close, exit) fsyncs; the barrier
        // and the background tick never ask.
        if self.policy == Fsync::No && !sync {
            io.good_len += io.unsynced.len();
            io.unsynced.clear();
        }
        Ok(())
    }

    /// Records a finished fsync: the first `target.len` bytes of the segment
    /// and the records up to `target.seq` are durable. Bytes written after
    /// the fsync began stay in the rewrite buffer.
    fn mark_synced(io: &mut Io, target: SyncTarget) {
        if target.len > io.good_len {
            io.unsynced.forget(target.len - io.good_len);
            io.good_len = target.len;
        }
        io.synced_seq = io.synced_seq.max(target.seq);
        io.backlog_reported = false;
    }

    fn fail(&self, io: &mut Io, message: String) -> String {
        let message = format!(
            "cannot write the append-only log in {}: {message}",
            self.dir.display()
        );
        io.failure = Some(message.clone());
        self.failing.store(true, Ordering::Release);
        message
    }

    /// After a failure: cut the segment back to what is known good and write
    /// the rest again, so no torn or half-synced record stays in the middle.
    /// (A failed fsync may have dropped the written pages, so everything after
    /// the last good fsync is written again.) The caller holds `sync`.
    fn repair(&self, io: &mut Io) -> Result<(), String> {
        if let Some(sealing) = io.sealing.take() {
            let result = rewrite(&*sealing.file, sealing.good_len, &sealing.unsynced)
                .map_err(|e| e.to_string())
                .and_then(|()| self.name_segment(&sealing.temp, &sealing.path));
            if let Err(e) = result {
                io.sealing = Some(sealing);
                return Err(self.fail(io, format!("still failing: {e}")));
            }
        }
        let Some(file) = io.file.clone() else {
            io.failure = None;
            return Ok(());
        };
        let redo = std::mem::take(&mut io.unsynced);
        match rewrite(&*file, io.good_len, &redo) {
            Ok(()) => {
                io.good_len += redo.len();
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
        let Some(file) = io.file.as_ref() else {
            return Err("no open segment".into());
        };
        file.write_all(bytes)
            .map_err(|e| format!("write failed: {e}"))
    }

    /// Finishes the current segment (synced) and starts `segment` with its
    /// header. The caller holds `sync`, so no fsync of the old segment is in flight.
    fn open_segment(&self, io: &mut Io, segment: u64) -> Result<(), String> {
        if let Some(file) = io.file.as_ref() {
            file.sync().map_err(|e| format!("fsync failed: {e}"))?;
            io.good_len += io.unsynced.len();
            io.unsynced.clear();
        }
        let file = self.start_segment(&self.dir.join(segment_name(segment)))?;
        fsutil::sync_dir(&self.dir).map_err(|e| format!("cannot sync directory: {e}"))?;
        io.file = Some(file);
        io.segment = segment;
        io.good_len = HEADER_LEN as u64;
        Ok(())
    }

    /// Creates a segment file at `path` with its header, fsynced.
    fn start_segment(&self, path: &Path) -> Result<Arc<dyn DiskFile>, String> {
        let file: Arc<dyn DiskFile> = self
            .disk
            .create(path)
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?
            .into();
        let mut header = Vec::with_capacity(HEADER_LEN);
        header.extend_from_slice(MAGIC);
        header.put_u32(VERSION);
        header.put_u32(0);
        file.write_all(&header)
            .and_then(|()| file.sync())
            .map_err(|e| format!("cannot start {}: {e}", path.display()))?;
        Ok(file)
    }

    /// Starts a new segment for the records that follow and returns its
    /// number: every record recorded before the call is in an earlier one.
    /// No writer and no acknowledgement waits for the disk meanwhile.
    ///
    /// The new segment is created, and its header fsynced, under a temporary
    /// name ([`temp_segment_name`]). Then, holding the lock writing takes only
    /// to hand bytes to the operating system, what is pending goes to the old
    /// segment and the new one becomes the open one: writers go on into it
    /// while the old one is fsynced. Only then does the new one get its
    /// segment name (directory fsynced), so a named segment never follows one
    /// that may have lost its tail; recovery adopts a temporary segment only
    /// when the one before it is complete and its records continue it.
    ///
    /// `hook` is called after each step (tests crash there). A failure of
    /// a step after the switch, or the hook's error there, fails the log
    /// until a flush repairs it, which finishes the switch first.
    pub fn rotate(&self, hook: &StepHook) -> Result<u64, RotateError> {
        // A failed log is repaired first, as a flush does.
        self.flush(false).map_err(RotateError::Log)?;
        let _one_at_a_time = lock(&self.sync);
        let next = {
            let io = lock(&self.io);
            if io.file.is_none() {
                // Nothing written since start: the next write opens a new
                // segment, fsyncing nothing older.
                let mut pending = lock(&self.pending);
                pending.segment += 1;
                return Ok(pending.segment);
            }
            io.segment + 1
        };
        let temp = self.dir.join(temp_segment_name(next));
        let path = self.dir.join(segment_name(next));
        let prepared = self
            .start_segment(&temp)
            .and_then(|file| {
                hook(Step::SegmentPrepared).map_err(|e| e.to_string())?;
                Ok(file)
            })
            .map_err(RotateError::Prepare)
            .and_then(|file| {
                self.switch_to(file, next, &temp, &path)
                    .map_err(RotateError::Log)
            });
        if let Err(e) = prepared {
            // Nobody wrote to it: the old segment is still the open one.
            let _ = std::fs::remove_file(&temp);
            return Err(e);
        }
        let result = hook(Step::SegmentSwitched)
            .map_err(|e| e.to_string())
            .and_then(|()| self.seal());
        let mut io = lock(&self.io);
        match result {
            Ok(()) => {
                io.sealing = None;
                drop(io);
                hook(Step::SegmentNamed).map_err(|e| {
                    let mut io = lock(&self.io);
                    RotateError::Log(self.fail(&mut io, e.to_string()))
                })?;
                Ok(next)
            }
            Err(e) => Err(RotateError::Log(self.fail(&mut io, e))),
        }
    }

    /// Writes what is pending to the open segment, then makes `file` (the
    /// segment `next`, named `temp` until `path`) the open one; the old one
    /// waits for [`AppendLog::seal`]. The caller holds `sync`.
    fn switch_to(
        &self,
        file: Arc<dyn DiskFile>,
        next: u64,
        temp: &Path,
        path: &Path,
    ) -> Result<(), String> {
        let mut io = lock(&self.io);
        if let Some(failure) = &io.failure {
            return Err(failure.clone());
        }
        let Some(old) = io.file.clone() else {
            return Err("no open segment".into());
        };
        // Records from now on are for the new segment: the number changes in
        // the same hold of `pending` that takes the old segment's last ones.
        let taken = {
            let mut pending = lock(&self.pending);
            pending.segment = next;
            take_chunks(&mut pending)
        };
        self.write_taken(&mut io, taken, false)?;
        io.file = Some(file);
        io.sealing = Some(Sealing {
            file: old,
            good_len: io.good_len,
            unsynced: std::mem::take(&mut io.unsynced),
            temp: temp.to_path_buf(),
            path: path.to_path_buf(),
        });
        io.segment = next;
        io.good_len = HEADER_LEN as u64;
        Ok(())
    }

    /// Fsyncs the segment a switch left, then names the open one. The caller
    /// holds `sync`; writers write the open segment meanwhile.
    fn seal(&self) -> Result<(), String> {
        let Some((file, temp, path)) = lock(&self.io)
            .sealing
            .as_ref()
            .map(|s| (s.file.clone(), s.temp.clone(), s.path.clone()))
        else {
            return Ok(());
        };
        file.sync().map_err(|e| format!("fsync failed: {e}"))?;
        self.name_segment(&temp, &path)
    }

    /// Gives the open segment its segment name, durably. Done already when
    /// only the final name exists (a repair after the directory's fsync failed).
    fn name_segment(&self, temp: &Path, path: &Path) -> Result<(), String> {
        if temp.exists() || !path.exists() {
            self.disk
                .rename(temp, path)
                .map_err(|e| format!("cannot rename {}: {e}", temp.display()))?;
        }
        fsutil::sync_dir(&self.dir).map_err(|e| format!("cannot sync directory: {e}"))
    }

    /// The failure that is refusing writes, if any.
    pub fn failure(&self) -> Option<String> {
        lock(&self.io).failure.clone()
    }
}

/// Takes every pending chunk, remembering the largest as the room new chunks start with.
fn take_chunks(pending: &mut Pending) -> Taken {
    let largest = pending.chunks.iter().map(|(_, bytes)| bytes.len()).max();
    pending.chunk_hint = largest.unwrap_or_default().min(PENDING_CHUNK);
    (std::mem::take(&mut pending.chunks), pending.next_seq - 1)
}

/// Cuts `file` back to `good` bytes, writes `redo` again and fsyncs: after
/// a failure, so no torn or half-synced record stays in the middle.
fn rewrite(file: &dyn DiskFile, good: u64, redo: &Unsynced) -> std::io::Result<()> {
    file.truncate(good)?;
    redo.chunks().try_for_each(|chunk| file.write_all(chunk))?;
    file.sync()
}

/// The body of a record of one put to a named namespace: exactly what
/// `record` writes for that put as a one-mutation group.
fn put_single_put(out: &mut Vec<u8>, namespace: &str, key: &[u8], value: &[u8], at: Option<u64>) {
    put_name(out, namespace);
    out.put_u32(1);
    put_put(out, key, value, at);
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
        append_to(&mut lock(&self.pending), body);
    }
}

/// Appends one framed record whose payload `body` writes to `pending`.
fn append_to(pending: &mut Pending, body: impl FnOnce(&mut Vec<u8>)) {
    let seq = pending.next_seq;
    pending.next_seq += 1;
    let segment = pending.segment;
    if pending
        .chunks
        .last()
        .is_none_or(|(s, out)| *s != segment || out.len() >= PENDING_CHUNK)
    {
        // A chunk that fills up is closed by the record that crosses
        // PENDING_CHUNK; room for that record keeps the chunk from growing
        // (a copy of the whole megabyte into fresh pages, under this lock)
        // just before it is closed.
        let room = match pending.chunk_hint {
            PENDING_CHUNK => PENDING_CHUNK + CROSSING_RECORD_ROOM,
            hint => hint,
        };
        pending.chunks.push((segment, Vec::with_capacity(room)));
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
    pending.bytes_since_checkpoint += added;
    pending.records += 1;
}

impl Journal for AppendLog {
    fn writable(&self) -> Result<(), CommandError> {
        if !self.failing.load(Ordering::Acquire) {
            return Ok(());
        }
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

    fn record_put(&self, namespace: &str, key: &[u8], value: &[u8], expires_at: Option<u64>) {
        if namespace.is_empty() {
            // An empty name would read as the multi-group marker.
            return self.record(namespace, &[Mutation::put(key, value, expires_at)]);
        }
        self.append(|out| put_single_put(out, namespace, key, value, expires_at));
    }

    fn record_puts(&self, namespace: &str, pairs: &[(&[u8], &[u8])]) {
        if namespace.is_empty() {
            for (key, value) in pairs {
                self.record_put(namespace, key, value, None);
            }
            return;
        }
        // What `record_put` writes for each, under one hold of the lock.
        let mut pending = lock(&self.pending);
        for (key, value) in pairs {
            append_to(&mut pending, |out| {
                put_single_put(out, namespace, key, value, None)
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
        pending.bytes_at_checkpoint = pending.bytes_since_checkpoint;
        pending.next_seq - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::disk::RealDisk;

    /// Sequence numbers of the records in every segment of `dir`, in order.
    fn logged_seqs(dir: &Path) -> Vec<u64> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| segment_number(n).is_some())
            .collect();
        names.sort();
        let mut seqs = Vec::new();
        for name in names {
            let bytes = std::fs::read(dir.join(&name)).unwrap();
            let mut pos = HEADER_LEN;
            while pos < bytes.len() {
                let len = u32::from_le_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
                let at = pos + FRAME_HEADER;
                seqs.push(u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()));
                pos = at + len;
            }
        }
        seqs
    }

    #[test]
    fn a_full_size_chunk_is_closed_before_it_has_to_grow() {
        let dir = tempfile::tempdir().unwrap();
        let log = AppendLog::new(dir.path(), Arc::new(RealDisk), Fsync::No, 1, 1);
        let value = [7u8; 100];
        let fill = |log: &AppendLog| {
            while lock(&log.pending).chunks.len() < 3 {
                log.record_put("0", b"key", &value, None);
            }
        };
        // The first write sees full chunks: later ones start at full size.
        fill(&log);
        log.flush(false).unwrap();
        log.record_put("0", b"key", &value, None);
        let room = lock(&log.pending).chunks[0].1.capacity();
        assert!(room > PENDING_CHUNK, "{room}");
        fill(&log);
        let pending = lock(&log.pending);
        let (_, first) = &pending.chunks[0];
        assert!(first.len() >= PENDING_CHUNK);
        assert_eq!(
            first.capacity(),
            room,
            "the chunk grew before it was closed"
        );
    }

    #[test]
    fn records_made_while_segments_switch_are_all_logged_once_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(AppendLog::new(
            dir.path(),
            Arc::new(RealDisk),
            Fsync::Everysec,
            1,
            1,
        ));
        log.record_put("0", b"first", b"v", None);
        log.flush(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..2)
            .map(|_| {
                let (log, stop) = (log.clone(), stop.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::SeqCst) {
                        log.record_put("0", b"k", b"v", None);
                        log.flush(false).unwrap();
                    }
                })
            })
            .collect();
        let no_hook = |_: Step| Ok(());
        let mut segment = 1;
        for _ in 0..30 {
            let next = log.rotate(&no_hook).unwrap();
            assert_eq!(next, segment + 1);
            segment = next;
        }
        stop.store(true, Ordering::SeqCst);
        for writer in writers {
            writer.join().unwrap();
        }
        log.flush(true).unwrap();
        let expected: Vec<u64> = (1..=log.last_seq()).collect();
        assert_eq!(logged_seqs(dir.path()), expected);
    }

    #[test]
    fn a_put_from_its_parts_is_recorded_as_the_mutation_would_be() {
        let puts = [(&b"k"[..], &b"v"[..], None), (b"", b"\x00\xff", Some(7))];
        for namespace in ["0", "", "app"] {
            let from_parts = first_segment(2, |log| {
                for (key, value, at) in puts {
                    log.record_put(namespace, key, value, at);
                }
            });
            let as_mutations = first_segment(2, |log| {
                for (key, value, at) in puts {
                    log.record(namespace, &[Mutation::put(key, value, at)]);
                }
            });
            assert!(from_parts.len() > HEADER_LEN, "{namespace:?}");
            assert_eq!(from_parts, as_mutations, "{namespace:?}");
        }
    }

    #[test]
    fn a_run_of_puts_is_recorded_as_the_puts_one_by_one() {
        let pairs: [(&[u8], &[u8]); 3] = [(b"k", b"v"), (b"", b"\x00\xff"), (b"k", b"w")];
        for namespace in ["0", "", "app"] {
            let as_run = first_segment(3, |log| log.record_puts(namespace, &pairs));
            let one_by_one = first_segment(3, |log| {
                for (key, value) in pairs {
                    log.record(namespace, &[Mutation::put(key, value, None)]);
                }
            });
            assert!(as_run.len() > HEADER_LEN, "{namespace:?}");
            assert_eq!(as_run, one_by_one, "{namespace:?}");
        }
    }

    #[test]
    fn the_backlog_alarm_rings_once_per_fsync_and_only_under_everysec() {
        for policy in [Fsync::Everysec, Fsync::Always, Fsync::No] {
            let dir = tempfile::tempdir().unwrap();
            let log = AppendLog::new(dir.path(), Arc::new(RealDisk), policy, 1, 1);
            let rings = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let counter = rings.clone();
            log.on_backlog(move || {
                counter.fetch_add(1, Ordering::SeqCst);
            });
            let value = vec![7u8; 64 << 10];
            let write = |bytes: u64| {
                for _ in 0..bytes.div_ceil(value.len() as u64) {
                    log.record_put("0", b"key", &value, None);
                    log.flush(false).unwrap();
                }
            };
            write(SYNC_BACKLOG / 2);
            assert_eq!(rings.load(Ordering::SeqCst), 0, "{policy:?}");
            write(SYNC_BACKLOG);
            write(SYNC_BACKLOG);
            let once = usize::from(policy == Fsync::Everysec);
            assert_eq!(rings.load(Ordering::SeqCst), once, "{policy:?}");
            log.flush(true).unwrap();
            write(SYNC_BACKLOG);
            assert_eq!(rings.load(Ordering::SeqCst), 2 * once, "{policy:?}");
        }
    }

    /// The first segment of a fresh log after `write` recorded `records` records.
    fn first_segment(records: u64, write: impl FnOnce(&AppendLog)) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let log = AppendLog::new(dir.path(), Arc::new(RealDisk), Fsync::No, 1, 1);
        write(&log);
        log.flush(true).unwrap();
        assert_eq!(log.records(), records);
        std::fs::read(dir.path().join(segment_name(1))).unwrap()
    }
}
