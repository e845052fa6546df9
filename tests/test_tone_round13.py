"""Classes the nineteenth blind set showed on first look (2026-12-05), each fixed by a mechanism; the texts are
written here.

- "Fredag, ass." was blocked as profanity. Spoken Norwegian's "ass" ("altså") is one of the English list's words
  that are ordinary words in another language, as "slut" (an end) is. Seven Norwegian posts over six labelled sets
  used it, none swearing. Such a word was innocent on every account that declared the language, whatever language
  the post was in; it is now innocent in a post written in that language (declared, or detected), so an English
  post on a Norwegian account is still checked as English ("the crew kicked ass today")."""

from __future__ import annotations

import pytest

from publisher import tone
from publisher.models import PostKind
from tests.tone_cases import acc

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
