"""Time kanjinum's to_kanji / parse_kanji against kanjize 1.6.1 on the data generator's numbers.

    .venv/bin/python benchmarks/bench_numerals.py              # 100000 numbers, about a minute
    .venv/bin/python benchmarks/bench_numerals.py --n 20000 --json bench.json

Numbers are drawn as the data generator draws them: d uniform in 5..13 digits, then n
uniform in 1..10**d - 1. Both libraries are timed in the same run on the same inputs, each
measurement repeated and the median kept, because timings on a small shared machine are noisy.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import platform
import random
import statistics
import time
from collections.abc import Callable, Sequence

from kanjinum.numerals import parse_kanji, to_kanji

REPEATS = 5


def draw_numbers(count: int, seed: int, min_digits: int = 5, max_digits: int = 13) -> list[int]:
    """Draw like the data generator: a digit count d in 5..13, then 1 <= n < 10**d."""
    rng = random.Random(seed)
    numbers = []
    for _ in range(count):
        digits = rng.randint(min_digits, max_digits)
        numbers.append(rng.randint(1, 10**digits - 1))
    return numbers


def median_us_per_call(function: Callable, inputs: Sequence, repeats: int = REPEATS) -> float:
    """Median over `repeats` passes of the time per call, in microseconds."""
    seconds_per_call = []
    for _ in range(repeats):
        start = time.perf_counter()
        for value in inputs:
            function(value)
        seconds_per_call.append((time.perf_counter() - start) / len(inputs))
    return statistics.median(seconds_per_call) * 1e6


def import_kanjize():
    """kanjize is only a bench extra (pip install kanjize==1.6.1); None when missing."""
    try:
        import kanjize
    except ImportError:
        return None
    return kanjize


def report_disagreements(numbers: Sequence[int], texts: Sequence[str], kanjize) -> int:
    """Check both libraries write and read the sample alike, before timing them."""
    written_apart = [
        (n, ours, kanjize.number2kanji(n))
        for n, ours in zip(numbers, texts)
        if kanjize.number2kanji(n) != ours
    ]
    read_wrong = [(n, text) for n, text in zip(numbers, texts) if kanjize.kanji2number(text) != n]
    print(f"kanjize writes {len(written_apart)} of {len(numbers)} numbers differently from kanjinum")
    for n, ours, theirs in written_apart[:3]:
        print(f"  {n}: kanjinum {ours}  kanjize {theirs}")
    print(f"kanjize misreads {len(read_wrong)} of {len(numbers)} kanjinum numerals")
    for n, text in read_wrong[:3]:
        print(f"  {text}: expected {n}, kanjize read {kanjize.kanji2number(text)}")
    return len(written_apart) + len(read_wrong)


def time_both(label: str, numbers: Sequence[int], kanjize) -> dict[str, dict]:
    """Per direction: median µs per call for each library, and kanjize / kanjinum.

    Both parsers read the same text, kanjinum's kanji-style output for `numbers`.
    """
    texts = [to_kanji(n) for n in numbers]
    contenders = {
        "to_kanji": (to_kanji, kanjize.number2kanji if kanjize else None, numbers),
        "parse_kanji": (parse_kanji, kanjize.kanji2number if kanjize else None, texts),
    }
    results = {}
    for direction, (ours, theirs, inputs) in contenders.items():
        row = {"kanjinum_us": median_us_per_call(ours, inputs)}
        if theirs is not None:
            row["kanjize_us"] = median_us_per_call(theirs, inputs)
            row["speedup"] = row["kanjize_us"] / row["kanjinum_us"]
        results[f"{direction} ({label})"] = row
    return results


def print_table(results: dict[str, dict]) -> None:
    print(f"\n{'':<28}{'kanjinum µs':>12}{'kanjize µs':>12}{'speed-up':>10}")
    for name, row in results.items():
        theirs = f"{row['kanjize_us']:12.2f}" if "kanjize_us" in row else f"{'-':>12}"
        speedup = f"{row['speedup']:9.1f}x" if "speedup" in row else f"{'-':>10}"
        print(f"{name:<28}{row['kanjinum_us']:12.2f}{theirs}{speedup}")
    print(f"median of {REPEATS} passes, kanji style; speed-up = kanjize time / kanjinum time")


def time_gen_data() -> dict:
    """The default `kanjinum gen-data`: in-process (generate + write) and as a whole command,
    interpreter start-up and imports included; medians of 5 and 3 runs."""
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    from kanjinum import data as D

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "kanji.txt"
        inside = []
        for _ in range(REPEATS):
            started = time.perf_counter()
            D.write_dataset(D.generate_kanji(50_000, hard_share=0.3, include_closed=True), out,
                            force=True)
            inside.append(time.perf_counter() - started)
        command = [sys.executable, "-m", "kanjinum", "gen-data", "--out", str(out), "--force"]
        whole = []
        for _ in range(3):
            started = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            whole.append(time.perf_counter() - started)
    figures = {"in_process_s": statistics.median(inside), "command_s": statistics.median(whole)}
    print(f"\nkanjinum gen-data (50,000 lines): {figures['in_process_s']:.2f} s to generate and "
          f"write, {figures['command_s']:.2f} s for the whole command (start-up included)")
    return figures


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="numbers to draw (default 100000)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the draw (default 0)")
    parser.add_argument("--json", metavar="PATH", help="also write the figures to this JSON file")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    numbers = draw_numbers(args.n, args.seed)
    # The 13-digit draw is the worst case the data generator produces.
    longest = draw_numbers(args.n, args.seed, min_digits=13)
    print(f"{args.n} numbers, 5..13 digits, seed {args.seed}; Python {platform.python_version()}")

    kanjize = import_kanjize()
    disagreements = None
    if kanjize is None:
        print("kanjize is not installed (pip install kanjize==1.6.1): timing kanjinum alone")
    else:
        disagreements = report_disagreements(numbers, [to_kanji(n) for n in numbers], kanjize)

    results = time_both("5..13 digits", numbers, kanjize)
    results.update(time_both("13 digits", longest, kanjize))
    print_table(results)
    gen_data = time_gen_data()

    if args.json:
        summary = {
            "n": args.n,
            "seed": args.seed,
            "repeats": REPEATS,
            "python": platform.python_version(),
            # kanjize 1.6.1 still reports 1.6.0 in its own __version__; ask the installer.
            "kanjize": importlib.metadata.version("kanjize") if kanjize else None,
            "disagreements": disagreements,
            "results": results,
            "gen_data": gen_data,
        }
        with open(args.json, "w", encoding="utf-8") as file:
            json.dump(summary, file, indent=2)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
