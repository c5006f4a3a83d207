#!/usr/bin/env python
"""Host benchmark in one run (writes benchmarks/host.md): the C runtime (reference kernels and each
x86 ISA level this CPU has) against onnxruntime on the bit-packed and on the float ONNX and
against LiteRT on the .tflite of the same networks at batch 1 on one thread, and the binary GEMM
kernels against the popcount-bound peak. Networks: a VGG-style fully binary convnet and a
784-1024-1024-1024-10 sign MLP (random weights, lowered), plus every trained blob in
tests/data/*.bnm. See binedge/bench.py.

    .venv/bin/python benchmarks/bench_host.py [--quick] [-o benchmarks/host.md]
    (same as: binedge bench)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from binedge.bench import run_benchmark


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-o", "--out", default=str(Path(__file__).resolve().parent / "host.md"))
    ap.add_argument("--quick", action="store_true", help="fewer iterations and GEMM shapes (smoke run)")
    ap.add_argument("--data-dir", default=None, help="folder of trained .bnm blobs (default tests/data)")
    args = ap.parse_args()
    run_benchmark(args.out, quick=args.quick, data_dir=args.data_dir,
                  command=" ".join(["python benchmarks/bench_host.py"] + sys.argv[1:]))


if __name__ == "__main__":
    main()
