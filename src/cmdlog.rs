//! The command log: one line per executed statement in `command.log` in the
//! data directory, and the process's stderr diagnostics.
//!
//! A line looks like
//!
//! ```text
//! 2026-11-22T05:20:31.123Z ns=0 ok 12us put session:1 <value hidden> 3600
//! ```
//!
//! — an RFC 3339 UTC timestamp with milliseconds, the namespace, `ok` or
//! `err: <message>` (the message rendered as a word, so it stays on one line),
//! the run time in microseconds, and the statement's words as the command
//! language would quote them, so a line can be pasted back. Values are secret
//! by default and replaced by `<value hidden>` (or `<statements hidden>` for
//! `batch -c`) unless [`LogSettings::log_values`] is set.
//!
//! [`CommandLog::record`] never touches the file: it records the line's parts
//! in a compact form (hidden words left out) and hands them, in batches, to a
//! `tracing_appender::non_blocking` worker thread, which formats the lines and writes them to a
//! size-capped [`Rotating`] file (`command.log`, `command.log.1`, … up to
//! [`LogSettings::keep`]). A thread with time to spare (the server's, before
//! it sleeps) formats and writes the batch itself instead
//! ([`CommandLog::write_here`]). [`CommandLog::flush`] waits until every line recorded
//! before it has been written, by counting lines in and out (see [`Progress`]).

use crate::command::grammar;
use crate::command::redis;
use crate::command::spec;
use crate::persist::codec::{DecodeError, Put, Reader};
use chrono::{DateTime, SecondsFormat, Utc};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tracing_appender::non_blocking::{NonBlocking, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::filter::LevelFilter;

/// The command log's file name inside the data directory.
pub const FILE_NAME: &str = "command.log";

/// What replaces a value argument when values are not logged.
const VALUE_HIDDEN: &str = "<value hidden>";

/// What replaces the statements of `batch -c` when values are not logged.
const STATEMENTS_HIDDEN: &str = "<statements hidden>";

/// Shown instead of a Redis command's arguments other than its keys.
const ARGUMENTS_HIDDEN: &str = "<arguments hidden>";

/// Settings for the command log.
#[derive(Debug, Clone)]
pub struct LogSettings {
    /// Write values (`put`'s value, `batch -c` statements, `find -v` patterns)
    /// instead of hiding them; they may be secrets.
    pub log_values: bool,
    /// Rotate when a line would push `command.log` past this many bytes.
    pub max_bytes: u64,
    /// Rotated files kept: `command.log.1` (newest) .. `command.log.N`.
    pub keep: usize,
}

impl Default for LogSettings {
    /// Values hidden, 16 MiB per file, three rotated files.
    fn default() -> Self {
        LogSettings {
            log_values: false,
            max_bytes: 16 * 1024 * 1024,
            keep: 3,
        }
    }
}

/// The command log of one open database. Cheap to share (`&self` methods;
/// `Send + Sync`). Dropping it writes out every line recorded.
pub struct CommandLog {
    writer: NonBlocking,
    /// The writer thread's sink, shared so that [`CommandLog::write_here`]
    /// can write through it too.
    sink: Arc<Mutex<Sink>>,
    /// Batches handed to the writer thread and not yet through the sink.
    queued: Arc<AtomicU64>,
    progress: Arc<Progress>,
    /// Lines formatted but not yet handed to the writer, and how many.
    batch: Mutex<Lines>,
    log_values: bool,
    /// Stops the worker thread when dropped, after [`Drop`] has flushed.
    _guard: WorkerGuard,
}

/// Command-log lines recorded but not yet handed to the writer, and how
/// many. A line is kept as a compact record ([`encode_head`]) that the
/// writer thread formats ([`LineFormat`]), so the statement's own thread only
/// copies its words. The log keeps one shared batch; script mode records a
/// run of statements' lines into its own ([`CommandLog::lines`]) and hands
/// them over in one go ([`CommandLog::append`]), taking the shared batch's
/// lock once.
#[derive(Debug, Default)]
pub struct Lines {
    /// Encoded lines; the buffer is reused from batch to batch.
    records: Vec<u8>,
    lines: u64,
    last_named: LastNamed,
    wall: WallClock,
    /// The last wall-clock millisecond worked out, and the instants it
    /// spans: the lines of statements that finish within it share it.
    last_ms: Option<(Range<Instant>, u64)>,
    log_values: bool,
}

impl Lines {
    /// Records the line of one statement (see [`CommandLog::record_at`]
    /// for the arguments).
    pub fn push<W: AsRef<[u8]>>(
        &mut self,
        namespace: &str,
        words: &[W],
        outcome: Result<(), &str>,
        elapsed: Duration,
        finished: Instant,
    ) {
        let hidden = self.hidden(words);
        let line = Line {
            unix_ms: self.unix_ms(finished),
            elapsed_us: u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            namespace: namespace.as_bytes(),
            error: outcome.err().map(str::as_bytes),
        };
        encode_head(&mut self.records, &line);
        encode_words(&mut self.records, words, hidden);
        self.lines += 1;
    }

    /// Records the lines of statements that all succeeded, took `elapsed`
    /// each and finished at `finished` (a run of puts): what [`Lines::push`]
    /// of each records, with the part of a line they share encoded once.
    pub fn push_all<W: AsRef<[u8]>>(
        &mut self,
        namespace: &str,
        statements: &[[W; 3]],
        elapsed: Duration,
        finished: Instant,
    ) {
        let line = Line {
            unix_ms: self.unix_ms(finished),
            elapsed_us: u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            namespace: namespace.as_bytes(),
            error: None,
        };
        let start = self.records.len();
        encode_head(&mut self.records, &line);
        let head = start..self.records.len();
        for (i, words) in statements.iter().enumerate() {
            if i > 0 {
                self.records.extend_from_within(head.clone());
            }
            let hidden = self.hidden(words);
            encode_words(&mut self.records, words, hidden);
        }
        self.lines += statements.len() as u64;
    }

    /// Which of a statement's words the line hides.
    fn hidden<W: AsRef<[u8]>>(&mut self, words: &[W]) -> Option<Hide> {
        if self.log_values {
            None
        } else {
            self.last_named.hidden(words)
        }
    }

    /// The wall-clock milliseconds of `finished` (lines of a run of
    /// statements share one reading).
    fn unix_ms(&mut self, finished: Instant) -> u64 {
        match &self.last_ms {
            Some((during, ms)) if during.contains(&finished) => *ms,
            _ => {
                let wall = self.wall.at(finished);
                let ms = u64::try_from(wall.as_millis()).unwrap_or(u64::MAX);
                // The instants of the same millisecond, worked out once, so
                // the lines after this one compare instants rather than
                // convert each.
                let into_ms = Duration::from_nanos(u64::from(wall.subsec_nanos() % 1_000_000));
                let during = finished
                    .checked_sub(into_ms)
                    .and_then(|from| Some(from..from.checked_add(Duration::from_millis(1))?))
                    .unwrap_or(finished..finished);
                self.last_ms = Some((during, ms));
                ms
            }
        }
    }

    /// Bytes recorded and not yet handed over.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True when no line is waiting.
    pub fn is_empty(&self) -> bool {
        self.lines == 0
    }

    /// Forgets the lines handed over. Once the system clock's reading is
    /// [`WALL_REREAD`] old, the next line reads it afresh, so a clock that
    /// was set meanwhile shows within about that long; until then batches
    /// share the reading.
    fn clear(&mut self) {
        self.records.clear();
        self.lines = 0;
        let latest = self.last_ms.as_ref().map(|(during, _)| during.start);
        if latest.is_none_or(|latest| self.wall.older_than(latest, WALL_REREAD)) {
            self.wall = WallClock::default();
            self.last_ms = None;
        }
    }
}

/// How long batches of lines share one reading of the system clock.
const WALL_REREAD: Duration = Duration::from_secs(1);

/// Wall-clock time of monotonic instants, from one reading of both clocks.
#[derive(Debug, Default)]
struct WallClock {
    /// An instant and the time since the Unix epoch at that instant.
    base: Option<(Instant, Duration)>,
}

impl WallClock {
    /// The time since the Unix epoch at `at` (read from the system clock
    /// the first time).
    fn at(&mut self, at: Instant) -> Duration {
        let (instant, wall) = *self.base.get_or_insert_with(|| {
            let wall = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            (Instant::now(), wall)
        });
        match at.checked_duration_since(instant) {
            Some(after) => wall.saturating_add(after),
            None => wall.saturating_sub(instant.saturating_duration_since(at)),
        }
    }

    /// True when the clocks were read more than `age` before `at` (or not yet).
    fn older_than(&self, at: Instant, age: Duration) -> bool {
        self.base
            .is_none_or(|(instant, _)| at.saturating_duration_since(instant) > age)
    }
}

impl std::fmt::Debug for CommandLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandLog")
            .field("log_values", &self.log_values)
            .finish_non_exhaustive()
    }
}

impl CommandLog {
    /// Opens (appending) `dir/command.log` with a background writer thread.
    /// The directory must exist and be writable.
    pub fn open(dir: &Path, settings: LogSettings) -> io::Result<CommandLog> {
        let file = Rotating::open(dir, settings.max_bytes, settings.keep)?;
        let progress = Arc::new(Progress::default());
        let sink = Arc::new(Mutex::new(Sink {
            file,
            progress: progress.clone(),
            failing: false,
            unflushed: 0,
            format: LineFormat::default(),
            text: Vec::new(),
            records: Vec::new(),
            #[cfg(test)]
            panic_on_write: false,
        }));
        let queued = Arc::new(AtomicU64::new(0));
        let worker = WorkerSink {
            sink: sink.clone(),
            queued: queued.clone(),
        };
        let (writer, guard) = NonBlockingBuilder::default()
            .lossy(false)
            .thread_name("inmem-cmdlog")
            .finish(worker);
        Ok(CommandLog {
            writer,
            sink,
            queued,
            progress,
            batch: Mutex::new(Lines {
                log_values: settings.log_values,
                ..Lines::default()
            }),
            log_values: settings.log_values,
            _guard: guard,
        })
    }

    /// Logs one executed statement. `words` are the statement's words after
    /// alias expansion (first = command word); `outcome` is `Ok(())` or
    /// `Err(message)`; `elapsed` its run time. Does no file I/O: the line goes
    /// to the background writer (it waits only when that writer is 128,000
    /// lines behind).
    pub fn record<W: AsRef<[u8]>>(
        &self,
        namespace: &str,
        words: &[W],
        outcome: Result<(), &str>,
        elapsed: Duration,
    ) {
        self.record_at(namespace, words, outcome, elapsed, Instant::now());
    }

    /// [`CommandLog::record`] for a statement that finished at `finished`,
    /// which the caller has just read: the line's wall-clock time is worked
    /// out from it, against a reading of the system clock taken once per
    /// batch, instead of reading the clock again for every line.
    pub fn record_at<W: AsRef<[u8]>>(
        &self,
        namespace: &str,
        words: &[W],
        outcome: Result<(), &str>,
        elapsed: Duration,
        finished: Instant,
    ) {
        // Lines go to the writer in batches: one message per line costs a
        // channel wake-up each, which dominated the cost of a statement.
        let mut batch = self.lock();
        batch.push(namespace, words, outcome, elapsed, finished);
        if batch.len() >= BATCH_BYTES {
            self.send(&mut batch);
        }
    }

    /// A formatter for lines to hand over later with [`CommandLog::append`].
    pub fn lines(&self) -> Lines {
        Lines {
            log_values: self.log_values,
            ..Lines::default()
        }
    }

    /// Hands over the lines formatted into `lines`, emptying it: from now on
    /// they count as recorded, in their order, after every line recorded
    /// before.
    pub fn append(&self, lines: &mut Lines) {
        if lines.is_empty() {
            return;
        }
        let mut batch = self.lock();
        if batch.is_empty() {
            // Nothing waits in the shared batch: take the buffer as it is.
            std::mem::swap(&mut batch.records, &mut lines.records);
        } else {
            batch.records.extend_from_slice(&lines.records);
        }
        batch.lines += lines.lines;
        lines.clear();
        if batch.len() >= BATCH_BYTES {
            self.send(&mut batch);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Lines> {
        self.batch.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Hands the batched lines to the background writer without waiting
    /// (the database calls this every second, so lines never linger).
    pub fn send_pending(&self) {
        self.send(&mut self.lock());
    }

    fn send(&self, batch: &mut Lines) {
        if batch.is_empty() {
            return;
        }
        let lines = batch.lines;
        // Count the lines before sending them, so that `flush` never returns
        // while a line recorded before it is still queued (see `Progress`).
        self.progress.sent.fetch_add(lines, Ordering::SeqCst);
        self.queued.fetch_add(1, Ordering::SeqCst);
        // One `write` on `NonBlocking` is one message, handed to `Sink::write`
        // whole: whole records, never split.
        let sent = self.writer.clone().write_all(&batch.records);
        batch.clear();
        if sent.is_err() {
            // The worker is gone; nothing will count these lines out.
            self.queued.fetch_sub(1, Ordering::SeqCst);
            self.progress.done_many(lines);
        }
    }

    /// Formats the batched lines and writes them to the file on the calling
    /// thread, when at least [`HERE_BYTES`] are batched and the writer thread
    /// has nothing queued (so lines stay in order); returns whether it did.
    /// The server calls it whenever its event loop is about to sleep, so its
    /// lines reach the file without a hand-over to the writer thread: no
    /// wake-up, and no thread competing with the clients for the cores.
    pub fn write_here(&self) -> bool {
        let mut batch = self.lock();
        // Sending takes the batch's lock, so nothing is queued meanwhile.
        if batch.len() < HERE_BYTES || self.queued.load(Ordering::SeqCst) > 0 {
            return false;
        }
        // Busy (the writer thread is writing or rotating the file): not now,
        // rather than keep the caller waiting.
        let Ok(mut sink) = self.sink.try_lock() else {
            return false;
        };
        // The sink's lock is taken before the batch's is let go: a batch sent
        // after this one waits for it at the sink.
        let mut records = std::mem::take(&mut sink.records);
        std::mem::swap(&mut records, &mut batch.records);
        self.progress.sent.fetch_add(batch.lines, Ordering::SeqCst);
        batch.clear();
        drop(batch);
        // Counted in above, these lines are counted out by `flush_lines`;
        // should formatting them panic instead, `flush` must not wait for
        // them for ever (the worker thread's sink closes it the same way).
        let _close_on_panic = CloseOnPanic(&self.progress);
        let _ = sink.write(&records);
        sink.flush_lines();
        records.clear();
        sink.records = records;
        true
    }

    /// Writes out everything recorded so far: when it returns, every line
    /// whose `record` returned before this call is in the file (written to
    /// the operating system, not fsynced).
    pub fn flush(&self) {
        self.send_pending();
        let target = self.progress.sent.load(Ordering::SeqCst);
        self.progress.wait_for(target);
    }
}

impl Drop for CommandLog {
    fn drop(&mut self) {
        // The guard's own drop waits at most about a second for the worker;
        // flushing first makes the tail certain, then the guard stops an idle
        // worker.
        self.flush();
    }
}

/// Lines counted in by `record` and out by the worker.
///
/// `flush` reads `sent` (N) and waits until N lines have been written. That
/// covers every line recorded before it: the channel is first-in first-out,
/// and each line is counted before it is sent, so every line queued ahead of
/// one recorded before `flush` was counted in N too — N lines written must
/// include it. `closed` is set when the worker drops its sink (it stopped or
/// panicked), so `flush` cannot wait forever on a dead worker.
#[derive(Debug, Default)]
struct Progress {
    sent: AtomicU64,
    state: Mutex<Written>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct Written {
    lines: u64,
    closed: bool,
}

impl Progress {
    fn lock(&self) -> MutexGuard<'_, Written> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One more line is written (or given up on).
    fn done_many(&self, lines: u64) {
        if lines > 0 {
            self.lock().lines += lines;
            self.changed.notify_all();
        }
    }

    fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }

    /// Waits until `target` lines are written or the worker is gone.
    fn wait_for(&self, target: u64) {
        let state = self.lock();
        let _state = self
            .changed
            .wait_while(state, |w| w.lines < target && !w.closed)
            .unwrap_or_else(|p| p.into_inner());
    }
}

/// Closes [`Progress`] if dropped while its thread panics.
struct CloseOnPanic<'a>(&'a Progress);

impl Drop for CloseOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.close();
        }
    }
}

/// What the worker thread writes to: the shared sink, counting batches out.
struct WorkerSink {
    sink: Arc<Mutex<Sink>>,
    queued: Arc<AtomicU64>,
}

impl Write for WorkerSink {
    fn write(&mut self, records: &[u8]) -> io::Result<usize> {
        let mut sink = lock_sink(&self.sink);
        let written = sink.write(records);
        // Counted out only once through the sink (see `write_here`).
        self.queued.fetch_sub(1, Ordering::SeqCst);
        written
    }

    fn flush(&mut self) -> io::Result<()> {
        lock_sink(&self.sink).flush()
    }
}

impl Drop for WorkerSink {
    /// The worker stopped (or panicked): what it buffered is written, and
    /// `flush` no longer waits for it.
    fn drop(&mut self) {
        let mut sink = lock_sink(&self.sink);
        sink.flush_lines();
        sink.progress.close();
        // Nothing more comes through the worker: `write_here` may go on.
        self.queued.store(0, Ordering::SeqCst);
    }
}

fn lock_sink(sink: &Mutex<Sink>) -> MutexGuard<'_, Sink> {
    sink.lock().unwrap_or_else(|p| p.into_inner())
}

/// Where lines are formatted and written: the rotating file, counting lines
/// out.
struct Sink {
    file: Rotating,
    progress: Arc<Progress>,
    /// Whether the last write failed, so a failure is reported once, not per line.
    failing: bool,
    /// Lines buffered but not yet written to the file.
    unflushed: u64,
    /// Formats the records of each message into `text`.
    format: LineFormat,
    text: Vec<u8>,
    /// A spare record buffer, swapped with the batch's by `write_here`.
    records: Vec<u8>,
    /// Makes `write` panic, standing for a bug in formatting (tests only).
    #[cfg(test)]
    panic_on_write: bool,
}

/// Formatted lines gathered before they are handed to the writer thread.
/// Kept small: each hand-over copies the batch into a buffer that the
/// writer thread frees, and with 64 KiB batches a load of 1M puts kept about
/// 8 more resident bytes per key afterwards (allocator fragmentation on the
/// thread storing the entries), for no gain in load time.
const BATCH_BYTES: usize = 16 << 10;

/// Batched bytes below which [`CommandLog::write_here`] leaves the lines to
/// gather (one `write` per about a hundred lines).
const HERE_BYTES: usize = 4 << 10;

/// Buffered bytes that trigger a write even while more lines are queued.
const SINK_BUFFER: usize = 64 << 10;

impl Sink {
    /// Writes the buffered lines (the worker calls `flush` whenever its queue
    /// runs dry, so lines reach the file in batches rather than one syscall each).
    fn flush_lines(&mut self) {
        let result = self.file.flush_buf();
        self.report(result);
        self.progress.done_many(std::mem::take(&mut self.unflushed));
    }

    fn report(&mut self, result: io::Result<()>) {
        match result {
            Ok(()) if self.failing => {
                self.failing = false;
                tracing::warn!(path = %self.file.path(0).display(), "command log is written again");
            }
            Ok(()) => {}
            Err(e) if !self.failing => {
                self.failing = true;
                tracing::warn!(
                    path = %self.file.path(0).display(),
                    error = %e,
                    "cannot write the command log; lines are dropped until it works again"
                );
            }
            Err(_) => {}
        }
    }
}

impl Write for Sink {
    /// Formats a batch of records into lines and buffers them. A failure is
    /// reported on diagnostics and the lines dropped; the worker is told it
    /// succeeded, so it carries on.
    fn write(&mut self, records: &[u8]) -> io::Result<usize> {
        #[cfg(test)]
        assert!(!self.panic_on_write, "a sink told to panic");
        let mut text = std::mem::take(&mut self.text);
        text.clear();
        self.format.format_all(records, &mut text);
        self.write_lines(&text);
        // Kept for the next batch, unless one huge batch left it huge.
        text.shrink_to(SINK_BUFFER * 2);
        self.text = text;
        Ok(records.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_lines();
        Ok(())
    }
}

impl Sink {
    /// Buffers whole lines (writing them when enough are buffered).
    fn write_lines(&mut self, lines: &[u8]) {
        // A batch that fits the current file goes in whole; only one that
        // crosses the size cap is split, so rotation still falls between lines.
        if self.file.fits(lines.len()) {
            if self.file.buffered() == 0 && lines.len() >= SINK_BUFFER {
                // A full batch: written as it is rather than copied first.
                let result = self.file.write_lines(lines);
                self.report(result);
                self.progress.done_many(count_lines(lines));
                return;
            }
            let result = self.file.buffer_line(lines);
            self.report(result);
            self.unflushed += count_lines(lines);
            if self.file.buffered() >= SINK_BUFFER {
                self.flush_lines();
            }
            return;
        }
        for line in lines.split_inclusive(|&b| b == b'\n') {
            let result = self.file.buffer_line(line);
            self.report(result);
            self.unflushed += 1;
            if self.file.buffered() >= SINK_BUFFER {
                self.flush_lines();
            }
        }
    }
}

/// How many newlines `bytes` holds.
fn count_lines(bytes: &[u8]) -> u64 {
    // Counted in u8 lanes, block by block (a block's count fits a u8), which
    // the compiler turns into wide vector adds.
    bytes
        .chunks(usize::from(u8::MAX))
        .map(|block| {
            let newlines = block
                .iter()
                .fold(0u8, |n, &b| n.wrapping_add(u8::from(b == b'\n')));
            u64::from(newlines)
        })
        .sum()
}

/// `command.log` capped at `max_bytes`, rotated to `command.log.1` ..
/// `command.log.<keep>`. Each `buffer_line` is one line; a line is never split
/// across files, and one longer than `max_bytes` goes alone into a fresh file.
#[derive(Debug)]
struct Rotating {
    dir: PathBuf,
    max_bytes: u64,
    keep: usize,
    file: File,
    /// Bytes in `command.log`, buffered ones included.
    size: u64,
    /// Whole lines not yet written.
    buf: Vec<u8>,
}

impl Rotating {
    fn open(dir: &Path, max_bytes: u64, keep: usize) -> io::Result<Rotating> {
        let path = dir.join(FILE_NAME);
        let file = open_append(&path)?;
        let size = file.metadata()?.len();
        Ok(Rotating {
            dir: dir.to_path_buf(),
            max_bytes,
            keep,
            file,
            size,
            buf: Vec::new(),
        })
    }

    /// `command.log` for 0, else `command.log.<n>`.
    fn path(&self, n: usize) -> PathBuf {
        if n == 0 {
            self.dir.join(FILE_NAME)
        } else {
            self.dir.join(format!("{FILE_NAME}.{n}"))
        }
    }

    /// True when `len` more bytes keep `command.log` within `max_bytes`
    /// (and, being whole lines, need no rotation).
    fn fits(&self, len: usize) -> bool {
        self.size.saturating_add(len as u64) <= self.max_bytes
    }

    /// Adds one line, rotating first (after writing what is buffered) when it
    /// would push the file past `max_bytes`.
    fn buffer_line(&mut self, line: &[u8]) -> io::Result<()> {
        let len = line.len() as u64;
        if self.size > 0 && self.size.saturating_add(len) > self.max_bytes {
            self.flush_buf()?;
            self.rotate()?;
        }
        self.buf.extend_from_slice(line);
        self.size += len;
        Ok(())
    }

    /// Writes whole lines that fit the file (see [`Rotating::fits`]) while
    /// nothing is buffered; on failure they are dropped.
    fn write_lines(&mut self, lines: &[u8]) -> io::Result<()> {
        self.file.write_all(lines)?;
        self.size += lines.len() as u64;
        Ok(())
    }

    /// Bytes waiting to be written.
    fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Writes the buffered lines; on failure they are dropped (and reported by the caller).
    fn flush_buf(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let result = self.file.write_all(&self.buf);
        if result.is_err() {
            // The dropped lines never reached the file, so they do not count.
            self.size = self.size.saturating_sub(self.buf.len() as u64);
        }
        self.buf.clear();
        self.buf.shrink_to(SINK_BUFFER * 2);
        result
    }

    /// Shifts `.k` to `.k+1` (dropping the oldest), `command.log` to `.1`, and
    /// starts an empty `command.log`. On failure the current file is kept, and
    /// the next line tries again.
    fn rotate(&mut self) -> io::Result<()> {
        if self.keep == 0 {
            remove_if_present(&self.path(0))?;
        } else {
            remove_if_present(&self.path(self.keep))?;
            for k in (1..self.keep).rev() {
                rename_if_present(&self.path(k), &self.path(k + 1))?;
            }
            std::fs::rename(self.path(0), self.path(1))?;
        }
        self.file = open_append(&self.path(0))?;
        self.size = self.file.metadata()?.len();
        tracing::debug!(path = %self.path(0).display(), "command log rotated");
        Ok(())
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn rename_if_present(from: &Path, to: &Path) -> io::Result<()> {
    match std::fs::rename(from, to) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// What a command-log line says about a statement, besides its words.
struct Line<'a> {
    /// When it finished, in milliseconds since the Unix epoch.
    unix_ms: u64,
    /// Its run time in microseconds.
    elapsed_us: u64,
    namespace: &'a [u8],
    /// Its error message, if it failed.
    error: Option<&'a [u8]>,
}

/// Tags of a record's words: a word as written, a marker standing for hidden
/// ones (its index in [`MARKERS`] follows), and the end of the words.
const WORD: u8 = 0;
const MARKER: u8 = 1;
const END: u8 = 2;
/// What stands for hidden words; the index is what a record stores.
const MARKERS: [&str; 3] = [VALUE_HIDDEN, STATEMENTS_HIDDEN, ARGUMENTS_HIDDEN];
const VALUE_MARKER: u8 = 0;
const STATEMENTS_MARKER: u8 = 1;
const ARGUMENTS_MARKER: u8 = 2;

/// Appends the start of the record of one line to `out`, with the log's
/// field encoding ([`Put`]): `unix_ms` and `elapsed_us`, the namespace, the
/// error (a flag byte, then its bytes). [`encode_words`] appends the rest.
fn encode_head(out: &mut Vec<u8>, line: &Line<'_>) {
    out.put_u64(line.unix_ms);
    out.put_u64(line.elapsed_us);
    out.put_bytes(line.namespace);
    match line.error {
        None => out.push(0),
        Some(message) => {
            out.push(1);
            out.put_bytes(message);
        }
    }
}

/// Appends the rest of a line's record (see [`encode_head`]): the words as
/// shown, each a tag ([`WORD`] and its bytes, or [`MARKER`] and a marker's
/// index), and [`END`]. Hidden words are never copied.
fn encode_words<W: AsRef<[u8]>>(out: &mut Vec<u8>, words: &[W], hidden: Option<Hide>) {
    if let ([command, key, _], Some(Hide::Value(2))) = (words, hidden) {
        // A put with its value hidden, the commonest line: what the walk
        // below writes for it, without the walk.
        out.push(WORD);
        out.put_bytes(command.as_ref());
        out.push(WORD);
        out.put_bytes(key.as_ref());
        out.extend_from_slice(&[MARKER, VALUE_MARKER, END]);
        return;
    }
    each_shown(words, hidden, |shown| match shown {
        Shown::Word(word) => {
            out.push(WORD);
            out.put_bytes(word);
        }
        Shown::Marker(index) => out.extend_from_slice(&[MARKER, index]),
    });
    out.push(END);
}

/// A word of a logged statement as the log shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shown<'a> {
    /// The word itself (quoted as the command language would).
    Word(&'a [u8]),
    /// The marker at this index of [`MARKERS`] in place of hidden words.
    Marker(u8),
}

/// Calls `f` with each word as logged, in order: the `hidden` ones replaced
/// by markers (a value by its own; the rest of a statement by one marker).
fn each_shown<'a, W: AsRef<[u8]>>(
    words: &'a [W],
    hidden: Option<Hide>,
    mut f: impl FnMut(Shown<'a>),
) {
    let mut marked_rest = false;
    for (i, word) in words.iter().enumerate() {
        // The marker for this word, and whether it stands for the rest.
        let marker = match hidden {
            Some(Hide::Value(at)) if at == i => Some((VALUE_MARKER, false)),
            Some(Hide::Statements(from)) if i >= from => Some((STATEMENTS_MARKER, true)),
            Some(Hide::AllButKeys(keys)) if i > 0 && !keys.holds(i, words.len()) => {
                Some((ARGUMENTS_MARKER, true))
            }
            _ => None,
        };
        match marker {
            Some((_, true)) if marked_rest => {}
            Some((index, rest)) => {
                marked_rest |= rest;
                f(Shown::Marker(index));
            }
            None => f(Shown::Word(word.as_ref())),
        }
    }
}

/// Formats records into lines, on the writer thread, reusing the timestamp
/// and line start of the previous line when they are the same.
#[derive(Debug, Default)]
struct LineFormat {
    /// The millisecond `prefix` was formatted for, and its namespace.
    prefix_ms: Option<u64>,
    prefix_namespace: Vec<u8>,
    /// The timestamp and namespace that start a line.
    prefix: Vec<u8>,
}

impl LineFormat {
    /// Appends the lines of every whole record in `records` to `out`.
    fn format_all(&mut self, records: &[u8], out: &mut Vec<u8>) {
        let mut reader = Reader::new(records);
        while !reader.is_done() {
            let start = out.len();
            if self.format_one(&mut reader, out).is_err() {
                // Records are made here; a cut-short one is dropped whole.
                out.truncate(start);
                break;
            }
        }
    }

    /// Appends the line of the next record.
    fn format_one(
        &mut self,
        reader: &mut Reader<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), DecodeError> {
        let unix_ms = reader.u64()?;
        let elapsed_us = reader.u64()?;
        let namespace = reader.bytes()?;
        let error = match reader.u8()? {
            0 => None,
            _ => Some(reader.bytes()?),
        };
        if self.prefix_ms != Some(unix_ms) || self.prefix_namespace != namespace {
            self.set_prefix(unix_ms, namespace);
        }
        out.extend_from_slice(&self.prefix);
        match error {
            None => out.extend_from_slice(b" ok "),
            Some(message) => {
                out.extend_from_slice(b" err: ");
                push_word(out, message);
                out.push(b' ');
            }
        }
        push_decimal(out, u128::from(elapsed_us));
        out.extend_from_slice(b"us");
        loop {
            match reader.u8()? {
                END => break,
                WORD => {
                    out.push(b' ');
                    push_word(out, reader.bytes()?);
                }
                _ => {
                    let marker = MARKERS.get(usize::from(reader.u8()?)).copied();
                    out.push(b' ');
                    out.extend_from_slice(marker.unwrap_or("<?>").as_bytes());
                }
            }
        }
        out.push(b'\n');
        Ok(())
    }

    /// Formats the timestamp of `unix_ms` (RFC 3339, UTC, milliseconds) and
    /// the namespace into the line start.
    fn set_prefix(&mut self, unix_ms: u64, namespace: &[u8]) {
        let at = DateTime::<Utc>::UNIX_EPOCH + Duration::from_millis(unix_ms);
        self.prefix.clear();
        self.prefix
            .extend_from_slice(at.to_rfc3339_opts(SecondsFormat::Millis, true).as_bytes());
        self.prefix.extend_from_slice(b" ns=");
        push_word(&mut self.prefix, namespace);
        self.prefix_ms = Some(unix_ms);
        self.prefix_namespace.clear();
        self.prefix_namespace.extend_from_slice(namespace);
    }
}

/// Appends a word as the command language would quote it.
fn push_word(out: &mut Vec<u8>, word: &[u8]) {
    if grammar::is_safe_bare_ascii(word) {
        out.extend_from_slice(word);
    } else {
        out.extend_from_slice(grammar::quote_word(word).as_bytes());
    }
}

/// Appends `n` in decimal (without `fmt`'s machinery: one per line adds up).
fn push_decimal(out: &mut Vec<u8>, mut n: u128) {
    if n < 10 {
        // Most statements take under 10 µs.
        out.push(b'0' + n as u8);
        return;
    }
    let mut digits = [0u8; 40];
    let mut at = digits.len();
    // 128-bit division is slow, and run times fit 64 bits for half a
    // million years: only the digits beyond those take it.
    while u64::try_from(n).is_err() {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    let mut n = u64::try_from(n).unwrap_or_default();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // Mostly one or two digits: pushed one by one rather than with a call
    // to copy them.
    for &digit in &digits[at..] {
        out.push(digit);
    }
}

/// Where a Redis command's key arguments are (its table's first, last and step).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct KeyPositions {
    first: i32,
    last: i32,
    step: i32,
}

impl KeyPositions {
    /// True when word `i` of a `len`-word command is a key.
    fn holds(self, i: usize, len: usize) -> bool {
        let (Ok(i), Ok(len)) = (i32::try_from(i), i32::try_from(len)) else {
            return false;
        };
        let last = if self.last < 0 {
            len + self.last
        } else {
            self.last
        };
        self.first > 0
            && self.step > 0
            && i >= self.first
            && i <= last
            && (i - self.first) % self.step == 0
    }
}

/// Which words of a statement may hold a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hide {
    /// The word at this index.
    Value(usize),
    /// Every word from this index on, shown as one marker.
    Statements(usize),
    /// A Redis command: every argument but its keys, shown as one marker.
    AllButKeys(KeyPositions),
}

/// The command a statement's first word names.
#[derive(Debug, Clone, Copy)]
enum Named {
    Inmem(&'static spec::Spec),
    Redis(&'static redis::RedisSpec),
    Nothing,
}

impl Named {
    fn of(word: &[u8]) -> Named {
        let Ok(name) = std::str::from_utf8(word) else {
            return Named::Nothing;
        };
        match spec::lookup(name) {
            Some(spec) => Named::Inmem(spec),
            None => redis::lookup(word).map_or(Named::Nothing, Named::Redis),
        }
    }
}

/// The last command word looked up and what it names: a script repeats the
/// same few commands, so most lines skip the table lookups.
#[derive(Debug)]
struct LastNamed {
    word: Vec<u8>,
    named: Named,
}

impl LastNamed {
    fn hidden<W: AsRef<[u8]>>(&mut self, words: &[W]) -> Option<Hide> {
        let first = words.first()?.as_ref();
        if first != self.word.as_slice() {
            self.named = Named::of(first);
            self.word.clear();
            self.word.extend_from_slice(first);
        }
        hidden_in(words, self.named)
    }
}

impl Default for LastNamed {
    fn default() -> Self {
        LastNamed {
            word: Vec::new(),
            named: Named::Nothing,
        }
    }
}

/// Where the secret words are, for words whose first one names `named`,
/// erring on the side of hiding when a statement is malformed (it may still
/// hold a value where a flag was expected).
fn hidden_in<W: AsRef<[u8]>>(words: &[W], named: Named) -> Option<Hide> {
    let arg = |i: usize| words.get(i).map(AsRef::as_ref);
    let spec = match named {
        Named::Inmem(spec) => spec,
        Named::Redis(redis) => {
            return Some(Hide::AllButKeys(KeyPositions {
                first: redis.first_key,
                last: redis.last_key,
                step: redis.step,
            }));
        }
        Named::Nothing => return None,
    };
    match spec.name {
        // put <key> <value> [ttl | px <ms> | ex <s>]
        "put" => (words.len() > 2).then_some(Hide::Value(2)),
        // batch -c "<statements>" | -f <file>
        "batch" => match arg(1)? {
            b"-f" | b"--file" => None,
            b"-c" | b"--cmd" => (words.len() > 2).then_some(Hide::Statements(2)),
            _ => Some(Hide::Statements(1)),
        },
        // find -k|-v [-l|-r] <pattern>: the pattern is shown only when the
        // flags certainly search keys.
        "find" => {
            let (_, flags) = words[1..].split_last()?;
            let keys = flags.iter().any(|f| matches!(f.as_ref(), b"-k" | b"--key"));
            let only_key_flags = flags.iter().all(|f| {
                matches!(
                    f.as_ref(),
                    b"-k" | b"--key" | b"-l" | b"--like" | b"-r" | b"--regex"
                )
            });
            (!(keys && only_key_flags)).then_some(Hide::Value(words.len() - 1))
        }
        _ => None,
    }
}

/// Installs stderr diagnostics at `level` ("error", "warn", "info", "debug",
/// "trace", or "off", any case) for the whole process; returns an error
/// message for an unknown level. A second call leaves the first in place.
pub fn init_diagnostics(level: &str) -> Result<(), String> {
    let filter = parse_level(level)?;
    // `try_init` fails only when a subscriber is already installed: keep it.
    let _ = tracing_subscriber::fmt()
        .with_writer(io::stderr)
        .with_max_level(filter)
        .try_init();
    Ok(())
}

fn parse_level(level: &str) -> Result<LevelFilter, String> {
    Ok(match level.trim().to_ascii_lowercase().as_str() {
        "off" => LevelFilter::OFF,
        "error" => LevelFilter::ERROR,
        "warn" => LevelFilter::WARN,
        "info" => LevelFilter::INFO,
        "debug" => LevelFilter::DEBUG,
        "trace" => LevelFilter::TRACE,
        _ => {
            return Err(format!(
                "unknown log level '{level}' (expected error, warn, info, debug, trace or off)"
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_clock_follows_instants_from_one_reading() {
        let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let start = Instant::now();
        let mut wall = WallClock::default();
        let at_start = wall.at(start);
        let after = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        // The instant and the system clock are read a moment apart.
        let slack = Duration::from_millis(50);
        assert!(
            before - slack <= at_start && at_start <= after,
            "{at_start:?}"
        );
        let later = start + Duration::from_millis(1500);
        assert_eq!(wall.at(later) - at_start, Duration::from_millis(1500));
        assert_eq!(wall.at(start), at_start);
    }

    #[test]
    fn lines_share_a_clock_reading_for_a_second_then_read_it_again() {
        let start = Instant::now();
        let mut lines = Lines::default();
        lines.push(
            "0",
            &[b"get".as_slice(), b"k"],
            Ok(()),
            Duration::ZERO,
            start,
        );
        let base = lines.wall.base;
        assert!(base.is_some());
        lines.clear();
        assert_eq!(lines.wall.base, base, "kept across a batch");
        assert!(lines.is_empty());
        let later = start + WALL_REREAD + Duration::from_millis(100);
        lines.push(
            "0",
            &[b"get".as_slice(), b"k"],
            Ok(()),
            Duration::ZERO,
            later,
        );
        lines.clear();
        assert!(lines.wall.base.is_none(), "read afresh after a second");
    }

    #[test]
    fn decimals_are_written_in_full() {
        for n in [
            0u128,
            7,
            10,
            12,
            999,
            1_000_000,
            u128::from(u64::MAX),
            u128::MAX,
        ] {
            let mut out = b"x".to_vec();
            push_decimal(&mut out, n);
            assert_eq!(out, format!("x{n}").into_bytes());
        }
    }

    fn words(list: &[&[u8]]) -> Vec<Vec<u8>> {
        list.iter().map(|w| w.to_vec()).collect()
    }

    fn rendered(list: &[&[u8]], log_values: bool) -> String {
        let line = format_line("T", "0", &words(list), Ok(()), Duration::ZERO, log_values);
        let words = line.strip_prefix("T ns=0 ok 0us").unwrap();
        words.trim().to_string()
    }

    /// The line of one statement, through its record, with `timestamp` in
    /// place of the formatted time.
    fn format_line(
        timestamp: &str,
        namespace: &str,
        words: &[Vec<u8>],
        outcome: Result<(), &str>,
        elapsed: Duration,
        log_values: bool,
    ) -> String {
        let mut lines = Lines {
            log_values,
            ..Lines::default()
        };
        lines.push(namespace, words, outcome, elapsed, Instant::now());
        let mut out = Vec::new();
        LineFormat::default().format_all(&lines.records, &mut out);
        let text = String::from_utf8(out).unwrap();
        // The time is the one part that depends on the clock.
        let (_, rest) = text.split_once(' ').unwrap();
        format!("{timestamp} {rest}")
    }

    #[test]
    fn the_remembered_command_word_hides_as_a_fresh_lookup_does() {
        let statements: [&[&[u8]]; 7] = [
            &[b"put", b"k", b"v"],
            &[b"put", b"k2", b"v2", b"10"],
            &[b"SET", b"k", b"secret"],
            &[b"set", b"k", b"secret"],
            &[b"find", b"-v", b"secret"],
            &[b"nosuch", b"x"],
            &[b"put", b"k", b"v"],
        ];
        let mut remembered = LastNamed::default();
        for statement in statements {
            let list = words(statement);
            assert_eq!(
                remembered.hidden(&list),
                LastNamed::default().hidden(&list),
                "{statement:?}"
            );
        }
    }

    #[test]
    fn a_put_with_its_value_hidden_is_encoded_as_the_walk_encodes_it() {
        let words: [&[u8]; 3] = [b"PUT", b"key:1", b"secret"];
        let mut short = Vec::new();
        encode_words(&mut short, &words, Some(Hide::Value(2)));
        let mut walked = Vec::new();
        each_shown(&words, Some(Hide::Value(2)), |shown| match shown {
            Shown::Word(word) => {
                walked.push(WORD);
                walked.put_bytes(word);
            }
            Shown::Marker(index) => walked.extend_from_slice(&[MARKER, index]),
        });
        walked.push(END);
        assert_eq!(short, walked);
    }

    #[test]
    fn push_all_records_what_pushing_each_records() {
        let statements: [[&[u8]; 3]; 5] = [
            [b"put", b"a", b"1"],
            [b"PUT", b"b", b"2"],
            [b"put", b"c", b"3"],
            [b"set", b"d", b"4"],
            [b"put", b"e", b"5"],
        ];
        let finished = Instant::now();
        let elapsed = Duration::from_micros(3);
        for log_values in [false, true] {
            let (mut each, mut all) = (Lines::default(), Lines::default());
            for lines in [&mut each, &mut all] {
                lines.log_values = log_values;
                lines.push("0", &[&b"get"[..], b"x"], Ok(()), elapsed, finished);
            }
            for words in &statements {
                each.push("7", words, Ok(()), elapsed, finished);
            }
            all.push_all("7", &statements, elapsed, finished);
            assert_eq!(all.records, each.records, "log values: {log_values}");
            assert_eq!(all.lines, 6);
            let mut out = Vec::new();
            LineFormat::default().format_all(&all.records, &mut out);
            let text = String::from_utf8(out).unwrap();
            let hidden = if log_values { "2" } else { "<value hidden>" };
            assert!(text.contains(&format!(" PUT b {hidden}\n")), "{text}");
            assert_eq!(text.contains(" set d 4\n"), log_values, "{text}");
        }
    }

    #[test]
    fn redis_commands_show_only_their_keys() {
        assert_eq!(
            rendered(&[b"SET", b"k", b"secret", b"EX", b"10"], false),
            "SET k <arguments hidden>"
        );
        assert_eq!(
            rendered(&[b"mset", b"a", b"1", b"b", b"2"], false),
            "mset a <arguments hidden> b"
        );
        assert_eq!(rendered(&[b"get", b"k"], false), "get k");
        assert_eq!(rendered(&[b"del", b"a", b"b"], false), "del a b");
        assert_eq!(rendered(&[b"set", b"k", b"secret"], true), "set k secret");
    }

    #[test]
    fn line_has_timestamp_namespace_outcome_elapsed_and_words() {
        let line = format_line(
            "2026-11-22T05:20:31.123Z",
            "0",
            &words(&[b"put", b"session:1", b"alice", b"3600"]),
            Ok(()),
            Duration::from_micros(12),
            false,
        );
        assert_eq!(
            line,
            "2026-11-22T05:20:31.123Z ns=0 ok 12us put session:1 <value hidden> 3600\n"
        );
        let line = format_line(
            "T",
            "7",
            &words(&[b"incr", b"k"]),
            Err("not an integer\nreally"),
            Duration::from_millis(2),
            false,
        );
        assert_eq!(
            line,
            "T ns=7 err: \"not an integer\\nreally\" 2000us incr k\n"
        );
    }

    #[test]
    fn put_hides_only_the_value_and_keeps_case_insensitive_names() {
        assert_eq!(
            rendered(&[b"PUT", b"k", b"v", b"px", b"10"], false),
            "PUT k <value hidden> px 10"
        );
        assert_eq!(rendered(&[b"put", b"k"], false), "put k");
        assert_eq!(rendered(&[b"put", b"k", b"v"], true), "put k v");
    }

    #[test]
    fn batch_hides_inline_statements_but_not_files() {
        assert_eq!(
            rendered(&[b"batch", b"-c", b"put a 1; get a"], false),
            "batch -c <statements hidden>"
        );
        assert_eq!(
            rendered(&[b"batch", b"--cmd", b"put a 1"], true),
            "batch --cmd \"put a 1\""
        );
        assert_eq!(
            rendered(&[b"batch", b"-f", b"x.txt"], false),
            "batch -f x.txt"
        );
        // Malformed: the statements may sit where the flag belongs.
        assert_eq!(
            rendered(&[b"batch", b"put a secret"], false),
            "batch <statements hidden>"
        );
    }

    #[test]
    fn find_hides_value_patterns_only() {
        assert_eq!(
            rendered(&[b"find", b"-v", b"-l", b"s3cr*"], false),
            "find -v -l <value hidden>"
        );
        assert_eq!(
            rendered(&[b"find", b"-k", b"-r", b"^user:"], false),
            "find -k -r ^user:"
        );
        assert_eq!(
            rendered(&[b"find", b"-x", b"p"], false),
            "find -x <value hidden>"
        );
        assert_eq!(rendered(&[b"find", b"-v", b"p"], true), "find -v p");
    }

    #[test]
    fn other_commands_keep_every_word() {
        assert_eq!(
            rendered(&[b"alias", b"s", b"put", b"a", b"1"], false),
            "alias s put a 1"
        );
        assert_eq!(
            rendered(&[b"export", b"dump.json"], false),
            "export dump.json"
        );
        assert_eq!(
            rendered(&[b"get", b"a b", b"\xff"], false),
            "get \"a b\" \"\\xff\""
        );
        assert_eq!(rendered(&[b"\xff", b"x"], false), "\"\\xff\" x");
        assert_eq!(rendered(&[], false), "");
    }

    #[test]
    fn lines_are_counted_across_blocks() {
        assert_eq!(count_lines(b""), 0);
        assert_eq!(count_lines(b"a\nb"), 1);
        let text = "line\n".repeat(1000) + "tail";
        assert_eq!(count_lines(text.as_bytes()), 1000);
        assert_eq!(count_lines(&[b'\n'; 600]), 600);
    }

    #[test]
    fn levels_parse_and_unknown_ones_are_refused() {
        assert_eq!(parse_level("Warn"), Ok(LevelFilter::WARN));
        assert_eq!(parse_level("off"), Ok(LevelFilter::OFF));
        assert!(parse_level("loud").unwrap_err().contains("loud"));
        assert_eq!(parse_level(" TRACE "), Ok(LevelFilter::TRACE));
        assert!(parse_level("").is_err());
    }

    #[test]
    fn rotation_with_keep_zero_starts_afresh() {
        let dir = tempfile::tempdir().unwrap();
        let mut file = Rotating::open(dir.path(), 10, 0).unwrap();
        file.buffer_line(b"12345678\n").unwrap();
        file.buffer_line(b"abcdefgh\n").unwrap();
        file.flush_buf().unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join(FILE_NAME)).unwrap(),
            "abcdefgh\n"
        );
        assert!(!dir.path().join("command.log.1").exists());
    }

    #[test]
    fn open_appends_and_counts_the_existing_size() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "old line\n").unwrap();
        let mut file = Rotating::open(dir.path(), 13, 2).unwrap();
        file.buffer_line(b"new\n").unwrap();
        file.buffer_line(b"next\n").unwrap();
        file.flush_buf().unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("command.log.1")).unwrap(),
            "old line\nnew\n"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join(FILE_NAME)).unwrap(),
            "next\n"
        );
    }

    /// Records `n` lines `get k<first>` .. into `log`.
    fn record_gets(log: &CommandLog, first: usize, n: usize) {
        for i in first..first + n {
            let key = format!("k{i}");
            log.record(
                "0",
                &[b"get".as_slice(), key.as_bytes()],
                Ok(()),
                Duration::ZERO,
            );
        }
    }

    /// The keys of the `get` lines in `dir`'s command log, in file order.
    fn logged_keys(dir: &Path) -> Vec<String> {
        std::fs::read_to_string(dir.join(FILE_NAME))
            .unwrap()
            .lines()
            .map(|line| line.rsplit(' ').next().unwrap().to_string())
            .collect()
    }

    #[test]
    fn write_here_writes_a_full_batch_on_the_calling_thread_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let log = CommandLog::open(dir.path(), LogSettings::default()).unwrap();
        // Too few lines to be worth a write: they keep gathering.
        record_gets(&log, 0, 1);
        assert!(!log.write_here());
        assert_eq!(logged_keys(dir.path()), Vec::<String>::new());
        // While the writer thread has a batch to write, lines batched after
        // it stay batched, so they cannot overtake it.
        let held = lock_sink(&log.sink);
        log.send_pending();
        record_gets(&log, 1, 400);
        assert!(log.lock().len() >= HERE_BYTES);
        assert!(!log.write_here());
        drop(held);
        // Once the writer thread is through, they are written right here: in
        // the file as soon as `write_here` returns, after the earlier line.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !log.write_here() {
            assert!(
                Instant::now() < deadline,
                "the writer thread never finished"
            );
            std::thread::yield_now();
        }
        let expected: Vec<String> = (0..401).map(|i| format!("k{i}")).collect();
        assert_eq!(logged_keys(dir.path()), expected);
        // `flush` counts the lines written here as written.
        record_gets(&log, 401, 1);
        log.flush();
        assert_eq!(logged_keys(dir.path()).len(), 402);
    }

    #[test]
    fn a_panic_while_writing_here_does_not_leave_flush_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(CommandLog::open(dir.path(), LogSettings::default()).unwrap());
        record_gets(&log, 0, 400);
        lock_sink(&log.sink).panic_on_write = true;
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| log.write_here()));
        assert!(panicked.is_err(), "the sink did not panic");
        // The lines counted in were never counted out: without the close,
        // `flush` would wait for them for ever.
        let (done, flushed) = std::sync::mpsc::channel();
        let flushing = log.clone();
        std::thread::spawn(move || {
            flushing.flush();
            let _ = done.send(());
        });
        assert!(
            flushed.recv_timeout(Duration::from_secs(10)).is_ok(),
            "flush kept waiting after the panic"
        );
    }

    #[test]
    fn command_log_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<CommandLog>();
    }
}
