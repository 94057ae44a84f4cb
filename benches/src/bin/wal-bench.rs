//! Raft log flush throughput: the node's one RocksDB WAL shared by every
//! shard, against one RocksDB (so one WAL) per shard.
//!
//! Each of `--shards` writer threads plays one shard's log store under
//! `appendfsync always`: append a batch of entries to its Raft column
//! family, then make it durable, as fast as it can, for `--seconds`.
//! Three ways to make it durable are measured:
//! - `node-flush`: one DB, each writer calls `flush_wal(sync)` (what the
//!   log store's fsync thread does today);
//! - `node-sync-write`: one DB, each writer writes with `sync = true`, so
//!   RocksDB's write group commit merges concurrent writers into one fsync;
//! - `per-shard`: one DB per shard, each writer syncs its own WAL file, so
//!   the fsyncs of different shards are in flight at once.
//!
//! Usage: `cargo run --release -p shardis-bench --bin wal-bench -- --dir /tmp/walbench`

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Barrier;
use std::time::Duration;
use std::time::Instant;

use clap::Parser;
use rocksdb::DB;
use rocksdb::WriteBatch;
use rocksdb::WriteOptions;
use shardis_shards::storage;

#[derive(Parser)]
struct Args {
    /// Scratch directory on the disk to measure (wiped).
    #[arg(long, default_value = "/tmp/shardis-wal-bench")]
    dir: PathBuf,
    /// Writer counts to try.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4")]
    shards: Vec<usize>,
    /// Entries per batch (one Raft append).
    #[arg(long, default_value_t = 16)]
    entries: usize,
    /// Bytes per entry.
    #[arg(long, default_value_t = 100)]
    size: usize,
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
}

#[derive(Clone, Copy, Debug)]
enum Mode {
    NodeFlush,
    NodeSyncWrite,
    PerShard,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::NodeFlush => "node-flush",
            Mode::NodeSyncWrite => "node-sync-write",
            Mode::PerShard => "per-shard",
        }
    }
}

/// One writer: appends batches to shard `i`'s raft CF of `db` and makes
/// each durable; answers (batches, p50 us, p99 us).
fn writer(db: Arc<DB>, i: usize, mode: Mode, a: &Args, start: &Barrier) -> (u64, Vec<u64>) {
    let cf_name = storage::raft_cf(i);
    let value = vec![b'x'; a.size];
    let mut sync = WriteOptions::default();
    sync.set_sync(true);
    let mut lat = Vec::new();
    let mut index: u64 = 0;
    start.wait();
    let end = Instant::now() + Duration::from_secs_f64(a.seconds);
    while Instant::now() < end {
        let t = Instant::now();
        let cf = db.cf_handle(&cf_name).expect("raft cf");
        let mut batch = WriteBatch::default();
        for _ in 0..a.entries {
            index += 1;
            batch.put_cf(cf, index.to_be_bytes(), &value);
        }
        match mode {
            Mode::NodeSyncWrite => db.write_opt(batch, &sync).expect("sync write"),
            Mode::NodeFlush | Mode::PerShard => {
                db.write(batch).expect("write");
                db.flush_wal(true).expect("flush wal");
            }
        }
        lat.push(t.elapsed().as_micros() as u64);
    }
    (lat.len() as u64, lat)
}

fn run(a: &Args, mode: Mode, shards: usize) {
    let _ = std::fs::remove_dir_all(&a.dir);
    let opts = storage::StorageOptions::default();
    let dbs: Vec<Arc<DB>> = match mode {
        Mode::PerShard => (0..shards)
            .map(|i| {
                // Shard i's DB holds cfs 0..=i so that raft_cf(i) exists.
                storage::open(&a.dir.join(format!("shard-{i}")), i + 1, &opts).expect("open")
            })
            .collect(),
        _ => {
            let db = storage::open(&a.dir, shards, &opts).expect("open");
            vec![db; shards]
        }
    };
    let start = Arc::new(Barrier::new(shards));
    let t = Instant::now();
    let results: Vec<(u64, Vec<u64>)> = std::thread::scope(|s| {
        let handles: Vec<_> = dbs
            .iter()
            .enumerate()
            .map(|(i, db)| {
                let (db, start) = (db.clone(), start.clone());
                s.spawn(move || writer(db, i, mode, a, &start))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("writer"))
            .collect()
    });
    let secs = t.elapsed().as_secs_f64();
    let batches: u64 = results.iter().map(|r| r.0).sum();
    let mut lat: Vec<u64> = results.into_iter().flat_map(|r| r.1).collect();
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    println!(
        "| {} | {} | {:.0} | {:.0} | {} | {} |",
        mode.name(),
        shards,
        batches as f64 / secs,
        batches as f64 * a.entries as f64 / secs,
        pct(0.5),
        pct(0.99),
    );
    drop(dbs);
    let _ = std::fs::remove_dir_all(&a.dir);
}

fn main() {
    let a = Args::parse();
    println!(
        "{} entries x {} B per append, {} s per row, dir {}",
        a.entries,
        a.size,
        a.seconds,
        a.dir.display()
    );
    println!("| durability | shards | durable appends/s | entries/s | p50 us | p99 us |");
    println!("|---|---|---|---|---|---|");
    for &n in &a.shards {
        for mode in [Mode::NodeFlush, Mode::NodeSyncWrite, Mode::PerShard] {
            run(&a, mode, n);
        }
    }
}
