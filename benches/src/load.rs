//! Connections, request generation and latency recording.

use std::io::Read;
use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;
use std::time::Instant;

use bytes::BytesMut;
use hdrhistogram::Histogram;
use rand::Rng;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use rand_distr::Distribution;
use rand_distr::Zipf;
use redis_protocol::resp2::decode::decode_bytes_mut;
use redis_protocol::resp2::types::BytesFrame;

use crate::Args;

/// What one run measured.
pub struct RunResult {
    /// Service time: from actually sending a request to its reply (µs).
    pub service: Histogram<u64>,
    /// Latency from the intended send time (open loop) or corrected for
    /// coordinated omission (closed loop), µs.
    pub corrected: Histogram<u64>,
    pub ops: u64,
    pub errors: u64,
    pub elapsed: Duration,
    /// Keys generated per shard, when --slot-aware is given.
    pub per_shard: Vec<u64>,
}

impl RunResult {
    fn empty(shards: usize) -> RunResult {
        RunResult {
            service: histogram(),
            corrected: histogram(),
            ops: 0,
            errors: 0,
            elapsed: Duration::ZERO,
            per_shard: vec![0; shards],
        }
    }
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds")
}

fn resp(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend(format!("${}\r\n", a.len()).bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

struct KeyGen {
    rng: SmallRng,
    zipf: Option<Zipf<f64>>,
    keys: u64,
}

impl KeyGen {
    fn next(&mut self) -> u64 {
        match &self.zipf {
            Some(z) => (z.sample(&mut self.rng) as u64)
                .saturating_sub(1)
                .min(self.keys - 1),
            None => self.rng.gen_range(0..self.keys),
        }
    }
}

/// Runs the workload on `args.threads` threads and merges their histograms.
pub fn run(args: &Args) -> std::io::Result<RunResult> {
    let threads = if args.threads == 0 {
        args.clients
    } else {
        args.threads
    }
    .clamp(1, args.clients.max(1));
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let args = args.clone();
            let conns = args.clients / threads + usize::from(t < args.clients % threads);
            std::thread::spawn(move || thread_main(&args, t as u64, conns, threads as u64))
        })
        .collect();
    let mut total = RunResult::empty(args.slot_aware.unwrap_or(0));
    for h in handles {
        let r = h
            .join()
            .map_err(|_| std::io::Error::other("worker panicked"))??;
        total
            .service
            .add(&r.service)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        total
            .corrected
            .add(&r.corrected)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        total.ops += r.ops;
        total.errors += r.errors;
        for (a, b) in total.per_shard.iter_mut().zip(r.per_shard) {
            *a += b;
        }
    }
    total.elapsed = started.elapsed();
    Ok(total)
}

struct Conn {
    stream: TcpStream,
    buf: BytesMut,
    /// Intended start of the next batch (open loop).
    next_due: Instant,
}

/// One thread drives `conns` connections with blocking I/O: each round
/// every connection sends one pipelined batch, then the thread collects the
/// replies in the same order. Give each connection its own thread
/// (`--threads` = `--clients`, the default) for exact per-connection timing.
fn thread_main(args: &Args, thread: u64, conns: usize, threads: u64) -> std::io::Result<RunResult> {
    let mut result = RunResult::empty(args.slot_aware.unwrap_or(0));
    if conns == 0 {
        return Ok(result);
    }
    let mut keygen = KeyGen {
        rng: SmallRng::seed_from_u64(0x5eed ^ thread),
        zipf: (args.dist == "zipf")
            .then(|| Zipf::new(args.keys, args.zipf_s))
            .transpose()
            .map_err(|e| std::io::Error::other(format!("zipf: {e:?}")))?,
        keys: args.keys.max(1),
    };
    let value = vec![b'x'; args.value_size];
    let start = Instant::now();
    let mut pool = Vec::with_capacity(conns);
    let per_conn_rate = args.rate / (args.clients as f64) / args.pipeline as f64;
    let interval = (args.rate > 0.0).then(|| Duration::from_secs_f64(1.0 / per_conn_rate));
    for i in 0..conns {
        // Stagger the connections' schedules over one interval.
        let offset = interval.map_or(Duration::ZERO, |iv| iv.mul_f64(i as f64 / conns as f64));
        let stream = TcpStream::connect((args.host.as_str(), args.port))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        pool.push(Conn {
            stream,
            buf: BytesMut::with_capacity(64 * 1024),
            next_due: start + offset,
        });
    }
    let budget = args.requests / threads;
    let deadline = args.duration.map(|d| start + Duration::from_secs_f64(d));
    let mut batch = Vec::new();
    // (sent, intended) of each connection's batch in flight.
    let mut inflight: Vec<(Instant, Instant)> = Vec::with_capacity(conns);
    loop {
        let done = match deadline {
            Some(d) => Instant::now() >= d,
            None => result.ops >= budget,
        };
        if done {
            break;
        }
        // Phase 1: every connection sends its batch, so all are in flight.
        inflight.clear();
        for conn in pool.iter_mut() {
            if interval.is_some() {
                let now = Instant::now();
                if conn.next_due > now {
                    std::thread::sleep(conn.next_due - now);
                }
            }
            batch.clear();
            for _ in 0..args.pipeline {
                let k = keygen.next();
                let key = format!("key:{k:012}");
                if let Some(n) = args.slot_aware {
                    let slot = shardis_shards::slot::key_slot(key.as_bytes()).0 as usize;
                    result.per_shard[slot * n / 16384] += 1;
                }
                if keygen.rng.gen_bool(args.read_ratio.clamp(0.0, 1.0)) {
                    batch.extend(resp(&[b"GET", key.as_bytes()]));
                } else {
                    batch.extend(resp(&[b"SET", key.as_bytes(), &value]));
                }
            }
            let sent = Instant::now();
            let intended = if interval.is_some() {
                conn.next_due
            } else {
                sent
            };
            conn.stream.write_all(&batch)?;
            inflight.push((sent, intended));
        }
        // Phase 2: collect every connection's replies.
        for (conn, (sent, intended)) in pool.iter_mut().zip(inflight.iter().copied()) {
            let mut replies = 0;
            while replies < args.pipeline {
                match decode_bytes_mut(&mut conn.buf) {
                    Ok(Some((frame, _, _))) => {
                        if matches!(frame, BytesFrame::Error(_)) {
                            result.errors += 1;
                        }
                        replies += 1;
                    }
                    Ok(None) => {
                        let mut chunk = [0u8; 16 * 1024];
                        let n = conn.stream.read(&mut chunk)?;
                        if n == 0 {
                            return Err(std::io::Error::other("server closed the connection"));
                        }
                        conn.buf.extend_from_slice(&chunk[..n]);
                    }
                    Err(e) => return Err(std::io::Error::other(format!("bad reply: {e:?}"))),
                }
            }
            let now = Instant::now();
            let service = (now - sent).as_micros().max(1) as u64;
            let latency = (now - intended).as_micros().max(1) as u64;
            for _ in 0..args.pipeline {
                let _ = result.service.record(service);
                match interval {
                    // Open loop: measured from the intended start already.
                    Some(_) => {
                        let _ = result.corrected.record(latency);
                    }
                    // Closed loop: fill in the requests a stall held back.
                    None => {
                        let expected = result.service.mean().max(1.0) as u64;
                        let _ = result.corrected.record_correct(service, expected);
                    }
                }
            }
            result.ops += args.pipeline as u64;
            if let Some(iv) = interval {
                conn.next_due += iv;
            }
        }
    }
    Ok(result)
}
