"""A non-image model end to end: a dense classifier over int8 feature vectors.

    .venv/bin/python examples/tabular/tabular.py [--epochs 30] [--samples 4000] [--seed 0]
    .venv/bin/python examples/tabular/tabular.py --target cortex-m4 --out fw-tabular   # + firmware

The data is a generated tabular set (no download, no extra dependency): 24 features per row —
Gaussian, log-normal, uniform, a few near-binary indicators, on very different scales — and 3
classes decided by a noisy non-linear rule of 6 of them. The features are standardised with the
training split's mean / standard deviation and coded as int8 with one fixed scale and zero point:
q = clamp(round_half_up(z / 0.0625), -128, 127), so the model sees 0.0625·q, exactly what the
deployed program reads (a graph input of kind i8, binedge.graph.TensorSpec("i8", (24,), 0.0625, 0)).

The model (trained through the Python API with binedge.optim.LAB; no run directory, no CLI):

    int8 Dense 24->64 -> BatchNorm -> sign -> binary Dense 64->64 (LAB) -> BatchNorm -> QuantInt8
    -> int8 Dense 64->3 (the scores)

``binedge.convert`` lowers it with the i8 input spec; the script prints the test accuracy of
PyTorch and of the integer reference and their agreement (ties counted, binedge.agreement).
With ``--target`` it also writes the firmware project for that target (binedge.firmware, the
first 64 test rows as its test inputs), builds it and runs it (binedge.emulate: under QEMU for the
ARM targets, natively for x86_64), which checks every score against the reference bit for bit.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from binedge import convert, reference
from binedge.agreement import agreement, torch_input
from binedge.graph import TensorSpec
from binedge.nn import BinaryLinear, QuantInt8
from binedge.optim import LAB

FEATURES = 24
CLASSES = 3
SCALE = 0.0625  # int8 code step of the standardised features: ±8 standard deviations


def make_table(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(features float64 (n, 24), labels int64 (n,)): a deterministic, learnable mixed-type table."""
    rng = np.random.default_rng(seed)
    cols = [rng.normal(0, 1, n) * 3 + 10, rng.lognormal(0, 1, n), rng.uniform(-5, 5, n), rng.normal(0, 20, n),
            (rng.random(n) < 0.3).astype(float), rng.exponential(2.0, n)]
    x = np.stack(cols + [rng.normal(0, 1, n) * s for s in rng.uniform(0.1, 50, FEATURES - len(cols))], axis=1)
    score = np.stack([
        (x[:, 0] - 10) / 3 + 0.8 * np.sin(x[:, 2]) - 0.5 * x[:, 4],
        np.log(x[:, 1]) + 0.03 * x[:, 3] - 0.2 * x[:, 5],
        0.4 * np.abs(x[:, 2]) - 1.0 + 0.5 * x[:, 4] * np.log1p(x[:, 5]),
    ], axis=1) + rng.normal(0, 0.35, (n, CLASSES))
    return x, score.argmax(1).astype(np.int64)


def to_codes(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Standardise, then int8 codes with the fixed scale (round half up, as the graph rounds)."""
    z = (x - mean) / std / SCALE
    return np.clip(np.floor(z + 0.5), -128, 127).astype(np.int8)


class TabularNet(nn.Module):
    def __init__(self, hidden: int = 64):
        super().__init__()
        self.fc1 = BinaryLinear(FEATURES, hidden, kernel_quantizer="int8")
        self.bn1 = nn.BatchNorm1d(hidden)
        self.fc2 = BinaryLinear(hidden, hidden, bias=False, kernel_quantizer="lab", input_quantizer="sign")
        self.bn2 = nn.BatchNorm1d(hidden)
        self.q = QuantInt8()
        self.fc3 = BinaryLinear(hidden, CLASSES, kernel_quantizer="int8")

    def forward(self, x):
        return self.fc3(self.q(self.bn2(self.fc2(self.bn1(self.fc1(x))))))


def train_and_convert(epochs: int = 30, samples: int = 4000, seed: int = 0):
    """(model, graph, test codes int8 (1000, 24), test labels): train on ``samples`` rows, convert."""
    torch.manual_seed(seed)
    x, y = make_table(samples + 1000, seed)
    x_train, y_train, x_test, y_test = x[:samples], y[:samples], x[samples:], y[samples:]
    mean, std = x_train.mean(0), x_train.std(0) + 1e-12
    spec = TensorSpec("i8", (FEATURES,), scale=SCALE, zero_point=0)
    q_train, q_test = to_codes(x_train, mean, std), to_codes(x_test, mean, std)
    xt, yt = torch_input(spec, q_train), torch.from_numpy(y_train)
    model = TabularNet()
    opt = LAB(model, lr=0.005)
    for epoch in range(epochs):
        model.train()
        order = torch.from_numpy(np.random.default_rng([seed, epoch]).permutation(samples))
        for i in range(0, samples, 100):
            idx = order[i:i + 100]
            loss = F.cross_entropy(model(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    graph = convert(model, torch.zeros(1, FEATURES), input_spec=spec, class_names=["a", "b", "c"],
                    metadata={"example": "tabular", "features": FEATURES})
    return model, graph, q_test, y_test


def deploy(graph, codes: np.ndarray, labels: np.ndarray, *, target: str, out_dir) -> dict:
    """Write, build and run the firmware of ``graph`` for ``target`` with ``codes`` as its test
    inputs; returns binedge.emulate's report (raises MismatchError if a score is not bit-exact)."""
    from binedge.emulate import emulate
    from binedge.firmware import write_firmware

    write_firmware(graph, out_dir, target=target, images=codes, labels=labels)
    return emulate(out_dir)


def run(epochs: int = 30, samples: int = 4000, seed: int = 0, log=print, target: str | None = None,
        out_dir=None) -> dict:
    """Train, convert and compare (and with ``target``, deploy to ``out_dir``); returns the report
    (accuracies, agreement, graph ops; ``firmware``: the emulation's summary)."""
    model, graph, q_test, y_test = train_and_convert(epochs, samples, seed)
    rep = agreement(model, graph, q_test, y_test)
    rep["ops"] = [type(op).__name__ for op in graph.ops]
    rep["reference_scores_shape"] = list(reference.run(graph, q_test[:2]).shape)
    log(f"graph: {' -> '.join(rep['ops'])} (input int8 (24,), scale {SCALE})")
    log(f"test accuracy: PyTorch {rep['torch_accuracy']:.4f}, integer reference {rep['reference_accuracy']:.4f}; "
        f"agreement {rep['agree']}/{rep['samples']}, ties {rep['ties']}, disagreements without a tie "
        f"{rep['disagree_without_tie']}")
    if target is not None:
        emu = deploy(graph, q_test[:64], y_test[:64], target=target, out_dir=out_dir)
        rep["firmware"] = {k: emu[k] for k in ("target", "samples", "scores_equal_reference",
                                               "misaligned_input_mismatches", "accuracy")}
        log(f"firmware for {target} in {out_dir}: {emu.get('samples')} test rows, scores bit-exact with the "
            f"reference: {emu['scores_equal_reference']}")
    return rep


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--samples", type=int, default=4000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--target", help="also deploy: write, build and run the firmware for this target")
    p.add_argument("--out", default="fw-tabular", help="the firmware directory (with --target)")
    a = p.parse_args(argv)
    rep = run(a.epochs, a.samples, a.seed, target=a.target, out_dir=a.out)
    if a.json:
        print(json.dumps(rep, indent=2))
    return 0 if rep["disagree_without_tie"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
