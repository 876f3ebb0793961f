"""Integers <-> Japanese numerals, in the three styles of Excel's NUMBERSTRING.

`to_kanji` writes a number; `parse_kanji` reads it back, and also reads what people
actually write (一千, 零, 壹萬, 1億2000万, ２万５千, 二〇二六).

    to_kanji(12345)                 → 一万二千三百四十五    (NUMBERSTRING type 1)
    to_kanji(12345, "daiji")        → 壱萬弐阡参百四拾伍    (type 2, for cheques and contracts)
    to_kanji(12345, "positional")   → 一二三四五           (type 3, one kanji per digit)
    parse_kanji("3兆9千億")          → 3900000000000

Pure Python and table driven: the data generator writes millions of numerals, so both
directions are a few table look-ups per 4-digit group rather than a loop over digits.
"""

from __future__ import annotations

import operator
import unicodedata

__all__ = ["STYLES", "to_kanji", "parse_kanji", "fold_look_alikes"]

STYLES = ("kanji", "daiji", "positional")

# 京 (10**16) is the largest group unit, so a group of 4 digits under it ends at 10**20.
_LIMIT = 10**20
_LIMIT_TEXT = "10**20"

_GROUP_SIZE = 10_000
# Index k is the unit of the k-th 4-digit group counted from the right.
_KANJI_GROUP_UNITS = ("", "万", "億", "兆", "京")
_DAIJI_GROUP_UNITS = ("", "萬", "億", "兆", "京")
_ZERO = "〇"


# --- writing -----------------------------------------------------------------------------


def _place_words(digits: str, unit: str, keep_one: bool) -> list[str]:
    """The words for digits 0..9 in one place: 百 → ["", 百, 二百, ..., 九百] in kanji style.

    Excel's kanji style drops 一 before 十/百/千 (千, not 一千); its daiji style keeps 壱
    everywhere, so nothing can be slipped in front of an amount on a cheque.
    """
    one = digits[1] if keep_one or not unit else ""
    return ["", one + unit] + [digit + unit for digit in digits[2:]]


def _group_table(digits: str, small_units: str, keep_one: bool) -> tuple[str, ...]:
    """The words for every group 0..9999, e.g. entry 3210 is 三千二百十; entry 0 is 〇.

    Each entry is its thousands, hundreds, tens and ones words side by side, and the nested
    loops run through the digits in counting order, so entry k is the words for k.
    """
    thousands, hundreds, tens = (_place_words(digits, unit, keep_one) for unit in small_units)
    ones = _place_words(digits, "", keep_one)
    table = [a + b + c + d for a in thousands for b in hundreds for c in tens for d in ones]
    table[0] = _ZERO  # only ever used for the number zero: zero groups are not written
    return tuple(table)


# Built once at import (a few ms): writing a number is then a look-up per group.
_KANJI_GROUPS = _group_table("〇一二三四五六七八九", "千百十", keep_one=False)
_DAIJI_GROUPS = _group_table("〇壱弐参四伍六七八九", "阡百拾", keep_one=True)
_POSITIONAL_DIGITS = str.maketrans("0123456789", "〇一二三四五六七八九")


def _write_grouped(n: int, groups: tuple[str, ...], group_units: tuple[str, ...]) -> str:
    """12345 → 一万 + 二千三百四十五: each non-zero 4-digit group followed by its unit."""
    if n < _GROUP_SIZE:
        return groups[n]
    words = []
    for unit in group_units:
        n, group = divmod(n, _GROUP_SIZE)
        if group:  # a zero group (the 0000 in 100000001) is not written at all
            words.append(groups[group] + unit)
        if not n:
            break
    words.reverse()
    return "".join(words)


def _write_kanji(n: int) -> str:
    return _write_grouped(n, _KANJI_GROUPS, _KANJI_GROUP_UNITS)


def _write_daiji(n: int) -> str:
    return _write_grouped(n, _DAIJI_GROUPS, _DAIJI_GROUP_UNITS)


def _write_positional(n: int) -> str:
    return str(n).translate(_POSITIONAL_DIGITS)


_WRITERS = {"kanji": _write_kanji, "daiji": _write_daiji, "positional": _write_positional}


def _as_int(n: object) -> int:
    """Accept ints and integer-like values (numpy.int64); refuse bools, floats and strings."""
    # bool is an int subclass, but to_kanji(True) is surely a mistake, not 一.
    if isinstance(n, bool):
        raise TypeError(f"to_kanji: expected an int, got a bool ({n!r})")
    try:
        return operator.index(n)
    except TypeError:
        raise TypeError(f"to_kanji: expected an int, got {type(n).__name__} ({n!r})") from None


def to_kanji(n: int, style: str = "kanji") -> str:
    """Write 0 <= n < 10**20 as Excel's NUMBERSTRING does for `style`.

    kanji:      3210 → 三千二百十, 11000 → 一万千, 100000001 → 一億一, 0 → 〇
    daiji:      3210 → 参阡弐百壱拾, 12345 → 壱萬弐阡参百四拾伍
    positional: 3210 → 三二一〇
    """
    if type(n) is not int:
        n = _as_int(n)
    if n < 0:
        raise ValueError(f"to_kanji: {n} is negative; only 0 <= n < {_LIMIT_TEXT} can be written")
    if n >= _LIMIT:
        raise ValueError(
            f"to_kanji: {n} is too large; only 0 <= n < {_LIMIT_TEXT} can be written "
            "(京 is the top unit)"
        )
    try:
        write = _WRITERS[style]
    except (KeyError, TypeError):  # TypeError: an unhashable style such as a list
        raise ValueError(
            f"to_kanji: unknown style {style!r}; choose one of {', '.join(STYLES)}"
        ) from None
    return write(n)


# --- reading -----------------------------------------------------------------------------

# Every character the parser knows, mapped to one number so a single dict look-up both
# classifies it and gives its value: < 10 a digit, 10..1000 a unit inside a group (十百千),
# >= 10**4 a group unit (万億兆京).
_CHAR_VALUES = {
    char: value
    for chars, value in (
        ("〇零0０○◯", 0),  # ○ U+25CB and ◯ U+25EF: the circles people type for 〇
        # 弌 and 貮 (the variant of 貳 on old Japanese deeds) beside 弍 and 弎: 弍 was read
        # and 弌 called "not a numeral character"
        ("一壱壹弌1１", 1),
        ("二弐貳貮弍2２", 2),
        ("三参參弎3３", 3),
        ("四肆4４", 4),
        ("五伍5５", 5),
        ("六陸6６", 6),
        ("七漆柒7７", 7),
        ("八捌8８", 8),
        ("九玖9９", 9),
        ("十拾", 10),
        ("百佰陌", 100),
        ("千阡仟", 1000),
        ("万萬", 10**4),
        ("億", 10**8),
        ("兆", 10**12),
        ("京", 10**16),
    )
    for char in chars
}

# How many digits may follow a unit inside its group: 千 leaves room for three (千五百 is
# spelled with units, but 千500 and 千〇五 are fine), 十 for one.
# The characters parse_kanji reads: a data set whose questions use only these is one of numerals.
NUMERAL_CHARS = frozenset(_CHAR_VALUES)

_DIGITS_AFTER_UNIT = {1000: 3, 100: 2, 10: 1}
_NO_SMALL_UNIT = _GROUP_SIZE  # sentinel: no 十百千 seen yet in this group
_NO_GROUP_UNIT = _LIMIT  # sentinel: no 万億兆京 seen yet


# The fast path: text that is exactly what to_kanji writes in the kanji or daiji style is a
# few canonical group strings split by group units, so it is read with str.partition and a
# dict look-up per group — about four times quicker than the character scan. 〇 is left out
# on purpose: as a group it would let 〇万 through, which the scan refuses.
_CANONICAL_GROUPS = {
    words: group
    for table in (_KANJI_GROUPS, _DAIJI_GROUPS)
    for group, words in enumerate(table)
    if group
}
_SPLIT_UNITS = (("京", 10**16), ("兆", 10**12), ("億", 10**8), ("万", 10**4))


def _parse_canonical(text: str) -> int | None:
    """三兆九千億 → 3900000000000, or None when text is not in canonical form."""
    if not text:
        return None  # the scan reports it as empty; the loop below would say 0
    if "萬" in text:
        # 一万二萬 becomes 一万二万, which still fails below: each unit is split off once.
        text = text.replace("萬", "万")
    total = 0
    for unit_char, unit in _SPLIT_UNITS:
        head, found, tail = text.partition(unit_char)
        if found:
            group = _CANONICAL_GROUPS.get(head)
            if group is None:
                return None
            total += group * unit
            text = tail
    if text:
        group = _CANONICAL_GROUPS.get(text)
        if group is None:
            return None
        total += group
    return total


# Second fast path: a plain run of digits (二〇二六, 12345, ２０２６) becomes ASCII and int().
_TO_ASCII_DIGITS = str.maketrans(
    {char: str(value) for char, value in _CHAR_VALUES.items() if value < 10}
)
_MAX_DIGITS = len(str(_LIMIT - 1))
# The longest numeral below 10**20 has 39 characters (九千九百九十九京…九千九百九十九); room
# for surrounding spaces and the longer old forms.
_MAX_TEXT = 200


def _parse_digit_run(text: str) -> int | None:
    """二〇二六 → 2026, or None when text is not just digits (the scan then explains why)."""
    if len(text) > _MAX_DIGITS:
        return None
    ascii_digits = text.translate(_TO_ASCII_DIGITS)
    # isascii first: isdigit alone also passes ² and other digits that int() refuses.
    if ascii_digits.isascii() and ascii_digits.isdigit():
        return int(ascii_digits)
    return None


# Forms that NFKC folds to a plain digit although they mean something else: ² is an exponent
# (10² is 100, and was read as 102), ₂ an index, ① ㊀ 🈩 mark items of a list (①② was read as
# 12), and ㆒ ㆓ are kanbun reading marks. Only shapes are look-alikes: full-width, Kangxi
# radicals, mathematical fonts.
_FORMS_WITH_A_MEANING = ("<super>", "<sub>", "<circle>", "<square>")


def _look_alike(char: str) -> str:
    """The one character `char` looks like (its NFKC form), or `char` itself where NFKC makes
    more than one character of it or its form means more than its shape."""
    if unicodedata.decomposition(char).startswith(_FORMS_WITH_A_MEANING):
        return char
    folded = unicodedata.normalize("NFKC", char)
    return folded if len(folded) == 1 else char


def fold_look_alikes(text: str) -> str:
    """Each character as the one it looks like: a Kangxi radical copied from a PDF (⼀ U+2F00,
    ⼗ U+2F17) becomes the kanji, a full-width digit (５) an ASCII one; a superscript ² or a
    circled ① stays as it is. One character for one, so that positions in messages still count
    from the text given."""
    if text.isascii():
        return text
    return "".join(map(_look_alike, text))


def _char_value(char: str) -> int | None:
    """The parser's value of a character, or of the numeral character it looks like."""
    value = _CHAR_VALUES.get(char)
    if value is None and not char.isascii():
        value = _CHAR_VALUES.get(_look_alike(char))
    return value


# Numeral characters the parser does not read, each with what it means: named as "not a
# numeral character", 一垓 (10**20, the unit after 京) looked like a typo, not a number too
# large, and 廿一 (21, as old dates write it) like a stray character.
_UNREAD_NUMERALS = {
    **{unit: f"the unit 10**{power}, beyond 京: only numbers below {_LIMIT_TEXT} are read"
       for unit, power in (("垓", 20), ("秭", 24), ("𥝱", 24), ("穣", 28), ("溝", 32),
                           ("澗", 36))},
    **{tens: f"{value} written as one character, which is not read: write {spelled}"
       for tens, value, spelled in (("廿", 20, "二十"), ("卄", 20, "二十"), ("卅", 30, "三十"),
                                    ("丗", 30, "三十"), ("卌", 40, "四十"))},
}


def _named(char: str) -> str:
    """'ニ' (U+30CB): the code point tells look-alikes apart (ニ katakana, 二 the numeral)."""
    return repr(char) if char.isascii() else f"{char!r} (U+{ord(char):04X})"


def _unexpected(text: str, index: int, reason: str) -> ValueError:
    return ValueError(
        f"parse_kanji: unexpected {text[index]!r} at position {index + 1} in {text!r}: {reason}"
    )


def _parse_scan(text: str, start: int, stop: int) -> int:
    """Read text[start:stop] in one pass; positions in errors count from the start of `text`.

    State: `total` holds the finished groups (一億 in 一億二千三百), `group` the finished
    terms of the current group (二千三百), `run` the digits not yet attached to a unit.
    """
    total = group = run = run_length = 0
    small_unit = _NO_SMALL_UNIT
    group_unit = _NO_GROUP_UNIT
    max_run = _LIMIT  # digits allowed in the current run; unbounded for a plain digit string
    for index in range(start, stop):
        value = _char_value(text[index])
        if value is None:
            meaning = _UNREAD_NUMERALS.get(text[index])
            if meaning is not None:
                raise ValueError(f"parse_kanji: {_named(text[index])} at position {index + 1} "
                                 f"in {text!r} is {meaning}")
            raise ValueError(
                f"parse_kanji: {_named(text[index])} at position {index + 1} in {text!r} "
                "is not a numeral character"
            )
        if value < 10:
            run = run * 10 + value
            run_length += 1
            if run_length > max_run:
                raise _unexpected(text, index, "too many digits for the place they are in")
        elif value < _GROUP_SIZE:
            if value >= small_unit:
                raise _unexpected(
                    text, index, "units inside a group must decrease: 千 then 百 then 十"
                )
            if run_length > 1:
                # 一二百 could mean 1200 or 120 + 100 — refuse to guess.
                raise _unexpected(text, index, "a run of digits cannot take 十, 百 or 千")
            if run_length and not run:
                # the zero as typed: '0百' was told "not 〇", a character it does not hold
                raise _unexpected(text, index, "a unit needs a non-zero digit before it, "
                                  f"not {text[index - 1]}")
            group += (run if run_length else 1) * value  # 千 alone is 一千
            small_unit = value
            run = run_length = 0
            max_run = _DIGITS_AFTER_UNIT[value]
        else:
            if value >= group_unit:
                raise _unexpected(
                    text, index, "group units must decrease: 京 兆 億 万, each at most once"
                )
            if run_length > 4:
                raise _unexpected(
                    text, index, "a group before 万, 億, 兆 or 京 holds at most 4 digits"
                )
            if not run_length and small_unit == _NO_SMALL_UNIT:
                raise _unexpected(text, index, "a group unit needs a number before it")
            if not (group or run):  # a run of zeros alone: its last one named as typed
                raise _unexpected(text, index, "a group unit needs a non-zero number before "
                                  f"it, not {text[index - 1]}")
            total += (group + run) * value
            group = run = run_length = 0
            small_unit = _NO_SMALL_UNIT
            group_unit = value
            max_run = 4
    total += group + run
    if total >= _LIMIT:
        raise ValueError(f"parse_kanji: {text!r} is {_LIMIT_TEXT} or more; 京 is the top unit")
    return total


def parse_kanji(text: str) -> int:
    """Read a Japanese numeral in any style to an int: 三兆九千億 → 3900000000000.

    Accepted:
      - the output of `to_kanji` in every style, and 一千 / 一百 / 一十 as well as 千 / 百 / 十;
      - old and formal characters (壱壹弌 弐貳貮弍 参參弎 伍 拾 佰陌 阡仟 萬, and 肆陸漆柒捌玖);
      - 〇 and 零 as zero, ASCII and full-width Arabic digits mixed with units
        (1億2000万, ２万５千, 3兆9千億, 千〇五 = 1005);
      - a run of digits with no unit read positionally (二〇二六 = 2026, 12345 = 12345);
      - surrounding whitespace, full-width space included;
      - look-alikes: ○ and ◯ for 〇, and characters whose NFKC form is a numeral character
        (Kangxi radicals such as ⼀ ⼗, copied from PDFs), but not superscripts, subscripts or
        circled digits (10² is not 102, ①② not 12).

    Rejected with ValueError naming the character and its 1-based position:
      - empty or whitespace-only text, any non-numeral character (letters, commas, signs);
      - group units out of order or repeated (万万, 億一兆); 万/億/兆/京 with nothing before;
      - units inside a group out of order or repeated (千千, 百千, 十十);
      - a run of digits before 十/百/千 (一二百, 12百: 1200 or 300?) — but a run of up to
        4 digits before a group unit is fine (1000万, 一〇〇〇万);
      - a zero coefficient (〇万, 0億, 〇百): to_kanji never writes a zero group, and such
        a term is almost always a typo, so it is refused rather than read as nothing;
      - more digits than a place holds (12345万, 十五六, 一万23456) or a value >= 10**20.
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_kanji: expected a str, got {type(text).__name__} ({text!r})")
    if len(text) > _MAX_TEXT:
        # Refused before reading: a run of digits grows one int, quadratic in its length, and
        # every error message quotes the text.
        raise ValueError(f"parse_kanji: {len(text):,} characters; no numeral below "
                         f"{_LIMIT_TEXT} takes more than {_MAX_TEXT}")
    # Surrounding whitespace (str.strip knows the full-width space U+3000) is skipped, not
    # sliced off, so error positions count from the first character the caller passed.
    value = _parse_canonical(text)
    if value is None:
        value = _parse_digit_run(text)
    if value is not None:
        return value
    # Surrounding whitespace (str.strip knows the full-width space U+3000) is skipped, not
    # sliced off, so error positions count from the first character the caller passed.
    stop = len(text.rstrip())
    if not stop:
        raise ValueError(f"parse_kanji: empty numeral {text!r}")
    return _parse_scan(text, len(text) - len(text.lstrip()), stop)
