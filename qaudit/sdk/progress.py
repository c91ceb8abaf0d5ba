"""Progress reporting that computations accept without knowing about Rich."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class Progress:
    """Silent progress sink; the CLI passes a Rich-backed subclass (stderr)."""

    def task(self, description: str, total: int | None) -> Any:
        return None

    def advance(self, task: Any, steps: int = 1, **info: Any) -> None:
        pass

    def done(self, task: Any) -> None:
        pass

    @contextmanager
    def track(self, description: str, total: int | None) -> Iterator[Any]:
        task = self.task(description, total)
        try:
            yield task
        finally:
            self.done(task)


SILENT = Progress()


class RichProgress(Progress):
    """Rich progress bars on stderr."""

    def __init__(self, console: Any):
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as _P

        self._progress = _P(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), TextColumn("{task.fields[info]}"), console=console,
                            transient=False)

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._progress.stop()

    def task(self, description: str, total: int | None) -> Any:
        return self._progress.add_task(description, total=total, info="")

    def advance(self, task: Any, steps: int = 1, **info: Any) -> None:
        text = "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in info.items())
        self._progress.update(task, advance=steps, info=text)

    def done(self, task: Any) -> None:
        pass
