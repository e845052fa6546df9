"""`publisher run --until-done` returns when a thread is stopped behind a failed post, and says why."""

from __future__ import annotations

import time

import pytest

from tests.conftest import DRYRUN, Env
from tests.helpers import all_deliveries


@pytest.mark.slow
def test_run_until_done_returns_when_a_thread_is_held_behind_a_failed_post(env: Env) -> None:
    env.write_config({**DRYRUN, "noc": {**DRYRUN["noc"], "options": {
        "fail": [{"match": "refused", "outcome": "permanent", "times": 99}]}}})
    assert env.cli("ticket", "open", "INC-7", "--account", "noc", "Link down, refused by platform").returncode == 0
    assert env.cli("ticket", "update", "INC-7", "--account", "noc", "--update-id", "2", "Crew on site").returncode == 0
    started = time.monotonic()
    r = env.cli("run", "--until-done", "--duration", "90")
    elapsed = time.monotonic() - started
    assert r.returncode == 0, r.stderr
    assert elapsed < 60, f"run --until-done took {elapsed:.0f} s: it waited for a thread that cannot move"
    by_state = {d["state"]: d for d in all_deliveries(env.store())}
    assert set(by_state) == {"failed", "held"}
    assert by_state["failed"]["id"] in by_state["held"]["last_error"]
    shown = env.cli("show", by_state["held"]["id"])
    assert "waiting behind" in shown.stdout
