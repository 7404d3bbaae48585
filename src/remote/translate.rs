//! inmem's commands in terms of Redis's: which request (or SCAN walk) each
//! typed command becomes, and how its reply is read back.

use super::reply::Shape;
use crate::command::{Command, FindTarget, Matcher, Op};
use crate::error::CommandError;

/// What running a statement against a server takes.
#[derive(Debug)]
pub enum Plan {
    /// One request, whose reply `shape` reads; it may be queued in MULTI.
    Request {
        /// The command word and its arguments.
        args: Vec<Vec<u8>>,
        /// How the reply is read.
        shape: Shape,
    },
    /// A walk over the keyspace with SCAN (several round trips, so never queued).
    Walk(Walk),
    /// Something the session handles itself: transactions, batches,
    /// namespaces, aliases, help and the other local commands.
    Session(Command),
}

/// A SCAN walk and what it answers.
#[derive(Debug)]
pub enum Walk {
    /// Keys, sorted: those SCAN MATCH `pattern` yields, then kept by `filter`.
    Keys {
        /// A glob for SCAN's MATCH (all keys when `None`).
        pattern: Option<Vec<u8>>,
        /// A local test on each key (a regex or an exact name).
        filter: Option<Matcher>,
    },
    /// Every string value, in key order (SCAN + MGET).
    Values,
    /// Key/value pairs in key order whose value passes `filter` (SCAN + MGET).
    Items {
        /// A local test on each value.
        filter: Option<Matcher>,
    },
}

fn words(parts: &[&[u8]]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.to_vec()).collect()
}

fn request(args: Vec<Vec<u8>>, shape: Shape) -> Plan {
    Plan::Request { args, shape }
}

/// The plan for a command built by inmem's own command table.
pub fn plan(command: Command) -> Result<Plan, CommandError> {
    Ok(match command {
        Command::Op(op) => plan_op(op)?,
        Command::Stats { reset: false } => request(words(&[b"INFO"]), Shape::Info),
        Command::Stats { reset: true } => request(words(&[b"CONFIG", b"RESETSTAT"]), Shape::Plain),
        Command::ConfigGet(name) => {
            let name = name.unwrap_or_else(|| "*".into());
            request(words(&[b"CONFIG", b"GET", name.as_bytes()]), Shape::Config)
        }
        Command::ConfigSet(name, value) => request(
            words(&[b"CONFIG", b"SET", name.as_bytes(), value.as_bytes()]),
            Shape::Plain,
        ),
        Command::Save => request(words(&[b"SAVE"]), Shape::Plain),
        Command::Compact => request(words(&[b"BGREWRITEAOF"]), Shape::Plain),
        Command::Backup(_) => return Err(local_only("backup")),
        Command::Restore(_) => return Err(local_only("restore")),
        Command::Export(_) => return Err(local_only("export")),
        Command::Import(_) => return Err(local_only("import")),
        other => Plan::Session(other),
    })
}

fn local_only(name: &str) -> CommandError {
    CommandError::BadArgument(format!(
        "'{name}' works on a local data directory, not over --connect"
    ))
}

fn plan_op(op: Op) -> Result<Plan, CommandError> {
    Ok(match op {
        Op::Put { key, value, ttl_ms } => {
            let mut args = vec![b"SET".to_vec(), key, value];
            if let Some(ms) = ttl_ms {
                args.extend([b"PX".to_vec(), ms.to_string().into_bytes()]);
            }
            request(args, Shape::Plain)
        }
        Op::Get(key) => request(vec![b"GET".to_vec(), key], Shape::Plain),
        Op::Delete(keys) => {
            let mut args = vec![b"DEL".to_vec()];
            args.extend(keys);
            request(args, Shape::Plain)
        }
        Op::Exists(key) => request(vec![b"EXISTS".to_vec(), key], Shape::Bool),
        Op::Incr { key, by } => {
            let (word, amount) = match by.checked_neg() {
                Some(down) if by < 0 => (b"DECRBY".to_vec(), down),
                _ => (b"INCRBY".to_vec(), by),
            };
            request(
                vec![word, key, amount.to_string().into_bytes()],
                Shape::Plain,
            )
        }
        Op::Expire { key, ttl_ms } => request(
            vec![b"PEXPIRE".to_vec(), key, ttl_ms.to_string().into_bytes()],
            Shape::Bool,
        ),
        Op::Ttl(key) => request(vec![b"TTL".to_vec(), key], Shape::Plain),
        Op::Persist(key) => request(vec![b"PERSIST".to_vec(), key], Shape::Bool),
        Op::Size => request(words(&[b"DBSIZE"]), Shape::Plain),
        Op::Clear => request(words(&[b"FLUSHDB"]), Shape::Plain),
        Op::Keys(pattern) => Plan::Walk(Walk::Keys {
            pattern,
            filter: None,
        }),
        Op::Values => Plan::Walk(Walk::Values),
        Op::Items => Plan::Walk(Walk::Items { filter: None }),
        Op::Find {
            target: FindTarget::Keys,
            matcher: Matcher::Glob(pattern),
        } => Plan::Walk(Walk::Keys {
            pattern: Some(pattern),
            filter: None,
        }),
        Op::Find {
            target: FindTarget::Keys,
            matcher,
        } => Plan::Walk(Walk::Keys {
            pattern: None,
            filter: Some(matcher),
        }),
        Op::Find {
            target: FindTarget::Values,
            matcher,
        } => Plan::Walk(Walk::Items {
            filter: Some(matcher),
        }),
        // Only the Redis dialect builds these, and Redis words are sent as typed.
        Op::Str(_) | Op::Key(_) => {
            return Err(CommandError::BadArgument(
                "this command is sent to the server as typed".into(),
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{self, grammar};

    fn plan_of(text: &str) -> Plan {
        let words = grammar::parse(text).unwrap().remove(0).words;
        plan(command::build(&words).unwrap()).unwrap()
    }

    fn request_of(text: &str) -> (Vec<String>, Shape) {
        match plan_of(text) {
            Plan::Request { args, shape } => (
                args.into_iter()
                    .map(|a| String::from_utf8(a).unwrap())
                    .collect(),
                shape,
            ),
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn single_key_commands_become_their_redis_equivalents() {
        assert_eq!(request_of("put a 1").0, ["SET", "a", "1"]);
        assert_eq!(request_of("put a 1 10").0, ["SET", "a", "1", "PX", "10000"]);
        assert_eq!(
            request_of("put a 1 px 250").0,
            ["SET", "a", "1", "PX", "250"]
        );
        assert_eq!(request_of("get a").0, ["GET", "a"]);
        assert_eq!(request_of("delete a b").0, ["DEL", "a", "b"]);
        assert_eq!(
            request_of("exists a"),
            (vec!["EXISTS".into(), "a".into()], Shape::Bool)
        );
        assert_eq!(request_of("incr a").0, ["INCRBY", "a", "1"]);
        assert_eq!(request_of("incr a -4").0, ["DECRBY", "a", "4"]);
        assert_eq!(request_of("decr a 3").0, ["DECRBY", "a", "3"]);
        assert_eq!(
            request_of("incr a -9223372036854775808").0,
            ["INCRBY", "a", "-9223372036854775808"]
        );
        assert_eq!(request_of("expire a 5").0, ["PEXPIRE", "a", "5000"]);
        assert_eq!(request_of("ttl a").0, ["TTL", "a"]);
        assert_eq!(request_of("persist a").1, Shape::Bool);
        assert_eq!(request_of("size").0, ["DBSIZE"]);
        assert_eq!(request_of("clear").0, ["FLUSHDB"]);
    }

    #[test]
    fn server_commands_map_to_info_config_save_and_rewrite() {
        assert_eq!(request_of("stats"), (vec!["INFO".into()], Shape::Info));
        assert_eq!(request_of("stats reset").0, ["CONFIG", "RESETSTAT"]);
        assert_eq!(request_of("config get").0, ["CONFIG", "GET", "*"]);
        assert_eq!(request_of("config get maxmemory").1, Shape::Config);
        assert_eq!(
            request_of("config set maxmemory 10").0,
            ["CONFIG", "SET", "maxmemory", "10"]
        );
        assert_eq!(request_of("save").0, ["SAVE"]);
        assert_eq!(request_of("compact").0, ["BGREWRITEAOF"]);
    }

    #[test]
    fn listings_and_searches_walk_with_scan() {
        assert!(matches!(
            plan_of("keys user:*"),
            Plan::Walk(Walk::Keys { pattern: Some(p), filter: None }) if p == b"user:*"
        ));
        assert!(matches!(
            plan_of("find -k -l a*"),
            Plan::Walk(Walk::Keys {
                pattern: Some(_),
                filter: None
            })
        ));
        assert!(matches!(
            plan_of("find -k -r ^a"),
            Plan::Walk(Walk::Keys {
                pattern: None,
                filter: Some(Matcher::Regex(_))
            })
        ));
        assert!(matches!(
            plan_of("find -v -l x*"),
            Plan::Walk(Walk::Items {
                filter: Some(Matcher::Glob(_))
            })
        ));
        assert!(matches!(plan_of("values"), Plan::Walk(Walk::Values)));
        assert!(matches!(plan_of("begin"), Plan::Session(Command::Begin)));
        assert!(
            plan(command::build(&grammar::parse("export x.json").unwrap()[0].words).unwrap())
                .is_err()
        );
    }
}
