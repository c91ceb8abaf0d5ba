"""Dataset sources. Every source returns raw features; models own their preprocessing."""

from __future__ import annotations

import gzip
import math
import os
import struct
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from qaudit.sdk import MAX_DATASET_NPZ_BYTES, Dataset, QauditError, check_regular_file, read_text_limited

#: Largest IDX payload (decompressed bytes) accepted; MNIST's training images are 47 MB.
MAX_IDX_BYTES = 128 * 1024 * 1024
#: Largest CSV file accepted (bytes).
MAX_CSV_BYTES = 64 * 1024 * 1024
#: Largest .npz file and dtype-implied size of its arrays (bytes): :data:`qaudit.sdk.MAX_DATASET_NPZ_BYTES`.
MAX_NPZ_BYTES = MAX_DATASET_NPZ_BYTES

MNIST_ENV = "QAUDIT_MNIST_DIR"
MNIST_FILES = {
    "images": ("t10k-images-idx3-ubyte", "train-images-idx3-ubyte"),
    "labels": ("t10k-labels-idx1-ubyte", "train-labels-idx1-ubyte"),
}


class Digits:
    name = "digits"
    roles: ClassVar[frozenset[str]] = frozenset({"default"})
    description = "scikit-learn's bundled handwritten digits (1797 images, 8x8, 10 classes); no download"
    suffixes: tuple[str, ...] = ()

    def load(self, options: dict[str, Any]) -> Dataset:
        """scikit-learn's ``digits.csv.gz`` read the way ``load_digits`` reads it, without importing
        ``sklearn.datasets`` (its ``__init__`` imports every loader: about a third of a second)."""
        from importlib.util import find_spec

        spec = find_spec("sklearn")  # locates the package without importing it
        if spec is None or not spec.submodule_search_locations:
            raise QauditError("the digits dataset ships with scikit-learn, which is not installed")
        path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "digits.csv.gz"
        with gzip.open(path, mode="rt", encoding="utf-8") as handle:
            data = np.loadtxt(handle, delimiter=",")
        return Dataset("digits", data[:, :-1], data[:, -1].astype(int, copy=False), image_shape=(8, 8),
                       description=self.description, kind="image")


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (optionally gzip-compressed) with header validation.

    Streamed and bounded: the header's declared size must stay within :data:`MAX_IDX_BYTES`
    before anything is allocated, and at most that many bytes are ever decompressed.
    """
    import zlib

    check_regular_file(path, "IDX file")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            head = handle.read(4)
            if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] != 0x08:
                raise QauditError(f"{path}: not an unsigned-byte IDX file")
            ndim = head[3]
            dims_raw = handle.read(4 * ndim)
            if ndim == 0 or len(dims_raw) < 4 * ndim:
                raise QauditError(f"{path}: truncated IDX header")
            dims = struct.unpack(">" + "I" * ndim, dims_raw)
            size = math.prod(dims)
            if size > MAX_IDX_BYTES:
                raise QauditError(f"{path}: IDX header declares {size} bytes of data (dimensions "
                                  f"{'x'.join(map(str, dims))}); at most {MAX_IDX_BYTES} are accepted")
            raw = handle.read(size + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise QauditError(f"cannot read IDX file {path}: {exc}") from exc
    if len(raw) != size:
        found = f"more than {size}" if len(raw) > size else str(len(raw))
        raise QauditError(f"{path}: IDX data has {found} bytes, header says {size}")
    return np.frombuffer(raw, dtype=np.uint8).reshape(dims)


def _find(directory: Path, stems: tuple[str, ...]) -> Path | None:
    for stem in stems:
        for name in (stem + ".gz", stem, stem.replace("-idx", ".idx") + ".gz", stem.replace("-idx", ".idx")):
            if (directory / name).is_file():
                return directory / name
    return None


class MNIST:
    name = "mnist"
    description = f"MNIST from local IDX files (--data-dir or ${MNIST_ENV}); 28x28, 10 classes"
    suffixes: tuple[str, ...] = ()

    def load(self, options: dict[str, Any]) -> Dataset:
        where = options.get("data_dir") or os.environ.get(MNIST_ENV)
        if not where:
            raise QauditError(
                f"MNIST needs local IDX files: pass --data-dir DIR or set {MNIST_ENV} to a folder holding "
                "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (from yann.lecun.com/exdb/mnist "
                "or any MNIST mirror)")
        directory = Path(where)
        if not directory.is_dir():
            raise QauditError(f"MNIST data directory {directory} does not exist")
        images_path = _find(directory, MNIST_FILES["images"])
        labels_path = _find(directory, MNIST_FILES["labels"])
        if images_path is None or labels_path is None:
            raise QauditError(f"no MNIST IDX files in {directory} (expected t10k-images-idx3-ubyte[.gz] and "
                              "t10k-labels-idx1-ubyte[.gz])")
        images = read_idx(images_path)
        labels = read_idx(labels_path)
        if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
            raise QauditError(f"MNIST files in {directory} have mismatched shapes {images.shape}/{labels.shape}")
        return Dataset("mnist", images.reshape(len(images), -1).astype(np.float64), labels.astype(np.int64),
                       image_shape=tuple(images.shape[1:]), options={"data_dir": str(directory)},
                       description=self.description, kind="image")


def _parse_labels(path: Path, label: str, values: list[str]) -> tuple[np.ndarray, list[str] | None]:
    """Integer labels as they are; any non-numeric label maps every label to 0..C-1 in sorted order."""
    numbers: list[float] = []
    for i, text in enumerate(values):
        if not text:
            raise QauditError(f"{path}: line {i + 2}, column '{label}': empty label")
        try:
            numbers.append(float(text))
        except ValueError:
            names = sorted(set(values))
            lookup = {name: c for c, name in enumerate(names)}
            return np.array([lookup[v] for v in values], dtype=np.int64), names
    y = np.array(numbers, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(y) | (y != np.round(y)) | (y < 0))
    if bad.size:
        i = int(bad[0])
        raise QauditError(f"{path}: line {i + 2}, column '{label}': label {values[i]!r} is not a non-negative "
                          "integer (labels are non-negative integers or strings)")
    return y.astype(np.int64), None


def _parse_features(path: Path, header: list[str], rows: list[list[str]]) -> np.ndarray:
    """The feature columns as float64; a bad value names its line and column."""
    X = np.empty((len(rows), len(header)), dtype=np.float64)
    for i, row in enumerate(rows):
        for j, text in enumerate(row):
            try:
                value = float(text)
            except ValueError:
                value = None
            if value is None or not np.isfinite(value):
                what = "missing value" if not text.strip() else f"non-numeric or non-finite value {text!r}"
                raise QauditError(f"{path}: line {i + 2}, column '{header[j]}': {what}")
            X[i, j] = value
    return X


class CSVFile:
    name = "csv"
    description = ("a .csv file with a header row and a label column (--label-column, default 'label'); "
                   "labels are non-negative integers or strings (mapped to 0..C-1 in sorted order)")
    suffixes = (".csv",)

    def load(self, options: dict[str, Any]) -> Dataset:
        import csv
        import io

        path = Path(options["path"])
        label = options.get("label_column", "label")
        text = read_text_limited(path, MAX_CSV_BYTES, "CSV file")
        try:
            rows = list(csv.reader(io.StringIO(text, newline="")))
        except csv.Error as exc:
            raise QauditError(f"{path}: not a valid CSV file ({exc})") from None
        if not rows:
            raise QauditError(f"{path}: empty CSV file")
        header = [h.strip() for h in rows[0]]
        if label not in header:
            raise QauditError(f"{path}: no '{label}' column (columns: {', '.join(header[:10])}); "
                              "pass --label-column NAME")
        col = header.index(label)
        if len(header) < 2:
            raise QauditError(f"{path}: no feature columns (only the label column '{label}')")
        ragged = next((i + 2 for i, row in enumerate(rows[1:]) if row and len(row) != len(header)), None)
        if ragged is not None:
            raise QauditError(f"{path}: rows have inconsistent lengths (line {ragged} has "
                              f"{len(rows[ragged - 1])} fields, the header {len(header)})")
        if any(not row for row in rows[1:]):  # keep line numbers exact: blank lines only at the end
            last = max(i for i, row in enumerate(rows) if row)
            rows = rows[:last + 1]
            blank = next((i + 1 for i, row in enumerate(rows) if not row), None)
            if blank is not None:
                raise QauditError(f"{path}: line {blank} is empty")
        body = rows[1:]
        y, names = _parse_labels(path, label, [row[col].strip() for row in body])
        features = [h for j, h in enumerate(header) if j != col]
        X = _parse_features(path, features, [[v for j, v in enumerate(row) if j != col] for row in body])
        return Dataset(str(path), X, y, options={"path": str(path), "label_column": label}, kind="tabular",
                       label_names=names)


class NPZFile:
    name = "npz"
    description = "a .npz file with arrays X (n_samples, n_features) and y (n_samples,)"
    suffixes = (".npz",)

    def load(self, options: dict[str, Any]) -> Dataset:
        path = Path(options["path"])
        X, y = _read_npz(path)
        if X.ndim < 1 or y.ndim != 1 or X.shape[0] == 0:
            raise QauditError(f"{path}: X must be (n_samples, ...) with n_samples > 0 and y (n_samples,)")
        shape = tuple(X.shape[1:]) if X.ndim == 3 else None
        if y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(np.abs(y) < 2**53) \
                and np.all(y == np.round(y)):
            y = y.astype(np.int64)
        return Dataset(str(path), X.reshape(len(X), -1), y, image_shape=shape, options={"path": str(path)},
                       kind="image" if shape is not None else "tabular")


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Arrays X and y of a .npz file, headers and sizes checked first (never pickle)."""
    from qaudit.sdk import read_npz_limited

    arrays = read_npz_limited(path, MAX_NPZ_BYTES, "NPZ file", required=("X", "y"), names=("X", "y"))
    return arrays["X"], arrays["y"]
