"""Third round on issue 15's classes (dev posts g001-): general mechanisms, each with cases that must fire and
cases that must not.

Phone numbers need phone context (a country code, a phone word, a national mobile format): ticket ids, ASNs,
amounts, order and file numbers are digit runs, not phone numbers.
"""

from __future__ import annotations

import pytest

from publisher import tone
from publisher.models import PostKind
from publisher.settings import AccountConfig


def acc(languages: list[str], kind: str = "organisation", tz: str = "Europe/Oslo") -> AccountConfig:
    return AccountConfig(name="a", channel="mastodon", kind=kind, timezone=tz, languages=languages)


def rules(text: str, account: AccountConfig, kind: PostKind = PostKind.NOTE,
          overrides: dict[str, object] | None = None) -> dict[str, str]:
    out: dict[str, str] = {}
    for f in tone.check(text, account, kind=kind, overrides=overrides):
        if out.get(f.rule) != "block":
            out[f.rule] = f.severity
    return out


# -- phone numbers need phone context --

@pytest.mark.parametrize(("text", "langs", "tz"), [
    ("The carrier tracks the fault as 41234567; next update at noon.", ["en"], "Europe/Oslo"),
    ("Saken er meldt til leverandøren som 98765432 i går.", ["nb"], "Europe/Oslo"),
    ("Das Projekt kostet 41234567 Euro.", ["de"], "Europe/Berlin"),
    ("Le projet 0612345678 concerne 400 foyers à Lyon.", ["fr"], "Europe/Paris"),
    ("El expediente 612345678 afecta a 4.000 hogares.", ["es"], "Europe/Madrid"),
    ("We announce 91234567 routes less since the clean-up.", ["en"], "Europe/Oslo"),
    ("Ticket-Nr. 0171 2345678 ist geschlossen.", ["de"], "Europe/Berlin"),
    ("Pedido 612 345 678 enviado hoy.", ["es"], "Europe/Madrid"),
    ("Our peering ASN AS 39832 and prefix 185.45.120.0/22 are live at NIX.", ["en"], "Europe/Oslo"),
])
def test_digit_runs_without_phone_context_are_no_phone_numbers(text: str, langs: list[str], tz: str) -> None:
    assert "privacy.phone" not in rules(text, acc(langs, tz=tz))


@pytest.mark.parametrize(("text", "langs", "tz"), [
    ("Questions? Siri Dahl, mobil 47 12 34 56.", ["nb"], "Europe/Oslo"),  # a phone word, an unusual grouping
    ("Presse: Lena Vogt, Tel. 040 1234567.", ["de"], "Europe/Berlin"),
    ("Dudas: teléfono de Ana, 954 123 456.", ["es"], "Europe/Madrid"),
    ("Vakthavende Ola kan nås på 934 56 789.", ["nb"], "Europe/Oslo"),  # Norwegian mobile format
    ("Fragen gern direkt an Herrn Weber: 0171 2345678.", ["de"], "Europe/Berlin"),  # German mobile format
    ("Contact Tom Reid, 07911 123456.", ["en"], "Europe/London"),  # UK mobile format
    ("Le technicien est joignable au 07 12 34 56 78.", ["fr"], "Europe/Paris"),  # a phone word: even unallocated
    ("Our sales rep Jonas is on +47 412 34 567.", ["en"], "Europe/Oslo"),  # a country code
])
def test_phone_numbers_with_context_are_found(text: str, langs: list[str], tz: str) -> None:
    assert rules(text, acc(langs, tz=tz)).get("privacy.phone") == "block"


def test_phone_context_can_be_switched_off() -> None:
    text = "The carrier tracks the fault as 41234567."
    assert rules(text, acc(["nb"]), overrides={"privacy.phone": {"context": False}}).get("privacy.phone") == "block"
