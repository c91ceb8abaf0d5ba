"""The ``qaudit`` CLI run in-process against an isolated host, with the same error boundary as ``qaudit``."""

from __future__ import annotations

import shlex
import signal
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from qaudit.sdk import host as plugins
from qaudit.sdk.testing.hosts import using_host


@dataclass
class CliResult:
    """Outcome of :meth:`QauditCliRunner.invoke`."""

    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None = None

    @property
    def output(self) -> str:
        """stdout (the report)."""
        return self.stdout


class QauditCliRunner:
    """Runs the ``qaudit`` CLI in-process against an isolated host, like ``qaudit.cli.app.main``."""

    def __init__(self, host: plugins.Host):
        self.host = host

    def invoke(self, args: str | Sequence[str], input: str | None = None,
               env: Mapping[str, str | None] | None = None, catch_exceptions: bool = True) -> CliResult:
        """Run ``qaudit ARGS``; ``--disable-plugin`` and ``QAUDIT_*`` in *env* are honoured."""
        from typer.testing import CliRunner

        from qaudit.cli import app as cli
        from qaudit.cli import boundary

        argv = shlex.split(args) if isinstance(args, str) else [str(a) for a in args]
        env = dict(env or {})
        disabled = plugins.disabled_from_argv(argv) + _split(env.get(plugins.DISABLE_ENV))
        allow = _split(env.get(plugins.ALLOW_ENV)) or None
        host = self.host.derive(disabled, allow) if disabled or allow else self.host
        saved = list(cli.app.registered_commands), list(cli.app.registered_groups)
        debug = boundary.debug_requested(argv)
        argv = [a for a in argv if a != "--debug"]

        def run() -> object:
            host.commands(cli.app)
            return cli.app(argv, prog_name="qaudit", standalone_mode=False)

        def line(text: str) -> None:
            sys.stdout.flush()
            sys.stderr.write(text + "\n")

        with CliRunner().isolation(input=input, env=env) as streams, using_host(host), _signals_reach_caller() as seen:
            try:  # the same error boundary as qaudit.cli.app.main
                code, exception = boundary.guarded(run, line, lambda: host, debug, reraise=not catch_exceptions)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                cli.app.registered_commands[:], cli.app.registered_groups[:] = saved
            stdout = streams[0].getvalue().decode("utf-8", "replace")
            stderr = streams[1].getvalue().decode("utf-8", "replace") if len(streams) > 2 else ""
        if seen:  # a real Ctrl-C / SIGTERM reached the test process: stop the caller (pytest), not only qaudit
            raise KeyboardInterrupt(f"signal {seen[0]} during qaudit {' '.join(argv)}")
        return CliResult(code, stdout, stderr, exception)


@contextmanager
def _signals_reach_caller() -> Iterator[list[int]]:
    """During an in-process run, a real SIGINT/SIGTERM is recorded (and still interrupts the command as
    it would in ``qaudit``); the caller re-raises it afterwards so ``timeout`` or Ctrl-C stops pytest
    instead of being swallowed by the CLI's error boundary. Every handler is restored on exit."""
    seen: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield seen
        return
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def record(signum: int, frame: Any) -> None:
        seen.append(signum)
        raise KeyboardInterrupt

    for s in saved:
        signal.signal(s, record)
    try:
        yield seen
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)


def _split(value: str | None) -> list[str]:
    return [p.strip() for p in (value or "").split(",") if p.strip()]
