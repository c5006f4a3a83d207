"""Per-call cost of the Python binding: ``Runtime.run`` on one input vs a bare ``be_invoke``.

    .venv/bin/python benchmarks/binding_overhead.py [--before REV] [--rounds 9] [--calls 20000]

The model is one int8 Dense op (16 inputs, 2 scores), whose kernel costs next to nothing, so
``Runtime.run`` minus ``be_invoke`` (called through ctypes with every address looked up once)
is the binding's own cost (``--blob`` times a given model instead). ``--before REV`` also
times ``binedge/runtime.py`` as of the git revision REV (loaded from ``git show``, on the same
shared library) for a before / after ratio.
Rounds are interleaved (each round times every row once, ``--calls`` calls each, with
``time.perf_counter_ns``); medians and minimums are over rounds. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # graphs._Builder: a calibrated random Dense op


def tiny_blob() -> bytes:
    from graphs import _Builder

    from binedge.blob import blob_bytes

    b = _Builder(np.random.default_rng(0), (16,))
    b.dense(2, weight_kind="int8", scores=True)
    return blob_bytes(b.graph)


def load_revision(rev: str):
    """binedge/runtime.py as of rev, as a module of the binedge package (the same library)."""
    from binedge.runtime import library_path

    os.environ["BINEDGE_LIB"] = str(library_path())
    text = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:binedge/runtime.py"], check=True,
                          capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "runtime_before.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("binedge._runtime_before", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", default=None, help="git revision of binedge/runtime.py to compare with")
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--calls", type=int, default=20000)
    ap.add_argument("--blob", default=None, help="a .bnm to time instead of the 1-op Dense model")
    args = ap.parse_args(argv)

    from binedge.runtime import Runtime, library

    data = Path(args.blob).read_bytes() if args.blob else tiny_blob()
    rt = Runtime(data)
    x = np.random.default_rng(1).integers(0, 256, (1,) + rt.input_shape, dtype=np.uint8)
    out = np.zeros((1, rt.num_classes), np.int32)
    inv, interp, xa, oa = library().be_invoke, rt._interp, x.ctypes.data, out.ctypes.data
    rows = {"be_invoke (ctypes, addresses cached)": lambda: inv(interp, xa, oa)}
    if args.before:
        old = load_revision(args.before).Runtime(data)
        assert np.array_equal(old.run(x), rt.run(x))
        rows[f"Runtime.run ({args.before})"] = lambda: old.run(x)
    rows["Runtime.run (working tree)"] = lambda: rt.run(x)

    def one_round(f, n=args.calls):
        t = time.perf_counter_ns()
        for _ in range(n):
            f()
        return (time.perf_counter_ns() - t) / n / 1000

    times = {k: [] for k in rows}
    for _ in range(args.rounds):
        for k, f in rows.items():
            times[k].append(one_round(f))
    base = statistics.median(times["be_invoke (ctypes, addresses cached)"])
    print(f"{args.rounds} interleaved rounds of {args.calls} calls, one input, {args.blob or '1-op Dense model'}\n")
    print("| call | median µs | min µs | median - be_invoke µs |")
    print("|---|---:|---:|---:|")
    for k, v in times.items():
        print(f"| {k} | {statistics.median(v):.2f} | {min(v):.2f} | {statistics.median(v) - base:.2f} |")
    if args.before:
        ob = statistics.median(times[f"Runtime.run ({args.before})"]) - base
        nb = statistics.median(times["Runtime.run (working tree)"]) - base
        print(f"\nbinding overhead {ob:.2f} µs -> {nb:.2f} µs ({ob / nb:.1f}x less)")


if __name__ == "__main__":
    main()
