from __future__ import annotations

from alembic import context

from publisher.schema import metadata

#: PostgreSQL advisory lock held by a migrating transaction only: a worker, a scheduler and a CLI call opening a
#: new database at the same moment migrate one after another (the later ones find the schema at head), instead of
#: racing on CREATE TABLE. Never taken once the schema is at head (Store.migrate returns before Alembic is loaded).
MIGRATION_LOCK = 7_240_001

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        context.run_migrations()
    if connection.in_transaction():
        connection.commit()
