"""Classes the nineteenth blind set showed on first look (2026-12-05), each fixed by a mechanism; the texts are
written here.

- "Fredag, ass." was blocked as profanity. Spoken Norwegian's "ass" ("altså") is one of the English list's words
  that are ordinary words in another language, as "slut" (an end) is. Seven Norwegian posts over six labelled sets
  used it, none swearing. Such a word was innocent on every account that declared the language, whatever language
  the post was in; it is now innocent in a post written in that language (declared, or detected), so an English
  post on a Norwegian account is still checked as English ("the crew kicked ass today").
- Italian on a French account passed. Italian is one of the language rule's default candidates, but the quick
  function-word check (which lets a text through without lingua when it is clearly in an expected language) had no
  words of Italian's, so the letters Italian shares with French ("contabilità", "è") were the only evidence, and
  the text was "clearly" French. Italian now has its own function words, as each neighbour has.

Classes the twentieth blind set showed on first look:

- "Questions: api@ladeno.no" on the organisation's own domain was blocked as a person's address. A one-word local
  part that is a common word of the account's languages names a function (rechnung@, facturation@), but only from
  four letters on; three-letter words (api, dev, app, lab) are as much functions. A name stays a person's (ola@,
  per@), and initials that make no word stay unknown (jdh@).

- "Danke für nichts", "Merci pour rien", "Gracias por nada" closed three hostile ticket updates and passed. The
  idiom has no other reading in any of the five languages; it is a phrase of the hostility lexicon now, as "shame on
  you" is. It was labelled hostile in nine posts over three sets (2, 8, 20), all of them.

From the review of the eighteenth set's fixes: a claim in a sentence that disclaims promising it passed unless it
was a never-again claim ("We cannot promise that this will never happen again" was flagged), and the disclaimer
looked for a negation anywhere before the claim, so a negation of something else disclaimed a promise made ("We
can't fix it today, but we promise 100% uptime" passed). The negation now has to govern the verb of promising
(within two words, no clause break up to the claim, or the verb right after the claim as German puts it), and
applies to every claim. Over every labelled set, no finding changed."""

from __future__ import annotations

import pytest

from publisher import tone
from publisher.models import PostKind
from tests.tone_cases import acc, found

NO_EN = acc(["nb", "en"])


def profane(text: str, lang: str | None = None) -> list[str]:
    return [text[f.start:f.end] for f in tone.check(text, NO_EN, kind=PostKind.NOTE, lang=lang)
            if f.rule == "profanity"]


@pytest.mark.parametrize("text", [
    "Heisann! Fredag, ass. Vi gleder oss til helgen, og det gjør dere sikkert også.",
    "Den nye appen er ute nå, og den er veldig bra, ass. Oppdater i dag.",
    "Digg, ass.",
    "Det er slutt på ventetiden: den nye ruteren er på lager igjen fra i dag.",
])
def test_a_word_of_the_posts_language_is_not_the_english_swear_word(text: str) -> None:
    assert profane(text) == []


@pytest.mark.parametrize("text, word", [
    ("Fibre restored in Hamar. Thanks to the crew, they kicked ass today.", "ass"),
    ("Our support team kicked ass this weekend, and every ticket was closed by Monday morning.", "ass"),
])
def test_the_same_word_in_an_english_post_on_that_account_is_still_found(text: str, word: str) -> None:
    assert profane(text) == [word]
    assert profane(text, lang="en") == [word]


def test_a_declared_language_decides() -> None:
    text = "Fredag, ass."
    assert profane(text, lang="nb") == []
    assert profane(text, lang="en") == ["ass"]


ALL = acc(["en", "nb", "de", "fr", "es"])


@pytest.mark.parametrize("text", [
    "We cannot promise that this will never happen again, but we have added two checks to catch it earlier.",
    "Vi kan ikke love at dette aldri skal skje igjen, men vi har lagt inn to nye kontroller.",
    "Wir können nicht versprechen, dass das nie wieder passiert, aber wir prüfen jetzt zweimal.",
    "Personne ne peut promettre que cela n'arrivera plus jamais, mais nous avons ajouté deux contrôles.",
    "Nadie puede prometer que esto no volverá a ocurrir, pero hemos añadido dos controles.",
])
def test_a_disclaimed_never_again_is_not_a_claim(text: str) -> None:
    assert found("phrases.banned", text, ALL) == []


@pytest.mark.parametrize("text, claim", [
    ("We can't fix it today, but we promise 100% uptime from tomorrow.", "100% uptime"),
    ("No, we promise 100% uptime.", "100% uptime"),
    ("We're sorry we can't reach everyone, and we promise this will never happen again.", "never happen again"),
    ("Es ist nicht schön, aber wir versprechen 100 % Verfügbarkeit.", "100 % Verfügbarkeit"),
])
def test_a_negation_of_something_else_disclaims_nothing(text: str, claim: str) -> None:
    assert any(claim in f for f in found("phrases.banned", text, ALL))


@pytest.mark.parametrize("lang", [None, "fr"])
def test_italian_on_a_french_account_is_found(lang: str | None) -> None:
    text = ("Finalmente l'esportazione verso il nostro software di contabilità funziona di nuovo. Tre giorni di "
            "attesa, ma ora è tutto risolto.")
    findings = [f for f in tone.check(text, acc(["fr"], kind="personal"), kind=PostKind.NOTE, lang=lang)
                if f.rule == "language"]
    assert len(findings) == 1 and "Italian" in findings[0].message


def test_french_with_the_letters_it_shares_with_italian_is_still_quickly_french() -> None:
    from publisher.rules.base import Doc
    from publisher.rules.language import _quick

    text = "Il est là : la mise à jour de la paie est terminée, et très bientôt nous publierons la suite."
    assert _quick(Doc(text), ("fr", "en", "it")) == "fr"


def _emails(text: str, languages: list[str]) -> list[str]:
    account = acc(languages).model_copy(update={"own_domains": ["ladeno.no", "ladeno.de"]})
    return found("privacy.email", text, account)


@pytest.mark.parametrize("address", ["api@ladeno.no", "dev@ladeno.de", "app@ladeno.no", "lab@ladeno.no"])
def test_a_three_letter_word_on_an_own_domain_is_a_function_mailbox(address: str) -> None:
    assert _emails(f"Questions: {address}", ["en", "nb"]) == []


@pytest.mark.parametrize("address", ["ola@ladeno.no", "per@ladeno.no", "jdh@ladeno.no", "api@gmail.com"])
def test_a_three_letter_name_initials_or_another_domain_stay_findings(address: str) -> None:
    assert _emails(f"Questions: {address}", ["en", "nb"]) == [address]


@pytest.mark.parametrize("text", [
    "The bay in Bremen is free again, now the driver parked there since yesterday has moved his car. Thanks for nothing.",
    "Die Säule ist wieder frei, nachdem der Fahrer endlich seinen Wagen weggefahren hat. Danke für nichts.",
    "La borne est enfin libre, le conducteur a daigné déplacer sa voiture. Merci pour rien.",
    "El punto de carga por fin está libre, el conductor se dignó a mover su coche. Gracias por nada.",
    "Laderen er endelig ledig, sjåføren har flyttet bilen sin. Takk for ingenting.",
])
def test_thanks_for_nothing_is_hostile_in_every_language(text: str) -> None:
    findings = [f for f in tone.check(text, ALL, kind=PostKind.TICKET) if f.rule == "sentiment"]
    assert findings and findings[0].severity == "block"


@pytest.mark.parametrize("text", [
    "Thanks for nothing less than a record year: 40,000 charging sessions in November.",
    "Nothing to do on your side, thanks for your patience.",
])
def test_thanks_and_nothing_apart_are_no_idiom(text: str) -> None:
    assert [f for f in tone.check(text, ALL, kind=PostKind.NOTE) if f.rule == "sentiment"] == []
