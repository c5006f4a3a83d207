"""``binedge.lower.lower``: a model for uint8 images -> the integer deployment graph.

A thin wrapper over :func:`binedge.convert.convert` (torch.fx capture, node-by-node lowering;
docs/numerics.md) for the input binedge's trainer feeds: uint8 images (H, W, C) that the model
sees as x/255 in NCHW. It keeps binedge's historic rule for a full-precision layer reading the
image: its weights are rounded to int8 per output channel (the one place where the deployed
program is not exactly the trained one; ``convert`` refuses such a layer unless asked).

The folding arithmetic lives in :mod:`binedge.fold`, the PyTorch-vs-graph agreement in
:mod:`binedge.agreement`; both are re-exported here for existing callers.
"""

from __future__ import annotations

import torch
from torch import nn

from .agreement import agreement, torch_predictions
from .converter import LoweringError, convert, image_spec
from .fold import MAX_SCORE_SHIFT, thresholds as _thresholds
from .graph import INT32_MAX, INT32_MIN, Graph

__all__ = ["lower", "LoweringError", "agreement", "torch_predictions", "INT32_MAX", "INT32_MIN", "MAX_SCORE_SHIFT",
           "_thresholds"]


def lower(model: nn.Module, input_shape, *, class_names=None, metadata=None) -> Graph:
    """Lower ``model`` (eval mode) for uint8 inputs of shape (H, W, C) that it sees as float x/255
    in NCHW, as binedge.data's loader feeds it. Returns a validated :class:`~binedge.graph.Graph`
    whose integer scores stand for the model's logits (score / 2**shift)."""
    try:
        h, w, c = (int(v) for v in input_shape)
    except (TypeError, ValueError):
        raise LoweringError(f"input_shape must be (H, W, C), got {input_shape!r}") from None
    if min(h, w, c) < 1:
        raise LoweringError(f"input_shape must be positive (H, W, C), got {(h, w, c)}")
    example = torch.zeros(2, c, h, w)
    return convert(model, example, input_spec=image_spec((h, w, c)), class_names=class_names, metadata=metadata,
                   round_float_weights=True)
