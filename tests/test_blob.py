"""The .bnm blob (docs/format.md): golden bytes, round trips, and every kind of corruption."""

from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from dags import random_dag
from graphs import random_graph

from binedge import blob as B
from binedge import reference
from binedge.graph import (AccStage, AvgPool2d, Concat, Conv2d, Dense, Flatten, Graph, GraphError, MaxPool2d, Merge,
                           RequantStage, ScoreStage, TensorSpec, Threshold, ThresholdStage)

ROOT = Path(__file__).resolve().parent.parent
GOLDEN_H = ROOT / "runtime_c" / "tests" / "golden_blob.h"

# ----------------------------------------------------------------------------- the golden graph


def golden_graph() -> Graph:
    """A small DAG with a skip from the input:

        input u8 (3, 3, 1) -> c0 Conv2d int8 2x2 pad (0, 1, 0, 1) -> sign bits (3, 3, 2) -> p1 MaxPool 2x2/2
        input -> g2 global AvgPool2d (3x3, M 1, shift 3, zp -2) -> i8 (1, 1, 1) -> t3 Threshold (code >= 10)
        (p1, t3) -> k4 Concat (1, 1, 3) -> f5 Flatten -> d6 Dense binary -> 3 scores (shift 2)
    """
    conv_w = np.array([[[[1], [-2]], [[3], [4]]], [[[-1], [0]], [[2], [-3]]]], np.int8)  # (2, 2, 2, 1)
    conv = Conv2d(conv_w, 1, 2, (2, 2), (1, 1), (0, 1, 0, 1),
                  ThresholdStage(np.array([1, -1], np.int8), np.array([[0], [5]], np.int32), "sign"), "int8", "c0")
    dense_w = np.array([[0b001], [0b110], [0b011]], np.uint32)  # rows (-1,+1,+1), (+1,-1,-1), (-1,-1,+1)
    dense = Dense(dense_w, 3, 3, ScoreStage(np.array([1, 2, -3], np.int32), np.array([0, 10, -5], np.int32), 2),
                  "binary", "d6")
    ops = [conv, MaxPool2d((2, 2), (2, 2), "p1"),
           AvgPool2d((3, 3), (1, 1), 1, 3, -2, 0.05, "g2", inputs=("input",)),
           Threshold(ThresholdStage(np.array([1], np.int8), np.array([[10]], np.int32), "sign"), "t3"),
           Concat("k4", inputs=("p1", "t3")), Flatten("f5"), dense]
    return Graph(TensorSpec("u8", (3, 3, 1)), ops, ["a", "b", "c"], {"name": "golden"})


GOLDEN_INPUTS = np.stack([
    np.array([[0, 10, 20], [255, 0, 7], [3, 100, 50]], np.uint8),
    np.zeros((3, 3), np.uint8),
    np.full((3, 3), 255, np.uint8),
])[..., None]
# worked by hand (docs/graph.md): image 0: conv signs -> pool (+1, +1); sum 445 -> rshift(445, 3) = 56
# -> code 54 >= 10 -> +1; dense dots (1, -1, -1) -> scores (1, 8, -2). Zeros: pool (+1, -1), code -2 -> -1,
# dots (-3, 3, -1) -> (-3, 16, -2). All 255: pool (+1, +1), code 127 (saturated) -> +1 -> (1, 8, -2).
GOLDEN_SCORES = np.array([[1, 8, -2], [-3, 16, -2], [1, 8, -2]], np.int32)
GOLDEN_SIZE, GOLDEN_ARENA = 1776, 64
NONE = 0xFFFFFFFF


def golden_expected_bytes() -> bytes:
    """The golden blob written field by field from docs/format.md (independent of blob.py).

    Sections: header 0, values 128 (8 x 48), ops 512 (7 x 112), operands 1296 (8 x 4), tensors 1328
    (8 x 32), strings 1584 (27 B), metadata 1616 (17 B), data 1648 .. 1776. Arena (by hand, greedy
    by size over lifetimes): c0 (36 B, ops 0-1) at 0, c0's scratch (2*2*1 px * 2 = 8 -> 16 B, op 0) at
    48, p1 (4 B, ops 1-4) at 48, t3 (ops 3-4) at 0, k4 (ops 4-5) at 16, f5 (ops 5-6) at 0, g2 (1 B,
    ops 2-3) at 16: 64 bytes, which is also the lower bound (op 0: 48 + 16)."""
    out = bytearray(GOLDEN_SIZE)
    out[0:92] = struct.pack("<4sHHIIIIIIIIIIIIIIIIIIIIi", b"BNM1", 2, 128, 0, GOLDEN_SIZE, 0, GOLDEN_ARENA,
                            8, 7, 8, 8,  # values, ops, operands, tensors
                            128, 512, 1296, 1328,  # value, op, operand, tensor tables
                            1584, 27, 3,  # strings, size, class names
                            1616, 17,  # metadata
                            1648, 128,  # data, data size
                            3, 2)  # classes, output shift
    values = [  # kind enc planes rank h w c zp offset nbytes res scale
        (1, 0, 0, 3, 3, 3, 1, 0, NONE, 9, 0, 1.0),  # input u8
        (2, 1, 1, 3, 3, 3, 2, 0, 0, 36, 0, 0.0),  # c0 sign bits
        (2, 1, 1, 3, 1, 1, 2, 0, 48, 4, 0, 0.0),  # p1
        (4, 0, 0, 3, 1, 1, 1, -2, 16, 1, 0, 0.05),  # g2 i8
        (2, 1, 1, 3, 1, 1, 1, 0, 0, 4, 0, 0.0),  # t3
        (2, 1, 1, 3, 1, 1, 3, 0, 16, 4, 0, 0.0),  # k4
        (2, 1, 1, 1, 1, 1, 3, 0, 0, 4, 0, 0.0),  # f5 (rank 1: h = w = 1)
        (3, 0, 0, 1, 1, 1, 3, 0, NONE, 12, 0, 0.0),  # d6 scores
    ]
    for i, rec in enumerate(values):
        out[128 + 48 * i:128 + 48 * i + 40] = struct.pack("<BBBB3IiIIId", *rec)
    ops = [
        # type wk stage enc n_in first in out  kh kw sh sw  pt pb pl pr  groups levels shift zp ma mb
        #   scratch (off, bytes)  tensors (w, a, b, c); tensors d, e (Merge only) at 100, 104: NONE
        (2, 2, 1, 1, 1, 0, 1, 2, 2, 2, 1, 1, 0, 1, 0, 1, 1, 1, 0, 0, 0, 0, 48, 16, 0, 1, 2, NONE),
        (3, 0, 0, 0, 1, 1, 0, 0, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, NONE, 0, NONE, NONE, NONE, NONE),
        (5, 0, 0, 0, 1, 2, 0, 0, 3, 3, 1, 1, 0, 0, 0, 0, 0, 0, 3, -2, 1, 0, NONE, 0, NONE, NONE, NONE, NONE),
        (8, 0, 1, 1, 1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, NONE, 0, NONE, 3, 4, NONE),
        (9, 0, 0, 0, 2, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, NONE, 0, NONE, NONE, NONE, NONE),
        (4, 0, 0, 0, 1, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, NONE, 0, NONE, NONE, NONE, NONE),
        (1, 1, 2, 0, 1, 7, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, NONE, 0, 5, 6, 7, NONE),
    ]
    for i, rec in enumerate(ops):
        out[512 + 112 * i:512 + 112 * i + 108] = struct.pack("<BBBB12I2I4i2I4I2I", *rec, NONE, NONE)
    out[1296:1328] = struct.pack("<8I", 0, 1, 0, 3, 2, 4, 5, 6)  # values read by ops 0, 1, 2, 3, 4 (two), 5, 6
    tensors = [  # dtype, rank, dims, offset, nbytes
        (2, 4, (2, 2, 2, 1), 1648, 8),  # c0 weights i8
        (2, 1, (2, 0, 0, 0), 1664, 2),  # c0 direction i8
        (4, 2, (2, 1, 0, 0), 1680, 8),  # c0 thresholds i32
        (2, 1, (1, 0, 0, 0), 1696, 1),  # t3 direction
        (4, 2, (1, 1, 0, 0), 1712, 4),  # t3 thresholds
        (3, 2, (3, 1, 0, 0), 1728, 12),  # d6 weights u32
        (4, 1, (3, 0, 0, 0), 1744, 12),  # multiplier
        (4, 1, (3, 0, 0, 0), 1760, 12),  # offset
    ]
    for i, (dt, rank, dims, off, n) in enumerate(tensors):
        out[1328 + 32 * i:1360 + 32 * i] = struct.pack("<BBH4IIII", dt, rank, 0, *dims, off, n, 0)
    out[1584:1611] = b"a\0b\0c\0c0\0p1\0g2\0t3\0k4\0f5\0d6\0"
    out[1616:1633] = b'{"name":"golden"}'
    out[1648:1656] = bytes([1, 0xFE, 3, 4, 0xFF, 0, 2, 0xFD])  # int8 (o, ky, kx, c)
    out[1664:1666] = bytes([1, 0xFF])
    out[1680:1688] = struct.pack("<2i", 0, 5)
    out[1696] = 1
    out[1712:1716] = struct.pack("<i", 10)
    out[1728:1740] = struct.pack("<3I", 1, 6, 3)
    out[1744:1756] = struct.pack("<3i", 1, 2, -3)
    out[1760:1772] = struct.pack("<3i", 0, 10, -5)
    struct.pack_into("<I", out, 8, zlib.crc32(bytes(out[12:])))
    return bytes(out)


def render_golden_header(data: bytes) -> str:
    lines = [
        "/* golden_blob.h -- GENERATED by tests/test_blob.py from its golden graph; do not edit.",
        " * Regenerate: BINEDGE_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_blob.py",
        " * The blob, three inputs (3x3x1 pixels) and their expected int32 scores (3 classes). */",
        "#ifndef GOLDEN_BLOB_H",
        "#define GOLDEN_BLOB_H",
        "",
        "#include <stdint.h>",
        "",
        f"#define GOLDEN_BLOB_SIZE {len(data)}u",
        f"#define GOLDEN_ARENA_SIZE {struct.unpack_from('<I', data, 20)[0]}u",
        "#define GOLDEN_N_INPUTS 3",
        "#define GOLDEN_INPUT_BYTES 9",
        "#define GOLDEN_CLASSES 3",
        "",
        "static const uint8_t golden_blob[GOLDEN_BLOB_SIZE] = {",
    ]
    for i in range(0, len(data), 16):
        lines.append("    " + ", ".join(f"0x{b:02x}" for b in data[i:i + 16]) + ",")
    lines.append("};")
    lines.append("")
    lines.append("static const uint8_t golden_inputs[GOLDEN_N_INPUTS][GOLDEN_INPUT_BYTES] = {")
    for x in GOLDEN_INPUTS:
        lines.append("    {" + ", ".join(str(int(v)) for v in x.ravel()) + "},")
    lines.append("};")
    lines.append("")
    lines.append("static const int32_t golden_scores[GOLDEN_N_INPUTS][GOLDEN_CLASSES] = {")
    for s in GOLDEN_SCORES:
        lines.append("    {" + ", ".join(str(int(v)) for v in s) + "},")
    lines.append("};")
    lines.append("")
    lines.append("#endif /* GOLDEN_BLOB_H */")
    return "\n".join(lines) + "\n"


def test_golden_reference_scores():
    assert np.array_equal(reference.run(golden_graph(), GOLDEN_INPUTS), GOLDEN_SCORES)


def test_golden_bytes():
    got, want = B.blob_bytes(golden_graph()), golden_expected_bytes()
    assert len(got) == len(want)
    diff = [i for i in range(len(want)) if got[i] != want[i]]
    assert not diff, f"blob differs from the documented layout at bytes {diff[:20]}"
    assert B.arena_bytes(golden_graph()) == GOLDEN_ARENA == B.plan_arena(golden_graph()).lower_bound


def test_golden_c_header_in_sync():
    text = render_golden_header(golden_expected_bytes())
    if os.environ.get("BINEDGE_UPDATE_GOLDEN"):
        GOLDEN_H.write_text(text)
    assert GOLDEN_H.read_text() == text, "runtime_c/tests/golden_blob.h is stale (see its header comment)"


def test_golden_reads_back():
    g = B.read_blob(golden_expected_bytes())
    assert_graph_equal(g, golden_graph())


# ----------------------------------------------------------------------------- round trips


def assert_arr(a, b, what):
    assert isinstance(a, np.ndarray) and isinstance(b, np.ndarray), what
    assert a.dtype == b.dtype and a.shape == b.shape, f"{what}: {a.dtype}{a.shape} vs {b.dtype}{b.shape}"
    assert np.array_equal(a, b), what


def assert_graph_equal(a: Graph, b: Graph):
    assert a.input == b.input
    assert list(a.class_names) == list(b.class_names)
    assert json.loads(json.dumps(a.metadata, default=B._json_default)) == \
        json.loads(json.dumps(b.metadata, default=B._json_default))
    assert len(a.ops) == len(b.ops)
    for i, (x, y) in enumerate(zip(a.ops, b.ops)):
        assert type(x) is type(y), i
        assert x.name == y.name
        assert a.op_inputs(i) == b.op_inputs(i), i
        if isinstance(x, (Dense, Conv2d)):
            assert x.weight_kind == y.weight_kind
            assert_arr(x.weights, y.weights, f"op {i} weights")
            if isinstance(x, Dense):
                assert (x.in_features, x.out_features) == (y.in_features, y.out_features)
            else:
                assert (x.in_channels, x.out_channels) == (y.in_channels, y.out_channels)
                assert tuple(x.kernel) == tuple(y.kernel) and tuple(x.stride) == tuple(y.stride)
                assert tuple(x.padding) == tuple(y.padding)
            sx, sy = x.output, y.output
            assert type(sx) is type(sy)
            if isinstance(sx, ThresholdStage):
                assert sx.encoding == sy.encoding
                assert_arr(sx.direction, sy.direction, f"op {i} direction")
                assert_arr(sx.thresholds, sy.thresholds, f"op {i} thresholds")
            elif isinstance(sx, ScoreStage):
                assert sx.shift == sy.shift
                assert_arr(sx.multiplier, sy.multiplier, f"op {i} multiplier")
                assert_arr(sx.offset, sy.offset, f"op {i} offset")
            elif isinstance(sx, RequantStage):
                assert (sx.zero_point, sx.scale) == (sy.zero_point, sy.scale)
                for f in ("multiplier", "bias", "shift"):
                    assert_arr(getattr(sx, f), getattr(sy, f), f"op {i} {f}")
            else:
                assert isinstance(sx, AccStage), type(sx)
        elif isinstance(x, Merge):
            for f in ("multipliers_a", "multipliers_b", "bias"):
                assert_arr(getattr(x, f), getattr(y, f), f"op {i} {f}")
            sx, sy = x.output, y.output
            assert type(sx) is type(sy)
            if isinstance(sx, ThresholdStage):
                assert sx.encoding == sy.encoding
                assert_arr(sx.direction, sy.direction, f"op {i} direction")
                assert_arr(sx.thresholds, sy.thresholds, f"op {i} thresholds")
            else:
                assert (sx.zero_point, sx.scale) == (sy.zero_point, sy.scale)
                assert_arr(sx.shift, sy.shift, f"op {i} shift")
        elif isinstance(x, MaxPool2d):
            assert tuple(x.kernel) == tuple(y.kernel) and tuple(x.stride) == tuple(y.stride)
    assert B.blob_bytes(a) == B.blob_bytes(b)  # every other field (new ops, scales, zero points) too


@pytest.mark.parametrize("kind", ["conv", "mlp", "all", "dag"])
def test_round_trip_random(kind):
    for seed in range(25):
        rng = np.random.default_rng(seed)
        g = random_dag(rng) if kind == "dag" else random_graph(rng, kind)
        data = B.blob_bytes(g)
        assert len(data) % 16 == 0
        g2 = B.read_blob(data)
        assert_graph_equal(g, g2)
        assert B.blob_bytes(g2) == data
        h = B._parse_header(data, "t")
        assert h["arena_size"] == B.arena_bytes(g)
        for code, shape, off, nbytes in B._tensor_records(data, h, "t"):
            assert off % 16 == 0


def test_round_trip_odd_fields():
    """Names with UTF-8, empty names / class names, the largest shift, metadata with numpy values."""
    g = golden_graph()
    g.ops[0].name = "conv ünïcode ✓"
    g.ops[5].name = ""  # a chain step without a name: its value is "op5"
    g.class_names = []
    g.ops[-1].output.shift = 31
    g.metadata = {"acc": np.float64(0.5), "n": np.int64(3), "list": (1, 2), "nested": {"z": None, "a": [True]}}
    g2 = B.read_blob(B.blob_bytes(g))
    assert_graph_equal(g, g2)
    assert g2.metadata == {"acc": 0.5, "n": 3, "list": [1, 2], "nested": {"z": None, "a": [True]}}
    assert g2.ops[-1].output.shift == 31 and g2.class_names == []


def test_write_blob_atomic(tmp_path):
    g = golden_graph()
    path = tmp_path / "sub" / "model.bnm"
    info = B.write_blob(g, path)
    assert path.read_bytes() == B.blob_bytes(g)
    assert info["total"] == GOLDEN_SIZE and info["arena"] == GOLDEN_ARENA and info["ops"] == 7 and info["tensors"] == 8
    assert info["weights"] == 8 + 2 + 8 + 1 + 4 + 12 + 12 + 12 and info["values"] == 8
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.bnm"]  # no temp file left
    g.class_names = ["x", "y", "z"]
    B.write_blob(g, path)  # replaces
    assert B.read_blob(path).class_names == ["x", "y", "z"]
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.bnm"]


def test_write_blob_failure_leaves_old_file(tmp_path):
    path = tmp_path / "model.bnm"
    B.write_blob(golden_graph(), path)
    bad = golden_graph()
    bad.ops[0].name = "nul\0inside"
    with pytest.raises(GraphError, match="NUL"):
        B.write_blob(bad, path)
    assert path.read_bytes() == B.blob_bytes(golden_graph())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.bnm"]


def test_writer_rejects_unencodable():
    g = golden_graph()
    g.class_names = ["only", "two"]
    with pytest.raises(GraphError, match="class names"):
        B.blob_bytes(g)
    g = golden_graph()
    g.metadata = {"f": object()}
    with pytest.raises(GraphError, match="JSON"):
        B.blob_bytes(g)
    g = golden_graph()
    g.ops[0].output.direction = np.array([1, 2], np.int8)
    with pytest.raises(GraphError, match="direction"):
        B.blob_bytes(g)


def test_read_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        B.read_blob(tmp_path / "nope.bnm")


# ----------------------------------------------------------------------------- corruption


def fix_crc(data: bytearray) -> bytes:
    struct.pack_into("<I", data, 8, zlib.crc32(bytes(data[12:])))
    return bytes(data)


def patched(fmt: str, offset: int, *values, crc: bool = True) -> bytes:
    d = bytearray(golden_expected_bytes())
    struct.pack_into(fmt, d, offset, *values)
    return fix_crc(d) if crc else bytes(d)


def expect_error(data: bytes, pattern: str):
    with pytest.raises(B.BlobError, match=pattern) as ei:
        B.read_blob(data)
    assert "binedge export" in str(ei.value)
    return ei.value


def test_bad_magic():
    expect_error(patched("<4s", 0, b"BNM2", crc=False), "bad magic")
    expect_error(b"PK\x03\x04" + bytes(200), "bad magic")


def test_bad_version():
    expect_error(patched("<H", 4, 1), "version 1 .*linear-chain")  # a blob of binedge < 0.3: re-export
    expect_error(patched("<H", 4, 3), "version 3")
    expect_error(patched("<H", 6, 96), "header size")


@pytest.mark.parametrize("length", [0, 1, 3, 4, 5, 6, 50, 127, 128, 129, 512, 1296, 1600, 1648, 1700, 1775])
def test_truncated(length):
    data = golden_expected_bytes()[:length]
    expect_error(data, "truncated")


def test_trailing_bytes():
    expect_error(golden_expected_bytes() + bytes(16), "trailing")


def test_crc():
    d = bytearray(golden_expected_bytes())
    d[8] ^= 1
    expect_error(bytes(d), "CRC")
    for pos in (16, 100, 300, 550, 1300, 1590, 1620, 1650, 1770):
        d = bytearray(golden_expected_bytes())
        d[pos] ^= 0x10
        expect_error(bytes(d), "CRC")


TT, OT, VT = 1328, 512, 128  # tensor, op and value tables of the golden blob
OP = lambda i, field: OT + 112 * i + field  # noqa: E731  (field offsets: docs/format.md §2.3)


def test_offsets_out_of_range():
    expect_error(patched("<I", TT + 20, GOLDEN_SIZE + 16), "out of range")  # tensor 0 offset past the end
    expect_error(patched("<I", TT + 32 * 7 + 20, GOLDEN_SIZE), "out of range")  # tensor 7 data past the end
    expect_error(patched("<I", TT + 20, 0), "out of range")  # tensor data inside the header
    expect_error(patched("<I", 76, 0x7FFFFFF0), "out of range")  # data section
    expect_error(patched("<I", 36, 1000), "out of range")  # tensor table runs past the end
    expect_error(patched("<I", 56, 128), "overlaps")  # strings on top of the value table


def test_misaligned():
    expect_error(patched("<I", TT + 20, 1652), "misaligned")  # tensor offset
    expect_error(patched("<I", 44, 516), "misaligned")  # op table
    expect_error(patched("<I", 68, 1620), "misaligned")  # metadata
    d = bytearray(golden_expected_bytes()) + bytearray(4)
    struct.pack_into("<I", d, 12, GOLDEN_SIZE + 4)
    expect_error(fix_crc(d), "multiple of 16")


def test_bad_dtype_and_records():
    expect_error(patched("<B", TT, 9), "dtype code 9")
    expect_error(patched("<B", TT, 0), "dtype code 0")
    expect_error(patched("<B", TT + 1, 5), "rank")
    expect_error(patched("<I", TT + 24, 9), "byte size")
    expect_error(patched("<I", TT + 32 + 8, 1), "unused dims")  # direction (2,) with a second dim
    expect_error(patched("<B", TT, 4), "byte size 8 != 32")  # conv weights declared i32
    expect_error(patched("<B", TT, 1), "is u8 .* expected i8")  # conv weights declared u8 (same size)


def test_nonzero_padding_bits():
    expect_error(patched("<I", 1728, 1 | (1 << 5)), "padding bits")  # dense row 0: K = 3


def test_bad_op_fields():
    expect_error(patched("<B", OP(0, 0), 13), "unknown op type")
    expect_error(patched("<B", OP(0, 1), 3), "weight kind")
    expect_error(patched("<B", OP(0, 2), 4), "stage")
    expect_error(patched("<I", OP(1, 36), 1), "does not use")  # padding on MaxPool2d
    expect_error(patched("<I", OP(6, 20), 1), "nonzero kernel")  # kernel on Dense
    expect_error(patched("<I", OP(0, 84), 9), "index 9 out of range")
    expect_error(patched("<I", OP(0, 12), 2), "expected")  # conv in_channels 2: weights shape differs
    expect_error(patched("<I", OP(1, 20), 5), "inconsistent")  # pool kernel larger than the input
    expect_error(patched("<I", OP(0, 52), 0), "groups")  # Conv2d groups 0
    expect_error(patched("<I", OP(2, 72), 7), "does not use")  # a second multiplier on AvgPool2d
    expect_error(patched("<I", OP(4, 100), 1), "Merge and LSTM only")  # tensor d on a Concat
    expect_error(patched("<B", OP(4, 108), 1), "reserved")


def test_bad_operands_and_values():
    expect_error(patched("<I", 1296 + 4, 5), "not written before")  # op 1 reads value 5 (op 4's output)
    expect_error(patched("<I", OP(4, 4), 9), "out of range")  # Concat with 9 operands
    expect_error(patched("<I", OP(4, 4), 1), "inconsistent|non-canonical")  # Concat of one value
    expect_error(patched("<I", 24, 7), "7 values for 7 ops")
    expect_error(patched("<I", VT + 48 + 20, 16), "arena offset 16")  # c0 moved in the arena
    expect_error(patched("<I", VT + 20, 0), "caller's buffer")  # the input in the arena
    expect_error(patched("<i", VT + 48 * 3 + 16, 5), "non-canonical")  # g2's zero point != the op's
    expect_error(patched("<B", VT, 3), "bad input value")  # an i32 input


def test_bad_stage_values():
    expect_error(patched("<b", 1665, 3), "direction")
    d = golden_graph()
    d.ops[0].output = ThresholdStage(np.array([1, 1], np.int8), np.array([[0, 3], [1, 2]], np.int32), "unsigned")
    d.ops[3].stage = ThresholdStage(np.array([1], np.int8), np.array([[10, 20]], np.int32), "unsigned")  # same planes
    data = bytearray(B.blob_bytes(d))
    off = B._tensor_records(bytes(data), B._parse_header(bytes(data), "t"), "t")[2][2]
    struct.pack_into("<2i", data, off, 5, 3)  # decreasing thresholds
    expect_error(fix_crc(data), "non-decreasing")


def test_header_fields():
    expect_error(patched("<I", 20, GOLDEN_ARENA + 16), "arena")
    expect_error(patched("<I", 84, 4), "header output")
    expect_error(patched("<i", 88, 3), "header output")
    expect_error(patched("<i", OP(6, 60), 32), "shift must lie")
    expect_error(patched("<I", 16, 1), "reserved")
    expect_error(patched("<B", 100, 1), "reserved")
    expect_error(patched("<I", VT + 4, 4), "inconsistent")  # input H 4: the global pool no longer covers it


def test_strings_and_metadata():
    expect_error(patched("<B", 1585, 0x41), "NUL-terminated")
    expect_error(patched("<B", 1584, 0xFF), "UTF-8")
    expect_error(patched("<B", 1616, ord("[")), "JSON")
    expect_error(patched("<I", 64, 2), "NUL-terminated")


def test_non_canonical_gap():
    expect_error(patched("<B", 1640, 1), "non-canonical")  # a byte in the gap before the data
    expect_error(patched("<B", 1775, 1), "non-canonical")  # the padding after the last tensor
    expect_error(patched("<B", VT + 40, 1), "bad input value|non-canonical")  # a value record's reserved bytes


def test_random_corruptions_never_crash():
    """Any single-byte change is caught (CRC), and with the CRC fixed it raises BlobError or reads
    back a graph that re-encodes to the same bytes."""
    rng = np.random.default_rng(0)
    base = B.blob_bytes(random_graph(np.random.default_rng(3), "all"))
    for _ in range(300):
        d = bytearray(base)
        pos = int(rng.integers(len(d)))
        d[pos] ^= int(rng.integers(1, 256))
        with pytest.raises(B.BlobError):
            B.read_blob(bytes(d))
        if pos >= 12:
            fixed = fix_crc(d)
            try:
                g = B.read_blob(fixed)
            except B.BlobError:
                continue
            assert B.blob_bytes(g) == fixed
