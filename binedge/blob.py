"""The .bnm blob: the one binary model format (DESIGN.md §3, spec in docs/format.md, version 2).

One little-endian file, every section and every tensor aligned to 16 bytes so the C runtime
(``runtime_c/``) reads weights in place from flash::

    header (128 B) | value table (48 B each) | op table (112 B each) | operand table (u32 each)
    | tensor table (32 B each) | strings | metadata (JSON) | tensor data

Version 2 stores the typed DAG of docs/graph.md: value 0 is the graph input, value i + 1 the
output of op i; every op lists the values it reads in the operand table; every value but the
input and the output (which live in the caller's buffers) has an offset in the caller-owned
arena, planned over the values' lifetimes (:func:`plan_arena`), like every op's scratch.

API:
    blob_bytes(graph) -> bytes             the canonical encoding of a graph
    write_blob(graph, path) -> dict        atomic write (temp file + os.replace); returns sizes
    read_blob(path_or_bytes) -> Graph      validates every field, raises BlobError
    plan_arena(graph) -> ArenaPlan         value / scratch offsets, the arena size and its lower bound
    arena_bytes(graph) -> int              the C runtime's arena requirement (stored in the header)
    scratch_bytes(op, spec_in) -> int      the scratch an op may use (docs/format.md §6)

The writer and the reader are exact inverses: ``blob_bytes(read_blob(b)) == b`` for every
blob the reader accepts (the reader checks exactly that as its last step, so any byte the
format does not explain -- a nonzero gap, a stray reserved field, another arena plan -- is an
error). Version 1 blobs (linear chains) are refused with a message to re-export.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import bitformat as bf
from .fileio import atomic_write_bytes
from .graph import (INPUT_NAME, LSTM, AccStage, Add, AvgPool2d, Concat, Conv2d, Dense, Flatten, Graph, GraphError,
                    MaxPool2d, Merge, RequantStage, Requantize, Reshape, RoundStage, ScoreStage, TensorSpec, Threshold,
                    ThresholdStage, lstm_state_bytes)

__all__ = [
    "BlobError", "MAGIC", "VERSION", "ALIGN", "HEADER_SIZE", "VALUE_RECORD_SIZE", "OP_RECORD_SIZE",
    "TENSOR_RECORD_SIZE", "blob_bytes", "write_blob", "read_blob", "arena_bytes", "plan_arena", "scratch_bytes",
    "layout", "ArenaPlan",
]

MAGIC = b"BNM1"
VERSION = 2
ALIGN = 16
HEADER_SIZE = 128
VALUE_RECORD_SIZE = 48
OP_RECORD_SIZE = 112
TENSOR_RECORD_SIZE = 32
NO_INDEX = 0xFFFFFFFF
U32_MAX = 0xFFFFFFFF

# header: docs/format.md §2.1 (offsets in the comments)
HEADER_FMT = struct.Struct(
    "<4s"  # 0  magic
    "H"  # 4  version
    "H"  # 6  header_size
    "I"  # 8  crc32 of bytes [12, total_size)
    "I"  # 12 total_size
    "I"  # 16 flags (0)
    "I"  # 20 arena_size
    "I"  # 24 n_values (= n_ops + 1)
    "I"  # 28 n_ops
    "I"  # 32 n_operands
    "I"  # 36 n_tensors
    "I"  # 40 value_table_offset
    "I"  # 44 op_table_offset
    "I"  # 48 operand_table_offset
    "I"  # 52 tensor_table_offset
    "I"  # 56 strings_offset
    "I"  # 60 strings_size
    "I"  # 64 n_class_names
    "I"  # 68 metadata_offset
    "I"  # 72 metadata_size
    "I"  # 76 data_offset
    "I"  # 80 data_size
    "I"  # 84 output classes
    "i"  # 88 output shift
    "36s"  # 92 reserved (zero)
)
assert HEADER_FMT.size == HEADER_SIZE
HEADER_KEYS = ("magic", "version", "header_size", "crc32", "total_size", "flags", "arena_size", "n_values", "n_ops",
               "n_operands", "n_tensors", "value_table_offset", "op_table_offset", "operand_table_offset",
               "tensor_table_offset", "strings_offset", "strings_size", "n_class_names", "metadata_offset",
               "metadata_size", "data_offset", "data_size", "output_classes", "output_shift", "reserved")
CRC_OFFSET = 8
CRC_START = 12  # the CRC covers every byte after its own field

# value record: kind, encoding, planes, rank, h, w, c, zero_point, arena offset, nbytes, bound (i32
# accumulators; else 0), scale (f64, 8-aligned at 32), reserved
VALUE_FMT = struct.Struct("<BBBB" "3I" "i" "I" "I" "I" "d" "8s")
assert VALUE_FMT.size == VALUE_RECORD_SIZE

# op record: type, weight kind, stage, encoding, n_inputs, first operand, in, out, kh, kw, sh, sw,
# pt, pb, pl, pr, groups, levels, shift, zero_point, multiplier a, multiplier b, scratch offset,
# scratch bytes, tensors (weights, a, b, c, d, e), reserved
OP_FMT = struct.Struct("<BBBB" "II" "II" "4I" "4I" "II" "i" "i" "i" "i" "II" "6I" "4s")
assert OP_FMT.size == OP_RECORD_SIZE

# tensor record: dtype, rank, reserved u16, dims[4], offset, nbytes, reserved u32
TENSOR_FMT = struct.Struct("<BBH4IIII")
assert TENSOR_FMT.size == TENSOR_RECORD_SIZE

# codes (docs/format.md §1)
KIND_U8, KIND_BITS, KIND_I32, KIND_I8 = 1, 2, 3, 4
KINDS = {"u8": KIND_U8, "bits": KIND_BITS, "i32": KIND_I32, "i8": KIND_I8}
KIND_NAMES = {v: k for k, v in KINDS.items()}
DT_U8, DT_I8, DT_U32, DT_I32, DT_I64 = 1, 2, 3, 4, 5
DTYPES = {DT_U8: np.dtype("u1"), DT_I8: np.dtype("i1"), DT_U32: np.dtype("<u4"), DT_I32: np.dtype("<i4"),
          DT_I64: np.dtype("<i8")}
DTYPE_NAMES = {DT_U8: "u8", DT_I8: "i8", DT_U32: "u32", DT_I32: "i32", DT_I64: "i64"}
OP_DENSE, OP_CONV2D, OP_MAXPOOL2D, OP_FLATTEN, OP_AVGPOOL2D = 1, 2, 3, 4, 5
OP_ADD, OP_REQUANTIZE, OP_THRESHOLD, OP_CONCAT, OP_RESHAPE, OP_MERGE = 6, 7, 8, 9, 10, 11
OP_LSTM = 12
OP_CODES = {Dense: OP_DENSE, Conv2d: OP_CONV2D, MaxPool2d: OP_MAXPOOL2D, Flatten: OP_FLATTEN,
            AvgPool2d: OP_AVGPOOL2D, Add: OP_ADD, Requantize: OP_REQUANTIZE, Threshold: OP_THRESHOLD,
            Concat: OP_CONCAT, Reshape: OP_RESHAPE, Merge: OP_MERGE, LSTM: OP_LSTM}
OP_NAMES = {v: k.__name__ for k, v in OP_CODES.items()}
WK_NONE, WK_BINARY, WK_INT8 = 0, 1, 2
WEIGHT_KINDS = {"binary": WK_BINARY, "int8": WK_INT8}
STAGE_NONE, STAGE_THRESHOLD, STAGE_SCORE, STAGE_REQUANT, STAGE_ROUND, STAGE_ACC = 0, 1, 2, 3, 4, 5
ENC_NONE, ENC_SIGN, ENC_UNSIGNED, ENC_ACC = 0, 1, 2, 3
ENCODINGS = {"sign": ENC_SIGN, "unsigned": ENC_UNSIGNED}
ENCODING_NAMES = {v: k for k, v in ENCODINGS.items()}

_REEXPORT = "re-export the model with `binedge export`"


class BlobError(ValueError):
    """A .bnm blob that cannot be read (corrupt, truncated, another version, inconsistent)."""


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


# ----------------------------------------------------------------------------- arena


def scratch_bytes(op, spec_in: TensorSpec) -> int:
    """Scratch op may use while it runs (docs/format.md §6): for a Conv2d, one receptive field
    KH * KW * (bytes of one input pixel), doubled for u8 / i8 inputs (room for int16 widening);
    for an LSTM, its persistent state (int32 c[H], then int8 h[H]; live at every op, kept between
    invokes); 0 for every other op. The arena holds it, 16-byte aligned."""
    if isinstance(op, LSTM):
        return lstm_state_bytes(op.hidden)
    if not isinstance(op, Conv2d):
        return 0
    pixel = spec_in.nbytes() // (spec_in.shape[0] * spec_in.shape[1])
    patch = op.kernel[0] * op.kernel[1] * pixel * (2 if spec_in.kind in ("u8", "i8") else 1)
    return _align(patch)


@dataclass(frozen=True)
class ArenaPlan:
    """Offsets of every value that lives in the arena (by value index; the input and the output
    live in the caller's buffers) and of every op's scratch, the arena size, and its lower bound:
    the largest total of 16-byte aligned regions live at one op."""

    value_offsets: dict  # value index -> arena offset
    scratch: dict  # op index -> (offset, bytes) for ops with scratch
    size: int
    lower_bound: int


def _lifetimes(graph: Graph) -> list[tuple[int, int, int, tuple]]:
    """(first op, last op, bytes, key) of every arena region: values (key ("value", v)) live from
    the op that writes them to the last op that reads them; scratch (key ("scratch", i)) during op i,
    an LSTM's state (also key ("scratch", i)) during every op."""
    specs = graph.value_specs()
    names = graph.value_names()
    cons = graph.consumers()
    n = len(graph.ops)
    regions = []
    for v in range(1, n):  # op outputs but the last (the caller's scores)
        last = max(cons[names[v]])
        regions.append((v - 1, last, specs[names[v]].nbytes(), ("value", v)))
    for i, op in enumerate(graph.ops):
        s = scratch_bytes(op, specs[graph.op_inputs(i)[0]])
        if s:  # an LSTM's state lives across every op (and between invokes)
            regions.append((0, n - 1, s, ("scratch", i)) if isinstance(op, LSTM) else (i, i, s, ("scratch", i)))
    return regions


def plan_arena(graph: Graph) -> ArenaPlan:
    """Greedy by size over lifetimes (as TFLite Micro's greedy planner does): regions in order of
    decreasing size (ties: in order of appearance) each take the lowest 16-aligned offset that
    overlaps no region placed earlier whose lifetime meets its own. Deterministic: the blob stores
    this plan and the reader recomputes it."""
    regions = _lifetimes(graph)
    order = sorted(range(len(regions)), key=lambda r: (-regions[r][2], r))
    placed: list[tuple[int, int, int, int]] = []  # (offset, end, first op, last op)
    offset_of: dict = {}
    for r in order:
        first, last, size, key = regions[r]
        busy = sorted((o, e) for o, e, f, la in placed if f <= last and first <= la)
        off = 0
        for o, e in busy:
            if off + size <= o:
                break
            off = max(off, _align(e))
        placed.append((off, off + size, first, last))
        offset_of[key] = (off, size)
    size = _align(max((e for _, e, _, _ in placed), default=0))
    lower = max((sum(_align(r[2]) for r in regions if r[0] <= t <= r[1]) for t in range(len(graph.ops))), default=0)
    values = {k[1]: v[0] for k, v in offset_of.items() if k[0] == "value"}
    scratch = {k[1]: v for k, v in offset_of.items() if k[0] == "scratch"}
    return ArenaPlan(values, scratch, size, lower)


def arena_bytes(graph: Graph) -> int:
    """Bytes of the caller-owned arena the C runtime needs for ``graph`` (docs/format.md §6)."""
    return plan_arena(graph).size


# ----------------------------------------------------------------------------- writer


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (tuple, set)):
        return list(o)
    raise TypeError(f"metadata value {o!r} of type {type(o).__name__} is not JSON-serialisable")


def metadata_json(metadata: dict) -> bytes:
    """The canonical metadata encoding: compact JSON, sorted keys, UTF-8 (docs/format.md §5)."""
    if not isinstance(metadata, dict):
        raise GraphError("graph metadata must be a dict")
    try:
        text = json.dumps(metadata, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False, default=_json_default)
    except (TypeError, ValueError) as e:
        raise GraphError(f"graph metadata cannot be stored as JSON: {e}") from None
    return text.encode("utf-8")


def _name_bytes(name, what: str) -> bytes:
    if not isinstance(name, str):
        raise GraphError(f"{what} must be a string, got {type(name).__name__}")
    b = name.encode("utf-8")
    if b"\0" in b:
        raise GraphError(f"{what} {name!r} contains a NUL character")
    return b


def _u32(v: int, what: str) -> int:
    v = int(v)
    if not 0 <= v <= U32_MAX:
        raise GraphError(f"{what} = {v} does not fit the blob's u32 field")
    return v


def _value_record(spec: TensorSpec, offset: int) -> tuple:
    h, w = (spec.shape[0], spec.shape[1]) if len(spec.shape) == 3 else (1, 1)
    codes = spec.kind in ("u8", "i8")
    acc = spec.kind == "i32" and spec.encoding == "acc"
    enc = ENCODINGS.get(spec.encoding, ENC_NONE) if spec.kind == "bits" else ENC_ACC if acc else ENC_NONE
    return (KINDS[spec.kind], enc, spec.planes if spec.kind == "bits" else 0, len(spec.shape), h, w, spec.shape[-1],
            int(spec.zero_point) if codes else 0, offset, spec.nbytes(), int(spec.bound) if acc else 0,
            float(spec.scale) if codes else 0.0, bytes(8))


def layout(graph: Graph) -> dict:
    """The planned layout of ``graph``'s blob: header fields, value / op / operand records, tensor
    payloads, strings and metadata. Validates the graph first (GraphError)."""
    specs = graph.value_specs()
    names = graph.value_names()
    index = {n: i for i, n in enumerate(names)}
    plan = plan_arena(graph)
    n_ops = len(graph.ops)

    tensors: list[tuple[int, tuple, bytes]] = []

    def add(arr: np.ndarray, code: int) -> int:
        a = np.ascontiguousarray(arr, dtype=DTYPES[code])
        if not 1 <= a.ndim <= 4:
            raise GraphError(f"tensor rank {a.ndim} is not in 1..4")
        tensors.append((code, tuple(int(d) for d in a.shape), a.tobytes()))
        return len(tensors) - 1

    def stage_fields(st) -> tuple:
        """(stage code, encoding, levels, shift, zero point, a, b, c tensor indices)."""
        if isinstance(st, ThresholdStage):
            return (STAGE_THRESHOLD, ENCODINGS[st.encoding], st.levels, 0, 0,
                    add(st.direction, DT_I8), add(st.thresholds, DT_I32), NO_INDEX)
        if isinstance(st, ScoreStage):
            return (STAGE_SCORE, ENC_NONE, 0, int(st.shift), 0, add(st.multiplier, DT_I32), add(st.offset, DT_I32),
                    NO_INDEX)
        if isinstance(st, AccStage):
            return (STAGE_ACC, ENC_NONE, 0, 0, 0, NO_INDEX, NO_INDEX, NO_INDEX)
        return (STAGE_REQUANT, ENC_NONE, 0, 0, int(st.zero_point), add(st.multiplier, DT_I32), add(st.bias, DT_I64),
                add(st.shift, DT_U8))

    values = [_value_record(specs[n], plan.value_offsets.get(i, NO_INDEX)) for i, n in enumerate(names)]
    operands: list[int] = []
    ops = []
    for i, op in enumerate(graph.ops):
        ins = [index[n] for n in graph.op_inputs(i)]
        first = len(operands)
        operands.extend(ins)
        geo = (0,) * 8
        ci = co = groups = levels = shift = zp = ma = mb = 0
        wk = stage = enc = 0
        t = [NO_INDEX] * 6
        if isinstance(op, Merge):
            t[1], t[2], t[3] = add(op.multipliers_a, DT_I32), add(op.multipliers_b, DT_I32), add(op.bias, DT_I64)
            if isinstance(op.output, ThresholdStage):
                stage, enc, levels = STAGE_THRESHOLD, ENCODINGS[op.output.encoding], op.output.levels
                t[4], t[5] = add(op.output.direction, DT_I8), add(op.output.thresholds, DT_I64)
            else:
                stage, zp = STAGE_ROUND, int(op.output.zero_point)
                t[4] = add(op.output.shift, DT_U8)
        elif isinstance(op, (Dense, Conv2d)):
            wk = WEIGHT_KINDS[op.weight_kind]
            t[0] = add(op.weights, DT_U32 if wk == WK_BINARY else DT_I8)
            stage, enc, levels, shift, zp, t[1], t[2], t[3] = stage_fields(op.output)
            if isinstance(op, Dense):
                ci, co = op.in_features, op.out_features
            else:
                ci, co, groups = op.in_channels, op.out_channels, op.groups
                geo = tuple(op.kernel) + tuple(op.stride) + tuple(op.padding)
        elif isinstance(op, (MaxPool2d, AvgPool2d)):
            geo = tuple(op.kernel) + tuple(op.stride) + (0, 0, 0, 0)
            if isinstance(op, AvgPool2d):
                shift, zp, ma = int(op.shift), int(op.zero_point), int(op.multiplier)
        elif isinstance(op, Add):
            shift, zp = int(op.shift), int(op.zero_point)
            ma, mb = (int(v) for v in op.multipliers)
        elif isinstance(op, Requantize):
            shift, zp, ma = int(op.shift), int(op.zero_point), int(op.multiplier)
        elif isinstance(op, Threshold):
            stage, enc, levels, shift, zp, t[1], t[2], t[3] = stage_fields(op.stage)
        elif isinstance(op, LSTM):
            wk, ci, co, shift = WK_BINARY, op.in_features, op.hidden, int(op.c_frac)
            t[0], t[1] = add(op.recurrent, DT_U32), add(op.input_weights, DT_U32)
            t[2], t[3], t[4] = add(op.multipliers, DT_I32), add(op.bias, DT_I32), add(op.shifts, DT_U8)
        sc = plan.scratch.get(i, (NO_INDEX, 0))
        ops.append((OP_CODES[type(op)], wk, stage, enc, len(ins), first, ci, co) + tuple(geo)
                   + (groups, levels, shift, zp, ma, mb, sc[0], sc[1]) + tuple(t) + (bytes(4),))
        for j, v in enumerate((ci, co) + tuple(geo) + (groups, levels)):
            _u32(v, f"op {i} field {j}")

    strs = [_name_bytes(n, "class name") for n in graph.class_names]
    strs += [_name_bytes(op.name, f"op {i} name") for i, op in enumerate(graph.ops)]
    strings = b"".join(n + b"\0" for n in strs)
    meta = metadata_json(graph.metadata)

    value_table = HEADER_SIZE
    op_table = _align(value_table + VALUE_RECORD_SIZE * len(values))
    operand_table = _align(op_table + OP_RECORD_SIZE * len(ops))
    tensor_table = _align(operand_table + 4 * len(operands))
    strings_off = _align(tensor_table + TENSOR_RECORD_SIZE * len(tensors))
    meta_off = _align(strings_off + len(strings))
    data_off = _align(meta_off + len(meta))
    pos = data_off
    placed = []
    for code, shape, payload in tensors:
        placed.append((code, shape, pos, payload))
        pos = _align(pos + len(payload))
    total = pos
    _u32(total, "total blob size")
    out = specs[names[-1]]
    header = dict(
        magic=MAGIC, version=VERSION, header_size=HEADER_SIZE, crc32=0, total_size=total, flags=0,
        arena_size=_u32(plan.size, "arena size"), n_values=len(values), n_ops=n_ops, n_operands=len(operands),
        n_tensors=len(tensors), value_table_offset=value_table, op_table_offset=op_table,
        operand_table_offset=operand_table, tensor_table_offset=tensor_table, strings_offset=strings_off,
        strings_size=len(strings), n_class_names=len(graph.class_names), metadata_offset=meta_off,
        metadata_size=len(meta), data_offset=data_off, data_size=total - data_off, output_classes=out.shape[0],
        output_shift=int(graph.ops[-1].output.shift), reserved=bytes(36),
    )
    return dict(header=header, values=values, ops=ops, operands=operands, tensors=placed, strings=strings,
                metadata=meta, plan=plan)


def blob_bytes(graph: Graph) -> bytes:
    """The canonical .bnm encoding of ``graph`` (raises GraphError if it cannot be encoded)."""
    lay = layout(graph)
    h = lay["header"]
    buf = bytearray(h["total_size"])
    buf[:HEADER_SIZE] = HEADER_FMT.pack(*(h[k] for k in HEADER_KEYS))
    for i, rec in enumerate(lay["values"]):
        VALUE_FMT.pack_into(buf, h["value_table_offset"] + i * VALUE_RECORD_SIZE, *rec)
    for i, rec in enumerate(lay["ops"]):
        OP_FMT.pack_into(buf, h["op_table_offset"] + i * OP_RECORD_SIZE, *rec)
    for i, v in enumerate(lay["operands"]):
        struct.pack_into("<I", buf, h["operand_table_offset"] + 4 * i, v)
    pos = h["tensor_table_offset"]
    for code, shape, off, payload in lay["tensors"]:
        dims = tuple(shape) + (0,) * (4 - len(shape))
        TENSOR_FMT.pack_into(buf, pos, code, len(shape), 0, *dims, off, len(payload), 0)
        buf[off:off + len(payload)] = payload
        pos += TENSOR_RECORD_SIZE
    buf[h["strings_offset"]:h["strings_offset"] + h["strings_size"]] = lay["strings"]
    buf[h["metadata_offset"]:h["metadata_offset"] + h["metadata_size"]] = lay["metadata"]
    struct.pack_into("<I", buf, CRC_OFFSET, zlib.crc32(bytes(buf[CRC_START:])) & U32_MAX)
    return bytes(buf)


def write_blob(graph: Graph, path) -> dict:
    """Write ``graph`` to ``path`` atomically (temp file in the same folder, then os.replace).

    Returns the sizes: total, weights (tensor payload bytes), header_and_tables, arena (and its
    lower bound), ops, values, tensors."""
    lay = layout(graph)
    data = blob_bytes(graph)
    h = _parse_header(data, "blob")
    path = atomic_write_bytes(path, data)
    payload = sum(len(t[3]) for t in lay["tensors"])
    return {"path": str(path), "total": len(data), "weights": payload, "data_section": h["data_size"],
            "header_and_tables": h["data_offset"], "arena": h["arena_size"], "arena_lower_bound": lay["plan"].lower_bound,
            "ops": h["n_ops"], "values": h["n_values"], "tensors": h["n_tensors"], "crc32": h["crc32"]}


# ----------------------------------------------------------------------------- reader


def _err(src: str, msg: str) -> BlobError:
    return BlobError(f"{src}: {msg}; {_REEXPORT}")


def _parse_header(data: bytes, src: str) -> dict:
    if len(data) >= 4 and data[:4] != MAGIC:
        raise _err(src, f"bad magic {bytes(data[:4])!r} (expected {MAGIC!r}): not a .bnm blob")
    if len(data) >= 6:
        version = struct.unpack_from("<H", data, 4)[0]
        if version != VERSION:
            old = " (a linear-chain blob of binedge < 0.3)" if version == 1 else ""
            raise _err(src, f"unsupported format version {version}{old}; this binedge reads version {VERSION}")
    if len(data) < HEADER_SIZE:
        raise _err(src, f"truncated: {len(data)} bytes, shorter than the {HEADER_SIZE}-byte header")
    h = dict(zip(HEADER_KEYS, HEADER_FMT.unpack_from(data, 0)))
    if h["header_size"] != HEADER_SIZE:
        raise _err(src, f"header size {h['header_size']} != {HEADER_SIZE} for version {VERSION}")
    if h["total_size"] > len(data):
        raise _err(src, f"truncated: the header says {h['total_size']} bytes, only {len(data)} present")
    if h["total_size"] < len(data):
        raise _err(src, f"{len(data) - h['total_size']} trailing bytes after the {h['total_size']}-byte blob")
    crc = zlib.crc32(memoryview(data)[CRC_START:]) & U32_MAX
    if crc != h["crc32"]:
        raise _err(src, f"CRC32 mismatch (stored {h['crc32']:#010x}, computed {crc:#010x}): the file is corrupt")
    if h["total_size"] % ALIGN:
        raise _err(src, f"total size {h['total_size']} is not a multiple of {ALIGN}")
    if h["flags"] != 0 or any(h["reserved"]):
        raise _err(src, "nonzero reserved header fields (flags / reserved)")
    return h


def _check_sections(h: dict, src: str) -> None:
    total = h["total_size"]
    secs = [
        ("value table", h["value_table_offset"], VALUE_RECORD_SIZE * h["n_values"]),
        ("op table", h["op_table_offset"], OP_RECORD_SIZE * h["n_ops"]),
        ("operand table", h["operand_table_offset"], 4 * h["n_operands"]),
        ("tensor table", h["tensor_table_offset"], TENSOR_RECORD_SIZE * h["n_tensors"]),
        ("strings", h["strings_offset"], h["strings_size"]),
        ("metadata", h["metadata_offset"], h["metadata_size"]),
        ("data", h["data_offset"], h["data_size"]),
    ]
    prev_end, prev = HEADER_SIZE, "header"
    for name, off, size in secs:
        if off % ALIGN:
            raise _err(src, f"{name} offset {off} is misaligned (must be a multiple of {ALIGN})")
        if off > total or size > total - off:
            raise _err(src, f"{name} section [{off}, {off + size}) is out of range (blob size {total})")
        if off < prev_end:
            raise _err(src, f"{name} section at {off} overlaps the {prev} (ends at {prev_end})")
        prev_end, prev = off + size, name
    if h["data_offset"] + h["data_size"] != total:
        raise _err(src, "the data section must end at the end of the blob")
    if h["n_ops"] < 1:
        raise _err(src, "the blob has no ops")
    if h["n_values"] != h["n_ops"] + 1:
        raise _err(src, f"{h['n_values']} values for {h['n_ops']} ops (the input plus one per op)")


def _tensor_records(data: bytes, h: dict, src: str) -> list[tuple[int, tuple, int, int]]:
    out = []
    for i in range(h["n_tensors"]):
        code, rank, res, d0, d1, d2, d3, off, nbytes, res2 = TENSOR_FMT.unpack_from(
            data, h["tensor_table_offset"] + i * TENSOR_RECORD_SIZE)
        dims = (d0, d1, d2, d3)
        if code not in DTYPES:
            raise _err(src, f"tensor {i}: bad dtype code {code}")
        if not 1 <= rank <= 4:
            raise _err(src, f"tensor {i}: bad rank {rank}")
        if res or res2 or any(dims[rank:]):
            raise _err(src, f"tensor {i}: nonzero reserved fields / unused dims")
        shape = dims[:rank]
        want = int(np.prod(shape, dtype=object)) * DTYPES[code].itemsize
        if nbytes != want:
            raise _err(src, f"tensor {i}: byte size {nbytes} != {want} for {DTYPE_NAMES[code]} {shape}")
        if off % ALIGN:
            raise _err(src, f"tensor {i}: data offset {off} is misaligned (must be a multiple of {ALIGN})")
        if off < h["data_offset"] or off > h["total_size"] or nbytes > h["total_size"] - off:
            raise _err(src, f"tensor {i}: data [{off}, {off + nbytes}) is out of range "
                            f"(data section [{h['data_offset']}, {h['total_size']}))")
        out.append((code, shape, off, nbytes))
    return out


def _strings(data: bytes, h: dict, src: str) -> list[str]:
    raw = bytes(data[h["strings_offset"]:h["strings_offset"] + h["strings_size"]])
    n = h["n_class_names"] + h["n_ops"]
    if raw.count(b"\0") != n or (n and not raw.endswith(b"\0")) or (not n and raw):
        raise _err(src, f"the string table must hold exactly {n} NUL-terminated strings "
                        f"({h['n_class_names']} class names + {h['n_ops']} op names)")
    try:
        return [s.decode("utf-8") for s in raw.split(b"\0")[:n]]
    except UnicodeDecodeError:
        raise _err(src, "the string table is not valid UTF-8") from None


def _metadata(data: bytes, h: dict, src: str) -> dict:
    raw = bytes(data[h["metadata_offset"]:h["metadata_offset"] + h["metadata_size"]])
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise _err(src, f"the metadata section is not UTF-8 JSON ({e})") from None
    if not isinstance(meta, dict):
        raise _err(src, "the metadata section must be a JSON object")
    return meta


def _input_spec(data: bytes, h: dict, src: str) -> TensorSpec:
    kind, enc, planes, rank, hh, ww, c, zp, off, nbytes, res32, scale, res = VALUE_FMT.unpack_from(
        data, h["value_table_offset"])
    if kind not in (KIND_U8, KIND_I8) or rank not in (1, 3) or enc or planes or res32 or any(res):
        raise _err(src, f"bad input value (kind {kind}, rank {rank}): the input is u8 or i8 of rank 1 or 3")
    if rank == 1 and (hh, ww) != (1, 1):
        raise _err(src, "a rank-1 input must have h = w = 1")
    if off != NO_INDEX:
        raise _err(src, "the input value lives in the caller's buffer (arena offset 0xFFFFFFFF)")
    shape = (hh, ww, c) if rank == 3 else (c,)
    return TensorSpec(KIND_NAMES[kind], shape, scale=float(scale), zero_point=int(zp))


def read_blob(blob) -> Graph:
    """Read and fully validate a .bnm blob (a path or the bytes); raises BlobError."""
    if isinstance(blob, (bytes, bytearray, memoryview)):
        data, src = bytes(blob), "blob"
    else:
        src = str(blob)
        try:
            data = Path(blob).read_bytes()
        except FileNotFoundError:
            raise
        except OSError as e:
            raise BlobError(f"{src}: cannot read ({e})") from None
    h = _parse_header(data, src)
    _check_sections(h, src)
    trecs = _tensor_records(data, h, src)
    names = _strings(data, h, src)
    meta = _metadata(data, h, src)
    class_names, op_names = names[:h["n_class_names"]], names[h["n_class_names"]:]
    operands = [struct.unpack_from("<I", data, h["operand_table_offset"] + 4 * i)[0] for i in range(h["n_operands"])]
    used = set()

    def tensor(where: str, idx: int, what: str, code: int, shape: tuple) -> np.ndarray:
        if idx >= len(trecs):
            raise _err(src, f"{where}: {what} tensor index {idx} out of range ({len(trecs)} tensors)")
        if idx in used:
            raise _err(src, f"{where}: tensor {idx} is used twice")
        used.add(idx)
        t_code, t_shape, off, nbytes = trecs[idx]
        if t_code != code or tuple(t_shape) != tuple(shape):
            raise _err(src, f"{where}: {what} tensor {idx} is {DTYPE_NAMES[t_code]} {tuple(t_shape)}, "
                            f"expected {DTYPE_NAMES[code]} {tuple(shape)}")
        return np.frombuffer(data, DTYPES[code], count=nbytes // DTYPES[code].itemsize,
                             offset=off).reshape(shape).copy()

    graph = Graph(_input_spec(data, h, src), [], class_names, meta)
    value_names = [INPUT_NAME] + [n if n else f"op{i}" for i, n in enumerate(op_names)]
    specs = {INPUT_NAME: graph.input}
    for i in range(h["n_ops"]):
        rec = OP_FMT.unpack_from(data, h["op_table_offset"] + i * OP_RECORD_SIZE)
        (code, wk, stage, enc, n_in, first, ci, co, kh, kw, sh, sw, pt, pb, pl, pr, groups, levels, shift, zp, ma,
         mb, sc_off, sc_bytes, tw, ta, tb, tc, td, te, res) = rec
        name = op_names[i]
        where = f"op {i} ({OP_NAMES.get(code, code)} {name!r})"
        if code not in OP_NAMES:
            raise _err(src, f"op {i}: unknown op type code {code}")
        if any(res):
            raise _err(src, f"{where}: nonzero reserved bytes")
        if n_in < 1 or first > len(operands) or n_in > len(operands) - first:
            raise _err(src, f"{where}: operands [{first}, {first + n_in}) out of range ({len(operands)})")
        ins = operands[first:first + n_in]
        if any(v > i for v in ins):
            raise _err(src, f"{where}: reads value {max(ins)}, which is not written before it")
        inputs = tuple(value_names[v] for v in ins)
        spec_in = specs[inputs[0]]

        if code not in (OP_MERGE, OP_LSTM) and (td, te) != (NO_INDEX, NO_INDEX):
            raise _err(src, f"{where}: stage tensors d / e are used by Merge and LSTM only")

        def stage_of(c_out: int):
            if stage == STAGE_ACC:
                if enc or levels or shift or zp or (ta, tb, tc) != (NO_INDEX,) * 3:
                    raise _err(src, f"{where}: bad accumulator stage fields")
                return AccStage()
            if stage == STAGE_THRESHOLD:
                if enc not in (ENC_SIGN, ENC_UNSIGNED) or levels < 1 or shift or zp or tc != NO_INDEX:
                    raise _err(src, f"{where}: bad threshold stage fields")
                return ThresholdStage(tensor(where, ta, "direction", DT_I8, (c_out,)),
                                      tensor(where, tb, "thresholds", DT_I32, (c_out, levels)), ENCODING_NAMES[enc])
            if stage == STAGE_SCORE:
                if enc or levels or zp or tc != NO_INDEX:
                    raise _err(src, f"{where}: bad score stage fields")
                return ScoreStage(tensor(where, ta, "multiplier", DT_I32, (c_out,)),
                                  tensor(where, tb, "offset", DT_I32, (c_out,)), shift)
            if stage == STAGE_REQUANT:
                if enc or levels or shift:
                    raise _err(src, f"{where}: bad requantization stage fields")
                out_rec = VALUE_FMT.unpack_from(data, h["value_table_offset"] + (i + 1) * VALUE_RECORD_SIZE)
                return RequantStage(tensor(where, ta, "multiplier", DT_I32, (c_out,)),
                                    tensor(where, tb, "bias", DT_I64, (c_out,)),
                                    tensor(where, tc, "shift", DT_U8, (c_out,)), zp, float(out_rec[11]))
            raise _err(src, f"{where}: bad output stage code {stage}")

        out_rec = VALUE_FMT.unpack_from(data, h["value_table_offset"] + (i + 1) * VALUE_RECORD_SIZE)
        out_scale = float(out_rec[11])
        geo_used = {OP_CONV2D: 8, OP_MAXPOOL2D: 4, OP_AVGPOOL2D: 4}.get(code, 0)
        geo = (kh, kw, sh, sw, pt, pb, pl, pr)
        if any(geo[geo_used:]):
            raise _err(src, f"{where}: nonzero kernel / stride / padding fields this op does not use")
        if code == OP_LSTM:
            if wk != WK_BINARY or stage or enc or n_in != 1 or groups or levels or zp or ma or mb or te != NO_INDEX:
                raise _err(src, f"{where}: an LSTM record has weight kind binary, one input and only the in, out, "
                                f"shift (c_frac) and tensor fields set")
            if not (1 <= co <= (1 << 22) and 1 <= ci <= (1 << 24)):
                raise _err(src, f"{where}: in {ci} / hidden {co} out of range")
            onehot = spec_in.kind == "u8"
            wx_shape = (ci, bf.words_for(4 * co)) if onehot else (4 * co, bf.words_for(ci))
            op = LSTM(tensor(where, tw, "recurrent weights", DT_U32, (4 * co, bf.words_for(co))),
                      tensor(where, ta, "input weights", DT_U32, wx_shape), ci, co,
                      tensor(where, tb, "multipliers", DT_I32, (2, 4)), tensor(where, tc, "bias", DT_I32, (4 * co,)),
                      tensor(where, td, "shifts", DT_U8, (4,)), shift, name, inputs=inputs)
        elif code in (OP_DENSE, OP_CONV2D):
            if wk not in (WK_BINARY, WK_INT8):
                raise _err(src, f"{where}: bad weight kind code {wk}")
            if ci == 0 or co == 0 or (code == OP_CONV2D and (min(geo[:4]) < 1 or groups < 1 or ci % groups)):
                raise _err(src, f"{where}: zero sizes, kernel, stride or groups")
            if code == OP_DENSE and groups:
                raise _err(src, f"{where}: groups on a Dense op")
            if ma or mb:
                raise _err(src, f"{where}: nonzero multiplier fields")
            k = ci if code == OP_DENSE else ci // groups
            lead = (co,) if code == OP_DENSE else (co, kh, kw)
            if wk == WK_BINARY:
                weights = tensor(where, tw, "weights", DT_U32, lead + (bf.words_for(k),))
            else:
                weights = tensor(where, tw, "weights", DT_I8, lead + (k,))
            st = stage_of(co)
            kind = "binary" if wk == WK_BINARY else "int8"
            if code == OP_DENSE:
                op = Dense(weights, ci, co, st, kind, name, inputs=inputs)
            else:
                op = Conv2d(weights, ci, co, (kh, kw), (sh, sw), (pt, pb, pl, pr), st, kind, name, groups=groups,
                            inputs=inputs)
        else:
            if wk or ci or co or groups or tw != NO_INDEX:
                raise _err(src, f"{where}: nonzero weight / channel / groups fields this op does not use")
            if code == OP_THRESHOLD:
                if ma or mb:
                    raise _err(src, f"{where}: nonzero multiplier fields")
                if stage != STAGE_THRESHOLD:
                    raise _err(src, f"{where}: a Threshold op has a threshold stage")
                op = Threshold(stage_of(spec_in.shape[-1] if spec_in.shape else 1), name, inputs=inputs)
            elif code == OP_MERGE:
                c_out = spec_in.shape[-1]
                if ma or mb or shift:
                    raise _err(src, f"{where}: nonzero fields this op does not use")
                args = (tensor(where, ta, "multipliers a", DT_I32, (c_out,)),
                        tensor(where, tb, "multipliers b", DT_I32, (c_out,)),
                        tensor(where, tc, "bias", DT_I64, (c_out,)))
                if stage == STAGE_THRESHOLD:
                    if enc not in (ENC_SIGN, ENC_UNSIGNED) or levels < 1 or zp:
                        raise _err(src, f"{where}: bad threshold stage fields")
                    st = ThresholdStage(tensor(where, td, "direction", DT_I8, (c_out,)),
                                        tensor(where, te, "thresholds", DT_I64, (c_out, levels)), ENCODING_NAMES[enc])
                elif stage == STAGE_ROUND:
                    if enc or levels or te != NO_INDEX:
                        raise _err(src, f"{where}: bad rounding stage fields")
                    st = RoundStage(tensor(where, td, "shift", DT_U8, (c_out,)), zp, out_scale)
                else:
                    raise _err(src, f"{where}: a Merge ends in a threshold or rounding stage")
                op = Merge(*args, st, name, inputs=inputs)
            else:
                if stage or enc or levels or (ta, tb, tc) != (NO_INDEX,) * 3:
                    raise _err(src, f"{where}: nonzero stage fields this op does not use")
                if code == OP_MAXPOOL2D:
                    if shift or zp or ma or mb:
                        raise _err(src, f"{where}: nonzero fields this op does not use")
                    op = MaxPool2d((kh, kw), (sh, sw), name, inputs=inputs)
                elif code == OP_AVGPOOL2D:
                    if mb:
                        raise _err(src, f"{where}: nonzero fields this op does not use")
                    op = AvgPool2d((kh, kw), (sh, sw), ma, shift, zp, out_scale, name, inputs=inputs)
                elif code == OP_ADD:
                    op = Add((ma, mb), shift, zp, out_scale, name, inputs=inputs)
                elif code == OP_REQUANTIZE:
                    if mb:
                        raise _err(src, f"{where}: nonzero fields this op does not use")
                    op = Requantize(ma, shift, zp, out_scale, name, inputs=inputs)
                elif code in (OP_FLATTEN, OP_CONCAT, OP_RESHAPE):
                    if shift or zp or ma or mb:
                        raise _err(src, f"{where}: nonzero fields this op does not use")
                    if code == OP_FLATTEN:
                        op = Flatten(name, inputs=inputs)
                    elif code == OP_CONCAT:
                        op = Concat(name, inputs=inputs)
                    else:
                        kind_o, _, _, rank_o, ho, wo, co_, *_ = out_rec
                        op = Reshape((ho, wo, co_) if rank_o == 3 else (co_,), name, inputs=inputs)
                else:
                    raise _err(src, f"{where}: unknown op type code {code}")
        if inputs == ((INPUT_NAME if i == 0 else value_names[i]),):
            op.inputs = None  # a chain step: canonical form
        graph.ops.append(op)
        try:
            specs = graph.value_specs(complete=False)
        except GraphError as e:
            raise _err(src, f"the ops are inconsistent: {e}") from None

    if len(used) != len(trecs):
        raise _err(src, f"{len(trecs) - len(used)} tensors are not used by any op")
    try:
        specs = graph.value_specs()
    except GraphError as e:
        raise _err(src, f"the ops are inconsistent: {e}") from None
    out = specs[value_names[-1]]
    if h["output_classes"] != out.shape[0] or h["output_shift"] != graph.ops[-1].output.shift:
        raise _err(src, f"header output ({h['output_classes']} classes, shift {h['output_shift']}) does not match "
                        f"the last op's scores {out.shape} / shift {graph.ops[-1].output.shift}")
    if h["n_class_names"] not in (0, out.shape[0]):
        raise _err(src, f"{h['n_class_names']} class names for {out.shape[0]} classes")
    try:
        plan = plan_arena(graph)
        canonical = blob_bytes(graph)
    except GraphError as e:
        raise _err(src, f"the graph cannot be re-encoded: {e}") from None
    if h["arena_size"] != plan.size:
        raise _err(src, f"stored arena size {h['arena_size']} != {plan.size} planned for the ops")
    for v, off in [(0, NO_INDEX)] + sorted(plan.value_offsets.items()) + [(h["n_ops"], NO_INDEX)]:
        stored = struct.unpack_from("<I", data, h["value_table_offset"] + v * VALUE_RECORD_SIZE + 20)[0]
        if stored != off:
            raise _err(src, f"value {v} ({value_names[v]!r}) at arena offset {stored}, the planner puts it at {off}")
    if canonical != data:
        diff = next(i for i in range(min(len(data), len(canonical))) if data[i] != canonical[i]) \
            if len(data) == len(canonical) else min(len(data), len(canonical))
        raise _err(src, f"non-canonical layout at byte {diff} (padding or gap bytes must be zero, sections / tensors "
                        f"must follow each other in order, and the arena plan must be the planner's)")
    return graph
