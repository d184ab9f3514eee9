"""The IDX format: encode, decode, and read a plain or .gz file that may hold no more than it should."""
from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from mnistlab.errors import DataError

# What a damaged or foreign gzip stream can raise while it is read (gzip.BadGzipFile is an OSError).
_DECODE_ERRORS = (OSError, zlib.error, EOFError, struct.error)


def encode_idx(array: np.ndarray) -> bytes:
    """IDX bytes of a uint8 array: magic (0, 0, 0x08, ndim), big-endian dims, raw data."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">HBB", 0, 0x08, array.ndim)
    header += b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.tobytes()


def decode_idx(raw: bytes, name: str = "IDX data") -> np.ndarray:
    if len(raw) < 4:
        raise DataError(f"{name}: too short to be an IDX file ({len(raw)} bytes)")
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08:
        raise DataError(f"{name}: not a uint8 IDX file (magic {raw[:4].hex()})")
    if len(raw) < 4 + 4 * ndim:
        raise DataError(f"{name}: truncated (header promises {ndim} dimensions)")
    dims = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    body = raw[4 + 4 * ndim:]
    if len(body) != int(np.prod(dims)):
        raise DataError(f"{name}: truncated ({len(body)} data bytes, header says {int(np.prod(dims))})")
    return np.frombuffer(body, dtype=np.uint8).reshape(dims)


def inflate_bounded(stream: BinaryIO, size: int, name: str) -> bytes:
    """The gzip `stream` inflated, refusing it once it yields more than `size` bytes (size + 1 at most are made)."""
    try:
        with gzip.GzipFile(fileobj=stream, mode="rb") as gz:
            raw = gz.read(size + 1)
    except _DECODE_ERRORS as e:
        raise DataError(f"{name}: corrupt file, not a valid gzip stream ({e})") from None
    if len(raw) > size:
        raise DataError(f"{name}: corrupt file, inflates to more than {size:,} bytes, the size it must have")
    return raw


def read_bounded(path: Path, size: int) -> bytes:
    """The bytes of `path` (inflated if it ends in .gz); more than `size` bytes is refused, never read whole."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            if path.suffix == ".gz":
                return inflate_bounded(f, size, str(path))
            raw = f.read(size + 1)
    except OSError as e:
        raise DataError(f"{path}: cannot read it ({e.strerror or e})") from None
    if len(raw) > size:
        raise DataError(f"{path}: corrupt file, larger than {size:,} bytes, the size it must have")
    return raw
