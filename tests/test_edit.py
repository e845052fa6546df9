"""Edit and reschedule (issue 13): re-rendered, re-checked, audited, and safe against a worker claiming the same
delivery at the same moment (exactly one of the two wins, every time). Real store, the real scheduler tick and
publisher against the dry-run platform's ledger; the CLI as a process."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from publisher import service
from publisher.channels.dryrun import ledger_rows
from publisher.errors import InvalidState, ToneBlocked
from publisher.publishing import Publisher
from publisher.scheduling import Scheduler
from publisher.workflows import approvals, edits
from tests.conftest import DRYRUN, Env
from tests.helpers import all_deliveries, states
from tests.test_approvals_accounts import run_due


def _post(env: Env, text: str, accounts: list[str] | None = None, at: datetime | None = None) -> Any:
    return service.accept(env.settings(), env.store(), service.NewPost(
        text=text, accounts=accounts or ["noc"], at=at or datetime.now(UTC) + timedelta(hours=2)))


def _cli(env: Env, *args: str) -> tuple[int, str, str]:
    r = env.cli(*args)
    return r.returncode, r.stdout, r.stderr


@pytest.mark.slow  # CLI processes
def test_edit_text_time_and_one_variant_then_the_new_text_is_published(env: Env) -> None:
    post = _post(env, "Planned maintenance tonight 22:00-23:00", ["noc", "andrew"])
    rc, out, err = _cli(env, "edit", post.post_id, "--text", "Planned maintenance tonight 23:00-00:00",
                        "--variant", "andrew=Maintenance on our network tonight, 23:00-00:00", "--at", "+1h")
    assert rc == 0, err
    assert "edited" in out and "now scheduled for" in out and "UTC)" in out
    rows = {d["account"]: d for d in all_deliveries(env.store())}
    assert rows["noc"]["payload"]["text"] == "Planned maintenance tonight 23:00-00:00"
    assert rows["andrew"]["payload"]["text"] == "Maintenance on our network tonight, 23:00-00:00"
    later = datetime.now(UTC) + timedelta(minutes=59)
    assert all(later < d["due_at"] < later + timedelta(minutes=2) for d in rows.values())
    rc, out, _ = _cli(env, "audit", "log", "--post", post.post_id, "--json")
    actions = [e["action"] for e in json.loads(out)]
    assert actions.count("edited") == 2 and "post.edited" in actions
    assert env.cli("audit", "verify").returncode == 0  # the content digests follow the edit
    rc, _, err = _cli(env, "edit", post.post_id, "--at", "now")
    assert rc == 0, err
    run_due(env.settings(), env.store())
    assert sorted(r["text"] for r in ledger_rows(env.home / "dryrun-ledger.jsonl")) == [
        "Maintenance on our network tonight, 23:00-00:00", "Planned maintenance tonight 23:00-00:00"]


@pytest.mark.slow  # CLI processes
@pytest.mark.parametrize(("args", "code", "needle"), [
    (("--text", "Write to ola.nordmann@example.com for details"), 3, "blocking"),
    (("--text", "word " * 1200), 2, "allows 5000"),
    (("--variant", "nobody=Hi"), 2, "not an account"),
    (("--at", "2020-01-01 09:00"), 2, "in the past"),
    ((), 2, "nothing to change"),
])
def test_a_refused_edit_changes_nothing(env: Env, args: tuple[str, ...], code: int, needle: str) -> None:
    post = _post(env, "Planned maintenance tonight 22:00-23:00")
    before = all_deliveries(env.store())
    rc, out, err = _cli(env, "edit", post.post_id, *args)
    assert rc == code and needle in out + err, (rc, out, err)
    assert all_deliveries(env.store()) == before


@pytest.mark.slow  # CLI processes
def test_an_edit_by_delivery_id_changes_that_copy_only_and_never_moves_past_the_closing_time(env: Env) -> None:
    post = service.accept(env.settings(), env.store(), service.NewPost(
        text="Planned maintenance tonight 22:00-23:00", accounts=["noc", "andrew"],
        at=datetime.now(UTC) + timedelta(hours=2), not_after=datetime.now(UTC) + timedelta(hours=3)))
    before = {d["account"]: d for d in all_deliveries(env.store())}
    rc, out, err = _cli(env, "edit", before["noc"]["id"], "--text", "Planned maintenance tonight 22:30-23:30")
    assert rc == 0, err
    after = {d["account"]: d for d in all_deliveries(env.store())}
    assert after["noc"]["payload"]["text"] == "Planned maintenance tonight 22:30-23:30"
    assert after["andrew"] == before["andrew"]  # the other copy is as it was
    rc, out, err = _cli(env, "edit", post.post_id, "--at", "+4h")
    assert rc == 2 and "closing time" in err, (rc, out, err)
    assert {d["account"]: d for d in all_deliveries(env.store())} == after
    assert env.cli("audit", "verify").returncode == 0


@pytest.mark.slow  # CLI processes
def test_a_published_delivery_is_not_edited_and_the_caller_is_told(env: Env) -> None:
    post = _post(env, "Planned maintenance tonight 22:00-23:00", at=datetime.now(UTC))
    run_due(env.settings(), env.store())
    assert states(env.store()) == {"published": 1}
    rc, _, err = _cli(env, "edit", post.post_id, "--text", "Other text")
    assert rc == 1 and "published" in err


def test_new_text_on_an_approved_post_goes_back_to_approval(env: Env) -> None:
    env.write_config({**DRYRUN, "comms": {"channel": "dryrun", "kind": "organisation", "approvers": ["kari"]}})
    env.env["PUBLISHER_ACTOR"] = "ola"
    post = _post(env, "Our conference opens on Monday at 09:00", ["comms", "noc"])
    env.env["PUBLISHER_ACTOR"] = "kari"
    assert len(approvals.approve(env.settings(), env.store(), [post.post_id]).moved) == 2
    env.env["PUBLISHER_ACTOR"] = "ola"
    edits.edit(env.settings(), env.store(), post.post_id, edits.Edit(at=datetime.now(UTC) + timedelta(hours=3)))
    assert states(env.store()) == {"scheduled": 2}  # a new time keeps the approval
    out = edits.edit(env.settings(), env.store(), post.post_id, edits.Edit(text="Our conference opens on Tuesday"))
    assert out.to_approval and states(env.store()) == {"pending_approval": 2}
    env.env["PUBLISHER_ACTOR"] = "kari"
    again = approvals.approve(env.settings(), env.store(), [post.post_id])
    assert len(again.moved) == 2
    assert again.decided == [(post.post_id, "comms")] and again.already == []  # the old approval was reset


N = 20


@pytest.mark.slow  # 20 rounds of two threads
def test_edit_against_a_worker_claiming_the_same_delivery_exactly_one_wins_every_time(env: Env) -> None:
    """Repeated: a queued delivery, a worker thread handling its message and an edit thread, released together.
    Exactly one wins: either the worker published the old text and the edit reports it could not change it, or
    the edit changed it and the platform never saw it. Never both, never the old text after a successful edit."""
    settings = env.settings()
    ledger = env.home / "dryrun-ledger.jsonl"
    wins = {"edit": 0, "worker": 0}
    for i in range(N):
        d_id = _post(env, f"Round {i}: planned work tonight", at=datetime.now(UTC)).deliveries[0]["id"]
        assert Scheduler(settings, env.store(), lambda ch, ids, ms: ids[0], lambda items: set()).tick() == 1
        worker_store, edit_store = env.store(), env.store()
        gate = threading.Barrier(2)
        result: dict[str, Any] = {}

        def work(store: Any = worker_store, d: str = d_id, out: dict[str, Any] = result,
                 gate: threading.Barrier = gate) -> None:
            gate.wait()
            out["worker"] = Publisher(settings, store).handle_many([d])[d]

        def change(store: Any = edit_store, d: str = d_id, out: dict[str, Any] = result, n: int = i,
                   gate: threading.Barrier = gate) -> None:
            gate.wait()
            try:
                out["edit"] = edits.edit(settings, store, d, edits.Edit(
                    text=f"Round {n}: edited", at=datetime.now(UTC) + timedelta(days=1)))
            except InvalidState as e:
                out["edit"] = e

        threads = [threading.Thread(target=work), threading.Thread(target=change)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        sent = [r for r in ledger_rows(ledger) if r["delivery_id"] == d_id]
        edited = not isinstance(result["edit"], InvalidState)
        if edited:
            wins["edit"] += 1
            assert sent == [] and result["worker"] in ("duplicate", "lost-claim"), (i, result, sent)
            assert result["edit"].changed == [d_id]
        else:
            wins["worker"] += 1
            assert result["worker"] == "published" and [r["text"] for r in sent] == [f"Round {i}: planned work tonight"]
            assert "publishing" in str(result["edit"]) or "published" in str(result["edit"])
        worker_store.dispose()
        edit_store.dispose()
    assert wins["edit"] + wins["worker"] == N
    print(f"edit won {wins['edit']}, worker won {wins['worker']} of {N}")


def test_tone_blocked_edit_raises_before_any_change(env: Env) -> None:
    post = _post(env, "Planned maintenance tonight 22:00-23:00")
    with pytest.raises(ToneBlocked):
        edits.edit(env.settings(), env.store(), post.post_id, edits.Edit(text="Mail ola.nordmann@example.com now"))
    assert [d["payload"]["text"] for d in all_deliveries(env.store())] == ["Planned maintenance tonight 22:00-23:00"]


@pytest.mark.slow  # CLI processes
def test_an_edit_is_checked_with_the_hashtag_the_post_must_carry(env: Env) -> None:
    """`post --require-hashtag` holds for the post's life: an edit that drops the tag is refused (exit 3) and
    changes nothing; one that keeps it passes."""
    r = env.cli("post", "--account", "noc", "--require-hashtag", "Fiberuka", "--json",
                "Fibre works in Bergen tonight 22:00-23:00 #Fiberuka")
    assert r.returncode == 0, r.stderr
    post_id = json.loads(r.stdout)["post_id"]
    before = all_deliveries(env.store())
    rc, out, err = _cli(env, "edit", post_id, "--text", "Fibre works in Bergen tonight 23:00-00:00")
    assert rc == 3 and "hashtags.required" in out + err, (rc, out, err)
    assert all_deliveries(env.store()) == before
    rc, out, err = _cli(env, "edit", post_id, "--variant", "noc=Fibre works in Bergen tonight, 23:00-00:00")
    assert rc == 3, (rc, out, err)  # an account's own wording is held to the same tag
    assert all_deliveries(env.store()) == before
    rc, _, err = _cli(env, "edit", post_id, "--text", "Fibre works in Bergen tonight 23:00-00:00 #Fiberuka")
    assert rc == 0, err
    assert all_deliveries(env.store())[0]["payload"]["text"].endswith("#Fiberuka")
