"""A self-contained firmware project for one target (``binedge export --target``, docs/firmware.md).

    from binedge.firmware import write_firmware
    manifest = write_firmware(graph, "fw", target="cortex-m4", images=x_u8, labels=y)
    # then: make -C fw  (fw/firmware.elf)  and  binedge emulate fw

The project holds everything ``make`` needs and nothing that points back at this repository:

    fw/model.h, model.c        the .bnm blob as an aligned ``const uint8_t`` array (flash), its
                               size, the arena size and the model's shape constants
    fw/test_inputs.h/.c        N test images, their labels and the reference scores (a recurrent
                               character model: the seed's ids, the next characters, and the
                               reference ids and scores of the ``generate`` characters after it)
    fw/main.c                  the harness (targets/common/fw/main.c): init, prepare with a static
                               arena, timed invokes, per-op profile, stack high-water mark
    fw/runtime/                the C runtime (runtime_c/include, runtime_c/src: the reference
                               kernels and the variants of the target's ISA)
    fw/board/                  startup.c, link.ld, board.c/.h of the target (targets/)
    fw/Makefile                the target's compiler and flags (targets/<t>/target.json)
    fw/model.bnm, test_inputs.npz, firmware.json, README.md   for ``binedge emulate`` and people

The directory is written as a whole, under binedge's output rule (binedge.fileio: a complete
result or the previous one, never neither): built in a staging folder beside it, firmware.json
written last with the SHA-256 of every file, then swapped in atomically; leftovers of killed
runs are recovered or removed by the next run. An existing directory is replaced only if it is
empty or a previous binedge output (its manifest lists every file and none changed; build
products of ``make`` allowed).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import platform
import re
import shutil
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from . import __version__, fileio

__all__ = [
    "DEFAULT_SAMPLES",
    "MANIFEST",
    "FirmwareError",
    "FirmwarePlan",
    "check_out_dir",
    "committed_dir",
    "decode_ids",
    "plan_firmware",
    "read_manifest",
    "stage_firmware",
    "write_firmware",
]

REPO_DIR = Path(__file__).resolve().parent.parent
RUNTIME_DIR = REPO_DIR / "runtime_c"
TEMPLATE_DIR = REPO_DIR / "targets" / "common" / "fw"

MANIFEST = "firmware.json"
FORMAT = "binedge-firmware"
FORMAT_VERSION = 1
DEFAULT_SAMPLES = 64

# What a firmware directory may hold besides the files binedge wrote (what its Makefile and
# ``binedge emulate`` produce: build/, firmware*.elf, emulate.json) is listed in
# binedge.fileio.MANIFESTS; anything else is someone's work and is never deleted.

# runtime_c/src sub-folders that only one ISA family needs (others are always copied).
_ISA_DIRS = {
    "x86": {"x86", "x86_64", "amd64", "avx", "avx2", "avx512"},
    "arm": {"arm", "arm32", "armv7", "aarch64", "arm64", "neon", "cortexm", "cortex-m", "cortex_m", "mve",
            "helium", "thumb", "dsp"},
}

# Rough costs for the early fit check (the linker has the final word): code + C library
# (measured: 10-20 KiB on Cortex-M), bytes of one decoded op in be_model on a 32-bit core.
_CODE_FLOOR_BYTES = 8 * 1024
_OP_STRUCT_BYTES = 184  # sizeof(be_op), arm-none-eabi-gcc, format version 2
_OPERAND_BYTES = 2  # one entry of be_model.operands
_MODEL_STRUCT_BASE = 124


class FirmwareError(ValueError):
    """A firmware request that cannot be served (bad inputs, does not fit, unsafe output dir)."""


# ----------------------------------------------------------------------------- output directory


def read_manifest(fw_dir) -> dict:
    """The firmware.json of a firmware directory (FirmwareError if it is not one)."""
    p = Path(fw_dir) / MANIFEST
    if not p.is_file():
        raise FirmwareError(f"{fw_dir} is not a binedge firmware directory (no {MANIFEST}); "
                            f"make one with `binedge export RUN_DIR --target TARGET -o {fw_dir}`")
    try:
        m = json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise FirmwareError(f"{p}: unreadable ({e})") from None
    if not isinstance(m, dict) or m.get("format") != FORMAT:
        raise FirmwareError(f"{p} is not a binedge firmware manifest")
    if m.get("version") != FORMAT_VERSION:
        raise FirmwareError(f"{p}: firmware format version {m.get('version')}, this binedge reads "
                            f"{FORMAT_VERSION}: re-export it")
    return m


def check_out_dir(out_dir) -> None:
    """Raise FirmwareError unless ``out_dir`` may be (re)written: absent, an empty directory,
    or a previous binedge output directory (a firmware project or an export) holding only
    binedge's files and build products (binedge.fileio.check_out_dir)."""
    from .fileio import OutputError
    from .fileio import check_out_dir as check

    try:
        check(out_dir, legacy=_legacy_export)
    except OutputError as e:
        raise FirmwareError(str(e)) from None


def _legacy_export(out: Path) -> bool:
    from .export import is_legacy_export

    return is_legacy_export(out)


@contextlib.contextmanager
def committed_dir(out_dir) -> Iterator[Path]:
    """A fresh staging directory beside ``out_dir``, swapped in for ``out_dir`` when the block
    ends without an exception (replacing a previous output directory), deleted otherwise; the
    stage must hold firmware.json. See binedge.fileio.committed_dir for the guarantees."""
    check_out_dir(out_dir)
    with fileio.committed_dir(out_dir, manifest=MANIFEST, legacy=_legacy_export) as stage:
        yield stage


# ----------------------------------------------------------------------------- validation


def _check_inputs(graph, images, labels) -> tuple[np.ndarray, np.ndarray | None]:
    from . import reference

    try:
        images = reference.check_images(graph, images)
    except ValueError as e:
        raise FirmwareError(f"test images: {e}") from None
    if len(images) < 1:
        raise FirmwareError("at least one test image is needed")
    if labels is not None:
        labels = np.asarray(labels)
        if labels.ndim != 1 or len(labels) != len(images):
            raise FirmwareError(f"labels must be a vector of {len(images)} class indices, got shape {labels.shape}")
        if not np.issubdtype(labels.dtype, np.integer):
            raise FirmwareError(f"labels must be integers, got {labels.dtype}")
        classes = graph.specs()[-1].shape[0]
        if labels.size and (labels.min() < 0 or labels.max() >= min(classes, 32768)):
            raise FirmwareError(f"labels must lie in [0, {classes})")
        labels = labels.astype(np.int64)
    return np.ascontiguousarray(images), labels


def _check_generate(graph, images, generate) -> int:
    """The number of characters a recurrent character model's firmware generates after its seed
    (``images``): an integer >= 0, 0 for every other graph. The seed ids must lie below the
    vocabulary the model reads (be_invoke refuses others with BE_ERR_INPUT), and a generating
    model's classes must be ids it can read back."""
    from .graph import LSTM

    if isinstance(generate, (bool, np.bool_)) or not isinstance(generate, (int, np.integer)) or generate < 0:
        raise FirmwareError(f"generate must be a number of characters >= 0, got {generate!r}")
    generate = int(generate)
    if not graph.is_recurrent():
        if generate:
            raise FirmwareError("generate: only a recurrent character model (an LSTM reading one character id "
                                "per step) can generate text; this graph has no LSTM op")
        return 0
    first = graph.ops[0]
    if isinstance(first, LSTM) and graph.input.kind == "u8" and tuple(graph.input.shape) == (1,):
        vocab = int(first.in_features)
        if images.size and int(images.max()) >= vocab:
            bad = int(np.argmax(images.reshape(len(images), -1).max(axis=1) >= vocab))
            raise FirmwareError(f"test input {bad}: character id {int(images[bad].max())} is not below the "
                                f"model's vocabulary of {vocab} (be_invoke would refuse it: BE_ERR_INPUT)")
        classes = int(graph.specs()[-1].shape[0])
        if generate and classes > vocab:
            raise FirmwareError(f"generate: the model scores {classes} classes but reads ids below {vocab}; its "
                                f"argmax cannot always be fed back")
    elif generate:
        raise FirmwareError(f"generate: the model's input is {graph.input.kind} {tuple(graph.input.shape)}, not one "
                            f"character id (u8 (1,)) read by an LSTM: it cannot feed its output back")
    return generate


def _fit_check(t, *, blob: int, arena: int, ops: int, samples: int, input_bytes: int, classes: int,
               operands: int = 0, generate: int = 0) -> dict:
    """Early estimate of flash and RAM; FirmwareError if it clearly cannot fit the board."""
    # test inputs, labels and reference scores; the reference id and scores of every generated step
    inputs = samples * (input_bytes + 2 + 4 * classes) + generate * (1 + 4 * classes)
    model_struct = _MODEL_STRUCT_BASE + _OP_STRUCT_BYTES * ops + _OPERAND_BYTES * max(operands, 1)
    # + the harness's copy of one input at an odd address (its misaligned-input pass)
    ram_need = arena + model_struct + (4 * ops + 28) + (16 * ops + 16) + 4 * classes + input_bytes + 3
    est = {"blob_bytes": blob, "test_input_bytes": inputs, "arena_bytes": arena, "model_struct_bytes": model_struct}
    mem = t.memory
    if "flash" in mem:
        need = blob + inputs + _CODE_FLOOR_BYTES
        if need > int(mem["flash"]):
            raise FirmwareError(
                f"does not fit {t.name}'s {int(mem['flash']) // 1024} KiB flash: model blob {blob:,} B + "
                f"{samples} test inputs{f' and {generate} generated steps' if generate else ''} {inputs:,} B + "
                f"at least {_CODE_FLOOR_BYTES // 1024} KiB of code; "
                f"use fewer test inputs (--samples) or a smaller model")
    if "ram" in mem:
        stack = int(mem.get("stack", 0))
        if ram_need + stack > int(mem["ram"]):
            raise FirmwareError(
                f"does not fit {t.name}'s {int(mem['ram']) // 1024} KiB RAM: arena {arena:,} B + model struct "
                f"{model_struct:,} B (BE_MAX_OPS={ops}) + harness + the {stack:,} B stack = "
                f"{ram_need + stack:,} B; a smaller model (narrower first layers, fewer bit-planes) is needed")
    return est


def _isa_family(t) -> str:
    if t.kind == "native":
        m = platform.machine().lower()
        return "x86" if m in ("x86_64", "amd64", "i386", "i686") else "arm" if m.startswith(("arm", "aarch")) else m
    return "arm" if ("arm" in t.cc or "aarch64" in t.cc) else "other"


# ----------------------------------------------------------------------------- C sources


def _c_bytes(data: bytes, indent: str = "    ", per_line: int = 16) -> str:
    h = data.hex()
    lines = []
    for i in range(0, len(data), per_line):
        chunk = h[2 * i:2 * (i + per_line)]
        lines.append(indent + ", ".join("0x" + chunk[j:j + 2] for j in range(0, len(chunk), 2)) + ",")
    return "\n".join(lines)


def _c_int32(v: int) -> str:
    return "(-2147483647 - 1)" if v == -(2**31) else str(int(v))


def _model_h(*, blob: bytes, arena: int, ops: int, classes: int, input_shape, shift: int,
             class_names, input_kind: str = "uint8", recurrent: bool = False) -> str:
    if recurrent:  # characters: show them as Python would write them (newlines, tabs, quotes)
        names = ", ".join(ascii(str(n)) for n in class_names) if class_names else "-"
    else:
        names = ", ".join(str(n) for n in class_names) if class_names else "-"
    names = names.replace("*/", "* /").replace("/*", "/ *").replace("\n", " ").replace("\r", " ")  # a C comment
    what = ("one character id (uint8) per step" if recurrent
            else f"{' x '.join(map(str, input_shape))} {input_kind} codes (HWC)")
    if recurrent:
        rec = ("\n * Recurrent: one be_invoke is one time step (input: one character id below the vocabulary),\n"
               " * the LSTM state lives in the arena and persists between invokes; be_reset starts a new\n"
               " * sequence from the zero state (be_prepare does too). Do not write the arena between steps.")
    else:
        rec = ""
    return f"""/* model.h -- the binedge model of this firmware (written by binedge {__version__}).
 *
 * binedge_model_blob is the .bnm blob (docs/format.md of binedge), a const array: it stays in
 * flash and the runtime reads the weights in place. Pass it to be_model_init; give be_prepare
 * a 16-byte aligned arena of BINEDGE_MODEL_ARENA_BYTES bytes.
 * Input: {what}; output: {classes} int32 scores
 * (logit = score / 2^{shift}). Classes: {names}{rec}
 */
#ifndef BINEDGE_MODEL_H
#define BINEDGE_MODEL_H

#include <stddef.h>
#include <stdint.h>

#define BINEDGE_MODEL_BLOB_BYTES {len(blob)}u
#define BINEDGE_MODEL_BLOB_CRC32 0x{zlib.crc32(blob) & 0xFFFFFFFF:08x}u /* zlib CRC32 of the whole blob */
#define BINEDGE_MODEL_ARENA_BYTES {arena}u
#define BINEDGE_MODEL_OPS {ops}u
#define BINEDGE_MODEL_CLASSES {classes}u
#define BINEDGE_MODEL_INPUT_BYTES {int(np.prod(input_shape))}u
#define BINEDGE_MODEL_OUTPUT_SHIFT {shift}
#define BINEDGE_MODEL_RECURRENT {1 if recurrent else 0} /* LSTM state kept between be_invoke calls */

extern const uint8_t binedge_model_blob[BINEDGE_MODEL_BLOB_BYTES];
extern const size_t binedge_model_blob_size;

#endif /* BINEDGE_MODEL_H */
"""


def _model_c(blob: bytes) -> str:
    return f"""/* model.c -- the .bnm blob as a const array (flash), 16-byte aligned as the runtime wants.
 * Written by binedge {__version__}; regenerate with `binedge export --target`, do not edit. */
#include "model.h"

#if defined(__GNUC__)
#define BINEDGE_MODEL_ALIGN __attribute__((aligned(16)))
#else
#define BINEDGE_MODEL_ALIGN /* align binedge_model_blob to 16 bytes with your compiler's syntax */
#endif

const uint8_t binedge_model_blob[BINEDGE_MODEL_BLOB_BYTES] BINEDGE_MODEL_ALIGN = {{
{_c_bytes(blob)}
}};

const size_t binedge_model_blob_size = BINEDGE_MODEL_BLOB_BYTES;
"""


def _test_inputs_h(n: int, input_bytes: int, generate: int = 0) -> str:
    gen = ""
    if generate:
        gen = """
/* Generation (recurrent model): after the seed (the test inputs, in order) the harness feeds
   back the argmax of the last scores FW_GENERATE times; the reference's ids and the scores
   after each (binedge.lstm_deploy.generate and binedge.reference.run on the host). */
extern const uint8_t fw_ref_gen_ids[FW_GENERATE];
extern const int32_t fw_ref_gen_scores[FW_GENERATE][BINEDGE_MODEL_CLASSES];
"""
    return f"""/* test_inputs.h -- test images of the firmware harness (written by binedge {__version__}). */
#ifndef FW_TEST_INPUTS_H
#define FW_TEST_INPUTS_H

#include <stdint.h>

#include "model.h"

#define FW_SAMPLES {n}u
#define FW_INPUT_BYTES {input_bytes}u
#define FW_GENERATE {generate}u

/* Pixels (uint8, HWC), label of each image (-1: unknown), and the reference scores
   (binedge.reference.run on the host): the harness checks every invoke against them. */
extern const uint8_t fw_test_images[FW_SAMPLES][FW_INPUT_BYTES];
extern const int16_t fw_test_labels[FW_SAMPLES];
extern const int32_t fw_ref_scores[FW_SAMPLES][BINEDGE_MODEL_CLASSES];
{gen}
#endif /* FW_TEST_INPUTS_H */
"""


def _test_inputs_c(images: np.ndarray, labels: np.ndarray | None, scores: np.ndarray,
                   gen_ids: np.ndarray | None = None, gen_scores: np.ndarray | None = None) -> str:
    n = len(images)
    flat = images.reshape(n, -1)
    parts = [f"/* test_inputs.c -- {n} test images, labels and reference scores (binedge {__version__}). */",
             '#include "test_inputs.h"', "",
             "const uint8_t fw_test_images[FW_SAMPLES][FW_INPUT_BYTES] = {"]
    for i in range(n):
        lab = "unknown" if labels is None else str(int(labels[i]))
        parts.append(f"    {{ /* {i}: label {lab} */")
        parts.append(_c_bytes(flat[i].tobytes(), indent="        ", per_line=28))
        parts.append("    },")
    parts.append("};")
    parts.append("")
    labs = [-1] * n if labels is None else [int(v) for v in labels]
    parts.append("const int16_t fw_test_labels[FW_SAMPLES] = {")
    for i in range(0, n, 20):
        parts.append("    " + ", ".join(str(v) for v in labs[i:i + 20]) + ",")
    parts.append("};")
    parts.append("")
    parts.append("const int32_t fw_ref_scores[FW_SAMPLES][BINEDGE_MODEL_CLASSES] = {")
    for i in range(n):
        parts.append("    {" + ", ".join(_c_int32(v) for v in scores[i]) + "},")
    parts.append("};")
    if gen_ids is not None and len(gen_ids):
        parts.append("")
        parts.append("const uint8_t fw_ref_gen_ids[FW_GENERATE] = {")
        for i in range(0, len(gen_ids), 20):
            parts.append("    " + ", ".join(str(int(v)) for v in gen_ids[i:i + 20]) + ",")
        parts.append("};")
        parts.append("")
        parts.append("const int32_t fw_ref_gen_scores[FW_GENERATE][BINEDGE_MODEL_CLASSES] = {")
        for row in gen_scores:
            parts.append("    {" + ", ".join(_c_int32(v) for v in row) + "},")
        parts.append("};")
    return "\n".join(parts) + "\n"


def _make_var(flags) -> str:
    return " ".join(flags)


def _operands(graph) -> int:
    """Entries of the blob's operand table: the values every op reads."""
    return sum(len(graph.op_inputs(i)) for i in range(len(graph.ops)))


# The kernel families of runtime_c/src/be_kernels.h, in the order of enum be_kernel_family
# (family f is KERNEL_FAMILIES[f - 1]); tests check the order against be_kernel_family_name.
KERNEL_FAMILIES = ("DENSE_BIN", "DENSE_U8", "DENSE_I8", "CONV2D_BIN", "CONV2D_U8", "CONV2D_I8",
                   "MAXPOOL2D_BIN", "MAXPOOL2D_I8", "FLATTEN", "RESHAPE", "AVGPOOL2D", "ADD",
                   "REQUANTIZE", "THRESHOLD", "CONCAT", "MERGE", "LSTM_BIN", "CONV2D_PLANES", "DENSE_PLANES")


def op_kernel_families(op, in_spec) -> frozenset[str]:
    """The kernel families whose kernels may compute ``op`` (its first input of type
    ``in_spec``): the C runtime's be_op_kernel_families, which dispatch obeys. Dense / Conv2d on
    bits: ``*_BIN``, and on 2 .. 8 unsigned bit-planes also ``CONV2D_PLANES`` / ``DENSE_PLANES``; on u8 codes: ``*_U8``, plus ``*_I8`` with int8 weights; on i8 codes:
    ``*_I8``; MaxPool2d on bits / on codes: ``MAXPOOL2D_BIN`` / ``MAXPOOL2D_I8``; LSTM:
    ``LSTM_BIN``; every other op the one family named by its type."""
    from . import graph as G

    if isinstance(op, (G.Dense, G.Conv2d)):
        stem = "DENSE" if isinstance(op, G.Dense) else "CONV2D"
        if in_spec.kind == "bits":
            if in_spec.encoding == "unsigned" and in_spec.planes >= 2:
                return frozenset({f"{stem}_BIN", f"{stem}_PLANES"})
            return frozenset({f"{stem}_BIN"})
        fams = {f"{stem}_U8"} if in_spec.kind == "u8" else set()
        if op.weight_kind == "int8" or in_spec.kind == "i8":
            fams.add(f"{stem}_I8")
        return frozenset(fams)
    if isinstance(op, G.MaxPool2d):
        return frozenset({"MAXPOOL2D_BIN" if in_spec.kind == "bits" else "MAXPOOL2D_I8"})
    if isinstance(op, G.LSTM):
        return frozenset({"LSTM_BIN"})
    return frozenset({type(op).__name__.upper()})


def kernel_families(graph) -> list[str]:
    """The kernel families ``graph`` needs, in KERNEL_FAMILIES order: what its firmware compiles
    (``-DBE_KERNEL_SUBSET -DBE_KEEP_<family>=1``; docs/firmware.md "Kernel subset")."""
    specs = graph.value_specs()
    used: set[str] = set()
    for i, op in enumerate(graph.ops):
        used |= op_kernel_families(op, specs[graph.op_inputs(i)[0]])
    unknown = used - set(KERNEL_FAMILIES)
    if unknown:
        raise FirmwareError(f"no kernel family for {sorted(unknown)} (binedge.firmware.KERNEL_FAMILIES)")
    return [f for f in KERNEL_FAMILIES if f in used]


def _makefile(t, *, max_ops: int, max_operands: int, board_srcs: list[str],
              kernels: list[str]) -> str:
    def sub(a: str) -> str:
        return a.replace("{common_dir}", "board").replace("{target_dir}", "board")

    cflags = [sub(a) for a in t.cflags]
    ldflags = [sub(a) for a in t.ldflags]
    cc = t.cc
    size = cc[: -len("gcc")] + "size" if cc.endswith("gcc") else "size"
    if t.is_mcu:
        cmd = [a for a in t.run_cmd if a != "{elf}"]
        ki = cmd.index("-kernel")
        qemu = " ".join(cmd[:ki]) + " -kernel $(ELF) " + " ".join(t.icount_args)
        run_rule = qemu
        run_hint = f"{cmd[0]} -M {t.machine} with -icount: ticks count instructions, not cycles"
    elif t.kind == "linux-user":
        run_rule = f"{t.run_cmd[0]} ./$(ELF)"
        run_hint = f"{t.run_cmd[0]} (user-mode emulation)"
    else:
        run_rule = "./$(ELF)"
        run_hint = "natively"
    text = (TEMPLATE_DIR / "Makefile.in").read_text()
    values = {"TARGET": t.name, "DESCRIPTION": t.description, "VERSION": __version__, "CC": cc, "SIZE": size,
              "CFLAGS": _make_var(cflags), "LDFLAGS": _make_var(ldflags), "TICK_HZ": str(t.tick_hz),
              "MAX_OPS": str(max_ops), "MAX_OPERANDS": str(max_operands), "BOARD_SRCS": " ".join(board_srcs),
              "KERNELS": " ".join(kernels),
              "RUN_RULE": run_rule,
              "RUN_HINT": run_hint}
    return _fill(text, values)


def _readme(t, manifest: dict) -> str:
    text = (TEMPLATE_DIR / "README.md.in").read_text()
    if t.is_mcu:
        runner = (f"`make run` starts it under `{t.run_cmd[0]} -M {t.machine}` with `-icount` (ticks then "
                  f"count executed instructions, not cycles); ")
        if t.kind == "mcu":
            runner += ("on a real board flash `firmware.elf` with your probe (e.g. `openocd`/`pyocd`) and read the "
                       "semihosting console.")
        else:
            runner += ("QEMU's virt board is not a real board: on a real Cortex-A system the board files "
                       "(`board/startup.c`, `board/board_virt.c`, `board/link.ld`) need that SoC's memory map, "
                       "cache maintenance before the MMU is enabled, and its console.")
    elif t.kind == "linux-user":
        runner = f"`make run` runs it under `{t.run_cmd[0]}` (user-mode emulation; ticks are emulated ns)."
    else:
        runner = "`make run` runs it natively (ticks are CLOCK_MONOTONIC ns)."
    values = {"TARGET": t.name, "DESCRIPTION": t.description, "VERSION": __version__, "CC": t.cc,
              "SAMPLES": str(manifest["samples"]), "BLOB_BYTES": f"{manifest['blob_bytes']:,}",
              "ARENA_BYTES": f"{manifest['arena_bytes']:,}", "OPS": str(manifest["ops"]),
              "CLASSES": str(manifest["classes"]), "INPUT": " x ".join(map(str, manifest["input_shape"])),
              "LOWER_BOUND": f"{manifest['bitpacked_lower_bound_bytes']:,}", "RUNNER": runner,
              "SOURCE": str(manifest.get("source") or "a binedge graph"),
              "CHARACTER_MODEL": "\0CHARACTER_MODEL\0"}
    # the seed text may hold anything (even "@NAME@"): put it in after the template check
    return _fill(text, values).replace("\0CHARACTER_MODEL\0", _readme_recurrent(manifest))


def _readme_recurrent(m: Mapping) -> str:
    if not m.get("recurrent"):
        return ""
    seed = m.get("seed_text")
    gen = m.get("generated_text")
    text = ("\n## A recurrent model\n\n"
            f"The model keeps LSTM state between `be_invoke` calls: one call is one time step, its input one "
            f"character id. The {m['samples']} test inputs are the steps of one seed sequence"
            + (f" ({json.dumps(seed, ensure_ascii=False)})" if seed is not None else "") +
            "; the harness calls `be_reset` before each pass over them (timing, misaligned input, profile), so "
            "every pass starts from the zero state. ")
    if m.get("generate"):
        text += (f"After the seed it generates {m['generate']} characters greedily (the argmax of the last scores, "
                 f"first maximum on ties, fed back as the next input), printing a `G <g> <id> <scores>` and a "
                 f"`GT <g> <ticks> <cycles>` line per step and checking them against the reference compiled into "
                 f"`test_inputs.c`")
        if gen is not None:
            text += f"; the reference generates {json.dumps(gen, ensure_ascii=False)}"
        text += ". "
    text += ("The `T` lines are the cost of one character. In your own firmware call `be_reset` to start a new "
             "sequence and never write the arena between steps.\n")
    return text


def _fill(text: str, values: Mapping[str, str]) -> str:
    for k, v in values.items():
        text = text.replace(f"@{k}@", v)
    left = sorted(set(re.findall(r"@[A-Z_]+@", text)))
    if left:
        raise FirmwareError(f"firmware template: no value for {', '.join(left)}")
    return text


# ----------------------------------------------------------------------------- the project


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def _copy_runtime(t, dst: Path) -> list[str]:
    """runtime_c/include and src: the core, the reference kernels and the variants of the
    target's ISA family. Every header is copied (the kernel table may include any of them; the
    declarations inside are guarded); of the .c files, an ISA folder's (src/x86, src/arm, ...)
    only for its own family; the host-only be_bench*.c never. Returns the src sub-folders whose
    .c files were copied."""
    family = _isa_family(t)
    for h in sorted((RUNTIME_DIR / "include").glob("*.h")):
        _copy(h, dst / "include" / h.name)
    src = RUNTIME_DIR / "src"
    kept = []
    for p in sorted(src.iterdir()):
        if p.is_file() and p.suffix in (".c", ".h") and not p.name.startswith("be_bench"):
            _copy(p, dst / "src" / p.name)
        elif p.is_dir():
            only_for = [fam for fam, names in _ISA_DIRS.items() if p.name.lower() in names]
            with_c = not only_for or family in only_for
            copied_c = False
            for q in sorted(p.iterdir()):
                if not q.is_file() or q.name.startswith("be_bench"):
                    continue
                if q.suffix == ".h" or (q.suffix == ".c" and with_c):
                    _copy(q, dst / "src" / p.name / q.name)
                    copied_c |= q.suffix == ".c"
            if copied_c:
                kept.append(p.name)
    return kept


def _copy_board(t, dst: Path) -> list[str]:
    from .targets import COMMON_DIR

    srcs = []
    seen: dict[str, Path] = {}
    for s in t.support_sources:
        if s.name in seen:
            raise FirmwareError(f"target {t.name}: two board sources named {s.name}")
        seen[s.name] = s
        _copy(s, dst / s.name)
        srcs.append(f"board/{s.name}")
    for h in sorted(COMMON_DIR.glob("*.h")):
        _copy(h, dst / h.name)
    if t.is_mcu:
        for ld in sorted(t.dir.glob("*.ld")) + sorted(COMMON_DIR.glob("*.ld")):
            if ld.name in seen:
                raise FirmwareError(f"target {t.name}: two board files named {ld.name}")
            seen[ld.name] = ld
            _copy(ld, dst / ld.name)
    return srcs


@dataclasses.dataclass(frozen=True)
class FirmwarePlan:
    """Everything a firmware directory is made of, validated (see plan_firmware)."""

    target: object
    graph: object
    images: np.ndarray
    labels: np.ndarray | None
    blob: bytes
    arena: int
    estimate: dict
    source: str | None
    generate: int = 0  # characters a recurrent character model generates after its seed (images)


def plan_firmware(graph, *, target, images, labels=None, source=None, generate: int = 0) -> FirmwarePlan:
    """Validate a firmware request without writing anything: the target name (TargetError
    listing the known ones), the graph (GraphError), the images and labels, ``generate`` (only
    a recurrent character model generates; its seed ids below its vocabulary), and that the
    model, the arena and the test inputs can fit the board's flash and RAM (FirmwareError)."""
    from .blob import arena_bytes, blob_bytes
    from .targets import get_target

    t = get_target(target)
    specs = graph.specs()
    images, labels = _check_inputs(graph, images, labels)
    generate = _check_generate(graph, images, generate)
    blob = blob_bytes(graph)
    arena = arena_bytes(graph)
    est = _fit_check(t, blob=len(blob), arena=arena, ops=len(graph.ops), samples=len(images),
                     input_bytes=int(np.prod(graph.input.shape)), classes=int(specs[-1].shape[0]),
                     operands=_operands(graph), generate=generate)
    return FirmwarePlan(t, graph, images, labels, blob, arena, est, None if source is None else str(source),
                        generate)


def stage_firmware(plan: FirmwarePlan, stage_dir) -> dict:
    """Write the project of a validated ``plan`` into ``stage_dir`` (created if needed; no
    atomicity: see write_firmware / committed_dir). Returns the manifest (stage_dir/firmware.json)."""
    from . import reference
    from .inspect import layer_table, totals

    from .blob import plan_arena

    t, graph, images, labels, blob, arena = plan.target, plan.graph, plan.images, plan.labels, plan.blob, plan.arena
    specs = graph.specs()
    ops = len(graph.ops)
    classes = int(specs[-1].shape[0])
    input_shape = [int(d) for d in graph.input.shape]
    input_bytes = int(np.prod(input_shape))
    scores = reference.run(graph, images)  # a recurrent graph: the time steps, from the zero state
    tot = totals(layer_table(graph))
    recurrent = graph.is_recurrent()
    gen_ids = gen_scores = None
    if plan.generate:
        from .lstm_deploy import generate

        gen_ids, _ = generate(graph, images, plan.generate)
        # the scores after every generated id (the firmware also runs the last one)
        steps = np.concatenate([images, gen_ids.reshape(-1, 1).astype(np.uint8)])
        gen_scores = reference.run(graph, steps)[len(images):]

    out = Path(stage_dir)
    out.mkdir(parents=True, exist_ok=True)
    runtime_dirs = _copy_runtime(t, out / "runtime")
    board_srcs = _copy_board(t, out / "board")
    _copy(TEMPLATE_DIR / "main.c", out / "main.c")
    shift = int(getattr(graph.ops[-1].output, "shift", 0))
    (out / "model.h").write_text(_model_h(blob=blob, arena=arena, ops=ops, classes=classes,
                                          input_shape=input_shape, shift=shift, class_names=graph.class_names,
                                          input_kind="int8" if graph.input.kind == "i8" else "uint8",
                                          recurrent=recurrent))
    (out / "model.c").write_text(_model_c(blob))
    (out / "model.bnm").write_bytes(blob)
    (out / "test_inputs.h").write_text(_test_inputs_h(len(images), input_bytes, plan.generate))
    (out / "test_inputs.c").write_text(_test_inputs_c(images, labels, scores, gen_ids, gen_scores))
    lab = labels if labels is not None else np.full(len(images), -1, dtype=np.int64)
    with open(out / "test_inputs.npz", "wb") as f:
        np.savez(f, images=images, labels=lab)
    kernels = kernel_families(graph)
    (out / "Makefile").write_text(_makefile(t, max_ops=max(ops, 1), max_operands=max(_operands(graph), 1),
                                            board_srcs=board_srcs, kernels=kernels))

    manifest = {
        "format": FORMAT, "version": FORMAT_VERSION, "binedge": __version__,
        "target": t.name, "kind": t.kind, "description": t.description, "source": plan.source,
        "samples": len(images), "labelled": labels is not None, "classes": classes,
        "class_names": [str(c) for c in graph.class_names], "input_shape": input_shape,
        "input_bytes": input_bytes, "ops": ops, "max_ops": max(ops, 1), "arena_bytes": arena,
        "arena_lower_bound_bytes": plan_arena(graph).lower_bound,
        "blob_bytes": len(blob), "blob_crc32": zlib.crc32(blob) & 0xFFFFFFFF,
        "inputs_crc32": zlib.crc32(images.tobytes()) & 0xFFFFFFFF,
        "params": int(tot["params"]), "binary_macs": int(tot["binary_macs"]),
        "bitpacked_lower_bound_bytes": int(tot["params"]) // 8,
        "test_input_bytes": plan.estimate["test_input_bytes"], "runtime_isa_dirs": runtime_dirs,
        "kernel_families": kernels,
        "reference_accuracy": None if labels is None else float((scores.argmax(1) == labels).mean()),
        "recurrent": recurrent, "generate": plan.generate,
        "files": {},  # path -> sha256, filled in when the directory is committed
    }
    if recurrent and graph.class_names:
        manifest["seed_text"] = decode_ids(graph.class_names, images.reshape(-1))
        if gen_ids is not None:
            manifest["generated_text"] = decode_ids(graph.class_names, gen_ids)
    (out / "README.md").write_text(_readme(t, manifest))
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def write_firmware(graph, out_dir, *, target, images, labels=None, source=None, generate: int = 0) -> dict:
    """Write a self-contained firmware project for ``graph`` on ``target`` into ``out_dir``.

    ``images``: uint8 test images (N,) + graph.input.shape (N >= 1; they go to flash:
    input bytes each); ``labels``: their classes or None. A recurrent graph runs the images as
    N successive time steps from the zero state; a character model's (binedge.lstm_deploy)
    images are a seed text's ids (N, 1), its labels the next characters, and ``generate`` > 0
    makes the firmware generate that many characters greedily after the seed (FirmwareError
    for any other graph; docs/firmware.md "Character models"). Validates everything first (target
    name, graph, images, labels, fit in the board's flash and RAM, that ``out_dir`` is absent,
    empty or a previous firmware directory) and raises TargetError / FirmwareError /
    GraphError before anything is written; then writes the directory as a whole (temporary
    folder beside it, renamed into place). Returns the manifest (fw/firmware.json).
    """
    plan = plan_firmware(graph, target=target, images=images, labels=labels, source=source, generate=generate)
    check_out_dir(out_dir)
    with committed_dir(out_dir) as stage:
        stage_firmware(plan, stage)
    return read_manifest(out_dir)


def decode_ids(class_names, ids) -> str:
    """The text of character ids: each id's class name (id 0 is "<unk>" in a binedge vocabulary);
    ids without a name as <id>."""
    names = [str(c) for c in class_names]
    return "".join(names[int(i)] if 0 <= int(i) < len(names) else f"<{int(i)}>" for i in ids)


def manifest_summary(m: Mapping) -> str:
    gen = f", {m['generate']} generated characters" if m.get("generate") else ""
    return (f"firmware for {m['target']}: {m['samples']} test inputs{gen}, blob {m['blob_bytes']:,} B, "
            f"arena {m['arena_bytes']:,} B, {m['ops']} ops")
