"""Per-layer instruction counts (QEMU -icount: executed instructions, not cycles) of two models on
the Cortex-M boards, to see what the elementwise and pooling ops cost (docs/kernels.md
"Elementwise and pooling ops"):

  resnet   a small binary ResNet built with tests/dags.py's DagBuilder, the shape of issue 13's
           blocks (small enough for the Cortex-M0's 16 KiB RAM): u8 image 8x8x1 -> int8 stem
           conv 3x3 -> 8 channels i8; two blocks
           x = Merge(x, binary conv 3x3 (AccStage) of Threshold(x)) rounded to i8; a block with
           an int8 residual Add; 2x2 average pooling, an int8 1x1 conv to 16 channels, a block whose
           Merge thresholds to sign bits, a binary 1x1 conv, a max pool on i8 codes; global
           average pooling; an int8 Dense to the scores.
  RUN      a trained run directory (e.g. runs/custom, examples/custom_model): exported as
           firmware with binedge.firmware (what `binedge export RUN --target T` writes).

    .venv/bin/python scripts/profile_elementwise.py resnet --targets cortex-m0 cortex-m4 cortex-m55
    .venv/bin/python scripts/profile_elementwise.py runs/custom --targets cortex-m4 --samples 32
    ... --runtime-rev HEAD~3   # the C runtime of another git revision (a "before" measurement)
    .venv/bin/python scripts/profile_elementwise.py seeds --out DIR  # fuzzer seeds (docs/fuzzing.md):
                                                   # the resnet graph, 4 random typed DAGs with a Merge

Prints per target the instructions per inference and the table of `binedge emulate` (kernel and
instructions of every op); with --json FILE writes the emulate results. Firmware directories go
under build/profile_ew/ (rebuilt every run).
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def resnet_graph(seed: int = 13):
    from dags import DagBuilder

    from binedge.graph import TensorSpec

    rng = np.random.default_rng(seed)
    b = DagBuilder(rng, TensorSpec("u8", (8, 8, 1), scale=1 / 255, zero_point=0))
    x = b.conv("input", 8, (3, 3), (1, 1), (1, 1, 1, 1), weight_kind="int8")
    for _ in range(2):  # x + conv(sign(x)), merged exactly and rounded to i8
        y = b.conv(b.threshold(x), 8, (3, 3), (1, 1), (1, 1, 1, 1), weight_kind="binary", stage="acc")
        x = b.merge(x, y, output="round")
    y = b.conv(b.threshold(x), 8, (3, 3), (1, 1), (1, 1, 1, 1), weight_kind="binary")  # requantized to i8
    x = b.add(x, y)
    x = b.avgpool(x, (2, 2), (2, 2))
    x = b.conv(x, 16, (1, 1), (1, 1), (0, 0, 0, 0), weight_kind="int8")
    y = b.conv(b.threshold(x), 16, (3, 3), (1, 1), (1, 1, 1, 1), weight_kind="binary", stage="acc")
    bits = b.merge(x, y, output="threshold", encoding="sign")
    x = b.conv(bits, 16, (1, 1), (1, 1), (0, 0, 0, 0), weight_kind="binary")  # requantized to i8
    x = b.maxpool(x, (2, 2), (1, 1))
    h, w, _ = b.specs[x].shape
    x = b.avgpool(x, (h, w), (1, 1))
    x = b.flatten(x)
    b.dense(x, 10, weight_kind="int8", scores=True)
    g = b.graph
    g.class_names = [f"class{i}" for i in range(10)]
    g.metadata = {"kind": "resnet-profile"}
    g.validate()
    return g


def write_seeds(directory: Path) -> list[Path]:
    """Blobs for runtime_c/build/fuzz_blobs (docs/fuzzing.md) with elementwise ops: the resnet
    graph and four random typed DAGs (tests/dags.py) that contain a Merge."""
    from dags import random_dag

    from binedge import blob as B

    directory.mkdir(parents=True, exist_ok=True)
    out = [directory / "resnet_ew.bnm"]
    out[0].write_bytes(B.blob_bytes(resnet_graph()))
    seed = 0
    while len(out) < 5:
        g = random_dag(np.random.default_rng(31000 + seed), channels=(3, 31, 33))
        seed += 1
        if any(type(op).__name__ == "Merge" for op in g.ops):
            out.append(directory / f"merge_dag{len(out) - 1}.bnm")
            out[-1].write_bytes(B.blob_bytes(g))
    return out


def _swap_runtime(fw: Path, rev: str) -> None:
    """Replace fw/runtime/src and include by runtime_c of git revision `rev` (a before measurement)."""
    data = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "runtime_c/src", "runtime_c/include"],
                          check=True, capture_output=True).stdout
    for sub in ("src", "include"):
        shutil.rmtree(fw / "runtime" / sub)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for m in tar.getmembers():
            if not m.isfile() or m.name.rsplit("/", 1)[-1].startswith("be_bench"):
                continue
            rel = Path(m.name).relative_to("runtime_c")
            dst = fw / "runtime" / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(tar.extractfile(m).read())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", help="'resnet', 'seeds' or a run directory")
    p.add_argument("--targets", nargs="+", default=["cortex-m4"])
    p.add_argument("--samples", type=int, default=4)
    p.add_argument("--runtime-rev", help="use runtime_c of this git revision")
    p.add_argument("--json", help="write the emulate results here")
    p.add_argument("--out", default="build/fuzz-seeds", help="seeds: the folder for the blobs")
    a = p.parse_args(argv)

    from binedge.emulate import emulate, format_report
    from binedge.firmware import write_firmware

    if a.model == "seeds":
        print(" ".join(str(p) for p in write_seeds(Path(a.out))))
        return 0
    if a.model == "resnet":
        from dags import random_inputs

        graph = resnet_graph()
        images = random_inputs(np.random.default_rng(1), graph, a.samples)
        labels = None
        name = "resnet"
    else:
        from binedge.export import load_test_images, lower_run

        _model, graph, cfg = lower_run(Path(a.model))
        images, labels = load_test_images(cfg, a.samples)
        name = Path(a.model).name
    results = {}
    for t in a.targets:
        fw = ROOT / "build" / "profile_ew" / f"{name}-{t}{'-' + a.runtime_rev if a.runtime_rev else ''}"
        shutil.rmtree(fw, ignore_errors=True)
        write_firmware(graph, fw, target=t, images=images, labels=labels)
        if a.runtime_rev:
            _swap_runtime(fw, a.runtime_rev)
        r = emulate(fw)
        results[t] = r
        print(format_report(r))
        print()
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
