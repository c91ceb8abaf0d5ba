"""The forget request: which samples to forget, the request a method receives, running a method, costs."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qaudit.files.data import Dataset, read_indices
from qaudit.files.model_file import ModelFile
from qaudit.sdk.errors import QauditError
from qaudit.sdk.host import get_host
from qaudit.sdk.progress import Progress
from qaudit.sdk.protocols import UnlearningOutcome, UnlearningRequest

SCHEMA = "qaudit.unlearn/2"


COMPARE_SCHEMA = "qaudit.compare-unlearning/2"


#: Retrains in the reference by default (``--oracles``).
DEFAULT_ORACLES = 5


#: Gateable metrics (``--fail-above``); higher is worse for all of them.
METRICS = ("forget_mia", "forget_mia_auc", "forget_accuracy", "retain_accuracy_drop", "holdout_accuracy_drop",
           "oracle_disagreement", "oracle_kl", "mia_auc_gap", "cost_ratio")


@dataclass
class ForgetSet:
    """Dataset indices to forget / retain (both subsets of the model's training members)."""

    forget_ids: np.ndarray
    retain_ids: np.ndarray
    classes: list[int] = field(default_factory=list)
    source: str = ""


def resolve_forget(mf: ModelFile, dataset: Dataset, forget_class: list[int] | None = None,
                   forget_indices: str | None = None) -> ForgetSet:
    """Turn ``--forget-class`` / ``--forget-indices`` into a validated :class:`ForgetSet`."""
    if mf.data is None:
        raise QauditError("the model file has no data record, so its training members are unknown")
    members = mf.data.members
    if not forget_class and not forget_indices:
        raise QauditError("say what to forget: --forget-class C or --forget-indices FILE")
    if forget_class and forget_indices:
        raise QauditError("use either --forget-class or --forget-indices, not both")
    classes: list[int] = []
    if forget_class:
        present = set(dataset.y.tolist())
        if len(set(forget_class)) != len(forget_class):
            raise QauditError(f"--forget-class lists a class twice: {forget_class}")
        missing = [c for c in forget_class if c not in present]
        if missing:
            raise QauditError(f"class(es) {missing} do not exist in dataset {dataset.name!r} "
                              f"(classes {min(present)}..{max(present)})")
        classes = sorted(int(c) for c in forget_class)
        forget = members[np.isin(dataset.y[members], classes)]
        if forget.size == 0:
            raise QauditError(f"the model has no training members of class(es) {classes}: nothing to forget")
        source = f"class {','.join(map(str, classes))}"
    else:
        idx = read_indices(forget_indices, len(dataset))
        outside = np.setdiff1d(idx, members)
        if outside.size:
            raise QauditError(f"{forget_indices}: {outside.size} index(es) (e.g. {int(outside[0])}) are not "
                              "training members of this model")
        forget = np.sort(idx)
        source = f"indices from {forget_indices}"
    retain = np.setdiff1d(members, forget)
    if retain.size == 0:
        raise QauditError("the forget set covers every training member: nothing would remain "
                          "(train a new model instead)")
    return ForgetSet(np.sort(forget), retain, classes, source)


def build_request(method: Any, dataset: Dataset, fs: ForgetSet, seed: int, options: dict[str, Any],
                  n_classes: int, retain_fraction: float = 1.0, progress: Progress | None = None,
                  executor: Any = None) -> UnlearningRequest:
    """The data *method* declared it needs, and nothing else.

    ``retain_fraction`` < 1 hands over only a seeded fraction of the retained data
    (0 = none available): methods needing it then fail with a clear error.
    """
    needs = set(method.needs)
    if not 0.0 <= retain_fraction <= 1.0:
        raise QauditError("--retain-fraction must lie in [0, 1]")
    retain = fs.retain_ids
    if retain_fraction < 1.0:
        k = int(round(retain_fraction * len(retain)))
        retain = np.sort(np.random.default_rng(seed).choice(retain, k, replace=False)) if k else retain[:0]
    request = UnlearningRequest(dataset.X[fs.forget_ids], dataset.y[fs.forget_ids], seed=seed,
                                options=dict(options), progress=progress, forget_ids=fs.forget_ids,
                                forget_classes=list(fs.classes), n_classes=n_classes, executor=executor)
    if needs & {"retain", "train"}:
        if len(retain) == 0:
            what = "the retained training data" if "retain" in needs else "the training data"
            raise QauditError(f"method {method.name!r} needs {what}, but no retained data is available "
                              "(use a method that needs only the forget set, e.g. ga)")
        request.X_retain, request.y_retain, request.retain_ids = dataset.X[retain], dataset.y[retain], retain
    return request


def preflight(method: str, mf: ModelFile, dataset: Dataset, fs: ForgetSet, seed: int, options: dict[str, Any],
              retain_fraction: float = 1.0) -> None:
    """Reject a request before any expensive work: unknown method, unusable model or options
    (methods may define ``check(model, options)``), missing retained data, a bad seed."""
    from qaudit.sdk.limits import check_seed

    check_seed(seed)
    cls = get_host().get("unlearning", method)
    instance = cls()
    if callable(getattr(instance, "check", None)):  # optional UnlearningMethod member
        instance.check(mf.model, dict(options))
    build_request(cls, dataset, fs, seed, options, mf.model.n_classes or dataset.n_classes,
                  retain_fraction)


def run_method(name: str, model: Any, request: UnlearningRequest) -> UnlearningOutcome:
    """Run unlearning method *name*; checks the input model is left untouched."""
    method = get_host().get("unlearning", name)()
    before = {k: v.copy() for k, v in model.weights.items()}
    start = time.perf_counter()
    outcome = method.unlearn(model, request)
    if not outcome.cost.seconds:
        outcome.cost.seconds = time.perf_counter() - start
    after = model.weights
    if any(not np.array_equal(before[k], after[k]) for k in before):
        raise QauditError(f"unlearning method {name!r} modified its input model (a plugin bug)")
    if outcome.model is model:
        raise QauditError(f"unlearning method {name!r} returned its input model instead of a new one")
    return outcome


def retrain_cost(mf: ModelFile, n_retain: int) -> int:
    """Per-sample gradient evaluations of a retrain on *n_retain* samples (from the model's options)."""
    model = mf.model
    spent = getattr(model, "gradient_evaluations", None)  # optional Model member
    if spent:
        n_members = len(mf.data.members) if mf.data is not None else n_retain
        return int(round(spent * n_retain / max(n_members, 1)))
    epochs = model.get_params().get("epochs")
    if epochs is None:
        epochs = len(mf.training.get("loss_history", [])) or 1
    return int(epochs) * int(n_retain)
