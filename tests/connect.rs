//! `inmem --connect HOST:PORT`: scripts and the interactive prompt as a client
//! of `inmem serve` and of Debian's redis-server 7 (skipped with a printed
//! reason when it is not installed, unless REQUIRE_REDIS=1). Most scripts are
//! checked against the same script run on a local database, so translated
//! commands must answer exactly as local ones do.

mod support;

use assert_cmd::Command;
use rexpect::reader::Options;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use support::{BIN, Server};

/// What a script printed and how it ended.
#[derive(Debug)]
struct Outcome {
    stdout: String,
    stderr: String,
    code: i32,
}

/// Runs `inmem ARGS -c SCRIPT` with aliases kept in `alias_dir`.
fn inmem(alias_dir: &Path, args: &[&str], script: &str) -> Outcome {
    let output = Command::new(BIN)
        .arg("--data-dir")
        .arg(alias_dir)
        .args(args)
        .args(["-c", script])
        .env("NO_COLOR", "1")
        .env_remove("INMEM_DATA_DIR")
        .env_remove("INMEM_PASSWORD")
        .output()
        .expect("run inmem");
    Outcome {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        code: output.status.code().unwrap_or(-1),
    }
}

/// Runs `script` against the server on `port`.
fn remote(port: u16, alias_dir: &Path, extra: &[&str], script: &str) -> Outcome {
    let target = format!("127.0.0.1:{port}");
    let mut args = vec!["--connect", target.as_str()];
    args.extend(extra);
    inmem(alias_dir, &args, script)
}

/// Runs `script` on a fresh local database.
fn local(extra: &[&str], script: &str) -> Outcome {
    let dir = tempfile::tempdir().expect("temporary directory");
    inmem(dir.path(), extra, script)
}

/// A running redis-server on a free port, without persistence.
struct Redis {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Redis {
    /// Starts redis-server, or None (after printing why) when it is not installed.
    fn start() -> Option<Redis> {
        if !support::have("redis-server") {
            return None;
        }
        // The port is free when chosen, but another process may take it first: try again.
        for _ in 0..5 {
            if let Some(redis) = Redis::try_start(free_port()) {
                return Some(redis);
            }
        }
        panic!("redis-server did not start on any of five free ports");
    }

    fn try_start(port: u16) -> Option<Redis> {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if child.try_wait().expect("wait").is_some() || Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(Redis {
            child,
            port,
            _dir: dir,
        })
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on (just released by the system).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

fn inmem_server() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let server = Server::start(&dir.path().join("server"), &[]);
    (dir, server)
}

/// Every translated keyspace command, in plain output.
const KEYSPACE_SCRIPT: &str = "put a 1; get a; put bin \"a\\x00\\xffb\"; get bin; put b hello 100; ttl b; exists a; exists zz; \
    incr a 5; decr a; incr a -2; decr a 3; keys; keys b*; values; items; size; \
    delete a zz; exists a; expire b 50; ttl b; persist b; persist b; ttl b; ttl zz; \
    put c 1 px 100000; ttl c; get missing; clear; size; keys; values; items";

/// The searches.
const FIND_SCRIPT: &str = "put user:1 alice; put user:2 bob; put admin carol; put us?r odd; \
    find -k -l user:*; find -k -l us?r; find -k -r ^u.*2$; find -k admin; find -k nobody; \
    find -v -l *o*; find -v alice; find -v -r ^(bob|carol)$; find -k -l nothing*";

/// Transactions and batches, with the replies a local database gives too.
const BATCH_SCRIPT: &str = "batch -c \"put x 1; incr x; get x\"; get x; \
    batch -c 'put y 1; put y'; get y";

fn assert_same_as_local(port: u16, script: &str, extra: &[&str]) {
    let alias_dir = tempfile::tempdir().expect("temporary directory");
    let here = local(extra, script);
    let there = remote(port, alias_dir.path(), extra, script);
    assert_eq!(there.stdout, here.stdout, "stdout of {script:?}");
    assert_eq!(there.stderr, here.stderr, "stderr of {script:?}");
    assert_eq!(there.code, here.code, "exit code of {script:?}");
}

fn translated_commands_answer_as_locally(port: u16) {
    assert_same_as_local(port, KEYSPACE_SCRIPT, &[]);
    assert_same_as_local(port, &format!("clear; {KEYSPACE_SCRIPT}"), &["--json"]);
    assert_same_as_local(port, &format!("clear; {FIND_SCRIPT}"), &[]);
    assert_same_as_local(port, &format!("clear; {FIND_SCRIPT}"), &["--json"]);
    assert_same_as_local(port, &format!("clear; {BATCH_SCRIPT}"), &[]);
    // A failing statement: same message, same exit code, --bail stops alike.
    assert_same_as_local(port, "clear; put s abc; incr s; get s", &[]);
    assert_same_as_local(port, "clear; put s abc; incr s; get s", &["--bail"]);
}

#[test]
fn keyspace_commands_against_inmem_serve_answer_as_locally() {
    let (_dir, server) = inmem_server();
    translated_commands_answer_as_locally(server.port);
}

#[test]
fn keyspace_commands_against_redis_server_answer_as_locally() {
    let Some(redis) = Redis::start() else { return };
    translated_commands_answer_as_locally(redis.port);
}

#[test]
fn replies_have_the_expected_forms() {
    let (dir, server) = inmem_server();
    let out = remote(
        server.port,
        dir.path(),
        &[],
        "put a 1; get a; exists a; incr a 5; delete a; get a; keys",
    );
    assert_eq!(out.stdout, "OK\n1\ntrue\n6\n1\n(nil)\n(empty list)\n");
    assert_eq!((out.code, out.stderr.as_str()), (0, ""));
}

fn transactions_queue_and_commit(port: u16) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let out = remote(
        port,
        dir.path(),
        &[],
        "begin; put t 1; incr t; get t; commit; get t; \
         begin; put u 1; rollback; get u; multi; put v 1; exec; get v; begin; commit",
    );
    assert_eq!(
        out.stdout,
        "OK\nQUEUED\nQUEUED\nQUEUED\nOK\n2\n2\n2\nOK\nQUEUED\nOK\n(nil)\nOK\nQUEUED\nOK\n1\nOK\nOK\n"
    );
    assert_eq!(out.code, 0, "{}", out.stderr);

    // Listings need several round trips, so they are refused inside a transaction;
    // a statement the server rejects while queueing makes the commit fail.
    let out = remote(
        port,
        dir.path(),
        &[],
        "begin; put w 1; keys; find -k -l *; commit; get w; begin; put w2 1; nosuchcommand; commit; get w2",
    );
    assert_eq!(out.stdout, "OK\nQUEUED\nOK\n1\nOK\nQUEUED\n(nil)\n");
    let errors: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(errors.len(), 4, "{errors:?}");
    assert!(
        errors[0].ends_with("'keys' is not allowed inside a transaction"),
        "{errors:?}"
    );
    assert!(
        errors[1].ends_with("'find' is not allowed inside a transaction"),
        "{errors:?}"
    );
    assert!(errors[2].contains("unknown command"), "{errors:?}");
    assert!(errors[3].contains("EXECABORT"), "{errors:?}");
    assert_eq!(out.code, 1);

    // A statement that fails when EXEC runs it: the server (inmem as Redis)
    // applies the others, and the commit says so.
    let out = remote(
        port,
        dir.path(),
        &[],
        "put s x; begin; put r1 1; incr s; put r2 1; commit; get r1; get r2",
    );
    assert_eq!(out.stdout, "OK\nOK\nQUEUED\nQUEUED\nQUEUED\n1\n1\n");
    assert_eq!(
        out.stderr,
        "line 1: statement 2 (incr s) failed: value is not an integer or out of range; \
         the server applied the other statements (it does not roll back)\n"
    );

    // Leaving with a transaction open discards it.
    let out = remote(port, dir.path(), &[], "begin; put z 1; get z");
    assert!(
        out.stderr
            .contains("transaction rolled back at end of input: 1 writes discarded"),
        "{}",
        out.stderr
    );
    assert_eq!(remote(port, dir.path(), &[], "get z").stdout, "(nil)\n");
}

#[test]
fn transactions_against_inmem_serve() {
    let (_dir, server) = inmem_server();
    transactions_queue_and_commit(server.port);
}

#[test]
fn transactions_against_redis_server() {
    let Some(redis) = Redis::start() else { return };
    transactions_queue_and_commit(redis.port);
}

fn a_watched_key_that_changed_aborts_the_commit(port: u16) {
    let dir = tempfile::tempdir().expect("temporary directory");
    // EXEC aborts even when the watching client changed the key itself.
    let out = remote(
        port,
        dir.path(),
        &[],
        "watch k; put k 1; begin; put k 2; commit; get k",
    );
    assert_eq!(out.stdout, "OK\nOK\nOK\nQUEUED\n1\n");
    assert_eq!(
        out.stderr,
        "line 1: the transaction was aborted: a watched key changed\n"
    );
}

#[test]
fn watch_against_inmem_serve() {
    let (_dir, server) = inmem_server();
    a_watched_key_that_changed_aborts_the_commit(server.port);
}

#[test]
fn watch_against_redis_server() {
    let Some(redis) = Redis::start() else { return };
    a_watched_key_that_changed_aborts_the_commit(redis.port);
}

fn batches_are_all_or_nothing(port: u16) {
    let dir = tempfile::tempdir().expect("temporary directory");
    // The server refuses the second statement while queueing: nothing is applied.
    let out = remote(
        port,
        dir.path(),
        &[],
        "batch -c 'put p 1; nosuchcommand x'; get p",
    );
    assert_eq!(out.stdout, "(nil)\n");
    assert!(
        out.stderr
            .contains("statement 2 (nosuchcommand x) failed: unknown command"),
        "{}",
        out.stderr
    );
    // Batches from files, in name order, as one transaction.
    std::fs::write(dir.path().join("1.txt"), "put f 1\nincr f 4\n").expect("write");
    std::fs::write(dir.path().join("2.txt"), "get f\n").expect("write");
    let pattern = dir.path().join("*.txt");
    let out = remote(
        port,
        dir.path(),
        &[],
        &format!("batch -f '{}'", pattern.display()),
    );
    assert_eq!(out.stdout, "OK\n5\n5\n");
    assert_eq!(out.code, 0, "{}", out.stderr);
    // A batch whose requests and replies outgrow a socket's buffers goes through whole.
    let big = dir.path().join("big");
    std::fs::create_dir(&big).expect("mkdir");
    let statements: String = (0..20_000).map(|i| format!("put big:{i} {i}\n")).collect();
    std::fs::write(big.join("all.txt"), statements).expect("write");
    let out = remote(
        port,
        dir.path(),
        &[],
        &format!(
            "clear; batch -f '{}'; size; get big:19999",
            big.join("all.txt").display()
        ),
    );
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 20_003, "{}", out.stderr);
    assert_eq!(lines[20_001..], ["20000", "19999"]);
}

#[test]
fn batches_against_inmem_serve() {
    let (_dir, server) = inmem_server();
    batches_are_all_or_nothing(server.port);
}

#[test]
fn batches_against_redis_server() {
    let Some(redis) = Redis::start() else { return };
    batches_are_all_or_nothing(redis.port);
}

#[test]
fn aliases_live_in_the_local_data_dir_without_opening_a_database() {
    let (dir, server) = inmem_server();
    let aliases = dir.path().join("client");
    let out = remote(
        server.port,
        &aliases,
        &[],
        "alias g get; alias fk find -k -l; put a 1; g a; fk a*; show-alias",
    );
    assert_eq!(
        out.stdout,
        "OK\nOK\nOK\n1\na\nfk: find -k -l\ng: get\nset: put\n"
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    // Only alias.json was written there: no lock, no log, no snapshot.
    let files: Vec<String> = std::fs::read_dir(&aliases)
        .expect("alias dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files, ["alias.json"]);
    // A local database on the same directory is not locked out, and sees the alias.
    let out = inmem(&aliases, &[], "put a 7; g a");
    assert_eq!(out.stdout, "OK\n7\n");
    // The next remote session reads the alias back; unalias removes it.
    let out = remote(server.port, &aliases, &[], "g a; unalias g; g a");
    assert_eq!(out.stdout, "1\nOK\n");
    assert!(out.stderr.contains("unknown command 'g'"), "{}", out.stderr);
}

#[test]
fn redis_words_are_sent_as_typed() {
    let (dir, server) = inmem_server();
    let out = remote(
        server.port,
        dir.path(),
        &[],
        "set k hello; append k ' world'; strlen k; mget k nope; getrange k 0 4; nosuch 1",
    );
    assert_eq!(out.stdout, "OK\n11\n11\nhello world\n(nil)\nhello\n");
    assert_eq!(
        out.stderr,
        "line 1: unknown command 'nosuch', with args beginning with: '1' \n"
    );
    assert_eq!(out.code, 1);
}

#[test]
fn redis_only_commands_reach_redis_server() {
    let Some(redis) = Redis::start() else { return };
    let dir = tempfile::tempdir().expect("temporary directory");
    let out = remote(
        redis.port,
        dir.path(),
        &[],
        "hset h f v g w; hgetall h; lpush l a b; lrange l 0 -1; get h; subscribe c",
    );
    assert_eq!(out.stdout, "2\nf: v\ng: w\n2\nb\na\n");
    let errors: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(
        errors,
        [
            "line 1: WRONGTYPE Operation against a key holding the wrong kind of value",
            "line 1: 'subscribe' is not supported over --connect (it changes how the connection works)"
        ]
    );
}

#[test]
fn namespaces_on_inmem_take_names() {
    let (dir, server) = inmem_server();
    let out = remote(
        server.port,
        dir.path(),
        &[],
        "put k 0; use blue; put k 1; keys; size; namespaces; use 0; get k; select 3; size",
    );
    assert_eq!(
        out.stdout,
        "OK\nOK\nOK\nk\n1\n0: 1\nblue: 1\nOK\n0\nOK\n0\n"
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = remote(server.port, dir.path(), &["--namespace", "blue"], "get k");
    assert_eq!(out.stdout, "1\n");
    // dropns needs inmem's own command, and scripts are not asked to confirm.
    let out = remote(server.port, dir.path(), &[], "dropns blue; namespaces");
    assert_eq!(out.stdout, "1\n0: 1\n");
}

#[test]
fn namespaces_on_redis_are_database_numbers() {
    let Some(redis) = Redis::start() else { return };
    let dir = tempfile::tempdir().expect("temporary directory");
    let out = remote(
        redis.port,
        dir.path(),
        &[],
        "put k 0; use blue; use 2; put k 1; put j 1; size; namespaces; use 0; size",
    );
    assert_eq!(out.stdout, "OK\nOK\nOK\nOK\n2\n0: 1\n2: 2\nOK\n1\n");
    assert!(
        out.stderr.contains("'blue' is not a database number"),
        "{}",
        out.stderr
    );
    let out = remote(redis.port, dir.path(), &["--namespace", "2"], "size");
    assert_eq!(out.stdout, "2\n");
    let out = remote(redis.port, dir.path(), &[], "dropns 2");
    assert!(
        out.stderr.contains("dropns needs an inmem server"),
        "{}",
        out.stderr
    );
}

#[test]
fn listings_use_scan_and_never_keys() {
    let Some(redis) = Redis::start() else { return };
    let dir = tempfile::tempdir().expect("temporary directory");
    let out = remote(
        redis.port,
        dir.path(),
        &[],
        "put a 1; keys; keys a*; find -k -l a*; find -k -r a; find -v 1; values; items; info commandstats",
    );
    // INFO's verbatim text is shown as text, after the other results.
    let stats = out
        .stdout
        .split_once("# Commandstats")
        .map(|(_, s)| s)
        .unwrap_or_default();
    assert!(stats.contains("cmdstat_scan:calls=7"), "{stats}");
    assert!(stats.contains("cmdstat_mget:calls=3"), "{stats}");
    assert!(!stats.contains("cmdstat_keys"), "{stats}");
}

#[test]
fn local_commands_stay_local() {
    let (dir, server) = inmem_server();
    let script = dir.path().join("script.txt");
    std::fs::write(&script, "put s 1\nget s\n").expect("write");
    let out = remote(
        server.port,
        dir.path(),
        &[],
        &format!("source '{}'; help get; timing on; get s", script.display()),
    );
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[..3], ["OK", "1", "get <key>"], "{}", out.stdout);
    assert_eq!(lines.last(), Some(&"1"));
    assert!(out.stderr.starts_with("(run time: "), "{}", out.stderr);
}

#[test]
fn server_commands_translate_to_info_config_and_save() {
    let (dir, server) = inmem_server();
    let out = remote(
        server.port,
        dir.path(),
        &["--json"],
        "config get maxmemory; stats; save",
    );
    let lines: Vec<serde_json::Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON value per line"))
        .collect();
    assert_eq!(lines[0], serde_json::json!({"maxmemory": "0"}));
    assert_eq!(
        lines[1]["server"]["tcp_port"],
        serde_json::json!(server.port)
    );
    assert!(lines[1]["keyspace"].is_object(), "{}", lines[1]);
    assert_eq!(lines[2], serde_json::json!("OK"));
    // Files are local things: refused with a reason.
    let out = remote(server.port, dir.path(), &[], "export x.json");
    assert!(
        out.stderr
            .contains("'export' works on a local data directory"),
        "{}",
        out.stderr
    );
}

fn settings_and_maintenance_translate(port: u16) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let out = remote(
        port,
        dir.path(),
        &[],
        "put a 1; compact; stats reset; config set maxmemory 1000000; config get maxmemory; \
         config set maxmemory 0; expire a 0; get a",
    );
    assert_eq!(
        out.stdout,
        "OK\nBackground append only file rewriting started\nOK\nOK\nmaxmemory: 1000000\nOK\ntrue\n(nil)\n"
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn settings_and_maintenance_on_inmem_serve() {
    let (_dir, server) = inmem_server();
    settings_and_maintenance_translate(server.port);
}

#[test]
fn settings_and_maintenance_on_redis_server() {
    let Some(redis) = Redis::start() else { return };
    settings_and_maintenance_translate(redis.port);
}

#[test]
fn connection_failures_are_one_clear_line_and_exit_2() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let port = free_port();
    let out = remote(port, dir.path(), &[], "get a");
    assert_eq!(out.code, 2);
    let prefix = format!("inmem: cannot connect to 127.0.0.1:{port}: ");
    assert!(out.stderr.starts_with(&prefix), "{}", out.stderr);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert_eq!(out.stdout, "");
    // A script file that cannot be read: exit 2 as well.
    let (_server_dir, server) = inmem_server();
    let missing = dir.path().join("missing.txt");
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--connect", &format!("127.0.0.1:{}", server.port), "-f"])
        .arg(&missing)
        .output()
        .expect("run inmem");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with(&format!("inmem: cannot read {}: ", missing.display())),
        "{stderr}"
    );
}

#[test]
fn passwords_are_required_and_checked() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let server = Server::start(&dir.path().join("server"), &["--requirepass", "s3cret"]);
    let target = format!("127.0.0.1:{}", server.port);
    let out = remote(server.port, dir.path(), &[], "get a");
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr,
        format!(
            "inmem: cannot connect to {target}: the server requires a password (use --password)\n"
        )
    );
    let out = remote(server.port, dir.path(), &["--password", "wrong"], "get a");
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("WRONGPASS"), "{}", out.stderr);
    let out = remote(
        server.port,
        dir.path(),
        &["--password", "s3cret"],
        "put a 1; get a",
    );
    assert_eq!((out.stdout.as_str(), out.code), ("OK\n1\n", 0));
}

fn dropped_connections_reconnect_on_the_next_statement(port: u16) {
    let dir = tempfile::tempdir().expect("temporary directory");
    // The server closes this very connection after answering CLIENT KILL.
    let out = remote(
        port,
        dir.path(),
        &[],
        "use 1; put a 1; client kill type normal skipme no; get a; get a",
    );
    assert_eq!(out.stdout, "OK\nOK\n1\n1\n", "{}", out.stderr);
    let target = format!("127.0.0.1:{port}");
    let errors: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].starts_with(&format!("line 1: connection to {target} lost: ")),
        "{errors:?}"
    );
    assert!(
        errors[0].ends_with("; the next statement reconnects"),
        "{errors:?}"
    );
    // Back in namespace 1, where `a` is.
    assert_eq!(errors[1], format!("inmem: reconnected to {target}"));
    assert_eq!(out.code, 1);
}

#[test]
fn dropped_connection_to_inmem_serve() {
    let (_dir, server) = inmem_server();
    dropped_connections_reconnect_on_the_next_statement(server.port);
}

#[test]
fn dropped_connection_to_redis_server() {
    let Some(redis) = Redis::start() else { return };
    dropped_connections_reconnect_on_the_next_statement(redis.port);
}

#[test]
fn a_server_that_went_away_is_reported_on_each_statement() {
    let (dir, server) = inmem_server();
    let mut child = std::process::Command::new(BIN)
        .arg("--data-dir")
        .arg(dir.path().join("client"))
        .args(["--connect", &format!("127.0.0.1:{}", server.port)])
        .env_remove("INMEM_DATA_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn inmem --connect");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    writeln!(stdin, "put a 1").expect("write");
    let mut line = String::new();
    stdout.read_line(&mut line).expect("read");
    assert_eq!(line, "OK\n");
    let status = server.signal("TERM");
    assert!(status.success(), "{status:?}");
    writeln!(stdin, "get a\nget a").expect("write");
    drop(stdin);
    let output = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(lines[0].contains("lost"), "{stderr}");
    assert!(lines[1].contains("not connected to 127.0.0.1:"), "{stderr}");
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn the_prompt_works_against_a_server() {
    let (dir, server) = inmem_server();
    let mut command = std::process::Command::new(BIN);
    command
        .arg("--data-dir")
        .arg(dir.path().join("client"))
        .args(["--connect", &format!("127.0.0.1:{}", server.port)])
        .env("INMEM_HISTFILE", dir.path().join("history"))
        .env("NO_COLOR", "1")
        .env("TERM", "xterm")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("INMEM_DATA_DIR");
    let options = Options::new()
        .timeout_ms(Some(30_000))
        .strip_ansi_escape_codes(true);
    let mut pty = rexpect::session::spawn_with_options(command, options).expect("spawn on a pty");
    let expect = |pty: &mut rexpect::session::PtySession, needle: &str| {
        pty.exp_string(needle)
            .unwrap_or_else(|e| panic!("waiting for {needle:?}: {e}"))
    };
    expect(
        &mut pty,
        &format!("connected to 127.0.0.1:{} (inmem", server.port),
    );
    expect(&mut pty, "cmd>> ");
    let run = |pty: &mut rexpect::session::PtySession, line: &str, reply: &str, prompt: &str| {
        pty.send_line(line).expect("send");
        expect(pty, &format!("\n{reply}\r\n"));
        expect(pty, prompt);
    };
    run(&mut pty, "put user:1 alice", "OK", "cmd>> ");
    run(&mut pty, "get user:1", "\"alice\"", "cmd>> ");
    // Tab completes a key with SCAN on the server.
    pty.send("get us\t").expect("send");
    pty.flush().expect("flush");
    expect(&mut pty, "get user:1 ");
    run(&mut pty, "", "\"alice\"", "cmd>> ");
    run(&mut pty, "begin", "OK", "cmd(TX)>> ");
    run(&mut pty, "incr n", "QUEUED", "cmd(TX)>> ");
    run(&mut pty, "commit", "1) (integer) 1", "cmd>> ");
    run(&mut pty, "use blue", "OK", "cmd[blue]>> ");
    run(&mut pty, "keys", "(empty list)", "cmd[blue]>> ");
    run(&mut pty, "put k 1", "OK", "cmd[blue]>> ");
    run(&mut pty, "use 0", "OK", "cmd>> ");
    // Destructive commands ask first at the prompt, as locally.
    pty.send_line("dropns blue").expect("send");
    expect(&mut pty, "Drop namespace 'blue' and all its keys? [y/N] ");
    pty.send_line("y").expect("send");
    expect(&mut pty, "(integer) 1\r\n");
    expect(&mut pty, "cmd>> ");
    pty.send_line("exit").expect("send");
    pty.exp_eof().expect("inmem ends after exit");
}
