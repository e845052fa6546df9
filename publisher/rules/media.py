"""Media: ``media.alt``, an image without alt text (a screen-reader user gets nothing from it).

Organisational accounts must describe every image (block); personal accounts are reminded (warn). The rule reads
the payload's image references (``Ctx.media``), not the text; a text-only post never triggers it.
"""

from __future__ import annotations

from publisher.models import Finding
from publisher.rules.base import Ctx, Doc, RuleOptions, RuleTable


class AltOptions(RuleOptions):
    pass


def alt(doc: Doc, ctx: Ctx, opts: AltOptions) -> list[Finding]:
    missing = [i for i, m in enumerate(ctx.media, 1) if not str(m.get("alt") or "").strip()]
    if not missing:
        return []
    which = ", ".join(f"#{i}" for i in missing)
    return [ctx.finding("media.alt", opts, f"image {which} of {len(ctx.media)} has no alt text",
                        suggestion="describe each image with --alt TEXT (one per --image, in the same order)")]


RULES: RuleTable = {"media.alt": (alt, AltOptions)}
