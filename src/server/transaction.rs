//! MULTI, EXEC, DISCARD, WATCH and UNWATCH for one connection. Queued
//! keyspace commands run under one hold of the engine's lock at EXEC (one log
//! record, Redis's per-command errors); connection commands queued with them
//! (PING, ECHO, INFO, ...) are answered in their place; SELECT inside MULTI
//! changes the namespace of the commands queued after it.

use super::client::{Client, Found};
use super::reply;
use super::resp::Frame;
use crate::command::redis::{self, global};
use crate::command::{self, Command};
use crate::engine::{Eviction, ExecOp, WatchSet};
use crate::error::CommandError;
use std::time::Instant;

/// A connection's MULTI queue and watched keys.
#[derive(Debug, Default)]
pub struct Transaction {
    queued: Option<Vec<(Found, Vec<Vec<u8>>)>>,
    failed: bool,
    /// True when a queued command is one Redis refuses over maxmemory.
    queued_denyoom: bool,
    watches: WatchSet,
}

impl Transaction {
    /// True between MULTI and EXEC/DISCARD.
    pub fn is_open(&self) -> bool {
        self.queued.is_some()
    }

    /// Remembers that a command was refused while queueing, so EXEC aborts.
    pub fn flag_error(&mut self) {
        if self.is_open() {
            self.failed = true;
        }
    }

    /// Queues a checked command for EXEC.
    fn queue(&mut self, found: Found, args: Vec<Vec<u8>>) {
        self.queued_denyoom |= found.flag("denyoom");
        if let Some(queued) = self.queued.as_mut() {
            queued.push((found, args));
        }
    }
}

fn err(message: &str) -> Frame {
    reply::error(&CommandError::BadArgument(message.into()))
}

/// What EXEC does with one queued command.
enum Slot {
    /// Already answered (a build error, or SELECT).
    Done(Frame),
    /// The n-th item of the atomic block.
    Atomic(usize),
    /// A connection command, answered after the block.
    Later(Found, Vec<Vec<u8>>),
}

/// The commands that run at once inside MULTI instead of being queued.
fn runs_in_multi(name: &str) -> bool {
    matches!(
        name,
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

impl Client {
    /// Answers a request Redis refuses before running it: the transaction
    /// (if any) is flagged to abort at EXEC, and a refused EXEC itself
    /// discards the transaction and says why, as Redis does.
    pub(super) fn refuse(&mut self, found: Option<Found>, refusal: Frame) -> Frame {
        self.transaction.flag_error();
        match (found, refusal) {
            (Some(found), Frame::Error(text)) if found.name() == "exec" => {
                self.transaction = Transaction::default();
                self.show_transaction();
                let reason = text.strip_prefix("ERR ").unwrap_or(&text);
                Frame::Error(format!(
                    "EXECABORT Transaction discarded because of: {reason}"
                ))
            }
            (_, refusal) => refusal,
        }
    }

    /// Inside MULTI: refuses what Redis refuses while queueing (commands
    /// flagged `no_multi`; over maxmemory, anything but DISCARD, QUIT and
    /// RESET, and EXEC when a `denyoom` command is queued) and queues the rest. `None` for the commands that run at
    /// once even inside MULTI.
    pub(super) fn queue_in_multi(
        &mut self,
        found: Found,
        args: &mut Vec<Vec<u8>>,
    ) -> Option<Frame> {
        let name = found.name();
        if found.flag("no_multi") {
            let refusal = err("Command not allowed inside a transaction");
            return Some(self.refuse(Some(found), refusal));
        }
        // EXEC itself is refused when what it would run may need memory.
        let needs_room = match name {
            "exec" => self.transaction.queued_denyoom,
            "discard" | "quit" | "reset" => false,
            _ => true,
        };
        if needs_room && self.out_of_memory() {
            let refusal = reply::error(&CommandError::OutOfMemory(String::new()));
            return Some(self.refuse(Some(found), refusal));
        }
        if runs_in_multi(name) {
            return None;
        }
        self.transaction.queue(found, std::mem::take(args));
        self.handle.update(|s| s.queued += 1);
        Some(Frame::Simple("QUEUED".into()))
    }

    /// True when memory is over `maxmemory` and no key can be evicted to
    /// make room, where Redis refuses to queue commands in MULTI. (Writes
    /// outside MULTI learn the same from the engine when they run.)
    fn out_of_memory(&self) -> bool {
        let engine = self.shared.db.engine();
        let limits = engine.limits();
        let Some(max) = limits.maxmemory else {
            return false;
        };
        let namespaces = engine.namespace_stats();
        let bytes: u64 = namespaces.iter().map(|n| n.bytes).sum();
        let candidates: u64 = if limits.policy.name().starts_with("volatile") {
            namespaces.iter().map(|n| n.expiring).sum()
        } else if limits.policy == Eviction::Noeviction {
            0
        } else {
            namespaces.iter().map(|n| n.keys).sum()
        };
        bytes > max && candidates == 0
    }

    /// Shows whether the connection is inside MULTI in the registry.
    pub(super) fn show_transaction(&self) {
        self.handle.update(|s| {
            s.in_multi = self.transaction.is_open();
            if !s.in_multi {
                s.queued = 0;
            }
        });
    }

    /// Answers a transaction command.
    pub(super) fn transaction_command(&mut self, name: &str, args: &[Vec<u8>]) -> Frame {
        let ok = Frame::Simple("OK".into());
        match name {
            "multi" if self.transaction.is_open() => err("MULTI calls can not be nested"),
            "multi" => {
                self.transaction.queued = Some(Vec::new());
                self.transaction.failed = false;
                self.transaction.queued_denyoom = false;
                ok
            }
            "discard" if !self.transaction.is_open() => err("DISCARD without MULTI"),
            "discard" => {
                self.transaction = Transaction::default();
                ok
            }
            "watch" if self.transaction.is_open() => err("WATCH inside MULTI is not allowed"),
            "watch" => {
                let namespace = self.session.namespace().to_string();
                let engine = self.shared.db.engine();
                for key in &args[1..] {
                    engine.watch(&mut self.transaction.watches, &namespace, key);
                }
                ok
            }
            "unwatch" => {
                self.transaction.watches.clear();
                ok
            }
            "exec" => self.exec(),
            _ => err("unknown transaction command"),
        }
    }

    fn exec(&mut self) -> Frame {
        let Some(queued) = self.transaction.queued.take() else {
            return err("EXEC without MULTI");
        };
        if std::mem::take(&mut self.transaction.failed) {
            self.transaction.watches.clear();
            return Frame::Error(
                "EXECABORT Transaction discarded because of previous errors.".into(),
            );
        }
        let started = Instant::now();
        let mut namespace = self.session.namespace().to_string();
        let mut items: Vec<(String, ExecOp)> = Vec::new();
        let mut names = Vec::new();
        let mut slots = Vec::with_capacity(queued.len());
        for (found, args) in queued {
            let slot = match queue_item(found, &args, &mut namespace) {
                Ok(Some(op)) => {
                    items.push((namespace.clone(), op));
                    names.push((found.name(), args));
                    Slot::Atomic(items.len() - 1)
                }
                Ok(None) if matches!(found.name(), "select" | "use") => {
                    Slot::Done(Frame::Simple("OK".into()))
                }
                Ok(None) => Slot::Later(found, args),
                Err(error) => Slot::Done(reply::error(&error)),
            };
            slots.push(slot);
        }
        let engine = self.shared.db.engine();
        let results = match engine.run_exec(&mut self.transaction.watches, &items) {
            Err(error) => return reply::error(&error),
            Ok(None) => return Frame::NullArray,
            Ok(Some(results)) => results,
        };
        if namespace != self.session.namespace() && self.session.use_namespace(&namespace).is_ok() {
            let shown = namespace.clone();
            self.handle.update(|s| s.namespace = shown);
        }
        let elapsed = started.elapsed() / (items.len().max(1) as u32);
        let mut atomic: Vec<Option<Frame>> = results
            .into_iter()
            .zip(&names)
            .map(|(result, (name, args))| {
                self.session
                    .record(name, args, result.as_ref().err(), elapsed);
                Some(match result {
                    Ok(answer) => reply::frame(answer),
                    Err(error) => reply::error(&error),
                })
            })
            .collect();
        self.mark_written(items.iter().any(|(_, op)| op_writes(op)));
        let frames = slots
            .into_iter()
            .map(|slot| match slot {
                Slot::Done(frame) => frame,
                Slot::Atomic(i) => atomic[i].take().unwrap_or(Frame::Null),
                Slot::Later(found, args) => self.run(found, &args).0.unwrap_or(Frame::Null),
            })
            .collect();
        Frame::Array(frames)
    }
}

fn op_writes(op: &ExecOp) -> bool {
    match op {
        ExecOp::Op(op) => op.writes(),
        ExecOp::Global(_) => true,
    }
}

/// Turns a queued command into an item of the atomic block, following SELECT
/// (and inmem's `use`) into `namespace`. `Ok(None)`: not part of the block.
fn queue_item(
    found: Found,
    args: &[Vec<u8>],
    namespace: &mut String,
) -> Result<Option<ExecOp>, CommandError> {
    let built = match found {
        Found::Redis(spec) if spec.name == "select" => {
            *namespace = global::db_namespace(&args[1])?;
            return Ok(None);
        }
        Found::Redis(spec) => match redis::build(spec, &args[1..]) {
            Some(built) => built?,
            None => return Ok(None),
        },
        Found::Inmem(spec) => {
            let words = command::words(args);
            command::build_with(Some(spec), &words).map_err(|e| e.error)?
        }
    };
    match built {
        Command::Use(name) => {
            *namespace = name;
            Ok(None)
        }
        other => match ExecOp::from_command(other) {
            Ok(op) => Ok(Some(op)),
            Err(_) => Err(CommandError::NotAllowedIn(found.name(), "MULTI")),
        },
    }
}
