"""Content-addressed caches of ``qaudit reproduce`` (issue 19, item 3): trained models and stage results.

A trained model depends only on its kind, options, preset, seed, split sizes, the data and the code that
trains it; the key is the SHA-256 of all of them (:func:`qaudit.sdk.content_key`, with the code
taken as the bytes of every ``.py`` file of ``qaudit`` and the model and dataset plugins), so a rerun with
the same settings loads the model instead of training it, and any change to the code or the data trains
afresh. Entries are model documents under ``$QAUDIT_CACHE_DIR/reproduce/`` (``QAUDIT_CACHE_DIR=off``
turns the cache off) in an envelope carrying their full key and the SHA-256 of their content
(:func:`qaudit.files.checkpoints.envelope`), read back with the model-file limits and validation; an entry
that is unreadable, stored under another key (another model copied over it) or altered is named in a
warning on stderr and retrained -- it never changes a report silently.
A fresh model is saved and read back before use, so a first run and a rerun compute with the very same
arrays (weights are stored losslessly) and their reports are identical.

Stage results (a leak audit, the unlearning comparison, the shot study, the noise stage...) are cached the
same way under ``$QAUDIT_CACHE_DIR/reproduce/stages/``: the key hashes the stage's name and inputs (model
content, dataset identity, settings, seeds), the code of every package that computes results
(:data:`STAGE_PACKAGES`) and the numerical libraries' versions. An entry is JSON (never pickle), read with a
size cap and a nesting cap (:mod:`qaudit.files.io`), checked (schema, key, SHA-256 of its value, expected keys) and
recomputed when anything is off; ``qaudit reproduce --no-cache`` (or ``QAUDIT_CACHE_DIR=off``) turns both
caches off.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from importlib.util import find_spec
from pathlib import Path
from typing import Any

#: Packages whose code decides what a training produces.
CODE_PACKAGES = ("qaudit", "qaudit_qnn", "qaudit_datasets")
#: Packages whose code decides what a stage computes (attacks, backends, unlearning methods, this plugin).
STAGE_PACKAGES = (*CODE_PACKAGES, "qaudit_attacks", "qaudit_backends", "qaudit_unlearning", "qaudit_paper")
#: Libraries whose versions enter the stage key (their numerics decide the numbers).
STAGE_LIBRARIES = ("numpy", "scipy", "scikit-learn")
STAGE_SCHEMA = "qaudit.reproduce.stage/1"
#: Largest stage entry read back (bytes); the biggest, the shot study's, is well under 1 MiB.
MAX_STAGE_BYTES = 32 * 1024 * 1024
_FLOAT_TAG = "$float"


@functools.lru_cache(maxsize=4)
def code_fingerprint(packages: tuple[str, ...] = CODE_PACKAGES) -> str:
    """SHA-256 over the relative paths and bytes of every ``.py`` file of *packages*."""
    digest = hashlib.sha256()
    for package in packages:
        spec = find_spec(package)
        for root in (spec.submodule_search_locations or []) if spec else []:
            for path in sorted(Path(root).rglob("*.py")):
                digest.update(f"{package}/{path.relative_to(root)}".encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


#: The envelope schema of a model cache entry (:func:`qaudit.files.checkpoints.envelope`).
MODEL_SCHEMA = "qaudit.reproduce.model/2"


def cache_entry(kind: str, ds: Any, n_train: int, n_holdout: int, seed: int, options: dict[str, Any],
                preset: str | None, use_cache: bool = True) -> tuple[Path | None, str]:
    """(where the model for these inputs is cached or None when the cache is off, its content key)."""
    from qaudit.sdk import cache_root, content_key

    key = content_key("qaudit.reproduce.model/1", code_fingerprint(), kind, options, preset, seed, n_train,
                      n_holdout, ds.name, ds.fingerprint())
    root = cache_root()
    if root is None or not use_cache:
        return None, key
    return root / "reproduce" / f"{kind}-{key[:32]}.json", key


def cache_path(kind: str, ds: Any, n_train: int, n_holdout: int, seed: int, options: dict[str, Any],
               preset: str | None, use_cache: bool = True) -> Path | None:
    """Where the model for these inputs is cached, or None when the cache is off."""
    return cache_entry(kind, ds, n_train, n_holdout, seed, options, preset, use_cache)[0]


def load_cached(kind: str, ds: Any, n_train: int, n_holdout: int, seed: int, options: dict[str, Any],
                preset: str | None = None, use_cache: bool = True) -> Any:
    """The cached model for these inputs, or None: absent, cache off, or an entry that is unreadable, stored
    under another key or altered (a warning on stderr names it; it is retrained and overwritten)."""
    from qaudit.sdk import read_model_entry

    path, key = cache_entry(kind, ds, n_train, n_holdout, seed, options, preset, use_cache)
    return read_model_entry(path, key, MODEL_SCHEMA, "reproduce model cache entry")


def train_cached(kind: str, ds: Any, n_train: int, n_holdout: int, seed: int, options: dict[str, Any],
                 progress: Any, preset: str | None = None, use_cache: bool = True,
                 lookup: bool = True) -> tuple[Any, bool]:
    """``(ModelFile, hit)``: the cached model for these inputs, else a freshly trained one (then cached).
    ``lookup=False``: the caller already looked the entry up (:func:`load_cached`) and found none usable."""
    from qaudit.sdk import read_model_entry, write_model_entry
    from qaudit.sdk.workflows import train_model

    hit = load_cached(kind, ds, n_train, n_holdout, seed, options, preset, use_cache) if lookup else None
    if hit is not None:
        return hit, True
    path, key = cache_entry(kind, ds, n_train, n_holdout, seed, options, preset, use_cache)
    mf = train_model(kind, ds, n_train=n_train, n_holdout=n_holdout, seed=seed, options=options,
                     progress=progress, preset=preset)
    if write_model_entry(path, key, MODEL_SCHEMA, mf, f"qaudit reproduce (cached {kind})"):
        # continue with the saved entry, exactly what a rerun loads: in-memory arrays may differ in memory
        # layout (e.g. a Fortran-ordered PCA basis), which changes float rounding in the last bits
        again = read_model_entry(path, key, MODEL_SCHEMA, "reproduce model cache entry")
        if again is not None:
            return again, False
    return mf, False


# --------------------------------------------------------------------------- stage results
def encode(value: Any) -> Any:
    """*value* as plain JSON: numpy scalars and arrays to Python, tuples to lists, non-finite floats tagged
    (``{"$float": "nan"}``) so they survive JSON readers that reject NaN; :func:`decode` inverts it."""
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return encode(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return {_FLOAT_TAG: repr(value)}
    if value is None or isinstance(value, (str, int, float)):
        return value
    raise TypeError(f"stage result holds a {type(value).__name__}, not JSON")


def decode(value: Any) -> Any:
    """Inverse of :func:`encode` on parsed JSON."""
    if isinstance(value, dict):
        if len(value) == 1 and _FLOAT_TAG in value and value[_FLOAT_TAG] in ("nan", "inf", "-inf"):
            return float(value[_FLOAT_TAG])
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def canonical(value: Any) -> Any:
    """What a stage result is after a trip through the cache: every run -- fresh, concurrent or cached --
    continues with this, so all three give the same report."""
    return decode(json.loads(_dumps(encode(value))))


def _dumps(encoded: Any) -> str:
    return json.dumps(encoded, allow_nan=False, separators=(",", ":"))  # key order kept: it is the report's


def stage_key(name: str, inputs: Any) -> str:
    """The content key of stage *name* with *inputs* (JSON-able; arrays and references already reduced to
    digests by the caller), the code of :data:`STAGE_PACKAGES` and the library versions."""
    from importlib import metadata

    from qaudit.sdk import content_key

    libraries = {}
    for lib in STAGE_LIBRARIES:
        try:
            libraries[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            libraries[lib] = None
    return content_key(STAGE_SCHEMA, name, code_fingerprint(STAGE_PACKAGES), libraries, inputs)


class StageStore:
    """Stage results on disk by key (:func:`stage_key`); ``folder=None`` stores nothing."""

    def __init__(self, use_cache: bool = True):
        from qaudit.sdk import cache_root

        root = cache_root() if use_cache else None
        self.folder = None if root is None else root / "reproduce" / "stages"
        self.rejected: list[str] = []

    def path(self, key: str) -> Path | None:
        """The entry's file (None: caching off)."""
        return None if self.folder is None else self.folder / f"{key[:40]}.json"

    def get(self, key: str, required: tuple[str, ...] = ()) -> dict[str, Any] | None:
        """The stored value for *key*, or None when absent, unreadable, too large, not ours or altered
        (a rejected entry is noted in :attr:`rejected` and will be recomputed and overwritten)."""
        from qaudit.sdk import QauditError, read_json_limited

        path = self.path(key)
        if path is None or not path.is_file():
            return None
        try:
            doc = read_json_limited(path, MAX_STAGE_BYTES, "reproduce stage cache entry")
            ok = (isinstance(doc, dict) and doc.get("schema") == STAGE_SCHEMA and doc.get("key") == key
                  and isinstance(doc.get("value"), dict)
                  and doc.get("sha256") == hashlib.sha256(_dumps(doc["value"]).encode()).hexdigest()
                  and all(k in doc["value"] for k in required))
        except (QauditError, OSError, ValueError, RecursionError):
            ok = False
        if not ok:
            self.rejected.append(str(path))
            return None
        return decode(doc["value"])

    def put(self, key: str, value: dict[str, Any]) -> None:
        """Store *value* atomically; a failure to write loses only the cache entry."""
        from qaudit.sdk import write_text_atomic

        path = self.path(key)
        if path is None:
            return
        encoded = encode(value)
        body = _dumps(encoded)
        doc = {"schema": STAGE_SCHEMA, "key": key, "sha256": hashlib.sha256(body.encode()).hexdigest(),
               "value": encoded}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(path, _dumps(doc))
        except OSError:
            pass
