"""Training and decoding speed of every model, against this machine's sgemm and PyTorch.

    kanjinum bench                                # every model, both data sets, one BLAS thread
    python benchmarks/bench_train.py --models attention --data kanji --json bench.json
    kanjinum bench --quick --json /tmp/q.json     # tiny sizes, seconds: what the tests run

For each data set, model and mode it prints the median seconds of a training iteration
(batch_arrays, forward, backward, clip, Adam: what `train.fit` does per batch) over `--iters`
iterations after `--warmup`, the implied seconds per epoch, the samples per second of batched
greedy decoding of the test split (`Run.predict`, batches of 1000), the floating-point operations
of an iteration counted from the layer shapes (every matmul, 2·m·k·n, forward and backward),
the GFLOP/s achieved, and the floor: the time those same matmuls take when timed one by one with
this machine's sgemm, right after each timed iteration. `% floor` = floor / measured, the median
over the iterations of each one's ratio: 100 % would be nothing but sgemm at its own speed. The
PyTorch reference's iterations, where torch is installed, are also taken in turn with the
attention model's, and `x torch` compares the two from those pairs.

Modes: `seed` computes exactly what the seed's code does (no mask, no bucketing, every batch
the full width, every padding step of every row); `padded` is the same model on the same
batches, with the encoder's states that questions share from their start (the padding before a
reversed question) computed once per batch (`kanjinum train --no-mask`): the same loss and
gradients, less work; `skip` is kanjinum's default (--mask with bucketing): batches of one
question length, the encoder over the real characters only, the decoder LSTM over each row's
answer and its end only. The skip mode's epoch (and floor) uses the mean over the timed
batches, whose shapes differ. `% seed` = the floor of the seed's full iteration / measured:
how the time compares with the seed's products at this machine's sgemm speed.

Timings on a shared machine are noisy: each figure is a median of many, wall-clock and the
process's CPU time are both kept, and the load average is printed with the figures. The BLAS
runs with one thread unless `--threads` says otherwise.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kanjinum import data as D
from kanjinum.errors import NEAR_OPTION, KanjinumError, OptionError, counted, number_as_meant
from kanjinum.fileio import atomic_write_text, folder_named, home_expanded, why_unwritable
from kanjinum.layers import shared_step_rows
from kanjinum.models import MODEL_KINDS, ModelConfig, answer_steps, build_model
from kanjinum.optim import Adam, clip_grads
from kanjinum.train import (DECODE_BATCH, Run, TrainConfig, batch_arrays, epoch_batches,
                            load_run, resolve_run)

# The seed's sizes for each data set: wordvec, hidden, batch.
SIZES = {"kanji": (16, 256, 128), "addition": (16, 128, 128)}
QUICK_SIZES = {"kanji": (8, 16, 16), "addition": (8, 16, 16)}
MODES = ("seed", "padded", "skip")
# The PyTorch reference is a script of the repository, not of the package (kanjinum/ holds no
# torch code): found beside the package in a checkout or an editable install, or under the
# current folder when an installed kanjinum (`pip install .`) runs inside a checkout.
REFERENCE = Path("benchmarks") / "torch_reference.py"


# --- counting the work ----------------------------------------------------------------------


@dataclass(frozen=True)
class Matmul:
    """`count` products of (m, k) @ (k, n), each repeated over `batch` independent matrices."""

    what: str
    m: int
    k: int
    n: int
    count: int = 1
    batch: int = 1

    @property
    def flops(self) -> int:
        return 2 * self.m * self.k * self.n * self.count * self.batch


def lstm_matmuls(what: str, N: int, T: int, D: int, H: int, h0_zero: bool,
                 rows=None) -> list[Matmul]:
    """An LSTM over T steps, forward and backward. With h0 = 0 (an encoder) the first step has
    no recurrent product and nobody needs d loss / d h0, so neither is counted. rows (T,): the
    rows that have a real step at each step (a mask), when not all N of them do."""
    if rows is None:
        steps = T - 1 if h0_zero else T
        recurrent = [Matmul(f"{what} h@Wh", N, H, 4 * H, count=steps),
                     Matmul(f"{what} dA@Wh.T", N, 4 * H, H, count=steps)]
        total = N * T
        recurrent_rows = N * steps
    else:  # masked: as many (n_t, H) @ (H, 4H) products as rows, summed
        total = int(sum(rows))
        recurrent_rows = int(sum(rows[1:])) if h0_zero else total
        recurrent = [Matmul(f"{what} h@Wh", recurrent_rows, H, 4 * H),
                     Matmul(f"{what} dA@Wh.T", recurrent_rows, 4 * H, H)]
    return [Matmul(f"{what} x@Wx", total, D, 4 * H)] + recurrent + [
        Matmul(f"{what} dWh", H, recurrent_rows, 4 * H),
        Matmul(f"{what} dWx", D, total, 4 * H),
        Matmul(f"{what} dA@Wx.T", total, 4 * H, D),
    ]


def model_matmuls(kind: str, N: int, Te: int, Td: int, D: int, H: int, V: int,
                  src_rows=None, tgt_rows=None, shared=False) -> list[Matmul]:
    """Every matmul of one training iteration of a model, from its layer shapes; src_rows and
    tgt_rows: the rows that encoder and decoder LSTMs compute at each step, where masked or
    (shared=True) where the encoder computes shared leading steps once: then bi-attention's
    backward direction, which reads the padding last, computes every row."""
    if kind == "bi-attention":
        back_rows = None if src_rows is None or shared else src_rows[::-1]
        encoder = (lstm_matmuls("encoder", N, Te, D, H // 2, True, src_rows)
                   + lstm_matmuls("encoder back", N, Te, D, H // 2, True, back_rows))
    else:
        encoder = lstm_matmuls("encoder", N, Te, D, H, True, src_rows)
    decoder_inputs = D + H if kind == "peeky" else D
    affine_inputs = H if kind == "seq2seq" else 2 * H
    found = encoder + lstm_matmuls("decoder", N, Td, decoder_inputs, H, False, tgt_rows) + [
        Matmul("affine", N * Td, affine_inputs, V),
        Matmul("affine dW", affine_inputs, N * Td, V),
        Matmul("affine dx", N * Td, V, affine_inputs),
    ]
    if kind in ("attention", "bi-attention"):
        found += [
            Matmul("attention scores", Td, H, Te, batch=N),
            Matmul("attention context", Td, Te, H, batch=N),
            Matmul("attention dweights", Td, H, Te, batch=N),
            Matmul("attention denc", Te, Td, H, count=2, batch=N),
            Matmul("attention ddec", Td, Te, H, batch=N),
        ]
    return found


def median_seconds(function, repeats: int) -> float:
    function()  # warm-up: page faults, packing buffers
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


class SgemmTimer:
    """Times single products of given shapes (float32, hot caches): once per run and shape
    (`time`, the printed sgemm rates), or all of an iteration's, now (`floor_now`)."""

    def __init__(self, repeats: int = 15, seed: int = 0):
        self.repeats = repeats
        self.rng = np.random.default_rng(seed)
        self.seconds: dict[tuple, float] = {}
        self._products: dict[tuple, object] = {}

    def _product(self, key):
        """A function that runs the product of shape key = (batch, m, k, n) on fixed operands."""
        if key not in self._products:
            batch, m, k, n = key
            shape = (m, k) if batch == 1 else (batch, m, k)
            a = self.rng.standard_normal(shape, dtype=np.float32)
            b = self.rng.standard_normal(shape[:-2] + (k, n), dtype=np.float32)
            out = np.empty(shape[:-2] + (m, n), dtype=np.float32)
            self._products[key] = lambda: np.matmul(a, b, out=out)
        return self._products[key]

    def time(self, batch: int, m: int, k: int, n: int) -> float:
        key = (batch, m, k, n)
        if key not in self.seconds:
            repeats = max(3, min(self.repeats, int(0.3 / max(2e-11 * m * k * n * batch, 1e-6))))
            self.seconds[key] = median_seconds(self._product(key), repeats)
        return self.seconds[key]

    def floor_now(self, matmuls: list[Matmul]) -> float:
        """The seconds these products take at this machine's sgemm speed, back to back, measured
        now: each shape run twice and timed the second time (hot caches).
        Timed between training iterations, it sees the machine in the state they see."""
        seconds = 0.0
        for p in matmuls:
            product = self._product((p.batch, p.m, p.k, p.n))
            product()
            started = time.perf_counter()
            product()
            seconds += (time.perf_counter() - started) * p.count
        return seconds

    def gflops(self, m: int, k: int, n: int) -> float:
        return 2 * m * k * n / self.time(1, m, k, n) / 1e9


# --- timing the models ----------------------------------------------------------------------


def load_data(task: str, path: str | None, quick: bool) -> D.Dataset:
    if path:
        dataset = D.read_dataset(path)
        sample = slice(0, 500)  # parsing every line of a large file costs seconds
        has_numerals = any(kind is not None for kind in D.numeral_kinds(
            dataset.questions[sample], dataset.answers[sample]))
        if has_numerals != (task == "kanji"):  # figures would be printed under the wrong name
            raise OptionError(
                f"--kanji {path} holds no kanji numerals (additions and dates go to --addition)"
                if task == "kanji" else
                f"--addition {path} holds kanji numerals: give it as --kanji")
        return dataset
    size = 600 if quick else 50_000
    if task == "addition":
        return D.generate_addition(size)
    return D.generate_kanji(size, hard_share=D.DEFAULT_HARD_SHARE, include_closed=True)


def check_enough_lines(task: str, dataset: D.Dataset, batch: int) -> None:
    """A batch of training lines and some test lines, or the figures mean nothing (a 1-line
    file timed 0 % of the floor and decoded 0 questions/s)."""
    train, test = split(dataset)
    if len(train) < batch or not len(test):
        raise OptionError(f"--{task}: {len(dataset):,} lines give {len(train):,} training and "
                          f"{counted(len(test), 'test line')}; timing needs a batch ({batch}) of "
                          "training lines and some test lines")


def describe_data(path: str | None, dataset: D.Dataset, train, test, sizes) -> dict:
    """What a data set's figures are for: s/epoch counts its iterations per epoch, and
    --quick or a --kanji file of its own make it another size than the docs' tables."""
    wordvec, hidden, batch = sizes
    return {"file": path, "lines": len(dataset), "train_lines": len(train),
            "test_lines": len(test), "wordvec": wordvec, "hidden": hidden, "batch": batch,
            "iterations_per_epoch": -(-len(train) // batch)}


def data_line(task: str, info: dict) -> str:
    where = info["file"] or "gen-data's, made in memory"
    return (f"{task}: {info['lines']:,} lines ({where}), {info['train_lines']:,} training and "
            f"{info['test_lines']:,} test; wordvec {info['wordvec']}, hidden {info['hidden']}, "
            f"batch {info['batch']}: {info['iterations_per_epoch']:,} iterations per epoch")


def split(dataset: D.Dataset):
    """The split `train.fit` makes: the book's, with the closed kinds kept for training."""
    return D.split_for_training(dataset)


def time_training(run: Run, enc: D.Encoded, batches, iters: int, warmup: int,
                  partners=None) -> dict:
    """Per-iteration wall and CPU seconds over `iters` batches after `warmup`, and the FLOPs of
    the batches timed (their trimmed shapes differ in the skip mode).

    partners: {name: function}, each called after every iteration and returning the seconds
    it measured (the floor's products, a PyTorch iteration), kept under its name, one figure
    per timed iteration: figures taken in turn see the same state of a shared machine, so
    their ratios hold when the machine's speed drifts."""
    model, config = run.model, run.train
    optimizer = Adam(lr=config.lr)
    V = model.config.vocab_size
    partners = partners or {}
    wall, cpu, flops = [], [], []
    paired = {name: [] for name in partners}
    for k in range(warmup + iters):
        rows = batches[k % len(batches)]
        started, started_cpu = time.perf_counter(), time.process_time()
        xs, ts, src_mask, tgt_mask = batch_arrays(run, enc, rows)
        model.forward(xs, ts, src_mask, tgt_mask)
        model.backward()
        clip_grads(model.grads, config.clip)
        optimizer.update(model.params, model.grads)
        if k >= warmup:
            wall.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
            flops.append(iteration_flops(model, xs, ts, src_mask, tgt_mask))
        for name, partner in partners.items():
            seconds = partner()
            if k >= warmup:
                paired[name].append(seconds)
    return {"wall": wall, "cpu": cpu, "flops": flops, **paired}


def iteration_flops(model, xs, ts, src_mask, tgt_mask) -> int:
    """The FLOPs of the products a training iteration on this batch computes."""
    N, Te = xs.shape
    steps = answer_steps(tgt_mask)
    lead = model.encoder_lead(xs, src_mask)
    src_rows = (src_mask.sum(axis=0) if src_mask is not None
                else None if lead is None else shared_step_rows(lead, Te))
    shapes = model_matmuls(model.kind, N, Te, ts.shape[1] - 1, model.config.wordvec,
                           model.config.hidden, model.config.vocab_size, src_rows,
                           None if steps is None else steps.sum(axis=0), shared=lead is not None)
    return sum(p.flops for p in shapes)


def time_decoding(run: Run, test: D.Dataset, repeats: int) -> tuple[float, list[str]]:
    """Samples per second of `Run.predict` (batched greedy decoding) over the test split, as
    `kanjinum eval` calls it (answers only), and the answers: a masked model stops each row at
    its end, so its speed depends on where the model puts the ends."""
    answers, _ = run.predict(test.questions, attention=False)  # also the warm-up
    seconds = median_seconds(lambda: run.predict(test.questions, attention=False), repeats)
    return len(test) / seconds, answers


def mean_length(texts: list[str]) -> float:
    return float(np.mean([len(text) for text in texts])) if texts else 0.0


def bench_model(kind: str, mode: str, dataset, train, test, vocab, sizes, args, sgemm,
                torch_trainer=None) -> dict:
    """One model in one mode: its training iterations, each followed by the floor's products
    timed (and, for the attention model, by a PyTorch iteration when torch_trainer is given),
    then its decoding."""
    wordvec, hidden, batch = sizes
    mask = mode == "skip"
    config = TrainConfig(model=kind, wordvec=wordvec, hidden=hidden, batch=batch,
                         mask=mask, bucket=mask)
    model = build_model(ModelConfig(kind, len(vocab), wordvec, hidden), seed=config.seed)
    model.share_leading_steps = mode != "seed"
    run = Run(model, vocab, dataset.question_width, dataset.answer_width, config.reverse,
              mask, config, threads=args.threads,
              question_chars=D.in_natural_order("".join(dataset.questions)))  # as fit records
    enc = D.encode_dataset(train, vocab)
    batches = epoch_batches(np.random.default_rng(0), enc.question_lengths, batch, mask)
    # The floor of the full-width shapes, timed product by product after every iteration; the
    # skip mode's batches are smaller, so a batch's floor is its FLOPs at that sgemm rate.
    full = model_matmuls(kind, batch, dataset.question_width, dataset.answer_width, wordvec,
                         hidden, len(vocab))
    full_flops = sum(p.flops for p in full)
    partners = {"floor": lambda: sgemm.floor_now(full)}
    if torch_trainer is not None and kind == "attention":
        partners["torch"] = lambda: torch_trainer.iteration()[0]
    timed = time_training(run, enc, batches, args.iters, args.warmup, partners)
    iteration_s = statistics.median(timed["wall"])
    mean_s = statistics.fmean(timed["wall"])
    decode_rate, answers = time_decoding(run, test, args.decode_repeats)
    epoch_s = len(batches) * (mean_s if mask else iteration_s)
    floors = [full_s * f / full_flops for full_s, f in zip(timed["floor"], timed["flops"])]
    sgemm_rate = full_flops / statistics.median(timed["floor"])
    flops = statistics.fmean(timed["flops"])
    floor_s = flops / sgemm_rate
    measured_s = mean_s if mask else iteration_s  # the skip mode's batches differ in size
    cpu_s = statistics.fmean(timed["cpu"]) if mask else statistics.median(timed["cpu"])
    paired_torch = None
    if "torch" in timed:
        torch_s = statistics.median(timed["torch"])
        torch_epochs = torch_trainer.iterations_per_epoch
        paired_torch = {
            "iteration_s": torch_s,
            "epoch_s": torch_epochs * torch_s,
            # padded: the median of the iteration pairs' ratios; skip: epoch against epoch,
            # both over the same interleaved stretch of time
            "times_faster": (statistics.median(t / w for t, w in zip(timed["torch"],
                                                                   timed["wall"]))
                             if not mask else torch_epochs * torch_s / epoch_s),
            "iterations": timed["torch"],
        }
    return {
        "data": args.current_task, "model": kind, "mode": mode,
        "wordvec": wordvec, "hidden": hidden, "batch": batch,
        "question_width": dataset.question_width, "answer_width": dataset.answer_width,
        "iterations_timed": args.iters,
        "iteration_s": iteration_s,
        "iteration_mean_s": mean_s,
        "iteration_cpu_s": statistics.median(timed["cpu"]),
        "iterations_per_epoch": len(batches),
        "epoch_s": epoch_s,
        "decode_samples_per_s": decode_rate,
        "decode_answer_length": mean_length(answers),
        "decode_samples": len(test),
        "gflop_per_iteration": flops / 1e9,
        "gflop_per_s": flops / measured_s / 1e9,
        "sgemm_gflop_per_s": sgemm_rate / 1e9,
        "floor_s": floor_s,
        # each iteration against the floor timed right after it: the median of those ratios
        "floor_percent": 100 * statistics.median(f / w for f, w in zip(floors, timed["wall"])),
        "floor_percent_cpu": 100 * statistics.median(f / c for f, c in zip(floors, timed["cpu"])),
        # the seed's full iteration (every padding step) against this one, on the same batches
        "seed_floor_percent": (None if mask else
                               100 * statistics.median(f / w for f, w in zip(timed["floor"],
                                                                            timed["wall"]))),
        "iterations": timed["wall"],
        "floors": floors,
        "torch_paired": paired_torch,
    }


def load_decode_run(folder: str) -> Run:
    """The run of a --decode-run; its mistakes name that option (the library's say --run)."""
    try:
        return load_run(resolve_run(folder))
    except KanjinumError as exc:
        message = str(exc).replace("e.g. --run ", "e.g. --decode-run ")
        raise OptionError(f"--decode-run {folder}: {message}") from None


def trained_on(run: Run) -> str:
    """Where a run's questions come from, and what to do: a run of numerals of another style
    (daiji, positional) reads its own file's questions, which --kanji can time it on."""
    from kanjinum.numerals import NUMERAL_CHARS
    from kanjinum.errors import shell_word

    data = run.train.data
    if any(ch in NUMERAL_CHARS and not ch.isascii() for ch in run.readable_chars):
        return f"it was trained on {data}: time it on that data with --kanji {shell_word(data)}"
    return f"it was trained on {data}; --decode-run times the decoding of kanji numerals only"


def readable_questions(folder: str, run: Run, test: D.Dataset) -> D.Dataset:
    """The test lines a trained run can read; none is a mistake in --decode-run."""
    pairs = [(q, a) for q, a in zip(test.questions, test.answers) if run.why_unreadable(q) is None]
    if not pairs:
        raise OptionError(f"--decode-run {folder}: the run can read none of the kanji test "
                          f"questions ({trained_on(run)})")
    return D.Dataset([q for q, _ in pairs], [a for _, a in pairs], test.question_width,
                     test.answer_width)


def bench_trained_run(folder: str, run: Run, test: D.Dataset, repeats: int) -> dict:
    """Decoding speed of a trained run over the test questions it can read. A model that has
    learnt where answers end lets the decoder drop rows early; the models timed above have had
    a few dozen iterations and run every row to the full answer width."""
    readable = readable_questions(folder, run, test)
    rate, answers = time_decoding(run, readable, repeats)
    return {
        "run": str(folder), "model": run.kind, "hidden": run.model.config.hidden,
        "mask": run.mask, "questions": len(readable.questions),
        "accuracy": float(np.mean([a == b for a, b in zip(answers, readable.answers)])),
        "mean_answer_length": mean_length(answers),
        "decode_samples_per_s": rate,
    }


# --- PyTorch, where it is installed ---------------------------------------------------------


def find_reference() -> Path | None:
    """benchmarks/torch_reference.py beside the package (a checkout, an editable install),
    else under the current folder (a checkout, with kanjinum installed into site-packages)."""
    for root in (Path(__file__).resolve().parent.parent, Path.cwd()):
        if (root / REFERENCE).is_file():
            return root / REFERENCE
    return None


def load_reference():
    """benchmarks/torch_reference.py as a module (`find_reference`), where torch can be
    imported; otherwise (None, the reason it cannot run)."""
    if importlib.util.find_spec("torch") is None:
        return None, "torch is not installed (pip install torch==2.13.0)"
    path = find_reference()
    if path is None:
        return None, (f"{REFERENCE} not found: it is a script of the kanjinum repository; run "
                      "bench inside a checkout")
    spec = importlib.util.spec_from_file_location("kanjinum_torch_reference", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except ImportError as exc:  # a torch that is there but broken: bench goes on without it
        return None, f"torch cannot be imported: {exc}"
    return module, ""


def reference_trainer(reference, train, vocab, sizes, args):
    """The PyTorch attention model on the padded training batches, for iterations timed in
    turn with kanjinum's attention model (`bench_model`)."""
    wordvec, hidden, batch = sizes
    enc = D.encode_dataset(train, vocab)
    return reference.Trainer(enc.xs[:, ::-1], enc.ts, len(vocab), wordvec=wordvec,
                             hidden=hidden, batch=batch, threads=args.threads)


def bench_reference(reference, train, test, vocab, sizes, args) -> dict:
    wordvec, hidden, batch = sizes
    enc_train, enc_test = D.encode_dataset(train, vocab), D.encode_dataset(test, vocab)
    result = reference.measure(enc_train.xs[:, ::-1], enc_train.ts, enc_test.xs[:, ::-1],
                               len(vocab), vocab.start_id, wordvec=wordvec, hidden=hidden,
                               batch=batch, iters=args.iters, warmup=args.warmup,
                               threads=args.threads, decode_batch=DECODE_BATCH)
    result["data"] = args.current_task
    return result


# --- the machine ----------------------------------------------------------------------------


def machine_info() -> dict:
    from threadpoolctl import threadpool_info

    model = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    # num_threads is left out: it is the library's default, not the --threads the run uses
    blas = [{k: info.get(k) for k in ("internal_api", "version", "architecture")}
            for info in threadpool_info() if info.get("user_api") == "blas"]
    return {
        "cpu": model, "cpus": os.cpu_count(), "python": platform.python_version(),
        "numpy": np.__version__, "blas": blas,
        "env": {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
                                           "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
                if k in os.environ},
    }


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


# --- output ---------------------------------------------------------------------------------

# What each column of the table means, printed under it and in --help: the figures must be
# readable where docs/performance.md is not (an installed kanjinum has no docs/). Each column's
# field in the --json file's results (seconds where the table says ms), for --help.
COLUMNS = (
    ("ms/iter", "iteration_s", "median wall-clock milliseconds of a training iteration (batch, "
                               "forward, backward, clip, Adam)"),
    ("cpu ms", "iteration_cpu_s", "the same in the process's CPU time"),
    ("s/epoch", "epoch_s; iterations_per_epoch, iteration_mean_s",
     "seconds of an epoch of the data timed: iterations per epoch x ms/iter (mode skip: the "
     "mean iteration, its batches differ)"),
    ("GFLOP", "gflop_per_iteration", "the matrix products of an iteration, counted from the "
                                     "layer shapes (the mean over the timed batches)"),
    ("GFLOP/s", "gflop_per_s", "GFLOP per second of ms/iter (mode skip: of the mean "
                               "iteration)"),
    ("floor ms", "floor_s", "those products at this machine's sgemm speed: what an iteration "
                            "would take if it were nothing else (the seed's full-width "
                            "products, timed one by one after each iteration, scaled to "
                            "GFLOP)"),
    ("% floor", "floor_percent", "floor / measured, each iteration against the floor's "
                                 "products timed right after it, the median of those ratios"),
    ("cpu %", "floor_percent_cpu", "the same with the process's CPU time"),
    ("% seed", "seed_floor_percent", "the same against the products of the seed's iteration, "
                                     "every padding step (modes seed and padded)"),
    ("x torch", "torch_paired.times_faster", "how many times faster than PyTorch's attention "
                                             "model, from its iterations taken in turn with "
                                             "ours (per iteration seed and padded, per epoch "
                                             "skip)"),
    ("decode/s", "decode_samples_per_s; decode_samples", "test questions answered per second "
                                                         "by the model above after its few "
                                                         "timed iterations; in mode skip it "
                                                         "stops each row at its end"),
    ("ans len", "decode_answer_length", "the mean length of those answers, on which decode/s "
                                        "depends; for a trained model's speed, see "
                                        "--decode-run"),
)
MODE_MEANINGS = (
    ("seed", "exactly what the seed's code computes: no mask, every batch the full width, "
             "every padding step"),
    ("padded", "the same batches, the padding's shared states computed once per batch "
               "(kanjinum train --no-mask)"),
    ("skip", "kanjinum train's default (--mask, --bucket): batches of one question length, "
             "no padding computed"),
)


def help_epilog() -> str:
    """The modes and the table's columns, for --help."""
    import textwrap

    def entry(name, meaning):
        return textwrap.fill(f"  {name}: {meaning}", width=88, subsequent_indent="      ",
                             break_on_hyphens=False)

    lines = ["modes (--modes):"] + [entry(mode, meaning) for mode, meaning in MODE_MEANINGS]
    lines += ["", "columns of the table (and their fields in the --json file's results):"]
    lines += [entry(column, f"{meaning} [{field}]") for column, field, meaning in COLUMNS]
    return "\n".join(lines)


def print_table(results: list[dict], references: dict, sgemm: SgemmTimer, shapes,
                datasets=None) -> None:
    print("\nsgemm, one product at a time (GFLOP/s):")
    products = [f"({m}x{k})@({k}x{n})" for _, (m, k, n) in shapes]
    width = max(map(len, products), default=0)  # the rates in one column, whatever the shapes
    for (what, (m, k, n)), product in zip(shapes, products):
        print(f"  {what:28s} {product:{width}s} {sgemm.gflops(m, k, n):7.1f}")
    if datasets:
        print()
    for task, info in (datasets or {}).items():
        print(data_line(task, info))
    header = (f"{'data':9s} {'model':12s} {'mode':6s} {'ms/iter':>8s} {'cpu ms':>7s} "
              f"{'s/epoch':>8s} {'GFLOP':>6s} {'GFLOP/s':>7s} {'floor ms':>8s} {'% floor':>7s} "
              f"{'cpu %':>6s} {'% seed':>6s} {'x torch':>7s} {'decode/s':>9s} {'ans len':>7s}")
    print("\n" + header)
    print("-" * len(header))
    for r in results:
        speedup = vs_torch(r)
        seed = r.get("seed_floor_percent")
        print(f"{r['data']:9s} {r['model']:12s} {r['mode']:6s} {r['iteration_s'] * 1e3:8.1f} "
              f"{r['iteration_cpu_s'] * 1e3:7.1f} {r['epoch_s']:8.1f} "
              f"{r['gflop_per_iteration']:6.2f} {r['gflop_per_s']:7.1f} "
              f"{r['floor_s'] * 1e3:8.1f} {r['floor_percent']:6.0f}% {r['floor_percent_cpu']:5.0f}% "
              f"{'-' if seed is None else f'{seed:.0f}%':>6s} "
              f"{'-' if speedup is None else f'{speedup:.2f}':>7s} "
              f"{r['decode_samples_per_s']:9.0f} {r['decode_answer_length']:7.1f}")
    import textwrap

    for column, _, meaning in COLUMNS:
        print(textwrap.fill(f"{column:>8s}: {meaning}", width=100, subsequent_indent=" " * 10,
                            break_on_hyphens=False))
    for task, ref in references.items():
        print(f"\nPyTorch {ref['torch_version']} attention on {task}: "
              f"{ref['iteration_s'] * 1e3:.1f} ms/iter (cpu {ref['iteration_cpu_s'] * 1e3:.1f}), "
              f"{ref['epoch_s']:.1f} s/epoch, decode {ref['decode_samples_per_s']:.0f}/s")
        for r in results:
            if r["data"] == task and r.get("torch_paired"):
                print(f"  in turn with kanjinum's attention {r['mode']}: "
                      f"{r['torch_paired']['iteration_s'] * 1e3:.1f} ms/iter")


def vs_torch(result: dict):
    """How many times faster than the PyTorch attention model, from its iterations timed in
    turn with kanjinum's: per iteration on the same padded batches, per epoch for the skip
    mode (different batches, same data). None for the other models, or without torch."""
    paired = result.get("torch_paired")
    return paired["times_faster"] if paired else None


# The most --iters, --warmup and --decode-repeats take: ten times the defaults. The full
# bench times every one of its 24 rows (4 models, 3 modes, 2 data sets) so many times, each
# iteration with its floor and PyTorch's beside it, so its minutes become ten times as many;
# without a bound, a mistyped --iters 30000 ran for days without a word.
MOST = {"iters": 300, "warmup": 100, "decode_repeats": 30}


def _whole_number(text: str) -> int:
    """argparse's int, saying how to write what it refuses, as the other commands say it:
    `--iters 1,000` was `invalid int value: '1,000'`."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number"
                                         + number_as_meant(text, whole=True)) from None


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Option help wrapped at spaces only: `bi-attention` and `--decode-run` were cut at their
    hyphen, `bi-` at the end of one line and `attention` on the next."""

    def _split_lines(self, text, width):
        import textwrap

        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


class _OneLineErrors(argparse.ArgumentParser):
    """A bad option is an OptionError (one line from the CLI), not argparse's usage block."""

    def error(self, message):
        import re

        # `argument --quick: …`, and `argument -h/--help: …` for a flag with a short name too
        flag = re.fullmatch(r"argument (?:-\w/)?(--[\w-]+): ignored explicit argument '(.*)'",
                            message)
        if flag:  # `--quick=1`: "ignored" read as if it had gone on without it
            message = self._a_flag_takes_no_value(*flag.groups())
        elif message.startswith("unrecognized arguments: "):
            message += self._possible_options(message.removeprefix("unrecognized arguments: "))
        raise OptionError(f"{message} (see 'kanjinum bench --help')")

    def _possible_options(self, unrecognized: str) -> str:
        """The options a mistyped one is near, as the other commands (click) name them:
        `--iter 5` was `unrecognized arguments: --iter 5` and no more."""
        import difflib

        near = [option for word in unrecognized.split() if word.startswith("--")
                for option in difflib.get_close_matches(word.split("=")[0],
                                                        self._option_string_actions, n=3,
                                                        cutoff=NEAR_OPTION)]
        return f" (Possible options: {', '.join(dict.fromkeys(near))})" if near else ""

    def _a_flag_takes_no_value(self, name: str, value: str) -> str:
        """As the other commands say it: `--torch=false` wants --no-torch."""
        dest = self._option_string_actions[name].dest
        names = [option for action in self._actions if action.dest == dest  # long ones first,
                 for option in sorted(action.option_strings,  # as the other commands say them
                                      key=lambda option: not option.startswith("--"))]
        others = " or ".join(names) if len(names) > 1 else f"{name} alone"
        return f"{name}={value}: {name} is a flag and takes no value; write {others}"


def _given_once(store):
    """An argparse action that refuses its option given again with another value (`--iters 5
    --iters 50`, `--torch --no-torch`), as the other commands refuse it: the last one was kept
    without a word. Given again alike, it is taken. --decode-run appends, as it is meant to."""

    class Once(store):
        def __call__(self, parser, namespace, values, option_string=None):
            given = namespace.__dict__.setdefault("_given_once", {})
            value = self.const if self.nargs == 0 else values
            said = option_string if self.nargs == 0 else f"{option_string} {values}"
            if self.dest in given and given[self.dest][1] != value:
                earlier = given[self.dest][0]
                if self.nargs == 0:
                    parser.error(f"{earlier} and {said} are both given: choose one")
                parser.error(f"{option_string} is given twice, {earlier} and {said}: give it "
                             "once")
            given.setdefault(self.dest, (said, value))
            super().__call__(parser, namespace, values, option_string)

    return Once


def parse_args(argv):
    parser = _OneLineErrors(
        prog="kanjinum bench", description=__doc__.split("\n\n")[0], epilog=help_epilog(),
        formatter_class=_HelpFormatter, allow_abbrev=False)
    for name, store in ((None, argparse._StoreAction), ("store", argparse._StoreAction),
                        ("store_true", argparse._StoreTrueAction),
                        ("store_false", argparse._StoreFalseAction)):  # None: the default
        parser.register("action", name, _given_once(store))
    parser.add_argument("--models", default=",".join(MODEL_KINDS),
                        help=f"comma-separated: {', '.join(MODEL_KINDS)} (default: all)")
    parser.add_argument("--data", default="kanji,addition",
                        help="comma-separated: kanji, addition (default: both)")
    parser.add_argument("--modes", default="seed,padded,skip",
                        help="comma-separated: seed, padded, skip (default: all three)")
    parser.add_argument("--kanji", metavar="FILE", help="kanji data file (default: `kanjinum gen-data`'s, "
                                        "made in memory)")
    parser.add_argument("--addition", metavar="FILE", help="data file timed at the addition sizes (hidden "
                                           "128): the book's addition.txt, or any file without "
                                           "kanji numerals, e.g. date.txt (default: `gen-data "
                                           "--task addition`'s, in memory)")
    parser.add_argument("--iters", type=_whole_number, help=f"timed iterations, 1 to {MOST['iters']} "
                                                  "(default 30; 3 with --quick)")
    parser.add_argument("--warmup", type=_whole_number,
                        help=f"untimed iterations first, 0 to {MOST['warmup']} (default 5; 1 "
                             "with --quick)")
    parser.add_argument("--decode-repeats", type=_whole_number,
                        help="passes over the test split for the decoding median, 1 to "
                             f"{MOST['decode_repeats']} (default 3; 1 with --quick)")
    parser.add_argument("--threads", type=_whole_number, default=1,  # the words of train's --threads
                        help="BLAS threads for the matrix products: 1 is safe beside other "
                             "work; 2 is about 1.5x faster at hidden 256 on an otherwise idle "
                             "2-core machine (default 1)")
    parser.add_argument("--torch", dest="torch", action="store_true", default=None,
                        help="run the PyTorch reference (default: when torch is installed, "
                             "not with --quick)")
    parser.add_argument("--no-torch", dest="torch", action="store_false",
                        help="skip the PyTorch reference even where torch is installed")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes and few iterations: checks that it runs, not speed")
    parser.add_argument("--decode-run", action="append", default=[], metavar="RUN",
                        help="also time decoding with this trained run folder, on the kanji "
                             "test split (repeatable)")
    parser.add_argument("--json", metavar="FILE", help="write every figure to this file")
    args = parser.parse_args(argv)
    vars(args).pop("_given_once", None)  # the options' record, not one of them
    # `--json=~/b.json`: the shell left the ~, as train's and gen-data's options take it
    args.kanji, args.addition, args.json = (
        value and home_expanded(value) for value in (args.kanji, args.addition, args.json))
    args.decode_run = [home_expanded(folder) for folder in args.decode_run]
    # each once, in the order given: a repeated name would time (and print) a row twice
    args.models = list(dict.fromkeys(m.strip() for m in args.models.split(",") if m.strip()))
    args.tasks = list(dict.fromkeys(t.strip() for t in args.data.split(",") if t.strip()))
    args.mode_list = list(dict.fromkeys(m.strip() for m in args.modes.split(",") if m.strip()))
    for value, allowed, what in ((args.models, MODEL_KINDS, "--models"),
                                 (args.tasks, tuple(SIZES), "--data"),
                                 (args.mode_list, MODES, "--modes")):
        bad = [v for v in value if v not in allowed]
        if not value:
            parser.error(f"{what} is empty: name one or more of {', '.join(allowed)}")
        if bad:
            parser.error(f"{what}: {', '.join(bad)} not among {', '.join(allowed)}")
    # --quick lowers the defaults; figures the user gives are kept
    for name, normal, quick in (("iters", 30, 3), ("warmup", 5, 1), ("decode_repeats", 3, 1)):
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else normal)
    from kanjinum.train import check_threads

    for name, least in (("iters", 1), ("warmup", 0), ("decode_repeats", 1)):
        if getattr(args, name) < least:
            parser.error(f"--{name.replace('_', '-')} must be at least {least}, "
                         f"not {getattr(args, name)}")
        if getattr(args, name) > MOST[name]:
            parser.error(f"--{name.replace('_', '-')} must be at most {MOST[name]}, not "
                         f"{getattr(args, name):,}: each row of the table is timed so many "
                         "times (the full bench has 24)")
    try:
        check_threads(args.threads)
    except OptionError as exc:
        parser.error(f"--{exc}")
    args.torch_asked = args.torch is True  # --torch given: not run is then a mistake
    args.torch_why_not = "" if args.torch is not False else "not asked (--no-torch)"
    if args.torch is None:
        args.torch = not args.quick
        if args.quick:
            args.torch_why_not = "not run with --quick (add --torch to run it)"
    for option in ("kanji", "addition", "json"):  # '' would be the current folder, or nothing
        if getattr(args, option) == "":
            parser.error(f"--{option} is empty: name a file")
    folder = args.json and folder_named("--json", args.json, "bench.json")
    if folder:
        parser.error(folder)
    if any(not folder.strip() for folder in args.decode_run):
        parser.error("--decode-run is empty: name a trained run folder")
    for option in ("kanji", "addition"):  # before the header and minutes of timing
        path = getattr(args, option)
        used = option in args.tasks or (option == "kanji" and args.decode_run)
        if path is not None and not used:
            also = " (nor --decode-run, which decodes kanji)" if option == "kanji" else ""
            parser.error(f"--{option} {path} is not used: --data {args.data} does not time "
                         f"{option}{also}")
        if path is not None and Path(path).is_dir():  # "no such data file" said it was not there
            parser.error(f"--{option} {path} is a folder, not a data file")
        if path is not None and not Path(path).is_file():
            parser.error(f"--{option} {path}: no such data file")
    return args


def check_json_target(path: Path) -> None:
    """--json can be written, and replaces an earlier bench file, never another file of the
    user's: checked before minutes of timing. Missing folders are made, as attend and gen-data
    make theirs."""
    why = why_unwritable(path, makes_folders=True)
    if why is not None:
        raise OptionError(f"--json {path}: {why}")
    if not path.exists():
        return
    try:
        earlier = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    except (OSError, UnicodeDecodeError, ValueError):
        earlier = None
    if not (isinstance(earlier, dict) and "machine" in earlier and "results" in earlier):
        raise OptionError(f"--json {path} exists and is not an earlier kanjinum bench file; "
                          "choose another name")


def main(argv=None) -> dict:
    """Run the benchmark as `argv` asks (see --help); prints a table, returns the figures."""
    from threadpoolctl import threadpool_limits

    args = parse_args(argv)
    if args.json:
        check_json_target(Path(args.json))  # before minutes of timing, not after
    # The data files (a bad one, not just a missing one), a bad run folder, or one that reads
    # no kanji numerals, are found now, not after minutes of timing
    datasets = {task: load_data(task, getattr(args, task), args.quick)
                for task in dict.fromkeys(args.tasks + (["kanji"] if args.decode_run else []))}
    sizes_for = QUICK_SIZES if args.quick else SIZES
    for task in args.tasks:
        check_enough_lines(task, datasets[task], sizes_for[task][2])
    trained = [(folder, load_decode_run(folder)) for folder in args.decode_run]
    for _, run in trained:
        run.threads = args.threads
    if trained:
        kanji_test = split(datasets["kanji"])[1]
        for folder, run in trained:
            readable_questions(folder, run, kanji_test)
    reference, why_not = load_reference() if args.torch else (None, args.torch_why_not)
    if reference is None and args.torch_asked:
        raise OptionError(f"--torch: the PyTorch reference cannot run: {why_not}")
    figures = {"machine": machine_info(), "threads": args.threads, "iters": args.iters,
               "warmup": args.warmup, "quick": args.quick,
               "load_before": load_average(), "datasets": {}, "results": [], "torch": {},
               "torch_missing": why_not or None}
    print(f"kanjinum bench: {figures['machine']['cpu']}, {figures['machine']['cpus']} cpus, "
          f"numpy {np.__version__}, BLAS {figures['machine']['blas']}, "
          f"{args.threads} thread(s), load {figures['load_before']}")
    if reference is None:
        print(f"PyTorch reference: not run: {why_not}")
    sgemm = SgemmTimer(repeats=5 if args.quick else 15)
    headline = []
    with threadpool_limits(limits=args.threads):
        for task in args.tasks:
            args.current_task = task
            dataset = datasets[task]
            train, test = split(dataset)
            vocab = D.Vocab.from_texts(dataset.questions + dataset.answers)
            sizes = sizes_for[task]
            wordvec, hidden, batch = sizes
            figures["datasets"][task] = describe_data(getattr(args, task), dataset, train,
                                                      test, sizes)
            print(data_line(task, figures["datasets"][task]), flush=True)
            T = dataset.question_width
            if not headline:
                headline = [("h@Wh (a forward step)", (batch, hidden, 4 * hidden)),
                            ("x@Wx (all steps at once)", (T * batch, wordvec + 1, 4 * hidden)),
                            ("dWh = h.T@dA (all steps)", (hidden, (T - 1) * batch, 4 * hidden)),
                            ("dA@Wh.T (a backward step)", (batch, 4 * hidden, hidden))]
            trainer = None
            if reference is not None and "attention" in args.models:
                trainer = reference_trainer(reference, train, vocab, sizes, args)
            for kind in args.models:
                for mode in args.mode_list:
                    result = bench_model(kind, mode, dataset, train, test, vocab, sizes, args,
                                         sgemm, trainer)
                    figures["results"].append(result)
                    print(f"  {task} {kind} {mode}: {result['iteration_s'] * 1e3:.1f} ms/iter, "
                          f"{result['floor_percent']:.0f}% of floor, "
                          f"decode {result['decode_samples_per_s']:.0f}/s", flush=True)
            if reference is not None:
                figures["torch"][task] = bench_reference(reference, train, test, vocab, sizes, args)
                print(f"  {task} torch attention: "
                      f"{figures['torch'][task]['iteration_s'] * 1e3:.1f} ms/iter", flush=True)
        if args.decode_run:
            test = split(datasets["kanji"])[1]
            figures["trained_runs"] = [bench_trained_run(folder, run, test, args.decode_repeats)
                                       for folder, run in trained]
        figures["sgemm"] = [{"what": what, "m": m, "k": k, "n": n,
                             "gflop_per_s": sgemm.gflops(m, k, n)} for what, (m, k, n) in headline]
    figures["load_after"] = load_average()
    print_table(figures["results"], figures["torch"], sgemm, headline, figures["datasets"])
    for r in figures.get("trained_runs", []):
        print(f"\ntrained run {r['run']} ({r['model']}, hidden {r['hidden']}, "
              f"{'masked' if r['mask'] else 'unmasked'}): decode {r['decode_samples_per_s']:.0f}/s "
              f"over {r['questions']:,} test questions, accuracy {r['accuracy']:.2%}, "
              f"mean answer {r['mean_answer_length']:.1f} characters")
    print(f"\nload average before {figures['load_before']}, after {figures['load_after']}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.json, json.dumps(figures, indent=2) + "\n")
        print(f"wrote {args.json}")
    return figures
