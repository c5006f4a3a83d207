"""Graph v2 (docs/graph.md): the rounding rule, every new op of the reference against an
independent oracle (Python integers / fractions, float64 torch), and DAG validation."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from dags import random_dag, random_inputs
from hypothesis import given, settings
from hypothesis import strategies as st

from binedge import bitformat as bf
from binedge import reference
from binedge.graph import (AccStage, Add, AvgPool2d, Concat, Conv2d, Dense, Flatten, Graph, GraphError, MaxPool2d,
                           Merge, RequantStage, Requantize, Reshape, RoundStage, ScoreStage, TensorSpec, Threshold,
                           ThresholdStage, requant, rshift)

SETTINGS = settings(max_examples=60, deadline=None)


def round_half_up(v: int, s: int) -> int:
    """The oracle: v / 2^s as an exact fraction, rounded to the nearest integer, halves up."""
    q = Fraction(v, 2**s) + Fraction(1, 2)
    return q.numerator // q.denominator  # floor of a fraction


def clamp8(v: int) -> int:
    return max(-128, min(127, v))


def scores_head(k: int) -> Dense:
    return Dense(bf.pack_sign(np.ones((1, k))), k, 1, ScoreStage.identity(1))


def flat_graph(spec: TensorSpec, ops: list) -> Graph:
    """``ops`` then Flatten (if needed) and a one-score head, so that the graph validates."""
    g = Graph(spec, list(ops))
    out = list(g.value_specs(complete=False).values())[-1] if ops else spec
    tail = [Flatten()] if len(out.shape) == 3 else []
    k = int(np.prod(out.shape))
    return Graph(spec, list(ops) + tail + [scores_head(k)])


def value_of(graph: Graph, x: np.ndarray, index: int) -> np.ndarray:
    """Logical integers of op ``index``'s output."""
    specs = graph.specs()
    return reference.unpack_value(reference.run_trace(graph, x)[index], specs[index + 1])


# ----------------------------------------------------------------------------- the rounding rule


def test_rshift_rounds_half_up_like_exact_fractions():
    rng = np.random.default_rng(0)
    vals = [0, 1, -1, 2, -2, 3, -3, 5, -5, 7, -7, 2**40 + 2**19, -(2**40) - 2**19, 2**62 - 1, -(2**62)]
    vals += [int(v) for v in rng.integers(-(2**62), 2**62, size=300)]
    for s in range(0, 63):
        got = rshift(np.array(vals, np.int64), s)
        want = [v if s == 0 else round_half_up(v, s) for v in vals]
        assert got.tolist() == want, s
    # exact halves go up: 2.5 -> 3, -2.5 -> -2, 0.5 -> 1, -0.5 -> 0
    assert rshift(np.array([5, -5, 1, -1], np.int64), 1).tolist() == [3, -2, 1, 0]


def test_requant_saturates_at_both_ends():
    v = np.array([-(2**40), -129 * 4, -128 * 4, 127 * 4, 128 * 4, 2**40], np.int64)
    assert requant(v, 2, 0).tolist() == [-128, -128, -128, 127, 127, 127]
    assert requant(np.array([0, 4, -4]), 2, 120).tolist() == [120, 121, 119]
    assert requant(np.array([40]), 2, 120).tolist() == [127]  # zero point + value, then clamp
    # s = 0 near the int64 edge: zero point + v must not wrap (found by the exporters' edge tests)
    assert requant(np.array([2**63 - 51, -(2**63) + 51], np.int64), 0, 127).tolist() == [127, -128]
    assert requant(np.array([2**63 - 51, -(2**63) + 51], np.int64), 0, -128).tolist() == [127, -128]


# ----------------------------------------------------------------------------- ops against oracles


@SETTINGS
@given(c=st.sampled_from([1, 3, 4, 6, 12]), mult=st.sampled_from([1, 2]), kernel=st.sampled_from([1, 3]),
       stride=st.sampled_from([1, 2]), pad=st.integers(0, 2), zp=st.integers(-128, 127),
       groups_kind=st.sampled_from(["one", "depthwise", "grouped"]), seed=st.integers(0, 2**31))
def test_grouped_int8_conv_with_zero_point_padding_matches_torch(c, mult, kernel, stride, pad, zp, groups_kind, seed):
    rng = np.random.default_rng(seed)
    pad = min(pad, kernel - 1)
    g = {"one": 1, "depthwise": c, "grouped": next(d for d in (3, 2, 1) if c % d == 0)}[groups_kind]
    o = c * mult if g == c else c
    h, w = int(rng.integers(kernel, 7)), int(rng.integers(kernel, 7))
    spec = TensorSpec("i8", (h, w, c), scale=0.1, zero_point=zp)
    wt = rng.integers(-128, 128, size=(o, kernel, kernel, c // g)).astype(np.int8)
    stage = ThresholdStage(np.ones(o, np.int8), np.zeros((o, 1), np.int32), "sign")
    conv = Conv2d(wt, c, o, (kernel, kernel), (stride, stride), (pad,) * 4, stage, "int8", groups=g)
    graph = flat_graph(spec, [conv])
    x = rng.integers(-128, 128, size=(2, h, w, c)).astype(np.int8)
    acc = reference.accumulators(graph, x)[0]
    # oracle: float64 torch conv of the codes, padded with the zero point (the zero code)
    xt = F.pad(torch.from_numpy(x.astype(np.float64)).permute(0, 3, 1, 2), (pad,) * 4, value=float(zp))
    wt_t = torch.from_numpy(wt.astype(np.float64)).permute(0, 3, 1, 2)
    want = F.conv2d(xt, wt_t, stride=stride, groups=g).permute(0, 2, 3, 1).numpy()
    assert np.array_equal(acc, want.astype(np.int64))


@SETTINGS
@given(m=st.integers(-(2**31), 2**31 - 1), s=st.integers(0, 62), zp=st.integers(-128, 127),
       bias=st.integers(-(2**40), 2**40), seed=st.integers(0, 2**31))
def test_requant_stage_matches_integer_oracle(m, s, zp, bias, seed):
    rng = np.random.default_rng(seed)
    k = 5
    wt = rng.integers(-128, 128, size=(2, k)).astype(np.int8)
    stage = RequantStage(np.array([m, -m if m > -(2**31) else 1], np.int32), np.array([bias, -bias], np.int64),
                         np.array([s, max(0, s - 3)], np.uint8), zp, 0.5)
    graph = flat_graph(TensorSpec("u8", (k,)), [Dense(wt, k, 2, stage, "int8")])
    x = rng.integers(0, 256, size=(3, k)).astype(np.uint8)
    got = value_of(graph, x, 0)
    for n in range(3):
        for c in range(2):
            acc = sum(int(wt[c, i]) * int(x[n, i]) for i in range(k))
            v = int(stage.multiplier[c]) * acc + int(stage.bias[c])
            assert got[n, c] == clamp8(zp + round_half_up(v, int(stage.shift[c])))


@SETTINGS
@given(ma=st.integers(-(2**31), 2**31 - 1), mb=st.integers(-(2**31), 2**31 - 1), s=st.integers(0, 62),
       zpa=st.integers(-128, 127), zpb=st.integers(0, 255), zp=st.integers(-128, 127), seed=st.integers(0, 2**31))
def test_add_matches_integer_oracle(ma, mb, s, zpa, zpb, zp, seed):
    rng = np.random.default_rng(seed)
    shape = (2, 3, 2)
    sa, sb = TensorSpec("i8", shape, scale=0.1, zero_point=zpa), TensorSpec("u8", shape, scale=0.1, zero_point=zpb)
    # a (i8, the input) and b (u8 from a Requantize would be i8: feed b as a second input via Reshape is
    # not possible, so b is the input re-coded by an exact Requantize to another zero point)
    del sb
    rq = Requantize(1, 0, zpa // 2, 0.1, name="b")
    add = Add((ma, mb), s, zp, 0.3, name="sum", inputs=("input", "b"))
    graph = flat_graph(sa, [rq, add])
    x = rng.integers(-128, 128, size=(2,) + shape).astype(np.int8)
    got = value_of(graph, x, 1)
    b = np.clip(zpa // 2 + (x.astype(np.int64) - zpa), -128, 127)  # the Requantize with M = 1, s = 0
    for idx in np.ndindex(got.shape):
        v = ma * (int(x[idx]) - zpa) + mb * (int(b[idx]) - zpa // 2)
        assert got[idx] == clamp8(zp + round_half_up(v, s)), idx


@SETTINGS
@given(kh=st.integers(1, 3), kw=st.integers(1, 3), sh=st.integers(1, 2), sw=st.integers(1, 2),
       m=st.integers(1, 2**31 - 1), s=st.integers(0, 40), zpx=st.integers(0, 255), zp=st.integers(-128, 127),
       seed=st.integers(0, 2**31))
def test_avgpool_and_global_pool_match_integer_oracle(kh, kw, sh, sw, m, s, zpx, zp, seed):
    rng = np.random.default_rng(seed)
    h, w, c = int(rng.integers(kh, 6)), int(rng.integers(kw, 6)), 3
    spec = TensorSpec("u8", (h, w, c), scale=0.02, zero_point=zpx)
    x = rng.integers(0, 256, size=(2, h, w, c)).astype(np.uint8)
    for kernel, stride in (((kh, kw), (sh, sw)), ((h, w), (1, 1))):  # a window pool and the global one
        graph = flat_graph(spec, [AvgPool2d(kernel, stride, m, s, zp, 0.05)])
        got = value_of(graph, x, 0)
        oh, ow = (h - kernel[0]) // stride[0] + 1, (w - kernel[1]) // stride[1] + 1
        assert got.shape == (2, oh, ow, c)
        for n, y, xx, ch in np.ndindex(got.shape):
            win = x[n, y * stride[0]:y * stride[0] + kernel[0], xx * stride[1]:xx * stride[1] + kernel[1], ch]
            total = sum(int(v) - zpx for v in win.reshape(-1))
            assert got[n, y, xx, ch] == clamp8(zp + round_half_up(m * total, s))


def test_int8_maxpool_concat_threshold_reshape():
    rng = np.random.default_rng(5)
    spec = TensorSpec("i8", (5, 4, 3), scale=0.1, zero_point=-3)
    d = np.array([1, -1, 1], np.int8)
    t = np.array([[-3, 0, 40], [-50, -50, 2], [127, 127, 127]], np.int32)
    ops = [MaxPool2d((2, 2), (1, 2), name="mp"),
           Requantize(3, 1, -3, 0.1, name="rq", inputs=("input",)),
           Concat(name="cat", inputs=("input", "rq")),
           Threshold(ThresholdStage(d, t, "unsigned"), name="thr", inputs=("input",)),
           Reshape((3, 4, 5), name="rs", inputs=("input",)),
           Flatten(name="f1", inputs=("mp",)), Flatten(name="f2", inputs=("cat",)), Flatten(name="f3", inputs=("thr",)),
           Flatten(name="f4", inputs=("rs",))]
    graph = Graph(spec, ops)
    # join the four flattened values into one head: the int8 ones by concat, the bits by a Dense
    graph.ops += [Concat(name="ints", inputs=("f1", "f2", "f4")),
                  Dense(bf.pack_sign(np.ones((1, 60))), 60, 1, ThresholdStage(np.ones(1, np.int8), np.zeros((1, 1), np.int32), "sign"),
                        name="dbits", inputs=("f3",)),
                  Dense(bf.pack_sign(np.ones((1, 24 + 120 + 60))), 24 + 120 + 60, 1, ThresholdStage(np.ones(1, np.int8), np.zeros((1, 1), np.int32), "sign"),
                        name="dints", inputs=("ints",)),
                  Concat(name="both", inputs=("dbits", "dints")),
                  Dense(bf.pack_sign(np.ones((1, 2))), 2, 1, ScoreStage.identity(1), name="score", inputs=("both",))]
    x = rng.integers(-128, 128, size=(3, 5, 4, 3)).astype(np.int8)
    vals = reference.run_values(graph, x)
    specs = graph.value_specs()
    get = lambda n: reference.unpack_value(vals[n], specs[n])  # noqa: E731
    xt = torch.from_numpy(x.astype(np.float64)).permute(0, 3, 1, 2)
    mp = F.max_pool2d(xt, (2, 2), (1, 2)).permute(0, 2, 3, 1).numpy()
    assert np.array_equal(get("mp"), mp.astype(np.int64))
    rq = np.clip(-3 + np.array([[round_half_up(3 * (int(v) + 3), 1) for v in row] for row in x.reshape(3, -1)]),
                 -128, 127).reshape(x.shape)
    assert np.array_equal(get("rq"), rq)
    assert np.array_equal(get("cat"), np.concatenate([x.astype(np.int64), rq], axis=-1))
    level = ((d.astype(np.int64) * x[..., None].astype(np.int64).squeeze(-1))[..., None] >= t).sum(-1)
    assert np.array_equal(get("thr"), level)
    assert np.array_equal(get("rs"), x.reshape(3, 3, 4, 5).astype(np.int64))
    assert specs["cat"].shape == (5, 4, 6) and specs["thr"].kind == "bits" and specs["thr"].planes == 2


def test_bits_concat_and_maxpool():
    rng = np.random.default_rng(6)
    spec = TensorSpec("u8", (4, 4, 2))
    a = Conv2d(rng.integers(-128, 128, size=(33, 1, 1, 2)).astype(np.int8), 2, 33, (1, 1), (1, 1), (0, 0, 0, 0),
               ThresholdStage(np.ones(33, np.int8), np.full((33, 1), 100, np.int32), "sign"), "int8", name="a")
    b = Conv2d(rng.integers(-128, 128, size=(31, 1, 1, 2)).astype(np.int8), 2, 31, (1, 1), (1, 1), (0, 0, 0, 0),
               ThresholdStage(-np.ones(31, np.int8), np.full((31, 1), -5, np.int32), "sign"), "int8", name="b",
               inputs=("input",))
    graph = flat_graph(spec, [a, b, Concat(name="cat", inputs=("a", "b")), MaxPool2d((2, 2), (2, 2), name="mp")])
    x = rng.integers(0, 256, size=(2, 4, 4, 2)).astype(np.uint8)
    vals = reference.run_values(graph, x)
    specs = graph.value_specs()
    get = lambda n: reference.unpack_value(vals[n], specs[n])  # noqa: E731
    cat = np.concatenate([get("a"), get("b")], axis=-1)
    assert np.array_equal(get("cat"), cat) and specs["cat"].channels == 64
    mp = F.max_pool2d(torch.from_numpy(cat.astype(np.float64)).permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1).numpy()
    assert np.array_equal(get("mp"), mp.astype(np.int64))


# ----------------------------------------------------------------------------- validation


def _merge_graph(wa, wb, ma, mb, bias, output, zp_in):
    """input i8 (F,) -> dense_a (int8 weights, AccStage) and sign(input) -> dense_b (binary, AccStage)
    -> Merge(dense_a + input codes? no: dense_a, dense_b) -> output, plus a second Merge of the input
    codes with dense_b's accumulators (codes + accumulators)."""
    f, c = wa.shape[1], wa.shape[0]
    spec = TensorSpec("i8", (f,), scale=0.05, zero_point=zp_in)
    sign = Threshold(ThresholdStage(np.ones(f, np.int8), np.full((f, 1), zp_in, np.int32), "sign"), name="s")
    da = Dense(wa, f, c, AccStage(), "int8", name="a", inputs=("input",))
    db = Dense(bf.pack_sign(wb), f, c, AccStage(), "binary", name="b", inputs=("s",))
    m = Merge(ma, mb, bias, output, name="m", inputs=("a", "b"))
    return spec, [sign, da, db, m]


@SETTINGS
@given(c=st.integers(1, 40), f=st.integers(1, 40), scale_exp=st.integers(0, 30), zp_in=st.integers(-128, 127),
       use_round=st.booleans(), seed=st.integers(0, 2**31))
def test_merge_matches_integer_oracle(c, f, scale_exp, zp_in, use_round, seed):
    """Merge of two AccStage accumulators (int8 weights over i8 codes; binary over sign bits), with
    a threshold (int64 thresholds, either direction, unsigned levels) or a round output, against
    Python integers."""
    rng = np.random.default_rng(seed)
    wa = rng.integers(-128, 128, size=(c, f)).astype(np.int8)
    wb = rng.choice([-1, 1], size=(c, f))
    top = 2**scale_exp
    ma = rng.integers(-top, top + 1, size=c).astype(np.int32)
    mb = rng.integers(-top, top + 1, size=c).astype(np.int32)
    bias = rng.integers(-(2**40), 2**40, size=c).astype(np.int64)
    if use_round:
        output = RoundStage(rng.integers(0, 63, size=c).astype(np.uint8), int(rng.integers(-128, 128)), 0.1)
    else:
        t = np.sort(rng.integers(-(2**45), 2**45, size=(c, 3)), axis=1).astype(np.int64)
        output = ThresholdStage(rng.choice(np.array([-1, 1], np.int8), size=c), t, "unsigned")
    spec, ops = _merge_graph(wa, wb, ma, mb, bias, output, zp_in)
    graph = flat_graph(spec, ops)
    x = rng.integers(-128, 128, size=(5, f)).astype(np.int8)
    got = value_of(graph, x, 3)
    for n in range(5):
        xs = [int(v) for v in x[n]]
        sb = [1 if v >= zp_in else -1 for v in xs]
        for o in range(c):
            acc_a = sum(int(wa[o, k]) * xs[k] for k in range(f))
            acc_b = sum(int(wb[o, k]) * sb[k] for k in range(f))
            v = int(ma[o]) * acc_a + int(mb[o]) * acc_b + int(bias[o])
            if use_round:
                want = clamp8(output.zero_point + round_half_up(v, int(output.shift[o])))
            else:
                d = int(output.direction[o])
                want = sum(d * v >= int(tk) for tk in output.thresholds[o])
            assert got[n, o] == want, (n, o)


def test_merge_of_codes_and_accumulators():
    """Merge reads u8 / i8 codes with their zero point next to accumulators (zero point 0)."""
    rng = np.random.default_rng(3)
    f = 6
    spec = TensorSpec("u8", (f,), scale=0.02, zero_point=131)
    w = rng.choice([-1, 1], size=(f, f))
    sign = Threshold(ThresholdStage(np.ones(f, np.int8), np.full((f, 1), 131, np.int32), "sign"), name="s")
    db = Dense(bf.pack_sign(w), f, f, AccStage(), "binary", name="b")
    ma, mb = np.arange(1, f + 1, dtype=np.int32) * 1000, np.full(f, -77, np.int32)
    m = Merge(ma, mb, np.zeros(f, np.int64), RoundStage(np.full(f, 9, np.uint8), -3, 0.1), name="m",
              inputs=("input", "b"))
    graph = flat_graph(spec, [sign, db, m])
    x = rng.integers(0, 256, size=(4, f)).astype(np.uint8)
    got = value_of(graph, x, 2)
    for n in range(4):
        sb = [1 if int(v) >= 131 else -1 for v in x[n]]
        for o in range(f):
            acc = sum(int(w[o, k]) * sb[k] for k in range(f))
            v = int(ma[o]) * (int(x[n, o]) - 131) + int(mb[o]) * acc
            assert got[n, o] == clamp8(-3 + round_half_up(v, 9))


def test_merge_and_accumulator_rules():
    f = 4
    spec = TensorSpec("i8", (f,), scale=0.1)
    one = np.ones(f, np.int32)
    thr64 = ThresholdStage(np.ones(f, np.int8), np.zeros((f, 1), np.int64), "sign")
    acc = Dense(np.ones((f, f), np.int8), f, f, AccStage(), "int8", name="a")
    merge = Merge(one, one, np.zeros(f, np.int64), thr64, name="m", inputs=("input", "a"))
    flat_graph(spec, [acc, merge]).validate()
    assert Graph(spec, [acc]).value_specs(complete=False)["a"].bound == 4 * 128  # max|x| * sum|w|
    with pytest.raises(GraphError, match="read only by a Merge"):
        flat_graph(spec, [acc, Requantize(1, 0, name="r")]).validate()
    with pytest.raises(GraphError, match="read only by a Merge"):
        Graph(spec, [acc, Dense(np.ones((1, f), np.int8), f, 1, ScoreStage.identity(1), "int8")]).validate()
    with pytest.raises(GraphError, match="ScoreStage"):
        Graph(spec, [acc]).validate()
    with pytest.raises(GraphError, match="int64 of shape"):  # int32 thresholds on a Merge
        flat_graph(spec, [acc, Merge(one, one, np.zeros(f, np.int64),
                                     ThresholdStage(np.ones(f, np.int8), np.zeros((f, 1), np.int32), "sign"),
                                     name="m", inputs=("input", "a"))]).validate()
    with pytest.raises(GraphError, match="one shape"):
        flat_graph(spec, [Dense(np.ones((3, f), np.int8), f, 3, AccStage(), "int8", name="a"),
                          Merge(one, one, np.zeros(f, np.int64), thr64, name="m", inputs=("input", "a"))]).validate()
    with pytest.raises(GraphError, match="int64"):  # |M_b| * bound overflows int64 with the bias
        flat_graph(spec, [acc, Merge(one, np.full(f, 2**31 - 1, np.int32), np.full(f, 2**63 - 2**35, np.int64), thr64,
                                     name="m", inputs=("input", "a"))]).validate()
    with pytest.raises(GraphError, match="codes or i32 accumulators"):
        flat_graph(spec, [Threshold(ThresholdStage(np.ones(f, np.int8), np.zeros((f, 1), np.int32), "sign"),
                                    name="t"),
                          Merge(one, one, np.zeros(f, np.int64), thr64, name="m", inputs=("input", "t"))]).validate()
    with pytest.raises(GraphError, match="RoundStage"):
        flat_graph(spec, [acc, Merge(one, one, np.zeros(f, np.int64), RoundStage(np.full(f, 63, np.uint8)),
                                     name="m", inputs=("input", "a"))]).validate()


def _int8_head(spec):
    return flat_graph(spec, [])


def test_dag_validation_errors():
    spec = TensorSpec("i8", (4,), scale=0.1, zero_point=0)
    head = scores_head(4)
    with pytest.raises(GraphError, match="reads 'nope'"):
        Graph(spec, [Requantize(1, 0, name="a", inputs=("nope",)), head]).validate()
    with pytest.raises(GraphError, match="used twice"):
        Graph(spec, [Requantize(1, 0, name="a"), Requantize(1, 0, name="a"), head]).validate()
    with pytest.raises(GraphError, match="never used"):
        Graph(spec, [Requantize(1, 0, name="a"), Requantize(1, 0, name="b", inputs=("input",)), head]).validate()
    with pytest.raises(GraphError, match="share one type"):
        Graph(spec, [Requantize(1, 0, zero_point=5, name="a"),
                     Concat(name="c", inputs=("input", "a")), scores_head(8)]).validate()
    with pytest.raises(GraphError, match="one shape"):
        Graph(TensorSpec("i8", (4, 1, 1)), [Reshape((2, 2, 1), name="r"), Add((1, 1), 0, name="s", inputs=("input", "r")),
                                            Flatten(), head]).validate()
    with pytest.raises(GraphError, match="int64"):  # (2^31 - 1) * 46340^2 window * 255 > 2^63
        flat_graph(TensorSpec("u8", (46340, 46340, 1)), [AvgPool2d((46340, 46340), (1, 1), 2**31 - 1, 0)]).validate()
    with pytest.raises(GraphError, match="shifts"):
        flat_graph(spec, [Requantize(1, 63)]).validate()
    with pytest.raises(GraphError, match="zero point"):
        flat_graph(spec, [Requantize(1, 0, zero_point=128)]).validate()
    with pytest.raises(GraphError, match="zero point"):
        Graph(TensorSpec("u8", (4,), zero_point=-1), [head]).validate()
    with pytest.raises(GraphError, match="grouped"):
        flat_graph(TensorSpec("i8", (3, 3, 4)), [Conv2d(np.zeros((4, 1, 1, 4), np.uint32), 4, 4, (1, 1), (1, 1), (0,) * 4,
                                                        ThresholdStage(np.ones(4, np.int8), np.zeros((4, 1), np.int32), "sign"),
                                                        "binary", groups=2)]).validate()
    with pytest.raises(GraphError, match="nothing may read"):
        Graph(spec, [head, Dense(bf.pack_sign(np.ones((1, 1))), 1, 1, ScoreStage.identity(1))]).validate()


@pytest.mark.parametrize("seed", range(12))
def test_random_dags_validate_and_run(seed):
    rng = np.random.default_rng(seed)
    g = random_dag(rng)
    x = random_inputs(rng, g, 3)
    values = reference.run_values(g, x)
    specs = g.value_specs()
    assert list(values) == g.value_names()
    for name, v in values.items():
        assert v.shape == (3,) + specs[name].storage_shape() and v.dtype == specs[name].storage_dtype(), name
    assert np.array_equal(reference.run(g, x), values[g.value_names()[-1]])
    # batches are independent: one sample at a time gives the same scores
    assert np.array_equal(np.concatenate([reference.run(g, x[i:i + 1]) for i in range(3)]), reference.run(g, x))
