"""The import's progress bar (issue 13): drawn on a terminal, on stderr, for large files; never on a pipe, and never
on stdout, which carries the report (`--json` for jq). The real CLI in a subprocess whose stderr is a pseudo-terminal."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.campaigns.helpers import ACCOUNTS, CAMPAIGN, write
from tests.conftest import Env

pty = pytest.importorskip("pty")  # POSIX only


def _big(tmp_path: Path) -> Path:
    data = copy.deepcopy(CAMPAIGN)
    data["accounts"] = ["conf-x"]
    data["rows"] = [{"key": f"s{i}", "at": "event+0d 12:00", "text": f"Session {i} starts soon in hall B #TNC31"}
                    for i in range(300)]
    return write(tmp_path / "big.yaml", data)


def _with_tty_stderr(env: Env, *args: str) -> tuple[int, bytes, bytes]:
    """(exit code, stdout, what the terminal on stderr received)."""
    master, slave = pty.openpty()
    p = subprocess.Popen([sys.executable, "-m", "publisher.cli", *args], env=env.env, stdout=subprocess.PIPE,
                         stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    out = p.stdout.read() if p.stdout else b""
    return p.wait(timeout=120), out, seen


def test_a_terminal_sees_the_bar_on_stderr_and_a_pipe_sees_none(env: Env, tmp_path: Path) -> None:
    env.write_config(ACCOUNTS)
    big = _big(tmp_path)
    code, out, tty = _with_tty_stderr(env, "campaign", "import", "--dry-run", str(big))
    assert code == 0, tty
    assert b"checking rows" in tty  # rich drew the bar on the terminal
    assert out.startswith(b"campaign tnc31 (dry run, nothing stored): 300 new") and b"\x1b[" not in out
    piped = env.cli("campaign", "import", "--dry-run", str(big))
    assert piped.returncode == 0, piped.stderr
    assert "checking rows" not in piped.stderr and "\x1b[" not in piped.stderr + piped.stdout
    assert piped.stdout.encode() == out  # the report is the same either way
