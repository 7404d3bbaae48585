//! INFO: the server's state in Redis's `field:value` sections, so Redis tools
//! (redis-cli, monitoring agents) can read it.

use super::Shared;
use crate::stats;
use std::fmt::Write;
use std::sync::OnceLock;
use std::sync::atomic::Ordering;

/// Section names in the order `INFO all` prints them (Redis's order; inmem
/// has no CPU, Modules, Errorstats or Latencystats sections).
const SECTIONS: [&str; 9] = [
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "commandstats",
    "cluster",
    "keyspace",
];

/// Sections shown by a bare `INFO` (Redis leaves commandstats out).
const DEFAULT: [&str; 8] = [
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cluster",
    "keyspace",
];

/// 40 random hex digits, as Redis's run_id and replication id are: SipHash
/// under the process's random keys (std's `RandomState`), so each server
/// run gets new ones.
fn random_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let state = std::collections::hash_map::RandomState::new();
    let mut id = String::with_capacity(48);
    for part in 0u64..3 {
        let mut hasher = state.build_hasher();
        hasher.write_u64(part);
        hasher.write_u32(std::process::id());
        let _ = write!(id, "{:016x}", hasher.finish());
    }
    id.truncate(40);
    id
}

/// This server run's id (INFO's run_id).
fn run_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(random_id)
}

/// The replication id a master without replicas still shows (master_replid).
fn replication_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(random_id)
}

/// The order keyspace lines are printed in: `dbN` lines by number, as
/// Redis does, then inmem's named namespaces by name.
fn keyspace_order(name: &str) -> (bool, u64, &str) {
    match name.parse::<u64>() {
        Ok(n) if name.bytes().all(|b| b.is_ascii_digit()) => (false, n, name),
        _ => (true, 0, name),
    }
}

/// The INFO text for the requested sections (`all`, `everything`, `default` or names).
pub fn render(shared: &Shared, requested: &[Vec<u8>]) -> String {
    let wanted: Vec<&str> = if requested.is_empty() {
        DEFAULT.to_vec()
    } else {
        let mut wanted = Vec::new();
        for name in requested {
            let name = String::from_utf8_lossy(name).to_ascii_lowercase();
            match name.as_str() {
                "all" | "everything" => wanted.extend(SECTIONS),
                "default" => wanted.extend(DEFAULT),
                other => {
                    if let Some(section) = SECTIONS.iter().find(|s| **s == other) {
                        wanted.push(section);
                    }
                }
            }
        }
        wanted
    };
    let mut out = String::new();
    for section in SECTIONS.iter().filter(|s| wanted.contains(s)) {
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        let title = format!("{}{}", section[..1].to_ascii_uppercase(), &section[1..]);
        let _ = write!(out, "# {title}\r\n");
        for (name, value) in fields(shared, section) {
            let _ = write!(out, "{name}:{value}\r\n");
        }
    }
    out
}

fn fields(shared: &Shared, section: &str) -> Vec<(String, String)> {
    let db = &shared.db;
    let pairs = |list: Vec<(&str, String)>| -> Vec<(String, String)> {
        list.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    };
    let namespaces = db.engine().namespace_stats();
    match section {
        "server" => {
            let uptime = db.stats().uptime().as_secs();
            pairs(vec![
                ("redis_version", super::REDIS_VERSION.to_string()),
                ("inmem_version", env!("CARGO_PKG_VERSION").to_string()),
                ("redis_mode", "standalone".into()),
                ("os", std::env::consts::OS.to_string()),
                ("arch_bits", (usize::BITS).to_string()),
                ("process_id", std::process::id().to_string()),
                ("run_id", run_id().to_string()),
                ("tcp_port", shared.ports.0.to_string()),
                ("uptime_in_seconds", uptime.to_string()),
                ("uptime_in_days", (uptime / 86_400).to_string()),
                // What CONFIG GET hz shows; inmem's timers do not depend on it.
                ("hz", "10".into()),
                ("configured_hz", "10".into()),
                (
                    "executable",
                    std::env::current_exe()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default(),
                ),
            ])
        }
        "clients" => pairs(vec![
            ("connected_clients", shared.clients.len().to_string()),
            (
                "maxclients",
                shared.clients.max(shared.settings.maxclients).to_string(),
            ),
            ("blocked_clients", "0".into()),
        ]),
        "memory" => {
            let estimate: u64 = namespaces.iter().map(|n| n.bytes).sum();
            let limits = db.engine().limits();
            let rss = stats::resident_bytes().unwrap_or(0);
            pairs(vec![
                ("used_memory", estimate.to_string()),
                ("used_memory_human", human_bytes(estimate)),
                ("used_memory_rss", rss.to_string()),
                ("used_memory_rss_human", human_bytes(rss)),
                ("maxmemory", limits.maxmemory.unwrap_or(0).to_string()),
                (
                    "maxmemory_human",
                    human_bytes(limits.maxmemory.unwrap_or(0)),
                ),
                ("maxmemory_policy", limits.policy.name().to_string()),
                ("max_keys", limits.max_keys.unwrap_or(0).to_string()),
                // The allocator `inmem serve` is built with (src/main.rs).
                ("mem_allocator", "mimalloc".into()),
            ])
        }
        "persistence" => {
            let persistence = db.persistence();
            let status = persistence.status();
            let log = persistence.log();
            let (last_ok, last_time) = match &status.result {
                Some(Ok(written)) => ("ok", written.millis.div_ceil(1000).to_string()),
                Some(Err(_)) => ("err", "-1".into()),
                None => ("ok", "-1".into()),
            };
            let last_save = match &status.result {
                Some(Ok(_)) => status.at_ms / 1000,
                _ => shared.started_unix,
            };
            pairs(vec![
                ("loading", "0".into()),
                (
                    "rdb_changes_since_last_save",
                    log.last_seq().saturating_sub(status.saved_seq).to_string(),
                ),
                ("rdb_last_save_time", last_save.to_string()),
                ("rdb_last_bgsave_status", last_ok.into()),
                ("rdb_last_bgsave_time_sec", last_time),
                ("aof_enabled", "1".into()),
                (
                    "aof_fsync",
                    format!("{:?}", persistence.settings().fsync).to_ascii_lowercase(),
                ),
                (
                    "aof_last_write_status",
                    if log.failure().is_some() { "err" } else { "ok" }.into(),
                ),
                (
                    "aof_bytes_since_snapshot",
                    log.bytes_since_checkpoint().to_string(),
                ),
                ("aof_records_written", log.records().to_string()),
            ])
        }
        "stats" => {
            let sum = |f: &dyn Fn(&crate::engine::NamespaceStats) -> u64| -> String {
                namespaces.iter().map(f).sum::<u64>().to_string()
            };
            pairs(vec![
                (
                    "total_connections_received",
                    shared
                        .clients
                        .total_connections
                        .load(Ordering::Relaxed)
                        .to_string(),
                ),
                ("total_commands_processed", db.stats().ops().to_string()),
                (
                    "instantaneous_ops_per_sec",
                    db.stats().ops_per_sec().to_string(),
                ),
                (
                    "rejected_connections",
                    shared.clients.rejected.load(Ordering::Relaxed).to_string(),
                ),
                ("expired_keys", sum(&|n| n.counters.expired)),
                ("evicted_keys", sum(&|n| n.counters.evictions)),
                ("keyspace_hits", sum(&|n| n.counters.hits)),
                ("keyspace_misses", sum(&|n| n.counters.misses)),
            ])
        }
        "replication" => pairs(vec![
            ("role", "master".into()),
            ("connected_slaves", "0".into()),
            ("master_failover_state", "no-failover".into()),
            ("master_replid", replication_id().to_string()),
            ("master_replid2", "0".repeat(40)),
            ("master_repl_offset", "0".into()),
            ("second_repl_offset", "-1".into()),
            ("repl_backlog_active", "0".into()),
            ("repl_backlog_first_byte_offset", "0".into()),
            ("repl_backlog_histlen", "0".into()),
        ]),
        "cluster" => pairs(vec![("cluster_enabled", "0".into())]),
        "keyspace" => {
            let mut live: Vec<_> = namespaces.iter().filter(|n| n.keys > 0).collect();
            live.sort_by(|a, b| keyspace_order(&a.name).cmp(&keyspace_order(&b.name)));
            live.into_iter()
                .map(|n| {
                    let label = if n.name.bytes().all(|b| b.is_ascii_digit()) {
                        format!("db{}", n.name)
                    } else {
                        format!("ns_{}", n.name)
                    };
                    (
                        label,
                        // avg_ttl: Redis estimates it from the keys its expiry
                        // cycle samples (0 until it has some); the engine keeps
                        // no such estimate, and walking every expiring key for
                        // INFO would cost too much, so it stays 0.
                        format!(
                            "keys={},expires={},avg_ttl=0",
                            n.keys,
                            n.expiring.min(n.keys)
                        ),
                    )
                })
                .collect()
        }
        "commandstats" => db
            .stats()
            .latency()
            .into_iter()
            .map(|l| {
                let usec = (l.mean * l.count as f64).round() as u64;
                (
                    format!("cmdstat_{}", l.command),
                    format!(
                        "calls={},usec={usec},usec_per_call={:.2},rejected_calls=0,failed_calls=0",
                        l.count, l.mean
                    ),
                )
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "K", "M", "G", "T"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n}B")
    } else {
        format!("{value:.2}{}", UNITS[unit])
    }
}
