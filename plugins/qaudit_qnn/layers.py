"""Classical neural-network layers in numpy, with hand-derived backward passes.

Every layer is a pair of functions: ``<layer>_forward(...) -> (out, cache)`` and
``<layer>_backward(d_out, cache) -> gradients``. Shapes and memory layouts follow
PyTorch so weights can be compared with (or imported from) a ``torch.nn`` model:

* images are NCHW float64 arrays ``(n, channels, height, width)``;
* a convolution kernel is ``(out_channels, in_channels, k, k)``;
* a linear layer's weight is ``(out_features, in_features)``: ``y = x @ W.T + b``.

The convolution uses im2col built from a strided view of the padded input, so
the forward pass and both weight gradients are single BLAS matmuls over the
whole batch (columns are kernel-offset-major, see ``_im2col``). Per-sample weight
gradients (needed for Fisher information) are einsums over the same cached columns.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

_CONTROLLER: Any = None


def single_threaded() -> Any:
    """Context manager limiting BLAS to one thread.

    The HQNN's matmuls are small (minibatches of 8); OpenBLAS worker threads then
    cost more than they save -- about 5x slower on 2 busy cores (measured in
    benchmarks/hqnn.py). Entering costs ~10 µs (the controller is built once).
    """
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1, user_api="blas")


# ----------------------------------------------------------------------------- convolution


def _im2col(x: np.ndarray, k: int, pad: int) -> np.ndarray:
    """Columns ``(channels * k * k, n, out_h * out_w)`` for a stride-1 convolution.

    Kernel-offset-major: the copy out of the strided window view then walks the
    image contiguously (≈3x faster than sample-major columns for a batch of 8), and
    the forward pass is one ``(f, ckk) @ (ckk, n·oh·ow)`` matmul with the long axis last.
    """
    n, c, h, w = x.shape
    if pad:
        padded = np.zeros((n, c, h + 2 * pad, w + 2 * pad), dtype=x.dtype)
        padded[:, :, pad:pad + h, pad:pad + w] = x
    else:
        padded = x
    windows = sliding_window_view(padded, (k, k), axis=(2, 3))  # (n, c, oh, ow, k, k)
    oh, ow = windows.shape[2:4]
    return np.ascontiguousarray(windows.transpose(1, 4, 5, 0, 2, 3)).reshape(c * k * k, n, oh * ow)


def conv2d_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, pad: int) -> tuple[np.ndarray, Any]:
    """Stride-1 2-D convolution (cross-correlation, as ``torch.nn.Conv2d``).

    *x* (n, c, h, w), *weight* (f, c, k, k), *bias* (f,) -> (n, f, h + 2·pad − k + 1, ...).
    The result is a (non-contiguous) view of an (f, n, oh, ow) array; reshape copies if needed.
    """
    f, c, k, _ = weight.shape
    n, _, h, w = x.shape
    oh, ow = h + 2 * pad - k + 1, w + 2 * pad - k + 1
    cols = _im2col(x, k, pad)  # (ckk, n, oh*ow)
    out = weight.reshape(f, -1) @ cols.reshape(len(cols), -1)  # (f, n*oh*ow)
    out += bias[:, None]
    return out.reshape(f, n, oh, ow).transpose(1, 0, 2, 3), (cols, x.shape, weight, pad)


def conv2d_backward(d_out: np.ndarray, cache: Any, per_sample: bool = False,
                    input_grad: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(d_weight, d_bias, d_x)`` for the gradient *d_out* (n, f, oh, ow) of the output.

    With *per_sample* the weight and bias gradients keep the batch axis:
    (n, f, c, k, k) and (n, f). ``d_x`` is computed only if *input_grad*.
    """
    cols, x_shape, weight, pad = cache
    f, c, k, _ = weight.shape
    n, _, oh, ow = d_out.shape
    ckk = len(cols)
    d_fm = np.ascontiguousarray(d_out.transpose(1, 0, 2, 3)).reshape(f, n, oh * ow)  # (f, n, P)
    if per_sample:
        d_w = np.einsum("fnp,knp->nfk", d_fm, cols).reshape(n, f, c, k, k)
        d_b = d_out.sum(axis=(2, 3))
    else:
        d_w = (d_fm.reshape(f, -1) @ cols.reshape(ckk, -1).T).reshape(f, c, k, k)
        d_b = d_fm.sum(axis=(1, 2))
    d_x = None
    if input_grad:
        d_cols = (weight.reshape(f, ckk).T @ d_fm.reshape(f, -1)).reshape(c, k, k, n, oh, ow)
        h, w = x_shape[2], x_shape[3]
        d_pad = np.zeros((n, c, h + 2 * pad, w + 2 * pad), dtype=d_cols.dtype)
        for i in range(k):  # col2im: scatter each kernel offset back (k*k slice adds)
            for j in range(k):
                d_pad[:, :, i:i + oh, j:j + ow] += d_cols[:, i, j].transpose(1, 0, 2, 3)
        d_x = d_pad[:, :, pad:pad + h, pad:pad + w] if pad else d_pad
    return d_w, d_b, d_x


# ----------------------------------------------------------------------------- pooling


def _quadrants(x: np.ndarray) -> tuple[np.ndarray, ...]:
    """The four strided views of each 2x2 window, in row-major window order (no copies)."""
    return x[..., 0::2, 0::2], x[..., 0::2, 1::2], x[..., 1::2, 0::2], x[..., 1::2, 1::2]


def maxpool2_forward(x: np.ndarray) -> tuple[np.ndarray, Any]:
    """2x2 max pooling with stride 2 on (n, c, h, w), h and w even.

    Ties go to the first element of the window in row-major order (as PyTorch). Works on
    the four strided quadrant views with elementwise ``maximum`` -- about 5x faster for a
    minibatch of 8 than an ``argmax`` over a transposed (copied) window axis.
    """
    q0, q1, q2, q3 = _quadrants(x)
    top, bottom = np.maximum(q0, q1), np.maximum(q2, q3)
    out = np.maximum(top, bottom)
    # arg = index of the first window element equal to the max (row-major), as int8
    arg = np.where(q2 == out, 2, 3).astype(np.int8)
    arg[q1 == out] = 1
    arg[q0 == out] = 0
    axes = tuple(int(a) for a in np.argsort(x.strides, kind="stable")[::-1])  # x's memory order
    return out, (arg, x.shape, axes)


def maxpool2_backward(d_out: np.ndarray, cache: Any) -> np.ndarray:
    """Route *d_out* (n, c, h/2, w/2) to the arg-max of each window.

    The result has the memory layout of the forward input (for the convolution's
    (f, n, h, w) output, a transposed view the convolution's backward then reads without a copy);
    the four quadrants partition it, so it needs no zero-fill.
    """
    arg, shape, axes = cache
    d_x = np.empty([shape[a] for a in axes], dtype=d_out.dtype).transpose(np.argsort(axes))
    for i, view in enumerate(_quadrants(d_x)):
        np.multiply(d_out, arg == i, out=view)
    return d_x


# ----------------------------------------------------------------------------- activations


def relu_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """max(x, 0); the cache is the mask x > 0."""
    mask = x > 0
    return x * mask, mask


def relu_backward(d_out: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return d_out * mask


def leaky_relu_forward(x: np.ndarray, slope: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """x for x > 0, slope·x otherwise; the cache is the local derivative."""
    factor = np.where(x > 0, 1.0, slope)
    return x * factor, factor


def leaky_relu_backward(d_out: np.ndarray, factor: np.ndarray) -> np.ndarray:
    return d_out * factor


# ----------------------------------------------------------------------------- linear


def linear_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, Any]:
    """``x @ weight.T + bias`` for *x* (n, in), *weight* (out, in), *bias* (out,)."""
    return x @ weight.T + bias, (x, weight)


def linear_backward(d_out: np.ndarray, cache: Any, per_sample: bool = False,
                    input_grad: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(d_weight, d_bias, d_x)``; per-sample gradients are (n, out, in) and (n, out)."""
    x, weight = cache
    if per_sample:
        d_w = d_out[:, :, None] * x[:, None, :]
        d_b = d_out.copy()
    else:
        d_w = d_out.T @ x
        d_b = d_out.sum(axis=0)
    return d_w, d_b, (d_out @ weight if input_grad else None)


# ----------------------------------------------------------------------------- normalisation

#: Norms below this are clamped (as ``torch.nn.functional.normalize``).
L2_EPS = 1e-12


def l2_normalise_forward(x: np.ndarray) -> tuple[np.ndarray, Any]:
    """Rows divided by ``max(||x||, L2_EPS)``."""
    norm = np.maximum(np.linalg.norm(x, axis=1, keepdims=True), L2_EPS)
    out = x / norm
    return out, (out, norm)


def l2_normalise_backward(d_out: np.ndarray, cache: Any) -> np.ndarray:
    """For z = x/||x||: dL/dx = (g − z·(z·g)) / ||x|| (clamped rows: g / eps)."""
    out, norm = cache
    clamped = norm[:, 0] <= L2_EPS
    radial = np.sum(out * d_out, axis=1, keepdims=True)
    d_x = (d_out - out * radial) / norm
    if np.any(clamped):
        d_x[clamped] = d_out[clamped] / L2_EPS
    return d_x
