"""``google:PROCESSOR`` (offline virtual processors) and ``google-engine:PROCESSOR`` (hardware).

Both compile the model the same way (:mod:`qaudit_google.compile`) and estimate each
observable from ``shots`` measured bit strings per sample and per basis, as hardware
reports them. The virtual processors add cirq-google's device noise
(``NoiseModelFromGoogleNoiseProperties`` from the processor's median calibration) and
run on qsim: every shot is one quantum trajectory of the noisy compiled circuit.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from qaudit.sdk import MAX_GOOGLE_QUBITS, Capabilities, ExecutionPlan, QauditError, QuantumTask

VIRTUAL = ("rainbow", "weber", "willow_pink")
#: Largest logical register simulated for a virtual processor.
MAX_SIMULATED = MAX_GOOGLE_QUBITS
ENGINE_TIMEOUT = 60


def _processor(argument: str | None, backend: str, known: tuple[str, ...] | None) -> tuple[str, dict[str, str]]:
    """Split ``PROCESSOR[,key=value...]``; unknown processor names are a one-line error."""
    parts = [p.strip() for p in (argument or "").split(",") if p.strip()]
    name = parts[0] if parts and "=" not in parts[0] else ""
    options = {}
    for part in parts[1 if name else 0:]:
        if "=" not in part:
            raise QauditError(f"backend {backend}: expected key=value, got {part!r}")
        key, value = part.split("=", 1)
        options[key.strip()] = value.strip()
    if not name:
        listing = f" (valid: {', '.join(known)})" if known else ""
        raise QauditError(f"backend {backend} needs a processor: --backend {backend}:PROCESSOR{listing}")
    if known is not None and name not in known:
        raise QauditError(f"unknown processor {name!r} for backend {backend} (valid: {', '.join(known)})")
    return name, options


def _estimate(counts: np.ndarray, table: np.ndarray, shots: int) -> np.ndarray:
    return counts @ table / shots


class GoogleBackendBase:
    """Shared expectation logic: compile per basis group, measure per sample."""

    name = ""
    description = ""
    capabilities = Capabilities(exact=False, shots=True, noise=True, hardware=False)
    takes_argument = True

    def __init__(self) -> None:
        self._compiled: dict[Any, Any] = {}
        self.last_stats: dict[str, Any] = {}
        self._record: Any = None

    def device_graph(self) -> Any:
        raise NotImplementedError

    def compiled(self, task: QuantumTask, basis: dict[int, str]) -> Any:
        """The compiled circuit for *task* and *basis* (cached per task and basis)."""
        from qaudit_google.compile import compile_task

        # keyed by what the compiled circuit depends on (not the samples): the plan and the run share it
        key = (str(task.circuit), tuple(task.param_names), tuple(np.asarray(task.param_values).tolist()),
               task.n_qubits, tuple(sorted(basis.items())))
        if key not in self._compiled:
            self._compiled[key] = (task, compile_task(task, self.device_graph(), basis))
            stats = self._compiled[key][1].stats()
            self.last_stats = {"backend": f"{self.name}:{self.processor}", "logical_qubits": task.n_qubits, **stats}
            print(f"{self.name}:{self.processor}: compiled {task.n_qubits} qubits: depth {stats['depth']}, "
                  f"{stats['two_qubit_gates']} two-qubit (CZ) gates, {stats['swaps']} swaps", file=sys.stderr)
        return self._compiled[key][1]

    def counts(self, compiled: Any, task: QuantumTask, shots: int, seed: int | None) -> np.ndarray:
        """(n_samples, 2**n) counts of the measured logical bit strings."""
        raise NotImplementedError

    # ------------------------------------------------------------------ PlanningBackend contract
    def _plan(self, task: QuantumTask, shots: int, groups: list[dict[int, str]], note: str) -> ExecutionPlan:
        stats = [self.compiled(task, basis).stats() for basis in groups]
        jobs = len(groups) if self.capabilities.hardware else 0  # one run_sweep per basis group on Engine
        return ExecutionPlan(f"{self.name}:{self.processor}", circuits=len(groups),
                             bindings=task.n_samples * len(groups), shots=shots, units=len(groups), jobs=jobs,
                             depth=max(s["depth"] for s in stats),
                             two_qubit_gates=max(s["two_qubit_gates"] for s in stats), qpu_seconds=None,
                             notes=[note])

    def _groups(self, task: QuantumTask) -> list[dict[int, str]]:
        from qaudit_backends.common import basis_groups

        from qaudit.sdk.engine import task_observables

        if task_observables(task).diagonal:  # the query path calls sample(): the computational basis only
            return [{}]
        return [basis for basis, _ in basis_groups(task.observables, task.n_qubits)]

    def plan(self, task: QuantumTask, shots: int | None) -> ExecutionPlan:
        """What the query path submits for *task*: one compiled circuit per basis group, every sample a
        resolver of its state-preparation angles (compiles, runs nothing); no QPU-time model."""
        from qaudit_backends.common import check_shots

        shots = check_shots(shots)
        if shots is None:
            raise QauditError(f"backend {self.name} measures: pass --shots N")
        note = ("Engine: one run_sweep per basis group; no QPU-time model" if self.capabilities.hardware
                else "virtual processor: simulated locally with qsim, nothing is submitted")
        return self._plan(task, shots, self._groups(task), note)

    def _note_run(self, task: QuantumTask, shots: int, groups: list[dict[int, str]]) -> None:
        record = self._plan(task, shots, groups, "run")
        self._record = record if self._record is None else self._record.add(record)

    def submitted(self) -> ExecutionPlan | None:
        """What this instance ran or submitted so far (same fields as :meth:`plan`)."""
        return self._record

    def use_checkpoints(self, store: Any) -> None:
        """Accepted for the contract; a Google run is one synchronous sweep per basis group, so there are no
        job ids to checkpoint (an interrupted run is rerun)."""
        self._store = store

    def facts(self) -> dict[str, Any]:
        """Processor, compilation and noise facts for the report (no credentials)."""
        return {"backend": f"{self.name}:{self.processor}", **{k: v for k, v in self.last_stats.items()
                                                                 if k != "physical_qubits"}}

    def expectation(self, task: QuantumTask, shots: int | None = None, seed: int | None = None) -> np.ndarray:
        """Shot estimates of every observable (``shots`` bit strings per sample and basis)."""
        from qaudit_backends.common import basis_groups, check_shots, parity_table

        shots = check_shots(shots)
        if shots is None:
            raise QauditError(f"backend {self.name} measures: pass --shots N")
        if task.n_qubits > self.max_qubits():
            raise QauditError(f"circuit has {task.n_qubits} qubits, too wide for {self.name}:{self.processor} "
                              f"(at most {self.max_qubits()})")
        out = np.zeros((task.n_samples, len(task.observables)))
        groups = basis_groups(task.observables, task.n_qubits)
        self._note_run(task, shots, [basis for basis, _ in groups])
        for g, (basis, members) in enumerate(groups):
            compiled = self.compiled(task, basis)
            counts = self.counts(compiled, task, shots, None if seed is None else seed + 7919 * g)
            out[:, members] = _estimate(counts, parity_table(task.observables, members, task.n_qubits), shots)
        return out

    def sample(self, task: QuantumTask, shots: int, seed: int | None = None) -> np.ndarray:
        """(n_samples, 2**n) counts of computational-basis bit strings per sample."""
        self._note_run(task, int(shots), [{}])
        return self.counts(self.compiled(task, {}), task, int(shots), seed)

    def max_qubits(self) -> int:
        return self.device_graph().number_of_nodes()


class GoogleVirtualBackend(GoogleBackendBase):
    """cirq-google virtual processor, offline: device graph + median-calibration noise,
    simulated with qsim (``google:rainbow``, ``google:weber``, ``google:willow_pink``;
    options ``noise=none``, ``threads=N``)."""

    name = "google"
    description = "cirq-google virtual processor (rainbow, weber, willow_pink): routed, CZ-compiled, device noise, qsim"
    capabilities = Capabilities(exact=False, shots=True, noise=True, hardware=False, max_qubits=MAX_SIMULATED)

    def __init__(self, argument: str | None = None):
        super().__init__()
        self.processor, options = _processor(argument, self.name, VIRTUAL)
        unknown = set(options) - {"noise", "threads"}
        if unknown:
            raise QauditError(f"backend google: unknown option(s) {', '.join(sorted(unknown))} (known: noise, threads)")
        if options.get("noise", "device") not in ("device", "none"):
            raise QauditError("backend google: noise must be 'device' or 'none'")
        self.noisy = options.get("noise", "device") == "device"
        try:
            self.threads = int(options.get("threads", "1"))
        except ValueError:
            raise QauditError("backend google: threads must be an integer") from None
        self._graph = None

    def device_graph(self) -> Any:
        if self._graph is None:
            import cirq_google

            device = cirq_google.engine.create_device_from_processor_id(self.processor)
            self._graph = device.metadata.nx_graph
        return self._graph

    def max_qubits(self) -> int:
        return min(MAX_SIMULATED, self.device_graph().number_of_nodes())

    def noise_model(self) -> Any:
        import cirq_google

        props = cirq_google.engine.load_device_noise_properties(self.processor)
        return cirq_google.NoiseModelFromGoogleNoiseProperties(props)

    def noisy_circuit(self, compiled: Any) -> Any:
        """The compiled circuit with the device noise inserted (once per compiled circuit)."""
        import cirq

        if not self.noisy:
            return compiled.circuit
        if getattr(compiled, "noisy", None) is None:
            qubits = sorted(compiled.circuit.all_qubits())
            from qaudit_google.compile import merge_single_qubit_channels

            noisy = cirq.Circuit(self.noise_model().noisy_moments(compiled.circuit.moments, qubits))
            compiled.noisy = merge_single_qubit_channels(noisy)
        return compiled.noisy

    def simulator(self, seed: int | None) -> Any:
        import qsimcirq

        return qsimcirq.QSimSimulator(qsimcirq.QSimOptions(cpu_threads=self.threads), seed=seed)

    def counts(self, compiled: Any, task: QuantumTask, shots: int, seed: int | None) -> np.ndarray:
        import cirq

        from qaudit_google.compile import counts_from_bits, prep_resolvers

        circuit = self.noisy_circuit(compiled) + cirq.Circuit(cirq.measure(*compiled.measured, key="m"))
        sim = self.simulator(seed)
        out = np.zeros((task.n_samples, 2**task.n_qubits), dtype=np.int64)
        for i, resolver in enumerate(prep_resolvers(task)):
            result = sim.run(cirq.resolve_parameters(circuit, cirq.ParamResolver(resolver)), repetitions=shots)
            out[i] = counts_from_bits(result.measurements["m"])
        return out

    def final_states(self, task: QuantumTask) -> np.ndarray:
        """Noiseless final states of the compiled circuit (logical qubit order) -- for checks."""
        import cirq

        from qaudit_google.compile import prep_resolvers

        compiled = self.compiled(task, {})
        sim = cirq.Simulator(dtype=np.complex128)
        out = []
        for resolver in prep_resolvers(task):
            resolved = cirq.resolve_parameters(compiled.circuit, cirq.ParamResolver(resolver))
            out.append(sim.simulate(resolved, qubit_order=compiled.measured).final_state_vector)
        return np.array(out)

    def describe(self, task: QuantumTask | None = None) -> dict[str, Any]:
        """Processor facts; with *task*, also the compiled depth and two-qubit gate count."""
        info = {"backend": f"{self.name}:{self.processor}", "device_qubits": self.device_graph().number_of_nodes(),
                "noise": "device (median calibration)" if self.noisy else "none"}
        if task is not None:
            self.compiled(task, {})
            info.update(self.last_stats)
        return info


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _credentials_problem() -> str | None:
    """Why Google credentials are unavailable (checked offline), or None."""
    explicit = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if explicit:
        if Path(explicit).is_file():
            return None
        return f"GOOGLE_APPLICATION_CREDENTIALS points to a missing file {explicit}"
    config = Path(os.environ.get("CLOUDSDK_CONFIG", Path.home() / ".config" / "gcloud"))
    if (config / "application_default_credentials.json").is_file():
        return None
    return ("no Google Cloud credentials: set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file "
            "or run `gcloud auth application-default login`")


class GoogleEngineBackend(GoogleBackendBase):
    """Real Google Quantum AI hardware through ``cirq_google.Engine``
    (``google-engine:PROCESSOR[,project=ID]``; project also from ``GOOGLE_CLOUD_PROJECT``).
    Credentials and project are checked before any network call; Engine calls time out."""

    name = "google-engine"
    description = "Google Quantum AI hardware via cirq_google.Engine (needs credentials and --project)"
    capabilities = Capabilities(exact=False, shots=True, noise=True, hardware=True)

    def __init__(self, argument: str | None = None):
        super().__init__()
        self.processor, options = _processor(argument, self.name, None)
        unknown = set(options) - {"project", "timeout"}
        if unknown:
            raise QauditError(f"backend google-engine: unknown option(s) {', '.join(sorted(unknown))} "
                              "(known: project, timeout)")
        self.project = options.get("project") or os.environ.get("GOOGLE_CLOUD_PROJECT")
        if not self.project:
            raise QauditError("backend google-engine needs a Google Cloud project: "
                              "--backend google-engine:PROCESSOR,project=ID or GOOGLE_CLOUD_PROJECT")
        problem = _credentials_problem()
        if problem:
            raise QauditError(f"backend google-engine: {problem}")
        try:
            self.timeout = int(options.get("timeout", ENGINE_TIMEOUT))
        except ValueError:
            raise QauditError("backend google-engine: timeout must be an integer (seconds)") from None
        self._processor_handle = None
        self._graph = None

    def handle(self) -> Any:
        """The ``EngineProcessor`` (first network use; errors become one-line messages)."""
        if self._processor_handle is None:
            import cirq_google

            try:
                engine = cirq_google.Engine(project_id=self.project, timeout=self.timeout)
                self._processor_handle = engine.get_processor(self.processor)
            except Exception as exc:  # network, auth, unknown processor
                raise QauditError(f"backend google-engine: cannot reach processor {self.processor!r} "
                                  f"in project {self.project!r}: {_first_line(exc)}") from None
        return self._processor_handle

    def device_graph(self) -> Any:
        if self._graph is None:
            try:
                device = self.handle().get_device()
                self._graph = device.metadata.nx_graph
            except QauditError:
                raise
            except Exception as exc:
                raise QauditError(f"backend google-engine: cannot read the device of {self.processor!r}: "
                                  f"{_first_line(exc)}") from None
        return self._graph

    def counts(self, compiled: Any, task: QuantumTask, shots: int, seed: int | None) -> np.ndarray:
        """One Engine job: the compiled circuit swept over the samples' preparation angles."""
        import cirq

        from qaudit_google.compile import counts_from_bits, prep_resolvers

        circuit = compiled.circuit + cirq.Circuit(cirq.measure(*compiled.measured, key="m"))
        sweep = [cirq.ParamResolver(r) for r in prep_resolvers(task)]
        try:
            results = self.handle().get_sampler().run_sweep(circuit, params=sweep, repetitions=shots)
        except Exception as exc:
            raise QauditError(f"backend google-engine: job failed: "
                              f"{_first_line(exc)}") from None
        return np.array([counts_from_bits(r.measurements["m"]) for r in results])
