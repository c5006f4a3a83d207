"""The "any model" examples end to end: examples/custom_model (a user-written residual binary
network trained with binedge train --model ..., exported) and examples/tabular (int8 features)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from click.testing import CliRunner

from binedge.agreement import agreement
from binedge.cli import main
from binedge.export import load_test_images, lower_run
from binedge.graph import Add, AvgPool2d, Conv2d, Dense, Threshold

ROOT = Path(__file__).resolve().parent.parent
CUSTOM = ROOT / "examples" / "custom_model" / "model.py"


def test_custom_model_trains_converts_and_exports(tmp_path):
    run = tmp_path / "run"
    r = CliRunner().invoke(main, ["train", "--model", f"{CUSTOM}:build", "--dataset", "synthetic", "--limit", "300",
                                  "--epochs", "1", "--lr", "0.005", "--quiet", "-o", str(run)])
    assert r.exit_code == 0, r.output
    model, graph, cfg = lower_run(run)
    kinds = [type(op) for op in graph.ops]
    assert kinds.count(Add) == 3 and kinds.count(Threshold) == 3 and kinds.count(AvgPool2d) == 3
    assert kinds[-1] is Dense and graph.ops[-1].weight_kind == "int8"
    convs = [op for op in graph.ops if isinstance(op, Conv2d)]
    assert [op.weight_kind for op in convs] == ["int8", "binary", "int8", "binary", "int8", "binary"]
    images, labels = load_test_images(cfg, None)
    rep = agreement(model, graph, images, labels)
    assert rep["samples"] == 200 and rep["disagree_without_tie"] == 0, rep

    out = tmp_path / "export"
    r = CliRunner().invoke(main, ["export", str(run), "--samples", "50", "-o", str(out)])
    assert r.exit_code == 0, r.output
    report = json.loads((out / "report.json").read_text())
    assert report["agreement"]["disagree_without_tie"] == 0
    assert (out / "model.bnm").is_file()


def test_tabular_example_int8_features_end_to_end():
    spec = importlib.util.spec_from_file_location("tabular_example", ROOT / "examples" / "tabular" / "tabular.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rep = mod.run(epochs=3, samples=1000, seed=1, log=lambda *_: None)
    assert rep["ops"] == ["Dense", "Dense", "Dense"]
    assert rep["samples"] == 1000 and rep["disagree_without_tie"] == 0, rep
    assert rep["reference_accuracy"] > 0.5  # 3 classes: chance is about 1/3
