"""Central-difference gradients, shared by the layer and model gradient checks (float64)."""

import numpy as np

EPS = 1e-6
TOL = 1e-5


def numerical_grad(loss, x):
    """Central differences of the scalar loss() wrt every element of x, changed in place."""
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for k in range(flat.size):
        saved = flat[k]
        flat[k] = saved + EPS
        plus = loss()
        flat[k] = saved - EPS
        minus = loss()
        flat[k] = saved
        gflat[k] = (plus - minus) / (2 * EPS)
    return grad


def rel_error(analytic, numeric):
    scale = max(np.abs(analytic).max(), np.abs(numeric).max(), 1e-8)
    return np.abs(analytic - numeric).max() / scale


def assert_grad(analytic, loss, x, what):
    err = rel_error(analytic, numerical_grad(loss, x))
    assert err < TOL, f"{what}: relative error {err:.2e}"
