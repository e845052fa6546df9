from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import Env
from tests.sim.harness import Sim


@pytest.fixture
def make_sim(env: Env) -> Iterator[object]:
    made: list[Sim] = []

    def make(accounts: dict[str, object] | None = None) -> Sim:
        sim = Sim(env, accounts)
        made.append(sim)
        return sim

    yield make
    for sim in made:
        sim.close()
