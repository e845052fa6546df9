"""Fixtures for adapter tests: one real loopback sandbox server per session, reset before every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from publisher.sandbox.server import SandboxServer


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    server = SandboxServer(port=0).start()
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_server: SandboxServer) -> Iterator[SandboxServer]:
    """The running sandbox server with an empty ledger and no faults."""
    sandbox_server.sandbox.reset()
    yield sandbox_server
    sandbox_server.sandbox.reset()
