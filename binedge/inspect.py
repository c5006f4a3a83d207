"""Per-op summary of a deployment graph (a typed DAG, docs/graph.md): op, inputs, shapes and types,
parameter bytes, MACs, activations, the arena against its lower bound, a Graphviz drawing; and
what ``binedge inspect`` reads (a .bnm blob, an export or firmware directory, a run directory)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .graph import (LSTM, AccStage, AvgPool2d, Conv2d, Dense, Graph, Merge, RequantStage, RoundStage, ScoreStage, Threshold,
                    ThresholdStage, TensorSpec)

ONNX_SLACK_BYTES = 16 * 1024


def _stage_bytes(stage) -> int:
    if isinstance(stage, ThresholdStage):
        return stage.thresholds.nbytes + stage.direction.nbytes
    if isinstance(stage, ScoreStage):
        return stage.multiplier.nbytes + stage.offset.nbytes
    if isinstance(stage, RequantStage):
        return stage.multiplier.nbytes + stage.bias.nbytes + stage.shift.nbytes
    if isinstance(stage, RoundStage):
        return stage.shift.nbytes
    if isinstance(stage, Merge):  # its multipliers and bias, then its own output stage
        return stage.multipliers_a.nbytes + stage.multipliers_b.nbytes + stage.bias.nbytes + _stage_bytes(stage.output)
    return 0


def type_label(spec: TensorSpec) -> str:
    """A value's type in a few characters: u8, i8 (zp -3), bits sign, bits unsigned x2, i32."""
    if spec.kind == "bits":
        return "bits " + (spec.encoding if spec.encoding == "sign" else f"unsigned x{spec.planes}")
    if spec.kind in ("u8", "i8"):
        return spec.kind + (f" zp {spec.zero_point}" if spec.zero_point else "")
    if spec.encoding == "acc":
        return "i32 acc"
    return spec.kind


def _stage_label(stage) -> str:
    return {ThresholdStage: "thresholds", ScoreStage: "scores", RequantStage: "requant", AccStage: "acc",
            RoundStage: "round"}[type(stage)]


def layer_table(graph: Graph) -> list[dict]:
    """One row per op: name, op (with weight kind, input type and output stage), inputs, input /
    output shapes and types, parameters, weight and stage bytes, MACs (binary ones apart),
    output bytes."""
    specs = graph.value_specs()
    names = graph.value_names()
    rows = []
    for i, op in enumerate(graph.ops):
        ins = graph.op_inputs(i)
        src, dst = specs[ins[0]], specs[names[i + 1]]
        weight_bytes = int(op.weights.nbytes) if isinstance(op, (Dense, Conv2d)) else 0
        if isinstance(op, LSTM):  # gate matrices (bits) and the per-gate constants, biases, shifts
            weight_bytes = int(op.recurrent.nbytes + op.input_weights.nbytes)
        stage = (op.output if isinstance(op, (Dense, Conv2d)) else op.stage if isinstance(op, Threshold)
                 else op if isinstance(op, Merge) else None)
        stage_bytes = _stage_bytes(stage) if stage is not None else 0
        if isinstance(op, Dense):
            params = macs = op.in_features * op.out_features
        elif isinstance(op, Conv2d):
            kh, kw = op.kernel
            params = op.out_channels * kh * kw * (op.in_channels // op.groups)
            macs = int(np.prod(dst.shape[:2])) * params
        elif isinstance(op, AvgPool2d):
            params, macs = 0, int(np.prod(dst.shape)) * op.kernel[0] * op.kernel[1]
        elif isinstance(op, LSTM):  # a character input picks one column: no MACs on the input side
            params = 4 * op.hidden * (op.hidden + op.in_features)
            macs = 4 * op.hidden * (op.hidden + (0 if src.kind == "u8" else op.in_features))
            stage_bytes = int(op.multipliers.nbytes + op.bias.nbytes + op.shifts.nbytes)
        else:
            macs = params = 0
        kind = type(op).__name__
        if isinstance(op, Merge):
            kind += f" [{type_label(src)} + {type_label(specs[ins[1]])} -> {_stage_label(op.output)}]"
        if isinstance(op, LSTM):
            kind += f" [binary w, {'character id' if src.kind == 'u8' else type_label(src)} in, state h+c]"
        if isinstance(op, (Dense, Conv2d)):
            groups = f", groups {op.groups}" if getattr(op, "groups", 1) > 1 else ""
            kind += f" [{op.weight_kind} w, {type_label(src)} in{groups} -> {_stage_label(op.output)}]"
        rows.append({"name": names[i + 1], "op": kind, "inputs": list(ins), "in": src.shape, "out": dst.shape,
                     "in_type": type_label(src), "out_type": type_label(dst), "params": params,
                     "weight_bytes": weight_bytes, "threshold_bytes": stage_bytes, "macs": macs,
                     "binary_macs": macs if isinstance(op, LSTM) or getattr(op, "weight_kind", "") == "binary" else 0,
                     "activation_bytes": dst.nbytes()})
    return rows


def totals(rows: list[dict]) -> dict:
    keys = ("params", "weight_bytes", "threshold_bytes", "macs", "binary_macs")
    out = {k: sum(r[k] for r in rows) for k in keys}
    out["max_activation_bytes"] = max((r["activation_bytes"] for r in rows), default=0)
    return out


def onnx_size_bound(rows: list[dict]) -> int:
    """Issue #4's ONNX size goal: 1.10 × (packed weight bytes + threshold bytes) + 16 KiB."""
    t = totals(rows)
    return int(1.10 * (t["weight_bytes"] + t["threshold_bytes"]) + ONNX_SLACK_BYTES)


def format_table(rows: list[dict]) -> str:
    head = ["value", "op", "inputs", "input", "output", "params", "weights B", "thresh B", "binary MACs",
            "other MACs", "act B"]
    body = [[r["name"], r["op"], ",".join(r["inputs"]), "x".join(map(str, r["in"])),
             "x".join(map(str, r["out"])) + f" {r['out_type']}", f"{r['params']:,}", f"{r['weight_bytes']:,}",
             f"{r['threshold_bytes']:,}", f"{r['binary_macs']:,}", f"{r['macs'] - r['binary_macs']:,}",
             f"{r['activation_bytes']:,}"] for r in rows]
    t = totals(rows)
    body.append(["total", "", "", "", "", f"{t['params']:,}", f"{t['weight_bytes']:,}", f"{t['threshold_bytes']:,}",
                 f"{t['binary_macs']:,}", f"{t['macs'] - t['binary_macs']:,}", f"max {t['max_activation_bytes']:,}"])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths))  # noqa: E731
    return "\n".join([line(head), line(["-" * w for w in widths])] + [line(r) for r in body])


def arena_summary(graph: Graph) -> str:
    """The arena the C runtime needs against its lower bound (docs/format.md §6)."""
    from .blob import plan_arena

    plan = plan_arena(graph)
    state = sum(n for i, (_, n) in plan.scratch.items() if isinstance(graph.ops[i], LSTM))
    kept = f"; {state:,} B of it LSTM state, kept between invokes until a reset" if state else ""
    return (f"arena {plan.size:,} B (lower bound {plan.lower_bound:,} B: the largest set of values and scratch "
            f"live at one op{kept})")


def to_dot(graph: Graph) -> str:
    """The DAG in Graphviz's dot language: one node per value (name, type, shape; the op that
    writes it and its cost), one edge per operand."""
    specs = graph.value_specs()
    names = graph.value_names()
    nl = "\\n"  # a line break inside a dot label

    def q(text: str) -> str:
        return '"' + text.replace('"', "'") + '"'

    inp = specs["input"]
    out = ["digraph binedge {", "  rankdir=TB;", '  node [shape=box, fontname="monospace", fontsize=10];',
           f"  {q('input')} [label={q(nl.join(['input', type_label(inp) + ' ' + 'x'.join(map(str, inp.shape))]))}, "
           f"shape=ellipse];"]
    for i, r in enumerate(layer_table(graph)):
        lines = [r["name"], r["op"], r["out_type"] + " " + "x".join(map(str, r["out"]))]
        if r["binary_macs"]:
            lines.append(f"{r['binary_macs']:,} binary MACs")
        elif r["macs"]:
            lines.append(f"{r['macs']:,} MACs")
        out.append(f"  {q(names[i + 1])} [label={q(nl.join(lines))}];")
        out.extend(f"  {q(src)} -> {q(names[i + 1])};" for src in r["inputs"])
    out.append("}")
    return "\n".join(out) + "\n"


def describe_ops(graph: Graph) -> list[str]:
    """Short names of the ops present (for coverage checks)."""
    names = []
    for op in graph.ops:
        if isinstance(op, (Dense, Conv2d)):
            names.append(f"{type(op).__name__}:{op.weight_kind}:{type(op.output).__name__}")
        else:
            names.append(type(op).__name__)
    return names


def open_model(path) -> tuple[Graph, Path | None, str | None]:
    """What ``binedge inspect PATH`` shows: (graph, directory whose model files to list or None,
    warning or None). PATH is a run directory (its best.pt, lowered), an export or firmware
    directory (its model.bnm) or a .bnm file. A directory that a killed export left missing is
    first restored from its complete copy (binedge.fileio.recover_dir). An export directory
    that is not complete and unchanged (no report.json, e.g. an interrupted export of an older
    binedge; files missing or changed since its manifest was written) gives a warning saying so."""
    from . import fileio

    p = Path(path)
    if not p.exists():
        fileio.recover_dir(p)
    if not p.exists():
        raise FileNotFoundError(f"{p} does not exist: pass a .bnm blob, an export directory "
                                f"(binedge export -o) or a run directory (binedge train -o)")
    if p.is_dir() and (p / "best.pt").is_file():
        from .export import lower_run

        return lower_run(p)[1], None, None
    from .blob import read_blob

    blob = p / "model.bnm" if p.is_dir() else p
    graph = read_blob(blob)
    warning = None
    if p.is_dir():
        if not (p / "report.json").is_file():
            problems = ["no report.json: the export did not finish"]
        else:
            problems = fileio.verify_manifest(p)
            if problems and fileio.read_owned_manifest(p) is None and _complete_legacy_export(p):
                problems = []  # an older binedge's export: its report.json lists the files and their sizes
        if problems:
            warning = (f"warning: {p} is not a complete binedge export ({'; '.join(problems)}): an interrupted "
                       f"export or files changed since it was written; remove it and re-run `binedge export "
                       f"RUN_DIR -o {p}`")
    return graph, blob.parent, warning


def _complete_legacy_export(d: Path) -> bool:
    """An export directory of an older binedge (no manifest) whose report.json, written last,
    lists files that are all there with the sizes it gives."""
    import json

    from .export import is_legacy_export

    if not is_legacy_export(d):
        return False
    report = json.loads((d / "report.json").read_text())
    for info in report["files"].values():
        f = d / Path(str(info.get("path", ""))).name if isinstance(info, dict) else None
        if f is None or not f.is_file() or f.stat().st_size != info.get("bytes"):
            return False
    return bool(report["files"])
