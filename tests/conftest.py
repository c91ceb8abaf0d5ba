"""Shared fixtures for the qaudit test-suite (other test modules may add fixtures here)."""

from __future__ import annotations

import json
import os
import types
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from qaudit.testing import timeless  # noqa: F401 - tests import it from conftest

#: Shared test data: ``../shared`` beside the repository (or $QAUDIT_SHARED_DIR); tests that need it skip
#: with a reason where it is absent (a user's clone has none).
SHARED = Path(os.environ.get("QAUDIT_SHARED_DIR") or Path(__file__).resolve().parents[2] / "shared")
MNIST_DIR = SHARED / "data" / "mnist"
GOLDEN_DIR = SHARED / "data" / "golden"


def plugin_module(name: str, api: str | None = None, **hooks) -> types.ModuleType:
    """A plugin module built in a test: each keyword is a hook implementation (``register_attacks=...``);
    *api* sets ``QAUDIT_API``."""
    from qaudit import hookimpl

    module = types.ModuleType(name)
    for hook, fn in hooks.items():
        setattr(module, hook, hookimpl(fn))
    if api is not None:
        module.QAUDIT_API = api
    return module


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator (each test gets a fresh one)."""
    return np.random.default_rng(1234)


@pytest.fixture
def mnist_dir() -> Path:
    """The shared MNIST IDX folder; skips the test when it is absent."""
    if not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"shared MNIST data not found in {MNIST_DIR}")
    return MNIST_DIR


@pytest.fixture
def golden_basic() -> dict:
    """The golden reference of the basic QNN (PennyLane); skips when absent."""
    path = GOLDEN_DIR / "basic_qnn.json"
    if not path.is_file():
        pytest.skip(f"golden file {path} not found")
    return json.loads(path.read_text())


@pytest.fixture
def host() -> Iterator:
    """A fresh plugin host with the installed entry points, restored afterwards."""
    from qaudit import plugins

    previous = plugins._HOST
    h = plugins.Host().load_entry_points()
    plugins.set_host(h)
    try:
        yield h
    finally:
        plugins.set_host(previous)


@pytest.fixture(scope="session")
def digits_model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small basic QNN trained on digits, saved as model.json (6 qubits, 1 layer, 2 epochs)."""
    from qaudit import model as model_io
    from qaudit.data import load_dataset
    from qaudit.workflows import train_model

    ds = load_dataset("digits")
    mf = train_model("basic-qnn", ds, n_train=200, n_holdout=100, seed=3,
                     options={"qubits": 6, "layers": 1, "epochs": 2})
    path = tmp_path_factory.mktemp("model") / "model.json"
    model_io.save(mf, path, command="pytest")
    return path


@pytest.fixture
def run_qaudit(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture):
    """Run ``qaudit.cli:main`` in-process: ``run_qaudit([...]) -> (exit code, stdout, stderr)``.

    Exercises the real entry point (plugin loading, ``--disable-plugin``, QauditError ->
    one-line ``error:`` + exit 2); the process-wide plugin host and the commands plugins
    added to ``cli.app`` are restored afterwards (so each run registers them afresh).
    """
    import sys

    from qaudit import cli, plugins

    def run(args: list[str]) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["qaudit", *args])
        previous = plugins._HOST
        saved = list(cli.app.registered_commands), list(cli.app.registered_groups)
        code = 0
        try:
            cli.main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            plugins.set_host(previous)
            cli.app.registered_commands[:], cli.app.registered_groups[:] = saved
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def one_line_error(err: str) -> str:
    """Assert *err* is exactly one ``error: ...`` line without a traceback; return it."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected a one-line error, got: {err!r}"
    assert lines[0].startswith("error:"), lines[0]
    assert "Traceback" not in err
    return lines[0]
