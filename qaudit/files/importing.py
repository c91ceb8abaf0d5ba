"""``qaudit import``: convert a model from another framework once, verified, into a qaudit model file.

The host finds the importer by name through the plugin host (``register_importers``), hands it an
:class:`~qaudit.sdk.protocols.ImportRequest` (source, weights, the data's raw inputs, options and the
training recipe), and checks the result before anything is written: qaudit's class probabilities
(exact engine, float64) must equal the source framework's on the data to :data:`TOLERANCE`, or the
import fails naming the largest difference and the sample and class where it occurs. The model file
records the source framework, its version, the sha256 of every source file, the fidelity measured and
the recipe; reference and shadow models of the imported architecture are trained with that recipe.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qaudit.sdk.errors import QauditError

#: Largest accepted max |Δp| between qaudit's and the source framework's class probabilities.
TOLERANCE = 1e-8
#: Bytes hashed per source file at most (weights files can be large; a hash is only a fingerprint).
MAX_FINGERPRINT_BYTES = 1 << 30


@dataclass
class Fidelity:
    """The import check: largest |Δp| and where it occurs (row of the checked data, class)."""

    max_abs_diff: float
    sample: int
    class_index: int
    n_samples: int
    seconds_source: float
    seconds_qaudit: float

    def to_json(self) -> dict[str, Any]:
        """The model file's ``provenance.import.fidelity``."""
        return {"max_abs_diff": float(self.max_abs_diff), "sample": int(self.sample),
                "class": int(self.class_index), "n_samples": int(self.n_samples), "tolerance": TOLERANCE,
                "dtype": "float64", "seconds_source": round(self.seconds_source, 3),
                "seconds_qaudit": round(self.seconds_qaudit, 3)}


def fingerprint(path: str | Path) -> dict[str, Any]:
    """``{"path", "sha256", "bytes"}`` of one source file (regular files only)."""
    from qaudit.files.io import check_regular_file

    path = Path(path)
    check_regular_file(path, "source file")
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while size < MAX_FINGERPRINT_BYTES and (chunk := handle.read(1 << 20)):
            digest.update(chunk)
            size += len(chunk)
    return {"path": path.name, "sha256": digest.hexdigest(), "bytes": size}


def check_weights_file(path: str | Path) -> int:
    """Size of the weights file *path*: an existing regular file of at most
    :data:`qaudit.sdk.limits.MAX_WEIGHTS_BYTES`, else one line (checked from its size, before anything reads it)."""
    from qaudit.files.io import check_regular_file
    from qaudit.sdk.limits import MAX_WEIGHTS_BYTES

    if not Path(path).exists():
        raise QauditError(f"weights file {path}: no such file")
    size = check_regular_file(path, "weights file")
    if size > MAX_WEIGHTS_BYTES:
        raise QauditError(f"weights file {path} is too large ({size} bytes; at most {MAX_WEIGHTS_BYTES} are read)")
    return size


def check_fidelity(ours: np.ndarray, theirs: np.ndarray, where: str) -> tuple[float, int, int]:
    """``(max |Δp|, sample, class)``; a one-line QauditError when shapes differ or values are not finite."""
    theirs = np.asarray(theirs, dtype=np.float64)
    if theirs.shape != ours.shape:
        raise QauditError(f"{where}: the source framework gives outputs of shape {theirs.shape}, qaudit's "
                          f"conversion {ours.shape}")
    if not np.all(np.isfinite(theirs)):
        raise QauditError(f"{where}: the source framework's outputs are not finite (NaN or infinity)")
    diff = np.abs(ours - theirs)
    sample, cls = np.unravel_index(int(np.argmax(diff)), diff.shape)
    return float(diff[sample, cls]), int(sample), int(cls)


def _check_rows(rows: np.ndarray, check_samples: int | None, seed: int) -> np.ndarray:
    """The rows of *X* the fidelity check runs on: all of *rows*, or a seeded subset of *check_samples*."""
    if check_samples is None or check_samples >= len(rows):
        return rows
    return np.sort(np.random.default_rng(seed).choice(rows, size=check_samples, replace=False))


def import_model(importer: str, source: str, *, weights: str | None, dataset: Any, members: np.ndarray,
                 holdout: np.ndarray, options: dict[str, Any], recipe: dict[str, Any], seed: int = 0,
                 check_samples: int | None = None, host: Any = None) -> tuple[Any, Fidelity]:
    """Run importer *importer* on *source*, verify it, return ``(ModelFile, Fidelity)`` (nothing written).

    *dataset* is a :class:`qaudit.files.data.Dataset` whose rows are the model's raw inputs; *members* and
    *holdout* index it (the model's training set and the data it never saw). Raises QauditError when the
    importer fails or the fidelity check does (the message names the largest difference and where).
    """
    from qaudit.files.data import DataRecord
    from qaudit.files.model_file import ModelFile
    from qaudit.run.query import predict_proba
    from qaudit.sdk.host import get_host
    from qaudit.sdk.protocols import ImportRequest

    host = host or get_host()
    cls = host.get("importer", importer)
    if weights is not None:  # before the importer runs any user code or framework import: a size is a stat
        check_weights_file(weights)
    plugin = cls()
    X = np.asarray(dataset.X, dtype=np.float64)
    request = ImportRequest(source=source, weights=weights, X=X[members], n_classes=int(dataset.n_classes),
                            options=dict(options), recipe=dict(recipe))
    try:
        imported = plugin.load(request)
    except ImportError as exc:
        raise QauditError(f"importer {importer!r} needs its framework: pip install \"qaudit[{cls.extra}]\" "
                          f"({type(exc).__name__}: {exc})") from None
    rows = _check_rows(np.concatenate([members, holdout]), check_samples, seed)
    start = time.perf_counter()
    theirs = imported.reference(X[rows])
    seconds_source = time.perf_counter() - start
    start = time.perf_counter()
    ours = predict_proba(imported.model, X[rows])
    seconds_qaudit = time.perf_counter() - start
    diff, sample, klass = check_fidelity(ours, theirs, f"import {source}")
    fidelity = Fidelity(diff, int(rows[sample]), klass, len(rows), seconds_source, seconds_qaudit)
    if not diff <= TOLERANCE:
        raise QauditError(f"import {source}: qaudit's class probabilities differ from {imported.framework}'s by "
                          f"up to {diff:.3g} (> {TOLERANCE:g}) at sample {rows[sample]}, class {klass} "
                          f"(qaudit {ours[sample, klass]:.12g}, {imported.framework} {theirs[sample][klass]:.12g}); "
                          f"likely cause: {likely_causes(imported, X[rows])}; nothing written")
    record = DataRecord(dataset.name, dataset.options, members, holdout, seed, {}, fingerprint=dataset.fingerprint(),
                        kind=dataset.kind, label_names=dataset.label_names)
    files = [fingerprint(f) for f in imported.files]
    provenance = {"import": {"importer": importer, "framework": imported.framework, "version": imported.version,
                             "source": source, "files": files, "fidelity": fidelity.to_json(),
                             "details": imported.details}}
    training = {"imported": True, "seconds": 0.0, "loss_history": [],
                "recipe": {**recipe, "by": "qaudit engine (reference and shadow models)"}}
    return ModelFile(imported.model, imported.kind, record, training, provenance), fidelity


#: Said when the importer names no cause of a failed fidelity check.
GENERIC_CAUSE = ("the source model computes something the conversion does not represent (an operation outside the "
                 "layers and circuit the importer read, or outputs that are sampled rather than exact)")


def likely_causes(imported: Any, X: np.ndarray) -> str:
    """The importer's ``explain(X)`` sentences joined, or :data:`GENERIC_CAUSE` (also when ``explain`` fails:
    the diagnosis must not hide the fidelity error)."""
    causes: list[str] = []
    if callable(getattr(imported, "explain", None)):
        try:
            causes = [str(c) for c in imported.explain(X) or []]
        except Exception:  # noqa: BLE001 - best effort, the fidelity error is what matters
            causes = []
    return "; or ".join(causes) if causes else GENERIC_CAUSE


def _files(files: Any) -> list[dict[str, Any]]:
    """The recorded source files (``path``, ``sha256``, ``bytes``) as the model file states them."""
    keys = ("path", "sha256", "bytes")
    return [{k: f.get(k) for k in keys} for f in files if isinstance(f, dict)] if isinstance(files, list) else []


def _fidelity(fidelity: Any) -> dict[str, Any] | None:
    """The recorded import check (largest |Δp|, samples, tolerance, dtype)."""
    keys = ("max_abs_diff", "n_samples", "tolerance", "dtype")
    return {k: fidelity.get(k) for k in keys if k in fidelity} if isinstance(fidelity, dict) else None


def record_import(report: Any, mf: Any) -> None:
    """Say in a leak report that the audited model was imported -- from which files (their sha256) and how
    closely the import matched its framework, as the model file records -- and that its reference/shadow models
    were trained by qaudit's engine with the recorded recipe (``settings.imported``, ``summary.imported_from``,
    ``summary.reference_models``)."""
    note = reference_note(mf)
    if note is None:
        return
    report.settings["imported"] = note
    report.summary["reference_models"] = note["statement"]
    report.summary["imported_from"] = provenance_line(note)


def provenance_line(note: dict[str, Any]) -> str:
    """One line for the report summary: framework, source files with their sha256, the import's fidelity."""
    files = ", ".join(f"{f.get('path')} (sha256 {f.get('sha256')})" for f in note.get("files") or [])
    fidelity = note.get("fidelity") or {}
    checked = (f"max |Δp| {fidelity['max_abs_diff']:.2g} over {fidelity.get('n_samples')} samples (tolerance "
               f"{fidelity.get('tolerance')})" if isinstance(fidelity.get("max_abs_diff"), (int, float))
               else "no fidelity recorded")
    files = files or "no source files recorded"
    return f"{note.get('framework')} {note.get('version')}: {files}; import check {checked}"


def reference_note(mf: Any) -> dict[str, Any] | None:
    """For a model file written by ``qaudit import``: what the leak report says about reference models
    (they were trained by qaudit's engine with the recipe recorded at import, not by the source framework)."""
    info = (mf.provenance or {}).get("import") if isinstance(mf.provenance, dict) else None
    if not isinstance(info, dict):
        return None
    recipe = (mf.training or {}).get("recipe", {}) if isinstance(mf.training, dict) else {}
    shown = {k: v for k, v in recipe.items() if k != "by"} if isinstance(recipe, dict) else {}
    details = info.get("details")
    notes = details.get("recipe_notes") if isinstance(details, dict) else None
    notes = [str(n) for n in notes] if isinstance(notes, list) else []
    return {"framework": info.get("framework"), "version": info.get("version"), "recipe": shown,
            "source": info.get("source"), "files": _files(info.get("files")),
            "fidelity": _fidelity(info.get("fidelity")),
            "statement": f"reference and shadow models were trained by qaudit's engine on the imported "
                         f"architecture with qaudit's recipe {shown}, not by {info.get('framework')}"
                         + "".join(f"; {n}" for n in notes)}
