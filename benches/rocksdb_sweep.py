#!/usr/bin/env python3
"""RocksDB option sweep: the same redis-benchmark rows against shardis started
with each candidate `--rocksdb-options` string, redis-server alongside as the
yardstick (its numbers show how noisy the box was during each variant).

    benches/rocksdb_sweep.py                      # the variants below
    benches/rocksdb_sweep.py --variants baseline,pipelined --tests set

Each variant gets a fresh data dir, pinned layout (server on CPU 0, client
on CPU 1), shardis --appendfsync everysec, every row repeated and the median
by ops/s kept. A variant is worth adopting only if it wins on several rows
by more than the redis column moved.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import bench, free_port, shardis_binary, wait_ready  # noqa: E402

VARIANTS = {
    "baseline": "",
    "wb-4m": "write_buffer_size=4194304",
    "wb-64m": "write_buffer_size=67108864",
    "pipelined": "enable_pipelined_write=true",
    "unordered": "unordered_write=true;allow_concurrent_memtable_write=true",
    "no-compression": "compression=kNoCompression",
    "no-memtable-bloom": "memtable_whole_key_filtering=false;memtable_prefix_bloom_size_ratio=0",
    "concurrent-memtable": "allow_concurrent_memtable_write=true",
}


def median_row(runs, test):
    rows = sorted((r[test] for r in runs if test in r), key=lambda r: r["rps"])
    return rows[len(rows) // 2]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--tests", default="set,get,lpush,hset,zadd")
    ap.add_argument("--pipelines", default="1,16")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--requests", type=int, default=200000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    binary = shardis_binary()
    data = tempfile.mkdtemp(prefix="shardis-sweep-")
    rport = free_port()
    redis = subprocess.Popen(["taskset", "-c", "0", "redis-server", "--port", str(rport), "--save", "",
                              "--appendonly", "no", "--dir", data], stdout=subprocess.DEVNULL)
    rows = []
    try:
        wait_ready(rport)
        for name in args.variants.split(","):
            sport = free_port()
            shardis = subprocess.Popen(["taskset", "-c", "0", binary, "--port", str(sport), "--shards", "1",
                                        "--dir", os.path.join(data, name), "--log-level", "warn",
                                        "--rocksdb-options", VARIANTS[name]], stdout=subprocess.DEVNULL)
            try:
                wait_ready(sport)
                for p in [int(x) for x in args.pipelines.split(",")]:
                    n = args.requests * (4 if p > 1 else 1)
                    runs = {"redis": [], "shardis": []}
                    for _ in range(args.repeat):
                        for who, port in (("redis", rport), ("shardis", sport)):
                            runs[who].append(bench(port, args.tests, p, args.clients, n, 1000000, args.size, "1"))
                    for test in runs["shardis"][0]:
                        rows.append((name, test, p, median_row(runs["redis"], test), median_row(runs["shardis"], test)))
                print(f"# {name}: done", file=sys.stderr, flush=True)
            finally:
                shardis.terminate()
                shardis.wait(timeout=60)
    finally:
        redis.terminate()
        redis.wait(timeout=60)
        shutil.rmtree(data, ignore_errors=True)

    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"date: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}; {os.cpu_count()} x {cpu}")
    print(f"command: benches/rocksdb_sweep.py {' '.join(sys.argv[1:])}".rstrip())
    print(f"pinned; shardis everysec; -c {args.clients} -d {args.size} -r 1000000; median of {args.repeat}")
    print()
    print("| variant | test | -P | redis ops/s | shardis ops/s | ratio | shardis p50/p99/p99.9 ms |")
    print("|---|---|---|---|---|---|---|")
    for name, test, p, r, s in rows:
        print(f"| {name} | {test} | {p} | {r['rps']:,.0f} | {s['rps']:,.0f} | {s['rps'] / r['rps']:.2f}x | "
              f"{s['p50']:.3f} / {s['p99']:.3f} / {s['p999']:.3f} |")
    print()
    print("Options: " + "; ".join(f"`{n}` = `{VARIANTS[n] or '(ours)'}`" for n in args.variants.split(",")))


if __name__ == "__main__":
    main()
