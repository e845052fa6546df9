"""The chaos run at 2,000 deliveries (tests/chaos.py; the test runs 300): five accounts on each of the five channels,
ten ticket threads of three posts and fifty notes on every account, faults on every channel, SIGKILLs of a worker child,
the worker group and the scheduler, and one broker wipe. Prints the report as JSON; RESULTS-chaos.md records runs.

  python benchmarks/chaos.py                     SQLite + embedded Valkey
  BENCH_PG=postgresql://127.0.0.1:5432/test BENCH_REDIS=redis://127.0.0.1:6379/14 python benchmarks/chaos.py
                                                 PostgreSQL (a fresh schema) + Redis (the db is flushed)
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from publisher.sandbox.server import SandboxServer  # noqa: E402
from tests import chaos  # noqa: E402
from tests.conftest import Env  # noqa: E402


def main() -> int:
    pg, redis_url = os.environ.get("BENCH_PG"), os.environ.get("BENCH_REDIS")
    db_url = None
    if pg:
        import psycopg

        schema = f"chaos_{secrets.token_hex(4)}"
        with psycopg.connect(pg, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        db_url = f"{pg}{'&' if '?' in pg else '?'}options=-csearch_path%3D{schema}"
    if redis_url:
        import redis

        redis.Redis.from_url(redis_url).flushdb()
    home = Path(tempfile.mkdtemp(prefix="publisher-chaos-"))
    env = Env(home, db_url, redis_url)
    server = SandboxServer(port=0).start()
    try:
        report = chaos.run(env, server, tickets=10, notes=50, per_channel=5, timeout=900)
    finally:
        env.stop_all()
        server.stop()
        from publisher.workers import embedded

        embedded.stop(home / "valkey")
    out = dataclasses.asdict(report)
    for key in ("lost", "duplicated", "out_of_order", "stuck"):
        out[f"{key}_count"] = len(out[key])
        out[key] = out[key][:20]
    out["path"] = "postgresql+redis" if pg else "sqlite+embedded valkey"
    print(json.dumps(out, indent=2))
    return 0 if report.ok() else 1


if __name__ == "__main__":
    raise SystemExit(main())
