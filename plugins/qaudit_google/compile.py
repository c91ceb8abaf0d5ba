"""Compile a model task for a Google device: state preparation, routing, CZ gateset.

The logical circuit is ``prep(x) + U(θ) + basis rotation``. The state preparation
(:mod:`qaudit_google.stateprep`) keeps its per-sample angles symbolic, so the whole
circuit is routed (``cirq.RouteCQC`` on a connected patch of the device graph with as
many qubits as the model) and compiled (``cirq.optimize_for_target_gateset`` with
``cirq.CZTargetGateset``) **once**; each sample only resolves the angles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from qaudit.sdk import QauditError, QuantumTask


@dataclass
class Compiled:
    """A routed, compiled (still symbolic in the preparation angles) circuit."""

    circuit: Any  # on device qubits, measurement not included
    measured: list  # device qubit holding logical qubit j at the end
    depth: int
    two_qubit_gates: int
    swaps: int
    physical_qubits: list
    noisy: Any = None  # the circuit with device noise, filled in by the virtual backend

    def stats(self) -> dict[str, Any]:
        return {"depth": self.depth, "two_qubit_gates": self.two_qubit_gates, "swaps": self.swaps,
                "physical_qubits": [str(q) for q in self.physical_qubits]}


def device_patch(graph: Any, n: int) -> Any:
    """A connected subgraph of *graph* with *n* nodes (BFS from the most central node)."""
    import networkx as nx

    if n > graph.number_of_nodes():
        raise QauditError(f"circuit needs {n} qubits, the device has {graph.number_of_nodes()}")
    centrality = nx.closeness_centrality(graph)
    center = max(sorted(graph.nodes), key=lambda q: centrality[q])
    nodes = list(nx.bfs_tree(graph, center).nodes)[:n]
    return graph.subgraph(nodes).copy()


def _symbolic_ry_to_phxz(op: Any, _: int = 0) -> Any:
    """Symbolic Ry (not merged by the compiler) -> PhasedXZ, a native gate of the device."""
    import cirq

    gate = op.gate
    if isinstance(gate, cirq.YPowGate) and cirq.is_parameterized(gate):
        return cirq.PhasedXZGate(x_exponent=gate.exponent, z_exponent=0, axis_phase_exponent=0.5).on(*op.qubits)
    return op


def compile_task(task: QuantumTask, graph: Any, basis: dict[int, str]) -> Compiled:
    """Route and compile the task's circuit (with state preparation and *basis* rotation)."""
    import cirq
    from qaudit_backends.common import rotation_ops

    from qaudit_google.stateprep import prep_circuit

    if task.states is None:
        raise QauditError("Google backends need amplitude-encoded inputs (angle-encoded models are not supported)")
    qubits = list(task.qubits)
    model = cirq.resolve_parameters(task.circuit, cirq.ParamResolver(task.resolver()))
    logical = prep_circuit(qubits) + model + cirq.Circuit(rotation_ops(basis, qubits))
    patch = device_patch(graph, len(qubits))
    router = cirq.RouteCQC(patch)
    routed, initial, swaps = router.route_circuit(logical)
    compiled = cirq.optimize_for_target_gateset(routed, gateset=cirq.CZTargetGateset())
    compiled = cirq.map_operations(compiled, _symbolic_ry_to_phxz)
    measured = [swaps[initial[q]] for q in qubits]
    n_swaps = sum(1 for op in routed.all_operations() if isinstance(op.gate, cirq.SwapPowGate))
    two = sum(1 for op in compiled.all_operations() if len(op.qubits) == 2)
    return Compiled(compiled, measured, len(compiled), two, n_swaps, sorted(patch.nodes))


def prep_resolvers(task: QuantumTask) -> list[dict[str, float]]:
    """Per-sample resolvers of the state-preparation angles."""
    from qaudit_google.stateprep import prep_angles, symbol_names

    names = symbol_names(task.n_qubits)
    angles = prep_angles(task.states)
    return [dict(zip(names, row.tolist())) for row in angles]


def counts_from_bits(bits: np.ndarray) -> np.ndarray:
    """(shots, n) measured bits -> (2**n,) counts (qubit 0 = most significant bit)."""
    n = bits.shape[1]
    index = bits.astype(np.int64) @ (1 << np.arange(n - 1, -1, -1))
    return np.bincount(index, minlength=2**n)


def merge_single_qubit_channels(circuit: Any) -> Any:
    """Fold every run of single-qubit channels on a qubit (between two gates on it) into one
    ``cirq.KrausChannel`` with at most 4 Kraus operators (Choi-matrix compression).

    Exact: the channels of a run act on the same qubit with nothing else on it in between.
    The device noise model inserts thermal noise on every qubit in every moment, so this cuts
    the number of channel operations qsim has to translate (per sample) several-fold.
    """
    import cirq

    pending: dict[Any, list[np.ndarray]] = {}
    ops: list[Any] = []

    def flush(q: Any) -> None:
        kraus = pending.pop(q, None)
        if kraus is None:
            return
        ops.append(cirq.KrausChannel(kraus).on(q))

    for op in circuit.all_operations():
        channel = (len(op.qubits) == 1 and not cirq.is_parameterized(op) and not cirq.is_measurement(op)
                   and not cirq.has_unitary(op) and cirq.has_kraus(op))
        if channel:
            q = op.qubits[0]
            new = [np.asarray(k, dtype=np.complex128) for k in cirq.kraus(op)]
            old = pending.get(q)
            pending[q] = new if old is None else _compress([b @ a for a in old for b in new])
            continue
        for q in op.qubits:
            flush(q)
        ops.append(op)
    for q in list(pending):
        flush(q)
    return cirq.Circuit(ops)


def _compress(kraus: list[np.ndarray]) -> list[np.ndarray]:
    """An equivalent set of at most d^2 Kraus operators (eigenvectors of the Choi matrix)."""
    d = kraus[0].shape[0]
    vecs = np.array([k.reshape(-1) for k in kraus])
    choi = vecs.T @ vecs.conj()
    values, vectors = np.linalg.eigh(choi)
    return [np.sqrt(v) * vectors[:, i].reshape(d, d) for i, v in enumerate(values) if v > 1e-14]
