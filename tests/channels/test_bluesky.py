"""The Bluesky adapter against the sandbox: the shared contract plus Bluesky specifics."""

from __future__ import annotations

from publisher.settings import AccountConfig
from tests.channels.contract import ChannelContract


def build_bluesky(base_url: str, token: str) -> tuple[AccountConfig, dict[str, str]]:
    account = AccountConfig(name="acme", channel="bluesky", base_url=base_url)
    return account, {"identifier": "acme-noc.bsky.social", "app_password": token}


class TestBlueskyContract(ChannelContract):
    channel = "bluesky"
    build = staticmethod(build_bluesky)
