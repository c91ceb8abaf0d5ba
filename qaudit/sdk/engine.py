"""The engine sub-API: qaudit's exact state-vector engine, for plugins that run circuits without Cirq.

Backends (``exact``, ``sampled``, the noisy and hardware backends), circuit-classifier models and
unlearning methods that work on state vectors use these: compile a :class:`qaudit.sdk.QuantumTask` to an
engine :class:`Program`, evaluate it exactly (:func:`exact_expectations`, :func:`final_states`,
:func:`forward`/:func:`backward`), apply resolved blocks to states, and build the density-matrix
noise model. Covered by :data:`qaudit.sdk.API_VERSION` like the rest of :mod:`qaudit.sdk`; the modules
under ``qaudit.engine`` themselves are internal.

Names are re-exported lazily (PEP 562): importing this module imports neither numpy nor the engine.
"""

from qaudit.sdk._lazy import exports as _exports

_NAMES: dict[str, str] = {
    # programs, evaluation and gradients
    "Program": "qaudit.engine.program",
    "PauliObservables": "qaudit.engine.observables",
    "parse_pauli": "qaudit.engine.observables",
    "Gate": "qaudit.engine.gates",
    "to_cirq": "qaudit.engine.gates",
    "choose_method": "qaudit.engine",
    "zero_states": "qaudit.engine",
    "forward": "qaudit.engine",
    "backward": "qaudit.engine",
    # state-vector kernels
    "resolve": "qaudit.engine.statevector",
    "apply_block": "qaudit.engine.statevector",
    "apply_matrix": "qaudit.engine.statevector",
    "local_overlap": "qaudit.engine.statevector",
    # quantum tasks on the engine
    "engine_program": "qaudit.engine.tasks",
    "exact_expectations": "qaudit.engine.tasks",
    "final_states": "qaudit.engine.tasks",
    "readout_table": "qaudit.engine.tasks",
    "task_observables": "qaudit.engine.tasks",
    # noise
    "NoiseModel": "qaudit.engine.noise",
    "MAX_NOISY_QUBITS": "qaudit.engine.noise",
    "noisy_forward": "qaudit.engine.noise",
    "noisy_program_for": "qaudit.engine.noise",
}

__all__ = sorted(_NAMES)

__getattr__, __dir__ = _exports(__name__, _NAMES)
