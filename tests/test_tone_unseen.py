"""Issue 15's failure classes, each handled by a general mechanism (not a word added to a list).

Own contact addresses, hostility in every declared language (tickets included), inflected profanity, acronym runs,
dates that are no phone numbers, the script of short texts, the post's declared language and the CLI's deferral of
lingua.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from publisher import tone
from publisher.models import PostKind
from publisher.rules.privacy import is_role_mailbox, without_dates
from publisher.settings import AccountConfig


def acc(languages: list[str], kind: str = "organisation", tz: str = "Europe/Oslo", **kw: object) -> AccountConfig:
    return AccountConfig(name="a", channel="mastodon", kind=kind, timezone=tz, languages=languages, **kw)


def rules(text: str, account: AccountConfig, kind: PostKind = PostKind.NOTE, **kw: object) -> dict[str, str]:
    """rule id -> the most severe severity found."""
    out: dict[str, str] = {}
    for f in tone.check(text, account, kind=kind, **kw):  # type: ignore[arg-type]
        if out.get(f.rule) != "block":
            out[f.rule] = f.severity
    return out


# -- own domains and role mailboxes --

ORG = acc(["en"], own_domains=["fjordnett.no"])


@pytest.mark.parametrize("address", ["noc@fjordnett.no", "jobs@fjordnett.no", "press@fjordnett.no",
                                     "support@status.fjordnett.no", "careers.oslo@fjordnett.no", "noc-24x7@fjordnett.no",
                                     "kundeservice@fjordnett.no"])
def test_role_mailboxes_on_own_domains_are_public_contact_points(address: str) -> None:
    assert "privacy.email" not in rules(f"Write to {address} with the circuit ID.", ORG)


@pytest.mark.parametrize("address", ["kari.nordmann@fjordnett.no", "per@fjordnett.no", "noc@fjordnett.no.evil.com",
                                     "noc@otherisp.no", "jobs@gmail.com"])
def test_people_and_foreign_domains_stay_private(address: str) -> None:
    assert rules(f"Write to {address} with the circuit ID.", ORG).get("privacy.email") == "block"


def test_without_own_domains_a_role_mailbox_is_still_flagged() -> None:
    assert rules("Write to noc@fjordnett.no with the circuit ID.", acc(["en"])).get("privacy.email") == "block"


def test_without_own_domains_the_domains_the_post_links_to_are_its_own() -> None:
    assert "privacy.email" not in rules("Apply at https://jobs.fjordnett.no/noc or write to jobs@fjordnett.no.",
                                        acc(["en"]))
    assert "privacy.email" in rules("See https://fjordnett.no/noc or write to kari@fjordnett.no.", acc(["en"]))
    assert "privacy.email" in rules("See https://fjordnett.no/noc or write to jobs@example.org.", acc(["en"]))


def test_role_mailbox_is_read_from_the_local_part_structure() -> None:
    assert is_role_mailbox("jobs.oslo") and is_role_mailbox("press2026") and is_role_mailbox("noc")
    assert not is_role_mailbox("per.hansen") and not is_role_mailbox("kari")


def test_organisation_default_own_domains_from_the_config_file(tmp_path: Path) -> None:
    from publisher import settings

    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump({
        "organisation": {"own_domains": ["fjordnett.no"]},
        "accounts": {"noc": {"channel": "dryrun", "kind": "organisation"},
                     "own": {"channel": "dryrun", "kind": "organisation", "own_domains": ["example.org"]},
                     "me": {"channel": "dryrun", "kind": "personal"}}}), encoding="utf-8")
    cfg.chmod(0o600)
    s = settings.load({"PUBLISHER_CONFIG": str(cfg), "PUBLISHER_HOME": str(tmp_path)})
    assert s.accounts["noc"].own_domains == ["fjordnett.no"]
    assert s.accounts["own"].own_domains == ["example.org"]  # an account's own list wins
    assert s.accounts["me"].own_domains == ["fjordnett.no"]  # personal accounts too: function mailboxes are public


def test_own_domains_must_be_domain_names() -> None:
    with pytest.raises(ValueError, match="not a domain name"):
        acc(["en"], own_domains=["not a domain"])


# -- dates are never phone numbers, in any zone --

@pytest.mark.parametrize("date", ["31.05.2026", "31/05/2026", "05/31/2026", "2026-05-31", "31-05-2026",
                                  "2026-05-31T14:00", "31. 05. 2026", "14.06.26"])
@pytest.mark.parametrize("tz,languages", [("Europe/Oslo", ["nb"]), ("Europe/Berlin", ["de"]), ("UTC", ["en"]),
                                          ("Europe/Madrid", ["es"])])
def test_a_date_is_never_a_phone_number(date: str, tz: str, languages: list[str]) -> None:
    assert "privacy.phone" not in rules(f"The office is closed on {date} for the staff meeting.", acc(languages, tz=tz))


@pytest.mark.parametrize("text", ["Maintenance kl. 22.00-02.00 tonight.", "Offer valid 1.6.-30.6.2026.",
                                  "Closed 31.05 - 06.06 for the move.", "Wartung 14.06.-15.06. nachts."])
def test_time_and_day_month_spans_are_never_phone_numbers(text: str) -> None:
    for languages, tz in ((["nb"], "Europe/Oslo"), (["de"], "Europe/Berlin")):
        assert "privacy.phone" not in rules(text, acc(languages, tz=tz))


def test_a_phone_number_beside_a_date_is_still_found() -> None:
    found = rules("On 31.05.2026 call Kari on 412 34 567.", acc(["nb"]))
    assert found.get("privacy.phone") == "block"
    assert without_dates("31.05.2026 412 34 567") == " " * 10 + " 412 34 567"


# -- shouting: acronym runs are names --

@pytest.mark.parametrize("text", [
    "Thanks to NORID, RIPE NCC and NIX for the help with the DNSSEC roll-over today.",
    "See our engineers at NANOG, RIPE NCC ENOG and NORDNOG this autumn: talks on IPv6-only access.",
    "Maintenance with NTNU UNINETT SIKT on the Trondheim ring tonight.",
])
def test_runs_of_short_names_are_not_shouting(text: str) -> None:
    assert "shouting" not in rules(text, acc(["en", "nb"]), PostKind.TICKET)


@pytest.mark.parametrize("text", [
    "MAJOR OUTAGE IN OSLO right now, we are working on it.",
    "UPDATE: THE WHOLE BACKBONE IS DOWN AGAIN. We are working on it.",
    "OPPDATERING: HELE NETTET ER NEDE IGJEN. Vi jobber med saken.",
    "The VPN concentrator is FUCKING DEAD AGAIN, failover in progress.",
    "NORID NIX DOWN",  # all in capitals: short words are shouted too
])
def test_shouted_runs_still_are(text: str) -> None:
    assert rules(text, acc(["en", "nb"]), PostKind.TICKET).get("shouting") == "block"


# -- script of short texts --

@pytest.mark.parametrize("text", ["メンテナンスは終了しました", "Спасибо всем!", "감사합니다", "Ευχαριστούμε"])
def test_a_short_text_in_another_script_is_flagged(text: str) -> None:
    assert "language" in rules(text, acc(["en"]))


def test_the_script_of_a_declared_language_is_fine() -> None:
    assert "language" not in rules("メンテナンスは終了しました", acc(["ja", "en"]))
    assert "language" not in rules("Zoë in Tromsø", acc(["en"]))


# -- the post's declared language --

def test_declared_language_not_of_the_account_is_flagged_and_one_of_it_is_not() -> None:
    assert "language" in rules("Unser Büro bleibt am Freitag geschlossen.", acc(["en"]), lang="de")
    assert "language" not in rules("INC-1: fibre restored in Bodø.", acc(["nb", "en"]), lang="en")


# -- inflected profanity --

@pytest.mark.parametrize("languages,word", [
    (["en"], "bastards"), (["en"], "assholes"), (["en"], "fuckups"), (["de"], "verdammten"), (["de"], "Wichsers"),
    (["de"], "Scheißfirma"), (["nb"], "Drittsekkene"), (["nb"], "drittforbindelse"), (["fr"], "connasses"),
    (["fr"], "merdiques"), (["es"], "jodida"), (["es"], "mierdas"), (["es"], "pendejas"),
])
def test_inflected_and_compound_profanity_in_the_declared_language(languages: list[str], word: str) -> None:
    assert rules(f"Look at {word} here.", acc(languages)).get("profanity") == "block"


@pytest.mark.parametrize("text", ["Our assessment passes the review.", "Classes of faults in Scunthorpe.",
                                  "The Dickens museum.", "Shiitake soup."])
def test_ordinary_words_are_not_inflected_profanity(text: str) -> None:
    assert "profanity" not in rules(text, acc(["en"]))


def test_a_language_not_declared_gets_no_compound_roots() -> None:
    assert "profanity" not in rules("Look at drittforbindelse here.", acc(["en"]))


# -- hostility, in every declared language, tickets included --

@pytest.mark.parametrize("languages,text", [
    (["en"], "Your software is garbage and your support team is clueless."),
    (["en"], "Their support staff are complete idiots."),
    (["de"], "Ihr seid echt unfähig, euer Router ist Schrott."),
    (["fr"], "Vous êtes des incompétents, votre service est nul."),
    (["es"], "Sois unos inútiles, vuestro soporte es basura."),
    (["nb"], "Dere er helt udugelige, og ruteren deres er søppel."),
])
def test_hostility_blocks_on_organisation_accounts_also_in_tickets(languages: list[str], text: str) -> None:
    for kind in (PostKind.NOTE, PostKind.TICKET):
        assert rules(text, acc(languages), kind).get("sentiment") == "block", kind


def test_hostility_is_a_warning_on_personal_accounts() -> None:
    assert rules("Their support staff are complete idiots.", acc(["en"], kind="personal")).get("sentiment") == "warn"


@pytest.mark.parametrize("languages,text", [
    (["en"], "Warning: this e-mail is a scam. Do not reply."),
    (["en"], "Garbage collection pauses caused slow page loads yesterday."),
    (["en"], "We made a stupid mistake in the change window last night."),
    (["de"], "Das Update ist nicht nutzlos: es schließt zwei Lücken."),
    (["de"], "Der Müll wird dienstags abgeholt."),
    (["nb"], "The train is late again."),
    (["nb"], "Advarsel: en SMS fra Fjordnett er svindel."),
])
def test_no_hostility_in_warnings_technical_terms_negations_or_self_criticism(languages: list[str], text: str) -> None:
    assert "sentiment" not in rules(text, acc(languages))


def test_hostility_severity_follows_the_option() -> None:
    profiles = {"calm": {"extends": "organisation", "rules": {"sentiment": {"hostility": "off"}}}}
    account = acc(["en"], profile="calm")
    assert "sentiment" not in rules("Your software is garbage.", account, profiles=profiles)


# -- the CLI's enqueue path leaves lingua to the worker --

TERSE = "Fibre cut Oslo-Stockholm, traffic rerouted, latency +8 ms"


def test_defer_skips_lingua_and_says_so() -> None:
    deferred: set[str] = set()
    found = tone.check(TERSE, acc(["nb"]), kind=PostKind.TICKET, defer=deferred)
    assert deferred == {"language"}
    assert all(f.rule != "language" for f in found)


def test_defer_is_refused_when_a_blocking_rule_needs_the_language() -> None:
    profiles = {"strict": {"extends": "organisation", "rules": {"language": "block"}}}
    deferred: set[str] = set()
    english = "We are investigating slow DNS answers for customers in Bergen since 14:05. Next update at 15:00."
    found = tone.check(english, acc(["nb"], profile="strict"), kind=PostKind.TICKET, profiles=profiles,
                       defer=deferred)
    assert deferred == set()
    assert [f.rule for f in found if f.severity == "block"] == ["language"]  # detected now: English on nb


@pytest.mark.slow  # CLI processes
def test_cold_ticket_update_on_a_terse_text_builds_no_detector_and_leaves_the_check_to_the_worker(
        tmp_path: Path) -> None:
    import os
    import subprocess

    from publisher import settings as settings_mod
    from publisher.store import Store

    env = {**os.environ, "PUBLISHER_HOME": str(tmp_path), "PYTHONPATH": str(Path(__file__).parent.parent)}
    env.pop("PUBLISHER_CONFIG", None)
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "publisher.cli", "ticket", "open", "INC-1",
                        "--account", "noc", TERSE], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    names = {line.split("|")[-1].strip().split(".")[0] for line in r.stderr.splitlines()
             if line.startswith("import time:")}
    assert "lingua" not in names
    s = settings_mod.load({"PUBLISHER_HOME": str(tmp_path)})
    store = Store(s.database_url)
    with store.read() as conn:
        from sqlalchemy import text

        rows = conn.execute(text("select tone_key from deliveries")).all()
        events = conn.execute(text("select details from audit_events")).all()
    assert rows and all(row[0] is None for row in rows)  # the worker's pre-publish check runs in full
    assert any("tone_deferred" in str(e[0]) for e in events)


def test_post_lang_and_require_hashtag_reach_the_checks_on_the_enqueue_path(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from publisher import service, settings
    from publisher.errors import ToneBlocked

    s = settings.load({"PUBLISHER_HOME": str(tmp_path)})  # embedded defaults: noc is an English organisation
    new = service.NewPost(text="Unser Büro in Oslo bleibt am Freitag geschlossen.", accounts=["noc"],
                          at=datetime.now(UTC), language="de")
    _, findings = service.render_and_check(s, new)
    assert [f.rule for f in findings] == ["language"]  # declared German on an English account
    tagged = service.NewPost(text="Fibre week starts Monday.", accounts=["noc"], at=datetime.now(UTC),
                             kind=PostKind.CAMPAIGN, require_hashtags=["FiberWeek"])
    with pytest.raises(ToneBlocked):
        service.render_and_check(s, tagged)
