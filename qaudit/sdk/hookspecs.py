"""Every seam of qaudit, as pluggy hook specifications.

A plugin is any importable module (or object) with functions decorated by
``qaudit.hookimpl`` whose names match the specs below, advertised under the
``qaudit`` entry-point group::

    [project.entry-points.qaudit]
    my_plugin = "my_package.plugin"

The ``register_*`` hooks receive a ``register`` callback (as in simonw/llm): call it
once per thing you provide. Each registered thing is a class following the
matching protocol in :mod:`qaudit.sdk.protocols`; its ``name`` attribute is the name
users type on the command line. Two plugins registering the same name is an
error that names both plugins. Keep plugin modules light: import heavy libraries
(Cirq, scikit-learn) inside methods, so ``qaudit --help`` stays fast.

These hooks and the protocols (:mod:`qaudit.sdk.protocols`) form the plugin API, version
:data:`API_VERSION` (also ``qaudit.API_VERSION``; this is the one place it is written). A plugin
may declare the version it targets as ``QAUDIT_API = "MAJOR"`` or ``"MAJOR.MINOR"``; the host
(:func:`qaudit.sdk.host.check_api`) accepts the same major version with a minor version no newer than
this one. See docs/plugins.md (the guide and the reference generated from these docstrings) and
:mod:`qaudit.sdk.testing` for fixtures and conformance checks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

#: Version of the plugin API (these hooks + :mod:`qaudit.sdk.protocols`), ``"MAJOR.MINOR"``. Within a major
#: version the API only grows (new hooks, optional protocol members, dataclass fields with defaults), and the
#: minor version counts the additions; anything removed or changed is a new major version.
API_VERSION = "2.1"

hookspec = pluggy.HookspecMarker("qaudit")
hookimpl = pluggy.HookimplMarker("qaudit")

Register = Callable[..., None]


@hookspec
def register_models(register: Register) -> None:
    """Register model kinds (QNN architectures).

    Call ``register(ModelClass)`` for each kind. ``ModelClass.name`` is the kind
    written into ``model.json`` and accepted by ``qaudit train --model``. The class
    follows :class:`qaudit.sdk.protocols.Model`: ``from_options(options)`` builds an
    untrained estimator, ``fit(X, y)`` trains it and returns self,
    ``predict_proba(X, backend=..., shots=...)`` evaluates it,
    ``loss_and_grad``/``per_sample_grads`` give exact gradients, ``circuit()``
    exports its parameterised ``cirq.Circuit``, and ``to_document()`` /
    ``from_document()`` convert to and from the validated model-file sections.
    Subclassing :class:`qaudit.train.classifier.CircuitClassifier` provides all of this from a
    ``build_circuit()`` method. Check a model with :func:`qaudit.sdk.testing.check_model`.
    """


@hookspec
def register_datasets(register: Register) -> None:
    """Register datasets.

    Call ``register(DatasetClass)`` for each dataset. ``DatasetClass.name`` is
    accepted by ``--dataset``; the class follows :class:`qaudit.sdk.protocols.DatasetSource`:
    ``load(options) -> qaudit.files.data.Dataset`` returns features ``X`` (n_samples,
    n_features) float64, integer labels ``y`` and the image shape if any. A
    dataset that needs files raises ``QauditError`` naming the flag or
    environment variable that points to them. Sources that read user files
    declare ``suffixes`` (e.g. ``(".csv",)``) and are chosen for paths with that
    suffix.
    """


@hookspec
def register_backends(register: Register) -> None:
    """Register execution backends (simulators, noisy simulators, hardware).

    Call ``register(BackendClass)`` for each backend. ``BackendClass.name`` is
    accepted by ``--backend``; names may take an argument after a colon
    (``google:rainbow``): register the prefix with ``takes_argument = True``.
    The class follows :class:`qaudit.sdk.protocols.Backend`: it declares its
    ``capabilities`` (exact, shots, noise, max_qubits, hardware) and implements
    ``expectation(task, shots=None, seed=None)`` returning
    ``(n_samples, n_observables)`` float64 expectation values for a
    :class:`qaudit.sdk.protocols.QuantumTask` (a ``cirq.Circuit`` with its parameter
    values, per-sample input states or feature bindings, and Pauli observables).
    ``shots=None`` means exact; with ``shots=N`` return the N-shot estimate,
    reproducible for a given ``seed``. Backends that can return raw bit-string
    counts also implement ``sample(task, shots, seed)``
    (:class:`qaudit.sdk.protocols.SamplingBackend`). Check a backend with
    :func:`qaudit.sdk.testing.check_backend`.
    """


@hookspec
def register_attacks(register: Register) -> None:
    """Register membership-inference attacks.

    Call ``register(AttackClass)`` for each attack. ``AttackClass.name`` is
    accepted by ``qaudit leak --attack``. The class follows
    :class:`qaudit.sdk.protocols.Attack` (scikit-learn conventions): it is
    instantiated without arguments, ``fit(context) -> self`` prepares the attack
    from an :class:`qaudit.sdk.protocols.AttackContext` (target model, backend,
    shots, the attacker's known members/non-members, population data, seed,
    ``options`` from ``--attack-option``; query the target with
    ``context.outputs(X)``), and ``score(context, X, y) -> ndarray`` returns one
    finite membership score per sample, higher meaning "more likely a member".
    Attacks never compute metrics: the core judges every attack's scores the
    same way. Check an attack with :func:`qaudit.sdk.testing.check_attack`.
    """


@hookspec
def register_unlearning_methods(register: Register) -> None:
    """Register machine-unlearning methods.

    Call ``register(MethodClass)`` for each method. ``MethodClass.name`` is
    accepted by ``qaudit unlearn --method``. The class follows
    :class:`qaudit.sdk.protocols.UnlearningMethod`: it is instantiated without
    arguments, declares ``needs`` (a subset of ``{"forget", "retain", "train"}``;
    only that data is handed over) and implements
    ``unlearn(model, request) -> UnlearningOutcome``. Options (``-O key=value``)
    arrive in ``request.options``; reject unknown keys with ``QauditError``. It
    returns a *new* model (work on ``model.copy()``; the input is never
    modified) and the cost spent (per-sample circuit evaluations, gradient
    evaluations, seconds). Check a method with
    :func:`qaudit.sdk.testing.check_unlearning_method`.
    """


@hookspec
def register_reporters(register: Register) -> None:
    """Register report formats.

    Call ``register(ReporterClass)`` for each format. ``ReporterClass.name`` is
    accepted by ``--format``; ``suffix`` is the usual file suffix (``".csv"``).
    The class follows :class:`qaudit.sdk.protocols.Reporter`: it is instantiated
    without arguments and ``render(result, stream)`` writes a result object
    (a :class:`qaudit.report.results.Report`: verdict, summary, tables, ROC curves,
    findings, measurements) to a text stream. Reporters must not compute
    anything the result does not already hold, and the same result must render
    to the same text. Check a reporter with :func:`qaudit.sdk.testing.check_reporter`.
    """


@hookspec
def register_importers(register: Register) -> None:
    """Register model importers (``qaudit import NAME SOURCE``): converters from another framework.

    Call ``register(ImporterClass)`` for each importer. ``ImporterClass.name`` is the
    first argument of ``qaudit import``. The class follows
    :class:`qaudit.sdk.protocols.Importer`: it is instantiated without arguments and
    ``load(request) -> ImportedModel`` reads the user's source (a Python file, a
    circuit file) and trained weights named in the :class:`qaudit.sdk.protocols.ImportRequest`,
    converts it into an ordinary, data-only qaudit model (a registered model kind,
    e.g. a :class:`qaudit.train.classifier.CircuitClassifier` subclass) and returns it together with
    a ``reference(X)`` function giving the *source framework's own* class probabilities.
    The host checks the two agree to 1e-8 before it writes anything, fingerprints the
    source files and records the framework, its version and the training recipe.
    Importers may run the user's code (that is what an import is for); they must import
    their framework inside ``load`` only, never at module import time, and raise
    ``QauditError`` naming the unsupported operation, layer or parameter.
    """


@hookspec
def register_executors(register: Register) -> None:
    """Register executors: where batches of independent jobs run (in-process, local cores, a cluster).

    Call ``register(ExecutorClass)`` for each. ``ExecutorClass.name`` is accepted by
    ``--executor``; the class follows :class:`qaudit.sdk.protocols.Executor`:
    ``open(settings)`` returns a ready executor (``settings.workers``, ``settings.scheduler``),
    ``share(value)`` ships a large value to the workers once, ``map(fn, jobs, on_done)`` runs
    ``fn(*job.args)`` for every :class:`qaudit.sdk.protocols.Job` and returns the results in job order,
    ``describe()`` and ``close()``. Declare ``roles``: ``"default"`` (no ``--executor``),
    ``"inline"`` (in the calling process), ``"scheduler"`` (only ``--scheduler`` given).
    Import a distributed framework inside ``open``, never at module import, and refuse a
    missing framework or an unreachable scheduler with a one-line ``QauditError``.
    """


@hookspec
def register_commands(app: Any) -> None:
    """Add subcommands to the ``qaudit`` command line.

    ``app`` is the root ``typer.Typer``; decorate functions with
    ``@app.command()``. Called before the command line is parsed, so import
    heavy libraries inside the command function, not here. Raise
    ``qaudit.sdk.errors.QauditError`` for bad input so the user sees a one-line
    message and exit code 2. A hook that raises is reported by
    ``qaudit plugins`` and the other commands keep working.
    """


@hookspec(firstresult=True)
def load_model(path: str, document: Any) -> Any:
    """Load a model file in a foreign format.

    Called when a file is not a ``qaudit.model`` document. ``document`` is the
    parsed JSON (or ``None`` if the file is not JSON). Return a model object
    following :class:`qaudit.sdk.protocols.Model`, or ``None`` to let other plugins
    try. Never unpickle or execute anything named by the file.
    """
