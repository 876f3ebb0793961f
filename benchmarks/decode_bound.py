"""How fast batched decoding could go on this machine with numpy (docs/performance.md).

Counts the LSTM rows that a trained seq2seq, peeky or attention run's decoding of the kanji
test split computes (encoder: each distinct state once, `LSTM.infer`; decoder: each live row at
each step; a bi-attention run's encoder does not run `LSTM.infer`: it is refused), prices each
row at this machine's sgemm rate for its product, (n x (D + 1 + H)) @ ((D + 1 + H) x 4H), and at numpy's
float32 `exp` for its 5H activations, both timed beside the decoding, and prints the rate those
two alone would allow against the rate measured. One BLAS thread.

    .venv/bin/python benchmarks/decode_bound.py /tmp/perf/runs/skip256 --data /tmp/perf/kanji.txt
"""

import argparse
import statistics

import numpy as np
from threadpoolctl import threadpool_limits

from kanjinum import data as D
from kanjinum import layers as L
from kanjinum.bench import median_seconds
from kanjinum.errors import KanjinumError
from kanjinum.train import load_run, resolve_run

ROWS = 256  # a decoder group (models.DECODER_ROWS): the size of the priced product


def count_rows(run, questions) -> dict:
    """LSTM rows computed by one `predict` over the questions, encoder and decoder apart."""
    counted = {"encoder": 0, "decoder": 0}
    step_states, step = L.LSTM._step_states, L.LSTMStepper.step

    def counting_step_states(W, embed, states, next_states, before, read, work):
        counted["encoder"] += int(np.count_nonzero(read != len(embed)))
        return step_states(W, embed, states, next_states, before, read, work)

    def counting_step(self, x):
        counted["decoder"] += len(x)
        return step(self, x)

    L.LSTM._step_states = staticmethod(counting_step_states)
    L.LSTMStepper.step = counting_step
    try:
        run.predict(questions, attention=False)
    finally:
        L.LSTM._step_states, L.LSTMStepper.step = staticmethod(step_states), step
    return counted


def row_prices(K: int, H: int) -> tuple[float, float]:
    """Seconds per row: the step's product at sgemm speed, and 5H float32 exps."""
    rng = np.random.default_rng(0)
    xh = rng.standard_normal((ROWS, K), dtype=np.float32)
    W = rng.standard_normal((4, K, H), dtype=np.float32)
    gates = np.empty((4, ROWS, H), dtype=np.float32)
    values = rng.standard_normal((5, ROWS, H), dtype=np.float32) * 2
    out = np.empty_like(values)
    product = median_seconds(lambda: np.matmul(xh, W, out=gates), 15) / ROWS
    exp = median_seconds(lambda: np.exp(values, out=out), 15) / ROWS
    return product, exp


def run_and_test_split(parser, folder: str, data: str):
    """The trained run and its test split of data, or one line and status 2 (decode_parts.py
    reads them so too)."""
    try:
        run = load_run(resolve_run(folder))
        return run, D.split_for_training(D.read_dataset(data), run.train.split_seed)[1]
    except KanjinumError as exc:  # the run is the script's argument, not an option --run
        parser.exit(2, f"error: {exc}\n".replace("e.g. --run ", "e.g. "))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="a trained run folder (or 'default')")
    parser.add_argument("--data", default="data/kanji.txt", help="kanji data file")
    parser.add_argument("--limit", type=int, help="decode only the first N test questions")
    parser.add_argument("--repeats", type=int, default=3, help="decoding passes (median)")
    args = parser.parse_args(argv)
    for name in ("limit", "repeats"):  # one line, as the other mistakes (not usage + error)
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.exit(2, f"error: --{name} must be at least 1, not {getattr(args, name)}\n")
    run, test = run_and_test_split(parser, args.run, args.data)
    if run.kind == "bi-attention":
        # its encoder runs LSTM.forward both ways, H/2 wide, not LSTM.infer: no row of it would
        # be counted, and the bound came out hundreds of times the measured rate
        parser.exit(2, f"error: {run.path} is a bi-attention run: its encoder is not counted "
                       "here; the bound is for seq2seq, peeky and attention runs\n")
    questions = [q for q in test.questions if run.why_unreadable(q) is None][:args.limit]
    if not questions:
        parser.exit(2, f"error: {run.path} reads none of the test questions of {args.data}\n")
    # Both LSTMs step [x_t, 1, h] @ [Wx; b; Wh], x_t an embedded id: peeky's decoder input
    # also holds the encoder state, but its product is made once per question (LSTMStepper)
    H = run.model.config.hidden
    K = run.model.config.wordvec + 1 + H
    with threadpool_limits(1):
        rows = count_rows(run, questions)
        prices = [row_prices(K, H)]
        seconds = median_seconds(lambda: run.predict(questions, attention=False), args.repeats)
        prices.append(row_prices(K, H))
    product = statistics.fmean(p[0] for p in prices)
    exp = statistics.fmean(p[1] for p in prices)
    n = len(questions)
    per_question = {part: count / n for part, count in rows.items()}
    total = sum(per_question.values())
    print(f"{run.path}: {run.kind}, hidden {H}, {'masked' if run.mask else 'unmasked'}; "
          f"{n:,} test questions")
    print(f"  LSTM rows per question: encoder {per_question['encoder']:.1f}, "
          f"decoder {per_question['decoder']:.1f}, together {total:.1f}")
    print(f"  a row's product ({ROWS}x{K})@({K}x{4 * H}) at sgemm speed: {product * 1e6:.2f} us "
          f"({2 * K * 4 * H / product / 1e9:.1f} GFLOP/s); its {5 * H} exps: "
          f"{exp * 1e6:.2f} us ({exp / (5 * H) * 1e9:.2f} ns each)")
    bound_products = 1 / (total * product)
    bound = 1 / (total * (product + exp))
    measured = n / seconds
    print(f"  products alone would allow {bound_products:,.0f} questions/s; products and exps "
          f"{bound:,.0f}/s")
    print(f"  measured: {measured:,.0f} questions/s ({100 * measured / bound:.0f} % of the "
          f"products-and-exps bound)")
    return {"rows_per_question": per_question, "product_s": product, "exp_s": exp,
            "bound_products": bound_products, "bound": bound, "measured": measured}


if __name__ == "__main__":
    main()
