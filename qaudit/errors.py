"""Error types the CLI turns into one-line messages and exit codes."""

from __future__ import annotations


class QauditError(Exception):
    """A usage or input error: the CLI prints ``error: <message>`` and exits with 2."""

    exit_code = 2


class PluginError(QauditError):
    """A plugin could not be loaded or registered something invalid."""
