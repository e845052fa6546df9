"""Third round on issue 15's classes (dev posts g001-): general mechanisms, each with cases that must fire and
cases that must not.

Phone numbers need phone context (a country code, a phone word, a national mobile format): ticket ids, ASNs,
amounts, order and file numbers are digit runs, not phone numbers.
"""

from __future__ import annotations

import pytest

from publisher import tone
from publisher.models import PostKind
from publisher.rules.hostility import find
from publisher.settings import AccountConfig
from tests.tone_cases import acc


def rules(text: str, account: AccountConfig, kind: PostKind = PostKind.NOTE,
          overrides: dict[str, object] | None = None) -> dict[str, str]:
    out: dict[str, str] = {}
    for f in tone.check(text, account, kind=kind, overrides=overrides):
        if out.get(f.rule) != "block":
            out[f.rule] = f.severity
    return out


# -- phone numbers need phone context --

@pytest.mark.parametrize(("text", "langs", "tz"), [
    ("The carrier tracks the fault as 41234567; next update at noon.", ["en"], "Europe/Oslo"),
    ("Saken er meldt til leverandøren som 98765432 i går.", ["nb"], "Europe/Oslo"),
    ("Das Projekt kostet 41234567 Euro.", ["de"], "Europe/Berlin"),
    ("Le projet 0612345678 concerne 400 foyers à Lyon.", ["fr"], "Europe/Paris"),
    ("El expediente 612345678 afecta a 4.000 hogares.", ["es"], "Europe/Madrid"),
    ("We announce 91234567 routes less since the clean-up.", ["en"], "Europe/Oslo"),
    ("Ticket-Nr. 0171 2345678 ist geschlossen.", ["de"], "Europe/Berlin"),
    ("Pedido 612 345 678 enviado hoy.", ["es"], "Europe/Madrid"),
    ("Our peering ASN AS 39832 and prefix 185.45.120.0/22 are live at NIX.", ["en"], "Europe/Oslo"),
    ("INC-5040: Ordre 41 23 45 67 er levert.", ["nb"], "Europe/Oslo"),  # a label beats a national phone shape
    ("La incidencia 612 34 56 78 quedó resuelta.", ["es"], "Europe/Madrid"),
    ("Vorgang 0171 2345678 ist abgeschlossen.", ["de"], "Europe/Berlin"),
])
def test_digit_runs_without_phone_context_are_no_phone_numbers(text: str, langs: list[str], tz: str) -> None:
    assert "privacy.phone" not in rules(text, acc(langs, tz=tz))


@pytest.mark.parametrize(("text", "langs", "tz"), [
    ("Questions? Siri Dahl, mobil 47 12 34 56.", ["nb"], "Europe/Oslo"),  # a phone word, an unusual grouping
    ("Presse: Lena Vogt, Tel. 040 1234567.", ["de"], "Europe/Berlin"),
    ("Dudas: teléfono de Ana, 954 123 456.", ["es"], "Europe/Madrid"),
    ("Vakthavende Ola kan nås på 934 56 789.", ["nb"], "Europe/Oslo"),  # Norwegian mobile format
    ("Fragen gern direkt an Herrn Weber: 0171 2345678.", ["de"], "Europe/Berlin"),  # German mobile format
    ("Contact Tom Reid, 07911 123456.", ["en"], "Europe/London"),  # UK mobile format
    ("Le technicien est joignable au 07 12 34 56 78.", ["fr"], "Europe/Paris"),  # a phone word: even unallocated
    ("Our sales rep Jonas is on +47 412 34 567.", ["en"], "Europe/Oslo"),  # a country code
])
def test_phone_numbers_with_context_are_found(text: str, langs: list[str], tz: str) -> None:
    assert rules(text, acc(langs, tz=tz)).get("privacy.phone") == "block"


@pytest.mark.parametrize(("text", "langs"), [
    # a phone word nearby ("on-call", "Rufbereitschaft"), but the number is the far end of a range of amounts
    ("Join the on-call rota. Salary NOK 720 000–860 000.", ["nb", "en", "de", "fr", "es"]),
    ("Vakttelefon hver sjette uke. Lønn 720 000–860 000 kr.", ["nb", "en", "de", "fr", "es"]),
    ("Rufbereitschaft per Telefon, Gehalt 620 000–860 000 EUR.", ["nb", "en", "de", "fr", "es"]),
])
def test_the_far_end_of_a_range_of_amounts_is_no_phone_number(text: str, langs: list[str]) -> None:
    assert "privacy.phone" not in rules(text, acc(langs)), text


def test_phone_context_can_be_switched_off() -> None:
    text = "The carrier tracks the fault as 41234567."
    assert rules(text, acc(["nb"]), overrides={"privacy.phone": {"context": False}}).get("privacy.phone") == "block"


# -- hostility without a listed insult: group exclamations, verdicts, compounds, jokes, vocatives --

@pytest.mark.parametrize(("text", "langs"), [
    ("What a bunch of whiners.", ["en"]),  # a group exclamation, the word negative for VADER
    ("Menuda panda de vagos.", ["es"]),
    ("Son una panda de chapuzas, todos.", ["es"]),
    ("Quelle bande d'incapables.", ["fr"]),
    ("Deux mois sans réponse. Bande d'amateurs.", ["fr"]),
    ("Feilen er hos dere. For en gjeng med sytere.", ["nb"]),
    ("Was für ein Haufen Versager.", ["de"]),
    ("Kundeservicen deres er en vits. Patetisk.", ["nb"]),  # a verdict that is a clause of its own
    ("La couverture de nos concurrents ? Pitoyable, comme d'habitude.", ["fr"]),
    ("La atención al cliente es lenta. Patético.", ["es"]),
    ("Wer noch bei diesem Chaotenverein ist, wechselt.", ["de"]),  # an insult compounded with a group head
    ("Fire uker uten varmtvann. For et kjeltringselskap.", ["nb"]),
    ("Der Hersteller hat uns mit seinem Mistgerät im Stich gelassen.", ["de"]),
    ("Die Netzwerkidioten haben wieder alles kaputt gemacht.", ["de"]),  # a compound ending in a person insult
    ("Zum vierten Mal kein Techniker. Ihr Stümper, ich kündige.", ["de"]),  # self-word after the comma
    ("Their support desk is a joke.", ["en"]),
    ("Leur service client, c'est une vaste blague.", ["fr"]),
    ("La atención al cliente de esta operadora es un chiste.", ["es"]),
    ("Saw the new policy. You absolute amateurs.", ["en"]),
    ("Some of you are too dumb to reboot a router.", ["en"]),
    ("Manche Kunden sind einfach zu blöd, den Stecker einzustecken.", ["de"]),
    ("Mon chef est un incapable et un menteur.", ["fr"]),  # a possessive before an insult only people earn
    ("Mein Vermieter ist ein Lügner.", ["de"]),
])
def test_hostility_without_a_listed_insult(text: str, langs: list[str]) -> None:
    assert find(text, langs), text


@pytest.mark.parametrize(("text", "langs"), [
    ("What a bunch of legends, thank you all!", ["en"]),
    ("What a bunch of new routers arrived today.", ["en"]),
    ("We are such a bunch of nerds.", ["en"]),
    ("This course is for amateurs and pros alike.", ["en"]),
    ("Lächerlich günstig: Glasfaser für 19 Euro.", ["de"]),  # followed by a word: an adverb, not a verdict
    ("Alte Schrottgeräte nehmen wir im Laden zurück.", ["de"]),  # scrap devices are things
    ("Die Orgelpfeifen im Dom wurden restauriert.", ["de"]),
    ("Was für ein Haufen Arbeit!", ["de"]),
    ("Unser neuer Router ist idiotensicher.", ["de"]),
    ("Bande de fréquences 3,5 GHz attribuée à Lyon.", ["fr"]),
    ("Nous doublons la bande passante à Lyon.", ["fr"]),
    ("Ridicule, je sais. J'ai encore oublié mon badge.", ["fr"]),
    ("Somos una panda de frikis de las redes.", ["es"]),
    ("Es un chiste que te encantará.", ["es"]),
    ("For en gjeng med helter!", ["nb"]),
    ("Takk til en flott gjeng med frivillige.", ["nb"]),
    ("Fotballtulling og nettverksingeniør søker nye utfordringer.", ["nb"]),
    ("I missed the train again. Pathetic.", ["en"]),
    ("Useless? Not any more: the new dashboard is live.", ["en"]),
    ("My attempt at fixing the Wi-Fi was a joke. I'm a pathetic engineer at home.", ["en"]),
    ("Our engineers' favourite joke: there is no place like 127.0.0.1.", ["en"]),
    ("This dumb switch has no management interface, and that is fine.", ["en"]),
    ("Our incompetent filter let spam through.", ["en"]),
    ("I was incompetent today, I forgot my keys.", ["en"]),
])
def test_no_hostility_in_look_alikes(text: str, langs: list[str]) -> None:
    assert not find(text, langs), text


# -- overpromises banned by meaning (the organisation profile's phrases.banned claims) --

@pytest.mark.parametrize(("text", "langs"), [
    ("Move your servers to FjordCloud: zero downtime, guaranteed.", ["en"]),
    ("Fibre is live in Alta: the best network in Norway.", ["en"]),
    ("With a second path in place, an outage like this cannot happen again.", ["en"]),
    ("Switching is completely risk-free.", ["en"]),
    ("A network that never goes down.", ["en"]),
    ("Bedriftsfiber med oppetid garantert 100 prosent av tiden.", ["nb"]),
    ("Nå får også Vardø Norges beste mobilnett.", ["nb"]),
    ("Vi lover at dette aldri skal skje igjen.", ["nb"]),
    ("Garantierte Verfügbarkeit rund um die Uhr.", ["de"]),
    ("Kiel surft jetzt im besten Netz Deutschlands.", ["de"]),
    ("Ein solcher Ausfall wird nie wieder vorkommen.", ["de"]),
    ("Disponibilité garantie à 100 %, même pendant les orages.", ["fr"]),
    ("Lyon rejoint le meilleur réseau de France.", ["fr"]),
    ("Nous vous assurons que cela ne se reproduira jamais.", ["fr"]),
    ("Fibra con cero caídas garantizado.", ["es"]),
    ("Toledo ya navega con la mejor red de España.", ["es"]),
    ("Esto no volverá a pasar nunca más.", ["es"]),
    ("Built for 100 % availability.", ["en"]),
    # a "zero" after counts is still a claim when the sentence guarantees it, or when it follows one count only
    ("Three sites, 2 datacentres, 4 fibre routes and zero downtime guaranteed.", ["en"]),
    ("Migrate in 3 days and zero downtime.", ["en"]),
])
def test_overpromises_are_banned_by_meaning(text: str, langs: list[str]) -> None:
    assert rules(text, acc(langs)).get("phrases.banned") == "block", text


@pytest.mark.parametrize(("text", "langs"), [
    ("Availability last quarter was 99.95 %; our target is 99.99 %.", ["en"]),
    ("We guarantee a technician visit within 48 hours, or the month is free.", ["en"]),
    ("Maintenance tonight, no downtime expected.", ["en"]),
    ("It did not happen again after the patch.", ["en"]),
    ("The best way to reach us is the chat on My Page.", ["en"]),
    ("Our zero-trust design keeps laptops safe.", ["en"]),
    ("Unsere Rechenzentren laufen mit 100 Prozent Ökostrom.", ["de"]),
    ("Das Risiko ist gering, wir haben die Änderung getestet.", ["de"]),
    ("100 % des foyers de Villeurbanne sont raccordables.", ["fr"]),
    ("Le routeur est disponible avec une garantie de 2 ans.", ["fr"]),
    ("Bravo à Léa, élue meilleure technicienne de la région.", ["fr"]),
    ("Garantía de devolución de 30 días en todos los routers.", ["es"]),
    ("Aldri før har så mange fått fiber på ett år.", ["nb"]),
    # the tally of an event that happened: "zero" is the last of a list of counts
    ("Thank you, Bodø! 1,140 attendees, 62 talks and zero outages on the Wi-Fi.", ["en"]),
    ("Takk, Bergen! 900 deltakere, 40 foredrag og null nedetid på nettet.", ["nb"]),
    ("Danke, Kiel! 1.140 Teilnehmende, 62 Vorträge und null Ausfälle im WLAN.", ["de"]),
    ("Merci Lyon ! 1 140 participants, 62 conférences et zéro panne Wi-Fi.", ["fr"]),
    ("¡Gracias, Valencia! 1.140 asistentes, 62 charlas y cero caídas de wifi.", ["es"]),
])
def test_measured_figures_and_concrete_guarantees_are_not_overpromises(text: str, langs: list[str]) -> None:
    assert "phrases.banned" not in rules(text, acc(langs)), text


def test_claims_are_the_organisation_profiles_and_can_be_switched_off() -> None:
    text = "Zero downtime, guaranteed."
    assert "phrases.banned" not in rules(text, acc(["en"]), overrides={"phrases.banned": {"claims": []}})
    assert "phrases.banned" not in rules(text, acc(["en"], kind="personal"))
    with pytest.raises(Exception, match="unknown claim kind"):
        rules(text, acc(["en"]), overrides={"phrases.banned": {"claims": ["hype"]}})
