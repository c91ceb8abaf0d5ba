"""Batched state-vector kernels: apply fused blocks to many states at once.

States are *columns* of a complex128 array of shape ``(2**n, batch)``: a gate on
qubit q then acts on axis q of the ``(2,)*n + (batch,)`` tensor and the trailing
axis stays long and contiguous, so one small matmul covers the whole batch. The
same kernels serve the shared-unitary method (the batch is the 2**n basis
states, so the columns become ``U e_k``) and the per-sample method.
"""

from __future__ import annotations

import contextlib
import os

import numpy as np

from qaudit.engine.plan import Resolved, ResolvedBlock, resolve
from qaudit.engine.program import Program
from qaudit.engine.scratch import scratch

__all__ = ["Resolved", "ResolvedBlock", "resolve", "apply_2x2", "apply_matrix", "apply_block", "local_overlap",
           "Stage", "stages", "run", "run_saving", "adjoint_sweep", "feature_stages", "single_thread_blas"]


def _front(states: np.ndarray, n_qubits: int, qubits: tuple[int, ...]) -> np.ndarray:
    """View *states* with the block's qubit axes first: shape (2**k, rest, batch)."""
    k = len(qubits)
    batch = states.shape[-1]
    tensor = states.reshape((2,) * n_qubits + (batch,))
    moved = np.moveaxis(tensor, list(qubits), list(range(k)))
    return moved.reshape(2**k, -1, batch)


def _back(front: np.ndarray, n_qubits: int, qubits: tuple[int, ...]) -> np.ndarray:
    """Inverse of :func:`_front`: back to (2**n, batch), contiguous."""
    k = len(qubits)
    batch = front.shape[-1]
    others = [q for q in range(n_qubits) if q not in qubits]
    tensor = front.reshape((2,) * k + (2,) * len(others) + (batch,))
    out = np.moveaxis(tensor, list(range(k)), list(qubits))
    return np.ascontiguousarray(out).reshape(2**n_qubits, batch)


def _work(states: np.ndarray) -> np.ndarray:
    """An output array like *states* (complex128), reused from the engine's scratch pool."""
    return scratch(states.shape, np.complex128)


def apply_2x2(view: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``out[:, i, :] = Σ_j matrix[i, j] · view[:, j, :]`` for a (A, 2, B) view.

    Elementwise (no BLAS call): for 2x2 gates this is faster than a batched
    matmul and does not contend for BLAS threads on a busy machine.
    """
    out = np.empty(view.shape, dtype=np.result_type(view, matrix))
    a, b = view[:, 0], view[:, 1]
    o0, o1 = out[:, 0], out[:, 1]
    (m00, m01), (m10, m11) = matrix
    np.multiply(a, m00, out=o0)
    o0 += m01 * b
    np.multiply(a, m10, out=o1)
    o1 += m11 * b
    return out


def apply_matrix(
    states: np.ndarray, n_qubits: int, qubits: tuple[int, ...], matrix: np.ndarray
) -> np.ndarray:
    """Return ``matrix`` applied on *qubits* of every column of *states*.

    ``matrix`` is (d, d) shared by all columns or (batch, d, d) per column,
    d = 2**len(qubits).
    """
    if matrix.ndim == 2 and len(qubits) == 1:
        q = qubits[0]
        return apply_2x2(states.reshape(2**q, 2, -1), matrix).reshape(states.shape)
    front = _front(states, n_qubits, qubits)
    if matrix.ndim == 2:
        out = np.matmul(matrix, front.reshape(front.shape[0], -1)).reshape(front.shape)
    else:
        out = np.einsum("nab,brn->arn", matrix, front)
    return _back(out, n_qubits, qubits)


def local_overlap(
    cotangent: np.ndarray, states: np.ndarray, n_qubits: int, qubits: tuple[int, ...], per_sample: bool
) -> np.ndarray:
    """C[a, b] = Σ conj(cotangent)[.., a, ..] · states[.., b, ..] over all other indices.

    Returns (d, d), or (batch, d, d) when *per_sample*.
    """
    return _overlap(cotangent.conj(), states, n_qubits, qubits, per_sample)


def _overlap(
    lam_c: np.ndarray, states: np.ndarray, n_qubits: int, qubits: tuple[int, ...], per_sample: bool
) -> np.ndarray:
    """:func:`local_overlap` for an already conjugated cotangent *lam_c*."""
    if not per_sample and len(qubits) == 1:
        q = qubits[0]
        lam = lam_c.reshape(2**q, 2, -1)
        st = states.reshape(2**q, 2, -1)
        return np.matmul(lam, st.transpose(0, 2, 1)).sum(axis=0)
    lam = _front(lam_c, n_qubits, qubits)
    st = _front(states, n_qubits, qubits)
    if per_sample:
        return np.einsum("arn,brn->nab", lam, st)
    d = lam.shape[0]
    return lam.reshape(d, -1) @ st.reshape(d, -1).T


def chunk_overlap(lam_c: np.ndarray, states: np.ndarray, q0: int, k: int) -> np.ndarray:
    """(2**k, 2**k) overlap on qubits q0..q0+k-1: C[a, b] = Σ lam_c[.., a, ..] · states[.., b, ..].

    One GEMM (q0 = 0) or 2**q0 GEMMs summed: the same work as applying a 2**k x 2**k
    matrix, instead of one pass over the state per qubit.
    """
    if q0 == 0:
        return lam_c.reshape(2**k, -1) @ states.reshape(2**k, -1).T
    lam = lam_c.reshape(2**q0, 2**k, -1)
    st = states.reshape(2**q0, 2**k, -1)
    return np.matmul(lam, st.transpose(0, 2, 1)).sum(axis=0)


def reduce_chunk(overlap: np.ndarray, k: int, p: int) -> np.ndarray:
    """The 2x2 overlap of qubit *p* (0 = most significant) of a (2**k, 2**k) chunk overlap."""
    view = overlap.reshape(2**p, 2, 2 ** (k - p - 1), 2**p, 2, 2 ** (k - p - 1))
    return np.einsum("iajibj->ab", view)


def apply_block(program: Program, rb: ResolvedBlock, states: np.ndarray, inverse: bool = False,
                transpose: bool = False) -> np.ndarray:
    """Apply one resolved block V (V^H if *inverse*, V^T if *transpose*) to every column of *states*.

    ``V^T = conj(V^H)`` moves a conjugated cotangent backwards: ``conj(V^H λ) = V^T conj(λ)``.
    """
    block = rb.block
    if block.permutation is not None:
        perm = block.inverse_permutation if inverse or transpose else block.permutation
        return np.take(states, perm, axis=0, out=_work(states))
    if block.diagonal is not None:
        diag = block.diagonal.conj() if inverse else block.diagonal
        return np.multiply(states, diag[:, None], out=_work(states))
    if transpose:
        matrix = np.swapaxes(rb.unitary, -1, -2)
    else:
        matrix = np.conj(np.swapaxes(rb.unitary, -1, -2)) if inverse else rb.unitary
    return apply_matrix(states, program.n_qubits, block.qubits, matrix)


#: Qubits per Kronecker chunk when a stage of single-qubit gates is applied as a few small GEMMs.
CHUNK_QUBITS = 4


class Stage:
    """Resolved blocks applied together.

    Either one block of any kind, or a run of single-qubit blocks on distinct
    qubits (a rotation layer) applied as Kronecker-product chunks of up to
    :data:`CHUNK_QUBITS` neighbouring qubits: ``(u_q0 ⊗ u_q0+1 ⊗ ...)`` acting
    on axis ``q0`` of the ``(2**q0, 2**k, rest)`` view, one GEMM per chunk.
    Blocks of a stage commute, so every gradient of a stage can be taken at its
    end with ``D = dV · V^H`` (see :func:`adjoint_sweep`).
    """

    __slots__ = ("blocks", "chunks")

    def __init__(self, blocks: list[ResolvedBlock], n_qubits: int):
        self.blocks = blocks
        self.chunks: list[tuple[int, int, np.ndarray]] | None = None
        if len(blocks) > 1:
            by_qubit = {rb.block.qubits[0]: rb.unitary for rb in blocks}
            self.chunks = []
            for q0 in range(0, n_qubits, CHUNK_QUBITS):
                span = range(q0, min(q0 + CHUNK_QUBITS, n_qubits))
                present = [q for q in span if q in by_qubit]
                if not present:
                    continue
                lo, hi = present[0], present[-1] + 1
                matrix = np.ones((1, 1), dtype=np.complex128)
                for q in range(lo, hi):  # Kronecker product, qubit lo leftmost (most significant)
                    matrix = _kron(matrix, by_qubit.get(q, _EYE2))
                self.chunks.append((lo, hi - lo, matrix))

    def kron(self, n_qubits: int) -> np.ndarray:
        """The chunked stage as one (2**n, 2**n) matrix: the Kronecker product of its chunks."""
        out = np.ones((1, 1), dtype=np.complex128)
        q = 0
        for q0, k, matrix in self.chunks:
            out = _kron(_kron(out, _eye(q0 - q)), matrix)
            q = q0 + k
        return _kron(out, _eye(n_qubits - q))

    def apply(self, program: Program, states: np.ndarray, inverse: bool = False,
              transpose: bool = False) -> np.ndarray:
        """Apply the stage V (V^H if *inverse*, V^T if *transpose*) to the columns of *states*."""
        if self.chunks is None:
            return apply_block(program, self.blocks[0], states, inverse, transpose)
        for q0, k, matrix in self.chunks:
            m = matrix.conj().T if inverse else matrix.T if transpose else matrix
            out = _work(states)
            np.matmul(m, states.reshape(2**q0, 2**k, -1), out=out.reshape(2**q0, 2**k, -1))
            states = out
        return states


_EYE2 = np.eye(2, dtype=np.complex128)


def _eye(qubits: int) -> np.ndarray | None:
    return np.eye(2**qubits, dtype=np.complex128) if qubits else None


def _kron(a: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """np.kron(a, b) as one broadcast product (b None = the 1x1 identity)."""
    if b is None:
        return a
    return (a[:, None, :, None] * b[None, :, None, :]).reshape(a.shape[0] * b.shape[0], a.shape[1] * b.shape[1])


def stages(program: Program, resolved: list[ResolvedBlock]) -> list[Stage]:
    """Group consecutive single-qubit blocks with shared (2-D) matrices on distinct qubits."""
    cached = getattr(resolved, "staged", None)
    if cached is not None:
        return cached
    out: list[Stage] = []
    group: list[ResolvedBlock] = []
    used: set[int] = set()
    n = program.n_qubits

    def flush() -> None:
        if group:
            out.append(Stage(list(group), n))
            group.clear()
            used.clear()

    for rb in resolved:
        block = rb.block
        single = (len(block.qubits) == 1 and block.permutation is None and block.diagonal is None
                  and rb.unitary.ndim == 2)
        if not single:
            flush()
            out.append(Stage([rb], n))
            continue
        if block.qubits[0] in used:
            flush()
        group.append(rb)
        used.add(block.qubits[0])
    flush()
    if isinstance(resolved, Resolved):
        resolved.staged = out
    return out


def run(program: Program, resolved: list[ResolvedBlock], states: np.ndarray) -> np.ndarray:
    """Apply all blocks to *states* (columns); returns the final states."""
    with single_thread_blas():
        for stage in stages(program, resolved):
            states = stage.apply(program, states)
    return states


#: Memory budget (bytes) for the states :func:`run_saving` keeps after each trainable stage;
#: beyond it the adjoint sweep recomputes them backwards (one more stage application each).
SAVE_BYTES = 1 << 27


def trainable_stages(program: Program, resolved: list[ResolvedBlock]) -> list[bool]:
    """For each stage of *resolved*: does one of its blocks depend on a trainable parameter?"""
    names = set(program.param_names)
    return [any(f.form is not None and f.form.symbol in names for rb in stage.blocks for f in rb.block.factors)
            for stage in stages(program, resolved)]


def run_saving(program: Program, resolved: list[ResolvedBlock],
               states: np.ndarray | None = None) -> tuple[np.ndarray, list | None]:
    """:func:`run`, also returning the states after every trainable stage (``None`` where there is
    none, or no list at all when they would exceed :data:`SAVE_BYTES`) for :func:`adjoint_sweep`.

    *states* ``None`` means the identity (the columns of U): a first rotation layer is then
    written directly as the Kronecker product of its chunks instead of multiplied onto 1.
    """
    staged = stages(program, resolved)
    need = trainable_stages(program, resolved)
    start = 0
    if states is None:
        states = np.eye(program.dim, dtype=np.complex128)
        if staged and staged[0].chunks is not None:
            states, start = staged[0].kron(program.n_qubits), 1
    saved = [None] * len(staged) if sum(need) * states.nbytes <= SAVE_BYTES else None
    if saved is not None and start and need[0]:
        saved[0] = states
    with single_thread_blas():
        for i in range(start, len(staged)):
            states = staged[i].apply(program, states)  # a new array each time: safe to keep
            if saved is not None and need[i]:
                saved[i] = states
    return states, saved


def feature_stages(program: Program, resolved: list[ResolvedBlock]) -> list[bool]:
    """For each stage of *resolved*: does one of its blocks depend on an input feature?"""
    names = set(program.feature_names)
    return [any(f.form is not None and f.form.symbol in names for rb in stage.blocks for f in rb.block.factors)
            for stage in stages(program, resolved)]


def _add_feature_grads(program: Program, stage: Stage, lam_c: np.ndarray, states: np.ndarray,
                       out: np.ndarray) -> None:
    """Add each sample's ``dL/dx_j = 2 Re Σ_ab D[a,b] C[a,b]`` of the stage's feature-dependent factors to
    *out* (batch, n_features): ``D = dV/dx_j · V^H`` per sample, C the per-sample local overlap of the
    (conjugated) cotangent and the states after the stage. A feature used by several gates sums them."""
    findex = {name: i for i, name in enumerate(program.feature_names)}
    for rb in stage.blocks:
        if not any(f.form is not None and f.form.symbol in findex for f in rb.block.factors):
            continue
        overlap = _overlap(lam_c, states, program.n_qubits, rb.block.qubits, True)  # (batch, d, d)
        v_h = np.conj(np.swapaxes(rb.unitary, -1, -2))
        for symbol, d in rb.derivatives():
            if symbol in findex:
                out[:, findex[symbol]] += 2.0 * np.real(np.sum(np.matmul(d, v_h) * overlap, axis=(-2, -1)))


def _old_derivatives(rb: ResolvedBlock, pindex: dict[str, int]) -> list[tuple[int, np.ndarray]]:
    """(param index, D = dV · V^H) of a block the resolve plan did not evaluate."""
    v_h = np.conj(np.swapaxes(rb.unitary, -1, -2))
    return [(pindex[symbol], np.matmul(d, v_h)) for symbol, d in rb.derivatives() if symbol in pindex]


class _Gradient:
    """Accumulates ``dL/dθ = 2 Re Σ_ab D[a,b] C[a,b]`` over blocks during :func:`adjoint_sweep`.

    Blocks the resolve plan evaluated keep their overlap C (batch mode) and are contracted
    with ``resolved.dmats`` in one vectorised step at the end (:meth:`finish`); per-sample
    overlaps are contracted at once; other blocks use their own derivatives.
    """

    def __init__(self, program: Program, resolved: Resolved, batch: int, per_sample: bool):
        self.program, self.resolved, self.per_sample = program, resolved, per_sample
        self.plan, self.dmats = resolved.plan, resolved.dmats
        self.pindex = {name: i for i, name in enumerate(program.param_names)}
        self.grad = np.zeros((batch, len(self.pindex)) if per_sample else len(self.pindex))
        self.collected: dict[int, np.ndarray] = {}

    def stage(self, stage: Stage, lam_c: np.ndarray, states: np.ndarray) -> None:
        """Add the gradients of *stage*'s blocks from the (conjugated) cotangent and the states after it."""
        n = self.program.n_qubits
        if stage.chunks is not None and not self.per_sample:
            by_qubit = {rb.block.qubits[0]: rb for rb in stage.blocks}
            for q0, k, _ in stage.chunks:
                inside = [(q, rb) for q, rb in by_qubit.items() if q0 <= q < q0 + k]
                work = [(q, rb, self._old(rb)) for q, rb in inside]
                work = [w for w in work if w[2] is None or w[2]]
                if not work:
                    continue
                overlap = chunk_overlap(lam_c, states, q0, k)
                for q, rb, old in work:
                    self.add(rb, reduce_chunk(overlap, k, q - q0), old)
            return
        for rb in stage.blocks:
            old = self._old(rb)
            if old is not None and not old:
                continue
            batched = self.per_sample or (old is not None and any(d.ndim == 3 for _, d in old))
            self.add(rb, _overlap(lam_c, states, n, rb.block.qubits, batched), old)

    def _old(self, rb: ResolvedBlock) -> list | None:
        """None for a block of the plan, else its (param index, D) list (maybe empty)."""
        pos = self.plan.position[id(rb.block)]
        if pos in self.plan.block_items:
            return None
        if pos in self.plan.fixed or pos not in self.plan.other:
            return []
        return _old_derivatives(rb, self.pindex)

    def add(self, rb: ResolvedBlock, overlap: np.ndarray, old: list | None) -> None:
        """Contract one block's overlap (d, d) or (batch, d, d)."""
        if old is None:
            pos = self.plan.position[id(rb.block)]
            if not self.per_sample:
                self.collected[pos] = overlap
                return
            d, items = self.plan.block_items[pos]
            contrib = 2.0 * np.real(np.einsum("mab,nab->nm", self.dmats[d][items], overlap))
            for m, item in enumerate(items.tolist()):
                self.grad[:, self.plan.pidx[d][item]] += contrib[:, m]
            return
        for index, d in old:
            contrib = 2.0 * np.real(np.sum(d * overlap, axis=(-2, -1)))
            if self.per_sample:
                self.grad[:, index] += contrib
            else:
                self.grad[index] += np.sum(contrib)

    def finish(self) -> np.ndarray:
        """The gradient, after contracting the collected overlaps with every D in one step per size."""
        plan = self.plan
        for d, dm in self.dmats.items():
            overlaps = np.zeros((plan.n_blocks, d, d), dtype=np.complex128)
            for pos, overlap in self.collected.items():
                if overlap.shape == (d, d):
                    overlaps[pos] = overlap
            contrib = 2.0 * np.einsum("nab,nab->n", dm.view(np.float64).reshape(len(dm), d, 2 * d),
                                      _conj_pairs(overlaps[plan.bpos[d]]))
            self.grad += np.bincount(plan.pidx[d], contrib, minlength=plan.n_params)
        return self.grad


def _conj_pairs(overlaps: np.ndarray) -> np.ndarray:
    """Float view of *overlaps* with the imaginary parts negated: Σ (re·re' − im·im') = Re Σ D·C as one
    real dot product of the interleaved float views."""
    out = np.array(overlaps, dtype=np.complex128)
    out.imag *= -1
    n, d = out.shape[:2]
    return out.view(np.float64).reshape(n, d, 2 * d)


def adjoint_sweep(
    program: Program,
    resolved: Resolved,
    final_states: np.ndarray,
    cotangent: np.ndarray,
    per_sample: bool = False,
    *,
    saved: list | None = None,
    conjugated: bool = False,
    input_grad: bool = True,
    feature_grads: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Reverse-mode sweep without stored intermediates (or with those of :func:`run_saving`).

    *cotangent* is ``dL/dψ*`` for the final states (columns), or its complex conjugate if
    *conjugated*. Returns ``(grad_theta, dL/dψ0*)`` where ``grad_theta`` is (n_params,) or
    (batch, n_params) if *per_sample*, and the second item is the cotangent of the initial
    states (columns), or None unless *input_grad*. Gradients of a stage are taken at its end:
    for a block V with factor derivative dV, ``dL/dθ = 2 Re Σ_ab D[a,b] C[a,b]`` with
    ``D = dV V^H`` and ``C`` the local overlap of the cotangent and the states after the
    stage (blocks of a stage act on distinct qubits and commute); for a rotation layer C
    comes from one GEMM per Kronecker chunk (:func:`chunk_overlap`). The sweep carries
    ``conj(λ)``, so no overlap conjugates a 2^n-sized array. With *saved* (the states after
    each trainable stage) the states are not un-computed.

    For the shared-unitary path the "states" are the columns of U and the cotangent is
    ``G = dL/dU*``: the same sweep, with a batch of 2^n columns.

    *feature_grads* (batch, n_features) float64, when given (per-sample states, no *saved*), receives
    each sample's gradient with respect to the program's input features (the angles an angle encoding
    binds), added in place: the same contraction as a trainable factor's, per sample.
    """
    staged = stages(program, resolved)
    need = trainable_stages(program, resolved)
    acc = _Gradient(program, resolved, final_states.shape[-1], per_sample)
    fneed = feature_stages(program, resolved) if feature_grads is not None else [False] * len(staged)
    if feature_grads is not None and saved is not None:
        raise ValueError("feature gradients need the per-sample sweep (no saved states)")
    first = next((i for i, (a, b) in enumerate(zip(need, fneed)) if a or b), len(staged))
    lam_c = cotangent if conjugated else cotangent.conj()
    states = final_states
    with single_thread_blas():
        for i in range(len(staged) - 1, -1, -1):
            stage = staged[i]
            if need[i]:
                acc.stage(stage, lam_c, saved[i] if saved is not None else states)
            if fneed[i]:
                _add_feature_grads(program, stage, lam_c, states, feature_grads)
            if i <= first and not input_grad:
                break
            if saved is None and i > first:
                states = stage.apply(program, states, inverse=True)
            lam_c = stage.apply(program, lam_c, transpose=True)
    grad = acc.grad if per_sample else acc.finish()
    return grad, (lam_c.conj() if input_grad else None)

_BLAS = None
#: Environment variable: BLAS threads inside the engine (default 1; 0 = leave BLAS as configured).
BLAS_THREADS_ENV = "QAUDIT_ENGINE_THREADS"


def single_thread_blas() -> contextlib.AbstractContextManager:
    """Limit BLAS to one thread (or ``$QAUDIT_ENGINE_THREADS``) inside the engine.

    Measured on 2 shared cores: multi-threaded OpenBLAS on the sweep's many
    16x16 x 16x4096 products, and even on the batch GEMMs, loses 2-4x against one
    thread as soon as another process is busy (benchmarks/engine.py).
    """
    global _BLAS
    threads = os.environ.get(BLAS_THREADS_ENV, "1").strip()
    if threads in ("", "0"):
        return contextlib.nullcontext()
    if _BLAS is None:
        try:
            from threadpoolctl import ThreadpoolController

            _BLAS = ThreadpoolController()
        except Exception:  # threadpoolctl comes with scikit-learn; degrade gracefully
            _BLAS = False
    if _BLAS is False:
        return contextlib.nullcontext()
    try:
        limit = max(1, int(threads))
    except ValueError:
        limit = 1
    return _BLAS.limit(limits=limit, user_api="blas")
