"""Classes the twenty-fourth and twenty-fifth blind sets showed on first look (2026-12-05), each fixed by a
mechanism; the texts are written here.

- "With Vennero you will always find a space near your destination. Guaranteed." passed. The absolute ("always")
  and the guarantee were in two sentences: the guarantee was a fragment of its own, which belongs to the sentence
  before it, as the absolute after a guarantee already did ("... guaranteed to reach you. Every single time.").
  A concrete commitment followed by the fragment ("We reply within 48 hours. Guaranteed.") promises nothing
  absolute and stays allowed.
- "Wir wissen, Lesen ist anstrengend, aber versuchen Sie es doch einfach mal." and "Es vuestra comprensión lectora."
  passed: no insult word, and the word model was below its threshold. Every blind set's writers reached for this
  taunt, that the reader cannot read (22 posts over the labelled sets, all labelled hostile, none clean). It is a
  construction now, in the five languages: reading said to be hard, optional or a rare skill as a clause of its
  own, the readers' reading comprehension, a call to learn to read. "Reading is hard on a phone in bright sun"
  describes, and "we should learn to read the contracts" is the writer's own.
- Set 25: "No volverá a pasar: en temporada, los cambios se harán solo de madrugada." was blocked as a promise that
  it never happens again. "It won't happen again" is a commitment, and a concrete measure follows it; every post
  the blind sets' writers labelled as that claim says "never" ("nunca", "jamais", "aldri"). The weak form no longer
  claims in English, Norwegian and Spanish (German and French never took it); "never", "cannot" and "nunca" still
  do.
- Set 25: "el mejor congreso de tecnología de nieve del mundo" passed: the thing between "best" and "in the world"
  was a noun with two complements ("de tecnología", "de nieve"), longer than the three words allowed. Up to two
  complements may follow now.
- Set 25: "Dudas a dpd@pistra.es." was blocked: the data protection officer's mailbox is dpo@ in English but dpd@
  in Spanish (and French), dsb@ in German, personvernombud@ in Norwegian. The role list has the same role in every
  declared language now.
- Set 26: "Med Aurelo Link får du garantert perfekt lyd i alle situasjoner, og den svikter aldri." passed: "never
  fails" was a claim in English only. "svikter aldri", "versagt nie", "ne plante jamais" and "nunca falla" are
  claims now (every post of the labelled sets saying so is labelled banned).
- The profanity list, against what every blind set's writers labelled: "Vollidioten" alone is an insult (hostile),
  not a swear word (eight posts labelled so, none profanity); "nique" alone was "pique-nique" twice, so the verb
  counts in its phrases ("nique ta mère", "je te nique") and as "niquer"; "Bordel, ..." and "verfickte" are swear
  words (four posts labelled profanity, none found). Over every labelled set profanity went from 14 wrong and 18
  missed to 3 and 13."""

from __future__ import annotations

import pytest

from publisher import tone
from publisher.models import PostKind
from publisher.rules import hostility, profanity
from publisher.rules.phrases import _NEVER_GATES, CLAIMS, claims
from tests.tone_cases import acc, found

KINDS = ["guarantee", "full-availability", "never-again", "zero-risk", "market-superlative"]


@pytest.mark.parametrize("text", [
    "With Vennero you will always find a space near your destination. Guaranteed.",
    "Med oss finner du alltid ledig plass. Garantert.",
    "Bei uns finden Sie immer einen Stellplatz. Garantiert!",
    "Avec nous, vous trouverez toujours une place. Garanti.",
    "Con nosotros siempre encontrarás sitio. Garantizado.",
    "Your barrier will never stay closed again. Guaranteed",
])
def test_a_guarantee_as_a_fragment_after_an_absolute_is_a_guarantee(text: str) -> None:
    assert [kind for _, _, kind in claims(text.lower(), KINDS)] == ["guarantee"], text


@pytest.mark.parametrize("text", [
    "We reply to every complaint within 48 hours. Guaranteed.",
    "Wir antworten innerhalb von zwei Werktagen. Garantiert.",
    "We always answer within 48 hours. Guaranteed quality is another matter.",
    "We never sell your data. It is guaranteed by law that you may ask for a copy.",
])
def test_a_concrete_commitment_or_a_guarantee_that_is_no_fragment_claims_nothing(text: str) -> None:
    assert claims(text.lower(), KINDS) == [], text


#: the lexicon and its constructions alone: the word model, on by default, would flag some of these on its own
LEXICON = {"sentiment": {"words": False}}
ALL = ["en", "nb", "de", "fr", "es"]


def _hostile(text: str, languages: list[str]) -> list[str]:
    """What the sentiment rule points at, with the word model off (the rule's own pre-filter included)."""
    return [text[f.start:f.end] for f in tone.check(text, acc(languages), kind=PostKind.NOTE, overrides=LEXICON)
            if f.rule == "sentiment"]


@pytest.mark.parametrize("text, languages, taunt", [
    ("The IP list is on page 2 of the contract. I know reading is hard, but do try.", ["en"], "reading is hard"),
    ("Your questions are answered in the FAQ. Reading is apparently optional.", ["en"], "Reading is apparently optional"),
    ("Maybe learn to read the status page before you ring us again.", ["en"], "Maybe learn to read"),
    ("Die Antworten stehen in den FAQ. Wir wissen, Lesen ist anstrengend, aber probieren Sie es.", ["de"],
     "Lesen ist anstrengend"),
    ("Die Zeitstempel stehen im Ticket. Lesen ist keine Raketenwissenschaft.", ["de"],
     "Lesen ist keine Raketenwissenschaft"),
    ("La réponse est dans la FAQ. Lire n'est pas si difficile.", ["fr"], "Lire n'est pas si difficile"),
    ("Le problème n'est pas notre API, c'est votre compréhension écrite.", ["fr"], "votre compréhension écrite"),
    ("El problema no es nuestra API. Es vuestra comprensión lectora.", ["es"], "vuestra comprensión lectora"),
    ("Estaba en rojo en la página de estado: saber leer es una habilidad muy útil.", ["es"], "saber leer es"),
    ("Svaret står i FAQ-en. Å lese er visst valgfritt.", ["nb"], "Å lese er visst valgfritt"),
    ("Lær dere å lese statussiden før dere ringer oss.", ["nb"], "Lær dere å lese"),
])
def test_the_taunt_that_the_reader_cannot_read_is_hostile(text: str, languages: list[str], taunt: str) -> None:
    assert [q for _, _, q in hostility.find(text, languages)] == [taunt]
    assert _hostile(text, languages) == [taunt]


@pytest.mark.parametrize("text", [
    "Reading is hard on a phone in bright sun, so the app now has a high-contrast mode.",
    "Lesen ist für 6,2 Millionen Erwachsene in Deutschland schwer: unsere Schilder haben deshalb Symbole.",
    "Kids learn to read faster with audio books, says the new study.",
    "Maybe we should learn to read the contracts before we sign them.",
    "On va devoir apprendre à lire les conventions nous-mêmes.",
    "Mi hijo aprende a leer con la app de la biblioteca.",
    "Barna lærer seg å lese med appen, og det går fort.",
    "Vi må nok lære oss å lese de nye kontraktene nøye.",
    "We read every comment, and reading them is hard some weeks, but we do.",
])
def test_reading_described_or_the_writers_own_is_not_a_taunt(text: str) -> None:
    assert hostility.find(text, ALL) == [], text


@pytest.mark.parametrize("text", [
    "INC-60131 lasted 1 h 45 min because we deployed at peak time. It won't happen again: changes now go out at night.",
    "Dette var vår feil, og det skal ikke skje igjen: endringer gjøres nå om natten.",
    "No volverá a pasar: en temporada, los cambios se harán solo de madrugada.",
    "Das wird nicht wieder vorkommen: Änderungen spielen wir nur noch nachts ein.",
    "Cela ne se reproduira pas : les changements se feront de nuit.",
])
def test_it_wont_happen_again_is_a_commitment_not_an_absolute(text: str) -> None:
    assert claims(text.lower(), KINDS) == [], text


@pytest.mark.parametrize("text", [
    "The outage is fixed, and this will never happen again.",
    "This cannot happen again with the new design.",
    "Esto no volverá a pasar nunca.",
    "Esto nunca volverá a pasar.",
    "Esto no puede volver a pasar.",
    "Det skal aldri skje igjen.",
    "Dette kan ikke skje igjen.",
])
def test_never_and_cannot_still_promise_it_never_happens_again(text: str) -> None:
    assert [kind for _, _, kind in claims(text.lower(), KINDS)] == ["never-again"], text


@pytest.mark.parametrize("text", [
    "#SnowConf27: el mejor congreso de tecnología de nieve del mundo.",
    "Le meilleur salon de la glisse de France, trois jours à Grenoble.",
    "The best conference for ski technology in the world is back in October.",
])
def test_the_best_thing_with_complements_in_the_whole_market_is_a_superlative(text: str) -> None:
    assert [kind for _, _, kind in claims(text.lower(), KINDS)] == ["market-superlative"], text


def test_the_best_thing_with_complements_in_a_region_or_a_contest_is_no_claim() -> None:
    for text in ("El mejor forfait de temporada de la estación, ahora con descuento.",
                 "The best part of the new release for our customers in Bergen is the offline mode."):
        assert claims(text.lower(), KINDS) == [], text


@pytest.mark.parametrize("local, language, text", [
    ("dpd", "es", "RGPD: las fotos se borran a los 30 días. Dudas a {}."),
    ("dpd", "fr", "RGPD : les photos sont effacées après 30 jours. Questions à {}."),
    ("dsb", "de", "DSGVO: Fotos werden nach 30 Tagen gelöscht. Fragen an {}."),
    ("personvernombud", "nb", "GDPR: bildene slettes etter 30 dager. Spørsmål til {}."),
    ("dpo", "en", "GDPR: photos are deleted after 30 days. Questions to {}."),
])
def test_the_data_protection_officers_mailbox_is_a_role_in_every_language(local: str, language: str,
                                                                          text: str) -> None:
    account = acc([language], own_domains=["ski.example"])
    assert found("privacy.email", text.format(f"{local}@ski.example"), account) == []
    assert found("privacy.email", text.format(f"{local}@gmail.com"), account) != []


@pytest.mark.parametrize("text", [
    "Our hearing bridge never fails, whatever the weather.",
    "Med Aurelo Link får du perfekt lyd, og den svikter aldri.",
    "Et system som aldri feiler.",
    "Die Bridge versagt nie, auch nicht im Funkloch.",
    "L'appli ne plante jamais, même en montagne.",
    "El puente nunca falla.",
    "La app no falla nunca.",
])
def test_never_fails_is_a_claim_in_every_language(text: str) -> None:
    assert [kind for _, _, kind in claims(text.lower(), KINDS)] == ["never-again"], text


def test_every_never_again_construction_has_its_gate() -> None:
    """The constructions run behind one gate each, by position: one without a gate would never run."""
    assert len(_NEVER_GATES) == len(CLAIMS["never-again"][1])


def _swears(text: str, language: str) -> list[str]:
    return [text[a:b] for a, b in profanity.find(text, profanity.wordset(), (language,))]


@pytest.mark.parametrize("text, language, swear", [
    ("Bordel, j'ai encore perdu un embout dans le bus.", "fr", "Bordel"),
    ("Quel bordel, ce déploiement.", "fr", "bordel"),
    ("Nique ta mère, le serveur est encore tombé.", "fr", "Nique ta"),
    ("Verfickte Glasfaserspleiße bei minus zehn Grad.", "de", "Verfickte"),
    ("Was für ein Haufen verfickter Stümper.", "de", "verfickter"),
])
def test_swear_words_the_writers_label_as_such_are_found(text: str, language: str, swear: str) -> None:
    assert _swears(text, language) == [swear]


@pytest.mark.parametrize("text, language", [
    ("Pique-nique d'équipe au parc de la Tête d'Or, la meilleure réunion du trimestre.", "fr"),
    ("L'orage nous a surpris en plein pique-nique d'équipe.", "fr"),
    ("Die Leute an der Hotline sind komplette Vollidioten.", "de"),
])
def test_an_insult_or_a_picnic_is_no_swear_word(text: str, language: str) -> None:
    assert _swears(text, language) == [], text


def test_vollidioten_is_still_hostile() -> None:
    assert [q for _, _, q in hostility.find("Die Leute an der Hotline sind komplette Vollidioten.", ["de"])] == [
        "Vollidioten"]
