#!/usr/bin/env python3
"""How long DEL of a big collection takes: redis-server vs shardis.

Fills a hash (or set / zset / list) with N elements through a pipelined
raw-RESP connection, then times DEL of it from the client's side (the
round trip, median of several keys). shardis drops a collection with one
metadata delete plus one range tombstone over its versioned sub-keys, so
DEL does not walk the elements; compaction reclaims them later.

    benches/del_big_key.py --elements 1000000 --keys 3
"""

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FILL = {
    "hash": lambda k, i, j: [b"HSET", k] + sum(([b"f%d" % n, b"v"] for n in range(i, j)), []),
    "set": lambda k, i, j: [b"SADD", k] + [b"m%d" % n for n in range(i, j)],
    "zset": lambda k, i, j: [b"ZADD", k] + sum(([b"%d" % n, b"m%d" % n] for n in range(i, j)), []),
    "list": lambda k, i, j: [b"RPUSH", k] + [b"e%d" % n for n in range(i, j)],
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def resp(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(1 << 16)
            if not chunk:
                raise RuntimeError("server closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def call_many(self, cmds):
        self.s.sendall(b"".join(resp(c) for c in cmds))
        replies = [self.line() for _ in cmds]
        bad = [r for r in replies if r.startswith(b"-")]
        if bad:
            raise RuntimeError(bad[0].decode())
        return replies


def wait_ready(port, proc):
    end = time.time() + 60
    while time.time() < end:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            Conn(port).call_many([[b"PING"]])
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("server did not start")


def measure(port, kind, elements, keys):
    c = Conn(port)
    times = []
    for n in range(keys):
        key = b"big:%s:%d" % (kind.encode(), n)
        step = 1000
        cmds = [FILL[kind](key, i, min(i + step, elements)) for i in range(0, elements, step)]
        for i in range(0, len(cmds), 50):
            c.call_many(cmds[i:i + 50])
        t0 = time.perf_counter()
        reply = c.call_many([[b"DEL", key]])[0]
        times.append((time.perf_counter() - t0) * 1e3)
        assert reply == b":1", reply
    return statistics.median(times), max(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--elements", type=int, default=1_000_000)
    ap.add_argument("--keys", type=int, default=3)
    ap.add_argument("--kinds", nargs="*", default=["hash", "zset"])
    args = ap.parse_args()
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    subprocess.run(["cargo", "build", "--release", "--bin", "shardis"], cwd=ROOT, check=True)
    shardis = os.path.join(target, "release", "shardis")
    print(f"| type | elements | server | DEL median ms | DEL max ms |")
    print("|---|---|---|---|---|")
    for name in ["redis-server", "shardis"]:
        work = tempfile.mkdtemp(prefix="delbig-")
        port = free_port()
        if name == "redis-server":
            cmd = ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no",
                   "--dir", work]
        else:
            cmd = [shardis, "--port", str(port), "--dir", work, "--log-level", "warn"]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_ready(port, proc)
            for kind in args.kinds:
                med, worst = measure(port, kind, args.elements, args.keys)
                print(f"| {kind} | {args.elements} | {name} | {med:.3f} | {worst:.3f} |", flush=True)
        finally:
            proc.kill()
            proc.wait()
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
