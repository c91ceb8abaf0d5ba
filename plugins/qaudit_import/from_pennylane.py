"""Import a PennyLane QNode, or a ``torch.nn.Module`` around a ``qml.qnn.TorchLayer``.

SOURCE is ``path/file.py:attribute`` naming a QNode, a TorchLayer or a torch module whose layers, in
registration order, are classical layers (an *encoder*: Linear, ReLU, LeakyReLU, Tanh, Sigmoid, and in
evaluation mode Dropout and Flatten -- identities, dropped -- and BatchNorm1d -- a fixed ``affine`` layer)
feeding an angle-encoded quantum layer, the quantum layer, then classical layers (the same kinds and a final
Softmax/LogSoftmax). ``--weights`` is a ``state_dict`` (``.pt``, loaded with
``weights_only=True``) for a module, or ``.npy``/``.npz`` arrays named like the QNode's weight arguments
for a bare QNode (whose expectation values are then the logits).

The circuit is traced once with PennyLane's own ``construct_tape`` on one input and the trained weights
as torch tensors, decomposed to a small gate set (``qml.transforms.decompose``: templates such as
``AngleEmbedding``, ``StronglyEntanglingLayers``, ``BasicEntanglerLayers`` go through their own
decompositions), and every gate angle is identified as ``coef * (one weight or input element) + const``
by autograd -- then checked at a second, random point. An ``AmplitudeEmbedding`` (or ``StatePrep``) as
the first operation becomes qaudit's amplitude encoding (zero padding, L2 normalisation). Readout: the
``expval`` of Pauli words.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from qaudit.sdk import QauditError
from qaudit_import.common import (
    Angle,
    Gate,
    build_model,
    check_tensors,
    circuit_json,
    input_file,
    load_python_object,
    probabilities,
    real_array,
    reason,
    torch_encoder,
    torch_head,
)

#: PennyLane op name -> qaudit gate name (the decomposition's target gate set).
GATE_NAMES = {"RX": "rx", "RY": "ry", "RZ": "rz", "PhaseShift": "phase", "IsingXX": "xx", "IsingYY": "yy",
              "IsingZZ": "zz", "Hadamard": "h", "PauliX": "x", "PauliY": "y", "PauliZ": "z", "S": "s", "T": "t",
              "SX": "sx", "CNOT": "cx", "CZ": "cz", "SWAP": "swap", "Identity": "id"}
STATE_PREPS = ("AmplitudeEmbedding", "StatePrep")
#: Largest |difference| between an angle at a second random point and its identified affine form.
LINEARITY_TOLERANCE = 1e-9


class PennyLaneImporter:
    """``qaudit import pennylane file.py:attr --weights w.pt``; see the module docstring."""

    name = "pennylane"
    description = "PennyLane QNodes and torch modules around a qml.qnn.TorchLayer (file.py:attribute)"
    extra = "pennylane"
    roles: ClassVar[frozenset[str]] = frozenset()

    def load(self, request: Any) -> Any:
        import pennylane as qml
        import torch
        from qaudit_qnn import heads
        from qaudit_qnn.user_circuit import ENCODER, UserCircuit

        from qaudit.sdk import ImportedModel

        unknown = set(request.options) - {"input_arg"}
        if unknown:
            raise QauditError(f"pennylane importer: unknown option(s) {', '.join(sorted(unknown))} (accepted: "
                              "input_arg)")
        obj, path = load_python_object(request.source)
        module, qnode, weights, before, head_layers = _unpack(obj, request, qml, torch)
        dropped: list[str] = []
        encoder, encoder_weights = torch_encoder(before, dropped)
        encoder = encoder or None  # only identity layers before the circuit: no encoder
        first = next((w for name, w in encoder_weights.items() if name.endswith("_W")), None)
        if first is not None and first.shape[1] != request.X.shape[1]:
            raise QauditError(f"the data has {request.X.shape[1]} features per sample; the layers before the "
                              f"quantum layer take {first.shape[1]}")
        if encoder is not None:
            heads.shapes(encoder, request.X.shape[1], ENCODER)  # an affine (BatchNorm1d) layer's width
        circuit_inputs = request.X if encoder is None else heads.forward(encoder, encoder_weights, request.X,
                                                                         ENCODER)[0]
        input_arg = request.options.get("input_arg", "inputs")
        trace = _Tracer(qml, torch, qnode, input_arg, weights)
        gates, encoding, readout, n_wires = trace.convert(circuit_inputs)
        head, head_weights, output = (torch_head(head_layers, dropped) if module is not None
                                      else ([], {}, "logits"))
        params = sorted({g.angle.symbol for g in gates if g.angle and g.angle.symbol in trace.weight_values},
                        key=trace.order.index)
        features = [] if encoding == "amplitude" else [f"x{j}" for j in range(circuit_inputs.shape[1])]
        derived = None
        if encoding == "angle":
            used = {g.angle.symbol for g in gates if g.angle and g.angle.symbol in features}
            if used != set(features) and encoder is not None:
                raise QauditError(f"{request.source}: the circuit reads {len(used)} of the {len(features)} outputs "
                                  "of the classical layers before it; every output must feed the circuit")
            if used != set(features):  # bind only the inputs the circuit reads
                features = [f for f in features if f in used]
                derived = [[[1.0, [int(f[1:])]]] for f in features]
        model = build_model(circuit_json(gates, n_wires), encoding=encoding, features=features, params=params,
                            readout=readout, theta=np.array([trace.weight_values[p] for p in params]),
                            head=head, head_weights=head_weights, n_classes=request.n_classes,
                            X=request.X, recipe=request.recipe, derived=derived, encoder=encoder,
                            encoder_weights=encoder_weights)
        files = [str(path)] + ([request.weights] if request.weights else [])
        reference = _reference(module, qnode, weights, input_arg, output, qml, torch)
        details = {"gates": len(gates), "qubits": n_wires, "encoding": encoding, "readout": readout,
                   "head": "dense" if head is None else head, "module_output": output,
                   **({"encoder": encoder} if encoder is not None else {}), **_recipe_notes(encoder, head, dropped)}
        return ImportedModel(UserCircuit.name, model, reference, "pennylane", qml.__version__, files, details,
                             explain=_explainer(module, qnode, torch))


#: Largest |difference| between a module's forward and its layers applied in registration order that still
#: counts as the same computation (float64 round-off).
CHAIN_TOLERANCE = 1e-9


def _explainer(module: Any, qnode: Any, torch: Any) -> Any:
    """``explain(X)`` for a failed fidelity check: a device (or QNode) with shots samples its outputs; a module
    whose ``forward`` is not its layers applied in registration order (functional operations or a residual
    connection in ``forward``, which the import does not see) computes something else."""

    def explain(X: np.ndarray) -> list[str]:
        shots = _shots(qnode)
        if shots:
            return [f"the QNode runs with {shots} shots, so PennyLane's outputs are sampled estimates (import the "
                    "model with an analytic device: no shots)"]
        if module is None:
            return []
        gap = _chain_gap(module, np.asarray(X[:16], dtype=np.float64), torch)
        if gap is None or gap <= CHAIN_TOLERANCE:
            return []
        by = "fail on the data" if gap == float("inf") else f"differ by up to {gap:.3g} on the data"
        return [f"the module's forward is not its layers applied in registration order (they {by}): "
                "functional ops (torch.relu ...) or a residual in forward, which the import cannot see"]

    return explain


def _shots(qnode: Any) -> int | None:
    """Total shots of a QNode (set on the QNode or its device), None when analytic."""
    for owner in (qnode, getattr(qnode, "device", None)):
        total = getattr(getattr(owner, "shots", None), "total_shots", None)
        if total:
            return int(total)
    return None


def _chain_gap(module: Any, X: np.ndarray, torch: Any) -> float | None:
    """Largest |module(X) - the leaf layers applied to X one after another| (inf when that chain fails on X;
    None when the module itself fails)."""
    x = torch.tensor(X)
    with torch.no_grad():
        try:
            out = module(x)
        except Exception:  # noqa: BLE001 - the reference already reported it
            return None
        try:
            for layer in _flatten(module, torch):
                x = layer(x)
            return float((out - x).abs().max())
        except Exception:  # noqa: BLE001 - the layers do not even chain
            return float("inf")


def _recipe_notes(encoder: list[dict[str, Any]] | None, head: list[dict[str, Any]] | None,
                  dropped: list[str]) -> dict[str, Any]:
    """What the import left out of, or froze in, the training recipe (``details.recipe_notes``; leak reports
    repeat them next to the statement that qaudit's engine trained the reference models)."""
    notes = []
    if any(d.startswith("Dropout") for d in dropped):
        notes.append("the source model's Dropout layers are identities in evaluation mode (what the import "
                     "checked) and qaudit's reference models train without dropout")
    if any(layer["op"] == "affine" for layer in (encoder or []) + (head or [])):
        notes.append("BatchNorm1d layers were imported in evaluation mode as fixed affine maps (the source "
                     "model's running statistics); reference models keep them fixed and do not train them")
    return {"dropped_layers": dropped, "recipe_notes": notes} if dropped or notes else {}


def _unpack(obj: Any, request: Any, qml: Any, torch: Any) -> tuple[Any, Any, dict[str, Any], list[Any], list[Any]]:
    """``(module or None, qnode, weight name -> float64 tensor, classical layers before the quantum layer,
    classical layers after it)``."""
    if isinstance(obj, qml.QNode):
        return None, obj, _npy_weights(request.weights, obj, request, torch), [], []
    if not isinstance(obj, torch.nn.Module):
        raise QauditError(f"{request.source} is a {type(obj).__name__}, not a PennyLane QNode or a torch module "
                          "with a qml.qnn.TorchLayer")
    module = obj.double()  # before loading: a float64 state_dict must not pass through float32 parameters
    if request.weights:
        state = _read_state_dict(request.weights, torch)
        try:
            module.load_state_dict(state)
        except (RuntimeError, KeyError) as exc:
            first = " ".join(str(exc).split())[:300]
            raise QauditError(f"{request.weights}: weights do not match the model: {first}") from None
    module = module.train(False)  # evaluation mode (dropout off, batch-norm frozen)
    check_tensors([*module.named_parameters(), *module.named_buffers()], f"{request.source}")
    layers = _flatten(module, torch)
    _check_call_order(module, layers, request, torch)
    positions = [i for i, layer in enumerate(layers) if isinstance(layer, qml.qnn.TorchLayer)]
    if len(positions) != 1:
        raise QauditError(f"{request.source}: expected exactly one qml.qnn.TorchLayer among the module's layers, "
                          f"found {len(positions)}")
    k = positions[0]
    layer = layers[k]
    weights = {name: p.detach().double() for name, p in layer.qnode_weights.items()}
    return module, layer.qnode, weights, layers[:k], layers[k + 1:]


def _flatten(module: Any, torch: Any) -> list[Any]:
    """The module's leaf layers in registration order (Sequential containers opened)."""
    children = list(module.children())
    if not children:
        return [module]
    out: list[Any] = []
    for child in children:
        out += _flatten(child, torch) if isinstance(child, torch.nn.Sequential) else [child]
    return out


def _layer_names(module: Any, layers: list[Any]) -> list[str]:
    names = {id(m): n for n, m in module.named_modules()}
    return [f"{names.get(id(layer)) or 'module'} ({type(layer).__name__})" for layer in layers]


def _check_call_order(module: Any, layers: list[Any], request: Any, torch: Any) -> None:
    """The import reads the layers in registration order (``__init__``); refuse a module whose ``forward`` calls
    them in another order (or calls one twice, or not at all), saying so -- recorded with forward hooks on two
    rows of the data. A forward that fails on the data is left to the checks that name what is wrong."""
    calls: list[int] = []
    hooks = [layer.register_forward_hook(lambda *_, k=k: calls.append(k)) for k, layer in enumerate(layers)]
    try:
        with torch.no_grad():
            module(torch.tensor(np.asarray(request.X[:2], dtype=np.float64)))
    except Exception:  # noqa: BLE001 - diagnosed by the layer and width checks
        return
    finally:
        for hook in hooks:
            hook.remove()
    if calls == list(range(len(layers))):
        return
    names = _layer_names(module, layers)
    raise QauditError(f"{request.source}: the module registers its layers in __init__ in a different order from "
                      f"the one forward calls them (registered: {', '.join(names)}; called: "
                      f"{', '.join(names[k] for k in calls) or 'none'}); the import reads the registration order, "
                      "so assign the layers in __init__ in the order forward applies them, each once")


def _read_state_dict(path: str, torch: Any) -> dict[str, Any]:
    from qaudit.sdk import MAX_WEIGHTS_BYTES

    input_file(path, "weights file", MAX_WEIGHTS_BYTES)  # torch.load holds the whole file: cap it first
    try:
        # weights_only=True: PyTorch's restricted unpickler (tensors and plain containers only, no code);
        # the import runs the user's model file anyway, but a weights file must not run anything.
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise QauditError(f"{path}: not a PyTorch state_dict ({reason(exc)})") from None
    if not isinstance(state, dict):
        raise QauditError(f"{path}: expected a state_dict (a dict of tensors), got {type(state).__name__}")
    check_tensors(state.items(), str(path))
    return state


def _npy_weights(path: str | None, qnode: Any, request: Any, torch: Any) -> dict[str, Any]:
    """A bare QNode's weights from ``.npy`` (its one weight argument) or ``.npz`` (by argument name)."""
    import inspect

    from qaudit.sdk import MAX_WEIGHTS_BYTES

    input_arg = request.options.get("input_arg", "inputs")
    names = [n for n in inspect.signature(qnode.func).parameters if n != input_arg]
    if path is None:
        raise QauditError(f"{request.source}: pass the trained weights: --weights weights.npy (or .npz with "
                          f"arrays {', '.join(names)})")
    input_file(path, "weights file", MAX_WEIGHTS_BYTES)
    try:
        loaded = np.load(path, allow_pickle=False)
        arrays = dict(loaded) if hasattr(loaded, "files") else {names[0] if len(names) == 1 else "": loaded}
    except Exception as exc:  # noqa: BLE001 - numpy/zipfile raise many types for a malformed file
        raise QauditError(f"{path}: not a .npy/.npz file ({reason(exc)})") from None
    if set(arrays) != set(names):
        raise QauditError(f"{path}: expected weight array(s) {', '.join(names)} for the QNode's arguments, "
                          f"found {', '.join(sorted(arrays)) or 'none'}")
    return {n: torch.tensor(real_array(a, f"{path} array {n!r}")) for n, a in arrays.items()}


def _reference(module: Any, qnode: Any, weights: dict[str, Any], input_arg: str, output: str, qml: Any,
               torch: Any) -> Any:
    """The source framework's class probabilities for raw inputs X (float64 throughout)."""

    def reference(X: np.ndarray) -> np.ndarray:
        x = torch.tensor(np.asarray(X, dtype=np.float64))
        try:
            with torch.no_grad():
                if module is not None:
                    out = module(x)
                else:
                    out = qnode(**{input_arg: x}, **weights)
                    out = (torch.stack(list(out), dim=-1) if isinstance(out, (list, tuple))
                           else out.reshape(len(X), -1))
        except Exception as exc:  # the user's own model failing on the data is the user's to fix
            raise QauditError(f"the PennyLane model failed on the data ({type(exc).__name__}: "
                              f"{' '.join(str(exc).split())[:300]})") from None
        return probabilities(out.detach().numpy(), output)

    return reference


class _Tracer:
    """Traces a QNode into :class:`Gate` s with affine angles in one weight or input element each."""

    def __init__(self, qml: Any, torch: Any, qnode: Any, input_arg: str, weights: dict[str, Any]):
        self.qml, self.torch, self.qnode, self.input_arg = qml, torch, qnode, input_arg
        self.weights = weights
        self.order: list[str] = []
        self.weight_values: dict[str, float] = {}
        for name, tensor in weights.items():
            safe = "".join(c if c.isalnum() else "_" for c in name)
            for k, value in enumerate(tensor.reshape(-1).tolist()):
                symbol = f"w_{safe}_{k}"
                self.order.append(symbol)
                self.weight_values[symbol] = float(value)

    def tape(self, x: Any, weights: dict[str, Any]) -> Any:
        qml = self.qml
        gate_set = set(GATE_NAMES) | set(STATE_PREPS)
        try:
            top = qml.workflow.construct_tape(self.qnode, level="top")(**{self.input_arg: x}, **weights)
            [tape], _ = qml.transforms.decompose(top, gate_set=gate_set)
        except QauditError:
            raise
        except Exception as exc:
            raise QauditError(f"tracing the QNode failed (wrong weight shapes?): {reason(exc, 300)}") from None
        self.top = top
        return tape

    def origin(self, index: int) -> Any:
        """The operation of the QNode as written (a template such as ``IQPEmbedding``) whose decomposition
        produced operation *index* of the decomposed tape."""
        qml = self.qml
        gate_set = set(GATE_NAMES) | set(STATE_PREPS)
        for op in self.top.operations:
            [part], _ = qml.transforms.decompose(qml.tape.QuantumScript([op], []), gate_set=gate_set)
            if index < len(part.operations):
                return op
            index -= len(part.operations)
        return None

    def refuse(self, index: int, op: Any, message: str) -> QauditError:
        """The error for decomposed operation *index*, named by the operation the user wrote when a template's
        decomposition produced it (IQPEmbedding, not its RZ)."""
        source = self.origin(index)
        if source is None or source.name == op.name:
            return QauditError(message)
        return QauditError(f"{source.name} on wires {source.wires.tolist()} is not supported: its decomposition's "
                           f"{message}")

    def convert(self, X: np.ndarray) -> tuple[list[Gate], str, list[str], int]:
        torch = self.torch
        x = torch.tensor(np.asarray(X[0], dtype=np.float64), requires_grad=True)
        weights = {n: t.clone().requires_grad_(True) for n, t in self.weights.items()}
        tape = self.tape(x, weights)
        wires = list(getattr(self.qnode.device, "wires", None) or tape.wires)
        index = {w: i for i, w in enumerate(wires)}
        ops = list(tape.operations)
        encoding, first = "angle", 0
        if ops and ops[0].name in STATE_PREPS:
            self._check_state_prep(ops[0], index)
            encoding, first = "amplitude", 1
        gates: list[Gate] = []
        for i in range(first, len(ops)):
            op = ops[i]
            try:
                gates.append(self._gate(op, index, x, weights))
            except QauditError as exc:
                raise self.refuse(i, op, str(exc)) from None
        self._check_affine(gates, first, X)
        readout = [self._pauli(m, index) for m in tape.measurements]
        return gates, encoding, readout, len(wires)

    def _gate(self, op: Any, index: dict[Any, int], x: Any, weights: dict[str, Any]) -> Gate:
        if op.name not in GATE_NAMES:
            raise QauditError(f"operation {op.name} on wires {op.wires.tolist()} is not supported (it does not "
                              f"decompose to {', '.join(sorted(GATE_NAMES))})")
        angle = self._angle(op, op.parameters[0], x, weights) if op.parameters else None
        return Gate(GATE_NAMES[op.name], tuple(index[w] for w in op.wires), angle)

    def _check_state_prep(self, op: Any, index: dict[Any, int]) -> None:
        if [index[w] for w in op.wires] != list(range(len(index))):
            raise QauditError(f"{op.name} must act on every wire in the device's order, got wires "
                              f"{op.wires.tolist()}")
        pad = op.hyperparameters.get("pad_with")
        if pad not in (None, 0, 0.0):
            raise QauditError(f"{op.name} with pad_with={pad} is not supported (use pad_with=0.0 or None)")

    def _angle(self, op: Any, value: Any, x: Any, weights: dict[str, Any]) -> Angle:
        """``coef * element + const`` of one gate angle, from autograd (one element at most)."""
        torch = self.torch
        if not torch.is_tensor(value) or not value.requires_grad:
            return Angle(None, 0.0, float(value.detach() if torch.is_tensor(value) else value))
        leaves = [x, *weights.values()]
        grads = torch.autograd.grad(value, leaves, allow_unused=True, retain_graph=True)
        hits = []
        symbols = [[f"x{j}" for j in range(x.numel())]] + [
            [s for s in self.order if s.startswith(f"w_{''.join(c if c.isalnum() else '_' for c in n)}_")]
            for n in weights]
        for leaf, grad, names in zip(leaves, grads, symbols):
            if grad is None:
                continue
            flat = grad.reshape(-1)
            for k in torch.nonzero(flat).reshape(-1).tolist():
                hits.append((names[k], float(flat[k]), float(leaf.detach().reshape(-1)[k])))
        if not hits:
            return Angle(None, 0.0, float(value.detach() if torch.is_tensor(value) else value))
        if len(hits) > 1:
            raise QauditError(f"operation {op.name} on wires {op.wires.tolist()}: its angle depends on several "
                              f"elements ({', '.join(h[0] for h in hits[:4])}); one weight or input per angle is "
                              "supported")
        symbol, coef, at = hits[0]
        return Angle(symbol, coef, float(value.detach()) - coef * at)

    def _check_affine(self, gates: list[Gate], first: int, X: np.ndarray) -> None:
        """Re-trace at a random point and require every angle to equal its identified affine form (*first*: the
        index of the first gate in the decomposed tape, after a state preparation)."""
        torch = self.torch
        rng = np.random.default_rng(12345)
        x2 = np.asarray(X[min(1, len(X) - 1)], dtype=np.float64) + rng.normal(scale=0.1, size=X.shape[1])
        weights = {n: t + torch.tensor(rng.normal(scale=0.3, size=tuple(t.shape))) for n, t in self.weights.items()}
        values = {f"x{j}": float(v) for j, v in enumerate(x2)}
        for name, tensor in weights.items():
            safe = "".join(c if c.isalnum() else "_" for c in name)
            values.update({f"w_{safe}_{k}": float(v) for k, v in enumerate(tensor.reshape(-1).tolist())})
        tape = self.tape(torch.tensor(x2), weights)
        ops = [op for op in tape.operations if op.name not in STATE_PREPS]
        if [op.name for op in ops] != [_pl_name(g.name) for g in gates]:
            raise QauditError("the QNode's operations change with its inputs or weights (control flow on "
                              "values); such circuits are not supported")
        for i, (op, gate) in enumerate(zip(ops, gates)):
            if gate.angle is None:
                continue
            a = gate.angle
            predicted = a.const + (a.coef * values[a.symbol] if a.symbol else 0.0)
            if abs(float(op.parameters[0]) - predicted) > LINEARITY_TOLERANCE:
                raise self.refuse(first + i, op, f"operation {op.name} on wires {op.wires.tolist()}: its angle is not "
                                  "an affine function of one weight or input; not supported")

    def _pauli(self, measurement: Any, index: dict[Any, int]) -> str:
        qml = self.qml
        obs = getattr(measurement, "obs", None)
        rep = getattr(obs, "pauli_rep", None) if obs is not None else None
        if not isinstance(measurement, qml.measurements.ExpectationMP) or rep is None or len(rep) != 1:
            raise QauditError(f"measurement {measurement} is not supported (readout must be qml.expval of a "
                              "Pauli word such as qml.PauliZ(0) @ qml.PauliX(1))")
        (word, coef), = rep.items()
        if abs(coef - 1.0) > 1e-12 or not len(word):
            raise QauditError(f"measurement {measurement} is not supported (a Pauli word with coefficient 1 and "
                              "at least one non-identity factor)")
        return " ".join(f"{p}{index[w]}" for w, p in sorted(word.items(), key=lambda item: index[item[0]]))


def _pl_name(name: str) -> str:
    return {v: k for k, v in GATE_NAMES.items()}[name]
