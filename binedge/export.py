"""``binedge export``: a trained run -> the deployment graph -> blob / ONNX files + a check report.

Every format is written atomically, and only after lowering succeeded, so a failed export
leaves no partial file behind and never touches the run directory.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

FORMATS = ("blob", "onnx")
FILE_NAMES = {"blob": "model.bnm", "onnx": "model.onnx", "tflite": "model.tflite"}


class ExportError(ValueError):
    """A user error in an export request."""


def lower_run(run_dir):
    """Load a run's best checkpoint and lower it. Returns (model, graph, train_config)."""
    from .lower import lower
    from .train import load_checkpoint

    model, cfg, ckpt = load_checkpoint(run_dir)
    meta = {"model": cfg.model.to_dict(), "dataset": cfg.dataset, "epoch": ckpt.get("epoch"),
            "input": "uint8 pixels, NHWC; the model saw x/255"}
    graph = lower(model, cfg.model.image_shape, class_names=ckpt.get("class_names"), metadata=meta)
    return model, graph, cfg


def test_images(cfg, samples: int | None):
    """The run's test split (images uint8 NHWC, labels), at most ``samples`` of it."""
    from .train import load_data

    ds = load_data(cfg)
    images, labels = ds.test.images, ds.test.labels
    if samples is not None:
        images, labels = images[:samples], labels[:samples]
    if images.ndim == 3:
        images = images[..., None]
    return np.ascontiguousarray(images), labels


def export_run(run_dir, out_dir, *, formats=FORMATS, samples: int | None = None, check: bool = True) -> dict:
    """Export ``run_dir``'s best checkpoint into ``out_dir`` in each of ``formats``.

    With ``check``, the PyTorch model and the reference executor are compared on ``samples``
    test images (all by default) and every exported ONNX model is run in onnxruntime against
    the reference; the report (also written to out_dir/report.json) holds the results.
    """
    formats = tuple(formats)
    unknown = [f for f in formats if f not in FILE_NAMES]
    if unknown or not formats:
        raise ExportError(f"unknown format(s) {unknown}; choose from {', '.join(FILE_NAMES)} or all")
    if samples is not None and samples < 1:
        raise ExportError("--samples must be positive")
    from . import reference
    from .inspect import layer_table, onnx_size_bound, totals
    from .lower import agreement
    from .fileio import atomic_write_json

    model, graph, cfg = lower_run(run_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = layer_table(graph)
    report: dict = {"run": str(run_dir), "files": {}, "totals": totals(rows)}
    if "blob" in formats:
        from .blob import write_blob

        info = write_blob(graph, out / FILE_NAMES["blob"])
        report["files"]["blob"] = {"path": info["path"], "bytes": info["total"], "arena_bytes": info["arena"]}
    if "onnx" in formats:
        from .export_onnx import export_onnx

        info = export_onnx(graph, out / FILE_NAMES["onnx"], model_name=Path(run_dir).name or "binedge")
        bound = onnx_size_bound(rows)
        report["files"]["onnx"] = {"path": info["path"], "bytes": info["file_bytes"], "size_bound": bound,
                                   "within_bound": info["file_bytes"] <= bound}
    if "tflite" in formats:
        from .export_tflite import export_tflite

        info = export_tflite(graph, out / FILE_NAMES["tflite"])
        report["files"]["tflite"] = {"path": info["path"], "bytes": info["file_bytes"]}
    if check:
        images, labels = test_images(cfg, samples)
        report["agreement"] = agreement(model, graph, images, labels)
        ref_scores = reference.run(graph, images)
        if "onnx" in formats:
            from .export_onnx import run_onnx

            report["files"]["onnx"]["scores_equal_reference"] = bool(
                np.array_equal(run_onnx(out / FILE_NAMES["onnx"], images), ref_scores))
        if "tflite" in formats:
            from .export_tflite import run_tflite

            preds = run_tflite(out / FILE_NAMES["tflite"], images).argmax(1)
            report["files"]["tflite"]["prediction_agreement"] = float((preds == ref_scores.argmax(1)).mean())
    atomic_write_json(out / "report.json", json.loads(json.dumps(report, default=str)))
    return report
