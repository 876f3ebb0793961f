"""Print a markdown table of test accuracy and seconds per epoch for one or more run folders.

    python benchmarks/results_table.py runs/add-seq2seq runs/add-peeky
"""

import argparse
import json
import sys
from pathlib import Path


def read_history(run: Path) -> list[dict]:
    """A run's history.json; a folder without one (a typo, a run still before its first
    epoch) ends the script in one line, as kanjinum's own commands do, not a traceback."""
    path = run / "history.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        what = "no such folder" if not run.exists() else "no history.json in it"
        fail(f"{run}: {what}; name run folders, e.g. runs/add-peeky")
    except (OSError, ValueError) as exc:
        fail(f"cannot read {path}: {exc}")


def fail(message: str) -> None:
    """One line and status 2, a usage mistake, as from kanjinum."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders holding history.json")
    args = parser.parse_args(argv)
    histories = {run: read_history(run) for run in args.runs}
    epochs = max(len(h) for h in histories.values())
    names = [run.name for run in histories]
    print("| epoch | " + " | ".join(f"{n} acc | {n} s" for n in names) + " |")
    print("| ---: | " + " | ".join("---: | ---:" for _ in names) + " |")
    for e in range(epochs):
        cells = []
        for history in histories.values():
            if e < len(history):
                cells.append(f"{100 * history[e]['accuracy']:.2f}% | {history[e]['seconds']:.1f}")
            else:
                cells.append(" | ")
        print(f"| {e + 1} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
