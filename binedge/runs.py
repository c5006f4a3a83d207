"""Comparing and summarising finished training runs (used by the grid scripts:
examples/replicate/replicate.py and benchmarks/frontier.py).

A grid reuses a run directory only when the run saved there was made with the settings it wants:
:func:`config_differences` compares two TrainConfig dicts (``TrainConfig.to_dict()`` and a saved
``config.json``). :func:`mean_std` is the summary every report prints over seeds.
"""

from __future__ import annotations

import math

#: TrainConfig fields that training fills in (the data it read, the teacher's digest, the model's
#: recorded source and shape) or that do not change what is trained (where the run lives).
RECORDED_FIELDS = {("out",), ("data_dir",), ("data_info",), ("teacher_sha256",), ("model", "image_shape"),
                   ("model", "num_classes"), ("model", "source")}


def config_differences(saved: dict, wanted: dict, prefix=()) -> list[str]:
    """'key: saved vs now' for every setting of two TrainConfig dicts that differs (numbers
    compared to 1e-9 relative), ignoring :data:`RECORDED_FIELDS`."""
    out = []
    for k in sorted(set(saved) | set(wanted)):
        path = prefix + (k,)
        if path in RECORDED_FIELDS:
            continue
        x, y = saved.get(k), wanted.get(k)
        if isinstance(x, dict) and isinstance(y, dict):
            out += config_differences(x, y, path)
        elif x != y and not (isinstance(x, (int, float)) and isinstance(y, (int, float))
                             and math.isclose(x, y, rel_tol=1e-9)):
            out.append(f"{'.'.join(path)}: {x!r} (saved) vs {y!r} (now)")
    return out


def mean_std(values) -> tuple[float, float]:
    """Mean and sample standard deviation s = sqrt(Σ(x − x̄)² / (n − 1)) (0.0 for one value,
    NaN for none)."""
    values = [float(v) for v in values]
    if not values:
        return math.nan, math.nan
    m = sum(values) / len(values)
    if len(values) < 2:
        return m, 0.0
    return m, math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))
