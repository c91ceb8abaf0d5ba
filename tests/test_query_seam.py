"""One execution seam (issue 12): every command evaluates models through ``qaudit.run.query``, so
``--backend/--shots`` mean the same everywhere and a third-party sampling backend feeds every
command (its ``sample`` is what the host calls for shots)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import plugin_module

from qaudit.sdk.protocols import Capabilities


class CountingSampler:
    """A third-party backend: exact probabilities from the engine, its own multinomial shots."""

    name = "counting"
    description = "test backend that counts sample() calls"
    capabilities = Capabilities(exact=True, shots=True, noise=False, hardware=False, max_qubits=12)
    sample_calls = 0
    expectation_calls = 0

    def expectation(self, task, shots=None, seed=None):
        from qaudit.engine.tasks import exact_expectations

        type(self).expectation_calls += 1
        assert shots is None, "with shots and a Z readout the host must call sample()"
        return exact_expectations(task)

    def sample(self, task, shots, seed=None):
        from qaudit.engine.tasks import basis_distribution

        type(self).sample_calls += 1
        return np.random.default_rng(seed).multinomial(shots, basis_distribution(task))


@pytest.fixture
def qaudit_plugins():
    return {"counting": plugin_module("qaudit_counting", api="2",
                                      register_backends=lambda register: register(CountingSampler))}


COMBINATIONS = [("exact", None), ("sampled", 64), ("counting", 64)]


def _command(name, model, backend, shots):
    shot_args = ["--shots", str(shots)] if shots else []
    if name == "evaluate":
        return ["evaluate", model, "--backend", backend, *shot_args, "--json"]
    if name == "leak":
        return ["leak", model, "--backend", backend, *shot_args, "--attack", "loss,gray-box", "--format", "json"]
    if name == "unlearn":
        return ["unlearn", model, "--method", "ga", "--forget-class", "3", "-O", "steps=2", "--backend", backend,
                *shot_args, "--format", "json", "--no-forget-gate"]
    return ["shots", model, "--backend", backend, "--shots", str(shots) if shots else "exact", "-R", "1",
            "--attack", "loss", "--format", "json"]


@pytest.mark.parametrize("backend,shots", COMBINATIONS)
@pytest.mark.parametrize("command", ["evaluate", "leak", "unlearn", "shots"])
def test_every_command_accepts_the_same_backend_and_shots(command, backend, shots, cli_runner, tiny_model, tmp_path,
                                                          monkeypatch):
    monkeypatch.setenv("QAUDIT_CACHE_DIR", "off")
    CountingSampler.sample_calls = CountingSampler.expectation_calls = 0
    args = _command(command, str(tiny_model.path), backend, shots)
    if command == "unlearn":
        args += ["--out", str(tmp_path / "u.json")]
    result = cli_runner.invoke(args)
    assert result.exit_code == 0, (args, result.stderr, result.exception)
    assert '"shots"' in result.stdout
    if backend == "counting":
        assert CountingSampler.sample_calls > 0  # the host sampled through the third-party backend
        assert CountingSampler.expectation_calls == 0


def test_exact_backend_refuses_shots_in_every_command(cli_runner, tiny_model):
    for command in ("evaluate", "leak", "unlearn"):
        result = cli_runner.invoke(_command(command, str(tiny_model.path), "exact", 64))
        assert result.exit_code == 2 and "exact only" in result.stderr, (command, result.stderr)


def test_shots_without_backend_use_the_declared_shot_backend(cli_runner, tiny_model):
    import json

    result = cli_runner.invoke(["evaluate", str(tiny_model.path), "--shots", "64", "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["backend"] == "sampled"
