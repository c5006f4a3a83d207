"""Graph v2 DAGs through the ONNX and LiteRT exporters: scores equal binedge.reference.run bit for
bit (random DAGs over u8 / i8, image / feature-vector inputs), every op and stage, and the
rounding rule at its edges against values computed by hand (binedge.exact.requant_exact:
Python integers, no int64 anywhere)."""

from __future__ import annotations

import json
import os

import numpy as np
import onnxruntime as ort
import pytest
from dags import random_dag, random_inputs

from binedge import export_onnx as eo
from binedge import export_tflite as et
from binedge import reference
from binedge.exact import (INT64_MAX, FLOAT_EXACT_BOUND, requant_constants, requant_exact, requant_floor_mod,
                           rshift_sign_flip, window_bands)
from binedge.export_onnx import OnnxExportError, export_onnx, load_onnx_checked, run_onnx
from binedge.export_tflite import TfliteExportError, export_tflite, load_tflite_checked, run_tflite
from binedge.graph import (AccStage, Add, AvgPool2d, Concat, Conv2d, Dense, Flatten, Graph, MaxPool2d, Merge,
                           RequantStage, Requantize, Reshape, RoundStage, ScoreStage, TensorSpec, Threshold,
                           ThresholdStage)

DELEGATES = ("default", "none", "reference")


def run_both(graph: Graph, images: np.ndarray, tmp_path, *, delegates=DELEGATES, packed=False) -> dict:
    """Scores of ``graph`` on ``images`` from onnxruntime and from LiteRT (each delegate setting)."""
    export_onnx(graph, tmp_path / "m.onnx")
    export_tflite(graph, tmp_path / "m.tflite", packed=packed)
    out = {"onnx": run_onnx(tmp_path / "m.onnx", images)}
    for d in delegates:
        out[f"litert-{d}"] = run_tflite(tmp_path / "m.tflite", images, delegates=d)
    return out


def assert_all_equal(results: dict, want: np.ndarray, what: str = "") -> None:
    for name, got in results.items():
        assert got.dtype == np.int32 and got.shape == want.shape, (name, got.dtype, got.shape)
        np.testing.assert_array_equal(got, want, err_msg=f"{name} {what}")


def identity_scores(c: int, name: str = "scores", inputs=None) -> Dense:
    """Dense with int8 identity weights and identity scores: the scores are the input codes."""
    return Dense(np.eye(c, dtype=np.int8), c, c, ScoreStage.identity(c), "int8", name=name, inputs=inputs)


# ----------------------------------------------------------------------------- the rounding rule in numpy


def edge_values(s: int, zp: int, rng) -> list[int]:
    """v around every multiple of 2^s that matters (x.5 cases when s >= 1, the saturation edges),
    the int64 extremes the graph allows (|v| + 2^(s-1) <= 2^63 - 1) and random values."""
    h = (1 << (s - 1)) if s else 0
    lim = INT64_MAX - h
    out = {0, 1, -1, lim, -lim, lim - 1, -lim + 1, 2**62, -(2**62)}
    for q in (-300, -256, -129 - zp, -128 - zp, -127 - zp, -1, 0, 1, 126 - zp, 127 - zp, 128 - zp, 300):
        for d in (-2, -1, 0, 1, 2):
            out.add(q * (1 << s) + d - h)  # w = v + h next to a multiple of 2^s: v next to a half
            out.add(q * (1 << s) + d)
    out |= {int(v) for v in rng.integers(-lim, lim, size=40, endpoint=True)}
    return sorted(v for v in out if -lim <= v <= lim)


def test_rounding_decompositions_match_the_rule():
    """The op sequences both exporters emit (numpy models in binedge.exact) give requant exactly,
    for every shift 0..62, zero points at the ends of the range, x.5 cases, saturation and
    |v| up to 2^63 - 1 - 2^(s-1)."""
    rng = np.random.default_rng(0)
    for s in range(63):
        h = (1 << (s - 1)) if s else 0
        for zp in (-128, -127, -1, 0, 1, 126, 127):
            vs = edge_values(s, zp, rng)
            w = np.array([v + h for v in vs], np.int64)
            want = np.array([requant_exact(v, s, zp) for v in vs])
            k = requant_constants(s, zp)
            np.testing.assert_array_equal(requant_floor_mod(w, k, zp), want, err_msg=f"LiteRT s={s} zp={zp}")
            q = rshift_sign_flip(w, s)
            np.testing.assert_array_equal(q, np.array([(v + h) >> s for v in vs], dtype=object).astype(np.int64))
            np.testing.assert_array_equal(np.clip(q, k.lo, k.hi) + zp, want, err_msg=f"ONNX s={s} zp={zp}")


def test_requant_exact_by_hand():
    """The oracle itself on values worked out by hand: half up, towards +inf."""
    cases = [((1, 1, 0), 1), ((-1, 1, 0), 0), ((3, 1, 0), 2), ((-3, 1, 0), -1), ((2, 2, 0), 1), ((-2, 2, 0), 0),
             ((6, 2, 0), 2), ((-6, 2, 0), -1), ((2**61, 62, 0), 1), ((2**61 - 1, 62, 0), 0), ((-(2**61), 62, 0), 0),
             ((-(2**61) - 1, 62, 0), -1), ((127, 0, 0), 127), ((128, 0, 0), 127), ((-129, 0, 0), -128),
             ((0, 0, -128), -128), ((5, 0, 127), 127), ((-5, 0, -128), -128), ((2**63 - 1, 0, 127), 127),
             ((-(2**63) + 1, 0, -128), -128), ((2**62, 62, 126), 127), ((-(2**62), 62, -127), -128)]
    for (v, s, zp), want in cases:
        assert requant_exact(v, s, zp) == want, (v, s, zp)


def test_window_bands_cover_the_window():
    assert window_bands(3, 3, 255) == [(0, 3)]
    bands = window_bands(257, 257, 255)
    assert bands[0][0] == 0 and bands[-1][1] == 257 and all(a[1] == b[0] for a, b in zip(bands, bands[1:]))
    assert all((r1 - r0) * 257 * 255 <= FLOAT_EXACT_BOUND for r0, r1 in bands) and len(bands) == 2
    assert window_bands(5, 65535, 255) == [(r, r + 1) for r in range(5)]  # one row always fits


# ----------------------------------------------------------------------------- random DAGs


SEEDS = 10


@pytest.mark.parametrize("input_kind", ["u8", "i8"])
@pytest.mark.parametrize("image", [True, False], ids=["image", "features"])
def test_random_dags_exact(tmp_path, input_kind, image):
    """Random DAGs (tests/dags.py): onnxruntime and LiteRT (XNNPACK, builtin, reference kernels)
    return exactly reference.run's scores, batch 1 and 7 from one file (dynamic batch); packed
    and plain weights in both formats."""
    seen = set()
    for seed in range(SEEDS):
        rng = np.random.default_rng(7000 + 100 * seed + 10 * image + (input_kind == "i8"))
        graph = random_dag(rng, input_kind=input_kind, image=image)
        seen |= {type(op).__name__ for op in graph.ops}
        export_onnx(graph, tmp_path / "m.onnx", packed=seed % 3 != 0)
        export_tflite(graph, tmp_path / "m.tflite", packed=bool(seed % 2))
        for n in (1, 7):
            x = random_inputs(rng, graph, n)
            want = reference.run(graph, x)
            np.testing.assert_array_equal(run_onnx(tmp_path / "m.onnx", x), want, err_msg=f"onnx seed {seed}")
            for d in (DELEGATES if n == 7 else ("default",)):
                got = run_tflite(tmp_path / "m.tflite", x, delegates=d)
                np.testing.assert_array_equal(got, want, err_msg=f"litert {d} seed {seed}")
    if image:
        assert {"Conv2d", "Add", "Threshold", "Dense"} <= seen, seen
    else:
        assert {"Dense", "Threshold"} <= seen, seen


def test_random_dags_cover_every_op_and_stage():
    """The DAGs of test_random_dags_exact hold every op, every stage and both input kinds."""
    ops, stages = set(), set()
    for input_kind in ("u8", "i8"):
        for image in (True, False):
            for seed in range(SEEDS):
                rng = np.random.default_rng(7000 + 100 * seed + 10 * image + (input_kind == "i8"))
                graph = random_dag(rng, input_kind=input_kind, image=image)
                for op in graph.ops:
                    ops.add(type(op).__name__)
                    if isinstance(op, (Conv2d, Dense)):
                        stages.add(type(op.output).__name__)
                        if isinstance(op, Conv2d) and op.groups > 1:
                            ops.add("depthwise" if op.groups == op.in_channels else "grouped")
                    if isinstance(op, AvgPool2d):
                        spec = graph.value_specs()[graph.op_inputs(graph.ops.index(op))[0]]
                        ops.add("global" if tuple(op.kernel) == spec.shape[:2] else "window")
                    if isinstance(op, Merge):
                        ops.add(f"Merge->{type(op.output).__name__}")
    assert ops >= {"Conv2d", "Dense", "MaxPool2d", "AvgPool2d", "Add", "Requantize", "Threshold", "Concat",
                   "Flatten", "Reshape", "depthwise", "grouped", "global", "window", "Merge",
                   "Merge->RoundStage", "Merge->ThresholdStage"}, ops
    assert stages == {"ThresholdStage", "RequantStage", "ScoreStage", "AccStage"}


def test_metadata_and_input_types(tmp_path):
    rng = np.random.default_rng(3)
    graph = random_dag(rng, input_kind="i8", image=True)
    export_onnx(graph, tmp_path / "m.onnx")
    export_tflite(graph, tmp_path / "m.tflite")
    model = load_onnx_checked(tmp_path / "m.onnx")
    inp = model.graph.input[0].type.tensor_type
    assert inp.elem_type == 3 and [d.dim_value for d in inp.shape.dim[1:]] == list(graph.input.shape)  # INT8
    props = {p.key: p.value for p in model.metadata_props}
    assert json.loads(props["input_quantization"]) == {"kind": "i8", "scale": graph.input.scale,
                                                       "zero_point": graph.input.zero_point}
    meta = load_tflite_checked(tmp_path / "m.tflite").metadata
    assert (meta["input_kind"], meta["input_zero_point"]) == ("i8", graph.input.zero_point)
    interp = et.make_interpreter((tmp_path / "m.tflite").read_bytes())
    assert interp.get_input_details()[0]["dtype"] == np.int8
    x = random_inputs(rng, graph, 3)
    for run in (run_onnx, run_tflite):
        with pytest.raises(ValueError, match="int8"):
            run(tmp_path / ("m.onnx" if run is run_onnx else "m.tflite"), x.astype(np.uint8))
    assert run_onnx(tmp_path / "m.onnx", x[:0]).shape == (0, graph.output.shape[0])
    runner = interp.get_signature_runner("serving_default")  # resizes the batch by itself
    np.testing.assert_array_equal(runner(images=x)["scores"], reference.run(graph, x))
    with pytest.raises(eo.OnnxExportError, match="reserved"):
        graph.metadata = {"input_quantization": 1}
        export_onnx(graph, tmp_path / "n.onnx")


# ----------------------------------------------------------------------------- the rounding rule in the runtimes


# (M, B, s) per channel of a RequantStage on acc = x (int8 identity weights over i8 codes)
EDGE_CHANNELS = [
    (1, 0, 0), (2, 0, 0), (2, 3, 0), (1, 0, 1), (-1, 0, 1), (1, 0, 2), (3, 1, 2), (-3, -1, 2),
    (1, 2**61, 62), (1, -(2**61), 62), (-1, 2**61, 62), (1, 5 * 2**60, 61), (1, -5 * 2**60, 61),
    (1, 2**63 - 2**61 - 200, 62), (1, -(2**63 - 2**61 - 200), 62), (7, 2**62, 62), (-7, -(2**62), 62),
    (1, 2**62, 0), (1, -(2**62), 0), (2**31 - 1, 2**30, 31), (-(2**31), 2**30, 31), (2**31 - 1, 0, 38),
    (12345, -678, 13), (1, 100, 5), (1, -100, 5),
]
EDGE_X = np.array([-128, -127, -65, -64, -3, -2, -1, 0, 1, 2, 3, 63, 64, 126, 127], np.int8)


def requant_edge_graph(channels: list, zp: int, input_zp: int = 0) -> Graph:
    c = len(channels)
    m, bias, s = (np.array(v) for v in zip(*channels))
    stage = RequantStage(m.astype(np.int32), np.array([int(b) for b in bias], np.int64), s.astype(np.uint8), zp, 0.1)
    return Graph(TensorSpec("i8", (c,), scale=0.1, zero_point=input_zp),
                 [Dense(np.eye(c, dtype=np.int8), c, c, stage, "int8", name="rq"), identity_scores(c)])


@pytest.mark.parametrize("zp", [0, -128, 127, 9])
def test_requant_stage_edges_by_hand(tmp_path, zp):
    """Per-channel shifts 0 / 1 / 2 / 13 / 31 / 38 / 61 / 62, x.5 cases, negative values,
    saturation at -128 / 127, |v| near 2^62 and beyond (up to 2^63 - 2^61 - 73): every runtime's
    codes equal the rule computed by hand on Python integers, and reference.run."""
    graph = requant_edge_graph(EDGE_CHANNELS, zp)
    x = np.repeat(EDGE_X[:, None], len(EDGE_CHANNELS), axis=1)
    want = np.array([[requant_exact(m * int(xv) + b, s, zp) for (m, b, s) in EDGE_CHANNELS] for xv in EDGE_X])
    results = run_both(graph, x, tmp_path)
    assert_all_equal(results, want)
    np.testing.assert_array_equal(reference.run(graph, x), want)
    assert {127, -128} <= set(want.reshape(-1).tolist())  # saturation reached on both sides


def test_requant_stage_shift_zero_near_int64_limit(tmp_path):
    """s = 0 with v within 128 of 2^63 - 1 and a zero point that pushes zp + v past it: the rule
    says clamp(zp + v) = 127 / -128. The exporters clamp before adding zp, so nothing wraps.
    Not compared with reference.run: binedge.graph.requant adds zp to the int64 v before it
    clamps, which wraps here (requant([2**63 - 51], 0, 127) gives -128)."""
    big = INT64_MAX - 128  # |M| * 128 + |B| <= 2^63 - 1 with M = 1
    for zp, bias in ((127, big), (-128, -big)):
        graph = requant_edge_graph([(1, bias, 0), (1, 0, 0)], zp)
        x = np.repeat(EDGE_X[:, None], 2, axis=1)
        want = np.array([[requant_exact(bias + int(xv), 0, zp), requant_exact(int(xv), 0, zp)] for xv in EDGE_X])
        assert set(want[:, 0]) == {127 if zp > 0 else -128}
        assert_all_equal(run_both(graph, x, tmp_path), want)


def codes_graph(spec: TensorSpec, ops: list) -> Graph:
    """``ops`` followed by Flatten (for an (H, W, C) value) and identity scores: the scores are
    the codes of the last op's value, in (H, W, C) order."""
    graph = Graph(spec, list(ops))
    last = graph.value_specs(complete=False)[graph.value_name(len(ops) - 1)]
    if len(last.shape) == 3:
        graph.ops.append(Flatten(name="flat"))
    graph.ops.append(identity_scores(int(np.prod(last.shape))))
    return graph


def test_add_requantize_avgpool_rounding_by_hand(tmp_path):
    """Requantize, Add and AvgPool2d at their rounding edges (x.5 cases, shift 0 and saturation,
    large multipliers and shifts), against values computed by hand on Python integers."""
    spec = TensorSpec("i8", (2, 2, 4), scale=0.05, zero_point=3)
    x = np.array([[[[-128, 127, 3, 4]] * 2] * 2,
                  [[[0, 1, 2, 5], [-1, -2, -3, -4]], [[6, 7, -6, -7], [126, -127, 10, -10]]],
                  [[[3, 3, 3, 3], [4, 4, 4, 4]], [[5, 5, 5, 5], [2, 2, 2, 4]]],
                  [[[1, 5, 9, 13], [2, 6, 10, 14]], [[-5, -1, 2, 3], [-8, -9, -10, -11]]]], np.int8)
    xi = x.astype(object)
    rule = lambda f: np.vectorize(f, otypes=[object])  # noqa: E731
    rq1 = rule(lambda v: requant_exact(5 * (v - 3), 1, -2))(xi)  # x.5 cases, both signs
    m, mb = 2**31 - 1, -(2**31)
    rq1_op = Requantize(5, 1, -2, 0.1, name="rq1")

    def add(mults, shift, zp):
        return [rq1_op, Add(mults, shift, zp, 0.1, name="add", inputs=("input", "rq1"))]

    cases = {
        "requantize s=1": ([rq1_op], rq1),
        "requantize s=0": ([Requantize(1, 0, 127, 0.1, name="rq0")], rule(lambda v: requant_exact(v - 3, 0, 127))(xi)),
        "requantize s=2 zp=-128": ([Requantize(-3, 2, -128, 0.1, name="rqn")],
                                   rule(lambda v: requant_exact(-3 * (v - 3), 2, -128))(xi)),
        "add s=1": (add((1, 1), 1, -128), rule(lambda a, b: requant_exact((a - 3) + (b + 2), 1, -128))(xi, rq1)),
        "add s=39": (add((m, mb), 39, 7), rule(lambda a, b: requant_exact(m * (a - 3) + mb * (b + 2), 39, 7))(xi, rq1)),
        "add s=62": (add((m, m), 62, 0), rule(lambda a, b: requant_exact(m * (a - 3) + m * (b + 2), 62, 0))(xi, rq1)),
        "avgpool 2x2 s=2": ([AvgPool2d((2, 2), (1, 1), 1, 2, 5, 0.1, name="avg")],
                            rule(lambda v: requant_exact(v, 2, 5))((xi - 3).sum(axis=(1, 2), keepdims=True))),
        "avgpool 1x2 s=0": ([AvgPool2d((1, 2), (1, 1), 100, 0, -1, 0.1, name="avg")],
                            rule(lambda v: requant_exact(100 * v, 0, -1))((xi - 3).sum(axis=2, keepdims=True))),
    }
    for what, (ops, values) in cases.items():
        graph = codes_graph(spec, ops)
        want = np.asarray(values, np.int64).reshape(len(x), -1)
        assert_all_equal(run_both(graph, x, tmp_path, delegates=("default", "reference")), want, what)
        np.testing.assert_array_equal(reference.run(graph, x), want, err_msg=what)


# ----------------------------------------------------------------------------- targeted ops


# (sum S, M, s) with M * S / 2^s in [20, 120] and (M * S + 2^(s-1)) mod 2^s < M: requant(M * S', s)
# steps up exactly at S' = S, so S - 1 gives one code less (found by a search over M and s)
STEP_AT = [(16842494, 16842755, 42), (16842495, 8421377, 41), (16842496, 361091, 36), (16842497, 263168, 36),
           (16908029, 327177, 36), (16908030, 380013, 36), (16908031, 144283, 36), (16908032, 314984, 36)]


def test_avgpool_beyond_float32_window_sums(tmp_path):
    """257 x 257 windows of u8 codes sum to up to 16,842,495 > 2^24 (odd: not a float32): the
    window sum is split into bands of kernel rows; global pooling of the input (sums up to
    16,908,030) adds in int64. Each pool's multiplier puts a rounding step exactly at a sum
    next to the all-255 one (STEP_AT), so an error of one in those sums changes a code (checked:
    one band, or the float32 global sum, fails this test)."""
    spec = TensorSpec("u8", (258, 257, 1), scale=1 / 255, zero_point=0)
    win, glob = 257 * 257 * 255, 258 * 257 * 255  # the all-255 sums
    for total, m, s in STEP_AT:
        assert requant_exact(m * total, s, -3) == requant_exact(m * (total - 1), s, -3) + 1
    cases = [("win" if total < glob - 2 else "glob", m, s) for total, m, s in STEP_AT]
    assert [t for t, _, _ in STEP_AT] == [win + d for d in (-1, 0, 1, 2)] + [glob + d for d in (-1, 0, 1, 2)]
    ops = []
    for i, (k, m, s) in enumerate(cases):
        kernel = (257, 257) if k == "win" else (258, 257)
        ops += [AvgPool2d(kernel, (1, 1), m, s, -3, 0.5, name=f"p{i}", inputs=("input",)),
                Flatten(name=f"f{i}", inputs=(f"p{i}",))]
    ops += [Concat(name="cat", inputs=tuple(f"f{i}" for i in range(len(cases)))), identity_scores(12)]
    graph = Graph(spec, ops)
    x = np.full((5, 258, 257, 1), 255, np.uint8)
    x[1, 0, 0] = 254  # window 0: all-255 sum - 1
    x[2, -1, -1] = 253  # window 1: - 2; global: - 2
    x[3, 100, 100] = 0
    x[4] = np.random.default_rng(0).integers(0, 256, size=(258, 257, 1))
    xi = x[..., 0].astype(np.int64)
    want = []
    for n in range(len(x)):
        row = []
        for k, m, s in cases:
            sums = [int(xi[n, :257].sum()), int(xi[n, 1:].sum())] if k == "win" else [int(xi[n].sum())]
            row += [requant_exact(m * v, s, -3) for v in sums]
        want.append(row)
    want = np.array(want)
    assert len(np.unique(want[:3], axis=0)) == 3  # the sums differing by one or two give other codes
    got = run_both(graph, x, tmp_path, delegates=("default", "reference"))
    assert_all_equal(got, want)
    np.testing.assert_array_equal(reference.run(graph, x), want)


def grouped_graph(c: int, groups: int, out: int, kernel: int, rng, weights=None, centre=None) -> Graph:
    """u8 (K+1, K+2, C) with zero point 17 -> grouped int8 Conv2d (padding (1, 0, 1, 1)) ->
    RequantStage with M = 1, s = 0 and B = -acc at an interior position of ``centre`` (so the
    codes there are acc - acc(centre): an error of one in acc changes a code) -> Flatten ->
    Dense (weights in ±1..3) -> scores."""
    if weights is None:
        weights = rng.integers(-128, 128, size=(out, kernel, kernel, c // groups)).astype(np.int8)
    w = weights
    spec = TensorSpec("u8", (kernel + 1, kernel + 2, c), scale=0.01, zero_point=17)

    def build(bias):
        stage = RequantStage(np.ones(out, np.int32), np.asarray(bias, np.int64), np.zeros(out, np.uint8), 0, 0.1)
        conv = Conv2d(w, c, out, (kernel, kernel), (1, 1), (1, 0, 1, 1), stage, "int8", name="gconv", groups=groups)
        h, wd = spec.shape[0] - kernel + 2, spec.shape[1] - kernel + 3
        dense = rng.choice(np.array([-3, -2, -1, 1, 2, 3], np.int8), size=(5, h * wd * out))
        return Graph(spec, [conv, Flatten(name="flat"), Dense(dense, h * wd * out, 5, ScoreStage.identity(5), "int8",
                                                               name="scores")])

    graph = build(np.zeros(out))
    if centre is not None:
        acc = reference.accumulators(graph, centre[None])[0][0]  # (OH, OW, O)
        graph = build(-acc[1, 1])
    return graph


def test_grouped_and_depthwise_convolutions_chunked(tmp_path):
    """Grouped (C / g = 64 channels of 3 x 3 x 255 x 127: above 2^24, so split into chunks taking
    the same channel range of every group; checked: without chunks this test fails) and depthwise
    convolutions with a depth multiplier, zero-point padding of a u8 input, images at the bound."""
    rng = np.random.default_rng(11)
    w = np.full((4, 3, 3, 64), -127, np.int8)  # odd products: sums beyond 2^24 that float32 would round
    w[1::2] = rng.integers(-128, 128, size=(2, 3, 3, 64))
    full = np.full((4, 5, 128), 255, np.uint8)
    full[0, 0, 0] = 254
    big = grouped_graph(128, 2, 4, 3, rng, w, centre=full)
    for graph in (big, grouped_graph(6, 6, 12, 3, rng), grouped_graph(8, 4, 4, 2, rng)):
        x = rng.integers(0, 256, size=(5,) + graph.input.shape).astype(np.uint8)
        x[0] = 255
        x[1] = 0
        if graph is big:
            x[2] = full
            x[3, 1:3, 1:3] = 255
        assert_all_equal(run_both(graph, x, tmp_path), reference.run(graph, x))
    assert "GATHER" in {o.code for o in et._translate(big, False)[0].ops}
    assert "DEPTHWISE_CONV_2D" in {o.code for o in et._translate(grouped_graph(6, 6, 12, 3, rng), False)[0].ops}


def test_depthwise_channel_beyond_float32_is_refused_naming_the_op(tmp_path):
    rng = np.random.default_rng(2)
    graph = grouped_graph(2, 2, 2, 23, rng, np.full((2, 23, 23, 1), 127, np.int8))  # 529 * 255 * 127 > 2^24
    with pytest.raises(OnnxExportError, match="op 0 \\(Conv2d 'gconv'\\).*one input channel"):
        export_onnx(graph, tmp_path / "m.onnx")
    with pytest.raises(TfliteExportError, match="op 0 \\(Conv2d 'gconv'\\).*one input channel"):
        export_tflite(graph, tmp_path / "m.tflite")
    assert not os.listdir(tmp_path)


def test_reshape_concat_maxpool_and_bits(tmp_path):
    """Reshape (F,) -> (H, W, C) -> int8 conv with per-channel shifts -> int8 MaxPool -> Reshape
    back to (F,); Threshold to unsigned bits and to sign bits, MaxPool of bits, a binary conv,
    Concat and Flatten of bits; two Dense branches joined by an Add: every value crossing the
    layouts (NCHW in ONNX, NHWC in LiteRT), packed and int8 weights."""
    from binedge import bitformat as bf

    rng = np.random.default_rng(5)
    sign_w = lambda *shape: bf.pack_sign(rng.choice(np.array([-1, 1]), size=shape))  # noqa: E731
    spec = TensorSpec("i8", (60,), scale=0.02, zero_point=-5)
    unsigned3 = ThresholdStage(np.array([1, -1, 1], np.int8),
                               np.array([[-40, 0, 30], [-20, -20, 5], [0, 1, 2]], np.int32), "unsigned")
    conv_stage = RequantStage(np.array([3, 2**30, -(2**30), 1], np.int32), np.array([10, -(2**37), 2**36, 0], np.int64),
                              np.array([2, 38, 38, 0], np.uint8), -7, 0.1)
    ops = [Reshape((4, 5, 3), name="r3"),
           Conv2d(rng.integers(-128, 128, size=(4, 2, 2, 3)).astype(np.int8), 3, 4, (2, 2), (1, 1), (1, 0, 0, 1),
                  conv_stage, "int8", name="conv"),
           MaxPool2d((2, 2), (1, 2), name="mp8"),
           Reshape((24,), name="r1"),
           Threshold(unsigned3, name="bits", inputs=("r3",)),
           MaxPool2d((2, 2), (2, 1), name="mpb"),
           Threshold(ThresholdStage(np.array([1, 1, -1], np.int8), np.array([[0], [3], [-4]], np.int32), "sign"),
                     name="sign", inputs=("r3",)),
           Conv2d(sign_w(2, 3, 3, 3), 3, 2, (3, 3), (2, 1), (1, 1, 0, 1),
                  ThresholdStage(np.array([1, -1], np.int8), np.array([[-1, 0, 3], [-3, 0, 2]], np.int32), "unsigned"),
                  name="bconv", inputs=("sign",)),
           Concat(name="catb", inputs=("mpb", "bconv")),
           Flatten(name="fb"),
           Dense(rng.integers(-128, 128, size=(6, 24)).astype(np.int8), 24, 6, stage_for(rng, 6), "int8",
                 name="d8", inputs=("r1",)),
           Dense(sign_w(6, 40), 40, 6, ThresholdStage(np.array([1, -1, 1, 1, -1, 1], np.int8),
                                                       np.array([[-2], [0], [1], [3], [-1], [0]], np.int32), "sign"),
                 name="db", inputs=("fb",)),
           Dense(sign_w(6, 6), 6, 6, stage_for(rng, 6, zp=4), name="db8"),
           Add((3, 5), 4, 1, 0.1, name="sum", inputs=("d8", "db8")),
           identity_scores(6)]
    graph = Graph(spec, ops)
    specs = graph.value_specs()
    assert specs["catb"].shape == (2, 4, 5) and specs["catb"].planes == 2 and specs["mp8"].shape == (3, 2, 4)
    x = rng.integers(-128, 128, size=(9, 60)).astype(np.int8)
    x[0] = -128
    x[1] = 127
    want = reference.run(graph, x)
    assert len(np.unique(want)) > 10
    assert_all_equal(run_both(graph, x, tmp_path, packed=True), want)


def stage_for(rng, c: int, zp: int = -3) -> RequantStage:
    return RequantStage(rng.integers(1, 1 << 20, size=c).astype(np.int32),
                        rng.integers(-(2**20), 2**20, size=c).astype(np.int64), np.full(c, 14, np.uint8), zp, 0.1)


def test_onnx_has_only_standard_ops_and_checks(tmp_path):
    graph = random_dag(np.random.default_rng(21), input_kind="u8", image=True)
    export_onnx(graph, tmp_path / "m.onnx", opset=19)
    model = load_onnx_checked(tmp_path / "m.onnx")
    assert {o.domain for o in model.opset_import} <= {"", "ai.onnx"}
    assert {n.domain for n in model.graph.node} <= {""}
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(os.fspath(tmp_path / "m.onnx"), so, providers=["CPUExecutionProvider"])
    x = random_inputs(np.random.default_rng(1), graph, 5)
    np.testing.assert_array_equal(sess.run(["scores"], {"images": x})[0], reference.run(graph, x))


# ----------------------------------------------------------------------------- Merge and AccStage
#
# The oracle below works on Python integers only: accumulators as sums of Python ints, v as
# Ma * (a - zp_a) + Mb * (b - zp_b) + B without any int64, thresholds compared exactly, and the
# rounding rule by binedge.exact.requant_exact. Nothing of binedge.reference is used for the
# expected values (reference.run is compared too, as a third party).

INT64_MIN = -(2**63)


def dense_acc_exact(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    """sum_k w[c, k] * x[n, k] on Python ints: object array (N, C)."""
    wi, xi = w.astype(object), x.astype(object)
    return np.array([[sum(wi[c, k] * xi[n, k] for k in range(w.shape[1])) for c in range(w.shape[0])]
                     for n in range(x.shape[0])], dtype=object)


def conv_acc_exact(w: np.ndarray, x: np.ndarray, pad: int, zp: int) -> np.ndarray:
    """A stride-1 int8 convolution (O, KH, KW, C) over (N, H, W, C) codes padded with the zero
    point ``pad`` on every side; Python ints, object array (N, OH, OW, O)."""
    n, h, wd, c = x.shape
    o, kh, kw, _ = w.shape
    xp = np.full((n, h + 2 * pad, wd + 2 * pad, c), zp, dtype=object)
    xp[:, pad:pad + h, pad:pad + wd] = x.astype(object)
    oh, ow = h + 2 * pad - kh + 1, wd + 2 * pad - kw + 1
    out = np.zeros((n, oh, ow, o), dtype=object)
    wi = w.astype(object)
    for i in range(n):
        for y in range(oh):
            for z in range(ow):
                patch = xp[i, y:y + kh, z:z + kw]
                for oc in range(o):
                    out[i, y, z, oc] = int((patch * wi[oc]).sum())
    return out


def merge_v_exact(ma, mb, bias, a, b) -> np.ndarray:
    """v = Ma_c * a + Mb_c * b + B_c on centred values a, b (object arrays, channels last)."""
    ma, mb, bias = ([int(v) for v in arr] for arr in (ma, mb, bias))
    flat_a, flat_b = a.reshape(-1, len(ma)), b.reshape(-1, len(ma))
    v = [[ma[c] * int(ra[c]) + mb[c] * int(rb[c]) + bias[c] for c in range(len(ma))] for ra, rb in zip(flat_a, flat_b)]
    return np.array(v, dtype=object).reshape(a.shape)


def round_exact(v: np.ndarray, shift, zp: int) -> np.ndarray:
    s = [int(x) for x in shift]
    flat = v.reshape(-1, len(s))
    return np.array([[requant_exact(int(r[c]), s[c], zp) for c in range(len(s))] for r in flat]).reshape(v.shape)


def levels_exact(v: np.ndarray, stage: ThresholdStage) -> np.ndarray:
    d = [int(x) for x in stage.direction]
    t = [[int(x) for x in row] for row in stage.thresholds]
    flat = v.reshape(-1, len(d))
    lv = np.array([[sum(d[c] * int(r[c]) >= tk for tk in t[c]) for c in range(len(d))] for r in flat]).reshape(v.shape)
    return 2 * lv - 1 if stage.encoding == "sign" else lv


def merge_graph(spec: TensorSpec, pre: list, merge: Merge) -> Graph:
    """``pre`` ops (the branches), the Merge, Flatten for an (H, W, C) value, identity scores:
    the scores are the Merge's codes / ±1 / levels, in (H, W, C) order."""
    return codes_graph(spec, pre + [merge])


def near_limit(terms: int, h: int, margin: int = 0) -> int:
    """The largest |B| the graph allows next to ``terms`` = |Ma| max_a + |Mb| max_b, less ``margin``."""
    return INT64_MAX - terms - h - margin


# Two accumulator branches over (C,) codes: "small" channels (acc = the code itself, or a difference
# of two codes) for the x.5 cases at small shifts, "large" channels (rows of ±127) for big values.
MERGE_C = 16


def merge_branches(rng, c: int = MERGE_C):
    w1 = np.zeros((c, c), np.int8)
    w2 = np.zeros((c, c), np.int8)
    for ch in range(c):
        if ch < c // 2:
            w1[ch, ch] = 1
            w2[ch, (ch + 1) % c] = 1
            w2[ch, (ch + 3) % c] = -1
        else:
            w1[ch] = rng.choice(np.array([-127, 127], np.int8), size=c)
            w2[ch] = rng.integers(-128, 128, size=c)
    return w1, w2


def merge_inputs(rng, spec: TensorSpec, n: int = 24) -> np.ndarray:
    lo, hi = (0, 255) if spec.kind == "u8" else (-128, 127)
    x = rng.integers(lo, hi + 1, size=(n,) + spec.shape)
    x[0], x[1], x[2] = lo, hi, spec.zero_point
    x[3, ::2], x[3, 1::2] = lo, hi
    x[4, ::2], x[4, 1::2] = hi, lo
    return x.astype(spec.storage_dtype())


MERGE_SPECS = [TensorSpec("i8", (MERGE_C,), scale=0.1, zero_point=-5), TensorSpec("u8", (MERGE_C,), scale=0.1,
                                                                               zero_point=200),
               TensorSpec("i8", (MERGE_C,), scale=0.1, zero_point=127), TensorSpec("i8", (MERGE_C,), scale=0.1,
                                                                                 zero_point=-128)]
MERGE_PAIRS = [("input", "acc1"), ("acc1", "input"), ("acc1", "acc2"), ("input", "input")]


def merge_case(spec: TensorSpec, pair: tuple, rng):
    """(pre ops, centred values of the pair as object arrays on inputs x, specs) for a Merge of
    ``pair``: the input codes and / or the AccStage accumulators of two Dense."""
    w1, w2 = merge_branches(rng, spec.shape[0])
    c = spec.shape[0]
    pre = [Dense(w1, c, c, AccStage(), "int8", name="acc1", inputs=("input",)),
           Dense(w2, c, c, AccStage(), "int8", name="acc2", inputs=("input",))]
    specs = Graph(spec, pre).value_specs(complete=False)

    def centred(name, x):
        if name == "input":
            return x.astype(object) - int(spec.zero_point)
        return dense_acc_exact(w1 if name == "acc1" else w2, x)

    # a branch no op reads is dead: keep only the Dense the pair uses
    pre = [op for op in pre if op.name in pair]
    return pre, centred, specs


def round_channels(max_a: int, max_b: int) -> list:
    """(s, Ma, Mb, B) per channel: shift 0, 1, 2 (x.5 cases, saturation), 31, 40, 61, 62, and the
    extremes of int32 multipliers with biases at the int64 limit the graph allows. Channel 7's
    bias is set from the data (the x.5 case of shift 62 at 2^61 exactly)."""
    big, neg = 2**31 - 1, -(2**31)
    t = lambda ma, mb: abs(ma) * max_a + abs(mb) * max_b  # noqa: E731
    return [
        (0, 1, 1, 0), (0, 1, -1, 5), (1, 1, 1, 0), (1, -1, 1, 1), (2, 3, -1, 2),
        (0, big, big, near_limit(t(big, big), 0)), (0, neg, neg, -near_limit(t(neg, neg), 0)), (62, 1, 1, None),
        (62, -1, 1, -(2**61)), (62, big, neg, near_limit(t(big, neg), 2**61)),
        (62, neg, big, -near_limit(t(neg, big), 2**61)), (61, 7, -7, 5 * 2**59), (31, big, 1, 0),
        (40, 2**30, big, 2**39 + 7), (13, 12345, -678, -99), (62, big, big, 0),
    ]


ROUND_ZP = {-5: 0, 200: -128, 127: 126, -128: -3}  # the output zero point per input spec


@pytest.mark.parametrize("spec", MERGE_SPECS, ids=["i8-zp-5", "u8-zp200", "i8-zp127", "i8-zp-128"])
@pytest.mark.parametrize("pair", MERGE_PAIRS, ids=["codes+acc", "acc+codes", "acc+acc", "codes+codes"])
def test_merge_round_edges_by_hand(tmp_path, spec, pair):
    """Merge -> RoundStage with per-channel shifts 0..62, int32 multipliers at both ends, biases
    at the int64 limit the graph proves (|Ma| max_a + |Mb| max_b + |B| + 2^(s-1) = 2^63 - 1),
    x.5 cases and saturation; u8 / i8 codes with zero points and AccStage accumulators on either
    side: every runtime's codes equal the rule on Python integers."""
    rng = np.random.default_rng(MERGE_PAIRS.index(pair) * 7 + spec.zero_point + 300)
    pre, centred, specs = merge_case(spec, pair, rng)
    max_a, max_b = specs[pair[0]].max_centered, specs[pair[1]].max_centered
    x = merge_inputs(rng, spec)
    ca, cb = centred(pair[0], x), centred(pair[1], x)
    chans = round_channels(max_a, max_b)
    chans[7] = (62, 1, 1, 2**61 - int(ca[5, 7]) - int(cb[5, 7]))  # sample 5 exactly at 2^61: rounds up
    assert len(chans) == MERGE_C
    s, ma, mb, bias = (list(col) for col in zip(*chans))
    zp = ROUND_ZP[spec.zero_point]
    merge = Merge(np.array(ma, np.int32), np.array(mb, np.int32), np.array(bias, np.int64),
                  RoundStage(np.array(s, np.uint8), zp, 0.05), name="merge", inputs=pair)
    graph = merge_graph(spec, pre, merge)
    worst = [abs(a) * max_a + abs(b) * max_b + abs(c) + (1 << (sh - 1) if sh else 0) for sh, a, b, c in chans]
    assert max(worst) == INT64_MAX  # the int64 limit is reached exactly
    v = merge_v_exact(ma, mb, bias, ca, cb)
    want = round_exact(v, s, zp)
    assert {-128, 127} <= set(want.reshape(-1).tolist())
    assert int(v[5, 7]) == 2**61 and want[5, 7] == zp + 1 and min(want[:, 7]) == zp  # both sides of the x.5 case
    assert_all_equal(run_both(graph, x, tmp_path, delegates=("default", "reference")), want)
    np.testing.assert_array_equal(reference.run(graph, x), want)


def probe_thresholds(v: np.ndarray, direction: np.ndarray, levels: int, rng) -> np.ndarray:
    """Per channel, ``levels`` sorted int64 thresholds at d * v of some samples and one off
    (so some samples lie exactly on a threshold, some one below / above it)."""
    c = v.shape[-1]
    flat = v.reshape(-1, c)
    out = []
    for ch in range(c):
        dv = [int(direction[ch]) * int(val) for val in flat[:, ch]]
        picks = [dv[int(rng.integers(len(dv)))] + int(rng.choice([-1, 0, 0, 1])) for _ in range(levels)]
        out.append(sorted(max(INT64_MIN, min(INT64_MAX, p)) for p in picks))
    return np.array(out, dtype=np.int64)


def threshold_channels(max_a: int, max_b: int) -> list:
    """(Ma, Mb, B) per channel: v far beyond 2^53 (up to the int64 limit), both signs, unit
    steps in the codes / accumulators that float64 cannot see there."""
    big, neg = 2**31 - 1, -(2**31)
    t = lambda ma, mb: abs(ma) * max_a + abs(mb) * max_b  # noqa: E731
    return [(1, 1, 0), (1, -1, 3), (1, big, near_limit(t(1, big), 0)), (-1, neg, -near_limit(t(-1, neg), 0)),
            (big, 1, 2**62), (neg, -1, -(2**62) - 12345), (1, 1, 2**53 + 1), (-1, 1, -(2**53) - 1),
            (3, 5, 2**60 + 3), (-5, 3, -(2**61) + 1), (big, big, 0), (1, 1, near_limit(t(1, 1), 0)),
            (1, -1, -near_limit(t(1, -1), 0)), (7, 1, 2**58), (1, 7, -(2**57)), (neg, big, 1)]


@pytest.mark.parametrize("spec", MERGE_SPECS[:2], ids=["i8-zp-5", "u8-zp200"])
@pytest.mark.parametrize("pair", MERGE_PAIRS[:3], ids=["codes+acc", "acc+codes", "acc+acc"])
@pytest.mark.parametrize("encoding,levels", [("sign", 1), ("unsigned", 3), ("unsigned", 7)])
def test_merge_thresholds_beyond_float64(tmp_path, spec, pair, encoding, levels):
    """Merge -> ThresholdStage with int64 thresholds at the very values v takes (and one off), v up
    to 2^63 - 1, directions ±1, the INT64_MIN sentinel of a constant channel and an INT64_MAX
    threshold: levels equal the exact comparison on Python ints. A float64 comparison gets some of
    them wrong (asserted), so this test fails for an exporter that compares in float."""
    rng = np.random.default_rng(levels * 31 + MERGE_PAIRS.index(pair) * 7 + spec.zero_point + 300)
    pre, centred, specs = merge_case(spec, pair, rng)
    chans = threshold_channels(specs[pair[0]].max_centered, specs[pair[1]].max_centered)
    ma, mb, bias = (list(col) for col in zip(*chans))
    x = merge_inputs(rng, spec, 40)
    v = merge_v_exact(ma, mb, bias, centred(pair[0], x), centred(pair[1], x))
    assert max(abs(int(e)) for e in v.reshape(-1)) > 2**62
    direction = np.resize(np.array([1, -1, -1, 1, 1], np.int8), MERGE_C)
    t = probe_thresholds(v, direction, levels, rng)
    t[5] = INT64_MIN  # a constant channel (always level L)
    t[4, -1] = INT64_MAX  # d * v near 2^62 here: reached by no v of this channel
    stage = ThresholdStage(direction, t, encoding)
    merge = Merge(np.array(ma, np.int32), np.array(mb, np.int32), np.array(bias, np.int64), stage, name="merge",
                  inputs=pair)
    graph = merge_graph(spec, pre, merge)
    want = levels_exact(v, stage)
    vf = v.astype(np.float64)
    as_float = (direction.astype(np.float64) * vf)[..., None] >= t.astype(np.float64)[None]
    lv_float = as_float.sum(axis=-1)
    assert np.any((2 * lv_float - 1 if encoding == "sign" else lv_float) != want), "float64 would be exact here"
    assert len(np.unique(want)) > 1 and np.all(want[:, 5] == (1 if encoding == "sign" else levels))
    assert_all_equal(run_both(graph, x, tmp_path, delegates=("default", "reference")), want)
    np.testing.assert_array_equal(reference.run(graph, x), want)


@pytest.mark.parametrize("output", ["round", "sign", "unsigned"])
def test_merge_of_conv_accumulators_on_images(tmp_path, output):
    """(H, W, C) values: the codes of an i8 image (zero point -7) merged with the AccStage
    accumulators of a padded 3 x 3 int8 convolution, per-channel multipliers, biases and shifts
    (NCHW constants in ONNX, NHWC in LiteRT); the conv oracle is written out on Python ints."""
    rng = np.random.default_rng({"round": 1, "sign": 2, "unsigned": 3}[output])
    c = 5
    spec = TensorSpec("i8", (4, 6, c), scale=0.1, zero_point=-7)
    w = rng.integers(-128, 128, size=(c, 3, 3, c)).astype(np.int8)
    conv = Conv2d(w, c, c, (3, 3), (1, 1), (1, 1, 1, 1), AccStage(), "int8", name="acc")
    bound = Graph(spec, [conv]).value_specs(complete=False)["acc"].bound
    ma = np.array([1, -3, 2**31 - 1, 1000, -(2**31)], np.int32)
    mb = np.array([1, 7, -1, 2**31 - 1, 12], np.int32)
    bias = np.array([5, -(2**40), 2**62, -(2**60) - 3, 99], np.int64)
    x = rng.integers(-128, 128, size=(6,) + spec.shape).astype(np.int8)
    x[0], x[1] = -128, 127
    acc = conv_acc_exact(w, x, 1, -7)
    v = merge_v_exact(ma, mb, bias, x.astype(object) + 7, acc)
    if output == "round":
        shift = np.array([4, 20, 62, 50, 0], np.uint8)
        st = RoundStage(shift, 3, 0.1)
        want = round_exact(v, shift, 3)
    else:
        levels = 1 if output == "sign" else 4
        direction = np.array([1, -1, 1, -1, 1], np.int8)
        st = ThresholdStage(direction, probe_thresholds(v, direction, levels, rng), output)
        want = levels_exact(v, st)
    merge = Merge(ma, mb, bias, st, name="merge", inputs=("input", "acc"))
    graph = merge_graph(spec, [conv], merge)
    assert bound == 128 * int(np.abs(w.astype(np.int64)).reshape(c, -1).sum(axis=1).max())
    want = want.reshape(len(x), -1)
    assert len(np.unique(want)) > (1 if output == "sign" else 2)
    assert_all_equal(run_both(graph, x, tmp_path, packed=True), want)
    np.testing.assert_array_equal(reference.run(graph, x), want)


def test_merge_of_chunked_accumulators(tmp_path):
    """AccStage accumulators above 2^24 (u8 codes, 600 features, weights ±127: summed in chunks,
    added in int32; odd values above 2^24, which float32 cannot hold) merged with a second
    accumulator, at multipliers that make an error of one in either accumulator change a code
    (shift 0 around zero) or a level."""
    rng = np.random.default_rng(17)
    k, c = 600, 4
    spec = TensorSpec("u8", (k,), scale=1 / 255, zero_point=0)
    w1 = rng.choice(np.array([-127, 127], np.int8), size=(c, k))
    w1[:, :560] = 127  # all-255 inputs reach 255 * 127 * (560 + ...) > 2^24
    w2 = rng.integers(-128, 128, size=(c, k)).astype(np.int8)
    x = rng.integers(0, 256, size=(6, k)).astype(np.uint8)
    x[0] = 255
    x[0, 0] = 254  # odd sums
    x[1] = 0
    x[2, :560] = 255
    x[2, 560:] = 0
    a1, a2 = dense_acc_exact(w1, x), dense_acc_exact(w2, x)
    assert any(abs(int(v)) > FLOAT_EXACT_BOUND and int(v) % 2 for v in a1.reshape(-1))
    ma = np.array([1, -1, 3, 2**31 - 1], np.int32)
    mb = np.array([-1, 1, 2, -(2**31)], np.int32)
    # bias: centre channel c on sample c's value so the codes there sit at the x.5 / zero edges
    bias = np.array([-(int(ma[i]) * int(a1[i, i]) + int(mb[i]) * int(a2[i, i])) for i in range(c)], np.int64)
    pre = [Dense(w1, k, c, AccStage(), "int8", name="acc1", inputs=("input",)),
           Dense(w2, k, c, AccStage(), "int8", name="acc2", inputs=("input",))]
    v = merge_v_exact(ma, mb, bias, a1, a2)
    for st in (RoundStage(np.array([0, 0, 1, 62], np.uint8), 0, 0.1),
               ThresholdStage(np.array([1, -1, 1, -1], np.int8), np.array([[0], [0], [1], [-1]], np.int64), "sign")):
        graph = merge_graph(spec, pre, Merge(ma, mb, bias, st, name="merge", inputs=("acc1", "acc2")))
        want = round_exact(v, st.shift, 0) if isinstance(st, RoundStage) else levels_exact(v, st)
        for i in range(c):
            assert int(v[i, i]) == 0
        assert_all_equal(run_both(graph, x, tmp_path, delegates=("default", "reference")), want)
        np.testing.assert_array_equal(reference.run(graph, x), want)
    assert any(o.code == "ADD" and m.dtype(o.inputs[0]) == np.int32
               for m in [et._translate(graph, False)[0]] for o in m.ops)  # the chunks, added in int32


def test_merge_exporters_check_the_int64_bound_themselves():
    """The exporters prove |Ma| max_a + |Mb| max_b + |B| + 2^(s-1) <= 2^63 - 1 again before they
    emit a Merge (the graph proves it first, so this calls them on an accumulator spec whose
    bound is larger than any valid graph could carry), and refuse naming the op."""
    c = 2
    a = TensorSpec("i8", (c,), scale=0.1, zero_point=0)
    b = TensorSpec("i32", (c,), "acc", bound=2**33)
    merge = Merge(np.array([1, 1], np.int32), np.array([2**31 - 1, 1], np.int32), np.array([0, 0], np.int64),
                  RoundStage(np.array([0, 0], np.uint8), 0, 0.1), name="m")
    with pytest.raises(OnnxExportError, match="op 3 \\(Merge 'm'\\).*2\\*\\*63 - 1"):
        eo._merge(eo._Onnx(), merge, ["a", "b"], [a, b], False, "op 3 (Merge 'm')", "op3")
    with pytest.raises(TfliteExportError, match="op 3 \\(Merge 'm'\\).*2\\*\\*63 - 1"):
        et._merge(et._Model(), merge, [0, 1], [a, b], "op 3 (Merge 'm')", "op3")
    merge.multipliers_b = np.array([2**29, 1], np.int32)  # 128 + 2^62: fits, no error
    eo._merge(eo._Onnx(), merge, ["a", "b"], [a, b], False, "op 3 (Merge 'm')", "op3")


def test_merge_uses_integer_comparisons_only(tmp_path):
    """Merge's thresholds are int64 constants compared with int64 values in both files (no float
    or double comparison), and sizes count the Merge parameters; AccStage adds none."""
    rng = np.random.default_rng(4)
    spec = MERGE_SPECS[0]
    pre, centred, specs = merge_case(spec, ("acc1", "acc2"), rng)
    st = ThresholdStage(np.ones(MERGE_C, np.int8), np.zeros((MERGE_C, 2), np.int64), "unsigned")
    merge = Merge(np.ones(MERGE_C, np.int32), np.ones(MERGE_C, np.int32), np.zeros(MERGE_C, np.int64), st,
                  name="merge", inputs=("acc1", "acc2"))
    graph = merge_graph(spec, pre, merge)
    info = export_onnx(graph, tmp_path / "m.onnx")
    model = load_onnx_checked(tmp_path / "m.onnx")
    inits = {i.name: i for i in model.graph.initializer}
    cmp_consts = [inits[n.input[1]] for n in model.graph.node if n.op_type == "GreaterOrEqual" and n.input[1] in inits]
    assert cmp_consts and all(t.data_type == 7 for t in cmp_consts if t.dims and t.dims[0] == MERGE_C)  # INT64
    assert not any(i.data_type == 11 for i in model.graph.initializer)  # no DOUBLE anywhere
    m = et._translate(graph, False)[0]
    ge = [o for o in m.ops if o.code == "GREATER_EQUAL"]
    assert ge and all(m.dtype(o.inputs[0]) == np.int64 and m.dtype(o.inputs[1]) == np.int64 for o in ge[:2])
    stage_bytes = merge.multipliers_a.nbytes * 2 + merge.bias.nbytes + st.thresholds.nbytes + st.direction.nbytes
    id_bytes = graph.ops[-1].output.multiplier.nbytes * 2
    assert info["threshold_bytes"] == stage_bytes + id_bytes
    assert export_tflite(graph, tmp_path / "m.tflite")["threshold_bytes"] == stage_bytes + id_bytes
