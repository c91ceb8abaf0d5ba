"""Outputs never destroy inputs: every output path is checked before any work starts.

An output path is refused when it is (or, through a symbolic or hard link, points to) an input of
the same run or another output of it, when it names a directory or a non-regular file (``/proc``,
a FIFO, a device), or when its folder is missing or not writable. Files are written atomically
(:mod:`qaudit.files.io`), so an interrupted run leaves the previous content or nothing.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from qaudit.sdk.errors import QauditError

PathLike = str | os.PathLike | None


def _same(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_output(label: str, path: Path) -> None:
    """One output path: a writable regular file (new or existing) in an existing folder."""
    if path.exists() or path.is_symlink():
        if path.is_dir():
            raise QauditError(f"{label} {path} is a directory; give a file name")
        if not path.is_file():
            raise QauditError(f"{label} {path} is not a regular file")
        if not os.access(path, os.W_OK):
            raise QauditError(f"{label} {path} is not writable")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise QauditError(f"{label} {path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise QauditError(f"{label} {path}: folder {parent} is not writable")
    try:  # the atomic write creates a temporary file beside the target: make sure the folder allows it
        with tempfile.NamedTemporaryFile(dir=parent, prefix=".qaudit-probe-"):
            pass
    except OSError as exc:
        raise QauditError(f"{label} {path}: cannot create files in {parent} ({exc.strerror or exc})") from None


def check_outputs(outputs: Mapping[str, PathLike], inputs: Mapping[str, PathLike]) -> None:
    """Refuse (one line, exit 2) any output that would overwrite an input or another output."""
    seen: list[tuple[str, Path]] = []
    given = [(label, Path(p)) for label, p in inputs.items() if p is not None and str(p)]
    for label, raw in outputs.items():
        if raw is None or not str(raw):
            continue
        path = Path(raw)
        check_output(label, path)
        for in_label, in_path in given:
            if _same(path, in_path):
                raise QauditError(f"{label} {path} is the {in_label} of this run; it would be overwritten -- "
                                  "write the output elsewhere")
        for other_label, other in seen:
            if _same(path, other):
                raise QauditError(f"{label} and {other_label} are the same file ({path}); give different paths")
        seen.append((label, path))


def make_out_dir(path: Path, parents: bool = False) -> None:
    """Create an output folder: at most one missing level unless *parents*."""
    if path.exists():
        if not path.is_dir():
            raise QauditError(f"--out-dir {path} exists and is not a folder")
        return
    if not parents and not path.parent.is_dir():
        raise QauditError(f"--out-dir {path}: folder {path.parent} does not exist (pass --parents to create it)")
    try:
        path.mkdir(parents=parents)
    except OSError as exc:
        raise QauditError(f"cannot create --out-dir {path}: {exc.strerror or exc}") from exc
