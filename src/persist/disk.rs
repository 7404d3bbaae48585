//! The seam between persistence and the file system for files that are
//! appended to and synced (log segments and snapshots). The real disk is a thin
//! wrapper over `std::fs`; the simulated one lets tests cut the power, tear the
//! last write, fail the N-th write or sync, or run out of space.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// A file being written: appends, syncs, and cuts back after a failed append.
/// Shared by reference, so one thread can fsync while another appends (the
/// log's background fsync must not stop writers).
pub trait DiskFile: Send + Sync {
    /// Appends all of `bytes` (possibly only to the operating system's cache).
    fn write_all(&self, bytes: &[u8]) -> io::Result<()>;
    /// Makes everything written before the call durable (later appends may
    /// or may not be included).
    fn sync(&self) -> io::Result<()>;
    /// Cuts the file back to `len` bytes (after a partial append).
    fn truncate(&self, len: u64) -> io::Result<()>;
}

/// Creates files for writing.
pub trait Disk: Send + Sync + std::fmt::Debug {
    /// Creates (or empties) the file at `path` for writing.
    fn create(&self, path: &Path) -> io::Result<Box<dyn DiskFile>>;
    /// Renames `from` to `to` (a log segment named once the one before it is
    /// durable); files open at `from` go on being written and synced there.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
}

/// The real file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealDisk;

struct RealFile(File);

impl DiskFile for RealFile {
    fn write_all(&self, bytes: &[u8]) -> io::Result<()> {
        (&self.0).write_all(bytes)
    }
    fn sync(&self) -> io::Result<()> {
        self.0.sync_data()
    }
    fn truncate(&self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }
}

impl Disk for RealDisk {
    fn create(&self, path: &Path) -> io::Result<Box<dyn DiskFile>> {
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(path)?;
        // Appends after a truncate must land at the new end, so use append mode.
        drop(file);
        let file = OpenOptions::new().append(true).open(path)?;
        Ok(Box::new(RealFile(file)))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }
}

/// A disk whose unsynced writes live in memory until `sync`, so a test can
/// "cut the power" and keep only what was synced (plus a torn prefix of the
/// rest). A sync keeps only what was written before it was called, however
/// long it is held, as the least a real one promises.
#[derive(Debug, Clone, Default)]
pub struct SimDisk {
    state: Arc<SimState>,
}

#[derive(Debug, Default)]
struct SimState {
    power_off: AtomicBool,
    writes: AtomicU64,
    syncs: AtomicU64,
    /// Fail the write with this 1-based number (0: never).
    fail_write: AtomicU64,
    /// Fail the sync with this 1-based number (0: never).
    fail_sync: AtomicU64,
    /// Bytes that may still be written before "no space left" (u64::MAX: unlimited).
    space: AtomicU64,
    files: Mutex<Vec<Arc<Mutex<SimFileState>>>>,
    gate: Mutex<Gate>,
    gate_changed: Condvar,
}

/// Holds syncs in flight, so a test can act while an fsync is running.
#[derive(Debug, Default)]
struct Gate {
    closed: bool,
    /// Syncs the closed gate still lets through (the ones held first).
    passes: usize,
    /// Syncs waiting at the closed gate.
    waiting: usize,
}

impl SimState {
    /// Waits while the gate is closed and lets no more syncs through
    /// (counting as a sync in flight meanwhile).
    fn pass_gate(&self) {
        let mut gate = self.gate.lock().unwrap_or_else(|p| p.into_inner());
        if gate.closed && gate.passes == 0 {
            gate.waiting += 1;
            self.gate_changed.notify_all();
            while gate.closed && gate.passes == 0 {
                gate = self
                    .gate_changed
                    .wait(gate)
                    .unwrap_or_else(|p| p.into_inner());
            }
            gate.waiting -= 1;
        }
        if gate.closed {
            gate.passes -= 1;
        }
    }
}

#[derive(Debug)]
struct SimFileState {
    path: PathBuf,
    /// Written but not yet synced.
    pending: Vec<u8>,
    /// Length of the real file (everything synced).
    synced_len: u64,
}

impl SimDisk {
    /// A simulated disk with unlimited space and no faults.
    pub fn new() -> Self {
        let disk = SimDisk::default();
        disk.state.space.store(u64::MAX, Ordering::SeqCst);
        disk
    }

    /// Fails the `n`-th write from now on (1 = the next one).
    pub fn fail_write(&self, n: u64) {
        let done = self.state.writes.load(Ordering::SeqCst);
        self.state.fail_write.store(done + n, Ordering::SeqCst);
    }

    /// Fails the `n`-th sync from now on (1 = the next one).
    pub fn fail_sync(&self, n: u64) {
        let done = self.state.syncs.load(Ordering::SeqCst);
        self.state.fail_sync.store(done + n, Ordering::SeqCst);
    }

    /// Lets only `bytes` more bytes be written before writes fail for lack of space.
    pub fn set_space(&self, bytes: u64) {
        self.state.space.store(bytes, Ordering::SeqCst);
    }

    /// Removes every fault and space limit.
    pub fn heal(&self) {
        self.state.fail_write.store(0, Ordering::SeqCst);
        self.state.fail_sync.store(0, Ordering::SeqCst);
        self.state.space.store(u64::MAX, Ordering::SeqCst);
    }

    /// Makes every sync from now on wait (as a slow fsync would) until
    /// [`SimDisk::release_syncs`], or until [`SimDisk::let_syncs_through`]
    /// lets it go on; an injected sync failure is decided after the wait.
    pub fn hold_syncs(&self) {
        let mut gate = self.state.gate.lock().unwrap_or_else(|p| p.into_inner());
        gate.closed = true;
    }

    /// Lets held syncs (and later ones) go on.
    pub fn release_syncs(&self) {
        let mut gate = self.state.gate.lock().unwrap_or_else(|p| p.into_inner());
        gate.closed = false;
        gate.passes = 0;
        self.state.gate_changed.notify_all();
    }

    /// While syncs are held, lets `n` more through (whichever reach the
    /// gate first, held or arriving) and goes on holding the rest.
    pub fn let_syncs_through(&self, n: usize) {
        let mut gate = self.state.gate.lock().unwrap_or_else(|p| p.into_inner());
        gate.passes += n;
        self.state.gate_changed.notify_all();
    }

    /// Waits up to `timeout` until `n` syncs are held; true when they are.
    pub fn wait_for_held_syncs(&self, n: usize, timeout: Duration) -> bool {
        let gate = self.state.gate.lock().unwrap_or_else(|p| p.into_inner());
        let (gate, _) = self
            .state
            .gate_changed
            .wait_timeout_while(gate, timeout, |g| g.waiting < n)
            .unwrap_or_else(|p| p.into_inner());
        gate.waiting >= n
    }

    /// How many syncs have gone through so far (failed ones included; not
    /// those still held, nor those after a power cut).
    pub fn syncs(&self) -> u64 {
        self.state.syncs.load(Ordering::SeqCst)
    }

    /// Bytes written to the file at `path` but not yet synced.
    pub fn unsynced_len(&self, path: &Path) -> usize {
        let files = self.state.files.lock().unwrap_or_else(|p| p.into_inner());
        files
            .iter()
            .map(|f| f.lock().unwrap_or_else(|p| p.into_inner()))
            .filter(|f| f.path == path)
            .map(|f| f.pending.len())
            .sum()
    }

    /// Cuts the power: unsynced data is lost except the first `torn` bytes of
    /// each file's unsynced tail, and every later write or sync is ignored.
    pub fn cut_power(&self, torn: usize) -> io::Result<()> {
        self.state.power_off.store(true, Ordering::SeqCst);
        let files = self.state.files.lock().unwrap_or_else(|p| p.into_inner());
        for file in files.iter() {
            let mut file = file.lock().unwrap_or_else(|p| p.into_inner());
            let keep = torn.min(file.pending.len());
            if keep > 0 && file.path.exists() {
                let mut real = OpenOptions::new().append(true).open(&file.path)?;
                real.write_all(&file.pending[..keep])?;
            }
            file.pending.clear();
        }
        Ok(())
    }
}

struct SimFile {
    file: Arc<Mutex<SimFileState>>,
    state: Arc<SimState>,
}

fn injected(what: &str) -> io::Error {
    io::Error::other(format!("injected {what} failure"))
}

impl DiskFile for SimFile {
    fn write_all(&self, bytes: &[u8]) -> io::Result<()> {
        if self.state.power_off.load(Ordering::SeqCst) {
            return Ok(());
        }
        let n = self.state.writes.fetch_add(1, Ordering::SeqCst) + 1;
        if n == self.state.fail_write.load(Ordering::SeqCst) {
            return Err(injected("write"));
        }
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        let space = self.state.space.load(Ordering::SeqCst);
        if (bytes.len() as u64) > space {
            // A full disk takes what fits, then fails, as a real one does.
            let fits = usize::try_from(space).unwrap_or(usize::MAX);
            file.pending.extend_from_slice(&bytes[..fits]);
            self.state.space.store(0, Ordering::SeqCst);
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "No space left on device",
            ));
        }
        if space != u64::MAX {
            self.state
                .space
                .fetch_sub(bytes.len() as u64, Ordering::SeqCst);
        }
        file.pending.extend_from_slice(bytes);
        Ok(())
    }

    fn sync(&self) -> io::Result<()> {
        if self.state.power_off.load(Ordering::SeqCst) {
            return Ok(());
        }
        // Only what was written before the call is sure to be synced: bytes
        // written while it is held stay unsynced, the worst a disk may do.
        // Where the file ended at the call, counted from its start, so a
        // sync that ran meanwhile does not move it.
        let end = {
            let file = self.file.lock().unwrap_or_else(|p| p.into_inner());
            file.synced_len + file.pending.len() as u64
        };
        self.state.pass_gate();
        if self.state.power_off.load(Ordering::SeqCst) {
            return Ok(());
        }
        let n = self.state.syncs.fetch_add(1, Ordering::SeqCst) + 1;
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        let synced = usize::try_from(end.saturating_sub(file.synced_len))
            .unwrap_or(usize::MAX)
            .min(file.pending.len());
        if n == self.state.fail_sync.load(Ordering::SeqCst) {
            // As Linux may after a failed writeback: the unsynced pages are
            // dropped (marked clean), so a later fsync would not bring them
            // back. Only writing them again does.
            file.pending.clear();
            return Err(injected("sync"));
        }
        let mut real = match OpenOptions::new().append(true).open(&file.path) {
            Ok(real) => real,
            // Deleted while open (a log segment trimmed by a snapshot): a real
            // fsync of the open descriptor succeeds, and the bytes go nowhere.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                file.synced_len += synced as u64;
                file.pending.drain(..synced);
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        real.write_all(&file.pending[..synced])?;
        real.sync_data()?;
        file.synced_len += synced as u64;
        file.pending.drain(..synced);
        Ok(())
    }

    fn truncate(&self, len: u64) -> io::Result<()> {
        if self.state.power_off.load(Ordering::SeqCst) {
            return Ok(());
        }
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if len >= file.synced_len {
            let keep = usize::try_from(len - file.synced_len).unwrap_or(usize::MAX);
            file.pending.truncate(keep);
        } else {
            OpenOptions::new()
                .write(true)
                .open(&file.path)?
                .set_len(len)?;
            file.synced_len = len;
            file.pending.clear();
        }
        Ok(())
    }
}

impl Disk for SimDisk {
    fn create(&self, path: &Path) -> io::Result<Box<dyn DiskFile>> {
        if self.state.power_off.load(Ordering::SeqCst) {
            return Err(io::Error::other("power is off"));
        }
        File::create(path)?;
        let file = Arc::new(Mutex::new(SimFileState {
            path: path.to_path_buf(),
            pending: Vec::new(),
            synced_len: 0,
        }));
        let mut files = self.state.files.lock().unwrap_or_else(|p| p.into_inner());
        // Creating truncates: unsynced bytes of an earlier file at this path
        // (a segment whose header write failed, then retried) are gone, and
        // must not reappear at a power cut.
        files.retain(|f| {
            let mut f = f.lock().unwrap_or_else(|p| p.into_inner());
            if f.path == path {
                f.pending.clear();
            }
            f.path != path
        });
        files.push(file.clone());
        drop(files);
        Ok(Box::new(SimFile {
            file,
            state: self.state.clone(),
        }))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        if self.state.power_off.load(Ordering::SeqCst) {
            return Err(io::Error::other("power is off"));
        }
        std::fs::rename(from, to)?;
        let mut files = self.state.files.lock().unwrap_or_else(|p| p.into_inner());
        // A file replaced by the rename: its unsynced bytes are gone, as on create.
        files.retain(|f| {
            let mut f = f.lock().unwrap_or_else(|p| p.into_inner());
            if f.path == to {
                f.pending.clear();
            }
            f.path != to
        });
        for file in files.iter() {
            let mut file = file.lock().unwrap_or_else(|p| p.into_inner());
            if file.path == from {
                file.path = to.to_path_buf();
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_synced_bytes_and_a_torn_prefix_survive_a_power_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let disk = SimDisk::new();
        let f = disk.create(&path).unwrap();
        f.write_all(b"durable").unwrap();
        f.sync().unwrap();
        f.write_all(b"lost-tail").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"durable");
        disk.cut_power(4).unwrap();
        f.write_all(b"after").unwrap();
        f.sync().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"durablelost");
    }

    #[test]
    fn deleted_and_recreated_files_behave_as_on_a_real_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let disk = SimDisk::new();
        // fsync of a file deleted while open succeeds.
        let f = disk.create(&path).unwrap();
        f.write_all(b"trimmed").unwrap();
        std::fs::remove_file(&path).unwrap();
        f.sync().unwrap();
        // Re-creating truncates: the first attempt's unsynced bytes never come back.
        let f = disk.create(&path).unwrap();
        f.write_all(b"stale").unwrap();
        drop(f);
        let g = disk.create(&path).unwrap();
        g.write_all(b"new").unwrap();
        g.sync().unwrap();
        disk.cut_power(100).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
    }

    #[test]
    fn held_syncs_go_on_only_as_many_as_are_let_through() {
        let dir = tempfile::tempdir().unwrap();
        let disk = SimDisk::new();
        let f: Arc<dyn DiskFile> = disk.create(&dir.path().join("f")).unwrap().into();
        disk.hold_syncs();
        let syncing: Vec<_> = (0..2)
            .map(|_| {
                let f = f.clone();
                std::thread::spawn(move || f.sync())
            })
            .collect();
        let patience = Duration::from_secs(10);
        assert!(disk.wait_for_held_syncs(2, patience));
        disk.let_syncs_through(1);
        let deadline = std::time::Instant::now() + patience;
        while disk.syncs() < 1 {
            assert!(std::time::Instant::now() < deadline, "no sync went on");
            std::thread::yield_now();
        }
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(disk.syncs(), 1, "more syncs went on than were let through");
        disk.release_syncs();
        for sync in syncing {
            sync.join().unwrap().unwrap();
        }
        assert_eq!(disk.syncs(), 2);
    }

    #[test]
    fn a_held_sync_keeps_only_what_was_written_before_it_was_called() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let disk = SimDisk::new();
        let f: Arc<dyn DiskFile> = disk.create(&path).unwrap().into();
        f.write_all(b"before").unwrap();
        disk.hold_syncs();
        let syncing = {
            let f = f.clone();
            std::thread::spawn(move || f.sync())
        };
        assert!(disk.wait_for_held_syncs(1, Duration::from_secs(10)));
        f.write_all(b"-during").unwrap();
        disk.release_syncs();
        syncing.join().unwrap().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"before");
        assert_eq!(disk.unsynced_len(&path), b"-during".len());
        disk.cut_power(0).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"before");
    }

    #[test]
    fn faults_and_full_disk_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let disk = SimDisk::new();
        let f = disk.create(&dir.path().join("f")).unwrap();
        disk.fail_write(2);
        f.write_all(b"a").unwrap();
        assert!(f.write_all(b"b").is_err());
        f.write_all(b"c").unwrap();
        disk.fail_sync(1);
        assert!(f.sync().is_err());
        // The failed sync dropped what it was asked to write, as Linux may:
        // a later successful sync does not bring it back.
        f.sync().unwrap();
        assert_eq!(std::fs::read(dir.path().join("f")).unwrap(), b"");
        f.write_all(b"ac").unwrap();
        disk.set_space(2);
        let err = f.write_all(b"xyz").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::StorageFull);
        f.truncate(2).unwrap();
        f.sync().unwrap();
        assert_eq!(std::fs::read(dir.path().join("f")).unwrap(), b"ac");
    }
}
