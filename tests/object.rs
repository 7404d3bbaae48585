//! OBJECT IDLETIME and OBJECT FREQ through the `redis` crate, against a
//! server run in this process on a database whose clock only moves when the
//! test says. Expected replies were checked against redis-server 7.0.15.

use inmem::engine::ManualClock;
use inmem::server::{self, ServeSettings};
use inmem::{Db, Options};
use std::net::TcpListener;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const START_MS: u64 = 1_700_000_000_000;

/// A server on a database with a manual clock, and a connection to it.
struct Served {
    clock: ManualClock,
    con: redis::Connection,
    server: Option<JoinHandle<Result<(), server::ServeError>>>,
    _dir: tempfile::TempDir,
}

fn start() -> Served {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::new(START_MS);
    let mut options = Options::new(dir.path());
    options.clock = Arc::new(clock.clone());
    options.active_expiry = false;
    options.command_log = None;
    options.persistence.snapshot_interval = Duration::ZERO;
    let db = Db::open(options).expect("open");
    // A port that was free a moment ago (the server binds it again).
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let settings = ServeSettings {
        bind: "127.0.0.1".into(),
        port,
        requirepass: None,
        maxclients: 100,
        http_port: None,
        threads: 1,
    };
    let server = std::thread::spawn(move || server::run(db, settings));
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).expect("client");
    let deadline = Instant::now() + Duration::from_secs(10);
    let con = loop {
        match client.get_connection() {
            Ok(con) => break con,
            Err(e) if Instant::now() < deadline && !server.is_finished() => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("the server did not start: {e}"),
        }
    };
    Served {
        clock,
        con,
        server: Some(server),
        _dir: dir,
    }
}

impl Served {
    fn idle(&mut self, key: &str) -> Option<i64> {
        redis::cmd("OBJECT")
            .arg("IDLETIME")
            .arg(key)
            .query(&mut self.con)
            .expect("OBJECT IDLETIME")
    }

    fn run(&mut self, args: &[&str]) -> redis::Value {
        let mut cmd = redis::cmd(args[0]);
        for arg in &args[1..] {
            cmd.arg(*arg);
        }
        cmd.query(&mut self.con).expect(args[0])
    }

    /// Advances the clock by `secs` seconds.
    fn wait(&self, secs: u64) {
        self.clock.advance(secs * 1000);
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _: redis::RedisResult<()> = redis::cmd("SHUTDOWN").arg("NOSAVE").query(&mut self.con);
        if let Some(server) = self.server.take() {
            let _ = server.join();
        }
    }
}

#[test]
fn idle_time_counts_seconds_since_the_last_read_or_write() {
    let mut s = start();
    s.run(&["SET", "a", "1"]);
    s.wait(5);
    assert_eq!(s.idle("a"), Some(5));
    // Asking is no access, nor are the commands Redis only looks with.
    assert_eq!(s.idle("a"), Some(5));
    for look in [
        &["TYPE", "a"][..],
        &["EXISTS", "a"],
        &["TTL", "a"],
        &["PTTL", "a"],
        &["EXPIRETIME", "a"],
        &["OBJECT", "ENCODING", "a"],
        &["MEMORY", "USAGE", "a"],
        &["SCAN", "0"],
        &["KEYS", "*"],
        &["DBSIZE"],
    ] {
        s.run(look);
    }
    s.wait(1);
    assert_eq!(s.idle("a"), Some(6));
    // A read resets it.
    s.run(&["GET", "a"]);
    assert_eq!(s.idle("a"), Some(0));
    s.wait(3);
    assert_eq!(s.idle("a"), Some(3));
    // So do a write and every other command that uses the key.
    s.run(&["SET", "a", "2"]);
    assert_eq!(s.idle("a"), Some(0));
    for use_ in [
        &["STRLEN", "a"][..],
        &["MGET", "x", "a"],
        &["GETRANGE", "a", "0", "1"],
        &["EXPIRE", "a", "100"],
        &["PERSIST", "a"],
        &["PERSIST", "a"],
        &["INCR", "a"],
    ] {
        s.wait(2);
        assert_eq!(s.idle("a"), Some(2));
        s.run(use_);
        assert_eq!(s.idle("a"), Some(0), "{use_:?}");
    }
    // Inside a transaction too.
    s.wait(4);
    let _: redis::Value = redis::pipe()
        .atomic()
        .cmd("GET")
        .arg("a")
        .query(&mut s.con)
        .expect("MULTI/EXEC");
    assert_eq!(s.idle("a"), Some(0));
}

#[test]
fn missing_expired_and_other_databases_keys_answer_nil() {
    let mut s = start();
    assert_eq!(s.idle("missing"), None);
    s.run(&["SET", "short", "v", "PX", "1500"]);
    s.run(&["SET", "a", "v"]);
    s.wait(2);
    assert_eq!(s.idle("short"), None);
    s.run(&["SELECT", "1"]);
    assert_eq!(s.idle("a"), None);
    s.run(&["SELECT", "0"]);
    assert_eq!(s.idle("a"), Some(2));
    // Renaming is a use; the new name starts afresh.
    s.run(&["RENAME", "a", "b"]);
    assert_eq!(s.idle("b"), Some(0));
    let err = redis::cmd("OBJECT")
        .arg("IDLETIME")
        .query::<redis::Value>(&mut s.con)
        .unwrap_err();
    assert_eq!(
        err.detail(),
        Some("wrong number of arguments for 'object|idletime' command")
    );
}

#[test]
fn freq_answers_nil_for_a_missing_key_and_otherwise_that_it_is_not_tracked() {
    let mut s = start();
    let freq = |s: &mut Served, key: &str| {
        redis::cmd("OBJECT")
            .arg("FREQ")
            .arg(key)
            .query::<Option<i64>>(&mut s.con)
    };
    assert_eq!(freq(&mut s, "missing").ok(), Some(None));
    s.run(&["SET", "a", "v"]);
    let err = freq(&mut s, "a").unwrap_err();
    assert!(
        err.detail().is_some_and(|d| d
            .starts_with("An LFU maxmemory policy is not selected, access frequency not tracked.")),
        "{err}"
    );
}

#[test]
fn idle_times_restart_from_the_load_after_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::new(START_MS);
    let open = || {
        let mut options = Options::new(dir.path());
        options.clock = Arc::new(clock.clone());
        options.active_expiry = false;
        options.command_log = None;
        Db::open(options).expect("open")
    };
    let db = open();
    db.engine().put("0", b"logged", b"v").expect("put");
    db.persistence().save(db.engine()).expect("save");
    db.engine().put("0", b"after", b"v").expect("put");
    clock.advance(100_000);
    assert_eq!(db.engine().idle_time("0", b"logged"), Some(100));
    drop(db);
    clock.advance(20_000);
    let db = open();
    clock.advance(3_000);
    // Neither the snapshot nor the log keeps access times.
    assert_eq!(db.engine().idle_time("0", b"logged"), Some(3));
    assert_eq!(db.engine().idle_time("0", b"after"), Some(3));
}
