"""Gradient checks of every layer (float64, central differences) and forward-pass oracles."""

import numpy as np
import pytest

from kanjinum.layers import (
    LSTM,
    Attention,
    Embedding,
    SoftmaxCrossEntropy,
    TimeAffine,
    shared_lead,
    sigmoid,
    softmax,
)

from gradcheck import assert_grad  # noqa: E402

RAISE = {"over": "raise", "divide": "raise", "invalid": "raise"}  # what numpy warns about


def randn(rng, *shape):
    return rng.standard_normal(shape)


# --- helpers --------------------------------------------------------------------------------


def test_sigmoid_is_stable_and_matches_definition():
    x = np.array([-1000.0, -30.0, -1.0, 0.0, 2.0, 1000.0], dtype=np.float32)
    with np.errstate(**RAISE):
        y = sigmoid(x)
    assert y.dtype == np.float32
    x64 = x.astype(np.float64)
    expected = np.exp(np.minimum(x64, 0)) / (1 + np.exp(-np.abs(x64)))
    np.testing.assert_allclose(y, expected, rtol=1e-6)
    assert float(sigmoid(0.0)) == 0.5


def test_softmax_rows_sum_to_one_and_masked_rows_are_zero():
    x = np.array([[1000.0, 1001.0, -np.inf], [-np.inf, -np.inf, -np.inf]])
    with np.errstate(**RAISE):
        y = softmax(x)
    np.testing.assert_allclose(y[0].sum(), 1.0)
    assert y[0, 2] == 0.0
    assert np.all(y[1] == 0.0)


# --- Embedding ------------------------------------------------------------------------------


def test_embedding_forward_and_gradient_with_repeated_ids():
    rng = np.random.default_rng(0)
    layer = Embedding(randn(rng, 5, 3))
    ids = np.array([[0, 2, 2, 4], [2, 0, 1, 2]])
    R = randn(rng, 2, 4, 3)
    out = layer.forward(ids)
    np.testing.assert_array_equal(out, layer.params[0][ids])
    grad_ref = layer.grads[0]
    assert layer.backward(R) is None
    assert layer.grads[0] is grad_ref  # written in place
    assert_grad(layer.grads[0], lambda: np.sum(layer.forward(ids) * R), layer.params[0], "W")


@pytest.mark.parametrize("V", [7, 2000])  # one-hot product / np.add.at
def test_embedding_scatter_matches_a_plain_loop(V):
    rng = np.random.default_rng(16)
    layer = Embedding(randn(rng, V, 2))
    ids = rng.integers(0, 5, size=(3, 6))
    ids[0, :3] = V - 1
    dout = randn(rng, 3, 6, 2)
    layer.forward(ids)
    layer.backward(dout)
    expected = np.zeros((V, 2))
    for n, t in np.ndindex(ids.shape):
        expected[ids[n, t]] += dout[n, t]
    np.testing.assert_allclose(layer.grads[0], expected, rtol=1e-12, atol=1e-15)


# --- TimeAffine -----------------------------------------------------------------------------


def test_time_affine_gradients():
    rng = np.random.default_rng(1)
    layer = TimeAffine(randn(rng, 4, 3), randn(rng, 3))
    x = randn(rng, 2, 5, 4)
    R = randn(rng, 2, 5, 3)

    def loss():
        return np.sum(layer.forward(x) * R)

    loss()
    dx = layer.backward(R)
    grads = [g.copy() for g in layer.grads]
    assert_grad(dx, loss, x, "x")
    for name, p, g in zip(layer.names, layer.params, grads):
        assert_grad(g, loss, p, name)


# --- LSTM -----------------------------------------------------------------------------------


def make_lstm(rng, D=3, H=4, dtype=np.float64):
    shapes = [(D, 4 * H), (H, 4 * H), (4 * H,)]  # Wx, Wh, b
    return LSTM(*(0.5 * randn(rng, *shape).astype(dtype) for shape in shapes))


def reference_lstm(layer, xs, h, c):
    """Plain per-step LSTM written from the documented gate order (o, f, i, g)."""
    Wx, Wh, b = layer.params
    H = Wh.shape[0]
    hs = []
    for t in range(xs.shape[1]):
        a = xs[:, t] @ Wx + h @ Wh + b
        o, f, i = (1 / (1 + np.exp(-a[:, k * H:(k + 1) * H])) for k in range(3))
        g = np.tanh(a[:, 3 * H:])
        c = f * c + i * g
        h = o * np.tanh(c)
        hs.append(h)
    return np.stack(hs, axis=1), h, c


def test_lstm_forward_matches_reference_and_documented_gate_order():
    rng = np.random.default_rng(2)
    layer = make_lstm(rng)
    xs, h0, c0 = randn(rng, 2, 5, 3), randn(rng, 2, 4), randn(rng, 2, 4)
    hs = layer.forward(xs, h0, c0)
    hs_ref, h_ref, c_ref = reference_lstm(layer, xs, h0, c0)
    np.testing.assert_allclose(hs, hs_ref, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(layer.h_last, h_ref, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(layer.c_last, c_ref, rtol=1e-12, atol=1e-13)


def check_lstm_gradients(layer, xs, h0, c0, mask):
    rng = np.random.default_rng(3)
    N, T, _ = xs.shape
    H = layer.params[1].shape[0]
    R, r_h, r_c = randn(rng, N, T, H), randn(rng, N, H), randn(rng, N, H)

    def loss():
        hs = layer.forward(xs, h0, c0, mask=mask)
        return np.sum(hs * R) + np.sum(layer.h_last * r_h) + np.sum(layer.c_last * r_c)

    loss()
    dxs = layer.backward(R, dh_last=r_h, dc_last=r_c)
    grads = [g.copy() for g in layer.grads]
    dh0, dc0 = layer.dh0.copy(), layer.dc0.copy()
    assert_grad(dxs, loss, xs, "xs")
    assert_grad(dh0, loss, h0, "h0")
    assert_grad(dc0, loss, c0, "c0")
    for name, p, g in zip(layer.names, layer.params, grads):
        assert_grad(g, loss, p, name)
    return dxs


def test_lstm_gradients_without_mask():
    rng = np.random.default_rng(4)
    layer = make_lstm(rng)
    check_lstm_gradients(layer, randn(rng, 2, 5, 3), randn(rng, 2, 4), randn(rng, 2, 4), None)


def test_lstm_gradients_with_left_and_right_padding():
    rng = np.random.default_rng(5)
    layer = make_lstm(rng)
    mask = np.array([[True, True, True, True, True],
                     [False, False, True, True, True],    # reversed question, left-padded
                     [True, True, True, False, False]])   # answer, right-padded
    dxs = check_lstm_gradients(layer, randn(rng, 3, 5, 3), randn(rng, 3, 4), randn(rng, 3, 4), mask)
    assert np.all(dxs[~mask] == 0)  # padding inputs have no effect


def test_shared_lead_is_the_run_of_the_id_most_rows_start_with():
    ids = np.array([[0, 0, 0, 5, 6],
                    [0, 0, 0, 0, 7],
                    [0, 0, 1, 2, 3],     # leaves the padding run at step 2
                    [4, 4, 4, 4, 4]])    # a run, but of another id: not shared
    assert shared_lead(ids).tolist() == [3, 4, 2, 0]
    # rows computed per step: 2, 2, 3, 4, 4 of 4 (row 1's last padding step is its own), so
    # 5 row steps saved
    assert shared_lead(ids, min_saved=5).tolist() == [3, 4, 2, 0]
    assert shared_lead(ids, min_saved=6) is None
    assert shared_lead(np.arange(12).reshape(4, 3), min_saved=0) is None


def left_padded_ids(rng, N=6, T=7, V=5):
    """Reversed questions of random lengths: id 0 (padding) first, then ids 1 .. V - 1."""
    ids = np.zeros((N, T), dtype=np.int32)
    for row, length in enumerate([T, 0, 2, 2, 5, 3][:N]):
        ids[row, T - length:] = rng.integers(1, V, length)
    return ids


def test_lstm_with_shared_lead_gives_the_same_states_and_gradients():
    rng = np.random.default_rng(12)
    layer = make_lstm(rng)
    ids = left_padded_ids(rng)
    lead = shared_lead(ids)
    assert lead is not None and lead.tolist() == [0, 7, 5, 5, 2, 4]
    table = randn(rng, 5, 3)
    R, r_h = randn(rng, *ids.shape, 4), randn(rng, ids.shape[0], 4)
    results = []
    for row_lead in (None, lead):
        hs = layer.forward(table[ids], lead=row_lead)
        dxs = layer.backward(R, dh_last=r_h, need_dh0=False)
        dtable = np.zeros_like(table)
        np.add.at(dtable, ids, dxs)  # what the embedding makes of dxs
        results.append((hs, layer.h_last, layer.c_last, dtable, [g.copy() for g in layer.grads]))
    for own, shared in zip(*results):
        for a, b in zip(own if isinstance(own, list) else [own],
                        shared if isinstance(shared, list) else [shared]):
            np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-14)


def test_lstm_gradients_with_shared_lead():
    """Against central differences of the embedding table: moving one row's input alone would
    break what lead promises (equal inputs), moving a table entry keeps it."""
    rng = np.random.default_rng(13)
    layer = make_lstm(rng)
    ids = left_padded_ids(rng)
    lead = shared_lead(ids)
    table = randn(rng, 5, 3)
    R, r_h, r_c = randn(rng, *ids.shape, 4), randn(rng, ids.shape[0], 4), randn(rng, 6, 4)

    def loss():
        hs = layer.forward(table[ids], lead=lead)
        return np.sum(hs * R) + np.sum(layer.h_last * r_h) + np.sum(layer.c_last * r_c)

    loss()
    dxs = layer.backward(R, dh_last=r_h, dc_last=r_c)
    assert layer.dh0 is None and layer.dc0 is None  # one gradient for rows that start alike
    dtable = np.zeros_like(table)
    np.add.at(dtable, ids, dxs)
    grads = [g.copy() for g in layer.grads]
    assert_grad(dtable, loss, table, "embedding table")
    for name, p, g in zip(layer.names, layer.params, grads):
        assert_grad(g, loss, p, name)


def test_lstm_lead_needs_rows_that_start_alike():
    rng = np.random.default_rng(14)
    layer = make_lstm(rng)
    ids = left_padded_ids(rng)
    xs, lead = randn(rng, 5, 3)[ids], shared_lead(ids)
    for kwargs in ({"mask": ids > 0}, {"h0": randn(rng, 6, 4)}, {"c0": randn(rng, 6, 4)}):
        with pytest.raises(ValueError, match="lead"):
            layer.forward(xs, lead=lead, **kwargs)


def test_lstm_mask_carries_state_through_padding():
    rng = np.random.default_rng(6)
    layer = make_lstm(rng)
    xs, h0, c0 = randn(rng, 2, 6, 3), randn(rng, 2, 4), randn(rng, 2, 4)
    mask = np.array([[False, False, True, True, True, True],
                     [True, True, True, True, False, False]])
    hs = layer.forward(xs, h0, c0, mask=mask)
    np.testing.assert_array_equal(hs[0, :2], h0[[0, 0]])      # h stays h0 through left padding
    np.testing.assert_array_equal(hs[1, 4:], hs[1, [3, 3]])   # last real state held to the end
    # Oracle: the same rows without their padding.
    left, _, c_left = reference_lstm(layer, xs[:1, 2:], h0[:1], c0[:1])
    right, _, c_right = reference_lstm(layer, xs[1:, :4], h0[1:], c0[1:])
    np.testing.assert_allclose(hs[0, 2:], left[0], rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(hs[1, :4], right[0], rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(layer.c_last, np.concatenate([c_left, c_right]),
                               rtol=1e-12, atol=1e-13)


def test_lstm_mask_all_true_equals_no_mask():
    rng = np.random.default_rng(7)
    layer = make_lstm(rng)
    xs, h0 = randn(rng, 2, 5, 3), randn(rng, 2, 4)
    R = randn(rng, 2, 5, 4)
    hs = layer.forward(xs, h0)
    dxs = layer.backward(R)
    grads = [g.copy() for g in layer.grads]
    hs_masked = layer.forward(xs, h0, mask=np.ones((2, 5), dtype=bool))
    dxs_masked = layer.backward(R)
    np.testing.assert_array_equal(hs, hs_masked)
    np.testing.assert_array_equal(dxs, dxs_masked)
    for g, g_masked in zip(grads, layer.grads):
        np.testing.assert_array_equal(g, g_masked)


def test_lstm_backward_without_dhs_uses_only_the_final_state():
    rng = np.random.default_rng(8)
    layer = make_lstm(rng)
    xs, dh = randn(rng, 2, 5, 3), randn(rng, 2, 4)
    layer.forward(xs)
    dxs = layer.backward(None, dh_last=dh)
    layer.forward(xs)
    R = np.zeros((2, 5, 4))
    R[:, -1] = dh
    np.testing.assert_allclose(dxs, layer.backward(R), rtol=1e-12, atol=1e-14)


def test_lstm_step_agrees_with_forward():
    rng = np.random.default_rng(9)
    layer = make_lstm(rng)
    xs, h0, c0 = randn(rng, 3, 1, 3), randn(rng, 3, 4), randn(rng, 3, 4)
    hs = layer.forward(xs, h0, c0)
    h, c = layer.step(xs[:, 0], h0, c0)
    np.testing.assert_allclose(h, hs[:, 0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(c, layer.c_last, rtol=1e-12, atol=1e-14)


def test_lstm_float32_stays_float32_and_saturates_without_warnings():
    rng = np.random.default_rng(10)
    layer = make_lstm(rng, dtype=np.float32)
    layer.params[0] *= 1000  # pre-activations far beyond exp's float32 range
    xs = randn(rng, 2, 5, 3).astype(np.float32)
    mask = np.array([[True] * 5, [False, True, True, True, True]])
    with np.errstate(**RAISE):
        hs = layer.forward(xs, mask=mask)
        dxs = layer.backward(np.ones_like(hs))
        h, c = layer.step(xs[:, 0], hs[:, 0], layer.c_last)
    for array in [hs, dxs, h, c, layer.dh0, layer.dc0, *layer.grads]:
        assert array.dtype == np.float32
        assert np.all(np.isfinite(array))


# --- Attention ------------------------------------------------------------------------------


@pytest.mark.parametrize("masked", [False, True])
def test_attention_gradients(masked):
    rng = np.random.default_rng(11)
    enc_hs, dec_hs = randn(rng, 2, 4, 3), randn(rng, 2, 5, 3)
    src_mask = np.array([[False, True, True, True], [True, True, True, True]]) if masked else None
    R = randn(rng, 2, 5, 3)
    layer = Attention()
    assert layer.params == [] and layer.grads == [] and layer.names == ()

    def loss():
        return np.sum(layer.forward(enc_hs, dec_hs, src_mask) * R)

    loss()
    denc, ddec = layer.backward(R)
    assert_grad(denc, loss, enc_hs, "enc_hs")
    assert_grad(ddec, loss, dec_hs, "dec_hs")
    if masked:
        assert np.all(denc[~src_mask] == 0)


def test_attention_weights_ignore_padding():
    rng = np.random.default_rng(12)
    enc_hs, dec_hs = randn(rng, 2, 4, 3), randn(rng, 2, 5, 3)
    src_mask = np.array([[False, False, True, True], [False, False, False, False]])
    layer = Attention()
    with np.errstate(**RAISE):
        context = layer.forward(enc_hs, dec_hs, src_mask)
    w = layer.weights
    assert w.shape == (2, 5, 4)
    assert np.all(w[0, :, :2] == 0.0)                     # exactly zero on padding
    np.testing.assert_allclose(w[0].sum(axis=-1), 1.0)    # sums to 1 over real positions
    assert np.all(w[1] == 0.0) and np.all(context[1] == 0.0)  # fully masked row: zeros, not NaN
    # Oracle: attending over the real positions only.
    scores = dec_hs[0] @ enc_hs[0, 2:].T
    expected = np.exp(scores - scores.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(w[0, :, 2:], expected, rtol=1e-12)


def test_attention_float32_stays_float32():
    rng = np.random.default_rng(13)
    enc_hs, dec_hs = (randn(rng, 2, n, 3).astype(np.float32) for n in (4, 5))
    layer = Attention()
    context = layer.forward(enc_hs, dec_hs, np.array([[True, True, False, False]] * 2))
    denc, ddec = layer.backward(np.ones_like(context))
    assert {a.dtype for a in (context, layer.weights, denc, ddec)} == {np.dtype(np.float32)}


# --- SoftmaxCrossEntropy --------------------------------------------------------------------


@pytest.mark.parametrize("masked", [False, True])
def test_softmax_cross_entropy_gradients(masked):
    rng = np.random.default_rng(14)
    scores = randn(rng, 2, 4, 5)
    targets = rng.integers(0, 5, size=(2, 4))
    mask = np.array([[True, True, True, False], [True, False, False, False]]) if masked else None
    layer = SoftmaxCrossEntropy()

    def loss():
        return layer.forward(scores, targets, mask)

    loss()
    dscores = layer.backward()
    assert_grad(dscores, loss, scores, "scores")
    if masked:
        assert np.all(dscores[~mask] == 0)


def test_softmax_cross_entropy_value_and_edge_cases():
    scores = np.array([[[0.0, 0.0, 1000.0], [2.0, 0.0, 0.0]]], dtype=np.float32)
    targets = np.array([[2, 1]])
    layer = SoftmaxCrossEntropy()
    expected_second = np.log(np.exp(2.0) + 2.0)
    assert layer.forward(scores, targets) == pytest.approx(expected_second / 2, rel=1e-6)
    mask = np.array([[False, True]])
    assert layer.forward(scores, targets, mask) == pytest.approx(expected_second, rel=1e-6)
    assert layer.backward().dtype == np.float32
    assert layer.forward(scores, targets, np.zeros((1, 2), dtype=bool)) == 0.0
    assert np.all(layer.backward(2.0) == 0)


# --- dtypes ---------------------------------------------------------------------------------


def test_layers_keep_float32():
    rng = np.random.default_rng(15)
    f32 = np.float32
    emb = Embedding(randn(rng, 6, 3).astype(f32))
    x = emb.forward(np.array([[1, 2, 2]]))
    assert x.dtype == f32
    emb.backward(np.ones_like(x))
    assert emb.grads[0].dtype == f32
    affine = TimeAffine(randn(rng, 3, 4).astype(f32), np.zeros(4, f32))
    y = affine.forward(x)
    assert y.dtype == f32 and affine.backward(np.ones_like(y)).dtype == f32
    assert all(g.dtype == f32 for g in affine.grads)


def test_backward_before_any_forward_says_so():
    """A learner's first backward, before forward: "cannot unpack non-iterable NoneType
    object", "'NoneType' object has no attribute 'T'" and the like, from each layer; a model's
    backward() failed the same way in its loss layer."""
    from kanjinum.models import ModelConfig, build_model
    rng = np.random.default_rng(0)
    layers = [(Embedding(rng.standard_normal((5, 3))), np.ones((1, 2, 3))),
              (TimeAffine(rng.standard_normal((3, 4)), np.zeros(4)), np.ones((1, 2, 4))),
              (LSTM(rng.standard_normal((3, 8)), rng.standard_normal((2, 8)), np.zeros(8)),
               np.ones((1, 2, 2))),
              (Attention(), np.ones((1, 2, 3))), (SoftmaxCrossEntropy(), 1.0)]
    for layer, dout in layers:
        with pytest.raises(RuntimeError, match=f"{type(layer).__name__}.backward before any "
                                               "forward: call forward first"):
            layer.backward(dout)
    with pytest.raises(RuntimeError, match="before any forward"):
        build_model(ModelConfig("attention", 5, 3, 4)).backward()


def test_embedding_takes_ids_as_a_list_in_backward_too():
    """forward took [[1, 2]] (np.take does), backward failed: 'list' object has no attribute
    'ravel'."""
    W = np.arange(15.0).reshape(5, 3)
    layer = Embedding(W)
    assert layer.forward([[1, 2, 1]]).shape == (1, 3, 3)
    layer.backward(np.ones((1, 3, 3)))
    assert layer.grads[0][:, 0].tolist() == [0, 2, 1, 0, 0]
