"""Sixth round on issue 15's classes, from the tenth blind set's first look (set 10 is development data now). General
mechanisms, each with cases that must fire and cases that must not; none of the texts is a post of any set.

- ``phrases.banned``: "always" said as "every single time" or "without exception", also as a fragment right after
  the guarantee, and the French contraction "au monde" ("the best ... in the world").
- ``register.first-person``: German "meinen" is also the verb "to think"; the possessive comes before a noun.
- ``hashtags.camelcase``: a tag may end with a number (an edition, a year) and run together the organisation's own
  names (its domains' labels); French elides "de" before a vowel ("#offredemploi").
- ``privacy.email``: an abbreviation the post spells out ("call for papers ... cfp@") names a function.
"""

from __future__ import annotations

import pytest

from publisher import tone
from publisher.models import PostKind
from publisher.settings import AccountConfig
from tests.tone_cases import acc, found


def messages(rule: str, text: str, account: AccountConfig) -> list[str]:
    return [f"{f.message} {f.suggestion or ''}" for f in tone.check(text, account, kind=PostKind.NOTE) if f.rule == rule]


@pytest.mark.parametrize(("text", "langs"), [
    ("Our on-call paging is guaranteed to wake the right person. Every single time.", ["en"]),
    ("Varslene fra oss kommer garantert fram. Hver eneste gang.", ["nb"]),
    ("Mit uns kommen Ihre Alarme garantiert an, ohne Ausnahme.", ["de"]),
    ("Nous garantissons la livraison de vos alertes. À chaque fois.", ["fr"]),
    ("Garantizamos que tus alertas llegan, sin excepción.", ["es"]),
    ("La plateforme de supervision la plus fiable au monde.", ["fr"]),
    ("Tindra, le meilleur service d'astreinte au monde.", ["fr"]),
])
def test_an_absolute_said_as_every_time_or_in_the_world_is_banned(text: str, langs: list[str]) -> None:
    assert found("phrases.banned", text, acc(langs)) != []


@pytest.mark.parametrize(("text", "langs"), [
    ("Every time an alarm fires at night, we guarantee a reply within 15 minutes.", ["en"]),
    ("We guarantee a technician on site within four hours. Every time we miss that, the month's fee is credited.",
     ["en"]),
    ("Garantizamos una red cada vez más rápida para nuestros clientes en Sevilla.", ["es"]),
    ("Le meilleur moment de la conférence, c'était le dîner au bord du fjord.", ["fr"]),
    ("Every single time the build breaks, the pager tells us first.", ["en"]),
])
def test_a_commitment_or_a_report_with_every_time_is_not_banned(text: str, langs: list[str]) -> None:
    assert found("phrases.banned", text, acc(langs)) == []


def test_german_meinen_as_a_verb_is_not_first_person_but_the_possessive_is() -> None:
    de = acc(["de"])
    assert found("register.first-person", "Wie manche meinen, sei unser Programm nur Werbung.", de) == []
    assert found("register.first-person", "Die Kolleginnen in Hamburg meinen das ernst.", de) == []
    assert found("register.first-person", "Meine neue Rolle im Team beginnt am Montag.", de) == ["Meine"]
    assert found("register.first-person", "Das ist meiner Meinung nach zu teuer.", de) == ["meiner"]
    assert found("register.first-person", "Danke für meine 10 Jahre bei Tindra.", de) == ["meine"]


def test_a_tag_of_the_organisations_own_name_and_a_number_is_several_words() -> None:
    org = acc(["en"], own_domains=["tindra.no", "status.tindra.no"])
    assert any("#TindraConf27" in m for m in messages("hashtags.camelcase", "Tickets are on sale #tindraconf27", org))
    # a personal account has no own domains: the domains its post links to stand in for them
    me = acc(["en"], "personal")
    text = "Talk accepted, see you in Trondheim https://tindra.no/conf #tindradays2027"
    assert any("#TindraDays2027" in m for m in messages("hashtags.camelcase", text, me))
    for calm in ("Patch day #windows11", "Back to normal #covid19", "Migrating #ipv6only", "Ready #tindra2027"):
        assert found("hashtags.camelcase", calm, org) == [], calm


def test_a_french_tag_that_elides_de_before_a_vowel_is_several_words() -> None:
    fr = acc(["fr"])
    assert any("#OffreDemploi" in m for m in messages("hashtags.camelcase", "Nous recrutons #offredemploi", fr))
    assert found("hashtags.camelcase", "Nous recrutons à Nantes #recrutement", fr) == []


def test_an_abbreviation_the_post_spells_out_is_a_function_mailbox_on_an_own_domain() -> None:
    org = acc(["en"], own_domains=["tindra.no"])
    assert found("privacy.email", "The call for papers closes Friday. Questions to cfp@tindra.no", org) == []
    assert found("privacy.email", "Our data protection officer answers at dpo@tindra.no", org) == []
    # initials nobody spells out are a person's; the same abbreviation on a domain not the organisation's too
    assert found("privacy.email", "The call for papers closes Friday. Questions to kmh@tindra.no", org) == \
        ["kmh@tindra.no"]
    assert found("privacy.email", "The call for papers closes Friday. Questions to cfp@gmail.com", org) == \
        ["cfp@gmail.com"]
