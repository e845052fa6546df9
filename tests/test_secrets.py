"""A canary secret in an account's configuration appears in no log line (DEBUG on), no broker message, no audit
row, no store column and no CLI output."""

from __future__ import annotations

import logging

from sqlalchemy import text

from tests.conftest import Env

CANARY = "tok_CANARY_x9f3b7c1d2e5"


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
