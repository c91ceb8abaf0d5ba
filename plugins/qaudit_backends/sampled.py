"""``sampled``: exact probabilities from the engine + numpy multinomial shots (seeded)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from qaudit.sdk import MAX_STATEVECTOR_QUBITS, Capabilities, QuantumTask
from qaudit_backends.common import MeasuringBackend, rotate_states


class SampledBackend(MeasuringBackend):
    """Estimates <P> the way hardware does: ``shots`` bit strings per sample and per
    measured basis, drawn from the exact engine's probabilities."""

    name = "sampled"
    roles: ClassVar[frozenset[str]] = frozenset({"shots"})
    description = "exact engine probabilities + multinomial shot sampling per basis (seeded)"
    capabilities = Capabilities(exact=True, shots=True, noise=False, hardware=False, max_qubits=MAX_STATEVECTOR_QUBITS)

    def __init__(self) -> None:
        self._cache: tuple[QuantumTask, np.ndarray] | None = None

    def final_states(self, task: QuantumTask) -> np.ndarray:
        """(n_samples, 2**n) final state vectors from the exact engine (cached per task)."""
        from qaudit.sdk.engine import final_states

        if self._cache is None or self._cache[0] is not task:
            self._cache = (task, final_states(task))
        return self._cache[1]

    def expectation(self, task: QuantumTask, shots: int | None = None, seed: int | None = None) -> np.ndarray:
        """Exact values or shot estimates; the engine's final states are computed once per call."""
        self._cache = None
        try:
            return super().expectation(task, shots, seed)
        finally:
            self._cache = None

    def sample(self, task: QuantumTask, shots: int, seed: int | None = None) -> np.ndarray:
        """(n_samples, 2**n) counts of *shots* computational-basis bit strings per sample."""
        self._cache = None
        try:
            return super().sample(task, shots, seed)
        finally:
            self._cache = None

    def probabilities(self, task: QuantumTask, basis: dict[int, str]) -> np.ndarray:
        psi = rotate_states(self.final_states(task), basis, task.n_qubits)
        return psi.real**2 + psi.imag**2
