"""Where long work is kept across an interrupted run: the checkpoint store handed to attacks and backends."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from pathlib import Path


class CheckpointStore(Protocol):
    """A store of finished pieces of long work, kept across an interrupted run
    (the host's is :class:`qaudit.files.checkpoints.Checkpoints`).

    Handed to attacks (:attr:`~qaudit.sdk.protocols.attacks.AttackContext.checkpoints`) and to budgeted backends
    (:meth:`~qaudit.sdk.protocols.backends.PlanningBackend.use_checkpoints`). Keys are content keys of what a piece
    computes (:func:`qaudit.files.checkpoints.content_key`), so a changed input never reuses a stale piece.
    """

    #: True when the user asked to resume (``--resume``): :meth:`get` then returns stored pieces.
    resume: bool

    def get(self, key: str, check: Callable[[Any], Any] | None = None) -> Any:
        """The stored document under *key* when resuming and it exists, else None. A stored piece that is
        unreadable, altered, or refused by *check* (which raises on a piece it cannot use) is refused with a
        one-line ``QauditError``: resuming from it would change the result silently."""
        ...

    def put(self, key: str, document: Any) -> None:
        """Store the JSON-serialisable *document* under *key*, atomically; a failure to write only costs the
        checkpoint (the run goes on)."""
        ...

    def path(self, key: str) -> Path | None:
        """The file the piece *key* is stored in (for messages, or a worker writing it itself), or None when
        checkpoints are off."""
        ...
