"""Devices and data-parallel training for ``binedge train``: ``--device``, torch.distributed under
torchrun (DistributedDataParallel over NCCL on GPUs, Gloo on CPUs) and the ``--nproc N`` shortcut.

Processes. ``torchrun --nproc-per-node N -m binedge train ...`` (or ``binedge train --nproc N
...``, which starts the same through torch's elastic launcher with a standalone c10d
rendezvous) runs N copies of the trainer; each reads RANK / WORLD_SIZE / LOCAL_RANK from the
environment torchrun sets and joins the process group (:func:`setup`). Multi-node runs use
torchrun's rendezvous flags on every node (README "Training on several processes").

Data parallelism that equals one process. With global batch B (``--batch-size``) and N processes,
global batch k of an epoch is the same B samples a single process would take (positions kB ..
kB+B−1 of the epoch's permutation, binedge.data.epoch_order); process r takes the r-th of N
contiguous parts of it (:func:`shard`: B // N samples, one more for the first B mod N
processes). Each process weights its summed loss by N / (samples in the global batch), and DDP
averages gradients over the N processes, so the update is the gradient of the global batch's
mean loss, whatever the part sizes (the last, partial batch included). Batch statistics are
global too: BatchNorm layers are synchronised (:class:`SyncBatchNorm` on CPU, whose Gloo
all-reduce torch's own SyncBatchNorm does not support; torch.nn.SyncBatchNorm on GPUs) and so is
the batch range a calibrating :class:`~binedge.nn.QuantInt8` observes (:func:`synchronise`). A
run with N processes therefore computes the single-process run up to float rounding (summation
order).

LAB. Its α is a whole-tensor reduction over Adam's second moment, so every process must hold
the same optimizer state: DDP's all-reduced gradients give each process the same gradients, the
same Adam moments and the same α. :func:`check_replicas` gathers α (and a checksum of every
parameter) from all processes every epoch and raises :class:`ReplicaError` unless they are
bitwise equal. Sharded optimizers (ZeRO, FSDP) would give each process a part of the moments;
binedge does not use them and :class:`binedge.optim.LAB` refuses sharded parameters.

Reproducibility. The same seed gives bitwise the same weights on the same device type with the
same number of processes and threads per process. Different thread counts (1 vs 2 threads on a
CPU already), a different number of processes, or CPU vs GPU change the order of float
summations: the results then agree within float tolerance, not bitwise. On CUDA binedge asks for
deterministic kernels (cuDNN deterministic, ``torch.use_deterministic_algorithms(True,
warn_only=True)`` with ``CUBLAS_WORKSPACE_CONFIG=:4096:8``); an op without one is warned about.
"""

from __future__ import annotations

import math
import os
import signal
import sys
import uuid
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

DEVICE_HELP = "auto (CUDA when present, else CPU), cpu, cuda or cuda:N"


class DeviceError(Exception):
    """A ``--device`` / process request this machine cannot serve (a user error). Raised on every
    process that finds it, so each prints it (other user errors only process 0 prints)."""

    every_rank = True


class PeerLostError(RuntimeError):
    """A collective operation failed because another process of the run died or hung: one line
    (printed by each process that sees it) instead of the backend's traceback."""

    every_rank = True


def is_peer_failure(e: BaseException) -> bool:
    """Does ``e`` (raised by a collective) say that another process is gone? Gloo raises plain
    RuntimeErrors naming the transport; NCCL and the c10d store raise DistError subclasses."""
    if isinstance(e, getattr(dist, "DistError", ())):
        return True
    text = str(e)
    return any(s in text for s in ("gloo", "Gloo", "NCCL", "Connection reset", "Connection closed", "Broken pipe",
                                   "timed out", "Timed out"))


def short_reason(e: BaseException) -> str:
    """The gist of a backend error: its first line without the source location and advice."""
    import re

    first = (str(e).strip().splitlines() or [type(e).__name__])[0]
    first = re.sub(r"^\[[^\]]*\]\s*", "", first).split(". This is typically")[0]
    return first[:200]


class ReplicaError(RuntimeError):
    """The processes of a data-parallel run hold different weights or LAB scales: a bug or a
    non-deterministic kernel, never silently continued."""


@dataclass
class Context:
    """Where this process trains: its rank among ``world`` processes (``local_rank`` among
    ``local_world`` on this node), its device and the process group's backend (None: one process)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1
    device: torch.device = torch.device("cpu")
    backend: str | None = None
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def describe(self) -> str:
        where = str(self.device)
        return where if self.world == 1 else f"{self.world} processes ({self.backend}), {where} on rank {self.rank}"


def env_world() -> tuple[int, int, int, int]:
    """(rank, world, local_rank, local_world) from torchrun's environment (0, 1, 0, 1 outside it)."""
    def num(name: str, default: int) -> int:
        v = os.environ.get(name, "")
        return int(v) if v.strip().lstrip("-").isdigit() else default

    world = num("WORLD_SIZE", 1)
    return num("RANK", 0), world, num("LOCAL_RANK", 0), num("LOCAL_WORLD_SIZE", world)


def in_torchrun() -> bool:
    """Is this process one of several started by torchrun (WORLD_SIZE > 1)?"""
    return env_world()[1] > 1


def resolve_device(option: str | None = "auto", local_rank: int = 0, local_world: int = 1) -> torch.device:
    """The device ``--device`` names for this process: ``auto`` is cuda:LOCAL_RANK when CUDA is
    present, else the CPU; ``cuda`` is cuda:LOCAL_RANK; ``cuda:N`` (one process per node only)
    that GPU. DeviceError for a GPU this machine does not have."""
    text = (option or "auto").strip().lower()
    if text == "auto":
        text = "cuda" if torch.cuda.is_available() else "cpu"
    if text == "cpu":
        return torch.device("cpu")
    if text != "cuda" and not (text.startswith("cuda:") and text[5:].isdigit()):
        raise DeviceError(f"--device {option!r}: choose {DEVICE_HELP}")
    if not torch.cuda.is_available():
        why = ("this torch build has no CUDA support" if torch.version.cuda is None
               else "torch finds no CUDA device (driver, CUDA_VISIBLE_DEVICES)")
        raise DeviceError(f"--device {option}: no CUDA device is available ({why}, torch {torch.__version__}); "
                          f"use --device cpu or auto")
    count = torch.cuda.device_count()
    if text == "cuda":
        index = local_rank
    else:
        if local_world > 1:
            raise DeviceError(f"--device {option}: with {local_world} processes on this node each process takes "
                              f"its own GPU (cuda:LOCAL_RANK): give --device cuda (or auto)")
        index = int(text[5:])
    if index >= count:
        raise DeviceError(f"--device {option}: this process needs cuda:{index} but the machine has {count} CUDA "
                          f"device(s); start at most {count} processes per node")
    return torch.device("cuda", index)


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def setup(device: str | None = "auto", threads: int | None = None) -> Context:
    """This process's :class:`Context`: the device (:func:`resolve_device`), torch's thread count
    (``threads``; default: the CPUs shared evenly among the processes of this node) and, under
    torchrun with WORLD_SIZE > 1, the process group (NCCL for CUDA, Gloo for the CPU)."""
    rank, world, local_rank, local_world = env_world()
    dev = resolve_device(device, local_rank, local_world)
    if threads is not None:
        torch.set_num_threads(max(1, int(threads)))
    elif local_world > 1:
        torch.set_num_threads(max(1, _cpus() // local_world))
    if dev.type == "cuda":
        # Deterministic kernels where CUDA has them (module docstring); cuBLAS reads its workspace
        # setting when it first starts, so it is set before any CUDA work.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.cuda.set_device(dev)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        # float32 means float32, as on the CPU: cuDNN would otherwise run convolutions in TF32
        # (10-bit mantissas) on Ampere and later GPUs.
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.use_deterministic_algorithms(True, warn_only=True)
    ctx = Context(rank, world, local_rank, local_world, dev)
    if world > 1:
        ctx.backend = "nccl" if dev.type == "cuda" else "gloo"
        if not dist.is_available():
            raise DeviceError("this torch build has no torch.distributed: train with one process")
        if not dist.is_initialized():
            kwargs = {"device_id": dev} if dev.type == "cuda" else {}
            dist.init_process_group(ctx.backend, **kwargs)
            ctx.owns_group = True
    return ctx


def teardown(ctx: Context) -> None:
    if ctx.owns_group and dist.is_initialized():
        dist.destroy_process_group()
        ctx.owns_group = False


def end_worker(code) -> None:
    """End this process of a multi-process run with exit status ``code`` (a ``SystemExit.code``:
    None is 0, a string is printed to stderr and is 1) without the interpreter's shutdown.

    Why: a Gloo worker thread may still hold the last collective's tensors when Python finalizes;
    releasing them needs the GIL, which a finalizing interpreter no longer grants, and the thread's
    forced unwind calls std::terminate: the process dies of SIGABRT after the run succeeded (seen
    about once in 20 two-process runs on a loaded 2-core machine; pytorch issue 179291 describes
    the same shutdown race). ``os._exit`` skips that shutdown; standard streams are flushed first,
    and every file binedge writes is already closed and renamed (binedge.fileio atomic writes)."""
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        print(code, file=sys.stderr)
        status = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed or broken pipe: nothing more can be said
            pass
    os._exit(status)


def barrier(ctx: Context) -> None:
    if ctx.distributed:
        dist.barrier()


# ----------------------------------------------------------------------------- sharding


def shard(count: int, rank: int, world: int) -> tuple[int, int]:
    """[lo, hi) of part ``rank`` of ``count`` items cut into ``world`` contiguous parts: count //
    world items each, one more for the first count mod world parts."""
    base, extra = divmod(count, world)
    lo = rank * base + min(rank, extra)
    return lo, lo + base + (1 if rank < extra else 0)


def all_sum(ctx: Context, values) -> list[float]:
    """The sums over all processes of a few numbers (float64, exact for counts below 2^53)."""
    t = torch.tensor([float(v) for v in values], dtype=torch.float64)
    if ctx.distributed:
        t = t.to(ctx.device)
        dist.all_reduce(t)
    return [float(v) for v in t.cpu()]


# ----------------------------------------------------------------------------- synchronised statistics


class _SyncBN(torch.autograd.Function):
    """Batch normalisation over the union of every process's batch (training mode).

    Forward: one all-reduce of (Σx, Σx², n) per channel in float64 gives the global mean μ and
    biased variance σ²; y = γ·(x − μ)/√(σ² + ε) + β. Backward, with x̂ the normalised input and
    the means over the global batch: dx = γ/√(σ² + ε)·(dy − mean(dy) − x̂·mean(dy·x̂)) (one more
    all-reduce); dγ = Σ dy·x̂ and dβ = Σ dy over the local batch, which DDP then averages."""

    @staticmethod
    def forward(ctx, x, weight, bias, eps, group):
        c = x.shape[1]
        dims = [0] + list(range(2, x.dim()))
        xd = x.detach().double()
        stats = torch.cat([xd.sum(dims), (xd * xd).sum(dims),
                           torch.tensor([x.numel() // max(c, 1)], dtype=torch.float64, device=x.device)])
        dist.all_reduce(stats, group=group)
        n = stats[-1]
        mean = stats[:c] / n
        var = (stats[c:2 * c] / n - mean * mean).clamp_(min=0.0)
        shape = [1, c] + [1] * (x.dim() - 2)
        invstd = (var + eps).rsqrt()
        xhat = ((xd - mean.view(shape)) * invstd.view(shape)).to(x.dtype)
        y = xhat
        if weight is not None:
            y = xhat * weight.view(shape) + bias.view(shape)
        ctx.save_for_backward(xhat, invstd.to(x.dtype), weight)
        ctx.n, ctx.group = float(n), group
        unbiased = var * (n / (n - 1)) if float(n) > 1 else var
        mean_out, var_out = mean.to(x.dtype), unbiased.to(x.dtype)
        ctx.mark_non_differentiable(mean_out, var_out)
        return y, mean_out, var_out

    @staticmethod
    def backward(ctx, dy, _dmean, _dvar):
        xhat, invstd, weight = ctx.saved_tensors
        c = xhat.shape[1]
        dims = [0] + list(range(2, xhat.dim()))
        shape = [1, c] + [1] * (xhat.dim() - 2)
        sum_dy = dy.sum(dims)
        sum_dy_xhat = (dy * xhat).sum(dims)
        both = torch.cat([sum_dy, sum_dy_xhat]).double()
        dist.all_reduce(both, group=ctx.group)
        mean_dy = (both[:c] / ctx.n).to(dy.dtype)
        mean_dy_xhat = (both[c:] / ctx.n).to(dy.dtype)
        gain = invstd if weight is None else invstd * weight
        dx = gain.view(shape) * (dy - mean_dy.view(shape) - xhat * mean_dy_xhat.view(shape))
        dw = sum_dy_xhat if weight is not None else None
        db = sum_dy if weight is not None else None
        return dx, dw, db, None, None


class SyncBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm whose training-mode statistics cover every process's batch (:class:`_SyncBN`),
    over any backend (Gloo included). Same parameters and buffers as nn.BatchNorm1d / 2d, so a
    state_dict moves between them unchanged; running statistics are updated as nn.BatchNorm does
    (momentum, or a cumulative average with momentum None; the unbiased global variance)."""

    def __init__(self, *args, group=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.group = group

    def _check_input_dim(self, x):
        if x.dim() < 2:
            raise ValueError(f"expected at least 2-D input (N, C, ...), got {x.dim()}-D")

    def forward(self, x):
        self._check_input_dim(x)
        sync = self.training and dist.is_available() and dist.is_initialized() and \
            dist.get_world_size(self.group) > 1
        if not sync:
            return super().forward(x)
        y, mean, var = _SyncBN.apply(x, self.weight, self.bias, self.eps, self.group)
        if self.track_running_stats and self.running_mean is not None:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                f = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - f).add_(mean, alpha=f)
                self.running_var.mul_(1 - f).add_(var, alpha=f)
        return y


def _swap_batchnorm(module: nn.Module, make) -> nn.Module:
    out = module
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(module, (SyncBatchNorm,
                                                                                       nn.SyncBatchNorm)):
        out = make(module)
    for name, child in module.named_children():
        new = _swap_batchnorm(child, make)
        if new is not child:
            setattr(out, name, new)
    return out


def _cpu_sync(bn: nn.modules.batchnorm._BatchNorm) -> SyncBatchNorm:
    new = SyncBatchNorm(bn.num_features, bn.eps, bn.momentum, bn.affine, bn.track_running_stats)
    if bn.affine:
        new.weight, new.bias = bn.weight, bn.bias  # the same Parameter objects: optimizers keep them
    if bn.track_running_stats:
        new.running_mean, new.running_var = bn.running_mean, bn.running_var
        new.num_batches_tracked = bn.num_batches_tracked
    new.train(bn.training)
    return new


def _sync_quantizer(q) -> None:
    """Make a calibrating QuantInt8 observe the range of the global batch: its calibration uses
    only the batch minimum and maximum, so it is given the all-reduced pair."""
    observe = q._observe

    def global_observe(x):
        if x.numel():
            lo, hi = x.min(), x.max()
        else:
            lo = hi = None
        pair = torch.stack([-lo if lo is not None else torch.tensor(-math.inf, device=x.device),
                            hi if hi is not None else torch.tensor(-math.inf, device=x.device)]).float()
        dist.all_reduce(pair, op=dist.ReduceOp.MAX)
        observe(torch.stack([-pair[0], pair[1]]).to(x.dtype))

    q._observe = global_observe


def synchronise(model: nn.Module, ctx: Context) -> nn.Module:
    """``model`` with global batch statistics (module docstring): BatchNorm layers swapped for
    synchronised ones sharing their parameters and buffers, calibrating QuantInt8 observers
    all-reduced. Call before building the optimizer; one process: ``model`` unchanged."""
    if not ctx.distributed:
        return model
    if ctx.device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    else:
        model = _swap_batchnorm(model, _cpu_sync)
    from .nn.quant import QuantInt8

    for m in model.modules():
        if isinstance(m, QuantInt8) and not m.fixed:
            _sync_quantizer(m)
    return model


def wrap(model: nn.Module, ctx: Context) -> nn.Module:
    """DistributedDataParallel around ``model`` (identity for one process)."""
    if not ctx.distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel as DDP

    ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return DDP(model, device_ids=ids)


# ----------------------------------------------------------------------------- replica check


def replica_digest(model: nn.Module, opt) -> torch.Tensor:
    """LAB's α of every binary layer, then one float64 sum per parameter tensor (a cheap
    checksum of the weights): what must be bitwise equal on every process."""
    scales = opt.scales() if hasattr(opt, "scales") else torch.zeros(0)
    sums = [p.detach().double().sum().reshape(1).cpu() for p in model.parameters()]
    return torch.cat([scales.double().cpu().reshape(-1)] + sums)


def check_replicas(model: nn.Module, opt, ctx: Context) -> int:
    """Gather :func:`replica_digest` from every process; return the number of processes whose α
    and weights are bitwise those of process 0 (= world size), else raise ReplicaError."""
    if not ctx.distributed:
        return 1
    v = replica_digest(model, opt).to(ctx.device)
    got = [torch.empty_like(v) for _ in range(ctx.world)]
    dist.all_gather(got, v)
    n_scales = int(opt.scales().numel()) if hasattr(opt, "scales") else 0
    same = [r for r in range(ctx.world) if torch.equal(got[r], got[0])]
    if len(same) != ctx.world:
        bad = next(r for r in range(ctx.world) if r not in same)
        what = "LAB's α" if not torch.equal(got[bad][:n_scales], got[0][:n_scales]) else "the weights"
        raise ReplicaError(f"{what} of rank {bad} differ from rank 0's: the processes no longer hold identical "
                           f"optimizer state (every rank must see the same all-reduced gradients)")
    return len(same)


# ----------------------------------------------------------------------------- launching


def launch(nproc: int, args: list[str], *, err=None) -> int:
    """Run ``python -m binedge train ARGS`` in ``nproc`` processes on this node through torch's
    elastic launcher (what ``torchrun --standalone --nproc-per-node NPROC`` does: a c10d
    rendezvous on a free local port), with their output on this terminal. Returns the exit
    status: 0, or that of the first process that failed (its user error is already printed by
    the process; a process killed by a signal is described in one line through ``err``)."""
    import logging

    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    err = err or (lambda msg: print(msg, file=sys.stderr))
    config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=int(nproc), run_id=f"binedge-{uuid.uuid4()}",
                          rdzv_backend="c10d", rdzv_endpoint="localhost:0", max_restarts=0, monitor_interval=0.1,
                          start_method="spawn")
    loggers = [logging.getLogger(n) for n in ("torch.distributed.elastic", "torch.distributed.launcher",
                                              "torch.distributed.run")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:  # the agent's own INFO / WARNING / ERROR lines: the workers say what matters
        lg.setLevel(logging.CRITICAL)
    try:
        elastic_launch(config, sys.executable)("-m", "binedge", "train", *args)
        return 0
    except ChildFailedError as e:
        # A process killed by a signal is the cause; the others then fail on their own, losing
        # it (and, since end_worker, may be seen to fail first): report the killed one. The agent
        # stops the survivors with SIGTERM, so a rank killed by another signal comes first.
        killed = sorted(((int(f.exitcode) == -signal.SIGTERM, r), r, f) for r, f in e.failures.items()
                        if int(f.exitcode) < 0)
        rank, failure = (killed[0][1], killed[0][2]) if killed else e.get_first_failure()
        code = int(failure.exitcode)
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            err(f"Error: training process rank {rank} was killed by {name}; the run directory keeps its last "
                f"finished epoch: continue it with --resume")
            return 1
        if code != 1:  # 1: a user error (or a traceback) the process printed itself
            err(f"Error: training process rank {rank} exited with status {code}")
        return code
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)
