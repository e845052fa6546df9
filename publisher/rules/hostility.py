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

Hostility that needs no insult word of the lexicon is found by its construction:

- **group exclamations**: "what a bunch of whiners" (English: the word after must disparage, by the lexicon or
  VADER), "Bande d'amateurs", "menuda panda de vagos", "was für ein Haufen Versager", "for en gjeng med sytere";
  not when the words after praise ("what a bunch of legends") or the group is the writer's ("we are such a bunch"),
- **verdicts**: a word of contempt that is a clause of its own after what it judges ("... er en vits. Patetisk.",
  "Pitoyable, comme d'habitude."); followed by a word it is an adverb ("lächerlich günstig"),
- **compounds** (German, Norwegian): an insult before an organisation, group or people head ("Stümperverein",
  "kjeltringselskap", "idiotkunder"), before a device head ("Mistgerät", needs a target like "Mist"), or a German
  word ending in a person insult ("Netzwerkidioten"); Norwegian "fotballidiot" is a fan and is left alone,
- **joke nouns** (joke, Witz, blague, chiste, vits) only as the close of a predicate ("is a joke.", "a joke of").

Tickets keep it on: a ticket may report bad news, but an abusive ticket update is still abuse. The data is
small and kept here; every entry is an evaluative word, never a name. No package ships a maintained multilingual
insult lexicon usable offline: glin-profanity (MIT, 110 kB) was checked and not taken: its lists are sexual and
obscene words and slurs (13 Norwegian entries; "nackt", "Drogas", "martillo", "bosser" among them), not contempt
or insults, and better-profanity is English only (the profanity rule uses it). Pure Python, no model: loaded on
first use, ~1 ms.
"""

from __future__ import annotations

import re
from functools import lru_cache

from publisher.rules.profanity import heads, inflected, morphology

#: family -> (insults that need a target, person-insults that stand alone, target words, negators, phrases: a
#: closing "." marks a phrase hostile only as a whole utterance, ``UTTERANCES``)
#: family -> words that make the insult self-directed (self-criticism is not hostility): I, my, our, we ...
#: Object pronouns (me, us, uns, oss) are not among them: "they sent us their junk" is aimed at them.
#: A possessive ("my landlord", "mi casero") does not make a person-insult self-directed: only a first-person
#: subject (``SUBJECT``) does ("I am an idiot", "je suis un crétin").
SUBJECT: dict[str, str] = {
    "en": "i i'm im we we're me us myself ourselves", "de": "ich wir mich uns", "fr": "je j nous moi suis sommes",
    "es": "yo nosotros nosotras soy somos", "no": "jeg vi meg oss",
}
SELF: dict[str, str] = {
    "en": "i i'm im i've we we're we've my our we myself ourselves", "de": "ich mein meine unser unsere wir",
    "fr": "je mon ma mes notre nos nous", "es": "yo mi mis nuestro nuestra nuestros nosotros",
    "no": "jeg min mitt mine vår vårt våre vi",
}
#: family -> subjects that are things, not people: "it was useless" describes a device, "it's rubbish" a result
THING_SUBJECTS: dict[str, frozenset[str]] = {"en": frozenset("it it's its".split())}
#: insults that describe people only (never a thing one made): liars, incompetents, the incapable
_PEOPLE_ONLY = frozenset("liar liars lügner menteur menteurs menteuse mentiroso mentirosos mentirosa løgner løgnere "
                         "incapable incapables incompetent incompetents incompétent incompétents incompetente "
                         "incompetentes inkompetent inkompetente inkompetenten crooks escrocs estafadores "
                         "kjeltringer abzocker".split())
#: a following word that makes an insult word a technical term ("garbage collection", "trash can")
TECHNICAL_NEXT = frozenset("collection collector collectors can cans bin bins day days pickup truck trucks "
                           "terminal terminals switch switches pipe pipes phone phones".split())  # "a dumb switch"

LEXICON: dict[str, tuple[str, str, str, str, str]] = {
    "en": (
        "garbage trash rubbish useless incompetent pathetic worthless clueless hopeless disgrace disgraceful dumb "
        "shameful disgusting joke laughable stupid amateurish amateurs crooks "
        "liar liars lying incapable braindead brainless inept idiotic moronic ridiculous losers loser clowns clown "
        "circus shambles parasites parasite vultures dishonest pitiful amateurs charlatans "
        "frauds",
        "idiot idiots moron morons imbecile imbeciles cretin cretins dimwit dimwits halfwit halfwits muppets "
        "numpties numpty buffoons buffoon scumbags scumbag incompetence",
        "you your you're youre yours ur u they they're their them these those this that such is are was were be "
        "he he's she she's his her "
        "being been whole bunch pack absolute complete total utter bloody",
        "not no never isn't aren't wasn't weren't hardly nothing",
        "shut up|shut your mouth|go to hell|get lost|drop dead|burn in hell|piss off|get stuffed|screw you|how dare you|"
        "do your job|you should be ashamed|should be fired|should be sacked|shame on you|you people|thanks for nothing.",
    ),
    "de": (
        "müll mist schrott unfähig unfähige unfähigen nutzlos nutzlose nutzlosen erbärmlich erbärmliche lächerlich "
        "blöd blöde blöden "
        "lächerliche armselig peinlich inkompetent inkompetente inkompetenten witz dumm dumme dummen dämlich "
        "dämliche abzocker versager stümper stümperhaft lügner schande saftladen "
        "unverschämt unverschämtheit lachhaft amateure dilettanten jämmerlich ahnungslos ahnungslose ahnungslosen "
        "witzfiguren clowns",
        "idiot idioten vollidiot vollidioten trottel deppen depp volltrottel dummköpfe dummkopf schwachkopf "
        "schwachköpfe penner pfeifen luschen nieten inkompetenz frechheit chaoten chaot vollpfosten pfuscher "
        "stümper versager nichtsnutze",
        "du dein deine deinen deiner deinem ihr euer eure euren eurer eurem sie ihre ihren ihrem ihrer dieser diese "
        "dieses diesen diesem er sein seine seinen seinem seiner ist "
        "sind seid bist war waren so total völlig absolut komplett echt ihr haufen bande",
        "nicht kein keine keinen nie niemals",
        "halt die klappe|halt den mund|halt's maul|halts maul|verpiss dich|geh zum teufel|schämt euch|schämen sie sich|"
        "ihr solltet euch schämen|danke für nichts.",
    ),
    "fr": (
        "nul nuls nulle nulles lamentable lamentables pathétique pathétiques minable minables incompétent "
        "incompétents incompétente incompétentes inutile inutiles ridicule ridicules honteux honteuse honte "
        "déchet déchets poubelle merdique blague escrocs menteurs menteur "
        "incapable incapables bons-à-rien bon-à-rien fainéants scandaleux pitoyable pitoyables blague amateurs "
        "charlots clowns guignols branquignols",
        "idiot idiots imbécile imbéciles crétin crétins abrutis abruti débiles débile guignols guignol "
        "bouffons bouffon incompétence",
        "tu ton ta tes vous votre vos il elle ils elles son sa ses leur leurs ce cet cette ces c'est est sont êtes es "
        "était étaient espèce "
        "bande vraiment totalement complètement",
        "pas ne jamais plus aucun aucune",
        "ta gueule|fermez-la|fermez la|ferme-la|ferme la|la ferme|allez au diable|va te faire|honte à vous|vous devriez avoir honte|merci pour rien.",
    ),
    "es": (
        "basura inútil inútiles patético patética patéticos patéticas incompetente incompetentes vergüenza "
        "vergonzoso vergonzosa ridículo ridícula ridículos lamentable lamentables chapuza chapuceros estafa "
        "estafadores ladrones mentirosos mentiroso incapaces incapaz vagos porquería ineptos inepto chiste "
        "payasos chapuzas negados negado penoso penosa",
        "idiota idiotas imbécil imbéciles estúpido estúpidos estúpida estúpidas tontos tonto "
        "inútiles cretinos cretino subnormales sinvergüenzas incompetencia",
        "tú tu tus usted ustedes su sus vosotros vosotras vuestro vuestra vuestros son es eres sois está están "
        "era eran este esta estos estas ese esa esos esas panda banda totalmente completamente "
        "muy",
        "no nunca jamás ni",
        "cállate|callaos|cállense|cierra la boca|vete al diablo|vete a la mierda|qué vergüenza|deberían avergonzarse|gracias por nada.",
    ),
    "no": (
        "søppel søpla skrot elendig elendige ubrukelig ubrukelige udugelig udugelige patetisk patetiske "
        "latterlig latterlige inkompetent inkompetente skammelig skam håpløs håpløse dum dumme "
        "løgnere amatører amatørmessig vits slappe klovner klovnene pinlig skandaløst "
        "kjeltring kjeltringer",
        "idiot idioter idiotene tulling tullinger tosk tosker dust duster dustene kjeltringer kødder inkompetanse",
        "du din ditt dine dere deres de dem han hun hans hennes sin sitt sine denne dette disse er var være helt "
        "totalt skikkelig "
        "gjeng bande",
        "ikke ingen aldri",
        "hold kjeft|hold munn|dra til helvete|skam dere|dere burde skamme dere|gå og legg deg|takk for ingenting.",
    ),
}

#: phrases that are hostile only as a whole utterance, written in ``LEXICON`` with a closing "." ("thanks for
#: nothing."): "Thanks for nothing." but not "thanks for nothing less than a record year"; the phrase must end the
#: text or be followed by a mark (a comma, a full stop, an emoji)
UTTERANCES = frozenset(p[:-1] for *_, phrases in LEXICON.values() for p in phrases.split("|") if p.endswith("."))
_UTTERANCE_END = re.compile(r"\s*(?:$|[^\w\s])")

#: family -> an exclamation or predicate that lumps people into a group ("what a bunch of", "bande d'", "son una
#: panda de", "so ein Haufen", "for en gjeng med"): the words after it are hostile unless they praise
#: (``POSITIVE``) or are no words at all ("la bande des 3,5 GHz" is a frequency band: no exclamation before it)
GROUPS: dict[str, str] = {
    "en": r"\b(?:what|such)\s+an?\s+(?:bunch|pack|load|gang|herd|band|shower)\s+of\s+",
    "de": r"(?:\bso\s+ein(?:en)?|\bwas\s+für\s+ein(?:en)?|\bihr|\bdiese[rnm]?|\bseid\s+ein|\bsind\s+ein)"
          r"\s+(?:haufen|bande|truppe|horde|sauhaufen)\s+(?:von\s+)?",
    "fr": r"(?:^|[.!?;:,]\s*|\bquelle\s+|\bcette\s+|\bespèce\s+de\s+|\bêtes\s+une\s+|\bvous\s+)"
          r"(?:bande|tas|ramassis|troupeau)\s+d(?:e\s+|')",
    "es": r"(?:^|[.!?;:,¡¿]\s*|\bqué\s+|\bmenuda\s+|\bvaya\s+|\b(?:son|sois|eres|es)\s+una\s+)"
          r"(?:panda|pandilla|hatajo|sarta)\s+de\s+",
    "no": r"\b(?:for\s+(?:en|ei|et)|hvilken|dere\s+er\s+en|de\s+er\s+en|en\s+sånn|en\s+slik)"
          r"\s+(?:gjeng|bande|flokk|haug|samling)\s+(?:med\s+|av\s+)?",
}
#: family -> the taunt that the reader cannot read ("I know reading is hard, but ...", "Lesen ist offenbar
#: optional.", "lire n'est pas si difficile", "Es vuestra comprensión lectora.", "lær dere å lese"): reading said
#: to be hard or optional where that ends its clause (or comes before "but" or "than": "reading is hard on a phone"
#: describes), reading called a skill, the readers' reading comprehension, or a call to learn to read; every blind
#: set's writers reached for it. Not the writer's own ("we will have to learn to read the texts ourselves")
READING: dict[str, str] = {
    "en": r"\breading\s+(?:is|isn't|is\s+not)\s+(?:\w+\s+){0,2}?(?:hard|harder|difficult|optional|rocket\s+science)"
          r"(?=\s*(?:[.!?;:,]|$|but\b|than\b))|\breading\s+is\s+(?:\w+\s+)?a\s+skill\b|"
          r"\b(?:your|their)\s+reading\s+(?:comprehension|skills)\b|"
          r"(?:^|[.!?;:,]\s*|\b(?:maybe|perhaps|just|please|should|could|must|to|go)\s+)learn\s+to\s+read\b",
    "de": r"\blesen\s+ist\s+(?:\w+\s+){0,2}?(?:schwer|schwerer|anstrengend|anstrengender|optional|"
          r"keine\s+raketenwissenschaft)(?=\s*(?:[.!?;:,]|$|aber\b|als\b))|\blesen\s+ist\s+(?:\w+\s+)?eine\s+"
          r"fähigkeit\b|\b(?:euer|eure|ihr|ihre|dein|deine)\s+leseverständnis|"
          r"\b(?:sollte\w*|müsst|müssten|mal|vielleicht)\s+(?:\w+\s+){0,2}?lesen\s+lernen\b|\blernt\s+(?:mal\s+)?lesen\b",
    "fr": r"\blire\s+(?:n'est|est)\s+(?:\w+\s+){0,2}?(?:difficile|compliqué|optionnel|facultatif|en\s+option|"
          r"sorcier)(?=\s*(?:[.!?;:,]|$|mais\b|que\b))|\bsavoir\s+lire\s+est\b|"
          r"\b(?:votre|ta|leur)\s+compréhension\s+(?:écrite|de\s+(?:la\s+)?lecture|de\s+texte)|"
          r"\b(?:peut-être|devriez|devrais|faudrait|faut|allez|essayez\s+d')\s+(?:\w+\s+){0,2}?apprendre\s+à\s+lire\b|"
          r"\bapprenez\s+à\s+lire\b|\bapprends\s+à\s+lire\b",
    "es": r"\bleer\s+(?:no\s+)?es\s+(?:\w+\s+){0,2}?(?:difícil|complicado|opcional)(?=\s*(?:[.!?;:,]|$|pero\b|que\b))|"
          r"\bsaber\s+leer\s+es\b|\b(?:vuestra|tu|su)\s+comprensión\s+lectora\b|"
          r"\b(?:podrías|podríais|podría|deberías|deberíais|debería|quizá|quizás|mejor)\s+(?:\w+\s+){0,2}?"
          r"aprender\s+a\s+leer\b|\baprended\s+a\s+leer\b|(?:^|[.!?;:,¡¿]\s*)aprende\s+a\s+leer\b",
    "no": r"\b(?:å\s+lese|lesing)\s+er\s+(?:\w+\s+){0,2}?(?:vanskelig|vanskeligere|valgfritt|tungt|rakettforskning)"
          r"(?=\s*(?:[.!?;:,]|$|men\b|enn\b))|\b(?:å\s+lese|lesing)\s+er\s+(?:\w+\s+)?en\s+ferdighet\b|"
          r"\b(?:deres|din)\s+leseforståelse\b|\blær\s+(?:deg|dere)\s+å\s+lese\b|"
          r"\b(?:burde|bør|må)\s+(?:\w+\s+){0,2}?lære\s+(?:seg|dere|deg)\s+å\s+lese\b",
}
#: words before a reading taunt that make it the writer's own ("on va devoir apprendre à lire")
_READING_SELF = frozenset("on".split())
#: a reading taunt that is a call to learn to read (whose subject may be the writer)
_LEARN = re.compile(r"learn|lern|appren|aprend|lær")
#: one of these words is in every reading taunt (the pre-filter's test, ``_maybe``)
_READING_WORDS = frozenset("read reading lesen lire leer lese lesing leseverständnis compréhension comprensión "
                           "leseforståelse".split())

#: family -> words after a group exclamation that praise or count, not insult ("what a bunch of legends")
POSITIVE: dict[str, frozenset[str]] = {
    "en": frozenset("legends legend heroes stars champions geniuses pros professionals experts wizards rockstars "
                    "superstars angels gems volunteers friends talent talented brilliant amazing great lovely "
                    "wonderful good nice fine awesome fantastic happy helpful smart".split()),
    "de": frozenset("helden profis experten lieben genies stars engagierte engagierten tolle tollen großartige "
                    "freiwillige freiwilligen kollegen arbeit geld zeit spaß glück freunde fans".split()),
    "fr": frozenset("héros pros experts génies champions bénévoles passionnés amis potes talents "
                    "fans".split()),
    "es": frozenset("héroes profesionales expertos cracks genios voluntarios amigos campeones fans "
                    "valientes".split()),
    "no": frozenset("helter proffer eksperter frivillige venner flotte fantastiske supre gode råe ildsjeler "
                    "flinke kjekke fans".split()),
}
#: family -> contempt that is a verdict on its own when it forms its clause: "Pathetic." "Armselig." "Pitoyable,
#: comme d'habitude." (followed by a word it is an adverb or an attribute: "lächerlich günstig")
VERDICTS: dict[str, frozenset[str]] = {
    "en": frozenset("pathetic pitiful laughable disgraceful shameful embarrassing useless clowns amateurs "
                    "incompetent".split()),
    "de": frozenset("armselig erbärmlich lächerlich peinlich jämmerlich unfähig stümperhaft dilettantisch "
                    "amateure".split()),
    "fr": frozenset("pitoyable lamentable pathétique minable ridicule honteux navrant affligeant consternant "
                    "nul nuls incompétents".split()),
    "es": frozenset("patético patética lamentable ridículo vergonzoso penoso bochornoso patéticos "
                    "inútiles".split()),
    "no": frozenset("patetisk latterlig elendig pinlig skammelig håpløst håpløse udugelige ubrukelige "
                    "amatørmessig".split()),
}
#: family -> words that may come between a clause's start and its verdict ("simply pathetic", "einfach armselig")
_VERDICT_INTENSIFIERS = frozenset("just simply truly absolutely so utterly einfach nur echt total völlig absolut "
                                  "vraiment juste simplement totalement complètement totalmente simplemente "
                                  "realmente muy bare helt rett og slett skikkelig".split())
#: family -> the head of a compound insult made of an insult and an organisation, a group, people or a device
#: ("Stümperverein", "Chaotenladen", "Mistgerät", "kjeltringselskap", "idiotkunder")
COMPOUND_HEADS: dict[str, tuple[str, ...]] = {
    "de": ("verein", "laden", "bude", "haufen", "truppe", "firma", "konzern", "betrieb", "gesindel", "pack",
           "kunden", "typen", "leute", "gerät", "geräte", "kiste", "ding", "teil", "software", "anbieter"),
    "no": ("selskap", "selskapet", "firma", "firmaet", "gjeng", "gjengen", "bande", "kunder", "kundene", "folk",
           "typer", "sjappe", "sjappa", "butikk", "etat", "etaten", "leverandør", "leverandøren"),
}
#: person insults too ambiguous to end a compound ("Orgelpfeifen" are organ pipes, "Blindnieten" rivets)
_NOT_COMPOUND_TAILS = frozenset("pfeifen nieten penner dust duster dustene tosk tosker".split())
#: family -> a preposition right before an insult word that makes it a purpose or an audience, not a verdict
#: ("a course for amateurs", "pour amateurs", "para aficionados")
_AUDIENCE = {"en": frozenset(["for"]), "de": frozenset(["für"]), "fr": frozenset(["pour"]),
             "es": frozenset(["para"]), "no": frozenset(["til"])}  # Norwegian "for dumme" is "too stupid"

_TOKEN = re.compile(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*")
_WINDOW = 4  # words before an insult in which a target must appear


Tables = tuple[frozenset[str], frozenset[str], frozenset[str], frozenset[str], frozenset[str], tuple[str, ...],
               frozenset[str]]


@lru_cache(maxsize=8)
def _tables(family: str) -> Tables:
    ins, per, tgt, neg, phr = LEXICON[family]
    return (frozenset(ins.split()), frozenset(per.split()), frozenset(tgt.split()), frozenset(neg.split()),
            frozenset(SELF.get(family, "").split()), tuple(p.removesuffix(".") for p in phr.split("|") if p),
            frozenset(SUBJECT.get(family, "").split()))


def families(languages: list[str]) -> tuple[str, ...]:
    """English and every declared language family (English insults turn up in every language's posts)."""
    fams = {"en"}
    for code in languages:
        code = code.lower().split("-")[0]
        fams.add("no" if code in ("nb", "nn", "no") else code)
    return tuple(sorted(f for f in fams if f in LEXICON))


_GROUP_NOUNS = frozenset("bunch pack load gang herd band shower haufen bande truppe horde sauhaufen tas ramassis "
                         "troupeau panda pandilla hatajo sarta gjeng flokk haug samling".split())


@lru_cache(maxsize=16)
def _gate(fams: tuple[str, ...]) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """Every insult, verdict and group word of these families, their heads (see ``profanity.heads``), and the last
    four letters of every compound head and compounding person insult of those families (all are >= 4 letters)."""
    words: set[str] = set(_GROUP_NOUNS)
    tails: list[str] = []
    for fam in fams:
        insults, persons = _tables(fam)[:2]
        words |= insults | persons | VERDICTS.get(fam, frozenset())
        tails.extend(COMPOUND_HEADS.get(fam, ()))
        if fam == "de":
            tails.extend(p for p in persons if len(p) >= 5 and p not in _NOT_COMPOUND_TAILS)
    frozen = frozenset(words)
    return frozen, heads(frozen), frozenset(t[-4:] for t in tails)


def _maybe(low: str, lower_words: frozenset[str], fams: tuple[str, ...]) -> bool:
    """False when no word can be an insult (inflected, compounded or not) and no phrase occurs: an exact
    pre-filter."""
    words, starts, tails = _gate(fams)
    if not lower_words.isdisjoint(words) or any(w[:4] in starts for w in lower_words if len(w) > 4):
        return True
    if not lower_words.isdisjoint(_READING_WORDS):
        return True
    if tails and any(w[-4:] in tails for w in lower_words if len(w) >= 8):
        return True
    return any(p in low for fam in fams for p in _tables(fam)[5])


@lru_cache(maxsize=8)
def _group_rx(fam: str) -> re.Pattern[str] | None:
    rx = GROUPS.get(fam)
    return re.compile(rx) if rx else None


#: insults that name real things as well as people's work ("Schrottgeräte" are scrap devices to recycle): they do
#: not make a compound with a device head an insult
_LITERAL = frozenset("müll schrott abfall søppel skrot søpla".split())


_THING_HEADS = frozenset("gerät geräte kiste ding teil software".split())


def _compound(tok: str, fam: str, words: frozenset[str], persons: frozenset[str],
              morph: tuple[tuple[str, ...], tuple[tuple[str, str], ...], tuple[str, ...]]) -> str:
    """A German or Norwegian compound that insults: an insult before an organisation, group or people head
    ("Stümperverein", "kjeltringselskap", "idiotkunder") or a word ending in a person insult ("Netzwerkidioten"):
    "person"; an insult before a device head ("Mistgerät"): "thing" (it needs a target, like "Mist"); else ""."""
    heads_ = COMPOUND_HEADS.get(fam)
    if not heads_ or len(tok) < 8:
        return ""
    for head in heads_:
        if tok.endswith(head) and len(tok) - len(head) >= 4:
            stem = tok[: -len(head)].rstrip("-")
            thing = head in _THING_HEADS
            for cand in (stem, stem[:-1] if stem.endswith(("s", "e")) else stem):
                if cand in _LITERAL and thing:
                    continue
                if len(cand) >= 4 and (cand in words or inflected(cand, words, morph)):
                    return "thing" if thing else "person"
    if fam != "de":  # Norwegian "fotballidiot", "datatulling" are fans, not insults
        return ""
    found = any(tok.endswith(p) and len(tok) - len(p) >= 3 for p in persons
                if len(p) >= 5 and p not in _NOT_COMPOUND_TAILS)
    return "person" if found else ""


#: words after a group noun that make it a band or a heap of things, not of people
_GROUP_THINGS = frozenset("fréquences fréquence fréquence passante base roulement annonce dessinée son frecuencias "
                          "frecuencia daten arbeit kabel papier frekvenser frekvens".split())


def _disparages(word: str, insults: frozenset[str]) -> bool:
    """An English word that disparages: an insult of the lexicon, or negative for VADER ("whiners", "losers")."""
    if word in insults:
        return True
    from publisher.rules.sentiment import analyser

    return bool(analyser().lexicon.get(word, 0.0) < 0)


def _praises(word: str, fam: str) -> bool:
    if word in POSITIVE.get(fam, frozenset()):
        return True
    if fam == "en":
        from publisher.rules.sentiment import analyser

        return bool(analyser().lexicon.get(word, 0.0) > 0)
    return False


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


#: joke nouns: contempt only as the close of a predicate ("is a joke.", "ist ein Witz!", "a joke of a company")
_JOKES = frozenset("joke jokes witz blague chiste broma vits".split())


#: words after a joke noun that close its predicate: "a joke of a company", "a joke and ...", "ein Witz und ..."
_JOKE_NEXT = frozenset("of de av von and und et y og but aber mais pero men".split())


def _closes(low: str, tokens: list[tuple[int, int, str]], k: int) -> bool:
    """Token ``k`` ends its clause (punctuation or the end follows) or is followed by "of"/"de"/"av"."""
    rest = low[tokens[k][1]:].lstrip(" \u00a0")
    return not rest or rest[0] in _CLAUSE_END + ",)" or (k + 1 < len(tokens) and tokens[k + 1][2] in _JOKE_NEXT)


def _sentence_start(low: str, tokens: list[tuple[int, int, str]], k: int) -> int:
    """Index of the first token of token ``k``'s sentence (however far back)."""
    for j in range(k, 0, -1):
        if any(c in _CLAUSE_END for c in low[tokens[j - 1][1]:tokens[j][0]]):
            return j
    return 0


def _clause_end(low: str, tokens: list[tuple[int, int, str]], k: int) -> int:
    """One past the last of the ``_WINDOW`` tokens after token ``k`` in its sentence."""
    hi = min(len(tokens), k + 1 + _WINDOW)
    for j in range(k + 1, hi):
        if any(c in _CLAUSE_END for c in low[tokens[j - 1][1]:tokens[j][0]]):
            return j
    return hi


def _groups(text: str, low: str, tokens: list[tuple[int, int, str]], fam: str,
            subjects: frozenset[str], insults: frozenset[str]) -> list[tuple[int, int, str]]:
    """Group exclamations ("what a bunch of whiners", "Bande d'amateurs", "son una panda de vagos", "for en gjeng
    med sytere"): hostile unless the words after praise, or the group is the writer's own ("we are such a bunch of
    nerds")."""
    rx = _group_rx(fam)
    if rx is None or not any(t[2] in _GROUP_NOUNS for t in tokens):
        return []
    out = []
    for m in rx.finditer(low):
        k = next((i for i, t in enumerate(tokens) if t[0] >= m.end()), None)
        if k is None or tokens[k][0] - m.end() > 1:
            continue  # no word right after: "la bande des 3,5 GHz", "what a bunch of 5G masts" ...
        following = [t[2] for t in tokens[k:k + 2]]
        if _praises(following[0], fam) or (len(following) > 1 and _praises(following[1], fam)):
            continue
        if following[0] in _GROUP_THINGS:
            continue  # "bande de fréquences", "haufen von daten": a band or a heap of things
        if fam == "en" and not any(_disparages(w, insults) for w in following):
            continue  # English "what a bunch of" also counts things ("new routers"): the words must disparage
        first = next(i for i, t in enumerate(tokens) if t[1] > m.start())
        if not subjects.isdisjoint(t for _, _, t in tokens[max(0, first - 3):first]):
            continue
        start = tokens[first][0]
        out.append((start, tokens[k][1], text[start:tokens[k][1]]))
    return out


@lru_cache(maxsize=8)
def _reading_rx(fam: str) -> re.Pattern[str] | None:
    rx = READING.get(fam)
    return re.compile(rx) if rx else None


def _reading(text: str, low: str, tokens: list[tuple[int, int, str]], fam: str,
             subjects: frozenset[str]) -> list[tuple[int, int, str]]:
    """The taunt that the reader cannot read (``READING``). A call to learn to read is the writer's own when a
    first-person subject comes in the four words before it in its sentence ("we still have to learn to read the
    new contracts"); "I know reading is hard, but ..." is no less a taunt for its "I"."""
    rx = _reading_rx(fam)
    if rx is None or _READING_WORDS.isdisjoint(t for _, _, t in tokens):
        return []
    out = []
    for m in rx.finditer(low):
        if _LEARN.search(m.group(0)):
            first = next((i for i, t in enumerate(tokens) if t[1] > m.start()), len(tokens))
            lo = max(_sentence_start(low, tokens, first) if first < len(tokens) else 0, first - 4)
            if not (subjects | _READING_SELF).isdisjoint(t for _, _, t in tokens[lo:first]):
                continue
        start = m.start() + len(m.group(0)) - len(m.group(0).lstrip(".!?;:,\u00bf\u00a1 \t\n"))
        out.append((start, m.end(), text[start:m.end()]))
    return out


def _verdicts(text: str, low: str, tokens: list[tuple[int, int, str]], fam: str,
              subjects: frozenset[str]) -> list[tuple[int, int, str]]:
    """A word of contempt that is a clause on its own ("Pathetic." "Kundeservicen deres er en vits. Patetisk."
    "Pitoyable, comme d'habitude."): a verdict on what came before. Not when the sentence before or the words
    after speak of the writer ("I missed the train again. Pathetic." "Pathetic, I know.")."""
    verdicts = VERDICTS.get(fam)
    if not verdicts:
        return []
    out = []
    for k, (_, end, tok) in enumerate(tokens):
        if tok not in verdicts:
            continue
        j = k
        while j > 0 and tokens[j - 1][2] in _VERDICT_INTENSIFIERS and \
                not any(c in _CLAUSE_END for c in low[tokens[j - 1][1]:tokens[j][0]]):
            j -= 1
        if j == 0 or not any(c in _CLAUSE_END + "\u00bf\u00a1" for c in low[tokens[j - 1][1]:tokens[j][0]]):
            continue  # not the start of a clause that follows what it judges ("Useless? Not any more." opens a text)
        rest = low[end:].lstrip(" \u00a0")
        if rest and rest[0] not in _CLAUSE_END + ",":
            continue  # a word follows: an adverb or an attribute ("lächerlich günstig"), not a verdict
        if rest.startswith(","):
            nxt = [t for _, _, t in tokens[k + 1:_clause_end(low, tokens, k)]]
            if not subjects.isdisjoint(nxt):
                continue
        if not subjects.isdisjoint(t for _, _, t in tokens[max(0, j - 6):j]):
            continue
        s0 = tokens[j][0]
        out.append((s0, end, text[s0:end]))
    return out


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
                    (i + len(phrase) == len(low) or not low[i + len(phrase)].isalpha()) and \
                    (phrase not in UTTERANCES or _UTTERANCE_END.match(low, i + len(phrase))):
                out.add((i, i + len(phrase), text[i:i + len(phrase)]))
        out.update(_groups(text, low, tokens, fam, subjects, insults | persons))
        out.update(_verdicts(text, low, tokens, fam, subjects))
        out.update(_reading(text, low, tokens, fam, subjects))
        every = insults | persons
        audience = _AUDIENCE.get(fam, frozenset())
        for k, (start, end, tok) in enumerate(tokens):
            person = tok in persons or inflected(tok, persons, morph) or _singular(tok, persons)
            compound = "" if person or tok in insults else _compound(tok, fam, every, persons, morph)
            person = person or compound == "person"
            if not person and not (tok in insults or compound or inflected(tok, insults, morph)):
                continue
            if not person and k and tokens[k - 1][2] in audience:
                continue  # "a course for amateurs": an audience, not a verdict
            if tok in _JOKES and not _closes(low, tokens, k):
                continue  # "es un chiste que te encantará" tells a joke; "is a joke." judges
            lo = _clause_start(low, tokens, k)
            before = [t for _, _, t in tokens[lo:k]]
            after = []  # the words after it up to a comma: "Ihr Stümper, ich kündige" is not self-criticism
            for j in range(k + 1, _clause_end(low, tokens, k)):
                if "," in low[tokens[j - 1][1]:tokens[j][0]]:
                    break
                after.append(tokens[j][2])
            if _vocative(low, start, end):  # addressed to the reader: what came before in the sentence is moot
                out.add((start, end, text[start:end]))
                continue
            # an insult only people earn ("liar", "Lügner", "incapable") after a possessive is aimed at that person
            # ("mon chef est un incapable", "mein Vermieter ist ein Lügner"): only a first-person subject excuses it
            people = person or tok in _PEOPLE_ONLY or inflected(tok, _PEOPLE_ONLY, morph)
            if any(t in negators for t in before[-2:]) or any(t in (subjects if people else selfs) for t in before):
                continue
            if not people and tokens[_sentence_start(low, tokens, k)][2] in selfs:
                continue  # "My attempt at fixing it was a joke": the sentence is about the writer's own doing
            if not person and not THING_SUBJECTS.get(fam, frozenset()).isdisjoint(before[-3:]):
                continue  # "so it was useless": a thing described, no one insulted
            if not people and any(t in selfs for t in after):
                continue  # "a stupid typo in our own filter": self-criticism, the insult describes our own thing
            if k + 1 < len(tokens) and tokens[k + 1][2] in TECHNICAL_NEXT:
                continue
            if person or (people and not any(t in selfs for t in before)):
                # a person-noun, or an insult only people earn with no self-word before it ("les incompétents de
                # notre hébergeur"): aimed at people by itself ("our incompetent filter" describes our own thing)
                out.add((start, end, text[start:end]))
            elif any(t in targets for t in before):
                first = tokens[lo][0]
                out.add((first, end, text[first:end]))
    return sorted(out)
