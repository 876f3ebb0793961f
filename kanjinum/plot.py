"""Figures: learning curves and attention heatmaps, returned as matplotlib Figures (a notebook
shows them) and, given a path, saved as PNG files.

Japanese labels use the IPAex Gothic font that the matplotlib-fontja package ships, loaded from
the package's own file: no system font, no font-cache surgery. Figures are drawn on matplotlib's
Agg canvas directly, so nothing here changes pyplot's backend or opens a window.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, fontManager
from matplotlib.ticker import LogFormatterSciNotation, MaxNLocator

from kanjinum.data import percent
from kanjinum.fileio import atomic_write_bytes, user_path

PADDING_LABEL = "(pad)"  # the column of a model without a mask: its weight on all the padding
MAX_PANELS = 40  # heatmaps in one PNG: 200 made a 2856 x 67080 image in 40 s
# The row of a model that answered nothing: where it looked when it wrote the end mark at once.
# In words, as the padding's column: 終 said nothing to a reader who does not know it is "end".
END_LABEL = "(end)"


@lru_cache(maxsize=1)
def japanese_font() -> FontProperties:
    """The packaged Japanese font, registered with matplotlib once; without it, matplotlib's
    own DejaVu Sans, which labels each kanji by its code point (see `_drawable`) and
    `missing_japanese_font` says why. attend ended in a traceback where matplotlib-fontja was
    not installed, and in 'No such file or directory: …/ipaexg.ttf' where its font was gone,
    after its answers, and wrote no heatmap."""
    ttf = _japanese_font_file()
    if missing_japanese_font() is None:
        return FontProperties(fname=str(ttf))
    import matplotlib

    return FontProperties(fname=str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" /
                                    "DejaVuSans.ttf"))


@lru_cache(maxsize=1)
def missing_japanese_font() -> str | None:
    """Why the packaged Japanese font cannot be used, or None when it is registered."""
    ttf = _japanese_font_file()
    if ttf is None:
        return "matplotlib-fontja, the Japanese font, is not installed: pip install matplotlib-fontja"
    reinstall = "pip install --force-reinstall matplotlib-fontja"
    if not ttf.is_file():
        return f"the Japanese font {ttf} is not there: {reinstall}"
    try:
        fontManager.addfont(str(ttf))
    except (OSError, RuntimeError, ValueError):  # unreadable, or not a font
        return f"the Japanese font {ttf} cannot be read: {reinstall}"
    return None


def _japanese_font_file() -> Path | None:
    import importlib.util

    spec = importlib.util.find_spec("matplotlib_fontja")
    if spec is None or spec.origin is None:
        return None
    # Read the font file by path rather than importing the package, whose import rewrites the
    # global rcParams of whoever uses kanjinum as a library.
    return Path(spec.origin).parent / "fonts" / "ipaexg.ttf"


def _check_png_path(path: str | os.PathLike) -> None:
    if Path(path).suffix.lower() != ".png":  # PNG bytes under another name would mislead
        raise ValueError(f"{path}: the plots are PNG images; name a .png file")


# A PNG's tEXt entry naming what kanjinum drew: attend replaces its own heatmaps, and nothing
# else (a run's curve.png, the user's own images).
MARK_KEY = "kanjinum"
HEATMAP_MARK = "attention heatmap"
CURVE_MARK = "learning curve"


def _save(fig: Figure, path: str | os.PathLike, mark: str, dpi: int = 120) -> None:
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={MARK_KEY: mark})
    atomic_write_bytes(user_path(path), buffer.getvalue())


class ShownFigure(Figure):
    """A Figure that a notebook shows when it ends a cell. Made without pyplot (to leave the
    user's backend alone), a Figure has no picture of its own until pyplot's inline backend
    registers one: `learning_curve(run.history)` ending a cell printed only
    "<Figure size 900x360 with 2 Axes>". Where that backend's printer is registered, IPython
    uses it instead, so the picture is never shown twice."""

    def _repr_png_(self) -> bytes:
        import io

        buffer = io.BytesIO()
        self.savefig(buffer, format="png")
        return buffer.getvalue()


class _PlainLogFormatter(LogFormatterSciNotation):
    """The ticks matplotlib labels on a log axis, labelled as plain numbers: 0.6 and 3.285,
    not 6×10⁻¹ and 3.285×10⁰ (a loss that moved little in a short run got a column of them)."""

    digits = 6

    def set_locs(self, locs=None):
        super().set_locs(locs)
        self.digits = _distinct_digits(locs if locs is not None else self.locs, self.axis)

    def __call__(self, x, pos=None):
        return f"{x:.{self.digits}g}" if super().__call__(x, pos) else ""


def _distinct_digits(locs, axis) -> int:
    """The fewest significant digits, 6 at least, that tell the ticks in view apart: a loss
    flat to 1 part in 10^5 got ticks 0.50001, 0.50001, 0.50001, 0.500011 at 6 digits."""
    if axis is None:
        return 6
    low, high = sorted(axis.get_view_interval())
    shown = [x for x in locs if low <= x <= high]
    for digits in range(6, 13):
        if len({f"{x:.{digits}g}" for x in shown}) == len(shown):
            return digits
    return 12


RECORD_KEYS = ("epoch", "loss", "accuracy")


def _check_history(history) -> None:
    """A list of epoch records, as `run.history` holds them: in a notebook `learning_curve(run)`
    failed with "'Run' object is not iterable", a history.json's path or one record with
    "string indices must be integers", a record without its loss with a bare KeyError."""
    if not isinstance(history, (list, tuple)):
        what = type(history).__name__
        hint = " (pass run.history)" if hasattr(history, "history") else ""
        raise TypeError(f"learning_curve takes a list of epoch records, as run.history holds "
                        f"them, not {what}{hint}")
    for k, record in enumerate(history):
        lacking = ([key for key in RECORD_KEYS if key not in record]
                   if isinstance(record, dict) else list(RECORD_KEYS))
        if lacking:
            raise ValueError(f"epoch record {k} has no {', '.join(map(repr, lacking))}: each "
                             f"needs {', '.join(RECORD_KEYS)} (see run.history)")


def learning_curve(history: list[dict], path: str | os.PathLike | None = None,
                   title: str | None = None) -> Figure:
    """Training loss and test accuracy per epoch, side by side, under title (train gives the
    run and its settings: a curve.png opened later, or beside another, said neither), wrapped
    to the figure's width; saved to path, if given."""
    _check_history(history)
    if not history:
        raise ValueError("no epoch to plot: the history is empty")
    if path is not None:
        _check_png_path(path)
    epochs = [h["epoch"] for h in history]
    # Margins of its own, not constrained layout: that took 60 % of the drawing (0.6 s of
    # 1.0), and train draws curve.png after every epoch (0.4 s of the default run's 6 s).
    fig = ShownFigure(figsize=(9, 3.6))
    FigureCanvasAgg(fig)
    loss_ax, acc_ax = fig.subplots(1, 2)
    loss_ax.plot(epochs, [h["loss"] for h in history], marker="o")
    # The label says the scale: ticks 2, 1, 0.6, 0.4 read as a straight axis by eye, and a
    # short run's ticks (2.6, 2.5, 2.4) look evenly spaced on either.
    loss_ax.set(xlabel="epoch", ylabel="training loss (log scale)", yscale="log", title="loss")
    loss_ax.yaxis.set_major_formatter(_PlainLogFormatter())
    loss_ax.yaxis.set_minor_formatter(_PlainLogFormatter(labelOnlyBase=False))
    acc_ax.plot(epochs, [100 * h["accuracy"] for h in history], marker="o", color="tab:green")
    acc_ax.set(xlabel="epoch", ylabel="exact-match accuracy (%)", ylim=(-2, 102),
               title=f"test accuracy (best {percent(max(h['accuracy'] for h in history), 2)})")
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=10, integer=True, min_n_ticks=1))
        # at least one epoch's width: one point alone got an axis of 0.945 … 1.050
        ax.set_xlim(min(epochs) - 0.5, max(epochs) + 0.5)
    title_lines = 0
    if title:
        # parse_math=False: a run named 'a$\frac{$b' is no TeX (its curve ended train in
        # a ValueError traceback; 'cost $x^2$' was drawn as math)
        font = japanese_font()
        fitted = _fitted_title(fig, _drawable(title), font)
        fig.suptitle(fitted, fontproperties=font, parse_math=False, y=1 - 0.08 / 3.6,
                     va="top")
        title_lines = fitted.count("\n") + 1
    _set_curve_margins(fig, title_lines)
    if path is not None:
        _save(fig, path, CURVE_MARK)
    return fig


def _set_curve_margins(fig: Figure, title_lines: int) -> None:
    """Margins in inches that hold the tick labels, the axis labels, the axes' titles and
    title_lines lines of the figure's title above them."""
    width, height = fig.get_size_inches()
    top = 0.38 + 0.24 * title_lines
    axes_width = (width - 0.95 - 0.2 - 1.05) / 2  # 1.05 in between: ticks, label of the right
    fig.subplots_adjust(left=0.95 / width, right=1 - 0.2 / width, bottom=0.55 / height,
                        top=1 - top / height, wspace=1.05 / axes_width)
    # Losses within one decade get long tick labels (0.0001315): the loss axis, measured
    # (0.02-0.06 s, a tenth of what constrained layout took), widens the left margin to hold them
    loss_axis = fig.axes[0].yaxis.get_tightbbox(fig.canvas.get_renderer())
    short = 0.05 * fig.dpi - loss_axis.x0  # pixels past a 0.05-inch edge
    if short > 0:
        left = 0.95 + short / fig.dpi
        axes_width = (width - left - 0.2 - 1.05) / 2
        fig.subplots_adjust(left=left / width, wspace=1.05 / axes_width)


def _fitted_title(fig: Figure, title: str, font: FontProperties) -> str:
    """The title in lines no wider than the figure. train's is 'NAME: SETTINGS' on one line,
    and a long run folder's name ran past both edges of curve.png, losing the name's start and
    the settings' end: where it does not fit, the name and the settings take lines of their
    own, wrapped at spaces (the settings after their commas); a word wider than a line alone
    (a name without spaces) loses its middle to '…'."""
    renderer = fig.canvas.get_renderer()
    room = 0.97 * fig.bbox.width  # a margin on either side

    def width(text: str) -> float:
        return renderer.get_text_width_height_descent(text, font, ismath=False)[0]

    if width(title) <= room:
        return title
    name, colon, settings = title.partition(": ")
    if not (colon and settings):
        return "\n".join(_wrapped(title.split(" "), " ", width, room))
    return "\n".join(_wrapped((name + ":").split(" "), " ", width, room)
                     + _wrapped(settings.split(", "), ", ", width, room))


def _wrapped(words: list[str], joint: str, width, room: float) -> list[str]:
    """Words joined by joint, greedily, in lines no wider than room (width measures one)."""
    lines: list[str] = []
    for word in words:
        if width(word) > room:
            word = _cut_middle(word, width, room)
        joined = lines[-1] + joint + word if lines else word
        if lines and width(joined.rstrip()) <= room:
            lines[-1] = joined
        else:
            lines.append(word)
    return [line.rstrip() for line in lines]


def _cut_middle(word: str, width, room: float) -> str:
    """word with its middle replaced by '…', as long as fits in room: its start and its end
    (a run's date, or its number) are what tell runs apart."""
    keep = len(word)
    while keep > 2:
        keep -= 1
        cut = word[: (keep + 1) // 2] + "…" + word[len(word) - keep // 2:]
        if width(cut) <= room:
            return cut
    return word[:1] + "…" + word[-1:]


PANEL_KEYS = ("question", "answer", "weights")


def _check_panels(items) -> None:
    """Each item a dict with the keys a panel needs (`Answer.panel()` makes them): a notebook's
    hand-made one lacking "answer" failed deep inside with a bare KeyError."""
    for k, item in enumerate(items):
        if not isinstance(item, dict):
            raise TypeError(f"item {k} is a {type(item).__name__}, not a dict of "
                            f"{', '.join(PANEL_KEYS)} (see Answer.panel())")
        lacking = [key for key in PANEL_KEYS if key not in item]
        if lacking:
            raise ValueError(f"item {k} has no {', '.join(map(repr, lacking))}: a panel needs "
                             f"{', '.join(PANEL_KEYS)} (see Answer.panel())")
        _check_panel_values(k, item)


def _check_panel_values(k: int, item: dict) -> None:
    """Texts as strings and weights as rows of columns: a hand-made panel with a number for
    its question failed with "object of type 'int' has no len()", one with a flat list of
    weights with "tuple index out of range"."""
    for key in ("question", "answer"):
        if not isinstance(item[key], str):
            raise TypeError(f"item {k}'s {key} is a {type(item[key]).__name__}, not a str")
    if item["weights"] is None:
        return
    if np.ndim(item["weights"]) != 2:
        raise ValueError(f"item {k}'s weights have {np.ndim(item['weights'])} dimensions, not "
                         "2 (a row per answer character, a column per question character)")
    # Weights of another question (a mix-up of lists in a notebook) were drawn under this
    # one's characters, the columns labelled wrong or left without a label, silently
    rows, columns = np.shape(item["weights"])
    length, answer = len(item["question"]), len(item["answer"])
    if columns not in (length, length + 1):
        raise ValueError(f"item {k}'s weights have {columns} columns for a question of "
                         f"{length} characters: one a character (and one more, the padding's, "
                         "for a model without a mask)")
    if rows < max(answer, 1):
        raise ValueError(f"item {k}'s weights have {rows} rows for an answer of {answer} "
                         "characters: one a character")


def attention_heatmaps(items: list[dict], path: str | os.PathLike | None = None) -> Figure:
    """One panel per numeral: rows are output characters, columns input characters; saved to
    path, if given.

    Each item: {"question": str, "answer": str, "weights": (rows, cols) array, "title": str}.
    Columns are the real characters in reading order; weights with one column more (a model
    without a mask, which attends to the padding too) show it as a last column, "(pad)".
    """
    if isinstance(items, (dict, str)):
        # one panel alone was read key by key: "item 0 is a str, not a dict of question, …"
        raise TypeError(f"attention_heatmaps takes a list of panels, not a "
                        f"{type(items).__name__}; for one, pass [panel]")
    items = list(items)  # a generator of panels had "no len()"
    if not items:
        raise ValueError("no numeral to draw")
    if len(items) > MAX_PANELS:
        raise ValueError(f"{len(items)} numerals; one figure shows at most {MAX_PANELS}")
    _check_panels(items)
    missing = [it["question"] for it in items if it.get("weights") is None]
    if missing:
        raise ValueError(f"{missing[0]!r} has no attention weights (seq2seq and peeky models "
                         "have no attention to draw)")
    if path is not None:
        _check_png_path(path)
    font = japanese_font()
    if missing_japanese_font() is not None:
        import warnings

        warnings.warn(f"kanji are labelled by their code points (U+4E00 for 一): "
                      f"{missing_japanese_font()}", RuntimeWarning, stacklevel=2)
    n = len(items)
    cols = min(n, 2)
    rows = (n + cols - 1) // cols
    # a "(pad)" column takes about two characters' room
    widths = [max(len(it["question"]) + 2 * (np.shape(it["weights"])[1] > len(it["question"])),
                  1) for it in items]
    heights = [max(len(it["answer"]), 1) for it in items]
    panel_w = 1.2 + 0.38 * max(widths)
    panel_h = 1.3 + 0.33 * max(heights)
    fig = ShownFigure(figsize=(cols * (panel_w + 1.2), rows * panel_h), layout="constrained")
    FigureCanvasAgg(fig)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax, item in zip(axes, items):
        image = _heatmap(ax, item, font)
        fig.colorbar(image, ax=ax, shrink=0.9, label="attention weight")
    for ax in axes[n:]:
        ax.set_visible(False)
    if path is not None:
        _save(fig, path, HEATMAP_MARK)
    return fig


def _visible(ch: str) -> str:
    """A tick label for one character: a space (the book's dates have them) as ␣, which a
    blank tick would hide; else as `_drawable` draws it."""
    return "␣" if ch == " " else _drawable(ch)


def _drawable(text: str) -> str:
    """Text as the font can draw it. A tab or another control character (a model trained on
    a file with tabs reads them) as its escape; a character the font has no glyph for (an
    emoji, 𠮷 beyond the BMP: a task of the user's own) as its code point, U+1F600. Both were
    drawn as empty boxes, and matplotlib warned 'Glyph 128512 (...) missing from font(s)' on
    stderr for each."""
    return "".join(map(_drawable_char, text))


def _drawable_char(ch: str) -> str:
    if not ch.isprintable():
        return ch.encode("unicode_escape").decode("ascii")
    if ch == " " or _has_glyph(ch):
        return ch
    return f"U+{ord(ch):04X}"


@lru_cache(maxsize=4096)
def _has_glyph(ch: str) -> bool:
    return _font_file().get_char_index(ord(ch)) != 0


@lru_cache(maxsize=1)
def _font_file():
    from matplotlib.ft2font import FT2Font

    return FT2Font(japanese_font().get_file())


def _heatmap(ax, item: dict, font: FontProperties):
    weights = np.asarray(item["weights"], dtype=float)
    row_labels = [_visible(ch) for ch in item["answer"]] or [END_LABEL]
    weights = weights[: len(row_labels)]
    image = ax.imshow(weights, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto",
                      interpolation="nearest")
    column_labels = [_visible(ch) for ch in item["question"]]
    if weights.shape[1] == len(column_labels) + 1:
        column_labels.append(PADDING_LABEL)
    ax.set_xticks(range(len(column_labels)))
    # a code point's label (U+1F600) is as wide as five characters: horizontal, they overlapped
    long_labels = any(len(label) > 2 for label in column_labels[:len(item["question"])])
    ax.set_xticklabels(column_labels, fontproperties=font, fontsize=12,
                       rotation=90 if long_labels else 0)
    ax.set_yticks(range(len(row_labels)))
    ax.set_yticklabels(row_labels, fontproperties=font, fontsize=11)
    # as written, whether or not the model was fed it reversed: "reading order" was ambiguous
    # in a lesson about reversed input
    ax.set_xlabel("input, as written")
    ax.set_ylabel("output")
    ax.set_title(_drawable(item.get("title", item["question"])), fontproperties=font,
                 fontsize=11, parse_math=False)  # a question '$3+$4' is no TeX
    return image
