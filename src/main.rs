//! The `inmem` binary: parses the command line, opens the database, and picks
//! the front-end (REPL, script, `-c`) or a maintenance command (`check`,
//! `repair`). Exit codes: 0 success; 1 a statement failed (or `check` found
//! damage); 2 the database or input could not be opened; 3 the log failed
//! under `--appendfsync always`, so inmem stopped rather than acknowledge an
//! unlogged write; 130/143 stopped by SIGINT/SIGTERM after flushing the log.

use clap::{Parser, Subcommand};
use inmem::engine::{Eviction, Limits};
use inmem::output::Format;
use inmem::persist::log::Fsync;
use inmem::persist::recovery::{self, FileState};
use inmem::runner::{Acknowledging, Flow, Runner, Settings};
use inmem::session::Session;
use inmem::{Db, Options};
use std::io::{BufWriter, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// mimalloc: faster than the system allocator for the many small, short-lived
/// allocations of parsing and serving, and without glibc's arena contention.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

unsafe extern "C" {
    /// mimalloc's `mi_collect`: frees the calling thread's empty pages and,
    /// with `force`, returns every free range of mimalloc's arenas to the
    /// operating system at once, whichever thread freed it.
    fn mi_collect(force: bool);
}

/// Returns the memory mimalloc keeps after frees (a burst's log buffers,
/// outgrown tables) to the operating system. mimalloc does that by itself
/// only a second after a free and only when some thread calls into it again,
/// which an idle database never does; the database calls this once the log
/// goes quiet after writes.
fn release_memory() {
    // SAFETY: `mi_collect` takes no pointers and only walks mimalloc's own
    // structures, which it synchronizes itself; any thread may call it at
    // any time.
    unsafe { mi_collect(true) }
}

/// inmem: an in-memory key-value database with a REPL, scripts, aliases,
/// transactions and durable storage.
///
/// With a terminal on standard input, inmem opens an interactive prompt (`cmd>>`).
/// Otherwise it runs the statements it reads (from standard input, `-f FILE` or
/// `-c STATEMENTS`) one by one and prints one result per statement; errors go to
/// stderr as `line N: message`, and the exit code is 1 if any statement failed.
/// Every committed write is logged to the data directory before its reply is shown.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Cli {
    /// Data directory (snapshot.db, log segments, alias.json); created when missing.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "./meta-data",
        env = "INMEM_DATA_DIR",
        global = true
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

    /// When the log is fsynced: always (before each reply), everysec, or no.
    #[arg(long, value_enum, default_value_t = Fsync::Everysec, value_name = "POLICY", global = true)]
    appendfsync: Fsync,

    /// Seconds between background snapshots when something changed (0 turns them off).
    #[arg(long, default_value_t = 60, value_name = "SECONDS", global = true)]
    snapshot_interval: u64,

    /// Compact the log (snapshot, then drop covered records) once it grows past this
    /// many bytes; accepts k, m and g suffixes (0 turns it off).
    #[arg(long, default_value = "64m", value_parser = parse_size, value_name = "BYTES", global = true)]
    compact_threshold: u64,

    /// Refuse to start when the log ends in a torn record, instead of cutting it.
    #[arg(long, global = true)]
    strict_recovery: bool,

    /// Namespace to start in (the default namespace is 0).
    #[arg(long, value_name = "NAME", default_value = "0")]
    namespace: String,

    /// Most keys held across namespaces (0: no limit); see --eviction.
    #[arg(long, default_value_t = 0, value_name = "N", global = true)]
    max_keys: u64,

    /// Most memory for keys and values, estimated (0: no limit); accepts k, m and g.
    #[arg(long, default_value = "0", value_parser = parse_size, value_name = "BYTES", global = true)]
    maxmemory: u64,

    /// What to do at a limit: noeviction (refuse writes), allkeys-lru, volatile-lru,
    /// allkeys-random or volatile-ttl.
    #[arg(long, default_value = "noeviction", value_parser = Eviction::parse, value_name = "POLICY", global = true)]
    eviction: Eviction,

    /// Write values into command.log too (they are hidden by default: they may be secrets).
    #[arg(long, global = true)]
    log_values: bool,

    /// Run the REPL or the script against a Redis-protocol server at HOST:PORT
    /// (inmem serve, redis-server, ...) instead of a local database; aliases
    /// still come from --data-dir.
    #[arg(long, value_name = "HOST:PORT")]
    connect: Option<String>,

    /// Password for --connect (AUTH); ignored without --connect.
    #[arg(long, env = "INMEM_PASSWORD", value_name = "PASSWORD")]
    password: Option<String>,

    /// Diagnostics on stderr: off, error, warn, info, debug or trace.
    #[arg(long, default_value = "warn", value_name = "LEVEL", global = true)]
    log_level: String,

    #[command(subcommand)]
    action: Option<Action>,
}

/// Maintenance commands on a data directory that no other process is using.
#[derive(Debug, Subcommand)]
enum Action {
    /// Verify snapshot.db and every log segment; report each file (exit 1 on damage).
    Check,
    /// Keep a copy of each damaged file, then cut it at its first bad record.
    Repair,
    /// Serve the database over RESP (Redis's protocol, for any Redis client) and,
    /// with --http-port, the HTTP JSON API and dashboard. Stops cleanly on
    /// SHUTDOWN, SIGINT or SIGTERM (exit 0).
    Serve(ServeArgs),
}

/// Where and how `inmem serve` listens.
#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Address to listen on; anything but loopback without --requirepass prints a warning.
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR")]
    bind: String,

    /// RESP port (0 picks a free port; the chosen one is printed on stderr).
    #[arg(long, default_value_t = 6380)]
    port: u16,

    /// Password clients must give (AUTH, HELLO ... AUTH, or an HTTP bearer token).
    #[arg(long, env = "INMEM_REQUIREPASS", value_name = "PASSWORD")]
    requirepass: Option<String>,

    /// Most simultaneous RESP clients; others get an error and are disconnected.
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    maxclients: usize,

    /// Also serve the HTTP JSON API and dashboard on this port (0 picks a free port).
    #[arg(long, value_name = "PORT")]
    http_port: Option<u16>,

    /// Threads serving connections (default: one per core but one, at least 1).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
}

fn parse_size(text: &str) -> Result<u64, String> {
    let lower = text.trim().to_ascii_lowercase();
    let (digits, unit) = match lower.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => lower.split_at(i),
        None => (lower.as_str(), ""),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("'{text}' is not a size"))?;
    let scale = match unit.trim_end_matches('b') {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        _ => return Err(format!("'{text}': unknown unit (use k, m or g)")),
    };
    n.checked_mul(scale)
        .ok_or_else(|| format!("'{text}' is too large"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.no_color {
        colored::control::set_override(false);
    }
    if let Err(e) = inmem::cmdlog::init_diagnostics(&cli.log_level) {
        eprintln!("inmem: --log-level: {e}");
        return ExitCode::from(2);
    }
    match cli.action {
        Some(Action::Check) => return check(&cli),
        Some(Action::Repair) => return repair(&cli),
        Some(Action::Serve(_)) | None => {}
    }
    if let Some(target) = &cli.connect {
        return connect(&cli, target);
    }
    let mut options = Options::new(&cli.data_dir);
    options.release_memory = Some(release_memory);
    options.persistence.fsync = cli.appendfsync;
    options.persistence.snapshot_interval = Duration::from_secs(cli.snapshot_interval);
    options.persistence.compact_threshold = cli.compact_threshold;
    options.persistence.strict_recovery = cli.strict_recovery;
    if let Some(log) = options.command_log.as_mut() {
        log.log_values = cli.log_values;
    }
    options.limits = Limits {
        max_keys: Some(cli.max_keys).filter(|n| *n > 0),
        maxmemory: Some(cli.maxmemory).filter(|n| *n > 0),
        policy: cli.eviction,
    };
    let db = match Db::open(options) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("inmem: {e}");
            return ExitCode::from(2);
        }
    };
    report_recovery(&db);
    if let Some(Action::Serve(args)) = &cli.action {
        return serve(db, args);
    }
    stop_cleanly_on_signals(db.clone());
    let failures = run(&cli, db.clone());
    if let Some(fatal) = db.fatal() {
        eprintln!("inmem: stopping: {fatal}; the last reply was not acknowledged");
        return ExitCode::from(3);
    }
    if let Err(e) = db.close() {
        eprintln!("inmem: {e}");
        return ExitCode::from(3);
    }
    match failures {
        Ok(0) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(code) => code,
    }
}

/// Runs the chosen front-end; returns the number of failed statements.
fn run(cli: &Cli, db: Arc<Db>) -> Result<usize, ExitCode> {
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
    let mut session = Session::new(db.clone());
    if let Err(e) = session.use_namespace(&cli.namespace) {
        eprintln!("inmem: --namespace: {e}");
        return Err(ExitCode::from(2));
    }
    if interactive {
        let banner = std::io::stdout().is_terminal();
        // A mistyped statement at the prompt is not a failure of the session.
        return inmem::repl::run(session, settings, banner)
            .map(|_failures| 0)
            .map_err(|e| {
                eprintln!("inmem: terminal error: {e}");
                ExitCode::from(2)
            });
    }
    let out = BufWriter::with_capacity(
        1 << 16,
        Acknowledging::new(std::io::stdout().lock(), db.clone()),
    );
    let mut runner = Runner::new(session, settings, out);
    match (&cli.command, &cli.file) {
        (Some(text), _) => {
            runner.run_text(text, 1, None);
        }
        (None, Some(path)) => match std::fs::File::open(path) {
            Ok(file) => {
                runner.run_reader_ahead(file, None);
            }
            Err(e) => {
                eprintln!("inmem: cannot read {}: {e}", path.display());
                return Err(ExitCode::from(2));
            }
        },
        (None, None) => {
            runner.run_reader_ahead(std::io::stdin(), None);
        }
    }
    // A failed flush means stdout closed early (a broken pipe): nothing more to say.
    let _ = runner.flush() == Flow::Stop;
    if let Some(discarded) = runner.session().end() {
        eprintln!("transaction rolled back at end of input: {discarded} writes discarded");
    }
    Ok(runner.failures())
}

/// One summary line on stderr when there was anything to recover, plus warnings.
fn report_recovery(db: &Db) {
    let report = db.recovery();
    for warning in &report.warnings {
        eprintln!("inmem: warning: {warning}");
    }
    if report.bytes > 0 {
        eprintln!(
            "inmem: recovered {} keys in {} ms ({} from snapshot.db, {} log records replayed, {} bytes read)",
            db.engine().stored_len(),
            report.millis,
            report.snapshot_keys,
            report.records,
            report.bytes
        );
    }
}

/// SIGINT and SIGTERM flush the log before the process ends.
fn stop_cleanly_on_signals(db: Arc<Db>) {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
        return;
    };
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            let code = if let Err(e) = db.close() {
                eprintln!("inmem: {e}");
                3
            } else {
                128 + signal
            };
            std::process::exit(code);
        }
    });
}

/// Runs the network server until it is stopped, then closes the database.
fn serve(db: Arc<Db>, args: &ServeArgs) -> ExitCode {
    let settings = inmem::server::ServeSettings {
        bind: args.bind.clone(),
        port: args.port,
        requirepass: args.requirepass.clone().filter(|p| !p.is_empty()),
        maxclients: args.maxclients.max(1),
        http_port: args.http_port,
        threads: args
            .threads
            .unwrap_or_else(inmem::server::default_threads)
            .max(1),
    };
    let served = inmem::server::run(db.clone(), settings);
    let closed = db.close();
    match (served, closed) {
        (Ok(()), Ok(())) => ExitCode::SUCCESS,
        (Err(inmem::server::ServeError::LogFailed), _) => {
            eprintln!("inmem: {}", inmem::server::ServeError::LogFailed);
            ExitCode::from(3)
        }
        (Err(e), _) => {
            eprintln!("inmem: {e}");
            ExitCode::from(2)
        }
        (Ok(()), Err(e)) => {
            eprintln!("inmem: {e}");
            ExitCode::from(3)
        }
    }
}

fn check(cli: &Cli) -> ExitCode {
    let files = recovery::check(&cli.data_dir);
    if files.is_empty() {
        println!("{}: no snapshot or log files", cli.data_dir.display());
    }
    let mut damaged = false;
    for (path, state) in files {
        match state {
            FileState::Good(summary) => println!("{}: ok: {summary}", path.display()),
            FileState::Torn(offset, reason) => println!(
                "{}: torn last record at offset {offset} ({reason}); start-up will cut it",
                path.display()
            ),
            FileState::Damaged(offset, reason) => {
                damaged = true;
                println!("{}: DAMAGED at offset {offset}: {reason}", path.display());
            }
            FileState::Unsettled(summary) => println!("{}: {summary}", path.display()),
        }
    }
    if damaged {
        println!("run 'inmem repair' to keep a copy of each damaged file and cut it at the damage");
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn repair(cli: &Cli) -> ExitCode {
    let _lock = match inmem::persist::lock::acquire(&cli.data_dir) {
        Ok(lock) => lock,
        Err(e) => {
            eprintln!("inmem: {e}");
            return ExitCode::from(2);
        }
    };
    match recovery::repair(&cli.data_dir) {
        Ok(actions) if actions.is_empty() => {
            println!("{}: nothing to repair", cli.data_dir.display());
            ExitCode::SUCCESS
        }
        Ok(actions) => {
            for action in actions {
                println!("{action}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("inmem: repair failed: {e}");
            ExitCode::from(2)
        }
    }
}

/// `--connect`: the REPL or the script against a remote server.
fn connect(cli: &Cli, target: &str) -> ExitCode {
    let aliases = std::fs::create_dir_all(&cli.data_dir)
        .map_err(|e| format!("cannot use data directory {}: {e}", cli.data_dir.display()))
        .and_then(|()| inmem::alias::Aliases::load(&cli.data_dir).map_err(|e| e.to_string()));
    let aliases = match aliases {
        Ok(aliases) => aliases,
        Err(e) => {
            eprintln!("inmem: {e}");
            return ExitCode::from(2);
        }
    };
    let password = cli.password.clone().filter(|p| !p.is_empty());
    let mut session = match inmem::remote::RemoteSession::connect(target, password, aliases) {
        Ok(session) => session,
        Err(e) => {
            eprintln!("inmem: cannot connect to {target}: {e}");
            return ExitCode::from(2);
        }
    };
    if cli.namespace != inmem::engine::DEFAULT_NAMESPACE
        && let Err(e) = session.use_namespace(&cli.namespace)
    {
        eprintln!("inmem: --namespace: {e}");
        return ExitCode::from(2);
    }
    let front = inmem::runner::FrontEnd {
        script: match (&cli.command, &cli.file) {
            (Some(text), _) => Some(inmem::runner::Script::Text(text)),
            (None, Some(path)) => Some(inmem::runner::Script::File(path)),
            (None, None) => None,
        },
        json: cli.json,
        bail: cli.bail,
        echo: cli.echo,
    };
    match inmem::runner::run_front_end(session, front) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(e) => {
            eprintln!("inmem: {e}");
            ExitCode::from(2)
        }
    }
}
