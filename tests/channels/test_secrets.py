"""No credential of an account ever reaches a log record, an exception or a receipt, with logging at DEBUG.

tweepy logs its request headers at DEBUG, oauthlib its signature base string, urllib3 every URL with its query:
the adapters keep tokens away from all of them (placeholder in tweepy, signing in the transport adapter, Graph
token in a header), independent of the redaction filter publisher.logs adds on top.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable

import pytest

from publisher.channels.base import Channel
from publisher.channels.bluesky import BlueskyChannel
from publisher.channels.facebook import FacebookChannel
from publisher.channels.linkedin import LinkedInChannel
from publisher.channels.mastodon import MastodonChannel
from publisher.channels.x import XChannel
from publisher.errors import ChannelError
from publisher.sandbox.linkedin import member_id
from publisher.sandbox.server import SandboxServer
from publisher.settings import AccountConfig
from tests.channels.contract import CANARY, delivery

OAUTH1 = {"consumer_key": CANARY + "-ck", "consumer_secret": CANARY + "-cs",
          "access_token": CANARY + "-at", "access_token_secret": CANARY + "-ats"}
EXPIRED = "expired-" + CANARY


def x_bearer(base: str, token: str) -> Channel:
    return XChannel(AccountConfig(name="a", channel="x", base_url=base + "/x"), {"bearer_token": token})


def x_oauth1(base: str, token: str) -> Channel:
    creds = {k: v.replace(CANARY, token) for k, v in OAUTH1.items()}
    return XChannel(AccountConfig(name="a", channel="x", base_url=base + "/x"), creds)


def facebook(base: str, token: str) -> Channel:
    return FacebookChannel(AccountConfig(name="a", channel="facebook", base_url=base + "/facebook",
                                         options={"page_id": "1234"}), {"page_token": token})


def linkedin(base: str, token: str) -> Channel:
    return LinkedInChannel(AccountConfig(name="a", channel="linkedin", base_url=base + "/linkedin",
                                         options={"author_urn": f"urn:li:person:{member_id(token)}"}), {"access_token": token})


def mastodon(base: str, token: str) -> Channel:
    return MastodonChannel(AccountConfig(name="a", channel="mastodon", base_url=base + "/mastodon"),
                           {"access_token": token})


def bluesky(base: str, token: str) -> Channel:
    return BlueskyChannel(AccountConfig(name="a", channel="bluesky", base_url=base + "/bluesky"),
                          {"identifier": "acme-noc.bsky.social", "app_password": token})


ADAPTERS: dict[str, Callable[[str, str], Channel]] = {
    "x-bearer": x_bearer, "x-oauth1": x_oauth1, "facebook": facebook, "linkedin": linkedin}
ALL_ADAPTERS: dict[str, Callable[[str, str], Channel]] = {**ADAPTERS, "mastodon": mastodon, "bluesky": bluesky}


@pytest.mark.parametrize("make", ADAPTERS.values(), ids=list(ADAPTERS))
def test_canary_token_never_appears_in_debug_logs_errors_or_receipts(
    make: Callable[[str, str], Channel], sandbox: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("tweepy", "urllib3"):  # publisher.logs.pin() (run by any earlier test) holds them at WARNING
        caplog.set_level(logging.DEBUG, logger=name)
    seen: list[str] = []
    adapter = make(sandbox.url, CANARY)
    ref = delivery("Canary check")
    receipt = adapter.publish(ref, None)
    seen.append(repr(receipt.to_dict()))
    seen.append(repr(adapter.reconcile(ref)))
    seen.append(adapter.verify())
    for token, faults in ((EXPIRED, {}), (CANARY, {"error_rate": 1.0}), (CANARY, {"burst_429": 1})):
        sandbox.sandbox.reset()
        sandbox.sandbox.set_faults(adapter.name, **faults)
        with pytest.raises(ChannelError) as info:
            make(sandbox.url, token).publish(delivery("Failing"), None)
        seen.append("".join(traceback.format_exception(info.value)))
    records = list(caplog.records)
    assert any(r.name.startswith(("tweepy", "urllib3")) for r in records)  # DEBUG logging really was on
    for r in records:
        text = r.getMessage() + (logging.Formatter().formatException(r.exc_info) if r.exc_info else "")
        assert CANARY not in text, f"{r.name} logged a credential"
    for text in seen:
        assert CANARY not in text


def _issued_tokens(sandbox: SandboxServer) -> list[str]:
    """Every session token the sandbox minted (Bluesky JWTs): secrets the adapter holds that no config names."""
    return list(getattr(sandbox.platforms["bluesky"], "tokens", {}))


@pytest.mark.parametrize("make", ALL_ADAPTERS.values(), ids=list(ALL_ADAPTERS))
def test_an_error_that_echoes_the_authorization_header_carries_no_credential(
    make: Callable[[str, str], Channel], sandbox: SandboxServer
) -> None:
    # Given a platform that answers every authorised request with an error echoing its Authorization header
    adapter = make(sandbox.url, CANARY)
    platform = adapter.name
    sandbox.sandbox.set_faults(platform, echo_auth=10)
    seen: list[str] = []
    # When the adapter publishes and verifies (credentials never registered: the token shapes alone must catch it)
    for call in (lambda: adapter.publish(delivery("Echo check"), None), adapter.verify):
        with pytest.raises(ChannelError) as info:
            call()
        seen += [info.value.message, str(info.value), "".join(traceback.format_exception(info.value))]
    # Then the platform did echo the header, and no message, hint or traceback carries a credential
    assert sandbox.sandbox.faults_for(platform).echo_auth < 10
    assert any("Authorization" in text for text in seen), seen
    secrets = [CANARY, *_issued_tokens(sandbox)]
    for text in seen:
        for secret in secrets:
            assert secret not in text, text
