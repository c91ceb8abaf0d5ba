"""The plugin contract (issue 27): the protocols declare what the host calls, the conformance kit reports
every failure by name, and the protocol and testing packages sit in no import circle."""

from __future__ import annotations

import ast
import inspect
import re
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qaudit.sdk import testing
from qaudit.sdk.errors import QauditError
from qaudit.sdk.protocols import Model, QuantumTask

ROOT = Path(__file__).resolve().parents[1]
pytest_plugins = ["pytester"]


class ProtocolOnlyQNN:
    """A model written from :class:`qaudit.sdk.protocols.Model` alone: no qaudit base class.

    A fixed two-qubit angle-encoded feature map (the means of the two halves of the inputs) with a trained
    softmax head; ``weights`` is everything trained (the head)."""

    name = "protocol-only"
    description = "a two-qubit feature map with a trained softmax head, written to the Model protocol"
    roles: frozenset[str] = frozenset()
    THETA = np.array([0.3, -0.7])

    def __init__(self, seed: int = 0):
        self.seed, self.n_classes, self.history = int(seed), 0, []
        self.weights: dict[str, np.ndarray] = {}

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> ProtocolOnlyQNN:
        unknown = set(options) - {"seed"}
        if unknown:
            raise QauditError(f"protocol-only: unknown option(s) {', '.join(sorted(unknown))}")
        return cls(**options)

    def get_params(self) -> dict[str, Any]:
        return {"seed": self.seed}

    def fit(self, X, y, *, n_classes=None, sample_ids=None, progress=None) -> ProtocolOnlyQNN:
        self.n_classes = int(n_classes or np.max(y) + 1)
        rng = np.random.default_rng(self.seed)
        self.weights = {"W": rng.normal(scale=0.5, size=(2, self.n_classes)), "b": np.zeros(self.n_classes)}
        for _ in range(5):
            loss, grad = self.loss_and_grad(X, y)
            self.history.append(loss)
            self.weights = {k: v - 0.5 * grad[k] for k, v in self.weights.items()}
        return self

    def copy(self) -> ProtocolOnlyQNN:
        other = type(self)(self.seed)
        other.n_classes, other.history = self.n_classes, list(self.history)
        other.weights = {k: v.copy() for k, v in self.weights.items()}
        return other

    @property
    def n_qubits(self) -> int:
        return 2

    def circuit(self) -> Any:
        import cirq
        import sympy

        q = cirq.LineQubit.range(2)
        return cirq.Circuit([cirq.rx(sympy.Symbol(f"x{i}")).on(q[i]) for i in range(2)],
                            [cirq.ry(sympy.Symbol(f"t{i}")).on(q[i]) for i in range(2)], cirq.CNOT(q[0], q[1]))

    def task(self, X) -> QuantumTask:
        import cirq

        X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
        half = X.shape[1] // 2
        features = np.pi * np.tanh(np.stack([X[:, :half].mean(axis=1), X[:, half:].mean(axis=1)], axis=1) / 8)
        return QuantumTask(self.circuit(), cirq.LineQubit.range(2), ["t0", "t1"], self.THETA.copy(), ["Z0", "Z1"],
                           feature_names=["x0", "x1"], features=features)

    def head(self, expectations) -> np.ndarray:
        z = np.asarray(expectations) @ self.weights["W"] + self.weights["b"]
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def predict_proba(self, X, backend=None, shots=None, seed=None) -> np.ndarray:
        from qaudit.run.query import predict_proba

        return predict_proba(self, X, backend, shots, 0 if seed is None else seed)

    def _head_terms(self, X, y) -> tuple[np.ndarray, np.ndarray]:
        from qaudit.run.query import query

        ev = query(self, X).expectations
        return ev, self.head(ev) - np.eye(self.n_classes)[np.asarray(y)]

    def loss_and_grad(self, X, y) -> tuple[float, dict[str, np.ndarray]]:
        ev, d = self._head_terms(X, y)
        p = self.head(ev)[np.arange(len(y)), np.asarray(y)]
        return float(-np.mean(np.log(p))), {"W": ev.T @ d / len(y), "b": d.mean(axis=0)}

    def per_sample_grads(self, X, y) -> dict[str, np.ndarray]:
        ev, d = self._head_terms(X, y)
        return {"W": ev[:, :, None] * d[:, None, :], "b": d}

    def to_document(self) -> dict[str, Any]:
        return {"config": {**self.get_params(), "n_classes": self.n_classes},
                "params": {k: v.tolist() for k, v in self.weights.items()}, "preprocessing": {}}

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> ProtocolOnlyQNN:
        model = cls(document["config"]["seed"])
        model.n_classes = int(document["config"]["n_classes"])
        model.weights = {k: np.asarray(v, dtype=np.float64) for k, v in document["params"].items()}
        return model


def _protocol_only_tiny() -> testing.TinyModel:
    dataset = testing.load_tiny_dataset()
    members, holdout = np.arange(0, 120), np.arange(120, 240)
    model = ProtocolOnlyQNN(seed=1).fit(dataset.X[members], dataset.y[members], n_classes=dataset.n_classes)
    record = types.SimpleNamespace(data=types.SimpleNamespace(members=members, holdout=holdout))
    return testing.TinyModel(model, record, dataset)


def test_every_model_member_the_kit_calls_is_declared_by_the_protocol():
    declared = {n for n in [*dir(Model), *Model.__annotations__] if not n.startswith("_")}
    assert {"predict_proba", "task", "head", "copy", "weights", "n_classes", "n_qubits", "loss_and_grad",
            "per_sample_grads", "to_document", "from_document", "from_options", "get_params", "fit"} <= declared
    source = inspect.getsource(Model)
    omitted = sorted(declared - set(dir(ProtocolOnlyQNN(seed=0))))
    assert omitted == ["PRESETS", "data_kind", "gradient_evaluations", "initialise"]
    for name in omitted:  # what the example leaves out, the protocol documents as optional
        assert re.search(rf"#: Optional[^\n]*\n(\s*#:[^\n]*\n)*\s*{name}:", source) or \
            inspect.getdoc(getattr(Model, name)).startswith("Optional"), name


def test_a_model_written_to_the_protocol_passes_check_model():
    fitted = testing.check_model(ProtocolOnlyQNN, {"seed": 2})
    assert fitted.n_classes == 10


@pytest.mark.parametrize("method,options", [("ga", {"steps": 2}), ("rga", {"max_steps": 2})])
def test_a_model_written_to_the_protocol_passes_check_unlearning_method(method, options):
    """Built-in gradient methods call predict_proba on the model they unlearn: declared, so this works."""
    cls = testing.make_host().get("unlearning", method)
    outcome = testing.check_unlearning_method(cls, options, model=_protocol_only_tiny())
    assert isinstance(outcome.model, ProtocolOnlyQNN)


#: Names the host reads with getattr/hasattr that are not members of a plugin object's protocol.
NOT_PROTOCOL_MEMBERS = {
    "QAUDIT_API": "a plugin module's declared API version (docs/plugins.md, API versions)",
    "data_change": "qaudit.files.data.Dataset, the host's own dataclass",
}


def test_every_optional_member_the_host_reads_is_declared_in_a_protocol():
    """``getattr(obj, "member", default)`` on a plugin class is how the host reads an optional member; each
    must be declared (and so documented) by a protocol. Attributes of non-plugin objects (exceptions, click
    contexts, sympy expressions, the host's own classes) are told apart by the variable they are read from."""
    import qaudit.sdk.protocols as protocols

    members = set()
    for name in protocols.__all__:
        cls = getattr(protocols, name)
        if inspect.isclass(cls):
            for base in cls.__mro__:
                members |= set(vars(base)) | set(getattr(base, "__annotations__", {}))
    plugin_objects = re.compile(r"(cls|model|attack|backend|method|reporter|importer|executor|instance|entry\.obj|"
                                r"get_host\(\)\.get\(.*\)|.*\.model|self\.backend|kind_cls|module|dataset)$")
    undeclared = []
    for path in sorted((ROOT / "qaudit").rglob("*.py")):
        if "testing" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("getattr", "hasattr") \
                    and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant):
                member, subject = node.args[1].value, ast.unparse(node.args[0])
                if plugin_objects.match(subject) and member not in members and member not in NOT_PROTOCOL_MEMBERS:
                    undeclared.append(f"{path.relative_to(ROOT)}:{node.lineno}: {subject}.{member}")
    assert not undeclared, "declare these in qaudit/sdk/protocols/: " + ", ".join(undeclared)


# --------------------------------------------------------------------------- named checks
class _BrokenReporter:
    """Three broken promises at once: no suffix dot, different text every time, not JSON."""

    name = "broken"
    suffix = "json"
    calls = 0

    def render(self, result, stream) -> None:
        type(self).calls += 1
        stream.write(f"call {type(self).calls}\n")


def _failures(check: Any, cls: type) -> str:
    """The one AssertionError a ``check_*`` function raises for *cls*."""
    with pytest.raises(AssertionError) as info:
        check(cls)
    return str(info.value)


def test_named_checks_report_every_failure_at_once():
    message = _failures(testing.check_reporter, _BrokenReporter)
    assert "2 of 4 conformance checks failed" in message
    assert "- suffix_starts_with_a_dot: suffix must start with '.'" in message
    assert "- renders_identically_twice: rendering the same result twice gave different output" in message


def test_a_failed_shared_step_is_named_by_every_check_that_needs_it():
    class Exploding:
        name, description, needs = "exploding", "raises", frozenset({"forget"})

        def unlearn(self, model, request):
            raise RuntimeError("boom")

    names = dict(testing.unlearning_method_checks(Exploding))
    assert list(names) == ["class_attributes", "needs_declared", "returns_a_new_model", "input_model_untouched",
                           "no_shared_weight_arrays", "new_model_predicts", "new_model_saves", "cost_reported"]
    with pytest.raises(RuntimeError, match="boom"):
        names["returns_a_new_model"]()
    with pytest.raises(AssertionError, match=r"exploding'\) cost_reported: not run: unlearn failed \(RuntimeError"):
        names["cost_reported"]()
    names["needs_declared"]()  # the checks that do not need the step still pass


@pytest.mark.parametrize("role", ["inline", "default"])
def test_the_builtin_executors_pass_the_executor_checks(role):
    host = testing.make_host()
    facts = testing.check_executor(host.get("executor", host.role("executor", role)))
    assert facts["jobs"] >= 6


def test_the_executor_checks_catch_results_out_of_order_and_an_unnamed_failure():
    serial = testing.make_host()
    serial = serial.get("executor", serial.role("executor", "inline"))

    class Reversed(serial):
        name = "reversed"

        def map(self, fn, jobs, on_done=None):
            out = []
            for job in reversed(list(jobs)):
                try:
                    out.append(fn(*job.args))
                except Exception as exc:
                    raise RuntimeError("a job failed") from exc
            return out[::-1] if len(jobs) == 3 else out

    message = _failures(testing.check_executor, Reversed)
    assert "2 of 8 conformance checks failed" in message
    assert "- results_in_job_order: map must return every job's result in job order" in message
    assert "- failing_job_is_named: a raising job must stop the batch with qaudit.sdk.errors.JobFailed" in message


class _ReImporter:
    """Imports the tiny model from a 'source file' (the source framework is qaudit itself)."""

    name, description, extra = "re-import", "the tiny model, as if converted", "none"
    drift = 0.0

    def load(self, request):
        import qaudit
        from qaudit.run.query import predict_proba
        from qaudit.sdk.protocols import ImportedModel

        model = testing.train_tiny_model().model

        def reference(X):
            p = predict_proba(model, X)
            p[:, 0] += self.drift
            p[:, 1] -= self.drift
            return p

        return ImportedModel(model.name, model, reference, "qaudit", qaudit.__version__, files=[request.source],
                             details={"layers": 1})


def test_the_importer_checks_pass_a_faithful_importer_and_name_a_drifting_one(tmp_path):
    source = tmp_path / "model.src"
    source.write_text("tiny")
    X = testing.load_tiny_dataset().X[:20]
    imported = testing.check_importer(_ReImporter, str(source), X, 10)
    assert imported.framework == "qaudit"

    class Drifting(_ReImporter):
        drift = 1e-6

    message = _failures(lambda cls: testing.check_importer(cls, str(tmp_path / "gone.src"), X, 10), Drifting)
    assert "2 of 7 conformance checks failed" in message
    assert "- matches_the_source_framework: qaudit's probabilities differ from qaudit's by 1e-06" in message
    assert "- files_exist: ImportedModel.files names files that do not exist" in message


def test_every_seam_yields_uniquely_named_checks_without_running_anything():
    host = testing.make_host()
    roles = {"model": "default", "backend": "default", "attack": "verification", "unlearning": "oracle",
             "reporter": "console", "executor": "default"}
    for kind, role in roles.items():
        cls = host.get(kind, host.role(kind, role))
        assert testing.kind_of(cls) == kind
        names = [n for n, _ in testing.plugin_checks(cls)]
        assert names and len(names) == len(set(names)) and names[0] == "class_attributes", (kind, names)
        assert all(n.isidentifier() for n in names), names


def test_parametrize_with_checks_gives_one_named_test_per_check(pytester):
    pytester.makepyfile(
        test_reporter="""
        from qaudit.sdk.testing import parametrize_with_checks

        class Good:
            name, suffix = "good", ".txt"

            def render(self, result, stream):
                stream.write(result.title + "\\n")

        class Bad:
            name, suffix = "bad", "txt"

            def render(self, result, stream):
                stream.write("")

        @parametrize_with_checks([Good, (Bad, {"kind": "reporter"})])
        def test_conformance(check):
            check()
        """)
    result = pytester.runpytest("-v", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=6, failed=2)
    result.stdout.fnmatch_lines(["*test_conformance[[]Good-class_attributes[]] PASSED*",
                                 "*test_conformance[[]Bad-suffix_starts_with_a_dot[]] FAILED*",
                                 "*test_conformance[[]Bad-writes_text[]] FAILED*"])


# --------------------------------------------------------------------------- import circles
def test_protocols_testing_and_file_io_are_in_no_import_circle():
    """The whole host has none (tests/test_layout.py); these packages were in one before issue 27."""
    from test_layout import _cycles, _module_graph

    graph = _module_graph()
    assert {"qaudit.sdk.protocols.backends", "qaudit.sdk.testing.checks"} <= set(graph)
    assert _cycles(graph) == []


def test_the_protocols_import_nothing_of_the_host_at_run_time():
    for path in sorted((ROOT / "qaudit" / "protocols").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        type_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                     and getattr(node.test, "id", None) == "TYPE_CHECKING" for n in ast.walk(node)}
        for node in ast.walk(tree):
            module = node.module or "" if isinstance(node, ast.ImportFrom) else ""
            if module.startswith("qaudit") and id(node) not in type_only:
                assert node.module.startswith("qaudit.sdk.protocols"), f"{path.name} imports {node.module} at run time"
