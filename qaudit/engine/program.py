"""Compile a parameterised ``cirq.Circuit`` into a list of fused gate blocks.

Each Cirq operation becomes a :class:`Factor`: a fixed unitary, or an
``EigenGate`` whose exponent is a linear form of one symbol (a trainable
parameter or an input feature). Consecutive operations on the same qubits are
fused into one :class:`Block`, so the three rotations of a U3 cost one 2x2
application. Qubit ``k`` of ``program.qubits`` is bit ``k`` of the state index
counted from the most significant end (Cirq's big-endian convention).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qaudit.engine.symbols import LinearForm, linear_form
from qaudit.sdk.errors import QauditError


@dataclass
class Factor:
    """One gate. ``matrix(value)`` returns its unitary for the symbol's value.

    Fixed gates have ``form is None`` and a constant ``fixed``. Symbolic
    EigenGates store ``phases`` (π·(eigen half-turns + global shift)) and
    ``projectors``; exponent ``e = form.coef * value + form.const`` gives
    ``U(e) = Σ_k exp(i·phase_k·e) P_k``.
    """

    fixed: np.ndarray | None = None
    form: LinearForm | None = None
    phases: np.ndarray | None = None
    projectors: np.ndarray | None = None

    def matrix(self, value: Any = None) -> np.ndarray:
        """Unitary, shape (d, d) or (batch, d, d) if *value* is an array."""
        if self.form is None:
            return self.fixed
        e = self.form.coef * np.asarray(value, dtype=float) + self.form.const
        phase = np.exp(1j * np.multiply.outer(e, self.phases))  # (..., k)
        return self._combine(phase)

    def _combine(self, phase: np.ndarray) -> np.ndarray:
        """Σ_k phase[..., k] · projectors[k] as one small matmul."""
        k, d, _ = self.projectors.shape
        return (phase @ self.projectors.reshape(k, d * d)).reshape(phase.shape[:-1] + (d, d))

    def derivative(self, value: Any) -> np.ndarray:
        """d U / d symbol, same shape as :meth:`matrix`."""
        e = self.form.coef * np.asarray(value, dtype=float) + self.form.const
        phase = 1j * self.phases * np.exp(1j * np.multiply.outer(e, self.phases)) * self.form.coef
        return self._combine(phase)


@dataclass
class Block:
    """Consecutive gates on the same qubits, applied in order ``factors[0]`` first."""

    qubits: tuple[int, ...]
    factors: list[Factor] = field(default_factory=list)
    #: For fixed permutation blocks (CNOT, SWAP, X): new_state[:, i] = state[:, permutation[i]].
    permutation: np.ndarray | None = None
    #: For fixed diagonal blocks (CZ, Z, S, T): new_state = state * diagonal.
    diagonal: np.ndarray | None = None
    inverse_permutation: np.ndarray | None = None

    @property
    def fixed(self) -> bool:
        return all(f.form is None for f in self.factors)

    def finalise(self, n_qubits: int) -> None:
        """Precompute full-register index maps for fixed permutation/diagonal blocks."""
        if not self.fixed:
            return
        matrix = self.factors[0].fixed
        for f in self.factors[1:]:
            matrix = f.fixed @ matrix
        k = len(self.qubits)
        index = np.arange(2**n_qubits)
        local = np.zeros_like(index)
        for pos, q in enumerate(self.qubits):
            local |= ((index >> (n_qubits - 1 - q)) & 1) << (k - 1 - pos)
        off_diag = matrix - np.diag(np.diag(matrix))
        if np.allclose(off_diag, 0):
            self.diagonal = np.diag(matrix)[local]
            return
        nonzero = np.abs(matrix) > 1e-12
        if np.all(nonzero.sum(axis=1) == 1) and np.allclose(np.abs(matrix[nonzero]), 1):
            source_local = np.argmax(nonzero, axis=1)  # row a takes amplitude from column source[a]
            if np.allclose(matrix[np.arange(2**k), source_local], 1):
                clear = index.copy()
                for q in self.qubits:
                    clear &= ~(1 << (n_qubits - 1 - q))
                src = source_local[local]
                full = clear.copy()
                for pos, q in enumerate(self.qubits):
                    full |= ((src >> (k - 1 - pos)) & 1) << (n_qubits - 1 - q)
                self.permutation = full
                self.inverse_permutation = np.argsort(full)


@dataclass
class Program:
    """A compiled circuit: qubit count, symbol tables and fused blocks."""

    n_qubits: int
    blocks: list[Block]
    param_names: list[str]
    feature_names: list[str]

    @property
    def dim(self) -> int:
        return 2**self.n_qubits

    @property
    def input_dependent(self) -> bool:
        """True if any gate depends on an input feature (no shared unitary)."""
        features = set(self.feature_names)
        return any(
            f.form is not None and f.form.symbol in features for b in self.blocks for f in b.factors
        )

    @classmethod
    def from_circuit(
        cls,
        circuit: Any,
        qubits: Sequence[Any] | None = None,
        param_names: Sequence[str] | None = None,
        feature_names: Sequence[str] = (),
    ) -> Program:
        """Compile *circuit*. Unknown symbols and unsupported gates raise ``QauditError``.

        ``param_names`` fixes the order of trainable symbols (default: sorted names
        of all symbols that are not features).
        """
        import cirq

        qubits = list(qubits) if qubits is not None else sorted(circuit.all_qubits())
        index = {q: i for i, q in enumerate(qubits)}
        missing = set(circuit.all_qubits()) - set(index)
        if missing:
            raise QauditError(f"circuit acts on qubits outside the register: {sorted(missing)}")
        feature_names = list(feature_names)
        symbols = sorted(str(s.name) for s in cirq.parameter_symbols(circuit))
        if param_names is None:
            param_names = [s for s in symbols if s not in set(feature_names)]
        known = set(param_names) | set(feature_names)
        unknown = [s for s in symbols if s not in known]
        if unknown:
            raise QauditError(f"circuit uses unknown symbols: {', '.join(unknown)}")
        ops = [(tuple(index[q] for q in op.qubits), _factor_for(op)) for op in circuit.all_operations()
               if not cirq.is_measurement(op)]
        return cls.from_operations(len(qubits), ops, param_names, feature_names)

    @classmethod
    def from_operations(cls, n_qubits: int, ops: Sequence[tuple[tuple[int, ...], Factor]],
                        param_names: Sequence[str], feature_names: Sequence[str] = ()) -> Program:
        """Fuse ``(qubit indices, Factor)`` operations, in circuit order, into blocks (no Cirq needed; see
        :func:`qaudit.engine.gates.compile_gates`)."""
        blocks: list[Block] = []
        last: dict[int, int] = {}  # qubit -> index of the last block touching it
        for targets, factor in ops:
            owners = {last.get(q, -1) for q in targets}
            if len(owners) == 1 and (j := owners.pop()) >= 0 and blocks[j].qubits == targets:
                # Nothing touched these qubits since block j: fuse (gates on other qubits commute).
                blocks[j].factors.append(factor)
                continue
            blocks.append(Block(targets, [factor]))
            for q in targets:
                last[q] = len(blocks) - 1
        for block in blocks:
            block.finalise(n_qubits)
        return cls(n_qubits, _merge_permutations(blocks), list(param_names), list(feature_names))


def _merge_permutations(blocks: list[Block]) -> list[Block]:
    """Fold runs of fixed permutation blocks (a CNOT ring) into one index map."""
    merged: list[Block] = []
    for block in blocks:
        target = None
        if block.permutation is not None:
            # Walk back over blocks on disjoint qubits (they commute with this one).
            for j in range(len(merged) - 1, -1, -1):
                if merged[j].permutation is not None:
                    target = j
                    break
                if set(merged[j].qubits) & set(block.qubits):
                    break
        if target is None:
            merged.append(block)
            continue
        prev = merged[target]
        full = prev.permutation[block.permutation]
        qubits = tuple(sorted(set(prev.qubits) | set(block.qubits)))
        combined = Block(qubits, prev.factors + block.factors)
        combined.permutation = full
        combined.inverse_permutation = np.argsort(full)
        merged[target] = combined
    return merged


def _factor_for(op: Any) -> Factor:
    import cirq

    gate = op.gate
    if not cirq.is_parameterized(op):
        if not cirq.has_unitary(op):
            raise QauditError(f"unsupported (non-unitary) operation {op}")
        return Factor(fixed=cirq.unitary(op).astype(np.complex128))
    if isinstance(gate, cirq.EigenGate):
        form = linear_form(gate.exponent)
        components = gate._eigen_components()
        shift = gate.global_shift
        phases = np.array([np.pi * (half_turns + shift) for half_turns, _ in components])
        projectors = np.array([proj for _, proj in components], dtype=np.complex128)
        return Factor(form=form, phases=phases, projectors=projectors)
    raise QauditError(
        f"unsupported parameterised gate {gate!r}: use rotations/power gates "
        "(rx, ry, rz, XPowGate, ZZPowGate, CZPowGate, ...) with one symbol each"
    )
