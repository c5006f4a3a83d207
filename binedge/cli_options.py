"""Options and error handling shared by the binedge commands (kept apart so the CLI stays thin)."""

from __future__ import annotations

import functools

import click

from .models import MODELS, WEIGHT_METHODS
from .nn.activations import ACTIVATIONS, RULES


def data_options(f):
    f = click.option("--dataset", type=click.Choice(["fashion-mnist", "mnist", "synthetic"]),
                     default="fashion-mnist", show_default=True,
                     help="Training data; synthetic is a small generated set for quick checks.")(f)
    f = click.option("--data-dir", type=click.Path(file_okay=False), default=None,
                     help="Directory with the four IDX files (default: the Debian package's "
                          "/usr/share/datasets/fashion-mnist).")(f)
    f = click.option("--limit", type=click.IntRange(min=1), default=None,
                     help="Use at most this many samples per split (quick runs).")(f)
    return f


def model_options(f):
    f = click.option("--model", type=click.Choice(MODELS), default="mlp", show_default=True,
                     help="mlp: LAB's MLP; vgg: VGG-style convnet; ftprop4: FTPROP's 4-layer convnet.")(f)
    f = click.option("--weights", type=click.Choice(WEIGHT_METHODS), default="lab", show_default=True,
                     help="Weight method: fp = full precision, binaryconnect (sign), bwn (mean |w| scale), "
                          "lab (loss-aware, Adam-curvature-weighted scale).")(f)
    f = click.option("--activation", type=click.Choice(ACTIVATIONS), default="sign", show_default=True,
                     help="sign (±1), step (0/1), qrelu2 / qrelu3 (2- / 3-bit quantized ReLU) are hard "
                          "thresholds and deployable; relu / srelu (clamped to [0,1]) are real-valued baselines.")(f)
    f = click.option("--rule", type=click.Choice(RULES), default="sste", show_default=True,
                     help="Training rule of hard-threshold activations: ste (identity gradient), sste "
                          "(gradient only inside the saturation window), ftprop (FTPROP-MB soft hinge).")(f)
    f = click.option("--unweighted", is_flag=True,
                     help="FTPROP: do not weight each unit's soft-hinge loss by |dL/dh|.")(f)
    f = click.option("--hidden", type=click.IntRange(min=1), default=1024, show_default=True,
                     help="MLP hidden width (LAB's paper: 2048).")(f)
    f = click.option("--depth", type=click.IntRange(min=1), default=3, show_default=True,
                     help="MLP hidden layers.")(f)
    f = click.option("--widths", default="32,64,128", show_default=True,
                     help="VGG conv widths, comma-separated (two 3x3 convs per width, then max-pool).")(f)
    f = click.option("--fc", type=click.IntRange(min=1), default=256, show_default=True,
                     help="Fully connected width of vgg / ftprop4.")(f)
    return f


def parse_int_list(text: str, name: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {text!r}", param_hint=name) from None
    if not values or min(values) < 1:
        raise click.BadParameter("expected positive integers", param_hint=name)
    return values


def user_errors(f):
    """Turn binedge's user-facing exceptions into a one-line error and exit status 1."""

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        from .data import DatasetError
        from .graph import GraphError
        from .train import TrainError

        known = [DatasetError, GraphError, TrainError, FileNotFoundError]
        for modname, cls in (("binedge.lower", "LoweringError"), ("binedge.blob", "BlobError"),
                             ("binedge.export", "ExportError"), ("binedge.targets", "TargetError"),
                             ("binedge.export_onnx", "OnnxExportError"), ("binedge.export_onnx", "OnnxModelError"),
                             ("binedge.export_tflite", "TfliteExportError"),
                             ("binedge.export_tflite", "TfliteModelError"),
                             ("binedge.runtime", "RuntimeStatusError")):
            try:
                mod = __import__(modname, fromlist=[cls])
                known.append(getattr(mod, cls))
            except (ImportError, AttributeError):
                pass
        try:
            return f(*args, **kwargs)
        except tuple(known) as e:
            raise click.ClickException(str(e)) from None

    return wrapper
