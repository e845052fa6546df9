"""Cold `publisher ticket update` to committed, against a bare interpreter, in one run (a benchmark, not a test).

    python benchmarks/cli_speed.py [--texts 200] [--bare-every 4]

Each update is a fresh process (`python -m publisher.cli ticket update INC-N --account noc --update-id K TEXT`) on
the embedded defaults (SQLite in a fresh PUBLISHER_HOME, the built-in organisation profile); it exits once the
post is committed. 200 varied NOC texts: English, Norwegian, terse ones without English function words (which
used to build lingua's detector: 1.7 s CPU, 237 MB), with ticket ids, times and figures. A bare `python -c pass`
(the same interpreter) runs between every few updates, so the ratios come from one run on one machine load.
Peak RSS per process comes from wait4. Also `publisher --help`, 20 times.

Goals (issue 14): median <= 12x and worst <= 25x the bare interpreter's median; peak RSS <= 80 MB; --help <= 10x.

Bytecode: an installed publisher has its .pyc files (pip compiles them at install), so the processes here cache
theirs under the run's temporary directory (PYTHONPYCACHEPREFIX; an inherited PYTHONDONTWRITEBYTECODE is dropped),
warmed by the unmeasured ``ticket open`` calls. ``--no-bytecode`` measures a tree that recompiles publisher's
modules on every call (what a source checkout under PYTHONDONTWRITEBYTECODE=1 pays: about 0.1-0.2 s more CPU).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

EN = [
    "Splice crew on site, ETA {h}:{m} CET.", "Traffic rerouted via Stockholm, latency +{n} ms.",
    "We are investigating packet loss towards Amsterdam since {h}:{m}.", "Next update at {h}:00.",
    "The faulty line card in {city} has been replaced and traffic is back to normal.",
    "Customers in {city} may see short interruptions until {h}:{m}.",
    "Resolved {h}:{m} CET, primary path restored, monitoring for 24 hours.",
    "Power restored at the {city} site; routers are booting.", "DNS resolution is degraded for about {n}% of queries.",
]
NO = [
    "Teknikere er på stedet i {city}, forventet ferdig kl. {h}:{m}.", "Trafikken er omrutet, forsinkelse +{n} ms.",
    "Vi undersøker pakketap mot Stockholm siden kl. {h}:{m}.", "Neste oppdatering kl. {h}:00.",
    "Feilen i {city} er rettet og trafikken går normalt igjen.", "Strømmen er tilbake på stasjonen i {city}.",
]
TERSE = [
    "Fibre cut Oslo-Stockholm, traffic rerouted, latency +{n} ms", "Core router {city}-01 reload, BGP sessions up",
    "Link {city}-Trondheim flapping, vendor TT-{n} opened", "Optics swapped {city}, errors cleared, monitoring",
    "Fiberbrudd {city}-Bergen, omrutet, +{n} ms", "Strømbrudd {city}, aggregat i drift",
    "Maintenance CHG-{n} {city} done, all green", "Packet loss {city} edge {n}%, mitigated",
]
CITIES = ["Oslo", "Bergen", "Tromsø", "Bodø", "Drammen", "Moss", "Alta", "Hamar", "Skien", "Molde"]


def texts(n: int, seed: int = 14) -> list[str]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        pool = (EN, NO, TERSE)[i % 3]
        k = 1 if pool is TERSE else rnd.randint(1, 3)
        parts = [rnd.choice(pool).format(h=rnd.randint(0, 23), m=f"{rnd.randint(0, 59):02d}", n=rnd.randint(2, 90),
                                         city=rnd.choice(CITIES)) for _ in range(k)]
        out.append(" ".join(parts) + f" INC-{5000 + i % 20}")
    return out


CPU: list[float] = []  # user + system CPU seconds of each process run, in order


def run(argv: list[str], env: dict[str, str]) -> tuple[float, int, int]:
    """(wall seconds, peak RSS in KB, exit code) of one fresh process; its CPU time goes to ``CPU``."""
    t = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    CPU.append(usage.ru_utime + usage.ru_stime)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.stderr is not None:
        err = proc.stderr.read()
        proc.stderr.close()
        if proc.returncode not in (0,):
            sys.stderr.write(err.decode(errors="replace")[-400:])
    return wall, usage.ru_maxrss, proc.returncode


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--texts", type=int, default=200)
    ap.add_argument("--bare-every", type=int, default=4)
    ap.add_argument("--no-bytecode", action="store_true", help="keep PYTHONDONTWRITEBYTECODE as inherited")
    args = ap.parse_args()
    home = tempfile.mkdtemp(prefix="publisher-cli-speed-")
    try:
        measure(args, home)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def measure(args: argparse.Namespace, home: str) -> None:
    env = {**os.environ, "PUBLISHER_HOME": home, "PYTHONPATH": str(ROOT)}
    env.pop("PUBLISHER_CONFIG", None)
    if not args.no_bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = os.path.join(home, "pycache")
    py = sys.executable
    cli = [py, "-m", "publisher.cli"]
    for t in range(20):  # open the tickets (not measured)
        _, _, rc = run([*cli, "ticket", "open", f"INC-{5000 + t}", "--account", "noc", "Investigating."], env)
        assert rc == 0, "ticket open failed"
    bare: list[float] = []
    bare_cpu: list[float] = []
    upd: list[tuple[float, int, str]] = []
    upd_cpu: list[float] = []
    for i, text in enumerate(texts(args.texts)):
        if i % args.bare_every == 0:
            bare.append(run([py, "-c", "pass"], env)[0])
            bare_cpu.append(CPU[-1])
        ticket = text.rsplit(" ", 1)[1]
        wall, rss, rc = run([*cli, "ticket", "update", ticket, "--account", "noc", "--update-id", str(i + 1), text],
                            env)
        assert rc == 0, f"update failed (exit {rc}): {text}"
        upd.append((wall, rss, text))
        upd_cpu.append(CPU[-1])
    helps, help_cpu = [], []
    for _ in range(20):
        bare.append(run([py, "-c", "pass"], env)[0])
        bare_cpu.append(CPU[-1])
        helps.append(run([*cli, "--help"], env)[0])
        help_cpu.append(CPU[-1])
    b = statistics.median(bare)
    walls = [w for w, _, _ in upd]
    worst = max(upd)
    rss = max(r for _, r, _ in upd)
    terse_walls = [w for i, (w, _, _) in enumerate(upd) if i % 3 == 2]
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the end")
    print(f"bare `python -c pass`: median {b * 1000:.0f} ms over {len(bare)} runs")
    print(f"ticket update ({len(upd)} texts): median {statistics.median(walls) * 1000:.0f} ms "
          f"= {statistics.median(walls) / b:.1f}x, p90 {sorted(walls)[int(len(walls) * 0.9)] / b:.1f}x, "
          f"worst {worst[0] * 1000:.0f} ms = {worst[0] / b:.1f}x ({worst[2][:60]!r})")
    print(f"  terse texts only: median {statistics.median(terse_walls) / b:.1f}x, worst {max(terse_walls) / b:.1f}x")
    print(f"  peak RSS: {rss / 1024:.0f} MB (max over all updates)")
    bc = statistics.median(bare_cpu)
    print(f"CPU time (user+system, less sensitive to other processes): bare median {bc * 1000:.0f} ms; update "
          f"median {statistics.median(upd_cpu) / bc:.1f}x, worst {max(upd_cpu) / bc:.1f}x "
          f"({max(upd_cpu) * 1000:.0f} ms)")
    print(f"publisher --help: median {statistics.median(helps) * 1000:.0f} ms = {statistics.median(helps) / b:.1f}x; "
          f"CPU {statistics.median(help_cpu) / bc:.1f}x")
    goals = {"median <= 12x": statistics.median(walls) / b <= 12, "worst <= 25x": worst[0] / b <= 25,
             "RSS <= 80 MB": rss / 1024 <= 80, "--help <= 10x": statistics.median(helps) / b <= 10}
    print("goals (wall): " + ", ".join(f"{k}: {'met' if v else 'NOT met'}" for k, v in goals.items()))
    cpu_goals = {"median <= 12x": statistics.median(upd_cpu) / bc <= 12, "worst <= 25x": max(upd_cpu) / bc <= 25,
                 "--help <= 10x": statistics.median(help_cpu) / bc <= 10}
    print("goals (CPU): " + ", ".join(f"{k}: {'met' if v else 'NOT met'}" for k, v in cpu_goals.items()))


if __name__ == "__main__":
    main()
