"""Classes the eighteenth blind set showed on first look (2026-12-05), each fixed by a mechanism; the texts are
written here.

- A claim in a sentence that disclaims promising it ("Ingen kan love 100 prosent oppetid", "No one can promise 100 %
  uptime", "Niemand kann 100 % Verfügbarkeit versprechen") was taken for the claim: a negation before it and a verb
  of promising in the sentence admit a limit. The built-in organisation profile's three listed phrases ("100%
  uptime", "guaranteed uptime", "will never happen again") matched literally past that; the claims they repeated
  cover them by meaning, so the profile lists none (over every labelled set, no finding changed)."""

from __future__ import annotations

import pytest

from tests.tone_cases import acc, found

ALL = acc(["en", "nb", "de", "fr", "es"])


@pytest.mark.parametrize("text", [
    "Ingen kan love 100 prosent oppetid, og det gjør heller ikke vi. Det vi kan love, er åpenhet.",
    "No one can promise 100 % uptime, and neither do we: every incident is on the status page within 15 minutes.",
    "We cannot guarantee 100% availability, so every incident goes on the status page.",
    "Niemand kann 100 % Verfügbarkeit versprechen. Wir veröffentlichen jede Störung.",
    "Personne ne peut promettre une disponibilité de 100 %. Nous publions chaque incident.",
    "Nadie puede prometer un 100 % de disponibilidad. Publicamos cada incidencia.",
])
def test_a_disclaimed_promise_is_not_a_claim(text: str) -> None:
    assert found("phrases.banned", text, ALL) == []


@pytest.mark.parametrize("text, claim", [
    ("We promise 100% uptime to every customer.", "100% uptime"),
    ("Nobody else offers 100% uptime: we do.", "100% uptime"),
    ("We don't do downtime: 100% uptime guaranteed.", "uptime guaranteed"),
    ("Vi lover 100 prosent oppetid.", "100 prosent oppetid"),
])
def test_a_promise_made_is_still_a_claim(text: str, claim: str) -> None:
    assert claim in found("phrases.banned", text, ALL)
