"""Hostile and broken input, table-driven: every case gets the documented exit code, a clear message (no traceback,
never "this is a bug") and leaves the store exactly as it was (a dump of every table before and after).

Most cases run in-process through ``publisher.cli.main`` (the real error mapping) with click's CliRunner isolation,
against one shared data directory; a handful run as real processes for what only a process can carry (argv bytes,
stdin bytes, a port in use, an unreachable broker). Families: text, ids, times and zones, accounts, configuration
files, secrets files, environment, damaged stores, command options.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from publisher import settings as settings_mod
from publisher.cli import main
from publisher.errors import EXIT_ERROR, EXIT_NOT_FOUND, EXIT_NOT_PERMITTED, EXIT_USAGE

SECRET = "s3cr3t-Value-never-shown-42"
PG_PASSWORD = "hunter2-db-password"
ACCOUNTS = {"noc": {"channel": "dryrun", "kind": "organisation", "timezone": "Europe/Oslo"},
            "andrew": {"channel": "dryrun", "kind": "personal", "timezone": "Europe/Oslo"}}


@dataclass(frozen=True)
class Case:
    name: str
    args: tuple[str, ...]
    code: int
    needle: str
    stdin: bytes | None = None
    env: dict[str, str] = field(default_factory=dict)  # "{tmp}" and "{home}" are filled in
    config: bytes | None = None  # written to a file that PUBLISHER_CONFIG names
    secrets: bytes | None = None  # written (mode 0600) to the file the config's credential refers to
    damage: str | None = None  # SQL run on a copy of the store that the case then uses


@dataclass
class World:
    home: Path
    tmp: Path
    db: Path
    post_id: str
    delivery_id: str


def _dump(db: Path) -> str:
    """Every table's rows (or the raw bytes of a file that is not a database)."""
    if not db.exists():
        return "<absent>"
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            return "\n".join(conn.iterdump())
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return hashlib.sha256(db.read_bytes()).hexdigest()


def _base_env(world: World) -> dict[str, str | None]:
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("PUBLISHER_")}
    env.update({"PUBLISHER_HOME": str(world.home), "PUBLISHER_LOG_LEVEL": "INFO"})
    return env


def _invoke(args: list[str], env: dict[str, str | None], stdin: bytes | None = None) -> tuple[int, str, str]:
    runner = CliRunner()
    with runner.isolation(input=stdin, env=env) as (out, err, _):
        try:
            main(args)
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
    gc.collect()  # close the engines of the stores the command opened
    return code, out.getvalue().decode("utf-8", "replace"), err.getvalue().decode("utf-8", "replace")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("bad-input")
    home = tmp / "home"
    home.mkdir()
    config = {"accounts": ACCOUNTS, "delegators": [settings_mod.os_user(dict(os.environ))]}
    (home / "config.yaml").write_text(yaml.safe_dump(config))
    w = World(home=home, tmp=tmp, db=home / "publisher.sqlite", post_id="", delivery_id="")
    code, out, err = _invoke(["post", "--account", "noc", "--at", "+3d", "--json", "An ordinary post"], _base_env(w))
    assert code == 0, err
    accepted = json.loads(out)
    w.post_id, w.delivery_id = accepted["post_id"], accepted["deliveries"][0]["id"]
    yield w


def _fill(value: str, world: World) -> str:
    return (value.replace("{tmp}", str(world.tmp)).replace("{home}", str(world.home))
            .replace("{post}", world.post_id).replace("{delivery}", world.delivery_id))


def _prepare(case: Case, world: World, where: Path) -> tuple[dict[str, str | None], Path]:
    """The case's environment, and the database file whose dump must not change."""
    env = _base_env(world)
    env.update({k: _fill(v, world) for k, v in case.env.items()})
    db = world.db
    if case.secrets is not None:
        secrets = where / "secrets.yaml"
        secrets.write_bytes(case.secrets)
        secrets.chmod(0o600)
    if case.config is not None:
        cfg = where / "config.yaml"
        cfg.write_bytes(_fill(case.config.decode("utf-8", "surrogateescape"), world)
                        .replace("{secrets}", str(where / "secrets.yaml")).encode("utf-8", "surrogateescape"))
        env["PUBLISHER_CONFIG"] = str(cfg)
    if case.damage is not None:
        db = where / "damaged.sqlite"
        src = sqlite3.connect(world.db)
        dst = sqlite3.connect(db)
        src.backup(dst)
        src.close()
        dst.executescript(case.damage)
        dst.commit()
        dst.close()
        env["PUBLISHER_DATABASE_URL"] = f"sqlite:///{db}"
    return env, db


def _assert_clear(case: Case, code: int, out: str, err: str) -> None:
    shown = out + err
    assert code == case.code, f"{case.name}: exit {code}, expected {case.code}\n{shown[-1500:]}"
    told = out if "--json" in case.args and case.args[0] == "config" else err  # config check --json: on stdout
    assert told.strip(), f"{case.name}: no message"
    assert "Traceback" not in shown and "this is a bug" not in shown, f"{case.name}: {shown[-1500:]}"
    assert case.needle.lower() in told.lower(), f"{case.name}: {case.needle!r} not in:\n{told[-1500:]}"
    assert SECRET not in shown and PG_PASSWORD not in shown, f"{case.name}: a secret was shown"


# ---------------------------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------------------------

CASES: list[Case] = []


def add(name: str, args: tuple[str, ...], code: int, needle: str, **kw: object) -> None:
    CASES.append(Case(name, args, code, needle, **kw))  # type: ignore[arg-type]


# -- text: control characters, bidi controls, invisible-only, undecodable, in every field that reaches the store --

BAD_TEXT: dict[str, tuple[str, str]] = {
    "nul-only": ("\x00", "control character"),
    "nuls": ("\x00\x00\x00\x00", "control character"),
    "nul-inside": ("hello\x00world", "control character"),
    "bell": ("ring \x07", "control character"),
    "escape-seq": ("\x1b[31mred\x1b[0m", "control character"),
    "backspace": ("abc\x08\x08\x08xyz", "control character"),
    "vertical-tab": ("a\x0bb", "control character"),
    "form-feed": ("a\x0cb", "control character"),
    "delete": ("a\x7fb", "control character"),
    "c1-csi": ("a\x9bb", "control character"),
    "c1-nel": ("a\x85b", "control character"),
    "rlo": ("\u202e txt.exe", "bidirectional"),
    "rlo-only": ("\u202e", "bidirectional"),
    "lre": ("a\u202ab", "bidirectional"),
    "rle": ("a\u202bb", "bidirectional"),
    "pdf": ("a\u202cb", "bidirectional"),
    "lro": ("a\u202db", "bidirectional"),
    "lri": ("a\u2066b", "bidirectional"),
    "rli": ("a\u2067b", "bidirectional"),
    "fsi": ("a\u2068b", "bidirectional"),
    "pdi": ("a\u2069b", "bidirectional"),
    "zwsp-only": ("\u200b", "no visible character"),
    "zwj-only": ("\u200d\u200d", "no visible character"),
    "zwnj-only": ("\u200c", "no visible character"),
    "word-joiner-only": ("\u2060", "no visible character"),
    "bom-only": ("\ufeff", "no visible character"),
    "nbsp-only": ("\u00a0\u00a0", "no visible character"),
    "ideographic-space": ("\u3000", "no visible character"),
    "line-separator": ("\u2028\u2029", "no visible character"),
    "combining-only": ("\u0301\u0301", "no visible character"),
    "mixed-invisible": (" \u200b\t\u2060\ufeff ", "no visible character"),
    "noncharacter-fffe": ("a\ufffeb", "noncharacter"),
    "noncharacter-fdd0": ("a\ufdd0b", "noncharacter"),
    "surrogate": ("a\udcffb", "not valid UTF-8"),
    "surrogate-high": ("\ud800", "not valid UTF-8"),
}

for label, (value, needle) in BAD_TEXT.items():
    blank = not value.strip()  # Python's whitespace (no-break and ideographic spaces too): "empty" already
    add(f"post-text-{label}", ("post", "--account", "noc", "--at", "+1d", value), EXIT_USAGE,
        "empty" if blank else needle)
    if "surrogate" not in label:  # stdin carries bytes; undecodable bytes have their own cases below
        add(f"post-stdin-{label}", ("post", "--account", "noc", "--at", "+1d", "-"), EXIT_USAGE,
            "empty" if blank else needle, stdin=value.encode("utf-8", "surrogatepass"))
    add(f"ticket-text-{label}", ("ticket", "update", "INC-7", "--account", "noc", value), EXIT_USAGE,
        "empty" if blank else needle)  # checked before the ticket template wraps it in visible text
    add(f"variant-{label}", ("post", "--account", "noc", "--at", "+1d", "--variant", f"noc={value}", "fine text"),
        EXIT_USAGE, "TARGET=TEXT" if blank else needle)

SINGLE_LINE = {
    "newline": ("value\n", "line break"),
    "carriage-return": ("value\r", "line break"),
    "tab": ("va\tlue", "line break or tab"),
    "nul": ("val\x00ue", "control character"),
    "rlo": ("val\u202eue", "bidirectional"),
    "invisible": ("\u200b", "no visible character"),
    "surrogate": ("val\udcffue", "not valid UTF-8"),
}
for opt in ("--link", "--thread", "--idempotency-key", "--lang"):
    for label, (value, needle) in SINGLE_LINE.items():
        add(f"option{opt}-{label}", ("post", "--account", "noc", "--at", "+1d", opt, value, "fine text"),
            EXIT_USAGE, needle)
for label, (value, needle) in SINGLE_LINE.items():
    # a reason is trimmed first, so a trailing line break is gone and the unused --allow is what is wrong
    add(f"reason-{label}", ("post", "--account", "noc", "--at", "+1d", "--allow", "shouting", "--reason", value,
                            "fine text"), EXIT_USAGE, "did not trigger" if value.strip() != value else needle)

UNDECODABLE = {
    "ff": b"hello \xff",
    "truncated-2byte": b"caf\xc3",
    "overlong-slash": b"\xc0\xaf",
    "encoded-surrogate": b"\xed\xa0\x80",
    "latin1": b"bl\xe5b\xe6r",
    "utf16-bom": "hello".encode("utf-16"),
    "lone-continuation": b"\x80\x80",
    "beyond-unicode": b"\xf5\x80\x80\x80",
}
for label, raw in UNDECODABLE.items():
    needle = "not valid UTF-8" if label != "utf16-bom" else "not valid UTF-8"
    add(f"stdin-bytes-{label}", ("post", "--account", "noc", "--at", "+1d", "-"), EXIT_USAGE, needle, stdin=raw)
    add(f"ticket-stdin-bytes-{label}", ("ticket", "open", "INC-9", "--account", "noc", "-"), EXIT_USAGE, needle,
        stdin=raw)
    add(f"argv-bytes-{label}", ("post", "--account", "noc", "--at", "+1d", os.fsdecode(raw)), EXIT_USAGE,
        "not valid UTF-8")

# -- ids: tickets (fullmatch, no trailing newline), posts and deliveries --

for label, ticket_id in {"trailing-newline": "INC-1\n", "trailing-cr": "INC-1\r", "space": "INC 1",
                         "too-long": "I" * 65, "empty": "", "slash": "INC/1",
                         "rlo": "INC\u202e1", "nul": "INC\x001", "unicode-digit": "INC-\u0661",
                         "newline-inside": "INC\n1", "emoji": "INC-\U0001f525"}.items():
    for action in ("open", "update", "resolve"):
        add(f"ticket-id-{action}-{label}", ("ticket", action, ticket_id, "--account", "noc", "text"), EXIT_USAGE,
            "invalid ticket id" if label != "trailing-newline" else "line break")

for label, ident in {"unknown": "p-doesnotexist", "empty": "", "long": "p-" + "a" * 5000,
                     "newline": "{post}\n", "sql": "' OR 1=1 --", "percent": "%", "nul": "p-\x00",
                     "other-prefix": "x-123"}.items():
    for cmd in ("show", "cancel", "retry", "approve"):
        add(f"id-{cmd}-{label}", (cmd, ident), EXIT_NOT_FOUND, "no post or delivery")
    if ident:  # an empty --post means "all posts"
        add(f"id-audit-log-{label}", ("audit", "log", "--post", ident), EXIT_NOT_FOUND, "no post")
for cmd in ("show", "cancel", "retry", "approve"):
    add(f"id-{cmd}-undecodable", (cmd, os.fsdecode(b"p-\xff\xfe")), EXIT_USAGE, "not valid UTF-8")

# -- times and zones --

BAD_AT = {
    "overflow-days": ("+99999999d", "outside the calendar"),
    "overflow-weeks": ("+999999999999w", "outside the calendar"),
    "overflow-seconds": ("+99999999999999999999s", "outside the calendar"),
    "huge-number": ("+" + "9" * 5000 + "d", "outside the calendar"),
    "year1-plus14": ("0001-01-01T00:00+14:00", "outside the calendar"),
    "year9999-minus14": ("9999-12-31T23:59-14:00", "outside the calendar"),
    "year-10000": ("10000-01-01T00:00+00:00", "cannot read"),
    "year-0": ("0000-01-01 00:00", "cannot read"),
    "feb-30": ("2027-02-30 09:00", "cannot read"),
    "month-13": ("2027-13-01 09:00", "cannot read"),
    "hour-25": ("2027-01-01 25:00", "cannot read"),
    "words": ("yesterday at noon", "cannot read"),
    "empty": ("", "empty"),
    "blank": ("   ", "empty"),
    "negative": ("-1h", "cannot read"),
    "years": ("+1y", "cannot read"),
    "fraction": ("+1.5h", "cannot read"),
    "no-number": ("+h", "cannot read"),
    "nul": ("+2h\x00", "cannot read"),
    "newline-inside": ("+2\nh", "cannot read"),
    "past": ("2020-01-01 09:00", "in the past"),
    "dst-gap": ("2027-03-28 02:30", "does not exist"),
    "offset-too-big": ("2027-01-01T09:00+25:00", "cannot read"),
    "arabic-digits-overflow": ("+" + "\u0669" * 12 + "w", "outside the calendar"),
}
for label, (value, needle) in BAD_AT.items():
    add(f"at-{label}", ("post", "--account", "noc", "--at", value, "hi"), EXIT_USAGE, needle)
    if label not in ("empty", "blank", "past"):
        add(f"not-after-{label}", ("post", "--account", "noc", "--at", "+1h", "--not-after", value, "hi"),
            EXIT_USAGE, needle)

BAD_TZ = {"directory": "Europe", "directory-america": "America", "long": "A" * 5000, "relative": "../../etc/passwd",
          "absolute": "/etc/localtime", "unknown": "Mars/Olympus", "empty-ish": " ", "nul": "Europe/Oslo\x00",
          "newline": "Europe/Oslo\n", "dots": "..", "long-path": "Europe/" + "x/" * 2000 + "Oslo"}
for label, value in BAD_TZ.items():
    add(f"tz-{label}", ("post", "--account", "noc", "--tz", value, "--at", "2030-01-01 09:00", "hi"), EXIT_USAGE,
        "unknown time zone")

# -- unknown accounts: 5 (not found) in every command --

for label, name in {"nobody": "nobody", "case": "NOC", "trailing-space": "noc ", "newline": "noc\n",
                    "empty": ""}.items():
    add(f"account-post-{label}", ("post", "--account", name, "--at", "+1d", "hi"), EXIT_NOT_FOUND, "unknown account")
    add(f"account-list-{label}", ("list", "--account", name), EXIT_NOT_FOUND, "unknown account")
    add(f"account-ticket-{label}", ("ticket", "open", "INC-5", "--account", name, "hi"), EXIT_NOT_FOUND,
        "unknown account")
    add(f"account-check-{label}", ("check", "--account", name, "hi"), EXIT_NOT_FOUND, "unknown account")
    add(f"account-verify-{label}", ("accounts", "verify", name), EXIT_NOT_FOUND, "unknown account")
add("account-second-unknown", ("post", "--account", "noc", "--account", "nobody", "--at", "+1d", "hi"),
    EXIT_NOT_FOUND, "unknown account")

# -- configuration files --

GOOD = b"accounts:\n  noc:\n    channel: dryrun\n"
LAUGHS = GOOD + b"    options:\n" + b"".join(
    b"      l%d: &l%d [" % (i, i) + b", ".join([b"*l%d" % (i - 1)] * 10 if i else [b'"lol"'] * 10) + b"]\n"
    for i in range(9))
CONFIGS: dict[str, tuple[bytes, str]] = {
    "utf16": ("accounts:\n  noc:\n    channel: dryrun\n".encode("utf-16"), "UTF-16"),
    "utf16-be-no-bom": ("accounts:\n  noc:\n    channel: dryrun\n".encode("utf-16-be"), "UTF-16"),
    "invalid-utf8": (GOOD + b"    display: caf\xe9\n", "not valid UTF-8"),
    "nested-flow-20000": (b"accounts: " + b"[" * 20000 + b"]" * 20000 + b"\n", "nested deeper"),
    "nested-block-100": (b"accounts:\n" + b"".join(b"  " * i + b"k%d:\n" % i for i in range(1, 100)) + b"  " * 100
                         + b"x: 1\n", "nested deeper"),
    "too-large": (GOOD + b"#" + b"x" * 1_100_000 + b"\n", "larger than"),
    "duplicate-channel": (GOOD + b"    channel: x\n", "duplicate key 'channel'"),
    "duplicate-account": (GOOD + b"  noc:\n    channel: x\n", "duplicate key 'noc'"),
    "duplicate-top": (GOOD + b"accounts:\n  x1:\n    channel: x\n", "duplicate key 'accounts'"),
    "duplicate-option": (GOOD + b"    options:\n      page: 1\n      page: 2\n", "duplicate key 'page'"),
    "billion-laughs": (LAUGHS, "expands to more than"),
    "recursive-alias": (GOOD + b"    options: &a\n      self: *a\n", "alias"),
    "tick-nan": (GOOD + b"scheduler:\n  tick_seconds: .nan\n", "must be positive"),
    "tick-inf": (GOOD + b"scheduler:\n  tick_seconds: .inf\n", "must be positive"),
    "tick-minus-inf": (GOOD + b"scheduler:\n  tick_seconds: -.inf\n", "must be positive"),
    "tick-negative": (GOOD + b"scheduler:\n  tick_seconds: -1\n", "must be positive"),
    "lease-zero": (GOOD + b"scheduler:\n  lease_seconds: 0\n", "must be positive"),
    "unknown-scheduler-key": (GOOD + b"scheduler:\n  messages_batch: 5\n", "not a setting"),
    "zone-directory": (GOOD + b"    timezone: Europe\n", "unknown IANA time zone"),
    "zone-long": (GOOD + b"    timezone: " + b"A" * 5000 + b"\n", "unknown IANA time zone"),
    "not-a-mapping": (b"- accounts\n- noc\n", "must be a mapping"),
    "scalar": (b"just words\n", "must be a mapping"),
    "python-tag": (GOOD + b"    display: !!python/object/apply:os.system ['true']\n", "not valid YAML"),
    "nul-byte": (GOOD + b"    display: a\x00b\n", "not valid YAML"),
    "tab-indent": (b"accounts:\n\tnoc:\n\t\tchannel: dryrun\n", "not valid YAML"),
    "unclosed-quote": (GOOD + b'    display: "open\n', "not valid YAML"),
    "unknown-channel": (b"accounts:\n  noc:\n    channel: myspace\n", "unknown channel"),
    "secret-inline": (GOOD + b"    credentials: {token: abc123secretvalue}\n", "reference"),
    "secret-with-newline": (GOOD + b'    credentials: {token: "env:TOKEN\\n"}\n', "reference"),
    # own_numbers must be E.164 (with the country code) and valid, per account and for the organisation
    "own-number-national": (GOOD + b'    own_numbers: ["815 00 000"]\n', "not an E.164 phone number"),
    "own-number-invalid-org": (GOOD + b'organisation:\n  own_numbers: ["+47 123"]\n', "not a valid phone number"),
}
for label, (body, needle) in CONFIGS.items():
    for cmd in (("config", "check"), ("accounts", "list"), ("list",), ("post", "--account", "noc", "--at", "+1d", "hi")):
        # config check reports what is wrong in the file as bad input (exit 2), with every problem at once
        add(f"config-{label}-{cmd[0]}", cmd, EXIT_USAGE if cmd[0] == "config" else EXIT_ERROR, needle, config=body)
for label, path in {"directory": "{tmp}", "missing": "{tmp}/nope.yaml", "dev-zero": "/dev/zero",
                    "long-name": "{tmp}/" + "c" * 300 + ".yaml"}.items():
    needle = {"directory": "is a directory", "missing": "does not exist", "dev-zero": "larger than",
              "long-name": "File name too long"}[label]
    # /dev/zero is world-writable: the trust check refuses it (exit 4) before anything reads it
    code = EXIT_NOT_PERMITTED if label == "dev-zero" else EXIT_ERROR
    needle = "writable by others" if label == "dev-zero" else needle
    add(f"config-path-{label}", ("config", "check"), code, needle, env={"PUBLISHER_CONFIG": path})
    add(f"config-path-{label}-post", ("post", "--account", "noc", "--at", "+1d", "hi"), code, needle,
        env={"PUBLISHER_CONFIG": path})

# -- secrets files (config check resolves every credential); never the secret in the output --

WITH_SECRETS = GOOD + b'    credentials: {token: "file:{secrets}#token"}\n'
SECRETS: dict[str, tuple[bytes, str]] = {
    "bad-yaml-shows-no-secret": (f'token: "{SECRET}\n  other: [\n'.encode(), "not valid YAML"),
    "bad-indent-shows-no-secret": (f"token: {SECRET}\n- x\n".encode(), "not valid YAML"),
    "tab-shows-no-secret": (f"token:\t\t{SECRET}\n\tx: 1\n".encode(), "not valid YAML"),
    "empty-value": (b"token:\n", "empty"),
    "null-value": (b"token: null\n", "empty"),
    "blank-string": (b'token: "  "\n', "empty"),
    "list-value": (f"token: [{SECRET}]\n".encode(), "not a text value"),
    "map-value": (f"token: {{a: {SECRET}}}\n".encode(), "not a text value"),
    "bool-value": (b"token: yes\n", "not a text value"),
    "duplicate": (f"token: {SECRET}\ntoken: other-secret-value\n".encode(), "duplicate key"),
    "missing-key": (b"other: value\n", "is missing"),
    "not-a-mapping": (f"- {SECRET}\n".encode(), "is missing"),
    "utf16": (f"token: {SECRET}\n".encode("utf-16"), "UTF-16"),
    "invalid-utf8": (f"token: {SECRET}\xff\n".encode("latin-1"), "not valid UTF-8"),
    "too-large": (f"token: {SECRET}\n#".encode() + b"x" * 1_100_000, "larger than"),
    "nested": (b"token: " + b"[" * 20000 + b"]" * 20000 + b"\n", "not valid YAML"),
    "billion-laughs": (b"".join(b"l%d: &l%d [" % (i, i) + b", ".join([b"*l%d" % (i - 1)] * 10 if i else
                                [b'"lol"'] * 10) + b"]\n" for i in range(9)) + b"token: x1234\n",
                       "not valid YAML"),
    "python-tag": (b"token: !!python/object/apply:os.system ['true']\n", "not valid YAML"),
}
# config check reports a credential it cannot resolve as a problem of the configuration: exit 2, with the others
for label, (body, needle) in SECRETS.items():
    add(f"secrets-{label}", ("config", "check"), EXIT_USAGE, needle, config=WITH_SECRETS, secrets=body)
    add(f"secrets-{label}-json", ("config", "check", "--json"), EXIT_USAGE, "", config=WITH_SECRETS, secrets=body)
add("secrets-directory", ("config", "check"), EXIT_USAGE, "is a directory",
    config=GOOD + b'    credentials: {token: "file:{tmp}#token"}\n')

# -- environment --

ENVS: dict[str, tuple[dict[str, str], str]] = {
    "log-level-loud": ({"PUBLISHER_LOG_LEVEL": "LOUD"}, "not a log level"),
    "log-level-number": ({"PUBLISHER_LOG_LEVEL": "10"}, "not a log level"),
    "log-level-newline": ({"PUBLISHER_LOG_LEVEL": "INFO\n"}, "not a log level"),
    "redis-garbage": ({"PUBLISHER_REDIS_URL": "garbage"}, "not a Redis URL"),
    "redis-http": ({"PUBLISHER_REDIS_URL": "http://localhost:6379"}, "not a Redis URL"),
    "sqlite-memory-empty": ({"PUBLISHER_DATABASE_URL": "sqlite:///"}, "in-memory"),
    "sqlite-memory-bare": ({"PUBLISHER_DATABASE_URL": "sqlite://"}, "in-memory"),
    "sqlite-memory-named": ({"PUBLISHER_DATABASE_URL": "sqlite:///:memory:"}, "in-memory"),
    "sqlite-memory-uri": ({"PUBLISHER_DATABASE_URL": "sqlite:///file:x?mode=memory&uri=true"}, "in-memory"),
    "database-url-garbage": ({"PUBLISHER_DATABASE_URL": "garbage://nowhere"}, "database URL"),
    "postgres-unreachable": ({"PUBLISHER_DATABASE_URL": f"postgresql://u:{PG_PASSWORD}@127.0.0.1:1/db"},
                             "cannot connect to the database"),
    "home-is-a-file": ({"PUBLISHER_HOME": "{home}/config.yaml"}, "is a file"),
    "home-under-a-file": ({"PUBLISHER_HOME": "{home}/config.yaml/sub"}, "is a file"),
    "home-under-proc": ({"PUBLISHER_HOME": "/proc/publisher"}, "cannot create the data directory"),
    "home-not-writable": ({"PUBLISHER_HOME": "/proc/self"}, "not writable"),
    "home-too-long": ({"PUBLISHER_HOME": "{tmp}/" + "h" * 300}, "File name too long"),
    "actor-not-delegated": ({"PUBLISHER_ACTOR": "mallory", "PUBLISHER_CONFIG": "{tmp}/plain.yaml"},
                            "may not act for others"),
}
for label, (extra, needle) in ENVS.items():
    code = EXIT_NOT_PERMITTED if label == "actor-not-delegated" else EXIT_ERROR  # acting for others: not permitted
    add(f"env-{label}-list", ("list",), code, needle, env=extra)
    add(f"env-{label}-post", ("post", "--account", "noc", "--at", "+1d", "hi"), code, needle, env=extra)

# -- damaged stores: the row, the table, what to do; never a crash --

DAMAGE = {
    "not-a-database": ("", "is not a SQLite database"),
    "unknown-revision": ("UPDATE alembic_version SET version_num = '9999';", "does not know"),
    "dropped-deliveries": ("DROP TABLE deliveries;", "table deliveries is missing"),
    "dropped-audit": ("DROP TABLE audit_events;", "table audit_events is missing"),
    "payload-json": ("UPDATE deliveries SET payload = '{broken';", "column payload cannot be read"),
    "receipt-json": ("UPDATE deliveries SET receipt = '[1, 2';", "column receipt cannot be read"),
    "variables-json": ("UPDATE posts SET variables = 'nope';", "column variables cannot be read"),
    "overrides-json": ("UPDATE posts SET overrides = '{';", "column overrides cannot be read"),
    "due-date": ("UPDATE deliveries SET due_at = 'not a date';", "column due_at cannot be read"),
    "scheduled-date": ("UPDATE posts SET scheduled_at = '2027-13-45 99:99';", "column scheduled_at cannot be read"),
    "created-date": ("UPDATE posts SET created_at = 'x';", "column created_at cannot be read"),
    "audit-details": ("UPDATE audit_events SET details = '{x';", "column details cannot be read"),
    "audit-date": ("UPDATE audit_events SET at = 'soon';", "column at cannot be read"),
}
STORE_COMMANDS = {"list": ("list",), "list-json": ("list", "--json"), "show": ("show", "{post}"),
                  "show-delivery": ("show", "{delivery}"), "audit-export": ("audit", "export"),
                  "audit-verify": ("audit", "verify"), "cancel": ("cancel", "{post}")}
READS = {  # the commands that read what each damage broke
    "not-a-database": list(STORE_COMMANDS), "unknown-revision": list(STORE_COMMANDS),
    "dropped-deliveries": ["list", "list-json", "show", "show-delivery", "cancel"],
    "dropped-audit": ["show", "show-delivery", "audit-export", "audit-verify", "cancel"],
    "payload-json": ["list", "list-json", "show", "show-delivery", "cancel"],
    "receipt-json": ["show", "show-delivery", "cancel"],
    "variables-json": ["show", "show-delivery", "cancel"],
    "overrides-json": ["show", "show-delivery", "cancel"],
    "due-date": ["list", "list-json", "show", "show-delivery", "cancel"],
    "scheduled-date": ["show", "show-delivery", "cancel"],
    "created-date": ["show", "show-delivery", "cancel"],
    "audit-details": ["show", "show-delivery", "audit-export", "audit-verify"],
    "audit-date": ["show", "show-delivery", "audit-export", "audit-verify"],
}
for label, (sql, needle) in DAMAGE.items():
    for cmd_label in READS[label]:
        expected = "was edited" if (label, cmd_label) == ("audit-details", "audit-verify") else needle
        add(f"store-{label}-{cmd_label}", STORE_COMMANDS[cmd_label], EXIT_ERROR, expected, damage=sql)

# -- command options --

for label, (args, needle) in {
    "duration-negative": (("run", "--duration", "-5"), "--duration"),
    "duration-zero": (("run", "--duration", "0"), "--duration"),
    "duration-nan": (("run", "--duration", "nan"), "--duration"),
    "duration-inf": (("run", "--duration", "inf"), "--duration"),
    "duration-words": (("run", "--duration", "soon"), "--duration"),
    "threads-zero": (("run", "--threads", "0"), "--threads"),
    "limit-zero": (("list", "--limit", "0"), "--limit"),
    "limit-negative": (("list", "--limit", "-1"), "--limit"),
    "state-bogus": (("list", "--state", "bogus"), "bogus"),
    "kind-poem": (("post", "--account", "noc", "--kind", "poem", "hi"), "poem"),
    "allow-without-reason": (("post", "--account", "noc", "--allow", "shouting", "hi"), "--reason"),
    "variant-no-equals": (("post", "--account", "noc", "--variant", "noc", "hi"), "TARGET=TEXT"),
    "variant-unknown-target": (("post", "--account", "noc", "--at", "+1d", "--variant", "zzz=x", "hi"), "zzz"),
    "not-after-before-at": (("post", "--account", "noc", "--at", "+2h", "--not-after", "+1h", "hi"), "later than"),
    "text-empty": (("post", "--account", "noc", ""), "empty"),
    "text-spaces": (("post", "--account", "noc", "   \n\t "), "empty"),
    "no-account": (("post", "hi"), "account"),
    "queue-unknown": (("worker", "--queues", "myspace"), "unknown queue"),
    "processes-zero": (("worker", "--processes", "0"), "0"),
    "export-format": (("audit", "export", "--format", "xml"), "xml"),
    "no-such-command": (("nonsense",), "No such command"),
    "ticket-id-like-an-option": (("ticket", "open", "-INC", "--account", "noc", "text"), "No such option"),
    "check-kind": (("check", "--account", "noc", "--kind", "poem", "hi"), "poem"),
    "check-empty": (("check", "--account", "noc", ""), "empty"),
}.items():
    add(f"option-{label}", args, EXIT_USAGE, needle)


def test_the_table_is_large_enough_and_names_are_unique() -> None:
    assert len(CASES) >= 250, len(CASES)
    assert len({c.name for c in CASES}) == len(CASES)


def _quick_or_slow(cases: list[Case]) -> list[object]:
    """Every case, the first of each class (its name's first word: post, ticket, config, env, damage...) in the quick
    subset and the rest marked slow: `pytest -m "not slow"` still tries each class, CI tries all of them."""
    seen: set[str] = set()
    out = []
    for c in cases:
        kind = c.name.split("-")[0]
        out.append(pytest.param(c, id=c.name, marks=() if kind not in seen else (pytest.mark.slow,)))
        seen.add(kind)
    return out


@pytest.mark.timeout(60)  # a broken guard may mean a command that never ends (run --duration nan)
@pytest.mark.parametrize("case", _quick_or_slow(CASES))
def test_bad_input_gets_a_clear_error_and_changes_nothing(case: Case, world: World, tmp_path: Path) -> None:
    (world.tmp / "plain.yaml").write_bytes(GOOD)
    env, db = _prepare(case, world, tmp_path)
    if case.damage == "":
        db.write_bytes(b"this is not a database, just text " * 100)
    before = _dump(db), _dump(world.db)
    args = [_fill(a, world) for a in case.args]
    code, out, err = _invoke(args, env, case.stdin)
    _assert_clear(case, code, out, err)
    assert (_dump(db), _dump(world.db)) == before, f"{case.name}: the store changed"


# ---------------------------------------------------------------------------------------------------------------
# What only a real process can carry
# ---------------------------------------------------------------------------------------------------------------


def _run(world: World, argv: list[bytes], stdin: bytes | None = None, extra: dict[str, str] | None = None,
         timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")}
    env.update({"PUBLISHER_HOME": str(world.home), **(extra or {})})
    return subprocess.run([sys.executable.encode(), b"-m", b"publisher.cli", *argv], env=env, input=stdin,
                          capture_output=True, timeout=timeout)


def _process_ok(r: subprocess.CompletedProcess[bytes], code: int, needle: str) -> None:
    err = r.stderr.decode("utf-8", "replace")
    assert r.returncode == code, (r.returncode, err)
    assert needle in err and "Traceback" not in err and "this is a bug" not in err, err


PROCESS_CASES = {
    "argv-invalid-utf8-text": ([b"post", b"--account", b"noc", b"--at", b"+1d", b"caf\xe9"], None, "not valid UTF-8"),
    "argv-invalid-utf8-id": ([b"show", b"p-\xff"], None, "not valid UTF-8"),
    "argv-invalid-utf8-link": ([b"post", b"--account", b"noc", b"--link", b"https://x.test/\xc3", b"hi"], None,
                               "not valid UTF-8"),
    "stdin-invalid-utf8": ([b"post", b"--account", b"noc", b"--at", b"+1d", b"-"], b"hello \xff\xfe", "not valid UTF-8"),
    "stdin-utf16": ([b"ticket", b"open", b"INC-3", b"--account", b"noc", b"-"], "Fibre cut".encode("utf-16"),
                    "not valid UTF-8"),
    "stdin-nul-only": ([b"post", b"--account", b"noc", b"--at", b"+1d", b"-"], b"\x00\x00\x00", "control character"),
}


@pytest.mark.parametrize("label", list(PROCESS_CASES))
def test_bytes_only_a_process_can_pass_are_refused(world: World, label: str) -> None:
    argv, stdin, needle = PROCESS_CASES[label]
    before = _dump(world.db)
    _process_ok(_run(world, argv, stdin), EXIT_USAGE, needle)
    assert _dump(world.db) == before


def test_sandbox_on_a_port_in_use_is_a_clear_error(world: World) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        _process_ok(_run(world, [b"sandbox", b"--port", str(port).encode()]), EXIT_ERROR, "Address already in use")


@pytest.mark.parametrize("argv", [[b"run", b"--until-done", b"--duration", b"30"], [b"worker", b"-p", b"1"],
                                  [b"scheduler"]], ids=["run-until-done", "worker", "scheduler"])
def test_an_unreachable_broker_fails_at_start(world: World, tmp_path: Path, argv: list[bytes]) -> None:
    home = tmp_path / "home"
    shutil.copytree(world.home, home, ignore=shutil.ignore_patterns("*.sqlite-*", "*.writelock", "valkey"))
    before = _dump(home / "publisher.sqlite")
    r = _run(world, argv, extra={"PUBLISHER_HOME": str(home), "PUBLISHER_REDIS_URL": f"redis://:{PG_PASSWORD}@127.0.0.1:1/0"},
             timeout=45)
    _process_ok(r, EXIT_ERROR, "cannot reach the broker")
    assert PG_PASSWORD.encode() not in r.stderr + r.stdout
    assert _dump(home / "publisher.sqlite") == before
