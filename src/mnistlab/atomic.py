"""Writes that never leave half a file: write to a temp file beside the target, then rename."""
from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

_PROC_STATUS = "/proc/self/status"


def current_umask() -> int:
    """The process's umask, read without changing it where the OS tells it (Linux), else set and restored."""
    try:
        with open(_PROC_STATUS) as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o077)  # the strictest value, so a file another thread creates meanwhile is never too open
    os.umask(old)
    return old


def write_atomic(path: Path, data: bytes | str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
            if hasattr(os, "fchmod"):  # mkstemp makes 0600; give the mode a plain open() would
                os.fchmod(f.fileno(), 0o666 & ~current_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _finite_or_none(value):
    """Strict JSON has no NaN/inf: a diverged run's non-finite losses are stored as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(v) for v in value]
    return value


def to_json(value) -> str:
    return json.dumps(_finite_or_none(value), indent=1, sort_keys=False, allow_nan=False)


def check_writable(folder: Path) -> None:
    """Create `folder` and prove a file can be written there; OSError otherwise."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".probe.")
    os.close(fd)
    os.unlink(tmp)
