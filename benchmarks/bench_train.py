"""Training and decoding speed of kanjinum's models beside PyTorch: `kanjinum bench` as a script.

    .venv/bin/python benchmarks/bench_train.py                      # everything, one thread
    .venv/bin/python benchmarks/bench_train.py --models attention --data kanji \
        --kanji /tmp/perf/kanji.txt --json /tmp/perf/bench.json
    .venv/bin/python benchmarks/bench_train.py --quick              # seconds: does it run?

The PyTorch reference (benchmarks/torch_reference.py) runs in the same process when torch is
installed (.venv/bin/pip install torch==2.13.0); without it the table says so and carries on.
See `--help` and docs/performance.md.
"""

import sys

from kanjinum.bench import main
from kanjinum.errors import DataError, KanjinumError, OptionError, RunError, VocabError

if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except KanjinumError as error:  # a bad option or run folder: one line, as from the CLI,
        print(f"error: {error}", file=sys.stderr)  # and its status: 2 for a usage mistake
        sys.exit(2 if isinstance(error, (DataError, OptionError, RunError, VocabError)) else 1)
