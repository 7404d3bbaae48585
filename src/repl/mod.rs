//! The interactive prompt: rustyline for editing, history, completion and
//! hints; statements run through the same runner as scripts.

mod helper;

use crate::Db;
use crate::command::grammar;
use crate::engine::DEFAULT_NAMESPACE;
use crate::runner::{Acknowledging, Backend, Flow, Runner};
use helper::ReplHelper;
use rustyline::ExternalPrinter as _;
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{Config, Editor};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

pub use crate::runner::Settings;

/// What Tab completion and hints read: the aliases and the keys of a namespace.
/// Called while a line is edited, so answers must be quick and may be partial.
pub trait Completions: Send + Sync {
    /// Every alias with the text it stands for, sorted by name.
    fn aliases(&self) -> Vec<(String, String)>;
    /// Up to `max` keys of `namespace` starting with `prefix`, sorted.
    fn keys_with_prefix(&self, namespace: &str, prefix: &[u8], max: usize) -> Vec<Vec<u8>>;
}

impl Completions for Db {
    fn aliases(&self) -> Vec<(String, String)> {
        Db::aliases(self)
            .list()
            .map(|(name, body)| (name.to_string(), body.to_string()))
            .collect()
    }

    fn keys_with_prefix(&self, namespace: &str, prefix: &[u8], max: usize) -> Vec<Vec<u8>> {
        self.engine().keys_with_prefix(namespace, prefix, max)
    }
}

/// History entries kept across runs.
const HISTORY_SIZE: usize = 10_000;

/// Where history is kept: `INMEM_HISTFILE`, else `~/.inmem_history`; an empty
/// value or `/dev/null` turns it off.
fn history_path() -> Option<PathBuf> {
    match std::env::var_os("INMEM_HISTFILE") {
        Some(path) if path.is_empty() || path == "/dev/null" => None,
        Some(path) => Some(PathBuf::from(path)),
        None => std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".inmem_history")),
    }
}

/// The prompt: the namespace when it is not the default, and `(TX)` inside a transaction.
fn prompt<B: Backend>(session: &B) -> String {
    let namespace = match session.namespace() {
        DEFAULT_NAMESPACE => String::new(),
        other => format!("[{other}]"),
    };
    let transaction = if session.in_transaction() { "(TX)" } else { "" };
    format!("cmd{namespace}{transaction}>> ")
}

/// Asks a yes/no question on the terminal (between edited lines, so plain stdin works).
fn confirm(question: &str) -> bool {
    print!("{question} [y/N] ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    if std::io::stdin().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// Runs the prompt in `session` (local or remote) until `exit`, Ctrl-D or end
/// of input; returns how many statements failed.
pub fn run<B: Backend>(
    session: B,
    settings: Settings,
    banner: bool,
) -> Result<usize, ReadlineError> {
    let config = Config::builder()
        .max_history_size(HISTORY_SIZE)?
        .history_ignore_dups(true)?
        .auto_add_history(false)
        .build();
    let mut editor: Editor<ReplHelper, DefaultHistory> = Editor::with_config(config)?;
    editor.set_helper(Some(ReplHelper::new(session.completions())));
    let history = history_path();
    if let Some(path) = &history {
        // A missing history file is normal on first use.
        let _ = editor.load_history(path);
    }
    if banner {
        println!(
            "inmem {} {} (type 'help' for commands, Tab to complete, Ctrl-D to leave)",
            env!("CARGO_PKG_VERSION"),
            session.describe()
        );
    }
    // Messages from background threads are printed above the line being edited.
    if let Some(db) = session.database()
        && let Ok(printer) = editor.create_external_printer()
    {
        let printer = Mutex::new(printer);
        db.set_notifier(move |message| {
            let mut printer = printer.lock().unwrap_or_else(|p| p.into_inner());
            let _ = printer.print(format!("inmem: {message}"));
        });
    }
    let mut session = session;
    session.set_confirm(Box::new(confirm));
    let out = Acknowledging::for_backend(std::io::stdout(), &session);
    let mut runner = Runner::new(session, settings, out);
    let mut pending = String::new();
    let mut line_no = 0;
    loop {
        let prompt = if pending.is_empty() {
            prompt(runner.session())
        } else {
            "...> ".to_string()
        };
        if let Some(helper) = editor.helper_mut() {
            helper.set_pending(&pending);
            helper.set_namespace(runner.session().namespace());
        }
        match editor.readline(&prompt) {
            Ok(line) => {
                line_no += 1;
                if !pending.is_empty() {
                    pending.push('\n');
                }
                pending.push_str(&line);
                if grammar::is_incomplete(&pending) {
                    continue;
                }
                let text = std::mem::take(&mut pending);
                if !text.trim().is_empty() {
                    let _ = editor.add_history_entry(text.as_str());
                    if let Some(path) = &history {
                        let _ = editor.append_history(path);
                    }
                }
                let first_line = line_no - text.matches('\n').count();
                let flow = runner.run_text(&text, first_line, None);
                runner.flush();
                if flow == Flow::Stop {
                    break;
                }
            }
            Err(ReadlineError::Interrupted) => pending.clear(),
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e),
        }
    }
    if let Some(discarded) = runner.session().end() {
        println!("(transaction rolled back: {discarded} writes discarded)");
    }
    let _ = std::io::stdout().flush();
    Ok(runner.failures())
}
