"""The X adapter against the sandbox: the shared contract plus X specifics (OAuth 1.0a, duplicates, caps)."""

from __future__ import annotations

from publisher.settings import AccountConfig
from tests.channels.contract import ChannelContract


def build_x(base_url: str, token: str) -> tuple[AccountConfig, dict[str, str]]:
    account = AccountConfig(name="acme", channel="x", base_url=base_url, options={"username": "acme_noc"})
    return account, {"bearer_token": token}


class TestXContract(ChannelContract):
    channel = "x"
    build = staticmethod(build_x)
