"""Datasets: digits, MNIST IDX (shared test set), CSV/NPZ user files, seeded stratified disjoint splits."""

from __future__ import annotations

import gzip
import hashlib
import shutil
import struct

import numpy as np
import pytest

from qaudit.files.data import load_dataset, read_indices, split
from qaudit.sdk.errors import QauditError


def test_digits():
    ds = load_dataset("digits")
    assert ds.X.shape == (1797, 64) and ds.y.shape == (1797,)
    assert ds.n_classes == 10 and ds.image_shape == (8, 8)
    assert ds.X.min() >= 0 and ds.X.max() == 16
    from sklearn.datasets import load_digits  # read without sklearn.datasets, but the very same arrays

    bunch = load_digits()
    assert np.array_equal(ds.X, bunch.data) and ds.X.dtype == bunch.data.dtype
    assert np.array_equal(ds.y, bunch.target) and ds.y.dtype == bunch.target.dtype


def test_mnist_from_shared_idx(mnist_dir):
    ds = load_dataset("mnist", {"data_dir": str(mnist_dir)})
    assert ds.X.shape == (10_000, 784) and ds.image_shape == (28, 28)
    assert ds.X.max() == 255 and ds.X.min() == 0
    assert np.bincount(ds.y).tolist()[:3] == [980, 1135, 1032]  # the genuine MNIST test-set class counts
    # the raw bytes really come from the IDX file
    with gzip.open(mnist_dir / "t10k-images-idx3-ubyte.gz", "rb") as fh:
        raw = fh.read()
    assert struct.unpack(">IIII", raw[:16]) == (2051, 10000, 28, 28)
    assert hashlib.sha1(ds.X.astype(np.uint8).tobytes()).hexdigest() == hashlib.sha1(raw[16:]).hexdigest()


def test_mnist_env_variable_and_missing_dir(mnist_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("QAUDIT_MNIST_DIR", str(mnist_dir))
    assert len(load_dataset("mnist")) == 10_000
    monkeypatch.delenv("QAUDIT_MNIST_DIR")
    with pytest.raises(QauditError, match="--data-dir"):
        load_dataset("mnist")
    with pytest.raises(QauditError, match="does not exist"):
        load_dataset("mnist", {"data_dir": str(tmp_path / "nope")})
    with pytest.raises(QauditError, match="no MNIST IDX files"):
        load_dataset("mnist", {"data_dir": str(tmp_path)})


def _copy_mnist(mnist_dir, tmp_path):
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(mnist_dir / name, tmp_path / name)
    return tmp_path


def test_corrupt_and_truncated_idx(mnist_dir, tmp_path):
    d = _copy_mnist(mnist_dir, tmp_path)
    gz = d / "t10k-images-idx3-ubyte.gz"
    original = gz.read_bytes()
    raw = gzip.decompress(original)
    gz.write_bytes(original[:5000])  # truncated gzip stream
    with pytest.raises(QauditError, match="cannot read IDX"):
        load_dataset("mnist", {"data_dir": str(d)})
    gz.write_bytes(b"this is not gzip at all")
    with pytest.raises(QauditError):
        load_dataset("mnist", {"data_dir": str(d)})
    gz.unlink()
    plain = d / "t10k-images-idx3-ubyte"  # uncompressed IDX files are accepted too
    cases = {
        "truncated data": (raw[: len(raw) // 2], "header says"),
        "bad magic": (b"\x12\x34" + raw[2:], "not an unsigned-byte IDX"),
        "truncated header": (raw[:6], "truncated IDX header"),
        "count mismatch": (struct.pack(">IIII", 2051, 5, 28, 28) + raw[16 : 16 + 5 * 784], "mismatched"),
    }
    for name, (data, fragment) in cases.items():
        plain.write_bytes(data)
        with pytest.raises(QauditError, match=fragment) as info:
            load_dataset("mnist", {"data_dir": str(d)})
        assert "\n" not in str(info.value), name
    plain.write_bytes(raw)
    assert len(load_dataset("mnist", {"data_dir": str(d)})) == 10_000


def test_splits_are_disjoint_stratified_and_seeded(mnist_dir):
    ds = load_dataset("mnist", {"data_dir": str(mnist_dir)})
    members, holdout = split(ds.y, 1000, 500, seed=0)
    assert len(members) == 1000 and len(holdout) == 500
    assert not np.intersect1d(members, holdout).size
    assert len(np.unique(members)) == 1000
    full = np.bincount(ds.y, minlength=10) / len(ds.y)
    for idx in (members, holdout):
        frac = np.bincount(ds.y[idx], minlength=10) / len(idx)
        assert np.max(np.abs(frac - full)) < 0.01  # stratified
    again = split(ds.y, 1000, 500, seed=0)
    np.testing.assert_array_equal(again[0], members)
    np.testing.assert_array_equal(again[1], holdout)
    other = split(ds.y, 1000, 500, seed=1)
    assert not np.array_equal(other[0], members)
    with pytest.raises(QauditError, match="exceeds"):
        split(ds.y, 9000, 2000, seed=0)
    with pytest.raises(QauditError, match="positive"):
        split(ds.y, 0, 10, seed=0)


def test_csv_files(tmp_path):
    good = tmp_path / "data.csv"
    rows = ["a,b,label,c"] + [f"{i},{i * 2},{i % 3},{i / 10}" for i in range(30)]
    good.write_text("\n".join(rows) + "\n")
    ds = load_dataset(str(good))
    assert ds.X.shape == (30, 3) and ds.n_classes == 3
    np.testing.assert_array_equal(ds.X[4], [4, 8, 0.4])
    other = tmp_path / "other.csv"
    other.write_text("x,y,target\n1,2,0\n3,4,1\n")
    with pytest.raises(QauditError, match="no 'label' column"):
        load_dataset(str(other))
    assert load_dataset(str(other), {"label_column": "target"}).y.tolist() == [0, 1]
    for text, fragment in [("", "empty"), ("a,label\nx,1\n", "line 2, column 'a': non-numeric"),
                           ("a,label\n1,0.5\n", "integers"), ("a,b,label\n1,2,0\n3,1\n", "inconsistent"),
                           ("a,label\nnan,1\n", "non-finite")]:
        bad = tmp_path / "bad.csv"
        bad.write_text(text)
        with pytest.raises(QauditError, match=fragment):
            load_dataset(str(bad))
    with pytest.raises(QauditError, match="cannot read"):
        load_dataset(str(tmp_path / "absent.csv"))


def test_npz_files(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "d.npz"
    np.savez(path, X=rng.random((20, 4, 4)), y=np.arange(20) % 2)
    ds = load_dataset(str(path))
    assert ds.X.shape == (20, 16) and ds.image_shape == (4, 4)
    np.savez(path, X=rng.random((20, 5)))
    with pytest.raises(QauditError, match="'X' and 'y'"):
        load_dataset(str(path))
    np.savez(path, X=rng.random((20, 5)), y=np.arange(19))
    with pytest.raises(QauditError, match="labels"):
        load_dataset(str(path))
    obj = tmp_path / "obj.npz"
    np.savez(obj, X=np.array([{"a": 1}], dtype=object), y=np.array([0]))
    with pytest.raises(QauditError):
        load_dataset(str(obj))  # pickled object arrays are refused
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(QauditError):
        load_dataset(str(tmp_path / "junk.npz"))


def test_unknown_dataset_and_index_files(tmp_path):
    with pytest.raises(QauditError, match="unknown dataset 'nope'"):
        load_dataset("nope")
    f = tmp_path / "idx.txt"
    f.write_text("3, 1 7\n")
    assert read_indices(str(f), 10).tolist() == [3, 1, 7]
    for text in ("", "1 1", "a b", "[1.5]", "99"):
        f.write_text(text)
        with pytest.raises(QauditError):
            read_indices(str(f), 10)
