"""Every mistake a user can make gets one clear line, a non-zero exit status and no traceback,
and nothing the user already had is lost. docs/robustness.md lists these cases."""

import json
import os
import re
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from kanjinum.cli import app
from kanjinum.errors import OptionError, RunError
from kanjinum.train import TrainConfig, TrainingStopped, fit, load_npz, load_run

runner = CliRunner()
ENV = {"NO_COLOR": "1", "COLUMNS": "200", "TERM": "dumb"}


def run(*args, input=None):
    return runner.invoke(app, [str(a) for a in args], env=ENV, input=input)


def assert_one_line_error(result, code=2, *fragments):
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, (SystemExit, type(None))), repr(result.exception)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    for fragment in fragments:
        assert fragment in result.output


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    folder = tmp_path_factory.mktemp("robust")
    data = folder / "d.txt"
    assert run("gen-data", "--size", 300, "--max-digits", 4, "--out", data).exit_code == 0
    result = run("train", "--data", data, "--hidden", 16, "--wordvec", 8, "--batch", 32,
                 "--epochs", 1, "--out", folder / "run")
    assert result.exit_code == 0, result.output
    return folder


def copy_run(base, tmp_path):
    target = tmp_path / "run"
    target.mkdir()
    for f in (base / "run").iterdir():
        (target / f.name).write_bytes(f.read_bytes())
    return target


# --- options ---------------------------------------------------------------------------------


@pytest.mark.parametrize("args, fragment", [
    (["train", "--bogus"], "No such option"),
    (["eval", "--show", "x"], "--show"),
    (["gen-data", "--size", "-5"], "--size"),
    (["frobnicate"], "No such command"),
    (["convert"], "Missing argument"),
])
def test_usage_mistakes(args, fragment, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert_one_line_error(run(*args), 2, fragment)


@pytest.mark.parametrize("args, said", [
    (["train", "--bogus"], "No such option: --bogus (see"),  # click offered --out
    (["train", "--foo"], "No such option: --foo (see"),  # and --force
    (["train", "--epoch", "3"], "No such option: --epoch (Possible options: --epochs) (see"),
    (["eval", "--dta", "x"], "No such option: --dta (Possible options: --data) (see"),
    (["train", "--mdoel", "peeky"], "(Possible options: --model)"),
])
def test_an_unknown_option_is_offered_only_options_a_typo_away(args, said, tmp_path,
                                                               monkeypatch):
    """`train --bogus` was answered `(Possible options: --out)`: click suggests any option
    0.6 alike (round 42); bench's suggestions ask 0.75, and so do the other commands now."""
    monkeypatch.chdir(tmp_path)
    assert_one_line_error(run(*args), 2, said)


@pytest.mark.parametrize("args, said", [
    (["train", "--epochs", "ten"], "Invalid value for '--epochs': 'ten' is not a whole number ("),
    (["train", "--lr=fast"], "Invalid value for '--lr': 'fast' is not a number ("),
    (["train", "--model", "bogus"], "Invalid value for '--model': 'bogus' is not one of"),
    (["eval", "--split", "--json"], "'--json' is not one of 'test', 'all'. (was the value of "
                                    "--split left out?)"),
    (["eval", "--show", "--json"], "'--json' is not a whole number (was the value of --show "
                                   "left out?)"),
])
def test_a_value_typer_cannot_convert_is_quoted_plainly(args, said, tmp_path, monkeypatch):
    """typer said `Input should be a valid integer, unable to parse string as an integer`,
    quoting nothing, and `Value error, 'bogus' is not one of …`; a value left out, so that the
    next option was taken for it, was not said to be (round 38)."""
    monkeypatch.chdir(tmp_path)
    result = run(*args)
    assert_one_line_error(result, 2, said)
    assert "Value error" not in result.output and "Input should be" not in result.output


@pytest.mark.parametrize("args", [["gen-data", "--out", "--size=3"], ["train", "--out", "--resume"],
                                  ["eval", "--data", "--json"], ["gen-data", "--out", "--"]])
def test_a_left_out_file_value_is_asked_about_once(args, tmp_path, monkeypatch):
    """A file, folder or run option's own check (not_an_option) asks whether its value was
    left out; the plain message asked it a second time at its end."""
    monkeypatch.chdir(tmp_path)
    result = run(*args)
    assert_one_line_error(result, 2, f"was the value of {args[1]} left out? (to name")
    assert result.output.count("left out?") == 1, result.output


# --- data files ------------------------------------------------------------------------------


@pytest.mark.parametrize("content, fragment", [
    (None, "not found"),
    (b"", "no lines"),
    (b"\xff\xfe\x00_1\n", "not UTF-8"),
    (b"abc_1\nabcd_12\n", "line 2"),
    (b"abc 1\nabc 2\n", "no '_'"),
])
def test_bad_data_files(tmp_path, content, fragment):
    data = tmp_path / "data.txt"
    if content is not None:
        data.write_bytes(content)
    result = run("train", "--data", data, "--out", tmp_path / "r")
    assert_one_line_error(result, 2, fragment, "data.txt")
    assert not (tmp_path / "r").exists()


def test_unreadable_data_file(tmp_path, monkeypatch):
    data = tmp_path / "data.txt"
    data.write_text("1_1\n", encoding="utf-8")

    def refuse(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    result = run("eval", "--run", tmp_path, "--data", data)
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_data_the_vocabulary_lacks_is_counted(base, tmp_path):
    data = tmp_path / "latin.txt"
    data.write_text("一x_1\n二 _2\n", encoding="utf-8")  # one line it cannot read, one it can
    result = run("eval", "--run", base / "run", "--data", data, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["unreadable"] == 1 and summary["total"] == 2


def test_answers_longer_than_the_model_writes_are_counted_apart(tmp_path):
    """eval of data with more digits than the run was trained on counted those answers as
    plain wrong, with nothing to say the model could never have written them (found in
    round 12)."""
    data = tmp_path / "wide.txt"
    pairs = [("十兆", "10000000000000"), ("一", "1"), ("三兆九千億", "3900000000000")]
    data.write_text("".join(f"{q:<5}_{a:<14}\n" for q, a in pairs), encoding="utf-8")
    result = run("eval", "--run", "default", "--data", data, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["too_long"] == 1 and summary["unreadable"] == 0
    assert summary["correct"] == 2 and summary["total"] == 3
    result = run("eval", "--run", "default", "--data", data)
    assert "1 answer is longer than the 13 characters this model writes" in result.output


# --- run folders and checkpoints -------------------------------------------------------------


def test_missing_run_folder(tmp_path):
    assert_one_line_error(run("eval", "--run", tmp_path / "nope"), 2, "not found")


def test_incomplete_run_folder(base, tmp_path):
    folder = copy_run(base, tmp_path)
    (folder / "model.npz").unlink()
    assert_one_line_error(run("eval", "--run", folder), 2, "model.npz")


def test_truncated_weights(base, tmp_path):
    folder = copy_run(base, tmp_path)
    data = (folder / "model.npz").read_bytes()
    (folder / "model.npz").write_bytes(data[: len(data) // 2])
    assert_one_line_error(run("eval", "--run", folder), 2, "model.npz")


def test_corrupted_weights(base, tmp_path):
    folder = copy_run(base, tmp_path)
    data = bytearray((folder / "model.npz").read_bytes())
    for i in range(200, len(data) - 200, 97):
        data[i] ^= 0xFF
    (folder / "model.npz").write_bytes(bytes(data))
    assert_one_line_error(run("eval", "--run", folder), 2, "model.npz")


def test_weights_of_another_model(base, tmp_path):
    folder = copy_run(base, tmp_path)
    arrays = load_npz(folder / "model.npz")
    arrays["decoder.affine.W"] = np.zeros((3, 3), np.float32)
    np.savez(folder / "model.npz", **arrays)
    assert_one_line_error(run("eval", "--run", folder), 2, "shape")


def test_pickled_object_is_refused(base, tmp_path):
    folder = copy_run(base, tmp_path)
    arrays = load_npz(folder / "model.npz")
    arrays["decoder.affine.W"] = np.array([{"evil": "payload"}], dtype=object)
    np.savez(folder / "model.npz", **arrays)
    with pytest.raises(RunError, match="Python objects"):
        load_npz(folder / "model.npz")
    assert_one_line_error(run("eval", "--run", folder), 2, "refusing")


@pytest.mark.parametrize("content", [b"hello", b'{"format_version": 1}\n',
                                     b"\x89PNG\r\n\x1a\n" + bytes(64)])
def test_a_file_that_is_no_npz_is_not_said_to_hold_python_objects(base, tmp_path, content):
    """A text file, JSON or a PNG (curve.png) copied over model.npz: numpy calls any file that is
    neither npz nor npy 'pickled data', and kanjinum said `holds Python objects`."""
    folder = copy_run(base, tmp_path)
    (folder / "model.npz").write_bytes(content)
    assert_one_line_error(run("eval", "--run", folder), 2, "damaged or not an npz file")


@pytest.mark.parametrize("name", ["model.npz", "state.npz"])
def test_weights_declaring_more_than_the_model_holds_are_refused_unread(base, tmp_path, name):
    """An npz states each array's shape in its header, and numpy allocated that much before a
    shape was checked: a compressed model.npz of 400 KB (zeros) took 400 MB, a few MB could
    take all memory. Now the headers are added up first, and nothing is read."""
    folder = copy_run(base, tmp_path)
    arrays = load_npz(folder / name)
    key = "decoder.affine.W" if name == "model.npz" else "param/decoder.affine.W"
    arrays[key] = np.zeros((2000, 2000), np.float32)  # 16 MB, 16 KB compressed
    np.savez_compressed(folder / name, **arrays)
    assert (folder / name).stat().st_size < 100_000
    command = (["eval", "--run", folder] if name == "model.npz"
               else ["train", "--out", folder, "--resume", "--epochs", 2])
    assert_one_line_error(run(*command), 2, name, "holds arrays of 16,", "refusing to read it")


def test_a_pickle_as_model_npz_is_refused_unread(base, tmp_path):
    import pickle

    folder = copy_run(base, tmp_path)
    (folder / "model.npz").write_bytes(pickle.dumps({"evil": "payload"}))
    assert_one_line_error(run("eval", "--run", folder), 2, "holds Python objects; refusing")


@pytest.mark.parametrize("edit, fragment", [
    (lambda c: c.pop("vocab"), "vocab"),
    (lambda c: c.update(format_version=99), "format version 99"),
    (lambda c: c["model"].update(kind="transformer"), "bad value"),
    (lambda c: c.update(answer_width=10**9), "answer_width"),
    (lambda c: c["model"].update(hidden=10**7), "hidden"),
    (lambda c: c.update(question_chars="xyz"), "question_chars"),
])
def test_bad_config(base, tmp_path, edit, fragment):
    folder = run_with_edited_config(base, tmp_path, edit)
    assert_one_line_error(run("eval", "--run", folder), 2, fragment)


@pytest.mark.parametrize("edit, fragment", [
    (lambda c: c["vocab"].__setitem__(5, "ab"), "vocabulary"),
    (lambda c: c["vocab"].__setitem__(5, ""), "vocabulary"),
    (lambda c: c["vocab"].__setitem__(5, None), "vocabulary"),
    (lambda c: c["vocab"].__setitem__(5, [1]), "vocabulary"),
    (lambda c: c["vocab"].__setitem__(5, c["vocab"][6]), "vocabulary"),
    (lambda c: c["model"].update(hidden=True), "hidden True"),
    (lambda c: c["model"].update(wordvec=True), "wordvec True"),
    (lambda c: c.update(question_width=True), "question_width must be a whole number"),
    (lambda c: c.update(mask="false"), "mask must be true or false"),
    (lambda c: c.update(reverse=1), "reverse must be true or false"),
])
def test_config_fields_of_the_wrong_type_edited_by_hand(base, tmp_path, edit, fragment):
    """A vocabulary entry of other than one character was a TypeError from the encoder's ord(),
    a character listed twice was decoded as another, `"hidden": true` passed the size check (a
    bool is an int) and numpy raised `an integer is required`, `"mask": "false"` was read as
    true: tracebacks, or a model read other than it was trained."""
    folder = run_with_edited_config(base, tmp_path, edit)
    assert_one_line_error(run("eval", "--run", folder), 2, fragment)
    assert_one_line_error(run("attend", "一", "--run", folder, "--out", tmp_path / "a.png"), 2,
                          fragment)
    assert not (tmp_path / "a.png").exists()


def run_with_edited_config(base, tmp_path, edit):
    """A copy of the base run whose config.json `edit` has changed (a dict, in place)."""
    folder = copy_run(base, tmp_path)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    edit(config)
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


def test_config_that_is_not_json(base, tmp_path):
    folder = copy_run(base, tmp_path)
    (folder / "config.json").write_text("{oops", encoding="utf-8")
    assert_one_line_error(run("eval", "--run", folder), 2, "not valid JSON")


# --- output files ----------------------------------------------------------------------------


def test_output_folder_not_writable(base, tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("mine", encoding="utf-8")
    result = run("gen-data", "--size", 10, "--out", blocker / "sub" / "k.txt")
    assert result.exit_code in (1, 2) and "Traceback" not in result.output
    result = run("train", "--data", base / "d.txt", "--out", blocker / "run")
    assert result.exit_code in (1, 2) and "Traceback" not in result.output
    assert blocker.read_text(encoding="utf-8") == "mine"


def test_permission_denied_while_writing(base, tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path))

    monkeypatch.setattr("kanjinum.fileio.tempfile.mkstemp", refuse)
    result = run("gen-data", "--size", 10, "--out", tmp_path / "k.txt")
    assert result.exit_code in (1, 2) and "permission denied" in result.output.lower()
    assert f"permission denied: {tmp_path / 'k.txt'}" in result.output  # the user's file
    assert not (tmp_path / "k.txt").exists()


def test_train_out_on_an_existing_file(base, tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("mine", encoding="utf-8")
    assert_one_line_error(run("train", "--data", base / "d.txt", "--out", target), 2,
                          "not a folder")
    assert target.read_text(encoding="utf-8") == "mine"


def test_attend_out_on_a_file_of_the_users(base, tmp_path):
    target = tmp_path / "photo.png"
    target.write_bytes(b"not a png at all")
    assert_one_line_error(run("attend", "一", "--run", base / "run", "--out", target), 2,
                          "not a PNG")
    assert target.read_bytes() == b"not a png at all"
    assert_one_line_error(run("attend", "一", "--run", base / "run", "--out", tmp_path / "a.txt"),
                          2, ".png")


def test_attend_replaces_only_its_own_heatmaps(base, tmp_path):
    """Any PNG was replaced: the user's own images, and a run's curve.png (found by a new user).
    kanjinum marks its heatmaps in the PNG's text; attend replaces those only."""
    from kanjinum.fileio import png_text
    from kanjinum.plot import learning_curve

    own = tmp_path / "own.png"
    assert run("attend", "一", "--run", base / "run", "--out", own).exit_code == 0
    assert png_text(own)["kanjinum"] == "attention heatmap"
    first = own.read_bytes()
    assert run("attend", "二", "--run", base / "run", "--out", own).exit_code == 0
    assert own.read_bytes() != first  # its own heatmap: replaced
    photo = tmp_path / "photo.png"
    learning_curve([{"epoch": 1, "loss": 1.0, "accuracy": 0.5}]).savefig(photo)  # not marked
    curve = tmp_path / "curve.png"
    learning_curve([{"epoch": 1, "loss": 1.0, "accuracy": 0.5}], curve)  # a run's curve
    for target in (photo, curve):
        before = target.read_bytes()
        assert_one_line_error(run("attend", "一", "--run", base / "run", "--out", target), 2,
                              "is not a heatmap of kanjinum attend")
        assert target.read_bytes() == before
    assert png_text(curve)["kanjinum"] == "learning curve"


# --- training failures -----------------------------------------------------------------------


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(base, tmp_path, monkeypatch):
    folder = tmp_path / "nan"
    config = TrainConfig(data=str(base / "d.txt"), hidden=8, wordvec=4, batch=32, epochs=3)
    fit(config, folder, reporter=None)
    before = load_npz(folder / "model.npz")
    calls = {"n": 0}
    from kanjinum.models import AttentionSeq2seq
    original = AttentionSeq2seq.forward

    def poisoned(self, *args, **kwargs):
        calls["n"] += 1
        return float("nan") if calls["n"] == 5 else original(self, *args, **kwargs)

    monkeypatch.setattr(AttentionSeq2seq, "forward", poisoned)
    with pytest.raises(TrainingStopped, match="epoch 4, iteration 5"):
        fit(TrainConfig(epochs=5), folder, resume=True)
    after = load_npz(folder / "model.npz")
    assert all(np.array_equal(before[k], after[k]) for k in before)
    monkeypatch.setattr(AttentionSeq2seq, "forward", poisoned)
    calls["n"] = 0
    result = run("train", "--out", folder, "--resume", "--epochs", 5)
    assert result.exit_code == 1 and "Traceback" not in result.output
    last = result.output.strip().splitlines()[-1]  # after the run's opening summary
    assert last.startswith("error:") and "epoch 4, iteration 5" in last
    # how a smaller --lr can be had: --resume refuses a new one (round 42)
    assert "start again, with --force or in another folder: --resume keeps the run's " \
        "settings" in last, last


def test_a_run_that_diverged_at_once_names_fits_own_argument_in_python(base, tmp_path,
                                                                      monkeypatch):
    """fit's TrainingStopped for a NaN before any epoch said `train again with --force`, a
    command-line option that a notebook's fit() does not take, where its other messages name
    fit's argument beside the option; the CLI still prints the option alone."""
    from kanjinum.models import AttentionSeq2seq
    from kanjinum.train import TrainConfig, TrainingStopped, fit
    monkeypatch.setattr(AttentionSeq2seq, "forward", lambda self, *args, **kw: float("nan"))
    config = TrainConfig(data=str(base / "d.txt"), hidden=4, wordvec=4, epochs=1)
    with pytest.raises(TrainingStopped, match=r"--force \(fit: force=True\) and a smaller"):
        fit(config, tmp_path / "nb")
    result = run("train", "--data", base / "d.txt", "--hidden", 4, "--wordvec", 4, "--show", 0,
                 "--out", tmp_path / "cli")
    last = result.output.strip().splitlines()[-1]
    assert result.exit_code == 1 and "with --force and a smaller" in last and "fit:" not in last


def test_a_run_that_diverged_at_once_says_to_start_again_with_force(base, tmp_path,
                                                                   monkeypatch):
    """A NaN in the first iterations left config.json alone; the advice to change --lr was met
    by 'not empty; pass --resume', and --resume by 'no state.npz there'."""
    from kanjinum.models import AttentionSeq2seq
    folder = tmp_path / "nan"
    monkeypatch.setattr(AttentionSeq2seq, "forward", lambda self, *args, **kw: float("nan"))
    result = run("train", "--data", base / "d.txt", "--hidden", 4, "--wordvec", 4, "--show", 0,
                 "--out", folder)
    assert result.exit_code == 1 and "--force" in result.output.strip().splitlines()[-1]
    monkeypatch.undo()
    for args, fragment in ((["--data", base / "d.txt", "--hidden", 4], "pass --force"),
                           (["--resume"], "start it again with --force")):
        assert_one_line_error(run("train", "--out", folder, *args), 2, fragment)
    assert_one_line_error(run("eval", "--run", folder), 2, "--force")
    result = run("train", "--data", base / "d.txt", "--hidden", 4, "--wordvec", 4, "--show", 0,
                 "--epochs", 1, "--out", folder, "--force")
    assert result.exit_code == 0, result.output
    assert (folder / "model.npz").exists()


# --- interruptions (real processes) ----------------------------------------------------------


def _train_process(data, out, *extra):
    args = [sys.executable, "-m", "kanjinum", "train", "--data", str(data), "--out", str(out),
            "--hidden", "16", "--wordvec", "8", "--batch", "16", "--show", "0", *extra]
    env = dict(os.environ, **ENV)
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                            text=True)


def _wait_for(path, proc, timeout=60):
    deadline = time.time() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.stdout.read()
        assert time.time() < deadline, "training never wrote its first checkpoint"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def data_2000(tmp_path_factory):
    folder = tmp_path_factory.mktemp("signals")
    data = folder / "d.txt"
    assert run("gen-data", "--size", 2000, "--max-digits", 6, "--out", data).exit_code == 0
    return data


def test_kill_9_leaves_a_loadable_checkpoint(data_2000, tmp_path):
    out = tmp_path / "run"
    proc = _train_process(data_2000, out, "--epochs", "50")
    _wait_for(out / "model.npz", proc)
    time.sleep(0.7)
    proc.kill()
    proc.wait()
    run_ = load_run(out)  # neither file is half-written, whenever the kill landed
    assert run_.model.named_params()
    assert load_npz(out / "state.npz")


@pytest.fixture(scope="module")
def uninterrupted_2000(data_2000, tmp_path_factory):
    """A run of 4 epochs on data_2000, trained without a stop, for both signals to match."""
    out = tmp_path_factory.mktemp("whole") / "whole"
    whole = _train_process(data_2000, out, "--epochs", "4")
    whole.wait()
    assert whole.returncode == 0
    return out


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_resume_after_a_signal_matches_an_uninterrupted_run(data_2000, uninterrupted_2000,
                                                            tmp_path, sig):
    epochs = "4"
    out = tmp_path / "cut"
    proc = _train_process(data_2000, out, "--epochs", epochs)
    _wait_for(out / "state.npz", proc)
    time.sleep(0.3)
    proc.send_signal(sig)
    output, _ = proc.communicate(timeout=60)
    assert "Traceback" not in output
    assert "stopped by" in output or "run saved" in output
    # saved and stopped: 128 + the signal, so that `kanjinum train && kanjinum eval` stops too
    # (it exited 0); 0 if the signal came after the last epoch
    assert proc.returncode == (128 + sig if "stopped by" in output else 0), output
    resumed = _train_process(data_2000, out, "--resume")
    output, _ = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, output
    a, b = load_npz(uninterrupted_2000 / "state.npz"), load_npz(out / "state.npz")
    for name in a:
        if name.startswith(("param/", "adam/")):
            assert np.array_equal(a[name], b[name]), name
    history = json.loads((out / "history.json").read_text(encoding="utf-8"))
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]


def test_eval_notices_a_changed_data_file(base, tmp_path):
    folder = copy_run(base, tmp_path)
    data = tmp_path / "d.txt"
    data.write_bytes((base / "d.txt").read_bytes())
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config["train"]["data"] = str(data)
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    assert run("eval", "--run", folder, "--json").exit_code == 0
    lines = data.read_text(encoding="utf-8").splitlines()
    data.write_text("\n".join(lines[::-1]) + "\n", encoding="utf-8")
    assert_one_line_error(run("eval", "--run", folder), 2, "changed since")


@pytest.mark.parametrize("split", [[], ["--split", "all"], ["--split", "test"]])
def test_a_changed_data_file_is_said_to_be_so_for_either_split(split, base, tmp_path):
    """eval --split all of a run whose data file was made again (gen-data --force with other
    options) was refused for its test split alone ('so its test split is not the run's'),
    which it had not asked for; and the advice named neither the file as it is now nor a
    kept copy of it as it was (--data COPY --split test, which the missing file's error names)."""
    folder = copy_run(base, tmp_path)
    data = tmp_path / "d.txt"
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config["train"]["data"] = str(data)
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    lines = (base / "d.txt").read_text(encoding="utf-8").splitlines()
    data.write_text("\n".join(lines[::-1]) + "\n", encoding="utf-8")
    assert_one_line_error(run("eval", "--run", folder, *split), 2,
                          "neither its lines nor its test split are the run's",
                          f"--data {data}", "--data COPY --split test")


def test_written_files_get_the_usual_permissions(tmp_path):
    # Atomic writes once left every file readable by its owner only (mkstemp's 0600).
    from kanjinum.fileio import atomic_write_text

    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o644


# --- starting again, resuming ------------------------------------------------------------------


def test_force_keeps_the_earlier_run_until_the_new_one_saves(base, tmp_path, monkeypatch):
    """--force over a finished run, then a loss that is NaN at the first iteration: the earlier
    run was deleted before the new one had saved anything (found by a new user). Now it comes
    back as it was, and the new config never sits beside its weights."""
    folder = copy_run(base, tmp_path)
    (folder / "notes.txt").write_text("mine", encoding="utf-8")
    before = {f.name: f.read_bytes() for f in folder.iterdir()}
    from kanjinum.models import AttentionSeq2seq
    real_forward = AttentionSeq2seq.forward
    monkeypatch.setattr(AttentionSeq2seq, "forward", lambda self, *a, **k: float("nan"))
    config = TrainConfig(data=str(base / "d.txt"), hidden=8, wordvec=4, batch=32, epochs=1)
    with pytest.raises(TrainingStopped, match="nan at epoch 1, iteration 1; the new run saved "
                                              "nothing, and the run that was in .* is back as "
                                              "it was"):
        fit(config, folder, force=True)
    assert {f.name: f.read_bytes() for f in folder.iterdir()} == before
    assert run("eval", "--run", folder).exit_code == 0
    # a forced run killed before its first checkpoint left the earlier run set aside and its
    # own config: the next --force still keeps the earlier run
    aside = folder / ".previous-run"
    aside.mkdir()
    for name in ("config.json", "model.npz", "state.npz", "history.json", "curve.png"):
        (folder / name).rename(aside / name)
    (folder / "config.json").write_text(json.dumps({"format_version": 1, "model": {}}),
                                        encoding="utf-8")
    with pytest.raises(TrainingStopped, match="is back as it was"):
        fit(config, folder, force=True)
    assert {f.name: f.read_bytes() for f in folder.iterdir()} == before
    # once the new run has a checkpoint, the earlier one is gone
    monkeypatch.setattr(AttentionSeq2seq, "forward", real_forward)
    fit(config, folder, force=True)
    saved = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    assert saved["model"]["hidden"] == 8 and not aside.exists()
    assert (folder / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_force_stopped_before_its_first_epoch_puts_the_earlier_run_back(base, tmp_path,
                                                                        monkeypatch):
    """A Ctrl-C 29 iterations into a --force run left a folder without a model: the trained run
    it was replacing had been thrown away (found by a new user)."""
    from kanjinum.train import Reporter, load_run
    folder = copy_run(base, tmp_path)
    before = {f.name: f.read_bytes() for f in folder.iterdir()}
    monkeypatch.setattr(Reporter, "iteration",
                        lambda self, loss: os.kill(os.getpid(), signal.SIGINT))
    config = TrainConfig(data=str(base / "d.txt"), hidden=8, wordvec=4, batch=32, epochs=2)
    with pytest.warns(RuntimeWarning, match="before the new run had a model; the run that was "
                                             "in .* is back as it was"):
        trained = fit(config, folder, force=True)
    assert trained.stopped_by == "SIGINT" and trained.put_back
    assert {f.name: f.read_bytes() for f in folder.iterdir()} == before
    assert load_run(folder).model.config.hidden == 16
    # the CLI says the same, exits 130, and does not call it a saved run
    from kanjinum.cli import RichReporter
    monkeypatch.setattr(RichReporter, "iteration",
                        lambda self, loss: os.kill(os.getpid(), signal.SIGINT))
    result = run("train", "--data", base / "d.txt", "--hidden", 8, "--wordvec", 4, "--batch",
                 32, "--epochs", 2, "--show", 0, "--out", folder, "--force")
    assert result.exit_code == 130
    assert "is back as it was" in result.output and "run saved in" not in result.output
    assert {f.name: f.read_bytes() for f in folder.iterdir()} == before


def test_force_signalled_while_it_sets_up_puts_the_earlier_run_back(base, tmp_path,
                                                                     monkeypatch):
    """A SIGTERM between the set-aside and the training loop killed the process at once (the
    default handler), leaving the earlier run set aside (found by a new user)."""
    import kanjinum.train as T
    folder = copy_run(base, tmp_path)
    before = {f.name: f.read_bytes() for f in folder.iterdir()}
    real_encode = T.D.encode_dataset

    def signalled(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        return real_encode(*args, **kwargs)

    monkeypatch.setattr(T.D, "encode_dataset", signalled)
    config = TrainConfig(data=str(base / "d.txt"), hidden=8, wordvec=4, batch=32, epochs=1)
    with pytest.warns(RuntimeWarning, match="SIGTERM at epoch 1, iteration 0, before the new "
                                             "run had a model"):
        trained = fit(config, folder, force=True)
    assert trained.put_back
    assert {f.name: f.read_bytes() for f in folder.iterdir()} == before


def test_a_set_aside_run_goes_once_the_run_has_a_model(base, tmp_path):
    """A --force run killed after its first epoch left R/.previous-run for good, even after a
    successful --resume."""
    folder = copy_run(base, tmp_path)
    (folder / ".previous-run").mkdir()
    (folder / ".previous-run" / "model.npz").write_bytes(b"the earlier run")
    fit(TrainConfig(epochs=2), folder, resume=True)
    assert not (folder / ".previous-run").exists()


def test_a_failed_set_aside_leaves_the_run_whole(base, tmp_path, monkeypatch):
    """One file that would not move (chattr +i) left the run split between R and
    R/.previous-run, and R then passed for no run at all."""
    import kanjinum.train as T
    folder = copy_run(base, tmp_path)
    before = {f.name: f.read_bytes() for f in folder.iterdir()}
    real_replace = T.os.replace

    def stuck(source, target):
        if Path(source).name == "state.npz":
            raise PermissionError(1, "Operation not permitted", str(source))
        return real_replace(source, target)

    monkeypatch.setattr(T.os, "replace", stuck)
    config = TrainConfig(data=str(base / "d.txt"), hidden=8, wordvec=4, batch=32, epochs=1)
    with pytest.raises(RunError, match="state.npz: Operation not permitted.*left as it was"):
        fit(config, folder, force=True)
    assert {f.name: f.read_bytes() for f in folder.iterdir()} == before


def test_a_signal_after_the_last_epoch_is_not_a_stop(base, tmp_path, monkeypatch):
    """It said 'stopped by SIGTERM at epoch 2, iteration 0; saved; continue with --resume',
    and --resume then found nothing left to train."""
    from kanjinum.train import Reporter
    monkeypatch.setattr(Reporter, "epoch_end",
                        lambda self, record, evaluation: os.kill(os.getpid(), signal.SIGTERM))
    config = TrainConfig(data=str(base / "d.txt"), hidden=4, wordvec=4, batch=32, epochs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        trained = fit(config, tmp_path / "r")
    assert trained.stopped_by == "" and (tmp_path / "r" / "model.npz").exists()


def test_a_run_set_aside_by_a_killed_force_run_is_named(base, tmp_path):
    """After a forced run was killed (SIGKILL) before its first epoch, the earlier run waited in
    R/.previous-run and no message said so."""
    folder = copy_run(base, tmp_path)
    aside = folder / ".previous-run"
    aside.mkdir()
    for f in list(folder.iterdir()):
        if f.is_file():
            f.rename(aside / f.name)
    (folder / "config.json").write_bytes((aside / "config.json").read_bytes())
    for args in (["eval", "--run", folder],
                 ["train", "--data", base / "d.txt", "--out", folder, "--resume"]):
        assert_one_line_error(run(*args), 2, "--force", f"kept in {aside}")


def test_resume_honours_any_epochs_given(base, tmp_path, monkeypatch):
    """--epochs equal to the default (20) used to be taken for 'not given' on --resume."""
    # 21 epochs: curve.png drawn after each took 8 of this test's 11 s, and is not its subject
    monkeypatch.setattr("kanjinum.train._write_curve", lambda out, history, title: None)
    out = tmp_path / "run"
    common = ["--data", base / "d.txt", "--hidden", 4, "--wordvec", 4, "--batch", 64,
              "--show", 0, "--out", out]
    assert run("train", *common, "--epochs", 1).exit_code == 0
    result = run("train", "--out", out, "--resume", "--epochs", TrainConfig.epochs, "--show", 0)
    assert result.exit_code == 0, result.output
    history = json.loads((out / "history.json").read_text(encoding="utf-8"))
    assert len(history) == TrainConfig.epochs
    saved = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert saved["train"]["epochs"] == TrainConfig.epochs
    # the starting command repeated with --resume is fine; a changed setting is refused
    result = run("train", *common, "--epochs", TrainConfig.epochs + 1, "--resume")
    assert result.exit_code == 0, result.output
    # (the starting command with --hidden changed: given twice, 4 and 5, it is refused as such)
    changed = [5 if value == 4 and common[k - 1] == "--hidden" else value
               for k, value in enumerate(common)]
    result = run("train", *changed, "--lr", 0.5, "--resume")
    assert_one_line_error(result, 2, "--hidden 5 (the run has 4)", "--lr 0.5")
    # a flag is named as typed, not as True / False
    result = run("train", *common, "--no-mask", "--resume")
    assert_one_line_error(result, 2, "--no-mask (the run has --mask)")


@pytest.mark.parametrize("args, fragment", [
    (["--seed", "-1"], "--seed"),
    (["--split-seed", str(2**32)], "--split-seed"),
    (["--clip", "nan"], "--clip"),
    (["--clip", "-1"], "--clip"),
    (["--lr", "inf"], "--lr"),
    (["--show", "-1"], "--show"),
    (["--no-mask", "--bucket"], "--bucket needs --mask"),
    (["--resume", "--force"], "contradict"),
])
def test_train_option_values_out_of_range(base, tmp_path, args, fragment):
    out = tmp_path / "run"
    result = run("train", "--data", base / "d.txt", "--out", out, *args)
    assert_one_line_error(result, 2, fragment)
    assert not out.exists()


@pytest.mark.parametrize("edit, fragment", [
    (lambda c: c.update(train=[1]), "bad training settings"),
    (lambda c: c["train"].update(lr="fast"), "lr"),
    (lambda c: c["train"].update(hidden=2.5), "hidden"),
    (lambda c: c["train"].update(clip=-3.0), "--clip"),
])
def test_bad_training_settings_in_config(base, tmp_path, edit, fragment):
    folder = run_with_edited_config(base, tmp_path, edit)
    assert_one_line_error(run("eval", "--run", folder), 2, fragment)
    assert_one_line_error(run("train", "--out", folder, "--resume"), 2, fragment)


def test_damaged_history_on_resume(base, tmp_path):
    folder = copy_run(base, tmp_path)
    (folder / "history.json").write_text("{}", encoding="utf-8")
    assert_one_line_error(run("train", "--out", folder, "--resume", "--epochs", 2), 2,
                          "history.json")


@pytest.mark.parametrize("edit, fragment", [
    (lambda h: h[0].pop("accuracy"), "epoch record 1 has no 'accuracy'"),
    (lambda h: h[-1].update(accuracy=None), "has accuracy null, not a number"),
    (lambda h: h[0].update(loss="2.5"), 'has loss "2.5", not a number'),
])
def test_an_epoch_record_edited_by_hand_is_named_before_training_on(base, tmp_path, edit,
                                                                     fragment):
    # A record without its accuracy (or with null, or text) trained a whole epoch on --resume
    # and then ended in a traceback from curve.png, at every later --resume too.
    folder = copy_run(base, tmp_path)
    history = json.loads((folder / "history.json").read_text(encoding="utf-8"))
    edit(history)
    (folder / "history.json").write_text(json.dumps(history), encoding="utf-8")
    config = (folder / "config.json").read_bytes()
    result = run("train", "--out", folder, "--resume", "--epochs", len(history) + 1)
    assert_one_line_error(result, 2, fragment)
    assert (folder / "config.json").read_bytes() == config


def test_a_history_that_does_not_go_with_the_state_is_said_so_on_resume(base, tmp_path):
    # A folder copied with cp -r while it trained can hold the history of a later epoch than
    # its state.npz: the resumed epoch's record went in beside its namesake (epochs 1, 2, 2).
    folder = copy_run(base, tmp_path)
    history = json.loads((folder / "history.json").read_text(encoding="utf-8"))
    later = history + [dict(history[-1], epoch=2)]
    (folder / "history.json").write_text(json.dumps(later), encoding="utf-8")
    result = run("train", "--out", folder, "--resume", "--epochs", 2)
    assert result.exit_code == 0, result.output
    assert "history.json held 1 record of epochs after epoch 1" in result.output
    saved = json.loads((folder / "history.json").read_text(encoding="utf-8"))
    assert [r["epoch"] for r in saved] == [1, 2]
    # deleted by hand: the run goes on, saying that the earlier records are gone
    (folder / "history.json").unlink()
    result = run("train", "--out", folder, "--resume", "--epochs", 3)
    assert result.exit_code == 0, result.output
    assert "history.json lacks the records of 2 epochs of the 2 trained" in result.output


@pytest.mark.parametrize("lacking, fragment", [
    (("hidden",), "lacks the training setting 'hidden' (under \"train\"): put it back"),
    (("data", "lr"), "lacks the training settings 'data', 'lr' (under \"train\")"),
])
def test_a_training_setting_deleted_from_config_is_named(base, tmp_path, lacking, fragment):
    # A deleted setting took its default: without data, eval and --resume said that
    # data/kanji.txt had changed since the run was trained on it (it never was); without
    # hidden, --resume blamed state.npz for weights of the wrong shape.
    folder = copy_run(base, tmp_path)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    for name in lacking:
        del config["train"][name]
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    assert_one_line_error(run("eval", "--run", folder), 2, fragment)
    assert_one_line_error(run("train", "--out", folder, "--resume", "--epochs", 2), 2, fragment)
    del config["train"]
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    assert_one_line_error(run("eval", "--run", folder), 2, "lacks the field 'train'")
    # a config.json written before --schedule was a setting still loads, as it did
    config["train"] = json.loads((base / "run" / "config.json").read_text())["train"]
    del config["train"]["schedule"]
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    assert run("eval", "--run", folder).exit_code == 0


def test_a_name_with_a_stray_space_at_an_end_is_said_to_have_it(base, tmp_path, monkeypatch):
    # `--data "d.txt "` (a paste inside quotes) was told `data file d.txt  not found`: the
    # space, the whole mistake, does not show.
    monkeypatch.chdir(base)
    assert_one_line_error(run("train", "--data", "d.txt ", "--out", tmp_path / "r"), 2,
                          "(its name", "ends with a space; ")
    assert not (tmp_path / "r").exists()
    assert_one_line_error(run("eval", "--run", " run"), 2, "run folder  run not found (its name "
                          "' run' begins with a space; run is there)")
    result = run("eval", "--run", "nothere ")  # nothing of that name without it: as before
    assert_one_line_error(result, 2, "run folder nothere  not found")
    assert "space" not in result.output


def _edit_state(folder, edit):
    """Rewrites folder/state.npz after `edit(arrays, meta)` has changed its arrays and its
    progress record (both dicts, in place)."""
    arrays = load_npz(folder / "state.npz")
    meta = json.loads(str(arrays["meta"]))
    edit(arrays, meta)
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(folder / "state.npz", **arrays)


def test_a_trained_run_whose_model_was_deleted_says_so_and_resume_writes_it_again(base,
                                                                                   tmp_path):
    # It was said to have stopped before its first epoch ended; and --resume kept to the best
    # accuracy so far, so an epoch that did less well wrote no model.npz: none ever came back.
    folder = copy_run(base, tmp_path)
    _edit_state(folder, lambda a, m: m.update(best_accuracy=1.0))  # an earlier epoch's best
    (folder / "model.npz").unlink()
    result = run("eval", "--run", folder)
    assert_one_line_error(result, 2, "has no model.npz, though it has trained 1 epoch",
                          "--resume --epochs 2")
    assert "before its first epoch" not in result.output
    result = run("train", "--out", folder, "--resume", "--epochs", 2)
    assert result.exit_code == 0, result.output
    assert (folder / "model.npz").is_file()
    assert run("eval", "--run", folder).exit_code == 0


@pytest.mark.parametrize("edit, fragment", [
    (lambda a, m: a.pop("adam/step"), "missing 'step'"),
    (lambda a, m: a.update({"adam/step": np.array(-5)}), "step count of -5"),
    (lambda a, m: a.update({"adam/step": np.array("x")}), "step count of 'x'"),
    (lambda a, m: a.pop("adam/m_0"), "missing 'm_0'"),
    (lambda a, m: (a.pop("adam/m_9"), a.pop("adam/v_9")), "9 moments for 10 params"),
    (lambda a, m: a.update({"adam/m_0": np.zeros((3, 3), np.float32),
                            "adam/v_0": np.zeros((3, 3), np.float32)}), "m_0 has shape (3, 3)"),
    (lambda a, m: a.update({"adam/m_0": np.full(a["adam/m_0"].shape, "a"),
                            "adam/v_0": np.full(a["adam/v_0"].shape, "a")}), "not floating"),
    (lambda a, m: m.update(rng_state={}), "damaged progress record"),
    (lambda a, m: m.update(rng_state=5), "damaged progress record"),
    (lambda a, m: m.update(epoch=-3), "damaged progress record"),
    (lambda a, m: m.update(iteration=1.7), "damaged progress record"),
])
def test_a_damaged_optimizer_or_generator_state_is_one_line(base, tmp_path, edit, fragment):
    """state.npz of another model's optimizer, or edited: the resumed run raised numpy's and
    Adam's errors in the middle of its first update (`Adam state does not match the params`,
    `math domain error`, `KeyError: 'step'`, `state must be for a PCG64 RNG`), after it had
    rewritten config.json; an epoch of -3 trained on from there."""
    folder = copy_run(base, tmp_path)
    _edit_state(folder, edit)
    config = (folder / "config.json").read_bytes()
    assert_one_line_error(run("train", "--out", folder, "--resume", "--epochs", 2), 2,
                          "state.npz", fragment)
    assert (folder / "config.json").read_bytes() == config


# --- what output files may replace -------------------------------------------------------------


def test_outputs_never_replace_a_file_that_is_not_regular(base, tmp_path):
    """gen-data --force used to rename its file over /dev/full (as root); a FIFO stands in for
    the device here, and attend must not block reading it either."""
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    assert_one_line_error(run("gen-data", "--size", 10, "--out", fifo, "--force"), 2,
                          "not a regular file")
    png_fifo = tmp_path / "pipe.png"
    os.mkfifo(png_fifo)
    assert_one_line_error(run("attend", "一", "--run", base / "run", "--out", png_fifo), 2,
                          "not a PNG")
    assert fifo.is_fifo() and png_fifo.is_fifo()


def test_attend_interactive_never_overwrites_an_earlier_file(base, tmp_path):
    notes = tmp_path / "ib-1.png"
    notes.write_text("my notes", encoding="utf-8")
    result = run("attend", "--interactive", "--run", base / "run", "--out", tmp_path / "ib.png",
                 input="一\n\n")
    assert result.exit_code == 0, result.output
    assert notes.read_text(encoding="utf-8") == "my notes"
    assert (tmp_path / "ib-2.png").read_bytes()[:4] == b"\x89PNG"


def test_attend_numerals_and_interactive_check_the_out_too(base, tmp_path):
    target = tmp_path / "notes.png"
    target.write_text("my notes", encoding="utf-8")
    result = run("attend", "一", "--interactive", "--run", base / "run", "--out", target,
                 input="\n")
    assert_one_line_error(result, 2, "not a PNG")
    assert target.read_text(encoding="utf-8") == "my notes"


def test_attend_makes_the_folder_of_its_out(base, tmp_path):
    target = tmp_path / "new" / "deeper" / "a.png"
    result = run("attend", "一", "--run", base / "run", "--out", target)
    assert result.exit_code == 0, result.output
    assert target.read_bytes()[:4] == b"\x89PNG"


def test_bench_json_never_replaces_a_file_of_the_users(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("mine", encoding="utf-8")
    assert_one_line_error(run("bench", "--quick", "--json", notes), 2, "not an earlier")
    assert notes.read_text(encoding="utf-8") == "mine"
    # a missing folder is made (test_bench), a file in its place is named
    assert_one_line_error(run("bench", "--quick", "--json", notes / "b.json"), 2,
                          "notes.txt is a file, not a folder")
    assert notes.read_text(encoding="utf-8") == "mine"


# --- finding a run's data ----------------------------------------------------------------------


def test_eval_finds_the_data_from_any_folder(base, tmp_path, monkeypatch):
    """The data path used to be recorded as typed, relative to where training started."""
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "d.txt").write_bytes((base / "d.txt").read_bytes())
    monkeypatch.chdir(tmp_path / "work")
    assert run("train", "--data", "d.txt", "--hidden", 4, "--wordvec", 4, "--batch", 64,
               "--epochs", 1, "--show", 0, "--out", tmp_path / "r").exit_code == 0
    saved = json.loads((tmp_path / "r" / "config.json").read_text(encoding="utf-8"))
    assert saved["train"]["data"] == str(tmp_path / "work" / "d.txt")
    monkeypatch.chdir(tmp_path)
    result = run("eval", "--run", tmp_path / "r", "--json")
    assert result.exit_code == 0, result.output
    result = run("train", "--out", tmp_path / "r", "--resume", "--epochs", 2, "--show", 0)
    assert result.exit_code == 0, result.output


def test_the_shipped_models_data_is_made_again_where_the_file_is_missing(tmp_path):
    from dataclasses import replace
    from kanjinum.train import training_data
    loaded = load_run("kanjinum/default_model" if Path("kanjinum").is_dir() else
                      Path(__file__).parent.parent / "kanjinum" / "default_model")
    loaded.train = replace(loaded.train, data=str(tmp_path / "gone" / "kanji.txt"))
    dataset, source = training_data(loaded)
    assert len(dataset) == 50_000 and "made again" in source
    loaded.data_sha256 = "0" * 64  # another file: nothing to make again
    with pytest.raises(RunError, match="is not here"):
        training_data(loaded)


def test_fit_refuses_an_empty_folder_name(base, tmp_path, monkeypatch):
    """fit(config, '') trained into the current folder (Path('') is '.')."""
    from kanjinum.errors import OptionError
    from kanjinum.train import fit
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OptionError, match="out is empty"):
        fit(TrainConfig(data=str(base / "d.txt"), hidden=4, wordvec=4, batch=32, epochs=1), "")
    assert list(tmp_path.iterdir()) == []


def test_a_run_gives_its_history_for_the_learning_curve(base, tmp_path):
    """README imports learning_curve, but a notebook had no way to its input but reading
    history.json by hand (found by a new user, round 12)."""
    from kanjinum.plot import learning_curve
    run_ = load_run(copy_run(base, tmp_path))
    assert [r["epoch"] for r in run_.history] == [1]
    assert 0 <= run_.history[0]["accuracy"] <= 1
    assert learning_curve(run_.history).axes
    assert len(load_run("default").history) == load_run("default").train.epochs
    (run_.path / "history.json").write_text('{"epoch": 1}', encoding="utf-8")
    with pytest.raises(RunError, match="not a list of epoch records"):
        run_.history


def test_fit_refuses_resume_and_force_together(base, tmp_path):
    """fit(None, out, resume=True, force=True) went on and resumed, as if force were not
    there; the CLI refuses --resume --force (found in round 12)."""
    folder = copy_run(base, tmp_path)
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    with pytest.raises(OptionError, match="contradict"):
        fit(TrainConfig(epochs=5), folder, resume=True, force=True)
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before


def test_fit_resume_refuses_settings_it_would_not_use(base, tmp_path):
    """fit(TrainConfig(hidden=32, lr=1e-4, epochs=3), out, resume=True) went on with the run's
    own hidden 16 and lr without a word (round 43); the CLI refuses `--hidden 32 --resume`.
    A default, which a TrainConfig cannot tell from a value set, is no change; nor is a
    setting given as the run has it."""
    folder = copy_run(base, tmp_path)
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    with pytest.raises(OptionError, match=r"changes hidden=32 \(the run has 16\), "
                                          r"lr=0\.0001 \(the run has 0\.005\)"):
        fit(TrainConfig(hidden=32, lr=1e-4, epochs=3), folder, resume=True)
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before
    run_ = fit(TrainConfig(hidden=16, wordvec=8, batch=32, epochs=2), folder, resume=True)
    assert len(run_.history) == 2


def test_a_run_of_additions_without_its_data_suggests_no_kanji_file(tmp_path, monkeypatch):
    """The suggestion was --data data/hard.txt, kanji numerals, for any run."""
    from dataclasses import replace
    from kanjinum.train import TrainConfig as Config, fit, training_data
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "add.txt"
    data.write_text("".join(f"{a}+{a % 7:<3d}_{a + a % 7:<4d}\n" for a in range(100, 200)),
                    encoding="utf-8")
    trained = fit(Config(data=str(data), hidden=4, wordvec=4, batch=32, epochs=1), "r")
    trained.train = replace(trained.train, data=str(tmp_path / "gone.txt"))
    with pytest.raises(RunError, match="score another file with --data$"):
        training_data(trained)


def test_eval_scores_the_test_split_of_a_moved_data_file(base, tmp_path):
    """A run folder taken to another machine with its data file beside it: eval said 'the data
    file … is not here; name a file with --data', and --data scored every line, the training
    lines too (an instructor's round 36); there was no way to the run's test split."""
    folder = copy_run(base, tmp_path)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config["data"]["path"] = config["train"]["data"] = str(tmp_path / "gone" / "d.txt")
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    result = run("eval", "--run", folder)
    assert_one_line_error(result, 2, "if it moved, name it with --data NEW --split test")
    moved = tmp_path / "moved.txt"
    moved.write_bytes((base / "d.txt").read_bytes())
    expected = json.loads(run("eval", "--run", base / "run", "--json").output)
    found = json.loads(run("eval", "--run", folder, "--data", moved, "--split", "test",
                           "--json").output)
    assert (found["total"], found["correct"], found["split"]) == (
        expected["total"], expected["correct"], "test")
    # every line, the default with --data: said to hold the training lines too
    result = run("eval", "--run", folder, "--data", moved)
    assert result.exit_code == 0 and " of 300)" in result.output, result.output
    assert "is the file" in result.stderr and "--split test" in result.stderr
    # asked for all lines, told only that the training lines count too, with --data or not
    for args in (["--data", moved], []):
        result = run("eval", "--run", base / "run", *args, "--split", "all")
        assert result.exit_code == 0, result.output
        assert "training lines too" in result.stderr and "--split" not in result.stderr
    # another file has no test split of the run's
    other = tmp_path / "other.txt"
    other.write_text("".join((base / "d.txt").read_text(encoding="utf-8").splitlines(True)[:50]),
                     encoding="utf-8")
    assert_one_line_error(run("eval", "--run", folder, "--data", other, "--split", "test"), 2,
                          "is not the file", "without --split test")


def test_a_file_holding_training_lines_among_others_says_how_many(base, tmp_path):
    """eval --data of a file holding the run's training lines among others (its data file with
    lines added at its end) scored them in silence: the note that they count too was for the
    very file alone, and its accuracy read as one of unseen questions."""
    from kanjinum import data as D
    from kanjinum.train import load_run
    lines = (base / "d.txt").read_text(encoding="utf-8").splitlines(True)
    more = tmp_path / "more.txt"
    more.write_text("".join(lines + lines[:3]), encoding="utf-8")
    trained, _ = D.split_for_training(D.read_dataset(base / "d.txt"),
                                      load_run(base / "run").train.split_seed)
    seen = D.count_overlap(trained, D.read_dataset(more))
    assert 0 < seen < len(lines) + 3
    result = run("eval", "--run", base / "run", "--data", more)
    assert result.exit_code == 0, result.output
    assert (f"note: {seen:,} of the {len(lines) + 3:,} questions of {more} are ones "
            f"{base / 'run'} was trained on: they count too") in result.stderr, result.stderr
    assert run("eval", "--run", base / "run", "--data", more, "--json").stderr == ""


@pytest.mark.parametrize("convert", [
    lambda raw: raw.replace(b"\n", b"\r\n"),   # git's autocrlf, on Windows
    lambda raw: b"\xef\xbb\xbf" + raw])          # saved again by Notepad: a byte-order mark
def test_a_copy_of_the_data_file_with_other_line_ends_holds_the_same_lines(base, tmp_path,
                                                                           convert):
    """A copy whose line ends became CRLF (checked out by git on Windows) holds the run's very
    lines, which every command reads alike, but its bytes differ: eval --data COPY --split test
    said 'COPY is not the file R was trained on (its lines differ)', and eval without --data
    on the recorded file so converted, 'changed since R was trained on it'."""
    expected = json.loads(run("eval", "--run", base / "run", "--json").output)
    folder = copy_run(base, tmp_path)
    copy = tmp_path / "copy.txt"
    copy.write_bytes(convert((base / "d.txt").read_bytes()))
    found = json.loads(run("eval", "--run", folder, "--data", copy, "--split", "test",
                           "--json").output)
    assert (found["total"], found["correct"]) == (expected["total"], expected["correct"])
    result = run("eval", "--run", folder, "--data", copy)  # every line: its training lines too
    assert result.exit_code == 0 and "is the file" in result.stderr, result.output
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config["data"]["path"] = config["train"]["data"] = str(copy)
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    found = json.loads(run("eval", "--run", folder, "--json").output)
    assert (found["total"], found["correct"]) == (expected["total"], expected["correct"])


def test_an_unreadable_model_is_named_once(base, tmp_path, monkeypatch):
    import kanjinum.train as T
    folder = copy_run(base, tmp_path)

    def refuse(path, allow_pickle=False):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(T.np, "load", refuse)
    with pytest.raises(RunError) as caught:
        T.load_run(folder)
    assert str(caught.value) == f"cannot read {folder / 'model.npz'}: permission denied"


def test_an_unreadable_config_is_a_usage_mistake(base, tmp_path, monkeypatch):
    """It exited 1, as a failure while working, where an unreadable data file exits 2."""
    folder = copy_run(base, tmp_path)
    real_read_text = Path.read_text

    def refuse(self, *args, **kwargs):
        if self.name == "config.json":
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", refuse)
    assert_one_line_error(run("eval", "--run", folder), 2,
                          f"cannot read {folder / 'config.json'}: permission denied")


def test_messages_say_what_is_wrong(base, tmp_path):
    """Three messages that used to mislead: a file named as --run ('not found'), and a data
    file too small for the book's split (it did not say why)."""
    assert_one_line_error(run("eval", "--run", base / "d.txt"), 2, "is a file, not a run folder")
    from kanjinum.data import format_line
    from kanjinum.numerals import to_kanji
    small = tmp_path / "small.txt"  # single digits and round numbers only: all of them train
    numbers = list(range(1, 10)) + [10**k for k in range(1, 13)]
    small.write_text("".join(format_line(to_kanji(n), str(n), 3, 14) + "\n" for n in numbers),
                     encoding="utf-8")
    assert_one_line_error(run("train", "--data", small, "--out", tmp_path / "r"), 2,
                          "single digits and round numbers always train", "21 train, 0 test)",
                          "give it more lines (from gen-data: --size 200 or more)")
    # a file of additions has no single digits to speak of (a new user found them named)
    additions = tmp_path / "add.txt"
    additions.write_text("1+1  _2  \n", encoding="utf-8")
    result = run("train", "--data", additions, "--out", tmp_path / "r")
    assert_one_line_error(result, 2, "keeps a tenth for testing: 1 train, 0 test)")


def test_unreadable_weights_are_not_called_damaged(base, tmp_path, monkeypatch):
    folder = copy_run(base, tmp_path)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("kanjinum.train.np.load", refuse)
    assert_one_line_error(run("eval", "--run", folder), 2, "permission denied")


@pytest.mark.parametrize("spoil, fragment", [
    (lambda a: a.__setitem__("decoder.affine.b", np.full_like(a["decoder.affine.b"], np.nan)),
     "not finite"),
    (lambda a: a.__setitem__("decoder.affine.b", a["decoder.affine.b"].astype(str)),
     "not floating-point"),
])
def test_weights_that_are_not_numbers_are_refused(base, tmp_path, spoil, fragment):
    """They used to load: NaN weights answered nothing, and string arrays were parsed."""
    folder = copy_run(base, tmp_path)
    arrays = load_npz(folder / "model.npz")
    spoil(arrays)
    np.savez(folder / "model.npz", **arrays)
    assert_one_line_error(run("eval", "--run", folder), 2, fragment)


def test_an_empty_run_name_is_a_mistake():
    assert_one_line_error(run("eval", "--run", ""), 2, "--run is empty")


@pytest.mark.parametrize("args", [
    ["train", "--data", ""], ["eval", "--data", ""], ["gen-data", "--out", ""],
    ["gen-data", "--task", "hard", "--exclude", ""], ["attend", "一", "--out", ""],
    ["train", "--data="],
])
def test_an_empty_file_option_is_a_mistake(tmp_path, monkeypatch, args):
    """A script's unset variable: '' was read as the current folder ('. is a folder')."""
    monkeypatch.chdir(tmp_path)
    option = next(a for a in args if a.startswith("--") and a != "--task").rstrip("=")
    assert_one_line_error(run(*args), 2, f"{option} is empty")
    assert list(tmp_path.iterdir()) == []


def test_version():
    from kanjinum import __version__
    result = run("--version")
    assert result.exit_code == 0 and result.output.strip() == f"kanjinum {__version__}"


# --- second QA round ---------------------------------------------------------------------------


def test_layer_sizes_beyond_a_laptop_are_refused(base, tmp_path):
    """--hidden 100000 asked numpy for 298 GiB: a traceback and an empty run folder."""
    out = tmp_path / "big"
    assert_one_line_error(run("train", "--data", base / "d.txt", "--hidden", 100000, "--out", out),
                          2, "--hidden must be at most")
    assert not out.exists()


def test_epochs_beyond_any_run_are_refused(base, tmp_path):
    """--epochs 99999999999999999999 trained 'forever' at a learning rate of 2.5e-10."""
    out = tmp_path / "long"
    assert_one_line_error(run("train", "--data", base / "d.txt", "--epochs", 10**20, "--out", out),
                          2, "--epochs must be at most 10,000")
    assert not out.exists()


def test_folders_that_are_not_runs_say_so(base, tmp_path):
    """--run runs said 'runs/config.json not found'."""
    holder = tmp_path / "runs"
    holder.mkdir()
    (holder / "tiny").mkdir()
    for f in (base / "run").iterdir():
        (holder / "tiny" / f.name).write_bytes(f.read_bytes())
    assert_one_line_error(run("eval", "--run", holder), 2, "holds runs, but is not one",
                          f"--run {holder / 'tiny'}")
    assert_one_line_error(run("eval", "--run", holder / "tiny" / ".."), 2, "holds runs")
    # a later run (by name) with no model yet is no example to follow (found in round 21)
    unfinished = holder / "z-unfinished"
    unfinished.mkdir()
    (unfinished / "config.json").write_bytes((base / "run" / "config.json").read_bytes())
    assert_one_line_error(run("eval", "--run", holder), 2, f"e.g. --run {holder / 'tiny'}")
    (tmp_path / "empty").mkdir()
    assert_one_line_error(run("eval", "--run", tmp_path / "empty"), 2, "is not a run folder")


def test_an_empty_answer_is_shown_as_nothing(base, monkeypatch):
    from kanjinum.cli import print_answer
    from kanjinum.infer import Answer

    printed = []

    class Console:
        def print(self, text):
            printed.append(text)

    print_answer(Console(), Answer("一", "", None, 1))
    assert "(nothing)" in printed[0]


def test_running_out_of_memory_is_one_line(base, tmp_path, monkeypatch):
    def too_big(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr("kanjinum.train.build_model", too_big)
    assert_one_line_error(run("train", "--data", base / "d.txt", "--out", tmp_path / "r"), 1,
                          "not enough memory")


def test_train_help_gives_every_default():
    result = run("train", "--help")
    assert f"[default: {TrainConfig.epochs}]" in result.output.replace("\n", " ")
    assert "[default: on with --mask]" in " ".join(result.output.split())


@pytest.fixture()
def two_epochs(base, tmp_path):
    out = tmp_path / "two"
    assert run("train", "--data", base / "d.txt", "--hidden", 4, "--wordvec", 4, "--batch", 64,
               "--epochs", 2, "--show", 0, "--target-acc", 0.0001, "--out", out).exit_code == 0
    return out


def test_resume_with_nothing_left_to_do_is_refused_and_changes_nothing(two_epochs):
    """--epochs below what was trained used to rewrite config.json; a run stopped at its
    --target-acc trained one more epoch at every --resume."""
    config = (two_epochs / "config.json").read_bytes()
    history = (two_epochs / "history.json").read_bytes()
    assert_one_line_error(run("train", "--out", two_epochs, "--resume", "--epochs", 1), 2,
                          "has already trained")
    assert_one_line_error(run("train", "--out", two_epochs, "--resume", "--epochs", 5), 2,
                          "--target-acc")
    assert (two_epochs / "config.json").read_bytes() == config
    assert (two_epochs / "history.json").read_bytes() == history


def test_fit_with_nothing_left_to_resume_names_its_own_arguments(two_epochs):
    """fit(TrainConfig(epochs=1), out, resume=True) on a run that trained 1 epoch (stopped at
    its target_acc) was told to ask for more with --epochs, an option of the CLI that fit has
    not; the CLI's message stays as it was."""
    with pytest.raises(RunError, match=r"e\.g\. --epochs 11 \(fit: a TrainConfig of epochs=11, "
                                       r"with resume=True\)$"):
        fit(TrainConfig(epochs=1), two_epochs, resume=True)
    with pytest.raises(RunError, match=r"--target-acc to go on \(fit: a TrainConfig of a "
                                       r"higher target_acc\)$"):
        fit(None, two_epochs, resume=True)
    result = run("train", "--out", two_epochs, "--resume", "--epochs", 1)
    assert "fit:" not in result.output and "e.g. --epochs 11" in result.output


def test_resume_takes_the_same_data_file_written_another_way(base, tmp_path, monkeypatch):
    (tmp_path / "w").mkdir()
    monkeypatch.chdir(tmp_path / "w")
    data = tmp_path / "w" / ".." / "d.txt"
    (tmp_path / "d.txt").write_bytes((base / "d.txt").read_bytes())
    common = ["--hidden", 4, "--wordvec", 4, "--batch", 64, "--show", 0, "--out", tmp_path / "r"]
    assert run("train", "--data", data, "--epochs", 1, *common).exit_code == 0
    result = run("train", "--data", tmp_path / "d.txt", "--epochs", 2, "--resume", *common)
    assert result.exit_code == 0, result.output


def test_eval_options_that_would_be_ignored(base):
    assert_one_line_error(run("eval", "--run", base / "run", "--errors"), 2, "--show")
    assert_one_line_error(run("eval", "--run", base / "run", "--json", "--show", 2), 2, "--json")


def test_eval_on_a_run_stopped_before_its_first_epoch_says_how_to_go_on(base, tmp_path):
    folder = copy_run(base, tmp_path)
    (folder / "model.npz").unlink()
    assert_one_line_error(run("eval", "--run", folder), 2, "--resume")


@pytest.mark.parametrize("args, fragment", [
    (["--", "-5"], "only 0 <= n < 10**20"),
    (["9" * 5000], "only 0 <= n < 10**20"),
    (["一", "x", "二"], "'x' at position 1"),
    (["一億一", "--style", "daiji"], "--style daiji chooses how integers are written"),
])
def test_convert_mistakes(args, fragment):
    result = run("convert", *args)
    assert_one_line_error(result, 2, fragment)
    assert "parse_kanji" not in result.output and len(result.output) < 200


@pytest.mark.parametrize("args, fragment", [
    (["1,000"], "write 1000, without commas"),
    (["１，０００"], "write 1000, without commas"),  # a Japanese input method's
    (["1,000万"], "write 1000万, without commas"),
    (["1,000", "--style", "daiji"], "write 1000, without commas"),
    (["abc", "--style", "daiji"], "'a' at position 1 in 'abc' is not a numeral character"),
])
def test_convert_says_what_to_type_for_a_number_that_is_no_numeral(args, fragment):
    """`convert 1,000` said only that ',' is not a numeral character, and with `--style daiji`
    that '1,000' (or 'abc') "is a numeral to read", as if --style were the mistake."""
    result = run("convert", *args)
    assert_one_line_error(result, 2, fragment)
    assert "is a numeral to read" not in result.output


def test_gen_data_out_on_a_folder(tmp_path):
    # as for --out DIR/ and attend --out DIR (it was "is a folder; --out names the file")
    assert_one_line_error(run("gen-data", "--size", 10, "--out", tmp_path), 2,
                          "names a folder; name the file to write in it")


def test_attend_on_a_model_of_additions_prints_no_parser_truth(tmp_path):
    data = tmp_path / "add.txt"
    assert run("gen-data", "--task", "addition", "--size", 300, "--out", data).exit_code == 0
    assert run("train", "--data", data, "--hidden", 8, "--wordvec", 4, "--batch", 64,
               "--epochs", 1, "--show", 0, "--out", tmp_path / "r").exit_code == 0
    result = run("attend", "12+34", "--run", tmp_path / "r", "--out", tmp_path / "a.png")
    assert result.exit_code == 0, result.output
    assert "Q 12+34" in result.output and "parser" not in result.output
    # the sum is its truth: the answer was shown unjudged, `? 108`
    assert "T 46\n" in result.output and ("☑" in result.output or "☒" in result.output)
    from kanjinum.infer import answer_numerals
    answer, = answer_numerals(load_run(tmp_path / "r"), ["12+34"])
    assert answer.truth == 46 and answer.correct == (answer.answer == "46")
    # the default --oversample draws nothing from data without rare kinds, and is recorded so
    # (config.json said 0.05)
    assert load_run(tmp_path / "r").train.oversample == 0


def test_attend_on_a_model_of_dates_checks_lines_of_its_data_file(tmp_path, monkeypatch):
    """The book's dates have no rule to check an answer by: attend marked every one `?`,
    unjudged, which a class read as the model being unsure (round 40). A question that is a
    line of the run's data file is checked against that line's answer."""
    import datetime

    data = tmp_path / "d.txt"
    days = [datetime.date(1990, 1, 1) + datetime.timedelta(days=int(k))
            for k in np.random.default_rng(0).integers(0, 10_000, 300)]
    lines = [f"{d.strftime('%B %d, %Y' if k % 2 else '%m/%d/%y'):<29}_{d.isoformat()}"
             for k, d in enumerate(days)]  # the book's date.txt, in two of its ways
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert run("train", "--data", data, "--hidden", 8, "--wordvec", 4, "--batch", 64,
               "--epochs", 1, "--show", 0, "--out", tmp_path / "r").exit_code == 0
    question, answer = lines[0].split("_")
    question, answer = question.strip(), answer.strip()
    result = run("attend", question, "May 1, 2001", "--run", tmp_path / "r",
                 "--out", tmp_path / "a.png")
    assert result.exit_code == 0, result.output
    assert f"T {answer} (its data file's line)\n" in result.output, result.output
    assert ("☑" in result.output) != ("☒" in result.output)
    assert "Q May 1, 2001\n? " in result.output  # not a line of the file: unjudged
    from kanjinum.infer import answer_numerals
    first, other = answer_numerals(load_run(tmp_path / "r"), [question, "May 1, 2001"])
    assert first.truth == answer and first.correct == (first.answer == answer)
    assert other.truth is None and other.correct is None
    # --interactive reads the data file once, not once a question (0.4 s for 50,000 lines)
    import kanjinum.train

    reads = []
    read = kanjinum.train.training_data
    monkeypatch.setattr(kanjinum.train, "training_data", lambda r: reads.append(r) or read(r))
    result = run("attend", "--interactive", "--run", tmp_path / "r", "--out",
                 tmp_path / "i.png", input=f"{question}\n" * 3)
    assert result.output.count("(its data file's line)") == 3 and len(reads) == 1, reads
    # a data file gone: nothing to check by, and no error
    data.unlink()
    first, = answer_numerals(load_run(tmp_path / "r"), [question])
    assert first.truth is None


def test_a_model_of_digits_alone_is_no_model_of_numerals(tmp_path):
    """A user's own task whose questions are plain digits (here: reverse them) was taken for
    one of numerals: attend printed the parser's reading as the truth and called the model's
    answers wrong, and refused long questions as numbers too wide for the answers."""
    rng = np.random.default_rng(0)
    lines = []
    for _ in range(300):
        q = "".join(map(str, rng.integers(0, 10, rng.integers(1, 6))))
        lines.append(f"{q:<5}_{q[::-1]:<5}")
    data = tmp_path / "reverse.txt"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert run("train", "--data", data, "--hidden", 8, "--wordvec", 4, "--batch", 64,
               "--epochs", 1, "--show", 0, "--out", tmp_path / "r").exit_code == 0
    assert not load_run(tmp_path / "r").reads_numerals
    result = run("attend", "12345", "--run", tmp_path / "r", "--out", tmp_path / "a.png")
    assert result.exit_code == 0, result.output
    assert "Q 12345" in result.output and "parser" not in result.output


def test_messages_stay_on_one_line_when_piped(tmp_path):
    out = tmp_path / ("a-rather-long-folder-name-" * 3) / "k.txt"
    result = runner.invoke(app, ["gen-data", "--size", 10, "--out", str(out)],
                           env={**ENV, "COLUMNS": "60"})
    assert result.exit_code == 0
    assert len(result.output.strip().splitlines()) == 1


def test_output_cut_short_by_its_reader_is_not_an_error():
    """`kanjinum bench | head -1` printed 'error: Broken pipe'."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "kanjinum", "bench", "--quick", "--models", "seq2seq", "--data",
         "addition", "--modes", "padded", "--no-torch"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **ENV})
    assert proc.stdout.readline().startswith(b"kanjinum bench")
    proc.stdout.close()  # as head does after its line
    _, err = proc.communicate(timeout=120)
    assert b"error" not in err and b"Traceback" not in err, err
    assert proc.returncode == 141


@pytest.mark.parametrize("args", [
    ["convert", *map(str, range(1, 3001))],     # printed through rich, line by line
    ["gen-data", "--help"],                     # typer's help
    ["eval", "--run", "default", "--show", "3000", "--data", "data/hard.txt"],
])
def test_every_command_cut_short_by_its_reader_exits_141(args):
    """`kanjinum eval | head -1` exited 1, a failure to `set -o pipefail` scripts."""
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen([sys.executable, "-m", "kanjinum", *args], cwd=root,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, **ENV, "COLUMNS": "80"})
    proc.stdout.readline()
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 141, (proc.returncode, err)
    assert b"error" not in err and b"Traceback" not in err, err


def test_train_stopped_before_its_first_epoch_ends_says_there_is_no_model_yet(base, tmp_path,
                                                                                monkeypatch):
    """A stop in epoch 1 used to end in 'run saved in RUN', a folder with no model.npz."""
    monkeypatch.setattr("kanjinum.train._train_epochs", lambda *args: None)  # as if stopped
    result = run("train", "--data", base / "d.txt", "--hidden", 4, "--wordvec", 4,
                 "--show", 0, "--out", tmp_path / "r")
    assert result.exit_code == 0, result.output
    assert "run saved" not in result.output
    assert "no model to use" in result.output and "--resume" in result.output


# --- options that would do nothing; Ctrl-C while loading ------------------------------------


DATES = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "date.txt"


def test_oversample_on_data_without_numerals_is_refused(tmp_path):
    data = tmp_path / "dates.txt"
    data.write_text("".join(DATES.read_text(encoding="utf-8").splitlines(keepends=True)[:400]),
                    encoding="utf-8")
    out = tmp_path / "run"
    result = run("train", "--data", data, "--hidden", 8, "--wordvec", 4, "--batch", 32,
                 "--epochs", 1, "--oversample", 0.3, "--out", out)
    assert_one_line_error(result, 2, "--oversample 0.3", "leave --oversample out")
    assert not out.exists()
    # the default share does nothing there, quietly: the book's data trains as it is
    result = run("train", "--data", data, "--hidden", 8, "--wordvec", 4, "--batch", 32,
                 "--epochs", 1, "--show", 0, "--out", out)
    assert result.exit_code == 0, result.output


def test_resume_repeating_the_default_oversample_on_data_without_numerals(tmp_path):
    """`train --data dates.txt --oversample 0.05 --out r` records oversample 0 (the default
    share drew nothing there); the same command with --resume was refused, '--oversample 0.05
    (the run has 0.0)', though --resume takes the command that started the run."""
    data = tmp_path / "dates.txt"
    data.write_text("".join(DATES.read_text(encoding="utf-8").splitlines(keepends=True)[:400]),
                    encoding="utf-8")
    out = tmp_path / "run"
    command = ["train", "--data", data, "--hidden", 8, "--wordvec", 4, "--batch", 32,
               "--show", 0, "--oversample", 0.05, "--out", out]
    result = run(*command, "--epochs", 1)
    assert result.exit_code == 0, result.output
    assert load_run(out).train.oversample == 0
    result = run(*command, "--epochs", 2, "--resume")
    assert result.exit_code == 0, result.output
    assert len(load_run(out).history) == 2


def test_ctrl_c_while_the_libraries_load_ends_quietly(monkeypatch):
    import builtins

    import kanjinum.__main__ as entry

    real_import = builtins.__import__

    def interrupted(name, *args, **kwargs):
        if name == "kanjinum.cli":
            raise KeyboardInterrupt
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", interrupted)
    with pytest.raises(SystemExit) as stopped:
        entry.main()
    assert stopped.value.code == 130


def test_ctrl_c_early_in_a_real_process_prints_no_traceback():
    process = subprocess.Popen([sys.executable, "-m", "kanjinum", "gen-data", "--help"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(0.1)  # python has started; numpy, typer and rich are loading
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    # 130: caught while loading; 0: it had finished; -SIGINT: on a loaded machine the signal
    # can arrive before Python has a handler, and the process ends at once, silently
    assert process.returncode in (0, 130, -signal.SIGINT), (process.returncode, err)


def test_a_ctrl_c_swallowed_while_loading_still_stops_quietly(monkeypatch, capsys):
    """A Ctrl-C that landed in one of importlib's clean-up callbacks printed 'Exception ignored
    in ... Traceback ... KeyboardInterrupt', and the command went on (seen in CI, under load)."""
    from types import SimpleNamespace

    import kanjinum.__main__ as entry
    monkeypatch.setattr(entry, "_interrupted", False)
    monkeypatch.setattr(sys, "unraisablehook", sys.unraisablehook)  # restored afterwards
    others = []
    monkeypatch.setattr(sys, "__unraisablehook__", others.append)
    entry._note_lost_interrupt(SimpleNamespace(exc_value=KeyboardInterrupt(), object=None))
    assert entry._interrupted and others == [] and capsys.readouterr().err == ""
    with pytest.raises(SystemExit) as stopped:
        entry.main()
    assert stopped.value.code == 130
    other = SimpleNamespace(exc_value=ValueError("x"), object=None)
    entry._note_lost_interrupt(other)  # anything else is Python's to report
    assert others == [other]


def test_train_out_empty_is_refused(base, tmp_path, monkeypatch):
    """--out '' trained into the current folder."""
    monkeypatch.chdir(tmp_path)
    result = run("train", "--data", base / "d.txt", "--hidden", 4, "--out", "")
    assert_one_line_error(result, 2, "--out is empty")
    assert list(tmp_path.iterdir()) == []


def test_force_never_removes_a_users_own_files(base, tmp_path):
    """--force removed any config.json, curve.png... by name, a user's own included."""
    mine = tmp_path / "project"
    mine.mkdir()
    (mine / "config.json").write_text('{"my": "settings"}', encoding="utf-8")
    (mine / "curve.png").write_bytes(b"my plot")
    result = run("train", "--data", base / "d.txt", "--hidden", 4, "--wordvec", 4,
                 "--epochs", 1, "--show", 0, "--out", mine, "--force")
    assert_one_line_error(result, 2, "no kanjinum run", "choose another --out")
    assert (mine / "config.json").read_text(encoding="utf-8") == '{"my": "settings"}'
    assert (mine / "curve.png").read_bytes() == b"my plot"
    assert not (mine / "model.npz").exists()
    # a folder of other files only is fine to train into with --force
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("keep me", encoding="utf-8")
    result = run("train", "--data", base / "d.txt", "--hidden", 4, "--wordvec", 4,
                 "--epochs", 1, "--show", 0, "--out", other, "--force")
    assert result.exit_code == 0, result.output
    assert (other / "notes.txt").read_text(encoding="utf-8") == "keep me"
    assert (other / "model.npz").exists()


def test_the_shipped_models_data_is_made_again_where_the_file_has_changed(tmp_path):
    """`gen-data --size 2000 --force` then `eval --run default` was refused: data changed."""
    from dataclasses import replace
    from kanjinum.train import training_data
    loaded = load_run(Path(__file__).parent.parent / "kanjinum" / "default_model")
    smaller = tmp_path / "kanji.txt"
    assert run("gen-data", "--size", 2000, "--out", smaller).exit_code == 0
    loaded.train = replace(loaded.train, data=str(smaller))
    dataset, source = training_data(loaded)
    assert len(dataset) == 50_000 and "has changed" in source and "made again" in source
    loaded.data_sha256 = "0" * 64  # a run of another file: the change is reported
    with pytest.raises(RunError, match="changed since"):
        training_data(loaded)


@pytest.mark.parametrize("command", [
    ["gen-data", "--size", "10", "--out", "{f}/x.txt"],
    ["attend", "一", "--run", "default", "--out", "{f}/a.png"],
    ["attend", "--interactive", "--run", "default", "--out", "{f}/a.png"],
    ["train", "--data", "{f}", "--hidden", "4", "--out", "{f}/run"],
    ["bench", "--quick", "--json", "{f}/b.json"],
])
def test_a_file_named_as_a_folder_is_said_plainly(tmp_path, command):
    """gen-data said 'File exists', attend printed its answer and then failed with status 1,
    bench said the folder did not exist."""
    data = tmp_path / "kanji.txt"
    assert run("gen-data", "--size", 300, "--max-digits", 3, "--out", data).exit_code == 0
    before = data.read_bytes()
    result = run(*[part.replace("{f}", str(data)) for part in command], input="")
    assert_one_line_error(result, 2, f"{data} is a file, not a folder")
    assert data.read_bytes() == before


def test_atomic_writes_name_the_file_in_the_way(tmp_path):
    from kanjinum.fileio import atomic_write_text
    blocker = tmp_path / "f"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(NotADirectoryError) as raised:
        atomic_write_text(blocker / "sub" / "a.txt", "y")
    assert raised.value.filename == str(blocker)


def test_attend_refuses_more_numerals_than_one_heatmap_shows(tmp_path):
    from kanjinum.plot import MAX_PANELS
    out = tmp_path / "a.png"
    result = run("attend", "--run", "default", "--out", out, *["一"] * (MAX_PANELS + 1))
    assert_one_line_error(result, 2, f"at most {MAX_PANELS}")
    assert not out.exists()


def test_unreadable_characters_are_named_as_typed():
    """NFKC turned a full-width space into ' ' and ２ into '2' before the message was made."""
    from kanjinum.errors import VocabError
    from kanjinum.infer import check_numeral
    loaded = load_run(Path(__file__).parent.parent / "kanjinum" / "default_model")
    with pytest.raises(VocabError, match=r"'\\u3000' \(U\+3000\)"):
        check_numeral(loaded, "一\u3000億")
    with pytest.raises(VocabError, match=r"'１' \(U\+FF11\), '２' \(U\+FF12\)") as raised:
        check_numeral(loaded, "１２")
    assert "'１２'" in str(raised.value)  # the text as typed
    assert check_numeral(loaded, " \u2f00億\u2f00 ") == "一億一"


def test_a_model_of_dates_asks_for_questions_not_numerals():
    from kanjinum.errors import VocabError
    from kanjinum.infer import check_numeral, question_word
    loaded = load_run(Path(__file__).parent.parent / "kanjinum" / "default_model")
    loaded.question_chars = "0123456789/ ,abcdefghijklmnopqrstuvwxyz"
    assert question_word(loaded) == "question"
    with pytest.raises(VocabError, match="empty question") as raised:
        check_numeral(loaded, "  ")
    assert "一億一" not in str(raised.value)


def test_fit_interrupted_in_a_notebook_says_so(base, tmp_path, monkeypatch):
    """A notebook's interrupt (SIGINT) made fit return as if it had finished, silently."""
    from kanjinum.train import Reporter
    monkeypatch.setattr(Reporter, "iteration",
                        lambda self, loss: os.kill(os.getpid(), signal.SIGINT))
    config = TrainConfig(data=str(base / "d.txt"), hidden=4, wordvec=4, batch=32, epochs=2)
    with pytest.warns(RuntimeWarning, match="stopped by SIGINT.*resume=True") as caught:
        trained = fit(config, tmp_path / "r")
    assert trained.stopped_by == "SIGINT"
    assert caught[0].filename == __file__  # shown at the notebook's line, not in kanjinum
    assert (tmp_path / "r" / "state.npz").exists()
    monkeypatch.undo()
    finished = fit(TrainConfig(epochs=2), tmp_path / "r", resume=True)
    assert finished.stopped_by == ""


def test_fit_from_python_records_the_data_path_absolute(base, tmp_path, monkeypatch):
    """fit(TrainConfig(data="d.txt")) recorded 'd.txt': eval from another folder lost it."""
    monkeypatch.chdir(base)
    fit(TrainConfig(data="d.txt", hidden=4, wordvec=4, batch=64, epochs=1), tmp_path / "r")
    saved = json.loads((tmp_path / "r" / "config.json").read_text(encoding="utf-8"))
    assert saved["train"]["data"] == str(base / "d.txt")
    monkeypatch.chdir(tmp_path)
    assert run("eval", "--run", tmp_path / "r").exit_code == 0


def test_data_read_from_a_pipe_is_hashed_as_it_was_read(base, tmp_path):
    """`train --data <(head -300 d.txt)`: the run hashed its data by opening the file a second
    time, which a pipe had emptied (config.json held the sha256 of nothing), and a FIFO (`mkfifo`)
    blocked forever there, after the data had been read, with nothing on the screen."""
    import hashlib
    import threading

    data = (base / "d.txt").read_bytes()
    read_end, write_end = os.pipe()

    def feed():
        with os.fdopen(write_end, "wb") as f:
            f.write(data)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        fit(TrainConfig(data=f"/dev/fd/{read_end}", hidden=4, wordvec=4, batch=64, epochs=1),
            tmp_path / "r")
    finally:
        feeder.join(timeout=5)
        os.close(read_end)
    saved = json.loads((tmp_path / "r" / "config.json").read_text(encoding="utf-8"))
    assert saved["data"]["sha256"] == hashlib.sha256(data).hexdigest()


def test_load_run_default_is_the_shipped_model(base, tmp_path, monkeypatch):
    """"default" is the shipped model in the library as in the CLI, even beside a run folder
    named default (load_run took ./default where --run default took the shipped model)."""
    monkeypatch.chdir(tmp_path)
    assert load_run("default").path.name == "default_model"
    copy_run(base, tmp_path).rename(tmp_path / "default")
    assert load_run("default").path.name == "default_model"
    assert run("eval", "--run", "default", "--json").exit_code == 0
    assert load_run("./default").path == Path("default")
    assert load_run(Path("default")).path == Path("default")


@pytest.mark.parametrize("settings, fragment", [
    ({"hidden": "32"}, "hidden must be of type int"), ({"hidden": 32.0}, "of type int"),
    ({"epochs": True}, "of type int"), ({"lr": "fast"}, "lr must be a number"),
    ({"mask": 1}, "of type bool"), ({"data": 3}, "data must be a path"),
])
def test_settings_of_the_wrong_type_are_named_in_library_use(settings, fragment, tmp_path):
    """TrainConfig(hidden='32') failed deep inside with "'<' not supported"."""
    from kanjinum.errors import OptionError
    with pytest.raises(OptionError, match=fragment):
        fit(TrainConfig(**settings), tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_fit_without_a_config_says_what_it_needs(tmp_path):
    with pytest.raises(TypeError, match="needs a TrainConfig"):
        fit(None, tmp_path / "r")
    with pytest.raises(TypeError, match="not dict"):
        fit({"hidden": 8}, tmp_path / "r")


@pytest.mark.parametrize("out", [5, 2.5, ["runs/r"]])
def test_fit_with_an_out_that_is_no_path_says_so(out, tmp_path, monkeypatch):
    """fit(config, 5) failed in pathlib: "argument should be a str or an os.PathLike object"."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(TypeError, match=f"out must be a run folder's path or None, not "
                                        f"{type(out).__name__}"):
        fit(TrainConfig(epochs=1), out)
    assert list(tmp_path.iterdir()) == []


def test_pytest_quiet_still_prints_its_summary():
    """`python -m pytest -q` printed nothing at all: the project's settings added a second -q."""
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "tests/test_plot.py::test_learning_curve"],
                          cwd=root, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "1 passed" in done.stdout


def _blas_threads_now() -> int:
    from threadpoolctl import threadpool_info
    return max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")


def test_the_library_trains_and_decodes_on_one_blas_thread_unless_asked(base, tmp_path,
                                                                       monkeypatch):
    """fit() and Run.predict() ran on every BLAS thread (the CLI limits them to --threads):
    with another process on the other core, a notebook's training went 10x slower."""
    from threadpoolctl import threadpool_limits

    from kanjinum.optim import Adam
    seen = []
    real_update = Adam.update

    def update(self, params, grads):
        seen.append(_blas_threads_now())
        return real_update(self, params, grads)

    monkeypatch.setattr(Adam, "update", update)
    monkeypatch.chdir(base)
    two = min(2, os.cpu_count() or 1)
    with threadpool_limits(limits=two):
        trained = fit(TrainConfig(data="d.txt", hidden=4, wordvec=4, batch=64, epochs=1),
                      tmp_path / "r")
        assert set(seen) == {1} and trained.threads == 1
        decoded = []
        monkeypatch.setattr(trained.model, "generate", lambda *a, **k: decoded.append(
            _blas_threads_now()) or (np.zeros((1, trained.answer_width), np.int32), None))
        trained.predict(["一"])
        trained.threads = two
        trained.predict(["一"])
        assert decoded == [1, two]
        assert _blas_threads_now() == two  # restored after
    with pytest.raises(OptionError, match="threads"):
        fit(TrainConfig(data="d.txt"), tmp_path / "r2", threads=0)
    assert not (tmp_path / "r2").exists()


def test_runs_started_in_the_same_second_get_folders_of_their_own(base, tmp_path, monkeypatch):
    """The default folder runs/<model>-<time> has one-second resolution: the second of two runs
    started together was refused, with advice (--force) that would wipe the first."""
    import kanjinum.train as T
    monkeypatch.setattr(T.time, "strftime", lambda pattern: "20261122-235453")
    monkeypatch.chdir(tmp_path)
    data = str(base / "d.txt")
    first = run("train", "--data", data, "--hidden", 4, "--wordvec", 4, "--epochs", 1)
    second = run("train", "--data", data, "--hidden", 4, "--wordvec", 4, "--epochs", 1,
                 "--force")  # --force cannot touch a run it did not name
    assert first.exit_code == 0 and second.exit_code == 0, second.output
    folder = tmp_path / "runs" / "attention-20261122-235453"
    assert "runs/attention-20261122-235453-2" in second.output.replace("\n", "")
    third = fit(TrainConfig(data=data, hidden=4, wordvec=4, epochs=1))
    assert third.path == Path("runs") / "attention-20261122-235453-3"
    for path in (folder, folder.with_name(folder.name + "-2"), folder.with_name(folder.name + "-3")):
        assert (path / "model.npz").exists() and (path / "config.json").exists()
    # the first run is untouched by the later ones
    assert json.loads((folder / "history.json").read_text(encoding="utf-8"))[0]["epoch"] == 1


def test_more_threads_than_cores_are_refused(base, tmp_path, monkeypatch):
    """--threads 999 was taken: an epoch of 0.0 s took 6.5 s, the threads waiting on each
    other. Refused in the CLI, bench and the library alike."""
    import kanjinum.train as T
    from kanjinum import bench
    too_many = T.available_cores() + 1
    for command in (["train", "--data", base / "d.txt", "--out", tmp_path / "r"],
                    ["eval", "--run", base / "run"], ["attend", "一", "--run", base / "run"]):
        result = run(*command, "--threads", too_many)
        assert result.exit_code == 2 and f"use {too_many - 1} cores" in result.output, command
    assert not (tmp_path / "r").exists()
    with pytest.raises(OptionError, match="cores"):
        bench.parse_args(["--threads", str(too_many)])
    with pytest.raises(OptionError, match="cores"):
        fit(TrainConfig(data=str(base / "d.txt")), tmp_path / "r", threads=too_many)
    result = run("eval", "--run", base / "run", "--threads", 0)
    assert_one_line_error(result, 2, "--threads must be a whole number of at least 1, not 0")
    with pytest.raises(OptionError, match="--threads must be a whole number"):
        bench.parse_args(["--threads", "0"])
    with pytest.raises(OptionError, match="--warmup must be at least 0, not -1"):
        bench.parse_args(["--warmup", "-1"])  # the one that is wrong, not all four


def test_small_message_fixes_of_the_sixth_round(base, tmp_path):
    """Found by a new user: a resume of a missing run named its config.json; 'has 1 lines';
    `convert -5` gave no hint; --exclude of the book's additions excluded nothing, silently."""
    result = run("train", "--out", tmp_path / "nothere", "--resume")
    assert_one_line_error(result, 2, "nothing to resume in")
    assert "no such folder" in result.output
    one = tmp_path / "one.txt"
    one.write_text("一_1\n", encoding="utf-8")
    result = run("train", "--data", one, "--out", tmp_path / "r1")
    assert_one_line_error(result, 2, "has 1 line:")
    result = run("convert", "-5")
    assert result.exit_code == 2 and "put -- before it" in result.output
    additions = tmp_path / "add.txt"
    additions.write_text("1+1 _2 \n2+2 _4 \n", encoding="utf-8")
    result = run("gen-data", "--task", "hard", "--exclude", additions, "--out", tmp_path / "h.txt")
    assert_one_line_error(result, 2, "holds no kanji numerals")
    assert not (tmp_path / "h.txt").exists()


def test_a_folder_being_trained_is_refused_to_a_second_training(base, tmp_path):
    """Two trainings into one --out: the second was told the folder held an unfinished run
    and to pass --force, which wipes the live one; with --force both ran into one folder."""
    import fcntl
    folder = copy_run(base, tmp_path)  # a run in the middle of its training
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    fd = os.open(folder, os.O_RDONLY)  # what the training in another process holds
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        for extra in ([], ["--force"], ["--resume"]):
            result = run("train", "--data", base / "d.txt", "--hidden", 16, "--wordvec", 8,
                         "--batch", 32, "--epochs", 2, "--out", folder, *extra)
            assert_one_line_error(result, 2, "is in use: another training is writing it")
        assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    finally:
        os.close(fd)
    result = run("train", "--data", base / "d.txt", "--hidden", 4, "--wordvec", 4,
                 "--epochs", 1, "--out", folder, "--force")
    assert result.exit_code == 0, result.output  # free again once the other has ended


def test_fixes_of_the_seventh_round(base, tmp_path, monkeypatch):
    """A folder that passes os.access but takes no file (/proc) was found after the answers;
    answer_numerals read a bare string character by character; eval gave 0 % for a file the
    model cannot read at all; "1 cores"."""
    import kanjinum.fileio as fileio
    import kanjinum.train as T
    from kanjinum.infer import answer_numerals

    def no_files_here(*args, **kwargs):
        raise OSError(13, "Permission denied")

    monkeypatch.setattr(fileio.tempfile, "TemporaryFile", no_files_here)
    result = run("attend", "一", "--run", base / "run", "--out", tmp_path / "a.png")
    assert_one_line_error(result, 2, "cannot write in the folder")
    assert "T 1" not in result.output
    monkeypatch.undo()
    trained = load_run(base / "run")
    with pytest.raises(TypeError, match=r"\[numeral\]"):
        answer_numerals(trained, "一億一")
    with pytest.raises(TypeError):
        answer_numerals(trained, [1])
    additions = tmp_path / "add.txt"
    additions.write_text("1+1 _2 \n2+2 _4 \n", encoding="utf-8")
    result = run("eval", "--run", base / "run", "--data", additions)
    assert_one_line_error(result, 2, "can read none of the 2 questions")
    monkeypatch.setattr(T, "available_cores", lambda: 1)
    result = run("eval", "--run", base / "run", "--threads", 2)
    assert_one_line_error(result, 2, "use 1 core;")


def test_training_stopped_before_its_first_epoch_gives_the_resume_advice_once(base, tmp_path,
                                                                           monkeypatch):
    from kanjinum.cli import RichReporter
    monkeypatch.setattr(RichReporter, "iteration",
                        lambda self, loss: os.kill(os.getpid(), signal.SIGINT))
    result = run("train", "--data", base / "d.txt", "--hidden", 4, "--wordvec", 4,
                 "--epochs", 1, "--out", tmp_path / "r")
    assert result.exit_code == 130
    assert result.output.count("--resume") == 1 and "has no model to use" in result.output


def test_decode_bound_mistakes_are_one_line(tmp_path):
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "decode_bound.py"
    for args, fragment in ((["nosuch"], "not found"), (["default", "--limit", "0"], "at least 1")):
        done = subprocess.run([sys.executable, str(script), *args], capture_output=True,
                              text=True, timeout=60, cwd=tmp_path)
        assert done.returncode == 2 and fragment in done.stderr
        assert "Traceback" not in done.stderr
        assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1  # not usage


def test_decode_parts_times_the_parts_and_says_what_it_cannot(base, tmp_path):
    root = Path(__file__).resolve().parent.parent
    script = root / "benchmarks" / "decode_parts.py"
    for args, fragment in ((["nosuch"], "not found"),
                           (["default", "--repeats", "0"], "at least 1, not 0"),
                           (["default"], "data/kanji.txt not found")):
        done = subprocess.run([sys.executable, str(script), *args], capture_output=True,
                              text=True, timeout=60, cwd=tmp_path)
        assert done.returncode == 2 and fragment in done.stderr, done.stderr
        assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1
    done = subprocess.run([sys.executable, str(script), str(base / "run"), "--data",
                           str(base / "d.txt"), "--repeats", "1"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    parts = dict(re.findall(r"^\s+(\S.*?)\s+([\d.]+) µs per question", done.stdout, re.M))
    parts = {name: float(value) for name, value in parts.items()}
    assert set(parts) == {"encoder", "decoder LSTM", "rest of the decoder", "total"}
    assert abs(sum(parts[p] for p in parts if p != "total") - parts["total"]) < 0.2


def test_a_taken_run_folder_names_fits_own_arguments_too(base, tmp_path):
    """In a notebook, fit into a used folder said only "pass --resume ... or --force"."""
    folder = copy_run(base, tmp_path)
    with pytest.raises(RunError, match=r"resume=True, force=True"):
        fit(TrainConfig(data=str(base / "d.txt"), hidden=4), folder)


def test_a_broken_runs_link_is_named(base, tmp_path, monkeypatch):
    """runs -> a folder that is gone: the error said "cannot create runs/...: File exists"."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").symlink_to(tmp_path / "gone")
    result = run("train", "--data", base / "d.txt", "--hidden", 4, "--epochs", 1)
    assert_one_line_error(result, 2, "runs is a link to")
    assert "which does not exist" in result.output


# --- audit round 12: training, run folders and the library ---------------------------------


def test_bi_attention_of_an_odd_hidden_size_is_refused_in_one_line(base, tmp_path):
    """`train --model bi-attention --hidden 3` ended in the model's ValueError, a traceback;
    so did a run whose config.json was edited to an odd hidden size."""
    result = run("train", "--data", base / "d.txt", "--model", "bi-attention", "--hidden", 3,
                 "--epochs", 1, "--out", tmp_path / "bi")
    assert_one_line_error(result, 2, "--hidden must be even for --model bi-attention", "not 3")
    assert not (tmp_path / "bi").exists()
    with pytest.raises(OptionError, match="even"):
        TrainConfig(model="bi-attention", hidden=5).check()
    TrainConfig(model="attention", hidden=5).check()  # the others take any size

    def odd_bi_attention(config):
        config["model"].update(kind="bi-attention", hidden=7)
        config["train"].update(model="bi-attention", hidden=7)

    folder = run_with_edited_config(base, tmp_path, odd_bi_attention)
    assert_one_line_error(run("eval", "--run", folder), 2, "config.json has a bad value", "even")


def test_fit_returns_the_weights_its_run_folder_keeps(base, tmp_path, monkeypatch):
    """model.npz keeps the epoch of best test accuracy, but fit returned the last epoch's
    weights: in a notebook, `run.predict` after `fit` disagreed with `load_run` and eval."""
    import kanjinum.train as T
    accuracies = iter([1.0, 0.0])  # the first epoch is the better one

    def scripted(run, dataset):
        right = next(accuracies) == 1.0
        return T.Evaluation(list(dataset.questions), list(dataset.answers),
                            list(dataset.answers) if right else [""] * len(dataset), {})

    monkeypatch.setattr(T, "evaluate", scripted)
    config = TrainConfig(data=str(base / "d.txt"), hidden=8, wordvec=4, batch=32, epochs=2)
    trained = fit(config, tmp_path / "r")
    history = json.loads((tmp_path / "r" / "history.json").read_text(encoding="utf-8"))
    assert [h["accuracy"] for h in history] == [1.0, 0.0]
    saved = load_run(tmp_path / "r").model.named_params()
    returned = trained.model.named_params()
    assert all(np.array_equal(returned[name], saved[name]) for name in saved)


def test_advice_names_a_run_folder_with_a_space_as_the_shell_reads_it(base, tmp_path,
                                                                      monkeypatch):
    """`--out "runs/my run"` stopped by Ctrl-C advised `kanjinum train --out runs/my run
    --resume`, which the shell reads as two words: 'Got unexpected extra argument (run)'."""
    import shlex
    from kanjinum.cli import RichReporter
    folder = tmp_path / "my run 日本"
    monkeypatch.setattr(RichReporter, "iteration",
                        lambda self, loss: os.kill(os.getpid(), signal.SIGINT))
    result = run("train", "--data", base / "d.txt", "--hidden", 4, "--wordvec", 4,
                 "--epochs", 1, "--out", folder)
    assert result.exit_code == 130
    advice = result.output.split("continue with ")[1].split("\n")[0]
    assert shlex.split(advice) == ["kanjinum", "train", "--out", str(folder), "--resume"]
    monkeypatch.undo()
    result = run("eval", "--run", folder)  # no model yet: the same advice, pasteable
    assert shlex.split(result.output.split("continue it with ")[1]) == [
        "kanjinum", "train", "--out", str(folder), "--resume"]
    assert run("train", "--out", folder, "--resume").exit_code == 0
    result = run("eval", "--run", tmp_path)  # a folder of runs names one to pass
    assert shlex.split(result.output.split("e.g. ")[1]) == ["--run", str(folder)]


def test_load_run_of_an_empty_name_or_no_path_says_so(base, tmp_path, monkeypatch):
    """load_run("") read the current folder: "'.' holds runs, but is not one: name one of
    them, e.g. --run r"; load_run(None) failed inside pathlib."""
    monkeypatch.chdir(base)  # a folder that holds a run, as a project's would
    with pytest.raises(RunError, match="name is empty") as raised:
        load_run("")
    assert "holds runs" not in str(raised.value)
    with pytest.raises(TypeError, match="load_run takes a run folder's path, not NoneType"):
        load_run(None)


def _older_and_newer_runs(base, tmp_path) -> None:
    """runs/older and runs/newer under tmp_path: copies of base's run, saved in that order."""
    for name, when in (("older", 1_000_000), ("newer", 2_000_000)):
        folder = tmp_path / "runs" / name
        folder.mkdir(parents=True)
        for f in (base / "run").iterdir():
            (folder / f.name).write_bytes(f.read_bytes())
            os.utime(folder / f.name, (when, when))


def test_eval_and_attend_without_run_say_which_run_they_take(base, tmp_path, monkeypatch):
    """Without --run, attend named no run, a newer run with no model yet was passed over
    without a word, a run still training was taken as any other, and from a subfolder (or
    inside runs/) the shipped model answered unannounced."""
    from kanjinum.train import _FolderLocks

    _older_and_newer_runs(base, tmp_path)
    stopped = tmp_path / "runs" / "stopped"  # stopped before its first epoch: no model.npz
    stopped.mkdir()
    (stopped / "config.json").write_bytes((base / "run" / "config.json").read_bytes())
    monkeypatch.chdir(tmp_path)
    for args in (["eval"], ["attend", "一", "--out", tmp_path / "a.png"]):
        result = run(*args)
        assert result.exit_code == 0, result.output
        assert ("no --run: runs/newer, the run under runs/ whose model was saved last "
                "(runs/stopped, newer, has no model yet)") in result.output
    assert json.loads(run("eval", "--json").output)["run"] == "runs/newer"  # JSON alone
    with _FolderLocks() as locks:  # as a training in another terminal holds it
        locks.claim(tmp_path / "runs" / "newer")
        assert "it is still training" in run("eval").output
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    result = run("attend", "一", "--out", tmp_path / "b.png")
    assert result.exit_code == 0, result.output
    assert "no --run: the shipped model: there is no runs/ in the current folder" in result.output


def test_without_run_from_inside_runs_or_beside_it_the_users_runs_are_named(base, tmp_path,
                                                                            monkeypatch):
    # `cd runs; kanjinum eval` scored the shipped model (100 %) and said there is no runs/
    # here, but not that the folder's own runs could be named, nor how.
    _older_and_newer_runs(base, tmp_path)
    (tmp_path / "data").mkdir()
    for where, advice in (("runs", "the current folder itself holds runs: name one, e.g. "
                                   "--run newer"),
                          ("data", "../runs/ holds runs: name one, e.g. --run ../runs/newer")):
        monkeypatch.chdir(tmp_path / where)
        result = run("eval")
        assert result.exit_code == 0, result.output
        assert "no --run: the shipped model: there is no runs/" in result.output
        assert advice in result.output
    monkeypatch.chdir(tmp_path / "runs" / "newer")  # nothing of the kind around: no advice
    assert "holds runs" not in run("eval").output


def test_runs_named_with_a_number_after_them_are_in_the_order_they_were_made(base, tmp_path,
                                                                            monkeypatch):
    """Runs started in the same second are named runs/attention-<date>-<time>, -2, …, -10: by
    name -10 came before -2, so `eval --run runs` gave -2 as the example where -10 is the
    newest, and the runs with no model yet were listed -10, -2."""
    runs = tmp_path / "runs"
    name = "attention-20250101-120000"
    for suffix in ("", "-2", "-10"):
        (runs / f"{name}{suffix}").mkdir(parents=True)
        for f in ("config.json", "model.npz"):
            (runs / f"{name}{suffix}" / f).write_bytes((base / "run" / f).read_bytes())
    assert_one_line_error(run("eval", "--run", runs), 2, f"e.g. --run {runs / name}-10")
    same = 2_000_000  # saved in the same second, as a file system of whole seconds keeps it
    for suffix in ("", "-2", "-10"):
        os.utime(runs / f"{name}{suffix}" / "model.npz", (same, same))
    monkeypatch.chdir(tmp_path)
    assert json.loads(run("eval", "--json").output)["run"] == f"runs/{name}-10"
    (runs / "old").mkdir()
    for f in ("config.json", "model.npz"):
        (runs / "old" / f).write_bytes((base / "run" / f).read_bytes())
    for suffix in ("", "-2", "-10"):  # newer, with no model yet
        (runs / f"{name}{suffix}" / "model.npz").unlink()
    os.utime(runs / "old" / "model.npz", (1_000_000, 1_000_000))
    result = run("eval")
    assert (f"(runs/{name}, runs/{name}-2, runs/{name}-10, newer, have no model yet)"
            in result.output), result.output


@pytest.mark.parametrize("odd", ["①", "exp1②", "²"])
def test_a_folder_named_with_a_digit_that_is_not_decimal_is_sorted_too(base, tmp_path, odd):
    """Sorting run names in the order made read every part that isdigit() as a number: a
    circled ① (実験① is a common name) or a superscript ² is a digit to isdigit() but not to
    int() nor to the regex's \\d, and `eval --run FOLDER` ended in a ValueError traceback."""
    runs = tmp_path / "runs"
    (runs / odd).mkdir(parents=True)
    (runs / "a1").mkdir()
    for f in ("config.json", "model.npz"):
        (runs / "a1" / f).write_bytes((base / "run" / f).read_bytes())
    assert_one_line_error(run("eval", "--run", runs), 2, f"e.g. --run {runs / 'a1'}")


@pytest.mark.parametrize("digits, lines, advice, followed", [
    (1, 9, "numbers of 1 digit are all single digits, which always train: give it larger "
           "ones (from gen-data: --max-digits 2 or more)", ["--max-digits", 2, "--size", 99]),
    (2, 18, "give it more lines (from gen-data: --size 99)", ["--max-digits", 2, "--size", 99]),
])
def test_the_advice_for_a_file_too_small_to_split_is_one_gen_data_takes(tmp_path, digits, lines,
                                                                         advice, followed):
    """A numeral file too small to split was told `--size 200 or more` whatever its numbers:
    of 1 or 2 digits gen-data refuses that ('only 9 distinct numbers have at most 1 digit; ask
    for --size 9 or fewer'), and a file of single digits cannot be split at any size."""
    data = tmp_path / "d.txt"
    assert run("gen-data", "--max-digits", digits, "--size", lines, "--out", data).exit_code == 0
    tiny = ["--hidden", 4, "--wordvec", 4, "--batch", 8, "--epochs", 1, "--show", 0]
    assert_one_line_error(run("train", "--data", data, *tiny, "--out", tmp_path / "r"), 2,
                          f"{lines} train, 0 test); {advice}")
    assert run("gen-data", *followed, "--out", data, "--force").exit_code == 0
    result = run("train", "--data", data, *tiny, "--out", tmp_path / "r")
    assert result.exit_code == 0, result.output


def test_a_run_whose_data_file_moved_can_be_resumed_with_its_new_path(base, tmp_path):
    """The data file recorded in config.json moved: --resume said `data file … not found`,
    and --resume --data NEW was refused as a changed setting, so the run could not go on
    without editing config.json by hand. NEW is taken if it holds the same bytes."""
    data = tmp_path / "d.txt"
    data.write_bytes((base / "d.txt").read_bytes())
    out = tmp_path / "r"
    assert run("train", "--data", data, "--hidden", 8, "--wordvec", 4, "--batch", 32,
               "--epochs", 1, "--out", out).exit_code == 0
    moved = tmp_path / "moved" / "d.txt"
    moved.parent.mkdir()
    data.rename(moved)
    assert_one_line_error(run("train", "--out", out, "--resume", "--epochs", 2), 2,
                          "is not there any more; if it moved, add --data")
    other = tmp_path / "other.txt"
    other.write_bytes(moved.read_bytes()[:-40])
    assert_one_line_error(run("train", "--out", out, "--resume", "--epochs", 2, "--data",
                              other), 2, "is not the data")
    result = run("train", "--out", out, "--resume", "--epochs", 2, "--data", moved)
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert config["data"]["path"] == str(moved) and len(load_run(out).history) == 2


def test_a_run_whose_data_file_was_cut_again_in_place_goes_on_with_a_copy_as_it_was(base,
                                                                                     tmp_path):
    """`head -2000 date.txt > d.txt`, a run on it, then `head -3000 date.txt > d.txt` for
    another: --resume of the first said `d.txt changed since R was trained; cannot resume on
    it`, naming no way on, and --resume --data COPY (the file as it was) got the same words:
    --data was looked at only where the recorded file is gone."""
    lines = (base / "d.txt").read_text(encoding="utf-8").splitlines(keepends=True)
    data, copy = tmp_path / "d.txt", tmp_path / "copy.txt"
    data.write_text("".join(lines[:200]), encoding="utf-8")
    copy.write_bytes(data.read_bytes())
    out = tmp_path / "r"
    assert run("train", "--data", data, "--hidden", 8, "--wordvec", 4, "--batch", 32,
               "--epochs", 1, "--show", 0, "--out", out).exit_code == 0
    data.write_text("".join(lines[:250]), encoding="utf-8")  # cut again, under its name
    assert_one_line_error(run("train", "--out", out, "--resume", "--epochs", 2), 2,
                          "changed since", "add --data COPY")
    assert_one_line_error(run("train", "--out", out, "--resume", "--epochs", 2, "--data",
                              data), 2, "add --data COPY")
    assert_one_line_error(run("train", "--out", out, "--resume", "--epochs", 2, "--data",
                              base / "d.txt"), 2, "is not the data it was trained on either")
    result = run("train", "--out", out, "--resume", "--epochs", 2, "--data", copy)
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert config["data"]["path"] == str(copy) and len(load_run(out).history) == 2


def test_a_run_being_trained_before_its_first_epoch_is_not_called_stopped(base, tmp_path):
    """`eval --run R` while `train --out R --force` (another terminal) is in its first epoch
    said `R has no model: its training stopped before any checkpoint; start it again with
    … --force`, advice the running training's lock would refuse."""
    from kanjinum.train import _FolderLocks

    folder = tmp_path / "r"
    (folder / ".previous-run").mkdir(parents=True)  # where --force set the earlier run aside
    (folder / "config.json").write_bytes((base / "run" / "config.json").read_bytes())
    with _FolderLocks() as locks:
        locks.claim(folder)
        assert_one_line_error(run("eval", "--run", folder), 2,
                              "is being trained now and has no model yet",
                              f"waits in {folder / '.previous-run'} until then")
        (folder / "state.npz").write_bytes((base / "run" / "state.npz").read_bytes())
        assert "is being trained now" in run("attend", "一", "--run", folder).output
    assert "continue it with" in run("eval", "--run", folder).output  # once it is not


def test_fit_resuming_a_run_whose_data_moved_names_the_runs_file(base, tmp_path,
                                                                  monkeypatch):
    """fit(TrainConfig(epochs=N), out, resume=True) carries TrainConfig's default data path,
    which the user never named: where the run's data file had moved, it said only `data file
    data/kanji.txt not found`, not that the run's own file is gone."""
    from kanjinum.errors import KanjinumError

    data = tmp_path / "d.txt"
    data.write_bytes((base / "d.txt").read_bytes())
    out = tmp_path / "r"
    fit(TrainConfig(data=str(data), hidden=8, wordvec=4, batch=32, epochs=1), out)
    data.rename(tmp_path / "moved.txt")
    monkeypatch.chdir(tmp_path)  # no data/kanji.txt here
    with pytest.raises(KanjinumError, match="is not there any more, nor is data/kanji.txt"):
        fit(TrainConfig(epochs=2), out, resume=True)
    result = run("train", "--out", out, "--resume", "--epochs", 2, "--data", "gone.txt")
    assert_one_line_error(result, 2, f"{data}, is not there any more, nor is gone.txt")


def test_a_model_of_the_runs_size_is_loaded_without_reading_its_headers_twice(base,
                                                                           monkeypatch):
    """load_run read every array's header once to add up their sizes and once more to read
    them (2.2 ms to 2.9 ms for the shipped model); an npz whose zip directory states no more
    than the budget cannot fill more memory than that, and is read at once."""
    from kanjinum import train

    def not_needed(*args):
        raise AssertionError("headers read for an npz within the budget")

    monkeypatch.setattr(train, "_check_declared_bytes", not_needed)
    assert load_run(base / "run").model.params
    assert load_run("default").model.params


def test_a_trained_run_without_its_state_is_not_called_unfinished(base, tmp_path):
    """A run folder of config.json and model.npz (a run shared without its state.npz, or a
    finished run whose state.npz, the largest file of a run folder, was deleted): --resume said
    "its training saved no state.npz (it stopped before any checkpoint); start it again with
    --force", and train without --resume "holds a run that saved no checkpoint; pass --force",
    advice that replaces the trained model."""
    folder = copy_run(base, tmp_path)
    (folder / "state.npz").unlink()
    config = (folder / "config.json").read_bytes()
    result = run("train", "--out", folder, "--resume", "--epochs", 3)
    assert_one_line_error(result, 2, "holds a trained model but no state.npz",
                          "its model.npz still answers in eval and attend")
    assert "stopped before" not in result.output and "--force" not in result.output
    assert "before any checkpoint" not in result.output
    result = run("train", "--data", base / "d.txt", "--hidden", 4, "--out", folder)
    assert_one_line_error(result, 2, "holds a trained model (model.npz, without the state.npz",
                          "--force")
    assert "saved no checkpoint" not in result.output
    assert (folder / "config.json").read_bytes() == config
    with pytest.raises(RunError, match="holds a trained model but no state.npz"):
        fit(TrainConfig(epochs=3), folder, resume=True)
    assert load_run(folder).predict(["一"])[0]  # untouched, still a run
    assert run("eval", "--run", folder).exit_code == 0


def test_a_trained_model_without_state_is_named_before_its_data_is_looked_for(
        base, tmp_path, monkeypatch):
    """A run shared without its state.npz, trained on a file of another machine, and the
    shipped model outside the checkout: `train --out R --resume` said that R's data file "is
    not there any more; if it moved, add --data", and with --data found nothing to resume."""
    folder = copy_run(base, tmp_path)
    (folder / "state.npz").unlink()
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config["train"]["data"] = str(tmp_path / "elsewhere" / "d.txt")  # not on this machine
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    result = run("train", "--out", folder, "--resume", "--epochs", 3)
    assert_one_line_error(result, 2, "holds a trained model but no state.npz")
    assert "not there any more" not in result.output
    with pytest.raises(RunError, match="holds a trained model but no state.npz"):
        fit(TrainConfig(epochs=3), folder, resume=True)
    monkeypatch.chdir(tmp_path)  # no data/kanji.txt here, which the shipped model names
    result = run("train", "--out", load_run("default").path, "--resume", "--epochs", 50)
    assert_one_line_error(result, 2, "is the shipped model")


def test_the_shipped_models_folder_is_never_trained_into(base, tmp_path, monkeypatch):
    """fit(config, load_run("default").path, force=True) replaced the shipped model inside the
    installed package (eval's and attend's fallback) with the new run. A copy stands in for
    it: were the check lost, the test would replace the checkout's model before failing."""
    from kanjinum import train

    shipped = tmp_path / "default_model"
    shipped.mkdir()
    for f in train.DEFAULT_RUN.iterdir():
        (shipped / f.name).write_bytes(f.read_bytes())
    monkeypatch.setattr(train, "DEFAULT_RUN", shipped)
    assert load_run("default").path == shipped
    before = {f.name: f.read_bytes() for f in shipped.iterdir()}
    for resume, force in ((False, True), (True, False), (False, False)):
        with pytest.raises(RunError, match="is the shipped model"):
            fit(TrainConfig(data=str(base / "d.txt"), hidden=4, epochs=1), shipped,
                resume=resume, force=force)
    result = run("train", "--data", base / "d.txt", "--hidden", 4, "--out", shipped, "--force")
    assert_one_line_error(result, 2, "is the shipped model")
    assert {f.name: f.read_bytes() for f in shipped.iterdir()} == before


def test_numpys_numbers_are_taken_as_settings(base, tmp_path):
    """A notebook's sweep over np.arange(4, 9, 4) was refused: "hidden must be of type int, not
    np.int64(4)", "lr must be a number, not np.float32(0.01)", "threads must be a whole number
    of at least 1, not np.int64(1)", predict's "batch must be a whole number, not np.int64(2)"."""
    data = str(base / "d.txt")
    plain = fit(TrainConfig(data=data, hidden=4, wordvec=4, epochs=1, seed=3), tmp_path / "a")
    for hidden in np.arange(4, 9, 4):
        config = TrainConfig(data=data, hidden=hidden, wordvec=np.int32(4), epochs=np.int64(1),
                             seed=np.uint32(3), lr=np.float64(0.005), clip=np.float32(5))
        assert type(config.hidden) is int and type(config.clip) is float
        found = fit(config, tmp_path / f"h{hidden}", threads=np.int64(1))
        assert json.loads((found.path / "config.json").read_text())["train"]["hidden"] == hidden
    assert all(np.array_equal(a, b) for a, b in zip(plain.model.params, load_run(
        tmp_path / "h4").model.params))
    assert found.predict(["一", "二"], batch=np.int64(1))[0] == found.predict(["一", "二"])[0]
    with pytest.raises(OptionError, match="of type int"):  # still whole numbers only
        TrainConfig(hidden=np.float64(8.0)).check()


def test_a_reporter_that_is_not_one_is_refused_before_the_run_folder_is_made(base, tmp_path):
    """fit(..., reporter=print), the class RichReporter or a Console failed at the first call,
    after config.json was written: the folder then held "a run that saved no checkpoint", and
    the same fit with a right reporter was refused without force=True."""
    from rich.console import Console

    from kanjinum.cli import RichReporter
    config = TrainConfig(data=str(base / "d.txt"), hidden=4, wordvec=4, epochs=1)
    for reporter, fragment in ((print, "has no start, epoch_start"),
                               (RichReporter, "the class RichReporter"),
                               (Console(), "Console has no")):
        with pytest.raises(TypeError, match=fragment):
            fit(config, tmp_path / "r", reporter=reporter)
        assert not (tmp_path / "r").exists()
    fit(config, tmp_path / "r", reporter=RichReporter(Console(quiet=True)))


def test_fit_without_the_default_data_says_how_to_make_it(tmp_path, monkeypatch):
    """The README's notebook line fit(TrainConfig(epochs=2), "runs/notebook"), outside the
    checkout (pip install . brings no data): "data file …/data/kanji.txt not found", with no
    word of gen-data, which the CLI names."""
    from kanjinum.errors import DataError
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError, match=r"data/kanji.txt not found; make it with "
                                                  r"kanjinum gen-data in .*TrainConfig\(data="):
        fit(TrainConfig(epochs=2), "runs/notebook")
    assert not (tmp_path / "runs").exists()
    with pytest.raises(ValueError, match=r"other.txt not found$"):  # a file of one's own: as before
        fit(TrainConfig(data="other.txt"), "runs/notebook")


@pytest.mark.parametrize("config, fragment", [
    ({"model_type": "bert", "hidden_size": 768}, "is not a kanjinum run's configuration"),
    ({"format_version": "1", "model": {}}, "format_version must be a whole number, not '1'"),
])
def test_a_config_json_of_another_tool_is_not_called_newer(tmp_path, config, fragment):
    """`eval --run ~/models/bert` (a downloaded model's folder, with its own config.json) said
    `has format version None; … upgrade kanjinum`: no kanjinum writes a config.json without a
    whole format_version, so upgrading would not help."""
    folder = tmp_path / "bert"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    for command in (["eval", "--run", folder], ["attend", "一", "--run", folder, "--out",
                                                  tmp_path / "a.png"],
                    ["train", "--out", folder, "--resume"]):
        result = run(*command)
        assert_one_line_error(result, 2, fragment)
        assert "upgrade" not in result.output


def test_a_folder_without_a_run_is_not_told_to_resume_or_force_it(base, tmp_path):
    """`train --out notes` (a folder of the user's files) was told `is not empty; pass --resume
    to continue it or --force to start it again`, and --resume then found nothing to resume; a
    folder with the user's own config.json was told `holds a run that saved no checkpoint;
    pass --force`, which --force then refused. `--out runs` was told the same of its runs."""
    train = ["train", "--data", base / "d.txt", "--hidden", 4, "--wordvec", 4, "--epochs", 1,
             "--show", 0, "--out"]
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.txt").write_text("keep me", encoding="utf-8")
    result = run(*train, notes)
    assert_one_line_error(result, 2, "notes is not empty (a.txt) and holds no run",
                          "choose another --out", "--force")
    assert "--resume" not in result.output and "fit:" not in result.output
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "config.json").write_text('{"my": "settings"}', encoding="utf-8")
    result = run(*train, mine)
    assert_one_line_error(result, 2, "no kanjinum run", "choose another --out")
    assert "pass --force" not in result.output
    runs = tmp_path / "runs"
    runs.mkdir()
    copy_run(base, runs)  # runs/run
    result = run(*train, runs)
    assert_one_line_error(result, 2, "holds runs, but is not one", f"--out {runs / 'my-run'}")
    assert sorted(p.name for p in runs.iterdir()) == ["run"]
    assert (notes / "a.txt").read_text(encoding="utf-8") == "keep me"
    with pytest.raises(RunError, match=r"holds no run.*\(fit: force=True\)"):
        fit(TrainConfig(data=str(base / "d.txt"), hidden=4, wordvec=4, epochs=1), notes)


def test_a_file_of_a_run_named_as_the_run_names_its_folder(base, tmp_path):
    """`eval --run runs/a/model.npz` (the file a user sees as the model) said only that it is
    a file, and `train --out runs/a/state.npz --resume` that there is `no run there`."""
    folder = copy_run(base, tmp_path)
    for command in (["eval", "--run", folder / "model.npz"],
                    ["attend", "一", "--run", folder / "config.json", "--out",
                     tmp_path / "a.png"],
                    ["train", "--out", folder / "state.npz", "--resume"]):
        result = run(*command)
        assert_one_line_error(result, 2, "is a file, not a run folder",
                              f"name its folder, {folder}")
        assert "no run there" not in result.output
    # a file that is no run's says nothing of folders to name
    result = run("eval", "--run", base / "d.txt")
    assert_one_line_error(result, 2, "is a file, not a run folder")
    assert "name its folder" not in result.output


@pytest.mark.parametrize("share", [0.95, 0.999999, 1.0, -0.1])
def test_oversample_beyond_ten_times_an_epoch_is_refused(share):
    """--oversample s makes an epoch 1 / (1 - s) times the data: 0.999999 was taken, and the
    run ran out of memory after its folder was made; 0.95 trained epochs of 20 times."""
    from kanjinum.errors import OptionError
    with pytest.raises(OptionError, match=r"--oversample must be in \[0, 0.9\] \(0.5 doubles"):
        TrainConfig(oversample=share).check()
    TrainConfig(oversample=0.9).check()  # ten times: the most, still taken


def test_answers_with_a_space_inside_are_refused_with_the_mask(tmp_path):
    """A task of the user's own, reversing words: with --mask a space ends an answer, so the
    model's answers were cut at the first one (loss 0.004, accuracy 0 %, without a word)."""
    words = ["cat", "dog", "sun", "moon", "tree", "fish"]
    pairs = [(f"{a} {b}", f"{b} {a}") for a in words for b in words if a != b]
    data = tmp_path / "reverse.txt"
    data.write_text("".join(f"{q:<9}_{a:<9}\n" for q, a in pairs), encoding="utf-8")
    out = tmp_path / "run"
    args = ["train", "--data", data, "--hidden", 8, "--wordvec", 4, "--batch", 8,
            "--epochs", 1, "--show", 0, "--out", out]
    assert_one_line_error(run(*args), 2, "reverse.txt, line 1: the answer 'dog cat' holds a "
                          "space", "train with --no-mask")
    assert not out.exists()
    result = run(*args, "--no-mask")  # the book's way: every answer is decoded to full width
    assert result.exit_code == 0, result.output


def test_a_file_whose_answer_column_has_no_width_is_one_line(tmp_path):
    """Lines ending in `_` (`12 _`: no answers at all) trained into numpy's "cannot reshape
    array of size 0" traceback, leaving a run folder with config.json alone."""
    data = tmp_path / "noanswers.txt"
    data.write_text("".join(f"{i:<3}_\n" for i in range(30)), encoding="utf-8")
    out = tmp_path / "run"
    result = run("train", "--data", data, "--hidden", 4, "--wordvec", 4, "--batch", 4,
                 "--epochs", 1, "--out", out)
    assert_one_line_error(result, 2, "noanswers.txt: no line has an answer")
    assert not out.exists()


@pytest.fixture(scope="module")
def odd_characters_run(tmp_path_factory):
    """A run of the user's own characters: full-width letters, a no-break space, a tab."""
    folder = tmp_path_factory.mktemp("odd")
    questions = ["Ａ", "Ｂ", "ＡＢ", "Ａ\u00a0", "\u00a0Ｂ", "\t", "Ｂ\t", "ＢＡ", "Ａ\u00a0Ｂ", "ＢＢ"] * 3
    data = folder / "odd.txt"
    data.write_text("".join(f"{q:<3}_{len(q)}\n" for q in questions), encoding="utf-8")
    result = run("train", "--data", data, "--hidden", 4, "--wordvec", 4, "--batch", 4,
                 "--epochs", 1, "--show", 0, "--out", folder / "r")
    assert result.exit_code == 0, result.output
    return folder / "r"


def test_a_character_the_model_reads_is_not_folded_to_a_look_alike(odd_characters_run, tmp_path):
    """attend folds look-alikes (⼀ to 一, ５ to 5) for models of numerals; a model that reads
    the full-width Ａ itself had it folded to A, which it does not read, and the message about
    it ended in a traceback (TypeError: unsupported operand type(s) for +: 'NoneType')."""
    for typed in ["Ａ", "Ａ\u00a0Ｂ"]:
        result = run("attend", typed, "--run", odd_characters_run, "--out", tmp_path / "a.png")
        assert result.exit_code == 0, result.output
        assert f"Q {typed}\n" in result.output
    result = run("attend", "Ａx", "--run", odd_characters_run, "--out", tmp_path / "a.png")
    assert_one_line_error(result, 2, "'x' (U+0078) is not a character this model reads")


def test_white_space_the_model_reads_is_kept_around_a_question(odd_characters_run, tmp_path):
    """attend stripped all white space around what was typed: a model that reads a no-break
    space or a tab was asked 'Ａ' for 'Ａ\\u00a0' (its own training question) without a word,
    and a question that is a tab was refused as empty. Spaces, the padding, still go."""
    result = run("attend", "Ａ\u00a0", "\t", " Ｂ\t ", "--run", odd_characters_run, "--out",
                 tmp_path / "a.png")
    assert result.exit_code == 0, result.output
    assert "Q Ａ\u00a0\n" in result.output  # rich prints a tab as spaces: asked, below
    from kanjinum.infer import answer_numerals
    asked = [a.question for a in answer_numerals(load_run(odd_characters_run), ["\t", " Ｂ\t "])]
    assert asked == ["\t", "Ｂ\t"]
    result = run("attend", "--interactive", "--run", odd_characters_run, "--out",
                 tmp_path / "i.png", input="Ａ\u00a0\n")
    assert result.exit_code == 0 and "Q Ａ\u00a0\n" in result.output, result.output
    result = run("attend", "一\u3000", "--run", "default", "--out", tmp_path / "d.png")
    assert result.exit_code == 0 and "Q 一\n" in result.output  # unread white space still goes


def test_training_stopped_after_an_epoch_says_the_run_is_not_finished(base, tmp_path,
                                                                       monkeypatch):
    """Stopped once it had a model, train ended in `run saved in R`, as a finished run does,
    right under the line that says how to resume it."""
    from kanjinum.cli import RichReporter
    out = tmp_path / "r"

    def stop_once_there_is_a_model(self, loss):
        if (out / "model.npz").exists():
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(RichReporter, "iteration", stop_once_there_is_a_model)
    result = run("train", "--data", base / "d.txt", "--hidden", 4, "--wordvec", 4,
                 "--epochs", 3, "--out", out)
    assert result.exit_code == 130, result.output
    assert "--resume" in result.output
    assert f"run saved in {out} (stopped; its model is the best epoch so far)" in result.output


def test_a_run_resumed_with_another_thread_count_says_its_bits_will_differ(base, tmp_path,
                                                                           monkeypatch):
    """README promises the same bits for the same seed and --threads, but a run did not record
    its --threads, and --resume with another count went on without a word."""
    monkeypatch.setattr("kanjinum.train.available_cores", lambda: 2)  # on a one-core machine
    out = tmp_path / "r"
    settings = ("--data", base / "d.txt", "--hidden", 4, "--wordvec", 4, "--out", out)
    assert run("train", *settings, "--epochs", 1).exit_code == 0
    history = json.loads((out / "history.json").read_text(encoding="utf-8"))
    assert [h["threads"] for h in history] == [1]
    result = run("train", "--out", out, "--resume", "--epochs", 2, "--threads", 2)
    assert result.exit_code == 0, result.output
    assert ("note: its epochs so far ran with --threads 1; with 2, its weights will differ in "
            "their last bits") in result.output
    history = json.loads((out / "history.json").read_text(encoding="utf-8"))
    assert [h["threads"] for h in history] == [1, 2]
    result = run("train", "--out", out, "--resume", "--epochs", 3, "--threads", 2)
    assert result.exit_code == 0 and "note:" not in result.output, result.output


# --- environments not the developer's: encodings, streams, signals --------------------------


def _kanjinum(*args, env=None, **kwargs):
    """A real process, as a user's shell starts it, in the repository's folder."""
    root = Path(__file__).resolve().parents[1]
    return subprocess.run([sys.executable, "-m", "kanjinum", *map(str, args)], cwd=root,
                          **{"capture_output": True, **kwargs}, timeout=120,
                          env={**os.environ, **ENV, **(env or {})})


@pytest.mark.parametrize("args", [["convert", "100000001", "一"], ["--help"]])
def test_an_output_without_kanji_in_its_encoding_gets_escapes_and_a_note(args):
    """PYTHONIOENCODING=ascii, a Latin-1 locale or Windows' cp1252 under `> out.txt`: every
    command that printed a numeral, and --help, ended in a UnicodeEncodeError traceback."""
    done = _kanjinum(*args, env={"PYTHONIOENCODING": "ascii"})
    assert done.returncode == 0, done.stderr
    assert b"Traceback" not in done.stderr, done.stderr
    if args[0] == "convert":
        assert done.stdout == b"\\u4e00\\u5104\\u4e00\n1\n"
    else:
        assert b"\\u4e09\\u5146" in done.stdout  # 三兆 of its first line
    note = done.stderr.decode("ascii").strip().splitlines()
    assert len(note) == 1 and note[0].startswith("note:") and "PYTHONIOENCODING=utf-8" in note[0]
    # an error stays one line, escaped as Python escapes stderr (PYTHONIOENCODING=ascii:strict
    # made stderr strict too, and the error itself a traceback)
    for encoding in ("ascii", "ascii:strict"):
        done = _kanjinum("convert", "一x", env={"PYTHONIOENCODING": encoding})
        assert done.returncode == 2
        assert done.stderr == b"error: 'x' at position 2 in '\\u4e00x' is not a numeral character\n"
    # an output that can write them is left as it was: no note
    done = _kanjinum(*args, env={"PYTHONIOENCODING": "utf-8"})
    assert done.returncode == 0 and done.stderr == b"", done.stderr
    assert "一億一" in done.stdout.decode("utf-8") or args[0] != "convert"


def test_numerals_typed_in_utf8_are_read_whatever_the_locale_decoded(tmp_path):
    """LC_ALL=C with Python's UTF-8 mode off decoded a typed 一億一 as stand-ins: convert and
    attend said 'the input is not UTF-8 text (bytes e4 b8 80 …)'; PYTHONIOENCODING=ascii ended
    attend --interactive in a UnicodeDecodeError traceback. Bytes that are no UTF-8 are named."""
    ascii_locale = {"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
    done = _kanjinum("convert", "一億一", env=ascii_locale)
    assert (done.returncode, done.stdout) == (0, b"100000001\n"), done.stderr
    done = _kanjinum("attend", "一億一", "--run", "default", "--out", tmp_path / "a.png",
                     env=ascii_locale)
    assert done.returncode == 0 and b"100000001" in done.stdout, done.stderr
    for env in (ascii_locale, {"PYTHONIOENCODING": "ascii"}, {"PYTHONIOENCODING": "utf-8"}):
        done = _kanjinum("attend", "--interactive", "--run", "default", "--out",
                         tmp_path / "i.png", env=env,
                         input="一億一\n".encode() + b"\xff\n" + "二\n".encode())
        # piped, a refused line is on stderr, and the exit says one was refused
        assert done.returncode == 2, done.stderr
        assert b"Traceback" not in done.stderr, done.stderr
        assert b"100000001" in done.stdout and b"\nT 2\n" in done.stdout, done.stdout
        assert b"error: the input is not UTF-8 text (bytes ff " in done.stderr, done.stderr
        assert b"1 of the 3 numerals read was refused" in done.stderr, done.stderr


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full")
@pytest.mark.parametrize("args", [["convert", "1", "2"], ["--help"], ["--version"],
                                  ["eval", "--run", "default", "--json"],
                                  ["attend", "一", "--run", "default", "--out", "{tmp}/a.png"]])
def test_an_output_on_a_full_disk_is_one_line_naming_it(args, tmp_path):
    """`kanjinum eval > report.txt` on a full disk (here /dev/full, which is always full):
    convert, eval, gen-data and --help ended in the system's OSError traceback; train and
    attend said 'error: No space left on device', naming nothing."""
    with open("/dev/full", "w") as full:
        done = _kanjinum(*[a.format(tmp=tmp_path) for a in args], stdout=full,
                         capture_output=False, stderr=subprocess.PIPE)
    assert done.returncode == 1, done.stderr
    assert done.stderr.decode() == "error: No space left on device: the standard output\n"


@pytest.mark.parametrize("args", [["convert", "一"], ["--help"], ["eval", "--run", "default"],
                                  ["gen-data", "--size", "10", "--out", "{tmp}/d.txt"]])
def test_a_closed_output_is_one_line_before_any_work(args, tmp_path):
    """`kanjinum eval >&-` (a script that closes the standard output): every command ended in
    an AttributeError traceback at its first print, exit 120, after gen-data had written its
    file (rounds before had it exit 0 without a word)."""
    done = _kanjinum(*[a.format(tmp=tmp_path) for a in args], stdout=None,
                     stderr=subprocess.PIPE, capture_output=False,
                     preexec_fn=lambda: os.close(1))
    assert done.returncode == 1, done.stderr
    lines = done.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: the standard output is closed"), lines
    assert not list(tmp_path.iterdir())


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full")
def test_train_whose_output_fails_at_once_leaves_no_run_folder(base, tmp_path):
    """`kanjinum train --out r > /dev/full`: the run's first line failed after config.json was
    written, and r then held "a run that saved no checkpoint", which the same command, on a
    working output, was refused for without --force; eval said r had no model."""
    with open("/dev/full", "w") as full:
        done = _kanjinum("train", "--data", base / "d.txt", "--hidden", 4, "--wordvec", 4,
                         "--epochs", 1, "--show", 0, "--out", tmp_path / "r", stdout=full,
                         capture_output=False, stderr=subprocess.PIPE)
    assert done.returncode == 1, done.stderr
    assert done.stderr.decode() == "error: No space left on device: the standard output\n"
    assert not (tmp_path / "r").exists()
    (tmp_path / "mine").mkdir()  # a folder the user made stays, empty as it was
    with open("/dev/full", "w") as full:
        done = _kanjinum("train", "--data", base / "d.txt", "--hidden", 4, "--wordvec", 4,
                         "--epochs", 1, "--show", 0, "--out", tmp_path / "mine", stdout=full,
                         capture_output=False, stderr=subprocess.PIPE)
    assert done.returncode == 1 and not list((tmp_path / "mine").iterdir())
    result = run("train", "--data", base / "d.txt", "--hidden", 4, "--wordvec", 4,
                 "--epochs", 1, "--show", 0, "--out", tmp_path / "r")
    assert result.exit_code == 0, result.output


def test_a_home_folder_matplotlib_cannot_write_in_is_no_noise(tmp_path):
    """HOME read-only, missing or a file (a container, a CI runner, `sudo -u nobody`): attend
    and train printed matplotlib's two-line warning, `mkdir -p failed for path …` and
    `Matplotlib created a temporary cache directory at /tmp/matplotlib-… it is highly
    recommended to set the MPLCONFIGDIR environment variable …`, as if something had failed.
    matplotlib uses the temporary folder and removes it at exit, as before."""
    root = Path(__file__).resolve().parents[1]
    home = tmp_path / "home"
    home.write_text("a file, where a folder should be")  # unwritable even for root
    env = {k: v for k, v in os.environ.items()
           if k not in ("MPLCONFIGDIR", "XDG_CONFIG_HOME", "XDG_CACHE_HOME")}
    done = subprocess.run([sys.executable, "-m", "kanjinum", "attend", "一", "--run", "default",
                           "--out", str(tmp_path / "a.png")], cwd=root, capture_output=True,
                          timeout=120, env={**env, **ENV, "HOME": str(home)})
    assert done.returncode == 0, done.stderr
    assert done.stderr == b"", done.stderr
    assert (tmp_path / "a.png").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="flock is POSIX")
def test_a_run_refused_as_in_use_leaves_the_other_trainings_folder_alone(base, tmp_path,
                                                                         monkeypatch):
    """Two `train --out r` at once (a command sent twice): r did not exist when the second
    looked, the first made it and wrote config.json, and the second, refused as 'in use' at
    its lock, removed the first's config.json and folder as if it had made them itself."""
    import fcntl

    import kanjinum.train as T

    out = tmp_path / "r"
    made_by_the_first = T.make_run_folder
    held = []

    def the_first_training_makes_it_meanwhile(folder, fresh=False, made=None):
        folder.mkdir()
        (folder / "config.json").write_text("{}", encoding="utf-8")
        held.append(os.open(folder, os.O_RDONLY))
        fcntl.flock(held[-1], fcntl.LOCK_EX | fcntl.LOCK_NB)
        return made_by_the_first(folder, fresh, made)

    monkeypatch.setattr(T, "make_run_folder", the_first_training_makes_it_meanwhile)
    config = TrainConfig(data=str(base / "d.txt"), hidden=4, wordvec=4, batch=32, epochs=1)
    try:
        with pytest.raises(RunError, match="in use"):
            fit(config, out)
        assert (out / "config.json").read_text(encoding="utf-8") == "{}"
    finally:
        for fd in held:
            os.close(fd)


def test_attend_interactive_with_its_input_closed_is_one_line(tmp_path):
    """`kanjinum attend --interactive <&-` (a script that closes the input): a traceback,
    `RuntimeError: input(): lost sys.stdin`, exit 1."""
    done = _kanjinum("attend", "--interactive", "--run", "default", "--out", tmp_path / "a.png",
                     preexec_fn=lambda: os.close(0))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --interactive reads numerals"), lines
    assert "standard input, which is closed" in lines[0]
    assert not list(tmp_path.iterdir())


def test_sigterm_while_a_file_is_written_leaves_no_temporary_file(tmp_path):
    """`timeout 20 kanjinum gen-data --size 1000000` ending in the write: SIGTERM's default
    killed the process there and left the hidden .NAME.XXXX.tmp beside the output (Ctrl-C
    removed it). The signal is sent from inside the write, where a real one may land."""
    out = tmp_path / "d.txt"
    out.write_text("mine\n", encoding="utf-8")
    script = ("import os, signal, sys\n"
              "real_fsync = os.fsync\n"
              "def fsync(fd):\n"
              "    os.kill(os.getpid(), signal.SIGTERM)\n"
              "    real_fsync(fd)\n"
              "os.fsync = fsync\n"
              "from kanjinum.cli import main\n"
              f"sys.argv = ['kanjinum', 'gen-data', '--size', '300', '--out', {str(out)!r}, "
              "'--force']\n"
              "main()\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120,
                          env={**os.environ, **ENV})
    assert done.returncode == 143, done.stderr
    assert b"Traceback" not in done.stderr, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.txt"]
    assert out.read_text(encoding="utf-8") == "mine\n"  # the earlier file, untouched


def test_a_leading_tilde_is_the_home_folder_in_every_path_option(base, tmp_path, monkeypatch):
    """A shell leaves the ~ of `--out=~/runs/a` as it is: train's --data read ~/d.txt from the
    home folder, eval's said 'not found', gen-data and train made a folder named ~ in the
    current one; and `--data ~notes.txt` (a file of that name) was a traceback, 'Could not
    determine home directory'."""
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir(), work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    assert run("gen-data", "--size", 300, "--max-digits", 4, "--out=~/d.txt").exit_code == 0
    assert (home / "d.txt").is_file()
    result = run("train", "--data=~/d.txt", "--hidden", 4, "--wordvec", 4, "--show", 0,
                 "--epochs", 1, "--out=~/r")
    assert result.exit_code == 0, result.output
    assert (home / "r" / "model.npz").is_file()
    result = run("eval", "--run=~/r", "--data=~/d.txt")
    assert result.exit_code == 0, result.output
    result = run("attend", "一", "--run=~/r", "--out=~/a.png")
    assert result.exit_code == 0 and (home / "a.png").is_file(), result.output
    assert list(work.iterdir()) == []  # no folder named ~
    (work / "~notes.txt").write_bytes((home / "d.txt").read_bytes())
    result = run("train", "--data", "~notes.txt", "--hidden", 4, "--wordvec", 4, "--show", 0,
                 "--epochs", 1, "--out", "r2")
    assert result.exit_code == 0, result.output
    assert json.loads((work / "r2" / "config.json").read_text())["data"]["path"] == str(
        work / "~notes.txt")


def test_eval_without_run_names_a_runs_link_to_nothing(tmp_path, monkeypatch):
    """runs/ a link to a disk not mounted: eval and attend said 'there is no runs/ in the
    current folder' while `ls` showed runs there, and the shipped model answered."""
    (tmp_path / "runs").symlink_to(tmp_path / "unmounted" / "runs")
    monkeypatch.chdir(tmp_path)
    for args in (["eval"], ["attend", "一", "--out", tmp_path / "a.png"]):
        result = run(*args)
        assert result.exit_code == 0, result.output
        assert (f"no --run: the shipped model: runs is a link to {tmp_path}/unmounted/runs, "
                "which does not exist") in result.output, result.output


def test_long_file_names_that_fit_are_written_and_others_refused_before_any_work(tmp_path):
    """A name of 242 to 255 bytes could not be written, 'File name too long': the temporary
    file beside it (.NAME.XXXXXXXX.tmp) was longer than the file system takes. A name that is
    itself too long was found only after the work (attend printed its answers first)."""
    fits = tmp_path / ("a" * 250 + ".txt")
    result = run("gen-data", "--size", 200, "--out", fits)
    assert result.exit_code == 0, result.output
    assert fits.is_file() and sorted(tmp_path.iterdir()) == [fits]
    result = run("attend", "一", "--run", "default", "--out", tmp_path / ("b" * 250 + ".png"))
    assert result.exit_code == 0, result.output
    too_long = tmp_path / ("あ" * 90 + ".png")  # 274 bytes in UTF-8
    result = run("attend", "一", "--run", "default", "--out", too_long)
    assert_one_line_error(result, 2, "its name is 274 bytes long", "at most 255")
    result = run("gen-data", "--size", 200, "--out", tmp_path / "new" / ("あ" * 90 + ".txt"))
    assert_one_line_error(result, 2, "its name is 274 bytes long")
    assert not (tmp_path / "new").exists()


def test_a_data_file_whose_name_is_not_utf8_is_written_trained_on_and_found_again(tmp_path):
    """café.txt from a Latin-1 system (byte e9 in its name; any non-ASCII name under LC_ALL=C
    with Python's UTF-8 mode off): Python holds such a name as stand-ins (lone surrogates).
    A strict UTF-8 output refused them, so `gen-data --out` of it wrote the file and then
    ended in a UnicodeEncodeError traceback (eval --data and attend --out alike); config.json
    could not encode them, so `train --data` of it ended in one too, leaving an empty run
    folder."""
    data = tmp_path / os.fsdecode(b"caf\xe9.txt")
    try:
        data.write_bytes(b"")
    except (OSError, UnicodeError):
        pytest.skip("this file system takes only UTF-8 names")
    strict = {"PYTHONIOENCODING": "utf-8"}  # as an en_US.UTF-8 locale makes the output
    made = _kanjinum("gen-data", "--size", 80, "--max-digits", 3, "--no-closed", "--out", data,
                     "--force", env=strict)
    assert made.returncode == 0 and made.stderr == b"", made.stderr
    assert made.stdout.startswith(b"wrote 80 lines to " + os.fsencode(data))
    out = tmp_path / "r"
    trained = _kanjinum("train", "--data", data, "--hidden", 4, "--wordvec", 4, "--batch", 8,
                        "--epochs", 1, "--show", 0, "--out", out, env=strict)
    assert trained.returncode == 0 and b"Traceback" not in trained.stderr, trained.stderr
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert config["data"]["path"] == str(data) and config["train"]["data"] == str(data)
    evaluated = _kanjinum("eval", "--run", out, env=strict)  # its test split, found again
    assert evaluated.returncode == 0 and evaluated.stderr == b"", evaluated.stderr
    assert evaluated.stdout.startswith(b"run " + os.fsencode(out) + b" on the test split of "
                                       + os.fsencode(data) + b": ")
    # --json is UTF-8 as JSON must be, the name in \u escapes as config.json has it: its
    # bytes as they came made a file that json.load refused (UnicodeDecodeError)
    as_json = _kanjinum("eval", "--run", out, "--json", env=strict)
    assert as_json.returncode == 0 and as_json.stderr == b"", as_json.stderr
    assert json.loads(as_json.stdout.decode("utf-8"))["data"] == str(data)


def _trained_to_full_accuracy(tmp_path) -> Path:
    """A run stopped at --target-acc 1 with 100 %: its data file has one answer for every
    question, which it learns in its first epoch."""
    data = tmp_path / "const.txt"
    data.write_text("".join(f"{q:06b}".replace("0", "a").replace("1", "b") + "_x\n"
                            for q in range(64)), encoding="utf-8")
    out = tmp_path / "r"
    result = run("train", "--data", data, "--hidden", 4, "--wordvec", 4, "--batch", 8,
                 "--lr", 0.05, "--epochs", 5, "--target-acc", 1, "--show", 0, "--out", out)
    assert result.exit_code == 0, result.output
    return out


def test_a_run_stopped_at_full_accuracy_is_not_told_to_ask_for_a_higher_target(tmp_path):
    """A run that reached --target-acc 1 (the book's dates reach 100 % in three epochs) was
    told, on --resume, to `ask for a higher --target-acc to go on`, which is refused as more
    than 1: the advice went round in a circle."""
    out = _trained_to_full_accuracy(tmp_path)
    assert json.loads((out / "history.json").read_text())[-1]["accuracy"] == 1.0
    for target in ([], ["--target-acc", 1]):
        resumed = run("train", "--out", out, "--resume", "--epochs", 8, *target)
        assert_one_line_error(resumed, 2, "no --target-acc lets it go on",
                              "start a new run without --target-acc")
        assert "higher --target-acc" not in resumed.output


def test_a_run_stopped_within_an_epoch_and_resumed_with_another_thread_count_says_so(
        base, tmp_path, monkeypatch):
    """README: `--resume with another --threads than the run's says so`. A run stopped within
    its first epoch (no epoch record yet) under --threads 2, resumed with the default 1, went
    on without a word, and that epoch's record said `"threads": 1`, half of it run on 2."""
    from kanjinum.cli import RichReporter
    monkeypatch.setattr("kanjinum.train.available_cores", lambda: 2)  # on a one-core machine
    out = tmp_path / "r"
    settings = ("--data", base / "d.txt", "--hidden", 4, "--wordvec", 4, "--batch", 16,
                "--show", 0, "--out", out)
    done = []

    def stop_after_three(self, loss):
        done.append(loss)
        if len(done) == 3:
            os.kill(os.getpid(), signal.SIGINT)

    with monkeypatch.context() as patch:
        patch.setattr(RichReporter, "iteration", stop_after_three)
        result = run("train", *settings, "--epochs", 2, "--threads", 2)
    assert result.exit_code == 130 and "epoch 1, iteration 3" in result.output, result.output
    result = run("train", *settings, "--epochs", 2, "--resume")
    assert result.exit_code == 0, result.output
    assert ("note: its first epoch so far ran with --threads 2; with 1, its weights will "
            "differ in their last bits") in result.output
    history = json.loads((out / "history.json").read_text(encoding="utf-8"))
    assert [h["threads"] for h in history] == [[2, 1], 1]
    result = run("train", *settings, "--epochs", 3, "--resume", "--threads", 2)
    assert ("note: its epochs so far ran with --threads 2 and 1; with 2, its weights will "
            "differ in their last bits from a run that kept --threads 2") in result.output


def test_an_accuracy_short_of_all_never_reads_100_percent(tmp_path):
    """eval --data of the book's 50,000 dates with a model that missed 2: its first line said
    99.996 %, and the table below it `100.00%`; one right answer of 50,000 read `0.00%`."""
    out = _trained_to_full_accuracy(tmp_path)
    for wrong, said in ((1, "99.997%"), (30_000, "0.003%")):  # of 30,001 lines
        big = tmp_path / "big.txt"
        big.write_text("aaaaaa_y\n" * wrong + "aaaaaa_x\n" * (30_001 - wrong), encoding="utf-8")
        result = run("eval", "--run", out, "--data", big)
        assert result.exit_code == 0, result.output
        row = next(line for line in result.output.splitlines() if "│" in line)  # the table's
        assert said in row and "100.00%" not in row and "0.00%" not in row, result.output


# --- round 41 ----------------------------------------------------------------------------------

QUICK_BENCH = ["--quick", "--models", "seq2seq", "--data", "addition", "--modes", "skip"]


@pytest.mark.parametrize("args, said", [
    (["eval", "--run", "default", "--run", "nope"],
     "--run is given twice, --run default and --run nope: give it once"),
    (["train", "--epochs", "1", "--epochs=3"], "--epochs is given twice, --epochs 1 and --epochs 3"),
    (["train", "--mask", "--no-mask"], "--mask and --no-mask are both given: choose one"),
    (["gen-data", "--size", "5", "--task", "kanji", "--size", "7"], "--size is given twice"),
    (["attend", "一", "--out", "a.png", "--out", "b.png"], "--out is given twice"),
    (["convert", "1", "--style", "daiji", "--style", "kanji"], "--style is given twice"),
    (["bench", *QUICK_BENCH, "--iters", "1", "--iters", "2"],
     "--iters is given twice, --iters 1 and --iters 2"),
    (["bench", *QUICK_BENCH, "--torch", "--no-torch"],
     "--torch and --no-torch are both given: choose one"),
])
def test_an_option_given_twice_with_other_values_is_refused(args, said, tmp_path, monkeypatch):
    """Every command kept the last of two values without a word (`eval --run A --run B`
    scored B); which one was meant is not ours to guess. Nothing is read or written."""
    monkeypatch.chdir(tmp_path)
    result = run(*args)
    assert_one_line_error(result, 2, said, f"(see 'kanjinum {args[0]} --help')")
    assert list(tmp_path.iterdir()) == []


def test_an_option_given_twice_alike_is_taken(tmp_path, monkeypatch):
    """A script's options repeated (--force --force, the same value twice, 0.1 as 0.10) leave
    nothing in doubt."""
    monkeypatch.chdir(tmp_path)
    result = run("gen-data", "--size", "20", "--size", "20", "--hard-share", "0.1",
                 "--hard-share", "0.10", "--force", "--force", "--out", "d.txt", "--out", "d.txt")
    assert result.exit_code == 0, result.output
    assert len((tmp_path / "d.txt").read_text(encoding="utf-8").splitlines()) == 20
    assert run("convert", "1", "--style", "daiji", "--style=daiji").output.strip() == "壱"
    # nan is not equal to itself: the same value twice was told it differed
    assert_one_line_error(run("train", "--data", "d.txt", "--lr", "nan", "--lr", "nan"), 2,
                          "--lr must be a positive number, not nan")
    from kanjinum import bench
    args = bench.parse_args(["--quick", "--quick", "--iters", "4", "--iters", "4"])
    assert args.iters == 4 and not hasattr(args, "_given_once")
    assert bench.parse_args([]).iters == 30


def test_a_run_failing_before_its_first_checkpoint_removes_the_folders_it_made(base, tmp_path,
                                                                              monkeypatch):
    """`train --out new/deep/run > /dev/full` removed run but left new/deep behind, made for it
    and empty; a default run left an empty runs/. What it made goes, and only that: a folder
    that was there before stays, and so does one another process put a file in meanwhile."""
    from kanjinum.train import Reporter

    class FullDisk(Reporter):  # the first line, printed to a full disk
        def __init__(self, meanwhile=None):
            self.meanwhile = meanwhile

        def start(self, run, train, test, overlap):
            if self.meanwhile is not None:
                self.meanwhile.write_text("another process's", encoding="utf-8")
            raise OSError(28, "No space left on device")

    config = TrainConfig(data=str(base / "d.txt"), hidden=4, wordvec=4, batch=32, epochs=1)
    with pytest.raises(OSError):
        fit(config, tmp_path / "new" / "deep" / "run", reporter=FullDisk())
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "mine").mkdir()
    with pytest.raises(OSError):
        fit(config, tmp_path / "mine" / "deep" / "run", reporter=FullDisk())
    assert list(tmp_path.iterdir()) == [tmp_path / "mine"] and not any(
        (tmp_path / "mine").iterdir())
    with pytest.raises(OSError):
        fit(config, tmp_path / "new" / "deep" / "run",
            reporter=FullDisk(meanwhile=tmp_path / "new" / "theirs.txt"))
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == ["theirs.txt"]
    monkeypatch.chdir(tmp_path / "mine")  # a run under runs/, made for it
    with pytest.raises(OSError):
        fit(config, reporter=FullDisk())
    assert not any((tmp_path / "mine").iterdir())
    # its own folder refused by the system (a name too long), after its parents were made
    with pytest.raises(RunError, match="cannot create .*: File name too long"):
        fit(config, tmp_path / "mine" / "new" / "deep" / ("x" * 300))
    assert not any((tmp_path / "mine").iterdir())


@pytest.mark.parametrize("args, said", [
    *[(["train", option, "0,5"], f"Invalid value for '{option}': '0,5' is not a number; write "
                                 "0.5, with a decimal point, not a comma (see")
      for option in ("--lr", "--lr-decay", "--clip", "--oversample", "--target-acc")],
    (["gen-data", "--hard-share", "0,3"], "'0,3' is not a number; write 0.3, with a decimal"),
    (["train", "--lr", ",001"], "write 0.001, with a decimal point"),
    (["gen-data", "--size", "50,000"], "'50,000' is not a whole number; write 50000, without "
                                       "commas (see 'kanjinum gen-data --help')"),
    (["train", "--hidden", "1e2"], "'1e2' is not a whole number; write 100 (see"),
    (["train", "--epochs", "５"], "'５' is not a whole number; write 5, in ASCII digits (see"),
    (["bench", "--iters", "1,000"], "argument --iters: '1,000' is not a whole number; write "
                                    "1000, without commas"),
    # a comma before three digits may be either kind: 'write 1.000' guessed (round 44)
    (["train", "--clip", "1,000"], "'1,000' is not a number; write 1 (for a decimal comma) "
                                   "or 1000 (for thousands) (see"),
    (["train", "--clip", "1,000,000"], "write 1000000, without commas (see"),
])
def test_a_number_written_otherwise_is_said_how_to_write(args, said, tmp_path, monkeypatch):
    """`--lr 1,5` (a decimal comma, as typed in many locales), `--size 50,000` (as --help writes
    1,000,000), `1e2`, a Japanese input method's full-width ５: each was `is not a number`, not
    a word of what was wrong with it."""
    monkeypatch.chdir(tmp_path)
    assert_one_line_error(run(*args), 2, said)


@pytest.mark.parametrize("args, said", [(["eval", "--show", "1,5"], "'1,5' is not a whole number ("),
                                        (["train", "--lr", "fast"], "'fast' is not a number ("),
                                        # no share: 'write 1.5 for 150 %' was refused in turn
                                        (["gen-data", "--hard-share", "150%"],
                                         "'150%' is not a number ("),
                                        (["train", "--target-acc", "-5%"],
                                         "'-5%' is not a number (")])
def test_a_value_that_is_no_number_gets_no_advice(args, said, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert_one_line_error(run(*args), 2, said)


@pytest.mark.parametrize("args, said", [
    (["train", "--target-acc", "99"],
     "--target-acc must be above 0 and at most 1, not 99.0 (a share: for 99 %, write 0.99)"),
    (["train", "--target-acc", "99%"], "'99%' is not a number; write 0.99 for 99 % (see"),
    (["train", "--lr-decay", "95"], "--lr-decay must be above 0 and at most 1, not 95.0 (a share"),
    (["train", "--oversample", "5"], "not 5.0 (a share: for 5 %, write 0.05)"),
    (["gen-data", "--hard-share", "30"], "between 0 and 1, not 30.0 (a share: for 30 %, write 0.3)"),
    (["gen-data", "--hard-share", "30%"], "'30%' is not a number; write 0.3 for 30 %"),
])
def test_a_percentage_given_for_a_share_is_said_how_to_write(args, said, base, tmp_path,
                                                             monkeypatch):
    """`--target-acc 99` was `must be in (0, 1], not 99.0`, in other words than --help's
    (`above 0, at most 1, e.g. 0.99`); `99%` was `not a number`, and no more."""
    monkeypatch.chdir(tmp_path)
    if args[0] == "train":
        args = [*args, "--data", base / "d.txt"]
    assert_one_line_error(run(*args), 2, said)
    assert list(tmp_path.iterdir()) == []
    assert "%" not in run("train", "--lr-decay", "1.5", "--data", base / "d.txt").output  # a factor
    # 0.95 is beyond --oversample's 0.9 too: 'write 0.95' was refused in turn
    assert "%" not in run("train", "--oversample", "95", "--data", base / "d.txt").output


@pytest.mark.parametrize("args, said", [
    (["train", "--mask=false"], "error: --mask=false: --mask is a flag and takes no value; write "
                                "--mask or --no-mask (see 'kanjinum train --help')"),
    (["eval", "--json=true"], "error: --json=true: --json is a flag and takes no value; write "
                              "--json alone (see 'kanjinum eval --help')"),
    (["gen-data", "--force=yes"], "write --force or --no-force (see 'kanjinum gen-data --help')"),
    (["bench", *QUICK_BENCH, "--no-torch=true"],
     "error: --no-torch=true: --no-torch is a flag and takes no value; write --torch or "
     "--no-torch (see 'kanjinum bench --help')"),
    # argparse names a flag with a short name too as `-h/--help`: bench said `ignored …`
    # and click keeps the help option's names in a set: their order fell as strings hash
    (["bench", "--help=1"], "error: --help=1: --help is a flag and takes no value; write --help "
                            "or -h (see 'kanjinum bench --help')"),
    (["train", "--help=1"], "error: --help=1: --help is a flag and takes no value; write --help "
                            "or -h (see 'kanjinum train --help')"),
])
def test_a_flag_given_a_value_says_what_to_write(args, said, tmp_path, monkeypatch):
    """`--mask=false` (as other tools take it) was `Option '--mask' does not take a value.`,
    without the `(see … --help)` every other usage mistake has, nor a word of --no-mask; bench
    said `ignored explicit argument 'true'`, as if it had gone on without it."""
    monkeypatch.chdir(tmp_path)
    assert_one_line_error(run(*args), 2, said)


def test_the_library_reads_a_leading_tilde_as_the_home_folder(base, tmp_path, monkeypatch):
    """fit(config, "~/runs/a") made a folder named ~ in the current one (rm -rf ~ is then one
    typo from the home folder), though the same call read TrainConfig(data="~/d.txt") from the
    home folder; read_dataset, evaluate and load_run said "~/…" was not there. Now every path
    the library takes reads ~ as the CLI reads it."""
    from kanjinum import data as D
    from kanjinum.plot import learning_curve
    from kanjinum.train import evaluate, resumed_config
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir(), work.mkdir()
    (home / "d.txt").write_bytes((base / "d.txt").read_bytes())
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    trained = fit(TrainConfig(data="~/d.txt", hidden=4, wordvec=4, batch=32, epochs=1),
                  "~/runs/a")
    assert trained.path == home / "runs" / "a" and (home / "runs" / "a" / "model.npz").is_file()
    assert load_run("~/runs/a").path == home / "runs" / "a"
    dataset = D.read_dataset("~/d.txt")
    assert evaluate(trained, "~/d.txt").answers == dataset.answers
    D.write_dataset(dataset, "~/copy.txt")
    learning_curve(trained.history, "~/curve.png")
    assert (home / "copy.txt").is_file() and (home / "curve.png").is_file()
    assert list(work.iterdir()) == []
    # resumed where its data file moved: resumed_config and fit's data read ~ too
    (home / "d.txt").rename(home / "moved.txt")
    assert resumed_config("~/runs/a", data="~/moved.txt").data == str(home / "moved.txt")
    resumed = fit(TrainConfig(data="~/moved.txt", epochs=2), "~/runs/a", resume=True)
    assert len(resumed.history) == 2 and list(work.iterdir()) == []


def test_fit_given_a_dataset_for_its_data_says_how_to_train_on_it(tmp_path):
    """TrainConfig(data=generate_kanji(...)), the data set a notebook just made, was told only
    that data must be a path: fit reads a file, and there was no word of how to make one."""
    from kanjinum import data as D
    dataset = D.generate_kanji(size=50, max_digits=3)
    with pytest.raises(OptionError, match=r"data must be a path, not Dataset\(50 lines.*: write "
                                          r"it to a file first, write_dataset\(dataset, path\)"):
        fit(TrainConfig(data=dataset, epochs=1), tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_the_history_of_a_run_whose_folder_is_gone_is_not_called_empty(base, tmp_path,
                                                                         monkeypatch):
    """A run loaded by a relative path, then os.chdir in the notebook (or its folder moved):
    run.history was [] and learning_curve said "the history is empty", as if the run had
    trained no epoch."""
    monkeypatch.chdir(tmp_path)
    copy_run(base, tmp_path)
    loaded = load_run("run")
    assert len(loaded.history) == 1
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    with pytest.raises(RunError, match=r"run folder run is not there any more \(from .*elsewhere\)"):
        loaded.history


def test_every_row_of_the_robustness_tables_has_its_headers_cells():
    """A library row (call | what it does | test) was given the CLI table's exit column, `| — |`:
    rendered, its test stood in a column with no header, cut off or out of line."""
    doc = Path(__file__).resolve().parent.parent / "docs" / "robustness.md"
    cells = None  # the header's count of the table being read
    for number, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1):
        if not line.startswith("|"):
            cells = None
            continue
        count = len(re.findall(r"(?<!\\)\|", line)) - 1  # `\|` is a pipe inside a cell
        if cells is None:
            cells = count
        assert count == cells, f"docs/robustness.md:{number}: {count} cells, its header {cells}"
