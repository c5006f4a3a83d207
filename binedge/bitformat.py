"""The frozen bit format of binedge (DESIGN.md §2). Its C twin is ``runtime_c/include/be_bitformat.h``.

Binary values:
    +1 <-> bit 0, -1 <-> bit 1 (the sign bit), so sign(0) = +1 packs to bit 0.
Unsigned bit-planes (step / qrelu activations): plane p holds bit p of the integer level.
Packing:
    along the innermost (last) axis, least significant bit first, into 32-bit words that are
    stored little-endian; every row is padded with zero bits to a whole word. Padding bits are
    zero in both operands of a dot product, so they never count.
Binary dot product over K real elements:
    dot = K - 2 * popcount(a XOR w)
Binary weight x unsigned bits b in {0, 1}:
    sum(w * b) = popcount(b) - 2 * popcount(b AND w)

Nothing here may change without changing the C header, docs/format.md and the tests together.
"""

from __future__ import annotations

import numpy as np

WORD_BITS = 32
WORD_DTYPE = np.dtype("<u4")


def words_for(n_bits: int) -> int:
    """Number of 32-bit words holding ``n_bits`` bits (rows are padded to whole words)."""
    return (int(n_bits) + WORD_BITS - 1) // WORD_BITS


def pack_bits(bits: np.ndarray) -> np.ndarray:
    """Pack a {0,1} array along its last axis into little-endian uint32 words, LSB first.

    ``bits[..., k]`` lands in word ``k // 32`` at bit position ``k % 32``; the tail of the
    last word is zero.
    """
    bits = np.asarray(bits)
    if bits.size and (bits.min() < 0 or bits.max() > 1):
        raise ValueError("pack_bits expects an array of 0/1 values")
    n = bits.shape[-1]
    nw = words_for(n)
    padded = np.zeros(bits.shape[:-1] + (nw * WORD_BITS,), dtype=np.uint8)
    padded[..., :n] = bits
    as_bytes = np.packbits(padded.reshape(bits.shape[:-1] + (nw * 4, 8)), axis=-1, bitorder="little")
    return np.ascontiguousarray(as_bytes.reshape(bits.shape[:-1] + (nw * 4,))).view(WORD_DTYPE)


def unpack_bits(words: np.ndarray, n_bits: int) -> np.ndarray:
    """Inverse of :func:`pack_bits`: uint32 words along the last axis -> {0,1} uint8 of length n_bits."""
    words = np.ascontiguousarray(np.asarray(words, dtype=WORD_DTYPE))
    if words.shape[-1] != words_for(n_bits):
        raise ValueError(f"{words.shape[-1]} words cannot hold exactly {n_bits} bits")
    as_bytes = words.view(np.uint8).reshape(words.shape[:-1] + (words.shape[-1] * 4, 1))
    bits = np.unpackbits(as_bytes, axis=-1, bitorder="little")
    return bits.reshape(words.shape[:-1] + (words.shape[-1] * WORD_BITS,))[..., :n_bits]


def sign_to_bits(values: np.ndarray) -> np.ndarray:
    """±1 (or any real: sign(0) = +1) -> bits, 1 where the value is negative."""
    return (np.asarray(values) < 0).astype(np.uint8)


def bits_to_sign(bits: np.ndarray) -> np.ndarray:
    """bits -> ±1 as int32 (bit 0 -> +1, bit 1 -> -1)."""
    return 1 - 2 * np.asarray(bits, dtype=np.int32)


def pack_sign(values: np.ndarray) -> np.ndarray:
    """Pack the signs of ``values`` (sign(0) = +1) along the last axis."""
    return pack_bits(sign_to_bits(values))


def unpack_sign(words: np.ndarray, n: int) -> np.ndarray:
    """Unpack sign-encoded words to ±1 int32."""
    return bits_to_sign(unpack_bits(words, n))


def planes_needed(max_level: int) -> int:
    """Bit-planes needed for unsigned levels 0..max_level."""
    return max(1, int(max_level).bit_length())


def pack_planes(levels: np.ndarray, n_planes: int) -> np.ndarray:
    """Unsigned integer levels (..., C) -> planes (..., P, Cw): plane p holds bit p of each level."""
    levels = np.asarray(levels, dtype=np.int64)
    if levels.size and (levels.min() < 0 or levels.max() >= (1 << n_planes)):
        raise ValueError(f"levels must lie in [0, {(1 << n_planes) - 1}] for {n_planes} planes")
    planes = [(levels >> p) & 1 for p in range(n_planes)]
    return np.stack([pack_bits(p.astype(np.uint8)) for p in planes], axis=-2)


def unpack_planes(words: np.ndarray, n: int) -> np.ndarray:
    """Planes (..., P, Cw) -> unsigned levels (..., C) as int32."""
    n_planes = words.shape[-2]
    levels = np.zeros(words.shape[:-2] + (n,), dtype=np.int32)
    for p in range(n_planes):
        levels += unpack_bits(words[..., p, :], n).astype(np.int32) << p
    return levels


def popcount32(words: np.ndarray) -> np.ndarray:
    """Per-element population count of uint32 words (as int64)."""
    return np.bitwise_count(np.asarray(words, dtype=np.uint32)).astype(np.int64)
