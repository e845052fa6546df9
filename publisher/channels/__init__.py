"""Channel adapters, one module each, loaded lazily by name (so the CLI never imports an SDK it does not use)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from publisher.channels.base import Channel
from publisher.errors import ConfigError
from publisher.settings import AccountConfig, Settings

if TYPE_CHECKING:
    from publisher.channels.media import Image
    from publisher.store import Store

#: channel name -> "module:Class"
ADAPTERS: dict[str, str] = {
    "dryrun": "publisher.channels.dryrun:DryRunChannel",
    "x": "publisher.channels.x:XChannel",
    "facebook": "publisher.channels.facebook:FacebookChannel",
    "linkedin": "publisher.channels.linkedin:LinkedInChannel",
    "mastodon": "publisher.channels.mastodon:MastodonChannel",
    "bluesky": "publisher.channels.bluesky:BlueskyChannel",
}


def adapter_class(channel: str) -> type[Channel]:
    try:
        module_name, _, cls_name = ADAPTERS[channel].partition(":")
    except KeyError:
        raise ConfigError(f"no adapter for channel {channel!r}", hint=f"use one of {', '.join(ADAPTERS)}") from None
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        raise ConfigError(
            f"the {channel} adapter needs the package {e.name!r}, which is not installed",
            hint="pip install -e . installs every adapter's dependencies",
        ) from None
    cls: type[Channel] = getattr(module, cls_name)
    return cls


def _with_defaults(account: AccountConfig, settings: Settings) -> AccountConfig:
    if account.channel == "dryrun" and "ledger" not in account.options:
        from publisher.channels.dryrun import LEDGER_NAME

        options = {**account.options, "ledger": str(settings.home / LEDGER_NAME)}
        return account.model_copy(update={"options": options})
    return account


def for_rendering(account: AccountConfig, settings: Settings) -> Channel:
    """An adapter without credentials: enough to render and measure (enqueue path)."""
    return adapter_class(account.channel)(_with_defaults(account, settings), {})


def for_publishing(account: AccountConfig, settings: Settings, store: Store | None = None) -> Channel:
    """An adapter with resolved credentials (worker path); with ``store``, it reads the images its payloads refer
    to from the ``media`` table."""
    from publisher import credentials

    creds = credentials.resolve(account, settings.env)
    adapter = adapter_class(account.channel)(_with_defaults(account, settings), creds)
    if store is not None:
        adapter.media_source = media_source(store)
    return adapter


def media_source(store: Store) -> Callable[[str], Image | None]:
    """sha256 -> the stored image (or None), read from ``store``."""
    from publisher.channels import media

    def load(sha256: str) -> Image | None:
        with store.read() as conn:
            return media.load_stored(conn, sha256)

    return load
