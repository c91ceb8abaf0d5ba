"""Exact noisy evaluation in the Heisenberg picture, with exact gradients.

A noisy circuit is a fixed channel E(θ); for an input state x the readout is
``<O_j> = x† E†(O_j) x``. Instead of evolving one density matrix per sample,
each observable is propagated *backwards* through the adjoint channel once per
parameter set, and every sample is then a quadratic form (one batched matmul).

Representation: observables are kept as real Pauli-transfer coefficient vectors
(``O = Σ_P c_P P`` over the 4^n Pauli strings; real because O is Hermitian).
Every operation acts on at most two qubits, so it is a small real matrix
``R`` (4^k x 4^k, ``R_ab = tr(P_a K† P_b K)/2^k`` summed over Kraus operators K)
applied locally on the coefficient tensor -- never a dense 2^n Kronecker
product. Consecutive operations on the same qubits are fused into one stage
(a U3 and its depolarising channel are one 4x4 matrix; a CNOT and the two
depolarising channels after it are one 16x16 matrix), fixed stages are
precomputed once.

Gradients: with ``M_j = Σ_n dL/d<O_j>_n x_n x_n†`` (Pauli coefficients m_j) the
loss depends on θ through ``F = Σ_j <m_j, c_j>``; one backward (Heisenberg)
sweep stores the observables after each parametrised stage, one forward
(Schrödinger) sweep of m gives ``dF/dθ = Σ <μ_s, dR_s c_{s+1}>``. Cost is
independent of the batch size apart from the two batched matmuls.

Noise placement (:class:`NoiseModel`, the paper's model as placed by the
authors' code): depolarising(p1) after every run of single-qubit gates on a
qubit (a U3 emitted as rz·ry·rz is one block, so it gets one channel),
depolarising(p2) on both qubits after every two-qubit gate, bit-flip on every
qubit at the end of each layer (a layer ends where single-qubit gates follow
entangling gates, and at the end of the circuit).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qaudit.sdk.errors import QauditError

#: Widest register for the Heisenberg engine (observables are n_obs x 4^n float64: 67 MB for
#: 8 observables at 10 qubits; gradients keep one copy per parametrised stage).
MAX_NOISY_QUBITS = 10

_PAULI_1 = np.array(
    [[[1, 0], [0, 1]], [[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]], dtype=np.complex128
)
_PAULI_INDEX = {"I": 0, "X": 1, "Y": 2, "Z": 3}


# --------------------------------------------------------------------------- noise model
@dataclass(frozen=True)
class NoiseModel:
    """The paper's noise model with configurable rates (all probabilities in [0, 1])."""

    p1: float = 5e-4
    p2: float = 5e-3
    bitflip: float = 0.01

    PRESETS = ("paper", "none")

    @classmethod
    def parse(cls, text: str | None) -> NoiseModel | None:
        """``paper`` | ``none`` | ``p1=..,p2=..,bitflip=..`` (missing keys: paper values)."""
        if text is None:
            return None
        text = str(text).strip()
        if text in ("", "none", "off"):
            return None
        if text == "paper":
            return cls()
        values: dict[str, float] = {}
        for part in re.split(r"[,;]", text):
            if "=" not in part:
                raise QauditError(f"noise spec {text!r}: expected 'paper', 'none' or p1=..,p2=..,bitflip=..")
            key, value = (s.strip() for s in part.split("=", 1))
            key = {"p_bitflip": "bitflip", "readout": "bitflip"}.get(key, key)
            if key not in ("p1", "p2", "bitflip"):
                raise QauditError(f"noise spec: unknown rate {key!r} (known: p1, p2, bitflip)")
            try:
                number = float(value)
            except ValueError:
                raise QauditError(f"noise spec: {key}={value!r} is not a number") from None
            if not 0.0 <= number <= 1.0:
                raise QauditError(f"noise spec: {key}={value} must be a probability in [0, 1]")
            values[key] = number
        return cls(**values)

    @property
    def spec(self) -> str:
        """Canonical text form (round-trips through :meth:`parse`)."""
        if self == NoiseModel():
            return "paper"
        return f"p1={self.p1!r},p2={self.p2!r},bitflip={self.bitflip!r}"

    def to_json(self) -> dict[str, Any]:
        return {"p1": self.p1, "p2": self.p2, "bitflip": self.bitflip, "spec": self.spec}

    def apply(self, circuit: Any) -> Any:
        """The circuit with the noise channels inserted (see the module docstring)."""
        import cirq

        ops: list[Any] = []
        pending: dict[Any, bool] = {}
        qubits = sorted(circuit.all_qubits())
        entangled = False

        def flush(targets) -> None:
            for q in targets:
                if pending.get(q):
                    if self.p1:
                        ops.append(cirq.depolarize(self.p1).on(q))
                    pending[q] = False

        def end_layer() -> None:
            flush(qubits)
            if self.bitflip:
                ops.extend(cirq.bit_flip(self.bitflip).on(q) for q in qubits)

        for op in circuit.all_operations():
            if cirq.is_measurement(op):
                continue
            if len(op.qubits) == 1:
                if entangled:
                    end_layer()
                    entangled = False
                ops.append(op)
                pending[op.qubits[0]] = True
            else:
                flush(op.qubits)
                ops.append(op)
                if self.p2:
                    ops.extend(cirq.depolarize(self.p2).on(q) for q in op.qubits)
                entangled = True
        end_layer()
        return cirq.Circuit(ops)


# --------------------------------------------------------------------------- Pauli transfer matrices
def pauli_basis(k: int) -> np.ndarray:
    """(4^k, 2^k, 2^k) Pauli strings, qubit 0 = most significant, I,X,Y,Z = 0..3."""
    basis = np.ones((1, 1, 1), dtype=np.complex128)
    for _ in range(k):
        basis = np.einsum("aij,bkl->abikjl", basis, _PAULI_1).reshape(
            basis.shape[0] * 4, basis.shape[1] * 2, basis.shape[2] * 2)
    return basis


def ptm(kraus: list[np.ndarray]) -> np.ndarray:
    """Heisenberg transfer matrix R_ab = Σ_K Re tr(P_a K† P_b K) / 2^k."""
    d = kraus[0].shape[0]
    k = d.bit_length() - 1
    basis = pauli_basis(k)
    out = np.zeros((4**k, 4**k))
    for K in kraus:
        conj = np.einsum("ji,bjk,kl->bil", K.conj(), basis, K)
        out += np.einsum("aij,bji->ab", basis, conj).real
    return out / d


def ptm_derivative(U: np.ndarray, dU: np.ndarray) -> np.ndarray:
    """d R / dθ for a unitary stage: 2 Re tr(P_a U† P_b dU) / 2^k."""
    d = U.shape[0]
    basis = pauli_basis(d.bit_length() - 1)
    conj = np.einsum("ji,bjk,kl->bil", U.conj(), basis, dU)
    return 2.0 * np.einsum("aij,bji->ab", basis, conj).real / d


def _embed(matrix: np.ndarray, positions: tuple[int, ...], k: int) -> np.ndarray:
    """Embed an operator on *positions* (in that order) of a k-qubit register."""
    m = len(positions)
    if m == k and positions == tuple(range(k)):
        return matrix
    others = [i for i in range(k) if i not in positions]
    order = list(positions) + others
    full = np.kron(matrix, np.eye(2 ** (k - m))).reshape((2,) * (2 * k))
    axes = [order.index(i) for i in range(k)] + [k + order.index(i) for i in range(k)]
    return full.transpose(axes).reshape(2**k, 2**k)


def single_threaded_blas() -> Any:
    """Context limiting BLAS to one thread: the sweeps are many small products, for which
    multi-threaded BLAS mostly spins (10x slower on a loaded machine, measured)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        from contextlib import nullcontext

        return nullcontext()
    return threadpool_limits(1, user_api="blas")


def _apply_axis(view: np.ndarray, R: np.ndarray) -> np.ndarray:
    """out[x, a, r] = Σ_b R[a, b] view[x, b, r] with the fastest numpy kernel for the shape."""
    x, d, r = view.shape
    if r == 1:  # one gemm (fast with single-threaded BLAS, see single_threaded_blas)
        return (view.reshape(x, d) @ R.T).reshape(x, d, 1)
    return np.matmul(R, view)  # broadcast over x: small products, no copies


def apply_local(coeffs: np.ndarray, n: int, qubits: tuple[int, ...], R: np.ndarray) -> np.ndarray:
    """Apply R (4^k x 4^k) on the Pauli axes *qubits* of (batch, 4^n) coefficients."""
    k = len(qubits)
    batch = coeffs.shape[0]
    if k > 1 and list(qubits) != sorted(qubits):
        order = np.argsort(qubits)
        t = R.reshape((4,) * (2 * k)).transpose(list(order) + [k + o for o in order])
        R, qubits = t.reshape(4**k, 4**k), tuple(qubits[o] for o in order)
    lo, hi = qubits[0], qubits[-1]
    if hi - lo == k - 1:  # contiguous axes: one reshape, no copies
        view = coeffs.reshape(batch * 4**lo, 4**k, 4 ** (n - hi - 1))
        return np.ascontiguousarray(_apply_axis(view, R)).reshape(coeffs.shape)
    axes = [1 + q for q in qubits]
    tensor = np.moveaxis(coeffs.reshape((batch,) + (4,) * n), axes, list(range(1, k + 1)))
    shape = tensor.shape
    out = _apply_axis(np.ascontiguousarray(tensor).reshape(batch, 4**k, -1), R).reshape(shape)
    out = np.moveaxis(out, list(range(1, k + 1)), axes)
    return np.ascontiguousarray(out).reshape(coeffs.shape)


def local_gram(mu: np.ndarray, c: np.ndarray, n: int, qubits: tuple[int, ...]) -> np.ndarray:
    """G_ab = Σ mu[.., a, ..] c[.., b, ..] over the batch and all axes but *qubits*."""
    k = len(qubits)
    batch = mu.shape[0]
    axes = [1 + q for q in qubits]
    a = np.moveaxis(mu.reshape((batch,) + (4,) * n), axes, list(range(k))).reshape(4**k, -1)
    b = np.moveaxis(c.reshape((batch,) + (4,) * n), axes, list(range(k))).reshape(4**k, -1)
    return a @ b.T


def _monomial(R: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(source column per row, value per row) if R has one nonzero per row on a permutation."""
    src = np.argmax(np.abs(R), axis=1)
    values = R[np.arange(R.shape[0]), src]
    rebuilt = np.zeros_like(R)
    rebuilt[np.arange(R.shape[0]), src] = values
    if len(set(src.tolist())) != R.shape[0] or not np.allclose(rebuilt, R, atol=1e-15, rtol=0):
        return None
    return src, values


def _global_map(qubits: tuple[int, ...], src_local: np.ndarray, values: np.ndarray,
                n: int) -> tuple[np.ndarray, np.ndarray]:
    """Lift a local monomial map to all 4^n Pauli indices."""
    index = np.arange(4**n, dtype=np.int64)
    k = len(qubits)
    local = np.zeros_like(index)
    clear = index.copy()
    for pos, q in enumerate(qubits):
        shift = 2 * (n - 1 - q)
        local |= ((index >> shift) & 3) << (2 * (k - 1 - pos))
        clear &= ~(np.int64(3) << shift)
    src = src_local[local]
    full = clear.copy()
    for pos, q in enumerate(qubits):
        full |= ((src >> (2 * (k - 1 - pos))) & 3) << (2 * (n - 1 - q))
    return full, values[local]


# --------------------------------------------------------------------------- compiled noisy program
@dataclass
class Stage:
    """Fused operations on ``qubits``; items in circuit order.

    Each item is ``("fixed", R)`` (an embedded, precomputed transfer matrix) or
    ``("gate", factor)`` (a symbolic unitary spanning all stage qubits).
    """

    qubits: tuple[int, ...]
    items: list[tuple[str, Any]] = field(default_factory=list)
    fixed_R: np.ndarray | None = None
    #: Fixed runs of monomial stages (CNOT rings with Pauli noise) merged into one
    #: index map over all 4^n coefficients: ``new[i] = factor[i] * old[src[i]]``.
    src: np.ndarray | None = None
    inv: np.ndarray | None = None
    factor: np.ndarray | None = None

    @property
    def symbolic(self) -> bool:
        return any(kind == "gate" for kind, _ in self.items)


class NoisyProgram:
    """A noisy circuit compiled into fused Heisenberg stages."""

    def __init__(self, n_qubits: int, stages: list[Stage], param_names: list[str]):
        self.n_qubits = n_qubits
        self.stages = stages
        self.param_names = list(param_names)
        self._pindex = {name: i for i, name in enumerate(self.param_names)}

    @classmethod
    def from_circuit(cls, circuit: Any, qubits: list, param_names: list[str],
                     noise: NoiseModel | None = None) -> NoisyProgram:
        """Compile *circuit* (with *noise* inserted, or already containing channels)."""
        import cirq

        from qaudit.engine.program import _factor_for

        if len(qubits) > MAX_NOISY_QUBITS:
            raise QauditError(f"the exact noisy engine handles at most {MAX_NOISY_QUBITS} qubits, "
                              f"circuit has {len(qubits)}; use a sampling backend (qsim) instead")
        if noise is not None:
            circuit = noise.apply(circuit)
        index = {q: i for i, q in enumerate(qubits)}
        known = set(param_names)
        unknown = sorted(str(s.name) for s in cirq.parameter_symbols(circuit) if str(s.name) not in known)
        if unknown:
            raise QauditError(f"the noisy engine needs a circuit without input-dependent gates; "
                              f"unknown symbols: {', '.join(unknown)}")
        stages: list[Stage] = []
        last: dict[int, int] = {}
        for op in circuit.all_operations():
            if cirq.is_measurement(op):
                continue
            targets = tuple(index[q] for q in op.qubits)
            symbolic = cirq.is_parameterized(op)
            if symbolic:
                item = ("gate", _factor_for(op))
            elif cirq.has_unitary(op):
                item = ("op", [cirq.unitary(op)])
            elif cirq.has_kraus(op):
                item = ("op", [np.asarray(k, dtype=np.complex128) for k in cirq.kraus(op)])
            else:
                raise QauditError(f"unsupported operation in a noisy circuit: {op}")
            owners = {last.get(q, -1) for q in targets}
            j = owners.pop() if len(owners) == 1 else -1
            if j >= 0:
                stage_q = stages[j].qubits
                fits = stage_q == targets if symbolic else set(targets) <= set(stage_q)
                if fits:
                    stages[j].items.append(_stage_item(item, targets, stage_q))
                    continue
            stage = Stage(targets)
            stage.items.append(_stage_item(item, targets, targets))
            stages.append(stage)
            for q in targets:
                last[q] = len(stages) - 1
        for stage in stages:
            if not stage.symbolic:
                R = np.eye(4 ** len(stage.qubits))
                for _, r in stage.items:
                    R = R @ r
                stage.fixed_R = R
        return cls(len(qubits), _merge_maps(stages, len(qubits)), list(param_names))

    # -- evaluation --------------------------------------------------------------
    def resolve(self, theta: np.ndarray, derivatives: bool = False) -> list[tuple[np.ndarray, list]]:
        """Per stage: (R, [(param index, dR), ...]) for parameter vector *theta*."""
        out = []
        for stage in self.stages:
            if stage.src is not None or stage.fixed_R is not None:
                out.append((stage.fixed_R, []))
                continue
            mats, derivs = [], []
            for kind, payload in stage.items:
                if kind == "fixed":
                    mats.append(payload)
                    derivs.append(None)
                    continue
                symbol = payload.form.symbol if payload.form is not None else None
                value = float(theta[self._pindex[symbol]]) if symbol is not None else 0.0
                U = payload.matrix(value)
                mats.append(ptm([U]))
                if derivatives and symbol is not None:
                    derivs.append((self._pindex[symbol], ptm_derivative(U, payload.derivative(value))))
                else:
                    derivs.append(None)
            R = mats[0]
            for m in mats[1:]:
                R = R @ m
            dlist = []
            for i, d in enumerate(derivs):
                if d is None:
                    continue
                dR = d[1]
                for m in reversed(mats[:i]):
                    dR = m @ dR
                for m in mats[i + 1:]:
                    dR = dR @ m
                dlist.append((d[0], dR))
            out.append((R, dlist))
        return out

    def initial(self, terms: list[str]) -> np.ndarray:
        """Pauli coefficients (n_obs, 4^n) of observables such as ``"Z0"``/``"X1 Z3"``."""
        from qaudit.engine.observables import parse_pauli

        n = self.n_qubits
        out = np.zeros((len(terms), 4**n))
        for j, term in enumerate(terms):
            idx = 0
            parsed = parse_pauli(term, n)
            for q in range(n):
                idx = idx * 4 + _PAULI_INDEX[parsed.get(q, "I")]
            out[j, idx] = 1.0
        return out

    def heisenberg(self, resolved: list, coeffs: np.ndarray, keep: bool = False) -> tuple[np.ndarray, list]:
        """Propagate observables backwards through every stage; optionally keep the inputs
        of parametrised stages (for gradients)."""
        saved: list[np.ndarray | None] = [None] * len(self.stages)
        for s in range(len(self.stages) - 1, -1, -1):
            R, dlist = resolved[s]
            if keep and dlist:
                saved[s] = coeffs
            stage = self.stages[s]
            if stage.src is not None:
                coeffs = coeffs[:, stage.src] * stage.factor
            else:
                coeffs = apply_local(coeffs, self.n_qubits, stage.qubits, R)
        return coeffs, saved


#: Runs of at least this many fixed monomial stages become one global index map.
MIN_MAP_RUN = 3


def _merge_maps(stages: list[Stage], n: int) -> list[Stage]:
    """Fold runs of fixed monomial stages into single global index maps."""
    out: list[Stage] = []
    run: list[tuple[Stage, tuple]] = []

    def close() -> None:
        if len(run) < MIN_MAP_RUN:
            out.extend(st for st, _ in run)
        else:
            src, factor = None, None
            for _st, (gsrc, gval) in run:  # circuit order: R_run <- R_run @ R_s
                if src is None:
                    src, factor = gsrc, gval
                else:
                    src, factor = gsrc[src], factor * gval[src]
            qubits = tuple(sorted({q for st, _ in run for q in st.qubits}))
            out.append(Stage(qubits, [], None, src, np.argsort(src), factor))
        run.clear()

    for stage in stages:
        mono = _monomial(stage.fixed_R) if stage.fixed_R is not None else None
        if mono is None:
            close()
            out.append(stage)
        else:
            run.append((stage, _global_map(stage.qubits, mono[0], mono[1], n)))
    close()
    return out


def _stage_item(item: tuple[str, Any], targets: tuple[int, ...], stage_q: tuple[int, ...]) -> tuple[str, Any]:
    kind, payload = item
    if kind == "gate":
        return item
    positions = tuple(stage_q.index(t) for t in targets)
    k = len(stage_q)
    return ("fixed", ptm([_embed(K, positions, k) for K in payload]))


# --------------------------------------------------------------------------- coefficients <-> matrices
def _pauli_to_matrix_map() -> np.ndarray:
    """T[(r, c), a] = (P_a)[r, c]."""
    return _PAULI_1.reshape(4, 4).T.copy()


def coeffs_to_matrices(coeffs: np.ndarray, n: int) -> np.ndarray:
    """(batch, 4^n) real Pauli coefficients -> (batch, 2^n, 2^n) complex matrices."""
    T = _pauli_to_matrix_map()
    out = coeffs.astype(np.complex128)
    for q in range(n):
        out = apply_local(out, n, (q,), T)
    batch = coeffs.shape[0]
    out = out.reshape((batch,) + (2,) * (2 * n))  # axes r0 c0 r1 c1 ...
    perm = [0] + [1 + 2 * q for q in range(n)] + [2 + 2 * q for q in range(n)]
    return np.ascontiguousarray(out.transpose(perm)).reshape(batch, 2**n, 2**n)


def matrices_to_coeffs(mats: np.ndarray, n: int) -> np.ndarray:
    """m_a = Re tr(P_a M) for Hermitian (batch, 2^n, 2^n) matrices -> (batch, 4^n)."""
    batch = mats.shape[0]
    t = mats.reshape((batch,) + (2,) * (2 * n))
    perm = [0] + [x for q in range(n) for x in (1 + q, 1 + n + q)]
    t = np.ascontiguousarray(t.transpose(perm)).reshape(batch, 4**n).astype(np.complex128)
    S = _PAULI_1.transpose(0, 2, 1).reshape(4, 4)  # S[a, (r, c)] = (P_a)[c, r]
    for q in range(n):
        t = apply_local(t, n, (q,), S)
    return t.real.copy()


# --------------------------------------------------------------------------- forward / backward
@dataclass
class NoisyEvaluation:
    """What :func:`noisy_backward` needs from :func:`noisy_forward`."""

    program: NoisyProgram
    resolved: list
    saved: list
    matrices: np.ndarray
    states: np.ndarray
    ev: np.ndarray


def quadratic_forms(states: np.ndarray, matrices: np.ndarray) -> np.ndarray:
    """ev[n, j] = Re x_n† O_j x_n for rows x_n, as one matmul."""
    n_obs, dim, _ = matrices.shape
    if not np.iscomplexobj(states) or not np.any(states.imag):
        x = np.ascontiguousarray(states.real)
        Y = x @ np.ascontiguousarray(matrices.real.transpose(1, 0, 2)).reshape(dim, n_obs * dim)
        return np.einsum("njd,nd->nj", Y.reshape(-1, n_obs, dim), x)
    Y = states.conj() @ matrices.transpose(1, 0, 2).reshape(dim, n_obs * dim)
    return np.einsum("njd,nd->nj", Y.reshape(-1, n_obs, dim), states).real


def noisy_forward(program: NoisyProgram, theta: np.ndarray, terms: list[str], states: np.ndarray,
                  keep: bool = False) -> tuple[np.ndarray, NoisyEvaluation]:
    """Exact noisy expectation values (batch, n_obs) for amplitude-encoded rows *states*."""
    theta = np.asarray(theta, dtype=float)
    with single_threaded_blas():
        resolved = program.resolve(theta, derivatives=keep)
        coeffs, saved = program.heisenberg(resolved, program.initial(terms), keep=keep)
        matrices = coeffs_to_matrices(coeffs, program.n_qubits)
    states = np.asarray(states)
    ev = quadratic_forms(states, matrices)
    return ev, NoisyEvaluation(program, resolved, saved, matrices, states, ev)


def noisy_backward(evaluation: NoisyEvaluation, d_ev: np.ndarray) -> np.ndarray:
    """dL/dθ (n_params,) for dL/d<O> = *d_ev* (batch, n_obs); exact (adjoint bookkeeping)."""
    ev = evaluation
    program = ev.program
    if not any(s is not None for s in ev.saved):
        raise ValueError("noisy_forward was called without keep=True")
    n = program.n_qubits
    x = ev.states
    d_ev = np.asarray(d_ev, dtype=float)
    # M_j = Σ_n d[n, j] x_n x_n†  ->  Pauli coefficients m_j (so F = Σ_j <m_j, c_j>).
    with single_threaded_blas():
        xc = np.ascontiguousarray(x.conj())
        xt = np.ascontiguousarray(x.T)
        M = np.stack([(xt * d_ev[:, j]) @ xc for j in range(d_ev.shape[1])])  # (n_obs, dim, dim)
        return _adjoint_sweep(program, ev, matrices_to_coeffs(M, n))


def _adjoint_sweep(program: NoisyProgram, ev: NoisyEvaluation, mu: np.ndarray) -> np.ndarray:
    """Forward (Schrödinger) sweep of the cotangent, collecting dF/dθ at parametrised stages."""
    n = program.n_qubits
    grad = np.zeros(len(program.param_names))
    for s, stage in enumerate(program.stages):
        R, dlist = ev.resolved[s]
        if dlist:
            G = local_gram(mu, ev.saved[s], n, stage.qubits)
            for p, dR in dlist:
                grad[p] += float(np.sum(dR * G))
        if stage.src is not None:
            mu = (mu * stage.factor)[:, stage.inv]
        else:
            mu = apply_local(mu, n, stage.qubits, R.T)
    return grad


def _front(coeffs: np.ndarray, n: int, qubits: tuple[int, ...]) -> np.ndarray:
    """(batch, 4^n) -> contiguous (batch, 4^k, 4^(n-k)) with the *qubits* axes first."""
    k = len(qubits)
    batch = coeffs.shape[0]
    moved = np.moveaxis(coeffs.reshape((batch,) + (4,) * n), [1 + q for q in qubits], list(range(1, k + 1)))
    return np.ascontiguousarray(moved).reshape(batch, 4**k, -1)


def noisy_per_sample_grads(evaluation: NoisyEvaluation, d_ev: np.ndarray, chunk: int = 32) -> np.ndarray:
    """(batch, n_params): the gradient of each sample's own term ``Σ_j d_ev[n, j] <O_j>_n``.

    Per sample only the input's Pauli coefficients ρ_n are swept forward (the observables'
    Heisenberg images saved by the forward pass are shared), ``chunk`` samples at a time.
    """
    ev = evaluation
    program = ev.program
    n = program.n_qubits
    d_ev = np.asarray(d_ev, dtype=float)
    x = ev.states
    out = np.zeros((x.shape[0], len(program.param_names)))
    with single_threaded_blas():
        fronts = {s: _front(c, n, program.stages[s].qubits) for s, c in enumerate(ev.saved) if c is not None}
        for start in range(0, x.shape[0], chunk):
            xs = x[start:start + chunk]
            d = d_ev[start:start + chunk]
            mu = matrices_to_coeffs(xs[:, :, None] * xs.conj()[:, None, :], n)  # ρ_n = x_n x_n†
            for s, stage in enumerate(program.stages):
                R, dlist = ev.resolved[s]
                if dlist:
                    a = _front(mu, n, stage.qubits)  # (b, 4^k, rest)
                    c = fronts[s]  # (n_obs, 4^k, rest)
                    b_, dk, rest = a.shape
                    G = (a.reshape(b_ * dk, rest) @ c.reshape(-1, rest).T).reshape(b_, dk, c.shape[0], dk)
                    Gd = np.einsum("bxjy,bj->bxy", G, d)
                    for p, dR in dlist:
                        out[start:start + chunk, p] += np.einsum("bxy,xy->b", Gd, dR)
                if stage.src is not None:
                    mu = (mu * stage.factor)[:, stage.inv]
                else:
                    mu = apply_local(mu, n, stage.qubits, R.T)
    return out


def noisy_program_for(circuit: Any, qubits: list, param_names: list[str], noise: NoiseModel,
                      cache: dict | None = None) -> NoisyProgram:
    """Compile (and cache in *cache*, keyed by the noise spec) the noisy program of a circuit."""
    key = (noise.spec, id(circuit), tuple(param_names))
    if cache is not None and key in cache:
        return cache[key][1]
    program = NoisyProgram.from_circuit(circuit, qubits, param_names, noise)
    if cache is not None:
        cache[key] = (circuit, program)  # keeping the circuit alive keeps its id unique
    return program


__all__ = [
    "NoiseModel",
    "NoisyEngine",
    "NoisyProgram",
    "noisy_forward",
    "noisy_backward",
    "noisy_program_for",
    "quadratic_forms",
    "coeffs_to_matrices",
    "matrices_to_coeffs",
    "ptm",
]


class NoisyEngine:
    """The noisy engine for one model: ``forward(Z)`` / ``backward(cache, d_ev)`` mirror
    :func:`qaudit.engine.forward` / :func:`qaudit.engine.backward` for amplitude-encoded
    inputs, used by :class:`qaudit.train.classifier.CircuitClassifier` when its ``noise`` option is set."""

    def __init__(self, program: NoisyProgram, theta_source: Any, terms: list[str]):
        self.program = program
        self._theta = theta_source
        self.terms = list(terms)

    @classmethod
    def for_model(cls, model: Any) -> NoisyEngine:
        """Build (cached on the model per noise spec) the engine of a fitted model."""
        noise = NoiseModel.parse(model.options["noise"]) or NoiseModel(0.0, 0.0, 0.0)
        if model.encoding != "amplitude":
            raise QauditError(f"{model.name}: training under noise needs amplitude encoding")
        c = model.compiled
        nprog = noisy_program_for(c.circuit, list(c.qubits), c.program.param_names, noise, c.engine.noisy)
        return cls(nprog, lambda: model.weights["theta"], c.terms)

    def forward(self, Z: np.ndarray, keep: bool = False) -> tuple[np.ndarray, NoisyEvaluation]:
        """Exact noisy expectation values (batch, n_obs) of encoded inputs *Z*."""
        return noisy_forward(self.program, self._theta(), self.terms, np.asarray(Z), keep=keep)

    def backward(self, evaluation: NoisyEvaluation, d_ev: np.ndarray, per_sample: bool = False) -> np.ndarray:
        """dL/dθ, or (batch, n_params) per-sample gradients (one adjoint sweep per sample)."""
        if not per_sample:
            return noisy_backward(evaluation, d_ev)
        return noisy_per_sample_grads(evaluation, d_ev)
