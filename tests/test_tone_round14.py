"""Classes the twenty-second blind set showed on first look (2026-12-05), each fixed by a mechanism; the texts are
written here.

- "Datos personales: protecciondedatos@velomarka.es" on the organisation's own domain was blocked as a person's
  address. A one-word local part names a function when it is a known role word or one common word; Spanish and
  French write a function's name as several words, and a mailbox runs them together. Such a local part now names a
  function when it splits into words of the account's languages (as a hashtag is split) and none of them is a
  first name, so a name and a surname run together ("marialopez", "perhansen") stay a person's.
- "Need a visa letter? Email visa@ridesummit.eu" was blocked: "visa" is a common English word, but a Finnish first
  name too, and a name is a person's address however common a word it is. The post itself writes the word in
  lower case, as a word and not a name, so it names the function; "Contact Visa at visa@" and "Questions:
  visa@" stay findings.
- "No system has 100% uptime, and ours is no exception" was blocked as a promise of full availability. A sentence
  whose subject is negated ("no system", "kein Anbieter", "aucun système", "ningún sistema", "ingen systemer")
  says nothing has the claim. "No other provider offers 100% uptime" still claims it (only we do), and "no doubt",
  "no matter what" negate no subject.
- "numéro de carte d'identité ... 880692310285" passed: the identity document's shape allowed 6-10 characters, and
  France's older identity cards carry 12 digits. It allows 12 now, still only where the words before it name the
  document."""

from __future__ import annotations

import pytest

from publisher.rules.phrases import claims
from tests.tone_cases import acc, found

KINDS = ["guarantee", "full-availability", "never-again", "zero-risk", "market-superlative"]


def _emails(text: str, languages: list[str]) -> list[str]:
    account = acc(languages).model_copy(update={"own_domains": ["velo.example", "velo-conf.example"]})
    return found("privacy.email", text, account)


@pytest.mark.parametrize("text, languages", [
    ("¿Dudas sobre tus datos? Escribe a protecciondedatos@velo.example.", ["es", "en"]),
    ("Para cualquier incidencia: atencionalcliente@velo.example", ["es"]),
    ("Une question sur votre abonnement ? serviceclient@velo.example", ["fr", "en"]),
    ("Questions about the venue: ressourceshumaines@velo.example", ["fr"]),
])
def test_a_mailbox_that_runs_words_together_names_a_function(text: str, languages: list[str]) -> None:
    assert _emails(text, languages) == []


@pytest.mark.parametrize("address, languages", [
    ("marialopez@velo.example", ["es", "en"]),
    ("perhansen@velo.example", ["nb", "en"]),
    ("jeanmarc@velo.example", ["fr"]),
    ("protecciondedatos@gmail.com", ["es"]),
])
def test_a_name_run_together_or_another_domain_stays_a_finding(address: str, languages: list[str]) -> None:
    assert _emails(f"Write to {address} today.", languages) == [address]


def test_a_word_the_post_writes_as_a_word_names_the_mailbox() -> None:
    assert _emails("Need a visa letter for the summit? Email visa@velo-conf.example with your name.", ["en"]) == []


@pytest.mark.parametrize("text", [
    "Contact Visa at visa@velo-conf.example about the letter.",
    "Questions: visa@velo-conf.example",
    "Contact Anna at anna@velo.example, she knows the venue.",
])
def test_a_name_written_as_a_name_or_not_at_all_stays_a_finding(text: str) -> None:
    assert len(_emails(text, ["en"])) == 1


@pytest.mark.parametrize("text", [
    "No system has 100% uptime, and ours is no exception: the lockers keep working offline.",
    "Kein System hat 100 % Verfügbarkeit, auch unseres nicht.",
    "Aucun système n'a 100 % de disponibilité, le nôtre non plus.",
    "Ningún sistema tiene un 100 % de disponibilidad, tampoco el nuestro.",
    "Ingen systemer har 100 % oppetid, heller ikke vårt.",
    "No investment is risk-free.",
])
def test_a_claim_whose_subject_is_negated_claims_nothing(text: str) -> None:
    assert claims(text.lower(), KINDS) == []


@pytest.mark.parametrize("text", [
    "No other provider offers 100% uptime.",
    "Kein anderer Anbieter hat 100 % Verfügbarkeit.",
    "No doubt our platform has 100% uptime.",
    "No matter what we deliver 100% uptime.",
    "Our platform has 100% uptime.",
])
def test_no_other_no_doubt_and_no_matter_still_claim(text: str) -> None:
    assert claims(text.lower(), KINDS) != []


def test_a_twelve_digit_identity_card_number_named_as_one_is_found() -> None:
    text = "L'appli refuse mon numéro de carte d'identité 930471250618 pour le tarif étudiant. Une idée ?"
    assert found("privacy.pattern", text, acc(["fr"], kind="personal")) == ["930471250618"]
    unnamed = "Commande 930471250618 expédiée ce matin, livraison demain."
    assert found("privacy.pattern", unnamed, acc(["fr"], kind="personal")) == []
