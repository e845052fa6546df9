"""CLI subcommands, one module per family, loaded lazily by publisher.cli."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from publisher.settings import Settings
    from publisher.store import Store


class App:
    """Settings and store, loaded on first use by a command."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._store: Store | None = None
        self._post_store: Store | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from publisher import settings

            self._settings = settings.load()
        return self._settings

    @property
    def store(self) -> Store:
        if self._store is None:
            from publisher.store import Store

            self._store = Store(self.settings.database_url)
        return self._store

    @property
    def post_store(self) -> Store:
        """The store of the hot commands (``post``, ``ticket``, ``status``): on SQLite without SQLAlchemy, whose import
        alone costs more than the rest of such a call (``Store(driver_only=True)``), unless ``store`` was opened already."""
        if self._store is not None:
            return self._store
        if self._post_store is None:
            from publisher.store import Store

            self._post_store = Store(self.settings.database_url, driver_only=True)
        return self._post_store


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
