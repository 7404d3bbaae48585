//! CONFIG GET, SET, RESETSTAT, REWRITE and HELP under Redis's parameter
//! names (and inmem's own). Every parameter CONFIG GET shows is either
//! changed by CONFIG SET or refused with an error saying what inmem does
//! instead; a SET of the value a fixed parameter already has is `+OK`.
//! As in Redis, a CONFIG SET of several parameters changes all or none.

use super::{bad, bulk, help, subcommand_arity};
use crate::config;
use crate::engine::{Eviction, glob::glob_match};
use crate::error::CommandError;
use crate::server::Shared;
use crate::server::client::{Client, unknown_subcommand};
use crate::server::resp::Frame;

/// How a value is read, with Redis's error for a bad one.
#[derive(Debug, Clone, Copy)]
enum Check {
    /// Anything.
    Any,
    /// A byte count with an optional unit (`100mb`).
    Memory,
    /// An integer in a range.
    Int(i64, i64),
    /// `yes` or `no`.
    Bool,
    /// One of these words, any case.
    Word(&'static [&'static str]),
    /// `save`'s `seconds changes` pairs, or nothing.
    Save,
    /// notify-keyspace-events's class letters.
    Events,
    /// One of inmem's eviction policies.
    Eviction,
}

/// What CONFIG SET does with a parameter.
#[derive(Debug, Clone, Copy)]
enum Rule {
    /// Changed through inmem's `config::set` under this name.
    Live(&'static str),
    /// maxmemory-policy: Redis's policies, of which inmem has five.
    Policy,
    /// maxclients, kept by the client registry.
    Maxclients,
    /// Refused by Redis too (immutable or protected), with its reason.
    Refused(&'static str),
    /// Fixed in inmem: its current value is accepted, any other refused
    /// with this explanation.
    Fixed(&'static str),
}

/// One parameter: its name, another name for it, its rule and check.
#[derive(Debug)]
struct Param {
    name: &'static str,
    alias: Option<&'static str>,
    rule: Rule,
    check: Check,
}

const fn param(name: &'static str, rule: Rule, check: Check) -> Param {
    Param {
        name,
        alias: None,
        rule,
        check,
    }
}

/// Redis's eviction policies, in its error message's order.
const REDIS_POLICIES: &[&str] = &[
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
];

const START_UP: &str = "set at start-up (see inmem --help)";

/// Every parameter CONFIG SET knows; CONFIG GET shows these names too.
const PARAMS: &[Param] = &[
    param("maxmemory", Rule::Live("maxmemory"), Check::Memory),
    param(
        "maxmemory-policy",
        Rule::Policy,
        Check::Word(REDIS_POLICIES),
    ),
    param("max-keys", Rule::Live("max-keys"), Check::Int(0, i64::MAX)),
    param("eviction", Rule::Live("eviction"), Check::Eviction),
    param(
        "latency-tracking",
        Rule::Live("latency-tracking"),
        Check::Bool,
    ),
    param("maxclients", Rule::Maxclients, Check::Int(1, 4_294_967_295)),
    param(
        "maxmemory-samples",
        Rule::Fixed("inmem always samples 5 keys per eviction"),
        Check::Int(1, 2_147_483_647),
    ),
    param(
        "appendonly",
        Rule::Fixed("inmem always logs every write to its append-only log"),
        Check::Bool,
    ),
    param(
        "appendfsync",
        Rule::Fixed("inmem sets the fsync policy at start-up (inmem --appendfsync)"),
        Check::Word(&["everysec", "always", "no"]),
    ),
    param(
        "save",
        Rule::Fixed(
            "inmem snapshots on a timer set at start-up (inmem --snapshot-interval SECONDS, shown as 'SECONDS 1')",
        ),
        Check::Save,
    ),
    param("snapshot-interval", Rule::Fixed(START_UP), Check::Any),
    param("compact-threshold", Rule::Fixed(START_UP), Check::Any),
    param(
        "databases",
        Rule::Refused("can't set immutable config"),
        Check::Any,
    ),
    param(
        "cluster-enabled",
        Rule::Refused("can't set immutable config"),
        Check::Any,
    ),
    param(
        "dir",
        Rule::Refused("can't set protected config"),
        Check::Any,
    ),
    param(
        "dbfilename",
        Rule::Refused("can't set protected config"),
        Check::Any,
    ),
    param(
        "port",
        Rule::Fixed("inmem keeps the port it started on (inmem serve --port)"),
        Check::Int(0, 65535),
    ),
    param(
        "bind",
        Rule::Fixed("inmem keeps the address it started on (inmem serve --bind)"),
        Check::Any,
    ),
    param(
        "requirepass",
        Rule::Fixed("inmem sets the password at start-up (inmem serve --requirepass)"),
        Check::Any,
    ),
    param(
        "timeout",
        Rule::Fixed("inmem never closes idle clients"),
        Check::Int(0, 2_147_483_647),
    ),
    param(
        "proto-max-bulk-len",
        Rule::Fixed("inmem's bulk string limit is fixed at 512mb"),
        Check::Memory,
    ),
    param(
        "client-query-buffer-limit",
        Rule::Fixed("inmem's query buffer limit is fixed at 1gb"),
        Check::Memory,
    ),
    param(
        "hz",
        Rule::Fixed("inmem has no hz: expiry and background work keep their own timers"),
        Check::Int(0, i32::MAX as i64),
    ),
    Param {
        alias: Some("slave-read-only"),
        ..param(
            "replica-read-only",
            Rule::Fixed("inmem has no replication"),
            Check::Bool,
        )
    },
    param(
        "notify-keyspace-events",
        Rule::Fixed("inmem sends no keyspace notifications (it has no pub/sub)"),
        Check::Events,
    ),
];

fn lookup(name: &[u8]) -> Option<&'static Param> {
    PARAMS.iter().find(|p| {
        p.name.as_bytes().eq_ignore_ascii_case(name)
            || p.alias
                .is_some_and(|a| a.as_bytes().eq_ignore_ascii_case(name))
    })
}

/// The CONFIG command.
pub fn command(client: &mut Client, sub: &[u8], args: &[Vec<u8>]) -> Result<Frame, CommandError> {
    let shared = client.shared.clone();
    let db = &shared.db;
    match sub {
        b"get" if args.len() >= 3 => Ok(get(&shared, &args[2..])),
        b"set" if args.len() >= 4 && args.len().is_multiple_of(2) => {
            set(&shared, &args[2..]).map(|()| Frame::Simple("OK".into()))
        }
        b"resetstat" if args.len() == 2 => {
            db.stats().reset();
            db.engine().reset_counters();
            Ok(Frame::Simple("OK".into()))
        }
        b"rewrite" if args.len() == 2 => Err(bad("The server is running without a config file")),
        b"help" if args.len() == 2 => Ok(help::help("CONFIG", help::CONFIG)),
        b"get" | b"set" | b"resetstat" | b"rewrite" | b"help" => {
            Err(subcommand_arity("config", sub))
        }
        _ => Err(unknown_subcommand(&args[1], "CONFIG")),
    }
}

/// CONFIG GET: a plain name is answered as typed (Redis echoes it), a glob
/// pattern (any case) with the names it matches; each parameter once.
fn get(shared: &Shared, patterns: &[Vec<u8>]) -> Frame {
    let settings = settings(shared);
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut add = |name: String, value: &str| {
        if !pairs.iter().any(|(n, _)| n.eq_ignore_ascii_case(&name)) {
            pairs.push((name, value.to_string()));
        }
    };
    for pattern in patterns {
        if !pattern.iter().any(|b| matches!(b, b'*' | b'?' | b'[')) {
            if let Some((_, value)) = settings
                .iter()
                .find(|(n, _)| n.as_bytes().eq_ignore_ascii_case(pattern))
            {
                add(String::from_utf8_lossy(pattern).into_owned(), value);
            }
            continue;
        }
        let pattern = pattern.to_ascii_lowercase();
        for (name, value) in &settings {
            if glob_match(&pattern, name.as_bytes()) {
                add(name.clone(), value);
            }
        }
    }
    Frame::Map(pairs.into_iter().map(|(n, v)| (bulk(n), bulk(v))).collect())
}

/// A checked CONFIG SET change, ready to apply.
struct Change {
    param: &'static Param,
    value: String,
}

/// CONFIG SET: names are checked first (an unknown one wins, then a refused
/// or repeated one), then values in order; all apply, or none.
fn set(shared: &Shared, pairs: &[Vec<u8>]) -> Result<(), CommandError> {
    let mut unknown = None;
    let mut refused = None;
    let mut found: Vec<&'static Param> = Vec::new();
    for pair in pairs.chunks(2) {
        let typed = String::from_utf8_lossy(&pair[0]);
        let Some(param) = lookup(&pair[0]) else {
            unknown.get_or_insert_with(|| typed.to_string());
            continue;
        };
        if refused.is_some() {
            continue;
        }
        if let Rule::Refused(why) = param.rule {
            refused = Some(failed(&typed, why));
        } else if found.iter().any(|p| std::ptr::eq(*p, param)) {
            refused = Some(failed(&typed, "duplicate parameter"));
        }
        found.push(param);
    }
    if let Some(name) = unknown {
        return Err(bad(format!(
            "Unknown option or number of arguments for CONFIG SET - '{name}'"
        )));
    }
    if let Some(error) = refused {
        return Err(error);
    }
    let settings = settings(shared);
    let mut changes = Vec::new();
    for (param, pair) in found.into_iter().zip(pairs.chunks(2)) {
        // Errors name the parameter as Redis does: by the name used (an
        // alias too), in lower case.
        let name = param
            .alias
            .filter(|alias| alias.as_bytes().eq_ignore_ascii_case(&pair[0]))
            .unwrap_or(param.name);
        let value = String::from_utf8_lossy(&pair[1]).into_owned();
        let value = check(param.check, &value).map_err(|why| failed(name, &why))?;
        let current = settings
            .iter()
            .find(|(n, _)| n == param.name)
            .map_or(String::new(), |(_, v)| normal(param.check, v));
        match param.rule {
            Rule::Fixed(why) if value != current => return Err(failed(name, why)),
            // A Redis policy (checked above) that inmem does not have.
            Rule::Policy if Eviction::parse(&value).is_err() => {
                return Err(failed(name, &no_such_eviction(&value)));
            }
            _ => changes.push(Change { param, value }),
        }
    }
    apply(shared, &changes)
}

/// Applies checked changes together: inmem's settings through
/// [`config::set_all`] (which checks every value before any takes effect),
/// then maxclients, which cannot fail.
fn apply(shared: &Shared, changes: &[Change]) -> Result<(), CommandError> {
    let mut settings = Vec::new();
    let mut maxclients = None;
    for change in changes {
        match change.param.rule {
            Rule::Live(ours) => settings.push((ours, change.value.as_str())),
            Rule::Policy => settings.push(("eviction", change.value.as_str())),
            Rule::Maxclients => maxclients = Some(change.value.parse().unwrap_or(usize::MAX)),
            Rule::Fixed(_) | Rule::Refused(_) => {}
        }
    }
    // Every value was checked as CONFIG SET reads it, so this does not
    // fail on one; whatever it refuses, it refuses whole.
    config::set_all(&shared.db, &settings).map_err(|error| bad(error.to_string()))?;
    if let Some(max) = maxclients {
        shared.clients.set_max(max);
    }
    Ok(())
}

/// Why a policy inmem does not have is refused, naming those it has.
fn no_such_eviction(value: &str) -> String {
    format!(
        "inmem has no {value} eviction; it offers {}",
        Eviction::ALL.map(|(n, _)| n).join(", ")
    )
}

fn failed(name: &str, why: &str) -> CommandError {
    bad(format!(
        "CONFIG SET failed (possibly related to argument '{name}') - {why}"
    ))
}

/// The value in the form it is compared and applied in (a byte count for a
/// memory value, lowercase for words), or Redis's reason it is not valid.
fn check(check: Check, value: &str) -> Result<String, String> {
    match check {
        Check::Any => Ok(value.to_string()),
        Check::Eviction => Eviction::parse(value)
            .map(|policy| policy.name().to_string())
            .map_err(|_| no_such_eviction(value)),
        Check::Memory => parse_memory(value)
            .map(|n| n.to_string())
            .ok_or_else(|| "argument must be a memory value".to_string()),
        Check::Int(min, max) => {
            let n: i64 = value
                .parse()
                .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
            if n < min || n > max {
                return Err(format!(
                    "argument must be between {min} and {max} inclusive"
                ));
            }
            Ok(n.to_string())
        }
        Check::Bool => match value.to_ascii_lowercase().as_str() {
            word @ ("yes" | "no") => Ok(word.to_string()),
            _ => Err("argument must be 'yes' or 'no'".to_string()),
        },
        Check::Word(words) => {
            let lower = value.to_ascii_lowercase();
            if words.contains(&lower.as_str()) {
                Ok(lower)
            } else {
                Err(format!(
                    "argument(s) must be one of the following: {}",
                    words.join(", ")
                ))
            }
        }
        Check::Save => {
            let numbers: Vec<&str> = value.split_whitespace().collect();
            let valid =
                numbers.len().is_multiple_of(2) && numbers.iter().all(|n| n.parse::<u64>().is_ok());
            if valid {
                Ok(numbers.join(" "))
            } else {
                Err("Invalid save parameters".to_string())
            }
        }
        Check::Events => {
            if value.chars().all(|c| "Ag$lshzxeKEtmdn".contains(c)) {
                Ok(value.to_string())
            } else {
                Err("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".to_string())
            }
        }
    }
}

/// A shown value in its compared form.
fn normal(kind: Check, value: &str) -> String {
    check(kind, value).unwrap_or_else(|_| value.to_string())
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
/// clients and tools (redis-benchmark, redis-cli, monitoring agents) ask for.
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
        (
            "maxclients",
            shared.clients.max(shared.settings.maxclients).to_string(),
        ),
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
            crate::server::QUERY_BUFFER_LIMIT.to_string(),
        ),
        ("hz", "10".to_string()),
        ("cluster-enabled", "no".to_string()),
        ("replica-read-only", "yes".to_string()),
        ("slave-read-only", "yes".to_string()),
        ("notify-keyspace-events", String::new()),
    ];
    for (name, value) in fixed {
        if !out.iter().any(|(n, _)| n == name) {
            out.push((name.to_string(), value));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_values_take_redis_units() {
        assert_eq!(parse_memory("100"), Some(100));
        assert_eq!(parse_memory("1kb"), Some(1024));
        assert_eq!(parse_memory("2K"), Some(2000));
        assert_eq!(parse_memory("1Gb"), Some(1 << 30));
        assert_eq!(parse_memory("-1"), None);
        assert_eq!(parse_memory("abc"), None);
        assert_eq!(parse_memory("99999999999999999999"), None);
    }

    #[test]
    fn every_shown_redis_name_has_a_set_rule() {
        for name in [
            "maxmemory-samples",
            "appendonly",
            "save",
            "databases",
            "maxclients",
            "port",
            "bind",
            "dir",
            "dbfilename",
            "requirepass",
            "timeout",
            "proto-max-bulk-len",
            "client-query-buffer-limit",
            "hz",
            "cluster-enabled",
            "slave-read-only",
            "notify-keyspace-events",
        ] {
            assert!(lookup(name.as_bytes()).is_some(), "{name}");
        }
    }
}
