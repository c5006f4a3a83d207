"""Options and error handling shared by the binedge commands (kept apart so the CLI stays thin)."""

from __future__ import annotations

import functools
import re

import click

from .models import DEFAULT_BLOCKS, DEFAULT_WIDTHS, LAYER_WEIGHTS, MODELS, SHORTCUTS, WEIGHT_METHODS
from .nn.activations import ACTIVATIONS, RULES


def data_options(f):
    f = click.option("--dataset", type=click.Choice(["fashion-mnist", "mnist", "synthetic", "text"]),
                     default="fashion-mnist", show_default=True,
                     help="Built-in data: Fashion-MNIST or MNIST IDX files (the last 5,000 training images validate); "
                          "synthetic is a small generated set for quick checks. --data / --data-dir read your own. "
                          "text: the character corpus --data-file of --model lstm (docs/lstm.md).")(f)
    f = click.option("--data-dir", type=click.Path(file_okay=False), default=None,
                     help="A folder: the four MNIST-format IDX files (default: the Debian package's "
                          "/usr/share/datasets/fashion-mnist), or an image folder tree with one sub-folder of PNG / "
                          "JPEG images per class (or train/ and test/ holding such sub-folders); of every ten files "
                          "of a class the 9th validates and the 10th tests.")(f)
    f = click.option("--data", default=None, metavar="FILE",
                     help="A .csv table of feature vectors with a label column, or a .npz archive (x_train, y_train, "
                          "optional x_val / y_val, x_test / y_test, class_names); of every ten rows the 9th "
                          "validates and the 10th tests, unless the .npz holds those parts.")(f)
    f = click.option("--image-size", default=None, metavar="HxW",
                     help="Image folders: scale each image to cover HxW pixels and centre-crop it (one number: a "
                          "square). Default: every image must have the first one's size.")(f)
    f = click.option("--color", type=click.Choice(["auto", "gray", "rgb"]), default="auto", show_default=True,
                     help="Image folders: grayscale (1 channel) or RGB (3); auto: gray when every file is gray.")(f)
    f = click.option("--label-column", default=None, metavar="NAME",
                     help="CSV: the label column (default: the column named 'label', else the last one).")(f)
    f = click.option("--features", type=click.Choice(["standard", "minmax"]), default="standard", show_default=True,
                     help="How CSV / .npz feature vectors become the deployed program's input codes, fitted on the "
                          "training split and recorded in the run: standard = int8 codes of (x - mean) / std in "
                          "steps of 1/16; minmax = uint8 codes of (x - min) / (max - min) in steps of 1/255.")(f)
    f = click.option("--limit", type=click.IntRange(min=1), default=None,
                     help="Use at most this many samples per split (quick runs).")(f)
    return f


def device_options(f):
    f = click.option("--device", default="auto", show_default=True, metavar="DEVICE",
                     help="auto (CUDA when present, else CPU), cpu, cuda or cuda:N. Under torchrun / --nproc each "
                          "process takes cuda:LOCAL_RANK.")(f)
    f = click.option("--nproc", type=click.IntRange(min=1), default=None,
                     help="Train data-parallel in N processes on this machine (torchrun --standalone "
                          "--nproc-per-node N -m binedge train ...: DDP over Gloo on CPUs, NCCL on GPUs). "
                          "--batch-size stays the global batch (about batch/N per process).")(f)
    f = click.option("--workers", type=click.IntRange(min=0), default=None,
                     help="DataLoader worker processes decoding image files (default: none below 1,000 files, else "
                          "up to 8).")(f)
    return f


def parse_image_size(text: str | None) -> list[int] | None:
    """"HxW" or "N" (a square) as [H, W]; a usage error naming --image-size otherwise."""
    if text is None:
        return None
    parts = text.lower().replace("×", "x").split("x")
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or not all(re.fullmatch(r"[0-9]+", p.strip() or "-") for p in parts) \
            or any(int(p) < 1 for p in parts):
        raise click.BadParameter(f"{text!r}: give HxW in pixels such as 28x28 (or 32 for 32x32)",
                                 param_hint="--image-size")
    return [int(p) for p in parts]


def command_line(ctx: click.Context, skip=()) -> list[str]:
    """The options the user gave on the command line, rebuilt as arguments (for --nproc to hand
    the same request to each process); options in ``skip`` are left out."""
    args = []
    for p in ctx.command.params:
        if p.name in skip or ctx.get_parameter_source(p.name) != click.core.ParameterSource.COMMANDLINE:
            continue
        value = ctx.params[p.name]
        if getattr(p, "is_flag", False):
            if value:
                args.append(p.opts[0])
        elif value is not None:
            args += [p.opts[0], str(value)]
    return args


def model_options(f):
    f = click.option("--model", default="mlp", show_default=True, metavar="MODEL",
                     help="mlp: LAB's MLP; vgg: VGG-style convnet; ftprop4: FTPROP's 4-layer convnet; resnet: binary "
                          "ResNet with int8 shortcuts (docs/resnet.md); lstm: LAB's character LSTM on --dataset text "
                          "(docs/lstm.md; defaults --hidden 512 --depth 1 --lr 0.002 --schedule exp --gamma 0.98 "
                          "--milestones 10); or your own "
                          "model: path/to/file.py:factory, package.module:factory or an installed 'binedge.models' "
                          "entry point, where factory(image_shape, num_classes) returns an nn.Module taking "
                          "(N, C, H, W) images scaled to [0, 1] (feature data: (N, F) vectors, image_shape (F,)) and "
                          "returning (N, num_classes) logits (see examples/custom_model). The run records the file and its SHA-256; export rebuilds from it. "
                          "--weights, --activation, --rule, --unweighted, --hidden, --depth, --widths, --fc, "
                          "--blocks, --shortcut, --downsample and --classifier configure the zoo models only.")(f)
    f = click.option("--weights", type=click.Choice(WEIGHT_METHODS), default="lab", show_default=True,
                     help="Weight method: fp = full precision, binaryconnect (sign), bwn (mean |w| scale), "
                          "lab (loss-aware, Adam-curvature-weighted scale), int8 (per-channel int8 weights; with "
                          "--activation int8 the all-int8 twin of a zoo model, docs/resnet.md).")(f)
    f = click.option("--activation", type=click.Choice(ACTIVATIONS), default="sign", show_default=True,
                     help="sign (±1), rsign (sign of x − b with a learned shift b per channel, ReActNet's "
                          "RSign; --model resnet), step (0/1), qrelu2 / qrelu3 (2- / 3-bit quantized ReLU) are hard "
                          "thresholds and deployable; int8 is an int8 quantized ReLU (range [0, max], deployable); "
                          "relu / srelu (clamped to [0,1]) are real-valued baselines.")(f)
    f = click.option("--rule", type=click.Choice(RULES), default="sste", show_default=True,
                     help="Training rule of hard-threshold activations: ste (identity gradient), sste "
                          "(gradient only inside the saturation window), ftprop (FTPROP-MB soft hinge).")(f)
    f = click.option("--unweighted", is_flag=True,
                     help="FTPROP: do not weight each unit's soft-hinge loss by |dL/dh|.")(f)
    f = click.option("--hidden", type=click.IntRange(min=1), default=1024, show_default=True,
                     help="MLP hidden width (LAB's paper: 2048; at most 65536).")(f)
    f = click.option("--depth", type=click.IntRange(min=1), default=3, show_default=True,
                     help="MLP hidden layers (at most 1000).")(f)
    f = click.option("--widths", default=None, metavar="W1,W2,...",
                     help="Comma-separated positive integers, each at most 65536. vgg: conv widths (two 3x3 convs "
                          "per width, then a 2x2 max-pool: 28x28 images allow at most 4 widths; default "
                          f"{_ints(DEFAULT_WIDTHS['vgg'])}); resnet: stage widths (the first is the stem's; each "
                          "later stage starts with a 2x2 average pool and a 1x1 conv; default "
                          f"{_ints(DEFAULT_WIDTHS['resnet'])}).")(f)
    f = click.option("--fc", type=click.IntRange(min=1), default=256, show_default=True,
                     help="Fully connected width of vgg / ftprop4 (at most 65536). A model whose training "
                          "would need more than the machine's physical memory is refused.")(f)
    f = click.option("--blocks", default=None, metavar="B1,B2,...",
                     help="resnet: residual blocks per stage, one number (0 or more) per --widths entry; default "
                          f"{_ints(DEFAULT_BLOCKS)}.")(f)
    f = click.option("--shortcut", type=click.Choice(SHORTCUTS), default=SHORTCUTS[0], show_default=True,
                     help="resnet: merge adds the binary conv's exact output to the int8 shortcut (Bi-Real Net; "
                          "graph Merge); add quantizes it to int8 first (graph Add: less RAM, more instructions).")(f)
    f = click.option("--downsample", type=click.Choice(LAYER_WEIGHTS), default="int8", show_default=True,
                     help="resnet: weights of the 1x1 convs between stages: int8, or binary (the --weights method).")(f)
    f = click.option("--classifier", type=click.Choice(LAYER_WEIGHTS), default="int8", show_default=True,
                     help="resnet: weights of the classifier: int8, or binary (the --weights method).")(f)
    return f


def _ints(values) -> str:
    return ",".join(str(v) for v in values)


def recipe_options(f):
    """The training recipe of binedge.recipe: augmentation, schedule milestones, distillation, two stages."""
    f = click.option("--augment", type=click.Choice(["none", "crop", "crop+flip"]), default="none",
                     show_default=True,
                     help="Training images only: crop = random crop of the image zero-padded by --crop-pad pixels; "
                          "crop+flip = also a horizontal flip with probability 1/2. Refused for feature data.")(f)
    f = click.option("--crop-pad", type=click.IntRange(min=1), default=2, show_default=True,
                     help="Zero padding of --augment's random crop, in pixels (the crop shifts by up to this much).")(f)
    f = click.option("--milestones", default=None, metavar="M1,M2,...",
                     help="--schedule step: where the rate is multiplied by --gamma, each a fraction of the epochs "
                          "(< 1) or an epoch number (default 0.3,0.5). Two-stage runs: of each stage.")(f)
    f = click.option("--teacher", default=None, metavar="RUN_DIR",
                     help="Knowledge distillation: a binedge run directory trained on the same data (e.g. a float "
                          "model); the loss adds --kd-weight * T^2 * KL(teacher || student) at temperature T.")(f)
    f = click.option("--kd-weight", type=click.FloatRange(min=0), default=1.0, show_default=True,
                     help="Weight of the distillation term (with --teacher).")(f)
    f = click.option("--kd-temperature", type=click.FloatRange(min=0, min_open=True), default=1.0,
                     show_default=True, help="Distillation temperature T (with --teacher).")(f)
    f = click.option("--two-stage", is_flag=True,
                     help="Train the first half of the epochs with full-precision weights (binary activations), "
                          "then binary weights from them, with a fresh optimizer and the schedule restarted; the "
                          "best checkpoint is taken from the second stage.")(f)
    return f


def parse_float_list(text: str, name: str) -> list[float]:
    """Comma-separated positive finite numbers ("0.3,0.5"); anything else is a usage error naming ``name``."""
    import math

    values = []
    for i, item in enumerate(text.split(","), 1):
        item = item.strip()
        try:
            v = float(item)
        except ValueError:
            v = None
        if v is None or not math.isfinite(v) or v <= 0:
            raise click.BadParameter(f"{text!r}: item {i} ({item!r}) is not a positive number; give comma-separated "
                                     f"positive numbers such as 0.3,0.5", param_hint=name)
        values.append(v)
    return values


#: Options that configure the zoo models only (refused with a user model).
ZOO_OPTIONS = ("--weights", "--activation", "--rule", "--unweighted", "--hidden", "--depth", "--widths", "--fc",
               "--blocks", "--shortcut", "--downsample", "--classifier")


def check_zoo_options(model: str, given) -> None:
    """A user model takes none of the zoo's options: each one given explicitly is a usage error."""
    if model in MODELS:
        return
    wrong = [o for o in ZOO_OPTIONS if o in set(given)]
    if wrong:
        raise click.UsageError(f"{', '.join(wrong)} configure{'s' if len(wrong) == 1 else ''} the zoo models "
                               f"({', '.join(MODELS)}) only; --model {model} builds its own architecture")


def parse_int_list(text: str, name: str, *, minimum: int = 1) -> list[int]:
    """Comma-separated integers >= ``minimum`` ("32,64,128"); every item must be one: an empty item
    ("8,,16", a trailing comma), a non-integer or a value < ``minimum`` is a usage error naming ``name``."""
    values = []
    kind, example = ("positive integers", "32,64,128") if minimum == 1 else (f"integers >= {minimum}", "0,2,3")
    for i, item in enumerate(text.split(","), 1):
        item = item.strip()
        what = None
        if not item:
            what = f"item {i} is empty"
        elif not re.fullmatch(r"[+-]?[0-9]+", item):
            what = f"item {i} ({item!r}) is not an integer"
        elif int(item) < minimum:
            what = f"item {i} ({item}) is not positive" if minimum == 1 else f"item {i} ({item}) is below {minimum}"
        if what:
            raise click.BadParameter(f"{text!r}: {what}; give comma-separated {kind} such as {example}",
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
    ("binedge.runtime", "RuntimeStatusError"), ("binedge.distributed", "DeviceError"),
    ("binedge.distributed", "ReplicaError"), ("binedge.distributed", "PeerLostError"),
)


def _silent_rank() -> bool:
    """Is this a process other than rank 0 of a torchrun run? (Process 0 prints the user errors
    that every process finds alike; a DeviceError, which may be one process's own, each prints.)"""
    import os

    try:
        return int(os.environ.get("WORLD_SIZE", "1")) > 1 and int(os.environ.get("RANK", "0")) != 0
    except ValueError:
        return False


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
            if _silent_rank():
                if not getattr(e, "every_rank", False):
                    raise click.exceptions.Exit(1) from None
                import os

                raise click.ClickException(f"rank {os.environ.get('RANK')}: {e}") from None
            raise click.ClickException(str(e)) from None

    return wrapper
