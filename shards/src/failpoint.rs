//! Fault injection for tests that drive the real binary: storage and
//! Raft failures cannot be provoked from outside on demand, so the server
//! reads `SHARDIS_FAILPOINTS` once at start, e.g.
//! `SHARDIS_FAILPOINTS=log-sync=3,no-leader=0`: each named point passes
//! its first N hits and fails every hit after. Unset (production), every
//! check is one `OnceLock` read of an empty list.
//!
//! Points: `log-sync` (the Raft log's WAL sync under `always`),
//! `wal-sync` (the once-a-second fsync under `everysec`), `no-leader`
//! (a shard's group reports no leader for writes), `data-commit` (a
//! shard's write of applied data to RocksDB).

use std::sync::OnceLock;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;

struct Point {
    name: String,
    pass: u64,
    hits: AtomicU64,
}

fn points() -> &'static [Point] {
    static POINTS: OnceLock<Vec<Point>> = OnceLock::new();
    POINTS.get_or_init(|| {
        let spec = std::env::var("SHARDIS_FAILPOINTS").unwrap_or_default();
        spec.split(',')
            .filter_map(|p| {
                let (name, n) = p.trim().split_once('=')?;
                Some(Point {
                    name: name.to_string(),
                    pass: n.parse().ok()?,
                    hits: AtomicU64::new(0),
                })
            })
            .collect()
    })
}

/// True when the point `name` is armed and this hit must fail.
pub fn fail(name: &str) -> bool {
    points()
        .iter()
        .any(|p| p.name == name && p.hits.fetch_add(1, Ordering::Relaxed) >= p.pass)
}
