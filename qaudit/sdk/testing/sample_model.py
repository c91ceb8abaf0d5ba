"""The tiny model and dataset the fixtures and conformance checks use (trained once per process)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qaudit.sdk.testing.hosts import make_host, using_host

#: Options of the tiny model: small enough to train in about a second.
TINY_OPTIONS: dict[str, Any] = {"qubits": 4, "layers": 1, "epochs": 4, "batch_size": 16, "lr": 0.1}
#: Members / holdout samples of the tiny model (a stratified split of digits).
TINY_SIZES = (160, 160)


@dataclass
class TinyModel:
    """A small trained model, its model file (data record included) and dataset."""

    model: Any
    file: Any
    dataset: Any
    path: Path | None = None

    @property
    def members(self) -> tuple[np.ndarray, np.ndarray]:
        """(X, y) of the training members."""
        idx = self.file.data.members
        return self.dataset.X[idx], self.dataset.y[idx]

    @property
    def holdout(self) -> tuple[np.ndarray, np.ndarray]:
        """(X, y) of the holdout (non-members)."""
        idx = self.file.data.holdout
        return self.dataset.X[idx], self.dataset.y[idx]

    def attack_split(self, seed: int = 0, **overrides: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
        """An :class:`AttackContext` plus the evaluation set ``(X, y, is_member)``.

        The attacker knows the first half of the members and of the holdout; the
        other halves are scored. Digits samples outside the model's data record
        are the population. *overrides* set further context fields (e.g.
        ``n_reference=2``, ``options={...}``).
        """
        import dataclasses

        from qaudit.run.query import TargetQueries
        from qaudit.sdk.protocols import AttackContext

        Xm, ym = self.members
        Xn, yn = self.holdout
        hm, hn = len(ym) // 2, len(yn) // 2
        X = np.concatenate([Xm[hm:], Xn[hn:]])
        y = np.concatenate([ym[hm:], yn[hn:]])
        is_member = np.concatenate([np.ones(len(ym) - hm, bool), np.zeros(len(yn) - hn, bool)])
        rest = np.setdiff1d(np.arange(len(self.dataset)), np.concatenate([self.file.data.members,
                                                                          self.file.data.holdout]))
        backend = overrides.get("backend") or _exact_backend()
        values = dict(model=self.model, backend=backend, shots=None, seed=seed, X_members=Xm[:hm],
                      y_members=ym[:hm], X_non_members=Xn[:hn], y_non_members=yn[:hn],
                      population_X=self.dataset.X[rest], population_y=self.dataset.y[rest], X_targets=X,
                      y_targets=y, n_train=len(ym), n_classes=self.dataset.n_classes)
        values.update(overrides)
        values.setdefault("query", TargetQueries(values["model"], values["backend"], values["shots"], seed))
        known = {f.name for f in dataclasses.fields(AttackContext)}
        return AttackContext(**{k: v for k, v in values.items() if k in known}), X, y, is_member

    def copy(self) -> TinyModel:
        """A copy whose model can be modified freely."""
        model = self.model.copy() if hasattr(self.model, "copy") else copy.deepcopy(self.model)
        mf = copy.copy(self.file)
        mf.model = model
        return TinyModel(model, mf, self.dataset, self.path)


_CACHE: dict[Any, Any] = {}


def load_tiny_dataset() -> Any:
    """The default dataset (role ``default``: scikit-learn's digits) as a :class:`qaudit.files.data.Dataset`
    (cached)."""
    if "tiny-dataset" not in _CACHE:
        from qaudit.files.data import load_dataset

        host = make_host()
        with using_host(host):
            _CACHE["tiny-dataset"] = load_dataset(host.role("dataset", "default"), {})
    return _CACHE["tiny-dataset"]


def train_tiny_model(seed: int = 0, **options: Any) -> TinyModel:
    """Train (once per process and arguments) the tiny default model (``basic-qnn``); returns a fresh copy."""
    key = ("tiny", seed, tuple(sorted(options.items())))
    if key not in _CACHE:
        from qaudit.train.workflows import train_model

        dataset = load_tiny_dataset()
        host = make_host()
        with using_host(host):
            mf = train_model(host.role("model", "default"), dataset, n_train=TINY_SIZES[0],
                             n_holdout=TINY_SIZES[1], seed=seed, options={**TINY_OPTIONS, **options})
        _CACHE[key] = TinyModel(mf.model, mf, dataset)
    return _CACHE[key].copy()


def _exact_backend() -> Any:
    """An instance of the default backend (role ``default``: the built-in exact engine)."""
    host = make_host()
    return host.get("backend", host.role("backend", "default"))()
