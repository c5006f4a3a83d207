"""benchmarks/frontier.py: a tiny grid end to end (synthetic data, tiny widths, 1 epoch: training,
reuse, one Cortex-M4 export + emulation per deployable twin, the report and the plot), and its
statistics and sentences against numbers computed by hand here on made-up results."""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load():
    spec = importlib.util.spec_from_file_location("frontier", ROOT / "benchmarks" / "frontier.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["frontier"] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


fr = _load()


# ---------------------------------------------------------------------------------- statistics


def test_mean_std_is_the_sample_std():
    assert fr.mean_std([1, 2, 3, 4]) == (2.5, pytest.approx(math.sqrt(5 / 3)))  # Σ(x − 2.5)² = 5, n − 1 = 3
    assert fr.mean_std([90.0]) == (90.0, 0.0)
    m, s = fr.mean_std([])
    assert math.isnan(m) and math.isnan(s)


def test_compare_margin_noise_and_resolution():
    c = fr.compare({0: 92.0, 1: 92.4, 2: 92.8}, {0: 91.5, 1: 91.6, 2: 91.7})
    assert c["margin"] == pytest.approx(0.8) and c["noise"] == pytest.approx(0.4)
    assert c["binary_ahead"] and c["resolved"]
    c = fr.compare({0: 91.0, 1: 92.0}, {0: 91.4, 1: 91.5})  # 91.5 vs 91.45: +0.05 within std 0.707
    assert c["binary_ahead"] and not c["resolved"]
    c = fr.compare({0: 92.0}, {0: 91.0})  # one seed: never resolved
    assert c["margin"] == 1.0 and not c["resolved"]


def _pt(label, precision, accs, instructions, flash):
    m, s = fr.mean_std(accs)
    return {"label": label, "precision": precision, "accs": dict(enumerate(accs)), "mean": m, "std": s,
            "n": len(accs), "instructions": instructions, "flash": flash, "arch": "vgg"}


# Made-up points. By hand (means / sample stds):
#   B1 binary  91.0 91.2 91.4 -> 91.20 ± 0.20,   8 M instr,  80 KiB
#   B2 binary  92.0 92.4 92.8 -> 92.40 ± 0.40,  20 M instr, 120 KiB
#   I1 int8    91.5 91.6 91.7 -> 91.60 ± 0.10,  15 M instr, 200 KiB
#   I2 int8    93.0 93.2 93.4 -> 93.20 ± 0.20,  45 M instr, 700 KiB
#   F  float   94.0 94.0 94.0 -> no cost (left out of every comparison)
B1 = _pt("B1", "binary", [91.0, 91.2, 91.4], 8e6, 80 * 1024)
B2 = _pt("B2", "binary", [92.0, 92.4, 92.8], 20e6, 120 * 1024)
I1 = _pt("I1", "int8", [91.5, 91.6, 91.7], 15e6, 200 * 1024)
I2 = _pt("I2", "int8", [93.0, 93.2, 93.4], 45e6, 700 * 1024)
F = _pt("F", "float", [94.0, 94.0, 94.0], None, None)
POINTS = [I2, B2, F, I1, B1]  # any order


def _brief(vs):
    return [(v["kind"], v["budget"], v["binary"]["label"], v["int8"]["label"],
             None if v["cmp"] is None else round(v["cmp"]["margin"], 6),
             None if v["cmp"] is None else v["cmp"]["resolved"]) for v in vs]


def test_verdicts_at_equal_instructions():
    # budget B1 (8 M): no int8 costs <= 8 M -> binary only, the cheapest int8 is I1
    # budget B2 (20 M): I1 (15 M) fits: 92.40 - 91.60 = +0.80 > max std 0.40 -> binary wins, resolved
    # budget I1 (15 M): binary B1 (8 M) fits: 91.20 - 91.60 = -0.40, |.| > 0.20 -> int8 wins, resolved
    # budget I2 (45 M): B1 and B2 fit, the best is B2: 92.40 - 93.20 = -0.80 > 0.40 -> int8 wins, resolved
    assert _brief(fr.verdicts(POINTS, "instructions")) == [
        ("binary_only", "binary", "B1", "I1", None, None),
        ("binary_wins", "binary", "B2", "I1", 0.8, True),
        ("int8_wins", "int8", "B1", "I1", -0.4, True),
        ("int8_wins", "int8", "B2", "I2", -0.8, True),
    ]


def test_verdicts_at_equal_flash():
    # budget B1 (80 KiB), B2 (120 KiB): no int8 that small (I1 is 200 KiB) -> binary only twice
    # budget I1 (200 KiB): B1 and B2 fit, the best is B2: +0.80 -> binary wins; I2: B2, -0.80 -> int8
    assert _brief(fr.verdicts(POINTS, "flash")) == [
        ("binary_only", "binary", "B1", "I1", None, None),
        ("binary_only", "binary", "B2", "I1", None, None),
        ("binary_wins", "int8", "B2", "I1", 0.8, True),
        ("int8_wins", "int8", "B2", "I2", -0.8, True),
    ]


def test_equal_cost_counts_as_costing_no_more():
    same = _pt("I3", "int8", [90.0, 90.0], 8e6, 80 * 1024)
    vs = fr.verdicts([B1, same], "instructions")
    assert _brief(vs)[0][:4] == ("binary_wins", "binary", "B1", "I3")


def test_verdict_sentences_word_for_word():
    vs = fr.verdicts(POINTS, "instructions")
    assert fr.verdict_sentence(vs[0], "instructions") == (
        "At B1's 8.00 M instructions (91.20 ± 0.20 %) only binary fits: the cheapest int8 twin, I1, needs 1.9× "
        "that (15.00 M instructions, 91.60 ± 0.10 %).")  # 15 / 8 = 1.875
    assert fr.verdict_sentence(vs[1], "instructions") == (
        "At B2's 20.00 M instructions, binary beats int8: 92.40 ± 0.40 % against 91.60 ± 0.10 % for I1, the most "
        "accurate int8 twin costing no more (15.00 M instructions); margin +0.80 points, more than the larger std "
        "(0.40 points).")
    assert fr.verdict_sentence(vs[3], "instructions") == (
        "Against I2 (45.00 M instructions, 93.20 ± 0.20 %), int8 is more accurate than every binary network "
        "costing no more: the best, B2 (20.00 M instructions), reaches 92.40 ± 0.40 %, 0.80 points behind, more "
        "than the larger std (0.40 points).")
    fl = fr.verdicts(POINTS, "flash")
    assert fr.verdict_sentence(fl[2], "flash") == (
        "Against I1 (200.0 KiB, 91.60 ± 0.10 %), binary wins at equal flash: B2 needs 1.7× less (120.0 KiB) and "
        "reaches 92.40 ± 0.40 %; margin +0.80 points, more than the larger std (0.40 points).")  # 200/120 = 1.67


def test_pareto_and_its_sentence():
    # instructions: B1 (8, 91.2) < I1 (15, 91.6) < B2 (20, 92.4) < I2 (45, 93.2): none dominated, kinds alternate
    assert [p["label"] for p in fr.pareto(POINTS, "instructions")] == ["B1", "I1", "B2", "I2"]
    assert fr.pareto_sentence(POINTS, "instructions").endswith("binary and int8 points alternate on it.")
    # flash: I1 (200 KiB, 91.6) is dominated by B2 (120 KiB, 92.4); the front is B1, B2, I2:
    # binary below 700 KiB, then int8 for 93.2 - 92.4 = +0.80 points at 700 / 120 = 5.8x the flash
    assert [p["label"] for p in fr.pareto(POINTS, "flash")] == ["B1", "B2", "I2"]
    assert fr.pareto_sentence(POINTS, "flash") == (
        "Best accuracy for the flash (Pareto frontier, mean accuracy): B1 (80.0 KiB, 91.20 %) → B2 (120.0 KiB, "
        "92.40 %) → I2 (700.0 KiB, 93.20 %); binary holds the frontier below 700.0 KiB, int8 from there on (for "
        "+0.80 points at 5.8× the flash).")
    only_binary = fr.pareto([B1, B2], "flash")
    assert [p["label"] for p in only_binary] == ["B1", "B2"]
    assert "every point on it is binary" in fr.pareto_sentence([B1, B2, I1], "flash")


def test_reduced_run_reasons():
    a = argparse.Namespace(limit=None, epochs=None, augment="recipe", dataset="fashion-mnist")
    full = [dict(B1, n=3, label="x")]
    assert fr.reduced_reasons(a, ["vgg", "resnet"], full) == []
    a = argparse.Namespace(limit=6000, epochs=3, augment="recipe", dataset="fashion-mnist")
    why = fr.reduced_reasons(a, ["vgg"], [dict(B1, n=2, label="VGG binary")])
    assert why[0].startswith("at most 6,000 images per split")
    assert f"{fr.ARCHS['vgg'].label}: 3 instead of 12" in why[1]
    assert why[2] == "fewer than 3 seeds for VGG binary (2)"


@pytest.mark.parametrize("args,text", [
    (["--seeds", "0"], "--seeds"),
    (["--seeds", "a,b"], "--seeds"),
    (["--models", "vgg,alexnet"], "comma-separated subset"),
    (["--epochs", "0"], "--epochs must be a positive integer"),
])
def test_bad_options_are_one_line(capsys, args, text):
    with pytest.raises(SystemExit) as e:
        fr.main(args)
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert text in err[-1] and "Traceback" not in "\n".join(err)


def test_seeds_count_or_list():
    assert fr._seeds("3") == [0, 1, 2]
    assert fr._seeds("5,") == [5]
    assert fr._seeds("2,0,2") == [2, 0]


# ---------------------------------------------------------------------------------- end to end


TINY = ["--dataset", "synthetic", "--limit", "100", "--epochs", "1", "--seeds", "2", "--models", "vgg",
        "--vgg-widths", "4", "--fc", "8", "--deploy-seeds", "1", "--fw-samples", "2", "--agreement-samples", "40"]


def test_tiny_grid_end_to_end(tmp_path, capsys):
    """Train 3 twins × 2 seeds, deploy seed 0's binary and int8 twins on the Cortex-M4 (QEMU),
    write the report and plot; the numbers in the report are the runs' own (read back here)."""
    out, report = tmp_path / "runs", tmp_path / "frontier.md"
    logs: list[str] = []
    args = TINY + ["--out", str(out), "--report", str(report)]
    assert fr.main(args, log=logs.append) == 0
    text = report.read_text()
    assert (tmp_path / "frontier.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "**This is a reduced run**" in text and "fewer than 3 seeds" in text
    for prec in ("binary", "float", "int8"):
        accs = [100 * json.loads((out / "vgg" / prec / f"seed{s}" / "metrics.json").read_text())["best"]["test_acc"]
                for s in (0, 1)]
        m = sum(accs) / 2
        sd = abs(accs[0] - accs[1]) / math.sqrt(2)  # the sample std of two values
        row = next(line for line in text.splitlines() if line.startswith(f"| VGG 4 | {prec}"))
        assert f"**{m:.2f} ± {sd:.2f} %** (n = 2)" in row, row
        assert f"{accs[0]:.2f}, {accs[1]:.2f}" in row
    deployed = {}
    for prec in ("binary", "int8"):
        rec = json.loads((out / "deploy" / f"vgg-{prec}-seed0.json").read_text())
        emu = json.loads((out / "deploy" / f"vgg-{prec}-seed0" / "emulate.json").read_text())
        assert rec["scores_equal_reference"] and emu["scores_equal_reference"] and emu["samples"] == 2
        assert rec["instructions"] == emu["per_inference"]["mean"] > 0
        assert rec["agreement"]["samples"] == 40 and rec["agreement"]["disagree_without_tie"] == 0
        deployed[prec] = rec
        row = next(line for line in text.splitlines() if line.startswith(f"| VGG 4 | {prec}"))
        assert f"{rec['instructions'] / 1e6:.2f} M" in row and f"{rec['flash']:,} B" in row and "| yes |" in row
    assert not (out / "deploy" / "vgg-binary-seed1.json").exists()  # --deploy-seeds 1
    assert deployed["binary"]["binary_macs"] > 0 and deployed["int8"]["binary_macs"] == 0  # all-int8 twin
    assert "does not lower" in next(line for line in text.splitlines() if line.startswith("| VGG 4 | float"))
    assert "### At equal instructions" in text and "### At equal flash" in text and "CMSIS-NN" in text

    # a second invocation reuses every run and every deployment (nothing trained, nothing emulated)
    logs.clear()
    assert fr.main(args + ["--no-train"], log=logs.append) == 0
    assert sum(": reused," in line for line in logs) == 6
    assert not any("instructions per inference" in line for line in logs)
    assert "reused 6 finished runs" in report.read_text()

    # other settings in the same --out: one-line error, nothing overwritten
    before = report.read_bytes()
    capsys.readouterr()
    assert fr.main(TINY + ["--out", str(out), "--report", str(report), "--augment", "crop"], log=logs.append) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "holds a run with other settings" in err[0]
    assert "augment: 'none' (saved) vs 'crop' (now)" in err[0]
    assert report.read_bytes() == before


def test_parallel_training_then_report(tmp_path, capsys):
    """--jobs 3 --train-only trains every cell in its own process (as the sequential grid would:
    the same run directories, logs in OUT/logs/) and deploys nothing; --no-train then deploys and
    reports them, reusing all 6 runs. --no-train with --train-only is a usage error."""
    out, report = tmp_path / "runs", tmp_path / "frontier.md"
    args = TINY + ["--out", str(out), "--report", str(report)]
    logs: list[str] = []
    assert fr.main(args + ["--jobs", "3", "--train-only"], log=logs.append) == 0
    for prec in ("binary", "float", "int8"):
        for s in (0, 1):
            m = json.loads((out / "vgg" / prec / f"seed{s}" / "metrics.json").read_text())
            assert m["epochs"][-1]["epoch"] == 1
            assert (out / "logs" / f"vgg-{prec}-seed{s}.log").is_file()
    assert sum(line.startswith("trained vgg/") for line in logs) == 6
    assert not (out / "deploy").exists() and not report.exists()
    logs.clear()
    assert fr.main(args + ["--no-train"], log=logs.append) == 0
    assert sum(": reused," in line for line in logs) == 6 and "reused 6 finished runs" in report.read_text()
    with pytest.raises(SystemExit) as e:
        fr.main(args + ["--no-train", "--train-only"])
    assert e.value.code == 2

    # a cell that fails in its process fails the whole command, naming the cell and its error
    other = tmp_path / "other"
    cfg = json.loads((out / "vgg" / "float" / "seed1" / "config.json").read_text())
    cfg["lr"] = 0.5
    (other / "vgg" / "float" / "seed1").mkdir(parents=True)
    (other / "vgg" / "float" / "seed1" / "config.json").write_text(json.dumps(cfg))
    bad = TINY + ["--out", str(other), "--report", str(tmp_path / "r2.md"), "--precisions", "float"]
    capsys.readouterr()
    assert fr.main(bad + ["--jobs", "2", "--train-only"], log=logs.append) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "1 training run(s) failed: vgg/float/1 (exit 1" in err[0], err
    assert "holds a run with other settings" in err[0], err
    assert (other / "vgg" / "float" / "seed0" / "metrics.json").is_file()  # the other cell trained
