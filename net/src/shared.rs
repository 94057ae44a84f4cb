//! Node-wide server settings and counters shared by every core.
//!
//! Hot-path values are atomics read without locks; the CONFIG table behind
//! a mutex is only touched by CONFIG GET/SET, never by data commands.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering;
use std::time::Instant;

use shardis_shards::durability::FsyncPolicy;

/// Settings the server starts with (from flags / TOML).
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub bind: String,
    pub port: u16,
    pub dir: String,
    pub shards: usize,
    pub appendfsync: FsyncPolicy,
    pub maxclients: usize,
    pub config_file: Option<String>,
    /// How long a reply write may stall (client not reading) before the
    /// client is disconnected, ms.
    pub output_timeout_ms: u64,
}

pub struct Shared {
    pub opts: ServerOptions,
    pub started: Instant,
    pub run_id: String,
    pub maxclients: AtomicUsize,
    pub proto_max_bulk_len: AtomicUsize,
    pub query_buffer_limit: AtomicUsize,
    pub output_timeout_ms: AtomicU64,
    /// CONFIG SET maxmemory, bytes (0: no limit). Over it, commands flagged
    /// `denyoom` are refused with -OOM (policy noeviction: nothing is evicted).
    pub maxmemory: AtomicU64,
    /// Unix seconds of the last completed SAVE/BGSAVE (LASTSAVE); start time at first.
    pub last_save: AtomicU64,
    /// A BGSAVE is running.
    pub saving: std::sync::atomic::AtomicBool,
    pub connected: AtomicUsize,
    /// Clients waiting in a blocking command whose keys span shards, so
    /// that it polls them (INFO blocked_clients adds the clients each
    /// shard has in line).
    pub blocked: AtomicUsize,
    pub next_client_id: AtomicU64,
    pub total_connections: AtomicU64,
    pub rejected_connections: AtomicU64,
    /// Cores whose server is set up (their admin jobs can run); no core
    /// accepts clients before all are, so INFO and friends see every shard.
    pub cores_up: AtomicUsize,
    /// CONFIG parameters that only CONFIG GET/SET look at.
    pub config: Mutex<BTreeMap<String, String>>,
    /// Held by a running Lua script: every other command waits or is BUSY.
    pub script: crate::script::gate::ScriptGate,
    /// Script bodies by SHA1 (SCRIPT LOAD, EVAL, EVALSHA).
    pub scripts: crate::script::cache::ScriptCache,
}

impl Shared {
    pub fn new(opts: ServerOptions) -> Self {
        let run_id: String = (0..40)
            .map(|_| format!("{:x}", rand::random::<u8>() % 16))
            .collect();
        let mut config = BTreeMap::new();
        for (k, v) in [
            ("appendonly", "yes"),
            ("save", ""),
            ("databases", "1"),
            ("maxmemory-policy", "noeviction"),
            ("timeout", "0"),
            ("tcp-keepalive", "300"),
            ("hz", "10"),
            ("loglevel", "notice"),
            ("lazyfree-lazy-user-del", "no"),
            ("lazyfree-lazy-user-flush", "no"),
            ("hash-max-listpack-entries", "128"),
            ("hash-max-listpack-value", "64"),
            ("hash-max-ziplist-entries", "128"),
            ("hash-max-ziplist-value", "64"),
            ("list-max-listpack-size", "-2"),
            ("list-max-ziplist-size", "-2"),
            ("list-compress-depth", "0"),
            ("set-max-intset-entries", "512"),
            ("set-max-listpack-entries", "128"),
            ("zset-max-listpack-entries", "128"),
            ("zset-max-listpack-value", "64"),
            ("zset-max-ziplist-entries", "128"),
            ("zset-max-ziplist-value", "64"),
            ("slowlog-log-slower-than", "10000"),
            ("slowlog-max-len", "128"),
            ("latency-tracking", "yes"),
            ("notify-keyspace-events", ""),
            ("cluster-enabled", "no"),
            ("protected-mode", "no"),
            ("io-threads", "1"),
            ("lazyfree-lazy-server-del", "no"),
            ("lazyfree-lazy-expire", "no"),
            ("lazyfree-lazy-eviction", "no"),
            ("latency-tracking-info-percentiles", "50 99 99.9"),
            ("busy-reply-threshold", "5000"),
            ("lua-time-limit", "5000"),
            ("stream-node-max-entries", "100"),
            ("stream-node-max-bytes", "4096"),
        ] {
            config.insert(k.to_string(), v.to_string());
        }
        Shared {
            maxclients: AtomicUsize::new(opts.maxclients),
            proto_max_bulk_len: AtomicUsize::new(512 * 1024 * 1024),
            query_buffer_limit: AtomicUsize::new(1024 * 1024 * 1024),
            output_timeout_ms: AtomicU64::new(opts.output_timeout_ms),
            maxmemory: AtomicU64::new(0),
            last_save: AtomicU64::new(unix_secs()),
            saving: Default::default(),
            connected: AtomicUsize::new(0),
            blocked: AtomicUsize::new(0),
            next_client_id: AtomicU64::new(1),
            total_connections: AtomicU64::new(0),
            cores_up: AtomicUsize::new(0),
            rejected_connections: AtomicU64::new(0),
            config: Mutex::new(config),
            script: crate::script::gate::ScriptGate::new(opts.shards),
            scripts: Default::default(),
            started: Instant::now(),
            run_id,
            opts,
        }
    }

    /// Every CONFIG parameter with its current value.
    pub fn config_snapshot(&self) -> BTreeMap<String, String> {
        let mut m = self.config.lock().map(|c| c.clone()).unwrap_or_default();
        let o = &self.opts;
        m.insert("bind".into(), o.bind.clone());
        m.insert("port".into(), o.port.to_string());
        m.insert("dir".into(), o.dir.clone());
        m.insert("appendfsync".into(), o.appendfsync.name().into());
        m.insert(
            "maxclients".into(),
            self.maxclients.load(Ordering::Relaxed).to_string(),
        );
        m.insert(
            "proto-max-bulk-len".into(),
            self.proto_max_bulk_len.load(Ordering::Relaxed).to_string(),
        );
        m.insert(
            "client-query-buffer-limit".into(),
            self.query_buffer_limit.load(Ordering::Relaxed).to_string(),
        );
        m.insert(
            "maxmemory".into(),
            self.maxmemory.load(Ordering::Relaxed).to_string(),
        );
        m.insert(
            "client-output-write-timeout".into(),
            self.output_timeout_ms.load(Ordering::Relaxed).to_string(),
        );
        m
    }
}

impl Shared {
    /// True when a maxmemory limit is set and the process uses more: what
    /// Redis (policy noeviction) checks before every `denyoom` command. The
    /// resident size is read at most every 100 ms per core, and not at all
    /// without a limit, so the hot path pays one atomic load.
    pub fn over_maxmemory(&self) -> bool {
        let limit = self.maxmemory.load(Ordering::Relaxed);
        if limit == 0 {
            return false;
        }
        thread_local! {
            static LAST: std::cell::Cell<Option<(Instant, u64)>> = const { std::cell::Cell::new(None) };
        }
        let used = LAST.with(|last| match last.get() {
            Some((at, rss)) if at.elapsed() < std::time::Duration::from_millis(100) => rss,
            _ => {
                let rss = rss_bytes();
                last.set(Some((Instant::now(), rss)));
                rss
            }
        });
        used > limit
    }
}

/// Seconds since the epoch, now.
pub fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Resident memory of the process (INFO's used_memory, maxmemory's measure).
pub fn rss_bytes() -> u64 {
    // Resident pages from /proc; page size 4 KiB on the platforms we run on.
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

/// Parses a memory amount as Redis's config does: a number with an
/// optional unit (`k` 1000, `kb` 1024, `m`, `mb`, `g`, `gb`), any case.
pub fn parse_memory(v: &str) -> Option<u64> {
    let lower = v.to_ascii_lowercase();
    let split = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (num, unit) = lower.split_at(split);
    let mul: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    num.parse::<u64>().ok()?.checked_mul(mul)
}

#[cfg(test)]
mod tests {
    use super::parse_memory;

    #[test]
    fn memory_units_follow_redis() {
        assert_eq!(parse_memory("0"), Some(0));
        assert_eq!(parse_memory("1"), Some(1));
        assert_eq!(parse_memory("100mb"), Some(100 << 20));
        assert_eq!(parse_memory("2GB"), Some(2 << 30));
        assert_eq!(parse_memory("3k"), Some(3000));
        assert_eq!(parse_memory("-1"), None);
        assert_eq!(parse_memory("1tb"), None);
        assert_eq!(parse_memory("mb"), None);
    }
}
