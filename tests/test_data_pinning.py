"""Data pinned to the model: fingerprints, model-relative paths, tabular preprocessing, CSV labels, --force."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import one_line_error

SMALL = ["-O", "qubits=4", "-O", "layers=1", "-O", "epochs=1"]


def export_csv(path: Path, X: np.ndarray, y: list, names: list[str] | None = None) -> Path:
    """Write features and a ``label`` column as CSV (header row first)."""
    names = names or [f"f{j}" for j in range(X.shape[1])]
    lines = [",".join([*names, "label"])]
    lines += [",".join([*(repr(float(v)) for v in row), str(label)]) for row, label in zip(X, y)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def export_sklearn(loader: str, path: Path) -> Path:
    """Export ``sklearn.datasets.<loader>()`` as a CSV with a ``label`` column."""
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, loader)()
    names = [n.replace(" ", "_").replace(",", "") for n in bunch.feature_names]
    return export_csv(path, bunch.data, bunch.target.tolist(), names)


def toy_csv(path: Path, n: int = 60, labels: list | None = None) -> Path:
    rng = np.random.default_rng(7)
    y = labels if labels is not None else [i % 3 for i in range(n)]
    classes = sorted(set(y))
    X = rng.normal(size=(len(y), 5)) + np.asarray([[classes.index(v)] for v in y])
    return export_csv(path, X, y)


def train(run_qaudit, csv: Path | str, out: Path | str, *extra: str) -> tuple[int, str, str]:
    return run_qaudit(["train", "--dataset", str(csv), "--out", str(out), *SMALL, *extra])


def test_fingerprint_recorded_and_reshuffle_is_refused(run_qaudit, tmp_path):
    csv = toy_csv(tmp_path / "data.csv")
    model = tmp_path / "model.json"
    code, _, err = train(run_qaudit, csv, model)
    assert code == 0, err
    data = json.loads(model.read_text())["data"]
    fp = data["fingerprint"]
    assert len(fp["sha256"]) == 64 and fp["shape"] == [60, 5] and "sha256" in fp["algorithm"]
    assert data["kind"] == "tabular" and data["paths"] == "model-relative" and data["dataset"] == "data.csv"
    from qaudit.files.data import load_dataset

    assert load_dataset(str(csv)).fingerprint() == fp  # deterministic
    lines = csv.read_text().splitlines()
    rng = np.random.default_rng(0)
    body = [lines[1 + i] for i in rng.permutation(len(lines) - 1)]
    csv.write_text("\n".join([lines[0], *body]) + "\n")
    found = load_dataset(str(csv)).fingerprint()["sha256"]
    assert found != fp["sha256"]

    code, _, err = run_qaudit(["evaluate", str(model)])
    assert code == 2
    line = one_line_error(err)
    assert fp["sha256"][:12] in line and found[:12] in line and "--allow-data-change" in line

    code, out, err = run_qaudit(["evaluate", str(model), "--allow-data-change", "--json"])
    assert code == 0, err
    report = json.loads(out)
    assert report["data_change"] == {"recorded": fp["sha256"], "found": found}
    assert "warning:" in err and found[:12] in err
    code, out, err = run_qaudit(["evaluate", str(model), "--allow-data-change"])
    assert code == 0 and "DATA CHANGED" in out

    # every command that reads the data refuses the change, and records an override in its report
    for command in (["leak", str(model), "-a", "loss"], ["shots", str(model), "--shots", "16", "-R", "1"],
                    ["unlearn", str(model), "--forget-class", "1", "--out", str(tmp_path / "u.json")]):
        code, _, err = run_qaudit(command)
        assert code == 2 and fp["sha256"][:12] in one_line_error(err), (command, err)
        out_file = tmp_path / f"{command[0]}.json"
        code, _, err = run_qaudit([*command, "--allow-data-change", "--format", "json", "--output", str(out_file),
                                   *(["--no-forget-gate"] if command[0] == "unlearn" else [])])
        assert code in (0, 1), (command, err)
        doc = json.loads(out_file.read_text())
        assert doc["settings"]["data_change"]["found"] == found, command


def test_old_model_without_fingerprint_still_loads(run_qaudit, tmp_path):
    csv = toy_csv(tmp_path / "data.csv")
    model = tmp_path / "model.json"
    assert train(run_qaudit, csv, model)[0] == 0
    doc = json.loads(model.read_text())
    for key in ("fingerprint", "kind", "paths", "label_names"):
        doc["data"].pop(key, None)
    doc["data"]["dataset"] = doc["data"]["options"]["path"] = str(csv)  # old files: paths as given to train
    model.write_text(json.dumps(doc))
    lines = csv.read_text().splitlines()
    lines[1], lines[2] = lines[2], lines[1]  # changed data: not detectable without a fingerprint
    csv.write_text("\n".join(lines) + "\n")
    code, out, err = run_qaudit(["evaluate", str(model), "--json"])
    assert code == 0, err
    assert json.loads(out)["data_change"] is None


def test_relative_csv_path_works_from_another_directory(run_qaudit, tmp_path, monkeypatch):
    project = tmp_path / "project"
    toy_csv(project / "data" / "toy.csv")
    (project / "models").mkdir()
    monkeypatch.chdir(project)
    code, _, err = train(run_qaudit, "data/toy.csv", "models/m.json")
    assert code == 0, err
    data = json.loads((project / "models" / "m.json").read_text())["data"]
    assert data["dataset"] == "../data/toy.csv" and data["options"]["path"] == "../data/toy.csv"

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    for model in (str(project / "models" / "m.json"), "../project/models/m.json"):
        code, out, err = run_qaudit(["evaluate", model, "--json"])
        assert code == 0, err
        assert json.loads(out)["splits"]["holdout"]["n"] > 0
    monkeypatch.chdir(project / "models")
    code, _, err = run_qaudit(["evaluate", "m.json"])
    assert code == 0, err


def test_paths_relative_to_the_model_file_named_datasets_unchanged(tmp_path):
    from qaudit.files.data import DataRecord
    from qaudit.files.model_file import _validate_data

    members, holdout = np.arange(3), np.arange(3, 5)
    mnist = DataRecord("mnist", {"data_dir": str(tmp_path / "idx")}, members, holdout, 0)
    doc = mnist.to_json(str(tmp_path / "models"))
    assert doc["dataset"] == "mnist" and doc["options"]["data_dir"] == "../idx"
    back = _validate_data(doc, str(tmp_path / "models" / "m.json"))
    assert Path(back.options["data_dir"]).resolve() == (tmp_path / "idx").resolve()
    digits = DataRecord("digits", {}, members, holdout, 0).to_json(str(tmp_path))
    assert digits["dataset"] == "digits" and digits["options"] == {}


def test_index_files_beyond_the_data_are_errors(tmp_path):
    from qaudit.files.data import read_indices
    from qaudit.sdk.errors import QauditError

    idx = tmp_path / "idx.txt"
    idx.write_text("0 5 60")
    with pytest.raises(QauditError, match="0..59"):
        read_indices(str(idx), 60)


@pytest.mark.parametrize("loader", ["load_wine", "load_breast_cancer"])
def test_tabular_floor_default_training(run_qaudit, tmp_path, loader):
    """Default basic-qnn on a scikit-learn table exported as CSV beats the majority class by >= 20 points."""
    csv = export_sklearn(loader, tmp_path / f"{loader}.csv")
    model = tmp_path / "model.json"
    code, _, err = run_qaudit(["train", "--dataset", str(csv), "--out", str(model)])
    assert code == 0, err
    assert "warning:" not in err
    doc = json.loads(model.read_text())
    assert doc["config"]["scaling"] == "standard"
    ops = [s["op"] for s in doc["preprocessing"]]
    assert ops == ["normalize", "bias", "pad", "l2"]
    code, out, err = run_qaudit(["evaluate", str(model), "--json"])
    assert code == 0, err
    holdout = json.loads(out)["splits"]["holdout"]
    print(f"{loader}: holdout accuracy {holdout['accuracy']:.3f}, majority {holdout['majority']:.3f}")
    assert holdout["accuracy"] >= holdout["majority"] + 0.20


def test_images_keep_pixel_scaling(host):
    from qaudit.files.data import load_dataset
    from qaudit.train.workflows import train_model

    ds = load_dataset("digits")
    assert ds.kind == "image"
    mf = train_model("basic-qnn", ds, n_train=40, n_holdout=20, options={"qubits": 6, "layers": 1, "epochs": 0})
    assert mf.model.options["scaling"] == "pixel" and mf.data.kind == "image"
    assert [s["op"] for s in mf.model.preprocessing] == ["scale", "l2"]


def test_standardisation_constant_columns_and_validation():
    from qaudit.files import preprocessing as pp
    from qaudit.sdk.errors import QauditError

    X = np.array([[1.0, 5.0], [3.0, 5.0]])
    step = pp.fit_standardize(X)
    np.testing.assert_allclose(pp.apply([step], X), [[-1.0, 0.0], [1.0, 0.0]])
    saved = pp.from_json(pp.to_json([step, {"op": "bias", "value": 2.0}]))
    np.testing.assert_allclose(pp.apply(saved, X), [[-1.0, 0.0, 2.0], [1.0, 0.0, 2.0]])
    assert pp.output_width(saved, 2) == 3
    with pytest.raises(QauditError, match="value"):
        pp.from_json([{"op": "bias", "value": "x"}])


def test_string_labels(run_qaudit, tmp_path):
    names = ["setosa", "versicolor", "virginica"]
    csv = toy_csv(tmp_path / "iris.csv", labels=[names[(i * 7) % 3] for i in range(60)])
    model = tmp_path / "model.json"
    code, _, err = train(run_qaudit, csv, model)
    assert code == 0, err
    assert json.loads(model.read_text())["data"]["label_names"] == names
    code, out, err = run_qaudit(["evaluate", str(model)])
    assert code == 0, err
    assert "0 (setosa)" in out and "2 (virginica)" in out
    code, out, _ = run_qaudit(["evaluate", str(model), "--json"])
    assert json.loads(out)["label_names"] == names
    from qaudit.files.data import load_dataset

    ds = load_dataset(str(csv))
    assert ds.label_names == names and ds.y[:3].tolist() == [0, 1, 2]


@pytest.mark.parametrize(("text", "fragment"), [
    ("a,b,label\n1,2,0\n3,oops,1\n", "line 3, column 'b': non-numeric"),
    ("a,b,label\n1,2,0\n3,,1\n", "line 3, column 'b': missing value"),
    ("a,b,label\n1,inf,0\n", "line 2, column 'b'"),
    ("a,b,label\n1,2,0\n3,4,1.5\n", "line 3, column 'label'"),
    ("a,b,label\n1,2,0\n3,4,\n", "line 3, column 'label': empty label"),
])
def test_bad_values_name_row_and_column(run_qaudit, tmp_path, text, fragment):
    csv = tmp_path / "bad.csv"
    csv.write_text(text)
    code, _, err = train(run_qaudit, csv, tmp_path / "m.json")
    assert code == 2
    assert fragment in one_line_error(err)


def test_train_refuses_to_overwrite_without_force(run_qaudit, tmp_path):
    csv = toy_csv(tmp_path / "data.csv")
    model = tmp_path / "model.json"
    model.write_text("keep me")
    code, _, err = train(run_qaudit, csv, model)
    assert code == 2
    assert "--force" in one_line_error(err)
    assert model.read_text() == "keep me"  # checked before training
    code, _, err = train(run_qaudit, csv, model, "--force")
    assert code == 0, err
    assert json.loads(model.read_text())["format"] == "qaudit.model"


def test_warning_when_no_better_than_majority():
    from qaudit.train.workflows import Evaluation, accuracy_table

    y = np.array([0, 0, 0, 1])
    ev = Evaluation("m.json", "k", "exact", None, {"holdout": accuracy_table(y, np.zeros(4, dtype=int), 2)})
    warning = ev.warning()
    assert "single class" in warning and "majority" in warning and "\n" not in warning
    ev.splits["holdout"] = accuracy_table(y, y, 2)
    assert ev.warning() is None


def test_a_dataset_with_one_class_is_refused(run_qaudit, tmp_path):
    csv = export_csv(tmp_path / "one.csv", np.arange(120.0).reshape(60, 2), [1] * 60)
    code, _, err = train(run_qaudit, csv, tmp_path / "m.json")
    assert code == 2 and "single class" in one_line_error(err) and not (tmp_path / "m.json").exists()
