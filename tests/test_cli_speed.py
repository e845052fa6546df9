"""The NOC's cold `ticket update` pays only for what it uses: on the default SQLite store no SQLAlchemy (the store's
statements run on the stdlib driver, publisher.lightdb), with every guarantee of the engine path kept. Timing is a
benchmark (benchmarks/cli_speed.py); this checks the imports and the stored result."""

from __future__ import annotations

import subprocess
import sys

import pytest

from publisher import audit
from publisher.store import deliveries_of
from tests.conftest import PG, Env


def _imports(env: Env, *args: str, exit_code: int = 0) -> tuple[set[str], str]:
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "publisher.cli", *args], env=env.env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == exit_code, r.stderr[-2000:]
    names = {line.split("|")[-1].strip().split(".")[0] for line in r.stderr.splitlines()
             if line.startswith("import time:")}
    return names, r.stdout


@pytest.mark.slow  # CLI processes
def test_ticket_update_on_sqlite_imports_no_sqlalchemy_and_stores_what_the_engine_path_stores(env: Env) -> None:
    first = env.cli("ticket", "open", "INC-9", "--account", "noc", "Fibre cut Oslo-Stockholm, rerouted")
    assert first.returncode == 0, first.stderr  # a new database: this call migrated it (Alembic, SQLAlchemy)
    names, out = _imports(env, "ticket", "update", "INC-9", "--account", "noc", "--update-id", "7",
                          "Splice crew on site, ETA 14:00 CET")
    assert ("sqlalchemy" in names) == bool(PG)  # PostgreSQL keeps the engine; the statements are the same
    post_id = out.split()[1]
    again = env.cli("ticket", "update", "INC-9", "--account", "noc", "--update-id", "7", "Splice crew on site")
    assert again.returncode == 0 and f"already accepted as {post_id}" in again.stdout  # the idempotency key
    names, _ = _imports(env, "ticket", "update", "INC-404", "--account", "noc", "x", exit_code=5)
    assert ("sqlalchemy" in names) == bool(PG)  # a refusal takes no engine either
    store = env.store()
    with store.read() as conn:  # read back through SQLAlchemy: the same rows and audit the engine path writes
        (d,) = deliveries_of(conn, post_id)
        events = [(e["action"], e["post_id"]) for e in audit.rows(conn, post_id=post_id)]
    assert d["state"] == "scheduled" and d["thread_key"] == "ticket:INC-9" and d["prev_id"] is not None
    assert d["payload"]["text"].startswith("INC-9 update: Splice crew")
    assert ("ticket.updated", post_id) in events and ("post.accepted", post_id) in events
    verify = env.cli("audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr


@pytest.mark.slow  # CLI processes
def test_status_on_sqlite_imports_no_sqlalchemy_and_says_what_the_engine_path_says(env: Env) -> None:
    from datetime import UTC, datetime

    from publisher.ops import status

    assert env.cli("ticket", "open", "INC-9", "--account", "noc", "Fibre cut Oslo-Stockholm, rerouted").returncode == 0
    assert env.cli("post", "--account", "noc", "--at", "+2h", "Maintenance window tonight").returncode == 0
    names, out = _imports(env, "status", "--json")
    assert ("sqlalchemy" in names) == bool(PG)
    import json

    shown = json.loads(out)
    store = env.store()
    with store.read() as conn:  # the same function on a SQLAlchemy connection
        engine = status.collect(conn, datetime.now(UTC))
    assert shown["total"] == engine["total"] == 2 and shown["counts"] == engine["counts"]
    assert shown["next_due"]["id"] == engine["next_due"]["id"]
    assert set(shown["next_due"]) == {"id", "post_id", "account", "channel", "state", "due_at"}
