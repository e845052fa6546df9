"""Schema migrations: the Alembic chain builds exactly the schema the code uses, and opening an existing store
(an upgrade) keeps every scheduled post. A change to publisher/schema.py without a migration fails here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from publisher import service
from publisher.schema import metadata
from publisher.store import SCHEMA_HEAD, Store
from tests.conftest import Env
from tests.helpers import states


def test_migrations_build_exactly_the_schema_in_schema_py(env: Env) -> None:
    store = env.store()  # migrates an empty database to head
    assert store.current_revision() == SCHEMA_HEAD
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == [], f"publisher/schema.py and the migrations disagree; add a migration for: {diff}"


def test_reopening_an_existing_store_keeps_scheduled_posts_and_their_audit(env: Env) -> None:
    settings = env.settings()
    store = env.store()
    later = datetime.now(UTC) + timedelta(days=3)
    for i in range(5):
        service.accept(settings, store, service.NewPost(text=f"planned {i}", accounts=["noc"], at=later))
    store.dispose()
    again = Store(settings.database_url)  # what every upgraded process does first
    assert again.current_revision() == SCHEMA_HEAD
    assert states(again) == {"scheduled": 5}
    assert env.cli("audit", "verify").returncode == 0


def test_upgrading_a_0001_store_keeps_its_scheduled_posts_with_no_tone_key_so_they_get_the_full_check(env: Env) -> None:
    from sqlalchemy import insert, select

    from publisher.migrations import upgrade
    from publisher.schema import deliveries, posts

    settings = env.settings()
    old = Store(settings.database_url, migrate=False)
    upgrade(old.engine, "0001")  # the store as the first release left it
    now = datetime.now(UTC)
    later = now + timedelta(days=3)
    with old.engine.begin() as conn:
        conn.execute(insert(posts).values(id="p-old", kind="note", text="planned before the upgrade", variables={},
                                          scheduled_at=later, overrides=[], created_by="ops", created_at=now))
        conn.execute(insert(deliveries).values(id="d-old", post_id="p-old", account="noc", channel="dryrun", part=1,
                                               payload={"text": "planned before the upgrade"}, state="scheduled",
                                               attempts=0, due_at=later, updated_at=now))  # 0001's columns only
    old.dispose()
    upgraded = Store(settings.database_url)
    assert upgraded.current_revision() == SCHEMA_HEAD
    with upgraded.read() as conn:
        row = conn.execute(select(deliveries).where(deliveries.c.id == "d-old")).mappings().one()
    assert row["state"] == "scheduled" and row["due_at"] == later and row["tone_key"] is None


def test_processes_opening_a_new_database_at_the_same_moment_all_succeed(env: Env) -> None:
    """A worker, a scheduler and a CLI call started together on an empty database: each migrates or finds the schema
    at head; none fails on a half-created table (PostgreSQL raced on CREATE TABLE before the migration lock)."""
    import subprocess
    import sys

    code = ("import sys; from publisher.store import Store; s = Store(sys.argv[1]); "
            "print(s.current_revision())")
    url = env.settings().database_url
    procs = [subprocess.Popen([sys.executable, "-c", code, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(6)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, [err for _, err in results]
    assert {out.strip() for out, _ in results} == {SCHEMA_HEAD}


def test_a_new_sqlite_file_is_first_opened_under_the_file_lock(tmp_path: Path) -> None:
    """The first connection to a new file converts it to WAL; two processes converting at once deadlock, and SQLite
    answers one of them "database is locked" without waiting (seen in CI about one round in fifty). So a process
    takes the file lock before that first connection: while another holds it, the new file is not even created."""
    import subprocess
    import sys

    from publisher.filelock import ProcessFileLock
    from tests.conftest import wait_for

    db = tmp_path / "p.sqlite"
    lock = ProcessFileLock(f"{db}.writelock")
    code = "import sys; from publisher.store import Store; print(Store(sys.argv[1]).current_revision())"
    with lock.hold():
        child = subprocess.Popen([sys.executable, "-c", code, f"sqlite:///{db}"], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        try:
            wait_for(lambda: _waits_on_a_lock(child.pid) or child.poll() is not None, timeout=60, every=0.01,
                     what="the child blocked on the file lock, or finished")
            assert child.poll() is None, child.communicate()
            assert not db.exists(), "the database was opened before the file lock was taken"
        except BaseException:
            child.kill()
            raise
    out, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    assert out.strip() == SCHEMA_HEAD


def _waits_on_a_lock(pid: int) -> bool:
    """Whether /proc/locks lists the process as blocked on a lock (a line with '->')."""
    with open("/proc/locks") as f:
        return any("->" in line and f" {pid} " in line for line in f)


def test_a_file_that_is_not_a_database_is_refused_and_nothing_is_created_beside_it(tmp_path: Path) -> None:
    """Only a missing or empty file, or a SQLite file in another journal mode, is opened under the file lock;
    anything else goes straight to the connection, which names the problem and leaves the directory as it was."""
    import pytest

    from publisher.errors import ConfigError

    db = tmp_path / "p.sqlite"
    db.write_bytes(b"this is not a database, just text " * 100)
    for driver_only in (False, True):
        with pytest.raises(ConfigError, match="is not a SQLite database"):
            Store(f"sqlite:///{db}", driver_only=driver_only)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.sqlite"]
