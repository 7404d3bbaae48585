//! The `inmem` binary driven as users drive it: scripts piped in, `-f`, `-c`,
//! `--json`, exit codes, and answers read back while the pipe stays open.

use assert_cmd::Command;
use predicates::prelude::*;
use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::Duration;

/// The binary on a fresh data directory.
fn inmem(dir: &tempfile::TempDir) -> Command {
    let mut cmd = Command::cargo_bin("inmem").unwrap();
    cmd.arg("--data-dir").arg(dir.path()).env("NO_COLOR", "1");
    cmd
}

fn stdout_of(dir: &tempfile::TempDir, script: &str) -> String {
    let out = inmem(dir).write_stdin(script).output().unwrap();
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn seed_alias_example() {
    let dir = tempfile::tempdir().unwrap();
    let script =
        "put z 1\nput 2 1\nalias k keys\nk\nalias i items\ni\nalias v values\nshow-alias\nexit\n";
    inmem(&dir)
        .write_stdin(script)
        .assert()
        .success()
        .stdout("OK\nOK\nOK\n2\nz\nOK\n2\t1\nz\t1\nOK\ni: items\nk: keys\nset: put\nv: values\n")
        .stderr("");
    // The aliases were saved in alias.json, and the data in the log; both
    // come back in the next process.
    let saved = std::fs::read_to_string(dir.path().join("alias.json")).unwrap();
    assert!(saved.contains("\"k\": \"keys\""), "{saved}");
    assert_eq!(stdout_of(&dir, "put a 1\nk\n"), "OK\n2\na\nz\n");
}

#[test]
fn seed_batch_example() {
    let dir = tempfile::tempdir().unwrap();
    inmem(&dir)
        .write_stdin("batch -c \"put a 1 10000; put b 1 10000; get a; get b;\"\n")
        .assert()
        .success()
        .stdout("OK\nOK\n1\n1\n");
}

#[test]
fn seed_find_example() {
    let dir = tempfile::tempdir().unwrap();
    let script =
        "put a 1 10000\nput b 2 10000\nput c 1 10000\nitems\nfind -k a\nfind -k -l *\nfind -v 1\n";
    inmem(&dir)
        .write_stdin(script)
        .assert()
        .success()
        .stdout("OK\nOK\nOK\na\t1\nb\t2\nc\t1\na\na\nb\nc\na\t1\nc\t1\n");
}

#[test]
fn seed_usage_example() {
    let dir = tempfile::tempdir().unwrap();
    let script = "put a 1\nput b 2\nput c 3\nkeys\ndelete c\nexists c\nsize\nexit\nput never 1\n";
    inmem(&dir)
        .write_stdin(script)
        .assert()
        .success()
        .stdout("OK\nOK\nOK\na\nb\nc\n1\nfalse\n2\n");
}

#[test]
fn errors_name_the_line_and_the_rest_still_runs() {
    let dir = tempfile::tempdir().unwrap();
    inmem(&dir)
        .write_stdin("put a 1\nfrobnicate\nput b x 5s\nincr a\nget a\n")
        .assert()
        .code(1)
        .stdout("OK\n2\n2\n")
        .stderr(
            "line 2, column 1: unknown command 'frobnicate' (type 'help' for the list)\n\
             line 3, column 9: expected an integer for ttl_seconds, found '5s'\n",
        );
}

#[test]
fn parse_errors_show_a_caret_and_run_nothing_on_that_line() {
    let dir = tempfile::tempdir().unwrap();
    inmem(&dir)
        .write_stdin("put a 1\nput b \"x\"y; put c 1\nkeys\n")
        .assert()
        .code(1)
        .stdout("OK\na\n")
        .stderr(
            predicate::str::starts_with("line 2, column 10: ").and(predicate::str::contains(
                "put b \"x\"y; put c 1\n         ^",
            )),
        );
}

#[test]
fn unclosed_quote_continues_on_the_next_line() {
    let dir = tempfile::tempdir().unwrap();
    inmem(&dir)
        .write_stdin("put poem \"roses\nare red\"\nget poem\n")
        .assert()
        .success()
        .stdout("OK\n\"roses\\nare red\"\n");
    inmem(&dir)
        .write_stdin("put a 1\nput b \"never closed\n")
        .assert()
        .code(1)
        .stdout("OK\n")
        .stderr(predicate::str::contains(
            "\nline 2, column 7: unclosed double quote",
        ));
}

#[test]
fn bail_stops_at_the_first_error() {
    let dir = tempfile::tempdir().unwrap();
    inmem(&dir)
        .arg("--bail")
        .write_stdin("put a 1\nincr nothing here\nput b 2\n")
        .assert()
        .code(1)
        .stdout("OK\n")
        .stderr(predicate::str::contains("line 2"));
}

#[test]
fn command_option_and_file_option() {
    let dir = tempfile::tempdir().unwrap();
    inmem(&dir)
        .args(["-c", "put a 1; get a; incr a 41"])
        .assert()
        .success()
        .stdout("OK\n1\n42\n");
    let script = dir.path().join("script.cmd");
    std::fs::write(
        &script,
        "# a comment\nput x hello # trailing comment\nget x\n",
    )
    .unwrap();
    inmem(&dir)
        .arg("-f")
        .arg(&script)
        .assert()
        .success()
        .stdout("OK\nhello\n");
    inmem(&dir)
        .args(["-f", "/nonexistent/script"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot read /nonexistent/script"));
}

#[test]
fn source_runs_a_file_statement_by_statement() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    std::fs::write(sub.join("inner.cmd"), "put inner 1\nbad\n").unwrap();
    // Relative paths inside a sourced file are relative to that file.
    std::fs::write(sub.join("outer.cmd"), "put outer 1\nsource inner.cmd\n").unwrap();
    std::fs::write(sub.join("loop.cmd"), "source loop.cmd\n").unwrap();
    inmem(&dir)
        .current_dir(dir.path())
        .write_stdin("source sub/outer.cmd\nkeys\nsource sub/loop.cmd\n")
        .assert()
        .code(1)
        .stdout("OK\nOK\ninner\nouter\n")
        .stderr(
            predicate::str::contains("sub/inner.cmd: line 2, column 1: unknown command 'bad'")
                .and(predicate::str::contains("nested more than 16 deep")),
        );
}

#[test]
fn json_mode_prints_one_line_per_statement() {
    let dir = tempfile::tempdir().unwrap();
    let script = "put a 1\nget a\nget missing\ndelete a b\nsize\nincr n 5\nttl n\nexists n\nexpire n 10\n\
                  persist n\nkeys\nvalues\nitems\nfind -k n\nfind -v 5\nshow-alias\nbatch -c \"put x 1; get x\"\nnope\n\
                  put bin \"\\xff\"\nget bin\n";
    let out = inmem(&dir)
        .arg("--json")
        .write_stdin(script)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(
        lines,
        [
            r#""OK""#,
            r#""1""#,
            "null",
            "1",
            "0",
            "5",
            "-1",
            "true",
            "true",
            "true",
            r#"["n"]"#,
            r#"["5"]"#,
            r#"[["n","5"]]"#,
            r#"["n"]"#,
            r#"[["n","5"]]"#,
            r#"{"set":"put"}"#,
            r#"["OK","1"]"#,
            r#"{"error":"line 18, column 1: unknown command 'nope' (type 'help' for the list)","line":18}"#,
            r#""OK""#,
            r#"{"base64":"/w=="}"#,
        ]
    );
    for line in lines {
        serde_json::from_str::<serde_json::Value>(line).unwrap();
    }
}

#[test]
fn leaving_with_an_open_transaction_rolls_it_back() {
    let dir = tempfile::tempdir().unwrap();
    inmem(&dir)
        .write_stdin("begin\nput a 1\nget a\n")
        .assert()
        .success()
        .stdout("OK\nOK\n1\n")
        .stderr("transaction rolled back at end of input: 1 writes discarded\n");
}

#[test]
fn echo_prints_each_statement_before_its_result() {
    let dir = tempfile::tempdir().unwrap();
    inmem(&dir)
        .arg("--echo")
        .write_stdin("put a 1; get a\n")
        .assert()
        .success()
        .stdout("put a 1\nOK\nget a\n1\n");
}

#[test]
fn malformed_alias_file_stops_start_up() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("alias.json"), "{\"k\": 3}").unwrap();
    inmem(&dir)
        .write_stdin("keys\n")
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("alias.json: line 1, column"));
}

#[test]
fn help_and_version_tell_the_truth() {
    let dir = tempfile::tempdir().unwrap();
    inmem(&dir).arg("--help").assert().success().stdout(
        predicate::str::contains("--data-dir <DIR>")
            .and(predicate::str::contains("--json"))
            .and(predicate::str::contains("--bail"))
            .and(predicate::str::contains("[default: ./meta-data]")),
    );
    inmem(&dir)
        .arg("--version")
        .assert()
        .success()
        .stdout(format!("inmem {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn data_dir_is_created_when_missing() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a/b/c");
    Command::cargo_bin("inmem")
        .unwrap()
        .arg("--data-dir")
        .arg(&nested)
        .write_stdin("alias k keys\n")
        .assert()
        .success();
    assert!(nested.join("alias.json").exists());
}

#[test]
fn answers_arrive_while_the_pipe_is_still_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("inmem"))
        .arg("--data-dir")
        .arg(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    // Each answer must come back before the next statement is sent.
    for (statement, answer) in [("put a 1", "OK"), ("incr a", "2"), ("get a", "2")] {
        writeln!(stdin, "{statement}").unwrap();
        stdin.flush().unwrap();
        let got = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("answer while pipe open");
        assert_eq!(got, answer);
    }
    // A quoted statement (not split ahead) and a line sent in two writes,
    // the second only after a pause, answer the same way.
    writeln!(stdin, "put q \"a b\"; get q").unwrap();
    stdin.flush().unwrap();
    for answer in ["OK", "a b"] {
        let got = rx.recv_timeout(Duration::from_secs(30)).expect("answer");
        assert_eq!(got, answer);
    }
    write!(stdin, "put half").unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    writeln!(stdin, "way 3; get halfway").unwrap();
    stdin.flush().unwrap();
    for answer in ["OK", "3"] {
        let got = rx.recv_timeout(Duration::from_secs(30)).expect("answer");
        assert_eq!(got, answer);
    }
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

#[test]
fn closed_stdout_is_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let script: String = (0..20000).map(|i| format!("put k{i} v\n")).collect();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("inmem"))
        .arg("--data-dir")
        .arg(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut stdin = child.stdin.take().unwrap();
    // The process may stop reading once its output is gone; a failed write here is fine.
    let _ = stdin.write_all(script.as_bytes());
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.code().is_some(), "exited, not killed by SIGPIPE");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

#[test]
fn namespace_option_timing_and_stats_in_scripts() {
    let dir = tempfile::tempdir().unwrap();
    inmem(&dir)
        .args([
            "--namespace",
            "app1",
            "--json",
            "-c",
            "put a 1; namespaces; timing on; get a",
        ])
        .assert()
        .success()
        .stdout("\"OK\"\n{\"0\":0,\"app1\":1}\n\"OK\"\n\"1\"\n")
        // `timing on` itself is timed, then `get a`.
        .stderr(predicate::str::is_match(r"^(\(run time: \d+\.\d{3} ms\)\n){2}$").unwrap());
    inmem(&dir)
        .args(["-c", "keys; use app1; keys"])
        .assert()
        .success()
        .stdout("(empty list)\nOK\na\n");
    let out = inmem(&dir)
        .args(["--json", "-c", "stats"])
        .output()
        .unwrap();
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for field in [
        "keys",
        "persistent_keys",
        "expiring_keys",
        "hits",
        "misses",
        "evictions",
        "expired",
        "latency_us",
    ] {
        assert!(stats.get(field).is_some(), "stats lacks {field}: {stats}");
    }
    assert_eq!(stats["namespaces"]["app1"]["keys"], 1);
}

#[test]
fn capacity_options_limit_the_keyspace() {
    let dir = tempfile::tempdir().unwrap();
    inmem(&dir)
        .args([
            "--max-keys",
            "2",
            "--eviction",
            "allkeys-lru",
            "-c",
            "put a 1; put b 1; get a; put c 1; keys",
        ])
        .assert()
        .success()
        .stdout("OK\nOK\n1\nOK\na\nc\n");
    inmem(&dir)
        .args(["--max-keys", "2", "-c", "put d 1"])
        .assert()
        .code(1)
        .stderr(predicate::str::ends_with(
            "\nline 1: out of memory: max-keys 2 reached and policy noeviction has no key to evict\n",
        ));
    inmem(&dir)
        .args(["--eviction", "lru"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown eviction policy 'lru'"));
}

#[test]
fn command_log_hides_values_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    inmem(&dir)
        .args(["-c", "put token s3cret; get token"])
        .assert()
        .success();
    let log = std::fs::read_to_string(dir.path().join("command.log")).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 2, "{log}");
    assert!(lines[0].ends_with(" put token <value hidden>"), "{log}");
    assert!(lines[1].ends_with(" get token"), "{log}");
    assert!(!log.contains("s3cret"));
    inmem(&dir)
        .args(["--log-values", "-c", "put token s3cret"])
        .assert()
        .success();
    let log = std::fs::read_to_string(dir.path().join("command.log")).unwrap();
    assert!(
        log.lines().last().unwrap().ends_with(" put token s3cret"),
        "{log}"
    );
    inmem(&dir)
        .args(["--log-level", "loud", "-c", "size"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--log-level"));
}

/// The same script run from standard input and with `-f file` (which holds
/// it), each on a fresh data directory: (from the file?, directory, command).
fn both_ways(file: &std::path::Path, script: &str) -> Vec<(bool, tempfile::TempDir, Command)> {
    [false, true]
        .into_iter()
        .map(|from_file| {
            let data = tempfile::tempdir().unwrap();
            let mut cmd = inmem(&data);
            if from_file {
                cmd.arg("-f").arg(file);
            } else {
                cmd.write_stdin(script.to_string());
            }
            (from_file, data, cmd)
        })
        .collect()
}

#[test]
fn long_scripts_mix_plain_and_other_lines_across_input_buffers() {
    // Over 64 KiB of input, so lines straddle the reader's buffer; plain
    // lines run from the buffer, the others through the full grammar, and
    // errors far into the file still name their line.
    let dir = tempfile::tempdir().unwrap();
    let mut script = String::new();
    let mut expected = String::new();
    let mut line = 0;
    for i in 0..6000 {
        line += 1;
        match i {
            1234 => {
                script.push_str("put quoted \"a b\"; get quoted # both\n");
                expected.push_str("OK\na b\n");
            }
            2500 => script.push_str("frobnicate x\n"),
            3000 => {
                script.push_str("put \u{e9} \u{fc}\r\nget \u{e9}\n");
                expected.push_str("OK\n\u{fc}\n");
                line += 1;
            }
            4000 => {
                script.push_str("put multi 'x\ny'; get multi\n");
                expected.push_str("OK\n\"x\\ny\"\n");
                line += 1;
            }
            5999 => {
                assert_eq!(line, 6002);
                script.push_str("get k1;  ;\tput k2 2 3 4 5\n");
                expected.push_str("v1\n");
            }
            _ => {
                script.push_str(&format!("put k{i} v{i} ;get k{i}\n"));
                expected.push_str(&format!("OK\nv{i}\n"));
            }
        }
    }
    assert!(script.len() > 2 << 16);
    let file = dir.path().join("script.txt");
    std::fs::write(&file, &script).unwrap();
    for (_, _data, mut cmd) in both_ways(&file, &script) {
        cmd.assert().code(1).stdout(expected.clone()).stderr(
            "line 2501, column 1: unknown command 'frobnicate' (type 'help' for the list)\n\
             line 6002, column 25: wrong number of arguments for 'put': \
             usage: put <key> <value> [ttl_seconds | px <milliseconds>]\n",
        );
    }
}

#[test]
fn a_refused_put_in_a_run_of_puts_fails_on_its_own_line() {
    // Plain puts run together under one hold of the engine's lock; the
    // first one refused must still fail alone, and --bail must leave the
    // ones after it unrun.
    let script = "put a 1\nput b 2\nput c 3\nput d 4\nput b 5\n";
    let dir = tempfile::tempdir().unwrap();
    inmem(&dir)
        .args(["--max-keys", "2"])
        .write_stdin(script)
        .assert()
        .code(1)
        .stdout("OK\nOK\nOK\n")
        .stderr(predicate::str::contains("line 3: out of memory"))
        .stderr(predicate::str::contains("line 4: out of memory"));
    assert_eq!(stdout_of(&dir, "get a; get b; exists c"), "1\n5\nfalse\n");
    let bailed = tempfile::tempdir().unwrap();
    inmem(&bailed)
        .args(["--max-keys", "2", "--bail"])
        .write_stdin(script)
        .assert()
        .code(1)
        .stdout("OK\nOK\n")
        .stderr(predicate::str::contains("line 3: out of memory"))
        .stderr(predicate::str::contains("line 4").not());
    assert_eq!(
        stdout_of(&bailed, "get a; get b; exists c"),
        "1\n2\nfalse\n"
    );
}

#[test]
fn refused_puts_inside_full_runs_of_puts_each_fail_on_their_own_line() {
    // Plain puts run in runs of up to 128; with room for 200 keys the
    // refusals start inside the second run and fill the third, and a put
    // that replaces a key still succeeds at the limit.
    let mut script: String = (1..=300).map(|i| format!("put k{i} v{i}\n")).collect();
    script.push_str("put k1 again\n");
    let refused = |line: usize| {
        format!(
            "line {line}: out of memory: max-keys 200 reached and policy noeviction has no key to evict\n"
        )
    };
    let dir = tempfile::tempdir().unwrap();
    inmem(&dir)
        .args(["--max-keys", "200"])
        .write_stdin(script.clone())
        .assert()
        .code(1)
        .stdout("OK\n".repeat(201))
        .stderr((201..=300).map(refused).collect::<String>());
    assert_eq!(
        stdout_of(&dir, "size; get k1; get k200; exists k201"),
        "200\nagain\nv200\nfalse\n"
    );
    let bailed = tempfile::tempdir().unwrap();
    inmem(&bailed)
        .args(["--max-keys", "200", "--bail"])
        .write_stdin(script)
        .assert()
        .code(1)
        .stdout("OK\n".repeat(200))
        .stderr(refused(201));
    assert_eq!(
        stdout_of(&bailed, "size; get k1; exists k201"),
        "200\nv1\nfalse\n"
    );
}

#[test]
fn stats_and_the_command_log_count_every_statement_of_a_long_script() {
    let dir = tempfile::tempdir().unwrap();
    let mut script: String = (0..3000).map(|i| format!("put k{i} v{i}\n")).collect();
    script.push_str("stats\n");
    let out = inmem(&dir)
        .arg("--json")
        .write_stdin(script)
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stats: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(stats["ops"], 3000, "{stats}");
    assert_eq!(stats["latency_us"]["put"]["count"], 3000, "{stats}");
    let log = std::fs::read_to_string(dir.path().join("command.log")).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 3001);
    for (i, line) in lines[..3000].iter().enumerate() {
        assert!(
            line.ends_with(&format!("us put k{i} <value hidden>")),
            "line {i}: {line}"
        );
    }
    assert!(lines[3000].ends_with("us stats"), "{}", lines[3000]);
}

/// A script built with the output it must give.
#[derive(Default)]
struct Expected {
    script: String,
    stdout: String,
    /// Lines of `script` so far.
    lines: usize,
    /// Plain puts so far.
    puts: usize,
}

impl Expected {
    /// Appends `text` (whole lines) and what running it shows.
    fn push(&mut self, text: &str, stdout: &str) {
        self.script.push_str(text);
        self.stdout.push_str(stdout);
        self.lines += text.matches('\n').count();
    }

    /// Appends plain puts while one more, and `room` bytes after it, fit before `end`.
    fn puts_until(&mut self, end: usize, room: usize) {
        loop {
            let line = format!("put p{0} v{0}\n", self.puts);
            if self.script.len() + line.len() + room > end {
                return;
            }
            self.push(&line, "OK\n");
            self.puts += 1;
        }
    }

    /// Appends `put KEY "aaa\ntail"` with its newline at byte `at`, then a
    /// `get` of it.
    fn quoted_newline_at(&mut self, key: &str, at: usize) {
        let head = format!("put {key} \"");
        self.puts_until(at, head.len());
        let a = "a".repeat(at - self.script.len() - head.len());
        self.push(&format!("{head}{a}\ntail\"\n"), "OK\n");
        assert_eq!(self.script.as_bytes()[at], b'\n');
        self.push(&format!("get {key}\n"), &format!("\"{a}\\ntail\"\n"));
    }
}

#[test]
fn scripts_larger_than_the_reading_threads_blocks_run_as_read() {
    // The reading thread reads 256 KiB blocks (from a file, exactly that)
    // and splits their plain lines ahead. Statements straddling blocks,
    // quoted newlines on a block's last and first byte, errors, `source`
    // and --bail far into the input run exactly as they read.
    const BLOCK: usize = 1 << 18;
    let dir = tempfile::tempdir().unwrap();
    let sourced = dir.path().join("sourced.txt");
    std::fs::write(&sourced, "put s 1\nget s\n").unwrap();
    let mut e = Expected::default();
    e.quoted_newline_at("q1", BLOCK - 1);
    e.quoted_newline_at("q2", 2 * BLOCK);
    e.puts_until(2 * BLOCK + 5000, 0);
    e.push("frobnicate x\n", "");
    let error_line = e.lines;
    let before_error = e.stdout.clone();
    e.push(&format!("source {}\n", sourced.display()), "OK\n1\n");
    e.puts_until(3 * BLOCK - 10, 0);
    let value = "v".repeat(100);
    e.push(
        &format!("put long {value}; get long\n"),
        &format!("OK\n{value}\n"),
    );
    assert!(e.script.len() > 3 * BLOCK);
    e.puts_until(3 * BLOCK + 100, 0);
    e.push("put short\n", "");
    let stderr = format!(
        "line {error_line}, column 1: unknown command 'frobnicate' (type 'help' for the list)\n\
         line {}, column 1: wrong number of arguments for 'put': \
         usage: put <key> <value> [ttl_seconds | px <milliseconds>]\n",
        e.lines
    );
    let file = dir.path().join("script.txt");
    std::fs::write(&file, &e.script).unwrap();
    for (from_file, data, mut cmd) in both_ways(&file, &e.script) {
        cmd.assert()
            .code(1)
            .stdout(e.stdout.clone())
            .stderr(stderr.clone());
        assert_eq!(
            stdout_of(&data, "dbsize"),
            format!("{}\n", e.puts + 4),
            "from file: {from_file}"
        );
        let bailed = tempfile::tempdir().unwrap();
        let mut bail = inmem(&bailed);
        bail.arg("--bail");
        if from_file {
            bail.arg("-f").arg(&file);
        } else {
            bail.write_stdin(e.script.clone());
        }
        bail.assert()
            .code(1)
            .stdout(before_error.clone())
            .stderr(predicate::str::starts_with(format!(
                "line {error_line}, column 1"
            )))
            .stderr(predicate::str::contains("wrong number").not());
        assert_eq!(stdout_of(&bailed, "get s; get long"), "(nil)\n(nil)\n");
    }
}
