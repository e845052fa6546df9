"""``publisher check``: the tone and policy linter, for people and pipelines."""

from __future__ import annotations

import json
import sys

import click

from publisher.errors import EXIT_BLOCKED, PublisherError
from publisher.models import CHANNELS, Finding, PostKind

_STYLE = {"block": ("BLOCK", "red"), "warn": ("warn ", "yellow"), "info": ("info ", "cyan")}

HELP = """Check TEXT (or standard input with -) the way ACCOUNT would publish it, and list every finding.

\b
Exit codes: 0 nothing blocks, 3 something blocks, 2 bad usage (kind, channel), 5 unknown account,
1 invalid configuration (e.g. a tone profile).
\b
Examples:
  publisher check --account noc --kind ticket "Degraded DNS since 14:00. Next update 15:00."
  echo "New post: https://blog.example.no/p99" | publisher check - --account andrew --kind blog --json
\b
--json prints only JSON on stdout: a list of findings, each with rule, severity, start, end (string offsets
into the text), message, suggestion and channel.
"""


def _read_text(text: str | None) -> str:
    if text is None or text == "-":
        if text is None and sys.stdin.isatty():
            raise click.UsageError("give the text to check, or - to read it from standard input")
        return sys.stdin.read().rstrip("\n")
    return text


def _render(text: str, findings: list[Finding]) -> None:
    if not findings:
        click.echo("no findings")
        return
    for f in sorted(findings, key=lambda f: (("block", "warn", "info").index(f.severity), f.start)):
        label, colour = _STYLE.get(f.severity, (f.severity, "white"))
        span = text[f.start:f.end]
        where = f"[{f.start}:{f.end}]"
        quoted = f' "{span if len(span) <= 70 else span[:69] + chr(0x2026)}"' if span else " (end of text)"
        click.echo(f"{click.style(label, fg=colour, bold=True)} {f.rule} {where}{quoted}")
        click.echo(f"      {f.message}")
        if f.suggestion:
            click.echo(f"      -> {f.suggestion}")
    counts = {s: sum(1 for f in findings if f.severity == s) for s in ("block", "warn", "info")}
    click.echo(f"{counts['block']} blocking, {counts['warn']} warning(s), {counts['info']} note(s)")


@click.command("check", help=HELP)
@click.argument("text", required=False)
@click.option("--account", "-a", "account_name", required=True, help="Account whose profile applies.")
@click.option("--channel", "-c", type=click.Choice(CHANNELS), help="Channel to measure for (default: the account's).")
@click.option("--kind", "-k", type=click.Choice([k.value for k in PostKind]), default="note", show_default=True,
              help="Post kind (per-kind exceptions apply, e.g. tickets must stay calm).")
@click.option("--json", "as_json", is_flag=True, help="Print only JSON findings on stdout.")
def check(text: str | None, account_name: str, channel: str | None, kind: str, as_json: bool) -> None:
    body = _read_text(text)
    if not body.strip():
        raise click.UsageError("the text to check is empty")
    try:
        from publisher import settings as settings_mod
        from publisher import tone

        settings = settings_mod.load()
    except PublisherError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)
    try:
        account = settings.account(account_name)
    except PublisherError as e:  # an unknown --account: not found (5), as in every command
        click.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)
    try:
        findings = tone.check(body, account, channel=channel, kind=PostKind(kind), profiles=settings.profiles)
    except PublisherError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)
    if as_json:
        click.echo(json.dumps([f.to_dict() for f in findings], ensure_ascii=False, indent=2))
    else:
        _render(body, findings)
    if tone.blocking(findings):
        sys.exit(EXIT_BLOCKED)

