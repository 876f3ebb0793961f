"""Data sets in the book's line format: generate, write, read, encode, split.

Every line holds a question left-justified with spaces to a fixed width, `_`, and the answer
left-justified to a fixed width, so that all lines of a file have the same length:

    三百五                      _305          

A question is encoded as its characters padded with spaces; the decoder's side as `_305` padded
with spaces, so `_` starts decoding and the first space after the answer marks its end.
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from kanjinum.errors import DataError, VocabError, percentage_as_share, stray_space
from kanjinum.fileio import atomic_write_text, user_path
from kanjinum.numerals import to_kanji

PAD = " "
START = "_"
NATURAL_ORDER = "〇一二三四五六七八九十百千万億兆京零壱弐参伍拾阡萬0123456789"
BOOK_SPLIT_SEED = 1984
TASKS = ("kanji", "addition")

# The kinds of number, in the order a number is tested against them: the first that fits wins.
KINDS = ("single", "round", "repeated", "short", "sparse", "group", "other")
CLOSED_KINDS = ("single", "round")  # finitely many: a converter must simply know all of them
HARD_KINDS = KINDS[:-1]
OPEN_KINDS = KINDS[2:]  # the kinds a hard set draws --per-kind of; the closed ones it holds whole
# The fewest digits a number of each open kind has, as `categorise` tests the kinds in turn:
# 11 (repeated), 12 (short), 1001 (sparse: below 1000 a number is short), 1110001 (group: four
# non-zero digits, or it is sparse, and a lower group of 0 or 1), 1234 (other). A hard set of
# fewer digits draws none of that kind, where no later kind is drawn either: drawing 140,000
# of them in vain took seconds, and skipping a kind before one that is drawn would change the
# later kind's numbers, and the file that the same options have always given.
KIND_MIN_DIGITS = {"repeated": 2, "short": 2, "sparse": 4, "group": 7, "other": 4}
DEFAULT_PER_KIND = 700  # gen-data --task hard's numbers per open kind (data/hard.txt)
DEFAULT_HARD_SHARE = 0.3  # gen-data's default, chosen by the recipe experiments (docs/results.md)
# What the seed's model got wrong: 一, 一億一, 三兆九千億, 五兆五千五十五.
SEED_FAILURES = (1, 100_000_001, 3_900_000_000_000, 5_000_000_005_055)

# Limits on what is read and written, each far beyond any real data set, so that a wrong file
# or a typo in --size fails at once instead of running for minutes.
MAX_LINE_LENGTH = 1_000  # the widest numeral line is 61 characters (20 digits)
MAX_FILE_BYTES = 200_000_000  # checked before reading: a wrong file is not loaded whole
MAX_SIZE = 1_000_000  # lines gen-data writes: 20 book files, each line at most 139 bytes
MAX_PER_KIND = 10_000  # a hard set of ~30,000 lines; 10,000 per kind takes ~15 s
MAX_SEED = 2**32 - 1  # the range `train` takes too (the book's split needs numpy's legacy seeds)


# --- the vocabulary -------------------------------------------------------------------------


@dataclass(frozen=True)
class Vocab:
    """The characters a model reads and writes; saved with the model, never rebuilt from data."""

    chars: tuple[str, ...]

    @classmethod
    def from_texts(cls, texts) -> "Vocab":
        seen = set(PAD + START)
        for text in texts:
            seen.update(text)
        return cls(tuple(sorted(seen)))

    @cached_property
    def index(self) -> dict[str, int]:
        return {ch: i for i, ch in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    @property
    def pad_id(self) -> int:
        return self.index[PAD]

    @property
    def start_id(self) -> int:
        return self.index[START]

    def unknown_chars(self, text: str) -> list[str]:
        return sorted({ch for ch in text if ch not in self.index})

    @cached_property
    def _code_points(self) -> tuple[np.ndarray, np.ndarray]:
        """The characters' code points, sorted, and the id of each: for `encode`."""
        codes = np.array([ord(ch) for ch in self.chars], dtype=np.uint32)
        order = np.argsort(codes)
        return codes[order], order.astype(np.int32)

    def encode(self, texts, width: int) -> np.ndarray:
        """Texts → int32 ids (N, width), padded with PAD; an unknown character is a VocabError.

        All texts at once: their code points in one array, looked up with one searchsorted
        (a dict lookup per character costs 5 µs per question, a tenth of decoding one)."""
        if isinstance(texts, str):  # it was encoded character by character, a row each
            raise TypeError("encode takes a list of texts; for one, pass [text]")
        texts = list(texts)
        ids = np.full((len(texts), width), self.index[PAD], dtype=np.int32)
        lengths = np.fromiter(map(len, texts), dtype=np.intp, count=len(texts))
        for row in np.flatnonzero(lengths > width)[:1]:
            text = texts[row]
            raise VocabError(f"{text!r} has {len(text)} characters; the limit is {width}")
        # surrogatepass: text from a terminal may hold lone surrogates; they are unknown here
        codes = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), np.uint32)
        known, id_of = self._code_points
        at = np.minimum(np.searchsorted(known, codes), len(known) - 1)
        found = known[at] == codes
        if not found.all():
            row = int(np.searchsorted(np.cumsum(lengths), np.argmin(found), side="right"))
            bad = "".join(self.unknown_chars(texts[row]))
            raise VocabError(
                f"{texts[row]!r} holds {bad!r}, which the vocabulary lacks; "
                f"known characters: {self.printable()}"
            )
        rows = np.repeat(np.arange(len(texts)), lengths)
        cols = np.arange(len(codes)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        ids[rows, cols] = id_of[at]
        return ids

    def decode(self, ids) -> str:
        """One row of ids (T,) as text, padding kept: [12, 13, 0] → "一二 "."""
        ids = self._checked_ids(ids, 1, "decode takes one row of ids (T,)",
                                "for rows (N, T), as generate returns them, use decode_rows")
        return "".join(self.chars[i] for i in ids.tolist())

    def decode_rows(self, ids) -> list[str]:
        """Each row of ids (N, T) as text, trailing padding removed; about 5x faster than
        `decode` row by row: the characters are looked up at once and each row read as one
        fixed-width string."""
        ids = self._checked_ids(ids, 2, "decode_rows takes rows of ids (N, T)",
                                "for one row, use decode")
        if ids.shape[1] == 0:
            return [""] * ids.shape[0]
        chars = np.array(self.chars, dtype="<U1")[ids]  # (N, T)
        rows = np.ascontiguousarray(chars).view(f"<U{ids.shape[1]}")[:, 0]
        return [row.rstrip(PAD) for row in rows.tolist()]

    def _checked_ids(self, ids, ndim: int, takes: str, other: str) -> np.ndarray:
        """ids as an array of ndim dimensions of whole numbers in 0..len-1: a notebook's
        decode of generate's (N, T) ids failed with "only integer scalar arrays can be
        converted to a scalar index", an id past the end with "tuple index out of range", and
        a negative one was read, without a word, as a character counted from the end."""
        ids = np.asarray(ids)
        if ids.ndim != ndim:
            raise ValueError(f"{takes}, not an array of {ids.ndim} dimensions: {other}")
        if ids.size and not np.issubdtype(ids.dtype, np.integer):
            raise TypeError(f"ids must be whole numbers, not {ids.dtype} values")
        if ids.size and (ids.min() < 0 or ids.max() >= len(self.chars)):
            raise ValueError(f"ids outside 0..{len(self.chars) - 1}, this vocabulary's "
                             f"(found {ids.min()}..{ids.max()}): decode with the vocabulary "
                             "that encoded them")
        return ids

    def printable(self) -> str:
        """The characters of the vocabulary but padding and start, in natural order."""
        return in_natural_order(ch for ch in self.chars if ch not in (PAD, START))


def in_natural_order(chars) -> str:
    """Characters as one string, numerals in their natural order: 一二三…十百千万, then the rest."""
    def natural(ch: str):
        return (NATURAL_ORDER.find(ch) if ch in NATURAL_ORDER else len(NATURAL_ORDER), ch)
    return "".join(sorted(set(chars), key=natural))


# --- data sets ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dataset:
    """Questions and answers without their padding, and the widths of the two columns."""

    questions: list[str]
    answers: list[str]
    question_width: int
    answer_width: int
    # where the lines came from is not part of them: a data set written and read back
    # compared unequal to itself (source "" before, the file's path after)
    source: str = field(default="", compare=False)
    duplicates: int = field(default=0, compare=False)
    sha256: str = field(default="", compare=False)  # of the bytes read; "" when made in memory

    def __post_init__(self):
        # A data set made by hand in a notebook: answers as numbers (Dataset(numerals, ns, …))
        # scored 0 % in evaluate without a word ('1' != 1); one answer short, a line was left
        # out of the file; a width narrower than a text, the file's lines were of different
        # lengths, and reading it back blamed an editor for removing trailing spaces.
        for name in ("questions", "answers"):
            odd = next((t for t in getattr(self, name) if not isinstance(t, str)), None)
            if odd is not None:
                raise TypeError(f"Dataset {name} must be strings, not {type(odd).__name__} "
                                f"({odd!r}): write str(n) for a number")
        if len(self.questions) != len(self.answers):
            answers = len(self.answers)
            raise DataError(f"Dataset of {len(self.questions):,} questions but {answers:,} "
                            f"answer{'' if answers == 1 else 's'}: one answer for each question")
        for name, texts in (("question_width", self.questions), ("answer_width", self.answers)):
            width = getattr(self, name)
            check_whole(name, width)
            longest = max(texts, key=len, default="")
            if len(longest) > width:
                raise DataError(f"Dataset {name} {width} is narrower than {longest!r} "
                                f"({len(longest)} characters): the width must hold the "
                                "longest, as every line of the file has one length")

    def __len__(self) -> int:
        return len(self.questions)

    def __repr__(self) -> str:  # not 50,000 questions in a notebook cell
        first = f", first {self.questions[0]!r}_{self.answers[0]!r}" if self.questions else ""
        return (f"Dataset({len(self):,} lines, widths {self.question_width}/{self.answer_width}"
                f"{first}{', from ' + self.source if self.source else ''})")

    def lines(self) -> list[str]:
        return [format_line(q, a, self.question_width, self.answer_width)
                for q, a in zip(self.questions, self.answers)]


def format_line(question: str, answer: str, question_width: int, answer_width: int) -> str:
    return f"{question:<{question_width}}{START}{answer:<{answer_width}}"


def read_dataset(path: str | os.PathLike) -> Dataset:
    """Read a file in the book's format; any malformed line is a DataError naming file and line.

    Blank lines at the end are ignored (editors leave them); anywhere else they are an error.
    Messages give lengths and columns, never the line itself, which may be huge.
    """
    path = user_path(path)
    raw = _read_bytes(path)
    lines = _decode_lines(raw, path)
    if not lines:
        raise DataError(f"{path} holds no lines")
    first = lines[0]
    _check_line_is_plausible(first, 1, path)
    sep = first.find(START)
    if sep < 0:
        raise DataError(f"{path}, line 1: no '{START}' separates question and answer")
    width = len(first)
    for number, line in enumerate(lines, start=1):
        _check_line_is_plausible(line, number, path)
        if len(line) != width:
            cut = number == len(lines) and len(line) < width and not raw.endswith((b"\n", b"\r"))
            hint = _CUT_HINT if cut else _length_hint(first, line)
            characters = "character" if len(line) == 1 else "characters"
            raise DataError(
                f"{path}, line {number}: {len(line):,} {characters} where line 1 has {width}; "
                f"every line must have the same length{hint}")
        if line[sep] != START:
            sep = _later_separator(lines, number, sep, path)
    if sep == width - 1:
        # An answer column of no width: training ended in numpy's reshape error, a traceback.
        raise DataError(f"{path}: no line has an answer (nothing follows '{START}' in column "
                        f"{sep + 1}); the answers are what a model learns to write")
    questions = [line[:sep].rstrip(PAD) for line in lines]
    answers = [line[sep + 1:].rstrip(PAD) for line in lines]
    for number, question in enumerate(questions, start=1):
        if not question:
            # Nothing to encode: training would end in a numpy error on an empty array.
            raise DataError(f"{path}, line {number}: the question is empty")
    duplicates = len(questions) - len(set(questions))
    # The bytes read, hashed: reading the file again to hash it blocked on a FIFO and hashed
    # nothing for `--data <(…)`; a file changed since would be hashed as it is now.
    return Dataset(questions, answers, sep, width - sep - 1, str(path), duplicates,
                   hashlib.sha256(raw).hexdigest())


# A short last line with no line end after it was cut, not trimmed: `head -c`, a download
# or copy that stopped. The trailing-spaces guess blamed an editor for every other line.
_CUT_HINT = ("; the last line is cut short (the file does not end with a line end): was it "
             "cut with head -c, or a copy or download that stopped?")


def _length_hint(first: str, line: str) -> str:
    """What may have made two lines of a file differ in length, where the error alone named
    the first line longer than line 1 as if it alone were wrong.

    An invisible character (a byte-order mark where `cat` joined two files) lengthens a line
    that looks right. Lines as wide on the screen were padded by hand to look aligned, where a
    kanji takes two columns and a combining accent none. Where the shorter ends without
    padding, it may have lost it: an editor set to remove trailing spaces leaves every answer
    as short as it is."""
    invisible = sorted({ch for ch in line if unicodedata.category(ch) == "Cf"})
    if invisible and len(line) > len(first):
        bom = " (a byte-order mark: files joined?)" if "\ufeff" in invisible else ""
        names = ", ".join(f"U+{ord(ch):04X}" for ch in invisible)
        return f"; it holds {names}, which shows as nothing{bom}"
    if _screen_columns(first) == _screen_columns(line):
        return ("; lengths count characters, not columns on the screen (a kanji takes two "
                "there, a combining accent none)")
    if not min(first, line, key=len).endswith(PAD):
        return "; were trailing spaces removed (an editor's setting)? they pad answers to one width"
    return ""


def _screen_columns(text: str) -> int:
    return sum(0 if unicodedata.combining(ch) else
               2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _later_separator(lines: list[str], number: int, sep: int, path: Path) -> int:
    """The column of the `_` between question and answer when line `number` has none at `sep`:
    a later `_` of line 1 that every line up to this one has. A question may hold a `_` too
    (a_b): taking line 1's first failed on line 2 where line 1's question held one."""
    for column in range(sep + 1, len(lines[0])):
        if all(line[column] == START for line in lines[:number]):
            return column
    raise DataError(f"{path}, line {number}: no '{START}' at column {sep + 1}, "
                    "where line 1 has it")


def _check_line_is_plausible(line: str, number: int, path: Path) -> None:
    """Refuse a line far longer than any numeral before anything reads it: parsing its
    question as a numeral costs time quadratic in its length."""
    if len(line) > MAX_LINE_LENGTH:
        raise DataError(f"{path}, line {number}: {len(line):,} characters; "
                        f"a line holds at most {MAX_LINE_LENGTH:,}")
    if not line.strip():
        raise DataError(f"{path}, line {number}: blank; blank lines may only end the file")


def _read_bytes(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            # Checked first: the whole file is read at once, and decoded it takes 2-4x more.
            raise DataError(f"{path} holds {size:,} bytes; a data file holds at most "
                            f"{MAX_FILE_BYTES:,}")
        with open(path, "rb") as f:
            # A pipe or device has no size to check (/dev/zero never ends): read one byte
            # past the limit, and no further.
            raw = f.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            raise DataError(f"{path} holds more than {MAX_FILE_BYTES:,} bytes; a data file "
                            f"holds at most {MAX_FILE_BYTES:,}")
        return raw
    except FileNotFoundError:
        raise DataError(f"data file {path} not found{stray_space(path)}") from None
    except IsADirectoryError:
        raise DataError(f"{path} is a folder, not a data file") from None
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None


def _decode_lines(raw: bytes, path: Path) -> list[str]:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        # Windows Notepad's "Unicode": "line 1: not UTF-8 text" did not say what it is instead
        raise DataError(f"{path} is not UTF-8 text but UTF-16 (it starts with UTF-16's "
                        "byte-order mark): convert it, e.g. iconv -f UTF-16 -t UTF-8")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = _universal_newlines(raw[: exc.start].decode("utf-8")).count("\n") + 1
        if exc.end == len(raw) and exc.reason == "unexpected end of data":
            # the first bytes of a kanji's three, and no more: `head -c 301`, a download that
            # stopped; "not UTF-8 text" was said of a UTF-8 file
            raise DataError(f"{path}, line {line}: the file ends within a character"
                            f"{_CUT_HINT}") from None
        raise DataError(f"{path}, line {line}: not UTF-8 text") from None
    lines = _universal_newlines(text.removeprefix("\ufeff")).split("\n")
    while lines and not lines[-1].strip():
        lines.pop()  # the final newline, and blank lines that editors leave at the end
    return lines


def _universal_newlines(text: str) -> str:
    """Line ends as Python's text files read them, which the book's loader uses: \\r\\n
    (Windows) and a lone \\r (old Mac OS, some spreadsheets' "Macintosh" CSV) end a line too.
    A file of \\r endings was read as one line: "has 1 line: too few to split"."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def write_dataset(dataset: Dataset, path: str | os.PathLike, force: bool = False) -> None:
    """Write the book's format, atomically; an existing file only with force=True."""
    path = user_path(path)
    if os.path.lexists(path) and not force:  # a link to a file not there is the user's too
        # this function's argument: a notebook was told of gen-data's option only
        raise DataError(f"{path} exists; pass force=True to overwrite it (gen-data: --force)")
    if path.is_dir():
        raise DataError(f"{path} is a folder")
    if path.exists() and not path.is_file():  # a FIFO, /dev/null: named, not written to
        raise DataError(f"{path} is not a regular file; refusing to replace it")
    # A write the system refuses (a full disk) stays an OSError naming the file: a failure
    # while working, as train's, not a mistake in what was asked for
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, "\n".join(dataset.lines()) + "\n")


# --- encoding and splitting -----------------------------------------------------------------


@dataclass(frozen=True)
class Encoded:
    """A data set as arrays: xs (N, Wq) question ids; ts (N, Wa + 1) `_` + answer ids."""

    xs: np.ndarray
    ts: np.ndarray
    question_lengths: np.ndarray
    answer_lengths: np.ndarray


def encode_dataset(dataset: Dataset, vocab: Vocab,
                   question_width: int | None = None, answer_width: int | None = None) -> Encoded:
    """Ids padded to the widths (the dataset's own by default), with the start mark before
    each answer, as the models train on them."""
    qw = dataset.question_width if question_width is None else question_width
    aw = dataset.answer_width if answer_width is None else answer_width
    xs = vocab.encode(dataset.questions, qw)
    ts = vocab.encode([START + a for a in dataset.answers], aw + 1)
    q_len = np.fromiter((len(q) for q in dataset.questions), dtype=np.int32, count=len(dataset))
    a_len = np.fromiter((len(a) for a in dataset.answers), dtype=np.int32, count=len(dataset))
    return Encoded(xs, ts, q_len, a_len)


def split_indices(n: int, seed: int = BOOK_SPLIT_SEED, test_share: float = 0.1):
    """The book's split: shuffle with a seeded legacy generator, the last tenth is the test set."""
    check_whole("seed", seed)  # 1.5 failed in numpy: "Cannot cast scalar from dtype('float64')"
    order = np.random.RandomState(seed).permutation(n)
    cut = n - int(n * test_share + 1e-9)  # n - n // 10 for the book's tenth
    return order[:cut], order[cut:]


def split_dataset(dataset: Dataset, seed: int = BOOK_SPLIT_SEED, test_share: float = 0.1,
                  keep_in_train=()):
    """Split into (train, test). Questions listed in `keep_in_train` are moved out of the test
    part into the training part, so the closed kinds are always learnt, never only tested."""
    if not 0 < test_share < 1:
        raise ValueError(f"test_share must be between 0 and 1, not {test_share}")
    train_idx, test_idx = split_indices(len(dataset), seed, test_share)
    keep = set(keep_in_train)
    if keep:
        moved = [i for i in test_idx if dataset.questions[i] in keep]
        test_idx = np.array([i for i in test_idx if dataset.questions[i] not in keep], dtype=int)
        train_idx = np.concatenate([train_idx, np.array(moved, dtype=int)])
    return subset(dataset, train_idx), subset(dataset, test_idx)


def numeral_kinds(questions, answers) -> list[str | None]:
    """The kind of number of each line, or None where the line is not a numeral and its value
    (the book's addition and date files): kinds only make sense for reading numerals."""
    from kanjinum.numerals import parse_kanji

    kinds: list[str | None] = []
    for question, answer in zip(questions, answers):
        try:
            is_numeral = answer.isdigit() and parse_kanji(question) == int(answer)
        except ValueError:
            is_numeral = False
        kinds.append(categorise(int(answer)) if is_numeral else None)
    return kinds


def split_for_training(dataset: Dataset, seed: int = BOOK_SPLIT_SEED):
    """The book's split, except that closed-kind numbers (single digits, d×10^k) always stay in
    the training part: there are too few of them to learn from any that the split would lose."""
    kinds = numeral_kinds(dataset.questions, dataset.answers)
    keep = [q for q, kind in zip(dataset.questions, kinds) if kind in CLOSED_KINDS]
    return split_dataset(dataset, seed, keep_in_train=keep)


def subset(dataset: Dataset, indices) -> Dataset:
    return Dataset([dataset.questions[i] for i in indices], [dataset.answers[i] for i in indices],
                   dataset.question_width, dataset.answer_width, dataset.source)


def count_overlap(train: Dataset, test: Dataset) -> int:
    """How many test questions also occur in the training part."""
    seen = set(train.questions)
    return sum(q in seen for q in test.questions)


def percent(share: float, places: int) -> str:
    """An accuracy as a percentage with `places` decimals, or as many more as it takes that a
    share short of all does not read 100 % (nor one above none 0 %): 49,998 right of the book's
    50,000 dates read `100.00%` in eval's table, under `99.996%` in its first line."""
    text = f"{100 * share:.{places}f}"
    while 0 < share < 1 and float(text) in (0.0, 100.0) and places < 9:
        places += 1
        text = f"{100 * share:.{places}f}"
    return f"{text}%"


# --- kinds of number ------------------------------------------------------------------------


def categorise(n: int) -> str:
    """The kind of a number, for reporting accuracy where random data is thin.

    single: 0-9; round: d×10^k; repeated: one digit written 2+ times (7777); short: < 1000;
    sparse: at most 3 non-zero digits; group: some 万/億/兆 group below the top one is 0 or 1
    (一億千二百三十四, 五兆五千五十五; 一億一 is sparse, tested first); other: everything else.
    Numerals name no negative numbers.
    """
    # a float was told by its text: categorise(1e6), a million, was "sparse" ('1000000.0')
    check_whole("categorise: n", n)
    if n < 0:
        raise ValueError(f"categorise: {n} is negative; numerals name 0 and up")
    digits = str(n)
    if n < 10:
        return "single"
    if digits.rstrip("0") in "123456789" and len(digits.rstrip("0")) == 1:
        return "round"
    if len(set(digits)) == 1:
        return "repeated"
    if n < 1000:
        return "short"
    if len(digits) - digits.count("0") <= 3:
        return "sparse"
    if n >= 10_000 and any(group in (0, 1) for group in _lower_groups(n)):
        return "group"
    return "other"


def _lower_groups(n: int) -> list[int]:
    groups = []
    while n >= 10_000:
        groups.append(n % 10_000)
        n //= 10_000
    return groups


def closed_numbers(max_digits: int) -> list[int]:
    """Every single digit and every d×10^k below 10**max_digits."""
    return [d * 10**k for k in range(max_digits) for d in range(1, 10)]


def draw_hard_number(kind: str, rng: np.random.Generator, max_digits: int) -> int:
    """One number of the given kind, below 10**max_digits."""
    if kind == "single":
        return int(rng.integers(1, 10))
    if kind == "round":
        return int(rng.integers(1, 10)) * 10 ** int(rng.integers(0, max_digits))
    if kind == "repeated":
        if max_digits < 2:
            return int(rng.integers(1, 10))
        return int(str(rng.integers(1, 10)) * int(rng.integers(2, max_digits + 1)))
    if kind == "short":
        return int(rng.integers(1, min(1000, 10**max_digits)))
    if kind == "sparse":
        length = int(rng.integers(1, max_digits + 1))
        n = int(rng.integers(1, 10)) * 10 ** (length - 1)
        # Up to two more digits below the leading one (never on it: 9 + 9 would carry).
        if length > 1:
            positions, digits = rng.integers(0, length - 1, size=2), rng.integers(0, 10, size=2)
            for pos in set(positions.tolist()):
                n += int(digits[0 if pos == positions[0] else 1]) * 10**pos
        return n
    if kind == "group":
        # Groups that leave gaps a reader must count across: empty (三兆九千億), just 一
        # (一億一), a bare 千 at the head (二兆千万), or a lone 一/十/百/千.
        n = _draw_uniform_number(rng, max_digits)
        groups = _lower_groups(n)
        for i in range(len(groups)):
            if rng.random() < 0.5:
                choice = int(rng.integers(4))
                group = (0, 1, 1000 + int(rng.integers(1000)), 10 ** int(rng.integers(4)))[choice]
                n += (group - groups[i]) * 10_000**i
        return n
    raise ValueError(f"unknown kind {kind!r}; kinds: {', '.join(HARD_KINDS)}")


def _draw_uniform_number(rng: np.random.Generator, max_digits: int) -> int:
    """The seed's distribution: an upper digit count d in 5..max, then 1..10**d - 1."""
    d = int(rng.integers(min(5, max_digits), max_digits + 1))
    return _draw_below(rng, 10**d)


def _draw_below(rng: np.random.Generator, limit: int) -> int:
    # numpy's integers stop at 2**63; larger limits are drawn in base-10**18 pieces.
    if limit <= 2**62:
        return int(rng.integers(1, limit))
    while True:
        n, scale = 0, 1
        while scale < limit:
            n += int(rng.integers(0, 10**18)) * scale
            scale *= 10**18
        n %= limit
        if n:
            return n


def _draw_uniform_batch(rng: np.random.Generator, max_digits: int, size: int) -> list[int]:
    if max_digits > 18:
        return [_draw_uniform_number(rng, max_digits) for _ in range(size)]
    d = rng.integers(min(5, max_digits), max_digits + 1, size=size)
    return rng.integers(1, np.power(10, d, dtype=np.int64)).tolist()


# --- generation -----------------------------------------------------------------------------


def check_whole(name: str, value) -> None:
    """A TypeError for a count or seed that is not a whole number: size=1e4, a notebook's
    natural way to write 10,000, failed in numpy ("expected a sequence of integers or a single
    integer, got '20016.0'"), and hard_dataset(per_kind=2.5) drew 3 of each kind."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        hint = f" (write {int(value):_})" if isinstance(value, float) and value.is_integer() else ""
        raise TypeError(f"{name} must be a whole number, not {value!r}{hint}")


def check_seed(seed: int) -> int:
    """A data seed as given; one outside 0..MAX_SEED is a usage mistake."""
    check_whole("seed", seed)
    if not 0 <= seed <= MAX_SEED:
        raise DataError(f"--seed must be in 0..{MAX_SEED}, not {seed}")
    return seed


def seeded_rng(seed: int) -> np.random.Generator:
    """The generator a data set is drawn from."""
    return np.random.default_rng(check_seed(seed))


def kanji_widths(max_digits: int, style: str) -> tuple[int, int]:
    """Column widths that fit every number below 10**max_digits, whatever the sample."""
    return len(to_kanji(10**max_digits - 1, style)), max_digits


def generate_kanji(size: int = 50_000, max_digits: int = 13, style: str = "kanji",
                   seed: int = 0, hard_share: float = 0.0, include_closed: bool = False) -> Dataset:
    """Unique numbers drawn as the seed drew them, a share replaced by hard cases.

    With include_closed, every single digit and d×10^k in range is in the file (they count
    towards the hard share), so a model trained on it has seen all of them; a size smaller than
    their count is the first `size` of them and nothing else. The defaults draw
    as the seed did; `kanjinum gen-data` (data/kanji.txt) asks for
    hard_share=DEFAULT_HARD_SHARE and include_closed=True.
    """
    check_generation_options(size, max_digits, hard_share)
    rng = seeded_rng(seed)
    chosen: dict[int, None] = {}
    if include_closed:
        for n in closed_numbers(max_digits)[:size]:
            chosen[n] = None
    hard_target = max(int(round(size * hard_share)), len(chosen))
    _add_hard_numbers(chosen, rng, max_digits, hard_target)
    while len(chosen) < size:
        for n in _draw_uniform_batch(rng, max_digits, 2 * (size - len(chosen)) + 16):
            chosen.setdefault(n, None)
            if len(chosen) == size:
                break
    numbers = list(chosen)
    rng.shuffle(numbers)
    question_width, answer_width = kanji_widths(max_digits, style)
    return Dataset([to_kanji(n, style) for n in numbers], [str(n) for n in numbers],
                   question_width, answer_width)


def _add_hard_numbers(chosen: dict, rng, max_digits: int, target: int) -> None:
    """Add hard numbers of kinds taken in turn until `target` numbers are chosen. Small kinds
    (nine single digits, 117 round numbers) run out: a kind that keeps drawing numbers already
    chosen leaves the rotation."""
    kinds = list(HARD_KINDS)
    misses = dict.fromkeys(kinds, 0)
    while len(chosen) < target and kinds:
        kind = kinds[int(rng.integers(len(kinds)))]
        before = len(chosen)
        chosen.setdefault(draw_hard_number(kind, rng, max_digits), None)
        if len(chosen) > before:
            misses[kind] = 0
        else:
            misses[kind] += 1
            if misses[kind] == 30:
                kinds.remove(kind)


def check_generation_options(size: int, max_digits: int, hard_share: float) -> None:
    """The options of `generate_kanji`, checked before any file is looked at."""
    check_whole("size", size)
    if size < 1:
        raise DataError(f"--size must be at least 1, not {size}")
    _check_max_digits(max_digits)
    capacity = 10**max_digits - 1
    if size > min(capacity, MAX_SIZE):
        # Checked before drawing: 13 digits allow 10**13 numbers, far more than can be written.
        digits = "1 digit" if max_digits == 1 else f"{max_digits} digits"
        reason = (f"only {capacity:,} distinct numbers have at most {digits}"
                  if capacity < MAX_SIZE else f"gen-data writes at most {MAX_SIZE:,} lines")
        raise DataError(f"{reason}; ask for --size {min(capacity, MAX_SIZE)} or fewer")
    if not isinstance(hard_share, (int, float, np.number)) or isinstance(hard_share, bool):
        # hard_share="0.3" failed in a comparison: "'<=' not supported between …"
        raise TypeError(f"hard_share must be a number between 0 and 1, not {hard_share!r}")
    if not 0.0 <= hard_share <= 1.0:
        raise DataError(f"--hard-share must be between 0 and 1, not {hard_share}"
                        + percentage_as_share(hard_share))


def check_hard_options(per_kind: int, max_digits: int) -> None:
    """The options of `hard_dataset`, checked before any file is looked at (gen-data's
    --exclude, which may be large)."""
    check_whole("per_kind", per_kind)
    if not 1 <= per_kind <= MAX_PER_KIND:
        # Each kind draws up to 200 × per_kind numbers, and small kinds always use them all.
        raise DataError(f"--per-kind must be between 1 and {MAX_PER_KIND:,}, not {per_kind:,}")
    _check_max_digits(max_digits)


def _check_max_digits(max_digits: int) -> None:
    check_whole("max_digits", max_digits)
    if not 1 <= max_digits <= 20:  # 0 failed in numpy ("low >= high"), 30 in to_kanji
        raise DataError(f"--max-digits must be between 1 and 20, not {max_digits}")


def generate_addition(size: int = 50_000, seed: int = 0, max_operand: int = 999) -> Dataset:
    """The book's chapter-7 task: `16+75` → `91`, operands 0..max_operand, unique questions."""
    check_addition_options(size, max_operand)
    rng = seeded_rng(seed)
    chosen: dict[tuple[int, int], None] = {}
    while len(chosen) < size:
        pairs = rng.integers(0, max_operand + 1, size=(2 * (size - len(chosen)) + 16, 2))
        for a, b in pairs.tolist():
            chosen.setdefault((a, b), None)
            if len(chosen) == size:
                break
    digits = len(str(max_operand))
    return Dataset([f"{a}+{b}" for a, b in chosen], [str(a + b) for a, b in chosen],
                   2 * digits + 1, len(str(2 * max_operand)))


def check_addition_options(size: int, max_operand: int = 999) -> None:
    """The options of `generate_addition`, checked before any file is looked at (a bad --size
    was named only after 'data/addition.txt exists; pass --force', and then with --force)."""
    check_whole("size", size)
    check_whole("max_operand", max_operand)
    if max_operand < 1:
        raise DataError(f"max_operand must be at least 1, not {max_operand}")
    largest = min((max_operand + 1) ** 2, MAX_SIZE)  # distinct pairs, and what gen-data writes
    if not 1 <= size <= largest:
        raise DataError(f"--size must be between 1 and {largest:,} for the addition task")


def hard_dataset(max_digits: int = 13, style: str = "kanji", seed: int = 1,
                 per_kind: int = DEFAULT_PER_KIND, exclude=()) -> Dataset:
    """A test set of hard numbers: every closed-kind number, plus per_kind numbers of each open
    kind drawn apart from the numbers the `exclude` questions name, in whatever style (the
    training file's questions, or its Dataset)."""
    if isinstance(exclude, Dataset):
        exclude = exclude.questions
    elif isinstance(exclude, (str, os.PathLike)):
        raise TypeError("exclude takes questions, e.g. read_dataset(path).questions, not a path")
    check_hard_options(per_kind, max_digits)
    rng = seeded_rng(seed)
    excluded = _numbers_named(exclude)
    chosen: dict[int, None] = dict.fromkeys(closed_numbers(max_digits))
    chosen.update(dict.fromkeys(n for n in SEED_FAILURES if n < 10**max_digits))
    # the kinds after the last one in range are not drawn (KIND_MIN_DIGITS says why)
    last = max((i for i, kind in enumerate(OPEN_KINDS) if KIND_MIN_DIGITS[kind] <= max_digits),
               default=-1)
    for kind in OPEN_KINDS[:last + 1]:
        got, tries = 0, 0
        while got < per_kind and tries < 200 * per_kind:
            tries += 1
            n = (_draw_uniform_number(rng, max_digits) if kind == "other"
                 else draw_hard_number(kind, rng, max_digits))
            if categorise(n) != kind or n in chosen or n in excluded:
                continue
            chosen[n] = None
            got += 1
    question_width, answer_width = kanji_widths(max_digits, style)
    return Dataset([to_kanji(n, style) for n in chosen], [str(n) for n in chosen],
                   question_width, answer_width)


def kinds_short_of(dataset: Dataset, per_kind: int) -> dict[str, int]:
    """The open kinds of a hard set (`hard_dataset`) holding fewer than per_kind numbers, with
    what each holds. A kind runs short where the range has no more of it apart from the excluded
    numbers: below 10^13 there are 108 repeated-digit numbers, and data/kanji.txt holds 103."""
    counts = kind_counts(dataset.answers)
    return {kind: counts[kind] for kind in OPEN_KINDS if counts[kind] < per_kind}


def _numbers_named(questions) -> set[int]:
    """The numbers the questions name, in whatever style they are written: a hard set of
    daiji numerals must avoid a kanji training file's numbers too (compared as text, it
    avoided none of them)."""
    from kanjinum.numerals import parse_kanji

    numbers = set()
    for question in questions:
        if not isinstance(question, str):  # exclude=[1, 2] was refused in parse_kanji's name
            raise TypeError(f"exclude takes questions as strings (numerals), not "
                            f"{question!r}; for numbers, pass [to_kanji(n) for n in numbers]")
        try:
            numbers.add(parse_kanji(question))
        except ValueError:
            pass  # not a numeral: it names no number to avoid
    return numbers


def kind_counts(answers) -> Counter:
    return Counter(categorise(int(a)) for a in answers if a.isdigit())
