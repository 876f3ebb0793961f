"""kanjinum.numerals: Excel's NUMBERSTRING examples, round trips, and what the parser refuses."""

import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kanjinum import numerals
from kanjinum.numerals import STYLES, parse_kanji, to_kanji

LIMIT = 10**20


# --- to_kanji: Excel's output --------------------------------------------------------------

EXCEL_EXAMPLES = [
    # (n, style, NUMBERSTRING's text)
    (12345, "kanji", "一万二千三百四十五"),
    (3210, "kanji", "三千二百十"),
    (1110, "kanji", "千百十"),
    (10**7, "kanji", "千万"),
    (100000001, "kanji", "一億一"),
    (3900000000000, "kanji", "三兆九千億"),
    (10000, "kanji", "一万"),
    (11000, "kanji", "一万千"),
    (10**16, "kanji", "一京"),
    (12345, "daiji", "壱萬弐阡参百四拾伍"),
    (3210, "daiji", "参阡弐百壱拾"),
    (10, "daiji", "壱拾"),
    (1000, "daiji", "壱阡"),
    (12345, "positional", "一二三四五"),
    (3210, "positional", "三二一〇"),
]


@pytest.mark.parametrize(("n", "style", "expected"), EXCEL_EXAMPLES)
def test_to_kanji_matches_excel(n, style, expected):
    assert to_kanji(n, style) == expected


@pytest.mark.parametrize(("n", "style", "text"), EXCEL_EXAMPLES)
def test_parse_kanji_reads_excel_output(n, style, text):
    assert parse_kanji(text) == n


@pytest.mark.parametrize("style", STYLES)
def test_zero_is_maru_in_every_style(style):
    assert to_kanji(0, style) == "〇"
    assert parse_kanji("〇") == 0


def test_kanji_is_the_default_style():
    assert to_kanji(3210) == to_kanji(3210, "kanji")


def test_styles_constant():
    assert STYLES == ("kanji", "daiji", "positional")


def reference_kanji(n, digits, small_units, group_units, keep_one):
    """A slow, digit-by-digit writer from the 20 padded digits: an independent oracle."""
    if n == 0:
        return "〇"
    padded = f"{n:020d}"
    words = []
    for group_index in range(5):
        chunk = padded[4 * group_index : 4 * group_index + 4]
        if chunk == "0000":
            continue
        for digit_char, unit in zip(chunk, small_units + ("",)):
            digit = int(digit_char)
            if digit == 0:
                continue
            drop_one = digit == 1 and unit and not keep_one
            words.append(("" if drop_one else digits[digit]) + unit)
        words.append(group_units[group_index])
    return "".join(words)


def reference(n, style):
    if style == "kanji":
        return reference_kanji(
            n, "〇一二三四五六七八九", ("千", "百", "十"), ("京", "兆", "億", "万", ""), False
        )
    if style == "daiji":
        return reference_kanji(
            n, "〇壱弐参四伍六七八九", ("阡", "百", "拾"), ("京", "兆", "億", "萬", ""), True
        )
    return "".join("〇一二三四五六七八九"[int(d)] for d in str(n))


# --- round trips ---------------------------------------------------------------------------

EDGE_VALUES = [
    0, 1, 9, 10, 11, 19, 20, 100, 101, 110, 111, 1000, 1001, 1010, 1100, 9999,
    10000, 10001, 10010, 100000000, 100000001, 10**12, 10**16, LIMIT - 1,
]


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("n", EDGE_VALUES)
def test_edge_values_round_trip(n, style):
    text = to_kanji(n, style)
    assert text == reference(n, style)
    assert parse_kanji(text) == n


def random_values(count, seed=0):
    """Numbers spread over every magnitude: d digits for d uniform in 1..20."""
    rng = random.Random(seed)
    return [rng.randrange(10 ** rng.randint(1, 20)) for _ in range(count)]


@pytest.mark.parametrize("style", STYLES)
def test_random_values_round_trip_and_match_the_reference(style):
    for n in random_values(3000):
        text = to_kanji(n, style)
        assert text == reference(n, style), n
        assert parse_kanji(text) == n, text


@given(st.integers(0, LIMIT - 1), st.sampled_from(STYLES))
def test_parse_inverts_to_kanji(n, style):
    assert parse_kanji(to_kanji(n, style)) == n


def test_numpy_integers_are_accepted():
    np = pytest.importorskip("numpy")  # the data generator draws numbers with numpy
    assert to_kanji(np.int64(3210)) == "三千二百十"


# --- parse_kanji: what people write --------------------------------------------------------

WRITTEN_FORMS = [
    ("一千", 1000),
    ("一百", 100),
    ("一十", 10),
    ("二千一十", 2010),
    ("零", 0),
    ("0", 0),
    ("壹", 1),
    ("貳", 2),
    ("弍", 2),
    ("弌", 1),  # the old 一 beside 弍 and 弎: it was "not a numeral character"
    ("貮", 2),  # the variant of 貳 on old Japanese deeds (金貮萬円)
    ("弌萬貮阡弎", 12003),
    ("參", 3),
    ("佰", 100),
    ("陌", 100),  # the other formal 百 (Wikipedia's 大字: 佰・陌), beside 阡 for 千
    ("壱阡参陌", 1300),
    ("仟", 1000),
    ("一萬", 10000),
    ("壹萬貳仟參佰", 12300),
    ("壱億壱", 100000001),
    ("1億2000万", 120000000),
    ("２万５千", 25000),
    ("3兆9千億", 3900000000000),
    ("12345", 12345),
    ("０１２", 12),
    ("1000万", 10**7),
    ("一〇〇〇万", 10**7),
    ("2000万", 2 * 10**7),
    ("千〇五", 1005),
    ("千500", 1500),
    ("  三百 ", 300),
    ("\u3000三百\u3000", 300),
    ("一億一", 100000001),
    ("一二三四五", 12345),
    ("三二一〇", 3210),
    ("二〇二六", 2026),
    ("99999999999999999999", LIMIT - 1),
]


@pytest.mark.parametrize(("text", "expected"), WRITTEN_FORMS)
def test_parse_kanji_reads_what_people_write(text, expected):
    assert parse_kanji(text) == expected


# --- parse_kanji: what it refuses ----------------------------------------------------------

MALFORMED = [
    # (text, the 1-based position named in the message, the character there)
    ("万万", 1, "万"),  # the first 万 already has no number before it
    ("一万万", 3, "万"),
    ("十十", 2, "十"),
    ("億一兆", 1, "億"),
    ("一億一兆", 4, "兆"),
    ("一二百", 3, "百"),
    ("12百", 3, "百"),
    ("千千", 2, "千"),
    ("百千", 2, "千"),
    ("a", 1, "a"),
    ("一a", 2, "a"),
    ("1,000", 2, ","),
    ("-5", 1, "-"),
    ("一 万", 2, " "),
    ("万", 1, "万"),
    ("億", 1, "億"),
    ("萬", 1, "萬"),
    ("京", 1, "京"),
    ("〇万", 2, "万"),
    ("0億", 2, "億"),
    ("〇百", 2, "百"),
    ("12345万", 6, "万"),
    ("十五六", 3, "六"),
    ("一万23456", 7, "6"),
    ("  万", 3, "万"),
]


@pytest.mark.parametrize(("text", "position", "char"), MALFORMED)
def test_malformed_text_names_the_character_and_position(text, position, char):
    with pytest.raises(ValueError, match=re.escape(f"{char!r} at position {position} in {text!r}")):
        parse_kanji(text)


@pytest.mark.parametrize("text", ["", "   ", "\u3000", "\t\n"])
def test_empty_text_is_refused(text):
    with pytest.raises(ValueError, match="empty numeral"):
        parse_kanji(text)


def test_values_of_10_to_the_20_or_more_are_refused():
    with pytest.raises(ValueError, match="10\\*\\*20 or more"):
        parse_kanji("1" + "0" * 20)


@pytest.mark.parametrize("value", [None, 12, 1.5, b"12", ["一"]])
def test_parse_kanji_needs_a_str(value):
    with pytest.raises(TypeError, match="expected a str"):
        parse_kanji(value)


@settings(max_examples=300)
@given(st.text())
def test_arbitrary_text_gives_an_int_or_value_error(text):
    try:
        value = parse_kanji(text)
    except ValueError:
        return
    assert type(value) is int and 0 <= value < LIMIT


NUMERAL_ALPHABET = "〇零一壱二弐三参四五伍六七八九0159１十拾百千阡万萬億兆京 a"


@settings(max_examples=500)
@given(st.text(alphabet=NUMERAL_ALPHABET, max_size=12))
def test_fast_paths_agree_with_the_character_scan(text):
    """parse_kanji tries two shortcuts before the scan; they must never read text differently."""
    try:
        expected = numerals._parse_scan(text, 0, len(text)) if text else None
    except ValueError:
        expected = None
    for shortcut in (numerals._parse_canonical, numerals._parse_digit_run):
        value = shortcut(text)
        assert value is None or value == expected, (shortcut.__name__, text)


# --- to_kanji: bad input -------------------------------------------------------------------


@pytest.mark.parametrize("value", [True, False, 1.0, "5", None, 3 + 0j])
def test_to_kanji_needs_an_int(value):
    with pytest.raises(TypeError, match="expected an int"):
        to_kanji(value)


@pytest.mark.parametrize(("value", "reason"), [(-1, "negative"), (-5, "negative"), (LIMIT, "too large")])
def test_to_kanji_refuses_out_of_range(value, reason):
    with pytest.raises(ValueError, match=reason):
        to_kanji(value)


@pytest.mark.parametrize("style", ["Kanji", "", "excel", None])
def test_to_kanji_refuses_unknown_styles_and_lists_the_valid_ones(style):
    with pytest.raises(ValueError, match="kanji, daiji, positional"):
        to_kanji(5, style)


@pytest.mark.parametrize("text", ["一" * 100_000, "1" * 100_000, "x" * 5_000])
def test_parse_kanji_refuses_a_huge_text_at_once_in_a_short_message(text):
    """A 200,000-character run of digits took 10 s (one growing int); messages quoted it all."""
    with pytest.raises(ValueError) as caught:
        parse_kanji(text)
    assert len(str(caught.value)) < 120


def test_the_longest_numeral_is_within_the_limit():
    longest = to_kanji(10**20 - 1)
    assert parse_kanji(f"\u3000{longest}\u3000") == 10**20 - 1


@pytest.mark.parametrize("text, value", [
    ("二○二六", 2026), ("千◯五", 1005), ("\u2f00億\u2f00", 100000001), ("\u2f17", 10),
    ("\u2f06千", 2000),
])
def test_look_alikes_are_read(text, value):
    assert parse_kanji(text) == value


def test_a_look_alike_that_folds_to_no_numeral_is_named_by_its_code_point():
    with pytest.raises(ValueError, match=r"'ニ' \(U\+30CB\) at position 1"):
        parse_kanji("ニ十")


def test_folding_keeps_one_character_for_one():
    text = "㍻\u2f00１○"  # ㍻ folds to two characters, so it is kept as it is
    folded = numerals.fold_look_alikes(text)
    assert len(folded) == len(text) and folded[0] == "㍻" and folded[1:3] == "一1"


def test_errors_quote_the_text_as_typed():
    """A full-width space was reported as ' ' in a text that was not the one typed."""
    with pytest.raises(ValueError, match=r"'\\u3000' \(U\+3000\) at position 2 in '一\\u3000億一'"):
        parse_kanji("一\u3000億一")


@pytest.mark.parametrize("text, char", [
    ("10²", "²"), ("千²", "²"), ("10₂", "₂"), ("①②", "①"), ("㊀", "㊀"), ("㆒", "㆒"), ("🈩", "🈩"),
])
def test_superscripts_and_circled_digits_are_not_look_alikes(text, char):
    """NFKC folds ² to 2, so 10² was read as 102 and ①② as 12: forms that mean more than
    their shape are refused, named as typed."""
    with pytest.raises(ValueError, match=f"{char!r}.* is not a numeral character"):
        parse_kanji(text)
    assert numerals.fold_look_alikes(text) == text


@pytest.mark.parametrize("text, char, meaning", [
    ("一垓", "垓", "the unit 10**20, beyond 京: only numbers below 10**20 are read"),
    ("九千九百九十九垓", "垓", "beyond 京"),
    ("一𥝱", "𥝱", "the unit 10**24"),
    ("廿一", "廿", "20 written as one character, which is not read: write 二十"),
    ("二百卅", "卅", "write 三十"),
])
def test_numerals_beyond_what_is_read_say_what_they_are(text, char, meaning):
    """`convert 一垓` (10**20, the unit after 京) and `convert 廿一` (21) said '垓' ... is not a
    numeral character: a typo, it seemed, rather than a number too large or a form not read."""
    with pytest.raises(ValueError, match=re.escape(meaning)) as caught:
        parse_kanji(text)
    assert f"{char!r}" in str(caught.value) and "not a numeral character" not in str(caught.value)


@pytest.mark.parametrize(("text", "zero"), [("0億", "0"), ("0百", "0"), ("０万", "０"),
                                            ("零万", "零"), ("〇百", "〇"), ("○万", "○")])
def test_a_zero_before_a_unit_is_named_as_typed(text, zero):
    """`kanjinum convert 0億` said `a group unit needs a non-zero number before it, not 〇`:
    a character the user had not typed, which reads as if the ASCII 0 were fine."""
    with pytest.raises(ValueError, match=re.escape(f"before it, not {zero}")):
        parse_kanji(text)
