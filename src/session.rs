//! A session executes statements for one user or connection: it expands
//! aliases, keeps the open transaction, and runs batches atomically.

use crate::Db;
use crate::command::grammar::{self, AsWord, Statement, Word};
use crate::command::spec::Spec;
use crate::command::{self, BatchSource, Command, Op, Reply, help, redis};
use crate::engine::{Changes, DEFAULT_NAMESPACE};
use crate::error::CommandError;
use crate::fsutil;
use crate::persist::json;
use crate::{cmdlog, config, stats};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A failed statement: what went wrong and, when one word is to blame, its byte
/// offset in the statement's source text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementError {
    /// Offset of the word at fault.
    pub offset: Option<usize>,
    /// What went wrong.
    pub error: CommandError,
}

impl From<CommandError> for StatementError {
    fn from(error: CommandError) -> Self {
        StatementError {
            offset: None,
            error,
        }
    }
}

/// What running a run of puts at once did (see [`Session::execute_put_run`]).
#[derive(Debug, Default)]
pub struct PutRunOutcome {
    /// How many puts succeeded, from the first: each replied `OK`.
    pub done: usize,
    /// The failure of the put after them, if one failed; none after it ran.
    pub failure: Option<StatementError>,
}

/// An open transaction: the writes run so far and their tentative effect.
#[derive(Debug, Default)]
struct Transaction {
    /// Each write with its source text, to re-run at commit.
    writes: Vec<(Op, String)>,
    changes: Changes,
}

/// Asks the person at the terminal to confirm a destructive command.
pub type Confirm = Box<dyn FnMut(&str) -> bool + Send>;

/// One user's or connection's view of the database.
pub struct Session {
    db: Arc<Db>,
    namespace: String,
    transaction: Option<Transaction>,
    timing: bool,
    last_elapsed: Duration,
    /// When the last statement run by [`Session::execute_words`] finished,
    /// and how many acknowledgements the database had made by then.
    last_finished: Option<(Instant, u64)>,
    confirm: Option<Confirm>,
    /// The last command word looked up, and the command it names: a script
    /// mostly repeats a few commands.
    last_command: (Vec<u8>, Option<&'static Spec>),
    /// The last first word checked against the alias table, the table's
    /// version then, and whether it was an alias: while neither changes,
    /// statements skip the table's lock.
    last_alias_check: (Vec<u8>, Option<u64>, bool),
    /// Whether statistics and command-log lines are held back.
    holding: bool,
    held: Held,
    /// When the statement running started.
    started: Instant,
    /// The engine's time read for a statement run while records are held,
    /// and the instant until which the statements that start after it reuse it.
    shared_now: Option<(u64, Instant)>,
}

/// How long statements run while records are held share one reading of
/// the engine's clock (see [`Session::engine_now`]).
const SHARED_NOW: Duration = Duration::from_millis(1);

/// Most statements whose records a session holds back at once.
const HELD_STATEMENTS: usize = 256;

/// Statistics and command-log lines held back (see [`Session::hold_records`]).
#[derive(Debug, Default)]
struct Held {
    samples: Vec<stats::Sample>,
    /// Statements the samples stand for.
    statements: usize,
    lines: Option<cmdlog::Lines>,
}

impl Held {
    /// Holds the samples of `count` statements named `name` that took
    /// `elapsed` each and finished at `finished`: statements of a run (see
    /// [`Session::execute_put_run`]) share one sample.
    fn add(&mut self, name: &'static str, elapsed: Duration, finished: Instant, count: usize) {
        match self.samples.last_mut() {
            Some(last)
                if last.finished == finished && last.elapsed == elapsed && last.command == name =>
            {
                last.count += count as u64;
            }
            _ => self.samples.push(stats::Sample {
                command: name,
                elapsed,
                finished,
                count: count as u64,
            }),
        }
        self.statements += count;
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.hand_over();
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("namespace", &self.namespace)
            .field("in_transaction", &self.transaction.is_some())
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A new session on `db`, with no transaction open.
    pub fn new(db: Arc<Db>) -> Self {
        Session {
            db,
            namespace: DEFAULT_NAMESPACE.to_string(),
            transaction: None,
            timing: false,
            last_elapsed: Duration::ZERO,
            last_finished: None,
            confirm: None,
            last_command: (Vec::new(), None),
            last_alias_check: (Vec::new(), None, false),
            holding: false,
            held: Held::default(),
            started: Instant::now(),
            shared_now: None,
        }
    }

    /// The namespace statements run in.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Switches namespace (refused inside a transaction).
    pub fn use_namespace(&mut self, namespace: &str) -> Result<(), CommandError> {
        self.refuse_in_transaction("use")?;
        if namespace.is_empty() || namespace.len() > usize::from(u16::MAX) {
            return Err(CommandError::BadArgument(
                "a namespace name is 1 to 65535 bytes".into(),
            ));
        }
        self.namespace = namespace.to_string();
        Ok(())
    }

    /// Asks `confirm` before destructive commands (the REPL does; scripts do not).
    pub fn set_confirm(&mut self, confirm: Confirm) {
        self.confirm = Some(confirm);
    }

    /// True when `timing on` is in force.
    pub fn timing(&self) -> bool {
        self.timing
    }

    /// How long the last statement took.
    pub fn last_elapsed(&self) -> Duration {
        self.last_elapsed
    }

    /// The database this session works on.
    pub fn db(&self) -> &Arc<Db> {
        &self.db
    }

    /// True while a transaction is open.
    pub fn in_transaction(&self) -> bool {
        self.transaction.is_some()
    }

    /// Rolls back an open transaction, as leaving does; returns how many writes it discarded.
    pub fn end(&mut self) -> Option<usize> {
        self.transaction.take().map(|t| t.writes.len())
    }

    /// Executes one parsed statement whose source is `text`. A first word that
    /// names no inmem command may name a Redis command, run with Redis's semantics.
    pub fn execute(&mut self, statement: &Statement, text: &str) -> Result<Reply, StatementError> {
        self.execute_words(&statement.words, statement.span.clone(), text, false)
    }

    /// [`Session::execute`] of a statement given as its words and the byte
    /// range `span` of its source in `text` (script mode borrows plain words
    /// straight from its input).
    ///
    /// When the statement `follows` the previous one at once (script mode
    /// running statements it has already read), it is timed from the end of
    /// the previous one, so one clock reading serves both; its run time then
    /// includes splitting it and buffering the previous result. Not when
    /// output was written out (acknowledged) in between: that is nobody's
    /// run time, and the clock is read afresh.
    pub fn execute_words<W: AsWord>(
        &mut self,
        words: &[W],
        span: Range<usize>,
        text: &str,
        follows: bool,
    ) -> Result<Reply, StatementError> {
        let started = self.start(follows);
        let expanded = self.starts_with_alias(words).then(|| {
            self.db
                .aliases()
                .expand(words.iter().map(Word::of).collect())
        });
        match expanded {
            Some(words) => self.execute_expanded(&words, span, text, started),
            None => self.execute_expanded(words, span, text, started),
        }
    }

    /// Runs statements that are each `put <key> <value>` (their three words),
    /// as [`Session::execute_words`] would one by one, under one hold of the
    /// engine's lock: returns how many succeeded (replying `OK`) and the
    /// failure of the one after them, if one failed (those after it do not
    /// run). They share the run's time equally. `None` while a transaction
    /// is open (its puts go to the transaction, one by one).
    pub fn execute_put_run<W: AsWord>(
        &mut self,
        statements: &[[W; 3]],
        follows: bool,
    ) -> Option<PutRunOutcome> {
        if self.transaction.is_some() || statements.is_empty() {
            return None;
        }
        let started = self.start(follows);
        let pairs: Vec<(&[u8], &[u8])> = statements
            .iter()
            .map(|[_, key, value]| (key.as_ref(), value.as_ref()))
            .collect();
        let (done, failure) = self.db.engine().put_run(&self.namespace, &pairs);
        let finished = Instant::now();
        let ran = done + usize::from(failure.is_some());
        let share = u32::try_from(ran).unwrap_or(u32::MAX).max(1);
        self.last_elapsed = finished.saturating_duration_since(started) / share;
        self.last_finished = Some((finished, self.db.acknowledgements()));
        let failure = failure.map(StatementError::from);
        match &failure {
            None if self.holding => self.finish_puts(&statements[..done], finished),
            _ => {
                for words in &statements[..done] {
                    self.finish("put", words, &Ok(Reply::Ok), finished);
                }
                if let (Some(e), Some(words)) = (&failure, statements.get(done)) {
                    self.finish("put", words, &Err(e.clone()), finished);
                }
            }
        }
        Some(PutRunOutcome { done, failure })
    }

    /// When a statement starts: the end of the previous one when it
    /// `follows` that one at once and no output was acknowledged between
    /// them (so an output flush or fsync is nobody's run time), else now.
    fn start(&self, follows: bool) -> Instant {
        match self.last_finished {
            Some((finished, acks)) if follows && acks == self.db.acknowledgements() => finished,
            _ => Instant::now(),
        }
    }

    /// Runs a statement whose aliases are expanded, timed from `started`.
    fn execute_expanded<W: AsWord>(
        &mut self,
        words: &[W],
        span: Range<usize>,
        text: &str,
        started: Instant,
    ) -> Result<Reply, StatementError> {
        self.started = started;
        let spec = self.spec_of(words);
        let redis = match (spec, words.first()) {
            (None, Some(first)) => {
                redis::lookup(first.as_ref()).filter(|r| redis::build_is_keyspace(r))
            }
            _ => None,
        };
        let name = spec
            .map(|s| s.name)
            .or(redis.map(|r| r.name))
            .unwrap_or("unknown");
        let result = match (spec, words) {
            // The commonest statement goes to the engine straight from its
            // words, without copying them into an operation first.
            (Some(spec), [_, key, value]) if spec.name == "put" && self.transaction.is_none() => {
                let put = self
                    .db
                    .engine()
                    .put(&self.namespace, key.as_ref(), value.as_ref());
                put.map_err(StatementError::from)
            }
            _ => self.build_and_run(spec, redis, words, span, text),
        };
        let finished = Instant::now();
        self.last_elapsed = finished.saturating_duration_since(started);
        self.last_finished = Some((finished, self.db.acknowledgements()));
        self.finish(name, words, &result, finished);
        result
    }

    /// Builds a statement's command (an inmem one named by `spec`, or a Redis
    /// one) and runs it.
    fn build_and_run<W: AsWord>(
        &mut self,
        spec: Option<&'static Spec>,
        redis: Option<&'static redis::RedisSpec>,
        words: &[W],
        span: Range<usize>,
        text: &str,
    ) -> Result<Reply, StatementError> {
        let command = match redis {
            Some(redis_spec) => build_redis(redis_spec, words)?,
            None => command::build_with(spec, words).map_err(|e| StatementError {
                offset: e.offset,
                error: e.error,
            })?,
        };
        if !matches!(command, Command::Op(_)) {
            // It may read the statistics or stop the process.
            self.hand_over();
        }
        let source = text.get(span).unwrap_or_default();
        Ok(self.run(command, source)?)
    }

    /// Executes a typed command that a network front-end built from `args`
    /// (the command word first), recording statistics and the command log under `name`.
    pub fn execute_command(
        &mut self,
        name: &'static str,
        command: Command,
        args: &[Vec<u8>],
    ) -> Result<Reply, CommandError> {
        self.execute_command_after(name, command, args, false)
    }

    /// [`Session::execute_command`] for a command that `follows` the one this
    /// session ran before it at once (the RESP server running the requests of
    /// one read): it is timed from the end of that one, so one clock reading
    /// serves both, and its run time includes decoding the request and
    /// encoding the previous reply. Non-keyspace commands first hand over
    /// held records (see [`Session::hold_records`]).
    pub fn execute_command_after(
        &mut self,
        name: &'static str,
        command: Command,
        args: &[Vec<u8>],
        follows: bool,
    ) -> Result<Reply, CommandError> {
        if !matches!(command, Command::Op(_)) {
            // It may read the statistics or stop the process.
            self.hand_over();
        }
        self.execute_timed(name, args, follows, |session| {
            // The source text is needed only to name a statement of an open transaction.
            let source = if session.transaction.is_some() {
                args.iter()
                    .map(|a| grammar::quote_word(a))
                    .collect::<Vec<_>>()
                    .join(" ")
            } else {
                String::new()
            };
            session.run(command, &source)
        })
    }

    /// [`Session::execute_command_after`] of `get key` (`args` are the
    /// request's words), recorded under `name`: `reply` gets the value where
    /// the engine stores it, or none, so the caller can encode its reply
    /// without copying the value first; the engine reads the key where it
    /// lies in `args`. Runs nothing and returns false while a transaction is
    /// open (its reads see its own writes) or without a key.
    pub fn execute_get_after(
        &mut self,
        name: &'static str,
        args: &[Vec<u8>],
        follows: bool,
        reply: impl FnOnce(Option<&[u8]>),
    ) -> bool {
        let (Some(key), None) = (args.get(1), self.transaction.as_ref()) else {
            return false;
        };
        // A read cannot fail: the result only makes the log line say `ok`.
        let _ = self.execute_timed(name, args, follows, |session| {
            let now = session.engine_now();
            let engine = session.db.engine();
            engine.get_with(&session.namespace, key, now, reply);
            Ok(Reply::Nil)
        });
        true
    }

    /// [`Session::execute_command_after`] of `set key value` (`args`, three
    /// words), recorded under `name`: the engine stores the key and value
    /// from `args`, as inmem's `put` does, without building an operation.
    /// None (nothing run) while a transaction is open or for other words.
    pub fn execute_put_after(
        &mut self,
        name: &'static str,
        args: &[Vec<u8>],
        follows: bool,
    ) -> Option<Result<(), CommandError>> {
        let ([_, key, value], None) = (args, self.transaction.as_ref()) else {
            return None;
        };
        let result = self.execute_timed(name, args, follows, |session| {
            session.db.engine().put(&session.namespace, key, value)
        });
        Some(result.map(|_| ()))
    }

    /// Runs a front-end's command with `run`, timed as
    /// [`Session::execute_command_after`] describes, and records it under `name`.
    fn execute_timed(
        &mut self,
        name: &'static str,
        args: &[Vec<u8>],
        follows: bool,
        run: impl FnOnce(&mut Session) -> Result<Reply, CommandError>,
    ) -> Result<Reply, CommandError> {
        let started = match self.last_finished {
            Some((finished, _)) if follows => finished,
            _ => Instant::now(),
        };
        self.started = started;
        let result = run(self).map_err(StatementError::from);
        let finished = Instant::now();
        self.last_elapsed = finished.saturating_duration_since(started);
        self.last_finished = Some((finished, self.db.acknowledgements()));
        self.finish(name, args, &result, finished);
        result.map_err(|e| e.error)
    }

    /// Records a command that a front-end ran outside [`Session::execute_command`]
    /// (EXEC's atomic block) in the statistics and the command log.
    pub fn record(
        &self,
        name: &'static str,
        args: &[Vec<u8>],
        error: Option<&CommandError>,
        elapsed: Duration,
    ) {
        self.db.stats().record(name, elapsed);
        if let Some(log) = self.db.command_log() {
            let message = error.map(ToString::to_string);
            log.record(
                &self.namespace,
                args,
                message.as_deref().map_or(Ok(()), Err),
                elapsed,
            );
        }
    }

    /// True when the statement's first word is an alias.
    fn starts_with_alias<W: AsRef<[u8]>>(&mut self, words: &[W]) -> bool {
        let Some(first) = words.first().map(AsRef::as_ref) else {
            return false;
        };
        let version = self.db.alias_version();
        let (word, checked, is_alias) = &mut self.last_alias_check;
        if *checked != Some(version) || first != word.as_slice() {
            let aliases = self.db.aliases();
            *is_alias = aliases.starts_with_alias(words);
            // Read under the table's lock, so it names the table just checked.
            *checked = Some(self.db.alias_version());
            word.clear();
            word.extend_from_slice(first);
        }
        *is_alias
    }

    /// The command table entry a statement's first word names, if any.
    fn spec_of<W: AsRef<[u8]>>(&mut self, words: &[W]) -> Option<&'static Spec> {
        let first = words.first()?.as_ref();
        let (word, spec) = &mut self.last_command;
        if first != word.as_slice() {
            word.clear();
            word.extend_from_slice(first);
            *spec = command::spec::lookup_bytes(first);
        }
        *spec
    }

    /// Records a finished statement in the statistics and the command log
    /// (or holds its records back, see [`Session::hold_records`]).
    fn finish<W: AsRef<[u8]>>(
        &mut self,
        name: &'static str,
        words: &[W],
        result: &Result<Reply, StatementError>,
        finished: Instant,
    ) {
        let elapsed = self.last_elapsed;
        let message = result.as_ref().err().map(|e| e.error.to_string());
        let outcome = message.as_deref().map_or(Ok(()), Err);
        if self.holding {
            let held = &mut self.held;
            held.add(name, elapsed, finished, 1);
            if let Some(lines) = held.lines.as_mut() {
                lines.push(&self.namespace, words, outcome, elapsed, finished);
            }
            if held.statements >= HELD_STATEMENTS {
                self.hand_over();
            }
            return;
        }
        self.db.stats().record_at(name, elapsed, finished);
        if let Some(log) = self.db.command_log() {
            log.record_at(&self.namespace, words, outcome, elapsed, finished);
        }
    }

    /// Holds back the records of puts that all succeeded and finished
    /// together (a run, see [`Session::execute_put_run`]): what
    /// [`Session::finish`] of each holds back, in one go.
    fn finish_puts<W: AsRef<[u8]>>(&mut self, statements: &[[W; 3]], finished: Instant) {
        let elapsed = self.last_elapsed;
        let held = &mut self.held;
        held.add("put", elapsed, finished, statements.len());
        if let Some(lines) = held.lines.as_mut() {
            lines.push_all(&self.namespace, statements, elapsed, finished);
        }
        if held.statements >= HELD_STATEMENTS {
            self.hand_over();
        }
    }

    /// Holds back the statistics and command-log lines of the statements
    /// that follow, and hands them over in batches, taking their locks once
    /// per batch rather than once per statement: after at most
    /// [`HELD_STATEMENTS`] statements, before any statement that is not a
    /// keyspace operation (so `stats` counts every statement before it), at
    /// [`Session::release_records`] and when the session ends. Script mode
    /// holds them while it runs input it has already read.
    pub fn hold_records(&mut self) {
        if self.held.lines.is_none() {
            self.held.lines = self.db.command_log().map(cmdlog::CommandLog::lines);
        }
        self.holding = true;
    }

    /// Hands over held records and stops holding them back.
    pub fn release_records(&mut self) {
        self.hand_over();
        self.holding = false;
        self.shared_now = None;
    }

    /// The engine's time for the statement running. While records are held
    /// (statements run back to back, such as a pipelined batch of requests),
    /// one reading serves the statements that start within [`SHARED_NOW`]
    /// of the start of the one that read it, so a statement sees a time at
    /// most that much older than its start.
    fn engine_now(&mut self) -> u64 {
        match self.shared_now {
            Some((now, until)) if self.holding && self.started < until => now,
            _ => {
                let now = self.db.engine().now();
                self.shared_now = match self.started.checked_add(SHARED_NOW) {
                    Some(until) if self.holding => Some((now, until)),
                    _ => None,
                };
                now
            }
        }
    }

    /// Hands over the records held back so far, so that what runs next
    /// (a connection command reading the statistics, an EXEC recording its
    /// commands itself) sees them, in order.
    pub fn hand_over(&mut self) {
        let held = &mut self.held;
        if !held.samples.is_empty() {
            self.db.stats().record_all(&held.samples);
            held.samples.clear();
            held.statements = 0;
        }
        if let (Some(log), Some(lines)) = (self.db.command_log(), held.lines.as_mut()) {
            log.append(lines);
        }
    }

    fn run(&mut self, command: Command, source: &str) -> Result<Reply, CommandError> {
        match command {
            Command::Op(op) => self.run_op(op, source),
            Command::Global(op) => {
                self.refuse_in_transaction("this command")?;
                self.db.engine().run_global(&self.namespace, &op)
            }
            Command::Begin => {
                if self.transaction.is_some() {
                    return Err(CommandError::TransactionOpen);
                }
                self.transaction = Some(Transaction::default());
                Ok(Reply::Ok)
            }
            Command::Commit => {
                let transaction = self.transaction.take().ok_or(CommandError::NoTransaction)?;
                let (ops, texts): (Vec<Op>, Vec<String>) = transaction.writes.into_iter().unzip();
                self.db
                    .engine()
                    .run_atomic(&self.namespace, &ops)
                    .map_err(|(index, error)| aborted(index, &texts[index], error))?;
                Ok(Reply::Ok)
            }
            Command::Rollback => {
                self.transaction.take().ok_or(CommandError::NoTransaction)?;
                Ok(Reply::Ok)
            }
            Command::Batch(source) => self.batch(&source),
            Command::Source(path) => Ok(Reply::Source(path.into())),
            Command::Alias { name, body } => {
                self.db.aliases().define(&name, &body)?;
                Ok(Reply::Ok)
            }
            Command::Unalias(name) => {
                self.db.aliases().remove(&name)?;
                Ok(Reply::Ok)
            }
            Command::ShowAlias => Ok(Reply::Map(
                self.db
                    .aliases()
                    .list()
                    .map(|(name, body)| (name.to_string(), Reply::Value(body.as_bytes().to_vec())))
                    .collect(),
            )),
            Command::ResetAlias => {
                self.db.aliases().reset()?;
                Ok(Reply::Ok)
            }
            Command::Use(namespace) => {
                self.use_namespace(&namespace)?;
                Ok(Reply::Ok)
            }
            Command::Namespaces => {
                let mut listed: Vec<(String, Reply)> = self
                    .db
                    .engine()
                    .namespace_stats()
                    .into_iter()
                    .filter(|ns| {
                        ns.keys > 0 || ns.name == DEFAULT_NAMESPACE || ns.name == self.namespace
                    })
                    .map(|ns| (ns.name, Reply::Int(ns.keys as i64)))
                    .collect();
                for name in [DEFAULT_NAMESPACE, self.namespace.as_str()] {
                    if !listed.iter().any(|(n, _)| n == name) {
                        listed.push((name.to_string(), Reply::Int(0)));
                    }
                }
                listed.sort_by(|a, b| a.0.cmp(&b.0));
                Ok(Reply::Map(listed))
            }
            Command::DropNamespace(namespace) => {
                self.refuse_in_transaction("dropns")?;
                if let Some(confirm) = self.confirm.as_mut() {
                    let keys = self
                        .db
                        .engine()
                        .namespace_stats()
                        .into_iter()
                        .find(|ns| ns.name == namespace)
                        .map_or(0, |ns| ns.keys);
                    if !confirm(&format!(
                        "Drop namespace '{namespace}' and its {keys} keys?"
                    )) {
                        return Ok(Reply::Text("not dropped".into()));
                    }
                }
                let keys = self.db.engine().drop_namespace(&namespace)?;
                Ok(Reply::Int(keys as i64))
            }
            Command::Stats { reset: false } => Ok(stats::report(&self.db)),
            Command::Stats { reset: true } => {
                self.db.stats().reset();
                self.db.engine().reset_counters();
                Ok(Reply::Ok)
            }
            Command::Timing(on) => {
                self.timing = on;
                Ok(Reply::Ok)
            }
            Command::ConfigGet(name) => config::get(&self.db, name.as_deref()),
            Command::ConfigSet(name, value) => {
                config::set(&self.db, &name, &value)?;
                Ok(Reply::Ok)
            }
            Command::Save | Command::Compact => {
                self.db
                    .persistence()
                    .save(self.db.engine())
                    .map_err(CommandError::Persistence)?;
                Ok(Reply::Ok)
            }
            Command::Backup(path) => {
                self.db
                    .persistence()
                    .backup(self.db.engine(), Path::new(&path))
                    .map_err(CommandError::Persistence)?;
                Ok(Reply::Ok)
            }
            Command::Restore(path) => {
                self.refuse_in_transaction("restore")?;
                let keys = self
                    .db
                    .persistence()
                    .restore(self.db.engine(), Path::new(&path))
                    .map_err(CommandError::Persistence)?;
                Ok(Reply::Int(i64::try_from(keys).unwrap_or(i64::MAX)))
            }
            Command::Export(path) => {
                let entries = self.db.engine().entries(&self.namespace);
                let text = json::export(&entries).map_err(CommandError::Persistence)?;
                fsutil::write_atomic(Path::new(&path), format!("{text}\n").as_bytes()).map_err(
                    |e| CommandError::Save {
                        path: path.into(),
                        reason: e.to_string(),
                    },
                )?;
                Ok(Reply::Int(entries.len() as i64))
            }
            Command::Import(path) => {
                self.refuse_in_transaction("import")?;
                let text = std::fs::read_to_string(&path).map_err(|e| CommandError::File {
                    path: path.clone().into(),
                    reason: e.to_string(),
                })?;
                let engine = self.db.engine();
                let (puts, _skipped) = json::import(&text, engine.now())
                    .map_err(|e| CommandError::Persistence(format!("{path}: {e}")))?;
                let count = puts.len();
                engine.commit(&self.namespace, puts)?;
                Ok(Reply::Int(count as i64))
            }
            Command::Help(None) => Ok(Reply::Text(help::overview(self.db.aliases().list()))),
            Command::Help(Some(word)) => {
                let aliases = self.db.aliases();
                Ok(Reply::Text(help::topic(&word, aliases.get(&word))?))
            }
            Command::Exit => Ok(Reply::Exit),
        }
    }

    fn refuse_in_transaction(&self, name: &'static str) -> Result<(), CommandError> {
        if self.transaction.is_some() {
            return Err(CommandError::NotAllowedIn(name, "a transaction"));
        }
        Ok(())
    }

    fn run_op(&mut self, op: Op, source: &str) -> Result<Reply, CommandError> {
        let Some(transaction) = self.transaction.as_mut() else {
            let now = self.engine_now();
            return self.db.engine().run_owned_at(&self.namespace, op, now);
        };
        let reply = self
            .db
            .engine()
            .run_in(&self.namespace, &op, &mut transaction.changes)?;
        if op.writes() {
            transaction.writes.push((op, source.to_string()));
        }
        Ok(reply)
    }

    fn batch(&mut self, source: &BatchSource) -> Result<Reply, CommandError> {
        if self.transaction.is_some() {
            return Err(CommandError::NotAllowedIn("batch", "a transaction"));
        }
        let mut ops = Vec::new();
        let mut labels = Vec::new();
        for (label, text) in batch_texts(source)? {
            let statements = grammar::parse(&text)
                .map_err(|e| CommandError::Parse(format!("{label}: {}", e.report(&text, 1))))?;
            for statement in &statements {
                let source = text.get(statement.span.clone()).unwrap_or_default();
                let index = ops.len();
                let words = self.db.aliases().expand(statement.words.clone());
                match command::build(&words) {
                    Ok(Command::Op(op)) => ops.push(op),
                    Ok(_) => {
                        let name = command::spec_of(&words).map_or("this command", |s| s.name);
                        return Err(aborted(
                            index,
                            source,
                            CommandError::NotAllowedIn(name, "a batch"),
                        ));
                    }
                    Err(e) => return Err(aborted(index, source, e.error)),
                }
                labels.push(source.to_string());
            }
        }
        let replies = self
            .db
            .engine()
            .run_atomic(&self.namespace, &ops)
            .map_err(|(index, error)| aborted(index, &labels[index], error))?;
        Ok(Reply::Batch(replies))
    }
}

/// Builds a Redis-dialect statement typed at the REPL or in a script.
fn build_redis<W: AsRef<[u8]>>(
    spec: &'static redis::RedisSpec,
    words: &[W],
) -> Result<Command, StatementError> {
    if !spec.accepts(words.len()) {
        return Err(redis::arity_error(spec).into());
    }
    let args: Vec<Vec<u8>> = words[1..].iter().map(|w| w.as_ref().to_vec()).collect();
    match redis::build(spec, &args) {
        Some(built) => Ok(built?),
        None => Err(CommandError::UnknownCommand(spec.name.to_string()).into()),
    }
}

fn aborted(index: usize, text: &str, error: CommandError) -> CommandError {
    CommandError::Aborted {
        index: index + 1,
        text: text.to_string(),
        source: Box::new(error),
    }
}

/// The texts a batch runs: the inline text, or each file matching the glob in sorted order.
pub fn batch_texts(source: &BatchSource) -> Result<Vec<(String, String)>, CommandError> {
    match source {
        BatchSource::Inline(text) => Ok(vec![("batch".to_string(), text.clone())]),
        BatchSource::Files(pattern) => {
            let bad_pattern = |reason: String| CommandError::File {
                path: pattern.into(),
                reason,
            };
            let mut paths: Vec<_> = glob::glob(pattern)
                .map_err(|e| bad_pattern(format!("invalid file pattern: {e}")))?
                .collect::<Result<_, _>>()
                .map_err(|e| bad_pattern(e.to_string()))?;
            if paths.is_empty() {
                return Err(bad_pattern("no file matches".into()));
            }
            paths.sort();
            paths
                .into_iter()
                .map(|path| {
                    let text = std::fs::read_to_string(&path).map_err(|e| CommandError::File {
                        path: path.clone(),
                        reason: e.to_string(),
                    })?;
                    Ok((path.display().to_string(), text))
                })
                .collect()
        }
    }
}
