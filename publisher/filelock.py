"""Writers of one SQLite file in several processes queue on a kernel file lock instead of SQLite's busy handler.

SQLite's busy handler sleeps and retries (1, 2, 5, ... up to 100 ms a step), so under load writers sit idle while
the file is free. ``flock`` wakes the next waiter the moment the lock is released. Threads of one process share the
descriptor (``flock`` does not exclude them), so callers also hold a ``threading.Lock``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

try:
    import fcntl
except ImportError:  # Windows: SQLite's own busy handler serialises writers
    fcntl = None  # type: ignore[assignment]


class ProcessFileLock:
    def __init__(self, path: str | None) -> None:
        self.path = path
        self._fd: int | None = None
        self._pid = 0

    @contextmanager
    def hold(self) -> Iterator[None]:
        if self.path is None or fcntl is None:
            yield
            return
        if self._fd is None or self._pid != os.getpid():  # a forked child opens its own description
            self._fd, self._pid = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600), os.getpid()
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
