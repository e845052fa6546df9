"""Vacancies: a job post that is never published after its closing date, with reminders before it.

A vacancy is the thread ``vacancy:<ID>``: its post, then one reminder per offset (``7d``, ``1d``: that many
calendar days before the closing date, at ``remind_at`` in the account's zone; ``12h``: that many hours before the
close), each a reply in the thread and each with the same ``not_after``: the end of the closing date in the
account's zone. The scheduler and the worker expire anything still waiting then, in any state. Every post of a
vacancy has the idempotency key ``vacancy:<ID>:<part>``, so posting the same vacancy (``vacancy_id``) again
answers with what is stored. ``filled`` cancels everything of it not yet published (audited, with the reason) and
can announce the fill in the thread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from publisher import service, timeparse
from publisher.errors import InputError, InvalidState, NotFound
from publisher.models import CANCELLABLE, PostKind, State
from publisher.schema import deliveries, posts
from publisher.settings import Settings
from publisher.store import Store, Transition, new_id, transitions, utcnow

_OFFSET = re.compile(r"(\d{1,4})([hdw])")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,63}")
REMINDER = "Reminder: applications close {closes}. {text}"


def thread_key(vacancy_id: str) -> str:
    return f"vacancy:{vacancy_id}"


@dataclass
class NewVacancy:
    text: str
    accounts: list[str]
    closes: date
    remind: list[str] = field(default_factory=list)  # offsets before closing: 7d, 1d, 12h, 2w
    at: datetime | None = None  # when the vacancy itself goes out (default: now)
    remind_at: str = "09:00"  # the local time of day of day-offset reminders
    vacancy_id: str | None = None
    reminder_text: str = REMINDER


@dataclass
class Posted:
    vacancy_id: str
    not_after: datetime
    posts: list[tuple[str, datetime, str]]  # (label, time, post id)
    skipped: list[str]  # reminders whose time has passed
    existing: bool


def closing_end(closes: date, settings: Settings, accounts: list[str]) -> datetime:
    """The last instant of the closing date: the earliest end of that day across the accounts' zones (an account in
    an earlier zone closes first; no copy goes out after the day ended where it is read)."""
    ends = []
    for name in accounts:
        tz = settings.account(name).zone
        ends.append(datetime.combine(closes + timedelta(days=1), time(0, 0), tzinfo=tz).astimezone(UTC)
                    - timedelta(seconds=1))
    return min(ends)


def parse_offsets(raw: str) -> list[str]:
    out = []
    for item in (x.strip().lower() for x in raw.split(",") if x.strip()):
        if not _OFFSET.fullmatch(item):
            raise InputError(f"--remind {item!r} is not an offset before the closing date",
                             hint="give a comma-separated list such as 7d,1d (days), 2w (weeks) or 12h (hours)")
        out.append(item)
    return list(dict.fromkeys(out))


def reminder_time(offset: str, closes: date, not_after: datetime, settings: Settings, account: str,
                  remind_at: str) -> datetime:
    m = _OFFSET.fullmatch(offset)
    assert m is not None  # parse_offsets checked it
    n, unit = int(m.group(1)), m.group(2)
    if unit == "h":
        return not_after - timedelta(hours=n)
    tz = settings.account(account).zone
    day = closes - timedelta(days=n * (7 if unit == "w" else 1))
    return timeparse.parse_time(f"{day:%Y-%m-%d} {remind_at}", tz, allow_past=True, what="--remind-at")


def post(settings: Settings, store: Store, new: NewVacancy) -> Posted:
    """Store the vacancy and its reminders. Every post is rendered and tone-checked before any is stored."""
    if not new.accounts:
        raise InputError("no account given", hint="add --account NAME (`publisher accounts list` shows them)")
    if new.vacancy_id is not None and not _ID.fullmatch(new.vacancy_id):
        raise InputError(f"invalid vacancy id {new.vacancy_id!r}", hint="use letters, digits and . _ - (e.g. NE-OSLO-7)")
    now = utcnow()
    at = new.at or now
    not_after = closing_end(new.closes, settings, new.accounts)
    if not_after <= at:
        raise InputError(f"the closing date {new.closes} has passed (or is before the post's time)",
                         hint="give a closing date after the publish time, e.g. --closes 2027-01-31")
    vid = new.vacancy_id or new_id("v")
    key = thread_key(vid)
    closes_text = f"{new.closes:%d %B %Y}"
    plan: list[tuple[str, service.NewPost]] = [("vacancy", service.NewPost(
        text=new.text, accounts=new.accounts, at=at, kind=PostKind.VACANCY, not_after=not_after, thread_key=key,
        idempotency_key=f"{key}:post"))]
    skipped = []
    for offset in new.remind:
        when = reminder_time(offset, new.closes, not_after, settings, new.accounts[0], new.remind_at)
        if when <= at or when >= not_after:
            skipped.append(offset)
            continue
        text = new.reminder_text.format(closes=closes_text, text=new.text)
        plan.append((f"reminder {offset}", service.NewPost(
            text=text, accounts=new.accounts, at=when, kind=PostKind.VACANCY, not_after=not_after, thread_key=key,
            idempotency_key=f"{key}:remind:{offset}")))
    for _label, p in plan:  # all checked first: a reminder that fails the tone check stores nothing
        service.render_and_check(settings, p)
    stored = []
    existing = True
    for label, p in sorted(plan, key=lambda lp: lp[1].at):
        result = service.accept(settings, store, p)
        existing = existing and result.existing
        stored.append((label, p.at, result.post_id))
    return Posted(vid, not_after, stored, skipped, existing)


def _rows(conn: Any, vacancy_id: str) -> list[dict[str, Any]]:
    q = (select(deliveries, posts.c.kind, posts.c.created_by)
         .join(posts, posts.c.id == deliveries.c.post_id)
         .where(posts.c.thread_key == thread_key(vacancy_id)).order_by(posts.c.thread_seq, deliveries.c.account))
    return [dict(r) for r in conn.execute(q).mappings()]


@dataclass
class Filled:
    cancelled: list[str]
    published: list[str]
    announcement: str | None


def filled(settings: Settings, store: Store, vacancy_id: str, announce: str | None = None) -> Filled:
    """Cancel everything of the vacancy not yet published (audited), then post the announcement, if any, in its
    thread (no closing time: it says the vacancy is closed)."""
    with store.read() as conn:
        rows = _rows(conn, vacancy_id)
    if not rows:
        raise NotFound(f"no vacancy {vacancy_id!r}", hint="`publisher vacancy list` shows them")
    for d in rows:
        service.may_change(settings, {"created_by": d["created_by"]}, d, "cancel")
    with store.tx() as conn:
        rows = _rows(conn, vacancy_id)  # again under the write lock: each state is exact, and so is its audit
        pending = [d for d in rows if State(d["state"]) in CANCELLABLE]
        moved = transitions(conn, settings.actor, [Transition(
            d, [State(d["state"])], State.CANCELLED, "cancelled", values={"last_error": "vacancy filled"},
            details={"by": settings.actor, "reason": "vacancy filled", "vacancy": vacancy_id}) for d in pending])
    cancelled = [d["id"] for d, ok in zip(pending, moved, strict=True) if ok]
    published = [d["id"] for d in rows if d["state"] == State.PUBLISHED.value]
    if not cancelled and not announce:
        raise InvalidState(f"nothing to cancel: every post of vacancy {vacancy_id} is published, cancelled or "
                           "expired", hint="add --announce TEXT to announce the fill")
    post_id = None
    if announce:
        accounts = sorted({d["account"] for d in rows})
        post_id = service.accept(settings, store, service.NewPost(
            text=announce, accounts=accounts, at=utcnow(), kind=PostKind.VACANCY, thread_key=thread_key(vacancy_id),
            idempotency_key=f"{thread_key(vacancy_id)}:filled")).post_id
    return Filled(cancelled, published, post_id)


def listing(store: Store) -> list[dict[str, Any]]:
    """Every vacancy: id, accounts, closing time, and its deliveries counted by state."""
    q = (select(posts.c.thread_key, posts.c.not_after, posts.c.text, posts.c.thread_seq, deliveries.c.account,
                deliveries.c.state)
         .join(deliveries, deliveries.c.post_id == posts.c.id)
         .where(posts.c.thread_key.like("vacancy:%")).order_by(posts.c.created_at))
    out: dict[str, dict[str, Any]] = {}
    with store.read() as conn:
        for r in conn.execute(q).mappings():
            vid = r["thread_key"].split(":", 1)[1]
            v = out.setdefault(vid, {"vacancy": vid, "closes": None, "text": r["text"], "accounts": set(), "states": {}})
            if r["thread_seq"] == 1:
                v["closes"], v["text"] = r["not_after"], r["text"]
            v["accounts"].add(r["account"])
            v["states"][r["state"]] = v["states"].get(r["state"], 0) + 1
    return [{**v, "accounts": sorted(v["accounts"])} for v in out.values()]
