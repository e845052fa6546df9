"""Expired credentials end to end: real `publisher worker` + `publisher scheduler` processes, the real broker and
store, and the platform sandbox on loopback.

The sandbox expires an account's token; its deliveries go to ``held`` with a reason that says what to do (never
``failed``), visible in `publisher list --state held` and `publisher show`, while other accounts keep publishing.
Once the token is valid again, `publisher accounts verify ACCOUNT` passes and releases the held deliveries, which
are then published exactly once, a thread in its order; the audit trail records the hold and the release.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from publisher.sandbox.server import SandboxServer
from tests.conftest import Env, wait_for
from tests.helpers import all_deliveries

pytestmark = pytest.mark.slow  # CLI processes, a worker and the sandbox server

THREAD = [("open", "Fibre cut Oslo-Stockholm, traffic rerouted"),
          ("update", "Splice crew on site, ETA 14:00 CET"),
          ("resolve", "Repaired 13:41 CET, primary path restored")]


def _accounts(sandbox: SandboxServer, x_token_ref: str) -> dict[str, Any]:
    return {
        "noc-x": {"channel": "x", "kind": "organisation", "base_url": sandbox.base_url("x"),
                  "credentials": {"bearer_token": x_token_ref}},
        "org-masto": {"channel": "mastodon", "kind": "organisation", "base_url": sandbox.base_url("mastodon"),
                      "credentials": {"access_token": "env:HOLD_MASTO_TOKEN"}},
    }


def _ticket(env: Env, ticket: str) -> None:
    for i, (verb, text) in enumerate(THREAD, 1):
        args = ["ticket", verb, ticket, "--account", "noc-x", text]
        if verb == "update":
            args[5:5] = ["--update-id", str(i)]
        r = env.cli(*args)
        assert r.returncode == 0, r.stderr


def _post(env: Env, account: str, text: str) -> str:
    r = env.cli("post", "--account", account, text, "--json")
    assert r.returncode == 0, r.stderr
    return str(json.loads(r.stdout)["post_id"])


def _by_account(env: Env, account: str) -> list[dict[str, Any]]:
    return sorted((d for d in all_deliveries(env.store()) if d["account"] == account),
                  key=lambda d: (d["thread_seq"] or 0, d["part"]))


def _states(env: Env, account: str) -> list[str]:
    return [d["state"] for d in _by_account(env, account)]


def _verify(env: Env, account: str) -> tuple[int, dict[str, Any]]:
    r = env.cli("accounts", "verify", account, "--json")
    return r.returncode, json.loads(r.stdout)[0]


def _hold_then_release(env: Env, sandbox: SandboxServer, renew: Any) -> None:
    """The scenario; ``renew`` makes the X token valid again (clears the fault, or rotates the secret)."""
    _ticket(env, "INC-77")
    before = _post(env, "org-masto", "Maintenance window tonight 22:00-23:00 CET")
    env.spawn("scheduler", log="scheduler")
    env.spawn("worker", "--processes", "1", "--threads", "4", log="worker")

    # the first thread delivery is held for the expired token; the rest of the thread waits behind it
    wait_for(lambda: _states(env, "noc-x")[0] == "held", timeout=60, what="the first X delivery held")
    wait_for(lambda: _states(env, "org-masto") == ["published"], timeout=60, what="the Mastodon post published")
    held = _by_account(env, "noc-x")[0]
    assert "accounts verify noc-x" in held["last_error"] and "credentials" in held["last_error"]

    # the rest of the thread says it waits behind the held one (it never sits "scheduled", silent)
    wait_for(lambda: _states(env, "noc-x") == ["held"] * 3, timeout=60, what="the thread held behind its first post")
    listed = {r["id"]: r for r in json.loads(env.cli("list", "--state", "held", "--json").stdout)}
    assert set(listed) == {d["id"] for d in _by_account(env, "noc-x")}
    assert "accounts verify noc-x" in listed[held["id"]]["last_error"]
    for d in _by_account(env, "noc-x")[1:]:
        assert "waiting behind" in listed[d["id"]]["last_error"], listed[d["id"]]
    shown = json.loads(env.cli("show", held["id"], "--json").stdout)
    assert shown["deliveries"][0]["state"] == "held"
    hold_events = [e for e in shown["audit"] if e["details"].get("to") == "held"]
    assert [e["action"] for e in hold_events] == ["auth_expired"], shown["audit"]
    text = env.cli("show", held["id"])
    assert "state=held" in text.stdout and "accounts verify noc-x" in text.stdout

    # other accounts keep publishing while noc-x is held
    after = _post(env, "org-masto", "Status page moved to status.example.org")
    wait_for(lambda: _states(env, "org-masto") == ["published", "published"], timeout=60,
             what="the later Mastodon post published")
    assert _states(env, "noc-x") == ["held", "held", "held"]
    assert sandbox.sandbox.posts("x") == []

    # verify while the token is still expired: refused, nothing released
    code, result = _verify(env, "noc-x")
    assert code == 1 and result["status"] == "auth expired" and result["released"] == 0
    assert _states(env, "noc-x")[0] == "held"

    renew()
    code, result = _verify(env, "noc-x")
    assert code == 0 and result["status"] == "ok" and result["released"] == 1, result

    try:
        wait_for(lambda: _states(env, "noc-x") == ["published"] * 3, timeout=30, what="the thread published")
    except AssertionError:
        ds = _by_account(env, "noc-x")
        raise AssertionError(f"thread not published after the release: {[(d['state'], d['last_error']) for d in ds]}") from None
    ds = _by_account(env, "noc-x")
    x_posts = sandbox.sandbox.posts("x")
    assert len(x_posts) == 3, x_posts  # exactly once each
    assert [p["remote_id"] for p in x_posts] == [d["remote_id"] for d in ds]  # in thread order
    assert x_posts[0]["in_reply_to"] is None
    assert [p["in_reply_to"] for p in x_posts[1:]] == [p["remote_id"] for p in x_posts[:-1]]
    assert len(sandbox.sandbox.posts("mastodon")) == 2

    trail = json.loads(env.cli("show", held["id"], "--json").stdout)["audit"]
    actions = [e["action"] for e in trail if e["delivery_id"] == held["id"]]
    assert actions.index("auth_expired") < actions.index("released") < actions.index("published"), actions
    released = next(e for e in trail if e["action"] == "released")
    assert released["details"]["from"] == "held" and released["details"]["by"] == "accounts verify"
    assert actions.count("published") == 1
    for pid in (before, after):
        assert json.loads(env.cli("show", pid, "--json").stdout)["deliveries"][0]["state"] == "published"
    r = env.cli("audit", "verify")
    assert r.returncode == 0, r.stdout + r.stderr


def test_expired_token_holds_the_account_until_accounts_verify_releases_it(env: Env, sandbox: SandboxServer) -> None:
    env.env.update({"HOLD_X_TOKEN": "hold-x-token", "HOLD_MASTO_TOKEN": "hold-masto-token"})
    env.write_config(_accounts(sandbox, "env:HOLD_X_TOKEN"))
    sandbox.sandbox.set_faults("x", expire_tokens=True)  # the platform now answers 401 to every X token
    _hold_then_release(env, sandbox, lambda: sandbox.sandbox.set_faults("x", expire_tokens=False))


def test_a_renewed_token_in_the_secrets_file_is_used_after_the_release(env: Env, sandbox: SandboxServer) -> None:
    secrets = env.home / "secrets.yaml"

    def write_token(token: str) -> None:
        secrets.write_text(yaml.safe_dump({"noc_x_token": token}))
        os.chmod(secrets, 0o600)

    write_token("noc-x-token-expired-2026-11")  # the X sandbox answers 401 to a token that says "expired"
    env.env["HOLD_MASTO_TOKEN"] = "hold-masto-token"
    env.write_config(_accounts(sandbox, f"file:{Path(secrets)}#noc_x_token"))
    _hold_then_release(env, sandbox, lambda: write_token("noc-x-token-renewed-2026-12"))
