"""The LinkedIn adapter against the sandbox: the shared contract plus Posts API specifics."""

from __future__ import annotations

from publisher.sandbox.linkedin import member_id
from publisher.settings import AccountConfig
from tests.channels.contract import ChannelContract


def build_linkedin(base_url: str, token: str) -> tuple[AccountConfig, dict[str, str]]:
    account = AccountConfig(name="acme", channel="linkedin", base_url=base_url,
                            credentials={"access_token": "env:LI_TOKEN"},
                            options={"author_urn": f"urn:li:person:{member_id(token)}"})
    return account, {"access_token": token}


class TestLinkedInContract(ChannelContract):
    channel = "linkedin"
    build = staticmethod(build_linkedin)
    rate_reset_from_headers = False  # LinkedIn documents no reset header
