"""What the importers share: a framework-neutral gate list, its Cirq circuit, the user's Python object,
the classical head read from PyTorch layers, and the qaudit model (``user-circuit``) built from them.

A converted gate is a :class:`Gate`: a qaudit gate name (:data:`ROTATIONS` take one angle, :data:`FIXED`
none), its qubit indices, and its angle as a :class:`Angle` ``coef * symbol + const`` (symbol None for a
constant). Only Cirq gate types on ``user-circuit``'s allowlist are produced, so the model file loads
with no code.
"""

from __future__ import annotations

import importlib.util
import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qaudit.sdk import QauditError

#: One-angle gates: name -> Cirq builder from the angle (radians, a number or a sympy expression).
ROTATIONS = ("rx", "ry", "rz", "phase", "xx", "yy", "zz")
#: Fixed gates.
FIXED = ("h", "x", "y", "z", "s", "sdg", "t", "tdg", "sx", "cx", "cz", "swap", "id")


@dataclass(frozen=True)
class Angle:
    """``coef * symbol + const`` (radians); ``symbol`` is None for a constant angle."""

    symbol: str | None
    coef: float
    const: float


@dataclass(frozen=True)
class Gate:
    """One converted gate: a name from :data:`ROTATIONS`/:data:`FIXED`, qubit indices, its angle."""

    name: str
    qubits: tuple[int, ...]
    angle: Angle | None = None


def _cirq_gate(name: str, angle: Any) -> Any:
    import cirq

    if name in ("rx", "ry", "rz"):
        return getattr(cirq, name)(angle)
    turns = angle * (1.0 / math.pi)  # a float factor: Cirq JSON keeps a linear form (no sympy.Pow of pi)
    if name == "phase":
        return cirq.ZPowGate(exponent=turns)
    kind = {"xx": cirq.XXPowGate, "yy": cirq.YYPowGate, "zz": cirq.ZZPowGate}[name]
    return kind(exponent=turns, global_shift=-0.5)  # exp(-i angle/2 P⊗P)


def _fixed_gate(name: str) -> Any:
    import cirq

    return {"h": cirq.H, "x": cirq.X, "y": cirq.Y, "z": cirq.Z, "s": cirq.S, "sdg": cirq.S**-1, "t": cirq.T,
            "tdg": cirq.T**-1, "sx": cirq.X**0.5, "cx": cirq.CNOT, "cz": cirq.CZ, "swap": cirq.SWAP,
            "id": cirq.I}[name]


def _angle_value(angle: Angle) -> Any:
    import sympy

    if angle.symbol is None:
        return float(angle.const)
    value = sympy.Symbol(angle.symbol)
    if angle.coef != 1.0:
        value = sympy.Float(angle.coef) * value
    if angle.const != 0.0:
        value = value + sympy.Float(angle.const)
    return value


def circuit_json(gates: list[Gate], n_qubits: int) -> dict[str, Any]:
    """The Cirq JSON (a parsed tree) of *gates* on LineQubits 0..n-1; every qubit appears (identity first)."""
    import json

    import cirq

    qubits = cirq.LineQubit.range(n_qubits)
    ops = [cirq.I(q) for q in qubits]
    for gate in gates:
        targets = [qubits[k] for k in gate.qubits]
        if gate.name in ROTATIONS:
            ops.append(_cirq_gate(gate.name, _angle_value(gate.angle)).on(*targets))
        else:
            ops.append(_fixed_gate(gate.name).on(*targets))
    circuit = cirq.Circuit(ops, strategy=cirq.InsertStrategy.EARLIEST)
    return json.loads(cirq.to_json(circuit))


#: ANSI escape sequences (colours, cursor moves) and other control characters a parser may put in a message.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-_]|[\x00-\x08\x0b-\x1f\x7f]")
#: The same written out as text, as a Rust ``{:?}`` of a message shows them (``\x1b[1m``, ``\u{1b}[1m``, ``\n``).
_LITERAL_ESCAPES = re.compile(r"\\(?:x1b|u\{1b\}|u001b|e)\[[0-?]*[ -/]*[@-~]|\\[nrt]")
#: Where a message's diagnostic tail starts: a Rust backtrace (QPY's parser draws ``━━┅ Backtrace ┅━━``, or
#: ``stack backtrace:``) or a Python traceback.
_TAILS = re.compile(r"[\s\u2500-\u257f]*(?:stack\s+)?backtrace\b|Traceback \(most recent call last\)", re.IGNORECASE)
#: The first frame of such a backtrace (``0: Error: no variants matched at 0xaa ... 1: ...``).
_FIRST_FRAME = re.compile(r"^[\s\u2500-\u257f:]*0:\s*(.*?)(?:\s+1:\s|\s+at\s+\S+:\d|$)")


def reason(exc: BaseException, limit: int = 200) -> str:
    """``Type: message`` of a third-party exception as plain text for one error line: ANSI escapes and control
    characters removed, a backtrace (QPY's Rust parser embeds one) reduced to its first frame's message,
    whitespace collapsed, cut to *limit* characters."""
    text = _ESCAPES.sub("", _LITERAL_ESCAPES.sub(" ", str(exc)))
    parts = _TAILS.split(text, maxsplit=1)
    head = " ".join(parts[0].split()).strip(" :\"'")
    if len(parts) > 1:
        first = _FIRST_FRAME.match(" ".join(parts[1].split()))
        if first and first.group(1):
            head = f"{head}: {first.group(1)}" if head else first.group(1)
    head = head if len(head) <= limit else head[: limit - 3] + "..."
    return f"{type(exc).__name__}: {head}" if head else type(exc).__name__


def input_file(path: str | Path, what: str, limit: int | None = None) -> Path:
    """*path* if it is an existing regular file of at most *limit* bytes; else one line: no such file, not a
    regular file (FIFOs and devices such as /dev/zero never end), or too large -- checked before reading."""
    from qaudit.sdk import check_regular_file

    path = Path(path)
    if not path.exists() and not path.is_symlink():
        raise QauditError(f"{what} {path}: no such file")
    size = check_regular_file(path, what)
    if limit is not None and size > limit:
        raise QauditError(f"{what} {path} is too large ({size} bytes; at most {limit} are read)")
    return path


def real_array(value: Any, where: str) -> np.ndarray:
    """*value* as a float64 array if it holds real numbers only (integers or floats: no strings, objects,
    booleans or complex numbers) and every one is finite; else one line naming *where*."""
    array = np.asarray(value)
    if array.dtype.kind not in "iuf":
        raise QauditError(f"{where}: weights must be real numbers, got {array.dtype} values")
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise QauditError(f"{where}: weights are not finite (NaN or infinity)")
    return array


def check_tensors(named: Any, where: str) -> None:
    """Every ``(name, value)`` of a state_dict or a module's parameters must be a dense real tensor (floating or
    integer, e.g. BatchNorm's step counter) with finite values; else one line naming the entry."""
    import torch

    for name, value in named:
        if not isinstance(value, torch.Tensor):
            raise QauditError(f"{where}: entry {name!r} is a {type(value).__name__}, not a tensor")
        if value.layout != torch.strided or value.is_complex() or value.dtype == torch.bool:
            raise QauditError(f"{where}: entry {name!r} is a {value.dtype} {value.layout} tensor; weights must be "
                              "dense real tensors")
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise QauditError(f"{where}: entry {name!r} is not finite (NaN or infinity)")


def load_python_object(source: str) -> tuple[Any, Path]:
    """Run the user's file ``path.py`` and return its attribute (``path.py:name`` or ``path.py:a.b``).

    This executes the user's code -- ``qaudit import`` says so in its help."""
    if ":" not in Path(source).name:
        raise QauditError(f"{source}: name the object as path/to/file.py:attribute")
    path_text, attribute = source.rsplit(":", 1)
    path = input_file(path_text, "source file")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*", attribute):
        raise QauditError(f"{source}: {attribute!r} is not a Python attribute name")
    name = f"qaudit_user_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise QauditError(f"{path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, str(path.resolve().parent))
    try:
        spec.loader.exec_module(module)
    except QauditError:
        raise
    except (Exception, SystemExit) as exc:
        line = " ".join(str(exc).split())[:300]
        raise QauditError(f"running {path} failed: {type(exc).__name__}: {line}") from None
    finally:
        sys.path.remove(str(path.resolve().parent))
    obj: Any = module
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise QauditError(f"{path} has no attribute {attribute!r}")
        obj = getattr(obj, part)
    return obj, path


def torch_layers(layers: list[Any], where: str, prefix: str,
                 dropped: list[str] | None = None) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """PyTorch layers as a layer spec (:mod:`qaudit_qnn.heads`) and its weights (``{prefix}{i}_W``, ``_b``).

    Supported: Linear (with bias), ReLU, LeakyReLU, Tanh, Sigmoid, Identity, Dropout and Flatten (identity in
    evaluation mode on 2-D batches: dropped, and described in *dropped*), BatchNorm1d with running statistics
    (evaluation mode: a fixed ``affine`` layer); anything else raises QauditError naming the layer and *where*
    it is ("before"/"after" the quantum layer)."""
    import torch

    spec: list[dict[str, Any]] = []
    weights: dict[str, np.ndarray] = {}
    for layer in layers:
        i = len(spec)
        if isinstance(layer, torch.nn.Linear):
            if layer.bias is None:
                raise QauditError(f"layer {layer} {where} the quantum layer: Linear without bias is not supported")
            spec.append({"op": "linear", "out": int(layer.out_features)})
            weights[f"{prefix}{i}_W"] = layer.weight.detach().double().numpy().copy()
            weights[f"{prefix}{i}_b"] = layer.bias.detach().double().numpy().copy()
        elif isinstance(layer, torch.nn.LeakyReLU):
            spec.append({"op": "leaky_relu", "slope": float(layer.negative_slope)})
        elif isinstance(layer, (torch.nn.ReLU, torch.nn.Tanh, torch.nn.Sigmoid)):
            spec.append({"op": type(layer).__name__.lower()})
        elif isinstance(layer, torch.nn.BatchNorm1d):
            spec.append(_batch_norm(layer, where))
        elif isinstance(layer, (torch.nn.Identity, torch.nn.Dropout, torch.nn.Flatten)):
            _identity_layer(layer, where, dropped)
        else:
            final = ", a final Softmax/LogSoftmax" if where == "after" else ""
            raise QauditError(f"layer {type(layer).__name__} ({layer}) {where} the quantum layer is not supported "
                              "(supported: Linear, ReLU, LeakyReLU, Tanh, Sigmoid, Identity, Dropout, Flatten, "
                              f"BatchNorm1d{final})")
    return spec, weights


def _identity_layer(layer: Any, where: str, dropped: list[str] | None) -> None:
    """Identity, Dropout (evaluation mode) and Flatten over the feature dimension of a 2-D batch: nothing to
    compute; Dropout and Flatten are recorded in *dropped*."""
    import torch

    if isinstance(layer, torch.nn.Flatten) and (layer.start_dim, layer.end_dim) not in ((1, -1), (-1, -1)):
        raise QauditError(f"layer {layer} {where} the quantum layer is not supported (only Flatten(start_dim=1, "
                          "end_dim=-1), an identity on a batch of feature vectors)")
    if dropped is not None and not isinstance(layer, torch.nn.Identity):
        dropped.append(f"{layer} {where} the quantum layer")


def _batch_norm(layer: Any, where: str) -> dict[str, Any]:
    """A BatchNorm1d in evaluation mode: ``(x - running_mean) / sqrt(running_var + eps) * weight + bias`` as a
    fixed per-feature ``affine`` layer (not trained by qaudit's recipe)."""
    if layer.running_mean is None or layer.running_var is None:
        raise QauditError(f"layer {layer} {where} the quantum layer is not supported (BatchNorm1d without running "
                          "statistics normalises by each batch's own statistics, even in evaluation mode)")
    mean = layer.running_mean.detach().double().numpy()
    scale = 1.0 / np.sqrt(layer.running_var.detach().double().numpy() + float(layer.eps))
    if layer.weight is not None:
        scale = scale * layer.weight.detach().double().numpy()
    shift = -mean * scale
    if layer.bias is not None:
        shift = shift + layer.bias.detach().double().numpy()
    return {"op": "affine", "scale": scale.tolist(), "shift": shift.tolist()}


def torch_head(layers: list[Any], dropped: list[str] | None = None
               ) -> tuple[list[dict[str, Any]] | None, dict[str, np.ndarray], str]:
    """The classical layers after the quantum layer as ``(head spec, weights, output)``.

    ``output`` is ``"logits"``, or ``"probs"``/``"log_probs"`` when the last layer is ``Softmax`` /
    ``LogSoftmax`` (dropped: qaudit applies the softmax). A single ``Linear`` becomes the ordinary dense
    head (spec None, weights ``W``, ``b``). Unsupported layers raise QauditError naming them."""
    import torch

    output = "logits"
    if layers and isinstance(layers[-1], (torch.nn.Softmax, torch.nn.LogSoftmax)):
        output = "probs" if isinstance(layers[-1], torch.nn.Softmax) else "log_probs"
        layers = layers[:-1]
    spec, weights = torch_layers(layers, "after", "head", dropped)
    if len(spec) == 1 and spec[0]["op"] == "linear":
        return None, {"W": weights["head0_W"].T.copy(), "b": weights["head0_b"]}, output
    return spec, weights, output


def torch_encoder(layers: list[Any], dropped: list[str] | None = None
                  ) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """The classical layers before the quantum layer as ``(encoder spec, weights)`` (``enc{i}_W``, ``enc{i}_b``):
    they map the raw inputs to the values the circuit's angle encoding binds."""
    from qaudit_qnn.user_circuit import ENCODER

    return torch_layers(layers, "before", ENCODER, dropped)


def probabilities(outputs: np.ndarray, kind: str) -> np.ndarray:
    """Class probabilities from a framework's outputs: softmax of logits, as-is, or exp of log-probs."""
    outputs = np.asarray(outputs, dtype=np.float64)
    if kind == "probs":
        return outputs
    if kind == "log_probs":
        return np.exp(outputs)
    z = outputs - outputs.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def build_model(circuit: dict[str, Any], *, encoding: str, features: list[str], params: list[str],
                readout: list[str], theta: np.ndarray, head: list[dict[str, Any]] | None,
                head_weights: dict[str, np.ndarray], n_classes: int, X: np.ndarray, recipe: dict[str, Any],
                derived: list | None = None, encoder: list[dict[str, Any]] | None = None,
                encoder_weights: dict[str, np.ndarray] | None = None) -> Any:
    """The fitted ``user-circuit`` model (raw inputs, the recipe as its training options); *encoder* (a layer
    spec with *encoder_weights*) maps the raw inputs *X* to the feature symbols' values."""
    from qaudit_qnn.user_circuit import UserCircuit

    training = {k: v for k, v in recipe.items() if k in UserCircuit.DEFAULTS}  # the recipe also records betas, eps
    options = {"circuit": circuit, "encoding": encoding, "features": features, "params": params,
               "readout": readout, "head": head, **training}
    if derived is not None:
        options.update(derived=derived, n_inputs=int(X.shape[1]))
    if encoder is not None:
        options.update(encoder=encoder, n_inputs=int(X.shape[1]))
    weights = {"theta": np.asarray(theta, dtype=np.float64), **head_weights, **(encoder_weights or {})}
    return UserCircuit.from_trained(options, weights, n_classes, X)


def distribution_version(name: str) -> str:
    """The installed version of distribution *name*."""
    from importlib import metadata

    return metadata.version(name)


Reference = Callable[[np.ndarray], np.ndarray]
