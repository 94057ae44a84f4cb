//! Prints a run's throughput and HDR percentiles.

use std::time::Duration;

use hdrhistogram::Histogram;

use crate::Args;
use crate::load::RunResult;

fn ms(us: u64) -> String {
    format!("{:.3}", us as f64 / 1000.0)
}

fn line(name: &str, h: &Histogram<u64>) -> String {
    let q = |p: f64| ms(h.value_at_quantile(p));
    format!(
        "| {name} | {} | {} | {} | {} | {} | {} |",
        q(0.5),
        q(0.9),
        q(0.99),
        q(0.999),
        q(0.9999),
        ms(h.max())
    )
}

pub fn print(args: &Args, r: &RunResult, wall: Duration) {
    let mode = if args.rate > 0.0 {
        format!("open loop at {} ops/s", args.rate)
    } else {
        "closed loop".into()
    };
    println!(
        "command: shardis-bench {}",
        std::env::args().skip(1).collect::<Vec<_>>().join(" ")
    );
    println!(
        "{mode}; {} clients x pipeline {}; read ratio {}; {} keys ({}); value {} B",
        args.clients, args.pipeline, args.read_ratio, args.keys, args.dist, args.value_size
    );
    println!(
        "ops: {}  errors: {}  elapsed: {:.2}s  throughput: {:.0} ops/s",
        r.ops,
        r.errors,
        wall.as_secs_f64(),
        r.ops as f64 / r.elapsed.as_secs_f64().max(1e-9)
    );
    println!();
    println!("| latency (ms) | p50 | p90 | p99 | p99.9 | p99.99 | max |");
    println!("|---|---|---|---|---|---|---|");
    println!("{}", line("service time", &r.service));
    println!("{}", line("CO-corrected", &r.corrected));
    if !r.per_shard.is_empty() {
        let total: u64 = r.per_shard.iter().sum();
        let spread: Vec<String> = r
            .per_shard
            .iter()
            .map(|n| format!("{:.1}%", *n as f64 * 100.0 / total.max(1) as f64))
            .collect();
        println!("\nkeys per shard by hash slot: {}", spread.join(" "));
    }
}
