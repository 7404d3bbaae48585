//! MULTI, EXEC, DISCARD, WATCH and UNWATCH for one connection.

use super::client::{Client, Found};
use super::reply;
use super::resp::Frame;
use crate::error::CommandError;

/// A connection's MULTI queue and watched keys.
#[derive(Debug, Default)]
pub struct Transaction {
    queued: Option<Vec<(Found, Vec<Vec<u8>>)>>,
    failed: bool,
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
    pub fn queue(&mut self, found: Found, args: Vec<Vec<u8>>) {
        if let Some(queued) = self.queued.as_mut() {
            queued.push((found, args));
        }
    }
}

fn err(message: &str) -> Frame {
    reply::error(&CommandError::BadArgument(message.into()))
}

impl Client {
    /// Answers a transaction command.
    pub(super) fn transaction_command(&mut self, name: &str, args: &[Vec<u8>]) -> Frame {
        let ok = Frame::Simple("OK".into());
        match name {
            "multi" if self.transaction.is_open() => err("MULTI calls can not be nested"),
            "multi" => {
                self.transaction.queued = Some(Vec::new());
                self.transaction.failed = false;
                ok
            }
            "discard" if !self.transaction.is_open() => err("DISCARD without MULTI"),
            "discard" => {
                self.transaction = Transaction::default();
                ok
            }
            "watch" if self.transaction.is_open() => err("WATCH inside MULTI is not allowed"),
            "watch" => {
                let _ = &args[1..];
                ok
            }
            "unwatch" => ok,
            "exec" => self.exec(),
            _ => err("unknown transaction command"),
        }
    }

    fn exec(&mut self) -> Frame {
        let Some(queued) = self.transaction.queued.take() else {
            return err("EXEC without MULTI");
        };
        let failed = std::mem::take(&mut self.transaction.failed);
        if failed {
            return Frame::Error(
                "EXECABORT Transaction discarded because of previous errors.".into(),
            );
        }
        let mut frames = Vec::with_capacity(queued.len());
        for (found, args) in queued {
            let (frame, _) = self.run(found, args);
            frames.push(frame.unwrap_or(Frame::Null));
        }
        Frame::Array(frames)
    }
}
