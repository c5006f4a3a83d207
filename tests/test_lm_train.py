"""Character LSTM training (binedge.lm): truncated BPTT, metrics in nats and bits per character
checked against a one-pass torch.nn.LSTM evaluation, resume, LAB's schedule, the CLI's defaults
and errors, and the refused export."""

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from cli_checks import clean_error
from click.testing import CliRunner
from torch import nn

from binedge.cli import main
from binedge.datasets.text import load_text
from binedge.models import ModelConfig
from binedge.recipe import Schedule
from binedge.train import TrainConfig, TrainError, load_checkpoint, train

QUIET = {"progress": False, "log": lambda *_: None, "threads": 1}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """4,000 characters of a learnable text (a repeated sentence with a counter)."""
    text = "".join(f"line {i % 7}: the quick fox.\n" for i in range(200))[:4000]
    path = tmp_path_factory.mktemp("text") / "c.txt"
    path.write_text(text)
    return path


def _cfg(corpus, out, weights="lab", epochs=2, **kw):
    model = ModelConfig(model="lstm", weights=weights, hidden=kw.pop("hidden", 12), depth=kw.pop("depth", 1))
    base = dict(dataset="text", data_file=str(corpus), batch_size=8, bptt=20, lr=0.01, schedule="none",
                epochs=epochs, out=str(out))
    base.update(kw)
    return TrainConfig(model=model, **base)


def _reference_ce(model, ids, streams_max):
    """Cross-entropy by an independent path: torch.nn.LSTM given the model's (binarized) gate matrices,
    one pass over each whole stream (no chunks), the streams cut by hand."""
    lstm = model.lstm
    vocab, hidden = model.vocab_size, lstm.hidden_size
    ref = nn.LSTM(vocab, hidden, num_layers=lstm.num_layers, batch_first=True)
    with torch.no_grad():
        for k, layer in enumerate(lstm.layers):
            mats = [m.quantized_weight() for m in layer.gate_matrices()]
            getattr(ref, f"weight_ih_l{k}").copy_(torch.cat(mats[:4], 0))
            getattr(ref, f"weight_hh_l{k}").copy_(torch.cat(mats[4:], 0))
            getattr(ref, f"bias_ih_l{k}").copy_(layer.bias)
            getattr(ref, f"bias_hh_l{k}").zero_()
        s = min(streams_max, len(ids) // 2)
        n = len(ids) // s
        x = torch.from_numpy(np.asarray(ids[:s * n]).reshape(s, n))
        h, _ = ref(F.one_hot(x[:, :-1], vocab).float())
        logits = model.out(h)
        return float(F.cross_entropy(logits.reshape(-1, vocab), x[:, 1:].reshape(-1))), s * (n - 1)


def test_train_metrics_nats_and_bits_against_torch_lstm(corpus, tmp_path):
    out = tmp_path / "run"
    summary = train(_cfg(corpus, out, epochs=2), **QUIET)
    metrics = json.loads((out / "metrics.json").read_text())
    epochs = metrics["epochs"]
    assert [m["epoch"] for m in epochs] == [1, 2]
    for m in epochs:
        assert m["val_bpc"] == pytest.approx(m["val_ce"] / math.log(2))
        assert m["test_bpc"] == pytest.approx(m["test_ce"] / math.log(2))
    best = min(epochs, key=lambda m: m["val_ce"])
    assert summary["best_epoch"] == best["epoch"] and summary["test_ce"] == pytest.approx(best["test_ce"])
    assert epochs[-1]["train_loss"] < math.log(load_text(corpus).vocab_size)  # learnt something beyond uniform
    for f in ("config.json", "metrics.json", "best.pt", "last.pt", "curves.png"):
        assert (out / f).stat().st_size > 0
    model, cfg, ck = load_checkpoint(out)
    assert ck["epoch"] == best["epoch"] and cfg.model.model == "lstm" and not model.training
    c = load_text(corpus)
    assert cfg.model.num_classes == c.vocab_size and cfg.data_info["vocab"] == c.vocab
    with torch.no_grad():
        ce, n = _reference_ce(model, c.test, 8)
        assert n == best["test_chars"] == 8 * (200 // 8 - 1)  # 200 test characters, 8 streams of 25
        assert ce == pytest.approx(best["test_ce"], abs=1e-5)
        ce, _ = _reference_ce(model, c.val, 8)
        assert ce == pytest.approx(best["val_ce"], abs=1e-5)


def test_one_optimizer_step_per_bptt_chunk_and_lab_alpha_per_gate_matrix(corpus, tmp_path):
    out = tmp_path / "run"
    train(_cfg(corpus, out, epochs=2), **QUIET)
    last = torch.load(out / "last.pt", weights_only=False)
    # training split: 4000 - 2*200 = 3600 characters, 8 streams of 450: 449 predictions each, in
    # chunks of 20 steps: 23 chunks (22 of 20, one of 9) per epoch.
    steps = {float(s["step"]) for s in last["optimizer"]["state"].values()}
    assert steps == {2 * math.ceil(449 / 20)}
    model, _, _ = load_checkpoint(out)
    alphas = [float(m.kernel_scale) for m in model.lstm.gate_matrices()]
    means = [float(m.weight.detach().abs().mean()) for m in model.lstm.gate_matrices()]
    assert len(alphas) == 8 and len(set(alphas)) == 8
    assert any(abs(a - b) > 1e-6 for a, b in zip(alphas, means))  # LAB's α, not BWN's mean |w|
    assert all(float(m.weight.detach().abs().max()) <= 1.0 for m in model.lstm.gate_matrices())


@pytest.mark.parametrize("weights", ["fp", "binaryconnect", "bwn"])
def test_each_weight_method_trains(corpus, tmp_path, weights):
    summary = train(_cfg(corpus, tmp_path / weights, weights=weights, epochs=1, depth=2, hidden=8), **QUIET)
    assert math.isfinite(summary["test_ce"])
    model, _, _ = load_checkpoint(tmp_path / weights)
    w = model.lstm.layers[1].w_hf.quantized_weight().detach()
    if weights == "fp":
        assert torch.equal(w, model.lstm.layers[1].w_hf.weight)
    else:
        assert w.abs().unique().numel() == 1  # one α for the matrix
        if weights == "binaryconnect":
            assert float(w.abs()[0, 0]) == 1.0


def test_resume_continues_exactly(corpus, tmp_path):
    train(_cfg(corpus, tmp_path / "full", epochs=3, schedule="exp", gamma=0.5, milestones=[1]), **QUIET)
    train(_cfg(corpus, tmp_path / "part", epochs=2, schedule="exp", gamma=0.5, milestones=[1]), **QUIET)
    train(TrainConfig(out=str(tmp_path / "part")), resume=True, epochs=3, **QUIET)
    full = json.loads((tmp_path / "full" / "metrics.json").read_text())["epochs"]
    part = json.loads((tmp_path / "part" / "metrics.json").read_text())["epochs"]
    assert [m["lr"] for m in part] == [0.01, 0.005, 0.0025]
    for a, b in zip(full, part):
        assert a["val_ce"] == b["val_ce"] and a["test_ce"] == b["test_ce"] and a["train_loss"] == b["train_loss"]
    with pytest.raises(TrainError, match=r"--bptt \(saved 20, given 10\)"):
        train(_cfg(corpus, tmp_path / "part", bptt=10), resume=True, epochs=4, explicit=["--bptt"], **QUIET)


def test_exp_schedule_by_hand():
    s = Schedule.create("exp", 2e-3, 0.98, [10], 30)
    lrs = [s.lr_at(i) for i in range(13)]  # 0-based epochs: epochs 1..10 at 2e-3, then ×0.98 per epoch
    assert lrs[:10] == [2e-3] * 10
    assert lrs[10] == pytest.approx(2e-3 * 0.98) and lrs[12] == pytest.approx(2e-3 * 0.98 ** 3)


def test_changed_corpus_refused_on_resume(corpus, tmp_path):
    f = tmp_path / "c.txt"
    f.write_text(corpus.read_text())
    train(_cfg(f, tmp_path / "run", epochs=1), **QUIET)
    f.write_text(corpus.read_text().replace("fox", "cat"))
    from binedge.data import DatasetError

    with pytest.raises(DatasetError, match="changed since the run was trained"):
        train(TrainConfig(out=str(tmp_path / "run")), resume=True, epochs=2, **QUIET)


def test_cli_lstm_defaults_are_labs(monkeypatch, tmp_path):
    seen = {}

    def fake_train(cfg, **kw):
        seen["cfg"] = cfg
        return {"run": cfg.out, "best_epoch": 1, "val_ce": 1.0, "test_ce": 1.0, "val_bpc": 1.4, "test_bpc": 1.4}

    monkeypatch.setattr("binedge.train.train", fake_train)
    r = CliRunner().invoke(main, ["train", "--model", "lstm", "--dataset", "text", "--data-file", "f.txt",
                                  "-o", str(tmp_path / "r")])
    assert r.exit_code == 0, r.output
    cfg = seen["cfg"]
    assert (cfg.model.hidden, cfg.model.depth, cfg.lr, cfg.schedule, cfg.gamma, cfg.milestones) == \
        (512, 1, 2e-3, "exp", 0.98, [10.0])
    assert (cfg.batch_size, cfg.bptt, cfg.grad_clip, cfg.model.weights) == (100, 100, 5.0, "lab")
    assert "test cross-entropy 1.0000 nats/char" in r.output
    r = CliRunner().invoke(main, ["train", "--model", "lstm", "--dataset", "text", "--data-file", "f.txt",
                                  "--hidden", "64", "--lr", "0.01", "--schedule", "none", "-o", str(tmp_path / "r")])
    assert r.exit_code == 0 and (seen["cfg"].model.hidden, seen["cfg"].lr, seen["cfg"].schedule) == (64, 0.01, "none")
    r = CliRunner().invoke(main, ["train", "--model", "lstm", "--data-file", "f.txt", "-o", str(tmp_path / "r")])
    assert r.exit_code == 0 and seen["cfg"].dataset == "text" and seen["cfg"].data_file == "f.txt"


def test_cli_errors(corpus, tmp_path):
    run = CliRunner().invoke
    base = ["train", "--model", "lstm", "--dataset", "text", "--quiet", "-o", str(tmp_path / "r")]
    out = clean_error(run(main, base + ["--data-file", str(tmp_path / "missing.txt")]))
    assert "missing.txt: no such file" in out and "Fix:" in out
    out = clean_error(run(main, base + ["--data-file", str(corpus), "--hidden", "8"]))  # 3,600 < 100 x 101
    assert "c.txt: holds 4,000 characters" in out and "--batch-size 35 or less" in out
    out = clean_error(run(main, base[:3] + ["-o", str(tmp_path / "r")]))
    assert "--dataset text --data-file FILE" in out
    assert clean_error(run(main, base + ["--data-file", str(corpus), "--augment", "crop"]), 2)
    assert "--bptt" in clean_error(run(main, ["train", "--model", "mlp", "--bptt", "10", "-o", str(tmp_path / "m")]),
                                   2)
    out = clean_error(run(main, ["train", "--model", "mlp", "--dataset", "text", "-o", str(tmp_path / "m")]), 2)
    assert "--dataset text" in out
    assert not (tmp_path / "r").exists() and not (tmp_path / "m").exists()


def test_export_of_lstm_run(corpus, tmp_path):
    """A binary-weight run exports (blob; the integer path equals the reference), binedge inspect
    reads it; a full-precision run is refused in one line and nothing is written."""
    run_dir = tmp_path / "run"
    train(_cfg(corpus, run_dir, epochs=1, hidden=4), **QUIET)
    out = tmp_path / "exported"
    r = CliRunner().invoke(main, ["export", str(run_dir), "-o", str(out), "--format", "blob", "--samples", "100"])
    assert r.exit_code == 0, r.output
    assert "int32 scores equal" in r.output and (out / "model.bnm").is_file()
    report = json.loads((out / "report.json").read_text())
    assert report["agreement"]["samples"] == 100 and report["agreement"]["pytorch_integer_scores_equal"]
    r = CliRunner().invoke(main, ["inspect", str(run_dir)])
    assert r.exit_code == 0 and "LSTM [binary w, character id in" in r.output, r.output
    text = clean_error(CliRunner().invoke(main, ["export", str(run_dir), "-o", str(tmp_path / "t"), "--format",
                                                 "tflite"]))
    assert "no LiteRT export" in text and not (tmp_path / "t").exists()

    fp_dir = tmp_path / "fp"
    train(_cfg(corpus, fp_dir, weights="fp", epochs=1, hidden=4), **QUIET)
    before = sorted(p.name for p in tmp_path.iterdir())
    for extra in ([], ["--target", "cortex-m4"]):
        text = clean_error(CliRunner().invoke(main, ["export", str(fp_dir), "-o", str(tmp_path / "x")] + extra))
        assert "is not binary (full precision)" in text and "--weights binaryconnect, bwn or lab" in text
        assert len([line for line in text.splitlines() if line.strip()]) == 1
        assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written, not even a temporary
    from binedge.export import ExportError, export_run

    with pytest.raises(ExportError, match="is not binary"):
        export_run(fp_dir, tmp_path / "x")


def test_cli_resume_needs_no_options(corpus, tmp_path):
    run_dir = tmp_path / "run"
    train(_cfg(corpus, run_dir, epochs=1, hidden=4), **QUIET)
    r = CliRunner().invoke(main, ["train", "--resume", "-o", str(run_dir), "--epochs", "2", "--quiet",
                                  "--threads", "1"])
    assert r.exit_code == 0, r.output
    assert "nats/char" in r.output
    assert [m["epoch"] for m in json.loads((run_dir / "metrics.json").read_text())["epochs"]] == [1, 2]
    out = clean_error(CliRunner().invoke(main, ["train", "--model", "lstm", "--dataset", "text", "--data-file",
                                                str(corpus), "--nproc", "2", "-o", str(tmp_path / "x")]), 2)
    assert "not built yet" in out and not (tmp_path / "x").exists()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device: the LSTM's GPU path is checked where one is")
def test_cuda_training_agrees_with_cpu(corpus, tmp_path):
    cpu = train(_cfg(corpus, tmp_path / "cpu", epochs=1), device="cpu", **QUIET)
    gpu = train(_cfg(corpus, tmp_path / "gpu", epochs=1), device="cuda", **QUIET)
    assert json.loads((tmp_path / "gpu" / "metrics.json").read_text())["epochs"][0]["device"] == "cuda"
    assert gpu["test_ce"] == pytest.approx(cpu["test_ce"], abs=1e-3)  # float summation order differs


def test_image_run_configs_keep_their_keys():
    """An image run's config.json has no character-model fields, so grid scripts comparing saved
    configs key by key (binedge.runs.config_differences) still reuse runs saved before them."""
    from binedge.runs import config_differences
    from binedge.train import TEXT_FIELDS

    image = TrainConfig().to_dict()
    assert not set(TEXT_FIELDS) & set(image)
    lstm = TrainConfig(model=ModelConfig(model="lstm"), dataset="text", data_file="f.txt").to_dict()
    assert (lstm["data_file"], lstm["bptt"], lstm["grad_clip"]) == ("f.txt", 100, 5.0)
    assert config_differences(image, TrainConfig.from_dict(image).to_dict()) == []
