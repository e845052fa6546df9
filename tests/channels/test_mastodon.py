"""The Mastodon adapter against the sandbox: the shared contract plus Mastodon specifics."""

from __future__ import annotations

from publisher.settings import AccountConfig
from tests.channels.contract import ChannelContract


def build_mastodon(base_url: str, token: str) -> tuple[AccountConfig, dict[str, str]]:
    return AccountConfig(name="acme", channel="mastodon", base_url=base_url), {"access_token": token}


class TestMastodonContract(ChannelContract):
    channel = "mastodon"
    build = staticmethod(build_mastodon)
