//! The line editor's helper: Tab completion of commands, aliases and keys, and
//! a grey hint with the argument syntax of the command being typed.

use super::Completions;
use crate::command::grammar;
use crate::command::spec::{self, COMMANDS};
use colored::Colorize;
use rustyline::completion::{Completer, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::{Context, Helper, Validator};
use std::borrow::Cow;
use std::sync::Arc;

/// Most keys offered by one Tab press.
const MAX_KEY_CANDIDATES: usize = 100;

/// Completion and hints, reading the command table, the aliases and the keyspace.
#[derive(Helper, Validator)]
pub struct ReplHelper {
    source: Arc<dyn Completions>,
    /// The lines already entered of a statement whose quote is still open
    /// (empty at a `cmd>>` prompt).
    pending: String,
    /// The session's namespace, whose keys Tab completes.
    namespace: String,
}

impl ReplHelper {
    /// A helper reading aliases and keys from `source`.
    pub fn new(source: Arc<dyn Completions>) -> Self {
        ReplHelper {
            source,
            pending: String::new(),
            namespace: crate::engine::DEFAULT_NAMESPACE.to_string(),
        }
    }

    /// Tells the helper which namespace the session is in.
    pub fn set_namespace(&mut self, namespace: &str) {
        namespace.clone_into(&mut self.namespace);
    }

    /// Tells the helper what was entered on earlier lines of the statement
    /// being typed, before it reads a continuation line.
    pub fn set_pending(&mut self, pending: &str) {
        pending.clone_into(&mut self.pending);
    }

    /// True when `before` (the line up to the cursor) is inside an open quote,
    /// counting the pending lines: there the text is part of a value, so
    /// neither command names, keys nor argument hints apply.
    fn in_open_quote(&self, before: &str) -> bool {
        if self.pending.is_empty() {
            grammar::is_incomplete(before)
        } else {
            grammar::is_incomplete(&format!("{}\n{before}", self.pending))
        }
    }
}

/// The part of `line` that belongs to the statement being typed (after the last `;`).
fn current_statement(line: &str) -> &str {
    line.rsplit(';').next().unwrap_or(line)
}

/// Where the word under the cursor starts, and whether it is the statement's first word.
fn word_start(line: &str) -> (usize, bool) {
    let start = line
        .rfind(|c: char| c.is_whitespace() || c == ';')
        .map_or(0, |i| i + 1);
    let first = line[..start]
        .rsplit(';')
        .next()
        .unwrap_or_default()
        .trim()
        .is_empty();
    (start, first)
}

/// Command names (and other names) and aliases starting with `prefix`, ignoring case.
pub fn command_candidates<'a>(prefix: &str, aliases: impl Iterator<Item = &'a str>) -> Vec<String> {
    let lower = prefix.to_ascii_lowercase();
    let mut names: Vec<String> = COMMANDS
        .iter()
        .flat_map(|s| std::iter::once(s.name).chain(s.also.iter().copied()))
        .map(str::to_string)
        .chain(aliases.map(str::to_string))
        .filter(|name| name.to_ascii_lowercase().starts_with(&lower))
        .collect();
    names.sort();
    names.dedup();
    names
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        if self.in_open_quote(before) {
            return Ok((pos, Vec::new()));
        }
        let (start, first) = word_start(before);
        let prefix = &before[start..];
        let command = current_statement(before).split_whitespace().next();
        let words: Vec<String> = if first || command.is_some_and(|c| c.eq_ignore_ascii_case("help"))
        {
            let aliases = self.source.aliases();
            command_candidates(prefix, aliases.iter().map(|(name, _)| name.as_str()))
        } else {
            self.source
                .keys_with_prefix(&self.namespace, prefix.as_bytes(), MAX_KEY_CANDIDATES)
                .iter()
                .map(|key| grammar::quote_word(key))
                .collect()
        };
        let pairs = words
            .into_iter()
            .map(|word| Pair {
                display: word.clone(),
                replacement: format!("{word} "),
            })
            .collect();
        Ok((start, pairs))
    }
}

/// The syntax still to type after `typed` arguments, or `None` when nothing is left.
pub fn remaining_syntax(syntax: &str, typed: usize) -> Option<String> {
    let rest: Vec<String> = spec::syntax_parts(syntax).into_iter().skip(typed).collect();
    (!rest.is_empty()).then(|| rest.join(" "))
}

impl Hinter for ReplHelper {
    type Hint = String;

    fn hint(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> Option<String> {
        if pos != line.len() || !line.ends_with(' ') || self.in_open_quote(line) {
            return None;
        }
        // Words as the grammar reads them, so a quoted word with spaces counts once.
        let statement = grammar::parse(current_statement(line)).ok()?.pop()?;
        let (first, args) = statement.words.split_first()?;
        let first = std::str::from_utf8(&first.bytes).ok()?;
        let typed = args.len();
        let spec = spec::lookup(first).or_else(|| {
            let aliases = self.source.aliases();
            let (_, body) = aliases.iter().find(|(name, _)| name == first)?;
            spec::lookup(body.split_whitespace().next()?)
        })?;
        remaining_syntax(spec.syntax, typed)
    }
}

impl Highlighter for ReplHelper {
    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        Cow::Owned(hint.dimmed().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_located_per_statement() {
        assert_eq!(word_start("pu"), (0, true));
        assert_eq!(word_start("put a"), (4, false));
        assert_eq!(word_start("put a 1; ge"), (9, true));
        assert_eq!(word_start("put a 1;ge"), (8, true));
    }

    #[test]
    fn commands_and_aliases_complete_ignoring_case() {
        assert_eq!(command_candidates("G", std::iter::empty()), ["get"]);
        // Sorted, aliases among the commands; the table grows, so check the
        // members that matter rather than the whole list.
        let e = command_candidates("e", ["ee"].into_iter());
        assert!(
            e.is_sorted() && e.iter().all(|n| n.starts_with('e')),
            "{e:?}"
        );
        for name in ["ee", "exists", "exit", "expire"] {
            assert!(e.iter().any(|n| n == name), "{name} missing from {e:?}");
        }
        assert_eq!(command_candidates("q", std::iter::empty()), ["quit"]);
    }

    #[test]
    fn hints_drop_the_arguments_already_typed() {
        let put = spec::lookup("put").unwrap().syntax;
        assert_eq!(
            remaining_syntax(put, 0).as_deref(),
            Some("<key> <value> [ttl_seconds | px <milliseconds>]")
        );
        assert_eq!(
            remaining_syntax(put, 2).as_deref(),
            Some("[ttl_seconds | px <milliseconds>]")
        );
        assert_eq!(remaining_syntax(put, 3), None);
        assert_eq!(remaining_syntax("", 0), None);
    }
}
