"""Classes the eighteenth blind set showed on first look (2026-12-05), each fixed by a mechanism; the texts are
written here.

- A claim in a sentence that disclaims promising it ("Ingen kan love 100 prosent oppetid", "No one can promise 100 %
  uptime", "Niemand kann 100 % Verfügbarkeit versprechen") was taken for the claim: a negation before it and a verb
  of promising in the sentence admit a limit. The built-in organisation profile's three listed phrases ("100%
  uptime", "guaranteed uptime", "will never happen again") matched literally past that; the claims they repeated
  cover them by meaning, so the profile lists none (over every labelled set, no finding changed).
- "#straßeundwetter" was not split: wordfreq's lists are case-folded ("strasse"), so "ß" folds to "ss" for the
  lookup and the suggestion keeps the tag's own letters; "#aguayclima" was not: a one-letter part never counted,
  now a function word does ("y", "à", "å")."""

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


@pytest.mark.parametrize("tag, camel, languages", [
    ("#straßeundwetter", "#StraßeUndWetter", ["de", "en"]),   # wordfreq lists "straße" as "strasse"
    ("#aguayclima", "#AguaYClima", ["es", "en"]),             # a one-letter function word joins the words
])
def test_a_tag_split_where_a_letter_folds_or_a_word_is_one_letter(tag: str, camel: str, languages: list[str]) -> None:
    from publisher import tone

    text = f"Nuevo socio de la conferencia, con tres ponencias. {tag}"
    findings = [f for f in tone.check(text, acc(languages)) if f.rule == "hashtags.camelcase"]
    assert [text[f.start:f.end] for f in findings] == [tag]
    assert camel in findings[0].suggestion


@pytest.mark.parametrize("tag", ["#adrift", "#aboard", "#ikea", "#asap"])
def test_a_word_with_a_one_letter_start_stays_one_word(tag: str) -> None:
    assert found("hashtags.camelcase", f"Heading out {tag} tomorrow", acc(["en", "es"])) == []
