"""Hostility in every language an account declares: insults aimed at someone, which VADER misses.

VADER scores "your software is garbage" as positive (it knows no "garbage") and knows English only. This finds
hostile language by its structure, per language family:

- an **insult word** (garbage, useless, pathetic / Müll, unfähig / nul, incompétents / basura, inútiles /
  søppel, udugelige), inflected forms included (the profanity rule's morphology: "Idioten", "idioter",
  "incapables", "inútiles"),
- **aimed at a target**: within the few words before it, a second-person word, a demonstrative, a third person or
  a copula ("your ... is", "ihr seid", "vous êtes", "sois unos", "dere er"), or the insult is a person-noun that
  insults on its own ("idiots", "Vollidioten", "crétins", "imbéciles", "idioter"),
- **not negated** just before ("not useless", "nicht unfähig", "pas nul", "no es basura", "ikke ubrukelig"),
  and not followed by a noun it only describes in a technical sense ("garbage collection", "søppeltømming" is one
  word and not listed).

Tickets keep it on: a ticket may report bad news, but an abusive ticket update is still abuse. The data is
small and kept here (no package ships a maintained multilingual insult lexicon usable offline); every entry is an
evaluative word, never a name. Pure Python, no model: loaded on first use, ~1 ms.
"""

from __future__ import annotations

import re
from functools import lru_cache

from publisher.rules.profanity import heads, inflected, morphology

#: family -> (insults that need a target, person-insults that stand alone, target words, negators, phrases)
#: family -> words that make the insult self-directed (self-criticism is not hostility): I, my, our, we ...
#: Object pronouns (me, us, uns, oss) are not among them: "they sent us their junk" is aimed at them.
#: A possessive ("my landlord", "mi casero") does not make a person-insult self-directed: only a first-person
#: subject (``SUBJECT``) does ("I am an idiot", "je suis un crétin").
SUBJECT: dict[str, str] = {
    "en": "i i'm im we we're me us myself ourselves", "de": "ich wir mich uns", "fr": "je j nous moi suis sommes",
    "es": "yo nosotros nosotras soy somos", "no": "jeg vi meg oss",
}
SELF: dict[str, str] = {
    "en": "i my our we myself ourselves", "de": "ich mein meine unser unsere wir",
    "fr": "je mon ma mes notre nos nous", "es": "yo mi mis nuestro nuestra nuestros nosotros",
    "no": "jeg min mitt mine vår vårt våre vi",
}
#: family -> subjects that are things, not people: "it was useless" describes a device, "it's rubbish" a result
THING_SUBJECTS: dict[str, frozenset[str]] = {"en": frozenset("it it's its".split())}
#: a following word that makes an insult word a technical term ("garbage collection", "trash can")
TECHNICAL_NEXT = frozenset("collection collector collectors can cans bin bins day days pickup truck trucks".split())

LEXICON: dict[str, tuple[str, str, str, str, str]] = {
    "en": (
        "garbage trash rubbish useless incompetent pathetic worthless clueless hopeless disgrace disgraceful "
        "shameful disgusting joke laughable stupid amateurish amateurs crooks "
        "liar liars lying incapable braindead brainless inept idiotic moronic ridiculous losers loser clowns clown "
        "circus shambles parasites parasite vultures dishonest",
        "idiot idiots moron morons imbecile imbeciles cretin cretins dimwit dimwits halfwit halfwits muppets "
        "numpties numpty buffoons buffoon scumbags scumbag incompetence",
        "you your you're youre yours ur u they they're their them these those this that such is are was were be "
        "he he's she she's his her "
        "being been whole bunch pack absolute complete total utter bloody",
        "not no never isn't aren't wasn't weren't hardly nothing",
        "shut up|shut your mouth|go to hell|get lost|drop dead|burn in hell|piss off|get stuffed|screw you|how dare you|"
        "do your job|you should be ashamed|should be fired|should be sacked|shame on you|you people",
    ),
    "de": (
        "müll mist schrott unfähig unfähige unfähigen nutzlos nutzlose nutzlosen erbärmlich erbärmliche lächerlich "
        "lächerliche armselig peinlich inkompetent inkompetente inkompetenten witz dumm dumme dummen dämlich "
        "dämliche abzocker versager stümper stümperhaft lügner schande saftladen "
        "unverschämt unverschämtheit lachhaft",
        "idiot idioten vollidiot vollidioten trottel deppen depp volltrottel dummköpfe dummkopf schwachkopf "
        "schwachköpfe penner pfeifen luschen nieten inkompetenz frechheit",
        "du dein deine deinen deiner deinem ihr euer eure euren eurer eurem sie ihre ihren ihrem ihrer dieser diese "
        "dieses diesen diesem er sein seine seinen seinem seiner ist "
        "sind seid bist war waren so total völlig absolut komplett echt ihr haufen bande",
        "nicht kein keine keinen nie niemals",
        "halt die klappe|halt den mund|halt's maul|halts maul|verpiss dich|geh zum teufel|schämt euch|schämen sie sich|"
        "ihr solltet euch schämen",
    ),
    "fr": (
        "nul nuls nulle nulles lamentable lamentables pathétique pathétiques minable minables incompétent "
        "incompétents incompétente incompétentes inutile inutiles ridicule ridicules honteux honteuse honte "
        "déchet déchets poubelle merdique blague escrocs menteurs menteur "
        "incapable incapables bons-à-rien bon-à-rien fainéants scandaleux",
        "idiot idiots imbécile imbéciles crétin crétins abrutis abruti débiles débile guignols guignol "
        "bouffons bouffon incompétence",
        "tu ton ta tes vous votre vos il elle ils elles son sa ses leur leurs ce cet cette ces c'est est sont êtes es "
        "était étaient espèce "
        "bande vraiment totalement complètement",
        "pas ne jamais plus aucun aucune",
        "ta gueule|fermez-la|fermez la|ferme-la|ferme la|la ferme|allez au diable|va te faire|honte à vous|vous devriez avoir honte",
    ),
    "es": (
        "basura inútil inútiles patético patética patéticos patéticas incompetente incompetentes vergüenza "
        "vergonzoso vergonzosa ridículo ridícula ridículos lamentable lamentables chapuza chapuceros estafa "
        "estafadores ladrones mentirosos mentiroso incapaces incapaz vagos porquería ineptos inepto",
        "idiota idiotas imbécil imbéciles estúpido estúpidos estúpida estúpidas tontos tonto "
        "inútiles cretinos cretino subnormales sinvergüenzas incompetencia",
        "tú tu tus usted ustedes su sus vosotros vosotras vuestro vuestra vuestros son es eres sois está están "
        "era eran este esta estos estas ese esa esos esas panda banda totalmente completamente "
        "muy",
        "no nunca jamás ni",
        "cállate|callaos|cállense|cierra la boca|vete al diablo|vete a la mierda|qué vergüenza|deberían avergonzarse",
    ),
    "no": (
        "søppel søpla skrot elendig elendige ubrukelig ubrukelige udugelig udugelige patetisk patetiske "
        "latterlig latterlige inkompetent inkompetente skammelig skam håpløs håpløse dum dumme "
        "løgnere amatører amatørmessig vits slappe klovner klovnene pinlig skandaløst",
        "idiot idioter idiotene tulling tullinger tosk tosker dust duster dustene kjeltringer kødder inkompetanse",
        "du din ditt dine dere deres de dem han hun hans hennes sin sitt sine denne dette disse er var være helt "
        "totalt skikkelig "
        "gjeng bande",
        "ikke ingen aldri",
        "hold kjeft|hold munn|dra til helvete|skam dere|dere burde skamme dere|gå og legg deg",
    ),
}

_TOKEN = re.compile(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*")
_WINDOW = 4  # words before an insult in which a target must appear


Tables = tuple[frozenset[str], frozenset[str], frozenset[str], frozenset[str], frozenset[str], tuple[str, ...],
               frozenset[str]]


@lru_cache(maxsize=8)
def _tables(family: str) -> Tables:
    ins, per, tgt, neg, phr = LEXICON[family]
    return (frozenset(ins.split()), frozenset(per.split()), frozenset(tgt.split()), frozenset(neg.split()),
            frozenset(SELF.get(family, "").split()), tuple(p for p in phr.split("|") if p),
            frozenset(SUBJECT.get(family, "").split()))


def families(languages: list[str]) -> tuple[str, ...]:
    """English and every declared language family (English insults turn up in every language's posts)."""
    fams = {"en"}
    for code in languages:
        code = code.lower().split("-")[0]
        fams.add("no" if code in ("nb", "nn", "no") else code)
    return tuple(sorted(f for f in fams if f in LEXICON))


@lru_cache(maxsize=16)
def _gate(fams: tuple[str, ...]) -> tuple[frozenset[str], frozenset[str]]:
    """Every insult word of these families, and their heads (see ``profanity.heads``)."""
    words: set[str] = set()
    for fam in fams:
        insults, persons = _tables(fam)[:2]
        words |= insults | persons
    frozen = frozenset(words)
    return frozen, heads(frozen)


def _maybe(low: str, lower_words: frozenset[str], fams: tuple[str, ...]) -> bool:
    """False when no word can be an insult (inflected or not) and no phrase occurs: an exact pre-filter."""
    words, starts = _gate(fams)
    if not lower_words.isdisjoint(words) or any(w[:4] in starts for w in lower_words if len(w) > 4):
        return True
    return any(p in low for fam in fams for p in _tables(fam)[5])


#: French and Catalan elision: "d'abruti", "l'idiot", "qu'incompétents" are the word after the apostrophe
_ELIDED = re.compile(r"(?:[dlcjmnst]|qu)'(?=[^\W\d_])")


def _unelided(start: int, end: int, tok: str) -> tuple[int, int, str]:
    m = _ELIDED.match(tok)
    return (start + m.end(), end, tok[m.end():]) if m else (start, end, tok)


def _singular(tok: str, words: frozenset[str]) -> bool:
    """``tok`` is the singular of a listed plural person-insult ("sinvergüenza" for "sinvergüenzas"); not used for
    the insults that need a target, where a singular may be another word ("amateur radio" from "amateurs")."""
    return len(tok) > 4 and (tok + "s" in words or tok + "es" in words)


def _vocative(low: str, start: int, end: int) -> bool:
    """An insult addressed to the reader: set off by a comma and closing the sentence (", clown.", ", idiota!")
    after a clause of three words or more (not the last item of a list: "paper, glass, trash.")."""
    after = low[end:end + 2].lstrip(" ")
    if after and after[0] not in ".!?\u2026":
        return False
    head = low[:start].rstrip(" ")
    if not head.endswith(","):
        return False
    clause = re.split(r"[,.;:!?]", head[:-1])[-1]
    return len(_TOKEN.findall(clause)) >= 3


_CLAUSE_END = ".!?;:\u2026"


def _clause_start(low: str, tokens: list[tuple[int, int, str]], k: int) -> int:
    """Index of the first of the ``_WINDOW`` tokens before token ``k`` that lie in its sentence: a target, a
    negator or a self-word in the previous sentence says nothing about this one ("... hos oss. Dere er dumme")."""
    lo = max(0, k - _WINDOW)
    for j in range(k, lo, -1):
        if any(c in _CLAUSE_END for c in low[tokens[j - 1][1]:tokens[j][0]]):
            return j
    return lo


def _clause_end(low: str, tokens: list[tuple[int, int, str]], k: int) -> int:
    """One past the last of the ``_WINDOW`` tokens after token ``k`` in its sentence."""
    hi = min(len(tokens), k + 1 + _WINDOW)
    for j in range(k + 1, hi):
        if any(c in _CLAUSE_END for c in low[tokens[j - 1][1]:tokens[j][0]]):
            return j
    return hi


def find(text: str, languages: list[str], lower_words: frozenset[str] | None = None) -> list[tuple[int, int, str]]:
    """(start, end, quoted) for every hostile expression in ``text``: each language's insults are matched with that
    language's targets, negators and self-words only (Norwegian "late" is not English "late"). ``lower_words``:
    the text's words lower-cased, when the caller has them (``Doc.lower_words``)."""
    low = text.lower()
    fams = families(languages)
    if lower_words is not None and not _maybe(low, lower_words, fams):
        return []
    tokens = [_unelided(m.start(), m.end(), m.group(0).replace("\u2019", "'")) for m in _TOKEN.finditer(low)]
    out: set[tuple[int, int, str]] = set()
    for fam in fams:
        insults, persons, targets, negators, selfs, phrases, subjects = _tables(fam)
        ends, swaps, _ = morphology((fam,))
        morph = (ends, swaps, ())  # endings only: profanity's compound roots are the profanity rule's
        for phrase in phrases:
            i = low.find(phrase)
            if i >= 0 and (i == 0 or not low[i - 1].isalpha()) and \
                    (i + len(phrase) == len(low) or not low[i + len(phrase)].isalpha()):
                out.add((i, i + len(phrase), text[i:i + len(phrase)]))
        for k, (start, end, tok) in enumerate(tokens):
            person = tok in persons or inflected(tok, persons, morph) or _singular(tok, persons)
            if not person and not (tok in insults or inflected(tok, insults, morph)):
                continue
            lo = _clause_start(low, tokens, k)
            before = [t for _, _, t in tokens[lo:k]]
            after = [t for _, _, t in tokens[k + 1:_clause_end(low, tokens, k)]]
            if _vocative(low, start, end):  # addressed to the reader: what came before in the sentence is moot
                out.add((start, end, text[start:end]))
                continue
            if any(t in negators for t in before[-2:]) or any(t in (subjects if person else selfs) for t in before):
                continue
            if not person and not THING_SUBJECTS.get(fam, frozenset()).isdisjoint(before[-3:]):
                continue  # "so it was useless": a thing described, no one insulted
            if not person and any(t in selfs for t in after):
                continue  # "a stupid typo in our own filter": self-criticism, the insult describes our own thing
            if k + 1 < len(tokens) and tokens[k + 1][2] in TECHNICAL_NEXT:
                continue
            if person:
                out.add((start, end, text[start:end]))
            elif any(t in targets for t in before):
                first = tokens[lo][0]
                out.add((first, end, text[first:end]))
    return sorted(out)
