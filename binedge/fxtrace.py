"""Capturing a model with torch.fx for lowering (DESIGN.md §7: "capture with torch.fx, then lower
node by node; never lower by walking children()").

:func:`trace` symbolically traces ``model.forward`` — and the forward of every submodule that is
not a leaf, so skip connections, ``+``, ``torch.cat``, ``flatten`` and pooling written in any
``forward`` appear as graph nodes. Leaves (called as one ``call_module`` node, lowered from their
attributes) are the modules whose computation binedge knows: BinaryLinear, BinaryConv2d, the
hard-threshold activations, QuantInt8, BatchNorm, max / average pooling, Flatten, Dropout,
Identity, and — so that they can be named and refused — every other ``torch.nn`` module.

Because a leaf is lowered from its attributes, :func:`check_modules` first refuses what would
make that unsound: a subclass of a leaf class that overrides ``forward`` (a hard-threshold
activation may not override ``hard_forward`` either), and any forward hook, module or global
(fx does not run hooks, so the traced graph would differ from what the model computes).

Every node keeps its user source line (:func:`describe`), which every refusal quotes.
"""

from __future__ import annotations

import os
import re

import torch
import torch.fx as fx
from torch import nn

from .nn.activations import QReLU, RealActivation, RSign, Sign, Step, ThresholdActivation
from .nn.layers import BinaryConv2d, BinaryLinear
from .nn.quant import QuantInt8


class LoweringError(ValueError):
    """The model cannot be lowered exactly to the integer graph; the message names the layer or
    fx node, its source line, why, and what to do."""


#: Leaf classes binedge lowers from their attributes, each with the forward it must keep.
LEAVES = (BinaryLinear, BinaryConv2d, QuantInt8, RSign, ThresholdActivation, RealActivation,
          nn.BatchNorm1d, nn.BatchNorm2d, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d,
          nn.Flatten, nn.Dropout, nn.Identity)
HARD_FORWARDS = {Sign.hard_forward, Step.hard_forward, QReLU.hard_forward}


def leaf_class(m: nn.Module):
    """The binedge leaf class ``m`` is an instance of (the most derived one listed), or None."""
    for cls in LEAVES:
        if isinstance(m, cls):
            return cls
    return None


def layer_label(name: str, m: nn.Module) -> str:
    """How messages name a submodule: ``layer <qualified name> (<class>)``."""
    return f"layer {name or '<model>'} ({type(m).__name__})"


class _Tracer(fx.Tracer):
    def __init__(self):
        super().__init__()
        self.record_stack_traces = True

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        if leaf_class(m) is not None:
            return True
        return super().is_leaf_module(m, qualname)  # other torch.nn modules: leaves, refused by name


def _check_no_global_hooks() -> None:
    from torch.nn.modules import module as torch_module

    if getattr(torch_module, "_global_forward_hooks", None) or getattr(torch_module, "_global_forward_pre_hooks", None):
        raise LoweringError("global forward hooks are registered (torch.nn.modules.module."
                            "register_module_forward_hook): they may change what the model computes; remove them")


def check_modules(model: nn.Module) -> None:
    """Refuse hooks anywhere and leaf subclasses that override ``forward`` / ``hard_forward``."""
    _check_no_global_hooks()
    for name, m in model.named_modules():
        where = layer_label(name, m)
        if m._forward_hooks or m._forward_pre_hooks:
            raise LoweringError(f"{where}: has forward hooks, which may change what it computes (fx does not run "
                                "them); remove them")
        cls = leaf_class(m)
        if cls is None:
            continue
        if type(m).forward is not cls.forward:
            raise LoweringError(f"{where}: {type(m).__name__} overrides forward() of {cls.__name__}; lowering rebuilds "
                                f"{cls.__name__}'s own computation and cannot prove a custom forward equal to it; use "
                                f"the plain class and write the extra computation in the forward of the module that "
                                f"calls it (that forward is traced)")
        if isinstance(m, ThresholdActivation) and type(m).hard_forward not in HARD_FORWARDS:
            raise LoweringError(f"{where}: {type(m).__name__} defines its own hard_forward(); only sign, step and "
                                "qrelu lower to integer thresholds")


def trace(model: nn.Module) -> fx.Graph:
    """The fx graph of ``model.forward`` (leaves as in the module docstring); a model that fx
    cannot trace (data-dependent control flow, ...) is a LoweringError saying why."""
    try:
        return _Tracer().trace(model)
    except LoweringError:
        raise
    except Exception as e:  # fx's TraceError, or anything the forward raised on proxies
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise LoweringError(f"torch.fx cannot trace the model's forward ({type(e).__name__}: {msg}); the model must "
                            "not branch on tensor values (binedge lowers one fixed integer program)") from None


_TORCH_DIR = os.path.dirname(torch.__file__)
_FRAME = re.compile(r'File "([^"]+)", line (\d+), in [^\n]*\n\s*([^\n]*)')


def source_line(node: fx.Node) -> str:
    """``file.py:12 `code``` of the innermost user frame that created ``node`` ('' if unknown):
    frames inside torch are skipped, so for a Sequential it is the model's own file if any."""
    st = node.meta.get("stack_trace") or ""
    frames = _FRAME.findall(st)
    user = [f for f in frames if not os.path.abspath(f[0]).startswith(_TORCH_DIR)]
    if not user:
        return ""
    path, line, code = user[-1]
    return f"{os.path.relpath(path) if not os.path.relpath(path).startswith('..') else path}:{line} `{code.strip()}`"


def target_name(node: fx.Node) -> str:
    t = node.target
    if isinstance(t, str):
        return t
    return getattr(t, "__name__", None) or repr(t)


def describe(node: fx.Node, model: nn.Module | None = None, *, source: bool = True) -> str:
    """How messages name a node: ``layer <name> (<class>)`` for a module call, else
    ``node '<name>' (<op> <target>)``; then (``source``) ``at file.py:12 `code``` when known."""
    if node.op == "call_module" and model is not None:
        what = layer_label(str(node.target), model.get_submodule(str(node.target)))
    else:
        what = f"node {node.name!r} ({node.op} {target_name(node)})"
    where = source_line(node) if source else ""
    return f"{what} at {where}" if where else what
