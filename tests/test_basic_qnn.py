"""basic-qnn options that are not covered by the engine and spine tests."""

from __future__ import annotations

import numpy as np
import pytest
from qaudit_qnn.basic import BasicQNN

from qaudit.sdk.errors import QauditError


def _initialised(**options):
    rng = np.random.default_rng(0)
    X = rng.random((40, 16))
    y = np.arange(40) % 4
    return BasicQNN(qubits=4, layers=1, **options).initialise(X, y)


def test_head_init_scaled_is_the_default_and_normal_follows_the_paper():
    scaled = _initialised()
    normal = _initialised(head_init="normal")
    assert np.all(scaled.weights["b"] == 0)
    assert np.std(scaled.weights["W"]) < 0.8  # N(0, 1/4) for 4 observables
    assert np.any(normal.weights["b"] != 0)
    # Same seed, same draw order: the paper's head is the scaled one times sqrt(n_obs).
    np.testing.assert_allclose(normal.weights["W"], scaled.weights["W"] * 2.0)
    np.testing.assert_array_equal(normal.weights["theta"], scaled.weights["theta"])


def test_head_init_rejects_unknown_values():
    with pytest.raises(QauditError, match="head_init"):
        BasicQNN(head_init="zeros").validate_options()
