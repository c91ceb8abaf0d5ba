"""``exact``: the built-in numpy engine (shared unitary / batched adjoint), the default; qsim for wide circuits.

Which exact path runs is chosen per task (:func:`exact_path`), by width and batch:

- shared unitary (engine): up to ``qaudit.engine.MAX_UNITARY_QUBITS`` (11) qubits, one 2**n x 2**n
  matrix; chosen when the batch is large enough to amortise it (``qaudit.engine.choose_method``);
- batched state vector (engine, adjoint gradients): up to ``qaudit.sdk.limits.MAX_STATEVECTOR_QUBITS`` (16),
  16 B x 2**n per sample in chunks; chosen otherwise, and for every training run;
- qsim (qsimcirq, one state per sample): up to ``qaudit.sdk.limits.MAX_QNN_QUBITS`` (20), 8 B x 2**n per
  sample at a time; chosen for noiseless tasks wider than 16 qubits (evaluation only).

Wider noisy tasks are refused (the engine's exact Heisenberg noise does not scale past 16 qubits).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from qaudit.sdk import MAX_QNN_QUBITS, MAX_STATEVECTOR_QUBITS, Capabilities, QuantumTask


def exact_path(task: QuantumTask) -> str:
    """``"unitary"``, ``"batched"`` (the numpy engine) or ``"qsim"``: the exact path for *task* (table above)."""
    if task.n_qubits > MAX_STATEVECTOR_QUBITS:
        return "qsim"
    from qaudit.sdk.engine import choose_method, engine_program

    return choose_method(engine_program(task).program, task.n_samples)


class ExactBackend:
    """Exact expectation values from the engine; a task's own noise model (a model trained with
    ``--noise``) is applied exactly in the Heisenberg picture. Tasks wider than the engine's state-vector
    limit run on qsim (noiseless, exact up to single-precision rounding)."""

    name = "exact"
    roles: ClassVar[frozenset[str]] = frozenset({"default"})
    description = "built-in exact state-vector engine (numpy; the model's own noise model exactly); the default"
    capabilities = Capabilities(exact=True, shots=False, noise=True, hardware=False, max_qubits=MAX_QNN_QUBITS)

    def expectation(self, task: QuantumTask, shots: int | None = None, seed: int | None = None) -> np.ndarray:
        """(n_samples, n_observables) exact values (``shots`` must be None: this backend does not measure)."""
        from qaudit.sdk import QauditError
        from qaudit.sdk.engine import exact_expectations

        if shots:
            raise QauditError("backend 'exact' does not measure: drop --shots or use a sampling backend")
        if exact_path(task) == "qsim":
            if task.noise:
                raise QauditError(f"backend 'exact': a noisy {task.n_qubits}-qubit task is wider than the exact "
                                  f"noise engine's {MAX_STATEVECTOR_QUBITS} qubits; use --backend qsim:noise=...")
            from qaudit_backends.qsim_backend import QsimBackend

            return QsimBackend().expectation(task)
        return exact_expectations(task)
