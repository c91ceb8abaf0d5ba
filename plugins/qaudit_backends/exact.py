"""``exact``: the built-in numpy engine (shared unitary / batched adjoint), the default."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from qaudit.protocols import Capabilities, QuantumTask


class ExactBackend:
    """Exact expectation values from the engine; a task's own noise model (a model trained with
    ``--noise``) is applied exactly in the Heisenberg picture."""

    name = "exact"
    roles: ClassVar[frozenset[str]] = frozenset({"default"})
    description = "built-in exact state-vector engine (numpy; the model's own noise model exactly); the default"
    capabilities = Capabilities(exact=True, shots=False, noise=True, hardware=False, max_qubits=24)

    def expectation(self, task: QuantumTask, shots: int | None = None, seed: int | None = None) -> np.ndarray:
        """(n_samples, n_observables) exact values (``shots`` must be None: this backend does not measure)."""
        from qaudit.engine.tasks import exact_expectations
        from qaudit.errors import QauditError

        if shots:
            raise QauditError("backend 'exact' does not measure: drop --shots or use a sampling backend")
        return exact_expectations(task)
