"""Summarise `binedge export` reports of trained models into benchmarks/export_check.md.

    .venv/bin/python benchmarks/export_check.py runs/deploy/*-export [-o benchmarks/export_check.md]

Each export directory holds report.json, written by `binedge export RUN -o DIR` with the check on
the whole Fashion-MNIST test set (PyTorch eval mode vs the integer reference; onnxruntime vs the
reference). The command that made the runs is examples/deploy_models.sh.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from binedge.fileio import atomic_write_bytes  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("exports", nargs="+")
    p.add_argument("-o", "--out", default="benchmarks/export_check.md")
    a = p.parse_args(argv)
    lines = ["# Trained models: lowering, reference, ONNX and LiteRT on the whole test set", "",
             "Made by `bash examples/deploy_models.sh` (trains and exports) and "
             f"`python benchmarks/export_check.py {' '.join(a.exports)}`.", "",
             "| model | test images | reference accuracy | PyTorch accuracy | predictions agree | samples with a "
             "threshold tie | disagreements without a tie | ONNX scores == reference | LiteRT scores == reference "
             "| blob B | ONNX B | ONNX bound B | .tflite B | packed weights + thresholds B |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for d in a.exports:
        r = json.loads((Path(d) / "report.json").read_text())
        ag, f, t = r["agreement"], r["files"], r["totals"]
        cfg = json.loads((Path(r["run"]) / "config.json").read_text())["model"]
        name = f"{Path(r['run']).name} ({cfg['model']}, {cfg['weights']}, {cfg['activation']})"
        lines.append(
            f"| {name} | {ag['samples']:,} | {ag['reference_accuracy']:.4f} | {ag['torch_accuracy']:.4f} | "
            f"{ag['agree']:,} ({100 * ag['agreement']:.2f}%) | {ag['ties']} | {ag['disagree_without_tie']} | "
            f"{f['onnx']['scores_equal_reference']} | {f['tflite']['scores_equal_reference']} | "
            f"{f['blob']['bytes']:,} | {f['onnx']['bytes']:,} | {f['onnx']['size_bound']:,} | "
            f"{f['tflite']['bytes']:,} | {t['weight_bytes'] + t['threshold_bytes']:,} |")
    lines += ["", "A tie: some hard-threshold unit's pre-activation in PyTorch lies within 1e-5 (relative) of its",
              "threshold, where float32 rounding may decide differently from the exact integer graph.",
              "ONNX bound: 1.10 × (packed weight bytes + threshold bytes) + 16 KiB (issue #4).", ""]
    atomic_write_bytes(Path(a.out), "\n".join(lines).encode())
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
