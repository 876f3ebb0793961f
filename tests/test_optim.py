"""Adam against a hand-written reference, its state round trip, and gradient clipping."""

import math

import numpy as np
import pytest

from kanjinum.optim import Adam, clip_grads


def reference_adam(params, grads_per_step, lr, b1, b2, eps):
    """Algorithm 1 of Kingma & Ba, one scalar at a time."""
    params = [p.astype(np.float64).ravel().tolist() for p in params]
    m = [[0.0] * len(p) for p in params]
    v = [[0.0] * len(p) for p in params]
    for t, grads in enumerate(grads_per_step, start=1):
        for p, g, mp, vp in zip(params, grads, m, v):
            for k, gk in enumerate(g.ravel().tolist()):
                mp[k] = b1 * mp[k] + (1 - b1) * gk
                vp[k] = b2 * vp[k] + (1 - b2) * gk * gk
                m_hat, v_hat = mp[k] / (1 - b1 ** t), vp[k] / (1 - b2 ** t)
                p[k] -= lr * m_hat / (math.sqrt(v_hat) + eps)
    return params


def test_adam_matches_reference():
    rng = np.random.default_rng(0)
    params = [rng.standard_normal((3, 4)), rng.standard_normal(4)]
    start = [p.copy() for p in params]
    grads_per_step = [[rng.standard_normal(p.shape) for p in params] for _ in range(5)]
    optimizer = Adam(lr=0.01, beta1=0.8, beta2=0.95, eps=1e-6)
    grads = [np.zeros_like(p) for p in params]
    refs = [p for p in params]
    for step_grads in grads_per_step:
        for g, new in zip(grads, step_grads):
            g[...] = new
        optimizer.update(params, grads)
    assert all(p is r for p, r in zip(params, refs))  # updated in place
    expected = reference_adam(start, grads_per_step, 0.01, 0.8, 0.95, 1e-6)
    for p, e in zip(params, expected):
        np.testing.assert_allclose(p.ravel(), e, rtol=1e-12, atol=1e-14)
    assert optimizer.state_dict()["step"] == 5


def test_adam_keeps_float32():
    params = [np.ones((2, 3), dtype=np.float32)]
    optimizer = Adam()
    optimizer.update(params, [np.full((2, 3), 0.5, dtype=np.float32)])
    assert params[0].dtype == np.float32
    np.testing.assert_allclose(params[0], 1 - 0.001, rtol=1e-6)
    assert all(a.dtype == np.float32 for k, a in optimizer.state_dict().items() if k != "step")


def test_adam_state_round_trip_continues_bit_identically():
    rng = np.random.default_rng(1)
    params = [rng.standard_normal(shape).astype(np.float32) for shape in [(3, 4), (4,)]]
    grads = [[rng.standard_normal(p.shape).astype(np.float32) for p in params] for _ in range(6)]
    first = Adam(lr=0.05)
    for g in grads[:3]:
        first.update(params, g)
    state = first.state_dict()
    assert state["step"].shape == () and state["step"].dtype == np.int64
    assert sorted(state) == ["m_0", "m_1", "step", "v_0", "v_1"]
    assert all(isinstance(a, np.ndarray) for a in state.values())
    resumed_params = [p.copy() for p in params]
    resumed = Adam(lr=0.05)
    resumed.load_state_dict({k: a.copy() for k, a in state.items()})
    for g in grads[3:]:
        first.update(params, g)
        resumed.update(resumed_params, g)
    for p, q in zip(params, resumed_params):
        np.testing.assert_array_equal(p, q)
    for k, a in first.state_dict().items():
        np.testing.assert_array_equal(a, resumed.state_dict()[k])


def test_adam_state_before_any_update_and_mismatch():
    optimizer = Adam()
    assert optimizer.state_dict() == {"step": np.array(0)}
    state = {"step": np.array(2, dtype=np.int64), "m_0": np.zeros(3), "v_0": np.zeros(3)}
    optimizer.load_state_dict(state)
    with pytest.raises(ValueError):
        optimizer.update([np.zeros(4)], [np.zeros(4)])
    with pytest.raises(ValueError):
        Adam().load_state_dict({"step": np.array(1), "m_0": np.zeros(3)})


def test_clip_grads_scales_to_max_norm_and_returns_norm():
    grads = [np.array([3.0, 0.0], dtype=np.float32), np.array([[0.0], [4.0]], dtype=np.float32)]
    refs = list(grads)
    assert clip_grads(grads, 1.0) == pytest.approx(5.0)
    assert all(g is r for g, r in zip(grads, refs))
    np.testing.assert_allclose(grads[0], [0.6, 0.0], rtol=1e-6)
    np.testing.assert_allclose(grads[1], [[0.0], [0.8]], rtol=1e-6)
    assert math.sqrt(sum(float(np.sum(g * g)) for g in grads)) == pytest.approx(1.0, rel=1e-6)


@pytest.mark.parametrize("max_norm", [None, 0, -1.0, 10.0])
def test_clip_grads_leaves_small_or_unclipped_grads_alone(max_norm):
    grads = [np.array([3.0, 4.0])]
    assert clip_grads(grads, max_norm) == pytest.approx(5.0)
    np.testing.assert_array_equal(grads[0], [3.0, 4.0])


def test_a_short_list_of_grads_or_a_generator_is_not_half_used():
    """Adam.update(params, grads[:-1]) left the last param as it was (zip stopped early), and
    clip_grads(g for g in grads) used the generator up computing the norm and clipped nothing."""
    params = [np.ones(3), np.ones(2)]
    with pytest.raises(ValueError, match="1 grads for 2 params"):
        Adam().update(params, [np.ones(3)])
    grads = [np.full(3, 4.0), np.full(2, 4.0)]
    norm = clip_grads((g for g in grads), 1.0)
    assert norm == pytest.approx(4 * math.sqrt(5))
    assert math.sqrt(sum(float(np.vdot(g, g)) for g in grads)) == pytest.approx(1.0)
