"""Test helpers for qaudit plugin authors: a pytest plugin plus conformance checks.

Installed with qaudit and registered under the ``pytest11`` entry point, so the
fixtures are available in any project that has qaudit installed -- no
``conftest.py`` import needed.

Fixtures
--------
``qaudit_plugins``
    Override it (e.g. in your ``conftest.py``) to return the plugin modules under
    test -- ``[my_plugin]`` or ``{"my-plugin": my_plugin}``; default: none.
``qaudit_host``
    An isolated :class:`qaudit.plugins.Host` (installed entry points, the
    environment's ``QAUDIT_*`` variables ignored) with ``qaudit_plugins``
    registered, installed as the process-wide host for the test.
``qaudit_register``
    ``qaudit_register(module, name=None)`` registers one more plugin on
    ``qaudit_host`` and fails the test if it does not load.
``tiny_dataset``
    scikit-learn's digits as a :class:`qaudit.data.Dataset` (1797 x 64).
``tiny_model``
    A :class:`TinyModel`: a 4-qubit, 1-layer ``basic-qnn`` trained on digits
    (trained once per session, a fresh copy per test), its ``ModelFile`` and data
    record, and ``path`` -- the model file saved in the test's ``tmp_path``.
``cli_runner``
    ``cli_runner.invoke(["leak", path, "--attack", "x"])`` runs the ``qaudit`` CLI
    in-process against ``qaudit_host`` (plugin commands included) and returns a
    :class:`CliResult` (``exit_code``, ``stdout``, ``stderr``).

Conformance checks
------------------
:func:`check_model`, :func:`check_backend`, :func:`check_attack`,
:func:`check_unlearning_method` and :func:`check_reporter` raise
``AssertionError`` with a message naming the broken promise; they return what
they computed so tests can assert more.
"""

from __future__ import annotations

import copy
import io
import json
import math
import shlex
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qaudit import plugins
from qaudit.errors import QauditError

#: Options of the tiny model: small enough to train in about a second.
TINY_OPTIONS: dict[str, Any] = {"qubits": 4, "layers": 1, "epochs": 4, "batch_size": 16, "lr": 0.1}
#: Members / holdout samples of the tiny model (a stratified split of digits).
TINY_SIZES = (160, 160)


# --------------------------------------------------------------------------- hosts
def make_host(extra: Sequence[Any] | Mapping[str, Any] = (), disabled: Sequence[str] = (),
              allow: Sequence[str] | None = None) -> plugins.Host:
    """An isolated host: installed entry points plus *extra* plugin modules.

    The ``QAUDIT_DISABLE_PLUGINS``/``QAUDIT_PLUGINS`` environment variables are
    ignored, so tests do not depend on the developer's shell.
    """
    host = plugins.Host(disabled=disabled, allow=allow, env=False).load_entry_points()
    items = extra.items() if isinstance(extra, Mapping) else ((None, m) for m in extra)
    for name, module in items:
        _register_or_fail(host, module, name)
    return host


def _register_or_fail(host: plugins.Host, module: Any, name: str | None = None) -> plugins.PluginInfo:
    info = host.register(module, name=name)
    errors = host.load_errors
    if info.name in errors:
        raise AssertionError(f"plugin {info.name!r} failed to load: {errors[info.name]}")
    return info


@contextmanager
def using_host(host: plugins.Host) -> Iterator[plugins.Host]:
    """Make *host* the process-wide host inside the ``with`` block."""
    previous = plugins._HOST
    plugins.set_host(host)
    try:
        yield host
    finally:
        plugins.set_host(previous)


# --------------------------------------------------------------------------- tiny model
@dataclass
class TinyModel:
    """A small trained model, its model file (data record included) and dataset."""

    model: Any
    file: Any
    dataset: Any
    path: Path | None = None

    @property
    def members(self) -> tuple[np.ndarray, np.ndarray]:
        """(X, y) of the training members."""
        idx = self.file.data.members
        return self.dataset.X[idx], self.dataset.y[idx]

    @property
    def holdout(self) -> tuple[np.ndarray, np.ndarray]:
        """(X, y) of the holdout (non-members)."""
        idx = self.file.data.holdout
        return self.dataset.X[idx], self.dataset.y[idx]

    def attack_split(self, seed: int = 0, **overrides: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
        """An :class:`AttackContext` plus the evaluation set ``(X, y, is_member)``.

        The attacker knows the first half of the members and of the holdout; the
        other halves are scored. Digits samples outside the model's data record
        are the population. *overrides* set further context fields (e.g.
        ``n_reference=2``, ``options={...}``).
        """
        import dataclasses

        from qaudit.protocols import AttackContext

        Xm, ym = self.members
        Xn, yn = self.holdout
        hm, hn = len(ym) // 2, len(yn) // 2
        X = np.concatenate([Xm[hm:], Xn[hn:]])
        y = np.concatenate([ym[hm:], yn[hn:]])
        is_member = np.concatenate([np.ones(len(ym) - hm, bool), np.zeros(len(yn) - hn, bool)])
        rest = np.setdiff1d(np.arange(len(self.dataset)), np.concatenate([self.file.data.members,
                                                                          self.file.data.holdout]))
        values = dict(model=self.model, backend=_exact_backend(), shots=None, seed=seed, X_members=Xm[:hm],
                      y_members=ym[:hm], X_non_members=Xn[:hn], y_non_members=yn[:hn],
                      population_X=self.dataset.X[rest], population_y=self.dataset.y[rest], X_targets=X,
                      y_targets=y, n_train=len(ym), n_classes=self.dataset.n_classes)
        values.update(overrides)
        known = {f.name for f in dataclasses.fields(AttackContext)}
        return AttackContext(**{k: v for k, v in values.items() if k in known}), X, y, is_member

    def copy(self) -> TinyModel:
        """A copy whose model can be modified freely."""
        model = self.model.copy() if hasattr(self.model, "copy") else copy.deepcopy(self.model)
        mf = copy.copy(self.file)
        mf.model = model
        return TinyModel(model, mf, self.dataset, self.path)


_CACHE: dict[Any, Any] = {}


def load_tiny_dataset() -> Any:
    """The default dataset (role ``default``: scikit-learn's digits) as a :class:`qaudit.data.Dataset`
    (cached)."""
    if "tiny-dataset" not in _CACHE:
        from qaudit.data import load_dataset

        host = make_host()
        with using_host(host):
            _CACHE["tiny-dataset"] = load_dataset(host.role("dataset", "default"), {})
    return _CACHE["tiny-dataset"]


def train_tiny_model(seed: int = 0, **options: Any) -> TinyModel:
    """Train (once per process and arguments) the tiny default model (``basic-qnn``); returns a fresh copy."""
    key = ("tiny", seed, tuple(sorted(options.items())))
    if key not in _CACHE:
        from qaudit.workflows import train_model

        dataset = load_tiny_dataset()
        host = make_host()
        with using_host(host):
            mf = train_model(host.role("model", "default"), dataset, n_train=TINY_SIZES[0],
                             n_holdout=TINY_SIZES[1], seed=seed, options={**TINY_OPTIONS, **options})
        _CACHE[key] = TinyModel(mf.model, mf, dataset)
    return _CACHE[key].copy()


def _exact_backend() -> Any:
    """An instance of the default backend (role ``default``: the built-in exact engine)."""
    host = make_host()
    return host.get("backend", host.role("backend", "default"))()


# --------------------------------------------------------------------------- CLI
@dataclass
class CliResult:
    """Outcome of :meth:`QauditCliRunner.invoke`."""

    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None = None

    @property
    def output(self) -> str:
        """stdout (the report)."""
        return self.stdout


class QauditCliRunner:
    """Runs the ``qaudit`` CLI in-process against an isolated host, like ``qaudit.cli.main``."""

    def __init__(self, host: plugins.Host):
        self.host = host

    def invoke(self, args: str | Sequence[str], input: str | None = None,
               env: Mapping[str, str | None] | None = None, catch_exceptions: bool = True) -> CliResult:
        """Run ``qaudit ARGS``; ``--disable-plugin`` and ``QAUDIT_*`` in *env* are honoured."""
        from typer.testing import CliRunner

        from qaudit import boundary, cli

        argv = shlex.split(args) if isinstance(args, str) else [str(a) for a in args]
        env = dict(env or {})
        disabled = plugins.disabled_from_argv(argv) + _split(env.get(plugins.DISABLE_ENV))
        allow = _split(env.get(plugins.ALLOW_ENV)) or None
        host = self.host.derive(disabled, allow) if disabled or allow else self.host
        saved = list(cli.app.registered_commands), list(cli.app.registered_groups)
        debug = boundary.debug_requested(argv)
        argv = [a for a in argv if a != "--debug"]

        def run() -> object:
            host.commands(cli.app)
            return cli.app(argv, prog_name="qaudit", standalone_mode=False)

        def line(text: str) -> None:
            sys.stdout.flush()
            sys.stderr.write(text + "\n")

        with CliRunner().isolation(input=input, env=env) as streams, using_host(host), _signals_reach_caller() as seen:
            try:  # the same error boundary as qaudit.cli.main
                code, exception = boundary.guarded(run, line, lambda: host, debug, reraise=not catch_exceptions)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                cli.app.registered_commands[:], cli.app.registered_groups[:] = saved
            stdout = streams[0].getvalue().decode("utf-8", "replace")
            stderr = streams[1].getvalue().decode("utf-8", "replace") if len(streams) > 2 else ""
        if seen:  # a real Ctrl-C / SIGTERM reached the test process: stop the caller (pytest), not only qaudit
            raise KeyboardInterrupt(f"signal {seen[0]} during qaudit {' '.join(argv)}")
        return CliResult(code, stdout, stderr, exception)


@contextmanager
def _signals_reach_caller() -> Iterator[list[int]]:
    """During an in-process run, a real SIGINT/SIGTERM is recorded (and still interrupts the command as
    it would in ``qaudit``); the caller re-raises it afterwards so ``timeout`` or Ctrl-C stops pytest
    instead of being swallowed by the CLI's error boundary. Every handler is restored on exit."""
    seen: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield seen
        return
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def record(signum: int, frame: Any) -> None:
        seen.append(signum)
        raise KeyboardInterrupt

    for s in saved:
        signal.signal(s, record)
    try:
        yield seen
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)


def _split(value: str | None) -> list[str]:
    return [p.strip() for p in (value or "").split(",") if p.strip()]


# --------------------------------------------------------------------------- fixtures
@pytest.fixture
def qaudit_plugins() -> Sequence[Any] | Mapping[str, Any]:
    """The plugin modules under test; override to return ``[my_plugin]`` or ``{"name": module}``."""
    return ()


@pytest.fixture
def qaudit_host(qaudit_plugins: Sequence[Any] | Mapping[str, Any]) -> Iterator[plugins.Host]:
    """An isolated host with installed plugins plus ``qaudit_plugins``, set as the process host."""
    with using_host(make_host(qaudit_plugins)) as host:
        yield host


@pytest.fixture
def qaudit_register(qaudit_host: plugins.Host) -> Callable[..., plugins.PluginInfo]:
    """``qaudit_register(module, name=None)``: register a plugin on ``qaudit_host`` or fail the test."""

    def register(module: Any, name: str | None = None) -> plugins.PluginInfo:
        return _register_or_fail(qaudit_host, module, name)

    return register


@pytest.fixture
def tiny_dataset() -> Any:
    """scikit-learn's digits (1797 samples x 64 features, 10 classes)."""
    return load_tiny_dataset()


@pytest.fixture
def tiny_model(tmp_path: Path) -> TinyModel:
    """A trained 4-qubit basic-qnn on digits, saved as ``tmp_path / "tiny-model.json"``."""
    from qaudit import model as model_io

    tiny = train_tiny_model()
    tiny.path = tmp_path / "tiny-model.json"
    model_io.save(tiny.file, tiny.path, command="qaudit.testing tiny_model")
    tiny.file.path = str(tiny.path)
    return tiny


@pytest.fixture
def cli_runner(qaudit_host: plugins.Host) -> QauditCliRunner:
    """Runs ``qaudit`` in-process against ``qaudit_host``."""
    return QauditCliRunner(qaudit_host)


# --------------------------------------------------------------------------- checks
def _fail(what: str, message: str) -> None:
    raise AssertionError(f"{what}: {message}")


def _check_named(cls: Any, attrs: Sequence[str] = ("name", "description")) -> str:
    label = getattr(cls, "__name__", repr(cls))
    for attr in attrs:
        value = getattr(cls, attr, None)
        if not isinstance(value, str) or not value:
            _fail(label, f"class attribute {attr!r} must be a non-empty string")
    return f"{label} ({cls.name!r})"


def _weights_snapshot(model: Any) -> dict[str, np.ndarray]:
    return {k: np.array(v, copy=True) for k, v in getattr(model, "weights", {}).items()}


def _assert_probabilities(what: str, probs: Any, n: int) -> np.ndarray:
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] != n:
        _fail(what, f"predict_proba must return (n_samples, n_classes), got shape {probs.shape} for {n} samples")
    if not np.all(np.isfinite(probs)) or probs.min() < -1e-12:
        _fail(what, "predict_proba returned negative or non-finite probabilities")
    if not np.allclose(probs.sum(axis=1), 1.0, atol=1e-9):
        _fail(what, f"predict_proba rows must sum to 1 (worst {np.abs(probs.sum(axis=1) - 1).max():.2e} off)")
    return probs


def check_model(model_cls: Any, options: Mapping[str, Any] | None = None, X: np.ndarray | None = None,
                y: np.ndarray | None = None, *, n_checks: int = 4, h: float = 1e-5,
                rtol: float = 1e-4, atol: float = 1e-6) -> Any:
    """Check a :class:`qaudit.protocols.Model` class end to end; returns the fitted model.

    * ``from_options(options)`` builds it, ``get_params()`` is JSON-serialisable;
    * ``fit(X, y, n_classes=, sample_ids=, progress=)`` (as the host calls it) returns self;
      ``n_classes`` and ``n_qubits`` are positive integers; ``copy()`` is independent;
    * the host's query path works (:func:`qaudit.query.query`): ``task(X)`` is a
      :class:`~qaudit.protocols.QuantumTask` with one row per sample, ``head`` gives
      probabilities summing to 1, exactly on the default backend and with 4096 shots through
      the plugin-declared shot backend (``sample()`` for Z readouts), the shot estimates within
      6 standard errors of the exact values -- or, for an ensemble, ``parts``/``combine``;
    * ``loss_and_grad`` matches central finite differences of its own loss for
      *n_checks* entries of every weight, on a batch of 4 samples;
    * the mean of ``per_sample_grads`` equals the batch gradient;
    * optional ``initialise`` (DP training): returns self, draws the weights ``fit`` trains (same names
      and shapes), reproducibly, and ``per_sample_grads`` covers them on the untrained model;
    * ``to_document`` survives JSON and ``from_document`` predicts identically.

    Pass small *options* (few qubits, layers, epochs) to keep it fast. *X*, *y*
    default to 120 digits samples.
    """
    what = _check_named(model_cls)
    if X is None or y is None:
        ds = load_tiny_dataset()
        X, y = ds.X[:120], ds.y[:120]
    model = model_cls.from_options(dict(options or {}))
    try:
        json.dumps(model.get_params())
    except TypeError as exc:
        _fail(what, f"get_params() must be JSON-serialisable ({exc})")
    from qaudit.progress import SILENT
    from qaudit.query import predict_proba

    n_classes = int(np.max(y)) + 1
    try:
        fitted = model.fit(X, y, n_classes=n_classes, sample_ids=np.arange(len(X)), progress=SILENT)
    except TypeError as exc:
        _fail(what, f"fit(X, y, *, n_classes=, sample_ids=, progress=) is how the host calls it ({exc})")
    if fitted is not model:
        _fail(what, "fit(X, y, n_classes=, sample_ids=, progress=) must return self")
    _check_query_path(what, model, X[:16])
    Xb, yb = X[:4], y[:4]
    loss, grad = model.loss_and_grad(Xb, yb)
    if not math.isfinite(float(loss)):
        _fail(what, f"loss_and_grad returned a non-finite loss {loss}")
    if set(grad) != set(model.weights):
        _fail(what, f"loss_and_grad keys {sorted(grad)} differ from weights {sorted(model.weights)}")
    rng = np.random.default_rng(0)
    for name, w in model.weights.items():
        g = np.asarray(grad[name])
        if g.shape != w.shape:
            _fail(what, f"gradient of {name!r} has shape {g.shape}, weight has {w.shape}")
        for i in rng.choice(w.size, size=min(n_checks, w.size), replace=False):
            original = w.flat[i]
            w.flat[i] = original + h
            up = float(model.loss_and_grad(Xb, yb)[0])
            w.flat[i] = original - h
            down = float(model.loss_and_grad(Xb, yb)[0])
            w.flat[i] = original
            fd = (up - down) / (2 * h)
            if not abs(fd - g.flat[i]) <= atol + rtol * abs(fd):
                _fail(what, f"d loss / d {name}[{i}] = {g.flat[i]:.8g} but finite differences give {fd:.8g}")
    per_sample = model.per_sample_grads(Xb, yb)
    for name, g in grad.items():
        ps = np.asarray(per_sample[name])
        if ps.shape != (len(yb), *np.shape(g)):
            _fail(what, f"per_sample_grads[{name!r}] has shape {ps.shape}, expected {(len(yb), *np.shape(g))}")
        if not np.allclose(ps.mean(axis=0), g, atol=1e-9, rtol=1e-7):
            _fail(what, f"mean of per_sample_grads[{name!r}] differs from loss_and_grad")
    _check_initialise(what, model_cls, options, X, y, n_classes, model)
    document = json.loads(json.dumps(model.to_document()))
    clone = model_cls.from_document(document)
    if not np.allclose(predict_proba(clone, X[:16]), predict_proba(model, X[:16]), atol=1e-12, rtol=0):
        _fail(what, "from_document(to_document()) predicts differently")
    return model


def _check_initialise(what: str, model_cls: Any, options: Mapping[str, Any] | None, X: np.ndarray, y: np.ndarray,
                      n_classes: int, fitted: Any) -> None:
    """``initialise`` (what DP-SGD starts from): returns self, draws the same weights as ``fit`` does before
    training (names and shapes), reproducibly, and ``per_sample_grads`` works on the untrained model."""
    if not callable(getattr(model_cls, "initialise", None)):  # an optional capability (DP training)
        return
    fresh = model_cls.from_options(dict(options or {}))
    if fresh.initialise(X, y, n_classes) is not fresh:
        _fail(what, "initialise(X, y, n_classes) must return self")
    shapes = {k: np.shape(v) for k, v in fresh.weights.items()}
    if shapes != {k: np.shape(v) for k, v in fitted.weights.items()}:
        _fail(what, f"initialise draws weights {shapes}, fit trains {sorted(fitted.weights)} of other shapes")
    again = model_cls.from_options(dict(options or {})).initialise(X, y, n_classes)
    if any(not np.array_equal(again.weights[k], v) for k, v in fresh.weights.items()):
        _fail(what, "initialise is not reproducible for the same options (seed)")
    grads = fresh.per_sample_grads(X[:3], y[:3])
    if set(grads) != set(fresh.weights) or any(np.shape(grads[k]) != (3, *shapes[k]) for k in shapes):
        _fail(what, "per_sample_grads of an initialised model must cover every weight, (n, *shape) each")


def _check_query_path(what: str, model: Any, X: np.ndarray) -> None:
    """What the host calls on a fitted model: n_classes, n_qubits, copy, task/head or parts/combine, shots."""
    from qaudit.backends import default_backend, resolve_backend
    from qaudit.protocols import QuantumTask
    from qaudit.query import query

    for attr in ("n_classes", "n_qubits"):
        value = getattr(model, attr, None)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            _fail(what, f"{attr} must be a positive integer after fit, got {value!r}")
    other = model.copy()
    if other is model or any(other.weights[k] is v for k, v in model.weights.items()):
        _fail(what, "copy() must return an independent deep copy (weights included)")
    exact = query(model, X)
    _assert_probabilities(what, exact.probs, len(X))
    if callable(getattr(model, "parts", None)):
        return  # an ensemble: its parts are checked as models of their own kind
    task = model.task(X)
    if not isinstance(task, QuantumTask) or task.n_samples != len(X):
        _fail(what, f"task(X) must return a QuantumTask with {len(X)} samples")
    _assert_probabilities(what, model.head(exact.expectations), len(X))
    shots = 4096
    backend, _ = resolve_backend(default_backend(shots), shots, model)
    sampled = query(model, X, backend, shots, seed=0)
    _assert_probabilities(what, sampled.probs, len(X))
    worst = float(np.max(np.abs(sampled.expectations - exact.expectations)))
    if worst > 6.0 / np.sqrt(shots):
        _fail(what, f"{shots}-shot expectation values differ from the exact ones by {worst:.3g} "
                    f"(> 6 standard errors): task() and the exact path disagree")


def _angle_task() -> Any:
    """A 3-qubit angle-encoded task with X/Y/Z observables (exercises feature binding)."""
    import cirq
    import sympy

    from qaudit.protocols import QuantumTask

    q = cirq.LineQubit.range(3)
    f = [sympy.Symbol(f"x_{i}") for i in range(3)]
    t = [sympy.Symbol(f"t_{i}") for i in range(6)]
    circuit = cirq.Circuit(
        [cirq.rx(f[i]).on(q[i]) for i in range(3)],
        [cirq.ry(t[i]).on(q[i]) for i in range(3)],
        cirq.CNOT(q[0], q[1]), cirq.CNOT(q[1], q[2]),
        [cirq.rz(t[3 + i]).on(q[i]) for i in range(3)],
        [cirq.ry(f[i] * 0.5).on(q[i]) for i in range(3)],
    )
    rng = np.random.default_rng(7)
    return QuantumTask(circuit, q, [s.name for s in t], rng.uniform(-np.pi, np.pi, 6),
                       ["Z0", "X1", "Y2", "Z0 Z2", "X0 Y1"], feature_names=[s.name for s in f],
                       features=rng.uniform(-np.pi, np.pi, (5, 3)))


def default_tasks(n_samples: int = 6) -> list[Any]:
    """Tasks :func:`check_backend` runs: the tiny model's amplitude-encoded circuit and an
    angle-encoded circuit with X/Y/Z observables."""
    tiny = train_tiny_model()
    X, _ = tiny.members
    return [tiny.model.task(X[:n_samples]), _angle_task()]


def exact_reference(task: Any) -> np.ndarray:
    """Exact expectation values of *task* from qaudit's numpy engine."""
    from qaudit.engine import PauliObservables, Program, forward

    program = Program.from_circuit(task.circuit, task.qubits, task.param_names, task.feature_names)
    ev, _ = forward(program, task.param_values, PauliObservables(task.observables, task.n_qubits),
                    states=task.states, features=task.features)
    return np.asarray(ev)


def backend_reference(backend: str | Any, argument: str | None = None) -> Callable[[Any], np.ndarray]:
    """A *reference* for :func:`check_backend`: exact values from another backend (a registered
    name or class), e.g. ``backend_reference("density-matrix")`` to check a noisy backend."""
    cls = make_host().get("backend", backend) if isinstance(backend, str) else backend
    instance = cls(argument) if getattr(cls, "takes_argument", False) else cls()
    return lambda task: np.asarray(instance.expectation(task, shots=None, seed=0), dtype=np.float64)


def check_backend(backend_cls: Any, argument: str | None = None, *, shots: int = 4000, seed: int = 0,
                  atol: float = 1e-6, sigmas: float = 5.0, tasks: Sequence[Any] | None = None,
                  reference: Callable[[Any], np.ndarray] = exact_reference) -> dict[str, np.ndarray]:
    """Check a :class:`qaudit.protocols.Backend` class against exact expectation values.

    For every task (default :func:`default_tasks`): values have shape
    ``(n_samples, n_observables)``, are finite and within [-1, 1]; if the backend
    declares ``capabilities.exact``, ``shots=None`` agrees with *reference* to
    *atol*; if it declares ``capabilities.shots``, ``shots=N`` agrees within
    *sigmas* standard errors (``sqrt((1 - <P>^2) / N)`` per Pauli expectation)
    and repeats exactly with the same seed. For a noisy backend pass a noisy
    *reference* (:func:`backend_reference`). A task the backend refuses with a
    ``QauditError`` (a declared limitation) is skipped; at least one must run.
    A backend with a ``sample`` method (:class:`qaudit.protocols.SamplingBackend`)
    must return reproducible integer counts whose Z parities match too.
    Returns the backend's values per ``"task:mode"`` (empty for skipped tasks).
    """
    what = _check_named(backend_cls)
    caps = getattr(backend_cls, "capabilities", None)
    if caps is None:
        _fail(what, "missing class attribute 'capabilities' (qaudit.protocols.Capabilities)")
    if not (caps.exact or caps.shots):
        _fail(what, "capabilities declare neither exact nor shots")
    backend = backend_cls(argument) if getattr(backend_cls, "takes_argument", False) else backend_cls()
    tasks = list(default_tasks() if tasks is None else tasks)
    results: dict[str, np.ndarray] = {}
    skipped: list[str] = []
    for k, task in enumerate(tasks):
        if caps.max_qubits is not None and task.n_qubits > caps.max_qubits:
            continue
        want = np.asarray(reference(task), dtype=np.float64)
        modes = ([None] if caps.exact else []) + ([shots] if caps.shots else [])
        for mode in modes:
            label = f"task {k} ({task.n_qubits} qubits), shots={mode or 'exact'}"
            try:
                got = np.asarray(backend.expectation(task, shots=mode, seed=seed), dtype=np.float64)
            except QauditError as exc:  # a declared limitation (e.g. no angle encoding): skip this task
                results[f"{k}:unsupported"] = np.array([])
                skipped.append(f"{label}: {exc}")
                break
            if got.shape != want.shape:
                _fail(what, f"{label}: expected shape {want.shape}, got {got.shape}")
            if not np.all(np.isfinite(got)) or np.abs(got).max() > 1 + 1e-9:
                _fail(what, f"{label}: values must be finite and within [-1, 1]")
            if mode is None:
                err = np.abs(got - want).max()
                if err > atol:
                    hint = " (a noisy backend needs a noisy reference=, e.g. backend_reference(...))" \
                        if caps.noise and reference is exact_reference else ""
                    _fail(what, f"{label}: differs from the reference by {err:.3g} (> {atol}){hint}")
            else:
                sigma = np.sqrt(np.clip(1 - want**2, 0, None) / mode)
                z = np.abs(got - want) / (sigma + 1.0 / mode)
                if z.max() > sigmas:
                    _fail(what, f"{label}: {z.max():.1f} standard errors from exact (> {sigmas})")
                again = np.asarray(backend.expectation(task, shots=mode, seed=seed), dtype=np.float64)
                if not np.array_equal(again, got):
                    _fail(what, f"{label}: same seed gave different samples (must be deterministic)")
            results[f"{k}:{mode or 'exact'}"] = got
        if caps.shots and callable(getattr(backend, "sample", None)) and f"{k}:unsupported" not in results:
            results[f"{k}:counts"] = _check_counts(what, backend, task, want, shots, seed, sigmas)
    if not any(v.size for v in results.values()):
        _fail(what, "no task could be run: " + "; ".join(skipped or ["all tasks exceed max_qubits"]))
    return results


def _check_counts(what: str, backend: Any, task: Any, want: np.ndarray, shots: int, seed: int,
                  sigmas: float) -> np.ndarray:
    """``SamplingBackend.sample``: integer counts per bit string summing to *shots*, reproducible,
    and Z-string parities of the counts within shot noise of the reference."""
    from qaudit.engine.observables import parse_pauli

    label = f"sample() on a {task.n_qubits}-qubit task"
    counts = np.asarray(backend.sample(task, shots, seed))
    if counts.shape != (task.n_samples, 2**task.n_qubits):
        _fail(what, f"{label}: expected counts of shape {(task.n_samples, 2**task.n_qubits)}, got {counts.shape}")
    if counts.dtype.kind not in "iu" or counts.min() < 0 or np.any(counts.sum(axis=1) != shots):
        _fail(what, f"{label}: counts must be non-negative integers summing to shots={shots} per sample")
    if not np.array_equal(np.asarray(backend.sample(task, shots, seed)), counts):
        _fail(what, f"{label}: same seed gave different counts")
    index = np.arange(2**task.n_qubits)
    for j, term in enumerate(task.observables):
        paulis = parse_pauli(term, task.n_qubits)
        if set(paulis.values()) - {"Z"}:
            continue
        parity = np.ones(len(index))
        for q in paulis:
            parity *= 1 - 2 * ((index >> (task.n_qubits - 1 - q)) & 1)
        estimate = counts @ parity / shots
        sigma = np.sqrt(np.clip(1 - want[:, j] ** 2, 0, None) / shots) + 1.0 / shots
        z = np.abs(estimate - want[:, j]) / sigma
        if z.max() > sigmas:
            _fail(what, f"{label}: <{term}> from the counts is {z.max():.1f} standard errors from the reference "
                        "(bit order: qubit 0 is the most significant bit)")
    return counts


@dataclass
class AttackCheck:
    """What :func:`check_attack` computed: scores and ground truth of the evaluation set."""

    scores: np.ndarray
    is_member: np.ndarray
    auc: float = field(default=float("nan"))


def check_attack(attack_cls: Any, options: Mapping[str, Any] | None = None, model: TinyModel | None = None,
                 *, seed: int = 0, deterministic: bool = True, **context_fields: Any) -> AttackCheck:
    """Check a :class:`qaudit.protocols.Attack` class on the tiny model (or *model*).

    ``attack_cls()`` (options arrive in ``context.options``, as ``qaudit leak
    --attack-option`` passes them) is fitted on an :class:`AttackContext` (half
    the members/holdout as attacker knowledge) and must return self; ``score`` must
    return one finite score per evaluation sample, leave the target model's
    weights untouched and (if *deterministic*) repeat exactly for the same seed.
    Returns the scores, ground truth and their ROC AUC (informative only).
    Extra keyword arguments set :class:`AttackContext` fields (``n_reference=2``).
    """
    from sklearn.metrics import roc_auc_score

    what = _check_named(attack_cls)
    tiny = model or train_tiny_model()
    before = _weights_snapshot(tiny.model)
    context_fields.setdefault("options", dict(options or {}))
    context, X, y, is_member = tiny.attack_split(seed, **context_fields)
    queried = _record_target_queries(context)
    attack = attack_cls()
    if attack.fit(context) is not attack:
        _fail(what, "fit(context) must return self")
    scores = np.asarray(attack.score(context, X, y), dtype=np.float64)
    _check_target_queries(attack_cls, what, context, X, queried)
    if scores.shape != (len(X),):
        _fail(what, f"score must return one score per sample: shape ({len(X)},), got {scores.shape}")
    if not np.all(np.isfinite(scores)):
        _fail(what, f"{int(np.sum(~np.isfinite(scores)))} of {len(scores)} scores are not finite")
    after = _weights_snapshot(tiny.model)
    if before.keys() != after.keys() or any(not np.array_equal(before[k], after[k]) for k in before):
        _fail(what, "the attack modified the target model's weights")
    if deterministic:
        context2, _, _, _ = tiny.attack_split(seed, **context_fields)
        again = np.asarray(attack_cls().fit(context2).score(context2, X, y), dtype=np.float64)
        if not np.allclose(again, scores, rtol=1e-9, atol=1e-12):
            _fail(what, "two runs with the same seed gave different scores (seed every random step)")
    _check_signals(attack_cls, what, tiny, seed, dict(options or {}))
    auc = float(roc_auc_score(is_member, scores)) if len(set(scores.tolist())) > 1 else 0.5
    return AttackCheck(scores, is_member, auc)


def _record_target_queries(context: Any) -> list[np.ndarray]:
    """Make *context* record the samples the target is queried on (its other queries pass through)."""
    from qaudit.query import TargetQueries

    inner = context.query or TargetQueries(context.model, context.backend, context.shots, context.seed)
    queried: list[np.ndarray] = []

    def recording(model: Any, X: np.ndarray, exact: bool = False) -> Any:
        if model is context.model and not exact:
            queried.append(np.asarray(X, dtype=np.float64))
        return inner(model, X, exact)

    context.query = recording
    return queried


def _check_target_queries(attack_cls: Any, what: str, context: Any, X: np.ndarray,
                          queried: list[np.ndarray]) -> None:
    """Every target query is of scored or attacker-known samples, or of samples ``target_samples`` (optional)
    declares: a budgeted backend's plan holds only those (``--dry-run`` = what the run submits)."""
    declared = getattr(attack_cls, "target_samples", None)
    extra = declared(context) if callable(declared) else None
    parts = [X, context.X_members, context.X_non_members, extra]
    allowed = {row.tobytes() for part in parts if part is not None for row in np.asarray(part, dtype=np.float64)}
    undeclared = sum(row.tobytes() not in allowed for part in queried for row in part)
    if undeclared:
        _fail(what, f"queried the target on {undeclared} samples that are neither scored nor attacker-known nor "
                    "declared by target_samples(context): a budgeted backend's plan (--dry-run) would not hold them")


def _check_signals(attack_cls: Any, what: str, tiny: TinyModel, seed: int, options: dict[str, Any]) -> None:
    """``signals`` (optional) names known signals, and an attack that does not need the model runs in a
    black-box audit of the tiny model's recorded outputs (with 4 recorded reference models if it asks)."""
    from qaudit.audit import AuditSettings, score_and_report
    from qaudit.blackbox import RecordedOutputs, attack_signals, subject
    from qaudit.protocols import SIGNALS
    from qaudit.query import predict_proba

    signals = attack_signals(attack_cls)
    unknown = sorted(signals - set(SIGNALS))
    if unknown:
        _fail(what, f"signals names unknown signal(s) {', '.join(unknown)} (known: {', '.join(SIGNALS)})")
    if signals & {"model", "counts"}:
        return
    Xm, ym = tiny.members
    Xn, yn = tiny.holdout
    X, y = np.concatenate([Xm, Xn]), np.concatenate([ym, yn]).astype(np.int64)
    probs = predict_proba(tiny.model, X)
    recorded = RecordedOutputs(probs, y, np.r_[np.ones(len(ym), bool), np.zeros(len(yn), bool)], path="tiny")
    if "reference_outputs" in signals:
        rng = np.random.default_rng(seed)
        logits = np.log(np.clip(probs, 1e-12, None))[None] + rng.normal(0, 0.3, (4, *probs.shape))
        ref = np.exp(logits - logits.max(axis=-1, keepdims=True))
        recorded.ref_probs = ref / ref.sum(axis=-1, keepdims=True)
        recorded.ref_membership = np.argsort(rng.random((4, len(y))), axis=0) < 2
    settings = AuditSettings(attacks=[attack_cls.name], seed=seed, n_bootstrap=10, folds=2, attack_options=options)
    try:
        score_and_report(subject(recorded, settings), {attack_cls.name: attack_cls}, settings)
    except Exception as exc:  # noqa: BLE001 - any failure is the finding
        _fail(what, f"declares signals {sorted(signals)} but fails on recorded outputs: {type(exc).__name__}: {exc}")


def check_unlearning_method(method_cls: Any, options: Mapping[str, Any] | None = None,
                            model: TinyModel | None = None, *, n_forget: int = 20, seed: int = 0) -> Any:
    """Check a :class:`qaudit.protocols.UnlearningMethod` class on the tiny model (or *model*).

    It must declare ``needs`` within ``{"forget", "retain", "train"}``; it gets
    the first *n_forget* members as forget set (and the rest as retain set if it
    needs one), with *options* in ``request.options``. ``unlearn`` must return an
    outcome whose model is a new object (the input model's weights and document
    unchanged, no shared arrays) that still predicts probabilities and saves, and
    whose ``cost`` is finite, non-negative and not all zero. Returns the outcome.
    """
    from qaudit.protocols import UnlearningRequest

    what = _check_named(method_cls)
    needs = getattr(method_cls, "needs", None)
    if not isinstance(needs, (set, frozenset, tuple, list)) or not set(needs) <= {"forget", "retain", "train"}:
        _fail(what, f"'needs' must be a subset of {{'forget', 'retain', 'train'}}, got {needs!r}")
    tiny = model or train_tiny_model()
    Xm, ym = tiny.members
    wants_retain = bool({"retain", "train"} & set(needs))
    request = UnlearningRequest(X_forget=Xm[:n_forget], y_forget=ym[:n_forget],
                                X_retain=Xm[n_forget:] if wants_retain else None,
                                y_retain=ym[n_forget:] if wants_retain else None,
                                seed=seed, options=dict(options or {}))
    weights = _weights_snapshot(tiny.model)
    document = json.dumps(tiny.model.to_document(), sort_keys=True)
    outcome = method_cls().unlearn(tiny.model, request)
    new = getattr(outcome, "model", None)
    if new is None or new is tiny.model:
        _fail(what, "unlearn must return an outcome with a *new* model object")
    if any(not np.array_equal(weights[k], tiny.model.weights[k]) for k in weights) or \
            json.dumps(tiny.model.to_document(), sort_keys=True) != document:
        _fail(what, "unlearn modified its input model")
    for k, w in getattr(new, "weights", {}).items():
        if k in tiny.model.weights and np.shares_memory(np.asarray(w), tiny.model.weights[k]):
            _fail(what, f"the new model shares the weight array {k!r} with the input model")
    X_check = Xm[:16]
    _assert_probabilities(what, new.predict_proba(X_check), len(X_check))
    json.dumps(new.to_document())
    cost = getattr(outcome, "cost", None)
    fields = ("circuit_evaluations", "gradient_evaluations", "seconds")
    if cost is None or any(not hasattr(cost, f) for f in fields):
        _fail(what, f"outcome.cost must report {', '.join(fields)}")
    values = [float(getattr(cost, f)) for f in fields]
    if any(not math.isfinite(v) or v < 0 for v in values):
        _fail(what, f"cost values must be finite and >= 0, got {dict(zip(fields, values))}")
    if not any(values):
        _fail(what, "cost is all zero: report the evaluations and seconds the method spent")
    return outcome


def sample_report() -> Any:
    """A :class:`qaudit.results.Report` exercising every part (tables, curves, findings,
    measurements, a non-finite cell) -- the default input of :func:`check_reporter`."""
    from qaudit.results import Curve, Finding, Report, Table

    report = Report(kind="leak", title="sample leak report", schema="qaudit.leak/1",
                    verdict="sample verdict", summary={"model": "tiny-model.json", "auc": 0.61},
                    seeds={"attack": 0}, settings={"backend": "engine", "shots": None},
                    location="tiny-model.json")
    report.tables.append(Table("attacks", ["attack", "auc", "tpr@1%fpr", "note"],
                               [["attack-a", 0.61, 0.02, "a, \"quoted\" cell"], ["attack-b", float("nan"), None, ""]]))
    report.curves.append(Curve("attack-a", [0.0, 0.5, 1.0], [0.0, 0.7, 1.0], 0.61))
    report.measurements = {"attack-a": {"auc": 0.61, "tpr@1%fpr": 0.02}}
    report.apply_findings([Finding("leak/auc", "attack-a", "auc", 0.61, 0.6, False, "attack-a: auc 0.610 > 0.600",
                                   "tiny-model.json")])
    return report


def check_reporter(reporter_cls: Any, result: Any = None) -> str:
    """Check a :class:`qaudit.protocols.Reporter` class renders *result* to a stream.

    *result* defaults to :func:`sample_report`. The output must be non-empty
    text, identical when rendered twice (reporters compute nothing), and valid
    JSON when the reporter's ``suffix`` is ``.json``. Returns the text.
    """
    what = _check_named(reporter_cls, ("name", "suffix"))
    if not reporter_cls.suffix.startswith("."):
        _fail(what, f"suffix must start with '.', got {reporter_cls.suffix!r}")
    result = sample_report() if result is None else result
    texts = []
    for _ in range(2):
        stream = io.StringIO()
        reporter_cls().render(result, stream)
        texts.append(stream.getvalue())
    if not texts[0].strip():
        _fail(what, "render wrote nothing")
    if texts[0] != texts[1]:
        _fail(what, "rendering the same result twice gave different output")
    if reporter_cls.suffix == ".json":
        try:
            json.loads(texts[0])
        except ValueError as exc:
            _fail(what, f"output is not valid JSON ({exc})")
    return texts[0]


__all__ = [
    "AttackCheck", "CliResult", "QauditCliRunner", "TinyModel", "TINY_OPTIONS", "backend_reference", "check_attack",
    "check_backend", "check_model", "check_reporter", "check_unlearning_method", "default_tasks", "exact_reference",
    "load_tiny_dataset", "make_host", "sample_report", "synthetic_outputs", "train_tiny_model", "using_host",
]


def timeless(document: object, drop: Sequence[str] = ()) -> object:
    """A JSON report without what legitimately differs between runs of the same command: its wall-clock
    fields (``seconds``, ``*_seconds``) and any keys in *drop* (e.g. ``("command",)``)."""
    if isinstance(document, dict):
        return {k: timeless(v, drop) for k, v in document.items()
                if k != "seconds" and not k.endswith("_seconds") and k not in drop}
    if isinstance(document, list):
        return [timeless(v, drop) for v in document]
    return document


def synthetic_outputs(n: int = 200, K: int = 8, classes: int = 10, seed: int = 0,
                      memorise: float = 0.0) -> dict[str, np.ndarray]:
    """Arrays of an outputs file (docs/outputs-format.md): a target's and K reference models' logits on n
    samples, half of them members -- for testing attacks and audits of recorded outputs.

    Every sample has a difficulty shared by all models (so reference outputs predict the target's);
    a model that trained on a sample adds *memorise* to its true-class logit. ``memorise=0`` is a null
    model: members and non-members are drawn from the same distribution and nothing depends on membership.
    """
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    base = rng.normal(0, 1, (n, classes))
    base[np.arange(n), labels] += rng.normal(1.5, 1.0, n)  # per-sample difficulty
    membership = np.r_[np.ones(n // 2, np.int64), np.zeros(n - n // 2, np.int64)]
    keep = (np.argsort(rng.random((K, n)), axis=0) < K // 2).astype(np.int64)

    def logits(inside: np.ndarray) -> np.ndarray:
        z = base + rng.normal(0, 0.5, (n, classes))
        z[np.arange(n), labels] += memorise * inside
        return z

    return {"logits": logits(membership), "labels": labels, "membership": membership,
            "ref_logits": np.stack([logits(keep[k]) for k in range(K)]), "ref_membership": keep}
