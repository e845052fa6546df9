"""Every string a user gives a post passes here before anything is stored: one rule set, one place.

Refused: text that is not valid Unicode (lone surrogates: invalid UTF-8 read from argv or stdin), NUL and other
control characters, bidirectional overrides and isolates (they make text read differently from what is stored,
"Trojan source"), and text with no visible character (only spaces, zero-width or format characters). Single-line
values (link, thread key, idempotency key, language, reasons, variant targets) may not hold line breaks or tabs.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING

from publisher.errors import InputError

if TYPE_CHECKING:
    from publisher.service import NewPost

#: explicit embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069); the marks U+200E/U+200F stay allowed
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_LINE_BREAKS = frozenset("\t\n\r")


#: every character ``check`` refuses anywhere: controls (category Cc) other than tab and line breaks, surrogates,
#: bidirectional controls and noncharacters (U+FDD0-U+FDEF, and U+xxFFFE/U+xxFFFF in every plane)
_REFUSED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff" + "".join(sorted(BIDI_CONTROLS))
                      + "\ufdd0-\ufdef" + "".join(chr(p << 16 | 0xFFFE) + chr(p << 16 | 0xFFFF) for p in range(17))
                      + "]")
_ASCII_VISIBLE = re.compile("[!-~]")


def _plainly_fine(value: str, multiline: bool) -> bool:
    """True when ``check`` would accept ``value`` for certain: no refused character, no line break where one is not
    allowed, and a visible ASCII character. Anything else takes the character-by-character path (its messages)."""
    if _REFUSED.search(value) is not None or (not multiline and not _LINE_BREAKS.isdisjoint(value)):
        return False
    return _ASCII_VISIBLE.search(value) is not None


def _name(ch: str) -> str:
    return unicodedata.name(ch, f"U+{ord(ch):04X}")


def check(value: str, what: str, *, multiline: bool = False) -> None:
    """Raise InputError naming ``what`` and the position of the first character publisher will not store."""
    if not _plainly_fine(value, multiline):
        check_each_character(value, what, multiline=multiline)


def check_each_character(value: str, what: str, *, multiline: bool = False) -> None:
    """``check`` without its fast path: names the first character refused and where it is."""
    visible = False
    for i, ch in enumerate(value):
        code = ord(ch)
        category = unicodedata.category(ch)
        if 0xD800 <= code <= 0xDFFF:
            raise InputError(f"{what} is not valid UTF-8 text (undecodable byte at character {i + 1})",
                             hint="save or pass the text as UTF-8")
        if ch in _LINE_BREAKS:
            if not multiline:
                raise InputError(f"{what} contains a line break or tab (character {i + 1})",
                                 hint="give it on one line, without trailing newline")
            continue
        if category == "Cc":
            raise InputError(f"{what} contains the control character U+{code:04X} at character {i + 1}",
                             hint="remove it (NUL and other control characters cannot be published)")
        if ch in BIDI_CONTROLS:
            raise InputError(f"{what} contains the bidirectional control {_name(ch)} at character {i + 1}",
                             hint="remove it: it makes the text display differently from what is stored")
        if 0xFDD0 <= code <= 0xFDEF or code & 0xFFFE == 0xFFFE:
            raise InputError(f"{what} contains the noncharacter U+{code:04X} at character {i + 1}",
                             hint="remove it")
        if not visible and not ch.isspace() and category not in ("Cf", "Zs", "Zl", "Zp", "Mn", "Me"):
            visible = True
    if not visible:
        raise InputError(f"{what} has no visible character", hint="give some text (spaces and zero-width "
                         "characters alone publish nothing)")


def check_post(new: NewPost) -> None:
    """Check every user string of a new post (the accept path's only call)."""
    check(new.text, "the post text", multiline=True)
    for target, text in new.variants.items():
        check(target, "a --variant target")
        check(text, f"the --variant text for {target}", multiline=True)
    for name, value in (("--link", new.link), ("--lang", new.language), ("the thread key (--thread or ticket id)",
                        new.thread_key), ("--idempotency-key", new.idempotency_key)):
        if value is not None:
            check(value, name)
    for rule, reason in new.allow.items():
        check(rule, "--allow")
        check(reason, "--reason")
    for i, attachment in enumerate(new.media, 1):
        if attachment.alt:  # none at all is the media.alt rule's business (a tone finding), not bad input
            check(attachment.alt, f"the --alt text of image #{i}", multiline=True)
    for name in new.accounts:
        check(name, "--account")
