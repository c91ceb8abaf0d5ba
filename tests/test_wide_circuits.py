"""Qubit limits of the exact paths (issue 16): shared unitary <= 11, batched state vector <= 16, qsim above,
chosen automatically by the exact backend; a 20-qubit QNN evaluates, a 12-qubit one trains."""

from __future__ import annotations

import numpy as np
import pytest
from qaudit_backends.exact import ExactBackend, exact_path

from qaudit.engine import MAX_UNITARY_QUBITS
from qaudit.files.data import load_dataset
from qaudit.run.query import batch_size, predict_proba
from qaudit.sdk import limits
from qaudit.sdk.errors import QauditError
from qaudit.sdk.host import get_host


def _model(qubits: int, epochs: int = 0):
    ds = load_dataset("digits")
    cls = get_host().get("model", "basic-qnn")
    model = cls.from_options({"qubits": qubits, "layers": 1, "epochs": epochs, "seed": 2})
    model.initialise(ds.X[:60], ds.y[:60], n_classes=10)
    return model, ds


@pytest.fixture(scope="module")
def wide():
    return _model(limits.MAX_QNN_QUBITS)


@pytest.mark.parametrize("qubits,batch,path", [(4, 512, "unitary"), (4, 2, "batched"),
                                               (MAX_UNITARY_QUBITS + 1, 4096, "batched"),
                                               (limits.MAX_STATEVECTOR_QUBITS, 1, "batched")])
def test_each_engine_path_has_a_qubit_limit_and_is_chosen_by_width_and_batch(qubits, batch, path):
    model, ds = _model(qubits)
    task = model.task(np.repeat(ds.X[:1], batch, axis=0))
    assert exact_path(task) == path


@pytest.mark.parametrize("qubits", [limits.MAX_STATEVECTOR_QUBITS + 1, limits.MAX_QNN_QUBITS])
def test_tasks_wider_than_the_engine_go_to_qsim(qubits):
    from qaudit.sdk.protocols import QuantumTask

    assert exact_path(QuantumTask(None, list(range(qubits)), [], np.zeros(0), ["Z0"])) == "qsim"


def test_qsim_path_agrees_with_the_engine_where_both_apply():
    from qaudit_backends.qsim_backend import QsimBackend

    model, ds = _model(10)
    task = model.task(ds.X[:6])
    engine = ExactBackend().expectation(task)
    qsim = QsimBackend().expectation(model.task(ds.X[:6]))
    np.testing.assert_allclose(qsim, engine, atol=2e-5)  # qsim runs in single precision


def test_a_20_qubit_qnn_evaluates_through_qsim_in_small_batches(wide):
    model, ds = wide
    assert batch_size(model) == 16  # 2**20 amplitudes x 16 B per state: 16 states per batch
    probs = predict_proba(model, ds.X[:3])
    assert probs.shape == (3, 10) and np.allclose(probs.sum(axis=1), 1.0)
    assert np.allclose(probs, predict_proba(model, ds.X[:3]))  # exact: no randomness


def test_a_20_qubit_qnn_cannot_train_and_says_why(wide):
    model, ds = wide
    with pytest.raises(QauditError, match="at most 16 qubits; wider models can be evaluated"):
        model.partial_fit(ds.X[:4], ds.y[:4], epochs=1)


def test_a_12_qubit_qnn_trains():
    model, ds = _model(12)
    before = {k: v.copy() for k, v in model.weights.items()}
    model.partial_fit(ds.X[:24], ds.y[:24], epochs=1)
    assert any(not np.array_equal(before[k], model.weights[k]) for k in before)
    assert model.history and np.all(np.isfinite(model.history))
