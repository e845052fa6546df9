"""`publisher accounts verify` releases only what credentials held: a tone hold waits for a human, whatever the
delivery's error text says. The reason comes from the audit event that held the delivery."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from publisher import service
from publisher.models import State
from publisher.store import get_delivery, transition
from tests.conftest import Env

pytestmark = pytest.mark.slow  # CLI processes


def test_accounts_verify_releases_credential_holds_and_leaves_tone_holds(env: Env) -> None:
    settings, store = env.settings(), env.store()
    ids = []
    for text in ("token expired here", "tone blocked here", "config missing here"):
        ids.append(service.accept(settings, store, service.NewPost(text=text, accounts=["noc"], at=datetime.now(UTC)))
                   .deliveries[0]["id"])
    holds = [("auth_expired", {"error": "token expired"}),
             ("held", {"reason": "tone", "findings": []}),
             ("held", {"reason": "credential 'token' refers to environment variable NOC_TOKEN, which is not set"})]
    with store.tx() as conn:
        for did, (action, details) in zip(ids, holds, strict=True):
            d = get_delivery(conn, did)
            assert d is not None
            # every error text mentions accounts verify: the old substring match would have released all three
            assert transition(conn, "test", d, [State.SCHEDULED], State.HELD, action,
                              values={"last_error": "run `publisher accounts verify noc`"}, details=details)
    r = env.cli("accounts", "verify", "noc", "--json")
    assert r.returncode == 0, r.stderr
    assert '"released": 2' in r.stdout
    with store.read() as conn:
        after = {did: get_delivery(conn, did) for did in ids}
    assert [after[i]["state"] for i in ids] == ["scheduled", "held", "scheduled"]  # type: ignore[index]
    assert after[ids[0]]["last_error"] is None  # type: ignore[index]
    assert env.cli("audit", "verify").returncode == 0
