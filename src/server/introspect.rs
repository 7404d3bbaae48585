//! COMMAND: describes every command from the command tables, in the shapes
//! Redis 7 uses, so clients and redis-cli can read arity, flags, key
//! positions and documentation.

use super::client::{Found, INMEM_COMMANDS, find, unknown_subcommand};
use super::resp::Frame;
use crate::command::redis::{self, RedisSpec};
use crate::command::spec::{self, Spec};
use crate::engine::glob::glob_match;
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

/// Redis's ACL categories, in the order `COMMAND INFO` lists them.
const CATEGORIES: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// Categories Redis gives commands beyond what their flags and group say.
const EXTRA_CATEGORIES: &[(&str, &[&str])] = &[
    ("bitcount", &["bitmap"]),
    ("bitpos", &["bitmap"]),
    ("getbit", &["bitmap"]),
    ("setbit", &["bitmap"]),
    ("dbsize", &["keyspace"]),
    ("flushall", &["keyspace", "dangerous"]),
    ("flushdb", &["keyspace", "dangerous"]),
    ("swapdb", &["keyspace", "dangerous"]),
    ("keys", &["dangerous"]),
    ("info", &["dangerous"]),
    ("lastsave", &["admin", "dangerous"]),
    ("role", &["admin", "dangerous"]),
    ("wait", &["connection"]),
    ("readonly", &["connection"]),
    ("readwrite", &["connection"]),
    ("command", &["connection"]),
];

/// Commands whose group names no category: the bitmap ones (their group
/// is `string` here, `bitmap` in Redis), the containers of subcommands,
/// which Redis describes with their flags alone, and WAIT (@connection,
/// though its group is `generic`).
const NO_GROUP_CATEGORY: &[&str] = &[
    "bitcount", "bitpos", "getbit", "setbit", "client", "config", "memory", "object", "wait",
    "cluster",
];

/// A command's ACL categories as Redis derives them: `@write`, `@read`,
/// `@admin` and `@dangerous`, `@fast` or else `@slow` from its flags; one
/// from its group; and the few Redis adds by hand.
fn categories(f: &Facts) -> Vec<&'static str> {
    let mut found: Vec<&str> = Vec::new();
    let flag = |name: &str| f.flags.contains(&name);
    if flag("write") {
        found.push("write");
    }
    if flag("readonly") {
        found.push("read");
    }
    if flag("admin") {
        found.extend(["admin", "dangerous"]);
    }
    found.push(if flag("fast") { "fast" } else { "slow" });
    if !NO_GROUP_CATEGORY.contains(&f.name) {
        found.extend(match f.group {
            "string" => Some("string"),
            "generic" => Some("keyspace"),
            "connection" => Some("connection"),
            "transactions" => Some("transaction"),
            _ => None,
        });
    }
    for (name, extra) in EXTRA_CATEGORIES {
        if *name == f.name {
            found.extend(extra.iter());
        }
    }
    CATEGORIES
        .iter()
        .copied()
        .filter(|c| found.contains(c))
        .collect()
}

fn info(found: Found) -> Frame {
    let f = facts(found);
    let categories = categories(&f)
        .into_iter()
        .map(|c| Frame::Simple(format!("@{c}")))
        .collect();
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
        Frame::Set(categories),
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

/// COMMAND HELP's lines.
const HELP: &[&str] = &[
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "HELP",
    "    Prints this help.",
];

/// Each COMMAND subcommand with its Redis arity (the words `COMMAND` and
/// the subcommand included).
const SUBCOMMANDS: &[(&str, i32)] = &[
    ("count", 2),
    ("list", -2),
    ("info", -2),
    ("docs", -2),
    ("getkeys", -4),
    ("help", 2),
];

/// Answers COMMAND and its subcommands.
pub fn command(sub: Option<&[u8]>, args: &[Vec<u8>]) -> Result<Frame, CommandError> {
    let named =
        |names: &[Vec<u8>]| -> Vec<Option<Found>> { names.iter().map(|n| find(n)).collect() };
    let Some(sub) = sub else {
        return Ok(Frame::Array(all().into_iter().map(info).collect()));
    };
    let Some((name, arity)) = SUBCOMMANDS.iter().find(|(name, _)| name.as_bytes() == sub) else {
        return Err(unknown_subcommand(&args[1], "COMMAND"));
    };
    let n = arity.unsigned_abs() as usize;
    if (*arity < 0 && args.len() < n) || (*arity > 0 && args.len() != n) {
        return Err(CommandError::BadArgument(format!(
            "wrong number of arguments for 'command|{name}' command"
        )));
    }
    match *name {
        "count" => Ok(Frame::Integer(all().len() as i64)),
        "list" => list(&args[2..]),
        "info" if args.len() == 2 => Ok(Frame::Array(all().into_iter().map(info).collect())),
        "info" => Ok(Frame::Array(
            named(&args[2..])
                .into_iter()
                .map(|f| f.map_or(Frame::Null, info))
                .collect(),
        )),
        "docs" => {
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
        "getkeys" => getkeys(&args[2..]),
        _ => Ok(Frame::Array(
            HELP.iter().map(|l| Frame::Simple((*l).into())).collect(),
        )),
    }
}

/// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern].
fn list(filter: &[Vec<u8>]) -> Result<Frame, CommandError> {
    let keep: Box<dyn Fn(Found) -> bool> = match filter {
        [] => Box::new(|_| true),
        [by, kind, value] if by.eq_ignore_ascii_case(b"filterby") => {
            let value = value.to_ascii_lowercase();
            match kind.to_ascii_lowercase().as_slice() {
                b"module" => Box::new(|_| false),
                b"aclcat" => Box::new(move |f| {
                    categories(&facts(f))
                        .iter()
                        .any(|c| c.as_bytes() == value.as_slice())
                }),
                b"pattern" => Box::new(move |f| glob_match(&value, f.name().as_bytes())),
                _ => return Err(CommandError::BadArgument("syntax error".into())),
            }
        }
        _ => return Err(CommandError::BadArgument("syntax error".into())),
    };
    Ok(Frame::Array(
        all()
            .into_iter()
            .filter(|f| keep(*f))
            .map(|f| bulk(f.name()))
            .collect(),
    ))
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
