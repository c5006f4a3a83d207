"""Everything binedge writes follows one rule: a complete result or the previous one, never neither.

Files (``atomic_write_bytes``: run files, report.json, model.bnm, ``binedge bench -o``): written
to a temporary file beside the destination (``.NAME.PID.XXXX.tmp``), fsync'd, given the usual
mode and renamed over the old one.

Directories (``binedge export -o``, with or without ``--target``: ``committed_dir``): built whole
in a staging directory beside the destination (``.NAME.PID.XXXX.tmp``); the directory's manifest
(``firmware.json`` of a firmware project, ``report.json`` of a plain export: every other file
with its SHA-256) is written last, so a staged copy counts as complete only once its manifest
lists files that are all there and intact. The
copy then replaces the old directory in one atomic exchange (Linux ``renameat2`` with
``RENAME_EXCHANGE``). Where the OS cannot exchange (another OS, a filesystem answering EINVAL or
ENOSYS) the old directory is renamed away (``.NAME.PID.XXXX.old``) and the new one renamed in;
a kill between those two renames leaves the destination missing, and ``recover_dir`` puts the
newest complete copy back: the next write to the destination does it first, and so do the
readers (``binedge inspect``, ``binedge emulate``) when they find it missing.

Leftovers of killed runs (staging and old directories, temporary files) are removed by the next
run of a command writing there. A leftover carries the id of the process that made it and is
left alone while that process lives (two commands may write beside each other); names without
one (older binedge versions) count as stale.

Modes: outputs get the usual ones, 0666 & ~umask for files and 0777 & ~umask for directories
(mkstemp / mkdtemp would leave them private).

An existing directory is replaced only if it is empty or a previous output of binedge: its
manifest lists every file in it and none was changed since (build products such as ``build/``
and ``firmware*.elf`` of a firmware project excepted, and stale leftovers, which go with it).

A location that cannot be written (a parent that is a regular file, a read-only or full
directory) is an :class:`OutputError`: one line naming the path and the fix, checked before the
work starts (``check_output_path``) and again where the writing fails.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fnmatch
import hashlib
import io
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

#: The manifests binedge writes into its output directories (looked for in this order): the key
#: of their {relative path: SHA-256} map of every other file, and the build products each kind
#: of directory may hold beside the listed files (``binedge emulate`` runs ``make`` in a
#: firmware project: build/, firmware*.elf, emulate.json). A manifest is a JSON object whose
#: "format" starts with "binedge-".
MANIFESTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "firmware.json": ("files", ("build/", "firmware*.elf", "emulate.json")),
    "report.json": ("sha256", ()),
}

# Temporary files of binedge's writers: ``.NAME.PID.XXXXXXXX.tmp`` (``.NAME.XXXXXXXX.tmp`` from
# older versions; XXXXXXXX: mkstemp's 8 random characters), export_onnx's
# ``.tmp-XXXXXXXX.onnx`` and the ``.curves.png.XXXXXXXX.png`` of older versions. Stale once
# their process is gone; a user's own dotfiles do not match.
_TEMP_FILE = re.compile(r"^\.(?:.+\.(?:\d+\.)?[a-z0-9_]{8}\.tmp|tmp-[a-z0-9_]{8}\.onnx|curves\.png\.[a-z0-9_]{8}\.png)$")
_ACTIVE: set[str] = set()  # staging / old directories this process is using right now


def is_temp_name(name: str) -> bool:
    """Is ``name`` that of a temporary file a binedge writer makes (and removes, or a killed
    run leaves behind)?"""
    return bool(_TEMP_FILE.match(name))


class OutputError(OSError):
    """An output that cannot be written where it was asked for; the message names the path and
    what to do (a user error: the command line prints it as one line)."""


def current_umask() -> int:
    """The process umask, read without changing it (os.umask would race with other threads)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022


def file_mode() -> int:
    return 0o666 & ~current_umask()


def dir_mode() -> int:
    return 0o777 & ~current_umask()


def _why(e: OSError) -> str:
    return e.strerror or type(e).__name__


# ----------------------------------------------------------------------------- locations


def check_output_path(path, option: str = "-o", *, kind: str = "dir") -> None:
    """Raise OutputError unless ``path`` can be written, before any work is done.

    kind: "file" (replaced by a rename in its folder), "dir" (replaced whole by a copy staged
    beside it) or "rundir" (a directory written into). Every existing parent must be a
    directory, ``path`` itself must be of the right kind if it exists, and the folder where
    binedge creates entries (the deepest existing one) must accept them: tried for real with a
    probe directory, so read-only mounts and immutable directories are caught even for root.
    """
    p = Path(path)
    fix = f"choose another {option}"
    if p.exists() or p.is_symlink():
        if kind == "file" and p.is_dir():
            raise OutputError(f"cannot write {p}: it is a directory; {fix} (a file name)")
        if kind != "file" and not p.is_dir():
            raise OutputError(f"cannot write {p}: it exists and is not a directory; {fix} or remove it")
    anchor = None
    for a in [*reversed(p.parents), p]:
        if not (a.exists() or a.is_symlink()):
            break
        if a != p and not a.is_dir():
            raise OutputError(f"cannot write {p}: {a} is a file, not a directory; {fix}")
        if a != p or kind == "rundir":
            anchor = a
    anchor = anchor if anchor is not None else Path(".")
    try:
        probe = tempfile.mkdtemp(prefix=f".binedge-probe.{os.getpid()}.", dir=anchor)
        os.rmdir(probe)
    except OSError as e:
        raise OutputError(f"cannot write {p}: {anchor} is not writable ({_why(e)}); {fix} or make {anchor} "
                          f"writable") from None


def make_dirs(path, option: str = "-o") -> Path:
    """``mkdir -p`` with OutputError (naming the path and the option) instead of an OSError."""
    p = Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create the directory {p} ({_why(e)}); choose another {option}") from None
    return p


# ----------------------------------------------------------------------------- files


def _temp_prefix(name: str) -> str:
    return f".{name}.{os.getpid()}."


def atomic_write_bytes(path, payload: bytes) -> Path:
    """Write ``payload`` to ``path`` atomically (fsync'd temp file + os.replace, the usual mode);
    returns the path. OutputError if it cannot be written."""
    path = Path(path)
    make_dirs(path.parent)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_temp_prefix(path.name), suffix=".tmp")
    except OSError as e:
        raise OutputError(f"cannot write {path} ({_why(e)}); choose another output location") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, file_mode())  # mkstemp makes 0600; outputs get the usual mode
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"cannot write {path} ({_why(e)}); choose another output location") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_json(path, obj) -> Path:
    return atomic_write_bytes(path, (json.dumps(obj, indent=2) + "\n").encode())


def atomic_torch_save(obj, path) -> Path:
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return atomic_write_bytes(path, buf.getvalue())


# ----------------------------------------------------------------------------- leftovers


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


# What follows ``.NAME.`` in a leftover's name: ``PID.XXXXXXXX.tmp`` (``.old``) from this
# version (the 8 random characters of mkstemp / mkdtemp), ``XXXXXXXX.tmp`` from older ones.
_LEFTOVER_TAIL = re.compile(r"^(?:(\d+)\.)?[a-z0-9_]{8}\.(tmp|old)$")


def _stale(entry: Path, pid: str | None) -> bool:
    """Is a leftover stale: not in use by this process, and its process (``pid``, None for
    older binedge versions, which wrote none) is gone?"""
    if str(entry) in _ACTIVE:
        return False
    if pid is None or int(pid) == os.getpid():
        return True
    return not _pid_alive(int(pid))


def _leftover_dirs(out: Path) -> list[Path]:
    """Stale staging (.tmp) and replaced (.old) directories of ``out`` beside it."""
    prefix = f".{out.name}."
    found = []
    try:
        entries = list(out.parent.iterdir())
    except OSError:
        return []
    for e in entries:
        m = _LEFTOVER_TAIL.match(e.name[len(prefix):]) if e.name.startswith(prefix) else None
        if m and e.is_dir() and not e.is_symlink() and _stale(e, m.group(1)):
            found.append(e)
    return found


def clean_stale_files(directory, name: str | None = None) -> list[Path]:
    """Remove the temporary files that killed binedge runs left in ``directory`` (only those of
    the output ``name`` when given; files only; those of live processes stay). Returns what
    was removed."""
    d = Path(directory)
    removed = []
    if not d.is_dir():
        return removed
    for e in d.iterdir():
        if not is_temp_name(e.name) or not e.is_file() or e.is_symlink():
            continue
        if name is not None and not e.name.startswith(f".{name}."):
            continue
        m = re.match(r"^\..+?\.(\d+)\.[a-z0-9_]{8}\.tmp$", e.name)
        if not _stale(e, m.group(1) if m else None):
            continue
        with contextlib.suppress(OSError):
            e.unlink()
            removed.append(e)
    return removed


# ----------------------------------------------------------------------------- manifests


def sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_owned_manifest(directory) -> tuple[str, dict] | None:
    """(name, {relative path: SHA-256}) of the binedge manifest in ``directory``, or None."""
    d = Path(directory)
    for name, (key, _) in MANIFESTS.items():
        p = d / name
        if not p.is_file():
            continue
        try:
            m = json.loads(p.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(m, dict) and str(m.get("format", "")).startswith("binedge-") and isinstance(m.get(key), dict):
            return name, m[key]
    return None


def verify_manifest(directory) -> list[str]:
    """What is wrong with a binedge output directory, as short phrases (empty: complete and
    unchanged): no manifest, listed files missing or changed since they were written."""
    d = Path(directory)
    found = read_owned_manifest(d)
    if found is None:
        return [f"no manifest ({' or '.join(MANIFESTS)} listing its files)"]
    name, files = found
    if not files:
        return [f"{name} lists no files"]
    missing, changed = [], []
    for rel, digest in sorted(files.items()):
        p = d / rel
        if not p.is_file():
            missing.append(rel)
        elif sha256(p) != digest:
            changed.append(rel)
    problems = []
    if missing:
        problems.append(f"missing {_show(missing)}")
    if changed:
        problems.append(f"changed since they were written: {_show(changed)}")
    return problems


def _show(names: list[str]) -> str:
    return ", ".join(names[:5]) + (" ..." if len(names) > 5 else "")


def _generated(manifest: str, rel: str) -> bool:
    for pat in MANIFESTS[manifest][1] if manifest in MANIFESTS else ():
        if pat.endswith("/"):
            if rel.split("/", 1)[0] == pat[:-1]:
                return True
        elif "/" not in rel and fnmatch.fnmatchcase(rel, pat):
            return True
    return False


# ----------------------------------------------------------------------------- directories


def check_out_dir(out, option: str = "-o", *, legacy=None) -> None:
    """Raise OutputError unless ``out`` may be replaced as a whole: absent, an empty directory, or
    a binedge output directory holding nothing but its manifest's unchanged files, the build
    products its kind allows and stale leftovers. ``legacy(out) -> bool`` may accept a
    directory without a manifest (the export directories of older binedge versions)."""
    out = Path(out)
    if not out.exists() and not out.is_symlink():
        return
    if out.is_symlink() or not out.is_dir():
        raise OutputError(f"{out} exists and is not a directory: refusing to replace it; choose another {option}")
    try:
        cwd = Path.cwd().resolve()
    except OSError:
        cwd = None
    real = out.resolve()
    if cwd is not None and (real == cwd or real in cwd.parents):
        raise OutputError(f"{out} is the current directory or contains it: binedge replaces {option} as a whole; "
                          f"choose another {option} (e.g. a new subdirectory)")
    entries = list(out.iterdir())
    if not entries:
        return
    found = read_owned_manifest(out)
    if found is None:
        if legacy is not None and legacy(out):
            return
        raise OutputError(f"{out} exists and is not a binedge output directory (no {' or '.join(MANIFESTS)} "
                          f"listing its files): refusing to overwrite it; choose another {option} or remove it")
    name, ours = found
    foreign, edited = [], []
    for p in sorted(out.rglob("*")):
        rel = p.relative_to(out).as_posix()
        if p.is_dir() and not p.is_symlink():
            continue
        if rel == name or _generated(name, rel) or ("/" not in rel and is_temp_name(rel)):
            continue
        if rel in ours and not p.is_symlink():
            if sha256(p) != ours[rel]:
                edited.append(rel)
            continue
        foreign.append(rel)
    if foreign or edited:
        what = []
        if foreign:
            what.append(f"files binedge did not write ({_show(foreign)})")
        if edited:
            what.append(f"files changed since the export ({_show(edited)})")
        raise OutputError(f"{out} is a binedge output directory but holds {' and '.join(what)}: refusing to "
                          f"overwrite it; move them or choose another {option}")


def recover_dir(out) -> Path | None:
    """If ``out`` is missing and a killed write left a complete copy of it beside it (a staged
    ``.NAME.*.tmp`` whose manifest was written, or the replaced ``.NAME.*.old``), rename the
    newest complete one (by its manifest's time) back to ``out``. Returns ``out`` if restored."""
    out = Path(out)
    if out.exists() or out.is_symlink() or not out.name:
        return None
    complete = []
    for d in _leftover_dirs(out):
        found = read_owned_manifest(d)
        if found is not None and not verify_manifest(d):
            complete.append(((d / found[0]).stat().st_mtime_ns, d))
    for _, d in sorted(complete, reverse=True):
        try:
            os.rename(d, out)
        except OSError:
            continue
        return out
    return None


def clean_stale_dirs(out) -> None:
    """Remove the staging / replaced directories that killed writes of ``out`` left beside it."""
    for d in _leftover_dirs(Path(out)):
        shutil.rmtree(d, ignore_errors=True)


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _libc_renameat2():
    """libc's renameat2 (glibc >= 2.28), or None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


def exchange(a, b) -> bool:
    """Swap the paths ``a`` and ``b`` in one atomic step (renameat2 RENAME_EXCHANGE). False where
    the OS or the filesystem cannot (then nothing changed); OSError for other failures."""
    fn = _libc_renameat2()
    if fn is None:
        return False
    if fn(_AT_FDCWD, os.fsencode(str(a)), _AT_FDCWD, os.fsencode(str(b)), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _normal_modes(stage: Path) -> None:
    """mkdtemp / mkstemp make private (0700 / 0600) entries: give the output the usual modes."""
    fmode, dmode = file_mode(), dir_mode()
    os.chmod(stage, dmode)
    for p in stage.rglob("*"):
        if not p.is_symlink():
            os.chmod(p, dmode if p.is_dir() else fmode)


def _seal(stage: Path, manifest: str) -> None:
    """Record every file of the finished stage in its manifest and write it, last: from now on
    the stage is a complete copy (recover_dir may restore it)."""
    p = stage / manifest
    try:
        m = json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise OutputError(f"{p}: the manifest of the staged output is missing or unreadable ({e})") from None
    m[MANIFESTS[manifest][0]] = {q.relative_to(stage).as_posix(): sha256(q)
                                 for q in sorted(stage.rglob("*")) if q.is_file() and q.relative_to(stage).as_posix() != manifest}
    with open(p, "w") as f:
        f.write(json.dumps(m, indent=2) + "\n")
        f.flush()
        os.fsync(f.fileno())


@contextlib.contextmanager
def committed_dir(out, *, manifest: str, option: str = "-o", legacy=None) -> Iterator[Path]:
    """Write the directory ``out`` as a whole: yields a fresh staging directory beside it, in
    which the caller writes everything, ``manifest`` included (a JSON object whose "format"
    starts with "binedge-"; its file map, MANIFESTS' key, is filled in here). When the block ends without an exception the manifest is sealed, the modes
    made usual, and the stage swapped in for ``out``; on an exception it is deleted and ``out``
    is untouched. First recovers ``out`` from an interrupted earlier write, removes stale
    leftovers and checks that ``out`` may be replaced (check_out_dir)."""
    if manifest not in MANIFESTS:
        raise ValueError(f"unknown manifest {manifest!r}")
    out = Path(out)
    recover_dir(out)
    clean_stale_dirs(out)
    check_out_dir(out, option, legacy=legacy)
    make_dirs(out.parent, option)
    try:
        stage = Path(tempfile.mkdtemp(prefix=_temp_prefix(out.name), suffix=".tmp", dir=out.parent))
    except OSError as e:
        raise OutputError(f"cannot write {out}: {out.parent} is not writable ({_why(e)}); "
                          f"choose another {option}") from None
    _ACTIVE.add(str(stage))
    try:
        yield stage
        check_out_dir(out, option, legacy=legacy)  # again: something may have appeared meanwhile
        _normal_modes(stage)
        _seal(stage, manifest)  # last: the stage is complete from here on
        try:
            _swap_in(stage, out)
        except OSError as e:
            raise OutputError(f"cannot replace {out} ({_why(e)}); choose another {option}") from None
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)
        _ACTIVE.discard(str(stage))


def _swap_in(stage: Path, out: Path) -> None:
    if not (out.exists() or out.is_symlink()):
        os.rename(stage, out)  # nothing to replace: one rename is atomic
        return
    if exchange(stage, out):
        shutil.rmtree(stage, ignore_errors=True)  # the stage's name now holds the old directory
        return
    # No atomic exchange here: old away, new in. A kill between the two leaves ``out`` missing
    # and both complete copies beside it, which recover_dir restores.
    old = Path(tempfile.mkdtemp(prefix=_temp_prefix(out.name), suffix=".old", dir=out.parent))
    old.rmdir()
    _ACTIVE.add(str(old))
    try:
        os.rename(out, old)
        try:
            os.rename(stage, out)
        except BaseException:
            os.rename(old, out)
            raise
        shutil.rmtree(old, ignore_errors=True)
    finally:
        _ACTIVE.discard(str(old))
