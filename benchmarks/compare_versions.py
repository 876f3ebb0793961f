"""Time one version of kanjinum: decoding with a trained run, or training iterations.

Run it with PYTHONPATH pointing at a checkout, alternating two of them, to compare versions in
the same conditions (docs/performance.md, "Before and after"):

    git worktree add /tmp/kanjinum-old 632c08e
    for i in 1 2 3; do for pkg in /tmp/kanjinum-old .; do
        PYTHONPATH=$pkg .venv/bin/python benchmarks/compare_versions.py decode RUN --data FILE
        PYTHONPATH=$pkg .venv/bin/python benchmarks/compare_versions.py train padded --data FILE
    done; done

decode: `Run.predict` over the data's test split (answers only where the version can say so),
median of 7 passes; train: the attention model at the seed's kanji sizes, padded or skip, median
(padded) or mean (skip, batches of different sizes) of 40 iterations after 5. One BLAS thread.
It uses only what older versions have too (not `kanjinum.bench`), so that it runs on them.
"""

import argparse
import inspect
import statistics
import time

import numpy as np
from threadpoolctl import threadpool_limits

from kanjinum import data as D
from kanjinum import models as M
from kanjinum import train as T
from kanjinum.optim import Adam, clip_grads


def time_decoding(run_folder: str, data: str) -> str:
    test = D.split_for_training(D.read_dataset(data))[1]
    run = T.load_run(run_folder)
    answers_only = "attention" in inspect.signature(run.predict).parameters
    options = {"attention": False} if answers_only else {}
    answers, _ = run.predict(test.questions, **options)
    seconds = []
    for _ in range(7):
        started = time.perf_counter()
        run.predict(test.questions, **options)
        seconds.append(time.perf_counter() - started)
    accuracy = np.mean([a == b for a, b in zip(answers, test.answers)])
    return f"{len(test) / statistics.median(seconds):.0f} questions/s, accuracy {accuracy:.4f}"


def time_training(mode: str, data: str) -> str:
    dataset = D.read_dataset(data)
    train = D.split_for_training(dataset)[0]
    vocab = D.Vocab.from_texts(dataset.questions + dataset.answers)
    enc = D.encode_dataset(train, vocab)
    mask = mode == "skip"
    config = T.TrainConfig(model="attention", wordvec=16, hidden=256, batch=128, mask=mask,
                           bucket=mask)
    model = M.build_model(M.ModelConfig("attention", len(vocab), 16, 256), seed=0)
    run = T.Run(model, vocab, dataset.question_width, dataset.answer_width, True, mask, config)
    batches = T.epoch_batches(np.random.default_rng(0), enc.question_lengths, 128, mask)
    optimizer = Adam(lr=config.lr)
    seconds = []
    for k in range(45):
        started = time.perf_counter()
        xs, ts, src_mask, tgt_mask = T.batch_arrays(run, enc, batches[k % len(batches)])
        model.forward(xs, ts, src_mask, tgt_mask)
        model.backward()
        clip_grads(model.grads, config.clip)
        optimizer.update(model.params, model.grads)
        if k >= 5:
            seconds.append(time.perf_counter() - started)
    average = statistics.fmean if mask else statistics.median
    return f"{average(seconds) * 1e3:.1f} ms per iteration ({mode})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("decode", "train"))
    parser.add_argument("target", help="decode: a run folder; train: padded or skip")
    parser.add_argument("--data", default="data/kanji.txt", help="data file (kanji)")
    args = parser.parse_args()
    with threadpool_limits(1):
        if args.what == "decode":
            figure = time_decoding(args.target, args.data)
        else:
            figure = time_training(args.target, args.data)
    print(f"{T.__file__.rsplit('/', 2)[0]}: {args.what} {args.target}: {figure}")


if __name__ == "__main__":
    main()
