"""Bad input for every command: a clear error, an exit code from the documented set, no traceback, nothing stored."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Env
from tests.helpers import all_deliveries

pytestmark = pytest.mark.slow  # a CLI process per case (about 1 s each)

BAD = [
    (("post", "--account", "nobody", "hello"), 5, "unknown account"),
    (("post", "--account", "noc", ""), 2, "empty"),
    (("post", "--account", "noc", "--at", "yesterday at noon", "hi"), 2, "cannot read"),
    (("post", "--account", "noc", "--at", "2020-01-01 09:00", "hi"), 2, "in the past"),
    (("post", "--account", "noc", "--at", "2027-03-28 02:30", "hi"), 2, "does not exist"),
    (("post", "--account", "noc", "--tz", "Mars/Olympus", "--at", "2027-01-01 09:00", "hi"), 2, "unknown time zone"),
    (("post", "--account", "noc", "--at", "+2h", "--not-after", "+1h", "hi"), 2, "later than"),
    (("post", "--account", "noc", "--kind", "poem", "hi"), 2, "poem"),
    (("post", "--account", "noc", "--allow", "shouting", "hi"), 2, "--reason"),
    (("post", "hi"), 2, "account"),
    (("ticket", "open", "INC 47 11", "--account", "noc", "x"), 2, "invalid ticket id"),
    (("ticket", "update", "INC-1", "--account", "noc", "   "), 2, "empty"),
    (("ticket", "frobnicate", "INC-1", "x"), 2, "No such command"),
    (("cancel", "p-doesnotexist"), 5, "no post or delivery"),
    (("approve", "p-doesnotexist"), 5, "no post or delivery"),
    (("reject", "p-doesnotexist", "--reason", "no"), 5, "no post or delivery"),
    (("approve",), 2, "Missing argument"),
    (("edit", "p-doesnotexist", "--at", "+1h"), 5, "no post or delivery"),
    (("vacancy", "post", "--account", "noc", "--closes", "31.01.2027", "hi"), 2, "not a date"),
    (("retry", "d-doesnotexist"), 5, "no post or delivery"),
    (("show", "p-doesnotexist"), 5, "no post or delivery"),
    (("list", "--state", "bogus"), 2, "bogus"),
    (("list", "--account", "nobody"), 5, "unknown account"),
    (("audit", "log", "--post", "p-nope"), 5, "no post"),
    (("audit", "export", "--format", "xml"), 2, "xml"),
    (("accounts", "verify", "nobody"), 5, "unknown account"),
    (("worker", "--queues", "myspace"), 2, "unknown queue"),
    (("worker", "--processes", "0"), 2, "0"),
    (("nonsense",), 2, "No such command"),
]


@pytest.mark.parametrize(("args", "code", "needle"), BAD, ids=[" ".join(a[0][:2]) + f"-{i}" for i, a in enumerate(BAD)])
def test_bad_input_gets_a_clear_error_and_changes_nothing(env: Env, args: tuple[str, ...], code: int, needle: str) -> None:
    r = env.cli(*args)
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    assert needle.lower() in (r.stderr + r.stdout).lower()
    assert "Traceback" not in r.stderr + r.stdout
    assert all_deliveries(env.store()) == []


def test_bad_config_file_is_named_with_the_fix(env: Env) -> None:
    (env.home / "config.yaml").write_text("accounts:\n  noc:\n    channel: myspace\n")
    r = env.cli("accounts", "list")
    assert r.returncode == 1 and "accounts.noc.channel" in r.stderr and "Traceback" not in r.stderr
    (env.home / "config.yaml").write_text("accounts:\n  noc:\n    channel: x\n    credentials: {token: abc123secret}\n")
    r = env.cli("config", "check")  # problems in the file: bad input, exit 2
    assert r.returncode == 2 and "reference" in r.stderr and "abc123secret" not in r.stderr
    (env.home / "config.yaml").write_text("accounts:\n  noc:\n    channel: dryrun\nscheduler:\n  messages_batch: 10\n")
    r = env.cli("config", "check")
    assert r.returncode == 2 and "scheduler.messages_batch" in r.stderr and "message_batch" in r.stderr.split("mean")[-1]
    (env.home / "config.yaml").write_text("accounts:\n  noc:\n    channel: dryrun\nscheduler:\n  lease_seconds: 0\n")
    r = env.cli("config", "check")
    assert r.returncode == 2 and "must be positive" in r.stderr and "Traceback" not in r.stderr


def test_every_command_has_help_with_an_example(env: Env) -> None:
    from publisher.cli import LAZY

    for name in LAZY:
        r = env.cli(name, "--help")
        if r.returncode != 0 and "No such command" in r.stderr:
            continue  # a lazily registered command whose module is not installed yet
        assert r.returncode == 0, (name, r.stderr)
        assert "Example" in r.stdout or "example" in r.stdout, name


def test_json_output_is_only_json(env: Env) -> None:
    out = env.cli("post", "--account", "noc", "--at", "+1d", "hello", "--json")
    post_id = json.loads(out.stdout)["post_id"]
    for args in (("list", "--json"), ("show", post_id, "--json"), ("audit", "log", "--json"),
                 ("audit", "verify", "--json"), ("accounts", "list", "--json")):
        r = env.cli(*args)
        assert r.returncode == 0, r.stderr
        json.loads(r.stdout)


def test_not_permitted_poster_is_refused_with_exit_4(env: Env) -> None:
    env.write_config({"noc": {"channel": "dryrun", "kind": "organisation", "posters": ["alice"]}})
    env.env["PUBLISHER_ACTOR"] = "mallory"
    r = env.cli("post", "--account", "noc", "hello")
    assert r.returncode == 4 and "may not post" in r.stderr
    assert all_deliveries(env.store()) == []
