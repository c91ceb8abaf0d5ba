"""Train a small Qiskit ML EstimatorQNN on digits, save circuit (QPY), weights and data for `qaudit import`.

The model: ZZFeatureMap(4) + RealAmplitudes(4, reps=2), two observables (one per class, digits 0 and 1),
class probabilities = softmax of the two expectation values; trained on 100 members with SciPy's COBYLA
on the cross-entropy (Qiskit's simulator is slow, so the example stays small).
Running it (about 20 s) writes, next to this file:
``qiskit_circuit.qpy``, ``qiskit_weights.npy``, ``qiskit_data.npz`` (X, y) and ``qiskit_members.txt``.
Then:

    qaudit import qiskit qiskit_circuit.qpy --input-params x --weight-params θ --weights qiskit_weights.npy \\
        --observables ZZII,IIZZ --dataset qiskit_data.npz --members qiskit_members.txt --out qiskit_model.json
    qaudit leak qiskit_model.json
"""

from pathlib import Path

import numpy as np
from qiskit import qpy
from qiskit.circuit.library import real_amplitudes, zz_feature_map
from qiskit.primitives import StatevectorEstimator
from qiskit.quantum_info import SparsePauliOp
from qiskit_machine_learning.neural_networks import EstimatorQNN
from scipy.optimize import minimize

N_QUBITS = 4
OBSERVABLES = ["ZZII", "IIZZ"]
HERE = Path(__file__).resolve().parent


def make_data() -> tuple[np.ndarray, np.ndarray]:
    """Digits 0 and 1, PCA to 4 features scaled to [0, pi]."""
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA

    digits = load_digits(n_class=2)
    Z = PCA(N_QUBITS, random_state=0).fit_transform(digits.data / 16.0)
    return (Z - Z.min(axis=0)) / (Z.max(axis=0) - Z.min(axis=0)) * np.pi, digits.target


def main() -> None:
    feature_map = zz_feature_map(N_QUBITS, reps=1, parameter_prefix="x")
    ansatz = real_amplitudes(N_QUBITS, reps=2, parameter_prefix="θ")
    circuit = feature_map.compose(ansatz)
    qnn = EstimatorQNN(circuit=circuit, observables=[SparsePauliOp(o) for o in OBSERVABLES],
                       input_params=list(feature_map.parameters), weight_params=list(ansatz.parameters),
                       estimator=StatevectorEstimator(), default_precision=0.0)
    X, y = make_data()
    rng = np.random.default_rng(0)
    members = np.sort(rng.choice(len(X), size=100, replace=False))
    Xm, ym = X[members], y[members]

    def loss(theta: np.ndarray) -> float:
        ev = qnn.forward(Xm, theta)
        z = ev - ev.max(axis=1, keepdims=True)
        p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        return float(-np.log(p[np.arange(len(ym)), ym]).mean())

    result = minimize(loss, rng.uniform(-np.pi, np.pi, qnn.num_weights), method="COBYLA",
                      options={"maxiter": 60})
    theta = result.x
    accuracy = (qnn.forward(X, theta).argmax(axis=1) == y).mean()
    print(f"loss {result.fun:.3f}, accuracy on all {len(X)} samples {accuracy:.3f}")
    with open(HERE / "qiskit_circuit.qpy", "wb") as handle:
        qpy.dump(circuit, handle)
    np.save(HERE / "qiskit_weights.npy", theta)
    np.savez(HERE / "qiskit_data.npz", X=X, y=y)
    np.savetxt(HERE / "qiskit_members.txt", members, fmt="%d")
    print("wrote qiskit_circuit.qpy, qiskit_weights.npy, qiskit_data.npz, qiskit_members.txt")


if __name__ == "__main__":
    main()
