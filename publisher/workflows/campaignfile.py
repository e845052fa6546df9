"""Reading and writing campaign files: YAML (a header and ``rows:``) or CSV (the header as YAML in leading ``#``
lines, then one row per line). README "Campaigns" documents both. Reading never stops at the first problem: every
one is collected as an ``Issue`` naming the file and the row and column (CSV) or the YAML path.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from publisher.models import Finding

#: the header's keys (YAML top level, or the CSV's ``#`` lines)
HEADER_KEYS = ("name", "accounts", "anchors", "hashtags", "timezone", "defaults", "description")
#: what a row may say (YAML keys; CSV columns, plus ``variant:TARGET`` columns)
ROW_KEYS = ("key", "at", "not_after", "accounts", "kind", "thread", "link", "lang", "text", "image", "alt", "variants")
#: the columns ``export`` writes, in this order, before the variant columns
CSV_COLUMNS = ("key", "at", "not_after", "accounts", "kind", "thread", "link", "lang", "text", "image", "alt")
DEFAULT_KEYS = ("at", "not_after", "kind", "link", "lang", "accounts")
VARIANT_PREFIX = "variant:"


@dataclass
class Issue:
    """One problem with a campaign file: where, what, and what to do."""

    where: str
    message: str
    hint: str = ""
    tone: bool = False
    findings: list[Finding] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" + (f"\n  -> {self.hint}" if self.hint else "")

    def to_dict(self) -> dict[str, Any]:
        return {"where": self.where, "message": self.message, "hint": self.hint, "tone": self.tone,
                "findings": [f.to_dict() for f in self.findings]}


@dataclass
class Row:
    index: int  # 1-based position among the rows
    fields: dict[str, Any]  # as written (strings; accounts a list; variants a dict)
    file: str
    line: int | None = None  # CSV: the file's line number

    def where(self, column: str | None = None) -> str:
        if self.line is not None:
            return f"{self.file}:{self.line}" + (f" column {column!r}" if column else "")
        return f"{self.file}: rows[{self.index - 1}]" + (f".{column}" if column else "")


@dataclass
class CampaignFile:
    path: str
    sha256: str
    header: dict[str, Any]
    rows: list[Row]
    issues: list[Issue]

    def where(self, key: str | None = None) -> str:
        return f"{self.path}: {key}" if key else self.path


def suggest(word: str, choices: list[str] | tuple[str, ...], what: str) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    return f"known {what}: {', '.join(sorted(choices)) or '(none)'}"


def read(path: Path) -> CampaignFile:
    try:
        raw = path.read_bytes()
    except OSError as e:
        from publisher.errors import InputError

        raise InputError(f"cannot read {path}: {e.strerror}", hint="check the file name and its permissions") from None
    name = str(path)
    sha = hashlib.sha256(raw).hexdigest()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        return CampaignFile(name, sha, {}, [], [Issue(name, f"is not UTF-8 text (byte {e.start + 1})",
                                                      "save the file as UTF-8")])
    if path.suffix.lower() == ".csv":
        return _read_csv(name, sha, text)
    if path.suffix.lower() in (".yaml", ".yml"):
        return _read_yaml(name, sha, text)
    return CampaignFile(name, sha, {}, [], [Issue(name, "is neither .yaml/.yml nor .csv",
                                                  "name the file tnc26.yaml or tnc26.csv")])


def _load_yaml(text: str, where: str, issues: list[Issue]) -> Any:
    import yaml

    try:
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - a safe loader
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" line {mark.line + 1} column {mark.column + 1}" if mark else ""
        issues.append(Issue(where + at, f"is not valid YAML: {getattr(e, 'problem', None) or e}",
                            "fix the syntax (quote texts that contain ': ' or start with '#')"))
        return None


def _header(data: dict[str, Any], where: str, issues: list[Issue]) -> dict[str, Any]:
    header = {}
    for key, value in data.items():
        if key == "rows":
            continue
        if key not in HEADER_KEYS:
            issues.append(Issue(f"{where}: {key}", "is not a header key", suggest(str(key), HEADER_KEYS, "keys")))
            continue
        header[key] = value
    return header


def _read_yaml(name: str, sha: str, text: str) -> CampaignFile:
    issues: list[Issue] = []
    data = _load_yaml(text, name, issues)
    if data is None and not issues:
        issues.append(Issue(name, "is empty", "see README 'Campaigns' for the file's layout"))
    if issues:
        return CampaignFile(name, sha, {}, [], issues)
    if not isinstance(data, dict) or not isinstance(data.get("rows"), list):
        return CampaignFile(name, sha, {}, [], [Issue(name, "must be a mapping with a header and a 'rows:' list",
                                                      "see README 'Campaigns' for the file's layout")])
    header = _header(data, name, issues)
    rows = []
    for i, item in enumerate(data["rows"], 1):
        row = Row(i, {}, name)
        if not isinstance(item, dict):
            issues.append(Issue(row.where(), "must be a mapping (key: ..., at: ..., text: ...)"))
            continue
        for key, value in item.items():
            if key not in ROW_KEYS:
                issues.append(Issue(row.where(str(key)), "is not a row field", suggest(str(key), ROW_KEYS, "fields")))
                continue
            row.fields[key] = _norm(key, value, row, issues)
        rows.append(row)
    return CampaignFile(name, sha, header, rows, issues)


def _norm(key: str, value: Any, row: Row, issues: list[Issue]) -> Any:
    """A row's value as the importer reads it: strings; accounts a list of names; variants a dict of strings."""
    if value is None:
        return None
    if key == "accounts":
        items = value if isinstance(value, list) else str(value).replace(";", " ").replace(",", " ").split()
        return [str(v).strip() for v in items if str(v).strip()]
    if key == "variants":
        if not isinstance(value, dict):
            issues.append(Issue(row.where(key), "must be a mapping TARGET: TEXT (an account or a channel)"))
            return {}
        return {str(k): str(v) for k, v in value.items() if v is not None and str(v) != ""}
    if isinstance(value, dict | list):
        issues.append(Issue(row.where(key), "must be a single value, not a list or mapping"))
        return None
    if hasattr(value, "isoformat"):  # YAML reads an unquoted 2026-06-08T09:00+02:00 as a datetime
        return value.isoformat()
    return str(value)


def _read_csv(name: str, sha: str, text: str) -> CampaignFile:
    issues: list[Issue] = []
    lines = text.splitlines(keepends=True)
    head = 0
    while head < len(lines) and lines[head].startswith("#"):
        head += 1
    header_text = "".join(line[2:] if line.startswith("# ") else line[1:] for line in lines[:head])
    header: dict[str, Any] = {}
    if header_text.strip():
        data = _load_yaml(header_text, f"{name} (header lines 1-{head})", issues)
        if isinstance(data, dict):
            header = _header(data, f"{name} header", issues)
        elif data is not None:
            issues.append(Issue(f"{name} header", "the '#' lines must be a YAML mapping (# name: tnc26)"))
    reader = csv.reader(io.StringIO("".join(lines[head:])))
    try:
        columns = next(reader)
    except StopIteration:
        issues.append(Issue(name, "has no column line", f"start the rows with: {','.join(CSV_COLUMNS)}"))
        return CampaignFile(name, sha, header, [], issues)
    known = [c for c in ROW_KEYS if c != "variants"]
    for col in columns:
        if col not in known and not (col.startswith(VARIANT_PREFIX) and col[len(VARIANT_PREFIX):].strip()):
            issues.append(Issue(f"{name}:{head + 1} column {col!r}", "is not a campaign column",
                                suggest(col, [*known, "variant:TARGET"], "columns")))
    rows = []
    for i, values in enumerate(reader, 1):
        line = head + reader.line_num
        if not any(v.strip() for v in values):
            continue
        row = Row(i, {}, name, line)
        if len(values) > len(columns):
            issues.append(Issue(row.where(), f"has {len(values)} values for {len(columns)} columns",
                                "quote a text that contains a comma: \"like, this\""))
        variants = {}
        for col, value in zip(columns, values, strict=False):
            if value == "":
                continue
            if col.startswith(VARIANT_PREFIX):
                variants[col[len(VARIANT_PREFIX):].strip()] = value
            elif col in known:
                row.fields[col] = _norm(col, value, row, issues)
        if variants:
            row.fields["variants"] = variants
        rows.append(row)
    return CampaignFile(name, sha, header, rows, issues)


def canonical(fields: dict[str, Any]) -> dict[str, Any]:
    """A row's fields without empty values, for digests and export."""
    return {k: v for k, v in sorted(fields.items()) if v not in (None, "", [], {})}


def write_csv(header: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    """A campaign as CSV: the header in '#' lines (YAML), the columns, the rows (``fields`` as ``read`` gave)."""
    import yaml

    out = io.StringIO()
    dumped = yaml.safe_dump(json.loads(json.dumps(header)), sort_keys=False, allow_unicode=True, width=10_000)
    for line in dumped.splitlines():
        out.write(f"# {line}\n")
    targets = sorted({t for r in rows for t in (r.get("variants") or {})})
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*CSV_COLUMNS, *(VARIANT_PREFIX + t for t in targets)])
    for r in rows:
        values = [" ".join(r[c]) if c == "accounts" and r.get(c) else (r.get(c) or "") for c in CSV_COLUMNS]
        writer.writerow([*values, *((r.get("variants") or {}).get(t, "") for t in targets)])
    return out.getvalue()
