"""A thread reply whose outcome was unknown is settled by looking where it was posted: the parent's comments.

The whole path runs for real: the store, the scheduler, the publisher, the adapter and the sandbox. The platform
stores the reply (a comment on the thread's first post) and then drops the connection; meanwhile the Page posted
more than a page of other posts, so the thread's first post is far from the newest. Reconcile must record the
comment as published, and the platform must hold it exactly once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from publisher import service
from publisher.publishing import Publisher
from publisher.sandbox.linkedin import member_id
from publisher.sandbox.server import SandboxServer
from publisher.scheduling import Scheduler
from tests.conftest import Env
from tests.helpers import all_deliveries

TOKEN = "sandbox-reply-token"
PAGE_ID = "175154750010052"


def accounts(sandbox: SandboxServer) -> dict[str, Any]:
    return {
        "page": {"channel": "facebook", "kind": "organisation", "base_url": sandbox.base_url("facebook"),
                 "credentials": {"page_token": "env:SANDBOX_TOKEN"}, "options": {"page_id": PAGE_ID}},
        "member": {"channel": "linkedin", "kind": "personal", "base_url": sandbox.base_url("linkedin"),
                   "credentials": {"access_token": "env:SANDBOX_TOKEN"},
                   "options": {"author_urn": f"urn:li:person:{member_id(TOKEN)}"}},
    }


def crowd(env: Env, sandbox: SandboxServer, account: str, channel: str, n: int) -> None:
    """``n`` other top-level posts of the account, straight from the adapter (as another tool would post them)."""
    from publisher import channels
    from tests.channels.contract import delivery, unique_text

    adapter = channels.for_publishing(env.settings().accounts[account], env.settings())
    for i in range(n):
        adapter.publish(delivery(unique_text(f"other {i}"), channel=channel), None)


@pytest.mark.parametrize(("account", "channel"), [("page", "facebook"), ("member", "linkedin")])
def test_a_dropped_reply_reconciles_to_published_with_exactly_one_comment(
    env: Env, sandbox: SandboxServer, account: str, channel: str
) -> None:
    # Given a published first post of a ticket's thread
    env.env["SANDBOX_TOKEN"] = TOKEN
    env.write_config(accounts(sandbox))
    settings, store = env.settings(), env.store()
    sent: list[str] = []

    def sender(channel: str, ids: list[str], delay_ms: int) -> str:
        sent.extend(ids)
        return f"m{len(sent)}"

    publisher = Publisher(settings, store, sender)
    scheduler = Scheduler(settings, store, sender, lambda items: set())

    def accept(text: str) -> str:
        result = service.accept(settings, store, service.NewPost(text=text, accounts=[account], at=datetime.now(UTC),
                                                                 thread_key="INC-42"))
        return str(result.deliveries[0]["id"])

    first = accept("Outage of the payment service: we are investigating")
    scheduler.tick()
    assert publisher.handle(first) == "published"
    # and more than a page of other posts on the account since
    crowd(env, sandbox, account, channel, 105 if channel == "facebook" else 12)

    # When the update is stored by the platform as a comment, then the connection drops
    update = accept("Update: the cause is found, a fix is being deployed")
    scheduler.tick()
    sandbox.sandbox.set_faults(channel, drop_after_accept=1)
    outcome = publisher.handle(update)  # the unknown outcome is reconciled at once

    # Then reconcile records it as published, with the comment's id
    assert outcome == "reconciled"
    comments = [p for p in sandbox.sandbox.posts(channel) if p["text"] == "Update: the cause is found, a fix is "
                "being deployed"]
    assert len(comments) == 1
    states = {d["id"]: d for d in all_deliveries(store)}
    assert states[update]["state"] == "published"
    assert states[update]["remote_id"] == comments[0]["remote_id"]
    assert comments[0]["in_reply_to"] == states[first]["remote_id"]
