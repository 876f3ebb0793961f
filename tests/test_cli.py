import json
import warnings

import numpy as np
import pytest
from typer.testing import CliRunner

from kanjinum import data as D
from kanjinum.cli import app
from kanjinum.train import load_npz, load_run

runner = CliRunner()
ENV = {"NO_COLOR": "1", "COLUMNS": "200", "TERM": "dumb"}


def run(*args, input=None):
    return runner.invoke(app, [str(a) for a in args], env=ENV, input=input)


def assert_clean_error(result, code=2):
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny attention model on tiny data: enough to exercise every command."""
    folder = tmp_path_factory.mktemp("cli")
    data = folder / "small.txt"
    assert run("gen-data", "--size", 400, "--max-digits", 4, "--seed", 1, "--out", data).exit_code == 0
    result = run("train", "--data", data, "--hidden", 24, "--wordvec", 8, "--batch", 32,
                 "--epochs", 2, "--lr", 0.01, "--out", folder / "runs" / "tiny")
    assert result.exit_code == 0, result.output
    return folder


def test_help_lists_the_commands():
    result = run("--help")
    assert result.exit_code == 0
    for command in ("gen-data", "train", "eval", "attend", "convert"):
        assert command in result.output


@pytest.mark.parametrize("command", [[], ["gen-data"], ["train"], ["eval"], ["attend"],
                                     ["convert"]])
def test_help_shows_no_value_beside_flags(command):
    """typer printed `<bool>` beside --mask/--no-mask, --errors and --help, as if they took a
    value, and `<str>` for the files."""
    result = run(*command, "--help")
    assert result.exit_code == 0
    assert "<bool>" not in result.output and "<str>" not in result.output
    assert "--help" in result.output


@pytest.mark.parametrize("command", [[], ["gen-data"], ["train"], ["eval"], ["attend"],
                                     ["convert"]])
def test_help_is_not_cut_short_in_an_80_column_terminal(command):
    """rich ends a word longer than its column with an ellipsis: in 80 columns train's --out
    read `Default: runs/<model>-<date>…`, the time lost."""
    result = runner.invoke(app, [*command, "--help"], env={**ENV, "COLUMNS": "80"})
    assert result.exit_code == 0
    assert "…" not in result.output, [line for line in result.output.splitlines() if "…" in line]


@pytest.mark.parametrize("command, name", [("attend", "NUMERAL"), ("convert", "NUMBER")])
def test_help_names_what_the_arguments_are(command, name):
    """typer printed Python's `<list[str]>` beside the numerals, and `{numbers}...` in the
    usage line."""
    result = run(command, "--help")
    assert result.exit_code == 0
    assert "list[" not in result.output and name in result.output


@pytest.mark.parametrize("command, usage", [("convert", "[OPTIONS] NUMBER..."),
                                            ("attend", "[OPTIONS] [NUMERAL]...")])
def test_the_usage_line_writes_a_required_argument_plainly(command, usage):
    """`Usage: kanjinum convert [OPTIONS] {NUMBER}...`: typer's braces for a required
    argument, which usage lines elsewhere use for a choice of alternatives."""
    result = run(command, "--help")
    assert result.exit_code == 0
    assert f"Usage: kanjinum {command} {usage}" in result.output, result.output
    assert "{" not in result.output.split("Usage:")[1].splitlines()[0]


def test_train_help_names_every_file_of_a_run_folder():
    """train --help listed config.json, model.npz, history.json and curve.png, but not
    state.npz, the largest file of the folder and the one --resume needs."""
    from kanjinum.train import RUN_FILES

    for output in (run("train", "--help").output, run("--help").output):
        for name in RUN_FILES:
            assert name in output, name


def test_convert_help_says_which_forms_it_reads_and_refuses():
    """convert --help said only `一億一 → 100000001`: which forms it reads (一千, 壱, 3億5千万,
    二〇二六) and refuses (commas, signs) was in docs/numerals.md, which pip install . does not
    bring."""
    result = run("convert", "--help")
    assert result.exit_code == 0
    for named in ("一千", "零", "壱", "3億5千万", "二〇二六", "commas", "signs", "decimal", "京",
                  "10**20"):
        assert named in result.output, named
    # each paragraph one line in ENV's wide terminal: typer keeps a docstring's line breaks,
    # and the help came out ragged, broken mid-sentence
    lines = result.output.splitlines()
    assert any("Numerals are read" in line and "二〇二六" in line for line in lines), result.output
    assert any("Refused" in line and "京" in line for line in lines), result.output


@pytest.mark.parametrize("args, expected", [
    (["一億一"], "100000001"),
    (["100000001", "--style", "daiji"], "壱億壱"),
    (["3210", "--style", "positional"], "三二一〇"),
    (["三兆九千億"], "3900000000000"),
    # found by a new user: look-alikes, full-width integers, leading zeros, -0
    (["二○二六"], "2026"),                       # ○ U+25CB, how years are often typed
    (["千◯五"], "1005"),                          # ◯ U+25EF
    (["\u2f00億\u2f00"], "100000001"),            # Kangxi radicals, as copied from PDFs
    (["１２３", "--style", "daiji"], "壱百弐拾参"),  # a full-width integer is one to write
    (["000000000000000000001"], "一"),
    (["--", "-0"], "〇"),
])
def test_convert(args, expected):
    result = run("convert", *args)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == expected


@pytest.mark.parametrize("bad", ["万万", "abc", "十十", "100000000000000000000"])
def test_convert_bad_input_is_one_line(bad):
    result = run("convert", bad)
    assert_clean_error(result)
    assert len(result.output.strip().splitlines()) == 1


def test_convert_names_the_code_point_of_a_look_alike():
    result = run("convert", "ニ十")  # katakana ニ, not the numeral 二
    assert_clean_error(result)
    assert "U+30CB" in result.output


def test_attend_reads_look_alikes_and_names_what_it_cannot(tmp_path):
    result = run("attend", "--run", "default", "--out", tmp_path / "a.png", "\u2f00億\u2f00")
    assert result.exit_code == 0, result.output
    assert "100000001" in result.output
    result = run("attend", "--run", "default", "--out", tmp_path / "b.png", "ニ十")
    assert_clean_error(result)
    assert "U+30CB" in result.output and not (tmp_path / "b.png").exists()


def test_gen_data_writes_and_refuses_to_overwrite(tmp_path):
    out = tmp_path / "k.txt"
    first = run("gen-data", "--size", 500, "--out", out)
    assert first.exit_code == 0 and "500" in first.output and str(out) in first.output
    content = out.read_bytes()
    again = run("gen-data", "--size", 500, "--out", out, "--seed", 9)
    assert_clean_error(again)
    assert out.read_bytes() == content
    forced = run("gen-data", "--size", 500, "--out", out, "--force")
    assert forced.exit_code == 0 and out.read_bytes() == content  # same options, same bytes


@pytest.mark.parametrize("args", [["--size", "0"], ["--hard-share", "2"], ["--max-digits", "0"],
                                  ["--task", "nope"], ["--size", "x"], ["--style", "roman"],
                                  ["--seed", "-1"], ["--seed", str(2**32)],
                                  ["--task", "hard", "--seed", "-5"],
                                  ["--task", "addition", "--seed", "-1"]])
def test_gen_data_bad_options(tmp_path, args):
    result = run("gen-data", "--out", tmp_path / "x.txt", *args)
    assert_clean_error(result)
    assert not (tmp_path / "x.txt").exists()


@pytest.mark.parametrize("args, message", [
    (["--per-kind", "0"], "--per-kind must be between 1 and 10,000, not 0"),
    (["--per-kind", "20000"], "--per-kind must be between 1 and 10,000, not 20,000"),
    (["--max-digits", "0"], "--max-digits must be between 1 and 20, not 0"),
])
def test_gen_data_hard_names_a_bad_value_before_any_file(tmp_path, monkeypatch, args, message):
    """--task hard checked --per-kind and --max-digits after --exclude was read and the output
    found free: `--per-kind 0` was answered 'data/hard.txt exists; pass --force' or 'data file
    missing.txt not found', and its own message ('at least 1') was not hard_dataset's."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "hard.txt").write_text("mine", encoding="utf-8")
    for exclude in ([], ["--exclude", "missing.txt"]):
        result = run("gen-data", "--task", "hard", *args, *exclude)
        assert_clean_error(result)
        assert result.output.strip() == f"error: {message}"
    assert (tmp_path / "data" / "hard.txt").read_text(encoding="utf-8") == "mine"


def test_gen_data_addition_and_hard(tmp_path):
    add = tmp_path / "add.txt"
    assert run("gen-data", "--task", "addition", "--size", 300, "--out", add).exit_code == 0
    line = add.read_text(encoding="utf-8").splitlines()[0]
    assert len(line) == 12 and line[7] == "_"
    hard = tmp_path / "hard.txt"
    result = run("gen-data", "--task", "hard", "--per-kind", 20, "--out", hard)
    assert result.exit_code == 0, result.output
    assert "一億一" in hard.read_text(encoding="utf-8")


def test_train_writes_the_run_folder(trained):
    folder = trained / "runs" / "tiny"
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    for key in ("model", "vocab", "reverse", "mask", "data", "split_seed", "question_width"):
        assert key in config
    assert len(config["data"]["sha256"]) == 64
    history = json.loads((folder / "history.json").read_text(encoding="utf-8"))
    assert [h["epoch"] for h in history] == [1, 2]
    assert history[1]["loss"] < history[0]["loss"]
    with np.load(folder / "model.npz", allow_pickle=False) as npz:
        assert "decoder.affine.W" in npz.files
    assert (folder / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_eval_json(trained, monkeypatch):
    monkeypatch.chdir(trained)
    result = run("eval", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    # the book's tenth, less the closed-kind numbers that the split keeps in training
    closed_in_test = 40 - summary["total"]
    assert 0 <= closed_in_test <= 36 and 0 <= summary["accuracy"] <= 1
    assert sum(row["total"] for row in summary["by_length"].values()) == summary["total"]
    assert "by_kind" in summary


def test_eval_says_it_read_the_test_split_or_the_whole_file(trained):
    """Plain `kanjinum eval` printed `run R on /…/data/kanji.txt: 100.000% exact match (4,990
    of 4,990)`, as if it had read the file's 50,000 lines; it reads the run's test split."""
    tiny = trained / "runs" / "tiny"
    result = run("eval", "--run", tiny)
    assert result.exit_code == 0, result.output
    assert f"on the test split of {trained / 'small.txt'}: " in result.output
    assert json.loads(run("eval", "--run", tiny, "--json").output)["split"] == "test"
    result = run("eval", "--run", tiny, "--data", trained / "small.txt")
    assert f"on {trained / 'small.txt'}: " in result.stdout and "test split" not in result.stdout
    assert " of 400)" in result.output  # every line of the file
    assert json.loads(run("eval", "--run", tiny, "--data", trained / "small.txt",
                          "--json").output)["split"] == "all"


def test_eval_counts_unknown_characters(trained, tmp_path):
    data = tmp_path / "odd.txt"
    data.write_text("三百五  _305 \n三百x  _300 \n", encoding="utf-8")
    result = run("eval", "--run", trained / "runs" / "tiny", "--data", data, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["total"] == 2 and summary["unreadable"] == 1


def test_one_mislabelled_line_keeps_the_table_by_kind(trained, tmp_path):
    """A file of numerals with one typo (三百 _301) lost eval's whole table by kind, and
    by_kind in --json, without a word; the line is now a kind of its own, and said so."""
    data = tmp_path / "typo.txt"
    data.write_text("三百五  _305 \n三百   _301 \n五十   _50  \n", encoding="utf-8")
    result = run("eval", "--run", trained / "runs" / "tiny", "--data", data, "--json")
    assert result.exit_code == 0, result.output
    kinds = json.loads(result.output)["by_kind"]
    assert kinds["mismatched"]["total"] == 1 and list(kinds)[-1] == "mismatched"
    assert sum(row["total"] for row in kinds.values()) == 3
    result = run("eval", "--run", trained / "runs" / "tiny", "--data", data)
    assert "by kind of number" in result.output
    assert "1 line's answer is not its question's value" in result.output
    # --errors marks the line as the file's miss as much as the model's
    result = run("eval", "--run", trained / "runs" / "tiny", "--data", data, "--show", 3,
                 "--errors")
    assert "T 301 (not the question's value: a typo in the file?)" in result.output
    # the book's sums, and a task of plain digits (121 → 121 reads as a numeral), have no
    # kinds at all: no table; a file of numerals whose every line is a typo has its row
    from kanjinum.train import Evaluation

    assert Evaluation(["1+2", "3+4"], ["3", "7"], ["3", "8"], {}).by_kind() is None
    assert Evaluation(["121", "123"], ["121", "321"], ["121", "3"], {}).by_kind() is None
    assert list(Evaluation(["三百", "五十"], ["301", "51"], ["3", "5"], {}).by_kind()) == [
        "mismatched"]


def test_eval_shows_examples(trained):
    result = run("eval", "--run", trained / "runs" / "tiny", "--show", 3)
    assert result.exit_code == 0, result.output
    assert result.output.count("Q ") == 3 and "by answer length" in result.output


def test_attend_says_why_the_parser_cannot_read_a_numeral_without_its_name(tmp_path):
    """The line read '(the parser cannot read it: parse_kanji: unexpected ...)'."""
    result = run("attend", "億億", "--run", "default", "--out", tmp_path / "a.png")
    assert result.exit_code == 0, result.output
    assert ("T (the parser cannot read it: unexpected '億' at position 1 in '億億'"
            in result.output)
    assert "parse_kanji" not in result.output


@pytest.mark.parametrize("args", [["convert", "\udcff\udcfe"],
                                  ["attend", "\udcff", "--run", "default"]])
def test_bytes_that_are_not_utf8_are_named_as_such(args, tmp_path, monkeypatch):
    """Latin-1 bytes in an argument or on stdin were named as the stand-in characters Python
    makes of them: "'\\udcff' (U+DCFF) is not a character this model reads"."""
    monkeypatch.chdir(tmp_path)
    result = run(*args)
    assert_clean_error(result)
    assert "the input is not UTF-8 text (bytes ff" in result.output
    assert "U+DC" not in result.output


@pytest.mark.parametrize("args, message", [
    (["--seed", "-1"], "--seed must be in 0..4294967295, not -1"),
    (["--size", "0"], "--size must be at least 1, not 0"),
    (["--max-digits", "0"], "--max-digits must be between 1 and 20, not 0"),
])
def test_gen_data_names_a_bad_value_before_an_existing_file(tmp_path, monkeypatch, args,
                                                            message):
    """In a checkout (data/kanji.txt exists) a bad value was answered 'data/kanji.txt exists;
    pass --force', and with --force it would have been named only then."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "kanji.txt").write_text("mine", encoding="utf-8")
    result = run("gen-data", *args)
    assert_clean_error(result)
    assert result.output.strip() == f"error: {message}"
    assert (tmp_path / "data" / "kanji.txt").read_text(encoding="utf-8") == "mine"


@pytest.mark.parametrize("args, out, message", [
    (["--size", "1000001"], "kanji.txt",
     "gen-data writes at most 1,000,000 lines; ask for --size 1000000 or fewer"),
    (["--size", "500", "--max-digits", "2"], "kanji.txt",
     "only 99 distinct numbers have at most 2 digits; ask for --size 99 or fewer"),
    (["--task", "addition", "--size", "0"], "addition.txt",
     "--size must be between 1 and 1,000,000 for the addition task"),
    (["--task", "addition", "--size", "2000000"], "addition.txt",
     "--size must be between 1 and 1,000,000 for the addition task"),
])
def test_gen_data_names_a_size_beyond_its_limits_before_an_existing_file(
        tmp_path, monkeypatch, args, out, message):
    """A --size beyond what gen-data writes (or the numbers there are), and any bad --size of
    the addition task, were checked only after the output: in a checkout the user was told
    'data/kanji.txt exists; pass --force', and only with --force that the size was wrong."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / out).write_text("mine", encoding="utf-8")
    result = run("gen-data", *args)
    assert_clean_error(result)
    assert result.output.strip() == f"error: {message}"
    assert (tmp_path / "data" / out).read_text(encoding="utf-8") == "mine"


@pytest.mark.parametrize("size", [{"COLUMNS": "0"}, {"COLUMNS": "0", "LINES": "0"}])
def test_a_terminal_size_of_zero_still_prints_everything(size):
    """COLUMNS=0 (a terminal with no size yet, as in some containers; to Python's shutil it
    means "ask the terminal") made rich print nothing: convert answered nothing with status 0,
    and a mistake ended with status 2 and no line at all."""
    env = {**ENV, **size}
    answered = runner.invoke(app, ["convert", "一億一"], env=env)
    assert answered.exit_code == 0 and answered.output.strip() == "100000001"
    refused = runner.invoke(app, ["train", "--hidden", "0"], env=env)
    assert_clean_error(refused)
    assert refused.output.strip() == "error: --hidden must be at least 1, not 0"
    helped = runner.invoke(app, ["convert", "--help"], env=env)
    assert helped.exit_code == 0 and "--style" in helped.output


@pytest.mark.parametrize("args, option, taken", [
    (["gen-data", "--size", "3", "--out", "--force"], "--out", "--force"),
    (["gen-data", "--out", "-h"], "--out", "-h"),
    (["gen-data", "--task", "hard", "--exclude", "--out", "h.txt"], "--exclude", "--out"),
    (["train", "--out", "--resume"], "--out", "--resume"),
    (["train", "--data", "--model", "peeky"], "--data", "--model"),
    (["eval", "--run", "--json"], "--run", "--json"),
    (["eval", "--run", "default", "--data", "--show"], "--data", "--show"),
    (["attend", "一", "--run", "default", "--out", "--interactive"], "--out", "--interactive"),
])
def test_an_option_left_without_its_value_is_not_taken_for_it(tmp_path, monkeypatch, args,
                                                               option, taken):
    """click takes the next word for a value, options too: `gen-data --size 3 --out --force`
    wrote a file named --force (the user's --force lost), `gen-data --out -h` 50,000 lines to
    -h, and `train --out --resume` trained a new 20-epoch run into a folder named --resume."""
    monkeypatch.chdir(tmp_path)
    result = run(*args)
    assert_clean_error(result)
    assert result.output.startswith(f"error: Invalid value for '{option}': {taken} is one of "
                                    f"the options: was the value of {option} left out?")
    assert len(result.output.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []
    # named as the message says, such a file is written
    assert run("gen-data", "--size", 3, "--out", "./--force").exit_code == 0
    assert (tmp_path / "--force").is_file()


@pytest.mark.parametrize("command, option, stated, refused", [
    ("gen-data", "--size", "1 to 1,000,000", "1000001"),
    ("gen-data", "--max-digits", "1 to 20", "21"),
    ("gen-data", "--seed", "0 to 2**32-1", str(2**32)),
    ("gen-data", "--hard-share", "0 to 1", "1.5"),
    ("gen-data", "--per-kind", "1 to 10,000", "10001"),
    ("train", "--wordvec", "1 to 4096", "4097"),
    ("train", "--hidden", "1 to 4096", "4097"),
    ("train", "--epochs", "at most 10,000", "10001"),
    ("train", "--lr-decay", "above 0, at most 1", "0"),
    ("train", "--seed", "0 to 2**32-1", str(2**32)),
    ("train", "--split-seed", "0 to 2**32-1", "-1"),
    ("train", "--target-acc", "above 0, at most 1", "0"),
])
def test_help_states_the_ranges_the_options_are_held_to(tmp_path, command, option, stated,
                                                        refused):
    """--help said nothing of the ranges the code enforces (--size at most 1,000,000,
    --max-digits 1 to 20, --hidden at most 4096, …), and --target-acc said "(0-1)", where 0 is
    refused."""
    result = runner.invoke(app, [command, "--help"], env={**ENV, "COLUMNS": "400"})
    row = next(line for line in result.output.splitlines() if f" {option} " in line)
    assert stated in row, row
    out = ["--out", tmp_path / ("x.txt" if command == "gen-data" else "r")]
    if option == "--per-kind":
        out += ["--task", "hard"]
    refusal = run(command, option, refused, *out)
    assert_clean_error(refusal)
    assert refusal.output.startswith("error: ") and option in refusal.output


@pytest.mark.parametrize("args, option, taken, said", [
    (["gen-data", "--out", "--size=3"], "--out", "--size=3", "is one of the options"),
    (["train", "--out", "--epochs=1"], "--out", "--epochs=1", "is one of the options"),
    (["gen-data", "--size", "3", "--out", "--"], "--out", "--", "looks like an option"),
    (["gen-data", "--size", "3", "--out", "--froce"], "--out", "--froce", "looks like an option"),
    (["eval", "--data", "--sohw", "3"], "--data", "--sohw", "looks like an option"),
])
def test_an_option_in_any_form_is_not_taken_for_a_left_out_value(tmp_path, monkeypatch, args,
                                                                  option, taken, said):
    """Only an option's bare name was refused as a value: `gen-data --out --size=3` wrote a file
    named --size=3, `--out --` one named --, and `--out --froce` (a typo of --force) one
    named --froce, where argparse, behind bench, says `expected one argument` to each."""
    monkeypatch.chdir(tmp_path)
    result = run(*args)
    assert_clean_error(result)
    assert result.output.startswith(f"error: Invalid value for '{option}': {taken} {said}: was "
                                    f"the value of {option} left out?"), result.output
    assert list(tmp_path.iterdir()) == []


def test_gen_data_piped_prints_no_blank_line(tmp_path):
    """The spinner, off when the output is not a terminal, still left a blank line on stderr,
    before 'wrote …' and before an error's one line."""
    result = run("gen-data", "--size", 50, "--out", tmp_path / "k.txt")
    assert result.exit_code == 0 and result.output.startswith("wrote 50 lines"), result.output
    result = run("gen-data", "--seed", -1, "--out", tmp_path / "k2.txt")
    assert result.output.startswith("error: --seed"), result.output


def test_train_piped_prints_no_blank_lines(tmp_path):
    """`kanjinum train | tee log.txt`: the progress bar, not drawn when the output is not a
    terminal, still left a blank line before every epoch's line (found by a new user, round 12)."""
    data = tmp_path / "k.txt"
    assert run("gen-data", "--size", 100, "--max-digits", 3, "--out", data).exit_code == 0
    result = run("train", "--data", data, "--hidden", 4, "--wordvec", 4, "--batch", 16,
                 "--epochs", 2, "--show", 1, "--out", tmp_path / "r")
    assert result.exit_code == 0, result.output
    assert "\n\n" not in result.output and "epoch 2:" in result.output, result.output


def test_an_empty_answer_is_shown_as_nothing_in_examples():
    """train's and eval's examples printed `☒ ` and then nothing when the model answered
    nothing (a first epoch often does), where attend says `(nothing)` (round 12)."""
    import io

    from rich.console import Console

    from kanjinum.cli import print_example
    from kanjinum.train import Evaluation

    screen = io.StringIO()
    evaluation = Evaluation(["三百五"], ["305"], [""], {})
    print_example(Console(file=screen, width=100), evaluation, 0)
    assert screen.getvalue().splitlines()[:3] == ["Q 三百五", "T 305", "☒ (nothing)"]


def test_attend_writes_a_heatmap(trained, tmp_path):
    out = tmp_path / "a.png"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing glyph would warn
        result = run("attend", "一", "三百五", "--run", trained / "runs" / "tiny", "--out", out)
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "T 305" in result.output


def test_attend_into_a_folder_it_cannot_write_says_so_before_answering(trained, tmp_path,
                                                                      monkeypatch):
    """It printed the answers, then named a hidden temporary file: '.a.png.r0mg6524.tmp'."""
    import kanjinum.fileio as fileio
    locked = tmp_path / "locked"
    locked.mkdir()
    monkeypatch.setattr(fileio.os, "access", lambda path, mode: fileio.Path(path) != locked)
    result = run("attend", "一", "--run", trained / "runs" / "tiny", "--out", locked / "a.png")
    assert_clean_error(result)
    assert "cannot write in the folder" in result.output and "T 1" not in result.output


def test_attend_refuses_numbers_longer_than_the_models_answers(tmp_path):
    """十兆 (14 digits) got a 13-digit answer, cut to the model's width, marked only ☒."""
    out = tmp_path / "a.png"
    result = run("attend", "一億", "十兆", "--run", "default", "--out", out)
    assert_clean_error(result)
    assert "10,000,000,000,000, 14 digits" in result.output and "at most 13" in result.output
    assert not out.exists()
    result = run("attend", "九兆九千九百九十九億九千九百九十九万九千九百九十九", "--run", "default",
                 "--out", out)
    assert result.exit_code == 0 and "9999999999999" in result.output


def test_a_folder_or_file_given_as_a_numeral_is_named_as_such(tmp_path, monkeypatch):
    """`attend --run runs/* 一` (the glob gives --run its first match, the rest are taken as
    numerals), `attend runs/a 一`, `attend nums.txt`: they were told that '/' and the name's
    letters are not characters this model reads."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "b").mkdir(parents=True)
    (tmp_path / "nums.txt").write_text("一\n", encoding="utf-8")
    result = run("attend", "--run", "default", "runs/b", "一")
    assert_clean_error(result)
    assert "runs/b is a folder here, not a numeral" in result.output and "--run" in result.output
    result = run("attend", "nums.txt", "--run", "default")
    assert_clean_error(result)
    assert "attend --interactive < nums.txt" in result.output
    assert not (tmp_path / "attention.png").exists()
    (tmp_path / "一").mkdir()  # a name the model reads is answered as a numeral
    assert run("attend", "一", "--run", "default").exit_code == 0


def test_a_failed_write_names_the_users_file_not_the_temporary_one(tmp_path, monkeypatch):
    import errno

    import kanjinum.fileio as fileio

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(tmp_path / ".x.json.abc.tmp"))

    monkeypatch.setattr(fileio.tempfile, "mkstemp", read_only)
    with pytest.raises(OSError) as caught:
        fileio.atomic_write_text(tmp_path / "x.json", "{}")
    assert caught.value.filename == str(tmp_path / "x.json")
    assert caught.value.errno == errno.EROFS


@pytest.mark.parametrize("numeral, message", [("", "empty"), ("一x", "allowed characters"),
                                              ("一" * 30, "at most")])
def test_attend_bad_numerals(trained, tmp_path, numeral, message):
    result = run("attend", numeral, "--run", trained / "runs" / "tiny", "--out", tmp_path / "a.png")
    assert_clean_error(result)
    assert message in result.output
    assert not (tmp_path / "a.png").exists()


@pytest.mark.parametrize("numeral", ["_", "一 億", "1億", "一_二"])
@pytest.mark.parametrize("where", ["trained", "default"])
def test_attend_reads_only_the_characters_of_questions(trained, tmp_path, numeral, where):
    """The vocabulary also holds the answers' digits, the padding (a space) and the start mark
    `_`: a numeral made of those used to get an answer, 一 億 as 1000000000."""
    folder = trained / "runs" / "tiny" if where == "trained" else "default"
    result = run("attend", numeral, "--run", folder, "--out", tmp_path / "a.png")
    assert_clean_error(result)
    assert "allowed characters: 一二三四" in result.output
    assert "0" not in result.output.split("allowed characters:")[1]
    assert not (tmp_path / "a.png").exists()


def test_a_run_records_the_characters_it_reads(trained):
    saved = json.loads((trained / "runs" / "tiny" / "config.json").read_text(encoding="utf-8"))
    assert saved["question_chars"].startswith("一二三四五六七八九十百千")
    assert not set(saved["question_chars"]) & set("0123456789 _")


def test_a_long_numeral_is_shortened_in_its_error(trained, tmp_path):
    result = run("attend", "x" * 5000, "--run", trained / "runs" / "tiny", "--out",
                 tmp_path / "a.png")
    assert_clean_error(result)
    assert len(result.output) < 400


def test_attend_answers_with_models_without_attention_and_draws_nothing(tmp_path):
    """A peeky model was refused outright: no command answered a typed question with it."""
    data = tmp_path / "d.txt"
    run("gen-data", "--size", 100, "--max-digits", 3, "--out", data)
    assert run("train", "--data", data, "--model", "peeky", "--hidden", 8, "--epochs", 1,
               "--batch", 32, "--out", tmp_path / "p").exit_code == 0
    out = tmp_path / "a.png"
    result = run("attend", "三", "百", "--run", tmp_path / "p", "--out", out)
    assert result.exit_code == 0, result.output
    assert "T 3" in result.output and "T 100" in result.output and "no heatmap" in result.output
    assert not out.exists()
    result = run("attend", "--interactive", "--run", tmp_path / "p", "--out", out, input="三\n\n")
    assert result.exit_code == 0 and "T 3" in result.output and not list(tmp_path.glob("a-*.png"))
    # piped numerals, the first refused: the note comes once, after the first answer (it
    # followed every answer, round 40)
    result = run("attend", "--interactive", "--run", tmp_path / "p", "--out", out,
                 input="x\n三\n百\n五\n")
    assert result.output.count("no heatmap") == 1, result.output
    assert result.output.index("Q 三") < result.output.index("no heatmap") < \
        result.output.index("Q 百")


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path):
    data = tmp_path / "d.txt"
    run("gen-data", "--size", 300, "--max-digits", 4, "--out", data)
    # Extending a run keeps the learning rate only with a schedule that ignores the epoch count.
    common = ["train", "--data", data, "--hidden", 16, "--wordvec", 8, "--batch", 64,
              "--schedule", "constant"]
    assert run(*common, "--epochs", 3, "--out", tmp_path / "full").exit_code == 0
    assert run(*common, "--epochs", 1, "--out", tmp_path / "part").exit_code == 0
    result = run("train", "--resume", "--epochs", 3, "--out", tmp_path / "part")
    assert result.exit_code == 0, result.output
    # its first line says "writing part" as a new run's does; the next says it is resumed
    assert result.output.splitlines()[1] == "resuming at epoch 2 of 3", result.output
    full = load_npz(tmp_path / "full" / "state.npz")
    part = load_npz(tmp_path / "part" / "state.npz")
    for name in full:
        if name.startswith("param/"):
            assert np.array_equal(full[name], part[name]), name
    history = json.loads((tmp_path / "part" / "history.json").read_text(encoding="utf-8"))
    assert [h["epoch"] for h in history] == [1, 2, 3]


def test_a_run_resumed_within_an_epoch_says_of_how_many_epochs(tmp_path):
    """A run stopped (Ctrl-C) within its first epoch of 3 said 'resuming at epoch 1, after its
    iteration 2 of 3': the epoch count read as the iteration's."""
    import os
    import signal

    from kanjinum.train import Reporter, TrainConfig, fit

    class CtrlCAtIterationTwo(Reporter):
        done = 0

        def iteration(self, loss):
            self.done += 1
            if self.done == 2:
                os.kill(os.getpid(), signal.SIGINT)  # fit stops at the next iteration's start

    data = tmp_path / "d.txt"
    run("gen-data", "--size", 300, "--max-digits", 4, "--out", data)
    config = TrainConfig(data=str(data), hidden=8, wordvec=8, batch=32, epochs=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fit warns that it stopped
        fit(config, tmp_path / "r", reporter=CtrlCAtIterationTwo())
    result = run("train", "--resume", "--epochs", 1, "--out", tmp_path / "r")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1] == "resuming at epoch 1 of 1, after its iteration 2"


def _curve_titles(monkeypatch) -> list:
    """The titles curve.png is drawn with, in order, as the runs draw it."""
    import kanjinum.plot

    titles = []
    draw = kanjinum.plot.learning_curve
    monkeypatch.setattr(kanjinum.plot, "learning_curve",
                        lambda history, path, title=None: titles.append(title)
                        or draw(history, path, title))
    return titles


def test_the_curve_names_its_run_and_settings(tmp_path, monkeypatch):
    """curve.png had no title: opened later, or beside another run's, it said neither which
    run it was nor how that run was trained."""
    titles = _curve_titles(monkeypatch)
    data = tmp_path / "d.txt"
    run("gen-data", "--size", 200, "--max-digits", 3, "--out", data)
    result = run("train", "--data", data, "--hidden", 8, "--epochs", 1, "--no-reverse",
                 "--model", "peeky", "--out", tmp_path / "mine")
    assert result.exit_code == 0, result.output
    assert titles == ["mine: peeky on d.txt, wordvec 16, hidden 8, batch 64, lr 0.005 cosine, "
                      "not reversed, masked, seed 0"]


def test_the_start_line_counts_one_test_line_as_one(tmp_path):
    """A 10-line file's start line read '9 training and 1 test lines' (round 40)."""
    from kanjinum import data as D

    data = tmp_path / "ten.txt"
    D.write_dataset(D.generate_addition(10), data)
    result = run("train", "--data", data, "--hidden", 8, "--batch", 4, "--epochs", 1,
                 "--out", tmp_path / "r")
    assert result.exit_code == 0, result.output
    assert "9 training and 1 test line (" in result.output, result.output


def test_the_curves_title_names_the_learning_rate_schedule(tmp_path, monkeypatch):
    """The book's recipe (--lr 0.001 --schedule constant) and the default cosine schedule, whose
    lr is a peak that history.json's per-epoch lr falls away from, had titles alike but for
    the number: a class comparing the two curves could not tell them apart."""
    titles = _curve_titles(monkeypatch)
    data = tmp_path / "d.txt"
    run("gen-data", "--size", 200, "--max-digits", 3, "--out", data)
    for name, schedule in (("c", ["--schedule", "constant", "--lr-decay", 0.9]), ("k", [])):
        result = run("train", "--data", data, "--hidden", 8, "--epochs", 1, *schedule,
                     "--out", tmp_path / name)
        assert result.exit_code == 0, result.output
    assert ", lr 0.005 constant, lr-decay 0.9, " in titles[0]
    assert ", lr 0.005 cosine, " in titles[1] and "lr-decay" not in titles[1]


def test_same_seed_same_run(tmp_path):
    data = tmp_path / "d.txt"
    run("gen-data", "--size", 200, "--max-digits", 3, "--out", data)
    for name in ("a", "b"):
        run("train", "--data", data, "--hidden", 8, "--epochs", 2, "--out", tmp_path / name)
    a = load_run(tmp_path / "a").model.named_params()
    b = load_run(tmp_path / "b").model.named_params()
    assert all(np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("args, code", [
    (["--data", "missing.txt"], 2), (["--hidden", "0"], 2), (["--epochs", "0"], 2),
    (["--model", "transformer"], 2), (["--batch", "-1"], 2), (["--batch", "5000"], 2),
    # 0.95 trained epochs of 20 times the data; 0.999999 (a million times) ran out of memory
    # after the run folder was made (TrainConfig.check refuses both now)
    (["--oversample", "0.95"], 2),
])
def test_train_bad_options(tmp_path, monkeypatch, args, code):
    monkeypatch.chdir(tmp_path)
    run("gen-data", "--size", 400, "--max-digits", 3, "--out", "d.txt")
    result = run("train", "--data", "d.txt", "--out", "r", "--hidden", 8, *args)
    assert_clean_error(result, code)
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()  # a refused run leaves no folder behind


def test_train_refuses_a_non_empty_run_folder(trained):
    folder = trained / "runs" / "tiny"
    before = (folder / "model.npz").read_bytes()
    result = run("train", "--data", trained / "small.txt", "--out", folder)
    assert_clean_error(result)
    assert (folder / "model.npz").read_bytes() == before
    # the options to use, without the library's "(fit: resume=True, force=True)" beside them
    assert "pass --resume to continue it or --force to start it again" in result.output
    assert "fit:" not in result.output


def test_eval_without_any_run_says_how_to_make_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("kanjinum.train.DEFAULT_RUN", tmp_path / "no-default")
    result = run("eval")
    assert_clean_error(result)
    assert "kanjinum train" in result.output


def test_attend_interactive_survives_bad_lines(trained, tmp_path, monkeypatch):
    monkeypatch.setattr("kanjinum.cli._stdin_is_a_terminal", lambda: True)
    out = tmp_path / "i.png"
    result = run("attend", "--interactive", "--run", trained / "runs" / "tiny", "--out", out,
                 input="三百五\n一x\n\n")
    assert result.exit_code == 0, result.output  # typed: each refusal was seen as it came
    assert "allowed characters" in result.stderr and "allowed characters" not in result.stdout
    assert (tmp_path / "i-1.png").exists() and not (tmp_path / "i-2.png").exists()


def test_attend_interactive_piped_reports_refused_lines_in_its_exit_status(trained, tmp_path):
    """`kanjinum attend --interactive < nums.txt` printed its refusals among the answers on
    stdout and exited 0 even when every line was refused: a script could not tell."""
    out = tmp_path / "i.png"
    result = run("attend", "--interactive", "--run", trained / "runs" / "tiny", "--out", out,
                 input="三百五\n一x\n五\n")
    assert result.exit_code == 2, result.output
    assert "Q 三百五" in result.stdout and "Q 五" in result.stdout
    assert "error" not in result.stdout
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 2 and "allowed characters" in errors[0], result.stderr
    assert errors[1] == "error: 1 of the 3 numerals read was refused (above)"
    assert (tmp_path / "i-1.png").exists() and (tmp_path / "i-2.png").exists()
    result = run("attend", "--interactive", "--run", trained / "runs" / "tiny", "--out", out,
                 input="一x\n五\nx\n")
    assert result.stderr.strip().splitlines()[-1] == (
        "error: 2 of the 3 numerals read were refused (above)")  # "1 … was", "2 … were"


def test_attend_uses_the_newest_run(trained, monkeypatch, tmp_path):
    monkeypatch.chdir(trained)
    result = run("attend", "三", "--out", tmp_path / "n.png")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "n.png").exists()


def test_oversampling_draws_every_rare_kind_equally():
    from kanjinum import data as D
    from kanjinum.train import oversampled_rows, rows_by_kind

    ds = D.generate_kanji(size=3000, seed=0, hard_share=0.2, include_closed=True)
    groups = rows_by_kind(ds.questions, ds.answers)
    sizes = sorted(len(g) for g in groups)
    assert sizes[0] == 9 and sizes[-1] > 100  # single digits are few, sparse numbers many
    extra = oversampled_rows(np.random.default_rng(0), groups, total=3000, share=0.25)
    assert len(extra) == 1000
    counts = [np.isin(extra, g).sum() for g in groups]
    assert min(counts) > 0.6 * max(counts)


def test_cosine_schedule_warms_up_then_falls_to_zero():
    from kanjinum.train import TrainConfig, learning_rate

    config = TrainConfig(lr=0.01, epochs=10, schedule="cosine")
    assert learning_rate(config, 0.0) < 0.001
    assert learning_rate(config, 0.2) == pytest.approx(0.01, rel=1e-3)
    assert learning_rate(config, 5.0) == pytest.approx(0.005, rel=1e-6)
    assert learning_rate(config, 10.0) == pytest.approx(0.0, abs=1e-12)
    lrs = [learning_rate(config, e / 10) for e in range(3, 100)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))
    constant = TrainConfig(lr=0.01, lr_decay=0.5, schedule="constant")
    assert learning_rate(constant, 2.5) == pytest.approx(0.0025)


def test_eval_errors_shows_only_the_misses(trained, tmp_path):
    data = tmp_path / "mixed.txt"
    data.write_text("三百五  _305 \n三百五十 _999 \n三    _3   \n", encoding="utf-8")
    result = run("eval", "--run", trained / "runs" / "tiny", "--data", data, "--json")
    summary = json.loads(result.output)
    misses = summary["total"] - summary["correct"]
    assert misses >= 1  # 999 is not what 三百五十 reads
    result = run("eval", "--run", trained / "runs" / "tiny", "--data", data, "--errors",
                 "--show", 10)
    assert result.exit_code == 0, result.output
    assert result.output.count("☒") == misses and "☑" not in result.output
    assert "T 999" in result.output


@pytest.mark.parametrize("args, fragment", [
    (["--task", "hard", "--size", "5"], "--size does not apply to --task hard"),
    (["--task", "addition", "--style", "daiji", "--max-digits", "3"],
     "--max-digits, --style do not apply to --task addition"),
    (["--task", "kanji", "--per-kind", "3"], "--per-kind does not apply"),
    # a flag as typed: it was named --closed
    (["--task", "addition", "--no-closed"], "--no-closed does not apply to --task addition"),
])
def test_gen_data_options_a_task_ignores_are_refused(tmp_path, args, fragment):
    result = run("gen-data", *args, "--out", tmp_path / "d.txt")
    assert_clean_error(result)
    assert fragment in result.output
    assert not (tmp_path / "d.txt").exists()


def test_counts_of_one_are_singular(tmp_path):
    result = run("gen-data", "--size", 1, "--max-digits", 1, "--out", tmp_path / "one.txt")
    assert result.exit_code == 0 and "wrote 1 line to" in result.output
    result = run("gen-data", "--size", 20, "--max-digits", 1, "--out", tmp_path / "two.txt")
    assert_clean_error(result)
    assert "at most 1 digit;" in result.output


TERMINAL = {**ENV, "TERM": "xterm"}  # a dumb terminal gets no animation


@pytest.fixture
def spinner_screen(monkeypatch):
    """What the spinners (`cli._working`, on stderr) draw on a terminal, as text."""
    import io

    from rich.console import Console

    import kanjinum.cli as cli
    screen = io.StringIO()
    plain = cli._console
    monkeypatch.setattr(cli, "_console", lambda stderr=False: Console(
        file=screen, force_terminal=True, width=100) if stderr else plain())
    return screen


def test_gen_data_shows_that_it_is_working(tmp_path, spinner_screen):
    """gen-data --size 1000000 ran 19 s with nothing on the screen."""
    for args in (["--size", "2000", "--out", tmp_path / "k.txt"],
                 ["--task", "hard", "--per-kind", "5", "--out", tmp_path / "h.txt"],
                 # --task addition --size 1000000 ran 33 s with nothing shown (round 12)
                 ["--task", "addition", "--size", "300", "--out", tmp_path / "a.txt"]):
        assert runner.invoke(app, ["gen-data", *map(str, args)], env=TERMINAL).exit_code == 0
    shown = spinner_screen.getvalue()
    assert "drawing 2,000 numbers" in shown and "drawing 5 numbers of each kind" in shown
    assert "drawing 300 sums" in shown


def test_eval_shows_that_it_is_working(trained, spinner_screen):
    """`eval --data` a file of 200,000 lines answered for 17 s with nothing on the screen (a
    million lines: minutes), where gen-data shows a spinner while it draws them."""
    for extra in ([], ["--json"], ["--data", trained / "small.txt"]):
        result = runner.invoke(app, ["eval", "--run", str(trained / "runs" / "tiny"),
                                     *map(str, extra)], env=TERMINAL)
        assert result.exit_code == 0, result.output
    shown = spinner_screen.getvalue()
    assert "answering 38 questions" in shown and "answering 400 questions" in shown


def test_train_shows_that_it_is_reading_its_data(trained, tmp_path, spinner_screen):
    """`train --data` a file of 200,000 lines printed nothing for 4 s before its first line,
    while the data was read, split and checked."""
    data = trained / "small.txt"
    result = runner.invoke(app, ["train", "--data", str(data), "--hidden", "8", "--wordvec",
                                 "4", "--epochs", "1", "--out", str(tmp_path / "r")],
                           env=TERMINAL)
    assert result.exit_code == 0, result.output
    assert f"reading {data}" in spinner_screen.getvalue()
    # a refusal found while reading (the folder is taken) ends it before its error line
    spinner_screen.truncate(0)
    result = runner.invoke(app, ["train", "--data", str(data), "--out", str(tmp_path / "r")],
                           env=TERMINAL)
    assert result.exit_code == 2
    last = spinner_screen.getvalue().rstrip().splitlines()[-1]
    assert "error:" in last and "reading" not in last, last


def test_a_missing_data_file_that_gen_data_makes_names_the_command(tmp_path, monkeypatch):
    """After `pip install .` outside a checkout there is no data/: `kanjinum train` said
    `data file /…/data/kanji.txt not found`, `eval --data data/hard.txt` (the README's) the
    same, and neither said that gen-data makes them."""
    monkeypatch.chdir(tmp_path)
    result = run("train", "--epochs", 1)
    assert_clean_error(result)
    assert "data/kanji.txt not found; make it with kanjinum gen-data" in result.output
    result = run("eval", "--run", "default", "--data", "data/hard.txt")
    assert_clean_error(result)
    assert ("data/hard.txt not found; make it with kanjinum gen-data --task hard "
            "--exclude data/kanji.txt") in result.output
    result = run("gen-data", "--task", "hard", "--exclude", "data/kanji.txt")
    assert_clean_error(result)
    assert "make it with kanjinum gen-data" in result.output
    result = run("eval", "--run", "default", "--data", "mine.txt")  # not gen-data's: as before
    assert_clean_error(result)
    assert "data file mine.txt not found" in result.output and "gen-data" not in result.output
    assert not (tmp_path / "runs").exists() and not (tmp_path / "data").exists()


def test_attend_interactive_piped_reads_every_line_without_prompts(trained, tmp_path):
    """`printf '三\\n\\n五\\n' | kanjinum attend --interactive`: the blank line ended the input and
    五 was dropped without a word, and every answer followed a prompt on its own line
    (`numeral (empty line to stop)> Q 三`)."""
    out = tmp_path / "p.png"
    result = run("attend", "--interactive", "--run", trained / "runs" / "tiny", "--out", out,
                 input="三\n\n  \n五\n")
    assert result.exit_code == 0, result.output
    assert "Q 三" in result.output and "Q 五" in result.output
    assert "empty line to stop" not in result.output
    assert (tmp_path / "p-1.png").exists() and (tmp_path / "p-2.png").exists()


def test_attend_interactive_piped_reads_a_file_saved_with_a_byte_order_mark(trained, tmp_path):
    """`kanjinum attend --interactive < nums.txt` with nums.txt saved by Windows Notepad as UTF-8
    with BOM (and CRLF): the first numeral was refused, `'\\ufeff' (U+FEFF) is not a character
    this model reads`, for a character that shows as nothing, and the run exited 2."""
    out = tmp_path / "b.png"
    result = run("attend", "--interactive", "--run", trained / "runs" / "tiny", "--out", out,
                 input="\ufeff三\r\n五\r\n")
    assert result.exit_code == 0, result.output
    assert "Q 三" in result.stdout and "Q 五" in result.stdout and not result.stderr
    assert (tmp_path / "b-1.png").exists() and (tmp_path / "b-2.png").exists()
    # only the stream's first character: a U+FEFF inside is still named
    result = run("attend", "--interactive", "--run", trained / "runs" / "tiny", "--out", out,
                 input="三\n\ufeff五\n")
    assert result.exit_code == 2 and "U+FEFF" in result.stderr


def test_attend_interactive_at_a_terminal_prompts_and_stops_at_an_empty_line(
        trained, tmp_path, monkeypatch):
    monkeypatch.setattr("kanjinum.cli._stdin_is_a_terminal", lambda: True)
    out = tmp_path / "t.png"
    result = run("attend", "--interactive", "--run", trained / "runs" / "tiny", "--out", out,
                 input="三\n\n五\n")
    assert result.exit_code == 0, result.output
    assert "numeral (empty line to stop)> " in result.output and "Q 五" not in result.output
    assert (tmp_path / "t-1.png").exists() and not (tmp_path / "t-2.png").exists()


@pytest.mark.parametrize("stop, status", [(KeyboardInterrupt, 130), (SystemExit(143), 143)],
                         ids=["ctrl-c", "sigterm"])
def test_attend_interactive_stopped_at_the_prompt_ends_its_line(trained, tmp_path, monkeypatch,
                                                                stop, status):
    """Ctrl-C at the prompt exited 130 with the prompt's line unended: the shell's next prompt
    was drawn after `numeral (empty line to stop)> ^C` (Ctrl-D ended the line). SIGTERM (`kill`,
    a closing session) did the same with 143: its handler (`_end_cleanly_on_sigterm`) raises
    SystemExit(143) inside input()."""
    def stopped(prompt=""):
        print(prompt, end="")
        raise stop

    monkeypatch.setattr("builtins.input", stopped)
    monkeypatch.setattr("kanjinum.cli._stdin_is_a_terminal", lambda: True)
    result = run("attend", "--interactive", "--run", trained / "runs" / "tiny", "--out",
                 tmp_path / "c.png")
    assert result.exit_code == status, result.output
    assert result.output.endswith("> \n")
    assert "Traceback" not in result.output


def test_attend_out_naming_a_folder_says_so(trained, tmp_path):
    """`--out figs` (a folder) was told `--out must name a .png file, not figs`, and
    `--out figs.png/` (a folder meant, by its slash) wrote a file figs.png."""
    folder = tmp_path / "my figs"
    folder.mkdir()
    result = run("attend", "三", "--run", trained / "runs" / "tiny", "--out", folder)
    assert_clean_error(result)
    assert "names a folder" in result.output and f"'{folder}/attention.png'" in result.output
    result = run("attend", "三", "--run", trained / "runs" / "tiny", "--out",
                 f"{tmp_path}/figs.png/")
    assert_clean_error(result)
    assert "names a folder" in result.output and not (tmp_path / "figs.png").exists()


@pytest.mark.parametrize("typed", ["10²", "①②"])
def test_convert_refuses_superscripts_and_circled_digits(typed):
    """`convert 10²` printed 百二 (NFKC made 102 of it), `convert ①②` printed 十二."""
    result = run("convert", typed)
    assert_clean_error(result)
    assert typed[-1] in result.output and "U+" in result.output


def test_eval_errors_with_no_misses_says_so(tmp_path):
    """The README's `eval --data data/hard.txt --errors --show 20` printed nothing after its
    tables with the shipped model (it gets all of them right), as if --errors did nothing."""
    data = tmp_path / "k.txt"
    assert run("gen-data", "--size", 300, "--out", data).exit_code == 0
    result = run("eval", "--run", "default", "--data", data, "--errors", "--show", 20)
    assert result.exit_code == 0, result.output
    assert "100.000% exact match" in result.output
    assert result.output.rstrip().endswith("no misses to show: all 300 answers are right")
    result = run("eval", "--run", "default", "--data", data, "--show", 2)
    assert "no misses" not in result.output and result.output.count("☑") == 2


def test_gen_data_says_when_a_hard_set_holds_fewer_than_per_kind_of_a_kind(tmp_path):
    """`gen-data --task hard --max-digits 6 --per-kind 100` wrote 45 repeated-digit numbers and
    no group-boundary one, without a word (six digits hold no more of them); the file is as
    before."""
    result = run("gen-data", "--task", "hard", "--max-digits", 6, "--per-kind", 100,
                 "--out", tmp_path / "h.txt")
    assert result.exit_code == 0, result.output
    assert "note: only 45 repeated, 0 group (not --per-kind 100 of each)" in result.output
    assert "below 10^6" in result.output and len(result.output.splitlines()) == 1
    kinds = [D.categorise(int(a)) for a in D.read_dataset(tmp_path / "h.txt").answers]
    assert kinds.count("repeated") == 45 and "group" not in kinds
    result = run("gen-data", "--task", "hard", "--per-kind", 20, "--out", tmp_path / "g.txt",
                 "--exclude", tmp_path / "h.txt")
    assert result.exit_code == 0 and "note" not in result.output, result.output


def test_gen_data_says_a_hard_set_without_exclude_may_hold_training_numbers(tmp_path):
    """`gen-data --task hard` without --exclude drew 887 numbers of data/kanji.txt (655 of the
    700 short ones) without a word, and eval then counted them as hard cases never seen."""
    result = run("gen-data", "--task", "hard", "--per-kind", 20, "--out", tmp_path / "g.txt")
    assert result.exit_code == 0, result.output
    assert "note: without --exclude it may hold numbers of your training data" in result.output
    assert len(result.output.splitlines()) == 1  # still gen-data's one line


def test_gen_data_says_when_a_small_size_holds_closed_numbers_only(tmp_path):
    """`gen-data --size 50` wrote 50 round numbers and single digits (一, 二, …, 五十万) and
    nothing else, without a word: --closed puts the 117 closed numbers first."""
    small = run("gen-data", "--size", 50, "--out", tmp_path / "s.txt")
    assert small.exit_code == 0 and "the first 50 of the 117" in small.output
    assert "--no-closed" in small.output
    assert {D.categorise(int(a)) for a in D.read_dataset(tmp_path / "s.txt").answers} <= {
        "single", "round"}
    for args in (["--size", 500], ["--size", 50, "--no-closed"]):
        result = run("gen-data", *args, "--out", tmp_path / "t.txt", "--force")
        assert result.exit_code == 0 and "note" not in result.output, result.output


@pytest.mark.parametrize("where", ["write", "fsync"])
def test_a_full_disk_names_the_users_file(tmp_path, monkeypatch, where):
    """A full disk raises ENOSPC from write() or fsync() with no file name at all: `kanjinum
    train` and `attend` on a full tmpfs said only `error: No space left on device`."""
    import errno

    import kanjinum.fileio as fileio

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    if where == "write":
        real_fdopen = fileio.os.fdopen

        class FullFile:
            def __init__(self, fd, mode):
                self.file = real_fdopen(fd, mode)

            def __enter__(self):
                return self

            def __exit__(self, *exc_info):
                self.file.close()

            write = staticmethod(full)

        monkeypatch.setattr(fileio.os, "fdopen", FullFile)
    else:
        monkeypatch.setattr(fileio.os, "fsync", full)
    (tmp_path / "x.json").write_text("old", encoding="utf-8")
    with pytest.raises(OSError) as caught:
        fileio.atomic_write_text(tmp_path / "x.json", "{}")
    assert caught.value.filename == str(tmp_path / "x.json")
    assert caught.value.errno == errno.ENOSPC
    assert (tmp_path / "x.json").read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]  # no temporary file left


def test_gen_data_on_a_full_disk_fails_as_train_does(tmp_path, monkeypatch):
    """gen-data on a full disk said `cannot write …` with exit 2, a usage mistake; train says
    `No space left on device: <file>` with 1, a failure while working."""
    import errno

    import kanjinum.fileio as fileio

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fileio.os, "fsync", full)
    out = tmp_path / "d.txt"
    out.write_text("old\n", encoding="utf-8")
    result = run("gen-data", "--size", "40", "--out", out, "--force")
    assert_clean_error(result, 1)
    assert f"No space left on device: {out}" in result.output
    assert out.read_text(encoding="utf-8") == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["d.txt"]


def test_a_notebook_without_ipywidgets_gets_the_epoch_lines_without_a_broken_bar(monkeypatch):
    """rich draws a notebook's bar in an ipywidgets Output; without ipywidgets the bar drew
    nothing, warned 'install "ipywidgets" for Jupyter support' and left an empty output before
    each epoch's line."""
    import io
    import sys

    from rich.console import Console

    from kanjinum.cli import RichReporter

    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # its import fails
    reporter = RichReporter(Console(file=io.StringIO(), force_jupyter=True))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reporter.epoch_start(1, 2, 10, 0)
        reporter.iteration(3.0)
    assert reporter.progress is None


def test_the_bar_shows_no_nan_loss_before_the_first_iteration():
    """Each epoch's bar began at `loss nan` until its first iteration ended (seconds at large
    sizes): kanjinum's own word for a diverged run (`the loss became nan`)."""
    import io

    from rich.console import Console

    from kanjinum.cli import RichReporter

    screen = io.StringIO()
    reporter = RichReporter(Console(file=screen, force_terminal=True, width=120))
    reporter.epoch_start(1, 2, 10, 0)
    reporter.progress.refresh()
    before = screen.getvalue()
    assert "0/10" in before and "nan" not in before and "loss -" in before
    reporter.iteration(2.5)
    reporter.progress.refresh()
    reporter._stop()
    assert "loss 2.5000" in screen.getvalue()


def test_the_bar_says_when_the_epochs_test_is_answered():
    """After an epoch's last iteration the test split is answered (seconds on a large data
    file: 20,000 test lines, 2 s), and the bar sat full, its clock stopped, as if hung."""
    import io

    from rich.console import Console

    from kanjinum.cli import RichReporter

    screen = io.StringIO()
    reporter = RichReporter(Console(file=screen, force_terminal=True, width=160))
    reporter.test = ["一"] * 1234  # what start() keeps of the test split
    reporter.epoch_start(1, 1, 2, 0)
    reporter.iteration(2.5)
    reporter.progress.refresh()
    assert "testing on" not in screen.getvalue()
    reporter.iteration(2.4)
    reporter.progress.refresh()
    reporter._stop()
    assert "2/2" in screen.getvalue() and "testing on 1,234 lines" in screen.getvalue()


def test_gen_data_out_ending_in_a_slash_names_a_folder(tmp_path):
    """`gen-data --out mydata/` (a folder meant, by its slash) wrote a file named mydata, and
    `--out mine.txt/ --force` replaced the file mine.txt."""
    result = run("gen-data", "--size", 5, "--out", f"{tmp_path}/mydata/")
    assert_clean_error(result)
    assert "names a folder" in result.output and f"{tmp_path}/mydata/kanji.txt" in result.output
    assert not (tmp_path / "mydata").exists()
    mine = tmp_path / "mine.txt"
    mine.write_text("keep\n", encoding="utf-8")
    assert_clean_error(run("gen-data", "--size", 5, "--force", "--out", f"{mine}/"))
    assert mine.read_text(encoding="utf-8") == "keep\n"


def test_an_existing_folder_as_out_is_named_as_its_slash_is(tmp_path):
    """`gen-data --out mydata` (a folder there) said `mydata is a folder; --out names the file
    to write`, and `bench --json results` `exists and is not an earlier kanjinum bench file`,
    where `mydata/` and `results/` get the words attend gives both: `names a folder; name the
    file to write in it, e.g. …`."""
    from kanjinum import bench
    from kanjinum.errors import OptionError

    folder = tmp_path / "mydata"
    folder.mkdir()
    result = run("gen-data", "--size", 5, "--out", folder)
    assert_clean_error(result)
    assert f"--out {folder} names a folder; name the file to write in it, e.g. --out " \
           f"{folder / 'kanji.txt'}" in result.output
    with pytest.raises(OptionError, match=f"--json {folder} names a folder; name the file to "
                                          f"write in it, e.g. --json {folder}/bench.json"):
        bench.main(["--quick", "--data", "addition", "--models", "seq2seq", "--modes",
                    "padded", "--json", str(folder)])
    assert list(folder.iterdir()) == []


def test_an_empty_answer_of_the_data_is_shown_as_nothing_in_examples():
    """A data file's line with an empty answer (`7  _   `) was shown as `T ` and then nothing
    above `☑ (nothing)`: the same answer said two ways."""
    import io

    from rich.console import Console

    from kanjinum.cli import print_example
    from kanjinum.train import Evaluation

    screen = io.StringIO()
    print_example(Console(file=screen, width=100), Evaluation(["7"], [""], [""], {}), 0)
    assert screen.getvalue().splitlines()[:3] == ["Q 7", "T (nothing)", "☑ (nothing)"]


def test_gen_data_never_replaces_a_link_without_force(tmp_path):
    """A symbolic link whose file is not there (yet) was replaced by a plain file without
    --force: Path.exists() follows the link and said there was nothing."""
    link = tmp_path / "kanji.txt"
    link.symlink_to(tmp_path / "elsewhere" / "kanji.txt")
    result = run("gen-data", "--size", 5, "--out", link)
    assert_clean_error(result)
    assert "exists; pass --force" in result.output and link.is_symlink()


def test_a_dumb_terminal_gets_no_blank_lines(tmp_path, monkeypatch):
    """TERM=dumb (Emacs' shell, some CI logs): rich draws no bar or spinner there, yet its
    transient display left a blank line before every epoch's line of train, and after
    gen-data's and eval's work."""
    import io

    from rich.console import Console

    import kanjinum.cli as cli
    screen = io.StringIO()
    monkeypatch.setattr(cli, "_console", lambda stderr=False: Console(
        file=screen, force_terminal=True, width=100, soft_wrap=True))
    dumb = {**ENV, "TERM": "dumb"}
    data = tmp_path / "k.txt"
    for args in (["gen-data", "--size", 100, "--max-digits", 3, "--out", data],
                 ["train", "--data", data, "--hidden", 4, "--wordvec", 4, "--batch", 16,
                  "--epochs", 2, "--show", 0, "--out", tmp_path / "r"],
                 ["eval", "--run", tmp_path / "r", "--data", data]):
        result = runner.invoke(app, [str(a) for a in args], env=dumb)
        assert result.exit_code == 0, result.output
    shown = screen.getvalue()
    assert "epoch 2:" in shown and "exact match" in shown, shown
    assert "\n\n" not in shown and not shown.startswith("\n"), shown


def test_train_says_which_epoch_its_model_is_when_not_the_last(tmp_path):
    """train ended in `epoch 6: … test accuracy 13.158%` and `run saved in R`, and eval then
    reported 15.789%: model.npz keeps the best epoch (5), which no line said, so the two
    looked like they disagreed."""
    data = tmp_path / "t.txt"
    assert run("gen-data", "--size", 400, "--max-digits", 4, "--seed", 1, "--out", data).exit_code == 0
    result = run("train", "--data", data, "--hidden", 24, "--wordvec", 8, "--batch", 32,
                 "--epochs", 6, "--lr", 0.1, "--schedule", "constant", "--show", 0,
                 "--out", tmp_path / "r")
    assert result.exit_code == 0, result.output
    accuracies = [r["accuracy"] for r in json.loads((tmp_path / "r" / "history.json").read_text())]
    best = max(accuracies)
    assert accuracies[-1] < best  # the case this test is about
    epoch = len(accuracies) - accuracies[::-1].index(best)
    assert f"its model is epoch {epoch}'s, the best test accuracy ({best:.3%})" in result.output
    evaluated = json.loads(run("eval", "--run", tmp_path / "r", "--json").output)
    assert evaluated["accuracy"] == best


def test_a_unit_larger_than_the_models_numbers_says_what_it_was_trained_on(trained, tmp_path):
    """A student's model of numbers up to 8 digits refused 一億一 as "'億' is not a character
    this model reads", with no word of why it lacks it."""
    result = run("attend", "一万", "--run", trained / "runs" / "tiny", "--out", tmp_path / "a.png")
    assert_clean_error(result)
    assert "'万' (U+4E07) is not a character this model reads (it was trained on numbers of " \
           "at most 4 digits" in result.output, result.output
    result = run("attend", "一x", "--run", trained / "runs" / "tiny", "--out", tmp_path / "a.png")
    assert_clean_error(result)
    assert "trained on numbers" not in result.output


@pytest.mark.parametrize("size, message", [
    ("0", "--size must be between 1 and 1,000,000 for the addition task"),
    ("2000000", "--size must be between 1 and 1,000,000 for the addition task"),
])
def test_gen_data_addition_names_a_bad_size_before_an_existing_file(tmp_path, monkeypatch,
                                                                    size, message):
    """`gen-data --task addition --size 0` where data/addition.txt exists was answered
    'data/addition.txt exists; pass --force', and with --force the size was named only then,
    where the kanji task names it first (round 35)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "addition.txt").write_text("mine", encoding="utf-8")
    result = run("gen-data", "--task", "addition", "--size", size)
    assert_clean_error(result)
    assert result.output.strip() == f"error: {message}"
    assert (tmp_path / "data" / "addition.txt").read_text(encoding="utf-8") == "mine"


def test_a_file_padded_wider_than_its_numbers_still_says_what_the_model_was_trained_on(tmp_path):
    """A file of numbers below 10^4 padded to the default data's widths (answers 13 wide, as a
    user copying data/kanji.txt's format would) made a model that refused 一万 with no word of
    why: the hint took the answer width, 13, for the numbers' digits (round 35)."""
    data = tmp_path / "small.txt"
    assert run("gen-data", "--size", 200, "--max-digits", 4, "--out", data).exit_code == 0
    lines = data.read_text(encoding="utf-8").splitlines()
    wide = tmp_path / "wide.txt"
    wide.write_text("".join(f"{line.split('_')[0].rstrip():<25}_{line.split('_')[1].rstrip():<13}\n"
                            for line in lines), encoding="utf-8")
    result = run("train", "--data", wide, "--hidden", 4, "--wordvec", 4, "--batch", 16,
                 "--epochs", 1, "--out", tmp_path / "r")
    assert result.exit_code == 0, result.output
    result = run("attend", "一万", "--run", tmp_path / "r", "--out", tmp_path / "a.png")
    assert_clean_error(result)
    assert "(it was trained on numbers of at most 4 digits" in result.output, result.output


def test_a_unit_beyond_thirteen_digits_is_not_told_to_train_on_thirteen():
    """The shipped model, trained on 13 digits, refused 一京 and advised 'train on data of
    larger ones, e.g. gen-data --max-digits 13': the data it already has (round 35)."""
    result = run("attend", "一京", "--run", "default")
    assert_clean_error(result)
    assert "at most 13 digits; train on data of larger ones, e.g. gen-data --max-digits 17," \
        in result.output, result.output


def test_the_shipped_model_is_named_as_default_not_by_its_installed_folder(tmp_path, monkeypatch):
    """After the README's `pip install .`, `eval --run default` began `run /home/u/proj/.venv/
    lib/python3.11/site-packages/kanjinum/default_model on …`, and its note and errors named
    that folder too: a path the user never typed. The JSON keeps the folder, for scripts."""
    from kanjinum.train import DEFAULT_RUN

    monkeypatch.chdir(tmp_path)
    closed = tmp_path / "closed.txt"
    closed.write_text("".join(D.format_line(q, a, 25, 13) + "\n" for q, a in
                              [("一", "1"), ("三十", "30"), ("五億", "500000000")]),
                      encoding="utf-8")
    result = run("eval", "--run", "default", "--data", closed)
    assert result.exit_code == 0, result.output
    assert f"run default (the shipped model) on {closed}: 100.000%" in result.output
    assert str(DEFAULT_RUN) not in result.output
    result = run("eval", "--run", "default", "--data", closed, "--json")
    assert json.loads(result.stdout)["run"] == str(DEFAULT_RUN)
    sums = tmp_path / "sums.txt"
    sums.write_text("1+2_3\n4+5_9\n", encoding="utf-8")
    result = run("eval", "--run", "default", "--data", sums)
    assert_clean_error(result)
    assert "error: default (the shipped model) can read none of the 2 questions" in result.output
    assert str(DEFAULT_RUN) not in result.output


def test_attend_help_says_where_interactive_heatmaps_go():
    """`attend --help` said `--out: PNG file to write. Default: attention.png`, while
    --interactive writes attention-1.png, -2, … (FILE-1.png for --out FILE): a user looked
    for attention.png, which was not remade."""
    result = run("attend", "--help")
    assert result.exit_code == 0
    assert "attention-1.png" in " ".join(result.output.replace("│", " ").split())


def test_a_batch_larger_than_the_training_part_counts_its_lines_as_every_line_does(tmp_path):
    """`train --batch 100000` said `larger than the 45010 training lines`, where train's
    first line says `45,010 training and 4,990 test lines`; the advice stays pasteable."""
    data = tmp_path / "d.txt"
    assert run("gen-data", "--size", 2000, "--out", data).exit_code == 0
    result = run("train", "--data", data, "--batch", 100000, "--out", tmp_path / "r")
    assert_clean_error(result)
    assert "larger than the 1,811 training lines" in result.output
    assert "use --batch 1811 or less" in result.output


def test_gen_data_help_says_which_tasks_each_option_applies_to():
    """gen-data refuses an option its --task ignores (`--size does not apply to --task hard`),
    but its help said so only for --exclude and --per-kind: --size read `Number of lines`,
    --style and --closed named no task, --max-digits said `(kanji tasks)`."""
    import typer.main

    from kanjinum.cli import GEN_DATA_UNUSED

    params = {p.name: p.help for p in typer.main.get_command(app).commands["gen-data"].params}
    for name in set().union(*GEN_DATA_UNUSED.values()):
        applies = [task for task, unused in GEN_DATA_UNUSED.items() if name not in unused]
        help_text = " ".join(params[name].split())
        assert (f"--task {', '.join(applies)}" in help_text
                or f"With --task {', '.join(applies)}:" in help_text), (name, help_text)


@pytest.mark.parametrize("command, option, range_said", [
    ("train", "batch", "1 to the lines of the training part"), ("train", "lr", "above 0"),
    ("train", "show", "0 or more"), ("eval", "show", "0 or more")])
def test_the_help_of_a_number_option_says_its_range(command, option, range_said):
    """train's --batch, --lr and --show and eval's --show said no range, where --wordvec,
    --epochs, --seed and the others did: `--batch 0`, `--lr 0` and `--show -1` are refused."""
    import typer.main

    params = {p.name: p.help for p in typer.main.get_command(app).commands[command].params}
    assert range_said in " ".join(params[option].split())
