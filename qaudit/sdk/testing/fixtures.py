"""The pytest fixtures of the testing kit (registered with pytest through ``qaudit.sdk.testing``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from qaudit.sdk import host as plugins
from qaudit.sdk.testing.hosts import _register_or_fail, make_host, using_host
from qaudit.sdk.testing.runner import QauditCliRunner
from qaudit.sdk.testing.sample_model import TinyModel, load_tiny_dataset, train_tiny_model


@pytest.fixture
def qaudit_plugins() -> Sequence[Any] | Mapping[str, Any]:
    """The plugin modules under test; override to return ``[my_plugin]`` or ``{"name": module}``."""
    return ()


@pytest.fixture
def qaudit_host(qaudit_plugins: Sequence[Any] | Mapping[str, Any]) -> Iterator[plugins.Host]:
    """An isolated host with installed plugins plus ``qaudit_plugins``, set as the process host."""
    with using_host(make_host(qaudit_plugins)) as host:
        yield host


@pytest.fixture
def qaudit_register(qaudit_host: plugins.Host) -> Callable[..., plugins.PluginInfo]:
    """``qaudit_register(module, name=None)``: register a plugin on ``qaudit_host`` or fail the test."""

    def register(module: Any, name: str | None = None) -> plugins.PluginInfo:
        return _register_or_fail(qaudit_host, module, name)

    return register


@pytest.fixture
def tiny_dataset() -> Any:
    """scikit-learn's digits (1797 samples x 64 features, 10 classes)."""
    return load_tiny_dataset()


@pytest.fixture
def tiny_model(tmp_path: Path) -> TinyModel:
    """A trained 4-qubit basic-qnn on digits, saved as ``tmp_path / "tiny-model.json"``."""
    from qaudit.files import model_file as model_io

    tiny = train_tiny_model()
    tiny.path = tmp_path / "tiny-model.json"
    model_io.save(tiny.file, tiny.path, command="qaudit.sdk.testing tiny_model")
    tiny.file.path = str(tiny.path)
    return tiny


@pytest.fixture
def cli_runner(qaudit_host: plugins.Host) -> QauditCliRunner:
    """Runs ``qaudit`` in-process against ``qaudit_host``."""
    return QauditCliRunner(qaudit_host)
