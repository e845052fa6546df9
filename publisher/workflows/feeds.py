"""Blog announcements: every new entry of a feed announced once, in order, never the back catalogue by accident.

Rules (README "Feeds"):

- **Identity**: an entry is its guid/id, else its link, else ``sha256:`` of its title and link. An entry seen once
  (a ``feed_entries`` row) is never announced again: an edit (a new ``updated``) keeps its identity, and an entry
  that vanishes from the feed and reappears finds its row still there (rows are kept as long as the feed).
- **Exactly once**: each announcement's post (``service.insert``, idempotency key ``feed:NAME:KEY``) and its
  ``feed_entries`` row are written in one transaction, after checking the row is still absent. A crash before the
  commit leaves neither (the next poll announces it); after, both (the next poll skips it). Two schedulers polling
  the same feed (a lease that expired) cannot both write the row.
- **First poll seeds**: the entries present when a feed is added are marked seen (``seeded``), except the newest
  ``backfill`` N, which are announced.
- **Order and pace**: new entries go out oldest first (by date; undated ones after the dated, in reverse document
  order, since feeds list newest first); the first ``max_per_poll`` now, each further one ``spacing`` seconds
  after the previous (scheduled posts, recorded at once, so a 304 on the next poll loses nothing).
- **Dates**: an entry dated more than ``FUTURE_SKEW`` ahead is announced at its date (a scheduled post); an
  undated entry is announced when first seen.
- **Fetching**: conditional GET; a permanent redirect moves the stored URL (audited ``feed.redirected``); 410
  disables the feed with the reason (``feed.disabled``); other errors back off (interval x 2^failures, at most
  ``MAX_BACKOFF``) and stay visible (``feed show``: last error, next poll), audited ``feed.poll_failed``.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, or_, select, update

from publisher import audit, channels, service, textinput
from publisher.errors import InputError, NotFound, PublisherError
from publisher.feeds import fetch as fetching
from publisher.feeds import parse as parsing
from publisher.models import PostKind
from publisher.schema import feed_entries, feeds
from publisher.settings import Settings
from publisher.store import Store, lock_keys, utcnow
from publisher.workflows import templates

log = logging.getLogger("publisher.feeds")

FUTURE_SKEW = timedelta(minutes=5)
MAX_BACKOFF = timedelta(hours=24)
_NAME = re.compile(r"^[a-z0-9][a-z0-9._\-]{0,63}$")
#: test hook: when set to a file path, a poll that has fetched and parsed new entries writes that file and waits
#: there (before any commit), so a test can SIGKILL the scheduler between fetching and committing
PAUSE_ENV = "PUBLISHER_TEST_FEED_PAUSE"


@dataclass
class FeedSpec:
    name: str
    url: str
    accounts: list[str]
    template: str
    templates: dict[str, str] = field(default_factory=dict)
    interval: int = 900
    max_per_poll: int = 3
    spacing: int = 600
    backfill: int = 0


@dataclass
class Announcement:
    entry: parsing.Entry
    at: datetime
    texts: dict[str, str]  # account -> rendered text
    post_id: str | None = None
    problem: str | None = None  # tone block or too long: not announced


@dataclass
class PollResult:
    feed: str
    status: str  # "new" | "not_modified" | "unchanged" | "error" | "disabled" | "seeded"
    announced: list[Announcement] = field(default_factory=list)
    seeded: int = 0
    error: str | None = None
    bozo: str | None = None


# -- definitions --


def check_spec(settings: Settings, spec: FeedSpec) -> None:
    """Raise InputError (exit 2) naming what is wrong; NotFound (exit 5) for an unknown account."""
    if not _NAME.fullmatch(spec.name):
        raise InputError(f"feed name {spec.name[:80]!r} is not valid",
                         hint="use lower-case letters, digits, '.', '_' or '-' (at most 64), e.g. andrews-blog")
    try:
        fetching.check_scheme(spec.url)
    except fetching.FetchError as e:
        raise InputError(str(e), hint="give the feed's http:// or https:// URL") from None
    if not spec.accounts:
        raise InputError("no account given", hint="add --account NAME (`publisher accounts list` shows them)")
    targets: set[str] = set()
    for name in spec.accounts:
        account = settings.account(name)
        service.check_permitted(account, settings.actor)  # whoever adds the feed must be a poster of its accounts
        targets |= {name, account.channel}
    templates.validate(spec.template, "--template")
    for target, text in spec.templates.items():
        if target not in targets:
            raise InputError(f"--template-for names {target!r}, which is neither an account of this feed nor the "
                             "channel of one", hint=f"use one of: {', '.join(sorted(targets))}")
        templates.validate(text, f"--template-for {target}")
    for what, value, least in (("--interval", spec.interval, 1), ("--max-per-poll", spec.max_per_poll, 1),
                               ("--spacing", spec.spacing, 0), ("--backfill", spec.backfill, 0)):
        if value < least:
            raise InputError(f"{what} must be at least {least}, not {value}", hint=f"give {what} {max(least, 1)} or more")


def _row(spec: FeedSpec, source: str, now: datetime) -> dict[str, Any]:
    return dict(name=spec.name, url=spec.url, accounts=list(spec.accounts), template=spec.template,
                templates=dict(spec.templates), interval_seconds=spec.interval, max_per_poll=spec.max_per_poll,
                spacing_seconds=spec.spacing, source=source, state="active", disabled_reason=None,
                backfill=spec.backfill, failures=0, next_poll=now, created_at=now, updated_at=now)


_DEFINITION = ("url", "accounts", "template", "templates", "interval_seconds", "max_per_poll", "spacing_seconds")


def _definition(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in _DEFINITION}


def add(settings: Settings, store: Store, spec: FeedSpec, source: str = "cli") -> dict[str, Any]:
    check_spec(settings, spec)
    now = utcnow()
    row = _row(spec, source, now)
    with store.tx() as conn:
        existing = get(conn, spec.name)
        if existing:
            raise InputError(f"feed {spec.name!r} already exists ({existing['url']})",
                             hint=f"pick another name, or `publisher feed remove {spec.name}` first")
        conn.execute(feeds.insert().values(row))
        audit.append(conn, settings.actor, [audit.Event("feed.added", details={
            "feed": spec.name, "source": source, "backfill": spec.backfill, **_definition(row)})], at=now)
    return row


def config_problems(settings: Settings) -> list[tuple[str, PublisherError]]:
    """What is wrong with the config's ``feeds:`` (for ``publisher config check``): (feed name, the error)."""
    problems = []
    for name, fc in settings.feeds.items():
        try:
            check_spec(settings, _spec_from_config(name, fc))
        except PublisherError as e:
            problems.append((name, e))
    return problems


def _spec_from_config(name: str, fc: Any) -> FeedSpec:
    return FeedSpec(name=name, url=fc.url, accounts=list(fc.accounts), template=fc.template,
                    templates=dict(fc.templates), interval=fc.interval, max_per_poll=fc.max_per_poll,
                    spacing=fc.spacing, backfill=fc.backfill)


def sync_config(settings: Settings, store: Store) -> int:
    """Bring the config's ``feeds:`` into the store: add new ones, update changed definitions (audited
    ``feed.added`` / ``feed.changed``). Feeds added by the CLI are never touched; a config feed removed from the
    file is left as it is (``feed remove`` removes it). Returns how many rows changed."""
    if not settings.feeds:
        return 0
    changed = 0
    for name, fc in settings.feeds.items():
        spec = _spec_from_config(name, fc)
        try:
            check_spec(settings, spec)
        except PublisherError as e:
            log.error("feeds.%s in the config is invalid, not synced: %s", name, e.message)
            continue
        now = utcnow()
        with store.read() as conn:
            current = get(conn, name)
        want = _row(spec, "config", now)
        if current is not None and (current["source"] != "config" or _definition(current) == _definition(want)):
            continue
        with store.tx() as conn:
            current = get(conn, name)
            if current is None:
                conn.execute(feeds.insert().values(want))
                audit.append(conn, settings.actor, [audit.Event("feed.added", details={
                    "feed": name, "source": "config", "backfill": spec.backfill, **_definition(want)})], at=now)
            elif current["source"] == "config" and _definition(current) != _definition(want):
                new = _definition(want)
                conn.execute(update(feeds).where(feeds.c.name == name).values(**new, updated_at=now))
                before = _definition(current)
                audit.append(conn, settings.actor, [audit.Event("feed.changed", details={
                    "feed": name, "source": "config",
                    "changes": {k: {"from": before[k], "to": new[k]} for k in new if before[k] != new[k]}})], at=now)
            else:
                continue
            changed += 1
    return changed


def get(conn: Connection, name: str) -> dict[str, Any] | None:
    row = conn.execute(select(feeds).where(feeds.c.name == name)).mappings().first()
    return dict(row) if row else None


def require(conn: Connection, name: str) -> dict[str, Any]:
    row = get(conn, name)
    if row is None:
        known = [r for r, in conn.execute(select(feeds.c.name).order_by(feeds.c.name).limit(20))]
        raise NotFound(f"no feed named {name!r}", hint=f"known: {', '.join(known)}" if known else
                       "add one with `publisher feed add NAME URL --account A --template T`")
    return row


def all_feeds(conn: Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(select(feeds).order_by(feeds.c.name)).mappings()]


def entry_counts(conn: Connection, name: str | None = None) -> dict[str, dict[str, int]]:
    q = select(feed_entries.c.feed, feed_entries.c.status, func.count()).group_by(feed_entries.c.feed, feed_entries.c.status)
    if name is not None:
        q = q.where(feed_entries.c.feed == name)
    out: dict[str, dict[str, int]] = {}
    for feed, status, n in conn.execute(q):
        out.setdefault(feed, {})[status] = n
    return out


def set_state(settings: Settings, store: Store, name: str, state: str) -> dict[str, Any]:
    """pause (active -> paused), resume (paused or disabled -> active, due now)."""
    now = utcnow()
    with store.tx() as conn:
        row = require(conn, name)
        if row["state"] == state:
            return row
        values: dict[str, Any] = {"state": state, "updated_at": now}
        if state == "active":
            values.update(disabled_reason=None, failures=0, next_poll=now)
        conn.execute(update(feeds).where(feeds.c.name == name).values(**values))
        action = "feed.resumed" if state == "active" else "feed.paused"
        audit.append(conn, settings.actor, [audit.Event(action, details={"feed": name, "from": row["state"],
                                                                          "reason": row["disabled_reason"]})], at=now)
        row.update(values)
    return row


def remove(settings: Settings, store: Store, name: str) -> int:
    """Remove the feed and its seen entries (posts already made stay). Returns how many entries it had."""
    now = utcnow()
    with store.tx() as conn:
        row = require(conn, name)
        n = conn.execute(delete(feed_entries).where(feed_entries.c.feed == name)).rowcount
        conn.execute(delete(feeds).where(feeds.c.name == name))
        audit.append(conn, settings.actor, [audit.Event("feed.removed", details={
            "feed": name, "url": row["url"], "entries": n})], at=now)
    return int(n or 0)


# -- rendering --


def _limits(settings: Settings, account_name: str) -> Any:
    return channels.for_rendering(settings.account(account_name), settings).limits_for()


def render_entry(settings: Settings, row: dict[str, Any], entry: parsing.Entry) -> dict[str, str]:
    """account -> the entry rendered with the account's template (its own, its channel's, else the feed's)."""
    out = {}
    per = row.get("templates") or {}
    for name in row["accounts"]:
        account = settings.account(name)
        tpl = per.get(name) or per.get(account.channel) or row["template"]
        out[name] = templates.render(tpl, entry.fields(), _limits(settings, name))
    return out


def _new_post(row: dict[str, Any], a: Announcement) -> service.NewPost:
    names = list(row["accounts"])
    text = a.texts[names[0]]
    variants = {n: t for n, t in a.texts.items() if t != text}
    variables: dict[str, Any] = {"feed": row["name"], "entry": a.entry.identity, "entry_key": a.entry.key}
    attachments = []
    if a.entry.image_url:
        variables["image_url"] = a.entry.image_url
        attachments = _entry_image(row, a.entry)
        if not attachments:
            variables["image_not_attached"] = ("the entry gives its image no alt text" if not a.entry.image_alt
                                               else "the image could not be fetched or used")
    return service.NewPost(text=text, accounts=names, at=a.at, kind=PostKind.BLOG, link=a.entry.link or None,
                           idempotency_key=f"feed:{row['name']}:{a.entry.key[:40]}", variables=variables,
                           variants=variants, media=attachments)


def _entry_image(row: dict[str, Any], entry: parsing.Entry) -> list[Any]:
    """The entry's image as an attachment, when the entry gives it alt text (the blog's ``<img alt>``): an image
    without a description is not posted (on a Bluesky account the link card still shows the page's image)."""
    if not entry.image_url or not entry.image_alt:
        return []
    from publisher.channels import linkcard, media

    image = linkcard.fetch_image(entry.image_url, allow_loopback=linkcard.is_loopback_url(row["url"]))
    return [media.Attachment(image, entry.image_alt)] if image is not None else []


# -- polling --


def _order(entries: list[parsing.Entry]) -> list[parsing.Entry]:
    """Oldest first: dated entries by date, then undated ones in reverse document order (feeds list newest first)."""
    indexed = list(enumerate(entries))
    dated = sorted((e for e in indexed if e[1].published), key=lambda e: (e[1].published, -e[0]))
    undated = [e for e in reversed(indexed) if not e[1].published]
    return [e for _, e in dated + undated]


def _unseen(conn: Connection, name: str, entries: list[parsing.Entry]) -> list[parsing.Entry]:
    return _fresh(entries, set(_stored_keys(conn, name, list(dict.fromkeys(e.key for e in entries)))))


def _fresh(entries: list[parsing.Entry], seen: set[str]) -> list[parsing.Entry]:
    """The entries whose key is not in ``seen``, each key once, in their order."""
    out, once = [], set()
    for e in entries:
        if e.key not in seen and e.key not in once:
            once.add(e.key)
            out.append(e)
    return out


class _SeenKeys:
    """Which entry keys of a feed are already stored, read once per key per poll: the prescan asks about every
    item, the check before planning only about keys the prescan did not ask about (feedparser's identity can
    differ from the prescan's). Only a hint for skipping work: ``_announce`` checks again in its transaction."""

    def __init__(self, store: Store, name: str) -> None:
        self.store, self.name = store, name
        self.known: dict[str, bool] = {}

    def __call__(self, keys: list[str]) -> set[str]:
        ask = [k for k in dict.fromkeys(keys) if k not in self.known]
        if ask:
            with self.store.read() as conn:
                found = set(_stored_keys(conn, self.name, ask))
            self.known.update((k, k in found) for k in ask)
        return {k for k in keys if self.known[k]}


#: built once: one expanding parameter for the keys, not a statement of 50 bound values built per feed per poll
_STORED = select(feed_entries.c.entry_key).where(feed_entries.c.feed == bindparam("feed"),
                                                 feed_entries.c.entry_key.in_(bindparam("keys", expanding=True)))


def _stored_keys(conn: Connection, name: str, keys: list[str]) -> list[str]:
    out: list[str] = []
    for start in range(0, len(keys), 500):
        out.extend(k for k, in conn.execute(_STORED, {"feed": name, "keys": keys[start:start + 500]}))
    return out


def plan(settings: Settings, row: dict[str, Any], new: list[parsing.Entry], now: datetime) -> tuple[list[Announcement], list[parsing.Entry]]:
    """(what to announce, with its time and rendered texts; what to mark seen without announcing)."""
    ordered = _order(new)
    seed: list[parsing.Entry] = []
    if row.get("backfill") is not None:  # the first poll: seed all but the newest N
        n = int(row["backfill"])
        seed, ordered = (ordered[:-n], ordered[-n:]) if n else (ordered, [])
    out = []
    per, spacing = int(row["max_per_poll"]), timedelta(seconds=int(row["spacing_seconds"]))
    for i, entry in enumerate(ordered):
        # those going out at once are a second apart, oldest first: several worker threads take them in that order
        at = now + timedelta(seconds=i) if i < per else now + spacing * (i - per + 1)
        if entry.published and entry.published > now + FUTURE_SKEW:
            at = max(at, entry.published)
        a = Announcement(entry=entry, at=at, texts={})
        try:
            a.texts = render_entry(settings, row, entry)
        except Exception as e:  # noqa: BLE001 - a template that fails on this entry: reported, not announced
            a.problem = f"template failed on this entry: {type(e).__name__}: {e}"[:300]
        out.append(a)
    return out, seed


def _pause_for_tests() -> None:
    path = os.environ.get(PAUSE_ENV)
    if path:
        with open(path, "w") as f:
            f.write(str(os.getpid()))
        while True:  # until SIGKILL
            time.sleep(1)


def _write_seeded(conn: Connection, name: str, seed: list[parsing.Entry], now: datetime) -> int:
    lock_keys(conn, *(f"feed:{name}:{e.key}" for e in seed))  # as _announce: a racing poll waits, then sees them
    fresh = _unseen(conn, name, seed)
    if fresh:
        conn.execute(feed_entries.insert(), [dict(feed=name, entry_key=e.key, identity=e.identity, title=e.title[:500],
                                                  link=e.link, published=e.published, first_seen=now, status="seeded",
                                                  post_id=None) for e in fresh])
    return len(fresh)


def _announce(settings: Settings, store: Store, row: dict[str, Any], a: Announcement, now: datetime) -> None:
    """Store the post and the entry's row in one transaction (or neither); tone-blocked or too long: the entry is
    marked ``refused`` with the reason, audited, so it is reported once and never retried blindly."""
    from publisher.errors import ToneBlocked

    rendered = findings = None
    if a.problem is None:
        new = _new_post(row, a)
        try:
            textinput.check_post(new)  # control characters, bidi overrides: as for any post
            rendered, findings = service.render_and_check(settings, new)
        except (ToneBlocked, InputError) as e:
            a.problem = e.message
    name = row["name"]

    def work(conn: Connection) -> None:
        a.post_id = None  # a batch that rolled back runs this again alone: nothing of its first run is kept
        lock_keys(conn, f"feed:{name}:{a.entry.key}")  # PostgreSQL: a racing poll waits here, then sees the row
        if not _unseen(conn, name, [a.entry]):
            return  # another scheduler announced it first
        if rendered is not None and findings is not None:
            accepted = service.insert(conn, settings, new, rendered, findings)
            a.post_id = accepted.post_id
        status = "announced" if a.post_id else "refused"
        conn.execute(feed_entries.insert().values(
            feed=name, entry_key=a.entry.key, identity=a.entry.identity, title=a.entry.title[:500],
            link=a.entry.link, published=a.entry.published, first_seen=now, status=status, post_id=a.post_id))
        details = {"feed": name, "entry": a.entry.identity, "link": a.entry.link, "title": a.entry.title[:200]}
        if a.post_id:
            audit.append(conn, settings.actor, [audit.Event("feed.entry_announced", post_id=a.post_id, details={
                **details, "scheduled_at": a.at.isoformat()})], at=now)
        else:
            audit.append(conn, settings.actor, [audit.Event("feed.entry_refused", details={
                **details, "reason": a.problem})], at=now)

    # the post, the entry's row and their audit in one transaction, shared with the other fetch threads'
    # announcements and successes (group commit); returns once it has committed
    store.grouped(work)


def _backoff(row: dict[str, Any], failures: int) -> timedelta:
    base = timedelta(seconds=int(row["interval_seconds"]))
    return min(base * (2 ** min(failures, 16)), max(MAX_BACKOFF, base))


def _failed(settings: Settings, store: Store, row: dict[str, Any], kind: str, message: str, owner: str | None) -> PollResult:
    now = utcnow()
    name = row["name"]
    disable = kind in ("gone", "scheme")
    failures = int(row["failures"]) + 1
    values: dict[str, Any] = {"last_error": message, "last_error_at": now, "failures": failures, "updated_at": now,
                              "next_poll": now + _backoff(row, failures), "lease_until": None, "lease_owner": None}
    if disable:
        values.update(state="disabled", disabled_reason=message)
    with store.tx() as conn:
        q = update(feeds).where(feeds.c.name == name)
        if owner is not None:
            q = q.where(feeds.c.lease_owner == owner)
        if conn.execute(q.values(**values)).rowcount != 1:
            return PollResult(name, "error", error=message)
        events = [audit.Event("feed.poll_failed", details={"feed": name, "url": row["url"], "kind": kind,
                                                           "error": message, "failures": failures})]
        if disable:
            events.append(audit.Event("feed.disabled", details={"feed": name, "reason": message}))
        audit.append(conn, settings.actor, events, at=now)
    return PollResult(name, "disabled" if disable else "error", error=message)


def poll_feed(settings: Settings, store: Store, row: dict[str, Any], *, owner: str | None = None,
              http: Any = None, dry_run: bool = False, max_bytes: int = fetching.MAX_BYTES,
              done: list[_Success] | None = None) -> PollResult:
    """Fetch, parse and announce one feed (a row of ``feeds``). With ``owner``, the caller holds its lease.
    ``dry_run``: fetch unconditionally, plan and render, store nothing. ``done``: the feed's success (its new
    ETag, next poll, lease released) is appended there for the caller to write with others (``_record``) instead
    of being written now; the announcements are committed either way before this returns."""
    name = row["name"]
    try:
        got = fetching.fetch(row["url"], None if dry_run else row["etag"], None if dry_run else row["last_modified"],
                             http=http, max_bytes=max_bytes)
        seen = _SeenKeys(store, name)
        prescan = None if dry_run or row.get("backfill") is not None else seen
        parsed = parsing.parse(got.body, got.content_type, got.url, prescan) if got.status != 304 else None
    except (fetching.FetchError, parsing.ParseError) as e:
        message = str(e) + (f" ({e.hint})" if isinstance(e, parsing.ParseError) and e.hint else "")
        if dry_run:
            return PollResult(name, "error", error=message)
        return _failed(settings, store, row, e.kind, message, owner)
    now = utcnow()
    if parsed is None:
        if not dry_run:
            _succeeded(settings, store, row, got, owner, now, done)
        return PollResult(name, "not_modified")
    new = _fresh(parsed.entries, seen([e.key for e in parsed.entries]))
    announce, seed = plan(settings, row, new, now)
    result = PollResult(name, "new" if announce else ("seeded" if seed else "unchanged"), announced=announce,
                        seeded=len(seed), bozo=parsed.bozo)
    if dry_run:
        return result
    if announce or seed:
        _pause_for_tests()
    if seed:
        with store.tx() as conn:
            _write_seeded(conn, name, seed, now)
    for a in announce:
        _announce(settings, store, row, a, now)
    _succeeded(settings, store, row, got, owner, now, done)
    return result


@dataclass
class _Success:
    name: str
    values: dict[str, Any]


def _succeeded(settings: Settings, store: Store, row: dict[str, Any], got: fetching.Fetched, owner: str | None,
               now: datetime, done: list[_Success] | None = None) -> None:
    values: dict[str, Any] = {"last_success": now, "failures": 0, "lease_until": None, "lease_owner": None,
                              "next_poll": now + timedelta(seconds=int(row["interval_seconds"])), "backfill": None}
    if got.status != 304:
        values.update(etag=got.etag, last_modified=got.last_modified)
    if got.moved_to:
        values["url"] = got.moved_to
    if row["failures"]:
        values["updated_at"] = now
    if done is not None and owner is not None and not got.moved_to:
        done.append(_Success(row["name"], values))
        return

    def work(conn: Connection) -> None:
        q = update(feeds).where(feeds.c.name == row["name"])
        if owner is not None:
            q = q.where(feeds.c.lease_owner == owner)
        if conn.execute(q.values(**values)).rowcount == 1 and got.moved_to:
            audit.append(conn, settings.actor, [audit.Event("feed.redirected", details={
                "feed": row["name"], "from": row["url"], "to": got.moved_to, "permanent": True})], at=now)

    if got.moved_to:
        with store.tx() as conn:
            work(conn)
    else:
        store.grouped(work)  # a poll cycle of many unchanged feeds shares its commits


def _record(store: Store, owner: str, done: list[_Success]) -> None:
    """Write a batch's successes in one transaction: one executemany per shape of change (a 304 leaves the
    ETag alone, a 200 stores the new one, a feed that had failed also gets ``updated_at``). Each row is updated
    only while this owner still holds its lease, as ``_succeeded`` does. A crash before this commit loses only
    the timestamps: the leases expire and the feeds are polled again (their announcements are already stored)."""
    shapes: dict[tuple[str, ...], list[_Success]] = {}
    for d in done:
        shapes.setdefault(tuple(sorted(d.values)), []).append(d)
    if not shapes:
        return
    with store.tx() as conn:
        for columns, group in shapes.items():
            q = (update(feeds).where(feeds.c.name == bindparam("b_name"), feeds.c.lease_owner == bindparam("b_owner"))
                 .values({c: bindparam(f"b_{c}") for c in columns}))
            conn.execute(q, [{"b_name": d.name, "b_owner": owner, **{f"b_{c}": d.values[c] for c in columns}}
                             for d in group])


def claim_due(store: Store, owner: str, now: datetime, lease: timedelta, limit: int = 200) -> list[dict[str, Any]]:
    """Take the lease of feeds due for a poll (a conditional update: one scheduler per feed at a time)."""
    free = or_(feeds.c.lease_until.is_(None), feeds.c.lease_until < now)
    due = select(feeds.c.name).where(feeds.c.state == "active", feeds.c.next_poll <= now, free)
    with store.read() as conn:  # most seconds nothing is due: no write lock for that
        if conn.execute(due.limit(1)).first() is None:
            return []
    until = now + lease
    with store.tx() as conn:
        names = [n for n, in conn.execute(due.order_by(feeds.c.next_poll).limit(limit))]
        if not names:
            return []
        # one conditional update for the batch; what it took is what now carries this owner and this lease end
        conn.execute(update(feeds).where(feeds.c.name.in_(names), feeds.c.state == "active", free)
                     .values(lease_until=until, lease_owner=owner))
        rows = conn.execute(select(feeds).where(feeds.c.name.in_(names), feeds.c.lease_owner == owner,
                                                feeds.c.lease_until == until)).mappings().all()
    return [dict(r) for r in rows]


_http = threading.local()
_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def _session() -> Any:
    """This thread's HTTP session: its connections stay open between polls (keep-alive)."""
    s = getattr(_http, "session", None)
    if s is None:
        s = _http.session = fetching.session()
    return s


def _pool(threads: int) -> ThreadPoolExecutor:
    """The fetch threads, kept from cycle to cycle so their sessions (and open connections) are reused."""
    with _pools_lock:
        pool = _pools.get(threads)
        if pool is None:
            pool = _pools[threads] = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="feed")
        return pool


def poll_due(settings: Settings, store: Store, owner: str, *, now: datetime | None = None, threads: int = 8,
             limit: int = 200) -> list[PollResult]:
    """Claim the due feeds and poll them, ``threads`` fetches at a time."""
    now = now or utcnow()
    lease = timedelta(seconds=max(5.0, settings.scheduler.lease_seconds))
    rows = claim_due(store, owner, now, lease, limit)
    if not rows:
        return []

    done: list[_Success] = []  # list.append is atomic: the fetch threads share it

    def one(row: dict[str, Any]) -> PollResult:
        try:
            return poll_feed(settings, store, row, owner=owner, http=_session(), done=done)
        except Exception as e:  # noqa: BLE001 - one feed's failure must not stop the others; its lease expires
            log.error("feed %s: poll failed: %s", row["name"], type(e).__name__, exc_info=log.isEnabledFor(logging.DEBUG))
            return PollResult(row["name"], "error", error=type(e).__name__)

    try:
        if len(rows) == 1 or threads <= 1:
            return [one(r) for r in rows]
        return list(_pool(threads).map(one, rows))
    finally:
        _record(store, owner, done)


def run(settings: Settings, store: Store, owner: str, stop: threading.Event, every: float = 1.0,
        on_cycle: Callable[[list[PollResult]], None] | None = None) -> None:
    """The scheduler's feed loop: sync the config's feeds once, then poll what is due every ``every`` seconds."""
    try:
        sync_config(settings, store)
    except Exception as e:  # noqa: BLE001 - a loop that must not die at start
        log.error("feeds: config sync failed: %s", type(e).__name__)
    while not stop.is_set():
        try:
            results = poll_due(settings, store, owner)
            if on_cycle is not None:
                on_cycle(results)
        except Exception as e:  # noqa: BLE001 - a loop that must not die; the next cycle retries
            log.error("feeds: poll cycle failed: %s", type(e).__name__, exc_info=log.isEnabledFor(logging.DEBUG))
            results = []
        if len(results) < 200:
            stop.wait(every)

