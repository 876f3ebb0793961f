"""`python -m kanjinum` and the `kanjinum` command: the CLI, started so that a Ctrl-C while its
libraries load (numpy, typer, rich: a fraction of a second) ends quietly, as later ones do."""

import sys


def main() -> None:
    try:
        from kanjinum.cli import main as cli_main
    except KeyboardInterrupt:
        sys.exit(130)  # 128 + SIGINT, as a shell reports it
    cli_main()


if __name__ == "__main__":
    main()
