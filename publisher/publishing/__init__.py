"""The publish path: ``decide`` (what to do with a delivery, from its row and the clock), ``outcomes`` (the one table:
adapter answer -> transition, for publishing and reconciling), ``runner`` (claim -> call -> record: ``Publisher``)
and ``reconcile`` (unknown outcomes looked up, never sent blindly)."""

from publisher.publishing.decide import delivery_ref
from publisher.publishing.outcomes import MAX_TRANSIENT_ATTEMPTS, Label
from publisher.publishing.runner import CLAIM_CHUNK, Publisher, Sender

__all__ = ["CLAIM_CHUNK", "MAX_TRANSIENT_ATTEMPTS", "Label", "Publisher", "Sender", "delivery_ref"]
