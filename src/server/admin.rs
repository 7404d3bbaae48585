//! Server commands answered by the RESP front-end: INFO, CONFIG, SAVE,
//! BGSAVE, BGREWRITEAOF, LASTSAVE, TIME, OBJECT, MEMORY, CLIENT KILL and
//! SHUTDOWN's options.

use super::client::{Client, unknown_subcommand};
use super::resp::Frame;
use super::{Shared, info};
use crate::command::redis;
use crate::config;
use crate::engine::ENTRY_OVERHEAD;
use crate::error::CommandError;
use std::time::{SystemTime, UNIX_EPOCH};

mod client_filters;

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
        "config" => config_command(client, sub.unwrap_or_default(), args),
        "save" => {
            db.persistence()
                .save(db.engine())
                .map_err(CommandError::Persistence)?;
            Ok(Frame::Simple("OK".into()))
        }
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
        "object" => object(client, sub.unwrap_or_default(), args),
        "memory" => memory(client, sub.unwrap_or_default(), args),
        _ => Err(bad(format!("unknown command '{name}'"))),
    }
}

fn config_command(
    client: &mut Client,
    sub: &[u8],
    args: &[Vec<u8>],
) -> Result<Frame, CommandError> {
    let db = &client.shared.db;
    match sub {
        b"get" if args.len() >= 3 => {
            let settings = settings(&client.shared);
            let mut pairs = Vec::new();
            for pattern in &args[2..] {
                let pattern = pattern.to_ascii_lowercase();
                for (name, value) in &settings {
                    let matched = crate::engine::glob::glob_match(&pattern, name.as_bytes());
                    if matched && !pairs.iter().any(|(n, _): &(String, String)| n == name) {
                        pairs.push((name.clone(), value.clone()));
                    }
                }
            }
            Ok(Frame::Map(
                pairs.into_iter().map(|(n, v)| (bulk(n), bulk(v))).collect(),
            ))
        }
        b"set" if args.len() >= 4 && args.len().is_multiple_of(2) => {
            for pair in args[2..].chunks(2) {
                let name = String::from_utf8_lossy(&pair[0]).to_ascii_lowercase();
                let value = String::from_utf8_lossy(&pair[1]).into_owned();
                let ours = match name.as_str() {
                    "maxmemory-policy" => "eviction",
                    "maxmemory" => "maxmemory",
                    other if config::NAMES.contains(&other) => other,
                    _ => {
                        return Err(bad(format!(
                            "Unknown option or number of arguments for CONFIG SET - '{name}'"
                        )));
                    }
                };
                let value = if ours == "maxmemory" {
                    parse_memory(&value).ok_or_else(|| {
                        bad(format!(
                            "CONFIG SET failed (possibly related to argument '{name}') - argument couldn't be parsed into an integer"
                        ))
                    })?
                    .to_string()
                } else {
                    value
                };
                config::set(db, ours, &value).map_err(|e| {
                    bad(format!(
                        "CONFIG SET failed (possibly related to argument '{name}') - {e}"
                    ))
                })?;
            }
            Ok(Frame::Simple("OK".into()))
        }
        b"resetstat" if args.len() == 2 => {
            db.stats().reset();
            db.engine().reset_counters();
            Ok(Frame::Simple("OK".into()))
        }
        b"get" | b"set" | b"resetstat" => Err(bad(format!(
            "wrong number of arguments for 'config|{}' command",
            String::from_utf8_lossy(sub)
        ))),
        _ => Err(unknown_subcommand(sub, "CONFIG")),
    }
}

/// A byte count with Redis's optional unit (`100mb`, `1gb`, `512kb`, `10k`).
fn parse_memory(text: &str) -> Option<u64> {
    let lower = text.to_ascii_lowercase();
    let split = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (digits, unit) = lower.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let scale: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    n.checked_mul(scale)
}

/// Every setting CONFIG GET shows: inmem's own names and the Redis names that
/// clients and tools (redis-benchmark, redis-cli) ask for.
fn settings(shared: &Shared) -> Vec<(String, String)> {
    let db = &shared.db;
    let mut out: Vec<(String, String)> = Vec::new();
    if let Ok(crate::command::Reply::Map(fields)) = config::get(db, None) {
        for (name, value) in fields {
            if let crate::command::Reply::Value(bytes) = value {
                out.push((name, String::from_utf8_lossy(&bytes).into_owned()));
            }
        }
    }
    let limits = db.engine().limits();
    let persistence = db.persistence().settings();
    let interval = persistence.snapshot_interval.as_secs();
    let fixed = [
        ("maxmemory", limits.maxmemory.unwrap_or(0).to_string()),
        ("maxmemory-policy", limits.policy.name().to_string()),
        ("maxmemory-samples", "5".to_string()),
        ("appendonly", "yes".to_string()),
        (
            "appendfsync",
            format!("{:?}", persistence.fsync).to_ascii_lowercase(),
        ),
        (
            "save",
            if interval == 0 {
                String::new()
            } else {
                format!("{interval} 1")
            },
        ),
        (
            "databases",
            crate::command::redis::global::DATABASES.to_string(),
        ),
        ("maxclients", shared.settings.maxclients.to_string()),
        ("port", shared.ports.0.to_string()),
        ("bind", shared.settings.bind.clone()),
        ("dir", db.data_dir().display().to_string()),
        ("dbfilename", "snapshot.db".to_string()),
        (
            "requirepass",
            shared.settings.requirepass.clone().unwrap_or_default(),
        ),
        ("timeout", "0".to_string()),
        ("proto-max-bulk-len", (512u64 << 20).to_string()),
        (
            "client-query-buffer-limit",
            super::QUERY_BUFFER_LIMIT.to_string(),
        ),
    ];
    for (name, value) in fixed {
        if !out.iter().any(|(n, _)| n == name) {
            out.push((name.to_string(), value));
        }
    }
    out
}

fn object(client: &mut Client, sub: &[u8], args: &[Vec<u8>]) -> Result<Frame, CommandError> {
    let needs_key = || {
        if args.len() == 3 {
            Ok(&args[2])
        } else {
            Err(bad(format!(
                "wrong number of arguments for 'object|{}' command",
                String::from_utf8_lossy(sub)
            )))
        }
    };
    match sub {
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
        _ => Err(unknown_subcommand(sub, "OBJECT")),
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
        b"usage"
            if args.len() == 3 || (args.len() == 5 && args[3].eq_ignore_ascii_case(b"samples")) =>
        {
            if args.len() == 5 {
                redis::parse_int(&args[4])?;
            }
            Ok(value_of(client, &args[2]).map_or(Frame::Null, |value| {
                Frame::Integer((args[2].len() + value.len()) as i64 + ENTRY_OVERHEAD as i64)
            }))
        }
        b"usage" => Err(bad("syntax error")),
        _ => Err(unknown_subcommand(sub, "MEMORY")),
    }
}

/// SHUTDOWN's options: true when a snapshot should be written first.
pub fn shutdown_mode(args: &[Vec<u8>]) -> Result<bool, CommandError> {
    let mut save = false;
    for arg in args {
        match arg.to_ascii_lowercase().as_slice() {
            b"save" => save = true,
            b"nosave" | b"now" | b"force" => {}
            b"abort" => return Err(bad("No shutdown in progress.")),
            _ => return Err(bad("syntax error")),
        }
    }
    Ok(save)
}
