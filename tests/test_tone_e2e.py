"""Tone checks end to end: real CLI processes, `publisher run` / worker / scheduler, the real broker and store.

A post accepted under one profile must be checked again before it is published; when the account's profile has
become stricter meanwhile, the delivery ends `held` with the reason visible, never published and never dropped.
An audited `--allow RULE --reason` override from enqueue still holds at publish time. Per-account wording
(`--variant`) is stored per delivery and checked for consistency across accounts, also on one platform.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from typing import Any

import pytest

from publisher import service, tone
from publisher.channels.dryrun import ledger_rows
from publisher.models import PostKind
from publisher.store import deliveries_of
from publisher.store import utcnow as now
from tests.conftest import Env, wait_for
from tests.helpers import all_deliveries, check_invariants, states

ORG = {"channel": "dryrun", "kind": "organisation", "timezone": "Europe/Oslo"}
ACCOUNTS = {"noc": {**ORG, "profile": "noc"}, "comms-a": ORG, "comms-b": ORG, "comms-c": ORG}
PROFILE = {"noc": {"extends": "organisation", "rules": {}}}
STRICTER = {"noc": {"extends": "organisation", "rules": {
    "phrases.banned": {"phrases": ["will never happen again", "seamless"]}}}}

SEAMLESS = "From today the new Oslo backbone gives our customers a seamless connection to Stockholm and Bergen."
CALM = "Planned maintenance on the Bergen core routers tonight from 23:00 to 01:00, with two short interruptions."
OVERRIDDEN = "Splice crew reports the cable is repaired! Traffic is back on the primary path since 13:41."

#: states of a delivery that is not done yet
WAITING = {"scheduled", "queued", "publishing", "retry_wait", "unknown", "reconciling"}


def _post(env: Env, *args: str) -> dict[str, Any]:
    r = env.cli(*args, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)  # type: ignore[no-any-return]


def _show(env: Env, ident: str) -> dict[str, Any]:
    r = env.cli("show", ident, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)  # type: ignore[no-any-return]


def _ledger_texts(env: Env) -> dict[str, str]:
    return {r["delivery_id"]: r["text"] for r in ledger_rows(env.home / "dryrun-ledger.jsonl")}


def _accept_three(env: Env, at: str = "+2s") -> tuple[str, str, str]:
    """A post that the stricter profile will block, a calm control post, and a ticket update whose blocking
    exclamation mark was overridden (audited) at enqueue."""
    seamless = _post(env, "post", "--account", "noc", "--at", at, SEAMLESS)["post_id"]
    calm = _post(env, "post", "--account", "noc", "--at", at, CALM)["post_id"]
    blocked = env.cli("ticket", "update", "INC-4711", "--account", "noc", "--update-id", "5", "--open-if-missing",
                      OVERRIDDEN)
    assert blocked.returncode == 3 and "exclamation" in blocked.stderr, blocked.stderr
    overridden = _post(env, "ticket", "update", "INC-4711", "--account", "noc", "--update-id", "5", "--at", at,
                       "--open-if-missing",
                       "--allow", "exclamation", "--reason", "quoting the field crew's report", OVERRIDDEN)["post_id"]
    return seamless, calm, overridden


def _assert_held_visibly(env: Env, post_id: str, rule: str, phrase: str) -> str:
    show = _show(env, post_id)
    (d,) = show["deliveries"]
    assert d["state"] == "held", d
    assert rule in d["last_error"] and phrase in d["last_error"], d["last_error"]
    held = [e for e in show["audit"] if e["action"] == "held"]
    assert len(held) == 1 and held[0]["details"]["reason"] == "tone", held
    assert [f["rule"] for f in held[0]["details"]["findings"]] == [rule]  # the audit event carries the findings
    assert held[0]["details"]["findings"][0]["severity"] == "block"
    listed = json.loads(env.cli("list", "--state", "held", "--json").stdout)
    assert [x["id"] for x in listed] == [d["id"]] and rule in listed[0]["last_error"]
    text = env.cli("show", post_id)
    assert "state=held" in text.stdout and f"note: tone check now blocks: {rule}" in text.stdout, text.stdout
    assert d["id"] not in _ledger_texts(env)  # never published
    return str(d["id"])


def _assert_override_respected(env: Env, post_id: str) -> None:
    show = _show(env, post_id)
    assert [d["state"] for d in show["deliveries"]] == ["published"]
    override = [e for e in show["audit"] if e["action"] == "tone.override"]
    assert len(override) == 1 and override[0]["details"]["rule"] == "exclamation"
    assert override[0]["details"]["reason"] == "quoting the field crew's report"
    assert show["post"]["overrides"][0]["rule"] == "exclamation"


@pytest.mark.slow  # CLI processes and publisher run
def test_profile_made_stricter_before_due_holds_the_delivery_visibly_and_respects_overrides(env: Env) -> None:
    env.write_config(ACCOUNTS, profiles=PROFILE)
    seamless, calm, overridden = _accept_three(env)
    env.write_config(ACCOUNTS, profiles=STRICTER)  # comms bans a phrase while the posts wait

    r = env.cli("run", "--until-done", "--duration", "60")
    assert r.returncode == 0, r.stderr
    store = env.store()
    assert states(store) == {"held": 1, "published": 2}
    held_id = _assert_held_visibly(env, seamless, "phrases.banned", "seamless")
    assert [d["state"] for d in _show(env, calm)["deliveries"]] == ["published"]
    _assert_override_respected(env, overridden)
    check_invariants(store, env.home / "dryrun-ledger.jsonl")

    # never dropped: once the wording is accepted again, a human releases it and it is published once
    env.write_config(ACCOUNTS, profiles=PROFILE)
    assert env.cli("retry", held_id).returncode == 0
    assert env.cli("run", "--until-done", "--duration", "60").returncode == 0
    assert states(store) == {"published": 3}
    assert _ledger_texts(env)[held_id] == SEAMLESS
    check_invariants(store, env.home / "dryrun-ledger.jsonl")
    assert env.cli("audit", "verify").returncode == 0


@pytest.mark.slow  # worker and scheduler processes
def test_running_worker_applies_a_profile_changed_while_it_runs(env: Env) -> None:
    """Given a worker that has already checked and published a post under the old profile file, when three more
    posts are accepted and the file is made stricter (no scheduler runs meanwhile, so none can be checked
    early), then the same worker process holds the one the new file blocks and publishes the rest."""
    env.write_config(ACCOUNTS, profiles=PROFILE)
    env.spawn("worker", "--processes", "1", "--threads", "2", log="worker")
    scheduler = env.spawn("scheduler", log="scheduler")
    store = env.store()
    first = _post(env, "post", "--account", "noc", CALM)["post_id"]  # the worker checks one post under the old file
    wait_for(lambda: states(store) == {"published": 1}, timeout=60, what="first post published")
    os.killpg(scheduler.pid, signal.SIGTERM)
    assert scheduler.wait(timeout=30) == 0
    seamless, calm, overridden = _accept_three(env, at="now")
    env.write_config(ACCOUNTS, profiles=STRICTER)
    assert states(store) == {"published": 1, "scheduled": 3}  # none of the three has been checked yet
    env.spawn("scheduler", log="scheduler2")
    wait_for(lambda: not set(states(store)) & WAITING, timeout=90, what="the three posts checked and done")
    assert states(store) == {"published": 3, "held": 1}
    _assert_held_visibly(env, seamless, "phrases.banned", "seamless")
    _assert_override_respected(env, overridden)
    assert [d["state"] for d in _show(env, first)["deliveries"] + _show(env, calm)["deliveries"]] == \
        ["published", "published"]
    check_invariants(store, env.home / "dryrun-ledger.jsonl")


# -- per-account wording --

MAINT = "Maintenance on the Oslo core network tonight 23:00-01:00; expect two interruptions of up to 5 minutes."
MAINT_B = "Tonight 23:00-01:00 we upgrade the Oslo core network. Two interruptions, 5 minutes each at most."
MAINT_C = "Oslo core network maintenance tonight from 23:00. Two short interruptions."  # drops 01:00 and 5 minutes


@pytest.mark.slow  # CLI processes and publisher run
def test_per_account_wording_on_one_platform_is_checked_for_consistency_and_published_as_written(env: Env) -> None:
    env.write_config(ACCOUNTS)
    three = ["--account", "comms-a", "--account", "comms-b", "--account", "comms-c"]
    r = env.cli("post", *three, "--variant", f"comms-b={MAINT_B}", "--variant", f"comms-c={MAINT_C}", MAINT)
    assert r.returncode == 3, r.stderr  # all three accounts are on the same channel: keyed by channel, unchecked
    assert re.search(r"consistency \(dryrun\).*comms-a, comms-b variants state '01:00', this comms-c variant", r.stderr), r.stderr
    assert "'5 minutes'" in r.stderr
    assert all_deliveries(env.store()) == []

    bad = env.cli("post", *three, "--variant", "comms-z=hello", MAINT)
    assert bad.returncode == 2 and "comms-z" in bad.stderr

    fixed = MAINT_C.replace("from 23:00.", "23:00-01:00.").replace("short interruptions", "interruptions of up to 5 min")
    out = _post(env, "post", *three, "--variant", f"comms-b={MAINT_B}", "--variant", f"comms-c={fixed}",
                "--variant", f"dryrun={MAINT}", "Maintenance tonight.")  # comms-a: the channel's variant wins
    by_account = {d["account"]: d["id"] for d in out["deliveries"]}
    assert env.cli("run", "--until-done", "--duration", "60").returncode == 0
    ledger = _ledger_texts(env)
    assert [ledger[by_account[a]] for a in ("comms-a", "comms-b", "comms-c")] == [MAINT, MAINT_B, fixed]
    accepted = next(e for e in _show(env, out["post_id"])["audit"] if e["action"] == "post.accepted")
    assert accepted["details"]["variants"] == ["comms-b", "comms-c", "dryrun"]
    check_invariants(env.store(), env.home / "dryrun-ledger.jsonl")


@pytest.mark.slow  # CLI processes
def test_ticket_variant_gets_the_ticket_template(env: Env) -> None:
    env.write_config(ACCOUNTS)
    out = _post(env, "ticket", "update", "INC-7", "--account", "comms-a", "--account", "comms-b", "--update-id", "1",
                "--open-if-missing",
                "--variant", "comms-b=Crew on site, next update 15:00.", "Crew is on site; next update at 15:00.")
    texts = {d["account"]: _show(env, d["id"])["deliveries"][0]["payload"]["text"] for d in out["deliveries"]}
    assert texts == {"comms-a": "INC-7 update: Crew is on site; next update at 15:00.",
                     "comms-b": "INC-7 update: Crew on site, next update 15:00."}


def test_pre_publish_check_compares_the_stored_variants_and_reads_the_changed_file(env: Env) -> None:
    """tone.check_delivery on the real store: the other accounts' stored payloads are the variants, and a
    profile made stricter in the file after the settings were loaded applies (the worker's situation)."""
    personal = {"channel": "dryrun", "kind": "personal", "timezone": "Europe/Oslo", "profile": "team"}
    accounts = {"andrew": personal, "ingrid": personal}
    env.write_config(accounts, profiles={"team": {"extends": "personal"}})  # consistency only warns
    settings, store = env.settings(), env.store()
    accepted = service.accept(settings, store, service.NewPost(
        text="Our fibre upgrade in Bergen finishes at 14:00 today.", accounts=["andrew", "ingrid"], at=now(),
        variants={"ingrid": "Our fibre upgrade in Bergen finishes this afternoon."}))
    assert [f.rule for f in accepted.findings] == ["consistency"]
    with store.read() as conn:
        ds = {d["account"]: d for d in deliveries_of(conn, accepted.post_id)}

    def blocking(name: str) -> list[str]:
        found = tone.check_delivery(store, ds[name], settings.account(name), PostKind.NOTE, settings)
        return [f.rule for f in tone.blocking(found)]

    assert blocking("ingrid") == []
    env.write_config(accounts, profiles={"team": {"extends": "personal", "rules": {"consistency": "block"}}})
    assert blocking("ingrid") == ["consistency"]  # settings still hold the old profiles: the file was re-read
    assert blocking("andrew") == []
    env.write_config(accounts, profiles={"team": {"extends": "personal", "rules": {"consistency": "sometimes"}}})
    assert blocking("ingrid") == ["consistency"]  # an invalid edit keeps the last valid rules


@pytest.mark.slow  # CLI processes
def test_cli_enqueue_imports_no_heavy_library_the_post_does_not_need(env: Env) -> None:
    """`python -X importtime` on the enqueue path: the default organisation profile on a calm English ticket
    needs no sentiment (off for tickets), no phone-number library (no digit run), no language detector (the
    function words settle it) and no twitter-text (not an X account)."""
    heavy = ("twitter_text", "vaderSentiment", "phonenumbers", "lingua")

    def imported(*args: str, exit_code: int = 0) -> set[str]:
        r = subprocess.run([sys.executable, "-X", "importtime", "-m", "publisher.cli", *args], env=env.env,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == exit_code, r.stderr[-2000:]
        names = {line.split("|")[-1].strip().split(".")[0] for line in r.stderr.splitlines()
                 if line.startswith("import time:")}
        return {m for m in heavy if m in names}

    assert imported("ticket", "update", "INC-4711", "--account", "noc", "--update-id", "2", "--open-if-missing",
                    "Splice crew on site, ETA 14:00 CET. Traffic is rerouted and the next update follows at 15:00.") \
        == set()
    # the same measurement sees a library when the post does need it (a phone number is checked)
    assert imported("ticket", "update", "INC-4711", "--account", "noc", "--update-id", "3",
                    "Call the duty manager on 930 12 345 for the latest on INC-4711.", exit_code=3) == {"phonenumbers"}
