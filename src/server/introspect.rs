//! COMMAND: describes every command from the command tables, in the shapes
//! Redis 7 uses, so clients and redis-cli can read arity, flags, key
//! positions and documentation.

use super::client::{Found, INMEM_COMMANDS, find, unknown_subcommand};
use super::resp::Frame;
use crate::command::redis::{self, RedisSpec};
use crate::command::spec::{self, Spec};
use crate::error::CommandError;

fn bulk(text: &str) -> Frame {
    Frame::Bulk(text.as_bytes().to_vec())
}

/// Everything COMMAND lists: Redis's rows, then inmem's own commands.
fn all() -> Vec<Found> {
    let mut found: Vec<Found> = redis::tables().flatten().map(Found::Redis).collect();
    found.extend(
        INMEM_COMMANDS
            .iter()
            .filter_map(|name| spec::lookup(name))
            .map(Found::Inmem),
    );
    found
}

/// The facts COMMAND reports, whichever table a command comes from.
struct Facts {
    name: &'static str,
    arity: i64,
    flags: Vec<&'static str>,
    keys: (i64, i64, i64),
    group: &'static str,
    syntax: &'static str,
    summary: &'static str,
}

fn facts(found: Found) -> Facts {
    match found {
        Found::Redis(RedisSpec {
            name,
            arity,
            flags,
            first_key,
            last_key,
            step,
            group,
            syntax,
            summary,
        }) => Facts {
            name,
            arity: i64::from(*arity),
            flags: flags.to_vec(),
            keys: (
                i64::from(*first_key),
                i64::from(*last_key),
                i64::from(*step),
            ),
            group,
            syntax,
            summary,
        },
        Found::Inmem(Spec {
            name,
            syntax,
            summary,
            min_args,
            max_args,
            writes,
            ..
        }) => {
            let words = *min_args as i64 + 1;
            Facts {
                name,
                arity: if *max_args == Some(*min_args) {
                    words
                } else {
                    -words
                },
                flags: vec![if *writes { "write" } else { "readonly" }],
                keys: (0, 0, 0),
                group: "inmem",
                syntax,
                summary,
            }
        }
    }
}

fn info(found: Found) -> Frame {
    let f = facts(found);
    let category = match f.group {
        "string" => "@string",
        "generic" => "@keyspace",
        "connection" => "@connection",
        "transactions" => "@transaction",
        _ => "@admin",
    };
    Frame::Array(vec![
        bulk(f.name),
        Frame::Integer(f.arity),
        Frame::Set(
            f.flags
                .iter()
                .map(|x| Frame::Simple(x.to_string()))
                .collect(),
        ),
        Frame::Integer(f.keys.0),
        Frame::Integer(f.keys.1),
        Frame::Integer(f.keys.2),
        Frame::Set(vec![Frame::Simple(category.into())]),
        Frame::Array(Vec::new()),
        Frame::Array(Vec::new()),
        Frame::Array(Vec::new()),
    ])
}

fn docs(found: Found) -> Frame {
    let f = facts(found);
    Frame::Map(vec![
        (bulk("summary"), bulk(f.summary)),
        (bulk("since"), bulk("1.0.0")),
        (bulk("group"), bulk(f.group)),
        (bulk("syntax"), bulk(f.syntax)),
        (bulk("arguments"), Frame::Array(arguments(f.syntax))),
    ])
}

/// The top-level arguments of a syntax line, as COMMAND DOCS argument maps.
fn arguments(syntax: &str) -> Vec<Frame> {
    spec::syntax_parts(syntax)
        .into_iter()
        .filter(|t| t != "...")
        .map(|token| {
            let optional = token.starts_with('[');
            let name = token
                .trim_matches(|c| c == '[' || c == ']' || c == '<' || c == '>')
                .to_ascii_lowercase();
            let kind = if name == "key" { "key" } else { "string" };
            let mut fields = vec![
                (bulk("name"), bulk(&name)),
                (bulk("type"), bulk(kind)),
                (bulk("display_text"), bulk(&token)),
            ];
            if optional {
                fields.push((
                    bulk("flags"),
                    Frame::Array(vec![Frame::Simple("optional".into())]),
                ));
            }
            Frame::Map(fields)
        })
        .collect()
}

/// Answers COMMAND and its subcommands.
pub fn command(sub: Option<&[u8]>, args: &[Vec<u8>]) -> Result<Frame, CommandError> {
    let named =
        |names: &[Vec<u8>]| -> Vec<Option<Found>> { names.iter().map(|n| find(n)).collect() };
    match sub {
        None => Ok(Frame::Array(all().into_iter().map(info).collect())),
        Some(b"count") => Ok(Frame::Integer(all().len() as i64)),
        Some(b"list") => Ok(Frame::Array(
            all().into_iter().map(|f| bulk(f.name())).collect(),
        )),
        Some(b"info") => {
            if args.len() == 2 {
                return Ok(Frame::Array(all().into_iter().map(info).collect()));
            }
            Ok(Frame::Array(
                named(&args[2..])
                    .into_iter()
                    .map(|f| f.map_or(Frame::Null, info))
                    .collect(),
            ))
        }
        Some(b"docs") => {
            let list: Vec<Found> = if args.len() == 2 {
                all()
            } else {
                named(&args[2..]).into_iter().flatten().collect()
            };
            Ok(Frame::Map(
                list.into_iter()
                    .map(|f| (bulk(f.name()), docs(f)))
                    .collect(),
            ))
        }
        Some(b"getkeys") => {
            if args.len() < 3 {
                return Err(CommandError::BadArgument(
                    "wrong number of arguments for 'command|getkeys' command".into(),
                ));
            }
            getkeys(&args[2..])
        }
        Some(other) => Err(unknown_subcommand(other, "COMMAND")),
    }
}

fn getkeys(call: &[Vec<u8>]) -> Result<Frame, CommandError> {
    let found = find(&call[0])
        .ok_or_else(|| CommandError::BadArgument("Invalid command specified".into()))?;
    if !found.accepts(call.len()) {
        return Err(CommandError::BadArgument(
            "Invalid number of arguments specified for command".into(),
        ));
    }
    let (first, last, step) = facts(found).keys;
    if first <= 0 || step <= 0 {
        return Err(CommandError::BadArgument(
            "The command has no key arguments".into(),
        ));
    }
    let len = call.len() as i64;
    let last = if last < 0 {
        len + last
    } else {
        last.min(len - 1)
    };
    let mut keys = Vec::new();
    let mut i = first;
    while i <= last {
        keys.push(Frame::Bulk(call[i as usize].clone()));
        i += step;
    }
    Ok(Frame::Array(keys))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_becomes_argument_maps() {
        let args = arguments("key [NX | XX] value [value ...]");
        assert_eq!(args.len(), 4);
    }

    #[test]
    fn getkeys_follows_key_positions() {
        let keys = getkeys(&[b"watch".to_vec(), b"a".to_vec(), b"b".to_vec()]).unwrap();
        assert_eq!(
            keys,
            Frame::Array(vec![Frame::Bulk(b"a".to_vec()), Frame::Bulk(b"b".to_vec())])
        );
        assert!(getkeys(&[b"ping".to_vec()]).is_err());
        assert!(getkeys(&[b"nosuch".to_vec()]).is_err());
    }
}
