"""Pauli-string observables on the state vector: values and cotangents."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from qaudit.errors import QauditError

_TERM = re.compile(r"^([XYZI])(\d+)$")


def parse_pauli(text: str, n_qubits: int) -> dict[int, str]:
    """Parse ``"Z0"`` or ``"X1 Z3"`` (also ``"X1*Z3"``) into {qubit: pauli}."""
    if not isinstance(text, str) or not text.strip():
        raise QauditError(f"observable must be a Pauli string like 'Z0' or 'X1 Z3', got {text!r}")
    out: dict[int, str] = {}
    for token in re.split(r"[\s*]+", text.strip()):
        match = _TERM.match(token)
        if not match:
            raise QauditError(f"bad Pauli term {token!r} in observable {text!r}")
        pauli, qubit = match.group(1), int(match.group(2))
        if qubit >= n_qubits:
            raise QauditError(f"observable {text!r} names qubit {qubit}, circuit has {n_qubits}")
        if qubit in out:
            raise QauditError(f"observable {text!r} names qubit {qubit} twice")
        if pauli != "I":
            out[qubit] = pauli
    return out


class PauliObservables:
    """A list of Pauli strings, evaluated as ``<ψ|P|ψ>`` for each row ψ.

    ``(P ψ)[i] = phase[i] · ψ[i XOR mask]`` with qubit q = bit ``n-1-q`` of i.
    """

    def __init__(self, terms: Sequence[str], n_qubits: int):
        self.terms = list(terms)
        self.n_qubits = n_qubits
        dim = 2**n_qubits
        index = np.arange(dim)
        self.masks = np.zeros(len(terms), dtype=np.int64)
        self.phases = np.ones((len(terms), dim), dtype=np.complex128)
        for j, term in enumerate(self.terms):
            for q, pauli in parse_pauli(term, n_qubits).items():
                bit = (index >> (n_qubits - 1 - q)) & 1
                sign = 1 - 2 * bit
                if pauli in "XY":
                    self.masks[j] |= 1 << (n_qubits - 1 - q)
                if pauli == "Z":
                    self.phases[j] *= sign
                elif pauli == "Y":
                    self.phases[j] *= -1j * sign
        self.diagonal = bool(np.all(self.masks == 0))
        if self.diagonal:
            self.table = np.ascontiguousarray(self.phases.real.T)  # (dim, n_obs)
        self._perm = [index ^ m for m in self.masks]

    def __len__(self) -> int:
        return len(self.terms)

    def _apply(self, j: int, psi: np.ndarray) -> np.ndarray:
        return self.phases[j] * psi[:, self._perm[j]]

    def expval(self, psi: np.ndarray) -> np.ndarray:
        """(batch, n_obs) float64 expectation values of the rows of *psi*."""
        if self.diagonal:
            return (psi.real**2 + psi.imag**2) @ self.table
        return np.stack(
            [np.real(np.sum(psi.conj() * self._apply(j, psi), axis=1)) for j in range(len(self))],
            axis=1,
        )

    def cotangent(self, psi: np.ndarray, d_ev: np.ndarray) -> np.ndarray:
        """dL/dψ* = Σ_j dL/d<P_j> · P_j ψ, shape like *psi*."""
        if self.diagonal:
            return psi * (d_ev @ self.table.T)
        out = np.zeros_like(psi)
        for j in range(len(self)):
            out += d_ev[:, j : j + 1] * self._apply(j, psi)
        return out

    def probabilities_basis(self) -> list[dict[int, str]]:
        """The parsed terms (for backends that rotate into the measured basis)."""
        return [parse_pauli(t, self.n_qubits) for t in self.terms]
