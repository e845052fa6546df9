"""The calendar as iCalendar (RFC 5545) for Outlook and Google Calendar: one VEVENT per post and account, UID
``<delivery id>@publisher`` (stable across exports, so a re-import updates instead of duplicating), times in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from publisher.ops.marks import mark

#: a post is an instant; calendars show an event of zero length badly, so each one gets a short slot
SLOT = timedelta(minutes=15)


def render(entries: list[dict[str, Any]], *, name: str = "publisher") -> bytes:
    import icalendar

    from publisher.credentials import redact

    cal = icalendar.Calendar()
    cal.add("prodid", "-//publisher//calendar export//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    stamp = datetime.now(UTC).replace(microsecond=0)
    for e in entries:
        start = e["due_at"].astimezone(UTC).replace(microsecond=0)
        _, label, _ = mark(e["state"])
        text = redact(" ".join(e["text"].split()))
        event = icalendar.Event()
        event.add("uid", f"{e['id']}@publisher")
        event.add("dtstamp", stamp)
        event.add("dtstart", start)
        event.add("dtend", start + SLOT)
        event.add("summary", f"[{e['account']}] {label}: {text[:70]}")
        lines = [text, "", f"account: {e['account']} ({e['channel']})", f"state: {label}", f"post: {e['post_id']}",
                 f"delivery: {e['id']}"]
        if e["thread_key"]:
            lines.append(f"thread: {e['thread_key']} #{e['thread_seq']}")
        if e["remote_url"]:
            lines.append(f"published at: {e['remote_url']}")
        if e["last_error"]:
            lines.append(f"note: {redact(e['last_error'])}")
        event.add("description", "\n".join(lines))
        event.add("categories", [e["account"], e["channel"]])
        event.add("status", "CANCELLED" if e["state"] in {"cancelled", "expired"} else "CONFIRMED")
        event.add("transp", "TRANSPARENT")
        cal.add_component(event)
    return bytes(cal.to_ical())
