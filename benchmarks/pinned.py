"""The processes a benchmark starts run the ``publisher`` package the benchmark itself imports.

``python -m publisher.cli`` puts its working directory first on ``sys.path``. Started from the repository root, a
worker or scheduler therefore imported the checkout whatever ``PYTHONPATH`` named, so a before/after run with
``PYTHONPATH`` at an exported older tree measured the checkout in both arms wherever the work ran in subprocesses
(RESULTS-scale.md, 2026-12-06 04:30-06:10). ``pin`` names the package's root first on ``PYTHONPATH`` and sets
``PYTHONSAFEPATH``, so that no working directory is put before it.

Dramatiq's worker processes also put their ``--path`` first, by default the working directory. ``publisher
worker`` now passes its own package's root, but older code under test does not: start worker pools in a directory
without a ``publisher`` folder (``scale.py`` starts them in the run's data directory).
"""

from __future__ import annotations

import os
from pathlib import Path


def root() -> Path:
    """The directory holding the ``publisher`` package this process imports."""
    import publisher

    return Path(publisher.__file__).resolve().parent.parent


def pin(env: dict[str, str]) -> dict[str, str]:
    """``env`` (changed in place, and returned) for a subprocess that must import this process's ``publisher``."""
    rest = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and Path(p).resolve() != root()]
    env["PYTHONPATH"] = os.pathsep.join([str(root()), *rest])
    env["PYTHONSAFEPATH"] = "1"
    return env
