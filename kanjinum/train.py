"""Training, evaluation and run folders.

A run folder holds everything a user keeps from one experiment:

    runs/NAME/config.json    what rebuilds the model: kinds, sizes, vocabulary, flags, data hash
    runs/NAME/model.npz      the weights of the best test accuracy so far
    runs/NAME/history.json   per epoch: loss, accuracy, seconds, lr (of its last step)
    runs/NAME/curve.png      loss and accuracy per epoch
    runs/NAME/state.npz      where training stopped (weights, Adam, generator), for --resume

All are plain data written atomically; nothing is ever unpickled.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import signal
import time
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from functools import cached_property
from pathlib import Path

import numpy as np

from kanjinum import data as D
from kanjinum.errors import (KanjinumError, OptionError, RunError, VocabError, counted,
                             percentage_as_share, shell_word, shortened, stray_space)
from kanjinum.fileio import (atomic_save_npz, atomic_write_json, broken_link_on_the_way,
                             file_where_a_folder_should_be, home_expanded, user_path)
from kanjinum.models import MODEL_KINDS, ModelConfig, Seq2seq, build_model
from kanjinum.numerals import NUMERAL_CHARS, parse_kanji
from kanjinum.optim import Adam, clip_grads

FORMAT_VERSION = 1
MAX_OVERSAMPLE = 0.9  # --oversample's largest share: an epoch of 10 times the training data
DEFAULT_THREADS = 1  # BLAS threads for training and decoding, as the CLI's --threads default
SCHEDULES = ("constant", "cosine")
WARMUP_SHARE = 0.02  # of all iterations, for the cosine schedule
DECODE_BATCH = 1000
MISMATCHED = "mismatched"  # by_kind's row of lines whose answer is not the numeral's value


MAX_LAYER_SIZE = 4096  # wordvec, hidden: at 4096 weights, gradients and Adam take about 2 GB
MAX_EPOCHS = 10_000  # a day and more at the default sizes; the cosine warm-up is 2 % of them
MAX_SEED = 2**32 - 1  # numpy's legacy RandomState (the book's split) takes no larger seed


class TrainingStopped(KanjinumError):
    """Training ended early: a non-finite loss; the last good checkpoint is kept."""


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a training run, as `kanjinum train`'s options name them (`--lr-decay`
    is lr_decay); `check()` refuses values out of range. Saved in a run's config.json."""

    data: str = "data/kanji.txt"
    model: str = "attention"
    # The defaults are the recipe chosen by experiment (docs/results.md): on the default data
    # it reaches 100% of the test split and of data/hard.txt in under 3 minutes on 2 cores.
    # The seed's settings were hidden 256, batch 128, lr 0.001 constant, 10 epochs, no mask.
    wordvec: int = 16
    hidden: int = 64
    batch: int = 64
    epochs: int = 20
    lr: float = 0.005
    lr_decay: float = 1.0          # the learning rate is multiplied by this after each epoch
    schedule: str = "cosine"       # or "constant": the book's fixed learning rate
    clip: float = 5.0
    reverse: bool = True
    mask: bool = True
    bucket: bool = True            # group batches by question length; needs mask
    oversample: float = 0.05       # extra share of each epoch drawn from the rare kinds, evenly
    seed: int = 0
    split_seed: int = D.BOOK_SPLIT_SEED
    target_acc: float | None = None

    def __post_init__(self):
        # numpy's numbers as Python's: a notebook's sweep over np.arange(8, 65, 8) or
        # np.float32 rates was refused ("hidden must be of type int, not np.int64(8)", "lr
        # must be a number, not np.float32(0.01)"), and json cannot write them to config.json
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.generic):
                object.__setattr__(self, f.name, value.item())

    def check(self) -> None:
        """OptionError for the first setting out of its range or of the wrong type."""
        for f in fields(self):
            _check_setting_type(f.name, getattr(self, f.name), f.default)
        if self.model not in MODEL_KINDS:
            raise OptionError(f"--model must be one of {', '.join(MODEL_KINDS)}, not {self.model!r}")
        for name in ("wordvec", "hidden", "batch", "epochs"):
            if getattr(self, name) < 1:
                raise OptionError(f"--{name} must be at least 1, not {getattr(self, name)}")
        if self.epochs > MAX_EPOCHS:
            raise OptionError(f"--epochs must be at most {MAX_EPOCHS:,}, not {self.epochs:,}")
        for name in ("wordvec", "hidden"):
            if getattr(self, name) > MAX_LAYER_SIZE:
                raise OptionError(f"--{name} must be at most {MAX_LAYER_SIZE}, "
                                  f"not {getattr(self, name)}")
        if self.model == "bi-attention" and self.hidden % 2:
            # its two encoder directions take half of the hidden size each; the model refused
            # it with a bare ValueError, a traceback in the CLI
            raise OptionError(f"--hidden must be even for --model bi-attention (each direction "
                              f"of its encoder takes half), not {self.hidden}")
        if not 0 < self.lr < math.inf:
            raise OptionError(f"--lr must be a positive number, not {self.lr}")
        if not 0 <= self.clip < math.inf:
            raise OptionError(f"--clip must be 0 (no clipping) or a positive number, "
                              f"not {self.clip}")
        for name in ("seed", "split_seed"):
            if not 0 <= getattr(self, name) <= MAX_SEED:
                raise OptionError(f"--{name.replace('_', '-')} must be in 0..{MAX_SEED}, "
                                  f"not {getattr(self, name)}")
        if self.schedule not in SCHEDULES:
            raise OptionError(f"--schedule must be one of {', '.join(SCHEDULES)}, "
                              f"not {self.schedule!r}")
        if not 0 < self.lr_decay <= 1:  # in the words of --help
            raise OptionError(f"--lr-decay must be above 0 and at most 1, not {self.lr_decay}"
                              + percentage_as_share(self.lr_decay))
        if not 0 <= self.oversample <= MAX_OVERSAMPLE:
            # a share s makes an epoch 1 / (1 - s) times the data: 0.999999 asked for a million
            # times, and failed out of memory after the run folder was made
            raise OptionError(f"--oversample must be in [0, {MAX_OVERSAMPLE}] (0.5 doubles an "
                              f"epoch, {MAX_OVERSAMPLE} makes it {1 / (1 - MAX_OVERSAMPLE):.0f} "
                              f"times the data), not {self.oversample}"
                              + percentage_as_share(self.oversample, MAX_OVERSAMPLE))
        if self.target_acc is not None and not 0 < self.target_acc <= 1:
            raise OptionError(f"--target-acc must be above 0 and at most 1, not "
                              f"{self.target_acc}" + percentage_as_share(self.target_acc))


# --- a trained model and what it needs to read questions ------------------------------------


_threadpools = None


def check_threads(threads) -> None:
    """An OptionError unless threads is a whole number from 1 to the cores this process may
    use; the message starts with "threads", so the CLI makes it "--threads ..."."""
    if not isinstance(threads, (int, np.integer)) or isinstance(threads, bool) or threads < 1:
        raise OptionError(f"threads must be a whole number of at least 1, not {threads!r}")
    cores = available_cores()
    if threads > cores:
        raise OptionError(f"threads {threads}: this machine lets kanjinum use {cores} "
                          f"core{'' if cores == 1 else 's'}; more threads than cores only wait "
                          "for each other")


def available_cores() -> int:
    """The cores this process may run on (its affinity, where the system says)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        return os.cpu_count() or 1


@contextmanager
def blas_threads(threads: int):
    """The BLAS's thread count for the products run inside, restored after.

    One thread by default everywhere, the library as the CLI: a second thread pays on an idle
    machine, and with another process on the other core it makes training 2x slower and more
    (docs/performance.md). Setting it costs about 15 microseconds, so decoding one question
    can do it too."""
    global _threadpools
    check_threads(threads)
    if _threadpools is None:
        from threadpoolctl import ThreadpoolController

        _threadpools = ThreadpoolController()
    with _threadpools.limit(limits=int(threads), user_api="blas"):
        yield


@dataclass
class Run:
    """A model with its vocabulary and input conventions: everything needed to answer.

    `threads`: the BLAS threads `predict` uses (the CLI sets it from --threads)."""

    model: Seq2seq
    vocab: D.Vocab
    question_width: int
    answer_width: int
    reverse: bool
    mask: bool
    train: TrainConfig = field(default_factory=TrainConfig)
    path: Path | None = None
    data_sha256: str = ""          # of the data file it was trained on, to recognise it again
    # The characters of its training questions, the ones it can read: the vocabulary also
    # holds the answers' (digits, for numerals), the padding and the start mark. Empty for
    # runs saved before it was recorded: then the vocabulary but padding and start.
    question_chars: str = ""
    # Set by `fit` when SIGINT or SIGTERM stopped the training before its end ("SIGINT")
    stopped_by: str = ""
    # Set by `fit` when a --force run stopped before its first model put the run it was
    # replacing back in `path`: the files there are that run's, not this one's
    put_back: bool = False
    threads: int = DEFAULT_THREADS

    @property
    def readable_chars(self) -> str:
        if self.question_chars:
            return self.question_chars
        return D.in_natural_order(ch for ch in self.vocab.chars if ch not in (D.PAD, D.START))

    @cached_property
    def _readable(self) -> frozenset:
        return frozenset(self.readable_chars)

    @cached_property
    def data_file_answers(self) -> dict[str, str]:
        """Each question of the run's data file, where it is as recorded, and its answer: the
        one truth there is for a task no rule reads (the book's dates); empty where the file
        is gone or changed. Read once: `attend --interactive` read 50,000 lines a question."""
        try:
            dataset, _ = training_data(self)
        except KanjinumError:
            return {}
        return dict(zip(dataset.questions, dataset.answers))

    @property
    def kind(self) -> str:
        return self.model.kind

    @property
    def reads_numerals(self) -> bool:
        """A model of kanji numerals, not of the book's dates or additions, nor of a task of
        plain digits: parse_kanji reads 12345 too, but a model that has never seen a kanji
        is not one of numerals, and the parser's reading is no truth for its answers."""
        chars = set(self.readable_chars)
        return chars <= NUMERAL_CHARS and not all(ch.isdigit() for ch in chars)

    @property
    def reads_additions(self) -> bool:
        """A model of the book's chapter-7 task, `16+75` → `91`: its questions are digits and
        one +, so the truth of an answer is a sum to do."""
        chars = set(self.readable_chars)
        return "+" in chars and chars <= set("0123456789+ ")

    @property
    def history(self) -> list[dict]:
        """Its training's epochs (loss, accuracy, seconds, lr) from the folder's history.json, as
        `plot.learning_curve` takes them; [] for a run with no folder or no epoch yet."""
        if self.path is None:
            return []
        if not self.path.is_dir():
            # a run folder moved or deleted since, or a relative one after os.chdir: [] led to
            # learning_curve's "the history is empty", as if the run had trained no epoch
            where = "" if self.path.is_absolute() else f" (from {Path.cwd()})"
            raise RunError(f"run folder {self.path} is not there any more{where}, so neither "
                           "is its history.json")
        return read_history(self.path)

    def __repr__(self) -> str:  # a notebook cell: a line, not the vocabulary and every setting
        c = self.model.config
        return (f"Run({self.kind}, wordvec={c.wordvec}, hidden={c.hidden}, "
                f"mask={self.mask}, reverse={self.reverse}, questions of at most "
                f"{self.question_width} characters, answers of at most {self.answer_width}, "
                f"path={None if self.path is None else str(self.path)!r})")

    def inputs(self, xs, question_lengths):
        """Model inputs from encoded questions: reversed if asked, masked and trimmed if asked.

        Trimming drops the columns that are padding in every row; with the mask this changes
        nothing in the result (masked steps leave the LSTM state alone) but saves their work.
        """
        src_mask = None
        if self.mask:
            longest = max(int(question_lengths.max()), 1)  # an empty question: one masked step
            xs = xs[:, :longest]
            src_mask = np.arange(longest)[None, :] < question_lengths[:, None]
            if src_mask.all():
                src_mask = None
        if self.reverse:
            xs = xs[:, ::-1]
            src_mask = None if src_mask is None else src_mask[:, ::-1]
        return np.ascontiguousarray(xs), src_mask

    def predict(self, questions: list[str], batch: int = DECODE_BATCH, attention: bool = True):
        """Answers (strings) and attention weights for questions the vocabulary can encode.

        Weights are (Td, Te) per question in reading order, or None for models without
        attention (and with attention=False, when only answers are wanted). The padding's
        columns are left out; a model without a mask attends to them too, and for it one last
        column holds their total, so that every row still sums to 1.

        Each question is read as given: a VocabError names one with a character the model
        was not trained to read (surrounding spaces included) or too long for it.
        """
        if isinstance(questions, str):
            raise TypeError("predict takes a list of questions; for one, pass [question]")
        if isinstance(questions, (D.Dataset, os.PathLike)):  # "… object is not iterable"
            raise TypeError(f"predict takes a list of questions, not a "
                            f"{type(questions).__name__}: pass read_dataset(path).questions, "
                            "or score a data set with evaluate(run, dataset or path)")
        questions = list(questions)  # a generator is read once here (len() refused it)
        odd = [q for q in questions if not isinstance(q, str)]
        if odd:  # [1] failed deep inside: 'int' object is not iterable
            raise TypeError(f"predict takes a list of questions as strings, not "
                            f"{type(odd[0]).__name__} ({odd[0]!r})")
        if not isinstance(batch, (int, np.integer)) or isinstance(batch, bool):
            raise TypeError(f"batch must be a whole number, not {batch!r}")  # 1.5: in range()
        if batch < 1:
            raise ValueError(f"batch must be at least 1, not {batch}")
        for question in questions:
            if not (self._readable.issuperset(question)
                    and len(question) <= self.question_width):
                raise VocabError(f"{shortened(question)!r}: {self.why_unreadable(question)}")
        xs = self.vocab.encode(questions, self.question_width)
        lengths = np.fromiter((len(q) for q in questions), dtype=np.int32, count=len(questions))
        # Similar lengths side by side: with a mask, trimming the padding pays off in every
        # batch; without one, questions with as much padding share more encoder states
        # (`LSTM.infer`: 8 % fewer encoder steps on the kanji test split).
        order = np.argsort(-lengths, kind="stable")
        with blas_threads(self.threads):
            return self._predict_sorted(questions, xs, lengths, order, batch, attention)

    def _predict_sorted(self, questions, xs, lengths, order, batch, attention):
        answers: list[str] = [""] * len(questions)
        weights: list = [None] * len(questions)
        for start in range(0, len(questions), batch):
            rows = order[start:start + batch]
            batch_xs, src_mask = self.inputs(xs[rows], lengths[rows])
            ids, attn = self.model.generate(
                batch_xs, self.vocab.start_id, self.answer_width, src_mask,
                end_id=self.vocab.pad_id if self.mask else None, attention_weights=attention)
            texts = self.vocab.decode_rows(ids)
            for k, row in enumerate(rows):
                answers[row] = texts[k]
                if attn is not None and attention:
                    weights[row] = self._reading_order(attn[k], lengths[row], len(texts[k]))
        return answers, weights

    def _reading_order(self, attn, length: int, answer_length: int):
        # Reading order puts the real characters first, trimmed batch or full width alike.
        attn = attn[: max(answer_length, 1)]
        if self.reverse:
            attn = attn[:, ::-1]
        if self.mask:
            return attn[:, :length]
        return np.concatenate((attn[:, :length], attn[:, length:].sum(axis=1, keepdims=True)),
                              axis=1)

    def why_unreadable(self, question: str) -> str | None:
        """Why the model cannot read a question (an unknown character, too long), or None."""
        unknown = sorted({ch for ch in question if ch not in self._readable})
        if unknown:
            these = "is not a character" if len(unknown) == 1 else "are not characters"
            # code points: a look-alike (ニ katakana for 二) is otherwise invisible in the message
            named = ", ".join(f"{ch!r} (U+{ord(ch):04X})" for ch in unknown[:10])
            more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
            return f"{named}{more} {these} this model reads{self._too_large_a_unit(unknown)}"
        if len(question) > self.question_width:
            return (f"{len(question)} characters; this model reads at most "
                    f"{self.question_width}")
        return None

    def _too_large_a_unit(self, unknown: list[str]) -> str:
        """Why a model of numerals lacks 億 or 兆: its data's numbers were smaller (a student's
        `gen-data --max-digits 8` made a model that refused 一億一 for a character it could
        not read, with no word of why)."""
        digits = {"十": 2, "百": 3, "千": 4, "万": 5, "億": 9, "兆": 13, "京": 17}
        most = self._most_digits()
        needed = max(digits.get(ch, 0) for ch in unknown)
        if not self.reads_numerals or needed <= most:
            return ""
        digits_word = "digit" if most == 1 else "digits"
        # 13, the default data's, unless the unit needs more: 京 was told 13 by a model of 13
        return (f" (it was trained on numbers of at most {most} {digits_word}; train "
                f"on data of larger ones, e.g. gen-data --max-digits {max(13, needed)}, to read "
                "them)")

    def _most_digits(self) -> int:
        """The most digits the numbers it was trained on can have had: the answer width, or
        fewer where its questions held no unit for that many. A file padded wider than its
        numbers (answers 13 wide, none of 5 digits) had the width taken for their digits, and
        一万 was refused without a word of why."""
        # the largest unit read bounds the numbers: 万 but no 億 is below 10^8
        for units, most in (("京", 20), ("兆", 16), ("億", 12), ("万萬", 8), ("十拾百佰千阡仟", 4)):
            if self._readable & set(units):
                return min(self.answer_width, most)
        return self.answer_width  # digits alone (positional numerals): no unit to tell by

    def config_dict(self, data_path: str = "") -> dict:
        return {
            "format_version": FORMAT_VERSION,
            "model": asdict(self.model.config),
            "vocab": list(self.vocab.chars),
            "question_width": self.question_width,
            "answer_width": self.answer_width,
            "reverse": self.reverse,
            "mask": self.mask,
            "train": asdict(self.train),
            "data": {"path": data_path, "sha256": self.data_sha256},
            "question_chars": self.question_chars,
            "split_seed": self.train.split_seed,
        }


def file_sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def training_data(run: Run) -> tuple[D.Dataset, str]:
    """The data set a run was trained on, and where it came from, to evaluate on its test split.

    The file as recorded (runs made before paths were recorded absolute: relative to the
    current folder or to this checkout); else, when its sha256 is that of plain
    `kanjinum gen-data` (the shipped model's data), the same lines made again in memory.
    """
    recorded = Path(run.train.data)
    places = [recorded]
    if not recorded.is_absolute():
        places.append(Path(__file__).resolve().parent.parent / recorded)
    changed = None
    for place in places:
        if place.is_file():
            if not run.data_sha256 or file_sha256(place) == run.data_sha256:
                return D.read_dataset(place), str(place)
            same = _same_lines_in_other_bytes(run, place)
            if same is not None:
                return same, str(place)
            changed = changed or place
    if run.data_sha256:
        # e.g. the shipped model's data/kanji.txt, gone or remade smaller for a quick run
        remade = D.generate_kanji(include_closed=True, hard_share=D.DEFAULT_HARD_SHARE)
        if _lines_sha256(remade) == run.data_sha256:
            why = "has changed" if changed else "is not here"
            return remade, f"{recorded} ({why}: made again by plain kanjinum gen-data)"
    if changed:
        # said for --split all too, which asks for its lines, not its test split
        raise RunError(f"{changed} changed since {run.path} was trained on it, so neither its "
                       f"lines nor its test split are the run's; score it as it is now with "
                       f"--data {changed}, or a copy of it as it was with --data COPY "
                       "--split test")
    example = " (e.g. --data data/hard.txt)" if run.reads_numerals else ""
    raise RunError(f"the data file of {run.path}, {recorded}, is not here; if it moved, name "
                   f"it with --data NEW --split test, or score another file with --data{example}")


def holds_training_lines(run: Run, dataset: D.Dataset) -> bool:
    """Whether a data set read from a file holds exactly the lines the run was trained on (a
    moved or copied data file), by the sha256 that config.json records: of the bytes read,
    or of the same lines as gen-data writes them. A copy whose line ends became CRLF (git's
    autocrlf on Windows) or that gained a byte-order mark holds the run's lines, which every
    command reads alike, and so its test split: its bytes alone differ."""
    if not run.data_sha256:
        return False
    return run.data_sha256 in (dataset.sha256, _lines_sha256(dataset))


def trained_questions_among(run: Run, dataset: D.Dataset) -> int:
    """How many of the data set's questions the run was trained on, where its data file is
    where config.json says and holds its lines; 0 where it is not (nothing to tell them by,
    and the shipped model's 50,000 lines are not made again in memory for a note)."""
    place = Path(run.train.data)
    if not place.is_file():
        return 0
    try:
        trained = D.read_dataset(place)
    except D.DataError:
        return 0
    if not holds_training_lines(run, trained):
        return 0
    return D.count_overlap(D.split_for_training(trained, run.train.split_seed)[0], dataset)


def _lines_sha256(dataset: D.Dataset) -> str:
    """The sha256 of the data set's lines as gen-data writes them: UTF-8, each ending in \\n."""
    return hashlib.sha256(("\n".join(dataset.lines()) + "\n").encode("utf-8")).hexdigest()


def _same_lines_in_other_bytes(run: Run, path: Path) -> D.Dataset | None:
    """The run's data file, read, where its bytes changed but not its lines (CRLF line ends);
    None where its lines changed too, or it is no longer a data file."""
    try:
        dataset = D.read_dataset(path)
    except D.DataError:
        return None
    return dataset if holds_training_lines(run, dataset) else None


def test_split_of(run: Run, path) -> D.Dataset:
    """The run's test split, read from a copy of its data file elsewhere (a run folder taken
    to another machine, its data beside it): RunError if the file holds other lines, whose
    split would not be the one the run held out."""
    dataset = D.read_dataset(path)
    if not holds_training_lines(run, dataset):
        raise RunError(f"{path} is not the file {run.path} was trained on (its lines differ), "
                       "so it has no test split of the run's; score every line of it without "
                       "--split test")
    return D.split_for_training(dataset, run.train.split_seed)[1]


# --- evaluation -----------------------------------------------------------------------------


@dataclass
class Evaluation:
    """What `evaluate` found: each question's prediction (None where the run cannot read it,
    with the reason in `problems`), the exact-match accuracy, and tables by length and kind."""

    questions: list[str]
    answers: list[str]
    predictions: list[str | None]     # None: the question could not be encoded
    problems: dict[int, str]          # row → why it could not be encoded
    answer_width: int = 0             # the longest answer the run writes; 0: not known

    def __repr__(self) -> str:  # a notebook cell: the figures, not every question
        return (f"Evaluation({len(self.answers):,} questions, accuracy {D.percent(self.accuracy, 2)}, "
                f"{int(self.correct.sum()):,} right, {len(self.problems):,} unreadable)")

    @cached_property  # eval --errors asks for it once per row
    def correct(self) -> np.ndarray:
        return np.array([p == a for p, a in zip(self.predictions, self.answers)], dtype=bool)

    @property
    def accuracy(self) -> float:
        return float(self.correct.mean()) if self.answers else 0.0

    @property
    def too_long(self) -> int:
        """Readable questions whose answers are longer than the run can write: wrong before
        the model is asked (data of more digits than it was trained on)."""
        if not self.answer_width:
            return 0
        return sum(1 for i, a in enumerate(self.answers)
                   if len(a) > self.answer_width and i not in self.problems)

    def by_group(self, keys) -> dict[str, dict]:
        groups: dict[str, list[bool]] = {}
        for key, ok in zip(keys, self.correct):
            groups.setdefault(key, []).append(bool(ok))
        return {k: {"correct": sum(v), "total": len(v), "accuracy": sum(v) / len(v)}
                for k, v in sorted(groups.items(), key=lambda kv: _sort_key(kv[0]))}

    def by_length(self) -> dict[str, dict]:
        return self.by_group([str(len(a)) for a in self.answers])

    @cached_property
    def kinds(self) -> list[str] | None:
        """Each line's kind of number, MISMATCHED where its answer is not its question's value
        (a typo in a file of the user's: one such line hid the whole table by kind); None for
        data of no kanji numerals (the book's additions and dates, a task of plain digits,
        whose 121 → 121 would read as a numeral and its value)."""
        kinds = D.numeral_kinds(self.questions, self.answers)
        if not any(_written_in_kanji(q) for q, kind in zip(self.questions, kinds)
                   if kind is not None):
            # a file whose every line is mismatched is still one of numerals
            if not any(_written_in_kanji(q) and _reads_as_numeral(q) for q in self.questions):
                return None
        return [MISMATCHED if kind is None else kind for kind in kinds]

    def by_kind(self) -> dict[str, dict] | None:
        """Accuracy per kind of number (`kinds`); None for data of no kanji numerals."""
        if self.kinds is None:
            return None
        table = self.by_group(self.kinds)
        return {k: table[k] for k in (*D.KINDS, MISMATCHED) if k in table}

    def summary(self) -> dict:
        result = {
            "accuracy": self.accuracy,
            "correct": int(self.correct.sum()),
            "total": len(self.answers),
            "unreadable": len(self.problems),
            "too_long": self.too_long,
            "by_length": self.by_length(),
        }
        kinds = self.by_kind()
        if kinds is not None:
            result["by_kind"] = kinds
        return result


def _written_in_kanji(question: str) -> bool:
    return not question.strip().isdigit()


def _reads_as_numeral(question: str) -> bool:
    try:
        parse_kanji(question)
    except ValueError:
        return False
    return True


def _sort_key(key: str):
    return (0, int(key), "") if key.isdigit() else (1, 0, key)


def check_is_run(run, caller: str) -> None:
    """A TypeError naming what the caller takes: a notebook's `evaluate("default", …)` (the
    run's name, as the CLI's --run takes it) failed inside with "'str' object has no attribute
    'why_unreadable'"."""
    if isinstance(run, Run):
        return
    hint = ""
    if isinstance(run, (str, os.PathLike)):
        hint = f": load it first, load_run({str(run)!r})"
    raise TypeError(f"{caller} takes a Run (from load_run or fit), not "
                    f"{type(run).__name__}{hint}")


def evaluate(run: Run, dataset: D.Dataset | str | os.PathLike) -> Evaluation:
    """Exact-match accuracy over a Dataset or a data file; questions the run cannot read count
    as wrong and are listed."""
    check_is_run(run, "evaluate")
    if isinstance(dataset, (str, os.PathLike)):
        dataset = D.read_dataset(dataset)
    if not isinstance(dataset, D.Dataset):
        raise TypeError(f"evaluate takes a Dataset or a data file's path, not "
                        f"{type(dataset).__name__}")
    problems: dict[int, str] = {}
    readable = []
    for i, q in enumerate(dataset.questions):
        why = run.why_unreadable(q)
        if why:
            problems[i] = why
        else:
            readable.append(i)
    predictions: list[str | None] = [None] * len(dataset)
    if readable:
        answers, _ = run.predict([dataset.questions[i] for i in readable], attention=False)
        for i, answer in zip(readable, answers):
            predictions[i] = answer
    return Evaluation(list(dataset.questions), list(dataset.answers), predictions, problems,
                      run.answer_width)


# --- batches --------------------------------------------------------------------------------


def epoch_batches(rng: np.random.Generator, question_lengths, batch: int, bucket: bool,
                  extra_rows=None):
    """The row indices of each batch of one epoch, in the order they are trained.

    With bucket, rows are sorted by question length (ties broken at random) before cutting, so a
    batch holds questions of (nearly) one length and little padding; the batches are then shuffled.
    extra_rows (oversampled rare examples) join the epoch like any other row.
    """
    rows = np.arange(len(question_lengths))
    if extra_rows is not None and len(extra_rows):
        rows = np.concatenate([rows, extra_rows])
    rows = rows[rng.permutation(len(rows))]
    if bucket:
        rows = rows[np.argsort(question_lengths[rows], kind="stable")]
    batches = [rows[i:i + batch] for i in range(0, len(rows), batch)]
    return [batches[i] for i in rng.permutation(len(batches))]


def rows_by_kind(questions, answers) -> list[np.ndarray]:
    """Row indices of each rare kind of number (every kind but "other") that occurs."""
    kinds = D.numeral_kinds(questions, answers)
    groups = [np.array([i for i, k in enumerate(kinds) if k == kind], dtype=np.int64)
              for kind in D.HARD_KINDS]
    return [g for g in groups if len(g)]


def oversampled_rows(rng, groups: list[np.ndarray], total: int, share: float):
    """Extra rows making up `share` of the epoch, with every rare kind drawn equally often, so
    that the nine single digits weigh as much as the thousands of sparse numbers."""
    if share <= 0 or not groups:
        return None
    count = int(round(total * share / (1 - share)))
    kind_of_draw = rng.integers(len(groups), size=count)
    extra = np.empty(count, dtype=np.int64)
    for k, group in enumerate(groups):
        picks = kind_of_draw == k
        extra[picks] = group[rng.integers(len(group), size=int(picks.sum()))]
    return extra


def batch_arrays(run: Run, enc: D.Encoded, rows):
    """The inputs, teacher-forcing targets and loss mask of one batch, padding trimmed."""
    xs, src_mask = run.inputs(enc.xs[rows], enc.question_lengths[rows])
    ts = enc.ts[rows]
    tgt_mask = None
    if run.mask:
        answer_lengths = enc.answer_lengths[rows]
        steps = min(int(answer_lengths.max()) + 1, ts.shape[1] - 1)
        ts = ts[:, : steps + 1]
        # The answer characters and one end-of-answer position count; the rest is padding.
        tgt_mask = np.arange(steps)[None, :] <= answer_lengths[:, None]
        if tgt_mask.all():
            tgt_mask = None
    return xs, np.ascontiguousarray(ts), src_mask, tgt_mask


# --- the training loop ----------------------------------------------------------------------


class Reporter:
    """What the training loop tells its caller; the CLI draws progress bars from it."""

    def start(self, run: Run, train: D.Dataset, test: D.Dataset, overlap: int) -> None: ...
    def epoch_start(self, epoch: int, epochs: int, iterations: int, done: int) -> None: ...
    def iteration(self, loss: float) -> None: ...
    def epoch_end(self, record: dict, evaluation: Evaluation) -> None: ...
    def message(self, text: str) -> None: ...


@dataclass
class TrainState:
    epoch: int = 0              # epochs completed
    iteration: int = 0          # iterations completed within the current epoch
    loss_sum: float = 0.0
    loss_count: int = 0
    epoch_seconds: float = 0.0
    rng_state: dict | None = None   # the generator at the start of the current epoch
    best_accuracy: float = -1.0
    history: list = field(default_factory=list)
    # the BLAS thread counts the current epoch's iterations so far ran with, in order: a run
    # stopped mid-epoch and resumed with another --threads ran its epoch with both
    epoch_threads: list = field(default_factory=list)
    dropped: int = 0  # history.json's records of epochs beyond the state's, left out on resume


class StopRequest:
    """Set by SIGINT or SIGTERM; training stops at the next iteration boundary, so a checkpoint
    never holds a half-applied update. A second signal stops at once."""

    def __init__(self):
        self.signal_name: str | None = None

    def __bool__(self) -> bool:
        return self.signal_name is not None

    def handle(self, signum, frame):
        if self.signal_name is not None:
            raise KeyboardInterrupt
        self.signal_name = signal.Signals(signum).name


@contextmanager
def _stop_on_signals():
    request = StopRequest()
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        for s in previous:
            signal.signal(s, request.handle)
    except ValueError:  # not the main thread: leave signals alone
        previous = {}
    try:
        yield request
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


# What a run folder holds (train writes them; --force replaces them all).
RUN_FILES = ("config.json", "model.npz", "state.npz", "history.json", "curve.png")


# Inside a run folder: the earlier run's files while a --force run has not saved its own.
SET_ASIDE = ".previous-run"


def has_model(out: Path) -> bool:
    return (out / "model.npz").exists()


def set_aside_note(folder: Path) -> str:
    """Where a run folder keeps the run a --force run killed before its first epoch set aside."""
    aside = folder / SET_ASIDE
    return (f" (the run it held before is kept in {aside}: move its files back into {folder} "
            "to use it; a --force run keeps it until the new run has a model, and puts it "
            "back if it fails or is stopped before)") if aside.is_dir() else ""


def set_aside_run_files(out: Path) -> Path | None:
    """--force: move an earlier run's files out of the way, into out/.previous-run, so that the
    new run's config never sits beside the old run's weights. They are deleted once the new run
    has a model (its first epoch), and put back if it fails or is stopped before (a first epoch
    that diverges, or a Ctrl-C, must not cost the user the run they had). Other files in the
    folder are the user's and stay. Returns the folder set aside, or None when out holds no
    run."""
    aside = out / SET_ASIDE
    try:
        if aside.is_dir():
            if not has_model(out):
                # a forced run killed before its first epoch ended: the run set aside is still
                # the one to keep; the stray files are that killed run's
                _remove_run_files(out)
                return aside
            shutil.rmtree(aside)
        present = [name for name in RUN_FILES if (out / name).exists()]
        if not present:
            return None
        aside.mkdir()
    except OSError as exc:
        raise RunError(f"cannot move the earlier run in {out} aside: "
                       f"{exc.strerror or exc}") from None
    moved = []
    try:
        for name in present:
            os.replace(out / name, aside / name)
            moved.append(name)
    except OSError as exc:  # one file would not move: the others go back, the run stays whole
        for name in moved:
            os.replace(aside / name, out / name)
        aside.rmdir()
        raise RunError(f"cannot move the earlier run in {out} aside ({exc.filename}: "
                       f"{exc.strerror or exc}); it is left as it was") from None
    return aside


def put_back_run_files(out: Path, aside: Path) -> None:
    """Undo `set_aside_run_files`: the new run's files go, the earlier run's come back."""
    _remove_run_files(out)
    for moved in aside.iterdir():
        os.replace(moved, out / moved.name)
    aside.rmdir()


def _remove_run_files(out: Path) -> None:
    for name in RUN_FILES:
        try:
            (out / name).unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise RunError(f"cannot remove {out / name}: {exc.strerror or exc}") from None


def check_run_folder(out: Path, resume: bool, force: bool) -> None:
    """Refuse a run folder that cannot take this run, before any work; nothing is created."""
    blocking = file_where_a_folder_should_be(out)
    if blocking is not None:
        raise RunError(f"--out {out}: {blocking} is a file, not a folder")
    if out.exists() and not out.is_dir():
        raise RunError(f"{out} exists and is not a folder")
    _refuse_the_shipped_model(out)
    no_state = (out / "config.json").exists() and not (out / "state.npz").exists()
    unfinished = no_state and not has_model(out)
    # A trained model without its training state: a run copied or shared as config.json and
    # model.npz. It was called a run that "saved no checkpoint", and --force advised, which
    # replaces the model.
    trained = no_state and has_model(out)
    if resume:
        if unfinished:  # a NaN, or a stop, before its first iteration's checkpoint
            raise RunError(f"nothing to resume in {out}: its training saved no state.npz "
                           f"(it stopped before any checkpoint); start it again with --force "
                           "(fit: force=True)" + set_aside_note(out))
        _refuse_to_resume_a_model_without_state(out)
        if not (out / "state.npz").exists():
            raise RunError(f"nothing to resume in {out}: no state.npz there")
        return
    if out.exists() and any(out.iterdir()) and not force:
        # Advice to --resume or --force fits a run only: a folder of the user's own files
        # was told to pass --resume (nothing to resume) or --force (refused for their
        # config.json)
        _check_holds_no_other_files_of_those_names(out)
        if not any((out / name).exists() for name in RUN_FILES):
            raise RunError(_why_no_run_goes_in(out))
        if unfinished:
            raise RunError(f"run folder {out} holds a run that saved no checkpoint; pass --force "
                           "(fit: force=True) to start it again" + set_aside_note(out))
        if trained:
            raise RunError(f"run folder {out} holds a trained model (model.npz, without the "
                           "state.npz that --resume needs); choose another folder, or pass "
                           "--force (fit: force=True) to replace it")
        raise RunError(f"run folder {out} is not empty; pass --resume to continue it "
                       "or --force to start it again (fit: resume=True, force=True)")
    if force and not resume:
        _check_holds_no_other_files_of_those_names(out)


def _refuse_the_shipped_model(out: Path) -> None:
    """run.path of load_run("default"), inside the installed package: --force would replace
    the model that eval and attend fall back on, and --resume has no state to go on from."""
    if out.resolve() == DEFAULT_RUN.resolve():
        raise RunError(f"{out} is the shipped model (--run default), which training never "
                       "replaces; choose another folder for the run")


def _refuse_to_resume_a_model_without_state(out: Path) -> None:
    if (out / "config.json").exists() and has_model(out) and not (out / "state.npz").exists():
        raise RunError(f"nothing to resume in {out}: it holds a trained model but no "
                       "state.npz, the training state that --resume continues (fit: "
                       "resume=True); its model.npz still answers in eval and attend; train "
                       "a new run in another folder")


def _why_no_run_goes_in(out: Path) -> str:
    """Why a run is not started in a non-empty folder that holds no run: a folder of runs
    (`--out runs`) wants a new folder inside it; other files are the user's, and --force
    trains beside them, leaving them as they are."""
    runs = sorted(p for p in out.iterdir() if p.is_dir() and (p / "config.json").is_file())
    if runs:
        return (f"{out} holds runs, but is not one: name a new folder for this run, e.g. "
                f"--out {shell_word(out / 'my-run')}")
    names = sorted(p.name for p in out.iterdir())
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3:,} more" if len(names) > 3 else "")
    return (f"{out} is not empty ({shown}) and holds no run; choose another --out, or pass "
            "--force (fit: force=True) to train in it beside those files, which stay")


def _check_holds_no_other_files_of_those_names(out: Path) -> None:
    """--force removes a run's files by name: only where they are a run's (a kanjinum
    config.json beside them), never a user's own config.json or curve.png."""
    present = [name for name in RUN_FILES if (out / name).exists()]
    if not present:
        return
    try:
        config = json.loads((out / "config.json").read_text(encoding="utf-8"))
        is_run = isinstance(config, dict) and "format_version" in config and "model" in config
    except (OSError, UnicodeDecodeError, ValueError):
        is_run = False
    if not is_run:
        raise RunError(f"{out} holds {', '.join(present)} but no kanjinum run; --force only "
                       f"replaces a run folder, so choose another --out")


def default_run_folder(model: str) -> Path:
    """runs/<model>-<date>-<time>: the run folder when none is named (`make_run_folder` adds
    -2, -3, ... when two runs start in the same second)."""
    return Path("runs") / f"{model}-{time.strftime('%Y%m%d-%H%M%S')}"


def in_the_order_made(folder: Path) -> list:
    """A run folder as a sort key that puts runs/attention-<date>-<time>-10 after -2 (the
    names `make_run_folder` gives runs started in the same second): by name, -10 came first."""
    # the split's odd parts are the runs of decimal digits; isdigit() also takes ① and ², which
    # int() refuses (a folder named 実験1① ended `eval --run` in a traceback)
    parts = re.split(r"(\d+)", folder.name)
    return [int(part) if i % 2 else part for i, part in enumerate(parts)]


def make_run_folder(out: Path, fresh: bool = False, made: list | None = None) -> Path:
    """Create the run folder once every check has passed, so a refused run leaves none behind;
    returns it. fresh: `out` is a default name and the folder must be new: taken atomically,
    with -2, -3, ... after the name when another run (another process too) has it already.
    made: a list that gets the folders created here, outermost first (runs/, the parents of
    --out new/deep/run, the run folder), for a run that fails to remove again, and only those."""
    made = [] if made is None else made
    try:
        if not fresh:
            _make_folders(out, made)
            return out
        _make_folders(out.parent, made)
        for k in range(1, 10_000):
            candidate = out if k == 1 else out.with_name(f"{out.name}-{k}")
            try:
                candidate.mkdir()
                made.append(candidate)
                return candidate
            except FileExistsError:
                continue
        raise RunError(f"{out.parent} already holds {out.name} and 9,998 more like it")
    except OSError as exc:
        _remove_empty_folders(made)  # --out new/deep/<a name too long>: new/deep was made
        made.clear()
        broken = broken_link_on_the_way(out)
        if broken is not None:
            raise RunError(f"cannot create {out}: {broken} is a link to {os.readlink(broken)}, "
                           "which does not exist") from None
        raise RunError(f"cannot create {out}: {exc.strerror or exc}") from None


def _make_folders(folder: Path, made: list) -> None:
    """mkdir -p, one folder at a time, appending each it creates to `made`: one that another
    process makes meanwhile is theirs, not ours to remove."""
    missing = []
    for path in (folder, *folder.parents):
        if path.is_dir():
            break
        missing.append(path)
    for path in reversed(missing):
        try:
            path.mkdir()
        except FileExistsError:
            if not path.is_dir():
                raise
            continue
        made.append(path)


def _remove_empty_folders(made: list) -> None:
    """The folders a failed run created, innermost first, each only where empty: a file put in
    one meanwhile (the user's, another run's) keeps it and those around it."""
    for folder in reversed(made):
        try:
            folder.rmdir()
        except OSError:
            return


def fit(config: TrainConfig | None, out: str | Path | None = None, resume: bool = False,
        force: bool = False, reporter: Reporter | None = None,
        threads: int = DEFAULT_THREADS) -> Run:
    """Train a model as configured, writing the run folder `out`; returns the trained Run,
    with the weights saved as its model.npz (the epoch of best test accuracy, as `load_run(out)`
    gives them; the last epoch's where none finished yet).

    out=None: a new folder runs/<model>-<date>-<time> (`default_run_folder`), never one that
    another run holds; the Run's `path` says which.

    threads: BLAS threads (`blas_threads`), 1 unless asked, as `kanjinum train --threads`;
    the run returned decodes with as many.

    resume=True continues the run in `out` with its saved settings; of `config` only `epochs`
    (the new total), `target_acc` (if not None) and, where the recorded data file has moved,
    `data` (holding the same bytes) are used, and config may be None; another setting that
    config changes from both its default and the run's value is refused (OptionError).

    SIGINT (Ctrl-C, a notebook's "interrupt") or SIGTERM stops it at the end of the current
    iteration: the state is saved for resume=True, the run returned has `stopped_by` set to
    the signal's name, and without a reporter a RuntimeWarning says so. With force=True, the
    run that was in `out` is set aside, not deleted, until the new one has a model: a new run
    that fails or is stopped before puts it back (the run returned then has `put_back` set).
    Progress goes to the reporter (the CLI's draws bars); the default one is silent."""
    if not resume and not isinstance(config, TrainConfig):
        raise TypeError(f"fit needs a TrainConfig (None only with resume=True), not "
                        f"{type(config).__name__}")
    _check_reporter(reporter)
    with blas_threads(threads), _FolderLocks() as locks:  # threads checked before any work
        return _fit(config, out, resume, force, reporter, threads, locks)


def _check_reporter(reporter) -> None:
    """A TypeError, before the run folder is made, for a reporter that is not one: print, the
    class RichReporter, a Console failed at its first call, after config.json was written, and
    the folder then held "a run that saved no checkpoint" that fit refused without force."""
    if reporter is None:
        return
    if isinstance(reporter, type):
        raise TypeError(f"reporter is the class {reporter.__name__}; pass one of its objects, "
                        "e.g. RichReporter(Console())")
    lacking = [name for name in ("start", "epoch_start", "iteration", "epoch_end", "message")
               if not callable(getattr(reporter, name, None))]
    if lacking:
        raise TypeError(f"reporter {type(reporter).__name__} has no {', '.join(lacking)}: fit "
                        "takes a kanjinum.train.Reporter, e.g. kanjinum.cli.RichReporter("
                        "Console())")


class _FolderLocks:
    """The run folders a training holds: a second training of the same folder (another
    terminal, `&`) is refused while the first runs, instead of being told that the folder
    holds an unfinished run, which --force would wipe. A lock on the folder itself, released
    when the training ends or its process dies; none where the system has no flock."""

    def __init__(self):
        self.held: dict[Path, int] = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        for fd in self.held.values():
            os.close(fd)

    def claim(self, folder: Path) -> None:
        try:
            import fcntl
        except ImportError:  # not POSIX
            return
        if folder in self.held:
            return
        fd = os.open(folder, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise RunError(f"{folder} is in use: another training is writing it now; let it "
                           "finish (or stop it), or choose another --out") from None
        self.held[folder] = fd


def _fit(config, out, resume, force, reporter, threads, locks: _FolderLocks) -> Run:
    quiet = reporter is None
    reporter = reporter or Reporter()
    if out is None and resume:
        raise RunError("resume needs the run folder to continue (out)")
    if resume and force:  # which one was meant is not ours to guess; the CLI refuses it too
        raise OptionError("resume and force contradict each other: continue the run in out, "
                          "or start it again")
    fresh = out is None
    if not fresh:
        if not isinstance(out, (str, os.PathLike)):  # 5 failed deep in pathlib
            raise TypeError(f"out must be a run folder's path or None, not {type(out).__name__}")
        if not str(out).strip():  # Path("") would be the current folder
            raise OptionError("out is empty: name the run folder to write, or pass None for a "
                              "new one under runs/ (the CLI: --out)")
        out = user_path(out)
    if resume:
        given = config
        config = resumed_config(out, None if config is None else config.epochs,
                                None if config is None else config.target_acc,
                                None if config is None else config.data)
        _refuse_changed_settings(given, config)
    config.check()
    if not resume:  # as the CLI records it: found again from any folder
        config = replace(config, data=recorded_path(config.data))
    dataset = _read_training_data(config.data)
    if config.mask is False and config.bucket:
        config = replace(config, bucket=False)
    if fresh:
        out = default_run_folder(config.model)
        blocking = file_where_a_folder_should_be(out)
        if blocking is not None:
            raise RunError(f"{blocking} is a file, not a folder: it is where runs are kept")
    else:
        if out.is_dir():  # before it is read, cleared or called unfinished
            locks.claim(out)
        check_run_folder(out, resume, force)
    train_set, test_set = D.split_for_training(dataset, config.split_seed)
    if len(train_set) == 0 or len(test_set) == 0:
        raise _too_small_to_split(config.data, dataset, len(train_set), len(test_set))
    if config.batch > len(train_set):
        raise OptionError(f"--batch {config.batch} is larger than the {len(train_set):,} training "
                          f"lines of {config.data}; use --batch {len(train_set)} or less")
    rare = rows_by_kind(train_set.questions, train_set.answers)
    _check_oversample_applies(config, rare)
    if not rare and config.oversample:  # recorded as done: config.json said 0.05, none drawn
        config = replace(config, oversample=0.0)
    _check_answers_can_end(config, dataset)
    vocab = D.Vocab.from_texts(dataset.questions + dataset.answers)
    model = build_model(ModelConfig(config.model, len(vocab), config.wordvec, config.hidden),
                        seed=config.seed)
    run = Run(model, vocab, dataset.question_width, dataset.answer_width, config.reverse,
              config.mask, config, out, dataset.sha256,
              D.in_natural_order("".join(dataset.questions)), threads=threads)
    optimizer = Adam(lr=config.lr)
    state = TrainState()
    if resume:
        state = _load_state(out, run, optimizer)
        _check_there_is_more_to_do(out, config, state)
    aside = None
    created = []  # the folders this run creates: removed again if it fails before a checkpoint
    # Signals are caught from before the earlier run is set aside: one that comes while the new
    # run is set up stops it at its first iteration, and the earlier run is put back.
    with _stop_on_signals() as stop:
        if force and not resume and not fresh:  # a fresh folder is new: nothing of anyone's
            aside = set_aside_run_files(out)
        made = False
        try:
            run.path = out = make_run_folder(out, fresh, created)
            locks.claim(out)
            made = True  # and ours: refused as in use, the folder is another training's
            # On resume too: --epochs or --target-acc may have changed
            atomic_write_json(out / "config.json", run.config_dict(str(config.data)))
            rng = np.random.default_rng(config.seed)
            if state.rng_state is not None:
                rng.bit_generator.state = state.rng_state
            reporter.start(run, train_set, test_set, D.count_overlap(train_set, test_set))
            if resume:  # the first line says "writing R" as for a new run
                reporter.message(_resuming_at(state, config.epochs))
            for note in (_history_note(state), _other_threads_note(state, threads)):
                if note:
                    reporter.message(note)
            enc = D.encode_dataset(train_set, vocab)
            # A diverging run overflows in the products before its loss turns non-finite, which
            # `_train_epochs` reports in one line; numpy's warnings would only repeat it.
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                stopped = _train_epochs(run, optimizer, state, rng, enc, rare, test_set,
                                        reporter, stop)
            if stopped and aside is not None and not has_model(out):
                # before the new run's first epoch ended: the run it replaces is worth more
                put_back_run_files(out, aside)
                run.stopped_by, run.put_back = stop.signal_name, True
                where = (f"stopped by {stop.signal_name} at epoch 1, iteration "
                         f"{state.iteration}, before the new run had a model; the run that "
                         f"was in {out} is back as it was")
                reporter.message(where)
                if quiet:
                    warnings.warn(where, RuntimeWarning, stacklevel=3)  # the caller of fit
            elif stopped:
                _save_state(out, run, optimizer, state)
                run.stopped_by = stop.signal_name
                where = (f"stopped by {stop.signal_name} at epoch {state.epoch + 1}, "
                         f"iteration {state.iteration}; saved")
                reporter.message(f"{where}; continue with kanjinum train --out "
                                 f"{shell_word(out)} --resume")
                if quiet:  # a notebook cell would otherwise go on with a half-trained model
                    warnings.warn(f"{where}: fit(..., resume=True) continues it",
                                  RuntimeWarning, stacklevel=3)  # the caller of fit
        except BaseException as exc:
            if aside is not None and aside.exists() and not has_model(out):  # the new has none
                put_back_run_files(out, aside)
                if isinstance(exc, TrainingStopped):  # "the loss became nan at ...; <advice>"
                    what = str(exc).split("; ")[0]
                    raise TrainingStopped(f"{what}; the new run saved nothing, and the run "
                                          f"that was in {out} is back as it was (try a "
                                          "smaller --lr or --clip)") from None
            elif made and not resume and not isinstance(exc, TrainingStopped):
                _remove_what_failed_before_a_checkpoint(out, created)
            raise
    if not run.put_back and has_model(out):
        _load_saved_weights(run)
    return run


RESUME_MAY_CHANGE = ("epochs", "target_acc", "data")


def _refuse_changed_settings(given: TrainConfig | None, saved: TrainConfig) -> None:
    """A resumed run keeps its settings; one that the given config sets (not its default)
    otherwise is refused, as the CLI refuses `--hidden 32 --resume`: fit(TrainConfig(hidden=32,
    epochs=30), out, resume=True) went on at the run's hidden 8 without a word."""
    if given is None:
        return
    default = TrainConfig()
    changed = [f"{f.name}={getattr(given, f.name)!r} (the run has {getattr(saved, f.name)!r})"
               for f in fields(TrainConfig) if f.name not in RESUME_MAY_CHANGE
               and getattr(given, f.name) != getattr(default, f.name)
               and getattr(given, f.name) != getattr(saved, f.name)]
    if changed:
        raise OptionError(f"resume keeps the run's settings, and the config changes "
                          f"{', '.join(changed)}: only epochs, target_acc and data may change "
                          "(resumed_config(out) gives the run's own); to train otherwise, "
                          "start a new run")


def _resuming_at(state: TrainState, epochs: int) -> str:
    # "of M" beside the epoch: after the iteration ("after its iteration 279 of 3") it read
    # as the epoch's iteration count
    where = f"resuming at epoch {state.epoch + 1} of {epochs}"
    if state.iteration:
        where += f", after its iteration {state.iteration:,}"
    return where


def _too_small_to_split(path: str, dataset: D.Dataset, train: int, test: int) -> D.DataError:
    numerals = any(kind is not None for kind in D.numeral_kinds(dataset.questions,
                                                                dataset.answers))
    closed = ", and single digits and round numbers always train" if numerals else ""
    return D.DataError(
        f"{path} has {len(dataset):,} line{'' if len(dataset) == 1 else 's'}: too few to split "
        f"into a training and a test part (the book's split keeps a tenth for testing{closed}: "
        f"{train} train, {test} test){_lines_that_split(dataset) if numerals else ''}")


def _lines_that_split(dataset: D.Dataset) -> str:
    """What gen-data makes that splits, for numbers as long as the file's: gen-data puts the
    9 closed numbers per digit first (117 of 13 digits), and a tenth of the rest tests, so 200
    lines split at any --max-digits that has as many numbers. 200 was advised at 1 and 2 digits
    too, which gen-data refuses (only 9 and 99 numbers), and 1 digit never splits."""
    digits = max(len(answer) for answer in dataset.answers)
    if digits == 1:
        return ("; numbers of 1 digit are all single digits, which always train: give it larger "
                "ones (from gen-data: --max-digits 2 or more)")
    if 10**digits - 1 < 200:
        return f"; give it more lines (from gen-data: --size {10**digits - 1})"
    return "; give it more lines (from gen-data: --size 200 or more)"


def _remove_what_failed_before_a_checkpoint(out: Path, created: list) -> None:
    """A run that failed before its first checkpoint for a reason other than its training (its
    first line printed to a full disk, `> /dev/full`; memory) leaves nothing behind: its
    config.json alone made the folder "a run that saved no checkpoint", which the same command
    was then refused for without --force. A diverged run keeps it: its error says to --force."""
    if has_model(out) or (out / "state.npz").exists():
        return
    try:
        _remove_run_files(out)
        # the run folder and the parents it was made with (--out new/deep/run, runs/), only
        # where empty: a file of the user's put there meanwhile stays
        _remove_empty_folders(created)
    except (OSError, RunError):  # the error being raised is the one to tell
        pass


def _read_training_data(path: str) -> D.Dataset:
    """The data file, and where TrainConfig's default data/kanji.txt is missing (a notebook
    outside the checkout: `pip install .` brings no data), the command that makes it; it said
    only "data file …/data/kanji.txt not found" (the CLI names the command too)."""
    try:
        return D.read_dataset(path)
    except D.DataError:
        default = recorded_path(TrainConfig.data)
        if path != default or os.path.lexists(path):
            raise
        raise D.DataError(f"data file {path} not found; make it with kanjinum gen-data in "
                          f"{Path(default).parent.parent}, or name a data file of your own: "
                          "TrainConfig(data=…)") from None


def _load_saved_weights(run: Run) -> None:
    """The run fit returns is the one its folder holds: model.npz keeps the epoch of best test
    accuracy, which need not be the last, and a notebook's `run.predict` after `fit` answered
    with the last epoch's weights while `kanjinum eval` and `load_run` used the saved ones."""
    run.model.load_params(load_npz(run.path / "model.npz", weights_budget(run.model)))


def recorded_path(path) -> str:
    """A data path as a run folder records it: absolute and tidy (no `..`), so that eval and
    resume find the file from any folder."""
    return os.path.abspath(home_expanded(os.fspath(path)))


def draws_no_rare_kinds(config: TrainConfig) -> bool:
    """Whether config's training split has no rare kinds of numeral to oversample (the book's
    dates and additions), where fit records --oversample as 0 whatever share was asked."""
    train_set, _ = D.split_for_training(_read_training_data(config.data), config.split_seed)
    return not rows_by_kind(train_set.questions, train_set.answers)


def _check_oversample_applies(config: TrainConfig, rare: list) -> None:
    """An --oversample asked for on data without rare kinds of numeral (the book's dates and
    additions) would do nothing; the default share is left to do nothing quietly."""
    if not rare and config.oversample > 0 and config.oversample != TrainConfig.oversample:
        raise OptionError(f"--oversample {config.oversample:g} draws extra rare kinds of kanji "
                          f"numeral (single digits, round numbers...), and {config.data} has none; "
                          f"leave --oversample out")


def _check_answers_can_end(config: TrainConfig, dataset: D.Dataset) -> None:
    """With the mask, the padding's character (a space) is where an answer ends: decoding stops
    at the first one. An answer with a space inside (a task of reversing words: `cat dog` →
    `dog cat`) was cut there, so a model whose loss went to 0.004 scored 0 %."""
    if not config.mask:
        return
    for number, answer in enumerate(dataset.answers, start=1):  # lines map one to one
        if D.PAD in answer:
            raise D.DataError(
                f"{config.data}, line {number}: the answer {shortened(answer)!r} holds a space; "
                f"with --mask (the default) a space ends an answer, so the model could never "
                f"write it whole: train with --no-mask")


def _check_there_is_more_to_do(out: Path, config: TrainConfig, state: TrainState) -> None:
    """A resumed run with nothing left to train is a mistake to point out, before its
    config.json is touched."""
    if state.epoch >= config.epochs:
        done = f"{state.epoch} epoch{'' if state.epoch == 1 else 's'}"
        more = state.epoch + 10
        # fit's own words too: fit(None, out, resume=True) was told only of --epochs
        raise RunError(f"{out} has already trained {done}; ask for more with --epochs, the "
                       f"new total, e.g. --epochs {more} (fit: a TrainConfig of epochs={more}, "
                       "with resume=True)")
    last = state.history[-1].get("accuracy") if state.history and state.iteration == 0 else None
    if config.target_acc is not None and isinstance(last, (int, float)) \
            and last >= config.target_acc:
        reached = (f"{out} stopped on reaching --target-acc {config.target_acc:g} "
                   f"({D.percent(last, 2)})")
        if last >= 1:
            # --target-acc is at most 1, so "ask for a higher one" sent a run of the book's
            # dates (100 % by its third epoch) round in a circle: no target lets it go on
            raise RunError(f"{reached}, the most there is, so no --target-acc lets it go on: "
                           "to train longer, start a new run without --target-acc")
        raise RunError(f"{reached}; ask for a higher --target-acc to go on (fit: a "
                       "TrainConfig of a higher target_acc)")


def learning_rate(config: TrainConfig, epochs_done: float) -> float:
    """The learning rate after `epochs_done` (fractional) epochs.

    cosine: a linear warm-up over the first 2% of the run, then half a cosine down to 0 at the
    end, so that training always ends on small steps and a late loss spike has time to heal.
    lr_decay multiplies in once per finished epoch with either schedule.
    """
    lr = config.lr * config.lr_decay ** int(epochs_done)
    if config.schedule == "cosine":
        progress = min(epochs_done / config.epochs, 1.0)
        lr *= min(1.0, (progress + 1e-9) / WARMUP_SHARE) * 0.5 * (1 + math.cos(math.pi * progress))
    return lr


def _other_threads_note(state: TrainState, threads: int) -> str:
    """A run resumed with another BLAS thread count goes on with other roundings: its weights
    differ in their last bits from a run that kept the first count, where README promises the
    same bits for the same seed and --threads. Each epoch's record keeps its count (or counts).
    A run stopped within an epoch is compared by the counts its iterations ran with: stopped in
    its first epoch, it went on under another count without a word, and that epoch's record
    gave the new count alone."""
    ran = []  # every count so far, in the order they ran
    for record in state.history:
        counts = record.get("threads")
        ran.extend(counts if isinstance(counts, list) else [] if counts is None else [counts])
    ran.extend(state.epoch_threads)
    if not ran or ran[-1] == threads:
        return ""
    first = ran[0]
    counts = " and ".join(str(c) for c in dict.fromkeys(ran))  # "1 and 2", each once
    what = "its epochs so far" if state.history else "its first epoch so far"
    return (f"note: {what} ran with --threads {counts}; with {threads}, its weights "
            f"will differ in their last bits from a run that kept --threads {first}")


def _epoch_threads(state: TrainState, threads: int):
    """An epoch record's thread count: the one its iterations ran with, or, for an epoch
    stopped and resumed with another --threads, the list of them in the order they ran."""
    counts = state.epoch_threads or [int(threads)]
    return counts[0] if len(counts) == 1 else list(counts)


def _thread_counts(value) -> list:
    """state.npz's epoch_threads: a list of counts (a state.npz written before it: [])."""
    if not isinstance(value, list):
        raise ValueError(f"{value!r} is not a list of thread counts")
    return [_count(c) for c in value]


def _train_epochs(run, optimizer, state, rng, enc, rare, test_set, reporter, stop) -> bool:
    """The epochs left to train; True when a signal stopped them before their end."""
    config, model = run.train, run.model
    while state.epoch < config.epochs:
        if state.iteration == 0:
            state.rng_state = rng.bit_generator.state
        else:  # resuming mid-epoch: replay the same shuffle from the epoch's saved start
            rng.bit_generator.state = state.rng_state
        extra = oversampled_rows(rng, rare, len(enc.xs), config.oversample)
        batches = epoch_batches(rng, enc.question_lengths, config.batch, config.bucket, extra)
        reporter.epoch_start(state.epoch + 1, config.epochs, len(batches), state.iteration)
        started = time.perf_counter() - state.epoch_seconds
        for i in range(state.iteration, len(batches)):
            if stop:
                return True
            optimizer.lr = learning_rate(config, state.epoch + i / len(batches))
            xs, ts, src_mask, tgt_mask = batch_arrays(run, enc, batches[i])
            loss = model.forward(xs, ts, src_mask, tgt_mask)
            if not np.isfinite(loss):
                # --resume keeps the run's --lr: the advice says how it can be followed
                kept = ("kept the last good checkpoint; to train on with a smaller --lr or "
                        "--clip, start again, with --force (fit: force=True) or in another "
                        "folder: --resume keeps the run's settings"
                        if (run.path / "model.npz").exists() else
                        "no epoch had finished, so no model was saved (train again with "
                        "--force (fit: force=True) and a smaller --lr or --clip)")
                raise TrainingStopped(
                    f"the loss became {loss} at epoch {state.epoch + 1}, iteration {i + 1}; "
                    f"{kept}")
            model.backward()
            clip_grads(model.grads, config.clip)
            optimizer.update(model.params, model.grads)
            state.iteration = i + 1
            if state.epoch_threads[-1:] != [int(run.threads)]:
                state.epoch_threads.append(int(run.threads))
            state.loss_sum += float(loss)
            state.loss_count += 1
            state.epoch_seconds = time.perf_counter() - started
            reporter.iteration(float(loss))
        evaluation = evaluate(run, test_set)
        record = {"epoch": state.epoch + 1, "loss": state.loss_sum / max(state.loss_count, 1),
                  "accuracy": evaluation.accuracy, "seconds": round(state.epoch_seconds, 3),
                  "lr": optimizer.lr, "threads": _epoch_threads(state, run.threads)}
        state.history.append(record)
        state.epoch_threads = []
        state.epoch, state.iteration = state.epoch + 1, 0
        state.loss_sum, state.loss_count, state.epoch_seconds = 0.0, 0, 0.0
        state.rng_state = rng.bit_generator.state
        # Ties go to the later epoch: it has trained longer, on a smaller learning rate.
        if evaluation.accuracy >= state.best_accuracy:
            state.best_accuracy = evaluation.accuracy
            atomic_save_npz(run.path / "model.npz", model.named_params())
            # the run has a model: an earlier one a --force set aside is not needed now
            shutil.rmtree(run.path / SET_ASIDE, ignore_errors=True)
        _save_state(run.path, run, optimizer, state)
        reporter.epoch_end(record, evaluation)
        if config.target_acc is not None and evaluation.accuracy >= config.target_acc:
            reporter.message(f"reached --target-acc {config.target_acc:.4f}; stopping")
            break
    return False  # finished, even if a signal came after the last iteration


# --- checkpoints ----------------------------------------------------------------------------


def _save_state(out: Path, run: Run, optimizer: Adam, state: TrainState) -> None:
    arrays = {f"param/{k}": v for k, v in run.model.named_params().items()}
    arrays.update({f"adam/{k}": v for k, v in optimizer.state_dict().items()})
    meta = {k: getattr(state, k) for k in ("epoch", "iteration", "loss_sum", "loss_count",
                                           "epoch_seconds", "rng_state", "best_accuracy",
                                           "epoch_threads")}
    meta["lr"] = optimizer.lr
    arrays["meta"] = np.array(json.dumps(meta))
    atomic_save_npz(out / "state.npz", arrays)
    atomic_write_json(out / "history.json", state.history)
    _write_curve(out, state.history, curve_title(run, out))


def curve_title(run: Run, out: Path) -> str:
    """curve.png's title: the run and what sets it apart from the runs beside it."""
    cfg = run.train
    # The schedule beside the rate: with cosine, lr is the peak, and history.json's lr (and
    # the book's constant 0.001 against the default) could not be told apart from the title
    decay = f", lr-decay {cfg.lr_decay:g}" if cfg.lr_decay != 1 else ""
    return (f"{out.name}: {run.kind} on {Path(cfg.data).name}, wordvec {cfg.wordvec}, "
            f"hidden {cfg.hidden}, batch {cfg.batch}, lr {cfg.lr:g} {cfg.schedule}{decay}, "
            f"{'reversed' if cfg.reverse else 'not reversed'}, "
            f"{'masked' if cfg.mask else 'no mask'}, seed {cfg.seed}")


def _write_curve(out: Path, history: list, title: str) -> None:
    if not history:
        return
    from kanjinum.plot import learning_curve  # matplotlib is slow to import; only when needed
    learning_curve(history, out / "curve.png", title)


def _load_state(out: Path, run: Run, optimizer: Adam) -> TrainState:
    arrays = load_npz(out / "state.npz", weights_budget(run.model, copies=3))  # params, m, v
    try:
        meta = json.loads(str(arrays.pop("meta")))
    except (KeyError, ValueError):
        raise RunError(f"{out / 'state.npz'} has no readable progress record") from None
    params = {k.removeprefix("param/"): v for k, v in arrays.items() if k.startswith("param/")}
    adam = {k.removeprefix("adam/"): v for k, v in arrays.items() if k.startswith("adam/")}
    try:
        run.model.load_params(params)
    except ValueError as exc:
        raise RunError(f"{out / 'state.npz'}: {exc}") from None
    try:
        optimizer.load_state_dict(adam, run.model.params)
    except ValueError as exc:  # a state.npz of another model, or edited: not the first update's
        raise RunError(f"{out / 'state.npz'}: {exc}") from None
    history = read_history(out)
    try:
        state = TrainState(_count(meta["epoch"]), _count(meta["iteration"]),
                           float(meta["loss_sum"]), _count(meta["loss_count"]),
                           float(meta["epoch_seconds"]), meta["rng_state"],
                           float(meta["best_accuracy"]), history,
                           _thread_counts(meta.get("epoch_threads", [])))
        # The shuffle of the epoch is drawn from it; tried here, before config.json is written
        np.random.default_rng().bit_generator.state = state.rng_state
    except (KeyError, TypeError, ValueError, OverflowError):
        raise RunError(f"{out / 'state.npz'} has a damaged progress record") from None
    _drop_records_beyond_the_state(state)
    if not (out / "model.npz").exists():
        # deleted by hand: kept to the best accuracy so far, a later epoch that did less well
        # wrote none, and the run stayed without a model for eval and attend
        state.best_accuracy = -1.0
    return state


def _drop_records_beyond_the_state(state: TrainState) -> None:
    """history.json's records of epochs that state.npz has not reached are left out: they go
    with a later state than this one (a folder copied with cp -r while it trained, a process
    killed between the two writes), and the epoch is trained again. They were kept, and the
    resumed epoch's record added beside its namesake: curve.png drew epoch 3 twice, and the
    --target-acc check read the later state's accuracy. state.dropped counts them."""
    kept = [r for r in state.history if r["epoch"] <= state.epoch]
    state.dropped = len(state.history) - len(kept)
    state.history = kept


def _history_note(state: TrainState) -> str:
    """A line on a resumed run whose history.json does not go with its state.npz."""
    if state.dropped:
        return (f"note: history.json held {counted(state.dropped, 'record')} of epochs after "
                f"epoch {state.epoch}, where state.npz stopped (a copy taken while it "
                "trained?): left out, as those epochs are trained again")
    missing = state.epoch - len({r["epoch"] for r in state.history})
    if missing > 0:
        return (f"note: history.json lacks the records of {counted(missing, 'epoch')} of the "
                f"{state.epoch} trained (deleted by hand?): curve.png and history.json go on "
                "without them")
    return ""


def _count(value) -> int:
    """A count of state.npz's progress record: a whole number ≥ 0 (int() would take -3, 1.7
    and true, and training went on from there)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{value!r} is not a count")
    return value


def resumed_config(out: str | Path, epochs: int | None = None,
                   target_acc: float | None = None, data: str | Path | None = None
                   ) -> TrainConfig:
    """The saved settings of the run in `out`, to continue it: only the number of epochs and
    the target accuracy may change (None: as saved). data: where the run's data file is now,
    used only where the recorded one is gone (moved) or changed, and only if it holds the
    bytes the run was trained on."""
    # ~ as the home folder, as fit reads a new run's out and config.data: a moved data file
    # given as data="~/d.txt" was "not there any more, nor is ~/d.txt"
    out = user_path(out)
    if isinstance(data, (str, os.PathLike)):
        data = user_path(data)
    if out.is_file():  # `--out runs/a/state.npz`: "no run there" would send them elsewhere
        raise RunError(f"nothing to resume in {out}: it is a file, not a run folder"
                       + _its_run_folder(out))
    if not (out / "config.json").exists() and not (out / "state.npz").exists():
        raise RunError(f"nothing to resume in {out}: no run there"
                       + ("" if out.exists() else " (no such folder)"))
    saved = read_config(out)
    # Before the data file is looked for: a run shared without its state.npz, or the shipped
    # model, was told its data file "is not there any more; … add --data", and with it found
    # that there was nothing to resume
    _refuse_the_shipped_model(out)
    _refuse_to_resume_a_model_without_state(out)
    train = _train_config_from(saved.get("train", {}), out)
    recorded = saved.get("data")
    sha = recorded.get("sha256") if isinstance(recorded, dict) else None
    if sha and not Path(train.data).exists():
        train = replace(train, data=_moved_data_file(out, train.data, sha, data))
    if sha and Path(train.data).exists() and file_sha256(train.data) != sha:
        train = replace(train, data=_changed_data_file(out, train.data, sha, data))
    return replace(train, epochs=train.epochs if epochs is None else epochs,
                   target_acc=train.target_acc if target_acc is None else target_acc)


def _moved_data_file(out: Path, recorded: str, sha: str, data) -> str:
    """The run's data file where it lies now: the recorded path is gone, and the run could
    not go on at all (`--data NEW` was refused as a changed setting, whatever NEW held). The
    new file must hold the very bytes the run was trained on, as its sha256 says."""
    another = data is not None and recorded_path(data) != recorded_path(recorded)
    if not another or not Path(data).is_file():
        # fit(TrainConfig(epochs=5), out, resume=True) passes TrainConfig's default data
        # path, which the user never named: "data file data/kanji.txt not found" hid that
        # the run's own file is gone
        neither = f", nor is {data}" if another else ""
        raise RunError(f"the data file of {out}, {recorded}, is not there any more{neither}; "
                       "if it moved, add --data with its new path (fit: config.data; its "
                       "sha256 is checked)")
    if file_sha256(data) != sha:
        raise RunError(f"{data} is not the data {out} was trained on (its sha256 differs "
                       f"from the one recorded for {recorded}); cannot resume on it")
    return recorded_path(data)


def _changed_data_file(out: Path, recorded: str, sha: str, data) -> str:
    """A copy of the run's data file as it was, where the recorded path now holds other
    bytes (cut again in place: `head -3000 date.txt > d.txt` after a run on its first 2,000
    lines). `--data COPY` was not looked at, and the refusal named no way on, where eval's
    names `--data COPY --split test`. The copy must hold the bytes the sha256 recorded."""
    changed = f"{recorded} changed since {out} was trained on it"
    if data is None or recorded_path(data) == recorded_path(recorded):
        raise RunError(f"{changed}; cannot resume on it: if you kept a copy of it as it was, "
                       "add --data COPY (fit: config.data; its sha256 is checked)")
    if not Path(data).is_file():
        raise RunError(f"{changed}, and {data} is not a file either; cannot resume on it")
    if file_sha256(data) != sha:
        raise RunError(f"{changed}, and {data} is not the data it was trained on either (its "
                       "sha256 differs from the one recorded); cannot resume on it")
    return recorded_path(data)


# The types a setting takes where its default's type is not the only one: an int is a fine
# number, a Path a fine data path, and target_acc is None unless asked for
_SETTING_TYPES = {"data": ((str, os.PathLike), "a path"), "target_acc": ((int, float), "a number")}


def _check_setting_type(name: str, value, default) -> None:
    if name in _SETTING_TYPES:
        expected, described = _SETTING_TYPES[name]
    elif isinstance(default, float):
        expected, described = (int, float), "a number"
    else:
        expected, described = type(default), f"of type {type(default).__name__}"
    if value is None and default is None:
        return
    if not isinstance(value, expected) or (isinstance(value, bool) and expected is not bool):
        # a data set made in a notebook: fit reads a file, whose sha256 the run records
        hint = (": write it to a file first, write_dataset(dataset, path), and pass the path"
                if isinstance(value, D.Dataset) else "")
        raise OptionError(f"{name} must be {described}, not {value!r}{hint}")


# TrainConfig's fields that a config.json written before they were added lacks: it takes their
# defaults. Every other field is in the "train" of every config.json kanjinum has written.
SETTINGS_ADDED_LATER = ("schedule",)


def _train_config_from(d, where) -> TrainConfig:
    """The training settings saved in a config.json, each of the type it must have."""
    bad = f"{where}: config.json has bad training settings"
    if not isinstance(d, dict):
        raise RunError(bad)
    names = {f.name for f in fields(TrainConfig)}
    # A setting deleted by hand took its default: without its data, the run was said to be
    # trained on a changed data/kanji.txt; without its hidden, state.npz was blamed for
    # weights of the wrong shape. Settings added after runs were first written may be missing.
    lacking = [f.name for f in fields(TrainConfig)
               if f.name not in d and f.name not in SETTINGS_ADDED_LATER]
    if not d:
        raise RunError(f"{where}/config.json lacks the field 'train'")
    if lacking:
        one = len(lacking) == 1
        raise RunError(f"{where}/config.json lacks the training setting{'' if one else 's'} "
                       f"{', '.join(map(repr, lacking))} (under \"train\"): put "
                       f"{'it' if one else 'them'} back as the run was trained")
    config = TrainConfig(**{name: value for name, value in d.items() if name in names})
    try:
        config.check()
    except OptionError as exc:
        raise RunError(f"{bad} ({exc})") from None
    return config


def load_npz(path: Path, max_bytes: int | None = None) -> dict[str, np.ndarray]:
    """All arrays of an npz file, refusing anything that would need pickle to read, and, with
    max_bytes, arrays declaring more bytes than that, before any of them is read."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            if max_bytes is not None and _unpacked_size(npz) > max_bytes:
                _check_declared_bytes(npz, path, max_bytes)
            return {name: npz[name] for name in npz.files}
    except FileNotFoundError:
        raise RunError(f"{path} not found") from None
    except PermissionError:
        raise RunError(f"cannot read {path}: permission denied") from None
    except RunError:  # a ValueError too, and already in words
        raise
    except ValueError as exc:
        if "object arrays" in str(exc).lower() or _is_a_pickle(path):
            raise RunError(f"{path} holds Python objects; refusing to load it") from None
        if "pickle" in str(exc).lower():
            # numpy calls any file that is neither npz nor npy "pickled (object) data": a PNG
            # or a text file copied over model.npz was said to hold Python objects
            raise RunError(f"{path} is damaged or not an npz file") from None
        raise RunError(f"{path} is not a readable weights file ({exc})") from None
    except Exception as exc:  # zipfile.BadZipFile, EOFError, OSError: a damaged file
        raise RunError(f"{path} is damaged or not an npz file ({type(exc).__name__})") from None


def _unpacked_size(npz) -> int:
    """The bytes the npz's members unpack to, as its zip directory states them: the zip reader
    yields no more than that, so arrays within it cannot fill more memory. Reading every
    array's header instead (`_check_declared_bytes`) made load_run a third slower (2.2 ms
    to 2.9 ms for the shipped model), so the headers are read only where this is too much."""
    return sum(info.file_size for info in npz.zip.infolist())


def _check_declared_bytes(npz, path: Path, max_bytes: int) -> None:
    """Each array's header states its shape and dtype, and numpy allocates that much before it
    reads the data: a model.npz of 400 KB (zeros, compressed) took 400 MB to be refused."""
    total = 0
    for member in npz.zip.namelist():
        with npz.zip.open(member) as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(f)
            else:  # kanjinum writes these two versions only
                raise ValueError(f"npy format version {version}")
        total += math.prod(shape) * dtype.itemsize
    if total > max_bytes:
        raise RunError(f"{path} holds arrays of {total:,} bytes, more than a model of this "
                       f"run's sizes needs ({max_bytes:,} at most); refusing to read it")


def weights_budget(model, copies: int = 1) -> int:
    """The most bytes an npz of `copies` sets of the model's weights may declare: float64
    (twice float32) allowed, and room for a progress record."""
    return copies * 2 * sum(p.nbytes for p in model.params) + (1 << 20)


def _is_a_pickle(path: Path) -> bool:
    """Whether a file starts as pickle's protocols 2 to 5 do (read, never unpickled)."""
    try:
        with open(path, "rb") as f:
            head = f.read(2)
    except OSError:
        return False
    return len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def _its_run_folder(path: Path) -> str:
    """Advice for a file of a run named where its folder is meant (`--run runs/a/model.npz`,
    the file a user sees as "the model"): the folder that holds it."""
    if (path.parent / "config.json").is_file():
        return f"; name its folder, {shell_word(path.parent)}"
    return ""


def _refuse_a_trained_run_without_its_model(folder: Path, config: dict) -> None:
    """A run that has trained epochs (its history.json says so) but whose model.npz is gone,
    deleted by hand: it was said to have stopped before its first epoch ended. The next epoch
    of a --resume writes the model again (see _load_state)."""
    try:
        trained = len(read_history(folder))
    except RunError:
        return
    if not trained:
        return
    total = config.get("train", {}).get("epochs") if isinstance(config.get("train"), dict) else 0
    more = "" if isinstance(total, int) and total > trained else f" --epochs {trained + 1}"
    raise RunError(f"{folder} has no model.npz, though it has trained "
                   f"{counted(trained, 'epoch')} (history.json): was it deleted? the next "
                   f"epoch writes it again: kanjinum train --out {shell_word(folder)} "
                   f"--resume{more}")


def read_history(folder: Path) -> list[dict]:
    """A run folder's history.json, its epoch records; [] when it has none yet."""
    path = Path(folder) / "history.json"
    history = read_json(path) if path.exists() else []
    if not isinstance(history, list) or not all(isinstance(r, dict) for r in history):
        raise RunError(f"{path} is not a list of epoch records")
    for k, record in enumerate(history, 1):
        damage = _damaged_record(record)
        if damage:
            raise RunError(f"{path}: epoch record {k} {damage}; each needs an epoch and a "
                           "loss and accuracy that are numbers (put back its values, or a "
                           "copy of the file)")
    return history


def _damaged_record(record: dict) -> str | None:
    """What is wrong with one of history.json's records, edited by hand: a record without its
    accuracy, or with `null` or text for it, trained a whole epoch on --resume and then ended
    in a traceback from curve.png, after every epoch of every later --resume."""
    lacking = [key for key in ("epoch", "loss", "accuracy") if key not in record]
    if lacking:
        return f"has no {', '.join(map(repr, lacking))}"
    for key in ("epoch", "loss", "accuracy"):
        value = record[key]
        wanted = int if key == "epoch" else (int, float)
        if isinstance(value, bool) or not isinstance(value, wanted):
            kind = "a whole number" if key == "epoch" else "a number"
            return f"has {key} {json.dumps(value)}, not {kind}"
    return None


def read_json(path: Path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{path} not found") from None
    except PermissionError:  # a run folder the user cannot read: a usage mistake, exit 2
        raise RunError(f"cannot read {path}: permission denied") from None
    except (ValueError, UnicodeDecodeError):
        raise RunError(f"{path} is not valid JSON") from None


def read_config(folder: Path) -> dict:
    config = read_json(Path(folder) / "config.json")
    if not isinstance(config, dict):
        raise RunError(f"{folder / 'config.json'} is not a run configuration")
    version = config.get("format_version")
    # Every config.json kanjinum has written holds a whole format_version: one without it is
    # another tool's (a downloaded model's config.json), and "upgrade kanjinum" misled there
    if "format_version" not in config:
        raise RunError(f"{folder / 'config.json'} is not a kanjinum run's configuration (it "
                       "has no format_version): name a folder that kanjinum train wrote")
    if not isinstance(version, int) or isinstance(version, bool):
        raise RunError(f"{folder / 'config.json'} has a bad value: format_version must be a "
                       f"whole number, not {version!r}")
    if version > FORMAT_VERSION:
        raise RunError(f"{folder / 'config.json'} has format version {version!r}; this kanjinum "
                       f"reads version {FORMAT_VERSION} or older: upgrade kanjinum")
    return config


# --- loading runs ---------------------------------------------------------------------------


def load_run(folder: str | Path) -> Run:
    """Rebuild a trained model from its run folder, checking every file on the way; "default"
    is the shipped model, as --run default is (a folder of that name: "./default")."""
    if isinstance(folder, str) and folder == "default":
        folder = resolve_run("default")
    if isinstance(folder, str) and not folder.strip():
        # Path("") is the current folder: a notebook's unset variable was told that "." holds
        # runs, or is not one
        raise RunError("the run folder's name is empty: name a run folder, or 'default' for "
                       "the shipped model")
    if not isinstance(folder, (str, os.PathLike)):
        raise TypeError(f"load_run takes a run folder's path, not {type(folder).__name__}")
    folder = user_path(folder)
    if folder.exists() and not folder.is_dir():
        raise RunError(f"{folder} is a file, not a run folder (the folder `kanjinum train` "
                       "wrote, with config.json and model.npz)" + _its_run_folder(folder))
    if not folder.is_dir():
        raise RunError(f"run folder {folder} not found{stray_space(folder)}")
    if not (folder / "config.json").exists():
        runs = [p.name for p in sorted(folder.iterdir(), key=in_the_order_made)
                if (p / "config.json").is_file()]
        if runs:
            # the example is one that can answer: the last by name may have no model yet
            with_model = [name for name in runs if (folder / name / "model.npz").is_file()]
            raise RunError(f"{folder} holds runs, but is not one: name one of them, e.g. "
                           f"--run {shell_word(folder / (with_model or runs)[-1])}")
        raise RunError(f"{folder} is not a run folder: it has no config.json (the folder "
                       "`kanjinum train` wrote)")
    config = read_config(folder)
    try:
        model_config = ModelConfig(**config["model"])
        vocab = D.Vocab(tuple(config["vocab"]))
        question_width = _width(config, "question_width")
        answer_width = _width(config, "answer_width")
        reverse, mask = _flag(config, "reverse"), _flag(config, "mask")
    except KeyError as exc:
        raise RunError(f"{folder / 'config.json'} lacks the field {exc}") from None
    except (TypeError, ValueError) as exc:
        raise RunError(f"{folder / 'config.json'} has a bad value: {exc}") from None
    if not _one_character_each(vocab.chars) or len(vocab) != model_config.vocab_size \
            or D.PAD not in vocab.index or D.START not in vocab.index:
        raise RunError(f"{folder / 'config.json'}: the vocabulary does not fit the model")
    # Checked before anything is allocated from them: a damaged number would ask for terabytes.
    for name, value, largest in (("question_width", question_width, D.MAX_LINE_LENGTH),
                                 ("answer_width", answer_width, D.MAX_LINE_LENGTH),
                                 ("wordvec", model_config.wordvec, MAX_LAYER_SIZE),
                                 ("hidden", model_config.hidden, MAX_LAYER_SIZE)):
        # not true or false: a bool is an int to Python, and numpy sizes no array by one
        if not (isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= largest):
            raise RunError(f"{folder / 'config.json'}: {name} {value!r} is not in 1..{largest}")
    if not (folder / "model.npz").exists() and being_trained(folder):
        # not stopped: advice to --resume or --force it would be refused while it trains
        aside = folder / SET_ASIDE
        waits = (f" (the run it replaces waits in {aside} until then)" if aside.is_dir()
                 else "")
        raise RunError(f"{folder} is being trained now and has no model yet: its first epoch "
                       f"has not ended{waits}; wait for it, or name another run")
    if not (folder / "model.npz").exists() and (folder / "state.npz").exists():
        _refuse_a_trained_run_without_its_model(folder, config)
        raise RunError(f"{folder} has no model.npz yet: it stopped before its first epoch ended; "
                       f"continue it with kanjinum train --out {shell_word(folder)} --resume")
    if not (folder / "model.npz").exists():
        raise RunError(f"{folder} has no model: its training stopped before any checkpoint; "
                       f"start it again with kanjinum train --out {shell_word(folder)} --force"
                       + set_aside_note(folder))
    try:
        model = build_model(model_config)
    except ValueError as exc:  # a config.json edited by hand: bi-attention of an odd hidden size
        raise RunError(f"{folder / 'config.json'} has a bad value: {exc}") from None
    try:
        model.load_params(load_npz(folder / "model.npz", weights_budget(model)))
    except RunError:  # load_npz's own message names the file already
        raise
    except ValueError as exc:
        raise RunError(f"{folder / 'model.npz'}: {exc}") from None
    train = _train_config_from(config.get("train", {}), folder)
    sha = config.get("data", {}).get("sha256", "") if isinstance(config.get("data"), dict) else ""
    question_chars = config.get("question_chars", "")
    if not isinstance(question_chars, str) or not set(question_chars) <= set(vocab.chars):
        raise RunError(f"{folder / 'config.json'}: question_chars does not fit the vocabulary")
    return Run(model, vocab, question_width, answer_width, reverse, mask, train, folder, sha,
               question_chars)


def _width(config: dict, name: str) -> int:
    """A width of config.json as a whole number: int(true) would be a width of 1."""
    value = config[name]
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a whole number, not {value!r}")
    return int(value)


def _flag(config: dict, name: str) -> bool:
    """A yes-or-no field of config.json: bool("false"), a hand-edited string, would be True."""
    value = config[name]
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, not {value!r}")
    return value


def _one_character_each(chars) -> bool:
    """A vocabulary of distinct single characters: an entry edited by hand into "ab", "" or 5
    cannot be looked up (the encoder's ord() raised a TypeError), and a character listed twice
    would be read as one id and written as another."""
    return (all(isinstance(ch, str) and len(ch) == 1 for ch in chars)
            and len(set(chars)) == len(chars))


DEFAULT_RUN = Path(__file__).parent / "default_model"


def resolve_run(name: str | None, runs_root: str | Path = "runs") -> Path:
    """--run as given; without it the run `default_run` takes."""
    if name == "default":
        if (DEFAULT_RUN / "config.json").exists():
            return DEFAULT_RUN
        raise RunError("this kanjinum ships no default model; train one with `kanjinum train`")
    if name is not None and not name.strip():
        raise RunError("--run is empty: name a run folder, or 'default' for the shipped model")
    if name:
        path = Path(home_expanded(name))
        if not path.exists() and (Path(runs_root) / name).exists():
            path = Path(runs_root) / name
        return path
    return default_run(runs_root)[0]


def default_run(runs_root: str | Path = "runs") -> tuple[Path, str]:
    """The run taken when none is named, and why, in words for the user: the run under
    runs_root (relative to the current folder) whose model.npz was written last, else the
    shipped model. The why matters: from a subfolder, or inside runs/ itself, there is no
    runs/ and the shipped model answers; a newer run stopped before its first epoch has no
    model and is passed over; the newest may still be training."""
    root = Path(runs_root)
    folders = [p for p in root.iterdir() if p.is_dir()] if root.is_dir() else []
    runs = [p for p in folders if (p / "config.json").is_file()]
    trained = [p for p in runs if (p / "model.npz").is_file()]
    if trained:
        # saved in the same second (a file system of whole seconds): the last one made
        chosen = max(trained, key=lambda p: ((p / "model.npz").stat().st_mtime,
                                             in_the_order_made(p)))
        saved = (chosen / "model.npz").stat().st_mtime
        why = f"{chosen}, the run under {root}/ whose model was saved last"
        newer = sorted((p for p in runs if p not in trained
                        and (p / "config.json").stat().st_mtime > saved), key=in_the_order_made)
        if newer:
            why += (f" ({', '.join(map(str, newer))}, newer, "
                    f"{'has' if len(newer) == 1 else 'have'} no model yet)")
        if being_trained(chosen):
            why += "; it is still training: its model is the best epoch so far"
        return chosen, why
    if (DEFAULT_RUN / "config.json").exists():
        where = (f"no run under {root}/ has a model yet" if root.is_dir() else
                 # runs -> a disk not mounted: 'there is no runs/' beside the runs in `ls`
                 f"{root} is a link to {os.readlink(root)}, which does not exist"
                 if root.is_symlink() else
                 f"there is no {root}/ in the current folder ({Path.cwd()})"
                 + _runs_nearby(root))
        return DEFAULT_RUN, f"the shipped model: {where}"
    raise RunError(f"no trained model found under {root}/; make one with `kanjinum train`")


def _runs_nearby(root: Path) -> str:
    """Where a user's runs are, seen from inside runs/ (`cd runs; kanjinum eval`) or from a
    folder beside it (`cd data`): the shipped model answered, 100 %, said to be the shipped
    model, but not that the user's own runs were one step away nor how to name them."""
    for folder, where in ((Path("."), "the current folder itself holds runs"),
                          (Path("..") / root, f"../{root}/ holds runs")):
        trained = ([p for p in folder.iterdir() if (p / "config.json").is_file()
                    and (p / "model.npz").is_file()] if folder.is_dir() else [])
        if trained:
            last = max(trained, key=lambda p: ((p / "model.npz").stat().st_mtime,
                                               in_the_order_made(p)))
            return f"; {where}: name one, e.g. --run {shell_word(last)}"
    return ""


def being_trained(folder: Path) -> bool:
    """Whether a training holds the folder now (its lock, `_FolderLocks`): asked without
    waiting, by a shared lock that the training's exclusive one refuses."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no locks to ask
        return False
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)  # closing frees a lock it got
