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
model, ``qaudit shots`` every (shot count, repeat) run. Every checkpoint is stored in an envelope
carrying the key it was stored under and the SHA-256 of its content (:func:`envelope`); ``--resume``
reads it back with the same limits as model files and checks both, its structure and its counters, and
refuses (one line, exit 2) a checkpoint that fails any check -- resuming from it would change the result
silently -- rather than trusting it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import numpy as np

from qaudit.sdk.errors import QauditError

CACHE_ENV = "QAUDIT_CACHE_DIR"
MAX_CHECKPOINT_BYTES = 256 * 1024 * 1024


def cache_root() -> Path | None:
    """The cache folder, or None when ``QAUDIT_CACHE_DIR`` turns caching off."""
    root = os.environ.get(CACHE_ENV, str(Path.home() / ".cache" / "qaudit"))
    if root.lower() in ("off", "0", "none", ""):
        return None
    return Path(root)


#: The envelope every checkpoint is stored in: ``{"schema", "key", "sha256", "value"}``.
CHECKPOINT_SCHEMA = "qaudit.checkpoint/1"


def value_digest(value: Any) -> str:
    """SHA-256 of *value*'s canonical JSON (sorted keys, no spaces, finite numbers only)."""
    body = json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(body.encode()).hexdigest()


def envelope(key: str, value: Any, schema: str = CHECKPOINT_SCHEMA) -> dict[str, Any]:
    """*value* wrapped with the key it is stored under and the hash of its content."""
    return {"schema": schema, "key": key, "sha256": value_digest(value), "value": value}


def open_envelope(document: Any, key: str, schema: str = CHECKPOINT_SCHEMA) -> Any:
    """The value of an :func:`envelope` read back, or a one-line QauditError saying what is wrong: not an
    envelope, stored under another key (a different piece of work), or content changed since it was written."""
    if not isinstance(document, dict) or set(document) != {"schema", "key", "sha256", "value"}:
        raise QauditError(f"is not a {schema} entry")
    if document["schema"] != schema:
        raise QauditError(f"has schema {str(document['schema'])[:40]!r}, not {schema}")
    if document["key"] != key:
        raise QauditError("belongs to another key (another piece of work was copied over it)")
    try:
        digest = value_digest(document["value"])
    except (TypeError, ValueError):
        digest = ""
    if document["sha256"] != digest:
        raise QauditError("does not match the SHA-256 of its content (it was altered after it was written)")
    return document["value"]


def cache_note(message: str) -> None:
    """One ``warning: ...`` line on stderr: a cache entry was not used (it is recomputed)."""
    from rich.console import Console

    Console(stderr=True, soft_wrap=True).print(f"warning: {message}", highlight=False, markup=False)


def read_model_entry(path: Path | None, key: str, schema: str, what: str) -> Any:
    """The :class:`~qaudit.files.model_file.ModelFile` of a model cache entry (an :func:`envelope` of a model document),
    or None when there is none -- or when it is unreadable, stored under another key or altered: then a
    warning names it on stderr and the caller recomputes (and overwrites) it."""
    if path is None or not (path.exists() or path.is_symlink()):
        return None
    from qaudit.files import model_file as model_io
    from qaudit.files.io import read_json_limited

    try:
        value = open_envelope(read_json_limited(path, model_io.MAX_FILE_BYTES, what), key, schema)
        return model_io.from_parsed(value, str(path))
    except (QauditError, OSError, ValueError, RecursionError) as exc:
        reason = " ".join(str(exc).split()).replace(f"{what} {path}: ", "")[:200]
        cache_note(f"{what} {path} not used and recomputed: it {reason}" if not reason.startswith("cannot")
                   else f"{what} {path} not used and recomputed: {reason}")
        return None


def write_model_entry(path: Path | None, key: str, schema: str, mf: Any, command: str) -> bool:
    """Store *mf* as a model cache entry (atomically, in its :func:`envelope`); False when it could not be
    written (the cache is an optimisation only)."""
    if path is None:
        return False
    from qaudit.files import model_file as model_io
    from qaudit.files.io import write_json_atomic

    try:
        document = json.loads(model_io.checked_text(model_io.to_document(mf, command, str(path.parent)),
                                                    str(path)))
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, envelope(key, document, schema))
    except (OSError, QauditError, TypeError, ValueError):
        return False
    return True


def save_piece(path: str | Path | None, document: Any) -> None:
    """Write one finished job's result to its checkpoint file *path* (None: no checkpoint; the file name's
    stem is the key) atomically, in its :func:`envelope`; a failure to write loses only the checkpoint."""
    if path is None:
        return
    from qaudit.files.io import write_json_atomic

    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, envelope(Path(path).stem, document))
    except (OSError, TypeError, ValueError):
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
                try:
                    path.unlink(missing_ok=True)
                except OSError:
                    pass  # not a file (refused by get when resuming); nothing of ours to remove
        self.keys.clear()

    def refuse(self, key: str, reason: str) -> QauditError:
        """The one-line error for the unusable checkpoint of *key*."""
        return QauditError(f"--resume: checkpoint {self.path(key)} {reason}; delete it (or rerun without --resume)")

    def get(self, key: str, check: Callable[[Any], Any] | None = None) -> Any:
        """The stored piece when resuming and it exists, else None. A checkpoint that is not a regular file,
        not readable, not an :func:`envelope` of *key*, altered, or refused by *check* (which raises
        QauditError, KeyError, TypeError or ValueError on a piece it cannot use) is refused in one line:
        resuming from it would change the result silently."""
        path = self.path(key)
        if not self.resume or path is None or not (path.exists() or path.is_symlink()):
            return None
        if not path.is_file():
            raise self.refuse(key, "is not a regular file")
        from qaudit.files.io import read_json_limited

        try:
            document = open_envelope(read_json_limited(path, MAX_CHECKPOINT_BYTES, "checkpoint"), key)
        except QauditError as exc:
            raise self.refuse(key, str(exc).replace(f"checkpoint {path}: ", "")) from None
        try:
            if check is not None:
                check(document)
        except QauditError as exc:
            raise self.refuse(key, f"is not a usable checkpoint ({str(exc)[:160]})") from None
        except (KeyError, TypeError, ValueError, IndexError, OverflowError) as exc:
            raise self.refuse(key, f"is not a usable checkpoint ({type(exc).__name__}: {str(exc)[:80]})") from None
        self.reused += 1
        return document

    def put(self, key: str, document: Any) -> None:
        """Store a finished piece (atomically, in its :func:`envelope`); a failure to write only costs the
        checkpoint."""
        path = self.path(key)
        if path is None:
            return
        from qaudit.files.io import write_json_atomic

        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_json_atomic(path, envelope(key, document))
        except (OSError, TypeError, ValueError):
            pass  # only the checkpoint is lost


# --------------------------------------------------------------------------- training epochs
_TRAINING: ContextVar[TrainingCheckpoint | None] = ContextVar("qaudit_training_checkpoint", default=None)


class TrainingCheckpoint:
    """Epoch checkpoints of one training run (``qaudit train``), used by :func:`qaudit.train.training.run_epochs`.

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

    def load(self, slot: str, parse: Callable[[Any], Any]) -> Any:
        """``parse(state)`` of the slot's stored state when resuming, else None; a state *parse* refuses
        (QauditError, KeyError, TypeError, ValueError, OverflowError) is refused in one line."""
        state = self.store.get(slot)
        if state is None:
            return None
        try:
            return parse(state)
        except QauditError as exc:
            raise self.store.refuse(slot, f"is not a checkpoint of this training ({exc})") from None
        except (KeyError, TypeError, ValueError, OverflowError, IndexError) as exc:
            raise self.store.refuse(slot, f"is not a checkpoint of this training ({type(exc).__name__}: "
                                          f"{str(exc)[:80]})") from None

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
