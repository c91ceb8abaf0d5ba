"""qaudit.sdk.testing: fixtures work and every conformance check both passes good and fails bad plugins."""

from __future__ import annotations

import io
import json
import types

import numpy as np
import pytest

from qaudit import hookimpl
from qaudit.sdk import testing
from qaudit.sdk.protocols import Capabilities, UnlearningCost, UnlearningOutcome

# --------------------------------------------------------------------------- models
QNN_OPTIONS = {"qubits": 3, "layers": 1, "epochs": 1}


def _basic_qnn():
    from qaudit_qnn.basic import BasicQNN

    return BasicQNN


def test_check_model_passes_basic_qnn():
    model = testing.check_model(_basic_qnn(), QNN_OPTIONS)
    assert model.n_qubits == 3


def test_check_model_catches_wrong_gradient():
    base = _basic_qnn()

    class WrongGrad(base):
        def loss_and_grad(self, X, y):
            loss, grad = super().loss_and_grad(X, y)
            return loss, {**grad, "theta": grad["theta"] * 1.01}

    with pytest.raises(AssertionError, match="finite differences"):
        testing.check_model(WrongGrad, QNN_OPTIONS)


def test_check_model_catches_fit_not_returning_self_and_bad_round_trip():
    base = _basic_qnn()

    class NoSelf(base):
        def fit(self, X, y, **kw):
            super().fit(X, y, **kw)

    with pytest.raises(AssertionError, match="return self"):
        testing.check_model(NoSelf, QNN_OPTIONS)

    class ScaledHead(base):
        @classmethod
        def from_document(cls, document):
            model = super().from_document(document)
            model.weights["W"] = model.weights["W"] * 1.1
            return model

    with pytest.raises(AssertionError, match="predicts differently"):
        testing.check_model(ScaledHead, QNN_OPTIONS)


def test_check_model_exercises_what_the_host_calls():
    base = _basic_qnn()

    class SharedCopy(base):
        def copy(self):
            other = super().copy()
            other.weights = self.weights  # unlearning methods would modify the original
            return other

    with pytest.raises(AssertionError, match="independent deep copy"):
        testing.check_model(SharedCopy, QNN_OPTIONS)

    class OldFit(base):  # the pre-2.0 signature: the host passes n_classes/sample_ids by keyword
        def fit(self, X, y, progress=None):
            return super().fit(X, y)

    with pytest.raises(AssertionError, match="how the host calls it"):
        testing.check_model(OldFit, QNN_OPTIONS)

    class BadHead(base):
        def head(self, ev):
            return super().head(ev) * 2.0

    with pytest.raises(AssertionError, match="sum to 1"):
        testing.check_model(BadHead, QNN_OPTIONS)


# --------------------------------------------------------------------------- backends
def _cirq_reference(task):
    """Independent path: cirq.Simulator final state and cirq's own Pauli expectations."""
    import cirq

    qubits = list(task.qubits)
    obs = []
    for term in task.observables:
        ps = cirq.PauliString()
        for tok in term.split():
            ps *= {"X": cirq.X, "Y": cirq.Y, "Z": cirq.Z}[tok[0]](qubits[int(tok[1:])])
        obs.append(ps)
    sim = cirq.Simulator(dtype=np.complex128)
    qmap = {q: i for i, q in enumerate(qubits)}
    out = np.zeros((task.n_samples, len(obs)))
    for i in range(task.n_samples):
        values = task.resolver()
        kwargs = {}
        if task.states is not None:
            kwargs["initial_state"] = np.asarray(task.states[i], dtype=np.complex128)
        else:
            values.update({n: float(v) for n, v in zip(task.feature_names, task.features[i])})
        state = sim.simulate(task.circuit, cirq.ParamResolver(values), qubit_order=qubits, **kwargs).final_state_vector
        state = state / np.linalg.norm(state)
        out[i] = [p.expectation_from_state_vector(state, qmap).real for p in obs]
    return out


def _exact_cls():
    from qaudit_backends.exact import ExactBackend

    return ExactBackend


def test_check_backend_exact_agrees_with_cirq():
    values = testing.check_backend(_exact_cls(), reference=_cirq_reference)
    assert set(values) == {"0:exact", "1:exact"}


class _Sampled:
    name = "test-sampled"
    description = "binomial sampling from exact values"
    capabilities = Capabilities(exact=False, shots=True)
    bias = 0.0

    def expectation(self, task, shots=None, seed=None):
        exact = testing.exact_reference(task)
        rng = np.random.default_rng(seed)
        return np.clip(2 * rng.binomial(shots, (1 + exact) / 2) / shots - 1 + self.bias, -1, 1)


def test_check_backend_sampled_within_shot_noise_and_bias_caught():
    testing.check_backend(_Sampled, shots=2000)

    class Biased(_Sampled):
        bias = 0.1

    with pytest.raises(AssertionError, match="standard errors"):
        testing.check_backend(Biased, shots=2000)


def test_check_backend_catches_wrong_qubit_order():
    exact = _exact_cls()

    class Reversed(exact):
        def expectation(self, task, shots=None, seed=None):
            ev = super().expectation(task, shots, seed)
            return ev[:, ::-1]

    with pytest.raises(AssertionError, match="differs from the reference"):
        testing.check_backend(Reversed)


# --------------------------------------------------------------------------- attacks
class LossAttack:
    name = "test-loss"
    description = "score = -loss"

    def fit(self, context):
        return self

    def score(self, context, X, y):
        return -context.model.losses(X, y, backend=context.backend, shots=context.shots)


def test_check_attack_passes_loss_attack():
    check = testing.check_attack(LossAttack)
    assert check.scores.shape == check.is_member.shape
    assert 0.0 <= check.auc <= 1.0


@pytest.mark.parametrize(
    "score, match",
    [
        (lambda self, c, X, y: np.zeros(len(X) - 1), "one score per sample"),
        (lambda self, c, X, y: np.full(len(X), np.nan), "not finite"),
        (lambda self, c, X, y: np.random.default_rng().normal(size=len(X)), "different scores"),
    ],
)
def test_check_attack_catches_broken_attacks(score, match):
    broken = type("Broken", (LossAttack,), {"score": score})
    with pytest.raises(AssertionError, match=match):
        testing.check_attack(broken)


def test_check_attack_catches_model_mutation():
    class Mutating(LossAttack):
        def score(self, context, X, y):
            context.model.weights["b"] += 1.0
            return np.zeros(len(X))

    with pytest.raises(AssertionError, match="modified the target model"):
        testing.check_attack(Mutating)


def test_check_attack_catches_undeclared_target_queries():
    """Querying the target beyond the scored/known samples needs ``target_samples``: a budgeted backend's
    plan (--dry-run) holds only declared samples."""
    class Population(LossAttack):
        def fit(self, context):
            context.outputs(context.population_X[:5])
            return self

    with pytest.raises(AssertionError, match="target_samples"):
        testing.check_attack(Population)
    declared = type("Declared", (Population,), {"target_samples": staticmethod(lambda c: c.population_X[:5])})
    testing.check_attack(declared)
    testing.check_attack(_builtin("attack", "quantile"))  # declares the population it fits on


# --------------------------------------------------------------------------- unlearning
class Ascent:
    name = "test-ascent"
    description = "one epoch of gradient ascent on the forget set"
    needs = frozenset({"forget"})

    def unlearn(self, model, request):
        new = model.copy()
        new.partial_fit(request.X_forget, request.y_forget, epochs=1, sign=-1.0)
        return UnlearningOutcome(new, UnlearningCost(gradient_evaluations=len(request.y_forget), seconds=0.01))


def test_check_unlearning_method_passes_ascent():
    outcome = testing.check_unlearning_method(Ascent)
    assert outcome.cost.gradient_evaluations == 20


def test_check_unlearning_method_catches_in_place_and_free_lunch():
    class InPlace(Ascent):
        def unlearn(self, model, request):
            model.partial_fit(request.X_forget, request.y_forget, epochs=1, sign=-1.0)
            return UnlearningOutcome(model.copy(), UnlearningCost(seconds=0.01))

    with pytest.raises(AssertionError, match="modified its input model"):
        testing.check_unlearning_method(InPlace)

    class NoCost(Ascent):
        def unlearn(self, model, request):
            return UnlearningOutcome(super().unlearn(model, request).model, UnlearningCost())

    with pytest.raises(AssertionError, match="cost is all zero"):
        testing.check_unlearning_method(NoCost)

    class BadNeeds(Ascent):
        needs = frozenset({"everything"})

    with pytest.raises(AssertionError, match="needs"):
        testing.check_unlearning_method(BadNeeds)


# --------------------------------------------------------------------------- reporters
class JsonReporter:
    name = "test-json"
    suffix = ".json"

    def render(self, result, stream):
        json.dump(result.to_json(), stream, sort_keys=True)


def test_check_reporter_passes_json_and_catches_bad_reporters():
    text = testing.check_reporter(JsonReporter)
    assert json.loads(text)["schema"] == "qaudit.leak/1"

    class Empty(JsonReporter):
        def render(self, result, stream):
            stream.write("  \n")

    with pytest.raises(AssertionError, match="wrote nothing"):
        testing.check_reporter(Empty)

    class NotJson(JsonReporter):
        def render(self, result, stream):
            stream.write("{broken")

    with pytest.raises(AssertionError, match="not valid JSON"):
        testing.check_reporter(NotJson)

    counter = iter(range(100))

    class Clock(JsonReporter):
        suffix = ".txt"

        def render(self, result, stream):
            stream.write(f"rendered {next(counter)}\n")

    with pytest.raises(AssertionError, match="twice gave different"):
        testing.check_reporter(Clock)


# --------------------------------------------------------------------------- fixtures
def _demo_plugin():
    module = types.ModuleType("kit_demo_plugin")

    @hookimpl
    def register_attacks(register):
        register(LossAttack)

    @hookimpl
    def register_commands(app):
        @app.command("kit-hello")
        def hello() -> None:
            """Say hello."""
            print("hello from a plugin command")

    module.register_attacks = register_attacks
    module.register_commands = register_commands
    return module


def test_host_fixture_ignores_environment(monkeypatch, request):
    monkeypatch.setenv("QAUDIT_PLUGINS", "nothing-at-all")
    monkeypatch.setenv("QAUDIT_DISABLE_PLUGINS", "qnn")
    host = request.getfixturevalue("qaudit_host")
    assert "basic-qnn" in host.names("model")
    from qaudit.sdk.host import get_host

    assert get_host() is host


def test_register_fixture_and_cli_runner(qaudit_register, cli_runner):
    info = qaudit_register(_demo_plugin(), name="kit-demo")
    assert info.status == "ok"
    result = cli_runner.invoke(["plugins", "--json"])
    assert result.exit_code == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)["plugins"]}
    assert rows["kit-demo"]["registers"] == {"attack": ["test-loss"], "command": ["kit-hello"]}
    hello = cli_runner.invoke("kit-hello")
    assert hello.exit_code == 0 and "hello from a plugin command" in hello.stdout
    # the plugin command is removed again after the invocation
    from qaudit.cli.app import app

    assert not any(c.name == "kit-hello" for c in app.registered_commands)
    gone = cli_runner.invoke(["--disable-plugin", "kit-demo", "kit-hello"])
    assert gone.exit_code == 2 and "No such command" in gone.stderr + gone.stdout


def test_register_fixture_fails_loudly_for_broken_plugin(qaudit_register):
    module = types.ModuleType("kit_broken")
    module.QAUDIT_API = "3"
    with pytest.raises(AssertionError, match="targets qaudit plugin API 3"):
        qaudit_register(module, name="kit-broken")


def test_cli_runner_turns_qaudit_errors_into_exit_2(cli_runner, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = cli_runner.invoke(["evaluate", str(bad)])
    assert result.exit_code == 2
    assert result.stderr.startswith("error:") and "Traceback" not in result.stderr


def test_tiny_model_fixture(tiny_model, tiny_dataset, cli_runner):
    assert tiny_model.path.exists()
    from qaudit.files import model_file as model_io

    loaded = model_io.load(tiny_model.path)
    X, y = tiny_model.holdout
    np.testing.assert_allclose(loaded.model.predict_proba(X), tiny_model.model.predict_proba(X), atol=1e-12)
    assert len(tiny_dataset) == 1797 and tiny_model.dataset.name == "digits"
    # trained: better than the 10 % chance level on unseen digits
    assert np.mean(tiny_model.model.predict(X) == y) > 0.2
    result = cli_runner.invoke(["evaluate", str(tiny_model.path), "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["splits"]["holdout"]["n"] == len(y)


def test_tiny_model_copies_are_independent(tiny_model):
    tiny_model.model.weights["b"] += 1.0
    fresh = testing.train_tiny_model()
    assert not np.allclose(fresh.model.weights["b"], tiny_model.model.weights["b"])


def test_sample_report_renders_through_check(capsys):
    stream = io.StringIO()
    JsonReporter().render(testing.sample_report(), stream)
    assert json.loads(stream.getvalue())["status"] == "fail"


def test_check_backend_skips_declared_limitations_but_needs_one_task():
    from qaudit.sdk.errors import QauditError

    exact = _exact_cls()

    class AmplitudeOnly(exact):
        def expectation(self, task, shots=None, seed=None):
            if task.states is None:
                raise QauditError("amplitude-encoded inputs only")
            return super().expectation(task, shots, seed)

    values = testing.check_backend(AmplitudeOnly)
    assert values["1:unsupported"].size == 0 and values["0:exact"].size > 0

    class Nothing(exact):
        def expectation(self, task, shots=None, seed=None):
            raise QauditError("not today")

    with pytest.raises(AssertionError, match="no task could be run"):
        testing.check_backend(Nothing)


# --------------------------------------------------------------------------- the built-ins conform
def _builtin(kind, name):
    host = testing.make_host()
    if name not in host.names(kind):
        pytest.skip(f"built-in {kind} {name!r} is not installed")
    return host.get(kind, name)


@pytest.mark.parametrize("name", ["rich", "json", "markdown", "html", "sarif", "junit"])
def test_builtin_reporters_conform(name):
    testing.check_reporter(_builtin("reporter", name))


@pytest.mark.parametrize("name", ["loss", "confidence", "entropy", "gray-box"])
def test_builtin_attacks_conform(name):
    testing.check_attack(_builtin("attack", name))


@pytest.mark.parametrize("name", ["ga", "ssd", "rga", "retrain", "finetune"])
def test_builtin_unlearning_methods_conform(name):
    testing.check_unlearning_method(_builtin("unlearning", name))


@pytest.mark.parametrize("name", ["sampled", "qsim"])
def test_builtin_backends_conform(name):
    testing.check_backend(_builtin("backend", name), shots=2000)


def test_check_backend_checks_sample_counts_and_bit_order():
    base = _builtin("backend", "sampled")
    values = testing.check_backend(base, shots=2000)
    assert values["0:counts"].sum(axis=1).tolist() == [2000] * len(values["0:counts"])

    class LittleEndian(base):
        def sample(self, task, shots, seed=None):
            counts = super().sample(task, shots, seed)
            n = task.n_qubits
            reverse = [int(format(i, f"0{n}b")[::-1], 2) for i in range(2**n)]
            return counts[:, reverse]

    with pytest.raises(AssertionError, match="standard errors from the reference"):
        testing.check_backend(LittleEndian, shots=2000)
