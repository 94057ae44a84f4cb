//! Configuration: command-line flags, optionally on top of a TOML file
//! (`--config`). Flags win over the file; both are validated once here and
//! the result is cloned into every core.

use std::path::PathBuf;

use clap::Parser;
use serde::Deserialize;
use shardis_shards::core::ReadConsistency;
use shardis_shards::durability::FsyncPolicy;
use shardis_shards::storage::StorageOptions;
use thiserror::Error;

/// A Redis-compatible server: thread-per-core, one shard per core, RocksDB underneath.
#[derive(Debug, Parser)]
#[command(name = "shardis", version, about)]
pub struct Flags {
    /// TOML file with any of the settings below (keys as the long flag names).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// TCP port to listen on [default: 6379]
    #[arg(long)]
    pub port: Option<u16>,
    /// Address to bind [default: 127.0.0.1]
    #[arg(long)]
    pub bind: Option<String>,
    /// Data directory (one RocksDB, one column family per shard) [default: ./data]
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Number of shards, one pinned thread each [default: number of online cores]
    #[arg(long)]
    pub shards: Option<usize>,
    /// When writes are fsynced: always (before the reply, group-committed), everysec, no [default: everysec]
    #[arg(long)]
    pub appendfsync: Option<FsyncPolicy>,
    /// Most simultaneous client connections [default: 10000]
    #[arg(long)]
    pub maxclients: Option<usize>,
    /// Log filter: error, warn, info, debug, trace, or a tracing directive [default: info]
    #[arg(long = "log-level")]
    pub log_level: Option<String>,
    /// Reads: linearizable (leader lease, else ReadIndex), lease (lease only), local (no check) [default: linearizable]
    #[arg(long = "read-consistency")]
    pub read_consistency: Option<ReadConsistency>,
    /// Snapshot each shard's state (and purge its Raft log) every N applied entries [default: 100000]
    #[arg(long = "snapshot-every")]
    pub snapshot_every: Option<u64>,
    /// Memory for the in-memory read cache of key records, MiB, split across shards [default: 1024]
    #[arg(long = "cache-mb")]
    pub cache_mb: Option<usize>,
    /// RocksDB block cache shared by every shard's column families, MiB [default: 256]
    #[arg(long = "block-cache-mb")]
    pub block_cache_mb: Option<usize>,
    /// Extra RocksDB options for the DB and every column family, in RocksDB's
    /// option-string syntax ("write_buffer_size=67108864;enable_pipelined_write=true") [default: none]
    #[arg(long = "rocksdb-options")]
    pub rocksdb_options: Option<String>,
    /// Microseconds an idle shard spins before parking its thread; trades CPU for cross-core latency [default: 0]
    #[arg(long = "spin-before-park-us")]
    pub spin_before_park_us: Option<u64>,
    /// Milliseconds applied writes may be held in memory and then written to RocksDB as one sorted batch (the Raft log holds them meanwhile): 12-20% less CPU per HSET/SADD/ZADD, but each such write stalls the shard for ~0.7 us per key held (milliseconds at full load); 0 = write at every Raft apply [default: 0]
    #[arg(long = "write-behind-ms")]
    pub write_behind_ms: Option<u64>,
    /// Milliseconds a reply may wait for a client that does not read before it is disconnected; 0 = never [default: 30000]
    #[arg(long = "client-output-write-timeout")]
    pub client_output_write_timeout: Option<u64>,
}

/// The same settings as read from a TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FileConfig {
    port: Option<u16>,
    bind: Option<String>,
    dir: Option<PathBuf>,
    shards: Option<usize>,
    appendfsync: Option<String>,
    maxclients: Option<usize>,
    log_level: Option<String>,
    spin_before_park_us: Option<u64>,
    client_output_write_timeout: Option<u64>,
    write_behind_ms: Option<u64>,
    cache_mb: Option<usize>,
    block_cache_mb: Option<usize>,
    rocksdb_options: Option<String>,
    snapshot_every: Option<u64>,
    read_consistency: Option<String>,
}

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config file {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("invalid config file {0}: {1}")]
    Parse(PathBuf, toml::de::Error),
    #[error("invalid setting: {0}")]
    Invalid(String),
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub config_file: Option<PathBuf>,
    pub port: u16,
    pub bind: String,
    pub dir: PathBuf,
    pub shards: usize,
    pub appendfsync: FsyncPolicy,
    pub maxclients: usize,
    pub log_level: String,
    pub spin_before_park_us: u64,
    pub client_output_write_timeout: u64,
    pub write_behind_ms: u64,
    pub cache_mb: usize,
    pub block_cache_mb: usize,
    pub rocksdb_options: String,
    pub snapshot_every: u64,
    pub read_consistency: ReadConsistency,
}

impl Config {
    pub fn load(flags: Flags) -> Result<Config, ConfigError> {
        let file = match &flags.config {
            None => FileConfig::default(),
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| ConfigError::Read(path.clone(), e))?;
                toml::from_str(&text).map_err(|e| ConfigError::Parse(path.clone(), e))?
            }
        };
        let appendfsync = match (flags.appendfsync, file.appendfsync) {
            (Some(p), _) => p,
            (None, Some(s)) => s.parse().map_err(ConfigError::Invalid)?,
            (None, None) => FsyncPolicy::EverySec,
        };
        let read_consistency = match (flags.read_consistency, file.read_consistency) {
            (Some(r), _) => r,
            (None, Some(s)) => s.parse().map_err(ConfigError::Invalid)?,
            (None, None) => ReadConsistency::Linearizable,
        };
        let online = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let shards = flags.shards.or(file.shards).unwrap_or(online);
        if shards == 0 || shards > 1024 {
            return Err(ConfigError::Invalid(format!(
                "shards must be between 1 and 1024, not {shards}"
            )));
        }
        let maxclients = flags.maxclients.or(file.maxclients).unwrap_or(10_000);
        if maxclients == 0 {
            return Err(ConfigError::Invalid("maxclients must be at least 1".into()));
        }
        Ok(Config {
            config_file: flags.config,
            port: flags.port.or(file.port).unwrap_or(6379),
            bind: flags
                .bind
                .or(file.bind)
                .unwrap_or_else(|| "127.0.0.1".into()),
            dir: flags
                .dir
                .or(file.dir)
                .unwrap_or_else(|| PathBuf::from("./data")),
            shards,
            appendfsync,
            maxclients,
            log_level: flags
                .log_level
                .or(file.log_level)
                .unwrap_or_else(|| "info,openraft=warn".into()),
            cache_mb: flags.cache_mb.or(file.cache_mb).unwrap_or(1024),
            block_cache_mb: flags
                .block_cache_mb
                .or(file.block_cache_mb)
                .unwrap_or(StorageOptions::default().block_cache_bytes >> 20),
            rocksdb_options: flags
                .rocksdb_options
                .or(file.rocksdb_options)
                .unwrap_or_default(),
            read_consistency,
            snapshot_every: flags
                .snapshot_every
                .or(file.snapshot_every)
                .unwrap_or(100_000)
                .max(1),
            spin_before_park_us: flags
                .spin_before_park_us
                .or(file.spin_before_park_us)
                .unwrap_or(0),
            client_output_write_timeout: flags
                .client_output_write_timeout
                .or(file.client_output_write_timeout)
                .unwrap_or(30_000),
            write_behind_ms: flags
                .write_behind_ms
                .or(file.write_behind_ms)
                .unwrap_or(0)
                .min(60_000),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_file_and_defaults_apply() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(&path, "port = 7000\nappendfsync = \"always\"\nshards = 3\n").unwrap();
        let flags = Flags::parse_from([
            "shardis",
            "--config",
            path.to_str().unwrap(),
            "--port",
            "7001",
        ]);
        let c = Config::load(flags).unwrap();
        assert_eq!(c.port, 7001);
        assert_eq!(c.appendfsync, FsyncPolicy::Always);
        assert_eq!(c.shards, 3);
        assert_eq!(c.bind, "127.0.0.1");
        assert_eq!(c.dir, PathBuf::from("./data"));
    }

    #[test]
    fn bad_values_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(&path, "colour = 1\n").unwrap();
        assert!(
            Config::load(Flags::parse_from([
                "shardis",
                "--config",
                path.to_str().unwrap()
            ]))
            .is_err()
        );
        assert!(Config::load(Flags::parse_from(["shardis", "--shards", "0"])).is_err());
        assert!(Flags::try_parse_from(["shardis", "--appendfsync", "sometimes"]).is_err());
    }
}
