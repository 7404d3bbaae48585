//! RESP frames: decoding client requests (multibulk and inline) and replies,
//! and encoding replies in RESP2 or RESP3.
//! TEMPORARY minimal stand-in while the full codec is written on branch `resp`.

use bytes::{Buf, BytesMut};

/// A RESP value.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// `+text`
    Simple(String),
    /// `-text`
    Error(String),
    /// `:n`
    Integer(i64),
    /// `$len`
    Bulk(Vec<u8>),
    /// null
    Null,
    /// null array
    NullArray,
    /// `*n`
    Array(Vec<Frame>),
    /// `%n`
    Map(Vec<(Frame, Frame)>),
    /// `~n`
    Set(Vec<Frame>),
    /// `,x`
    Double(f64),
    /// `#t`
    Boolean(bool),
    /// `=len`
    Verbatim {
        /// Three letters.
        format: String,
        /// Text.
        text: Vec<u8>,
    },
    /// `(n`
    BigNumber(String),
    /// `>n`
    Push(Vec<Frame>),
}

/// Protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// RESP2.
    #[default]
    Resp2,
    /// RESP3.
    Resp3,
}

/// Encodes a frame.
pub fn encode(frame: &Frame, protocol: Protocol, out: &mut Vec<u8>) {
    let r3 = protocol == Protocol::Resp3;
    match frame {
        Frame::Simple(s) => out.extend_from_slice(format!("+{s}\r\n").as_bytes()),
        Frame::Error(s) => out.extend_from_slice(format!("-{s}\r\n").as_bytes()),
        Frame::Integer(n) => out.extend_from_slice(format!(":{n}\r\n").as_bytes()),
        Frame::Bulk(b) => {
            out.extend_from_slice(format!("${}\r\n", b.len()).as_bytes());
            out.extend_from_slice(b);
            out.extend_from_slice(b"\r\n");
        }
        Frame::Null if r3 => out.extend_from_slice(b"_\r\n"),
        Frame::Null => out.extend_from_slice(b"$-1\r\n"),
        Frame::NullArray if r3 => out.extend_from_slice(b"_\r\n"),
        Frame::NullArray => out.extend_from_slice(b"*-1\r\n"),
        Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => {
            out.extend_from_slice(format!("*{}\r\n", items.len()).as_bytes());
            for i in items {
                encode(i, protocol, out);
            }
        }
        Frame::Map(pairs) => {
            if r3 {
                out.extend_from_slice(format!("%{}\r\n", pairs.len()).as_bytes());
            } else {
                out.extend_from_slice(format!("*{}\r\n", pairs.len() * 2).as_bytes());
            }
            for (k, v) in pairs {
                encode(k, protocol, out);
                encode(v, protocol, out);
            }
        }
        Frame::Double(x) => encode(&Frame::Bulk(x.to_string().into_bytes()), protocol, out),
        Frame::Boolean(b) => encode(&Frame::Integer(i64::from(*b)), protocol, out),
        Frame::Verbatim { text, .. } => encode(&Frame::Bulk(text.clone()), protocol, out),
        Frame::BigNumber(s) => encode(&Frame::Bulk(s.clone().into_bytes()), protocol, out),
    }
}

/// Limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bulk.
    pub max_bulk_len: usize,
    /// Count.
    pub max_multibulk_len: usize,
    /// Inline.
    pub max_inline_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: 512 << 20,
            max_multibulk_len: 1 << 20,
            max_inline_len: 64 << 10,
        }
    }
}

/// A protocol error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Protocol error: {0}")]
pub struct ProtocolError(pub String);

/// Request decoder.
#[derive(Debug)]
pub struct RequestDecoder {
    _limits: Limits,
}

impl RequestDecoder {
    /// New.
    pub fn new(limits: Limits) -> Self {
        RequestDecoder { _limits: limits }
    }

    /// Decodes one request.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Vec<u8>>>, ProtocolError> {
        let line = |from: usize, buf: &BytesMut| -> Option<(usize, usize)> {
            buf[from..]
                .windows(2)
                .position(|w| w == b"\r\n")
                .map(|p| (from, from + p))
        };
        if buf.is_empty() {
            return Ok(None);
        }
        if buf[0] != b'*' {
            let Some(end) = buf.iter().position(|b| *b == b'\n') else {
                return Ok(None);
            };
            let text = String::from_utf8_lossy(&buf[..end]).trim().to_string();
            buf.advance(end + 1);
            let args: Vec<Vec<u8>> = text
                .split_whitespace()
                .map(|s| s.as_bytes().to_vec())
                .collect();
            return if args.is_empty() {
                self.decode(buf)
            } else {
                Ok(Some(args))
            };
        }
        let Some((s, e)) = line(1, buf) else {
            return Ok(None);
        };
        let n: usize = std::str::from_utf8(&buf[s..e])
            .ok()
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| ProtocolError("invalid multibulk length".into()))?;
        let mut pos = e + 2;
        let mut args = Vec::new();
        for _ in 0..n {
            if pos >= buf.len() {
                return Ok(None);
            }
            if buf[pos] != b'$' {
                return Err(ProtocolError(format!(
                    "expected '$', got '{}'",
                    buf[pos] as char
                )));
            }
            let Some((s, e)) = line(pos + 1, buf) else {
                return Ok(None);
            };
            let len: usize = std::str::from_utf8(&buf[s..e])
                .ok()
                .and_then(|t| t.parse().ok())
                .ok_or_else(|| ProtocolError("invalid bulk length".into()))?;
            let start = e + 2;
            if buf.len() < start + len + 2 {
                return Ok(None);
            }
            args.push(buf[start..start + len].to_vec());
            pos = start + len + 2;
        }
        buf.advance(pos);
        Ok(Some(args))
    }
}
