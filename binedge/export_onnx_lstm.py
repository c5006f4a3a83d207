"""ONNX for recurrent graphs: one exact time step of every LSTM op, the state in and out.

:func:`binedge.export_onnx.build_onnx_model` calls :func:`lstm_step` for each
:class:`binedge.graph.LSTM` op of a recurrent graph (``Graph.is_recurrent()``); every other op is
exported as in a feed-forward graph. docs/onnx.md, "Recurrent models", has the interface; in short
(layer l = the l-th LSTM op in op order):

    inputs   ``input``  uint8 (N, 1)   the character id of this step, one per stream
             ``h{l}``   int8  (N, H)   the layer's h codes from the previous step (zeros at a reset)
             ``c{l}``   int32 (N, H)   the layer's c codes from the previous step (zeros at a reset)
    outputs  ``scores`` int32 (N, V)   equal to binedge.reference.run_stream at this step
             ``h{l}_out``, ``c{l}_out``  the new state, fed back as ``h{l}`` / ``c{l}`` next step

N is dynamic: N independent streams step together (each row its own state).

The step, graph.LSTM's formula, with rshift(v, s) = floor((v + 2^(s-1)) / 2^s):

* acc_h = Wh · h and (layer l > 0) acc_x = Wx · p (p = the h codes of the layer below): float32
  MatMul of ±1 weights and int8 codes, exact while every partial sum is an integer of magnitude
  <= 2^24, i.e. 128 · K <= 2^24 for K inputs (128: any int8 state a caller may feed); wider inputs
  are split into column chunks that each satisfy it, Cast int64 and added in int64.
  Layer 0 reads a character id: x-part = Mx_j · Wx[:, x] is a Gather of row x of the ±1 table
  (V, 4H) (ids Cast int64; an id >= V is an out-of-range Gather index, which onnxruntime reports
  as an error).
* v = Mh_j · acc_h + x-part + (B + 2^(s_j-1)) in int64 (per-row constants); the graph proved
  |Mh_j|·127·H + |Mx_j|·(1 or 127·I) + max|B| + 2^(s_j-1) <= 2^31 - 1, which the exporter checks
  again (``lstm_gate_bound``) before it emits anything; in int64 even a state outside the
  proved range cannot wrap (|v| < 2^62).
* z = clamp(floor(w / 2^s_j), -512, 511) by the exact sign-flip shift of the feed-forward rounding
  rule (:func:`binedge.export_onnx._floor_shift`; ONNX integer Div truncates towards zero, so it
  is not used), then one Gather from the int16 table SIG ++ TANH (2048 entries,
  :mod:`binedge.lstm_integer`) at z + 512 (+ 1024 for the g rows), Cast int64.
* c' = clamp(rshift(f·c, 15) + rshift(i·g, 30 - c_frac), -65535, 65535) and
  h' = clamp(rshift(o · TANH[clamp(rshift(c', c_frac - 6), -512, 511) + 512], 23), -127, 127),
  all in int64 (|f·c| < 2^46 for any int32 c), the shifts again by the sign flip.
* h' is Cast int8 (``h{l}_out``) and float32 (the value the ops above read), c' Cast int32.

Weights: ``packed=True`` stores the packed uint32 sign words (as bytes) and unpacks them in the
graph like the feed-forward exporter; ``packed=False`` stores float32 ±1 initializers. The same
scores and states either way.
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper

from . import bitformat as bf
from .exact import FLOAT_EXACT_BOUND, check_int64
from .graph import INT32_MAX, LSTM, TensorSpec, lstm_gate_bound

#: the input of a recurrent model: the character id of one step, (N, 1) uint8
STEP_INPUT_NAME = "input"
#: graph metadata key (JSON) that describes the state inputs / outputs of a recurrent model
RECURRENT_METADATA = "recurrent"
#: the largest |int8| a state input may hold (the float32 MatMul bound uses it, not 127)
_I8_ABS = 128


def state_names(layer: int) -> dict:
    """The ONNX names of LSTM layer ``layer``'s state inputs and outputs."""
    return {"h": f"h{layer}", "c": f"c{layer}", "h_out": f"h{layer}_out", "c_out": f"c{layer}_out"}


def _sign_matrix(b, words: np.ndarray, k: int, hint: str, packed: bool) -> str:
    """The ±1 float32 matrix (rows, k) of packed sign words (rows, words(k))."""
    if packed:
        from .export_onnx import _unpack_signs

        return _unpack_signs(b, words, k, hint)
    return b.init(bf.unpack_sign(words, k).astype(np.float32), f"{hint}_w_float")


def _sign_matmul(b, x: str, words: np.ndarray, k: int, hint: str, packed: bool) -> str:
    """acc = x · W^T as int64 (N, rows) for float32 int8 codes x (N, k) and packed ±1 rows W
    (rows, words(k)); float32 MatMul on column chunks of at most 2^24 / 128 inputs (exact)."""
    if packed:
        wt = b.node("Transpose", [_sign_matrix(b, words, k, hint, True)], hint, perm=[1, 0])  # (k, rows)
    else:  # float32 ±1, stored as MatMul wants it
        wt = b.init(np.ascontiguousarray(bf.unpack_sign(words, k).astype(np.float32).T), f"{hint}_w_float")
    step = FLOAT_EXACT_BOUND // _I8_ABS
    acc = None
    for lo in range(0, k, step):
        hi = min(k, lo + step)
        if (lo, hi) == (0, k):
            xs, ws = x, wt
        else:
            xs = b.node("Slice", [x, b.const([lo], np.int64), b.const([hi], np.int64), b.const([1], np.int64)], hint)
            ws = b.node("Slice", [wt, b.const([lo], np.int64), b.const([hi], np.int64), b.const([0], np.int64)], hint)
        part = b.node("Cast", [b.node("MatMul", [xs, ws], hint)], hint, to=TensorProto.INT64)  # |part| <= 2^24
        acc = part if acc is None else b.node("Add", [acc, part], hint)
    return acc


def _rshift(b, w: str, s: int, hint: str) -> str:
    """rshift(w, s) = floor((w + 2^(s-1)) / 2^s) of an int64 tensor, s >= 1."""
    from .export_onnx import _floor_shift

    w = b.node("Add", [w, b.const(1 << (s - 1), np.int64)], hint)
    return _floor_shift(b, w, np.array([s]), False, hint)


def _clamp(b, x: str, lo: int, hi: int, hint: str) -> str:
    x = b.node("Max", [x, b.const(lo, np.int64)], hint)
    return b.node("Min", [x, b.const(hi, np.int64)], hint)


def _tables(b) -> str:
    """SIG ++ TANH as one int16 initializer (index z + 512 for σ, z + 512 + 1024 for tanh)."""
    from .lstm_integer import SIG, TANH

    return b.const(np.concatenate([SIG, TANH]).astype(np.int16), np.int16)


def check_lstm(op: LSTM, spec_in: TensorSpec, where: str, error) -> None:
    """The exporter's own proof, before anything is emitted: every gate pre-activation w = v +
    2^(s-1) fits int32 (graph-proved; checked again), and in int64 with any int8 / int32 state."""
    worst = lstm_gate_bound(op, spec_in.kind == "u8")
    for j, bound in enumerate(worst):
        if bound > INT32_MAX:
            raise error(f"{where}: LSTM gate {'ifgo'[j]}'s pre-activation may reach {bound} > 2**31 - 1")
        # in int64, the same sum with any int8 state (|h| <= 128) and any int32 c cannot wrap
        check_int64(bound * 2, where, f"gate {'ifgo'[j]} pre-activation with any int8 state", error)
    # the cell update needs no check: |f·c| < 2^15 · 2^31 and |i·g|, |o·t| < 2^30 in int64


def lstm_step(b, op: LSTM, x: str, spec_in: TensorSpec, layer: int, where: str, hint: str,
              packed: bool) -> tuple[str, list, list]:
    """One step of ``op`` on the float32 value x (the id (N, 1), or the codes (N, I) of the layer
    below); returns (h' as float32 codes, [input value infos], [output value infos])."""
    from .export_onnx import OnnxExportError
    from .lstm_integer import C_MAX, H_FRAC, H_MAX, LUT_FRAC, Z_FRAC, Z_MAX, Z_MIN

    check_lstm(op, spec_in, where, OnnxExportError)
    H, K = int(op.hidden), int(op.in_features)
    cf = int(op.c_frac)
    names = state_names(layer)
    # gate-major (N, 4, H) from here on: per-gate constants are (4, 1) and broadcast over the cells
    per_gate = lambda a: np.asarray(a, np.int64).reshape(4, 1)  # noqa: E731
    gates_shape = b.const([-1, 4, H], np.int64)
    # v = Mh·acc_h + x-part + (B + 2^(s-1)), int64 (N, 4, H)
    h_in = b.node("Cast", [names["h"]], hint, to=TensorProto.FLOAT)
    acc_h = b.node("Reshape", [_sign_matmul(b, h_in, op.recurrent, H, f"{hint}_wh", packed), gates_shape], hint)
    v = b.node("Mul", [acc_h, b.const(per_gate(op.multipliers[0]), np.int64)], hint)
    if spec_in.kind == "u8":  # a character id: row x of the ±1 table (V, 4H)
        ids = b.node("Reshape", [b.node("Cast", [x], hint, to=TensorProto.INT64), b.const([-1], np.int64)], hint)
        table = _sign_matrix(b, op.input_weights, 4 * H, f"{hint}_wx", packed)
        col = b.node("Cast", [b.node("Gather", [table, ids], hint, axis=0)], hint, to=TensorProto.INT64)
    else:  # the h codes of the layer below
        col = _sign_matmul(b, x, op.input_weights, K, f"{hint}_wx", packed)
    col = b.node("Reshape", [col, gates_shape], hint)
    v = b.node("Add", [v, b.node("Mul", [col, b.const(per_gate(op.multipliers[1]), np.int64)], hint)], hint)
    shifts = op.shifts.astype(np.int64)
    bias = b.node("Cast", [b.const(op.bias.astype(np.int32).reshape(4, H), np.int32)], hint, to=TensorProto.INT64)
    v = b.node("Add", [b.node("Add", [v, bias], hint), b.const(per_gate(1 << (shifts - 1)), np.int64)], hint)
    # gate codes -> table indices -> Q15 gate values; floor(v / 2^s) by the sign flip (BitShift is unsigned)
    neg = b.node("Neg", [b.node("Cast", [b.node("Less", [v, b.const(0, np.int64)], hint)], hint,
                                to=TensorProto.INT64)], hint)
    u = b.node("Cast", [b.node("BitwiseXor", [v, neg], hint)], hint, to=TensorProto.UINT64)
    u = b.node("BitShift", [u, b.const(per_gate(shifts).astype(np.uint64), np.uint64)], hint, direction="RIGHT")
    z = _clamp(b, b.node("BitwiseXor", [b.node("Cast", [u], hint, to=TensorProto.INT64), neg], hint), Z_MIN, Z_MAX,
               hint)
    tables = _tables(b)
    offset = per_gate(np.array([0, 0, 1024, 0]) - Z_MIN)  # g rows read TANH
    gates = b.node("Gather", [tables, b.node("Add", [z, b.const(offset, np.int64)], hint)], hint, axis=0)
    gates = b.node("Cast", [gates], hint, to=TensorProto.INT64)
    cells = b.const([-1, H], np.int64)

    def gate(j: int) -> str:
        return b.node("Reshape", [b.node("Slice", [gates, b.const([j], np.int64), b.const([j + 1], np.int64),
                                                   b.const([1], np.int64)], hint), cells], hint)

    i, f, g, o = (gate(j) for j in range(4))
    # c' = clamp(rshift(f·c, 15) + rshift(i·g, 30 - cf), ±C_MAX)
    c_in = b.node("Cast", [names["c"]], hint, to=TensorProto.INT64)
    fc = _rshift(b, b.node("Mul", [f, c_in], hint), LUT_FRAC, hint)
    ig = _rshift(b, b.node("Mul", [i, g], hint), 2 * LUT_FRAC - cf, hint)
    c_new = _clamp(b, b.node("Add", [fc, ig], hint), -C_MAX, C_MAX, hint)
    b.node("Cast", [c_new], hint, output=names["c_out"], to=TensorProto.INT32)
    # h' = clamp(rshift(o · TANH[clamp(rshift(c', cf - 6), -512, 511) + 512], 23), ±127)
    t = _clamp(b, _rshift(b, c_new, cf - Z_FRAC, hint), Z_MIN, Z_MAX, hint)
    t = b.node("Gather", [tables, b.node("Add", [t, b.const(1024 - Z_MIN, np.int64)], hint)], hint, axis=0)
    t = b.node("Cast", [t], hint, to=TensorProto.INT64)
    h_new = _rshift(b, b.node("Mul", [o, t], hint), 2 * LUT_FRAC - H_FRAC, hint)
    h_new = _clamp(b, h_new, -H_MAX, H_MAX, hint)
    b.node("Cast", [h_new], hint, output=names["h_out"], to=TensorProto.INT8)
    y = b.node("Cast", [h_new], hint, to=TensorProto.FLOAT)
    ins = [helper.make_tensor_value_info(names["h"], TensorProto.INT8, ["N", H]),
           helper.make_tensor_value_info(names["c"], TensorProto.INT32, ["N", H])]
    outs = [helper.make_tensor_value_info(names["h_out"], TensorProto.INT8, ["N", H]),
            helper.make_tensor_value_info(names["c_out"], TensorProto.INT32, ["N", H])]
    return y, ins, outs


def recurrent_metadata(graph) -> dict:
    """The ``recurrent`` metadata entry: how to drive the one-step model."""
    layers, vocab = [], None
    for i, op in enumerate(graph.ops):
        if isinstance(op, LSTM) and vocab is None:
            vocab = int(op.in_features)  # the first LSTM reads the character id
        if isinstance(op, LSTM):
            layers.append({"layer": len(layers), "op": i, "name": op.name, "hidden": int(op.hidden),
                           "c_frac": int(op.c_frac), **state_names(len(layers))})
    return {"kind": "step", "input": STEP_INPUT_NAME, "vocab_size": vocab, "output": "scores", "state": layers,
            "h": "int8 codes, h = code / 2^7", "c": "int32 codes, c = code / 2^c_frac",
            "reset": "zeros", "usage": "feed one id per call with the state; feed h{l}_out / c{l}_out back as "
                                       "h{l} / c{l} next call; zeros start (reset) a stream"}


def run_stream(path, inputs: np.ndarray, state: dict | None = None) -> tuple[np.ndarray, dict]:
    """Run a recurrent binedge ONNX model over ``inputs`` ((N, 1) uint8 ids: N time steps of one
    stream) from ``state`` ({op index: (h, c)} as :func:`binedge.reference.zero_state` makes it;
    None: zeros); returns (int32 scores (N, V), the state after the last step, int64 arrays as in
    :func:`binedge.reference.run_stream`)."""
    import json
    import os

    import onnxruntime as ort

    from .export_onnx import OUTPUT_NAME, OnnxModelError, load_onnx_checked

    model = load_onnx_checked(path)
    props = {p.key: p.value for p in model.metadata_props}
    if RECURRENT_METADATA not in props:
        raise OnnxModelError(f"{os.fspath(path)}: not a recurrent binedge model (no {RECURRENT_METADATA!r} metadata)")
    meta = json.loads(props[RECURRENT_METADATA])
    layers, ids_below = meta["state"], int(meta["vocab_size"])
    vocab = int(model.graph.output[0].type.tensor_type.shape.dim[-1].dim_value)
    if not isinstance(inputs, np.ndarray) or inputs.dtype != np.uint8:
        got = getattr(inputs, "dtype", type(inputs).__name__)
        raise ValueError(f"inputs must be a numpy array of uint8, got {got}")
    if inputs.ndim != 2 or inputs.shape[1] != 1:
        raise ValueError(f"inputs must have shape (N, 1) (one character id per step), got {tuple(inputs.shape)}")
    if inputs.size and int(inputs.max()) >= ids_below:  # the model's Gather would fail (onnxruntime error)
        raise ValueError(f"character id {int(inputs.max())} is not below the vocabulary size {ids_below}")
    feed = {}
    for L in layers:
        k, hidden = int(L["op"]), int(L["hidden"])
        if state is None:
            h, c = np.zeros(hidden, np.int64), np.zeros(hidden, np.int64)
        else:
            if k not in state:
                raise ValueError(f"state has no entry for LSTM op {k}")
            h, c = (np.asarray(a) for a in state[k])
        if h.shape != (hidden,) or c.shape != (hidden,):
            raise ValueError(f"state of LSTM op {k} must be two arrays of shape ({hidden},)")
        if not (np.issubdtype(h.dtype, np.integer) and np.issubdtype(c.dtype, np.integer)) \
                or h.min(initial=0) < -128 or h.max(initial=0) > 127 \
                or c.min(initial=0) < -INT32_MAX - 1 or c.max(initial=0) > INT32_MAX:
            raise ValueError(f"state of LSTM op {k} must hold int8 h codes and int32 c codes")
        feed[L["h"]] = h.astype(np.int8)[None]
        feed[L["c"]] = c.astype(np.int32)[None]
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.log_severity_level = 3
    sess = ort.InferenceSession(os.fspath(path), so, providers=["CPUExecutionProvider"])
    outs = [OUTPUT_NAME] + [n for L in layers for n in (L["h_out"], L["c_out"])]
    scores = np.zeros((len(inputs), vocab), np.int32)
    for t in range(len(inputs)):
        res = sess.run(outs, {STEP_INPUT_NAME: np.ascontiguousarray(inputs[t:t + 1]), **feed})
        scores[t] = res[0][0]
        for j, L in enumerate(layers):
            feed[L["h"]], feed[L["c"]] = res[1 + 2 * j], res[2 + 2 * j]
    return scores, {int(L["op"]): (feed[L["h"]][0].astype(np.int64), feed[L["c"]][0].astype(np.int64))
                    for L in layers}


__all__ = ["STEP_INPUT_NAME", "RECURRENT_METADATA", "state_names", "lstm_step", "check_lstm", "recurrent_metadata",
           "run_stream"]
