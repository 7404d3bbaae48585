//! `config get` and `config set`: the settings a running database shows, and
//! the ones it can change without a restart (capacity limits, latency tracking).

use crate::Db;
use crate::command::Reply;
use crate::engine::Eviction;
use crate::error::CommandError;

/// Names `config` knows, in the order `config get` lists them.
pub const NAMES: [&str; 7] = [
    "max-keys",
    "maxmemory",
    "eviction",
    "latency-tracking",
    "appendfsync",
    "snapshot-interval",
    "compact-threshold",
];

fn value(db: &Db, name: &str) -> Option<String> {
    let limits = db.engine().limits();
    let persistence = db.persistence().settings();
    let or_unlimited = |v: Option<u64>| v.map_or("0".to_string(), |n| n.to_string());
    Some(match name {
        "max-keys" => or_unlimited(limits.max_keys),
        "maxmemory" => or_unlimited(limits.maxmemory),
        "eviction" => limits.policy.name().to_string(),
        "latency-tracking" => if db.stats().latency_tracking() {
            "yes"
        } else {
            "no"
        }
        .to_string(),
        "appendfsync" => format!("{:?}", persistence.fsync).to_ascii_lowercase(),
        "snapshot-interval" => persistence.snapshot_interval.as_secs().to_string(),
        "compact-threshold" => persistence.compact_threshold.to_string(),
        _ => return None,
    })
}

/// One setting, or all of them, as a map of name to value.
pub fn get(db: &Db, name: Option<&str>) -> Result<Reply, CommandError> {
    let names: Vec<&str> = match name {
        None | Some("*") => NAMES.to_vec(),
        Some(name) => vec![name],
    };
    let mut out = Vec::new();
    for name in names {
        let lower = name.to_ascii_lowercase();
        let value = value(db, &lower).ok_or_else(|| unknown(name))?;
        out.push((lower, Reply::Value(value.into_bytes())));
    }
    Ok(Reply::Map(out))
}

/// Changes max-keys, maxmemory (0 = no limit), eviction or latency-tracking.
pub fn set(db: &Db, name: &str, value: &str) -> Result<(), CommandError> {
    set_all(db, &[(name, value)])
}

/// Changes several settings at once: every value is checked first, then
/// all take effect together (the limits in one step), or none does.
pub fn set_all(db: &Db, changes: &[(&str, &str)]) -> Result<(), CommandError> {
    let mut tracking = None;
    db.engine().update_limits(|limits| {
        for &(name, value) in changes {
            let number = || {
                value.parse::<u64>().map_err(|_| {
                    CommandError::BadArgument(format!(
                        "{name} takes a whole number, found '{value}'"
                    ))
                })
            };
            match name.to_ascii_lowercase().as_str() {
                "max-keys" => limits.max_keys = Some(number()?).filter(|n| *n > 0),
                "maxmemory" => limits.maxmemory = Some(number()?).filter(|n| *n > 0),
                "eviction" => {
                    limits.policy = Eviction::parse(value).map_err(CommandError::BadArgument)?;
                }
                "latency-tracking" => {
                    tracking = Some(match value.to_ascii_lowercase().as_str() {
                        "yes" | "on" => true,
                        "no" | "off" => false,
                        _ => {
                            return Err(CommandError::BadArgument(format!(
                                "latency-tracking takes yes or no, found '{value}'"
                            )));
                        }
                    });
                }
                other if NAMES.contains(&other) => {
                    return Err(CommandError::BadArgument(format!(
                        "{other} is set at start-up (see inmem --help)"
                    )));
                }
                _ => return Err(unknown(name)),
            }
        }
        Ok(())
    })?;
    if let Some(tracking) = tracking {
        db.stats().set_latency_tracking(tracking);
    }
    Ok(())
}

fn unknown(name: &str) -> CommandError {
    CommandError::BadArgument(format!(
        "unknown setting '{name}' (known: {})",
        NAMES.join(", ")
    ))
}
