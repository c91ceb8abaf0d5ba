"""Model file: validation of untrusted model.json, one-line errors with exit 2, atomic saves."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import one_line_error as error_line

from qaudit.files import arrays
from qaudit.files import model_file as model_io
from qaudit.sdk.errors import QauditError


@pytest.fixture
def document(digits_model_file) -> dict:
    return json.loads(Path(digits_model_file).read_text())


def write(tmp_path: Path, doc, name: str = "bad.json") -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def test_round_trip_preserves_predictions(digits_model_file, tmp_path):
    from qaudit.files.data import load_dataset

    mf = model_io.load(digits_model_file)
    ds = load_dataset("digits")
    X = ds.X[:50]
    p1 = mf.model.predict_proba(X)
    out = tmp_path / "copy.json"
    model_io.save(mf, out, command="test")
    mf2 = model_io.load(out)
    np.testing.assert_array_equal(mf2.model.predict_proba(X), p1)
    assert mf2.kind == "basic-qnn"
    np.testing.assert_array_equal(mf2.data.members, mf.data.members)
    np.testing.assert_array_equal(mf2.data.holdout, mf.data.holdout)
    assert not np.intersect1d(mf2.data.members, mf2.data.holdout).size
    doc = json.loads(out.read_text())
    assert doc["format"] == "qaudit.model" and doc["version"] == model_io.VERSION
    assert doc["provenance"]["command"] == "test"


def test_base64_codec_round_trip_and_validation():
    rng = np.random.default_rng(0)
    for shape in [(100,), (7, 13), (2, 3, 20)]:
        a = rng.normal(size=shape)
        enc = arrays.encode(a)
        assert isinstance(enc, dict) and enc["dtype"] == "float64"
        np.testing.assert_array_equal(arrays.decode(json.loads(json.dumps(enc)), "x", shape), a)
    small = arrays.encode(np.arange(5.0))
    assert small == [0.0, 1.0, 2.0, 3.0, 4.0]
    f32 = arrays.encode(np.linspace(0, 1, 100), dtype="float32")
    np.testing.assert_allclose(arrays.decode(f32, "x"), np.linspace(0, 1, 100), rtol=1e-7)
    raw = np.arange(100, dtype="<f8").tobytes()
    bad_cases = [
        {"dtype": "float64", "shape": [99], "base64": base64.b64encode(raw).decode()},  # size mismatch
        {"dtype": "complex64", "shape": [100], "base64": base64.b64encode(raw).decode()},  # dtype
        {"dtype": "float64", "shape": [100], "base64": "!!notbase64!!"},
        {"dtype": "float64", "shape": [-1], "base64": ""},
        {"dtype": "float64", "shape": [100000, 100000], "base64": ""},  # oversized
        {"dtype": "float64", "shape": [2], "base64": base64.b64encode(np.array([1.0, np.nan]).tobytes()).decode()},
        [[1.0, 2.0], [3.0]],  # ragged
        "hello",
        [1.0, float("inf")],
    ]
    for value in bad_cases:
        with pytest.raises(QauditError):
            arrays.decode(value, "params.theta")
    with pytest.raises(QauditError, match="expected shape"):
        arrays.decode([1.0, 2.0], "params.b", (3,))


def _mutations(doc: dict) -> dict[str, tuple[object, str]]:
    """name -> (bad document or text, expected message fragment)."""
    out: dict[str, tuple[object, str]] = {}

    def mutate(name, fn, fragment):
        d = copy.deepcopy(doc)
        fn(d)
        out[name] = (d, fragment)

    out["not json"] = ('{"format": "qaudit.model", ', "not valid JSON")
    out["truncated"] = (json.dumps(doc)[: len(json.dumps(doc)) // 2], "not valid JSON")
    out["json list"] = ("[1, 2, 3]", "not a qaudit model file")
    out["nan literal"] = (json.dumps(doc).replace('"b": [', '"b": [NaN, ', 1), "")
    mutate("wrong format", lambda d: d.update(format="something.else"), "not a qaudit model file")
    mutate("wrong version", lambda d: d.update(version=99), "version 99")
    mutate("string version", lambda d: d.update(version="1"), "version")
    mutate("unknown kind", lambda d: d.update(kind="no-such-model"), "unknown model 'no-such-model'")
    mutate("params not object", lambda d: d.update(params=[1, 2]), "params")
    mutate("missing theta", lambda d: d["params"].pop("theta"), "params.theta")
    mutate("theta wrong shape", lambda d: d["params"].update(theta=[0.1, 0.2, 0.3]), "params.theta")
    mutate("W wrong shape", lambda d: d["params"].update(W=[[0.0] * 3] * 6), "params.W")
    mutate("unknown param", lambda d: d["params"].update(extra=[1.0]), "unknown params")
    mutate("b string", lambda d: d["params"].update(b="zero"), "params.b")

    def nan_theta(d):
        theta = arrays.decode(d["params"]["theta"], "t")
        theta[0] = np.nan
        d["params"]["theta"] = {"dtype": "float64", "shape": list(theta.shape),
                                "base64": base64.b64encode(theta.astype("<f8").tobytes()).decode()}
    mutate("nan theta (base64)", nan_theta, "NaN")
    mutate("oversized array", lambda d: d["params"].update(
        theta={"dtype": "float64", "shape": [10**5, 10**4], "base64": ""}), "too large")
    mutate("overlap", lambda d: d["data"].update(holdout=d["data"]["holdout"][:5] + d["data"]["members"][:1]),
           "overlap")
    mutate("negative index", lambda d: d["data"].update(members=[-1] + d["data"]["members"][1:]), "negative")
    mutate("duplicate index", lambda d: d["data"].update(members=d["data"]["members"][:3] * 2), "duplicate")
    mutate("bad qubits option", lambda d: d["config"].update(qubits="eight"), "qubits")
    mutate("unknown option", lambda d: d["config"].update(colour="blue"), "unknown option")
    mutate("n_classes zero", lambda d: d["config"].update(n_classes=0), "n_classes")
    mutate("bad preprocessing op", lambda d: d["preprocessing"].append({"op": "exec", "code": "rm -rf /"}),
           "preprocessing")
    mutate("preprocessing width", lambda d: d.update(preprocessing=[{"op": "pad", "size": 128}, {"op": "l2"}]),
           "features")
    mutate("qubits vs params", lambda d: d["config"].update(qubits=5), "")
    return out


def test_load_rejects_bad_documents(document, tmp_path):
    for name, (bad, fragment) in _mutations(document).items():
        path = write(tmp_path, bad, name.replace(" ", "_") + ".json")
        with pytest.raises(QauditError) as info:
            model_io.load(path)
        message = str(info.value)
        assert "\n" not in message, name
        assert fragment in message, f"{name}: {message}"


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(QauditError, match="cannot read model file"):
        model_io.load(tmp_path / "absent.json")
    with pytest.raises(QauditError, match="not a file"):
        model_io.load(tmp_path)
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(QauditError):
        model_io.load(binary)


@pytest.mark.parametrize("case", ["not json", "wrong version", "unknown kind", "nan theta (base64)", "overlap",
                                  "theta wrong shape", "oversized array"])
def test_cli_evaluate_bad_model_file_exits_2(case, document, tmp_path, run_qaudit):
    bad, fragment = _mutations(document)[case]
    path = write(tmp_path, bad)
    code, out, err = run_qaudit(["evaluate", str(path)])
    assert code == 2
    line = error_line(err)
    assert fragment in line
    assert out == ""


def test_cli_missing_model_file(tmp_path, run_qaudit):
    code, _, err = run_qaudit(["evaluate", str(tmp_path / "nope.json")])
    assert code == 2
    assert "cannot read model file" in error_line(err)


def test_wrong_feature_count_is_a_one_line_error(digits_model_file):
    mf = model_io.load(digits_model_file)
    with pytest.raises(QauditError, match="features"):
        mf.model.predict_proba(np.zeros((3, 10)))


def test_atomic_save_interrupted_leaves_nothing(digits_model_file, tmp_path, monkeypatch):
    mf = model_io.load(digits_model_file)
    target = tmp_path / "out.json"

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(model_io, "to_document", lambda *a, **k: {"format": "qaudit.model", "x": _Exploding()})
    with pytest.raises(TypeError):
        model_io.save(mf, target)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    # an interrupt while writing: the previous file survives untouched, no temp file remains
    model_io.save(mf, target)
    before = target.read_bytes()
    import qaudit.files.io as qio

    original = qio.os.fsync
    monkeypatch.setattr(qio.os, "fsync", boom)
    with pytest.raises(KeyboardInterrupt):
        model_io.save(mf, target)
    monkeypatch.setattr(qio.os, "fsync", original)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


class _Exploding:
    """Not JSON-serialisable: json.dumps raises TypeError half way through the document."""


def test_cli_train_failure_leaves_no_output(tmp_path, run_qaudit):
    out = tmp_path / "m.json"
    code, _, err = run_qaudit(["train", "--dataset", "no-such-data", "--out", str(out)])
    assert code == 2 and "unknown dataset" in error_line(err)
    code, _, err = run_qaudit(["train", "--model", "no-such-model", "--out", str(out), "--epochs", "1"])
    assert code == 2 and "unknown model" in error_line(err)
    code, _, err = run_qaudit(["train", "--qubits", "3", "--out", str(out), "--option", "pca=never", "--epochs", "1"])
    assert code == 2 and "features" in error_line(err)
    code, _, err = run_qaudit(["train", "--out", str(tmp_path / "missing-dir" / "m.json"), "--epochs", "0",
                            "--qubits", "6", "--layers", "1", "--n-train", "20", "--n-holdout", "10"])
    assert code == 2 and "does not exist" in error_line(err)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- docs/model-format.md
DOC = Path(__file__).resolve().parents[1] / "docs" / "model-format.md"


def _doc_array(value) -> np.ndarray:
    """Decode an array exactly as the doc describes (plain base64 + numpy, no qaudit)."""
    if isinstance(value, dict):
        dtype = {"float64": "<f8", "float32": "<f4", "int64": "<i8"}[value["dtype"]]
        return np.frombuffer(base64.b64decode(value["base64"]), dtype=dtype).reshape(value["shape"]).astype(float)
    return np.asarray(value, dtype=float)


def _doc_preprocess(steps, X):
    X = np.asarray(X, dtype=float)
    for step in steps:
        op = step["op"]
        if op == "scale":
            X = X * step["factor"]
        elif op == "pca":
            X = (X - _doc_array(step["mean"])) @ _doc_array(step["components"]).T
        elif op == "pad":
            X = np.hstack([X, np.zeros((len(X), step["size"] - X.shape[1]))])
        elif op == "normalize":
            X = (X - _doc_array(step["mean"])) / _doc_array(step["std"])
        elif op == "l2":
            norms = np.linalg.norm(X, axis=1)
            X = np.array([row / nrm if nrm > 0 else np.eye(len(row))[0] for row, nrm in zip(X, norms)])
        else:
            raise AssertionError(f"op {op} is not in the doc")
    return X


def _doc_u3(t, p, lam):
    return np.array([[np.cos(t / 2), -np.exp(1j * lam) * np.sin(t / 2)],
                     [np.exp(1j * p) * np.sin(t / 2), np.exp(1j * (p + lam)) * np.cos(t / 2)]])


def _doc_cnot(n, control, target):
    """Full 2^n permutation matrix of CNOT(control -> target), qubit 0 = most significant bit."""
    dim = 2**n
    m = np.zeros((dim, dim))
    for i in range(dim):
        j = i ^ (1 << (n - 1 - target)) if (i >> (n - 1 - control)) & 1 else i
        m[j, i] = 1.0
    return m


def doc_predict_proba(doc: dict, X: np.ndarray) -> np.ndarray:
    """The basic-qnn forward pass re-implemented from docs/model-format.md alone."""
    assert doc["format"] == "qaudit.model" and doc["version"] == 1 and doc["kind"] == "basic-qnn"
    n, layers = doc["config"]["qubits"], doc["config"]["layers"]
    theta = _doc_array(doc["params"]["theta"])
    W, b = _doc_array(doc["params"]["W"]), _doc_array(doc["params"]["b"])
    Z = _doc_preprocess(doc["preprocessing"], X)
    assert Z.shape[1] == 2**n
    ring = [(q, q + 1) for q in range(n - 1)] + ([(n - 1, 0)] if n > 2 else [])
    unitary = np.eye(2**n, dtype=complex)
    for layer in range(layers):
        rot = np.ones((1, 1))
        for q in range(n):
            k = (layer * n + q) * 3
            rot = np.kron(rot, _doc_u3(*theta[k : k + 3]))
        unitary = rot @ unitary
        for c, t in ring:
            unitary = _doc_cnot(n, c, t) @ unitary
    psi = Z @ unitary.T
    probs = np.abs(psi) ** 2
    bits = (np.arange(2**n)[:, None] >> (n - 1 - np.arange(n))[None, :]) & 1
    e = probs @ (1 - 2 * bits)
    logits = e @ W + b
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


def test_forward_pass_from_the_doc(digits_model_file, tmp_path):
    from qaudit.files.data import load_dataset
    from qaudit.train.workflows import train_model

    if not DOC.is_file():
        pytest.skip("docs/model-format.md not found")
    ds = load_dataset("digits")
    X = ds.X[:40]
    # 1. a saved 6-qubit model (scale + l2) and a 4-qubit 2-layer model with PCA (scale + pca + l2)
    pca_model = train_model("basic-qnn", ds, n_train=150, n_holdout=50, seed=1,
                            options={"qubits": 4, "layers": 2, "epochs": 1})
    pca_path = tmp_path / "pca.json"
    model_io.save(pca_model, pca_path)
    for path in (digits_model_file, pca_path):
        doc = json.loads(Path(path).read_text())
        ours = doc_predict_proba(doc, X)
        np.testing.assert_allclose(ours, model_io.load(path).model.predict_proba(X), atol=1e-10)
    assert any(step["op"] == "pca" for step in json.loads(pca_path.read_text())["preprocessing"])
    # 2. the worked example in the doc: its JSON loads and reproduces the printed probabilities
    text = DOC.read_text()
    block = next(b.split("```", 1)[0] for b in text.split("```json")[1:] if '"theta": [' in b
                 and '"params"' in b)
    example = json.loads(block)
    path = write(tmp_path, example, "example.json")
    x = np.array([[3.0, 0.0, 4.0, 0.0]])
    p_qaudit = model_io.load(path).model.predict_proba(x)
    np.testing.assert_allclose(doc_predict_proba(example, x), p_qaudit, atol=1e-12)
    np.testing.assert_allclose(p_qaudit[0], [0.169706, 0.830294], atol=1e-6)
    assert "p = [0.169706, 0.830294]" in text


def test_atomic_write_gives_normal_file_mode(tmp_path):
    """Atomic outputs are readable like files opened normally (mkstemp would leave 0600)."""
    import os

    from qaudit.files.io import write_text_atomic

    umask = os.umask(0o022)
    try:
        target = tmp_path / "report.txt"
        write_text_atomic(target, "x")
        assert target.stat().st_mode & 0o777 == 0o644
        target.chmod(0o600)
        write_text_atomic(target, "y")
        assert target.stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(umask)
