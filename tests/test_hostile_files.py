"""Hostile input files: every file qaudit reads ends in one clear line, quickly, in bounded memory.

Model, data (CSV, NPZ, IDX), index, config, baseline and circuit files come from CI checkouts qaudit
did not make. Each case here is a small file that *declares* something huge (or the real endless
``/dev/zero``) and must give one ``QauditError`` line (CLI: ``error: ...``, exit 2) within seconds.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import os
import struct
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import one_line_error

from qaudit.cli import config
from qaudit.files import model_file as model_io
from qaudit.files.data import MAX_CLASSES, load_dataset, read_indices
from qaudit.files.io import read_stream_limited
from qaudit.report import gating
from qaudit.sdk.errors import QauditError

ZERO = Path("/dev/zero")
needs_dev_zero = pytest.mark.skipif(not ZERO.exists(), reason="no /dev/zero")
PEAK_BYTES = 64 * 1024 * 1024


def refused(action: Callable[[], object], fragment: str = "") -> str:
    """Run *action*: it must raise a one-line QauditError (containing *fragment*), with less than PEAK_BYTES of
    Python/numpy memory allocated on the way (no wall-clock check: speed belongs in benchmarks/)."""
    tracemalloc.start()
    try:
        with pytest.raises(QauditError) as info:
            action()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    message = str(info.value)
    assert "\n" not in message and message, message
    assert fragment.lower() in message.lower(), message
    assert peak < PEAK_BYTES, f"allocated {peak} bytes: {message}"
    return message


def deep_json(levels: int = 100_000) -> str:
    return "[" * levels + "]" * levels


@pytest.fixture(scope="module")
def model_doc(tmp_path_factory) -> dict:
    """A small trained basic-qnn model document (3 qubits, digits)."""
    from qaudit.files.data import load_dataset as load
    from qaudit.train.workflows import train_model

    mf = train_model("basic-qnn", load("digits"), n_train=60, n_holdout=40, seed=1,
                     options={"qubits": 3, "layers": 1, "epochs": 1})
    return json.loads(json.dumps(model_io.to_document(mf)))


def write_model(tmp_path: Path, doc: dict, name: str = "model.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def load_doc(tmp_path: Path, doc: dict) -> Callable[[], object]:
    path = write_model(tmp_path, doc)
    return lambda: model_io.load(path)


# ----------------------------------------------------------------------------- 1. size caps, endless streams


def _circuit_reader():
    from qaudit_qnn.user_circuit import read_circuit_file

    return read_circuit_file


def _csv_loader(path):
    from qaudit_datasets.sources import CSVFile

    return CSVFile().load({"path": str(path)})


def _npz_loader(path):
    from qaudit_datasets.sources import NPZFile

    return NPZFile().load({"path": str(path)})


def _config_reader(path, monkeypatch):
    monkeypatch.setenv(config.CONFIG_ENV, str(path))
    return config.find_config()


READERS = {
    "model": lambda p, mp: model_io.load(p),
    "csv": lambda p, mp: _csv_loader(p),
    "npz": lambda p, mp: _npz_loader(p),
    "index": lambda p, mp: read_indices(str(p), 10),
    "config": _config_reader,
    "baseline": lambda p, mp: gating.read_baseline(p),
    "circuit": lambda p, mp: _circuit_reader()(p),
}


@needs_dev_zero
@pytest.mark.parametrize("kind", sorted(READERS))
def test_dev_zero_is_refused_quickly(kind, monkeypatch):
    refused(lambda: READERS[kind](ZERO, monkeypatch), "not a regular file")


@pytest.mark.parametrize("kind", sorted(READERS))
def test_directory_is_refused(kind, tmp_path, monkeypatch):
    refused(lambda: READERS[kind](tmp_path, monkeypatch), "directory")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
@pytest.mark.parametrize("kind", sorted(READERS))
def test_fifo_is_refused_without_blocking(kind, tmp_path, monkeypatch):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    refused(lambda: READERS[kind](fifo, monkeypatch), "not a regular file")


@needs_dev_zero
def test_limited_read_of_an_endless_stream_stops_at_cap_plus_one():
    with open(ZERO, "rb") as handle:
        refused(lambda: read_stream_limited(handle, 1000, "test file", ZERO), "too large")
        assert handle.tell() <= 1001


@pytest.mark.parametrize("kind,limit", [
    ("config", "qaudit.cli.config:MAX_CONFIG_BYTES"), ("index", "qaudit.files.data:MAX_INDEX_FILE_BYTES"),
    ("baseline", "qaudit.report.gating:MAX_BASELINE_BYTES"), ("circuit", "qaudit_qnn.user_circuit:MAX_CIRCUIT_CHARS"),
    ("csv", "qaudit_datasets.sources:MAX_CSV_BYTES"), ("npz", "qaudit_datasets.sources:MAX_NPZ_BYTES"),
    ("model", "qaudit.files.model_file:MAX_FILE_BYTES")])
def test_oversized_files_are_refused(kind, limit, tmp_path, monkeypatch):
    import importlib

    module, name = limit.split(":")
    cap = getattr(importlib.import_module(module), name)
    big = tmp_path / "big.file"
    with open(big, "wb") as handle:  # sparse: nothing is written
        handle.truncate(cap + 1)
    refused(lambda: READERS[kind](big, monkeypatch), "too large")


def test_cli_dev_zero_model_exits_2(run_qaudit):
    if not ZERO.exists():
        pytest.skip("no /dev/zero")
    code, out, err = run_qaudit(["evaluate", str(ZERO)])
    assert code == 2 and out == ""
    assert "not a regular file" in one_line_error(err)


def test_cli_dev_zero_baseline_exits_2(run_qaudit, digits_model_file):
    if not ZERO.exists():
        pytest.skip("no /dev/zero")
    code, _, err = run_qaudit(["leak", str(digits_model_file), "--baseline", str(ZERO)])
    assert code == 2
    assert "not a regular file" in one_line_error(err)


# ----------------------------------------------------------------------------- 2. decompression caps


def idx_bytes(dims: tuple[int, ...], payload: bytes) -> bytes:
    return bytes([0, 0, 8, len(dims)]) + struct.pack(">" + "I" * len(dims), *dims) + payload


def mnist_dir_with(tmp_path: Path, images: bytes, labels: bytes) -> Path:
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(images, 1))
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(labels, 1))
    return tmp_path


def test_idx_declaring_gigabytes_is_refused_before_allocating(tmp_path):
    d = mnist_dir_with(tmp_path, idx_bytes((3000, 1000, 1000), b"\0" * 4096), idx_bytes((3000,), b"\0" * 3000))
    assert (d / "t10k-images-idx3-ubyte.gz").stat().st_size < 100_000
    refused(lambda: load_dataset("mnist", {"data_dir": str(d)}), "declares 3000000000 bytes")


def test_idx_inflating_beyond_its_header_stops_at_the_header_size(tmp_path):
    bomb = idx_bytes((1, 10, 10), b"\0" * (40 * 1024 * 1024))  # 40 MB of zeros behind a 100-byte header
    d = mnist_dir_with(tmp_path, bomb, idx_bytes((1,), b"\0"))
    refused(lambda: load_dataset("mnist", {"data_dir": str(d)}), "more than 100 bytes")


def write_npz(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def valid_npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def test_npy_header_declaring_a_trillion_elements_is_refused(tmp_path):
    header = io.BytesIO()
    np.lib.format.write_array(header, np.zeros(1))  # a real header, then patched below
    huge = header.getvalue().replace(b"(1,)", b"(1000000, 1000000)")
    path = write_npz(tmp_path / "huge.npz", {"X.npy": huge, "y.npy": valid_npy(np.zeros(2, dtype=np.int64))})
    refused(lambda: load_dataset(str(path)), "declares shape (1000000, 1000000)")


def test_npz_zip_bomb_is_refused_before_inflating(tmp_path, monkeypatch):
    from qaudit_datasets import sources

    monkeypatch.setattr(sources, "MAX_NPZ_BYTES", 4 * 1024 * 1024)
    bomb = valid_npy(np.zeros((1024, 1024)))  # 8 MB of zeros, about 8 KB compressed
    path = write_npz(tmp_path / "bomb.npz", {"X.npy": bomb, "y.npy": valid_npy(np.zeros(1024, dtype=np.int64))})
    assert path.stat().st_size < 100_000
    refused(lambda: load_dataset(str(path)), "inflate")


@pytest.mark.parametrize("array,fragment", [
    (np.array([{"a": 1}], dtype=object), "numeric arrays only"),
    (np.zeros((2, 2), dtype=complex), "numeric arrays only")])
def test_npz_non_numeric_arrays_are_refused(array, fragment, tmp_path):
    members = {"X.npy": valid_npy(array) if array.dtype != object else b"\x93NUMPY\x01\x00" + b"v\x00" + (
        "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }".ljust(117) + "\n").encode(),
        "y.npy": valid_npy(np.zeros(2, dtype=np.int64))}
    path = write_npz(tmp_path / "odd.npz", members)
    refused(lambda: load_dataset(str(path)), fragment)


# ----------------------------------------------------------------------------- 3. deep nesting


def test_deep_json_model_file(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text('{"format": "qaudit.model", "config": ' + deep_json() + "}")
    refused(lambda: model_io.load(path), "nested")


def test_deep_json_index_file(tmp_path):
    path = tmp_path / "deep.txt"
    path.write_text(deep_json())
    refused(lambda: read_indices(str(path), 10), "nested")


def test_deep_json_baseline(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text('{"measurements": {"a": ' + deep_json() + "}}")
    refused(lambda: gating.read_baseline(path), "nested")


def test_deep_json_circuit_file(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text('{"cirq_type": "Circuit", "moments": ' + deep_json() + "}")
    refused(lambda: _circuit_reader()(path), "nested")


def test_brackets_inside_strings_do_not_count(tmp_path):
    from qaudit.files.io import json_depth

    assert json_depth('{"a": "[[[[[[[[\\"[[[", "b": [1, {"c": []}]}') == 4


@pytest.mark.parametrize("text", [
    "[" + ".".join(["t"] * 2000) + "]\nx = 1\n",
    "x = " + "[" * 2000 + "]" * 2000 + "\n",
    "x = " + "{a = " * 2000 + "1" + "}" * 2000 + "\n",
    ".".join(["k"] * 2000) + " = 1\n"], ids=["tables", "arrays", "inline-tables", "dotted-key"])
def test_deep_toml_config(text, tmp_path, monkeypatch):
    path = tmp_path / "qaudit.toml"
    path.write_text(text)
    refused(lambda: _config_reader(path, monkeypatch), "nested")


def test_cli_deep_model_file_exits_2(tmp_path, run_qaudit):
    path = tmp_path / "deep.json"
    path.write_text(deep_json())
    code, _, err = run_qaudit(["evaluate", str(path)])
    assert code == 2
    assert "nested" in one_line_error(err)


# ----------------------------------------------------------------------------- 4. integers beyond int64


@pytest.mark.parametrize("value,fragment", [
    ([10**30], "out of range"), ([3.9], "integers"), (["3"], "integers"), ([True], "integers"),
    ([1, 2.0], "integers")])
def test_member_indices_must_be_int64_integers(value, fragment, model_doc, tmp_path):
    doc = json.loads(json.dumps(model_doc))
    doc["data"]["members"] = value
    doc["data"]["holdout"] = [5]
    refused(load_doc(tmp_path, doc), fragment)


def test_big_integer_anywhere_in_a_model_file(model_doc, tmp_path):
    doc = json.loads(json.dumps(model_doc))
    doc["config"]["seed"] = 10**30
    refused(load_doc(tmp_path, doc), "out of range")


@pytest.mark.parametrize("text", ["100000000000000000000000000000", "[100000000000000000000000000000]",
                                  "[1.5]", "[true]", "1 2 x"])
def test_index_file_integers(text, tmp_path):
    path = tmp_path / "idx.txt"
    path.write_text(text)
    refused(lambda: read_indices(str(path), 10))


def test_baseline_integer_beyond_float(tmp_path):
    path = tmp_path / "base.json"
    path.write_text('{"measurements": {"loss": {"auc": 1' + "0" * 400 + "}}}")
    refused(lambda: gating.read_baseline(path), "out of range")


# ----------------------------------------------------------------------------- 5. labels and classes


def test_csv_label_of_a_billion(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("a,label\n1,1000000000\n2,0\n")
    refused(lambda: load_dataset(str(path)), f"0..{MAX_CLASSES - 1}")


def test_npz_label_of_a_billion(tmp_path):
    path = tmp_path / "big.npz"
    np.savez(path, X=np.ones((2, 3)), y=np.array([0, 10**9]))
    refused(lambda: load_dataset(str(path)), f"0..{MAX_CLASSES - 1}")


def test_csv_too_many_string_classes(tmp_path):
    path = tmp_path / "many.csv"
    path.write_text("a,label\n" + "".join(f"{i},c{i}\n" for i in range(MAX_CLASSES + 1)))
    refused(lambda: load_dataset(str(path)), "classes")


def test_model_with_fewer_classes_than_the_data(model_doc, tmp_path, run_qaudit):
    from qaudit.train.workflows import dataset_for

    doc = json.loads(json.dumps(model_doc))
    doc["config"]["n_classes"] = 2
    doc["params"]["W"] = [row[:2] for row in doc["params"]["W"]]
    doc["params"]["b"] = doc["params"]["b"][:2]
    path = write_model(tmp_path, doc)
    mf = model_io.load(path)
    refused(lambda: dataset_for(mf), "only 2 classes")
    code, _, err = run_qaudit(["evaluate", str(path)])
    assert code == 2
    assert "only 2 classes" in one_line_error(err)


# ----------------------------------------------------------------------------- 6. extreme finite numbers


def _set(doc: dict, path: str, value) -> None:
    keys = path.split("/")
    target = doc
    for key in keys[:-1]:
        target = target[int(key)] if isinstance(target, list) else target[key]
    last = keys[-1]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value


@pytest.mark.parametrize("where,value,fragment", [
    ("params/W/0/0", 1e308, "beyond"),
    ("params/b/0", -1e7, "beyond"),
    ("params/theta", {"dtype": "float64", "shape": [9],
                      "base64": base64.b64encode(np.full(9, 1e300).tobytes()).decode()}, "beyond"),
], ids=["W", "b", "theta-base64"])
def test_extreme_parameters(where, value, fragment, model_doc, tmp_path):
    doc = json.loads(json.dumps(model_doc))
    _set(doc, where, value)
    refused(load_doc(tmp_path, doc), fragment)


@pytest.mark.parametrize("steps,fragment", [
    ([{"op": "scale", "factor": 1e308}], "factor"),
    ([{"op": "normalize", "mean": 0.0, "std": 1e-320}], "std"),
    ([{"op": "normalize", "mean": 1e300, "std": 1.0}], "mean"),
    ([{"op": "bias", "value": 1e300}], "value"),
], ids=["scale", "std", "mean", "bias"])
def test_extreme_preprocessing(steps, fragment, model_doc, tmp_path):
    doc = json.loads(json.dumps(model_doc))
    doc["preprocessing"] = steps + doc["preprocessing"]
    refused(load_doc(tmp_path, doc), fragment)


def _ry(rads) -> dict:
    return {"cirq_type": "Circuit", "moments": [{"cirq_type": "Moment", "operations": [
        {"cirq_type": "GateOperation", "gate": {"cirq_type": "Ry", "rads": rads},
         "qubits": [{"cirq_type": "LineQubit", "x": 0}]}]}]}


SYMBOL = {"cirq_type": "sympy.Symbol", "name": "a"}


@pytest.mark.parametrize("rads,fragment", [
    ({"cirq_type": "sympy.Mul", "args": [{"cirq_type": "sympy.Float", "approx": 1e300},
                                         {"cirq_type": "sympy.Float", "approx": 1e300}, SYMBOL]}, "within"),
    ({"cirq_type": "sympy.Mul", "args": [1e5, 1e5, SYMBOL]}, "coefficient"),
    ({"cirq_type": "sympy.Mul", "args": [2.0, {"cirq_type": "sympy.Add", "args": [
        {"cirq_type": "sympy.Mul", "args": [2.0, SYMBOL]}, 1.0]}]}, "nested"),
    (1e300, "within"),
], ids=["float-product", "coefficient-product", "nested-product", "number"])
def test_extreme_circuit_numbers(rads, fragment, tmp_path):
    from qaudit_qnn.user_circuit import load_circuit

    path = tmp_path / "circuit.json"
    path.write_text(json.dumps(_ry(rads)))
    tree = _circuit_reader()(path)
    refused(lambda: load_circuit(tree), fragment)


def test_ordinary_circuit_coefficients_still_load():
    import cirq
    import sympy
    from qaudit_qnn.user_circuit import load_circuit

    a = sympy.Symbol("a")
    q = cirq.LineQubit(0)
    circuit = cirq.Circuit(cirq.ry(-sympy.pi * a + 0.5).on(q), cirq.rz(2.5 * a).on(q), cirq.rx(a / 3).on(q))
    assert load_circuit(json.loads(cirq.to_json(circuit))) == circuit


# ----------------------------------------------------------------------------- 7. a CSV without features


def test_csv_with_only_a_label_column(tmp_path, run_qaudit):
    path = tmp_path / "labels.csv"
    path.write_text("label\n0\n1\n0\n1\n")
    refused(lambda: load_dataset(str(path)), "no feature columns")
    code, _, err = run_qaudit(["train", "-d", str(path), "--out", str(tmp_path / "m.json")])
    assert code == 2
    assert "no feature columns" in one_line_error(err)
    assert not (tmp_path / "m.json").exists()


# ----------------------------------------------------------------------------- 8. absurd declared sizes


def test_twenty_qubits_and_a_huge_pad_in_a_small_file(model_doc, tmp_path):
    doc = json.loads(json.dumps(model_doc))
    q = 20
    doc["config"]["qubits"] = q
    doc["preprocessing"] = [{"op": "pad", "size": 2**q}, {"op": "l2"}]
    doc["params"] = {"theta": [0.1] * (3 * q), "W": [[0.1] * 10] * q, "b": [0.0] * 10}
    path = write_model(tmp_path, doc)
    assert path.stat().st_size < 10_000
    refused(lambda: model_io.load(path), "config.qubits is 20")


def test_huge_pad_alone_is_refused(model_doc, tmp_path):
    doc = json.loads(json.dumps(model_doc))
    doc["preprocessing"] = [{"op": "pad", "size": 2**20}, {"op": "l2"}]
    refused(load_doc(tmp_path, doc), "'size' must be a positive integer of at most")


@pytest.mark.parametrize("key,value", [("n_classes", 2**24), ("n_classes", MAX_CLASSES + 1),
                                       ("n_features_in", 2**24)])
def test_absurd_declared_classes_and_features(key, value, model_doc, tmp_path):
    doc = json.loads(json.dumps(model_doc))
    doc["config"][key] = value
    refused(load_doc(tmp_path, doc), f"config.{key} is {value}")


def test_cli_absurd_model_exits_2(model_doc, tmp_path, run_qaudit):
    doc = json.loads(json.dumps(model_doc))
    doc["config"]["n_classes"] = 2**24
    code, out, err = run_qaudit(["evaluate", str(write_model(tmp_path, doc))])
    assert code == 2 and out == ""
    assert "at most" in one_line_error(err)


def test_the_untampered_model_still_loads(model_doc, tmp_path):
    mf = model_io.load(write_model(tmp_path, model_doc))
    assert mf.model.n_classes == 10
