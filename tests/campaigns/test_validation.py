"""Every class of problem in a campaign file is reported (file and row and column, or YAML path, with a
suggestion), exits 2 (3 when only tone blocks), and stores nothing: a dump of every table is unchanged."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tests.campaigns.helpers import CAMPAIGN, cli, dump, setup, write
from tests.conftest import Env


def _with(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(CAMPAIGN)
    for row_index, row in changes.pop("rows", {}).items():
        if row is None:
            data["rows"].pop(row_index)
        else:
            data["rows"][row_index].update(row)
    data.update(changes)
    return data


LONG = "A very long text that X will not take in one post. " * 6 + "#TNC31"

CASES: list[tuple[str, dict[str, Any] | str, int, list[str]]] = [
    ("unknown account", _with(rows={0: {"accounts": ["conf-xx"]}}), 2,
     ["rows[0].accounts: unknown account 'conf-xx'", "did you mean 'conf-x'?"]),
    ("header account", _with(accounts=["conf-x", "conf-mx"]), 2, ["accounts[1]: unknown account 'conf-mx'", "did you mean"]),
    ("not permitted", _with(rows={0: {"accounts": ["locked"]}}), 2, ["rows[0].accounts", "may not post to account"]),
    ("unknown anchor", _with(rows={1: {"at": "evnt-3d 12:00"}}), 2, ["rows[1].at", "did you mean 'event'?"]),
    ("bad anchor", _with(anchors={"event": "next june"}), 2, ["anchors.event", "not an ISO time"]),
    ("not an anchor", _with(rows={2: {"at": "tomorrowish"}}), 2, ["rows[2].at", "names no anchor", "known anchors"]),
    ("unreadable time", _with(rows={2: {"at": "31/12/2031 25:00"}}), 2, ["rows[2].at", "cannot read"]),
    ("past time", _with(rows={2: {"at": "2020-01-01T09:00+01:00"}}), 2, ["rows[2].at", "in the past"]),
    ("DST gap", _with(anchors={"event": "2031-03-31T09:00+02:00", "end": "2031-04-01T09:00+02:00"},
                      rows={0: {"at": "event-1d 02:30", "accounts": ["conf-x"]}}), 2,
     ["rows[0].at", "does not exist in Europe/Oslo"]),
    ("not_after before at", _with(rows={4: {"not_after": "end+0d 09:00"}}), 2, ["rows[4].not_after", "not later"]),
    ("too long for X", _with(rows={0: {"text": LONG}}), 2, ["rows[0].text", "x allows 280"]),
    ("duplicate key", _with(rows={1: {"key": "countdown-7"}}), 2, ["rows[1].key", "used again", "rows[0]"]),
    ("missing key", _with(rows={1: {"key": None}}), 2, ["rows[1].key", "has no key"]),
    ("unknown field", _with(rows={1: {"txt": "x"}}), 2, ["rows[1].txt", "did you mean 'text'?"]),
    ("unknown variant target", _with(rows={3: {"variants": {"xx": "hi #TNC31"}}}), 2,
     ["rows[3].variants.xx", "did you mean 'x'?"]),
    ("thread order", _with(rows={2: {"at": "event-4d 12:00"}}), 2, ["rows[2].at", "thread 'agenda'", "due before"]),
    ("no slots", _with(rows={5: {"accounts": ["conf-x"]}}), 2, ["rows[5].at", "has no slots"]),
    ("bad name", _with(name="tnc 31!"), 2, ["name", "not a plain name"]),
    ("bad yaml", "name: tnc31\nrows:\n  - {key: a, text: [unclosed\n", 2, ["not valid YAML"]),
    ("header timezone", _with(timezone="Europe/Olso"), 2, ["timezone", "Europe/Olso"]),
    ("anchor name", _with(anchors={"event": "2031-06-08T09:00+02:00", "2nd day": "2031-06-09T09:00+02:00"}), 2,
     ["anchors.2nd day", "an anchor name must be letters, digits and _"]),
    ("hashtags not a list", _with(hashtags="TNC31"), 2, ["hashtags: must be a list of hashtags",
                                                         "!#T", "!hashtags.required"]),  # no tag per letter
    ("defaults not a mapping", _with(defaults=["campaign"]), 2, ["defaults: must be a mapping"]),
    ("unknown default", _with(defaults={"knd": "campaign"}), 2, ["defaults.knd", "is not a default a row can take"]),
    ("bad key", _with(rows={1: {"key": "agenda, day 1"}}), 2, ["rows[1].key", "must be one word without commas"]),
    ("empty text", _with(rows={1: {"text": "   "}}), 2, ["rows[1].text", "has no text"]),
    ("unknown kind", _with(rows={1: {"kind": "campain"}}), 2, ["rows[1].kind", "unknown kind 'campain'",
                                                                 "did you mean 'campaign'?"]),
    ("control character", _with(rows={1: {"text": "The agenda\x1b[2J is out. #TNC31"}}), 2, ["rows[1].text", "control"]),
    ("unreadable not_after", _with(rows={4: {"not_after": "end plus two days"}}), 2, ["rows[4].not_after"]),
    ("thread changed", _with(rows={2: {"thread": "agenda-b"}}), 2,
     ["rows[2].thread", "a row's thread cannot change after it was imported"]),
    ("variants not a mapping", _with(rows={3: {"variants": ["Keynote now #TNC31"]}}), 2,
     ["rows[3].variants", "must be a mapping TARGET: TEXT"]),
    ("no accounts", _with(accounts=None, rows={0: {"accounts": None}}), 2, ["rows[0].accounts", "names no account"]),
    ("tone: missing hashtag", _with(rows={0: {"text": "One week to go!"}}), 3,
     ["rows[0].text", "hashtags.required", "#TNC31"]),
    ("tone: profanity", _with(rows={3: {"text": "This keynote is shit #TNC31", "variants": None}}), 3,
     ["rows[3].text", "profanity"]),
]


@pytest.mark.parametrize(("name", "content", "code", "expect"), CASES, ids=[c[0] for c in CASES])
def test_a_bad_campaign_is_reported_and_stores_nothing(env: Env, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str], name: str,
                                                       content: dict[str, Any] | str, code: int,
                                                       expect: list[str]) -> None:
    setup(env, monkeypatch)
    good = write(tmp_path / "good.yaml", CAMPAIGN)
    assert cli(capsys, "campaign", "import", str(good))[0] == 0  # a campaign already stored: it must stay as it is
    store = env.store()
    before = dump(store)
    bad = tmp_path / "tnc31.yaml"
    if isinstance(content, str):
        bad.write_text(content)
    else:
        write(bad, content)
    got, out, err = cli(capsys, "campaign", "import", str(bad))
    assert got == code, err
    assert "nothing was stored" in err
    for text in expect:  # "!text": must not be said
        if text.startswith("!"):
            assert text[1:] not in err, f"{text[1:]!r} in:\n{err}"
        else:
            assert text in err, f"{text!r} not in:\n{err}"
    assert dump(store) == before


def test_every_problem_of_a_file_is_reported_at_once_and_csv_names_line_and_column(
        env: Env, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    setup(env, monkeypatch)
    store = env.store()
    before = dump(store)
    csv = tmp_path / "tnc31.csv"
    csv.write_text("# name: tnc31\n# accounts: [conf-x]\n# anchors: {event: '2031-06-08T09:00+02:00'}\n"
                   "# hashtags: [TNC31]\nkey,at,txt,text\n"
                   "a,event-1d 09:00,,Hello #TNC31\n"
                   "b,evnt-1d 09:00,,Hello again #TNC31\n"
                   "c,event-1d 10:00,,Hello without the tag\n")
    got, _, err = cli(capsys, "campaign", "import", str(csv))
    assert got == 2  # one tone problem among others: bad input
    assert f"{csv}:5 column 'txt': is not a campaign column" in err and "did you mean 'text'?" in err
    assert f"{csv}:7 column 'at'" in err and "did you mean 'event'?" in err
    assert f"{csv}:8 column 'text'" in err and "hashtags.required" in err
    assert "3 problems" in err
    assert dump(store) == before


FILES: list[tuple[str, str, bytes, list[str]]] = [
    ("not UTF-8", "tnc31.yaml", "name: tnc31\nrows: []\n# Tromsø\n".encode("latin-1"), ["is not UTF-8 text"]),
    ("wrong extension", "tnc31.txt", b"name: tnc31\n", ["is neither .yaml/.yml nor .csv"]),
    ("csv values", "tnc31.csv", b"# name: tnc31\n# accounts: [conf-x]\nkey,at,text\na,2031-06-01 09:00,Hi #TNC31,extra\n",
     ["has 4 values for 3 columns"]),
    ("csv without columns", "tnc31.csv", b"# name: tnc31\n", ["has no column line"]),
    ("not a mapping", "tnc31.yaml", b"- just\n- a list\n", ["must be a mapping with a header and a 'rows:' list"]),
    ("empty", "tnc31.yaml", b"", ["is empty"]),
    ("header key", "tnc31.yaml", b"name: tnc31\nancors: {}\nrows: []\n", ["is not a header key", "did you mean 'anchors'?"]),
]


@pytest.mark.parametrize(("name", "filename", "content", "expect"), FILES, ids=[c[0] for c in FILES])
def test_a_file_that_is_no_campaign_file_is_reported_and_stores_nothing(
        env: Env, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str,
        filename: str, content: bytes, expect: list[str]) -> None:
    setup(env, monkeypatch)
    assert cli(capsys, "campaign", "import", str(write(tmp_path / "good.yaml", CAMPAIGN)))[0] == 0
    store = env.store()
    before = dump(store)
    bad = tmp_path / filename
    bad.write_bytes(content)
    got, _, err = cli(capsys, "campaign", "import", str(bad))
    assert got == 2, err
    assert "nothing was stored" in err
    for text in expect:
        assert text in err, f"{text!r} not in:\n{err}"
    assert dump(store) == before
