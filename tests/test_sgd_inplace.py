"""The in-place SGD update is the textbook one, step for step (it reuses the velocity buffer)."""

from __future__ import annotations

import numpy as np
import pytest

from qaudit.train.training import SGD


@pytest.mark.parametrize(("momentum", "nesterov", "sign"), [(0.9, False, 1.0), (0.9, True, 1.0), (0.5, False, -1.0),
                                                            (0.0, False, 1.0)])
def test_sgd_matches_the_closed_form(momentum, nesterov, sign):
    rng = np.random.default_rng(0)
    w0 = {"a": rng.normal(size=(7, 3)), "b": rng.normal(size=4)}
    grads = [{k: rng.normal(size=v.shape) for k, v in w0.items()} for _ in range(5)]
    grads_before = [{k: v.copy() for k, v in g.items()} for g in grads]
    weights = {k: v.copy() for k, v in w0.items()}
    opt = SGD(lr=0.1, momentum=momentum, nesterov=nesterov, sign=sign)
    expect, velocity = {k: v.copy() for k, v in w0.items()}, {}
    for g in grads:
        opt.step(weights, g)
        for k in expect:
            gk = sign * g[k]
            velocity[k] = gk if k not in velocity else momentum * velocity[k] + gk
            step = (gk + momentum * velocity[k] if nesterov else velocity[k]) if momentum else gk
            expect[k] = expect[k] - 0.1 * step
    for k in expect:
        np.testing.assert_array_equal(weights[k], expect[k])
    for g, before in zip(grads, grads_before):  # the caller's gradients are never modified
        for k in g:
            np.testing.assert_array_equal(g[k], before[k])
    assert all(not np.shares_memory(opt.velocity[k], grads[-1][k]) for k in opt.velocity)


def test_read_only_velocity_from_a_checkpoint_is_not_written():
    opt = SGD(lr=0.1, momentum=0.9)
    frozen = np.ones(3)
    frozen.flags.writeable = False
    opt.velocity["a"] = frozen
    weights = {"a": np.zeros(3)}
    opt.step(weights, {"a": np.ones(3)})
    np.testing.assert_array_equal(frozen, np.ones(3))
    np.testing.assert_allclose(weights["a"], -0.1 * 1.9 * np.ones(3))
