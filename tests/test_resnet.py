"""The zoo's binary ResNet (--model resnet, binedge.models.BinaryResNet): every variant lowers
exactly (binedge.convert: PyTorch vs the reference executor, 0 disagreements without a tie, every
int8 code and bit equal to a float64 copy of the model), runs bit-exactly on the C runtime, and
exports as Cortex-M4 firmware from a trained run; its options are checked before anything is built."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from cli_checks import clean_error
from click.testing import CliRunner
from convert_checks import calibrate, check_model, image_inputs

from binedge import reference
from binedge.cli import main
from binedge.converter import image_spec
from binedge.graph import Add, AvgPool2d, Conv2d, Dense, Merge, Threshold
from binedge.models import BinaryResNet, ModelConfig, ModelError, build_model
from binedge.optim import LAB
from binedge.runtime import Runtime


def _steps(model: torch.nn.Module, shape, steps: int = 3, seed: int = 0) -> torch.nn.Module:
    """A few LAB steps on random images and labels (so α is LAB's, not its initial value)."""
    g = torch.Generator().manual_seed(seed)
    opt = LAB(model, lr=0.01)
    model.train()
    for _ in range(steps):
        x = torch.rand((16, shape[2], shape[0], shape[1]), generator=g)
        y = torch.randint(0, model.classifier.out_features, (16,), generator=g)
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return model


# (widths, blocks, shortcut, downsample, classifier, weights, activation, rule, image shape)
VARIANTS = [
    ([8, 16], [1, 1], "merge", "int8", "int8", "lab", "sign", "sste", [12, 12, 1]),
    ([8, 16], [1, 1], "add", "int8", "int8", "lab", "sign", "ftprop", [12, 12, 1]),
    ([8, 16], [1, 1], "merge", "binary", "binary", "bwn", "sign", "ste", [12, 12, 1]),
    ([7, 9, 33], [1, 0, 1], "add", "binary", "int8", "binaryconnect", "sign", "sste", [11, 13, 1]),
    ([5, 17], [0, 2], "merge", "int8", "binary", "lab", "qrelu2", "ftprop", [10, 10, 3]),
    ([16], [2], "merge", "int8", "int8", "lab", "step", "sste", [9, 9, 1]),
    ([8, 16], [1, 1], "add", "int8", "binary", "lab", "qrelu3", "sste", [12, 12, 3]),
]


@pytest.mark.parametrize("widths,blocks,shortcut,down,head,weights,act,rule,shape", VARIANTS)
def test_every_variant_lowers_exactly_and_runs_on_the_c_runtime(widths, blocks, shortcut, down, head, weights, act,
                                                                 rule, shape):
    cfg = ModelConfig(model="resnet", widths=widths, blocks=blocks, shortcut=shortcut, downsample=down,
                      classifier=head, weights=weights, activation=act, rule=rule, image_shape=shape, num_classes=7)
    torch.manual_seed(1)
    model = _steps(build_model(cfg), shape)
    h, w, c = shape
    example = torch.zeros(2, c, h, w)
    calibrate(model, example)
    x = image_inputs(np.random.default_rng(3), 96, h, w, c)
    # every QuantInt8 output compared with float64 PyTorch: the stem's, each block's sum (and
    # branch, "add"), each downsampling's pool and output, the global pool
    per_block = 2 if shortcut == "add" else 1
    graph, rep = check_model(model, example, x, input_spec=image_spec((h, w, c)),
                             min_values=2 + per_block * sum(blocks) + 2 * (len(widths) - 1))
    assert rep["samples"] == 96
    ops = graph.ops
    sums = [op for op in ops if isinstance(op, Merge if shortcut == "merge" else Add)]
    assert len(sums) == sum(blocks) and not [op for op in ops if isinstance(op, Add if shortcut == "merge" else Merge)]
    assert sum(isinstance(op, Threshold) for op in ops) == sum(blocks)  # act(x) of each block, on int8 codes
    convs = [op for op in ops if isinstance(op, Conv2d)]
    kinds = ["int8"] + [k for i, nb in enumerate(blocks) for k in ([down] if i else [])
                        + ["binary"] * nb]
    assert [op.weight_kind for op in convs] == kinds
    assert [op.kernel for op in convs] == [(3, 3)] + [k for i, nb in enumerate(blocks)
                                                      for k in ([(1, 1)] if i else []) + [(3, 3)] * nb]
    assert sum(isinstance(op, AvgPool2d) for op in ops) == len(widths)  # the downsamplings and the global pool
    assert isinstance(ops[-1], Dense) and ops[-1].weight_kind == ("int8" if head == "int8" else "binary")
    want = reference.run(graph, x)
    assert len(np.unique(want, axis=0)) > len(x) // 2  # scores depend on the input
    for kernel in ("ref", "auto"):
        assert np.array_equal(Runtime(graph, kernel=kernel).run(x), want), kernel


def test_the_block_is_the_bi_real_formula():
    """forward equals y = Q_out(x + Q_branch(BN(conv(sign(x))))) written out with torch ops (add), and
    without Q_branch (merge); the binary conv pads sign(x) with +1."""
    for shortcut in ("add", "merge"):
        cfg = ModelConfig(model="resnet", widths=[6], blocks=[1], shortcut=shortcut, image_shape=[8, 8, 1])
        model = calibrate(build_model(cfg), torch.zeros(2, 1, 8, 8))
        block = model.stages[0][0]
        x = model.stem_q(model.stem_bn(model.stem(torch.rand(4, 1, 8, 8))))
        s = torch.where(x >= 0, 1.0, -1.0)
        w = block.conv.kernel_scale * torch.where(block.conv.weight >= 0, 1.0, -1.0)
        conv = F.conv2d(F.pad(s, (1, 1, 1, 1), value=1.0), w)
        bn = block.bn
        z = (conv - bn.running_mean[None, :, None, None]) / torch.sqrt(bn.running_var + bn.eps)[None, :, None, None] \
            * bn.weight[None, :, None, None] + bn.bias[None, :, None, None]
        if shortcut == "add":
            z = block.branch(z)
        assert torch.allclose(block(x), block.out(x + z), atol=0), shortcut


def test_default_resnet_is_the_documented_one():
    cfg = ModelConfig(model="resnet")
    assert cfg.widths == [16, 32, 64] and cfg.blocks == [0, 2, 3] and cfg.shortcut == "merge"
    assert cfg.downsample == "int8" and cfg.classifier == "int8"
    assert ModelConfig(model="vgg").widths == [32, 64, 128]  # the VGG keeps its defaults
    model = build_model(cfg)
    assert isinstance(model, BinaryResNet) and [len(s) for s in model.stages] == [0, 3, 4]  # downsample + blocks


@pytest.mark.parametrize("cfg", [ModelConfig(model="resnet"),
                                 ModelConfig(model="resnet", widths=[5, 7, 9], blocks=[2, 1, 0],
                                             image_shape=[12, 12, 3]),
                                 ModelConfig(model="resnet", widths=[8], blocks=[3], num_classes=4)])
def test_param_count_matches_the_built_resnet(cfg):
    assert cfg.param_count() == sum(p.numel() for p in build_model(cfg).parameters())


@pytest.mark.parametrize("kw,match", [
    ({"blocks": [1, 1]}, "--blocks lists 2 stage"),
    ({"blocks": [0, 0, 0]}, "at least one block"),
    ({"blocks": [1, -1, 1]}, "--blocks must list"),
    ({"shortcut": "concat"}, "unknown --shortcut"),
    ({"downsample": "fp"}, "unknown --downsample"),
    ({"classifier": "float"}, "unknown --classifier"),
    ({"widths": [8, 8, 8, 8, 8, 8], "blocks": [1] * 6}, "at most 5 stage"),
    ({"widths": [0, 8, 8]}, "--widths must be a positive integer"),
    ({"image_shape": [64]}, "convnet for images"),
])
def test_bad_resnet_configurations_are_refused_before_building(kw, match):
    cfg = ModelConfig(model="resnet", **kw)
    with pytest.raises(ModelError, match=match):
        build_model(cfg)


def _train_cli(tmp_path, *args):
    return CliRunner().invoke(main, ["train", "--dataset", "synthetic", "--limit", "200", "--epochs", "1", "--quiet",
                                     "-o", str(tmp_path / "run"), *args])


@pytest.mark.parametrize("args,code,text", [
    (["--model", "resnet", "--blocks", "1,x,1"], 2, "--blocks"),
    (["--model", "resnet", "--blocks", "1,1"], 1, "--blocks lists 2 stage"),
    (["--model", "vgg", "--blocks", "1,1,1"], 2, "--model resnet, not --model"),
    (["--model", "mlp", "--shortcut", "add"], 2, "--model resnet, not --model"),
    (["--model", "resnet", "--widths", "8,8,8,8,8,8", "--blocks", "1,1,1,1,1,1"], 1, "at most 5 stage"),
])
def test_cli_resnet_option_errors_are_one_line(tmp_path, args, code, text):
    out = clean_error(_train_cli(tmp_path, *args), code=code)
    assert text in out
    assert not (tmp_path / "run").exists()


def test_train_export_and_emulate_on_cortex_m4(tmp_path):
    """binedge train --model resnet, then export --target cortex-m4 and emulate: bit-exact scores."""
    r = _train_cli(tmp_path, "--model", "resnet", "--widths", "8,16", "--blocks", "1,1", "--augment", "crop+flip")
    assert r.exit_code == 0, r.output
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())
    assert cfg["model"]["model"] == "resnet" and cfg["model"]["blocks"] == [1, 1]
    fw = tmp_path / "fw"
    r = CliRunner().invoke(main, ["export", str(tmp_path / "run"), "--target", "cortex-m4", "--samples", "4",
                                  "-o", str(fw)])
    assert r.exit_code == 0, r.output
    assert "disagreements without a tie: 0" in r.output
    r = CliRunner().invoke(main, ["emulate", str(fw)])
    assert r.exit_code == 0, r.output
    emu = json.loads((fw / "emulate.json").read_text())
    assert emu["scores_equal_reference"] and emu["samples"] == 4 and emu["misaligned_input_mismatches"] == 0, emu
    assert emu["per_inference"]["mean"] > 0 and emu["memory"]["flash"] < 256 * 1024
