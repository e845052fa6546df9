"""Classes the fourteenth blind set showed (2026-12-05), each fixed by a mechanism; the texts are written here.

- An IBAN's or a card's digit groups were read as a phone number too, beside ``privacy.pattern``'s finding.
- One stretch of digits gave two phone findings when a second region read a part of it ("2345 6789" inside
  "0151 2345 6789")."""

from __future__ import annotations

import pytest

from tests.tone_cases import acc, found

GERMAN = acc(["de", "en"], tz="Europe/Berlin")


@pytest.mark.parametrize("text, identifier", [
    ("The refund has been sent to the account you gave us on the phone, DE89 3704 0044 0532 0130 00. Please allow "
     "3 working days.", "DE89 3704 0044 0532 0130 00"),
    ("Die Erstattung ging an DE89 3704 0044 0532 0130 00, wie am Telefon besprochen.", "DE89 3704 0044 0532 0130 00"),
    ("Charged to the card 4111 1111 1111 1111 by mistake; refunded today.", "4111 1111 1111 1111"),
])
def test_an_identifier_that_passes_its_check_is_not_also_a_phone_number(text: str, identifier: str) -> None:
    assert found("privacy.pattern", text, GERMAN) == [identifier]
    assert found("privacy.phone", text, GERMAN) == []


def test_a_phone_number_beside_an_iban_is_still_found() -> None:
    text = "Ruf mich an unter 0151 2345 6789 wegen der Erstattung auf DE89 3704 0044 0532 0130 00."
    assert found("privacy.phone", text, GERMAN) == ["0151 2345 6789"]
    assert found("privacy.pattern", text, GERMAN) == ["DE89 3704 0044 0532 0130 00"]


def test_one_stretch_of_digits_is_one_phone_finding() -> None:
    text = "Call me on 0151 2345 6789 about the refund."
    assert found("privacy.phone", text, GERMAN) == ["0151 2345 6789"]
