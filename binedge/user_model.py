"""User models for ``binedge train`` / ``binedge export``: any model a Python factory builds.

``--model`` takes, besides the zoo names (mlp, vgg, ftprop4):

    path/to/file.py:factory       a function in a Python file (the file's folder is on sys.path
                                  while it is imported, so it may import its neighbours)
    package.module:factory        a function in an importable module
    NAME                          an installed entry point of the group ``binedge.models``

The factory is called as ``factory(image_shape, num_classes)`` with ``image_shape = (H, W, C)``
of the training images (or ``(F,)`` for feature vectors: CSV / .npz tables) and the class count,
and returns an ``nn.Module`` that takes a float batch (N, C, H, W) of x/255 pixels (features:
(N, F), each the code scale·(q − zero_point) of binedge.data.InputCoding) and returns
(N, num_classes) logits — built from binedge layers and ordinary torch ops, so that
:func:`binedge.convert` can lower it. binedge does not re-initialise it.

A run records where the factory lives (the file's absolute path, or the module / entry point)
and the SHA-256 of that file (:class:`Source`), so that ``binedge export`` and ``--resume``
rebuild exactly the trained architecture; a file that changed or vanished since is refused.
Every problem in the user's code — a missing file or factory, an exception while importing or
building (with the line of the user's file where it happened), a wrong return type, a model that
fails on a batch of the images or returns the wrong shape — is one :class:`~binedge.models.ModelError`
line naming the file.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import os
import re
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

ENTRY_POINT_GROUP = "binedge.models"
_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def _error(msg: str):
    from .models import ModelError

    return ModelError(msg)


@dataclass(frozen=True)
class Source:
    """Where a factory lives: ``kind`` "file" (``location`` an absolute path), "module" (a module
    name) or "entry_point" (its name; ``location`` the module); ``path`` the file hashed."""

    spec: str
    kind: str
    location: str
    factory: str
    path: str
    sha256: str


def is_user_spec(spec: str, zoo=()) -> bool:
    return isinstance(spec, str) and spec not in zoo


def _sha256(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def resolve(spec: str) -> Source:
    """The :class:`Source` of a ``--model`` spec (nothing is imported; the file is hashed)."""
    if not isinstance(spec, str) or not spec.strip():
        raise _error(f"--model {spec!r}: give a zoo name, path/to/file.py:factory, package.module:factory or a "
                     f"'{ENTRY_POINT_GROUP}' entry point")
    if ":" not in spec:
        return _entry_point(spec)
    where, _, factory = spec.rpartition(":")
    if not factory.isidentifier():
        raise _error(f"--model {spec}: {factory!r} after the ':' is not a Python function name")
    if where.endswith(".py") or "/" in where or os.sep in where:
        path = os.path.abspath(os.path.expanduser(where))
        if not os.path.isfile(path):
            raise _error(f"--model {spec}: {path} does not exist (or is not a file)")
        return Source(spec, "file", path, factory, path, _sha256(path))
    if not _MODULE.match(where):
        raise _error(f"--model {spec}: {where!r} is neither a .py file nor a module name (package.module)")
    try:
        found = importlib.util.find_spec(where)
    except (ImportError, ValueError) as e:
        found, why = None, f" ({type(e).__name__}: {e})"
    else:
        why = ""
    if found is None:
        raise _error(f"--model {spec}: no module named {where!r} can be imported{why}")
    origin = found.origin if found.origin and os.path.isfile(found.origin) else ""
    return Source(spec, "module", where, factory, origin, _sha256(origin) if origin else "")


def _entry_point(name: str) -> Source:
    eps = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    match = [ep for ep in eps if ep.name == name]
    if not match:
        known = ", ".join(sorted(ep.name for ep in eps)) or "none installed"
        raise _error(f"unknown --model {name!r}: not a zoo model (mlp, vgg, ftprop4), not path/to/file.py:factory or "
                     f"package.module:factory, and not a '{ENTRY_POINT_GROUP}' entry point ({known})")
    module, _, factory = match[0].value.partition(":")
    src = resolve(f"{module.strip()}:{factory.strip()}")
    return Source(name, "entry_point", src.location, src.factory, src.path, src.sha256)


def _user_line(tb, path: str) -> str:
    """' (at file.py:12)' for the innermost frame of the traceback inside ``path``, else ''."""
    frames = [f for f in traceback.extract_tb(tb) if path and os.path.abspath(f.filename) == path]
    return f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0]}" if text else type(e).__name__


def check_unchanged(src: Source, recorded_sha256: str) -> None:
    """Refuse a factory file that vanished or changed since the run recorded ``recorded_sha256``."""
    if not recorded_sha256:
        return
    if not src.path or not os.path.isfile(src.path):
        raise _error(f"{src.path or src.location}: the model file of this run no longer exists; restore it to "
                     f"rebuild the model (--model {src.spec})")
    now = _sha256(src.path)
    if now != recorded_sha256:
        raise _error(f"{src.path}: the model file changed since the run was trained (sha256 {recorded_sha256[:12]}… "
                     f"then, {now[:12]}… now); restore that version to rebuild the trained architecture")


def load_factory(src: Source):
    """Import the file / module and return its factory (ModelError naming the file on any problem)."""
    label = src.path or src.location
    if src.kind == "file":
        name = f"binedge_user_model_{src.sha256[:16]}"
        folder = os.path.dirname(src.path)
        added = folder not in sys.path
        if added:
            sys.path.insert(0, folder)
        try:
            spec = importlib.util.spec_from_file_location(name, src.path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module  # dataclasses, pickling and the like look modules up by name
            spec.loader.exec_module(module)
        except BaseException as e:  # noqa: BLE001 - the user's file may raise anything, SystemExit included
            sys.modules.pop(name, None)
            raise _error(f"{label}: importing it raised {_one_line(e)}{_user_line(e.__traceback__, src.path)}") from None
        finally:
            if added:
                sys.path.remove(folder)
    else:
        try:
            module = importlib.import_module(src.location)
        except BaseException as e:  # noqa: BLE001
            raise _error(f"{label}: importing {src.location} raised {_one_line(e)}"
                         f"{_user_line(e.__traceback__, src.path)}") from None
    fn = getattr(module, src.factory, None)
    if fn is None:
        names = sorted(k for k, v in vars(module).items() if callable(v) and not k.startswith("_")
                       and getattr(v, "__module__", None) == module.__name__)
        raise _error(f"{label}: defines no {src.factory!r} (its functions and classes: {', '.join(names) or 'none'}); "
                     f"--model {src.spec} names a factory(image_shape, num_classes) returning the model")
    if not callable(fn):
        raise _error(f"{label}: {src.factory!r} is a {type(fn).__name__}, not a function")
    return fn


def build(src: Source, image_shape, num_classes: int, *, recorded_sha256: str = ""):
    """``factory(image_shape, num_classes)``, checked: an nn.Module that maps a batch of the
    images to (N, num_classes) logits. ``recorded_sha256`` (a run's) must match the file."""
    import torch
    from torch import nn

    check_unchanged(src, recorded_sha256)
    fn = load_factory(src)
    label = src.path or src.location
    shape = tuple(int(v) for v in image_shape)
    call = f"{src.factory}({shape}, {int(num_classes)})"
    try:
        model = fn(shape, int(num_classes))
    except BaseException as e:  # noqa: BLE001
        raise _error(f"{label}: {call} raised {_one_line(e)}{_user_line(e.__traceback__, src.path)}") from None
    if not isinstance(model, nn.Module):
        raise _error(f"{label}: {call} returned a {type(model).__name__}, not a torch.nn.Module")
    batch = (2, shape[2], shape[0], shape[1]) if len(shape) == 3 else (2,) + shape
    what = "x/255 images, NCHW" if len(shape) == 3 else "feature vectors"
    inputs = "images" if len(shape) == 3 else "feature vectors"
    was = model.training
    try:
        model.eval()
        with torch.no_grad():
            out = model(torch.zeros(*batch))
    except BaseException as e:  # noqa: BLE001
        raise _error(f"{label}: the model {call} built fails on a batch of shape {batch} ({what}): "
                     f"{_one_line(e)}{_user_line(e.__traceback__, src.path)}") from None
    finally:
        model.train(was)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, int(num_classes)):
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise _error(f"{label}: the model {call} built returns {got} for a batch of 2 {inputs}; it must return "
                     f"(N, {int(num_classes)}) logits")
    return model
