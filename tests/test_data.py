from pathlib import Path

import numpy as np
import pytest

from kanjinum import data as D
from kanjinum.errors import DataError, VocabError
from kanjinum.numerals import parse_kanji, to_kanji

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def test_generated_lines_have_the_book_format_and_fixed_widths():
    ds = D.generate_kanji(size=2000, seed=3, hard_share=0.2, include_closed=True)
    assert (ds.question_width, ds.answer_width) == (25, 13)
    lines = ds.lines()
    assert {len(line) for line in lines} == {25 + 1 + 13}
    assert all(line[25] == "_" for line in lines)
    for q, a in zip(ds.questions, ds.answers):
        assert parse_kanji(q) == int(a)
        assert to_kanji(int(a)) == q


def test_generation_is_unique_and_deterministic():
    a = D.generate_kanji(size=3000, seed=7, hard_share=0.3)
    b = D.generate_kanji(size=3000, seed=7, hard_share=0.3)
    c = D.generate_kanji(size=3000, seed=8, hard_share=0.3)
    assert a.lines() == b.lines()
    assert a.lines() != c.lines()
    assert len(set(a.questions)) == len(a) == 3000


def test_values_follow_the_seed_distribution():
    ds = D.generate_kanji(size=20000, seed=0, include_closed=False)
    values = np.array([int(a) for a in ds.answers])
    assert values.min() >= 1 and values.max() < 10**13
    digits = np.array([len(a) for a in ds.answers])
    # d uniform in 5..13 then uniform below 10**d: 13-digit numbers are about 1/9 of the data,
    # and most numbers have the full d digits.
    assert 0.08 < np.mean(digits == 13) < 0.14
    assert 0.006 < np.mean(digits < 5) < 0.02  # only d = 5 gives them: 1/9 × 1/10


def test_closed_numbers_are_all_in_the_file():
    ds = D.generate_kanji(size=1000, seed=1, include_closed=True)
    answers = set(ds.answers)
    closed = D.closed_numbers(13)
    assert len(closed) == 117
    assert all(str(n) in answers for n in closed)


def test_hard_share_brings_rare_kinds():
    plain = D.kind_counts(D.generate_kanji(size=5000, seed=2).answers)
    hard = D.kind_counts(D.generate_kanji(size=5000, seed=2, hard_share=0.3).answers)
    assert hard["other"] < plain["other"] - 1000
    for kind in ("single", "round", "repeated", "short", "sparse", "group"):
        assert hard[kind] > plain[kind]


@pytest.mark.parametrize("style", ["daiji", "positional"])
def test_other_styles_have_their_own_widths(style):
    ds = D.generate_kanji(size=200, seed=0, style=style)
    assert ds.question_width == len(to_kanji(10**13 - 1, style))
    assert all(parse_kanji(q) == int(a) for q, a in zip(ds.questions, ds.answers))


def test_too_many_lines_for_the_digits_is_an_error():
    with pytest.raises(DataError, match="distinct"):
        D.generate_kanji(size=100, max_digits=1)
    assert len(D.generate_kanji(size=9, max_digits=1)) == 9


def test_big_numbers_beyond_int64():
    ds = D.generate_kanji(size=300, max_digits=20, seed=0)
    assert ds.answer_width == 20
    assert max(int(a) for a in ds.answers) >= 10**18
    assert all(parse_kanji(q) == int(a) for q, a in zip(ds.questions, ds.answers))


def test_addition_task_matches_the_book_format():
    ds = D.generate_addition(size=500, seed=0)
    assert (ds.question_width, ds.answer_width) == (7, 4)
    for q, a in zip(ds.questions, ds.answers):
        x, y = q.split("+")
        assert int(x) + int(y) == int(a) and 0 <= int(x) <= 999
    assert len(set(ds.questions)) == 500


def test_write_then_read_round_trip(tmp_path):
    ds = D.generate_kanji(size=100, seed=0)
    path = tmp_path / "k.txt"
    D.write_dataset(ds, path)
    back = D.read_dataset(path)
    assert back.questions == ds.questions and back.answers == ds.answers
    assert (back.question_width, back.answer_width) == (25, 13)
    # equal as data sets: where each came from is not compared (it made them unequal)
    assert back == ds and back.source == str(path) and ds.source != back.source
    assert back != D.generate_kanji(size=100, seed=1)


def test_existing_file_is_not_overwritten(tmp_path):
    path = tmp_path / "k.txt"
    path.write_text("keep me\n", encoding="utf-8")
    with pytest.raises(DataError, match="--force"):
        D.write_dataset(D.generate_kanji(size=10), path)
    assert path.read_text(encoding="utf-8") == "keep me\n"
    D.write_dataset(D.generate_kanji(size=10), path, force=True)
    assert len(D.read_dataset(path)) == 10


@pytest.mark.parametrize("content, message", [
    (b"", "no lines"),
    (b"abc_12\nabcd_1\n", "line 2"),
    (b"abc 12\n", "line 1: no '_'"),
    (b"ab_c12\nabc_12\n", "line 2: no '_'"),
    (b"abc_12\n\xff\xfe_12\n", "line 2: not UTF-8"),
])
def test_malformed_files_name_the_line(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message):
        D.read_dataset(path)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(DataError, match="not found"):
        D.read_dataset(tmp_path / "nope.txt")
    with pytest.raises(DataError, match="folder"):
        D.read_dataset(tmp_path)


def test_vocab_encodes_and_refuses_unknown_characters():
    vocab = D.Vocab.from_texts(["一二三", "123"])
    ids = vocab.encode(["一二", "3"], 4)
    assert ids.shape == (2, 4) and ids.dtype == np.int32
    assert vocab.decode(ids[0]) == "一二  "
    with pytest.raises(VocabError, match="'x'"):
        vocab.encode(["一x"], 4)
    with pytest.raises(VocabError, match="limit is 4"):
        vocab.encode(["一二三一二"], 4)


@pytest.mark.parametrize("text", ["一\udcff", "二\U0001F600", "\u0000", "x"])
def test_vocab_refuses_odd_characters_with_one_message(text):
    """Lone surrogates (undecodable bytes from a terminal), characters beyond the BMP and NUL are
    unknown characters like any other, named in the error."""
    vocab = D.Vocab.from_texts(["一二三"])
    with pytest.raises(VocabError, match="lacks") as caught:
        vocab.encode(["一二", text], 4)
    assert repr(text[-1])[1:-1] in str(caught.value)


def test_vocab_encodes_many_texts_as_one_by_one():
    rng = np.random.default_rng(0)
    vocab = D.Vocab.from_texts(["一二三四五六七八九十百千万億兆"])
    chars = list("一二三四五六七八九十百千万億兆")
    texts = ["".join(rng.choice(chars, size=rng.integers(0, 9))) for _ in range(300)]
    ids = vocab.encode(texts, 8)
    for text, row in zip(texts, ids):
        assert list(row[:len(text)]) == [vocab.index[ch] for ch in text]
        assert (row[len(text):] == vocab.pad_id).all()


def test_decode_rows_is_decode_row_by_row_without_trailing_padding():
    vocab = D.Vocab.from_texts(["一二三", "123", "_"])
    ids = vocab.encode(["一二", "", "1 2", "三三三三", " 3"], 4)
    assert vocab.decode_rows(ids) == ["一二", "", "1 2", "三三三三", " 3"]
    assert vocab.decode_rows(ids) == [vocab.decode(row).rstrip(D.PAD) for row in ids]
    assert vocab.decode_rows(ids[:, :0]) == [""] * 5


def test_split_is_the_books():
    train, test = D.split_indices(50_000)
    assert len(test) == 5000 and len(train) == 45000
    legacy = np.arange(50_000)
    np.random.RandomState(1984).shuffle(legacy)
    assert np.array_equal(np.concatenate([train, test]), legacy)


def test_split_keeps_closed_kinds_in_training():
    ds = D.generate_kanji(size=2000, seed=0, include_closed=True)
    closed = {to_kanji(n) for n in D.closed_numbers(13)}
    train, test = D.split_dataset(ds, keep_in_train=closed)
    assert not closed & set(test.questions)
    assert closed <= set(train.questions)
    assert len(train) + len(test) == 2000


@pytest.mark.parametrize("n, kind", [
    (7, "single"), (50, "round"), (3_000_000, "round"), (7777, "repeated"), (55, "repeated"),
    (305, "short"), (100_000_001, "sparse"), (3_900_000_000_000, "sparse"),
    (5_000_000_005_055, "group"), (123_400_015_678, "group"), (123_456_789, "other"),
])
def test_categorise(n, kind):
    assert D.categorise(n) == kind


def test_categorise_zero_is_a_single_digit_and_negatives_are_refused():
    assert D.categorise(0) == "single"
    with pytest.raises(ValueError, match="negative"):
        D.categorise(-7)


def test_categorise_refuses_a_float_it_would_misread():
    # 1e6, a million as a notebook writes it, was "sparse" and 100.0 "short": the kind was
    # read off the text '1000000.0'
    for n in (1e6, 100.0, 5.0):
        with pytest.raises(TypeError, match="n must be a whole number, not"):
            D.categorise(n)
    assert D.categorise(np.int64(1_000_000)) == "round"


def test_hard_set_holds_all_kinds_and_avoids_the_training_file():
    train = D.generate_kanji(size=3000, seed=0, include_closed=True)
    hard = D.hard_dataset(per_kind=50, exclude=train.questions)
    counts = D.kind_counts(hard.answers)
    assert counts["single"] == 9 and counts["round"] == 108
    for kind in ("repeated", "short", "sparse", "group", "other"):
        assert counts[kind] >= 50
    open_questions = {q for q, a in zip(hard.questions, hard.answers)
                      if D.categorise(int(a)) not in D.CLOSED_KINDS
                      and int(a) not in D.SEED_FAILURES}
    assert not open_questions & set(train.questions)
    for n in D.SEED_FAILURES:
        assert str(n) in hard.answers


@pytest.mark.parametrize("train_style, hard_style", [("kanji", "daiji"), ("daiji", "kanji"),
                                                      ("kanji", "positional")])
def test_hard_set_avoids_the_training_numbers_written_in_another_style(train_style, hard_style):
    """`gen-data --task hard --style daiji --exclude data/kanji.txt` compared questions as text,
    so it avoided none of the training numbers (886 of 3,028 were in data/kanji.txt)."""
    train = D.generate_kanji(size=600, max_digits=3, style=train_style, seed=0)
    hard = D.hard_dataset(max_digits=3, style=hard_style, per_kind=50, exclude=train)
    trained = set(train.answers)
    open_part = [a for a in hard.answers if D.categorise(int(a)) not in D.CLOSED_KINDS]
    assert open_part and not trained & set(open_part)


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/datasets is not beside this checkout")
def test_reads_the_books_own_files():
    addition = D.read_dataset(SHARED / "addition.txt")
    assert len(addition) == 50_000
    assert (addition.question_width, addition.answer_width) == (7, 4)
    assert addition.questions[0] == "16+75" and addition.answers[0] == "91"
    date = D.read_dataset(SHARED / "date.txt")
    assert date.questions[0] == "september 27, 1994" and date.answers[0] == "1994-09-27"
    vocab = D.Vocab.from_texts(addition.questions + addition.answers)
    enc = D.encode_dataset(addition, vocab)
    assert enc.xs.shape == (50_000, 7) and enc.ts.shape == (50_000, 5)
    train, test = D.split_dataset(addition)
    assert len(test) == 5000
    assert D.count_overlap(train, test) == 0


@pytest.mark.parametrize("kind", D.HARD_KINDS)
@pytest.mark.parametrize("max_digits", [1, 2, 5, 13])
def test_hard_numbers_stay_in_range(kind, max_digits):
    # A sparse number once carried past its width (9×10^12 + 9×10^12) and broke the file.
    rng = np.random.default_rng(0)
    for _ in range(2000):
        n = D.draw_hard_number(kind, rng, max_digits)
        assert 1 <= n < 10**max_digits, (kind, n)


def test_every_generated_line_fits_its_widths():
    ds = D.generate_kanji(size=20_000, seed=0, hard_share=0.5)
    assert all(len(q) <= ds.question_width for q in ds.questions)
    assert all(len(a) <= ds.answer_width for a in ds.answers)


def test_kinds_only_for_numeral_data():
    numerals = D.generate_kanji(size=50, seed=0, include_closed=True)
    assert None not in D.numeral_kinds(numerals.questions, numerals.answers)
    addition = D.generate_addition(size=200, seed=0)
    assert set(D.numeral_kinds(addition.questions, addition.answers)) == {None}


def test_addition_split_is_exactly_the_books():
    # Answers such as "7" or "100" are single or round numbers, but "3+4" is no numeral:
    # the closed-kind rule must not move any addition question out of the book's test part.
    addition = D.generate_addition(size=1000, seed=0)
    train, test = D.split_for_training(addition)
    train_idx, test_idx = D.split_indices(1000)
    assert test.questions == [addition.questions[i] for i in test_idx]


# --- reading data files a user made by hand -------------------------------------------------


@pytest.mark.parametrize("content, line", [
    (b"       _12\n       _34\n       _56\n", 1),  # the QA file: every question blanked by sed
    (b"_123\n_456\n", 1),                              # no question column at all
    (b"ab_1\n  _2\ncd_3\n", 2),
])
def test_empty_question_is_an_error_naming_the_line(tmp_path, content, line):
    # An empty question once got through reading and ended training in a numpy traceback.
    path = tmp_path / "blank.txt"
    path.write_bytes(content)
    with pytest.raises(DataError, match=f"line {line}: the question is empty"):
        D.read_dataset(path)


@pytest.mark.parametrize("lines, line", [
    (["1" * 50_000 + "_1"] * 3, 1),                    # the QA file: valid but absurd
    (["一_1", "1" * 49_998 + "_1", "二_2"], 2),
    (["一_1", "1" * 49_998, "二_2"], 2),                # no separator either
])
def test_absurdly_long_line_is_refused_in_a_short_message(tmp_path, lines, line):
    # Such a line once took seconds (parse_kanji is quadratic in a run of digits) before
    # failing later with another message.
    path = tmp_path / "long.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    length = f"{len(lines[line - 1]):,}"
    with pytest.raises(DataError, match=f"line {line}: {length} characters; a line holds "
                                        f"at most {D.MAX_LINE_LENGTH:,}") as caught:
        D.read_dataset(path)
    assert len(str(caught.value)) < 200 + len(str(path))


def test_line_as_long_as_allowed_is_read(tmp_path):
    path = tmp_path / "wide.txt"
    line = "1" * (D.MAX_LINE_LENGTH - 2) + "_1"
    path.write_text(f"{line}\n{line}\n", encoding="utf-8")
    assert D.read_dataset(path).question_width == D.MAX_LINE_LENGTH - 2


@pytest.mark.parametrize("ending", ["\n\n", "\n   \n", "\r\n\r\n  \t\r\n", "\n\n\n   "])
def test_blank_lines_at_the_end_are_ignored(tmp_path, ending):
    path = tmp_path / "k.txt"
    path.write_bytes(("一_1\n二_2" + ending).encode())
    ds = D.read_dataset(path)
    assert ds.questions == ["一", "二"] and ds.answers == ["1", "2"]


@pytest.mark.parametrize("content", [b"a_1\n\nb_2\n", b"a_1\n   \nb_2\n", b"a_1\n\r\nb_2\n"])
def test_blank_line_in_the_middle_is_an_error_that_says_so(tmp_path, content):
    path = tmp_path / "k.txt"
    path.write_bytes(content)
    with pytest.raises(DataError, match="line 2: blank"):
        D.read_dataset(path)


def test_file_of_blank_lines_holds_no_lines(tmp_path):
    path = tmp_path / "k.txt"
    path.write_bytes(b"\n  \n\n")
    with pytest.raises(DataError, match="no lines"):
        D.read_dataset(path)


def test_huge_file_is_refused_before_it_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(D, "MAX_FILE_BYTES", 1000)
    path = tmp_path / "big.txt"
    path.write_bytes(b"\xff" * 1001)  # not UTF-8 either: the size is what must be reported
    with pytest.raises(DataError, match="at most"):
        D.read_dataset(path)
    path.write_bytes(b"a_1\n" * 250)  # exactly the limit
    assert len(D.read_dataset(path)) == 250


def test_every_file_gen_data_may_write_can_be_read_back():
    # The widest line is the longest numeral, every character 3 bytes in UTF-8, plus newline.
    for style in ("kanji", "daiji", "positional"):
        question_width, answer_width = D.kanji_widths(20, style)
        assert question_width + 1 + answer_width <= D.MAX_LINE_LENGTH
        line_bytes = 3 * question_width + 1 + answer_width + 1
        assert D.MAX_SIZE * line_bytes <= D.MAX_FILE_BYTES


# --- sizes gen-data refuses at once ---------------------------------------------------------


@pytest.mark.parametrize("generate", [
    lambda: D.generate_kanji(size=99_999_999_999),
    lambda: D.generate_kanji(size=99_999_999_999, max_digits=20, hard_share=1.0,
                             include_closed=True),
    lambda: D.generate_addition(size=99_999_999_999),
    lambda: D.generate_addition(size=99_999_999_999, max_operand=99_999),
])
def test_huge_size_fails_at_once_giving_the_largest_size(generate):
    # A size below the numbers' capacity (10**13 - 1 for 13 digits) once ran for minutes.
    with pytest.raises(DataError, match=f"{D.MAX_SIZE:,}"):
        generate()


def test_huge_per_kind_of_the_hard_set_fails_at_once():
    with pytest.raises(DataError, match=f"--per-kind must be between 1 and {D.MAX_PER_KIND:,}"):
        D.hard_dataset(per_kind=99_999_999_999)
    with pytest.raises(DataError, match="--per-kind"):
        D.hard_dataset(per_kind=0)


def test_size_limit_is_the_smaller_of_capacity_and_max_size():
    with pytest.raises(DataError, match="ask for --size 99999 or fewer"):
        D.generate_kanji(size=100_000, max_digits=5)
    with pytest.raises(DataError, match="between 1 and 100 "):
        D.generate_addition(size=101, max_operand=9)
    assert len(D.generate_addition(size=100, max_operand=9)) == 100


def test_an_endless_stream_is_read_no_further_than_the_limit(monkeypatch):
    """/dev/zero has no size to check; it was read until memory ran out."""
    monkeypatch.setattr(D, "MAX_FILE_BYTES", 1000)
    with pytest.raises(DataError, match="more than 1,000 bytes"):
        D.read_dataset("/dev/zero")


def test_a_dataset_prints_short():
    dataset = D.read_dataset(Path(__file__).resolve().parent.parent / "data" / "kanji.txt")
    text = repr(dataset)
    assert len(text) < 200 and "50,000 lines" in text and "25/13" in text


def test_hard_dataset_takes_questions_or_a_dataset_not_a_path():
    small = D.generate_kanji(300, max_digits=4)
    with pytest.raises(TypeError, match="not a path"):
        D.hard_dataset(max_digits=4, per_kind=5, exclude="data/kanji.txt")
    from_dataset = D.hard_dataset(max_digits=4, per_kind=5, exclude=small)
    from_questions = D.hard_dataset(max_digits=4, per_kind=5, exclude=small.questions)
    assert from_dataset == from_questions


def test_split_and_addition_settings_out_of_range_are_refused():
    """test_share 1.5 split 50/50 and -0.5 100/0, silently; max_operand 0 gave a --size error."""
    dataset = D.generate_addition(100)
    for share in (1.5, -0.5, 0, 1):
        with pytest.raises(ValueError, match="test_share"):
            D.split_dataset(dataset, test_share=share)
    for operand in (0, -3):
        with pytest.raises(DataError, match="max_operand"):
            D.generate_addition(5, max_operand=operand)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_a_utf16_file_is_named_as_such(tmp_path, encoding):
    """Windows Notepad's "Unicode" is UTF-16 with a byte-order mark: it was `line 1: not UTF-8
    text`, with no word of what the file is or how to convert it."""
    path = tmp_path / "d.txt"
    bom = "" if encoding == "utf-16" else "\ufeff"  # "utf-16" writes its own
    path.write_bytes((bom + "一_1\n二_2\n").encode(encoding))
    with pytest.raises(DataError, match=r"d.txt is not UTF-8 text but UTF-16 .*iconv -f UTF-16 -t UTF-8"):
        D.read_dataset(path)


def test_hard_dataset_checks_its_digit_count_as_generate_kanji_does():
    """hard_dataset(max_digits=0) failed in numpy with "low >= high", and 30 in the numeral
    writer; only the CLI checked --max-digits."""
    for digits in (0, -3, 21, 30):
        with pytest.raises(D.DataError, match=f"--max-digits must be between 1 and 20, not {digits}"):
            D.hard_dataset(max_digits=digits, per_kind=2)


def test_sizes_and_seeds_that_are_not_whole_numbers_are_named():
    """generate_kanji(size=1e4) failed in numpy ("expected a sequence of integers or a single
    integer, got '20016.0'"), generate_addition(size=1e4) with "'float' object cannot be
    interpreted as an integer", and hard_dataset(per_kind=2.5) drew 3 of each kind."""
    with pytest.raises(TypeError, match=r"size must be a whole number, not 10000.0 \(write 10_000\)"):
        D.generate_kanji(size=1e4)
    with pytest.raises(TypeError, match="size must be a whole number"):
        D.generate_addition(size=1e4)
    with pytest.raises(TypeError, match="max_operand must be a whole number, not 2.5$"):
        D.generate_addition(size=3, max_operand=2.5)
    with pytest.raises(TypeError, match="per_kind must be a whole number, not 2.5"):
        D.hard_dataset(max_digits=4, per_kind=2.5)
    with pytest.raises(TypeError, match="seed must be a whole number, not 1.5"):
        D.generate_kanji(size=10, seed=1.5)
    with pytest.raises(TypeError, match="size must be a whole number, not '10'"):
        D.generate_kanji(size="10")
    assert len(D.generate_kanji(size=np.int64(10), max_digits=np.int32(5), seed=np.uint32(2))) == 10


def test_vocab_encode_refuses_a_bare_text():
    """vocab.encode("一億一", 25) encoded each character as a question of its own: three rows,
    without a word (predict refuses a bare string for the same reason)."""
    vocab = D.Vocab.from_texts(["一億"])
    with pytest.raises(TypeError, match=r"for one, pass \[text\]"):
        vocab.encode("一億一", 5)
    assert vocab.encode(["一億一"], 5).shape == (1, 5)


def test_old_mac_line_endings_are_read_as_python_reads_them(tmp_path):
    """A lone \\r ends a line, as in the book's loader (Python's text mode): a file saved with
    old Mac OS line ends was one line, 'too few to split'; its errors name the right line."""
    rows = [f"{i:<3}_{2 * i:<4}" for i in range(30)]
    path = tmp_path / "mac.txt"
    path.write_bytes("\r".join(rows).encode() + b"\r")
    back = D.read_dataset(path)
    assert len(back) == 30 and back.questions[7] == "7" and back.answers[7] == "14"
    path.write_bytes("\r".join(rows[:5] + ["5  x10  "] + rows[6:]).encode() + b"\r")
    with pytest.raises(DataError, match="line 6: no '_'"):
        D.read_dataset(path)
    path.write_bytes(b"a_1\rb_2\r\xff_3\r")
    with pytest.raises(DataError, match="line 3: not UTF-8"):
        D.read_dataset(path)


def test_an_underscore_in_the_first_question_is_not_taken_for_the_separator(tmp_path):
    """The separator is the `_` that every line has at its column: a question of line 1 that
    holds one (a_b) made every other line fail with "line 2: no '_' at column 2"."""
    path = tmp_path / "u.txt"
    path.write_text("a_b_x \ncd _y \nef _zz\n", encoding="utf-8")
    back = D.read_dataset(path)
    assert back.questions == ["a_b", "cd", "ef"] and back.answers == ["x", "y", "zz"]
    assert (back.question_width, back.answer_width) == (3, 2)
    path.write_text("cd _y \na_b_x \n", encoding="utf-8")  # as before: later lines may hold one
    assert D.read_dataset(path).questions == ["cd", "a_b"]
    path.write_text("a_b_x \ncd _y \nefgh_z\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 3: no '_' at column 4, where line 1 has it"):
        D.read_dataset(path)


def test_a_question_of_a_non_breaking_space_or_a_tab_is_not_empty(tmp_path):
    """Only the padding (a space) is stripped from a question: one that is a no-break space,
    a tab or an ideographic space (a task of the user's own characters) was refused as
    "the question is empty"; a question of padding alone still is."""
    path = tmp_path / "odd.txt"
    questions = ["\u00a0", "\t", "\u3000", "a\u00a0"]
    path.write_text("".join(f"{q:<2}_{i}\n" for i, q in enumerate(questions)), encoding="utf-8")
    assert D.read_dataset(path).questions == questions
    path.write_text("a _1\n  _2\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 2: the question is empty"):
        D.read_dataset(path)


def test_lines_that_lost_their_padding_are_said_to_have(tmp_path):
    """A file saved by an editor that removes trailing spaces: every answer lost its padding,
    and the error named line 6 as if it alone were too long."""
    rows = [f"{i:<3}_{2 * i:<4}".rstrip() for i in range(20)]
    path = tmp_path / "stripped.txt"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"line 6: 6 characters where line 1 has 5; .*"
                                        r"were trailing spaces removed"):
        D.read_dataset(path)
    path.write_text("ab _1 \nabc _12\n", encoding="utf-8")  # padded, just not alike: no guess
    with pytest.raises(DataError, match="the same length$"):
        D.read_dataset(path)


def test_a_last_line_cut_short_is_said_to_be_cut(tmp_path):
    """The book's addition.txt sliced with `head -c 300` (or a download that stopped): its last
    line, `5`, ends without a line end, and the error asked whether an editor had removed
    trailing spaces, which were there on every other line; it also said `1 characters`."""
    rows = "".join(f"{f'{i}+{i}':<6}_{2 * i:<4}\n" for i in range(20))
    path = tmp_path / "cut.txt"
    path.write_text(rows + "5", encoding="utf-8")
    with pytest.raises(DataError, match=r"line 21: 1 character where line 1 has 11; .*the "
                                        r"last line is cut short") as caught:
        D.read_dataset(path)
    assert "trailing spaces" not in str(caught.value)
    path.write_text(rows + "5+5   _10  ", encoding="utf-8")  # whole, just no line end: read
    assert len(D.read_dataset(path)) == 21
    path.write_text(rows + "5+5\n", encoding="utf-8")  # it ends as a file should: no guess
    with pytest.raises(DataError, match="characters where") as caught:
        D.read_dataset(path)
    assert "cut short" not in str(caught.value)


@pytest.mark.parametrize("keep", [1, 2])
def test_a_file_cut_inside_a_kanji_is_said_to_be_cut(tmp_path, keep):
    """`head -c 301 data/kanji.txt` (or a download that stopped) ends within a kanji's three
    bytes, two times in three: the error said 'line 5: not UTF-8 text', of a UTF-8 file."""
    rows = "".join(f"{to_kanji(n):<6}_{n:<4}\n" for n in range(1, 5))
    path = tmp_path / "cut.txt"
    path.write_bytes(rows.encode("utf-8") + "五千".encode("utf-8")[:3 + keep])
    with pytest.raises(DataError, match=r"line 5: .*the last line is cut short") as caught:
        D.read_dataset(path)
    assert "not UTF-8" not in str(caught.value)
    path.write_bytes(b"\xff" + rows.encode("utf-8")[1:])  # a bad byte elsewhere is no cut
    with pytest.raises(DataError, match="line 1: not UTF-8 text$"):
        D.read_dataset(path)


def test_kanji_lines_aligned_on_the_screen_are_said_to_count_characters(tmp_path):
    """A hand-made file of numerals, padded to look aligned in an editor where a kanji takes
    two columns: the error named line 2 as too long, and the lines looked alike."""
    path = tmp_path / "visual.txt"
    path.write_text("三百五  _305\n十二    _12 \n", encoding="utf-8")
    with pytest.raises(DataError, match="line 2: 10 characters where line 1 has 9; .*count "
                                        "characters, not columns on the screen"):
        D.read_dataset(path)


def test_an_invisible_character_that_lengthens_a_line_is_named(tmp_path):
    """Two files with byte-order marks joined by `cat`: the second mark, inside the file, made
    its line one character longer than the others, and nothing on the screen showed why."""
    part = "\ufeff" + "".join(f"{i:<3}_{2 * i:<3}\n" for i in range(5))
    path = tmp_path / "joined.txt"
    path.write_text(part + part, encoding="utf-8")
    with pytest.raises(DataError, match=r"line 6: 8 characters where line 1 has 7; .*it holds "
                                        r"U\+FEFF, which shows as nothing \(a byte-order mark"):
        D.read_dataset(path)


def test_the_readmes_table_of_kinds_is_categorise_in_order_with_right_examples():
    """The README listed the kinds eval reports by name only; what each means, and that a
    number takes the first that fits (一億一 is sparse, not group), was in a docstring."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    rows = [line.split("|")[1:4] for line in readme.splitlines()
            if line.startswith("| ") and line.split("|")[1].strip() in D.KINDS]
    assert [kind.strip() for kind, _, _ in rows] == list(D.KINDS)
    for kind, _, examples in rows:
        for numeral in examples.split(","):
            assert D.categorise(parse_kanji(numeral.strip())) == kind.strip(), numeral


def test_kinds_with_no_number_in_range_are_not_drawn(monkeypatch):
    """`gen-data --task hard --max-digits 1` took 6 s to write its 9 lines, drawing 140,000
    numbers of each open kind that no number below 10 is (a sparse number has 4 digits or more,
    a group one 7), and --max-digits 3 drew as long for sparse, group and other numbers. A
    kind before one still drawn is drawn in vain as before, so that the file stays the same
    (round 35)."""
    # below 10^6, a group number has a lower group of 0 or 1: one of these 198
    below = [*range(1, 10_000), *(a * 10_000 + g for a in range(1, 100) for g in (0, 1))]
    for kind, example in {"repeated": 11, "short": 12, "sparse": 1001, "group": 1_110_001,
                          "other": 1234}.items():
        digits = D.KIND_MIN_DIGITS[kind]
        assert D.categorise(example) == kind and len(str(example)) == digits
        assert not any(D.categorise(n) == kind for n in below if n < 10 ** (digits - 1)), kind
    draws = []
    monkeypatch.setattr(D, "draw_hard_number", lambda kind, *a: draws.append(kind) or 1)
    monkeypatch.setattr(D, "_draw_uniform_number", lambda *a: draws.append("other") or 1)
    assert len(D.hard_dataset(max_digits=1, per_kind=5)) == 9 and draws == []
    D.hard_dataset(max_digits=3, per_kind=5)
    assert set(draws) == {"repeated", "short"}
    draws.clear()
    D.hard_dataset(max_digits=6, per_kind=5)
    assert set(draws) == {"repeated", "short", "sparse", "group", "other"}


def test_a_dataset_made_by_hand_that_no_file_could_hold_is_refused(tmp_path):
    # A notebook's own test set: answers as numbers scored 0 % in evaluate without a word,
    # an answer short dropped a line from the file, and a width narrower than a text wrote
    # lines of different lengths, which reading back blamed on an editor.
    with pytest.raises(TypeError, match=r"answers must be strings, not int \(1\)"):
        D.Dataset(["一", "二"], [1, 2], 25, 13)
    with pytest.raises(DataError, match="2 questions but 1 answer: one answer for each"):
        D.Dataset(["一", "二"], ["1"], 25, 13)
    with pytest.raises(DataError, match="question_width 1 is narrower than '一億一'"):
        D.Dataset(["一", "一億一"], ["1", "100000001"], 1, 13)
    with pytest.raises(DataError, match="answer_width 3 is narrower than '100000001'"):
        D.Dataset(["一", "一億一"], ["1", "100000001"], 25, 3)
    with pytest.raises(TypeError, match="question_width must be a whole number"):
        D.Dataset(["一"], ["1"], 25.0, 13)
    made = D.Dataset(["一", "一億一"], ["1", "100000001"], 3, 9)
    D.write_dataset(made, tmp_path / "d.txt")
    assert D.read_dataset(tmp_path / "d.txt") == made


def test_write_dataset_names_its_own_argument_to_overwrite(tmp_path):
    # a notebook was told "pass --force", gen-data's option, which write_dataset has not
    dataset = D.generate_kanji(size=5, max_digits=3)
    D.write_dataset(dataset, tmp_path / "d.txt")
    with pytest.raises(DataError, match=r"d\.txt exists; pass force=True to overwrite it"):
        D.write_dataset(dataset, tmp_path / "d.txt")
    D.write_dataset(dataset, tmp_path / "d.txt", force=True)


def test_decoding_ids_of_the_wrong_shape_or_range_is_named():
    # decode of generate's (N, T) ids failed with "only integer scalar arrays can be
    # converted to a scalar index", decode_rows of one row with "tuple index out of range",
    # an id past the end likewise, and a negative id was read as the last character
    vocab = D.Vocab.from_texts(["一二"])  # ' ', '_', '一', '二'
    assert vocab.decode([2, 3, 0]) == "一二 " and vocab.decode_rows([[2, 3, 0]]) == ["一二"]
    with pytest.raises(ValueError, match=r"decode takes one row of ids \(T,\), not an array "
                                         r"of 2 dimensions: .* use decode_rows"):
        vocab.decode([[2, 3]])
    with pytest.raises(ValueError, match=r"decode_rows takes rows of ids \(N, T\), not an "
                                         r"array of 1 dimensions: for one row, use decode"):
        vocab.decode_rows([2, 3])
    for bad, found in ((4, "2..4"), (-1, "-1..2")):
        with pytest.raises(ValueError, match=rf"ids outside 0..3, .*\(found {found}\)"):
            vocab.decode([2, bad])
        with pytest.raises(ValueError, match=rf"ids outside 0..3, .*\(found {found}\)"):
            vocab.decode_rows([[2, bad]])
    with pytest.raises(TypeError, match="whole numbers, not float64"):
        vocab.decode([2.0])


@pytest.mark.parametrize("call, said", [
    (lambda: D.generate_kanji(10, hard_share="0.3"),
     "hard_share must be a number between 0 and 1, not '0.3'"),
    (lambda: D.split_dataset(D.generate_kanji(10), seed=1.5),
     "seed must be a whole number, not 1.5"),
    (lambda: D.hard_dataset(exclude=[1, 2]), r"exclude takes questions as strings \(numerals\), not 1"),
])
def test_library_arguments_of_the_wrong_type_are_named(call, said):
    """A notebook's hard_share="0.3", split seed 1.5 or exclude=[1, 2] failed in a comparison,
    in numpy's casting rules, or in parse_kanji's name (round 43)."""
    with pytest.raises(TypeError, match=said):
        call()
