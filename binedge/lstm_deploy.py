"""A trained character LSTM as a deployment graph (issue 15; docs/lstm.md "Deployment").

The integer model of :mod:`binedge.lstm_integer` (constants proved there) becomes a recurrent
:class:`binedge.graph.Graph`: input u8 (1,) = the character id of this time step → one
:class:`binedge.graph.LSTM` op per layer → a Dense with int8 weights and a ScoreStage (the output
layer's int32 scores, logit = score / 2^S). Every backend (numpy reference, C runtime, ONNX) runs
it one step per input, keeping the LSTM state between steps until a reset.

    lower_char_lstm(model, vocab)      the graph of a trained binedge.lm.CharLSTM
    graph_from_constants(k, vocab)     the graph of an IntegerCharLSTM
    random_lstm_graph(rng, ...)        random valid graphs for tests (saturating ones too)
    load_text_run(run_dir)             (model, vocab, config, checkpoint name) of a --model lstm run
    generate(graph, seed_ids, n)       greedy text generation with the numpy reference
    text_agreement(model, graph, ...)  the trained model against the integer graph on a text stream
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import bitformat as bf
from .graph import INT32_MAX, LSTM, Dense, Graph, ScoreStage, TensorSpec, lstm_gate_bound

#: the graph input of a character model: one byte, the character id
ID_INPUT = TensorSpec("u8", (1,), scale=1.0, zero_point=0)
MODEL_KIND = "char-lstm"


def _layer_op(L, hidden: int, n_in: int, c_frac: int, name: str) -> LSTM:
    wh = L.wh.reshape(4 * hidden, hidden)
    wx = L.wx.reshape(4 * hidden, n_in)
    return LSTM(recurrent=bf.pack_sign(wh), input_weights=bf.pack_sign(wx.T if L.onehot else wx),
                in_features=n_in, hidden=hidden,
                multipliers=np.stack([L.mh, L.mx]).astype(np.int32), bias=L.b.reshape(-1).astype(np.int32),
                shifts=L.shift.astype(np.uint8), c_frac=int(c_frac), name=name)


def graph_from_constants(k, vocab=None, metadata: dict | None = None) -> Graph:
    """The recurrent graph of :class:`binedge.lstm_integer.IntegerCharLSTM` ``k``; ``vocab``: the
    character of every id (class names; id 0 "<unk>"). Validated (every bound proved)."""
    ops = []
    n_in = k.vocab_size
    for l, L in enumerate(k.layers):
        ops.append(_layer_op(L, k.hidden, n_in, k.c_frac, f"lstm{l}"))
        n_in = k.hidden
    ops.append(Dense(weights=np.ascontiguousarray(k.wq, dtype=np.int8), in_features=k.hidden,
                     out_features=k.vocab_size, weight_kind="int8", name="scores",
                     output=ScoreStage(np.asarray(k.m, np.int32), np.asarray(k.o, np.int32), int(k.score_shift))))
    names = [str(c) for c in vocab] if vocab is not None else []
    if names and len(names) != k.vocab_size:
        raise ValueError(f"{len(names)} vocabulary entries for a model of {k.vocab_size} characters")
    meta = {"model_kind": MODEL_KIND, "vocab_size": k.vocab_size, "hidden": k.hidden, "layers": len(k.layers),
            "c_frac": k.c_frac, "score_shift": int(k.score_shift), "tables_sha256": k.info.get("tables_sha256"),
            "max_z_error": k.info.get("max_z_error"), "score_error": k.info.get("score_error")}
    meta.update(metadata or {})
    g = Graph(ID_INPUT, ops, class_names=names, metadata=meta)
    g.validate()
    return g


def lower_char_lstm(model, vocab=None, metadata: dict | None = None) -> Graph:
    """The recurrent graph of a trained :class:`binedge.lm.CharLSTM` (its integer constants with
    its ``integer_c_frac``; :class:`binedge.lstm_integer.IntegerLSTMError` for a model they cannot
    represent)."""
    from .lstm_quant import model_constants

    return graph_from_constants(model_constants(model), vocab, metadata)


def random_lstm_graph(rng: np.random.Generator, vocab: int, hidden: int, layers: int = 1, *,
                      c_frac: int = 10, saturate: bool = False) -> Graph:
    """A valid random recurrent graph (for tests): random ±1 matrices, per-gate multipliers and
    shifts, biases and int8 output weights, each at most as large as the int32 proofs allow.
    ``saturate``: multipliers and biases near the limits, so gates, c and h hit their clamps."""

    ops = []
    n_in = vocab
    for l in range(layers):
        onehot = l == 0
        x_bound = 1 if onehot else 127 * n_in
        shifts = rng.integers(1, 31, 4) if not saturate else rng.integers(8, 16, 4)
        mult = np.zeros((2, 4), np.int64)
        bias = np.zeros((4, hidden), np.int64)
        for j in range(4):
            room = INT32_MAX - (1 << (int(shifts[j]) - 1))
            # the gate pre-activation reaches about ±scale · 2^s: pick the scale in table steps
            step = 1 << int(shifts[j])
            scale = (rng.uniform(2, 12) if saturate else rng.uniform(0.2, 4)) * 64 * step
            mh = min(int(scale / (127 * np.sqrt(hidden))) + 1, room // (3 * 127 * hidden))
            mx = min(int(scale / (1 if onehot else 127 * np.sqrt(n_in))) + 1, room // (3 * x_bound))
            bmax = min(int(scale), room // 3)
            mult[0, j] = mh * rng.choice([-1, 1]) if rng.random() < 0.1 else mh
            mult[1, j] = mx
            bias[j] = rng.integers(-bmax, bmax + 1, hidden)
            if saturate:  # most cells: i, f → 1 and g → ±1 (beyond the table ends), so c runs into its clamp
                pinned = rng.random(hidden) < 0.7
                big = rng.integers(9 * 64 * step, 12 * 64 * step, hidden)
                sign = np.ones(hidden, np.int64) if j in (0, 1) else rng.choice([-1, 1], hidden)
                bias[j] = np.where(pinned, np.minimum(big, room // 3) * sign, bias[j])
        wh = rng.choice(np.array([-1, 1], np.int8), (4 * hidden, hidden))
        wx = rng.choice(np.array([-1, 1], np.int8), (4 * hidden, n_in))
        op = LSTM(recurrent=bf.pack_sign(wh), input_weights=bf.pack_sign(wx.T if onehot else wx), in_features=n_in,
                  hidden=hidden, multipliers=mult.astype(np.int32), bias=bias.reshape(-1).astype(np.int32),
                  shifts=shifts.astype(np.uint8), c_frac=int(c_frac), name=f"lstm{l}")
        assert max(lstm_gate_bound(op, onehot)) <= INT32_MAX
        ops.append(op)
        n_in = hidden
    wq = rng.integers(-127, 128, (vocab, hidden)).astype(np.int8)
    acc = 128 * np.abs(wq.astype(np.int64)).sum(axis=1)
    m = rng.integers(1, max(2, min(1 << 16, INT32_MAX // (2 * int(acc.max())))), vocab)
    o = rng.integers(-(1 << 20), 1 << 20, vocab)
    ops.append(Dense(weights=wq, in_features=hidden, out_features=vocab, weight_kind="int8", name="scores",
                     output=ScoreStage(m.astype(np.int32), o.astype(np.int32), int(rng.integers(0, 20)))))
    g = Graph(ID_INPUT, ops, metadata={"model_kind": MODEL_KIND, "vocab_size": vocab, "hidden": hidden,
                                       "layers": layers, "c_frac": c_frac})
    g.validate()
    return g


def is_char_graph(graph: Graph) -> bool:
    """A character model: a recurrent graph reading one character id per step."""
    return graph.is_recurrent() and graph.input == ID_INPUT


def generate(graph: Graph, seed_ids, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Greedy generation with the numpy reference from the zero state: feed ``seed_ids``, then
    ``n`` times the argmax (first maximum) of the last scores. Returns (the n generated ids,
    the int32 scores of every step: (len(seed) + n - 1, V) — the step that would follow the
    last generated id is not run)."""
    from .reference import run_stream, zero_state

    seed = np.asarray(seed_ids, dtype=np.uint8).reshape(-1, 1)
    if len(seed) == 0:
        raise ValueError("generation needs a seed of at least one character")
    scores, state = run_stream(graph, seed, zero_state(graph))
    all_scores, out = [scores], []
    for t in range(n):
        nxt = int(np.argmax(all_scores[-1][-1]))
        out.append(nxt)
        if t + 1 < n:
            s, state = run_stream(graph, np.array([[nxt]], np.uint8), state)
            all_scores.append(s)
    return np.array(out, np.int64), np.concatenate(all_scores)


def load_text_run(run_dir, checkpoint: str = "best.pt"):
    """(CharLSTM in eval mode, vocabulary list, TrainConfig, checkpoint dict) of a ``--model lstm``
    run directory. ValueError naming the problem for a missing or unreadable checkpoint."""
    from .train import TrainError, load_checkpoint

    path = Path(run_dir) / checkpoint
    try:
        model, cfg, ck = load_checkpoint(path)
    except TrainError as e:
        raise ValueError(str(e)) from None
    vocab = ck.get("vocab")
    if vocab is None or len(vocab) != model.vocab_size:
        raise ValueError(f"{path}: the checkpoint has no vocabulary of {model.vocab_size} characters "
                         f"(a run from before vocabularies were saved; retrain it)")
    model.eval()
    return model, list(vocab), cfg, ck



def text_agreement(model, graph: Graph, inputs: np.ndarray, labels: np.ndarray) -> dict:
    """The trained CharLSTM against the graph's reference over one stream of character ids
    (``inputs`` (N, 1) uint8 from the zero state; ``labels`` the next characters):

    - ``pytorch_integer_scores_equal``: the PyTorch model in eval mode with ``integer_eval``
      (binedge.lstm_quant, the fake-quantized path) gives exactly the reference's int32 scores;
    - ``agreement``: next-character argmax of the float model == of the integer scores (first
      maximum), ``ties``: steps whose two best integer scores are equal;
    - cross-entropy in nats per character of the float model and of the integer model (logit =
      score / 2^S), and both accuracies."""
    import torch
    import torch.nn.functional as F

    from .lstm_quant import integer_scores, model_constants
    from .reference import run

    ref = run(graph, inputs).astype(np.int64)
    ids = torch.from_numpy(inputs[:, 0].astype(np.int64))[None]
    y = torch.from_numpy(np.asarray(labels, np.int64))
    was = model.training
    model.eval()
    with torch.no_grad():
        logits, _ = model(ids)
        k = model_constants(model)
        scores, _ = integer_scores(model, ids, None, k)
    model.train(was)
    lf = logits[0].double()
    si = scores[0].numpy().astype(np.int64)
    li = torch.from_numpy(ref.astype(np.float64) * 2.0 ** -int(graph.ops[-1].output.shift))
    pf, pi = lf.argmax(-1).numpy(), ref.argmax(-1)
    top2 = np.sort(ref, axis=1)[:, -2:] if ref.shape[1] > 1 else np.zeros((len(ref), 2))
    n = len(ref)
    return {"samples": n, "agree": int((pf == pi).sum()), "agreement": float((pf == pi).mean()) if n else 1.0,
            "ties": int((top2[:, 0] == top2[:, 1]).sum()), "pytorch_integer_scores_equal": bool(np.array_equal(si, ref)),
            "ce_float_nats": float(F.cross_entropy(lf, y)), "ce_integer_nats": float(F.cross_entropy(li, y)),
            "float_accuracy": float((pf == labels).mean()), "reference_accuracy": float((pi == labels).mean())}


__all__ = ["ID_INPUT", "MODEL_KIND", "generate", "graph_from_constants", "is_char_graph", "load_text_run",
           "lower_char_lstm", "random_lstm_graph", "text_agreement"]
