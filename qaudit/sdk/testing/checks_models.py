"""Conformance checks of a model kind (:class:`qaudit.sdk.protocols.Model`)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from qaudit.sdk.testing.checks import Check, Step, Suite, assert_probabilities, check_class_attributes, fail
from qaudit.sdk.testing.sample_model import load_tiny_dataset

#: Raw-feature rows the query-path checks evaluate.
N_QUERY = 16
#: Shots of the finite-shot query-path check.
SHOTS = 4096


def model_suite(model_cls: Any, options: Mapping[str, Any] | None = None, X: np.ndarray | None = None,
                y: np.ndarray | None = None, *, n_checks: int = 4, h: float = 1e-5, rtol: float = 1e-4,
                atol: float = 1e-6) -> Suite:
    """The checks of :func:`model_checks` with their shared steps; ``result()`` is the fitted model."""
    suite = Suite(model_cls)
    opts = dict(options or {})
    data = Step("loading the data", lambda: _data(X, y))
    built = Step("from_options", lambda: model_cls.from_options(dict(opts)))
    fitted = Step("fit", lambda: _fit(built.need(), *data.need()))
    exact = Step("querying the fitted model", lambda: _exact_query(fitted.need(), data.need()[0][:N_QUERY]))
    ensemble = callable(getattr(model_cls, "parts", None))

    suite.add("class_attributes", lambda: check_class_attributes(model_cls))
    suite.add("get_params_is_json", lambda: _params_json(built()))
    suite.add("fit_returns_self", fitted)
    suite.add("fitted_sizes", lambda: _sizes(fitted.need()))
    suite.add("copy_is_independent", lambda: _copy(fitted.need()))
    suite.add("query_gives_probabilities", exact)
    suite.add("predict_proba_matches_query", lambda: _predict_proba(fitted.need(), data.need()[0][:N_QUERY]))
    if not ensemble:  # an ensemble's parts are checked as models of their own kind
        suite.add("task_and_head", lambda: _task_and_head(fitted.need(), data.need()[0][:N_QUERY], exact.need()))
        suite.add("shots_agree_with_exact", lambda: _shots(fitted.need(), data.need()[0][:N_QUERY], exact.need()))
    suite.add("gradients_match_finite_differences",
              lambda: _gradients(fitted.need(), *data.need(), n_checks=n_checks, h=h, rtol=rtol, atol=atol))
    suite.add("per_sample_grads_average_to_the_gradient", lambda: _per_sample(fitted.need(), *data.need()))
    if callable(getattr(model_cls, "initialise", None)):  # an optional capability (DP training)
        suite.add("initialise_draws_what_fit_trains",
                  lambda: _initialise(model_cls, opts, *data.need(), fitted.need()))
    suite.add("document_round_trip", lambda: _round_trip(model_cls, fitted.need(), data.need()[0][:N_QUERY]))
    suite.result = fitted.need
    return suite


def model_checks(model_cls: Any, options: Mapping[str, Any] | None = None, X: np.ndarray | None = None,
                 y: np.ndarray | None = None, **tolerances: Any) -> Iterator[Check]:
    """Named checks of a :class:`qaudit.sdk.protocols.Model` class (arguments as :func:`check_model`).

    ``class_attributes``, ``get_params_is_json``, ``fit_returns_self`` (called as the host calls it),
    ``fitted_sizes``, ``copy_is_independent``, ``query_gives_probabilities`` (the host's query path,
    :func:`qaudit.run.query.query`), ``predict_proba_matches_query``, ``task_and_head`` and
    ``shots_agree_with_exact`` (not for an ensemble), ``gradients_match_finite_differences``,
    ``per_sample_grads_average_to_the_gradient``, ``initialise_draws_what_fit_trains`` (when the class has
    ``initialise``) and ``document_round_trip``.
    """
    return model_suite(model_cls, options, X, y, **tolerances).named()


def check_model(model_cls: Any, options: Mapping[str, Any] | None = None, X: np.ndarray | None = None,
                y: np.ndarray | None = None, *, n_checks: int = 4, h: float = 1e-5,
                rtol: float = 1e-4, atol: float = 1e-6) -> Any:
    """Check a :class:`qaudit.sdk.protocols.Model` class end to end; returns the fitted model.

    * ``from_options(options)`` builds it, ``get_params()`` is JSON-serialisable;
    * ``fit(X, y, n_classes=, sample_ids=, progress=)`` (as the host calls it) returns self;
      ``n_classes`` and ``n_qubits`` are positive integers; ``copy()`` is independent;
    * the host's query path works (:func:`qaudit.run.query.query`): ``task(X)`` is a
      :class:`~qaudit.sdk.protocols.QuantumTask` with one row per sample, ``head`` gives
      probabilities summing to 1, exactly on the default backend and with 4096 shots through
      the plugin-declared shot backend (``sample()`` for Z readouts), the shot estimates within
      6 standard errors of the exact values -- or, for an ensemble, ``parts``/``combine``;
      ``predict_proba`` equals the query path's probabilities;
    * ``loss_and_grad`` matches central finite differences of its own loss for
      *n_checks* entries of every weight, on a batch of 4 samples;
    * the mean of ``per_sample_grads`` equals the batch gradient;
    * optional ``initialise`` (DP training): returns self, draws the weights ``fit`` trains (same names
      and shapes), reproducibly, and ``per_sample_grads`` covers them on the untrained model;
    * ``to_document`` survives JSON and ``from_document`` predicts identically.

    Every check runs (:func:`model_checks` names them); one ``AssertionError`` lists every failure.
    Pass small *options* (few qubits, layers, epochs) to keep it fast. *X*, *y* default to 120 digits
    samples.
    """
    return model_suite(model_cls, options, X, y, n_checks=n_checks, h=h, rtol=rtol, atol=atol).run()


# --------------------------------------------------------------------------- steps and checks
def _data(X: np.ndarray | None, y: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    if X is None or y is None:
        ds = load_tiny_dataset()
        return ds.X[:120], ds.y[:120]
    return np.asarray(X), np.asarray(y)


def _params_json(model: Any) -> None:
    try:
        json.dumps(model.get_params())
    except TypeError as exc:
        fail(f"get_params() must be JSON-serialisable ({exc})")


def _fit(model: Any, X: np.ndarray, y: np.ndarray) -> Any:
    from qaudit.sdk.progress import SILENT

    try:
        fitted = model.fit(X, y, n_classes=int(np.max(y)) + 1, sample_ids=np.arange(len(X)), progress=SILENT)
    except TypeError as exc:
        fail(f"fit(X, y, *, n_classes=, sample_ids=, progress=) is how the host calls it ({exc})")
    if fitted is not model:
        fail("fit(X, y, n_classes=, sample_ids=, progress=) must return self")
    return model


def _sizes(model: Any) -> None:
    for attr in ("n_classes", "n_qubits"):
        value = getattr(model, attr, None)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            fail(f"{attr} must be a positive integer after fit, got {value!r}")


def _copy(model: Any) -> None:
    other = model.copy()
    if other is model or any(other.weights[k] is v for k, v in model.weights.items()):
        fail("copy() must return an independent deep copy (weights included)")


def _exact_query(model: Any, X: np.ndarray) -> Any:
    from qaudit.run.query import query

    exact = query(model, X)
    assert_probabilities(exact.probs, len(X))
    return exact


def _predict_proba(model: Any, X: np.ndarray) -> None:
    from qaudit.run.query import predict_proba

    if not callable(getattr(model, "predict_proba", None)):
        fail("predict_proba(X, backend=None, shots=None, seed=None) is missing (Model protocol)")
    got = assert_probabilities(model.predict_proba(X), len(X))
    if not np.allclose(got, predict_proba(model, X), rtol=0, atol=1e-10):
        fail("predict_proba(X) differs from the host's query path (qaudit.run.query.predict_proba(model, X))")


def _task_and_head(model: Any, X: np.ndarray, exact: Any) -> None:
    from qaudit.sdk.protocols import QuantumTask

    task = model.task(X)
    if not isinstance(task, QuantumTask) or task.n_samples != len(X):
        fail(f"task(X) must return a QuantumTask with {len(X)} samples")
    assert_probabilities(model.head(exact.expectations), len(X))


def _shots(model: Any, X: np.ndarray, exact: Any) -> None:
    from qaudit.run.backend_choice import default_backend, resolve_backend
    from qaudit.run.query import query

    backend, _ = resolve_backend(default_backend(SHOTS), SHOTS, model)
    sampled = query(model, X, backend, SHOTS, seed=0)
    assert_probabilities(sampled.probs, len(X))
    worst = float(np.max(np.abs(sampled.expectations - exact.expectations)))
    if worst > 6.0 / np.sqrt(SHOTS):
        fail(f"{SHOTS}-shot expectation values differ from the exact ones by {worst:.3g} "
             f"(> 6 standard errors): task() and the exact path disagree")


def _gradients(model: Any, X: np.ndarray, y: np.ndarray, *, n_checks: int, h: float, rtol: float,
               atol: float) -> None:
    Xb, yb = X[:4], y[:4]
    loss, grad = model.loss_and_grad(Xb, yb)
    if not math.isfinite(float(loss)):
        fail(f"loss_and_grad returned a non-finite loss {loss}")
    if set(grad) != set(model.weights):
        fail(f"loss_and_grad keys {sorted(grad)} differ from weights {sorted(model.weights)}")
    rng = np.random.default_rng(0)
    for name, w in model.weights.items():
        g = np.asarray(grad[name])
        if g.shape != w.shape:
            fail(f"gradient of {name!r} has shape {g.shape}, weight has {w.shape}")
        for i in rng.choice(w.size, size=min(n_checks, w.size), replace=False):
            original = w.flat[i]
            try:
                w.flat[i] = original + h
                up = float(model.loss_and_grad(Xb, yb)[0])
                w.flat[i] = original - h
                down = float(model.loss_and_grad(Xb, yb)[0])
            finally:
                w.flat[i] = original
            fd = (up - down) / (2 * h)
            if not abs(fd - g.flat[i]) <= atol + rtol * abs(fd):
                fail(f"d loss / d {name}[{i}] = {g.flat[i]:.8g} but finite differences give {fd:.8g}")


def _per_sample(model: Any, X: np.ndarray, y: np.ndarray) -> None:
    Xb, yb = X[:4], y[:4]
    _, grad = model.loss_and_grad(Xb, yb)
    per_sample = model.per_sample_grads(Xb, yb)
    for name, g in grad.items():
        ps = np.asarray(per_sample[name])
        if ps.shape != (len(yb), *np.shape(g)):
            fail(f"per_sample_grads[{name!r}] has shape {ps.shape}, expected {(len(yb), *np.shape(g))}")
        if not np.allclose(ps.mean(axis=0), g, atol=1e-9, rtol=1e-7):
            fail(f"mean of per_sample_grads[{name!r}] differs from loss_and_grad")


def _initialise(model_cls: Any, options: dict[str, Any], X: np.ndarray, y: np.ndarray, fitted: Any) -> None:
    """``initialise`` (what DP-SGD starts from): returns self, draws the same weights as ``fit`` does before
    training (names and shapes), reproducibly, and ``per_sample_grads`` works on the untrained model."""
    n_classes = int(np.max(y)) + 1
    fresh = model_cls.from_options(dict(options))
    if fresh.initialise(X, y, n_classes) is not fresh:
        fail("initialise(X, y, n_classes) must return self")
    shapes = {k: np.shape(v) for k, v in fresh.weights.items()}
    if shapes != {k: np.shape(v) for k, v in fitted.weights.items()}:
        fail(f"initialise draws weights {shapes}, fit trains {sorted(fitted.weights)} of other shapes")
    again = model_cls.from_options(dict(options)).initialise(X, y, n_classes)
    if any(not np.array_equal(again.weights[k], v) for k, v in fresh.weights.items()):
        fail("initialise is not reproducible for the same options (seed)")
    grads = fresh.per_sample_grads(X[:3], y[:3])
    if set(grads) != set(fresh.weights) or any(np.shape(grads[k]) != (3, *shapes[k]) for k in shapes):
        fail("per_sample_grads of an initialised model must cover every weight, (n, *shape) each")


def _round_trip(model_cls: Any, model: Any, X: np.ndarray) -> None:
    from qaudit.run.query import predict_proba

    document = json.loads(json.dumps(model.to_document()))
    clone = model_cls.from_document(document)
    if not np.allclose(predict_proba(clone, X), predict_proba(model, X), atol=1e-12, rtol=0):
        fail("from_document(to_document()) predicts differently")
