"""Eighth round on issue 15's classes, from the twelfth blind set's first look (set 12 is development data now).
General mechanisms, each with cases that must fire and cases that must not; none of the texts is a post of any set.

- ``privacy.pattern``: a number in an identifier's shape that the words before it name as that identifier is one,
  even when its check digits fail (writers, and scammers' victims, copy numbers that were never valid); and three
  identifiers the rule did not know: a Norwegian bank account number (4.2.5, mod 11), a British National Insurance
  number, and an identity document's number (only where the document is named).
- ``emoji``: only ZERO WIDTH JOINER joins pictographs into one emoji; "⛴️🏔️🎒" are three, a flag is one.
- ``phrases.banned`` (full-availability): "always available" said in any of the five languages.
"""

from __future__ import annotations

import pytest

from publisher import tone
from publisher.models import PostKind
from publisher.rules import privacy
from tests.tone_cases import acc, found


# numbers whose check digits fail, named as what they are
@pytest.mark.parametrize(("text", "langs", "number"), [
    ("Kunden oppga fødselsnummer 01018012345 i chatten, vi har slettet meldingen.", ["nb"], "01018012345"),
    ("Please never post your national ID like this: 31129912345.", ["en"], "31129912345"),
    ("Premio para Ana Ruiz, DNI 12345678A, ¡enhorabuena!", ["es"], "12345678A"),
    ("Numéro de sécurité sociale du stagiaire : 1 99 12 75 123 456 99, merci de le garder pour vous.", ["fr"],
     "1 99 12 75 123 456 99"),
    ("Hier ist die Karte: 4000 1234 5678 9011, bitte buchen Sie zurück.", ["de"], "4000 1234 5678 9011"),
    ("Rückerstattung an IBAN DE00 1234 5678 9012 3456 78 veranlasst.", ["de"], "DE00 1234 5678 9012 3456 78"),
])
def test_a_named_identifier_is_found_though_its_check_digits_fail(text: str, langs: list[str], number: str) -> None:
    assert found("privacy.pattern", text, acc(langs)) == [number]


# the same shapes, unnamed and failing their checks, are order or case numbers
@pytest.mark.parametrize(("text", "langs"), [
    ("Sak 01018012345 er lukket; takk for tålmodigheten.", ["nb"]),
    ("Order 4000 1234 5678 9011 has shipped.", ["en"]),
    ("Pedido 12345678A enviado hoy.", ["es"]),
    ("Kunden ringte om saken; referanse 31129912345 gjelder fakturaen.", ["nb"]),
])
def test_an_unnamed_number_that_fails_its_check_is_not_an_identifier(text: str, langs: list[str]) -> None:
    assert found("privacy.pattern", text, acc(langs)) == []


def test_the_name_must_be_just_before_the_number() -> None:
    text = ("DNI y pasaporte se piden en la taquilla del congreso; el localizador de tu entrada es el "
            "12345678A, guárdalo.")
    assert found("privacy.pattern", text, acc(["es"])) == []


@pytest.mark.parametrize(("text", "langs", "number"), [
    ("Refusjonen går til kontonummer 1203.45.67806 i morgen.", ["nb"], "1203.45.67806"),
    ("Send pengene til 1203 45 67806, så ordner vi resten.", ["nb"], "1203 45 67806"),
    ("Send pengene til kontonummer 12034567891 i dag.", ["nb"], "12034567891"),
    ("Onboarding for Sam: NI number AB 12 34 56 C on file, laptop ordered.", ["en"], "AB 12 34 56 C"),
    ("HR note: JT123456A is his National Insurance number.", ["en"], "JT123456A"),
    ("Neue Kollegin: Personalausweisnummer T22000129 erfasst.", ["de"], "T22000129"),
    ("Passnummer: FK1234567. Ikke del dette videre.", ["nb"], "FK1234567"),
    ("Numéro de passeport 18AB12345 reçu pour le visa de l'orateur.", ["fr"], "18AB12345"),
])
def test_account_numbers_national_insurance_numbers_and_identity_documents(text: str, langs: list[str],
                                                                           number: str) -> None:
    assert found("privacy.pattern", text, acc(langs)) == [number]


@pytest.mark.parametrize(("text", "langs"), [
    ("Versjon 1203.45.67807 av appen er ute.", ["nb"]),  # the 4.2.5 shape, but the check digit fails, unnamed
    ("Saksnummer 12034567806 er lukket.", ["nb"]),  # a valid check digit, but run together and unnamed
    ("Ticket AB 12 34 56 C closed.", ["en"]),  # ... and "AB 12 34 56 C" is an NI shape: see the next test
    ("Firmware FK1234567 is rolling out to all validators tonight.", ["en"]),  # a code, no document named
    ("Bring your passport to the venue. Your badge code is FK1234567.", ["en"]),  # named, but not just before
])
def test_the_new_identifiers_need_their_check_or_their_name(text: str, langs: list[str]) -> None:
    got = found("privacy.pattern", text, acc(langs))
    if "AB 12 34 56 C" in text:
        assert got == ["AB 12 34 56 C"]  # a valid NI shape (issuable letters) is found by its shape, named or not
    else:
        assert got == []


def test_the_specimen_ni_prefix_needs_its_name() -> None:
    assert not privacy._ni_ok("QQ123456C") and privacy._ni_ok("AB123456C")
    assert found("privacy.pattern", "Ref QQ 12 34 56 C closed.", acc(["en"])) == []
    assert found("privacy.pattern", "His NI number is QQ 12 34 56 C.", acc(["en"])) == ["QQ 12 34 56 C"]


def test_the_norwegian_account_check_digit() -> None:
    assert privacy._account_ok("12034567806") and not privacy._account_ok("12034567807")


@pytest.mark.parametrize(("text", "kind", "count"), [
    ("Sommer! 🌞🚌⛴️🏔️🎒 Kjøp billett i appen.", PostKind.CAMPAIGN, 5),
    ("Storm i natt 🌩️🌧️ To automater er byttet.", PostKind.TICKET, 2),
])
def test_emoji_with_a_presentation_selector_are_counted_one_by_one(text: str, kind: PostKind, count: int) -> None:
    messages = [f.message for f in tone.check(text, acc(["nb"]), kind=kind) if f.rule == "emoji"]
    assert messages and messages[0].startswith(f"{count} emoji")


@pytest.mark.parametrize(("text", "count"), [
    ("Familie 👨‍👩‍👧 og 🇳🇴🇩🇪 og 👍🏽", 4),  # a joined family, two flags, a thumb with its skin tone
    ("🏴󠁧󠁢󠁳󠁣󠁴󠁿 ❤️‍🔥", 2),  # a tag sequence, a joined heart on fire
])
def test_joined_sequences_flags_and_modifiers_are_one_emoji_each(text: str, count: int) -> None:
    from publisher.rules.style import _EMOJI

    assert len(_EMOJI.findall(text)) == count


@pytest.mark.parametrize(("text", "langs"), [
    ("Med ny reserveløsning er billettsalget alltid tilgjengelig, uansett vær.", ["nb"]),
    ("Our ticket shop is now always available, whatever happens.", ["en"]),
    ("Ab sofort ist die App immer erreichbar.", ["de"]),
    ("Désormais, la billetterie est toujours disponible.", ["fr"]),
    ("La venta de billetes estará siempre disponible.", ["es"]),
])
def test_always_available_is_a_promise_of_full_availability(text: str, langs: list[str]) -> None:
    assert found("phrases.banned", text, acc(langs)) != []


@pytest.mark.parametrize(("text", "langs"), [
    ("The app is not always available during updates; we announce each window here.", ["en"]),
    ("Appen er ikke alltid tilgjengelig under oppdateringer.", ["nb"]),
    ("We always publish the incident report within five working days.", ["en"]),
])
def test_an_admission_or_another_always_is_no_availability_promise(text: str, langs: list[str]) -> None:
    assert found("phrases.banned", text, acc(langs)) == []


@pytest.mark.parametrize(("text", "langs", "name"), [
    ("Vi är mycket glada över att kunna berätta att den nya appen nu finns på alla tåg i regionen.", ["nb"],
     "Swedish"),
    ("Vi er meget glade for at kunne fortælle, at den nye app nu findes på alle togene i regionen.", ["nb"],
     "Danish"),
    ("Uusi sovellus toimii nyt kaikissa junissa koko alueella, ja liput voi ostaa suoraan puhelimesta.", ["nb"],
     "Finnish"),
    ("Estem molt contents de presentar la nova aplicació, que ja funciona a tots els trens de la regió.", ["es"],
     "Catalan"),
    ("Wij zijn blij te melden dat de nieuwe app nu in alle treinen van de regio werkt.", ["de"], "Dutch"),
])
def test_a_neighbouring_language_is_named(text: str, langs: list[str], name: str) -> None:
    messages = [f.message for f in tone.check(text, acc(langs)) if f.rule == "language"]
    assert messages and f"reads as {name}" in messages[0]


@pytest.mark.parametrize(("text", "langs"), [
    ("Vi er glade for å kunne fortelle at den nye appen nå fungerer på alle togene i regionen.", ["nb"]),
    ("Etter oppgraderingen i natt virker billettautomatene igjen som normalt.", ["nb"]),
    ("Estamos muy contentos de presentar la nueva aplicación, que ya funciona en todos los trenes.", ["es"]),
    ("Wir freuen uns, dass die neue App jetzt in allen Zügen der Region funktioniert.", ["de"]),
])
def test_the_declared_language_is_not_taken_for_its_neighbour(text: str, langs: list[str]) -> None:
    assert found("language", text, acc(langs)) == []


def test_neighbours_can_be_switched_off() -> None:
    text = "Vi är mycket glada över att kunna berätta att den nya appen nu finns på alla tåg i regionen."
    overrides = {"language": {"neighbours": False}}
    messages = [f.message for f in tone.check(text, acc(["nb"]), overrides=overrides) if f.rule == "language"]
    assert not any("Swedish" in m for m in messages)


@pytest.mark.parametrize("text", [
    "'Your app left me standing at the stop for an hour.' One of 212 complaints, and the passenger was right.",
    "Seguimos buscando jefe/a de proyecto: el anterior confundía 'urgente' con 'cuando me acuerde'.",
    "A customer wrote \u2018I can\u2019t find my ticket\u2019 and we answered within ten minutes.",
])
def test_single_quotes_are_quotations_for_the_first_person_check(text: str) -> None:
    assert found("register.first-person", text, acc(["en", "es"])) == []


@pytest.mark.parametrize(("text", "word"), [
    ("We're sorry, and I know the customers' anger is fair.", "I"),  # apostrophes quote nothing
    ("'Fixed', the vendor said. I don't believe it yet.", "I"),  # the quotation ended before the pronoun
])
def test_apostrophes_and_closed_quotes_do_not_hide_the_writer(text: str, word: str) -> None:
    assert found("register.first-person", text, acc(["en"])) == [word]


def test_a_single_quoted_insult_is_reported_speech_for_the_lexicon() -> None:
    text = "Customer today: 'you people are all useless idiots'. We stayed calm and fixed the VPN in 12 minutes."
    assert found("sentiment", text, acc(["en"], kind="personal")) == []
    assert found("sentiment", "You people are all useless idiots.", acc(["en"], kind="personal")) != []


@pytest.mark.parametrize(("text", "word"), [
    ("Os escribo desde la feria: estoy en el stand 12 hasta las seis.", "estoy"),
    ("Soy la nueva responsable de soporte y voy a contestar vuestras preguntas hoy.", "Soy"),
])
def test_spanish_first_person_verbs_speak_as_one_person(text: str, word: str) -> None:
    assert word in found("register.first-person", text, acc(["es"]))


@pytest.mark.parametrize(("text", "langs"), [
    ("Estamos en el stand 12 hasta las seis; pasad a vernos.", ["es"]),
    ("Our soy-free catering menu for the conference is online now.", ["en"]),
])
def test_other_persons_and_other_languages_do_not(text: str, langs: list[str]) -> None:
    assert found("register.first-person", text, acc(langs)) == []


@pytest.mark.parametrize(("text", "langs"), [
    ("Trois semaines sans réponse. Ce type est un vrai branleur.", ["fr"]),
    ("¡Hostia! Otra vez sin servicio en la estación.", ["es"]),
])
def test_two_more_swear_words(text: str, langs: list[str]) -> None:
    assert found("profanity", text, acc(langs, kind="personal")) != []


# set 13 (its first look, then development data): German says "the best in the world" with a bare genitive
@pytest.mark.parametrize(("text", "hit"), [
    ("Unsere Automaten sind die zuverlässigsten der Welt.", True),
    ("Das beste Ticketsystem der Welt, jetzt auch in Halle.", True),
    ("Die schnellsten Automaten der Welt stehen jetzt in Halle.", True),
    ("Der beste Kaffee der Stadt gibt es am Stand 4.", False),  # a city is not the market
    ("Die beste Welt ist eine, in der alle Automaten laufen.", False),  # no superlative of anything in the world
])
def test_german_superlative_of_the_world(text: str, hit: bool) -> None:
    assert (found("phrases.banned", text, acc(["de"])) != []) is hit


def test_french_foutre_is_profanity() -> None:
    assert found("profanity", "Vous vous foutez de nous ?", acc(["fr"], kind="personal")) != []


@pytest.mark.parametrize("name", ["passport", "Passnummer", "passet", "Reisepass", "Personalausweis", "Ausweisnummer",
                                  "id-kortet", "passeport", "carte d'identité", "CNI", "pasaporte", "ID card",
                                  "identity card number"])
def test_every_document_name_passes_the_substring_filter(name: str) -> None:
    # _DOCUMENT_STEMS is a hand-kept pre-filter for _DOCUMENT_NAMES: a name it lacks would never be looked for
    assert privacy._names_a_document(f"Her {name} 12")
