"""Interrupted long runs resume to the same result (issue 14): ``qaudit train --resume`` continues from
the last finished epoch, ``qaudit leak --resume`` reuses the finished reference models."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="uses process groups")
QAUDIT = [sys.executable, "-c", "from qaudit.cli.app import main; main()"]


def _interrupt_when(args: list[str], env: dict[str, str], ready, timeout: float = 120) -> int:
    """Start ``qaudit ARGS``, send Ctrl-C once ``ready()`` holds, return its exit code."""
    proc = subprocess.Popen([*QAUDIT, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.time() + timeout
    while not ready() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
    proc.communicate(timeout=60)
    return proc.returncode


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*.json")] if folder.exists() else []


@pytest.fixture
def env(tmp_path):
    return {**os.environ, "QAUDIT_CACHE_DIR": str(tmp_path / "cache")}


def test_train_resumes_from_the_last_epoch_to_the_same_model(tmp_path, env):
    args = ["train", "--qubits", "4", "--layers", "2", "--epochs", "120", "--n-train", "300", "--n-holdout", "100",
            "--seed", "3"]
    cache = tmp_path / "cache" / "checkpoints" / "training"
    code = _interrupt_when([*args, "--out", str(tmp_path / "resumed.json")], env, lambda: len(_files(cache)) > 0)
    assert code == 130, "the training finished before it could be interrupted"
    assert not (tmp_path / "resumed.json").exists() and _files(cache)
    state = json.loads(_files(cache)[0].read_text())["value"]  # inside its envelope (key, sha256)
    assert 0 < state["done"] < 120
    subprocess.run([*QAUDIT, *args, "--out", str(tmp_path / "resumed.json"), "--resume"], env=env, check=True,
                   capture_output=True, timeout=300)
    subprocess.run([*QAUDIT, *args, "--out", str(tmp_path / "full.json")], env={**env, "QAUDIT_CACHE_DIR": "off"},
                   check=True, capture_output=True, timeout=300)
    resumed, full = (json.loads((tmp_path / n).read_text()) for n in ("resumed.json", "full.json"))
    assert resumed["params"] == full["params"]
    assert resumed["training"]["loss_history"] == full["training"]["loss_history"]
    assert not _files(cache)  # a finished run removes its checkpoints


def test_leak_resumes_with_the_finished_reference_models(tmp_path, env):
    model = tmp_path / "m.json"
    subprocess.run([*QAUDIT, "train", "--qubits", "4", "--layers", "2", "--epochs", "60", "--n-train", "300",
                    "--n-holdout", "300", "--out", str(model)], env=env, check=True, capture_output=True, timeout=300)
    args = ["leak", str(model), "-a", "lira", "-K", "8", "--jobs", "1", "-f", "json"]
    cache = tmp_path / "cache" / "checkpoints" / "reference-models"
    code = _interrupt_when([*args, "--output", str(tmp_path / "resumed.json")], env, lambda: len(_files(cache)) >= 2)
    assert code == 130 and 2 <= len(_files(cache)) < 8
    subprocess.run([*QAUDIT, *args, "--output", str(tmp_path / "resumed.json"), "--resume"], env=env,
                   capture_output=True, timeout=600)
    subprocess.run([*QAUDIT, *args, "--output", str(tmp_path / "full.json")], env={**env, "QAUDIT_CACHE_DIR": "off"},
                   capture_output=True, timeout=600)
    resumed, full = (json.loads((tmp_path / n).read_text()) for n in ("resumed.json", "full.json"))
    assert resumed["measurements"] == full["measurements"]
    assert resumed["attacks"]["lira"]["metrics"] == full["attacks"]["lira"]["metrics"]
    assert not _files(cache)
