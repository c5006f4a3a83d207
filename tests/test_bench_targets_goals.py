"""benchmarks/bench_targets.py's goal verdicts, on made-up rows (no boards run)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import bench_targets as bt  # noqa: E402


def _layer(index, name, op, ipm, macs=1000):
    return {"index": index, "name": name, "op": op, "kernel": "lanes", "binary_macs": macs,
            "instructions_per_binary_mac": ipm, "value": (ipm or 0.0) * macs}


BIN = "Conv2d [binary w, bits sign in -> thresholds]"
U8 = "Conv2d [binary w, u8 in -> thresholds]"


def test_neon_goal_counts_binary_layers_of_64_or_more_input_channels():
    rows = [{"target": "aarch64-virt", "status": "ok", "model": "m",
             "layers": [_layer(0, "conv0", U8, 0.40),        # u8 input: not a binary layer
                        _layer(1, "conv1", BIN, 0.20),       # 32 input channels: outside the goal
                        _layer(2, "conv2", BIN, 0.049),      # 64: met
                        _layer(3, "conv3", BIN, 0.051),      # 80: not met
                        _layer(4, "pool", "MaxPool2d", None)]},
            {"target": "cortex-m4", "status": "ok", "model": "m", "layers": [_layer(3, "conv3", BIN, 0.9)]}]
    models = {"m": {"in_channels": [1, 32, 64, 80, 80]}}
    text = "\n".join(bt._neon_goal(rows, models))
    assert "**1 of 2 at or under 0.05.**" in text
    assert "m/conv3 0.051" in text and "conv1" not in text and "conv0" not in text
    assert text.count("| m | conv") == 2
