"""Train a small PennyLane QNN on digits (PyTorch), save weights and data for `qaudit import`.

The model: AngleEmbedding of 4 PCA features + StronglyEntanglingLayers, <Z_j> readout, a Linear head
(inside a torch.nn.Module). Run this file to train it (a few seconds) and write, next to it:
``digits4.npz`` (X: the model's inputs, y: labels), ``members.txt`` (training indices),
``pennylane_weights.pt`` (the state_dict). Then:

    qaudit import pennylane pennylane_classifier.py:model --weights pennylane_weights.pt \\
        --dataset digits4.npz --members members.txt --out pennylane_model.json
    qaudit leak pennylane_model.json

`qaudit import` runs this file to build ``model`` (untrained); the training below runs only when the
file is executed as a script.
"""

import numpy as np
import pennylane as qml
import torch

N_QUBITS, N_LAYERS, N_CLASSES = 4, 2, 4

dev = qml.device("default.qubit", wires=N_QUBITS)


@qml.qnode(dev, interface="torch")
def circuit(inputs, weights):
    qml.AngleEmbedding(inputs, wires=range(N_QUBITS))
    qml.StronglyEntanglingLayers(weights, wires=range(N_QUBITS))
    return [qml.expval(qml.PauliZ(i)) for i in range(N_QUBITS)]


torch.manual_seed(0)
model = torch.nn.Sequential(
    qml.qnn.TorchLayer(circuit, {"weights": (N_LAYERS, N_QUBITS, 3)}),
    torch.nn.Linear(N_QUBITS, N_CLASSES),
)


def make_data() -> tuple[np.ndarray, np.ndarray]:
    """Digits 0-3, PCA to 4 features scaled to [0, pi] (the model's raw inputs)."""
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA

    digits = load_digits(n_class=N_CLASSES)
    Z = PCA(N_QUBITS, random_state=0).fit_transform(digits.data / 16.0)
    Z = (Z - Z.min(axis=0)) / (Z.max(axis=0) - Z.min(axis=0)) * np.pi
    return Z, digits.target


def main() -> None:
    from torch_training import train_and_save  # next to this file

    X, y = make_data()
    train_and_save(model, X, y, "digits4.npz", "members.txt", "pennylane_weights.pt")


if __name__ == "__main__":
    main()
