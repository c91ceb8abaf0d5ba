"""Datasets, member/holdout splits and the model file's data record."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qaudit.errors import QauditError


@dataclass
class Dataset:
    """Raw features ``X`` (n_samples, n_features) float64 and labels ``y`` int64."""

    name: str
    X: np.ndarray
    y: np.ndarray
    image_shape: tuple[int, ...] | None = None
    options: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    def __post_init__(self) -> None:
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
        if self.y.size and self.y.min() < 0:
            raise QauditError(f"dataset {self.name!r}: labels must be non-negative")
        self.y = self.y.astype(np.int64)

    @property
    def n_classes(self) -> int:
        return int(self.y.max()) + 1 if self.y.size else 0

    def __len__(self) -> int:
        return int(self.X.shape[0])


@dataclass
class DataRecord:
    """Where a model's training data came from: indices into a named dataset."""

    dataset: str
    options: dict[str, Any]
    members: np.ndarray
    holdout: np.ndarray
    seed: int
    excluded: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "options": self.options,
            "seed": self.seed,
            "members": self.members.tolist(),
            "holdout": self.holdout.tolist(),
            "excluded": self.excluded,
        }


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
                                            random_state=seed + 1, stratify=stratify)
    except ValueError:
        members, holdout = train_test_split(index, train_size=n_train, test_size=n_holdout,
                                            random_state=seed + 1)
    return np.sort(members), np.sort(holdout)


def read_indices(path: str, n_samples: int) -> np.ndarray:
    """Read a file of sample indices (whitespace/comma separated, or a JSON list)."""
    import json
    import re
    from pathlib import Path

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise QauditError(f"cannot read index file {path}: {exc.strerror}") from exc
    text = text.strip()
    try:
        values = json.loads(text) if text.startswith("[") else [int(t) for t in re.split(r"[\s,]+", text) if t]
    except ValueError as exc:
        raise QauditError(f"{path}: expected integer sample indices") from exc
    if not isinstance(values, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise QauditError(f"{path}: expected integer sample indices")
    idx = np.asarray(values, dtype=np.int64)
    if idx.size == 0:
        raise QauditError(f"{path}: no indices")
    if idx.min() < 0 or idx.max() >= n_samples:
        raise QauditError(f"{path}: indices must lie in 0..{n_samples - 1}")
    if len(np.unique(idx)) != idx.size:
        raise QauditError(f"{path}: duplicate indices")
    return idx


def load_dataset(name_or_path: str, options: dict[str, Any] | None = None, host: Any = None) -> Dataset:
    """Load a registered dataset by name, or a user file by suffix (.csv, .npz)."""
    from pathlib import Path

    from qaudit.plugins import get_host

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
