"""``phrases.banned`` and ``phrases.required`` (for example a disclaimer on personal posts about work).

Phrases match case-insensitively on word boundaries. A required element may be conditional: ``when_any`` lists
phrases (the employer's name, its handle) whose presence makes the element required.

``phrases.banned`` also bans kinds of claim by their meaning (``claims``; the built-in organisation profile bans
all five), in English, Norwegian, German, French and Spanish, inflected forms included: an absolute **guarantee**
(a guarantee word in the sentence of availability, always/never, zero or 100 %: "uptime guaranteed", "garantierte
Verfügbarkeit", "disponibilité garantie"; a guarantee of a visit within 48 hours is a concrete commitment and
passes), **full-availability** (100 % of uptime, availability or the time, "always available", "never down",
"fällt nie aus"), **never-again** (a promise, not a
report: "will never happen again", "aldri skal skje igjen", "nie wieder", "ne se reproduira jamais", "no volverá a
pasar"; "it did not happen again" passes; "infallible", "unfehlbar"; "nobody is infallible" passes), **zero-risk**
("zero downtime", "risk-free", "null risiko", "cero caídas", "sans le moindre risque"; "no downtime expected" in a
maintenance notice, "not without risk" and "without risk assessment" pass) and
**market-superlative** (the best, fastest or most reliable in the world, a country or the market: "Norges beste
mobilnett", "le meilleur réseau de France", "unschlagbar"; the best technician of a region passes). A claim inside
quotation marks is mentioned, not made ("a competitor advertises '100 % uptime'").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, field_validator

from publisher.models import Finding
from publisher.rules.base import Ctx, Doc, RuleOptions, RuleTable, quotations


class BannedOptions(RuleOptions):
    phrases: list[str] = Field(default_factory=list)
    #: what to say instead, phrase -> replacement (shown as the suggestion)
    instead: dict[str, str] = Field(default_factory=dict)
    #: kinds of claim banned by their meaning in en/nb/de/fr/es, however worded (``CLAIMS``): guarantee,
    #: full-availability, never-again, zero-risk, market-superlative
    claims: list[str] = Field(default_factory=list)

    @field_validator("claims")
    @classmethod
    def _known_claims(cls, v: list[str]) -> list[str]:
        unknown = set(v) - set(CLAIMS)
        if unknown:
            raise ValueError(f"unknown claim kind(s) {sorted(unknown)}; use {sorted(CLAIMS)}")
        return v


class Element(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: shown in the finding ("disclaimer")
    name: str
    #: any one of these phrases satisfies the element
    any_of: list[str] = Field(min_length=1)
    #: the element is required only when one of these phrases occurs; empty = always
    when_any: list[str] = Field(default_factory=list)


class RequiredOptions(RuleOptions):
    elements: list[Element] = Field(default_factory=list)


@lru_cache(maxsize=256)
def _phrase(p: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)" + r"\s+".join(re.escape(w) for w in p.split()) + r"(?!\w)", re.IGNORECASE)


#: a percent sign as people write it: "%", "100 %" (French and Norwegian typography), "percent", "per cent" ...
_PERCENT = r"\s*(?:%|\s(?:percent|per\s+cent|prosent|prozent|pour\s*cent|por\s+ciento))"
#: what may stand between two words of a phrase: spaces, a hyphen ("game-changer"), or nothing ("gamechanger")
_GAP = r"[\s\u00a0,\-\u2010\u2011]*"
#: between two words of a phrase of three words or more: a separator and at most one inserted word ("never ever")
_LONG_GAP = r"[\s\u00a0,\-]+(?:\w+[\s\u00a0,]+)?"
_ENDINGS = ("ed", "es", "s", "d", "e")


def _word(w: str) -> str:
    """One phrase word as a pattern: a number with "%" in any spelling, a longer word with its inflections
    ("guaranteed" -> guarantee, guarantees; "changer" -> changers; "happen" -> happens, happened)."""
    m = re.fullmatch(r"(\d+(?:[.,]\d+)?)\s*%", w)
    if m:
        return re.escape(m.group(1)) + _PERCENT
    if len(w) >= 5 and w.isalpha():
        stem = next((w[: -len(e)] for e in _ENDINGS if w.endswith(e) and len(w) - len(e) >= 4), w)
        return re.escape(stem) + r"\w{0,3}"
    return re.escape(w)


@lru_cache(maxsize=256)
def banned_pattern(p: str) -> re.Pattern[str]:
    """A banned phrase as people vary it: spacing, hyphens and "%" spelled out, inflected words, one word inserted
    in a long phrase ("will never ever happen again"), and the two words of a two-word phrase in either order
    ("uptime guaranteed"). Word boundaries at both ends."""
    words = re.sub(r"(\d)\s+%", r"\1%", p.strip()).split()
    body = [_word(w) for w in words]
    if len(words) >= 3:
        alt = _LONG_GAP.join(body)
    else:
        alt = _GAP.join(body)
        if len(words) == 2:
            alt = f"(?:{alt}|{body[1]}{_GAP}{body[0]})"
    return re.compile(r"(?<!\w)" + alt + r"(?!\w)", re.IGNORECASE)


# -- overpromises by meaning: each claim kind is a few constructions per language, inflections included --

_PCT = r"(?<![\d.,])100\s*(?:%|prosent|percent|per\s*cent|prozent|pour\s*cent|por\s*ciento)"
#: "always" said as "every time" or "without exception": "every single time", "hver eneste gang", "jedes Mal",
#: "à chaque fois", "cada vez", "ohne Ausnahme", "sin excepción". "Every time" counts only where a clause ends
#: after it: "every time an alarm fires, we reply within 15 minutes" is a concrete commitment, and "cada vez más"
#: means "more and more"
_EVERY_TIME = (r"(?:every\s+(?:single\s+)?time|hver\s+(?:eneste\s+)?gang|jedes\s+(?:einzelne\s+)?mal|"
               r"(?:à\s+)?chaque\s+fois|cada\s+vez|todas\s+las\s+veces)(?=\s*(?:[.,!;:]|$))|"
               r"without\s+(?:any\s+)?exception|uten\s+unntak|ohne\s+ausnahme|sans\s+(?:aucune\s+)?exception|"
               r"sin\s+excepci[óo]n|"
               # round the clock, all year: "24/7", "24 hours a day", "døgnet rundt", "rund um die Uhr", "24h/24",
               # "las 24 horas, los 365 días"
               r"24\s*/\s*7|24\s*h\s*/\s*24|24\s+(?:hours|timer|stunden|heures|horas)\b[^.!?;\n]{0,12}?"
               r"(?:a\s+day|i\s+døgnet|am\s+tag|par\s+jour|al\s+día|7\s+(?:days|dager|tage|jours|días)|"
               r"(?:los\s+)?365\s+días|365)|365\s+(?:days|dager|tage|jours|días)|døgnet\s+rundt|rund\s+um\s+die\s+uhr|"
               r"jour\s+et\s+nuit|día\s+y\s+noche")
_ALWAYS = r"always|alltid|immer|toujours|siempre"
#: availability and absolutes a guarantee must not be attached to
_AVAILABILITY = (r"uptime|up-time|availability|oppetid\w*|tilgjengelighet\w*|verfügbarkeit|erreichbarkeit|"
                 r"disponibilit[ée]s?|disponibilidad|"
                 + _ALWAYS + r"|never|aldri|nie|niemals|jamais|nunca|" + _EVERY_TIME + "|"
                 r"without\s+interruption|uten\s+(?:avbrudd|brudd)|ohne\s+(?:unterbrechung|ausfall)\w*|"
                 r"sans\s+(?:interruption|coupure)s?|sin\s+(?:cortes|interrupciones|caídas)|"
                 r"zero|null|z[ée]ro|cero|" + _PCT)
_GUARANTEE = r"guarant\w*|garant\w*"
_SENTENCE = r"[^.!?;\n]"
_SUPERLATIVE = (r"best|fastest|most\s+reliable|greatest|finest|beste|raskeste|sikreste|mest\s+stabile|"
                r"besten|bestes|bester|schnellste\w*|zuverlässigste\w*|stabilste\w*|meilleure?s?|"
                r"plus\s+(?:rapide|fiable)s?|mejor(?:es)?|más\s+(?:rápid[ao]|fiable)s?")
#: the whole market: the world, a country, a continent, "the market" (not a region, a city or a contest)
_MARKET = (r"(?:the\s+)?(?:world|country|market|europe|norway|scandinavia|nordics|germany|france|spain|"
           r"verden|norge|landet|europa|norden|skandinavia|markedet|"
           r"deutschland|(?:der\s+)?welt|europas?|deutschlands|österreichs?|der\s+republik|im\s+land|"
           r"france|monde|pays|march[ée]|europe|"
           r"españa|mundo|país|mercado)")
_GENITIVE_MARKET = r"world's|europe's|norway's|verdens|norges|landets|europas|nordens|skandinavias|deutschlands|österreichs"

#: claim kind -> what it says (the finding's message) and its constructions (lower-case text)
CLAIMS: dict[str, tuple[str, tuple[str, ...]]] = {
    "guarantee": ("an absolute guarantee", (
        rf"\b(?:{_GUARANTEE})\b{_SENTENCE}{{0,40}}?\b(?:{_AVAILABILITY})(?!\w)",
        rf"(?<!\w)(?:{_AVAILABILITY})\b{_SENTENCE}{{0,40}}?\b(?:{_GUARANTEE})\b",
        # the absolute as a short sentence of its own right after the guarantee: "... guaranteed to reach you.
        # Every single time." (a fragment, so it belongs to the sentence before it)
        rf"\b(?:{_GUARANTEE})\b{_SENTENCE}{{0,60}}?[.!]\s+{_SENTENCE}{{0,12}}?\b(?:{_EVERY_TIME}|{_ALWAYS})\b"
        rf"{_SENTENCE}{{0,20}}(?:[.!]|$)",
        # the guarantee as a fragment of its own right after the absolute: "You will always find a space.
        # Guaranteed." (the fragment belongs to the sentence before it)
        rf"(?<!\w)(?:{_AVAILABILITY})\b{_SENTENCE}{{0,80}}[.!]\s+(?:{_GUARANTEE})\s*(?:[.!]|$)",
    )),
    "full-availability": ("a promise of 100 % availability", (
        rf"{_PCT}{_SENTENCE}{{0,25}}?\b(?:uptime|up-time|availab\w*|oppetid\w*|tilgjengelig\w*|verfügbar\w*|"
        rf"disponib\w*|of\s+the\s+time|av\s+tiden|der\s+zeit|du\s+temps|del\s+tiempo|online|erreichbar\w*)",
        rf"\b(?:uptime|up-time|availab\w*|oppetid\w*|tilgjengelighet\w*|verfügbarkeit\w*|disponibilit\w*|"
        rf"disponibilidad\w*)\s+(?:of\s+|på\s+|von\s+|de\s+|à\s+|del\s+)?{_PCT}",
        # 100 % said as "always": "always available", "alltid tilgjengelig", "immer erreichbar", "toujours
        # disponible", "siempre en línea"; "not always available" is an admission, not a promise
        rf"(?<!not\s)(?<!ikke\s)(?<!nicht\s)(?<!pas\s)(?<!no\s)\b(?:{_ALWAYS})\s+(?:(?:be|være|sein|être|estar)\s+)?"
        r"(?:available|online|up\s+and\s+running|tilgjengelig\w*|oppe|verfügbar\w*|erreichbar\w*|in\s+betrieb|"
        r"disponibles?|en\s+ligne|en\s+l[íi]nea|operativ[oa]s?)\b",
        # 100 % said as "never down": "is never down", "er aldri nede", "fällt nie aus", "ne tombe jamais en
        # panne", "nunca se cae"
        r"\b(?:is|are|be)\s+never\s+(?:down|offline|unavailable)\b|"
        r"\b(?:er|blir)\s+(?:\w+\s+){0,2}?aldri\s+(?:nede|utilgjengelig\w*|offline)\b|\bgår\s+aldri\s+ned\b|"
        r"\b(?:ist|sind)\s+nie(?:mals)?\s+(?:down|offline|ausgefallen)\b|\bf(?:ä|a)llt\s+nie(?:mals)?\s+aus\b|"
        r"\bnie(?:mals)?\s+aus(?:fällt|fallen)\b|"
        r"\bne\s+tombe(?:nt)?\s+jamais\s+en\s+panne\b|\bjamais\s+(?:en\s+panne|hors\s+ligne|indisponibles?)\b|"
        r"\bnunca\s+(?:se\s+caen?|est[áa]n?\s+ca[íi]d[oa]s?|deja\s+de\s+funcionar)\b",
    )),
    "never-again": ("a promise that it never happens again", (
        # "never" or "cannot": absolute; "this won't happen again" / "no volverá a pasar" / "det skal ikke skje
        # igjen" is a commitment that a concrete measure usually follows, and no blind set's writer banned it
        r"\bnever\s+again\b|\b(?:never|cannot|can't)\b(?:\W+\w+){0,3}?\W+"
        r"(?:happen|happens|occur|occurs|recur|recurs|repeat|fail|go\s+down|be\s+down|break)\b(?:\W+\w+){0,2}?"
        r"\W+again\b",  # a promise, not a report ("it did not happen again after the patch")
        r"\bnever\s+(?:goes|go|going)\s+down\b|\bnever\s+fails\b",
        r"\baldri\s+(?:mer|igjen)\b|\b(?:aldri|kan\s+ikke)\b(?:\W+\w+){0,3}?\W+(?:skje|hende|inntreffe|gjenta\w*|"
        r"gå\s+ned|falle\s+ut|feile)\b(?:\W+\w+){0,2}?\W+igjen\b",
        r"\bnie(?:mals)?\s+wieder\b|\b(?:nicht|nie|niemals)\s+(?:mehr|wieder)\b(?:\W+\w+){0,2}?\W+"
        r"(?:passier|vorkomm|geschehen|auftret|ausfall)\w*",
        r"\bplus\s+jamais\b|\bjamais\s+plus\b|\b(?:ne|n')\s*(?:\w+\s+){0,2}?(?:reprodui\w*|arrivera|produira|"
        r"recommencera)\s+(?:plus|jamais)\b",
        # "infallible" is "never fails" in one word ("nobody is infallible" is not a claim: ``_NEGATED``)
        r"\binfallib\w*|\bufeilbar\w*|\bunfehlbar\w*|\binfaillib\w*|\binfalib\w*",
        r"\bnunca\s+más\b|\bno\s+volver\w*\s+a\s+(?:pasar|ocurrir|suceder|repetirse|caer|fallar)\s+(?:nunca|jamás)\b|"
        r"\b(?:nunca|jamás)\s+(?:\w+\s+)?volver\w*\s+a\s+(?:pasar|ocurrir|suceder|repetirse|caer|fallar)|"
        r"\bno\s+(?:puede|podrá)\s+volver\s+a\s+(?:pasar|ocurrir|suceder|repetirse)|"
        r"\bjamás\s+(?:volverá|se\s+repetirá)",
        # "never fails" in the other languages ("svikter aldri", "versagt nie", "ne plante jamais", "nunca falla");
        # last, as its gate in ``_NEVER_GATES`` (one gate a construction, in the same order)
        r"\b(?:svikter|feiler)\s+aldri\b|\baldri\s+(?:svikter|feiler)\b|\bversag\w*\s+nie(?:mals)?\b|"
        r"\bnie(?:mals)?\s+versag\w*|\b(?:ne|n')\s*(?:plante|échoue|faillit)\s+jamais\b|\bnunca\s+falla\w*|"
        r"\bno\s+falla\w*\s+nunca\b|\bjamás\s+falla\w*",
    )),
    "zero-risk": ("a claim of zero risk or zero downtime", (
        r"\b(?:zero|z[ée]ro|null|cero)[\s-]+(?:risk|risks|downtime|outages?|interruptions?|failures?|risiko|nedetid|"
        r"avbrudd|ausf\w+|risques?|coupures?|pannes?|riesgos?|caídas|cortes|interrupciones)\b",
        r"\brisk[\s-]free\b|\brisikofri\w*|\brisikofrei\w*|\brisikolos\w*|\brisque\s+z[ée]ro\b|"
        r"\briesgo\s+cero\b|\bsans\s+aucun\s+risque\b|\bsin\s+ningún\s+riesgo\b|\bnullrisiko\b",
        # "without risk", "without the slightest risk", "sans le moindre risque" (not "without risk assessment":
        # a process, not a claim; not "not without risk": an admission)
        r"(?<!not\s)(?<!ikke\s)(?<!nicht\s)(?<!pas\s)(?<!no\s)"
        r"\b(?:without|uten|ohne|sans|sin)\s+(?:(?:any|the|a|slightest|least|single|noen|den|minste|jedes|jegliches|"
        r"das|geringste|irgendein|aucun|le|moindre|plus|petit|ningún|ningun|el|menor|más|mínimo)\s+){0,3}"
        r"(?:risks?|risiko|risques?|riesgos?)\b(?![\s-]*(?:assess\w*|analy\w*|vurdering\w*|bewert\w*|[ée]valuation|"
        r"evaluaci[óo]n|management|styring|appetite))",
    )),
    "market-superlative": ("a claim to be the best in the whole market", (
        # the thing may be a noun with a complement or two ("el mejor congreso de tecnología de nieve del mundo")
        rf"\b(?:{_SUPERLATIVE})\b(?:\s+[\w'-]+){{0,3}}?(?:\s+(?:of|for|de|d'|du|des|für|til)\s*(?:[\w'-]+\s+)?[\w'-]+){{0,2}}?"
        rf"\s+(?:in|of|i|im|der|de|du|en|del|d'|au|aux)\s*{_MARKET}\b",
        rf"\b(?:{_GENITIVE_MARKET})\s+(?:{_SUPERLATIVE})\b",
        rf"\b(?:{_SUPERLATIVE})\b(?:\s+[\w'-]+){{0,3}}?\s+(?:deutschlands|europas|norwegens|frankreichs|spaniens|"
        rf"österreichs|der\s+schweiz)\b",
        # German writes "the best in the world" as one word: "beim weltbesten Arbeitgeber", "weltschnellste"
        r"\bwelt(?:best|schnellst|zuverlässigst|stabilst|größt|grösst)\w*",
        # "unbeatable": no one in the market beats it
        r"\bunbeatable\b|\buslåelig\w*|\bunschlagbar\w*|\bimbattables?\b|\bimbatibles?\b",
    )),
}
#: claim kind -> a substring one of its constructions needs (an exact pre-filter before the regular expressions)
_CLAIM_GATES: dict[str, tuple[str, ...]] = {
    "guarantee": ("garant", "guarant"),
    "full-availability": ("100", "always", "alltid", "immer", "toujours", "siempre", "never", "aldri", "nie",
                          "jamais", "nunca"),
    "never-again": ("again", "never", "igjen", "aldri", "nie", "jamais", "reprodui", "arriver", "produir",
                    "recommencer", "nunca", "volver", "jamás", "infal", "feilbar", "fehlbar", "infail"),
    "zero-risk": ("zero", "zéro", "null", "cero", "risk", "risiko", "risque", "riesgo"),
    "market-superlative": ("best", "fastest", "reliable", "greatest", "finest", "raskeste", "sikreste", "stabil",
                           "schnellste", "zuverlässigste", "meilleur", "plus rapide", "plus fiable", "mejor", "welt",
                           "más r", "más f", "unbeat", "uslåel", "unschlagbar", "imbat"),
}


@lru_cache(maxsize=8)
def _claim_rx(name: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in CLAIMS[name][1]), re.IGNORECASE)


#: never-again constructions per language, each run only when the words it needs occur in the lower-cased text
#: (a post says "not" and "again" often; every language's expression over every text cost ~0.03 ms)
_NEVER_GATES: tuple[Callable[[str], bool], ...] = (
    lambda t: "again" in t and ("never" in t or "won't" in t or "can" in t
                                or ("not" in t and ("will" in t or "shall" in t))),
    lambda t: "never" in t,
    lambda t: "igjen" in t or ("aldri" in t and "mer" in t),
    lambda t: t.startswith("nie") or " nie" in t or ("nicht" in t and ("mehr" in t or "wieder" in t)),
    lambda t: "jamais" in t or "reprodui" in t or "arrivera" in t or "produira" in t or "recommencera" in t,
    lambda t: "infal" in t or "feilbar" in t or "fehlbar" in t or "infail" in t,
    lambda t: "nunca" in t or "jamás" in t or "volver" in t,
    lambda t: "aldri" in t or "nie" in t or "jamais" in t or "nunca" in t or "jamás" in t,
)
#: a negation in the few words before "infallible": "nobody is infallible", "ingen er ufeilbare", "personne n'est
#: infaillible" admit a limit, they claim nothing
_NEGATED = re.compile(r"\b(?:not|no|nobody|none|never|ikke|ingen|aldri|nicht|kein\w*|niemand|nie|n'|ne|pas|personne|"
                      r"jamais|nadie|nunca|ni)\W+(?:\w+\W+){0,2}$")
#: the "infallible" construction's place among never-again's (the one ``_NEGATED`` applies to)
_INFALLIBLE = next(i for i, rx in enumerate(CLAIMS["never-again"][1]) if "infallib" in rx)


@lru_cache(maxsize=8)
def _never_rx(i: int) -> re.Pattern[str]:
    return re.compile(CLAIMS["never-again"][1][i], re.IGNORECASE)


def claims(text: str, kinds: list[str]) -> list[tuple[int, int, str]]:
    """(start, end, kind) for every overpromise of these kinds in ``text``."""
    low = text.lower()
    out: list[tuple[int, int, str]] = []
    for name in kinds:
        for g in _CLAIM_GATES[name]:
            if g in low:
                break
        else:
            continue
        if name == "never-again":
            found = [(m.start(), m.end(), name) for i, gate in enumerate(_NEVER_GATES) if gate(low)
                     for m in _never_rx(i).finditer(low)
                     if not (i == _INFALLIBLE and _NEGATED.search(low[max(0, m.start() - 30):m.start()]))]
        else:
            found = [(m.start(), m.end(), name) for m in _claim_rx(name).finditer(low)]
        if name == "zero-risk":  # "1,140 attendees, 62 talks and zero outages": a count among counts
            found = [f for f in found if not _tally(low, f[0])]
        found = [f for f in found if not _disclaimed(low, f[0], f[1])]
        if name == "market-superlative":  # "named one of Norway's best workplaces": someone else's verdict, cited
            found = [f for f in found if not _AWARDED.search(low[max(0, f[0] - 60):f[0]])
                     and not _AWARDED_AFTER.match(low[f[1]:f[1] + 40])]
        out.extend(found)
    return out


#: a count ("62 talks", "1 140 participants") and the list separator after it, in any of the five languages
_COUNT = r"\d[\d.,\u00a0\u202f ]*[^\W\d]+(?:[ -][^\W\d]+)?\s*(?:,|\s(?:and|og|und|et|y|e|och)\s)\s*"
#: two counts right before a "zero ...": the zero is the last item of a tally of what happened, not a promise
_TALLY = re.compile(_COUNT + _COUNT + r"$")


def _tally(low: str, start: int) -> bool:
    """Whether the "zero ..." at ``start`` ends a list of at least two counts in its sentence ("1.140 asistentes,
    62 charlas y cero caídas de wifi"): a report of what was counted, which a reader can check, not a claim of
    zero risk. (A guarantee in the same sentence is still found: the ``guarantee`` claim.)"""
    return bool(_TALLY.search(_sentence_tail(low[max(0, start - 100):start])))


#: what ends a sentence, for the checks that look within a claim's sentence
_ENDS = (". ", "! ", "? ", "\n")


def _sentence_tail(head: str, ends: tuple[str, ...] = _ENDS) -> str:
    """The end of ``head`` since its last sentence end (all of it if it has none)."""
    return head[max(head.rfind(e) for e in ends) + 1:]


#: a promise disclaimed in the claim's sentence: a negation ("no one can", "we cannot", "ingen kan", "personne ne
#: peut", "nadie puede") whose verb of promising follows it within two words, with no clause break between it and
#: the claim ("No one can promise 100 % uptime", "We cannot promise that this will never happen again"), or, as
#: German puts the verb last, right after the claim ("Niemand kann 100 % Verfügbarkeit versprechen"): a limit
#: admitted, not a claim made. A negation of something else ("we can't fix it today, but we promise 100 % uptime")
#: disclaims nothing.
_NEGATION = (r"\b(?:no\s+one|nobody|noone|ingen|niemand|personne|nadie|can't|cannot|can\s+not|won't|will\s+not|"
             r"do\s+not|don't|ikke|nicht|ne|no)\b")
_PROMISE = (r"(?:promis\w*|guarant\w*|love|lover|lov(?:et|te)|garanter\w*|versprech\w*|versproch\w*|garantier\w*|"
            r"zusag\w*|zusich\w*|promet\w*|garanti\w*|prometer|prometemos|garantiz\w*)\b")
#: no clause break: a comma only before "that" ("Niemand kann versprechen, dass ...")
_ONE_CLAUSE = r"(?:[^,;:]|,\s*(?:that|at|dass|que)\b)*$"
#: the negation, up to two words, the verb of promising, then no clause break up to the claim
_DISCLAIMER = re.compile(_NEGATION + r"(?:[^\w,;:.!?]+[\w']+){0,2}?[^\w,;:.!?]+" + _PROMISE + _ONE_CLAUSE)
#: the negation with no clause break after it (the verb of promising then follows the claim)
_NEGATED_CLAUSE = re.compile(_NEGATION + _ONE_CLAUSE)
_PROMISE_NEXT = re.compile(r"^[^\w,;:.!?]*(?:\w+[^\w,;:.!?]+){0,1}?" + _PROMISE)


#: a sentence whose subject is negated ("No system has 100 % uptime", "Kein Anbieter erreicht 100 %", "Aucun
#: système n'est disponible à 100 %", "Ningún sistema tiene un 100 %", "Ingen systemer har 100 % oppetid"): it
#: says nothing has the claim, so it claims nothing; "no other provider offers 100 % uptime" says only we do, and
#: "no doubt", "no matter what" negate no subject
_NO_SUBJECT = re.compile(r"^\W*(?:no|nothing|kein\w*|nichts|aucun\w*|rien|ningun\w*|ningún|nada|ingen|intet|"
                         r"ingenting)\s+(?!other\b|andere\w*|autres?\b|otr[oa]s?\b|andre\b|annen\b|anna\b|"
                         r"matter\b|doubt\b|wonder\b|question\b|tvil\b|zweifel\b|wunder\b)"
                         r"(?:[^\W\d]+['\u2019]?\s+){0,3}" + _ONE_CLAUSE)


def _disclaimed(low: str, start: int, end: int) -> bool:
    """Whether the claim at ``start:end`` sits in a sentence that disclaims promising it (``_DISCLAIMER``) or
    whose subject is negated (``_NO_SUBJECT``)."""
    before = _sentence_tail(low[:start], (*_ENDS, ": "))  # "We don't do downtime: 100 % uptime" disclaims nothing
    if _DISCLAIMER.search(before + low[start:end]) or _NO_SUBJECT.match(before):
        return True
    return bool(_NEGATED_CLAUSE.search(before)) and bool(_PROMISE_NEXT.match(low[end:]))


#: a title someone else gave, right before a superlative: the post cites an award or a ranking (which a reader can
#: check), it does not claim to be the best itself
_AWARDED = re.compile(
    r"\b(?:named|voted|ranked|awarded|crowned|rated|elected|kåret|kåra|rangert|utnevnt|gekürt|gewählt|"
    r"ausgezeichnet|prämiert|élue?s?|classée?s?|nommée?s?|désignée?s?|distinguée?s?|elegid[oa]s?|nombrad[oa]s?|"
    r"premiad[oa]s?|reconocid[oa]s?)\b(?:\W+\w+){0,4}?\W*$")
#: the same with the participle after it, as German puts it ("wurde zum schnellsten Anbieter Deutschlands gekürt")
_AWARDED_AFTER = re.compile(r"(?:[^\w.!?]+\w+){0,3}?[^\w.!?]+(?:gekürt|gewählt|ausgezeichnet|prämiert|kåret|kåra)\b")


def banned(doc: Doc, ctx: Ctx, opts: BannedOptions) -> list[Finding]:
    out = []
    low = doc.text.lower()
    taken: list[tuple[int, int]] = []
    for phrase in opts.phrases:
        words = phrase.split()
        if not any(w.lower().rstrip("%")[:4] in low for w in words[:2]):
            continue
        for m in banned_pattern(phrase).finditer(doc.text):
            instead = opts.instead.get(phrase)
            taken.append((m.start(), m.end()))
            out.append(ctx.finding(
                "phrases.banned", opts, f"{m.group(0)!r} is on this profile's banned list", m.start(), m.end(),
                f"say {instead!r} instead" if instead else f"rephrase without {m.group(0)!r}",
            ))
    if opts.claims:
        # on the text first (no need for the prose, whose URLs and mentions cost more to find than the claims), on
        # the prose when something was found: a claim inside a link ("/zero-downtime") is not said
        found = claims(doc.text, opts.claims) and claims(doc.prose, opts.claims)
        quoted = quotations(doc.text) if found else ()
        for start, end, name in found:
            if any(s < start and end < e for s, e in quoted):
                continue  # cited, not made: a competitor's slogan, a customer's words
            if any(s < end and start < e for s, e in taken):
                continue  # already reported as a listed phrase
            taken.append((start, end))
            said = doc.text[start:end]
            out.append(ctx.finding(
                "phrases.banned", opts, f"{said!r}: {CLAIMS[name][0]} (banned by this profile: {name})", start, end,
                "state what was measured or committed to instead (the SLA figure, the actions taken)",
            ))
    return sorted(out, key=lambda f: f.start)


def required(doc: Doc, ctx: Ctx, opts: RequiredOptions) -> list[Finding]:
    out = []
    for el in opts.elements:
        trigger = None
        if el.when_any:
            trigger = next((m for p in el.when_any if (m := _phrase(p).search(doc.text))), None)
            if trigger is None:
                continue
        if any(_phrase(p).search(doc.text) for p in el.any_of):
            continue
        start, end = (trigger.start(), trigger.end()) if trigger else (len(doc.text), len(doc.text))
        why = f" because it mentions {trigger.group(0)!r}" if trigger else ""
        out.append(ctx.finding(
            "phrases.required", opts, f"the {el.name} is missing{why}", start, end,
            f"add {el.any_of[0]!r}",
        ))
    return out


RULES: RuleTable = {
    "phrases.banned": (banned, BannedOptions),
    "phrases.required": (required, RequiredOptions),
}
