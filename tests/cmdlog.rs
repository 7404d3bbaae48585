//! The command log, driven through `inmem::cmdlog::CommandLog`: lines and
//! their fields, hidden values, escaping, rotation, concurrency and errors.

use inmem::cmdlog::{CommandLog, LogSettings};
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

fn words(list: &[&[u8]]) -> Vec<Vec<u8>> {
    list.iter().map(|w| w.to_vec()).collect()
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("reading {name}: {e}"))
}

fn lines(dir: &Path) -> Vec<String> {
    read(dir, "command.log")
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Opens a log, records each statement as a success taking 5 µs, flushes, and
/// returns the lines written.
fn logged(settings: LogSettings, statements: &[&[&[u8]]]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let log = CommandLog::open(dir.path(), settings).unwrap();
    for statement in statements {
        log.record("0", &words(statement), Ok(()), Duration::from_micros(5));
    }
    log.flush();
    lines(dir.path())
}

/// The words part of a line: everything after the elapsed field.
fn words_part(line: &str) -> &str {
    let (_, rest) = line.split_once("us ").expect("an elapsed field");
    rest
}

#[test]
fn lines_have_timestamp_namespace_outcome_elapsed_and_words() {
    let dir = tempfile::tempdir().unwrap();
    let log = CommandLog::open(dir.path(), LogSettings::default()).unwrap();
    let before = chrono::Utc::now();
    log.record(
        "3",
        &words(&[b"get", b"session:1"]),
        Ok(()),
        Duration::from_micros(12),
    );
    log.record(
        "0",
        &words(&[b"incr", b"name"]),
        Err("value is not an integer"),
        Duration::from_millis(3),
    );
    log.flush();
    let after = chrono::Utc::now();
    let lines = lines(dir.path());
    assert_eq!(lines.len(), 2, "{lines:?}");

    let (stamp, rest) = lines[0].split_once(' ').unwrap();
    assert_eq!(rest, "ns=3 ok 12us get session:1");
    // RFC 3339, UTC, milliseconds: 2026-11-22T05:20:31.123Z
    assert_eq!(stamp.len(), 24, "{stamp}");
    assert!(
        stamp.ends_with('Z') && stamp.as_bytes()[19] == b'.',
        "{stamp}"
    );
    let at = chrono::DateTime::parse_from_rfc3339(stamp).unwrap();
    let (low, high) = (before.timestamp_millis(), after.timestamp_millis());
    assert!((low..=high).contains(&at.timestamp_millis()), "{stamp}");

    let (_, rest) = lines[1].split_once(' ').unwrap();
    assert_eq!(
        rest,
        "ns=0 err: \"value is not an integer\" 3000us incr name"
    );
}

#[test]
fn reopening_appends() {
    let dir = tempfile::tempdir().unwrap();
    for key in [b"a", b"b"] {
        let log = CommandLog::open(dir.path(), LogSettings::default()).unwrap();
        log.record("0", &words(&[b"get", key]), Ok(()), Duration::ZERO);
        // No flush: dropping the log writes out its tail.
    }
    let lines = lines(dir.path());
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].ends_with(" get a") && lines[1].ends_with(" get b"));
}

#[test]
fn values_are_hidden_by_default() {
    let lines = logged(
        LogSettings::default(),
        &[
            &[b"put", b"session:1", b"s3cret", b"3600"],
            &[b"batch", b"-c", b"put a s3cret; get a"],
            &[b"find", b"-v", b"-l", b"s3cr*"],
            &[b"find", b"-k", b"session:*"],
            &[b"batch", b"-f", b"jobs/*.txt"],
            &[b"export", b"dump.json"],
        ],
    );
    let got: Vec<&str> = lines.iter().map(|l| words_part(l)).collect();
    assert_eq!(
        got,
        [
            "put session:1 <value hidden> 3600",
            "batch -c <statements hidden>",
            "find -v -l <value hidden>",
            "find -k session:*",
            "batch -f jobs/*.txt",
            "export dump.json",
        ]
    );
    assert!(lines.iter().all(|l| !l.contains("s3cr")), "{lines:?}");
}

#[test]
fn values_are_shown_with_log_values() {
    let settings = LogSettings {
        log_values: true,
        ..LogSettings::default()
    };
    let lines = logged(
        settings,
        &[
            &[b"put", b"session:1", b"s3cret", b"3600"],
            &[b"batch", b"-c", b"put a s3cret; get a"],
            &[b"find", b"-v", b"-l", b"s3cr*"],
        ],
    );
    let got: Vec<&str> = lines.iter().map(|l| words_part(l)).collect();
    assert_eq!(
        got,
        [
            "put session:1 s3cret 3600",
            "batch -c \"put a s3cret; get a\"",
            "find -v -l s3cr*",
        ]
    );
}

#[test]
fn binary_and_awkward_words_are_escaped_on_one_line() {
    let settings = LogSettings {
        log_values: true,
        ..LogSettings::default()
    };
    let lines = logged(
        settings,
        &[
            &[b"put", b"bin\x00\xff", b"two\nlines", b"10"],
            &[b"get", b"a b"],
        ],
    );
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(words_part(&lines[0]), r#"put "bin\0\xff" "two\nlines" 10"#);
    assert_eq!(words_part(&lines[1]), r#"get "a b""#);
    // Each line parses back to the words it logged.
    let parsed = inmem::command::grammar::parse(words_part(&lines[0])).unwrap();
    let back: Vec<Vec<u8>> = parsed[0].words.iter().map(|w| w.bytes.clone()).collect();
    assert_eq!(back, words(&[b"put", b"bin\x00\xff", b"two\nlines", b"10"]));
}

/// Every `command.log*` file in `dir`, by name, with its contents.
fn log_files(dir: &Path) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with("command.log"))
        .map(|name| {
            let text = read(dir, &name);
            (name, text)
        })
        .collect();
    files.sort();
    files
}

#[test]
fn rotation_caps_files_keeps_n_and_loses_no_line() {
    let dir = tempfile::tempdir().unwrap();
    let (max_bytes, keep) = (300u64, 3usize);
    let log = CommandLog::open(
        dir.path(),
        LogSettings {
            log_values: false,
            max_bytes,
            keep,
        },
    )
    .unwrap();
    // Lines of about 60-70 bytes: four or so per file; 200 lines make ~50 files'
    // worth, so rotation drops the oldest many times. The last statements fit
    // in the kept files: (keep + 1) files × at least 4 lines each.
    let total = 200;
    for i in 0..total {
        let key = format!("key:{i}");
        log.record(
            "0",
            &words(&[b"get", key.as_bytes()]),
            Ok(()),
            Duration::from_micros(1),
        );
    }
    // One line longer than max_bytes goes alone into a fresh file.
    let long = "x".repeat(400);
    log.record(
        "0",
        &words(&[b"get", long.as_bytes()]),
        Ok(()),
        Duration::ZERO,
    );
    log.record("0", &words(&[b"get", b"after"]), Ok(()), Duration::ZERO);
    log.flush();

    let files = log_files(dir.path());
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "command.log",
            "command.log.1",
            "command.log.2",
            "command.log.3"
        ]
    );
    for (name, text) in &files {
        assert!(text.ends_with('\n'), "{name} ends mid-line");
        let oversized = text.len() as u64 > max_bytes;
        assert!(
            !oversized || text.lines().count() == 1,
            "{name} has {} bytes in {} lines",
            text.len(),
            text.lines().count()
        );
    }
    // Newest last: .3, .2, .1, command.log.
    assert_eq!(files[0].0, "command.log");
    assert!(files[0].1.ends_with(" get after\n"));
    assert_eq!(files[1].1.lines().count(), 1, "the long line is alone");
    assert!(files[1].1.contains(&long));

    // No file was rotated early: the next line would not have fitted.
    for pair in files.windows(2) {
        let (newer, older) = (&pair[0].1, &pair[1].1);
        let next = newer.lines().next().unwrap().len() as u64 + 1;
        assert!(
            older.len() as u64 + next > max_bytes,
            "{} rotated early",
            pair[1].0
        );
    }

    // The kept lines are the newest, whole, in order, with none missing.
    let mut kept = Vec::new();
    for (_, text) in files.iter().rev() {
        kept.extend(text.lines().map(|l| words_part(l).to_owned()));
    }
    let newest: Vec<String> = (0..total)
        .map(|i| format!("get key:{i}"))
        .chain([format!("get {long}"), "get after".into()])
        .collect();
    assert!(
        kept.len() >= 4,
        "only {} lines kept: {files:#?}",
        kept.len()
    );
    assert_eq!(kept[..], newest[newest.len() - kept.len()..]);
}

#[test]
fn an_oversized_line_into_an_empty_log_rotates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let settings = LogSettings {
        log_values: false,
        max_bytes: 50,
        keep: 2,
    };
    let log = CommandLog::open(dir.path(), settings).unwrap();
    let long = "y".repeat(100);
    log.record(
        "0",
        &words(&[b"get", long.as_bytes()]),
        Ok(()),
        Duration::ZERO,
    );
    log.record(
        "0",
        &words(&[b"get", long.as_bytes()]),
        Ok(()),
        Duration::ZERO,
    );
    log.flush();
    let files = log_files(dir.path());
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["command.log", "command.log.1"],
        "no empty file rotated"
    );
    for (name, text) in &files {
        assert_eq!(text.lines().count(), 1, "{name}");
    }
}

#[test]
fn rotation_without_dropping_counts_every_line() {
    // With keep large enough that nothing is deleted, every line is somewhere.
    let dir = tempfile::tempdir().unwrap();
    let log = CommandLog::open(
        dir.path(),
        LogSettings {
            log_values: false,
            max_bytes: 1000,
            keep: 100,
        },
    )
    .unwrap();
    let total = 1000;
    for i in 0..total {
        let key = format!("k{i}");
        log.record(
            "0",
            &words(&[b"get", key.as_bytes()]),
            Ok(()),
            Duration::ZERO,
        );
    }
    drop(log);
    let files = log_files(dir.path());
    assert!(files.len() > 20, "{} files", files.len());
    let mut seen = HashSet::new();
    for (name, text) in &files {
        assert!(text.len() <= 1000, "{name}: {} bytes", text.len());
        assert!(text.ends_with('\n'), "{name} ends mid-line");
        for line in text.lines() {
            let key = words_part(line).strip_prefix("get ").unwrap().to_owned();
            assert!(seen.insert(key), "{line} twice");
        }
    }
    assert_eq!(seen.len(), total);
}

#[test]
fn concurrent_records_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(CommandLog::open(dir.path(), LogSettings::default()).unwrap());
    let (threads, each) = (4, 2500);
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                for i in 0..each {
                    let key = format!("t{t}:{i}");
                    log.record(
                        &t.to_string(),
                        &words(&[b"put", key.as_bytes(), b"v"]),
                        Ok(()),
                        Duration::ZERO,
                    );
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    log.flush();
    let lines = lines(dir.path());
    assert_eq!(lines.len(), threads * each);
    let mut seen = HashSet::new();
    for line in &lines {
        let rest = words_part(line);
        let key = rest
            .strip_prefix("put ")
            .and_then(|r| r.strip_suffix(" <value hidden>"))
            .unwrap_or_else(|| panic!("garbled line {line}"));
        assert!(seen.insert(key.to_owned()), "{key} twice");
    }
    // Each thread's lines are in its own order.
    for t in 0..threads {
        let prefix = format!("put t{t}:");
        let order: Vec<usize> = lines
            .iter()
            .filter_map(|l| words_part(l).strip_prefix(&prefix))
            .map(|r| r.split(' ').next().unwrap().parse().unwrap())
            .collect();
        assert_eq!(order, (0..each).collect::<Vec<_>>());
    }
}

#[test]
fn flush_waits_for_lines_recorded_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let log = CommandLog::open(dir.path(), LogSettings::default()).unwrap();
    for round in 1..=50 {
        log.record("0", &words(&[b"size"]), Ok(()), Duration::ZERO);
        log.flush();
        assert_eq!(lines(dir.path()).len(), round);
    }
}

#[test]
fn unwritable_directory_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    // A regular file where the directory should be: cannot hold command.log,
    // even for root.
    let not_a_dir = dir.path().join("file");
    std::fs::write(&not_a_dir, "x").unwrap();
    assert!(CommandLog::open(&not_a_dir, LogSettings::default()).is_err());
    assert!(CommandLog::open(&dir.path().join("missing"), LogSettings::default()).is_err());

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let read_only = dir.path().join("ro");
        std::fs::create_dir(&read_only).unwrap();
        std::fs::set_permissions(&read_only, std::fs::Permissions::from_mode(0o555)).unwrap();
        // Root may write anywhere; only check when the permission holds.
        let probe = std::fs::File::create(read_only.join("probe"));
        if probe.is_err() {
            assert!(CommandLog::open(&read_only, LogSettings::default()).is_err());
        }
        std::fs::set_permissions(&read_only, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

#[test]
fn diagnostics_levels() {
    assert!(inmem::cmdlog::init_diagnostics("loud").is_err());
    // "off" keeps this test binary quiet; a second call is ignored.
    assert_eq!(inmem::cmdlog::init_diagnostics("off"), Ok(()));
    assert_eq!(inmem::cmdlog::init_diagnostics("trace"), Ok(()));
}

#[cfg(target_os = "linux")]
#[test]
fn a_failing_disk_neither_blocks_nor_panics() {
    // Every write to /dev/full fails with "no space left on device".
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/dev/full", dir.path().join("command.log")).unwrap();
    let log = CommandLog::open(dir.path(), LogSettings::default()).unwrap();
    for _ in 0..3 {
        log.record("0", &words(&[b"size"]), Ok(()), Duration::ZERO);
    }
    log.flush();
    drop(log);
}
