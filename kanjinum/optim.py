"""Adam and global-norm gradient clipping, both in place on the model's own arrays."""

import math

import numpy as np


class Adam:
    """Adam with bias correction (Kingma & Ba, Algorithm 1; the same arithmetic as PyTorch's):

        m = b1 m + (1 - b1) g,   v = b2 v + (1 - b2) g^2,
        p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).

    m and v are created on the first update, in the params' dtype. `state_dict()` returns plain
    arrays ("step" as a 0-d int64, "m_0", "v_0", ...), and `load_state_dict` restores them
    exactly, so a resumed run continues bit for bit.
    """

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.step_count = 0
        self.m, self.v = None, None
        self._scratch = None  # one work array per param, so an update allocates nothing

    def update(self, params, grads):
        if self.m is None:
            self.m = [np.zeros_like(p) for p in params]
            self.v = [np.zeros_like(p) for p in params]
        if len(self.m) != len(params) or any(m.shape != p.shape for m, p in zip(self.m, params)):
            raise ValueError("Adam state does not match the params it is asked to update")
        if len(grads) != len(params):  # zip stopped at the shorter: params left unupdated
            raise ValueError(f"Adam.update: {len(grads)} grads for {len(params)} params")
        if self._scratch is None or len(self._scratch) != len(params):
            self._scratch = [np.empty_like(p) for p in params]

        self.step_count += 1
        t = self.step_count
        b1, b2 = self.beta1, self.beta2
        step_size = self.lr / (1 - b1 ** t)
        inv_sqrt_bc2 = 1 / math.sqrt(1 - b2 ** t)
        for p, g, m, v, work in zip(params, grads, self.m, self.v, self._scratch):
            m *= b1
            np.multiply(g, 1 - b1, out=work)
            m += work
            v *= b2
            np.multiply(g, g, out=work)
            work *= 1 - b2
            v += work
            np.sqrt(v, out=work)  # denominator: sqrt(v_hat) + eps
            work *= inv_sqrt_bc2
            work += self.eps
            np.divide(m, work, out=work)
            work *= step_size
            p -= work

    def state_dict(self) -> dict[str, np.ndarray]:
        state = {"step": np.array(self.step_count, dtype=np.int64)}
        for k, (m, v) in enumerate(zip(self.m or [], self.v or [])):
            state[f"m_{k}"], state[f"v_{k}"] = m.copy(), v.copy()
        return state

    def load_state_dict(self, state: dict[str, np.ndarray], params=None) -> None:
        """Restore a state_dict; with params, check it is theirs. Any mismatch is a ValueError
        here, not an error in the middle of the first update."""
        count = sum(1 for key in state if key.startswith("m_"))
        try:
            m = [np.array(state[f"m_{k}"]) for k in range(count)]
            v = [np.array(state[f"v_{k}"]) for k in range(count)]
            step = state["step"]
        except KeyError as missing:
            raise ValueError(f"Adam state is missing {missing}") from None
        if any(a.shape != b.shape for a, b in zip(m, v)):
            raise ValueError("Adam state has m and v of different shapes")
        if step.shape != () or not np.issubdtype(step.dtype, np.integer) or step < 0:
            # a negative step count makes the bias correction take the root of a negative
            raise ValueError(f"Adam state has a step count of {step.tolist()!r}, "
                             "not a whole number ≥ 0")
        if params is not None:
            m, v = _fitted_to(m, params, "m"), _fitted_to(v, params, "v")
        self.step_count = int(step)
        self.m, self.v = (m, v) if count else (None, None)
        self._scratch = None


def _fitted_to(moments: list[np.ndarray], params, name: str) -> list[np.ndarray]:
    """Adam's moments as arrays of the params' shapes and dtypes, or a ValueError: an update
    computes in the params' dtype, and moments of text or of another model cannot be used."""
    if moments and len(moments) != len(params):
        raise ValueError(f"Adam state holds {len(moments)} moments for {len(params)} params")
    for k, (moment, param) in enumerate(zip(moments, params)):
        if moment.shape != param.shape:
            raise ValueError(f"Adam state {name}_{k} has shape {moment.shape}, "
                             f"the param has {param.shape}")
        if not np.issubdtype(moment.dtype, np.floating):
            raise ValueError(f"Adam state {name}_{k} holds {moment.dtype} values, "
                             "not floating-point numbers")
    return [moment.astype(param.dtype, copy=False) for moment, param in zip(moments, params)]


def clip_grads(grads, max_norm) -> float:
    """Scale all grads in place so their global L2 norm is at most max_norm; returns the norm
    before clipping. A max_norm of None or <= 0 turns clipping off (the norm is still returned)."""
    grads = list(grads)  # a generator was used up by the norm and left unclipped
    norm = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
    if max_norm is not None and max_norm > 0 and norm > max_norm:
        rate = max_norm / norm
        for g in grads:
            g *= rate
    return norm
