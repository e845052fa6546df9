"""Seventh round on issue 15's classes, from the eleventh blind set's first look (set 11 is development data now).
General mechanisms, each with cases that must fire and cases that must not; none of the texts is a post of any set.

- ``register.first-person``: in languages that write common nouns in lower case, a capitalised possessive before a
  capitalised word begins a name ("Min Side", "Mon Compte", "Mi Cuenta"), not a person speaking.
- ``phrases.banned``: round the clock as an absolute ("24/7", "las 24 horas, los 365 días", "døgnet rundt"); German
  "weltbeste" is "the best in the world" in one word.
- ``exclamation``: a run ("!!") is a finding whatever the allowance (the personal profile allows three single marks).
"""

from __future__ import annotations

import pytest

from tests.tone_cases import acc, found


@pytest.mark.parametrize(("text", "langs"), [
    ("Planlagt vedlikehold: Min Side er utilgjengelig natt til fredag.", ["nb"]),
    ("Min Side har fått ny innlogging med BankID.", ["nb"]),
    ("Connectez-vous à Mon Compte pour télécharger vos factures.", ["fr"]),
    ("Mi Cuenta vuelve a funcionar con normalidad.", ["es"]),
])
def test_a_capitalised_possessive_before_a_capitalised_word_is_a_product_name(text: str, langs: list[str]) -> None:
    assert found("register.first-person", text, acc(langs)) == []


@pytest.mark.parametrize(("text", "langs", "word"), [
    ("Min kollega på vakt svarer i kveld.", ["nb"], "Min"),
    ("Mon équipe répare la panne cette nuit.", ["fr"], "Mon"),
    ("Mi equipo está en ello.", ["es"], "Mi"),
    ("I dag er det min. Side 2 av rapporten kommer i morgen.", ["nb"], "min"),
])
def test_a_possessive_before_a_common_noun_still_speaks_as_one_person(text: str, langs: list[str], word: str) -> None:
    assert found("register.first-person", text, acc(langs)) == [word]


@pytest.mark.parametrize(("text", "langs"), [
    ("Desde hoy el servicio está garantizado las 24 horas, los 365 días.", ["es"]),
    ("Support garanti 24h/24, sans interruption.", ["fr"]),
    ("Lading garantert døgnet rundt på alle våre stasjoner.", ["nb"]),
    ("Guaranteed support 24/7 for every customer.", ["en"]),
    ("Starte deine Karriere beim weltbesten Arbeitgeber für Energiesoftware.", ["de"]),
])
def test_round_the_clock_guarantees_and_world_best_compounds_are_banned(text: str, langs: list[str]) -> None:
    assert found("phrases.banned", text, acc(langs)) != []


@pytest.mark.parametrize(("text", "langs"), [
    ("Vi garanterer svar innen 24 timer på alle henvendelser.", ["nb"]),
    ("Our NOC is staffed 24/7 and answers within 15 minutes.", ["en"]),
    ("Die Welt der Energiesoftware trifft sich in Stavanger.", ["de"]),
])
def test_a_concrete_commitment_or_a_plain_24_7_is_not_banned(text: str, langs: list[str]) -> None:
    assert found("phrases.banned", text, acc(langs)) == []


def test_a_run_of_exclamation_marks_is_a_finding_within_any_allowance() -> None:
    me = acc(["nb"], "personal")  # the personal profile allows three single marks
    assert found("exclamation", "Endelig ladeboks i borettslaget!! Takk til styret!", me) == ["!!"]
    assert found("exclamation", "Endelig ladeboks! Takk til styret! Og til gutta!", me) == []
