"""``binedge export``: a trained run -> the deployment graph -> blob / ONNX files + a check report.

The output directory is written as a whole, under binedge's output rule (binedge.fileio: a
complete result or the previous one, never neither): every file is written into a staging
directory beside ``-o``, then the manifest with the SHA-256 of every other file, last
(``report.json``: its "sha256" map; with ``--target`` ``firmware.json``), and the stage is
swapped in for ``-o`` atomically. A failed or killed export leaves the previous directory (or none) and never
touches the run directory; the next run recovers or removes the leftovers. Outputs get the
usual modes (0666 / 0777 & ~umask). An existing ``-o`` is replaced only if it is empty or a
previous binedge output whose files are unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import __version__

FORMATS = ("blob", "onnx", "tflite")
#: a character model's firmware: the first TEXT_SEED_CHARS test characters are its seed (each
#: checked), then it generates TEXT_GENERATE_CHARS characters greedily (``--samples`` sets the seed)
TEXT_SEED_CHARS, TEXT_GENERATE_CHARS = 64, 64
FILE_NAMES = {"blob": "model.bnm", "onnx": "model.onnx", "tflite": "model.tflite"}
REPORT = "report.json"  # also the manifest of a plain export (its "sha256" map, binedge.fileio)
REPORT_FORMAT = "binedge-export"


class ExportError(ValueError):
    """A user error in an export request."""


def run_coding(cfg):
    """The :class:`binedge.data.InputCoding` of a run's inputs: the one it recorded (config.json
    "data_info"), else (runs made before binedge recorded it) uint8 images of the model's shape."""
    from .data import InputCoding, image_coding

    rec = (cfg.data_info or {}).get("input")
    return InputCoding.from_dict(rec) if rec else image_coding(cfg.model.image_shape)


def lower_run(run_dir):
    """Load a run's best checkpoint and lower it. Returns (model, graph, train_config).

    The graph input is what the run recorded (:func:`run_coding`): uint8 images, or int8 / uint8
    feature codes with their scale and zero point (the blob's metadata names the coding in one
    line; its per-feature centres and spreads, which a device needs to code raw features, are in
    the export's report.json "input", kept out of the blob to spare flash). Zoo models on images go
    through binedge.lower.lower (their graphs are those binedge always made); user models
    (--model path/to/file.py:factory, rebuilt from the file the run recorded) and every model on
    feature vectors through binedge.convert, which refuses anything it cannot lower exactly (a
    zoo model's full-precision first layer is rounded to int8 weights, as binedge.lower does)."""
    from .lm import is_text_run
    from .train import load_checkpoint

    if is_text_run(run_dir):
        return lower_text_run(run_dir)
    model, cfg, ckpt = load_checkpoint(run_dir)
    coding = run_coding(cfg)
    meta = {"model": cfg.model.to_dict(), "dataset": cfg.dataset, "epoch": ckpt.get("epoch"),
            "input": "uint8 pixels, NHWC; the model saw x/255" if coding.kind == "image" else coding.describe()}
    if coding.kind == "features":
        import torch

        from .converter import convert

        graph = convert(model, torch.zeros(1, int(coding.shape[0])), input_spec=coding.tensor_spec(),
                        class_names=ckpt.get("class_names"), metadata=meta,
                        round_float_weights=not cfg.model.is_user)
    elif cfg.model.is_user:
        import torch

        from .converter import convert, image_spec

        h, w, c = cfg.model.image_shape
        graph = convert(model, torch.zeros(1, c, h, w), input_spec=image_spec((h, w, c)),
                        class_names=ckpt.get("class_names"), metadata=meta)
    else:
        from .lower import lower

        graph = lower(model, cfg.model.image_shape, class_names=ckpt.get("class_names"), metadata=meta)
    return model, graph, cfg


def lower_text_run(run_dir):
    """(CharLSTM, recurrent graph, train config) of a ``--model lstm`` run's best checkpoint: the
    exact integer LSTM of docs/numerics.md "Recurrent" (binedge.lstm_deploy). A model the integer
    LSTM cannot represent (full-precision gate matrices, constants beyond the int32 proofs, a
    vocabulary over 256 characters) is an ExportError naming the problem."""
    from .graph import GraphError
    from .lstm_deploy import load_text_run, lower_char_lstm
    from .lstm_integer import IntegerLSTMError

    try:
        model, vocab, cfg, ck = load_text_run(run_dir)
        meta = {"model": cfg.model.to_dict(), "dataset": "text", "epoch": ck.get("epoch"),
                "input": "one character id per invoke (uint8); the LSTM state persists until be_reset",
                "data_file": cfg.data_file}
        graph = lower_char_lstm(model, vocab, meta)
    except IntegerLSTMError as e:
        raise ExportError(f"{run_dir}: {e}; nothing was written") from None
    except (GraphError, ValueError) as e:
        raise ExportError(f"{run_dir}: {e}") from None
    return model, graph, cfg


def load_text_stream(cfg, samples: int | None):
    """The first ``samples`` characters (all by default) of a text run's test split as graph
    inputs (N, 1) uint8 ids and their next characters (N,) as labels. The corpus must be the one
    the run was trained on (its fingerprint)."""
    from .lm import load_run_corpus

    test = load_run_corpus(cfg).test
    ids = test if samples is None else test[:samples + 1]
    return np.ascontiguousarray(ids[:-1].reshape(-1, 1).astype(np.uint8)), ids[1:].astype(np.int64)


def load_test_images(cfg, samples: int | None):
    """The run's test split as the graph's input codes (uint8 images NHWC, or feature codes
    (N, F) coded as the run recorded) and labels, at most ``samples`` of it. Reloads the data the
    run recorded (no data options; data that changed since is refused)."""
    from .train import load_data

    ds = load_data(cfg, parts=("test",))
    images, labels = ds.test.images, ds.test.labels
    if samples is not None:
        images, labels = images[:samples], labels[:samples]
    if images.ndim == 3:
        images = images[..., None]
    return np.ascontiguousarray(images), labels


def export_run(run_dir, out_dir, *, formats=FORMATS, samples: int | None = None, check: bool = True,
               target: str | None = None) -> dict:
    """Export ``run_dir``'s best checkpoint into ``out_dir`` in each of ``formats``.

    With ``check``, the PyTorch model and the reference executor are compared on ``samples``
    test images (all by default) and every exported ONNX model is run in onnxruntime against
    the reference; the report (also written to out_dir/report.json) holds the results.

    With ``target`` (a name from binedge.targets, e.g. "cortex-m4"), ``out_dir`` also becomes a
    self-contained firmware project for that target (binedge.firmware, docs/firmware.md) with
    ``samples`` test images (default firmware.DEFAULT_SAMPLES).

    Either way the target, the output location and directory, and the fit are checked before
    anything is written, and the whole directory is written at once (staged beside it, swapped
    in: binedge.fileio.committed_dir): on any error the previous directory (or none) is left,
    and an existing directory that is not a previous binedge output is refused.
    """
    from . import fileio

    formats = tuple(formats)
    unknown = [f for f in formats if f not in FILE_NAMES]
    if unknown or not formats:
        raise ExportError(f"unknown format(s) {unknown}; choose from {', '.join(FILE_NAMES)} or all")
    if samples is not None and samples < 1:
        raise ExportError("--samples must be positive")
    out = Path(out_dir)
    fileio.check_output_path(out, "-o", kind="dir")
    if target is None:
        with fileio.committed_dir(out, manifest=REPORT, legacy=is_legacy_export) as stage:
            return _export(run_dir, stage, formats=formats, samples=samples, check=check, final_dir=out)

    from . import firmware
    from .targets import get_target

    get_target(target)  # an unknown name fails here, listing the known ones
    firmware.check_out_dir(out)
    with firmware.committed_dir(out) as stage:
        return _export(run_dir, stage, formats=formats, samples=samples, check=check, target=target,
                       final_dir=out)


def is_legacy_export(out) -> bool:
    """An export directory of an older binedge (its report.json has no "sha256" map): only
    binedge's file names and a readable report.json that describes them. Such a directory may
    be replaced."""
    from .fileio import is_temp_name

    out = Path(out)
    names = set(FILE_NAMES.values()) | {REPORT}
    entries = list(out.iterdir())
    if any(not e.is_file() or e.is_symlink() or (e.name not in names and not is_temp_name(e.name))
           for e in entries):
        return False
    try:
        report = json.loads((out / REPORT).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(report, dict) and "run" in report and isinstance(report.get("files"), dict)


def _export(run_dir, out: Path, *, formats, samples, check, target=None, final_dir=None) -> dict:
    from . import reference
    from .fileio import atomic_write_json
    from .inspect import layer_table, onnx_size_bound, totals
    from .lower import agreement

    model, graph, cfg = lower_run(run_dir)
    recurrent = graph.is_recurrent()
    formats = tuple(formats)
    notes = {}
    if recurrent and "tflite" in formats:
        if set(formats) != set(FORMATS):
            raise ExportError("--format tflite: a recurrent (LSTM) model has no LiteRT export (binedge writes its "
                              "exact integer step as the .bnm blob, ONNX and C firmware); choose blob or onnx")
        formats = tuple(f for f in formats if f != "tflite")
        notes["tflite"] = "not written: recurrent (LSTM) models are exported as blob, ONNX and firmware only"
    test_inputs = load_text_stream if recurrent else load_test_images
    plan = None
    if target is not None:
        from . import firmware

        if recurrent:
            seed, seed_labels = load_text_stream(cfg, samples if samples is not None else TEXT_SEED_CHARS)
            plan = firmware.plan_firmware(graph, target=target, images=seed, labels=seed_labels, source=run_dir,
                                          generate=TEXT_GENERATE_CHARS)
        else:
            n_fw = samples if samples is not None else firmware.DEFAULT_SAMPLES
            fw_images, fw_labels = load_test_images(cfg, n_fw)
            plan = firmware.plan_firmware(graph, target=target, images=fw_images, labels=fw_labels, source=run_dir)
    final = final_dir if final_dir is not None else out
    out.mkdir(parents=True, exist_ok=True)  # only once lowering succeeded

    def shown(p) -> str:  # paths in the report name the final directory, not the staging one
        return str(final / Path(p).name)

    rows = layer_table(graph)
    report: dict = {"format": REPORT_FORMAT, "version": 1, "binedge": __version__, "run": str(run_dir),
                    "files": {}, "totals": totals(rows),
                    "input": {"kind": "character id", "vocabulary": graph.class_names} if recurrent
                    else run_coding(cfg).to_dict()}
    if notes:
        report["notes"] = notes
    if "blob" in formats:
        from .blob import write_blob

        info = write_blob(graph, out / FILE_NAMES["blob"])
        report["files"]["blob"] = {"path": shown(info["path"]), "bytes": info["total"], "arena_bytes": info["arena"]}
    if "onnx" in formats:
        from .export_onnx import export_onnx

        info = export_onnx(graph, out / FILE_NAMES["onnx"], model_name=Path(run_dir).name or "binedge")
        bound = onnx_size_bound(rows)
        report["files"]["onnx"] = {"path": shown(info["path"]), "bytes": info["file_bytes"], "size_bound": bound,
                                   "within_bound": info["file_bytes"] <= bound, "nodes": info["nodes"]}
    if "tflite" in formats:
        from .export_tflite import export_tflite

        info = export_tflite(graph, out / FILE_NAMES["tflite"], model_name=Path(run_dir).name or "binedge")
        report["files"]["tflite"] = {"path": shown(info["path"]), "bytes": info["file_bytes"],
                                     "weight_bytes": info["weight_bytes"]}
    if check:
        images, labels = test_inputs(cfg, samples)
        if recurrent:
            from .lstm_deploy import text_agreement

            report["agreement"] = text_agreement(model, graph, images, labels)
        else:
            report["agreement"] = agreement(model, graph, images, labels)
        ref_scores = reference.run(graph, images)
        if "onnx" in formats:
            from .export_onnx import run_onnx

            report["files"]["onnx"]["scores_equal_reference"] = bool(
                np.array_equal(run_onnx(out / FILE_NAMES["onnx"], images), ref_scores))
        if "tflite" in formats:
            from .export_tflite import run_tflite

            lite = run_tflite(out / FILE_NAMES["tflite"], images)  # exact by construction (docs/tflite.md)
            report["files"]["tflite"]["scores_equal_reference"] = bool(np.array_equal(lite, ref_scores))
            report["files"]["tflite"]["prediction_agreement"] = float((lite.argmax(1) == ref_scores.argmax(1)).mean())
    if plan is not None:
        from . import firmware

        m = firmware.stage_firmware(plan, out)
        report["firmware"] = {"path": str(final), "target": m["target"], "samples": m["samples"],
                              "blob_bytes": m["blob_bytes"], "arena_bytes": m["arena_bytes"],
                              "bitpacked_lower_bound_bytes": m["bitpacked_lower_bound_bytes"],
                              "reference_accuracy": m["reference_accuracy"], "generate": m.get("generate", 0),
                              "build": f"make -C {final}", "emulate": f"binedge emulate {final}"}
    atomic_write_json(out / REPORT, json.loads(json.dumps(report, default=str)))
    return report
