//! The alias table: short names for command words, saved in `alias.json`.

use crate::command::grammar::{self, Word};
use crate::command::spec;
use crate::error::{CommandError, OpenError};
use crate::fsutil;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// File name of the alias table inside the data directory.
pub const FILE_NAME: &str = "alias.json";

/// Longest chain of aliases naming aliases; loops are refused, so this only bounds work.
const MAX_DEPTH: usize = 16;

/// Aliases by name, and the file they are saved in.
#[derive(Debug)]
pub struct Aliases {
    map: BTreeMap<String, String>,
    path: PathBuf,
    /// Counts changes to the table; readable without the table's lock (see
    /// [`Aliases::version`]).
    version: Arc<AtomicU64>,
}

fn defaults() -> BTreeMap<String, String> {
    BTreeMap::from([("set".to_string(), "put".to_string())])
}

impl Aliases {
    /// Loads `alias.json` from `dir`, or starts with the defaults when it does not exist.
    pub fn load(dir: &Path) -> Result<Self, OpenError> {
        let path = dir.join(FILE_NAME);
        let fail = |reason: String| OpenError::Aliases {
            path: path.clone(),
            reason,
        };
        let map = match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str::<BTreeMap<String, String>>(&text).map_err(|e| {
                fail(format!(
                    "line {}, column {}: {} (expected an object of alias name to command text)",
                    e.line(),
                    e.column(),
                    e
                ))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => defaults(),
            Err(e) => return Err(fail(e.to_string())),
        };
        let mut aliases = Aliases {
            map: BTreeMap::new(),
            path: path.clone(),
            version: Arc::default(),
        };
        for (name, body) in map {
            aliases
                .check(&name, &body)
                .map_err(|e| fail(format!("alias '{name}': {e}")))?;
            aliases.map.insert(name, body);
        }
        Ok(aliases)
    }

    /// A counter that moves on (after the change) whenever the table changes:
    /// a reader that saw one value may keep what it learned from the table
    /// until the counter moves, without taking the table's lock.
    pub fn version(&self) -> Arc<AtomicU64> {
        self.version.clone()
    }

    /// The text `name` stands for.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.map.get(name).map(String::as_str)
    }

    /// All aliases, sorted by name.
    pub fn list(&self) -> impl Iterator<Item = (&str, &str)> {
        self.map.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Defines or replaces an alias and saves the table.
    pub fn define(&mut self, name: &str, body: &str) -> Result<(), CommandError> {
        self.check(name, body)?;
        let old = self.map.insert(name.to_string(), body.to_string());
        self.save_or(|map| match old {
            Some(old) => map.insert(name.to_string(), old),
            None => map.remove(name),
        })
    }

    /// Removes an alias and saves the table.
    pub fn remove(&mut self, name: &str) -> Result<(), CommandError> {
        let old = self
            .map
            .remove(name)
            .ok_or_else(|| CommandError::Alias(format!("no alias named '{name}'")))?;
        self.save_or(|map| map.insert(name.to_string(), old))
    }

    /// Restores the default aliases and saves the table.
    pub fn reset(&mut self) -> Result<(), CommandError> {
        let old = std::mem::replace(&mut self.map, defaults());
        self.save_or(|map| {
            *map = old;
            None
        })
    }

    /// True when the statement's first word is an alias.
    pub fn starts_with_alias<W: AsRef<[u8]>>(&self, words: &[W]) -> bool {
        words
            .first()
            .and_then(|w| std::str::from_utf8(w.as_ref()).ok())
            .is_some_and(|name| self.map.contains_key(name))
    }

    /// Replaces a leading alias word with the words it stands for, repeatedly.
    pub fn expand(&self, mut words: Vec<Word>) -> Vec<Word> {
        for _ in 0..MAX_DEPTH {
            let Some(body) = words
                .first()
                .and_then(|w| std::str::from_utf8(&w.bytes).ok())
                .and_then(|name| self.get(name))
            else {
                break;
            };
            let offset = words[0].offset;
            let mut expanded: Vec<Word> = body_words(body)
                .into_iter()
                .map(|bytes| Word { bytes, offset })
                .collect();
            expanded.extend(words.drain(1..));
            words = expanded;
        }
        words
    }

    /// Refuses names that shadow commands, bodies that name nothing, and loops.
    fn check(&self, name: &str, body: &str) -> Result<(), CommandError> {
        let refuse = |message: String| Err(CommandError::Alias(message));
        if name.is_empty()
            || name
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || "\"';#".contains(c))
        {
            return refuse(format!(
                "'{name}' is not a valid alias name (use one word without quotes, ';' or '#')"
            ));
        }
        if spec::lookup(name).is_some() {
            return refuse(format!("'{name}' is a command; an alias cannot shadow it"));
        }
        let mut chain = vec![name.to_string()];
        let mut next = body_words(body);
        loop {
            let Some(first) = next.first() else {
                return refuse(format!("alias '{name}' needs a command to stand for"));
            };
            let word = String::from_utf8_lossy(first).into_owned();
            if spec::lookup(&word).is_some() {
                return Ok(());
            }
            chain.push(word.clone());
            if word == name || chain.len() > MAX_DEPTH {
                return refuse(format!("alias loop: {}", chain.join(" -> ")));
            }
            match self.get(&word) {
                Some(body) => next = body_words(body),
                None => {
                    return refuse(format!("'{word}' is not a command or an alias"));
                }
            }
        }
    }

    /// Saves the table; if saving fails, undoes the in-memory change with `undo`.
    fn save_or(
        &mut self,
        undo: impl FnOnce(&mut BTreeMap<String, String>) -> Option<String>,
    ) -> Result<(), CommandError> {
        // Every caller changed the table already; if saving fails, the undo
        // is a change too.
        self.version.fetch_add(1, Ordering::Release);
        let json = serde_json::to_string_pretty(&self.map).unwrap_or_default();
        match fsutil::write_atomic(&self.path, format!("{json}\n").as_bytes()) {
            Ok(()) => Ok(()),
            Err(e) => {
                undo(&mut self.map);
                Err(CommandError::Save {
                    path: self.path.clone(),
                    reason: e.to_string(),
                })
            }
        }
    }
}

/// The words of an alias body (bodies are stored in the statement language).
fn body_words(body: &str) -> Vec<Vec<u8>> {
    grammar::parse(body)
        .ok()
        .and_then(|statements| statements.into_iter().next())
        .map(|s| s.words.into_iter().map(|w| w.bytes).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<Word> {
        grammar::parse(text).unwrap().remove(0).words
    }

    fn texts(words: &[Word]) -> Vec<String> {
        words
            .iter()
            .map(|w| String::from_utf8(w.bytes.clone()).unwrap())
            .collect()
    }

    #[test]
    fn fresh_table_has_set_for_put_and_is_saved_on_change() {
        let dir = tempfile::tempdir().unwrap();
        let mut aliases = Aliases::load(dir.path()).unwrap();
        assert_eq!(aliases.get("set"), Some("put"));
        assert!(!dir.path().join(FILE_NAME).exists());
        aliases.define("k", "keys").unwrap();
        let again = Aliases::load(dir.path()).unwrap();
        assert_eq!(again.get("k"), Some("keys"));
        assert_eq!(again.get("set"), Some("put"));
    }

    #[test]
    fn expansion_appends_the_rest_and_follows_chains() {
        let dir = tempfile::tempdir().unwrap();
        let mut aliases = Aliases::load(dir.path()).unwrap();
        aliases.define("fk", "find -k").unwrap();
        aliases.define("fkl", "fk -l").unwrap();
        let out = aliases.expand(words("fkl user:*"));
        assert_eq!(texts(&out), ["find", "-k", "-l", "user:*"]);
        assert!(out.iter().all(|w| w.offset == 0 || w.offset == 4));
    }

    #[test]
    fn shadowing_loops_and_unknown_targets_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut aliases = Aliases::load(dir.path()).unwrap();
        let err = aliases.define("GET", "keys").unwrap_err().to_string();
        assert!(err.contains("cannot shadow"), "{err}");
        let err = aliases.define("x", "nothing").unwrap_err().to_string();
        assert!(err.contains("not a command or an alias"), "{err}");
        aliases.define("a", "keys").unwrap();
        aliases.define("b", "a").unwrap();
        // Redefining `a` in terms of `b` would close a loop.
        let err = aliases.define("a", "b").unwrap_err().to_string();
        assert_eq!(err, "alias loop: a -> b -> a");
        assert_eq!(aliases.get("a"), Some("keys"));
        let err = aliases.define("two words", "keys").unwrap_err().to_string();
        assert!(err.contains("not a valid alias name"), "{err}");
    }

    #[test]
    fn remove_and_reset() {
        let dir = tempfile::tempdir().unwrap();
        let mut aliases = Aliases::load(dir.path()).unwrap();
        aliases.define("k", "keys").unwrap();
        aliases.remove("k").unwrap();
        assert!(aliases.remove("k").is_err());
        aliases.define("v", "values").unwrap();
        aliases.reset().unwrap();
        let names: Vec<_> = Aliases::load(dir.path())
            .unwrap()
            .list()
            .map(|(n, _)| n.to_string())
            .collect();
        assert_eq!(names, ["set"]);
    }

    #[test]
    fn malformed_or_looping_file_is_an_error_naming_the_place() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "{\"k\": \"keys\",\n  oops}").unwrap();
        let err = Aliases::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("alias.json: line 2, column 3"), "{err}");
        std::fs::write(dir.path().join(FILE_NAME), r#"{"a": "b", "b": "a"}"#).unwrap();
        let err = Aliases::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("alias"), "{err}");
        std::fs::write(dir.path().join(FILE_NAME), r#"{"put": "get"}"#).unwrap();
        let err = Aliases::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("cannot shadow"), "{err}");
    }

    #[test]
    fn failed_save_keeps_the_table_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let mut aliases = Aliases::load(dir.path()).unwrap();
        // A directory where the file should be makes the rename fail.
        std::fs::create_dir(dir.path().join(FILE_NAME)).unwrap();
        let err = aliases.define("k", "keys").unwrap_err();
        assert!(matches!(err, CommandError::Save { .. }), "{err}");
        assert_eq!(aliases.get("k"), None);
    }
}
