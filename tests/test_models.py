import re

import numpy as np
import pytest

from kanjinum.models import MODEL_KINDS, ModelConfig, build_model
from kanjinum.optim import Adam, clip_grads

from gradcheck import assert_grad

V, D, H = 7, 3, 6


def _batch(rng, N=3, Te=4, Td=4):
    xs = rng.integers(0, V, size=(N, Te)).astype(np.int32)
    ts = rng.integers(0, V, size=(N, Td + 1)).astype(np.int32)
    src_mask = np.ones((N, Te), dtype=bool)
    src_mask[0, :2] = False          # a reversed, left-padded question
    tgt_mask = np.ones((N, Td), dtype=bool)
    tgt_mask[1, 2:] = False          # an answer that ended early
    return xs, ts, src_mask, tgt_mask


@pytest.mark.parametrize("kind", MODEL_KINDS)
@pytest.mark.parametrize("masked", [False, True])
def test_model_gradients_match_numerical(kind, masked):
    rng = np.random.default_rng(0)
    model = build_model(ModelConfig(kind, V, D, H), seed=1, dtype=np.float64)
    for p in model.params:  # larger weights than the book's init, so every path matters
        p[...] = rng.standard_normal(p.shape) * 0.5
    xs, ts, src_mask, tgt_mask = _batch(rng)
    if not masked:
        src_mask = tgt_mask = None

    def loss():
        return model.forward(xs, ts, src_mask, tgt_mask)

    loss()
    model.backward()
    for name, param, grad in zip(model.named_params(), model.params, model.grads):
        assert_grad(grad, loss, param, f"{kind} {name}")


def _left_padded_batch(rng, N=6, Te=6, Td=3):
    """Reversed questions of many lengths padded with id 0, as the seed trains (no mask)."""
    xs = np.zeros((N, Te), dtype=np.int32)
    for row, length in enumerate([6, 0, 1, 1, 4, 3][:N]):
        xs[row, Te - length:] = rng.integers(1, V, length)
    return xs, rng.integers(0, V, size=(N, Td + 1)).astype(np.int32)


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_padding_states_computed_once_change_nothing(kind):
    """The encoder's shared leading steps (share_leading_steps) give the loss and gradients of
    every row computed on its own, and the model's gradients still match central differences."""
    rng = np.random.default_rng(4)
    model = build_model(ModelConfig(kind, V, D, H), seed=2, dtype=np.float64)
    for p in model.params:
        p[...] = rng.standard_normal(p.shape) * 0.5
    xs, ts = _left_padded_batch(rng)
    assert model.encoder_lead(xs, None) is not None
    results = {}
    for share in (False, True):
        model.share_leading_steps = share
        loss = model.forward(xs, ts)
        model.backward()
        results[share] = loss, [g.copy() for g in model.grads]
    assert np.isclose(results[True][0], results[False][0], rtol=1e-13)
    for own, shared in zip(results[False][1], results[True][1]):
        np.testing.assert_allclose(shared, own, rtol=1e-11, atol=1e-13)
    for name, param, grad in zip(model.named_params(), model.params, results[True][1]):
        assert_grad(grad, lambda: model.forward(xs, ts), param, f"{kind} {name}")


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_masked_padding_changes_nothing(kind):
    """Left padding under the mask gives the same loss as the question without it."""
    rng = np.random.default_rng(3)
    model = build_model(ModelConfig(kind, V, D, H), seed=2, dtype=np.float64)
    xs = rng.integers(1, V, size=(2, 3)).astype(np.int32)
    ts = rng.integers(1, V, size=(2, 4)).astype(np.int32)
    padded = np.concatenate([np.zeros((2, 2), dtype=np.int32), xs], axis=1)
    src_mask = np.concatenate([np.zeros((2, 2), bool), np.ones((2, 3), bool)], axis=1)
    assert np.isclose(model.forward(xs, ts), model.forward(padded, ts, src_mask))


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_generate_is_batched_and_matches_teacher_forcing(kind):
    """Greedy decoding of a batch gives, row by row, what decoding each row alone gives, and
    its scores agree with the training forward fed its own outputs."""
    rng = np.random.default_rng(5)
    model = build_model(ModelConfig(kind, V, D, H), seed=3, dtype=np.float64)
    for p in model.params:
        p[...] = rng.standard_normal(p.shape) * 0.5
    xs = rng.integers(0, V, size=(6, 5)).astype(np.int32)
    ids, weights = model.generate(xs, start_id=1, length=4)
    assert ids.shape == (6, 4)
    for row in range(6):
        alone, _ = model.generate(xs[row:row + 1], start_id=1, length=4)
        assert np.array_equal(alone[0], ids[row])
    if kind in ("attention", "bi-attention"):
        assert weights.shape == (6, 4, 5)
        assert np.allclose(weights.sum(axis=2), 1.0)
        ts = np.concatenate([np.ones((6, 1), np.int32), ids], axis=1)
        model.forward(xs, ts)
        assert np.allclose(model.attention.weights, weights)
    else:
        assert weights is None


def test_generate_stops_at_the_end_marker():
    model = build_model(ModelConfig("attention", V, D, H), seed=0)
    # Bias the output layer so that id 0 always wins: every row ends at once.
    model.layers["decoder.affine"].params[1][0] = 100.0
    ids, weights = model.generate(np.ones((3, 4), np.int32), start_id=1, length=6, end_id=0)
    assert (ids == 0).all() and weights.shape == (3, 6, 4)


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_generate_refuses_ids_outside_the_vocabulary(kind):
    """Questions encoded with another, larger vocabulary were answered without a word: the
    decoding encoder packs (state, id) into one number, so id V read as a masked step and
    larger ids as other states' steps (the training forward raised numpy's IndexError)."""
    model = build_model(ModelConfig(kind, V, D, H), seed=0)
    xs = np.full((2, 4), 2, np.int32)
    model.generate(xs, start_id=1, length=3)
    for bad in (V, V + 3, -1):
        xs[1, 2] = bad
        with pytest.raises(ValueError, match=rf"ids outside 0..{V - 1}.*run\.vocab"):
            model.generate(xs, start_id=1, length=3)
    with pytest.raises(TypeError, match="integer ids"):
        model.generate(np.ones((2, 4)), start_id=1, length=3)


def test_a_model_config_names_sizes_that_are_not_whole_numbers():
    # ModelConfig(hidden="8") failed with "'<' not supported between instances of 'str' and
    # 'int'"; hidden=8.0 was taken, and failed in numpy when the weights were drawn
    for bad in ("8", 8.0, None, True):
        with pytest.raises(TypeError, match=rf"hidden {re.escape(repr(bad))} is not a whole number"):
            ModelConfig("attention", V, D, bad)
    config = ModelConfig("attention", np.int64(V), np.int64(D), np.int64(H))
    assert type(config.hidden) is int and build_model(config).config == ModelConfig("attention", V, D, H)


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_a_mask_of_another_shape_than_its_ids_is_named(kind):
    """A mask of other rows or columns than its ids failed deep inside (numpy's IndexError,
    'list index out of range', a broadcast error), or, for seq2seq and peeky, was taken: a
    (2, 4) mask for 3 questions gave a loss, a (3, 5) one for questions of 4 ids answers."""
    rng = np.random.default_rng(4)
    model = build_model(ModelConfig(kind, V, D, H), seed=0)
    xs, ts, src_mask, tgt_mask = _batch(rng)  # xs (3, 4), ts (3, 5)
    for bad in (src_mask[:2], np.ones((3, 5), bool), np.ones((3, 3), bool)):
        with pytest.raises(ValueError, match=rf"src_mask has shape \({bad.shape[0]}, "
                                             rf"{bad.shape[1]}\); it must be xs's, \(3, 4\)"):
            model.forward(xs, ts, bad, tgt_mask)
        with pytest.raises(ValueError, match="src_mask has shape"):
            model.generate(xs, start_id=1, length=3, src_mask=bad)
    with pytest.raises(ValueError, match=r"tgt_mask has shape \(3, 5\); it must be ts\[:, 1:\]'s, "
                                         r"\(3, 4\)"):
        model.forward(xs, ts, src_mask, np.ones((3, 5), bool))
    model.forward(xs, ts, src_mask, tgt_mask)


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_the_training_forward_takes_lists_and_refuses_ids_outside_the_vocabulary(kind):
    """A training loop of one's own: ids as lists failed with "list indices must be integers
    or slices, not tuple"; an id of V or more with numpy's IndexError from deep inside, and a
    negative one was taken for a row counted from the end, without a word."""
    rng = np.random.default_rng(3)
    model = build_model(ModelConfig(kind, V, D, H), seed=0, dtype=np.float64)
    xs, ts, _, _ = _batch(rng)
    loss = model.forward(xs, ts)
    assert model.forward(xs.tolist(), ts.tolist()) == loss
    for name, bad in (("xs", V), ("ts", -1)):
        wrong = {"xs": xs.copy(), "ts": ts.copy()}
        wrong[name][0, 1] = bad
        with pytest.raises(ValueError, match=rf"{name} holds ids outside 0..{V - 1}"):
            model.forward(wrong["xs"], wrong["ts"])
    with pytest.raises(TypeError, match="ts must hold integer ids"):
        model.forward(xs, ts.astype(float))


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_generate_between_forward_and_backward_changes_no_gradient(kind):
    """A training loop that decodes a sample between forward and backward: bi-attention's
    decoding ran the encoder's own layers, which keep what backward needs, so the gradients
    were those of a mix of the two batches."""
    rng = np.random.default_rng(6)
    model = build_model(ModelConfig(kind, V, D, H), seed=1, dtype=np.float64)
    xs, ts, src_mask, tgt_mask = _batch(rng)
    model.forward(xs, ts, src_mask, tgt_mask)
    model.backward()
    alone = [g.copy() for g in model.grads]
    model.forward(xs, ts, src_mask, tgt_mask)
    model.generate(rng.integers(0, V, size=(5, 6)), start_id=1, length=3)
    model.backward()
    for name, before, after in zip(model.named_params(), alone, model.grads):
        assert np.array_equal(before, after), name


def test_bi_attention_decodes_on_kept_layers_that_follow_its_weights():
    """Decoding on layers of its own (see the test above) made two LSTMs per generate: their
    work buffers, allocated afresh each time, made a batch of 1,000 questions decode 20 %
    slower. The layers are kept, and still read the weights the model holds now."""
    rng = np.random.default_rng(2)
    model = build_model(ModelConfig("bi-attention", V, D, H), seed=1)
    other = build_model(ModelConfig("bi-attention", V, D, H), seed=2)
    xs = rng.integers(0, V, size=(5, 6)).astype(np.int32)

    def answers(m):
        return m.generate(xs, start_id=1, length=4)[0].tolist()

    assert answers(model) != answers(other)
    buffers = {name: dict(lstm._buffers) for name, lstm in model._decoding_lstms.items()}
    assert sorted(buffers) == ["encoder.lstm", "encoder.lstm_back"]
    model.load_params(other.named_params())  # weights copied in, as a checkpoint is loaded
    assert answers(model) == answers(other)
    for name, kept in buffers.items():
        assert all(model._decoding_lstms[name]._buffers[key] is memory
                   for key, memory in kept.items()), name
    # encoder layers replaced outright: decoded with the new ones, as a model built so is
    third = build_model(ModelConfig("bi-attention", V, D, H), seed=3)
    expected = build_model(ModelConfig("bi-attention", V, D, H), seed=2)
    for m in (model, expected):
        m.layers["encoder.lstm"] = third.layers["encoder.lstm"]
        m.layers["encoder.lstm_back"] = third.layers["encoder.lstm_back"]
    assert answers(model) == answers(expected) != answers(other)


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_tiny_model_overfits_a_few_examples(kind):
    rng = np.random.default_rng(0)
    xs = rng.integers(1, V, size=(16, 4)).astype(np.int32)
    ts = np.concatenate([np.zeros((16, 1), np.int32), xs[:, ::-1]], axis=1)  # reverse the input
    model = build_model(ModelConfig(kind, V, 8, 32), seed=0)
    optimizer = Adam(lr=0.02)
    first = model.forward(xs, ts)
    for _ in range(150):
        loss = model.forward(xs, ts)
        model.backward()
        clip_grads(model.grads, 5.0)
        optimizer.update(model.params, model.grads)
    assert loss < first / 10
    ids, _ = model.generate(xs, start_id=0, length=4)
    assert np.mean(ids == ts[:, 1:]) > 0.9


def test_load_params_checks_names_and_shapes():
    model = build_model(ModelConfig("peeky", V, D, H))
    other = build_model(ModelConfig("attention", V, D, H))
    with pytest.raises(ValueError, match="do not fit"):
        model.load_params({"x": np.zeros(1)})
    params = model.named_params()
    params["decoder.affine.W"] = np.zeros((1, 1), np.float32)
    with pytest.raises(ValueError, match="shape"):
        model.load_params(params)
    # the attention model's affine reads 2H, the same as peeky's: shapes alone can't tell
    # them apart, but the decoder LSTM input size can
    with pytest.raises(ValueError):
        model.load_params(other.named_params())


def test_same_seed_same_weights():
    a = build_model(ModelConfig("attention", V, D, H), seed=4).named_params()
    b = build_model(ModelConfig("attention", V, D, H), seed=4).named_params()
    c = build_model(ModelConfig("attention", V, D, H), seed=5).named_params()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not all(np.array_equal(a[k], c[k]) for k in a)
    assert all(v.dtype == np.float32 for v in a.values())


@pytest.mark.parametrize("mask", [False, True])
def test_predict_answers_in_the_callers_order_whatever_the_batches(mask):
    """Run.predict sorts the questions by length before decoding them in batches: each answer
    and its attention weights are those of the question decoded alone, in the given order."""
    from kanjinum import data as D
    from kanjinum.train import Run

    vocab = D.Vocab.from_texts(["一二三四五六七八九十百千万", "0123456789"])
    rng = np.random.default_rng(3)
    model = build_model(ModelConfig("attention", len(vocab), 4, 8), seed=3, dtype=np.float64)
    for p in model.params:
        p[...] = rng.standard_normal(p.shape)
    run = Run(model, vocab, question_width=7, answer_width=5, reverse=True, mask=mask)
    questions = ["一", "三千五百", "十", "九万九千九百九十九", "二百", "七", "千万", "四十五"]
    questions = [q[:7] for q in questions]
    answers, weights = run.predict(questions, batch=3)
    for question, answer, weight in zip(questions, answers, weights):
        alone, alone_weights = run.predict([question])
        assert answer == alone[0]
        np.testing.assert_allclose(weight, alone_weights[0], rtol=1e-10, atol=1e-12)
        assert weight.shape[1] == len(question) + (0 if mask else 1)  # + the padding's total
        assert np.allclose(weight.sum(axis=1), 1)


def test_predict_refuses_what_it_would_read_wrongly():
    """predict read a bare string character by character, spaces as padding, and digits (in
    the vocabulary for the answers) as questions: wrong answers, silently."""
    from pathlib import Path

    from kanjinum.errors import VocabError
    from kanjinum.train import load_run
    run = load_run(Path(__file__).resolve().parent.parent / "kanjinum" / "default_model")
    with pytest.raises(TypeError, match=r"\[question\]"):
        run.predict("一億一")
    for bad in (" 一億一 ", "123", "一x", "一" * 26):
        with pytest.raises(VocabError):
            run.predict(["一", bad])
    with pytest.raises(ValueError, match="batch"):
        run.predict(["一"], batch=0)
    answers, weights = run.predict(["一億一", ""])  # an empty question is decoded, not a crash
    assert answers[0] == "100000001" and len(answers) == 2 and weights[1].shape[1] == 0


def test_predict_names_questions_and_batches_of_the_wrong_type():
    """predict([1]) failed inside with "'int' object is not iterable", a generator with
    "has no len()", batch=1.5 inside range()."""
    from pathlib import Path

    from kanjinum.train import load_run
    run = load_run(Path(__file__).resolve().parent.parent / "kanjinum" / "default_model")
    for bad, named in (([1], "not int (1)"), (["一", None], "not NoneType (None)")):
        with pytest.raises(TypeError, match=re.escape(named)):
            run.predict(bad)
    for batch in (1.5, "2", True):
        with pytest.raises(TypeError, match="batch must be a whole number"):
            run.predict(["一"], batch=batch)
    assert run.predict((q for q in ["一億一", "二"]), attention=False)[0] == ["100000001", "2"]


def test_the_librarys_mistakes_are_value_errors():
    """A notebook catches a question the model cannot read, a bad setting or a missing run as
    it catches numpy's value errors; they were bare Exceptions."""
    from pathlib import Path

    from kanjinum.errors import DataError, KanjinumError, OptionError, RunError, VocabError
    from kanjinum.train import TrainConfig, load_run
    assert all(issubclass(e, ValueError)
               for e in (KanjinumError, DataError, VocabError, RunError, OptionError))
    run = load_run(Path(__file__).resolve().parent.parent / "kanjinum" / "default_model")
    with pytest.raises(ValueError):
        run.predict(["一x"])
    with pytest.raises(ValueError):
        TrainConfig(hidden=0).check()
    with pytest.raises(ValueError):
        load_run(Path(__file__).parent / "no such run")


def test_the_readme_names_every_kind_of_the_librarys_errors():
    """The README listed VocabError, DataError, RunError and OptionError, and a notebook whose
    fit met a nan loss caught a TrainingStopped (defined in kanjinum.train) that it never named."""
    from pathlib import Path

    import kanjinum.cli  # noqa: F401  every module that defines a kind is imported by now
    from kanjinum.errors import KanjinumError

    def kinds(cls):
        return [k for sub in cls.__subclasses__() for k in (sub, *kinds(sub))]

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    found = kinds(KanjinumError)
    assert {k.__name__ for k in found} >= {"VocabError", "DataError", "RunError", "OptionError"}
    assert [k.__name__ for k in found if f"{k.__name__}`" not in readme] == []


def test_a_run_prints_in_one_short_line():
    """It printed its whole vocabulary and training settings, about 1 KB (a new user)."""
    from kanjinum.train import load_run
    text = repr(load_run("default"))
    assert "\n" not in text and len(text) < 200
    assert text.startswith("Run(attention, wordvec=16, hidden=64") and "default_model" in text


def test_an_answer_prints_in_one_line():
    """In a notebook an Answer printed its whole weight array, 9 lines for 一億一."""
    from pathlib import Path

    from kanjinum.infer import answer_numerals
    from kanjinum.train import load_run
    run = load_run(Path(__file__).resolve().parent.parent / "kanjinum" / "default_model")
    found = answer_numerals(run, ["一億一"])[0]
    assert repr(found) == ("Answer(question='一億一', answer='100000001', truth=100000001, "
                           "correct=True, weights=9x3)")


def test_evaluate_takes_a_path_and_prints_short():
    """evaluate(run, "data/hard.txt") raised AttributeError, and an Evaluation printed every
    question (92 KB for data/hard.txt)."""
    from pathlib import Path

    from kanjinum.train import evaluate, load_run
    root = Path(__file__).resolve().parent.parent
    run = load_run(root / "kanjinum" / "default_model")
    found = evaluate(run, root / "data" / "hard.txt")
    assert found.accuracy == evaluate(run, str(root / "data" / "hard.txt")).accuracy == 1.0
    assert repr(found) == "Evaluation(2,285 questions, accuracy 100.00%, 2,285 right, 0 unreadable)"
    with pytest.raises(TypeError, match="Dataset or a data file"):
        evaluate(run, ["一"])


def test_evaluate_and_answer_numerals_name_the_run_they_take():
    """evaluate("default", …) and answer_numerals("default", …), the run's name as the CLI's
    --run takes it, failed inside: "'str' object has no attribute 'why_unreadable'"."""
    from pathlib import Path

    from kanjinum.infer import answer_numerals
    from kanjinum.train import evaluate
    data = Path(__file__).resolve().parent.parent / "data" / "hard.txt"
    with pytest.raises(TypeError, match=r"evaluate takes a Run .*not str: load it first, "
                                        r"load_run\('default'\)"):
        evaluate("default", data)
    with pytest.raises(TypeError, match=r"answer_numerals takes a Run .*not NoneType$"):
        answer_numerals(None, ["一"])
    with pytest.raises(TypeError, match=r"not \w*Path: load it first"):
        answer_numerals(Path("runs/r"), ["一"])


def test_a_heatmaps_title_says_right_or_wrong_in_words_not_with_a_zero():
    """The title marked a right answer ○, the circle kanjinum reads as 〇 (zero): 一億一 → 100000001 ○
    reads as one more zero. A wrong one was marked × with nothing of what is right."""
    from pathlib import Path

    from kanjinum.infer import Answer, answer_numerals
    from kanjinum.numerals import fold_look_alikes
    from kanjinum.train import load_run
    run = load_run(Path(__file__).resolve().parent.parent / "kanjinum" / "default_model")
    right, wrong = answer_numerals(run, ["一億一", "一千"])
    assert right.panel()["title"] == "一億一 → 100000001 (right)"
    assert wrong.panel()["title"] == "一千 → 100 (wrong: 1000)"
    for answer in (right, wrong):  # nothing in it that could be read as a numeral's character
        title = answer.panel()["title"]
        assert fold_look_alikes(title) == title
    assert Answer("16+75", "91", None, None).panel()["title"] == "16+75 → 91"
    unreadable = Answer("一一", "11", None, None, "cannot read it")
    assert unreadable.panel()["title"] == "一一 → 11 (the parser cannot read it)"


def test_answer_numerals_reads_a_generator_of_numerals():
    """answer_numerals(run, (n for n in numerals)) answered [] without a word: its type check
    used the generator up (predict reads one)."""
    from kanjinum.infer import answer_numerals
    from kanjinum.train import load_run
    run = load_run("default")
    found = answer_numerals(run, (n for n in ["一億一", "二"]))
    assert [a.answer for a in found] == ["100000001", "2"]


def test_predict_given_a_dataset_or_its_path_says_what_it_takes():
    """run.predict(test_set) or run.predict(Path("data/hard.txt")) failed with "'Dataset'
    object is not iterable"."""
    from pathlib import Path

    from kanjinum.data import read_dataset
    from kanjinum.train import load_run
    run = load_run("default")
    path = Path(__file__).resolve().parent.parent / "data" / "hard.txt"
    for given in (read_dataset(path), path):
        with pytest.raises(TypeError, match=r"not a \w+: pass read_dataset\(path\)\.questions.*"
                                            r"evaluate\(run"):
            run.predict(given)
