"""The machine's failures, not the code's: a full disk or a folder we may not write, said in one line.

Only these are turned into a message; any other OSError or SQLite error is a bug and keeps its traceback.
"""
from __future__ import annotations

import errno
import sqlite3
from contextlib import contextmanager
from pathlib import Path

from mnistlab.errors import WriteError

NO_SPACE = {errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}
NO_PERMISSION = {errno.EACCES, errno.EPERM, errno.EROFS}
# SQLite reports the same conditions by its own codes (sqlite_errorname, Python >= 3.11), or in its message.
SQLITE_NO_SPACE = ("SQLITE_FULL", "SQLITE_IOERR", "database or disk is full", "disk I/O error")
SQLITE_NO_PERMISSION = ("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM", "readonly database",
                        "unable to open database file")


def _kind(exc: BaseException) -> tuple[str, str] | None:
    """('space' or 'permission', the system's words for it), or None for anything else."""
    if isinstance(exc, OSError):
        words = exc.strerror or str(exc)
        if exc.errno in NO_SPACE:
            return "space", words
        if exc.errno in NO_PERMISSION:
            return "permission", words
        return None
    if isinstance(exc, sqlite3.OperationalError):
        text = f"{getattr(exc, 'sqlite_errorname', '')} {exc}"
        if any(word in text for word in SQLITE_NO_SPACE):
            return "space", str(exc)
        if any(word in text for word in SQLITE_NO_PERMISSION):
            return "permission", str(exc)
    return None


def write_failure(exc: BaseException, where: str | Path | None = None, elsewhere: str = "choose another --out"
                  ) -> WriteError | None:
    """A one-line WriteError for a full disk or a read-only folder; None when `exc` is something else."""
    kind = _kind(exc)
    if kind is None:
        return None
    filename = getattr(exc, "filename", None)
    if filename and (where is None or not _near(filename, where)):
        # Not where this command writes (e.g. a data file it reads): name that file, not the output folder.
        fix = "free space" if kind[0] == "space" else "check its permissions"
        return WriteError(f"cannot use {filename}: {kind[1]}; {fix}")
    place = where if where is not None else "a file"
    fix = "free space" if kind[0] == "space" else "make it writable"
    return WriteError(f"cannot write to {place}: {kind[1]}; {fix} or {elsewhere}")


def _near(filename, where) -> bool:
    """Whether `filename` lies in `where` or beside it (a folder is replaced through siblings in its parent)."""
    path, folder = Path(filename).resolve(), Path(where).resolve()
    return path == folder or folder.parent in path.parents


@contextmanager
def writing(where: str | Path, elsewhere: str = "choose another --out"):
    """Inside the block, a full disk or a read-only folder becomes a WriteError naming `where`."""
    try:
        yield
    except (OSError, sqlite3.OperationalError) as e:
        failure = write_failure(e, where, elsewhere)
        if failure is None:
            raise
        raise failure from None
