"""A hand-written PyTorch HQNN of the paper's configuration: the reference `benchmarks/hqnn.py --vs-torch` times.

Same architecture as ``qaudit_qnn.hqnn.HQNN`` (conv 1->5 k5 pad 2, ReLU, max-pool 2, linear
980->256, LeakyReLU 0.01, L2-normalise, amplitude encoding on 8 qubits, one layer of U3 on every
qubit + CNOT ring, <Z_q>, linear 8->10, cross-entropy), the same preprocessing ((x/255 − 0.5)/0.5),
PyTorch default initialisation for the classical layers, U(−π, π) angles, SGD lr 0.1 momentum 0.9,
batch 8, float64 (as qaudit). The quantum layer is a plain state-vector simulation in torch
(complex128, one 2x2 gate contraction per qubit, the CNOT ring as one index permutation),
differentiated by autograd -- what one would write by hand without a quantum library.

torch is a bench-only dependency (``pip install torch``); nothing in qaudit imports it.
"""

from __future__ import annotations

import numpy as np


def _u3(t):
    """U3(θ, φ, λ) matrices (n, 2, 2) complex, as PennyLane/Qiskit."""
    import torch

    theta, phi, lam = t[:, 0], t[:, 1], t[:, 2]
    c, s = torch.cos(theta / 2).to(torch.complex128), torch.sin(theta / 2).to(torch.complex128)
    ep, el = torch.exp(1j * phi.to(torch.complex128)), torch.exp(1j * lam.to(torch.complex128))
    return torch.stack([torch.stack([c, -el * s], -1), torch.stack([ep * s, ep * el * c], -1)], -2)


def _cnot_ring_permutation(n: int) -> np.ndarray:
    """Basis-index permutation of CNOT(0,1) CNOT(1,2) ... CNOT(n-1,0) (qubit 0 = most significant)."""
    perm = np.arange(2 ** n)
    for q in range(n):
        c, t = n - 1 - q, n - 1 - (q + 1) % n  # bit positions
        idx = np.arange(2 ** n)
        src = np.where((idx >> c) & 1, idx ^ (1 << t), idx)
        perm = perm[src]
    return perm


def make_model(n_qubits: int = 8, n_classes: int = 10, seed: int = 0):
    import torch
    from torch import nn

    torch.manual_seed(seed)
    perm = torch.as_tensor(_cnot_ring_permutation(n_qubits))
    signs = torch.tensor([[1.0 - 2.0 * ((i >> (n_qubits - 1 - q)) & 1) for q in range(n_qubits)]
                          for i in range(2 ** n_qubits)], dtype=torch.float64)  # (2^n, n): <Z_q> weights

    class QuantumLayer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.theta = nn.Parameter(torch.empty(n_qubits, 3, dtype=torch.float64).uniform_(-np.pi, np.pi))

        def forward(self, z):
            psi = z.to(torch.complex128).reshape(-1, *([2] * n_qubits))
            gates = _u3(self.theta)
            for q in range(n_qubits):  # apply U3 on qubit q (axis q + 1)
                psi = torch.movedim(torch.tensordot(psi, gates[q], dims=([q + 1], [1])), -1, q + 1)
            psi = psi.reshape(len(z), -1)[:, perm]
            return (psi.real ** 2 + psi.imag ** 2) @ signs

    class TorchHQNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 5, 5, padding=2)
            self.fc = nn.Linear(980, 2 ** n_qubits)
            self.q = QuantumLayer()
            self.head = nn.Linear(n_qubits, n_classes)

        def forward(self, x):
            a = torch.max_pool2d(torch.relu(self.conv(x)), 2).flatten(1)
            a = nn.functional.normalize(nn.functional.leaky_relu(self.fc(a), 0.01), dim=1)
            return self.head(self.q(a))

    return TorchHQNN().double()


def train(X: np.ndarray, y: np.ndarray, epochs: int = 25, batch: int = 8, seed: int = 0):
    """Train on raw 28x28 images (n, 784) in 0..255; returns the model."""
    import torch

    model = make_model(seed=seed)
    xs = torch.as_tensor((np.asarray(X, dtype=np.float64) / 255.0 - 0.5) / 0.5).reshape(-1, 1, 28, 28)
    ys = torch.as_tensor(np.asarray(y), dtype=torch.long)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    gen = torch.Generator().manual_seed(seed + 1)
    for _ in range(epochs):
        order = torch.randperm(len(xs), generator=gen)
        for start in range(0, len(xs), batch):
            idx = order[start:start + batch]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(xs[idx]), ys[idx]).backward()
            opt.step()
    return model


def accuracy(model, X: np.ndarray, y: np.ndarray) -> float:
    import torch

    with torch.no_grad():
        xs = torch.as_tensor((np.asarray(X, dtype=np.float64) / 255.0 - 0.5) / 0.5).reshape(-1, 1, 28, 28)
        return float((model(xs).argmax(1).numpy() == np.asarray(y)).mean())
