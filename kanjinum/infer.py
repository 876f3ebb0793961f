"""Answering numerals a user types: checks, the model's answer, and the parser's truth."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kanjinum.errors import VocabError, not_utf8, shortened
from kanjinum.numerals import fold_look_alikes, parse_kanji
from kanjinum.train import Run, check_is_run


@dataclass
class Answer:
    """A model's answer to one numeral, with its attention and the rule-based parser's truth."""

    question: str
    answer: str
    weights: np.ndarray | None        # (output chars, input chars) in reading order
    truth: int | str | None           # the right answer where it is known (`_truth`)
    truth_error: str = ""

    @property
    def correct(self) -> bool | None:
        return None if self.truth is None else self.answer == str(self.truth)

    def __repr__(self) -> str:
        # the weights' shape, not their values: a notebook cell stays a line
        shape = None if self.weights is None else "x".join(map(str, np.shape(self.weights)))
        error = f", truth_error={self.truth_error!r}" if self.truth_error else ""
        return (f"Answer(question={self.question!r}, answer={self.answer!r}, "
                f"truth={self.truth!r}, correct={self.correct}, weights={shape}{error})")

    def panel(self) -> dict:
        return {"question": self.question, "answer": self.answer, "weights": self.weights,
                "title": f"{self.question} → {self.answer or '(nothing)'}{self._verdict()}"}

    def _verdict(self) -> str:
        # In words: the ballot boxes ☑ ☒ are not in the Japanese font, and its maru ○ is the
        # circle people type for 〇, so that "100000001 ○" read as one zero more.
        if self.correct is None:
            return " (the parser cannot read it)" if self.truth_error else ""
        return " (right)" if self.correct else f" (wrong: {self.truth})"


def reads_numerals(run: Run) -> bool:
    """A model of kanji numerals (`Run.reads_numerals`): not of the book's dates or additions,
    nor of a task of plain digits."""
    return run.reads_numerals


def check_numeral(run: Run, text: str) -> str:
    """The numeral without surrounding spaces, or a VocabError saying why the model can't read it."""
    typed = _strip_unread_space(run, text)
    why = not_utf8(typed)
    if why is not None:
        raise VocabError(why)
    if not typed:
        example = "一億一" if reads_numerals(run) else "one like those it was trained on"
        raise VocabError(f"empty {question_word(run)}: type {example}")
    # ⼀億⼀ (Kangxi radicals) is 一億一; a character the model reads is taken as typed: a
    # model of the user's own characters may read a full-width Ａ or a no-break space, which
    # folded to A and a space it does not read (a traceback, from the message's making)
    readable = run.readable_chars
    numeral = "".join(ch if ch in readable else fold_look_alikes(ch) for ch in typed)
    why = run.why_unreadable(numeral)
    if why is None:
        return numeral
    # Named as typed (folding is one character for one): ' ' would hide a full-width space
    unknown = "".join(t for t, f in zip(typed, numeral) if f not in run.readable_chars)
    if unknown:
        why = run.why_unreadable(unknown) + f"; allowed characters: {run.readable_chars}"
    raise VocabError(f"{shortened(typed)!r}: {why}")


def _strip_unread_space(run: Run, text: str) -> str:
    """The text without the spaces around it, and without other white space there that the
    model does not read. A model of the user's own characters may read a tab or a no-break
    space: `attend 'é\u00a0'` asked it 'é' instead, and a question that is a tab was empty."""
    readable = run.readable_chars

    def unread(ch: str) -> bool:
        return ch.isspace() and (ch == " " or ch not in readable)

    start, end = 0, len(text)
    while start < end and unread(text[start]):
        start += 1
    while end > start and unread(text[end - 1]):
        end -= 1
    return text[start:end]


def question_word(run: Run) -> str:
    return "numeral" if reads_numerals(run) else "question"


def _truth(run: Run, question: str, lines: dict[str, str]) -> tuple[int | str | None, str]:
    """The right answer where it is known, and why not where the rule cannot read the
    question: the parser's for a model of numerals, the sum for one of additions (its answers
    were shown unjudged, `? 108`, though the sum is easy to do); for other tasks (the book's
    dates) the answer of the question's line in lines, the run's data file."""
    if question in lines:
        return lines[question], ""
    if run.reads_numerals:
        try:
            return parse_kanji(question), ""
        except ValueError as exc:
            return None, str(exc)
    if run.reads_additions:
        terms = question.split("+")
        if len(terms) == 2 and all(t.strip().isdigit() for t in terms):
            return int(terms[0]) + int(terms[1]), ""
    return None, ""


def answer_numerals(run: Run, texts: list[str]) -> list[Answer]:
    """The model's answers for numerals typed by a user; every one is checked before any runs."""
    check_is_run(run, "answer_numerals")
    if not isinstance(texts, str):
        # read once here, as predict does: the check below used a generator up, and the
        # answers were an empty list, without a word
        texts = list(texts)
    if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
        raise TypeError("answer_numerals takes a list of numerals as strings; for one, pass "
                        "[numeral]")
    numerals = [check_numeral(run, t) for t in texts]
    lines = {} if run.reads_numerals or run.reads_additions else run.data_file_answers
    truths = []
    for numeral in numerals:
        truth, error = _truth(run, numeral, lines)
        if isinstance(truth, int) and len(str(truth)) > run.answer_width:
            # its answer would be cut to the width, a wrong number given as an answer
            raise VocabError(f"{shortened(numeral)!r} is {truth:,}, {len(str(truth))} digits: "
                             f"this model writes answers of at most {run.answer_width}")
        truths.append((truth, error))
    answers, weights = run.predict(numerals)
    return [Answer(numeral, answer, w, truth, error)
            for numeral, answer, w, (truth, error) in zip(numerals, answers, weights, truths)]
