"""Command implementations that the CLI (and scripts) call: train, evaluate, data lookup."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qaudit.files.data import DataRecord, Dataset, load_dataset, read_indices, split
from qaudit.files.model_file import ModelFile, check_writable
from qaudit.sdk.errors import QauditError
from qaudit.sdk.host import get_host
from qaudit.sdk.progress import SILENT, Progress


def dataset_for(mf: ModelFile, data_dir: str | None = None, allow_data_change: bool = False) -> Dataset:
    """Load the dataset a model file's data record names (``data_dir`` overrides).

    When the record holds a fingerprint, the loaded data must match it: a mismatch raises
    QauditError, or -- with *allow_data_change* -- is recorded in ``dataset.data_change``
    (``{"recorded": ..., "found": ...}`` sha256 digests) for the command to report.
    Model files without a fingerprint are not checked.
    """
    if mf.data is None:
        raise QauditError(f"{mf.path or 'model'} has no data record; pass the data explicitly")
    options = dict(mf.data.options)
    if data_dir:
        options["data_dir"] = data_dir
    dataset = load_dataset(mf.data.dataset, options)
    recorded = (mf.data.fingerprint or {}).get("sha256")
    if recorded:
        found = dataset.fingerprint()["sha256"]
        if found != recorded and not allow_data_change:
            raise QauditError(f"dataset {mf.data.dataset!r} changed since the model was trained: fingerprint "
                              f"{recorded[:12]} recorded, {found[:12]} found; re-train, or pass "
                              "--allow-data-change to use the changed data anyway")
        if found != recorded:
            dataset.data_change = {"recorded": recorded, "found": found}
    top = max(int(mf.data.members.max(initial=-1)), int(mf.data.holdout.max(initial=-1)))
    if top >= len(dataset):
        raise QauditError(f"the model's data record indexes sample {top}, dataset "
                          f"{mf.data.dataset!r} has only {len(dataset)}")
    n_classes = getattr(mf.model, "n_classes", None)
    if isinstance(n_classes, int) and dataset.n_classes > n_classes:
        raise QauditError(f"dataset {mf.data.dataset!r} has labels up to {dataset.n_classes - 1} but the model "
                          f"has only {n_classes} classes (n_classes); re-train on this data")
    return dataset


def train_model(
    kind: str,
    dataset: Dataset,
    *,
    n_train: int | None = None,
    n_holdout: int | None = None,
    seed: int = 0,
    options: dict[str, Any] | None = None,
    exclude_class: list[int] | None = None,
    exclude_indices: str | None = None,
    progress: Progress = SILENT,
    dp: Any = None,
    preset: str | None = None,
) -> ModelFile:
    """Split *dataset*, train a model of *kind* on the members, return its ModelFile.

    ``preset`` names one of the model kind's ``PRESETS`` (:func:`preset_options`); explicit *options* win.

    The model's ``fit`` gets the members' dataset indices as ``sample_ids``. The seed must be an integer
    in 0..2**32-1; --n-train at least
    max(MIN_SPLIT, the dataset's classes) and --n-holdout at least MIN_SPLIT. With *dp* (a
    :class:`qaudit.dp.spec.DPSpec`) the model is trained with DP-SGD (:func:`qaudit.dp.sgd.private_fit`)
    and the claim is recorded in ``training["dp"]``.
    """
    from qaudit.sdk.limits import MIN_SPLIT, check_option, check_seed

    check_seed(seed)
    n_classes = int(getattr(dataset, "n_classes", 0) or 0)
    if n_train is not None:
        check_option("--n-train", n_train, "int", max(MIN_SPLIT, n_classes), None,
                     hint=f"at least {MIN_SPLIT} and one member per class")
    if n_holdout is not None:
        check_option("--n-holdout", n_holdout, "int", MIN_SPLIT, None, hint="audits compare members with it")
    cls = get_host().get("model", kind)
    if dp is not None:
        from qaudit.dp.sgd import require_dp

        require_dp(cls, kind)
    if np.unique(dataset.y).size < 2:
        raise QauditError(f"dataset {dataset.name!r} has a single class: a classifier (and a membership audit of "
                          "it) needs at least 2 classes")
    members, holdout = split(dataset.y, n_train, n_holdout, seed)
    excluded: dict[str, Any] = {}
    if exclude_class:
        missing = [c for c in exclude_class if c not in set(dataset.y.tolist())]
        if missing:
            raise QauditError(f"class(es) {missing} do not exist in dataset {dataset.name!r}")
        drop = np.isin(dataset.y[members], exclude_class)
        excluded["classes"] = sorted(int(c) for c in exclude_class)
        excluded["indices"] = members[drop].tolist()
        members = members[~drop]
    if exclude_indices:
        idx = read_indices(exclude_indices, len(dataset))
        excluded["indices"] = sorted(set(excluded.get("indices", [])) | set(idx.tolist()))
        members = np.setdiff1d(members, idx)
    if len(members) == 0:
        raise QauditError("no training samples left after exclusions")
    model = cls.from_options({**preset_options(cls, kind, preset), **(options or {}), "seed": seed})
    check_writable(model.get_params())  # before any work: nothing is trained that qaudit could not read back
    if hasattr(model, "data_kind"):  # optional Model member: preprocessing may depend on the data's kind
        model.data_kind = dataset.kind
    start = time.perf_counter()
    dp_record = None
    if dp is not None:
        from qaudit.dp.sgd import private_fit

        dp_record = private_fit(model, dataset.X[members], dataset.y[members], n_classes=dataset.n_classes,
                                spec=dp, seed=seed, progress=progress).to_json()
    else:
        model.fit(dataset.X[members], dataset.y[members], n_classes=dataset.n_classes, sample_ids=members,
                  progress=progress)
    seconds = time.perf_counter() - start
    record = DataRecord(dataset.name, dataset.options, members, holdout, seed, excluded,
                        fingerprint=dataset.fingerprint(), kind=dataset.kind, label_names=dataset.label_names)
    training = {"seconds": round(seconds, 3), "loss_history": [round(float(v), 6) for v in
                                                              getattr(model, "history", [])]}  # optional Model member
    if dp_record is not None:
        training["dp"] = dp_record
    return ModelFile(model, kind, record, training)


def preset_options(cls: Any, kind: str, preset: str | None) -> dict[str, Any]:
    """The options of *kind*'s preset *preset* (optional Model member ``PRESETS``); {} for None."""
    if preset is None:
        return {}
    presets = getattr(cls, "PRESETS", None) or {}  # optional Model member
    if preset not in presets:
        raise QauditError(f"model {kind} has no preset {preset!r} "
                          f"(presets: {', '.join(sorted(presets)) or 'none'}; see `qaudit models`)")
    return dict(presets[preset])


@dataclass
class Evaluation:
    """Accuracy of a model on its member and holdout sets, overall and per class."""

    model_path: str
    kind: str
    backend: str
    shots: int | None
    splits: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Original label of each class, when the dataset mapped labels (e.g. CSV strings).
    label_names: list[str] | None = None
    #: ``{"recorded", "found"}`` fingerprints when evaluated on changed data (``--allow-data-change``).
    data_change: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        doc = {"schema": "qaudit.evaluation/1", "model": self.model_path, "kind": self.kind,
               "backend": self.backend, "shots": self.shots, "splits": self.splits}
        if self.label_names is not None:
            doc["label_names"] = self.label_names
        doc["data_change"] = self.data_change
        return doc

    def warning(self) -> str | None:
        """One line when the model predicts a single class on the holdout or is no better than
        always predicting the holdout's majority class; else None."""
        split = self.splits.get("holdout")
        if not split or not split["n"]:
            return None
        problems = []
        if split["predicted_classes"] == 1 and len(split["per_class"]) > 1:
            problems.append("the model predicts a single class on the holdout")
        if split["accuracy"] <= split["majority"]:
            problems.append(f"holdout accuracy {split['accuracy']:.3f} is no better than the majority class "
                            f"({split['majority']:.3f})")
        return "; ".join(problems) if problems else None


def accuracy_table(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> dict[str, Any]:
    per_class = {}
    for c in range(n_classes):
        mask = y_true == c
        if mask.any():
            per_class[str(c)] = {"n": int(mask.sum()), "accuracy": float(np.mean(y_pred[mask] == c))}
    majority = float(np.bincount(y_true).max() / len(y_true)) if len(y_true) else float("nan")
    return {"n": int(len(y_true)), "accuracy": float(np.mean(y_pred == y_true)) if len(y_true) else float("nan"),
            "majority": majority, "predicted_classes": int(len(np.unique(y_pred))), "per_class": per_class}


def evaluate_model(mf: ModelFile, dataset: Dataset, backend: Any = None, backend_name: str = "",
                   shots: int | None = None, seed: int = 0) -> Evaluation:
    """Accuracy on members and holdout through :func:`qaudit.run.query.query` (default: the exact backend)."""
    from qaudit.run.query import exact_backend, predict_proba

    backend = exact_backend() if backend is None else backend
    result = Evaluation(mf.path or "", mf.kind, backend_name or backend.name, shots,
                        label_names=(mf.data.label_names if mf.data else None) or dataset.label_names,
                        data_change=dataset.data_change)
    n_classes = mf.model.n_classes or dataset.n_classes
    for name, idx in (("members", mf.data.members), ("holdout", mf.data.holdout)):
        if len(idx) == 0:
            continue
        pred = np.argmax(predict_proba(mf.model, dataset.X[idx], backend, shots, seed), axis=1)
        result.splits[name] = accuracy_table(dataset.y[idx], pred, n_classes)
    return result
