from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.feeds.server import FeedServer


@pytest.fixture
def feeds_http() -> Iterator[FeedServer]:
    server = FeedServer().start()
    yield server
    server.stop()
