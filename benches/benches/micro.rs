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
        g.bench_function(
            BenchmarkId::new("glommio_shared_channel", format!("spin{spin_us}us")),
            |b| b.iter_custom(|iters| glommio_round_trips(iters, spin_us)),
        );
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

/// The same round trip over glommio's own cross-executor channel
/// (`shared_channel`), the alternative to flume for the hop.
fn glommio_round_trips(iters: u64, spin_us: u64) -> Duration {
    use glommio::channels::shared_channel;
    let (to_b, from_a) = shared_channel::new_bounded::<u64>(1);
    let (to_a, from_b) = shared_channel::new_bounded::<u64>(1);
    let spin = Duration::from_micros(spin_us);
    let echo = LocalExecutorBuilder::new(Placement::Fixed(1))
        .spin_before_park(spin)
        .spawn(move || async move {
            let (rx, tx) = (from_a.connect().await, to_a.connect().await);
            while let Some(v) = rx.recv().await {
                if tx.send(v).await.is_err() {
                    break;
                }
            }
        })
        .expect("echo executor");
    let driver = LocalExecutorBuilder::new(Placement::Fixed(0))
        .spin_before_park(spin)
        .spawn(move || async move {
            let (tx, rx) = (to_b.connect().await, from_b.connect().await);
            let start = Instant::now();
            for i in 0..iters {
                let _ = tx.send(i).await;
                let _ = rx.recv().await;
            }
            let elapsed = start.elapsed();
            drop(tx);
            elapsed
        })
        .expect("driver executor");
    let elapsed = driver.join().unwrap_or_default();
    let _ = echo.join();
    elapsed
}

/// The state machine applying a batch of 1, 16 or 256 entries (one SET
/// each, distinct keys) as one RocksDB WriteBatch, on a real RocksDB in a
/// temp dir: what a shard pays per Raft apply, without the log.
fn raft_apply(c: &mut Criterion) {
    let mut g = c.benchmark_group("raft_apply");
    g.sample_size(20).measurement_time(Duration::from_secs(5));
    for n in [1usize, 16, 256] {
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter_custom(|iters| apply_batches(iters, n))
        });
    }
    g.finish();
}

fn apply_batches(iters: u64, n: usize) -> Duration {
    use std::cell::RefCell;
    use std::rc::Rc;

    use openraft::entry::RaftEntry;
    use openraft::impls::leader_id_adv::LeaderId;
    use openraft::storage::RaftStateMachine;
    use openraft::type_config::TypeConfigExt;
    use shardis_shards::op::Op;
    use shardis_shards::op::SetCond;
    use shardis_shards::op::SetExpiry;
    use shardis_shards::raft::Entry;
    use shardis_shards::raft::LogId;
    use shardis_shards::raft::TypeConfig;
    use shardis_shards::raft::WriteRequest;
    use shardis_shards::raft::state_machine::ShardStateMachine;
    use shardis_shards::shard::Shard;
    use shardis_shards::slot::ShardId;
    use shardis_shards::storage;

    let dir = tempfile::tempdir().expect("temp dir");
    TypeConfig::run(async move {
        let db = storage::open(dir.path(), 1, &Default::default()).expect("open rocksdb");
        let shard = Shard::open(ShardId(0), db.clone(), 64 << 20).expect("open shard");
        let mut sm = ShardStateMachine::new(Rc::new(RefCell::new(shard)), db, storage::data_cf(0));
        let leader = LeaderId {
            term: 1u64,
            node_id: 0u64,
        };
        let mut index = 0u64;
        let mut spent = Duration::ZERO;
        for _ in 0..iters {
            let entries: Vec<_> = (0..n)
                .map(|_| {
                    index += 1;
                    let op = Op::Set {
                        key: Bytes::from(format!("key:{index:012}")),
                        value: Bytes::from_static(&[b'v'; 64]),
                        expiry: SetExpiry::Clear,
                        cond: SetCond::Always,
                        get: false,
                    };
                    let req = WriteRequest {
                        now_ms: 0,
                        ops: vec![op],
                    };
                    Ok((Entry::new_normal(LogId::new(leader, index), req), None))
                })
                .collect();
            let start = Instant::now();
            sm.apply(futures_lite::stream::iter(entries))
                .await
                .expect("apply");
            spent += start.elapsed();
        }
        spent
    })
}

criterion_group!(
    benches,
    resp_parse,
    resp_encode,
    slot_hashing,
    metadata,
    cross_core_hop,
    raft_apply
);
criterion_main!(benches);
