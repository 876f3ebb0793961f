"""The speed work: the benchmark runs and reports its fields (no timing is asserted), and the
fast paths compute what the plain ones do: LSTM.infer and the leading-rows mask path against
LSTM.forward's row-by-row path, batched greedy decoding against plain step-by-step decoding
and against the training forward fed its own outputs."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kanjinum.errors import OptionError

from kanjinum import bench
from kanjinum.layers import LSTM, shared_step_rows, softmax
from kanjinum import models
from kanjinum.models import MODEL_KINDS, ModelConfig, build_model

from gradcheck import assert_grad  # noqa: E402

V, D, H = 7, 3, 6
PAD = 0
FIELDS = ("iteration_s", "iteration_cpu_s", "iterations_per_epoch", "epoch_s",
          "decode_samples_per_s", "gflop_per_iteration", "gflop_per_s", "sgemm_gflop_per_s",
          "floor_s", "floor_percent")


# --- the benchmark --------------------------------------------------------------------------


def test_quick_bench_runs_and_writes_every_field(tmp_path, capsys):
    out = tmp_path / "bench.json"
    figures = bench.main(["--quick", "--json", str(out)])
    assert json.loads(out.read_text(encoding="utf-8")) == json.loads(json.dumps(figures))
    results = figures["results"]
    assert {(r["data"], r["model"], r["mode"]) for r in results} == {
        (task, kind, mode) for task in ("kanji", "addition") for kind in MODEL_KINDS
        for mode in ("seed", "padded", "skip")}
    for r in results:
        for field in FIELDS:
            assert np.isfinite(r[field]) and r[field] > 0, (r["model"], field)
        assert 0 <= r["decode_answer_length"] <= 13
        assert (r["seed_floor_percent"] is None) == (r["mode"] == "skip")
    assert figures["threads"] == 1 and figures["torch"] == {}
    assert figures["sgemm"] and all(s["gflop_per_s"] > 0 for s in figures["sgemm"])
    assert figures["machine"]["numpy"] == np.__version__
    assert "% floor" in capsys.readouterr().out


def test_floor_and_pytorch_are_timed_after_every_iteration(monkeypatch):
    """% floor and x torch come from figures taken in turn with each timed iteration, so that
    a shared machine's drift moves both sides of the ratio alike."""
    class FakeTrainer:  # stands in for benchmarks/torch_reference.Trainer (torch not needed)
        iterations_per_epoch = 10

        def __init__(self):
            self.calls = 0

        def iteration(self):
            self.calls += 1
            return 0.5, 0.5

    floor_calls = []
    real_floor_now = bench.SgemmTimer.floor_now

    def counting_floor_now(self, matmuls):
        floor_calls.append(len(matmuls))
        return real_floor_now(self, matmuls)

    monkeypatch.setattr(bench.SgemmTimer, "floor_now", counting_floor_now)
    args = bench.parse_args(["--quick", "--iters", "4", "--warmup", "2"])
    args.current_task = "kanji"
    dataset = bench.load_data("kanji", None, True)
    train, test = bench.split(dataset)
    vocab = bench.D.Vocab.from_texts(dataset.questions + dataset.answers)
    trainer = FakeTrainer()
    for mode in ("seed", "padded", "skip"):
        floor_calls.clear()
        trainer.calls = 0
        r = bench.bench_model("attention", mode, dataset, train, test, vocab,
                              bench.QUICK_SIZES["kanji"], args, bench.SgemmTimer(repeats=3),
                              trainer)
        assert len(floor_calls) == 6 and trainer.calls == 6  # warm-up ones too
        assert len(r["iterations"]) == len(r["floors"]) == 4
        ratios = sorted(f / w for f, w in zip(r["floors"], r["iterations"]))
        assert r["floor_percent"] == pytest.approx(100 * (ratios[1] + ratios[2]) / 2)
        paired = r["torch_paired"]
        assert paired["iterations"] == [0.5] * 4 and paired["epoch_s"] == pytest.approx(5.0)
        if mode != "skip":
            expected = sorted(0.5 / w for w in r["iterations"])
            assert paired["times_faster"] == pytest.approx((expected[1] + expected[2]) / 2)
        else:
            assert paired["times_faster"] == pytest.approx(5.0 / r["epoch_s"])
        assert bench.vs_torch(r) == paired["times_faster"]
    # other models are not paired with the PyTorch attention model
    r = bench.bench_model("seq2seq", "padded", dataset, train, test, vocab,
                          bench.QUICK_SIZES["kanji"], args, bench.SgemmTimer(repeats=3), trainer)
    assert r["torch_paired"] is None and bench.vs_torch(r) is None


def test_floor_now_counts_each_product_as_often_as_it_runs():
    timer = bench.SgemmTimer()
    once = [bench.Matmul("a", 64, 64, 64)]
    many = [bench.Matmul("a", 64, 64, 64, count=50)]
    single = sorted(timer.floor_now(once) for _ in range(9))[4]
    fifty = sorted(timer.floor_now(many) for _ in range(9))[4]
    assert 10 < fifty / single < 250  # one product timed, counted 50 times


def test_decode_bound_counts_the_rows_decoding_computes(monkeypatch):
    """benchmarks/decode_bound.py: rows counted by wrapping the two step functions, which it
    puts back; the bound is the rows priced at the timed product and exp."""
    import importlib.util

    from kanjinum import layers
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "decode_bound.py"
    spec = importlib.util.spec_from_file_location("decode_bound", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.chdir(script.parent.parent)
    step_states, step = layers.LSTM._step_states, layers.LSTMStepper.step
    figures = module.main(["default", "--limit", "40", "--repeats", "1"])
    assert layers.LSTM._step_states is step_states and layers.LSTMStepper.step is step
    rows = figures["rows_per_question"]
    # the decoder runs at least the answer's end step; the encoder at most a row per character
    assert 1 <= rows["decoder"] <= 14 and 0 < rows["encoder"] <= 25
    total = rows["encoder"] + rows["decoder"]
    assert figures["bound"] == pytest.approx(1 / (total * (figures["product_s"]
                                                            + figures["exp_s"])))
    assert figures["bound"] < figures["bound_products"] and figures["measured"] > 0


def decode_bound_script():
    import importlib.util

    script = Path(__file__).resolve().parent.parent / "benchmarks" / "decode_bound.py"
    spec = importlib.util.spec_from_file_location("decode_bound", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("kind", ["peeky", "bi-attention"])
def test_decode_bound_prices_the_rows_each_model_steps(kind, tmp_path, monkeypatch, capsys):
    """A peeky run's rows were priced with its decoder's encoder-state columns in the product
    ((256x49) at hidden 16, where LSTMStepper multiplies those once per question and steps
    (256x33)); a bi-attention run's encoder, which does not run LSTM.infer, counted 0 rows and
    its bound came out hundreds of times the measured rate: it is refused in one line."""
    from kanjinum import data as D
    from kanjinum.train import Run

    module = decode_bound_script()
    data = tmp_path / "k.txt"
    dataset = D.generate_kanji(size=60, max_digits=4)
    D.write_dataset(dataset, data)
    vocab = D.Vocab.from_texts(dataset.questions + dataset.answers)
    model = build_model(ModelConfig(kind, len(vocab), 8, 16), seed=0)
    run = Run(model, vocab, dataset.question_width, dataset.answer_width, True, True,
              path=tmp_path / kind)
    monkeypatch.setattr(module, "load_run", lambda folder: run)
    monkeypatch.setattr(module, "resolve_run", lambda folder: folder)
    priced = []
    real_prices = module.row_prices
    monkeypatch.setattr(module, "row_prices", lambda K, H: priced.append((K, H))
                        or real_prices(K, H))
    if kind == "bi-attention":
        with pytest.raises(SystemExit) as stopped:
            module.main([kind, "--data", str(data), "--repeats", "1"])
        assert stopped.value.code == 2
        assert capsys.readouterr().err.startswith(f"error: {run.path} is a bi-attention run")
        return
    figures = module.main([kind, "--data", str(data), "--repeats", "1"])
    assert set(priced) == {(8 + 1 + 16, 16)} and figures["rows_per_question"]["encoder"] > 0
    assert "(256x25)@(25x64)" in capsys.readouterr().out


def test_decode_bound_advises_its_own_argument_for_a_folder_of_runs(tmp_path, capsys):
    """A folder of runs was answered 'e.g. --run runs/…': the script takes the run as its
    first argument and has no --run."""
    from kanjinum.train import DEFAULT_RUN

    shutil.copytree(DEFAULT_RUN, tmp_path / "runs" / "r1")
    with pytest.raises(SystemExit):
        decode_bound_script().main([str(tmp_path / "runs")])
    said = capsys.readouterr().err
    assert said.startswith("error: ") and "e.g. " in said and "--run" not in said


def test_decode_parts_advises_its_own_argument_for_a_folder_of_runs(tmp_path):
    """decode_parts.py, written after decode_bound.py was told so, answered a folder of runs
    'e.g. --run runs/…' too: it also takes the run as its first argument and has no --run."""
    from kanjinum.train import DEFAULT_RUN

    shutil.copytree(DEFAULT_RUN, tmp_path / "runs" / "r1")
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "decode_parts.py"
    done = subprocess.run([sys.executable, str(script), "runs"], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.startswith("error: "), done.stderr
    assert "e.g. runs/r1" in done.stderr and "--run" not in done.stderr, done.stderr


def test_compare_infer_checks_both_versions_agree(monkeypatch):
    """benchmarks/compare_infer.py against this very checkout: the same states, two timings."""
    import importlib.util
    root = Path(__file__).resolve().parent.parent
    spec = importlib.util.spec_from_file_location("compare_infer",
                                                  root / "benchmarks" / "compare_infer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.chdir(root)
    figures = module.main([str(root), "default", "--limit", "30", "--repeats", "2"])
    assert figures["other_s"] > 0 and figures["this_s"] > 0 and figures["ratio"] > 0


def test_profile_script_accounts_for_the_iteration(tmp_path):
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "profile_iteration.py"
    data = Path(__file__).resolve().parent.parent / "data" / "kanji.txt"
    small = tmp_path / "k.txt"
    small.write_text("".join(data.read_text(encoding="utf-8").splitlines(True)[:600]),
                     encoding="utf-8")
    for mode in ("padded", "skip"):
        done = subprocess.run([sys.executable, str(script), "--data", str(small), "--mode", mode,
                               "--iters", "2", "--warmup", "1"],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert lines[0].startswith(f"attention, {mode}:")
        parts = {line.rsplit(None, 2)[0].strip(): float(line.split()[-2]) for line in lines[1:]}
        assert {"LSTM.forward", "LSTM.backward", "Adam.update"} <= set(parts)
        assert parts["LSTM.backward"] > 0 and parts["LSTM.forward"] > 0


@pytest.mark.parametrize("args, said", [
    (["--iters", "0"], "error: --iters must be at least 1, not 0"),
    (["--warmup", "-1"], "error: --warmup must be at least 0, not -1"),
    (["--data", "nosuch.txt"], "error: data file nosuch.txt not found"),
    ([], "error: data file data/kanji.txt not found"),  # its default, outside a checkout
])
def test_profile_script_mistakes_are_one_line(tmp_path, args, said):
    """--iters 0 and a missing --data ended in tracebacks (no median; DataError), and
    --warmup -1 printed one iteration's figures divided by --iters."""
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "profile_iteration.py"
    done = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    assert done.returncode == 2 and done.stderr == said + "\n" and done.stdout == ""


def test_bench_script_passes_its_arguments(tmp_path):
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_train.py"
    from kanjinum.train import available_cores
    out = tmp_path / "b.json"
    threads = min(2, available_cores())
    done = subprocess.run([sys.executable, str(script), "--quick", "--models", "seq2seq",
                           "--data", "addition", "--modes", "padded", "--threads", str(threads),
                           "--json", str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert figures["threads"] == threads
    assert [(r["data"], r["model"], r["mode"]) for r in figures["results"]] == [
        ("addition", "seq2seq", "padded")]


def test_bench_times_decoding_with_a_trained_run(capsys):
    from kanjinum.train import DEFAULT_RUN

    figures = bench.main(["--quick", "--models", "attention", "--data", "kanji", "--modes", "skip",
                          "--decode-run", str(DEFAULT_RUN)])
    [trained] = figures["trained_runs"]
    assert trained["model"] == "attention" and trained["mask"] and trained["questions"] > 0
    assert trained["decode_samples_per_s"] > 0
    assert trained["accuracy"] > 0.9  # the shipped model reads gen-data's numbers
    assert "trained run" in capsys.readouterr().out


def test_bench_checks_trained_runs_before_timing_anything(tmp_path, monkeypatch):
    """... and names the option: `--decode-run nothere` said only 'run folder nothere not
    found', and a folder of runs was answered 'e.g. --run …', which bench lacks (round 13)."""
    from kanjinum.train import DEFAULT_RUN

    monkeypatch.setattr(bench, "bench_model", lambda *a: pytest.fail("timed before checking"))
    with pytest.raises(OptionError, match=r"^--decode-run .*nope: run folder .* not found"):
        bench.main(["--quick", "--decode-run", str(tmp_path / "nope")])
    holder = tmp_path / "runs"
    shutil.copytree(DEFAULT_RUN, holder / "r1")
    with pytest.raises(OptionError, match="holds runs.*e.g. --decode-run .*r1"):
        bench.main(["--quick", "--decode-run", str(holder)])


def test_bench_trained_run_that_reads_none_of_the_questions_is_one_error():
    from kanjinum import data as D
    from kanjinum.train import Run

    vocab = D.Vocab.from_texts(["0123456789+"])  # an addition run
    model = build_model(ModelConfig("attention", len(vocab), 4, 8), seed=0)
    run = Run(model, vocab, 7, 5, True, True)
    test = D.Dataset(["一億一", "三兆"], ["100000001", "3000000000000"], 25, 13)
    with pytest.raises(OptionError, match="none of the kanji test questions"):
        bench.bench_trained_run("runs/addition", run, test, 1)


def test_bench_checks_what_a_trained_run_reads_before_timing(tmp_path, monkeypatch):
    """A run of other data used to fail only after every timing; 'default' was not a run."""
    from kanjinum.cli import app
    from typer.testing import CliRunner

    data = tmp_path / "add.txt"
    runner = CliRunner()
    assert runner.invoke(app, ["gen-data", "--task", "addition", "--size", 200, "--out",
                               str(data)]).exit_code == 0
    assert runner.invoke(app, ["train", "--data", str(data), "--hidden", 4, "--wordvec", 4,
                               "--batch", 32, "--epochs", 1, "--show", 0, "--out",
                               str(tmp_path / "r")]).exit_code == 0
    monkeypatch.setattr(bench, "bench_model", lambda *a: pytest.fail("timed before checking"))
    with pytest.raises(OptionError, match="none of the kanji test questions"):
        bench.main(["--quick", "--decode-run", str(tmp_path / "r")])
    monkeypatch.undo()
    monkeypatch.setattr(bench, "time_decoding", lambda *a: (1.0, ["1"]))
    figures = bench.main(["--quick", "--models", "seq2seq", "--data", "addition", "--modes",
                          "padded", "--decode-run", "default"])
    assert figures["trained_runs"][0]["model"] == "attention"


def test_bench_rejects_unknown_models():
    with pytest.raises(OptionError, match="transformer"):
        bench.main(["--quick", "--models", "transformer"])


def test_bench_bad_option_is_one_line():
    from typer.testing import CliRunner

    from kanjinum.cli import app

    result = CliRunner().invoke(app, ["bench", "--bogus"], env={"NO_COLOR": "1", "COLUMNS": "200"})
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: unrecognized arguments: --bogus (see 'kanjinum bench --help')"]


def test_flops_are_counted_from_the_layer_shapes():
    N, T, Dx, Hx = 4, 5, 3, 2
    encoder = bench.lstm_matmuls("e", N, T, Dx, Hx, h0_zero=True)
    # forward: x@Wx over all steps, h@Wh on T - 1 steps (h0 = 0); backward: dWx, dx, dWh, dh
    expected = 2 * (3 * N * T * Dx * 4 * Hx + 3 * N * (T - 1) * Hx * 4 * Hx)
    assert sum(p.flops for p in encoder) == expected
    # a mask that leaves every row real counts the same work, step by step
    masked = bench.lstm_matmuls("e", N, T, Dx, Hx, h0_zero=True, rows=[N] * T)
    assert sum(p.flops for p in masked) == expected
    shapes = bench.model_matmuls("attention", N, T, 3, Dx, Hx, V)
    attention = [p for p in shapes if p.what.startswith("attention")]
    assert sum(p.flops for p in attention) == 6 * 2 * N * 3 * T * Hx


def test_padded_mode_counts_the_shared_padding_once():
    """The padded mode computes the states that reversed questions share from their start (the
    padding) once: its FLOPs count the rows the encoder computes, fewer than the seed mode's
    every row and step, and the seed's floor stays the yardstick of % seed."""
    rng = np.random.default_rng(1)
    N, Te, Td = 8, 6, 3
    xs = np.zeros((N, Te), dtype=np.int32)
    for row, length in enumerate([6, 1, 2, 2, 3, 1, 4, 2]):
        xs[row, Te - length:] = row % (V - 1) + 1  # rows 1 and 5 part at their last step
    ts = rng.integers(0, V, (N, Td + 1)).astype(np.int32)
    model = build_model(ModelConfig("attention", V, D, H))
    seed_flops = sum(p.flops for p in bench.model_matmuls("attention", N, Te, Td, D, H, V))
    model.share_leading_steps = False
    assert bench.iteration_flops(model, xs, ts, None, None) == seed_flops
    model.share_leading_steps = True
    rows = shared_step_rows(model.encoder_lead(xs, None), Te)
    # padding runs 0, 5, 4, 4, 3, 5, 2, 4: the rows that have left it, and one for the padding's
    # state while two or more rows are in it
    assert rows == [2, 2, 3, 4, 7, 8]
    assert bench.iteration_flops(model, xs, ts, None, None) == sum(
        p.flops for p in bench.model_matmuls("attention", N, Te, Td, D, H, V, rows, shared=True))
    assert bench.iteration_flops(model, xs, ts, None, None) < seed_flops
    # bi-attention's backward direction reads the padding last: it shares nothing
    both = bench.model_matmuls("bi-attention", N, Te, Td, D, H, V, rows, shared=True)
    back = [p for p in both if p.what.startswith("encoder back")]
    assert back == bench.lstm_matmuls("encoder back", N, Te, D, H // 2, True)


# --- LSTM fast paths ------------------------------------------------------------------------


def make_lstm(rng):
    return LSTM(*(0.5 * rng.standard_normal(shape) for shape in ((D, 4 * H), (H, 4 * H), (4 * H,))))


def row_by_row(layer, xs, h0, mask):
    """forward with the mask's steps applied to each row alone (the general path)."""
    hs, h_last = [], []
    for r in range(xs.shape[0]):
        keep = mask[r]
        out = layer.forward(xs[r:r + 1, keep], None if h0 is None else h0[r:r + 1])
        full = np.zeros((xs.shape[1], H)) if h0 is None else np.repeat(h0[r:r + 1], xs.shape[1], 0)
        last = full[0]
        for t in range(xs.shape[1]):  # carried through the masked steps
            if keep[t]:
                last = out[0, int(keep[:t + 1].sum()) - 1]
            full[t] = last
        hs.append(full)
        h_last.append(last)
    return np.stack(hs), np.stack(h_last)


@pytest.mark.parametrize("padding", ["left", "right"])
def test_lstm_leading_rows_path_matches_rows_alone_and_gradients(padding):
    rng = np.random.default_rng(20)
    layer = make_lstm(rng)
    lengths = np.array([2, 5, 0, 3, 5])  # unsorted, one row with no real step
    T = 5
    steps = np.arange(T)[None, :]
    mask = steps >= T - lengths[:, None] if padding == "left" else steps < lengths[:, None]
    xs, h0 = rng.standard_normal((5, T, D)), rng.standard_normal((5, H))
    hs = layer.forward(xs, h0, mask=mask)
    expected, h_last = row_by_row(layer, xs, h0, mask)
    np.testing.assert_allclose(hs, expected, rtol=1e-12, atol=1e-13)
    layer.forward(xs, h0, mask=mask)
    np.testing.assert_allclose(layer.h_last, h_last, rtol=1e-12, atol=1e-13)

    R, r_h = rng.standard_normal((5, T, H)), rng.standard_normal((5, H))

    def loss():
        return np.sum(layer.forward(xs, h0, mask=mask) * R) + np.sum(layer.h_last * r_h)

    loss()
    dxs = layer.backward(R, dh_last=r_h)
    grads, dh0 = [g.copy() for g in layer.grads], layer.dh0.copy()
    assert np.all(dxs[~mask] == 0)
    assert_grad(dxs, loss, xs, "xs")
    assert_grad(dh0, loss, h0, "h0")
    for name, p, g in zip(layer.names, layer.params, grads):
        assert_grad(g, loss, p, name)


def test_lstm_backward_without_dh0_gives_the_same_gradients():
    rng = np.random.default_rng(21)
    layer = make_lstm(rng)
    xs, R = rng.standard_normal((3, 4, D)), rng.standard_normal((3, 4, H))
    layer.forward(xs)
    dxs = layer.backward(R)
    grads = [g.copy() for g in layer.grads]
    layer.forward(xs)
    np.testing.assert_allclose(layer.backward(R, need_dh0=False), dxs, rtol=1e-12, atol=1e-14)
    assert layer.dh0 is None
    for g, g2 in zip(grads, layer.grads):
        np.testing.assert_allclose(g, g2, rtol=1e-12, atol=1e-14)


def shared_ids(rng, N=12, T=6):
    """Ids from a 3-letter alphabet: many rows share their first steps, some rows are equal."""
    ids = rng.integers(0, 3, size=(N, T))
    ids[1] = ids[0]
    ids[2, :3] = ids[0, :3]
    return ids


def infer_masks(rng, N=12, T=6):
    lengths = rng.integers(0, T + 1, size=N)
    steps = np.arange(T)[None, :]
    return {"none": None,
            "left padding": steps >= T - lengths[:, None],
            "right padding": steps < lengths[:, None],
            "holes": rng.random((N, T)) < 0.6}


@pytest.mark.parametrize("which", ["none", "left padding", "right padding", "holes"])
def test_lstm_infer_matches_forward(which):
    rng = np.random.default_rng(22)
    layer = make_lstm(rng)
    embed = rng.standard_normal((3, D))
    ids = shared_ids(rng)
    mask = infer_masks(rng)[which]
    hs, h, c = layer.infer(ids, embed, mask)
    expected = layer.forward(embed[ids], mask=mask)
    np.testing.assert_allclose(hs, expected, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(h, layer.h_last, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(c, layer.c_last, rtol=1e-12, atol=1e-13)


def test_lstm_infer_computes_each_distinct_state_once(monkeypatch):
    """A step computes one row per distinct (state, id) pair: as many as distinct prefixes."""
    rng = np.random.default_rng(3)
    layer = make_lstm(rng)
    ids = shared_ids(rng, N=40)
    computed = []
    step_states = LSTM._step_states

    def counting(W, embed, states, next_states, before, read, work):
        computed.append(int(np.sum(read < len(embed))))
        return step_states(W, embed, states, next_states, before, read, work)

    monkeypatch.setattr(LSTM, "_step_states", staticmethod(counting))
    layer.infer(ids, rng.standard_normal((3, D)))
    assert computed == [len({tuple(row[:t + 1]) for row in ids}) for t in range(ids.shape[1])]
    assert computed[0] == 3 and sum(computed) < ids.size


# --- greedy decoding ------------------------------------------------------------------------


def plain_generate(model, xs, start_id, length, src_mask=None, end_id=None):
    """Greedy decoding as kanjinum first wrote it: encode, then one LSTM.step, attention and
    affine after another, every product made afresh at every step."""
    N = xs.shape[0]
    enc_hs, h = model.encode(xs, src_mask)
    enc_h, c = h, np.zeros_like(h)
    W, b = model.layers["decoder.affine"].params
    lstm, embed = model.layers["decoder.lstm"], model.layers["decoder.embed"].params[0]
    ids = np.full((N, length), end_id if end_id is not None else start_id)
    current, ended = np.full(N, start_id), np.zeros(N, dtype=bool)
    for t in range(length):
        x = embed[current]
        if model.kind == "peeky":
            x = np.concatenate((enc_h, x), axis=1)
        h, c = lstm.step(x, h, c)
        out = h
        if model.kind == "peeky":
            out = np.concatenate((enc_h, h), axis=1)
        elif model.has_attention:
            scores = np.einsum("nth,nh->nt", enc_hs, h)
            if src_mask is not None:
                scores = np.where(src_mask, scores, -np.inf)
            weights = softmax(scores, axis=1)  # as the layer: an empty question attends nothing
            out = np.concatenate((np.einsum("nt,nth->nh", weights, enc_hs), h), axis=1)
        current = (out @ W + b).argmax(axis=1)
        if end_id is not None:
            current[ended] = end_id
            ended |= current == end_id
        ids[:, t] = current
        if end_id is not None and ended.all():
            break
    return ids


def questions(rng, N=9, Te=6):
    """Reversed questions, left-padded with PAD: lengths 0..Te, the padding first."""
    lengths = np.array([0, Te, 3, 1, Te, 2, 5, 3, 4])[:N]
    xs = rng.integers(1, V, size=(N, Te)).astype(np.int32)
    mask = np.arange(Te)[None, :] >= Te - lengths[:, None]
    xs[~mask] = PAD
    return xs, mask


def random_model(kind, seed):
    rng = np.random.default_rng(seed)
    model = build_model(ModelConfig(kind, V, D, 8), seed=seed, dtype=np.float64)
    for p in model.params:
        p[...] = rng.standard_normal(p.shape) * 0.7
    return model


@pytest.mark.parametrize("kind", MODEL_KINDS)
@pytest.mark.parametrize("masked", [False, True])
def test_generate_matches_plain_decoding(kind, masked):
    for seed in range(3):
        model = random_model(kind, seed)
        xs, mask = questions(np.random.default_rng(seed + 10))
        src_mask = mask if masked else None
        end_id = PAD if masked else None
        ids, weights = model.generate(xs, 1, 5, src_mask, end_id=end_id)
        assert np.array_equal(ids, plain_generate(model, xs, 1, 5, src_mask, end_id))
        if model.has_attention:
            assert weights.shape == (9, 5, 6)
            if masked:
                assert np.all(weights[~np.broadcast_to(mask[:, None], weights.shape)] == 0)


@pytest.mark.parametrize("kind", MODEL_KINDS)
@pytest.mark.parametrize("masked", [False, True])
def test_generate_without_weights_gives_the_same_ids(kind, masked):
    """Answers only (the softmax normalised after the product, in decoding's own steps): the
    ids of decoding with weights, and no weights; an empty question (row 0) included."""
    for seed in range(3):
        model = random_model(kind, seed)
        xs, mask = questions(np.random.default_rng(seed + 20))
        src_mask, end_id = (mask, PAD) if masked else (None, None)
        ids, _ = model.generate(xs, 1, 5, src_mask, end_id=end_id)
        ids_only, weights = model.generate(xs, 1, 5, src_mask, end_id=end_id,
                                           attention_weights=False)
        assert weights is None
        assert np.array_equal(ids_only, ids)
        assert np.array_equal(ids_only, plain_generate(model, xs, 1, 5, src_mask, end_id))


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_generate_is_the_training_forward_fed_its_own_outputs(kind):
    """Scores of the training forward (teacher forcing on the decoded ids) pick those ids."""
    model = random_model(kind, 4)
    xs, _ = questions(np.random.default_rng(5))
    ids, weights = model.generate(xs, 1, 5)
    ts = np.concatenate([np.ones((len(xs), 1), np.int32), ids], axis=1)
    model.forward(xs, ts)
    probs = model.loss_layer._cache[0]  # (N, Td, V): softmax of the scores
    assert np.array_equal(probs.argmax(axis=2), ids)
    if model.has_attention:
        np.testing.assert_allclose(model.attention.weights, weights, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_generate_in_small_row_groups_drops_ended_rows_alike(kind, monkeypatch):
    """Decoding rows in groups of 3 and dropping the ended ones gives the ids of plain decoding,
    and a row attends nothing after the step that ended it. Random models and a bias towards the
    end marker; the cases where rows end at different steps are the ones that count."""
    monkeypatch.setattr(models, "DECODER_ROWS", 3)
    varied = 0
    for seed in range(12):
        for bias in (1.0, 1.5, 2.0):
            model = random_model(kind, seed)
            model.layers["decoder.affine"].params[1][PAD] += bias
            xs, mask = questions(np.random.default_rng(seed + 10))
            ids, weights = model.generate(xs, 1, 5, mask, end_id=PAD)
            assert np.array_equal(ids, plain_generate(model, xs, 1, 5, mask, PAD))
            ends = np.where((ids == PAD).any(axis=1), (ids == PAD).argmax(axis=1), 5)
            varied += len(set(ends.tolist())) > 1
            if model.has_attention:
                after_end = np.arange(5)[None, :] > ends[:, None]
                assert np.all(weights[after_end] == 0)
                attending = ~after_end & mask.any(axis=1)[:, None]  # an empty question: none
                assert np.allclose(weights[attending].sum(axis=-1), 1)
    assert varied >= 3


def test_quick_lowers_the_defaults_but_keeps_figures_given():
    """--quick used to replace --iters 50 --warmup 7 by 3 and 1, silently."""
    args = bench.parse_args(["--quick", "--iters", "50", "--warmup", "7"])
    assert (args.iters, args.warmup, args.decode_repeats) == (50, 7, 1)
    args = bench.parse_args(["--quick"])
    assert (args.iters, args.warmup, args.decode_repeats) == (3, 1, 1)
    assert not args.torch and "--quick" in args.torch_why_not  # it was said to be --no-torch
    args = bench.parse_args([])
    assert (args.iters, args.warmup, args.decode_repeats) == (30, 5, 3)


@pytest.mark.parametrize("argv, fragment", [
    (["--models", ""], "--models is empty"),
    (["--addition", "/nonexistent/a.txt"], "no such data file"),
])
def test_bench_mistakes_are_found_before_the_header(argv, fragment, capsys):
    with pytest.raises(OptionError, match=fragment):
        bench.main(argv)
    assert capsys.readouterr().out == ""


def test_a_bad_data_file_or_an_unwritable_json_is_found_before_any_timing(tmp_path, capsys,
                                                                          monkeypatch):
    """A UTF-16 --addition file was found after the kanji timings (19 s), and a --json in a
    read-only folder after the whole benchmark, named as a hidden temporary file."""
    from kanjinum.errors import DataError
    bad = tmp_path / "u16.txt"
    bad.write_bytes("1+1  _2  \n".encode("utf-16"))
    with pytest.raises(DataError, match="u16.txt"):
        bench.main(["--quick", "--addition", str(bad)])
    assert capsys.readouterr().out == ""
    locked = tmp_path / "locked"
    locked.mkdir()
    import kanjinum.fileio as fileio
    monkeypatch.setattr(fileio.os, "access", lambda path, mode: Path(path) != locked)
    with pytest.raises(OptionError, match="cannot write in the folder .*locked"):
        bench.main(["--quick", "--json", str(locked / "b.json")])
    assert capsys.readouterr().out == ""


def test_a_data_file_of_the_other_task_is_refused_before_the_header(tmp_path, capsys):
    """The book's additions given as --kanji were timed and printed as kanji figures."""
    additions = tmp_path / "add.txt"
    additions.write_text("".join(f"{a}+{a + 1:<3d}_{2 * a + 1:<4d}\n" for a in range(100, 140)),
                         encoding="utf-8")
    with pytest.raises(OptionError, match="--kanji .*add.txt holds no kanji numerals"):
        bench.main(["--quick", "--data", "kanji", "--kanji", str(additions)])
    kanji = tmp_path / "kanji.txt"
    bench.D.write_dataset(bench.D.generate_kanji(size=50, max_digits=4), kanji)
    with pytest.raises(OptionError, match="--addition .*kanji.txt holds kanji numerals: give"):
        bench.main(["--quick", "--data", "addition", "--addition", str(kanji)])
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("argv, fragment", [
    (["--json", ""], "--json is empty"),
    (["--decode-run", ""], "--decode-run is empty"),  # it said --run, which bench lacks
    (["--data", "addition", "--kanji", "k.txt"], "--kanji k.txt is not used"),
    (["--data", "kanji", "--addition", "a.txt"], "--addition a.txt is not used"),
    (["--data", "both"], "both not among kanji, addition"),
])
def test_bench_option_mistakes_found_by_a_new_user(argv, fragment, capsys):
    """Each ran the whole benchmark before: --json '' wrote nothing, a --kanji file was
    ignored when no kanji was timed."""
    with pytest.raises(OptionError, match=fragment):
        bench.main(["--quick", *argv])
    assert capsys.readouterr().out == ""


def test_bench_torch_asked_for_but_missing_is_a_mistake(monkeypatch, capsys):
    """--torch without torch installed ran the whole bench without the reference, exit 0."""
    monkeypatch.setattr(bench, "load_reference",
                        lambda: (None, "torch is not installed (pip install torch==2.13.0)"))
    with pytest.raises(OptionError, match="--torch: .*torch is not installed"):
        bench.main(["--quick", "--torch", "--models", "attention", "--data", "kanji"])
    assert capsys.readouterr().out == ""
    # not asked for: said, and the rest runs
    figures = bench.main(["--quick", "--models", "seq2seq", "--data", "addition", "--modes",
                          "skip"])
    assert figures["torch_missing"]


def test_bench_help_names_the_choices(capsys):
    """It offered `--data ... kanji, addition or both`, and refused `both`."""
    with pytest.raises(SystemExit):
        bench.parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "comma-separated: kanji, addition (default: both)" in text
    assert "comma-separated: seed, padded, skip" in text


def test_bench_times_each_named_model_once():
    args = bench.parse_args(["--quick", "--models", "attention,attention", "--modes",
                             "skip,skip"])
    assert args.models == ["attention"] and args.mode_list == ["skip"]


def test_bench_refuses_data_too_small_to_time(tmp_path):
    """A 1-line file printed 0 % of the floor and 0 decodes/s."""
    kanji = tmp_path / "k.txt"
    bench.D.write_dataset(bench.D.generate_kanji(size=10, max_digits=4), kanji)
    with pytest.raises(OptionError, match="9 training and 1 test line; timing needs a batch"):
        bench.main(["--quick", "--data", "kanji", "--kanji", str(kanji)])


def test_bench_makes_the_folder_of_its_json(tmp_path):
    """It refused a missing folder ('does not exist') where attend and gen-data make theirs."""
    out = tmp_path / "new" / "deeper" / "b.json"
    bench.main(["--quick", "--data", "addition", "--models", "seq2seq", "--modes", "padded",
                "--json", str(out)])
    assert json.loads(out.read_text(encoding="utf-8"))["results"][0]["model"] == "seq2seq"


def test_bench_reads_data_with_spaces_inside_its_questions(tmp_path):
    """The book's dates as --addition: bench's models refused their own test questions
    ("' ' is not a character this model reads"), after minutes of timing."""
    dates = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "date.txt"
    small = tmp_path / "dates.txt"
    small.write_text("".join(dates.read_text(encoding="utf-8").splitlines(True)[:400]),
                     encoding="utf-8")
    figures = bench.main(["--quick", "--data", "addition", "--models", "attention",
                          "--modes", "padded", "--addition", str(small)])
    [result] = figures["results"]
    assert result["decode_samples_per_s"] > 0 and result["decode_answer_length"] > 0


def test_bench_help_explains_every_column_of_its_table(capsys):
    """`kanjinum bench --help` gave one line of description: what ms/iter, GFLOP, floor ms or
    `% seed` mean was in docs/performance.md, which `pip install .` does not bring, and the
    legend under the table left half the columns out. Files were shown as KANJI, JSON, where
    the other commands say FILE."""
    with pytest.raises(SystemExit):
        bench.parse_args(["--help"])
    text = capsys.readouterr().out
    header = ("data model mode ms/iter cpu ms s/epoch GFLOP GFLOP/s floor ms % floor cpu % "
              "% seed x torch decode/s ans len")
    for column in ("ms/iter", "cpu ms", "s/epoch", "GFLOP", "GFLOP/s", "floor ms", "% floor",
                   "cpu %", "% seed", "x torch", "decode/s", "ans len"):
        assert column in header and f"\n  {column}:" in text, column
    for mode in ("seed", "padded", "skip"):
        assert f"\n  {mode}:" in text, mode
    for option in ("--kanji", "--addition", "--json"):
        assert f"{option} FILE" in text
    bench.print_table([], {}, bench.SgemmTimer(), [])
    legend = capsys.readouterr().out
    assert all(f"{column}:" in legend for column in ("ms/iter", "GFLOP", "floor ms", "ans len"))


@pytest.mark.parametrize("inside_a_checkout", [True, False])
def test_an_installed_kanjinum_finds_the_pytorch_reference_of_the_checkout(tmp_path,
                                                                          inside_a_checkout):
    """`pip install .` (the README's way, not editable) puts the package in site-packages,
    away from the repository's benchmarks/: with torch installed, `bench --torch` inside the
    checkout said '…/site-packages/benchmarks/torch_reference.py not found' (found by a new
    user, round 13). The reference stays a script of the repository (kanjinum/ holds no torch
    code); bench run inside a checkout finds it there."""
    import shutil

    site = tmp_path / "site"  # kanjinum as a wheel installs it, nothing beside it
    shutil.copytree(Path(bench.__file__).parent, site / "kanjinum",
                    ignore=shutil.ignore_patterns("__pycache__"))
    fake_torch = site / "torch"  # just enough of torch for the reference's module to load
    fake_torch.mkdir()
    (fake_torch / "__init__.py").write_text(
        "import types\n"
        "def no_grad():\n    return lambda function: function\n"
        "nn = types.SimpleNamespace(Module=object)\n", encoding="utf-8")
    where = tmp_path / "somewhere"
    if inside_a_checkout:
        (where / "benchmarks").mkdir(parents=True)
        shutil.copy(Path(__file__).resolve().parents[1] / "benchmarks" / "torch_reference.py",
                    where / "benchmarks")
    else:
        where.mkdir()
    found = subprocess.run(
        [sys.executable, "-c", "from kanjinum import bench; reference, why = "
         "bench.load_reference(); print(why or reference.Trainer)"],
        capture_output=True, text=True, cwd=where, env={"PYTHONPATH": str(site)})
    assert found.returncode == 0, found.stdout + found.stderr
    if inside_a_checkout:
        assert "Trainer" in found.stdout and "not found" not in found.stdout
    else:
        assert "not found" in found.stdout and "inside a checkout" in found.stdout


def test_the_sgemm_rates_stand_in_one_column(capsys):
    """bench --quick printed `(400x9)@(9x64)    35.3` beside `(16x16)@(16x64)  14.7`: the
    rates moved with the width of the shapes (found by a new user, round 13)."""
    class Rates:
        def gflops(self, m, k, n):
            return 12.5

    shapes = [("a", (16, 16, 16)), ("b", (400, 9, 64)), ("c", (16, 384, 1024))]
    bench.print_table([], {}, Rates(), shapes)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.endswith("12.5")]
    assert len(lines) == 3 and len({len(line) for line in lines}) == 1, lines


def test_bench_json_ending_in_a_slash_names_a_folder(tmp_path):
    """`bench --json results/` timed everything and then wrote a file named results."""
    with pytest.raises(OptionError, match="names a folder; .* e.g. --json .*/results/bench.json"):
        bench.main(["--quick", "--data", "addition", "--models", "seq2seq", "--modes", "padded",
                    "--json", f"{tmp_path}/results/"])
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("option", ["--json", "--kanji", "--addition"])
def test_bench_names_a_folder_given_for_a_file(tmp_path, option, capsys):
    """`--json .` (an existing folder, no final slash) was refused as "exists and is not an
    earlier kanjinum bench file", and `--kanji somefolder` as "no such data file"."""
    said = {"--json": f"--json {tmp_path} names a folder; name the file to write in it, e.g. "
                      f"--json {tmp_path / 'bench.json'}",
            "--kanji": f"--kanji {tmp_path} is a folder, not a data file",
            "--addition": f"--addition {tmp_path} is a folder, not a data file"}[option]
    with pytest.raises(OptionError) as refused:
        bench.main(["--quick", option, str(tmp_path)])
    assert str(refused.value).startswith(said)
    assert capsys.readouterr().out == ""


def test_bench_help_names_the_models_and_each_columns_json_field(tmp_path, capsys):
    """--models said only "comma-separated models"; a user with the --json file could not tell
    which field a column is, and the help said GFLOP/s was "GFLOP per second of ms/iter", which
    mode skip's is not (it is of the mean iteration, as s/epoch is). The table, the JSON and the
    help agree."""
    fields = {"ms/iter": "iteration_s", "cpu ms": "iteration_cpu_s", "s/epoch": "epoch_s",
              "GFLOP": "gflop_per_iteration", "GFLOP/s": "gflop_per_s", "floor ms": "floor_s",
              "% floor": "floor_percent", "cpu %": "floor_percent_cpu",
              "% seed": "seed_floor_percent", "decode/s": "decode_samples_per_s",
              "ans len": "decode_answer_length"}
    with pytest.raises(SystemExit):
        bench.parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "comma-separated: seq2seq, peeky, attention, bi-attention (default: all)" in text
    for column, field in fields.items():
        assert f" {column}: " in text and f"[{field}" in text, column
    assert "[torch_paired.times_faster]" in text
    assert "GFLOP/s: GFLOP per second of ms/iter (mode skip: of the mean iteration)" in text
    out = tmp_path / "b.json"
    bench.main(["--quick", "--models", "attention", "--data", "addition", "--json", str(out)])
    table = capsys.readouterr().out
    for r in json.loads(out.read_text(encoding="utf-8"))["results"]:
        measured = r["iteration_mean_s"] if r["mode"] == "skip" else r["iteration_s"]
        assert r["gflop_per_s"] == pytest.approx(r["gflop_per_iteration"] / measured)
        assert r["epoch_s"] == pytest.approx(r["iterations_per_epoch"] * measured)
        row = next(line.split() for line in table.splitlines()
                   if line.startswith(f"addition  attention    {r['mode']} "))
        assert float(row[3]) == pytest.approx(1e3 * r["iteration_s"], abs=0.051)
        assert float(row[6]) == pytest.approx(r["gflop_per_iteration"], abs=0.0051)
        assert float(row[-2]) == pytest.approx(r["decode_samples_per_s"], abs=0.51)


def test_the_bench_script_exits_as_kanjinum_bench_does(tmp_path):
    """benchmarks/bench_train.py said a usage mistake in one line but exited 1 (sys.exit of a
    message), where `kanjinum bench` exits 2."""
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_train.py"
    for args in (["--models", "foo"], ["--kanji", str(tmp_path / "none.txt")],
                 ["--decode-run", str(tmp_path / "none")]):
        done = subprocess.run([sys.executable, str(script), "--quick", *args],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, args
        assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1


def test_bench_says_which_data_its_epochs_are_of(tmp_path, capsys):
    """s/epoch is iterations per epoch x ms/iter, but neither the table nor the JSON said how
    large the data timed was: --quick's in-memory 600 lines or a --kanji file of the user's
    own gave epochs of other sizes than the docs' tables, without a word."""
    kanji = tmp_path / "k.txt"
    bench.D.write_dataset(bench.D.generate_kanji(size=300, max_digits=6), kanji)
    figures = bench.main(["--quick", "--models", "seq2seq", "--modes", "padded", "--kanji",
                          str(kanji)])
    out = capsys.readouterr().out
    for task, lines, file in (("kanji", 300, str(kanji)), ("addition", 600, None)):
        info = figures["datasets"][task]
        assert info["lines"] == lines and info["file"] == file
        assert info["train_lines"] + info["test_lines"] == lines
        [r] = [r for r in figures["results"] if r["data"] == task]
        assert info["iterations_per_epoch"] == r["iterations_per_epoch"]
        assert out.count(f"{task}: {lines} lines (") == 2  # as it starts, and above the table
        assert f"{info['iterations_per_epoch']} iterations per epoch" in out


def test_a_trained_run_of_other_numerals_is_told_which_data_to_time_it_on():
    """A run trained on daiji numerals (gen-data --style daiji) was refused as "trained on
    other data", and nothing said that --kanji with its own file times it; an addition run is
    told that --decode-run decodes kanji numerals only."""
    from dataclasses import replace

    from kanjinum import data as D
    from kanjinum.train import Run, TrainConfig

    test = D.Dataset(["一億一", "三兆"], ["100000001", "3000000000000"], 25, 13)
    for texts, data, said in ((["壱阡弐百萬参拾", "0123456789"], "my daiji.txt",
                               "trained on my daiji.txt: time it on that data with --kanji "
                               "'my daiji.txt'"),
                              (["0123456789+"], "add.txt", "trained on add.txt; --decode-run "
                               "times the decoding of kanji numerals only")):
        vocab = D.Vocab.from_texts(texts)
        model = build_model(ModelConfig("attention", len(vocab), 4, 8), seed=0)
        run = Run(model, vocab, 7, 13, True, True, replace(TrainConfig(), data=data))
        with pytest.raises(OptionError) as refused:
            bench.readable_questions("runs/r", run, test)
        assert str(refused.value).endswith(f"none of the kanji test questions (it was {said})")


@pytest.mark.parametrize("args, said", [
    (["--iters", "0"], "error: --iters must be at least 1, not 0"),
    (["--batch", "0"], "error: --batch must be at least 1, not 0"),
    (["--data", "nosuch.txt"], "error: data file nosuch.txt not found"),
    (["--data", "three.txt"], "error: 3 lines give 3 training and 0 test lines; timing needs "
                              "a batch (128) of training lines and some test lines"),
])
def test_torch_reference_script_mistakes_are_one_line(tmp_path, args, said):
    """benchmarks/torch_reference.py, run on its own as docs/performance.md shows: these were
    tracebacks (DataError; a modulo by 0 batches; no median of 0 iterations). A stand-in torch
    that lets the module load: the mistakes are found before torch is used."""
    import os

    fake_torch = tmp_path / "site" / "torch"
    fake_torch.mkdir(parents=True)
    (fake_torch / "__init__.py").write_text(
        "import types\n"
        "def no_grad():\n    return lambda function: function\n"
        "nn = types.SimpleNamespace(Module=object)\n", encoding="utf-8")
    root = Path(__file__).resolve().parents[1]
    data = (root / "data" / "kanji.txt").read_text(encoding="utf-8").splitlines(True)
    (tmp_path / "three.txt").write_text("".join(data[:3]), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(root / "benchmarks" / "torch_reference.py"), *args],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": f"{tmp_path / 'site'}{os.pathsep}{root}"})
    assert done.returncode == 2 and done.stderr == said + "\n", done.stderr


def test_torch_reference_script_without_torch_says_so_in_one_line(tmp_path):
    """Run on its own where torch cannot be imported, it ended in ModuleNotFoundError's
    traceback; kanjinum bench, which loads it as a module, still gets the ImportError."""
    import os

    broken = tmp_path / "site" / "torch"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('no torch here')\n", encoding="utf-8")
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, str(root / "benchmarks" / "torch_reference.py")], capture_output=True,
        text=True, timeout=60, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": f"{tmp_path / 'site'}{os.pathsep}{root}"})
    assert done.returncode == 1 and done.stderr == (
        "error: torch cannot be imported (no torch here): this yardstick needs it, e.g. "
        ".venv/bin/pip install torch==2.13.0\n")


def test_recipe_script_finds_the_python_of_kanjinum_on_path(tmp_path):
    """benchmarks/recipe_experiments.sh with kanjinum on PATH, as docs/recipe-experiments.md
    runs it: it took the Python beside `dirname kanjinum`, i.e. ./python, and every run ended
    in `./python: No such file or directory` (status 127) after its training and evals."""
    bin_dir = Path(sys.executable).parent
    if not (bin_dir / "kanjinum").exists() or shutil.which("bash") is None:
        pytest.skip("needs bash and the kanjinum console script beside this Python")
    root = Path(__file__).resolve().parent.parent
    data = (root / "data" / "kanji.txt").read_text(encoding="utf-8").splitlines(True)[:300]
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "d0.txt").write_text("".join(data), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("KANJINUM", "KANJINUM_PYTHON")}
    env.update(RECIPE_DIR=str(tmp_path), PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
               OPENBLAS_NUM_THREADS="1")
    done = subprocess.run(["bash", str(root / "benchmarks" / "recipe_experiments.sh"), "--probe"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("attention 128 128 ") and "s/epoch" in done.stdout


def test_recipe_script_needs_kanjinum_only_to_run_it(tmp_path):
    """With no kanjinum to be found, the script says so in one line, status 2, before any
    work; but --list and --table, which run no kanjinum, ended so too once it looked for
    kanjinum's Python at its start."""
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("needs bash")
    bare = tmp_path / "bin"  # a PATH with the tools the script uses, and no kanjinum
    bare.mkdir()
    # python3 as the interpreter itself: a pyenv shim is a script that needs more of PATH
    (bare / "python3").symlink_to(os.path.realpath(sys.executable))
    for tool in ("bash", "mkdir", "dirname", "head", "sed"):
        found = shutil.which(tool)
        if found is None:
            pytest.skip(f"needs {tool}")
        (bare / tool).symlink_to(found)
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "recipe_experiments.sh"
    env = {k: v for k, v in os.environ.items() if k not in ("KANJINUM", "KANJINUM_PYTHON")}
    env.update(RECIPE_DIR=str(tmp_path / "w"), PATH=str(bare))

    def recipe(*args):
        return subprocess.run([bash, str(script), *args], capture_output=True, text=True,
                              timeout=60, cwd=tmp_path, env=env)

    listed = recipe("--list")
    assert listed.returncode == 0 and listed.stdout.startswith("d0|\n"), listed.stderr
    tabled = recipe("--table")
    assert tabled.returncode == 0 and tabled.stdout.startswith("| run |"), tabled.stderr
    probed = recipe("--probe")
    assert probed.returncode == 2 and probed.stderr == (
        "error: kanjinum not found; activate the environment that has kanjinum, or set "
        "KANJINUM\n")


@pytest.mark.parametrize("name, said", [
    ("nosuch", "error: nosuch: no such folder; name run folders, e.g. runs/add-peeky"),
    ("empty", "error: empty: no history.json in it; name run folders, e.g. runs/add-peeky"),
])
def test_results_table_script_names_a_folder_without_a_history(tmp_path, name, said):
    """benchmarks/results_table.py, which docs/results.md runs over run folders, ended in a
    FileNotFoundError traceback for a mistyped folder or one with no epoch done."""
    (tmp_path / "empty").mkdir()
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "results_table.py"
    done = subprocess.run([sys.executable, str(script), name], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    assert done.returncode == 2 and done.stderr == said + "\n" and done.stdout == ""


@pytest.mark.parametrize("option, most", [("--iters", 300), ("--warmup", 100),
                                          ("--decode-repeats", 30)])
def test_bench_counts_are_bounded_as_help_says(option, most, capsys):
    """--iters had no upper bound: a huge N (a mistyped 30000) timed every row of the table for
    days without a word. Its range is in --help, as train's and gen-data's are."""
    with pytest.raises(OptionError, match=f"{option} must be at most {most}, not {most + 1}"):
        bench.main(["--quick", "--models", "seq2seq", "--data", "addition", "--modes", "skip",
                    option, str(most + 1)])
    assert capsys.readouterr().out == ""
    assert getattr(bench.parse_args([option, str(most)]), option[2:].replace("-", "_")) == most
    with pytest.raises(SystemExit):
        bench.parse_args(["--help"])
    assert f"to {most} (default" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("argv, near", [(["--iter", "5"], "(Possible options: --iters)"),
                                        (["--model", "attention"], "--models")])
def test_a_mistyped_bench_option_names_the_ones_it_is_near(argv, near, capsys):
    """`kanjinum bench --iter 5` said `unrecognized arguments: --iter 5` and no more, where
    the other commands (click) name the options a mistyped one is near."""
    with pytest.raises(OptionError, match=re.escape(near)):
        bench.parse_args(argv)
    with pytest.raises(OptionError) as refused:
        bench.parse_args(["--xyzzy"])
    assert "Possible" not in str(refused.value)
