"""`python -m kanjinum` and the `kanjinum` command: the CLI, started so that a Ctrl-C while its
libraries load (numpy, typer, rich: a fraction of a second) ends quietly, as later ones do."""

import sys

_interrupted = False  # a Ctrl-C that Python swallowed in a callback while loading


def _note_lost_interrupt(unraisable) -> None:
    """sys.unraisablehook: a Ctrl-C that lands in one of importlib's clean-up callbacks cannot
    be raised there, so Python prints 'Exception ignored in ...' with a traceback and loads on.
    It is kept instead, for main() to stop on; anything else is reported as Python would."""
    global _interrupted
    if isinstance(unraisable.exc_value, KeyboardInterrupt):
        _interrupted = True
        return
    sys.__unraisablehook__(unraisable)


def main() -> None:
    sys.unraisablehook = _note_lost_interrupt
    try:
        from kanjinum.cli import main as cli_main
    except KeyboardInterrupt:
        sys.exit(130)  # 128 + SIGINT, as a shell reports it
    if _interrupted:
        sys.exit(130)
    try:
        cli_main()
    except KeyboardInterrupt:  # while typer reads the commands, before a command's own handling
        sys.exit(130)


if __name__ == "__main__":
    main()
