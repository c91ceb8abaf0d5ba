"""A PennyLane QNN with classical layers before the circuit: train it (PyTorch), save weights and data.

The model: ``Linear(8, 4)`` + ``Tanh`` (a trained encoder from 8 standardised PCA features to the 4
rotation angles), ``AngleEmbedding`` + ``StronglyEntanglingLayers``, <Z_j> readout, a ``Linear`` head --
one ``torch.nn.Sequential`` around a ``qml.qnn.TorchLayer``; digits 0-3; Adam (lr 0.05), 15 epochs,
batch 32. Run this file to train it (about 20 s) and write, next to it: ``digits8.npz`` (X: the model's
raw inputs, y: labels), ``encoder_members.txt`` (training indices), ``encoder_weights.pt``. Then import
it stating the same recipe, so that qaudit's reference models are trained the way this one was:

    qaudit import pennylane pennylane_encoder.py:model --weights encoder_weights.pt \\
        --dataset digits8.npz --members encoder_members.txt --out encoder_model.json \\
        --optimizer adam --lr 0.05 --epochs 15 --batch-size 32
    qaudit leak encoder_model.json -a lira -K 8

qaudit maps the Linear + Tanh to the model's encoder and trains it with the circuit (the engine's
gradients with respect to the encoding angles). `qaudit import` runs this file to build ``model``
(untrained); the training below runs only when the file is executed as a script.
"""

import numpy as np
import pennylane as qml
import torch

N_FEATURES, N_QUBITS, N_LAYERS, N_CLASSES = 8, 4, 2, 4

dev = qml.device("default.qubit", wires=N_QUBITS)


@qml.qnode(dev, interface="torch")
def circuit(inputs, weights):
    qml.AngleEmbedding(inputs, wires=range(N_QUBITS))
    qml.StronglyEntanglingLayers(weights, wires=range(N_QUBITS))
    return [qml.expval(qml.PauliZ(i)) for i in range(N_QUBITS)]


torch.manual_seed(0)
model = torch.nn.Sequential(
    torch.nn.Linear(N_FEATURES, N_QUBITS),
    torch.nn.Tanh(),
    qml.qnn.TorchLayer(circuit, {"weights": (N_LAYERS, N_QUBITS, 3)}),
    torch.nn.Linear(N_QUBITS, N_CLASSES),
)


def make_data() -> tuple[np.ndarray, np.ndarray]:
    """Digits 0-3, PCA to 8 features, standardised (the model's raw inputs)."""
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA

    digits = load_digits(n_class=N_CLASSES)
    Z = PCA(N_FEATURES, random_state=0).fit_transform(digits.data / 16.0)
    return (Z - Z.mean(axis=0)) / Z.std(axis=0), digits.target


def main() -> None:
    from torch_training import train_and_save  # next to this file

    X, y = make_data()
    train_and_save(model, X, y, "digits8.npz", "encoder_members.txt", "encoder_weights.pt")


if __name__ == "__main__":
    main()
