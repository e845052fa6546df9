"""The README's first command: `publisher demo` runs on the embedded defaults and publishes to all five platforms."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import Env

pytestmark = pytest.mark.slow  # the whole demo: processes and the sandbox server


def test_demo_publishes_thread_in_order_to_dryrun_and_all_five_sandbox_platforms(env: Env) -> None:
    r = subprocess.run([sys.executable, "-m", "publisher.cli", "demo", "--home", str(env.home / "demo")],
                       env={**env.env, "COLUMNS": "200"}, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "hash chain verified" in r.stdout
    for platform in ("x", "facebook", "linkedin", "mastodon", "bluesky"):
        assert f"│ {platform}" in r.stdout, platform
    assert "expired" in r.stdout and "Traceback" not in r.stderr
