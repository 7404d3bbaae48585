//! Runs statement text through a session and prints each result: the engine
//! room of script mode, `-c`, `source` and the REPL alike.

use crate::Db;
use crate::command::Reply;
use crate::command::grammar::{self, Position, Statement, Word};
use crate::command::plain::{self, PlainWord, Split};
use crate::input::{Ahead, Input};
use crate::output::{self, Format};
use crate::repl::Completions;
use crate::session::{Confirm, PutRunOutcome, Session, StatementError};
use std::io::{BufReader, Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How deeply `source` may nest, so a file that sources itself stops with an error.
const MAX_SOURCE_DEPTH: usize = 16;

/// What the runner and the REPL need from whatever executes statements: the
/// local [`Session`] on an open database, or a session on a remote server
/// ([`crate::remote::RemoteSession`]).
pub trait Backend {
    /// Executes one parsed statement whose source is `text`.
    fn execute(&mut self, statement: &Statement, text: &str) -> Result<Reply, StatementError>;
    /// Executes one statement of plain text, given as its words borrowed from
    /// `text`, whose source is `span` of `text`. It `follows` the previous
    /// statement at once when nothing but showing that one's result came
    /// between them (see [`Session::execute_words`]).
    fn execute_plain(
        &mut self,
        words: &[PlainWord<'_>],
        span: Range<usize>,
        text: &str,
        _follows: bool,
    ) -> Result<Reply, StatementError> {
        let statement = Statement {
            words: words.iter().map(Word::of).collect(),
            span,
        };
        self.execute(&statement, text)
    }
    /// Executes statements of plain text that are each `put <key> <value>`
    /// (their three words) at once, as [`Backend::execute_plain`] would one
    /// by one: returns how many succeeded (each replying `OK`), in order,
    /// and the failure of the one after them if one failed; those after it
    /// did not run. `None` when this backend cannot, and they must run one
    /// by one.
    fn execute_put_run(
        &mut self,
        _statements: &[[PlainWord<'_>; 3]],
        _follows: bool,
    ) -> Option<PutRunOutcome> {
        None
    }
    /// True when [`Backend::execute_put_run`] can run puts together; the
    /// runner gathers them only then.
    fn runs_puts_together(&self) -> bool {
        false
    }
    /// Holds back statistics and command-log records while statements
    /// already read run (see [`Session::hold_records`]); a remote session
    /// keeps none.
    fn hold_records(&mut self) {}
    /// Hands over held records and stops holding them back.
    fn release_records(&mut self) {}
    /// The namespace statements run in.
    fn namespace(&self) -> &str;
    /// True while a transaction is open.
    fn in_transaction(&self) -> bool;
    /// Rolls back an open transaction, as leaving does; returns how many writes it discarded.
    fn end(&mut self) -> Option<usize>;
    /// True when `timing on` is in force.
    fn timing(&self) -> bool;
    /// How long the last statement took.
    fn last_elapsed(&self) -> Duration;
    /// Asks `confirm` before destructive commands (the REPL does; scripts do not).
    fn set_confirm(&mut self, confirm: Confirm);
    /// Aliases and keys for Tab completion and hints.
    fn completions(&self) -> Arc<dyn Completions>;
    /// Where statements run, for the REPL's banner (`on DIR`, `connected to HOST:PORT`).
    fn describe(&self) -> String;
    /// The local database, whose acknowledgement barrier output must pass and
    /// whose background messages the REPL prints; `None` for a remote server,
    /// which acknowledges before it replies.
    fn database(&self) -> Option<&Arc<Db>>;
}

impl Backend for Session {
    fn execute(&mut self, statement: &Statement, text: &str) -> Result<Reply, StatementError> {
        Session::execute(self, statement, text)
    }

    fn execute_plain(
        &mut self,
        words: &[PlainWord<'_>],
        span: Range<usize>,
        text: &str,
        follows: bool,
    ) -> Result<Reply, StatementError> {
        Session::execute_words(self, words, span, text, follows)
    }

    fn execute_put_run(
        &mut self,
        statements: &[[PlainWord<'_>; 3]],
        follows: bool,
    ) -> Option<PutRunOutcome> {
        Session::execute_put_run(self, statements, follows)
    }

    fn runs_puts_together(&self) -> bool {
        true
    }

    fn hold_records(&mut self) {
        Session::hold_records(self);
    }

    fn release_records(&mut self) {
        Session::release_records(self);
    }

    fn namespace(&self) -> &str {
        Session::namespace(self)
    }

    fn in_transaction(&self) -> bool {
        Session::in_transaction(self)
    }

    fn end(&mut self) -> Option<usize> {
        Session::end(self)
    }

    fn timing(&self) -> bool {
        Session::timing(self)
    }

    fn last_elapsed(&self) -> Duration {
        Session::last_elapsed(self)
    }

    fn set_confirm(&mut self, confirm: Confirm) {
        Session::set_confirm(self, confirm);
    }

    fn completions(&self) -> Arc<dyn Completions> {
        self.db().clone()
    }

    fn describe(&self) -> String {
        format!("on {}", self.db().data_dir().display())
    }

    fn database(&self) -> Option<&Arc<Db>> {
        Some(self.db())
    }
}

/// Plain `put <key> <value>` statements gathered to run at once (see
/// [`Backend::execute_put_run`]), with where each came from.
#[derive(Default)]
struct PutRun<'a> {
    words: Vec<[PlainWord<'a>; 3]>,
    places: Vec<PutPlace<'a>>,
}

/// Where a gathered put came from: its span of `text`, which starts at line `line`.
struct PutPlace<'a> {
    text: &'a str,
    span: Range<usize>,
    line: usize,
}

impl<'a> PutRun<'a> {
    /// Most statements gathered into one run: enough to take the engine's
    /// lock once for many, few enough that other threads wait little.
    const MAX: usize = 128;

    fn push(&mut self, words: [PlainWord<'a>; 3], span: Range<usize>, text: &'a str, line: usize) {
        self.words.push(words);
        self.places.push(PutPlace { text, span, line });
    }

    fn is_full(&self) -> bool {
        self.words.len() >= Self::MAX
    }
}

/// Output that may only show replies once their writes are safe: every write
/// to the inner stream is preceded by the database's acknowledgement barrier.
pub struct Acknowledging<W: Write> {
    inner: W,
    db: Option<Arc<Db>>,
}

impl<W: Write> Acknowledging<W> {
    /// Wraps `inner` so nothing reaches it before `db` acknowledges.
    pub fn new(inner: W, db: Arc<Db>) -> Self {
        Acknowledging {
            inner,
            db: Some(db),
        }
    }

    /// Wraps `inner` for `backend`: with a barrier when it is a local database.
    pub fn for_backend<B: Backend + ?Sized>(inner: W, backend: &B) -> Self {
        Acknowledging {
            inner,
            db: backend.database().cloned(),
        }
    }
}

impl<W: Write> Write for Acknowledging<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(db) = &self.db {
            db.acknowledge().map_err(std::io::Error::other)?;
        }
        self.inner.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Whether to keep reading statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Go on.
    Continue,
    /// Stop: `exit`, `--bail` after an error, or output closed.
    Stop,
}

/// Where a script's statements come from.
#[derive(Debug, Clone, Copy)]
pub enum Script<'a> {
    /// Statements given on the command line (`-c`).
    Text(&'a str),
    /// A file (`-f`).
    File(&'a Path),
    /// Standard input, read as it arrives.
    Stdin,
}

/// What a command line asks the front-end for.
#[derive(Debug, Clone, Copy)]
pub struct FrontEnd<'a> {
    /// Statements from `-c` or `-f`; `None` reads standard input, at the
    /// interactive prompt when it is a terminal.
    pub script: Option<Script<'a>>,
    /// One line of JSON per statement (`--json`).
    pub json: bool,
    /// Stop at the first failed statement (`--bail`).
    pub bail: bool,
    /// Print each statement before its result (`--echo`).
    pub echo: bool,
}

/// Why a front-end could not run.
#[derive(Debug, thiserror::Error)]
pub enum FrontEndError {
    /// The script file could not be opened.
    #[error("cannot read {path}: {source}")]
    Input {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The terminal failed under the line editor.
    #[error("terminal error: {0}")]
    Terminal(#[from] rustyline::error::ReadlineError),
}

/// Runs `session` as `front` asks: the interactive prompt, or a script whose
/// output is buffered and acknowledged. Returns how many statements failed
/// (none at the prompt, where a mistyped statement is not a failure); a
/// transaction left open is rolled back, and said so on stderr.
pub fn run_front_end<B: Backend>(session: B, front: FrontEnd<'_>) -> Result<usize, FrontEndError> {
    use std::io::IsTerminal;
    let interactive = front.script.is_none() && std::io::stdin().is_terminal();
    let settings = Settings {
        format: match (front.json, interactive) {
            (true, _) => Format::Json,
            (false, true) => Format::Human,
            (false, false) => Format::Plain,
        },
        bail: front.bail,
        echo: front.echo,
    };
    if interactive {
        let banner = std::io::stdout().is_terminal();
        crate::repl::run(session, settings, banner)?;
        return Ok(0);
    }
    let out = std::io::BufWriter::with_capacity(
        1 << 16,
        Acknowledging::for_backend(std::io::stdout().lock(), &session),
    );
    let mut runner = Runner::new(session, settings, out);
    let script = front.script.unwrap_or(Script::Stdin);
    runner
        .run_script(script)
        .map_err(|source| FrontEndError::Input {
            path: match script {
                Script::File(path) => path.to_path_buf(),
                Script::Text(_) | Script::Stdin => PathBuf::from("-"),
            },
            source,
        })?;
    // A failed flush means stdout closed early (a broken pipe): nothing more to say.
    let _ = runner.flush();
    if let Some(discarded) = runner.session().end() {
        eprintln!("transaction rolled back at end of input: {discarded} writes discarded");
    }
    Ok(runner.failures())
}

/// How results and errors are shown.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Reply format.
    pub format: Format,
    /// Stop at the first failed statement.
    pub bail: bool,
    /// Print each statement before its result.
    pub echo: bool,
}

/// Runs statements and prints their results to `out`; errors go to stderr
/// (and, for people at a terminal, to `out` as `(error) ...`).
pub struct Runner<B: Backend, W: Write> {
    session: B,
    settings: Settings,
    out: W,
    failures: usize,
    depth: usize,
    output_closed: bool,
    /// True while nothing but showing its result has happened since the
    /// last statement ended, so the next can be timed from its end.
    quiet: bool,
}

impl<B: Backend, W: Write> Runner<B, W> {
    /// A runner for `session` writing to `out`.
    pub fn new(session: B, settings: Settings, out: W) -> Self {
        Runner {
            session,
            settings,
            out,
            failures: 0,
            depth: 0,
            output_closed: false,
            quiet: false,
        }
    }

    /// The session statements run in.
    pub fn session(&mut self) -> &mut B {
        &mut self.session
    }

    /// How many statements have failed so far.
    pub fn failures(&self) -> usize {
        self.failures
    }

    /// Runs a whole script; fails only when its file cannot be opened.
    pub fn run_script(&mut self, script: Script<'_>) -> std::io::Result<Flow> {
        Ok(match script {
            Script::Text(text) => self.run_text(text, 1, None),
            Script::File(path) => self.run_reader_ahead(std::fs::File::open(path)?, None),
            Script::Stdin => self.run_reader_ahead(std::io::stdin(), None),
        })
    }

    /// Reads statements from `input` as they arrive and runs them; results are
    /// flushed whenever no more input is waiting, so a program driving inmem
    /// through a pipe sees each answer before it sends the next statement.
    pub fn run_reader<R: Read>(&mut self, input: R, origin: Option<&Path>) -> Flow {
        self.run_input(&mut BufReader::with_capacity(1 << 16, input), origin)
    }

    /// [`Runner::run_reader`] with a thread of its own that reads `input`
    /// and splits its plain lines a few blocks ahead of the statements
    /// running, so that work leaves the thread that runs them. What runs,
    /// its output and its errors are the same.
    pub fn run_reader_ahead<R: Read + Send + 'static>(
        &mut self,
        input: R,
        origin: Option<&Path>,
    ) -> Flow {
        match Ahead::start(input) {
            Ok(mut ahead) => self.run_input(&mut ahead, origin),
            Err(e) => self.fail_at(origin, 1, &format!("cannot read input: {e}")),
        }
    }

    /// Reads statements from `reader` and runs them (see [`Runner::run_reader`]).
    fn run_input<I: Input>(&mut self, reader: &mut I, origin: Option<&Path>) -> Flow {
        let mut pending = String::new();
        let mut start_line = 1;
        let mut line_no = 0;
        let mut raw = Vec::new();
        loop {
            if pending.is_empty() {
                // Whole lines of plain ASCII already read run straight from
                // the buffer, without copying them or their words. (Reading
                // is left to `read_until` below, which refills the buffer.)
                reader.refill();
                let buffered = reader.waiting();
                let (whole, split) = match reader.split_ahead() {
                    Some((whole, split)) => (whole, Some(split)),
                    None => (plain::plain_whole_lines(buffered), None),
                };
                if let Ok(text) = std::str::from_utf8(&buffered[..whole])
                    && !text.is_empty()
                {
                    let flow = self.run_plain(text, split, &mut line_no, origin);
                    reader.consume(whole);
                    if flow == Flow::Stop {
                        return Flow::Stop;
                    }
                    if reader.is_drained() && self.flush() == Flow::Stop {
                        return Flow::Stop;
                    }
                    continue;
                }
            }
            raw.clear();
            let eof = match reader.read_until(b'\n', &mut raw) {
                Ok(0) => true,
                Ok(_) => false,
                Err(e) => {
                    self.fail_at(origin, line_no + 1, &format!("cannot read input: {e}"));
                    true
                }
            };
            if !eof {
                line_no += 1;
                match std::str::from_utf8(&raw) {
                    Ok(text) => {
                        if pending.is_empty() {
                            start_line = line_no;
                        }
                        pending.push_str(text);
                    }
                    Err(e) => {
                        let column = raw[..e.valid_up_to()].len() + 1;
                        let message = format!(
                            "column {column}: not valid UTF-8 (write raw bytes as \\xNN inside double quotes)"
                        );
                        if self.fail_at(origin, line_no, &message) == Flow::Stop {
                            return Flow::Stop;
                        }
                        continue;
                    }
                }
                // Only an open quote makes a statement continue, so text
                // without quote characters needs no second look.
                if pending.contains(['"', '\'']) && grammar::is_incomplete(&pending) {
                    continue;
                }
            }
            if !pending.is_empty() {
                let flow = self.run_text(&pending, start_line, origin);
                pending.clear();
                if flow == Flow::Stop {
                    return Flow::Stop;
                }
            }
            if eof {
                return Flow::Continue;
            }
            if reader.is_drained() && self.flush() == Flow::Stop {
                return Flow::Stop;
            }
        }
    }

    /// Runs every statement of `text`, whose first line is line `first_line` of
    /// `origin` (standard input or `-c` when `None`). A parse error runs nothing.
    pub fn run_text(&mut self, text: &str, first_line: usize, origin: Option<&Path>) -> Flow {
        if plain::plain_ascii_len(text.as_bytes()) == text.len() {
            // Plain text cannot fail to parse, so running it statement by
            // statement as it is split runs what parsing it first would.
            let mut line_no = first_line.saturating_sub(1);
            return self.run_plain(text, None, &mut line_no, origin);
        }
        let statements = match grammar::parse(text) {
            Ok(statements) => statements,
            Err(e) => {
                let report = e.report(text, first_line);
                return self.fail(origin, &report, first_line + line_of(text, e.offset) - 1);
            }
        };
        let mut lines = LineCounter::default();
        for statement in &statements {
            let line = first_line + lines.line_at(text, statement.span.start) - 1;
            let span = statement.span.clone();
            let flow = self.run_statement(text, span, first_line, line, origin, |session| {
                session.execute(statement, text)
            });
            if flow == Flow::Stop {
                return Flow::Stop;
            }
        }
        Flow::Continue
    }

    /// Runs every statement of `text`, plain ASCII (see [`plain`]) that
    /// starts on the line after `*line_no` of `origin`, counting its lines in
    /// `line_no`; `split` is the text's split when it was made ahead. Nothing
    /// in plain text can fail to parse, so each statement runs as it would
    /// through the grammar.
    fn run_plain(
        &mut self,
        text: &str,
        split: Option<&Split>,
        line_no: &mut usize,
        origin: Option<&Path>,
    ) -> Flow {
        self.session.hold_records();
        let flow = match split {
            Some(split) => self.run_split_held(text, split, line_no, origin),
            None => self.run_plain_held(text, line_no, origin),
        };
        self.session.release_records();
        flow
    }

    /// [`Runner::run_plain`] without a split, while the session holds its
    /// records back: splits statements as it runs them.
    fn run_plain_held(&mut self, text: &str, line_no: &mut usize, origin: Option<&Path>) -> Flow {
        let mut words = Vec::new();
        let mut run = PutRun::default();
        // The text from the start of the current line: offsets and error
        // positions are relative to it, as when the line is run on its own.
        let mut line = text;
        let mut at = 0;
        *line_no += 1;
        // The first statement may follow a wait for input.
        self.quiet = false;
        while let Some(end) = plain::split_statement(line.as_bytes(), at, &mut words) {
            if self.run_plain_statement(&words, line, *line_no, &mut run, origin) == Flow::Stop {
                return Flow::Stop;
            }
            match line.get(end + 1..) {
                Some(next) if line.as_bytes()[end] == b'\n' => {
                    line = next;
                    at = 0;
                    if !line.is_empty() {
                        *line_no += 1;
                    }
                }
                _ => at = end + 1,
            }
        }
        self.run_puts(&mut run, origin)
    }

    /// [`Runner::run_plain`] of `text` split ahead into `split`, while the
    /// session holds its records back.
    fn run_split_held(
        &mut self,
        text: &str,
        split: &Split,
        line_no: &mut usize,
        origin: Option<&Path>,
    ) -> Flow {
        let first = *line_no + 1;
        *line_no = first + split.last_line();
        let mut words = Vec::new();
        let mut run = PutRun::default();
        // The first statement may follow a wait for input.
        self.quiet = false;
        for index in 0..split.len() {
            let Some(place) = split.statement(index, text.as_bytes(), &mut words) else {
                break;
            };
            let line = text.get(place.line_start..).unwrap_or_default();
            let flow = self.run_plain_statement(&words, line, first + place.line, &mut run, origin);
            if flow == Flow::Stop {
                return Flow::Stop;
            }
        }
        self.run_puts(&mut run, origin)
    }

    /// Runs one statement of plain text, given as its `words` (none for an
    /// empty statement), whose line `line` (the text from the line's start)
    /// is line `line_no`: gathers a put into `run`, which runs when full or
    /// before any other statement runs.
    fn run_plain_statement<'a>(
        &mut self,
        words: &[PlainWord<'a>],
        line: &'a str,
        line_no: usize,
        run: &mut PutRun<'a>,
        origin: Option<&Path>,
    ) -> Flow {
        let Some(span) = plain::span(words) else {
            return Flow::Continue;
        };
        if let Some(put) = self.runnable_put(words) {
            run.push(put, span, line, line_no);
            if run.is_full() {
                return self.run_puts(run, origin);
            }
            return Flow::Continue;
        }
        if self.run_puts(run, origin) == Flow::Stop {
            return Flow::Stop;
        }
        let source = span.clone();
        let follows = self.quiet;
        self.run_statement(line, source, line_no, line_no, origin, |session| {
            session.execute_plain(words, span, line, follows)
        })
    }

    /// The words of a statement that may join a run of puts: `put <key>
    /// <value>` outside a transaction, when no statement is echoed or timed,
    /// for a backend that runs puts together.
    fn runnable_put<'a>(&self, words: &[PlainWord<'a>]) -> Option<[PlainWord<'a>; 3]> {
        let [command, key, value] = words else {
            return None;
        };
        let runnable = command.bytes.eq_ignore_ascii_case(b"put")
            && self.session.runs_puts_together()
            && !self.settings.echo
            && !self.session.timing()
            && !self.session.in_transaction();
        runnable.then_some([*command, *key, *value])
    }

    /// Runs the puts gathered in `run` at once and shows their results in
    /// order, then runs those after a failure one by one; empties `run`.
    fn run_puts(&mut self, run: &mut PutRun<'_>, origin: Option<&Path>) -> Flow {
        if run.words.is_empty() {
            return Flow::Continue;
        }
        let follows = self.quiet;
        let PutRunOutcome { done, failure } = self
            .session
            .execute_put_run(&run.words, follows)
            .unwrap_or_default();
        let ran = done + usize::from(failure.is_some());
        let mut flow = Flow::Continue;
        let ok = output::fixed(&Reply::Ok, self.settings.format);
        for place in &run.places[..done.min(run.places.len())] {
            flow = match ok {
                // A put's reply, shown as `show_result` shows it.
                Some(ok) => {
                    self.quiet = true;
                    match self.write_bytes(ok.as_bytes()) {
                        Flow::Continue => self.write_bytes(b"\n"),
                        stop => stop,
                    }
                }
                None => self.show_result(Ok(Reply::Ok), place.text, place.line, place.line, origin),
            };
            if flow == Flow::Stop {
                break;
            }
        }
        if let (Flow::Continue, Some(e), Some(place)) = (flow, failure, run.places.get(done)) {
            flow = self.show_result(Err(e), place.text, place.line, place.line, origin);
        }
        if flow == Flow::Continue {
            for (words, place) in run.words.iter().zip(&run.places).skip(ran) {
                let (text, span, line) = (place.text, place.span.clone(), place.line);
                let follows = self.quiet;
                flow = self.run_statement(text, span.clone(), line, line, origin, |session| {
                    session.execute_plain(words, span, text, follows)
                });
                if flow == Flow::Stop {
                    break;
                }
            }
        }
        run.words.clear();
        run.places.clear();
        flow
    }

    /// Runs one statement, whose source is `span` of `text` at line `line`
    /// (`text` starting at line `first_line`), with `execute`, and shows its
    /// result or error.
    fn run_statement(
        &mut self,
        text: &str,
        span: Range<usize>,
        first_line: usize,
        line: usize,
        origin: Option<&Path>,
        execute: impl FnOnce(&mut B) -> Result<Reply, StatementError>,
    ) -> Flow {
        if self.settings.echo {
            let source = text.get(span).unwrap_or_default();
            if self.write_line(source) == Flow::Stop {
                return Flow::Stop;
            }
        }
        let result = execute(&mut self.session);
        let elapsed = self.session.last_elapsed();
        if self.show_result(result, text, first_line, line, origin) == Flow::Stop {
            return Flow::Stop;
        }
        if self.session.timing() {
            self.quiet = false;
            if self.show_timing(elapsed) == Flow::Stop {
                return Flow::Stop;
            }
        }
        Flow::Continue
    }

    /// Shows the result of a statement of `text` (see
    /// [`Runner::run_statement`]): its reply, or its error, or runs the file
    /// it sources.
    fn show_result(
        &mut self,
        result: Result<Reply, StatementError>,
        text: &str,
        first_line: usize,
        line: usize,
        origin: Option<&Path>,
    ) -> Flow {
        self.quiet = false;
        match result {
            Ok(Reply::Exit) => Flow::Stop,
            Ok(Reply::Source(path)) => self.source(&path, origin, line),
            Ok(reply) => {
                self.quiet = true;
                match output::fixed(&reply, self.settings.format) {
                    Some(text) => self.write_line(text),
                    None => {
                        let rendered = output::render(&reply, self.settings.format);
                        self.write_line(&rendered)
                    }
                }
            }
            Err(e) => {
                let message = statement_message(text, first_line, line, &e);
                self.fail(origin, &message, line)
            }
        }
    }

    /// `timing on`: after the result for people, on stderr for scripts (so
    /// stdout keeps one result per statement).
    fn show_timing(&mut self, elapsed: std::time::Duration) -> Flow {
        let text = format!("(run time: {:.3} ms)", elapsed.as_secs_f64() * 1000.0);
        match self.settings.format {
            Format::Human => {
                use colored::Colorize;
                self.write_line(&text.dimmed().to_string())
            }
            Format::Plain | Format::Json => {
                eprintln!("{text}");
                Flow::Continue
            }
        }
    }

    /// Flushes results written so far.
    pub fn flush(&mut self) -> Flow {
        if self.out.flush().is_err() {
            self.output_closed = true;
            return Flow::Stop;
        }
        Flow::Continue
    }

    fn source(&mut self, path: &Path, origin: Option<&Path>, line: usize) -> Flow {
        let resolved = resolve(path, origin);
        if self.depth >= MAX_SOURCE_DEPTH {
            let message = format!("source is nested more than {MAX_SOURCE_DEPTH} deep");
            return self.fail_at(origin, line, &message);
        }
        let text = match std::fs::read_to_string(&resolved) {
            Ok(text) => text,
            Err(e) => {
                let message = format!("cannot read {}: {e}", resolved.display());
                return self.fail_at(origin, line, &message);
            }
        };
        self.depth += 1;
        let flow = self.run_text(&text, 1, Some(&resolved));
        self.depth -= 1;
        flow
    }

    fn write_line(&mut self, text: &str) -> Flow {
        if self.output_closed
            || self.out.write_all(text.as_bytes()).is_err()
            || self.out.write_all(b"\n").is_err()
        {
            self.output_closed = true;
            return Flow::Stop;
        }
        Flow::Continue
    }

    /// Writes `bytes`, a whole line with its newline.
    fn write_bytes(&mut self, bytes: &[u8]) -> Flow {
        if self.output_closed || self.out.write_all(bytes).is_err() {
            self.output_closed = true;
            return Flow::Stop;
        }
        Flow::Continue
    }

    /// Reports a failure at a line whose message has no position yet.
    fn fail_at(&mut self, origin: Option<&Path>, line: usize, message: &str) -> Flow {
        self.fail(origin, &format!("line {line}: {message}"), line)
    }

    /// Reports a failure whose message already starts with its position.
    fn fail(&mut self, origin: Option<&Path>, message: &str, line: usize) -> Flow {
        self.failures += 1;
        let located = match origin {
            Some(path) => format!("{}: {message}", path.display()),
            None => message.to_string(),
        };
        match self.settings.format {
            Format::Human => {
                let _ = self.write_line(&output::human_error(&located));
            }
            Format::Plain | Format::Json => {
                if self.settings.format == Format::Json {
                    let first = located.lines().next().unwrap_or_default();
                    let _ = self.write_line(&output::json_error(first, line));
                }
                let _ = self.out.flush();
                eprintln!("{located}");
            }
        }
        if self.settings.bail || self.output_closed {
            Flow::Stop
        } else {
            Flow::Continue
        }
    }
}

/// `line L: message`, or `line L, column C: message` when one word is to blame.
fn statement_message(text: &str, first_line: usize, line: usize, e: &StatementError) -> String {
    match e.offset {
        Some(offset) => {
            let at = Position::of(text, offset);
            format!(
                "line {}, column {}: {}",
                first_line + at.line - 1,
                at.column,
                e.error
            )
        }
        None => format!("line {line}: {}", e.error),
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    Position::of(text, offset).line
}

/// Line numbers of increasing offsets, counted forward from the previous one,
/// so a long file costs one pass rather than one pass per statement.
#[derive(Default)]
struct LineCounter {
    offset: usize,
    newlines: usize,
}

impl LineCounter {
    /// The 1-based line of `offset` in `text`.
    fn line_at(&mut self, text: &str, offset: usize) -> usize {
        let offset = offset.min(text.len());
        if offset < self.offset {
            *self = LineCounter::default();
        }
        let skipped = text.as_bytes()[self.offset..offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.newlines += skipped;
        self.offset = offset;
        self.newlines + 1
    }
}

/// A sourced path is relative to the file that sources it, or to the working directory.
fn resolve(path: &Path, origin: Option<&Path>) -> PathBuf {
    match origin.and_then(Path::parent) {
        Some(dir) if path.is_relative() => dir.join(path),
        _ => path.to_path_buf(),
    }
}
