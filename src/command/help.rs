//! Help text, generated from the command table.

use super::spec::{self, COMMANDS, Group};
use crate::error::CommandError;

/// The list of all commands by group, followed by the aliases.
pub fn overview<'a>(aliases: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let width = COMMANDS
        .iter()
        .map(|s| s.name.len() + s.syntax.len() + 1)
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for group in Group::ALL {
        out.push_str(group.title());
        out.push_str(":\n");
        for spec in COMMANDS.iter().filter(|s| s.group == group) {
            let usage = format!("{} {}", spec.name, spec.syntax);
            out.push_str(&format!("  {usage:width$}  {}\n", spec.summary));
        }
    }
    let aliases: Vec<String> = aliases.map(|(n, b)| format!("{n} = {b}")).collect();
    if !aliases.is_empty() {
        out.push_str(&format!("Aliases: {}\n", aliases.join(", ")));
    }
    out.push_str("Type 'help <command>' for details and an example.");
    out
}

/// Syntax, summary and example of one command, or of the command an alias stands for.
pub fn topic(word: &str, alias: Option<&str>) -> Result<String, CommandError> {
    if let Some(spec) = spec::lookup(word) {
        let mut out = format!("{} {}\n  {}\n", spec.name, spec.syntax, spec.summary);
        if !spec.also.is_empty() {
            out.push_str(&format!("  Also: {}\n", spec.also.join(", ")));
        }
        out.push_str(&format!(
            "  Group: {}\n  Example: {}",
            spec.group.title(),
            spec.example
        ));
        return Ok(out);
    }
    match alias {
        Some(body) => Ok(format!("{word} is an alias for: {body}")),
        None => Err(CommandError::UnknownCommand(word.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overview_lists_every_command_and_the_aliases() {
        let text = overview([("set", "put")].into_iter());
        for spec in COMMANDS {
            assert!(text.contains(&format!("  {} ", spec.name)), "{}", spec.name);
        }
        assert!(text.contains("Aliases: set = put"));
    }

    #[test]
    fn topic_shows_syntax_and_example_or_fails_clearly() {
        let put = topic("PUT", None).unwrap();
        assert!(put.starts_with("put <key> <value>"), "{put}");
        assert!(put.contains("Example: put session:1 alice 3600"));
        assert!(topic("quit", None).unwrap().starts_with("exit"));
        assert_eq!(topic("k", Some("keys")).unwrap(), "k is an alias for: keys");
        assert!(topic("nope", None).is_err());
    }
}
