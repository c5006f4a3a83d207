"""ONNX export of recurrent graphs (one LSTM step, the state in and out): onnxruntime's scores and
states equal binedge.reference.run_stream exactly at every step; saturating graphs reach the gate,
c and h clamps; a trained character model; interface, metadata, options and refusals."""

from __future__ import annotations

import json
import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from binedge import bitformat as bf
from binedge import lstm_integer as li
from binedge import reference
from binedge.export_onnx import (OnnxExportError, OnnxModelError, build_onnx_model, export_onnx, load_onnx_checked,
                                 run_onnx, run_onnx_stream)
from binedge.export_onnx_lstm import check_lstm
from binedge.graph import LSTM, Dense, Graph, GraphError, ScoreStage, TensorSpec
from binedge.lstm_deploy import ID_INPUT, lower_char_lstm, random_lstm_graph
from char_models import CORPUS, train_char_lstm

STEPS = 220


def session(path, optimize: bool = True) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.intra_op_num_threads = 1
    if not optimize:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(os.fspath(path), so, providers=["CPUExecutionProvider"])


def lstm_ops(graph: Graph) -> list[int]:
    return [i for i, op in enumerate(graph.ops) if isinstance(op, LSTM)]


def onnx_feed(graph: Graph, state: dict) -> dict:
    """The state inputs of the ONNX step for a reference state {op index: (h, c)} of one stream."""
    feed = {}
    for l, k in enumerate(lstm_ops(graph)):
        h, c = state[k]
        feed[f"h{l}"], feed[f"c{l}"] = h.astype(np.int8)[None], c.astype(np.int32)[None]
    return feed


def gate_codes(op: LSTM, x: np.ndarray, h: np.ndarray, onehot: bool) -> np.ndarray:
    """rshift(v, s) of every gate row BEFORE the clamp to [-512, 511] (to see that clamps happen)."""
    H = int(op.hidden)
    wh = bf.unpack_sign(op.recurrent, H).astype(np.int64)
    if onehot:
        xp = bf.unpack_sign(op.input_weights[int(x[0])], 4 * H).astype(np.int64)
    else:
        xp = bf.unpack_sign(op.input_weights, int(op.in_features)).astype(np.int64) @ x.astype(np.int64)
    v = (np.repeat(op.multipliers[0].astype(np.int64), H) * (wh @ h) + np.repeat(op.multipliers[1].astype(np.int64), H)
         * xp + op.bias.astype(np.int64))
    return li.rshift(v, np.repeat(op.shifts.astype(np.int64), H))


def step_and_compare(graph: Graph, path, ids: np.ndarray, optimize: bool = True) -> dict:
    """Step the ONNX model and the reference over ``ids`` together from the zero state; scores and
    every layer's (h, c) must be equal after every step. Returns per LSTM op the clamps reached."""
    sess = session(path, optimize)
    layers = lstm_ops(graph)
    outs = ["scores"] + [n for l in range(len(layers)) for n in (f"h{l}_out", f"c{l}_out")]
    state = reference.zero_state(graph)
    feed = onnx_feed(graph, state)
    seen = {k: set() for k in layers}
    for t in range(len(ids)):
        prev = state
        want, state = reference.run_stream(graph, ids[t:t + 1], state)
        got = sess.run(outs, {"input": ids[t:t + 1], **feed})
        assert got[0].dtype == np.int32 and got[0].shape == (1, graph.output.shape[0])
        np.testing.assert_array_equal(got[0], want, err_msg=f"scores at step {t}")
        x = ids[t].astype(np.int64)
        for l, k in enumerate(layers):
            h, c = state[k]
            gh, gc = got[1 + 2 * l], got[2 + 2 * l]
            assert gh.dtype == np.int8 and gc.dtype == np.int32
            np.testing.assert_array_equal(gh[0], h, err_msg=f"h of layer {l} at step {t}")
            np.testing.assert_array_equal(gc[0], c, err_msg=f"c of layer {l} at step {t}")
            feed[f"h{l}"], feed[f"c{l}"] = gh, gc
            z = gate_codes(graph.ops[k], x, prev[k][0], l == 0)
            if z.max() > li.Z_MAX or z.min() < li.Z_MIN:
                seen[k].add("gate")
            if np.abs(c).max() == li.C_MAX:
                seen[k].add("c")
            if np.abs(h).max() == li.H_MAX:
                seen[k].add("h")
            x = h
    return seen


def stream(rng, vocab: int, saturate: bool) -> np.ndarray:
    """Character ids for STEPS steps: uniform, or runs of one id (which drive c into its clamp);
    always containing 0 and V - 1."""
    if saturate:
        ids = np.repeat(rng.integers(0, vocab, STEPS // 20), 20)
    else:
        ids = rng.integers(0, vocab, STEPS)
    ids[:2] = [0, vocab - 1]
    return ids.reshape(-1, 1).astype(np.uint8)


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("saturate", [False, True])
def test_random_graphs_every_step_exact(tmp_path, layers, saturate):
    for hidden in (1, 5, 33, 100):
        for vocab in (2, 7, 101, 256):
            # saturating: the first seed whose graph reaches every clamp (small H may need a few);
            # every graph tried is checked step by step all the same
            for seed in range(40 if saturate else 1):
                rng = np.random.default_rng([layers, hidden, vocab, seed, int(saturate)])
                graph = random_lstm_graph(rng, vocab, hidden, layers, saturate=saturate,
                                          c_frac=int(rng.integers(li.C_FRAC_MIN, li.C_FRAC_MAX + 1)))
                path = tmp_path / f"l{layers}h{hidden}v{vocab}s{seed}.onnx"
                export_onnx(graph, path)
                seen = step_and_compare(graph, path, stream(rng, vocab, saturate))
                if not saturate or all(s == {"gate", "c", "h"} for s in seen.values()):
                    break
            else:
                pytest.fail(f"no saturating graph with layers {layers}, H {hidden}, V {vocab} reached every "
                            f"clamp in every layer: {seen}")


def test_streams_in_one_batch_and_without_optimizations(tmp_path):
    """N is dynamic: three streams with their own states step together; graph optimizations off
    and packed=False give the same."""
    rng = np.random.default_rng(11)
    graph = random_lstm_graph(rng, 31, 17, 2, saturate=True)
    export_onnx(graph, tmp_path / "p.onnx")
    export_onnx(graph, tmp_path / "f.onnx", packed=False, opset=20)
    ids = rng.integers(0, 31, (3, 120)).astype(np.uint8)
    want = [reference.run_stream(graph, ids[s][:, None]) for s in range(3)]
    for name, optimize in (("p.onnx", True), ("f.onnx", True), ("p.onnx", False)):
        sess = session(tmp_path / name, optimize)
        feed = {f"{v}{l}": np.zeros((3, 17), np.int8 if v == "h" else np.int32) for l in (0, 1) for v in "hc"}
        for t in range(ids.shape[1]):
            res = sess.run(None, {"input": ids[:, t:t + 1], **feed})
            for s in range(3):
                np.testing.assert_array_equal(res[0][s], want[s][0][t])
            feed = {"h0": res[1], "c0": res[2], "h1": res[3], "c1": res[4]}
        for s in range(3):
            for l, k in enumerate(lstm_ops(graph)):
                np.testing.assert_array_equal(feed[f"h{l}"][s], want[s][1][k][0])
                np.testing.assert_array_equal(feed[f"c{l}"][s], want[s][1][k][1])
    assert os.path.getsize(tmp_path / "f.onnx") > os.path.getsize(tmp_path / "p.onnx")


def test_run_onnx_and_run_onnx_stream(tmp_path):
    rng = np.random.default_rng(12)
    graph = random_lstm_graph(rng, 50, 24, 2)
    path = tmp_path / "m.onnx"
    export_onnx(graph, path)
    ids = rng.integers(0, 50, (260, 1)).astype(np.uint8)
    np.testing.assert_array_equal(run_onnx(path, ids), reference.run(graph, ids))
    # from a given state (any in-range codes), carried across two calls; the state is not modified
    start = {k: (rng.integers(-127, 128, 24), rng.integers(-li.C_MAX, li.C_MAX + 1, 24)) for k in lstm_ops(graph)}
    copy = {k: (h.copy(), c.copy()) for k, (h, c) in start.items()}
    want, want_state = reference.run_stream(graph, ids, start)
    a, mid = run_onnx_stream(path, ids[:100], start)
    b, end = run_onnx_stream(path, ids[100:], mid)
    np.testing.assert_array_equal(np.concatenate([a, b]), want)
    assert a.dtype == np.int32 and set(end) == set(want_state)
    for k in want_state:
        assert end[k][0].dtype == np.int64 and end[k][1].dtype == np.int64
        np.testing.assert_array_equal(end[k][0], want_state[k][0])
        np.testing.assert_array_equal(end[k][1], want_state[k][1])
        np.testing.assert_array_equal(start[k][0], copy[k][0])
    assert run_onnx(path, np.zeros((0, 1), np.uint8)).shape == (0, 50)


def test_interface_metadata_and_sizes(tmp_path):
    graph = random_lstm_graph(np.random.default_rng(13), 9, 6, 2)
    graph.class_names = [chr(97 + i) for i in range(9)]
    info = export_onnx(graph, tmp_path / "m.onnx", model_name="chars")
    model = load_onnx_checked(tmp_path / "m.onnx")
    onnx.checker.check_model(model, full_check=True)
    assert {o.domain for o in model.opset_import} <= {"", "ai.onnx"}  # standard ops only
    assert {n.domain for n in model.graph.node} <= {"", "ai.onnx"}
    assert "Div" not in {n.op_type for n in model.graph.node}  # integer Div truncates: not used
    T = onnx.TensorProto
    sig = lambda vi: (vi.name, vi.type.tensor_type.elem_type,  # noqa: E731
                      [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim])
    assert [sig(v) for v in model.graph.input] == [
        ("input", T.UINT8, ["N", 1]), ("h0", T.INT8, ["N", 6]), ("c0", T.INT32, ["N", 6]),
        ("h1", T.INT8, ["N", 6]), ("c1", T.INT32, ["N", 6])]
    assert [sig(v) for v in model.graph.output] == [
        ("scores", T.INT32, ["N", 9]), ("h0_out", T.INT8, ["N", 6]), ("c0_out", T.INT32, ["N", 6]),
        ("h1_out", T.INT8, ["N", 6]), ("c1_out", T.INT32, ["N", 6])]
    props = {p.key: p.value for p in model.metadata_props}
    assert model.metadata_props[-1].key == "binedge_version"
    assert json.loads(props["class_names"]) == graph.class_names
    assert props["score_shift"] == str(graph.ops[-1].output.shift)
    assert json.loads(props["input_quantization"]) == {"kind": "u8", "scale": 1.0, "zero_point": 0}
    assert props["model_kind"] == "char-lstm"  # the graph's own metadata
    rec = json.loads(props["recurrent"])
    assert rec["kind"] == "step" and rec["input"] == "input" and rec["vocab_size"] == 9 and rec["reset"] == "zeros"
    assert [(s["op"], s["h"], s["c"], s["h_out"], s["c_out"], s["hidden"]) for s in rec["state"]] == [
        (0, "h0", "c0", "h0_out", "c0_out", 6), (1, "h1", "c1", "h1_out", "c1_out", 6)]
    lstm = [graph.ops[k] for k in lstm_ops(graph)]
    assert info["packed_weight_bytes"] == sum(op.recurrent.nbytes + op.input_weights.nbytes for op in lstm) \
        + graph.ops[-1].weights.nbytes
    assert info["file_bytes"] == os.path.getsize(tmp_path / "m.onnx")
    # the σ / tanh tables are in the file, bit for bit
    tables = [onnx.numpy_helper.to_array(t) for t in model.graph.initializer if t.data_type == T.INT16]
    assert len(tables) == 1 and np.array_equal(tables[0], np.concatenate([li.SIG, li.TANH]))
    # graph metadata may not take the exporter's key
    graph.metadata["recurrent"] = "mine"
    with pytest.raises(OnnxExportError, match="reserved"):
        build_onnx_model(graph)
    # ... unless it is what the exporter writes there anyway
    graph.metadata = {"score_shift": graph.ops[-1].output.shift}
    assert [p.key for p in build_onnx_model(graph).metadata_props].count("score_shift") == 1
    graph.metadata = {"score_shift": graph.ops[-1].output.shift + 1}
    with pytest.raises(OnnxExportError, match="reserved"):
        build_onnx_model(graph)


def test_bad_ids_states_and_model_kinds(tmp_path):
    graph = random_lstm_graph(np.random.default_rng(14), 7, 5, 1)
    path = tmp_path / "m.onnx"
    export_onnx(graph, path)
    # the raw model: an id >= V is an out-of-range Gather index, which onnxruntime refuses
    feed = {"input": np.array([[7]], np.uint8), "h0": np.zeros((1, 5), np.int8), "c0": np.zeros((1, 5), np.int32)}
    with pytest.raises(Exception, match="out of data bounds"):
        session(path).run(None, feed)
    with pytest.raises(ValueError, match="not below the vocabulary size 7"):
        run_onnx(path, np.array([[1], [7]], np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        run_onnx_stream(path, np.array([[1]], np.int64))
    with pytest.raises(ValueError, match=r"\(N, 1\)"):
        run_onnx_stream(path, np.array([1, 2], np.uint8))
    with pytest.raises(ValueError, match="no entry for LSTM op 0"):
        run_onnx_stream(path, np.array([[1]], np.uint8), {})
    with pytest.raises(ValueError, match="int8 h codes"):
        run_onnx_stream(path, np.array([[1]], np.uint8), {0: (np.full(5, 128), np.zeros(5, np.int64))})
    with pytest.raises(ValueError, match=r"shape \(5,\)"):
        run_onnx_stream(path, np.array([[1]], np.uint8), {0: (np.zeros(4, np.int64), np.zeros(5, np.int64))})
    # a feed-forward model has no state to carry
    ff = Graph(TensorSpec("u8", (3,), scale=1.0), [Dense(
        weights=np.ones((2, 3), np.int8), in_features=3, out_features=2, weight_kind="int8",
        output=ScoreStage(np.ones(2, np.int32), np.zeros(2, np.int32), 0))])
    export_onnx(ff, tmp_path / "ff.onnx")
    with pytest.raises(OnnxModelError, match="not a recurrent"):
        run_onnx_stream(tmp_path / "ff.onnx", np.array([[1]], np.uint8))


def _overflowing_graph() -> Graph:
    """A hand-made character LSTM whose gate i may reach 2**31 + ... : Mh = 2**24, H = 2."""
    H, V = 2, 3
    rng = np.random.default_rng(15)
    op = LSTM(recurrent=bf.pack_sign(rng.choice(np.array([-1, 1], np.int8), (4 * H, H))),
              input_weights=bf.pack_sign(rng.choice(np.array([-1, 1], np.int8), (V, 4 * H))), in_features=V,
              hidden=H, multipliers=np.array([[1 << 24, 1, 1, 1], [1, 1, 1, 1]], np.int32),
              bias=np.zeros(4 * H, np.int32), shifts=np.full(4, 20, np.uint8), name="lstm0")
    out = Dense(weights=np.ones((V, H), np.int8), in_features=H, out_features=V, weight_kind="int8", name="scores",
                output=ScoreStage(np.ones(V, np.int32), np.zeros(V, np.int32), 0))
    return Graph(ID_INPUT, [op, out])


def test_unproved_bounds_are_refused_and_nothing_is_written(tmp_path, monkeypatch):
    graph = _overflowing_graph()
    path = tmp_path / "m.onnx"
    with pytest.raises(GraphError, match="pre-activation may reach"):  # 2**24 * 127 * 2 + ... > 2**31 - 1
        export_onnx(graph, path)
    assert not path.exists()
    # the exporter's own proof, even where the graph's check were bypassed: OnnxExportError
    with pytest.raises(OnnxExportError, match="gate i's pre-activation may reach"):
        check_lstm(graph.ops[0], ID_INPUT, "op 0", OnnxExportError)
    import binedge.graph

    monkeypatch.setattr(binedge.graph, "lstm_gate_bound", lambda op, onehot: [0, 0, 0, 0])
    graph.validate()  # the (patched) graph check now passes ...
    with pytest.raises(OnnxExportError, match="pre-activation may reach"):  # ... the exporter's does not
        export_onnx(graph, path)
    assert not path.exists() and os.listdir(tmp_path) == []


@pytest.mark.parametrize("hidden,layers", [(32, 1), (16, 2)])
def test_trained_character_model(tmp_path, hidden, layers):
    import torch

    from binedge.datasets.text import load_text

    corpus = load_text(CORPUS)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = train_char_lstm(corpus, hidden, layers, streams=16, chars=41 * 12, seed=layers)
    finally:
        torch.set_num_threads(threads)
    graph = lower_char_lstm(model, corpus.vocab)
    path = tmp_path / "m.onnx"
    export_onnx(graph, path)
    ids = corpus.test[:300].astype(np.uint8).reshape(-1, 1)
    step_and_compare(graph, path, ids)
    np.testing.assert_array_equal(run_onnx(path, ids), reference.run(graph, ids))
    keys = [p.key for p in load_onnx_checked(path).metadata_props]
    props = {p.key: p.value for p in load_onnx_checked(path).metadata_props}
    assert json.loads(props["class_names"]) == list(corpus.vocab)
    # the lowered graph carries its own score_shift: equal to the exporter's, written once
    assert props["score_shift"] == str(graph.metadata["score_shift"]) and keys.count("score_shift") == 1
