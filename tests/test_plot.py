import struct
import warnings
from pathlib import Path

import numpy as np

import pytest
from matplotlib.figure import Figure

from kanjinum.plot import MAX_PANELS, attention_heatmaps, learning_curve


def png_size(path):
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def panel(question, answer):
    rng = np.random.default_rng(0)
    w = rng.random((len(answer), len(question)))
    return {"question": question, "answer": answer, "weights": w / w.sum(1, keepdims=True),
            "title": f"{question} → {answer} ○"}


def test_heatmap_renders_japanese_without_missing_glyphs(tmp_path):
    out = tmp_path / "one.png"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph ... missing from font(s)"
        attention_heatmaps([panel("三兆九千億壱萬弐阡〇零", "3900000000000")], out)
    width, height = png_size(out)
    # one panel: 1.2 + 0.38 × 11 inches wide plus the colour bar, 1.3 + 0.33 × 13 high, 120 dpi
    assert abs(width - (1.2 + 0.38 * 11 + 1.2) * 120) <= 1
    assert abs(height - (1.3 + 0.33 * 13) * 120) <= 1


def test_several_numerals_give_one_figure_with_a_panel_each(tmp_path):
    items = [panel("一", "1"), panel("一億一", "100000001"), panel("三兆九千億", "3900000000000"),
             panel("五兆五千五十五", "5000000005055")]
    one, four = tmp_path / "1.png", tmp_path / "4.png"
    attention_heatmaps(items[:1], one)
    attention_heatmaps(items, four)
    w1, h1 = png_size(one)
    w4, h4 = png_size(four)
    assert w4 > 1.5 * w1 and h4 > 1.5 * h1  # a 2 × 2 grid of panels


def test_the_curve_has_the_title_it_is_given_and_heatmaps_say_input_as_written():
    history = [{"epoch": e, "loss": 1 / e, "accuracy": e / 10} for e in range(1, 3)]
    assert learning_curve(history, title="r1: attention")._suptitle.get_text() == "r1: attention"
    assert learning_curve(history)._suptitle is None
    # "reading order" was ambiguous in a lesson about reversed input: the columns are as written
    heatmaps = attention_heatmaps([panel("一億一", "100000001")])
    assert heatmaps.axes[0].get_xlabel() == "input, as written"


def test_dollar_signs_in_a_title_are_drawn_as_they_are(tmp_path):
    """matplotlib reads text between two $ as TeX math: train --out 'runs/a$\\frac{$b' ended,
    after its first epoch, in a ValueError traceback from the curve's title, and a run named
    'cost $x^2$' was titled with an italic x squared. A question of a task of the user's own
    ('$3+$4') is a heatmap's title."""
    history = [{"epoch": 1, "loss": 1.0, "accuracy": 0.5}]
    figure = learning_curve(history, tmp_path / "c.png", title="a$\\frac{$b: attention")
    assert figure._suptitle.get_text() == "a$\\frac{$b: attention"
    assert not figure._suptitle.get_parse_math()
    item = panel("$3+$4\\frac{", "7")
    item["title"] = "$3+$4\\frac{ → 7"
    figure = attention_heatmaps([item], tmp_path / "h.png")
    assert not figure.axes[0].title.get_parse_math()


@pytest.mark.parametrize("name", [
    "漢数字 の 実験 with a rather long descriptive name for the lecture number three of the course",
    "x" * 200])
def test_a_long_title_stays_within_the_curve(tmp_path, name):
    """train titles curve.png with its folder's name and its settings on one line: a long
    --out ran past both edges of the picture, losing the name's start and the settings' end."""
    history = [{"epoch": 1, "loss": 1.0, "accuracy": 0.5}]
    settings = ("bi-attention, wordvec 16, hidden 8, batch 32, lr 0.0123457, not reversed, "
                "no mask, seed 0")
    figure = learning_curve(history, tmp_path / "c.png", title=f"{name}: {settings}")
    title = figure._suptitle
    box = title.get_window_extent(figure.canvas.get_renderer())
    assert 0 <= box.x0 and box.x1 <= figure.bbox.width, (box, title.get_text())
    text = title.get_text()
    assert settings.split(", ")[-1] in text and name[-10:] in text  # the end of each kept
    if " " in name:  # words are wrapped, not cut
        assert " ".join(text.split()).startswith(name)
    short = learning_curve(history, title="r1: attention, hidden 8")._suptitle.get_text()
    assert short == "r1: attention, hidden 8"  # one line where it fits


@pytest.mark.parametrize("losses, title", [
    ([3.0 * 10 ** (-e / 3.3) for e in range(1, 21)], None),   # ticks 1 … 1e-05
    ([2.6 - e * 0.01 for e in range(1, 4)], "r: a"),           # ticks 2.5875 …
    ([0.0001315, 0.0001305], "r: b"),                          # ticks 0.0001315 …
    ([0.5], "漢数字 の 実験 with a rather long descriptive name for lecture three: attention, "
            "wordvec 16, hidden 64, batch 64, lr 0.005, reversed, masked, seed 0")])
def test_the_curves_own_margins_hold_every_label(losses, title):
    """curve.png is laid out by margins of its own (constrained layout took 60 % of the
    drawing, after every epoch of train): every text lies inside the picture, and the
    figure's title, of one line or more, clear of the axes' titles."""
    history = [{"epoch": e, "loss": loss, "accuracy": 0.5}
               for e, loss in enumerate(losses, start=1)]
    figure = learning_curve(history, title=title)
    assert figure.get_layout_engine() is None
    renderer = figure.canvas.get_renderer()
    figure.draw(renderer)
    # each axes with what it draws around it (ticks, labels, title), and the title
    boxes = [ax.get_tightbbox(renderer) for ax in figure.axes]
    if title:
        boxes.append(figure._suptitle.get_window_extent(renderer))
    for box in boxes:
        assert 0 <= box.x0 and box.x1 <= figure.bbox.width, box
        assert 0 <= box.y0 and box.y1 <= figure.bbox.height, box
    left, right = boxes[:2]
    assert left.x1 < right.x0  # the right one's tick labels clear of the left one
    if title:
        lowest = figure._suptitle.get_window_extent(renderer).y0
        assert all(lowest > ax.title.get_window_extent(renderer).y1 for ax in figure.axes)


def test_an_empty_answer_still_draws_a_row(tmp_path):
    item = panel("一", "")
    item["weights"] = np.ones((1, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        figure = attention_heatmaps([item])
    figure.savefig(tmp_path / "e.png")
    assert png_size(tmp_path / "e.png")[0] > 0
    # named in words, as the padding's column is: 終 (end) said nothing to most readers
    rows = [label.get_text() for label in figure.axes[0].get_yticklabels()]
    assert rows == ["(end)"]


def test_learning_curve(tmp_path):
    history = [{"epoch": e, "loss": 1 / e, "accuracy": e / 10} for e in range(1, 6)]
    learning_curve(history, tmp_path / "c.png")
    width, height = png_size(tmp_path / "c.png")
    assert width == 9 * 120 and abs(height - 3.6 * 120) <= 1


def test_the_padding_of_a_model_without_a_mask_gets_a_column(tmp_path, monkeypatch):
    """A model without a mask attends to the padding too; its panels showed only the real
    characters, so rows summed to less than 1 and nothing said where the rest went."""
    import kanjinum.plot as plot
    labels = []
    original = plot._heatmap

    def recording(ax, item, font):
        image = original(ax, item, font)
        labels.append([t.get_text() for t in ax.get_xticklabels()])
        return image

    monkeypatch.setattr(plot, "_heatmap", recording)
    masked = panel("一億一", "100000001")
    unmasked = panel("一億一", "100000001")
    unmasked["weights"] = np.full((9, 4), 0.25)
    attention_heatmaps([masked, unmasked], tmp_path / "p.png")
    assert labels == [["一", "億", "一"], ["一", "億", "一", plot.PADDING_LABEL]]


def test_plotting_nothing_or_not_a_png_is_a_clear_error(tmp_path):
    import pytest
    with pytest.raises(ValueError, match="no numeral"):
        attention_heatmaps([], tmp_path / "e.png")
    item = panel("一", "1")
    item["weights"] = None  # what a seq2seq model's answer carries
    with pytest.raises(ValueError, match="no attention weights"):
        attention_heatmaps([item], tmp_path / "n.png")
    with pytest.raises(ValueError, match="no epoch"):
        learning_curve([], tmp_path / "c.png")
    with pytest.raises(ValueError, match=r"\.png"):
        attention_heatmaps([panel("一", "1")], tmp_path / "x.jpg")
    with pytest.raises(FileNotFoundError) as missing:
        attention_heatmaps([panel("一", "1")], tmp_path / "nofolder" / "a.png")
    assert missing.value.filename == str(tmp_path / "nofolder")  # not a hidden temporary name
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_without_a_path_the_figures_are_returned_and_nothing_is_written(tmp_path, monkeypatch):
    """For a notebook: the Figure comes back (a notebook shows it) and no file is written."""
    monkeypatch.chdir(tmp_path)
    history = [{"epoch": e, "loss": 1 / e, "accuracy": e / 10} for e in range(1, 4)]
    curve = learning_curve(history)
    assert isinstance(curve, Figure) and len(curve.axes) == 2
    heatmaps = attention_heatmaps([panel("一", "1"), panel("一億一", "100000001"),
                                   panel("三兆九千億", "3900000000000")])
    # three panels with a colour bar each; the fourth cell of the 2 x 2 grid is hidden
    assert sum(ax.get_visible() for ax in heatmaps.axes) == 6
    assert list(tmp_path.iterdir()) == []
    saved = learning_curve(history, tmp_path / "c.png")
    assert isinstance(saved, Figure) and png_size(tmp_path / "c.png")[0] == 9 * 120


def test_the_loss_axis_says_it_is_a_log_scale():
    """The loss is drawn on a log axis whose label said only 'training loss': a learner read
    a fall from 2 to 1 as long as one from 0.6 to 0.3 without knowing why."""
    history = [{"epoch": e, "loss": 2 / e, "accuracy": e / 10} for e in range(1, 4)]
    loss_ax = learning_curve(history).axes[0]
    assert loss_ax.get_yscale() == "log" and "log scale" in loss_ax.get_ylabel()


def test_a_notebook_shows_the_figures_without_pyplot():
    """A Figure ending a notebook cell is shown through its _repr_png_: made without pyplot,
    a plain Figure has none, and the cell printed "<Figure size 900x360 with 2 Axes>"."""
    history = [{"epoch": 1, "loss": 1.0, "accuracy": 0.5}]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the Japanese labels drawn without missing glyphs
        pictures = [learning_curve(history)._repr_png_(),
                    attention_heatmaps([panel("三兆九千億", "3900000000000")])._repr_png_()]
    for png in pictures:
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", pictures[0][16:24])[0] == 9 * 100  # the figure's own dpi


def test_a_learning_curve_of_something_else_than_a_history_says_what_it_takes(tmp_path):
    """learning_curve(run) failed with "'Run' object is not iterable", a history.json's path
    or a single record with "string indices must be integers", a record without its loss with
    a bare KeyError."""
    from kanjinum.train import load_run
    run = load_run("default")
    with pytest.raises(TypeError, match=r"list of epoch records.*not Run \(pass run.history\)"):
        learning_curve(run)
    with pytest.raises(TypeError, match="list of epoch records.*not str$"):
        learning_curve(str(tmp_path / "history.json"))
    with pytest.raises(TypeError, match="not dict$"):
        learning_curve(run.history[0])
    with pytest.raises(ValueError, match="epoch record 1 has no 'loss', 'accuracy'"):
        learning_curve([run.history[0], {"epoch": 2}])
    with pytest.raises(ValueError, match="epoch record 0 has no 'epoch', 'loss', 'accuracy'"):
        learning_curve([3.2])
    assert learning_curve(tuple(run.history)).axes  # a tuple of records is still a history


def test_a_hand_made_panel_of_the_wrong_types_is_named():
    """A panel with a number for its question failed with "object of type 'int' has no
    len()", one with a flat list of weights (or a string) with "tuple index out of range"."""
    with pytest.raises(TypeError, match="item 0's question is a int, not a str"):
        attention_heatmaps([{"question": 1, "answer": "1", "weights": [[1.0]]}])
    with pytest.raises(TypeError, match="item 1's answer is a NoneType"):
        attention_heatmaps([panel("一", "1"), {"question": "一", "answer": None,
                                                "weights": [[1.0]]}])
    for weights in ([1.0, 2.0], "abc"):
        with pytest.raises(ValueError, match=r"item 0's weights have [01] dimensions, not 2"):
            attention_heatmaps([{"question": "一", "answer": "1", "weights": weights}])


def test_more_panels_than_one_figure_holds_are_refused(tmp_path):
    items = [panel("一", "1")] * (MAX_PANELS + 1)
    with pytest.raises(ValueError, match=f"at most {MAX_PANELS}"):
        attention_heatmaps(items, tmp_path / "many.png")
    assert not (tmp_path / "many.png").exists()


def test_a_control_character_is_drawn_as_its_escape(tmp_path):
    """A question with a tab (a model trained on a file with tabs reads them) printed
    matplotlib's 'Glyph 9 missing from font' warning, and drew an empty box."""
    import warnings

    from kanjinum.plot import attention_heatmaps
    item = {"question": "一\t二", "answer": "1", "weights": np.full((1, 3), 1 / 3), "title": "t"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = attention_heatmaps([item], tmp_path / "tab.png")
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels == ["一", "\\t", "二"]


def test_a_panel_lacking_a_key_is_named(tmp_path):
    """A notebook's hand-made panel without "answer" failed with a bare KeyError: 'answer'
    (found by a new user, round 15)."""
    item = {"question": "一", "weights": np.ones((1, 1))}
    with pytest.raises(ValueError, match=r"item 0 has no 'answer'.*Answer.panel"):
        attention_heatmaps([item], tmp_path / "a.png")
    with pytest.raises(TypeError, match="item 0 is a str"):
        attention_heatmaps(["一"], tmp_path / "a.png")
    assert not (tmp_path / "a.png").exists()


def test_a_space_is_drawn_as_a_visible_mark(tmp_path):
    """The book's dates ('september 27, 1994') have spaces: their columns had blank ticks, so
    a reader could not tell which input the model attended to (found by a new user, round 15)."""
    item = {"question": "may 1, 94", "answer": "1", "weights": np.full((1, 9), 1 / 9),
            "title": "t"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the font draws ␣: no missing glyph
        fig = attention_heatmaps([item], tmp_path / "date.png")
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels == ["m", "a", "y", "␣", "1", ",", "␣", "9", "4"]


@pytest.mark.parametrize("epochs", [1, 2, 3, 20])
def test_the_epoch_axis_shows_whole_epochs(epochs):
    """curve.png of a one-epoch run (`train --epochs 1`, a first try) labelled its epoch axis
    0.945, 0.960, … 1.050: fractional epochs (found by a new user, round 12)."""
    history = [{"epoch": e, "loss": 1.0 / e, "accuracy": e / 20} for e in range(1, epochs + 1)]
    fig = learning_curve(history)
    fig.canvas.draw()
    for ax in fig.axes:
        low, high = ax.get_xlim()
        shown = [t for t in ax.get_xticks() if low <= t <= high]
        assert shown and all(float(t).is_integer() for t in shown), shown
        assert low < 1 and high > epochs  # every point inside, none on the frame


@pytest.mark.parametrize("losses", [[3.291, 3.287, 3.2835, 3.279], [2.0, 1.2, 0.8, 0.45],
                                    [2.0, 0.08, 0.0003]])
def test_the_loss_axis_labels_plain_numbers(losses):
    """A short run's loss, which barely moves, had its axis labelled 3.285×10⁰, 3.28×10⁰ …
    (found by a new user, round 12); a learner reads 3.285 and 0.6."""
    history = [{"epoch": e, "loss": loss, "accuracy": 0.0} for e, loss in enumerate(losses, 1)]
    fig = learning_curve(history)
    fig.canvas.draw()
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels() + ax.get_yticklabels(minor=True)]
    shown = [label for label in labels if label]
    assert len(shown) >= 2, labels
    for label in shown:
        float(label)  # a plain number: no \times, no 10^{...}


@pytest.mark.parametrize("losses", [[0.50001, 0.500012, 0.500011], [1.2e-5, 1.2001e-5],
                                    [2.31, 2.309]])
def test_the_loss_axis_never_repeats_a_label(losses):
    """A loss flat to 1 part in 10^5 had its ticks labelled 0.50001, 0.50001, 0.50001, 0.500011,
    … (6 significant digits; round 39): each tick in view gets a label of its own."""
    history = [{"epoch": e, "loss": loss, "accuracy": 0.0} for e, loss in enumerate(losses, 1)]
    fig = learning_curve(history)
    fig.canvas.draw()
    ax = fig.axes[0]
    low, high = ax.get_ylim()
    ticks = ax.get_yticklabels() + ax.get_yticklabels(minor=True)
    shown = [t.get_text() for t in ticks if t.get_text() and low <= t.get_position()[1] <= high]
    assert len(shown) >= 2, shown
    assert len(set(shown)) == len(shown), shown


def test_the_readmes_heatmap_can_be_made_again_by_its_command():
    """README's `kanjinum attend … --out docs/attention.png` was refused: the PNG was drawn before
    attend marked its heatmaps, so attend took it for a file of the user's."""
    from kanjinum.fileio import png_text
    from kanjinum.plot import HEATMAP_MARK, MARK_KEY

    docs = Path(__file__).resolve().parent.parent / "docs"
    assert "--out docs/attention.png" in (docs.parent / "README.md").read_text(encoding="utf-8")
    assert png_text(docs / "attention.png").get(MARK_KEY) == HEATMAP_MARK


def test_one_panel_alone_is_asked_for_in_a_list(tmp_path):
    """attention_heatmaps(answer.panel()) said "item 0 is a str, not a dict of question, answer,
    weights", which a panel is; a generator of panels failed with "has no len()"."""
    item = panel("一", "1")
    with pytest.raises(TypeError, match=r"takes a list of panels, not a dict; for one, pass "
                                        r"\[panel\]"):
        attention_heatmaps(item, tmp_path / "a.png")
    assert not (tmp_path / "a.png").exists()
    drawn = attention_heatmaps(p for p in [item, panel("二", "2")])
    assert drawn.axes[1].get_title().startswith("二 →")


def test_weights_that_do_not_fit_their_question_are_refused(tmp_path):
    """Weights of another question (lists mixed up in a notebook) were drawn under this one's
    characters: 7 columns under 2 labels, 1 column under 3, without a word."""
    for weights, fragment in ((np.ones((1, 7)), "7 columns for a question of 2 characters"),
                              (np.ones((3, 1)), "1 columns for a question of 2 characters"),
                              (np.ones((1, 2)), "1 rows for an answer of 2 characters")):
        with pytest.raises(ValueError, match=fragment):
            attention_heatmaps([{"question": "一二", "answer": "12", "weights": weights}],
                               tmp_path / "a.png")
    assert not (tmp_path / "a.png").exists()
    attention_heatmaps([{"question": "一二", "answer": "12", "weights": np.ones((2, 3)) / 3}])


def test_a_character_the_font_lacks_is_drawn_as_its_code_point(tmp_path):
    """A model of the user's own characters (emoji, 𠮷 beyond the BMP): each was drawn as an
    empty box, and matplotlib warned 'Glyph 128512 (...) missing from font(s) IPAexGothic' on
    stderr, twice per character (tick and title)."""
    import warnings

    from kanjinum.plot import attention_heatmaps
    item = {"question": "😀𠮷é", "answer": "🐱a", "weights": np.full((2, 3), 1 / 3),
            "title": "😀𠮷é → 🐱a"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = attention_heatmaps([item], tmp_path / "emoji.png")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["U+1F600", "U+20BB7", "é"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["U+1F431", "a"]
    assert ax.get_title() == "U+1F600U+20BB7é → U+1F431a"


@pytest.fixture
def no_japanese_font(monkeypatch, tmp_path):
    """matplotlib-fontja missing (`pip install --no-deps .`) or its font file gone."""
    import kanjinum.plot as plot

    cached = (plot.japanese_font, plot.missing_japanese_font, plot._font_file, plot._has_glyph)

    def forget():
        for function in cached:
            function.cache_clear()

    forget()
    yield lambda path: monkeypatch.setattr(plot, "_japanese_font_file", lambda: path)
    forget()


@pytest.mark.parametrize("missing", ["package", "file"])
def test_without_the_japanese_font_heatmaps_label_kanji_by_code_point(no_japanese_font,
                                                                      tmp_path, missing):
    """attend ended in a traceback ('RuntimeError: matplotlib-fontja is not installed') or
    in 'error: No such file or directory: …/ipaexg.ttf', after its answers, and wrote no PNG."""
    from typer.testing import CliRunner

    from kanjinum.cli import app

    no_japanese_font(None if missing == "package" else tmp_path / "gone" / "ipaexg.ttf")
    with pytest.warns(RuntimeWarning, match="code points"):
        fig = attention_heatmaps([panel("一億一", "100000001")], tmp_path / "lib.png")
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["U+4E00", "U+5104",
                                                                     "U+4E00"]
    png_size(tmp_path / "lib.png")
    result = CliRunner().invoke(app, ["attend", "一億一", "--run", "default", "--out",
                                      str(tmp_path / "a.png")],
                                env={"NO_COLOR": "1", "COLUMNS": "200", "TERM": "dumb"})
    assert result.exit_code == 0, result.output
    assert "heatmap written to" in result.output and "Traceback" not in result.output
    notes = [line for line in result.output.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "U+4E00" in notes[0], result.output
    assert "pip install" in notes[0] and ("not installed" if missing == "package"
                                          else "is not there") in notes[0]
    png_size(tmp_path / "a.png")
