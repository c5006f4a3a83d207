"""The host benchmark's per-op profile (binedge.bench.op_medians over be_bench_ops): one median per
op of the model, in the interpreter's op order, each a real duration, and their sum within the
whole invoke's order of magnitude (the hook times exactly be_invoke's ops). No speed is asserted:
figures are benchmark goals, not tests."""

import numpy as np
from graphs import random_graph, random_images

from binedge import bench


def test_op_medians_cover_every_op():
    rng = np.random.default_rng(3)
    g = random_graph(rng)
    x = random_images(rng, g, 1)
    runner = bench._CRunner(g, x)
    per_op = bench.op_medians(runner, 40)
    assert len(per_op) == len(g.ops) == len(runner.rt.op_names) == len(runner.rt.kernel_names())
    assert all(np.isfinite(v) and v >= 0.0 for v in per_op)
    whole = float(np.median(runner.time(40))) / 1000.0  # µs of one be_invoke
    assert 0.0 < sum(per_op) < 50.0 * whole + 50.0  # per-op times are parts of an invoke, not ms apart
