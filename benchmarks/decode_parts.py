"""Where batched decoding's time goes (docs/performance.md, eighth session).

Times `Run.predict` (answers only, one BLAS thread) over the kanji test split, and inside it the
encoder (`_encode_for_decoding`, every distinct state once) and the decoder LSTM's steps
(`LSTMStepper.step`); the rest is attention, the output layer and the bookkeeping of the
decoder loop. Each part is given in µs per question and, with the LSTM rows that
`decode_bound.py` counts, in µs per row. Timing the parts adds a few calls per step.

    .venv/bin/python benchmarks/decode_parts.py /tmp/perf/runs/skip256 --data /tmp/perf/kanji.txt
"""

import argparse
import statistics
import time

from threadpoolctl import threadpool_limits

from decode_bound import count_rows, run_and_test_split
from kanjinum import layers as L


def timed_parts(run, questions, repeats: int) -> dict:
    """Seconds per pass of the whole `predict`, its encoder and its decoder LSTM steps
    (medians over the passes)."""
    spent = {"encoder": 0.0, "decoder LSTM": 0.0}
    model = run.model
    encode, step = model._encode_for_decoding, L.LSTMStepper.step

    def timed_encode(*args):
        start = time.perf_counter()
        result = encode(*args)
        spent["encoder"] += time.perf_counter() - start
        return result

    def timed_step(self, x):
        start = time.perf_counter()
        result = step(self, x)
        spent["decoder LSTM"] += time.perf_counter() - start
        return result

    model._encode_for_decoding = timed_encode
    L.LSTMStepper.step = timed_step
    passes = []
    try:
        run.predict(questions, attention=False)  # warm-up
        for _ in range(repeats):
            spent.update({part: 0.0 for part in spent})
            start = time.perf_counter()
            run.predict(questions, attention=False)
            passes.append({"total": time.perf_counter() - start, **spent})
    finally:
        del model._encode_for_decoding
        L.LSTMStepper.step = step
    return {part: statistics.median(p[part] for p in passes) for part in passes[0]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="a trained run folder of an attention model (or 'default')")
    parser.add_argument("--data", default="data/kanji.txt", help="kanji data file")
    parser.add_argument("--repeats", type=int, default=5, help="timed passes (median)")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.exit(2, f"error: --repeats must be at least 1, not {args.repeats}\n")
    run, test = run_and_test_split(parser, args.run, args.data)  # 'e.g. runs/r1', not --run
    if run.kind != "attention":
        parser.exit(2, f"error: {run.path} is a {run.kind} model; this times an attention "
                       "model's decoding\n")
    questions = [q for q in test.questions if run.why_unreadable(q) is None]
    if not questions:
        parser.exit(2, f"error: {run.path} reads none of the test questions of {args.data}\n")
    with threadpool_limits(1):
        rows = count_rows(run, questions)
        seconds = timed_parts(run, questions, args.repeats)
    n = len(questions)
    seconds["rest of the decoder"] = (seconds["total"] - seconds["encoder"]
                                      - seconds["decoder LSTM"])
    print(f"{run.path}: {n:,} test questions, {n / seconds['total']:,.0f} questions/s "
          f"(parts timed), one thread")
    for part in ("encoder", "decoder LSTM", "rest of the decoder", "total"):
        per_question = seconds[part] / n * 1e6
        counted = {"encoder": rows["encoder"], "decoder LSTM": rows["decoder"]}.get(part)
        per_row = f", {seconds[part] / counted * 1e6:5.1f} µs per LSTM row" if counted else ""
        print(f"  {part:20s} {per_question:6.1f} µs per question{per_row}")


if __name__ == "__main__":
    main()
