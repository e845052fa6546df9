"""Alembic migrations, run programmatically (no alembic.ini needed): an upgrade never loses a scheduled post."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine


def config(engine: Engine):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(config(engine), revision)


def known_revisions() -> set[str]:
    """Every revision id this version ships (file names start with it: 0001_initial.py)."""
    return {p.name.split("_", 1)[0] for p in (Path(__file__).parent / "versions").glob("[0-9]*_*.py")}
