"""Bounded reading of untrusted ``.npz`` archives (``leak --outputs``, NPZ datasets): never pickle.

Memory is bounded by design, not by the archive's claims. Before any array is allocated:

1. the file is a regular file of at most *limit* bytes;
2. the zip's central directory (read from its end record) holds at most :data:`MAX_MEMBERS` entries in
   at most :data:`MAX_DIRECTORY_BYTES`, so :mod:`zipfile` never parses a huge directory;
3. every wanted member is stored or deflated (other compression methods and encrypted members are
   refused), unique, and its ``.npy`` header (read through a bounded stream, at most
   :data:`MAX_HEADER_BYTES`) declares a plain numeric dtype (bool, int, uint, float; no objects,
   strings, structured or sub-array dtypes) and a shape whose data is *exactly* the member's inflated
   size;
4. the dtype-implied size of all wanted arrays -- elements x max(itemsize, 8), what they occupy once
   converted to float64 / int64 -- is at most *limit*.

Only then is each array allocated and filled from a streaming read (the inflated stream cannot
exceed the member's declared size: :mod:`zipfile` stops there and checks the CRC). Any exception from
:mod:`zipfile`, :mod:`zlib` or numpy's header parser is caught here and named in one line
(:class:`~qaudit.sdk.errors.QauditError`, exit 2) -- an archive is an input error however it is malformed.
Peak memory of a read is the arrays themselves (at most *limit*) plus a 1 MiB buffer.
"""

from __future__ import annotations

import io
import math
import os
import zipfile
from typing import IO, Any

import numpy as np

from qaudit.sdk.errors import QauditError

#: Most entries in an archive's central directory (an outputs file has at most 9 arrays).
MAX_MEMBERS = 64
#: Largest central directory (bytes): 64 entries with names up to a few hundred characters.
MAX_DIRECTORY_BYTES = 64 * 1024
#: Largest ``.npy`` header (numpy's own default ``max_header_size``).
MAX_HEADER_BYTES = 10_000
#: Most dimensions of an array.
MAX_NDIM = 8
_CHUNK = 1 << 20
_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}


def _named(exc: BaseException) -> str:
    """``Type: first line`` of a third-party parser's exception (no tracebacks, no control characters)."""
    text = " ".join(str(exc).split())
    text = "".join(ch if ch.isprintable() else "?" for ch in text)[:200]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _directory(handle: IO[bytes], path: Any, what: str) -> None:
    """Refuse archives whose central directory is too large for :mod:`zipfile` to parse cheaply."""
    end = zipfile._EndRecData(handle)  # the end record (zip64 aware); None when there is none
    if end is None:
        raise QauditError(f"cannot read {what} {path}: not a zip archive (.npz) -- no end-of-archive record")
    entries, size = end[zipfile._ECD_ENTRIES_TOTAL], end[zipfile._ECD_SIZE]
    if entries > MAX_MEMBERS or size > MAX_DIRECTORY_BYTES:
        raise QauditError(f"cannot read {what} {path}: its directory lists {entries} entries in {size} bytes "
                          f"(at most {MAX_MEMBERS} entries in {MAX_DIRECTORY_BYTES} bytes)")


def _members(archive: zipfile.ZipFile, path: Any) -> dict[str, zipfile.ZipInfo]:
    """The ``.npy`` members by array name; duplicate names are refused (which one would count?)."""
    members: dict[str, zipfile.ZipInfo] = {}
    for info in archive.infolist():
        if not info.filename.endswith(".npy"):
            continue
        name = info.filename[:-4]
        if name in members:
            raise QauditError(f"cannot read {path}: array {name!r} appears twice in the archive")
        members[name] = info
    return members


def _check_member(info: zipfile.ZipInfo, where: str, limit: int) -> None:
    if info.flag_bits & 0x1:
        raise QauditError(f"{where} is encrypted; encrypted archives are not supported")
    if info.compress_type not in _METHODS:
        raise QauditError(f"{where} uses zip compression method {info.compress_type}; only stored and "
                          "deflate are supported (np.savez / np.savez_compressed)")
    if info.file_size > limit:
        raise QauditError(f"{where} inflates to {info.file_size} bytes (at most {limit})")


def _read_exact(handle: IO[bytes], n: int, what: str) -> bytes:
    data = handle.read(n)
    if len(data) != n:
        raise QauditError(f"{what} ends early ({len(data)} of {n} bytes)")
    return data


def _header(handle: IO[bytes], where: str) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """(shape, fortran_order, dtype, header bytes) of a ``.npy`` stream, read through a bounded buffer
    and parsed with numpy's literal-only parser (never pickle, never eval)."""
    from numpy.lib import format as npy

    magic = _read_exact(handle, 8, f"{where}: header")
    if magic[:6] != b"\x93NUMPY":
        raise QauditError(f"{where} is not a .npy array (bad magic bytes)")
    version = (magic[6], magic[7])
    if version not in ((1, 0), (2, 0), (3, 0)):
        raise QauditError(f"{where} has .npy format version {version[0]}.{version[1]} (1.0, 2.0, 3.0 supported)")
    width = 2 if version == (1, 0) else 4
    raw_length = _read_exact(handle, width, f"{where}: header length")
    length = int.from_bytes(raw_length, "little")
    if length > MAX_HEADER_BYTES:
        raise QauditError(f"{where}: .npy header of {length} bytes (at most {MAX_HEADER_BYTES})")
    text = _read_exact(handle, length, f"{where}: header")
    if not text.isascii():
        raise QauditError(f"{where}: .npy header is not ASCII (numeric arrays only)")
    buffer = io.BytesIO(raw_length + text)
    reader = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
    try:
        shape, fortran, dtype = reader(buffer, max_header_size=MAX_HEADER_BYTES)
    except QauditError:
        raise
    except Exception as exc:  # numpy's parser: ValueError, SyntaxError, TypeError, MemoryError, ...
        raise QauditError(f"{where}: malformed .npy header ({_named(exc)})") from None
    return tuple(shape), bool(fortran), dtype, 8 + width + length


def _check_header(shape: tuple[int, ...], dtype: np.dtype, where: str, data_bytes: int) -> int:
    """Validate dtype and shape against the member's data; the number of elements."""
    if dtype.hasobject or dtype.names is not None or dtype.subdtype is not None or dtype.kind not in "biuf":
        raise QauditError(f"{where} has dtype {dtype}; numeric arrays only (bool, integer, float)")
    if len(shape) > MAX_NDIM or any(d < 0 for d in shape):
        raise QauditError(f"{where} declares shape {shape[:MAX_NDIM + 1]}: at most {MAX_NDIM} non-negative "
                          "dimensions")
    count = math.prod(shape)
    if count * dtype.itemsize != data_bytes:
        raise QauditError(f"{where} declares shape {shape} ({count * dtype.itemsize} bytes of {dtype}) but "
                          f"holds {data_bytes} bytes of data")
    return count


def _fill(handle: IO[bytes], array: np.ndarray, where: str) -> None:
    """Stream the member's data into the preallocated *array* (1 MiB at a time)."""
    view = memoryview(array.reshape(-1).view(np.uint8))
    done = 0
    while done < len(view):
        chunk = handle.read(min(_CHUNK, len(view) - done))
        if not chunk:
            raise QauditError(f"{where}: data ends after {done} of {len(view)} bytes")
        view[done:done + len(chunk)] = chunk
        done += len(chunk)
    if handle.read(1):
        raise QauditError(f"{where}: more data than its header declares")


def _plan(archive: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], wanted: list[str], path: Any,
          limit: int) -> list[tuple[str, tuple[int, ...], bool, np.dtype, int]]:
    """Every wanted member's header checked, and their total dtype-implied size, before any allocation."""
    plan, implied = [], 0
    for name in wanted:
        info = members[name]
        where = f"{path}: array {name!r}"
        _check_member(info, where, limit)
        with archive.open(info) as handle:
            shape, fortran, dtype, offset = _header(handle, where)
        count = _check_header(shape, dtype, where, info.file_size - offset)
        implied += count * max(dtype.itemsize, 8)
        if implied > limit:
            raise QauditError(f"{path}: its arrays need {implied} bytes or more once read as 64-bit numbers "
                              f"(at most {limit}; array {name!r} declares shape {shape} of {dtype})")
        plan.append((name, shape, fortran, dtype, offset))
    return plan


def _load(archive: zipfile.ZipFile, info: zipfile.ZipInfo, shape: tuple[int, ...], fortran: bool,
          dtype: np.dtype, offset: int, where: str) -> np.ndarray:
    array = np.empty(math.prod(shape), dtype=dtype)
    with archive.open(info) as handle:
        handle.read(offset)
        _fill(handle, array, where)
    if dtype.kind == "b" and array.size and int(array.view(np.uint8).max()) > 1:
        raise QauditError(f"{where}: boolean array holds bytes other than 0 and 1")
    return array.reshape(shape[::-1]).transpose() if fortran else array.reshape(shape)


def read_npz(path: str | os.PathLike[str], limit: int, what: str, required: tuple[str, ...] = (),
             names: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """The numeric arrays of the ``.npz`` file *path*, never more than *limit* bytes (module docstring).

    Reads the members named *names* that exist (default: every ``.npy`` member); the *required* ones
    must exist. One-line :class:`QauditError` on anything malformed.
    """
    from qaudit.files.bounded import _too_large, check_regular_file

    size = check_regular_file(path, what)
    if size > limit:
        raise _too_large(what, path, limit)
    try:
        with open(path, "rb") as handle:
            _directory(handle, path, what)
            with zipfile.ZipFile(handle) as archive:
                members = _members(archive, path)
                missing = [n for n in required if n not in members]
                if missing:
                    need = " and ".join(repr(n) for n in required)
                    raise QauditError(f"{path}: needs arrays {need} (found {', '.join(members) or 'none'})")
                wanted = [n for n in (members if names is None else names) if n in members]
                plan = _plan(archive, members, wanted, path, limit)
                return {name: _load(archive, members[name], shape, fortran, dtype, offset,
                                    f"{path}: array {name!r}")
                        for name, shape, fortran, dtype, offset in plan}
    except QauditError:
        raise
    except Exception as exc:  # zipfile, zlib, struct, OSError, EOFError, NotImplementedError, RuntimeError, ...
        raise QauditError(f"cannot read {what} {path}: {_named(exc)}") from None
