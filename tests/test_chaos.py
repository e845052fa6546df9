"""About 300 deliveries on all five channels through real worker and scheduler processes, with faults on every
channel, SIGKILLs and a broker wipe (tests/chaos.py): the sandbox's own record shows nothing lost, nothing twice,
every reply after and under its predecessor, nothing stuck, and the audit log verifies. Runs on both CI paths."""

from __future__ import annotations

import pytest

from publisher.sandbox.server import SandboxServer
from tests import chaos
from tests.conftest import Env


@pytest.mark.slow
def test_chaos_on_five_channels_loses_nothing_and_publishes_nothing_twice(env: Env, sandbox: SandboxServer) -> None:
    report = chaos.run(env, sandbox, tickets=10, notes=30)
    assert report.deliveries == 300
    assert report.lost == [], report.lost[:10]
    assert report.duplicated == [], report.duplicated[:10]
    assert report.out_of_order == [], report.out_of_order[:10]
    assert report.stuck == [], report.stuck[:10]
    assert report.audit_ok
    assert report.published == 300
    assert len(report.kills) == 5
