"""Schema migrations: the Alembic chain builds exactly the schema the code uses, and opening an existing store
(an upgrade) keeps every scheduled post. A change to publisher/schema.py without a migration fails here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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
