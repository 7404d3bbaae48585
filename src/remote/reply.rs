//! Turns a server's RESP replies back into [`Reply`] values, so they render
//! exactly like local ones, and its error replies into command errors.

use crate::command::Reply;
use crate::error::CommandError;
use crate::server::resp::Frame;

/// How a reply frame becomes a [`Reply`], when the statement gives it a meaning
/// beyond the frame's own type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// The frame's own type: nil, integer, value, list, map, status...
    Plain,
    /// An integer meaning yes or no (EXISTS, PEXPIRE, PERSIST), as inmem's own commands answer.
    Bool,
    /// INFO's text, as a map of sections of fields.
    Info,
    /// CONFIG GET's name/value pairs (a map, or a flat array in RESP2), as a map.
    Config,
    /// `INFO keyspace` (`db0:keys=3,...`), as a map of namespace to key count.
    Keyspace,
}

/// Converts a reply; an error reply becomes the statement's error.
pub fn convert(frame: Frame, shape: Shape) -> Result<Reply, CommandError> {
    if let Frame::Error(message) = &frame {
        return Err(server_error(message));
    }
    Ok(match (shape, frame) {
        (Shape::Bool, Frame::Integer(n)) => Reply::Bool(n != 0),
        (Shape::Info, frame) => match text_of(&frame) {
            Some(text) => info_sections(&text),
            None => plain(frame),
        },
        (Shape::Keyspace, frame) => match text_of(&frame) {
            Some(text) => keyspace(&text),
            None => plain(frame),
        },
        (Shape::Config, Frame::Array(items)) => Reply::Map(
            items
                .chunks(2)
                .map(|pair| {
                    let value = pair.get(1).cloned().map_or(Reply::Nil, plain);
                    (name_of(&pair[0]), value)
                })
                .collect(),
        ),
        (_, frame) => plain(frame),
    })
}

/// A server's error text as a command error: Redis's generic `ERR ` prefix is
/// dropped, as inmem's own messages have none; other codes (`WRONGTYPE`, ...) stay.
pub fn server_error(message: &str) -> CommandError {
    let text = message.strip_prefix("ERR ").unwrap_or(message);
    CommandError::BadArgument(text.to_string())
}

/// The frame's own meaning.
pub fn plain(frame: Frame) -> Reply {
    match frame {
        Frame::Simple(text) if text == "OK" => Reply::Ok,
        Frame::Simple(text) | Frame::BigNumber(text) => Reply::Status(text),
        // Only nested errors get here (EXEC's results): shown in place.
        Frame::Error(message) => Reply::Status(format!("(error) {message}")),
        Frame::Integer(n) => Reply::Int(n),
        Frame::Bulk(bytes) => Reply::Value(bytes),
        Frame::Null | Frame::NullArray => Reply::Nil,
        Frame::Double(x) => Reply::Float(x),
        Frame::Boolean(b) => Reply::Bool(b),
        Frame::Verbatim { text, .. } => Reply::Text(String::from_utf8_lossy(&text).into_owned()),
        Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => list(items),
        Frame::Map(pairs) => Reply::Map(
            pairs
                .into_iter()
                .map(|(key, value)| (name_of(&key), plain(value)))
                .collect(),
        ),
    }
}

/// Bulk strings only: a list of values; anything mixed: an array of replies.
fn list(items: Vec<Frame>) -> Reply {
    if items.iter().all(|f| matches!(f, Frame::Bulk(_))) {
        Reply::List(
            items
                .into_iter()
                .filter_map(|f| match f {
                    Frame::Bulk(bytes) => Some(bytes),
                    _ => None,
                })
                .collect(),
        )
    } else {
        Reply::Array(items.into_iter().map(plain).collect())
    }
}

/// A map key as text.
fn name_of(frame: &Frame) -> String {
    match frame {
        Frame::Bulk(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        Frame::Simple(text) | Frame::BigNumber(text) => text.clone(),
        Frame::Integer(n) => n.to_string(),
        other => format!("{other:?}"),
    }
}

/// The text of a bulk, verbatim or status reply.
fn text_of(frame: &Frame) -> Option<String> {
    match frame {
        Frame::Bulk(bytes) | Frame::Verbatim { text: bytes, .. } => {
            Some(String::from_utf8_lossy(bytes).into_owned())
        }
        Frame::Simple(text) => Some(text.clone()),
        _ => None,
    }
}

/// A field's value: an integer when it is one, otherwise its text.
fn field_value(text: &str) -> Reply {
    match text.parse::<i64>() {
        Ok(n) => Reply::Int(n),
        Err(_) => Reply::Text(text.to_string()),
    }
}

/// INFO's `# Section` headings and `name:value` lines as nested maps.
fn info_sections(text: &str) -> Reply {
    let mut sections: Vec<(String, Reply)> = Vec::new();
    let mut fields: Vec<(String, Reply)> = Vec::new();
    let mut title: Option<String> = None;
    for line in text.lines().map(str::trim_end) {
        if let Some(heading) = line.strip_prefix('#') {
            if let Some(done) = title.take() {
                sections.push((done, Reply::Map(std::mem::take(&mut fields))));
            }
            title = Some(heading.trim().to_ascii_lowercase());
        } else if let Some((name, value)) = line.split_once(':') {
            fields.push((name.to_string(), field_value(value)));
        }
    }
    match title {
        Some(done) => sections.push((done, Reply::Map(fields))),
        None => sections.extend(fields),
    }
    Reply::Map(sections)
}

/// `db<N>:keys=K,...` lines as namespace `N` with `K` keys.
fn keyspace(text: &str) -> Reply {
    Reply::Map(
        text.lines()
            .filter_map(|line| {
                let (db, fields) = line.trim_end().split_once(':')?;
                let index = db.strip_prefix("db")?;
                let keys = fields
                    .split(',')
                    .find_map(|f| f.strip_prefix("keys="))?
                    .parse::<i64>()
                    .ok()?;
                Some((index.to_string(), Reply::Int(keys)))
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(text: &str) -> Frame {
        Frame::Bulk(text.as_bytes().to_vec())
    }

    #[test]
    fn frames_map_to_the_replies_local_commands_give() {
        assert_eq!(
            convert(Frame::Simple("OK".into()), Shape::Plain),
            Ok(Reply::Ok)
        );
        assert_eq!(
            convert(Frame::Simple("QUEUED".into()), Shape::Plain),
            Ok(Reply::Status("QUEUED".into()))
        );
        assert_eq!(convert(Frame::Null, Shape::Plain), Ok(Reply::Nil));
        assert_eq!(
            convert(Frame::Integer(0), Shape::Bool),
            Ok(Reply::Bool(false))
        );
        assert_eq!(convert(Frame::Integer(2), Shape::Plain), Ok(Reply::Int(2)));
        assert_eq!(
            convert(Frame::Array(vec![bulk("a"), bulk("b")]), Shape::Plain),
            Ok(Reply::List(vec![b"a".to_vec(), b"b".to_vec()]))
        );
        assert_eq!(
            convert(Frame::Array(vec![bulk("a"), Frame::Null]), Shape::Plain),
            Ok(Reply::Array(vec![Reply::Value(b"a".to_vec()), Reply::Nil]))
        );
        assert_eq!(
            convert(
                Frame::Map(vec![(bulk("f"), Frame::Integer(1))]),
                Shape::Plain
            ),
            Ok(Reply::Map(vec![("f".into(), Reply::Int(1))]))
        );
    }

    #[test]
    fn errors_lose_only_the_generic_prefix() {
        assert_eq!(
            convert(Frame::Error("ERR syntax error".into()), Shape::Plain),
            Err(CommandError::BadArgument("syntax error".into()))
        );
        assert_eq!(
            server_error("WRONGTYPE Operation against a key holding the wrong kind of value")
                .to_string(),
            "WRONGTYPE Operation against a key holding the wrong kind of value"
        );
    }

    #[test]
    fn config_pairs_info_sections_and_keyspace_become_maps() {
        let flat = Frame::Array(vec![bulk("maxmemory"), bulk("0")]);
        assert_eq!(
            convert(flat, Shape::Config),
            Ok(Reply::Map(vec![(
                "maxmemory".into(),
                Reply::Value(b"0".to_vec())
            )]))
        );
        let info = bulk(
            "# Server\r\nredis_version:7.0.15\r\nuptime:5\r\n\r\n# Clients\r\nconnected_clients:1\r\n",
        );
        assert_eq!(
            convert(info, Shape::Info),
            Ok(Reply::Map(vec![
                (
                    "server".into(),
                    Reply::Map(vec![
                        ("redis_version".into(), Reply::Text("7.0.15".into())),
                        ("uptime".into(), Reply::Int(5)),
                    ])
                ),
                (
                    "clients".into(),
                    Reply::Map(vec![("connected_clients".into(), Reply::Int(1))])
                ),
            ]))
        );
        let keyspace = bulk(
            "# Keyspace\r\ndb0:keys=3,expires=0,avg_ttl=0\r\ndb5:keys=1,expires=1,avg_ttl=9\r\n",
        );
        assert_eq!(
            convert(keyspace, Shape::Keyspace),
            Ok(Reply::Map(vec![
                ("0".into(), Reply::Int(3)),
                ("5".into(), Reply::Int(1)),
            ]))
        );
    }
}
