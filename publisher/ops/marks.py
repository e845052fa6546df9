"""How a delivery's state is shown to a person: a symbol and a word, never colour alone."""

from __future__ import annotations

from publisher.models import State

#: state -> (symbol, label, rich style); the label carries the meaning, the style only repeats it
MARKS: dict[str, tuple[str, str, str]] = {
    State.DRAFT.value: ("·", "draft", "dim"),
    State.PENDING_APPROVAL.value: ("?", "needs approval", "magenta"),
    State.SCHEDULED.value: ("○", "scheduled", "cyan"),
    State.QUEUED.value: ("→", "queued", "blue"),
    State.PUBLISHING.value: ("→", "publishing", "blue"),
    State.PUBLISHED.value: ("✓", "published", "green"),
    State.RETRY_WAIT.value: ("↻", "retry wait", "yellow"),
    State.UNKNOWN.value: ("!", "unknown", "bold red"),
    State.RECONCILING.value: ("!", "reconciling", "red"),
    State.HELD.value: ("‖", "HELD", "bold yellow"),
    State.FAILED.value: ("✗", "failed", "bold red"),
    State.CANCELLED.value: ("-", "cancelled", "dim"),
    State.EXPIRED.value: ("-", "expired", "dim"),
}


def mark(state: str) -> tuple[str, str, str]:
    return MARKS.get(state, ("?", state, ""))
