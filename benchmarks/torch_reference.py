"""The attention seq2seq written idiomatically in PyTorch, timed the way `kanjinum bench` times
kanjinum: the yardstick for kanjinum's numpy code.

    .venv/bin/pip install torch==2.13.0                   # benchmark-only; never a dependency
    .venv/bin/python benchmarks/torch_reference.py --iters 30 --json /tmp/torch.json
    .venv/bin/python benchmarks/bench_train.py           # runs this beside kanjinum, same run

The model is the book's attention seq2seq at kanjinum's sizes: nn.Embedding, nn.LSTM (encoder and
decoder, the decoder started from the encoder's last state), batched dot-product attention with
torch.bmm, nn.Linear over [context; h], nn.CrossEntropyLoss, torch.optim.Adam and
clip_grad_norm_. The data is padded exactly as kanjinum's seed pads it: questions reversed and
left-padded to the full width (25 for the kanji data), answers `_` + digits padded to 13, no mask,
no bucketing; every padded position is read and scored, as in the seed.

Timing: the median seconds of a training iteration (forward, backward, clip, Adam) over `iters`
iterations after `warmup`, and greedy decoding of the test split in batches of 1000, one thread
(torch.set_num_threads) unless asked otherwise.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

try:
    import torch
    from torch import nn
except ImportError as missing:
    if __name__ != "__main__":  # kanjinum bench loads this module and says why it cannot run
        raise
    raise SystemExit(f"error: torch cannot be imported ({missing}): this yardstick needs it, "
                     "e.g. .venv/bin/pip install torch==2.13.0") from None


class AttentionSeq2seq(nn.Module):
    def __init__(self, vocab_size: int, wordvec: int, hidden: int):
        super().__init__()
        self.encoder_embed = nn.Embedding(vocab_size, wordvec)
        self.encoder = nn.LSTM(wordvec, hidden, batch_first=True)
        self.decoder_embed = nn.Embedding(vocab_size, wordvec)
        self.decoder = nn.LSTM(wordvec, hidden, batch_first=True)
        self.affine = nn.Linear(2 * hidden, vocab_size)

    def encode(self, xs):
        enc_hs, (h, _) = self.encoder(self.encoder_embed(xs))  # (N, Te, H), (1, N, H)
        return enc_hs, (h, torch.zeros_like(h))  # the decoder starts from h, with c = 0

    def attend(self, enc_hs, dec_hs):
        scores = torch.bmm(dec_hs, enc_hs.transpose(1, 2))  # (N, Td, Te)
        weights = torch.softmax(scores, dim=-1)
        context = torch.bmm(weights, enc_hs)  # (N, Td, H)
        return self.affine(torch.cat((context, dec_hs), dim=2)), weights

    def forward(self, xs, dec_in):
        enc_hs, state = self.encode(xs)
        dec_hs, _ = self.decoder(self.decoder_embed(dec_in), state)
        scores, _ = self.attend(enc_hs, dec_hs)
        return scores  # (N, Td, V)

    @torch.no_grad()
    def generate(self, xs, start_id: int, length: int):
        enc_hs, state = self.encode(xs)
        current = torch.full((xs.shape[0], 1), start_id, dtype=torch.long)
        ids = []
        for _ in range(length):
            dec_h, state = self.decoder(self.decoder_embed(current), state)
            scores, _ = self.attend(enc_hs, dec_h)
            current = scores.argmax(dim=2)  # (N, 1)
            ids.append(current)
        return torch.cat(ids, dim=1)


class Trainer:
    """The PyTorch model, its optimiser and the padded training batches: `iteration()` runs
    and times the next batch's training step. `kanjinum bench` interleaves these iterations
    with kanjinum's, so that both are timed in the same state of a shared machine."""

    def __init__(self, train_xs, train_ts, vocab_size: int, *, wordvec=16, hidden=256,
                 batch=128, threads=1, seed=0):
        torch.set_num_threads(threads)
        torch.manual_seed(seed)
        self.vocab_size = vocab_size
        self.model = AttentionSeq2seq(vocab_size, wordvec, hidden)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=0.001)
        self.loss_fn = nn.CrossEntropyLoss()
        self.xs = torch.from_numpy(np.ascontiguousarray(train_xs, dtype=np.int64))
        self.ts = torch.from_numpy(np.ascontiguousarray(train_ts, dtype=np.int64))
        order = np.random.default_rng(seed).permutation(len(self.xs))
        self.batches = [order[i:i + batch] for i in range(0, len(order) - batch + 1, batch)]
        self.iterations_per_epoch = -(-len(train_xs) // batch)
        self.done = 0

    def iteration(self) -> tuple[float, float]:
        """Train on the next batch: (wall seconds, CPU seconds)."""
        rows = self.batches[self.done % len(self.batches)]
        self.done += 1
        self.model.train()
        wall, cpu = time.perf_counter(), time.process_time()
        xs, ts = self.xs[rows], self.ts[rows]
        scores = self.model(xs, ts[:, :-1])
        loss = self.loss_fn(scores.reshape(-1, self.vocab_size), ts[:, 1:].reshape(-1))
        self.optimizer.zero_grad(set_to_none=False)
        loss.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), 5.0)
        self.optimizer.step()
        return time.perf_counter() - wall, time.process_time() - cpu

    def decode_rate(self, test_xs, start_id: int, length: int, decode_batch=1000) -> float:
        """Questions per second of greedy decoding in batches of decode_batch (one pass)."""
        self.model.eval()
        test = torch.from_numpy(np.ascontiguousarray(test_xs, dtype=np.int64))
        self.model.generate(test[:decode_batch], start_id, length)  # warm-up
        started = time.perf_counter()
        for i in range(0, len(test), decode_batch):
            self.model.generate(test[i:i + decode_batch], start_id, length)
        return len(test) / (time.perf_counter() - started)


def measure(train_xs, train_ts, test_xs, vocab_size: int, start_id: int, *, wordvec=16,
            hidden=256, batch=128, iters=30, warmup=5, threads=1, decode_batch=1000,
            seed=0) -> dict:
    """Time training iterations and greedy decoding. xs: (N, Wq) question ids, already reversed;
    ts: (N, Wa + 1) `_` + answer ids; padded to the full widths, as the seed trains."""
    trainer = Trainer(train_xs, train_ts, vocab_size, wordvec=wordvec, hidden=hidden,
                      batch=batch, threads=threads, seed=seed)
    for _ in range(warmup):
        trainer.iteration()
    wall, cpu = zip(*(trainer.iteration() for _ in range(iters)))
    decode_rate = trainer.decode_rate(test_xs, start_id, train_ts.shape[1] - 1, decode_batch)
    iteration_s = statistics.median(wall)
    return {
        "torch_version": torch.__version__,
        "threads": threads,
        "iteration_s": iteration_s,
        "iteration_cpu_s": statistics.median(cpu),
        "iterations_timed": iters,
        "iterations_per_epoch": trainer.iterations_per_epoch,
        "epoch_s": trainer.iterations_per_epoch * iteration_s,
        "decode_samples_per_s": decode_rate,
        "decode_samples": len(test_xs),
    }


def main(argv=None) -> None:
    from kanjinum import data as D

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="a data file in the book's format (default: the kanji data "
                                       "of `kanjinum gen-data`, made in memory)")
    parser.add_argument("--wordvec", type=int, default=16)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--iters", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args(argv)
    # one line and status 2 for a mistake, as kanjinum bench says it (these were tracebacks:
    # no median of 0 iterations, a modulo by 0 batches)
    for name, least in (("wordvec", 1), ("hidden", 1), ("batch", 1), ("iters", 1),
                        ("warmup", 0), ("threads", 1)):
        if getattr(args, name) < least:
            parser.exit(2, f"error: --{name} must be at least {least}, not "
                           f"{getattr(args, name)}\n")
    from kanjinum.errors import KanjinumError

    try:
        dataset = (D.read_dataset(args.data) if args.data
                   else D.generate_kanji(hard_share=D.DEFAULT_HARD_SHARE,  # gen-data's defaults
                                         include_closed=True))
        keep = [q for q, a in zip(dataset.questions, dataset.answers)
                if a.isdigit() and D.categorise(int(a)) in D.CLOSED_KINDS]
        train, test = D.split_dataset(dataset, keep_in_train=keep)  # `kanjinum train`'s split
    except KanjinumError as exc:
        parser.exit(2, f"error: {exc}\n")
    if len(train) < args.batch or not len(test):  # the Trainer times whole batches only
        parser.exit(2, f"error: {len(dataset):,} lines give {len(train):,} training and "
                       f"{len(test):,} test lines; timing needs a batch ({args.batch}) of "
                       "training lines and some test lines\n")
    vocab = D.Vocab.from_texts(dataset.questions + dataset.answers)
    train_enc, test_enc = D.encode_dataset(train, vocab), D.encode_dataset(test, vocab)
    result = measure(train_enc.xs[:, ::-1], train_enc.ts, test_enc.xs[:, ::-1], len(vocab),
                     vocab.start_id, wordvec=args.wordvec, hidden=args.hidden, batch=args.batch,
                     iters=args.iters, warmup=args.warmup, threads=args.threads)
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
