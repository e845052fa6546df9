"""Privacy: ``privacy.email``, ``privacy.phone`` and ``privacy.pattern`` (IDs, account and card numbers).

Phone numbers are found by libphonenumber's ``PhoneNumberMatcher`` (leniency VALID: real numbering plans, not a
digit-count guess), read in the account's time zone's country and its languages' countries unless configured. A cheap exact pre-filter skips the
library when the text has no run of five digits (no valid number is shorter). Each rule has an allow-list for
public contact points (the NOC's address, the switchboard); role mailboxes on the account's ``own_domains`` and the
account's ``own_numbers`` are public contact points without one.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from pydantic import Field, field_validator

from publisher.models import Finding
from publisher.rules.base import Ctx, Doc, RuleOptions, RuleTable

_DIGIT_RUN = re.compile(r"\d(?:[\s\u00a0().\-/]{0,3}\d){4,}")
_REGIONS = {"en": "GB", "no": "NO", "nb": "NO", "nn": "NO", "de": "DE", "fr": "FR", "es": "ES", "sv": "SE",
            "da": "DK"}
_NON_DIGIT = re.compile(r"\D+")

BUILTIN_PATTERNS: dict[str, str] = {
    # Norwegian national identity number (fødselsnummer): 11 digits, validated by its two check digits
    "no-national-id": r"(?<![\d-])\d{6}[ ]?\d{5}(?![\d-])",
    # IBAN, validated by mod 97
    "iban": r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?\b",
    # payment card numbers, validated by the Luhn check and the schemes' issuer ranges: 13-19 digits run together or
    # in groups of four with one separator throughout (4111 1111 1111 1111, 4111-1111-1111-1111), or 4-6-5 / 4-6-4 (Amex 3782 822463 10005,
    # Diners)
    "card": r"(?<![\d-])(?:\d{4}(?P<s>[ -]?)\d{4}(?P=s)\d{4}(?P=s)\d{1,4}(?:(?P=s)\d{1,3})?"
            r"|3\d{3}(?P<a>[ -]?)\d{6}(?P=a)\d{4,5})(?![\d-])",
    # Spanish DNI (8 digits, 12.345.678 with dots too) or NIE (X/Y/Z and 7 digits), then the control letter
    "es-national-id": r"(?<![\w.-])(?:\d{8}|\d{2}\.\d{3}\.\d{3}|[XYZ][ -]?\d{7})[ -]?[A-Z](?![\w-])",
    # French NIR (numéro de sécurité sociale): sex, year, month, department (2A/2B: Corsica), commune, order, then
    # the 2-digit key; run together or grouped 1 85 05 78 006 084 36
    "fr-national-id": r"(?<![\w.-])[1-478][ .]?\d\d[ .]?(?:0[1-9]|1[0-2]|[2-9]\d)[ .]?(?:\d\d|2[AB])[ .]?\d{3}"
                      r"[ .]?\d{3}[ .]?\d\d(?![\w-])",
    # German tax identification number (steuerliche Identifikationsnummer): 11 digits, 86095742719 or
    # 86 095 742 719, validated by its ISO 7064 MOD 11,10 check digit and its digit-repetition rule
    "de-tax-id": r"(?<![\w.-])[1-9]\d(?:[ ]?\d{3}){3}(?![\w-])",
    # Norwegian bank account number (kontonummer): 11 digits grouped 4.2.5 (1234.56.78903 or 1234 56 78903),
    # validated by its mod-11 check digit; run together only where it is named ("kontonummer 12345678903"), since an
    # unnamed 11-digit run is as likely a case number
    "no-account": r"(?<![\w.-])\d{4}([ .]?)\d{2}\1\d{5}(?![\w-])",
    # British National Insurance number: two letters, three pairs of digits, A-D (QQ 12 34 56 C), validated by the
    # letters HMRC issues (QQ, the specimen prefix, only where the text names it)
    "gb-ni-number": r"(?<![\w-])[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D](?![\w-])",
    # an identity document's number (passport, national identity card): 6-12 capitals and digits with at least two
    # digits (France's older identity cards carry 12 digits), only where the words before it name the document:
    # the shape alone is any product code
    "id-document": r"(?<![\w-])(?=[A-Z]*\d[A-Z]*\d)[A-Z0-9]{6,12}(?![\w-])",
}


#: local parts (or one of their dot/dash-separated pieces) that name a function, not a person: a mailbox on the
#: organisation's own domain made of these is a public contact point (noc@, jobs@, press@, kundeservice@ ...)
ROLE_MAILBOXES = frozenset(
    """
    abuse admin billing booking careers career contact contacts customer customers dpo ekspedisjon enquiries events
    faktura feedback helpdesk hello help hostmaster hr info jobs job jobb jobber karriere kontakt kundeservice kunde
    legal mail marketing media newsletter noc no-reply noreply office ops operations personvern post postmaster
    presse press privacy recruiting recruitment salg sales security service servicedesk soc status support team
    vakt webmaster bewerbung karriere presse datenschutz kundendienst emploi recrutement contacto prensa empleo
    soporte atencion rrhh ventas stellen drift nettdrift driftsmelding vaktsentral kundesenter bedrift
    kommunikasjon rekruttering personal it web partner partners investor investors ir communication carrieres rh
    trabajo comunicacion kommunikation peering transit nic cert csirt dns ncc registry helpline hotline medlem
    members membership donations donate fundraising volunteer volunteers frivillig redaksjon redaktion redaction
    editor editors newsroom tips tip dpd dsb datenschutzbeauftragter personvernombud
    """.split()
)


class EmailOptions(RuleOptions):
    #: addresses to allow; shell patterns work (``*@status.example.no``)
    allow: list[str] = Field(default_factory=list)
    #: role mailboxes (noc@, jobs@, ...) on the account's ``own_domains`` are public contact points
    role_mailboxes: bool = True
    #: extra local parts that count as role mailboxes on the own domains
    roles: list[str] = Field(default_factory=list)


class PhoneOptions(RuleOptions):
    #: ISO 3166 regions for numbers written without a country code; default: from the account's languages
    regions: list[str] | None = None
    #: numbers to allow, in any format (compared as E.164)
    allow: list[str] = Field(default_factory=list)
    #: the account's ``own_numbers`` (its organisation's NOC hotline, switchboard, press line) are public contact
    #: points: a number equal to one of them, read in the rule's regions, is no finding; other numbers still are
    own_contact: bool = True
    #: a valid number counts only with phone context: a leading + country code, a phone word nearby ("call",
    #: "ring", "Tel.", "appelez", "llame" ...) or an unambiguous national mobile format ("912 34 567",
    #: "0171 2345678", "06 12 34 56 78"); false: every valid number counts (a ticket id, an ASN, an amount too)
    context: bool = True

    @field_validator("regions", mode="before")
    @classmethod
    def _yaml_norway(cls, v: object) -> object:
        if isinstance(v, list) and any(isinstance(r, bool) for r in v):
            raise ValueError('write region codes in quotes: YAML reads a bare NO as false (regions: ["NO"])')
        return v


class PatternOptions(RuleOptions):
    #: built-in validated detectors to use: no-national-id, iban, card, es-national-id, fr-national-id, de-tax-id,
    #: no-account, gb-ni-number, id-document
    builtin: list[str] = Field(default_factory=lambda: list(BUILTIN_PATTERNS))
    #: name -> regular expression for your own identifiers (customer numbers, internal hostnames, ...)
    patterns: dict[str, str] = Field(default_factory=dict)
    #: exact strings to allow (your organisation's own IBAN for donations)
    allow: list[str] = Field(default_factory=list)

    @field_validator("builtin")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        unknown = set(v) - set(BUILTIN_PATTERNS)
        if unknown:
            raise ValueError(f"unknown built-in pattern(s) {sorted(unknown)}; use {sorted(BUILTIN_PATTERNS)}")
        return v

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, v: dict[str, str]) -> dict[str, str]:
        for name, pattern in v.items():
            try:
                re.compile(pattern)
            except re.error as e:
                raise ValueError(f"pattern {name!r} is not a valid regular expression: {e}") from None
        return v


def _mask(value: str) -> str:
    """Show enough to find it, not enough to repeat it in logs: digits but the last two become '•'."""
    digits = [i for i, c in enumerate(value) if c.isdigit()]
    keep = set(digits[-2:])
    return "".join("\u2022" if c.isdigit() and i not in keep else c for i, c in enumerate(value))


_LOCAL_PIECES = re.compile(r"[._+-]")


def is_role_mailbox(local: str, extra: frozenset[str] = frozenset(), languages: tuple[str, ...] | list[str] = ()
                    ) -> bool:
    """A local part that names a function: a known role word, alone or with qualifiers ("jobs.oslo", "noc-24x7",
    "press2026"), or one common noun of the account's ``languages`` ("rechnung", "facturation": ``_common_noun``);
    a person's name ("per.hansen", "anna", "erik") is not."""
    local = local.lower()
    if local in ROLE_MAILBOXES or local in extra:
        return True
    pieces = [p.rstrip("0123456789") for p in _LOCAL_PIECES.split(local) if p]
    if any(p in ROLE_MAILBOXES or p in extra for p in pieces):
        return True
    if len(pieces) != 1:
        return False
    langs = tuple(languages)
    return _common_noun(pieces[0], langs) or _words_run_together(pieces[0], langs)


#: Faker's first-name lists (MIT, maintained) of the European locales a colleague's name may come from: a name
#: travels, so every list counts for every account
_NAME_LOCALES = ("en_US", "en_GB", "en_IE", "no_NO", "sv_SE", "da_DK", "fi_FI", "is_IS", "de_DE", "de_AT", "de_CH",
                 "nl_NL", "nl_BE", "fr_FR", "fr_BE", "fr_CH", "es_ES", "it_IT", "pt_PT", "pl_PL", "cs_CZ")
_FOLD = str.maketrans({"ø": "o", "æ": "ae", "ß": "ss", "ł": "l", "đ": "d", "þ": "th", "ð": "d"})


def _folded(word: str) -> str:
    """Lower case without accents, as a name is written in a mailbox ("håkon" -> "hakon", "élodie" -> "elodie")."""
    import unicodedata

    plain = unicodedata.normalize("NFKD", word.lower().translate(_FOLD))
    return "".join(c for c in plain if not unicodedata.combining(c))


@lru_cache(maxsize=1)
def first_names() -> frozenset[str]:
    """Every first name of ``_NAME_LOCALES``, folded (and each part of a double name). Faker is imported here only:
    ~0.15 s, once, and only for a one-word mailbox on an own domain that is no known role word."""
    import importlib

    out: set[str] = set()
    for locale in _NAME_LOCALES:
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        for attr in ("first_names", "first_names_male", "first_names_female", "first_names_nonbinary"):
            names = getattr(provider, attr, None) or ()
            for name in names:  # a tuple, or a dict of name -> weight
                folded = _folded(name)
                out.update({folded.replace("-", ""), *folded.split("-")})
    return frozenset(out)


def _common_noun(word: str, languages: tuple[str, ...]) -> bool:
    """A one-word local part names a function when it is a common word (Zipf >= 3) of one of the account's
    languages and no first name (``first_names``): the billing, events, sponsors or careers mailbox in any
    language, without listing each. A name is a person's address (eirik@, kari@, anna@), however common a word it
    is too; this is only asked for the organisation's own domains."""
    if len(word) < 3 or not word.isalpha():
        return False
    from publisher.rules.wordsplit import frequency

    if not any(frequency(word, lang) >= 3.0 for lang in languages):
        return False
    return _folded(word) not in first_names()


def _words_run_together(word: str, languages: tuple[str, ...]) -> bool:
    """A one-word local part that runs words of the account's languages together, none of them a first name, names
    a function: "protecciondedatos", "atencionalcliente", "serviceclient" (the way a hashtag runs them together:
    ``wordsplit.split``). A name and a surname run together keep their first name ("perhansen", "marialopez")."""
    from publisher.rules.wordsplit import split

    parts = split(word, languages)
    return parts is not None and not any(_folded(p) in first_names() for p in parts)


def named_in_post(local: str, doc: Doc) -> bool:
    """A local part the post itself writes as a word in lower case, outside the address: "Need a visa letter?
    Email visa@..." names the function. A name is written with its capital ("Contact Anna at anna@"), so a
    word that is a first name too counts only where the post uses it as a word."""
    low = local.lower()
    if not low.isalpha() or low != local:
        return False
    return any(w == low for _, _, w in doc.words)


def spelled_out(local: str, doc: Doc) -> bool:
    """A local part of three to five letters that the post spells out as the initials of words in a row: "Call for
    papers ... cfp@", "data protection officer ... dpo@". An abbreviation the post explains names a function; a
    person's initials matching words in a row is a chance of well under one in a hundred for three letters."""
    low = local.lower()
    if not 3 <= len(low) <= 5 or not low.isalpha():
        return False
    return low in "".join(w[0].lower() for _, _, w in doc.words)


_HOST = re.compile(r"^(?:https?://)?(?:www\.)?([^/:?#\s]+)", re.IGNORECASE)


def linked_domains(doc: Doc) -> list[str]:
    """The registered domains (last two labels) of the post's links: ``https://blog.fjordnett.no/x`` ->
    fjordnett.no. Used as the own domains of an account that configures none."""
    out = []
    for _, _, url in [*doc.urls, *doc.bare_links]:
        m = _HOST.match(url)
        if m:
            labels = m.group(1).lower().split(".")
            if len(labels) >= 2:
                out.append(".".join(labels[-2:]))
    return out


def account_domains(doc: Doc, ctx: Ctx) -> list[str]:
    """The account's ``own_domains``; not configured: the domains the post itself links to are the organisation's."""
    own = ctx.account.own_domains
    return linked_domains(doc) if own is None else own


def on_domains(domain: str, domains: list[str]) -> bool:
    domain = domain.lower()
    return any(domain == d or domain.endswith("." + d) for d in domains)


def email(doc: Doc, ctx: Ctx, opts: EmailOptions) -> list[Finding]:
    out = []
    allow = [a.lower() for a in opts.allow]
    own = account_domains(doc, ctx)
    extra = frozenset(r.lower() for r in opts.roles)
    for start, end, addr in doc.emails:
        if any(fnmatch.fnmatchcase(addr.lower(), a) for a in allow):
            continue
        local, _, domain = addr.rpartition("@")
        if own and opts.role_mailboxes and on_domains(domain, own) \
                and (is_role_mailbox(local, extra, ctx.account.languages) or spelled_out(local, doc)
                     or named_in_post(local, doc)):
            continue
        out.append(ctx.finding(
            "privacy.email", opts, "an e-mail address in a public post", start, end,
            "link to a contact page instead, or add the address to the profile's privacy.email allow list "
            "if it is a public contact address",
        ))
    return out


@lru_cache(maxsize=1)
def _zone_regions() -> dict[str, str]:
    """IANA zone -> ISO 3166 country, from the tz database's zone.tab (shipped by the tzdata package)."""
    out: dict[str, str] = {}
    try:
        from importlib.resources import files

        tab = files("tzdata").joinpath("zoneinfo", "zone.tab").read_text(encoding="utf-8")
    except (ImportError, OSError):
        return out
    for line in tab.splitlines():
        if line and not line.startswith("#"):
            parts = line.split("\t")
            if len(parts) >= 3:
                out[parts[2]] = parts[0]
    return out


def regions_for(ctx: Ctx, opts: PhoneOptions) -> list[str]:
    """Where numbers without a country code are read: configured, else the account's time zone's country and the
    countries of its languages."""
    if opts.regions:
        return [r.upper() for r in opts.regions]
    found = {_REGIONS[c.lower()] for c in ctx.account.languages if c.lower() in _REGIONS}
    zone_region = _zone_regions().get(ctx.account.timezone)
    if zone_region:
        found.add(zone_region)
    return sorted(found) or ["NO"]


@lru_cache(maxsize=64)
def _e164(number: str, region: str) -> str | None:
    import phonenumbers

    try:
        return str(phonenumbers.format_number(phonenumbers.parse(number, region),
                                              phonenumbers.PhoneNumberFormat.E164))
    except phonenumbers.NumberParseException:
        return None


_D = r"(?:0?[1-9]|[12]\d|3[01])"  # day of month
_M = r"(?:0?[1-9]|1[0-2])"  # month
_Y = r"(?:19|20)\d\d"
#: dates in the common written forms (31.05.2026, 31/05/2026, 05/31/2026, 2026-05-31, 31-05-2026, 2026.05.31,
#: 31. 05. 2026, 31.05.26), optionally with a time; found and blanked before any phone parsing, whatever the zone
DATE = re.compile(
    rf"(?<![\d.,/+-])(?:{_Y}[-./]{_M}[-./]{_D}(?:[T ]\d\d:\d\d(?::\d\d)?)?"
    rf"|{_D}\.\s?{_M}\.\s?(?:{_Y}|\d\d)(?!\d)"
    rf"|{_D}/{_M}/(?:{_Y}|\d\d)|{_M}/{_D}/{_Y}"
    rf"|{_D}-{_M}-{_Y})(?![\d,]|\.\d)"
)
_T = r"(?:[01]?\d|2[0-3])[.:][0-5]\d"  # a time of day, 22.00 or 22:00
_DM = rf"{_D}\.{_M}\.?"  # a day and month without the year, 31.05 or 31.05.
#: times and day-month spans, also without a year: 22.00-02.00, kl. 14.30, 31.05 - 06.06, 1.6.-30.6.2026, 14.06.
DATE_SPAN = re.compile(
    rf"(?<![\d.,/+-])(?:{_T}\s?[-\u2013]\s?{_T}|(?<=kl\.\s){_T}|(?<=kl\s){_T}"
    rf"|{_DM}\s?[-\u2013]\s?{_DM}(?:{_Y})?|{_D}\.{_M}\.(?=\s|$|[,;)]))(?![\d,]|\.\d)"
)


#: the word right before a number that labels it an identifier, not a phone number: "#", "n.º", an all-capital code
#: (SIREN, CIF, HRB, INC, AS, MVA), or a word ending in a number/reference/id noun, abbreviated or compounded
#: ("org.nr.", "Kundenummer", "Auftragsnummer", "ref", "case", "ticket", "order", "build", "serial")
_ID_LABEL = re.compile(
    r"(?:#|(?<![^\W\d_])(?:n\.?\s?[º°]|(?-i:[A-Z]{2,6})|[^\W\d_]*(?:nr|no|num|nummer|number|numéro|número|numero|"
    r"ref|réf|id|"
    r"reference|référence|referencia|case|ticket|order|commande|pedido|bestilling|build|serial|version|release|"
    r"tracking|invoice|faktura|rechnung|factura|facture|kode|code|código|sak|saksnr|"
    # incidents, orders and files in each language: "Ordre 41 23 45 67", "La incidencia 612 34 56 78"
    r"incident|incidence|incidencia|incidente|hendelse|avvik|ordre|vorgang|auftrag|bestellung|störung|"
    r"dossier|expediente|caso|sag|ärende|tiquet))"
    r"[.:]?\s*(?:[.:#-]\s*)?)$", re.IGNORECASE | re.UNICODE)
#: labels that name a phone number even though they end like an identifier label ("tel. no.", "telefonnummer")
_PHONE_LABEL = re.compile(r"(?<![^\W\d_])(?:tel|tlf|phone|telefon|téléphone|teléfono|mobil|mobile|handy|fax|ring|call|sms|"
                          r"whatsapp|portable|móvil|movil|ruf|kontakt)", re.IGNORECASE)
_ALL_CAPS = re.compile(r"[A-Z]{2,6}")


def labelled_id(prose: str, start: int) -> bool:
    """Whether the number at ``start`` is labelled as an identifier (org.nr., SIREN, Kundenummer, case #, ref),
    judged from the one or two words before it. A plain "number"/"nummer"/"no." (without a compound or a code
    before it) and any phone word in those words leave it a phone number."""
    before = prose[max(0, start - 40):start]
    m = _ID_LABEL.search(before)
    if m is None:
        return False
    label = m.group(0).strip(" .:#-\u00a0")
    window = before[max(0, m.start() - 20):]
    if _PHONE_LABEL.search(window):
        return False
    if _ALL_CAPS.fullmatch(label) or m.group(0).lstrip().startswith("#"):
        return True
    low = label.lower()
    # a bare number noun ("number", "nr", "no") labels an identifier only with a word or code before it
    if low in ("nr", "no", "num", "nummer", "number", "numéro", "número", "numero"):
        prev = before[: m.start()]
        word = re.search(r"([^\W\d_]+)([.\-]?)\s*$", prev)
        return word is not None and (bool(word.group(2)) or bool(_ALL_CAPS.fullmatch(word.group(1))))
    return True


#: words that say a number is to be called, texted or faxed, in en/nb/de/fr/es (whole words, case-insensitive)
_PHONE_WORDS = re.compile(
    r"(?<![^\W\d_])(?:"
    r"tel|tlf|telf|tfn|fax|sms|whatsapp|signal|"  # abbreviations shared by the languages
    r"phone|phones|phoned|phoning|telephone|call|calls|calling|cell|cellphone|mobile|"  # en
    r"ring|rings|ringing|ringe|ringer|ringes|ringt|telefon|telefonen|telefonnummer|mobil|mobilen|mobilnummer|"
    r"mobiltelefon|mobiltlf|nås|"  # nb
    r"telefonisch|telefonnummer|anrufen|anruf|rufen|ruft|rufnummer|durchwahl|handy|handynummer|mobilnummer|"
    r"erreichbar|erreichen|rückruf|"  # de
    r"tél|téléphone|téléphoner|telephoner|appel|appelez|appeler|appelle|appelles|rappeler|rappelez|portable|"
    r"joignable|joindre|"  # fr
    r"teléfono|telefono|teléfonos|llame|llama|llamar|llámanos|llamanos|llámenos|llámame|llamada|llamadas|móvil|"
    r"movil|contacto"  # es
    r")(?![^\W\d_])", re.IGNORECASE)
#: region -> national formats that are phone numbers by their shape alone (mobile ranges written the way the
#: country writes them): Norway 8 digits from 4/9 grouped, Germany 015x-017x, France 0X in pairs, UK 07xxx,
#: Spain 6xx/7xx grouped
NATIONAL_SHAPES: dict[str, re.Pattern[str]] = {
    "NO": re.compile(r"[49]\d\d \d\d \d\d\d|[49]\d \d\d \d\d \d\d"),
    "DE": re.compile(r"\(?01[5-7]\d{1,2}\)?[ /-]?\d{3,4} ?\d{3,5}"),
    "FR": re.compile(r"0[1-9](?:[ .]\d\d){4}"),
    "GB": re.compile(r"07\d{3} ?\d{3} ?\d{3}"),
    "ES": re.compile(r"[67]\d\d(?: \d\d\d){2}|[67]\d\d(?: \d\d){3}"),
}
#: a currency or unit right beside the number: an amount or a measure, not a phone number
_UNIT_AFTER = re.compile(r"\s?(?:kr|nok|sek|dkk|eur|euro|euros|€|\$|£|usd|gbp|%|ms|kb|mb|gb|tb|km|m|metres|meters|"
                         r"metros|mètres|meter)(?![^\W\d_])", re.IGNORECASE)
_UNIT_BEFORE = re.compile(r"(?:kr|nok|eur|€|\$|£|usd|gbp)\.?\s?$", re.IGNORECASE)
#: the other end of a range of amounts: "NOK 720 000–860 000", "62.000-75.000 EUR", "de 45 000 à 52 000 €"
_RANGE = r"\s?(?:[–—-]|to|til|bis|à|a)\s?"
_AMOUNT_RANGE_BEFORE = re.compile(r"(?:kr|nok|sek|dkk|eur|€|\$|£|usd|gbp)\.?\s?\d[\d\s.,\u00a0\u202f]*" + _RANGE + "$",
                                  re.IGNORECASE)
_AMOUNT_RANGE_AFTER = re.compile(_RANGE + r"\d[\d\s.,\u00a0\u202f]*?\s?(?:kr|nok|sek|dkk|eur|euro|euros|€|\$|£|usd|gbp)"
                                 r"(?![^\W\d_])", re.IGNORECASE)
_CONTEXT_BEFORE = 60  # characters before a number in which a phone word makes it a phone number
_CONTEXT_AFTER = 25


def phone_context(prose: str, start: int, end: int, raw: str, region: str) -> bool:
    """Whether the valid number ``raw`` at ``start:end`` reads as a phone number: written with its country code
    (+47, 0047), a phone word near it (before it in its sentence, or just after: "412 34 567 (mobil)"), or in a
    national format only phones have. A currency or unit beside it makes it an amount or a measure, and so does
    one beside the other end of its range ("NOK 720 000–860 000")."""
    if _UNIT_AFTER.match(prose, end) or _UNIT_BEFORE.search(prose[max(0, start - 6):start]):
        return False
    if _AMOUNT_RANGE_AFTER.match(prose, end) or _AMOUNT_RANGE_BEFORE.search(prose[max(0, start - 30):start]):
        return False
    if raw.startswith("+") or raw.startswith("00"):
        return True
    shape = NATIONAL_SHAPES.get(region)
    if shape is not None and shape.fullmatch(raw.strip()):
        return True
    return _phone_word_near(prose, start, end)


def _phone_word_near(prose: str, start: int, end: int) -> bool:
    window = prose[max(0, start - _CONTEXT_BEFORE):start] + " " + prose[end:end + _CONTEXT_AFTER]
    return _PHONE_WORDS.search(window) is not None


def without_dates(text: str) -> str:
    """``text`` with every date, time span and day-month span blanked out (same length), so none is ever read as
    a phone number."""
    if not any(c in text for c in "./-:"):
        return text
    blank = DATE.sub(lambda m: " " * len(m.group(0)), text)
    return DATE_SPAN.sub(lambda m: " " * len(m.group(0)), blank)


#: number ranges the regulators reserve for fiction (Ofcom's drama numbers, ARCEP's 06 39 98): libphonenumber
#: calls them invalid, but a post that prints one is printing a personal number all the same (examples, mock-ups,
#: test posts copy them), so they count: region -> national-number prefixes
FICTION_RANGES: dict[str, tuple[str, ...]] = {"GB": ("7700900",), "FR": ("639980", "639981", "639982", "639983",
                                                                      "639984", "639985", "639986", "639987",
                                                                      "639988", "639989")}


#: a merely possible number (not valid in the numbering plan) this short is a short code or an hours range
#: ("weekdays 08-16"), never a person's number: no country in the rule's regions gives a subscriber fewer digits
MIN_SUBSCRIBER_DIGITS = 6


def _matches(prose: str, region: str) -> list[Any]:
    """libphonenumber's matches in ``prose`` for ``region``: valid numbers; possible ones in a fiction range; and
    possible ones a phone word points at ("joignable au 07 12 34 56 78": a number someone is told to call is
    personal data even when its range is not allocated, as in a mock-up or a typo), of at least
    ``MIN_SUBSCRIBER_DIGITS`` national digits."""
    import phonenumbers

    found: list[Any] = list(phonenumbers.PhoneNumberMatcher(prose, region, leniency=phonenumbers.Leniency.VALID))
    fiction = FICTION_RANGES.get(region)
    fictional = bool(fiction) and any(p[:4] in prose.replace(" ", "") for p in fiction or ())
    if fictional or _PHONE_WORDS.search(prose):
        spans = {(m.start, m.end) for m in found}
        for m in phonenumbers.PhoneNumberMatcher(prose, region, leniency=phonenumbers.Leniency.POSSIBLE):
            if (m.start, m.end) in spans or len(str(m.number.national_number)) < MIN_SUBSCRIBER_DIGITS:
                continue
            if (fictional and str(m.number.national_number).startswith(fiction or ())) or \
                    _phone_word_near(prose, m.start, m.end):
                found.append(m)
    return found


#: identifiers whose check digits leave no doubt about what they are: never also read as a phone number
_NOT_PHONES = ("iban", "card")


def without_identifiers(text: str) -> str:
    """``text`` with the identifiers ``privacy.pattern`` reports blanked out (same length): an IBAN or payment card
    number that passes its check, and a number in any identifier's shape that the words before it name as one
    ("Steuer-ID ... 12 345 678 901"), check or no check. Their digit groups read as a phone number too, and one
    stretch of digits gets one finding: the identifier's."""
    if not _may_hold_id(text, _digit_count(text)):
        return text
    original = text
    for name, shape in BUILTIN_PATTERNS.items():
        if name == "id-document":  # its shape is any product code: a phone number beside "passport" stays one
            continue
        checked = name in _NOT_PHONES
        if not checked and _ID_NAMES[name].search(original) is None:
            continue
        check = _VALIDATORS[name]
        text = _compiled(shape).sub(
            lambda m, ok=check, c=checked, n=name: " " * len(m.group(0))  # type: ignore[misc]
            if (c and ok(m.group(0))) or _named(original, m.start(), n) else m.group(0), text)
    return text


def phone(doc: Doc, ctx: Ctx, opts: PhoneOptions) -> list[Finding]:
    prose = doc.prose  # URLs (status pages, ids), mentions and hashtags are blanked out
    if not _DIGIT_RUN.search(prose):
        return []
    prose = without_identifiers(without_dates(prose))
    if not _DIGIT_RUN.search(prose):
        return []
    import phonenumbers

    regions = regions_for(ctx, opts)
    allowed = {_e164(a, r) for a in opts.allow for r in regions} - {None}
    if opts.own_contact and ctx.account.own_numbers:
        allowed.update(ctx.account.own_numbers)  # already E.164 (validated in settings)
    seen: set[tuple[int, int]] = set()
    out = []
    for region in regions:
        for match in _matches(prose, region):
            # one reading per stretch of digits: the first region's ("0151 2345 6789" in Germany), not also
            # another region's reading of a part of it ("2345 6789")
            if any(s < match.end and match.start < e for s, e in seen):
                continue
            seen.add((match.start, match.end))
            e164 = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
            if e164 in allowed or labelled_id(prose, match.start):
                continue
            # the first region to read a span decides its finding: an allowed or own number written nationally
            # ("815 00 000") is read as what it is in any region the rule considers, not only in that first one
            if allowed and any(_e164(match.raw_string, r) in allowed for r in regions if r != region):
                continue
            if opts.context and not phone_context(prose, match.start, match.end, match.raw_string, region):
                continue
            out.append(ctx.finding(
                "privacy.phone", opts, f"a phone number in a public post ({_mask(match.raw_string)})",
                match.start, match.end,
                "remove it; if it is the organisation's own public number (hotline, switchboard), declare it in "
                "own_numbers (the account's, or organisation.own_numbers) or the profile's privacy.phone allow list",
            ))
    return sorted(out, key=lambda f: f.start)


def _fnr_ok(digits: str) -> bool:
    d = [int(c) for c in digits]
    k1 = 11 - sum(a * b for a, b in zip((3, 7, 6, 1, 8, 9, 4, 5, 2), d[:9], strict=True)) % 11
    k2 = 11 - sum(a * b for a, b in zip((5, 4, 3, 2, 7, 6, 5, 4, 3, 2), d[:10], strict=True)) % 11
    k1, k2 = (0 if k1 == 11 else k1), (0 if k2 == 11 else k2)
    return k1 == d[9] and k2 == d[10] and int(digits[2:4]) % 40 <= 12


def _iban_ok(value: str) -> bool:
    s = value.replace(" ", "")
    if not 15 <= len(s) <= 34:
        return False
    moved = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def _luhn_ok(digits: str) -> bool:
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, c in enumerate(reversed(digits)):
        n = int(c)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


#: (first digits from, to, lengths) of the card schemes' issuer ranges (ISO/IEC 7812 IINs as the schemes publish
#: them): Visa, Mastercard (51-55 and 2221-2720), Mir, American Express, Diners Club, JCB, Maestro (50, 56-58), and
#: every 6: Discover (6011, 644-649, 65), UnionPay (62) and Maestro (6x) share its 13-19 digits.
#: A Luhn-valid digit run outside them (a 13-digit case number "2026060200071": one in ten passes Luhn by chance) is
#: no card number.
_CARD_RANGES: tuple[tuple[str, str, frozenset[int]], ...] = (
    ("4", "4", frozenset({13, 16, 19})),
    ("51", "55", frozenset({16})), ("2221", "2720", frozenset({16})), ("2200", "2204", frozenset({16, 17, 18, 19})),
    ("34", "34", frozenset({15})), ("37", "37", frozenset({15})),
    ("300", "305", frozenset(range(14, 20))), ("36", "36", frozenset(range(14, 20))),
    ("38", "39", frozenset(range(14, 20))),
    ("3528", "3589", frozenset(range(16, 20))),
    ("50", "50", frozenset(range(13, 20))), ("56", "58", frozenset(range(13, 20))),
    ("6", "6", frozenset(range(13, 20))),
)


def _card_ok(digits: str) -> bool:
    """Luhn-valid, with a length the scheme of its first digits issues."""
    return _luhn_ok(digits) and any(
        lo <= digits[: len(lo)] <= hi and len(digits) in lengths for lo, hi, lengths in _CARD_RANGES)


_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def _dni_ok(value: str) -> bool:
    """Spanish DNI/NIE: the letter is ``_DNI_LETTERS[n % 23]`` of the 8-digit number (a NIE's X/Y/Z read as 0/1/2)."""
    s = re.sub(r"[ .-]", "", value).upper()
    head = str("XYZ".index(s[0])) + s[1:-1] if s[0] in "XYZ" else s[:-1]
    return len(head) == 8 and head.isdigit() and _DNI_LETTERS[int(head) % 23] == s[-1]


def _nir_ok(value: str) -> bool:
    """French NIR: the key is 97 - (the 13-digit number mod 97); a Corsican department 2A / 2B counts as 19 / 18."""
    s = re.sub(r"[ .]", "", value).upper()
    if len(s) != 15:
        return False
    body = s[:5] + {"2A": "19", "2B": "18"}.get(s[5:7], s[5:7]) + s[7:13]
    return body.isdigit() and s[13:].isdigit() and 97 - int(body) % 97 == int(s[13:])


def _account_ok(digits: str) -> bool:
    """Norwegian account number: the 11th digit is the mod-11 check of the first ten (weights 5, 4, 3, 2, 7, 6, 5,
    4, 3, 2); a remainder of 1 is never issued."""
    if len(digits) != 11:
        return False
    rest = sum(int(c) * w for c, w in zip(digits[:10], (5, 4, 3, 2, 7, 6, 5, 4, 3, 2), strict=True)) % 11
    return rest != 1 and (11 - rest) % 11 == int(digits[10])


#: HMRC never issues D, F, I, Q, U, V as either letter, O as the second, nor these pairs
_NI_BAD_PAIRS = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})


def _ni_ok(value: str) -> bool:
    return (value[0] not in "DFIQUV" and value[1] not in "DFIOQUV" and value[:2] not in _NI_BAD_PAIRS)


def _steuer_id_ok(value: str) -> bool:
    """German Steuer-ID: no leading 0; in the first ten digits exactly one digit occurs twice or three times (three
    never side by side) and the others at most once; the last digit is the ISO 7064 MOD 11,10 check digit."""
    d = re.sub(r"\D", "", value)
    if len(d) != 11 or d[0] == "0":
        return False
    counts = sorted((d[:10].count(c) for c in set(d[:10])), reverse=True)
    if counts[0] not in (2, 3) or (len(counts) > 1 and counts[1] > 1):
        return False
    if counts[0] == 3 and any(d[i] == d[i + 1] == d[i + 2] for i in range(8)):
        return False
    product = 10
    for c in d[:10]:
        total = (int(c) + product) % 10 or 10
        product = total * 2 % 11
    return (11 - product) % 10 == int(d[10])


#: a piece every built-in pattern's match contains: 4 + 4 digits (national ids, card, DNI, tax id run together),
#: two capitals and two digits (IBAN), 2.3.3 digits with dots (DNI), X/Y/Z and four digits (NIE), 3 + 3 + 2 digits
#: (a grouped NIR or Steuer-ID); a text without one needs none of the searches
_ANY_ID = re.compile(r"\d{4}[ -]?\d{4}|[A-Z]{2}\d{2}|\d\d\.\d{3}\.\d{3}|[XYZ][ -]?\d{4}|\d{3}[ .]\d{3}[ .]\d\d|"
                     r"\d{4}[ .]\d\d[ .]\d{5}")
_ANY_ID_ASCII = re.compile(_ANY_ID.pattern, re.ASCII)  # for ASCII text: the same matches, faster
_MIN_ID_DIGITS = 7  # the shortest built-in identifier with a check: a NIE (a letter, 7 digits and a letter)
#: the identifiers shorter than that or without an ``_ANY_ID`` piece, each with its own pre-filter: a National
#: Insurance number (6 digits) needs its shape, an identity document's number needs the words that name it
_NI_SHAPE: re.Pattern[str] = re.compile(r"[A-Z]{2} ?\d\d ?\d\d ?\d\d ?[A-D]")
_OWN_GATE: dict[str, Callable[[str, int], bool]] = {
    "gb-ni-number": lambda text, digits: digits >= 6 and _NI_SHAPE.search(text) is not None,
    "id-document": lambda text, digits: digits >= 2 and _names_a_document(text),
}
#: every name in ``_DOCUMENT_NAMES`` contains one of these (lower case): a substring test before the expression
_DOCUMENT_STEMS = ("pas", "ausweis", "id-kort", "identit", "cni", "id card")


def _names_a_document(text: str) -> bool:
    low = text.lower()
    return any(stem in low for stem in _DOCUMENT_STEMS) and _ID_DOCUMENT.search(text) is not None


def _digit_count(text: str) -> int:
    return sum(map(text.count, "0123456789")) if text.isascii() else len(_NON_DIGIT.sub("", text))


def _may_hold_id(text: str, digits: int) -> bool:
    """False when no built-in pattern with a check can match: fewer than ``_MIN_ID_DIGITS`` digits, or no
    ``_ANY_ID`` piece."""
    return digits >= _MIN_ID_DIGITS and (_ANY_ID_ASCII if text.isascii() else _ANY_ID).search(text) is not None


_VALIDATORS = {
    "no-national-id": lambda v: _fnr_ok(re.sub(r"\D", "", v)),
    "iban": _iban_ok,
    "card": lambda v: _card_ok(re.sub(r"\D", "", v)),
    "es-national-id": _dni_ok,
    "fr-national-id": _nir_ok,
    "de-tax-id": _steuer_id_ok,
    "no-account": lambda v: bool(re.search(r"[ .]", v)) and _account_ok(re.sub(r"\D", "", v)),
    "gb-ni-number": lambda v: _ni_ok(v.replace(" ", "")),
    "id-document": lambda v: False,  # never by its shape alone: only where it is named (``_named``)
}
_LABELS = {"no-national-id": "a national identity number", "iban": "a bank account number (IBAN)",
           "card": "a payment card number", "es-national-id": "a Spanish identity number (DNI/NIE)",
           "fr-national-id": "a French social security number (NIR)",
           "de-tax-id": "a German tax identification number (Steuer-ID)",
           "no-account": "a bank account number", "gb-ni-number": "a National Insurance number",
           "id-document": "an identity document's number"}


_DOCUMENT_NAMES = (r"passport(?:\s+(?:number|no))?|passnummer\w*|passet|reisepass\w*|"
                   r"personalausweis\w*|ausweis\w*|id-kort\w*|nasjonalt\s+id-kort|passeport|"
                   r"carte\s+(?:nationale\s+)?d'identit[ée]|cni|pasaporte|"
                   r"(?:identity|id)\s+card(?:\s+number)?")
#: what a text calls each identifier, in en/nb/de/fr/es. A number in the identifier's shape that the words just
#: before it name as one is taken as one even when its check digits fail: the reader takes it for the real thing
#: (a made-up or mistyped DNI still exposes, or claims to expose, a person's), and only an unnamed digit run needs
#: the checksum to be told from an order or case number.
_ID_NAMES: dict[str, re.Pattern[str]] = {name: re.compile(r"(?<![^\W\d_])(?:" + words + r")(?![^\W\d_])", re.IGNORECASE)
                                         for name, words in {
    "no-national-id": r"fødselsnummer\w*|fødselsnr|personnummer\w*|f\.?nr|d-nummer\w*|"
                      r"national\s+(?:identity|id)(?:\s+number)?|national\s+number|personal\s+(?:identity\s+)?number",
    "iban": r"iban|kontonummer\w*|konto|kontoen|account(?:\s+number)?|compte|cuenta",
    "card": r"card(?:\s+number)?|kort|kortet|kortnummer\w*|bankkort\w*|kredittkort\w*|karte|kartennummer|"
            r"kreditkarte\w*|carte(?:\s+bancaire)?|tarjeta\w*|visa|mastercard|amex",
    "es-national-id": r"dni|nie|nif|documento\s+(?:nacional\s+)?de\s+identidad",
    "fr-national-id": r"s[ée]curit[ée]\s+sociale|s[ée]cu|nir|insee|carte\s+vitale",
    "de-tax-id": r"steuer-?id|steuer-?identifikationsnummer|identifikationsnummer|idnr",
    "no-account": r"kontonummer\w*|kontonr|konto|kontoen|bankkonto\w*|account(?:\s+number)?",
    "gb-ni-number": r"ni\s+(?:number|no)|national\s+insurance(?:\s+number)?|nino",
    "id-document": _DOCUMENT_NAMES,
}.items()}
#: a cheap pre-filter for ``id-document``: one of the names, anywhere
_ID_DOCUMENT: re.Pattern[str] = re.compile(_DOCUMENT_NAMES, re.IGNORECASE)
_NAMED_REACH = 120  # at most this many characters before the number
_SENTENCE_END = re.compile(r"[.!?…]+\s")
#: words that label a number as something else (a code, a case, an order, a version ...), en/nb/de/fr/es: the
#: nearest label before a number says what it is, so one of these between an identifier's name and the number
#: means the name is not the number's ("DNI y pasaporte en la taquilla; el localizador de tu entrada es el 12345678A")
_OTHER_LABEL = re.compile(
    r"(?<![^\W\d_])(?:codes?|kode\w*|c[oó]digo\w*|tickets?|cases?|caso|sak|saken|saks\w*|dossier\w*|expediente|"
    r"orders?|ordre\w*|bestell\w*|bestilling\w*|auftrag\w*|commande\w*|pedido\w*|refs?|reference\w*|"
    r"r[ée]f[ée]rence\w*|referanse\w*|referenz\w*|referencia\w*|localizador\w*|booking\w*|buchung\w*|"
    r"invoices?|faktura\w*|rechnung\w*|facture\w*|factura\w*|versions?|versjon\w*|versi[oó]n|serial|"
    r"seriennummer|tracking|sendung\w*|vorgang\w*|aktenzeichen|pin)(?![^\W\d_])", re.IGNORECASE)


def _named(text: str, start: int, name: str) -> bool:
    """Whether the number's sentence, or the one before it, names the identifier ``name`` before ``start``
    ("DNI 48291736K", "fødselsnummeret mitt, 14079134587", "they asked for my National Insurance number. It's
    QQ 12 34 56 C"), within ``_NAMED_REACH`` characters, and no other label comes between the name and the number
    ("Bring your passport. Your badge code is FK1234567")."""
    lo = max(0, start - _NAMED_REACH)
    ends = [m.end() for m in _SENTENCE_END.finditer(text, lo, start)]
    if len(ends) >= 2:
        lo = ends[-2]
    names = [m.end() for m in _ID_NAMES[name].finditer(text, lo, start)]
    return bool(names) and _OTHER_LABEL.search(text, names[-1], start) is None


@lru_cache(maxsize=64)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def pattern(doc: Doc, ctx: Ctx, opts: PatternOptions) -> list[Finding]:
    text = doc.prose
    digits = _digit_count(text)
    if digits < 2 and not opts.patterns:
        return []
    # every built-in identifier with a check has at least _MIN_ID_DIGITS digits and one of the _ANY_ID pieces
    may_match = _may_hold_id(text, digits)
    out = []
    found: set[tuple[int, int]] = set()  # one finding per span (an 11-digit number may pass two validators)
    for name in opts.builtin:
        gate = _OWN_GATE.get(name)
        if not (may_match if gate is None else gate(text, digits)):
            continue
        for m in _compiled(BUILTIN_PATTERNS[name]).finditer(text):
            if m.span() in found or m.group(0) in opts.allow:
                continue
            valid = _VALIDATORS[name](m.group(0))
            if not valid and not _named(text, m.start(), name):
                continue
            found.add(m.span())
            how = "" if valid else ", named as one" if name == "id-document" else \
                ", named as one; it fails the format's check, but readers take it for one"
            out.append(ctx.finding(
                "privacy.pattern", opts, f"{_LABELS[name]} in a public post ({_mask(m.group(0))}{how})", m.start(),
                m.end(),
                "remove it; if it is your organisation's own public number, add it to privacy.pattern allow",
            ))
    for name, rx in opts.patterns.items():
        for m in _compiled(rx).finditer(doc.text):
            if m.group(0) in opts.allow:
                continue
            out.append(ctx.finding(
                "privacy.pattern", opts, f"matches the private pattern {name!r}", m.start(), m.end(),
                f"remove {m.group(0)!r} or replace it with a public reference",
            ))
    return sorted(out, key=lambda f: f.start)


RULES: RuleTable = {
    "privacy.email": (email, EmailOptions),
    "privacy.phone": (phone, PhoneOptions),
    "privacy.pattern": (pattern, PatternOptions),
}
