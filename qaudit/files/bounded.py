"""Bounded reads of untrusted files: size-capped, regular files only, depth-checked JSON/TOML, one-line errors.

The lowest layer of file input (:mod:`qaudit.files.npz` and :mod:`qaudit.files.io` build on it); it imports nothing
of qaudit but :mod:`qaudit.sdk.errors`, lazily.
"""

from __future__ import annotations

import json
import os
from typing import IO, Any

#: Deepest JSON nesting accepted in any file qaudit reads (model, index, baseline, circuit files).
MAX_JSON_DEPTH = 100
#: Deepest TOML nesting (tables, dotted keys, arrays, inline tables) accepted in a config file.
MAX_TOML_DEPTH = 32
_CHUNK = 1 << 20


def _error(message: str) -> Exception:
    from qaudit.sdk.errors import QauditError

    return QauditError(message)


def check_regular_file(path: str | os.PathLike[str], what: str) -> int:
    """Size of *path* if it is an existing regular file; else a one-line QauditError.

    Directories, FIFOs, sockets and devices (``/dev/zero``) are refused: they may never end.
    """
    import stat

    try:
        info = os.stat(path)
    except OSError as exc:
        raise _error(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise _error(f"{what} {path} is a directory, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise _error(f"{what} {path} is not a regular file (devices, pipes and sockets are refused)")
    return int(info.st_size)


def _too_large(what: str, path: Any, limit: int) -> Exception:
    return _error(f"{what} {path} is too large (more than {limit} bytes)")


def read_stream_limited(handle: IO[bytes], limit: int, what: str, path: Any) -> bytes:
    """Read at most *limit* bytes from *handle* (reading limit + 1 to detect more): never unbounded."""
    chunks, total = [], 0
    while True:
        chunk = handle.read(min(_CHUNK, limit + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise _too_large(what, path, limit)
    return b"".join(chunks)


def read_bytes_limited(path: str | os.PathLike[str], limit: int, what: str) -> bytes:
    """The bytes of the regular file *path*, at most *limit* of them (one-line errors)."""
    size = check_regular_file(path, what)
    if size > limit:
        raise _too_large(what, path, limit)
    try:
        with open(path, "rb") as handle:
            return read_stream_limited(handle, limit, what, path)
    except OSError as exc:
        raise _error(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def read_text_limited(path: str | os.PathLike[str], limit: int, what: str) -> str:
    """UTF-8 text of the regular file *path*, at most *limit* bytes (one-line errors)."""
    raw = read_bytes_limited(path, limit, what)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _error(f"cannot read {what} {path}: not UTF-8 text") from None


_JSON_STRING = None


def json_depth(text: str) -> int:
    """Deepest bracket nesting of JSON *text* (strings skipped), without recursion; linear time."""
    import re

    import numpy as np

    global _JSON_STRING
    if _JSON_STRING is None:
        _JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
    skeleton = _JSON_STRING.sub("", text)
    deepest = level = 0
    for start in range(0, len(skeleton), _CHUNK):
        piece = np.frombuffer(skeleton[start:start + _CHUNK].encode("utf-8", "replace"), dtype=np.uint8)
        steps = np.zeros(piece.shape, dtype=np.int64)
        steps[(piece == 0x5B) | (piece == 0x7B)] = 1
        steps[(piece == 0x5D) | (piece == 0x7D)] = -1
        if not steps.any():
            continue
        running = level + np.cumsum(steps)
        deepest = max(deepest, int(running.max()))
        level = int(running[-1])
    return deepest


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name}")


def parse_json(text: str, what: str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` for untrusted text: depth-checked first, NaN/Infinity refused, one-line errors."""
    depth = json_depth(text)
    if depth > max_depth:
        raise _error(f"{what}: JSON nested {depth} levels deep (at most {max_depth} allowed)")
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:  # pragma: no cover - the pre-scan bounds the depth
        raise _error(f"{what}: JSON nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, non-finite constants, over-long integer literals
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise _error(f"{what}: not valid JSON ({message})") from None


def read_json_limited(path: str | os.PathLike[str], limit: int, what: str,
                      max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Read and parse the JSON file *path* with a size cap and a nesting cap (one-line errors)."""
    return parse_json(read_text_limited(path, limit, what), f"{what} {path}", max_depth)


def toml_depth(text: str) -> int:
    """An upper estimate of the nesting depth of TOML *text*: bracket/brace depth plus the longest
    dotted key or table header (strings and comments skipped)."""
    import re

    text = re.sub(r'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'', '""', text)
    text = re.sub(r"#[^\n]*", "", text)
    dots = 0
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("[") and "=" not in stripped:
            dots = max(dots, stripped.count("."))
            continue
        for segment in re.split(r"[{,]", stripped):
            if "=" in segment:
                dots = max(dots, segment.split("=", 1)[0].count("."))
    level = deepest = 0
    for char in re.sub(r"[^\[\]{}]", "", text):
        level += 1 if char in "[{" else -1
        deepest = max(deepest, level)
    return deepest + dots + 1
