"""Replacing a whole folder at once: write a staging folder beside it, then swap the two by renames.

For a folder `runs/x` the pieces live in its parent, so every rename stays on one filesystem:
`.x.new-<token>` (the staging folder being written), `.x.old-<token>` (the replaced folder until it is
deleted), `.x.swap` (the journal naming both, written once staging is complete) and `.x.lock` (held by the
process running into, replacing or repairing `x`, and removed when released). A replacement cut short at
any point (kill -9, disk full, power) is finished or undone by `recover`, so `x` always holds the old
contents or the new ones, never a mix.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
from contextlib import contextmanager
from pathlib import Path

from mnistlab.atomic import write_atomic
from mnistlab.errors import RunDirError
from mnistlab.runs.lock import Busy, locked

COMPLETE_MARK = "results.json"  # written last into a staging folder: its presence means the folder is whole
TOKEN_HEX = 8  # hex digits naming one replacement's staging and old folders


def _target(folder: Path) -> Path:
    # The real path: renaming a symlink would replace the link instead of the folder it points to.
    return Path(os.path.realpath(folder))


def _names(folder: Path) -> tuple[Path, str, str, str]:
    """(parent, staging prefix, old prefix, journal name) of `folder`."""
    return folder.parent, f".{folder.name}.new-", f".{folder.name}.old-", f".{folder.name}.swap"


def _lock(folder: Path) -> Path:
    return folder.parent / f".{folder.name}.lock"


def _leftovers(folder: Path) -> list[Path]:
    """Our siblings of `folder`: staging and old folders, the journal and its temp files."""
    name = re.escape(folder.name)
    ours = re.compile(rf"\.{name}\.(new|old)-[0-9a-f]{{{TOKEN_HEX}}}|\.{name}\.swap|\.\.{name}\.swap\.\w+\.tmp")
    try:
        names = os.listdir(folder.parent)
    except OSError:
        return []
    return [folder.parent / n for n in names if ours.fullmatch(n)]


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink(missing_ok=True)


def _read_journal(folder: Path) -> tuple[Path, Path] | None:
    """(staging, old) named by the journal, or None when there is none or it names anything else."""
    parent, new, old, journal = _names(folder)
    try:
        entry = json.loads((parent / journal).read_text())
        staging, previous = entry["staging"], entry["old"]
    except (OSError, ValueError, TypeError, KeyError):
        return None
    # Only our own siblings: a planted journal must not make us rename or delete anything else.
    ok = all(isinstance(n, str) and re.fullmatch(rf"{re.escape(p)}[0-9a-f]{{{TOKEN_HEX}}}", n)
             for n, p in ((staging, new), (previous, old)))
    return (parent / staging, parent / previous) if ok else None


def _finish(folder: Path, staging: Path | None, old: Path | None) -> None:
    """Complete a swap whose staging folder is whole (renames not yet done or half done), then tidy up."""
    if staging is not None and old is not None and (staging / COMPLETE_MARK).is_file():
        if os.path.lexists(folder):
            os.rename(folder, old)
        os.rename(staging, folder)
    elif old is not None and not os.path.lexists(folder) and old.is_dir():
        os.rename(old, folder)  # no whole staging folder and the old one moved away: put it back
    for path in (staging, old):
        if path is not None:
            _remove(path)
    # Last: a leftover old folder without a journal is deleted by the next recover as already replaced.
    (folder.parent / _names(folder)[3]).unlink(missing_ok=True)


def _recover_locked(folder: Path) -> None:
    parent, new, old, journal = _names(folder)
    if (parent / journal).exists():
        _finish(folder, *(_read_journal(folder) or (None, None)))
    # Without a journal a staging folder was never complete, and an old folder was already replaced.
    for path in _leftovers(folder):
        if not path.name.startswith(old) or os.path.lexists(folder):
            _remove(path)


def recover(folder: Path) -> None:
    """Finish or undo a replacement of `folder` that was cut short. A no-op (no file created) when none was."""
    folder = _target(folder)
    if not _leftovers(folder):
        return
    busy_wait = 30 if (folder.parent / _names(folder)[3]).exists() else 0  # a swap in progress takes ms
    try:
        with locked(_lock(folder), wait=busy_wait):
            try:
                _recover_locked(folder)
            except OSError:
                pass  # what could not be repaired now stays recorded in the journal for the next command
    except (Busy, OSError):
        return  # another mnistlab is writing this folder (its staging is alive), or we may not write here


@contextmanager
def held(folder: Path):
    """Hold `folder`'s lock for a whole run, training included: a second run on it is refused at once, so
    two runs never both decide the folder is theirs to replace."""
    folder = _target(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    try:
        with locked(_lock(folder)):
            yield
    except Busy:
        raise RunDirError(f"--out {folder}: another mnistlab command is writing this run folder right now; wait "
                          "for it to finish or choose another --out") from None


def _make_staging(folder: Path) -> Path:
    parent, new, _, _ = _names(folder)
    while True:
        staging = parent / f"{new}{secrets.token_hex(TOKEN_HEX // 2)}"
        try:
            os.mkdir(staging, 0o777)  # the umask decides, as for any folder the user creates
            return staging
        except FileExistsError:
            continue


@contextmanager
def replacing(folder: Path):
    """Yield an empty staging folder; once the block has written it whole, swap it in for `folder`.

    An exception in the block deletes the staging folder and leaves `folder` untouched. The block must
    write COMPLETE_MARK last.
    """
    folder = _target(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with locked(_lock(folder), wait=float("inf")):
        _recover_locked(folder)
        staging = _make_staging(folder)
        old = folder.parent / f"{_names(folder)[2]}{staging.name.rsplit('-', 1)[1]}"
        journal = folder.parent / _names(folder)[3]
        try:
            yield staging
            if not (staging / COMPLETE_MARK).is_file():
                raise RuntimeError(f"{staging}: written without {COMPLETE_MARK}")
            write_atomic(journal, json.dumps({"staging": staging.name, "old": old.name}))
        except BaseException:
            _remove(staging)
            raise
        try:
            if folder.is_dir():
                shutil.copymode(folder, staging)  # keep permissions the user gave the folder
            if os.path.lexists(folder):
                os.rename(folder, old)
            os.rename(staging, folder)
        except OSError:
            if not os.path.lexists(folder) and old.is_dir():
                os.rename(old, folder)
            _remove(staging)
            journal.unlink(missing_ok=True)
            raise
        try:
            _finish(folder, None, old)
        except OSError:
            pass  # the new contents are in place; the next recover deletes what is left of the old ones
