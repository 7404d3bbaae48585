//! Walks over a server's keyspace with SCAN (never KEYS, which blocks a
//! server for as long as it runs) and reads values with MGET in chunks.

use super::Failure;
use super::client::Connection;
use super::reply::server_error;
use super::translate::Walk;
use crate::command::{Matcher, Reply};
use crate::server::resp::Frame;

/// Keys SCAN is asked for per call, and keys read per MGET.
const CHUNK: usize = 1000;

/// Key/value pairs in key order.
type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// How much a walk may gather before it stops early.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Most keys kept.
    pub keys: usize,
    /// Most SCAN calls made.
    pub rounds: usize,
}

impl Budget {
    /// No limit: a statement's walk visits the whole keyspace.
    pub const ALL: Budget = Budget {
        keys: usize::MAX,
        rounds: usize::MAX,
    };
}

/// Runs a walk and builds its reply, sorted by key like local listings.
pub fn run(connection: &mut Connection, walk: &Walk) -> Result<Reply, Failure> {
    match walk {
        Walk::Keys { pattern, filter } => {
            let mut keys = keys(connection, pattern.as_deref(), Budget::ALL)?;
            if let Some(matcher) = filter {
                keys.retain(|key| matcher.is_match(key));
            }
            Ok(Reply::List(keys))
        }
        Walk::Values => Ok(Reply::List(
            pairs(connection, None)?
                .into_iter()
                .map(|(_, v)| v)
                .collect(),
        )),
        Walk::Items { filter } => Ok(Reply::Pairs(pairs(connection, filter.as_ref())?)),
    }
}

/// Sorted, distinct keys matching `pattern` (a glob; every key when `None`).
pub fn keys(
    connection: &mut Connection,
    pattern: Option<&[u8]>,
    budget: Budget,
) -> Result<Vec<Vec<u8>>, Failure> {
    let count = CHUNK.to_string();
    let mut cursor = b"0".to_vec();
    let mut found = Vec::new();
    for _ in 0..budget.rounds {
        let mut args: Vec<&[u8]> = vec![b"SCAN", &cursor];
        if let Some(pattern) = pattern {
            args.extend([b"MATCH".as_slice(), pattern]);
        }
        args.extend([b"COUNT".as_slice(), count.as_bytes()]);
        let (next, batch) = scan_reply(connection.call(&args)?)?;
        found.extend(batch);
        cursor = next;
        if cursor == b"0" || found.len() >= budget.keys {
            break;
        }
    }
    found.sort_unstable();
    found.dedup();
    found.truncate(budget.keys);
    Ok(found)
}

/// SCAN's `[cursor, [keys...]]`.
fn scan_reply(frame: Frame) -> Result<(Vec<u8>, Vec<Vec<u8>>), Failure> {
    let malformed = || Failure::Command(server_error("unexpected reply to SCAN"));
    match frame {
        Frame::Error(message) => Err(Failure::Command(server_error(&message))),
        Frame::Array(mut parts) if parts.len() == 2 => {
            let keys = match parts.pop() {
                Some(Frame::Array(keys) | Frame::Set(keys)) => keys
                    .into_iter()
                    .filter_map(|k| match k {
                        Frame::Bulk(bytes) => Some(bytes),
                        _ => None,
                    })
                    .collect(),
                _ => return Err(malformed()),
            };
            match parts.pop() {
                Some(Frame::Bulk(cursor)) => Ok((cursor, keys)),
                Some(Frame::Integer(n)) => Ok((n.to_string().into_bytes(), keys)),
                _ => Err(malformed()),
            }
        }
        _ => Err(malformed()),
    }
}

/// Every key with a string value, with that value, in key order; only values
/// that `filter` accepts when one is given. Keys that vanish during the walk,
/// or hold another type, are left out (MGET answers nil for them).
fn pairs(connection: &mut Connection, filter: Option<&Matcher>) -> Result<Pairs, Failure> {
    let keys = keys(connection, None, Budget::ALL)?;
    let mut out = Vec::new();
    for chunk in keys.chunks(CHUNK) {
        let mut args: Vec<&[u8]> = vec![b"MGET"];
        args.extend(chunk.iter().map(Vec::as_slice));
        let values = match connection.call(&args)? {
            Frame::Array(values) if values.len() == chunk.len() => values,
            Frame::Error(message) => return Err(Failure::Command(server_error(&message))),
            _ => return Err(Failure::Command(server_error("unexpected reply to MGET"))),
        };
        for (key, value) in chunk.iter().zip(values) {
            if let Frame::Bulk(value) = value
                && filter.is_none_or(|m| m.is_match(&value))
            {
                out.push((key.clone(), value));
            }
        }
    }
    Ok(out)
}

/// `prefix` as a glob matching itself followed by anything.
pub fn prefix_glob(prefix: &[u8]) -> Vec<u8> {
    let mut glob = Vec::with_capacity(prefix.len() + 1);
    for &byte in prefix {
        if matches!(byte, b'*' | b'?' | b'[' | b']' | b'\\') {
            glob.push(b'\\');
        }
        glob.push(byte);
    }
    glob.push(b'*');
    glob
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::glob::glob_match;

    #[test]
    fn prefix_globs_escape_special_characters() {
        assert_eq!(prefix_glob(b"user:"), b"user:*");
        let glob = prefix_glob(b"a*[b]?\\");
        assert!(glob_match(&glob, b"a*[b]?\\tail"));
        assert!(!glob_match(&glob, b"aX[b]?\\tail"));
    }

    #[test]
    fn scan_replies_give_cursor_and_keys() {
        let reply = Frame::Array(vec![
            Frame::Bulk(b"17".to_vec()),
            Frame::Array(vec![Frame::Bulk(b"k".to_vec())]),
        ]);
        let (cursor, keys) = scan_reply(reply).unwrap();
        assert_eq!(
            (cursor.as_slice(), keys),
            (b"17".as_slice(), vec![b"k".to_vec()])
        );
        assert!(scan_reply(Frame::Integer(3)).is_err());
        assert!(matches!(
            scan_reply(Frame::Error("ERR nope".into())),
            Err(Failure::Command(e)) if e.to_string() == "nope"
        ));
    }
}
