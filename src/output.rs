//! Renders replies and errors: coloured redis-cli style on a terminal, plain
//! lines in scripts, and one JSON value per statement with `--json`.

use crate::command::Reply;
use base64::Engine as _;
use colored::Colorize;
use serde_json::{Value, json};

/// How replies are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// For people at a terminal: `"value"`, `(integer) 3`, `(nil)`, numbered lists.
    Human,
    /// For scripts: values as they are, one line per list element.
    Plain,
    /// One line of JSON per statement.
    Json,
}

/// Renders a reply (without a trailing newline).
pub fn render(reply: &Reply, format: Format) -> String {
    match format {
        Format::Human => human(reply),
        Format::Plain => plain(reply),
        Format::Json => to_json(reply).to_string(),
    }
}

/// The rendering of a reply that is always the same text in `format` (a
/// script's `OK`, `(nil)`), so writing it needs no allocation.
pub fn fixed(reply: &Reply, format: Format) -> Option<&'static str> {
    match (format, reply) {
        (Format::Plain, Reply::Ok) => Some("OK"),
        (Format::Plain, Reply::Nil) => Some("(nil)"),
        (Format::Json, Reply::Ok) => Some("\"OK\""),
        (Format::Json, Reply::Nil) => Some("null"),
        _ => None,
    }
}

/// Renders a failed statement's message for a terminal.
pub fn human_error(message: &str) -> String {
    format!("(error) {message}").red().to_string()
}

/// A failed statement as JSON.
pub fn json_error(message: &str, line: usize) -> String {
    json!({ "error": message, "line": line }).to_string()
}

fn human(reply: &Reply) -> String {
    match reply {
        Reply::Ok => "OK".green().to_string(),
        Reply::Nil => "(nil)".dimmed().to_string(),
        Reply::Value(bytes) => quoted(bytes),
        Reply::Int(n) => format!("(integer) {n}").cyan().to_string(),
        Reply::Float(x) => format!("{}", round(*x)).cyan().to_string(),
        Reply::Bool(b) => format!("({b})").cyan().to_string(),
        Reply::List(items) => numbered(items.iter().map(|item| quoted(item))),
        Reply::Pairs(pairs) => numbered(
            pairs
                .iter()
                .map(|(k, v)| format!("{} => {}", quoted(k), quoted(v))),
        ),
        Reply::Map(fields) => table(fields, 0),
        Reply::Text(text) => text.clone(),
        Reply::Status(word) => word.clone(),
        Reply::Batch(replies) | Reply::Array(replies) => numbered(replies.iter().map(human)),
        Reply::Source(_) | Reply::Exit => String::new(),
    }
}

/// An aligned table of fields; nested maps are indented under their name.
fn table(fields: &[(String, Reply)], indent: usize) -> String {
    if fields.is_empty() {
        return format!("{:indent$}{}", "", "(empty)".dimmed());
    }
    let width = fields.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    fields
        .iter()
        .map(|(k, v)| match v {
            Reply::Map(inner) => {
                format!("{:indent$}{}\n{}", "", k.bold(), table(inner, indent + 2))
            }
            other => {
                let padded = format!("{k:width$}");
                format!("{:indent$}{} : {}", "", padded.bold(), human(other))
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Measurements shown with at most three decimals.
fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn numbered(items: impl ExactSizeIterator<Item = String>) -> String {
    let n = items.len();
    if n == 0 {
        return "(empty list)".dimmed().to_string();
    }
    let width = n.to_string().len();
    items
        .enumerate()
        .map(|(i, item)| format!("{:>width$}) {item}", i + 1))
        .collect::<Vec<_>>()
        .join("\n")
}

fn plain(reply: &Reply) -> String {
    match reply {
        Reply::Ok => "OK".into(),
        Reply::Nil => "(nil)".into(),
        Reply::Value(bytes) => plain_bytes(bytes),
        Reply::Int(n) => n.to_string(),
        Reply::Float(x) => round(*x).to_string(),
        Reply::Bool(b) => b.to_string(),
        Reply::List(items) if items.is_empty() => "(empty list)".into(),
        Reply::List(items) => lines(items.iter().map(|i| plain_bytes(i))),
        Reply::Pairs(pairs) if pairs.is_empty() => "(empty list)".into(),
        Reply::Pairs(pairs) => lines(
            pairs
                .iter()
                .map(|(k, v)| format!("{}\t{}", plain_bytes(k), plain_bytes(v))),
        ),
        Reply::Map(fields) => lines(fields.iter().map(|(k, v)| match v {
            Reply::Map(_) => format!("{k}:\n{}", indent(&plain(v))),
            _ => format!("{k}: {}", plain(v)),
        })),
        Reply::Text(text) | Reply::Status(text) => text.clone(),
        Reply::Array(replies) if replies.is_empty() => "(empty list)".into(),
        Reply::Batch(replies) | Reply::Array(replies) => lines(replies.iter().map(plain)),
        Reply::Source(_) | Reply::Exit => String::new(),
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn lines(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join("\n")
}

/// The JSON form of a reply, as documented in the README.
pub fn to_json(reply: &Reply) -> Value {
    match reply {
        Reply::Ok => json!("OK"),
        Reply::Nil | Reply::Source(_) | Reply::Exit => Value::Null,
        Reply::Value(bytes) => json_bytes(bytes),
        Reply::Int(n) => json!(n),
        Reply::Float(x) => json!(round(*x)),
        Reply::Bool(b) => json!(b),
        Reply::List(items) => Value::Array(items.iter().map(|i| json_bytes(i)).collect()),
        Reply::Pairs(pairs) => Value::Array(
            pairs
                .iter()
                .map(|(k, v)| json!([json_bytes(k), json_bytes(v)]))
                .collect(),
        ),
        Reply::Map(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), to_json(v)))
                .collect(),
        ),
        Reply::Text(text) | Reply::Status(text) => json!(text),
        Reply::Batch(replies) | Reply::Array(replies) => {
            Value::Array(replies.iter().map(to_json).collect())
        }
    }
}

/// A string when the bytes are UTF-8, otherwise `{"base64": "..."}` so nothing is mangled.
fn json_bytes(bytes: &[u8]) -> Value {
    match std::str::from_utf8(bytes) {
        Ok(text) => json!(text),
        Err(_) => json!({ "base64": base64::engine::general_purpose::STANDARD.encode(bytes) }),
    }
}

/// Bytes in double quotes with escapes, in a form the statement language reads back.
pub fn quoted(bytes: &[u8]) -> String {
    format!("\"{}\"", escape(bytes))
}

/// Bytes as they are when printable text, otherwise quoted with escapes.
fn plain_bytes(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) if !text.chars().any(char::is_control) => text.to_string(),
        _ => quoted(bytes),
    }
}

/// Escapes control characters, quotes, backslashes and invalid UTF-8 bytes.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x80 && c.is_control() => {
                    out.push_str(&format!("\\x{:02x}", c as u32));
                }
                c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
                c => out.push(c),
            }
        }
        for byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02x}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::grammar;

    fn no_colour() {
        colored::control::set_override(false);
    }

    #[test]
    fn human_forms_follow_redis_cli() {
        no_colour();
        assert_eq!(
            render(&Reply::Value(b"a b".to_vec()), Format::Human),
            "\"a b\""
        );
        assert_eq!(render(&Reply::Int(3), Format::Human), "(integer) 3");
        assert_eq!(render(&Reply::Nil, Format::Human), "(nil)");
        assert_eq!(
            render(
                &Reply::List(vec![b"a".to_vec(), b"b".to_vec()]),
                Format::Human
            ),
            "1) \"a\"\n2) \"b\""
        );
        assert_eq!(render(&Reply::List(vec![]), Format::Human), "(empty list)");
        assert_eq!(
            render(
                &Reply::Pairs(vec![(b"k".to_vec(), b"v".to_vec())]),
                Format::Human
            ),
            "1) \"k\" => \"v\""
        );
    }

    #[test]
    fn fixed_renderings_match_render() {
        for format in [Format::Plain, Format::Json, Format::Human] {
            for reply in [
                Reply::Ok,
                Reply::Nil,
                Reply::Int(1),
                Reply::Value(b"v".to_vec()),
            ] {
                if let Some(text) = fixed(&reply, format) {
                    assert_eq!(text, render(&reply, format), "{reply:?} {format:?}");
                }
            }
        }
        assert_eq!(fixed(&Reply::Ok, Format::Plain), Some("OK"));
        assert_eq!(fixed(&Reply::Nil, Format::Json), Some("null"));
        assert_eq!(fixed(&Reply::Ok, Format::Human), None);
    }

    #[test]
    fn plain_forms_keep_one_line_per_item_and_escape_control_bytes() {
        assert_eq!(render(&Reply::Value(b"a b".to_vec()), Format::Plain), "a b");
        assert_eq!(
            render(&Reply::Value(b"a\nb".to_vec()), Format::Plain),
            "\"a\\nb\""
        );
        assert_eq!(
            render(
                &Reply::Pairs(vec![(b"k".to_vec(), b"v\t".to_vec())]),
                Format::Plain
            ),
            "k\t\"v\\t\""
        );
        assert_eq!(render(&Reply::Bool(true), Format::Plain), "true");
    }

    #[test]
    fn json_shapes_match_the_documented_interface() {
        assert_eq!(render(&Reply::Ok, Format::Json), "\"OK\"");
        assert_eq!(render(&Reply::Nil, Format::Json), "null");
        assert_eq!(render(&Reply::Bool(false), Format::Json), "false");
        assert_eq!(
            render(
                &Reply::Pairs(vec![(b"k".to_vec(), b"v".to_vec())]),
                Format::Json
            ),
            r#"[["k","v"]]"#
        );
        assert_eq!(
            render(&Reply::Value(vec![0xff, 0x00]), Format::Json),
            r#"{"base64":"/wA="}"#
        );
        let map = Reply::Map(vec![("set".into(), Reply::Value(b"put".to_vec()))]);
        assert_eq!(render(&map, Format::Json), r#"{"set":"put"}"#);
    }

    #[test]
    fn quoted_form_reads_back_as_the_same_bytes() {
        let samples: [&[u8]; 5] = [
            b"plain",
            b"with \"quotes\" and \\",
            b"\x00\x01\xff\xfe",
            "é\u{7f}\u{85}".as_bytes(),
            b"\r\n\t",
        ];
        for bytes in samples {
            let text = quoted(bytes);
            let parsed = grammar::parse(&text).unwrap();
            assert_eq!(parsed[0].words[0].bytes, bytes, "{text}");
        }
    }
}
