"""`publisher audit head` and `audit verify --expect-head`, row checks and the keyed mode, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import delete, func, select, update

from publisher import audit
from publisher.schema import audit_events, audit_seals, posts
from tests.conftest import Env


def _post(env: Env, text: str) -> str:
    r = env.cli("post", "--account", "noc", "--at", "+1d", "--json", text)
    assert r.returncode == 0, r.stderr
    return str(json.loads(r.stdout)["post_id"])


def _key_file(env: Env, mode: int) -> tuple[Path, bytes]:
    key = b"audit-key-" + b"x" * 32
    path = env.home / "audit.key"
    path.write_bytes(key)
    path.chmod(mode)
    return path, key


def test_head_seals_the_newest_events_and_verify_holds_the_log_to_it(env: Env) -> None:
    _post(env, "first")
    r = env.cli("audit", "head")
    assert r.returncode == 0
    witnessed = r.stdout.strip()
    with env.store().read() as conn:
        seq, digest = conn.execute(select(audit_seals.c.seq, audit_seals.c.hash)
                                   .order_by(audit_seals.c.seq.desc()).limit(1)).one()
        sealed = json.loads(conn.execute(select(audit_seals.c.heads).where(audit_seals.c.seq == seq)).scalar_one())
        last = conn.execute(select(audit_events).order_by(audit_events.c.seq.desc()).limit(1)).mappings().one()
    assert witnessed == f"{seq}:{digest}"
    assert [last["stream"], last["stream_seq"], last["hash"]] in sealed  # the seal covers the newest event
    assert json.loads(env.cli("audit", "head", "--json").stdout) == {"seq": seq, "hash": digest, "head": witnessed}

    _post(env, "second")  # the log grows past the witness: still fine
    r = env.cli("audit", "verify", "--expect-head", witnessed)
    assert r.returncode == 0 and "witness" in r.stdout, r.stderr

    with env.store().engine.begin() as conn:  # cut the tail back to before the newest sealed event
        conn.execute(delete(audit_events).where(audit_events.c.seq >= last["seq"]))
    r = env.cli("audit", "verify", "--expect-head", witnessed)
    # the first missing event is named by its seq in stream 0 (SQLite); elsewhere its seq is gone with it, so by its
    # place in its stream (the head it is reported at depends on which streams the two CLI calls happened to write)
    named = (f"event {last['seq']}" if last["stream"] == 0
             else f"event #{last['stream_seq']} of stream {last['stream']} is missing")
    assert r.returncode == 1 and named in r.stderr and "tail was cut" in r.stderr, r.stderr


def test_a_malformed_head_is_a_usage_error(env: Env) -> None:
    r = env.cli("audit", "verify", "--expect-head", "12:not-a-hash")
    assert r.returncode == 2 and "SEQ:HASH" in r.stderr


def test_an_empty_log_has_the_genesis_head(env: Env) -> None:
    r = env.cli("audit", "head")
    assert r.returncode == 0 and r.stdout.strip() == f"0:{audit.GENESIS}"
    assert env.cli("audit", "verify", "--expect-head", r.stdout.strip()).returncode == 0


def test_verify_names_a_post_edited_outside_publisher(env: Env) -> None:
    post_id = _post(env, "what we said")
    with env.store().engine.begin() as conn:
        conn.execute(update(posts).where(posts.c.id == post_id).values(text="what we did not say"))
    r = env.cli("audit", "verify")
    assert r.returncode == 1 and f"post {post_id}" in r.stderr and "content digest" in r.stderr
    out = json.loads(env.cli("audit", "verify", "--json").stdout)
    assert out["ok"] is False and out["mode"] == "chain+rows" and any(post_id in p for p in out["problems"])


def test_a_keyed_log_says_which_mode_verify_ran_in_and_the_key_never_shows(env: Env) -> None:
    path, key = _key_file(env, 0o600)
    env.env[audit.KEY_FILE_ENV] = str(path)
    _post(env, "sealed")
    r = env.cli("audit", "verify")
    assert r.returncode == 0 and "chain+rows+key" in r.stdout, r.stderr
    with env.store().read() as conn:
        last = conn.execute(select(audit_events.c.action).order_by(audit_events.c.seq.desc()).limit(1)).scalar_one()
    assert last == audit.SEAL  # the transaction's last event
    export = env.cli("audit", "export").stdout
    assert key.decode() not in export and key.decode() not in r.stdout + r.stderr

    del env.env[audit.KEY_FILE_ENV]  # someone without the key: the seal is not checked, and verify says so
    r = env.cli("audit", "verify")
    assert r.returncode == 0 and "seal events not checked" in r.stdout and "+key" not in r.stdout


def test_a_key_file_others_can_read_is_refused_and_nothing_is_stored(env: Env) -> None:
    path, key = _key_file(env, 0o644)
    env.env[audit.KEY_FILE_ENV] = str(path)
    r = env.cli("post", "--account", "noc", "--at", "+1d", "not stored")
    assert r.returncode == 1 and "readable by others" in r.stderr and key.decode() not in r.stderr
    with env.store().read() as conn:
        assert conn.execute(select(func.count()).select_from(posts)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(audit_events)).scalar_one() == 0
