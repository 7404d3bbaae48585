//! snapshot.db: a point-in-time image of every namespace, written in the
//! background without stopping writers (see the engine's partitions), then
//! swapped in atomically: temporary file, fsync, rename, fsync directory.

use super::codec::{DecodeError, EntryRef, FRAME_HEADER, Put, Reader, put_entry, put_name};
use super::disk::{Disk, DiskFile};
use crate::engine::{Engine, PartitionSink, SnapshotStart};
use crate::fsutil;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// First bytes of a snapshot file.
pub const MAGIC: &[u8; 8] = b"INMEMSNP";
/// The snapshot format version this build writes.
pub const VERSION: u32 = 1;
/// Bytes of the header.
pub const HEADER_LEN: usize = 48;
/// Frame length that marks the trailer instead of a chunk.
const TRAILER_MARK: u32 = u32::MAX;
/// Bytes of the trailer.
pub const TRAILER_LEN: usize = 24;
/// The snapshot's file name in the data directory.
pub const FILE_NAME: &str = "snapshot.db";

/// The moments between a snapshot's steps, where tests inject a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The next log segment exists, header fsynced, under its temporary name.
    SegmentPrepared,
    /// Writers write the next segment; the previous one is not yet fsynced.
    SegmentSwitched,
    /// The previous segment is fsynced and the next one named, durably.
    SegmentNamed,
    /// The temporary file is complete and fsynced.
    TempSynced,
    /// The temporary file was renamed over the target.
    Renamed,
    /// The directory was fsynced.
    DirSynced,
    /// The log segments the snapshot covers were deleted.
    LogTrimmed,
}

/// Called before each step completes; an error stops the snapshot there, as a crash would.
pub type StepHook = dyn Fn(Step) -> std::io::Result<()> + Send + Sync;

/// What a finished snapshot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// The log sequence number it covers.
    pub seq: u64,
    /// Keys written.
    pub keys: u64,
    /// File size in bytes.
    pub bytes: u64,
    /// Milliseconds from start to rename.
    pub millis: u64,
}

/// Serialized chunks waiting to be written, filled under the engine's lock.
#[derive(Default)]
struct Queue {
    /// Framed chunks whose checksum is still to be filled in.
    chunks: Vec<Vec<u8>>,
    entries: u64,
    /// Emptied buffers, reused so that serializing under the engine's lock
    /// neither allocates nor touches fresh pages.
    spare: Vec<Vec<u8>>,
}

/// Emptied chunk buffers kept for reuse.
const SPARE_BUFFERS: usize = 8;

/// Partitions the snapshot thread takes per hold of the engine's lock. Fewer,
/// still short, holds make it rarer that the thread is preempted while
/// holding the lock, which would stall every writer for a scheduler quantum;
/// a writer changing a taken partition copies it, so at most this many
/// partitions are copied at once.
const TAKE_AT_ONCE: usize = 16;

struct ChunkSink(Arc<Mutex<Queue>>);

impl PartitionSink for ChunkSink {
    /// Runs under the engine's lock when a writer hands over a partition, so
    /// it only copies: the frame's checksum is computed by the snapshot thread
    /// afterwards ([`seal`]). The snapshot thread runs it too, unlocked.
    fn dump(
        &mut self,
        namespace: &str,
        entries: &mut dyn Iterator<Item = (&[u8], crate::engine::EntryRef<'_>)>,
    ) {
        let mut chunk = {
            let mut queue = self.0.lock().unwrap_or_else(|p| p.into_inner());
            queue.spare.pop().unwrap_or_default()
        };
        chunk.clear();
        chunk.extend_from_slice(&[0; FRAME_HEADER]);
        put_name(&mut chunk, namespace);
        let count_at = chunk.len();
        chunk.put_u32(0);
        let mut count: u32 = 0;
        for (key, entry) in entries {
            put_entry(&mut chunk, key, entry);
            count += 1;
        }
        let mut queue = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if count == 0 {
            queue.spare.push(chunk);
            return;
        }
        chunk[count_at..count_at + 4].copy_from_slice(&count.to_le_bytes());
        let len = u32::try_from(chunk.len() - FRAME_HEADER).unwrap_or(u32::MAX);
        chunk[..4].copy_from_slice(&len.to_le_bytes());
        queue.entries += u64::from(count);
        queue.chunks.push(chunk);
    }
}

/// Fills in a chunk's payload checksum (outside the engine's lock).
fn seal(chunk: &mut [u8]) {
    let crc = crc32fast::hash(&chunk[FRAME_HEADER..]);
    chunk[4..FRAME_HEADER].copy_from_slice(&crc.to_le_bytes());
}

fn header(created_ms: u64, seq: u64, keys: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN);
    out.extend_from_slice(MAGIC);
    out.put_u32(VERSION);
    out.put_u32(0);
    out.put_u64(created_ms);
    out.put_u64(seq);
    out.put_u64(keys);
    let crc = crc32fast::hash(&out);
    out.put_u32(crc);
    out.put_u32(0);
    out
}

fn trailer(chunks: u64, entries: u64) -> Vec<u8> {
    let mut counts = Vec::with_capacity(16);
    counts.put_u64(chunks);
    counts.put_u64(entries);
    let mut out = Vec::with_capacity(TRAILER_LEN);
    out.put_u32(TRAILER_MARK);
    out.put_u32(crc32fast::hash(&counts));
    out.extend_from_slice(&counts);
    out
}

/// A snapshot file being written.
struct Output {
    file: Box<dyn DiskFile>,
    bytes: u64,
    chunks: u64,
}

impl Output {
    fn write(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.file
            .write_all(bytes)
            .map_err(|e| format!("cannot write snapshot: {e}"))?;
        self.bytes += bytes.len() as u64;
        Ok(())
    }

    fn drain(&mut self, queue: &Mutex<Queue>) -> Result<(), String> {
        let chunks = std::mem::take(&mut queue.lock().unwrap_or_else(|p| p.into_inner()).chunks);
        let mut done = Vec::with_capacity(chunks.len());
        for mut chunk in chunks {
            seal(&mut chunk);
            self.write(&chunk)?;
            self.chunks += 1;
            done.push(chunk);
        }
        let mut queue = queue.lock().unwrap_or_else(|p| p.into_inner());
        let room = SPARE_BUFFERS.saturating_sub(queue.spare.len());
        queue.spare.extend(done.into_iter().take(room));
        Ok(())
    }
}

/// Writes a snapshot of `engine` to `target` while writers keep going.
/// `after_rename` runs once the new file is in place (the caller trims the log there).
pub fn write(
    engine: &Engine,
    disk: &dyn Disk,
    target: &Path,
    hook: &StepHook,
    after_rename: &mut dyn FnMut(SnapshotStart) -> Result<(), String>,
) -> Result<Written, String> {
    let started = Instant::now();
    let queue = Arc::new(Mutex::new(Queue::default()));
    let start = engine
        .begin_snapshot(Box::new(ChunkSink(queue.clone())))
        .ok_or("a snapshot is already being written")?;
    let dir = parent_dir(target);
    let temp = temp_path(dir);
    let result = write_temp(engine, disk, &temp, start, &queue);
    engine.end_snapshot();
    let result = result.and_then(|output| {
        hook(Step::TempSynced).map_err(|e| e.to_string())?;
        std::fs::rename(&temp, target)
            .map_err(|e| format!("cannot rename snapshot into {}: {e}", target.display()))?;
        hook(Step::Renamed).map_err(|e| e.to_string())?;
        fsutil::sync_dir(dir).map_err(|e| format!("cannot sync {}: {e}", dir.display()))?;
        hook(Step::DirSynced).map_err(|e| e.to_string())?;
        after_rename(start)?;
        hook(Step::LogTrimmed).map_err(|e| e.to_string())?;
        Ok(output.bytes)
    });
    match result {
        Ok(bytes) => Ok(Written {
            seq: start.seq,
            keys: start.keys,
            bytes,
            millis: started.elapsed().as_millis() as u64,
        }),
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            Err(e)
        }
    }
}

fn write_temp(
    engine: &Engine,
    disk: &dyn Disk,
    temp: &Path,
    start: SnapshotStart,
    queue: &Arc<Mutex<Queue>>,
) -> Result<Output, String> {
    let file = disk
        .create(temp)
        .map_err(|e| format!("cannot create {}: {e}", temp.display()))?;
    let mut out = Output {
        file,
        bytes: 0,
        chunks: 0,
    };
    out.write(&header(engine.now(), start.seq, start.keys))?;
    // The engine's lock is held only to take partitions; they are serialized,
    // and the file written, with the lock released. This thread serializes
    // into a queue of its own: it locks the writers' queue only for the
    // moment it takes their chunks.
    let own = Arc::new(Mutex::new(Queue::default()));
    let mut sink = ChunkSink(own.clone());
    loop {
        let taken = engine.take_pending(TAKE_AT_ONCE);
        if taken.is_empty() {
            break;
        }
        for partition in taken {
            partition.dump_to(&mut sink);
            // Let go before writing, so writers stop copying it to change it.
            drop(partition);
            out.drain(&own)?;
        }
        out.drain(queue)?;
    }
    out.drain(queue)?;
    let entries = [&own, queue]
        .iter()
        .map(|q| q.lock().unwrap_or_else(|p| p.into_inner()).entries)
        .sum::<u64>();
    if entries != start.keys {
        return Err(format!(
            "snapshot holds {entries} keys but {} were expected",
            start.keys
        ));
    }
    let chunks = out.chunks;
    out.write(&trailer(chunks, entries))?;
    out.file
        .sync()
        .map_err(|e| format!("cannot fsync snapshot: {e}"))?;
    Ok(out)
}

/// Installs a validated snapshot file's content as `target`, relabelled to cover `seq`.
pub fn install(bytes: &[u8], seq: u64, disk: &dyn Disk, target: &Path) -> Result<(), String> {
    let old = read_header(bytes).map_err(|d| d.reason)?;
    let dir = parent_dir(target);
    let temp = temp_path(dir);
    let result = (|| {
        let file = disk.create(&temp)?;
        file.write_all(&header(old.created_ms, seq, old.keys))?;
        file.write_all(&bytes[HEADER_LEN..])?;
        file.sync()?;
        std::fs::rename(&temp, target)?;
        fsutil::sync_dir(dir)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        format!("cannot install snapshot {}: {e}", target.display())
    })
}

/// The directory holding `path`; "." for a bare file name, whose parent is
/// the empty path (which cannot be opened to fsync).
fn parent_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// A fresh temporary name in `dir`; leftovers of a crash are removed at start-up.
fn temp_path(dir: &Path) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    dir.join(format!(".snapshot-{}-{nanos}.tmp", std::process::id()))
}

/// True for names of temporary snapshot files.
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with(".snapshot-") && name.ends_with(".tmp")
}

/// A snapshot file's header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Format version.
    pub version: u32,
    /// When it was written, Unix milliseconds.
    pub created_ms: u64,
    /// The log sequence number it covers.
    pub seq: u64,
    /// Keys it holds.
    pub keys: u64,
}

/// Where a snapshot file is damaged, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// Byte offset of the damaged part.
    pub offset: u64,
    /// What is wrong.
    pub reason: String,
    /// Entries in the good chunks before it.
    pub good_entries: u64,
    /// Offset where the good chunks end.
    pub good_end: u64,
}

/// One decoded chunk: a namespace and its entries (key, value, deadline).
pub type Chunk<'a> = (String, Vec<EntryRef<'a>>);

/// Reads a whole snapshot file, calling `each` for every chunk in order.
pub fn read<'a>(bytes: &'a [u8], each: &mut dyn FnMut(Chunk<'a>)) -> Result<Header, Damage> {
    let header = read_header(bytes)?;
    let mut pos = HEADER_LEN;
    let mut chunks = 0u64;
    let mut entries = 0u64;
    let damage = |offset: usize, reason: String, entries: u64, good_end: usize| Damage {
        offset: offset as u64,
        reason,
        good_entries: entries,
        good_end: good_end as u64,
    };
    loop {
        let mut r = Reader::new(&bytes[pos..]);
        let (len, crc) = match (r.u32(), r.u32()) {
            (Ok(len), Ok(crc)) => (len, crc),
            _ => {
                return Err(damage(
                    pos,
                    "file ends before the trailer".into(),
                    entries,
                    pos,
                ));
            }
        };
        if len == TRAILER_MARK {
            let counts = r
                .take(16)
                .map_err(|_| damage(pos, "trailer is cut short".into(), entries, pos))?;
            if crc32fast::hash(counts) != crc {
                return Err(damage(
                    pos,
                    "trailer checksum mismatch".into(),
                    entries,
                    pos,
                ));
            }
            let mut c = Reader::new(counts);
            let (want_chunks, want_entries) = (c.u64().unwrap_or(0), c.u64().unwrap_or(0));
            if (want_chunks, want_entries) != (chunks, entries) || entries != header.keys {
                return Err(damage(
                    pos,
                    format!(
                        "trailer counts {want_chunks} chunks / {want_entries} keys, found {chunks} / {entries} (header says {})",
                        header.keys
                    ),
                    entries,
                    pos,
                ));
            }
            if !r.is_done() {
                return Err(damage(
                    pos + TRAILER_LEN,
                    "bytes after the trailer".into(),
                    entries,
                    pos,
                ));
            }
            return Ok(header);
        }
        let payload = r.take(len as usize).map_err(|_| {
            damage(
                pos,
                format!("chunk of {len} bytes is cut short"),
                entries,
                pos,
            )
        })?;
        if crc32fast::hash(payload) != crc {
            return Err(damage(pos, "chunk checksum mismatch".into(), entries, pos));
        }
        let chunk = decode_chunk(payload)
            .map_err(|e| damage(pos, format!("bad chunk: {e}"), entries, pos))?;
        entries += chunk.1.len() as u64;
        chunks += 1;
        each(chunk);
        pos += FRAME_HEADER + len as usize;
    }
}

fn decode_chunk(payload: &[u8]) -> Result<Chunk<'_>, DecodeError> {
    let mut r = Reader::new(payload);
    let namespace = r.name()?;
    let count = r.u32()?;
    let mut entries = Vec::with_capacity((count as usize).min(payload.len() / 16));
    for _ in 0..count {
        entries.push(super::codec::entry(&mut r)?);
    }
    if !r.is_done() {
        return Err(DecodeError("extra bytes after the entries".into()));
    }
    Ok((namespace, entries))
}

/// Reads and checks a snapshot header.
pub fn read_header(bytes: &[u8]) -> Result<Header, Damage> {
    let bad = |reason: String| Damage {
        offset: 0,
        reason,
        good_entries: 0,
        good_end: 0,
    };
    if bytes.len() < HEADER_LEN {
        return Err(bad(format!(
            "file is {} bytes, shorter than its header",
            bytes.len()
        )));
    }
    if &bytes[..8] != MAGIC {
        return Err(bad("not an inmem snapshot (bad magic bytes)".into()));
    }
    let mut r = Reader::new(&bytes[8..HEADER_LEN]);
    let read = |r: &mut Reader<'_>| -> Result<(u32, u64, u64, u64, u32), DecodeError> {
        let version = r.u32()?;
        r.u32()?;
        Ok((version, r.u64()?, r.u64()?, r.u64()?, r.u32()?))
    };
    let (version, created_ms, seq, keys, crc) = read(&mut r).map_err(|e| bad(e.0))?;
    if version != VERSION {
        return Err(bad(format!(
            "format version {version} is not supported (this build reads version {VERSION})"
        )));
    }
    if crc32fast::hash(&bytes[..40]) != crc {
        return Err(bad("header checksum mismatch".into()));
    }
    Ok(Header {
        version,
        created_ms,
        seq,
        keys,
    })
}

/// A snapshot holding no keys that covers log records up to `seq` (for `repair`).
pub fn empty(created_ms: u64, seq: u64) -> Vec<u8> {
    let mut out = header(created_ms, seq, 0);
    out.extend_from_slice(&trailer(0, 0));
    out
}

/// Rewrites a damaged snapshot keeping only its good chunks (for `repair`).
pub fn rewrite_good_part(bytes: &[u8], damage: &Damage, path: &Path) -> std::io::Result<()> {
    let header = read_header(bytes).map_err(|d| std::io::Error::other(d.reason))?;
    let good = &bytes[HEADER_LEN..damage.good_end as usize];
    let chunks = {
        let mut n = 0;
        read_chunk_count(good, &mut n);
        n
    };
    let mut out = self::header(header.created_ms, header.seq, damage.good_entries);
    out.extend_from_slice(good);
    out.extend_from_slice(&trailer(chunks, damage.good_entries));
    fsutil::write_atomic(path, &out)
}

fn read_chunk_count(mut bytes: &[u8], count: &mut u64) {
    while bytes.len() >= FRAME_HEADER {
        let len = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
        let end = FRAME_HEADER + len;
        if end > bytes.len() {
            return;
        }
        *count += 1;
        bytes = &bytes[end..];
    }
}
