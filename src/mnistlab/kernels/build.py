"""Builds pool_relu.c once per source, flags and CPU into a private cache, and loads only what is ours.

The cache ($XDG_CACHE_HOME/mnistlab/kernels or ~/.cache/mnistlab/kernels) is a folder of mode 0700 holding
`pool_relu-<tag>.so` (0700), `pool_relu-<tag>-noomp.so` (built without OpenMP where the compiler has none)
or `pool_relu-<tag>.failed` (the compiler's error, so later processes and Ray tasks do not retry it). A
file there is read or loaded only if it and its folder belong to this user and no one else can write them;
otherwise the kernel is built into a fresh private folder and the reason is reported. A cached library is
used before any compiler is looked for.
"""
from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

SOURCE = Path(__file__).with_name("pool_relu.c")
OPENMP_FLAGS = ["-fopenmp"]
FLAGS = ["-O3", "-march=native", *OPENMP_FLAGS, "-shared", "-fPIC"]
SYMBOLS = ("pool_relu_forward", "pool_relu_backward", "conv_pool_relu_forward", "conv_pool_relu_backward")
# /proc/cpuinfo lines that say what -march=native targets: x86 names a model and flags, arm64 only ids
CPUINFO_KEYS = ("model name", "flags", "Features", "CPU implementer", "CPU architecture", "CPU variant",
                "CPU part", "CPU revision")
_HAS_UID = hasattr(os, "getuid")
# Linux can load the very file that was checked, through its open descriptor (no swap in between)
_BY_FD = os.path.isdir("/proc/self/fd") and os.open in os.supports_dir_fd


class Unavailable(Exception):
    """Why the kernel cannot be used: one line, shown by fused.status()."""


@dataclass(frozen=True)
class Kernel:
    lib: ctypes.CDLL
    path: Path
    openmp: bool
    rebuilt_because: str | None  # why the cache was not trusted, when it was not


def kernel_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mnistlab" / "kernels"


def cpu_id_from(cpuinfo: str, machine: str, brand: str = "") -> str:
    """The CPU's identity from /proc/cpuinfo's text (any number of cores), the machine and a brand string."""
    lines = sorted({ln.rstrip() for ln in cpuinfo.splitlines() if ln.startswith(CPUINFO_KEYS)})
    return "\n".join([machine, brand.strip(), *lines])


@functools.lru_cache(maxsize=1)
def cpu_id() -> str:
    """What -march=native compiles for (a shared home may span machines)."""
    cpuinfo = brand = ""
    if sys.platform.startswith("linux"):
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            pass
    elif sys.platform == "darwin":
        try:
            brand = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True,
                                   timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            pass
    return cpu_id_from(cpuinfo, platform.machine(), brand or ("" if cpuinfo else platform.processor()))


def cpu_digest() -> str:
    return hashlib.sha256(cpu_id().encode()).hexdigest()[:16]


def tag() -> str:
    return hashlib.sha256(SOURCE.read_bytes() + " ".join(FLAGS).encode() + cpu_id().encode()).hexdigest()[:16]


def library_path(folder: Path | None = None, openmp: bool = True) -> Path:
    return (folder or kernel_dir()) / f"pool_relu-{tag()}{'' if openmp else '-noomp'}.so"


def compiler() -> str | None:
    if os.environ.get("CC"):
        return shutil.which(os.environ["CC"])
    return shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")


def _why_untrusted(st: os.stat_result, path: Path, folder: bool) -> str | None:
    if not (stat.S_ISDIR(st.st_mode) if folder else stat.S_ISREG(st.st_mode)):
        return f"{path} is not a {'folder' if folder else 'regular file'}"
    if _HAS_UID:  # Windows has no uid, and its st_mode has no group/other bits (ACLs decide there)
        if st.st_uid != os.getuid():
            return f"{path} is owned by uid {st.st_uid}"
        if st.st_mode & 0o022:
            return f"{path} is writable by group or others (mode {stat.S_IMODE(st.st_mode):04o})"
    return None


def _open_checked(path: Path) -> tuple[int, str | None]:
    """(fd, None) if `path` and its folder are ours and writable by us alone, else (-1, why); checked on the
    open folder and file where the OS allows, so that what is read or loaded is what was checked.
    FileNotFoundError if there is no such file."""
    if not _BY_FD:
        why = _why_untrusted(os.stat(path.parent), path.parent, True) or _why_untrusted(os.lstat(path), path, False)
        return (-1, why) if why else (os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0)), None)
    dfd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        why = _why_untrusted(os.fstat(dfd), path.parent, True)
        if why is None and stat.S_ISLNK(os.lstat(path.name, dir_fd=dfd).st_mode):
            why = f"{path} is not a regular file"
        if why is not None:
            return -1, why
        fd = os.open(path.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dfd)
        why = _why_untrusted(os.fstat(fd), path, False)
        if why is not None:
            os.close(fd)
            return -1, why
        return fd, None
    finally:
        os.close(dfd)


def _private(folder: Path) -> Path:
    os.chmod(folder, 0o700)  # whatever the umask
    return folder


def _cache_folder() -> tuple[Path | None, str | None]:
    """The kernel folder (created private if missing), or None and why it is not trusted."""
    folder = kernel_dir()
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        try:
            folder.mkdir(mode=0o700)
            _private(folder)
        except FileExistsError:  # an existing folder is checked, never re-permissioned
            pass
        why = _why_untrusted(os.stat(folder), folder, True)
    except OSError as e:
        why = f"{folder}: {e.strerror or e}"
    return (folder, None) if why is None else (None, why)


def _fresh_folder() -> Path:
    return _private(Path(tempfile.mkdtemp(prefix="mnistlab-kernels-")))


def _load(path: Path, fd: int | None = None) -> ctypes.CDLL:
    try:
        lib = ctypes.CDLL(f"/proc/self/fd/{fd}" if _BY_FD and fd is not None else str(path))
    except OSError as e:
        raise Unavailable(f"cannot load {path}: {e}") from None
    missing = [name for name in SYMBOLS if not hasattr(lib, name)]
    if missing:
        raise Unavailable(f"{path} lacks {', '.join(missing)}")
    ptr, i64 = ctypes.c_void_p, ctypes.c_int64
    lib.pool_relu_forward.argtypes = [ptr, ptr, ptr, i64, i64, i64, i64]
    lib.pool_relu_backward.argtypes = [ptr, ptr, ptr, ptr, i64, i64, i64, i64]
    lib.pool_relu_forward.restype = lib.pool_relu_backward.restype = None
    lib.conv_pool_relu_forward.argtypes = [ptr, ptr, ptr, ptr, ptr, i64, i64, i64, i64]
    lib.conv_pool_relu_backward.argtypes = [ptr, ptr, ptr, ptr, ptr, ptr, i64, i64, i64, i64]
    lib.conv_pool_relu_forward.restype = lib.conv_pool_relu_backward.restype = None
    return lib


def _compile(folder: Path, remember: bool) -> tuple[Path, bool]:
    """Builds with OpenMP, else once without (Apple's clang has none); (library, OpenMP used)."""
    cc = compiler()
    if cc is None:
        wanted = f"CC={os.environ['CC']!r}" if os.environ.get("CC") else "cc/gcc/clang"
        raise Unavailable(f"no C compiler ({wanted} not found)")
    error = ""
    for openmp in (True, False):
        flags = FLAGS if openmp else [f for f in FLAGS if f not in OPENMP_FLAGS]
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".build-", suffix=".so")
        os.close(fd)
        try:  # build beside the target, then rename: concurrent runs never load half a file
            subprocess.run([cc, *flags, "-o", tmp, str(SOURCE)], check=True, capture_output=True, timeout=120)
            os.chmod(tmp, 0o700)  # the linker writes a new file with the umask's mode
            target = library_path(folder, openmp)
            os.replace(tmp, target)
            return target, openmp
        except subprocess.CalledProcessError as e:
            error = f"{cc} failed: " + " ".join(e.stderr.decode(errors="replace").split())[-300:]
        except (OSError, subprocess.SubprocessError) as e:  # not the compiler's verdict: not remembered
            raise Unavailable(f"cannot run {cc}: {e}") from None
        finally:
            Path(tmp).unlink(missing_ok=True)
    if remember:
        _remember_failure(folder, error)
    raise Unavailable(error)


def _marker(folder: Path) -> Path:
    return folder / f"pool_relu-{tag()}.failed"


def _remember_failure(folder: Path, error: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".failed-")  # mkstemp: 0600 whatever the umask
    try:
        with os.fdopen(fd, "w") as f:
            f.write(error)
        os.replace(tmp, _marker(folder))
    except OSError:
        pass  # a marker is a shortcut; without one the next process just tries again
    finally:
        Path(tmp).unlink(missing_ok=True)


def _cached(folder: Path) -> Kernel | str | None:
    """The cached kernel, or why the cache is not trusted, or None when nothing is cached."""
    for openmp in (True, False):
        path = library_path(folder, openmp)
        try:
            fd, why = _open_checked(path)
        except FileNotFoundError:
            continue
        if why is not None:
            return why
        try:
            return Kernel(_load(path, fd), path, openmp, None)
        finally:
            os.close(fd)
    try:
        fd, why = _open_checked(_marker(folder))
    except FileNotFoundError:
        return None
    if why is None:  # a marker someone else could have written is ignored
        with os.fdopen(fd, "rb") as f:
            error = " ".join(f.read(1000).decode(errors="replace").split())
        raise Unavailable(f"build failed before, see {_marker(folder)}: {error}")
    return None


def load() -> Kernel:
    """The kernel from the cache, else built (privately if the cache is not ours); raises Unavailable."""
    folder, why = _cache_folder()
    if folder is not None:
        found = _cached(folder)
        if isinstance(found, Kernel):
            return found
        why = found
    target = folder if folder is not None and why is None else _fresh_folder()
    try:
        path, openmp = _compile(target, remember=target is folder)
        return Kernel(_load(path), path, openmp, why)
    except Unavailable as e:
        raise Unavailable(f"{e}; cache not used: {why}" if why else str(e)) from None
    finally:
        if target is not folder:  # a loaded library stays mapped: its private copy goes now, not at exit
            shutil.rmtree(target, ignore_errors=True)
