"""Google backends: gate-level state preparation, routing/compilation, virtual processors
(offline) and the hardware backend with a mocked Engine client (never the network)."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest

from qaudit.run.backend_choice import resolve_backend
from qaudit.sdk.errors import QauditError

cirq = pytest.importorskip("cirq")
pytest.importorskip("cirq_google")


def _task(n: int = 4, layers: int = 1, batch: int = 3, terms=None, seed: int = 2):
    from qaudit_qnn.basic import u3_ring_layers

    from qaudit.sdk.protocols import QuantumTask

    rng = np.random.default_rng(seed)
    qubits = cirq.LineQubit.range(n)
    circuit, names = u3_ring_layers(qubits, layers)
    x = rng.normal(size=(batch, 2**n))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    terms = terms or [f"Z{q}" for q in range(n)]
    return QuantumTask(circuit, qubits, names, rng.normal(size=len(names)), terms, states=x.astype(np.complex128))


def _exact_states(task) -> np.ndarray:
    from qaudit.engine.tasks import final_states

    return final_states(task)


def test_state_preparation_fidelity(rng):
    from qaudit_google.stateprep import prep_angles, prep_circuit, symbol_names

    n = 5
    qubits = cirq.LineQubit.range(n)
    circuit = prep_circuit(qubits)
    assert not any(isinstance(op.gate, cirq.StatePreparationChannel) for op in circuit.all_operations())
    assert all(cirq.has_unitary(cirq.resolve_parameters(op, {s: 0.1 for s in symbol_names(n)}))
               for op in circuit.all_operations())
    x = rng.normal(size=(6, 2**n))
    x[0] = np.abs(x[0])
    x[1, : 2**n // 2] = 0  # zero sub-trees
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    angles = prep_angles(x)
    sim = cirq.Simulator(dtype=np.complex128)
    for i in range(len(x)):
        psi = sim.simulate(cirq.resolve_parameters(circuit, dict(zip(symbol_names(n), angles[i]))),
                           qubit_order=qubits).final_state_vector
        assert abs(np.vdot(x[i], psi)) ** 2 >= 0.999
    with pytest.raises(QauditError, match="real"):
        prep_angles(x + 0.5j)


@pytest.mark.parametrize("processor", ["rainbow", "weber"])
def test_compiled_circuit_runs_on_the_device(processor):
    import cirq_google

    task = _task()
    backend, _ = resolve_backend(f"google:{processor},noise=none", 100)
    compiled = backend.compiled(task, {})
    device = cirq_google.engine.create_device_from_processor_id(processor)
    graph = device.metadata.nx_graph
    two = [op for op in compiled.circuit.all_operations() if len(op.qubits) == 2]
    assert two and all(op.gate == cirq.CZ for op in two)
    assert all(graph.has_edge(*op.qubits) for op in two)
    assert compiled.depth > 0 and compiled.two_qubit_gates == len(two)
    # noiseless compiled circuit (prep + routed model) reproduces the intended final state
    got = backend.final_states(task)
    want = _exact_states(task)
    fidelity = np.abs(np.sum(got.conj() * want, axis=1)) ** 2
    assert fidelity.min() >= 0.999
    info = backend.describe(task)
    assert info["two_qubit_gates"] == compiled.two_qubit_gates and info["depth"] == compiled.depth


def test_virtual_processor_shots_agree_with_exact_when_noiseless():
    task = _task(n=3, batch=3, terms=["Z0", "Z1", "Z2", "X0 X1"])
    exact = resolve_backend("exact", None)[0].expectation(task)
    backend, shots = resolve_backend("google:rainbow,noise=none", 2000)
    got = backend.expectation(task, shots, seed=3)
    sigma = np.sqrt(np.clip(1 - exact**2, 1e-12, None) / shots) + 1 / shots
    assert (np.abs(got - exact) / sigma).max() < 5
    noisy, _ = resolve_backend("google:rainbow", 200)
    values = noisy.expectation(task, 200, seed=3)
    assert values.shape == exact.shape and np.all(np.abs(values) <= 1)
    assert np.array_equal(values, noisy.expectation(task, 200, seed=3))


def test_virtual_processor_errors():
    class Wide:
        n_qubits = 24

    with pytest.raises(QauditError, match="valid: rainbow, weber, willow_pink"):
        resolve_backend("google:sycamore", 10)
    with pytest.raises(QauditError, match="too wide|at most"):
        resolve_backend("google:rainbow", 10, Wide())
    with pytest.raises(QauditError, match="noise"):
        resolve_backend("google:rainbow,noise=loud", 10)
    backend, _ = resolve_backend("google:rainbow", 10)
    with pytest.raises(QauditError, match="amplitude"):
        from qaudit.sdk.protocols import QuantumTask

        backend.expectation(QuantumTask(cirq.Circuit(), cirq.LineQubit.range(2), [], np.zeros(0), ["Z0"],
                                        features=np.zeros((1, 1)), feature_names=["x"]), 10)


@pytest.fixture
def no_google_credentials(monkeypatch, tmp_path):
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "my-project")


def test_engine_without_credentials_fails_fast(no_google_credentials, monkeypatch):
    import cirq_google

    with mock.patch.object(cirq_google, "Engine") as engine:
        with pytest.raises(QauditError, match="credentials") as info:
            resolve_backend("google-engine:rainbow", 100)
        engine.assert_not_called()  # no network call before the credential check
    assert "\n" not in str(info.value)
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT")
    with pytest.raises(QauditError, match="project"):
        resolve_backend("google-engine:rainbow", 100)


def test_engine_cli_without_credentials(no_google_credentials, digits_model_file, cli_runner):
    result = cli_runner.invoke(["evaluate", str(digits_model_file), "--backend", "google-engine:rainbow",
                                "--shots", "100"])
    assert result.exit_code == 2
    assert "credentials" in result.stderr and len(result.stderr.strip().splitlines()) == 1


class _FakeSampler:
    """Stands in for ``ProcessorSampler``: runs the job on cirq.Simulator."""

    def __init__(self):
        self.calls = []

    def run_sweep(self, program, params, repetitions=1):
        self.calls.append((program, len(params), repetitions))
        return cirq.Simulator(seed=5).run_sweep(program, params=params, repetitions=repetitions)


def test_engine_with_mocked_client(no_google_credentials, monkeypatch, tmp_path):
    import cirq_google

    key = tmp_path / "key.json"
    key.write_text("{}")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    sampler = _FakeSampler()
    processor = mock.Mock()
    processor.get_device.return_value = cirq_google.engine.create_device_from_processor_id("rainbow")
    processor.get_sampler.return_value = sampler
    task = _task(n=3, batch=4)
    with mock.patch.object(cirq_google, "Engine") as engine:
        engine.return_value.get_processor.return_value = processor
        backend, shots = resolve_backend("google-engine:rainbow,timeout=5", 3000)
        got = backend.expectation(task, shots, seed=1)
        engine.assert_called_once_with(project_id="my-project", timeout=5)
        engine.return_value.get_processor.assert_called_once_with("rainbow")
    assert len(sampler.calls) == 1 and sampler.calls[0][1:] == (4, 3000)  # one job sweeping the samples
    exact = resolve_backend("exact", None)[0].expectation(task)
    sigma = np.sqrt(np.clip(1 - exact**2, 1e-12, None) / shots) + 1 / shots
    assert (np.abs(got - exact) / sigma).max() < 5


def test_engine_network_failure_is_one_line(no_google_credentials, monkeypatch, tmp_path):
    import cirq_google

    key = tmp_path / "key.json"
    key.write_text("{}")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    with mock.patch.object(cirq_google, "Engine", side_effect=RuntimeError("DNS failure\nmore detail")):
        with pytest.raises(QauditError, match="cannot reach processor 'rainbow'.*DNS failure") as info:
            backend, _ = resolve_backend("google-engine:rainbow", 10)
            backend.expectation(_task(n=3, batch=1), 10)
    assert "\n" not in str(info.value)


def test_virtual_device_noise_matches_density_matrix():
    """qsim trajectories of the noisy compiled circuit agree with a density-matrix simulation of
    the same circuit (checks noise insertion, measured-qubit mapping and shot estimates)."""
    from qaudit_backends.common import parity_table
    from qaudit_google.compile import prep_resolvers

    task = _task(n=3, layers=1, batch=2, terms=["Z0", "Z1", "Z2", "Z0 Z2"])
    backend, shots = resolve_backend("google:rainbow", 3000)
    got = backend.expectation(task, shots, seed=9)
    compiled = backend.compiled(task, {0: "Z", 1: "Z", 2: "Z"})  # the basis group of these observables
    noisy, measured = backend.noisy_circuit(compiled), compiled.measured
    sim = cirq.DensityMatrixSimulator(dtype=np.complex128)
    table = parity_table(task.observables, list(range(4)), 3)
    want = []
    for resolver in prep_resolvers(task):
        rho = sim.simulate(cirq.resolve_parameters(noisy, cirq.ParamResolver(resolver)),
                           qubit_order=measured).final_density_matrix
        want.append(np.real(np.diagonal(rho)) @ table)
    want = np.array(want)
    sigma = np.sqrt(np.clip(1 - want**2, 1e-12, None) / shots) + 1 / shots
    assert (np.abs(got - want) / sigma).max() < 5
    clean = resolve_backend("exact", None)[0].expectation(task)
    assert np.abs(want - clean).max() > 0.01  # the device noise is visible


def test_merging_device_noise_channels_is_exact():
    from qaudit_google.compile import merge_single_qubit_channels, prep_resolvers

    task = _task(n=3, layers=1, batch=1)
    backend, _ = resolve_backend("google:weber", 100)
    compiled = backend.compiled(task, {0: "Z", 1: "Z", 2: "Z"})
    raw = cirq.Circuit(backend.noise_model().noisy_moments(compiled.circuit.moments,
                                                           sorted(compiled.circuit.all_qubits())))
    merged = merge_single_qubit_channels(raw)
    assert len(list(merged.all_operations())) < 0.8 * len(list(raw.all_operations()))
    sim = cirq.DensityMatrixSimulator(dtype=np.complex128)
    resolver = cirq.ParamResolver(prep_resolvers(task)[0])
    a, b = (sim.simulate(cirq.resolve_parameters(c, resolver), qubit_order=compiled.measured).final_density_matrix
            for c in (raw, merged))
    assert np.abs(a - b).max() < 1e-10


@pytest.mark.parametrize("terms", [None, ["Z0", "X0", "Z1"]])
def test_virtual_processor_plan_equals_what_it_runs(terms):
    """The PlanningBackend contract on the virtual processors: the plan (computed without running) is what the
    run then does, and the plan's compilation is the run's (compiled once)."""
    task = _task(3, batch=4, terms=terms)
    backend, _ = resolve_backend("google:rainbow,noise=none", 100)
    plan = backend.plan(task, 100)
    assert backend.submitted() is None and plan.qpu_seconds is None and plan.jobs == 0
    compiled = len(backend._compiled)
    if terms is None:
        backend.sample(task, 100, seed=0)
    else:
        backend.expectation(task, 100, seed=0)
    done = backend.submitted().to_json()
    assert {k: v for k, v in plan.to_json().items() if k != "notes"} == {k: v for k, v in done.items() if k != "notes"}
    assert len(backend._compiled) == compiled and plan.circuits == (1 if terms is None else 2)
    assert backend.facts()["backend"] == "google:rainbow"
