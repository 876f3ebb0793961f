"""Layers with a hand-written forward and backward: Embedding, LSTM, TimeAffine, Attention, loss.

Every layer keeps the book's protocol: `params` and `grads` are lists of the same length, `names`
names them, and `backward` writes into the existing grad arrays in place, so an optimiser that holds
references to them sees the new values. Arrays are batch-major, `(N, T, ...)`; only the LSTM
recurrence loops over time. Nothing hard-codes a dtype: a layer computes in its params' dtype
(float32 for training, float64 for gradient checks).
"""

import numpy as np


def sigmoid(x):
    """Logistic function, stable in both tails: exp only ever sees -|x|, so it cannot overflow,
    and sigmoid(-30) keeps its relative precision (0.5 * (1 + tanh(x / 2)) rounds it to 0)."""
    x = np.asarray(x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1, e) / (1 + e)


def softmax(x, axis=-1):
    """Numerically stable softmax; a slice that is all -inf (fully masked) comes out as zeros."""
    peak = np.max(x, axis=axis, keepdims=True)
    np.copyto(peak, 0, where=np.isneginf(peak))  # -inf - -inf would be NaN
    e = np.exp(x - peak)
    total = np.sum(e, axis=axis, keepdims=True)
    np.copyto(total, 1, where=total == 0)
    e /= total
    return e


def _check_forward_ran(kept, layer) -> None:
    """backward uses what forward kept: called first, it failed with "cannot unpack
    non-iterable NoneType object" and the like."""
    if kept is None:
        raise RuntimeError(f"{type(layer).__name__}.backward before any forward: call forward "
                           "first (backward uses what it kept)")


class Embedding:
    """Looks up rows of W (V, D): ids (N, T) -> (N, T, D)."""

    def __init__(self, W):
        self.params, self.grads = [W], [np.zeros_like(W)]
        self.names = ("W",)
        self.ids = None

    def forward(self, ids):
        self.ids = np.asarray(ids)  # backward ravels them: ids as a list failed there
        return np.take(self.params[0], self.ids, axis=0)  # (N, T, D)

    def backward(self, dout):
        _check_forward_ran(self.ids, self)
        dW = self.grads[0]
        V, D = dW.shape
        ids = self.ids.ravel()
        rows = dout.reshape(ids.size, D)
        if V <= 1024:
            # A scatter-add with repeated ids. For a small vocabulary a one-hot product is about
            # 5x faster than np.add.at (and 4x faster than bincount) at N*T = 3200, V = 60.
            one_hot = np.zeros((V, ids.size), dtype=dW.dtype)
            one_hot[ids, np.arange(ids.size)] = 1
            np.matmul(one_hot, rows, out=dW)
        else:
            dW[...] = 0
            np.add.at(dW, ids, rows)
        return None


class TimeAffine:
    """x (N, T, I) @ W (I, O) + b (O,) -> (N, T, O), as one matmul over all N*T rows."""

    def __init__(self, W, b):
        self.params, self.grads = [W, b], [np.zeros_like(W), np.zeros_like(b)]
        self.names = ("W", "b")
        self.x2d = None

    def forward(self, x):
        W, b = self.params
        N, T, I = x.shape
        self.x2d = x.reshape(N * T, I).astype(W.dtype, copy=False)
        out = np.matmul(self.x2d, W)  # (N*T, O)
        out += b
        return out.reshape(N, T, -1)

    def backward(self, dout):
        _check_forward_ran(self.x2d, self)
        W, _ = self.params
        N, T, O = dout.shape
        dout2d = dout.reshape(N * T, O)
        np.matmul(self.x2d.T, dout2d, out=self.grads[0])
        np.sum(dout2d, axis=0, out=self.grads[1])
        return np.matmul(dout2d, W.T).reshape(N, T, -1)  # (N, T, I)


# Gate order along the 4H columns of Wx, Wh and b: output, forget, input, candidate.
# The three sigmoids sit side by side, then the tanh.
_GATE_SCALE = (-1, -1, -1, -2)


def _activate_gates(a):
    """In place: pre-scaled pre-activations (4, N, H) -> gate values o, f, i, g.

    The caller has multiplied the sigmoid gates' pre-activations (o, f, i) by -1 and the tanh
    gate's (g) by -2, so one exp pass serves all four: sigmoid(z) = 1 / (1 + exp(-z)) and
    tanh(z) = 2 sigmoid(2z) - 1; exp is about twice as fast as tanh in numpy. For very negative z,
    exp(-z) may reach +inf, which gives exactly 0 (the caller silences the overflow flag; no NaN
    can arise).
    """
    np.exp(a, out=a)
    a += 1
    np.divide(1, a[:3], out=a[:3])  # faster than np.reciprocal in numpy 2
    g = a[3]
    np.divide(2, g, out=g)
    g -= 1


def _tanh(x, out):
    """tanh(x) = 2 / (1 + exp(-2x)) - 1 into out: one exp and three cheap passes, faster than
    np.tanh for float32; exp(-2x) = +inf gives exactly -1 (the caller silences the flag)."""
    np.multiply(x, -2, out=out)
    np.exp(out, out=out)
    out += 1
    np.divide(2, out, out=out)
    out -= 1
    return out


def _gate_major(W, dtype):
    """W (R, 4H) -> (4, R, H), one contiguous block per gate, pre-scaled for `_activate_gates`."""
    R, H4 = W.shape
    out = np.empty((4, R, H4 // 4), dtype=dtype)
    scale = np.array(_GATE_SCALE, dtype=dtype).reshape(4, 1, 1)
    np.multiply(W.reshape(R, 4, H4 // 4).transpose(1, 0, 2), scale, out=out)
    return out


def stacked_gate_weights(Wx, Wh, b, dtype):
    """[Wx; b; Wh] as gate-major, pre-scaled blocks (4, D + 1 + H, H): a row [x, 1, h] times
    these is the pre-activation of all four gates, bias included, ready for `_activate_gates`."""
    return _gate_major(np.vstack((Wx, b[None, :], Wh)), dtype)


def _stacked_transpose(blocks, out):
    """[A; B; ...].T into out (C-contiguous). A step's product with a contiguous transpose is 7 %
    faster than with a transposed view; numpy's own transposing copy of (272, 1024) takes 0.9 ms
    (it strides through memory), eight source rows at a time 0.23 ms."""
    start = 0
    for block in blocks:
        for row in range(0, block.shape[0], 8):
            rows = block[row:row + 8]
            out[:, start:start + rows.shape[0]] = rows.T
            start += rows.shape[0]
    return out


def _row_plan(mask, N, T):
    """How LSTM.forward treats a mask: (order, counts, mask_tm).

    Most masks are left padding (reversed questions) or right padding (answers): sorted by their
    number of real steps, the real rows of every step are the leading rows, and a step computes
    just `counts[t]` rows, the rest carrying their state. order: that row order (None: as
    given); counts (T,): leading real rows per step (None: all rows). Any other mask keeps the
    order, computes every row, and carries row by row with mask_tm (T, N).
    """
    if mask is None:
        return None, None, None
    mask = np.asarray(mask, dtype=bool)
    order = np.argsort(-mask.sum(axis=1), kind="stable")
    sorted_mask = mask[order]
    counts = sorted_mask.sum(axis=0)  # (T,)
    if not np.array_equal(sorted_mask, np.arange(N)[:, None] < counts[None, :]):
        return None, None, np.ascontiguousarray(mask.T)
    if np.array_equal(order, np.arange(N)):
        order = None
    return order, [int(n) for n in counts], None


def shared_lead(ids, min_saved=None):
    """How many first steps each row of ids (N, T) shares with other rows, or None if few.

    Rows that have read the same ids from the same start state are in the same state, so an
    LSTM that starts every row at zero needs that state once. The rows shared here are those
    that start with a run of one id, the id most rows start with: the padding before reversed,
    left-padded questions (the seed's data, no mask). A 10-character question in a width of 25
    shares its first 15 steps with every shorter one. Returns lead (N,): the length of each
    row's run (0 for rows that start otherwise); None when sharing would save fewer than
    min_saved row steps (default: N, one step of the batch).
    """
    ids = np.asarray(ids)
    N, T = ids.shape
    first = np.bincount(ids[:, 0]).argmax() if N else 0
    lead = np.cumprod(ids == first, axis=1).sum(axis=1)  # the run of `first` each row starts with
    saved = N * T - sum(shared_step_rows(lead, T))
    if saved < max(N if min_saved is None else min_saved, 1):
        return None
    return lead


def shared_step_rows(lead, T):
    """The rows each of T steps computes when rows share their first lead[r] steps: one list."""
    return _shared_step_rows_sorted(np.sort(lead), len(lead), T)


def _shared_step_rows_sorted(sorted_lead, N, T):
    """The rows each step computes when rows sorted by lead share their path: at step t, rows
    [0, n) have left it and row n computes the path's state for all of [n, N)."""
    left = np.searchsorted(sorted_lead, np.arange(T), side="right")  # rows off the path at t
    return [int(n) for n in np.minimum(left + 1, N)]


def _shared_plan(lead, N, T):
    """What LSTM.forward does with `lead` (see `shared_lead`): (order, counts), rows sorted so
    that at step t rows [0, counts[t] - 1) have left the path and row counts[t] - 1 computes
    the path's state, which rows [counts[t], N) copy."""
    order = np.argsort(lead, kind="stable")
    counts = _shared_step_rows_sorted(lead[order], N, T)
    if np.array_equal(order, np.arange(N)):
        order = None
    return order, counts


def _unsort(rows, order):
    """rows (N, ...) in the order `order` -> in the caller's order, as a new array."""
    out = np.empty(rows.shape, dtype=rows.dtype)
    out[order] = rows
    return out


def _step_backward(gates, tanh_c, c_prev, dh, dc_next, dc, work, dA):
    """One LSTM step backward, in place on (n, H) rows: dA (n, 4H) = d loss / d pre-activation
    from dh and the later cell gradient dc_next; then dc_next <- dc * f, for the step before."""
    o, f, i, g = gates
    H = dh.shape[1]
    # dc = dc_next + dh * o * (1 - tanh(c)^2)
    np.multiply(tanh_c, tanh_c, out=dc)
    np.subtract(1, dc, out=dc)
    dc *= o
    dc *= dh
    dc += dc_next
    # dA_o = dh * tanh(c) * o(1-o)
    np.subtract(1, o, out=work)
    work *= o
    work *= tanh_c
    np.multiply(work, dh, out=dA[:, :H])
    # dA_f = dc * c_prev * f(1-f)
    np.subtract(1, f, out=work)
    work *= f
    work *= c_prev
    np.multiply(work, dc, out=dA[:, H:2 * H])
    # dA_i = dc * g * i(1-i)
    np.subtract(1, i, out=work)
    work *= i
    work *= g
    np.multiply(work, dc, out=dA[:, 2 * H:3 * H])
    # dA_g = dc * i * (1-g^2)
    np.multiply(g, g, out=work)
    np.subtract(1, work, out=work)
    work *= i
    np.multiply(work, dc, out=dA[:, 3 * H:])
    np.multiply(dc, f, out=dc_next)


class LSTM:
    """An LSTM over a whole sequence, gates fused in one 4H-wide product.

    Wx (D, 4H), Wh (H, 4H), b (4H,). Gate order along the 4H columns: (o, f, i, g) =
    (output, forget, input, candidate); o, f, i are sigmoids, g is a tanh:
        c_t = f * c_{t-1} + i * g,    h_t = o * tanh(c_t).

    An optional bool mask (N, T) makes a False step a no-op for that row: h and c carry over.
    So a reversed, left-padded question keeps h = h0 through its padding, and a right-padded
    sequence holds its last real state to the end: hs[:, -1] is always the state after the last
    real input. After forward, `h_last` and `c_last` (N, H) are the final states; after backward,
    `dh0` and `dc0` (N, H) are the gradients wrt h0 and c0.

    Speed: every step is one product of the row [x_t, 1, h_{t-1}] with the stacked weights
    [Wx; b; Wh] (D + 1 + H, 4H): the input projection and the bias ride along in the recurrent
    product, which runs at the full sgemm rate (a separate (T*N, D + 1) product with K = 17 runs
    at about half of it, and its sum with the recurrent part costs a pass), and backward gets dWx,
    db and dWh from a single product. The rows live in one time-major buffer `xh` (T + 1, N,
    D + 1 + H) and each step writes its h straight into the next step's row. Gate values are
    gate-major, (T, 4, N, H), so every per-step operation works on contiguous (N, H) blocks.
    A mask of left or right padding is handled as leading rows (see `_row_plan`): a step
    computes only the rows with a real input. Without a mask, `lead` (see `shared_lead`) does
    the same for rows that start alike: the state they share is one row of the step, and
    backward keeps just the rows computed for the weight gradients' product. `infer` and
    `LSTMStepper` serve greedy decoding.
    """

    def __init__(self, Wx, Wh, b):
        self.params = [Wx, Wh, b]
        self.grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
        self.names = ("Wx", "Wh", "b")
        self.h_last = self.c_last = None
        self.dh0 = self.dc0 = None
        self._cache = None
        self._buffers = {}

    def _buffer(self, name, shape, dtype):
        """A work array kept between calls: fresh multi-megabyte arrays cost page faults on
        every call, about as much as the arithmetic. The memory is kept at its largest size, so
        batches of other lengths (bucketing) reuse it too. Never handed out to the caller."""
        size = int(np.prod(shape))
        memory = self._buffers.get(name)
        if memory is None or memory.size < size or memory.dtype != dtype:
            memory = self._buffers[name] = np.empty(size, dtype=dtype)
        return memory[:size].reshape(shape)

    def forward(self, xs, h0=None, c0=None, mask=None, lead=None):
        """xs (N, T, D) -> hs (N, T, H). lead (N,), from `shared_lead` on the ids behind xs:
        the states of the rows' shared first steps are computed once (only with h0 = c0 = 0 and
        no mask); hs and the final states are the same as without it."""
        Wx, Wh, b = self.params
        N, T, D = xs.shape
        H = Wh.shape[0]
        K = D + 1 + H
        dtype = Wh.dtype
        shared = lead is not None
        if shared:
            if mask is not None or h0 is not None or c0 is not None:
                raise ValueError("lead needs rows that start alike: no mask, h0 or c0")
            order, counts, mask_tm = *_shared_plan(np.asarray(lead), N, T), None
        else:
            order, counts, mask_tm = _row_plan(mask, N, T)
        if order is not None:  # rows reordered so that each step's real rows lead
            xs = xs[order]
            h0 = None if h0 is None else np.asarray(h0)[order]
            c0 = None if c0 is None else np.asarray(c0)[order]

        xh = self._buffer("xh", (T + 1, N, K), dtype)  # xh[t] = [x_t, 1, h_{t-1}], time-major
        xh[:T, :, :D] = xs.transpose(1, 0, 2)
        xh[:, :, D] = 1
        h_all = xh[:, :, D + 1:]  # (T + 1, N, H) view: h_all[t] is the state before step t
        h_all[0] = 0 if h0 is None else h0
        W = stacked_gate_weights(Wx, Wh, b, dtype)  # (4, K, H)
        gates = self._buffer("gates", (T, 4, N, H), dtype)
        c_all = self._buffer("c_all", (T + 1, N, H), dtype)  # c_all[t]: the cell before step t
        c_all[0] = 0 if c0 is None else c0
        tanh_c = self._buffer("tanh_c", (T, N, H), dtype)
        ig = self._buffer("ig", (N, H), dtype)

        with np.errstate(over="ignore", under="ignore"):
            for t in range(T):
                n = N if counts is None else counts[t]  # rows [0, n) have a real step
                if n < N and not shared:  # the others carry their state over
                    h_all[t + 1, n:] = h_all[t, n:]
                    c_all[t + 1, n:] = c_all[t, n:]
                if n == 0:
                    continue
                a = gates[t, :, :n]  # (4, n, H)
                if t == 0 and h0 is None:  # h0 = 0: only the input part of the product
                    np.matmul(xh[0, :n, :D + 1], W[:, :D + 1], out=a)
                else:
                    np.matmul(xh[t, :n], W, out=a)
                _activate_gates(a)
                o, f, i, g = a
                c = c_all[t + 1, :n]
                np.multiply(f, c_all[t, :n], out=c)
                np.multiply(i, g, out=ig[:n])
                c += ig[:n]
                _tanh(c, out=tanh_c[t, :n])
                np.multiply(o, tanh_c[t, :n], out=h_all[t + 1, :n])
                if shared and n < N:  # the rows still on the path: row n - 1's new state
                    h_all[t + 1, n:] = h_all[t + 1, n - 1]
                    c_all[t + 1, n:] = c_all[t + 1, n - 1]
                if mask_tm is not None and not mask_tm[t].all():  # any mask: row by row
                    carry = ~mask_tm[t][:, None]  # (N, 1)
                    np.copyto(h_all[t + 1], h_all[t], where=carry)
                    np.copyto(c_all[t + 1], c_all[t], where=carry)

        self._cache = (xh, gates, c_all, tanh_c, order, counts, mask_tm, shared)
        hs = h_all[1:].transpose(1, 0, 2)  # (N, T, H)
        if order is None:
            self.h_last, self.c_last = h_all[T].copy(), c_all[T].copy()
            return np.ascontiguousarray(hs)
        self.h_last, self.c_last = _unsort(h_all[T], order), _unsort(c_all[T], order)
        return _unsort(hs, order)

    def backward(self, dhs, dh_last=None, dc_last=None, need_dh0=True):
        """dhs (N, T, H) or None -> dxs (N, T, D); dh_last, dc_last add to the final h, c.

        need_dh0=False skips the product that only `dh0` needs (the encoder's h0 is a constant
        zero); `dh0` is then None. After a forward with `lead`, dh0 and dc0 are None: rows that
        shared their start have one gradient between them.
        """
        _check_forward_ran(self._cache, self)
        Wx, Wh, _ = self.params
        xh, gates, c_all, tanh_c, order, counts, mask_tm, shared = self._cache
        T, _, N, H = gates.shape
        K = xh.shape[2]
        D = K - 1 - H
        dtype = gates.dtype
        if order is not None:
            dhs = None if dhs is None else np.asarray(dhs)[order]
            dh_last = None if dh_last is None else np.asarray(dh_last)[order]
            dc_last = None if dc_last is None else np.asarray(dc_last)[order]

        # dA: d loss / d pre-activation, in the columns' own order, so the weight gradients
        # come out of one product over all steps after the loop. With shared leading steps,
        # just the rows each step computed are kept, packed step after step: the product then
        # skips the rest (half of an encoder's rows with the seed's padding) instead of
        # multiplying zeros. Masked rows stay in place, zero: packing them gained 0-3 %, and
        # it would change the last bits of every masked run, the shipped model's recipe too.
        packed = shared
        if not packed:
            dA = self._buffer("dA", (T, N, 4 * H), dtype)
        else:
            starts = np.concatenate(([0], np.cumsum(counts)))  # step t: rows starts[t]:[t + 1]
            dA_packed = self._buffer("dA", (int(starts[-1]), 4 * H), dtype)
            dA = [dA_packed[starts[t]:starts[t + 1]] for t in range(T)]
        dh_next = np.zeros((N, H), dtype=dtype)  # d loss / d h_t from later steps
        dc_next = np.zeros((N, H), dtype=dtype)
        if dh_last is not None:
            dh_next += dh_last
        if dc_last is not None:
            dc_next += dc_last
        dh, dc, work = (self._buffer(name, (N, H), dtype) for name in ("dh", "dc", "work"))
        # Each step's product gives d loss / d [x_t, h_{t-1}] at once: dA_t @ [Wx; Wh].T.
        dxh = self._buffer("dxh", (T, N, D + H), dtype)
        Wxh_T = _stacked_transpose((Wx, Wh), self._buffer("Wxh_T", (4 * H, D + H), dtype))
        for t in range(T - 1, -1, -1):
            if dhs is None:
                dh[...] = dh_next
            else:
                np.add(dh_next, dhs[:, t], out=dh)
            n = N if counts is None else counts[t]
            if shared and n < N:
                # Rows n - 1 .. N - 1 are one state at this step, and the step is linear in
                # their gradients: row n - 1 takes the sum through it, for all of them.
                dh[n - 1] = dh[n - 1:].sum(axis=0)
                dc_next[n - 1] = dc_next[n - 1:].sum(axis=0)
                dc_next[n:] = 0
                dxh[t, n:] = 0
            elif n < N:  # rows without a real step pass their gradient through
                dA[t][n:] = 0
                dxh[t, n:, :D] = 0
                dxh[t, n:, D:] = dh[n:]
            if n:
                row_by_row = mask_tm is not None and not mask_tm[t].all()  # any mask
                if row_by_row:
                    real = mask_tm[t][:, None]
                    dc_carried = dc_next.copy()
                _step_backward(gates[t, :, :n], tanh_c[t, :n], c_all[t, :n], dh[:n], dc_next[:n],
                               dc[:n], work[:n], dA[t][:n])
                if row_by_row:  # rows without a real step pass dc through, and have no dA
                    np.copyto(dc_next, dc_carried, where=~real)
                    np.copyto(dA[t], 0, where=~real)
                if t == 0 and not need_dh0:  # only the input part
                    np.matmul(dA[0][:n], Wxh_T[:, :D], out=dxh[0, :n, :D])
                    break
                np.matmul(dA[t][:n], Wxh_T, out=dxh[t, :n])
                if row_by_row:
                    np.copyto(dxh[t, :, D:], dh, where=~real)
            dh_next = dxh[t, :, D:]
        dh0 = dh_next.copy() if need_dh0 and not shared else None
        if shared:
            dc_next = None

        dW = self._buffer("dW", (K, 4 * H), dtype)
        if not packed:
            xh_rows, dA_rows = xh[:T].reshape(T * N, K), dA.reshape(T * N, 4 * H)
        else:  # the rows each step computed, packed as dA is
            xh_rows, dA_rows = self._buffer("xh_rows", (len(dA_packed), K), dtype), dA_packed
            for t, n in enumerate(counts):
                xh_rows[starts[t]:starts[t + 1]] = xh[t, :n]
        np.matmul(xh_rows.T, dA_rows, out=dW)  # rows: dWx, then db, then dWh
        self.grads[0][...] = dW[:D]
        self.grads[2][...] = dW[D]
        self.grads[1][...] = dW[D + 1:]
        dxs = dxh[:, :, :D].transpose(1, 0, 2)  # (N, T, D)
        if order is None:
            self.dh0, self.dc0 = dh0, dc_next
            return np.ascontiguousarray(dxs)
        self.dh0 = None if dh0 is None else _unsort(dh0, order)
        self.dc0 = None if dc_next is None else _unsort(dc_next, order)
        return _unsort(dxs, order)

    def infer(self, ids, embed, mask=None):
        """Forward only, for decoding, over embedded ids: no caches, and every distinct state
        computed once.

        ids (N, T) index the rows of embed (V, D); mask (N, T), optional: a False step carries
        the state, as in `forward`. Two rows that have read the same ids so far (their real
        steps) are in the same state, so each step computes one row per distinct pair (state
        before, id) instead of one per question: the padding run that every unmasked reversed
        question starts with, and the common endings of numerals (a reversed question starts
        with its last characters), are computed once. On the kanji test split of
        data/kanji.txt (4,990 numerals, 13.2 characters on average), in `Run.predict`'s
        batches of 1,000 sorted by length, the encoder computes 10.5 rows per question, masked
        or not: 80 % of the real characters (fourth session; the third counted 11.2 of 14.0 on
        the data it had).
        Returns hs (N, T, H) and the final h, c (N, H): what forward gives for embed[ids].
        """
        Wx, Wh, b = self.params
        ids = np.asarray(ids)
        N, T = ids.shape
        V, D = embed.shape
        H = Wh.shape[0]
        dtype = Wh.dtype
        W = stacked_gate_weights(Wx, Wh, b, dtype)  # (4, K, H)
        embed = np.asarray(embed, dtype=dtype)
        no_input = V  # the "id" of a masked step
        state = np.zeros(N, dtype=np.intp)  # each row's state: a row of the state tables
        # Two pairs of state tables, one for the states before a step and one for after; and
        # the step's rows and gates. Allocated once: fresh arrays at every step cost page faults.
        tables = np.zeros((2, 2, N + 1, H), dtype=dtype)  # [which][h or c]
        work = (np.empty((N + 1, D + 1 + H), dtype=dtype), np.empty((4, N + 1, H), dtype=dtype))
        hs = np.empty((N, T, H), dtype=dtype)
        with np.errstate(over="ignore", under="ignore"):
            for t in range(T):
                step_ids = ids[:, t] if mask is None else np.where(mask[:, t], ids[:, t], no_input)
                pairs, state = np.unique(state * (V + 1) + step_ids, return_inverse=True)
                before, read = np.divmod(pairs, V + 1)
                self._step_states(W, embed, tables[t % 2], tables[(t + 1) % 2], before, read, work)
                np.take(tables[(t + 1) % 2, 0], state, axis=0, out=hs[:, t])
        h_states, c_states = tables[T % 2]
        return hs, h_states[state], c_states[state]

    @staticmethod
    def _step_states(W, embed, states, next_states, before, read, work):
        """One step of `infer` over distinct states: next state k comes from state before[k]
        reading id read[k] (read[k] == len(embed): no input, the state carries over). states
        and next_states: (h, c) tables; work: buffers for the rows and the gates."""
        V, D = embed.shape
        (h_states, c_states), (h_next, c_next) = states, next_states
        carried = read == V
        if carried.any():
            h_next[:len(read)][carried] = h_states[before[carried]]
            c_next[:len(read)][carried] = c_states[before[carried]]
        rows = np.flatnonzero(~carried)
        if len(rows) == 1:  # two rows, so numpy takes sgemm as for a batch (gemv rounds apart)
            rows = np.repeat(rows, 2)
        n = len(rows)
        if n:
            xh, a = work[0][:n], work[1][:, :n]
            np.take(embed, read[rows], axis=0, out=xh[:, :D])
            xh[:, D] = 1
            np.take(h_states, before[rows], axis=0, out=xh[:, D + 1:])
            np.matmul(xh, W, out=a)  # (4, n, H)
            _activate_gates(a)
            o, f, i, g = a
            c = np.take(c_states, before[rows], axis=0)
            c *= f
            i *= g
            c += i
            h = _tanh(c, out=g)
            h *= o
            h_next[rows], c_next[rows] = h, c

    def step(self, x, h, c):
        """One step without caching, for greedy decoding: x (N, D), h, c (N, H) -> h, c."""
        Wx, Wh, b = self.params
        N, H = h.shape
        a = np.matmul(x.astype(Wx.dtype, copy=False), Wx)  # (N, 4H)
        a += np.matmul(h.astype(Wh.dtype, copy=False), Wh)
        a += b
        gates = np.multiply(a.reshape(N, 4, H).transpose(1, 0, 2),
                            np.array(_GATE_SCALE, dtype=a.dtype).reshape(4, 1, 1))  # (4, N, H)
        with np.errstate(over="ignore", under="ignore"):
            _activate_gates(gates)
        o, f, i, g = gates
        c_new = f * c + i * g
        return o * np.tanh(c_new), c_new


class LSTMStepper:
    """An LSTM stepped over a batch, one input at a time, as `LSTM.forward` computes a step.

    For greedy decoding, where each input depends on the last output. The weights are stacked
    and pre-scaled once, not at every step; the rows [x, 1, h] and the cell are buffers updated
    in place. An input part that is the same at every step (peeky's encoder state) is
    multiplied once: `peek` (N, P) feeds the first P rows of Wx, and `step` takes the rest.
    """

    @staticmethod
    def stacked_weights(lstm: LSTM, peek: int = 0):
        """The weights a stepper multiplies at every step, for `W`: [Wx; b; Wh] stacked as
        `stacked_gate_weights` does, without the first `peek` rows of Wx."""
        Wx, Wh, b = lstm.params
        return stacked_gate_weights(Wx[peek:], Wh, b, Wh.dtype)

    def __init__(self, lstm: LSTM, h0, peek=None, W=None):
        Wx, Wh, b = lstm.params
        dtype = Wh.dtype
        N, H = h0.shape
        P = 0 if peek is None else peek.shape[1]
        self.D = D = Wx.shape[0] - P
        # W, when given, is `stacked_weights(lstm, P)`, made once for many steppers
        self.W = self.stacked_weights(lstm, P) if W is None else W  # (4, D + 1 + H, H)
        self.constant = None  # (4, N, H), pre-scaled like W
        if peek is not None:
            self.constant = _gate_major(np.matmul(peek.astype(dtype, copy=False), Wx[:P]), dtype)
        self.xh = np.empty((N, D + 1 + H), dtype=dtype)
        self.xh[:, D] = 1
        self.xh[:, D + 1:] = h0
        self.c = np.zeros((N, H), dtype=dtype)
        self.gates = np.empty((4, N, H), dtype=dtype)
        self.ig = np.empty((N, H), dtype=dtype)
        self.tanh_c = np.empty((N, H), dtype=dtype)

    def keep(self, rows):
        """Go on with some of the rows only, in the given order (rows that have ended)."""
        self.xh, self.c = self.xh[rows], self.c[rows]
        if self.constant is not None:
            self.constant = np.ascontiguousarray(self.constant[:, rows])
        n = len(rows)
        self.gates, self.ig, self.tanh_c = self.gates[:, :n], self.ig[:n], self.tanh_c[:n]

    def step(self, x):
        """x (N, D) -> h (N, H): a view into the stepper's buffer, valid until the next step."""
        xh, a, c, D = self.xh, self.gates, self.c, self.D
        xh[:, :D] = x
        np.matmul(xh, self.W, out=a)
        if self.constant is not None:
            a += self.constant
        h = xh[:, D + 1:]
        with np.errstate(over="ignore", under="ignore"):
            _activate_gates(a)
            o, f, i, g = a
            c *= f
            np.multiply(i, g, out=self.ig)
            c += self.ig
            np.multiply(o, _tanh(c, out=self.tanh_c), out=h)
        return h


class Attention:
    """Dot-product attention of every decoder state over the encoder states; no params.

    forward(enc_hs (N, Te, H), dec_hs (N, Td, H), src_mask (N, Te) True = real) -> context
    (N, Td, H). `weights` (N, Td, Te) stays readable after forward; padding gets weight exactly 0.
    """

    def __init__(self):
        self.params, self.grads, self.names = [], [], ()
        self.weights = None
        self._cache = None

    def forward(self, enc_hs, dec_hs, src_mask=None):
        scores = np.matmul(dec_hs, enc_hs.transpose(0, 2, 1))  # (N, Td, Te)
        if src_mask is not None:
            np.copyto(scores, -np.inf, where=~np.asarray(src_mask, dtype=bool)[:, None, :])
        self.weights = softmax(scores, axis=-1)
        self._cache = (enc_hs, dec_hs)
        return np.matmul(self.weights, enc_hs)  # (N, Td, H)

    def backward(self, dcontext):
        """dcontext (N, Td, H) -> (denc_hs (N, Te, H), ddec_hs (N, Td, H))."""
        _check_forward_ran(self._cache, self)
        enc_hs, dec_hs = self._cache
        weights = self.weights
        dweights = np.matmul(dcontext, enc_hs.transpose(0, 2, 1))  # (N, Td, Te)
        denc_hs = np.matmul(weights.transpose(0, 2, 1), dcontext)  # (N, Te, H)
        # softmax backward: ds = w * (dw - sum(w * dw)); masked positions have w = 0.
        dscores = dweights
        dscores -= np.sum(weights * dweights, axis=-1, keepdims=True)
        dscores *= weights
        denc_hs += np.matmul(dscores.transpose(0, 2, 1), dec_hs)
        ddec_hs = np.matmul(dscores, enc_hs)  # (N, Td, H)
        return denc_hs, ddec_hs


class SoftmaxCrossEntropy:
    """Mean cross-entropy of scores (N, T, V) against int targets (N, T) over counted positions.

    mask (N, T), bool or float, weights each position; the mean divides by mask.sum() (a loss
    over no positions is 0, not NaN). Without a mask every position counts.
    """

    def __init__(self):
        self.params, self.grads, self.names = [], [], ()
        self._cache = None

    def forward(self, scores, targets, mask=None):
        N, T, V = scores.shape
        shifted = scores - np.max(scores, axis=-1, keepdims=True)  # (N, T, V)
        probs = np.exp(shifted)
        total = np.sum(probs, axis=-1)  # (N, T)
        target_scores = np.take_along_axis(shifted, targets[..., None], axis=-1)[..., 0]
        losses = np.log(total) - target_scores  # (N, T)
        probs /= total[..., None]
        if mask is None:
            weights, count = None, N * T
            loss = float(np.sum(losses))
        else:
            weights = np.asarray(mask, dtype=scores.dtype)
            count = float(np.sum(weights))
            loss = float(np.sum(losses * weights))
        count = count if count > 0 else 1.0
        self._cache = (probs, targets, weights, count)
        return loss / count

    def backward(self, dout=1.0):
        _check_forward_ran(self._cache, self)
        probs, targets, weights, count = self._cache
        dscores = probs.copy()  # (N, T, V)
        np.put_along_axis(dscores, targets[..., None],
                          np.take_along_axis(dscores, targets[..., None], axis=-1) - 1, axis=-1)
        if weights is None:
            dscores *= dout / count
        else:
            dscores *= (weights * (dout / count))[..., None]
        return dscores
