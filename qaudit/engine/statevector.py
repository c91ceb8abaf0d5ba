"""Batched state-vector kernels: apply fused blocks to many states at once.

States are *columns* of a complex128 array of shape ``(2**n, batch)``: a gate on
qubit q then acts on axis q of the ``(2,)*n + (batch,)`` tensor and the trailing
axis stays long and contiguous, so one small matmul covers the whole batch. The
same kernels serve the shared-unitary method (the batch is the 2**n basis
states, so the columns become ``U e_k``) and the per-sample method.
"""

from __future__ import annotations

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


def apply_matrix(
    states: np.ndarray, n_qubits: int, qubits: tuple[int, ...], matrix: np.ndarray
) -> np.ndarray:
    """Return ``matrix`` applied on *qubits* of every column of *states*.

    ``matrix`` is (d, d) shared by all columns or (batch, d, d) per column,
    d = 2**len(qubits).
    """
    if matrix.ndim == 2 and len(qubits) == 1:
        q = qubits[0]
        view = states.reshape(2**q, 2, -1)
        return np.matmul(matrix, view).reshape(states.shape)
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
    resolved = []
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


def run(program: Program, resolved: list[ResolvedBlock], states: np.ndarray) -> np.ndarray:
    """Apply all blocks to *states* (columns); returns the final states."""
    for rb in resolved:
        states = apply_block(program, rb, states)
    return states


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
    the initial states (columns).
    """
    pindex = {name: i for i, name in enumerate(program.param_names)}
    batch = final_states.shape[-1]
    n_params = len(program.param_names)
    grad = np.zeros((batch, n_params) if per_sample else n_params)
    states = final_states
    lam = cotangent
    n = program.n_qubits
    for rb in reversed(resolved):
        states = apply_block(program, rb, states, inverse=True)
        derivs = [(s, d) for s, d in rb.derivatives() if s in pindex]
        if derivs:
            batched = per_sample or any(d.ndim == 3 for _, d in derivs)
            overlap = local_overlap(lam, states, n, rb.block.qubits, batched)
            for symbol, d in derivs:
                contrib = 2.0 * np.real(np.sum(d * overlap, axis=(-2, -1)))
                if per_sample:
                    grad[:, pindex[symbol]] += contrib
                else:
                    grad[pindex[symbol]] += np.sum(contrib)
        lam = apply_block(program, rb, lam, inverse=True)
    return grad, lam
