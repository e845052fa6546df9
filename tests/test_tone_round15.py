"""Classes the twenty-fourth blind set showed on first look (2026-12-05), each fixed by a mechanism; the texts are
written here.

- "With Vennero you will always find a space near your destination. Guaranteed." passed. The absolute ("always")
  and the guarantee were in two sentences: the guarantee was a fragment of its own, which belongs to the sentence
  before it, as the absolute after a guarantee already did ("... guaranteed to reach you. Every single time.").
  A concrete commitment followed by the fragment ("We reply within 48 hours. Guaranteed.") promises nothing
  absolute and stays allowed."""

from __future__ import annotations

import pytest

from publisher.rules.phrases import claims

KINDS = ["guarantee", "full-availability", "never-again", "zero-risk", "market-superlative"]


@pytest.mark.parametrize("text", [
    "With Vennero you will always find a space near your destination. Guaranteed.",
    "Med oss finner du alltid ledig plass. Garantert.",
    "Bei uns finden Sie immer einen Stellplatz. Garantiert!",
    "Avec nous, vous trouverez toujours une place. Garanti.",
    "Con nosotros siempre encontrarás sitio. Garantizado.",
    "Your barrier will never stay closed again. Guaranteed",
])
def test_a_guarantee_as_a_fragment_after_an_absolute_is_a_guarantee(text: str) -> None:
    assert [kind for _, _, kind in claims(text.lower(), KINDS)] == ["guarantee"], text


@pytest.mark.parametrize("text", [
    "We reply to every complaint within 48 hours. Guaranteed.",
    "Wir antworten innerhalb von zwei Werktagen. Garantiert.",
    "We always answer within 48 hours. Guaranteed quality is another matter.",
    "We never sell your data. It is guaranteed by law that you may ask for a copy.",
])
def test_a_concrete_commitment_or_a_guarantee_that_is_no_fragment_claims_nothing(text: str) -> None:
    assert claims(text.lower(), KINDS) == [], text
