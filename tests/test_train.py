"""Models, the training loop, run directories, resume and the train CLI."""

import json

import pytest
import torch
from cli_checks import clean_error
from click.testing import CliRunner

from binedge.cli import main
from binedge.models import ModelConfig, build_model, squared_hinge_loss
from binedge.train import TrainConfig, TrainError, load_checkpoint, train


@pytest.mark.parametrize("model", ["mlp", "vgg", "ftprop4"])
@pytest.mark.parametrize("weights,activation", [("fp", "relu"), ("lab", "sign"), ("bwn", "qrelu2"),
                                                ("binaryconnect", "step")])
def test_models_forward_and_backward(model, weights, activation):
    cfg = ModelConfig(model=model, weights=weights, activation=activation, hidden=32, depth=2,
                      widths=[4, 8, 8], fc=16)
    net = build_model(cfg)
    x = torch.rand(3, 1, 28, 28)
    out = net(x)
    assert out.shape == (3, 10)
    out.sum().backward()
    latent = [p for n, p in net.named_parameters() if n.endswith("weight") and p.dim() > 1]
    assert latent and all(p.grad is not None for p in latent)


def test_squared_hinge_loss_by_hand():
    logits = torch.tensor([[0.5, -2.0, 0.0]])
    # target class 0: t = (+1, -1, -1): max(0, 1-0.5)² = 0.25, max(0, 1-2)² = 0, max(0, 1-0)² = 1.
    assert squared_hinge_loss(logits, torch.tensor([0])).item() == pytest.approx((0.25 + 0 + 1) / 3)


def _cfg(tmp_path, name, epochs=2, **kw):
    return TrainConfig(model=ModelConfig(model="mlp", weights="lab", activation="sign", hidden=32, depth=2),
                       dataset="synthetic", epochs=epochs, lr=0.01, out=str(tmp_path / name), **kw)


def test_same_seed_same_weights_and_run_files(tmp_path):
    a = train(_cfg(tmp_path, "a"), progress=False, log=lambda *_: None)
    train(_cfg(tmp_path, "b"), progress=False, log=lambda *_: None)
    wa = torch.load(tmp_path / "a" / "last.pt", weights_only=False)["model"]
    wb = torch.load(tmp_path / "b" / "last.pt", weights_only=False)["model"]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    for f in ("config.json", "metrics.json", "best.pt", "last.pt", "curves.png"):
        assert (tmp_path / "a" / f).stat().st_size > 0
    metrics = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert [m["epoch"] for m in metrics["epochs"]] == [1, 2]
    assert a["val_acc"] == max(m["val_acc"] for m in metrics["epochs"])
    assert a["test_acc"] > 0.5  # the synthetic set is learnable; chance is 0.1
    model, cfg, _ = load_checkpoint(tmp_path / "a")
    assert cfg.model.weights == "lab" and not model.training


def test_resume_reproduces_an_uninterrupted_run(tmp_path):
    train(_cfg(tmp_path, "full", epochs=3), progress=False, log=lambda *_: None)

    def die_after_epoch_1(msg):
        if msg.startswith("epoch 1:"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(_cfg(tmp_path, "cut", epochs=3), progress=False, log=die_after_epoch_1)
    assert torch.load(tmp_path / "cut" / "last.pt", weights_only=False)["epoch"] == 1
    train(_cfg(tmp_path, "cut", epochs=3), resume=True, progress=False, log=lambda *_: None)
    full = torch.load(tmp_path / "full" / "last.pt", weights_only=False)["model"]
    cut = torch.load(tmp_path / "cut" / "last.pt", weights_only=False)["model"]
    assert all(torch.equal(full[k], cut[k]) for k in full)


def test_existing_run_is_not_overwritten(tmp_path):
    train(_cfg(tmp_path, "a", epochs=1), progress=False, log=lambda *_: None)
    with pytest.raises(TrainError, match="--resume"):
        train(_cfg(tmp_path, "a", epochs=1), progress=False, log=lambda *_: None)


def test_cli_version_and_train(tmp_path):
    r = CliRunner().invoke(main, ["--version"])
    assert r.exit_code == 0 and "binedge" in r.output
    out = tmp_path / "run"
    r = CliRunner().invoke(main, ["train", "--dataset", "synthetic", "--hidden", "16", "--depth", "1",
                                  "--epochs", "1", "--quiet", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "test accuracy" in r.output and (out / "best.pt").is_file()


@pytest.mark.parametrize("args,code,text", [
    (["--epochs", "0"], 2, "--epochs"),
    (["--weights", "ternary"], 2, "--weights"),
    (["--widths", "a,b"], 2, "--widths"),
    (["--data-dir", "/nonexistent/fmnist"], 1, "/nonexistent/fmnist"),
])
def test_cli_bad_arguments(tmp_path, args, code, text):
    r = CliRunner().invoke(main, ["train", "-o", str(tmp_path / "x"), "--quiet"] + args)
    assert r.exit_code == code, r.output
    assert text in r.output and "Traceback" not in r.output


def test_cli_resume_without_run_is_a_user_error(tmp_path):
    r = CliRunner().invoke(main, ["train", "--dataset", "synthetic", "--resume", "-o", str(tmp_path / "none")])
    assert r.exit_code == 1 and "cannot resume" in r.output


@pytest.mark.slow
def test_short_run_on_real_fashion_mnist(tmp_path):
    cfg = TrainConfig(model=ModelConfig(model="mlp", weights="lab", activation="sign", hidden=128, depth=1),
                      dataset="fashion-mnist", limit=6000, epochs=1, lr=0.005, out=str(tmp_path / "real"))
    s = train(cfg, progress=False, log=lambda *_: None)
    assert s["test_acc"] > 0.7  # chance is 0.1; a 1-epoch binary MLP on 6k images gets ~0.75-0.8


def test_resume_with_more_epochs_extends_the_run(tmp_path):
    train(_cfg(tmp_path, "r", epochs=1), progress=False, log=lambda *_: None)
    s = train(_cfg(tmp_path, "r", epochs=1), resume=True, epochs=2, progress=False, log=lambda *_: None)
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert [m["epoch"] for m in metrics["epochs"]] == [1, 2] and s["best_epoch"] in (1, 2)
    with pytest.raises(TrainError, match="below the 2 epochs already trained .* give 2 or more"):
        train(_cfg(tmp_path, "r"), resume=True, epochs=1, progress=False, log=lambda *_: None)


def test_limit_applies_to_synthetic_data(tmp_path):
    from binedge.train import load_data

    ds = load_data(_cfg(tmp_path, "x", limit=50))
    assert len(ds.train.labels) == 50 and len(ds.test.labels) == 50


def test_cli_idx_data_smaller_than_the_validation_split(tmp_path):
    """A valid MNIST-format --data-dir with fewer training images than the 5,000 the
    validation split takes: one clean line naming the directory, the count and the need."""
    from test_data import write_dataset

    data = tmp_path / "tiny-idx"
    write_dataset(data, gz=False, n_train=100, n_test=20)
    r = CliRunner().invoke(main, ["train", "--dataset", "mnist", "--data-dir", str(data), "--hidden", "8",
                                  "--depth", "1", "--epochs", "1", "--quiet", "-o", str(tmp_path / "run")])
    out = clean_error(r)
    assert str(data) in out and "100 image(s)" in out and "at least 5,001" in out
    assert not (tmp_path / "run").exists()


# ----------------------------------------------------------------------------- option validation


def _train_cli(tmp_path, *args):
    return CliRunner().invoke(main, ["train", "--dataset", "synthetic", "--epochs", "1", "--quiet",
                                     "-o", str(tmp_path / "run"), *args])


@pytest.mark.parametrize("option,value", [("--lr", "inf"), ("--lr", "nan"), ("--gamma", "inf"), ("--gamma", "nan"),
                                          ("--weight-decay", "inf"), ("--weight-decay", "nan")])
def test_cli_non_finite_numbers_are_refused(tmp_path, option, value):
    out = clean_error(_train_cli(tmp_path, "--hidden", "8", "--depth", "1", option, value))
    assert f"{option} {value}" in out and "finite" in out
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("widths,what", [("8,,16", "item 2 is empty"), ("8,16,", "item 3 is empty"),
                                         ("8,x", "not an integer"), ("8,1.5", "not an integer"),
                                         ("8,0", "not positive"), ("8,-4", "not positive"), ("", "item 1 is empty")])
def test_cli_widths_items_must_all_be_positive_integers(tmp_path, widths, what):
    out = clean_error(_train_cli(tmp_path, "--model", "vgg", "--widths", widths), code=2)
    assert "--widths" in out and what in out


def test_cli_widths_too_deep_for_the_image(tmp_path):
    # 28x28 halves to 14, 7, 3, 1, then 0: a fifth max-pool leaves nothing
    out = clean_error(_train_cli(tmp_path, "--model", "vgg", "--widths", "8,8,8,8,8,8", "--fc", "8"))
    assert "--widths 8,8,8,8,8,8" in out and "28x28" in out and "at most 4" in out
    r = _train_cli(tmp_path, "--model", "vgg", "--widths", "2,2,2,2", "--fc", "8")  # 4 is fine
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("args,option", [(["--hidden", "100000000"], "--hidden"),
                                         (["--model", "vgg", "--fc", "100000000"], "--fc"),
                                         (["--model", "vgg", "--widths", "8,100000000"], "--widths"),
                                         (["--model", "ftprop4", "--fc", "70000"], "--fc")])
def test_cli_absurd_widths_are_refused_before_allocating(tmp_path, args, option):
    out = clean_error(_train_cli(tmp_path, *args))
    bad = args[-1].split(",")[-1]
    # the item and the limit as plain numbers: "100,000,000" would read as a --widths list
    assert f"{option}: {bad} units" in out and "at most 65536" in out


def test_model_that_does_not_fit_in_memory_is_refused(tmp_path, monkeypatch):
    """Within the width limit but far beyond the machine: refused with the size options named,
    judged against physical memory (here pretended to be 1 GiB), before anything is allocated."""
    import binedge.models

    monkeypatch.setattr(binedge.models, "physical_memory_bytes", lambda: 2**30)
    out = clean_error(_train_cli(tmp_path, "--hidden", "20000", "--depth", "2"))
    assert "parameters" in out and "1.0 GiB" in out and "--hidden / --depth" in out
    assert not (tmp_path / "run").exists()
    cfg = TrainConfig(model=ModelConfig(model="mlp", hidden=20000, depth=2))
    assert cfg.model.param_count() == 784 * 20000 + 20000 * 20000 + 20000 * 10 + 2 * (2 * 20000 + 10)
    with pytest.raises(TrainError, match="more than this machine's 8.0 GiB"):  # 416 M parameters x 32 B
        cfg.check_memory(available=8 * 2**30)
    cfg.check_memory(available=64 * 2**30)  # fits: no error


@pytest.mark.parametrize("cfg", [ModelConfig(model="mlp", hidden=32, depth=2),
                                 ModelConfig(model="vgg", widths=[4, 8, 8], fc=16),
                                 ModelConfig(model="vgg", widths=[5, 7, 9], fc=20, image_shape=[12, 12, 3]),
                                 ModelConfig(model="ftprop4", fc=24, image_shape=[12, 12, 1])])
def test_param_count_matches_the_built_model(cfg):
    assert cfg.param_count() == sum(p.numel() for p in build_model(cfg).parameters())


def test_build_model_checks_shapes_first():
    from binedge.models import ModelError

    with pytest.raises(ModelError, match="at most 2 width"):
        build_model(ModelConfig(model="vgg", widths=[4, 4, 4], image_shape=[6, 6, 1]))
    with pytest.raises(ModelError, match="4x4"):
        build_model(ModelConfig(model="ftprop4", image_shape=[3, 8, 1]))


# ----------------------------------------------------------------------------- --resume with options


def test_cli_resume_refuses_options_that_differ_from_the_saved_run(tmp_path):
    run = tmp_path / "run"
    base = ["train", "--dataset", "synthetic", "--hidden", "16", "--depth", "1", "--quiet", "-o", str(run)]
    assert CliRunner().invoke(main, base + ["--epochs", "1"]).exit_code == 0
    r = CliRunner().invoke(main, ["train", "--dataset", "synthetic", "--resume", "--epochs", "2", "--hidden", "32",
                                  "--lr", "0.1", "--unweighted", "--depth", "1", "--quiet", "-o", str(run)])
    out = clean_error(r)
    # exactly the options that differ, saved vs given (--depth and --dataset agree; --epochs extends)
    listed = out.split("with other settings: ")[1].split(". --resume")[0]
    assert listed == "--unweighted (saved not set, given set); --hidden (saved 16, given 32); --lr (saved 0.01, given 0.1)"
    metrics = json.loads((run / "metrics.json").read_text())
    assert [m["epoch"] for m in metrics["epochs"]] == [1]  # nothing was trained

    # the saved values given again, --threads / --quiet, and --epochs to extend: allowed
    r = CliRunner().invoke(main, ["train", "--resume", "--dataset", "synthetic", "--hidden", "16", "--lr", "0.01",
                                  "--threads", "1", "--epochs", "2", "--quiet", "-o", str(run)])
    assert r.exit_code == 0, r.output
    metrics = json.loads((run / "metrics.json").read_text())
    assert [m["epoch"] for m in metrics["epochs"]] == [1, 2]


def test_resume_conflicts_lists_each_difference():
    from binedge.train import resume_conflicts

    saved = TrainConfig(model=ModelConfig(model="vgg", widths=[32, 64, 128]), lr=0.01, data_dir="data/x")
    given = TrainConfig(model=ModelConfig(model="vgg", widths=[32, 64, 128], fc=64), lr=0.01, data_dir="./data/x",
                        seed=3)
    assert resume_conflicts(saved, given, ["--widths", "--lr", "--data-dir", "--epochs", "--threads"]) == []
    assert resume_conflicts(saved, given, ["--fc", "--seed", "--model"]) == ["--fc (saved 256, given 64)",
                                                                             "--seed (saved 0, given 3)"]


def test_cuda_graphs_option_on_the_cpu_trains_eagerly_and_equally(tmp_path):
    """--cuda-graphs (the default) only applies to single-process CUDA runs: on the CPU the run
    with it and the run with --no-cuda-graphs are bitwise the same, and GraphedStep hands CPU
    batches to the eager step without capturing (the CUDA side: tests/test_cuda.py)."""
    from binedge.step_graph import GraphedStep

    base = ["train", "--dataset", "synthetic", "--limit", "200", "--hidden", "16", "--depth", "1", "--epochs", "2",
            "--quiet", "--device", "cpu"]
    for name, flag in (("on", "--cuda-graphs"), ("off", "--no-cuda-graphs")):
        r = CliRunner().invoke(main, base + [flag, "-o", str(tmp_path / name)])
        assert r.exit_code == 0, r.output
    a = torch.load(tmp_path / "on" / "last.pt", weights_only=False)["model"]
    b = torch.load(tmp_path / "off" / "last.pt", weights_only=False)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert "cuda_graph_steps" not in json.loads((tmp_path / "on" / "metrics.json").read_text())["epochs"][0]
    calls = []
    runner = GraphedStep(batch_size=4, warmup=0)
    runner.reset(lambda x, y: calls.append(len(x)) or (x.sum(), None, y.sum()))
    out = runner(torch.ones(4, 3), torch.ones(4))
    assert calls == [4] and float(out[0]) == 12 and runner.captures == 0 and runner.replays == 0
