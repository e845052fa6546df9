"""vacancy post | filled | list."""

from __future__ import annotations

from datetime import date

import click

from publisher.commands import app, echo, echo_json
from publisher.errors import InputError


@click.group()
def vacancy() -> None:
    """Job vacancies: never published after the closing date (in any state), reminders before it, and one command
    when the position is filled.

    \b
    Examples:
      publisher vacancy post --account jobs --closes 2027-01-31 --remind 7d,1d "Network engineer, Oslo: https://..."
      publisher vacancy list
      publisher vacancy filled v-1a2319248004f1c9e2b7a6d --announce "The position is filled, thank you!"
    """


@vacancy.command(name="post")
@click.option("--account", "-a", "accounts", multiple=True, required=True, help="Account name (repeatable).")
@click.option("--closes", required=True, metavar="YYYY-MM-DD",
              help="The closing date: nothing of the vacancy is published after this day ends in the account's zone.")
@click.option("--remind", default="", metavar="OFFSETS",
              help="Reminders before the closing date, e.g. 7d,1d (days), 2w (weeks), 12h (hours before the close).")
@click.option("--remind-at", default="09:00", show_default=True, metavar="HH:MM",
              help="Local time of day of day and week reminders.")
@click.option("--at", default="now", show_default=True, help="When the vacancy goes out (as for `publisher post`).")
@click.option("--id", "vacancy_id", default=None,
              help="Your id for this vacancy (default: a new one); posting the same id again changes nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print only JSON on stdout.")
@click.argument("text")
def post_cmd(accounts: tuple[str, ...], closes: str, remind: str, remind_at: str, at: str, vacancy_id: str | None,
             as_json: bool, text: str) -> None:
    """Post a vacancy (TEXT, or - to read stdin) with reminders before its closing date.

    \b
    Example:
      publisher vacancy post --account jobs --closes 2027-01-31 --remind 7d,1d "Network engineer, Oslo: https://..."
    """
    from publisher import timeparse
    from publisher.commands.posting import _text
    from publisher.store import utcnow
    from publisher.workflows import vacancies

    a = app()
    try:
        closing = date.fromisoformat(closes)
    except ValueError:
        raise InputError(f"--closes {closes!r} is not a date", hint="give it as YYYY-MM-DD, e.g. 2027-01-31") from None
    names = list(dict.fromkeys(accounts))
    zone = a.settings.account(names[0]).zone
    notes: list[str] = []
    when = timeparse.parse_time(at, zone, utcnow(), notes=notes)
    timeparse.parse_time(f"2000-01-03 {remind_at}", zone, allow_past=True, what="--remind-at")  # HH:MM, checked early
    for note in notes:
        click.echo(f"note: {note}", err=True)
    result = vacancies.post(a.settings, a.store, vacancies.NewVacancy(
        text=_text(text), accounts=names, closes=closing, remind=vacancies.parse_offsets(remind), at=when,
        remind_at=remind_at, vacancy_id=vacancy_id))
    if as_json:
        echo_json({"vacancy": result.vacancy_id, "not_after": result.not_after, "existing": result.existing,
                   "posts": [{"what": w, "at": t, "post_id": p} for w, t, p in result.posts],
                   "skipped": result.skipped})
        return
    verb = "already posted" if result.existing else "posted"
    echo(f"vacancy {result.vacancy_id} {verb}; never published after {timeparse.describe(result.not_after, zone)}")
    for what, t, post_id in result.posts:
        echo(f"  {what:14} {post_id} at {timeparse.describe(t, zone)}")
    if result.skipped:
        echo(f"  reminders not posted (their time has passed or is after the close): {', '.join(result.skipped)}")


@vacancy.command(name="filled")
@click.argument("vacancy_id")
@click.option("--announce", default=None, help="Announce the fill in the vacancy's thread, on its accounts.")
@click.option("--json", "as_json", is_flag=True, help="Print only JSON on stdout.")
def filled_cmd(vacancy_id: str, announce: str | None, as_json: bool) -> None:
    """The position is filled: cancel everything of the vacancy not yet published, and optionally announce it.

    \b
    Example:
      publisher vacancy filled ne-oslo --announce "The position is filled, thank you!"
    """
    from publisher.workflows import vacancies

    if announce is not None and not announce.strip():
        raise InputError("--announce is empty", hint='give the text, e.g. --announce "The position is filled!"')
    a = app()
    result = vacancies.filled(a.settings, a.store, vacancy_id, announce.strip() if announce else None)
    if as_json:
        echo_json({"cancelled": result.cancelled, "published": result.published, "announcement": result.announcement})
        return
    echo(f"vacancy {vacancy_id} filled: cancelled {len(result.cancelled)} deliver"
         f"{'y' if len(result.cancelled) == 1 else 'ies'}" + (f" ({', '.join(result.cancelled)})" if result.cancelled else ""))
    if result.published:
        echo(f"  already published (left as they are): {', '.join(result.published)}")
    if result.announcement:
        echo(f"  announcement scheduled as {result.announcement}")


@vacancy.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print only JSON on stdout.")
def list_cmd(as_json: bool) -> None:
    """Every vacancy, its accounts, closing time and its deliveries by state.

    \b
    Example:
      publisher vacancy list --json
    """
    from publisher.commands import fmt_time
    from publisher.workflows import vacancies

    rows = vacancies.listing(app().store)
    if as_json:
        echo_json(rows)
        return
    if not rows:
        echo("no vacancies")
    for v in rows:
        states = ", ".join(f"{n} {s}" for s, n in sorted(v["states"].items()))
        text = v["text"] if len(v["text"]) <= 50 else v["text"][:49] + "…"
        echo(f"{v['vacancy']}  closes {fmt_time(v['closes'])}  {','.join(v['accounts'])}  [{states}]  {text}")
