"""``ibm:DEVICE`` (IBM Quantum hardware) and ``ibm-fake:FakeDEVICE`` (Runtime's local testing mode).

Both run the same path: the task is exported once to one parametrised Qiskit circuit
(:mod:`qaudit_ibm.export`), transpiled once for the device at a stated optimisation level, and every sample
is a parameter binding of that circuit, sent through Runtime's sampler in as few jobs as the per-job cap allows
(one PUB per job and circuit). Before anything runs, :meth:`plan` says what will be submitted and what it
costs; jobs are checkpointed and resumable (:mod:`qaudit_ibm.jobs`); readout errors can be mitigated with a
measured calibration (:mod:`qaudit_ibm.mitigation`).

Arguments: ``DEVICE[,optimization=0..3][,readout=none|measured][,bindings=N][,seed_transpiler=N]`` and, for
``ibm-fake``, ``noise=device|none`` (``none``: the same transpiled circuit on a noiseless Aer simulator).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from qaudit.sdk import Capabilities, ExecutionPlan, QauditError, QuantumTask, content_key

#: Default transpiler optimisation level (stated in every plan).
OPTIMIZATION = 1
#: Parameter bindings per job (a job is one PUB per circuit): 1,500 samples are 3 jobs.
BINDINGS_PER_JOB = 500
#: Circuit executions (bindings x shots) per job, kept under IBM Runtime's per-job limit.
MAX_EXECUTIONS_PER_JOB = 5_000_000
#: Timing model of the QPU-time estimate: fixed seconds per job, plus per shot the repetition delay and the
#: compiled circuit's duration (both from the device's calibration when it reports them).
JOB_OVERHEAD_SECONDS = 2.0
DEFAULT_REP_DELAY = 250e-6
#: Widest circuit the local testing mode simulates (Aer state vector / density matrix on this machine).
MAX_SIMULATED = 16
#: Noisy local runs of at most this many measured qubits use Aer's density-matrix method (16 * 4**n bytes).
DENSITY_MATRIX_QUBITS = 10
#: OpenMP threads of the noisy Aer simulator: at 8 qubits a density matrix is too small to gain from threads, and
#: on a shared machine Aer's threads contend (measured: 5 bindings 22.7 s with the default, 6.7 s with 1 thread).
SIMULATOR_THREADS = 1


@dataclass
class Compiled:
    """A transpiled parametrised circuit (one basis group) and the facts a plan reports."""

    circuit: Any
    parameters: list  # circuit.parameters: the column order of a PUB's bindings
    columns: list[int]  # binding column j = the export's parameter columns[j] (task_bindings order)
    width: int
    depth: int
    two_qubit_gates: int
    duration: float | None  # seconds, from the device's instruction durations
    physical: list[int]  # device qubit measured into each classical bit of logical qubit j
    fingerprint: str


def _options(argument: str | None, backend: str, extra: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    from qaudit_backends.common import parse_arguments

    allowed = {"": str, "optimization": int, "readout": str, "bindings": int, "seed_transpiler": int, **extra}
    opts = parse_arguments(argument, allowed, backend)
    device = opts.pop("", "")
    if not device:
        raise QauditError(f"backend {backend} needs a device: --backend {backend}:NAME (see docs/hardware.md)")
    if not 0 <= opts.get("optimization", OPTIMIZATION) <= 3:
        raise QauditError(f"backend {backend}: optimization must be 0..3")
    if opts.get("readout", "none") not in ("none", "measured"):
        raise QauditError(f"backend {backend}: readout must be 'none' or 'measured'")
    if not 1 <= opts.get("bindings", BINDINGS_PER_JOB) <= 100_000:
        raise QauditError(f"backend {backend}: bindings must be 1..100000")
    return device, opts


def _two_qubit(circuit: Any) -> int:
    return sum(1 for inst in circuit.data if inst.operation.num_qubits == 2 and inst.operation.name != "barrier")


def _measured_physical(circuit: Any, width: int) -> list[int]:
    """Device qubit measured into classical bit ``width-1-j`` (logical qubit j), j = 0..width-1."""
    by_clbit = {}
    for inst in circuit.data:
        if inst.operation.name == "measure":
            by_clbit[circuit.find_bit(inst.clbits[0]).index] = circuit.find_bit(inst.qubits[0]).index
    return [by_clbit[width - 1 - j] for j in range(width)]


class IBMBackendBase:
    """Shared path of ``ibm`` and ``ibm-fake`` (see the module docstring)."""

    name = ""
    description = ""
    capabilities = Capabilities(exact=False, shots=True, noise=True, hardware=False)
    takes_argument = True
    roles: ClassVar[frozenset[str]] = frozenset()
    exact = False

    def __init__(self, argument: str | None = None, service: Any = None):
        self.device_name, opts = _options(argument, self.name, self.extra_options())
        self.optimization = int(opts.get("optimization", OPTIMIZATION))
        self.readout = str(opts.get("readout", "none"))
        self.bindings_per_job = int(opts.get("bindings", BINDINGS_PER_JOB))
        self.seed_transpiler = int(opts.get("seed_transpiler", 0))
        self.opts = opts
        self._service = service
        self._device: Any = None
        self._compiled: dict[Any, Compiled] = {}
        self._store: Any = None
        from qaudit_ibm.jobs import JobLedger

        self.ledger = JobLedger()
        self._record: ExecutionPlan | None = None
        self.calibration: list[dict[str, Any]] = []
        if self.readout == "measured":
            # mitigated results are quasi-probabilities, not raw counts: this instance offers expectation()
            # only, so the query path reads the (mitigated) expectation values instead of counts
            self.sample = None  # type: ignore[assignment]

    # ------------------------------------------------------------------ device and service (subclasses)
    def extra_options(self) -> dict[str, Any]:
        return {}

    def load_device(self) -> Any:
        raise NotImplementedError

    def make_service(self) -> Any:
        raise NotImplementedError

    def device(self) -> Any:
        """The Qiskit ``BackendV2`` of the device (loaded once)."""
        if self._device is None:
            self._device = self.load_device()
        return self._device

    def service(self) -> Any:
        if self._service is None:
            self._service = self.make_service()
        return self._service

    def label(self) -> str:
        return f"{self.name}:{self.device_name}"

    def max_qubits(self) -> int:
        return int(self.device().num_qubits)

    # ------------------------------------------------------------------ compile once
    def compiled(self, task: QuantumTask, basis: dict[int, str]) -> Compiled:
        """The task's circuit for *basis*, exported and transpiled once: cached by the circuit's structure and
        weights, so the plan and the run (and every batch of samples) share one transpilation."""
        from qaudit_ibm.export import structure_key

        key = structure_key(task, basis)
        if key not in self._compiled:
            self._compiled[key] = self._compile(task, basis)
        return self._compiled[key]

    def _compile(self, task: QuantumTask, basis: dict[int, str]) -> Compiled:
        import qiskit
        from qiskit.transpiler import generate_preset_pass_manager

        from qaudit_ibm.export import export_circuit, structure_key

        if task.n_qubits > self.max_qubits():
            raise QauditError(f"circuit has {task.n_qubits} qubits, too wide for {self.label()} "
                              f"(at most {self.max_qubits()})")
        logical, parameters = export_circuit(task, basis)
        manager = generate_preset_pass_manager(optimization_level=self.optimization, backend=self.device(),
                                               seed_transpiler=self.seed_transpiler)
        circuit = manager.run(logical)
        # a PUB's binding columns follow circuit.parameters (sorted by name: prep_5_10 before prep_5_2), not
        # the export's order: keep the permutation that maps one onto the other
        position = {p.name: i for i, p in enumerate(parameters)}
        try:
            columns = [position[p.name] for p in circuit.parameters]
        except KeyError as exc:
            raise QauditError(f"{self.label()}: the transpiler introduced an unknown parameter {exc}") from None
        try:
            duration = float(circuit.estimate_duration(self.device().target, unit="s"))
        except Exception:  # a device without instruction durations
            duration = None
        # the transpilation is deterministic in these: the key of every job that runs this circuit
        fingerprint = content_key(self.label(), structure_key(task, basis), self.optimization, self.seed_transpiler,
                                  qiskit.__version__)
        compiled = Compiled(circuit, [parameters[c] for c in columns], columns, task.n_qubits, int(circuit.depth()),
                            _two_qubit(circuit), duration, _measured_physical(circuit, task.n_qubits), fingerprint)
        print(f"{self.label()}: transpiled {task.n_qubits} qubits at optimization level {self.optimization}: depth "
              f"{compiled.depth}, {compiled.two_qubit_gates} two-qubit gates", file=sys.stderr)
        return compiled

    # ------------------------------------------------------------------ plan
    def _chunks(self, n: int, shots: int, circuits: int = 1) -> list[tuple[int, int]]:
        """[start, stop) binding ranges of the jobs: at most ``bindings`` per job and the executions cap."""
        per_job = max(1, min(self.bindings_per_job, MAX_EXECUTIONS_PER_JOB // max(shots * circuits, 1)))
        return [(start, min(n, start + per_job)) for start in range(0, n, per_job)]

    def rep_delay(self) -> float:
        """Seconds between shots: the device's default repetition delay when it reports one."""
        device = self.device()
        for source in (device, getattr(device, "_conf", None)):
            value = getattr(source, "default_rep_delay", None)
            if isinstance(value, (int, float)) and value > 0:
                return float(value) * (1e-6 if value > 1e-2 else 1.0)  # configuration files give microseconds
        return DEFAULT_REP_DELAY

    def _groups(self, task: QuantumTask, sampling: bool) -> list[tuple[dict[int, str], list[int]]]:
        from qaudit_backends.common import basis_groups

        return [({}, [])] if sampling else basis_groups(task.observables, task.n_qubits)

    def _sampling(self, task: QuantumTask) -> bool:
        """True when the query path will call :meth:`sample` (Z-product readout, no readout mitigation)."""
        from qaudit.sdk.engine import task_observables

        return bool(task_observables(task).diagonal) and callable(getattr(self, "sample", None))

    def plan(self, task: QuantumTask, shots: int | None) -> ExecutionPlan:
        """What running *task* with *shots* through the query path submits and costs (compiles, runs nothing)."""
        shots = self._check_shots(shots)
        circuits = [self.compiled(task, basis) for basis, _ in self._groups(task, self._sampling(task))]
        jobs = len(self._chunks(task.n_samples, shots, len(circuits)))
        return self._describe_jobs(circuits, task.n_samples, shots, jobs,
                                   [f"transpiled once at optimization level {self.optimization}",
                                    f"QPU seconds = {JOB_OVERHEAD_SECONDS:g} s per job + bindings x shots x "
                                    f"(repetition delay {self.rep_delay() * 1e6:.0f} us + circuit duration)",
                                    *self.plan_notes(circuits)])

    def plan_notes(self, circuits: list[Compiled]) -> list[str]:
        """Extra plan notes of a backend (how its jobs will execute)."""
        return []

    def _describe_jobs(self, circuits: list[Compiled], samples: int, shots: int, jobs: int,
                       notes: list[str]) -> ExecutionPlan:
        """The plan of *jobs* jobs, each one PUB per circuit (plus one calibration PUB per circuit with
        ``readout=measured``), together binding every one of *samples* samples to every circuit."""
        cal = 2 if self.readout == "measured" else 0
        per_circuit = samples + cal * jobs
        seconds = JOB_OVERHEAD_SECONDS * jobs + sum(per_circuit * shots * (self.rep_delay() + (c.duration or 0.0))
                                                     for c in circuits)
        return ExecutionPlan(self.label(), circuits=len(circuits) * (2 if cal else 1),
                             bindings=per_circuit * len(circuits), shots=shots,
                             units=jobs * len(circuits) * (2 if cal else 1), jobs=jobs,
                             depth=max(c.depth for c in circuits),
                             two_qubit_gates=max(c.two_qubit_gates for c in circuits), qpu_seconds=seconds,
                             mitigation=self._mitigation_note(shots), notes=notes)

    def _mitigation_note(self, shots: int) -> str | None:
        if self.readout != "measured":
            return None
        return (f"readout: measured tensored calibration, 2 extra bindings (all |0>, all |1>) x {shots} shots per "
                "job, per-qubit assignment matrices inverted on the outcome distribution")

    def submitted(self) -> ExecutionPlan | None:
        """What this instance actually submitted (None before any run)."""
        return self._record

    def use_checkpoints(self, store: Any) -> None:
        """Checkpoint job ids and results in *store* (``store.resume``: collect stored jobs)."""
        self._store = store

    def facts(self) -> dict[str, Any]:
        """Device, noise, transpilation, mitigation and job facts for the report (no credentials)."""
        from qaudit_ibm.jobs import sampler_name

        facts: dict[str, Any] = {"backend": self.label(), "device": self.device_name, "primitive": sampler_name(),
                                 "optimization_level": self.optimization, "noise": self.noise_description(),
                                 "readout_mitigation": self.readout, "job_ids": list(self.ledger.job_ids),
                                 "jobs_submitted": self.ledger.submissions,
                                 "jobs_collected_from_checkpoint": self.ledger.collected_from_checkpoint}
        if self.calibration:
            facts["readout_calibration"] = self.calibration
        return facts

    def noise_description(self) -> str:
        raise NotImplementedError

    def describe(self, task: QuantumTask | None = None) -> dict[str, Any]:
        """Facts for ``qaudit backends --describe``; with *task*, its plan at 1,024 shots."""
        info = {"backend": self.label(), "device_qubits": self.max_qubits(), "noise": self.noise_description(),
                "optimization_level": self.optimization, "readout_mitigation": self.readout}
        if task is not None:
            info["plan_1024_shots"] = self.plan(task, 1024).to_json()
        return info

    # ------------------------------------------------------------------ run
    def _check_shots(self, shots: int | None) -> int:
        if not shots:
            raise QauditError(f"backend {self.name} measures: pass --shots N")
        return int(shots)

    def _specs(self, circuits: list[Compiled], bindings: np.ndarray, shots: int, seed: int | None) -> list[Any]:
        """One job per chunk of bindings: a PUB per circuit (and its calibration PUB)."""
        from qaudit_ibm.jobs import JobSpec
        from qaudit_ibm.mitigation import calibration_pub

        specs = []
        for j, (start, stop) in enumerate(self._chunks(len(bindings), shots, len(circuits))):
            values = bindings[start:stop]
            pubs: list[Any] = []
            for compiled in circuits:
                pubs.append((compiled.circuit, np.ascontiguousarray(values[:, compiled.columns])))
                if self.readout == "measured":
                    pubs.append(calibration_pub(self, compiled))
            widths = [circuits[0].width] * len(pubs)
            job_seed = None if seed is None else int(np.random.SeedSequence([int(seed), j]).generate_state(1)[0])
            key = content_key([c.fingerprint for c in circuits], values, shots, job_seed, self.readout,
                              self.noise_description())
            specs.append(JobSpec(key, pubs, shots, job_seed, widths))
        return specs

    def _run(self, task: QuantumTask, groups: list[dict[int, str]], shots: int, seed: int | None,
             counts_only: bool) -> list[np.ndarray]:
        """Per basis group: (n_samples, 2**n) raw counts, or mitigated quasi-probabilities."""
        from qaudit_ibm.export import task_bindings
        from qaudit_ibm.jobs import run_jobs
        from qaudit_ibm.mitigation import mitigate

        circuits = [self.compiled(task, basis) for basis in groups]
        specs = self._specs(circuits, task_bindings(task), shots, seed)
        before = self.ledger.submissions
        results = run_jobs(self.service(), specs, self._store, self.ledger, self.label())
        fresh = self.ledger.submissions - before
        record = self._describe_jobs(circuits, task.n_samples, shots, len(specs),
                                     [f"{fresh} job(s) newly submitted, {len(specs) - fresh} collected from "
                                      "checkpoints or by id"])
        self._record = record if self._record is None else self._record.add(record)
        step = 2 if self.readout == "measured" else 1
        out = []
        for g in range(len(circuits)):
            if counts_only or step == 1:
                out.append(np.concatenate([r[g * step] for r in results]))
            else:
                out.append(np.concatenate([mitigate(self, r[g * step], r[g * step + 1], shots) for r in results]))
        return out

    def sample(self, task: QuantumTask, shots: int, seed: int | None = None) -> np.ndarray:
        """(n_samples, 2**n) raw counts of computational-basis bit strings."""
        return self._run(task, [{}], self._check_shots(shots), seed, counts_only=True)[0]

    def expectation(self, task: QuantumTask, shots: int | None = None, seed: int | None = None) -> np.ndarray:
        """Shot estimates of every observable: every basis group's circuit in the same jobs (readout-mitigated
        when ``readout=measured``)."""
        from qaudit_backends.common import parity_table

        shots = self._check_shots(shots)
        groups = self._groups(task, False)
        tables = self._run(task, [basis for basis, _ in groups], shots, seed, counts_only=False)
        out = np.zeros((task.n_samples, len(task.observables)))
        for (_, members), table in zip(groups, tables):
            probs = table / shots if self.readout != "measured" else table
            out[:, members] = probs @ parity_table(task.observables, members, task.n_qubits)
        return out


class IBMFakeBackend(IBMBackendBase):
    """Runtime's local testing mode on a fake device shipped with ``qiskit-ibm-runtime`` (a calibration
    snapshot: coupling map, native gates, noise): ``ibm-fake:FakeSherbrooke``. ``noise=none`` runs the same
    transpiled circuit on a noiseless ``AerSimulator``."""

    name = "ibm-fake"
    description = ("IBM fake device in Runtime's local testing mode (Aer, device noise; "
                   "FakeSherbrooke...): transpiled once, samples as bindings of one circuit")
    capabilities = Capabilities(exact=False, shots=True, noise=True, hardware=False)

    def extra_options(self) -> dict[str, Any]:
        return {"noise": str}

    def __init__(self, argument: str | None = None, service: Any = None):
        super().__init__(argument, service)
        if self.opts.get("noise", "device") not in ("device", "none"):
            raise QauditError("backend ibm-fake: noise must be 'device' or 'none'")
        self.noisy = self.opts.get("noise", "device") == "device"

    def load_device(self) -> Any:
        from qaudit_ibm import require_runtime

        require_runtime()
        from qiskit_ibm_runtime import fake_provider

        cls = getattr(fake_provider, self.device_name, None) if self.device_name.startswith("Fake") else None
        if not isinstance(cls, type):
            known = sorted(n for n in dir(fake_provider) if n.startswith("Fake") and not n.endswith("Provider"))
            raise QauditError(f"unknown fake device {self.device_name!r} for backend ibm-fake ({len(known)} known, "
                              f"e.g. {', '.join(known[:6])}; see qiskit_ibm_runtime.fake_provider)")
        return cls()

    def max_qubits(self) -> int:
        return min(MAX_SIMULATED, int(self.device().num_qubits))

    def make_service(self) -> Any:
        from qiskit_aer import AerSimulator

        from qaudit_ibm.jobs import LocalJobs

        if not self.noisy:
            return LocalJobs(AerSimulator())
        cache: dict[str, Any] = {}

        def simulator(width: int) -> Any:
            # small registers: one density matrix per binding (cost independent of the shots) beats one noisy
            # trajectory per shot; wider ones: trajectories (a density matrix of 2**(2n) entries is too large)
            method = self.simulation_method(width)
            if method not in cache:
                cache[method] = AerSimulator.from_backend(self.device(), method=method,
                                                          max_parallel_threads=SIMULATOR_THREADS)
            return cache[method]

        return LocalJobs(simulator)

    @staticmethod
    def simulation_method(width: int) -> str:
        """Aer method for a noisy circuit measuring *width* qubits (Aer truncates to the active qubits)."""
        return "density_matrix" if width <= DENSITY_MATRIX_QUBITS else "statevector"

    def simulator_description(self, width: int | None = None) -> str:
        """How the local testing mode simulates (for the plan and the report)."""
        if not self.noisy:
            return "AerSimulator (noiseless, automatic method)"
        methods = ("density_matrix (one noisy density matrix per binding, shots sampled from it) up to "
                   f"{DENSITY_MATRIX_QUBITS} measured qubits, statevector trajectories (one per shot) above"
                   if width is None else self.simulation_method(width))
        return (f"AerSimulator.from_backend({self.device_name}), method {methods}, truncated to the active qubits, "
                f"max_parallel_threads={SIMULATOR_THREADS}")

    def plan_notes(self, circuits: list[Compiled]) -> list[str]:
        return [f"local testing mode: {self.simulator_description(max(c.width for c in circuits))}"]

    def facts(self) -> dict[str, Any]:
        return {**super().facts(), "simulator": self.simulator_description()}

    def noise_description(self) -> str:
        if not self.noisy:
            return "none (noiseless AerSimulator, same transpiled circuit)"
        return f"device: Aer noise model of {self.device_name}'s calibration snapshot (local testing mode)"


class IBMBackend(IBMBackendBase):
    """IBM Quantum hardware through Qiskit Runtime's sampler (``ibm:ibm_brisbane``); the account comes from
    ``QiskitRuntimeService``'s saved configuration (``QiskitRuntimeService.save_account``), never from qaudit."""

    name = "ibm"
    description = "IBM Quantum hardware via Qiskit Runtime's Sampler (saved account; plan, budget, resumable jobs)"
    capabilities = Capabilities(exact=False, shots=True, noise=True, hardware=True)

    def _runtime(self) -> Any:
        if getattr(self, "_runtime_service", None) is None:
            from qaudit_ibm import require_runtime

            require_runtime()
            from qiskit_ibm_runtime import QiskitRuntimeService

            try:
                self._runtime_service = QiskitRuntimeService()
            except Exception as exc:  # no saved account, network, expired token: never echo the account
                raise QauditError(f"backend ibm: cannot open QiskitRuntimeService from the saved account "
                                  f"configuration ({type(exc).__name__}); see docs/hardware.md") from None
        return self._runtime_service

    def load_device(self) -> Any:
        try:
            return self._runtime().backend(self.device_name)
        except QauditError:
            raise
        except Exception as exc:
            raise QauditError(f"backend ibm: device {self.device_name!r} is not available to the saved account "
                              f"({type(exc).__name__})") from None

    def make_service(self) -> Any:
        from qaudit_ibm.jobs import RuntimeJobs

        return RuntimeJobs(self._runtime(), self.device())

    def noise_description(self) -> str:
        return f"hardware ({self.device_name})"
