"""ctypes binding of the C runtime (runtime_c/, DESIGN.md §4): run .bnm blobs on the host.

    from binedge.runtime import Runtime
    rt = Runtime("model.bnm")                 # or the blob bytes, or a Graph
    scores = rt.run(images_u8)                # int32 (N, classes), bit-exact with binedge.reference
    rt.arena_bytes, rt.kernel_names()

A recurrent model (an LSTM op: ``rt.recurrent``) keeps its state between calls: ``rt.run(ids)``
runs its N inputs (character ids, shape (N,) or (N, 1)) as N successive time steps from the
current state, as ``binedge.reference.run_stream`` does; ``rt.reset()`` starts a new sequence
(the state is zero after construction). An id not below the vocabulary raises
:class:`InputRangeError` before any step runs (the state is unchanged).

Per-call cost: ``run`` on an ndarray of the model's input dtype and an accepted shape with at
most ``_FAST_ITEMS`` inputs (any strides) copies it into a staging buffer allocated at
construction and calls ``be_invoke`` through a function pointer whose arguments were made once;
the scores are copied out into a fresh array. Anything else takes the checked path (validation,
reshape, ``np.ascontiguousarray``, the same errors), with the same scores. On the 2-core host
(shared, load ~3), ``benchmarks/binding_overhead.py --before 9dcc492`` (medians of interleaved
rounds): one input of a 1-op Dense model, ``be_invoke`` through ctypes 0.34 µs, ``Runtime.run``
4.11 µs before, 1.75 µs now: the binding's own cost 3.78 µs -> 1.41 µs (2.7x less; what is left
is mostly the input copy, the ctypes call and the output copy, ~0.3 µs each). The fully binary
VGG (benchmarks/models/fmnist-vgg32-sign.bnm): 4.87 -> 2.95 µs over be_invoke's 46.4 µs. One
step of the character LSTM (linux-lstm128-lab.bnm, ids of shape (1,)): 19.1 -> 10.6 µs.

The shared library ``runtime_c/build/libbinedge.so`` is built with ``make -C runtime_c shared``
on first use when it is missing or older than any runtime source (a file lock serialises
concurrent builds). ``BINEDGE_LIB`` points at a prebuilt library instead (never rebuilt).
``BINEDGE_KERNEL`` selects the kernel variant when ``kernel=`` is not given ("ref", "auto", or a
variant name); ``CC`` selects the compiler of the build.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

__all__ = ["Runtime", "RuntimeStatusError", "InputRangeError", "STATUS_NAMES", "library", "library_path", "kernel_table", "build_lock",
           "RUNTIME_DIR"]

RUNTIME_DIR = Path(__file__).resolve().parent.parent / "runtime_c"
LIB_PATH = RUNTIME_DIR / "build" / "libbinedge.so"
ISA_DETECT = 0xFFFFFFFF

STATUS_NAMES = {
    0: "BE_OK", 1: "BE_ERR_ARG", 2: "BE_ERR_MAGIC", 3: "BE_ERR_VERSION", 4: "BE_ERR_TRUNCATED", 5: "BE_ERR_CRC",
    6: "BE_ERR_BOUNDS", 7: "BE_ERR_ALIGN", 8: "BE_ERR_FORMAT", 9: "BE_ERR_SHAPE", 10: "BE_ERR_UNSUPPORTED",
    11: "BE_ERR_ARENA_TOO_SMALL", 12: "BE_ERR_OVERFLOW", 13: "BE_ERR_INPUT",
}
STATUS_CODES = {v: k for k, v in STATUS_NAMES.items()}
OP_TYPES = {1: "dense", 2: "conv2d", 3: "maxpool2d", 4: "flatten", 5: "avgpool2d", 6: "add", 7: "requantize",
            8: "threshold", 9: "concat", 10: "reshape", 11: "merge", 12: "lstm"}


class RuntimeStatusError(RuntimeError):
    """A C runtime call failed: ``status`` is the be_status code, ``name`` its enum name."""

    def __init__(self, status: int, where: str, text: str):
        self.status = int(status)
        self.name = STATUS_NAMES.get(self.status, f"status {status}")
        super().__init__(f"{where}: {self.name}: {text}")


class InputRangeError(RuntimeStatusError, ValueError):
    """BE_ERR_INPUT: an input of a recurrent model is out of range (a character id not below the
    vocabulary of the LSTM reading it). Nothing ran: the state is as it was."""


class _Options(ctypes.Structure):
    _fields_ = [("kernel", ctypes.c_char_p), ("isa", ctypes.c_uint32)]


# ----------------------------------------------------------------------------- building


def _sources() -> list[Path]:
    files = [RUNTIME_DIR / "Makefile"]
    for pattern in ("include/*.h", "src/*.[ch]", "src/*/*.[ch]"):
        files.extend(RUNTIME_DIR.glob(pattern))
    return files


def _stale(lib: Path) -> bool:
    if not lib.exists():
        return True
    built = lib.stat().st_mtime
    return any(f.stat().st_mtime > built for f in _sources() if f.exists())


@contextlib.contextmanager
def build_lock():
    """Hold the runtime_c build lock (serialises `make` runs of concurrent processes)."""
    (RUNTIME_DIR / "build").mkdir(parents=True, exist_ok=True)
    with open(RUNTIME_DIR / "build" / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def library_path(rebuild: bool = False) -> Path:
    """Path of the shared library, building it first if missing or out of date."""
    env = os.environ.get("BINEDGE_LIB")
    if env:
        return Path(env)
    if not rebuild and not _stale(LIB_PATH):
        return LIB_PATH
    with build_lock():
        if rebuild or _stale(LIB_PATH):
            _build()
    return LIB_PATH


def _build() -> None:
    cc = os.environ.get("CC", "cc")
    make = shutil.which("make")
    if make is None:
        raise RuntimeError("cannot build the binedge C runtime: `make` is not installed (apt-get install make)")
    if shutil.which(cc.split()[0]) is None:
        raise RuntimeError(f"cannot build the binedge C runtime: the C compiler `{cc}` is not installed "
                           f"(apt-get install gcc, or set CC)")
    proc = subprocess.run([make, "-C", str(RUNTIME_DIR), "shared", f"-j{min(4, os.cpu_count() or 1)}"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
        raise RuntimeError(f"building the binedge C runtime failed (make -C {RUNTIME_DIR} shared, CC={cc}):\n{tail}")


_LIB = None


def library() -> ctypes.CDLL:
    """The loaded runtime library (built on first use), with argument types declared."""
    global _LIB
    if _LIB is not None:
        return _LIB
    lib = ctypes.CDLL(str(library_path()))
    vp, sz, u32, i32, cp = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint32, ctypes.c_int32, ctypes.c_char_p
    sigs = {
        "be_status_str": (cp, [ctypes.c_int]),
        "be_model_init": (ctypes.c_int, [vp, vp, sz]),
        "be_model_arena_size": (sz, [vp]),
        "be_model_input_bytes": (sz, [vp]),
        "be_model_input_shape": (ctypes.c_int, [vp, ctypes.POINTER(u32)]),
        "be_model_input_kind": (ctypes.c_int, [vp]),
        "be_model_input_zero_point": (i32, [vp]),
        "be_model_class_count": (u32, [vp]),
        "be_model_output_shift": (i32, [vp]),
        "be_model_op_count": (u32, [vp]),
        "be_model_class_name": (cp, [vp, u32]),
        "be_model_op_name": (cp, [vp, u32]),
        "be_model_metadata": (vp, [vp, ctypes.POINTER(sz)]),
        "be_options_default": (None, [vp]),
        "be_prepare": (ctypes.c_int, [vp, vp, vp, sz, ctypes.POINTER(_Options)]),
        "be_invoke": (ctypes.c_int, [vp, vp, vp]),
        "be_invoke_batch": (ctypes.c_int, [vp, vp, sz, vp]),
        "be_reset": (ctypes.c_int, [vp]),
        "be_model_is_recurrent": (ctypes.c_int, [vp]),
        "be_interpreter_kernel_name": (cp, [vp, u32]),
        "be_isa_detect": (u32, []),
        "be_kernel_count": (sz, []),
        "be_kernel_info": (cp, [sz, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(u32)]),
        "be_model_kernel_families": (u32, [vp, u32]),
        "be_kernel_family_name": (cp, [ctypes.c_int]),
        "be_crc32": (u32, [u32, vp, sz]),
        "be_model_sizeof": (sz, []),
        "be_interpreter_sizeof": (sz, []),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args
    _LIB = lib
    return lib


def kernel_table() -> list[tuple[str, str, int]]:
    """Every entry of the C kernel table: (variant name, op type, required ISA bits)."""
    lib = library()
    out = []
    for i in range(lib.be_kernel_count()):
        op, isa = ctypes.c_int(), ctypes.c_uint32()
        name = lib.be_kernel_info(i, ctypes.byref(op), ctypes.byref(isa))
        out.append((name.decode(), OP_TYPES.get(op.value, str(op.value)), isa.value))
    return out


# Runtime.run's lean path stages up to this many inputs (and at most this many bytes of them) in
# buffers allocated at construction; a bigger batch is run in place (its own cost dwarfs the call's).
_FAST_ITEMS = 64
_FAST_BYTES = 1 << 18


def _aligned(nbytes: int, align: int = 64) -> tuple[np.ndarray, int]:
    """A zeroed uint8 buffer of nbytes whose data address is a multiple of align; (owner, address)."""
    raw = np.zeros(nbytes + align, dtype=np.uint8)
    addr = raw.ctypes.data
    start = (-addr) % align
    return raw, addr + start


# ----------------------------------------------------------------------------- Runtime


class Runtime:
    """One model loaded into the C runtime with its own arena and interpreter.

    ``blob``: .bnm bytes, a path, or a :class:`binedge.graph.Graph` (encoded with blob_bytes).
    ``kernel``: None (reads ``BINEDGE_KERNEL``; unset = automatic dispatch), "auto", "ref" or a
    variant name. ``isa``: restrict the ISA bits the dispatcher may use (None = detect).
    ``arena``: override the arena size given to be_prepare (tests of BE_ERR_ARENA_TOO_SMALL).
    """

    def __init__(self, blob, *, kernel: str | None = None, isa: int | None = None, arena: int | None = None):
        from .graph import Graph

        if isinstance(blob, Graph):
            from .blob import blob_bytes

            data = blob_bytes(blob)
        elif isinstance(blob, (bytes, bytearray, memoryview)):
            data = bytes(blob)
        else:
            data = Path(blob).read_bytes()
        self._lib = lib = library()
        if kernel is None:
            kernel = os.environ.get("BINEDGE_KERNEL") or None
        self.kernel = kernel

        self._blob_buf, blob_addr = _aligned(len(data))
        ctypes.memmove(blob_addr, data, len(data))
        self._blob_addr = blob_addr
        self._model_buf, self._model = _aligned(lib.be_model_sizeof())
        self._check(lib.be_model_init(self._model, blob_addr, len(data)), "be_model_init")

        self.arena_bytes = int(lib.be_model_arena_size(self._model))
        self.input_bytes = int(lib.be_model_input_bytes(self._model))
        dims = (ctypes.c_uint32 * 3)()
        rank = lib.be_model_input_shape(self._model, dims)
        self.input_shape = tuple(int(d) for d in dims[:rank])
        self.input_dtype = np.dtype(np.int8) if lib.be_model_input_kind(self._model) == 4 else np.dtype(np.uint8)
        self.num_classes = int(lib.be_model_class_count(self._model))
        self.output_shift = int(lib.be_model_output_shift(self._model))
        self.recurrent = bool(lib.be_model_is_recurrent(self._model))
        self._data = data if self.recurrent else None
        n_ops = int(lib.be_model_op_count(self._model))
        names = [lib.be_model_class_name(self._model, i) for i in range(self.num_classes)]
        self.class_names = [n.decode("utf-8", "replace") for n in names if n is not None]
        self.op_names = [lib.be_model_op_name(self._model, i).decode("utf-8", "replace") for i in range(n_ops)]
        size = ctypes.c_size_t()
        addr = lib.be_model_metadata(self._model, ctypes.byref(size))
        self.metadata_json = ctypes.string_at(addr, size.value).decode("utf-8", "replace") if addr else ""

        arena_size = self.arena_bytes if arena is None else int(arena)
        self._arena_buf, arena_addr = _aligned(max(arena_size, 1))
        self._interp_buf, self._interp = _aligned(lib.be_interpreter_sizeof())
        opts = _Options(kernel.encode() if kernel else None, ISA_DETECT if isa is None else int(isa))
        self._check(lib.be_prepare(self._interp, self._model, arena_addr, arena_size, ctypes.byref(opts)),
                    "be_prepare")
        self._n_ops = n_ops
        # The lean call path of run: staging buffers for up to _fast_cap inputs and their scores,
        # allocated once, whose addresses are looked up here, not per call (an ndarray's
        # .ctypes.data costs ~1.4 µs, more than a small model's whole invoke).
        self._invoke_batch = lib.be_invoke_batch
        # private function pointers without argtypes (lib[name] is a new one; lib.name stays as
        # declared), called with ready-made ctypes arguments: no per-call argument conversion
        self._raw_invoke, self._raw_invoke_batch = lib["be_invoke"], lib["be_invoke_batch"]
        self._raw_invoke.restype = self._raw_invoke_batch.restype = ctypes.c_int
        item = int(np.prod(self.input_shape, dtype=np.int64))
        cap = max(1, min(_FAST_ITEMS, _FAST_BYTES // max(item, 1))) if item == self.input_bytes > 0 else 0
        self._fast_cap = cap  # 0: no lean path (an input whose shape does not give its byte count)
        self._in_buf, in_addr = _aligned(max(cap * item, 1))
        off = in_addr - self._in_buf.ctypes.data
        self._fast_in = self._in_buf[off:off + cap * item].view(self.input_dtype).reshape((cap,) + self.input_shape)
        self._fast_in_addr = in_addr
        self._fast_out = np.zeros((max(cap, 1), self.num_classes), dtype=np.int32)
        self._fast_out_addr = self._fast_out.ctypes.data
        self._c_interp, self._c_in, self._c_out = (ctypes.c_void_p(a)
                                                   for a in (self._interp, in_addr, self._fast_out_addr))
        self._fast_shape = shape = self.input_shape
        # the other input shape run accepts: (N, H, W) for (H, W, 1), ids (N,) for a recurrent (1,)
        alt = shape[:2] if len(shape) == 3 and shape[2] == 1 else () if self.recurrent and shape == (1,) else None
        self._fast_alt = alt
        self._fast_in_alt = self._fast_in.reshape((cap,) + alt) if alt is not None else None

    def _check(self, status: int, where: str) -> None:
        if status != 0:
            cls = InputRangeError if status == STATUS_CODES["BE_ERR_INPUT"] else RuntimeStatusError
            raise cls(status, where, self._lib.be_status_str(status).decode())

    def reset(self) -> None:
        """Zero the state of every LSTM op (be_reset): the next run starts a new sequence. A no-op
        for a model without state."""
        self._check(self._lib.be_reset(self._interp), "be_reset")

    def kernel_families(self) -> list[frozenset[str]]:
        """The kernel families every op may use (be_model_kernel_families: what a firmware that
        runs this model compiles; docs/firmware.md "Kernel subset")."""
        lib = self._lib
        out = []
        for i in range(self._n_ops):
            mask = int(lib.be_model_kernel_families(self._model, i))
            out.append(frozenset(lib.be_kernel_family_name(f).decode() for f in range(1, 32) if mask >> f & 1))
        return out

    def kernel_names(self) -> list[str]:
        """The kernel variant selected for every op ("ref", "avx2", ...)."""
        return [self._lib.be_interpreter_kernel_name(self._interp, i).decode() for i in range(self._n_ops)]

    def run(self, images) -> np.ndarray:
        """int32 scores (N, classes) of inputs (N,) + input shape ((N, H, W) if C == 1), uint8 or
        int8 as the model's input is. A recurrent model: N time steps in order from the current
        state (ids of shape (N,) or (N, 1)), which they advance; InputRangeError, before any
        step, for an id not below the vocabulary."""
        # Lean path: an ndarray of exactly the input dtype and of a shape run takes, with
        # 1 <= N <= _fast_cap (any strides), is copied into the staging buffer and run from there;
        # everything else (other types, dtypes or shapes, N == 0, big batches) takes the checked
        # path, which gives the same scores and every error message.
        if type(images) is np.ndarray and images.dtype is self.input_dtype:
            n = images.shape[0] if images.ndim else 0
            if 0 < n <= self._fast_cap:
                if images.shape[1:] == self._fast_shape:
                    self._fast_in[:n] = images
                elif images.shape[1:] == self._fast_alt:
                    self._fast_in_alt[:n] = images
                else:
                    return self._run_checked(images)
                if self.recurrent:  # every step or none (nothing has run yet)
                    self._check_ids(self._fast_in[:n])
                if n == 1:
                    status = self._raw_invoke(self._c_interp, self._c_in, self._c_out)
                else:
                    status = self._raw_invoke_batch(self._c_interp, self._c_in, ctypes.c_size_t(n), self._c_out)
                if status:
                    self._check(status, "be_invoke")
                return self._fast_out[:n].copy()
        return self._run_checked(images)

    def _run_checked(self, images) -> np.ndarray:
        """run for any input: validated, reshaped ((N, H, W) for C == 1, (N,) ids), made contiguous."""
        x = np.asarray(images)
        if x.dtype != self.input_dtype:
            raise ValueError(f"inputs must have dtype {self.input_dtype}, got {x.dtype}")
        shape = self.input_shape
        if len(shape) == 3 and shape[2] == 1 and x.ndim == 3 and x.shape[1:] == shape[:2]:
            x = x[..., None]
        if self.recurrent and shape == (1,) and x.ndim == 1:
            x = x[:, None]
        if x.ndim != len(shape) + 1 or tuple(x.shape[1:]) != shape:
            raise ValueError(f"images must have shape (N,)+{shape}, got {tuple(x.shape)}")
        x = np.ascontiguousarray(x)
        out = np.zeros((x.shape[0], self.num_classes), dtype=np.int32)
        if self.recurrent and x.shape[0]:  # every step or none: check every id against be_invoke's rule first
            self._check_ids(x)
        if x.shape[0]:
            self._check(self._invoke_batch(self._interp, x.ctypes.data, x.shape[0], out.ctypes.data), "be_invoke")
        return out

    def _check_ids(self, x: np.ndarray) -> None:
        """InputRangeError naming the first step whose id be_invoke would refuse (BE_ERR_INPUT),
        before any step runs (be_invoke_batch would stop there with the steps before it run). The
        C check still decides: where the vocabulary cannot be read here, nothing is checked."""
        vocab = self._vocab_cache if hasattr(self, "_vocab_cache") else self._vocab()
        if vocab is None or (x.shape[0] == 1 and int(x[0, 0]) < vocab):  # one step: no reduction
            return
        if x.size and int(x[:, 0].max()) >= vocab:
            t = int(np.argmax(x[:, 0] >= vocab))
            status = STATUS_CODES["BE_ERR_INPUT"]
            raise InputRangeError(status, f"be_invoke (step {t}: id {int(x[t, 0])}, vocabulary {vocab})",
                                  self._lib.be_status_str(status).decode())

    def _vocab(self) -> int | None:
        """The smallest vocabulary of an LSTM reading the input id (None if none does)."""
        from .blob import read_blob

        if not hasattr(self, "_vocab_cache"):
            self._vocab_cache = None
            try:
                g = read_blob(self._data)
            except Exception:  # noqa: BLE001 - a blob only the C reader takes: be_invoke still checks
                return None
            sizes = [int(op.in_features) for i, op in enumerate(g.ops)
                     if type(op).__name__ == "LSTM" and g.op_inputs(i)[0] == g.value_names()[0]]
            self._vocab_cache = min(sizes) if sizes else None
        return self._vocab_cache

    __call__ = run
