//! Turns the executor's replies and errors into RESP frames.

use super::resp::Frame;
use crate::command::Reply;
use crate::error::CommandError;

/// The RESP form of a reply (RESP2 downgrades happen when the frame is encoded).
pub fn frame(reply: Reply) -> Frame {
    match reply {
        Reply::Ok => Frame::Simple("OK".into()),
        Reply::Nil | Reply::Source(_) | Reply::Exit => Frame::Null,
        Reply::Value(bytes) => Frame::Bulk(bytes),
        Reply::Int(n) => Frame::Integer(n),
        Reply::Float(x) => Frame::Double(x),
        Reply::Bool(b) => Frame::Integer(i64::from(b)),
        Reply::List(items) => Frame::Array(items.into_iter().map(Frame::Bulk).collect()),
        Reply::Pairs(pairs) => Frame::Map(
            pairs
                .into_iter()
                .map(|(k, v)| (Frame::Bulk(k), Frame::Bulk(v)))
                .collect(),
        ),
        Reply::Map(fields) => Frame::Map(
            fields
                .into_iter()
                .map(|(k, v)| (Frame::Bulk(k.into_bytes()), frame(v)))
                .collect(),
        ),
        Reply::Status(word) => Frame::Simple(word),
        Reply::Text(text) => Frame::Verbatim {
            format: "txt".into(),
            text: text.into_bytes(),
        },
        Reply::Array(replies) | Reply::Batch(replies) => {
            Frame::Array(replies.into_iter().map(frame).collect())
        }
    }
}

/// The RESP error line for a failed command: Redis's code word first.
pub fn error(error: &CommandError) -> Frame {
    Frame::Error(error_text(error))
}

/// The text of a RESP error for `error`, without the leading `-`.
pub fn error_text(error: &CommandError) -> String {
    match error {
        CommandError::OutOfMemory(_) => {
            "OOM command not allowed when used memory > 'maxmemory'.".into()
        }
        other => with_code(&other.to_string()),
    }
}

/// Redis's error code words; any other message is sent as `ERR message`.
const CODES: &[&str] = &[
    "ERR",
    "WRONGTYPE",
    "EXECABORT",
    "NOAUTH",
    "WRONGPASS",
    "NOPROTO",
    "OOM",
    "BUSY",
    "NOPERM",
    "MISCONF",
    "LOADING",
    "READONLY",
];

/// Prefixes `ERR ` unless the message already starts with one of Redis's code words.
pub fn with_code(message: &str) -> String {
    let first = message.split(' ').next().unwrap_or_default();
    if CODES.contains(&first) {
        message.to_string()
    } else {
        format!("ERR {message}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_get_redis_code_words() {
        assert_eq!(
            error_text(&CommandError::NotAnInteger),
            "ERR value is not an integer or out of range"
        );
        assert_eq!(with_code("WRONGTYPE Operation"), "WRONGTYPE Operation");
        assert_eq!(with_code("A word"), "ERR A word");
        assert_eq!(
            with_code("DB index is out of range"),
            "ERR DB index is out of range"
        );
        assert!(error_text(&CommandError::OutOfMemory("x".into())).starts_with("OOM "));
    }

    #[test]
    fn replies_map_to_their_resp_types() {
        assert_eq!(frame(Reply::Bool(true)), Frame::Integer(1));
        assert_eq!(frame(Reply::Nil), Frame::Null);
        assert_eq!(
            frame(Reply::Array(vec![Reply::Value(b"a".to_vec()), Reply::Nil])),
            Frame::Array(vec![Frame::Bulk(b"a".to_vec()), Frame::Null])
        );
        assert_eq!(
            frame(Reply::Status("string".into())),
            Frame::Simple("string".into())
        );
    }
}
