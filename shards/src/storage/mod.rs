//! Opening the node's storage and per-shard access to it.
//!
//! The server opens one RocksDB per shard ([`open_per_shard`]), under
//! `<dir>/shard-<i>`, holding that shard's data and Raft column families;
//! all of them share one block cache. A RocksDB per shard means a WAL per
//! shard: under `appendfsync always` the shards' log fsyncs are then in
//! flight at once instead of queueing on one file (measured in
//! benches/RESULTS.md, "the node's one WAL vs a WAL per shard"). [`open`]
//! opens every shard's column families in one RocksDB (tests, benches).
//! The key and metadata encodings live in [`keys`] and [`meta`].

pub mod keys;
pub mod meta;
mod read_cache;
mod scan_cache;
mod shard_store;

use std::path::Path;
use std::sync::Arc;

use rocksdb::BlockBasedOptions;
use rocksdb::Cache;
use rocksdb::ColumnFamilyDescriptor;
use rocksdb::DB;
use rocksdb::Env;
use rocksdb::Options;
pub use shard_store::Cursor;
pub use shard_store::ShardStore;
use thiserror::Error;

/// Why the node's storage could not be opened.
#[derive(Debug, Error)]
pub enum StorageError {
    #[error("rocksdb: {0}")]
    Rocks(#[from] rocksdb::Error),
    #[error("data directory: {0}")]
    Io(#[from] std::io::Error),
    #[error(
        "data directory {dir} holds {found} shards but --shards is {wanted}; resharding an existing directory is not supported"
    )]
    ShardCountMismatch {
        dir: String,
        found: usize,
        wanted: usize,
    },
    #[error(
        "data directory {0} holds one RocksDB for every shard (an older layout); start with an empty --dir"
    )]
    OldLayout(String),
}

/// Name of shard `i`'s data column family.
pub fn data_cf(i: usize) -> String {
    format!("data-{i}")
}

/// Name of shard `i`'s Raft log column family (entries, vote, committed,
/// purged), kept apart from the data so truncation and purge are range
/// deletes that never touch user keys.
pub fn raft_cf(i: usize) -> String {
    format!("raft-{i}")
}

/// Tunables of the node's RocksDB.
#[derive(Debug, Clone)]
pub struct StorageOptions {
    /// Shared block cache for all column families, bytes.
    pub block_cache_bytes: usize,
    /// Memtable size of each Raft log column family, bytes.
    pub write_buffer_bytes: usize,
    /// Memtable size of each data column family, bytes: small, so a random
    /// insert walks a skiplist that fits in the CPU cache (see
    /// [`data_cf_options`]).
    pub data_write_buffer_bytes: usize,
    /// How many full data memtables one flush merges into one SST, so the
    /// SSTs (and compaction's work) are as big as one large memtable's.
    pub data_write_buffers_to_merge: usize,
    /// RocksDB option string applied on top of ours to the DB and every
    /// column family (`--rocksdb-options`), so option sweeps need no rebuild.
    pub extra: String,
}

impl Default for StorageOptions {
    fn default() -> Self {
        StorageOptions {
            block_cache_bytes: 256 << 20,
            write_buffer_bytes: 16 << 20,
            data_write_buffer_bytes: 2 << 20,
            data_write_buffers_to_merge: 8,
            extra: String::new(),
        }
    }
}

fn cf_options(cache: &Cache, opts: &StorageOptions) -> Result<Options, StorageError> {
    with_extra(base_options(cache, opts), &opts.extra)
}

/// Options of a data column family: [`base_options`] with small memtables
/// that are flushed several at a time.
///
/// Why: writes to collections (HSET, SADD, ZADD into one big key) insert
/// sub-keys at random places in the memtable's skiplist, and in a 16 MiB
/// skiplist most of the lower levels of each walk miss the CPU cache
/// (about 1 µs per key, the largest user-space cost of those writes). A
/// 2 MiB memtable is walked mostly in cache. Merging 8 of them per flush
/// keeps the L0 files, and so compaction, the size they were; reads probe
/// the immutable memtables too, each behind its bloom filter.
fn data_cf_options(cache: &Cache, opts: &StorageOptions) -> Result<Options, StorageError> {
    let mut o = base_options(cache, opts);
    let merge = opts.data_write_buffers_to_merge.max(1);
    o.set_write_buffer_size(opts.data_write_buffer_bytes);
    o.set_min_write_buffer_number_to_merge(merge as i32);
    // Room for a full set being flushed while the next set fills.
    o.set_max_write_buffer_number((2 * merge).max(4) as i32);
    with_extra(o, &opts.extra)
}

/// Our options for every column family (and the DB), before `--rocksdb-options`.
fn base_options(cache: &Cache, opts: &StorageOptions) -> Options {
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(cache);
    // Point lookups dominate (GET, metadata reads before every write): a bloom
    // filter lets a miss skip the SST files entirely.
    table.set_bloom_filter(10.0, false);
    // Index and filter blocks stay in the table readers, outside the block
    // cache: the cache is 64 shards of 4 MiB, and a compacted SST of a few
    // million keys has a bigger filter than a shard holds, so it was read
    // from disk and checksummed again on every lookup (tuning/README.md).
    // Costs ~1.7 bytes of memory per stored key, outside the cache bound.
    table.set_cache_index_and_filter_blocks(false);
    let mut o = Options::default();
    o.set_block_based_table_factory(&table);
    o.set_write_buffer_size(opts.write_buffer_bytes);
    // Most point lookups miss the memtable (new keys, or keys flushed to
    // SSTs); a whole-key bloom filter over the memtable skips the skiplist
    // walk that otherwise dominated GET/SET profiles.
    o.set_memtable_whole_key_filtering(true);
    o.set_memtable_prefix_bloom_ratio(0.1);
    // L0 stays uncompressed, every level below it LZ4: a flush runs on a
    // shard's core, and compressing what the next compaction reads back
    // at once bought nothing but flush CPU (~0.1 µs per ZADD,
    // benches/RESULTS.md session 11). With dynamic level sizes (RocksDB's
    // default) entry 1 is the base level L0 compacts into, which for a
    // small shard is the last level, so everything past entry 0 is LZ4.
    use rocksdb::DBCompressionType::{Lz4, None as Plain};
    o.set_compression_per_level(&[Plain, Lz4, Lz4, Lz4, Lz4, Lz4, Lz4]);
    o
}

/// `o` with the user's RocksDB option string applied on top.
fn with_extra(mut o: Options, extra: &str) -> Result<Options, StorageError> {
    if extra.trim().is_empty() {
        return Ok(o);
    }
    Ok(o.get_options_from_string(extra)?)
}

/// Opens (or creates) the node's RocksDB under `dir` with `shards` data CFs.
///
/// An existing directory must have been created with the same shard count:
/// slots map to shards by count, so opening it with another count would hide
/// keys.
pub fn open(dir: &Path, shards: usize, opts: &StorageOptions) -> Result<Arc<DB>, StorageError> {
    let cache = Cache::new_lru_cache(opts.block_cache_bytes);
    let existing = DB::list_cf(&Options::default(), dir).unwrap_or_default();
    let found = existing.iter().filter(|n| n.starts_with("data-")).count();
    if found != 0 && found != shards {
        return Err(StorageError::ShardCountMismatch {
            dir: dir.display().to_string(),
            found,
            wanted: shards,
        });
    }
    open_db(dir, 0..shards, &cache, opts)
}

/// Opens one RocksDB per shard under `dir/shard-<i>`, sharing one block
/// cache; element `i` holds shard `i`'s column families.
pub fn open_per_shard(
    dir: &Path,
    shards: usize,
    opts: &StorageOptions,
) -> Result<Vec<Arc<DB>>, StorageError> {
    std::fs::create_dir_all(dir)?;
    if dir.join("CURRENT").exists() {
        return Err(StorageError::OldLayout(dir.display().to_string()));
    }
    let found = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("shard-"))
        .count();
    if found != 0 && found != shards {
        return Err(StorageError::ShardCountMismatch {
            dir: dir.display().to_string(),
            found,
            wanted: shards,
        });
    }
    let cache = Cache::new_lru_cache(opts.block_cache_bytes);
    (0..shards)
        .map(|i| open_db(&dir.join(format!("shard-{i}")), i..i + 1, &cache, opts))
        .collect()
}

/// RocksDB's default environment with its compaction threads (the LOW
/// pool) at the lowest CPU and I/O priority.
///
/// Why: a shard thread owns its core and answers clients; a compaction is
/// work that can wait for an idle moment. At equal priority a compaction
/// took its fair half of a busy core and showed as throughput dips and
/// latency spikes in whichever benchmark it landed on (1.2 s of CPU in a
/// 12 s `redis-benchmark -t ...` run on one pinned core). Flushes (the HIGH
/// pool) keep normal priority: a memtable that cannot flush stalls writes.
/// RocksDB's own back-pressure (L0 slowdown and stop triggers) still bounds
/// how far compaction may fall behind under sustained load.
fn background_env() -> Result<Env, StorageError> {
    let mut env = Env::new()?;
    env.lower_thread_pool_cpu_priority();
    env.lower_thread_pool_io_priority();
    Ok(env)
}

/// Opens (or creates) a RocksDB at `dir` holding the data and Raft column
/// families of `shards`.
fn open_db(
    dir: &Path,
    shards: std::ops::Range<usize>,
    cache: &Cache,
    opts: &StorageOptions,
) -> Result<Arc<DB>, StorageError> {
    std::fs::create_dir_all(dir)?;
    let mut db_opts = base_options(cache, opts);
    db_opts.create_if_missing(true);
    db_opts.create_missing_column_families(true);
    db_opts.set_max_background_jobs(2);
    // Each shard writes only from its own thread: the lock-free concurrent
    // memtable insert buys nothing and costs more per insert.
    db_opts.set_allow_concurrent_memtable_write(false);
    db_opts.set_keep_log_file_num(4);
    db_opts.set_env(&background_env()?);
    let db_opts = with_extra(db_opts, &opts.extra)?;
    let mut cfs = Vec::new();
    for i in shards.clone() {
        cfs.push(ColumnFamilyDescriptor::new(
            data_cf(i),
            data_cf_options(cache, opts)?,
        ));
        cfs.push(ColumnFamilyDescriptor::new(
            raft_cf(i),
            cf_options(cache, opts)?,
        ));
    }
    let db = DB::open_cf_descriptors(&db_opts, dir, cfs)?;
    // Reads of the active memtable get slower with every range tombstone
    // in it (the DEL of a big collection writes one; they are fragmented
    // again on each read): seal a memtable once it holds this many. A
    // sealed memtable fragments its tombstones once, and is flushed with
    // the next set of eight.
    for i in shards {
        if let Some(cf) = db.cf_handle(&data_cf(i)) {
            db.set_options_cf(cf, &[("memtable_max_range_deletions", "32")])?;
        }
    }
    Ok(Arc::new(db))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys written in random order across several small data memtables
    /// (held, not yet flushed: a flush waits for a full set to merge), then
    /// overwritten or deleted in later ones, read back as last written, by
    /// point lookup and in order by iterator.
    #[test]
    fn data_reads_span_the_immutable_memtables() {
        let dir = tempfile::tempdir().unwrap();
        let opts = StorageOptions::default();
        let db = open(dir.path(), 1, &opts).unwrap();
        let cf = db.cf_handle(&data_cf(0)).unwrap();
        let n: u64 = 30_000;
        let value = |i: u64, round: u8| {
            let mut v = vec![round; 100];
            v[..8].copy_from_slice(&i.to_be_bytes());
            v
        };
        let key = |i: u64| format!("k{:016x}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15)).into_bytes();
        for i in 0..n {
            db.put_cf(cf, key(i), value(i, 0)).unwrap();
        }
        // A second pass, a memtable or more later: every third key
        // rewritten, every fifth deleted (a key both: deleted last).
        for i in 0..n {
            if i % 3 == 0 {
                db.put_cf(cf, key(i), value(i, 1)).unwrap();
            }
            if i % 5 == 0 {
                db.delete_cf(cf, key(i)).unwrap();
            }
        }
        let want = |i: u64| match (i % 5, i % 3) {
            (0, _) => None,
            (_, 0) => Some(value(i, 1)),
            _ => Some(value(i, 0)),
        };
        let immutable = db
            .property_int_value_cf(cf, "rocksdb.num-immutable-mem-table")
            .unwrap()
            .unwrap();
        assert!(
            immutable >= 1 && (immutable as usize) < opts.data_write_buffers_to_merge,
            "expected unflushed immutable memtables, found {immutable}"
        );
        for i in 0..n {
            assert_eq!(db.get_cf(cf, key(i)).unwrap(), want(i), "key {i}");
        }
        let mut expected: Vec<(Vec<u8>, Vec<u8>)> = (0..n)
            .filter_map(|i| want(i).map(|v| (key(i), v)))
            .collect();
        expected.sort();
        let scanned: Vec<(Vec<u8>, Vec<u8>)> = db
            .iterator_cf(cf, rocksdb::IteratorMode::Start)
            .map(|kv| {
                let (k, v) = kv.unwrap();
                (k.to_vec(), v.to_vec())
            })
            .collect();
        assert_eq!(scanned, expected);
    }
}
