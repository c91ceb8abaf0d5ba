"""Conformance checks of an unlearning method (:class:`qaudit.sdk.protocols.UnlearningMethod`)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from qaudit.sdk.testing.checks import (
    Check,
    Step,
    Suite,
    assert_probabilities,
    check_class_attributes,
    fail,
    snapshot,
)
from qaudit.sdk.testing.sample_model import TinyModel, train_tiny_model

NEEDS = frozenset({"forget", "retain", "train"})
COST_FIELDS = ("circuit_evaluations", "gradient_evaluations", "seconds")


@dataclass
class _Unlearned:
    outcome: Any
    new: Any
    original: Any
    weights: dict[str, np.ndarray]
    document: str
    X_check: np.ndarray


def unlearning_suite(method_cls: Any, options: Mapping[str, Any] | None = None, model: TinyModel | None = None,
                     *, n_forget: int = 20, seed: int = 0) -> Suite:
    """The checks of :func:`unlearning_method_checks` with their shared steps; ``result()`` is the outcome."""
    from qaudit.sdk.protocols import UnlearningRequest

    suite = Suite(method_cls)
    needs = Step("needs", lambda: _needs(method_cls))

    def unlearn() -> _Unlearned:
        wants_retain = bool({"retain", "train"} & needs.need())
        tiny = model or train_tiny_model()
        Xm, ym = tiny.members
        request = UnlearningRequest(X_forget=Xm[:n_forget], y_forget=ym[:n_forget],
                                    X_retain=Xm[n_forget:] if wants_retain else None,
                                    y_retain=ym[n_forget:] if wants_retain else None,
                                    seed=seed, options=dict(options or {}), n_classes=tiny.model.n_classes)
        weights = snapshot(tiny.model)
        document = json.dumps(tiny.model.to_document(), sort_keys=True)
        outcome = method_cls().unlearn(tiny.model, request)
        new = getattr(outcome, "model", None)
        if new is None or new is tiny.model:
            fail("unlearn must return an outcome with a *new* model object")
        return _Unlearned(outcome, new, tiny.model, weights, document, Xm[:16])

    unlearned = Step("unlearn", unlearn)
    suite.add("class_attributes", lambda: check_class_attributes(method_cls))
    suite.add("needs_declared", needs)
    suite.add("returns_a_new_model", unlearned)
    suite.add("input_model_untouched", lambda: _untouched(unlearned.need()))
    suite.add("no_shared_weight_arrays", lambda: _not_shared(unlearned.need()))
    suite.add("new_model_predicts", lambda: _predicts(unlearned.need()))
    suite.add("new_model_saves", lambda: _saves(unlearned.need()))
    suite.add("cost_reported", lambda: _cost(unlearned.need().outcome))
    suite.result = lambda: unlearned.need().outcome
    return suite


def unlearning_method_checks(method_cls: Any, options: Mapping[str, Any] | None = None,
                             model: TinyModel | None = None, **settings: Any) -> Iterator[Check]:
    """Named checks of a :class:`qaudit.sdk.protocols.UnlearningMethod` class (arguments as
    :func:`check_unlearning_method`): ``class_attributes``, ``needs_declared``, ``returns_a_new_model``,
    ``input_model_untouched``, ``no_shared_weight_arrays``, ``new_model_predicts``, ``new_model_saves``
    and ``cost_reported``."""
    return unlearning_suite(method_cls, options, model, **settings).named()


def check_unlearning_method(method_cls: Any, options: Mapping[str, Any] | None = None,
                            model: TinyModel | None = None, *, n_forget: int = 20, seed: int = 0) -> Any:
    """Check a :class:`qaudit.sdk.protocols.UnlearningMethod` class on the tiny model (or *model*).

    It must declare ``needs`` within ``{"forget", "retain", "train"}``; it gets
    the first *n_forget* members as forget set (and the rest as retain set if it
    needs one), with *options* in ``request.options``. ``unlearn`` must return an
    outcome whose model is a new object (the input model's weights and document
    unchanged, no shared arrays) that still predicts probabilities through the host's query path and
    through its ``predict_proba``, and saves, and whose ``cost`` is finite, non-negative and not all zero.
    The model only needs what :class:`qaudit.sdk.protocols.Model` declares. Every check runs
    (:func:`unlearning_method_checks` names them); one ``AssertionError`` lists every failure.
    Returns the outcome.
    """
    return unlearning_suite(method_cls, options, model, n_forget=n_forget, seed=seed).run()


# --------------------------------------------------------------------------- checks
def _needs(method_cls: Any) -> frozenset[str]:
    needs = getattr(method_cls, "needs", None)
    if not isinstance(needs, (set, frozenset, tuple, list)) or not set(needs) <= NEEDS:
        fail(f"'needs' must be a subset of {{'forget', 'retain', 'train'}}, got {needs!r}")
    return frozenset(needs)


def _untouched(done: _Unlearned) -> None:
    model = done.original
    if any(not np.array_equal(done.weights[k], model.weights[k]) for k in done.weights) or \
            json.dumps(model.to_document(), sort_keys=True) != done.document:
        fail("unlearn modified its input model")


def _not_shared(done: _Unlearned) -> None:
    for k, w in getattr(done.new, "weights", {}).items():
        if k in done.original.weights and np.shares_memory(np.asarray(w), done.original.weights[k]):
            fail(f"the new model shares the weight array {k!r} with the input model")


def _predicts(done: _Unlearned) -> None:
    from qaudit.run.query import predict_proba

    X = done.X_check
    host = assert_probabilities(predict_proba(done.new, X), len(X))
    own = assert_probabilities(done.new.predict_proba(X), len(X))
    if not np.allclose(own, host, rtol=0, atol=1e-10):
        fail("the new model's predict_proba differs from the host's query path")


def _saves(done: _Unlearned) -> None:
    try:
        json.dumps(done.new.to_document())
    except (TypeError, ValueError) as exc:
        fail(f"the new model's to_document() is not JSON-serialisable ({exc})")


def _cost(outcome: Any) -> None:
    cost = getattr(outcome, "cost", None)
    if cost is None or any(not hasattr(cost, f) for f in COST_FIELDS):
        fail(f"outcome.cost must report {', '.join(COST_FIELDS)}")
    values = [float(getattr(cost, f)) for f in COST_FIELDS]
    if any(not math.isfinite(v) or v < 0 for v in values):
        fail(f"cost values must be finite and >= 0, got {dict(zip(COST_FIELDS, values))}")
    if not any(values):
        fail("cost is all zero: report the evaluations and seconds the method spent")
