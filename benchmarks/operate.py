"""What watching publisher costs: a cold `publisher health` (with a worker pool and a scheduler running, on the
embedded defaults) and the recording calls the publish path makes per attempt, with metrics off and on.

    python benchmarks/operate.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

from pinned import pin


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "publisher.cli", *args], env=env, capture_output=True, text=True)


def health_seconds(runs: int) -> list[float]:
    home = Path(tempfile.mkdtemp(prefix="publisher-bench-"))
    env = pin({k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")}) | {"PUBLISHER_HOME": str(home)}
    procs = [subprocess.Popen([sys.executable, "-m", "publisher.cli", *args], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
             for args in (("worker", "-p", "1", "-t", "2"), ("scheduler",))]
    try:
        deadline = time.monotonic() + 120
        while _cli(env, "health").returncode != 0:
            if time.monotonic() > deadline:
                raise SystemExit("health did not go green within 120 s")
            time.sleep(1)
        out = []
        for _ in range(runs):
            started = time.perf_counter()
            assert _cli(env, "health").returncode == 0
            out.append(time.perf_counter() - started)
        return out
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            p.wait(timeout=60)
        _cli(env, "broker", "stop")
        import shutil

        shutil.rmtree(home, ignore_errors=True)


def recording_us() -> tuple[float, float]:
    """Microseconds for one attempt's recording calls (delivery + attempt), metrics off, then on."""
    from publisher.ops import metrics

    def one() -> None:
        metrics.delivery("x", "published")
        metrics.attempt("x", "published", 1, 0.08, 0.4, False)

    n = 20_000
    off = timeit.timeit(one, number=n) / n * 1e6
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    metrics.serve(port, host="127.0.0.1")
    on = timeit.timeit(one, number=n) / n * 1e6
    metrics.disable()
    return off, on


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    off, on = recording_us()
    print(f"recording per publish attempt: metrics off {off:.2f} us, on {on:.2f} us")
    h = health_seconds(a.runs)
    print(f"publisher health (cold CLI, {a.runs} runs): median {statistics.median(h):.2f} s, max {max(h):.2f} s")
    started = time.perf_counter()
    for _ in range(a.runs):
        subprocess.run([sys.executable, "-c", "pass"], check=True)
    print(f"python -c pass: {(time.perf_counter() - started) / a.runs:.3f} s each (for scale)")


if __name__ == "__main__":
    main()
