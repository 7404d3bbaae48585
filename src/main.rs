//! The `inmem` binary: parses the command line, opens the database, and picks
//! the front-end (REPL, script, or `-c`). Exit codes: 0 success, 1 a statement
//! failed, 2 the database or input could not be opened.

use clap::Parser;
use inmem::output::Format;
use inmem::runner::{Flow, Runner, Settings};
use inmem::session::Session;
use inmem::{Db, Options};
use std::io::{BufWriter, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

/// inmem: an in-memory key-value database with a REPL, scripts, aliases and transactions.
///
/// With a terminal on standard input, inmem opens an interactive prompt (`cmd>>`).
/// Otherwise it runs the statements it reads (from standard input, `-f FILE` or
/// `-c STATEMENTS`) one by one and prints one result per statement; errors go to
/// stderr as `line N: message`, and the exit code is 1 if any statement failed.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Cli {
    /// Data directory (holds alias.json); created when missing.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "./meta-data",
        env = "INMEM_DATA_DIR"
    )]
    data_dir: PathBuf,

    /// Run the statements in FILE instead of reading standard input.
    #[arg(
        short = 'f',
        long = "file",
        value_name = "FILE",
        conflicts_with = "command"
    )]
    file: Option<PathBuf>,

    /// Run these statements (separated by ';' or newlines) and exit.
    #[arg(short = 'c', long = "command", value_name = "STATEMENTS")]
    command: Option<String>,

    /// Print exactly one line of JSON per statement (errors as {"error": ...}).
    #[arg(long, conflicts_with = "echo")]
    json: bool,

    /// Stop at the first statement that fails.
    #[arg(long)]
    bail: bool,

    /// Print each statement before its result.
    #[arg(long)]
    echo: bool,

    /// Never colour output (NO_COLOR is honoured too).
    #[arg(long)]
    no_color: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.no_color {
        colored::control::set_override(false);
    }
    let db = match Db::open(Options::new(&cli.data_dir)) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("inmem: {e}");
            return ExitCode::from(2);
        }
    };
    let interactive = cli.command.is_none() && cli.file.is_none() && std::io::stdin().is_terminal();
    let format = match (cli.json, interactive) {
        (true, _) => Format::Json,
        (false, true) => Format::Human,
        (false, false) => Format::Plain,
    };
    let settings = Settings {
        format,
        bail: cli.bail,
        echo: cli.echo,
    };
    let failures = if interactive {
        let banner = std::io::stdout().is_terminal();
        match inmem::repl::run(db, settings, banner) {
            Ok(failures) => failures,
            Err(e) => {
                eprintln!("inmem: terminal error: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        let out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
        let mut runner = Runner::new(Session::new(db), settings, out);
        match (&cli.command, &cli.file) {
            (Some(text), _) => {
                runner.run_text(text, 1, None);
            }
            (None, Some(path)) => match std::fs::File::open(path) {
                Ok(file) => {
                    runner.run_reader(file, None);
                }
                Err(e) => {
                    eprintln!("inmem: cannot read {}: {e}", path.display());
                    return ExitCode::from(2);
                }
            },
            (None, None) => {
                runner.run_reader(std::io::stdin(), None);
            }
        }
        if runner.flush() == Flow::Stop {
            // Output closed early (a broken pipe): nothing more to say.
        }
        if let Some(discarded) = runner.session().end() {
            eprintln!("transaction rolled back at end of input: {discarded} writes discarded");
        }
        runner.failures()
    };
    if failures > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
