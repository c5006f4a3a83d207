"""ONNX export with plain float32 weights (export_onnx(..., packed=False)): the ±1 / int8 weights
are float32 initializers, as other exporters write binarized networks; onnxruntime's scores still
equal binedge.reference.run exactly (the float ONNX is the baseline of benchmarks/bench_host.py)."""

from __future__ import annotations

import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from graphs import random_graph, random_images
from onnx import numpy_helper

from binedge import bitformat as bf
from binedge import reference
from binedge.export_onnx import OnnxExportError, build_onnx_model, export_onnx, load_onnx_checked
from binedge.graph import Conv2d, Dense, Flatten, Graph, ScoreStage, TensorSpec, ThresholdStage

UNPACK_OPS = {"BitShift", "BitwiseAnd"}


def scores(path, images: np.ndarray) -> np.ndarray:
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(os.fspath(path), so, providers=["CPUExecutionProvider"])
    return sess.run(["scores"], {"images": images})[0]


def weight_inits(model: onnx.ModelProto) -> list[np.ndarray]:
    return [numpy_helper.to_array(t) for t in model.graph.initializer if "_w_" in t.name]


@pytest.mark.parametrize("kind", ["conv", "mlp", "all"])
def test_float_onnx_exact(tmp_path, kind):
    for seed in range(10):
        rng = np.random.default_rng(500 + 31 * seed + len(kind))
        graph = random_graph(rng, kind, channels=(1, 3, 31, 32, 33, 65))
        path = tmp_path / f"{kind}{seed}.onnx"
        export_onnx(graph, path, packed=False)
        model = load_onnx_checked(path)
        assert not UNPACK_OPS & {n.op_type for n in model.graph.node}
        ws = weight_inits(model)
        assert ws and all(w.dtype == np.float32 for w in ws)
        images = random_images(rng, graph, 6)
        images[0] = 0
        images[1] = 255
        got = scores(path, images)
        assert got.dtype == np.int32
        np.testing.assert_array_equal(got, reference.run(graph, images), err_msg=f"{kind} seed {seed}")


def test_float_weights_are_the_unpacked_weights(tmp_path):
    """Binary weights appear as ±1 float32 in the operator layout; same scores as the packed file."""
    rng = np.random.default_rng(3)
    graph = random_graph(rng, "all")
    packed = build_onnx_model(graph)
    plain = build_onnx_model(graph, packed=False)
    binary_ops = [op for op in graph.ops if isinstance(op, (Conv2d, Dense)) and op.weight_kind == "binary"]
    ws = [w for w in weight_inits(plain) if w.size and set(np.unique(w)) <= {-1.0, 1.0}]
    assert len(ws) >= len(binary_ops)
    for op in binary_ops:
        if isinstance(op, Conv2d):
            want = bf.unpack_sign(op.weights, op.in_channels).transpose(0, 3, 1, 2)  # (O, C, KH, KW)
        else:
            want = bf.unpack_sign(op.weights, op.in_features).T  # MatMul (K, O)
        assert any(w.shape == want.shape and np.array_equal(w, want) for w in ws)
    assert plain.ByteSize() > packed.ByteSize()
    export_onnx(graph, tmp_path / "p.onnx")
    export_onnx(graph, tmp_path / "f.onnx", packed=False)
    images = random_images(rng, graph, 8)
    np.testing.assert_array_equal(scores(tmp_path / "f.onnx", images), scores(tmp_path / "p.onnx", images))


def test_float_onnx_chunked_accumulators(tmp_path):
    """|acc| above 2**24 (u8 x int8): the float export splits the weights into per-chunk
    initializers and still sums exactly in int32."""
    k = 1000
    w = np.full((3, k), 127, np.int8)
    w[1] = -128
    w[2, ::2] = -128
    graph = Graph(TensorSpec("u8", (k,)), [Dense(w, k, 3, ScoreStage(np.ones(3, np.int32), np.zeros(3, np.int32)),
                                                 "int8")])
    images = np.full((3, k), 255, np.uint8)
    images[1, 0] = 254
    images[2] = np.random.default_rng(0).integers(0, 256, size=k)
    assert np.abs(reference.run(graph, images)).max() > 2**24
    export_onnx(graph, tmp_path / "m.onnx", packed=False)
    assert len(weight_inits(load_onnx_checked(tmp_path / "m.onnx"))) > 1  # one initializer per chunk
    np.testing.assert_array_equal(scores(tmp_path / "m.onnx", images), reference.run(graph, images))

    c = 40
    wc = np.full((2, 5, 5, c), 127, np.int8)
    wc[1] = -128
    stage = ThresholdStage(np.array([1, -1], np.int8), np.array([[32_384_873], [32_639_873]], np.int32), "sign")
    graph = Graph(TensorSpec("u8", (5, 5, c)), [
        Conv2d(wc, c, 2, (5, 5), (1, 1), (0, 0, 0, 0), stage, "int8"), Flatten(),
        Dense(bf.pack_sign(np.ones((1, 2))), 2, 1, ScoreStage(np.array([1], np.int32), np.array([0], np.int32)))])
    images = np.full((4, 5, 5, c), 255, np.uint8)
    images[1, 0, 0, 0] = 254
    images[2, 0, 0, :2] = 254
    images[3] = 0
    export_onnx(graph, tmp_path / "c.onnx", packed=False)
    np.testing.assert_array_equal(scores(tmp_path / "c.onnx", images), reference.run(graph, images))


def test_packed_option_validated(tmp_path):
    graph = random_graph(np.random.default_rng(1), "mlp")
    with pytest.raises(OnnxExportError, match="packed"):
        export_onnx(graph, tmp_path / "m.onnx", packed="no")
    with pytest.raises(OnnxExportError, match="packed"):
        build_onnx_model(graph, packed=None)
    assert not (tmp_path / "m.onnx").exists()
