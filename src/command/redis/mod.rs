//! The Redis dialect of the command language: Redis's commands with Redis's
//! arguments, arity and semantics. The RESP server speaks it, and the REPL
//! accepts it for any word its own commands do not claim.
//!
//! Each group keeps its table rows next to the code that turns arguments into
//! typed commands, so a command is described once.

pub mod global;
pub mod keys;
pub mod server;
pub mod strings;

use super::Command;
use crate::error::CommandError;

/// One Redis command, described once: `COMMAND`, arity errors and help read it.
#[derive(Debug)]
pub struct RedisSpec {
    /// The command name, lowercase.
    pub name: &'static str,
    /// Redis's arity: `n` means exactly `n` words including the name, `-n` at least `n`.
    pub arity: i32,
    /// Redis's command flags, as `COMMAND INFO` lists them (`write`, `readonly`, `fast`, ...).
    pub flags: &'static [&'static str],
    /// Position of the first key argument (0 when there is none).
    pub first_key: i32,
    /// Position of the last key argument (-1 for the last word).
    pub last_key: i32,
    /// Step between key arguments.
    pub step: i32,
    /// Redis's documentation group: `string`, `generic`, `connection`, `server`, `transactions`, `inmem`.
    pub group: &'static str,
    /// Argument syntax, as Redis's documentation writes it.
    pub syntax: &'static str,
    /// One-line description.
    pub summary: &'static str,
}

impl RedisSpec {
    /// A table row: key positions as (first, last, step), all zero without keys.
    pub const fn row(
        name: &'static str,
        arity: i32,
        flags: &'static [&'static str],
        keys: (i32, i32, i32),
        group: &'static str,
        syntax: &'static str,
        summary: &'static str,
    ) -> RedisSpec {
        RedisSpec {
            name,
            arity,
            flags,
            first_key: keys.0,
            last_key: keys.1,
            step: keys.2,
            group,
            syntax,
            summary,
        }
    }

    /// True when `words` words (the name included) fit the arity.
    pub fn accepts(&self, words: usize) -> bool {
        let n = self.arity.unsigned_abs() as usize;
        if self.arity < 0 {
            words >= n
        } else {
            words == n
        }
    }

    /// True when the command changes the keyspace.
    pub fn writes(&self) -> bool {
        self.flags.contains(&"write")
    }
}

/// Turns a command's arguments into a typed command.
type Builder = fn(&'static RedisSpec, &[Vec<u8>]) -> Result<Command, CommandError>;

/// Every table with the builder for its keyspace commands; the server table
/// has none, since the front-end answers those commands itself.
fn groups() -> [(&'static [RedisSpec], Option<Builder>); 4] {
    [
        (strings::COMMANDS, Some(strings::build as Builder)),
        (keys::COMMANDS, Some(keys::build as Builder)),
        (global::COMMANDS, Some(global::build as Builder)),
        (server::COMMANDS, None),
    ]
}

/// Every table, in the order `COMMAND` lists them.
pub fn tables() -> impl Iterator<Item = &'static [RedisSpec]> {
    groups().into_iter().map(|(table, _)| table)
}

/// The Redis command named `name` (any case).
pub fn lookup(name: &[u8]) -> Option<&'static RedisSpec> {
    tables()
        .flatten()
        .find(|spec| spec.name.as_bytes().eq_ignore_ascii_case(name))
}

fn builder(spec: &'static RedisSpec) -> Option<Builder> {
    groups()
        .into_iter()
        .find(|(table, _)| table.iter().any(|s| std::ptr::eq(s, spec)))
        .and_then(|(_, build)| build)
}

/// Redis's wrong-arity error for `spec`.
pub fn arity_error(spec: &RedisSpec) -> CommandError {
    CommandError::RedisArity(spec.name)
}

/// Builds a keyspace command from a Redis command's arguments (the name
/// excluded; arity already checked). `None` when the command is not a keyspace
/// command (connection and server commands are the front-end's).
pub fn build(spec: &'static RedisSpec, args: &[Vec<u8>]) -> Option<Result<Command, CommandError>> {
    builder(spec).map(|build| build(spec, args))
}

/// True when [`build`] turns the command into a keyspace command.
pub fn build_is_keyspace(spec: &'static RedisSpec) -> bool {
    builder(spec).is_some()
}

/// Redis's integer rules (`string2ll`), for arguments and stored values
/// alike: an optional minus sign and decimal digits without leading zeros
/// (`0` itself aside; `-0` is refused), in range.
pub fn parse_int(bytes: &[u8]) -> Result<i64, CommandError> {
    let digits = bytes.strip_prefix(b"-").unwrap_or(bytes);
    let canonical = match digits {
        [b'0'] => digits.len() == bytes.len(),
        [b'1'..=b'9', rest @ ..] => rest.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    std::str::from_utf8(bytes)
        .ok()
        .filter(|_| canonical)
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or(CommandError::NotAnInteger)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_lowercase() {
        let mut seen = std::collections::HashSet::new();
        for spec in tables().flatten() {
            assert_eq!(spec.name, spec.name.to_ascii_lowercase());
            assert!(seen.insert(spec.name), "{} listed twice", spec.name);
            assert_ne!(spec.arity, 0, "{}", spec.name);
        }
    }

    #[test]
    fn arity_follows_redis_convention() {
        let spec = RedisSpec {
            name: "x",
            arity: -3,
            flags: &[],
            first_key: 1,
            last_key: 1,
            step: 1,
            group: "string",
            syntax: "",
            summary: "",
        };
        assert!(!spec.accepts(2));
        assert!(spec.accepts(3));
        assert!(spec.accepts(9));
        let exact = RedisSpec { arity: 2, ..spec };
        assert!(exact.accepts(2));
        assert!(!exact.accepts(3));
    }

    #[test]
    fn integers_follow_redis_rules() {
        assert_eq!(parse_int(b"-12"), Ok(-12));
        assert!(parse_int(b"+1").is_err());
        assert!(parse_int(b"").is_err());
        assert!(parse_int(b"1.0").is_err());
        assert!(parse_int(b"99999999999999999999").is_err());
        assert_eq!(parse_int(b"0"), Ok(0));
        assert!(parse_int(b"01").is_err());
        assert!(parse_int(b"-0").is_err());
        assert!(parse_int(b"-").is_err());
    }
}
