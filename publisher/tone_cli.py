"""``publisher check``: the tone and policy linter, for people and pipelines."""

from __future__ import annotations

import json
import sys
from typing import IO, Any, NoReturn

import click

from publisher.errors import EXIT_BLOCKED, EXIT_USAGE, InputError, PublisherError
from publisher.models import CHANNELS, Finding, PostKind

_STYLE = {"block": ("BLOCK", "red"), "warn": ("warn ", "yellow"), "info": ("info ", "cyan")}

RULE_IDS = ("length profanity privacy.email privacy.phone privacy.pattern links.required links.https links.shortener "
            "links.max shouting exclamation emoji sentiment register.first-person register.informal language "
            "hashtags.max hashtags.required hashtags.camelcase phrases.banned phrases.required consistency media.alt").split()

HELP = f"""Check TEXT (or standard input with -) the way ACCOUNT would publish it, and list every finding.

\b
Exit codes: 0 nothing blocks, 3 something blocks, 2 bad usage (kind, channel, a bad batch line), 5 unknown
account, 1 invalid configuration (e.g. a tone profile).
\b
Examples:
  publisher check --account noc --kind ticket "Degraded DNS since 14:00. Next update 15:00."
  echo "New post: https://blog.example.no/p99" | publisher check - --account andrew --kind blog --json
  publisher check --account comms --lang nb --require-hashtag Fiberuka "Fiberuka starter mandag #Fiberuka"
  publisher check --batch campaign.jsonl --account comms > results.jsonl
  publisher check --rules            # every rule id, its options and each profile's severities
\b
--json prints only JSON on stdout: a list of findings, each with rule, severity, start, end (string offsets
into the text), message, suggestion and channel.
\b
--batch FILE.jsonl (- for standard input) checks one JSON object per line in one process: {{"text": ...}} with
optional "id", "account", "kind", "channel", "lang", "require_hashtags" (the options' values are the defaults).
It prints one JSON result per line, in order: {{"line", "id", "account", "blocked", "findings"}} or
{{"line", "id", "error", "exit_code"}}; exit 2 if a line was bad, else 3 if one blocks, else 0.
\b
Rule ids (use them with --allow on post, and in profiles):
  {chr(10).join("  " + " ".join(RULE_IDS[i:i + 6]) for i in range(0, len(RULE_IDS), 6)).lstrip()}
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


def _overrides(tags: list[str] | tuple[str, ...]) -> dict[str, Any] | None:
    return {"hashtags.required": {"tags": list(tags)}} if tags else None


def _fail(e: PublisherError) -> NoReturn:
    click.echo(f"error: {e}", err=True)
    sys.exit(e.exit_code)


@click.command("check", help=HELP)
@click.argument("text", required=False)
@click.option("--account", "-a", "account_name", help="Account whose profile applies (required but with --rules).")
@click.option("--channel", "-c", type=click.Choice(CHANNELS), help="Channel to measure for (default: the account's).")
@click.option("--kind", "-k", type=click.Choice([k.value for k in PostKind]), default="note", show_default=True,
              help="Post kind (per-kind exceptions apply, e.g. tickets must stay calm).")
@click.option("--lang", "lang", help="The language the post is written in (ISO 639-1, e.g. en, nb): rules use it "
              "instead of detecting one, and the language rule checks the account posts in it.")
@click.option("--require-hashtag", "tags", multiple=True, metavar="TAG",
              help="A hashtag this post must carry (repeatable; a campaign's tag), on top of the profile's.")
@click.option("--batch", "batch", type=click.File("r", encoding="utf-8"), metavar="FILE.jsonl",
              help="Check one JSON object per line (see above); one JSON result per line.")
@click.option("--rules", "list_rules", is_flag=True, help="List every rule id, its options and the profiles' "
              "severities, and exit.")
@click.option("--json", "as_json", is_flag=True, help="Print only JSON on stdout.")
def check(text: str | None, account_name: str | None, channel: str | None, kind: str, lang: str | None,
          tags: tuple[str, ...], batch: IO[str] | None, list_rules: bool, as_json: bool) -> None:
    try:
        from publisher import settings as settings_mod

        settings = settings_mod.load()
    except PublisherError as e:
        _fail(e)
    if list_rules:
        _print_rules(settings, as_json)
        return
    if batch is not None:
        if text is not None:
            raise click.UsageError("give either TEXT or --batch FILE, not both")
        sys.exit(_run_batch(batch, settings, account_name, channel, kind, lang, tags))
    if account_name is None:  # given but empty: an unknown account (exit 5), as in every command
        raise click.UsageError("--account is required (publisher accounts list shows them)")
    body = _read_text(text)
    if not body.strip():
        raise click.UsageError("the text to check is empty")
    from publisher import tone

    try:
        account = settings.account(account_name)
        findings = tone.check(body, account, channel=channel, kind=PostKind(kind), profiles=settings.profiles,
                              overrides=_overrides(tags), lang=lang, model=True)
    except PublisherError as e:  # an unknown --account: not found (5), as in every command
        _fail(e)
    if as_json:
        click.echo(json.dumps([f.to_dict() for f in findings], ensure_ascii=False, indent=2))
    else:
        _render(body, findings)
    if tone.blocking(findings):
        sys.exit(EXIT_BLOCKED)


def _run_batch(lines: IO[str], settings: Any, account_name: str | None, channel: str | None, kind: str,
               lang: str | None, tags: tuple[str, ...]) -> int:
    """Check every line of a JSONL file in this process; print one JSON result per line. Returns the exit code."""
    from publisher import tone

    worst = 0
    for n, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        item: dict[str, Any] = {}
        try:
            try:
                item = json.loads(raw)
            except json.JSONDecodeError as e:
                raise InputError(f"line {n} is not JSON ({e.msg} at column {e.colno})") from None
            if not isinstance(item, dict) or not isinstance(item.get("text"), str) or not item["text"].strip():
                raise InputError(f'line {n}: expected an object with a non-empty "text"')
            name = item.get("account") or account_name
            if not name:
                raise InputError(f'line {n}: no "account" and no --account default')
            k = item.get("kind") or kind
            if k not in {pk.value for pk in PostKind}:
                raise InputError(f"line {n}: unknown kind {k!r}")
            ch = item.get("channel") or channel
            if ch is not None and ch not in CHANNELS:
                raise InputError(f"line {n}: unknown channel {ch!r}")
            item_tags = item.get("require_hashtags") or list(tags)
            if not isinstance(item_tags, list) or not all(isinstance(t, str) for t in item_tags):
                raise InputError(f'line {n}: "require_hashtags" must be a list of strings')
            account = settings.account(name)
            findings = tone.check(item["text"], account, channel=ch, kind=PostKind(k), profiles=settings.profiles,
                                  overrides=_overrides(item_tags), lang=item.get("lang") or lang, model=True)
        except PublisherError as e:
            click.echo(json.dumps({"line": n, "id": item.get("id") if isinstance(item, dict) else None,
                                   "error": str(e), "exit_code": e.exit_code}, ensure_ascii=False))
            worst = EXIT_USAGE if e.exit_code in (EXIT_USAGE, 5) else max(worst, e.exit_code)
            continue
        blocked = bool(tone.blocking(findings))
        if blocked and worst == 0:
            worst = EXIT_BLOCKED
        click.echo(json.dumps({"line": n, "id": item.get("id"), "account": name, "blocked": blocked,
                               "findings": [f.to_dict() for f in findings]}, ensure_ascii=False))
    return worst


def _print_rules(settings: Any, as_json: bool) -> None:
    """Every rule id with its options (name, default) and, per profile, its severity per post kind."""
    from publisher import tone

    profiles = tone.load_profiles(settings.profiles)
    rows: list[dict[str, Any]] = []
    for rule, (_, model) in tone.REGISTRY.items():
        options = {name: f.default if f.default_factory is None else f.default_factory()  # type: ignore[call-arg]
                   for name, f in model.model_fields.items() if name != "severity"}
        severities: dict[str, Any] = {}
        for pname, prof in profiles.items():
            by_kind = {k.value: prof.options[k][rule].severity for k in PostKind}
            hostility = {k.value: getattr(prof.options[k][rule], "hostility", None) for k in PostKind}
            severities[pname] = by_kind if len(set(by_kind.values())) > 1 else next(iter(by_kind.values()))
            if rule == "sentiment" and any(hostility.values()):
                severities[pname + " (hostility)"] = next(iter(set(hostility.values()))) \
                    if len(set(hostility.values())) == 1 else hostility
        rows.append({"rule": rule, "options": options, "severity": severities,
                     "doc": (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else ""})
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2, default=str))
        return
    for row in rows:
        click.echo(click.style(row["rule"], bold=True))
        opts = ", ".join(f"{k}={v!r}" for k, v in row["options"].items()) or "(no options)"
        click.echo(f"  options: {opts}")
        for pname, sev in row["severity"].items():
            text = sev if isinstance(sev, str) else ", ".join(f"{k}: {v}" for k, v in sev.items())
            click.echo(f"  {pname}: {text}")
