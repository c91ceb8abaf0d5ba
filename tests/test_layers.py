"""numpy CNN layers: forward against naive loops, backward against finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from qaudit_qnn import layers


def numeric_grad(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar function f() with respect to every entry of x (in place)."""
    g = np.zeros_like(x)
    for i in range(x.size):
        old = x.flat[i]
        x.flat[i] = old + h
        up = f()
        x.flat[i] = old - h
        down = f()
        x.flat[i] = old
        g.flat[i] = (up - down) / (2 * h)
    return g


def naive_conv(x, w, b, pad):
    n, c, h, wd = x.shape
    f, _, k, _ = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = h + 2 * pad - k + 1, wd + 2 * pad - k + 1
    out = np.zeros((n, f, oh, ow))
    for s in range(n):
        for o in range(f):
            for i in range(oh):
                for j in range(ow):
                    out[s, o, i, j] = np.sum(xp[s, :, i:i + k, j:j + k] * w[o]) + b[o]
    return out


@pytest.mark.parametrize("shape,k,pad", [((2, 1, 6, 6), 3, 1), ((2, 2, 7, 5), 3, 0), ((1, 1, 8, 8), 5, 2)])
def test_conv_forward_matches_naive_loops(shape, k, pad):
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape)
    w = rng.normal(size=(3, shape[1], k, k))
    b = rng.normal(size=3)
    out, _ = layers.conv2d_forward(x, w, b, pad)
    np.testing.assert_allclose(out, naive_conv(x, w, b, pad), atol=1e-12)


def test_conv_matches_scipy_correlate():
    """Independent check of the PyTorch convention (cross-correlation, not convolution)."""
    from scipy.signal import correlate2d

    rng = np.random.default_rng(1)
    x = rng.normal(size=(1, 1, 28, 28))
    w = rng.normal(size=(5, 1, 5, 5))
    out, _ = layers.conv2d_forward(x, w, np.zeros(5), 2)
    for f in range(5):
        np.testing.assert_allclose(out[0, f], correlate2d(x[0, 0], w[f, 0], mode="same"), atol=1e-12)


def test_conv_backward_matches_finite_differences():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 2, 6, 5))
    w = rng.normal(size=(3, 2, 3, 3))
    b = rng.normal(size=3)
    probe = rng.normal(size=(2, 3, 6, 5))

    def loss():
        return float(np.sum(probe * layers.conv2d_forward(x, w, b, 1)[0]))

    _, cache = layers.conv2d_forward(x, w, b, 1)
    d_w, d_b, d_x = layers.conv2d_backward(probe, cache, input_grad=True)
    np.testing.assert_allclose(d_w, numeric_grad(loss, w), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(d_b, numeric_grad(loss, b), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(d_x, numeric_grad(loss, x), rtol=1e-6, atol=1e-7)


def test_conv_per_sample_grads_sum_to_batch_grads():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 1, 8, 8))
    w = rng.normal(size=(5, 1, 5, 5))
    _, cache = layers.conv2d_forward(x, w, rng.normal(size=5), 2)
    d_out = rng.normal(size=(4, 5, 8, 8))
    d_w, d_b, _ = layers.conv2d_backward(d_out, cache)
    ps_w, ps_b, _ = layers.conv2d_backward(d_out, cache, per_sample=True)
    assert ps_w.shape == (4, 5, 1, 5, 5) and ps_b.shape == (4, 5)
    np.testing.assert_allclose(ps_w.sum(axis=0), d_w, atol=1e-10)
    np.testing.assert_allclose(ps_b.sum(axis=0), d_b, atol=1e-10)
    # Each sample's gradient equals the batch gradient of that sample alone.
    _, one = layers.conv2d_forward(x[1:2], w, np.zeros(5), 2)
    np.testing.assert_allclose(ps_w[1], layers.conv2d_backward(d_out[1:2], one)[0], atol=1e-10)


def test_maxpool_forward_and_backward():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 3, 6, 4))
    out, cache = layers.maxpool2_forward(x)
    naive = np.array([[[[x[n, c, 2 * i:2 * i + 2, 2 * j:2 * j + 2].max() for j in range(2)] for i in range(3)]
                       for c in range(3)] for n in range(2)])
    np.testing.assert_array_equal(out, naive)
    probe = rng.normal(size=out.shape)
    d_x = layers.maxpool2_backward(probe, cache)
    np.testing.assert_allclose(d_x, numeric_grad(lambda: float(np.sum(probe * layers.maxpool2_forward(x)[0])), x),
                               atol=1e-7)


def test_maxpool_ties_go_to_the_first_element():
    x = np.zeros((1, 1, 2, 2))
    _, cache = layers.maxpool2_forward(x)
    d_x = layers.maxpool2_backward(np.ones((1, 1, 1, 1)), cache)
    np.testing.assert_array_equal(d_x[0, 0], [[1, 0], [0, 0]])


@pytest.mark.parametrize("which", ["relu", "leaky"])
def test_activations_match_finite_differences(which):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3, 7))
    x[np.abs(x) < 1e-3] = 0.5  # keep away from the kink
    probe = rng.normal(size=x.shape)
    if which == "relu":
        fwd, bwd = layers.relu_forward, layers.relu_backward
        np.testing.assert_array_equal(fwd(x)[0], np.maximum(x, 0))
    else:
        fwd, bwd = (lambda a: layers.leaky_relu_forward(a, 0.01)), layers.leaky_relu_backward
        np.testing.assert_allclose(fwd(x)[0], np.where(x > 0, x, 0.01 * x))
    _, cache = fwd(x)
    np.testing.assert_allclose(bwd(probe, cache), numeric_grad(lambda: float(np.sum(probe * fwd(x)[0])), x),
                               atol=1e-7)


def test_linear_backward_and_per_sample():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(4, 6))
    w = rng.normal(size=(3, 6))
    b = rng.normal(size=3)
    probe = rng.normal(size=(4, 3))
    out, cache = layers.linear_forward(x, w, b)
    np.testing.assert_allclose(out, np.einsum("ni,oi->no", x, w) + b)

    def loss():
        return float(np.sum(probe * layers.linear_forward(x, w, b)[0]))

    d_w, d_b, d_x = layers.linear_backward(probe, cache)
    np.testing.assert_allclose(d_w, numeric_grad(loss, w), atol=1e-7)
    np.testing.assert_allclose(d_b, numeric_grad(loss, b), atol=1e-7)
    np.testing.assert_allclose(d_x, numeric_grad(loss, x), atol=1e-7)
    ps_w, ps_b, _ = layers.linear_backward(probe, cache, per_sample=True)
    np.testing.assert_allclose(ps_w.sum(axis=0), d_w, atol=1e-12)
    np.testing.assert_allclose(ps_b.sum(axis=0), d_b, atol=1e-12)


def test_l2_normalise_backward():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(3, 5))
    probe = rng.normal(size=x.shape)
    out, cache = layers.l2_normalise_forward(x)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0)
    d_x = layers.l2_normalise_backward(probe, cache)
    num = numeric_grad(lambda: float(np.sum(probe * layers.l2_normalise_forward(x)[0])), x)
    np.testing.assert_allclose(d_x, num, atol=1e-7)


def test_l2_normalise_zero_row_is_finite():
    out, cache = layers.l2_normalise_forward(np.zeros((1, 4)))
    assert np.all(out == 0)
    assert np.all(np.isfinite(layers.l2_normalise_backward(np.ones((1, 4)), cache)))


def naive_maxpool_backward(x: np.ndarray, d_out: np.ndarray) -> np.ndarray:
    """Route each window's gradient to its first maximum in row-major order (PyTorch's rule), by loops."""
    d_x = np.zeros_like(x)
    n, c, h, w = x.shape
    for s in range(n):
        for ch in range(c):
            for i in range(h // 2):
                for j in range(w // 2):
                    window = x[s, ch, 2 * i:2 * i + 2, 2 * j:2 * j + 2]
                    a, b = divmod(int(np.argmax(window)), 2)
                    d_x[s, ch, 2 * i + a, 2 * j + b] = d_out[s, ch, i, j]
    return d_x


def test_maxpool_ties_everywhere_match_loops():
    """Small integers make every tie pattern (2, 3, 4 equal maxima) occur; the quadrant code must pick the first."""
    rng = np.random.default_rng(7)
    x = rng.integers(0, 3, size=(3, 2, 8, 6)).astype(float)
    out, cache = layers.maxpool2_forward(x)
    d_out = rng.normal(size=out.shape)
    np.testing.assert_array_equal(layers.maxpool2_backward(d_out, cache), naive_maxpool_backward(x, d_out))


def test_pool_before_relu_equals_relu_before_pool():
    """The HQNN pools before its ReLU (4x less work); values and input gradients are bitwise those of
    ReLU-then-pool, including windows whose maximum is 0 or negative and tied zeros."""
    rng = np.random.default_rng(8)
    x = rng.normal(size=(4, 5, 8, 8))
    x[0, 0, :2, :2] = 0.0  # all-zero window
    x[1, 1, :2, :2] = -1.0  # all-negative tie
    x[2, 2, :2, :2] = [[0.0, 0.5], [0.5, -1.0]]  # positive tie
    d_out = rng.normal(size=(4, 5, 4, 4))
    r, r_mask = layers.relu_forward(x)  # reference order
    ref, ref_pool = layers.maxpool2_forward(r)
    ref_dx = layers.relu_backward(layers.maxpool2_backward(d_out, ref_pool), r_mask)
    p, pool = layers.maxpool2_forward(x)  # the HQNN's order
    out, mask = layers.relu_forward(p)
    dx = layers.maxpool2_backward(layers.relu_backward(d_out, mask), pool)
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(dx, ref_dx)
