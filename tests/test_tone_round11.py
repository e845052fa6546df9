"""Classes the seventeenth blind set showed (2026-12-05), each fixed by a mechanism; the texts are written here.

- "Infallible" is "never fails" in one word ("la plateforme infaillible", "unfehlbar"); "nobody is infallible"
  admits a limit and passes.
- "Without risk" with a word between ("without any risk", "sans le moindre risque", "ohne das geringste Risiko")
  passed; "not without risk" is an admission and passes.
- An absolute claim inside quotation marks is mentioned, not made: "a competitor advertises '100 % uptime'".
- A German tag of an inflected adjective and a noun (#digitaleverwaltung) was taken for a compound: a compound
  takes an adjective bare ("Digitalverwaltung"), so an adjective with its "-e" ending starts a phrase.
- "Carte Vitale" names the French social security number it carries.
- An insult only people earn ("incompétents", "incompetents", "Lügner") used as a noun with an article ("Les
  incompétents de notre hébergeur") needed a target word before it; it is aimed at people by itself. Its span is
  the word, so inside a quotation (« bande d'incapables ») it stays someone else's words."""

from __future__ import annotations

import pytest

from tests.tone_cases import acc, found

ALL = acc(["en", "nb", "de", "fr", "es"])
GERMAN = acc(["de", "en"], tz="Europe/Berlin")


@pytest.mark.parametrize("text, claim", [
    ("Ledgra, la plateforme infaillible pour vos factures.", "infaillible"),
    ("Unsere Plattform ist unfehlbar, auch am Monatsende.", "unfehlbar"),
    ("An infallible e-invoicing network for every business.", "infallible"),
    ("Migrate your archive without any risk this weekend.", "without any risk"),
    ("Changez de prestataire sans le moindre risque.", "sans le moindre risque"),
    ("Wechseln Sie ohne das geringste Risiko.", "ohne das geringste risiko"),
    ("Cambie de proveedor sin el menor riesgo.", "sin el menor riesgo"),
])
def test_infallible_and_without_any_risk_are_claims(text: str, claim: str) -> None:
    assert [t.lower() for t in found("phrases.banned", text, ALL)] == [claim]


@pytest.mark.parametrize("text", [
    "Nobody is infallible: we forgot to renew a certificate, and here is what we changed.",
    "Personne n'est infaillible, nous non plus : voici le compte rendu de l'incident.",
    "Niemand ist unfehlbar. Hier ist unser Bericht zur Störung vom Dienstag.",
    "The migration is not without risk, so we will run it on Sunday night.",
    "Die Umstellung ist nicht ohne Risiko; wir testen sie zuerst in Hamburg.",
    "Plan the change without risk assessment shortcuts: the checklist is on the wiki.",
])
def test_admitting_a_limit_is_not_a_claim(text: str) -> None:
    assert found("phrases.banned", text, ALL) == []


@pytest.mark.parametrize("text", [
    "Ein Mitbewerber wirbt mit '100 % Verfügbarkeit'. Wir veröffentlichen lieber unsere echten Zahlen: 99,95 %.",
    "Un concurrent promet « zéro risque ». Nous publions nos chiffres réels chaque trimestre.",
    'A competitor advertises "always available". We publish our real figures instead: 99.95 % in 2027.',
])
def test_a_claim_in_quotation_marks_is_mentioned_not_made(text: str) -> None:
    assert found("phrases.banned", text, ALL) == []


def test_the_same_claim_without_quotation_marks_is_made() -> None:
    assert found("phrases.banned", "Ledgra: 100 % Verfügbarkeit für alle Kunden.", ALL) == ["100 % Verfügbarkeit"]


@pytest.mark.parametrize("tag, camel", [
    ("#digitaleverwaltung", "#DigitaleVerwaltung"),
    ("#DIGITALEVERWALTUNG", "#DigitaleVerwaltung"),
    ("#elektronischerechnung", "#ElektronischeRechnung"),
    ("#neueregeln", "#NeueRegeln"),
])
def test_an_inflected_german_adjective_and_a_noun_are_two_words(tag: str, camel: str) -> None:
    from publisher import tone

    text = f"Die Zustellung an Landesbehörden läuft wieder normal. {tag}"
    findings = [f for f in tone.check(text, GERMAN) if f.rule == "hashtags.camelcase"]
    assert [text[f.start:f.end] for f in findings] == [tag]
    assert camel in findings[0].suggestion


@pytest.mark.parametrize("tag", ["#digitalverwaltung", "#hundefutter", "#landesverwaltung", "#stellenangebot",
                                 "#kundeportal", "#schweinebratenrezept", "#hundeschulesommer", "#pferdestallbau"])
def test_a_german_compound_stays_one_word(tag: str) -> None:
    """A noun's linking "-e-" ("Hunde-schule", "Kunde-portal") is not an adjective's ending: the noun lacks the
    adjective's other forms (no "hunder", no "kunder"); the first four are words of the large list as well."""
    assert found("hashtags.camelcase", f"Neu im Blog: {tag}", GERMAN) == []


def test_carte_vitale_names_the_social_security_number() -> None:
    text = ("Si quelqu'un trouve une carte Vitale au nom de Paul Martin, numéro 1 68 03 38 185 042 27, perdue "
            "hier au salon de Lyon, merci de me contacter ici.")
    assert found("privacy.pattern", text, acc(["fr"], kind="personal", tz="Europe/Paris")) == ["1 68 03 38 185 042 27"]


@pytest.mark.parametrize("text, languages", [
    ("Retour à la normale. Les incompétents de notre hébergeur ont encore redémarré le mauvais serveur.", ["fr"]),
    ("Service restored. The incompetents at our hosting provider rebooted the wrong server again.", ["en"]),
    ("Wieder normal. Die Inkompetenten bei unserem Hoster haben den falschen Server neu gestartet.", ["de"]),
])
def test_an_insult_only_people_earn_is_aimed_at_people_by_itself(text: str, languages: list[str]) -> None:
    assert found("sentiment", text, acc(languages)) != []


def test_an_insult_only_people_earn_inside_a_quotation_is_reported_speech() -> None:
    text = ("Un internaute a qualifié notre équipe support de « bande d'incapables » cette semaine. Nous ne sommes "
            "pas d'accord : cette équipe a travaillé toute la nuit pour rétablir le service.")
    assert found("sentiment", text, acc(["fr"])) == []
