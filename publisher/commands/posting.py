"""post, ticket open|update|resolve, cancel, approve, reject, retry."""

from __future__ import annotations

import re
import sys
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import click

from publisher.commands import app, echo_json
from publisher.errors import InputError, ToneBlocked
from publisher.models import Finding, PostKind

if TYPE_CHECKING:
    from publisher.workflows.tickets import Lifecycle

_TICKET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$")
TICKET_TEMPLATES = {"open": "{ticket}: {text}", "update": "{ticket} update: {text}", "resolve": "{ticket} resolved: {text}"}


def _text(text: str) -> str:
    if text == "-":
        text = sys.stdin.read()
    if not text.strip():
        raise InputError("the post text is empty", hint="give the text as the last argument, or - to read stdin")
    from publisher import textinput

    textinput.check(text, "the post text", multiline=True)  # before a ticket template wraps it in visible text
    return text.strip()


def _allow(allow: tuple[str, ...], reason: str | None) -> dict[str, str]:
    if allow and not (reason and reason.strip()):
        raise InputError("--allow needs --reason", hint='say why, e.g. --allow shouting --reason "acronyms in a ticket"')
    return {rule: (reason or "").strip() for rule in allow}


def _variants(variants: tuple[str, ...], template: str = "{text}") -> dict[str, str]:
    out: dict[str, str] = {}
    for item in variants:
        target, sep, text = item.partition("=")
        if not sep or not target.strip() or not text.strip():
            raise InputError(f"--variant {item!r} is not TARGET=TEXT",
                             hint='e.g. --variant noc-x="Short text for X" (TARGET: an account or a channel)')
        out[target.strip()] = template.format(text=text.strip())
    return out


def _attachments(images: tuple[str, ...], alts: tuple[str, ...]) -> list[Any]:
    """--image FILE and --alt TEXT, paired by order (an image without an --alt has none: a tone finding for an
    organisation). Every file is read and checked before anything is stored."""
    if len(alts) > len(images):
        raise InputError(f"{len(alts)} --alt texts for {len(images)} --image files",
                         hint="give one --alt after each --image, in the same order")
    if not images:
        return []
    from publisher.channels import media

    return [media.Attachment(media.load(path), alts[i].strip() if i < len(alts) else "")
            for i, path in enumerate(images)]


def _print_findings(findings: list[Finding], err: bool = True) -> None:
    for f in findings:
        where = f" [{f.start}:{f.end}]" if f.end > f.start else ""
        chan = f" ({f.channel})" if f.channel else ""
        click.echo(f"  {f.severity:5} {f.rule}{chan}{where}: {f.message}", err=err)
        if f.suggestion:
            click.echo(f"        -> {f.suggestion}", err=err)


def _submit(text: str, accounts: tuple[str, ...], at: str, tz: str | None, not_after: str | None, kind: PostKind,
            link: str | None, language: str | None, thread: str | None, idem: str | None, allow: dict[str, str],
            as_json: bool, variants: dict[str, str] | None = None, lifecycle: Lifecycle | None = None,
            images: tuple[str, ...] = (), alts: tuple[str, ...] = (),
            require_hashtags: list[str] | None = None) -> None:
    from publisher import service, timeparse
    from publisher.store import utcnow

    a = app()
    settings = a.settings
    if not accounts:
        raise InputError("no account given", hint="add --account NAME (`publisher accounts list` shows them)")
    first = settings.account(accounts[0])
    zone = timeparse.zone(tz) if tz else first.zone
    zones = [settings.accounts[x].zone for x in accounts if x in settings.accounts]  # the echo: the others' clocks too
    now = utcnow()  # the store's clock (a test fixes it with store.set_clock)
    notes: list[str] = []
    due: dict[str, datetime] = {}
    if at.strip().lower() == "next-slot":  # each account's own next free slot (its queue, README "Time slots")
        from publisher.workflows.campaigns import next_slot

        due = {name: next_slot(settings, a.store, name, now) for name in dict.fromkeys(accounts)}
        when = min(due.values())
        if len(set(due.values())) == 1:
            due = {}
    else:
        when = timeparse.parse_time(at, zone, now, notes=notes)
    until = timeparse.parse_time(not_after, zone, now, what="--not-after", notes=notes) if not_after else None
    for note in notes:
        click.echo(f"note: {note}", err=True)
    new = service.NewPost(text=text, accounts=list(dict.fromkeys(accounts)), at=when, due=due, kind=kind, link=link,
                          language=language, not_after=until, thread_key=thread, idempotency_key=idem, allow=allow,
                          variants=variants or {}, media=_attachments(images, alts), defer_slow_checks=True,
                          require_hashtags=require_hashtags or [])
    try:
        if lifecycle is None:
            result = service.accept(settings, a.post_store, new)
        else:
            from publisher.workflows import tickets

            result = tickets.accept(settings, a.post_store, new, lifecycle)
    except ToneBlocked as e:
        if as_json:
            echo_json({"error": e.message, "findings": [f.to_dict() for f in e.findings]})
        else:
            click.echo(f"blocked: {e.message}", err=True)
            _print_findings(e.findings)
        raise
    if as_json:
        echo_json({"post_id": result.post_id, "existing": result.existing, "at": when,
                   "at_local": timeparse.describe(when, zone, zones), "notes": notes,
                   "deliveries": [{k: d[k] for k in ("id", "account", "channel", "part", "state", "due_at", "prev_id")}
                                  for d in result.deliveries],
                   "findings": [f.to_dict() for f in result.findings]})
        return
    if result.existing:
        why = lifecycle.reason if lifecycle and lifecycle.reason else "same idempotency key"
        click.echo(f"already accepted as {result.post_id} ({why}); nothing new stored")
    else:
        n = len(result.deliveries)
        if due:  # each account in its own slot, on its own clock
            places = "; ".join(f"{name} at {timeparse.describe(t, settings.accounts[name].zone)}" for name, t in due.items())
            click.echo(f"scheduled {result.post_id} for {places} ({n} deliver{'y' if n == 1 else 'ies'})")
        else:
            click.echo(f"scheduled {result.post_id} for {', '.join(new.accounts)} at "
                       f"{timeparse.describe(when, zone, zones)} ({n} deliver{'y' if n == 1 else 'ies'})")
        if until is not None:
            click.echo(f"never published after {timeparse.describe(until, zone, zones)}")
        if any(d["state"] == "pending_approval" for d in result.deliveries):
            from publisher.workflows import approvals

            needed = approvals.needs_approval(settings, new.accounts)
            click.echo(f"waiting for approval ({', '.join(needed)}); nothing goes out before: an approver runs "
                       f"`publisher approve {result.post_id}`")
    warn = [f for f in result.findings if f.severity == "warn"]
    if warn:
        click.echo("warnings:", err=True)
        _print_findings(warn)


_common = [
    click.option("--account", "-a", "accounts", multiple=True, required=True, help="Account name (repeatable)."),
    click.option("--at", default="now", show_default=True,
                 help="now, +90 minutes, +2h, +1d, tomorrow 09:00, 09:00, mon 10:00, ISO with offset, local time, "
                      "or next-slot (the account's next free posting slot)."),
    click.option("--tz", default=None, help="IANA zone for a local --at (default: the account's zone)."),
    click.option("--not-after", default=None, help="Expire instead of publishing after this time."),
    click.option("--idempotency-key", "idem", default=None, help="A repeat with the same key returns the existing post."),
    click.option("--link", default=None, help="A link to append (counted as the platform counts URLs)."),
    click.option("--lang", "language", default=None, help="Language code, e.g. en, nb."),
    click.option("--variant", "variants", multiple=True, metavar="TARGET=TEXT",
                 help="Own wording for one account or channel (repeatable; an account's wins over its channel's)."),
    click.option("--allow", multiple=True, help="Override one blocking tone rule for this post (audited)."),
    click.option("--reason", default=None, help="Why the override is right (required with --allow)."),
    click.option("--json", "as_json", is_flag=True, help="Print only JSON on stdout."),
]


def common(f):  # type: ignore[no-untyped-def]
    for opt in reversed(_common):
        f = opt(f)
    return f


@click.command()
@common
@click.option("--kind", type=click.Choice([k.value for k in PostKind]), default="note", show_default=True)
@click.option("--thread", default=None, help="Thread key: posts with the same key reply to each other in order.")
@click.option("--image", "images", multiple=True, metavar="FILE",
              help="Attach an image (JPEG, PNG, GIF, WebP; repeatable, up to each platform's maximum).")
@click.option("--alt", "alts", multiple=True, metavar="TEXT",
              help="Alt text of the image at the same position (repeatable; required on organisation accounts).")
@click.option("--require-hashtag", "tags", multiple=True, metavar="TAG",
              help="A hashtag this post must carry (repeatable; a campaign's tag), on top of the profile's.")
@click.argument("text")
def post(accounts: tuple[str, ...], at: str, tz: str | None, not_after: str | None, idem: str | None,
         link: str | None, language: str | None, variants: tuple[str, ...], allow: tuple[str, ...],
         reason: str | None, as_json: bool, kind: str, thread: str | None, images: tuple[str, ...],
         alts: tuple[str, ...], tags: tuple[str, ...], text: str) -> None:
    """Schedule a post (TEXT, or - to read stdin) for one or more accounts.

    \b
    Examples:
      publisher post --account noc --at "2026-12-01 09:00" --tz Europe/Oslo "Planned maintenance tonight 22:00-23:00"
      publisher post --account andrew --at +2h --not-after 2026-12-24 "We are hiring: ..."
      publisher post -a comms-li -a comms-x --variant comms-x="Short text for X" "Longer text for the others"
      publisher post -a comms-bsky --image stage.jpg --alt "The team on stage at the launch" "We launched!"
    """
    _submit(_text(text), accounts, at, tz, not_after, PostKind(kind), link, language, thread, idem,
            _allow(allow, reason), as_json, _variants(variants), images=images, alts=alts,
            require_hashtags=list(tags))


@click.group()
def ticket() -> None:
    """Trouble-ticket updates, threaded under the ticket's first post, in order, each published once.

    A ticket is opened once per account; update and resolve need it open (or --open-if-missing); an update after
    resolve needs --reopen; a second resolve is refused (exit 2) naming the first. The same open, resolve, or
    update (within --repeat-window) again answers with the existing post (exit 0). Unknown ticket: exit 5.

    \b
    Examples:
      publisher ticket open INC-4711 --account noc "Fibre cut Oslo-Stockholm, traffic rerouted, latency +8 ms"
      publisher ticket update INC-4711 --account noc --update-id 2 "Splice crew on site, ETA 14:00 CET"
      publisher ticket resolve INC-4711 --account noc "Repaired 13:41 CET, primary path restored"
      publisher ticket update INC-4711 --account noc --reopen "Link flapping again, crew back on site"
    """


def _ticket_cmd(action: str) -> click.Command:
    @click.command(name=action, help=f"{action.capitalize()} a ticket thread post.\n\n\b\nExample:\n  publisher ticket {action} INC-4711 --account noc \"...\"")
    @common
    @click.option("--update-id", default=None, help="The source's id for this update; a repeat publishes once.")
    @click.argument("ticket_id")
    @click.argument("text")
    def cmd(accounts: tuple[str, ...], at: str, tz: str | None, not_after: str | None, idem: str | None,
            link: str | None, language: str | None, variants: tuple[str, ...], allow: tuple[str, ...],
            reason: str | None, as_json: bool, update_id: str | None, ticket_id: str, text: str,
            open_if_missing: bool = False, reopen: bool = False, repeat_window: int = 600) -> None:
        from publisher.workflows.tickets import Lifecycle

        if not _TICKET.match(ticket_id):
            raise InputError(f"invalid ticket id {ticket_id!r}", hint="use letters, digits and . _ : - (e.g. INC-4711)")
        body = TICKET_TEMPLATES[action].format(ticket=ticket_id, text=_text(text))
        key = idem
        if key is None and update_id:
            key = f"ticket:{ticket_id}:{action}:{update_id}"
        own = _variants(variants, TICKET_TEMPLATES[action].replace("{ticket}", ticket_id))
        window = timedelta(seconds=repeat_window) if repeat_window else None
        lifecycle = Lifecycle(ticket_id, action, open_if_missing=open_if_missing, reopen=reopen, repeat_window=window)
        _submit(body, accounts, at, tz, not_after, PostKind.TICKET, link, language, None, key,
                _allow(allow, reason), as_json, own, lifecycle)

    if action != "open":
        cmd = click.option("--open-if-missing", is_flag=True,
                           help="Open the ticket with this post where it was never opened (else exit 5).")(cmd)
    if action == "update":
        cmd = click.option("--reopen", is_flag=True, help="Reopen a resolved ticket with this update (audited).")(cmd)
        cmd = click.option("--repeat-window", type=click.IntRange(min=0), default=600, show_default=True,
                           metavar="SECONDS", help="The same update (accounts, text) again within this time answers "
                                                   "with the first instead of posting twice; 0: off.")(cmd)
    return cmd


for _action in TICKET_TEMPLATES:
    ticket.add_command(_ticket_cmd(_action))


@click.command()
@click.argument("ident")
@click.option("--json", "as_json", is_flag=True, help="Print only JSON on stdout.")
def cancel(ident: str, as_json: bool) -> None:
    """Cancel a post (all its deliveries) or one delivery, if not yet published.

    \b
    Example:
      publisher cancel p-1a2319248004f1c9e2b7a6d
    """
    from publisher import service

    ids = service.cancel(app().settings, app().store, ident)
    echo_json({"cancelled": ids}) if as_json else click.echo(f"cancelled {', '.join(ids)}")


def _decided(verb: str, out: Any, as_json: bool) -> None:
    if as_json:
        echo_json({verb: [{"post_id": p, "account": a} for p, a in out.decided],
                   "already": [{"post_id": p, "account": a} for p, a in out.already],
                   "deliveries": out.moved, "waiting": out.waiting})
        return
    for p, a in out.decided:
        click.echo(f"{verb} {p} on {a}")
    for p, a in out.already:
        click.echo(f"{p} on {a} was already {verb}; nothing changed")
    if out.moved:
        done = "scheduled for their time" if verb == "approved" else "cancelled"
        click.echo(f"{len(out.moved)} deliver{'y' if len(out.moved) == 1 else 'ies'} {done}: {', '.join(out.moved)}")
    for p, missing in out.waiting.items():
        click.echo(f"{p} still waits for approval on {', '.join(missing)}: nothing of it goes out before")


@click.command()
@click.argument("ids", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print only JSON on stdout.")
def approve(ids: tuple[str, ...], as_json: bool) -> None:
    """Approve posts (or one account's deliveries) waiting for approval; the author cannot approve their own post.

    A post to several accounts goes out only once every account with `approvers:` approved it. Approving again
    is not an error. All ids are checked before any is approved.

    \b
    Example:
      publisher list --state pending_approval
      publisher approve p-1a2319248004f1c9e2b7a6d p-1a2319248004f1c9e2b7a6e
    """
    from publisher.workflows import approvals

    _decided("approved", approvals.approve(app().settings, app().store, list(ids)), as_json)


@click.command()
@click.argument("ids", nargs=-1, required=True)
@click.option("--reason", required=True, help="Why (recorded in the audit log and shown on the post).")
@click.option("--json", "as_json", is_flag=True, help="Print only JSON on stdout.")
def reject(ids: tuple[str, ...], reason: str, as_json: bool) -> None:
    """Reject posts waiting for approval: every delivery still waiting is cancelled, with the reason (audited).

    \b
    Example:
      publisher reject p-1a2319248004f1c9e2b7a6d --reason "wrong date: the event moved to Tuesday"
    """
    from publisher.workflows import approvals

    _decided("rejected", approvals.reject(app().settings, app().store, list(ids), None, reason), as_json)


@click.command()
@click.argument("ident")
@click.option("--json", "as_json", is_flag=True, help="Print only JSON on stdout.")
def retry(ident: str, as_json: bool) -> None:
    """Send a failed, held or unknown delivery again now (for unknown: after you checked it is not published).

    \b
    Example:
      publisher retry d-1a23192480052d8e7f1c3b9
    """
    from publisher import service

    ids = service.retry(app().settings, app().store, ident)
    echo_json({"retried": ids}) if as_json else click.echo(f"rescheduled {', '.join(ids)} for now")
