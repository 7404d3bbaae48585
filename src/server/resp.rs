//! RESP frames: decoding client requests (multibulk and inline) and replies,
//! and encoding replies in RESP2 or RESP3.
//!
//! Pure and synchronous: the connection loop reads bytes into a `BytesMut`
//! and the decoders take whole requests or replies off its front. Both
//! decoders keep their progress between calls (the arguments or aggregates
//! read so far, the bulk being received, how far the current line was
//! searched), so a request that arrives in many reads is scanned once. The
//! caller must only ever append to the buffer between calls.
//!
//! Limits and error texts are Redis 7's, so clients see the same
//! `Protocol error: ...` replies. Memory is reserved only as bytes arrive:
//! a declared length is a promise, not an allocation.

use bytes::{Buf, BytesMut};
use std::mem;

/// How deeply the reply decoder lets aggregates nest.
const MAX_DEPTH: usize = 1024;

/// Most arguments or top-level elements reserved before they arrive.
const RESERVE_CAP: usize = 1024;

/// Most elements reserved for a nested aggregate before they arrive, so a
/// deep nest of large declared counts cannot multiply the reservation.
const NESTED_RESERVE_CAP: usize = 16;

/// The fewest bytes one argument of a multibulk request takes (`$0\r\n\r\n`).
const MIN_ARGUMENT_LEN: usize = 6;

/// The fewest bytes one element of a reply takes (`_\r\n`).
const MIN_ELEMENT_LEN: usize = 3;

/// A RESP value, as sent by servers (RESP2 and RESP3 types).
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// `+text`: a short status line.
    Simple(String),
    /// `-text` (or a RESP3 blob error `!`): the text includes the error code.
    Error(String),
    /// `:n`.
    Integer(i64),
    /// `$len` and binary-safe bytes.
    Bulk(Vec<u8>),
    /// RESP2 `$-1`, RESP3 `_`.
    Null,
    /// RESP2 `*-1`, RESP3 `_`.
    NullArray,
    /// `*n` and its elements.
    Array(Vec<Frame>),
    /// RESP3 `%n` and its key/value pairs.
    Map(Vec<(Frame, Frame)>),
    /// RESP3 `~n` and its elements.
    Set(Vec<Frame>),
    /// RESP3 `,x`.
    Double(f64),
    /// RESP3 `#t` or `#f`.
    Boolean(bool),
    /// RESP3 `=len` with a three-letter format (`txt`, `mkd`) and the text.
    Verbatim {
        /// `txt` or `mkd`; any other length is sent as `txt`.
        format: String,
        /// The text itself, without the format prefix.
        text: Vec<u8>,
    },
    /// RESP3 `(digits`.
    BigNumber(String),
    /// RESP3 `>n`: out-of-band data such as pub/sub messages.
    Push(Vec<Frame>),
}

/// The protocol version a client speaks (`HELLO 3` switches to RESP3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// RESP2, every client's starting protocol.
    #[default]
    Resp2,
    /// RESP3, with maps, sets, doubles, booleans and the rest.
    Resp3,
}

/// Appends `frame` encoded for `protocol`. RESP2 has no Map/Set/Double/Boolean/Verbatim/BigNumber/Push/Null
/// types: encode them as Redis does for RESP2 clients (map -> flat array k1 v1 ..., set/push -> array,
/// double -> bulk string, boolean -> integer 1/0, verbatim -> bulk string of the text, big number -> bulk string,
/// Null -> `$-1`, NullArray -> `*-1`). Simple/Error text must never contain CR or LF (replace them with spaces).
pub fn encode(frame: &Frame, protocol: Protocol, out: &mut Vec<u8>) {
    // Aggregates push their elements here, last first, instead of recursing.
    let mut pending: Vec<&Frame> = Vec::new();
    let mut next = Some(frame);
    while let Some(frame) = next {
        encode_one(frame, protocol, out, &mut pending);
        next = pending.pop();
    }
}

/// Writes what encoding `Frame::Bulk` of `bytes`, or `Frame::Null` for
/// none, writes, straight from borrowed bytes.
pub fn encode_bulk(bytes: Option<&[u8]>, protocol: Protocol, out: &mut Vec<u8>) {
    match bytes {
        Some(bytes) => write_blob(out, b'$', bytes),
        None => encode(&Frame::Null, protocol, out),
    }
}

/// Writes a scalar frame, or an aggregate's header with its elements queued on `pending`.
fn encode_one<'a>(
    frame: &'a Frame,
    protocol: Protocol,
    out: &mut Vec<u8>,
    pending: &mut Vec<&'a Frame>,
) {
    let resp3 = protocol == Protocol::Resp3;
    match frame {
        Frame::Simple(text) => write_line(out, b'+', text.as_bytes()),
        Frame::Error(text) => write_line(out, b'-', text.as_bytes()),
        Frame::Integer(n) => {
            out.push(b':');
            write_i64(out, *n);
            out.extend_from_slice(b"\r\n");
        }
        Frame::Bulk(bytes) => write_blob(out, b'$', bytes),
        Frame::Null if resp3 => out.extend_from_slice(b"_\r\n"),
        Frame::Null => out.extend_from_slice(b"$-1\r\n"),
        Frame::NullArray if resp3 => out.extend_from_slice(b"_\r\n"),
        Frame::NullArray => out.extend_from_slice(b"*-1\r\n"),
        Frame::Array(items) => queue_list(out, b'*', items, pending),
        Frame::Set(items) => queue_list(out, if resp3 { b'~' } else { b'*' }, items, pending),
        Frame::Push(items) => queue_list(out, if resp3 { b'>' } else { b'*' }, items, pending),
        Frame::Map(pairs) => {
            if resp3 {
                write_length(out, b'%', pairs.len());
            } else {
                write_length(out, b'*', pairs.len().saturating_mul(2));
            }
            pending.extend(pairs.iter().rev().flat_map(|(key, value)| [value, key]));
        }
        Frame::Double(x) => {
            let mut text = Vec::with_capacity(24);
            write_double(&mut text, *x);
            if resp3 {
                write_line(out, b',', &text);
            } else {
                write_blob(out, b'$', &text);
            }
        }
        Frame::Boolean(b) => out.extend_from_slice(match (resp3, b) {
            (true, true) => b"#t\r\n",
            (true, false) => b"#f\r\n",
            (false, true) => b":1\r\n",
            (false, false) => b":0\r\n",
        }),
        Frame::Verbatim { format, text } if resp3 => {
            let format = if format.len() == 3 {
                format.as_bytes()
            } else {
                b"txt"
            };
            write_length(out, b'=', text.len().saturating_add(4));
            out.extend_from_slice(format);
            out.push(b':');
            out.extend_from_slice(text);
            out.extend_from_slice(b"\r\n");
        }
        Frame::Verbatim { text, .. } => write_blob(out, b'$', text),
        Frame::BigNumber(digits) if resp3 => write_line(out, b'(', digits.as_bytes()),
        Frame::BigNumber(digits) => write_blob(out, b'$', digits.as_bytes()),
    }
}

/// Writes an aggregate header and queues its elements, first on top.
fn queue_list<'a>(out: &mut Vec<u8>, tag: u8, items: &'a [Frame], pending: &mut Vec<&'a Frame>) {
    write_length(out, tag, items.len());
    pending.extend(items.iter().rev());
}

/// Writes `tag text CRLF`, with any CR or LF in the text turned into a space.
fn write_line(out: &mut Vec<u8>, tag: u8, text: &[u8]) {
    out.push(tag);
    let start = out.len();
    out.extend_from_slice(text);
    for byte in &mut out[start..] {
        if *byte == b'\r' || *byte == b'\n' {
            *byte = b' ';
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// Writes `tag len CRLF bytes CRLF`.
fn write_blob(out: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
    write_length(out, tag, bytes.len());
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
}

/// Writes `tag len CRLF`.
fn write_length(out: &mut Vec<u8>, tag: u8, len: usize) {
    out.push(tag);
    write_u64(out, len as u64);
    out.extend_from_slice(b"\r\n");
}

/// Writes `n` in decimal.
fn write_i64(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    write_u64(out, n.unsigned_abs());
}

/// Writes `n` in decimal without going through `fmt`.
fn write_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// Writes `x` as C's `%.17g` does, which is how Redis 7.0 sends doubles
/// (`1.1` is `1.1000000000000001`, `1e17` is `1e+17`); infinities are
/// `inf` and `-inf`, and NaN is `nan`.
fn write_double(out: &mut Vec<u8>, x: f64) {
    const PRECISION: i32 = 17;
    if x.is_nan() {
        out.extend_from_slice(b"nan");
        return;
    }
    if x.is_sign_negative() {
        out.push(b'-');
    }
    if x.is_infinite() {
        out.extend_from_slice(b"inf");
        return;
    }
    if x == 0.0 {
        out.push(b'0');
        return;
    }
    // Seventeen significant digits, correctly rounded: "d.dddddddddddddddde<exp>".
    let scientific = format!("{:.16e}", x.abs());
    let Some((mantissa, exponent)) = scientific.split_once('e') else {
        out.extend_from_slice(scientific.as_bytes());
        return;
    };
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    let significant = digits.len() - digits.iter().rev().take_while(|&&d| d == b'0').count();
    let digits = &digits[..significant.max(1)];
    if !(-4..PRECISION).contains(&exponent) {
        out.push(digits[0]);
        if digits.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        out.push(b'e');
        out.push(if exponent < 0 { b'-' } else { b'+' });
        if exponent.abs() < 10 {
            out.push(b'0');
        }
        write_u64(out, u64::from(exponent.unsigned_abs()));
    } else if exponent < 0 {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', (-exponent - 1) as usize));
        out.extend_from_slice(digits);
    } else {
        let whole = exponent as usize + 1;
        if digits.len() <= whole {
            out.extend_from_slice(digits);
            out.extend(std::iter::repeat_n(b'0', whole - digits.len()));
        } else {
            out.extend_from_slice(&digits[..whole]);
            out.push(b'.');
            out.extend_from_slice(&digits[whole..]);
        }
    }
}

/// Size limits on what peers may declare, as in Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest bulk string (Redis's `proto-max-bulk-len`).
    pub max_bulk_len: usize,
    /// Most arguments in a request, or elements in a reply aggregate.
    pub max_multibulk_len: usize,
    /// Longest inline request or length line still without its end.
    pub max_inline_len: usize,
}

impl Default for Limits {
    /// Redis's: 512 MiB bulk strings (`proto-max-bulk-len`) and 64 KiB lines; 1024*1024 elements,
    /// where redis-server 7.0 itself takes counts up to `i32::MAX` (memory here is reserved only as
    /// arguments arrive, so a larger limit would be safe too).
    fn default() -> Self {
        Self {
            max_bulk_len: 512 * 1024 * 1024,
            max_multibulk_len: 1024 * 1024,
            max_inline_len: 64 * 1024,
        }
    }
}

/// A malformed request or reply; the connection cannot continue after it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Protocol error: {0}")]
pub struct ProtocolError(pub String);

impl ProtocolError {
    fn new(text: &str) -> Self {
        Self(text.to_string())
    }
}

/// Where the current line of a buffer ends, remembering how far it was
/// searched so bytes are looked at once however they trickle in.
#[derive(Debug, Default)]
struct LineScan {
    /// Bytes at the front of the buffer known not to hold the end byte.
    scanned: usize,
}

impl LineScan {
    /// The index of the first `end` byte in `buf`, if it has arrived.
    fn find(&mut self, buf: &[u8], end: u8) -> Option<usize> {
        // A buffer shorter than what was scanned was not only appended to:
        // search it again rather than index past its end.
        let from = if self.scanned <= buf.len() {
            self.scanned
        } else {
            0
        };
        match buf[from..].iter().position(|&byte| byte == end) {
            Some(at) => {
                self.scanned = from + at;
                Some(from + at)
            }
            None => {
                self.scanned = buf.len();
                None
            }
        }
    }

    /// Forgets the search once the line is taken off the buffer.
    fn consumed(&mut self) {
        self.scanned = 0;
    }
}

/// A bulk string whose length line was read but not all of its bytes.
#[derive(Debug)]
struct PartialBulk {
    len: usize,
    data: Vec<u8>,
}

impl PartialBulk {
    fn new(len: usize) -> Self {
        Self {
            len,
            data: Vec::new(),
        }
    }

    /// Moves what has arrived of the bulk and its CRLF off `buf`; the bytes
    /// once complete. `strict` refuses anything but CRLF after the bytes,
    /// where Redis's request parser just skips two bytes.
    fn read(&mut self, buf: &mut BytesMut, strict: bool) -> Result<Option<Vec<u8>>, ProtocolError> {
        let with_crlf = self.len.saturating_add(2);
        if self.data.is_empty() && buf.len() >= with_crlf {
            let bytes = buf[..self.len].to_vec();
            check_crlf(&buf[self.len..with_crlf], strict)?;
            buf.advance(with_crlf);
            return Ok(Some(bytes));
        }
        let missing = self.len - self.data.len();
        let arrived = missing.min(buf.len());
        self.data.extend_from_slice(&buf[..arrived]);
        buf.advance(arrived);
        if self.data.len() < self.len || buf.len() < 2 {
            return Ok(None);
        }
        check_crlf(&buf[..2], strict)?;
        buf.advance(2);
        Ok(Some(mem::take(&mut self.data)))
    }
}

fn check_crlf(trailer: &[u8], strict: bool) -> Result<(), ProtocolError> {
    if strict && trailer != b"\r\n" {
        return Err(ProtocolError::new("expected CRLF after a bulk string"));
    }
    Ok(())
}

/// Parses a length or integer as Redis's `string2ll` does: an optional `-`,
/// then digits without leading zeros (only `0` itself), within an `i64`.
fn parse_i64(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, text),
    };
    match digits {
        [] => return None,
        [b'0'] if !negative => return Some(0),
        [b'0', ..] => return None,
        _ => {}
    }
    let mut value: u64 = 0;
    for &digit in digits {
        if !digit.is_ascii_digit() {
            return None;
        }
        value = value
            .checked_mul(10)?
            .checked_add(u64::from(digit - b'0'))?;
    }
    if negative {
        0i64.checked_sub_unsigned(value)
    } else {
        i64::try_from(value).ok()
    }
}

/// Most digits [`count_line`] reads: any such number fits an `i64`.
const COUNT_DIGITS: usize = 18;

/// Reads a line `tag count CR ?` starting at `at` in `buf`, scanning and
/// parsing its digits in one pass: the count and where the next line starts
/// (the byte after CR must have arrived, and is skipped unseen, as the
/// step-by-step parser does). None for anything but a plain count that
/// [`parse_i64`] reads the same (digits, no sign, no leading zero, at most
/// [`COUNT_DIGITS`]) or a line not wholly arrived: the step-by-step parser
/// then reads it, and reports what is wrong with it.
fn count_line(buf: &[u8], at: usize, tag: u8) -> Option<(u64, usize)> {
    if *buf.get(at)? != tag {
        return None;
    }
    let digits = at + 1;
    let mut count: u64 = 0;
    let mut i = digits;
    loop {
        let byte = *buf.get(i)?;
        if byte == b'\r' {
            break;
        }
        if !byte.is_ascii_digit() || i - digits == COUNT_DIGITS {
            return None;
        }
        count = count * 10 + u64::from(byte - b'0');
        i += 1;
    }
    // No digit, or a leading zero: not a plain count.
    let plain = !matches!(buf.get(digits..i)?, [] | [b'0', _, ..]);
    (plain && i + 1 < buf.len()).then_some((count, i + 2))
}

/// Most arguments, and most bytes in one, whose buffers [`keep_for_reuse`]
/// keeps: a few small ones, as most requests have.
const REUSE_ARGS: usize = 16;
const REUSE_BYTES: usize = 1024;

/// Keeps a handled request's argument buffers for
/// [`RequestDecoder::decode_into`] to decode the next request into, when they
/// are few and small; frees them otherwise, so that a connection never holds
/// on to the memory of a large request.
pub fn keep_for_reuse(args: &mut Vec<Vec<u8>>) {
    if args.len() > REUSE_ARGS || args.iter().any(|arg| arg.capacity() > REUSE_BYTES) {
        *args = Vec::new();
    }
}

/// Decodes client requests, keeping its state between calls so a request split over many reads is never rescanned from its start.
#[derive(Debug)]
pub struct RequestDecoder {
    limits: Limits,
    /// Arguments of the current multibulk request still to come; 0 between requests.
    remaining: usize,
    /// The current request's arguments so far.
    args: Vec<Vec<u8>>,
    /// The argument being received, once its length line was read.
    bulk: Option<PartialBulk>,
    line: LineScan,
    /// True once [`RequestDecoder::whole`] found the request at the front
    /// incomplete: the step-by-step parser takes that request over, so its
    /// bytes are not looked at again on every read.
    stepping: bool,
}

impl RequestDecoder {
    /// A decoder between requests.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            remaining: 0,
            args: Vec::new(),
            bulk: None,
            line: LineScan::default(),
            stepping: false,
        }
    }

    /// Takes one complete request off the front of `buf` (its bytes are removed): Ok(Some(args)) with the command word
    /// first; Ok(None) when more bytes are needed; blank inline lines and `*0`/negative counts are consumed and skipped.
    /// The bytes of a request still incomplete are also moved off `buf` into the decoder as they are parsed.
    /// After an error the decoder's state is unspecified: close the connection.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Vec<u8>>>, ProtocolError> {
        let mut args = Vec::new();
        Ok(self.decode_into(buf, &mut args)?.then_some(args))
    }

    /// [`RequestDecoder::decode`] into `args`, reusing the buffers it holds
    /// (see [`keep_for_reuse`]): true when a request was decoded into it.
    pub fn decode_into(
        &mut self,
        buf: &mut BytesMut,
        args: &mut Vec<Vec<u8>>,
    ) -> Result<bool, ProtocolError> {
        if self.remaining == 0 && !self.stepping {
            // Nothing has arrived of the next request: it is left to the
            // one-pass decoder too, once it comes.
            if buf.is_empty() {
                return Ok(false);
            }
            if let Some(used) = self.whole(buf, args) {
                buf.advance(used);
                self.line.consumed();
                return Ok(true);
            }
            self.stepping = true;
        }
        match self.step(buf)? {
            Some(decoded) => {
                self.stepping = false;
                *args = decoded;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Decodes a well-formed multibulk request that has wholly arrived at
    /// the front of `buf` into `args` in one pass, and returns its length, to
    /// be taken off with one advance (the common case under pipelining).
    /// None for anything else, which [`RequestDecoder::step`] handles (and
    /// reports errors in); `args` then holds nothing meaningful.
    fn whole(&self, buf: &[u8], args: &mut Vec<Vec<u8>>) -> Option<usize> {
        let (count, mut at) = count_line(buf, 0, b'*')?;
        let count = usize::try_from(count)
            .ok()
            .filter(|&count| count > 0 && count <= self.limits.max_multibulk_len)?;
        let arrived = (buf.len() - at) / MIN_ARGUMENT_LEN;
        if count > arrived {
            return None;
        }
        args.truncate(count);
        for i in 0..count {
            let (len, start) = count_line(buf, at, b'$')?;
            let len = usize::try_from(len).ok()?;
            if len > self.limits.max_bulk_len {
                return None;
            }
            let end = start.checked_add(len)?;
            // The two bytes after the argument are skipped unseen, as Redis does.
            at = end.checked_add(2).filter(|&next| next <= buf.len())?;
            let bytes = &buf[start..end];
            match args.get_mut(i) {
                Some(arg) => {
                    arg.clear();
                    arg.extend_from_slice(bytes);
                }
                None => args.push(bytes.to_vec()),
            }
        }
        Some(at)
    }

    /// [`RequestDecoder::decode`] one line or argument at a time, keeping
    /// what arrived of an incomplete request.
    fn step(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Vec<u8>>>, ProtocolError> {
        while self.remaining == 0 {
            let Some(&first) = buf.first() else {
                return Ok(None);
            };
            if first != b'*' {
                match self.inline(buf)? {
                    None => return Ok(None),
                    Some(args) if args.is_empty() => continue,
                    Some(args) => return Ok(Some(args)),
                }
            }
            let Some(count) = self.multibulk_count(buf)? else {
                return Ok(None);
            };
            if count > 0 {
                self.remaining = count;
                let arrived = (buf.len() / MIN_ARGUMENT_LEN).max(1);
                self.args = Vec::with_capacity(count.min(arrived).min(RESERVE_CAP));
            }
        }
        while self.remaining > 0 {
            if !self.argument(buf)? {
                return Ok(None);
            }
            self.remaining -= 1;
        }
        Ok(Some(mem::take(&mut self.args)))
    }

    /// Reads a `*count` line: the count, 0 for a zero or negative one.
    fn multibulk_count(&mut self, buf: &mut BytesMut) -> Result<Option<usize>, ProtocolError> {
        let Some(cr) = self.line.find(buf, b'\r') else {
            if buf.len() > self.limits.max_inline_len {
                return Err(ProtocolError::new("too big mbulk count string"));
            }
            return Ok(None);
        };
        // Like Redis, wait for the byte after CR and skip it unseen.
        if cr + 1 >= buf.len() {
            return Ok(None);
        }
        let count = parse_i64(&buf[1..cr])
            .filter(|&count| count <= 0 || count as u64 <= self.limits.max_multibulk_len as u64)
            .ok_or_else(|| ProtocolError::new("invalid multibulk length"))?;
        buf.advance(cr + 2);
        self.line.consumed();
        Ok(Some(usize::try_from(count).unwrap_or(0)))
    }

    /// Reads (more of) the next `$len` argument; true once it is complete.
    fn argument(&mut self, buf: &mut BytesMut) -> Result<bool, ProtocolError> {
        let bulk = match &mut self.bulk {
            Some(bulk) => bulk,
            None => {
                let Some(cr) = self.line.find(buf, b'\r') else {
                    if buf.len() > self.limits.max_inline_len {
                        return Err(ProtocolError::new("too big bulk count string"));
                    }
                    return Ok(false);
                };
                if cr + 1 >= buf.len() {
                    return Ok(false);
                }
                if buf[0] != b'$' {
                    return Err(ProtocolError(format!(
                        "expected '$', got '{}'",
                        char::from(buf[0])
                    )));
                }
                let len = parse_i64(&buf[1..cr])
                    .and_then(|len| usize::try_from(len).ok())
                    .filter(|&len| len <= self.limits.max_bulk_len)
                    .ok_or_else(|| ProtocolError::new("invalid bulk length"))?;
                buf.advance(cr + 2);
                self.line.consumed();
                self.bulk.insert(PartialBulk::new(len))
            }
        };
        match bulk.read(buf, false)? {
            Some(arg) => {
                self.args.push(arg);
                self.bulk = None;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Takes an inline request (a line as typed through telnet) off `buf`.
    fn inline(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Vec<u8>>>, ProtocolError> {
        let Some(newline) = self.line.find(buf, b'\n') else {
            if buf.len() > self.limits.max_inline_len {
                return Err(ProtocolError::new("too big inline request"));
            }
            return Ok(None);
        };
        let line = &buf[..newline];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let args =
            split_inline(line).ok_or_else(|| ProtocolError::new("unbalanced quotes in request"))?;
        buf.advance(newline + 1);
        self.line.consumed();
        Ok(Some(args))
    }
}

/// Blanks between inline arguments, as C's `isspace`.
fn is_blank(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Whether a closing quote at `at` is followed by a blank or the end, as Redis requires.
fn closes(line: &[u8], at: usize) -> bool {
    line.get(at + 1).is_none_or(|&next| is_blank(next))
}

/// Splits an inline request into arguments the way Redis's `sdssplitargs`
/// does; None for unbalanced quotes. Unlike Redis, a NUL byte is ordinary.
fn split_inline(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut args = Vec::new();
    let mut at = 0;
    loop {
        while line.get(at).is_some_and(|&byte| is_blank(byte)) {
            at += 1;
        }
        if at >= line.len() {
            return Some(args);
        }
        let mut arg = Vec::new();
        loop {
            // Outside quotes: up to a blank that ends the argument or a quote that opens.
            let rest = &line[at..];
            let run = rest
                .iter()
                .position(|&byte| matches!(byte, b' ' | b'\t' | b'\n' | b'\r' | b'"' | b'\''))
                .unwrap_or(rest.len());
            arg.extend_from_slice(&rest[..run]);
            at += run;
            match line.get(at) {
                Some(b'"') => at = double_quoted(line, at + 1, &mut arg)?,
                Some(b'\'') => at = single_quoted(line, at + 1, &mut arg)?,
                _ => break,
            }
            if at >= line.len() || is_blank(line[at]) {
                break;
            }
        }
        args.push(arg);
    }
}

/// Reads a double-quoted run starting at `at` into `arg`; the index after its closing quote.
fn double_quoted(line: &[u8], mut at: usize, arg: &mut Vec<u8>) -> Option<usize> {
    loop {
        let rest = &line[at..];
        let run = rest
            .iter()
            .position(|&byte| byte == b'"' || byte == b'\\')?;
        arg.extend_from_slice(&rest[..run]);
        at += run;
        if line[at] == b'"' {
            return closes(line, at).then_some(at + 1);
        }
        let escaped = *line.get(at + 1)?;
        let hex = match (escaped, line.get(at + 2), line.get(at + 3)) {
            (b'x', Some(&high), Some(&low)) => hex_value(high).zip(hex_value(low)),
            _ => None,
        };
        if let Some((high, low)) = hex {
            arg.push(high * 16 + low);
            at += 4;
        } else {
            arg.push(match escaped {
                b'n' => b'\n',
                b'r' => b'\r',
                b't' => b'\t',
                b'b' => 0x08,
                b'a' => 0x07,
                other => other,
            });
            at += 2;
        }
    }
}

/// Reads a single-quoted run starting at `at` into `arg`; the index after its closing quote.
fn single_quoted(line: &[u8], mut at: usize, arg: &mut Vec<u8>) -> Option<usize> {
    loop {
        let rest = &line[at..];
        let run = rest
            .iter()
            .position(|&byte| byte == b'\'' || byte == b'\\')?;
        arg.extend_from_slice(&rest[..run]);
        at += run;
        if line[at] == b'\'' {
            return closes(line, at).then_some(at + 1);
        }
        if line.get(at + 1) == Some(&b'\'') {
            arg.push(b'\'');
            at += 2;
        } else {
            arg.push(b'\\');
            at += 1;
        }
    }
}

fn hex_value(byte: u8) -> Option<u8> {
    (byte as char).to_digit(16).map(|value| value as u8)
}

/// Decodes server replies (for clients): all RESP2 and RESP3 types. Attributes (`|`) are read and
/// skipped; streamed strings and aggregates (`?` lengths) are refused with a ProtocolError, as are
/// aggregates nested deeper than 1024 levels. RESP3's `_` decodes as [`Frame::Null`], and a blob
/// error `!` as [`Frame::Error`].
#[derive(Debug)]
pub struct ReplyDecoder {
    limits: Limits,
    /// Aggregates being filled, innermost last.
    stack: Vec<Aggregate>,
    /// The blob string being received, once its length line was read.
    blob: Option<(BlobKind, PartialBulk)>,
    line: LineScan,
}

/// Which frame a blob string becomes.
#[derive(Debug, Clone, Copy)]
enum BlobKind {
    Bulk,
    Error,
    Verbatim,
}

/// Which frame a list-like aggregate becomes.
#[derive(Debug, Clone, Copy)]
enum ListKind {
    Array,
    Set,
    Push,
}

/// An aggregate whose elements are still arriving.
#[derive(Debug)]
enum Aggregate {
    List {
        kind: ListKind,
        remaining: usize,
        items: Vec<Frame>,
    },
    Map {
        /// Keys and values still to come.
        remaining: usize,
        items: Vec<(Frame, Frame)>,
        key: Option<Frame>,
    },
    /// Attributes describe the next frame; their keys and values are dropped.
    Attribute { remaining: usize },
}

impl Aggregate {
    /// Adds the next element; true when that was the last one.
    fn add(&mut self, frame: Frame) -> bool {
        match self {
            Aggregate::List {
                remaining, items, ..
            } => {
                items.push(frame);
                *remaining -= 1;
                *remaining == 0
            }
            Aggregate::Map {
                remaining,
                items,
                key,
            } => {
                match key.take() {
                    Some(key) => items.push((key, frame)),
                    None => *key = Some(frame),
                }
                *remaining -= 1;
                *remaining == 0
            }
            Aggregate::Attribute { remaining } => {
                *remaining -= 1;
                *remaining == 0
            }
        }
    }

    /// The completed frame; None for an attribute.
    fn finish(self) -> Option<Frame> {
        match self {
            Aggregate::List {
                kind: ListKind::Array,
                items,
                ..
            } => Some(Frame::Array(items)),
            Aggregate::List {
                kind: ListKind::Set,
                items,
                ..
            } => Some(Frame::Set(items)),
            Aggregate::List {
                kind: ListKind::Push,
                items,
                ..
            } => Some(Frame::Push(items)),
            Aggregate::Map { items, .. } => Some(Frame::Map(items)),
            Aggregate::Attribute { .. } => None,
        }
    }
}

/// What one step of the reply decoder read.
enum Step {
    /// A complete frame.
    Frame(Frame),
    /// The header of a non-empty aggregate.
    Open(Aggregate),
    /// An empty attribute.
    Nothing,
}

impl ReplyDecoder {
    /// A decoder between replies.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            stack: Vec::new(),
            blob: None,
            line: LineScan::default(),
        }
    }

    /// Takes one complete reply off the front of `buf`: Ok(None) when more bytes are needed. The bytes of
    /// a reply still incomplete are moved off `buf` into the decoder as they are parsed.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, ProtocolError> {
        loop {
            let Some(step) = self.step(buf)? else {
                return Ok(None);
            };
            let mut frame = match step {
                Step::Frame(frame) => frame,
                Step::Open(aggregate) => {
                    if self.stack.len() >= MAX_DEPTH {
                        return Err(ProtocolError::new("reply nested too deeply"));
                    }
                    self.stack.push(aggregate);
                    continue;
                }
                Step::Nothing => continue,
            };
            // Hand the frame to the aggregate waiting for it, closing each one it completes.
            loop {
                let Some(top) = self.stack.last_mut() else {
                    return Ok(Some(frame));
                };
                if !top.add(frame) {
                    break;
                }
                match self.stack.pop().and_then(Aggregate::finish) {
                    Some(done) => frame = done,
                    None => break,
                }
            }
        }
    }

    /// Reads the next frame or aggregate header, or None when it has not all arrived.
    fn step(&mut self, buf: &mut BytesMut) -> Result<Option<Step>, ProtocolError> {
        if self.blob.is_some() {
            return self.blob(buf);
        }
        let Some(cr) = self.line.find(buf, b'\r') else {
            if buf.len() > self.limits.max_inline_len {
                return Err(ProtocolError::new("too big reply line"));
            }
            return Ok(None);
        };
        let Some(&lf) = buf.get(cr + 1) else {
            return Ok(None);
        };
        if lf != b'\n' || cr == 0 {
            return Err(ProtocolError::new("malformed reply line"));
        }
        let step = self.line_step(buf[0], &buf[1..cr], buf.len() - cr - 2)?;
        buf.advance(cr + 2);
        self.line.consumed();
        match step {
            Some(step) => Ok(Some(step)),
            // A blob's length line: read what has arrived of its bytes.
            None => self.blob(buf),
        }
    }

    /// Reads (more of) the blob string in progress; its frame once complete.
    fn blob(&mut self, buf: &mut BytesMut) -> Result<Option<Step>, ProtocolError> {
        let Some((kind, bulk)) = &mut self.blob else {
            return Ok(None);
        };
        let kind = *kind;
        let Some(bytes) = bulk.read(buf, true)? else {
            return Ok(None);
        };
        self.blob = None;
        blob_frame(kind, bytes).map(|frame| Some(Step::Frame(frame)))
    }

    /// Interprets one reply line; None when it starts a blob (now in `self.blob`).
    /// `buffered` is how many bytes follow the line.
    fn line_step(
        &mut self,
        tag: u8,
        body: &[u8],
        buffered: usize,
    ) -> Result<Option<Step>, ProtocolError> {
        let text = || String::from_utf8_lossy(body).into_owned();
        let invalid = |what: &str| ProtocolError(format!("invalid {what} in reply"));
        let frame = match tag {
            b'+' => Frame::Simple(text()),
            b'-' => Frame::Error(text()),
            b':' => Frame::Integer(parse_i64(body).ok_or_else(|| invalid("integer"))?),
            b'_' if body.is_empty() => Frame::Null,
            b'_' => return Err(invalid("null")),
            b',' => Frame::Double(
                std::str::from_utf8(body)
                    .ok()
                    .and_then(|text| text.parse().ok())
                    .ok_or_else(|| invalid("double"))?,
            ),
            b'#' => match body {
                b"t" => Frame::Boolean(true),
                b"f" => Frame::Boolean(false),
                _ => return Err(invalid("boolean")),
            },
            b'(' if is_big_number(body) => Frame::BigNumber(text()),
            b'(' => return Err(invalid("big number")),
            b'$' if body == b"-1" => Frame::Null,
            b'*' if body == b"-1" => Frame::NullArray,
            b'$' | b'!' | b'=' => {
                let len = self.length(body, self.limits.max_bulk_len, "bulk length")?;
                let kind = match tag {
                    b'$' => BlobKind::Bulk,
                    b'!' => BlobKind::Error,
                    _ => BlobKind::Verbatim,
                };
                self.blob = Some((kind, PartialBulk::new(len)));
                return Ok(None);
            }
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                let count = self.length(body, self.limits.max_multibulk_len, "aggregate length")?;
                let cap = if self.stack.is_empty() {
                    RESERVE_CAP
                } else {
                    NESTED_RESERVE_CAP
                };
                let reserve = count.min(cap).min(buffered / MIN_ELEMENT_LEN);
                let list = |kind| Aggregate::List {
                    kind,
                    remaining: count,
                    items: Vec::with_capacity(reserve),
                };
                let aggregate = match tag {
                    b'*' => list(ListKind::Array),
                    b'~' => list(ListKind::Set),
                    b'>' => list(ListKind::Push),
                    b'%' => Aggregate::Map {
                        remaining: count * 2,
                        items: Vec::with_capacity(reserve / 2),
                        key: None,
                    },
                    _ => Aggregate::Attribute {
                        remaining: count * 2,
                    },
                };
                return Ok(Some(if count == 0 {
                    aggregate.finish().map_or(Step::Nothing, Step::Frame)
                } else {
                    Step::Open(aggregate)
                }));
            }
            _ => {
                return Err(ProtocolError(format!(
                    "unexpected reply type '{}'",
                    char::from(tag)
                )));
            }
        };
        Ok(Some(Step::Frame(frame)))
    }

    /// A declared length within `max` (halved for keys and values to stay countable).
    fn length(&self, body: &[u8], max: usize, what: &str) -> Result<usize, ProtocolError> {
        if body == b"?" {
            return Err(ProtocolError::new("streamed replies are not supported"));
        }
        parse_i64(body)
            .and_then(|len| usize::try_from(len).ok())
            .filter(|&len| len <= max && len <= usize::MAX / 2)
            .ok_or_else(|| ProtocolError(format!("invalid {what} in reply")))
    }
}

/// The frame a complete blob string becomes.
fn blob_frame(kind: BlobKind, mut bytes: Vec<u8>) -> Result<Frame, ProtocolError> {
    Ok(match kind {
        BlobKind::Bulk => Frame::Bulk(bytes),
        BlobKind::Error => Frame::Error(String::from_utf8_lossy(&bytes).into_owned()),
        BlobKind::Verbatim => {
            if bytes.get(3) != Some(&b':') {
                return Err(ProtocolError::new("invalid verbatim string in reply"));
            }
            let format = String::from_utf8_lossy(&bytes[..3]).into_owned();
            bytes.drain(..4);
            Frame::Verbatim {
                format,
                text: bytes,
            }
        }
    })
}

/// Whether `body` is an optionally signed run of decimal digits.
fn is_big_number(body: &[u8]) -> bool {
    let digits = body
        .strip_prefix(b"-")
        .or_else(|| body.strip_prefix(b"+"))
        .unwrap_or(body);
    !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_decode_into_reused_buffers_and_large_ones_are_freed() {
        let mut decoder = RequestDecoder::new(Limits::default());
        let mut buf = BytesMut::from(
            &b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nvv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"[..],
        );
        let mut args = Vec::new();
        assert_eq!(decoder.decode_into(&mut buf, &mut args), Ok(true));
        assert_eq!(args, [&b"SET"[..], b"k", b"vv"]);
        let kept = args[0].as_ptr();
        keep_for_reuse(&mut args);
        assert_eq!(decoder.decode_into(&mut buf, &mut args), Ok(true));
        assert_eq!(args, [&b"GET"[..], b"k"]);
        assert_eq!(
            args[0].as_ptr(),
            kept,
            "the first argument's buffer was reused"
        );
        assert_eq!(decoder.decode_into(&mut buf, &mut args), Ok(false));
        // The buffer ran dry between requests: the next one, arriving whole
        // with the next read, is still decoded into the kept buffers.
        buf.extend_from_slice(b"*2\r\n$3\r\nGET\r\n$1\r\nj\r\n");
        assert_eq!(decoder.decode_into(&mut buf, &mut args), Ok(true));
        assert_eq!(args, [&b"GET"[..], b"j"]);
        assert_eq!(args[0].as_ptr(), kept, "reused after an empty buffer too");
        args[1] = vec![b'x'; REUSE_BYTES + 1];
        keep_for_reuse(&mut args);
        assert_eq!(args.capacity(), 0, "a large argument is not kept");
        args = vec![Vec::new(); REUSE_ARGS + 1];
        keep_for_reuse(&mut args);
        assert_eq!(args.capacity(), 0, "many arguments are not kept");
    }

    #[test]
    fn count_lines_read_as_parse_i64_does_or_are_left_to_the_step_parser() {
        for text in [
            "0",
            "1",
            "16",
            "999999999999999999",
            "9999999999999999999",
            "01",
            "00",
            "-1",
            "-0",
            "",
            "1a",
            " 1",
            "+1",
        ] {
            let line = format!("${text}\r\n");
            let parsed = parse_i64(text.as_bytes());
            match count_line(line.as_bytes(), 0, b'$') {
                Some((count, next)) => {
                    assert_eq!(i64::try_from(count).ok(), parsed, "{text:?}");
                    assert_eq!(next, line.len(), "{text:?}");
                }
                // Left to the step parser: a negative, malformed or long count.
                None => assert!(
                    parsed.is_none_or(|n| n < 0 || text.len() > COUNT_DIGITS),
                    "{text:?}"
                ),
            }
        }
        // Not wholly arrived, or another line: left to the step parser.
        assert_eq!(count_line(b"$12\r", 0, b'$'), None);
        assert_eq!(count_line(b"$12", 0, b'$'), None);
        assert_eq!(count_line(b"*12\r\n", 0, b'$'), None);
        assert_eq!(count_line(b"x$3\r\n", 1, b'$'), Some((3, 5)));
    }

    #[test]
    fn parse_i64_follows_redis_string2ll() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-5"), Some(-5));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"-0",
            b"00",
            b"01",
            b"+1",
            b" 1",
            b"1 ",
            b"9223372036854775808",
            b"1a",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    fn double(x: f64) -> String {
        let mut out = Vec::new();
        write_double(&mut out, x);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn doubles_print_as_redis_7_0_does() {
        // Each pair was read back from redis-server 7.0.15 with ZSCORE over RESP3.
        let cases = [
            (1.1, "1.1000000000000001"),
            (1e300, "1.0000000000000001e+300"),
            (3.0, "3"),
            (1e-5, "1.0000000000000001e-05"),
            (0.1, "0.10000000000000001"),
            (-2.5, "-2.5"),
            (1e16, "10000000000000000"),
            (1e17, "1e+17"),
            (12345678901234567890.0, "1.2345678901234567e+19"),
            (0.0001, "0.0001"),
            (1.5e-300, "1.5000000000000001e-300"),
            (5e-324, "4.9406564584124654e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (0.0, "0"),
            (123456.789, "123456.789"),
            (100.0, "100"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for (x, text) in cases {
            assert_eq!(double(x), text, "{x}");
        }
        assert_eq!(double(f64::NAN), "nan");
        assert_eq!(double(-0.0), "-0");
    }

    #[test]
    fn line_scan_resumes_where_it_stopped() {
        let mut scan = LineScan::default();
        assert_eq!(scan.find(b"abc", b'\n'), None);
        assert_eq!(scan.scanned, 3);
        assert_eq!(scan.find(b"abcd\n", b'\n'), Some(4));
        // A buffer that shrank is searched from its start instead of panicking.
        assert_eq!(scan.find(b"\n", b'\n'), Some(0));
    }
}
