"""``textinput.check`` accepts most text through a regular-expression fast path (a campaign checks 10,000 texts):
it may only accept what the character-by-character check accepts, for every character there is."""

from __future__ import annotations

import pytest

from publisher import textinput
from publisher.errors import InputError


def _slow(value: str, multiline: bool) -> str | None:
    try:
        textinput.check_each_character(value, "the text", multiline=multiline)
    except InputError as e:
        return e.message
    return None


def test_the_fast_path_accepts_only_what_the_full_check_accepts() -> None:
    wrong = []
    for cp in range(0x110000):
        ch = chr(cp)
        for value in (f"a{ch}",):
            for multiline in (False, True) if cp < 0x80 else (False,):
                if textinput._plainly_fine(value, multiline) and _slow(value, multiline) is not None:
                    wrong.append((hex(cp), multiline))
    assert wrong == []


@pytest.mark.parametrize(("value", "multiline", "error"), [
    ("ok\x00", True, "control character U+0000 at character 3"),
    ("two\nlines", False, "line break or tab (character 4)"),
    ("fine\u202e", True, "bidirectional control"),
    ("\u200b ", True, "no visible character"),
    ("x\ufdd0", True, "noncharacter U+FDD0"),
    ("x\U0010ffff", True, "noncharacter U+10FFFF"),
])
def test_refused_text_still_gets_its_message(value: str, multiline: bool, error: str) -> None:
    with pytest.raises(InputError, match=error.replace("(", r"\(").replace(")", r"\)").replace("+", r"\+")):
        textinput.check(value, "the text", multiline=multiline)
    assert not textinput._plainly_fine(value, multiline)
