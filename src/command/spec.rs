//! The command table: every command described once, as data. Help text, REPL
//! completion and hints, and arity errors all read this table.

/// The group a command is listed under in `help`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// Reading and writing single keys.
    Keys,
    /// Time to live.
    Expiry,
    /// Listing and searching the whole keyspace.
    Search,
    /// begin/commit/rollback and batch.
    Transactions,
    /// Aliases for command words.
    Aliases,
    /// Snapshots, backups and JSON files.
    Persistence,
    /// Separate keyspaces.
    Namespaces,
    /// Statistics and settings.
    Server,
    /// Running files, help and leaving.
    Shell,
}

impl Group {
    /// All groups in the order `help` lists them.
    pub const ALL: [Group; 9] = [
        Group::Keys,
        Group::Expiry,
        Group::Search,
        Group::Namespaces,
        Group::Transactions,
        Group::Aliases,
        Group::Persistence,
        Group::Server,
        Group::Shell,
    ];

    /// The heading shown in `help`.
    pub fn title(self) -> &'static str {
        match self {
            Group::Keys => "Keys",
            Group::Expiry => "Expiry",
            Group::Search => "Listing and search",
            Group::Transactions => "Transactions",
            Group::Aliases => "Aliases",
            Group::Persistence => "Persistence",
            Group::Namespaces => "Namespaces",
            Group::Server => "Statistics and settings",
            Group::Shell => "Shell",
        }
    }
}

/// One command: its name, argument syntax, help text and arity.
#[derive(Debug)]
pub struct Spec {
    /// The command word, lowercase.
    pub name: &'static str,
    /// Other words that name the same command.
    pub also: &'static [&'static str],
    /// Where `help` lists it.
    pub group: Group,
    /// Argument syntax, as shown in help and hints.
    pub syntax: &'static str,
    /// One-line description.
    pub summary: &'static str,
    /// A statement that shows typical use.
    pub example: &'static str,
    /// Fewest arguments after the command word.
    pub min_args: usize,
    /// Most arguments, or `None` when unbounded.
    pub max_args: Option<usize>,
    /// True when the command changes the keyspace.
    pub writes: bool,
}

impl Spec {
    /// True when `n` arguments fit this command.
    pub fn accepts(&self, n: usize) -> bool {
        n >= self.min_args && self.max_args.is_none_or(|max| n <= max)
    }

    /// True when `word` names this command, ignoring case.
    pub fn is_named(&self, word: &str) -> bool {
        self.name.eq_ignore_ascii_case(word)
            || self.also.iter().any(|a| a.eq_ignore_ascii_case(word))
    }
}

/// Shorthand for table rows.
#[allow(clippy::too_many_arguments)]
const fn spec(
    name: &'static str,
    group: Group,
    syntax: &'static str,
    summary: &'static str,
    example: &'static str,
    min_args: usize,
    max_args: Option<usize>,
    writes: bool,
) -> Spec {
    Spec {
        name,
        also: &[],
        group,
        syntax,
        summary,
        example,
        min_args,
        max_args,
        writes,
    }
}

/// Every command inmem understands.
pub static COMMANDS: &[Spec] = &[
    spec(
        "put",
        Group::Keys,
        "<key> <value> [ttl_seconds | px <milliseconds>]",
        "Store a value; with a TTL the key expires after that time, without one it lives until deleted.",
        "put session:1 alice 3600",
        2,
        Some(4),
        true,
    ),
    spec(
        "get",
        Group::Keys,
        "<key>",
        "Show the value of a key, or (nil) when it is missing or expired.",
        "get session:1",
        1,
        Some(1),
        false,
    ),
    spec(
        "delete",
        Group::Keys,
        "<key> [key ...]",
        "Delete keys; answers how many existed.",
        "delete session:1 session:2",
        1,
        None,
        true,
    ),
    spec(
        "exists",
        Group::Keys,
        "<key>",
        "Answer true when the key exists (and has not expired).",
        "exists session:1",
        1,
        Some(1),
        false,
    ),
    spec(
        "incr",
        Group::Keys,
        "<key> [by]",
        "Add 1 (or `by`) to an integer value; a missing key counts as 0. Keeps the key's TTL.",
        "incr visits 10",
        1,
        Some(2),
        true,
    ),
    spec(
        "decr",
        Group::Keys,
        "<key> [by]",
        "Subtract 1 (or `by`) from an integer value; a missing key counts as 0. Keeps the key's TTL.",
        "decr stock:apples",
        1,
        Some(2),
        true,
    ),
    spec(
        "expire",
        Group::Expiry,
        "<key> <seconds>",
        "Set a key to expire after `seconds` (0 or less deletes it); answers false when the key is missing.",
        "expire session:1 300",
        2,
        Some(2),
        true,
    ),
    spec(
        "ttl",
        Group::Expiry,
        "<key>",
        "Seconds until the key expires: -1 when it never expires, -2 when it is missing.",
        "ttl session:1",
        1,
        Some(1),
        false,
    ),
    spec(
        "persist",
        Group::Expiry,
        "<key>",
        "Remove a key's expiry; answers true when there was one.",
        "persist session:1",
        1,
        Some(1),
        true,
    ),
    spec(
        "keys",
        Group::Search,
        "[glob]",
        "List keys in sorted order, all of them or those matching a glob (* ? [abc] [^a] [a-z] \\x).",
        "keys user:*",
        0,
        Some(1),
        false,
    ),
    spec(
        "values",
        Group::Search,
        "",
        "List all values, in the sorted order of their keys.",
        "values",
        0,
        Some(0),
        false,
    ),
    spec(
        "items",
        Group::Search,
        "",
        "List all key/value pairs, sorted by key.",
        "items",
        0,
        Some(0),
        false,
    ),
    spec(
        "size",
        Group::Search,
        "",
        "Count the keys.",
        "size",
        0,
        Some(0),
        false,
    ),
    spec(
        "find",
        Group::Search,
        "-k|-v [-l|-r] <pattern>",
        "Find keys (-k) or key/value pairs by value (-v): exact match, -l glob as in Redis KEYS, -r regex.",
        "find -k -r ^user:\\d+$",
        2,
        Some(3),
        false,
    ),
    spec(
        "clear",
        Group::Search,
        "",
        "Delete every key.",
        "clear",
        0,
        Some(0),
        true,
    ),
    spec(
        "begin",
        Group::Transactions,
        "",
        "Open a transaction: writes are held back until commit; reads see them.",
        "begin",
        0,
        Some(0),
        false,
    ),
    spec(
        "commit",
        Group::Transactions,
        "",
        "Apply the open transaction's writes, all of them or none.",
        "commit",
        0,
        Some(0),
        false,
    ),
    spec(
        "rollback",
        Group::Transactions,
        "",
        "Discard the open transaction's writes.",
        "rollback",
        0,
        Some(0),
        false,
    ),
    spec(
        "batch",
        Group::Transactions,
        "-c \"<statements>\" | -f <file or glob>",
        "Run statements as one transaction and show each result; if one fails, nothing is applied.",
        "batch -c \"put a 1; put b 2; get a\"",
        2,
        Some(2),
        false,
    ),
    spec(
        "alias",
        Group::Aliases,
        "<name> <command...>",
        "Make `name` stand for a command word (and any leading arguments); saved in alias.json.",
        "alias k keys",
        2,
        None,
        false,
    ),
    spec(
        "unalias",
        Group::Aliases,
        "<name>",
        "Remove an alias.",
        "unalias k",
        1,
        Some(1),
        false,
    ),
    spec(
        "show-alias",
        Group::Aliases,
        "",
        "List the aliases.",
        "show-alias",
        0,
        Some(0),
        false,
    ),
    spec(
        "reset-alias",
        Group::Aliases,
        "",
        "Forget all aliases and restore the default one (set = put).",
        "reset-alias",
        0,
        Some(0),
        false,
    ),
    spec(
        "use",
        Group::Namespaces,
        "<namespace>",
        "Switch this session to a namespace (created on its first write); the default is 0.",
        "use app1",
        1,
        Some(1),
        false,
    ),
    spec(
        "namespaces",
        Group::Namespaces,
        "",
        "List the namespaces that hold keys, each with its key count.",
        "namespaces",
        0,
        Some(0),
        false,
    ),
    spec(
        "dropns",
        Group::Namespaces,
        "<namespace>",
        "Delete a namespace and all its keys (the REPL asks first); answers how many keys it held.",
        "dropns app1",
        1,
        Some(1),
        true,
    ),
    spec(
        "stats",
        Group::Server,
        "[reset]",
        "Keys, hits, misses, evictions, expirations, memory, ops/s, log and snapshot state, latency per command; 'reset' zeroes the counters.",
        "stats",
        0,
        Some(1),
        false,
    ),
    spec(
        "timing",
        Group::Server,
        "on|off",
        "Print the time each statement takes after its result.",
        "timing on",
        1,
        Some(1),
        false,
    ),
    spec(
        "config",
        Group::Server,
        "get [name] | set <name> <value>",
        "Show settings, or change max-keys, maxmemory, eviction or latency-tracking at run time.",
        "config set eviction allkeys-lru",
        1,
        Some(3),
        false,
    ),
    spec(
        "save",
        Group::Persistence,
        "",
        "Write snapshot.db now and drop the log records it covers.",
        "save",
        0,
        Some(0),
        false,
    ),
    spec(
        "compact",
        Group::Persistence,
        "",
        "Compact the append-only log: snapshot, then drop every record the snapshot covers.",
        "compact",
        0,
        Some(0),
        false,
    ),
    spec(
        "backup",
        Group::Persistence,
        "<file>",
        "Write a consistent snapshot copy to a file while the database keeps serving.",
        "backup /var/backups/inmem-monday.db",
        1,
        Some(1),
        false,
    ),
    spec(
        "restore",
        Group::Persistence,
        "<file>",
        "Replace the whole content with a backup file, atomically and durably; answers the key count.",
        "restore /var/backups/inmem-monday.db",
        1,
        Some(1),
        false,
    ),
    spec(
        "export",
        Group::Persistence,
        "<file.json>",
        "Write this namespace as JSON {\"key\": {\"value\": ..., \"expires_at\": seconds|null}}; answers the key count.",
        "export data.json",
        1,
        Some(1),
        false,
    ),
    spec(
        "import",
        Group::Persistence,
        "<file.json>",
        "Load a JSON file (that format or plain {\"key\": \"value\"}) as one transaction; expired entries are skipped.",
        "import data.json",
        1,
        Some(1),
        false,
    ),
    spec(
        "source",
        Group::Shell,
        "<file>",
        "Run a file's statements one by one (not as one transaction), showing each result.",
        "source setup.cmd",
        1,
        Some(1),
        false,
    ),
    spec(
        "help",
        Group::Shell,
        "[command]",
        "List the commands, or show one command's syntax and an example.",
        "help put",
        0,
        Some(1),
        false,
    ),
    Spec {
        also: &["quit"],
        ..spec(
            "exit",
            Group::Shell,
            "",
            "Leave inmem (an open transaction is rolled back).",
            "exit",
            0,
            Some(0),
            false,
        )
    },
];

/// The top-level parts of a syntax line: words and whole `[...]`/`(...)`
/// groups, split at spaces outside brackets.
pub fn syntax_parts(syntax: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut current = String::new();
    for c in syntax.chars() {
        match c {
            '[' | '(' => depth += 1,
            ']' | ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if c == ' ' && depth == 0 {
            if !current.is_empty() {
                parts.push(std::mem::take(&mut current));
            }
        } else {
            current.push(c);
        }
    }
    if !current.is_empty() {
        parts.push(current);
    }
    parts
}

/// Longest command word; longer words name nothing.
const MAX_NAME: usize = 32;

/// Names to commands, hashed with a fixed-seed fast hasher: the table is
/// built from constants, so nobody can choose keys that collide.
type NameTable =
    std::collections::HashMap<&'static [u8], &'static Spec, foldhash::fast::FixedState>;

/// Every name and other name, lowercase, to its command.
fn by_name() -> &'static NameTable {
    static TABLE: std::sync::OnceLock<NameTable> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = NameTable::default();
        for spec in COMMANDS {
            for name in std::iter::once(&spec.name).chain(spec.also) {
                table.insert(name.as_bytes(), spec);
            }
        }
        table
    })
}

/// The command named by `word` (case-insensitive), if any.
pub fn lookup(word: &str) -> Option<&'static Spec> {
    lookup_bytes(word.as_bytes())
}

/// [`lookup`] of a statement word's bytes (names are ASCII, so a word that is
/// not UTF-8 names nothing).
pub fn lookup_bytes(word: &[u8]) -> Option<&'static Spec> {
    if word.len() > MAX_NAME {
        return None;
    }
    let mut buf = [0u8; MAX_NAME];
    let lower = &mut buf[..word.len()];
    lower.copy_from_slice(word);
    lower.make_ascii_lowercase();
    by_name().get(&*lower).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_ignores_case_and_knows_other_names() {
        assert_eq!(lookup("PuT").map(|s| s.name), Some("put"));
        assert_eq!(lookup("quit").map(|s| s.name), Some("exit"));
        assert!(lookup("nope").is_none());
    }

    #[test]
    fn every_example_names_its_command_and_fits_its_arity() {
        for spec in COMMANDS {
            let words: Vec<&str> = spec.example.split_whitespace().collect();
            assert!(spec.is_named(words[0]), "{}: {}", spec.name, spec.example);
            // Quoted examples hold spaces, so only check those without quotes.
            if !spec.example.contains('"') {
                assert!(spec.accepts(words.len() - 1), "{}", spec.example);
            }
        }
    }

    #[test]
    fn names_are_unique_and_every_group_is_used() {
        for (i, a) in COMMANDS.iter().enumerate() {
            for b in &COMMANDS[i + 1..] {
                assert!(!b.is_named(a.name), "{} twice", a.name);
            }
        }
        for group in Group::ALL {
            assert!(COMMANDS.iter().any(|s| s.group == group), "{group:?} empty");
        }
    }
}
