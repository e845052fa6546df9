"""docker-compose.yml is valid for Debian's docker-compose (no Docker engine needed for `config`)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_compose_file_has_the_production_services_with_health_checks() -> None:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = data["services"]
    assert {"redis", "postgres", "scheduler", "worker"} <= set(services)
    for name in ("redis", "postgres", "scheduler", "worker"):
        assert "healthcheck" in services[name], name
    assert services["worker"]["command"][0] == "worker" and services["scheduler"]["command"][0] == "scheduler"


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="Debian's docker-compose is not installed")
def test_debians_docker_compose_accepts_the_file() -> None:
    r = subprocess.run(["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config", "--quiet"],
                       capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 0, r.stderr
