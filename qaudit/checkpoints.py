"""Checkpoints of long runs, so an interrupted command resumes to the same result.

Finished pieces of work whose result depends only on their inputs and seed -- a trained reference
or shadow model, one (shot count, repeat) run of a shot study -- are stored as JSON under a
content key (SHA-256 of everything the piece depends on) in
``$QAUDIT_CACHE_DIR/checkpoints/<kind>/`` (default ``~/.cache/qaudit``; ``QAUDIT_CACHE_DIR=off``
turns checkpoints off). Writes are atomic, so an interrupted write leaves no half file.

A command always *writes* checkpoints while it runs and removes them when it finishes; with
``--resume`` it also *reads* them, so the rerun of an interrupted command skips the finished pieces
and, since every piece is keyed by its inputs and seed, reaches the result an uninterrupted run
would have. Without ``--resume`` every piece is recomputed. ``qaudit train`` checkpoints every epoch
(weights, momentum, the shuffling generator's state), ``qaudit leak`` every reference or shadow
model, ``qaudit shots`` every (shot count, repeat) run. Checkpoint files are read back with the
same limits as model files and a broken one is recomputed, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import numpy as np

from qaudit.errors import QauditError

CACHE_ENV = "QAUDIT_CACHE_DIR"
MAX_CHECKPOINT_BYTES = 256 * 1024 * 1024


def cache_root() -> Path | None:
    """The cache folder, or None when ``QAUDIT_CACHE_DIR`` turns caching off."""
    root = os.environ.get(CACHE_ENV, str(Path.home() / ".cache" / "qaudit"))
    if root.lower() in ("off", "0", "none", ""):
        return None
    return Path(root)


def save_piece(path: str | Path | None, document: Any) -> None:
    """Write one finished job's result to its checkpoint file *path* (None: no checkpoint) atomically; a
    failure to write loses only the checkpoint, never the result."""
    if path is None:
        return
    from qaudit.io import write_json_atomic

    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, document)
    except OSError:
        pass


def content_key(*parts: Any) -> str:
    """SHA-256 over arrays (dtype, shape, bytes) and JSON-serialisable values, in order."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            array = np.ascontiguousarray(part)
            digest.update(f"array:{array.dtype.str}:{array.shape}".encode())
            digest.update(array.tobytes())
        else:
            digest.update(json.dumps(part, sort_keys=True, default=str).encode())
        digest.update(b"\0")
    return digest.hexdigest()


class Checkpoints:
    """A checkpoint store for one kind of piece (e.g. ``reference-models``)."""

    def __init__(self, kind: str, resume: bool = False):
        root = cache_root()
        self.folder = None if root is None else root / "checkpoints" / kind
        self.resume = resume
        if resume and self.folder is None:
            raise QauditError(f"--resume needs checkpoints, but {CACHE_ENV}=off turns them off")
        self.reused = 0
        self.keys: set[str] = set()

    def path(self, key: str) -> Path | None:
        """Where the piece with *key* is stored (None when checkpoints are off); the key is remembered
        so :meth:`discard` can remove it once the whole run has finished."""
        self.keys.add(key)
        return None if self.folder is None else self.folder / f"{key}.json"

    def discard(self) -> None:
        """Remove this run's checkpoints (the run finished: its result is the output now)."""
        for key in list(self.keys):
            path = self.path(key)
            if path is not None:
                path.unlink(missing_ok=True)
        self.keys.clear()

    def get(self, key: str) -> Any:
        """The stored piece, when resuming and it exists and is readable; else None."""
        path = self.path(key)
        if not self.resume or path is None or not path.is_file():
            return None
        from qaudit.io import read_json_limited

        try:
            document = read_json_limited(path, MAX_CHECKPOINT_BYTES, "checkpoint")
        except QauditError:
            return None  # a broken checkpoint is recomputed
        self.reused += 1
        return document

    def put(self, key: str, document: Any) -> None:
        """Store a finished piece (atomically); a failure to write only costs the checkpoint."""
        path = self.path(key)
        if path is None:
            return
        from qaudit.io import write_json_atomic

        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_json_atomic(path, document)
        except (OSError, TypeError, ValueError):
            pass  # only the checkpoint is lost


# --------------------------------------------------------------------------- training epochs
_TRAINING: ContextVar[TrainingCheckpoint | None] = ContextVar("qaudit_training_checkpoint", default=None)


class TrainingCheckpoint:
    """Epoch checkpoints of one training run (``qaudit train``), used by :func:`qaudit.training.run_epochs`.

    Every ``run_epochs`` call inside the run gets its own slot (a SISA ensemble trains many slices);
    a slot holds the weights, the optimiser's momentum, the shuffling generator's state, the loss
    history and the number of finished epochs -- everything the next epoch depends on, so a resumed
    run computes exactly what the uninterrupted run would have.
    """

    def __init__(self, store: Checkpoints, key: str):
        self.store, self.key, self.calls = store, key, 0

    def next_slot(self) -> str:
        """The key of the next ``run_epochs`` call of this run."""
        self.calls += 1
        return f"{self.key}-{self.calls}"

    def load(self, slot: str) -> dict[str, Any] | None:
        """The slot's state when resuming, else None."""
        return self.store.get(slot)

    def save(self, slot: str, state: dict[str, Any]) -> None:
        """Store the slot's state (atomically)."""
        self.store.put(slot, state)


@contextmanager
def training_checkpoints(store: Checkpoints, key: str) -> Iterator[TrainingCheckpoint]:
    """Checkpoint every ``run_epochs`` call made inside the ``with`` block."""
    checkpoint = TrainingCheckpoint(store, key)
    token = _TRAINING.set(checkpoint)
    try:
        yield checkpoint
    finally:
        _TRAINING.reset(token)


def current_training() -> TrainingCheckpoint | None:
    """The training run's checkpoints, when a command asked for them."""
    return _TRAINING.get()
