"""A deterministic in-process layer, in the manner of Dramatiq's StubBroker: the real store, the real scheduler and
the real publish state machine, with a stub broker (a list of messages with delivery times) and a clock the test
moves. Nothing runs unless the test says so, and nothing sleeps: races, duplicate and late messages, lease expiry,
crashes between claim and call, and thread order are driven step by step, in milliseconds.

The platform is the dry-run channel (its ledger is what "was published"), scripted through account ``options.fail``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from publisher import service
from publisher import store as store_mod
from publisher.channels.dryrun import ledger_rows
from publisher.publishing import Publisher
from publisher.scheduling import Scheduler
from publisher.settings import Settings
from publisher.store import Store
from tests.conftest import Env
from tests.helpers import all_deliveries


@dataclass(order=True)
class Message:
    deliver_at: datetime
    seq: int
    channel: str = field(compare=False)
    ids: list[str] = field(compare=False)
    message_id: str = field(compare=False)


class StubBroker:
    """Messages wait here until the test delivers them; ``wipe`` loses them all, as a flushed Redis would."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        #: how many write transactions are open: a message sent inside one could be consumed before it commits
        self.open_tx = 0
        self.queue: list[Message] = []
        self._seq = itertools.count(1)

    def send(self, channel: str, ids: list[str], delay_ms: int) -> str:
        assert self.open_tx == 0, f"a message for {ids} was sent while a write transaction was open"
        n = next(self._seq)
        self.queue.append(Message(self.clock.now + timedelta(milliseconds=delay_ms), n, channel, list(ids), f"m{n}"))
        self.queue.sort()
        return f"m{n}"

    def missing(self, items: list[tuple[str, str, str | None]]) -> set[str]:
        present = {m.message_id for m in self.queue}
        return {delivery_id for _channel, delivery_id, mid in items if mid not in present}

    def due(self) -> list[Message]:
        out = [m for m in self.queue if m.deliver_at <= self.clock.now]
        self.queue = [m for m in self.queue if m.deliver_at > self.clock.now]
        return out

    def wipe(self) -> None:
        self.queue.clear()


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Sim:
    """One installation driven by hand: ``sim.run(seconds)`` ticks, sweeps and delivers messages on a fake clock."""

    def __init__(self, env: Env, accounts: dict[str, Any] | None = None) -> None:
        if accounts is not None:
            env.write_config(accounts)
        self.env = env
        self.clock = Clock(datetime.now(UTC).replace(microsecond=0))
        store_mod.set_clock(self.clock)
        self.settings: Settings = env.settings()
        self.store: Store = env.store()
        self.broker = StubBroker(self.clock)
        self._watch_transactions()
        self.scheduler = Scheduler(self.settings, self.store, self.broker.send, self.broker.missing)
        self.publisher = Publisher(self.settings, self.store, sender=self.broker.send)

    def _watch_transactions(self) -> None:
        inner = self.store.tx

        @contextmanager
        def tx() -> Iterator[Any]:
            self.broker.open_tx += 1
            try:
                with inner() as conn:
                    yield conn
            finally:
                self.broker.open_tx -= 1

        self.store.tx = tx  # type: ignore[method-assign]

    def close(self) -> None:
        store_mod.set_clock(None)

    # -- acting as a user --

    def post(self, text: str, account: str = "noc", at: datetime | None = None, **kw: Any) -> service.Accepted:
        return service.accept(self.settings, self.store,
                              service.NewPost(text=text, accounts=[account], at=at or self.clock.now, **kw))

    def ticket(self, ticket: str, text: str, account: str = "noc") -> service.Accepted:
        from publisher.models import PostKind

        return self.post(f"{ticket}: {text}", account, kind=PostKind.TICKET, thread_key=f"ticket:{ticket}")

    # -- the machinery, one step at a time --

    def tick(self) -> int:
        return self.scheduler.tick(self.clock.now)

    def sweep(self) -> dict[str, int]:
        return self.scheduler.sweep(self.clock.now)

    def deliver(self) -> dict[str, str]:
        """Hand every due message to the publish actor, in order; the outcome of each delivery id."""
        outcomes: dict[str, str] = {}
        for m in self.broker.due():
            outcomes.update(self.publisher.handle_many(m.ids))
        return outcomes

    def run(self, seconds: float, step: float = 0.5) -> None:
        """Advance the clock ``seconds`` in ``step``s, ticking, delivering and sweeping at each step."""
        for _ in range(int(seconds / step)):
            self.tick()
            self.deliver()
            self.sweep()
            self.clock.advance(step)

    # -- looking --

    def deliveries(self) -> dict[str, dict[str, Any]]:
        return {d["id"]: d for d in all_deliveries(self.store)}

    def state(self, delivery_id: str) -> str:
        return str(self.deliveries()[delivery_id]["state"])

    def ledger(self) -> list[dict[str, Any]]:
        return ledger_rows(self.env.home / "dryrun-ledger.jsonl")
