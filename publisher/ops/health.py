"""``publisher health``: is publisher working? Each check is named, with its result and the reason.

- ``broker``: the broker answers (Redis PING; the embedded server must be running).
- ``store``: the database answers and its schema is at the head this version knows.
- ``workers``: every channel queue that has an account configured, or due work waiting, has at least one live
  worker consuming it (heartbeats, ``publisher.ops.heartbeat``).
- ``scheduler``: at least one live scheduler, whose loop went round recently.
- ``local`` (with ``--local ROLE``, a container's own health check): a live process of that role on this host.
- ``lateness``: no delivery waiting to be published (scheduled, queued, retry_wait) is due more than ``max_late``
  ago, except thread successors waiting for their predecessor.

Nothing here changes anything: no migration, no embedded server started, no table created.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from publisher.settings import Settings

#: how long a check may wait for a server before it says it does not answer
TIMEOUT_SECONDS = 3.0
WAITING = ("scheduled", "queued", "retry_wait")


@dataclass
class Check:
    name: str
    ok: bool
    reason: str
    details: dict[str, Any] | None = None


@dataclass
class Report:
    checks: list[Check]

    @property
    def healthy(self) -> bool:
        return all(c.ok for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {"healthy": self.healthy, "checks": [{k: v for k, v in asdict(c).items() if v is not None}
                                                    for c in self.checks]}


def _redis(settings: Settings) -> tuple[Any, str | None, str, float]:
    """(client or None, error, shown URL, seconds the PING took)."""
    from publisher.ops import redisconn

    url = redisconn.url(settings, start=False)
    if url is None:
        return None, "the embedded broker is not running (a worker, scheduler or `publisher run` starts it)", \
            f"embedded ({settings.valkey_dir})", 0.0
    client = redisconn.client(url, timeout=TIMEOUT_SECONDS)
    started = time.monotonic()
    try:
        client.ping()
    except Exception as e:  # noqa: BLE001 - any failure to answer is the answer
        client.close()
        return None, f"does not answer: {type(e).__name__}", redisconn.shown(url), 0.0
    return client, None, redisconn.shown(url), time.monotonic() - started


def check_broker(settings: Settings, client_out: list[Any] | None = None) -> Check:
    """The Redis broker answers (also where heartbeats live: ``client_out`` receives the open client). With RabbitMQ
    carrying the messages, this is the Redis check (heartbeats, budgets, cadence) and ``check_rabbitmq`` the other."""
    client, error, shown, took = _redis(settings)
    if client is None:
        return Check("broker", False, f"{shown}: {error}")
    if client_out is not None:
        client_out.append(client)
    else:
        client.close()
    return Check("broker", True, f"{shown} answered in {took * 1000:.0f} ms")


def check_rabbitmq(settings: Settings) -> Check:
    """RabbitMQ answers when it carries the messages (``PUBLISHER_BROKER_URL``)."""
    import time

    from publisher.errors import PublisherError
    from publisher.workers.broker import _shown
    from publisher.workers.broker import check_rabbitmq as reach

    assert settings.broker_url
    started = time.monotonic()
    try:
        reach(settings.broker_url)
    except PublisherError as e:
        return Check("rabbitmq", False, str(e))
    return Check("rabbitmq", True, f"{_shown(settings.broker_url)} answered in "
                                   f"{(time.monotonic() - started) * 1000:.0f} ms")


def _store(settings: Settings) -> tuple[Any, Check]:
    from publisher.store import SCHEMA_HEAD, Store

    url = settings.database_url
    shown = url.split("://", 1)[0]
    if url.startswith("sqlite"):
        from pathlib import Path

        path = Path(url.split("///", 1)[-1])
        if not path.exists():
            return None, Check("store", False, f"sqlite: {path} does not exist (any publisher command creates it)")
    elif "connect_timeout" not in url:
        url = f"{url}{'&' if '?' in url else '?'}connect_timeout={int(TIMEOUT_SECONDS)}"
    try:
        store = Store(url, migrate=False)
        revision = store.current_revision()
    except Exception as e:  # noqa: BLE001 - any failure to answer is the answer
        from publisher.logs import scrub

        return None, Check("store", False, f"{shown}: does not answer: {scrub(str(e).splitlines()[0] if str(e) else type(e).__name__)[:200]}")
    if revision != SCHEMA_HEAD:
        return store, Check("store", False, f"{shown}: schema at revision {revision or 'none'}, this version needs "
                                            f"{SCHEMA_HEAD} (any publisher command migrates it)")
    return store, Check("store", True, f"{shown}: answers, schema at head ({SCHEMA_HEAD})")


def _age(iso: str | None, now: float) -> float | None:
    if not iso:
        return None
    return now - datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def check_local(beats: list[dict[str, Any]], role: str) -> Check:
    """A live ``role`` process on this host (heartbeats name the host: a container's hostname is its own)."""
    import socket

    host = socket.gethostname()
    mine = [b for b in beats if b.get("role") == role and b.get("host") == host]
    if not mine:
        return Check("local", False, f"no live {role} process on this host ({host})")
    return Check("local", True, f"{len(mine)} live {role} process(es) on this host ({host}): pid "
                 f"{', '.join(str(b.get('pid')) for b in mine)}")


def check_processes(settings: Settings, client: Any, store: Any, local: str | None = None) -> list[Check]:
    """Live workers for each queue that needs one, and a live scheduler whose loop is going round (and, given
    ``local``, a live process of that role on this host)."""
    from publisher.ops import heartbeat
    from publisher.workers.broker import QUEUES

    beats = heartbeat.alive(client)
    now = time.time()
    workers = [b for b in beats if b.get("role") == "worker"]
    schedulers = [b for b in beats if b.get("role") == "scheduler"]
    needed = settings.channels
    due_channels: set[str] = set()
    if store is not None:
        due_channels = _due_channels(store)
    needed |= due_channels
    consumed: dict[str, int] = {}
    for w in workers:
        for q in w.get("queues") or []:
            consumed[q] = consumed.get(q, 0) + 1
    missing = [q for q in QUEUES if q in needed and not consumed.get(q)]
    where = ", ".join(f"{q} ({consumed.get(q, 0)})" for q in QUEUES if q in needed) or "none needed"
    if missing:
        why = [f"{q} ({'due work waiting' if q in due_channels else 'accounts configured'})" for q in missing]
        worker_check = Check("workers", False, f"no live worker consumes {', '.join(why)}; "
                             f"{len(workers)} worker process(es) alive", {"live": len(workers), "missing": missing})
    else:
        worker_check = Check("workers", True, f"{len(workers)} worker process(es) alive; per queue: {where}",
                             {"live": len(workers), "per_queue": consumed})
    stale_after = settings.heartbeat_seconds * heartbeat.TTL_BEATS + 30  # a tick never takes this long when healthy

    def going_round(s: dict[str, Any]) -> bool:  # its loop went round lately (or it has just started)
        age = _age(s.get("progress") or s.get("started"), now)
        return age is not None and age <= stale_after

    going = [s for s in schedulers if going_round(s)]
    if not schedulers:
        sched_check = Check("scheduler", False, "no live scheduler (run `publisher scheduler` or `publisher run`)")
    elif not going:
        ages = ", ".join(f"{s['host']}:{s['pid']} {(_age(s.get('progress'), now) or 0):.0f} s" for s in schedulers)
        sched_check = Check("scheduler", False, f"{len(schedulers)} scheduler(s) alive but their loops are stuck "
                            f"(last round: {ages})")
    else:
        sched_check = Check("scheduler", True, f"{len(going)} scheduler(s) alive and going round",
                            {"live": len(going)})
    return [worker_check, sched_check, *([check_local(beats, local)] if local else [])]


def _due_channels(store: Any) -> set[str]:
    from sqlalchemy import select

    from publisher.schema import deliveries
    from publisher.store import utcnow

    with store.read() as conn:
        rows = conn.execute(select(deliveries.c.channel).where(deliveries.c.state.in_(WAITING),
                                                               deliveries.c.due_at <= utcnow()).distinct())
        return {r[0] for r in rows}


def check_lateness(store: Any, max_late: timedelta) -> Check:
    """Deliveries waiting to be published that are due more than ``max_late`` ago (thread successors whose
    predecessor is not done yet are waiting for it, not late)."""
    from sqlalchemy import and_, func, or_, select

    from publisher.schema import deliveries
    from publisher.store import utcnow

    now = utcnow()
    d, p = deliveries.alias("d"), deliveries.alias("p")
    late = and_(d.c.state.in_(WAITING), d.c.due_at < now - max_late,
                or_(d.c.prev_id.is_(None), p.c.state.in_(("published", "cancelled", "expired"))))
    joined = d.outerjoin(p, p.c.id == d.c.prev_id)
    with store.read() as conn:
        count = conn.execute(select(func.count()).select_from(joined).where(late)).scalar() or 0
        oldest = conn.execute(select(d.c.id, d.c.account, d.c.due_at, d.c.state).select_from(joined).where(late)
                              .order_by(d.c.due_at).limit(1)).first()
    limit = f"{max_late.total_seconds():g} s"
    if not count or oldest is None:
        return Check("lateness", True, f"no delivery is more than {limit} late")
    behind = (now - oldest.due_at.astimezone(UTC)).total_seconds()
    return Check("lateness", False, f"{count} deliver{'y is' if count == 1 else 'ies are'} more than {limit} late; "
                 f"oldest {oldest.id} ({oldest.account}, {oldest.state}) {behind:.0f} s past due",
                 {"late": count, "oldest": oldest.id, "oldest_seconds": round(behind, 1)})


def run(settings: Settings, max_late: timedelta, local: str | None = None) -> Report:
    clients: list[Any] = []
    broker = check_broker(settings, clients)
    store, store_check = _store(settings)
    checks = [broker, store_check]
    if settings.broker_url:
        checks.insert(1, check_rabbitmq(settings))
    if clients:
        checks += check_processes(settings, clients[0], store if store_check.ok else None, local)
        clients[0].close()
    else:
        checks += [Check(name, False, "unknown: the broker does not answer (heartbeats live there)")
                   for name in ("workers", "scheduler", *(["local"] if local else []))]
    if store is not None and store_check.ok:
        checks.append(check_lateness(store, max_late))
    else:
        checks.append(Check("lateness", False, "unknown: the store is not usable (see the store check)"))
    if store is not None:
        store.dispose()
    return Report(checks)
