"""The `kanjinum` command: thin Typer commands over the library modules.

Every mistake a user can make ends in one red line and a non-zero exit status (2 for a bad
option or input, 1 for a failure while working); a traceback means a bug in kanjinum.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from contextlib import ExitStack, contextmanager
from dataclasses import fields
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup

from kanjinum.errors import (NEAR_OPTION, DataError, KanjinumError, OptionError, RunError,
                             VocabError, counted, not_utf8, number_as_meant, read_as_utf8,
                             shell_word, shortened)
from kanjinum.data import DEFAULT_HARD_SHARE, DEFAULT_PER_KIND, MAX_PER_KIND, MAX_SIZE, percent
from kanjinum.fileio import json_text
from kanjinum.train import (MAX_EPOCHS, MAX_LAYER_SIZE, MISMATCHED, TrainConfig,
                            recorded_path)

# The base class of click's usage errors, found from a public one: typer vendors its own click.
_ClickException = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
_UsageError = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")


class OneLineErrors(TyperGroup):
    """Usage mistakes (unknown option, bad value) as one line instead of a box of help text."""

    def get_command(self, ctx, cmd_name):
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _hide_flag_types(command, ctx)
        return command

    def get_help(self, ctx):
        _hide_flag_types(self, ctx)
        return super().get_help(ctx)

    def main(self, *args, standalone_mode: bool = True, **kwargs):
        _ignore_a_terminal_size_of_zero()
        given = kwargs.get("args", args[0] if args else None)  # as click reads them
        typed = list(given) if given is not None else sys.argv[1:]
        was_devnull = _stdout_is_devnull()
        try:
            result = super().main(*args, standalone_mode=False, **kwargs)
        except SystemExit as exc:
            # A reader that stopped early (`kanjinum eval | head -1`): rich points stdout at
            # /dev/null (click wraps it) so that the exit's flush cannot fail again, and exits
            # 1, which scripts would take for a failure. It is the shell's 128 + SIGPIPE.
            if exc.code == 1 and not was_devnull and (
                    _stdout_is_devnull() or type(sys.stdout).__name__ == "PacifyFlushWrapper"):
                sys.exit(141)
            raise
        except _ClickException as exc:
            if not exc.format_message():  # no_args_is_help: the help text was the answer
                sys.exit(exc.exit_code)
            _keep_near_options(exc)
            ctx = getattr(exc, "ctx", None)
            hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            option = getattr(exc, "option_name", "") or ""
            if option[1:].replace(".", "", 1).isdigit() and ctx is not None:
                # `kanjinum convert -5`: a negative number, read as an option
                hint = f" (a negative number? put -- before it: {ctx.command_path} -- {option})"
            _console(stderr=True).print(
                f"[bold red]error:[/] {_escape(_plain_message(exc, typed))}{_escape(hint)}",
                soft_wrap=True)
            sys.exit(exc.exit_code)
        except typer.Abort:
            _console(stderr=True).print("[bold red]aborted[/]")
            sys.exit(130)
        if not standalone_mode:
            return result
        sys.exit(result if isinstance(result, int) else 0)


def _keep_near_options(exc) -> None:
    """Of click's suggestions for an unknown option, those a typo away (NEAR_OPTION, as bench
    has them): `train --bogus` was offered `(Possible options: --out)`."""
    import difflib

    near = getattr(exc, "possibilities", None)
    if near:
        exc.possibilities = [option for option in near if difflib.SequenceMatcher(
            None, exc.option_name, option).ratio() >= NEAR_OPTION]


class OnceEach(TyperCommand):
    """An option given twice with different values (`eval --run A --run B`, `train --mask
    --no-mask`) is a usage mistake: click kept the last value without a word, and which one
    was meant is not ours to guess. Given twice alike (`--force --force`, a script's options
    repeated) it is taken, as nothing is in doubt."""

    def make_parser(self, ctx):
        parser = super().make_parser(ctx)
        given: dict[str, tuple[str, object]] = {}  # the option's name: as said, the value
        # click's parser calls each option's process(value, state) as it reads it; the
        # repeatable kinds (append, count) are meant to be given again. Its options are in
        # private tables: where a release renames them, this check is skipped rather than
        # every command broken.
        options = {*getattr(parser, "_long_opt", {}).values(),
                   *getattr(parser, "_short_opt", {}).values()}
        for option in options:
            if getattr(option, "action", None) in ("store", "store_const"):
                option.process = _given_once(option, given, ctx)
        return parser

    def parse_args(self, ctx, args):
        typed = list(args)  # click's parser takes them off the list as it reads them
        try:
            return super().parse_args(ctx, args)
        except _UsageError as exc:
            if "does not take a value" in exc.message:  # `--mask=false`, `--json=true`
                exc.message = _a_flag_takes_no_value(self, ctx, exc.option_name, typed)
            exc.ctx = exc.ctx or ctx  # click's parser raised it without: no '(see --help)'
            raise


def _a_flag_takes_no_value(command, ctx, name: str, args: list[str]) -> str:
    """click's `Option '--mask' does not take a value.` as what to write instead: a user of
    other tools' `--mask=false` wants --no-mask."""
    typed = next((arg for arg in args if arg.startswith(f"{name}=")), name)
    for param in command.get_params(ctx):
        # long names first: click keeps the help option's names in a set, so `--help=1` was
        # told `-h or --help` or `--help or -h` as the run's string hashes fell
        names = [*sorted(param.opts, key=_short_last), *getattr(param, "secondary_opts", ())]
        if name in names:
            others = " or ".join(names) if len(names) > 1 else f"{name} alone"
            return f"{typed}: {name} is a flag and takes no value; write {others}"
    return f"{typed}: {name} takes no value"


def _short_last(name: str) -> bool:
    return not name.startswith("--")


def _given_once(option, given: dict, ctx):
    process = option.process

    def once(value, state):
        if option.action == "store":  # --run A
            said, meant = f"{option.obj.opts[0]} {value}", _converted(option.obj, value, ctx)
        else:  # a flag: --mask, or --no-mask, its other name
            said, meant = (option._long_opts or option._short_opts)[0], option.const
        if option.dest in given and not _alike(given[option.dest][1], meant):
            earlier = given[option.dest][0]
            if option.action == "store":
                raise _UsageError(f"{option.obj.opts[0]} is given twice, {earlier} and {said}: "
                                  "give it once", ctx)
            raise _UsageError(f"{earlier} and {said} are both given: choose one", ctx)
        given.setdefault(option.dest, (said, meant))
        process(value, state)

    return once


def _alike(earlier, later) -> bool:
    """Two values of one option that leave nothing in doubt: equal, or both nan, which is not
    equal to itself (`--lr nan --lr nan` was 'given twice, --lr nan and --lr nan', as if they
    differed, instead of the refusal of nan itself)."""
    return earlier == later or (earlier != earlier and later != later)


def _converted(param, value, ctx):
    """The value an option's text stands for, so that --lr 0.1 and --lr 0.10 are alike; the
    text itself where it does not convert (the option's own check says why, later)."""
    try:  # typer's own conversion (its parameters have no click type)
        return param.get_runtime_param().coerce(value, param=param, ctx=ctx)
    except Exception:  # a value typer cannot convert: told as such when it is processed
        return value


# typer's own words for a value it cannot convert, and what they say plainly
_NOT_A_NUMBER = {
    "Input should be a valid integer, unable to parse string as an integer": "a whole number",
    "Input should be a valid number, unable to parse string as a number": "a number",
}


def _plain_message(exc, typed_args: list[str]) -> str:
    """click's message, without typer's noise: `Value error, 'bogus' is not one of …` loses
    its prefix, and `Input should be a valid integer, unable to parse string as an integer`
    (which did not quote what was typed) becomes `'ten' is not a whole number`. A value that
    is another option (`--split --json`) was most likely left out, and is said so."""
    message = exc.format_message().replace(": Value error, ", ": ", 1)
    param = getattr(exc, "param", None)
    typed = (_typed_value(param.opts, typed_args) if param is not None and param.opts
             else None)
    for words, kind in _NOT_A_NUMBER.items():
        if words in message and typed is not None:
            # --lr 1,5 (a decimal comma), --size 50,000, --epochs ５: how to write it
            message = message.replace(words, f"{typed!r} is not {kind}" + number_as_meant(
                typed, whole=kind == "a whole number"))
    # not_an_option's own message (--out --resume) asks already: asked twice, it read as a stutter
    if typed is not None and typed.startswith("--") and "left out?" not in message:
        message += f" (was the value of {param.opts[0]} left out?)"
    return message


def _typed_value(names, args: list[str]) -> str | None:
    """What follows the last of an option's names in args (`--epochs ten`, `--epochs=ten`),
    or None."""
    for k in range(len(args) - 1, -1, -1):
        name, equals, value = args[k].partition("=")
        if name in names:
            if equals:
                return value
            return args[k + 1] if k + 1 < len(args) else None
    return None


def _ignore_a_terminal_size_of_zero() -> None:
    """COLUMNS=0 (or LINES=0) means "ask the terminal" to Python (shutil.get_terminal_size),
    as where a container's terminal has no size yet; rich took it as a width of 0 and printed
    nothing at all: no answers, no help, not even an error's line before its exit status 2."""
    for name in ("COLUMNS", "LINES"):
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) == 0:
            del os.environ[name]


def _hide_flag_types(command, ctx) -> None:
    """A flag takes no value: typer would print `<bool>` beside --mask/--no-mask and --help
    as if one were expected. Nor should a user read Python's `<list[str]>` beside the numerals
    an argument takes; its metavar and help already say what goes there."""
    for param in command.get_params(ctx):
        if getattr(param, "is_flag", False):
            param.metavar = ""
        elif isinstance(param, TyperArgument) and param.nargs != 1:
            param.display_type_rich = lambda ctx: None
        if isinstance(param, TyperArgument) and param.required:
            # typer writes a required argument {NUMBER}... in the usage line: braces, which
            # usage lines use for a choice of alternatives; plainly, NUMBER... (click's way)
            plain = (param.metavar or param.name) + ("..." if param.nargs != 1 else "")
            param.get_usage_pieces = lambda ctx, plain=plain: [plain]


def _stdout_is_devnull() -> bool:
    try:
        return os.path.samestat(os.fstat(sys.stdout.fileno()), os.stat(os.devnull))
    except (OSError, ValueError, AttributeError):  # no real stdout (a test runner's)
        return False


app = typer.Typer(
    cls=OneLineErrors,
    name="kanjinum",
    help="Teach numpy-only seq2seq networks to read Japanese numerals: 三兆九千億 → 3900000000000.\n\n"
         "Typical session: [bold]kanjinum gen-data[/], [bold]kanjinum train[/], "
         "[bold]kanjinum eval[/], [bold]kanjinum attend 一億一[/].",
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

USAGE, RUNTIME = 2, 1


class Task(str, Enum):
    kanji = "kanji"
    addition = "addition"
    hard = "hard"


class Style(str, Enum):
    kanji = "kanji"
    daiji = "daiji"
    positional = "positional"


class Split(str, Enum):
    test = "test"
    all = "all"


class Schedule(str, Enum):
    constant = "constant"
    cosine = "cosine"


class ModelKind(str, Enum):
    seq2seq = "seq2seq"
    peeky = "peeky"
    attention = "attention"
    bi_attention = "bi-attention"


def _console(stderr: bool = False):
    from rich.console import Console

    # soft_wrap: a message piped to a file or another program stays one line (rich would cut
    # it at 80 columns); tables still fit the width.
    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def fail(message: str, code: int = USAGE) -> typer.Exit:
    _console(stderr=True).print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True)
    return typer.Exit(code=code)


@contextmanager
def user_errors():
    """Turn the errors a user can cause into one line and an exit status."""
    try:
        yield
    except (DataError, VocabError, OptionError, RunError) as exc:
        raise fail(_escape(_for_the_cli(str(exc))), USAGE) from None
    except KanjinumError as exc:  # TrainingStopped: a nan loss
        raise fail(_escape(_for_the_cli(str(exc))), RUNTIME) from None
    except BrokenPipeError:  # `kanjinum bench | head`: the reader has all it wanted
        _discard_the_output()
        raise typer.Exit(code=141) from None  # 128 + SIGPIPE, as a shell reports it
    except MemoryError:  # numpy's _ArrayMemoryError too: sizes no option check foresaw
        raise fail("not enough memory for this; try smaller sizes", RUNTIME) from None
    except PermissionError as exc:
        raise fail(_escape(f"permission denied: {exc.filename or exc}"), RUNTIME) from None
    except OSError as exc:
        if exc.filename == _NamedOutput.NAME:  # a full disk under `> report.txt`
            _discard_the_output()
        raise fail(_escape(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")),
                   RUNTIME) from None


def _for_the_cli(message: str) -> str:
    """The library's messages name fit's arguments beside the CLI's options, as in
    `… pass --force (fit: force=True)`; a command-line user needs the options only."""
    import re

    return re.sub(r" \(fit: [^)]*\)", "", message)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


@contextmanager
def blas_threads(threads: int):
    """The library's `blas_threads`, its refusals in the option's name."""
    from kanjinum.train import blas_threads as limited_to, check_threads

    try:
        check_threads(threads)
    except OptionError as exc:
        raise fail(f"--{exc}") from None
    with limited_to(threads):
        yield


def not_an_option(ctx: typer.Context, param: typer.CallbackParam, value):
    """A file, folder or run option whose value is one of the command's options: the value was
    left out, and click took the next option for it. `gen-data --out --force` wrote a file
    named --force, and `train --out --resume` trained a new run into a folder named --resume
    (argparse, behind bench, refuses the same: `expected one argument`). So is any word that
    starts with -- as an option does (--size=3, a mistyped --froce, the -- that ends options):
    each was a file's name."""
    if not isinstance(value, str):
        return value
    options = {name for p in ctx.command.get_params(ctx)
               for name in (*p.opts, *getattr(p, "secondary_opts", ()))}
    if value.split("=", 1)[0] in options:
        said = "is one of the options"
    elif value.startswith("--"):
        said = "looks like an option"
    else:
        return value
    raise typer.BadParameter(f"{value} {said}: was the value of {param.opts[0]} left out? (to "
                             f"name a file or folder {value}, write ./{value})")


ThreadsOption = Annotated[int, typer.Option(
    "--threads", help="BLAS threads for the matrix products: 1 is safe beside other work; 2 is "
                      "about 1.5x faster at hidden 256 on an otherwise idle 2-core machine.")]
RunOption = Annotated[Optional[str], typer.Option(
    "--run", metavar="RUN", callback=not_an_option,
    help="Run folder (or a name under runs/, or 'default' for the shipped model; a "
         "folder named default: ./default). "
         "Default: the run under runs/ of the current folder whose model.npz was "
         "saved last, else the shipped model; a line says which.")]


def _print_version(value: bool) -> None:
    if value:
        from kanjinum import __version__

        typer.echo(f"kanjinum {__version__}")
        raise typer.Exit()


@app.callback()
def _options(version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True,
        help="Print kanjinum's version and exit.")] = False) -> None:
    """Teach numpy-only seq2seq networks to read Japanese numerals."""


# --- convert --------------------------------------------------------------------------------


@app.command(cls=OnceEach)
def convert(
    numbers: Annotated[list[str], typer.Argument(
        metavar="NUMBER", help="Kanji numerals to read, or integers to write.")],
    style: Annotated[Style, typer.Option(help="How to write integers (Excel NUMBERSTRING types 1-3).")]
        = Style.kanji,
) -> None:
    """Convert with the rule-based converter: 一億一 → 100000001, 100000001 → 一億一.

    Integers below 10**20 (ASCII or full-width digits) are written in --style.

    Numerals are read in every style: 一千 or 千, 〇 or 零, formal 壱弐参拾阡萬, 3億5千万, 二〇二六.

    Refused, with the reason: commas, signs, decimal points, spaces inside a number, units beyond 京."""
    # One line per paragraph: typer's rich help keeps a docstring's line breaks, and a
    # paragraph broken at 95 columns came out ragged in an 80-column terminal.
    # --help is all a user of `pip install .` has: docs/numerals.md does not come with it
    from kanjinum.numerals import fold_look_alikes, parse_kanji, to_kanji

    lines = []  # all converted before any is printed: a bad one prints nothing
    for text in map(_typed_argument, numbers):
        stripped = text.strip()
        folded = fold_look_alikes(stripped)  # full-width ５００ is an integer to write
        try:
            why = not_utf8(stripped)
            if why is not None:
                raise ValueError(why)
            digits = folded.removeprefix("-")
            if folded.isascii() and digits.isdigit():
                significant = digits.lstrip("0")
                if len(significant) > 20 or (folded.startswith("-") and significant):
                    # checked on the text, before int(): a huge one would take long to read
                    raise ValueError(f"{shortened(stripped)}: only 0 <= n < 10**20 can be "
                                     "written as a numeral")
                lines.append(to_kanji(int(digits), style.value))
            else:
                # read first: `1,000 --style daiji` and `abc --style daiji` were called
                # numerals to read, where neither is one
                value = parse_kanji(text)
                if style is not Style.kanji:  # reading knows every style: --style is for writing
                    raise ValueError(f"--style {style.value} chooses how integers are written; "
                                     f"{shortened(stripped)!r} is a numeral to read")
                lines.append(str(value))
        except (ValueError, TypeError) as exc:
            # the library names its function; the user typed a command
            message = str(exc).removeprefix("parse_kanji: ").removeprefix("to_kanji: ")
            raise fail(_escape(message + _without_commas(folded))) from None
    console = _console()
    for line in lines:
        console.print(line)


def _without_commas(folded: str) -> str:
    """How to write a number typed with thousands separators, or "": `convert 1,000` was told
    only that ',' is not a numeral character, not what to type instead (gen-data's --size
    says `write 50000, without commas`). folded: the text with full-width digits and commas
    made ASCII."""
    import re

    from kanjinum.numerals import parse_kanji

    if not re.search(r"[0-9],[0-9]{3}(?![0-9])", folded):
        return ""
    plain = folded.replace(",", "")
    try:
        parse_kanji(plain)  # a digit run, or digits with units: 1,000万
    except ValueError:
        return ""
    return f"; write {shortened(plain)}, without commas"


# --- gen-data -------------------------------------------------------------------------------

# Options each task ignores: given, they are a mistake to point out, not to pass over.
GEN_DATA_UNUSED = {
    "kanji": {"exclude", "per_kind"},
    "addition": {"max_digits", "style", "hard_share", "closed", "exclude", "per_kind"},
    "hard": {"size", "hard_share", "closed"},
}


@app.command("gen-data", cls=OnceEach)
def gen_data(
    task: Annotated[Task, typer.Option(help="kanji numerals, the book's addition task, or the "
                                            "hard test set (closed kinds + open kinds).")] = Task.kanji,
    size: Annotated[int, typer.Option(help=f"Number of lines, 1 to {MAX_SIZE:,} (--task kanji, addition; the hard set's "
                             "size follows from --per-kind).")] = 50_000,
    max_digits: Annotated[int, typer.Option(
        help="Largest number of digits, 1 to 20 (--task kanji, hard).")] = 13,
    style: Annotated[Style, typer.Option(help="Numeral style of the questions (--task kanji, "
                                             "hard).")] = Style.kanji,
    seed: Annotated[int, typer.Option(help="Random seed, 0 to 2**32-1: the same options give "
                                           "the same file.")] = 0,
    hard_share: Annotated[float, typer.Option(
        help="Share of lines replaced by hard cases, 0 to 1 (--task kanji): single digits, "
             "round, sparse, group boundaries, repeated digits, short numbers.")] = DEFAULT_HARD_SHARE,
    closed: Annotated[bool, typer.Option(
        help="Include every single digit and every d×10^k in range (--task kanji).")] = True,
    exclude: Annotated[Optional[str], typer.Option(
        metavar="FILE", callback=not_an_option,
        help="With --task hard: a data file (data/kanji.txt) whose numbers the open part of "
             "the hard set avoids; the closed part (single digits, round numbers) is always "
             "all of them.")] = None,
    per_kind: Annotated[int, typer.Option(
        help=f"With --task hard: numbers per open kind, 1 to {MAX_PER_KIND:,}.")] = DEFAULT_PER_KIND,
    out: Annotated[Optional[str], typer.Option(
        metavar="FILE", callback=not_an_option,
        help="Output file. Default: data/<task>.txt")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing output file.")] = False,
    ctx: typer.Context = None,
) -> None:
    """Write a data set in the book's format: question, `_`, answer, fixed widths, one per line."""
    from kanjinum import data as D

    unused = sorted(_given_options(ctx) & GEN_DATA_UNUSED[task])
    if unused:
        # as typed: --no-closed was named --closed
        names = ", ".join(_option_as_given(ctx, name) for name in unused)
        raise fail(f"{names} do{'es' if len(unused) == 1 else ''} not apply to --task "
                   f"{task.value}")
    exclude = path_option(exclude, "--exclude", "a data file")
    from kanjinum.fileio import folder_named

    folder = out and folder_named("--out", out, f"{task.value}.txt")
    if folder:
        raise fail(_escape(folder))
    out = path_option(out, "--out", "the file to write") or Path("data") / f"{task.value}.txt"
    with user_errors():  # a bad value is the mistake to name, before any file is looked at
        D.check_seed(seed)
        if task is Task.hard:
            D.check_hard_options(per_kind, max_digits)
        elif task is Task.kanji:
            D.check_generation_options(size, max_digits, hard_share)  # --size's limits too
        else:
            D.check_addition_options(size)
    check_data_file(exclude)
    started = time.perf_counter()
    with user_errors():
        _check_folder_of(out, makes_folders=True)  # write_dataset makes missing folders
        if out.is_dir():  # the default data/<task>.txt; an --out is named above
            raise DataError(f"{out} is a folder; --out names the file to write")
        if os.path.lexists(out) and not force:  # a link to a file not there is the user's too
            raise DataError(f"{out} exists; pass --force to overwrite it")
        if task is Task.addition:
            # the last of a million distinct sums take long to draw (33 s in all)
            with _working(f"drawing {size:,} sums"):
                dataset = D.generate_addition(size, seed)
        elif task is Task.hard:
            excluded_set = D.read_dataset(exclude) if exclude else None
            excluded = excluded_set.questions if exclude else []
            if exclude and not any(kind is not None for kind in D.numeral_kinds(
                    excluded, excluded_set.answers)):
                raise DataError(f"--exclude {exclude} holds no kanji numerals (the book's "
                                "additions or dates?), so it would exclude nothing")
            # drawn from the next seed, so that it differs from the kanji set of the same seed
            next_seed = (D.check_seed(seed) + 1) % (D.MAX_SEED + 1)
            with _working(f"drawing {per_kind:,} numbers of each kind"):
                dataset = D.hard_dataset(max_digits, style.value, next_seed, per_kind, excluded)
        else:
            with _working(f"drawing {size:,} numbers"):
                dataset = D.generate_kanji(size, max_digits, style.value, seed, hard_share,
                                           closed)
        D.write_dataset(dataset, out, force=force)
    seconds = time.perf_counter() - started
    lines = "1 line" if len(dataset) == 1 else f"{len(dataset):,} lines"
    note = _closed_numbers_only(size, max_digits) if task is Task.kanji and closed else ""
    if task is Task.hard:
        note = _kinds_short_of(dataset, per_kind, max_digits, exclude) + _not_excluded(exclude)
    _console().print(f"wrote {lines} to [bold]{out}[/] "
                     f"(question width {dataset.question_width}, answer width "
                     f"{dataset.answer_width}) in {seconds:.2f} s{note}")


def _closed_numbers_only(size: int, max_digits: int) -> str:
    """What to add to the 'wrote' line where --closed left room for nothing else: it puts the
    closed numbers first (117 below 10^13), a surprise in a small file made to try things out.
    In the same line, so that gen-data's output stays one line."""
    from kanjinum.data import closed_numbers

    count = len(closed_numbers(max_digits))
    if size > count:
        return ""
    which = f"all {count:,}" if size == count else f"the first {size:,} of the {count:,}"
    return (f"; [yellow]note: every line is a single digit or a d×10^k, {which} that --closed "
            "includes; --no-closed draws numbers as the seed did[/]")


def _kinds_short_of(dataset, per_kind: int, max_digits: int, exclude: Path | None) -> str:
    """What to add to the 'wrote' line where a hard set holds fewer than --per-kind numbers of
    some kind: `--per-kind 100 --max-digits 6` wrote 45 repeated and no group numbers, and
    the plain command 5 repeated and 60 short, without a word. In the same line, as above."""
    from kanjinum.data import kinds_short_of

    short = kinds_short_of(dataset, per_kind)
    if not short:
        return ""
    counts = ", ".join(f"{count:,} {kind}" for kind, count in short.items())
    apart = f" outside {_escape(str(exclude))}" if exclude else ""
    return (f"; [yellow]note: only {counts} (not --per-kind {per_kind:,} of each): no more "
            f"of {'that kind' if len(short) == 1 else 'those kinds'} were found below "
            f"10^{max_digits}{apart}[/]")


def _not_excluded(exclude: Path | None) -> str:
    """What to add to the 'wrote' line of a hard set made without --exclude: its open kinds
    then overlap the training file (887 numbers of data/kanji.txt, 655 of the 700 short ones),
    and eval counts numbers the model has seen as hard cases it never saw."""
    if exclude:
        return ""
    return ("; [yellow]note: without --exclude it may hold numbers of your training data; "
            "e.g. --exclude data/kanji.txt leaves those out[/]")


@contextmanager
def _working(what: str):
    """A spinner with the time spent, for work of unknown length (a large gen-data takes
    20-30 s); gone when it ends, and silent when the output is not a terminal."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = _console(stderr=True)
    if not _can_animate(console):  # rich would still end a transient display with a blank line
        yield
        return
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        progress.add_task(what, total=None)
        progress.refresh()  # shown at once, not at the first tick
        yield


# --- train ----------------------------------------------------------------------------------


def _can_draw_bars(console) -> bool:
    """Whether rich can draw a progress bar on this console. Piped (`kanjinum train | tee
    log.txt`) it draws none, and its transient display would still leave a blank line before
    each epoch's line. In a notebook it draws one in an ipywidgets Output; without ipywidgets
    it drew nothing, warned 'install "ipywidgets" for Jupyter support' and left an empty
    output before each epoch's line, so there the epoch lines come alone."""
    if console.is_jupyter:
        try:
            import ipywidgets  # noqa: F401
        except ImportError:
            return False
        return True
    return _can_animate(console)


def _can_animate(console) -> bool:
    """A terminal that redraws a line: not a pipe, nor a dumb terminal (TERM=dumb: Emacs'
    shell, some CI logs), where rich draws no bar or spinner either, yet its transient display
    left a blank line, before every epoch's line of train and after gen-data's and eval's."""
    return console.is_terminal and not console.is_dumb_terminal


class RichReporter:
    """Progress bars and per-epoch lines in the style of the seed's output."""

    def __init__(self, console, show: int = 3):
        self.console, self.show = console, show
        self.progress = None
        self._spinner = None
        self.test = None

    @contextmanager
    def preparing(self, what: str):
        """A spinner while the data is read and checked, until `start` prints the run's first
        line: on 200,000 lines that took 4 s with nothing on the screen."""
        with ExitStack() as stack:
            stack.enter_context(_working(what))
            self._spinner = stack.pop_all()
        try:
            yield
        finally:
            self._end_spinner()

    def _end_spinner(self):
        if self._spinner is not None:
            self._spinner.close()
            self._spinner = None

    def start(self, run, train, test, overlap):
        self._end_spinner()
        cfg = run.train
        self.run = run
        self.test = test
        self.console.print(
            f"[bold]{run.kind}[/] model, wordvec {cfg.wordvec}, hidden {cfg.hidden}, batch "
            f"{cfg.batch}; {len(train):,} training and {counted(len(test), 'test line')} "
            f"({overlap:,} test question{'' if overlap == 1 else 's'} also in training); "
            f"reverse={cfg.reverse} "
            f"mask={cfg.mask} bucket={cfg.bucket}; writing {run.path}")

    def epoch_start(self, epoch, epochs, iterations, done):
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)

        if not _can_draw_bars(self.console):
            return
        self.progress = Progress(
            TextColumn(f"epoch {epoch}/{epochs}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"), TextColumn("{task.fields[rate]} it/s"),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            TextColumn("{task.fields[then]}"), console=self.console, transient=True)
        self.progress.start()
        # "-" until the first iteration: "loss nan" there read as a diverged run (the message
        # kanjinum gives when a loss does turn nan), for as long as that iteration takes
        self.task = self.progress.add_task("train", total=iterations, completed=done,
                                           loss="-", rate="-", then="")
        self.started, self.count = time.perf_counter(), 0
        self.left = iterations - done

    def iteration(self, loss):
        if self.progress is None:
            return
        self.count += 1
        rate = self.count / max(time.perf_counter() - self.started, 1e-9)
        self.progress.update(self.task, advance=1, loss=f"{loss:.4f}", rate=f"{rate:.1f}")
        self.left -= 1
        if self.left == 0 and self.test is not None:
            # the test split is answered next: a full bar with its clock stopped looked hung
            # for as long (seconds on a large data file)
            self.progress.update(self.task, then=f"testing on {len(self.test):,} lines")

    def _stop(self):
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def epoch_end(self, record, evaluation):
        self._stop()
        self.console.print(
            f"epoch {record['epoch']}: loss {record['loss']:.4f}, test accuracy "
            f"[bold]{percent(record['accuracy'], 3)}[/], {record['seconds']:.1f} s")
        for i in range(min(self.show, len(evaluation.questions))):
            print_example(self.console, evaluation, i)

    def message(self, text):
        self._stop()
        self.console.print(text)


def print_example(console, evaluation, i: int) -> None:
    from rich.markup import escape

    prediction = evaluation.predictions[i]
    ok = prediction == evaluation.answers[i]
    mark = "[green]☑[/]" if ok else "[red]☒[/]"
    if prediction is None:
        shown = f"({evaluation.problems.get(i, '?')})"
    else:  # an empty answer, as attend and the heatmaps say it: `☒ ` alone looks cut off
        shown = prediction or "(nothing)"
    truth = evaluation.answers[i] or "(nothing)"  # a data file's empty answer, said alike
    if evaluation.kinds is not None and evaluation.kinds[i] == MISMATCHED:
        # its miss is the file's as much as the model's: shown as a plain model error it hid
        truth += " (not the question's value: a typo in the file?)"
    console.print(f"Q {escape(evaluation.questions[i])}\nT {escape(truth)}\n"
                  f"{mark} {escape(shown)}\n---")


def _best_epoch_note(history: list) -> str:
    """Where model.npz is not the last epoch's: eval reports the best epoch's accuracy, which
    differs from the last line train printed, and the two looked like they disagreed."""
    accuracies = [record.get("accuracy") for record in history]
    if not accuracies or None in accuracies or accuracies[-1] == max(accuracies):
        return ""
    best = max(accuracies)
    epoch = len(accuracies) - accuracies[::-1].index(best)  # the last of ties, as fit keeps
    return (f"; its model is epoch {epoch}'s, the best test accuracy ({percent(best, 3)}), "
            f"which eval reports, not the last epoch's {percent(accuracies[-1], 3)}")


@app.command(cls=OnceEach)
def train(
    data: Annotated[str, typer.Option(metavar="FILE", callback=not_an_option,
                                      help="Data file in the book's format.")
                    ] = TrainConfig.data,
    model: Annotated[ModelKind, typer.Option(help="Which seq2seq variant.")] = ModelKind(TrainConfig.model),
    wordvec: Annotated[int, typer.Option(help=f"Embedding size, 1 to {MAX_LAYER_SIZE}.")] = TrainConfig.wordvec,
    hidden: Annotated[int, typer.Option(help=f"LSTM hidden size, 1 to {MAX_LAYER_SIZE} (even for "
                                             "bi-attention).")] = TrainConfig.hidden,
    batch: Annotated[int, typer.Option(help="Batch size, 1 to the lines of the training "
                                            "part.")] = TrainConfig.batch,
    epochs: Annotated[Optional[int], typer.Option(
        help=f"Number of passes over the training part, at most {MAX_EPOCHS:,} \\[default: "
             f"{TrainConfig.epochs}]; with --resume, the new total.", show_default=False)] = None,
    lr: Annotated[float, typer.Option(help="Adam (peak) learning rate, above 0.")] = TrainConfig.lr,
    lr_decay: Annotated[float, typer.Option(help="Learning-rate factor applied after each epoch: "
                                                 "above 0, at most 1.")] = TrainConfig.lr_decay,
    schedule: Annotated[Schedule, typer.Option(help="constant (the book's), or cosine: warm up over "
                                                    "2% of the run, then decay to 0.")] = Schedule(TrainConfig.schedule),
    clip: Annotated[float, typer.Option(help="Global gradient-norm clip (0: none).")] = TrainConfig.clip,
    reverse: Annotated[bool, typer.Option(help="Feed the question reversed.")] = True,
    mask: Annotated[bool, typer.Option(help="Mask the padding (attention and loss); "
                                            "--no-mask is the book's behaviour.")] = True,
    bucket: Annotated[Optional[bool], typer.Option(
        help="Group batches by question length and skip padding (needs --mask) "
             "\\[default: on with --mask]", show_default=False)] = None,
    oversample: Annotated[float, typer.Option(help="Extra share of each epoch drawn from rare "
                                                   "kinds of number, each kind equally (single digits, round...): "
                                                   "0.05 adds about 5 %, 0.5 doubles an epoch; at most 0.9. Kanji numerals only: "
                                                   "data without rare kinds (additions, dates) records 0.")] = TrainConfig.oversample,
    seed: Annotated[int, typer.Option(help="Seed for initialisation and shuffling, 0 to "
                                           "2**32-1.")] = 0,
    split_seed: Annotated[int, typer.Option(help="Seed of the book's 90/10 split, 0 to "
                                                 "2**32-1.")] = 1984,
    target_acc: Annotated[Optional[float], typer.Option(help="Stop once test accuracy reaches "
                                                             "this share: above 0, at most 1, "
                                                             "e.g. 0.99.")] = None,
    # in words: the one long word runs/<model>-<date>-<time> was cut to runs/<model>-<date>…
    # in an 80-column terminal
    out: Annotated[Optional[str], typer.Option(help="Run folder. Default: a new folder in runs/ "
                                                    "named after the model, the date and the "
                                                    "time.",
                                               metavar="FOLDER", callback=not_an_option,
                                               show_default=False)] = None,
    resume: Annotated[bool, typer.Option(help="Continue the run in --out where it stopped.")] = False,
    force: Annotated[bool, typer.Option(
        help="Start again in a non-empty --out folder. The run there is set aside until the "
             "new one has a model (its first epoch), and put back if the new one fails or is "
             "stopped before.")] = False,
    show: Annotated[int, typer.Option(help="Test examples printed after each epoch, 0 or "
                                           "more.")] = 3,
    threads: ThreadsOption = 1,
    ctx: typer.Context = None,
) -> None:
    """Train a seq2seq model into a run folder: config.json, model.npz, history.json, curve.png and state.npz (for --resume)."""
    from kanjinum.train import fit, resumed_config

    if show < 0:
        raise fail(f"--show must be 0 or more, not {show}")
    if out is not None and not out.strip():
        raise fail("--out is empty: name the run folder to write")
    if resume:
        if out is None:
            raise fail("--resume needs --out, the run folder to continue")
        if force:
            raise fail("--resume and --force contradict each other: continue the run, or "
                       "start it again")
    elif bucket and not mask:
        raise fail("--bucket needs --mask: without a mask every batch keeps its full width")
    out = path_option(out, "--out", "the run folder to write")  # None: a new one under runs/
    data = path_option(data, "--data", "a data file")
    if not resume:  # a resumed run reads the data file its config.json names
        check_data_file(data)
    console = _console()
    with user_errors(), blas_threads(threads):
        if resume:
            moved_to = data if "data" in _given_options(ctx) else None  # if the file moved
            config = resumed_config(out, epochs, target_acc, moved_to)
            _refuse_changes_on_resume(config, ctx)
        else:
            config = TrainConfig(
                data=recorded_path(data), model=model.value, wordvec=wordvec, hidden=hidden,
                batch=batch, epochs=TrainConfig.epochs if epochs is None else epochs, lr=lr,
                lr_decay=lr_decay, schedule=schedule.value, clip=clip, reverse=reverse,
                mask=mask, bucket=mask if bucket is None else bucket, oversample=oversample,
                seed=seed, split_seed=split_seed, target_acc=target_acc)
        reporter = RichReporter(console, show)
        with reporter.preparing(f"reading {config.data}"):
            trained = fit(config, out, resume=resume, force=force, reporter=reporter,
                          threads=threads)
    out = trained.path
    if trained.put_back:  # the message said so: out holds the run it had before
        pass
    elif (out / "model.npz").exists():
        # stopped, the run is not finished: "run saved in" alone read as if it were
        console.print(f"run saved in [bold]{out}[/]"
                      + (" (stopped; its model is the best epoch so far)"
                         if trained.stopped_by else _best_epoch_note(trained.history)))
    elif trained.stopped_by:  # the resume advice is printed already
        console.print(f"no epoch has finished yet, so {out} has no model to use")
    else:
        console.print(f"no epoch has finished yet, so {out} has no model to use; "
                      f"continue it with kanjinum train --out {shell_word(out)} --resume")
    if trained.stopped_by:  # saved, but not finished: `train && eval` should stop here
        import signal

        raise typer.Exit(128 + signal.Signals[trained.stopped_by].value)


def _flag(option: str, on: bool) -> str:
    return option if on else "--no-" + option[2:]


def _refuse_changes_on_resume(saved: TrainConfig, ctx) -> None:
    """--resume continues a run as it was set up: the training options may be repeated (the
    command that started it, with --resume added) but not changed, except --epochs and
    --target-acc."""
    changed = []
    for name in sorted(_given_options(ctx) & {f.name for f in fields(TrainConfig)}):
        if name in ("epochs", "target_acc"):
            continue
        value, was = ctx.params[name], getattr(saved, name)
        value = getattr(value, "value", value)  # the choice options are enums
        if name == "data":
            value, was = recorded_path(value), recorded_path(was)
        if name == "oversample" and (value, was) == (TrainConfig.oversample, 0):
            # the command that started a run on the book's additions or dates, repeated: its
            # default share drew nothing there, and was recorded as 0
            from kanjinum.train import draws_no_rare_kinds

            if draws_no_rare_kinds(saved):
                continue
        if value != was:
            option = f"--{name.replace('_', '-')}"
            if isinstance(value, bool):  # a flag: --mask (the run has --no-mask)
                changed.append(f"{_flag(option, value)} (the run has {_flag(option, was)})")
            else:
                changed.append(f"{option} {value} (the run has {was})")
    if changed:
        raise RunError("--resume continues the run as it was set up, so only --epochs and "
                       "--target-acc can change: " + "; ".join(changed))


def _option_as_given(ctx, name: str) -> str:
    """The option of parameter `name` as the command line gave it: --no-closed for a flag
    turned off."""
    option = f"--{name.replace('_', '-')}"
    value = ctx.params[name]
    return _flag(option, value) if isinstance(value, bool) else option


def _given_options(ctx) -> set[str]:
    """The options typed on the command line (not left at their defaults)."""
    if ctx is None:
        return set()
    # by name: typer vendors its own click, whose ParameterSource is not public
    return {name for name in ctx.params
            if getattr(ctx.get_parameter_source(name), "name", "DEFAULT")
            not in ("DEFAULT", "DEFAULT_MAP")}


# --- eval -----------------------------------------------------------------------------------


@app.command("eval", cls=OnceEach)
def eval_(
    run: RunOption = None,
    data: Annotated[Optional[str], typer.Option(
        metavar="FILE", callback=not_an_option,
        help="Evaluate on this file instead of the run's test split.")] = None,
    split: Annotated[Optional[Split], typer.Option(
        help="Which lines to score: test, the run's test split (the default without --data), "
             "or all (the default with --data). --data COPY --split test scores the test split "
             "of a moved copy of the run's data file.", show_default=False)] = None,
    show: Annotated[int, typer.Option(help="Print the first N examples as Q / T / ☑☒ (N: 0 "
                                           "or more).")] = 0,
    errors: Annotated[bool, typer.Option("--errors", help="With --show: print only misses.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead.")] = False,
    threads: ThreadsOption = 1,
) -> None:
    """Exact-match accuracy of a trained model, by answer length and kind of number."""
    from kanjinum import data as D
    from kanjinum.train import evaluate, load_run, test_split_of, training_data

    if show < 0:
        raise fail(f"--show must be 0 or more, not {show}")
    data = path_option(data, "--data", "a data file")
    if errors and not show:
        raise fail("--errors picks which examples --show prints; give --show N too")
    if as_json and show:
        raise fail("--json prints one JSON object; --show prints examples beside a table: "
                   "choose one")
    check_data_file(data)
    with user_errors(), blas_threads(threads):
        loaded = load_run(chosen_run(run, say_which=not as_json))  # the JSON names it
        loaded.threads = threads
        asked = split
        if split is None:
            split = Split.all if data else Split.test
        if data is None:
            dataset, source = training_data(loaded)
            if split is Split.test:
                _, dataset = D.split_for_training(dataset, loaded.train.split_seed)
        elif split is Split.test:
            source, dataset = data, test_split_of(loaded, data)
        else:
            source = data
            dataset = D.read_dataset(data)
        if split is Split.all and not as_json:
            _note_training_lines(loaded, source, dataset, mine=data is None, asked=asked)
        # 200,000 lines take the shipped model 17 s, a million lines minutes: not in silence
        with _working(f"answering {len(dataset):,} questions"):
            evaluation = evaluate(loaded, dataset)
        if dataset.questions and len(evaluation.problems) == len(dataset.questions):
            # 0 % of a file the model cannot read at all says nothing about the model
            raise DataError(f"{run_named(loaded)} can read none of the {len(dataset):,} questions "
                            f"of {source} ({next(iter(evaluation.problems.values()))}): it "
                            "was trained on other data")
    summary = evaluation.summary()
    # "test": the run's own test split of that file (4,990 of its 50,000 lines), "all": a file
    # named by --data, every line; the header said only "on data/kanji.txt" for both
    summary.update(run=str(loaded.path), data=str(source), split=split.value)
    if as_json:
        typer.echo(json_text(summary))
        return
    summary["run"] = run_named(loaded)  # the JSON keeps the folder, for scripts that open it
    print_evaluation(_console(), summary, evaluation, show, errors)


def _note_training_lines(loaded, source, dataset, mine: bool, asked) -> None:
    """A note that the lines scored hold ones the run was trained on, which count too: an
    accuracy far above the test split's. Its own data file, or a copy (mine: named by no
    --data), is said to be; of another file (the run's with lines added, a hard set made
    without --exclude), how many of its questions the run was trained on."""
    from kanjinum.train import holds_training_lines, trained_questions_among

    if mine or holds_training_lines(loaded, dataset):
        how = "" if asked else "; --split test scores its test split alone"
        said = (f"{_escape(str(source))} is the file {_escape(run_named(loaded))} was trained "
                f"on: every line is scored, its training lines too{how}")
    else:
        seen = trained_questions_among(loaded, dataset)
        if not seen:
            return
        said = (f"{seen:,} of the {len(dataset):,} questions of {_escape(str(source))} are ones "
                f"{_escape(run_named(loaded))} was trained on: they count too")
    _console(stderr=True).print(f"[yellow]note: {said}[/]")


def print_evaluation(console, summary, evaluation, show: int, errors_only: bool) -> None:
    from rich.table import Table

    split = "the test split of " if summary.get("split") == "test" else ""
    console.print(f"run {summary['run']} on {split}{summary['data']}: [bold]"
                  f"{percent(summary['accuracy'], 3)}[/] exact match "
                  f"({summary['correct']:,} of {summary['total']:,})")
    if summary["unreadable"]:
        count = summary["unreadable"]
        console.print(f"[yellow]{count:,} question{' holds' if count == 1 else 's hold'} "
                      "characters or lengths the model cannot read; counted as wrong[/]")
    if summary.get("too_long"):
        count = summary["too_long"]
        console.print(f"[yellow]{count:,} answer{' is' if count == 1 else 's are'} longer than "
                      f"the {evaluation.answer_width} characters this model writes; counted as "
                      "wrong[/]")
    mismatched = summary.get("by_kind", {}).get(MISMATCHED)
    if mismatched:
        count = mismatched["total"]
        lines = ("1 line's answer is not its question's value" if count == 1 else
                 f"{count:,} lines' answers are not their questions' values")
        console.print(f"[yellow]{lines} (as kanjinum convert reads it): kind '{MISMATCHED}' "
                      "below[/]")
    for title, key in (("by answer length", "by_length"), ("by kind of number", "by_kind")):
        if key not in summary:
            continue
        table = Table(title=title)
        for column in (key.removeprefix("by_"), "correct", "total", "accuracy"):
            table.add_column(column, justify="right")
        for name, row in summary[key].items():
            table.add_row(name, f"{row['correct']:,}", f"{row['total']:,}",
                          percent(row['accuracy'], 2))
        console.print(table)
    rows = [i for i in range(len(evaluation.questions))
            if not errors_only or not evaluation.correct[i]]
    for i in rows[:show]:
        print_example(console, evaluation, i)
    if errors_only and show and not rows:  # else `--errors --show 20` looks as if it did nothing
        console.print(f"no misses to show: all {len(evaluation.questions):,} answers are right")


# --- attend ---------------------------------------------------------------------------------


@app.command(cls=OnceEach)
def attend(
    numerals: Annotated[Optional[list[str]], typer.Argument(
        metavar="NUMERAL", help="One or more numerals, e.g. 一億一 三兆九千億.")] = None,
    run: RunOption = None,
    out: Annotated[Optional[str], typer.Option(metavar="FILE", callback=not_an_option,
                                               help="PNG file to write. Default: "
                                                    "attention.png; with --interactive, "
                                                    "one per numeral, numbered from the "
                                                    "first free name: attention-1.png, "
                                                    "attention-2.png and on")] = None,
    interactive: Annotated[bool, typer.Option(help="Read numerals line by line until an "
                                                   "empty line (piped: to the end, blank lines "
                                                   "skipped); one PNG each (see --out).")] = False,
    threads: ThreadsOption = 1,
) -> None:
    """Answer numerals with a trained model and draw where it attends, as a heatmap PNG.

    Models without attention (seq2seq, peeky) answer too, without a heatmap."""
    from kanjinum.train import load_run

    if not numerals and not interactive:
        raise fail("give at least one numeral, e.g. kanjinum attend 一億一, or use --interactive")
    if interactive and sys.stdin is None:  # `<&-` in a script: input() failed, a traceback
        raise fail("--interactive reads numerals from the standard input, which is closed; "
                   "type them at a terminal, or pipe them in: kanjinum attend --interactive "
                   "< nums.txt")
    from kanjinum.plot import MAX_PANELS

    if numerals and len(numerals) > MAX_PANELS:
        raise fail(f"{len(numerals)} numerals; one heatmap shows at most {MAX_PANELS} (kanjinum "
                   "eval --data FILE answers any number of them)")
    from kanjinum.fileio import folder_named

    folder = out and folder_named("--out", out, "attention.png", "a PNG file")
    if folder:
        raise fail(_escape(folder))
    out = path_option(out, "--out", "the PNG file to write") or Path("attention.png")
    if out.suffix.lower() != ".png":
        raise fail(f"--out must name a .png file, not {out}")
    with user_errors(), blas_threads(threads):
        _check_folder_of(out, makes_folders=True)  # attend makes missing folders
        if numerals:  # the heatmap of the numerals given goes to --out itself
            _check_heatmap_target(out)
        loaded = load_run(chosen_run(run))
        loaded.threads = threads
        console = _console()
        _note_a_missing_font(loaded)
        if numerals:
            _refuse_paths_for_numerals(loaded, numerals)
            _attend_once(console, loaded, [_typed_argument(n) for n in numerals], out)
        if interactive:
            _attend_interactive(console, loaded, out)


def _refuse_paths_for_numerals(loaded, numerals: list[str]) -> None:
    """A folder or file among the numerals, which the model cannot read: `attend --run runs/*
    一` (the shell's glob gives --run its first match and the others as numerals), `attend
    runs/a 一` (--run left out) or `attend nums.txt` were told that '/' and the name's letters
    are not characters this model reads, as if the name were a numeral mistyped."""
    for numeral in numerals:
        if loaded.why_unreadable(numeral) is None or not os.path.lexists(numeral):
            continue
        if Path(numeral).is_dir():
            raise fail(_escape(f"{shell_word(numeral)} is a folder here, not a numeral: name a "
                               "run with --run, one folder (a glob such as runs/* names all "
                               "of them)"))
        raise fail(_escape(f"{shell_word(numeral)} is a file here, not a numeral: to answer "
                           "the numerals of a file, one a line, kanjinum attend --interactive "
                           f"< {shell_word(numeral)}"))


def _typed_argument(text: str) -> str:
    """A numeral from the command line as typed in UTF-8, whatever the locale decoded it as
    (see read_as_utf8); paths are left alone, the system reads them back to the same bytes."""
    return read_as_utf8(text, sys.getfilesystemencoding())


def chosen_run(run: str | None, say_which: bool = True) -> Path:
    """--run as a folder. Left out, one line (on stderr, apart from the answers) says which
    run was taken and why: attend named none, and from a subfolder of a project, or inside
    runs/, the shipped model answered without a word."""
    from kanjinum.train import default_run, resolve_run

    if run is not None:
        return resolve_run(run)
    folder, why = default_run()
    if say_which:
        _console(stderr=True).print(_escape(f"no --run: {why}"), style="dim")
    return folder


def run_named(loaded) -> str:
    """How a message names a loaded run: its folder as given, but the shipped model as
    --run names it. Installed by `pip install .`, its folder lies deep in site-packages, and
    eval's first line read `run /home/u/proj/.venv/lib/python3.12/site-packages/kanjinum/
    default_model on …`, a path the user never typed and need not know."""
    from kanjinum.train import DEFAULT_RUN

    if Path(loaded.path).resolve() == DEFAULT_RUN.resolve():
        return "default (the shipped model)"
    return str(loaded.path)


def path_option(value: str | None, option: str, what: str) -> Path | None:
    """A file option's value as a Path. An empty one (a script's unset variable) is a mistake:
    Path("") would be the current folder."""
    if value is None:
        return None
    if not value:
        raise fail(f"{option} is empty: name {what}")
    from kanjinum.fileio import home_expanded

    return Path(home_expanded(value))


# The files gen-data writes by default, and the command that makes each: kanjinum installed
# with pip, outside a checkout, brings none of them, and the README's commands name them.
GEN_DATA_MAKES = {
    Path("data/kanji.txt"): "kanjinum gen-data",
    Path("data/hard.txt"): "kanjinum gen-data --task hard --exclude data/kanji.txt",
    Path("data/addition.txt"): "kanjinum gen-data --task addition",
}


def check_data_file(path: Path | None) -> None:
    """A missing data file that gen-data makes is named with the command that makes it."""
    if path is None or os.path.lexists(path):
        return
    made_by = GEN_DATA_MAKES.get(Path(os.path.normpath(path)))
    if made_by is not None:
        raise fail(_escape(f"data file {path} not found; make it with {made_by}"))


def _check_folder_of(out: Path, makes_folders: bool = False) -> None:
    """--out can be written, checked before any work is spent on what goes in it."""
    from kanjinum.fileio import why_unwritable

    why = why_unwritable(out, makes_folders)
    if why is not None:
        raise OptionError(f"--out {out}: {why}")


def _check_heatmap_target(out: Path) -> None:
    """Heatmaps replace earlier heatmaps (kanjinum marks them), never another file of the
    user's: not their own PNG images, not a run's curve.png."""
    from kanjinum.fileio import png_text
    from kanjinum.plot import HEATMAP_MARK, MARK_KEY

    if not out.exists():
        return
    text = png_text(out) if out.is_file() else None
    if text is None:
        raise OptionError(f"{out} exists and is not a PNG image; choose another --out")
    if text.get(MARK_KEY) != HEATMAP_MARK:
        raise OptionError(f"{out} exists and is not a heatmap of kanjinum attend (attend "
                          "replaces only those); choose another --out")


def _attend_once(console, loaded, numerals: list[str], out: Path,
                 say_no_heatmap: bool = True) -> None:
    from kanjinum.infer import answer_numerals
    from kanjinum.plot import attention_heatmaps

    results = answer_numerals(loaded, numerals)
    for r in results:
        print_answer(console, r)
    if not loaded.model.has_attention:  # answers are still what the user asked for
        if not say_no_heatmap:
            return
        console.print(f"(no heatmap: {run_named(loaded)} is a {loaded.kind} model, which has no "
                      "attention; train one with --model attention to see where it looks)")
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # the font's absence: said once, in _note_a_missing_font
        warnings.simplefilter("ignore", RuntimeWarning)
        attention_heatmaps([r.panel() for r in results], out)
    console.print(f"heatmap written to [bold]{out}[/]")


def _note_a_missing_font(loaded) -> None:
    """Without the Japanese font the heatmaps label each kanji by its code point: a line on
    stderr says why, once, and how to get the font back."""
    from kanjinum.plot import missing_japanese_font

    why = loaded.model.has_attention and missing_japanese_font()
    if why:
        _console(stderr=True).print(_escape(
            f"note: the heatmap labels each kanji by its code point (U+4E00 for 一): {why}"),
            style="yellow")


def _stdin_is_a_terminal() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def _attend_interactive(console, loaded, out: Path) -> None:
    from kanjinum.infer import question_word

    stem = out.with_suffix("")
    # Typed at a terminal: a prompt, and an empty line ends. Piped (a file of numerals): no
    # prompt glued to each answer, and blank lines are skipped to the end of the input (one
    # ended it, and the lines after it were dropped without a word).
    typed = _stdin_is_a_terminal()
    prompt = f"{question_word(loaded)} (empty line to stop)> " if typed else ""
    if getattr(sys.stdin, "errors", None) == "strict" and hasattr(sys.stdin, "reconfigure"):
        # PYTHONIOENCODING=ascii (or =utf-8): a byte the encoding cannot read ended input()
        # in a UnicodeDecodeError traceback; as stand-ins, read_as_utf8 or not_utf8 take it
        sys.stdin.reconfigure(errors="surrogateescape")
    count = 0
    asked = refused = 0
    first = True
    while True:
        try:
            line = input(prompt)
        except EOFError:  # Ctrl-D: the prompt's line is ended, as the shell's next one needs
            if typed:
                console.print()
            break
        except KeyboardInterrupt:  # Ctrl-C: the same, and 130 (typer's own exit left it unended)
            if typed:
                console.print()
            raise typer.Exit(code=130) from None
        except SystemExit:  # SIGTERM (_end_cleanly_on_sigterm): the same, with its 143
            if typed:
                console.print()
            raise
        line = read_as_utf8(line, sys.stdin.encoding or "utf-8")
        if first:
            # a file saved as "UTF-8 with BOM" (Windows Notepad) starts with U+FEFF, invisible:
            # its first numeral was refused for a character nobody typed; data files drop it too
            line, first = line.removeprefix("\ufeff"), False
        if not line.strip():
            if typed:
                break
            continue
        count += 1
        asked += 1
        while Path(f"{stem}-{count}.png").exists():  # never over an earlier session's files
            count += 1
        try:
            # no heatmap: said after the first answer, not after every one (round 40)
            _attend_once(console, loaded, [line], Path(f"{stem}-{count}.png"),
                         say_no_heatmap=asked - refused == 1)
        except (VocabError, KanjinumError) as exc:
            # on stderr: piped, the answers on stdout stay answers only
            _console(stderr=True).print(f"[bold red]error:[/] {_escape(str(exc))}")
            refused += 1
            count -= 1
    if refused and not typed:
        # A file of numerals piped in is a script's input: a line it could not answer is a
        # failure to report in the exit status (it was 0 even when every line was refused).
        verb = "was" if refused == 1 else "were"  # "1 of the 3 … was refused"
        raise fail(f"{refused:,} of the {asked:,} {question_word(loaded)}s read {verb} refused "
                   "(above)")


def print_answer(console, result) -> None:
    from rich.markup import escape

    mark = {True: "[green]☑[/]", False: "[red]☒[/]", None: "?"}[result.correct]
    if isinstance(result.truth, str):  # no rule reads the task: its data file's line
        truth = f"T {escape(result.truth)} (its data file's line)\n"
    elif result.truth is not None:
        truth = f"T {escape(str(result.truth))}\n"
    elif result.truth_error:
        why = result.truth_error.removeprefix("parse_kanji: ")  # the parser's own name: noise here
        truth = f"T (the parser cannot read it: {escape(why)})\n"
    else:  # not a model of numerals: no parser to ask
        truth = ""
    answer = escape(result.answer) if result.answer else "(nothing)"  # as the heatmap's title
    console.print(f"Q {escape(result.question)}\n{truth}{mark} {answer}\n---")


@app.command(cls=OnceEach, context_settings={"allow_extra_args": True,
                                             "ignore_unknown_options": True,
                                             "help_option_names": []})
def bench(ctx: typer.Context) -> None:
    """Time training and decoding of every model against this machine's sgemm and PyTorch.

    All options go to the benchmark, and kanjinum bench --help lists them (--models, --data,
    --modes, --iters, --threads, --json, --quick, ...)."""
    from kanjinum.bench import main as bench_main

    with user_errors():
        try:
            bench_main(list(ctx.args))
        except SystemExit as exc:  # argparse after --help
            raise typer.Exit(code=exc.code if isinstance(exc.code, int) else USAGE) from None


def main() -> None:
    if sys.stdout is None:
        _refuse_a_closed_output()
    _escape_what_the_output_cannot_encode()
    _end_cleanly_on_sigterm()
    _quiet_matplotlibs_cache_fallback()
    sys.stdout = _NamedOutput(sys.stdout)
    try:
        app()
    except OSError as exc:  # outside a command's user_errors: convert, eval's tables, --help
        if exc.filename != _NamedOutput.NAME:
            raise
        _discard_the_output()
        fail(_escape(f"{exc.strerror}: {exc.filename}"), RUNTIME)
        sys.exit(RUNTIME)


def _refuse_a_closed_output() -> None:
    """`kanjinum eval >&-` (a script that closes the standard output): Python sets sys.stdout
    to None, and every command ended in an AttributeError traceback at its first print, exit
    120, gen-data after writing its file. Every command prints, so it is refused before any
    work, with exit 1 as a full disk under `> report.txt` gets."""
    if sys.stderr is None:  # nothing left to tell
        sys.exit(RUNTIME)
    fail("the standard output is closed (>&-), and kanjinum prints there; to throw away "
         "what it prints, use > /dev/null", RUNTIME)
    sys.exit(RUNTIME)


def _end_cleanly_on_sigterm() -> None:
    """SIGTERM (`timeout`, `kill`, a closing session) as an exit, 143, that unwinds as Ctrl-C
    does: its default killed gen-data, attend and bench in the middle of a write, leaving the
    hidden temporary file beside the output (.kanji.txt.x1y2.tmp, up to 50 MB). train keeps
    its own handler while it trains: it stops at the next iteration and saves."""
    import signal

    def terminated(signum, frame):
        raise SystemExit(128 + signum)

    try:
        signal.signal(signal.SIGTERM, terminated)
    except ValueError:  # not the main thread
        pass


def _quiet_matplotlibs_cache_fallback() -> None:
    """HOME read-only, missing or a file (a container, a CI runner): matplotlib, imported by
    attend and train, cannot make ~/.config/matplotlib, uses a temporary folder instead (and
    removes it at exit), and says so in two long warnings on stderr, advice about MPLCONFIGDIR
    that read as a failure of kanjinum's. Only those records of its logger are dropped; a
    notebook using the library keeps them."""
    import logging

    logging.getLogger("matplotlib").addFilter(
        lambda record: record.funcName != "_get_config_or_cache_dir")


def _discard_the_output() -> None:
    """Points the standard output at /dev/null: what is left in its buffer then goes nowhere,
    so that the exit's flush cannot fail again (and print Python's 'Exception ignored')."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real stdout (a test runner's)
        pass


class _NamedOutput:
    """sys.stdout, whose failed writes name it: a full disk under `kanjinum eval > report.txt`
    (or `> /dev/full`) raised the system's bare OSError, with no file name, through every
    command: a traceback from convert, eval, gen-data and --help, a nameless 'error: No space
    left on device' from train and attend. A reader that stopped early (BrokenPipeError) is
    left to the exit status 141."""

    NAME = "the standard output"

    def __init__(self, stream):
        self._stream = stream

    def write(self, text):
        return self._failing_named(self._stream.write, text)

    def flush(self):
        return self._failing_named(self._stream.flush)

    def _failing_named(self, method, *args):
        try:
            return method(*args)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, self.NAME) from None

    def __getattr__(self, name):  # isatty, fileno, encoding, buffer, …: the stream's own
        return getattr(self._stream, name)


def _escape_what_the_output_cannot_encode() -> None:
    """An output whose encoding has no kanji (PYTHONIOENCODING=ascii, a Latin-1 locale,
    Windows' cp1252 under `> out.txt`): Python's strict encoder ended every command that prints
    a numeral, and --help (三兆九千億 in its first line), in a UnicodeEncodeError traceback,
    a training after its first epoch. Such characters are written as \\u escapes, as Python
    writes them on stderr, and a note at the end says why and how to see them."""
    import codecs

    codecs.register_error("kanjinum-escape", _escape_unencodable)
    # stderr escapes as Python's own does, without the note: an error stays one line
    for stream, errors in ((sys.stdout, "kanjinum-escape"), (sys.stderr, "backslashreplace")):
        encoding = getattr(stream, "encoding", None)
        try:
            utf = codecs.lookup(encoding).name.startswith("utf") if encoding else True
        except LookupError:
            utf = True
        if not utf and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors=errors)
        elif stream is sys.stdout and getattr(stream, "errors", "") == "strict" and hasattr(
                stream, "reconfigure"):
            # A file name that is not UTF-8 (café.txt from a Latin-1 system) is a str of
            # stand-ins, which a strict UTF-8 output (en_US.UTF-8, PYTHONIOENCODING=utf-8)
            # refused: `gen-data --out` of one wrote it, then ended in a traceback. Its bytes
            # are written back as they came, as ls writes them.
            stream.reconfigure(errors="surrogateescape")


_escaped_in: list[str] = []  # the encoding that had to escape a character, once noted


def _escape_unencodable(exc: UnicodeError):
    import atexit
    import codecs

    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    try:  # stand-ins for bytes the locale could not decode (a path typed in it) go back as
        return codecs.lookup_error("surrogateescape")(exc)  # they came, as before
    except UnicodeEncodeError:
        pass
    if not _escaped_in:
        _escaped_in.append(exc.encoding)
        atexit.register(_note_the_escapes)
    return codecs.backslashreplace_errors(exc)


def _note_the_escapes() -> None:
    try:
        sys.stderr.write(
            f"note: this output's encoding, {_escaped_in[0]}, has no kanji (nor some other "
            "characters kanjinum writes): they were written as \\u escapes; to see them, set "
            "PYTHONIOENCODING=utf-8 or use a UTF-8 locale (e.g. LANG=C.UTF-8)\n")
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):  # no stderr left to tell
        pass


if __name__ == "__main__":
    main()
