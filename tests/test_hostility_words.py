"""The word model (``publisher.rules.hostility_words``), which the ``sentiment`` rule asks by default.

Real parts: the weights shipped in ``publisher/data`` and the training code of ``benchmarks/``. The texts below were
written for these tests and are in no labelled set."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

from benchmarks import hostility_words as training
from publisher import tone
from publisher.models import AccountKind, PostKind
from publisher.rules import hostility_words
from publisher.settings import AccountConfig
from tests.tone_labelled import PATH

ORG = AccountConfig(name="comms", channel="dryrun", kind=AccountKind.ORGANISATION, timezone="Europe/Oslo",
                    languages=["en", "nb", "de", "fr", "es"])
PERSONAL = ORG.model_copy(update={"kind": AccountKind.PERSONAL})
#: contempt and sarcasm aimed at people, without an insult word the lexicon knows
HOSTILE = (
    "Once again the operators who never read the manual have flooded our support line. Perhaps try reading it "
    "this time.",
    "Congratulations to the competitor who announced our feature as their invention. Truly original people.",
    "Nok en gang har kunder som aldri leser bruksanvisningen fylt opp supporten vår. Kanskje les den denne gangen?",
    "Wieder einmal haben Kunden, die offenbar nie eine Anleitung lesen, unsere Hotline blockiert. Vielleicht "
    "diesmal lesen?",
    "Encore une fois, certains clients qui ne lisent jamais la documentation ont saturé notre support. Peut-être "
    "la lire, cette fois ?",
)
#: notices, thanks and an apology, in every language
CALM = (
    "Maintenance tonight 01:00-03:00 CET: the API may time out for a few minutes. Next update at 03:15.",
    "Our release was late and the migration broke two reports. That is on us; the fix ships on Monday.",
    "Wartung heute Nacht von 01:00 bis 03:00 Uhr. Die API kann kurz nicht erreichbar sein. Nächstes Update um 03:15.",
    "Le correctif est déployé. Merci pour votre patience pendant l’incident de ce matin.",
    "Hemos publicado el informe del incidente del martes con la causa y los cinco cambios que haremos.",
)


def _sentiment(text: str, account: AccountConfig = ORG, **kw: Any) -> list[tuple[str, str]]:
    return [(f.severity, f.message) for f in tone.check(text, account, kind=PostKind.NOTE, **kw)
            if f.rule == "sentiment"]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostility_without_an_insult_word_blocks_an_organisation_and_warns_a_person(text: str) -> None:
    assert _sentiment(text, overrides={"sentiment": {"words": False}}) == []  # the lexicon alone misses it
    (severity, message), = _sentiment(text)
    assert severity == "block" and message.startswith("hostile (the word model: ")
    assert [s for s, _ in _sentiment(text, PERSONAL)] == ["warn"]
    assert _sentiment(text, overrides={"sentiment": {"hostility": "off"}}) == []


@pytest.mark.parametrize("text", CALM)
def test_notices_thanks_and_apologies_pass(text: str) -> None:
    assert hostility_words.score(text) < hostility_words.threshold(AccountKind.ORGANISATION)
    assert _sentiment(text) == []


def test_each_account_kind_has_its_own_threshold() -> None:
    """An organisation's posts are formal and a person's are not, so the same probability says more on an
    organisation's account: each kind's threshold reaches precision 0.95 over that kind's posts (each set held out).
    A text between the two blocks an organisation's post and is let through on a personal account."""
    text = "Release 4.2 is out. We look forward to the usual comments from people who never read release notes."
    p = hostility_words.score(text)
    low, high = hostility_words.threshold(AccountKind.ORGANISATION), hostility_words.threshold(AccountKind.PERSONAL)
    assert low <= p < high, f"retrained ({low} <= {p:.3f} < {high} no longer holds): pick a text between them"
    assert [s for s, _ in _sentiment(text)] == ["block"]
    assert _sentiment(text, PERSONAL) == []


def test_a_hostile_ticket_update_is_judged_too() -> None:
    text = HOSTILE[0]
    assert [f.severity for f in tone.check(text, ORG, kind=PostKind.TICKET) if f.rule == "sentiment"] == ["block"]


def test_quoted_words_are_not_the_writers_but_the_quotation_marks_count() -> None:
    found = hostility_words.features('A customer called our night shift "useless idiots" yesterday.')
    assert "w:useless" not in found and "w:idiots" not in found and 'w:"' in found
    assert {"w:customer", "w:yesterday", "p:custo"} <= found
    assert hostility_words.features("Ticket 48213 at https://status.example.org/x") == {
        "w:ticket", "w:0", "w:at", "w:url", "b:ticket 0", "b:0 at", "b:at url"}


def test_neighbouring_words_are_a_feature_marks_between_them_are_not_and_quoted_words_pair_with_none() -> None:
    found = hostility_words.features("No whining, and nobody here cares?! About «your side project» at all.")
    assert {"b:no whining", "b:whining and", "b:nobody here", "b:here cares", "b:cares about"} <= found
    assert not any("project" in f or "side" in f for f in found)
    assert {f for f in found if f.startswith("b:")} == {
        "b:no whining", "b:whining and", "b:and nobody", "b:nobody here", "b:here cares", "b:cares about",
        "b:about at", "b:at all"}


@pytest.mark.parametrize("text", ["C'est d'habitude plus rapide, l'équipe s'en occupe.", "We don't know why it's slow.",
                                  "L’export est reparti, c’est réglé."])
def test_an_apostrophe_inside_a_word_is_no_quotation_mark(text: str) -> None:
    assert "w:'" not in hostility_words.features(text) and "w:’" not in hostility_words.features(text)


def test_scare_quotes_beside_elisions_still_count() -> None:
    assert "w:'" in hostility_words.features("L'équipe a 'corrigé' le problème, d'après eux.")


@pytest.mark.parametrize("text", [
    "To whoever in the platform team pushed a config change on a Sunday without telling anyone: thank you so much.",
    "An alle, die den Ladeplatz als Parkplatz nutzen: Eure Zeit ist offenbar wertvoller als unsere.",
    "Til den nye arkitekten i plattformteamet som mener at vi bare trykker på knapper: Bli med på nattskift.",
    "Aux cabinets qui envoient leurs variables le 30 à 23h59 : le calendrier est le même depuis janvier.",
    "A quien nos escribió que cobramos por no hacer nada: nos alegra que tengas tanto tiempo libre.",
])
def test_a_call_out_is_a_feature(text: str) -> None:
    assert "s:callout" in hostility_words.features(text)


@pytest.mark.parametrize("text", [
    "An die Kunden in Hamburg: Die Säule ist wieder frei.",       # no relative clause: an address
    "Status at 14:00: all chargers that were down are back.",    # no opening address
    "To book a seat, write to events@example.org. Thanks to everyone who came!",  # no colon after the clause
])
def test_an_address_without_a_relative_clause_and_colon_is_none(text: str) -> None:
    assert "s:callout" not in hostility_words.features(text)


def test_the_shipped_table_is_the_one_training_wrote_and_scores_as_training_does() -> None:
    """The runtime's pure-Python score equals the training code's numpy computation over the same table, so what
    the benchmark measured is what ships; the table's digest is the one its file records."""
    data = json.loads(hostility_words.WEIGHTS.read_text(encoding="utf-8"))
    raw = hostility_words.TABLE.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == data["table_sha256"]
    assert len(raw) == 4 << hostility_words.BITS
    texts = [*HOSTILE, *CALM, "", "!!!"]
    m = training.Matrix(texts)
    expected = 1 / (1 + np.exp(-(m.times(np.frombuffer(raw, dtype="<f4").astype(np.float64)) + data["bias"])))
    assert [round(hostility_words.score(t), 6) for t in texts] == [round(float(p), 6) for p in expected]


def test_the_threshold_follows_the_files_rule_and_no_measuring_set_was_trained_on() -> None:
    data = json.loads(hostility_words.WEIGHTS.read_text(encoding="utf-8"))
    root = PATH.parent.parent.parent
    assert data["trained_on"] == {p: hashlib.sha256((root / p).read_bytes()).hexdigest() for p in data["trained_on"]}
    assert not any(f"heldout{n}." in p for n in range(28, 36) for p in data["trained_on"])  # the held-out part
    assert {"tests/data/tone_heldout26.yaml", "tests/data/tone_heldout27.yaml"} <= set(data["trained_on"])
    for kind in AccountKind:
        chosen = next((r["threshold"] for r in data["cross_validated"][kind] if r["precision"] >= 0.95), 0.98)
        assert data["thresholds"][kind] == chosen == hostility_words.threshold(kind)


def test_the_enqueue_path_scores_without_numpy() -> None:
    """The CLI's enqueue path: pure Python, the table read in one piece (its cost is in benchmarks/tone_speed.py)."""
    code = (f"import sys; from publisher.rules import hostility_words as h; s = h.score({HOSTILE[0]!r}); "
            "print('numpy' in sys.modules, s >= h.threshold('organisation'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True"], out


def test_a_text_of_a_few_words_gets_no_verdict() -> None:
    """Too short for what the model learnt: "yes" weighs a lot in sarcasm ("Yes, Darren. We know where the off
    switch is."), and alone in three words it would decide."""
    text = "needs a yes"
    assert hostility_words.score(text) >= hostility_words.threshold(AccountKind.ORGANISATION)  # what it would say
    assert _sentiment(text) == [] and _sentiment(text, model=True, overrides={"sentiment": {"model": True}}) == []
    longer = f"{HOSTILE[1]} {text}"
    assert [s for s, _ in _sentiment(longer)] == ["block"]


def test_a_long_quotation_is_reported_speech_and_leaves_no_mark() -> None:
    """Scare quotes (a word or a few) are a sign of sarcasm, so their marks are features; a quoted sentence is
    reported speech ("We read the comment: «...». The criticism is fair."), and its marks go with its words. Sets 22
    and 23 each had a calm reply to a quoted complaint blocked for the marks."""
    scare = hostility_words.features("Thanks for the «upgrade» that broke every export again this morning.")
    assert "w:«" in scare and "w:upgrade" not in scare
    reported = hostility_words.features(
        "Ihr habt uns geschrieben: «Ich warte seit drei Wochen auf meine Erstattung, das ist zu lang.» Zu Recht.")
    assert not {"w:«", "w:»", "w:erstattung"} & reported and "w:recht" in reported


@pytest.mark.parametrize("text", [
    "Saturday morning the app displayed three lifts as \"open\" while the wind had closed them.",
    "Samedi matin, l'appli a affiché des remontées « ouvertes » alors qu'elles étaient fermées.",
    "Unsere Statusseite zeigte fast eine Stunde lang „alles in Ordnung“, obwohl Kiel offline war.",
    "Nuestra página de estado mostró «todo funciona» durante casi una hora.",
    "Skiltet ved heisen viser «stengt» selv om heisen går som normalt.",
])
def test_what_a_screen_or_a_sign_showed_is_a_report_not_scare_quotes(text: str) -> None:
    """A quotation a few words after a verb of display is what a page, an app or a sign showed: its marks are no
    sign of sarcasm (set 25 had a calm correction blocked for « ouvertes »). Scare quotes elsewhere keep theirs."""
    assert not {"w:\"", "w:«", "w:»", "w:„", "w:“"} & hostility_words.features(text), text


def test_scare_quotes_after_other_verbs_keep_their_marks() -> None:
    for text in ("Thanks to the vendor for the \"upgrade\" that broke every export again.",
                 "Nothing says \"senior engineer\" like a review with one word.",
                 "Merci pour la « mise à jour » qui a tout cassé."):
        assert {"w:\"", "w:«"} & hostility_words.features(text), text


def test_a_quoted_sentence_is_reported_speech_and_leaves_no_mark() -> None:
    """A quotation of three words or more that opens with a capital letter is a quoted sentence, what someone said
    or wrote (set 27 had a calm reply to «Dere er helt ubrukelige», four words, blocked for the marks). Scare quotes
    hold a word or a noun and keep their marks."""
    reported = hostility_words.features("«Dere er helt ubrukelige», skrev en kunde til oss i går. Det var for lenge.")
    assert not {"w:«", "w:»", "w:ubrukelige"} & reported and "w:kunde" in reported
    for scare in ("Thanks for the «seamless upgrade» that broke every export.",
                  "Merci pour cette « mise à jour » qui a tout cassé."):
        assert "w:«" in hostility_words.features(scare), scare
