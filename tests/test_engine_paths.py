"""Issue 19: the engine's fused path (stacked block evaluation, stored states, chunk overlaps) against
its per-block path (every block evaluated and differentiated on its own, states un-computed backwards)
on the models that run through it: basic QNN, user circuits (amplitude and angle encoded), HQNN."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("cirq")


def per_block_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Switch the engine to its per-block path for the rest of the test."""
    import qaudit.engine.plan as plan
    import qaudit.engine.statevector as sv

    monkeypatch.setattr(plan, "_eigen_factor", lambda factor, d: False)
    monkeypatch.setattr(plan.ResolvePlan, "for_program", classmethod(lambda cls, program: cls(program)))
    monkeypatch.setattr(sv, "SAVE_BYTES", 0)


def _model(name: str):
    from qaudit_qnn.basic import BasicQNN
    from qaudit_qnn.hqnn import HQNN
    from qaudit_qnn.user_circuit import UserCircuit
    from test_user_circuit import AMPLITUDE, ANGLE

    rng = np.random.default_rng(0)
    X, y = rng.random((300, 64)), rng.integers(0, 10, 300)
    if name == "hqnn 2 layers":
        images = rng.random((24, 784))
        return HQNN(layers=2, epochs=0, seed=1).initialise(images, y[:24], 10), images, y[:24]
    if name == "basic-qnn 6q x 3l":
        return BasicQNN(qubits=6, layers=3, seed=1).initialise(X, y, 10), X, y
    options = AMPLITUDE if name.endswith("amplitude") else ANGLE
    return UserCircuit.from_options(options).initialise(X, y, 10), X, y


@pytest.mark.parametrize("name", ["basic-qnn 6q x 3l", "user circuit, amplitude", "user circuit, angle",
                                  "hqnn 2 layers"])
def test_fused_path_equals_per_block_path(name, monkeypatch):
    import qaudit.engine as engine
    from qaudit.engine.plan import ResolvePlan

    model, X, y = _model(name)
    for method in ("unitary", "batched"):
        with monkeypatch.context() as m:
            m.setattr(engine, "choose_method", lambda program, batch, per_sample=False, _m=method:
                      "batched" if per_sample or program.input_dependent else _m)
            loss, grads = model.loss_and_grad(X, y)
            per = model.per_sample_grads(X[:5], y[:5])
            per_block_engine(m)
            assert not ResolvePlan.for_program(model.compiled.program).groups  # nothing stacked any more
            loss_ref, grads_ref = model.loss_and_grad(X, y)
            per_ref = model.per_sample_grads(X[:5], y[:5])
        assert abs(loss - loss_ref) < 1e-12
        for key in grads:
            np.testing.assert_allclose(grads[key], grads_ref[key], rtol=0, atol=1e-12, err_msg=f"{name} {key}")
            np.testing.assert_allclose(per[key], per_ref[key], rtol=0, atol=1e-12, err_msg=f"{name} {key}")
