"""Property-based tests (hypothesis) and a bounded fuzz of the command line."""

import random

from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from kanjinum import data as D
from kanjinum.cli import app
from kanjinum.numerals import STYLES, parse_kanji

runner = CliRunner()
ENV = {"NO_COLOR": "1", "COLUMNS": "200", "TERM": "dumb"}


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(1, 300),
       max_digits=st.integers(3, 20), style=st.sampled_from(STYLES),
       hard_share=st.floats(0, 1))
def test_every_generated_line_parses_back_to_its_answer(seed, size, max_digits, style, hard_share):
    ds = D.generate_kanji(size, max_digits, style, seed, hard_share, include_closed=True)
    assert len(ds) == size and len(set(ds.questions)) == size
    for line in ds.lines():
        question, answer = line[: ds.question_width], line[ds.question_width + 1:]
        assert len(line) == ds.question_width + 1 + ds.answer_width
        assert parse_kanji(question) == int(answer)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("一二三四五六七八九十百千万億兆京〇零壱萬0123456789 _x"), max_size=12))
def test_parser_returns_an_int_or_raises_value_error(text):
    try:
        assert isinstance(parse_kanji(text), int)
    except ValueError:
        pass


def _invoke(args, input=None):
    result = runner.invoke(app, args, env=ENV, input=input)
    assert "Traceback" not in result.output, (args, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        (args, repr(result.exception))
    return result


def test_cli_fuzz_never_ends_in_a_traceback(tmp_path, monkeypatch):
    """320 random and malformed command lines, 40 per command, each ending cleanly (800 took
    40 s, a fifth of the suite, which had grown past 3 minutes); each line tried once."""
    monkeypatch.chdir(tmp_path)
    rng = random.Random(1)
    (tmp_path / "ok.txt").write_text("一_1\n二_2\n三_3\n", encoding="utf-8")
    (tmp_path / "bad.bin").write_bytes(b"\xff\x00\x01")
    commands = ["gen-data", "train", "eval", "attend", "convert", "bench", "nope", ""]
    options = ["--size", "--max-digits", "--style", "--seed", "--hard-share", "--out", "--force",
               "--task", "--data", "--model", "--hidden", "--wordvec", "--batch", "--epochs",
               "--lr", "--run", "--json", "--show", "--errors", "--threads", "--resume",
               "--target-acc", "--interactive", "--per-kind", "--exclude", "--bogus", "-h"]
    values = ["0", "-1", "1", "3", "1e9", "nan", "inf", "abc", "", "一億一", "万万", "ok.txt",
              "bad.bin", "missing.txt", str(tmp_path), "kanji", "daiji", "peeky", "x" * 300,
              "\x00", "１２", "0.5", "-0.5", "99999999999999999999999"]
    started = 0
    tried = set()
    for i in range(40 * len(commands)):  # 40 command lines for each command
        args = [commands[i % len(commands)]]
        for _ in range(rng.randint(0, 4)):
            args.append(rng.choice(options))
            if rng.random() < 0.8:
                args.append(rng.choice(values))
        # Nothing here may train for real: a tiny epoch count keeps any valid run short.
        if args[0] == "train":
            args += ["--epochs", "1", "--hidden", "4", "--batch", "1", "--data", "ok.txt"]
            started += 1
        if args[0] == "bench":  # the real benchmark takes minutes; its quick mode seconds
            args += ["--quick", "--models", "seq2seq", "--data", "addition", "--no-torch"]
        args = [a for a in args if a != ""]
        if tuple(args) in tried:  # a plain `eval` came up 14 times, 10 s of the suite
            continue
        tried.add(tuple(args))
        _invoke(args, input="一\n\n")
    assert started > 10
