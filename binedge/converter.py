"""``binedge.convert`` (defined here, in binedge.converter): any ``nn.Module`` built from binedge
layers and ordinary torch ops -> the integer deployment graph (DESIGN.md §7, docs/graph.md,
docs/numerics.md "Lowering").

    graph = binedge.convert(model, example_input)                       # uint8 images seen as x/255
    graph = binedge.convert(model, x, input_spec=TensorSpec("i8", (30,), scale=0.05, zero_point=0))

The model is traced with torch.fx (:mod:`binedge.fxtrace`: binedge layers, activations,
quantizers, BatchNorm and pooling are leaves, every other forward is traced through) and lowered
node by node in eval mode by :class:`binedge.lowering.Lowering`, whose docstring lists the rules.
This module dispatches the nodes: module calls, the functions and tensor methods that lower
(``+``, ``-``, scalar ``*`` and ``/``, ``torch.cat``, ``flatten`` / ``view`` / ``reshape``,
max / average / adaptive pooling, ``mean`` over H, W, dropout in eval mode), and shape queries
(``x.shape``, ``x.size(0)``), which it evaluates. Every node also runs once on a two-sample
example batch, so shapes are known and a node that fails in PyTorch fails here, by name.

Nothing is lowered approximately: a node whose integer form is not provably equal to what
PyTorch computes (up to float rounding next to a threshold or rounding boundary: a tie) is a
:class:`LoweringError` naming the node, its source line and what to do — e.g. a sum of three real-valued
branches, or a sum read by a weight layer with no activation or QuantInt8 between them, is
refused, not quantized by guess (a sum of two branches lowers exactly: a Merge). The one exception is opt-in:
``round_float_weights=True`` (binedge.lower's historic rule) rounds a full-precision layer that
reads the graph input to int8 weights.
"""

from __future__ import annotations

import operator

import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import nn

from .fxtrace import LoweringError, check_modules, leaf_class, trace
from .graph import INPUT_NAME, Graph, GraphError, TensorSpec
from .lowering import VALUE_TYPES, Bits, Codes, Lowering, _pair
from .nn.activations import RealActivation, ThresholdActivation
from .nn.layers import BinaryConv2d, BinaryLinear
from .nn.quant import QuantInt8

__all__ = ["convert", "convert_with_values", "image_spec", "LoweringError"]


def image_spec(shape) -> TensorSpec:
    """The graph input for uint8 images (H, W, C) that the model sees as x/255 in NCHW."""
    h, w, c = (int(v) for v in shape)
    return TensorSpec("u8", (h, w, c), scale=1.0 / 255.0, zero_point=0)


# ----------------------------------------------------------------------------- node dispatch

_ADD = {operator.add, operator.iadd, torch.add}
_SUB = {operator.sub, operator.isub, torch.sub}
_MUL = {operator.mul, operator.imul, torch.mul}
_DIV = {operator.truediv, operator.itruediv, torch.div, torch.true_divide}
_NEG = {operator.neg, torch.neg}
_CAT = {torch.cat, torch.concat, torch.concatenate}
_IDENTITY_METHODS = {"contiguous", "clone"}


def _bind(args, kwargs, names, defaults):
    """Bind a call's arguments to parameter ``names`` (with ``defaults`` for the trailing ones);
    the tensor argument (the first) stays an fx node."""
    out = dict(zip(names, args))
    out.update(kwargs)
    for n, d in zip(names[len(names) - len(defaults):], defaults):
        out.setdefault(n, d)
    return out


_TENSOR_PARAMS = ("input", "tensors")


_MAXPOOL_ARGS = (("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"),
                 (None, 0, 1, False, False))
_AVGPOOL_ARGS = (("input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"),
                 (None, 0, False, True, None))


def _is_fn(target, *fns) -> bool:
    return any(target is f for f in fns)


class _Runner:
    """Walks the fx graph: lowers every node whose value derives from the input and evaluates every
    node concretely on an example batch (shapes, sizes, constants)."""

    def __init__(self, lowering: Lowering, graph: fx.Graph, example: torch.Tensor):
        self.low = lowering
        self.graph = graph
        self.example = example
        self.sym: dict = {}  # node -> lowering value (tensor-derived nodes)
        self.order = {n: i for i, n in enumerate(graph.nodes)}
        self.output_node = None
        self.val: dict = {}  # node -> concrete value

    def run(self) -> None:
        placeholders = [n for n in self.graph.nodes if n.op == "placeholder"]
        for node in self.graph.nodes:
            self.low.node = node
            if node.op == "placeholder":
                if node is placeholders[0]:
                    self.sym[node] = Codes(INPUT_NAME, self.low.input_spec, raw=True)
                    self.val[node] = self.example
                elif node.args:
                    self.val[node] = node.args[0]  # a defaulted argument: its default
                else:
                    self.low.fail("the model's forward takes more than one input without a default; binedge lowers "
                                  "models of one input tensor")
                continue
            if node.op == "output":  # messages name the node that made the returned value
                out = node.args[0]
                returned = [n for n in _flat_args(node)] or [node]
                self.low.node = out if isinstance(out, fx.Node) else returned[0]
                if not isinstance(out, fx.Node) or out not in self.sym:
                    self.low.fail("the model returns this (in a container, or not derived from the input); it must "
                                  "return one tensor, the output of a BinaryLinear (its scores)")
                self.low.scores(self.sym[out])
                self.output_node = out
                continue
            derived = any(isinstance(a, fx.Node) and a in self.sym for a in _flat_args(node))
            if node.op == "get_attr" or not derived or _is_shape_query(node):
                self.val[node] = self.evaluate(node)  # constants, sizes, shapes
                if not isinstance(self.val[node], torch.Tensor) or not derived:
                    continue
                self.low.fail("indexing or slicing a tensor does not lower (only shape queries such as x.shape, "
                              "x.size(0) and x.dim() do)")
            self.sym[node] = self.lower(node)
            self.val[node] = self.evaluate(node)
            t = self.val[node]
            if not isinstance(t, torch.Tensor) or t.dim() < 1 or t.shape[0] != self.example.shape[0]:
                self.low.fail("its result is not a batch of tensors like the input's (the batch axis must stay "
                              "first and unchanged)")

    # -- concrete evaluation

    def c(self, a):
        return fx.node.map_arg(a, lambda n: self.val[n])

    def evaluate(self, node):
        args, kwargs = self.c(node.args), self.c(node.kwargs)
        try:
            with torch.no_grad():
                if node.op == "get_attr":
                    obj = self.low.model
                    for part in str(node.target).split("."):
                        obj = getattr(obj, part)
                    return obj
                if node.op == "call_module":
                    return self.low.model.get_submodule(str(node.target))(*args, **kwargs)
                if node.op == "call_function":
                    return node.target(*args, **kwargs)
                if node.op == "call_method":
                    return getattr(args[0], node.target)(*args[1:], **kwargs)
        except LoweringError:
            raise
        except Exception as e:
            self.low.fail(f"running it on the example input failed ({type(e).__name__}: "
                          f"{str(e).strip().splitlines()[0] if str(e).strip() else ''})")
        self.low.fail(f"unsupported fx node kind {node.op}")

    # -- lowering dispatch

    def s(self, a):
        """The lowering value of argument ``a`` (a node) or, for a constant, its concrete value."""
        if isinstance(a, fx.Node):
            return self.sym[a] if a in self.sym else self.val[a]
        return a

    def scalar(self, a):
        v = self.s(a)
        if isinstance(v, VALUE_TYPES):
            return None
        if isinstance(v, torch.Tensor) and v.numel() == 1:
            return float(v)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return float(v)
        self.low.fail(f"uses the constant {type(v).__name__} {v!r}; only scalar constants lower (as factors and "
                      "offsets folded into a weight layer's output stage)")

    def lower(self, node: fx.Node):
        low = self.low
        if node.op == "call_module":
            return self.module(node, low.model.get_submodule(str(node.target)))
        target = node.target
        args, kwargs = node.args, node.kwargs
        if _in_place(node):
            self.check_in_place(node)
        if node.op == "call_method":
            name = target
            if name in _IDENTITY_METHODS or (name == "float" and self.val[args[0]].dtype == torch.float32):
                return self.s(args[0])
            if name in ("add", "sub", "mul", "div", "neg", "add_", "sub_", "mul_", "div_", "neg_"):
                fn = {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div,
                      "neg": torch.neg}[name.rstrip("_")]
                return self.arith(fn, args, kwargs)
            if name in ("view", "reshape", "flatten"):
                if name == "flatten":
                    return self.flatten_call(node, args, kwargs)
                return low.reshape(self.s(args[0]), self.val[args[0]].shape, self.out_shape(node))
            if name == "mean":
                return self.mean(node, args, kwargs)
            low.fail(f"the tensor method .{name}() does not lower")
        if target in _ADD or target in _SUB or target in _MUL or target in _DIV or target in _NEG:
            return self.arith(target, args, kwargs)
        if target in _CAT:
            b = self.bind(args, kwargs, ("tensors", "dim"), (0,))
            if not isinstance(b["tensors"], (list, tuple)) or not all(isinstance(t, fx.Node) and t in self.sym
                                                                      for t in b["tensors"]):
                low.fail("concatenates tensors that do not all derive from the input (constants do not lower)")
            ranks = {self.val[t].dim() for t in b["tensors"]}
            return low.cat([self.sym[t] for t in b["tensors"]], int(b["dim"]), ranks)
        if target is torch.flatten:
            return self.flatten_call(node, args, kwargs)
        if target is torch.reshape:
            return low.reshape(self.s(args[0]), self.val[args[0]].shape, self.out_shape(node))
        if _is_fn(target, F.max_pool2d, torch.max_pool2d, getattr(F, "max_pool2d_with_indices", None)):
            b = self.bind(args, kwargs, *_MAXPOOL_ARGS)
            return low.maxpool(self.s(b["input"]), b["kernel_size"], b["stride"], b["padding"], b["dilation"],
                               b["ceil_mode"], b["return_indices"])
        if _is_fn(target, F.avg_pool2d, torch._C._nn.avg_pool2d):
            b = self.bind(args, kwargs, *_AVGPOOL_ARGS)
            self.check_avg(b["padding"], b["ceil_mode"], b["divisor_override"])
            return low.avgpool(self.s(b["input"]), b["kernel_size"], b["stride"])
        if _is_fn(target, F.adaptive_avg_pool2d):
            b = self.bind(args, kwargs, ("input", "output_size"), ())
            return self.adaptive(b["input"], b["output_size"])
        if _is_fn(target, torch.mean):
            return self.mean(node, args, kwargs)
        if _is_fn(target, F.dropout, torch.dropout):
            b = self.bind(args, kwargs, ("input", "p", "training", "inplace"), (0.5, True, False))
            if b["training"]:
                low.fail("dropout in training mode does not lower (in eval mode it is the identity: pass "
                         "training=self.training)")
            return self.s(b["input"])
        low.fail(f"{getattr(target, '__name__', target)!s} does not lower; binedge lowers binedge layers, "
                 "activations and quantizers, BatchNorm, pooling, flatten / view / reshape, + and - of int8 values "
                 "and of two real-valued branches, scalar factors and offsets of a weight layer's output or a sum, "
                 "and torch.cat")

    def bind(self, args, kwargs, names, defaults):
        """_bind, with every argument but the tensor(s) resolved to its concrete value."""
        b = _bind(args, kwargs, names, defaults)
        return {k: (v if k in _TENSOR_PARAMS else self.c(v)) for k, v in b.items()}

    def check_in_place(self, node) -> None:
        """An in-place op changes its operand for every later use of it, which the graph (one value
        per op) does not: refused unless nothing reads the operand after it."""
        x = node.args[0]
        if isinstance(x, fx.Node) and any(self.order[u] > self.order[node] for u in x.users if u is not node):
            self.low.fail(f"modifies {x.name!r} in place while a later node still reads it; write x = x + y (not "
                          "x += y or x.add_(y)) so that every use sees one value")

    def out_shape(self, node) -> torch.Size:
        return self.evaluate(node).shape

    def arith(self, fn, args, kwargs):
        low = self.low
        if fn in _NEG:
            return low.scale(self.s(args[0]), -1.0)
        x, y = self.s(args[0]), self.s(args[1])
        alpha = kwargs.get("alpha", args[2] if len(args) > 2 else 1)
        if fn in _DIV and kwargs.get("rounding_mode") is not None:
            low.fail("division with a rounding mode does not lower")
        xv, yv = isinstance(x, VALUE_TYPES), isinstance(y, VALUE_TYPES)
        sub = fn in _SUB
        if fn in _ADD or fn in _SUB:
            sign = -1.0 if sub else 1.0
            if xv and yv:
                return low.add(x, y, 1.0, sign * float(alpha))
            if xv:
                return low.offset(x, sign * float(alpha) * self.scalar(args[1]))
            return low.offset(low.scale(y, sign * float(alpha)), self.scalar(args[0]))
        if fn in _MUL:
            if xv and yv:
                low.fail("multiplies two tensors that derive from the input; that is not an integer-graph op")
            return low.scale(x, self.scalar(args[1])) if xv else low.scale(y, self.scalar(args[0]))
        if yv:
            low.fail("divides by a tensor that derives from the input; that is not an integer-graph op")
        c = self.scalar(args[1])
        if c == 0:
            low.fail("divides by zero")
        return low.scale(x, 1.0 / c)

    def flatten_call(self, node, args, kwargs):
        b = self.bind(args, kwargs, ("input", "start_dim", "end_dim"), (0, -1))
        rank = self.val[b["input"]].dim()
        start = b["start_dim"] + rank if b["start_dim"] < 0 else b["start_dim"]
        end = b["end_dim"] + rank if b["end_dim"] < 0 else b["end_dim"]
        if rank > 1 and (start, end) != (1, rank - 1):
            self.low.fail(f"flatten(start_dim={b['start_dim']}, end_dim={b['end_dim']}) does not lower; only "
                          "flattening a whole sample (start_dim=1, end_dim=-1) does")
        return self.low.reshape(self.s(b["input"]), self.val[b["input"]].shape, self.out_shape(node))

    def mean(self, node, args, kwargs):
        b = self.bind(args, kwargs, ("input", "dim", "keepdim"), (None, False))
        if "dtype" in kwargs and kwargs["dtype"] is not None:
            self.low.fail("mean with a dtype does not lower")
        rank = self.val[b["input"]].dim()
        dims = b["dim"]
        dims = (dims,) if isinstance(dims, int) else tuple(dims or ())
        dims = {d + rank if d < 0 else d for d in dims}
        if rank != 4 or dims != {2, 3}:
            self.low.fail("mean lowers over the spatial axes (2, 3) of an (N, C, H, W) map only (global average "
                          "pooling)")
        _, _, h, w = self.val[b["input"]].shape
        v = self.low.avgpool(self.s(b["input"]), (int(h), int(w)), (1, 1))
        return v if b["keepdim"] else self.low.flatten(v, f"{node.name}_flatten")

    def adaptive(self, x, output_size):
        _, _, h, w = self.val[x].shape
        oh, ow = _pair(output_size) if not isinstance(output_size, (tuple, list)) else (
            int(output_size[0] if output_size[0] is not None else h), int(output_size[1] if output_size[1] is not None
                                                                         else w))
        if h % oh or w % ow:
            self.low.fail(f"adaptive average pooling of a {h}x{w} map to {oh}x{ow} has windows of different sizes; "
                          "only output sizes that divide the map lower (1 = global average pooling)")
        k = (int(h) // oh, int(w) // ow)
        return self.low.avgpool(self.s(x), k, k)

    def check_avg(self, padding, ceil_mode, divisor_override):
        if _pair(padding) != (0, 0) or ceil_mode or divisor_override is not None:
            self.low.fail("only average pooling without padding, ceil_mode or divisor_override lowers")

    def module(self, node, m):
        low = self.low
        where = low.where(node)
        x = node.args[0] if node.args else None
        if len(node.args) != 1 or node.kwargs or not isinstance(x, fx.Node):
            low.fail("a layer is called with one tensor argument only")
        v = self.s(x)
        if isinstance(m, (BinaryLinear, BinaryConv2d)):
            low.check_layer(m, where)
            return low.weight_layer(m, v, node)
        if isinstance(m, ThresholdActivation):
            return low.activate(v, m, low.op_base(node))
        if isinstance(m, QuantInt8):
            low.check_quantizer(m, where)
            return low.quantize(v, float(m.scale), int(m.zero_point))
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            return low.batchnorm(v, m, node, self.val[x].shape)
        if isinstance(m, nn.MaxPool2d):
            return low.maxpool(v, m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode, m.return_indices)
        if isinstance(m, nn.AvgPool2d):
            self.check_avg(m.padding, m.ceil_mode, m.divisor_override)
            return low.avgpool(v, m.kernel_size, m.stride)
        if isinstance(m, nn.AdaptiveAvgPool2d):
            return self.adaptive(x, m.output_size)
        if isinstance(m, nn.Flatten):
            rank = self.val[x].dim()
            start = m.start_dim + rank if m.start_dim < 0 else m.start_dim
            end = m.end_dim + rank if m.end_dim < 0 else m.end_dim
            if (start, end) != (1, rank - 1):
                low.fail("only Flatten(start_dim=1, end_dim=-1) lowers (it flattens a whole sample)")
            return low.reshape(v, self.val[x].shape, self.out_shape(node))
        if isinstance(m, (nn.Dropout, nn.Identity)):
            return v
        if isinstance(m, RealActivation):
            low.fail(f"{m!r} is a real-valued activation; only hard-threshold activations (sign, rsign, step, qrelu2, "
                     "qrelu3) lower to integers")
        low.fail(f"unsupported module {type(m).__name__}; binedge lowers BinaryLinear, BinaryConv2d (binary or int8 "
                 "weights), Sign / RSign / Step / QReLU, QuantInt8, BatchNorm, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, "
                 "Flatten, Dropout and Identity (and any module whose forward is made of these)")


def _in_place(node: fx.Node) -> bool:
    if node.op == "call_method":
        return str(node.target).endswith("_") and not str(node.target).startswith("_")
    return node.op == "call_function" and node.target in (operator.iadd, operator.isub, operator.imul,
                                                          operator.itruediv)


def _is_shape_query(node: fx.Node) -> bool:
    """x.shape, x.size(...), x.dim(), x.numel(), len(...), and indexing into their results."""
    if node.op == "call_method":
        return node.target in ("size", "dim", "numel")
    return node.op == "call_function" and node.target in (getattr, operator.getitem, len)


def _flat_args(node: fx.Node):
    out = []
    fx.node.map_arg((node.args, node.kwargs), lambda n: out.append(n) or n)
    return out


# ----------------------------------------------------------------------------- API


def _prune(ops: list) -> list:
    """Drop ops whose value nothing reads (the last op, the scores, is always kept)."""
    while True:
        read = {n for op in ops for n in op.inputs}
        keep = [op for i, op in enumerate(ops) if i == len(ops) - 1 or op.name in read]
        if len(keep) == len(ops):
            return ops
        ops = keep


def _canonical(ops: list) -> None:
    """A step reading exactly the previous value gets ``inputs=None`` (the chain form)."""
    prev = INPUT_NAME
    for op in ops:
        if tuple(op.inputs) == (prev,):
            op.inputs = None
        prev = op.name


def _example(spec: TensorSpec) -> torch.Tensor:
    """Three random inputs of the graph input's type, as the model sees them: every node runs on
    them once (shapes), and the traced graph must give model.forward's result on them. Three: a
    batch size no model hard-codes by accident (the batch axis must stay free)."""
    import numpy as np

    from .agreement import torch_input
    from .graph import CODE_RANGE

    lo, hi = CODE_RANGE[spec.kind]
    codes = np.random.default_rng(0).integers(lo, hi + 1, size=(3,) + tuple(spec.shape))
    return torch_input(spec, codes.astype(spec.storage_dtype()))


def _check_trace_is_forward(model: nn.Module, runner: "_Runner", example: torch.Tensor) -> None:
    """fx records ``x += y`` as ``x = x + y``: another name still bound to the old tensor reads the
    sum in eager PyTorch but not in the trace. Any such divergence (in-place updates, Python-side
    state) shows as a different output on the example: refused."""
    out = runner.val.get(runner.output_node)
    with torch.no_grad():
        want = model(example)
    if not (isinstance(out, torch.Tensor) and isinstance(want, torch.Tensor) and out.shape == want.shape
            and torch.allclose(out, want, rtol=1e-5, atol=1e-6)):
        raise LoweringError("the traced forward (torch.fx) computes something else than model.forward on the same "
                            "input: an in-place update (x += y, x.add_(y)) read through another name, or state kept "
                            "in Python; write x = x + y and keep forward free of side effects")


def convert(model: nn.Module, example_input, *, input_spec: TensorSpec | None = None, class_names=None,
            metadata=None, round_float_weights: bool = False) -> Graph:
    """Lower ``model`` to a validated deployment graph (module docstring: the rules).

    Args:
        model: any nn.Module of binedge layers and ordinary torch ops; lowered in eval mode (its
            training flags are restored afterwards).
        example_input: a float tensor (N, C, H, W) or (N, F) shaped like the model's input (only
            its shape matters: every node also runs on random inputs of ``input_spec``).
        input_spec: the graph input: default uint8 images seen by the model as x/255 (NCHW,
            :func:`image_spec`); for features a u8 / i8 TensorSpec of shape (F,) or (H, W, C) with
            the scale and zero point the model sees them at, scale·(q − zero_point).
        class_names, metadata: stored in the graph.
        round_float_weights: lower a full-precision weight layer that reads the graph input with
            weights rounded to int8 per output channel (not exact; binedge.lower's historic rule).

    Raises LoweringError naming the fx node and its source line when a node has no exact integer form.
    """
    return convert_with_values(model, example_input, input_spec=input_spec, class_names=class_names,
                               metadata=metadata, round_float_weights=round_float_weights)[0]


def convert_with_values(model: nn.Module, example_input, *, input_spec: TensorSpec | None = None,
                        class_names=None, metadata=None, round_float_weights: bool = False):
    """:func:`convert`, also returning where each fx node's value went (for tests and debugging):
    a list of (node name, node target, graph value name, perm) for every node whose value is a
    graph value (codes or bits), in node order. ``target`` is the module's qualified name for a
    module call; the value name is None if the op was pruned (its value unused); ``perm`` (flat
    values) gives PyTorch's feature index of every graph position, None when the orders agree."""
    if not isinstance(model, nn.Module):
        raise LoweringError(f"convert() takes an nn.Module, got {type(model).__name__}")
    if not isinstance(example_input, torch.Tensor) or example_input.dim() not in (2, 4) \
            or example_input.shape[0] < 1 or not example_input.is_floating_point():
        raise LoweringError("example_input must be a float tensor of shape (N, C, H, W) or (N, F) with N >= 1")
    shape = tuple(int(v) for v in example_input.shape[1:])
    graph_shape = (shape[1], shape[2], shape[0]) if len(shape) == 3 else shape
    if input_spec is None:
        if len(shape) != 3:
            raise LoweringError("a feature-vector model needs input_spec: TensorSpec('i8' or 'u8', (F,), scale=..., "
                                "zero_point=...) saying how its inputs are coded")
        input_spec = image_spec(graph_shape)
    if not isinstance(input_spec, TensorSpec) or input_spec.kind not in ("u8", "i8"):
        raise LoweringError("input_spec must be a u8 or i8 TensorSpec")
    if tuple(input_spec.shape) != graph_shape:
        raise LoweringError(f"input_spec has shape {tuple(input_spec.shape)} but the example input is {graph_shape} "
                            "(graph layout: (H, W, C) for (N, C, H, W), (F,) for (N, F))")
    if leaf_class(model) is not None:
        model = nn.Sequential(model)  # fx traces a root's forward: a single known layer gets a container
    check_modules(model)
    modes = {m: m.training for m in model.modules()}
    model.eval()
    try:
        fx_graph = trace(model)
        example = _example(input_spec)
        low = Lowering(model, input_spec, round_float_weights)
        runner = _Runner(low, fx_graph, example)
        runner.run()
        _check_trace_is_forward(model, runner, example)
    finally:
        for m, mode in modes.items():
            m.training = mode
    ops = _prune(low.ops)
    _canonical(ops)
    graph = Graph(input_spec, ops, list(class_names or []), dict(metadata or {}))
    try:
        graph.validate()
    except GraphError as e:
        raise LoweringError(f"the lowered graph is invalid: {e}") from None
    kept = {INPUT_NAME} | {op.name for op in ops}
    values = [(n.name, str(n.target), v.name if v.name in kept else None, v.perm) for n, v in runner.sym.items()
              if isinstance(v, (Codes, Bits))]
    return graph, values
