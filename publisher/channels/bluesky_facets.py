"""Bluesky rich-text facets: links, mentions and hashtags, indexed by UTF-8 byte offsets (byteStart inclusive,
byteEnd exclusive), as ``app.bsky.richtext.facet`` requires. Mentions need a DID: the caller passes a resolver
(``com.atproto.identity.resolveHandle``); a handle it cannot resolve gets no facet and stays plain text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_LINK = re.compile(r"(?<![\w@.])https?://[^\s<>\"'`]+")
_MENTION = re.compile(
    r"(?<![\w@./])@((?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)"
)
_TAG = re.compile(r"(?:^|(?<=\s))[#\uff03]([^\s#\uff03]+)")
_TRAILING = ".,;:!?\"'"
MAX_TAG_CHARS = 64

LINK = "app.bsky.richtext.facet#link"
MENTION = "app.bsky.richtext.facet#mention"
TAG = "app.bsky.richtext.facet#tag"


def _trim_link(url: str) -> str:
    while url and (url[-1] in _TRAILING or (url[-1] == ")" and url.count("(") < url.count(")"))):
        url = url[:-1]
    return url


def spans(text: str) -> list[tuple[int, int, str, str]]:
    """(start, end, kind, value) for every link, mention and tag in ``text``: string indices, no overlaps."""
    found: list[tuple[int, int, str, str]] = []
    for m in _LINK.finditer(text):
        url = _trim_link(m.group(0))
        if "." in url.split("://", 1)[1]:
            found.append((m.start(), m.start() + len(url), LINK, url))
    for m in _MENTION.finditer(text):
        found.append((m.start(), m.end(), MENTION, m.group(1).lower()))
    for m in _TAG.finditer(text):
        tag = m.group(1).rstrip(_TRAILING + ")]}")
        if tag and not tag.isdigit() and len(tag) <= MAX_TAG_CHARS:
            found.append((m.start(), m.start() + 1 + len(tag), TAG, tag))
    kept: list[tuple[int, int, str, str]] = []
    for span in found:  # links first, then mentions, then tags: an earlier kind wins an overlap
        if all(span[1] <= k[0] or span[0] >= k[1] for k in kept):
            kept.append(span)
    return sorted(kept)


def byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def facets(text: str, resolve: Callable[[str], str | None]) -> list[dict[str, Any]]:
    """The ``facets`` of a post with ``text``. ``resolve(handle)`` returns a DID or None (then no mention facet)."""
    out: list[dict[str, Any]] = []
    for start, end, kind, value in spans(text):
        if kind == LINK:
            feature: dict[str, Any] = {"$type": LINK, "uri": value}
        elif kind == TAG:
            feature = {"$type": TAG, "tag": value}
        else:
            did = resolve(value)
            if not did:
                continue
            feature = {"$type": MENTION, "did": did}
        out.append({"index": {"byteStart": byte_offset(text, start), "byteEnd": byte_offset(text, end)},
                    "features": [feature]})
    return out
