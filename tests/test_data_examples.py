"""Real data beyond Fashion-MNIST, end to end: scikit-learn's 8x8 digits as an image folder tree and
its breast-cancer table as a CSV (examples/datasets/sklearn_data.py) are trained with `binedge
train --data-dir` / `--data`, exported with `binedge export --target cortex-m4` (no data options:
the run recorded its data) and run under QEMU by `binedge emulate`, bit-exact with the reference.
A missing compiler or QEMU fails, naming the package (binedge.targets.ToolchainError)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from binedge.cli import main

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = 16


@pytest.fixture(scope="module")
def sklearn_data(tmp_path_factory):
    spec = importlib.util.spec_from_file_location("sklearn_data", ROOT / "examples" / "datasets" / "sklearn_data.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path_factory.mktemp("sklearn")
    assert mod.main(["-o", str(out)]) == 0
    return out


def _cli(*args):
    r = CliRunner().invoke(main, [str(a) for a in args])
    assert r.exit_code == 0, r.output
    return r


def _deploy(run: Path, fw: Path) -> dict:
    _cli("export", run, "--target", "cortex-m4", "--samples", SAMPLES, "--format", "blob", "-o", fw)
    _cli("emulate", fw)
    res = json.loads((fw / "emulate.json").read_text())
    assert res["scores_equal_reference"] is True and res["first_mismatch"] is None and res["samples"] == SAMPLES
    return res


def test_digits_image_folder_trains_and_deploys_to_cortex_m4(sklearn_data, tmp_path):
    digits = sklearn_data / "digits"
    assert sorted(p.name for p in digits.iterdir()) == [str(d) for d in range(10)]
    assert sum(1 for _ in digits.rglob("*.png")) == 1797
    run = tmp_path / "run"
    _cli("train", "--data-dir", digits, "--hidden", 64, "--depth", 1, "--epochs", 2, "--quiet", "-o", run)
    info = json.loads((run / "config.json").read_text())["data_info"]
    assert info["format"] == "folder" and info["input"]["shape"] == [8, 8, 1] and info["color"] == "gray"
    # of every ten images of a class the 9th validates and the 10th tests
    assert info["sizes"]["train"] + info["sizes"]["val"] + info["sizes"]["test"] == 1797
    assert info["sizes"]["val"] == sum(len(range(8, len(list((digits / str(d)).glob("*.png"))), 10))
                                       for d in range(10))
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["best"]["test_acc"] > 0.7  # 10 classes; a binary MLP after two epochs
    res = _deploy(run, tmp_path / "fw")
    assert res["accuracy"] > 0.5


def test_breast_cancer_csv_trains_and_deploys_int8_features_to_cortex_m4(sklearn_data, tmp_path):
    csv_file = sklearn_data / "breast_cancer.csv"
    run = tmp_path / "run"
    _cli("train", "--data", csv_file, "--hidden", 32, "--depth", 1, "--epochs", 3, "--quiet", "-o", run)
    cfg = json.loads((run / "config.json").read_text())
    coding = cfg["data_info"]["input"]
    assert cfg["dataset"] == "csv" and cfg["data_info"]["class_names"] == ["benign", "malignant"]
    assert (coding["kind"], coding["dtype"], coding["shape"], coding["scale"]) == ("features", "i8", [30], 0.0625)
    assert len(coding["center"]) == len(coding["spread"]) == 30 and coding["feature_names"][0] == "mean radius"
    assert json.loads((run / "metrics.json").read_text())["best"]["test_acc"] > 0.85
    fw = tmp_path / "fw"
    res = _deploy(run, fw)
    assert res["accuracy"] > 0.8
    report = json.loads((fw / "report.json").read_text())
    assert report["input"] == coding  # the device-side coding travels with the firmware project
    manifest = json.loads((fw / "firmware.json").read_text())
    assert manifest["input_shape"] == [30]
    with np.load(fw / "test_inputs.npz") as z:
        assert z["images"].dtype == np.int8 and z["images"].shape == (SAMPLES, 30)
