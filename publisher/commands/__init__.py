"""CLI subcommands, one module per family, loaded lazily by publisher.cli."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click

from publisher.settings import Settings
from publisher.store import Store


class App:
    """Settings and store, loaded on first use by a command."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._store: Store | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from publisher import settings

            self._settings = settings.load()
        return self._settings

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.settings.database_url)
        return self._store


def app() -> App:
    ctx = click.get_current_context()
    root = ctx.find_root()
    if not isinstance(root.obj, App):
        root.obj = App()
    return root.obj


def to_jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value


def echo(text: str, err: bool = False) -> None:
    """Print a line of output, redacted (``credentials.redact``): stored notes and platform answers pass here."""
    from publisher.credentials import redact

    click.echo(redact(text), err=err)


def echo_json(data: Any) -> None:
    echo(json.dumps(to_jsonable(data), ensure_ascii=False, indent=2))


def fmt_time(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if value else "-"
