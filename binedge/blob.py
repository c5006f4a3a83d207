"""The .bnm blob: the one binary model format (DESIGN.md §3, spec in docs/format.md).

One little-endian file, every section and every tensor aligned to 16 bytes so the C runtime
(``runtime_c/``) reads weights in place from flash::

    header (96 B) | tensor table (32 B each) | op table (64 B each) | strings | metadata (JSON)
    | tensor data

API:
    blob_bytes(graph) -> bytes             the canonical encoding of a graph
    write_blob(graph, path) -> dict        atomic write (temp file + os.replace); returns sizes
    read_blob(path_or_bytes) -> Graph      validates every field, raises BlobError
    arena_bytes(graph) -> int              the C runtime's arena requirement (stored in the header)

The writer and the reader are exact inverses: ``blob_bytes(read_blob(b)) == b`` for every
blob the reader accepts (the reader checks exactly that as its last step, so any byte the
format does not explain -- a nonzero gap, a stray reserved field -- is an error).
"""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np

from . import bitformat as bf
from .fileio import atomic_write_bytes
from .graph import (Conv2d, Dense, Flatten, Graph, GraphError, MaxPool2d, ScoreStage, TensorSpec,
                    ThresholdStage)

__all__ = [
    "BlobError", "MAGIC", "VERSION", "ALIGN", "HEADER_SIZE", "TENSOR_RECORD_SIZE", "OP_RECORD_SIZE",
    "blob_bytes", "write_blob", "read_blob", "arena_bytes", "layout",
]

MAGIC = b"BNM1"
VERSION = 1
ALIGN = 16
HEADER_SIZE = 96
TENSOR_RECORD_SIZE = 32
OP_RECORD_SIZE = 64
NO_TENSOR = 0xFFFFFFFF
U32_MAX = 0xFFFFFFFF

# header: see docs/format.md §2 (offsets in the comments)
HEADER_FMT = struct.Struct(
    "<4s"  # 0  magic
    "H"  # 4  version
    "H"  # 6  header_size
    "I"  # 8  crc32 of bytes [12, total_size)
    "I"  # 12 total_size
    "I"  # 16 flags (0)
    "I"  # 20 arena_size
    "B"  # 24 input_kind
    "B"  # 25 input_rank
    "B"  # 26 output_kind
    "B"  # 27 output_rank
    "3I"  # 28 input_dims
    "I"  # 40 output_dim (classes)
    "i"  # 44 output_shift
    "I"  # 48 n_tensors
    "I"  # 52 n_ops
    "I"  # 56 tensor_table_offset
    "I"  # 60 op_table_offset
    "I"  # 64 strings_offset
    "I"  # 68 strings_size
    "I"  # 72 n_class_names
    "I"  # 76 metadata_offset
    "I"  # 80 metadata_size
    "I"  # 84 data_offset
    "I"  # 88 data_size
    "I"  # 92 reserved (0)
)
assert HEADER_FMT.size == HEADER_SIZE
CRC_OFFSET = 8
CRC_START = 12  # the CRC covers every byte after its own field

# tensor record: dtype, rank, reserved u16, dims[4], offset, nbytes, reserved u32
TENSOR_FMT = struct.Struct("<BBH4IIII")
assert TENSOR_FMT.size == TENSOR_RECORD_SIZE

# op record: type, weight_kind, stage, encoding, in, out, kh, kw, sh, sw, pt, pb, pl, pr,
#            levels, shift, weights, stage_a, stage_b
OP_FMT = struct.Struct("<BBBB" "II" "4I" "4I" "I" "i" "3I")
assert OP_FMT.size == OP_RECORD_SIZE

# codes (docs/format.md §1)
KIND_U8, KIND_BITS, KIND_I32 = 1, 2, 3
DT_U8, DT_I8, DT_U32, DT_I32 = 1, 2, 3, 4
DTYPES = {DT_U8: np.dtype("u1"), DT_I8: np.dtype("i1"), DT_U32: np.dtype("<u4"), DT_I32: np.dtype("<i4")}
DTYPE_NAMES = {DT_U8: "u8", DT_I8: "i8", DT_U32: "u32", DT_I32: "i32"}
OP_DENSE, OP_CONV2D, OP_MAXPOOL2D, OP_FLATTEN = 1, 2, 3, 4
OP_NAMES = {OP_DENSE: "Dense", OP_CONV2D: "Conv2d", OP_MAXPOOL2D: "MaxPool2d", OP_FLATTEN: "Flatten"}
WK_NONE, WK_BINARY, WK_INT8 = 0, 1, 2
WEIGHT_KINDS = {"binary": WK_BINARY, "int8": WK_INT8}
STAGE_NONE, STAGE_THRESHOLD, STAGE_SCORE = 0, 1, 2
ENC_NONE, ENC_SIGN, ENC_UNSIGNED = 0, 1, 2
ENCODINGS = {"sign": ENC_SIGN, "unsigned": ENC_UNSIGNED}

_REEXPORT = "re-export the model with `binedge export`"


class BlobError(ValueError):
    """A .bnm blob that cannot be read (corrupt, truncated, another version, inconsistent)."""


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


# ----------------------------------------------------------------------------- arena


def arena_bytes(graph: Graph) -> int:
    """Bytes of the caller-owned arena the C runtime needs for ``graph`` (docs/format.md §6).

    arena = nbuf * align16(max bytes of an intermediate value) + align16(max conv patch)
      * intermediate values: the outputs of every op but the last (one sample, storage layout);
        the input is read from the caller's buffer and the last op writes the caller's scores;
      * nbuf = min(2, n_ops - 1) ping-pong buffers;
      * conv patch: KH * KW * (bytes of one input pixel) for each Conv2d -- scratch for one
        output pixel's receptive field (im2col row) that optimized kernels may use.
    """
    specs = graph.specs()
    inter = [s.nbytes() for s in specs[1:-1]]
    nbuf = min(2, len(graph.ops) - 1)
    buf = _align(max(inter, default=0))
    patch = 0
    for op, s_in in zip(graph.ops, specs[:-1]):
        if isinstance(op, Conv2d):
            pixel = s_in.nbytes() // (s_in.shape[0] * s_in.shape[1])
            patch = max(patch, op.kernel[0] * op.kernel[1] * pixel)
    return nbuf * buf + _align(patch)


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


def layout(graph: Graph) -> dict:
    """The planned layout of ``graph``'s blob: header fields, records and tensor payloads.

    Returns a dict with ``header`` (field -> value), ``tensors`` (list of (dtype code, shape,
    offset, bytes)), ``ops`` (list of op-record tuples), ``strings``, ``metadata``.
    """
    specs = graph.specs()  # validates
    for s in specs:
        if any(int(d) < 1 for d in s.shape):
            raise GraphError(f"zero-sized dimension in value shape {s.shape}")
    if graph.class_names and len(graph.class_names) != specs[-1].shape[0]:
        raise GraphError(f"{len(graph.class_names)} class names for {specs[-1].shape[0]} classes")

    tensors: list[tuple[int, tuple, bytes]] = []

    def add(arr: np.ndarray, code: int) -> int:
        a = np.ascontiguousarray(arr, dtype=DTYPES[code])
        if not 1 <= a.ndim <= 4:
            raise GraphError(f"tensor rank {a.ndim} is not in 1..4")
        tensors.append((code, tuple(int(d) for d in a.shape), a.tobytes()))
        return len(tensors) - 1

    ops = []
    for op in graph.ops:
        zero8 = (0, 0, 0, 0, 0, 0, 0, 0)
        if isinstance(op, (Dense, Conv2d)):
            wk = WEIGHT_KINDS[op.weight_kind]
            w_idx = add(op.weights, DT_U32 if wk == WK_BINARY else DT_I8)
            st = op.output
            if isinstance(st, ThresholdStage):
                stage, enc, levels, shift = STAGE_THRESHOLD, ENCODINGS[st.encoding], st.levels, 0
                a_idx, b_idx = add(st.direction, DT_I8), add(st.thresholds, DT_I32)
            else:
                stage, enc, levels, shift = STAGE_SCORE, ENC_NONE, 0, int(st.shift)
                if not -(2**31) <= shift < 2**31:
                    raise GraphError(f"ScoreStage.shift {shift} does not fit int32")
                a_idx, b_idx = add(st.multiplier, DT_I32), add(st.offset, DT_I32)
            if isinstance(op, Dense):
                code, ci, co, geo = OP_DENSE, op.in_features, op.out_features, zero8
            else:
                code, ci, co = OP_CONV2D, op.in_channels, op.out_channels
                geo = tuple(op.kernel) + tuple(op.stride) + tuple(op.padding)
            ops.append((code, wk, stage, enc, ci, co) + tuple(geo) + (levels, shift, w_idx, a_idx, b_idx))
        elif isinstance(op, MaxPool2d):
            geo = tuple(op.kernel) + tuple(op.stride) + (0, 0, 0, 0)
            ops.append((OP_MAXPOOL2D, 0, 0, 0, 0, 0) + geo + (0, 0, NO_TENSOR, NO_TENSOR, NO_TENSOR))
        elif isinstance(op, Flatten):
            ops.append((OP_FLATTEN, 0, 0, 0, 0, 0) + zero8 + (0, 0, NO_TENSOR, NO_TENSOR, NO_TENSOR))
        else:  # pragma: no cover - specs() rejects unknown ops
            raise GraphError(f"unsupported op {type(op).__name__}")
        rec = ops[-1]
        for i, v in enumerate(rec[4:14]):
            _u32(v, f"op {len(ops) - 1} geometry field {i}")

    names = [_name_bytes(n, "class name") for n in graph.class_names]
    names += [_name_bytes(op.name, f"op {i} name") for i, op in enumerate(graph.ops)]
    strings = b"".join(n + b"\0" for n in names)
    meta = metadata_json(graph.metadata)

    tensor_table = HEADER_SIZE
    op_table = _align(tensor_table + TENSOR_RECORD_SIZE * len(tensors))
    strings_off = _align(op_table + OP_RECORD_SIZE * len(ops))
    meta_off = _align(strings_off + len(strings))
    data_off = _align(meta_off + len(meta))
    pos = data_off
    placed = []
    for code, shape, payload in tensors:
        placed.append((code, shape, pos, payload))
        pos = _align(pos + len(payload))
    total = pos
    _u32(total, "total blob size")

    inp, out = specs[0], specs[-1]
    in_dims = tuple(inp.shape) + (0,) * (3 - len(inp.shape))
    last = graph.ops[-1].output
    header = dict(
        magic=MAGIC, version=VERSION, header_size=HEADER_SIZE, crc32=0, total_size=total, flags=0,
        arena_size=_u32(arena_bytes(graph), "arena size"), input_kind=KIND_U8, input_rank=len(inp.shape),
        output_kind=KIND_I32, output_rank=1, input_dims=tuple(_u32(d, "input dim") for d in in_dims),
        output_dim=out.shape[0], output_shift=int(last.shift), n_tensors=len(tensors), n_ops=len(ops),
        tensor_table_offset=tensor_table, op_table_offset=op_table, strings_offset=strings_off,
        strings_size=len(strings), n_class_names=len(graph.class_names), metadata_offset=meta_off,
        metadata_size=len(meta), data_offset=data_off, data_size=total - data_off, reserved=0,
    )
    return dict(header=header, tensors=placed, ops=ops, strings=strings, metadata=meta)


def _pack_header(h: dict) -> bytes:
    return HEADER_FMT.pack(
        h["magic"], h["version"], h["header_size"], h["crc32"], h["total_size"], h["flags"], h["arena_size"],
        h["input_kind"], h["input_rank"], h["output_kind"], h["output_rank"], *h["input_dims"], h["output_dim"],
        h["output_shift"], h["n_tensors"], h["n_ops"], h["tensor_table_offset"], h["op_table_offset"],
        h["strings_offset"], h["strings_size"], h["n_class_names"], h["metadata_offset"], h["metadata_size"],
        h["data_offset"], h["data_size"], h["reserved"])


def blob_bytes(graph: Graph) -> bytes:
    """The canonical .bnm encoding of ``graph`` (raises GraphError if it cannot be encoded)."""
    lay = layout(graph)
    h = lay["header"]
    buf = bytearray(h["total_size"])
    buf[:HEADER_SIZE] = _pack_header(h)
    pos = h["tensor_table_offset"]
    for code, shape, off, payload in lay["tensors"]:
        dims = tuple(shape) + (0,) * (4 - len(shape))
        TENSOR_FMT.pack_into(buf, pos, code, len(shape), 0, *dims, off, len(payload), 0)
        buf[off:off + len(payload)] = payload
        pos += TENSOR_RECORD_SIZE
    pos = h["op_table_offset"]
    for rec in lay["ops"]:
        OP_FMT.pack_into(buf, pos, *rec)
        pos += OP_RECORD_SIZE
    buf[h["strings_offset"]:h["strings_offset"] + h["strings_size"]] = lay["strings"]
    buf[h["metadata_offset"]:h["metadata_offset"] + h["metadata_size"]] = lay["metadata"]
    struct.pack_into("<I", buf, CRC_OFFSET, zlib.crc32(bytes(buf[CRC_START:])) & U32_MAX)
    return bytes(buf)


def write_blob(graph: Graph, path) -> dict:
    """Write ``graph`` to ``path`` atomically (temp file in the same folder, then os.replace).

    Returns the sizes: total, weights (tensor payload bytes), header_and_tables, arena, ops, tensors.
    """
    data = blob_bytes(graph)
    h = _parse_header(data, "blob")
    path = atomic_write_bytes(path, data)
    payload = sum(int(np.prod(t[1])) * DTYPES[t[0]].itemsize for t in _tensor_records(data, h, "blob"))
    return {"path": str(path), "total": len(data), "weights": payload, "data_section": h["data_size"],
            "header_and_tables": h["data_offset"], "arena": h["arena_size"], "ops": h["n_ops"],
            "tensors": h["n_tensors"], "crc32": h["crc32"]}


# ----------------------------------------------------------------------------- reader


def _err(src: str, msg: str) -> BlobError:
    return BlobError(f"{src}: {msg}; {_REEXPORT}")


def _parse_header(data: bytes, src: str) -> dict:
    if len(data) < HEADER_SIZE:
        if len(data) >= 4 and data[:4] != MAGIC:
            raise _err(src, f"bad magic {bytes(data[:4])!r} (expected {MAGIC!r}): not a .bnm blob")
        raise _err(src, f"truncated: {len(data)} bytes, shorter than the {HEADER_SIZE}-byte header")
    v = HEADER_FMT.unpack_from(data, 0)
    keys = ["magic", "version", "header_size", "crc32", "total_size", "flags", "arena_size", "input_kind",
            "input_rank", "output_kind", "output_rank"]
    h = dict(zip(keys, v[:11]))
    h["input_dims"] = tuple(v[11:14])
    rest = ["output_dim", "output_shift", "n_tensors", "n_ops", "tensor_table_offset", "op_table_offset",
            "strings_offset", "strings_size", "n_class_names", "metadata_offset", "metadata_size", "data_offset",
            "data_size", "reserved"]
    h.update(zip(rest, v[14:]))
    if h["magic"] != MAGIC:
        raise _err(src, f"bad magic {h['magic']!r} (expected {MAGIC!r}): not a .bnm blob")
    if h["version"] != VERSION:
        raise _err(src, f"unsupported format version {h['version']} (this reader reads version {VERSION})")
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
    if h["flags"] != 0 or h["reserved"] != 0:
        raise _err(src, "nonzero reserved header fields (flags / reserved)")
    return h


def _check_sections(h: dict, src: str) -> None:
    total = h["total_size"]
    secs = [
        ("tensor table", h["tensor_table_offset"], TENSOR_RECORD_SIZE * h["n_tensors"]),
        ("op table", h["op_table_offset"], OP_RECORD_SIZE * h["n_ops"]),
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

    used = set()

    def tensor(i_op: int, idx: int, what: str, code: int, shape: tuple) -> np.ndarray:
        if idx >= len(trecs):
            raise _err(src, f"op {i_op}: {what} tensor index {idx} out of range ({len(trecs)} tensors)")
        if idx in used:
            raise _err(src, f"op {i_op}: tensor {idx} is used twice")
        used.add(idx)
        t_code, t_shape, off, nbytes = trecs[idx]
        if t_code != code or tuple(t_shape) != tuple(shape):
            raise _err(src, f"op {i_op}: {what} tensor {idx} is {DTYPE_NAMES[t_code]} {tuple(t_shape)}, "
                            f"expected {DTYPE_NAMES[code]} {tuple(shape)}")
        return np.frombuffer(data, DTYPES[code], count=nbytes // DTYPES[code].itemsize,
                             offset=off).reshape(shape).copy()

    in_rank = h["input_rank"]
    if h["input_kind"] != KIND_U8 or in_rank not in (1, 3):
        raise _err(src, f"bad input kind/rank {h['input_kind']}/{in_rank} (expected u8 of rank 1 or 3)")
    if any(d == 0 for d in h["input_dims"][:in_rank]) or any(h["input_dims"][in_rank:]):
        raise _err(src, f"bad input dims {h['input_dims']} for rank {in_rank}")
    spec = TensorSpec("u8", tuple(h["input_dims"][:in_rank]))
    graph = Graph(spec, [], class_names, meta)

    for i in range(h["n_ops"]):
        rec = OP_FMT.unpack_from(data, h["op_table_offset"] + i * OP_RECORD_SIZE)
        code, wk, stage, enc, ci, co = rec[:6]
        geo = rec[6:14]
        levels, shift, w_idx, a_idx, b_idx = rec[14:]
        name = op_names[i]
        where = f"op {i} ({OP_NAMES.get(code, code)} {name!r})"
        if code in (OP_DENSE, OP_CONV2D):
            if wk not in (WK_BINARY, WK_INT8):
                raise _err(src, f"{where}: bad weight kind code {wk}")
            if code == OP_DENSE and any(geo):
                raise _err(src, f"{where}: nonzero kernel/stride/padding fields on a Dense op")
            if ci == 0 or co == 0:
                raise _err(src, f"{where}: zero input or output size")
            if code == OP_CONV2D and (min(geo[:4]) < 1):
                raise _err(src, f"{where}: kernel and stride must be >= 1")
            lead = (co,) if code == OP_DENSE else (co, geo[0], geo[1])
            if wk == WK_BINARY:
                weights = tensor(i, w_idx, "weights", DT_U32, lead + (bf.words_for(ci),))
                rows = weights.reshape(-1, weights.shape[-1])
                if ci % bf.WORD_BITS and np.any(rows[:, -1] >> np.uint32(ci % bf.WORD_BITS)):
                    raise _err(src, f"{where}: nonzero padding bits in the packed weights")
            else:
                weights = tensor(i, w_idx, "weights", DT_I8, lead + (ci,))
            if stage == STAGE_THRESHOLD:
                if enc not in (ENC_SIGN, ENC_UNSIGNED) or levels < 1 or shift != 0:
                    raise _err(src, f"{where}: bad threshold stage (encoding {enc}, levels {levels}, shift {shift})")
                direction = tensor(i, a_idx, "direction", DT_I8, (co,))
                thresholds = tensor(i, b_idx, "thresholds", DT_I32, (co, levels))
                out = ThresholdStage(direction, thresholds, "sign" if enc == ENC_SIGN else "unsigned")
            elif stage == STAGE_SCORE:
                if enc != ENC_NONE or levels != 0:
                    raise _err(src, f"{where}: bad score stage (encoding {enc}, levels {levels})")
                out = ScoreStage(tensor(i, a_idx, "multiplier", DT_I32, (co,)),
                                 tensor(i, b_idx, "offset", DT_I32, (co,)), shift)
            else:
                raise _err(src, f"{where}: bad output stage code {stage}")
            kind = "binary" if wk == WK_BINARY else "int8"
            if code == OP_DENSE:
                op = Dense(weights, ci, co, out, kind, name)
            else:
                op = Conv2d(weights, ci, co, (geo[0], geo[1]), (geo[2], geo[3]), tuple(geo[4:8]), out, kind, name)
        elif code in (OP_MAXPOOL2D, OP_FLATTEN):
            idx_ok = (w_idx, a_idx, b_idx) == (NO_TENSOR,) * 3
            geo_ok = not any(geo[4:]) if code == OP_MAXPOOL2D else not any(geo)
            if wk or stage or enc or ci or co or levels or shift or not idx_ok or not geo_ok:
                raise _err(src, f"{where}: nonzero fields that this op does not use")
            if code == OP_MAXPOOL2D:
                if min(geo[:4]) < 1:
                    raise _err(src, f"{where}: kernel and stride must be >= 1")
                op = MaxPool2d((geo[0], geo[1]), (geo[2], geo[3]), name)
            else:
                op = Flatten(name)
        else:
            raise _err(src, f"op {i}: unknown op type code {code}")
        graph.ops.append(op)

    if len(used) != len(trecs):
        raise _err(src, f"{len(trecs) - len(used)} tensors are not used by any op")
    try:
        specs = graph.specs()
    except GraphError as e:
        raise _err(src, f"the ops are inconsistent: {e}") from None
    out = specs[-1]
    if h["output_kind"] != KIND_I32 or h["output_rank"] != 1 or h["output_dim"] != out.shape[0]:
        raise _err(src, f"header output (kind {h['output_kind']}, rank {h['output_rank']}, dim {h['output_dim']}) "
                        f"does not match the ops' int32 scores {out.shape}")
    if h["output_shift"] != graph.ops[-1].output.shift:
        raise _err(src, "header output shift does not match the last op's ScoreStage.shift")
    if h["n_class_names"] not in (0, out.shape[0]):
        raise _err(src, f"{h['n_class_names']} class names for {out.shape[0]} classes")
    try:
        arena = arena_bytes(graph)
        canonical = blob_bytes(graph)
    except GraphError as e:
        raise _err(src, f"the graph cannot be re-encoded: {e}") from None
    if h["arena_size"] != arena:
        raise _err(src, f"stored arena size {h['arena_size']} != {arena} required by the ops")
    if canonical != data:
        diff = next(i for i in range(min(len(data), len(canonical))) if data[i] != canonical[i]) \
            if len(data) == len(canonical) else min(len(data), len(canonical))
        raise _err(src, f"non-canonical layout at byte {diff} (padding or gap bytes must be zero and "
                        f"sections / tensors must follow each other in order)")
    return graph
