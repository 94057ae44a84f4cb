//! The `shardis` binary: flags -> config -> one pinned glommio executor per
//! shard -> serve; SIGINT/SIGTERM commit and fsync every shard, then exit.

mod config;

/// mimalloc: every command allocates small buffers (args, ops, replies)
/// across shard threads; glibc malloc was ~15% of a SET's instructions.
/// Built with `no_thp` (see Cargo.toml): no transparent huge pages, whose
/// faults stalled the shard thread for milliseconds.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use clap::Parser;
use glommio::LocalExecutorBuilder;
use glommio::Placement;
use shardis_net::shared::ServerOptions;
use shardis_net::shared::Shared;
use shardis_shards::core::Core;
use shardis_shards::core::CoreOptions;
use shardis_shards::msg::ShardMsg;
use shardis_shards::router::Router;
use shardis_shards::slot::ShardId;
use shardis_shards::storage;

use crate::config::Config;
use crate::config::Flags;

/// Blocks SIGINT and SIGTERM in this thread and every thread it starts
/// later, so that only `wait_for_signal` receives them.
fn block_signals() -> libc::sigset_t {
    // SAFETY: plain libc signal-set manipulation on a local set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

fn wait_for_signal(set: &libc::sigset_t) -> i32 {
    let mut sig = 0;
    // SAFETY: `set` is a valid, initialised signal set.
    unsafe { libc::sigwait(set, &mut sig) };
    sig
}

fn main() -> ExitCode {
    let signals = block_signals();
    let config = match Config::load(Flags::parse()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("shardis: {e}");
            return ExitCode::from(2);
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();
    match run(config, &signals) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn run(config: Config, signals: &libc::sigset_t) -> Result<(), String> {
    let storage_opts = storage::StorageOptions {
        block_cache_bytes: config.block_cache_mb << 20,
        extra: config.rocksdb_options.clone(),
        ..Default::default()
    };
    let dbs = storage::open_per_shard(&config.dir, config.shards, &storage_opts)
        .map_err(|e| e.to_string())?;
    let (router, inboxes) = Router::new(config.shards);
    let shared = Arc::new(Shared::new(ServerOptions {
        bind: config.bind.clone(),
        port: config.port,
        dir: config.dir.display().to_string(),
        shards: config.shards,
        appendfsync: config.appendfsync,
        maxclients: config.maxclients,
        config_file: config.config_file.as_ref().map(|p| p.display().to_string()),
        output_timeout_ms: config.client_output_write_timeout,
    }));
    let cpus: Vec<usize> = core_affinity::get_core_ids()
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.id)
        .collect();
    let (ready_tx, ready_rx) = mpsc::channel::<Result<usize, String>>();
    for (i, inbox) in inboxes.into_iter().enumerate() {
        let placement = match cpus.get(i % cpus.len().max(1)) {
            Some(&cpu) => Placement::Fixed(cpu),
            None => Placement::Unbound,
        };
        let (db, router, shared, ready) = (
            dbs[i].clone(),
            router.clone(),
            shared.clone(),
            ready_tx.clone(),
        );
        let opts = CoreOptions {
            policy: config.appendfsync,
            reads: config.read_consistency,
            cache_bytes: (config.cache_mb << 20) / config.shards,
            snapshot_every: config.snapshot_every,
            write_behind: Duration::from_millis(config.write_behind_ms),
        };
        LocalExecutorBuilder::new(placement)
            .name(&format!("shard-{i}"))
            .spin_before_park(Duration::from_micros(config.spin_before_park_us))
            .spawn(move || async move {
                let core = match Core::start(ShardId(i), db, router, inbox, opts).await {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = ready.send(Err(format!("shard {i}: {e}")));
                        return;
                    }
                };
                if let Err(e) = shardis_net::server::serve(core, shared, ready.clone()).await {
                    let _ = ready.send(Err(format!("shard {i}: cannot listen: {e}")));
                }
            })
            .map_err(|e| format!("cannot start shard {i}: {e}"))?;
    }
    drop(ready_tx);
    for _ in 0..config.shards {
        match ready_rx.recv() {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err("a shard stopped during start-up".into()),
        }
    }
    tracing::info!(
        port = config.port,
        shards = config.shards,
        appendfsync = config.appendfsync.name(),
        dir = %config.dir.display(),
        "Ready to accept connections"
    );
    // A failure after start-up (a listener dying) also ends the process.
    std::thread::spawn(move || {
        if let Ok(Err(e)) = ready_rx.recv() {
            tracing::error!("{e}");
            std::process::exit(1);
        }
    });
    let sig = wait_for_signal(signals);
    tracing::info!(
        signal = sig,
        "shutting down: committing and syncing every shard"
    );
    flush_all(&router);
    Ok(())
}

/// Asks every shard to commit its pending batch and sync the WAL, and waits
/// (bounded) for them, so a clean shutdown loses nothing under any policy.
fn flush_all(router: &Router) {
    let (tx, rx) = mpsc::channel();
    for s in 0..router.shard_count() {
        let tx = tx.clone();
        router.send(
            ShardId(s),
            ShardMsg::Run(Box::new(move || {
                let _ = tx.send(shardis_net::server::flush_current_core());
            })),
        );
    }
    drop(tx);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    for _ in 0..router.shard_count() {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(Err(e)) => tracing::error!("flush at shutdown failed: {e}"),
            Ok(Ok(())) => {}
            Err(_) => break,
        }
    }
}
