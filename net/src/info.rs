//! INFO: gathers a snapshot from every core and renders Redis's sections,
//! plus a `# Shards` section with one line per shard.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use crate::cmd::server::REDIS_VERSION;
use crate::server::CoreCtx;
use crate::shared::Shared;

/// What one core reports for INFO.
#[derive(Debug, Clone)]
pub struct CoreSnapshot {
    pub shard: usize,
    pub keys: u64,
    pub expires: u64,
    pub expired_keys: u64,
    pub ops: u64,
    pub clients: usize,
    pub commands: u64,
    pub fsyncs: u64,
    pub held_writes: u64,
    /// Clients in line on this core's shard (blocked on its keys).
    pub in_line: usize,
    pub failure: Option<String>,
    pub raft: shardis_shards::core::RaftStatus,
}

impl CoreSnapshot {
    pub fn take(cx: &std::rc::Rc<CoreCtx>) -> CoreSnapshot {
        let s = cx.core.stats();
        CoreSnapshot {
            shard: cx.core.id.0,
            keys: s.keys,
            expires: s.expires,
            expired_keys: s.expired_keys,
            ops: s.ops,
            clients: cx.clients.borrow().len(),
            commands: cx.commands_processed.get(),
            fsyncs: cx.core.durability().syncs(),
            held_writes: s.held_writes,
            in_line: cx.core.in_line(),
            failure: cx.core.durability().failure(),
            raft: cx.core.raft_status(),
        }
    }
}

fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}G", b / (1024.0 * 1024.0 * 1024.0))
    } else if b >= 1024.0 * 1024.0 {
        format!("{:.2}M", b / (1024.0 * 1024.0))
    } else {
        format!("{:.2}K", b / 1024.0)
    }
}

const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "cluster",
    "keyspace",
    "shards",
    "raft",
];

/// Renders the requested sections (none, `default`, `all` or `everything`
/// mean all of ours).
pub fn render(shared: &Shared, cores: &[CoreSnapshot], wanted: &[String]) -> String {
    let all = wanted.is_empty()
        || wanted
            .iter()
            .any(|w| matches!(w.as_str(), "default" | "all" | "everything"));
    let show = |s: &str| all || wanted.iter().any(|w| w == s);
    let mut out = String::new();
    let sum = |f: fn(&CoreSnapshot) -> u64| cores.iter().map(f).sum::<u64>();
    let uptime = shared.started.elapsed().as_secs();
    let o = &shared.opts;
    for section in DEFAULT_SECTIONS {
        if !show(section) {
            continue;
        }
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        let _ = match *section {
            "server" => write!(
                out,
                "# Server\r\nredis_version:{REDIS_VERSION}\r\nshardis_version:{}\r\nredis_mode:standalone\r\nos:{} {}\r\narch_bits:64\r\nmultiplexing_api:io_uring\r\nprocess_id:{}\r\nrun_id:{}\r\ntcp_port:{}\r\nuptime_in_seconds:{uptime}\r\nuptime_in_days:{}\r\nexecutable:{}\r\nconfig_file:{}\r\nshards:{}\r\n",
                env!("CARGO_PKG_VERSION"),
                std::env::consts::OS,
                std::env::consts::ARCH,
                std::process::id(),
                shared.run_id,
                o.port,
                uptime / 86400,
                std::env::current_exe()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                o.config_file.clone().unwrap_or_default(),
                o.shards,
            ),
            "clients" => write!(
                out,
                "# Clients\r\nconnected_clients:{}\r\nmaxclients:{}\r\nblocked_clients:{}\r\n",
                cores.iter().map(|c| c.clients).sum::<usize>(),
                shared.maxclients.load(Ordering::Relaxed),
                shared.blocked.load(Ordering::Relaxed)
                    + cores.iter().map(|c| c.in_line).sum::<usize>(),
            ),
            "memory" => {
                let rss = crate::shared::rss_bytes();
                write!(
                    out,
                    "# Memory\r\nused_memory:{rss}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\nmaxmemory:{}\r\nmaxmemory_policy:noeviction\r\nmem_allocator:libc\r\nused_memory_scripts_eval:{}\r\nnumber_of_cached_scripts:{}\r\n",
                    human(rss),
                    shared.maxmemory.load(Ordering::Relaxed),
                    shared.scripts.bytes(),
                    shared.scripts.len(),
                )
            }
            "persistence" => write!(
                out,
                "# Persistence\r\nloading:0\r\naof_enabled:1\r\nappendfsync:{}\r\nfsyncs:{}\r\nwrite_behind_held:{}\r\nstorage_failed:{}\r\n",
                o.appendfsync.name(),
                sum(|c| c.fsyncs),
                sum(|c| c.held_writes),
                cores.iter().any(|c| c.failure.is_some()) as u8,
            ),
            "stats" => write!(
                out,
                "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\nrejected_connections:{}\r\nexpired_keys:{}\r\nevicted_keys:0\r\nkeyspace_hits:0\r\nkeyspace_misses:0\r\n",
                shared.total_connections.load(Ordering::Relaxed),
                sum(|c| c.commands),
                shared.rejected_connections.load(Ordering::Relaxed),
                sum(|c| c.expired_keys),
            ),
            "replication" => write!(
                out,
                "# Replication\r\nrole:master\r\nconnected_slaves:0\r\n"
            ),
            "cpu" => write!(out, "# CPU\r\n"),
            "cluster" => write!(out, "# Cluster\r\ncluster_enabled:0\r\n"),
            "keyspace" => {
                let keys = sum(|c| c.keys);
                let _ = write!(out, "# Keyspace\r\n");
                if keys > 0 {
                    write!(
                        out,
                        "db0:keys={keys},expires={},avg_ttl=0\r\n",
                        sum(|c| c.expires)
                    )
                } else {
                    Ok(())
                }
            }
            "shards" => {
                let _ = write!(out, "# Shards\r\n");
                for c in cores {
                    let _ = write!(
                        out,
                        "shard_{}:keys={},expires={},expired={},ops={},clients={},fsyncs={},failed={}\r\n",
                        c.shard,
                        c.keys,
                        c.expires,
                        c.expired_keys,
                        c.ops,
                        c.clients,
                        c.fsyncs,
                        c.failure.is_some() as u8
                    );
                }
                Ok(())
            }
            "raft" => {
                let _ = write!(out, "# Raft\r\n");
                for c in cores {
                    let r = &c.raft;
                    let _ = write!(
                        out,
                        "shard_{}:group={},role={},term={},leader={},last_log_index={},committed={},applied={},snapshot={},purged={}\r\n",
                        c.shard,
                        c.shard,
                        r.role,
                        r.term,
                        r.leader.map_or("none".to_string(), |l| l.to_string()),
                        r.last_log_index,
                        r.committed,
                        r.applied,
                        r.snapshot,
                        r.purged,
                    );
                }
                Ok(())
            }
            _ => Ok(()),
        };
    }
    out
}
