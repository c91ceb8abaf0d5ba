"""Evaluate a program's blocks for given parameter values: matrices, unitaries, gradient generators.

:func:`resolve` turns a :class:`Program` and a parameter vector into
:class:`ResolvedBlock` objects. Blocks that share a factor layout (the forty U3
blocks of a basic QNN, say) are evaluated together by a :class:`ResolvePlan`
built once per program: one stacked numpy call per factor position instead of
a Python loop per block and factor. The same pass yields, for every trainable
factor, the matrix ``D = dV/dθ · V^H`` that the adjoint sweep contracts with
the local overlaps (``resolved.dmats``): for an eigen-gate factor
``F = Σ_k exp(i·φ_k·e) P_k`` with ``e = c·θ + const``, ``F' F^H = i·c·Σ_k φ_k P_k``
does not depend on θ, so ``D_j = S_j (F'_j F_j^H) S_j^H`` with ``S_j`` the
product of the block's factors after ``j``.

Blocks whose gates depend on input features, or whose factors are not
eigen-gates with orthogonal projectors, are evaluated one by one as before.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qaudit.engine.program import Block, Program


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

    @classmethod
    def evaluated(cls, block: Block, values: list, matrices: list, unitary: np.ndarray) -> ResolvedBlock:
        """A block whose factor matrices and unitary were computed by a :class:`ResolvePlan`."""
        rb = cls.__new__(cls)
        rb.block, rb.values, rb.matrices, rb.unitary = block, values, matrices, unitary
        return rb

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


class Resolved(list):
    """The resolved blocks of a program (a list), with what the sweeps need, built once per call.

    ``staged`` caches the stages (:func:`qaudit.engine.statevector.stages`); ``plan`` and
    ``dmats`` (``{d: (n_items, d, d)}``, ``D = dV·V^H`` of every trainable factor the plan
    evaluated, in the plan's item order) come from :func:`resolve`.
    """

    staged: list | None = None
    plan: ResolvePlan | None = None
    dmats: dict[int, np.ndarray] | None = None


def _eigen_factor(factor: Any, d: int) -> bool:
    """True if *factor* is ``Σ_k exp(i·φ_k·e) P_k`` with orthogonal Hermitian projectors summing to 1."""
    phases, proj = getattr(factor, "phases", None), getattr(factor, "projectors", None)
    if phases is None or proj is None or proj.shape[1:] != (d, d) or len(phases) != len(proj):
        return False
    prod = np.einsum("kab,lbc->klac", proj, proj)
    want = np.einsum("kl,kac->klac", np.eye(len(proj)), proj)
    return bool(np.allclose(prod, want, atol=1e-12) and np.allclose(proj.sum(axis=0), np.eye(d), atol=1e-12)
                and np.allclose(proj, np.conj(np.swapaxes(proj, -1, -2)), atol=1e-12))


class _Group:
    """Blocks with one factor layout: per factor position, stacked constants over the blocks."""

    def __init__(self, d: int, layout: tuple, positions: list[int]):
        self.d, self.layout, self.positions = d, layout, np.asarray(positions)
        self.fixed: dict[int, np.ndarray] = {}
        self.symbol: dict[int, np.ndarray] = {}  # index into theta (len(theta) = no symbol: value 0)
        self.coef: dict[int, np.ndarray] = {}
        self.const: dict[int, np.ndarray] = {}
        self.phases: dict[int, np.ndarray] = {}
        self.projectors: dict[int, np.ndarray] = {}
        self.generators: dict[int, np.ndarray] = {}  # F' F^H = i c Σ φ_k P_k
        self.items: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # j -> (block rows, flat item indices)


class ResolvePlan:
    """How to evaluate a program's blocks in stacked numpy calls (built once per program).

    ``pidx[d]``, ``bpos[d]``: parameter index and block position of each trainable item of
    dimension d; ``block_items[pos]``: (d, item indices) of a block; ``other``: positions
    evaluated one by one (input-dependent or non-eigen factors); ``fixed``: blocks with no
    symbol, resolved once.
    """

    def __init__(self, program: Program):
        n_params = len(program.param_names)
        pindex = {name: i for i, name in enumerate(program.param_names)}
        self.n_params = n_params
        self.fixed: dict[int, ResolvedBlock] = {}
        self.other: list[int] = []
        by_layout: dict[tuple, list[int]] = {}
        for pos, block in enumerate(program.blocks):
            if all(f.form is None for f in block.factors):
                self.fixed[pos] = ResolvedBlock(block, [0.0] * len(block.factors))
                continue
            d = 2 ** len(block.qubits)
            symbols = [f.form.symbol for f in block.factors if f.form is not None]
            if any(s is not None and s not in pindex for s in symbols) or not all(
                    (f.form is None and f.fixed.shape == (d, d)) or (f.form is not None and _eigen_factor(f, d))
                    for f in block.factors):
                self.other.append(pos)
                continue
            layout = (d,) + tuple(None if f.form is None else len(f.phases) for f in block.factors)
            by_layout.setdefault(layout, []).append(pos)
        counts: dict[int, int] = {}
        pidx: dict[int, list[int]] = {}
        bpos: dict[int, list[int]] = {}
        self.block_items: dict[int, tuple[int, list[int]]] = {}
        self.groups: list[_Group] = []
        for layout, positions in by_layout.items():
            d = layout[0]
            group = _Group(d, layout[1:], positions)
            factors = [program.blocks[p].factors for p in positions]
            for j, k in enumerate(group.layout):
                column = [fs[j] for fs in factors]
                if k is None:
                    group.fixed[j] = np.stack([f.fixed for f in column]).astype(np.complex128)
                    continue
                sym = [pindex.get(f.form.symbol, n_params) if f.form.symbol is not None else n_params
                       for f in column]
                group.symbol[j] = np.asarray(sym)
                group.coef[j] = np.array([f.form.coef for f in column], dtype=float)
                group.const[j] = np.array([f.form.const for f in column], dtype=float)
                group.phases[j] = np.stack([f.phases for f in column]).astype(float)
                group.projectors[j] = np.stack([f.projectors for f in column]).astype(np.complex128)
                group.generators[j] = 1j * group.coef[j][:, None, None] * np.einsum(
                    "bk,bkxy->bxy", group.phases[j], group.projectors[j])
                rows = np.flatnonzero(group.symbol[j] < n_params)
                start = counts.get(d, 0)
                counts[d] = start + len(rows)
                group.items[j] = (rows, np.arange(start, start + len(rows)))
                pidx.setdefault(d, []).extend(group.symbol[j][rows].tolist())
                bpos.setdefault(d, []).extend(group.positions[rows].tolist())
                for row, item in zip(rows.tolist(), range(start, start + len(rows))):
                    self.block_items.setdefault(positions[row], (d, []))[1].append(item)
            self.groups.append(group)
        self.counts = counts
        self.pidx = {d: np.asarray(v, dtype=np.intp) for d, v in pidx.items()}
        self.bpos = {d: np.asarray(v, dtype=np.intp) for d, v in bpos.items()}
        self.block_items = {p: (d, np.asarray(v, dtype=np.intp)) for p, (d, v) in self.block_items.items()}
        self.position = {id(block): pos for pos, block in enumerate(program.blocks)}
        self.n_blocks = len(program.blocks)

    @classmethod
    def for_program(cls, program: Program) -> ResolvePlan:
        """The program's plan, built on first use and kept on the program."""
        cache = getattr(program, "__dict__", {})
        plan = cache.get("_resolve_plan")
        if plan is None or plan.n_blocks != len(program.blocks):
            plan = cache["_resolve_plan"] = cls(program)
        return plan

    def evaluate(self, group: _Group, values: np.ndarray, dmats: dict[int, np.ndarray]) -> tuple[list, np.ndarray]:
        """Factor matrices (per factor, stacked over the group's blocks) and unitaries; fills *dmats*."""
        mats = []
        for j, k in enumerate(group.layout):
            if k is None:
                mats.append(group.fixed[j])
                continue
            e = group.coef[j] * values[group.symbol[j]] + group.const[j]
            phase = np.exp(1j * e[:, None] * group.phases[j])
            mats.append(np.einsum("bk,bkxy->bxy", phase, group.projectors[j]))
        suffix = None  # S_j = F_m ... F_{j+1}
        for j in range(len(group.layout) - 1, -1, -1):
            if j in group.items and len(group.items[j][0]):
                rows, items = group.items[j]
                gen = group.generators[j][rows]
                if suffix is not None:
                    s = suffix[rows]
                    gen = s @ gen @ np.conj(np.swapaxes(s, -1, -2))
                dmats[group.d][items] = gen
            suffix = mats[j] if suffix is None else suffix @ mats[j]
        return mats, suffix


def resolve(program: Program, theta: np.ndarray, features: np.ndarray | None = None) -> Resolved:
    """Evaluate every block for parameter vector *theta* (and per-sample *features*)."""
    plan = ResolvePlan.for_program(program)
    values = np.append(np.asarray(theta, dtype=float), 0.0)
    resolved = Resolved([None] * len(program.blocks))
    dmats = {d: np.empty((n, d, d), dtype=np.complex128) for d, n in plan.counts.items()}
    for group in plan.groups:
        mats, unitaries = plan.evaluate(group, values, dmats)
        blocks = program.blocks
        for b, pos in enumerate(group.positions.tolist()):
            resolved[pos] = ResolvedBlock.evaluated(blocks[pos], None, [m[b] for m in mats], unitaries[b])
    for pos, rb in plan.fixed.items():
        resolved[pos] = rb
    if plan.other:
        pindex = {name: i for i, name in enumerate(program.param_names)}
        findex = {name: i for i, name in enumerate(program.feature_names)}
        for pos in plan.other:
            block = program.blocks[pos]
            vals = []
            for factor in block.factors:
                symbol = factor.form.symbol if factor.form is not None else None
                if symbol is None:
                    vals.append(0.0)
                elif symbol in pindex:
                    vals.append(theta[pindex[symbol]])
                else:
                    vals.append(features[:, findex[symbol]])
            resolved[pos] = ResolvedBlock(block, vals)
    resolved.plan, resolved.dmats = plan, dmats
    return resolved
