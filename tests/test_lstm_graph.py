"""The LSTM graph op (binedge.graph.LSTM), its numpy reference with state, the blob record and the
lowering of a CharLSTM (binedge.lstm_deploy): the graph's reference equals the integer LSTM spec
(binedge.lstm_integer, computed from the constants, not from the packed graph) and the PyTorch
integer path step for step; every bound and field is checked; the state persists, resets, and
lives in the arena for the whole graph."""

import dataclasses

import numpy as np
import pytest
import torch

from binedge import blob as B
from binedge import lstm_integer as li
from binedge import reference
from binedge.graph import LSTM, Dense, Graph, GraphError, ScoreStage, TensorSpec, lstm_state_bytes
from binedge.lm import CharLSTM
from binedge.lstm_deploy import (ID_INPUT, generate, graph_from_constants, lower_char_lstm, random_lstm_graph,
                                 text_agreement)
from binedge.lstm_quant import integer_scores


def _model(seed, vocab=11, hidden=20, layers=1, weights="lab", bias=1.0):
    torch.manual_seed(seed)
    m = CharLSTM(vocab, hidden, layers, weights)
    with torch.no_grad():
        for layer in m.lstm.layers:
            layer.bias.normal_(0, bias)
            for g in layer.gate_matrices():
                if hasattr(g, "kernel_scale"):
                    g.kernel_scale.fill_(0.25)
        m.out.weight.normal_(0, 0.3)
        m.out.bias.normal_(0, 0.5)
    return m.eval()


@pytest.mark.parametrize("layers,weights,c_frac", [(1, "lab", 10), (2, "bwn", 12), (1, "binaryconnect", 7)])
def test_graph_reference_equals_the_integer_spec_and_torch(layers, weights, c_frac):
    m = _model(layers, layers=layers, weights=weights)
    m.integer_c_frac = c_frac
    g = lower_char_lstm(m, [f"c{i}" for i in range(m.vocab_size)])
    assert g.is_recurrent() and g.input == ID_INPUT and len(g.ops) == layers + 1
    ids = np.random.default_rng(layers).integers(0, m.vocab_size, 400)
    scores = reference.run(g, ids.reshape(-1, 1).astype(np.uint8))
    k = li.build_constants(m, c_frac=c_frac)
    state, s_spec, h_spec, c_spec = li.run(k, ids)
    assert np.array_equal(scores.astype(np.int64), s_spec)
    t, _ = integer_scores(m, torch.from_numpy(ids)[None], None, k)
    assert np.array_equal(t[0].numpy().astype(np.int64), s_spec)
    # the state after the stream equals the spec's, layer by layer
    _, st = reference.run_stream(g, ids.reshape(-1, 1).astype(np.uint8))
    for l in range(layers):
        assert np.array_equal(st[l][0], state[0][l]) and np.array_equal(st[l][1], state[1][l])


def test_state_persists_and_splits_and_restarts():
    g = random_lstm_graph(np.random.default_rng(0), 9, 13, 2)
    ids = np.random.default_rng(1).integers(0, 9, (120, 1)).astype(np.uint8)
    whole, st = reference.run_stream(g, ids)
    a, st_a = reference.run_stream(g, ids[:50])
    b, st_b = reference.run_stream(g, ids[50:], st_a)
    assert np.array_equal(np.concatenate([a, b]), whole)
    assert all(np.array_equal(st_b[k][j], st[k][j]) for k in st for j in (0, 1))
    assert np.array_equal(reference.run(g, ids), whole)  # run starts from zeros every time
    assert np.array_equal(reference.run(g, ids[:50]), a)
    # the state changes the answer: the same input after a different history scores differently
    assert not np.array_equal(reference.run_stream(g, ids[:1], st)[0], reference.run(g, ids[:1]))
    empty, st0 = reference.run_stream(g, ids[:0])
    assert empty.shape == (0, 9) and all(not st0[k][0].any() for k in st0)
    with pytest.raises(ValueError, match="not below the vocabulary size 9"):
        reference.run(g, np.array([[9]], np.uint8))


def test_random_graphs_reach_every_clamp():
    """Saturating random graphs drive c to ±65535 and h to ±127 (the gates far beyond the table ends):
    those paths are what the backends' tests compare."""
    rng = np.random.default_rng(5)
    g = random_lstm_graph(rng, 7, 17, 1, saturate=True)
    op = g.ops[0]
    ids = rng.integers(0, 7, (300, 1)).astype(np.uint8)
    state = reference.zero_state(g)
    hs, cs = [], []
    for t in range(len(ids)):
        _, state = reference.run_stream(g, ids[t:t + 1], state)
        hs.append(state[0][0]), cs.append(state[0][1])
    hs, cs = np.array(hs), np.array(cs)
    assert (np.abs(cs) == li.C_MAX).any() and (np.abs(hs) == li.H_MAX).any()
    assert np.abs(cs).max() <= li.C_MAX and np.abs(hs).max() <= li.H_MAX
    # the gate codes: recompute v for the last step and check both clamps occur over the run
    assert op.shifts.min() >= 1


def test_generate_follows_the_argmax():
    g = random_lstm_graph(np.random.default_rng(3), 6, 8, 1)
    seed = np.array([1, 2, 3])
    out, scores = generate(g, seed, 10)
    assert len(out) == 10 and scores.shape == (len(seed) + 9, 6)
    # an independent replay: feeding seed + generated ids gives the same scores, and each generated
    # id is the first maximum of the scores before it
    replay = reference.run(g, np.concatenate([seed, out[:-1]]).reshape(-1, 1).astype(np.uint8))
    assert np.array_equal(replay, scores)
    assert [int(np.argmax(replay[len(seed) - 1 + t])) for t in range(10)] == out.tolist()
    with pytest.raises(ValueError, match="seed"):
        generate(g, [], 3)


def test_blob_round_trip_and_arena():
    rng = np.random.default_rng(7)
    for vocab, hidden, layers in ((2, 1, 1), (101, 33, 2), (256, 40, 3)):
        g = random_lstm_graph(rng, vocab, hidden, layers, saturate=layers > 1)
        data = B.blob_bytes(g)
        g2 = B.read_blob(data)
        ids = rng.integers(0, vocab, (40, 1)).astype(np.uint8)
        assert np.array_equal(reference.run(g, ids), reference.run(g2, ids))
        assert B.blob_bytes(g2) == data
        plan = B.plan_arena(g)
        # every state region is live at every op: it overlaps no value and no other state
        regions = [(o, o + n) for o, n in plan.scratch.values()]
        assert sorted(n for _, n in plan.scratch.values()) == [lstm_state_bytes(hidden)] * layers
        specs = g.value_specs()
        names = g.value_names()
        regions += [(off, off + specs[names[v]].nbytes()) for v, off in plan.value_offsets.items()]
        for i, (a0, a1) in enumerate(regions[:layers]):
            for j, (b0, b1) in enumerate(regions):
                assert i == j or a1 <= b0 or b1 <= a0
    assert lstm_state_bytes(1) == 32 and lstm_state_bytes(128) == 640 and lstm_state_bytes(33) == 144 + 48


def _patched(data: bytes, op_index: int, offset: int, fmt: str, value) -> bytes:
    import struct
    import zlib

    h = B._parse_header(data, "t")
    buf = bytearray(data)
    struct.pack_into(fmt, buf, h["op_table_offset"] + op_index * B.OP_RECORD_SIZE + offset, value)
    struct.pack_into("<I", buf, B.CRC_OFFSET, zlib.crc32(bytes(buf[B.CRC_START:])) & 0xFFFFFFFF)
    return bytes(buf)


def test_blob_reader_rejects_bad_lstm_fields():
    g = random_lstm_graph(np.random.default_rng(2), 7, 9, 2)
    data = B.blob_bytes(g)
    cases = [(0, 1, "<B", 2, "weight kind binary"), (0, 56, "<I", 1, "only the in, out"),
             (0, 60, "<i", 15, "c_frac"), (0, 60, "<i", 6, "c_frac"), (1, 12, "<I", 8, r"expects \(8,\) i8"),
             (0, 16, "<I", 10, "tensor"), (0, 68, "<i", 1, "only the in, out"), (0, 20, "<I", 1, "kernel"),
             (0, 104, "<I", 5, "only the in, out"), (1, 76, "<I", 0, "arena offset|scratch|canonical")]
    for op, off, fmt, value, pattern in cases:
        with pytest.raises(B.BlobError, match=pattern):
            B.read_blob(_patched(data, op, off, fmt, value))


def _op(**kw):
    rng = np.random.default_rng(0)
    g = random_lstm_graph(rng, 5, 6, 2)
    ops = [dataclasses.replace(g.ops[0]), dataclasses.replace(g.ops[1]), g.ops[2]]
    for k, v in kw.items():
        setattr(ops[0], k, v)
    return Graph(g.input, ops)


def test_graph_refuses_what_it_cannot_prove():
    good = _op()
    good.validate()
    op = good.ops[0]
    with pytest.raises(GraphError, match="shifts must lie in"):
        _op(shifts=np.array([0, 3, 3, 3], np.uint8)).validate()
    with pytest.raises(GraphError, match="c_frac"):
        _op(c_frac=15).validate()
    with pytest.raises(GraphError, match="multipliers must be int32"):
        _op(multipliers=op.multipliers.astype(np.int64)).validate()
    big = op.multipliers.copy()
    big[0, 2] = 2 ** 31 - 1
    with pytest.raises(GraphError, match="gate g's pre-activation may reach"):
        _op(multipliers=big).validate()
    with pytest.raises(GraphError, match="weights must be uint32 of shape"):
        _op(input_weights=op.input_weights[:, :0]).validate()
    pad = op.recurrent.copy()
    pad[0, -1] |= np.uint32(1 << 31)  # H = 6: bit 31 is padding
    with pytest.raises(GraphError, match="padding bits"):
        _op(recurrent=pad).validate()
    with pytest.raises(GraphError, match="vocabulary 300 must lie in"):
        _op(in_features=300, input_weights=np.zeros((300, 1), np.uint32)).validate()
    # an i8 input that is not an LSTM's h is refused (its codes could be -128)
    g = random_lstm_graph(np.random.default_rng(1), 5, 6, 2)
    feat = Graph(TensorSpec("i8", (5,), scale=1 / 128), [dataclasses.replace(g.ops[1], in_features=5,
                                                                               input_weights=np.zeros((24, 1), np.uint32)),
                                                           Dense(np.ones((5, 6), np.int8), 6, 5,
                                                                 ScoreStage.identity(5), "int8")])
    with pytest.raises(GraphError, match="must be the h of an LSTM below"):
        feat.validate()
    with pytest.raises(GraphError, match="reads a character id"):
        Graph(TensorSpec("u8", (2,)), g.ops).validate()
    from binedge.graph import Reshape

    reshaped = [Reshape((1,), name="r")] + [dataclasses.replace(g.ops[0], inputs=("r",))] + g.ops[1:]
    with pytest.raises(GraphError, match="only from the graph input"):
        Graph(g.input, reshaped).validate()


def test_real_trained_model_refusals_and_agreement():
    m = _model(9, weights="fp")
    with pytest.raises(li.IntegerLSTMError, match="not binary"):
        lower_char_lstm(m)
    m = _model(9)
    g = graph_from_constants(li.build_constants(m), [str(i) for i in range(m.vocab_size)])
    ids = np.random.default_rng(0).integers(0, m.vocab_size, 201)
    a = text_agreement(m, g, ids[:-1].reshape(-1, 1).astype(np.uint8), ids[1:])
    assert a["samples"] == 200 and a["pytorch_integer_scores_equal"]
    assert a["agreement"] > 0.9 and abs(a["ce_float_nats"] - a["ce_integer_nats"]) < 0.05
    with pytest.raises(ValueError, match="vocabulary entries"):
        graph_from_constants(li.build_constants(m), ["a"])
