"""Print a markdown table of test accuracy and seconds per epoch for one or more run folders.

    python benchmarks/results_table.py runs/add-seq2seq runs/add-peeky
"""

import argparse
import json
from pathlib import Path


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders holding history.json")
    args = parser.parse_args(argv)
    histories = {run: json.loads((run / "history.json").read_text(encoding="utf-8"))
                 for run in args.runs}
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
