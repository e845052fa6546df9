"""Classes the fifteenth and sixteenth blind sets showed (2026-12-05), each fixed by a mechanism; the texts are written
here.

- An identifier named in the sentence before the number ("they asked for my National Insurance number. It's
  QQ 12 34 56 C"), or more than 40 characters before it in the same sentence, was not taken as named, so a number
  failing its check (a specimen, a mistyped one) passed.
- The nearest label before a number says what it is: "Your badge code is ..." after "passport" is a code.
- A named identifier failing its check was reported by ``privacy.pattern`` and read as a phone number too.
- Danish on a Norwegian account passed: the function words the two share counted as Norwegian evidence. A
  neighbour's own word now leaves the text to lingua.
- Italian on a French or German account and Dutch on an English one passed: neither was a candidate, so lingua
  spread the text over the others below the confidence a finding needs. They are candidates now, and the
  confidence counted is that the text is in none of the account's languages.
- German compounds on "Arsch" ("Arschgeigen") and Norwegian ones on "helvete" were not profanity: both are
  strong roots now, beside "Scheiß" and "dritt".
- "Never down" ("aldri nede", "ne tombe jamais en panne"), "without risk" ("uten risiko", "sans risque") and
  "unbeatable" ("imbattable") passed as claims in every language.
- A multi-word tag in capitals (#PRETNUMERIQUE) was never split: from ten letters on it is, like a lower-case one."""

from __future__ import annotations

import pytest

from publisher import tone
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


def _language(text: str, languages: list[str]) -> list[str]:
    return [f.message for f in tone.check(text, acc(languages)) if f.rule == "language"]


@pytest.mark.parametrize("text, languages, named", [
    # a neighbour's own function word ("mig", "jer") beside the words it shares with Norwegian: lingua decides
    ("Tak for en rigtig god dag på konferencen i Odense. Det var dejligt at møde så mange søde folk, og jeg glæder "
     "mig allerede til næste år.", ["nb", "en"], "Danish"),
    # Portuguese beside Spanish, which shares "esta" and accented letters with it
    ("Esta semana ligámos finalmente os contadores novos da zona sul. Obrigado à equipa que ficou até tarde no "
     "escritório.", ["es"], "Portuguese"),
    # Italian and Dutch are candidates for every account: outside them, a text's confidence spread over the others
    ("Oggi abbiamo aggiornato tutti i server della sede di Torino. Grazie alla squadra che ha lavorato fino a sera.",
     ["fr", "en"], "Italian"),
    ("Morgen gaan we de nieuwe versie uitrollen naar alle klanten in Utrecht, dus verwacht wat vertraging.", ["en"],
     "Dutch"),
])
def test_a_neighbour_or_a_language_outside_the_old_candidates_is_named(text: str, languages: list[str],
                                                                      named: str) -> None:
    messages = _language(text, languages)
    assert len(messages) == 1 and f"reads as {named}" in messages[0], messages


def test_the_confidence_counted_is_that_the_text_is_in_no_declared_language() -> None:
    # lingua: 0.65 English, the rest spread over Norwegian, Italian, Dutch ...; Spanish under 0.1
    assert _language("Travelling to Porto for the RIPE meeting. See you there.", ["es"])


@pytest.mark.parametrize("text, languages", [
    ("Takk for en fin dag på messa i Bergen. Det var kjekt å møte så mange av dere, og vi gleder oss til neste år.",
     ["nb"]),
    ("Mañana actualizamos todos los servidores de la oficina de Valencia hasta las 18:00. Gracias por la paciencia.",
     ["es"]),
])
def test_the_declared_language_still_passes(text: str, languages: list[str]) -> None:
    assert _language(text, languages) == []


@pytest.mark.parametrize("text, languages, word", [
    ("Dritte Warteschleife heute. Ihr seid echt Arschgeigen.", ["de"], "Arschgeigen"),
    ("Diese Arschkriecher im Vorstand haben wieder nichts gelesen.", ["de"], "Arschkriecher"),
    ("Helvetesmaskin, nå har den spist kortet mitt igjen.", ["nb"], "Helvetesmaskin"),
])
def test_a_compound_on_a_strong_root_is_profanity(text: str, languages: list[str], word: str) -> None:
    assert found("profanity", text, acc(languages, kind="personal")) == [word]


@pytest.mark.parametrize("text, languages", [
    ("Der Marschplan für die Umstellung steht, los geht es am Montag.", ["de"]),
    ("Helvetia-forsikringen er ikke berørt av feilen.", ["nb"]),
])
def test_the_root_must_start_the_word(text: str, languages: list[str]) -> None:
    assert found("profanity", text, acc(languages)) == []


@pytest.mark.parametrize("text, languages, claim", [
    ("Our booking portal is never down, whatever the season.", ["en"], "is never down"),
    ("Med den nye plattformen er tjenesten aldri nede om natta.", ["nb"], "er tjenesten aldri nede"),
    ("Unser neues Ausleihsystem fällt nie aus, versprochen.", ["de"], "fällt nie aus"),
    ("Notre portail de réservation ne tombe jamais en panne.", ["fr"], "ne tombe jamais en panne"),
    ("Con la nueva versión el portal nunca se cae.", ["es"], "nunca se cae"),
    ("Move your catalogue to us without any risk for your library.", ["en"], "without any risk"),
    ("Flytt katalogen til oss helt uten risiko for biblioteket.", ["nb"], "uten risiko"),
    ("Wechseln Sie ohne Risiko zu unserem Katalog.", ["de"], "ohne Risiko"),
    ("La migration se fait sans risque pour votre médiathèque.", ["fr"], "sans risque"),
    ("Migre su catálogo sin riesgo para su biblioteca.", ["es"], "sin riesgo"),
    ("Our prices are unbeatable this spring.", ["en"], "unbeatable"),
    ("Prisene våre er uslåelige i vår.", ["nb"], "uslåelige"),
    ("Unsere Preise sind unschlagbar.", ["de"], "unschlagbar"),
    ("La solution imbattable pour votre médiathèque.", ["fr"], "imbattable"),
    ("Una oferta imbatible para su biblioteca.", ["es"], "imbatible"),
])
def test_never_down_without_risk_and_unbeatable_are_banned_claims(text: str, languages: list[str],
                                                                  claim: str) -> None:
    assert found("phrases.banned", text, acc(languages)) == [claim]


@pytest.mark.parametrize("text, languages", [
    ("No change goes live without risk assessment by the change board.", ["en"]),
    ("The service was never down during the move, as the logs show.", ["en"]),
    ("Ingen endring skjer uten risikovurdering.", ["nb"]),
    ("Tjenesten var aldri nede under flyttingen.", ["nb"]),
])
def test_a_process_or_a_report_is_no_claim(text: str, languages: list[str]) -> None:
    assert found("phrases.banned", text, acc(languages)) == []


def test_a_long_tag_in_capitals_is_split_into_words_too() -> None:
    text = "Atelier sur le #PRETNUMERIQUE avec les collègues de la Loire."
    findings = [f for f in tone.check(text, acc(["fr"])) if f.rule == "hashtags.camelcase"]
    assert [text[f.start:f.end] for f in findings] == ["#PRETNUMERIQUE"]
    assert "#PretNumerique" in findings[0].suggestion


@pytest.mark.parametrize("tag", ["#DNSSEC", "#NORDUNET", "#RIPE92"])
def test_a_short_tag_in_capitals_is_an_acronym(tag: str) -> None:
    assert found("hashtags.camelcase", f"See you at {tag} next week in Oslo.", acc(["en", "nb", "de", "fr", "es"])) == []
