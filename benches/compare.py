#!/usr/bin/env python3
"""Side-by-side throughput and latency: redis-server vs shardis on this box.

Starts redis-server and shardis on free ports, runs the same redis-benchmark
matrix against both in one run (each row repeated, median by ops/s kept), and
prints one markdown table: ops/s, P50 / P99 / P99.9 (redis-benchmark's own
HDR histogram) and the shardis/redis ratio per row.

    benches/compare.py                        # the whole matrix below (over an hour)
    benches/compare.py --quick                # set,get at -c 50 -d 64, one mode
    benches/compare.py --modes none:everysec --tests set,get --clients 50 --sizes 64

Modes pair a redis persistence setting with a shardis --appendfsync policy
(`redis:shardis`); servers are restarted, on fresh data dirs, per mode:
  none:always      redis without persistence; shardis fsyncs its Raft log
                   (group commit) before every acknowledgement
  none:everysec    redis without persistence; shardis fsyncs once a second
  always:always    both fsync before acknowledging (redis AOF always)
  everysec:everysec both fsync once a second (redis AOF everysec)
The first mode runs the full matrix (--tests x --clients x --pipelines x
--sizes); the others run --durable-clients / --durable-sizes.

Layouts on a 2-core box:
  pinned  each server is pinned to CPU 0 (shardis with --shards 1),
          redis-benchmark to CPU 1: one core for the server, one for load.
          redis-server is single-threaded, so this is the fair split.
  shared  shardis runs its default one shard per core (pinned by itself),
          redis-server and redis-benchmark are left to the scheduler.
"""

import argparse
import os
import re
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ALL_TESTS = "set,get,incr,lpush,lpop,sadd,hset,zadd,mset,lrange_100"


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


def parse_report(text):
    """redis-benchmark's full report -> {test: {rps, p50, p99, p999}}.

    P99.9 is the first step of the HDR "percentile distribution" at or
    above 99.9% (redis-benchmark prints 99.902%); the CSV output has no
    P99.9 column, which is why the full report is parsed.
    """
    rows = {}
    for section in re.split(r"\n====== ", "\n" + text.replace("\r", "\n"))[1:]:
        name, _, body = section.partition(" ======")
        if "needed to benchmark" in name:
            continue
        p999 = None
        for pct, ms in re.findall(r"^([\d.]+)% <= ([\d.]+) milliseconds", body.split("Cumulative distribution")[0], re.M):
            if float(pct) >= 99.9:
                p999 = float(ms)
                break
        rps = re.search(r"throughput summary: ([\d.]+) requests per second", body)
        summary = re.search(r"avg\s+min\s+p50\s+p95\s+p99\s+max\s*\n\s*([\d.\s]+)", body)
        if not rps or not summary:
            continue
        avg, mn, p50, p95, p99, mx = (float(x) for x in summary.group(1).split()[:6])
        rows[name.strip()] = {"rps": float(rps.group(1)), "p50": p50, "p99": p99, "p999": p999 or mx}
    return rows


def requests_for(clients, pipeline, scale):
    """Enough requests for ~1-3 s per test on this box, fewer for one client."""
    if pipeline > 1:
        n = 400_000
    elif clients == 1:
        n = 20_000
    else:
        n = 100_000
    return max(1000, int(n * scale))


def bench(port, tests, pipeline, clients, requests, keyspace, size, pin, command=None):
    """One redis-benchmark run: its -t tests, or one command line given as
    `command` (an EVAL ...), which redis-benchmark then runs instead."""
    cmd = ["redis-benchmark", "-p", str(port), "-n", str(requests), "-c", str(clients),
           "-r", str(keyspace), "-P", str(pipeline), "-d", str(size)]
    cmd += shlex.split(command) if command else ["-t", tests]
    if pin:
        cmd = ["taskset", "-c", pin] + cmd
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return parse_report(out)


class Servers:
    """redis-server and shardis on free ports, fresh data dirs, one mode."""

    def __init__(self, binary, mode, layout, spin_us, data, extra=()):
        redis_policy, shardis_policy = mode.split(":")
        self.rport, self.sport = free_port(), free_port()
        pin = ["taskset", "-c", "0"] if layout == "pinned" else []
        persist = (["--appendonly", "no"] if redis_policy == "none"
                   else ["--appendonly", "yes", "--appendfsync", redis_policy])
        rdir = os.path.join(data, f"redis-{redis_policy}-{shardis_policy}")
        os.makedirs(rdir)
        self.procs = [
            subprocess.Popen(pin + ["redis-server", "--port", str(self.rport), "--save", "", "--dir", rdir,
                                    "--daemonize", "no"] + persist, stdout=subprocess.DEVNULL),
            subprocess.Popen(pin + [binary, "--port", str(self.sport),
                                    "--dir", os.path.join(data, f"shardis-{redis_policy}-{shardis_policy}"),
                                    "--appendfsync", shardis_policy, "--log-level", "warn",
                                    "--spin-before-park-us", str(spin_us)]
                             + (["--shards", "1"] if layout == "pinned" else []) + list(extra),
                             stdout=subprocess.DEVNULL),
        ]
        wait_ready(self.rport)
        wait_ready(self.sport)

    def stop(self):
        for proc in self.procs:
            proc.terminate()
            proc.wait(timeout=60)


def row_line(mode, test, c, p, d, n, r, s):
    return (f"| {mode} | {test.split(' (')[0]} | {c} | {p} | {d} | {n} | {r['rps']:,.0f} | {s['rps']:,.0f} | "
            f"{s['rps'] / r['rps']:.2f}x | {r['p50']:.3f} / {r['p99']:.3f} / {r['p999']:.3f} | "
            f"{s['p50']:.3f} / {s['p99']:.3f} / {s['p999']:.3f} |")


def run_stage(args, binary, mode, size, c, p, data):
    """One (mode, -d, -c, -P) cell on freshly started servers: every test,
    both servers, --repeat times, medians by ops/s. Rows also go to stderr
    as they finish, so a long run cut short still leaves its table."""
    cell = tempfile.mkdtemp(prefix="cell-", dir=data)
    servers = Servers(binary, mode, args.layout, args.spin_before_park_us, cell,
                      args.shardis_args.split())
    pin_client = "1" if args.layout == "pinned" else None
    results = []
    try:
        n = requests_for(c, p, args.scale)
        runs = {"redis": [], "shardis": []}
        for _ in range(args.repeat):
            for name, port in (("redis", servers.rport), ("shardis", servers.sport)):
                runs[name].append(bench(port, args.tests, p, c, n, args.keyspace, size, pin_client,
                                        args.command))
        for test in runs["redis"][0]:
            med = {}
            for name in runs:
                by_rps = sorted((r[test] for r in runs[name] if test in r), key=lambda r: r["rps"])
                med[name] = by_rps[len(by_rps) // 2] if by_rps else None
            if med["shardis"]:
                results.append((mode, test, c, p, size, n, med["redis"], med["shardis"]))
                print(row_line(*results[-1]), file=sys.stderr, flush=True)
    finally:
        servers.stop()
        shutil.rmtree(cell, ignore_errors=True)
    return results


def stages(args):
    """The cells in the order they run: the headline cells (-c 50, -d 64,
    every mode) first, then the rest of the first mode's matrix."""
    modes = args.modes.split(",")
    first = [(m, s, c, p) for m in modes[:1]
             for s in csv_ints(args.sizes) for c in csv_ints(args.clients) for p in args.pipelines]
    rest = [(m, s, c, p) for m in modes[1:]
            for s in csv_ints(args.durable_sizes) for c in csv_ints(args.durable_clients) for p in args.pipelines]
    head_c, head_s = csv_ints(args.durable_clients)[0], csv_ints(args.durable_sizes)[0]
    ordered = [x for x in first if x[1] == head_s and x[2] == head_c] + rest
    return ordered + [x for x in first if x not in ordered]


def csv_ints(s):
    return [int(x) for x in s.split(",") if x]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tests", default=ALL_TESTS)
    ap.add_argument("--command", help="one command line for redis-benchmark instead of --tests, "
                                      "e.g. \"eval 'return redis.call(\\'incr\\', KEYS[1])' 1 counter\"")
    ap.add_argument("--modes", default="none:everysec,none:always,always:always,everysec:everysec")
    ap.add_argument("--clients", default="1,50,200")
    ap.add_argument("--pipelines", default="1,16")
    ap.add_argument("--sizes", default="64,1024")
    ap.add_argument("--durable-clients", default="50")
    ap.add_argument("--durable-sizes", default="64")
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies the requests per run")
    ap.add_argument("--keyspace", type=int, default=1000000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--layout", choices=["shared", "pinned"], default="pinned")
    ap.add_argument("--spin-before-park-us", type=int, default=0)
    ap.add_argument("--shardis-args", default="", help="extra shardis flags, e.g. '--write-behind-ms 50'")
    ap.add_argument("--quick", action="store_true", help="set,get; -c 50; -d 64; the first mode only")
    args = ap.parse_args()
    if args.quick:
        args.tests, args.clients, args.sizes = "set,get", "50", "64"
        args.modes = args.modes.split(",")[0]
    args.pipelines = csv_ints(args.pipelines)

    binary = shardis_binary()
    data = tempfile.mkdtemp(prefix="shardis-bench-")
    results = []
    try:
        for mode, size, c, p in stages(args):
            results += run_stage(args, binary, mode, size, c, p, data)
    finally:
        shutil.rmtree(data, ignore_errors=True)
    order = {m: i for i, m in enumerate(args.modes.split(","))}
    results.sort(key=lambda r: (order[r[0]], r[4], r[2], r[3]))

    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"date: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}; {os.cpu_count()} x {cpu}")
    print(f"command: benches/compare.py {shlex.join(sys.argv[1:])}".rstrip())
    print(f"layout: {args.layout}; -r {args.keyspace}; median of {args.repeat}; "
          f"mode = redis persistence : shardis --appendfsync")
    print()
    print("| mode | test | -c | -P | -d | -n | redis ops/s | shardis ops/s | ratio | "
          "redis p50/p99/p99.9 ms | shardis p50/p99/p99.9 ms |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for row in results:
        print(row_line(*row))
    ratios = {}
    for mode, test, c, p, d, n, r, s in results:
        ratios.setdefault(mode, []).append(s["rps"] / r["rps"])
    print()
    for mode, rs in ratios.items():
        print(f"- {mode}: geometric mean ratio {statistics.geometric_mean(rs):.2f}x over {len(rs)} rows")


if __name__ == "__main__":
    main()
