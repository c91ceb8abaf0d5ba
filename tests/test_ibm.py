"""IBM backends (plugins/qaudit_ibm): export, local testing mode against independent simulations, plan =
submitted, resumable jobs with a fake service, readout mitigation, no credentials in written files.

Everything runs offline (Runtime's local testing mode on fake devices, Aer); never the network."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qaudit.sdk.errors import QauditError

pytest.importorskip("qiskit_ibm_runtime", reason="the ibm extra (qiskit-ibm-runtime) is not installed")
pytest.importorskip("qiskit_aer", reason="the ibm extra (qiskit-aer) is not installed")
cirq = pytest.importorskip("cirq")

DEVICE = "FakeManilaV2"  # 5 qubits: quick to transpile and simulate
SECRET_TOKEN = "tok-QAUDIT-SECRET-9f2c1e"
SECRET_INSTANCE = "crn:v1:bluemix:public:quantum-computing:us-east:a/SECRETACCOUNT77::"


def _task(n: int = 3, batch: int = 4, seed: int = 2, terms=None):
    from qaudit_qnn.basic import u3_ring_layers

    from qaudit.sdk.protocols import QuantumTask

    rng = np.random.default_rng(seed)
    qubits = cirq.LineQubit.range(n)
    circuit, names = u3_ring_layers(qubits, 1)
    x = rng.normal(size=(batch, 2**n))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return QuantumTask(circuit, qubits, names, rng.normal(size=len(names)), terms or [f"Z{q}" for q in range(n)],
                       states=x.astype(np.complex128))


def _backend(argument: str, service=None):
    from qaudit_ibm.backends import IBMFakeBackend

    return IBMFakeBackend(argument, service=service)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("QAUDIT_CACHE_DIR", str(folder))
    return folder


# --------------------------------------------------------------------------- export
def test_exported_circuit_prepares_the_engine_states():
    """The exported parametrised circuit (state preparation + model), bound per sample, gives the exact
    engine's final states (Qiskit Statevector vs qaudit's numpy engine)."""
    from qaudit_ibm.export import export_circuit, task_bindings
    from qiskit.quantum_info import Statevector

    from qaudit.engine.tasks import final_states
    from qaudit.sdk.testing import _angle_task

    for task in (_task(4, batch=5), _angle_task()):
        circuit, params = export_circuit(task)
        circuit = circuit.remove_final_measurements(inplace=False)
        want = final_states(task)
        for i, row in enumerate(task_bindings(task)):
            bound = circuit.assign_parameters(dict(zip(params, row)))
            got = Statevector(bound).reverse_qargs().data  # Qiskit is little-endian, qaudit big-endian
            assert abs(np.vdot(want[i], got)) ** 2 > 1 - 1e-9


def test_noiseless_fake_device_passes_the_backend_conformance_check():
    """Transpiled for the device, run noiseless: agrees with the exact engine within shot noise (amplitude-
    and angle-encoded tasks, X/Y/Z observables, counts reproducible with the seed)."""
    from qaudit_ibm.backends import IBMFakeBackend

    from qaudit.sdk.testing import check_backend

    results = check_backend(IBMFakeBackend, f"{DEVICE},noise=none", shots=4000)
    assert not any(key.endswith("unsupported") for key in results)


def test_bindings_follow_the_transpiled_circuits_parameter_order():
    """6 qubits: 63 preparation angles, whose names sort differently as text (prep_5_10 < prep_5_2) -- the PUB's
    columns must still land on the right parameters (counts vs the exact distribution, noiseless)."""
    from qaudit.engine.tasks import basis_distribution

    task, shots = _task(6, batch=3), 20000
    counts = _backend("FakeGuadalupeV2,noise=none").sample(task, shots, seed=0)
    exact = basis_distribution(task)
    z = (counts / shots - exact) / np.sqrt(exact * (1 - exact) / shots + 1e-12)
    assert np.abs(z).max() < 5.5


def _noisy_probabilities(backend, task) -> np.ndarray:
    """Exact outcome probabilities of *backend*'s transpiled circuit under the device's Aer noise model (density
    matrix, no shots; readout errors applied separately): independent of the sampler path."""
    from qaudit_ibm.export import task_bindings
    from qiskit_aer import AerSimulator
    from qiskit_aer.noise import NoiseModel

    compiled = backend.compiled(task, {})
    noise = NoiseModel.from_backend(backend.device())
    sim = AerSimulator(method="density_matrix", noise_model=noise)
    # saved probabilities are taken before measurement: apply the model's readout errors ourselves
    readout = np.array([1.0])
    for q in compiled.physical:  # logical qubit 0 first = most significant bit
        error = noise._local_readout_errors.get((q,))
        readout = np.kron(readout, np.eye(2) if error is None else np.asarray(error.probabilities).T)
    exact_probs = []
    for row in task_bindings(task):
        bound = compiled.circuit.assign_parameters(dict(zip(compiled.parameters, row[compiled.columns])))
        bound.remove_final_measurements()
        bound.save_probabilities_dict(qubits=compiled.physical)  # qubit 0 first = least significant key bit
        data = sim.run(bound).result().data()["probabilities"]
        p = np.zeros(2**task.n_qubits)
        for key, value in data.items():
            k = int(key, 16) if isinstance(key, str) else int(key)
            index = sum(((k >> j) & 1) << (task.n_qubits - 1 - j) for j in range(task.n_qubits))
            p[index] += value
        exact_probs.append(readout @ p)
    return np.array(exact_probs)


@pytest.mark.parametrize("method", ["density_matrix", "statevector"])
def test_device_noise_agrees_with_an_independent_density_matrix_simulation(method, monkeypatch):
    """ibm-fake with device noise (local testing mode, sampled counts) vs the exact outcome probabilities of the
    same transpiled circuit under the same Aer noise model (density matrix, no shots), for both methods the
    backend uses: one density matrix per binding (narrow registers, the default) and one statevector
    trajectory per shot (wider ones; forced here on a small model)."""
    import qaudit_ibm.backends as ibm

    if method == "statevector":
        monkeypatch.setattr(ibm, "DENSITY_MATRIX_QUBITS", 0)
    task, shots = _task(3, batch=4), 4000
    backend = _backend(DEVICE)
    assert backend.simulation_method(task.n_qubits) == method
    counts = backend.sample(task, shots, seed=3)
    exact_probs = _noisy_probabilities(backend, task)
    noiseless = _backend(f"{DEVICE},noise=none").sample(task, shots, seed=3) / shots
    assert np.abs(exact_probs - noiseless).max() > 0.02  # the noise is visible
    z = (counts / shots - exact_probs) / np.sqrt(exact_probs * (1 - exact_probs) / shots + 1e-12)
    assert np.abs(z).max() < 5.0
    # the method is stated in the plan and in the report's backend facts
    assert any(method in note for note in backend.plan(task, shots).notes)
    assert "density_matrix" in backend.facts()["simulator"]


# --------------------------------------------------------------------------- plan = submitted
def _comparable(plan) -> dict:
    return {k: v for k, v in plan.to_json().items() if k != "notes"}


@pytest.mark.parametrize("argument,terms", [(f"{DEVICE},noise=none,bindings=3", None),
                                            (f"{DEVICE},noise=none,readout=measured", ["Z0", "X1", "Z0 Z2"])])
def test_plan_equals_what_the_run_submits(argument, terms):
    task = _task(3, batch=7, terms=terms)
    backend = _backend(argument)
    plan = backend.plan(task, 500)
    assert backend.submitted() is None
    if terms is None:
        backend.sample(task, 500, seed=1)
    else:
        backend.expectation(task, 500, seed=1)
    assert _comparable(backend.submitted()) == _comparable(plan)
    assert plan.jobs == (3 if terms is None else 1) and plan.qpu_seconds > 0


def test_1500_samples_are_a_few_units_of_work_on_an_8_qubit_model():
    """An 8-qubit amplitude-encoded audit of 1,500 samples on FakeSherbrooke: <= 20 primitive units of work
    (planned; the plan equals what the run submits by the test above)."""
    task = _task(8, batch=1500)
    plan = _backend("FakeSherbrooke").plan(task, 1024)
    assert plan.units <= 20 and plan.jobs <= 20 and plan.circuits == 1 and plan.bindings == 1500
    assert plan.two_qubit_gates > 254  # at least the state preparation's CNOTs


# --------------------------------------------------------------------------- resume
class FlakyService:
    """A job service that runs jobs locally (noiseless Aer) but reports the states a test scripts: jobs stay
    pending, fail, or the user presses Ctrl-C while waiting."""

    persistent = True
    poll_seconds = 0.0

    def __init__(self):
        from qaudit_ibm.jobs import LocalJobs
        from qiskit_aer import AerSimulator

        self.local = LocalJobs(AerSimulator())
        self.submitted: list[str] = []
        self.states: dict[str, str] = {}
        self.interrupt_after: int | None = None
        self.polls = 0

    def submit(self, pubs, shots, seed):
        job_id = self.local.submit(pubs, shots, seed)
        self.submitted.append(job_id)
        return job_id

    def status(self, job_id):
        self.polls += 1
        if self.interrupt_after is not None and self.polls > self.interrupt_after:
            raise KeyboardInterrupt
        forced = self.states.get(job_id)
        if forced:
            return forced
        self.local._jobs[job_id].result()  # let the local job finish: its real state is then final
        return self.local.status(job_id)

    def counts(self, job_id, widths):
        return self.local.counts(job_id, widths)


def test_interrupted_run_resumes_without_resubmitting_finished_jobs(cache, capsys):
    from qaudit.files.checkpoints import Checkpoints

    task, shots = _task(3, batch=6), 2000
    service = FlakyService()
    first = _backend(f"{DEVICE},noise=none,bindings=2", service)
    first.use_checkpoints(Checkpoints("backend-jobs", resume=False))
    service.interrupt_after = 20

    def pending_after_first(job_id):
        return "pending" if job_id != service.submitted[0] else None

    service.states = _Scripted(pending_after_first)
    with pytest.raises(KeyboardInterrupt):
        first.sample(task, shots, seed=5)
    assert len(service.submitted) == 3
    assert "--resume" in capsys.readouterr().err
    stored = [json.loads(p.read_text())["value"] for p in (cache / "checkpoints" / "backend-jobs").glob("*.json")]
    assert sorted(len(d.get("counts") or []) for d in stored) == [0, 0, 1]  # job 1 collected, 2 and 3 pending
    assert {d["job_id"] for d in stored} == set(service.submitted)

    # meanwhile on the server: job 2 finished, job 3 failed
    service.interrupt_after, failed = None, service.submitted[2]
    service.states = _Scripted(lambda job_id: "failed" if job_id == failed else None)
    again = _backend(f"{DEVICE},noise=none,bindings=2", service)
    again.use_checkpoints(Checkpoints("backend-jobs", resume=True))
    counts = again.sample(task, shots, seed=5)
    assert len(service.submitted) == 4  # only the failed job was paid for again
    assert again.ledger.collected_from_checkpoint == 1 and again.ledger.submissions == 1
    assert counts.shape == (6, 8) and np.all(counts.sum(axis=1) == shots)
    from qaudit.engine.tasks import basis_distribution

    exact = basis_distribution(task)
    assert np.abs(counts / shots - exact).max() < 5 * np.sqrt(0.25 / shots)


class _Scripted(dict):
    """``states.get(job_id)`` answered by a function (None: the job's real state)."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def get(self, job_id, default=None):
        return self.fn(job_id)


def test_a_failing_job_is_retried_once_then_reported(cache):
    task = _task(3, batch=2)
    service = FlakyService()
    service.states = _Scripted(lambda job_id: "failed")
    with pytest.raises(QauditError, match="--resume"):
        _backend(f"{DEVICE},noise=none", service).sample(task, 100, seed=0)
    assert len(service.submitted) == 2


# --------------------------------------------------------------------------- readout mitigation
def test_measured_readout_calibration_inverts_a_known_confusion(rng):
    from qaudit_ibm.mitigation import apply_inverse, assignment_matrices

    n, shots = 3, 200_000
    p = rng.dirichlet(np.ones(2**n), size=4)
    e0, e1 = np.array([0.02, 0.05, 0.03]), np.array([0.04, 0.08, 0.06])  # P(1|0), P(0|1) per qubit
    confusion = np.array([1.0])
    for q in range(n):
        confusion = np.kron(confusion, np.array([[1 - e0[q], e1[q]], [e0[q], 1 - e1[q]]]))
    noisy = p @ confusion.T
    cal_probs = np.stack([confusion[:, 0], confusion[:, -1]])
    cal = np.stack([rng.multinomial(shots, cal_probs[0]), rng.multinomial(shots, cal_probs[1])])
    matrices = assignment_matrices(cal, n, shots)
    assert np.allclose([m[1, 0] for m in matrices], e0, atol=0.003)
    assert np.allclose([m[0, 1] for m in matrices], e1, atol=0.003)
    assert np.abs(apply_inverse(noisy, matrices) - p).max() < 0.01
    assert np.abs(noisy - p).max() > 0.01


def test_the_sampler_is_not_a_deprecated_primitive():
    """qiskit-ibm-runtime 0.50+ deprecates SamplerV2: the jobs use the client-side Sampler there (no warning)."""
    import warnings

    import qiskit_ibm_runtime
    from qaudit_ibm.jobs import runtime_sampler
    from qiskit_aer import AerSimulator

    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        runtime_sampler(AerSimulator())
    version = tuple(int(part) for part in qiskit_ibm_runtime.__version__.split(".")[:2])
    want = "executor_sampler.Sampler" if version >= (0, 50) else "SamplerV2"
    assert _backend(f"{DEVICE},noise=none").facts()["primitive"].endswith(want)


def test_readout_mitigation_runs_and_is_recorded():
    task = _task(3, batch=3)
    backend = _backend(DEVICE + ",readout=measured")
    assert not callable(getattr(backend, "sample", None))  # mitigated values are not raw counts
    values = backend.expectation(task, 1000, seed=0)
    assert values.shape == (3, 3) and np.all(np.abs(values) < 1.5)
    facts = backend.facts()
    assert facts["readout_mitigation"] == "measured" and len(facts["readout_calibration"]) == 1
    assert "2 extra bindings" in backend.submitted().mitigation


# --------------------------------------------------------------------------- CLI: dry run, budget, report
def test_dry_run_prints_the_plan_the_run_then_submits(cli_runner, tiny_model, cache):
    args = ["leak", str(tiny_model.path), "--backend", f"ibm-fake:{DEVICE},noise=none", "--shots", "256",
            "--attack", "loss", "--format", "json"]
    dry = cli_runner.invoke([*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    plan = json.loads(dry.stdout)
    run = cli_runner.invoke(args)
    assert run.exit_code in (0, 1), run.output
    report = json.loads(run.stdout)
    submitted = report["execution"]["submitted"]
    for key in ("circuits", "bindings", "shots", "units", "jobs", "depth", "two_qubit_gates", "qpu_seconds"):
        assert plan["summary"][key] == submitted[key], key
    assert plan["summary"]["bindings"] == report["summary"]["target_queries"]
    assert "simulated" in report["summary"]["reference_outputs"]


def test_dry_run_equals_the_submission_of_the_default_attacks(cli_runner, tiny_model, cache):
    """The default attacks query the target beyond the scored samples (RMIA's population z-samples, here a
    subset of n_z): the plan holds them, and the run submits them in its one prefetch, not as a second circuit."""
    n_z = 60
    args = ["leak", str(tiny_model.path), "--backend", f"ibm-fake:{DEVICE},noise=none", "--shots", "64",
            "--reference-models", "2", "-A", f"rmia.n_z={n_z}", "--format", "json"]
    dry = cli_runner.invoke([*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    plan = json.loads(dry.stdout)["summary"]
    run = cli_runner.invoke(args)
    assert run.exit_code in (0, 1), run.output
    report = json.loads(run.stdout)
    assert "rmia" in report["attacks"]
    submitted = report["execution"]["submitted"]
    for key in ("circuits", "bindings", "shots", "units", "jobs", "depth", "two_qubit_gates", "qpu_seconds"):
        assert plan[key] == submitted[key], key
    scored = len(tiny_model.file.data.members) + len(tiny_model.file.data.holdout)
    assert scored < plan["bindings"] <= scored + n_z  # the z-samples are planned (duplicate rows counted once)
    assert submitted["circuits"] == 1 and report["summary"]["target_queries"] == plan["bindings"]


def test_max_qpu_seconds_refuses_before_anything_runs(cli_runner, tiny_model, cache):
    result = cli_runner.invoke(["leak", str(tiny_model.path), "--backend", f"ibm-fake:{DEVICE},noise=none",
                                "--shots", "256", "--attack", "loss", "--max-qpu-seconds", "1"])
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "--max-qpu-seconds" in errors[0] and result.stderr.strip().endswith(errors[0])
    assert "Traceback" not in result.stderr


def test_unknown_fake_device_is_one_line(cli_runner, tiny_model):
    result = cli_runner.invoke(["leak", str(tiny_model.path), "--backend", "ibm-fake:FakeNowhere", "--shots", "10"])
    assert result.exit_code == 2 and "unknown fake device" in result.stderr


def test_no_credential_in_any_written_file(cli_runner, tiny_model, cache, tmp_path, monkeypatch):
    """Account settings in the environment never reach the report, the checkpoints or the error messages."""
    import qiskit_ibm_runtime

    monkeypatch.setenv("QISKIT_IBM_TOKEN", SECRET_TOKEN)
    monkeypatch.setenv("QISKIT_IBM_INSTANCE", SECRET_INSTANCE)
    out = tmp_path / "leak.json"
    result = cli_runner.invoke(["leak", str(tiny_model.path), "--backend", f"ibm-fake:{DEVICE},noise=none",
                                "--shots", "128", "--attack", "loss", "-o", str(out), "--report",
                                f"html={tmp_path / 'leak.html'}"])
    assert result.exit_code in (0, 1), result.output

    class Refusing:  # a service that fails with the account in its message (as a real one may)
        def __init__(self, *args, **kwargs):
            raise RuntimeError(f"invalid token {SECRET_TOKEN} for instance {SECRET_INSTANCE}")

    monkeypatch.setattr(qiskit_ibm_runtime, "QiskitRuntimeService", Refusing)
    hardware = cli_runner.invoke(["leak", str(tiny_model.path), "--backend", "ibm:ibm_brisbane", "--shots", "10",
                                  "--attack", "loss", "--dry-run"])
    assert hardware.exit_code == 2 and "saved account" in hardware.stderr
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert out in written and any(p.parent.name == "backend-jobs" for p in written) is False  # discarded at the end
    for text in [*(p.read_bytes().decode("utf-8", "replace") for p in written), result.output, hardware.output]:
        assert SECRET_TOKEN not in text and "SECRETACCOUNT" not in text


def test_checkpoint_entries_hold_job_ids_not_accounts(cache, monkeypatch):
    from qaudit.files.checkpoints import Checkpoints

    monkeypatch.setenv("QISKIT_IBM_TOKEN", SECRET_TOKEN)
    service = FlakyService()
    backend = _backend(f"{DEVICE},noise=none", service)
    backend.use_checkpoints(Checkpoints("backend-jobs", resume=False))
    backend.sample(_task(3, batch=2), 50, seed=0)
    files = list(Path(cache).rglob("*.json"))
    assert files
    for path in files:
        document = json.loads(path.read_text())  # a verified checkpoint envelope around the job entry
        assert set(document) == {"key", "schema", "sha256", "value"}
        assert set(document["value"]) <= {"backend", "job_id", "persistent", "counts"}
        assert SECRET_TOKEN not in path.read_text()
