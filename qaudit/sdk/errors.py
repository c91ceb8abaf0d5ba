"""Error types the CLI turns into one-line messages and exit codes."""

from __future__ import annotations


class QauditError(Exception):
    """A usage or input error: the CLI prints ``error: <message>`` and exits with 2."""

    exit_code = 2


class PluginError(QauditError):
    """A plugin could not be loaded or registered something invalid."""


class JobFailed(QauditError):
    """A job run by an executor raised. The message names the job (its origin: plugin and step) and
    its seed; the exit code is 2 when the job refused its input (a QauditError), 3 otherwise."""

    def __init__(self, message: str, exit_code: int = 3):
        super().__init__(message)
        self.exit_code = exit_code
