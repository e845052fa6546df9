"""Announcement templates: Jinja2's SandboxedEnvironment (a template from a config file or the command line can
read the entry's fields and nothing else: no attribute walks to Python internals), ``StrictUndefined`` (an unknown
field is an error, found by ``validate`` at ``feed add``, not at 3 a.m.).

Fields: title, link, summary, author, tags, published. Filters:

- ``hashtags``: tags -> CamelCase hashtags (``["machine learning", "c++"]`` -> ``#MachineLearning #C``).
- ``fit`` (or ``fit(N)``): shortens the value (the summary) so the whole rendered text fits the channel's limit
  (``textlength.ChannelLimits``), at a word boundary with an ellipsis; the rest of the text (the link) is never cut.
  With N, the value is also at most N characters.

Jinja2 is imported here, lazily: only rendering or validating a template pays for it.
"""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime
from typing import Any

from publisher.errors import InputError
from publisher.textlength import ChannelLimits

FIELDS = ("title", "link", "summary", "author", "tags", "published")
SAMPLE: dict[str, Any] = {
    "title": "A sample title", "link": "https://example.org/2026/12/sample-post", "summary": "A sample summary.",
    "author": "A. Author", "tags": ["sample tag"], "published": datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
}
_MARK = "\x00fit{}\x00"
_MARK_RE = re.compile("\x00fit(\\d+)\x00")
_WORD = re.compile(r"[^\W_]+")
ELLIPSIS = "…"


class TemplateError(InputError):
    """A template that cannot be used (exit 2)."""


def hashtag(tag: str) -> str:
    words = _WORD.findall(tag)
    return "#" + "".join(w[:1].upper() + w[1:] for w in words) if words else ""


def hashtags(tags: Any) -> str:
    if isinstance(tags, str):
        tags = [tags]
    out = [h for h in (hashtag(str(t)) for t in tags or []) if h]
    return " ".join(dict.fromkeys(out))


_local = threading.local()


def fit(value: Any, most: int | None = None) -> str:
    """The ``fit`` filter: records the value and leaves a mark that ``render`` replaces once it knows the room."""
    fitted: list[tuple[str, int | None]] | None = getattr(_local, "fitted", None)
    text = " ".join(str(value or "").split())
    if fitted is None:
        return text
    fitted.append((text, most))
    return _MARK.format(len(fitted) - 1)


def _environment() -> Any:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
    env.filters["hashtags"] = hashtags
    env.filters["fit"] = fit
    return env


_ENV: Any = None
_COMPILED: dict[str, Any] = {}


def environment() -> Any:
    global _ENV
    if _ENV is None:
        _ENV = _environment()
    return _ENV


def _compiled(template: str) -> Any:
    tpl = _COMPILED.get(template)
    if tpl is None:
        if len(_COMPILED) > 2000:
            _COMPILED.clear()
        tpl = _COMPILED[template] = environment().from_string(template)
    return tpl


def validate(template: str, what: str = "--template") -> None:
    """Raise TemplateError naming the problem: a syntax error (with its line), an unknown field or filter."""
    from jinja2 import TemplateError as JinjaError
    from jinja2 import TemplateSyntaxError, meta

    if not template.strip():
        raise TemplateError(f"{what} is empty", hint='e.g. --template "New post: {{ title }} {{ link }}"')
    env = environment()
    try:
        ast = env.parse(template)
        names = meta.find_undeclared_variables(ast)  # compiles: an unknown filter fails here
    except TemplateSyntaxError as e:
        raise TemplateError(f"{what} has a syntax error on line {e.lineno}: {e.message}",
                            hint="check the {{ }} and {% %} pairs; fields: " + ", ".join(FIELDS)) from None
    unknown = sorted(names - set(FIELDS))
    if unknown:
        raise TemplateError(f"{what} uses unknown field(s): {', '.join(unknown)}",
                            hint=f"a template can use {', '.join(FIELDS)}")
    try:
        render(template, SAMPLE, ChannelLimits(max_length=500))
    except JinjaError as e:  # an unknown filter, a sandbox refusal, a wrong call
        raise TemplateError(f"{what} cannot be rendered: {e}"[:300],
                            hint="filters: hashtags, fit, and Jinja2's built-ins; fields: " + ", ".join(FIELDS)) from None
    except TemplateError:
        raise
    except Exception as e:  # noqa: BLE001 - any other failure of a user's template is bad input
        raise TemplateError(f"{what} cannot be rendered: {type(e).__name__}: {e}"[:300],
                            hint="fields: " + ", ".join(FIELDS)) from None


def render(template: str, fields: dict[str, Any], limits: ChannelLimits) -> str:
    """The template rendered for one channel: every ``fit`` value shortened so the whole text fits ``limits``."""
    fitted: list[tuple[str, int | None]] = []
    _local.fitted = fitted
    try:
        text = str(_compiled(template).render(**fields))
    finally:
        _local.fitted = None
    text = _tidy(text)
    if not fitted:
        return text
    values = [v if most is None or len(v) <= most else _cut(v, most) for v, most in fitted]
    full = _fill(text, values)
    if limits.fits(full):
        return full
    return _shrink(text, values, limits)


def _tidy(text: str) -> str:
    """Spaces collapsed within each line (a template's indentation, an empty field), blank edges removed."""
    return "\n".join(" ".join(line.split()) for line in text.strip().splitlines()).strip()


def _fill(text: str, values: list[str]) -> str:
    return _tidy(_MARK_RE.sub(lambda m: values[int(m.group(1))], text))


def _cut(value: str, chars: int) -> str:
    if chars <= 0:
        return ""
    if len(value) <= chars:
        return value
    cut = value[: max(0, chars - 1)]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.-") + ELLIPSIS if cut else ""


def _shrink(text: str, values: list[str], limits: ChannelLimits) -> str:
    """Cut the fitted values (all by the same share) until the text fits; binary search on their length."""
    longest = max(len(v) for v in values)
    lo, hi = 0, longest
    best = _fill(text, [""] * len(values))
    while lo <= hi:
        mid = (lo + hi) // 2
        candidate = _fill(text, [_cut(v, mid) for v in values])
        if limits.fits(candidate):
            best, lo = candidate, mid + 1
        else:
            hi = mid - 1
    return best
