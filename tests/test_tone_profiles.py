"""Tone profiles: built-ins, custom profiles, account and post overrides, per-kind exceptions, clear errors."""

from __future__ import annotations

from typing import Any

import pytest

from publisher import tone
from publisher.errors import ConfigError
from publisher.models import PostKind
from publisher.settings import AccountConfig

ORG = AccountConfig(name="noc", channel="mastodon", kind="organisation", languages=["en"])
ME = AccountConfig(name="andrew", channel="mastodon", kind="personal", languages=["en"])


def test_every_account_gets_the_builtin_profile_of_its_kind() -> None:
    assert tone.profile_for(ORG).name == "organisation"
    assert tone.profile_for(ME).name == "personal"
    assert tone.profile_for(ORG).severity("privacy.email") == "block"
    assert tone.profile_for(ME).severity("privacy.email") == "warn"


def test_per_kind_exceptions_make_tickets_calm() -> None:
    prof = tone.profile_for(ORG)
    assert prof.severity("exclamation", PostKind.TICKET) == "block"
    assert prof.severity("exclamation", PostKind.CAMPAIGN) == "warn"
    assert prof.options[PostKind.TICKET]["sentiment"].min is None  # type: ignore[attr-defined]
    assert prof.severity("links.required", PostKind.BLOG) == "block"
    assert "links.required" not in {r for r, _, _ in prof.active[PostKind.NOTE]}


def test_custom_profile_extends_and_overrides() -> None:
    raw = {"strict": {"extends": "organisation", "rules": {
        "exclamation": {"max": 0, "kinds": {"campaign": {"max": 2}}}, "sentiment": "off"}}}
    profiles = tone.load_profiles(raw)
    strict = profiles["strict"]
    assert strict.options[PostKind.NOTE]["exclamation"].max == 0  # type: ignore[attr-defined]
    assert strict.options[PostKind.CAMPAIGN]["exclamation"].max == 2  # type: ignore[attr-defined]
    assert strict.severity("sentiment") == "off"
    assert strict.severity("privacy.email") == "block"  # inherited
    acc = ORG.model_copy(update={"profile": "strict"})
    assert [f.rule for f in tone.check("Great news! Read on.", acc, profiles=raw)] == ["exclamation"]


def test_a_profile_named_like_a_builtin_tweaks_it() -> None:
    profiles = tone.load_profiles({"organisation": {"rules": {"links.max": {"max": 5}}}})
    assert profiles["organisation"].options[PostKind.NOTE]["links.max"].max == 5  # type: ignore[attr-defined]
    assert profiles["organisation"].severity("profanity") == "block"


def test_a_profile_without_extends_starts_with_every_rule_off() -> None:
    profiles = tone.load_profiles({"minimal": {"rules": {"profanity": "block"}}})
    assert [r for r, _, _ in profiles["minimal"].active[PostKind.NOTE]] == ["profanity"]


def test_account_options_tone_overrides_its_profile() -> None:
    acc = ORG.model_copy(update={"options": {"tone": {"rules": {"privacy.email": {"allow": ["noc@example.org"]}}}}})
    assert not tone.check("Write to noc@example.org", acc)
    assert tone.check("Write to noc@example.org", ORG)


def test_post_overrides_add_a_layer_for_one_post() -> None:
    findings = tone.check("Launch day", ORG, overrides={"hashtags.required": {"tags": ["Launch"]}})
    assert [f.rule for f in findings] == ["hashtags.required"]


@pytest.mark.parametrize(("raw", "key", "hint"), [
    ({"p": {"rules": {"shoutin": "warn"}}}, "profiles.p.rules.shoutin", "did you mean 'shouting'"),
    ({"p": {"rules": {"shouting": {"max_ratio": "lots"}}}}, "profiles.p.rules.shouting.max_ratio", "fix this key"),
    ({"p": {"rules": {"shouting": {"severity": "loud"}}}}, "profiles.p.rules.shouting.severity", "fix this key"),
    ({"p": {"rules": {"shouting": {"colour": "red"}}}}, "profiles.p.rules.shouting.colour", "fix this key"),
    ({"p": {"rules": {"exclamation": {"kinds": {"tweet": {"max": 0}}}}}}, "profiles.p.rules.exclamation.kinds.tweet",
     "ticket, blog"),
    ({"p": {"rules": {"exclamation": {"kinds": {"ticket": {"max": -1}}}}}},
     "profiles.p.rules.exclamation.kinds.ticket.max", "fix this key"),
    ({"p": {"extends": "strictest"}}, "profiles.p.extends", "organisation"),
    ({"a": {"extends": "b"}, "b": {"extends": "a"}}, "extends", "built-in"),
    ({"p": {"rule": {}}}, "profiles.p.rule", "rules go under 'rules:'"),
    ({"p": ["profanity"]}, "profiles.p", "publisher.example.yaml"),
    ({"p": {"rules": {"privacy.pattern": {"patterns": {"bad": "("}}}}}, "profiles.p.rules.privacy.pattern.patterns",
     "fix this key"),
    ({"p": {"rules": {"sentiment": {"min": 0.5, "max": 0.2}}}}, "profiles.p.rules.sentiment", "fix this key"),
])
def test_profile_errors_name_the_key_and_the_fix(raw: dict[str, Any], key: str, hint: str) -> None:
    with pytest.raises(ConfigError) as err:
        tone.load_profiles(raw)
    assert key in err.value.message
    assert hint in str(err.value)


def test_unknown_profile_on_an_account_is_a_config_error() -> None:
    acc = ORG.model_copy(update={"profile": "nope"})
    with pytest.raises(ConfigError, match="accounts.noc.profile: no tone profile named 'nope'"):
        tone.check("hello", acc)


def test_bad_account_override_names_the_account() -> None:
    acc = ORG.model_copy(update={"options": {"tone": {"rules": {"links.max": {"max": "two"}}}}})
    with pytest.raises(ConfigError, match=r"accounts\.noc\.options\.tone\.rules\.links\.max\.max"):
        tone.check("hello", acc)


def test_rules_that_are_off_never_import_their_library() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from publisher import tone; from publisher.settings import AccountConfig as A\n"
        "off = {r: 'off' for r in ('sentiment', 'language', 'privacy.phone', 'profanity', 'register.first-person',"
        " 'register.informal')}\n"
        "a = A(name='x', channel='linkedin', kind='personal', options={'tone': {'rules': off}})\n"
        "tone.check('A calm note https://example.org', a)\n"
        "print(sorted(m for m in ('twitter_text', 'vaderSentiment', 'lingua', 'phonenumbers', 'better_profanity')"
        " if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_example_config_is_valid_and_bare_no_gets_a_clear_error() -> None:
    from pathlib import Path

    import yaml

    raw = yaml.safe_load((Path(__file__).parent.parent / "config" / "tone-profiles.example.yaml").read_text())
    assert {"noc", "campaign-spring", "employee"} <= set(tone.load_profiles(raw["profiles"]))
    with pytest.raises(ConfigError, match="YAML reads a bare NO as false"):
        tone.load_profiles(yaml.safe_load("p: {rules: {privacy.phone: {regions: [NO]}}}"))


def test_a_bare_yaml_off_turns_a_rule_off() -> None:
    import yaml

    raw = yaml.safe_load("p: {extends: organisation, rules: {emoji: off, shouting: {severity: off}}}")
    prof = tone.load_profiles(raw)["p"]
    assert prof.severity("emoji") == "off" and prof.severity("shouting") == "off"
