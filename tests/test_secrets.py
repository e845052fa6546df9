"""A canary secret in an account's configuration appears in no log line (DEBUG on), no broker message, no audit
row, no store column and no CLI output.

The second test makes every platform answer with an error that echoes the request's Authorization header (as
platforms and proxies sometimes do) and then looks for the credentials in everything publisher wrote or printed:
the SQLite file and its WAL, the broker's append-only file (every message it ever carried), the logs at DEBUG,
`list --json`, `show`, `audit export` and `accounts verify`.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from publisher.sandbox.linkedin import member_id
from publisher.sandbox.server import SandboxServer
from tests.conftest import PG, REDIS, Env

CANARY = "tok_CANARY_x9f3b7c1d2e5"
PLATFORMS = ("x", "facebook", "linkedin", "mastodon", "bluesky")


def test_canary_secret_never_leaves_the_process(env: Env, caplog) -> None:  # type: ignore[no-untyped-def]
    env.env["NOC_TOKEN"] = CANARY
    env.env["PUBLISHER_LOG_LEVEL"] = "DEBUG"
    env.write_config({"noc": {"channel": "dryrun", "kind": "organisation", "credentials": {"token": "env:NOC_TOKEN"}}})
    outputs = []
    for args in (("post", "--account", "noc", "secret test"), ("accounts", "list", "--json"), ("config", "check"),
                 ("accounts", "verify")):
        r = env.cli(*args)
        outputs += [r.stdout, r.stderr]
    r = env.cli("run", "--until-done", "--duration", "60")
    outputs += [r.stdout, r.stderr]
    assert r.returncode == 0, r.stderr
    assert all(CANARY not in o for o in outputs)
    store = env.store()
    with store.read() as conn:
        for table in ("posts", "deliveries", "audit_events"):
            for row in conn.execute(text(f"SELECT * FROM {table}")):
                assert CANARY not in repr(tuple(row)), table
    # in-process: the redaction filter scrubs a secret that a library logs at DEBUG
    from publisher import credentials, logs

    credentials.resolve(env.settings().account("noc"), env.env)
    logs.setup("DEBUG")
    with caplog.at_level(logging.DEBUG):
        logs.pin()
        logging.getLogger("publisher.test").debug("Headers: {'Authorization': 'Bearer %s'} token=%s", CANARY, CANARY)
        logging.getLogger("urllib3.connectionpool").warning("GET /feed?access_token=%s", CANARY)
    assert caplog.records
    assert all(CANARY not in r.getMessage() for r in caplog.records)
    assert CANARY not in caplog.text


def _accounts(env: Env, base: str) -> dict[str, dict[str, object]]:
    """One account per adapter (X twice: bearer and OAuth 1.0a), each with its own canary credentials."""
    def ref(name: str) -> str:
        env.env[name] = f"{CANARY}_{name.lower()}"
        return f"env:{name}"

    li_token = ref("LI_TOKEN")
    env.env["BS_ID"] = "acme-noc.bsky.social"  # a handle, public
    return {
        "xb": {"channel": "x", "base_url": f"{base}/x", "credentials": {"bearer_token": ref("XB_TOKEN")}},
        "xo": {"channel": "x", "base_url": f"{base}/x", "credentials": {
            k: ref(f"XO_{k.upper()}") for k in ("consumer_key", "consumer_secret", "access_token", "access_token_secret")}},
        "fb": {"channel": "facebook", "kind": "organisation", "base_url": f"{base}/facebook",
               "credentials": {"page_token": ref("FB_TOKEN")}, "options": {"page_id": "1234"}},
        "li": {"channel": "linkedin", "base_url": f"{base}/linkedin", "credentials": {"access_token": li_token},
               "options": {"author_urn": f"urn:li:person:{member_id(env.env['LI_TOKEN'])}"}},
        "ma": {"channel": "mastodon", "base_url": f"{base}/mastodon", "credentials": {"access_token": ref("MA_TOKEN")}},
        "bs": {"channel": "bluesky", "base_url": f"{base}/bluesky",
               "credentials": {"identifier": "env:BS_ID", "app_password": ref("BS_PASSWORD")}},
    }


def _files(home: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in home.rglob("*") if p.is_file() and not p.name.endswith(".sock")}


@pytest.mark.slow
def test_an_echoed_authorization_header_reaches_no_store_wal_broker_log_or_output(
        env: Env, sandbox: SandboxServer) -> None:
    # Given six accounts on the five platforms, and platforms that echo the Authorization header in every error
    env.env["PUBLISHER_LOG_LEVEL"] = "DEBUG"
    accounts = _accounts(env, sandbox.url)
    env.write_config(accounts)
    for platform in PLATFORMS:
        sandbox.sandbox.set_faults(platform, echo_auth=1000)
    r = env.cli("post", *[a for name in accounts for a in ("--account", name)], "--json",
                "Planned maintenance on the Oslo backbone is complete.")
    assert r.returncode == 0, r.stderr
    outputs = [r.stdout, r.stderr]
    # a reader keeps the SQLite WAL in place while the worker writes, so its bytes can be read afterwards
    keep_wal = None if PG else sqlite3.connect(env.home / "publisher.sqlite")
    try:
        if keep_wal is not None:
            keep_wal.execute("SELECT count(*) FROM deliveries").fetchone()
        # When the worker publishes, every platform answers with the echo, and people look at the result
        r = env.cli("run", "--until-done", "--duration", "90")
        assert r.returncode == 0, r.stderr
        outputs += [r.stdout, r.stderr]
        files = _files(env.home)
    finally:
        if keep_wal is not None:
            keep_wal.close()
    with env.store().read() as conn:
        rows = [tuple(row) for row in conn.execute(text("SELECT account, state, last_error, post_id FROM deliveries"))]
    post_id = rows[0][3]
    for args in (("list", "--json"), ("show", post_id), ("show", post_id, "--json"), ("audit", "export"),
                 ("accounts", "verify"), ("accounts", "verify", "--json")):
        r = env.cli(*args)
        outputs += [r.stdout, r.stderr]
    # Then every platform did echo the header into an error publisher kept
    assert {a for a, *_ in rows} == set(accounts)
    assert all(state == "failed" and "Authorization" in (note or "") for _, state, note, _ in rows), rows
    assert "Authorization" in outputs[-2]  # accounts verify shows the (redacted) answer
    assert PG or any(p.name.endswith("-wal") for p in files), sorted(files)
    assert REDIS or any("valkey" in p.parts and "aof" in p.name for p in files), sorted(files)
    # and no credential (nor a session token a platform issued) is in any byte written or printed
    secrets = [v for k, v in env.env.items() if v.startswith(CANARY)]
    secrets += list(sandbox.platforms["bluesky"].tokens)  # type: ignore[attr-defined]
    assert len(secrets) > 8
    for secret in secrets:
        for out in outputs:
            assert secret not in out, out
        for path, data in files.items():
            assert secret.encode() not in data, f"{secret} in {path}"


def test_a_note_a_transition_stores_is_redacted_even_if_its_error_was_not(env: Env) -> None:
    # Given a scheduled delivery and a note that carries a token (say, from code that built it without ChannelError)
    from publisher import service
    from publisher.models import State
    from publisher.store import get_delivery, transition, utcnow

    store = env.store()
    accepted = service.accept(env.settings(), store, service.NewPost("Router upgrade done.", ["noc"], utcnow()))
    [d] = accepted.deliveries
    # When a transition stores it
    with store.tx() as conn:
        assert transition(conn, "worker", get_delivery(conn, d["id"]) or d, [State.SCHEDULED], State.FAILED, "failed",
                          values={"last_error": f"proxy said: Authorization: Bearer {CANARY}"})
    # Then the store holds the note without the token
    with store.read() as conn:
        note = (get_delivery(conn, d["id"]) or {})["last_error"]
    assert note == "proxy said: Authorization: Bearer ***"


@pytest.mark.parametrize(("said", "kept"), [
    ("Authorization: Bearer tok_live_8c1d2e3f4a5b", "Authorization: Bearer ***"),
    ('{"Authorization":"OAuth EAAGm0PX4ZCpsBAKZC"}', '{"Authorization":"OAuth ***"}'),
    ('Authorization: OAuth oauth_consumer_key="ck9f3b", oauth_token="at7c1d", oauth_signature="s%3D"',
     'Authorization: OAuth oauth_consumer_key="***", oauth_token="***", oauth_signature="***"'),
    ("authorization=Basic dXNlcjpwYXNzd29yZA==", "authorization=Basic ***"),
    ("GET /v19.0/me?access_token=EAAB8d7f&fields=name", "GET /v19.0/me?access_token=***&fields=name"),
    ('{"refresh_token": "r-77f1", "client_secret": "cs-a9"}', '{"refresh_token": "***", "client_secret": "***"}'),
    ('accessJwt":"eyJhbGciOiJFUzI1NksifQ.eyJzY29wZSI6ImF0In0.c2ln', 'accessJwt":"***'),
    ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig expired", "token *** expired"),
], ids=["bearer", "graph-oauth", "oauth1", "basic", "query", "json", "jwt-field", "bare-jwt"])
def test_token_shaped_values_are_redacted_without_knowing_the_secret(said: str, kept: str) -> None:
    from publisher.credentials import redact

    assert redact(said) == kept


@pytest.mark.parametrize(("said", "kept"), [
    ("https://andrew:hunter2-s3cret@blog.example.org/feed.xml", "https://andrew:***@blog.example.org/feed.xml"),
    ("feed https://blog.example.org/index.xml?token=9f8e7d6c&lang=en failed",
     "feed https://blog.example.org/index.xml?token=***&lang=en failed"),
    ("https://example.org/private.rss?lang=en&key=abc123#top", "https://example.org/private.rss?lang=en&key=***#top"),
    ("https://hooks.example.org/feed?sig=AbC%2Fd&auth=x1", "https://hooks.example.org/feed?sig=***&auth=***"),
], ids=["userinfo", "token-param", "key-param", "sig-auth"])
def test_secrets_in_a_url_are_redacted_and_the_rest_stays_readable(said: str, kept: str) -> None:
    from publisher.credentials import redact

    assert redact(said) == kept


def test_ordinary_links_are_left_as_they_were() -> None:
    from publisher.credentials import redact

    for said in ("New post: https://blog.example.org/2026/12/fibre?utm_source=feed&lang=en",
                 "mail noc@example.net or see https://status.example.net/incidents/INC-4711",
                 "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=42"):
        assert redact(said) == said


def test_ordinary_platform_text_is_left_as_it_was() -> None:
    from publisher.credentials import redact

    for said in ("Token has expired", "Invalid identifier or password", "You are not permitted to perform this "
                 "action. (#200) Requires pages_manage_posts permission", "Status is a duplicate."):
        assert redact(said) == said
