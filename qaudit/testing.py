"""pytest plugin for qaudit plugin authors (registered under the ``pytest11`` entry point).

Fixtures:

* ``qaudit_host`` -- an isolated plugin host with the installed plugins loaded.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from qaudit import plugins


@pytest.fixture
def qaudit_host() -> Iterator[plugins.Host]:
    """An isolated host (installed entry points loaded); restored afterwards."""
    previous = plugins._HOST
    host = plugins.Host().load_entry_points()
    plugins.set_host(host)
    try:
        yield host
    finally:
        plugins.set_host(previous)
