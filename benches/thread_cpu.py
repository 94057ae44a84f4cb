#!/usr/bin/env python3
"""CPU time per request of each of a server's threads during one
redis-benchmark run (from /proc/PID/task/*/stat), so a change's cost shows
as microseconds of CPU per op instead of ops/s, which on a shared 2-vCPU VM
swings by 20% between runs.

    benches/thread_cpu.py PID PORT N -- -c 50 -r 1000000 sadd s element:__rand_int__

redis-benchmark runs pinned to CPU 1 (the servers sit on CPU 0, as in
compare.py's pinned layout) with `-p PORT -n N --csv` and the arguments
after `--`. Prints its CSV line, then CPU seconds and µs/op per thread name
(digits dropped, so RocksDB's pool threads add up).
"""

import collections
import os
import subprocess
import sys
import time


def cpu_by_thread(pid):
    tick = os.sysconf("SC_CLK_TCK")
    out = collections.Counter()
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            stat = open(f"/proc/{pid}/task/{t}/stat").read()
        except FileNotFoundError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")].rstrip("0123456789:- ")
        fields = stat[stat.rindex(")") + 2:].split()
        out[name] += (int(fields[11]) + int(fields[12])) / tick
    return out


def main():
    if len(sys.argv) < 5 or sys.argv[4] != "--":
        sys.exit(__doc__)
    pid, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    before, t0 = cpu_by_thread(pid), time.time()
    out = subprocess.run(["taskset", "-c", "1", "redis-benchmark", "-p", port, "-n", str(n), "--csv"]
                         + sys.argv[5:], capture_output=True, text=True, check=True).stdout
    wall, after = time.time() - t0, cpu_by_thread(pid)
    print(out.strip().splitlines()[-1])
    total = 0.0
    for name in sorted(after):
        spent = after[name] - before[name]
        total += spent
        if spent > 0:
            print(f"  {name:20s} {spent:6.2f} s  {spent / n * 1e6:6.2f} us/op")
    print(f"  total {total:.2f} s of {wall:.2f} s wall, {total / n * 1e6:.2f} us/op")


if __name__ == "__main__":
    main()
