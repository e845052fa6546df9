"""A ticket's lifecycle: open, updates, resolve, and reopen, judged per account of the ticket's thread.

A ticket is known on an account once a post of its thread (``ticket:<ID>``) went to that account; it is resolved
there from its ``ticket.resolved`` audit event until a ``ticket.reopened`` one. The rules (README "Tickets"):

- open: a ticket already known on an account is an error naming the post that opened it, unless this is the same
  open again (same accounts and text), which answers with that post.
- update, resolve: an account the ticket is unknown on is ``NotFound`` (exit 5), unless ``open_if_missing``, when
  this post opens the ticket there.
- update after resolve needs ``reopen`` (recorded as ``ticket.reopened``); without it, an error.
- a second resolve is an error naming the first (its post id and time), unless it is the same resolve again.
- an update without its own idempotency key that repeats one of the ticket's updates (same accounts, same text but
  for whitespace) made less than ``repeat_window`` ago answers with that update.

Every rule is judged by ``Lifecycle`` as the post's ``service.Guard``: again inside the write transaction that
stores the post, so two concurrent calls can never both pass it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from publisher import audit, rawsql, service
from publisher.errors import InputError, NotFound
from publisher.models import PostKind
from publisher.settings import Settings
from publisher.store import Store, utcnow

if TYPE_CHECKING:
    from sqlalchemy import Connection

REPEAT_WINDOW = timedelta(minutes=10)
#: the audit event each step records per account (with ``ticket.reopened`` before an update that reopens)
EVENT = {"open": "ticket.opened", "update": "ticket.updated", "resolve": "ticket.resolved"}
_EVENTS = (*EVENT.values(), "ticket.reopened")


class LifecycleError(InputError):
    """The ticket's lifecycle does not allow this step (exit 2); nothing was stored."""


def thread_key(ticket: str) -> str:
    return f"ticket:{ticket}"


def same_text(a: str, b: str) -> bool:
    return a.split() == b.split()


@dataclass
class _Post:
    id: str
    text: str
    created_at: datetime
    accounts: frozenset[str] = frozenset()
    actions: set[str] = field(default_factory=set)


@dataclass
class _Account:
    first: _Post
    resolved: _Post | None = None


def _history(conn: Connection, key: str) -> tuple[list[_Post], dict[str, _Account]]:
    """The thread's posts in order, and the ticket's state on every account it is known on."""
    d = rawsql.dialect_of(conn)
    as_time = dict(d.readers("posts"))["created_at"]
    rows = rawsql.fetch_all(conn, f"SELECT id, text, created_at FROM posts WHERE thread_key = {d.placeholder} "
                                  "ORDER BY thread_seq", (key,))
    found = [_Post(r[0], r[1], as_time(r[2])) for r in rows]
    by_id = {p.id: p for p in found}
    if not found:
        return [], {}
    accounts: dict[str, set[str]] = {}
    cond, params = rawsql.in_(d, "post_id", list(by_id))
    for post_id, account in rawsql.fetch_all(conn, f"SELECT DISTINCT post_id, account FROM deliveries WHERE {cond}",
                                             params):
        accounts.setdefault(post_id, set()).add(account)
    state: dict[str, _Account] = {}
    for p in found:
        p.accounts = frozenset(accounts.get(p.id, ()))
        for name in p.accounts:
            state.setdefault(name, _Account(first=p))
    by_post, params = rawsql.in_(d, "post_id", list(by_id))
    by_action, more = rawsql.in_(d, "action", list(_EVENTS))
    events = rawsql.fetch_all(conn, f"SELECT action, post_id, account FROM audit_events WHERE {by_post} AND "
                                    f"{by_action} ORDER BY seq", [*params, *more])
    for action, post_id, account in events:
        post = by_id[post_id]
        post.actions.add(action)
        if account in state and action == "ticket.resolved":
            state[account].resolved = post
        elif account in state and action == "ticket.reopened":
            state[account].resolved = None
    return found, state


def _when(post: _Post) -> str:
    return post.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


@dataclass
class Lifecycle:
    """The lifecycle rules for one step of a ticket (a ``service.Guard``; ``accept`` fills in text and accounts).
    After ``accept`` answered with an existing post, ``reason`` says why."""

    ticket: str
    action: str
    open_if_missing: bool = False
    reopen: bool = False
    #: an update repeated within this time answers with the first; None: not checked (the post has its own key)
    repeat_window: timedelta | None = REPEAT_WINDOW
    now: Callable[[], datetime] = utcnow
    text: str = ""
    accounts: list[str] = field(default_factory=list)
    reason: str = ""

    def __call__(self, conn: Connection) -> str | list[audit.Event]:
        found, state = _history(conn, thread_key(self.ticket))
        repeat = self._repeat(found, state)
        if repeat is not None:
            return repeat
        unknown = [a for a in self.accounts if a not in state]
        if unknown and self.action != "open" and not self.open_if_missing:
            raise NotFound(f"ticket {self.ticket} was never opened on {', '.join(unknown)}; nothing was stored",
                           hint=f"open it first (`publisher ticket open {self.ticket} ...`), or add --open-if-missing "
                                f"to let this {self.action} open it")
        events: list[audit.Event] = []
        for name in self.accounts:
            events.extend(self._step(name, state.get(name)))
        return events

    def _step(self, name: str, known: _Account | None) -> list[audit.Event]:
        """This step's audit events on account ``name``, or the error that refuses it."""
        details = {"ticket": self.ticket}
        if known is None:
            opened = audit.Event(EVENT["open"], account=name, details={**details, "by": self.action})
            return [opened] if self.action == "open" else [opened, audit.Event(EVENT[self.action], account=name,
                                                                               details=details)]
        if self.action == "open":
            raise LifecycleError(
                f"ticket {self.ticket} is already open on {name}: {known.first.id} at {_when(known.first)}; "
                "this open was not stored", hint=f"post to it with `publisher ticket update {self.ticket} ...`")
        if known.resolved is None:
            return [audit.Event(EVENT[self.action], account=name, details=details)]
        first = f"{known.resolved.id} at {_when(known.resolved)}"
        if self.action == "resolve":
            raise LifecycleError(
                f"ticket {self.ticket} is already resolved on {name}: {first}; this resolve was not stored",
                hint=f"`publisher show {known.resolved.id}` shows it; to post again, "
                     f"`publisher ticket update {self.ticket} --reopen ...`, then resolve")
        if not self.reopen:
            raise LifecycleError(f"ticket {self.ticket} was resolved on {name}: {first}; this update was not stored",
                                 hint="add --reopen to reopen the ticket with this update")
        return [audit.Event("ticket.reopened", account=name, details={**details, "resolved_by": known.resolved.id}),
                audit.Event(EVENT["update"], account=name, details=details)]

    def _repeat(self, found: list[_Post], state: dict[str, _Account]) -> str | None:
        """The existing post this step repeats (same accounts, same text but for whitespace): the ticket's open, its
        current resolve, or one of its updates made less than ``repeat_window`` ago."""
        scope = frozenset(self.accounts)

        def same(p: _Post | None) -> bool:
            return p is not None and p.accounts == scope and same_text(p.text, self.text)

        if self.action == "update":
            if self.repeat_window is None:
                return None
            since = self.now() - self.repeat_window
            for p in reversed(found):
                if p.created_at > since and EVENT["update"] in p.actions and same(p):
                    self.reason = f"the same update of {self.ticket} less than {_span(self.repeat_window)} ago"
                    return p.id
            return None
        steps = [(known.first if self.action == "open" else known.resolved) if (known := state.get(a)) else None
                 for a in self.accounts]
        step = steps[0]
        if step is not None and all(s is step for s in steps) and same(step):
            self.reason = f"the same {self.action} of {self.ticket}"
            return step.id
        return None


def _span(window: timedelta) -> str:
    seconds = int(window.total_seconds())
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"


def accept(settings: Settings, store: Store, new: service.NewPost, lifecycle: Lifecycle) -> service.Accepted:
    """Accept ``new`` as ``lifecycle``'s step of its ticket: threaded under ``ticket:<ID>``, stored only if the
    lifecycle allows it (judged in the transaction that stores it), or answered with the post it repeats."""
    lifecycle.text, lifecycle.accounts = new.text, list(new.accounts)
    if new.idempotency_key:
        lifecycle.repeat_window = None  # the source names its updates: only the key says what is a repeat
    new.kind, new.thread_key, new.guard = PostKind.TICKET, thread_key(lifecycle.ticket), lifecycle
    return service.accept(settings, store, new)
