"""Exact integer sums in float32 arithmetic, shared by the ONNX and LiteRT exporters.

float32 represents every integer of magnitude up to 2**24 exactly, so a Conv / MatMul on small
integer tensors is exact while every partial sum stays within that bound. A layer whose
worst-case accumulator exceeds it is split along its input channels into chunks that each stay
within it; the chunks' results are then added in int32.
"""

from __future__ import annotations

import numpy as np

FLOAT_EXACT_BOUND = 2**24
INT32_MAX = 2**31 - 1


def exact_chunks(cost: np.ndarray, where: str, *, bound: int = FLOAT_EXACT_BOUND,
                 error: type[Exception] = ValueError, ops: str = "float32 convolution / matmul") -> list[tuple[int, int]]:
    """Consecutive input-channel ranges [start, stop) whose |acc| bound stays <= ``bound``.

    cost[o, c] bounds |contribution| of input channel c to output o. Raises ``error`` when even
    the int32 sum could overflow or when one channel alone exceeds the bound.
    """
    total = int(cost.sum(axis=1).max(initial=0))
    if total <= bound:
        return [(0, cost.shape[1])]
    if total > INT32_MAX:
        raise error(f"{where}: |acc| may reach {total} > 2**31 - 1; not exportable exactly")
    if cost.max() > bound:
        raise error(f"{where}: one input channel alone may reach |acc| {int(cost.max())} > 2**24, "
                    f"which {ops} cannot sum exactly")
    out, start, run = [], 0, np.zeros(cost.shape[0], np.int64)
    for c in range(cost.shape[1]):
        if (run + cost[:, c]).max() > bound:
            out.append((start, c))
            start, run = c, np.zeros_like(run)
        run += cost[:, c]
    out.append((start, cost.shape[1]))
    return out
