"""Classes the fifteenth blind set showed (2026-12-05), each fixed by a mechanism; the texts are written here.

- An identifier named in the sentence before the number ("they asked for my National Insurance number. It's
  QQ 12 34 56 C"), or more than 40 characters before it in the same sentence, was not taken as named, so a number
  failing its check (a specimen, a mistyped one) passed.
- The nearest label before a number says what it is: "Your badge code is ..." after "passport" is a code.
- A named identifier failing its check was reported by ``privacy.pattern`` and read as a phone number too."""

from __future__ import annotations

import pytest

from tests.tone_cases import acc, found

ENGLISH = acc(["en"], tz="Europe/London")
NORWEGIAN = acc(["nb", "en"], tz="Europe/Oslo")
GERMAN = acc(["de", "en"], tz="Europe/Berlin")


@pytest.mark.parametrize("text, account, identifier", [
    ("The energy supplier wanted my National Insurance number before they would switch the tariff. It's "
     "QQ 12 34 56 C, if anyone from billing is reading.", ENGLISH, "QQ 12 34 56 C"),
    ("Banken trenger kontonummeret mitt for å sende tilbake depositumet. Det er 1503 12 34567.", NORWEGIAN,
     "1503 12 34567"),
    ("Legekontoret spurte etter personnummeret mitt for å flytte timen til neste uke, så her er det: "
     "01017212345.", NORWEGIAN, "01017212345"),
])
def test_a_name_in_the_sentence_before_or_far_back_in_the_same_one_counts(text: str, account: object,
                                                                          identifier: str) -> None:
    assert found("privacy.pattern", text, account) == [identifier]


def test_a_name_two_sentences_back_does_not() -> None:
    text = ("Our account managers are away this week. The office reopens on Monday. Case 1503 12 34567 is closed, "
            "thanks for waiting.")
    assert found("privacy.pattern", text, NORWEGIAN) == []


@pytest.mark.parametrize("text", [
    "Jemand hat uns am Telefon seine Steuer-ID genannt, 12 345 678 901, bitte so etwas nie weitergeben.",
    "Bitte schickt uns keine Steuer-Identifikationsnummer wie 12 345 678 901 per Mail.",
])
def test_a_named_identifier_failing_its_check_is_not_also_a_phone_number(text: str) -> None:
    assert found("privacy.pattern", text, GERMAN) == ["12 345 678 901"]
    assert found("privacy.phone", text, GERMAN) == []


def test_a_phone_number_beside_a_named_identifier_is_still_found() -> None:
    text = "Meine Steuer-ID 12 345 678 901 habe ich geschickt, ruft mich bitte unter 0151 2345 6789 zurück."
    assert found("privacy.phone", text, GERMAN) == ["0151 2345 6789"]


def test_another_label_between_the_name_and_the_number_wins() -> None:
    text = "Kontonummeret vårt står på fakturaen. Saksnummer 1503 12 34567 er lukket, takk for tålmodigheten."
    assert found("privacy.pattern", text, NORWEGIAN) == []
