"""The Facebook Pages adapter against the sandbox: the shared contract plus Graph specifics."""

from __future__ import annotations

from publisher.settings import AccountConfig
from tests.channels.contract import ChannelContract

PAGE_ID = "175154750010052"


def build_facebook(base_url: str, token: str) -> tuple[AccountConfig, dict[str, str]]:
    account = AccountConfig(name="acme", channel="facebook", kind="organisation", base_url=base_url,
                            credentials={"page_token": "env:FB_PAGE_TOKEN"}, options={"page_id": PAGE_ID})
    return account, {"page_token": token}


class TestFacebookContract(ChannelContract):
    channel = "facebook"
    build = staticmethod(build_facebook)
    rate_reset_granularity = 60  # estimated_time_to_regain_access is in minutes
