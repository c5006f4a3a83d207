"""benchmarks/train_seeds.py: seeds in parallel, epochs sized by a probe to a time budget."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "train_seeds.py"
TINY = ["--model", "mlp", "--hidden", "16", "--depth", "1", "--dataset", "synthetic", "--threads", "1",
        "--device", "cpu", "--lr", "0.01", "--schedule", "cosine"]


def run(*args, timeout=240):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout)


def test_probe_sizes_the_runs_and_the_summary_matches_the_trainers_own_records(tmp_path):
    runs, pack = tmp_path / "runs", tmp_path / "pack"
    r = run("--seeds", "3,5", "--budget", 40, "--max-epochs", 4, "--runs", runs, "--pack", pack, "--", *TINY)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "probe:" in r.stdout and "mean of 2 finished seed(s)" in r.stdout
    summary = json.loads((runs / "summary.json").read_text())
    planned = summary["planned_epochs"]
    assert 2 <= planned <= 4 and summary["finished"] == 2
    tests = []
    for seed in (3, 5):
        metrics = json.loads((runs / f"seed{seed}" / "metrics.json").read_text())
        config = json.loads((runs / f"seed{seed}" / "config.json").read_text())
        assert config["seed"] == seed and config["epochs"] == planned == len(metrics["epochs"])
        row, best = summary["seeds"][str(seed)], metrics["best"]  # the trainer's own selection
        assert (row["best_epoch"], row["val_acc"], row["test_acc"]) == (best["epoch"], best["val_acc"],
                                                                         best["test_acc"])
        tests.append(best["test_acc"])
        with tarfile.open(pack / f"seed{seed}.tar.gz") as t:
            assert {f"seed{seed}/metrics.json", f"seed{seed}/config.json", f"seed{seed}.log"} <= set(t.getnames())
    assert summary["mean_test_acc"] == pytest.approx(statistics.fmean(tests))
    assert summary["std_test_acc"] == pytest.approx(statistics.stdev(tests))
    assert (runs / "seed3" / "best.pt").stat().st_size > 0


@pytest.mark.parametrize("args, needle", [
    (["--budget", 30, "--runs", "x", "--model", "mlp"], "after '--'"),
    (["--budget", 30, "--runs", "x", "--", "--model", "mlp", "--seed", "1"], "--seed is set by this script"),
    (["--runs", "x", "--", "--model", "mlp"], "exactly one of --budget"),
    (["--budget", 30, "--epochs", 3, "--runs", "x", "--", "--model", "mlp"], "exactly one of --budget"),
    (["--seeds", "1,1", "--epochs", 3, "--runs", "x", "--", "--model", "mlp"], "different seeds"),
    (["--epochs", 3, "--max-epochs", 2, "--runs", "x", "--", "--model", "mlp"], "goes with --budget"),
])
def test_bad_arguments_exit_2_with_a_message(args, needle):
    r = run(*args)
    assert r.returncode == 2 and needle in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_a_failing_run_exits_1_and_shows_its_log(tmp_path):
    r = run("--seeds", "0", "--epochs", 2, "--runs", tmp_path / "runs", "--", "--model", "no-such-model",
            "--dataset", "synthetic", "--device", "cpu")
    assert r.returncode == 1
    assert "seed 0 failed" in r.stdout and "no-such-model" in r.stdout
