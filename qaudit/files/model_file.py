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

from qaudit import __version__
from qaudit.files import arrays
from qaudit.files.data import KINDS, MAX_FEATURES, DataRecord, resolve_path
from qaudit.files.io import read_json_limited, write_text_atomic
from qaudit.sdk.errors import QauditError
from qaudit.sdk.limits import MAX_CLASSES, MAX_MODEL_QUBITS

FORMAT = "qaudit.model"
VERSION = 1
MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_INDICES = 10_000_000
#: Largest magnitude of any trained parameter (``params``); larger values only produce overflow.
MAX_PARAM_ABS = 1e6
_INT64_MAX = 2**63 - 1


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
    _require(isinstance(seed, int) and not isinstance(seed, bool) and abs(seed) <= _INT64_MAX,
             f"{where}: data.seed must be an integer")
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


def read_document(path: str | os.PathLike[str], what: str = "model file",
                  limit: int = MAX_FILE_BYTES) -> Any:
    """Read and parse a JSON file with a size cap and a nesting cap; one-line errors."""
    return read_json_limited(path, limit, what)


#: Declared sizes a model file may hold (``config`` keys and their caps).
_SIZE_LIMITS = (("qubits", MAX_MODEL_QUBITS), ("n_classes", MAX_CLASSES), ("n_features_in", MAX_FEATURES))


def _check_config_sizes(config: dict[str, Any], where: str) -> None:
    """Refuse absurd declared sizes (qubits, classes, features) before a model allocates anything."""
    for key, limit in _SIZE_LIMITS:
        value = config.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > limit:
            raise QauditError(f"{where}: config.{key} is {value}; model files may declare at most {limit}")


def check_writable(options: dict[str, Any]) -> None:
    """Refuse (one line, before training) model options whose file :func:`load` would refuse: declared sizes
    (``qubits``, ``n_classes``, ``n_features_in``) beyond the model-file caps (:mod:`qaudit.sdk.limits`)."""
    for key, limit in _SIZE_LIMITS:
        value = options.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > limit:
            raise QauditError(f"{key} {value}: model files hold at most {limit} {key.replace('_', ' ')}, so qaudit "
                              "would not read back the model it trains (wider models exist in memory only, "
                              "through the Python API)")


def _check_params(value: Any, where: str, here: str) -> None:
    """Every number in the ``params`` section finite and within +-MAX_PARAM_ABS (nested configs and
    preprocessing of ensembles are checked as configs)."""
    stack = [(value, here)]
    while stack:
        item, path = stack.pop()
        if isinstance(item, dict):
            if {"dtype", "shape", "base64"} <= set(item):
                array = arrays.decode(item, f"{where}: {path}")
                _require(not array.size or float(np.max(np.abs(array))) <= MAX_PARAM_ABS,
                         f"{where}: {path} has values beyond +-{MAX_PARAM_ABS:g}")
                continue
            for key, sub in item.items():
                if key == "config" and isinstance(sub, dict):
                    _check_config_sizes(sub, where)
                elif key != "preprocessing":
                    stack.append((sub, f"{path}.{key}"))
        elif isinstance(item, list):
            if item and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in item):
                _require(max(abs(v) for v in item) <= MAX_PARAM_ABS,
                         f"{where}: {path} has values beyond +-{MAX_PARAM_ABS:g}")
            else:
                stack.extend((sub, f"{path}[{i}]") for i, sub in enumerate(item))


def _check_integers(doc: Any, where: str) -> None:
    """No JSON integer beyond int64 anywhere in the document."""
    stack = [doc]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            if any(isinstance(v, int) and not -_INT64_MAX - 1 <= v <= _INT64_MAX for v in item):
                raise QauditError(f"{where}: an integer is out of range (beyond 64-bit)")
            stack.extend(v for v in item if isinstance(v, (dict, list)))
        elif isinstance(item, int) and not -_INT64_MAX - 1 <= item <= _INT64_MAX:
            raise QauditError(f"{where}: an integer is out of range (beyond 64-bit)")


def validate_limits(doc: dict[str, Any], where: str) -> None:
    """Checks of a qaudit model document that need no model class: 64-bit integers, declared sizes
    (qubits, classes, features) and parameter magnitudes (see docs/model-format.md)."""
    _check_integers(doc, where)
    _check_config_sizes(doc["config"], where)
    _check_params(doc["params"], where, "params")


def load(path: str | os.PathLike[str], host: Any = None) -> ModelFile:
    """Load and validate a model file; raise QauditError with a one-line reason."""
    return from_parsed(read_document(path), str(path), host)


def from_parsed(doc: Any, where: str, host: Any = None) -> ModelFile:
    """Validate a parsed model document (as read from the file *where*); one-line QauditError."""
    from qaudit.sdk.host import get_host

    host = host or get_host()
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
    validate_limits(doc, where)
    data = _validate_data(doc.get("data"), where)
    try:
        model = cls.from_document(doc)
    except QauditError as exc:
        raise QauditError(f"{where}: {exc}") from exc
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
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


def checked_text(doc: dict[str, Any], where: str) -> str:
    """*doc* as model-file JSON, refused (one line) unless qaudit would read it back: every number finite
    and the whole document passing :func:`from_parsed` -- nothing is written that ``load`` refuses."""
    try:
        text = json.dumps(doc, indent=1, allow_nan=False)
    except ValueError:
        raise QauditError(f"not writing {where}: the model holds NaN or infinite numbers (did training "
                          "diverge? lower --lr, or the --dp clip/noise)") from None
    try:
        from_parsed(json.loads(text), where)
    except QauditError as exc:
        raise QauditError(f"not writing {where}: qaudit would refuse to read it back ({exc})") from None
    return text


def save(mf: ModelFile, path: str | os.PathLike[str], command: str | None = None) -> None:
    """Write *mf* to *path* atomically (data paths relative to *path*'s directory), after checking that
    :func:`load` accepts it (:func:`checked_text`)."""
    text = checked_text(to_document(mf, command, str(Path(path).parent)), str(path))
    write_text_atomic(path, text + "\n")


def portable(mf: ModelFile) -> tuple[ModelFile, str, dict[str, Any]]:
    """*mf* as plain data for a job on another process or machine: its fields without the model object,
    the model kind and the model's document (:func:`from_portable` rebuilds it there)."""
    import dataclasses

    return dataclasses.replace(mf, model=None), mf.kind, mf.model.to_document()


def from_portable(bundle: tuple[ModelFile, str, dict[str, Any]], host: Any = None) -> ModelFile:
    """The :class:`ModelFile` a :func:`portable` bundle describes (the model class found by its kind)."""
    import dataclasses

    from qaudit.sdk.host import get_host

    light, kind, document = bundle
    return dataclasses.replace(light, model=(host or get_host()).get("model", kind).from_document(document))
