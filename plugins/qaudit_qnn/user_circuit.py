"""``user-circuit``: bring your own parameterised Cirq circuit as a QNN classifier.

The circuit is serialised with ``cirq.to_json`` and embedded in the model file.
A model config declares how inputs enter it and what is measured::

    {"circuit": "my_circuit.json",          # Cirq JSON file (embedded on training)
     "encoding": "angle",                   # or "amplitude"
     "features": ["x0", "x1", "x2", "x3"],  # angle: symbols bound per sample, in input order
     "readout": ["Z0", "Z1", "X0 X1"],      # Pauli strings over the circuit's qubits
     "params": [],                          # trainable symbols (default: all other symbols)
     "noise": null,                         # amplitude only: "paper" noise model on the circuit
     "inputs": "fit",                       # or "raw": no fitted scaling (imported models, see below)
     "head": null,                          # or a list of classical layers (qaudit_qnn.heads)
     "derived": null, "n_inputs": 0,        # angle: features computed as polynomials of the inputs
     "encoder": null}                       # raw: classical layers from the inputs to the features/amplitudes

Qubit ``k`` in a readout string is the k-th qubit of the circuit in Cirq's
sorted order (``sorted(circuit.all_qubits())``), which is also the amplitude
order (qubit 0 = most significant bit). A dense head maps the readout values
to class logits, as in every :class:`~qaudit.sdk.CircuitClassifier`.

Preprocessing (fitted on the training data, saved in the model file):

* amplitude -- pixels to [0, 1], PCA to 2**n features when wider (``pca``),
  zero padding when narrower, L2 normalisation;
* angle -- pixels to [0, 1], PCA to the number of feature symbols when wider,
  then each feature mapped to [0, π] over the training range.

With ``inputs: "raw"`` nothing is fitted: amplitude inputs are zero-padded to 2**n and
L2-normalised (as PennyLane's ``AmplitudeEmbedding(normalize=True)``), angle inputs are bound as they
are. ``derived`` (angle encoding) lists one polynomial of the ``n_inputs`` raw inputs per feature
symbol, as terms ``[coefficient, [input indices]]`` (``[[2.0, [0, 1]], [-1.0, [2]]]`` is
``2·x0·x1 - x2``); Qiskit's ``ZZFeatureMap`` binds such products. ``head`` replaces the dense head by a
list of classical layers (:mod:`qaudit_qnn.heads`). ``encoder`` (raw inputs) is a list of the same layers
from the ``n_inputs`` raw inputs to the feature symbols' values (``nn.Linear(d, n)`` + ``tanh`` feeding
PennyLane's ``AngleEmbedding``), or to the amplitudes (zero-padded to 2**n, L2-normalised); it is trained
with the circuit, the gradient reaching it through the engine's per-sample feature gradients
(:func:`qaudit.engine.backward_features`) or its input-state gradient. ``qaudit import`` writes models of
this kind.

Model files are untrusted, so the circuit JSON is checked against an allowlist
of ``cirq_type`` values (circuit structure, qubits, common gates and the sympy
nodes of linear parameter expressions) *before* Cirq sees it, and Cirq then
deserialises it with a resolver limited to the same allowlist. Nothing is
passed to ``eval`` or ``sympify``; the engine rejects gate parameters that are
not linear in a single symbol.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from qaudit.sdk import (
    MAX_STATEVECTOR_QUBITS,
    NESTEROV_TRAINING,
    OPTIMIZERS,
    CircuitClassifier,
    QauditError,
    apply_preprocessing,
    fit_pca,
)
from qaudit_qnn import heads, layers

#: Largest accepted circuit JSON (characters) and nesting / node budgets.
MAX_CIRCUIT_CHARS = 8 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 500_000
MAX_QUBITS = MAX_STATEVECTOR_QUBITS  # the exact state-vector engine's cap (qaudit.sdk.limits)
#: Largest magnitude of a number in a circuit (gate parameters, coefficients, exponents).
MAX_NUMBER = 1e6
#: JSON nesting accepted in a circuit file: the walker's MAX_DEPTH counts about two JSON levels per node.
JSON_DEPTH = 2 * MAX_DEPTH
#: Largest number of raw inputs, of polynomial terms per derived feature and of factors per term.
MAX_INPUTS, MAX_TERMS, MAX_DEGREE = 1 << 16, 4096, 8
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
#: Options added after the user-circuit kind shipped, with the defaults a file without them means.
LATER_OPTIONS: dict[str, Any] = {"encoder": None, "optimizer": "sgd"}
#: Weight-name prefix of an encoder's layers (``enc{i}_W``, ``enc{i}_b``; a head's are ``head{i}_...``).
ENCODER = "enc"

# Field kinds: "expr" (number or sympy node), "number", "int", "name", "ident", or a callable.
_POW = {"exponent": "expr", "global_shift": "number"}
GATES: dict[str, dict[str, Any]] = {
    **{name: _POW for name in (
        "XPowGate", "YPowGate", "ZPowGate", "HPowGate", "_PauliX", "_PauliY", "_PauliZ",
        "CXPowGate", "CZPowGate", "SwapPowGate", "ISwapPowGate", "XXPowGate", "YYPowGate", "ZZPowGate",
        "CCXPowGate", "CCZPowGate")},
    "Rx": {"rads": "expr"},
    "Ry": {"rads": "expr"},
    "Rz": {"rads": "expr"},
    "PhasedXPowGate": {"phase_exponent": "expr", "exponent": "expr", "global_shift": "number"},
    "FSimGate": {"theta": "expr", "phi": "expr"},
    "CSwapGate": {},
    "IdentityGate": {"num_qubits": "int", "qid_shape": "qid_shape"},
}
QUBITS: dict[str, dict[str, Any]] = {
    "LineQubit": {"x": "int"},
    "GridQubit": {"row": "int", "col": "int"},
    "NamedQubit": {"name": "name"},
}
SYMPY: dict[str, dict[str, Any]] = {
    "sympy.Symbol": {"name": "ident"},
    "sympy.Add": {"args": "expr_list"},
    "sympy.Mul": {"args": "expr_list"},
    "sympy.Float": {"approx": "number"},
    "sympy.Integer": {"i": "int"},
    "sympy.Rational": {"p": "int", "q": "nonzero_int"},
    "sympy.pi": {},
}
STRUCTURE: dict[str, dict[str, Any]] = {
    "Circuit": {"moments": "moment_list"},
    "Moment": {"operations": "operation_list"},
    "GateOperation": {"gate": "gate", "qubits": "qubit_list"},
}
ALLOWED = {**STRUCTURE, **GATES, **QUBITS, **SYMPY}
OPTIONAL_FIELDS = {"global_shift", "qid_shape"}


# ----------------------------------------------------------------------------- JSON validation


class _Walker:
    """Checks a parsed Cirq JSON tree against the allowlist (one-line errors)."""

    def __init__(self) -> None:
        self.nodes = 0
        self.in_product = False

    def fail(self, where: str, message: str) -> None:
        raise QauditError(f"user circuit {where}: {message}")

    def node(self, value: Any, where: str, allowed: dict[str, dict[str, Any]], what: str, depth: int) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            self.fail(where, f"too large (more than {MAX_NODES} JSON nodes)")
        if depth > MAX_DEPTH:
            self.fail(where, f"nested deeper than {MAX_DEPTH} levels")
        if not isinstance(value, dict):
            self.fail(where, f"expected a {what} object, got {type(value).__name__}")
        kind = value.get("cirq_type")
        if not isinstance(kind, str):
            self.fail(where, f"expected a {what} object with a 'cirq_type'")
        if kind not in allowed:
            hint = ""
            if kind == "sympy.Pow" or kind.startswith("sympy."):
                hint = " (gate parameters must be plain symbols or linear forms a*symbol + b)"
            elif what == "gate":
                hint = f" (supported gates: {', '.join(sorted(GATES))})"
            self.fail(where, f"cirq_type {kind!r} is not allowed as a {what}{hint}")
        if kind == "sympy.Mul":
            self.product(value, where, allowed, depth)
            return
        fields = allowed[kind]
        extra = set(value) - set(fields) - {"cirq_type"}
        if extra:
            self.fail(where, f"unexpected field(s) {', '.join(sorted(extra))} in {kind}")
        for key, field_kind in fields.items():
            if key in value:
                self.field(value[key], f"{where}.{key}", field_kind, depth + 1)
            elif key not in OPTIONAL_FIELDS:
                self.fail(where, f"{kind} is missing field {key!r}")

    def product(self, value: dict[str, Any], where: str, allowed: dict[str, dict[str, Any]], depth: int) -> None:
        """A ``sympy.Mul``: its numeric factors' product within +-MAX_NUMBER and no product inside a
        product, so that every coefficient stays bounded (sympy writes linear forms this way)."""
        if self.in_product:
            self.fail(where, "products nested inside products are not supported (use a*symbol + b)")
        extra = set(value) - {"args", "cirq_type"}
        if extra or not isinstance(value.get("args"), list):
            self.fail(where, "sympy.Mul needs exactly the field 'args' (a list)")
        scale = 1.0
        for arg in value["args"]:
            scale *= _magnitude(arg)
        if scale > MAX_NUMBER:
            self.fail(where, f"the product's numeric coefficient exceeds {MAX_NUMBER:g}")
        self.in_product = True
        try:
            self.field(value["args"], f"{where}.args", "expr_list", depth + 1)
        finally:
            self.in_product = False

    def field(self, value: Any, where: str, kind: str, depth: int) -> None:
        if kind == "expr":
            if _is_number(value):
                return
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self.fail(where, f"must be a finite number within +-{MAX_NUMBER:g}")
            self.node(value, where, SYMPY, "parameter expression", depth)
        elif kind.endswith("_list"):
            if not isinstance(value, list):
                self.fail(where, "must be a list")
            item = kind[: -len("_list")]
            for i, element in enumerate(value):
                self.field(element, f"{where}[{i}]", item, depth + 1)
        elif kind in _NODE_FIELDS:
            allowed, what = _NODE_FIELDS[kind]
            self.node(value, where, allowed, what, depth)
        else:
            message = _scalar_field_error(value, kind)
            if message is not None:
                self.fail(where, message)


#: Field kinds that are nested Cirq JSON objects: (allowed cirq_types, description).
_NODE_FIELDS: dict[str, tuple[dict[str, dict[str, Any]], str]] = {
    "moment": ({"Moment": STRUCTURE["Moment"]}, "moment"),
    "operation": ({"GateOperation": STRUCTURE["GateOperation"]}, "operation"),
    "gate": (GATES, "gate"),
    "qubit": (QUBITS, "qubit"),
}


def _scalar_field_error(value: Any, kind: str) -> str | None:
    """Error message for a scalar field *value* of *kind*, or None when it is valid."""
    if kind == "number":
        return None if _is_number(value) else f"must be a finite number within +-{MAX_NUMBER:g}"
    if kind in ("int", "nonzero_int"):
        if not (isinstance(value, int) and not isinstance(value, bool) and abs(value) <= MAX_NUMBER):
            return f"must be an integer within +-{MAX_NUMBER:g}"
        if kind == "nonzero_int" and value == 0:
            return "must not be zero"
        return None
    if kind == "ident":
        if not (isinstance(value, str) and _IDENT.match(value)):
            return f"symbol name {value!r} must be an identifier (letters, digits, _)"
        return None
    if kind == "name":
        if not (isinstance(value, str) and 0 < len(value) <= 100):
            return "qubit name must be a string of 1 to 100 characters"
        return None
    if kind == "qid_shape":
        if not (isinstance(value, list) and all(v == 2 and isinstance(v, int) for v in value)):
            return "only qubits (dimension 2) are supported"
        return None
    raise AssertionError(kind)  # pragma: no cover - schema typo


def _magnitude(arg: Any) -> float:
    """|value| of a numeric factor of a product (1 for anything else); bounded factors only."""
    if _is_number(arg):
        return float(abs(arg))
    if not isinstance(arg, dict):
        return 1.0
    kind, number = arg.get("cirq_type"), None
    if kind == "sympy.Float":
        number = arg.get("approx")
    elif kind == "sympy.Integer":
        number = arg.get("i")
    elif kind == "sympy.Rational":
        p, q = arg.get("p"), arg.get("q")
        if _is_number(p) and _is_number(q) and q:
            number = p / q
    elif kind == "sympy.pi":
        number = math.pi
    return float(abs(number)) if _is_number(number) else 1.0


def _is_number(value: Any) -> bool:
    """A finite JSON number within +-MAX_NUMBER (larger ones only overflow to NaN probabilities)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) <= MAX_NUMBER


def validate_circuit_json(obj: Any) -> None:
    """Raise :class:`QauditError` unless *obj* is a Cirq-JSON circuit made of allowed parts."""
    _Walker().node(obj, "circuit", {"Circuit": STRUCTURE["Circuit"]}, "Circuit", 0)


def _restricted_resolver() -> Callable[[str], Any]:
    import cirq

    def resolve(cirq_type: str) -> Any:
        if cirq_type not in ALLOWED:
            return None
        for resolver in cirq.DEFAULT_RESOLVERS:
            found = resolver(cirq_type)
            if found is not None:
                return found
        return None

    return resolve


def load_circuit(obj: Any) -> Any:
    """Validate the JSON tree *obj*, then deserialise it with an allowlist-only resolver."""
    import cirq

    validate_circuit_json(obj)
    try:
        circuit = cirq.read_json(json_text=json.dumps(obj), resolvers=[_restricted_resolver()])
    except QauditError:
        raise
    except Exception as exc:  # Cirq raises ValueError/TypeError for inconsistent gates/qubits
        raise QauditError(f"user circuit: Cirq could not build it ({type(exc).__name__}: {exc})") from exc
    if not isinstance(circuit, cirq.Circuit):
        raise QauditError("user circuit: the JSON is not a cirq.Circuit")
    return circuit


def read_circuit_file(path: str | Path) -> Any:
    """Parse a Cirq JSON file into a JSON tree (validated later by :func:`load_circuit`);
    a regular file of at most MAX_CIRCUIT_CHARS bytes, at most MAX_DEPTH levels deep."""
    from qaudit.sdk import read_json_limited

    return read_json_limited(Path(path), MAX_CIRCUIT_CHARS, "circuit file", max_depth=JSON_DEPTH)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name}")


def _name_list(value: Any, key: str) -> list[str]:
    """A list of strings from a JSON list or a comma-separated string (CLI)."""
    if value is None:
        return []
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise QauditError(f"user-circuit: {key} must be a list of names (or a comma-separated string)")
    return list(value)


# ----------------------------------------------------------------------------- model


class UserCircuit(CircuitClassifier):
    """A user's Cirq circuit with a declared encoding and readout; see the module docstring."""

    name = "user-circuit"
    description = "Your own parameterised Cirq circuit (Cirq JSON) with amplitude or angle encoding"
    DEFAULTS = {
        "circuit": None,
        "encoding": "amplitude",
        "features": [],
        "readout": [],
        "params": [],
        "init": "uniform",
        "pca": "auto",
        **NESTEROV_TRAINING,
        "optimizer": "sgd",  # or "adam" (PyTorch's Adam; momentum and nesterov then unused)
        "noise": None,  # amplitude encoding only: "paper" or "p1=..,p2=..,bitflip=.."
        "inputs": "fit",  # or "raw": the inputs as the source framework used them (no fitted scaling)
        "head": None,  # None: the dense head W, b; else a list of layers (qaudit_qnn.heads)
        "derived": None,  # angle only: one polynomial of the raw inputs per feature symbol
        "n_inputs": 0,  # with derived or encoder: the number of raw inputs
        "encoder": None,  # raw inputs only: a list of layers (qaudit_qnn.heads) from inputs to features/amplitudes
    }
    RANGES: ClassVar[dict[str, tuple[Any, ...]]] = {**CircuitClassifier.RANGES, "n_inputs": (0, MAX_INPUTS)}

    def __init__(self, **options: Any):
        super().__init__(**options)
        for key in ("features", "readout", "params"):
            self.options[key] = _name_list(self.options[key], key)
        self.encoding = self.options["encoding"]

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> UserCircuit:
        """Options from the CLI: ``config`` (a JSON file of options) and ``circuit`` may be paths.

        Paths are read here and the circuit is embedded; a model file never names a path.
        """
        options = dict(options)
        base = Path.cwd()
        config = options.pop("config", None)
        if config is not None:
            if not isinstance(config, str):
                raise QauditError("user-circuit: config must be the path of a JSON file")
            path = Path(config)
            from qaudit.sdk import read_json_limited

            loaded = read_json_limited(path, MAX_CIRCUIT_CHARS, "model config", max_depth=JSON_DEPTH)
            if not isinstance(loaded, dict):
                raise QauditError(f"model config {path}: expected a JSON object of options")
            options = {**loaded, **options}
            base = path.parent
        circuit = options.get("circuit")
        if circuit is None:
            raise QauditError("user-circuit: pass the circuit: -O circuit=my_circuit.json (Cirq JSON from "
                              "cirq.to_json) or -O config=my_model.json")
        if isinstance(circuit, str):
            path = Path(circuit)
            options["circuit"] = read_circuit_file(path if path.is_absolute() else base / path)
        model = cls(**options)
        model.validate_options()
        return model

    # -- validation and circuit ----------------------------------------------------
    def validate_options(self) -> None:
        super().validate_options()
        o = self.options
        if not isinstance(o["circuit"], dict):
            raise QauditError("user-circuit: config.circuit must be an embedded Cirq JSON object")
        if o["encoding"] not in ("amplitude", "angle"):
            raise QauditError(f"user-circuit: encoding must be 'amplitude' or 'angle', got {o['encoding']!r}")
        if o["init"] not in ("uniform", "normal"):
            raise QauditError("user-circuit: init must be 'uniform' (U(-pi, pi)) or 'normal' (N(0, 1))")
        if o["pca"] not in ("auto", "always", "never"):
            raise QauditError("user-circuit: pca must be 'auto', 'always' or 'never'")
        if o["encoding"] == "angle" and not o["features"]:
            raise QauditError("user-circuit: angle encoding needs the feature symbols: -O features=x0,x1,...")
        if o["encoding"] == "amplitude" and o["features"]:
            raise QauditError("user-circuit: amplitude encoding binds no feature symbols; drop 'features' "
                              "or use -O encoding=angle")
        if o["noise"] is not None:
            from qaudit.sdk.engine import NoiseModel

            if not isinstance(o["noise"], str):
                raise QauditError("user-circuit: noise must be a string ('paper' or p1=..,p2=..,bitflip=..)")
            if o["encoding"] != "amplitude":
                raise QauditError("user-circuit: noise is supported with amplitude encoding only")
            NoiseModel.parse(o["noise"])
        self._validate_choices()
        if o["head"] is not None:
            o["head"] = heads.validate(o["head"], "user-circuit")
        self._validate_derived()
        self._validate_encoder()
        for key in ("features", "params"):
            if len(set(o[key])) != len(o[key]):
                raise QauditError(f"user-circuit: {key} lists a symbol twice")
        both = set(o["features"]) & set(o["params"])
        if both:
            raise QauditError(f"user-circuit: {', '.join(sorted(both))} cannot be both a feature and a parameter")

    def build_circuit(self):
        import cirq

        self.validate_options()
        o = self.options
        circuit = load_circuit(o["circuit"])
        qubits = sorted(circuit.all_qubits())
        if not qubits:
            raise QauditError("user circuit has no qubits")
        if len(qubits) > MAX_QUBITS:
            raise QauditError(f"user circuit has {len(qubits)} qubits; at most {MAX_QUBITS} are supported")
        symbols = sorted(str(s.name) for s in cirq.parameter_symbols(circuit))
        missing = [f for f in o["features"] if f not in symbols]
        if missing:
            raise QauditError(f"user-circuit: feature symbol(s) {', '.join(missing)} do not appear in the circuit "
                              f"(its symbols: {', '.join(symbols) or 'none'})")
        if o["params"]:
            unknown = [p for p in o["params"] if p not in symbols]
            if unknown:
                raise QauditError(f"user-circuit: parameter(s) {', '.join(unknown)} do not appear in the circuit")
            unbound = [s for s in symbols if s not in set(o["params"]) | set(o["features"])]
            if unbound:
                raise QauditError(f"user-circuit: symbol(s) {', '.join(unbound)} are neither features nor "
                                  "parameters")
            params = list(o["params"])
        else:
            params = [s for s in symbols if s not in set(o["features"])]
        readout = o["readout"] or [f"Z{k}" for k in range(len(qubits))]
        return circuit, qubits, params, list(o["features"]), readout

    # -- preprocessing ---------------------------------------------------------------
    def fit_preprocessing(self, X: np.ndarray) -> list[dict[str, Any]]:
        o = self.options
        if o["inputs"] == "raw":
            return self._raw_preprocessing(X)
        n_qubits = len(self.compiled.qubits)
        want = 2**n_qubits if self.encoding == "amplitude" else len(o["features"])
        steps: list[dict[str, Any]] = []
        peak = float(np.max(np.abs(X))) if X.size else 0.0
        if peak > 1.0:
            steps.append({"op": "scale", "factor": 1.0 / peak})
        width = X.shape[1]
        if o["pca"] == "always" or (o["pca"] == "auto" and width > want):
            steps.append(fit_pca(apply_preprocessing(steps, X), want, o["seed"]))
            width = want
        if self.encoding == "amplitude":
            if width > want:
                raise QauditError(f"user-circuit: {width} features do not fit {n_qubits} qubits (amplitude "
                                  f"encoding takes {want}); use -O pca=auto or a wider circuit")
            if width < want:
                steps.append({"op": "pad", "size": want})
            steps.append({"op": "l2"})
            return steps
        if width != want:
            raise QauditError(f"user-circuit: angle encoding declares {want} feature symbols but the data has "
                              f"{width} features{' (PCA disabled)' if o['pca'] == 'never' else ''}")
        Z = apply_preprocessing(steps, X)
        low, high = Z.min(axis=0), Z.max(axis=0)
        span = np.where(high > low, high - low, 1.0)
        steps.append({"op": "normalize", "mean": low, "std": span / np.pi})
        return steps

    def init_theta(self, rng: np.random.Generator, n_params: int) -> np.ndarray:
        if self.options["init"] == "normal":
            return rng.normal(size=n_params)
        return rng.uniform(-np.pi, np.pi, size=n_params)

    # -- raw inputs, derived features and classical heads (imported models) ---------------
    def _validate_derived(self) -> None:
        o = self.options
        derived = o["derived"]
        if derived is None:
            return
        if o["encoding"] != "angle" or not isinstance(derived, list) or len(derived) != len(o["features"]):
            raise QauditError("user-circuit: derived needs angle encoding and one polynomial per feature symbol")
        if o["n_inputs"] < 1:
            raise QauditError("user-circuit: derived features need n_inputs (the number of raw inputs)")
        for k, poly in enumerate(derived):
            if not isinstance(poly, list) or not 1 <= len(poly) <= MAX_TERMS:
                raise QauditError(f"user-circuit: derived[{k}] must be a list of 1..{MAX_TERMS} terms")
            for term in poly:
                ok = (isinstance(term, list) and len(term) == 2 and _is_number(term[0])
                      and isinstance(term[1], list) and len(term[1]) <= MAX_DEGREE
                      and all(isinstance(j, int) and not isinstance(j, bool) and 0 <= j < o["n_inputs"]
                              for j in term[1]))
                if not ok:
                    raise QauditError(f"user-circuit: derived[{k}] terms must be [coefficient, [input indices "
                                      f"< n_inputs]] with at most {MAX_DEGREE} factors")

    def _validate_choices(self) -> None:
        o = self.options
        if o["optimizer"] not in OPTIMIZERS:
            raise QauditError(f"user-circuit: optimizer must be one of {', '.join(OPTIMIZERS)}, got {o['optimizer']!r}")
        if o["inputs"] not in ("fit", "raw"):
            raise QauditError("user-circuit: inputs must be 'fit' (fitted scaling) or 'raw' (used as given)")

    def _validate_encoder(self) -> None:
        o = self.options
        if o["encoder"] is None:
            return
        o["encoder"] = heads.validate(o["encoder"], "user-circuit", "encoder")
        if o["inputs"] != "raw" or o["derived"] is not None or o["noise"] is not None:
            raise QauditError("user-circuit: encoder needs inputs 'raw', no derived features and no noise")
        if not o["encoder"] or o["n_inputs"] < 1:
            raise QauditError("user-circuit: encoder needs at least one layer and n_inputs (the number of raw "
                              "inputs)")
        width = heads.shapes(o["encoder"], o["n_inputs"], ENCODER)[1]
        if o["encoding"] == "angle" and width != len(o["features"]):
            raise QauditError(f"user-circuit: the encoder gives {width} outputs for {len(o['features'])} feature "
                              "symbols")

    def encoded_width(self) -> int:
        if self.options["derived"] is not None or self.options["encoder"] is not None:
            return int(self.options["n_inputs"])
        return super().encoded_width()

    def trainable_encoder(self) -> bool:
        return self.options["encoder"] is not None

    def encoder_backward(self, Z: np.ndarray, d_inputs: np.ndarray, per_sample: bool) -> dict[str, np.ndarray]:
        """Encoder weight gradients from dL/d(feature angles), or, for amplitude encoding, from dL/d(the real
        input state) through its zero padding and L2 normalisation."""
        h, caches = heads.forward(self.options["encoder"], self.weights, Z, ENCODER)
        if self.encoding == "amplitude":
            _, l2_cache = layers.l2_normalise_forward(self._padded(h))
            d_inputs = layers.l2_normalise_backward(d_inputs, l2_cache)[:, : h.shape[1]]
        return heads.backward(self.options["encoder"], d_inputs, caches, per_sample, ENCODER)[1]

    def _padded(self, h: np.ndarray) -> np.ndarray:
        """Encoder outputs zero-padded to the 2**n amplitudes of an amplitude encoding."""
        dim = self.compiled.program.dim
        return h if h.shape[1] == dim else np.pad(h, ((0, 0), (0, dim - h.shape[1])))

    def encode(self, Z: np.ndarray) -> np.ndarray:
        """The encoder's outputs (amplitude encoding: zero-padded and L2-normalised, as PennyLane's
        ``AmplitudeEmbedding(normalize=True, pad_with=0)``), or derived features (polynomials of the raw
        inputs), when the model declares them."""
        if self.options["encoder"] is not None:
            h = heads.forward(self.options["encoder"], self.weights, Z, ENCODER)[0]
            return layers.l2_normalise_forward(self._padded(h))[0] if self.encoding == "amplitude" else h
        derived = self.options["derived"]
        if derived is None:
            return Z
        out = np.zeros((Z.shape[0], len(derived)))
        for k, poly in enumerate(derived):
            for coef, factors in poly:
                term = np.full(Z.shape[0], float(coef))
                for j in factors:
                    term = term * Z[:, j]
                out[:, k] += term
        return out

    def _raw_preprocessing(self, X: np.ndarray) -> list[dict[str, Any]]:
        if self.options["encoder"] is not None:  # the encoder (and an amplitude encoding's padding) runs in encode
            if X.shape[1] != self.options["n_inputs"]:
                raise QauditError(f"user-circuit: the data has {X.shape[1]} features, the encoder takes "
                                  f"{self.options['n_inputs']}")
            self._encoder_shapes()
            return []
        want = 2**len(self.compiled.qubits) if self.encoding == "amplitude" else self.encoded_width()
        width = X.shape[1]
        if width > want or (self.encoding == "angle" and width != want):
            raise QauditError(f"user-circuit: the data has {width} features, the circuit's "
                              f"{self.encoding} encoding takes {want}")
        if self.encoding == "angle":
            return []
        return ([{"op": "pad", "size": want}] if width < want else []) + [{"op": "l2"}]

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        spec = self.options["head"]
        if spec is None:
            found = super().param_shapes()
        else:
            head, width = heads.shapes(spec, len(self.compiled.observables))
            if width != self.n_classes:
                raise QauditError(f"user-circuit: the head gives {width} outputs for {self.n_classes} classes")
            found = {"theta": (len(self.compiled.program.param_names),), **head}
        if self.options["encoder"] is not None:
            found.update(self._encoder_shapes())
        return found

    def _encoder_shapes(self) -> dict[str, tuple[int, ...]]:
        """The encoder's weight shapes; its outputs must fit an amplitude encoding's 2**n amplitudes."""
        shapes, width = heads.shapes(self.options["encoder"], self.options["n_inputs"], ENCODER)
        if self.encoding == "amplitude" and width > self.compiled.program.dim:
            raise QauditError(f"user-circuit: the encoder gives {width} outputs for {self.compiled.program.dim} "
                              "amplitudes")
        return shapes

    def initialise(self, X: np.ndarray, y: np.ndarray, n_classes: int | None = None) -> UserCircuit:
        """Preprocessing and initial weights; an encoder's linear layers get PyTorch's default initialisation
        from their own seeded stream (``[seed, 1]``), so models without one draw exactly as before."""
        super().initialise(X, y, n_classes)
        if self.options["encoder"] is not None:
            rng = np.random.default_rng([self.options["seed"], 1])
            self.weights.update(heads.init(self.options["encoder"], self.options["n_inputs"], rng, ENCODER))
        return self

    def init_head(self, rng: np.random.Generator, n_obs: int) -> dict[str, np.ndarray]:
        spec = self.options["head"]
        if spec is None:
            return super().init_head(rng, n_obs)
        if heads.shapes(spec, n_obs)[1] != self.n_classes:
            raise QauditError(f"user-circuit: the head gives {heads.shapes(spec, n_obs)[1]} outputs for "
                              f"{self.n_classes} classes")
        return heads.init(spec, n_obs, rng)

    def head_forward(self, ev: np.ndarray) -> tuple[np.ndarray, Any]:
        spec = self.options["head"]
        return super().head_forward(ev) if spec is None else heads.forward(spec, self.weights, ev)

    def head_backward(self, dlogits: np.ndarray, cache: Any, per_sample: bool = False
                      ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        spec = self.options["head"]
        if spec is None:
            return super().head_backward(dlogits, cache, per_sample)
        return heads.backward(spec, dlogits, cache, per_sample)

    def to_document(self) -> dict[str, Any]:
        """The model file's sections; options added after format version 1 shipped (``encoder``,
        ``optimizer``) are left out at their defaults, so a file that does not use them is what an older
        qaudit wrote and reads (docs/model-format.md, "Versions")."""
        document = super().to_document()
        for key, default in LATER_OPTIONS.items():
            if document["config"].get(key, default) == default:
                document["config"].pop(key, None)
        return document

    @classmethod
    def from_trained(cls, options: dict[str, Any], weights: dict[str, np.ndarray], n_classes: int,
                     X: np.ndarray) -> UserCircuit:
        """A fitted model from trained weights (``qaudit import``): ``inputs`` must be ``"raw"`` so that no
        preprocessing is fitted; *X* (the raw inputs) fixes the input width. Weight shapes are checked."""
        model = cls.from_options({**options, "inputs": "raw"})
        X = np.asarray(X, dtype=np.float64)
        model.n_classes, model.n_features_in = int(n_classes), int(X.shape[1])
        model.preprocessing = model.fit_preprocessing(X)
        expected = model.param_shapes()
        for key, shape in expected.items():
            value = np.asarray(weights.get(key), dtype=np.float64)
            if key not in weights or value.shape != shape:
                got = "missing" if key not in weights else f"shape {value.shape}"
                raise QauditError(f"user-circuit: weight {key} must have shape {shape}, {got}")
            model.weights[key] = value.copy()
        return model
