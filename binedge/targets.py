"""Build and run C programs on every deployment target (DESIGN.md §5, docs/targets.md).

A target is data: ``targets/<name>/target.json`` (compiler, flags, how to run, memory,
features) plus, for a Cortex-M board, its ``link.ld`` and ``startup.c`` (vector table).
``targets/common/`` holds what all targets share: ``board.h/.c`` (reset and fault
handlers, semihosting exit, stack high-water mark, tick counter) and ``cortex-m.ld``.

    from binedge import targets
    elf = targets.build("cortex-m4", [Path("main.c")], include_dirs=[inc])
    res = targets.run("cortex-m4", elf, icount=True)     # RunResult
    res.returncode, res.stdout, targets.size("cortex-m4", elf)

One runner for all kinds:
  - ``mcu``: ``qemu-system-arm -M <board> -nographic ... -semihosting-config
    enable=on,target=native,chardev=semihost -kernel <elf>``; the semihosting console is
    routed to QEMU's stdout, main's return value comes back as QEMU's exit status
    (SYS_EXIT_EXTENDED), a fault exits with ``FAULT_EXIT_CODE`` after a report.
  - ``linux-user``: ``qemu-aarch64 <elf>`` / ``qemu-arm <elf>`` (static binaries).
  - ``native``: the ELF itself.

``RunResult.stdout`` is always the program's own output (printf), ``stderr`` QEMU's or the
program's diagnostics. A missing compiler, QEMU or C library is a ``ToolchainError`` naming
the Debian package to install, never a silent skip. Builds are cached by content hash under
``build/targets/`` (safe with concurrent pytest workers: outputs are renamed into place).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import resource
import shutil
import signal
import struct
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

__all__ = [
    "ALIASES",
    "BUILD_DIR",
    "COMMON_DIR",
    "FAULT_EXIT_CODE",
    "TARGETS",
    "TARGETS_DIR",
    "BuildError",
    "ElfError",
    "RunResult",
    "RunTimeout",
    "Target",
    "TargetError",
    "ToolchainError",
    "all_target_names",
    "build",
    "check_elf",
    "check_tools",
    "get_target",
    "icount_shift",
    "instructions_from_ticks",
    "mcu_targets",
    "run",
    "run_command",
    "size",
]

REPO_DIR = Path(__file__).resolve().parent.parent
TARGETS_DIR = REPO_DIR / "targets"
COMMON_DIR = TARGETS_DIR / "common"
BUILD_DIR = Path(os.environ.get("BINEDGE_TARGET_BUILD_DIR", REPO_DIR / "build" / "targets"))
FAULT_EXIT_CODE = 250  # BE_TARGET_EXIT_FAULT in targets/common/board.h
KINDS = ("mcu", "bare-metal", "linux-user", "native")
# Kinds run bare metal under qemu-system-* (semihosting console and exit, linker script, board
# startup, -icount): the Cortex-M boards ("mcu") and the Cortex-A virt boards ("bare-metal").
SYSTEM_KINDS = ("mcu", "bare-metal")


class TargetError(ValueError):
    """Unknown target name or a request the target cannot serve."""


class ToolchainError(RuntimeError):
    """A compiler, emulator or C library a target needs is not installed."""


class BuildError(RuntimeError):
    """The compiler rejected the program; ``output`` holds its messages."""

    def __init__(self, message: str, output: str = ""):
        self.output = output
        super().__init__(f"{message}\n{output}" if output else message)


class RunTimeout(RuntimeError):
    """The program did not finish within the timeout (QEMU was killed)."""

    def __init__(self, message: str, stdout: str = "", stderr: str = ""):
        self.stdout, self.stderr = stdout, stderr
        super().__init__(message)


@dataclasses.dataclass(frozen=True)
class Target:
    name: str
    kind: str
    description: str
    dir: Path
    cc: str
    cflags: tuple[str, ...]
    ldflags: tuple[str, ...]
    support: tuple[str, ...]            # board sources linked into every program
    run_cmd: tuple[str, ...]            # with {elf}
    icount_args: tuple[str, ...]
    memory: Mapping[str, object]
    features: tuple[str, ...]
    tick_hz: int
    tools: Mapping[str, str]            # executable -> Debian package
    files: Mapping[str, str]            # file the compiler must find -> Debian package
    aliases: tuple[str, ...] = ()

    @property
    def is_mcu(self) -> bool:
        """Bare metal under qemu-system-* (kind "mcu": the Cortex-M boards, or "bare-metal": the
        Cortex-A virt boards): linker script, startup, semihosting, -icount instruction counts."""
        return self.kind in SYSTEM_KINDS

    def expand(self, arg: str, elf: Path | None = None) -> str:
        arg = arg.replace("{target_dir}", str(self.dir)).replace("{common_dir}", str(COMMON_DIR))
        if elf is not None:
            arg = arg.replace("{elf}", str(elf))
        return arg

    @property
    def support_sources(self) -> list[Path]:
        return [Path(self.expand(s)) for s in self.support]

    @property
    def machine(self) -> str | None:
        """QEMU ``-M`` board of an MCU target."""
        cmd = list(self.run_cmd)
        return cmd[cmd.index("-M") + 1] if "-M" in cmd else None


def _load_target(path: Path) -> Target:
    d = json.loads(path.read_text())
    name = d["name"]
    if name != path.parent.name:
        raise TargetError(f"{path}: name {name!r} differs from its folder {path.parent.name!r}")
    if d["kind"] not in KINDS:
        raise TargetError(f"{path}: kind {d['kind']!r} is not one of {KINDS}")
    return Target(
        name=name, kind=d["kind"], description=d.get("description", ""), dir=path.parent,
        cc=d["cc"], cflags=tuple(d.get("cflags", ())), ldflags=tuple(d.get("ldflags", ())),
        support=tuple(d.get("support", ())), run_cmd=tuple(d["run"]),
        icount_args=tuple(d.get("icount", ())), memory=dict(d.get("memory", {})),
        features=tuple(d.get("features", ())), tick_hz=int(d.get("tick_hz", 0)),
        tools=dict(d.get("tools", {})), files=dict(d.get("files", {})),
        aliases=tuple(d.get("aliases", ())),
    )


def _load_all() -> tuple[dict[str, Target], dict[str, str]]:
    targets: dict[str, Target] = {}
    for p in sorted(TARGETS_DIR.glob("*/target.json")):
        t = _load_target(p)
        targets[t.name] = t
    aliases: dict[str, str] = {}
    for t in targets.values():
        for a in t.aliases:
            if a in targets or a in aliases:
                raise TargetError(f"alias {a!r} of {t.name} is already taken")
            aliases[a] = t.name
    return targets, aliases


TARGETS, ALIASES = _load_all()


def all_target_names() -> list[str]:
    """Every target: the bare-metal boards first (mcu_targets()), then the hosted ones."""
    return mcu_targets() + sorted(n for n, t in TARGETS.items() if not t.is_mcu)


def mcu_targets() -> list[str]:
    """The bare-metal targets under qemu-system-*: the Cortex-M boards by core number, then the
    Cortex-A virt boards (kind "bare-metal") by name."""
    return sorted((n for n, t in TARGETS.items() if t.is_mcu), key=_mcu_key)


def _mcu_key(name: str):
    if TARGETS[name].kind != "mcu":
        return (1, 0, name)
    digits = "".join(c for c in name if c.isdigit())
    return (0, int(digits) if digits else 0, name)


def get_target(name: str | Target) -> Target:
    """A target by name or alias ('cortex-m' is cortex-m4); TargetError lists the known ones."""
    if isinstance(name, Target):
        return name
    key = ALIASES.get(name, name)
    if key not in TARGETS:
        known = ", ".join(all_target_names())
        alias = ", ".join(f"{a} -> {n}" for a, n in sorted(ALIASES.items()))
        raise TargetError(f"unknown target {name!r}; known targets: {known} (aliases: {alias})")
    return TARGETS[key]


# ----------------------------------------------------------------------------- toolchain checks


def _install_hint(package: str) -> str:
    return (f"install the Debian package {package} (apt-get install --no-install-recommends {package}, "
            f"or run scripts/bootstrap.sh)")


@functools.cache
def _cc_finds(cc: str, flags: tuple[str, ...], file: str) -> bool:
    r = subprocess.run([cc, *flags, f"-print-file-name={file}"], check=False, capture_output=True, text=True)
    found = r.stdout.strip()
    return r.returncode == 0 and os.path.isabs(found) and os.path.exists(found)


def check_tools(target: str | Target, *, build: bool = True, run: bool = True) -> None:
    """Raise ToolchainError (naming the Debian package) if anything the target needs is missing."""
    t = get_target(target)
    runner = t.run_cmd[0]
    for tool, package in t.tools.items():
        if (tool == runner and not run) or (tool != runner and not build):
            continue
        if shutil.which(tool) is None:
            raise ToolchainError(f"target {t.name}: {tool} not found: {_install_hint(package)}")
    if build:
        if shutil.which(t.cc) is None:
            raise ToolchainError(f"target {t.name}: compiler {t.cc} not found (add it to 'tools' in "
                                 f"{t.dir / 'target.json'} with its Debian package)")
        flags = tuple(t.expand(f) for f in t.cflags)
        for file, package in t.files.items():
            if not _cc_finds(t.cc, flags, file):
                raise ToolchainError(f"target {t.name}: {t.cc} cannot find {file}: {_install_hint(package)}")


# ----------------------------------------------------------------------------- building


@functools.cache
def _cc_version(cc: str) -> str:
    r = subprocess.run([cc, "--version"], check=False, capture_output=True, text=True)
    return r.stdout.splitlines()[0] if r.stdout else cc


def _file_digest(h, path: Path) -> None:
    h.update(str(path).encode() + b"\0")
    h.update(path.read_bytes() if path.is_file() else b"<missing>")
    h.update(b"\0")


def _headers(include_dirs: Iterable[Path], sources: Iterable[Path]) -> list[Path]:
    """Headers a build may depend on: everything under the include dirs, and the
    headers next to each source (a build is only as fresh as this guess; the
    cache key also covers every source and target file)."""
    found: set[Path] = set()
    for d in include_dirs:
        if d.is_dir():
            found.update(p for p in d.rglob("*") if p.suffix in (".h", ".inc", ".def") and p.is_file())
    for s in sources:
        found.update(p for p in s.parent.glob("*") if p.suffix in (".h", ".inc") and p.is_file())
    return sorted(found)


def _norm_defines(defines: Iterable[str | tuple[str, object]]) -> list[str]:
    out = []
    for d in defines:
        if isinstance(d, tuple):
            out.append(f"-D{d[0]}={d[1]}")
        else:
            out.append(f"-D{d}")
    return out


def _run_cc(cmd: list[str], what: str) -> None:
    r = subprocess.run(cmd, check=False, capture_output=True, text=True)
    if r.returncode != 0:
        raise BuildError(f"{what} failed: {' '.join(cmd)}", (r.stdout + r.stderr).strip())


def _atomic_target(final: Path) -> Path:
    final.parent.mkdir(parents=True, exist_ok=True)
    return final.with_name(f".{final.name}.{os.getpid()}.tmp")


def _support_objects(t: Target) -> list[Path]:
    """The target's board sources (startup, board.c), compiled once with the target's own
    flags only (not the program's warning flags), cached by content."""
    flags = [t.expand(f) for f in t.cflags]
    defs = [f'-DBE_TARGET_NAME="{t.name}"', f"-DBE_BOARD_TICK_HZ={t.tick_hz}u"]
    base = [t.cc, *flags, "-O2", "-g", "-Wall", "-Wextra", "-I", str(COMMON_DIR), *defs]
    h = hashlib.sha256()
    h.update(json.dumps([_cc_version(t.cc), base]).encode())
    for p in [*t.support_sources, *sorted(COMMON_DIR.glob("*.h"))]:
        _file_digest(h, p)
    out_dir = BUILD_DIR / t.name / f"support-{h.hexdigest()[:16]}"
    objs = []
    for src in t.support_sources:
        obj = out_dir / f"{src.parent.name}-{src.stem}.o"
        if not obj.exists():
            tmp = _atomic_target(obj)
            _run_cc([*base, "-c", str(src), "-o", str(tmp)], f"{t.name}: compiling {src.name}")
            os.replace(tmp, obj)
        objs.append(obj)
    return objs


def build(target: str | Target, sources: Sequence[str | Path], out_elf: str | Path | None = None, *,
          include_dirs: Sequence[str | Path] = (), defines: Iterable[str | tuple[str, object]] = (),
          opt: str = "-O2", cflags: Sequence[str] = (), ldflags: Sequence[str] = (),
          cache: bool = True) -> Path:
    """Compile and link C ``sources`` (plus the target's board support) for ``target``.

    ``include_dirs`` become -I, ``defines`` -D (``"X"``, ``"X=1"`` or ``("X", 1)``), ``cflags``
    are appended to the target's flags for the program's own sources only (so ``-Werror``
    and friends do not apply to the board files), ``ldflags`` to the link.
    The ELF is cached under build/targets/<target>/ by a hash of the compiler, the flags and
    the contents of every source, header (include dirs, the sources' folders) and target
    file; it is copied to ``out_elf`` when given. Returns the ELF path.
    """
    t = get_target(target)
    check_tools(t, build=True, run=False)
    srcs = [Path(s).resolve() for s in sources]
    if not srcs:
        raise TargetError("build: no sources")
    for s in srcs:
        if not s.is_file():
            raise BuildError(f"build: no such source {s}")
    incs = [Path(d).resolve() for d in include_dirs]
    support = _support_objects(t)

    cmd = [t.cc, *(t.expand(f) for f in t.cflags), opt, *cflags, "-I", str(COMMON_DIR)]
    for d in incs:
        cmd += ["-I", str(d)]
    cmd += _norm_defines(defines)
    link = [*(t.expand(f) for f in t.ldflags), *ldflags]

    h = hashlib.sha256()
    h.update(json.dumps([_cc_version(t.cc), cmd, link, [str(s) for s in srcs]]).encode())
    for p in [*srcs, *_headers(incs, srcs), *support, t.dir / "target.json", *sorted(t.dir.glob("*.ld")),
              *sorted(COMMON_DIR.glob("*.ld"))]:
        _file_digest(h, p)
    key = h.hexdigest()[:20]
    stem = Path(out_elf).stem if out_elf is not None else srcs[0].stem
    cached = BUILD_DIR / t.name / f"{stem}-{key}.elf"

    if not (cache and cached.exists()):
        tmp = _atomic_target(cached)
        _run_cc([*cmd, *map(str, srcs), *map(str, support), *link, "-o", str(tmp)], f"{t.name}: building {stem}")
        os.replace(tmp, cached)
    if out_elf is None:
        return cached
    out = Path(out_elf)
    if out.resolve() != cached.resolve():
        tmp = _atomic_target(out)
        shutil.copyfile(cached, tmp)
        os.chmod(tmp, 0o755)
        os.replace(tmp, out)
    return out


# ----------------------------------------------------------------------------- running


@dataclasses.dataclass
class RunResult:
    """``stdout``: the program's output (the semihosting console on MCUs);
    ``stderr``: diagnostics (QEMU's, or the program's stderr on hosted targets)."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float
    target: str = ""
    cmd: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def faulted(self) -> bool:
        """An MCU program took a fault (the board's fault handler reported and exited)."""
        return self.returncode == FAULT_EXIT_CODE and "binedge: FAULT" in self.stdout

    def check(self) -> RunResult:
        """Raise RuntimeError with the output unless the program returned 0."""
        if self.returncode != 0:
            raise RuntimeError(f"{self.target}: exit status {self.returncode}\n"
                               f"--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}")
        return self


def run_command(target: str | Target, elf: str | Path, *, icount: bool = False,
                args: Sequence[str] = ()) -> list[str]:
    """The exact command line ``run`` uses."""
    t = get_target(target)
    elf = Path(elf).resolve()
    cmd = [t.expand(a, elf) for a in t.run_cmd]
    if icount:
        if not t.icount_args:
            raise TargetError(f"target {t.name} ({t.kind}) has no deterministic instruction count (-icount); "
                              f"only the bare-metal targets under qemu-system-arm / qemu-system-aarch64 do")
        cmd += list(t.icount_args)
    if args:
        if t.is_mcu:
            raise TargetError(f"target {t.name}: bare-metal programs take no command-line arguments "
                              f"(main(void)); compile parameters in with defines=")
        cmd += list(args)
    return cmd


def _no_core_dumps() -> None:
    # a crashing program under test (or qemu-user's "core dumped") must not litter the cwd
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run(target: str | Target, elf: str | Path, *, timeout: float = 120, icount: bool = False,
        args: Sequence[str] = (), env: Mapping[str, str] | None = None) -> RunResult:
    """Run an ELF built by ``build`` on its target; always under a timeout.

    ``icount=True`` (MCU only) adds ``-icount shift=6,align=off,sleep=off``: QEMU's virtual
    clock then advances 64 ns per executed instruction, so board_ticks() counts are
    proportional to instructions (not cycles) and identical from run to run.
    On timeout QEMU (its whole process group) is killed and RunTimeout raised.
    """
    t = get_target(target)
    check_tools(t, build=False, run=True)
    elf = Path(elf)
    if not elf.is_file():
        raise FileNotFoundError(elf)
    cmd = run_command(t, elf, icount=icount, args=args)
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True, preexec_fn=_no_core_dumps,  # noqa: PLW1509 (setrlimit only)
                            env=None if env is None else {**os.environ, **env})
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
        raise RunTimeout(f"{t.name}: {elf.name} did not finish within {timeout} s (killed): {' '.join(cmd)}",
                         out.decode(errors="replace"), err.decode(errors="replace")) from None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return RunResult(proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"),
                     time.monotonic() - t0, t.name, tuple(cmd))


def icount_shift(target: str | Target) -> int:
    """The ``shift`` of the target's ``-icount`` option (ns per instruction = 2**shift)."""
    t = get_target(target)
    for a in t.icount_args:
        for part in a.split(","):
            if part.startswith("shift="):
                return int(part[len("shift="):])
    raise TargetError(f"target {t.name} ({t.kind}) has no -icount setting")


def instructions_from_ticks(target: str | Target, ticks: int) -> float:
    """Convert a board_ticks() difference measured under ``run(..., icount=True)`` into
    executed instructions: QEMU advances 2**shift ns per instruction and the tick counter
    runs at the target's ``tick_hz``. These are instruction counts, not cycles."""
    t = get_target(target)
    return ticks / ((2 ** icount_shift(t)) * 1e-9 * t.tick_hz)


# ----------------------------------------------------------------------------- size

_SHF_WRITE, _SHF_ALLOC, _SHF_EXECINSTR, _SHF_TLS = 0x1, 0x2, 0x4, 0x400
_SHT_NOBITS = 8


class ElfError(ValueError):
    """A file that is not a complete, well-formed ELF file (truncated, corrupt, not an ELF)."""


def _elf_check(path: Path, *, executable: bool) -> tuple[bytes, list[tuple[str, int, int, int, int]]]:
    """Read ``path`` and check every header it has against the file's size; returns the bytes
    and (name, type, flags, offset, size) of every section. ``executable``: also require
    program headers whose loaded bytes all lie inside the file. ElfError names the file and
    what is wrong (a truncated file typically loses its section headers, which come last)."""
    data = path.read_bytes()
    n = len(data)

    def bad(why: str):
        raise ElfError(f"{path} is not a valid ELF file: {why}")

    if n < 16 or data[:4] != b"\x7fELF":
        bad("it does not start with the ELF magic bytes" if n >= 4 else f"only {n} bytes long")
    if data[4] not in (1, 2) or data[5] not in (1, 2):
        bad(f"unknown class / byte order ({data[4]}, {data[5]}) in its identification bytes")
    is64 = data[4] == 2
    end = "<" if data[5] == 1 else ">"
    ehsize = 64 if is64 else 52
    if n < ehsize:
        bad(f"truncated: {n} bytes, shorter than the {ehsize}-byte ELF header")
    if is64:
        phoff, shoff = struct.unpack_from(end + "QQ", data, 0x20)
        phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(end + "HHHHH", data, 0x36)
        ph_fmt, sh_fmt = end + "IIQQQQQQ", end + "IIQQQQIIQQ"
    else:
        phoff, shoff = struct.unpack_from(end + "II", data, 0x1C)
        phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(end + "HHHHH", data, 0x2A)
        ph_fmt, sh_fmt = end + "IIIIIIII", end + "IIIIIIIIII"

    if executable:
        if phnum == 0:
            bad("no program headers (nothing to load)")
        if phentsize < struct.calcsize(ph_fmt):
            bad(f"program header entries of {phentsize} bytes, {struct.calcsize(ph_fmt)} expected")
        if phoff + phnum * phentsize > n:
            bad(f"truncated: its program headers end at byte {phoff + phnum * phentsize:,}, the file has {n:,}")
        loads = 0
        for i in range(phnum):
            ph = struct.unpack_from(ph_fmt, data, phoff + i * phentsize)
            p_type, p_offset, p_filesz = (ph[0], ph[2], ph[5]) if is64 else (ph[0], ph[1], ph[4])
            if p_type == 1:  # PT_LOAD
                loads += 1
                if p_offset + p_filesz > n:
                    bad(f"truncated: loadable segment {i} ends at byte {p_offset + p_filesz:,}, the file has {n:,}")
        if not loads:
            bad("no loadable segment in its program headers")

    if shnum == 0:
        bad("no section headers")
    if shentsize < struct.calcsize(sh_fmt):
        bad(f"section header entries of {shentsize} bytes, {struct.calcsize(sh_fmt)} expected")
    if shoff + shnum * shentsize > n:
        bad(f"truncated: its section headers end at byte {shoff + shnum * shentsize:,}, the file has {n:,}")
    headers = [struct.unpack_from(sh_fmt, data, shoff + i * shentsize) for i in range(shnum)]
    if shstrndx >= shnum:
        bad(f"section name table index {shstrndx} out of range ({shnum} sections)")
    str_off, str_size = headers[shstrndx][4], headers[shstrndx][5]
    if str_off + str_size > n:
        bad(f"truncated: the section name table ends at byte {str_off + str_size:,}, the file has {n:,}")
    sections = []
    for i, h in enumerate(headers):
        name_off, typ, flags, off, size = h[0], h[1], h[2], h[4], h[5]
        end_name = data.find(b"\0", str_off + name_off, str_off + str_size) if name_off < str_size else -1
        if end_name < 0:
            bad(f"section {i} has a name outside the section name table")
        if typ != _SHT_NOBITS and typ != 0 and off + size > n:
            bad(f"truncated: section {i} ends at byte {off + size:,}, the file has {n:,}")
        sections.append((data[str_off + name_off:end_name].decode(errors="replace"), typ, flags, off, size))
    return data, sections


def check_elf(path: str | Path) -> None:
    """Raise ElfError unless ``path`` is a complete ELF executable (every header and loadable
    segment inside the file). Cheap: run it before handing a file to QEMU or to ``size``."""
    _elf_check(Path(path), executable=True)


def _elf_sections(path: Path) -> list[tuple[str, int, int, int]]:
    """(name, type, flags, size) of every section, read straight from the ELF header (checked:
    ElfError for a truncated or corrupt file, never a struct.error)."""
    return [(name, typ, flags, size) for name, typ, flags, _, size in _elf_check(Path(path), executable=False)[1]]


def size(target: str | Target, elf: str | Path) -> dict[str, int]:
    """Bytes by kind, from the ELF section headers (no external tool):
    ``text`` (code), ``rodata`` (constants incl. the vector table, unwind tables),
    ``data`` (initialised RAM, also stored in flash), ``bss`` (zeroed RAM), ``stack``
    (the reserved stack of an MCU target), and the totals ``flash`` = text + rodata + data
    and ``ram`` = data + bss + stack, plus ``flash_size``/``ram_size`` of the board when known.
    """
    t = get_target(target)
    out = {"text": 0, "rodata": 0, "data": 0, "bss": 0, "stack": 0}
    for name, typ, flags, sz in _elf_sections(Path(elf)):
        if not flags & _SHF_ALLOC or sz == 0:
            continue
        if name == ".stack":
            out["stack"] += sz
        elif typ == _SHT_NOBITS:
            if flags & _SHF_TLS and t.is_mcu:
                continue  # .tbss: its space is reserved by .tbss_space
            out["bss"] += sz
        elif flags & _SHF_EXECINSTR:
            out["text"] += sz
        elif flags & _SHF_WRITE or flags & _SHF_TLS:
            out["data"] += sz
        else:
            out["rodata"] += sz
    out["flash"] = out["text"] + out["rodata"] + out["data"]
    out["ram"] = out["data"] + out["bss"] + out["stack"]
    if "flash" in t.memory:
        out["flash_size"] = int(t.memory["flash"])
    if "ram" in t.memory:
        out["ram_size"] = int(t.memory["ram"])
    return out
