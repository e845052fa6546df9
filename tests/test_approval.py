"""Two-person approval for accounts with `approvers:`: posts wait in pending_approval, the author cannot approve,
an approver can, then it publishes; an unapproved post past its closing time expires visibly."""

from __future__ import annotations

import json

import pytest

from tests.conftest import DRYRUN, Env, wait_for
from tests.helpers import all_deliveries, states

pytestmark = pytest.mark.slow  # CLI processes and a running worker


def _as(env: Env, user: str, *args: str) -> tuple[int, str, str]:
    env.env["PUBLISHER_ACTOR"] = user
    r = env.cli(*args)
    return r.returncode, r.stdout, r.stderr


def test_a_post_waits_for_a_second_person_then_publishes(env: Env) -> None:
    env.write_config({**DRYRUN, "comms": {"channel": "dryrun", "kind": "organisation", "timezone": "Europe/Oslo",
                                          "posters": ["kari", "ola"], "approvers": ["kari", "ola"]}})
    rc, out, err = _as(env, "kari", "post", "--account", "comms", "--json", "Our conference opens on Monday at 09:00")
    assert rc == 0, err
    post_id = json.loads(out)["post_id"]
    store = env.store()
    assert states(store) == {"pending_approval": 1}
    env.spawn("run", "--threads", "2", log="run")  # a running worker must not publish it before approval
    rc, _, err = _as(env, "kari", "approve", post_id)
    assert rc == 4 and "two-person rule" in err  # the author cannot approve
    rc, _, err = _as(env, "mallory", "approve", post_id)
    assert rc == 4 and "may not approve" in err
    assert states(store) == {"pending_approval": 1}
    rc, out, err = _as(env, "ola", "approve", post_id)
    assert rc == 0 and "approved" in out, err
    wait_for(lambda: states(store) == {"published": 1}, timeout=30, what="the approved post published")
    env.stop_all()
    rc, out, _ = _as(env, "ola", "audit", "log", "--post", post_id, "--json")
    events = [(e["action"], e["actor"]) for e in json.loads(out)]
    assert ("pending_approval", "kari") in events and ("approved", "ola") in events
    assert [a for a, _ in events].index("approved") < [a for a, _ in events].index("published")
    assert env.cli("audit", "verify").returncode == 0


def test_an_unapproved_post_expires_at_its_closing_time_and_cannot_be_approved_after(env: Env) -> None:
    env.write_config({**DRYRUN, "hr": {"channel": "dryrun", "kind": "organisation", "approvers": ["kari"]}},
                     scheduler={"tick_seconds": 0.1})
    rc, out, err = _as(env, "ola", "post", "--account", "hr", "--at", "now", "--not-after", "+3s", "--json",
                        "We are hiring a network engineer in Bergen")
    assert rc == 0, err
    post_id = json.loads(out)["post_id"]
    store = env.store()
    env.spawn("scheduler", log="scheduler")
    wait_for(lambda: states(store) == {"expired": 1}, timeout=30, what="the unapproved vacancy expired")
    rc, _, err = _as(env, "kari", "approve", post_id)
    assert rc != 0 and "nothing to approve" in err
    assert all(d["published_at"] is None for d in all_deliveries(store))


def test_only_a_configured_delegator_may_name_another_actor(env: Env) -> None:
    env.write_config(DRYRUN, delegators=[])
    rc, _, err = _as(env, "ola", "post", "--account", "noc", "Planned maintenance tonight 22:00-23:00")
    assert rc != 0 and "may not act for others" in err and "delegators" in err
    assert "Traceback" not in err
    env.env.pop("PUBLISHER_ACTOR")
    assert env.cli("post", "--account", "noc", "Planned maintenance tonight 22:00-23:00").returncode == 0
    assert states(env.store()) == {"scheduled": 1}
