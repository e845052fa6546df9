"""`publisher check --lang/--require-hashtag/--batch/--rules`, the rule ids in its help, and a --help that imports no
command module."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from publisher import cli, tone
from publisher.tone_cli import RULE_IDS, check

CONFIG = {
    "accounts": {
        "noc": {"channel": "mastodon", "kind": "organisation", "timezone": "Europe/Oslo", "languages": ["en"]},
        "comms-no": {"channel": "facebook", "kind": "organisation", "languages": ["nb"],
                     "own_domains": ["fjordnett.no"]},
    },
}


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(CONFIG), encoding="utf-8")
    path.chmod(0o600)
    monkeypatch.setenv("PUBLISHER_CONFIG", str(path))
    monkeypatch.setenv("PUBLISHER_HOME", str(tmp_path))
    return CliRunner()


def test_require_hashtag_blocks_when_missing_and_passes_when_present(runner: CliRunner) -> None:
    missing = runner.invoke(check, ["-a", "noc", "-k", "campaign", "--require-hashtag", "FiberWeek", "Fibre week."])
    assert missing.exit_code == 3 and "hashtags.required" in missing.output
    present = runner.invoke(check, ["-a", "noc", "-k", "campaign", "--require-hashtag", "#FiberWeek",
                                    "Fibre week. #FiberWeek"])
    assert present.exit_code == 0, present.output


def test_lang_reaches_the_language_rule(runner: CliRunner) -> None:
    result = runner.invoke(check, ["-a", "noc", "--lang", "de", "--json", "Unser Büro bleibt geschlossen."])
    assert result.exit_code == 0
    assert [f["rule"] for f in json.loads(result.output)] == ["language"]


def test_batch_prints_one_result_per_line_in_order_and_exits_2_on_a_bad_line(runner: CliRunner,
                                                                             tmp_path: Path) -> None:
    lines = [
        {"id": "a", "text": "Write to noc@fjordnett.no, or call 412 34 567.", "account": "comms-no"},
        {"id": "b", "text": "Dere er helt udugelige.", "account": "comms-no", "kind": "ticket"},
        {"id": "c", "text": "Fiberuka starter mandag.", "account": "comms-no", "require_hashtags": ["Fiberuka"]},
        {"id": "d", "text": "Maintenance tonight 22:00-23:00 CET."},
        {"id": "e", "text": "x", "account": "nobody"},
    ]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\nnot json\n", encoding="utf-8")
    result = runner.invoke(check, ["--batch", str(path), "--account", "noc"])
    out = [json.loads(line) for line in result.output.splitlines()]
    assert [o.get("id") for o in out] == ["a", "b", "c", "d", "e", None]
    assert [o["line"] for o in out] == [1, 2, 3, 4, 5, 6]
    assert [f["rule"] for f in out[0]["findings"]] == ["privacy.phone"]  # the role mailbox is not private
    assert out[1]["blocked"] and out[1]["findings"][0]["rule"] == "sentiment"  # hostility in a ticket
    assert out[2]["blocked"] and [f["rule"] for f in out[2]["findings"]] == ["hashtags.required"]
    assert out[3] == {"line": 4, "id": "d", "account": "noc", "blocked": False, "findings": []}
    assert out[4]["exit_code"] == 5 and "unknown account" in out[4]["error"]
    assert out[5]["exit_code"] == 2 and "not JSON" in out[5]["error"]
    assert result.exit_code == 2


def test_batch_exit_3_when_something_blocks_and_0_when_nothing_does(runner: CliRunner) -> None:
    blocked = runner.invoke(check, ["--batch", "-", "-a", "noc"], input='{"text": "ok"}\n{"text": "Call 412 34 567"}\n')
    assert blocked.exit_code == 3
    clean = runner.invoke(check, ["--batch", "-", "-a", "noc"], input='{"text": "ok"}\n\n{"text": "fine"}\n')
    assert clean.exit_code == 0 and len(clean.output.splitlines()) == 2


def test_rules_lists_every_rule_with_options_and_profile_severities(runner: CliRunner) -> None:
    result = runner.invoke(check, ["--rules", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["rule"]: r for r in json.loads(result.output)}
    assert list(rows) == list(tone.REGISTRY)
    assert rows["privacy.email"]["options"]["role_mailboxes"] is True
    assert rows["profanity"]["severity"]["organisation"] == "block"
    assert rows["sentiment"]["severity"]["organisation (hostility)"] == "block"
    assert rows["shouting"]["severity"]["organisation"]["ticket"] == "block"
    text = runner.invoke(check, ["--rules"]).output
    assert all(rule in text for rule in tone.REGISTRY)


def test_help_names_every_rule_id() -> None:
    assert RULE_IDS == list(tone.REGISTRY)  # the help's list is the registry's
    result = CliRunner().invoke(check, ["--help"])
    assert all(rule in result.output for rule in tone.REGISTRY)


def test_every_command_has_a_line_in_the_overview() -> None:
    assert set(cli.SHORT_HELP) == set(cli.LAZY)


@pytest.mark.slow  # a CLI process
def test_help_overview_imports_no_command_module(tmp_path: Path) -> None:
    import os

    env = {**os.environ, "PUBLISHER_HOME": str(tmp_path), "PYTHONPATH": str(Path(__file__).parent.parent)}
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "publisher.cli", "--help"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "ticket" in r.stdout
    names = {line.split("|")[-1].strip() for line in r.stderr.splitlines() if line.startswith("import time:")}
    assert not {n for n in names if n.startswith(("sqlalchemy", "publisher.commands", "publisher.store"))}
