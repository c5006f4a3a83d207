"""The training recipe (binedge.recipe, binedge train's --augment, --schedule / --milestones,
--weight-decay, --teacher, --two-stage): each piece against an independent oracle (numpy crops,
the closed formulas, Adam's first step by hand, the KL divergence by hand), resume equal to an
uninterrupted run across the stage switch, and bad inputs as one-line errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from cli_checks import clean_error
from click.testing import CliRunner
from torch import nn

from binedge.cli import main
from binedge.export import lower_run
from binedge.graph import Conv2d, Dense
from binedge.models import ModelConfig, build_model
from binedge.nn import BinaryConv2d, BinaryLinear
from binedge.optim import LAB, real_weights
from binedge.recipe import (Schedule, augment_generator, augment_images, augment_params, binarize_from, kd_loss_sum,
                            release_weights)
from binedge.train import TrainConfig, TrainError, train

QUIET = {"progress": False, "log": lambda *_: None}


# ----------------------------------------------------------------------------- augmentation


def _oracle(codes: np.ndarray, dy, dx, flips, pad: int) -> np.ndarray:
    """numpy: zero-pad H and W by ``pad``, cut the H x W window at (dy, dx), mirror it if flipped."""
    n, h, w = codes.shape[:3]
    widths = [(0, 0), (pad, pad), (pad, pad)] + [(0, 0)] * (codes.ndim - 3)
    padded = np.pad(codes, widths)
    out = np.empty_like(codes)
    for i in range(n):
        crop = padded[i, dy[i]:dy[i] + h, dx[i]:dx[i] + w]
        out[i] = crop[:, ::-1] if flips[i] else crop
    return out


@pytest.mark.parametrize("shape,pad", [((9, 7, 6), 2), ((5, 6, 5, 3), 1), ((4, 28, 28), 4)])
def test_augmentation_equals_the_numpy_oracle(shape, pad):
    rng = np.random.default_rng(0)
    codes = rng.integers(1, 256, size=shape, dtype=np.uint8)  # no zero pixel: padding is visible
    n = shape[0]
    dy, dx, flips = augment_params(n, pad=pad, flip=True, generator=torch.Generator().manual_seed(1))
    got = augment_images(torch.from_numpy(codes), dy, dx, flips, pad).numpy()
    assert np.array_equal(got, _oracle(codes, dy.numpy(), dx.numpy(), flips.numpy(), pad))
    # every sample is the image moved by (dy - pad, dx - pad) (then mirrored): count the zeros the shift brings in
    for i in range(n):
        h, w = shape[1], shape[2]
        mx = got[i, :, ::-1] if flips[i] else got[i]
        want_zero_rows, want_zero_cols = abs(int(dy[i]) - pad), abs(int(dx[i]) - pad)
        assert (mx == 0).all(axis=tuple(range(1, mx.ndim))).sum() == want_zero_rows or want_zero_cols == w
        assert (mx == 0).all(axis=(0,) + tuple(range(2, mx.ndim))).sum() == want_zero_cols or want_zero_rows == h
    # no shift and no flip: the identity
    z = torch.full((n,), pad)
    assert torch.equal(augment_images(torch.from_numpy(codes), z, z, torch.zeros(n, dtype=torch.bool), pad),
                       torch.from_numpy(codes))


def test_augmentation_parameters_cover_their_ranges_and_repeat_per_epoch():
    dy, dx, flips = augment_params(4000, pad=2, flip=True, generator=augment_generator(3, 1))
    assert set(dy.tolist()) == set(range(5)) and set(dx.tolist()) == set(range(5))
    assert 0.45 < flips.double().mean() < 0.55
    again = augment_params(4000, pad=2, flip=True, generator=augment_generator(3, 1))
    assert all(torch.equal(a, b) for a, b in zip((dy, dx, flips), again))
    other = augment_params(4000, pad=2, flip=True, generator=augment_generator(3, 2))
    assert not torch.equal(dy, other[0])
    assert not augment_params(100, pad=2, flip=False, generator=augment_generator(0, 1))[2].any()


def _small(tmp_path, name, epochs=2, model="mlp", **kw) -> TrainConfig:
    mcfg = ModelConfig(model=model, hidden=16, depth=1, widths=[4, 8], blocks=[1, 1], fc=16)
    kw.setdefault("dataset", "synthetic")
    return TrainConfig(model=mcfg, limit=kw.pop("limit", 200), epochs=epochs, out=str(tmp_path / name), **kw)


def test_augmented_training_is_deterministic_and_differs_from_plain(tmp_path):
    def weights(name, **kw):
        train(_small(tmp_path, name, epochs=1, **kw), **QUIET)
        return torch.load(tmp_path / name / "last.pt", weights_only=False)["model"]

    a, b = weights("a", augment="crop+flip"), weights("b", augment="crop+flip")
    plain, crop = weights("plain"), weights("crop", augment="crop")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], plain[k]) for k in a)
    assert not all(torch.equal(crop[k], a[k]) for k in a)


# ----------------------------------------------------------------------------- schedules


def test_cosine_schedule_is_the_closed_formula(tmp_path):
    train(_small(tmp_path, "cos", epochs=5, schedule="cosine", lr=0.02), **QUIET)
    lrs = [m["lr"] for m in json.loads((tmp_path / "cos" / "metrics.json").read_text())["epochs"]]
    want = [0.02 * (1 + math.cos(math.pi * e / 5)) / 2 for e in range(5)]
    assert lrs == pytest.approx(want, rel=1e-15, abs=0)


def test_step_schedule_equals_multisteplr_bitwise():
    """The closed form keeps binedge's historic step schedule (torch's MultiStepLR) to the last bit."""
    for epochs, milestones in ((10, [0.3, 0.5]), (7, [0.5, 0.75]), (20, [3, 0.5, 15])):
        s = Schedule.create("step", 0.01, 0.1, milestones, epochs)
        opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.01)
        marks = sorted({max(1, round(m * epochs)) if m < 1 else int(m) for m in milestones})
        sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=marks, gamma=0.1)
        for e in range(epochs + 3):  # and beyond the end (--resume --epochs)
            assert s.lr_at(e) == opt.param_groups[0]["lr"], (epochs, e)
            opt.step()
            sched.step()


def test_two_stage_schedule_restarts_in_stage_two():
    s = Schedule.create("cosine", 1.0, 0.1, [], 7, two_stage=True)
    assert s.stages == [[0, 3], [3, 4]] and [s.stage_of(e) for e in range(9)] == [1] * 3 + [2] * 6
    want = [(1 + math.cos(math.pi * t / 3)) / 2 for t in range(3)] + \
           [(1 + math.cos(math.pi * min(t, 3) / 4)) / 2 for t in range(6)]
    assert [s.lr_at(e) for e in range(9)] == pytest.approx(want, rel=1e-15)
    step = Schedule.create("step", 1.0, 0.5, [0.5], 8, two_stage=True)
    assert [step.lr_at(e) for e in range(8)] == [1, 1, 0.5, 0.5, 1, 1, 0.5, 0.5]
    assert Schedule.from_state(json.loads(json.dumps(s.state_dict()))) == s


# ----------------------------------------------------------------------------- weight decay


def test_weight_decay_moves_exactly_the_real_weights():
    """One LAB step on zero gradients: only the decayed parameters move, each by Adam's first
    step on the gradient λ·p, i.e. -lr·λp / (|λp| + ε); binary latent weights, BatchNorm and biases
    stay bitwise."""
    torch.manual_seed(0)
    model = build_model(ModelConfig(model="resnet", widths=[8, 16], blocks=[1, 1], image_shape=[12, 12, 1]))
    model.extra = BinaryLinear(4, 3, bias=True, kernel_quantizer=None)  # a full-precision layer with a bias
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    lr, wd, eps = 0.01, 0.1, 1e-8
    opt = LAB(model, lr=lr, weight_decay=wd, eps=eps)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    decayed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert decayed == {"stem.weight", "stages.1.0.conv.weight", "classifier.weight", "extra.weight"}
    assert {n for n, p in model.named_parameters() if any(p is q for q in real_weights(model))} == decayed
    for n in decayed:
        g = wd * before[n].double()
        want = before[n].double() - lr * g / (g.abs() + eps)
        assert torch.allclose(dict(model.named_parameters())[n].double(), want, rtol=0, atol=1e-7), n
    # no decay at all: nothing moves
    opt = LAB(model, lr=lr, weight_decay=0.0)
    now = {n: p.detach().clone() for n, p in model.named_parameters()}
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    assert all(torch.equal(p, now[n]) for n, p in model.named_parameters())


# ----------------------------------------------------------------------------- distillation


def test_kd_loss_is_the_kl_divergence_by_hand():
    s = torch.tensor([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]], dtype=torch.float64)
    t = torch.tensor([[2.0, 0.0, -1.0], [1.0, 1.0, 4.0]], dtype=torch.float64)
    for temp in (1.0, 4.0):
        want = 0.0
        for i in range(2):
            ps = np.exp(s[i].numpy() / temp) / np.exp(s[i].numpy() / temp).sum()
            pt = np.exp(t[i].numpy() / temp) / np.exp(t[i].numpy() / temp).sum()
            want += float((pt * np.log(pt / ps)).sum()) * temp ** 2
        assert float(kd_loss_sum(s, t, temp)) == pytest.approx(want, rel=1e-12)
    assert float(kd_loss_sum(t, t, 2.0)) == pytest.approx(0.0, abs=1e-12)
    # the gradient reaches the student only
    s.requires_grad_(True)
    t.requires_grad_(True)
    kd_loss_sum(s, t, 2.0).backward()
    assert s.grad is not None and s.grad.abs().sum() > 0 and t.grad is None


def test_distillation_from_a_teacher_run(tmp_path):
    train(_small(tmp_path, "teacher", epochs=1, model="mlp"), **QUIET)
    # weight 0: the teacher runs but changes nothing; weight 1: the loss adds its KL term
    train(_small(tmp_path, "plain", epochs=1), **QUIET)
    train(_small(tmp_path, "zero", epochs=1, teacher=str(tmp_path / "teacher"), kd_weight=0.0), **QUIET)
    train(_small(tmp_path, "kd", epochs=1, teacher=str(tmp_path / "teacher"), kd_temperature=2.0), **QUIET)
    w = {n: torch.load(tmp_path / n / "last.pt", weights_only=False)["model"] for n in ("plain", "zero", "kd")}
    assert all(torch.equal(w["plain"][k], w["zero"][k]) for k in w["plain"])
    assert not all(torch.equal(w["plain"][k], w["kd"][k]) for k in w["plain"])
    m = {n: json.loads((tmp_path / n / "metrics.json").read_text())["epochs"][0] for n in ("plain", "zero", "kd")}
    assert m["kd"]["train_kd_loss"] > 0 and m["zero"]["train_kd_loss"] > 0 and "train_kd_loss" not in m["plain"]
    assert m["zero"]["train_loss"] == m["plain"]["train_loss"]
    cfg = json.loads((tmp_path / "kd" / "config.json").read_text())
    assert cfg["teacher"] == str((tmp_path / "teacher").resolve()) and len(cfg["teacher_sha256"]) == 64


def test_a_teacher_on_other_data_is_refused(tmp_path):
    npz = tmp_path / "feat.npz"
    rng = np.random.default_rng(0)
    np.savez(npz, x_train=rng.normal(size=(300, 6)), y_train=rng.integers(0, 10, 300))
    r = CliRunner().invoke(main, ["train", "--data", str(npz), "--epochs", "1", "--hidden", "8", "--depth", "1",
                                  "--quiet", "-o", str(tmp_path / "feat")])
    assert r.exit_code == 0, r.output
    out = clean_error(CliRunner().invoke(main, ["train", "--dataset", "synthetic", "--limit", "100", "--epochs", "1",
                                                "--quiet", "--teacher", str(tmp_path / "feat"),
                                                "-o", str(tmp_path / "s1")]))
    assert "other inputs" in out and "features" in out
    train(_small(tmp_path, "syn", epochs=1), **QUIET)  # 28x28 images, classes "0".."9"
    out = clean_error(CliRunner().invoke(main, ["train", "--limit", "100", "--epochs", "1", "--quiet", "--teacher",
                                                str(tmp_path / "syn"), "-o", str(tmp_path / "s2")]))
    assert "other classes" in out  # Fashion-MNIST: the same images, other class names
    out = clean_error(CliRunner().invoke(main, ["train", "--dataset", "synthetic", "--epochs", "1", "--quiet",
                                                "--teacher", str(tmp_path / "nowhere"), "-o", str(tmp_path / "s3")]))
    assert "no such run directory" in out
    for s in ("s1", "s2", "s3"):
        assert not (tmp_path / s / "last.pt").exists()


def test_resume_refuses_a_changed_teacher(tmp_path):
    train(_small(tmp_path, "teacher", epochs=1), **QUIET)
    train(_small(tmp_path, "s", epochs=1, teacher=str(tmp_path / "teacher")), **QUIET)
    ck = tmp_path / "teacher" / "best.pt"
    state = torch.load(ck, weights_only=False)
    state["epoch"] = 99
    torch.save(state, ck)
    with pytest.raises(TrainError, match="changed since this run started"):
        train(_small(tmp_path, "s", epochs=2), resume=True, epochs=2, **QUIET)


# ----------------------------------------------------------------------------- two stages


def test_release_and_binarize_switch_the_forward():
    torch.manual_seed(0)
    conv = BinaryConv2d(3, 4, 3, padding=1, bias=False, kernel_quantizer="lab")
    with torch.no_grad():
        conv.weight.mul_(300.0)  # beyond LAB's box [-1, 1]
    x = torch.randn(2, 3, 5, 5)
    q = release_weights([conv])
    assert conv.kernel_quantizer is None and torch.equal(conv(x), torch.nn.functional.conv2d(x, conv.weight, padding=1))
    binarize_from([conv], q)
    w = conv.weight.detach()
    assert w.abs().max() == 1.0 and float(conv.kernel_scale) == pytest.approx(float(w.abs().mean()), rel=1e-7)
    want = torch.nn.functional.conv2d(x, conv.kernel_scale * torch.where(w >= 0, 1.0, -1.0), padding=1)
    assert torch.allclose(conv(x), want, rtol=1e-6, atol=1e-6)


def test_two_stage_switches_at_half_and_exports_binary(tmp_path):
    cfg = _small(tmp_path, "two", epochs=4, model="resnet", two_stage=True, schedule="cosine", lr=0.01)
    summary = train(cfg, **QUIET)
    ms = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert [m["stage"] for m in ms["epochs"]] == [1, 1, 2, 2]
    assert [m["lr"] for m in ms["epochs"]] == pytest.approx([0.01, 0.005, 0.01, 0.005], rel=1e-15)
    assert summary["best_epoch"] in (3, 4) and ms["best"]["epoch"] in (3, 4)
    assert torch.load(tmp_path / "two" / "best.pt", weights_only=False)["epoch"] in (3, 4)
    assert torch.load(tmp_path / "two" / "last.pt", weights_only=False)["stage"] == 2
    _model, graph, _cfg = lower_run(tmp_path / "two")
    convs = [op.weight_kind for op in graph.ops if isinstance(op, (Conv2d, Dense))]
    assert convs == ["int8", "binary", "int8", "binary", "int8"]


@pytest.mark.parametrize("cut", [1, 2])
def test_two_stage_resume_equals_an_uninterrupted_run(tmp_path, cut):
    """Killed after epoch 1 (inside stage 1) or 2 (at the switch), then resumed: the same weights,
    α and metrics as a run that never stopped (the stage and the schedule come from last.pt)."""
    kw = dict(epochs=4, model="resnet", two_stage=True, schedule="step", milestones=[0.5], augment="crop+flip",
              weight_decay=1e-3)
    train(_small(tmp_path, "full", **kw), **QUIET)

    def die(msg):
        if msg.startswith(f"epoch {cut}:"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(_small(tmp_path, "cut", **kw), progress=False, log=die)
    assert torch.load(tmp_path / "cut" / "last.pt", weights_only=False)["stage"] == 1
    train(_small(tmp_path, "cut", **kw), resume=True, **QUIET)
    a = torch.load(tmp_path / "full" / "last.pt", weights_only=False)
    b = torch.load(tmp_path / "cut" / "last.pt", weights_only=False)
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert a["schedule"] == b["schedule"] and a["stage"] == b["stage"] == 2
    strip = lambda ms: [{k: v for k, v in m.items() if "second" not in k} for m in ms]  # noqa: E731
    assert strip(a["metrics"]) == strip(b["metrics"]) and a["best"] == b["best"]


# ----------------------------------------------------------------------------- command line


def _cli(tmp_path, *args):
    return CliRunner().invoke(main, ["train", "--dataset", "synthetic", "--limit", "100", "--epochs", "1", "--quiet",
                                     "-o", str(tmp_path / "run"), *args])


@pytest.mark.parametrize("args,code,text", [
    (["--kd-weight", "0.5"], 2, "--kd-weight sets the distillation"),
    (["--kd-temperature", "0"], 2, "--kd-temperature"),
    (["--schedule", "cosine", "--milestones", "0.5"], 2, "--milestones are the steps of --schedule step"),
    (["--milestones", "0.3,x"], 2, "item 2 ('x') is not a positive number"),
    (["--augment", "crop", "--crop-pad", "28"], 1, "--crop-pad 28 is not smaller than the 28x28 images"),
    (["--crop-pad", "3"], 2, "give --augment too"),
    (["--augment", "rotate"], 2, "--augment"),
    (["--two-stage"], 1, "--two-stage splits the epochs"),
    (["--two-stage", "--epochs", "2", "--weights", "fp"], 1, "needs binary --weights"),
    (["--teacher", "/nonexistent/run"], 1, "no such run directory"),
])
def test_recipe_option_errors_are_one_line(tmp_path, args, code, text):
    out = clean_error(_cli(tmp_path, *args), code=code)
    assert text in out
    assert not (tmp_path / "run" / "last.pt").exists()


def test_augment_is_refused_for_feature_data(tmp_path):
    npz = tmp_path / "feat.npz"
    rng = np.random.default_rng(0)
    np.savez(npz, x_train=rng.normal(size=(100, 5)), y_train=rng.integers(0, 3, 100))
    out = clean_error(CliRunner().invoke(main, ["train", "--data", str(npz), "--augment", "crop+flip", "--quiet",
                                                "-o", str(tmp_path / "run")]))
    assert "feature vectors of 5 values: use --augment none" in out


def test_resume_lists_recipe_options_that_differ(tmp_path):
    assert _cli(tmp_path, "--augment", "crop").exit_code == 0
    r = CliRunner().invoke(main, ["train", "--dataset", "synthetic", "--resume", "--epochs", "2", "--augment",
                                  "crop+flip", "--two-stage", "--quiet", "-o", str(tmp_path / "run")])
    out = clean_error(r)
    assert "--augment (saved crop, given crop+flip); --two-stage (saved not set, given set)" in out


# ----------------------------------------------------------------------------- two processes


@pytest.mark.xdist_group("distributed")
def test_two_processes_equal_one_with_the_recipe(tmp_path):
    """--nproc 2 with augmentation, a two-stage cosine schedule and weight decay computes the
    single-process run (float tolerance): every process draws the global batch's crops and flips
    and keeps its part, and both switch stage at the same epoch."""
    import subprocess
    import sys

    args = ["--dataset", "synthetic", "--limit", "303", "--batch-size", "100", "--lr", "0.01", "--seed", "3",
            "--hidden", "32", "--depth", "2", "--epochs", "2", "--augment", "crop+flip", "--two-stage",
            "--schedule", "cosine", "--weight-decay", "0.01", "--threads", "1", "--quiet"]
    r = CliRunner().invoke(main, ["train", *args, "-o", str(tmp_path / "one")])
    assert r.exit_code == 0, r.output
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    p = subprocess.run([sys.executable, "-m", "binedge", "train", "--nproc", "2", *args, "-o", str(tmp_path / "two")],
                       capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    a = torch.load(tmp_path / "one" / "last.pt", weights_only=False)
    b = torch.load(tmp_path / "two" / "last.pt", weights_only=False)
    assert max(float((a["model"][k].double() - b["model"][k].double()).abs().max()) for k in a["model"]) < 1e-3
    assert [m["stage"] for m in b["metrics"]] == [1, 2] and [m["processes"] for m in b["metrics"]] == [2, 2]
    for x, y in zip(a["metrics"], b["metrics"]):
        assert abs(x["train_loss"] - y["train_loss"]) < 1e-4 and x["lr"] == y["lr"]
