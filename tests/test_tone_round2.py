"""Second round on issue 15's classes (dev posts e001-e140): mechanisms, each with a case that must fire and one
that must not.

Identifier labels before numbers (not phones), fiction ranges (phones), hostility within the sentence and with
possessives, elision, vocatives and thing subjects, banned phrases as people vary them, short texts whose words
settle the language.
"""

from __future__ import annotations

import pytest

from publisher import tone
from publisher.models import PostKind
from publisher.rules.hostility import find
from publisher.rules.phrases import banned_pattern
from publisher.settings import AccountConfig
from tests.tone_cases import acc


def rules(text: str, account: AccountConfig, kind: PostKind = PostKind.NOTE) -> dict[str, str]:
    out: dict[str, str] = {}
    for f in tone.check(text, account, kind=kind):
        if out.get(f.rule) != "block":
            out[f.rule] = f.severity
    return out


# -- phone numbers: identifier labels and fiction ranges --

@pytest.mark.parametrize(("text", "langs", "tz"), [
    ("Fjordnett AS, org.nr. 987 654 321, søker kundeservicemedarbeider.", ["es"], "Europe/Madrid"),
    ("Incidencia n.º 612 345 678 cerrada.", ["es"], "Europe/Madrid"),
    ("Fjordnett France, SIREN 612 345 678, déménage.", ["es"], "Europe/Madrid"),
    ("Bestellung mit Auftragsnummer 0612345678 versandt.", ["de"], "Europe/Berlin"),
    ("Case #612345678 is open with the carrier.", ["es"], "Europe/Madrid"),
    ("Kundenummer 412 34 567 er registrert.", ["nb"], "Europe/Oslo"),
])
def test_numbers_labelled_as_identifiers_are_no_phone_numbers(text: str, langs: list[str], tz: str) -> None:
    assert "privacy.phone" not in rules(text, acc(langs, tz=tz))


@pytest.mark.parametrize(("text", "langs", "tz"), [
    ("Spørsmål? Ring Marte på 913 45 678.", ["nb"], "Europe/Oslo"),
    ("Ring oss på nummer 412 34 567.", ["nb"], "Europe/Oslo"),
    ("Call the number 07911 123456 today.", ["en"], "Europe/London"),
    ("Kari (tlf. nr. 412 34 567) er på vakt.", ["nb"], "Europe/Oslo"),
    ("Lost dog! Call my brother on 07700 900123.", ["en"], "Europe/London"),
    ("Appelez Julie au 06 39 98 12 34.", ["fr"], "Europe/Paris"),
])
def test_phone_numbers_stay_phone_numbers(text: str, langs: list[str], tz: str) -> None:
    assert rules(text, acc(langs, tz=tz)).get("privacy.phone") == "block"


# -- hostility --

@pytest.mark.parametrize(("text", "langs"), [
    ("INC-4920: Feilen ligger ikke hos oss. Dere er for dumme til å starte ruteren på nytt.", ["nb"]),
    ("That was our call. You are useless.", ["en"]),  # "our" in the sentence before does not make it self-critical
    ("Ferme-la, tu ne sais pas de quoi tu parles, espèce d'abruti.", ["fr"]),
    ("Mi casero es un cerdo y un sinvergüenza.", ["es"]),
    ("To the blogger spreading lies: talk to our lawyers, clown.", ["en"]),
    ("Der Hersteller hat uns mit seinem Schrott im Stich gelassen.", ["de"]),
])
def test_hostility_found(text: str, langs: list[str]) -> None:
    assert find(text, langs), text


@pytest.mark.parametrize(("text", "langs"), [
    ("The switch failed, so it was useless. A new one arrives at 14:00.", ["en"]),
    ("Clean-up day: we collected paper, glass, trash.", ["en"]),
    ("The cause was a stupid typo in our own route filter.", ["en"]),
    ("I was an idiot and forgot my badge again.", ["en"]),
    ("Der Müll wird in Hamburg ab nächster Woche dienstags abgeholt.", ["de"]),
])
def test_no_hostility(text: str, langs: list[str]) -> None:
    assert not find(text, langs), text


# -- banned phrases --

@pytest.mark.parametrize(("phrase", "text"), [
    ("100% uptime", "Business fibre with 100 % uptime."),
    ("100% uptime", "How we achieved 100 percent uptime."),
    ("guaranteed uptime", "FjordCloud: uptime guaranteed, or your money back."),
    ("will never happen again", "This will never ever happen again."),
    ("game changer", "A real game-changer for start-ups."),
])
def test_banned_phrases_as_people_write_them(phrase: str, text: str) -> None:
    assert banned_pattern(phrase).search(text)


@pytest.mark.parametrize(("phrase", "text"), [
    ("100% uptime", "Availability was 99.97 % in May; the uptime report is online."),
    ("100% uptime", "1100% uptime is not a thing."),
    ("will never happen again", "The fault happened again tonight."),
    ("game changer", "It changes the game for nobody."),
])
def test_banned_phrases_do_not_match_other_claims(phrase: str, text: str) -> None:
    assert not banned_pattern(phrase).search(text)


# -- language of short texts --

@pytest.mark.parametrize(("text", "langs"), [
    ("Our Hamburg office is closed tomorrow.", ["de"]),
    ("Wir sind morgen nicht erreichbar.", ["es"]),
    ("Nos bureaux sont fermés demain.", ["nb"]),
])
def test_short_text_whose_words_settle_the_language(text: str, langs: list[str]) -> None:
    assert "language" in rules(text, acc(langs))


@pytest.mark.parametrize(("text", "langs"), [
    ("Morgen ist unser Büro geschlossen.", ["de"]),
    ("Ya está disponible FjordCloud Backup en España.", ["es"]),
    ("Fjordnett at the NOG day.", ["de"]),
])
def test_short_text_in_a_declared_language_or_undecided(text: str, langs: list[str]) -> None:
    assert "language" not in rules(text, acc(langs))


# -- profanity: each language's endings on its own words --

def test_remembered_clean_tokens_never_change_what_is_found() -> None:
    """``profanity.find`` remembers the tokens it found clean (neither profane nor a phrase's first word) for the
    next post. Every text must get the same spans with that memory as without it, in either order: a phrase's first
    word ("bull", "fils", "fy") remembered clean would hide "bull shit" after "a bull terrier"."""
    from publisher.rules import profanity

    words = profanity.wordset()
    texts = ["We sell a bull terrier and a fils électrique.", "That is bull shit, honestly.", "fils de pute !",
             "fy faen for en dag", "Fy, for en fin dag i dag!", "sh1t happens #TNC31", "#TNC31 starts now",
             "a$$hole move, a$$ets moved", "assets moved to Stavanger", "f u c k this, said nobody",
             "Die Leitung wurde zum dritten Mal beschädigt.", "For en drittsekken.", "Diese verdammten Router.",
             "scunthorpe and shitake", "the shitshow of a night", "hell of a job", "Hello shell"]
    langs = ("en", "nb", "de", "fr")

    def fresh(text: str) -> list[tuple[int, int]]:
        profanity._clean.cache_clear()
        return profanity.find(text, words, langs)

    alone = [fresh(t) for t in texts]
    assert sum(map(bool, alone)) >= 8  # varied enough: most texts have a hit, some none
    for order in (texts, texts[::-1], texts * 2):
        profanity._clean.cache_clear()
        remembered = {t: profanity.find(t, words, langs) for t in order}
        assert [remembered[t] for t in texts] == alone, order
    assert profanity._clean(words, profanity._phrase_starts(words), profanity.per_language(words, langs))


def test_a_word_is_inflected_with_its_own_languages_endings_only() -> None:
    from publisher.rules.profanity import find as profane
    from publisher.rules.profanity import wordset

    words = wordset()
    assert not profane("Die Leitung wurde zum dritten Mal beschädigt.", words, ("de",))
    assert profane("For en drittsekken.", words, ("nb",))
    assert profane("Diese verdammten Router.", words, ("de",))
