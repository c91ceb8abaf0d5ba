"""Datasets, member/holdout splits and the model file's data record."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qaudit.sdk.errors import QauditError
from qaudit.sdk.limits import MAX_CLASSES

#: Dataset kinds: pixels (models may scale by the pixel range) or a table of features (standardised).
KINDS = ("image", "tabular")
#: Option keys of a data record that hold file-system paths (saved relative to the model file).
PATH_OPTIONS = ("path", "data_dir")
#: Most features (columns) a dataset or model may have.
MAX_FEATURES = 1 << 20
#: Largest index file accepted (bytes).
MAX_INDEX_FILE_BYTES = 64 * 1024 * 1024
FINGERPRINT_ALGORITHM = "sha256(int64 [n, d] || float64 X || int64 y), little-endian, C order"


@dataclass
class Dataset:
    """Raw features ``X`` (n_samples, n_features) float64 and labels ``y`` int64.

    ``kind`` is ``"image"`` or ``"tabular"`` (default: ``"image"`` when ``image_shape`` is
    given, else ``"tabular"``). ``label_names[c]`` is the original label of class ``c`` when
    the source mapped labels (e.g. strings in a CSV) to 0..C-1. ``data_change`` is set by
    :func:`qaudit.train.workflows.dataset_for` when the data no longer matches the model's
    recorded fingerprint and the caller allowed it: ``{"recorded": ..., "found": ...}``.
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    image_shape: tuple[int, ...] | None = None
    options: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    kind: str | None = None
    label_names: list[str] | None = None
    data_change: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.kind is None:
            self.kind = "image" if self.image_shape is not None else "tabular"
        if self.kind not in KINDS:
            raise QauditError(f"dataset {self.name!r}: kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        self.X = np.asarray(self.X, dtype=np.float64)
        self.y = np.asarray(self.y)
        if self.X.ndim != 2:
            raise QauditError(f"dataset {self.name!r}: features must be 2-D, got shape {self.X.shape}")
        if self.y.shape != (self.X.shape[0],):
            raise QauditError(f"dataset {self.name!r}: {self.X.shape[0]} samples but {self.y.size} labels")
        if not np.all(np.isfinite(self.X)):
            raise QauditError(f"dataset {self.name!r}: features contain NaN or infinite values")
        if self.y.dtype.kind not in "iu":
            raise QauditError(f"dataset {self.name!r}: labels must be integers")
        if self.X.shape[1] == 0:
            raise QauditError(f"dataset {self.name!r}: no feature columns")
        if self.X.shape[1] > MAX_FEATURES:
            raise QauditError(f"dataset {self.name!r}: {self.X.shape[1]} features (at most {MAX_FEATURES})")
        if self.y.size and self.y.min() < 0:
            raise QauditError(f"dataset {self.name!r}: labels must be non-negative")
        if self.y.size and self.y.max() >= MAX_CLASSES:
            raise QauditError(f"dataset {self.name!r}: label {self.y.max()} is out of range; labels must lie in "
                              f"0..{MAX_CLASSES - 1} (at most {MAX_CLASSES} classes)")
        self.y = self.y.astype(np.int64)

    @property
    def n_classes(self) -> int:
        return int(self.y.max()) + 1 if self.y.size else 0

    def __len__(self) -> int:
        return int(self.X.shape[0])

    def fingerprint(self) -> dict[str, Any]:
        """A content fingerprint: SHA-256 over the shape, the features and the labels."""
        return fingerprint(self.X, self.y)


def fingerprint(X: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """``{"sha256", "shape", "algorithm"}`` over a canonical encoding of *X* and *y*:
    the shape as two little-endian int64, then *X* as little-endian float64 in C order,
    then *y* as little-endian int64."""
    import hashlib

    X = np.ascontiguousarray(X, dtype="<f8")
    y = np.ascontiguousarray(y, dtype="<i8")
    digest = hashlib.sha256()
    digest.update(np.asarray(X.shape, dtype="<i8").tobytes())
    digest.update(X.tobytes(order="C"))
    digest.update(y.tobytes())
    return {"sha256": digest.hexdigest(), "shape": [int(v) for v in X.shape], "algorithm": FINGERPRINT_ALGORITHM}


@dataclass
class DataRecord:
    """Where a model's training data came from: indices into a named dataset or a user file.

    In memory, file paths (``dataset`` of a file source and the ``options`` in
    :data:`PATH_OPTIONS`) are as usable from the current directory; in the model file
    they are relative to the model file's directory (``"paths": "model-relative"``).
    ``fingerprint`` (None in old model files) pins the content; ``kind`` and
    ``label_names`` are copied from the :class:`Dataset`.
    """

    dataset: str
    options: dict[str, Any]
    members: np.ndarray
    holdout: np.ndarray
    seed: int
    excluded: dict[str, Any] = field(default_factory=dict)
    fingerprint: dict[str, Any] | None = None
    kind: str | None = None
    label_names: list[str] | None = None

    def is_file(self) -> bool:
        """True when ``dataset`` is a user file (a source loaded by path), not a registered name."""
        return "path" in self.options

    def map_paths(self, convert: Any) -> DataRecord:
        """A copy whose path-valued fields are passed through *convert* (a ``str -> str`` function)."""
        import copy

        other = copy.copy(self)
        other.options = {k: convert(v) if k in PATH_OPTIONS and isinstance(v, str) and v else v
                         for k, v in self.options.items()}
        if self.is_file():
            other.dataset = convert(self.dataset)
        return other

    def to_json(self, base_dir: str | None = None) -> dict[str, Any]:
        """The JSON data record; with *base_dir*, paths are written relative to it."""
        record = self.map_paths(lambda p: relative_path(p, base_dir)) if base_dir is not None else self
        doc: dict[str, Any] = {
            "dataset": record.dataset,
            "options": record.options,
            "seed": self.seed,
            "members": self.members.tolist(),
            "holdout": self.holdout.tolist(),
            "excluded": self.excluded,
        }
        if base_dir is not None:
            doc["paths"] = "model-relative"
        if self.kind is not None:
            doc["kind"] = self.kind
        if self.label_names is not None:
            doc["label_names"] = list(self.label_names)
        if self.fingerprint is not None:
            doc["fingerprint"] = dict(self.fingerprint)
        return doc


def relative_path(path: str, base_dir: str) -> str:
    """*path* (absolute or relative to the current directory) relative to *base_dir* (POSIX separators)."""
    import os
    from pathlib import PurePath

    try:
        rel = os.path.relpath(os.path.abspath(path), os.path.abspath(base_dir))
    except ValueError:  # another drive on Windows
        return os.path.abspath(path)
    return PurePath(rel).as_posix()


def resolve_path(path: str, base_dir: str) -> str:
    """A path saved relative to *base_dir*, as usable from the current directory."""
    import os

    return path if os.path.isabs(path) else os.path.normpath(os.path.join(base_dir, path))


def split(y: np.ndarray, n_train: int | None, n_holdout: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded stratified disjoint member/holdout index sets (sorted).

    ``None`` sizes default to 60 % / 40 % of the data (capped by the other size).
    """
    from sklearn.model_selection import train_test_split

    n = len(y)
    for flag, value in (("--n-train", n_train), ("--n-holdout", n_holdout)):
        if value is not None and value >= n:
            raise QauditError(f"{flag} {value} exceeds the dataset's {n} samples "
                              "(members and holdout must both be non-empty)")
    if n_train is None and n_holdout is None:
        n_train = int(round(0.6 * n))
        n_holdout = n - n_train
    elif n_train is None:
        n_train = n - n_holdout
    elif n_holdout is None:
        n_holdout = n - n_train
    if n_train < 1 or n_holdout < 1:
        raise QauditError("--n-train and --n-holdout must be positive")
    if n_train + n_holdout > n:
        raise QauditError(f"--n-train {n_train} + --n-holdout {n_holdout} exceeds the dataset's {n} samples")
    index = np.arange(n)
    counts = np.bincount(y)
    stratify = y if counts[counts > 0].min() >= 2 else None
    rest = n - n_train - n_holdout
    if rest > 0:
        index, _ = train_test_split(index, train_size=n_train + n_holdout, random_state=seed, stratify=stratify)
        stratify = y[index] if stratify is not None else None
    try:
        members, holdout = train_test_split(index, train_size=n_train, test_size=n_holdout,
                                            random_state=(seed + 1) % 2**32, stratify=stratify)
    except ValueError:
        members, holdout = train_test_split(index, train_size=n_train, test_size=n_holdout,
                                            random_state=(seed + 1) % 2**32)
    return np.sort(members), np.sort(holdout)


def read_indices(path: str, n_samples: int) -> np.ndarray:
    """Read a file of sample indices (whitespace/comma separated, or a JSON list); size-capped."""
    import re

    from qaudit.files.io import parse_json, read_text_limited

    text = read_text_limited(path, MAX_INDEX_FILE_BYTES, "index file").strip()
    bad = f"{path}: expected integer sample indices"
    if text.startswith("["):
        values = parse_json(text, f"index file {path}")
    else:
        tokens = [t for t in re.split(r"[\s,]+", text) if t]
        if not all(re.fullmatch(r"[+-]?\d{1,19}", t) for t in tokens):
            raise QauditError(bad)
        values = [int(t) for t in tokens]
    if not isinstance(values, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise QauditError(bad)
    if not values:
        raise QauditError(f"{path}: no indices")
    if any(not 0 <= v < n_samples for v in values):
        raise QauditError(f"{path}: indices must lie in 0..{n_samples - 1}")
    idx = np.asarray(values, dtype=np.int64)
    if len(np.unique(idx)) != idx.size:
        raise QauditError(f"{path}: duplicate indices")
    return idx


def load_dataset(name_or_path: str, options: dict[str, Any] | None = None, host: Any = None) -> Dataset:
    """Load a registered dataset by name, or a user file by suffix (.csv, .npz)."""
    from pathlib import Path

    from qaudit.sdk.host import get_host

    host = host or get_host()
    options = dict(options or {})
    registry = host.registry("dataset")
    if name_or_path in registry:
        return registry[name_or_path].obj().load(options)
    suffix = Path(name_or_path).suffix.lower()
    for entry in registry.values():
        if suffix and suffix in getattr(entry.obj, "suffixes", ()):  # optional DatasetSource member
            return entry.obj().load({**options, "path": name_or_path})
    known = ", ".join(sorted(n for n, e in registry.items() if not getattr(e.obj, "suffixes", ())))
    raise QauditError(f"unknown dataset {name_or_path!r} (available: {known}, or a .csv/.npz file)")
