"""Where a burst's CPU went: by kind of process and by library, from perf samples (issue 16).

  BENCH_WINDOW=/tmp/w.json perf record -a -F 499 -k CLOCK_MONOTONIC -o /tmp/p.data -- \\
      python benchmarks/scale.py burst 10000 2 8
  python benchmarks/cpu_split.py /tmp/w.json /tmp/p.data [499]

``scale.py`` writes the window of its CPU line (0.5 s before the due time to the last publish, on
CLOCK_MONOTONIC, which ``-k CLOCK_MONOTONIC`` gives perf too) and the kind of every process it saw. This script
counts perf's samples in that window by kind (workers, database server, broker, scheduler, benchmark, other) and by
where the CPU was (the Python interpreter, SQLite, psycopg and libpq, the C library, the kernel, a server's own
binary), at 1/FREQ s of CPU a sample (``-F``; perf's software clock samples each busy core at that rate here,
where there are no hardware counters). It answers what ``scale.py``'s CPU line cannot: how much of the embedded
workers' CPU is SQLite's, against what the PostgreSQL server spends on the same statements (RESULTS-scale.md,
2026-12-06 16:47). perf must run as root, or with kernel.perf_event_paranoid <= 0.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

#: where a sample's code lives, by the shared object's file name (first match); anything else is "other"
PLACES = (("libsqlite3", "SQLite"), ("_sqlite3", "SQLite"), ("_psycopg", "psycopg"), ("libpq", "psycopg"),
          ("libpython", "Python"), ("python3", "Python"), ("cpython-", "Python"), ("kernel", "kernel"),
          ("libc.so", "libc"), ("postgres", "server"), ("redis-server", "server"), ("valkey-server", "server"),
          ("beam.smp", "server"))


def place(dso: str) -> str:
    name = dso.rsplit("/", 1)[-1]
    return next((p for key, p in PLACES if key in name), "other")


def split(window: dict[str, Any], lines: list[str]) -> Counter[tuple[str, str]]:
    """Samples in the window by (kind of process, place). ``lines``: ``perf script -F pid,time,ip,dso`` output
    (perf prints the shared object only beside the address)."""
    kinds = {int(pid): kind for pid, kind in window["kinds"].items()}
    counts: Counter[tuple[str, str]] = Counter()
    for line in lines:
        parts = line.split()
        if len(parts) < 2 or not parts[0].isdigit() or parts[0] == "0":
            continue  # the idle task
        at = float(parts[1].rstrip(":"))
        if window["start"] <= at <= window["end"]:
            dso = parts[-1].strip("()") if parts[-1].startswith("(") else ""
            counts[(kinds.get(int(parts[0]), "other"), place(dso))] += 1
    return counts


def main(window_file: str, perf_data: str, freq: int = 499) -> None:
    window = json.loads(Path(window_file).read_text())
    out = subprocess.run(["perf", "script", "-i", perf_data, "-F", "pid,time,ip,dso"], capture_output=True, text=True,
                         check=True).stdout
    counts = split(window, out.splitlines())
    by_kind: Counter[str] = Counter()
    for (kind, _), n in counts.items():
        by_kind[kind] += n
    print(f"CPU in the window ({window['end'] - window['start']:.2f} s), by kind and where, at 1/{freq} s a sample:")
    for kind, total in by_kind.most_common():
        places = sorted(((n, p) for (k, p), n in counts.items() if k == kind), reverse=True)
        print(f"  {kind} {total / freq:.2f} s: " + ", ".join(f"{p} {n / freq:.2f}" for n, p in places if n / freq >= 0.01))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], *[int(a) for a in sys.argv[3:4]])
