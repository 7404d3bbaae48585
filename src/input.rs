//! Script input read ahead: a thread of its own reads a script's input in
//! blocks and splits the plain lines of each (see [`Split`]) while the
//! statements before them run, so that work leaves the thread that runs
//! them. The runner reads either this or a plain [`BufReader`] through
//! [`Input`].

use crate::command::plain::{self, Split};
use std::io::{BufRead, BufReader, Read};
use std::ops::Range;
use std::sync::mpsc::{Receiver, Sender, SyncSender};

/// Script input as [`crate::runner::Runner::run_reader`] reads it: read
/// bytes waiting in a buffer, whose plain lines may have been split ahead.
pub trait Input: BufRead {
    /// Takes in input that arrived meanwhile, when none is waiting, without blocking.
    fn refill(&mut self) {}
    /// The bytes read and waiting.
    fn waiting(&self) -> &[u8];
    /// The plain whole lines at the start of [`Input::waiting`] (their
    /// length in bytes) with their split, when they were split ahead.
    fn split_ahead(&self) -> Option<(usize, &Split)> {
        None
    }
    /// True when no input is waiting (any that arrived is taken in first):
    /// reading more may wait for it.
    fn is_drained(&mut self) -> bool {
        self.refill();
        self.waiting().is_empty()
    }
}

impl<R: Read> Input for BufReader<R> {
    fn waiting(&self) -> &[u8] {
        self.buffer()
    }
}

/// Bytes the reading thread asks for at once (it hands over what it gets,
/// which from a pipe may be less).
const AHEAD_BLOCK: usize = 1 << 18;
/// Blocks the reading thread may have read before they are run.
const AHEAD_BLOCKS: usize = 2;

/// A block of script input read ahead, with the plain whole lines of it
/// that the runner will run from it split.
#[derive(Debug, Default)]
struct Block {
    bytes: Vec<u8>,
    /// Where the split lines are in `bytes` (empty when there are none).
    plain: Range<usize>,
    split: Split,
}

impl Block {
    /// Splits the plain whole lines that start with the first line starting
    /// in this block: at its start when the block before ended a line, else
    /// after its first newline (the runner reads the line that crosses into
    /// it on its own). Where they start, the runner will find them waiting.
    fn split_plain(&mut self, starts_line: bool) {
        let start = match starts_line {
            true => 0,
            false => self
                .bytes
                .iter()
                .position(|&b| b == b'\n')
                .map_or(self.bytes.len(), |newline| newline + 1),
        };
        let whole = plain::plain_whole_lines(&self.bytes[start..]);
        self.plain = start..start + whole;
        if !self.split.fill(&self.bytes[self.plain.clone()]) {
            self.plain = start..start;
        }
    }
}

/// Script input that a thread of its own reads and splits, a few blocks
/// ahead of the statements running (see
/// [`crate::runner::Runner::run_reader_ahead`]).
pub struct Ahead {
    blocks: Receiver<std::io::Result<Block>>,
    /// Blocks run, back to the reading thread to fill again.
    spent: Sender<Block>,
    current: Block,
    /// How much of `current` was consumed.
    at: usize,
    /// A read error received, not yet reported.
    error: Option<std::io::Error>,
}

impl Ahead {
    /// Starts the thread reading `input`.
    pub fn start<R: Read + Send + 'static>(input: R) -> std::io::Result<Ahead> {
        let (send, blocks) = std::sync::mpsc::sync_channel(AHEAD_BLOCKS);
        let (spent, recycled) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("inmem-reader".into())
            .spawn(move || read_ahead(input, &send, &recycled))?;
        Ok(Ahead {
            blocks,
            spent,
            current: Block::default(),
            at: 0,
            error: None,
        })
    }

    /// Makes a received block the current one, or keeps the error received.
    fn take(&mut self, received: std::io::Result<Block>) {
        match received {
            Ok(block) => {
                let spent = std::mem::replace(&mut self.current, block);
                self.at = 0;
                // The reading thread may have ended; then it needs no block.
                let _ = self.spent.send(spent);
            }
            Err(e) => self.error = Some(e),
        }
    }
}

/// The reading thread: reads `input` block by block, splits each block's
/// plain lines and sends it, until the input ends or fails or the runner
/// stops listening. Blocks come back through `recycled` to be filled again.
fn read_ahead<R: Read>(
    mut input: R,
    blocks: &SyncSender<std::io::Result<Block>>,
    recycled: &Receiver<Block>,
) {
    let mut starts_line = true;
    loop {
        let mut block = recycled.try_recv().unwrap_or_default();
        block.bytes.resize(AHEAD_BLOCK, 0);
        let read = loop {
            match input.read(&mut block.bytes) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                read => break read,
            }
        };
        let read = match read {
            Ok(0) => return,
            Ok(read) => read,
            Err(e) => {
                let _ = blocks.send(Err(e));
                return;
            }
        };
        block.bytes.truncate(read);
        block.split_plain(starts_line);
        starts_line = block.bytes.last() == Some(&b'\n');
        if blocks.send(Ok(block)).is_err() {
            return;
        }
    }
}

impl Read for Ahead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let waiting = self.fill_buf()?;
        let n = waiting.len().min(buf.len());
        buf[..n].copy_from_slice(&waiting[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Ahead {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.error.is_none() && self.at == self.current.bytes.len() {
            // An error means the reading thread has ended: the input ended.
            if let Ok(received) = self.blocks.recv() {
                self.take(received);
            }
        }
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        Ok(&self.current.bytes[self.at..])
    }

    fn consume(&mut self, amount: usize) {
        self.at = (self.at + amount).min(self.current.bytes.len());
    }
}

impl Input for Ahead {
    fn refill(&mut self) {
        if self.error.is_none()
            && self.at == self.current.bytes.len()
            && let Ok(received) = self.blocks.try_recv()
        {
            self.take(received);
        }
    }

    fn waiting(&self) -> &[u8] {
        &self.current.bytes[self.at..]
    }

    fn split_ahead(&self) -> Option<(usize, &Split)> {
        let plain = &self.current.plain;
        (self.at == plain.start && !plain.is_empty()).then_some((plain.len(), &self.current.split))
    }
}
