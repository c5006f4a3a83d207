"""A training step replayed as a CUDA graph (torch.cuda.CUDAGraph).

At batch 100 one training step of the binary ResNet is about 1,500 small tensor operations
(the quantizers, BatchNorm, a teacher's forward, the optimizer's update); launched one by one
from Python they take about 30 ms on an H200 whatever the batch holds, so the GPU mostly waits.
Captured once as a graph and replayed, the same kernels run back to back from one launch.

What a replay computes is what the eager step computes: the graph records the kernels the eager
step launches, in the same order, on static copies of the batch. Three things make a step
capturable, and binedge's training code keeps to them:

* no host synchronisation inside the step (no ``.item()``, ``bool(tensor)``, ``float(tensor)``;
  binedge.nn.QuantInt8 chooses its first-batch update on the device);
* every tensor the step touches lives on the GPU (no CPU tensors copied in);
* the optimizer keeps its step count on the device (Adam's ``capturable=True``; LAB reads it
  there, binedge.optim.LAB.curvature).

A graph bakes in Python scalars such as the learning rate, so the trainer calls
:meth:`GraphedStep.reset` whenever the optimizer or its learning rate changes (every epoch):
the next full batch is captured afresh. Batches of another size (an epoch's last, smaller one)
run eagerly. If capture fails (a module that synchronises, say), the step falls back to eager
execution for the rest of the run and :attr:`GraphedStep.failure` says why.
"""

from __future__ import annotations

from typing import Callable

import torch

#: eager steps on a side stream before the first capture (lazy initialisation of cuBLAS / cuDNN
#: handles and autograd's device streams must happen outside the capture)
WARMUP_STEPS = 3


class GraphedStep:
    """Calls ``step(x, y)`` (which must return a tuple of tensors) eagerly or from a CUDA graph.

    Args:
        batch_size: the batch size that is captured; others run eagerly.
        enabled: False runs every step eagerly (``binedge train --no-cuda-graphs``).
        warmup: eager side-stream steps before the first capture.
    Attributes:
        replays: steps run from a graph; captures: graphs captured; failure: why capture was
            abandoned (None while it works).
    """

    def __init__(self, *, batch_size: int, enabled: bool = True, warmup: int = WARMUP_STEPS):
        self.batch_size = int(batch_size)
        self.enabled = bool(enabled) and torch.cuda.is_available()
        self.warmup = int(warmup)
        self.step: Callable | None = None
        self.graph = None
        self.static_in: tuple | None = None
        self.static_out: tuple | None = None
        self.warm = 0
        self.replays = 0
        self.captures = 0
        self.failure: str | None = None

    def reset(self, step: Callable) -> None:
        """Use ``step`` from now on and drop the captured graph (its optimizer or learning rate
        changed)."""
        self.step = step
        self.graph = self.static_in = self.static_out = None

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> tuple:
        if not self.enabled or self.failure is not None or x.shape[0] != self.batch_size or not x.is_cuda:
            return self.step(x, y)
        if self.graph is None:
            if self.warm < self.warmup:
                self.warm += 1
                return self._side_stream(x, y)
            if not self._capture(x, y):
                return self.step(x, y)
        self.static_in[0].copy_(x)
        self.static_in[1].copy_(y)
        self.graph.replay()
        self.replays += 1
        return self.static_out

    def _side_stream(self, x, y) -> tuple:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            out = self.step(x, y)
        torch.cuda.current_stream().wait_stream(side)
        return out

    def _capture(self, x, y) -> bool:
        self.static_in = (x.clone(), y.clone())
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph):
                self.static_out = self.step(*self.static_in)
        except RuntimeError as e:  # e.g. "operation not permitted when stream is capturing"
            self.failure = f"{type(e).__name__}: {str(e).splitlines()[0]}"
            self.graph = self.static_in = self.static_out = None
            torch.cuda.synchronize()
            return False
        self.graph = graph
        self.captures += 1
        return True
