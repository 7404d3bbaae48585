//! One RESP connection's state and the dispatch of its requests: unknown
//! commands and arity are checked against the command tables, authentication
//! and MULTI queueing are applied, and each command runs through the shared
//! session and engine (keyspace commands) or is answered here (connection
//! commands).

use super::clients::ClientHandle;
use super::resp::{self, Frame, Protocol};
use super::transaction::Transaction;
use super::{Shared, admin, introspect, reply};
use crate::command::redis::{self, RedisSpec, global};
use crate::command::{self, spec::Spec};
use crate::error::CommandError;
use crate::session::Session;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// inmem's own commands offered over RESP as well, with their REPL meaning.
pub const INMEM_COMMANDS: &[&str] = &[
    "put",
    "delete",
    "values",
    "items",
    "size",
    "find",
    "clear",
    "namespaces",
    "use",
    "dropns",
    "stats",
    "compact",
    "batch",
];

/// What the connection does after a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Read the next request.
    Continue,
    /// Send what is buffered, then close (QUIT, CLIENT KILL of itself).
    Close,
    /// Stop the whole server (SHUTDOWN); nothing more is sent to this client.
    Shutdown,
}

/// Which replies the connection sends, as CLIENT REPLY sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Replies {
    /// Every reply.
    On,
    /// None until CLIENT REPLY ON.
    Off,
    /// CLIENT REPLY SKIP just ran (unanswered): the next reply is dropped.
    SkipNext,
    /// The reply to the request being handled is dropped.
    Skip,
}

/// A command found in one of the tables.
#[derive(Debug, Clone, Copy)]
pub enum Found {
    /// A Redis command.
    Redis(&'static RedisSpec),
    /// One of inmem's own commands.
    Inmem(&'static Spec),
}

impl Found {
    /// The command's name, lowercase.
    pub fn name(self) -> &'static str {
        match self {
            Found::Redis(spec) => spec.name,
            Found::Inmem(spec) => spec.name,
        }
    }

    /// True when the command may change the keyspace.
    pub fn writes(self) -> bool {
        match self {
            Found::Redis(spec) => spec.writes(),
            Found::Inmem(spec) => spec.writes,
        }
    }

    /// True when the command has Redis's command flag `flag` (`no_auth`,
    /// `no_multi`, `denyoom`, ...); inmem's own commands have none of these.
    pub fn flag(self, flag: &str) -> bool {
        match self {
            Found::Redis(spec) => spec.flags.contains(&flag),
            Found::Inmem(_) => false,
        }
    }

    /// True when `words` words (the name included) fit the command.
    pub fn accepts(self, words: usize) -> bool {
        match self {
            Found::Redis(spec) => spec.accepts(words),
            Found::Inmem(spec) => spec.accepts(words.saturating_sub(1)),
        }
    }
}

/// Longest command name; longer words are unknown without a lookup.
const MAX_NAME: usize = 32;

/// Command names to commands; a fixed fast hash is enough, as the table never
/// changes and a name is looked up for every request.
type Table = HashMap<&'static [u8], Found, foldhash::fast::FixedState>;

/// Every command by lowercase name: Redis's table first, then inmem's own commands.
fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = Table::default();
        for name in INMEM_COMMANDS {
            if let Some(spec) = command::spec::lookup(name) {
                table.insert(spec.name.as_bytes(), Found::Inmem(spec));
            }
        }
        for spec in redis::tables().flatten() {
            table.insert(spec.name.as_bytes(), Found::Redis(spec));
        }
        table
    })
}

/// Looks a command word up (any case).
pub fn find(name: &[u8]) -> Option<Found> {
    if name.len() > MAX_NAME {
        return None;
    }
    let mut lower = [0u8; MAX_NAME];
    let lower = &mut lower[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    table().get(&*lower).copied()
}

/// Redis's reply to an unknown command, quoting the start of its arguments
/// as Redis's `%.*s` does: the name up to 128 bytes, then arguments while
/// the quoted text is under 128 bytes, each cut to what is left of them;
/// every word ends at a NUL byte.
pub fn unknown_command(args: &[Vec<u8>]) -> CommandError {
    fn c_string(word: &[u8], most: usize) -> &[u8] {
        let word = &word[..word.len().min(most)];
        word.split(|b| *b == 0).next().unwrap_or_default()
    }
    let mut quoted: Vec<u8> = Vec::new();
    for arg in &args[1..] {
        if quoted.len() >= 128 {
            break;
        }
        let room = 128 - quoted.len();
        quoted.push(b'\'');
        quoted.extend_from_slice(c_string(arg, room));
        quoted.extend_from_slice(b"' ");
    }
    CommandError::BadArgument(format!(
        "unknown command '{}', with args beginning with: {}",
        String::from_utf8_lossy(c_string(&args[0], 128)),
        String::from_utf8_lossy(&quoted)
    ))
}

/// One connection.
pub struct Client {
    pub(super) shared: Arc<Shared>,
    pub(super) handle: Arc<ClientHandle>,
    pub(super) session: Session,
    pub(super) protocol: Protocol,
    pub(super) authenticated: bool,
    pub(super) transaction: Transaction,
    /// True when a command since the last acknowledgement may have written.
    wrote: bool,
    /// The last command run and not yet shown in the registry: the registry
    /// is updated once per batch of requests, not once per request.
    unshown: Option<&'static str>,
    /// The command of the last request: clients mostly repeat it, and
    /// comparing its name costs less than a lookup.
    last_found: Option<Found>,
    /// True when the request being handled comes straight after a keyspace
    /// command of the same batch, so it is timed from that one's end.
    follows: bool,
    /// Requests handled in the current batch.
    in_batch: usize,
    /// CLIENT REPLY's setting.
    replies: Replies,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("id", &self.handle.id)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A fresh connection registered as `handle`.
    pub fn new(shared: Arc<Shared>, handle: Arc<ClientHandle>) -> Self {
        let session = Session::new(shared.db.clone());
        let authenticated = shared.settings.requirepass.is_none();
        Client {
            shared,
            handle,
            session,
            protocol: Protocol::Resp2,
            authenticated,
            transaction: Transaction::default(),
            wrote: false,
            unshown: None,
            last_found: None,
            follows: false,
            in_batch: 0,
            replies: Replies::On,
        }
    }

    /// The protocol replies are encoded in.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// True when every reply is sent (CLIENT REPLY ON, the default): the
    /// connection then need not ask [`Client::drop_reply`].
    pub fn replies_on(&self) -> bool {
        self.replies == Replies::On
    }

    /// Called after each request while [`Client::replies_on`] is false: true
    /// when that request's reply (even an error) must be dropped, as CLIENT
    /// REPLY OFF or SKIP asked.
    pub fn drop_reply(&mut self) -> bool {
        match self.replies {
            Replies::On => false,
            Replies::Off => true,
            // The request that ran SKIP has no reply of its own to drop,
            // unless it was an EXEC, whose reply Redis still sends.
            Replies::SkipNext => {
                self.replies = Replies::Skip;
                false
            }
            Replies::Skip => {
                self.replies = Replies::On;
                true
            }
        }
    }

    /// Notes that a command may have written, so the log is made safe before replying.
    pub(super) fn mark_written(&mut self, wrote: bool) {
        self.wrote |= wrote;
    }

    /// True (once) when commands since the last call may have written, so the
    /// log must be made safe before their replies are sent.
    pub fn take_wrote(&mut self) -> bool {
        std::mem::take(&mut self.wrote)
    }

    /// Shows the last command run, and the time now, in the registry (CLIENT
    /// LIST's `cmd` and `idle`). The connection calls it after each batch of
    /// requests; connection commands call it before they run, so a client
    /// listing itself sees its current command.
    pub fn show_activity(&mut self) {
        if let Some(name) = self.unshown.take() {
            self.handle.update(|s| {
                s.last_command = name;
                s.last_active = Some(Instant::now());
            });
        }
    }

    /// Starts a batch of requests (those of one read): from its second
    /// request on, their statistics and command-log lines are held back until
    /// [`Client::end_batch`], and each request after the first keyspace
    /// command is timed from the end of the one before it, so the locks and
    /// the clock are taken once per batch rather than once per request. (A
    /// lone request records straight into the shared log batch, whose
    /// timestamp all connections share.)
    pub fn begin_batch(&mut self) {
        self.in_batch = 0;
        self.follows = false;
    }

    /// Ends a batch: hands over its records and shows its last command in
    /// the registry.
    pub fn end_batch(&mut self) {
        self.session.release_records();
        self.show_activity();
    }

    /// Runs one request and returns its reply: none for SHUTDOWN, and none
    /// for GET and SET without options, whose replies are encoded straight
    /// into `out`. `args` is left for the decoder to reuse, or taken when
    /// MULTI queues them.
    pub fn handle(&mut self, args: &mut Vec<Vec<u8>>, out: &mut Vec<u8>) -> (Option<Frame>, Flow) {
        self.in_batch += 1;
        if self.in_batch == 2 {
            self.session.hold_records();
        }
        let follows = std::mem::take(&mut self.follows);
        let found = match self.last_found {
            Some(last) if args[0].eq_ignore_ascii_case(last.name().as_bytes()) => Some(last),
            _ => find(&args[0]),
        };
        let Some(found) = found else {
            let refusal = reply::error(&unknown_command(args));
            return (Some(self.refuse(None, refusal)), Flow::Continue);
        };
        self.last_found = Some(found);
        let name = found.name();
        self.unshown = Some(name);
        if !found.accepts(args.len()) {
            let refusal = reply::error(&arity_error(found));
            return (Some(self.refuse(Some(found), refusal)), Flow::Continue);
        }
        if !self.authenticated && !found.flag("no_auth") {
            let refusal = Frame::Error("NOAUTH Authentication required.".into());
            return (Some(self.refuse(Some(found), refusal)), Flow::Continue);
        }
        if self.transaction.is_open()
            && let Some(frame) = self.queue_in_multi(found, args)
        {
            return (Some(frame), Flow::Continue);
        }
        if let Found::Redis(spec) = found
            && self.run_direct(spec, args, follows, out)
        {
            self.follows = true;
            return (None, Flow::Continue);
        }
        self.follows = follows;
        self.run(found, args)
    }

    /// The commonest requests, GET and SET without options, run from their
    /// words without building an operation, their replies encoded straight
    /// into `out` (GET's from the stored value): false when `spec` is not
    /// one of them or the session runs it the general way (in a transaction).
    fn run_direct(
        &mut self,
        spec: &'static RedisSpec,
        args: &[Vec<u8>],
        follows: bool,
        out: &mut Vec<u8>,
    ) -> bool {
        match spec.name {
            "get" => {
                let protocol = self.protocol;
                let encode = |value: Option<&[u8]>| resp::encode_bulk(value, protocol, out);
                self.session
                    .execute_get_after(spec.name, args, follows, encode)
            }
            "set" if args.len() == 3 => {
                let Some(result) = self.session.execute_put_after(spec.name, args, follows) else {
                    return false;
                };
                self.wrote = true;
                match result {
                    Ok(()) => out.extend_from_slice(b"+OK\r\n"),
                    Err(error) => resp::encode(&reply::error(&error), self.protocol, out),
                }
                true
            }
            _ => false,
        }
    }

    /// Runs a command that passed the table checks.
    pub(super) fn run(&mut self, found: Found, args: &[Vec<u8>]) -> (Option<Frame>, Flow) {
        self.wrote |= found.writes();
        let frame = match found {
            Found::Inmem(spec) => self.run_inmem(spec, args),
            Found::Redis(spec) => match redis::build(spec, &args[1..]) {
                Some(Ok(command)) => self.execute(spec.name, command, args),
                Some(Err(error)) => reply::error(&error),
                None => return self.run_connection(spec, args),
            },
        };
        (Some(frame), Flow::Continue)
    }

    /// Runs a typed keyspace command through the session.
    pub(super) fn execute(
        &mut self,
        name: &'static str,
        command: command::Command,
        args: &[Vec<u8>],
    ) -> Frame {
        let follows = std::mem::take(&mut self.follows);
        let result = self
            .session
            .execute_command_after(name, command, args, follows);
        self.follows = true;
        match result {
            Ok(answer) => reply::frame(answer),
            Err(error) => reply::error(&error),
        }
    }

    fn run_inmem(&mut self, spec: &'static Spec, args: &[Vec<u8>]) -> Frame {
        let words = command::words(args);
        match command::build_with(Some(spec), &words) {
            Ok(command::Command::Use(namespace)) => match self.session.use_namespace(&namespace) {
                Ok(()) => {
                    self.handle.update(|s| s.namespace = namespace);
                    Frame::Simple("OK".into())
                }
                Err(error) => reply::error(&error),
            },
            Ok(built) => self.execute(spec.name, built, args),
            Err(error) => reply::error(&error.error),
        }
    }

    /// Connection, server and transaction commands.
    fn run_connection(
        &mut self,
        spec: &'static RedisSpec,
        args: &[Vec<u8>],
    ) -> (Option<Frame>, Flow) {
        self.unshown = Some(full_name(spec.name, args));
        self.show_activity();
        // What it shows or records comes after the batch's earlier commands.
        self.session.hand_over();
        self.follows = false;
        let started = Instant::now();
        let sub = args.get(1).map(|a| a.to_ascii_lowercase());
        let sub = sub.as_deref();
        let result = match spec.name {
            "ping" => match args.len() {
                1 => Ok(Frame::Simple("PONG".into())),
                2 => Ok(Frame::Bulk(args[1].clone())),
                _ => Err(CommandError::RedisArity("ping")),
            },
            "echo" => Ok(Frame::Bulk(args[1].clone())),
            "quit" => return (Some(Frame::Simple("OK".into())), Flow::Close),
            "hello" => self.hello(args),
            "auth" => self.auth(&args[1..]),
            "select" => self.select(&args[1]),
            "reset" => {
                self.reset();
                Ok(Frame::Simple("RESET".into()))
            }
            "client" => return self.client(sub.unwrap_or_default(), args),
            "command" => introspect::command(sub, args),
            "multi" | "exec" | "discard" | "watch" | "unwatch" => {
                let frame = self.transaction_command(spec.name, args);
                self.show_transaction();
                Ok(frame)
            }
            "shutdown" => match admin::shutdown_mode(&args[1..]) {
                Ok(save) => {
                    if save
                        && let Err(e) = self.shared.db.persistence().save(self.shared.db.engine())
                    {
                        return (
                            Some(Frame::Error(reply::with_code(&format!(
                                "Errors trying to SHUTDOWN. Check logs. ({e})"
                            )))),
                            Flow::Continue,
                        );
                    }
                    return (None, Flow::Shutdown);
                }
                Err(error) => Err(error),
            },
            _ => admin::run(self, spec.name, sub, args),
        };
        self.shared.db.stats().record(spec.name, started.elapsed());
        let frame = match result {
            Ok(frame) => frame,
            Err(error) => reply::error(&error),
        };
        (Some(frame), Flow::Continue)
    }

    fn hello(&mut self, args: &[Vec<u8>]) -> Result<Frame, CommandError> {
        let mut protocol = self.protocol;
        let mut rest = &args[1..];
        if let Some(version) = rest.first() {
            protocol = match redis::parse_int(version) {
                Ok(2) => Protocol::Resp2,
                Ok(3) => Protocol::Resp3,
                Ok(_) => {
                    return Err(CommandError::BadArgument(
                        "NOPROTO unsupported protocol version".into(),
                    ));
                }
                Err(_) => {
                    return Err(CommandError::BadArgument(
                        "Protocol version is not an integer or out of range".into(),
                    ));
                }
            };
            rest = &rest[1..];
        }
        let mut name = None;
        let mut credentials = None;
        while let Some(option) = rest.first() {
            match (option.to_ascii_lowercase().as_slice(), rest.len()) {
                (b"auth", n) if n >= 3 => {
                    credentials = Some(&rest[1..3]);
                    rest = &rest[3..];
                }
                (b"setname", n) if n >= 2 => {
                    name = Some(valid_name(&rest[1])?);
                    rest = &rest[2..];
                }
                _ => {
                    return Err(CommandError::BadArgument(format!(
                        "Syntax error in HELLO option '{}'",
                        String::from_utf8_lossy(option)
                    )));
                }
            }
        }
        // Options are all checked before the credentials, as Redis does.
        if let Some(credentials) = credentials {
            self.auth(credentials)?;
        }
        if !self.authenticated {
            return Err(CommandError::BadArgument(
                "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time".into(),
            ));
        }
        self.protocol = protocol;
        let version = if protocol == Protocol::Resp3 { 3 } else { 2 };
        self.handle.update(|s| {
            s.protocol = version;
            if name.is_some() {
                s.name = name;
            }
        });
        let text = |s: &str| Frame::Bulk(s.as_bytes().to_vec());
        Ok(Frame::Map(vec![
            (text("server"), text("inmem")),
            (text("version"), text(super::REDIS_VERSION)),
            (text("inmem_version"), text(env!("CARGO_PKG_VERSION"))),
            (text("proto"), Frame::Integer(i64::from(version))),
            (text("id"), Frame::Integer(self.handle.id as i64)),
            (text("mode"), text("standalone")),
            (text("role"), text("master")),
            (text("modules"), Frame::Array(Vec::new())),
        ]))
    }

    /// AUTH as Redis 7 answers it: the `default` user needs `requirepass`
    /// when one is set and takes any password otherwise (it has `nopass`);
    /// no other user exists.
    fn auth(&mut self, args: &[Vec<u8>]) -> Result<Frame, CommandError> {
        let wrongpass = || {
            CommandError::BadArgument(
                "WRONGPASS invalid username-password pair or user is disabled.".into(),
            )
        };
        let (user, password) = match args {
            [password] => (None, password),
            [user, password] => (Some(user.as_slice()), password),
            _ => return Err(CommandError::BadArgument("syntax error".into())),
        };
        let required = self.shared.settings.requirepass.as_deref();
        let accepted = match (user, required) {
            (None, None) => {
                return Err(CommandError::BadArgument(
                    "AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?".into(),
                ));
            }
            (Some(user), _) if user != b"default" => false,
            (_, None) => true,
            (_, Some(required)) => password.as_slice() == required.as_bytes(),
        };
        if !accepted {
            return Err(wrongpass());
        }
        self.authenticated = true;
        Ok(Frame::Simple("OK".into()))
    }

    fn select(&mut self, index: &[u8]) -> Result<Frame, CommandError> {
        let namespace = global::db_namespace(index)?;
        self.session.use_namespace(&namespace)?;
        self.handle.update(|s| s.namespace = namespace);
        Ok(Frame::Simple("OK".into()))
    }

    fn reset(&mut self) {
        // Replies are back on, though a RESET that CLIENT REPLY SKIP
        // silenced stays silent, as in Redis.
        if self.replies != Replies::Skip {
            self.replies = Replies::On;
        }
        self.transaction = Transaction::default();
        let _ = self.session.use_namespace(crate::engine::DEFAULT_NAMESPACE);
        self.protocol = Protocol::Resp2;
        self.authenticated = self.shared.settings.requirepass.is_none();
        self.handle.update(|s| {
            s.name = None;
            s.protocol = 2;
            s.in_multi = false;
            s.queued = 0;
            s.namespace = crate::engine::DEFAULT_NAMESPACE.to_string();
        });
    }

    fn client(&mut self, sub: &[u8], args: &[Vec<u8>]) -> (Option<Frame>, Flow) {
        let ok = || Frame::Simple("OK".into());
        let result: Result<Frame, CommandError> = match (sub, args.len()) {
            (b"id", 2) => Ok(Frame::Integer(self.handle.id as i64)),
            (b"getname", 2) => Ok(self
                .handle
                .state()
                .name
                .map_or(Frame::Null, |n| Frame::Bulk(n.into_bytes()))),
            (b"setname", 3) => valid_name(&args[2]).map(|name| {
                self.handle
                    .update(|s| s.name = Some(name).filter(|n| !n.is_empty()));
                ok()
            }),
            (b"list", _) => admin::client_list(&self.shared, &args[2..]),
            (b"info", 2) => Ok(Frame::Verbatim {
                format: "txt".into(),
                text: format!("{}\n", self.handle.describe()).into_bytes(),
            }),
            (b"kill", n) if n >= 3 => {
                let result = admin::client_kill(&self.shared, self.handle.id, &args[2..]);
                let killed_self = self.handle.is_killed();
                return match result {
                    Ok(frame) if killed_self => (Some(frame), Flow::Close),
                    Ok(frame) => (Some(frame), Flow::Continue),
                    Err(error) => (Some(reply::error(&error)), Flow::Continue),
                };
            }
            (b"reply", 3) => {
                match args[2].to_ascii_lowercase().as_slice() {
                    b"on" => self.replies = Replies::On,
                    b"off" => self.replies = Replies::Off,
                    b"skip" if self.replies != Replies::Off => self.replies = Replies::SkipNext,
                    b"skip" => {}
                    _ => return (Some(syntax_error()), Flow::Continue),
                }
                // OFF and SKIP are not answered.
                let frame = (self.replies == Replies::On).then(ok);
                return (frame, Flow::Continue);
            }
            (b"no-evict" | b"no-touch", 3) => {
                if args[2].eq_ignore_ascii_case(b"on") || args[2].eq_ignore_ascii_case(b"off") {
                    Ok(ok())
                } else {
                    Ok(syntax_error())
                }
            }
            (b"setinfo", 4) => Ok(ok()),
            (b"help", 2) => Ok(admin::help::help("CLIENT", admin::help::CLIENT)),
            (
                b"id" | b"getname" | b"setname" | b"info" | b"kill" | b"reply" | b"no-evict"
                | b"no-touch" | b"setinfo" | b"help",
                _,
            ) => Err(CommandError::BadArgument(format!(
                "wrong number of arguments for 'client|{}' command",
                String::from_utf8_lossy(sub)
            ))),
            _ => Err(unknown_subcommand(&args[1], "CLIENT")),
        };
        (
            Some(result.unwrap_or_else(|e| reply::error(&e))),
            Flow::Continue,
        )
    }
}

fn syntax_error() -> Frame {
    Frame::Error("ERR syntax error".into())
}

/// A CLIENT SETNAME name: no spaces, newlines or other special characters.
fn valid_name(name: &[u8]) -> Result<String, CommandError> {
    if name.iter().any(|b| *b <= b' ' || *b > b'~') {
        return Err(CommandError::BadArgument(
            "Client names cannot contain spaces, newlines or special characters.".into(),
        ));
    }
    Ok(String::from_utf8_lossy(name).into_owned())
}

/// The subcommands of the commands that have them, by Redis's full name.
const SUBCOMMANDS: &[&str] = &[
    "client|id",
    "client|getname",
    "client|setname",
    "client|list",
    "client|info",
    "client|kill",
    "client|reply",
    "client|no-evict",
    "client|no-touch",
    "client|setinfo",
    "client|help",
    "command|count",
    "command|list",
    "command|info",
    "command|docs",
    "command|getkeys",
    "command|help",
    "config|get",
    "config|set",
    "config|resetstat",
    "config|rewrite",
    "config|help",
    "object|encoding",
    "object|freq",
    "object|idletime",
    "object|refcount",
    "object|help",
    "memory|usage",
    "memory|help",
];

/// The name CLIENT LIST shows for a request: Redis's full name
/// (`client|list`) for a known subcommand, else the command's own.
fn full_name(name: &'static str, args: &[Vec<u8>]) -> &'static str {
    let Some(sub) = args.get(1) else {
        return name;
    };
    SUBCOMMANDS
        .iter()
        .find(|full| {
            full.split_once('|').is_some_and(|(command, s)| {
                command == name && s.as_bytes().eq_ignore_ascii_case(sub)
            })
        })
        .copied()
        .unwrap_or(name)
}

/// Redis's reply to an unknown subcommand of `command`, quoting (the start
/// of) the word as it was sent.
pub fn unknown_subcommand(sub: &[u8], command: &str) -> CommandError {
    CommandError::BadArgument(format!(
        "unknown subcommand '{}'. Try {command} HELP.",
        String::from_utf8_lossy(&sub[..sub.len().min(128)])
    ))
}

/// The wrong-arity error, in Redis's words for both tables.
pub fn arity_error(found: Found) -> CommandError {
    match found {
        Found::Redis(spec) => redis::arity_error(spec),
        Found::Inmem(spec) => CommandError::RedisArity(spec.name),
    }
}
