"""A full disk or a read-only folder is one line; any other OSError or SQLite error is a bug and keeps its traceback."""
import errno
import sqlite3

import pytest

from mnistlab.cli import commands
from mnistlab.cli.failures import write_failure
from mnistlab.cli.main import main


@pytest.mark.parametrize("exc,expected", [
    (OSError(errno.ENOSPC, "No space left on device", "/w/.x.new-0a1b2c3d/mlp.safetensors"),
     "cannot write to /w/x: No space left on device; free space or choose another --out"),
    (OSError(errno.EFBIG, "File too large"),
     "cannot write to /w/x: File too large; free space or choose another --out"),
    (OSError(errno.EROFS, "Read-only file system", "/w/x/figures"),
     "cannot write to /w/x: Read-only file system; make it writable or choose another --out"),
    (PermissionError(errno.EACCES, "Permission denied", "/data/train-images-idx3-ubyte"),
     "cannot use /data/train-images-idx3-ubyte: Permission denied; check its permissions"),
    (sqlite3.OperationalError("database or disk is full"),
     "cannot write to /w/x: database or disk is full; free space or choose another --out"),
    (sqlite3.OperationalError("attempt to write a readonly database"),
     "cannot write to /w/x: attempt to write a readonly database; make it writable or choose another --out"),
])
def test_machine_failures_are_one_line(exc, expected):
    assert str(write_failure(exc, "/w/x")) == expected


@pytest.mark.parametrize("exc", [FileNotFoundError(errno.ENOENT, "No such file", "/w/x/a"),
                                 OSError(errno.EBADF, "Bad file descriptor"),
                                 sqlite3.OperationalError("no such table: runs"), ValueError("not an OSError")])
def test_other_errors_are_not_turned_into_messages(exc):
    assert write_failure(exc, "/w/x") is None


def test_cli_says_a_full_disk_in_one_line(monkeypatch, capsys):
    def full(args):
        raise OSError(errno.ENOSPC, "No space left on device", "/w/somewhere/file")

    monkeypatch.setattr(commands, "cmd_models", full)
    assert main(["models"]) == 2
    assert capsys.readouterr().err == ("mnistlab: error: cannot use /w/somewhere/file: No space left on device; "
                                       "free space\n")


def test_cli_keeps_the_traceback_of_a_bug(monkeypatch):
    def bug(args):
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", "/nowhere")

    monkeypatch.setattr(commands, "cmd_models", bug)
    with pytest.raises(FileNotFoundError):
        main(["models"])
