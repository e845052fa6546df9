"""Find what in a store publisher cannot read: a missing table, a row whose JSON or time does not parse.

Called by the CLI only after a command failed in a way it did not expect: when the store is damaged (a row edited
by hand, a table dropped), the user gets the table, the row and the column instead of "this is a bug". Reads the
raw column text, so the rows that broke the command cannot break the check.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, inspect, text

from publisher.schema import UTCDateTime, metadata

#: Text columns that hold JSON without being typed so (the audit chain hashes the exact text)
_JSON_TEXT = {("audit_events", "details")}
MAX_PROBLEMS = 5


def _bad_json(value: Any) -> bool:
    if value is None or not isinstance(value, str | bytes):
        return False
    try:
        json.loads(value)
    except ValueError:
        return True
    return False


def _bad_time(value: Any) -> bool:
    if value is None or isinstance(value, datetime):
        return False
    try:
        datetime.fromisoformat(str(value))
    except ValueError:
        return True
    return False


def problems(url: str) -> list[str]:
    """What is damaged in the store at ``url`` (empty when nothing is found or the store cannot be opened)."""
    from publisher.store import Store

    found: list[str] = []
    try:
        store = Store(url, migrate=False)
    except Exception:  # noqa: BLE001 - a store that cannot be opened is reported by its own error
        return found
    try:
        with store.engine.connect() as conn:
            present = set(inspect(conn).get_table_names())
            for table in metadata.sorted_tables:
                if table.name not in present:
                    found.append(f"table {table.name} is missing")
                    continue
                checks = [(c.name, _bad_json) for c in table.columns
                          if isinstance(c.type, JSON) or (table.name, c.name) in _JSON_TEXT]
                checks += [(c.name, _bad_time) for c in table.columns if isinstance(c.type, UTCDateTime)]
                key = table.primary_key.columns.values()[0].name
                cols = ", ".join([key, *(name for name, _ in checks)])
                for row in conn.execute(text(f"SELECT {cols} FROM {table.name}")):  # noqa: S608 - schema names
                    for i, (name, bad) in enumerate(checks, 1):
                        if bad(row[i]):
                            found.append(f"{table.name} row {row[0]}: column {name} cannot be read")
                            if len(found) >= MAX_PROBLEMS:
                                return found
    except Exception:  # noqa: BLE001 - best effort: the caller falls back to its own report
        return found
    finally:
        store.dispose()
    return found
