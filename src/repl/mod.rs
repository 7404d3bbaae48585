//! The interactive prompt: rustyline for editing, history, completion and
//! hints; statements run through the same runner as scripts.

mod helper;

use crate::Db;
use crate::command::grammar;
use crate::runner::{Flow, Runner};
use crate::session::Session;
use helper::ReplHelper;
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{Config, Editor};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

pub use crate::runner::Settings;

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

/// Runs the prompt until `exit`, Ctrl-D or end of input; returns how many statements failed.
pub fn run(db: Arc<Db>, settings: Settings, banner: bool) -> Result<usize, ReadlineError> {
    let config = Config::builder()
        .max_history_size(HISTORY_SIZE)?
        .history_ignore_dups(true)?
        .auto_add_history(false)
        .build();
    let mut editor: Editor<ReplHelper, DefaultHistory> = Editor::with_config(config)?;
    editor.set_helper(Some(ReplHelper::new(db.clone())));
    let history = history_path();
    if let Some(path) = &history {
        // A missing history file is normal on first use.
        let _ = editor.load_history(path);
    }
    if banner {
        println!(
            "inmem {} on {} (type 'help' for commands, Tab to complete, Ctrl-D to leave)",
            env!("CARGO_PKG_VERSION"),
            db.data_dir().display()
        );
    }
    let mut runner = Runner::new(Session::new(db), settings, std::io::stdout());
    let mut pending = String::new();
    let mut line_no = 0;
    loop {
        let prompt = match (pending.is_empty(), runner.session().in_transaction()) {
            (false, _) => "...> ",
            (true, true) => "cmd(TX)>> ",
            (true, false) => "cmd>> ",
        };
        if let Some(helper) = editor.helper_mut() {
            helper.set_pending(&pending);
        }
        match editor.readline(prompt) {
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
