"""The "any model" examples end to end: examples/custom_model (a user-written residual binary
network trained with binedge train --model ..., exported, run on a Cortex-M4 under QEMU) and
examples/tabular (int8 features: the C runtime on x86, firmware on x86_64 and cortex-m4)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from binedge import reference

from binedge.agreement import agreement
from binedge.cli import main
from binedge.export import load_test_images, lower_run
from binedge.graph import Add, AvgPool2d, Conv2d, Dense, Threshold
from binedge.runtime import Runtime

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

    # the firmware for a Cortex-M4, built and run under QEMU: every score bit-exact
    fw = tmp_path / "fw"
    r = CliRunner().invoke(main, ["export", str(run), "--target", "cortex-m4", "--samples", "4", "-o", str(fw)])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["emulate", str(fw)])
    assert r.exit_code == 0, r.output
    emu = json.loads((fw / "emulate.json").read_text())
    assert emu["scores_equal_reference"] and emu["samples"] == 4 and emu["misaligned_input_mismatches"] == 0, emu


def _tabular():
    spec = importlib.util.spec_from_file_location("tabular_example", ROOT / "examples" / "tabular" / "tabular.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_tabular_example_int8_features_end_to_end():
    rep = _tabular().run(epochs=3, samples=1000, seed=1, log=lambda *_: None)
    assert rep["ops"] == ["Dense", "Dense", "Dense"]
    assert rep["samples"] == 1000 and rep["disagree_without_tie"] == 0, rep
    assert rep["reference_accuracy"] > 0.5  # 3 classes: chance is about 1/3


def test_tabular_model_runs_on_x86_and_cortex_m4(tmp_path):
    """The int8 feature-vector model on the C runtime (every kernel variant of this host) and as
    firmware on x86_64 (native) and cortex-m4 (QEMU): scores bit-exact with the reference."""
    mod = _tabular()
    _model, graph, codes, labels = mod.train_and_convert(epochs=2, samples=600, seed=2)
    assert graph.input.kind == "i8" and graph.input.shape == (mod.FEATURES,)
    want = reference.run(graph, codes)
    assert len(np.unique(want.argmax(1))) > 1  # not a constant classifier
    for kernel in ("ref", "auto"):
        assert np.array_equal(Runtime(graph, kernel=kernel).run(codes), want), kernel
    for target in ("x86_64", "cortex-m4"):
        emu = mod.deploy(graph, codes[:16], labels[:16], target=target, out_dir=tmp_path / target)
        assert emu["target"] == target and emu["samples"] == 16, emu
        assert emu["scores_equal_reference"] and emu["misaligned_input_mismatches"] == 0, emu
