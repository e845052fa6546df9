"""The compose services' own commands, run here: docker-compose.yml's scheduler and worker commands with their
environment, against the machine's PostgreSQL and Redis when PUBLISHER_TEST_DATABASE_URL/REDIS_URL are set (the
hosts substituted for compose's `postgres` and `redis`), else the embedded defaults; the image's paths (/app)
mapped to the repository. Compose's health check goes green and a post publishes. No Docker engine is needed."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from publisher import settings as settings_mod
from tests.conftest import Env, wait_for
from tests.test_ops_metrics import scrape

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
DOCKERFILE = (ROOT / "Dockerfile").read_text()
WORKDIR = re.search(r"^WORKDIR (\S+)", DOCKERFILE, re.M).group(1)  # type: ignore[union-attr]
HOST_SIDE = ("PUBLISHER_DATABASE_URL", "PUBLISHER_REDIS_URL")  # compose's service hosts: the test's own instead


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def service_env(env: Env, service: str) -> dict[str, str]:
    """The service's environment, with the machine's (or the embedded) store and broker, and the image's paths
    mapped to the repository."""
    out = dict(env.env)  # PUBLISHER_HOME, and the machine's PostgreSQL/Redis when the test run has them
    for key, value in COMPOSE["services"][service]["environment"].items():
        if key in HOST_SIDE:
            continue
        value = str(value)
        if value.startswith(f"{WORKDIR}/"):
            value = str(ROOT / value.removeprefix(f"{WORKDIR}/"))
        out[key] = value
    return out


def service_command(service: str, ports: dict[str, int]) -> list[str]:
    """The service's command, its metrics port replaced by a free one (``ports`` records which)."""
    cmd = [str(c) for c in COMPOSE["services"][service]["command"]]
    if "--metrics-port" in cmd:
        i = cmd.index("--metrics-port") + 1
        ports[service] = _free_port()
        cmd[i] = str(ports[service])
    return cmd


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "publisher.cli", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def test_the_image_ships_the_config_compose_points_at_and_checks_health() -> None:
    for service in ("scheduler", "worker"):
        config = COMPOSE["services"][service]["environment"]["PUBLISHER_CONFIG"]
        assert config.startswith(f"{WORKDIR}/config/") and (ROOT / config.removeprefix(f"{WORKDIR}/")).is_file()
        assert COMPOSE["services"][service]["healthcheck"]["test"][1:3] == ["publisher", "health"]
    assert "COPY config ./config" in DOCKERFILE
    assert re.search(r'^HEALTHCHECK .*CMD \["publisher", "health"\]', DOCKERFILE, re.M)
    assert "-c constraints.txt" in DOCKERFILE
    pinned = {line.split("==")[0] for line in (ROOT / "constraints.txt").read_text().splitlines()
              if "==" in line and not line.startswith("#")}
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    from packaging.requirements import Requirement

    for raw in [*project["dependencies"], *project["optional-dependencies"]["postgres"]]:
        name = re.sub(r"[-_.]+", "-", Requirement(raw).name).lower()
        assert name in pinned, f"{name} is not pinned in constraints.txt (python scripts/constraints.py)"


@pytest.mark.slow
def test_compose_services_go_healthy_and_publish(env: Env) -> None:
    ports: dict[str, int] = {}
    envs = {s: service_env(env, s) for s in ("scheduler", "worker")}
    for service in ("scheduler", "worker"):
        out = open(env.home / f"{service}.log", "ab")  # noqa: SIM115 - closed with the process
        env.procs.append(subprocess.Popen([sys.executable, "-m", "publisher.cli", *service_command(service, ports)],
                                          env=envs[service], stdout=out, stderr=subprocess.STDOUT,
                                          start_new_session=True))
    check = [str(c) for c in COMPOSE["services"]["worker"]["healthcheck"]["test"][2:]]  # after CMD, publisher

    def healthy() -> bool:
        return cli(envs["worker"], *check).returncode == 0

    wait_for(healthy, timeout=120, every=1, what="compose's health check to pass")
    r = cli(envs["scheduler"], "post", "--account", "noc", "Planned maintenance tonight 22:00-23:00")
    assert r.returncode == 0, r.stderr
    settings = settings_mod.load(envs["scheduler"])
    from publisher.store import Store

    store = Store(settings.database_url)

    def published() -> list[dict[str, Any]]:
        from sqlalchemy import select

        from publisher.schema import deliveries

        with store.read() as conn:
            return [dict(r) for r in conn.execute(select(deliveries).where(deliveries.c.state == "published")).mappings()]

    wait_for(lambda: len(published()) == 1, timeout=60, what="the post to publish")
    assert published()[0]["account"] == "noc" and published()[0]["channel"] == "dryrun"
    # the worker counts a delivery once its result has committed, so the counter may trail the row by a moment
    counted = 'publisher_deliveries_total{channel="dryrun",outcome="published"}'
    wait_for(lambda: scrape(ports["worker"]).get(counted, 0) == 1, timeout=30, every=0.3, what="the publish counted")
    health = json.loads(cli(envs["worker"], *check, "--json").stdout)
    assert health["healthy"], health
    store.dispose()
