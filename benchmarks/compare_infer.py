"""`LSTM.infer` of this checkout against another checkout's, in one process, alternated.

Loads the other checkout's kanjinum/layers.py beside this one, checks that both give the same
states for the encoder of a trained run over the kanji test split (batches of 1000 sorted by
length, as `Run.predict` makes them), then times the two in turn (docs/performance.md):

    git worktree add /tmp/other COMMIT
    .venv/bin/python benchmarks/compare_infer.py /tmp/other /tmp/perf/runs/skip256 \
        --data /tmp/perf/kanji.txt
"""

import argparse
import importlib.util
import statistics
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from kanjinum import data as D
from kanjinum.train import DECODE_BATCH, load_run, resolve_run


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("other", help="the other checkout (its kanjinum/layers.py is loaded)")
    parser.add_argument("run", help="a trained run folder (or 'default')")
    parser.add_argument("--data", default="data/kanji.txt", help="kanji data file")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--limit", type=int, help="only the first N test questions")
    args = parser.parse_args(argv)

    path = Path(args.other) / "kanjinum" / "layers.py"
    spec = importlib.util.spec_from_file_location("other_layers", path)
    other = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(other)
    run = load_run(resolve_run(args.run))
    test = D.split_for_training(D.read_dataset(args.data), run.train.split_seed)[1]
    questions = [q for q in test.questions if run.why_unreadable(q) is None][:args.limit]
    lstm = run.model.layers["encoder.lstm"]
    embed = run.model.layers["encoder.embed"].params[0]
    theirs = other.LSTM(*lstm.params)
    xs = run.vocab.encode(questions, run.question_width)
    lengths = np.array([len(q) for q in questions])
    order = np.argsort(-lengths, kind="stable")
    batches = [run.inputs(xs[rows], lengths[rows])
               for rows in (order[i:i + DECODE_BATCH] for i in range(0, len(order), DECODE_BATCH))]

    def seconds(layer):
        started = time.perf_counter()
        for batch_xs, mask in batches:
            layer.infer(batch_xs, embed, mask)
        return time.perf_counter() - started

    with threadpool_limits(1):
        for batch_xs, mask in batches:
            ours, other_states = lstm.infer(batch_xs, embed, mask), theirs.infer(batch_xs, embed, mask)
            if not all(np.array_equal(a, b) for a, b in zip(ours, other_states)):
                raise SystemExit("the two give different states")
        times = [(seconds(theirs), seconds(lstm)) for _ in range(args.repeats)]
    other_s = statistics.median(t[0] for t in times)
    this_s = statistics.median(t[1] for t in times)
    ratio = statistics.median(t[0] / t[1] for t in times)
    print(f"{len(questions):,} questions, {run.path}: other {other_s * 1e3:.1f} ms, "
          f"this {this_s * 1e3:.1f} ms, other/this {ratio:.3f} (medians of {args.repeats})")
    return {"other_s": other_s, "this_s": this_s, "ratio": ratio}


if __name__ == "__main__":
    main()
