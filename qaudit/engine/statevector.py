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

from qaudit.engine.program import Block, Program


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
    if not per_sample and len(qubits) == 1:
        q = qubits[0]
        lam = cotangent.reshape(2**q, 2, -1)
        st = states.reshape(2**q, 2, -1)
        return np.matmul(lam.conj(), st.transpose(0, 2, 1)).sum(axis=0)
    lam = _front(cotangent, n_qubits, qubits)
    st = _front(states, n_qubits, qubits)
    if per_sample:
        return np.einsum("arn,brn->nab", lam.conj(), st)
    d = lam.shape[0]
    return lam.reshape(d, -1).conj() @ st.reshape(d, -1).T


class ResolvedBlock:
    """A block with its factor matrices evaluated for given parameter/feature values."""

    __slots__ = ("block", "values", "matrices", "unitary")

    def __init__(self, block: Block, values: list):
        self.block = block
        self.values = values
        self.matrices = [f.matrix(v) for f, v in zip(block.factors, values)]
        unitary = self.matrices[0]
        for m in self.matrices[1:]:
            unitary = np.matmul(m, unitary)
        self.unitary = unitary

    def derivatives(self) -> list[tuple[str, np.ndarray]]:
        """(symbol, dU/dsymbol) for each symbolic factor, via prefix/suffix products."""
        out = []
        mats = self.matrices
        for j, (factor, value) in enumerate(zip(self.block.factors, self.values)):
            if factor.form is None or factor.form.symbol is None:
                continue
            d = factor.derivative(value)
            prefix = None
            for m in mats[:j]:
                prefix = m if prefix is None else np.matmul(m, prefix)
            if prefix is not None:
                d = np.matmul(d, prefix)
            for m in mats[j + 1 :]:
                d = np.matmul(m, d)
            out.append((factor.form.symbol, d))
        return out


def resolve(
    program: Program, theta: np.ndarray, features: np.ndarray | None = None
) -> list[ResolvedBlock]:
    """Evaluate every block for parameter vector *theta* (and per-sample *features*)."""
    pindex = {name: i for i, name in enumerate(program.param_names)}
    findex = {name: i for i, name in enumerate(program.feature_names)}
    resolved = Resolved()
    for block in program.blocks:
        values = []
        for factor in block.factors:
            symbol = factor.form.symbol if factor.form is not None else None
            if symbol is None:
                values.append(0.0)
            elif symbol in pindex:
                values.append(theta[pindex[symbol]])
            else:
                values.append(features[:, findex[symbol]])
        resolved.append(ResolvedBlock(block, values))
    return resolved


def apply_block(program: Program, rb: ResolvedBlock, states: np.ndarray, inverse: bool = False) -> np.ndarray:
    """Apply one resolved block (or its inverse) to every column of *states*."""
    block = rb.block
    if block.permutation is not None:
        perm = block.inverse_permutation if inverse else block.permutation
        return states[perm]
    if block.diagonal is not None:
        diag = block.diagonal.conj() if inverse else block.diagonal
        return states * diag[:, None]
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
                    m = by_qubit.get(q, _EYE2)
                    matrix = (matrix[:, None, :, None] * m[None, :, None, :]).reshape(
                        2 * matrix.shape[0], 2 * matrix.shape[1])
                self.chunks.append((lo, hi - lo, matrix))

    def apply(self, program: Program, states: np.ndarray, inverse: bool = False) -> np.ndarray:
        """Apply the stage (or its inverse) to the columns of *states*."""
        if self.chunks is None:
            return apply_block(program, self.blocks[0], states, inverse)
        shape = states.shape
        for q0, k, matrix in self.chunks:
            m = matrix.conj().T if inverse else matrix
            states = np.matmul(m, states.reshape(2**q0, 2**k, -1)).reshape(shape)
        return states

    def apply_right(self, program: Program, matrix_h: np.ndarray) -> np.ndarray:
        """``M · V`` for the stage's unitary V acting on the column index of square *matrix_h*."""
        n = program.n_qubits
        if self.chunks is None:
            return apply_right(matrix_h, n, self.blocks[0])
        dim = matrix_h.shape[0]
        for q0, k, matrix in self.chunks:
            if q0 + k == n:
                matrix_h = (matrix_h.reshape(-1, 2**k) @ matrix).reshape(dim, dim)
            else:
                view = matrix_h.reshape(dim * 2**q0, 2**k, -1)
                matrix_h = np.matmul(matrix.T, view).reshape(dim, dim)
        return matrix_h


_EYE2 = np.eye(2, dtype=np.complex128)


class Resolved(list):
    """The resolved blocks of a program (a list) with their stages, built once and cached."""

    staged: list[Stage] | None = None


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


def _stage_derivatives(stage: Stage, pindex: dict[str, int]) -> list[tuple[ResolvedBlock, list]]:
    """For each block with trainable symbols: (block, [(param index, D = dV · V^H)])."""
    out = []
    for rb in stage.blocks:
        items = []
        for symbol, d in rb.derivatives():
            if symbol in pindex:
                v_h = np.conj(np.swapaxes(rb.unitary, -1, -2))
                items.append((pindex[symbol], np.matmul(d, v_h)))
        if items:
            out.append((rb, items))
    return out


def adjoint_sweep(
    program: Program,
    resolved: list[ResolvedBlock],
    final_states: np.ndarray,
    cotangent: np.ndarray,
    per_sample: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Reverse-mode sweep without stored intermediates.

    *cotangent* is ``dL/dψ*`` for the final states (columns). Returns
    ``(grad_theta, dL/dψ0*)`` where ``grad_theta`` is (n_params,) or
    (batch, n_params) if *per_sample*, and the second item is the cotangent of
    the initial states (columns). Gradients of a stage are taken at its end:
    for a block V with factor derivative dV, ``dL/dθ = 2 Re Σ_ab D[a,b] C[a,b]``
    with ``D = dV V^H`` and ``C`` the local overlap of the cotangent and the
    states after the stage (blocks of a stage act on distinct qubits and commute).
    """
    pindex = {name: i for i, name in enumerate(program.param_names)}
    batch = final_states.shape[-1]
    n_params = len(program.param_names)
    grad = np.zeros((batch, n_params) if per_sample else n_params)
    states = final_states
    lam = cotangent
    n = program.n_qubits
    with single_thread_blas():
        for stage in reversed(stages(program, resolved)):
            for rb, items in _stage_derivatives(stage, pindex):
                batched = per_sample or any(d.ndim == 3 for _, d in items)
                overlap = local_overlap(lam, states, n, rb.block.qubits, batched)
                for index, d in items:
                    contrib = 2.0 * np.real(np.sum(d * overlap, axis=(-2, -1)))
                    if per_sample:
                        grad[:, index] += contrib
                    else:
                        grad[index] += np.sum(contrib)
            states = stage.apply(program, states, inverse=True)
            lam = stage.apply(program, lam, inverse=True)
    return grad, lam


def apply_right(matrix_h: np.ndarray, n_qubits: int, rb: ResolvedBlock, inverse: bool = False) -> np.ndarray:
    """Return ``M · V`` (or ``M · V^H`` if *inverse*) for the resolved block V acting on the
    column index of the (2**n, 2**n) matrix *matrix_h*."""
    block = rb.block
    if block.permutation is not None:
        # (M P)[:, j] = M[:, P^-1[j]] with (P s)[i] = s[perm[i]].
        perm = block.permutation if inverse else block.inverse_permutation
        return matrix_h[:, perm]
    if block.diagonal is not None:
        diag = block.diagonal.conj() if inverse else block.diagonal
        return matrix_h * diag[None, :]
    local = np.conj(rb.unitary.T) if inverse else rb.unitary
    dim = matrix_h.shape[0]
    if len(block.qubits) == 1:
        # (M V)[i, (x, b, r)] = Σ_a M[i, (x, a, r)] V[a, b]: V^T on the qubit's axis of the column index.
        q = block.qubits[0]
        view = matrix_h.reshape(dim * 2**q, 2, -1)
        return apply_2x2(view, local.T).reshape(matrix_h.shape)
    # (M V)[i, j] = Σ_k M[i, k] V[k, j]  ==  (V^T applied to the columns of M^T)^T.
    return np.ascontiguousarray(apply_matrix(np.ascontiguousarray(matrix_h.T), n_qubits, block.qubits,
                                             np.ascontiguousarray(local.T)).T)


def partial_trace(matrix_h: np.ndarray, n_qubits: int, qubits: tuple[int, ...]) -> np.ndarray:
    """h[a, b] = Σ_r M[(a, r), (b, r)]: keep *qubits* (in the given order), trace out the rest."""
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    n = n_qubits
    if 2 * n + 2 * len(qubits) > len(letters):
        raise ValueError("register too wide for partial_trace")
    rows = list(letters[:n])
    cols = list(rows)
    keep_cols = letters[n : n + len(qubits)]
    for pos, q in enumerate(qubits):
        cols[q] = keep_cols[pos]
    spec = "".join(rows) + "".join(cols) + "->" + "".join(rows[q] for q in qubits) + keep_cols
    k = len(qubits)
    return np.einsum(spec, matrix_h.reshape((2,) * (2 * n))).reshape(2**k, 2**k)


def unitary_sweep(
    program: Program,
    resolved: list[ResolvedBlock],
    unitary: np.ndarray,
    lam_unitary: np.ndarray,
) -> np.ndarray:
    """Parameter gradient of the shared-unitary path from ``G = dL/dU*``.

    Sweeps ``H = A^H G B^H`` (A = blocks after the current point, B = blocks
    before it) from the end of the circuit to the start; ``H`` starts as
    ``G U^H`` and moves across a stage V as ``V^H H V``. For a block on qubits
    Q with local unitary V and derivative dV of one factor, the gradient is
    ``2 Re Σ_ab D[a,b] conj(h[a,b])`` with ``D = dV V^H`` and h the partial
    trace of H over the qubits outside Q, taken at the end of the block's
    stage. No overlaps over 2^n x 2^n matrices are needed: only two small
    GEMM passes per stage.
    """
    pindex = {name: i for i, name in enumerate(program.param_names)}
    n = program.n_qubits
    grad = np.zeros(len(program.param_names))
    staged = stages(program, resolved)
    derivs = [_stage_derivatives(stage, pindex) for stage in staged]
    first = next((i for i, d in enumerate(derivs) if d), None)
    if first is None:
        return grad
    h_matrix = lam_unitary @ unitary.conj().T
    with single_thread_blas():
        for i in range(len(staged) - 1, first - 1, -1):
            for rb, items in derivs[i]:
                local = partial_trace(h_matrix, n, rb.block.qubits).conj()
                for index, d in items:
                    grad[index] += 2.0 * np.real(np.sum(d * local))
            if i == first:
                break
            # Move H to the start of stage i: H <- V^H H V.
            h_matrix = staged[i].apply(program, h_matrix, inverse=True)
            h_matrix = staged[i].apply_right(program, h_matrix)
    return grad


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
