//! `shardis-bench`: a load generator that shows tail latency.
//!
//! redis-benchmark measures closed-loop: a slow reply delays the next
//! request, so stalls hide (coordinated omission). This tool runs either
//! closed-loop (`--rate 0`) or open-loop at a constant arrival rate, where
//! each request has an intended start time and latency is measured from
//! it. It prints HDR percentiles of the raw service time and of the
//! coordinated-omission-corrected latency.
//!
//! ```text
//! shardis-bench --port 6379 --clients 50 --requests 1000000 --read-ratio 0.9 --dist zipf
//! shardis-bench --port 6379 --clients 50 --rate 50000 --duration 10
//! ```
//! Keys route by Redis Cluster hash slot (`--slot-aware` reports how they
//! spread over a node's shards); against a cluster each node would get its
//! slot range once cluster mode lands.

mod load;
mod report;

use clap::Parser;

/// Workload description.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "shardis-bench",
    about = "Open/closed-loop load generator with HDR latency percentiles"
)]
pub struct Args {
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    #[arg(long, default_value_t = 6379)]
    pub port: u16,
    /// Concurrent connections.
    #[arg(long, default_value_t = 50)]
    pub clients: usize,
    /// Client threads the connections are spread over; 0 = one per connection.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Commands in flight per connection.
    #[arg(long, default_value_t = 1)]
    pub pipeline: usize,
    /// Total requests (closed-loop); ignored when --duration is set.
    #[arg(long, default_value_t = 200_000)]
    pub requests: u64,
    /// Run for this many seconds instead of a request count.
    #[arg(long)]
    pub duration: Option<f64>,
    /// Target ops/s over all connections; 0 = closed loop (as fast as replies come).
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
    /// Fraction of GETs; the rest are SETs.
    #[arg(long, default_value_t = 0.5)]
    pub read_ratio: f64,
    /// Number of distinct keys.
    #[arg(long, default_value_t = 1_000_000)]
    pub keys: u64,
    /// Key distribution: uniform or zipf.
    #[arg(long, default_value = "uniform")]
    pub dist: String,
    /// Zipf exponent.
    #[arg(long, default_value_t = 0.99)]
    pub zipf_s: f64,
    /// SET value size in bytes.
    #[arg(long, default_value_t = 64)]
    pub value_size: usize,
    /// Also print how the keys spread over N shards by hash slot.
    #[arg(long)]
    pub slot_aware: Option<usize>,
}

fn main() {
    let args = Args::parse();
    if args.dist != "uniform" && args.dist != "zipf" {
        eprintln!("--dist must be uniform or zipf");
        std::process::exit(2);
    }
    let started = std::time::Instant::now();
    let result = match load::run(&args) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("shardis-bench: {e}");
            std::process::exit(1);
        }
    };
    report::print(&args, &result, started.elapsed());
}
