"""Conformance checks of a model importer (:class:`qaudit.sdk.protocols.Importer`)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from qaudit.sdk.testing.checks import Check, Step, Suite, assert_probabilities, check_class_attributes, fail
from qaudit.sdk.testing.hosts import make_host


def importer_suite(importer_cls: Any, source: str, X: np.ndarray, n_classes: int, *, weights: str | None = None,
                   options: Mapping[str, Any] | None = None, recipe: Mapping[str, Any] | None = None) -> Suite:
    """The checks of :func:`importer_checks` with their shared steps; ``result()`` is the ImportedModel."""
    from qaudit.sdk.protocols import ImportRequest

    suite = Suite(importer_cls)
    X = np.asarray(X, dtype=np.float64)
    request = ImportRequest(source=source, weights=weights, X=X, n_classes=int(n_classes),
                            options=dict(options or {}), recipe=dict(recipe or {}))
    loaded = Step("load", lambda: _load(importer_cls, request))
    suite.add("class_attributes", lambda: check_class_attributes(importer_cls, ("name", "description", "extra")))
    suite.add("load_returns_an_imported_model", loaded)
    suite.add("kind_is_registered", lambda: _kind(loaded.need()))
    suite.add("matches_the_source_framework", lambda: _fidelity(loaded.need(), X))
    suite.add("model_file_is_data_only", lambda: _data_only(loaded.need(), X))
    suite.add("files_exist", lambda: _files(loaded.need()))
    suite.add("details_are_json", lambda: _details(loaded.need()))
    suite.result = loaded.need
    return suite


def importer_checks(importer_cls: Any, source: str, X: np.ndarray, n_classes: int, **settings: Any) -> Iterator[Check]:
    """Named checks of a :class:`qaudit.sdk.protocols.Importer` class (arguments as :func:`check_importer`):
    ``class_attributes``, ``load_returns_an_imported_model``, ``kind_is_registered``,
    ``matches_the_source_framework``, ``model_file_is_data_only``, ``files_exist`` and ``details_are_json``."""
    return importer_suite(importer_cls, source, X, n_classes, **settings).named()


def check_importer(importer_cls: Any, source: str, X: np.ndarray, n_classes: int, *, weights: str | None = None,
                   options: Mapping[str, Any] | None = None, recipe: Mapping[str, Any] | None = None) -> Any:
    """Check a :class:`qaudit.sdk.protocols.Importer` class on one *source* (and *weights*) with raw inputs *X*.

    ``load`` returns an :class:`~qaudit.sdk.protocols.ImportedModel` whose ``kind`` is a registered model kind,
    with ``framework`` and ``version`` named; qaudit's class probabilities of the model (the host's query
    path) agree with ``reference(X)``, the source framework's, to the host's import tolerance (1e-8);
    ``to_document``/``from_document`` of the kind reproduce the model (the model file needs no code); the
    ``files`` exist and ``details`` are JSON. Every check runs (:func:`importer_checks` names them); one
    ``AssertionError`` lists every failure. Returns the ImportedModel.
    """
    return importer_suite(importer_cls, source, X, n_classes, weights=weights, options=options,
                          recipe=recipe).run()


def _load(importer_cls: Any, request: Any) -> Any:
    from qaudit.sdk.protocols import ImportedModel

    imported = importer_cls().load(request)
    if not isinstance(imported, ImportedModel):
        fail(f"load(request) must return a qaudit.sdk.protocols.ImportedModel, got {type(imported).__name__}")
    for attr in ("kind", "framework", "version"):
        if not isinstance(getattr(imported, attr), str) or not getattr(imported, attr):
            fail(f"ImportedModel.{attr} must be a non-empty string")
    if not callable(imported.reference):
        fail("ImportedModel.reference must be callable: reference(X) -> the source framework's probabilities")
    return imported


def _kind(imported: Any) -> None:
    from qaudit.sdk.errors import QauditError

    try:
        make_host().get("model", imported.kind)
    except QauditError as exc:
        fail(f"kind {imported.kind!r} is not a registered model kind ({exc})")


def _fidelity(imported: Any, X: np.ndarray) -> None:
    from qaudit.files.importing import TOLERANCE
    from qaudit.run.query import predict_proba

    ours = assert_probabilities(predict_proba(imported.model, X), len(X))
    theirs = np.asarray(imported.reference(X), dtype=np.float64)
    if theirs.shape != ours.shape or not np.all(np.isfinite(theirs)):
        fail(f"reference(X) must give finite probabilities of shape {ours.shape}, got {theirs.shape}")
    worst = float(np.max(np.abs(ours - theirs)))
    if worst > TOLERANCE:
        fail(f"qaudit's probabilities differ from {imported.framework}'s by {worst:.3g} (> {TOLERANCE:g})")


def _data_only(imported: Any, X: np.ndarray) -> None:
    from qaudit.run.query import predict_proba

    cls = make_host().get("model", imported.kind)
    clone = cls.from_document(json.loads(json.dumps(imported.model.to_document())))
    if not np.allclose(predict_proba(clone, X), predict_proba(imported.model, X), rtol=0, atol=1e-12):
        fail(f"the {imported.kind!r} model rebuilt from its model-file sections predicts differently")


def _files(imported: Any) -> None:
    missing = [f for f in imported.files if not Path(f).is_file()]
    if missing:
        fail(f"ImportedModel.files names files that do not exist: {', '.join(map(str, missing))}")


def _details(imported: Any) -> None:
    try:
        json.dumps(imported.details)
    except (TypeError, ValueError) as exc:
        fail(f"ImportedModel.details must be JSON-serialisable ({exc})")
