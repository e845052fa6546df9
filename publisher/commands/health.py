"""publisher health: exit 0 when publisher is working, 1 otherwise (compose's and the Dockerfile's health check)."""

from __future__ import annotations

import sys
from datetime import timedelta

import click

from publisher.commands import app, echo, echo_json

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}


def _duration(_ctx: click.Context, _param: click.Parameter, value: str) -> timedelta:
    import re

    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*", value or "")
    if not m:
        raise click.BadParameter(f"{value!r} is not a duration; use e.g. 60s, 90, 5m, 1h")
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2) or "s"])


@click.command()
@click.option("--max-late", default="60s", show_default=True, callback=_duration,
              help="A due delivery later than this is unhealthy (60s, 5m, 1h; a bare number is seconds).")
@click.option("--local", type=click.Choice(["worker", "scheduler"]), default=None,
              help="Also require a live process of this role on this host (a container's own health check).")
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
def health(max_late: timedelta, local: str | None, as_json: bool) -> None:
    """Check that publisher works: broker, store (schema at head), a live worker for every channel queue in use,
    a live scheduler, and no due delivery later than --max-late. Exit 0 healthy, 1 otherwise.

    \b
    Examples:
      publisher health
      publisher health --max-late 5m --json
      publisher health --local worker      # in a worker container: its own pool is alive too
    """
    from publisher.ops import health as health_mod

    report = health_mod.run(app().settings, max_late, local)
    if as_json:
        echo_json(report.to_dict())
    else:
        for c in report.checks:
            echo(f"{'ok  ' if c.ok else 'FAIL'}  {c.name:<10} {c.reason}")
        echo("healthy" if report.healthy else "unhealthy")
    if not report.healthy:
        sys.exit(1)
