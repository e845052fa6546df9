"""Shared by the campaign tests: the accounts, a campaign file, the CLI in-process, a dump of every table."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import text

from publisher.store import Store
from tests.conftest import Env

ACCOUNTS: dict[str, Any] = {
    "conf-x": {"channel": "x", "kind": "organisation", "timezone": "Europe/Oslo"},
    "conf-ma": {"channel": "mastodon", "kind": "organisation", "timezone": "America/New_York",
                "slots": ["09:00", "12:30", "17:00"], "policy": {"min_gap_seconds": 1800}},
    "jobs": {"channel": "dryrun", "kind": "organisation", "timezone": "Europe/Oslo", "approvers": ["alice"]},
    "locked": {"channel": "dryrun", "kind": "organisation", "timezone": "Europe/Oslo", "posters": ["nobody"]},
}

CAMPAIGN: dict[str, Any] = {
    "name": "tnc31",
    "accounts": ["conf-x", "conf-ma"],
    "anchors": {"event": "2031-06-08T09:00+02:00", "end": "2031-06-11T17:00+02:00"},
    "hashtags": ["TNC31"],
    "rows": [
        {"key": "countdown-7", "at": "event-7d 09:00", "text": "One week to go! #TNC31"},
        {"key": "agenda", "at": "event-3d 12:00", "text": "The agenda is out. #TNC31", "thread": "agenda"},
        {"key": "agenda-2", "at": "event-3d 12:05", "text": "Day two: measurement and security. #TNC31",
         "thread": "agenda"},
        {"key": "keynote", "at": "event+0d 09:30", "text": "The keynote starts now in hall A. #TNC31",
         "variants": {"x": "Keynote now, hall A #TNC31"}},
        {"key": "thanks", "at": "end+1d 10:00", "not_after": "end+2d 10:00", "text": "Thank you all! #TNC31"},
        {"key": "queued", "accounts": ["conf-ma"], "text": "Videos of every session are online. #TNC31"},
        {"key": "jobs-1", "accounts": ["jobs"], "at": "event-1d 10:00", "text": "Meet our team at the booth. #TNC31"},
    ],
}


def setup(env: Env, monkeypatch: pytest.MonkeyPatch, actor: str = "carol") -> None:
    env.write_config(ACCOUNTS)
    env.env["PUBLISHER_ACTOR"] = actor
    for k, v in env.env.items():
        if k.startswith("PUBLISHER_"):
            monkeypatch.setenv(k, v)


def write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return path


def cli(capsys: pytest.CaptureFixture[str], *args: str, actor: str | None = None) -> tuple[int, str, str]:
    """The real command line (publisher.cli.main) in this process: (exit code, stdout, stderr)."""
    from publisher.cli import main

    old = os.environ.get("PUBLISHER_ACTOR")
    if actor:
        os.environ["PUBLISHER_ACTOR"] = actor
    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    finally:
        if actor and old is not None:
            os.environ["PUBLISHER_ACTOR"] = old
    out = capsys.readouterr()
    return code, out.out, out.err


def dump(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order: equal dumps mean nothing was stored or changed."""
    out = {}
    with store.read() as conn:
        tables = [r[0] for r in conn.execute(text(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name" if store.is_sqlite else
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1"))]
        for t in tables:
            out[t] = sorted(tuple(str(v) for v in r) for r in conn.execute(text(f"SELECT * FROM {t}")))  # noqa: S608
    return out


def deliveries_by_key(store: Store, name: str = "tnc31") -> dict[tuple[str, str, int], dict[str, Any]]:
    from sqlalchemy import select

    from publisher.schema import deliveries, posts

    with store.read() as conn:
        rows = conn.execute(select(posts.c.idem_key, deliveries).join(posts, posts.c.id == deliveries.c.post_id)
                            .where(posts.c.idem_scope == f"campaign:{name}")).mappings().all()
    return {(r["idem_key"], r["account"], r["part"]): dict(r) for r in rows}
