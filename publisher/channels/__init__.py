"""Channel adapters, one module each, loaded lazily by name (so the CLI never imports an SDK it does not use)."""

from __future__ import annotations

import importlib

from publisher.channels.base import Channel
from publisher.errors import ConfigError
from publisher.settings import AccountConfig, Settings

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


def for_publishing(account: AccountConfig, settings: Settings) -> Channel:
    """An adapter with resolved credentials (worker path)."""
    from publisher import credentials

    creds = credentials.resolve(account, settings.env)
    return adapter_class(account.channel)(_with_defaults(account, settings), creds)
