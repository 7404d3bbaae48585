//! Durability: the append-only log, background snapshots, recovery at start,
//! backup/restore and JSON import/export. The engine hands this layer
//! committed changes as typed records (through [`crate::engine::Journal`]);
//! this layer never sees command text.
//!
//! Files in the data directory: `snapshot.db`, log segments `log-NNNNNNNNNN.aof`
//! (for a moment `log-NNNNNNNNNN.aof.new`, see [`log::AppendLog::rotate`]),
//! `alias.json`, `LOCK`. Their byte layout is in docs/format.md.

pub mod codec;
pub mod disk;
pub mod json;
pub mod lock;
pub mod log;
pub mod recovery;
pub mod snapshot;
mod unsynced;

use crate::engine::Engine;
use crate::fsutil;
use disk::Disk;
use log::{AppendLog, Fsync};
use snapshot::{Step, StepHook, Written};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Durability settings.
#[derive(Clone)]
pub struct Settings {
    /// When the log is fsynced.
    pub fsync: Fsync,
    /// Seconds between background snapshots when something changed (0: never).
    pub snapshot_interval: Duration,
    /// Log bytes after which a snapshot compacts the log (0: never).
    pub compact_threshold: u64,
    /// Refuse to cut a torn log tail at start-up.
    pub strict_recovery: bool,
    /// Where log and snapshot files are written (tests use a simulated disk).
    pub disk: Arc<dyn Disk>,
    /// Called between snapshot steps (tests inject crashes there).
    pub hook: Arc<StepHook>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("fsync", &self.fsync)
            .field("snapshot_interval", &self.snapshot_interval)
            .field("compact_threshold", &self.compact_threshold)
            .field("strict_recovery", &self.strict_recovery)
            .finish_non_exhaustive()
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            fsync: Fsync::Everysec,
            snapshot_interval: Duration::from_secs(60),
            compact_threshold: 64 << 20,
            strict_recovery: false,
            disk: Arc::new(disk::RealDisk),
            hook: Arc::new(|_| Ok(())),
        }
    }
}

/// The outcome of the last snapshot, for reports and retries.
#[derive(Debug, Clone, Default)]
pub struct SnapshotStatus {
    /// When the last attempt ended (Unix ms).
    pub at_ms: u64,
    /// What it wrote, or why it failed.
    pub result: Option<Result<Written, String>>,
    /// The sequence number the newest good snapshot covers.
    pub saved_seq: u64,
}

/// The persistence layer of an open database.
pub struct Persistence {
    dir: PathBuf,
    log: Arc<AppendLog>,
    settings: Settings,
    /// Held while a snapshot, backup or restore runs: one at a time.
    status: Mutex<SnapshotStatus>,
    _lock: lock::DirLock,
}

impl std::fmt::Debug for Persistence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Persistence")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn lock_status(m: &Mutex<SnapshotStatus>) -> MutexGuard<'_, SnapshotStatus> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Persistence {
    /// Locks `dir` and prepares the log; call [`Persistence::recover`] next.
    pub fn open(dir: &Path, settings: Settings) -> Result<Self, lock::LockError> {
        let lock = lock::acquire(dir)?;
        let log = Arc::new(AppendLog::new(
            dir,
            settings.disk.clone(),
            settings.fsync,
            1,
            1,
        ));
        Ok(Persistence {
            dir: dir.to_path_buf(),
            log,
            settings,
            status: Mutex::new(SnapshotStatus::default()),
            _lock: lock,
        })
    }

    /// The log, which the engine must use as its journal.
    pub fn journal(&self) -> Arc<AppendLog> {
        self.log.clone()
    }

    /// Loads snapshot and log into `engine` and continues the log after them.
    pub fn recover(&self, engine: &Engine) -> Result<recovery::Report, recovery::Corruption> {
        let report = recovery::recover(&self.dir, engine, self.settings.strict_recovery)?;
        self.log.resume(report.next_seq, report.next_segment);
        lock_status(&self.status).saved_seq = report.snapshot_seq;
        Ok(report)
    }

    /// Makes everything committed so far safe to acknowledge. Under `always`
    /// an error means a write must not be acknowledged.
    pub fn acknowledge(&self) -> Result<(), String> {
        match self.log.barrier() {
            Err(e) if self.settings.fsync == Fsync::Always => Err(e),
            // Under everysec/no the failure is remembered and refuses further
            // writes; what was committed stays queued and is retried.
            _ => Ok(()),
        }
    }

    /// The log's settings and state.
    pub fn log(&self) -> &AppendLog {
        &self.log
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The last snapshot's outcome.
    pub fn status(&self) -> SnapshotStatus {
        lock_status(&self.status).clone()
    }

    /// Writes snapshot.db now and drops the log segments it covers.
    pub fn save(&self, engine: &Engine) -> Result<Written, String> {
        let mut status = lock_status(&self.status);
        // A new segment first: the ones before it hold only records the
        // snapshot covers, to be deleted once it is durable.
        let keep_from = match self.log.rotate(&*self.settings.hook) {
            Ok(segment) => segment,
            Err(e) => {
                let e = e.to_string();
                status.at_ms = engine.now();
                status.result = Some(Err(e.clone()));
                return Err(e);
            }
        };
        let target = self.dir.join(snapshot::FILE_NAME);
        let result = snapshot::write(
            engine,
            &*self.settings.disk,
            &target,
            &*self.settings.hook,
            &mut |_| self.trim_log(keep_from),
        );
        status.at_ms = engine.now();
        if let Ok(written) = &result {
            status.saved_seq = written.seq;
        }
        status.result = Some(result.clone());
        result
    }

    /// Deletes every segment before `keep_from` (a snapshot covers their records).
    fn trim_log(&self, keep_from: u64) -> Result<(), String> {
        let segments = recovery::segments(&self.dir).map_err(|e| e.to_string())?;
        for (n, path) in segments {
            if n < keep_from {
                std::fs::remove_file(&path)
                    .map_err(|e| format!("cannot remove {}: {e}", path.display()))?;
            }
        }
        fsutil::sync_dir(&self.dir).map_err(|e| e.to_string())?;
        self.log.compacted();
        Ok(())
    }

    /// Writes a consistent snapshot copy to `path` while the database keeps serving.
    pub fn backup(&self, engine: &Engine, path: &Path) -> Result<Written, String> {
        let _one_at_a_time = lock_status(&self.status);
        // Repairs a failed log, or refuses.
        self.log
            .flush(false)
            .map_err(|e| format!("no snapshot while the log fails: {e}"))?;
        let no_hook = |_: Step| Ok(());
        snapshot::write(
            engine,
            &*self.settings.disk,
            path,
            &no_hook,
            &mut |_| Ok(()),
        )
    }

    /// Replaces the whole content with a backup file, atomically and durably:
    /// the backup becomes snapshot.db before the new content is served.
    pub fn restore(&self, engine: &Engine, path: &Path) -> Result<u64, String> {
        let _one_at_a_time = lock_status(&self.status);
        let bytes =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut groups = Vec::new();
        snapshot::read(&bytes, &mut |(namespace, entries)| {
            groups.push((
                namespace,
                entries
                    .into_iter()
                    .map(|(k, v, at)| (k.to_vec(), v.to_vec(), at))
                    .collect::<Vec<_>>(),
            ));
        })
        .map_err(|d| {
            format!(
                "{}: damaged at offset {}: {}",
                path.display(),
                d.offset,
                d.reason
            )
        })?;
        let keep_from = self
            .log
            .rotate(&*self.settings.hook)
            .map_err(|e| e.to_string())?;
        let target = self.dir.join(snapshot::FILE_NAME);
        let disk = &*self.settings.disk;
        let keys = engine.replace_all(groups, &mut |seq| {
            // The backup becomes snapshot.db, covering every record so far,
            // before any of its content is served.
            snapshot::install(&bytes, seq, disk, &target)
        })?;
        self.trim_log(keep_from)?;
        Ok(keys)
    }

    /// Writes the log out, fsyncs it unless the policy is `no`, and retries a
    /// failed log. Returns a message worth showing: a new failure, or a
    /// recovery from one.
    pub fn sync_log(&self) -> Option<String> {
        let had_failure = self.log.failure().is_some();
        let flushed = self.log.flush(self.settings.fsync != Fsync::No);
        match (flushed, had_failure) {
            (Err(e), false) => Some(e),
            (Ok(()), true) => Some("the append-only log works again; writes are accepted".into()),
            _ => None,
        }
    }

    /// Runs the background duties once: fsync under `everysec`, retry a failed
    /// log, and snapshot when due. Returns a message worth showing, if any.
    pub fn tick(&self, engine: &Engine, last_snapshot: &mut Instant) -> Option<String> {
        let mut notice = self.sync_log();
        let interval = self.settings.snapshot_interval;
        let changed = self.log.last_seq() > lock_status(&self.status).saved_seq;
        let failed_before = matches!(lock_status(&self.status).result, Some(Err(_)));
        let retry_after = interval.min(Duration::from_secs(10));
        let due_by_time = !interval.is_zero()
            && changed
            && last_snapshot.elapsed() >= if failed_before { retry_after } else { interval };
        let threshold = self.settings.compact_threshold;
        let due_by_size = threshold > 0 && self.log.bytes_since_checkpoint() >= threshold;
        if due_by_time || due_by_size {
            *last_snapshot = Instant::now();
            match self.save(engine) {
                Err(e) => {
                    notice = Some(format!(
                        "background snapshot failed (will retry; the old snapshot and the log are intact): {e}"
                    ))
                }
                Ok(_) if failed_before => {
                    notice = Some("background snapshot written after an earlier failure".into())
                }
                Ok(_) => {}
            }
        }
        notice
    }

    /// Writes and fsyncs everything committed (on exit).
    pub fn close(&self) -> Result<(), String> {
        self.log.flush(true)
    }
}
