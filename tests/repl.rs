//! The interactive prompt driven through a pseudo-terminal, as a person at a
//! terminal drives it: prompts, answers, Tab completion, hints, transactions,
//! continuation lines, Ctrl-C, Ctrl-D, `exit` and history.
//!
//! Every step waits for the output it needs (never for a fixed time): the
//! prompt is drawn only once rustyline has switched the terminal to raw mode,
//! so keys sent after it are read by the line editor rather than the tty.

use rexpect::process::WaitStatus;
use rexpect::reader::Options;
use rexpect::session::PtySession;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The prompt outside a transaction.
const PROMPT: &str = "cmd>> ";
/// The prompt inside a transaction.
const TX_PROMPT: &str = "cmd(TX)>> ";
/// The prompt while a quoted word is still open.
const MORE_PROMPT: &str = "...> ";
/// The Up arrow as an xterm sends it.
const UP: &str = "\x1b[A";

/// A data directory and a history file, both removed with the test.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        Fixture {
            dir: tempfile::tempdir().expect("cannot create a temporary directory"),
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn history(&self) -> PathBuf {
        self.dir.path().join("history")
    }

    /// Starts the REPL on a pseudo-terminal and waits for its first prompt.
    fn start(&self) -> Repl {
        self.start_on(&self.data_dir())
    }

    /// Like [`Fixture::start`], on another data directory (same history file).
    fn start_on(&self, data_dir: &Path) -> Repl {
        let mut repl = Repl::spawn(data_dir, &self.history());
        repl.expect(PROMPT, "the first prompt");
        repl
    }

    /// Starts the REPL without waiting for anything.
    fn spawn(&self) -> Repl {
        Repl::spawn(&self.data_dir(), &self.history())
    }
}

/// One running `inmem` on a pseudo-terminal.
struct Repl {
    session: PtySession,
}

impl Repl {
    fn spawn(data_dir: &Path, history: &Path) -> Repl {
        let mut command = Command::new(env!("CARGO_BIN_EXE_inmem"));
        command
            .arg("--data-dir")
            .arg(data_dir)
            .env("INMEM_HISTFILE", history)
            .env("NO_COLOR", "1")
            .env_remove("CLICOLOR_FORCE")
            .env_remove("INMEM_DATA_DIR")
            // A terminal rustyline supports. With TERM=dumb (or emacs, cons25)
            // rustyline falls back to reading plain lines in cooked mode: no
            // Tab completion, no hints, no history recall, and Ctrl-C reaches
            // the process as SIGINT and kills it. xterm gets the full editor,
            // and its escape sequences are stripped from what we read.
            .env("TERM", "xterm");
        let options = Options::new()
            .timeout_ms(Some(30_000))
            .strip_ansi_escape_codes(true);
        let session = rexpect::session::spawn_with_options(command, options)
            .unwrap_or_else(|e| panic!("cannot start inmem on a pty: {e}"));
        Repl { session }
    }

    /// Waits for `needle`; returns the output before it. `step` says what was
    /// awaited, for the failure message.
    fn expect(&mut self, needle: &str, step: &str) -> String {
        self.session
            .exp_string(needle)
            .unwrap_or_else(|e| panic!("waiting for {needle:?} ({step}): {e}"))
    }

    /// Types `text` without pressing Enter.
    fn type_text(&mut self, text: &str) {
        let sent = self.session.send(text).and_then(|_| self.session.flush());
        sent.unwrap_or_else(|e| panic!("cannot type {text:?}: {e}"));
    }

    /// Types `line` and presses Enter.
    fn enter(&mut self, line: &str) {
        self.session
            .send_line(line)
            .unwrap_or_else(|e| panic!("cannot send {line:?}: {e}"));
    }

    fn control(&mut self, key: char) {
        self.session
            .send_control(key)
            .unwrap_or_else(|e| panic!("cannot send Ctrl-{key}: {e}"));
    }

    /// Runs `line`, waits for `reply` on a line of its own, then for `prompt`;
    /// returns what was shown before the reply (the echo of the typing).
    fn run(&mut self, line: &str, reply: &str, prompt: &str) -> String {
        self.enter(line);
        // The reply starts a fresh line after the echoed input; anchoring on
        // the line break keeps an echo of the input from matching.
        let echo = self.expect(&format!("\n{reply}\r\n"), line);
        self.expect(prompt, &format!("the prompt after {line:?}"));
        echo
    }

    /// Waits for the process to end; returns everything it printed meanwhile
    /// and its exit status.
    fn finish(mut self, step: &str) -> (String, WaitStatus) {
        let rest = self
            .session
            .exp_eof()
            .unwrap_or_else(|e| panic!("waiting for inmem to end ({step}): {e}"));
        let status = self
            .session
            .process()
            .wait()
            .unwrap_or_else(|e| panic!("cannot wait for inmem ({step}): {e}"));
        (rest, status)
    }
}

fn assert_exit_0(status: WaitStatus, step: &str) {
    assert!(
        matches!(status, WaitStatus::Exited(_, 0)),
        "{step}: inmem should exit with status 0, got {status:?}"
    );
}

/// The last words of a session with nothing to roll back: no messages at all.
fn assert_quiet_exit(rest: &str, status: WaitStatus, step: &str) {
    assert!(
        !rest.contains("rolled back") && !rest.contains("inmem:") && !rest.contains("(error)"),
        "{step}: nothing should be printed on leaving, got {rest:?}"
    );
    assert_exit_0(status, step);
}

#[test]
fn banner_prompt_and_answers() {
    let fixture = Fixture::new();
    let mut repl = fixture.spawn();
    let banner = format!(
        "inmem {} on {} (type 'help' for commands, Tab to complete, Ctrl-D to leave)\r\n",
        env!("CARGO_PKG_VERSION"),
        fixture.data_dir().display()
    );
    repl.expect(&banner, "the banner");
    repl.expect(PROMPT, "the first prompt");
    repl.run("put a 1", "OK", PROMPT);
    repl.run("get a", "\"1\"", PROMPT);
    repl.run("incr n 5", "(integer) 5", PROMPT);
    repl.run("get missing", "(nil)", PROMPT);
    // Lines are numbered across the session, as in a script.
    repl.enter("get a b");
    repl.expect("\n(error) line 5, column 7: ", "the error's position");
    repl.expect("wrong number of arguments for 'get'", "the error's message");
    repl.expect(PROMPT, "the prompt after the error");
    // Still alive and answering after the error.
    repl.run("get a", "\"1\"", PROMPT);
}

#[test]
fn tab_completes_commands_and_keys() {
    let fixture = Fixture::new();
    let mut repl = fixture.start();
    repl.run("put a 1", "OK", PROMPT);
    repl.run("put user:1 alice", "OK", PROMPT);
    repl.run("put other 2", "OK", PROMPT);

    // `ge` + Tab becomes `get ` (with the hint for its argument after it);
    // without the completion `gea` would be an unknown command.
    repl.type_text("ge\t");
    repl.expect("cmd>> get ", "`ge` + Tab completed to `get `");
    repl.run("a", "\"1\"", PROMPT);

    // A key after the command word completes from the keyspace.
    repl.type_text("get us\t");
    repl.expect("cmd>> get user:1 ", "`get us` + Tab completed to the key");
    repl.run("", "\"alice\"", PROMPT);
}

#[test]
fn hint_shows_the_remaining_arguments() {
    let fixture = Fixture::new();
    let mut repl = fixture.start();
    repl.type_text("put ");
    repl.expect(
        "cmd>> put <key> <value> [ttl_seconds | px <milliseconds>]",
        "the hint after `put `",
    );
    // The hint shrinks as arguments are typed.
    repl.type_text("k ");
    repl.expect(
        "cmd>> put k <value> [ttl_seconds | px <milliseconds>]",
        "the hint after `put k `",
    );
    // The hint is only shown, never part of the line that runs.
    repl.run("v", "OK", PROMPT);
    repl.run("get k", "\"v\"", PROMPT);
}

#[test]
fn transaction_changes_the_prompt() {
    let fixture = Fixture::new();
    let mut repl = fixture.start();
    repl.run("begin", "OK", TX_PROMPT);
    repl.run("put t 1", "OK", TX_PROMPT);
    repl.run("rollback", "OK", PROMPT);
    repl.run("get t", "(nil)", PROMPT);
    repl.run("begin", "OK", TX_PROMPT);
    repl.run("commit", "OK", PROMPT);
}

#[test]
fn open_quotes_continue_on_the_next_line() {
    let fixture = Fixture::new();
    let mut repl = fixture.start();
    repl.enter("put poem \"roses");
    repl.expect(MORE_PROMPT, "the continuation prompt for a double quote");
    repl.run("are red\"", "OK", PROMPT);
    repl.run("get poem", "\"roses\\nare red\"", PROMPT);

    repl.enter("put s 'one");
    repl.expect(MORE_PROMPT, "the continuation prompt for a single quote");
    repl.enter("two");
    repl.expect(MORE_PROMPT, "the quote is still open");
    repl.run("three'", "OK", PROMPT);
    repl.run("get s", "\"one\\ntwo\\nthree\"", PROMPT);
}

#[test]
fn no_completion_or_hint_inside_an_open_quote() {
    let fixture = Fixture::new();
    let mut repl = fixture.start();
    repl.run("put get 1", "OK", PROMPT);

    // On a continuation line the text is still inside the quoted value: Tab
    // must not turn `ge` into the command `get ` (nor into the key `get`).
    repl.enter("put poem \"roses");
    repl.expect(MORE_PROMPT, "the continuation prompt");
    repl.type_text("ge\t");
    repl.run("\"", "OK", PROMPT);
    repl.run("get poem", "\"roses\\nge\"", PROMPT);

    // Nor is an argument hint shown for words inside the quote, on a
    // continuation line or on the first line.
    repl.enter("put verse \"one");
    repl.expect(MORE_PROMPT, "the continuation prompt");
    let echo = repl.run("get two\"", "OK", PROMPT);
    assert!(
        !echo.contains("<key>"),
        "no hint for `get ` inside a quoted value, got {echo:?}"
    );
    // Once the quote is closed, the quoted word counts as one argument.
    let echo = repl.run("put \"a b\" c", "OK", PROMPT);
    assert!(
        !echo.contains("put \"a <value>"),
        "no hint after a word inside an open quote, got {echo:?}"
    );
    assert!(
        echo.contains("put \"a b\" <value> [ttl_seconds"),
        "the hint after a quoted key asks for the value, got {echo:?}"
    );
    repl.run("get \"a b\"", "\"c\"", PROMPT);
}

#[test]
fn ctrl_c_clears_the_line_and_keeps_running() {
    let fixture = Fixture::new();
    let mut repl = fixture.start();
    repl.run("put a 1", "OK", PROMPT);

    // A half-typed line is dropped, not run and not kept.
    repl.type_text("put a 2");
    repl.expect("put a 2", "the echo of the half-typed line");
    repl.control('c');
    repl.expect(PROMPT, "a fresh prompt after Ctrl-C");
    repl.run("get a", "\"1\"", PROMPT);

    // Ctrl-C on a continuation line drops the whole pending statement.
    repl.enter("put b \"open");
    repl.expect(MORE_PROMPT, "the continuation prompt");
    repl.control('c');
    repl.expect(
        PROMPT,
        "the plain prompt after Ctrl-C on a continuation line",
    );
    repl.run("get b", "(nil)", PROMPT);

    // The process is still there and leaves normally.
    repl.control('d');
    let (rest, status) = repl.finish("Ctrl-D after Ctrl-C");
    assert_quiet_exit(&rest, status, "Ctrl-D after Ctrl-C");
}

#[test]
fn ctrl_d_leaves_with_status_0() {
    let fixture = Fixture::new();
    let mut repl = fixture.start();
    repl.run("put a 1", "OK", PROMPT);
    repl.control('d');
    let (rest, status) = repl.finish("Ctrl-D");
    assert_quiet_exit(&rest, status, "Ctrl-D");
}

#[test]
fn exit_leaves_with_status_0() {
    let fixture = Fixture::new();
    let mut repl = fixture.start();
    repl.run("put a 1", "OK", PROMPT);
    repl.enter("exit");
    let (rest, status) = repl.finish("exit");
    assert_quiet_exit(&rest, status, "exit");
}

#[test]
fn leaving_rolls_back_an_open_transaction() {
    let fixture = Fixture::new();
    for (how, leave) in [("Ctrl-D", None), ("exit", Some("exit"))] {
        let mut repl = fixture.start();
        repl.run("begin", "OK", TX_PROMPT);
        repl.run("put t 1", "OK", TX_PROMPT);
        match leave {
            Some(line) => repl.enter(line),
            None => repl.control('d'),
        }
        repl.expect(
            "(transaction rolled back: 1 writes discarded)",
            &format!("the rollback message on {how}"),
        );
        let (_, status) = repl.finish(how);
        assert_exit_0(status, how);
    }
}

#[test]
fn history_is_saved_and_recalled() {
    let fixture = Fixture::new();
    let mut first = fixture.start();
    first.run("put histkey 1", "OK", PROMPT);
    first.run("get histkey", "\"1\"", PROMPT);
    first.control('d');
    let (_, status) = first.finish("the first session");
    assert_exit_0(status, "the first session");

    let saved = std::fs::read_to_string(fixture.history())
        .unwrap_or_else(|e| panic!("INMEM_HISTFILE was not written: {e}"));
    let lines: Vec<&str> = saved.lines().collect();
    assert!(
        lines.contains(&"put histkey 1") && lines.contains(&"get histkey"),
        "history file should hold both statements, got {saved:?}"
    );

    // The second session shares the history file but not the data directory
    // (which may keep data across runs), so `histkey` is set there only if the
    // recalled statement runs. Up twice goes past `get histkey` to the put.
    let mut second = fixture.start_on(&fixture.dir.path().join("other-data"));
    second.run("get histkey", "(nil)", PROMPT);
    second.type_text(UP);
    second.expect("cmd>> get histkey", "Up recalls the latest statement");
    second.type_text(UP);
    second.expect("cmd>> put histkey 1", "Up again recalls the one before");
    second.run("", "OK", PROMPT);
    second.run("get histkey", "\"1\"", PROMPT);
    second.control('d');
    let (_, status) = second.finish("the second session");
    assert_exit_0(status, "the second session");
}

#[test]
fn parse_error_shows_position_and_caret() {
    let fixture = Fixture::new();
    let mut repl = fixture.start();
    repl.enter("put \"x\\q\" 1");
    repl.expect(
        "\n(error) line 1, column 7: unknown escape",
        "the parse error's position",
    );
    // The source line, then a caret under column 7.
    repl.expect("\r\nput \"x\\q\" 1\r\n      ^\r\n", "the caret line");
    repl.expect(PROMPT, "the prompt after the parse error");
    // Nothing of the statement ran.
    repl.run("exists x", "(false)", PROMPT);
}

#[test]
fn namespace_shows_in_the_prompt_and_dropns_asks_first() {
    let fixture = Fixture::new();
    let mut repl = fixture.start();
    repl.run("use app1", "OK", "cmd[app1]>> ");
    repl.run("put k 1", "OK", "cmd[app1]>> ");
    repl.run("begin", "OK", "cmd[app1](TX)>> ");
    repl.run("rollback", "OK", "cmd[app1]>> ");
    // Tab completes keys of the current namespace.
    repl.type_text("get ");
    repl.type_text("\t");
    repl.expect("get k ", "key completed in app1");
    repl.enter("");
    repl.expect("\n\"1\"\r\n", "value of k in app1");
    repl.expect("cmd[app1]>> ", "prompt after get");
    repl.enter("dropns app1");
    repl.expect(
        "Drop namespace 'app1' and its 1 keys? [y/N] ",
        "confirmation question",
    );
    repl.enter("n");
    repl.expect("not dropped", "refusal answer");
    repl.expect("cmd[app1]>> ", "prompt after refusal");
    repl.run("get k", "\"1\"", "cmd[app1]>> ");
    repl.enter("dropns app1");
    repl.expect("[y/N] ", "second question");
    repl.enter("y");
    repl.expect("(integer) 1", "keys dropped");
    repl.run("use 0", "OK", PROMPT);
}
