"""User models: binedge train --model path/to/file.py:factory (and module / entry-point forms),
the run's record of the file, export / resume rebuilding from it, and clean errors."""

from __future__ import annotations

import importlib.metadata
import json
import textwrap

import numpy as np
import pytest
from cli_checks import clean_error
from click.testing import CliRunner

from binedge.agreement import agreement
from binedge.cli import main
from binedge.export import load_test_images, lower_run
from binedge.graph import Add

MODEL = '''
import torch
from torch import nn
from binedge.nn import BinaryConv2d, BinaryLinear, QuantInt8


class Net(nn.Module):
    def __init__(self, image_shape, num_classes):
        super().__init__()
        h, w, c = image_shape
        self.stem = BinaryConv2d(c, 4, 3, stride=2, padding=1, kernel_quantizer="int8")
        self.q = QuantInt8()
        self.conv = BinaryConv2d(4, 4, 3, padding=1, kernel_quantizer="lab", input_quantizer="sign")
        self.qb = QuantInt8()
        self.qs = QuantInt8()
        self.fc = BinaryLinear(4 * ((h + 1) // 2) * ((w + 1) // 2), num_classes, kernel_quantizer="lab",
                               input_quantizer="sign")

    def forward(self, x):
        x = self.q(self.stem(x))
        x = self.qs(x + self.qb(self.conv(x)))
        return self.fc(x.flatten(1))


def build(image_shape, num_classes):
    return Net(image_shape, num_classes)
'''


def _train(tmp_path, spec, *extra, out="run"):
    return CliRunner().invoke(main, ["train", "--model", spec, "--dataset", "synthetic", "--limit", "200",
                                     "--epochs", "1", "--quiet", "-o", str(tmp_path / out), *extra])


@pytest.fixture(scope="module")
def user_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("user")
    (d / "net.py").write_text(MODEL)
    r = _train(d, f"{d / 'net.py'}:build")
    assert r.exit_code == 0, r.output
    return d


def test_train_records_the_file_and_export_rebuilds_it(user_run):
    cfg = json.loads((user_run / "run" / "config.json").read_text())["model"]
    assert cfg["model"].endswith("net.py:build") and cfg["source"]["kind"] == "file"
    assert cfg["source"]["path"] == str(user_run / "net.py") and len(cfg["source"]["sha256"]) == 64
    model, graph, tcfg = lower_run(user_run / "run")
    assert tcfg.model.is_user and graph.metadata["model"]["source"]["sha256"] == cfg["source"]["sha256"]
    assert any(isinstance(op, Add) for op in graph.ops)
    images, labels = load_test_images(tcfg, 100)
    rep = agreement(model, graph, images, labels)
    assert rep["disagree_without_tie"] == 0, rep


def test_resume_of_a_user_run(user_run, tmp_path):
    import shutil

    shutil.copytree(user_run / "run", tmp_path / "run")
    r = _train(tmp_path, f"{user_run / 'net.py'}:build", "--resume", "--epochs", "2")
    assert r.exit_code == 0, r.output
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert [m["epoch"] for m in metrics["epochs"]] == [1, 2]


def test_a_changed_or_vanished_model_file_is_refused(user_run, tmp_path):
    import shutil

    d = tmp_path / "copy"
    d.mkdir()
    (d / "net.py").write_text(MODEL)
    r = _train(d, f"{d / 'net.py'}:build")
    assert r.exit_code == 0, r.output
    (d / "net.py").write_text(MODEL + "\n# edited\n")
    out = clean_error(CliRunner().invoke(main, ["export", str(d / "run"), "--no-check", "-o", str(d / "exp")]))
    assert str(d / "net.py") in out and "changed since the run was trained" in out
    (d / "net.py").unlink()
    out = clean_error(CliRunner().invoke(main, ["export", str(d / "run"), "--no-check", "-o", str(d / "exp")]))
    assert "no longer exists" in out
    shutil.rmtree(d)


def test_module_and_entry_point_forms(tmp_path, monkeypatch):
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "nets.py").write_text(MODEL)
    monkeypatch.syspath_prepend(str(tmp_path))
    r = _train(tmp_path, "mypkg.nets:build", out="mod")
    assert r.exit_code == 0, r.output
    src = json.loads((tmp_path / "mod" / "config.json").read_text())["model"]["source"]
    assert src["kind"] == "module" and src["location"] == "mypkg.nets" and src["path"] == str(pkg / "nets.py")

    ep = importlib.metadata.EntryPoint(name="tiny-res", value="mypkg.nets:build", group="binedge.models")
    real = importlib.metadata.entry_points
    monkeypatch.setattr(importlib.metadata, "entry_points",
                        lambda **kw: [ep] if kw.get("group") == "binedge.models" else real(**kw))
    r = _train(tmp_path, "tiny-res", out="ep")
    assert r.exit_code == 0, r.output
    src = json.loads((tmp_path / "ep" / "config.json").read_text())["model"]["source"]
    assert src["kind"] == "entry_point" and src["factory"] == "build"
    assert lower_run(tmp_path / "ep")[1].ops


BROKEN = {
    "syntax": ("def build(image_shape, num_classes:\n    pass\n", "importing it raised SyntaxError"),
    "import-error": ("import not_a_module_anywhere\n", "importing it raised ModuleNotFoundError"),
    "no-factory": ("def other(image_shape, num_classes):\n    pass\n", "defines no 'build' (its functions and "
                   "classes: other)"),
    "not-callable": ("build = 3\n", "'build' is a int, not a function"),
    "raises": ("def build(image_shape, num_classes):\n    raise ValueError('no such width')\n",
               "build((28, 28, 1), 10) raised ValueError: no such width (at "),
    "returns-int": ("def build(image_shape, num_classes):\n    return 3\n", "returned a int, not a torch.nn.Module"),
    "wrong-shape": ("from torch import nn\ndef build(image_shape, num_classes):\n    return nn.Flatten()\n",
                    "returns (2, 784) for a batch of 2 images; it must return (N, 10) logits"),
    "fails-forward": ("from torch import nn\ndef build(image_shape, num_classes):\n    return nn.Linear(3, 10)\n",
                      "fails on a batch of shape (2, 1, 28, 28)"),
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_errors_in_the_users_file_are_one_clean_line(tmp_path, kind):
    text, want = BROKEN[kind]
    f = tmp_path / "bad.py"
    f.write_text(textwrap.dedent(text))
    out = clean_error(_train(tmp_path, f"{f}:build"))
    assert str(f) in out and want in out, out
    assert not (tmp_path / "run" / "last.pt").exists()


@pytest.mark.parametrize("spec,want", [
    ("nowhere/missing.py:build", "does not exist"),
    ("examples/custom_model/model.py:9x", "not a Python function name"),
    ("no_such_pkg_xyz.mod:build", "no module named 'no_such_pkg_xyz.mod'"),
    ("resnet50", "unknown --model 'resnet50'"),  # resnet itself is a zoo model
])
def test_bad_model_specs(tmp_path, spec, want):
    out = clean_error(_train(tmp_path, spec))
    assert want in out


def test_zoo_options_are_refused_with_a_user_model(tmp_path):
    out = clean_error(_train(tmp_path, "examples/custom_model/model.py:build", "--hidden", "8", "--weights", "bwn"),
                      code=2)
    assert "--weights, --hidden configure the zoo models" in out


def test_unlowerable_user_model_fails_export_cleanly(tmp_path):
    f = tmp_path / "real.py"
    f.write_text(textwrap.dedent('''
        import torch
        from torch import nn
        from binedge.nn import BinaryLinear

        class Net(nn.Module):
            def __init__(self, k):
                super().__init__()
                self.a = BinaryLinear(784, 16, kernel_quantizer="lab")
                self.b = BinaryLinear(16, k, kernel_quantizer="lab", input_quantizer="sign")

            def forward(self, x):
                h = self.a(x.flatten(1))
                return self.b(h * h)  # a product of two tensors: no integer op computes it

        def build(image_shape, num_classes):
            return Net(num_classes)
    '''))
    r = _train(tmp_path, f"{f}:build")
    assert r.exit_code == 0, r.output
    out = clean_error(CliRunner().invoke(main, ["export", str(tmp_path / "run"), "-o", str(tmp_path / "exp")]))
    assert "real.py:" in out and "multiplies two tensors" in out
    assert not (tmp_path / "exp").exists()
    assert np.isfinite(json.loads((tmp_path / "run" / "metrics.json").read_text())["best"]["val_acc"])
