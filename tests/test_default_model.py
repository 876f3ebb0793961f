"""The model shipped inside the package: it must read every hard number right, with no training."""

from pathlib import Path

from typer.testing import CliRunner

from kanjinum import data as D
from kanjinum.cli import app
from kanjinum.infer import answer_numerals
from kanjinum.train import DEFAULT_RUN, evaluate, load_run

HARD = Path(__file__).resolve().parents[1] / "data" / "hard.txt"
ENV = {"NO_COLOR": "1", "COLUMNS": "200", "TERM": "dumb"}


def test_shipped_model_gets_all_of_hard_txt():
    run = load_run(DEFAULT_RUN)
    evaluation = evaluate(run, D.read_dataset(HARD))
    misses = [(q, a, p) for q, a, p in zip(evaluation.questions, evaluation.answers,
                                            evaluation.predictions) if a != p]
    assert len(evaluation.answers) >= 2000
    assert misses == []


def test_shipped_model_answers_the_seeds_failures():
    run = load_run(DEFAULT_RUN)
    numerals = ["一", "一億一", "三兆九千億", "五兆五千五十五",
                "九兆九千九百九十九億九千九百九十九万九千九百九十九"]
    for result in answer_numerals(run, numerals):
        assert result.correct, (result.question, result.answer)


def test_shipped_model_is_small_plain_data():
    sizes = [p.stat().st_size for p in DEFAULT_RUN.iterdir()]
    assert sum(sizes) < 5 * 2**20
    assert not (DEFAULT_RUN / "state.npz").exists()  # no optimiser state in the package


def test_attend_and_eval_use_it_without_any_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no runs/ here
    runner = CliRunner()
    result = runner.invoke(app, ["attend", "一億一"], env=ENV)
    assert result.exit_code == 0, result.output
    assert "T 100000001" in result.output and (tmp_path / "attention.png").exists()
    result = runner.invoke(app, ["eval", "--run", "default", "--data", str(HARD), "--json"],
                           env=ENV)
    assert result.exit_code == 0, result.output
    assert '"accuracy": 1.0' in result.output


def test_shipped_model_was_trained_on_the_shipped_data():
    # `kanjinum eval --run default` in the repository re-creates the model's own test split.
    import json

    from kanjinum.train import file_sha256

    config = json.loads((DEFAULT_RUN / "config.json").read_text(encoding="utf-8"))
    kanji = HARD.parent / "kanji.txt"
    assert config["data"]["path"] == "data/kanji.txt"
    assert config["data"]["sha256"] == file_sha256(kanji)


def test_the_sdist_holds_what_the_tests_read(tmp_path):
    """The source distribution shipped tests/test_*.py (setuptools adds them) without
    tests/gradcheck.py, data/kanji.txt, data/hard.txt and benchmarks/, which they read: its
    tests could not run."""
    import shutil
    import subprocess
    import sys
    import tarfile

    root = Path(__file__).resolve().parents[1]
    copy = tmp_path / "src"  # built in a copy: the checkout keeps no build leftovers
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "runs", "*.egg-info", "__pycache__", ".pytest_cache",
        ".hypothesis"))
    built = subprocess.run(
        [sys.executable, "-c", "import sys; from setuptools import build_meta; "
         "print(build_meta.build_sdist(sys.argv[1]))", str(tmp_path / "dist")],
        cwd=copy, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-2000:]
    name = built.stdout.split()[-1]
    with tarfile.open(tmp_path / "dist" / name) as sdist:
        held = {"/".join(member.split("/")[1:]) for member in sdist.getnames()}
    needed = ["tests/gradcheck.py", "data/kanji.txt", "data/hard.txt", "README.md", "LICENSE",
              "kanjinum/default_model/model.npz"]
    needed += [str(p.relative_to(root)) for folder in ("benchmarks", "tests")
               for p in (root / folder).iterdir() if p.suffix in (".py", ".sh")]
    assert not [path for path in needed if path not in held]
