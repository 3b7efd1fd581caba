"""Snapshot files of the vector index: atomic writes (temp file, fsync, rename), sizes and CRC-32 checksums, and the
error a missing, torn or corrupt snapshot raises."""

from __future__ import annotations

import os
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt

_CRC_CHUNK = 8 << 20


class IndexStateError(RuntimeError):
    """A snapshot on disk is missing, torn, corrupt, or does not match what it claims to be."""


def crc32_file(path: Path) -> tuple[int, int]:
    """(size, CRC-32) of a file, read in chunks. CRC-32 (zlib, ~2 GB/s) detects torn or mixed files; it is not
    meant to resist tampering."""
    crc, size = 0, 0
    with path.open("rb") as f:
        while chunk := f.read(_CRC_CHUNK):
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
    return size, crc


def write_atomic(path: Path, write: Callable[[Path], object]) -> dict[str, int]:
    """Write ``path`` via a temp file in the same directory + fsync + rename; returns its size and CRC-32."""
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        tmp.chmod(0o644)  # mkstemp creates 0600; the snapshot is read by other workers/processes
        size, crc = crc32_file(tmp)  # reads the fresh file back (from page cache)
        with tmp.open("rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return {"size": size, "crc32": crc}


def savez(path: Path, arrays: dict[str, npt.NDArray[Any]]) -> None:
    with path.open("wb") as f:  # a file object: np.savez would append ".npz" to a bare name
        np.savez(f, **cast(dict[str, Any], arrays))


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_file(path: Path, expected: dict[str, int], verify: bool) -> None:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise IndexStateError(f"snapshot file missing: {path}") from exc
    if size != int(expected["size"]):
        raise IndexStateError(f"{path.name} has {size} bytes, meta.json expects {expected['size']} (torn snapshot)")
    if verify and crc32_file(path)[1] != int(expected["crc32"]):
        raise IndexStateError(f"{path.name} checksum mismatch (torn or corrupt snapshot)")
