"""Options and error handling shared by the binedge commands (kept apart so the CLI stays thin)."""

from __future__ import annotations

import functools
import re

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
    f = click.option("--model", default="mlp", show_default=True, metavar="MODEL",
                     help="mlp: LAB's MLP; vgg: VGG-style convnet; ftprop4: FTPROP's 4-layer convnet; or your own "
                          "model: path/to/file.py:factory, package.module:factory or an installed 'binedge.models' "
                          "entry point, where factory(image_shape, num_classes) returns an nn.Module taking "
                          "(N, C, H, W) images scaled to [0, 1] and returning (N, num_classes) logits (see "
                          "examples/custom_model). The run records the file and its SHA-256; export rebuilds from it. "
                          "--weights, --activation, --rule, --unweighted, --hidden, --depth, --widths and --fc "
                          "configure the zoo models only.")(f)
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
                     help="MLP hidden width (LAB's paper: 2048; at most 65536).")(f)
    f = click.option("--depth", type=click.IntRange(min=1), default=3, show_default=True,
                     help="MLP hidden layers (at most 1000).")(f)
    f = click.option("--widths", default="32,64,128", show_default=True,
                     help="VGG conv widths, comma-separated positive integers (two 3x3 convs per width, then "
                          "a 2x2 max-pool: 28x28 images allow at most 4 widths; each at most 65536).")(f)
    f = click.option("--fc", type=click.IntRange(min=1), default=256, show_default=True,
                     help="Fully connected width of vgg / ftprop4 (at most 65536). A model whose training "
                          "would need more than the machine's physical memory is refused.")(f)
    return f


#: Options that configure the zoo models only (refused with a user model).
ZOO_OPTIONS = ("--weights", "--activation", "--rule", "--unweighted", "--hidden", "--depth", "--widths", "--fc")


def check_zoo_options(model: str, given) -> None:
    """A user model takes none of the zoo's options: each one given explicitly is a usage error."""
    if model in MODELS:
        return
    wrong = [o for o in ZOO_OPTIONS if o in set(given)]
    if wrong:
        raise click.UsageError(f"{', '.join(wrong)} configure{'s' if len(wrong) == 1 else ''} the zoo models "
                               f"({', '.join(MODELS)}) only; --model {model} builds its own architecture")


def parse_int_list(text: str, name: str) -> list[int]:
    """Comma-separated positive integers ("32,64,128"); every item must be one: an empty item
    ("8,,16", a trailing comma), a non-integer or a value < 1 is a usage error naming ``name``."""
    values = []
    for i, item in enumerate(text.split(","), 1):
        item = item.strip()
        what = None
        if not item:
            what = f"item {i} is empty"
        elif not re.fullmatch(r"[+-]?[0-9]+", item):
            what = f"item {i} ({item!r}) is not an integer"
        elif int(item) < 1:
            what = f"item {i} ({item}) is not positive"
        if what:
            raise click.BadParameter(f"{text!r}: {what}; give comma-separated positive integers such as 32,64,128",
                                     param_hint=name)
        values.append(int(item))
    return values


# binedge's user-facing exceptions: their messages name the problem and the fix, so a command
# prints them as one line (exit status 1) instead of a traceback.
USER_ERRORS = (
    ("binedge.data", "DatasetError"), ("binedge.graph", "GraphError"), ("binedge.train", "TrainError"),
    ("binedge.models", "ModelError"), ("binedge.fileio", "OutputError"), ("binedge.lower", "LoweringError"),
    ("binedge.blob", "BlobError"), ("binedge.export", "ExportError"), ("binedge.targets", "TargetError"),
    ("binedge.targets", "ToolchainError"), ("binedge.targets", "RunTimeout"),
    ("binedge.firmware", "FirmwareError"), ("binedge.emulate", "EmulateError"),
    ("binedge.export_onnx", "OnnxExportError"), ("binedge.export_onnx", "OnnxModelError"),
    ("binedge.export_tflite", "TfliteExportError"), ("binedge.export_tflite", "TfliteModelError"),
    ("binedge.runtime", "RuntimeStatusError"),
)


def user_errors(f):
    """Turn binedge's user-facing exceptions into a one-line error and exit status 1."""

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        known = [FileNotFoundError]
        for modname, cls in USER_ERRORS:
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
