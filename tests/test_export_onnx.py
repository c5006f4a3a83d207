"""ONNX export: onnxruntime scores equal binedge.reference.run exactly; file checks, sizes, errors."""

from __future__ import annotations

import json
import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import binedge
from binedge import bitformat as bf
from binedge import reference
from binedge.export_onnx import (OnnxExportError, OnnxModelError, build_onnx_model, export_onnx,
                                 load_onnx_checked)
from binedge.graph import (FORMAT_ID, Conv2d, Dense, Flatten, Graph, GraphError, ScoreStage, TensorSpec,
                           ThresholdStage)
from graphs import random_graph, random_images, unprovable_graphs


def session(path, optimize: bool = True) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.log_severity_level = 3
    if not optimize:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(os.fspath(path), so, providers=["CPUExecutionProvider"])


def ort_scores(sess: ort.InferenceSession, images: np.ndarray) -> np.ndarray:
    return sess.run(["scores"], {"images": images})[0]


def assert_exact(graph: Graph, path, images: np.ndarray, optimize: bool = True) -> None:
    got = ort_scores(session(path, optimize), images)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, reference.run(graph, images))


@pytest.mark.parametrize("kind", ["conv", "mlp", "all"])
def test_random_graphs_exact_in_onnxruntime(tmp_path, kind):
    for seed in range(12):
        rng = np.random.default_rng(1000 * seed + len(kind))
        graph = random_graph(rng, kind)
        path = tmp_path / f"{kind}{seed}.onnx"
        info = export_onnx(graph, path)
        assert info["file_bytes"] == os.path.getsize(path)
        sess = session(path)
        for n in (1, 7):  # dynamic batch from the same file
            images = random_images(rng, graph, n)
            got = ort_scores(sess, images)
            assert got.dtype == np.int32 and got.shape == (n, graph.output.shape[0])
            np.testing.assert_array_equal(got, reference.run(graph, images), err_msg=f"{kind} seed {seed} n {n}")


def test_exact_without_graph_optimizations(tmp_path):
    rng = np.random.default_rng(5)
    graph = random_graph(rng, "all")
    export_onnx(graph, tmp_path / "m.onnx")
    assert_exact(graph, tmp_path / "m.onnx", random_images(rng, graph, 5), optimize=False)


def test_checker_io_and_metadata(tmp_path):
    graph = random_graph(np.random.default_rng(3), "all")
    graph.metadata = {"dataset": "fashion-mnist", "epochs": 3, "cfg": {"lr": 0.1}}
    export_onnx(graph, tmp_path / "m.onnx", model_name="tiny")
    model = load_onnx_checked(tmp_path / "m.onnx")
    onnx.checker.check_model(model, full_check=True)
    assert model.graph.name == "tiny"
    assert all(o.version >= 18 for o in model.opset_import if o.domain in ("", "ai.onnx"))
    assert {o.domain for o in model.opset_import} <= {"", "ai.onnx"}  # standard ops only
    props = {p.key: p.value for p in model.metadata_props}
    assert props["binedge_version"] == binedge.__version__
    assert props["bit_format"] == FORMAT_ID
    assert json.loads(props["class_names"]) == graph.class_names
    assert props["score_shift"] == str(graph.ops[-1].output.shift)
    assert props["dataset"] == "fashion-mnist" and json.loads(props["epochs"]) == 3
    assert json.loads(props["cfg"]) == {"lr": 0.1}
    (inp,), (out,) = model.graph.input, model.graph.output
    assert inp.name == "images" and inp.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    dims = inp.type.tensor_type.shape.dim
    assert dims[0].dim_param and [d.dim_value for d in dims[1:]] == list(graph.input.shape)
    assert out.name == "scores" and out.type.tensor_type.elem_type == onnx.TensorProto.INT32
    # binary weights stay packed: no float initializer bigger than a scalar-ish constant
    for init in model.graph.initializer:
        if init.data_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE):
            assert np.prod(init.dims, dtype=np.int64) <= 8, init.name


def test_flat_input_and_single_channel_image(tmp_path):
    rng = np.random.default_rng(9)
    for kind in ("mlp", "conv"):
        for _ in range(5):
            graph = random_graph(rng, kind)
            export_onnx(graph, tmp_path / "m.onnx")
            assert_exact(graph, tmp_path / "m.onnx", random_images(rng, graph, 3))


def test_size_bound_large_dense(tmp_path):
    rng = np.random.default_rng(0)
    n = 1024

    def sign_stage(c):
        return ThresholdStage(rng.choice(np.array([-1, 1], np.int8), size=c),
                              rng.integers(-40, 41, size=(c, 1)).astype(np.int32), "sign")

    w = lambda o, k: bf.pack_sign(rng.choice([-1, 1], size=(o, k)))  # noqa: E731
    graph = Graph(TensorSpec("u8", (n,)), [
        Dense(rng.integers(-128, 128, size=(n, n)).astype(np.int8), n, n,
              ThresholdStage(np.ones(n, np.int8), rng.integers(-5000, 5000, size=(n, 1)).astype(np.int32), "sign"),
              "int8"),
        Dense(w(n, n), n, n, sign_stage(n)),
        Dense(w(n, n), n, n, ThresholdStage(np.ones(n, np.int8),
                                            np.sort(rng.integers(-40, 41, size=(n, 3)), 1).astype(np.int32),
                                            "unsigned")),
        Dense(w(10, n), n, 10, ScoreStage(np.full(10, 3, np.int32), np.arange(10, dtype=np.int32))),
    ])
    info = export_onnx(graph, tmp_path / "big.onnx")
    packed = n * n + 2 * n * n // 8 + 10 * n // 8
    assert info["packed_weight_bytes"] == packed
    assert info["threshold_bytes"] == n * 5 + n * 5 + n * 13 + 80
    assert info["file_bytes"] == os.path.getsize(tmp_path / "big.onnx")
    assert info["file_bytes"] <= 1.10 * (info["packed_weight_bytes"] + info["threshold_bytes"]) + 16 * 1024, info
    assert_exact(graph, tmp_path / "big.onnx", rng.integers(0, 256, size=(4, n)).astype(np.uint8))


def test_accumulators_beyond_float32_are_chunked(tmp_path):
    """|acc| can exceed 2**24: the exporter must still be exact (chunks summed in int32)."""
    k = 1000
    w = np.full((3, k), 127, np.int8)
    w[1] = -128
    w[2, ::2] = -128
    graph = Graph(TensorSpec("u8", (k,)), [Dense(w, k, 3, ScoreStage(np.ones(3, np.int32), np.zeros(3, np.int32)),
                                                 "int8")])
    images = np.full((3, k), 255, np.uint8)
    images[1, 0] = 254  # odd accumulators above 2**24: not representable in float32
    images[2] = np.random.default_rng(0).integers(0, 256, size=k)
    assert np.abs(reference.run(graph, images)).max() > 2**24
    export_onnx(graph, tmp_path / "m.onnx")
    assert_exact(graph, tmp_path / "m.onnx", images)

    c = 40  # a conv whose bound is above 2**24 (5 * 5 * 40 * 255 * 128)
    wc = np.full((2, 5, 5, c), 127, np.int8)
    wc[1] = -128
    # thresholds exactly at odd accumulators (ties) that float32 would round: 255*127*1000 - 127, ...
    stage = ThresholdStage(np.array([1, -1], np.int8), np.array([[32_384_873], [32_639_873]], np.int32), "sign")
    graph = Graph(TensorSpec("u8", (5, 5, c)), [
        Conv2d(wc, c, 2, (5, 5), (1, 1), (0, 0, 0, 0), stage, "int8"), Flatten(),
        Dense(bf.pack_sign(np.ones((1, 2))), 2, 1, ScoreStage(np.array([1], np.int32), np.array([0], np.int32)))])
    images = np.full((4, 5, 5, c), 255, np.uint8)
    images[1, 0, 0, 0] = 254
    images[2, 0, 0, :2] = 254
    images[3] = 0
    export_onnx(graph, tmp_path / "c.onnx")
    assert_exact(graph, tmp_path / "c.onnx", images)
    np.testing.assert_array_equal(reference.run(graph, images)[:, 0], [2, 0, -2, -2])


def test_unexportable_accumulator_raises(tmp_path):
    wc = np.full((1, 23, 23, 1), 127, np.int8)  # one input channel alone: 529 * 255 * 128 > 2**24
    stage = ThresholdStage(np.ones(1, np.int8), np.zeros((1, 1), np.int32), "sign")
    graph = Graph(TensorSpec("u8", (23, 23, 1)), [
        Conv2d(wc, 1, 1, (23, 23), (1, 1), (0, 0, 0, 0), stage, "int8"), Flatten(),
        Dense(bf.pack_sign(np.ones((1, 1))), 1, 1, ScoreStage.identity(1))])
    with pytest.raises(OnnxExportError, match="2\\*\\*24"):
        export_onnx(graph, tmp_path / "m.onnx")
    assert not os.path.exists(tmp_path / "m.onnx")


def test_options_validated_early(tmp_path):
    graph = random_graph(np.random.default_rng(1), "mlp")
    for bad in (17, "18", 18.0, True, 10**6):
        with pytest.raises(OnnxExportError, match="opset"):
            export_onnx(graph, tmp_path / "m.onnx", opset=bad)
    with pytest.raises(OnnxExportError, match="model_name"):
        export_onnx(graph, tmp_path / "m.onnx", model_name="")
    with pytest.raises(TypeError):
        export_onnx(graph, tmp_path / "m.onnx", 18)  # keyword-only
    with pytest.raises(OnnxExportError, match="does not exist"):
        export_onnx(graph, tmp_path / "nope" / "m.onnx")
    graph.metadata = {"bit_format": "mine"}
    with pytest.raises(OnnxExportError, match="reserved"):
        export_onnx(graph, tmp_path / "m.onnx")
    graph.metadata = {}
    graph.class_names = ["just one"]
    with pytest.raises(ValueError, match="class names"):  # GraphError, raised by validation
        export_onnx(graph, tmp_path / "m.onnx")
    with pytest.raises(TypeError):
        export_onnx("not a graph", tmp_path / "m.onnx")
    graph.ops[-1].output = ScoreStage(np.ones(2, np.int32), np.zeros(2, np.int32))  # wrong class count
    with pytest.raises(GraphError):
        build_onnx_model(graph)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("name", list(unprovable_graphs()))
def test_graphs_whose_exactness_is_not_proved_are_refused(tmp_path, name):
    """Regression (hardening issue): an int8 last layer whose scores may leave int32 (onnxruntime
    returned wrapped scores) and zero-size layers ([0, 0] scores, shape errors) were exported. The
    graph's validation refuses them before anything is written."""
    make, match = unprovable_graphs()[name]
    with pytest.raises(GraphError, match=match):
        export_onnx(make(), tmp_path / "m.onnx")
    assert os.listdir(tmp_path) == []


def test_other_opset_and_atomic_overwrite(tmp_path):
    rng = np.random.default_rng(2)
    g1, g2 = random_graph(rng, "all"), random_graph(rng, "conv")
    path = tmp_path / "m.onnx"
    export_onnx(g1, path)
    export_onnx(g2, path, opset=19)  # replaces the file in one step
    assert os.listdir(tmp_path) == ["m.onnx"]  # no temp file left behind
    assert_exact(g2, path, random_images(rng, g2, 3))
    from binedge.fileio import current_umask

    assert path.stat().st_mode & 0o777 == 0o666 & ~current_umask()  # the usual mode (mkstemp's is 0600)


def test_missing_corrupt_truncated_files(tmp_path):
    graph = random_graph(np.random.default_rng(4), "all")
    good = tmp_path / "good.onnx"
    export_onnx(graph, good)
    data = good.read_bytes()
    with pytest.raises(OnnxModelError, match="missing.onnx"):
        load_onnx_checked(tmp_path / "missing.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"")
    with pytest.raises(OnnxModelError, match="bad.onnx"):
        load_onnx_checked(bad)
    bad.write_bytes(b"this is not an onnx file at all \x00\xff\x13" * 10)
    with pytest.raises(OnnxModelError, match="bad.onnx"):
        load_onnx_checked(bad)
    cuts = sorted(set(range(1, len(data), max(1, len(data) // 40))) | set(range(len(data) - 120, len(data))))
    for cut in cuts:
        bad.write_bytes(data[:cut])
        with pytest.raises(OnnxModelError, match="bad.onnx"):
            load_onnx_checked(bad)
    # a model without binedge metadata loads only when asked not to require it
    model = onnx.load_model_from_string(data)
    del model.metadata_props[:]
    bad.write_bytes(model.SerializeToString())
    with pytest.raises(OnnxModelError, match="metadata"):
        load_onnx_checked(bad)
    load_onnx_checked(bad, require_binedge=False)
