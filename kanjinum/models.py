"""The seq2seq variants: an LSTM encoder and one of three decoders, and batched greedy decoding.

- seq2seq:   the encoder's last hidden state starts the decoder LSTM;
- peeky:     that state is also fed to every decoder step, beside the LSTM input and the output;
- attention: each decoder step attends over all encoder states; the output reads [context; h].

Shapes: N batch, Te question length, Td answer length + 1, V vocabulary, D wordvec, H hidden.
Initialisation follows the book (embeddings N(0, 0.01²), weights N(0, 1/fan_in), zero biases), so
results compare with the seeds'.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kanjinum.layers import (LSTM, Attention, Embedding, LSTMStepper, SoftmaxCrossEntropy,
                             TimeAffine, shared_lead)

MODEL_KINDS = ("seq2seq", "peeky", "attention", "bi-attention")
# Rows the decoder steps through together: enough for full-speed products, few enough that their
# encoder states (Te x H floats each), which every attention step reads, stay in cache.
DECODER_ROWS = 256


@dataclass(frozen=True)
class ModelConfig:
    """The shape of a model: its kind (MODEL_KINDS), vocabulary size, embedding and LSTM sizes."""

    kind: str = "attention"
    vocab_size: int = 0
    wordvec: int = 16
    hidden: int = 256

    def __post_init__(self):
        if self.kind not in MODEL_KINDS:
            raise ValueError(f"unknown model {self.kind!r}; choose one of {', '.join(MODEL_KINDS)}")
        for name in ("vocab_size", "wordvec", "hidden"):
            value = getattr(self, name)
            # hidden="8" failed with "'<' not supported between 'str' and 'int'", and 8.0 was
            # taken here and failed in numpy when the weights were drawn
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
                raise TypeError(f"{name} {value!r} is not a whole number")
            object.__setattr__(self, name, int(value))  # np.int64 as int: config.json holds it
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")


def _normal(rng, shape, scale, dtype):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def _lstm(rng, inputs: int, hidden: int, dtype) -> LSTM:
    return LSTM(_normal(rng, (inputs, 4 * hidden), 1 / np.sqrt(inputs), dtype),
                _normal(rng, (hidden, 4 * hidden), 1 / np.sqrt(hidden), dtype),
                np.zeros(4 * hidden, dtype=dtype))


def _affine(rng, inputs: int, outputs: int, dtype) -> TimeAffine:
    return TimeAffine(_normal(rng, (inputs, outputs), 1 / np.sqrt(inputs), dtype),
                      np.zeros(outputs, dtype=dtype))


def answer_steps(tgt_mask):
    """The decoder steps whose outputs count, as an LSTM mask, or None for all of them.

    When the counted positions of every row are a prefix (an answer and its end, then padding),
    the steps after them change no counted output: the decoder LSTM may skip them (a masked
    step carries its state), and the loss and every gradient stay what they were.
    """
    if tgt_mask is None:
        return None
    steps = np.asarray(tgt_mask) > 0
    if steps.all() or not np.all(steps[:, 1:] <= steps[:, :-1]):
        return None
    return steps


def _check_ids(xs, vocab_size: int, name: str = "xs") -> None:
    """A ValueError for ids the embedding has no row for. The decoding encoder
    (`LSTM.infer`) packs each step's (state, id) into one number, so an id of vocab_size or
    more read as another state's step: questions encoded with another vocabulary were
    answered, wrongly, without a word; the training forward raised numpy's IndexError from
    deep inside, and took a negative id for a row counted from the end."""
    if not np.issubdtype(xs.dtype, np.integer):
        raise TypeError(f"{name} must hold integer ids, not {xs.dtype} values")
    if xs.size and (xs.min() < 0 or xs.max() >= vocab_size):
        raise ValueError(f"{name} holds ids outside 0..{vocab_size - 1}, the rows of this "
                         f"model's embedding (found {xs.min()}..{xs.max()}): encode the "
                         "texts with the vocabulary the model was trained with (run.vocab)")


def _check_mask(mask, shape: tuple, name: str, of: str) -> None:
    """A ValueError for a mask whose shape is not that of the ids it masks: a mask of other
    rows or columns failed deep inside with numpy's IndexError or a broadcast error, and
    seq2seq and peeky took a (2, 5) mask for 3 questions, and a (3, 6) one for questions of
    5 ids, and answered without a word."""
    if mask is not None and np.shape(mask) != shape:
        raise ValueError(f"{name} has shape {np.shape(mask)}; it must be {of}'s, {shape}: "
                         "one True or False for each id")


class Seq2seq:
    """Encoder and plain decoder; Peeky and AttentionSeq2seq change only the decoder."""

    kind = "seq2seq"
    has_attention = False
    # Without a mask, the encoder computes the states that questions share from their start (the
    # padding before a reversed question) once per batch; False computes every row's own.
    share_leading_steps = True

    def __init__(self, config: ModelConfig, rng: np.random.Generator, dtype=np.float32):
        V, D, H = config.vocab_size, config.wordvec, config.hidden
        self.config = config
        self.dtype = np.dtype(dtype)
        self.layers = {
            "encoder.embed": Embedding(_normal(rng, (V, D), 0.01, dtype)),
            "encoder.lstm": _lstm(rng, D, H, dtype),
            "decoder.embed": Embedding(_normal(rng, (V, D), 0.01, dtype)),
            "decoder.lstm": _lstm(rng, self._decoder_lstm_inputs(), H, dtype),
            "decoder.affine": _affine(rng, self._affine_inputs(), V, dtype),
        }
        self.loss_layer = SoftmaxCrossEntropy()

    def _decoder_lstm_inputs(self) -> int:
        return self.config.wordvec

    def _affine_inputs(self) -> int:
        return self.config.hidden

    # -- parameters -------------------------------------------------------------------------

    @property
    def params(self) -> list[np.ndarray]:
        return [p for layer in self.layers.values() for p in layer.params]

    @property
    def grads(self) -> list[np.ndarray]:
        return [g for layer in self.layers.values() for g in layer.grads]

    def named_params(self) -> dict[str, np.ndarray]:
        return {f"{prefix}.{name}": p for prefix, layer in self.layers.items()
                for name, p in zip(layer.names, layer.params)}

    def load_params(self, arrays: dict[str, np.ndarray]) -> None:
        """Copy saved weights in, after checking that every name and shape matches."""
        own = self.named_params()
        missing = sorted(set(own) - set(arrays))
        extra = sorted(set(arrays) - set(own))
        if missing or extra:
            raise ValueError(f"weights do not fit a {self.kind} model "
                             f"(missing: {missing[:3]}, unexpected: {extra[:3]})")
        for name, param in own.items():
            array = arrays[name]
            if array.shape != param.shape:
                raise ValueError(f"weight {name} has shape {array.shape}, "
                                 f"the model needs {param.shape}")
            # A string array would be parsed into numbers by the copy; NaN would answer nonsense.
            if not np.issubdtype(array.dtype, np.floating):
                raise ValueError(f"weight {name} holds {array.dtype} values, not floating-point numbers")
            if not np.all(np.isfinite(array)):
                raise ValueError(f"weight {name} holds values that are not finite")
            param[...] = array

    # -- training ---------------------------------------------------------------------------

    def forward(self, xs, ts, src_mask=None, tgt_mask=None) -> float:
        """Mean cross-entropy of predicting ts[:, 1:] from xs and ts[:, :-1] (teacher forcing)."""
        # ids as lists too, as generate takes them (ts[:, :-1] failed on a list of lists)
        xs, ts = np.asarray(xs), np.asarray(ts)
        _check_ids(xs, self.config.vocab_size)
        _check_ids(ts, self.config.vocab_size, "ts")
        _check_mask(src_mask, xs.shape, "src_mask", "xs")
        _check_mask(tgt_mask, ts[:, 1:].shape, "tgt_mask", "ts[:, 1:]")
        enc_hs, h = self.encode(xs, src_mask)
        scores = self._decode_train(ts[:, :-1], enc_hs, h, src_mask, answer_steps(tgt_mask))
        return self.loss_layer.forward(scores, ts[:, 1:], tgt_mask)

    def backward(self) -> None:
        dscores = self.loss_layer.backward()
        denc_hs, dh = self._decode_train_backward(dscores)
        self._encode_backward(denc_hs, dh)

    def encode(self, xs, src_mask=None):
        """Encoder states (N, Te, H) and the state that starts the decoder (N, H): the one after
        the last real character (masked steps carry the state over)."""
        emb = self.layers["encoder.embed"].forward(xs)
        lstm = self.layers["encoder.lstm"]
        return lstm.forward(emb, mask=src_mask, lead=self.encoder_lead(xs, src_mask)), lstm.h_last

    def encoder_lead(self, xs, src_mask):
        """The steps each question shares with others from its start (`shared_lead`), for the
        encoder to compute once; None with a mask (padding is skipped there) or when few."""
        if src_mask is not None or not self.share_leading_steps:
            return None
        return shared_lead(xs)

    def _encode_backward(self, denc_hs, dh) -> None:
        # h0 = 0 is no parameter: its gradient, one product per step, is not needed.
        demb = self.layers["encoder.lstm"].backward(denc_hs, dh_last=dh, need_dh0=False)
        self.layers["encoder.embed"].backward(demb)

    def _decode_train(self, dec_in, enc_hs, h, src_mask, steps=None):
        emb = self.layers["decoder.embed"].forward(dec_in)
        dec_hs = self.layers["decoder.lstm"].forward(emb, h0=h, mask=steps)
        return self.layers["decoder.affine"].forward(dec_hs)

    def _decode_train_backward(self, dscores):
        """-> (gradient wrt the encoder states or None, gradient wrt the decoder's start state)"""
        lstm = self.layers["decoder.lstm"]
        demb = lstm.backward(self.layers["decoder.affine"].backward(dscores))
        self.layers["decoder.embed"].backward(demb)
        return None, lstm.dh0

    # -- decoding ---------------------------------------------------------------------------

    def generate(self, xs, start_id: int, length: int, src_mask=None, end_id=None,
                 attention_weights: bool = True):
        """Greedy decoding of a whole batch at once.

        Returns ids (N, length) and attention weights (N, length, Te), or None for models with no
        attention and with attention_weights=False (answers only, a little faster). With end_id,
        a row that has produced it keeps producing it, and decoding stops as soon as every row
        has ended; the rest is filled with end_id (and weights with 0).

        The ids are those of the training forward fed its own outputs. For speed the encoder
        computes each distinct state once (`LSTM.infer`); the decoder runs over the rows in
        groups of DECODER_ROWS (a group's encoder states stay in cache from step to step), drops
        the rows that have ended, and makes every product that does not change from step to step
        once (see each model's `_decoding_steps`).
        """
        xs = np.asarray(xs)
        _check_ids(xs, self.config.vocab_size)
        _check_mask(src_mask, xs.shape, "src_mask", "xs")
        N = xs.shape[0]
        enc_hs, h = self._encode_for_decoding(xs, src_mask)
        mask = None if src_mask is None else np.asarray(src_mask, dtype=bool)
        ids = np.full((N, length), end_id if end_id is not None else start_id, dtype=np.int32)
        weights = None
        if self.has_attention and attention_weights:
            weights = np.zeros((N, length, enc_hs.shape[1]), self.dtype)
        stacked = self._decoder_weights()
        for first in range(0, N, DECODER_ROWS):
            rows = slice(first, first + DECODER_ROWS)
            self._decode_rows(enc_hs[rows], h[rows], None if mask is None else mask[rows],
                              start_id, end_id, ids[rows],
                              None if weights is None else weights[rows], stacked)
        return ids, weights

    def _decoder_weights(self):
        """The decoder LSTM's weights stacked for `LSTMStepper`, made once per `generate`."""
        return LSTMStepper.stacked_weights(self.layers["decoder.lstm"])

    def _decode_rows(self, enc_hs, h, src_mask, start_id, end_id, ids, weights, stacked):
        """Greedy decoding of some rows into ids (n, length) and, if given, weights (n, length,
        Te), in place. Rows that have ended leave the batch once enough of them have."""
        n, length = ids.shape
        step, keep = self._decoding_steps(enc_hs, h, src_mask, stacked, weights is not None)
        live = np.arange(n)  # the rows still in the batch, in the batch's order
        ended = np.zeros(n, dtype=bool)  # of the live rows: ended at an earlier step
        current = np.full(n, start_id, dtype=np.int32)
        for t in range(length):
            scores, step_weights = step(current)
            current = scores.argmax(axis=1).astype(np.int32)
            if weights is not None:
                if ended.any():
                    step_weights[ended] = 0
                weights[live, t] = step_weights
            if end_id is None:
                ids[:, t] = current
                continue
            current[ended] = end_id
            ids[live, t] = current
            ended |= current == end_id
            if ended.all():
                break
            if ended.sum() > 0.1 * len(live):  # copying their state costs less than a step
                going = np.flatnonzero(~ended)
                live, current, ended = live[going], current[going], ended[going]
                keep(going)

    def _encode_for_decoding(self, xs, src_mask):
        """encode() for decoding: (enc_hs, h), each distinct encoder state computed once."""
        embed = self.layers["encoder.embed"].params[0]
        enc_hs, h, _ = self.layers["encoder.lstm"].infer(xs, embed, src_mask)
        return enc_hs, h

    def _decoding_steps(self, enc_hs, h, src_mask, stacked, want_weights):
        """(step, keep): step takes the ids fed to the decoder (n,) and returns the next scores
        (n, V) and attention weights (n, Te) (None without attention or if not wanted), keeping
        the decoder state; keep(rows) narrows that state to some of its rows, in the given
        order. stacked: from `_decoder_weights`."""
        lstm = LSTMStepper(self.layers["decoder.lstm"], h, W=stacked)
        embed_W = self.layers["decoder.embed"].params[0]
        W, b = self.layers["decoder.affine"].params

        def step(current):
            scores = lstm.step(embed_W[current]) @ W
            scores += b
            return scores, None

        return step, lstm.keep


class PeekySeq2seq(Seq2seq):
    kind = "peeky"

    def _decoder_lstm_inputs(self) -> int:
        return self.config.hidden + self.config.wordvec

    def _affine_inputs(self) -> int:
        return 2 * self.config.hidden

    def _decode_train(self, dec_in, enc_hs, h, src_mask, steps=None):
        N, Td = dec_in.shape
        H = self.config.hidden
        peek = np.broadcast_to(h[:, None, :], (N, Td, H))
        emb = self.layers["decoder.embed"].forward(dec_in)
        dec_hs = self.layers["decoder.lstm"].forward(np.concatenate((peek, emb), axis=2), h0=h,
                                                     mask=steps)
        return self.layers["decoder.affine"].forward(np.concatenate((peek, dec_hs), axis=2))

    def _decode_train_backward(self, dscores):
        H = self.config.hidden
        lstm = self.layers["decoder.lstm"]
        dout = self.layers["decoder.affine"].backward(dscores)  # (N, Td, 2H)
        dx = lstm.backward(dout[:, :, H:])  # (N, Td, H + D)
        self.layers["decoder.embed"].backward(dx[:, :, H:])
        return None, lstm.dh0 + dout[:, :, :H].sum(axis=1) + dx[:, :, :H].sum(axis=1)

    def _decoder_weights(self):
        return LSTMStepper.stacked_weights(self.layers["decoder.lstm"], peek=self.config.hidden)

    def _decoding_steps(self, enc_hs, h, src_mask, stacked, want_weights):
        # The encoder state is the same input at every step: its products are made once.
        H = self.config.hidden
        lstm = LSTMStepper(self.layers["decoder.lstm"], h, peek=h, W=stacked)
        embed_W = self.layers["decoder.embed"].params[0]
        W, b = self.layers["decoder.affine"].params
        peek_scores = h @ W[:H]  # (N, V)
        peek_scores += b

        def step(current):
            scores = lstm.step(embed_W[current]) @ W[H:]
            scores += peek_scores
            return scores, None

        def keep(rows):
            nonlocal peek_scores
            lstm.keep(rows)
            peek_scores = peek_scores[rows]

        return step, keep


class AttentionSeq2seq(Seq2seq):
    kind = "attention"
    has_attention = True

    def __init__(self, config: ModelConfig, rng: np.random.Generator, dtype=np.float32):
        super().__init__(config, rng, dtype)
        self.attention = Attention()

    def _affine_inputs(self) -> int:
        return 2 * self.config.hidden

    def _decode_train(self, dec_in, enc_hs, h, src_mask, steps=None):
        emb = self.layers["decoder.embed"].forward(dec_in)
        dec_hs = self.layers["decoder.lstm"].forward(emb, h0=h, mask=steps)
        context = self.attention.forward(enc_hs, dec_hs, src_mask)  # (N, Td, H)
        return self.layers["decoder.affine"].forward(np.concatenate((context, dec_hs), axis=2))

    def _decode_train_backward(self, dscores):
        H = self.config.hidden
        lstm = self.layers["decoder.lstm"]
        dout = self.layers["decoder.affine"].backward(dscores)  # (N, Td, 2H)
        denc_hs, ddec_hs = self.attention.backward(dout[:, :, :H])
        ddec_hs += dout[:, :, H:]
        self.layers["decoder.embed"].backward(lstm.backward(ddec_hs))
        return denc_hs, lstm.dh0

    def _decoding_steps(self, enc_hs, h, src_mask, stacked, want_weights):
        H = self.config.hidden
        lstm = LSTMStepper(self.layers["decoder.lstm"], h, W=stacked)
        embed_W = self.layers["decoder.embed"].params[0]
        W, b = self.layers["decoder.affine"].params
        # [context; h] @ W = weights @ (enc_hs @ W[:H]) + h @ W[H:]: the context part becomes a
        # V-wide product per step (V = 27) instead of an H-wide one, made from one product here.
        N, Te, _ = enc_hs.shape
        # (N, Te, V); as one 2-D product: a 3-D one runs a product per row, 25 % slower
        enc_scores = np.matmul(enc_hs.reshape(N * Te, H), W[:H]).reshape(N, Te, -1)
        padding = None if src_mask is None else ~np.asarray(src_mask, dtype=bool)
        empty = None if padding is None else padding.all(axis=1)  # rows that read nothing
        if empty is not None and not empty.any():
            empty = None

        def step(current):
            h = lstm.step(embed_W[current])
            attention = np.matmul(enc_hs, h[:, :, None])[:, :, 0]  # (N, Te); einsum: 2x slower
            if padding is not None:
                np.copyto(attention, -np.inf, where=padding)
            # softmax, normalised after the product: a division of (N, V), not of (N, Te)
            peak = attention.max(axis=1, keepdims=True)
            if empty is not None:  # no real character: weights 0, as the layer gives
                peak[empty] = 0
            attention -= peak
            np.exp(attention, out=attention)
            total = attention.sum(axis=1, keepdims=True)
            if empty is not None:
                total[empty] = 1
            scores = np.matmul(attention[:, None, :], enc_scores)[:, 0]  # (N, V)
            scores /= total
            scores += h @ W[H:]
            scores += b
            return scores, (np.divide(attention, total) if want_weights else None)

        def keep(rows):
            nonlocal enc_hs, enc_scores, padding, empty
            lstm.keep(rows)
            enc_hs, enc_scores = enc_hs[rows], enc_scores[rows]
            padding = None if padding is None else padding[rows]
            empty = None if empty is None else empty[rows]

        return step, keep


class BiAttentionSeq2seq(AttentionSeq2seq):
    """Attention over a bidirectional encoder (the book's §8.4): two LSTMs of H/2 units read the
    question both ways; each state is [forward; backward], still H wide, so the decoder is
    unchanged. The decoder starts from both directions' final states."""

    kind = "bi-attention"

    def __init__(self, config: ModelConfig, rng: np.random.Generator, dtype=np.float32):
        if config.hidden % 2:
            raise ValueError(f"bi-attention needs an even hidden size, not {config.hidden}")
        super().__init__(config, rng, dtype)
        half = config.hidden // 2
        self.layers["encoder.lstm"] = _lstm(rng, config.wordvec, half, dtype)
        self.layers["encoder.lstm_back"] = _lstm(rng, config.wordvec, half, dtype)
        self._decoding_lstms: dict[str, LSTM] = {}

    def encode(self, xs, src_mask=None):
        emb = self.layers["encoder.embed"].forward(xs)
        return self._encode_both_ways(emb, xs, src_mask, self.layers["encoder.lstm"],
                                      self.layers["encoder.lstm_back"])

    def _encode_both_ways(self, emb, xs, src_mask, fwd: LSTM, back: LSTM):
        hs_f = fwd.forward(emb, mask=src_mask, lead=self.encoder_lead(xs, src_mask))
        back_mask = None if src_mask is None else src_mask[:, ::-1]
        hs_b = back.forward(emb[:, ::-1], mask=back_mask)[:, ::-1]
        enc_hs = np.concatenate((hs_f, hs_b), axis=2)  # (N, Te, H)
        return enc_hs, np.concatenate((fwd.h_last, back.h_last), axis=1)

    def _encode_for_decoding(self, xs, src_mask):
        # encode()'s arithmetic (the backward direction reads the padding last), on layers of
        # their own over the same weights: the encoder's layers keep what backward() needs, and
        # a generate between a forward and its backward (a sample printed in a training loop)
        # replaced it with the decoded batch's, so the gradients came out wrong
        emb = np.take(self.layers["encoder.embed"].params[0], xs, axis=0)
        return self._encode_both_ways(emb, xs, src_mask, self._decoding_lstm("encoder.lstm"),
                                      self._decoding_lstm("encoder.lstm_back"))

    def _decoding_lstm(self, name: str) -> LSTM:
        """The decoding twin of layers[name], over the very same weight arrays (so it follows
        training and load_params), made once: an LSTM keeps its work buffers between calls, and
        a fresh one per generate paid their page faults again (a 1,000-question batch decoded
        20 % slower)."""
        layer, twin = self.layers[name], self._decoding_lstms.get(name)
        if twin is None or any(a is not b for a, b in zip(twin.params, layer.params)):
            twin = self._decoding_lstms[name] = LSTM(*layer.params)
        return twin

    def _encode_backward(self, denc_hs, dh) -> None:
        half = self.config.hidden // 2
        demb = self.layers["encoder.lstm"].backward(denc_hs[:, :, :half], dh_last=dh[:, :half],
                                                    need_dh0=False)
        demb_back = self.layers["encoder.lstm_back"].backward(
            np.ascontiguousarray(denc_hs[:, ::-1, half:]), dh_last=dh[:, half:], need_dh0=False)
        self.layers["encoder.embed"].backward(demb + demb_back[:, ::-1])


MODEL_CLASSES = {cls.kind: cls for cls in (Seq2seq, PeekySeq2seq, AttentionSeq2seq,
                                           BiAttentionSeq2seq)}


def build_model(config: ModelConfig, seed: int = 0, dtype=np.float32) -> Seq2seq:
    """A freshly initialised model of config.kind; the same seed gives the same weights."""
    return MODEL_CLASSES[config.kind](config, np.random.default_rng(seed), dtype)
