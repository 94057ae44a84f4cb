#!/usr/bin/env python3
"""Side-by-side throughput and latency: redis-server vs shardis on this box.

Starts redis-server and shardis on free ports, runs the same redis-benchmark
matrix against both in one run (each row repeated, median by ops/s kept), and
prints a markdown table with ops/s, P50/P99 (redis-benchmark's own HDR
histogram) and the shardis/redis ratio.

    benches/compare.py                       # defaults below
    benches/compare.py --fsync always        # shardis always vs redis AOF always
    benches/compare.py --layout pinned       # 1 core per server, client on the other

Layouts on a 2-core box:
  shared  shardis runs its default one shard per core (pinned by itself),
          redis-server and redis-benchmark are left to the scheduler.
  pinned  each server is pinned to CPU 0 (shardis with --shards 1),
          redis-benchmark to CPU 1: one core for the server, one for load.
"""

import argparse
import csv
import io
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port, deadline=60):
    end = time.time() + deadline
    while time.time() < end:
        try:
            out = subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True, timeout=2)
            if out.stdout.strip() == "PONG":
                return
        except subprocess.TimeoutExpired:
            pass
        time.sleep(0.1)
    sys.exit(f"server on port {port} did not start")


def shardis_binary():
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    subprocess.run(["cargo", "build", "--release", "--bin", "shardis"], cwd=ROOT, check=True)
    return os.path.join(target, "release", "shardis")


def bench(port, tests, pipeline, clients, requests, keyspace, size, pin):
    cmd = ["redis-benchmark", "-p", str(port), "-t", tests, "-n", str(requests), "-c", str(clients),
           "-r", str(keyspace), "-P", str(pipeline), "-d", str(size), "--csv"]
    if pin:
        cmd = ["taskset", "-c", pin] + cmd
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rows = {}
    for row in csv.DictReader(io.StringIO(out)):
        rows[row["test"]] = {"rps": float(row["rps"]), "p50": float(row["p50_latency_ms"]),
                             "p99": float(row["p99_latency_ms"])}
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tests", default="set,get")
    ap.add_argument("--pipelines", default="1,16")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=300000)
    ap.add_argument("--keyspace", type=int, default=1000000)
    ap.add_argument("--size", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--fsync", choices=["no", "everysec", "always"], default="everysec",
                    help="shardis --appendfsync; redis runs without persistence unless 'always'")
    ap.add_argument("--layout", choices=["shared", "pinned"], default="shared")
    ap.add_argument("--spin-before-park-us", type=int, default=0)
    args = ap.parse_args()

    binary = shardis_binary()
    data = tempfile.mkdtemp(prefix="shardis-bench-")
    rport, sport = free_port(), free_port()
    pin_server = ["taskset", "-c", "0"] if args.layout == "pinned" else []
    pin_client = "1" if args.layout == "pinned" else None
    redis_persist = ["--appendonly", "yes", "--appendfsync", "always"] if args.fsync == "always" else ["--appendonly", "no"]
    redis = subprocess.Popen(pin_server + ["redis-server", "--port", str(rport), "--save", "", "--dir", data,
                                           "--daemonize", "no"] + redis_persist, stdout=subprocess.DEVNULL)
    shard_args = ["--shards", "1"] if args.layout == "pinned" else []
    shardis = subprocess.Popen(pin_server + [binary, "--port", str(sport), "--dir", os.path.join(data, "shardis"),
                                             "--appendfsync", args.fsync, "--log-level", "warn",
                                             "--spin-before-park-us", str(args.spin_before_park_us)] + shard_args,
                               stdout=subprocess.DEVNULL)
    try:
        wait_ready(rport)
        wait_ready(sport)
        results = []
        for p in [int(x) for x in args.pipelines.split(",")]:
            runs = {"redis": [], "shardis": []}
            for _ in range(args.repeat):
                for name, port in (("redis", rport), ("shardis", sport)):
                    runs[name].append(bench(port, args.tests, p, args.clients, args.requests, args.keyspace,
                                            args.size, pin_client))
            for test in runs["redis"][0]:
                med = {}
                for name in runs:
                    by_rps = sorted((r[test] for r in runs[name]), key=lambda r: r["rps"])
                    med[name] = by_rps[len(by_rps) // 2]
                results.append((test, p, med["redis"], med["shardis"]))
    finally:
        for proc in (redis, shardis):
            proc.terminate()
            proc.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)

    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"date: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}; {os.cpu_count()} x {cpu}")
    print(f"command: benches/compare.py {' '.join(sys.argv[1:])}".rstrip())
    print(f"layout: {args.layout}; shardis --appendfsync {args.fsync}; redis-server "
          f"{'appendonly yes appendfsync always' if args.fsync == 'always' else 'without persistence'}; "
          f"-c {args.clients} -n {args.requests} -r {args.keyspace} -d {args.size}; median of {args.repeat}")
    print()
    print("| test | -P | redis ops/s | shardis ops/s | ratio | redis p50/p99 ms | shardis p50/p99 ms |")
    print("|---|---|---|---|---|---|---|")
    for test, p, r, s in results:
        print(f"| {test} | {p} | {r['rps']:,.0f} | {s['rps']:,.0f} | {s['rps'] / r['rps']:.2f}x | "
              f"{r['p50']:.3f} / {r['p99']:.3f} | {s['p50']:.3f} / {s['p99']:.3f} |")


if __name__ == "__main__":
    main()
