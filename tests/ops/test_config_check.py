"""`publisher config check`: every problem at once, each at its line and column, did-you-mean (options too), JSON."""

from __future__ import annotations

import json

from tests.conftest import Env

BAD = """\
accounts:
  noc:
    channel: dryrun
    kind: organisation
    timezon: Europe/Oslo
    policy:
      quiet_hour: ["22:00", "07:00"]
  fb:
    channel: facebook
    kind: organisation
    credentials: {page_token: "env:FB_TOKEN"}
    options: {page_idd: "1234567890", graph_version: v26.0}
  li:
    channel: myspace
  masto:
    channel: mastodon
    options:
      visibilty: unlisted
schedular:
  tick_seconds: 1
"""


def test_every_problem_with_line_column_and_did_you_mean(env: Env) -> None:
    (env.home / "config.yaml").write_text(BAD)
    r = env.cli("config", "check")
    assert r.returncode == 2, r.stdout + r.stderr
    lines = [line.strip() for line in r.stderr.splitlines()[1:]]
    expect = {  # (line, column): what must be said there
        (5, 5): ("accounts.noc.timezon", "did you mean 'timezone'?"),
        (7, 7): ("accounts.noc.policy.quiet_hour", "did you mean 'quiet_hours'?"),
        (12, 15): ("accounts.fb.options.page_idd", "did you mean 'page_id'?"),
        (14, 14): ("accounts.li.channel", "unknown channel 'myspace'"),
        (18, 7): ("accounts.masto.options.visibilty", "did you mean 'visibility'?"),
        (19, 1): ("schedular", "did you mean 'scheduler'?"),
    }
    for (line, col), (path, said) in expect.items():
        hit = [x for x in lines if f"config.yaml:{line}:{col}: {path}:" in x]
        assert hit and said in hit[0], f"{line}:{col} {path}: {lines}"
    # the facebook account validates on its own, so its channel rule runs too: page_id is missing
    assert any("options.page_id is required" in x for x in lines), lines
    assert r.stderr.splitlines()[0].endswith(f"{len(lines)} problem(s)")


def test_json_lists_the_same_problems(env: Env) -> None:
    (env.home / "config.yaml").write_text(BAD)
    r = env.cli("config", "check", "--json")
    assert r.returncode == 2
    doc = json.loads(r.stdout)
    assert doc["ok"] is False and doc["config"].endswith("config.yaml")
    by_path = {p["path"]: p for p in doc["problems"]}
    assert by_path["accounts.fb.options.page_idd"] == {
        "path": "accounts.fb.options.page_idd", "message": "unknown option 'page_idd' for the facebook channel",
        "line": 12, "column": 15, "hint": "did you mean 'page_id'?"}
    assert by_path["schedular"]["line"] == 19


def test_a_good_file_passes_and_a_syntax_error_has_its_place(env: Env) -> None:
    r = env.cli("config", "check", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["ok"] is True
    (env.home / "config.yaml").write_text("accounts:\n  noc:\n    channel: dryrun\n    display: \"open\n")
    r = env.cli("config", "check", "--json")
    assert r.returncode == 2
    (p,) = json.loads(r.stdout)["problems"]
    assert "not valid YAML" in p["message"] and p["line"] == 5
