"""Atomic file output: write to a temporary file beside the target, then rename.

Also the home of the bounded readers of untrusted files (defined in :mod:`qaudit.files.bounded`, re-exported).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from qaudit.files.bounded import (  # noqa: F401 - re-exported: callers have always imported them from here
    MAX_JSON_DEPTH,
    MAX_TOML_DEPTH,
    _too_large,
    check_regular_file,
    json_depth,
    parse_json,
    read_bytes_limited,
    read_json_limited,
    read_stream_limited,
    read_text_limited,
    toml_depth,
)


@contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file next to *path*; rename it over *path* only on success.

    If the body raises, the temporary file is removed and *path* is untouched, so
    no half-written output is ever left behind.
    """
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        from qaudit.sdk.errors import QauditError

        raise QauditError(f"output directory does not exist: {directory}")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _final_mode(target))
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _final_mode(target: Path) -> int:
    """Keep an existing file's mode; new files get 0o666 minus the umask (like ``open``)."""
    try:
        return target.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write *text* to *path* atomically."""
    with atomic_open(path, "w") as handle:
        handle.write(text)


def write_json_atomic(path: str | os.PathLike[str], document: Any) -> None:
    """Serialise *document* as indented JSON and write it atomically."""
    write_text_atomic(path, json.dumps(document, indent=1, allow_nan=False) + "\n")


# ----------------------------------------------------------------------------- bounded reads of untrusted files
# (defined in qaudit.files.bounded, the layer qaudit.files.npz builds on; re-exported here where callers have
# always found them)


def read_npz_limited(path: str | os.PathLike[str], limit: int, what: str,
                     required: tuple[str, ...] = (), names: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The numeric arrays of the ``.npz`` file *path*, bounded by *limit* (:func:`qaudit.files.npz.read_npz`)."""
    from qaudit.files.npz import read_npz

    return read_npz(path, limit, what, required, names)
