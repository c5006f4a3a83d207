"""The numpy reference executor against INDEPENDENT oracles.

The oracle is the same integer program written in float64 torch (conv2d / matmul / max_pool2d
on ±1 / level / pixel tensors, padding with F.pad), with bit packing and unpacking written here
with plain shifts (not binedge.bitformat). float64 sums of these small integers are exact.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from binedge import reference
from binedge.graph import (Conv2d, Dense, Flatten, Graph, GraphError, MaxPool2d, ScoreStage, TensorSpec,
                           ThresholdStage)
from graphs import INT32_MAX, INT32_MIN, random_graph, random_images

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ----------------------------------------------------------------------------- independent bit helpers


def words_to_bits(words: np.ndarray, n: int) -> np.ndarray:
    """(..., W) uint32 -> (..., n) {0,1}: bit k is word k // 32, bit k % 32 (plain shifts)."""
    k = np.arange(n)
    w = np.asarray(words).astype(np.uint64)[..., k // 32]
    return ((w >> (k % 32).astype(np.uint64)) & np.uint64(1)).astype(np.int64)


def bits_to_words(bits: np.ndarray) -> np.ndarray:
    """(..., n) {0,1} -> (..., ceil(n/32)) uint32, LSB first, zero padding bits."""
    bits = np.asarray(bits, dtype=np.uint64)
    n = bits.shape[-1]
    nw = (n + 31) // 32
    padded = np.zeros(bits.shape[:-1] + (nw * 32,), np.uint64)
    padded[..., :n] = bits
    shifted = padded.reshape(bits.shape[:-1] + (nw, 32)) << np.arange(32, dtype=np.uint64)
    return shifted.sum(axis=-1).astype(np.uint32)


def store(values: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """Oracle values (±1 / levels / pixels / scores) -> the storage layout, packed by hand."""
    if spec.kind == "u8":
        return values.astype(np.uint8)
    if spec.kind == "i32":
        return values.astype(np.int32)
    if spec.encoding == "sign":
        return bits_to_words(values < 0)[..., None, :]
    return np.stack([bits_to_words((values.astype(np.int64) >> p) & 1) for p in range(spec.planes)], axis=-2)


def weights_pm1(op) -> torch.Tensor:
    """Weights as float64: binary words -> ±1 via shifts (bit 1 = -1), int8 as is."""
    if op.weight_kind == "binary":
        k = op.in_features if isinstance(op, Dense) else op.in_channels
        return torch.from_numpy(1.0 - 2.0 * words_to_bits(op.weights, k))
    return torch.from_numpy(op.weights.astype(np.float64))


# ----------------------------------------------------------------------------- the torch oracle


def torch_trace(graph: Graph, images: np.ndarray) -> tuple[list, list]:
    """(stored values, accumulators) of the integer program computed in float64 torch."""
    specs = graph.specs()
    x = torch.from_numpy(images.astype(np.float64))  # NHWC / (N, F) integers
    stored, accs = [], []
    for op, s_in, s_out in zip(graph.ops, specs[:-1], specs[1:]):
        acc = None
        if isinstance(op, Conv2d):
            pad_value = 1.0 if s_in.kind == "bits" and s_in.encoding == "sign" else 0.0
            pt, pb, pl, pr = op.padding
            xp = F.pad(x.permute(0, 3, 1, 2), (pl, pr, pt, pb), value=pad_value)
            acc = F.conv2d(xp, weights_pm1(op).permute(0, 3, 1, 2), stride=op.stride).permute(0, 2, 3, 1)
        elif isinstance(op, Dense):
            acc = x @ weights_pm1(op).T
        elif isinstance(op, MaxPool2d):
            x = F.max_pool2d(x.permute(0, 3, 1, 2), op.kernel, op.stride).permute(0, 2, 3, 1)
        elif isinstance(op, Flatten):
            x = x.reshape(x.shape[0], -1)  # NHWC order
        if acc is not None:
            st_ = op.output
            if isinstance(st_, ThresholdStage):
                d = torch.from_numpy(st_.direction.astype(np.float64))
                t = torch.from_numpy(st_.thresholds.astype(np.float64))
                level = ((d * acc).unsqueeze(-1) >= t).sum(-1).double()
                x = (2.0 * level - 1.0) if st_.encoding == "sign" else level
            else:
                x = torch.from_numpy(st_.multiplier.astype(np.float64)) * acc + torch.from_numpy(
                    st_.offset.astype(np.float64))
        accs.append(None if acc is None else acc.numpy().astype(np.int64))
        stored.append(store(x.numpy().astype(np.int64), s_out))
    return stored, accs


def assert_matches_oracle(graph: Graph, images: np.ndarray) -> list:
    want, want_acc = torch_trace(graph, images)
    got = reference.run_trace(graph, images)
    got_acc = reference.accumulators(graph, images)
    specs = graph.specs()
    assert len(got) == len(want) == len(graph.ops)
    for i, (g, w, spec) in enumerate(zip(got, want, specs[1:])):
        assert g.dtype == spec.storage_dtype(), f"op {i}"
        assert g.shape == (images.shape[0],) + spec.storage_shape() == w.shape, f"op {i}"
        np.testing.assert_array_equal(g, w, err_msg=f"op {i} ({type(graph.ops[i]).__name__})")
    for i, (g, w) in enumerate(zip(got_acc, want_acc)):
        assert (g is None) == (w is None)
        if g is not None:
            np.testing.assert_array_equal(g, w, err_msg=f"acc of op {i}")
    np.testing.assert_array_equal(reference.run(graph, images), want[-1])
    return got


# ----------------------------------------------------------------------------- graph pieces


def pm1_words(values: np.ndarray) -> np.ndarray:
    return bits_to_words(np.asarray(values) < 0)


def identity_conv(c: int, encoding: str, levels: int) -> Conv2d:
    """1x1 int8 identity conv on pixels: sign: +1 iff pixel >= 1; unsigned: level = min(pixel, L)."""
    w = np.zeros((c, 1, 1, c), np.int8)
    w[np.arange(c), 0, 0, np.arange(c)] = 1
    t = np.tile(np.arange(1, levels + 1, dtype=np.int32), (c, 1))
    return Conv2d(w, c, c, (1, 1), (1, 1), (0, 0, 0, 0), ThresholdStage(np.ones(c, np.int8), t, encoding), "int8")


def identity_dense(f: int, encoding: str, levels: int) -> Dense:
    w = np.eye(f, dtype=np.int8)
    t = np.tile(np.arange(1, levels + 1, dtype=np.int32), (f, 1))
    return Dense(w, f, f, ThresholdStage(np.ones(f, np.int8), t, encoding), "int8")


def score_head(k: int, classes: int = 3) -> Dense:
    rng = np.random.default_rng(k)
    return Dense(pm1_words(rng.choice([-1, 1], size=(classes, k))), k, classes, ScoreStage.identity(classes))


IN_KINDS = {"u8": None, "sign": ("sign", 1), "u2": ("unsigned", 3), "u3": ("unsigned", 5)}


def ties_from(acc: np.ndarray, rng: np.random.Generator, direction: np.ndarray, levels: int) -> np.ndarray:
    """Thresholds at values direction * acc takes (ties), sometimes ±1 off; int32 (C, L)."""
    a = (acc.reshape(-1, acc.shape[-1]) * direction.astype(np.int64)).T  # (C, M)
    pick = a[:, rng.integers(a.shape[1], size=levels)] if a.shape[1] else np.zeros((a.shape[0], levels))
    pick = pick + rng.choice([-1, 0, 0, 1], size=pick.shape)
    return np.sort(pick, axis=1).astype(np.int32)


# ----------------------------------------------------------------------------- hypothesis: conv / dense


@SETTINGS
@given(
    in_kind=st.sampled_from(sorted(IN_KINDS)),
    c=st.sampled_from([1, 3, 31, 32, 33, 65]),
    o=st.sampled_from([1, 3, 32, 33]),
    kernel=st.tuples(st.integers(1, 5), st.integers(1, 5)),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    padding=st.tuples(*[st.integers(0, 2)] * 4),
    extra=st.tuples(st.integers(0, 4), st.integers(0, 4)),
    batch=st.integers(1, 3),
    out_enc=st.sampled_from([("sign", 1), ("unsigned", 1), ("unsigned", 3), ("unsigned", 5)]),
    int8=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_conv_matches_torch(in_kind, c, o, kernel, stride, padding, extra, batch, out_enc, int8, seed):
    rng = np.random.default_rng(seed)
    (kh, kw), (pt, pb, pl, pr) = kernel, padding
    # the format bounds padding by kernel - 1 on each side (graph.py, docs/format.md §7)
    pt, pb, pl, pr = min(pt, kh - 1), min(pb, kh - 1), min(pl, kw - 1), min(pr, kw - 1)
    padding = (pt, pb, pl, pr)
    h, w = max(1, kh - pt - pb) + extra[0], max(1, kw - pl - pr) + extra[1]
    ops = []
    if IN_KINDS[in_kind] is None:
        images = rng.integers(0, 256, size=(batch, h, w, c), dtype=np.int64).astype(np.uint8)
    else:
        ops.append(identity_conv(c, *IN_KINDS[in_kind]))
        images = rng.integers(0, IN_KINDS[in_kind][1] + 2, size=(batch, h, w, c)).astype(np.uint8)
    weight_kind = "int8" if int8 and in_kind == "u8" else "binary"
    if weight_kind == "int8":
        wt = rng.integers(-128, 128, size=(o, kh, kw, c)).astype(np.int8)
    else:
        wt = pm1_words(rng.choice([-1, 1], size=(o, kh, kw, c)))
    direction = rng.choice(np.array([-1, 1], np.int8), size=o)
    stage = ThresholdStage(direction, np.zeros((o, out_enc[1]), np.int32), out_enc[0])
    conv = Conv2d(wt, c, o, kernel, stride, padding, stage, weight_kind)
    ops.append(conv)
    oh, ow = (h + pt + pb - kh) // stride[0] + 1, (w + pl + pr - kw) // stride[1] + 1
    ops += [Flatten(), score_head(oh * ow * o)]
    graph = Graph(TensorSpec("u8", (h, w, c)), ops)
    # thresholds at accumulator values the torch oracle computes (ties happen)
    stage.thresholds = ties_from(torch_trace(graph, images)[1][len(ops) - 3], rng, direction, out_enc[1])
    assert_matches_oracle(graph, images)


@SETTINGS
@given(
    in_kind=st.sampled_from(sorted(IN_KINDS)),
    k=st.sampled_from([1, 3, 31, 32, 33, 65, 70, 100]),
    o=st.sampled_from([1, 3, 31, 32, 33, 65]),
    batch=st.integers(1, 3),
    scores=st.booleans(),
    int8=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_dense_matches_torch(in_kind, k, o, batch, scores, int8, seed):
    rng = np.random.default_rng(seed)
    ops = []
    if IN_KINDS[in_kind] is None:
        images = rng.integers(0, 256, size=(batch, k)).astype(np.uint8)
    else:
        ops.append(identity_dense(k, *IN_KINDS[in_kind]))
        images = rng.integers(0, IN_KINDS[in_kind][1] + 2, size=(batch, k)).astype(np.uint8)
    weight_kind = "int8" if int8 and in_kind == "u8" else "binary"
    wt = (rng.integers(-128, 128, size=(o, k)).astype(np.int8) if weight_kind == "int8"
          else pm1_words(rng.choice([-1, 1], size=(o, k))))
    if scores:
        stage = ScoreStage(rng.integers(-50, 51, size=o).astype(np.int32),
                           rng.integers(-10**6, 10**6, size=o).astype(np.int32), 3)
        ops.append(Dense(wt, k, o, stage, weight_kind))
    else:
        direction = rng.choice(np.array([-1, 1], np.int8), size=o)
        stage = ThresholdStage(direction, np.zeros((o, 1), np.int32), "sign")
        ops += [Dense(wt, k, o, stage, weight_kind), score_head(o)]
    graph = Graph(TensorSpec("u8", (k,)), ops)
    if not scores:
        stage.thresholds = ties_from(torch_trace(graph, images)[1][len(ops) - 2], rng, direction, 1)
    assert_matches_oracle(graph, images)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(["conv", "mlp", "all"]), batch=st.integers(1, 3))
def test_random_graphs_match_torch(seed, kind, batch):
    rng = np.random.default_rng(seed)
    graph = random_graph(rng, kind)
    assert_matches_oracle(graph, random_images(rng, graph, batch))


# ----------------------------------------------------------------------------- bit order


def test_one_hot_activation_bit_order():
    k = 70
    graph = Graph(TensorSpec("u8", (k,)), [identity_dense(k, "sign", 1), score_head(k, 1)])
    graph.ops[1] = Dense(pm1_words(np.ones((1, k))), k, 1, ScoreStage.identity(1))  # all +1 weights
    images = np.ones((k + 1, k), np.uint8)  # pixel >= 1 -> +1
    images[np.arange(k), np.arange(k)] = 0  # sample j: a single -1 at position j; last sample: none
    trace = reference.run_trace(graph, images)
    bits = trace[0]
    assert bits.shape == (k + 1, 1, 3) and bits.dtype == np.uint32
    for j in range(k):
        want = np.zeros(3, np.uint32)
        want[j // 32] = np.uint32(1 << (j % 32))
        np.testing.assert_array_equal(bits[j, 0], want, err_msg=f"position {j}")
    assert not bits[k].any()
    np.testing.assert_array_equal(trace[1][:, 0], [k - 2] * k + [k])  # one -1 flips the dot by 2


def test_one_hot_weight_bit_order():
    k = 70
    w = np.zeros((k, 3), np.uint32)  # output j: weight -1 at input j only, written by hand
    w[np.arange(k), np.arange(k) // 32] = (np.uint32(1) << (np.arange(k) % 32).astype(np.uint32))
    head = Dense(w, k, k, ScoreStage.identity(k))
    graph = Graph(TensorSpec("u8", (k,)), [identity_dense(k, "sign", 1), head])
    images = np.ones((2, k), np.uint8)
    images[1, 5] = 0  # -1 at input 5
    scores = reference.run(graph, images)
    np.testing.assert_array_equal(scores[0], np.full(k, k - 2))
    want = np.full(k, k - 4)
    want[5] = k  # -1 * -1 = +1 at the one place the weight is -1
    np.testing.assert_array_equal(scores[1], want)


# ----------------------------------------------------------------------------- thresholds


def test_threshold_direction_constants_and_ties():
    rng = np.random.default_rng(7)
    f, o = 40, 8
    w = rng.integers(-128, 128, size=(o, f)).astype(np.int8)
    images = rng.integers(0, 256, size=(5, f)).astype(np.uint8)
    acc = (images.astype(np.float64) @ w.astype(np.float64).T).astype(np.int64)  # independent oracle
    a0 = acc[0]
    d = np.array([1, 1, -1, -1, 1, -1, 1, -1], np.int8)
    t = np.array([a0[0], a0[1] + 1, -a0[2], -a0[3] + 1, INT32_MIN, INT32_MIN, INT32_MAX, INT32_MAX])
    graph = Graph(TensorSpec("u8", (f,)), [Dense(w, f, o, ThresholdStage(d, t[:, None].astype(np.int32), "sign"),
                                                 "int8"), score_head(o)])
    bits = words_to_bits(reference.run_trace(graph, images)[0][:, 0], o)
    np.testing.assert_array_equal(bits[0], [0, 1, 0, 1, 0, 0, 1, 1])  # bit 0 = +1: acc == T counts as >=
    np.testing.assert_array_equal(bits[:, 4:], np.tile([0, 0, 1, 1], (5, 1)))  # constant channels
    want = np.where(d.astype(np.int64) * acc >= t, 0, 1)
    np.testing.assert_array_equal(bits, want)


@pytest.mark.parametrize("levels,planes", [(3, 2), (5, 3)])
def test_unsigned_planes(levels, planes):
    f = 37
    thresholds = np.tile(np.arange(1, levels + 1, dtype=np.int32), (f, 1))
    thresholds[0] = [2, 2] + list(range(4, levels + 2))  # a repeated threshold skips level 1
    op = identity_dense(f, "unsigned", levels)
    op.output.thresholds = thresholds
    graph = Graph(TensorSpec("u8", (f,)), [op, score_head(f)])
    images = np.tile(np.arange(f) % (levels + 3), (2, 1)).astype(np.uint8)
    images[1] = images[1][::-1]
    images[:, 0] = [1, 2]  # channel 0 (thresholds 2, 2, ...): pixel 1 -> level 0, pixel 2 -> level 2
    stored = reference.run_trace(graph, images)[0]
    assert stored.shape == (2, planes, 2) and op.output.planes == planes
    level = (images[..., None].astype(np.int64) >= thresholds).sum(-1)
    for p in range(planes):
        np.testing.assert_array_equal(words_to_bits(stored[:, p], f), (level >> p) & 1, err_msg=f"plane {p}")
    np.testing.assert_array_equal(level[:, 0], [0, 2])
    assert_matches_oracle(graph, images)


# ----------------------------------------------------------------------------- maxpool


def test_maxpool_sign_is_and_of_bits():
    rng = np.random.default_rng(3)
    h, w, c = 7, 9, 33
    (kh, kw), (sh, sw) = (2, 3), (2, 2)
    graph = Graph(TensorSpec("u8", (h, w, c)), [identity_conv(c, "sign", 1), MaxPool2d((kh, kw), (sh, sw)),
                                                Flatten(), score_head(3 * 4 * c)])
    images = (rng.random((3, h, w, c)) < 0.7).astype(np.uint8)
    words_in, words_out = reference.run_trace(graph, images)[:2]
    assert words_out.shape == (3, 3, 4, 1, 2)
    want = np.full(words_out.shape, 0xFFFFFFFF, np.uint32)
    for i in range(kh):
        for j in range(kw):
            want &= words_in[:, i : i + sh * 2 + 1 : sh, j : j + sw * 3 + 1 : sw]  # max of ±1 = AND of bits
    np.testing.assert_array_equal(words_out, want)
    assert_matches_oracle(graph, images)


def test_maxpool_levels_is_max():
    rng = np.random.default_rng(4)
    graph = Graph(TensorSpec("u8", (6, 5, 3)), [identity_conv(3, "unsigned", 5), MaxPool2d((3, 2), (1, 2)),
                                                Flatten(), score_head(4 * 2 * 3)])
    images = rng.integers(0, 7, size=(2, 6, 5, 3)).astype(np.uint8)
    pooled = reference.run_trace(graph, images)[1]
    levels = torch.from_numpy(np.minimum(images, 5).astype(np.float64)).permute(0, 3, 1, 2)
    want = F.max_pool2d(levels, (3, 2), (1, 2)).permute(0, 2, 3, 1).numpy().astype(np.int64)
    got = sum(words_to_bits(pooled[..., p, :], 3) << p for p in range(3))
    np.testing.assert_array_equal(got, want)


# ----------------------------------------------------------------------------- scores


def test_score_bounds_are_proved_before_running():
    """A graph whose scores could leave int32 is refused when it is validated (so no backend ever
    runs it); |multiplier| * max|acc| + |offset| <= 2**31 - 1 is accepted up to the edge."""
    w = np.full((1, 2), 127, np.int8)  # max |acc| = 255 * (127 + 127) = 64770
    graph = Graph(TensorSpec("u8", (2,)), [Dense(w, 2, 1, ScoreStage(np.array([2**24], np.int32),
                                                                     np.array([5], np.int32)), "int8")])
    with pytest.raises(GraphError, match="score 0 may reach"):
        graph.validate()
    with pytest.raises(GraphError):
        reference.run(graph, np.zeros((1, 2), np.uint8))
    graph.ops[0].output = ScoreStage(np.array([1], np.int32), np.array([INT32_MAX - 64770], np.int32))
    graph.validate()
    assert reference.run(graph, np.array([[255, 255]], np.uint8))[0, 0] == INT32_MAX  # exactly at the edge
    graph.ops[0].output = ScoreStage(np.array([1], np.int32), np.array([INT32_MAX - 64769], np.int32))
    with pytest.raises(GraphError):
        graph.validate()
    graph.ops[0].output = ScoreStage(np.array([-1], np.int32), np.array([INT32_MIN + 64770], np.int32))
    with pytest.raises(GraphError):  # the proof is symmetric: INT32_MIN itself is never reached
        graph.validate()


def test_accumulator_bound_is_proved():
    """K * max|x| * max|w| beyond int32 is refused (a binary Dense over 8,421,505 pixels)."""
    k = 8_421_505  # 255 * k = 2,147,483,775 > 2**31 - 1
    w = np.zeros((1, (k + 31) // 32), np.uint32)
    w[0, -1] = 0  # padding bits zero
    graph = Graph(TensorSpec("u8", (k,)), [Dense(w, k, 1, ScoreStage.identity(1))])
    with pytest.raises(GraphError, match="accumulator may reach"):
        graph.validate()


# ----------------------------------------------------------------------------- a graph with every op


def test_every_op_end_to_end_vs_torch():
    """u8 conv int8 -> sign, bconv -> unsigned 2 planes, maxpool, flatten, dense (unsigned in) -> sign,
    dense -> scores; the whole integer program written out in float torch."""
    rng = np.random.default_rng(11)
    n, h, w, c = 4, 8, 7, 3
    w1 = rng.integers(-128, 128, size=(5, 3, 3, c)).astype(np.int8)
    t1 = rng.integers(-2000, 2000, size=(5, 1)).astype(np.int32)
    d1 = np.array([1, -1, 1, -1, 1], np.int8)
    w2 = rng.choice([-1, 1], size=(33, 2, 2, 5))
    t2 = np.sort(rng.integers(-4, 5, size=(33, 3)), axis=1).astype(np.int32)
    d2 = rng.choice(np.array([-1, 1], np.int8), size=33)
    w3 = rng.choice([-1, 1], size=(31, 4 * 3 * 33))
    t3 = rng.integers(-40, 40, size=(31, 1)).astype(np.int32)
    d3 = rng.choice(np.array([-1, 1], np.int8), size=31)
    w4 = rng.choice([-1, 1], size=(10, 31))
    m4, o4 = rng.integers(-9, 10, size=10).astype(np.int32), rng.integers(-99, 99, size=10).astype(np.int32)
    graph = Graph(TensorSpec("u8", (h, w, c)), [
        Conv2d(w1, c, 5, (3, 3), (1, 1), (1, 1, 0, 2), ThresholdStage(d1, t1, "sign"), "int8"),
        Conv2d(pm1_words(w2), 5, 33, (2, 2), (1, 1), (0, 1, 1, 0), ThresholdStage(d2, t2, "unsigned")),
        MaxPool2d((2, 2), (2, 2)),
        Flatten(),
        Dense(pm1_words(w3), 4 * 3 * 33, 31, ThresholdStage(d3, t3, "sign")),
        Dense(pm1_words(w4), 31, 10, ScoreStage(m4, o4, 2)),
    ], class_names=[str(i) for i in range(10)])
    images = rng.integers(0, 256, size=(n, h, w, c)).astype(np.uint8)

    T = lambda a: torch.tensor(np.asarray(a), dtype=torch.float32)  # noqa: E731  (float32 suffices: |acc| < 2**24)
    x = T(images).permute(0, 3, 1, 2)  # NCHW
    a1 = F.conv2d(F.pad(x, (0, 2, 1, 1), value=0.0), T(w1).permute(0, 3, 1, 2))
    x = torch.where(T(d1)[:, None, None] * a1 >= T(t1)[:, :, None], 1.0, -1.0)
    a2 = F.conv2d(F.pad(x, (1, 0, 0, 1), value=1.0), T(w2).permute(0, 3, 1, 2))
    x = ((T(d2)[:, None, None] * a2)[..., None] >= T(t2)[:, None, None, :]).sum(-1).float()
    x = F.max_pool2d(x, 2, 2)
    x = x.permute(0, 2, 3, 1).reshape(n, -1)  # flatten in (H, W, C) order
    x = torch.where(T(d3) * (x @ T(w3).T) >= T(t3)[:, 0], 1.0, -1.0)
    scores = T(m4) * (x @ T(w4).T) + T(o4)

    got = reference.run(graph, images)
    assert got.dtype == np.int32 and got.shape == (n, 10)
    np.testing.assert_array_equal(got, scores.numpy().astype(np.int64))
    levels = reference.run_trace(graph, images)[1]
    assert levels.shape == (n, 8, 7, 2, 2)  # (H, W, planes, words)
    assert len(np.unique(got)) > 5  # not a degenerate program
    assert_matches_oracle(graph, images)


# ----------------------------------------------------------------------------- input validation


def test_input_validation():
    rng = np.random.default_rng(0)
    graph = random_graph(rng, "conv")
    shape = graph.input.shape
    good = random_images(rng, graph, 2)
    with pytest.raises(ValueError, match="uint8"):
        reference.run(graph, good.astype(np.float32))
    with pytest.raises(ValueError, match=r"expected|shape"):
        reference.run(graph, good[:, :-1])
    with pytest.raises(ValueError, match=str(shape).replace("(", r"\(").replace(")", r"\)")):
        reference.run(graph, good[0])
    with pytest.raises(ValueError):
        reference.run(graph, good.tolist())


def test_single_channel_images_without_channel_axis():
    rng = np.random.default_rng(1)
    while True:
        graph = random_graph(rng, "conv")
        if graph.input.shape[2] == 1:
            break
    images = random_images(rng, graph, 3)
    np.testing.assert_array_equal(reference.run(graph, images[..., 0]), reference.run(graph, images))


def test_invalid_graph_is_rejected():
    stage = ThresholdStage(np.ones(2, np.int8), np.zeros((2, 1), np.int32), "sign")
    graph = Graph(TensorSpec("u8", (4,)), [Dense(pm1_words(np.ones((2, 4))), 4, 2, stage)])  # no scores
    with pytest.raises(GraphError):
        reference.run(graph, np.zeros((1, 4), np.uint8))


def test_batch_chunks_do_not_matter(monkeypatch):
    rng = np.random.default_rng(8)
    graph = random_graph(rng, "all")
    images = random_images(rng, graph, 5)
    whole = reference.run_trace(graph, images)
    monkeypatch.setattr(reference, "BATCH_CHUNK", 2)
    for a, b in zip(assert_matches_oracle(graph, images), whole):
        np.testing.assert_array_equal(a, b)


def test_empty_batch():
    graph = random_graph(np.random.default_rng(2), "all")
    out = reference.run(graph, np.zeros((0,) + graph.input.shape, np.uint8))
    assert out.shape == (0, graph.output.shape[0]) and out.dtype == np.int32
