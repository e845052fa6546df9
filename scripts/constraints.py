"""Write constraints.txt: the exact versions, from this environment, of everything the image installs
(``publisher[postgres]`` and what it depends on, transitively), for the Dockerfile's ``pip install -c``.

    python scripts/constraints.py            # in the virtualenv the tests passed in
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(direct: list[str]) -> dict[str, str]:
    """name -> installed version of the ``direct`` requirements and their dependencies, transitively."""
    found: dict[str, str] = {}
    todo: list[tuple[list[str], set[str], str]] = [(direct, set(), "pyproject.toml")]
    env = default_environment()
    while todo:
        requires, wanted, needed_by = todo.pop()
        for raw in requires:
            req = Requirement(raw)
            if req.marker is not None and not any(req.marker.evaluate({**env, "extra": e})  # type: ignore[dict-item]
                                                  for e in (wanted or {""})):
                continue
            key = _canonical(req.name)
            if key in found:
                continue
            try:
                found[key] = metadata.version(req.name)
            except metadata.PackageNotFoundError:
                sys.exit(f"{req.name} (needed by {needed_by}) is not installed here: install publisher[postgres] first")
            todo.append((metadata.distribution(req.name).requires or [], set(req.extras), req.name))
    return found


def main() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = closure([*project["dependencies"], *project["optional-dependencies"]["postgres"]])
    lines = [f"{n}=={v}" for n, v in sorted(pins.items())]
    header = ("# The image's dependency versions (publisher[postgres], transitively), from the environment the tests\n"
              f"# passed in, Python {sys.version_info.major}.{sys.version_info.minor}. Regenerate: "
              "python scripts/constraints.py\n")
    (ROOT / "constraints.txt").write_text(header + "\n".join(lines) + "\n")
    print(f"constraints.txt: {len(lines)} packages")


if __name__ == "__main__":
    main()
