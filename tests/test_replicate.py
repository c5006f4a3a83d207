"""examples/replicate/replicate.py: the reduced grid end to end, resume/reuse, and the statistics
and claim sentences checked against hand computations on made-up numbers."""

import importlib.util
import json
import math
import sys
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "replicate" / "replicate.py"


@pytest.fixture(scope="module")
def rep():
    spec = importlib.util.spec_from_file_location("replicate", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["replicate"] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    yield mod
    sys.modules.pop("replicate", None)


@pytest.fixture
def tiny_synthetic(monkeypatch):
    """The synthetic set at 60/30/30 samples (train() ignores --limit for synthetic data), so the
    ftprop4 convnet, whose 32/64 channels are fixed, keeps the grid well under the time limit on a
    busy machine; no per-run curves.png (matplotlib is the other fixed cost of each of the 28 runs)."""
    import binedge.train as train_mod
    from binedge.data import synthetic_dataset

    monkeypatch.setattr(train_mod, "load_data",
                        lambda cfg, **_: synthetic_dataset(n_train=60, n_val=30, n_test=30, seed=cfg.seed))
    monkeypatch.setattr(train_mod, "plot_curves", lambda metrics, path: None)


TINY = ["--dataset", "synthetic", "--epochs", "1", "--seeds", "0,1", "--groups", "a,b,c",
        "--hidden", "8", "--depth", "1", "--widths", "2,2,2", "--fc", "4", "--ftprop-fc", "4"]


def test_reduced_grid_writes_every_row_and_the_plot(rep, tmp_path, tiny_synthetic):
    report, out = tmp_path / "RESULTS.md", tmp_path / "runs"
    argv = TINY + ["--out", str(out), "--report", str(report)]
    t0 = time.time()
    lines = []
    assert rep.main(argv, log=lines.append) == 0, lines[-5:]
    assert time.time() - t0 < 40
    text = report.read_text()
    assert "python examples/replicate/replicate.py --dataset synthetic" in text
    assert "reduced run" in text and "datasets differ" in text and "unverified" in text
    assert "train acc. % then (mean)" in text  # under-training is visible beside the test accuracy
    for group in rep.GROUPS.values():
        assert group.title in text
        for cfg in group.configs:
            rows = [line for line in text.splitlines() if line.startswith(f"| {cfg.label} |")]
            assert len(rows) == 1, cfg.label
            assert (out / group.key / cfg.key / "seed0" / "metrics.json").is_file()
            assert (out / group.key / cfg.key / "seed1" / "best.pt").is_file()
    # the papers' numbers sit beside ours
    assert "1.170 / 10.500 / 2.354" in text and "80.6 / 84.6 / 46.7 / 49.1" in text and "1.380 (MNIST" in text
    assert "## Agreement with the papers' claims" in text
    for claim in ("**LAB ≥ BWN**", "**BWN ≥ BinaryConnect**", "**sign: FTP-SH ≥ SSTE**", "**qrelu: FTP-SH ≥ SSTE**",
                  "**MLP: FTP-SH ≥ SSTE**", "**VGG: FTP-SH ≥ SSTE**", "The chain LAB ≥ BWN ≥ BinaryConnect"):
        assert claim in text
    plot = tmp_path / "RESULTS.png"
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # Re-running reuses the finished runs (no training), and the table is unchanged.
    import binedge.train as train_mod

    def no_training(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    lines = []
    orig = train_mod.train
    train_mod.train = no_training
    try:
        assert rep.main(argv, log=lines.append) == 0
    finally:
        train_mod.train = orig
    assert sum("reused" in line for line in lines) == 28
    assert report.read_text().split("- 28 runs")[0] == text.split("- 28 runs")[0]


def test_interrupted_run_is_resumed_and_other_settings_refused(rep, tmp_path, tiny_synthetic):
    out = tmp_path / "runs"
    base = ["--dataset", "synthetic", "--seeds", "0", "--groups", "a", "--hidden", "8", "--depth", "1",
            "--out", str(out), "--report", str(tmp_path / "R.md")]

    def die_after_epoch_1(msg):
        if "epoch 1:" in msg:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rep.main(base + ["--epochs", "2"], log=die_after_epoch_1)
    run = out / "a" / "fp" / "seed0"
    assert json.loads((run / "metrics.json").read_text())["epochs"][-1]["epoch"] == 1
    lines = []
    assert rep.main(base + ["--epochs", "2"], log=lines.append) == 0
    assert any("a/fp/seed0: resumed" in line for line in lines)
    assert json.loads((run / "metrics.json").read_text())["epochs"][-1]["epoch"] == 2
    # A finished grid asked for with other settings is an error, not silently reused.
    assert rep.main(base + ["--epochs", "3"], log=lambda *_: None) == 1


def test_mean_std_by_hand(rep):
    # mean of 1, 2, 3, 4 is 2.5; squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5; / (n - 1) = 5/3.
    m, s = rep.mean_std([1, 2, 3, 4])
    assert m == pytest.approx(2.5) and s == pytest.approx(math.sqrt(5 / 3))
    assert rep.mean_std([7.0]) == (7.0, 0.0)


MADE_UP = {
    "a": {"lab": {0: 90.0, 1: 91.0, 2: 92.0},          # mean 91.0, std 1.0
          "bwn": {0: 89.0, 1: 89.5, 2: 90.0},          # mean 89.5, std 0.5
          "binaryconnect": {0: 89.0, 1: 90.0, 2: 91.0},  # mean 90.0, std 1.0
          "fp": {0: 95.0, 1: 95.0, 2: 95.0}},          # mean 95.0, std 0.0
    "b": {"sign-sste": {0: 80.0, 1: 82.0, 2: 84.0},    # mean 82.0, std 2.0
          "sign-ftprop": {0: 81.0, 1: 83.0, 2: 85.0},  # mean 83.0, std 2.0
          "qrelu2-sste": {0: 85.0, 1: 85.0, 2: 85.0},  # mean 85.0, std 0.0
          "qrelu2-ftprop": {0: 88.0, 1: 88.0, 2: 88.0}},  # mean 88.0, std 0.0
}


def _results(made_up):
    return {g: {k: {s: {"test": v} for s, v in seeds.items()} for k, seeds in cfgs.items()}
            for g, cfgs in made_up.items()}


def test_compare_and_claim_sentences_by_hand(rep):
    c = rep.compare(MADE_UP["a"]["lab"], MADE_UP["a"]["bwn"])
    # margin 91.0 - 89.5 = 1.5 > max(1.0, 0.5): holds, resolved; per seed 90>89, 91>89.5, 92>90.
    assert c["margin"] == pytest.approx(1.5) and c["noise"] == pytest.approx(1.0)
    assert c["holds"] and c["exceeds"] and c["seed_wins"] == 3 and c["seeds"] == 3
    c2 = rep.compare(MADE_UP["a"]["bwn"], MADE_UP["a"]["binaryconnect"])
    # margin 89.5 - 90.0 = -0.5, within std 1.0; per seed 89>=89 yes, 89.5>=90 no, 90>=91 no.
    assert c2["margin"] == pytest.approx(-0.5) and not c2["holds"] and not c2["exceeds"] and c2["seed_wins"] == 1

    text = "\n".join(rep.claims(_results(MADE_UP)))
    assert ("**LAB ≥ BWN** — ours: holds in our means (LAB 91.00 ± 1.00 % vs BWN 89.50 ± 0.50 %; "
            "margin +1.50 points); the margin exceeds the larger std (1.00 points); per seed, LAB ≥ BWN in 3 of 3.") in text
    assert ("**BWN ≥ BinaryConnect** — ours: does not hold in our means (BWN 89.50 ± 0.50 % vs BinaryConnect "
            "90.00 ± 1.00 %; BinaryConnect is ahead by 0.50 points); the margin is within the larger std "
            "(1.00 points), so these seeds do not resolve the difference; per seed, BWN ≥ BinaryConnect in 1 of 3.") in text
    assert "The chain LAB ≥ BWN ≥ BinaryConnect does not hold in our means (broken link: BWN ≥ BinaryConnect)." in text
    # the paper side, read off LAB's table: errors 1.17 < 1.20 < 1.28 on MNIST; CIFAR-10 BinaryConnect 9.86 lowest
    assert "LAB paper: holds on MNIST (1.17 vs 1.2 % error)" in text
    assert "In the LAB paper's own table the chain holds on MNIST; does not hold on CIFAR-10, SVHN." in text
    # LAB 91.0 vs fp 95.0: fp ahead by 4.00, more than max(1.0, 0.0)
    assert "full precision is ahead by 4.00 points); the margin exceeds the larger std (1.00 points)" in text
    # sign: 83 - 82 = +1.0 within std 2.0; qrelu: 88 - 85 = +3.0, stds 0 -> resolved
    assert ("**sign: FTP-SH ≥ SSTE** — ours: holds in our means (FTP-SH 83.00 ± 2.00 % vs SSTE 82.00 ± 2.00 %; "
            "margin +1.00 points); the margin is within the larger std (2.00 points)") in text
    assert "**qrelu: FTP-SH ≥ SSTE** — ours: holds in our means" in text and "margin +3.00 points); the margin exceeds" in text
    assert "gain over SSTE is larger for qrelu: +3.00 points for qrelu, +1.00 for sign." in text
    # FTPROP's recalled table: 4-layer qrelu 85.5 < 85.6 SSTE
    assert "does not hold on 4-layer CIFAR-10 (85.5 vs 85.6 %)" in text
    assert "(c)" not in text  # no group-c numbers, no group-c claims


def test_single_seed_says_there_is_no_spread(rep):
    c = rep.compare({0: 90.0}, {0: 89.0})
    assert "with a single seed there is no spread" in rep.our_sentence("A", "B", c)
