"""Classical layers as data: a head (a circuit's readout -> class logits) or an encoder (raw inputs -> the
angles a circuit's angle encoding binds).

A layer spec is a JSON list of layers, applied in order to a batch ``x`` (n, width)::

    [{"op": "linear", "out": 8}, {"op": "relu"}, {"op": "linear", "out": 10}]

Layer ops: ``linear`` (``x @ W.T + b``, PyTorch's layout; its weights are ``{prefix}{i}_W`` (out, in) and
``{prefix}{i}_b`` (out,) with ``i`` the layer's position and prefix ``head`` or ``enc``), ``relu``,
``leaky_relu`` (``slope``, default 0.01), ``tanh``, ``sigmoid``, ``scale`` (``factor``: ``x * factor``, a
fixed number, e.g. π before an angle encoding), ``affine`` (``scale``, ``shift``: lists of one number per
feature, ``x * scale + shift``; fixed numbers stored in the layer itself, never trained -- an imported
``BatchNorm1d`` in evaluation mode). A head's output is the logits (class probabilities are
their softmax); an empty head means the readout values *are* the logits. Forward and backward passes are
numpy, exact, batched, with per-sample gradients for the methods that need them (:mod:`qaudit_qnn.layers`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qaudit.sdk import QauditError
from qaudit_qnn import layers

ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid")
#: Largest |factor| of a ``scale`` layer (the model file's bound on numbers).
MAX_SCALE = 1e6
#: Largest |number| in an ``affine`` layer's scale and shift.
MAX_AFFINE = 1e9
MAX_HEAD_LAYERS = 16
MAX_UNITS = 4096


def validate(spec: Any, owner: str, what: str = "head") -> list[dict[str, Any]]:
    """The layer spec *spec* checked (one-line QauditError naming ``{owner}: {what}[i]``); a normalised copy."""
    if not isinstance(spec, list) or len(spec) > MAX_HEAD_LAYERS:
        raise QauditError(f"{owner}: {what} must be a list of at most {MAX_HEAD_LAYERS} layers")
    out: list[dict[str, Any]] = []
    for i, layer in enumerate(spec):
        op = layer.get("op") if isinstance(layer, dict) else None
        where = f"{owner}: {what}[{i}]"
        if op == "linear":
            units = layer.get("out")
            if not (isinstance(units, int) and not isinstance(units, bool) and 1 <= units <= MAX_UNITS) or \
                    set(layer) != {"op", "out"}:
                raise QauditError(f"{where} linear needs exactly 'out' (1..{MAX_UNITS} units)")
            out.append({"op": op, "out": units})
        elif op == "leaky_relu":
            slope = layer.get("slope", 0.01)
            if not _number(slope) or not 0 <= slope <= 1 or set(layer) - {"op", "slope"}:
                raise QauditError(f"{where} leaky_relu takes 'slope' in [0, 1]")
            out.append({"op": op, "slope": float(slope)})
        elif op == "scale":
            factor = layer.get("factor")
            if not _number(factor) or not 0 < abs(factor) <= MAX_SCALE or set(layer) != {"op", "factor"}:
                raise QauditError(f"{where} scale needs exactly 'factor' (a non-zero number within "
                                  f"+-{MAX_SCALE:g})")
            out.append({"op": op, "factor": float(factor)})
        elif op == "affine":
            out.append(_validate_affine(layer, where))
        elif op in ACTIVATIONS:
            if set(layer) != {"op"}:
                raise QauditError(f"{where} {op} takes no settings")
            out.append({"op": op})
        else:
            raise QauditError(f"{where} has unknown op {op!r} (linear, {', '.join(ACTIVATIONS)}, scale, affine)")
    return out


def _validate_affine(layer: dict[str, Any], where: str) -> dict[str, Any]:
    """An ``affine`` layer checked: ``scale`` and ``shift``, equally long lists of finite numbers."""
    scale, shift = layer.get("scale"), layer.get("shift")
    ok = (set(layer) == {"op", "scale", "shift"} and isinstance(scale, list) and isinstance(shift, list)
          and 1 <= len(scale) == len(shift) <= MAX_UNITS
          and all(_number(v) and abs(v) <= MAX_AFFINE for v in scale + shift))
    if not ok:
        raise QauditError(f"{where} affine needs exactly 'scale' and 'shift': equally long lists of 1..{MAX_UNITS} "
                          f"finite numbers within +-{MAX_AFFINE:g}")
    return {"op": "affine", "scale": [float(v) for v in scale], "shift": [float(v) for v in shift]}


def _number(value: Any) -> bool:
    """A finite JSON number (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and bool(np.isfinite(value))


def shapes(spec: list[dict[str, Any]], n_in: int, prefix: str = "head") -> tuple[dict[str, tuple[int, ...]], int]:
    """The weight shapes of the linear layers for *n_in* input values, and the output width (an ``affine``
    layer whose length is not its input width raises QauditError)."""
    found: dict[str, tuple[int, ...]] = {}
    width = n_in
    for i, layer in enumerate(spec):
        if layer["op"] == "affine" and len(layer["scale"]) != width:
            raise QauditError(f"user-circuit: layer {prefix}[{i}] affine has {len(layer['scale'])} features for "
                              f"{width} inputs")
        if layer["op"] == "linear":
            found[f"{prefix}{i}_W"] = (layer["out"], width)
            found[f"{prefix}{i}_b"] = (layer["out"],)
            width = layer["out"]
    return found, width


def init(spec: list[dict[str, Any]], n_in: int, rng: np.random.Generator,
         prefix: str = "head") -> dict[str, np.ndarray]:
    """PyTorch's default initialisation of every linear layer: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    weights: dict[str, np.ndarray] = {}
    for name, shape in shapes(spec, n_in, prefix)[0].items():
        fan_in = shape[1] if len(shape) == 2 else weights[name[:-1] + "W"].shape[1]
        bound = 1.0 / np.sqrt(fan_in)
        weights[name] = rng.uniform(-bound, bound, size=shape)
    return weights


def forward(spec: list[dict[str, Any]], weights: dict[str, np.ndarray], x: np.ndarray,
            prefix: str = "head") -> tuple[np.ndarray, list]:
    """The output (a head's logits) and the per-layer caches for :func:`backward`."""
    caches: list[Any] = []
    for i, layer in enumerate(spec):
        op = layer["op"]
        if op == "linear":
            x, cache = layers.linear_forward(x, weights[f"{prefix}{i}_W"], weights[f"{prefix}{i}_b"])
        elif op == "relu":
            x, cache = layers.relu_forward(x)
        elif op == "leaky_relu":
            x, cache = layers.leaky_relu_forward(x, layer["slope"])
        elif op == "scale":
            x, cache = x * layer["factor"], layer["factor"]
        elif op == "affine":
            cache = np.asarray(layer["scale"], dtype=np.float64)
            x = x * cache + np.asarray(layer["shift"], dtype=np.float64)
        elif op == "tanh":
            x = np.tanh(x)
            cache = 1.0 - x * x
        else:  # sigmoid
            x = 0.5 * (1.0 + np.tanh(0.5 * x))
            cache = x * (1.0 - x)
        caches.append(cache)
    return x, caches


def backward(spec: list[dict[str, Any]], d_out: np.ndarray, caches: list, per_sample: bool,
             prefix: str = "head") -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``(dL/d input, weight gradients)`` from dL/d output (a head: dL/d readout from dL/dlogits)."""
    grads: dict[str, np.ndarray] = {}
    for i in range(len(spec) - 1, -1, -1):
        op, cache = spec[i]["op"], caches[i]
        if op == "linear":
            d_w, d_b, d_out = layers.linear_backward(d_out, cache, per_sample=per_sample)
            grads[f"{prefix}{i}_W"], grads[f"{prefix}{i}_b"] = d_w, d_b
        elif op == "relu":
            d_out = layers.relu_backward(d_out, cache)
        else:  # leaky_relu, tanh, sigmoid, scale, affine: the cache is the local derivative
            d_out = d_out * cache
    return d_out, grads
