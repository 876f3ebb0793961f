"""Where one training iteration's time goes, layer by layer (docs/performance.md).

Times the attention model at the seed's kanji sizes (wordvec 16, hidden 256, batch 128), padded
as the seed trained it or with the padding skipped, one BLAS thread, and prints each layer's
forward and backward, the optimiser and the clipping, in ms per iteration (the mean over the
timed iterations; the median of the whole iteration is printed too):

    .venv/bin/python benchmarks/profile_iteration.py --data /tmp/perf/kanji.txt [--mode skip]

The layers' methods are wrapped in timers for the run, which adds a few microseconds a call.
"""

import argparse
import statistics
import time
from collections import defaultdict

import numpy as np
from threadpoolctl import threadpool_limits

from kanjinum import data as D
from kanjinum import layers as L
from kanjinum import optim
from kanjinum.errors import KanjinumError
from kanjinum.models import ModelConfig, build_model
from kanjinum.optim import Adam
from kanjinum.train import Run, TrainConfig, batch_arrays, epoch_batches

TIMED = [(L.LSTM, "forward"), (L.LSTM, "backward"), (L.Attention, "forward"),
         (L.Attention, "backward"), (L.TimeAffine, "forward"), (L.TimeAffine, "backward"),
         (L.SoftmaxCrossEntropy, "forward"), (L.SoftmaxCrossEntropy, "backward"),
         (L.Embedding, "forward"), (L.Embedding, "backward"), (Adam, "update")]


def timed(function, label, seconds):
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            seconds[label] += time.perf_counter() - started
    return wrapper


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="data/kanji.txt", help="kanji data file")
    parser.add_argument("--mode", choices=("padded", "skip"), default="padded")
    parser.add_argument("--iters", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args(argv)
    # one line and status 2, as kanjinum bench says it: --iters 0 ended in a traceback (no
    # median), --warmup -1 printed one iteration's figures divided by --iters
    for name, least in (("iters", 1), ("warmup", 0)):
        if getattr(args, name) < least:
            parser.exit(2, f"error: --{name} must be at least {least}, not "
                           f"{getattr(args, name)}\n")
    try:
        dataset = D.read_dataset(args.data)
    except KanjinumError as exc:  # a missing file; data/kanji.txt outside a checkout
        parser.exit(2, f"error: {exc}\n")

    train = D.split_for_training(dataset)[0]
    vocab = D.Vocab.from_texts(dataset.questions + dataset.answers)
    mask = args.mode == "skip"
    config = TrainConfig(wordvec=16, hidden=256, batch=128, mask=mask, bucket=mask)
    model = build_model(ModelConfig("attention", len(vocab), 16, 256), seed=0)
    run = Run(model, vocab, dataset.question_width, dataset.answer_width, True, mask, config)
    enc = D.encode_dataset(train, vocab)
    batches = epoch_batches(np.random.default_rng(0), enc.question_lengths, 128, mask)
    optimizer = Adam(lr=config.lr)

    seconds = defaultdict(float)
    for cls, name in TIMED:
        setattr(cls, name, timed(getattr(cls, name), f"{cls.__name__}.{name}", seconds))
    clip = timed(optim.clip_grads, "clip_grads", seconds)
    totals = []
    with threadpool_limits(1):
        for k in range(args.warmup + args.iters):
            if k == args.warmup:
                seconds.clear()
            started = time.perf_counter()
            xs, ts, src_mask, tgt_mask = batch_arrays(run, enc, batches[k % len(batches)])
            model.forward(xs, ts, src_mask, tgt_mask)
            model.backward()
            clip(model.grads, config.clip)
            optimizer.update(model.params, model.grads)
            if k >= args.warmup:
                totals.append(time.perf_counter() - started)
    print(f"attention, {args.mode}: {statistics.median(totals) * 1e3:.1f} ms per iteration "
          f"(median of {args.iters}), {statistics.fmean(totals) * 1e3:.1f} ms mean")
    for label, spent in sorted(seconds.items(), key=lambda item: -item[1]):
        print(f"  {label:30s} {spent / args.iters * 1e3:7.2f} ms")
    rest = statistics.fmean(totals) - sum(seconds.values()) / args.iters
    print(f"  {'the rest (batch arrays, glue)':30s} {rest * 1e3:7.2f} ms")


if __name__ == "__main__":
    main()
