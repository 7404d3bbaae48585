//! The session behind `--connect`: expands aliases (kept in the local data
//! directory), builds and checks statements with inmem's command language,
//! runs them on the server, and keeps the namespace and the open transaction.
//! A dropped connection is reported once and reopened on the next statement.

use super::Failure;
use super::client::{ConnectError, Connection, ServerInfo};
use super::reply::{self, Shape};
use super::scan::{self, Budget};
use super::translate::{self, Plan};
use crate::alias::Aliases;
use crate::command::grammar::{self, Statement, Word};
use crate::command::{self, BatchSource, Command, Reply, help};
use crate::engine::DEFAULT_NAMESPACE;
use crate::error::CommandError;
use crate::repl::Completions;
use crate::runner::Backend;
use crate::server::resp::Frame;
use crate::session::{Confirm, StatementError, batch_texts};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Most SCAN calls one Tab press may make, so completion stays quick on a large keyspace.
const COMPLETION_ROUNDS: usize = 64;

/// Commands that would change how the connection works (pushes, replication
/// streams, a reset behind the session's back), refused rather than sent.
const UNSUPPORTED: &[&str] = &[
    "subscribe",
    "psubscribe",
    "ssubscribe",
    "monitor",
    "sync",
    "psync",
    "reset",
    "hello",
];

/// The connection, or none after it dropped, and what the server said it is.
#[derive(Debug)]
struct Link {
    connection: Option<Connection>,
    info: ServerInfo,
}

/// What the session shares with the line editor's completion.
#[derive(Debug)]
struct Shared {
    /// `HOST:PORT`, as given.
    target: String,
    password: Option<String>,
    link: Mutex<Link>,
    aliases: Mutex<Aliases>,
    /// True between MULTI and EXEC or DISCARD, when completion must not send SCAN.
    multi: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Completions for Shared {
    fn aliases(&self) -> Vec<(String, String)> {
        lock(&self.aliases)
            .list()
            .map(|(name, body)| (name.to_string(), body.to_string()))
            .collect()
    }

    fn keys_with_prefix(&self, _namespace: &str, prefix: &[u8], max: usize) -> Vec<Vec<u8>> {
        if self.multi.load(Ordering::Relaxed) {
            return Vec::new();
        }
        let mut link = lock(&self.link);
        let Some(connection) = link.connection.as_mut() else {
            return Vec::new();
        };
        let budget = Budget {
            keys: max,
            rounds: COMPLETION_ROUNDS,
        };
        match scan::keys(connection, Some(&scan::prefix_glob(prefix)), budget) {
            Ok(keys) => keys,
            Err(Failure::Link(_)) => {
                link.connection = None;
                Vec::new()
            }
            Err(Failure::Command(_)) => Vec::new(),
        }
    }
}

/// A statement queued inside begin..commit: how its result is read, and its text.
#[derive(Debug)]
struct Queued {
    shape: Shape,
    text: String,
    /// True when the command may write (what leaving with the transaction open discards).
    writes: bool,
}

/// A session on a remote server.
pub struct RemoteSession {
    shared: Arc<Shared>,
    namespace: String,
    transaction: Option<Vec<Queued>>,
    timing: bool,
    last_elapsed: Duration,
    confirm: Option<Confirm>,
}

impl std::fmt::Debug for RemoteSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteSession")
            .field("target", &self.shared.target)
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl RemoteSession {
    /// Connects to `target` (`HOST:PORT`), authenticating with `password`
    /// when given; `aliases` is the local alias table.
    pub fn connect(
        target: &str,
        password: Option<String>,
        aliases: Aliases,
    ) -> Result<RemoteSession, ConnectError> {
        let (connection, info) = Connection::open(target, password.as_deref())?;
        Ok(RemoteSession {
            shared: Arc::new(Shared {
                target: target.to_string(),
                password,
                link: Mutex::new(Link {
                    connection: Some(connection),
                    info,
                }),
                aliases: Mutex::new(aliases),
                multi: AtomicBool::new(false),
            }),
            namespace: DEFAULT_NAMESPACE.to_string(),
            transaction: None,
            timing: false,
            last_elapsed: Duration::ZERO,
            confirm: None,
        })
    }

    /// What the server said it is when the connection was (re)opened.
    pub fn server(&self) -> ServerInfo {
        lock(&self.shared.link).info.clone()
    }

    /// Switches namespace: `USE name` on inmem, `SELECT n` elsewhere.
    pub fn use_namespace(&mut self, namespace: &str) -> Result<(), CommandError> {
        if self.transaction.is_some() {
            return Err(CommandError::NotAllowedIn("use", "a transaction"));
        }
        let frame = self.with_link(|connection, info| {
            let args = namespace_request(info, namespace).map_err(Failure::Command)?;
            Ok(connection.call(&as_slices(&args))?)
        })?;
        reply::convert(frame, Shape::Plain)?;
        namespace.clone_into(&mut self.namespace);
        Ok(())
    }

    /// Runs `f` on the connection, reopening it first when it dropped. A broken
    /// connection is dropped (and an open transaction with it) and reported.
    fn with_link<T>(
        &mut self,
        f: impl FnOnce(&mut Connection, &ServerInfo) -> Result<T, Failure>,
    ) -> Result<T, CommandError> {
        let shared = self.shared.clone();
        let mut link = lock(&shared.link);
        if link.connection.is_none() {
            self.reconnect(&mut link)?;
        }
        let Link { connection, info } = &mut *link;
        let Some(live) = connection.as_mut() else {
            return Err(not_connected(&shared.target, "no connection"));
        };
        match f(live, info) {
            Ok(value) => Ok(value),
            Err(Failure::Command(error)) => Err(error),
            Err(Failure::Link(error)) => {
                *connection = None;
                shared.multi.store(false, Ordering::Relaxed);
                let lost = match self.transaction.take() {
                    Some(_) => " (the open transaction is lost)",
                    None => "",
                };
                Err(CommandError::BadArgument(format!(
                    "connection to {} lost: {error}{lost}; the next statement reconnects",
                    shared.target
                )))
            }
        }
    }

    /// One attempt to reopen the connection, returning to the session's namespace.
    fn reconnect(&mut self, link: &mut Link) -> Result<(), CommandError> {
        let shared = &self.shared;
        let (mut connection, info) = Connection::open(&shared.target, shared.password.as_deref())
            .map_err(|e| not_connected(&shared.target, &e.to_string()))?;
        eprintln!("inmem: reconnected to {}", shared.target);
        if self.namespace != DEFAULT_NAMESPACE {
            let back = namespace_request(&info, &self.namespace).and_then(|args| {
                let frame = connection
                    .call(&as_slices(&args))
                    .map_err(|e| not_connected(&shared.target, &e.to_string()))?;
                reply::convert(frame, Shape::Plain)
            });
            if let Err(e) = back {
                let message = format!(
                    "reconnected to {}, but not to namespace '{}': {e}; now in namespace {DEFAULT_NAMESPACE}",
                    shared.target, self.namespace
                );
                self.namespace = DEFAULT_NAMESPACE.to_string();
                link.connection = Some(connection);
                link.info = info;
                return Err(CommandError::BadArgument(message));
            }
        }
        link.connection = Some(connection);
        link.info = info;
        Ok(())
    }

    fn run_statement(&mut self, words: &[Word], source: &str) -> Result<Reply, StatementError> {
        let words = self.expand(words);
        let (plan, name) = match command::spec_of(&words) {
            Some(spec) => {
                let built =
                    command::build_with(Some(spec), &words).map_err(|e| StatementError {
                        offset: e.offset,
                        error: e.error,
                    })?;
                (translate::plan(built)?, spec.name)
            }
            None => (raw_plan(&words)?, "this command"),
        };
        Ok(self.run_plan(plan, name, source)?)
    }

    fn expand(&self, words: &[Word]) -> Vec<Word> {
        let aliases = lock(&self.shared.aliases);
        if aliases.starts_with_alias(words) {
            aliases.expand(words.to_vec())
        } else {
            words.to_vec()
        }
    }

    fn run_plan(
        &mut self,
        plan: Plan,
        name: &'static str,
        source: &str,
    ) -> Result<Reply, CommandError> {
        match plan {
            Plan::Request { args, shape } => self.request(&args, shape, source),
            Plan::Walk(walk) => {
                if self.transaction.is_some() {
                    return Err(CommandError::NotAllowedIn(name, "a transaction"));
                }
                self.with_link(|connection, _| scan::run(connection, &walk))
            }
            Plan::Session(command) => self.local(command),
        }
    }

    /// Sends one request; inside begin..commit it is queued and answers `QUEUED`.
    fn request(
        &mut self,
        args: &[Vec<u8>],
        shape: Shape,
        source: &str,
    ) -> Result<Reply, CommandError> {
        let args = as_slices(args);
        let frame = self.with_link(|connection, _| Ok(connection.call(&args)?))?;
        match (&mut self.transaction, frame) {
            (Some(queue), Frame::Simple(status)) if status == "QUEUED" => {
                queue.push(Queued {
                    shape,
                    text: source.to_string(),
                    writes: may_write(args[0]),
                });
                Ok(Reply::Status(status))
            }
            (_, frame) => reply::convert(frame, shape),
        }
    }

    /// Commands the session carries out itself, or with a protocol of their own.
    fn local(&mut self, command: Command) -> Result<Reply, CommandError> {
        match command {
            Command::Begin => {
                if self.transaction.is_some() {
                    return Err(CommandError::TransactionOpen);
                }
                let frame = self.with_link(|connection, _| Ok(connection.call(&[b"MULTI"])?))?;
                reply::convert(frame, Shape::Plain)?;
                self.transaction = Some(Vec::new());
                self.shared.multi.store(true, Ordering::Relaxed);
                Ok(Reply::Ok)
            }
            Command::Commit => {
                let queue = self.transaction.take().ok_or(CommandError::NoTransaction)?;
                self.shared.multi.store(false, Ordering::Relaxed);
                let frame = self.with_link(|connection, _| Ok(connection.call(&[b"EXEC"])?))?;
                let entries: Vec<(Shape, &str)> =
                    queue.iter().map(|q| (q.shape, q.text.as_str())).collect();
                exec_results(frame, &entries)
            }
            Command::Rollback => {
                self.transaction.take().ok_or(CommandError::NoTransaction)?;
                self.shared.multi.store(false, Ordering::Relaxed);
                let frame = self.with_link(|connection, _| Ok(connection.call(&[b"DISCARD"])?))?;
                reply::convert(frame, Shape::Plain)
            }
            Command::Batch(source) => self.batch(&source),
            Command::Use(namespace) => {
                self.use_namespace(&namespace)?;
                Ok(Reply::Ok)
            }
            Command::Namespaces => self.namespaces(),
            Command::DropNamespace(namespace) => self.drop_namespace(&namespace),
            Command::Source(path) => Ok(Reply::Source(path.into())),
            Command::Alias { name, body } => {
                lock(&self.shared.aliases).define(&name, &body)?;
                Ok(Reply::Ok)
            }
            Command::Unalias(name) => {
                lock(&self.shared.aliases).remove(&name)?;
                Ok(Reply::Ok)
            }
            Command::ShowAlias => Ok(Reply::Map(
                self.shared
                    .aliases()
                    .into_iter()
                    .map(|(name, body)| (name, Reply::Value(body.into_bytes())))
                    .collect(),
            )),
            Command::ResetAlias => {
                lock(&self.shared.aliases).reset()?;
                Ok(Reply::Ok)
            }
            Command::Timing(on) => {
                self.timing = on;
                Ok(Reply::Ok)
            }
            Command::Help(None) => {
                let aliases = lock(&self.shared.aliases);
                Ok(Reply::Text(format!(
                    "{}\nConnected to {}: words that are not inmem commands are sent to the server as typed.",
                    help::overview(aliases.list()),
                    self.shared.target
                )))
            }
            Command::Help(Some(word)) => {
                let aliases = lock(&self.shared.aliases);
                Ok(Reply::Text(help::topic(&word, aliases.get(&word))?))
            }
            Command::Exit => Ok(Reply::Exit),
            other => Err(CommandError::BadArgument(format!(
                "{other:?} is not available over --connect"
            ))),
        }
    }

    /// A batch: every statement checked first, then sent as one MULTI ... EXEC.
    fn batch(&mut self, source: &BatchSource) -> Result<Reply, CommandError> {
        if self.transaction.is_some() {
            return Err(CommandError::NotAllowedIn("batch", "a transaction"));
        }
        let mut requests = vec![vec![b"MULTI".to_vec()]];
        let mut entries: Vec<(Shape, String)> = Vec::new();
        for (label, text) in batch_texts(source)? {
            let statements = grammar::parse(&text)
                .map_err(|e| CommandError::Parse(format!("{label}: {}", e.report(&text, 1))))?;
            for statement in &statements {
                let source = text.get(statement.span.clone()).unwrap_or_default();
                let index = entries.len();
                let words = self.expand(&statement.words);
                let planned = match command::spec_of(&words) {
                    Some(spec) => command::build_with(Some(spec), &words)
                        .map_err(|e| e.error)
                        .and_then(translate::plan)
                        .map(|plan| (plan, spec.name)),
                    None => raw_plan(&words).map(|plan| (plan, "this command")),
                };
                match planned {
                    Ok((Plan::Request { args, shape }, _)) => {
                        requests.push(args);
                        entries.push((shape, source.to_string()));
                    }
                    Ok((_, name)) => {
                        return Err(aborted(
                            index,
                            source,
                            CommandError::NotAllowedIn(name, "a batch"),
                        ));
                    }
                    Err(e) => return Err(aborted(index, source, e)),
                }
            }
        }
        requests.push(vec![b"EXEC".to_vec()]);
        let mut replies = self.with_link(|connection, _| Ok(connection.pipeline(&requests)?))?;
        let exec = replies.pop().unwrap_or(Frame::Null);
        let mut queued = replies.into_iter();
        if let Some(Frame::Error(message)) = queued.next() {
            return Err(reply::server_error(&message));
        }
        for (index, frame) in queued.enumerate() {
            if let Frame::Error(message) = frame {
                return Err(aborted(
                    index,
                    &entries[index].1,
                    reply::server_error(&message),
                ));
            }
        }
        let entries: Vec<(Shape, &str)> = entries.iter().map(|(s, t)| (*s, t.as_str())).collect();
        exec_results(exec, &entries)
    }

    /// `NAMESPACES` on inmem; elsewhere the databases `INFO keyspace` lists.
    fn namespaces(&mut self) -> Result<Reply, CommandError> {
        let (frame, shape) = self.with_link(|connection, info| {
            Ok(if info.is_inmem() {
                (connection.call(&[b"NAMESPACES"])?, Shape::Plain)
            } else {
                (connection.call(&[b"INFO", b"keyspace"])?, Shape::Keyspace)
            })
        })?;
        let mut listed = match reply::convert(frame, shape)? {
            Reply::Map(fields) => fields,
            other => return Ok(other),
        };
        for name in [DEFAULT_NAMESPACE, self.namespace.as_str()] {
            if !listed.iter().any(|(n, _)| n == name) {
                listed.push((name.to_string(), Reply::Int(0)));
            }
        }
        listed.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Reply::Map(listed))
    }

    fn drop_namespace(&mut self, namespace: &str) -> Result<Reply, CommandError> {
        if self.transaction.is_some() {
            return Err(CommandError::NotAllowedIn("dropns", "a transaction"));
        }
        if !self.with_link(|_, info| Ok(info.is_inmem()))? {
            return Err(CommandError::BadArgument(
                "dropns needs an inmem server; elsewhere use 'use N' and then 'clear'".into(),
            ));
        }
        if let Some(confirm) = self.confirm.as_mut()
            && !confirm(&format!("Drop namespace '{namespace}' and all its keys?"))
        {
            return Ok(Reply::Text("not dropped".into()));
        }
        let frame = self
            .with_link(|connection, _| Ok(connection.call(&[b"DROPNS", namespace.as_bytes()])?))?;
        reply::convert(frame, Shape::Plain)
    }
}

impl Backend for RemoteSession {
    fn execute(&mut self, statement: &Statement, text: &str) -> Result<Reply, StatementError> {
        let started = Instant::now();
        let source = text.get(statement.span.clone()).unwrap_or_default();
        let result = self.run_statement(&statement.words, source);
        self.last_elapsed = started.elapsed();
        result
    }

    fn namespace(&self) -> &str {
        &self.namespace
    }

    fn in_transaction(&self) -> bool {
        self.transaction.is_some()
    }

    fn end(&mut self) -> Option<usize> {
        let queue = self.transaction.take()?;
        self.shared.multi.store(false, Ordering::Relaxed);
        // Leaving closes the connection anyway, which discards the queue too.
        let _ = self.with_link(|connection, _| Ok(connection.call(&[b"DISCARD"])?));
        Some(queue.iter().filter(|q| q.writes).count())
    }

    fn timing(&self) -> bool {
        self.timing
    }

    fn last_elapsed(&self) -> Duration {
        self.last_elapsed
    }

    fn set_confirm(&mut self, confirm: Confirm) {
        self.confirm = Some(confirm);
    }

    fn completions(&self) -> Arc<dyn Completions> {
        self.shared.clone()
    }

    fn describe(&self) -> String {
        let info = self.server();
        let version = info.version.map(|v| format!(" {v}")).unwrap_or_default();
        format!(
            "connected to {} ({}{version})",
            self.shared.target, info.name
        )
    }

    fn database(&self) -> Option<&Arc<crate::Db>> {
        None
    }
}

/// A statement whose first word is not one of inmem's commands: sent as typed,
/// except for the transaction words and SELECT, which the session follows.
fn raw_plan(words: &[Word]) -> Result<Plan, CommandError> {
    let name = command::command_word(words).to_ascii_lowercase();
    if UNSUPPORTED.contains(&name.as_str()) {
        return Err(CommandError::BadArgument(format!(
            "'{name}' is not supported over --connect (it changes how the connection works)"
        )));
    }
    let text = |i: usize| String::from_utf8_lossy(&words[i].bytes).into_owned();
    Ok(match (name.as_str(), words.len()) {
        ("multi", 1) => Plan::Session(Command::Begin),
        ("exec", 1) => Plan::Session(Command::Commit),
        ("discard", 1) => Plan::Session(Command::Rollback),
        ("select", 2) if text(1).parse::<u32>().is_ok() => Plan::Session(Command::Use(text(1))),
        _ => Plan::Request {
            args: words.iter().map(|w| w.bytes.clone()).collect(),
            shape: Shape::Plain,
        },
    })
}

/// The request that enters `namespace`: `USE` on inmem (any name), `SELECT`
/// elsewhere (database numbers only).
fn namespace_request(info: &ServerInfo, namespace: &str) -> Result<Vec<Vec<u8>>, CommandError> {
    if info.is_inmem() {
        return Ok(vec![b"USE".to_vec(), namespace.as_bytes().to_vec()]);
    }
    match namespace.parse::<u32>() {
        Ok(index) => Ok(vec![b"SELECT".to_vec(), index.to_string().into_bytes()]),
        Err(_) => Err(CommandError::BadArgument(format!(
            "'{namespace}' is not a database number: this server numbers its namespaces (0, 1, ...); names need an inmem server"
        ))),
    }
}

/// EXEC's answer as the statements' replies; a statement that failed on the
/// server fails the commit (Redis has applied the others: it does not roll back).
fn exec_results(frame: Frame, entries: &[(Shape, &str)]) -> Result<Reply, CommandError> {
    let results = match frame {
        // Nothing was queued: as locally, the commit just succeeds.
        Frame::Array(results) if results.is_empty() && entries.is_empty() => return Ok(Reply::Ok),
        Frame::Array(results) => results,
        Frame::Null | Frame::NullArray => {
            return Err(CommandError::BadArgument(
                "the transaction was aborted: a watched key changed".into(),
            ));
        }
        other => return reply::convert(other, Shape::Plain),
    };
    let mut replies = Vec::with_capacity(results.len());
    for (index, result) in results.into_iter().enumerate() {
        let (shape, text) = entries.get(index).copied().unwrap_or((Shape::Plain, ""));
        match result {
            Frame::Error(message) => {
                return Err(CommandError::BadArgument(format!(
                    "statement {} ({text}) failed: {}; the server applied the other statements (it does not roll back)",
                    index + 1,
                    reply::server_error(&message)
                )));
            }
            result => replies.push(reply::convert(result, shape)?),
        }
    }
    Ok(Reply::Batch(replies))
}

/// True unless the command table knows the command as read-only; a command
/// inmem does not know (HSET, ...) is taken to write.
fn may_write(name: &[u8]) -> bool {
    crate::command::redis::lookup(name).is_none_or(|spec| spec.writes())
}

fn as_slices(args: &[Vec<u8>]) -> Vec<&[u8]> {
    args.iter().map(Vec::as_slice).collect()
}

fn aborted(index: usize, text: &str, error: CommandError) -> CommandError {
    CommandError::Aborted {
        index: index + 1,
        text: text.to_string(),
        source: Box::new(error),
    }
}

fn not_connected(target: &str, reason: &str) -> CommandError {
    CommandError::BadArgument(format!("not connected to {target}: {reason}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::resp::Protocol;

    fn words(text: &str) -> Vec<Word> {
        grammar::parse(text).unwrap().remove(0).words
    }

    fn server(name: &str) -> ServerInfo {
        ServerInfo {
            name: name.into(),
            version: None,
            protocol: Protocol::Resp3,
        }
    }

    #[test]
    fn redis_words_are_sent_as_typed_but_transactions_and_select_are_followed() {
        match raw_plan(&words("HSET h f \"a b\"")).unwrap() {
            Plan::Request { args, shape } => {
                assert_eq!(args, [&b"HSET"[..], b"h", b"f", b"a b"]);
                assert_eq!(shape, Shape::Plain);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            raw_plan(&words("MULTI")).unwrap(),
            Plan::Session(Command::Begin)
        ));
        assert!(matches!(
            raw_plan(&words("exec")).unwrap(),
            Plan::Session(Command::Commit)
        ));
        assert!(matches!(
            raw_plan(&words("discard")).unwrap(),
            Plan::Session(Command::Rollback)
        ));
        assert!(matches!(
            raw_plan(&words("select 4")).unwrap(),
            Plan::Session(Command::Use(n)) if n == "4"
        ));
        // Not a number: the server answers it (with its own error).
        assert!(matches!(
            raw_plan(&words("select x")).unwrap(),
            Plan::Request { .. }
        ));
        let refused = raw_plan(&words("monitor")).unwrap_err().to_string();
        assert!(
            refused.contains("not supported over --connect"),
            "{refused}"
        );
    }

    #[test]
    fn only_known_read_only_commands_count_as_reads() {
        assert!(!may_write(b"GET"));
        assert!(!may_write(b"dbsize"));
        assert!(may_write(b"SET"));
        assert!(may_write(b"INCRBY"));
        assert!(may_write(b"HSET"));
    }

    #[test]
    fn namespaces_are_names_on_inmem_and_numbers_elsewhere() {
        let use_blue = namespace_request(&server("inmem"), "blue").unwrap();
        assert_eq!(use_blue, [&b"USE"[..], b"blue"]);
        let select = namespace_request(&server("redis"), "007").unwrap();
        assert_eq!(select, [&b"SELECT"[..], b"7"]);
        let refused = namespace_request(&server("redis"), "blue").unwrap_err();
        assert!(refused.to_string().contains("not a database number"));
    }

    #[test]
    fn exec_results_are_read_with_each_statements_shape() {
        let entries = [(Shape::Plain, "put a 1"), (Shape::Bool, "exists a")];
        let frame = Frame::Array(vec![Frame::Simple("OK".into()), Frame::Integer(1)]);
        assert_eq!(
            exec_results(frame, &entries),
            Ok(Reply::Batch(vec![Reply::Ok, Reply::Bool(true)]))
        );
        let failed = Frame::Array(vec![
            Frame::Simple("OK".into()),
            Frame::Error("ERR value is not an integer or out of range".into()),
        ]);
        let message = exec_results(failed, &entries).unwrap_err().to_string();
        assert_eq!(
            message,
            "statement 2 (exists a) failed: value is not an integer or out of range; \
             the server applied the other statements (it does not roll back)"
        );
        assert_eq!(exec_results(Frame::Array(Vec::new()), &[]), Ok(Reply::Ok));
        let watched = exec_results(Frame::NullArray, &entries).unwrap_err();
        assert!(watched.to_string().contains("watched key"), "{watched}");
        let aborted = exec_results(Frame::Error("EXECABORT Transaction discarded".into()), &[]);
        assert_eq!(
            aborted.unwrap_err().to_string(),
            "EXECABORT Transaction discarded"
        );
    }
}
