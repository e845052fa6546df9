"""`publisher check` through click's CliRunner: exit codes, spans, --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from publisher.tone_cli import check

CONFIG = {
    "accounts": {
        "noc": {"channel": "mastodon", "kind": "organisation", "timezone": "Europe/Oslo", "languages": ["en"]},
        "me": {"channel": "x", "kind": "personal", "languages": ["en"], "profile": "mine"},
        "broken": {"channel": "x", "kind": "personal", "profile": "nope"},
    },
    "profiles": {"mine": {"extends": "personal", "rules": {"phrases.banned": {"phrases": ["synergy"]}}}},
}


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(CONFIG), encoding="utf-8")
    monkeypatch.setenv("PUBLISHER_CONFIG", str(path))
    monkeypatch.setenv("PUBLISHER_HOME", str(tmp_path))
    return CliRunner()


def test_clean_text_exits_0(runner: CliRunner) -> None:
    result = runner.invoke(check, ["--account", "noc", "--kind", "ticket", "Degraded DNS since 14:00. Next update 15:00."])
    assert result.exit_code == 0, result.output
    assert "no findings" in result.output


def test_blocking_text_exits_3_and_quotes_each_span(runner: CliRunner) -> None:
    result = runner.invoke(check, ["-a", "noc", "-k", "ticket", "Fixed!! Call 412 34 567"])
    assert result.exit_code == 3
    assert 'BLOCK exclamation [5:7] "!!"' in result.output
    assert 'BLOCK privacy.phone [13:23] "412 34 567"' in result.output
    assert "->" in result.output  # suggestions


def test_warnings_alone_exit_0(runner: CliRunner) -> None:
    result = runner.invoke(check, ["-a", "noc", "I think this is fine."])
    assert result.exit_code == 0
    assert "warn" in result.output and "register.first-person" in result.output


def test_json_prints_only_findings_with_offsets(runner: CliRunner) -> None:
    text = "We love synergy, see http://example.org"
    result = runner.invoke(check, ["-a", "me", "--json", text])
    assert result.exit_code == 3
    findings = json.loads(result.stdout)
    by_rule = {f["rule"]: f for f in findings}
    assert set(by_rule) == {"phrases.banned", "links.https"}
    f = by_rule["phrases.banned"]
    assert text[f["start"]:f["end"]] == "synergy" and f["severity"] == "block" and f["suggestion"]
    assert {"rule", "severity", "start", "end", "message", "suggestion"} <= set(f)


def test_text_from_stdin(runner: CliRunner) -> None:
    result = runner.invoke(check, ["-", "-a", "noc", "--json"], input="All calm here, thanks for waiting.\n")
    assert result.exit_code == 0 and json.loads(result.stdout) == []


def test_channel_option_measures_for_that_channel(runner: CliRunner) -> None:
    text = "word " * 70
    assert runner.invoke(check, ["-a", "noc", text]).exit_code == 0
    result = runner.invoke(check, ["-a", "noc", "-c", "x", "--json", text])
    assert result.exit_code == 3 and json.loads(result.stdout)[0]["rule"] == "length"


@pytest.mark.parametrize("args", [["-a", "noc", "-k", "tweet", "hi"], ["hi"], ["-a", "noc", "   "]])
def test_bad_usage_exits_2_without_a_traceback(runner: CliRunner, args: list[str]) -> None:
    result = runner.invoke(check, args)
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_an_unknown_account_is_not_found_as_in_every_command(runner: CliRunner) -> None:
    result = runner.invoke(check, ["-a", "nobody", "hi"])
    assert result.exit_code == 5 and "unknown account" in result.stderr
    assert "Traceback" not in result.output


def test_a_broken_profile_is_reported_without_a_traceback(runner: CliRunner) -> None:
    result = runner.invoke(check, ["-a", "broken", "hi"])
    assert result.exit_code == 1
    assert "no tone profile named 'nope'" in result.stderr and "Traceback" not in result.output


def test_help_has_an_example(runner: CliRunner) -> None:
    result = runner.invoke(check, ["--help"])
    assert result.exit_code == 0 and "publisher check --account noc" in result.output
