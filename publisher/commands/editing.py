"""edit: change the text, the time or one account's wording of a post (or one delivery) not yet published."""

from __future__ import annotations

import click

from publisher.commands import app, echo, echo_json

_BUSY = {"publishing": "already being published", "reconciling": "being looked up at the platform",
         "unknown": "its outcome is unknown (it may be published)", "published": "already published",
         "cancelled": "cancelled", "expired": "expired", "failed": "failed (use `publisher retry`)"}


@click.command()
@click.argument("ident")
@click.option("--text", default=None, help="New text (for a delivery id: that account's own wording).")
@click.option("--at", default=None, help="New time: now, +2h, tomorrow 09:00, mon 10:00, ISO or local time.")
@click.option("--tz", default=None, help="IANA zone for a local --at (default: the account's zone).")
@click.option("--variant", "variants", multiple=True, metavar="ACCOUNT=TEXT", help="New wording for one account.")
@click.option("--json", "as_json", is_flag=True, help="Print only JSON on stdout.")
def edit(ident: str, text: str | None, at: str | None, tz: str | None, variants: tuple[str, ...],
         as_json: bool) -> None:
    """Edit or reschedule a post (every delivery not yet published) or one delivery: re-rendered, re-checked
    (too long: exit 2; tone: exit 3; nothing changed), audited. A delivery a worker is publishing at that moment
    is not changed, and said so. A new text on a post that needs approval goes back to approval.

    \b
    Examples:
      publisher edit p-1a2319248004f1c9e2b7a6d --at "mon 10:00"
      publisher edit p-1a2319248004f1c9e2b7a6d --text "Doors open at 08:30" --variant comms-x="Doors 08:30"
      publisher edit d-1a23192480052d8e7f1c3b9 --text "Shorter wording for this account only"
    """
    from publisher import timeparse
    from publisher.commands.posting import _print_findings, _text, _variants
    from publisher.errors import ToneBlocked
    from publisher.store import utcnow
    from publisher.workflows import edits

    a = app()
    settings = a.settings
    new_text = _text(text) if text is not None else None
    when = None
    zones = edits.zones_of(settings, a.store, ident)
    zone = timeparse.zone(tz) if tz else zones[0]
    if at is not None:
        notes: list[str] = []
        when = timeparse.parse_time(at, zone, utcnow(), notes=notes)
        for note in notes:
            click.echo(f"note: {note}", err=True)
    try:
        result = edits.edit(settings, a.store, ident, edits.Edit(text=new_text, at=when, variants=_variants(variants)))
    except ToneBlocked as e:  # as `post` does: which rule refused the new text, and where
        if as_json:
            echo_json({"error": e.message, "findings": [f.to_dict() for f in e.findings]})
        else:
            click.echo(f"blocked: {e.message}", err=True)
            _print_findings(e.findings)
        raise
    if as_json:
        echo_json({"post_id": result.post_id, "changed": result.changed, "refused": result.refused,
                   "at": when, "to_approval": result.to_approval})
    else:
        what = ", ".join(x for x, on in (("text", new_text is not None or variants), ("time", when)) if on)
        echo(f"edited {', '.join(result.changed)} ({what})")
        if when is not None:
            echo(f"  now scheduled for {timeparse.describe(when, zone, zones)}")
        if result.to_approval:
            echo(f"  the text changed: waiting for approval again (`publisher approve {result.post_id}`)")
    for i, state in result.refused.items():
        click.echo(f"not changed: {i} is {state}: {_BUSY.get(state, state)}", err=True)
