"""The one error boundary of the command line: every failure is one plain-text line and an exit code.

| what happened | line on stderr | exit |
|---|---|---|
| bad input (:class:`~qaudit.sdk.errors.QauditError`), a usage error, a resource limit | ``error: ...`` | 2 |
| a third-party plugin raised | ``error: plugin 'NAME' failed in Class.method: Type: message`` | 2 |
| qaudit (or a built-in plugin) raised | ``error: internal error in ...: Type: message -- please report it`` | 3 |
| Ctrl-C / SIGTERM | ``interrupted`` / ``terminated`` | 130 / 143 |

Messages are printed as plain text (never interpreted as Rich markup), on one line. The full
traceback is printed only with ``--debug`` or ``QAUDIT_DEBUG=1``.
"""

from __future__ import annotations

import os
import signal
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any

from qaudit.sdk.errors import QauditError

DEBUG_ENV = "QAUDIT_DEBUG"
REPORT_URL = "https://github.com/qaudit/qaudit/issues"
MAX_LINE = 500


class Terminated(BaseException):
    """Raised in the main thread when the process receives SIGTERM."""


def debug_requested(argv: Sequence[str]) -> bool:
    """``--debug`` anywhere before ``--`` or ``QAUDIT_DEBUG`` set to a true value."""
    flag = "--debug" in list(argv)[: list(argv).index("--")] if "--" in argv else "--debug" in argv
    return flag or os.environ.get(DEBUG_ENV, "").lower() in ("1", "true", "yes", "on")


def one_line(text: str, limit: int = MAX_LINE) -> str:
    """Collapse whitespace and newlines; cut long messages."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _usage_error_types() -> tuple[type[BaseException], ...]:
    """Typer's (vendored click) and click's usage exceptions, whichever are installed."""
    found: list[type[BaseException]] = []
    try:
        from typer._click.exceptions import ClickException

        found.append(ClickException)
    except ImportError:
        pass
    try:
        import click

        found.append(click.ClickException)
    except ImportError:
        pass
    return tuple(found)


def _named_types(name: str) -> tuple[type[BaseException], ...]:
    """The exception class *name* of Typer, its vendored click and click, whichever are installed."""
    found: list[type[BaseException]] = []
    for module in ("typer", "typer._click.exceptions", "click.exceptions"):
        try:
            found.append(getattr(__import__(module, fromlist=[name]), name))
        except (ImportError, AttributeError):
            pass
    return tuple(found)


def _plugin_modules(host: Any) -> list[tuple[str, str, str]]:
    """(module prefix, plugin name, distribution) of every loaded plugin."""
    if host is None:
        return []
    return [(info.module, name, info.distribution) for name, info in host.plugins.items() if info.module]


def blame(tb: TracebackType | None, host: Any) -> tuple[str | None, str | None, str]:
    """(plugin name, its distribution, ``Class.function``) of the innermost frame in plugin code, else
    (None, None, innermost qaudit frame)."""
    modules = _plugin_modules(host)
    frames = list(traceback.walk_tb(tb))
    where = "?"
    for frame, _ in reversed(frames):
        name = frame.f_globals.get("__name__", "")
        qualname = getattr(frame.f_code, "co_qualname", frame.f_code.co_name)
        for prefix, plugin, dist in modules:
            if name == prefix or name.startswith(prefix + "."):
                return plugin, dist, qualname
        if where == "?" and name.split(".")[0] == "qaudit":
            where = f"{name}.{qualname}"
    return None, None, where


def describe_failure(exc: BaseException, host: Any) -> tuple[str, int]:
    """The one line and the exit code for an unexpected exception."""
    detail = one_line(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, MemoryError):
        return "error: out of memory -- the input asks for more than this machine has (see the limits in the docs)", 2
    if isinstance(exc, RecursionError):
        return "error: input nested too deeply to process", 2
    plugin, dist, where = blame(exc.__traceback__, host)
    if plugin is not None and dist != "qaudit":
        return f"error: plugin {plugin!r} failed in {where}: {detail}", 2
    origin = f"plugin {plugin!r}, {where}" if plugin is not None else where
    return (f"error: internal error in {origin}: {detail} -- please report it ({REPORT_URL}) with the output "
            f"of --debug", 3)


@contextmanager
def signal_handlers(hand_back: bool = True) -> Iterator[None]:
    """While the block runs, SIGTERM raises :class:`Terminated` in the main thread (so cleanup runs, workers stop
    and the boundary prints its line); the previous handler is restored afterwards. With *hand_back* (a command
    run in-process, e.g. by a test session or a notebook) a SIGTERM received meanwhile is then handed to that
    previous handler too, so ``timeout`` still stops the calling process; ``qaudit``'s console entry point passes
    False and exits 143 itself."""
    received: list[int] = []

    def on_sigterm(signum: int, frame: Any) -> None:
        received.append(signum)
        raise Terminated()

    try:
        previous = signal.signal(signal.SIGTERM, on_sigterm)
    except ValueError:  # not the main thread (embedded use): leave the handler alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        if hand_back and received:
            _deliver(signal.SIGTERM, previous)


@contextmanager
def signals_held() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM while worker processes (and the threads that start them) are being started, so an
    interruption never lands half-way through a start-up: it is raised when the block ends, and the caller's
    cleanup then knows every process it started.

    SIGINT is blocked in the calling thread: threads and processes started meanwhile inherit the blocked mask,
    so a Ctrl-C sent to the terminal's process group never reaches them (this process stops them). The mask alone
    is not enough: the kernel delivers a process-directed SIGINT to any thread that does not block it (Rich's
    refresh thread, the pool's manager thread), and Python then runs the handler in the main thread anyway --
    half-way through a worker's start-up, whose child then printed ``EOFError: Ran out of input``. So both
    SIGINT and SIGTERM are recorded by a handler of their own while the block runs, and handed to the previous
    handlers when it ends (``KeyboardInterrupt`` / :class:`Terminated` on the command line)."""
    import threading

    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield  # not POSIX, or not the main thread (signal handlers belong to the main thread)
        return
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()  # started on first use, it unblocks SIGINT in the thread starting it
    pending: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.signal(s, lambda signum, frame: pending.append(signum)) for s in held}
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        for s in held:
            signal.signal(s, previous[s])
        for s in held:  # Ctrl-C first: it is what the user pressed
            if s in pending:
                _deliver(s, previous[s])


def _deliver(signum: int, handler: Any) -> None:
    """Hand a signal held by :func:`signals_held` to the handler that was in place before it."""
    if callable(handler):
        handler(signum, None)
    elif handler == signal.SIG_DFL:
        signal.raise_signal(signum)


def guarded(run: Callable[[], Any], print_line: Callable[[str], None], host_getter: Callable[[], Any],
            debug: bool = False, reraise: bool = False) -> tuple[int, BaseException | None]:
    """Run the CLI; turn every outcome into ``(exit code, the exception or None)`` and at most one
    line on stderr. *reraise* re-raises unexpected exceptions (tests that want the traceback)."""
    usage, aborts, exits = _usage_error_types(), _named_types("Abort"), _named_types("Exit")
    try:
        result = run()
        code = int(result) if isinstance(result, int) else 0
        if code == 130:  # Typer turns Ctrl-C into a silent exit 130
            print_line("interrupted")
        return code, None
    except SystemExit as exc:
        return (exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)), None
    except QauditError as exc:
        print_line(f"error: {one_line(str(exc))}")
        return exc.exit_code, exc
    except KeyboardInterrupt as exc:
        print_line("interrupted")
        return 130, exc
    except Terminated as exc:
        print_line("terminated")
        return 143, exc
    except BaseException as exc:  # noqa: BLE001 - the boundary: classify everything
        if exits and isinstance(exc, exits):
            return int(getattr(exc, "exit_code", 0) or 0), None
        if aborts and isinstance(exc, aborts):
            print_line("interrupted")
            return 130, exc
        if usage and isinstance(exc, usage):
            print_line(_usage_line(exc))
            return 2, exc
        if reraise:
            raise
        line, code = describe_failure(exc, _safe(host_getter))
        if debug:
            traceback.print_exception(exc, file=sys.stderr)
        print_line(line)
        return code, exc


def _usage_line(exc: BaseException) -> str:
    ctx = getattr(exc, "ctx", None)
    command = getattr(ctx, "command_path", None) or "qaudit"
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    return f"error: {one_line(message)} (see `{command} --help`)"


def _safe(getter: Callable[[], Any]) -> Any:
    try:
        return getter()
    except Exception:  # noqa: BLE001 - blame is best effort
        return None
