"""Logs: one line per publish attempt with its outcome, JSON lines on PUBLISHER_LOG_FORMAT=json (from the worker
processes too), third-party INFO kept out, and secrets redacted in JSON exactly as in text."""

from __future__ import annotations

import io
import json
import logging
import socket
from collections.abc import Iterator

import pytest

from publisher import logs
from tests.conftest import Env, wait_for

CANARY = "tok_CANARY_j5o9n1q3r7s2"


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    out = io.StringIO()
    logs.setup("INFO", "json", stream=out)
    yield out
    logs.setup("INFO")


def _lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_json_lines_are_redacted_like_text(json_logs: io.StringIO) -> None:
    log = logging.getLogger("publisher.publishing")
    log.error("platform said: 401 for Authorization: Bearer %s", CANARY)
    log.info("publish delivery=d-1", extra={"fields": {"delivery": "d-1", "error": f"refused access_token={CANARY}"}})
    try:
        raise RuntimeError(f"bearer {CANARY}")
    except RuntimeError:
        log.exception("failed")
    lines = _lines(json_logs)  # every line is JSON
    assert len(lines) == 3
    assert CANARY not in json_logs.getvalue()
    assert lines[0]["level"] == "error" and "***" in str(lines[0]["msg"])
    assert lines[1]["delivery"] == "d-1" and lines[1]["error"] == "refused access_token=***"


def test_third_party_info_is_kept_out(json_logs: io.StringIO) -> None:
    logging.getLogger("alembic.runtime.migration").info("Context impl SQLiteImpl.")
    logging.getLogger("dramatiq.worker.Worker").info("Worker has been shut down.")
    logging.getLogger("urllib3.connectionpool").info("Starting new HTTPS connection")
    logging.getLogger("alembic.runtime.migration").warning("a real problem")
    logging.getLogger("publisher.scheduler").info("ours")
    assert [line["msg"] for line in _lines(json_logs)] == ["a real problem", "ours"]


def test_an_unknown_log_format_is_refused(env: Env) -> None:
    env.env["PUBLISHER_LOG_FORMAT"] = "xml"
    r = env.cli("list")
    assert r.returncode == 1 and "PUBLISHER_LOG_FORMAT" in r.stderr  # a configuration error, as for the level


@pytest.mark.slow
def test_worker_processes_write_one_json_line_per_publish_attempt(env: Env) -> None:
    env.env["PUBLISHER_LOG_FORMAT"] = "json"
    env.spawn("worker", "--processes", "1", "--threads", "2", log="worker")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env.spawn("scheduler", "--metrics-port", str(port), log="scheduler")  # which logs where it serves, at INFO
    r = env.cli("post", "--account", "noc", "Planned maintenance tonight 22:00-23:00")
    assert r.returncode == 0, r.stderr
    log_file = env.home / "worker.log"

    def attempts() -> list[dict[str, object]]:
        found = []
        for line in log_file.read_text().splitlines():
            if line.startswith("{"):
                data = json.loads(line)
                if str(data.get("msg", "")).startswith("publish "):
                    found.append(data)
        return found

    wait_for(lambda: bool(attempts()), timeout=60, what="the publish log line")
    (line,) = attempts()
    assert line["logger"] == "publisher.publishing" and line["level"] == "info"
    assert line["account"] == "noc" and line["channel"] == "dryrun" and line["state"] == "published"
    assert str(line["delivery"]).startswith("d-") and str(line["remote_id"]).startswith("dry-")
    assert isinstance(line["latency_ms"], int) and line["attempt"] == 1
    with env.store().read() as conn:
        from sqlalchemy import select

        from publisher.schema import deliveries

        row = conn.execute(select(deliveries.c.id, deliveries.c.remote_id)).one()
    assert (line["delivery"], line["remote_id"]) == (row.id, row.remote_id)
    sched = [json.loads(s) for s in (env.home / "scheduler.log").read_text().splitlines() if s.startswith("{")]
    assert any(s["logger"] == "publisher.metrics" for s in sched)
