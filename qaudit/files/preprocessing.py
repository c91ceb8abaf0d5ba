"""Fitted, serialisable preprocessing steps that belong to a model.

A pipeline is a list of steps applied in order to raw dataset features
(n_samples, n_features) float64. Each step is saved in the model file as
``{"op": ..., ...}``; see docs/model-format.md.

* ``scale``  -- ``x * factor``                        (pixels to [0, 1])
* ``pca``    -- ``(x - mean) @ components.T``          (components: k x n_features)
* ``pad``    -- append zeros up to ``size`` features
* ``l2``     -- ``x / ||x||`` per row (rows of norm 0 become e_0)
* ``normalize`` -- ``(x - mean) / std``; mean and std are numbers or per-feature
  arrays, std > 0 (HQNN images: mean 0.5, std 0.5 after ``scale``; tabular data: per-feature
  standardisation fitted on the training members, see :func:`fit_standardize`)
* ``bias``   -- append one constant feature ``value`` (keeps a row's norm information through ``l2``)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qaudit.files import arrays
from qaudit.sdk.errors import QauditError

OPS = ("scale", "pca", "pad", "l2", "normalize", "bias")
#: Standard deviations below this are treated as 1 (constant columns map to 0, not to infinity).
STD_FLOOR = 1e-8
#: Largest ``pad`` size (2**16 features: a 16-qubit amplitude encoding, the model-file qubit cap).
MAX_PAD = 1 << 16
#: Saved ``scale`` factors and ``normalize`` standard deviations must lie in [SCALE_MIN, SCALE_MAX]
#: (in absolute value); means, offsets and PCA arrays within +-VALUE_MAX. Outside these, features
#: overflow to infinity and probabilities become NaN.
SCALE_MIN, SCALE_MAX = 1e-12, 1e12
VALUE_MAX = 1e15


def apply(steps: list[dict[str, Any]], X: np.ndarray) -> np.ndarray:
    """Apply fitted *steps* to raw features."""
    X = np.asarray(X, dtype=np.float64)
    for step in steps:
        op = step["op"]
        if op == "scale":
            X = X * step["factor"]
        elif op == "pca":
            mean, comps = step["mean"], step["components"]
            if X.shape[1] != mean.shape[0]:
                raise QauditError(
                    f"input has {X.shape[1]} features, the model's PCA expects {mean.shape[0]}"
                )
            X = (X - mean) @ comps.T
        elif op == "pad":
            if X.shape[1] > step["size"]:
                raise QauditError(f"input has {X.shape[1]} features, the model expects at most {step['size']}")
            X = np.pad(X, ((0, 0), (0, step["size"] - X.shape[1])))
        elif op == "normalize":
            mean, std = step["mean"], step["std"]
            for value in (mean, std):
                if isinstance(value, np.ndarray) and value.shape[0] != X.shape[1]:
                    raise QauditError(f"input has {X.shape[1]} features, the model's normalisation expects "
                                      f"{value.shape[0]}")
            X = (X - mean) / std
        elif op == "bias":
            X = np.hstack([X, np.full((X.shape[0], 1), step["value"])])
        elif op == "l2":
            norms = np.linalg.norm(X, axis=1, keepdims=True)
            zero = norms[:, 0] == 0
            X = X / np.where(norms == 0, 1.0, norms)
            if np.any(zero):
                X[zero, 0] = 1.0
    return X


def fit_pca(X: np.ndarray, k: int, seed: int = 0) -> dict[str, Any]:
    """Fit a PCA step with *k* components (scikit-learn's PCA, seeded)."""
    from sklearn.decomposition import PCA

    if k > min(X.shape):
        raise QauditError(f"cannot fit PCA to {k} components on {X.shape[0]} samples of {X.shape[1]} features")
    pca = PCA(n_components=k, random_state=seed).fit(X)
    return {"op": "pca", "mean": pca.mean_.astype(np.float64), "components": pca.components_.astype(np.float64)}


def fit_standardize(X: np.ndarray) -> dict[str, Any]:
    """A per-feature ``normalize`` step: the mean and standard deviation of *X*'s columns
    (standard deviations below :data:`STD_FLOOR` -- constant columns -- become 1)."""
    X = np.asarray(X, dtype=np.float64)
    std = X.std(axis=0)
    return {"op": "normalize", "mean": X.mean(axis=0), "std": np.where(std < STD_FLOOR, 1.0, std)}


def to_json(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for step in steps:
        item = {}
        for key, value in step.items():
            item[key] = arrays.encode(value) if isinstance(value, np.ndarray) else value
        out.append(item)
    return out


def from_json(value: Any, where: str = "preprocessing") -> list[dict[str, Any]]:
    """Validate and decode a saved pipeline."""
    if not isinstance(value, list):
        raise QauditError(f"{where}: expected a list of steps")
    steps = []
    for i, raw in enumerate(value):
        here = f"{where}[{i}]"
        if not isinstance(raw, dict) or raw.get("op") not in OPS:
            raise QauditError(f"{here}: unknown preprocessing op (expected one of {', '.join(OPS)})")
        op = raw["op"]
        if op == "scale":
            factor = raw.get("factor")
            if not isinstance(factor, (int, float)) or isinstance(factor, bool) or not np.isfinite(factor) \
                    or not SCALE_MIN <= abs(factor) <= SCALE_MAX:
                raise QauditError(f"{here}: 'factor' must be a number with {SCALE_MIN:g} <= |factor| <= "
                                  f"{SCALE_MAX:g}")
            steps.append({"op": op, "factor": float(factor)})
        elif op == "bias":
            value = raw.get("value")
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not np.isfinite(value) \
                    or abs(value) > VALUE_MAX:
                raise QauditError(f"{here}: 'value' must be a finite number within +-{VALUE_MAX:g}")
            steps.append({"op": op, "value": float(value)})
        elif op == "pca":
            mean = arrays.decode(raw.get("mean"), f"{here}.mean", (None,))
            comps = arrays.decode(raw.get("components"), f"{here}.components", (None, mean.shape[0]))
            for name, array in (("mean", mean), ("components", comps)):
                if array.size and float(np.max(np.abs(array))) > VALUE_MAX:
                    raise QauditError(f"{here}.{name}: values beyond +-{VALUE_MAX:g}")
            steps.append({"op": op, "mean": mean, "components": comps})
        elif op == "pad":
            size = raw.get("size")
            if not isinstance(size, int) or isinstance(size, bool) or not 0 < size <= MAX_PAD:
                raise QauditError(f"{here}: 'size' must be a positive integer of at most {MAX_PAD}")
            steps.append({"op": op, "size": size})
        elif op == "normalize":
            steps.append({"op": op, "mean": _number_or_vector(raw.get("mean"), f"{here}.mean"),
                          "std": _number_or_vector(raw.get("std"), f"{here}.std", positive=True)})
        else:
            steps.append({"op": op})
    return steps


def _number_or_vector(value: Any, where: str, positive: bool = False) -> float | np.ndarray:
    """A finite number or a 1-D array of finite numbers within +-VALUE_MAX (with *positive*: a
    standard deviation in [SCALE_MIN, SCALE_MAX])."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            out: float | np.ndarray = float(value)
        except OverflowError:
            raise QauditError(f"{where}: must be a finite number") from None
        if not np.isfinite(out):
            raise QauditError(f"{where}: must be a finite number")
    else:
        out = arrays.decode(value, where, (None,))
    values = np.asarray(out)
    if positive and values.size and not np.all((values >= SCALE_MIN) & (values <= SCALE_MAX)):
        raise QauditError(f"{where}: must be > 0, within [{SCALE_MIN:g}, {SCALE_MAX:g}]")
    if values.size and float(np.max(np.abs(values))) > VALUE_MAX:
        raise QauditError(f"{where}: values beyond +-{VALUE_MAX:g}")
    return out


def output_width(steps: list[dict[str, Any]], n_features: int) -> int:
    """Number of features the pipeline produces from *n_features* inputs."""
    width = n_features
    for step in steps:
        if step["op"] == "pca":
            width = step["components"].shape[0]
        elif step["op"] == "pad":
            width = step["size"]
        elif step["op"] == "bias":
            width += 1
    return width
