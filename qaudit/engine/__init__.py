"""The exact engine: batched state vectors, shared unitaries and adjoint gradients.

Two exact paths compute the same numbers:

* **shared unitary** -- when every sample runs the same circuit on a different
  amplitude-encoded input, build ``U`` once (cost independent of
  batch size; U after each trainable stage is kept), then ``Ψ = X · Uᵀ`` is one
  matmul (a real GEMM for real inputs); the gradient contracts the batch into a
  (2^n x 2^n) cotangent ``G`` and does one adjoint sweep over U's columns.
* **batched** -- per-sample state vectors and a batched adjoint sweep; used for
  small batches, per-sample gradients, input-dependent gates and registers too
  wide for a 2^n x 2^n matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from qaudit.engine.observables import PauliObservables
from qaudit.engine.program import Program
from qaudit.engine.scratch import scratch
from qaudit.engine.statevector import adjoint_sweep, resolve, run, run_saving, single_thread_blas
from qaudit.sdk.errors import QauditError

Method = Literal["auto", "unitary", "batched"]

#: Largest register for which the shared-unitary path may build a 2^n x 2^n matrix.
MAX_UNITARY_QUBITS = 11
#: Memory budget (bytes) for one chunk of per-sample state vectors.
CHUNK_BYTES = 1 << 27
#: Default rule (registers not in UNITARY_MIN_BATCH: n <= 3 and the unmeasured n = 11): the
#: shared-unitary path is chosen when batch * UNITARY_CROSSOVER >= 2**n, i.e. batch >= 2 * 2**n,
#: extrapolated from n = 10 where the crossover lies between 2**n and 2 * 2**n.
UNITARY_CROSSOVER = 0.5
#: Measured with benchmarks/engine_crossover.py (basic QNN, 5 layers, loss + gradient, median CPU
#: time; benchmarks/README.md): smallest batch from which the shared-unitary path is faster at
#: every larger measured batch. Up to 6 qubits both paths cost 2-4 ms per call (Python
#: overhead) and are within ~10 % of each other at every batch size; from 7 qubits on the
#: per-sample batched path wins until the batch reaches about the dimension 2**n.
UNITARY_MIN_BATCH = {4: 64, 5: 4, 6: 32, 7: 128, 8: 256, 9: 512, 10: 2048}

__all__ = [
    "Program",
    "PauliObservables",
    "Evaluation",
    "forward",
    "backward",
    "backward_features",
    "choose_method",
    "zero_states",
]


def choose_method(program: Program, batch: int, per_sample: bool = False) -> str:
    """Pick the fastest exact path for a batch (see module docstring)."""
    if program.input_dependent or per_sample or program.n_qubits > MAX_UNITARY_QUBITS:
        return "batched"
    threshold = UNITARY_MIN_BATCH.get(program.n_qubits, program.dim / UNITARY_CROSSOVER)
    return "unitary" if batch >= threshold else "batched"


def zero_states(batch: int, n_qubits: int) -> np.ndarray:
    """(batch, 2**n) states all equal to |0...0>."""
    states = np.zeros((batch, 2**n_qubits), dtype=np.complex128)
    states[:, 0] = 1.0
    return states


@dataclass
class Evaluation:
    """What :func:`backward` needs from a :func:`forward` call."""

    program: Program
    observables: PauliObservables
    method: str
    resolved: list
    states: np.ndarray
    psi: np.ndarray
    unitary: np.ndarray | None = None  # the shared U (shared-unitary path)
    features: np.ndarray | None = None
    theta: np.ndarray | None = None
    real_states: np.ndarray | None = None  # float64 copy of *states* when they are real
    saved: list | None = None  # U after each trainable stage (shared-unitary path), for the sweep


def _real_part(states: np.ndarray) -> np.ndarray | None:
    """The real part of *states* as a contiguous float64 array if the imaginary part is zero."""
    if np.isrealobj(states):
        return np.ascontiguousarray(states, dtype=np.float64)
    if np.any(states.imag):
        return None
    return np.copyto(out := scratch(states.shape), states.real) or out


def _forward(
    program: Program,
    theta: np.ndarray,
    observables: PauliObservables,
    states: np.ndarray | None = None,
    features: np.ndarray | None = None,
    method: Method = "auto",
) -> tuple[np.ndarray, Evaluation]:
    """Expectation values (batch, n_obs) for initial *states* (rows; default |0>).

    *features* (batch, n_features) bind the program's input symbols per sample.
    """
    theta = np.asarray(theta, dtype=float)
    if states is None:
        batch = features.shape[0] if features is not None else 1
        states = zero_states(batch, program.n_qubits)
    states = np.asarray(states)  # real amplitude-encoded inputs stay real on the shared-unitary path
    if method == "auto":
        method = choose_method(program, states.shape[0])
    if method == "unitary":
        if program.input_dependent:
            raise ValueError("the shared-unitary path needs a circuit without input-dependent gates")
        if program.n_qubits > MAX_UNITARY_QUBITS:
            raise QauditError(f"the shared-unitary path is limited to {MAX_UNITARY_QUBITS} qubits "
                              f"(got {program.n_qubits}); use method='batched'")
        resolved = resolve(program, theta)
        unitary, saved = run_saving(program, resolved)  # from the identity
        real = _real_part(states)
        if real is not None:
            # Real inputs (amplitude encoding): one real GEMM on U's interleaved re/im parts.
            u_t = np.ascontiguousarray(unitary.T).view(np.float64)
            psi = scratch((len(real), program.dim), np.complex128)
            np.matmul(real, u_t, out=psi.view(np.float64))
        else:
            states = np.asarray(states, dtype=np.complex128)
            psi = states @ unitary.T
        ev = observables.expval(psi)
        return ev, Evaluation(program, observables, method, resolved, states, psi, unitary, features, theta,
                              real, saved)
    states = np.asarray(states, dtype=np.complex128)
    chunk = max(1, CHUNK_BYTES // (16 * program.dim))
    psis = []
    resolved_all = None if program.input_dependent else resolve(program, theta)
    for start in range(0, states.shape[0], chunk):
        part = states[start : start + chunk]
        res = resolved_all
        if res is None:
            res = resolve(program, theta, features[start : start + chunk])
        psis.append(run(program, res, np.ascontiguousarray(part.T)).T)
    psi = np.concatenate(psis) if len(psis) != 1 else psis[0]
    ev = observables.expval(psi)
    return ev, Evaluation(program, observables, "batched", resolved_all, states, psi, None, features, theta)


def _backward(
    evaluation: Evaluation,
    d_ev: np.ndarray,
    per_sample: bool = False,
    input_grad: bool = False,
    feature_grads: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`backward` without the BLAS thread limit (*feature_grads*: see :func:`backward_features`)."""
    ev = evaluation
    program = ev.program
    lam = ev.observables.cotangent(ev.psi, np.asarray(d_ev, dtype=float))
    if ev.method == "unitary" and not per_sample and feature_grads is None:
        # psi_n = U x_n, so G = dL/dU* = Σ_n λ_n x_n^H: one matmul, then one adjoint sweep over the
        # columns of U (the states after each stage were kept by the forward pass). The sweep
        # carries conj(G), written column-major-to-row-major in the same pass as the conjugation.
        if ev.real_states is not None:
            g_t = scratch((program.dim, program.dim), np.complex128)
            np.matmul(ev.real_states.T, np.ascontiguousarray(lam).view(np.float64), out=g_t.view(np.float64))
        else:
            g_t = ev.states.T.conj() @ lam
        g_conj = np.conjugate(g_t.T, out=scratch((program.dim, program.dim), np.complex128))
        grad, _ = adjoint_sweep(program, ev.resolved, ev.unitary, g_conj, saved=ev.saved, conjugated=True,
                                input_grad=False)
        grad_states = lam @ ev.unitary.conj() if input_grad else None
        return grad, grad_states
    chunk = max(1, CHUNK_BYTES // (16 * program.dim))
    grads, lams = [], []
    for start in range(0, ev.psi.shape[0], chunk):
        stop = start + chunk
        res = ev.resolved
        if res is None:
            res = resolve(program, ev.theta, ev.features[start:stop])
        g, l0 = adjoint_sweep(
            program,
            res,
            np.ascontiguousarray(ev.psi[start:stop].T),
            np.ascontiguousarray(lam[start:stop].T),
            per_sample,
            feature_grads=None if feature_grads is None else feature_grads[start:stop],
        )
        grads.append(g)
        if input_grad:
            lams.append(l0.T)
    grad = np.concatenate(grads) if per_sample else np.sum(grads, axis=0)
    return grad, (np.concatenate(lams) if input_grad else None)


def forward(
    program: Program,
    theta: np.ndarray,
    observables: PauliObservables,
    states: np.ndarray | None = None,
    features: np.ndarray | None = None,
    method: Method = "auto",
) -> tuple[np.ndarray, Evaluation]:
    """Expectation values (batch, n_obs) for initial *states* (rows; default |0>).

    *features* (batch, n_features) bind the program's input symbols per sample.
    *method* is ``"unitary"``, ``"batched"`` or ``"auto"`` (:func:`choose_method`).
    Returns ``(ev, cache)``; pass the cache to :func:`backward`.
    """
    with single_thread_blas():
        return _forward(program, theta, observables, states, features, method)


def backward(
    evaluation: Evaluation,
    d_ev: np.ndarray,
    per_sample: bool = False,
    input_grad: bool = False,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Gradient of a loss through the circuit.

    *d_ev* is dL/d<O> with shape (batch, n_obs). Returns ``(grad_theta,
    grad_states)``: grad_theta is (n_params,) or (batch, n_params) if
    *per_sample*; grad_states is dL/dψ0* (batch, 2**n) when *input_grad*
    (for a real input x, dL/dx = 2·Re of it), else None.
    """
    with single_thread_blas():
        return _backward(evaluation, d_ev, per_sample, input_grad)


def backward_features(
    evaluation: Evaluation,
    d_ev: np.ndarray,
    per_sample: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient of a loss through the circuit, with respect to its parameters and its input features.

    Like :func:`backward` (``grad_theta`` is (n_params,) or (batch, n_params) if *per_sample*), plus
    ``grad_features`` (batch, n_features) float64: row n is dL/dx_n for sample n's feature values (the
    angles an angle encoding binds), by the same adjoint sweep. The forward pass must be per-sample
    (``method="batched"``, which every input-dependent circuit uses); this is what trains a classical
    encoder in front of the circuit.
    """
    ev = evaluation
    if ev.method != "batched" or ev.features is None:
        raise ValueError("feature gradients need a batched forward pass with input features")
    out = np.zeros((ev.psi.shape[0], len(ev.program.feature_names)))
    with single_thread_blas():
        grad, _ = _backward(evaluation, d_ev, per_sample, False, feature_grads=out)
    return grad, out
