"""`publisher list` filters, the total and the "N more" line; `publisher status` counts and reasons."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from publisher.models import PostKind
from tests.conftest import Env
from tests.ops.seed import accept, at, seed


@pytest.fixture
def seeded(env: Env) -> dict[str, Any]:
    ids = seed(env)
    d = ids["day"]
    ids["ticket"] = [accept(env, "INC-4711: Fibre cut between Oslo and Stockholm, traffic is rerouted", "noc",
                            at(d, 7), kind=PostKind.TICKET, thread_key="ticket:INC-4711")[0]]
    return ids


def _ids(env: Env, *args: str) -> list[str]:
    r = env.cli("list", *args, "--ids")
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


@pytest.mark.slow
def test_filters(env: Env, seeded: dict[str, Any]) -> None:
    d = seeded["day"]
    everything = _ids(env, "--limit", "1000")
    assert len(everything) == 10
    assert _ids(env, "--state", "held", "--state", "pending_approval") == [seeded["held"], seeded["comms"]]
    assert _ids(env, "--ticket", "INC-4711") == seeded["ticket"]
    assert _ids(env, "--thread", "ticket:INC-4711") == seeded["ticket"]
    assert _ids(env, "--ticket", "INC-9999") == []
    assert _ids(env, "--campaign", "spring") == []  # no post carries campaign:spring
    assert set(_ids(env, "--account", "noc")) == {seeded["noc_morning"], seeded["noc_late"], seeded["held"],
                                                  *seeded["ticket"]}
    # a window of absolute local times (Oslo, +01:00): 08:30-10:30 local is 07:30-09:30 UTC
    window = _ids(env, "--tz", "Europe/Oslo", "--since", f"{d} 08:30", "--until", f"{d} 10:30")
    assert window == [seeded["andrew"], seeded["noc_morning"]]
    # relative: nothing is due within the next hour; all of it within a week; a date is inclusive of its day
    assert _ids(env, "--since", "-1d", "--until", "+1h") == []
    assert len(_ids(env, "--since", "-1d", "--until", "+7d", "--limit", "1000")) == 10
    assert len(_ids(env, "--tz", "UTC", "--until", str(d - timedelta(days=1)))) == 0
    assert len(_ids(env, "--tz", "UTC", "--since", str(d), "--until", str(d), "--limit", "1000")) == 10


def test_limit_says_how_many_more_and_never_cuts_ids(env: Env, seeded: dict[str, Any]) -> None:
    r = env.cli("list", "--limit", "3")
    assert r.returncode == 0, r.stderr
    assert "3 of 10 deliveries; 7 more" in r.stdout
    listed = [line.split()[0] for line in r.stdout.splitlines() if line.strip().startswith("d-")]
    assert len(listed) == 3 and all(i in _ids(env, "--limit", "1000") for i in listed)
    r = env.cli("list", "--limit", "3", "--json")
    rows = json.loads(r.stdout)
    assert len(rows) == 3 and "7 more" in r.stderr
    assert all(row["due_local"] and row["id"].startswith("d-") for row in rows)
    r = env.cli("list", "--limit", "2", "--ids")
    assert len(r.stdout.split()) == 2 and "8 more" in r.stderr
    full = env.cli("list", "--limit", "100", "--tz", "Europe/Oslo")
    assert "due (Europe/Oslo)" in full.stdout and "10 deliveries" in full.stdout


def test_bad_window_is_refused(env: Env, seeded: dict[str, Any]) -> None:
    r = env.cli("list", "--since", "yesterday-ish")
    assert r.returncode == 2 and "--since" in r.stderr


def test_status_counts_late_and_reasons(env: Env, seeded: dict[str, Any]) -> None:
    r = env.cli("status", "--json")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["total"] == 10
    assert s["counts"]["scheduled"] == 8 and s["counts"]["held"] == 1 and s["counts"]["pending_approval"] == 1
    assert s["next_due"]["id"] == seeded["ticket"][0]  # 07:00 on day D, the earliest scheduled
    assert s["late"] == {"count": 0, "oldest": None, "oldest_seconds": None}
    held = s["attention"]["held"]
    assert held["count"] == 1 and held["deliveries"][0]["id"] == seeded["held"]
    assert held["reasons"][0]["reason"].startswith("credentials expired")
    # a post due now is late by the time status looks (and not yet published: no worker runs)
    now_id = accept(env, "Short note about the office move", "andrew", at(seeded["day"], 0) - timedelta(days=3))
    s = json.loads(env.cli("status", "--json").stdout)
    assert s["late"]["count"] == 1 and s["late"]["oldest"]["id"] == now_id[0] and s["late"]["oldest_seconds"] > 0
    text = env.cli("status").stdout
    assert "11 deliveries" in text and "HELD: 1" in text and "credentials expired" in text and now_id[0] in text
