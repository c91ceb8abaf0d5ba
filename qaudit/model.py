"""The model file: ``model.json``, versioned, validated, written atomically.

Layout (see docs/model-format.md)::

    {"format": "qaudit.model", "version": 1, "kind": "<registered model name>",
     "config": {...}, "params": {...}, "preprocessing": [...],
     "data": {"dataset", "options", "seed", "members", "holdout", "excluded",
              "paths", "kind", "label_names", "fingerprint"},
     "training": {...}, "provenance": {"qaudit", "created", "command"}}

Model files are untrusted: JSON only, every field validated, no pickle, no
eval, no code named by the file. Foreign formats go through the ``load_model``
hook.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qaudit import __version__, arrays
from qaudit.data import KINDS, DataRecord, resolve_path
from qaudit.errors import QauditError
from qaudit.io import write_json_atomic

FORMAT = "qaudit.model"
VERSION = 1
MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_INDICES = 10_000_000


@dataclass
class ModelFile:
    """A loaded model plus its records."""

    model: Any
    kind: str
    data: DataRecord | None = None
    training: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    path: str | None = None


def _require(cond: bool, message: str) -> None:
    if not cond:
        raise QauditError(message)


def _validate_fingerprint(raw: Any, where: str) -> dict[str, Any] | None:
    if raw is None:
        return None
    _require(isinstance(raw, dict), f"{where}: data.fingerprint must be an object")
    digest, shape, algorithm = raw.get("sha256"), raw.get("shape"), raw.get("algorithm")
    _require(isinstance(digest, str) and len(digest) == 64 and all(c in "0123456789abcdef" for c in digest),
             f"{where}: data.fingerprint.sha256 must be 64 lower-case hex digits")
    _require(isinstance(shape, list) and len(shape) == 2 and all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in shape),
        f"{where}: data.fingerprint.shape must be [n_samples, n_features]")
    _require(isinstance(algorithm, str) and len(algorithm) < 256,
             f"{where}: data.fingerprint.algorithm must be a string")
    return {"sha256": digest, "shape": list(shape), "algorithm": algorithm}


def _validate_data_extras(raw: dict[str, Any], where: str) -> dict[str, Any]:
    """The optional data-record fields: kind, label_names, fingerprint, paths."""
    kind = raw.get("kind")
    _require(kind is None or kind in KINDS, f"{where}: data.kind must be one of {', '.join(KINDS)}")
    names = raw.get("label_names")
    _require(names is None or (isinstance(names, list) and all(isinstance(n, str) for n in names)
                               and len(set(names)) == len(names)),
             f"{where}: data.label_names must be a list of distinct strings")
    paths = raw.get("paths")
    _require(paths in (None, "model-relative"), f"{where}: data.paths must be \"model-relative\"")
    return {"kind": kind, "label_names": names, "fingerprint": _validate_fingerprint(raw.get("fingerprint"), where)}


def _validate_data(raw: Any, where: str) -> DataRecord | None:
    if raw is None:
        return None
    _require(isinstance(raw, dict), f"{where}: 'data' must be an object")
    name = raw.get("dataset")
    _require(isinstance(name, str) and 0 < len(name) < 4096, f"{where}: data.dataset must be a name or path")
    options = raw.get("options", {})
    _require(isinstance(options, dict), f"{where}: data.options must be an object")
    seed = raw.get("seed", 0)
    _require(isinstance(seed, int) and not isinstance(seed, bool), f"{where}: data.seed must be an integer")
    sets = {}
    for key in ("members", "holdout"):
        values = raw.get(key, [])
        _require(isinstance(values, list) and len(values) <= MAX_INDICES, f"{where}: data.{key} must be a list")
        idx = arrays.decode(values, f"{where}: data.{key}", (None,), integer=True) if values else np.zeros(
            0, dtype=np.int64)
        _require(bool(np.all(idx >= 0)), f"{where}: data.{key} has negative indices")
        _require(len(np.unique(idx)) == idx.size, f"{where}: data.{key} has duplicate indices")
        sets[key] = idx
    _require(not np.intersect1d(sets["members"], sets["holdout"]).size,
             f"{where}: data.members and data.holdout overlap")
    excluded = raw.get("excluded", {})
    _require(isinstance(excluded, dict), f"{where}: data.excluded must be an object")
    record = DataRecord(name, options, sets["members"], sets["holdout"], seed, excluded,
                        **_validate_data_extras(raw, where))
    if raw.get("paths") == "model-relative":  # written relative to the model file's directory
        base = str(Path(where).parent)
        record = record.map_paths(lambda p: resolve_path(p, base))
    return record


def read_document(path: str | os.PathLike[str]) -> Any:
    """Read and parse a JSON file with a size cap; one-line errors."""
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise QauditError(f"cannot read model file {path}: {exc.strerror or exc}") from exc
    _require(p.is_file(), f"model file {path} is not a file")
    _require(size <= MAX_FILE_BYTES, f"model file {path} is too large ({size} bytes)")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise QauditError(f"cannot read model file {path}: not UTF-8 text") from exc
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (json.JSONDecodeError, ValueError) as exc:
        raise QauditError(f"{path}: not valid JSON ({exc})") from exc


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name}")


def load(path: str | os.PathLike[str], host: Any = None) -> ModelFile:
    """Load and validate a model file; raise QauditError with a one-line reason."""
    from qaudit.plugins import get_host

    host = host or get_host()
    where = str(path)
    doc = read_document(path)
    if not (isinstance(doc, dict) and doc.get("format") == FORMAT):
        foreign = host.call_load_model(where, doc)
        if foreign is not None:
            return foreign if isinstance(foreign, ModelFile) else ModelFile(foreign, getattr(foreign, "name", "?"))
        raise QauditError(f"{where}: not a qaudit model file (missing \"format\": \"{FORMAT}\")")
    version = doc.get("version")
    _require(isinstance(version, int) and not isinstance(version, bool),
             f"{where}: 'version' must be an integer")
    _require(version == VERSION, f"{where}: model file version {version} is not supported "
             f"(this qaudit reads version {VERSION}); upgrade qaudit or re-train")
    kind = doc.get("kind")
    _require(isinstance(kind, str), f"{where}: 'kind' must be a string")
    cls = host.get("model", kind)
    for key in ("config", "params"):
        _require(isinstance(doc.get(key), dict), f"{where}: '{key}' must be an object")
    _require(isinstance(doc.get("preprocessing", []), list), f"{where}: 'preprocessing' must be a list")
    data = _validate_data(doc.get("data"), where)
    try:
        model = cls.from_document(doc)
    except QauditError as exc:
        raise QauditError(f"{where}: {exc}") from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise QauditError(f"{where}: invalid {kind} model ({type(exc).__name__}: {exc})") from exc
    training = doc.get("training", {})
    provenance = doc.get("provenance", {})
    _require(isinstance(training, dict) and isinstance(provenance, dict),
             f"{where}: 'training' and 'provenance' must be objects")
    return ModelFile(model, kind, data, training, provenance, where)


def to_document(mf: ModelFile, command: str | None = None, base_dir: str | None = None) -> dict[str, Any]:
    """Assemble the JSON document for *mf*; with *base_dir* (the model file's directory),
    user-file paths of the data record are written relative to it."""
    doc: dict[str, Any] = {"format": FORMAT, "version": VERSION, "kind": mf.kind}
    doc.update(mf.model.to_document())
    if mf.data is not None:
        doc["data"] = mf.data.to_json(base_dir)
    doc["training"] = mf.training
    provenance = dict(mf.provenance)
    provenance.setdefault("qaudit", __version__)
    provenance.setdefault("created", _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    if command:
        provenance["command"] = command
    doc["provenance"] = provenance
    return doc


def save(mf: ModelFile, path: str | os.PathLike[str], command: str | None = None) -> None:
    """Write *mf* to *path* atomically (data paths relative to *path*'s directory)."""
    write_json_atomic(path, to_document(mf, command, str(Path(path).parent)))
