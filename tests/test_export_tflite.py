"""LiteRT (.tflite) export: scores in the LiteRT interpreter equal binedge.reference.run exactly."""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path

import click
import numpy as np
import pytest
from click.testing import CliRunner

import binedge
from binedge import bitformat as bf
from binedge import export_tflite as et
from binedge import reference
from binedge.blob import read_blob
from binedge.export_tflite import (TfliteExportError, TfliteModelError, build_tflite, export_tflite,
                                   load_tflite_checked, make_interpreter, run_tflite)
from binedge.graph import FORMAT_ID, Conv2d, Dense, Flatten, Graph, GraphError, ScoreStage, TensorSpec
from graphs import random_graph, random_images, score_stage, threshold_stage, unprovable_graphs

DATA = Path(__file__).parent / "data"
BLOBS = sorted(DATA.glob("fmnist-*.bnm"))


def _schema(name):
    return importlib.import_module(f"tflite.{name}")


def parsed(path):
    """(tflite.Model, builtin operator names per operator, {code name: count})."""
    model = _schema("Model").Model.GetRootAs(Path(path).read_bytes(), 0)
    names = {v: k for k, v in vars(_schema("BuiltinOperator").BuiltinOperator).items() if not k.startswith("_")}
    sg = model.Subgraphs(0)
    ops = [names[model.OperatorCodes(sg.Operators(i).OpcodeIndex()).BuiltinCode()] for i in range(sg.OperatorsLength())]
    return model, ops


def assert_exact(graph, path, images, delegates="default"):
    got = run_tflite(path, images, delegates=delegates)
    assert got.dtype == np.int32 and got.shape == (len(images), graph.output.shape[0])
    np.testing.assert_array_equal(got, reference.run(graph, images))


# ----------------------------------------------------------------------------- exactness


@pytest.mark.parametrize("kind", ["conv", "mlp", "all"])
def test_random_graphs_exact_in_litert(tmp_path, kind):
    for seed in range(8):
        rng = np.random.default_rng(1000 * seed + len(kind))
        graph = random_graph(rng, kind)
        path = tmp_path / f"{kind}{seed}.tflite"
        info = export_tflite(graph, path, packed=bool(seed % 2))  # bit-packed weights on odd seeds
        assert info["file_bytes"] == os.path.getsize(path)
        for n in (1, 7):  # dynamic batch from the same file
            assert_exact(graph, path, random_images(rng, graph, n))


@pytest.mark.parametrize("delegates", ["none", "reference"])
def test_exact_without_xnnpack_and_with_reference_kernels(tmp_path, delegates):
    for seed in range(3):
        rng = np.random.default_rng(70 + seed)
        graph = random_graph(rng, "all")
        export_tflite(graph, tmp_path / "m.tflite", packed=seed == 1)
        assert_exact(graph, tmp_path / "m.tflite", random_images(rng, graph, 5), delegates=delegates)


def test_every_op_of_the_graph_is_covered(tmp_path):
    """The kind="all" graphs hold every deployment op and stage; their LiteRT files use the mapped ops."""
    seen_ops, seen_tfl = set(), set()
    for seed in range(6):
        rng = np.random.default_rng(500 + seed)
        graph = random_graph(rng, "all")
        for op in graph.ops:
            seen_ops.add(type(op).__name__)
            if isinstance(op, (Conv2d, Dense)):
                seen_ops.add(f"{op.weight_kind}:{getattr(op.output, 'encoding', 'scores')}:"
                             f"{'L>1' if getattr(op.output, 'levels', 1) > 1 else 'L=1'}")
        export_tflite(graph, tmp_path / "m.tflite", packed=seed >= 3)
        assert_exact(graph, tmp_path / "m.tflite", random_images(rng, graph, 6))
        seen_tfl |= set(parsed(tmp_path / "m.tflite")[1])
    assert {"Conv2d", "Dense", "MaxPool2d", "Flatten"} <= seen_ops
    assert {"int8:sign:L=1", "binary:unsigned:L>1", "binary:scores:L=1"} <= seen_ops
    assert {"CAST", "DEQUANTIZE", "CONV_2D", "FULLY_CONNECTED", "MAX_POOL_2D", "RESHAPE", "PAD", "PADV2",
            "GREATER_EQUAL", "SELECT_V2", "MUL", "ADD", "GATHER"} <= seen_tfl
    # only builtin operators, no custom ones
    model, _ = parsed(tmp_path / "m.tflite")
    assert all(model.OperatorCodes(i).CustomCode() is None for i in range(model.OperatorCodesLength()))


def test_chunked_accumulators_exact(tmp_path, monkeypatch):
    """Layers whose |acc| bound exceeds float32's exact range are split along input channels."""
    real = et.exact_chunks

    def tight(cost, where, **kw):  # a bound that splits every layer with 2+ input channels
        kw["bound"] = max(int(cost.max()), int(cost.sum(axis=1).max()) // 3)
        parts = real(cost, where, **kw)
        assert cost.shape[1] < 2 or len(parts) >= 2
        return parts

    monkeypatch.setattr(et, "exact_chunks", tight)
    for seed, kind in enumerate(["conv", "mlp", "all", "all"]):
        rng = np.random.default_rng(900 + seed)
        graph = random_graph(rng, kind)
        export_tflite(graph, tmp_path / "m.tflite", packed=seed % 2 == 1)
        assert "SLICE" in parsed(tmp_path / "m.tflite")[1]
        assert_exact(graph, tmp_path / "m.tflite", random_images(rng, graph, 5))


def _dense_graph(w: np.ndarray, stage, in_shape=None, weight_kind="int8") -> Graph:
    o, k = w.shape[0], (w.shape[1] if weight_kind == "int8" else in_shape[0])
    return Graph(TensorSpec("u8", in_shape or (k,)), [Dense(w, k, o, stage, weight_kind)])


def test_int8_dense_on_pixels_beyond_float32_range(tmp_path):
    """784 pixels x int8 weights: |acc| up to 784*255*128 > 2**24, so the real bound splits it."""
    rng = np.random.default_rng(3)
    w = np.full((4, 784), -128, np.int8)
    w[1:] = rng.integers(-128, 128, size=(3, 784)).astype(np.int8)
    graph = _dense_graph(w, score_stage(rng, 4, 784 * 255 * 128))
    export_tflite(graph, tmp_path / "m.tflite")
    ops = parsed(tmp_path / "m.tflite")[1]
    assert ops.count("FULLY_CONNECTED") == 2 and "SLICE" in ops
    x = random_images(rng, graph, 6)
    x[0] = 255  # |acc| = 784 * 255 * 128 = 25.6M on output 0: inexact in a single float32 sum
    assert_exact(graph, tmp_path / "m.tflite", x)


def test_scores_that_may_leave_int32_are_refused(tmp_path):
    """A multiplier whose bound overflows int32 (even if the scores of some inputs fit): the graph's
    validation refuses it before anything is written (it was once exported in int64)."""
    rng = np.random.default_rng(4)
    k = 64
    w = bf.pack_sign(rng.choice(np.array([-1, 1]), size=(3, k)))
    stage = ScoreStage(np.array([1 << 26, -(1 << 25), 3], np.int32), np.array([5, -7, 1 << 30], np.int32))
    graph = Graph(TensorSpec("u8", (k,)), [Dense(w, k, 3, stage, "binary")])
    with pytest.raises(GraphError, match="score 0 may reach"):
        export_tflite(graph, tmp_path / "m.tflite")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("name", list(unprovable_graphs()))
def test_graphs_whose_exactness_is_not_proved_are_refused(tmp_path, name):
    """Regression (hardening issue): an int8 last layer whose scores may leave int32 (LiteRT
    returned wrapped scores) and zero-size layers (ZeroDivisionError, [0, 0] scores) were
    exported. The graph's validation refuses them before anything is written."""
    make, match = unprovable_graphs()[name]
    with pytest.raises(GraphError, match=match):
        export_tflite(make(), tmp_path / "m.tflite")
    assert os.listdir(tmp_path) == []


def test_layers_that_cannot_be_exact_are_refused(tmp_path):
    big = Graph(TensorSpec("u8", (23, 23, 1)),
                [Conv2d(np.full((1, 23, 23, 1), -128, np.int8), 1, 1, (23, 23), (1, 1), (0, 0, 0, 0),
                        threshold_stage(np.random.default_rng(0), 1, 1.0), "int8"), Flatten(),
                 Dense(bf.pack_sign(np.ones((2, 1))), 1, 2, ScoreStage.identity(2))])
    with pytest.raises(TfliteExportError, match="one input channel"):
        export_tflite(big, tmp_path / "m.tflite")
    k = 70000  # K * 255 * 127 > 2**31 - 1: the graph itself is refused
    huge = _dense_graph(np.full((1, k), 127, np.int8), ScoreStage.identity(1))
    with pytest.raises(GraphError, match="accumulator may reach"):
        export_tflite(huge, tmp_path / "m.tflite")
    assert not (tmp_path / "m.tflite").exists() and not list(tmp_path.iterdir())  # nothing written


# ----------------------------------------------------------------------------- trained models


@pytest.fixture(scope="module")
def test_set():
    from binedge.data import load_dataset

    return np.ascontiguousarray(load_dataset().test.images[..., None])


REFERENCE_SAMPLES = 500


@pytest.mark.parametrize("blob", BLOBS, ids=[b.stem for b in BLOBS])
def test_trained_blobs_exact_on_whole_test_set(blob, test_set, tmp_path):
    """LiteRT == the reference on the first 500 test images, and == onnxruntime on all 10 000
    (tests/test_trained_models.py holds onnxruntime == the reference on all 10 000; running the
    numpy reference here again would take most of this file's time budget)."""
    from binedge.export_onnx import export_onnx, run_onnx

    graph = read_blob(blob)
    info = export_tflite(graph, tmp_path / "m.tflite")
    lite = run_tflite(tmp_path / "m.tflite", test_set)
    assert lite.shape == (10000, 10)
    np.testing.assert_array_equal(lite[:REFERENCE_SAMPLES], reference.run(graph, test_set[:REFERENCE_SAMPLES]))
    export_onnx(graph, tmp_path / "m.onnx")
    np.testing.assert_array_equal(lite, run_onnx(tmp_path / "m.onnx", test_set))
    # the file: one int8 per weight plus a few KiB of graph; bit-packed: about 1 bit per weight
    assert info["file_bytes"] < info["weight_bytes"] + info["threshold_bytes"] + 24 * 1024
    packed = export_tflite(graph, tmp_path / "p.tflite", packed=True)
    assert packed["file_bytes"] < info["file_bytes"]
    assert packed["file_bytes"] < os.path.getsize(blob) + 24 * 1024
    np.testing.assert_array_equal(run_tflite(tmp_path / "p.tflite", test_set[:500]), lite[:500])


# ----------------------------------------------------------------------------- file format and checks


def test_file_structure_metadata_and_signature(tmp_path):
    rng = np.random.default_rng(11)
    graph = random_graph(rng, "all")
    graph.metadata = {"dataset": "fashion-mnist", "epochs": 3}
    export_tflite(graph, tmp_path / "m.tflite", model_name="tiny")
    data = (tmp_path / "m.tflite").read_bytes()
    assert data[4:8] == b"TFL3"
    model, _ = parsed(tmp_path / "m.tflite")
    assert model.Version() == 3
    assert model.Buffers(0).DataLength() == 0  # the empty sentinel
    sg = model.Subgraphs(0)
    assert sg.Name().decode() == "tiny"
    tensors = [sg.Tensors(i) for i in range(sg.TensorsLength())]
    (inp,), (out,) = [tensors[sg.Inputs(0)]], [tensors[sg.Outputs(0)]]
    tt = _schema("TensorType").TensorType
    assert inp.Name().decode() == "images" and inp.Type() == tt.UINT8
    assert list(inp.ShapeSignatureAsNumpy()) == [-1, *graph.input.shape]
    assert out.Name().decode() == "scores" and out.Type() == tt.INT32
    # weights: int8 tensors holding ±1 for binary layers; FULLY_CONNECTED weights [out, in]
    dense = graph.ops[-1]
    fc = [t for t in tensors if t.Type() == tt.INT8 and list(t.ShapeAsNumpy()) == [dense.out_features,
                                                                                  dense.in_features]]
    assert fc, "the scoring layer's int8 [out, in] weights"
    w = model.Buffers(fc[-1].Buffer()).DataAsNumpy().view(np.int8).reshape(dense.out_features, dense.in_features)
    np.testing.assert_array_equal(w, bf.unpack_sign(dense.weights, dense.in_features))

    checked = load_tflite_checked(tmp_path / "m.tflite")
    assert checked.content == data and checked.input_shape == graph.input.shape
    meta = checked.metadata
    assert meta["bit_format"] == FORMAT_ID and meta["binedge_version"] == binedge.__version__
    assert meta["class_names"] == graph.class_names and meta["score_shift"] == graph.ops[-1].output.shift
    assert meta["graph_metadata"] == {"dataset": "fashion-mnist", "epochs": 3}

    interp = make_interpreter(data)
    runner = interp.get_signature_runner("serving_default")
    x = random_images(rng, graph, 3)
    np.testing.assert_array_equal(runner(images=x)["scores"], reference.run(graph, x))


def test_deterministic_bytes(tmp_path):
    graph = random_graph(np.random.default_rng(12), "conv")
    assert build_tflite(graph) == build_tflite(graph)


@pytest.fixture
def model_file(tmp_path):
    graph = random_graph(np.random.default_rng(13), "all")
    path = tmp_path / "m.tflite"
    export_tflite(graph, path)
    return graph, path


def test_missing_empty_truncated_and_corrupt_files(model_file, tmp_path):
    graph, path = model_file
    data = path.read_bytes()
    x = random_images(np.random.default_rng(0), graph, 2)
    cases = {"missing.tflite": None, "empty.tflite": b"", "short.tflite": data[:6],
             "header.tflite": data[:4] + b"XXXX" + data[8:]}
    for cut in (16, 200, len(data) // 2, len(data) - 64, len(data) - 1):
        cases[f"cut{cut}.tflite"] = data[:cut]
    for at in (len(data) // 3, len(data) // 2, 2 * len(data) // 3, len(data) - 40):
        bad = bytearray(data)
        bad[at] ^= 0x5A
        cases[f"flip{at}.tflite"] = bytes(bad)
    for name, payload in cases.items():
        p = tmp_path / name
        if payload is not None:
            p.write_bytes(payload)
        with pytest.raises(TfliteModelError, match=name) as e:
            load_tflite_checked(p)
        assert isinstance(e.value, ValueError)
        with pytest.raises(TfliteModelError, match=name):
            run_tflite(p, x)
    np.testing.assert_array_equal(run_tflite(path, x), reference.run(graph, x))  # the original still works


def test_foreign_tflite_needs_require_binedge_false(model_file, tmp_path):
    graph, _ = model_file
    m, x_in, out = et._translate(graph, False)
    plain = et._serialize(m, x_in, out, {}, "no binedge metadata", "plain")
    (tmp_path / "plain.tflite").write_bytes(plain)
    with pytest.raises(TfliteModelError, match="no binedge checksum"):
        load_tflite_checked(tmp_path / "plain.tflite")
    assert load_tflite_checked(tmp_path / "plain.tflite", require_binedge=False).metadata == {}
    (tmp_path / "cut.tflite").write_bytes(plain[: len(plain) // 2])
    with pytest.raises(TfliteModelError, match="cut.tflite"):
        load_tflite_checked(tmp_path / "cut.tflite", require_binedge=False)


def test_model_errors_are_cli_user_errors(model_file, tmp_path):
    from binedge.cli_options import user_errors

    (tmp_path / "bad.tflite").write_bytes(b"junk" * 10)

    @user_errors
    def cmd():
        load_tflite_checked(tmp_path / "bad.tflite")

    with pytest.raises(click.ClickException, match="bad.tflite"):
        cmd()


def test_options_are_validated_before_anything_is_written(model_file, tmp_path):
    graph, path = model_file
    for kwargs in ({"model_name": ""}, {"model_name": 3}, {"packed": "yes"}, {"verify": 1}):
        with pytest.raises(TfliteExportError):
            export_tflite(graph, tmp_path / "o.tflite", **kwargs)
    with pytest.raises(TfliteExportError, match="does not exist"):
        export_tflite(graph, tmp_path / "no" / "such" / "m.tflite")
    with pytest.raises(TypeError):
        build_tflite("not a graph")
    broken = Graph(graph.input, graph.ops[:-1])  # does not end in scores
    with pytest.raises(GraphError):
        export_tflite(broken, tmp_path / "o.tflite")
    assert not (tmp_path / "o.tflite").exists()
    x = random_images(np.random.default_rng(0), graph, 2)
    for bad in ({"batch_size": 0}, {"delegates": "gpu"}, {"num_threads": 0}):
        with pytest.raises(ValueError):
            run_tflite(path, x, **bad)
    with pytest.raises(ValueError, match="uint8"):
        run_tflite(path, x.astype(np.float32))
    with pytest.raises(ValueError, match="shape"):
        run_tflite(path, x[:, :1])
    assert run_tflite(path, x[:0]).shape == (0, graph.output.shape[0])
    assert np.array_equal(run_tflite(path, x, batch_size=1), reference.run(graph, x))


def test_export_is_atomic(model_file, tmp_path):
    _, path = model_file
    before = path.read_bytes()
    big = Graph(TensorSpec("u8", (23, 23, 1)),  # valid, but one channel's sum exceeds float32's 2**24
                [Conv2d(np.full((1, 23, 23, 1), -128, np.int8), 1, 1, (23, 23), (1, 1), (0, 0, 0, 0),
                        threshold_stage(np.random.default_rng(0), 1, 1.0), "int8"), Flatten(),
                 Dense(bf.pack_sign(np.ones((2, 1))), 1, 2, ScoreStage.identity(2))])
    with pytest.raises(TfliteExportError):
        export_tflite(big, path)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []


# ----------------------------------------------------------------------------- CLI


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from binedge.models import ModelConfig
    from binedge.train import TrainConfig, train

    out = tmp_path_factory.mktemp("runs") / "tiny"
    cfg = TrainConfig(model=ModelConfig(model="mlp", weights="lab", activation="sign", hidden=24, depth=1),
                      dataset="synthetic", epochs=1, lr=0.01, out=str(out))
    train(cfg, progress=False, log=lambda *_: None)
    return out


def test_cli_export_tflite(tiny_run, tmp_path):
    from binedge.cli import main

    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["export", str(tiny_run), "--format", "tflite", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir()) == ["model.tflite", "report.json"]
    report = json.loads((out / "report.json").read_text())
    lite = report["files"]["tflite"]
    assert lite["bytes"] == (out / "model.tflite").stat().st_size
    assert lite["scores_equal_reference"] is True and lite["prediction_agreement"] == 1.0
    assert "tflite:" in r.output and "scores equal reference: True" in r.output
    assert load_tflite_checked(out / "model.tflite").metadata["binedge_version"] == binedge.__version__

    out_all = tmp_path / "all"
    r = CliRunner().invoke(main, ["export", str(tiny_run), "--format", "all", "--no-check", "-o", str(out_all)])
    assert r.exit_code == 0, r.output
    assert {"model.bnm", "model.onnx", "model.tflite"} <= {p.name for p in out_all.iterdir()}
    assert set(json.loads((out_all / "report.json").read_text())["files"]) == {"blob", "onnx", "tflite"}
    # the exported file equals the reference on the run's own graph
    graph = read_blob(out_all / "model.bnm")
    x = random_images(np.random.default_rng(0), graph, 9)
    np.testing.assert_array_equal(run_tflite(out_all / "model.tflite", x), reference.run(graph, x))
