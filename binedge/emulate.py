"""``binedge emulate FW_DIR``: build a firmware project, run it on its target, check it bit-exactly.

    from binedge.emulate import emulate, format_report
    result = emulate("fw")             # dict, also written to fw/emulate.json
    print(format_report(result))

Steps: ``make -C fw`` (incremental), run the ELF with ``binedge.targets.run`` (Cortex-M:
qemu-system-arm with ``-icount`` by default, so board ticks count executed instructions),
parse the harness output (targets/common/fw/main.c, docs/firmware.md), compare every score
with ``binedge.reference.run(read_blob(fw/model.bnm), images)`` and report accuracy,
agreement, flash / RAM use and instructions per inference and per layer. A recurrent character
model (docs/firmware.md "Character models"): the test inputs are one seed sequence run from the
zero state, the ``G`` lines of the generated characters are compared, id and every score, with
``binedge.lstm_deploy.generate``, and the report gives the generated text and the instructions
per character.

Instruction counts come from QEMU's ``-icount`` (a fixed virtual time per executed
instruction): they are **instructions, not cycles**, and say so wherever they are shown.

Before running, the ELF is checked (binedge.targets.check_elf): a truncated or corrupt one is an
EmulateError naming it and the command that rebuilds it; when the program or QEMU dies, the
error says why in one line (death_reason: QEMU's message, not its register dump). A firmware
directory that a killed export left missing is first restored from its complete copy
(binedge.fileio.recover_dir); emulate.json is written atomically (binedge.fileio's output rule).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import zlib
from pathlib import Path

import numpy as np

__all__ = [
    "INSTRUCTIONS_LABEL",
    "EmulateError",
    "MismatchError",
    "build_firmware",
    "death_reason",
    "emulate",
    "format_report",
    "parse_output",
]

INSTRUCTIONS_LABEL = "instructions (QEMU -icount), not cycles"
RESULT_FILE = "emulate.json"


class EmulateError(RuntimeError):
    """The firmware could not be built or run, or its output is not what the harness prints."""


class MismatchError(EmulateError):
    """The firmware's scores differ from the reference executor's (``result`` has the details)."""

    def __init__(self, message: str, result: dict):
        self.result = result
        super().__init__(message)


# ----------------------------------------------------------------------------- build


def _elf_name(samples: int, kernel: str | None) -> str:
    config = f"n{samples}" + (f"-k{kernel}" if kernel else "")
    return "firmware.elf" if config == "n0" else f"firmware-{config}.elf"


def make_command(fw_dir, *, samples: int = 0, kernel: str | None = None) -> str:
    """The ``make`` line that builds the ELF of this configuration (for messages)."""
    extra = (f" SAMPLES={samples} ELF={_elf_name(samples, kernel)}" if samples or kernel else "") + \
        (f" KERNEL={kernel}" if kernel else "")
    return f"make -C {fw_dir}{extra}"


def build_firmware(fw_dir, *, samples: int = 0, kernel: str | None = None, jobs: int = 2) -> Path:
    """``make -C fw_dir`` (with SAMPLES / KERNEL when given); returns the ELF path."""
    fw = Path(fw_dir)
    make = shutil.which("make")
    if make is None:
        raise EmulateError("`make` is not installed (apt-get install make)")
    elf = _elf_name(samples, kernel)
    cmd = [make, "-C", str(fw), f"-j{jobs}", f"SAMPLES={samples}", f"ELF={elf}"]
    if kernel:
        cmd.append(f"KERNEL={kernel}")
    r = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if r.returncode != 0:
        tail = "\n".join((r.stdout + r.stderr).strip().splitlines()[-30:])
        raise EmulateError(f"building {fw} failed ({' '.join(cmd)}):\n{tail}")
    return fw / elf


# ----------------------------------------------------------------------------- output parsing

_KV = re.compile(r"(\w+)=(\S+)")


def _kv(line: str) -> dict:
    return dict(_KV.findall(line))


def parse_output(text: str) -> dict:
    """The records of the harness output (see targets/common/fw/main.c) as a dict:
    header (dict), kernels [(op, variant, name)], scores {i: [..]}, ticks {i: (ticks, cycles)},
    profile (dict), layers {op: (ticks, cycles)}, summary (dict), errors [str]; a recurrent
    model's generated steps: generated {g: (id, [scores])}, generate_ticks {g: (ticks, cycles)}."""
    out: dict = {"header": None, "kernels": [], "scores": {}, "ticks": {}, "profile": None, "layers": {},
                 "summary": None, "errors": [], "generated": {}, "generate_ticks": {}}
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        tag, _, rest = line.partition(" ")
        parts = rest.split()
        try:
            if tag == "BINEDGE-FW":
                out["header"] = _kv(rest)
            elif tag == "K":
                out["kernels"].append((int(parts[0]), parts[1], parts[2] if len(parts) > 2 else "-"))
            elif tag == "S":
                out["scores"][int(parts[0])] = [int(v) for v in parts[1:]]
            elif tag == "T":
                out["ticks"][int(parts[0])] = (int(parts[1]), int(parts[2]))
            elif tag == "G":
                if len(parts) < 3:
                    raise ValueError(raw)
                out["generated"][int(parts[0])] = (int(parts[1]), [int(v) for v in parts[2:]])
            elif tag == "GT":
                out["generate_ticks"][int(parts[0])] = (int(parts[1]), int(parts[2]))
            elif tag == "P":
                out["profile"] = {k: int(v) for k, v in _kv(rest).items()}
            elif tag == "L":
                out["layers"][int(parts[0])] = (int(parts[1]), int(parts[2]))
            elif tag == "Z":
                out["summary"] = _kv(rest)
            elif tag == "E":
                out["errors"].append(rest)
        except (ValueError, IndexError):
            raise EmulateError(f"cannot parse the firmware's output line {raw!r}") from None
    return out


# ----------------------------------------------------------------------------- emulate


# A CPU register dump line (QEMU's "R00=00000000 R01=...", "XPSR=40000003 -Z-- A handler",
# "FPSCR: 00000000"): nothing a reader can act on.
_REGISTER_LINE = re.compile(r"^\s*[A-Za-z][A-Za-z0-9_]{0,7}\s*[=:]\s*[0-9a-fA-F]{4,}\b")


def death_reason(stdout: str, stderr: str, *, lines: int = 3) -> str:
    """Why a program (or its emulator) died, in one line: the first meaningful lines of the
    emulator's stderr (e.g. "qemu: fatal: Lockup: ..."), register dumps left out; else the last
    lines the program printed itself."""
    def meaningful(text: str) -> list[str]:
        return [ln.strip() for ln in text.splitlines() if ln.strip() and not _REGISTER_LINE.match(ln)]

    picked = meaningful(stderr)[:lines] or meaningful(stdout)[-lines:]
    return "; ".join(picked) if picked else "no output"


def _died(elf: Path, t, res, fix: str) -> str:
    import signal

    if res.returncode < 0:
        try:
            how = f"was killed by {signal.Signals(-res.returncode).name}"
        except ValueError:
            how = f"was killed by signal {-res.returncode}"
    elif res.faulted:
        how = "took a fault"
    else:
        how = f"exited with status {res.returncode}"
    reason = death_reason(res.stdout, res.stderr)
    hint = ""
    if res.returncode < 0 or "qemu" in res.stderr.lower():
        # the emulator itself gave up (a lockup, an unloadable image): the ELF is not a sound
        # program for this board
        hint = f" (the ELF does not run on {t.name}: {fix})"
    return f"{elf.name} on {t.name} {how}: {reason}{hint}"


def emulate(fw_dir, *, samples: int | None = None, icount: bool | None = None, kernel: str | None = None,
            timeout: float = 900, build: bool = True) -> dict:
    """Build (unless ``build=False``), run and check the firmware in ``fw_dir``.

    ``samples``: run only the first ``samples`` test inputs (default: all that were exported);
    ``icount``: QEMU's deterministic instruction counting (default: on for Cortex-M targets,
    which is the only place it exists); ``kernel``: force a kernel variant ("ref").
    Returns the result dict, also written to ``fw_dir/emulate.json``. Raises MismatchError
    (after writing the file) if any score differs from the reference executor's.
    """
    from . import fileio, reference, targets
    from .blob import read_blob
    from .fileio import atomic_write_json
    from .firmware import FirmwareError, read_manifest
    from .inspect import layer_table

    fw = Path(fw_dir)
    if not fw.exists():
        fileio.recover_dir(fw)  # a firmware export killed between its two renames
        if not fw.exists():
            raise FirmwareError(f"{fw} does not exist: make it with `binedge export RUN_DIR --target TARGET -o {fw}`")
    m = read_manifest(fw)
    t = targets.get_target(m["target"])
    total = int(m["samples"])
    if samples is None:
        n = total
    else:
        if samples < 1 or samples > total:
            raise FirmwareError(f"--samples must lie in [1, {total}]: this firmware holds {total} test inputs "
                                f"(re-export with --samples to change that)")
        n = int(samples)
    if icount is None:
        icount = bool(t.icount_args)
    elif icount and not t.icount_args:
        raise targets.TargetError(f"target {t.name} ({t.kind}) has no deterministic instruction count "
                                  f"(-icount exists for the bare-metal targets under qemu-system-arm / "
                                  f"qemu-system-aarch64 only); "
                                  f"use --no-icount")
    blob_path = fw / "model.bnm"
    graph = read_blob(blob_path)
    blob = blob_path.read_bytes()
    with np.load(fw / "test_inputs.npz") as z:
        images, labels = z["images"][:n], z["labels"][:n]

    targets.check_tools(t, build=build, run=True)  # a missing compiler / QEMU names its Debian package
    t_build = time.monotonic()
    if build:
        elf = build_firmware(fw, samples=0 if n == total else n, kernel=kernel)
    else:
        elf = fw / _elf_name(0 if n == total else n, kernel)
        if not elf.is_file():
            raise EmulateError(f"{elf} does not exist: build it with `make -C {fw}`")
    build_seconds = time.monotonic() - t_build

    # make does not rebuild an ELF that is newer than its sources, however damaged it is
    fix = f"delete it and rebuild: rm {elf} && {make_command(fw, samples=0 if n == total else n, kernel=kernel)}"
    try:
        targets.check_elf(elf)
    except targets.ElfError as e:
        raise EmulateError(f"{e}; {fix}") from None
    try:
        res = targets.run(t, elf, icount=icount, timeout=timeout)
    except OSError as e:  # a hosted target's ELF the kernel will not execute
        raise EmulateError(f"cannot run {elf}: {e.strerror or e}; {fix}") from None
    out = parse_output(res.stdout)
    if res.returncode != 0 and not out["scores"]:
        raise EmulateError(_died(elf, t, res, fix))
    if out["errors"]:
        raise EmulateError(f"{elf.name} on {t.name}: runtime error: {out['errors'][0]}")
    h, z = out["header"], out["summary"]
    if h is None or z is None:
        if res.returncode != 0:
            raise EmulateError(_died(elf, t, res, fix) + " before its report was complete")
        raise EmulateError(f"{elf.name} on {t.name} printed no complete report: last lines: "
                           f"{death_reason(res.stdout, '')}")

    # the firmware must be running this directory's model and inputs
    if int(h["blob_crc"], 16) != zlib.crc32(blob) & 0xFFFFFFFF or int(h["blob_bytes"]) != len(blob):
        raise EmulateError(f"{fw}: the model compiled into {elf.name} (model.c) is not model.bnm: "
                           f"re-export the firmware (`binedge export --target`)")
    if int(h["inputs_crc"], 16) != zlib.crc32(np.ascontiguousarray(images).tobytes()) & 0xFFFFFFFF:
        raise EmulateError(f"{fw}: the test images in {elf.name} (test_inputs.c) are not test_inputs.npz: "
                           f"re-export the firmware")
    if int(h["samples"]) != n or sorted(out["scores"]) != list(range(n)):
        raise EmulateError(f"{elf.name} printed scores for {len(out['scores'])} of {n} inputs")

    got = np.array([out["scores"][i] for i in range(n)], dtype=np.int64)
    expected = reference.run(graph, images).astype(np.int64)
    if got.shape != expected.shape:
        raise EmulateError(f"{elf.name} printed {got.shape[1]} scores per input, the model has {expected.shape[1]}")
    diff = np.argwhere(got != expected)
    mismatched = sorted({int(i) for i, _ in diff})
    first = None
    if len(diff):
        i, j = (int(v) for v in diff[0])
        first = {"sample": i, "class": j, "expected": int(expected[i, j]), "got": int(got[i, j]),
                 "expected_scores": expected[i].tolist(), "got_scores": got[i].tolist()}

    labelled = labels >= 0
    preds = got.argmax(1)
    accuracy = float((preds[labelled] == labels[labelled]).mean()) if labelled.any() else None

    # memory
    sz = targets.size(t, elf)
    test_bytes = int(m["test_input_bytes"]) if "test_input_bytes" in m else 0
    memory = {
        "text": sz["text"], "rodata": sz["rodata"], "data": sz["data"], "bss": sz["bss"],
        "flash": sz["flash"], "ram_static": sz["data"] + sz["bss"], "stack_reserved": sz["stack"],
        "ram": sz["ram"], "blob_bytes": len(blob), "test_input_bytes": test_bytes,
        "flash_without_test_inputs": sz["flash"] - test_bytes,
        "bitpacked_lower_bound_bytes": int(m["bitpacked_lower_bound_bytes"]),
        "arena_bytes": int(h["arena"]), "arena_lower_bound_bytes": int(m.get("arena_lower_bound_bytes", h["arena"])),
        "model_struct_bytes": int(h["model_struct"]),
        "interpreter_struct_bytes": int(h["interp_struct"]),
        "stack_used": int(z["stack_used"]) if t.is_mcu else None,
        "stack_used_inference": int(z["stack_used_inference"]) if t.is_mcu else None,
    }
    for k in ("flash_size", "ram_size"):
        if k in sz:
            memory[k] = sz[k]

    # time
    ticks = np.array([out["ticks"][i][0] for i in range(n)], dtype=np.float64)
    if t.is_mcu and icount:
        unit = INSTRUCTIONS_LABEL
        conv = lambda v: float(targets.instructions_from_ticks(t, v))
    elif t.is_mcu:
        unit = ("board ticks (SysTick / generic timer) without -icount (host time, noisy): not instructions, "
                "not cycles")
        conv = float
    elif t.kind == "linux-user":
        unit = f"ns of emulated wall-clock time under {t.run_cmd[0]} (noisy; not instructions, not cycles)"
        conv = float
    else:
        unit = "ns of host wall-clock time (CLOCK_MONOTONIC)"
        conv = float
    per_inf = [conv(v) for v in ticks]
    per_inference = {"mean": float(np.mean(per_inf)), "min": float(np.min(per_inf)), "max": float(np.max(per_inf)),
                     "ticks_mean": float(ticks.mean()), "tick_hz": int(z["tick_hz"])}
    recurrent = graph.is_recurrent()
    generation = _check_generation(graph, images, out, int(m.get("generate", 0)), conv, elf.name) if recurrent else None

    rows = layer_table(graph)
    kernels = {k[0]: (k[1], k[2]) for k in out["kernels"]}
    prof = out["profile"] or {}
    np_ = int(prof.get("samples", 0))
    overhead = int(prof.get("hook_overhead_ticks", 0))
    layers = []
    for idx, row in enumerate(rows):
        entry = {"index": idx, "name": row["name"], "op": row["op"], "kernel": kernels.get(idx, ("?",))[0],
                 "binary_macs": int(row["binary_macs"]), "macs": int(row["macs"])}
        if idx in out["layers"] and np_ > 0:
            raw = out["layers"][idx][0]
            per = max(raw - np_ * overhead, 0) / np_
            entry["ticks"] = per
            entry["value"] = conv(per)
            if row["binary_macs"] and t.is_mcu and icount:
                entry["instructions_per_binary_mac"] = entry["value"] / row["binary_macs"]
        layers.append(entry)

    result = {
        "firmware": str(fw), "target": t.name, "kind": t.kind, "elf": str(elf), "samples": n,
        "icount": bool(icount), "kernel": kernel or "auto",
        "accuracy": accuracy, "labelled": int(labelled.sum()),
        "agreement": float(1.0 - len(mismatched) / n), "mismatched_samples": len(mismatched),
        "first_mismatch": first, "scores_equal_reference": not len(diff),
        "recurrent": recurrent,
        "firmware_selfcheck_mismatches": int(z.get("selfcheck_mismatches", -1)),
        # the harness runs every input again from an odd address (binedge.h allows any)
        "misaligned_input_mismatches": int(z.get("misaligned_input_mismatches", -1)),
        "exit_status": res.returncode,
        "memory": memory,
        "unit": unit,
        "per_inference": per_inference,
        "layers": layers,
        "total_binary_macs": int(sum(r["binary_macs"] for r in rows)),
        "build_seconds": round(build_seconds, 3), "run_seconds": round(res.seconds, 3),
        "command": list(res.cmd),
    }
    if generation is not None:
        result["generation"] = generation
        result["firmware_generate_mismatches"] = int(z.get("generate_mismatches", -1))
        # one invoke is one character: the median of the seed pass (T lines) and of the generated steps
        result["per_character"] = {"seed_median": float(np.median(per_inf)),
                                   "generate_median": generation.pop("_median"), "unit": unit}
        if t.is_mcu and icount:
            result["instructions_per_character"] = result["per_character"]["seed_median"]
            result["instructions_per_generated_character"] = result["per_character"]["generate_median"]
    if t.is_mcu and icount:
        result["instructions_per_inference"] = per_inference["mean"]
        if result["total_binary_macs"]:
            result["instructions_per_binary_mac"] = per_inference["mean"] / result["total_binary_macs"]
    atomic_write_json(fw / RESULT_FILE, result)
    if first is not None:
        what, one = ("seed steps (from the zero state)", "seed step") if recurrent else ("inputs", "input")
        raise MismatchError(
            f"{len(mismatched)} of {n} {what} differ from the reference executor; first: {one} {first['sample']} "
            f"class {first['class']}: firmware {first['got']}, reference {first['expected']}\n"
            f"  firmware  {first['got_scores']}\n  reference {first['expected_scores']}", result)
    if generation is not None and generation["first_mismatch"] is not None:
        g = generation["first_mismatch"]
        if g["class"] is None:
            detail = (f"firmware generated id {g['got_id']} {g['got_char']!r}, reference id {g['expected_id']} "
                      f"{g['expected_char']!r}")
        else:
            detail = (f"id {g['got_id']} {g['got_char']!r}, class {g['class']}: firmware {g['got']}, reference "
                      f"{g['expected']}\n  firmware  {g['got_scores']}\n  reference {g['expected_scores']}")
        raise MismatchError(f"{generation['mismatched_steps']} of {generation['steps']} generated steps differ from "
                            f"binedge.lstm_deploy.generate; first: generation step {g['step']}: {detail}", result)
    if result["misaligned_input_mismatches"] > 0:
        raise MismatchError(f"{result['misaligned_input_mismatches']} of {n} inputs gave other scores when read "
                            f"from an odd address (binedge.h allows any input address): a kernel bug, please "
                            f"report it", result)
    if res.returncode != 0:
        raise EmulateError(f"{elf.name} on {t.name} exited with status {res.returncode} although its scores are "
                           f"right: {death_reason(res.stdout, res.stderr)}")
    return result


def _check_generation(graph, seed: np.ndarray, out: dict, count: int, conv, elf_name: str) -> dict:
    """Compare the firmware's generated steps (G lines) with binedge.lstm_deploy.generate from the
    same seed: every id and every score after it (the reference scores come from running the
    seed and the reference's ids from the zero state)."""
    from . import reference
    from .firmware import decode_ids
    from .lstm_deploy import generate

    if sorted(out["generated"]) != list(range(count)) or sorted(out["generate_ticks"]) != list(range(count)):
        raise EmulateError(f"{elf_name} printed {len(out['generated'])} of the {count} generated steps of its "
                           f"manifest (firmware.json \"generate\")")
    names = [str(c) for c in graph.class_names]

    def char(i: int) -> str:
        return names[i] if 0 <= i < len(names) else f"<{i}>"

    got_ids = np.array([out["generated"][g][0] for g in range(count)], dtype=np.int64)
    first, mismatched, exp_ids = None, set(), np.zeros(0, np.int64)
    if count:
        exp_ids, _ = generate(graph, seed, count)
        exp = reference.run(graph, np.concatenate([seed.reshape(-1, 1), exp_ids.reshape(-1, 1)]).astype(np.uint8))
        exp = exp[len(seed):].astype(np.int64)
        for g in range(count):
            gid, sc = out["generated"][g]
            if len(sc) != exp.shape[1]:
                raise EmulateError(f"{elf_name} printed {len(sc)} scores for generated step {g}, the model has "
                                   f"{exp.shape[1]}")
            bad_id = gid != exp_ids[g]
            bad = np.flatnonzero(np.asarray(sc, np.int64) != exp[g])
            if bad_id or len(bad):
                mismatched.add(g)
                if first is None:
                    j = None if bad_id else int(bad[0])
                    first = {"step": g, "got_id": int(gid), "expected_id": int(exp_ids[g]),
                             "got_char": char(int(gid)), "expected_char": char(int(exp_ids[g])), "class": j,
                             "got": None if j is None else int(sc[j]),
                             "expected": None if j is None else int(exp[g, j]),
                             "got_scores": list(sc), "expected_scores": exp[g].tolist()}
    gen_ticks = [conv(out["generate_ticks"][g][0]) for g in range(count)]
    return {"steps": count,
            "seed_text": decode_ids(names, seed.reshape(-1)) if names else None,
            "text": decode_ids(names, got_ids) if names else None,
            "expected_text": decode_ids(names, exp_ids) if names else None,
            "ids": got_ids.tolist(), "expected_ids": exp_ids.tolist(),
            "equal_reference": first is None, "mismatched_steps": len(mismatched), "first_mismatch": first,
            "_median": float(np.median(gen_ticks)) if gen_ticks else None}


# ----------------------------------------------------------------------------- report


def _b(v) -> str:
    return f"{int(v):,} B"


def format_report(r: dict) -> str:
    from . import targets

    mem, pi = r["memory"], r["per_inference"]
    icount = r["icount"] and r["kind"] in targets.SYSTEM_KINDS
    gen = r.get("generation")
    if r.get("recurrent"):
        lines = [f"{r['firmware']}: {r['target']} ({r['kind']}), recurrent model: a seed of {r['samples']} steps "
                 f"from the zero state, kernels {r['kernel']}"]
    else:
        lines = [f"{r['firmware']}: {r['target']} ({r['kind']}), {r['samples']} test inputs, kernels {r['kernel']}"]
    acc = "n/a (no labels)" if r["accuracy"] is None else f"{100 * r['accuracy']:.2f}% ({r['labelled']} labelled)"
    lines.append(("next-character accuracy       " if r.get("recurrent") else "accuracy on these inputs      ") + acc)
    lines.append(f"agreement with the reference  {100 * r['agreement']:.2f}% "
                 f"({'scores bit-exact' if r['scores_equal_reference'] else 'MISMATCH'})")
    if gen is not None:
        if gen["seed_text"] is not None:
            lines.append(f"seed                          {json.dumps(gen['seed_text'], ensure_ascii=False)}")
        if gen["steps"]:
            same = ("ids and scores bit-exact" if gen["equal_reference"]
                    else f"{gen['mismatched_steps']} steps MISMATCH")
            text = (json.dumps(gen["text"], ensure_ascii=False) if gen["text"] is not None
                    else " ".join(str(i) for i in gen["ids"]))
            head = f"generated ({gen['steps']} steps)"
            lines.append(f"{head:<30}{text} ({same})")
    if r.get("misaligned_input_mismatches", -1) >= 0:
        lines.append("inputs at odd addresses       " + ("same scores" if r["misaligned_input_mismatches"] == 0 else
                                                        f"{r['misaligned_input_mismatches']} MISMATCHES"))
    flash_size = f" of {mem['flash_size'] // 1024} KiB" if "flash_size" in mem else ""
    image = ("flash" if r["kind"] == "mcu" else "image (read-only part, in RAM: no flash on this board)"
             if r["kind"] in targets.SYSTEM_KINDS else "image (no flash on this target)")
    lines.append(f"{image} {_b(mem['flash'])}{flash_size}: text {_b(mem['text'])}, rodata {_b(mem['rodata'])}, "
                 f"data {_b(mem['data'])}")
    lines.append(f"  model blob {_b(mem['blob_bytes'])} (bit-packed lower bound {_b(mem['bitpacked_lower_bound_bytes'])}); "
                 f"test inputs {_b(mem['test_input_bytes'])}; without them {_b(mem['flash_without_test_inputs'])}")
    ram_size = f" of {mem['ram_size'] // 1024} KiB" if "ram_size" in mem else ""
    stack = ""
    if mem["stack_used"] is not None:
        stack = (f"; stack high-water {_b(mem['stack_used'])} of {_b(mem['stack_reserved'])} reserved "
                 f"(init + inference alone: {_b(mem['stack_used_inference'])})")
    lines.append(f"RAM {_b(mem['ram'])}{ram_size}: data {_b(mem['data'])}, bss {_b(mem['bss'])} (arena "
                 f"{_b(mem['arena_bytes'])}, lower bound {_b(mem.get('arena_lower_bound_bytes', mem['arena_bytes']))}; "
                 f"be_model {_b(mem['model_struct_bytes'])}, be_interpreter "
                 f"{_b(mem['interpreter_struct_bytes'])}){stack}")
    if icount:
        lines.append(f"per inference: {pi['mean']:,.0f} {INSTRUCTIONS_LABEL} "
                     f"(min {pi['min']:,.0f}, max {pi['max']:,.0f})")
        if r.get("instructions_per_binary_mac"):
            lines.append(f"  {r['instructions_per_binary_mac']:.3f} instructions per binary MAC over the whole "
                         f"inference ({r['total_binary_macs']:,} binary MACs; per layer below)")
    else:
        lines.append(f"per inference: {pi['mean']:,.0f} {r['unit']}")
    if gen is not None:
        pc = r["per_character"]
        per = f"{pc['seed_median']:,.0f}"
        if pc["generate_median"] is not None:
            per += f" (median of the seed pass; of the generated steps {pc['generate_median']:,.0f})"
        lines.append(f"per character: {per} " + (INSTRUCTIONS_LABEL if icount else r["unit"]))
    unit = "instructions" if icount else "time"
    head = ["op", "layer", "kind", "kernel", unit, "share", "binary MACs", "instr/bMAC" if icount else ""]
    body = []
    tot = sum(layer.get("value", 0.0) for layer in r["layers"]) or 1.0
    for layer in r["layers"]:
        v = layer.get("value")
        ipm = layer.get("instructions_per_binary_mac")
        body.append([str(layer["index"]), layer["name"], layer["op"], layer["kernel"],
                     "-" if v is None else f"{v:,.0f}", "-" if v is None else f"{100 * v / tot:.1f}%",
                     f"{layer['binary_macs']:,}" if layer["binary_macs"] else "-",
                     f"{ipm:.3f}" if ipm is not None else ""])
    widths = [max(len(c) for c in col) for col in zip(head, *body)]
    lines.append("per layer (" + (INSTRUCTIONS_LABEL if icount else r["unit"]) + ", hook overhead removed):")
    for row in [head, *body]:
        lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    lines.append(f"build {r['build_seconds']:.1f} s, run {r['run_seconds']:.1f} s; {Path(r['firmware']) / RESULT_FILE}")
    return "\n".join(lines)
