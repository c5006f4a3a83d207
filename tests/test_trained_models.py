"""Trained Fashion-MNIST models through every Python-side backend, on the whole test set."""

import json
from pathlib import Path

import numpy as np
import pytest

from binedge import reference
from binedge.blob import read_blob
from binedge.data import load_dataset
from binedge.export_onnx import export_onnx, run_onnx
from binedge.lower import agreement, lower
from binedge.models import ModelConfig
from binedge.train import TrainConfig, load_checkpoint, train

DATA = Path(__file__).parent / "data"
BLOBS = sorted(DATA.glob("fmnist-*.bnm"))


@pytest.fixture(scope="module")
def test_set():
    ds = load_dataset()
    return ds.test.images[..., None], ds.test.labels


def test_trained_blobs_are_present():
    assert len(BLOBS) >= 3, "tests/data/fmnist-*.bnm missing: run tests/data/make_blobs.sh"


@pytest.mark.parametrize("blob", BLOBS, ids=[b.stem for b in BLOBS])
def test_onnx_equals_reference_on_whole_test_set(blob, test_set, tmp_path):
    images, labels = test_set
    graph = read_blob(blob)
    ref = reference.run(graph, images)
    export_onnx(graph, tmp_path / "m.onnx")
    assert np.array_equal(run_onnx(tmp_path / "m.onnx", images), ref)
    # The blob's export report: PyTorch agreed with the reference when it was made.
    report = json.loads(blob.with_suffix(".report.json").read_text())
    a = report["agreement"]
    assert a["samples"] == 10000 and a["agreement"] >= 0.999 and a["disagree_without_tie"] == 0
    assert abs(a["reference_accuracy"] - float((ref.argmax(1) == labels).mean())) < 1e-9
    assert a["reference_accuracy"] > 0.8


@pytest.mark.slow
def test_freshly_trained_model_agrees_with_pytorch_on_whole_test_set(tmp_path, test_set):
    images, labels = test_set
    cfg = TrainConfig(model=ModelConfig(model="mlp", weights="lab", activation="sign", hidden=96, depth=2),
                      limit=8000, epochs=1, lr=0.005, out=str(tmp_path / "run"))
    train(cfg, progress=False, log=lambda *_: None)
    model, cfg, _ = load_checkpoint(tmp_path / "run")
    graph = lower(model, cfg.model.image_shape)
    rep = agreement(model, graph, images, labels)
    assert rep["samples"] == 10000
    assert rep["agreement"] >= 0.999 and rep["disagree_without_tie"] == 0
    export_onnx(graph, tmp_path / "m.onnx")
    assert np.array_equal(run_onnx(tmp_path / "m.onnx", images), reference.run(graph, images))
