"""The pre-publish tone check is skipped only when nothing it depends on changed since the payload passed at
enqueue (``deliveries.tone_key``): any change to the payload, the variants, the configuration or a missing key
(rows from before migration 0002) means the full check. Real store, real configuration file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import yaml
from sqlalchemy import update

from publisher import service, tone
from publisher.models import PostKind, State
from publisher.publishing import Publisher
from publisher.schema import deliveries
from publisher.settings import load
from publisher.store import get_deliveries
from tests.conftest import Env

ORG = {"channel": "dryrun", "kind": "organisation"}


def _accept(env: Env, text: str, accounts: list[str]) -> list[dict[str, Any]]:
    result = service.accept(env.settings(), env.store(), service.NewPost(
        text=text, accounts=accounts, at=datetime.now(UTC) + timedelta(hours=1)))
    return list(result.deliveries)


def _fresh(env: Env, ids: list[str]) -> dict[str, dict[str, Any]]:
    with env.store().read() as conn:
        return get_deliveries(conn, ids)


def _unchanged(env: Env, d: dict[str, Any]) -> bool:
    settings = env.settings()
    return tone.unchanged_since_enqueue(env.store(), d, settings.account(d["account"]), PostKind.NOTE, settings)


def test_an_accepted_payload_is_known_clean_until_its_text_changes(env: Env) -> None:
    env.write_config({"noc": ORG})
    [d] = _accept(env, "Planned maintenance on the Bergen core routers tonight from 23:00 to 01:00.", ["noc"])
    stored = _fresh(env, [d["id"]])[d["id"]]
    assert stored["tone_key"] and _unchanged(env, stored)
    edited = {**stored, "payload": {**stored["payload"], "text": stored["payload"]["text"] + " Seamless!"}}
    assert not _unchanged(env, edited)
    assert not _unchanged(env, {**stored, "tone_key": None})  # a row from before migration 0002: full check


def test_a_changed_configuration_or_a_cancelled_variant_means_the_full_check(env: Env) -> None:
    env.write_config({"a": ORG, "b": ORG})
    text = "Our new Oslo office opens on Monday 09:00, with 40 desks."
    ds = _accept(env, text, ["a", "b"])
    rows = _fresh(env, [d["id"] for d in ds])
    assert all(_unchanged(env, r) for r in rows.values())
    with env.store().tx() as conn:  # b's text no longer goes out: the consistency rule's inputs changed for a
        conn.execute(update(deliveries).where(deliveries.c.id == ds[1]["id"]).values(state=State.CANCELLED.value))
    assert not _unchanged(env, _fresh(env, [ds[0]["id"]])[ds[0]["id"]])
    env.write_config({"a": ORG, "b": ORG}, profiles={"organisation-strict": {"extends": "organisation", "rules": {}}})
    [c] = _accept(env, "Planned maintenance tonight from 23:00 to 01:00.", ["a"])
    row = _fresh(env, [c["id"]])[c["id"]]
    assert _unchanged(env, row)
    config = yaml.safe_load((env.home / "config.yaml").read_text())
    config["accounts"]["a"]["options"] = {"tone": {"rules": {"phrases.banned": {"phrases": ["maintenance"]}}}}
    (env.home / "config.yaml").write_text(yaml.safe_dump(config))
    assert not _unchanged(env, row)


def test_a_rule_tightened_after_enqueue_still_holds_the_delivery(env: Env) -> None:
    env.write_config({"noc": ORG})
    [d] = _accept(env, "From today the new backbone gives a seamless connection to Stockholm.", ["noc"])
    config = yaml.safe_load((env.home / "config.yaml").read_text())
    config["accounts"]["noc"]["options"] = {"tone": {"rules": {"phrases.banned": {"phrases": ["seamless"]}}}}
    (env.home / "config.yaml").write_text(yaml.safe_dump(config))
    with env.store().tx() as conn:
        conn.execute(update(deliveries).where(deliveries.c.id == d["id"])
                     .values(state=State.QUEUED.value, due_at=datetime.now(UTC)))
    outcomes = Publisher(load(env.env), env.store()).handle_many([d["id"]])
    assert outcomes == {d["id"]: "held"}
    assert "seamless" in (_fresh(env, [d["id"]])[d["id"]]["last_error"] or "")


def test_the_pre_publish_check_reads_the_configuration_again_only_when_the_file_changed(
        env: Env, monkeypatch: Any) -> None:
    """A worker's first delivery used to parse the config file a second time, holding a lock every publishing
    thread of the process waits on (seconds for a 10,000-account file, at the top of the hour)."""
    import publisher.settings as settings_mod

    env.write_config({"noc": ORG})
    settings = load(env.env)
    reads: list[int] = []
    real_load = settings_mod.load
    monkeypatch.setattr(settings_mod, "load", lambda e=None: reads.append(1) or real_load(e))
    account = settings.account("noc")
    for _ in range(3):
        tone.current_config(settings, account)
    assert reads == []  # the file is as these settings read it
    config = yaml.safe_load((env.home / "config.yaml").read_text())
    config["accounts"]["noc"]["options"] = {"tone": {"rules": {"phrases.banned": {"phrases": ["seamless"]}}}}
    (env.home / "config.yaml").write_text(yaml.safe_dump(config))
    profiles, now = tone.current_config(settings, account)
    assert reads == [1] and now.options["tone"]["rules"]["phrases.banned"]["phrases"] == ["seamless"]
    tone.current_config(settings, account)
    assert reads == [1]
