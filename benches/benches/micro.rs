//! Micro benchmarks of the per-command building blocks.
//!
//! `cargo bench -p shardis-bench --bench micro` (release profile; the
//! results print with the command that made them).

use std::time::Duration;
use std::time::Instant;

use bytes::Bytes;
use bytes::BytesMut;
use criterion::BenchmarkId;
use criterion::Criterion;
use criterion::Throughput;
use criterion::criterion_group;
use criterion::criterion_main;
use glommio::LocalExecutorBuilder;
use glommio::Placement;
use shardis_net::resp::Limits;
use shardis_net::resp::Protocol;
use shardis_net::resp::Reply;
use shardis_net::resp::RequestParser;
use shardis_net::resp::encode;
use shardis_shards::slot::key_slot;
use shardis_shards::storage::meta::Meta;

fn resp_parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("resp_parse");
    for pipeline in [1usize, 16] {
        let mut wire = Vec::new();
        for i in 0..pipeline {
            let key = format!("key:{i:012}");
            wire.extend(
                format!(
                    "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n$3\r\nxyz\r\n",
                    key.len()
                )
                .bytes(),
            );
        }
        g.throughput(Throughput::Elements(pipeline as u64));
        g.bench_with_input(BenchmarkId::new("set", pipeline), &wire, |b, wire| {
            let limits = Limits::default();
            b.iter(|| {
                let mut buf = BytesMut::from(&wire[..]);
                let mut p = RequestParser::default();
                let mut n = 0;
                while let Ok(Some(_)) = p.next(&mut buf, &limits) {
                    n += 1;
                }
                n
            })
        });
    }
    g.finish();
}

fn resp_encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("resp_encode");
    let value = Bytes::from(vec![b'x'; 64]);
    for (name, proto) in [("resp2", Protocol::Resp2), ("resp3", Protocol::Resp3)] {
        g.bench_function(format!("bulk64_{name}"), |b| {
            let mut out = BytesMut::with_capacity(1 << 16);
            b.iter(|| {
                out.clear();
                encode(&mut out, Reply::Bulk(value.clone()), proto);
                out.len()
            })
        });
        g.bench_function(format!("ok_{name}"), |b| {
            let mut out = BytesMut::with_capacity(1 << 16);
            b.iter(|| {
                out.clear();
                encode(&mut out, Reply::Ok, proto);
                out.len()
            })
        });
    }
    g.finish();
}

fn slot_hashing(c: &mut Criterion) {
    c.bench_function("key_slot_16B", |b| b.iter(|| key_slot(b"key:000000123456")));
    c.bench_function("key_slot_hashtag", |b| {
        b.iter(|| key_slot(b"{user1000}.following"))
    });
}

fn metadata(c: &mut Criterion) {
    let m = Meta {
        expire_at: Some(1_700_000_000_000),
        ..Meta::string(Bytes::from(vec![b'v'; 64]))
    };
    let raw = Bytes::from(m.encode());
    c.bench_function("meta_encode_string64", |b| b.iter(|| m.encode().len()));
    c.bench_function("meta_decode_string64", |b| {
        b.iter(|| Meta::decode_bytes(&raw).map(|m| m.expire_at))
    });
}

/// Round trips between two executors pinned to different CPUs, with the
/// receiver parked between messages (the common case at low load).
fn cross_core_hop(c: &mut Criterion) {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    if cpus < 2 {
        return;
    }
    let mut g = c.benchmark_group("cross_core_round_trip");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    for spin_us in [0u64, 1000] {
        g.bench_function(BenchmarkId::new("flume", format!("spin{spin_us}us")), |b| {
            b.iter_custom(|iters| flume_round_trips(iters, spin_us))
        });
    }
    g.finish();
}

fn flume_round_trips(iters: u64, spin_us: u64) -> Duration {
    let (to_b, from_a) = flume::bounded::<u64>(1);
    let (to_a, from_b) = flume::bounded::<u64>(1);
    let spin = Duration::from_micros(spin_us);
    let echo = LocalExecutorBuilder::new(Placement::Fixed(1))
        .spin_before_park(spin)
        .spawn(move || async move {
            while let Ok(v) = from_a.recv_async().await {
                if to_a.send_async(v).await.is_err() {
                    break;
                }
            }
        })
        .expect("echo executor");
    let driver = LocalExecutorBuilder::new(Placement::Fixed(0))
        .spin_before_park(spin)
        .spawn(move || async move {
            let start = Instant::now();
            for i in 0..iters {
                let _ = to_b.send_async(i).await;
                let _ = from_b.recv_async().await;
            }
            start.elapsed()
        })
        .expect("driver executor");
    let elapsed = driver.join().unwrap_or_default();
    let _ = echo.join();
    elapsed
}

criterion_group!(
    benches,
    resp_parse,
    resp_encode,
    slot_hashing,
    metadata,
    cross_core_hop
);
criterion_main!(benches);
