//! Server commands answered by the RESP front-end: INFO, CONFIG, SAVE,
//! BGSAVE, BGREWRITEAOF, LASTSAVE, TIME, OBJECT, MEMORY, CLIENT KILL and
//! SHUTDOWN's options.

use super::client::{Client, unknown_subcommand};
use super::info;
use super::resp::Frame;
use crate::command::redis;
use crate::engine::ENTRY_OVERHEAD;
use crate::error::CommandError;
use std::time::{SystemTime, UNIX_EPOCH};

mod client_filters;
mod config;
pub mod help;

pub use client_filters::{client_kill, client_list};

fn bulk(text: impl Into<Vec<u8>>) -> Frame {
    Frame::Bulk(text.into())
}

fn bad(message: impl Into<String>) -> CommandError {
    CommandError::BadArgument(message.into())
}

/// Runs a server command other than SHUTDOWN.
pub fn run(
    client: &mut Client,
    name: &str,
    sub: Option<&[u8]>,
    args: &[Vec<u8>],
) -> Result<Frame, CommandError> {
    let shared = client.shared.clone();
    let db = &shared.db;
    match name {
        "info" => Ok(Frame::Verbatim {
            format: "txt".into(),
            text: info::render(&shared, &args[1..]).into_bytes(),
        }),
        "config" => config::command(client, sub.unwrap_or_default(), args),
        "save" => {
            db.persistence()
                .save(db.engine())
                .map_err(CommandError::Persistence)?;
            Ok(Frame::Simple("OK".into()))
        }
        "bgsave" if !bgsave_args_valid(args) => Err(bad("syntax error")),
        "bgsave" | "bgrewriteaof" => {
            let background = shared.clone();
            std::thread::Builder::new()
                .name("inmem-bgsave".into())
                .spawn(move || {
                    let db = &background.db;
                    if let Err(e) = db.persistence().save(db.engine()) {
                        tracing::error!("background save failed: {e}");
                    }
                })
                .map_err(|e| CommandError::Persistence(format!("cannot start: {e}")))?;
            Ok(Frame::Simple(if name == "bgsave" {
                "Background saving started".into()
            } else {
                "Background append only file rewriting started".into()
            }))
        }
        "lastsave" => {
            let status = db.persistence().status();
            let at = match status.result {
                Some(Ok(_)) => status.at_ms / 1000,
                _ => shared.started_unix,
            };
            Ok(Frame::Integer(at as i64))
        }
        "time" => {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            Ok(Frame::Array(vec![
                bulk(now.as_secs().to_string()),
                bulk(now.subsec_micros().to_string()),
            ]))
        }
        "role" => Ok(Frame::Array(vec![
            bulk("master"),
            Frame::Integer(0),
            Frame::Array(Vec::new()),
        ])),
        "wait" => {
            redis::parse_int(&args[1])?;
            let timeout = redis::parse_int(&args[2])
                .map_err(|_| bad("timeout is not an integer or out of range"))?;
            if timeout < 0 {
                return Err(bad("timeout is negative"));
            }
            // No replica will ever acknowledge: waiting would change nothing.
            Ok(Frame::Integer(0))
        }
        "cluster" => cluster(sub.unwrap_or_default(), args),
        "readonly" | "readwrite" => Err(bad(CLUSTER_DISABLED)),
        "object" => object(client, sub.unwrap_or_default(), args),
        "memory" => memory(client, sub.unwrap_or_default(), args),
        _ => Err(bad(format!("unknown command '{name}'"))),
    }
}

/// BGSAVE takes nothing, or SCHEDULE (a save starts at once either way).
fn bgsave_args_valid(args: &[Vec<u8>]) -> bool {
    match args {
        [_] => true,
        [_, option] => option.eq_ignore_ascii_case(b"schedule"),
        _ => false,
    }
}

fn object(client: &mut Client, sub: &[u8], args: &[Vec<u8>]) -> Result<Frame, CommandError> {
    let needs_key = || {
        if args.len() == 3 {
            Ok(&args[2])
        } else {
            Err(subcommand_arity("object", sub))
        }
    };
    match sub {
        b"help" if args.len() == 2 => Ok(help::help("OBJECT", help::OBJECT)),
        b"encoding" => {
            let key = needs_key()?;
            Ok(value_of(client, key).map_or(Frame::Null, |value| {
                bulk(encoding(&value).as_bytes().to_vec())
            }))
        }
        b"refcount" => {
            let key = needs_key()?;
            Ok(value_of(client, key).map_or(Frame::Null, |_| Frame::Integer(1)))
        }
        b"freq" => {
            // inmem has no LFU policy, so a key's frequency is never tracked:
            // Redis's answer under any other policy (a missing key is nil first).
            let key = needs_key()?;
            match value_of(client, key) {
                None => Ok(Frame::Null),
                Some(_) => Err(bad(
                    "An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
                )),
            }
        }
        b"idletime" => {
            let key = needs_key()?;
            let namespace = client.session.namespace();
            let idle = client.shared.db.engine().idle_time(namespace, key);
            Ok(idle.map_or(Frame::Null, |seconds| {
                Frame::Integer(i64::try_from(seconds).unwrap_or(i64::MAX))
            }))
        }
        b"help" => Err(subcommand_arity("object", sub)),
        _ => Err(unknown_subcommand(&args[1], "OBJECT")),
    }
}

/// Redis's encoding name for a string value.
fn encoding(value: &[u8]) -> &'static str {
    let integer = value.len() <= 20
        && redis::parse_int(value).is_ok_and(|n| n.to_string().as_bytes() == value);
    if integer {
        "int"
    } else if value.len() <= 44 {
        "embstr"
    } else {
        "raw"
    }
}

fn value_of(client: &Client, key: &[u8]) -> Option<Vec<u8>> {
    let namespace = client.session.namespace();
    client
        .shared
        .db
        .engine()
        .peek(namespace, key)
        .map(|entry| entry.value.to_vec())
}

fn memory(client: &mut Client, sub: &[u8], args: &[Vec<u8>]) -> Result<Frame, CommandError> {
    match sub {
        b"usage" if args.len() >= 3 => {
            // SAMPLES counts nested values Redis samples; strings need none.
            let mut options = &args[3..];
            while let Some(option) = options.first() {
                match options.get(1) {
                    Some(count) if option.eq_ignore_ascii_case(b"samples") => {
                        if redis::parse_int(count)? < 0 {
                            return Err(bad("syntax error"));
                        }
                        options = &options[2..];
                    }
                    _ => return Err(bad("syntax error")),
                }
            }
            Ok(value_of(client, &args[2]).map_or(Frame::Null, |value| {
                Frame::Integer((args[2].len() + value.len()) as i64 + ENTRY_OVERHEAD as i64)
            }))
        }
        b"help" if args.len() == 2 => Ok(help::help("MEMORY", help::MEMORY)),
        b"usage" | b"help" => Err(subcommand_arity("memory", sub)),
        _ => Err(unknown_subcommand(&args[1], "MEMORY")),
    }
}

/// Redis's answer to cluster commands on a server that is not a cluster.
const CLUSTER_DISABLED: &str = "This instance has cluster support disabled";

/// Redis's CLUSTER subcommands and their arities (negative: at least).
const CLUSTER_SUBCOMMANDS: &[(&str, i32)] = &[
    ("addslots", -3),
    ("addslotsrange", -4),
    ("bumpepoch", 2),
    ("count-failure-reports", 3),
    ("countkeysinslot", 3),
    ("delslots", -3),
    ("delslotsrange", -4),
    ("failover", -2),
    ("flushslots", 2),
    ("forget", 3),
    ("getkeysinslot", 4),
    ("help", 2),
    ("info", 2),
    ("keyslot", 3),
    ("links", 2),
    ("meet", -4),
    ("myid", 2),
    ("nodes", 2),
    ("replicas", 3),
    ("replicate", 3),
    ("reset", -2),
    ("saveconfig", 2),
    ("set-config-epoch", 3),
    ("setslot", -4),
    ("shards", 2),
    ("slaves", 3),
    ("slots", 2),
];

/// CLUSTER: every subcommand Redis has, with its arity, answers as Redis
/// does with cluster support disabled; any other is unknown.
fn cluster(sub: &[u8], args: &[Vec<u8>]) -> Result<Frame, CommandError> {
    let Some(&(_, arity)) = CLUSTER_SUBCOMMANDS
        .iter()
        .find(|(name, _)| name.as_bytes() == sub)
    else {
        return Err(unknown_subcommand(&args[1], "CLUSTER"));
    };
    let words = i32::try_from(args.len()).unwrap_or(i32::MAX);
    if (arity >= 0 && words != arity) || words < -arity {
        return Err(subcommand_arity("cluster", sub));
    }
    Err(bad(CLUSTER_DISABLED))
}

/// Redis's wrong-arity error for a subcommand (`'memory|usage'`).
fn subcommand_arity(command: &str, sub: &[u8]) -> CommandError {
    bad(format!(
        "wrong number of arguments for '{command}|{}' command",
        String::from_utf8_lossy(sub)
    ))
}

/// SHUTDOWN's options: true when a snapshot should be written first.
/// NOSAVE with SAVE, or ABORT with anything, is a syntax error as in Redis.
pub fn shutdown_mode(args: &[Vec<u8>]) -> Result<bool, CommandError> {
    let (mut save, mut nosave, mut other, mut abort) = (false, false, false, false);
    for arg in args {
        match arg.to_ascii_lowercase().as_slice() {
            b"save" => save = true,
            b"nosave" => nosave = true,
            b"now" | b"force" => other = true,
            b"abort" => abort = true,
            _ => return Err(bad("syntax error")),
        }
    }
    if (save && nosave) || (abort && (save || nosave || other)) {
        return Err(bad("syntax error"));
    }
    if abort {
        return Err(bad("No shutdown in progress."));
    }
    Ok(save)
}
