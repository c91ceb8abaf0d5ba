"""Shared pieces: output features, logit scaling, option handling."""

from __future__ import annotations

from typing import Any

import numpy as np

from qaudit.sdk import QauditError

EPS = 1e-12


def true_class_prob(probs: np.ndarray, y: np.ndarray) -> np.ndarray:
    """p_y for every row."""
    return probs[np.arange(len(y)), np.asarray(y, dtype=np.int64)]


def cross_entropy(probs: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-sample cross-entropy -log p_y (clipped at 1e-12)."""
    return -np.log(np.clip(true_class_prob(probs, y), EPS, None))


def paper_features(probs: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The paper's 13 gray-box features: probabilities, max probability, correctness, cross-entropy.

    With fewer/more than 10 classes the first block has n_classes columns.
    """
    correct = (np.argmax(probs, axis=1) == y).astype(np.float64)
    return np.column_stack([probs, probs.max(axis=1), correct, cross_entropy(probs, y)])


def logit_confidence(probs: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Carlini et al.'s logit-scaled confidence log(p_y / (1 - p_y)), stably."""
    p = np.clip(true_class_prob(probs, y), EPS, 1 - EPS)
    return np.log(p) - np.log1p(-p)


def options(context: Any, attack: str, defaults: dict[str, Any],
            ranges: dict[str, tuple[Any, ...]] | None = None) -> dict[str, Any]:
    """``defaults`` overlaid with ``context.options`` for *attack* (keys ``name.key`` or ``key``).

    Unknown keys for this attack are an error. A value must have its default's type (bool, integer
    or number; strict: no bool for a number, no float for an integer, no strings or null) and lie in
    ``ranges[key] = (low, high)`` or ``(low, high, "open")`` (low excluded), checked with
    :func:`qaudit.sdk.check_option`; options with other defaults (e.g. strings) pass unchanged.
    """
    from qaudit.sdk import check_option

    given = {}
    for key, value in (getattr(context, "options", {}) or {}).items():
        if "." in key:
            owner, sub = key.split(".", 1)
            if owner != attack:
                continue
            given[sub.replace("-", "_")] = value
    unknown = set(given) - set(defaults)
    if unknown:
        raise QauditError(f"attack {attack}: unknown option(s) {', '.join(sorted(unknown))} "
                          f"(accepted: {', '.join(sorted(defaults)) or 'none'})")
    out = dict(defaults)
    for key, value in given.items():
        default = defaults[key]
        kind = ("bool" if isinstance(default, bool) else "int" if isinstance(default, int)
                else "float" if isinstance(default, float) else None)
        if kind is not None:
            low, high, *mode = (ranges or {}).get(key, (None, None))
            value = check_option(f"option {key}", value, kind, low, high, low_open=bool(mode), owner=f"attack {attack}")
        out[key] = value
    return out


def check_options(cls: Any, all_options: dict[str, Any]) -> None:
    """Fail fast (before any work) on *cls*'s options in *all_options* (``ATTACK.KEY`` keys): the same
    checks as :func:`options` at fit time. Built-in attacks expose it as ``check_options``."""
    from types import SimpleNamespace

    options(SimpleNamespace(options=all_options), cls.name, getattr(cls, "DEFAULTS", {}), getattr(cls, "RANGES", None))


def fitted_details(attack: Any) -> dict[str, Any]:
    """The report's details of a fitted built-in attack: training epochs, whether shot noise and a
    global variance were modelled, and the reference models it trained (``Attack.details``)."""
    details: dict[str, Any] = {}
    for attr in ("epochs_", "shot_noise_modelled_", "global_variance_"):
        if attr in vars(attack):
            details[attr.rstrip("_")] = vars(attack)[attr]
    refs = vars(attack).get("refs_")
    if refs is not None:
        details["reference_models"] = len(refs.models)
        details["reference_train_size"] = refs.size
        target = getattr(refs, "target_size", None)
        if target is not None:
            details["target_train_size"] = target
            if refs.size != target:
                details["reference_size_note"] = (
                    f"each reference model trained on {refs.size} samples, the target on {target} "
                    f"({(refs.size - target) / target:+.0%}): half of the scored samples plus every other "
                    "available sample")
        details["reference_seconds"] = round(refs.seconds, 2)
        if refs.recorded:
            details["reference_models_recorded"] = True
    return details
