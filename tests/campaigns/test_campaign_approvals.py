"""Approvals of campaign rows (issue 13): a row to an account that needs approval and one that does not goes out
nowhere until it is approved, exactly as a post does; a re-imported row with a new text voids the approvals given
(a new time keeps them); ``campaign reject`` cancels every copy with its reason. The real CLI (in-process), the
real store, and the real scheduler tick and publisher against the dry-run platform's ledger."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from publisher.channels.dryrun import ledger_rows
from publisher.schema import approvals as approvals_table
from publisher.schema import audit_events
from tests.campaigns.helpers import cli, write
from tests.conftest import DRYRUN, Env
from tests.helpers import all_deliveries
from tests.test_approvals_accounts import run_due

ACCOUNTS = {**DRYRUN,
            "comms": {"channel": "dryrun", "kind": "organisation", "timezone": "Europe/Oslo",
                      "approvers": ["kari", "ola"]},
            "events": {"channel": "dryrun", "kind": "organisation", "timezone": "Europe/Oslo"}}
SUMMIT: dict[str, Any] = {
    "name": "summit",
    "accounts": ["comms", "events"],
    "anchors": {"event": "2031-09-08T09:00+02:00"},
    "rows": [{"key": "opening", "at": "now", "text": "The summit opens today at 09:00 in hall B."},
             {"key": "agenda", "at": "event-1d 10:00", "text": "Tomorrow's agenda: routing, security and peering."}],
}


@pytest.fixture
def summit(env: Env, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    env.write_config(ACCOUNTS)
    env.env["PUBLISHER_ACTOR"] = "carol"
    for k, v in env.env.items():
        if k.startswith("PUBLISHER_"):
            monkeypatch.setenv(k, v)
    return write(tmp_path / "summit.yaml", SUMMIT)


def _states(env: Env, key: str) -> dict[str, str]:
    """account -> state of the row's copies."""
    return {d["account"]: d["state"] for d in all_deliveries(env.store())
            if d["payload"]["text"].startswith(key)}


def _published(env: Env) -> list[str]:
    return sorted(r["account"] for r in ledger_rows(env.settings().home / "dryrun-ledger.jsonl"))


def _events(env: Env, kind: str) -> list[dict[str, Any]]:
    with env.store().read() as conn:
        rows = conn.execute(select(audit_events).where(audit_events.c.action == kind).order_by(audit_events.c.seq))
        return [{**r, "details": json.loads(r["details"])} for r in rows.mappings()]


def _approvals(env: Env) -> list[tuple[str, str, str]]:
    with env.store().read() as conn:
        rows = conn.execute(select(approvals_table.c.account, approvals_table.c.actor, approvals_table.c.decision))
        return sorted(tuple(r) for r in rows)


def test_a_row_to_an_approval_account_and_a_free_one_goes_out_nowhere_until_approved(env: Env, summit: Path,
                                                                                    capsys) -> None:
    code, out, err = cli(capsys, "campaign", "import", str(summit))
    assert code == 0, err
    assert _states(env, "The summit") == {"comms": "pending_approval", "events": "pending_approval"}
    env.env["PUBLISHER_ACTOR"] = "worker"
    run_due(env.settings(), env.store())
    assert _published(env) == []  # the bug: "events" (no approvers) went out while "comms" waited
    code, out, err = cli(capsys, "campaign", "approve", "summit", actor="ola")
    assert code == 0, err
    assert _states(env, "The summit") == {"comms": "scheduled", "events": "scheduled"}
    run_due(env.settings(), env.store())
    assert _published(env) == ["comms", "events"]
    assert cli(capsys, "audit", "verify")[0] == 0


def test_a_new_text_voids_the_rows_approvals_and_a_new_time_keeps_them(env: Env, summit: Path, capsys) -> None:
    assert cli(capsys, "campaign", "import", str(summit))[0] == 0
    assert cli(capsys, "campaign", "approve", "summit", actor="ola")[0] == 0
    assert _states(env, "Tomorrow") == {"comms": "scheduled", "events": "scheduled"}
    assert _approvals(env) == [("comms", "ola", "approved")] * 2  # both rows

    moved = copy.deepcopy(SUMMIT)
    moved["rows"][1]["at"] = "event-1d 11:00"  # a new time only: what was approved is what goes out
    write(summit, moved)
    code, out, err = cli(capsys, "campaign", "import", str(summit))
    assert code == 0 and "1 changed" in out, out + err
    assert _states(env, "Tomorrow") == {"comms": "scheduled", "events": "scheduled"}
    assert _approvals(env) == [("comms", "ola", "approved")] * 2
    assert _events(env, "approval.reset") == []

    reworded = copy.deepcopy(moved)
    reworded["rows"][1]["text"] = "Tomorrow's agenda: routing, security, peering and a panel."
    write(summit, reworded)
    code, out, err = cli(capsys, "campaign", "import", str(summit))
    assert code == 0 and "1 changed" in out, out + err
    assert _states(env, "Tomorrow") == {"comms": "pending_approval", "events": "pending_approval"}
    assert _approvals(env) == [("comms", "ola", "approved")]  # the other row's approval stands
    [reset] = _events(env, "approval.reset")
    assert reset["details"]["by"] == "carol" and "agenda" in reset["details"]["reason"]
    code, out, _ = cli(capsys, "show", reset["post_id"])
    assert code == 0 and "approved by ola" not in out
    code, out, err = cli(capsys, "approve", reset["post_id"], actor="kari")  # a new decision, not "already"
    assert code == 0, err
    assert _states(env, "Tomorrow") == {"comms": "scheduled", "events": "scheduled"}
    assert len(_events(env, "approval.granted")) == 3
    assert cli(capsys, "audit", "verify")[0] == 0
    assert "no change" in cli(capsys, "campaign", "import", str(summit))[1]


def test_campaign_reject_cancels_every_copy_with_its_reason(env: Env, summit: Path, capsys) -> None:
    assert cli(capsys, "campaign", "import", str(summit))[0] == 0
    code, _, err = cli(capsys, "campaign", "reject", "summit", "--reason", "wrong date", actor="carol")
    assert code == 4, err  # the author is no approver
    code, out, err = cli(capsys, "campaign", "reject", "summit", "--reason", "wrong date", actor="kari")
    assert code == 0, err
    copies = [d for d in all_deliveries(env.store())]
    assert len(copies) == 4 and {d["state"] for d in copies} == {"cancelled"}
    assert all("wrong date" in (d["last_error"] or "") for d in copies)
    assert [e["details"]["reason"] for e in _events(env, "approval.rejected")] == ["wrong date"] * 2
    env.env["PUBLISHER_ACTOR"] = "worker"
    run_due(env.settings(), env.store())
    assert _published(env) == []
    assert cli(capsys, "audit", "verify")[0] == 0
