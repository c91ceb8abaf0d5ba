"""A classical head as data: a list of layers between a circuit's readout and its class logits.

A head spec is a JSON list of layers, applied in order to the readout values ``e`` (n, n_obs)::

    [{"op": "linear", "out": 8}, {"op": "relu"}, {"op": "linear", "out": 10}]

Layer ops: ``linear`` (``x @ W.T + b``, PyTorch's layout; its weights are ``head{i}_W`` (out, in) and
``head{i}_b`` (out,) with ``i`` the layer's position), ``relu``, ``leaky_relu`` (``slope``, default
0.01), ``tanh``, ``sigmoid``. The head's output is the logits (class probabilities are their softmax);
an empty list means the readout values *are* the logits. Forward and backward passes are numpy, exact,
batched, with per-sample gradients for the methods that need them (:mod:`qaudit_qnn.layers`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qaudit.errors import QauditError
from qaudit_qnn import layers

ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid")
MAX_HEAD_LAYERS = 16
MAX_UNITS = 4096


def validate(spec: Any, owner: str) -> list[dict[str, Any]]:
    """The head spec *spec* checked (one-line QauditError); returns a normalised copy."""
    if not isinstance(spec, list) or len(spec) > MAX_HEAD_LAYERS:
        raise QauditError(f"{owner}: head must be a list of at most {MAX_HEAD_LAYERS} layers")
    out: list[dict[str, Any]] = []
    for i, layer in enumerate(spec):
        op = layer.get("op") if isinstance(layer, dict) else None
        if op == "linear":
            units = layer.get("out")
            if not (isinstance(units, int) and not isinstance(units, bool) and 1 <= units <= MAX_UNITS) or \
                    set(layer) != {"op", "out"}:
                raise QauditError(f"{owner}: head[{i}] linear needs exactly 'out' (1..{MAX_UNITS} units)")
            out.append({"op": op, "out": units})
        elif op == "leaky_relu":
            slope = layer.get("slope", 0.01)
            if not isinstance(slope, (int, float)) or isinstance(slope, bool) or not 0 <= slope <= 1 or \
                    set(layer) - {"op", "slope"}:
                raise QauditError(f"{owner}: head[{i}] leaky_relu takes 'slope' in [0, 1]")
            out.append({"op": op, "slope": float(slope)})
        elif op in ACTIVATIONS:
            if set(layer) != {"op"}:
                raise QauditError(f"{owner}: head[{i}] {op} takes no settings")
            out.append({"op": op})
        else:
            raise QauditError(f"{owner}: head[{i}] has unknown op {op!r} (linear, {', '.join(ACTIVATIONS)})")
    return out


def shapes(spec: list[dict[str, Any]], n_in: int) -> tuple[dict[str, tuple[int, ...]], int]:
    """The weight shapes of the head's linear layers for *n_in* readout values, and its output width."""
    found: dict[str, tuple[int, ...]] = {}
    width = n_in
    for i, layer in enumerate(spec):
        if layer["op"] == "linear":
            found[f"head{i}_W"] = (layer["out"], width)
            found[f"head{i}_b"] = (layer["out"],)
            width = layer["out"]
    return found, width


def init(spec: list[dict[str, Any]], n_in: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """PyTorch's default initialisation of every linear layer: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    weights = {}
    for name, shape in shapes(spec, n_in)[0].items():
        fan_in = shape[1] if len(shape) == 2 else weights[name[:-1] + "W"].shape[1]
        bound = 1.0 / np.sqrt(fan_in)
        weights[name] = rng.uniform(-bound, bound, size=shape)
    return weights


def forward(spec: list[dict[str, Any]], weights: dict[str, np.ndarray], x: np.ndarray) -> tuple[np.ndarray, list]:
    """Logits and the per-layer caches for :func:`backward`."""
    caches: list[Any] = []
    for i, layer in enumerate(spec):
        op = layer["op"]
        if op == "linear":
            x, cache = layers.linear_forward(x, weights[f"head{i}_W"], weights[f"head{i}_b"])
        elif op == "relu":
            x, cache = layers.relu_forward(x)
        elif op == "leaky_relu":
            x, cache = layers.leaky_relu_forward(x, layer["slope"])
        elif op == "tanh":
            x = np.tanh(x)
            cache = 1.0 - x * x
        else:  # sigmoid
            x = 0.5 * (1.0 + np.tanh(0.5 * x))
            cache = x * (1.0 - x)
        caches.append(cache)
    return x, caches


def backward(spec: list[dict[str, Any]], d_out: np.ndarray, caches: list, per_sample: bool
             ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``(dL/d readout, weight gradients)`` from dL/dlogits."""
    grads: dict[str, np.ndarray] = {}
    for i in range(len(spec) - 1, -1, -1):
        op, cache = spec[i]["op"], caches[i]
        if op == "linear":
            d_w, d_b, d_out = layers.linear_backward(d_out, cache, per_sample=per_sample)
            grads[f"head{i}_W"], grads[f"head{i}_b"] = d_w, d_b
        elif op == "relu":
            d_out = layers.relu_backward(d_out, cache)
        else:  # leaky_relu, tanh, sigmoid: the cache is the local derivative
            d_out = d_out * cache
    return d_out, grads
