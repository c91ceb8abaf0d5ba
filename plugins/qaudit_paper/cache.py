"""Content-addressed cache of the models ``qaudit reproduce`` trains (issue 19, item 3).

A trained model depends only on its kind, options, preset, seed, split sizes, the data and the code that
trains it; the key is the SHA-256 of all of them (:func:`qaudit.checkpoints.content_key`, with the code
taken as the bytes of every ``.py`` file of ``qaudit`` and the model and dataset plugins), so a rerun with
the same settings loads the model instead of training it, and any change to the code or the data trains
afresh. Entries are ordinary model files under ``$QAUDIT_CACHE_DIR/reproduce/`` (``QAUDIT_CACHE_DIR=off``
turns the cache off), read back with the model-file limits and validation; a broken entry is retrained.
A fresh model is saved and read back before use, so a first run and a rerun compute with the very same
arrays (weights are stored losslessly) and their reports are identical.
"""

from __future__ import annotations

import functools
import hashlib
from importlib.util import find_spec
from pathlib import Path
from typing import Any

#: Packages whose code decides what a training produces.
CODE_PACKAGES = ("qaudit", "qaudit_qnn", "qaudit_datasets")


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """SHA-256 over the relative paths and bytes of every ``.py`` file of :data:`CODE_PACKAGES`."""
    digest = hashlib.sha256()
    for package in CODE_PACKAGES:
        spec = find_spec(package)
        for root in (spec.submodule_search_locations or []) if spec else []:
            for path in sorted(Path(root).rglob("*.py")):
                digest.update(f"{package}/{path.relative_to(root)}".encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def cache_path(kind: str, ds: Any, n_train: int, n_holdout: int, seed: int, options: dict[str, Any],
               preset: str | None) -> Path | None:
    """Where the model for these inputs is cached, or None when the cache is off."""
    from qaudit.checkpoints import cache_root, content_key

    root = cache_root()
    if root is None:
        return None
    key = content_key("qaudit.reproduce.model/1", code_fingerprint(), kind, options, preset, seed, n_train,
                      n_holdout, ds.name, ds.fingerprint())
    return root / "reproduce" / f"{kind}-{key[:32]}.json"


def train_cached(kind: str, ds: Any, n_train: int, n_holdout: int, seed: int, options: dict[str, Any],
                 progress: Any, preset: str | None = None) -> tuple[Any, bool]:
    """``(ModelFile, hit)``: the cached model for these inputs, else a freshly trained one (then cached)."""
    from qaudit import model as model_io
    from qaudit.errors import QauditError
    from qaudit.workflows import train_model

    path = cache_path(kind, ds, n_train, n_holdout, seed, options, preset)
    if path is not None and path.is_file():
        try:
            return model_io.load(path), True
        except (QauditError, OSError, ValueError):
            pass  # a broken entry is retrained and overwritten
    mf = train_model(kind, ds, n_train=n_train, n_holdout=n_holdout, seed=seed, options=options,
                     progress=progress, preset=preset)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            model_io.save(mf, path, command=f"qaudit reproduce (cached {kind})")
            # continue with the saved file, exactly what a rerun loads: in-memory arrays may differ in memory
            # layout (e.g. a Fortran-ordered PCA basis), which changes float rounding in the last bits
            return model_io.load(path), False
        except (OSError, QauditError):
            pass  # the cache is an optimisation only
    return mf, False
