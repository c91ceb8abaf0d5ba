"""Every backend agrees with the exact engine (exact ones to 1e-6, sampled ones within 5σ),
noisy backends agree with each other, and bad input is a one-line error (exit 2)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qaudit.run.backend_choice import resolve_backend
from qaudit.sdk.errors import QauditError
from qaudit.sdk.host import get_host
from qaudit.sdk.testing import check_backend

cirq = pytest.importorskip("cirq")


def _ring_task(n: int = 4, layers: int = 2, batch: int = 5, terms=None, seed: int = 3):
    from qaudit_qnn.basic import u3_ring_layers

    from qaudit.sdk.protocols import QuantumTask

    rng = np.random.default_rng(seed)
    qubits = cirq.LineQubit.range(n)
    circuit, names = u3_ring_layers(qubits, layers)
    x = rng.normal(size=(batch, 2**n))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    terms = terms or [f"Z{q}" for q in range(n)] + ["X0", "Y1 Z2", "X1 X2"]
    return QuantumTask(circuit, qubits, names, rng.normal(size=len(names)), terms, states=x.astype(np.complex128))


@pytest.mark.parametrize("name", ["sampled", "cirq", "qsim"])
def test_backend_agrees_with_exact(name):
    from qaudit.sdk.host import get_host

    cls = get_host().get("backend", name)
    results = check_backend(cls, shots=4000, seed=5)
    assert results  # at least one task ran in each declared mode


def test_sampled_estimates_are_shot_noise_limited():
    """With 1024 shots the error is ~1/32: not exact, but within 5 standard errors."""
    task = _ring_task(batch=40)
    exact = resolve_backend("exact", None)[0].expectation(task)
    backend, shots = resolve_backend("sampled", 1024)
    got = backend.expectation(task, shots, seed=11)
    sigma = np.sqrt(np.clip(1 - exact**2, 1e-12, None) / shots)
    z = np.abs(got - exact) / sigma
    assert z.max() < 5.5 and np.abs(got - exact).max() > 1e-3
    assert np.array_equal(got, backend.expectation(task, shots, seed=11))
    assert not np.array_equal(got, backend.expectation(task, shots, seed=12))


@pytest.mark.parametrize("name", ["sampled", "cirq", "qsim"])
def test_sample_counts(name):
    task = _ring_task(batch=3)
    backend, _ = resolve_backend(name, 500)
    counts = backend.sample(task, 500, seed=1)
    assert counts.shape == (3, 16) and np.all(counts.sum(axis=1) == 500)
    exact = resolve_backend("exact", None)[0].expectation(task)[:, 0]
    z0 = counts @ (1 - 2 * ((np.arange(16) >> 3) & 1)) / 500
    assert np.all(np.abs(z0 - exact) < 5 * np.sqrt((1 - exact**2) / 500) + 1e-3)


def test_basis_groups():
    from qaudit_backends.common import basis_groups

    assert basis_groups(["Z0", "Z1", "Z0 Z1"], 2) == [({0: "Z", 1: "Z"}, [0, 1, 2])]
    groups = basis_groups(["X0", "Z1", "X0 Z1", "Y0", "Z0"], 2)
    assert [members for _, members in groups] == [[0, 1, 2], [3], [4]]


def test_noisy_backends_agree_with_each_other():
    task = _ring_task(n=4, layers=2, batch=4)
    spec = "p1=0.01,p2=0.04,bitflip=0.05"
    heis = resolve_backend(f"noisy:{spec}", None)[0].expectation(task)
    dm = resolve_backend(f"density-matrix:{spec}", None)[0].expectation(task)
    clean = resolve_backend("exact", None)[0].expectation(task)
    assert np.abs(heis - dm).max() < 1e-8
    assert np.abs(heis - clean).max() > 0.01
    default = resolve_backend("noisy", None)[0].expectation(task)
    paper = resolve_backend("density-matrix:paper", None)[0].expectation(task)
    assert np.abs(default - paper).max() < 1e-8
    for name in (f"noisy:{spec}", f"density-matrix:{spec}"):
        backend, shots = resolve_backend(name, 4000)
        got = backend.expectation(task, shots, seed=2)
        sigma = np.sqrt(np.clip(1 - heis**2, 1e-12, None) / shots) + 1 / shots
        assert (np.abs(got - heis) / sigma).max() < 5, name


def test_qsim_trajectories_agree_with_density_matrix():
    task = _ring_task(n=3, layers=1, batch=2, terms=["Z0", "Z1", "Z2"])
    spec = "p1=0.05,p2=0.1,bitflip=0.1"
    dm = resolve_backend(f"density-matrix:{spec}", None)[0].expectation(task)
    clean = resolve_backend("exact", None)[0].expectation(task)
    # resolve_backend refuses exact mode for noisy qsim; the backend itself returns trajectory averages
    traj = get_host().get("backend", "qsim")(f"{spec},trajectories=20000").expectation(task, seed=4)
    # each trajectory's <Z> lies in [-1, 1], so 20000 trajectories give a standard error <= 0.0071
    assert np.abs(traj - dm).max() < 5 * 0.0071
    assert np.abs(dm - clean).max() > 0.15  # the noise is large enough for the comparison to mean something


@pytest.mark.parametrize("name, shots, message", [
    ("nope", None, "unknown backend"),
    ("sampled", -1, ">= 0"),
    ("sampled", 10**9, "absurd"),
    ("exact", 100, "exact only"),
    ("google:rainbow", None, "--shots"),
    ("google:nowhere", 10, "valid: rainbow, weber, willow_pink"),
    ("google", 10, "needs a processor"),
    ("qsim:colour=red", None, "unknown option"),
    ("density-matrix:p9=0.1", None, "unknown rate"),
    ("noisy:p1=1.5", None, "probability"),
    ("qsim:noise=paper", None, "not exact in this configuration"),
])
def test_bad_backend_input(name, shots, message):
    with pytest.raises(QauditError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        resolve_backend(name, shots)
    assert "\n" not in str(info.value)


def test_too_wide():
    class Wide:
        n_qubits = 12

    with pytest.raises(QauditError, match="at most 10"):
        resolve_backend("density-matrix", None, Wide())
    Wide.n_qubits = 24
    with pytest.raises(QauditError, match="too wide|at most 20"):
        resolve_backend("google:rainbow", 10, Wide())


def test_evaluate_cli_backends(digits_model_file, cli_runner):
    ok = cli_runner.invoke(["evaluate", str(digits_model_file), "--backend", "sampled", "--shots", "256", "--json"])
    assert ok.exit_code == 0, ok.stderr
    report = json.loads(ok.stdout)
    exact = json.loads(cli_runner.invoke(["evaluate", str(digits_model_file), "--json"]).stdout)
    assert report != exact or report  # runs; accuracies are printed for both
    noisy = cli_runner.invoke(["evaluate", str(digits_model_file), "--backend", "noisy:paper", "--json"])
    assert noisy.exit_code == 0, noisy.stderr
    for args, message in ((["--backend", "nope"], "unknown backend"), (["--shots", "-3"], ">= 0"),
                          (["--backend", "cirq", "--shots", "100000000000"], "absurd"),
                          (["--backend", "google:atlantis", "--shots", "10"], "unknown processor")):
        bad = cli_runner.invoke(["evaluate", str(digits_model_file), *args])
        assert bad.exit_code == 2, (args, bad.stderr)
        assert message in bad.stderr and "Traceback" not in bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1


def test_backends_command(cli_runner):
    result = cli_runner.invoke(["backends", "--json"])
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["schema"] == "qaudit.backends/1"
    names = {row["name"]: row for row in doc["backends"]}
    assert {"exact", "sampled", "cirq", "qsim", "density-matrix", "noisy", "google", "google-engine"} <= set(names)
    assert names["google-engine"]["capabilities"]["hardware"] is True
    assert names["exact"]["capabilities"]["shots"] is False
    table = cli_runner.invoke(["backends"])
    assert table.exit_code == 0 and "density-matrix" in table.stdout
