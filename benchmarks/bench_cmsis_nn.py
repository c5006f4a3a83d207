"""CMSIS-NN int8 kernels on the QEMU Cortex-M boards, on the layer shapes of binedge's kernel
benchmark (runtime_c/tests/bench_kernels.c), beside binedge's own recorded numbers.

    .venv/bin/python benchmarks/bench_cmsis_nn.py --cmsis-nn PATH \\
        [--targets cortex-m4,cortex-m7,cortex-m55] [-o benchmarks/cmsis_nn.md]

PATH is a checkout of https://github.com/ARM-software/CMSIS-NN made by the user; nothing of it
is copied into this repository. For every board the script

  1. compiles CMSIS-NN's int8 sources (Source/{Convolution,FullyConnected,NNSupport,Transpose}
     Functions, no f16/f32 files) with the board's flags from targets/<t>/target.json
     (`-mcpu` selects ARM_MATH_DSP / ARM_MATH_MVEI inside CMSIS-NN; no CMSIS-Core needed) and
     CMSIS-NN's own default optimisation level (-Ofast, its CMakeLists.txt), into a static
     library under build/cmsis_nn/;
  2. generates one C harness (build/cmsis_nn/<t>/bench_cmsis_nn.c) holding every layer shape:
     random int8 inputs and weights (xorshift32, fixed seed), int32 biases, per-channel
     multipliers / shifts, scratch buffers sized by CMSIS-NN's own *_get_buffer_size functions;
     convolutions through arm_convolve_wrapper_s8, depthwise ones through
     arm_depthwise_conv_wrapper_s8, dense layers through arm_fully_connected_per_channel_s8
     (per-channel requantisation, like binedge's RequantStage; on Helium its kernel sums come
     from arm_vector_sum_s8 before the timing, as CMSIS-NN's own tests do);
  3. links it with the board's startup, board.c and linker script (binedge.targets.build, which
     reads targets/ and changes nothing there) and runs it under qemu-system-arm with
     `-icount shift=6,align=off,sleep=off`. Each kernel call sits between two board_ticks()
     reads with compiler barriers on both sides (as bench_kernels.c times binedge's kernels),
     REPS times; the median is converted with binedge.targets.instructions_from_ticks. Every
     output is compared with a plain C reference computed in the harness (same arithmetic:
     int32 accumulation, CMSIS-NN's arm_nn_requantize, output offset, clamp), so a kernel that
     returned early or computed something else cannot produce a number.

The counts are executed instructions counted by QEMU, not cycles. binedge's figures beside them
come from docs/kernels.md (the tables of `tests/test_target_matrix.py bench`); the binary
shapes' figures are instructions per *binary* MAC (1-bit weights and activations), the first
layers' per u8-pixel x binary-weight MAC, the int8 layers' per int8 MAC, like CMSIS-NN's.

Not part of CI (it needs a CMSIS-NN checkout); tests/test_bench_cmsis_nn.py checks the parts
that do not.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import hashlib
import math
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from binedge import targets as T  # noqa: E402
from binedge.emulate import INSTRUCTIONS_LABEL  # noqa: E402

BENCH_KERNELS = REPO / "runtime_c" / "tests" / "bench_kernels.c"
BUILD = REPO / "build" / "cmsis_nn"
DEFAULT_TARGETS = ("cortex-m4", "cortex-m7", "cortex-m55")
SUPPORTED_TARGETS = ("cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55")
CMSIS_DIRS = ("ConvolutionFunctions", "FullyConnectedFunctions", "NNSupportFunctions", "TransposeFunctions")
CMSIS_OPT = "-Ofast"  # CMSIS-NN's CMakeLists.txt default (CMSIS_OPTIMIZATION_LEVEL)
REPS = 3


class CheckoutError(ValueError):
    """--cmsis-nn is missing or is not a CMSIS-NN source tree."""


# ----------------------------------------------------------------------------- shapes


@dataclasses.dataclass(frozen=True)
class Shape:
    """One layer of bench_kernels.c. kind: conv (groups 1), dw (depthwise, groups = c) or
    dense. Padding (top/left p0, bottom/right p1). group: which part of bench_kernels.c (and
    which table of docs/kernels.md) it comes from: binary, first, int8. in_off: CMSIS-NN's
    input_offset (minus the int8 zero point) for bench_kernels' zero point."""

    name: str
    group: str
    kind: str
    h: int
    w: int
    c: int
    o: int
    k: int = 0
    s: int = 1
    p0: int = 0
    p1: int = 0
    in_off: int = 128

    @property
    def oh(self) -> int:
        return 1 if self.kind == "dense" else (self.h + self.p0 + self.p1 - self.k) // self.s + 1

    @property
    def ow(self) -> int:
        return 1 if self.kind == "dense" else (self.w + self.p0 + self.p1 - self.k) // self.s + 1

    @property
    def kdot(self) -> int:
        """MACs per output value."""
        if self.kind == "dense":
            return self.c
        return self.k * self.k * (1 if self.kind == "dw" else self.c)

    @property
    def macs(self) -> int:
        return self.oh * self.ow * self.o * self.kdot

    def describe(self) -> str:
        if self.kind == "dense":
            return f"dense {self.c} → {self.o}"
        what = "depthwise " if self.kind == "dw" else ""
        mult = f" ×{self.o // self.c}" if self.kind == "dw" and self.o != self.c else ""
        pad = f"p{self.p0}" if self.p0 == self.p1 else f"p({self.p0},{self.p1})"
        return (f"{self.h}×{self.w}×{self.c}, {what}{self.k}×{self.k}{mult} s{self.s} {pad} "
                f"→ {self.oh}×{self.ow}×{self.o}")


def _i8_offset(kind: str, zp: int) -> int:
    """CMSIS-NN input_offset for bench_kernels' (kind, zero point): u8 codes become int8 by
    subtracting 128, and input_offset is minus the int8 zero point."""
    return -(zp - 128) if kind == "u8" else -zp


# The shapes of runtime_c/tests/bench_kernels.c (the non-Cortex-M0 branch; see its header).
# The binary and first layers have no zero point there: their int8 stand-ins take the usual
# TFLite one for post-ReLU activations / u8 pixels, int8 zero point -128 (input_offset 128).
SHAPES: tuple[Shape, ...] = (
    Shape("dense", "binary", "dense", 1, 1, 1024, 1024),
    Shape("conv", "binary", "conv", 14, 14, 64, 64, 3, 1, 1, 1),
    Shape("u8dense", "first", "dense", 1, 1, 784, 256),
    Shape("u8conv1", "first", "conv", 28, 28, 1, 32, 3, 1, 1, 1),
    Shape("u8conv3", "first", "conv", 16, 16, 3, 32, 3, 1, 1, 1),
    Shape("i8c16", "int8", "conv", 12, 12, 16, 16, 3, 1, 1, 1, _i8_offset("i8", -5)),
    Shape("i8c32", "int8", "conv", 10, 10, 32, 32, 3, 1, 1, 1, _i8_offset("u8", 128)),
    Shape("i8c64", "int8", "conv", 8, 8, 64, 64, 3, 1, 1, 1, _i8_offset("i8", 3)),
    Shape("i8dw", "int8", "dw", 16, 16, 32, 32, 3, 1, 1, 1, _i8_offset("i8", -128)),
    Shape("i8dw2", "int8", "dw", 12, 12, 16, 32, 3, 2, 1, 0, _i8_offset("u8", 7)),
    Shape("i8first", "int8", "conv", 28, 28, 1, 16, 3, 1, 1, 1, _i8_offset("u8", 0)),
    Shape("i8dense", "int8", "dense", 1, 1, 512, 64, in_off=_i8_offset("i8", 1)),
    Shape("i8pw16", "int8", "conv", 14, 14, 16, 40, 1, 1, 0, 0, _i8_offset("i8", -21)),
    Shape("i8pw40", "int8", "conv", 7, 7, 40, 80, 1, 1, 0, 0, _i8_offset("i8", -4)),
)


def _c_int(tok: str) -> int:
    return int(tok.strip().rstrip("uU"))


def bench_kernels_shapes(path: Path = BENCH_KERNELS) -> dict[str, tuple]:
    """The layer shapes bench_kernels.c runs (outside its Cortex-M0 branch), read from its
    source: name -> (kind, h, w, c, o, k, s, p0, p1, zero point or None)."""
    src = path.read_text()
    defs = {m.group(1): m.group(2) for m in re.finditer(r"#define\s+(\w+)\s+\(?(\d+)u?\)?\s*$", src, re.M)}
    dense_out = re.search(r"#ifndef BENCH_DENSE_OUT\s*#define BENCH_DENSE_OUT (\d+)u", src)
    d = lambda n: _c_int(defs[n])  # noqa: E731
    out: dict[str, tuple] = {
        "dense": ("dense", 1, 1, d("DENSE_K"), _c_int(dense_out.group(1)), 0, 1, 0, 0, None),
        "conv": ("conv", d("CONV_HW"), d("CONV_HW"), d("CONV_C"), d("CONV_C"), 3, 1, 1, 1, None),
        "u8dense": ("dense", 1, 1, d("U8D_K"), d("U8D_OUT"), 0, 1, 0, 0, None),
    }
    for m in re.finditer(r'bench_u8_conv\("(\w+)",\s*(\d+)u,\s*(\d+)u\)', src):
        hw, c = int(m.group(2)), int(m.group(3))
        out[m.group(1)] = ("conv", hw, hw, c, d("U8C_OUT"), 3, 1, 1, 1, None)
    body = src[src.index("static void bench_int8(void)"):]
    body = body[body.index("#else"):body.index("#endif")]
    for m in re.finditer(r'bench_i8\("(\w+)",\s*BE_KIND_(\w+),\s*(-?\d+),([^)]*)\)', body):
        h, w, c, o, g, k, s, p0, p1 = (_c_int(x) for x in m.group(4).split(","))
        kind = "dense" if k == 0 else ("dw" if g == c and g > 1 else "conv")
        if kind == "conv" and g != 1:
            raise ValueError(f"{m.group(1)}: grouped convolution (groups {g}) has no CMSIS-NN s8 stand-in here")
        out[m.group(1)] = (kind, h, w, c, o, k, s if k else 1, p0, p1, (m.group(2).lower(), int(m.group(3))))
    return out


def shape_tuple(s: Shape) -> tuple:
    """A Shape in bench_kernels_shapes' form (the zero point left out: compared separately)."""
    return (s.kind, s.h, s.w, s.c, s.o, s.k, s.s, s.p0, s.p1)


def board_shape(s: Shape, target: T.Target) -> Shape:
    """The shape as run on a board: a dense layer whose int8 weights would take more than half
    of the board's RAM runs fewer output rows (every row costs the same, so the count
    per MAC is the same kind of number; bench_kernels.c does this for the Cortex-M0)."""
    ram = int(target.memory.get("ram", 0))
    if s.kind != "dense" or s.c * s.o <= ram // 2:
        return s
    o = s.o
    while s.c * o > ram // 2 and o > 16:
        o //= 2
    return dataclasses.replace(s, o=o)


def requant_shift(s: Shape) -> int:
    """A right shift that keeps the outputs of random data mostly inside the int8 range
    (accumulators of random int8 data spread ~ sqrt(K) * 74 * 74)."""
    return -max(1, round(math.log2(math.sqrt(s.kdot) * 74 * 74 / 48)))


# ----------------------------------------------------------------------------- checkout


def check_checkout(path: str | Path | None) -> Path:
    """The CMSIS-NN tree at ``path`` or CheckoutError saying what is wrong."""
    if path is None or str(path) == "":
        raise CheckoutError("--cmsis-nn PATH is required: a checkout of https://github.com/ARM-software/CMSIS-NN "
                            "(git clone https://github.com/ARM-software/CMSIS-NN)")
    p = Path(path).expanduser()
    if not p.is_dir():
        raise CheckoutError(f"--cmsis-nn {path}: no such directory (expected a CMSIS-NN checkout)")
    need = ["Include/arm_nnfunctions.h", "Include/arm_nnsupportfunctions.h",
            "Source/ConvolutionFunctions/arm_convolve_wrapper_s8.c",
            "Source/ConvolutionFunctions/arm_depthwise_conv_wrapper_s8.c",
            "Source/FullyConnectedFunctions/arm_fully_connected_per_channel_s8.c"]
    missing = [n for n in need if not (p / n).is_file()]
    if missing:
        raise CheckoutError(f"--cmsis-nn {path}: not a CMSIS-NN source tree (missing {', '.join(missing)}); "
                            "point it at the root of a checkout of https://github.com/ARM-software/CMSIS-NN")
    return p.resolve()


def checkout_commit(path: Path) -> str:
    try:
        r = subprocess.run(["git", "-C", str(path), "log", "-1", "--format=%H %cs"], capture_output=True,
                           text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown (git not available)"
    if r.returncode != 0 or not r.stdout.strip():
        return "unknown (not a git checkout)"
    commit, date = r.stdout.split()
    dirty = subprocess.run(["git", "-C", str(path), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return f"{commit} ({date}{', with local changes' if dirty else ''})"


# ----------------------------------------------------------------------------- building


def _cmsis_sources(cmsis: Path) -> list[Path]:
    out = []
    for d in CMSIS_DIRS:
        out += [p for p in sorted((cmsis / "Source" / d).glob("*.c")) if not re.search(r"_f(16|32)\.c$", p.name)]
    return out


def cmsis_library(target: T.Target, cmsis: Path, jobs: int, opt: str = CMSIS_OPT) -> Path:
    """CMSIS-NN's int8 sources compiled for the board into build/cmsis_nn/<t>/lib-<hash>/libcmsis-nn.a."""
    srcs = _cmsis_sources(cmsis)
    flags = [target.expand(f) for f in target.cflags]
    base = [target.cc, *flags, opt, "-I", str(cmsis / "Include"), "-w"]
    h = hashlib.sha256(" ".join(base).encode())
    h.update(subprocess.run([target.cc, "--version"], capture_output=True, text=True).stdout.encode())
    for p in [*srcs, *sorted((cmsis / "Include").rglob("*.h"))]:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    out_dir = BUILD / target.name / f"lib-{h.hexdigest()[:16]}"
    lib = out_dir / "libcmsis-nn.a"
    if lib.exists():
        return lib
    out_dir.mkdir(parents=True, exist_ok=True)

    def cc(src: Path) -> Path:
        obj = out_dir / (src.stem + ".o")
        r = subprocess.run([*base, "-c", str(src), "-o", str(obj)], capture_output=True, text=True)
        if r.returncode != 0:
            raise T.BuildError(f"{target.name}: compiling CMSIS-NN {src.name} failed:\n{r.stderr}")
        return obj

    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as ex:
        objs = list(ex.map(cc, srcs))
    ar = target.cc.replace("gcc", "ar")
    tmp = out_dir / f".lib.{os.getpid()}.a"
    subprocess.run([ar, "rcs", str(tmp), *map(str, objs)], check=True)
    os.replace(tmp, lib)
    return lib


_HARNESS_HEAD = r"""/* Generated by benchmarks/bench_cmsis_nn.py for %(target)s: CMSIS-NN int8 kernels on the layer
 * shapes of runtime_c/tests/bench_kernels.c. Prints, per layer,
 *   cmsis <name> <int8 MACs> <median ticks> <min ticks> <max ticks> <scratch bytes> <mismatches>
 * Ticks under -icount are proportional to executed instructions (not cycles). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "arm_nnfunctions.h"
#include "arm_nnsupportfunctions.h"
#include "board.h"

#define REPS %(reps)du
enum { CONV = 0, DW = 1, FC = 2 };
typedef struct {
    const char *name;
    int kind, h, w, c, o, k, s, p0, oh, ow, in_off, out_off, shift;
} shape_t;
static const shape_t shapes[] = {
%(table)s
};
#define POOL_BYTES %(pool)du
static int8_t pool[POOL_BYTES] __attribute__((aligned(16)));
static uint32_t rng = 0x2545F491u;
"""

_HARNESS_BODY = r"""
static uint32_t xs(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static size_t up16(size_t n) { return (n + 15u) & ~(size_t)15u; }

static uint64_t median(uint64_t *t)
{
    uint32_t i, j;
    for (i = 1; i < REPS; i++)
        for (j = i; j > 0u && t[j - 1u] > t[j]; j--) {
            const uint64_t x = t[j];
            t[j] = t[j - 1u];
            t[j - 1u] = x;
        }
    return t[REPS / 2u];
}

/* The plain reference: int32 accumulation of (input + input_offset) * weight, bias, CMSIS-NN's
 * own requantisation, output offset, clamp. Filter layouts as CMSIS-NN documents them: conv
 * [o][kh][kw][c], depthwise [kh][kw][o] (o = c * mult), dense [o][c]. */
static void reference(const shape_t *s, const int8_t *in, const int8_t *wt, const int32_t *bias,
                      const int32_t *mult, const int32_t *shift, int8_t *out)
{
    int oy, ox, oc, ky, kx, ic;
    const int m = s->o / s->c;
    for (oy = 0; oy < s->oh; oy++)
        for (ox = 0; ox < s->ow; ox++)
            for (oc = 0; oc < s->o; oc++) {
                int32_t acc = bias[oc];
                if (s->kind == FC) {
                    for (ic = 0; ic < s->c; ic++)
                        acc += ((int32_t)in[ic] + s->in_off) * wt[oc * s->c + ic];
                } else {
                    for (ky = 0; ky < s->k; ky++)
                        for (kx = 0; kx < s->k; kx++) {
                            const int iy = oy * s->s - s->p0 + ky, ix = ox * s->s - s->p0 + kx;
                            if (iy < 0 || iy >= s->h || ix < 0 || ix >= s->w)
                                continue;
                            if (s->kind == DW) {
                                acc += ((int32_t)in[(iy * s->w + ix) * s->c + oc / m] + s->in_off) *
                                       wt[(ky * s->k + kx) * s->o + oc];
                            } else {
                                for (ic = 0; ic < s->c; ic++)
                                    acc += ((int32_t)in[(iy * s->w + ix) * s->c + ic] + s->in_off) *
                                           wt[((oc * s->k + ky) * s->k + kx) * s->c + ic];
                            }
                        }
                }
                acc = arm_nn_requantize(acc, mult[oc], shift[oc]) + s->out_off;
                out[(oy * s->ow + ox) * s->o + oc] = (int8_t)(acc < -128 ? -128 : acc > 127 ? 127 : acc);
            }
}

#define TIMED(call)                                            \
    do {                                                       \
        uint64_t t0, t1;                                       \
        BOARD_BARRIER();                                       \
        t0 = board_ticks();                                    \
        BOARD_BARRIER();                                       \
        st = (call);                                           \
        BOARD_BARRIER();                                       \
        t1 = board_ticks();                                    \
        BOARD_BARRIER();                                       \
        ticks[r] = t1 - t0;                                    \
    } while (0)

static int bench(const shape_t *s)
{
    const size_t kdot = s->kind == FC ? (size_t)s->c : (size_t)(s->k * s->k * (s->kind == DW ? 1 : s->c));
    const size_t nin = (size_t)s->h * s->w * s->c, nout = (size_t)s->oh * s->ow * s->o;
    const size_t nw = s->kind == DW ? (size_t)s->k * s->k * s->o : (size_t)s->o * kdot;
    int8_t *in = pool, *wt = in + up16(nin), *out = wt + up16(nw), *ref = out + up16(nout);
    int32_t *bias = (int32_t *)(ref + up16(nout)), *mult = bias + up16(s->o), *shift = mult + up16(s->o);
    int8_t *buf = (int8_t *)(shift + up16(s->o));
    cmsis_nn_dims in_d = {1, s->h, s->w, s->c}, f_d, b_d = {1, 1, 1, s->o}, out_d = {1, s->oh, s->ow, s->o};
    cmsis_nn_per_channel_quant_params q;
    cmsis_nn_context ctx;
    cmsis_nn_conv_params cp;
    cmsis_nn_dw_conv_params dp;
    cmsis_nn_fc_params fp;
    int32_t bsize;
    arm_cmsis_nn_status st = ARM_CMSIS_NN_SUCCESS;
    uint64_t ticks[REPS], sorted[REPS], lo, hi;
    uint32_t r, bad = 0u;
    size_t i;

    for (i = 0; i < nin; i++)
        in[i] = (int8_t)(xs() >> 24);
    for (i = 0; i < nw; i++)
        wt[i] = (int8_t)(int32_t)((xs() >> 8) % 255u - 127u);
    for (i = 0; i < (size_t)s->o; i++) {
        const uint32_t x = xs();
        bias[i] = (int32_t)(x % 8193u) - 4096;
        mult[i] = (int32_t)(0x40000000u + (xs() >> 2));
        shift[i] = s->shift - (int32_t)(x >> 30 & 1u);
    }
    q.multiplier = mult;
    q.shift = shift;
    memset(&cp, 0, sizeof cp);
    memset(&dp, 0, sizeof dp);
    memset(&fp, 0, sizeof fp);
    if (s->kind == CONV) {
        f_d = (cmsis_nn_dims){s->o, s->k, s->k, s->c};
        cp.input_offset = s->in_off;
        cp.output_offset = s->out_off;
        cp.stride.h = cp.stride.w = s->s;
        cp.padding.h = cp.padding.w = s->p0;
        cp.dilation.h = cp.dilation.w = 1;
        cp.activation.min = -128;
        cp.activation.max = 127;
        bsize = arm_convolve_wrapper_s8_get_buffer_size(&cp, &in_d, &f_d, &out_d);
    } else if (s->kind == DW) {
        f_d = (cmsis_nn_dims){1, s->k, s->k, s->o};
        dp.input_offset = s->in_off;
        dp.output_offset = s->out_off;
        dp.ch_mult = s->o / s->c;
        dp.stride.h = dp.stride.w = s->s;
        dp.padding.h = dp.padding.w = s->p0;
        dp.dilation.h = dp.dilation.w = 1;
        dp.activation.min = -128;
        dp.activation.max = 127;
        bsize = arm_depthwise_conv_wrapper_s8_get_buffer_size(&dp, &in_d, &f_d, &out_d);
    } else {
        in_d = (cmsis_nn_dims){1, 1, 1, s->c};
        f_d = (cmsis_nn_dims){s->c, 1, 1, s->o};
        out_d = (cmsis_nn_dims){1, 1, 1, s->o};
        fp.input_offset = s->in_off;
        fp.filter_offset = 0;
        fp.output_offset = s->out_off;
        fp.activation.min = -128;
        fp.activation.max = 127;
        bsize = arm_fully_connected_s8_get_buffer_size(&f_d);
    }
    if (bsize < 0 || (size_t)(buf + bsize - pool) > sizeof pool) {
        printf("cmsis: %s needs %ld scratch bytes, more than the pool holds\n", s->name, (long)bsize);
        return 1;
    }
    memset(buf, 0, (size_t)bsize);
    ctx.buf = bsize > 0 ? buf : NULL;
    ctx.size = bsize;
#if defined(ARM_MATH_MVEI)
    if (s->kind == FC &&
        arm_vector_sum_s8((int32_t *)buf, s->c, s->o, wt, s->in_off, 0, bias) != ARM_CMSIS_NN_SUCCESS) {
        printf("cmsis: %s arm_vector_sum_s8 failed\n", s->name);
        return 1;
    }
#endif
    reference(s, in, wt, bias, mult, shift, ref);
    for (r = 0; r < REPS; r++) {
        memset(out, 0x55, nout);
        if (s->kind == CONV)
            TIMED(arm_convolve_wrapper_s8(&ctx, &cp, &q, &in_d, in, &f_d, wt, &b_d, bias, &out_d, out));
        else if (s->kind == DW)
            TIMED(arm_depthwise_conv_wrapper_s8(&ctx, &dp, &q, &in_d, in, &f_d, wt, &b_d, bias, &out_d, out));
        else
            TIMED(arm_fully_connected_per_channel_s8(&ctx, &fp, &q, &in_d, in, &f_d, wt, &b_d, bias, &out_d, out));
        if (st != ARM_CMSIS_NN_SUCCESS) {
            printf("cmsis: %s returned status %d\n", s->name, (int)st);
            return 1;
        }
        for (i = 0; i < nout; i++)
            bad += out[i] != ref[i];
    }
    memcpy(sorted, ticks, sizeof ticks);
    lo = hi = ticks[0];
    for (r = 1; r < REPS; r++) {
        lo = ticks[r] < lo ? ticks[r] : lo;
        hi = ticks[r] > hi ? ticks[r] : hi;
    }
    printf("cmsis %s %lu %lu %lu %lu %ld %lu\n", s->name, (unsigned long)(nout * kdot),
           (unsigned long)median(sorted), (unsigned long)lo, (unsigned long)hi, (long)bsize, (unsigned long)bad);
    return bad != 0u;
}

int main(void)
{
    size_t i;
    int fails = 0;
    printf("cmsis: target %s, tick_hz %lu, dsp %d, mve %d\n", board_name(), (unsigned long)board_tick_hz(),
#if defined(ARM_MATH_DSP)
           1,
#else
           0,
#endif
#if defined(ARM_MATH_MVEI)
           1
#else
           0
#endif
    );
    for (i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        fails += bench(&shapes[i]);
    printf("cmsis: %d failed, stack %lu of %lu bytes\n", fails, (unsigned long)be_target_stack_used(),
           (unsigned long)be_target_stack_size());
    return fails != 0;
}
"""

_KIND_C = {"conv": "CONV", "dw": "DW", "dense": "FC"}


def pool_bytes(shapes: list[Shape]) -> int:
    """Bytes the harness pool needs: the largest layer's tensors plus room for the scratch
    buffer (checked against get_buffer_size at run time)."""
    up = lambda n: (n + 15) // 16 * 16  # noqa: E731
    need = 0
    for s in shapes:
        nin, nout = s.h * s.w * s.c, s.oh * s.ow * s.o
        nw = s.k * s.k * s.o if s.kind == "dw" else s.o * s.kdot
        scratch = max(4 * s.o, 4 * s.k * s.k * s.c * 4, 4 * s.k * s.k * s.o * 2) + 4096
        need = max(need, up(nin) + up(nw) + 2 * up(nout) + 3 * 4 * up(s.o) + scratch)
    return up(need)


def harness_source(target: str, shapes: list[Shape], reps: int = REPS) -> str:
    rows = []
    for s in shapes:
        rows.append(f'    {{"{s.name}", {_KIND_C[s.kind]}, {s.h}, {s.w}, {s.c}, {s.o}, {s.k}, {s.s}, {s.p0}, '
                    f"{s.oh}, {s.ow}, {s.in_off}, 3, {requant_shift(s)}}},")
    head = _HARNESS_HEAD % {"target": target, "reps": reps, "table": "\n".join(rows), "pool": pool_bytes(shapes)}
    return head + _HARNESS_BODY


# ----------------------------------------------------------------------------- running


@dataclasses.dataclass
class Result:
    target: str
    shape: Shape           # as run on the board
    macs: int
    ticks: int             # median
    ticks_min: int
    ticks_max: int
    scratch: int
    instructions: float    # median ticks converted (QEMU -icount instructions, not cycles)

    @property
    def per_mac(self) -> float:
        return self.instructions / self.macs


def parse_output(target: str, stdout: str, shapes: list[Shape]) -> list[Result]:
    by_name = {s.name: s for s in shapes}
    out = []
    for line in stdout.splitlines():
        f = line.split()
        if len(f) == 8 and f[0] == "cmsis" and f[1] in by_name:
            name, macs, med, lo, hi, scratch, bad = f[1], *map(int, f[2:])
            if bad:
                raise RuntimeError(f"{target}: {name}: {bad} outputs differ from the reference")
            s = by_name[name]
            if macs != s.macs:
                raise RuntimeError(f"{target}: {name}: harness counted {macs} MACs, expected {s.macs}")
            out.append(Result(target, s, macs, med, lo, hi, scratch, T.instructions_from_ticks(target, med)))
    missing = [s.name for s in shapes if s.name not in {r.shape.name for r in out}]
    if missing:
        raise RuntimeError(f"{target}: no result for {', '.join(missing)}:\n{stdout}")
    return out


def run_target(target: str, cmsis: Path, *, jobs: int, timeout: float, opt: str = CMSIS_OPT,
               log=print) -> list[Result]:
    t = T.get_target(target)
    T.check_tools(t)
    shapes = [board_shape(s, t) for s in SHAPES]
    log(f"{target}: compiling CMSIS-NN ({len(_cmsis_sources(cmsis))} files, {opt})")
    lib = cmsis_library(t, cmsis, jobs, opt)
    hdir = BUILD / target
    hdir.mkdir(parents=True, exist_ok=True)
    src = hdir / "bench_cmsis_nn.c"
    text = harness_source(target, shapes)
    if not src.exists() or src.read_text() != text:
        src.write_text(text)
    elf = T.build(t, [src], include_dirs=[cmsis / "Include"], ldflags=[str(lib)], opt="-O2")
    log(f"{target}: running {elf.name} under {' '.join(t.icount_args)}")
    res = T.run(t, elf, icount=True, timeout=timeout)
    if not res.ok:
        raise RuntimeError(f"{target}: harness exit status {res.returncode}\n{res.stdout}\n{res.stderr}")
    head = res.stdout.splitlines()[0] if res.stdout else ""
    want = f"dsp {int('dsp' in t.features)}, mve {int('mve' in t.features)}"
    if want not in head:  # CMSIS-NN picks its paths from -mcpu: check it took the board's
        raise RuntimeError(f"{target}: CMSIS-NN built with other extensions than the board's ({want}): {head}")
    log(head)
    return parse_output(target, res.stdout, shapes)


# ----------------------------------------------------------------------------- binedge's numbers

# binedge's best kernel (what `auto` picks) on the same shapes, as recorded in docs/kernels.md
# (sections "Measured speed: instructions per binary MAC", "Measured: instructions per MAC of the
# first layer", "Measured: instructions per int8 MAC"; bench_kernels.c, gcc 12.2, -O2, QEMU 7.2,
# -icount instructions). Binary shapes: per binary MAC; first layers: per u8 x binary MAC;
# int8 layers: per int8 MAC.
BINEDGE_SOURCE = "docs/kernels.md"
BINEDGE: dict[str, dict[str, tuple[float, str]]] = {
    "cortex-m3": {"dense": (0.417, "swar"), "conv": (0.300, "tab"), "u8dense": (0.733, "lut"),
                  "u8conv1": (1.322, "mla"), "u8conv3": (1.063, "mla"), "i8c16": (3.148, "mac"),
                  "i8c32": (2.807, "mac"), "i8c64": (2.714, "mac"), "i8dw": (8.48, "mac"),
                  "i8dw2": (8.55, "mac"), "i8first": (3.34, "mac"), "i8dense": (2.719, "mac")},
    "cortex-m4": {"dense": (0.282, "dsp"), "conv": (0.210, "tab"), "u8dense": (0.733, "lut"),
                  "u8conv1": (1.325, "mla"), "u8conv3": (1.066, "mla"), "i8c16": (1.308, "dsp"),
                  "i8c32": (1.487, "dsp"), "i8c64": (1.513, "dsp"), "i8dw": (4.85, "dsp"),
                  "i8dw2": (8.36, "dsp"), "i8first": (2.18, "dsp"), "i8dense": (1.626, "dsp")},
    "cortex-m7": {"dense": (0.282, "dsp"), "conv": (0.210, "tab"), "u8dense": (0.732, "lut"),
                  "u8conv1": (1.321, "mla"), "u8conv3": (1.063, "mla"), "i8c16": (1.310, "dsp"),
                  "i8c32": (1.490, "dsp"), "i8c64": (1.513, "dsp"), "i8dw": (4.91, "dsp"),
                  "i8dw2": (8.31, "dsp"), "i8first": (2.18, "dsp"), "i8dense": (1.626, "dsp")},
    "cortex-m33": {"dense": (0.282, "dsp"), "conv": (0.210, "tab"), "u8dense": (0.733, "lut"),
                   "u8conv1": (1.324, "mla"), "u8conv3": (1.066, "mla"), "i8c16": (1.307, "dsp"),
                   "i8c32": (1.487, "dsp"), "i8c64": (1.513, "dsp"), "i8dw": (4.87, "dsp"),
                   "i8dw2": (8.38, "dsp"), "i8first": (2.18, "dsp"), "i8dense": (1.626, "dsp")},
    "cortex-m55": {"dense": (0.103, "mve"), "conv": (0.116, "lanes"), "u8dense": (0.338, "mve"),
                   "u8conv1": (0.467, "lanes"), "u8conv3": (0.397, "lanes"), "i8c16": (0.349, "mve"),
                   "i8c32": (0.206, "mve"), "i8c64": (0.173, "mve"), "i8dw": (2.62, "mve"),
                   "i8dw2": (7.43, "mve"), "i8first": (1.50, "mve"), "i8dense": (0.448, "mve")},
}
BINEDGE_UNIT = {"binary": "per binary MAC", "first": "per u8 × binary MAC", "int8": "per int8 MAC"}


# ----------------------------------------------------------------------------- report


def _fmt(x: float) -> str:
    return f"{x:.3f}" if x < 10 else f"{x:.2f}"


def write_report(results: list[Result], meta: dict[str, str], path: Path | None = None) -> str:
    """The Markdown report; written to ``path`` when given. ``meta``: command, cmsis_commit,
    compiler, qemu (free text)."""
    boards = list(dict.fromkeys(r.target for r in results))
    by = {(r.target, r.shape.name): r for r in results}
    L = ["# CMSIS-NN int8 kernels on the QEMU boards, on binedge's kernel-benchmark shapes", "",
         f"All counts are **{INSTRUCTIONS_LABEL}**: QEMU `-icount shift=6,align=off,sleep=off` "
         "makes the board tick counter advance once per fixed number of executed instructions; "
         "`binedge.targets.instructions_from_ticks` converts. They say nothing about cycles "
         "(no pipeline, memory wait states or caches are modelled).", "",
         "Command:", "", "```", meta.get("command", ""), "```", "",
         f"- CMSIS-NN: {meta.get('cmsis_commit', 'unknown')} (the user's checkout; built by the script, "
         f"not part of this repository), its int8 sources compiled with {meta.get('opt', CMSIS_OPT)}"
         + (" (CMSIS-NN's CMake default)" if meta.get("opt", CMSIS_OPT) == CMSIS_OPT else "")
         + " and the board's flags from targets/<board>/target.json, the harness with -O2",
         f"- compiler: {meta.get('compiler', 'unknown')}",
         f"- QEMU: {meta.get('qemu', 'unknown')}",
         f"- each kernel call timed {REPS} times between two `board_ticks()` reads (compiler barriers on "
         "both sides), median reported (under -icount the repetitions agree); every output compared "
         "with a plain C reference in the same run (0 mismatches)",
         "- functions: convolutions `arm_convolve_wrapper_s8`, depthwise `arm_depthwise_conv_wrapper_s8`, "
         "dense `arm_fully_connected_per_channel_s8` (per-channel multipliers and shifts everywhere, as "
         "binedge's RequantStage); scratch from CMSIS-NN's `*_get_buffer_size`; on Helium the dense "
         "kernel sums (`arm_vector_sum_s8`) are computed before the timing, as CMSIS-NN's tests do",
         f"- binedge's numbers: {BINEDGE_SOURCE} (the tables of `tests/test_target_matrix.py bench`, "
         "runtime_c/tests/bench_kernels.c, gcc 12.2, -O2, QEMU 7.2), the variant `auto` picks. Their unit "
         "differs by row: binary layers per **binary** MAC (1-bit × 1-bit), first layers per u8-pixel × "
         "binary-weight MAC, int8 layers per int8 MAC (the same unit as CMSIS-NN's). Both sides run "
         "the same layer shape, so the ratio of the two per-MAC figures is also the ratio of the "
         "instructions per layer.", ""]
    shapes = {r.shape.name: r.shape for r in results}
    reduced = sorted({(r.target, r.shape.name, r.shape.o) for r in results
                      if r.shape != next(s for s in SHAPES if s.name == r.shape.name)})
    if reduced:
        L += ["Reduced on small-RAM boards (every output row of a dense layer costs the same, so the "
              "count per MAC is the same kind of number): "
              + "; ".join(f"{t} {n}: {o} output rows" for t, n, o in reduced) + ".", ""]
    L += ["## Instructions per MAC", "",
          f"Executed instructions per MAC, {INSTRUCTIONS_LABEL}. CMSIS-NN: per int8 MAC. binedge: per MAC of "
          "the unit in the 'binedge unit' column.", ""]
    hdr = "| layer (bench_kernels.c) | shape | binedge unit |"
    sep = "|---|---|---|"
    for b in boards:
        hdr += f" {b}: CMSIS-NN | {b}: binedge |"
        sep += "---:|---:|"
    L += [hdr, sep]
    for name in [s.name for s in SHAPES if s.name in shapes]:
        s0 = next(s for s in SHAPES if s.name == name)
        row = f"| {name} | {s0.describe()} | {BINEDGE_UNIT[s0.group]} |"
        for b in boards:
            r = by.get((b, name))
            be = BINEDGE.get(b, {}).get(name)
            row += f" {_fmt(r.per_mac) if r else '—'} |"
            row += f" {_fmt(be[0])} ({be[1]}) |" if be else " — |"
        L.append(row)
    L += ["", "## Per layer (CMSIS-NN)", "",
          f"Instructions per call, {INSTRUCTIONS_LABEL}; int8 MACs; scratch bytes from get_buffer_size; "
          "ratio = CMSIS-NN per int8 MAC / binedge per MAC of its unit (> 1: binedge's kernel runs fewer "
          "instructions on this shape).", "",
          "| board | layer | int8 MACs | instructions | per int8 MAC | scratch B | binedge per MAC | ratio |",
          "|---|---|---:|---:|---:|---:|---:|---:|"]
    for b in boards:
        for name in [s.name for s in SHAPES if s.name in shapes]:
            r = by.get((b, name))
            if r is None:
                continue
            be = BINEDGE.get(b, {}).get(name)
            L.append(f"| {b} | {name} | {r.macs:,} | {r.instructions:,.0f} | {_fmt(r.per_mac)} | {r.scratch:,} | "
                     + (f"{_fmt(be[0])} ({be[1]}, {BINEDGE_UNIT[r.shape.group]}) | {r.per_mac / be[0]:.1f}× |"
                        if be else "— | — |"))
    L.append("")
    if meta.get("notes"):
        L += ["## Notes", "", meta["notes"].rstrip(), ""]
    text = "\n".join(L)
    if path is not None:
        Path(path).write_text(text)
    return text


def _tool_version(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.splitlines()[0].strip()
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cmsis-nn", metavar="PATH", help="root of a CMSIS-NN checkout (github ARM-software/CMSIS-NN)")
    ap.add_argument("--targets", default=",".join(DEFAULT_TARGETS),
                    help=f"comma-separated boards among {', '.join(SUPPORTED_TARGETS)} (default %(default)s)")
    ap.add_argument("-o", "--output", type=Path, help="write the Markdown report here (e.g. benchmarks/cmsis_nn.md)")
    ap.add_argument("--opt", default=CMSIS_OPT,
                    help="optimisation level for CMSIS-NN's sources (default %(default)s, CMSIS-NN's CMake default)")
    ap.add_argument("-j", "--jobs", type=int, default=min(2, os.cpu_count() or 1), help="parallel compiles")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per board run")
    a = ap.parse_args(argv)
    try:
        cmsis = check_checkout(a.cmsis_nn)
    except CheckoutError as e:
        ap.error(str(e))
    boards = [b.strip() for b in a.targets.split(",") if b.strip()]
    bad = [b for b in boards if b not in SUPPORTED_TARGETS]
    if bad:
        ap.error(f"--targets: {', '.join(bad)} not supported (choose from {', '.join(SUPPORTED_TARGETS)}; "
                 "the Cortex-M0's 16 KiB RAM holds none of the larger layers)")
    results: list[Result] = []
    for b in boards:
        rs = run_target(b, cmsis, jobs=a.jobs, timeout=a.timeout, opt=a.opt, log=lambda m: print(m, file=sys.stderr))
        for r in rs:
            be = BINEDGE.get(b, {}).get(r.shape.name)
            print(f"{b:11s} {r.shape.name:8s} {r.macs:>10,} MACs {r.instructions:>14,.0f} instr "
                  f"{r.per_mac:7.3f} /MAC" + (f"   binedge {be[0]:.3f} ({be[1]})" if be else ""))
        results += rs
    argv_s = " ".join(sys.argv[1:]) if argv is None else " ".join(argv)
    meta = {"command": f".venv/bin/python benchmarks/bench_cmsis_nn.py {argv_s}",
            "cmsis_commit": checkout_commit(cmsis),
            "compiler": _tool_version([T.get_target(boards[0]).cc, "--version"]),
            "qemu": _tool_version(["qemu-system-arm", "--version"]), "opt": a.opt}
    text = write_report(results, meta, a.output)
    if a.output is None:
        print(text)
    else:
        print(f"wrote {a.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
