"""Per-layer summary of a deployment graph: op, shapes, parameter bytes, binary MACs, activations,
and what ``binedge inspect`` reads (a .bnm blob, an export or firmware directory, a run directory)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .graph import Conv2d, Dense, Flatten, Graph, MaxPool2d, ScoreStage, ThresholdStage

ONNX_SLACK_BYTES = 16 * 1024


def _stage_bytes(stage) -> int:
    if isinstance(stage, ThresholdStage):
        return stage.thresholds.nbytes + stage.direction.nbytes
    if isinstance(stage, ScoreStage):
        return stage.multiplier.nbytes + stage.offset.nbytes
    return 0


def layer_table(graph: Graph) -> list[dict]:
    """One row per op: name, op, input/output shape, weight and threshold bytes, MACs, output bytes."""
    specs = graph.specs()
    rows = []
    for op, src, dst in zip(graph.ops, specs[:-1], specs[1:]):
        weight_bytes = int(op.weights.nbytes) if isinstance(op, (Dense, Conv2d)) else 0
        stage_bytes = _stage_bytes(op.output) if isinstance(op, (Dense, Conv2d)) else 0
        if isinstance(op, Dense):
            macs = op.in_features * op.out_features
            params = op.in_features * op.out_features
        elif isinstance(op, Conv2d):
            kh, kw = op.kernel
            params = op.out_channels * kh * kw * op.in_channels
            macs = int(np.prod(dst.shape[:2])) * params
        else:
            macs = params = 0
        kind = type(op).__name__
        if isinstance(op, (Dense, Conv2d)):
            kind += f" [{op.weight_kind} w, {src.kind}{'/' + src.encoding if src.encoding else ''} in]"
        rows.append({"name": op.name or f"op{len(rows)}", "op": kind, "in": src.shape, "out": dst.shape,
                     "params": params, "weight_bytes": weight_bytes, "threshold_bytes": stage_bytes,
                     "macs": macs, "binary_macs": macs if getattr(op, "weight_kind", "") == "binary" else 0,
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
    head = ["layer", "op", "input", "output", "params", "weights B", "thresh B", "binary MACs", "act B"]
    body = [[r["name"], r["op"], "x".join(map(str, r["in"])), "x".join(map(str, r["out"])), f"{r['params']:,}",
             f"{r['weight_bytes']:,}", f"{r['threshold_bytes']:,}", f"{r['binary_macs']:,}",
             f"{r['activation_bytes']:,}"] for r in rows]
    t = totals(rows)
    body.append(["total", "", "", "", f"{t['params']:,}", f"{t['weight_bytes']:,}", f"{t['threshold_bytes']:,}",
                 f"{t['binary_macs']:,}", f"max {t['max_activation_bytes']:,}"])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths))  # noqa: E731
    return "\n".join([line(head), line(["-" * w for w in widths])] + [line(r) for r in body])


def describe_ops(graph: Graph) -> list[str]:
    """Short names of the ops present (for coverage checks)."""
    names = []
    for op in graph.ops:
        if isinstance(op, (Dense, Conv2d)):
            names.append(f"{type(op).__name__}:{op.weight_kind}:{type(op.output).__name__}")
        elif isinstance(op, (MaxPool2d, Flatten)):
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
