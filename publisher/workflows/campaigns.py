"""Campaigns: many posts from one file, checked all together, stored all together (README "Campaigns").

``plan`` reads the store once and checks every row (accounts, permissions, times, anchors, lengths per channel,
tone with the campaign's required hashtags, thread order) and collects every problem; ``apply`` stores the plan in
one transaction or nothing. A campaign's posts carry the idempotency scope ``campaign:NAME`` and their row key as
idempotency key: re-importing the same file finds every row unchanged; a changed row updates its deliveries that
are not yet on their way (conditional on their state, re-rendered, re-checked, audited); ``prune`` cancels the
rows no longer in the file; what is published (or on its way) is never touched, only reported.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from publisher import audit, rawsql, service, textinput, timeparse
from publisher.errors import InputError, InvalidState, NotFound, PublisherError, ToneBlocked
from publisher.models import CANCELLABLE, Payload, PostKind, State
from publisher.schema import campaigns, deliveries, posts
from publisher.settings import AccountConfig, Settings
from publisher.store import Store, lock_keys, transitions, utcnow
from publisher.store import Transition as Move
from publisher.workflows import approvals, forked, slots
from publisher.workflows.campaignfile import CampaignFile, Issue, Row, canonical, suggest
from publisher.workflows.campaignrows import (
    Built,
    bind,
    build,
    build_loose,
    delivery_rows,
    insert,
    scope,
)

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,99}")
_KEY = re.compile(r"[^\s,]{1,200}")
#: ``event-7d 09:00``, ``event+0d 13:30``, ``end+1d``, ``event+90m``, ``event`` (an anchor name starts with a letter)
_REL = re.compile(r"(?P<anchor>[A-Za-z_]\w*)\s*(?:(?P<sign>[+-])\s*(?P<n>\d{1,4})\s*(?P<unit>[dwhm]))?"
                  r"(?:\s+(?P<hm>\d{1,2}:\d{2}))?")
#: a row with this time, or without one, takes the next free slots of each of its accounts
SLOT = "slot"
#: delivery states an import may still rewrite (nothing has been handed to a worker yet)
EDITABLE = (State.DRAFT, State.PENDING_APPROVAL, State.SCHEDULED, State.HELD)
#: states that count as taking a slot or a place in the cadence
WAITING = ("pending_approval", "scheduled", "queued", "retry_wait", "held", "draft")


class CampaignInvalid(InputError):
    """The campaign file has problems (every one in ``issues``); nothing was stored. Exit 3 if all are tone."""

    def __init__(self, issues: list[Issue]) -> None:
        n = len(issues)
        super().__init__(f"{n} problem{'s' if n != 1 else ''} in the campaign; nothing was stored",
                         hint="fix every row named above and import again (--dry-run checks without storing)")
        self.issues = issues
        if all(i.tone for i in issues):
            self.exit_code = 3


@dataclass
class Planned:
    key: str
    row: Row
    fields: dict[str, Any]  # the row as written (canonical)
    new: service.NewPost
    due: dict[str, datetime]  # account -> when (UTC)
    until: dict[str, datetime | None]
    sha: str
    status: str = "new"  # new | changed | unchanged
    rendered: dict[str, list[Payload]] = field(default_factory=dict)
    findings: list[Any] = field(default_factory=list)
    existing: dict[str, Any] | None = None  # the stored post
    valid: bool = True  # False: the row has problems (reported); it was planned only to check the rest of it
    stored: list[dict[str, Any]] = field(default_factory=list)  # its deliveries


@dataclass
class Plan:
    name: str
    file: CampaignFile
    header: dict[str, Any]
    rows: list[Planned]
    removed: list[dict[str, Any]]  # stored posts whose key is no longer in the file
    removed_deliveries: dict[str, list[dict[str, Any]]]
    stored_campaign: dict[str, Any] | None
    runs_at: dict[tuple[str, str], datetime] = field(default_factory=dict)  # (key, account) -> after cadence
    gone: list[str] = field(default_factory=list)  # rows not in the file that were published: never cancelled

    @property
    def changes(self) -> bool:
        header_changed = self.stored_campaign is None or self.stored_campaign["header"] != self.header
        return header_changed or any(p.status != "unchanged" for p in self.rows)

    def counts(self) -> dict[str, int]:
        out = {"new": 0, "changed": 0, "unchanged": 0}
        for p in self.rows:
            out[p.status] += 1
        out["removed"] = len(self.removed)
        return out


# -- times --


def parse_anchor(raw: Any, tz: ZoneInfo | None, where: str) -> datetime:
    text = raw.isoformat() if hasattr(raw, "isoformat") else str(raw)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"anchor {text!r} is not an ISO time", hint="e.g. 2026-06-08T09:00+02:00") from None
    if parsed.tzinfo is None:
        if tz is None:
            raise InputError(f"anchor {text!r} has no UTC offset and the header names no timezone",
                             hint=f"write {text}+02:00, or add 'timezone: Europe/Oslo' to the header")
        return timeparse.parse_time(text, tz, allow_past=True, what=where, notes=timeparse.Strict())
    return parsed.astimezone(UTC)


def resolve_time(raw: str, anchors: dict[str, datetime], zone: ZoneInfo, now: datetime, what: str) -> datetime:
    """A row's time for an account in ``zone``: relative to an anchor (day offsets keep the wall clock in the
    account's zone across DST), or any form ``timeparse`` reads (absolute ISO, local ``2026-06-08 09:00``)."""
    s = raw.strip()
    m = _REL.fullmatch(s)
    if m and m.group("anchor") in anchors:
        base = anchors[m.group("anchor")]
        n = int(m.group("n") or 0) * (-1 if m.group("sign") == "-" else 1)
        unit, hm = m.group("unit") or "d", m.group("hm")
        if unit in "hm":
            if hm:
                raise InputError(f"{what} {raw!r} mixes an hour/minute offset with a clock time",
                                 hint="use a day offset with a clock time (event-1d 09:00) or an offset alone (event-90m)")
            return base + timedelta(**{"hours" if unit == "h" else "minutes": n})
        local = base.astimezone(zone)
        day = local.date() + timedelta(days=n * (7 if unit == "w" else 1))
        if hm:
            h, mi = (int(x) for x in hm.split(":"))
            if h > 23 or mi > 59:
                raise InputError(f"{what} {raw!r}: {hm} is not a clock time", hint="use HH:MM, 00:00 to 23:59")
            wall = datetime(day.year, day.month, day.day, h, mi)
        else:
            wall = datetime.combine(day, local.time().replace(tzinfo=None))
        return timeparse.parse_time(wall.strftime("%Y-%m-%d %H:%M:%S"), zone, now, allow_past=True, what=what, notes=timeparse.Strict())
    if m and m.group("anchor") not in anchors and s.lower() != "now":
        raise InputError(f"{what} {raw!r} names no anchor of this campaign",
                         hint=suggest(m.group("anchor"), list(anchors), "anchors"))
    return timeparse.parse_time(s, zone, now, allow_past=True, what=what, notes=timeparse.Strict())


class Times:
    """``resolve_time`` remembered per (text, zone, what) for one plan: a campaign's rows share few times and zones
    (the anchors and ``now`` are the plan's own). A time that fails, fails alike every time (the error is kept)."""

    def __init__(self, anchors: dict[str, datetime], now: datetime) -> None:
        self.anchors, self.now = anchors, now
        self.memo: dict[tuple[str, str, str, bool], datetime | InputError] = {}

    def __call__(self, raw: str, zone: ZoneInfo, what: str, later: bool = False) -> datetime:
        key = (raw, str(zone), what, later)
        hit = self.memo.get(key)
        if hit is None:
            try:
                hit = resolve_time(raw, self.anchors, zone, self.now + timedelta(days=8) if later else self.now, what)
            except InputError as e:
                hit = e
            self.memo[key] = hit
        if isinstance(hit, InputError):
            raise InputError(hit.message, hint=hit.hint)
        return hit

    def from_now(self, raw: str, zone: ZoneInfo, what: str) -> bool:
        """Whether ``raw`` is a time relative to the import (``now``, ``+2h``, ``09:00``): it resolves elsewhere
        eight days later (a week, so that no form that names a weekday could give the same answer). Such a time is
        fixed when its row is first imported."""
        try:
            return self(raw, zone, what) != self(raw, zone, what, later=True)
        except InputError:
            return False


# -- planning --


def _row_sha(fields: dict[str, Any], due: dict[str, datetime] | None, until: dict[str, datetime | None],
             defaults: dict[str, Any], tags: list[str]) -> str:
    data = {"fields": fields, "defaults": defaults, "tags": tags,
            "due": {a: t.isoformat() for a, t in sorted(due.items())} if due is not None else SLOT,
            "until": {a: t.isoformat() if t else None for a, t in sorted(until.items())}}
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _stored(conn: Connection, name: str) -> tuple[dict[str, Any] | None, dict[str, dict[str, Any]],
                                                  dict[str, list[dict[str, Any]]]]:
    row = conn.execute(select(campaigns).where(campaigns.c.name == name)).mappings().first()
    found = {r["idem_key"]: dict(r) for r in conn.execute(select(posts).where(posts.c.idem_scope == scope(name))).mappings()}
    by_post: dict[str, list[dict[str, Any]]] = {p["id"]: [] for p in found.values()}
    if found:
        q = (select(deliveries).join(posts, posts.c.id == deliveries.c.post_id)
             .where(posts.c.idem_scope == scope(name)).order_by(deliveries.c.account, deliveries.c.part))
        for d in conn.execute(q).mappings():
            by_post[d["post_id"]].append(dict(d))
    return (dict(row) if row else None), found, by_post


def _occupied(conn: Connection, accounts: list[str], exclude_scope: str) -> dict[str, list[datetime]]:
    """Each account's waiting deliveries' due times, except this campaign's own (planned afresh)."""
    out: dict[str, list[datetime]] = {a: [] for a in accounts}
    q = (select(deliveries.c.account, deliveries.c.due_at, deliveries.c.part, posts.c.idem_scope)
         .join(posts, posts.c.id == deliveries.c.post_id)
         .where(deliveries.c.account.in_(accounts), deliveries.c.state.in_(WAITING)))
    for account, due, part, sc in conn.execute(q):
        if sc != exclude_scope and part == 1:
            out[account].append(due)
    return out


def _check_header(settings: Settings, cf: CampaignFile, issues: list[Issue]) -> tuple[str, dict[str, datetime]]:
    h = cf.header
    name = str(h.get("name") or "")
    if not _NAME.fullmatch(name):
        issues.append(Issue(cf.where("name"), f"campaign name {name[:60]!r} is missing or not a plain name",
                            "give name: with letters, digits and . _ - (e.g. tnc26)"))
    tz: ZoneInfo | None = None
    if h.get("timezone"):
        try:
            tz = timeparse.zone(str(h["timezone"]))
        except InputError as e:
            issues.append(Issue(cf.where("timezone"), e.message, e.hint or ""))
    anchors: dict[str, datetime] = {}
    raw_anchors = h.get("anchors") or {}
    if not isinstance(raw_anchors, dict):
        issues.append(Issue(cf.where("anchors"), "must be a mapping NAME: TIME", "anchors: {event: 2026-06-08T09:00+02:00}"))
        raw_anchors = {}
    for key, value in raw_anchors.items():
        if not re.fullmatch(r"[A-Za-z_]\w*", str(key)):
            issues.append(Issue(cf.where(f"anchors.{key}"), "an anchor name must be letters, digits and _",
                                "e.g. event, end, day2"))
            continue
        try:
            anchors[str(key)] = parse_anchor(value, tz, f"anchor {key}")
        except InputError as e:
            issues.append(Issue(cf.where(f"anchors.{key}"), e.message, e.hint or ""))
    accounts = h.get("accounts") or []
    if not isinstance(accounts, list):
        accounts = str(accounts).replace(",", " ").split()
    for i, a in enumerate(accounts):
        if a not in settings.accounts:
            issues.append(Issue(cf.where(f"accounts[{i}]"), f"unknown account {a!r}",
                                suggest(str(a), list(settings.accounts), "accounts")))
    tags = h.get("hashtags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        issues.append(Issue(cf.where("hashtags"), "must be a list of hashtags", "hashtags: [TNC26]"))
    defaults = h.get("defaults") or {}
    if not isinstance(defaults, dict):
        issues.append(Issue(cf.where("defaults"), "must be a mapping", "defaults: {kind: campaign}"))
    else:
        for k in defaults:
            if k not in ("at", "not_after", "kind", "link", "lang", "accounts"):
                issues.append(Issue(cf.where(f"defaults.{k}"), "is not a default a row can take",
                                    suggest(str(k), ["at", "not_after", "kind", "link", "lang"], "defaults")))
    return name, anchors


def plan(settings: Settings, store: Store, cf: CampaignFile, now: datetime | None = None,
         progress: Callable[[int], None] | None = None) -> Plan:
    """Check every row of ``cf`` against the store as it is now: the plan to store, or CampaignInvalid naming every
    problem (nothing stored either way)."""
    now = now or utcnow()
    issues = list(cf.issues)
    name, anchors = _check_header(settings, cf, issues)
    header = json.loads(json.dumps(cf.header, default=str))
    defaults = {k: v for k, v in (cf.header.get("defaults") or {}).items()} if isinstance(cf.header.get("defaults"), dict) else {}
    tags = header_tags(cf.header)
    overrides = tag_overrides(tags)
    head_accounts = [str(a) for a in (cf.header.get("accounts") or [])] if isinstance(cf.header.get("accounts"), list) \
        else str(cf.header.get("accounts") or "").replace(",", " ").split()
    with store.read() as conn:
        stored = _stored(conn, name) if name else (None, {}, {})
    with _languages_beside(settings, cf, stored[1]):
        return _plan(settings, store, cf, now, progress, issues, name, anchors, header, defaults, tags, overrides,
                     head_accounts, stored)


def header_tags(header: dict[str, Any] | None) -> list[str]:
    """The hashtags a campaign's header requires in every post (``hashtags: [TNC26]``), without their ``#``."""
    tags = (header or {}).get("hashtags") or []
    if not isinstance(tags, list):  # reported as such by the header's check; its letters are no hashtags
        return []
    return [str(t).lstrip("#") for t in tags if isinstance(t, str)]


def tag_overrides(tags: list[str]) -> dict[str, Any] | None:
    """The rule settings that make a campaign's hashtags required, blocking on every account."""
    return {"hashtags.required": {"tags": tags, "severity": "block"}} if tags else None


def stored_tag_overrides(store: Store, post: dict[str, Any]) -> dict[str, Any] | None:
    """``tag_overrides`` of the campaign a stored post was imported from (None for any other post), read from the
    campaign's stored header: an edit of the post is re-checked with them, as the import checked it."""
    name = ((post.get("variables") or {}).get("campaign") or {}).get("name")
    if not name:
        return None
    with store.read() as conn:
        header = conn.execute(select(campaigns.c.header).where(campaigns.c.name == name)).scalar()
    return tag_overrides(header_tags(header))


def _languages_beside(settings: Settings, cf: CampaignFile, existing: dict[str, dict[str, Any]]) -> Any:
    """For a large file, lingua's full models load in a helper process while the rows are planned
    (``loaded_beside``), if a row that will be checked (not written exactly as stored) may need them."""
    from contextlib import nullcontext

    from publisher.rules import language

    if len(cf.rows) < PARALLEL_FROM:
        return nullcontext()
    rows = [r for r in cf.rows if (((existing.get(str(r.fields.get("key") or "")) or {}).get("variables") or {})
                                   .get("campaign") or {}).get("row") != canonical(r.fields)]
    texts = {str(r.fields.get("text") or "") for r in rows}
    texts.update(str(v) for r in rows for v in (r.fields.get("variants") or {}).values())
    # the languages a row may be declared in: every account's, and any a row declares (itself or by the defaults)
    defaults = cf.header.get("defaults")
    declared = {c for a in settings.accounts.values() for c in a.languages}
    declared.update(str(v) for r in rows if (v := _value(r, defaults if isinstance(defaults, dict) else {}, "lang")))
    return language.loaded_beside(sorted(texts), {*language.DEFAULT_CANDIDATES, *declared}, declared)


def _plan(settings: Settings, store: Store, cf: CampaignFile, now: datetime, progress: Callable[[int], None] | None,
          issues: list[Issue], name: str, anchors: dict[str, datetime], header: dict[str, Any],
          defaults: dict[str, Any], tags: list[str], overrides: dict[str, Any] | None, head_accounts: list[str],
          stored: tuple[dict[str, Any] | None, dict[str, dict[str, Any]], dict[str, list[dict[str, Any]]]]) -> Plan:
    stored_campaign, existing, by_post = stored
    planned: list[Planned] = []
    seen: dict[str, Row] = {}
    todo: list[Planned] = []
    resolve = Times(anchors, now)
    load_image = image_loader(cf.path)
    unchanged = _Ticks(progress)  # rows with nothing to check: written exactly as stored, or unusable

    def to_check() -> Iterator[service.NewPost]:
        """Each row planned, and its post handed on to be checked at once (checking starts while rows are planned)."""
        for row in cf.rows:
            p = _plan_row(settings, row, resolve, defaults, tags, head_accounts, now, seen, issues, existing, by_post,
                          load_image)
            if p is None:
                unchanged.add(1)  # nothing to check: its problems are reported
                continue
            p.new.variables["campaign"]["name"] = name
            if p.valid:
                planned.append(p)
            if p.status != "unchanged":
                todo.append(p)
                yield p.new
            else:
                unchanged.add(1)
        unchanged.flush()

    verdicts = check_all(settings, to_check(), overrides, progress, many=len(cf.rows) >= PARALLEL_FROM)
    for p, (verdict, a, b) in zip(todo, verdicts, strict=True):
        if verdict == "ok":
            p.rendered, p.findings = a, b
        elif verdict == "tone":
            issues.append(Issue(p.row.where("text"), a.replace("; nothing was stored", ""),
                                "; ".join(f"{f.rule}: {f.message}" for f in service.tone.blocking(b)),
                                tone=True, findings=b))
        else:
            issues.append(Issue(p.row.where("text"), a, b))
    _check_threads(planned, issues)
    if issues:  # one report per place and problem (a row's time can fail alike for each of its accounts)
        raise CampaignInvalid(list({(i.where, i.message): i for i in issues}.values()))
    keys = {p.key for p in planned}
    removed = [post for key, post in existing.items() if key not in keys
               and any(State(d["state"]) in CANCELLABLE for d in by_post[post["id"]])]
    result = Plan(name, cf, header, planned, removed, {p["id"]: by_post[p["id"]] for p in removed}, stored_campaign)
    result.gone = [f"{key}: {', '.join(sorted({d['state'] for d in by_post[post['id']]}))}"
                   for key, post in existing.items() if key not in keys and post not in removed
                   and any(d["state"] == State.PUBLISHED.value for d in by_post[post["id"]])]
    _fill_slots(settings, store, result, now)
    _cadence(settings, store, result)
    return result


#: checking at least this many rows uses every core (forked workers, Linux)
PARALLEL_FROM = 1000
WARM = 50
_WORK: tuple[Settings, dict[str, Any] | None] | None = None


def _check_one(settings: Settings, new: service.NewPost, overrides: dict[str, Any] | None) -> tuple[str, Any, Any]:
    """Render and tone-check one post: ("ok", rendered, findings), ("tone", message, findings) or ("error",
    message, hint); a tuple a worker process can send back (the error classes do not pickle)."""
    try:
        rendered, findings = service.render_and_check(settings, new, overrides=overrides)
    except ToneBlocked as e:
        return "tone", e.message, e.findings
    except PublisherError as e:
        return "error", e.message, e.hint or ""
    return "ok", rendered, findings


def _check_forked(new: service.NewPost) -> tuple[str, Any, Any]:
    assert _WORK is not None
    return _check_one(_WORK[0], new, _WORK[1])


def check_key(new: service.NewPost) -> str:
    """Everything ``service.render_and_check`` reads from a post, as one string: two posts with the same key render
    to the same payloads and get the same findings (settings and overrides are the same for a whole import).

    The campaign's own bookkeeping (``variables["campaign"]``: row key, digest, index) is left out: no adapter and
    no rule reads it. Its time is left out too (rendering and the tone rules do not depend on when a post goes out).
    """
    other = {k: v for k, v in new.variables.items() if k != "campaign"}
    media = [(m.image.sha256, m.alt) for m in new.media]
    return json.dumps([new.text, new.accounts, sorted(new.variants.items()), new.kind.value, new.link, new.language,
                       sorted(new.allow.items()), new.require_hashtags, new.defer_slow_checks, media, other],
                      ensure_ascii=False, sort_keys=True, default=str)


def check_all(settings: Settings, todo: Iterable[service.NewPost], overrides: dict[str, Any] | None,
              progress: Callable[[int], None] | None = None,
              key: Callable[[service.NewPost], str] = check_key, many: bool | None = None) -> list[tuple[str, Any, Any]]:
    """``_check_one`` for every post, in order, run once per distinct ``key`` (a campaign repeats few texts per
    account: each is rendered and checked once and its verdict given to every row that has it).

    ``todo`` may be a generator that plans the rows as it goes: each distinct post is checked as soon as it comes,
    while the rest are planned. ``many`` says whether the posts are many enough for every core (``PARALLEL_FROM``);
    by default, counted from ``todo``."""
    first: dict[str, int] = {}
    keys: list[str] = []
    distinct: list[service.NewPost] = []
    posts: list[service.NewPost] = []
    ticks = _Ticks(progress)

    def fresh() -> Iterator[service.NewPost]:
        for new in todo:
            k = key(new)
            posts.append(new)
            keys.append(k)
            if k in first:
                ticks.add(1)  # checked (or being checked) for an earlier row
                continue
            first[k] = len(distinct)
            distinct.append(new)
            yield new

    if many is None:
        todo = list(todo)
        many = len(todo) >= PARALLEL_FROM
    checked = _check_distinct(settings, fresh(), overrides, ticks, many)
    ticks.flush()
    out = []
    for new, k in zip(posts, keys, strict=True):
        verdict = checked[first[k]]
        if verdict[0] == "ok" and distinct[first[k]] is not new:
            new.fitted.update(distinct[first[k]].fitted)
        out.append(verdict)
    return out


class _Ticks:
    """Reports the rows checked so far to ``progress``, about every 100 rows."""

    def __init__(self, progress: Callable[[int], None] | None) -> None:
        self.progress, self.pending = progress, 0

    def add(self, rows: int) -> None:
        self.pending += rows
        if self.pending >= 100:
            self.flush()

    def flush(self) -> None:
        if self.progress and self.pending:
            self.progress(self.pending)
        self.pending = 0


def _check_distinct(settings: Settings, todo: Iterator[service.NewPost], overrides: dict[str, Any] | None,
                    ticks: _Ticks, many: bool) -> list[tuple[str, Any, Any]]:
    """``_check_one`` for every post, in order; across every core for ``many`` posts (``forked.run``). The first
    posts are checked here before forking, so the workers inherit warm caches (tone profiles, word lists); the
    rest go to the workers as ``todo`` yields them."""
    global _WORK
    parallel = many and forked.cores() >= 2
    out = []
    for new in itertools.islice(todo, WARM) if parallel else todo:
        out.append(_check_one(settings, new, overrides))
        ticks.add(1)
    if not parallel:
        return out
    _WORK = (settings, overrides)
    try:
        for verdict in forked.run(_check_forked, todo, "checking the campaign", 100):
            out.append(verdict)
            ticks.add(1)
    finally:
        _WORK = None
    return out


def _value(row: Row, defaults: dict[str, Any], key: str) -> Any:
    v = row.fields.get(key)
    return v if v not in (None, "") else defaults.get(key)


def image_loader(campaign_path: str) -> Callable[[str], Any]:
    """Reads a row's image (``publisher.channels.media.load``: validated, metadata stripped), a relative path from
    the campaign file's folder; each file once however many rows name it."""
    from pathlib import Path

    base = Path(campaign_path).parent if campaign_path not in ("", "-") else Path.cwd()
    cache: dict[Path, Any] = {}

    def load(raw: str) -> Any:
        from publisher.channels import media

        path = Path(raw).expanduser()
        path = path if path.is_absolute() else base / path
        if path not in cache:
            cache[path] = media.load(path)
        return cache[path]

    return load


def _plan_row(settings: Settings, row: Row, resolve: Times, defaults: dict[str, Any], tags: list[str],
              head_accounts: list[str], now: datetime, seen: dict[str, Row], issues: list[Issue],
              existing: dict[str, dict[str, Any]], by_post: dict[str, list[dict[str, Any]]],
              load_image: Callable[[str], Any] | None = None) -> Planned | None:
    before = len(issues)

    def bad(column: str | None, e: PublisherError | str, hint: str = "") -> None:
        if isinstance(e, PublisherError):
            issues.append(Issue(row.where(column), e.message, e.hint or ""))
        else:
            issues.append(Issue(row.where(column), e, hint))

    key = str(row.fields.get("key") or "")
    if not key:
        bad("key", "has no key", "give every row a unique key (e.g. day1-keynote): re-imports find the row by it")
    elif not _KEY.fullmatch(key):
        bad("key", f"key {key[:40]!r} must be one word without commas, at most 200 characters")
    elif key in seen:
        bad("key", f"key {key!r} is used again (first at {seen[key].where()})", "give every row its own key")
    else:
        seen[key] = row
    text = row.fields.get("text") or ""
    if not str(text).strip():
        bad("text", "has no text", "every row needs the text to post")
    accounts = _value(row, defaults, "accounts") or head_accounts
    if isinstance(accounts, str):
        accounts = accounts.replace(",", " ").split()
    if not accounts:
        bad("accounts", "names no account", "add accounts: to the header or to the row")
    good: list[AccountConfig] = []
    inherited = _value(row, defaults, "accounts") is None
    for a in accounts:
        if a not in settings.accounts and inherited:
            continue  # reported once, at the header
        if a not in settings.accounts:
            bad("accounts", f"unknown account {a!r}", suggest(a, list(settings.accounts), "accounts"))
            continue
        account = settings.accounts[a]
        try:
            service._check_permitted(account, settings.actor)
        except PublisherError as e:
            bad("accounts", e)
            continue
        good.append(account)
    kind_raw = _value(row, defaults, "kind") or "campaign"
    try:
        kind = PostKind(kind_raw)
    except ValueError:
        bad("kind", f"unknown kind {kind_raw!r}", suggest(str(kind_raw), [k.value for k in PostKind], "kinds"))
        kind = PostKind.CAMPAIGN
    variants = dict(row.fields.get("variants") or {})
    targets = {a.name for a in good} | {a.channel for a in good}
    for t in sorted(set(variants) - targets):
        bad(f"variant:{t}" if row.line else f"variants.{t}", f"variant target {t!r} is neither an account of this row "
            "nor the channel of one", suggest(t, sorted(targets), "targets"))
    stored = existing.get(key)
    # a row written exactly as the stored one: its texts passed these checks when it was imported
    checked = stored is not None and (stored["variables"].get("campaign") or {}).get("row") == canonical(row.fields)
    for column, value in ((("text", text),) if str(text).strip() and not checked else ()) + tuple(
            (f"variant:{t}" if row.line else f"variants.{t}", v) for t, v in variants.items() if not checked):
        try:
            textinput.check(str(value), "the text", multiline=True)
        except InputError as e:
            bad(column, e)
    for column in ("link", "lang", "thread", "image", "alt"):
        v = _value(row, defaults, column)
        if v:
            try:
                textinput.check(str(v), column, multiline=column == "alt")
            except InputError as e:
                bad(column, e)
    at_raw = _value(row, defaults, "at")
    until_raw = _value(row, defaults, "not_after")
    slot = at_raw is None or str(at_raw).strip().lower() == SLOT
    due: dict[str, datetime] = {}
    until: dict[str, datetime | None] = {}
    for account in good:
        if slot:
            if not account.slots:
                bad("at", f"has no time and account {account.name!r} has no slots",
                    f"give at: (e.g. event-1d 09:00), or slots: [\"09:00\", \"17:00\"] to accounts.{account.name}")
        else:
            try:
                due[account.name] = resolve(str(at_raw), account.zone, "at")
            except InputError as e:
                bad("at", e)
        try:
            until[account.name] = resolve(str(until_raw), account.zone, "not_after") if until_raw else None
        except InputError as e:
            bad("not_after", e)
    if not good or not str(text).strip() or (not key and len(issues) > before):
        return None
    fields = canonical(row.fields)
    found = existing.get(key)
    # a time relative to the import counts as its text: re-importing the row a minute later changes nothing
    zone = good[0].zone
    fixed_at = bool(due) and resolve.from_now(str(at_raw), zone, "at")
    fixed_until = bool(until_raw) and resolve.from_now(str(until_raw), zone, "not_after")
    sha = _row_sha(fields, None if slot or fixed_at else due, {} if fixed_until else until, defaults, tags)
    status = "new" if found is None else ("unchanged" if (found["variables"].get("campaign") or {}).get("sha") == sha
                                          else "changed")
    if status != "unchanged":
        done = {d["account"] for d in by_post.get(found["id"], [])
                if State(d["state"]) not in EDITABLE} if found is not None else set()
        for a, t in due.items():
            if a not in done and t < now - timedelta(seconds=1):  # what went out is reported, never changed
                bad("at", f"{at_raw!r} is in the past for {a} ({t:%Y-%m-%d %H:%M} UTC)",
                    "move the row (or its anchor) into the future, or remove it")
                break
        for a, t in until.items():
            if t is not None and a in due and t <= due[a]:
                bad("not_after", f"not_after {until_raw!r} is not later than the row's time for {a}",
                    "give a closing time after the publish time")
                break
        if found is not None and (found["thread_key"] or None) != _thread_key(row, defaults, key):
            bad("thread", "a row's thread cannot change after it was imported",
                "give the row a new key (and --prune the old one)")
    variables: dict[str, Any] = {"campaign": {"key": key, "sha": sha, "row": fields, "index": row.index}}
    attachments = []
    image_path = _value(row, defaults, "image")
    if image_path and load_image is not None:
        from publisher.channels import media

        try:
            attachments = [media.Attachment(load_image(str(image_path)), str(_value(row, defaults, "alt") or "").strip())]
        except InputError as e:
            bad("image", e)
    elif _value(row, defaults, "alt") and not image_path:
        bad("alt", "alt text without an image", "give the row an image, or remove its alt text")
    first = min(due.values()) if due else now
    new = service.NewPost(text=str(text).strip(), accounts=[a.name for a in good], at=first, kind=kind,
                          link=_value(row, defaults, "link"), language=_value(row, defaults, "lang"),
                          not_after=min((t for t in until.values() if t), default=None),
                          thread_key=_thread_key(row, defaults, key), idempotency_key=key,
                          variables=variables, variants=variants, media=attachments)
    p = Planned(key, row, fields, new, due, until, sha, status, existing=found, valid=len(issues) == before)
    if found is not None:
        p.stored = by_post.get(found["id"], [])
    if slot and found is not None:  # a slot row keeps the slots it was given
        for d in p.stored:
            p.due.setdefault(d["account"], d["due_at"])
    stored_fields = ((found or {}).get("variables", {}).get("campaign") or {}).get("row") or {}
    if found is not None and fixed_at and stored_fields.get("at") == fields.get("at"):
        for d in p.stored:  # and keeps the time it was first given (``now`` stays the first import's now)
            if d["account"] in p.due:
                p.due[d["account"]] = d["due_at"]
    if found is not None and fixed_until and stored_fields.get("not_after") == fields.get("not_after"):
        for d in p.stored:
            if d["account"] in p.until:
                p.until[d["account"]] = d["not_after"]
    return p


def _thread_key(row: Row, defaults: dict[str, Any], key: str) -> str | None:
    thread = row.fields.get("thread")
    return f"campaign-thread:{thread}" if thread else None


def _check_threads(planned: list[Planned], issues: list[Issue]) -> None:
    """In a thread, each row replies to the one before it in the file: its time may not be earlier."""
    last: dict[tuple[str, str], tuple[datetime, Planned]] = {}
    for p in planned:
        if not p.new.thread_key:
            continue
        for account, t in p.due.items():
            prev = last.get((p.new.thread_key, account))
            if prev and t < prev[0]:
                issues.append(Issue(p.row.where("at"), f"thread {p.row.fields.get('thread')!r}: this row replies to "
                                    f"{prev[1].key!r} ({prev[1].row.where()}) but is due before it on {account}",
                                    "order the thread's rows by time, or give this row a later time"))
            last[(p.new.thread_key, account)] = (t, p)


def _fill_slots(settings: Settings, store: Store, result: Plan, now: datetime) -> None:
    want: dict[str, list[Planned]] = {}
    for p in result.rows:
        for a in p.new.accounts:
            if a not in p.due:
                want.setdefault(a, []).append(p)
    if not want:
        return
    with store.read() as conn:
        occupied = _occupied(conn, list(want), scope(result.name))
    for p in result.rows:
        for a, t in p.due.items():
            if a in occupied:
                occupied[a].append(t)
    issues: list[Issue] = []
    for a, rows in want.items():
        try:
            times = slots.next_slots(settings.account(a), occupied[a], now, len(rows))
        except ValueError as e:
            issues.append(Issue(rows[0].row.where("at"), str(e), f"add slots to accounts.{a}, or give rows a time"))
            continue
        for p, t in zip(rows, times, strict=True):
            p.due[a] = t
    for p in result.rows:
        if p.due:
            p.new.at = min(p.due.values())
    if issues:
        raise CampaignInvalid(issues)


def _cadence(settings: Settings, store: Store, result: Plan) -> None:
    """When each planned delivery will really go out under its account's cadence, with what already waits."""
    accounts = sorted({a for p in result.rows for a in p.due})
    with store.read() as conn:
        occupied = _occupied(conn, accounts, scope(result.name))
    for a in accounts:
        account = settings.account(a)
        mine = [(p.key, p.due[a], p.new.kind.value) for p in result.rows if a in p.due]
        others = occupied.get(a, [])
        times = [t for _, t, _ in mine] + others
        kinds = {k for _, _, k in mine}
        if kinds <= set(account.policy.exempt_kinds):
            continue
        runs = slots.cadence(account, times)
        for (key, _, _), t in zip(mine, runs, strict=False):
            result.runs_at[(key, a)] = t


# -- storing --


@dataclass
class Report:
    name: str
    counts: dict[str, int]
    updated: list[str] = field(default_factory=list)
    untouched: list[str] = field(default_factory=list)  # "key: delivery id is published" (never touched)
    pruned: list[str] = field(default_factory=list)
    stored: bool = False


def apply(settings: Settings, store: Store, result: Plan, prune: bool = False) -> Report:
    """Store the plan in one transaction: all of it, or (on any error) nothing."""
    report = Report(result.name, result.counts())
    if prune:
        report.untouched.extend(f"{g}; not in the file, left as it is" for g in result.gone)
    if not result.changes and not (prune and result.removed):
        return report
    actor = settings.actor
    now = utcnow()
    dialect = rawsql.dialect(store.is_sqlite)
    new = [p for p in result.rows if p.status == "new"]
    loose = [p for p in new if not p.new.thread_key]  # built before the transaction: nothing of theirs is in the store
    early: dict[int, Built] = {id(p): b for p, b in zip(loose, build_loose(settings, dialect, loose, now), strict=True)}
    events: list[audit.Event] = []
    with store.tx() as conn:
        lock_keys(conn, f"campaign:{result.name}")  # PostgreSQL: a racing import of this campaign waits, then sees it
        current = conn.execute(select(campaigns.c.updated_at).where(campaigns.c.name == result.name)).scalar()
        if (current is None) != (result.stored_campaign is None) or (
                current is not None and result.stored_campaign is not None and current != result.stored_campaign["updated_at"]):
            raise InvalidState(f"campaign {result.name} was changed by another import while this one was checked",
                               hint="run the import again")
        if result.stored_campaign is None:
            conn.execute(campaigns.insert().values(name=result.name, source_sha256=result.file.sha256,
                                                   header=result.header, created_by=actor, created_at=now, updated_at=now))
        else:
            conn.execute(campaigns.update().where(campaigns.c.name == result.name)
                         .values(source_sha256=result.file.sha256, header=result.header, updated_at=now))
        last = _thread_tails(conn, [p for p in new if p.new.thread_key])
        seqs: dict[str, int] = {}
        built = [early[id(p)] if id(p) in early else build(settings, dialect, p, now, last, _next_seq(conn, seqs, p))
                 for p in new]
        insert(conn, posts, [b.post for b in built])
        insert(conn, deliveries, [v for b in built for v in b.deliveries])
        _save_images(settings, conn, [p for p in result.rows if p.status in ("new", "changed")], now)
        moves: list[Move] = []
        for p in result.rows:
            if p.status == "changed":
                events.extend(_update_row(settings, conn, p, now, report, moves))
        if prune:
            for post in result.removed:
                for d in result.removed_deliveries[post["id"]]:
                    if State(d["state"]) in CANCELLABLE:
                        moves.append(Move(d, [State(d["state"])], State.CANCELLED, "cancelled",
                                          details={"by": actor, "reason": f"campaign {result.name}: row removed"}))
                    else:
                        report.untouched.append(f"{post['idem_key']}: {d['id']} is {d['state']}")
                report.pruned.append(post["idem_key"])
        imported = audit.Event("campaign.imported", details={
            "campaign": result.name, "source_sha256": result.file.sha256, **report.counts,
            "pruned": len(report.pruned)})
        audit.append_pending(conn, [audit.pending(actor, imported), *(ev for b in built for ev in b.events),
                                    *(audit.pending(actor, ev) for ev in events)], at=now)
        if moves:
            moved = transitions(conn, actor, moves)
            for m, ok in zip(moves, moved, strict=True):
                if not ok:
                    report.untouched.append(f"{m.delivery['id']} moved on meanwhile (a worker claimed it)")
    report.stored = True
    return report


def _next_seq(conn: Connection, seqs: dict[str, int], p: Planned) -> int | None:
    """The row's place in its thread: after the thread's last stored post and the rows before it in the file."""
    key = p.new.thread_key
    if not key:
        return None
    if key not in seqs:
        q = select(posts.c.thread_seq).where(posts.c.thread_key == key).order_by(posts.c.thread_seq.desc()).limit(1)
        seqs[key] = conn.execute(q).scalar() or 0
    seqs[key] += 1
    return seqs[key]


def _save_images(settings: Settings, conn: Connection, rows: list[Planned], now: datetime) -> None:
    """The fitted images (and link-card thumbnails) the rows' payloads name, each stored once by sha256."""
    from publisher.channels import media

    images: dict[str, Any] = {}
    for p in rows:
        images.update(p.new.fitted)
        if p.new.media and not p.new.fitted:  # checked in a forked checker: its fitted copies stayed there
            for name in p.rendered:
                _refs, fitted = media.for_channel(p.new.media, settings.account(name).channel, name)
                images.update((i.sha256, i) for i in fitted)
    if images:
        media.save(conn, list(images.values()), now)


def _thread_tails(conn: Connection, rows: list[Planned]) -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], str] = {}
    keys = sorted({p.new.thread_key for p in rows if p.new.thread_key})
    if not keys:
        return out
    q = (select(deliveries.c.id, deliveries.c.thread_key, deliveries.c.account).join(posts, posts.c.id == deliveries.c.post_id)
         .where(deliveries.c.thread_key.in_(keys)).order_by(posts.c.thread_seq, deliveries.c.part))
    for did, key, account in conn.execute(q):
        out[(key, account)] = did
    return out


def _update_row(settings: Settings, conn: Connection, p: Planned, now: datetime, report: Report,
                moves: list[Move]) -> list[audit.Event]:
    """A changed row: the post's content, then each account's deliveries still editable (conditional on their
    state: a worker that claimed one first keeps it, and it is reported). Published ones are never touched."""
    assert p.existing is not None
    post: dict[str, Any] = dict(p.existing)
    new = p.new
    stored_accounts = {d["account"] for d in p.stored}
    if not any(State(d["state"]) in EDITABLE for d in p.stored) and set(p.rendered) <= stored_accounts:
        for name in sorted(stored_accounts):  # all of it went out (or is on its way): the row is left as it is
            states = ", ".join(sorted({d["state"] for d in p.stored if d["account"] == name}))
            report.untouched.append(f"{p.key}: {name} is {states}; not changed")
        return []
    post.update(kind=new.kind.value, text=new.text, link=new.link, language=new.language, variables=new.variables,
                scheduled_at=new.at, not_after=new.not_after)
    conn.execute(posts.update().where(posts.c.id == post["id"]).values(
        kind=post["kind"], text=post["text"], link=post["link"], language=post["language"],
        variables=post["variables"], scheduled_at=post["scheduled_at"], not_after=post["not_after"]))
    events = [audit.Event("campaign.row_updated", post_id=post["id"], details={
        audit.DIGEST_KEY: audit.post_digest(post), "campaign": new.variables["campaign"].get("name"), "key": p.key})]
    report.updated.append(p.key)
    by_account: dict[str, list[dict[str, Any]]] = {}
    for d in p.stored:
        by_account.setdefault(d["account"], []).append(d)
    keys = service.tone_keys(settings, new.kind, p.rendered)
    # a new text (of any copy) voids the approvals given; a new time or another free account keeps them
    content_changed = any(
        len(ds) != len(p.rendered[a]) or any(d["payload"] != x.to_dict() for d, x in zip(ds, p.rendered[a], strict=True))
        for a, ds in by_account.items() if a in p.rendered)
    first, approval_events = approvals.after_change(settings, conn, post["id"], p.rendered, content_changed,
                                                    settings.actor, f"campaign row {p.key} changed")
    events.extend(approval_events)
    add: list[str] = []
    for name, parts in p.rendered.items():
        old = by_account.pop(name, [])
        if not old:
            add.append(name)
            continue
        if any(State(d["state"]) not in EDITABLE for d in old):
            report.untouched.append(f"{p.key}: {name} is {', '.join(sorted({d['state'] for d in old}))}; not changed")
            continue
        if len(old) != len(parts):  # the number of parts changed: cancel the old ones, add the new
            for d in old:
                moves.append(Move(d, [State(d["state"])], State.CANCELLED, "cancelled",
                                  details={"by": settings.actor, "reason": f"campaign row {p.key} changed"}))
            add.append(name)
            continue
        for d, payload in zip(old, parts, strict=True):
            data = payload.to_dict()
            row = {**d, "payload": data}
            done = conn.execute(deliveries.update().where(
                deliveries.c.id == d["id"], deliveries.c.state.in_([s.value for s in EDITABLE])).values(
                payload=data, due_at=p.due[name], not_after=p.until.get(name), tone_key=keys[(name, d["part"])],
                state=first.value, updated_at=now, last_error=None)).rowcount
            if done != 1:
                report.untouched.append(f"{p.key}: {d['id']} was claimed meanwhile; not changed")
                continue
            events.append(audit.Event("campaign.delivery_updated", post_id=post["id"], delivery_id=d["id"], account=name,
                                      details={"from": d["state"], "to": first.value, "due_at": p.due[name].isoformat(),
                                               "payload_sha256": service.payload_hash(data),
                                               audit.DIGEST_KEY: audit.delivery_digest(row)}))
    for old in by_account.values():  # accounts no longer in the row
        for d in old:
            if State(d["state"]) in CANCELLABLE:
                moves.append(Move(d, [State(d["state"])], State.CANCELLED, "cancelled",
                                  details={"by": settings.actor, "reason": f"campaign row {p.key}: account removed"}))
            else:
                report.untouched.append(f"{p.key}: {d['id']} is {d['state']}; not changed")
    if add:
        last = _thread_tails(conn, [p]) if new.thread_key else {}
        rows, evs = delivery_rows(settings, p, post["id"], add, now, last, first)
        insert(conn, deliveries, bind(rawsql.dialect_of(conn), deliveries, rows))
        events.extend(evs)
    return events


# -- managing a stored campaign --


def get(store: Store, name: str) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    with store.read() as conn:
        row, found, by_post = _stored(conn, name)
        if row is None:
            names = [r for (r,) in conn.execute(select(campaigns.c.name))]
            raise NotFound(f"no campaign named {name!r}", hint=suggest(name, names, "campaigns"))
    ordered = sorted(found.values(), key=lambda p: ((p["variables"].get("campaign") or {}).get("index", 0), p["id"]))
    return row, ordered, by_post


def listing(store: Store) -> list[dict[str, Any]]:
    with store.read() as conn:
        rows = [dict(r) for r in conn.execute(select(campaigns).order_by(campaigns.c.created_at)).mappings()]
        for r in rows:
            q = (select(deliveries.c.state).join(posts, posts.c.id == deliveries.c.post_id)
                 .where(posts.c.idem_scope == scope(r["name"])))
            states: dict[str, int] = {}
            for (s,) in conn.execute(q):
                states[s] = states.get(s, 0) + 1
            r["states"] = states
    return rows


def each_post(settings: Settings, store: Store, name: str, action: Callable[[Settings, Store, str], list[str]]
              ) -> tuple[list[str], list[str]]:
    """Run ``service.approve`` / ``service.cancel`` on every post of the campaign: (moved delivery ids, notes)."""
    _, found, _ = get(store, name)
    moved: list[str] = []
    notes: list[str] = []
    for post in found:
        try:
            moved.extend(action(settings, store, post["id"]))
        except InvalidState as e:
            notes.append(f"{post['idem_key']}: {e.message}")
    return moved, notes


def export_rows(store: Store, name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    row, found, _ = get(store, name)
    return row["header"], [dict((p["variables"].get("campaign") or {}).get("row") or {}) for p in found]


def next_slot(settings: Settings, store: Store, account: str, now: datetime) -> datetime:
    """The account's next free slot after ``now`` (``publisher post --at next-slot``), with what already waits."""
    config = settings.account(account)
    if not config.slots:
        raise InputError(f"account {account!r} has no slots",
                         hint=f"add slots: [\"09:00\", \"17:00\"] to accounts.{account} in the config, or give --at")
    with store.read() as conn:
        occupied = _occupied(conn, [account], "")
    try:
        return slots.next_slots(config, occupied[account], now, 1)[0]
    except ValueError as e:
        raise InputError(str(e), hint="free a slot (cancel a post) or add slots to the account") from None
