"""Test helpers for qaudit plugin authors: a pytest plugin plus conformance checks.

The testing sub-API of :mod:`qaudit.sdk`, covered by :data:`qaudit.sdk.API_VERSION` like the rest of it.

Installed with qaudit and registered under the ``pytest11`` entry point, so the
fixtures are available in any project that has qaudit installed -- no
``conftest.py`` import needed.

Fixtures
--------
``qaudit_plugins``
    Override it (e.g. in your ``conftest.py``) to return the plugin modules under
    test -- ``[my_plugin]`` or ``{"my-plugin": my_plugin}``; default: none.
``qaudit_host``
    An isolated :class:`qaudit.sdk.host.Host` (installed entry points, the
    environment's ``QAUDIT_*`` variables ignored) with ``qaudit_plugins``
    registered, installed as the process-wide host for the test.
``qaudit_register``
    ``qaudit_register(module, name=None)`` registers one more plugin on
    ``qaudit_host`` and fails the test if it does not load.
``tiny_dataset``
    scikit-learn's digits as a :class:`qaudit.files.data.Dataset` (1797 x 64).
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
Each seam has a generator of named checks -- :func:`model_checks`, :func:`backend_checks`,
:func:`attack_checks`, :func:`unlearning_method_checks`, :func:`reporter_checks`,
:func:`executor_checks`, :func:`importer_checks` -- yielding ``(check_name, check)``;
:func:`parametrize_with_checks` makes one pytest test per check (ids ``ClassName-check_name``), so
every failure shows at once. The ``check_*`` functions (:func:`check_model`, :func:`check_backend`,
:func:`check_attack`, :func:`check_unlearning_method`, :func:`check_reporter`, :func:`check_executor`,
:func:`check_importer`) run every check of one class and raise one ``AssertionError`` listing every
broken promise; they return what they computed so tests can assert more.

Modules
-------
:mod:`~qaudit.sdk.testing.hosts` (isolated hosts), :mod:`~qaudit.sdk.testing.sample_model` (the tiny model and
dataset), :mod:`~qaudit.sdk.testing.sample_data` (sample report, synthetic outputs), :mod:`~qaudit.sdk.testing.runner`
(the in-process CLI runner), :mod:`~qaudit.sdk.testing.fixtures` (the pytest fixtures),
:mod:`~qaudit.sdk.testing.checks` (the named-check machinery), one ``checks_*`` module per seam and
:mod:`~qaudit.sdk.testing.parametrize` (any plugin class's checks, the pytest helper). Import from
``qaudit.sdk.testing`` itself: the names below are the public kit.
"""


from __future__ import annotations

from qaudit.sdk.testing.checks import Check
from qaudit.sdk.testing.checks_attacks import AttackCheck, attack_checks, check_attack
from qaudit.sdk.testing.checks_backends import (
    _angle_task,  # noqa: F401 - a private helper the test suite imports from here
    backend_checks,
    backend_reference,
    check_backend,
    default_tasks,
    exact_reference,
)
from qaudit.sdk.testing.checks_executors import check_executor, executor_checks
from qaudit.sdk.testing.checks_importers import check_importer, importer_checks
from qaudit.sdk.testing.checks_models import check_model, model_checks
from qaudit.sdk.testing.checks_reporters import check_reporter, reporter_checks
from qaudit.sdk.testing.checks_unlearning import check_unlearning_method, unlearning_method_checks
from qaudit.sdk.testing.fixtures import (  # noqa: F401 - pytest collects the fixtures from this module's namespace
    cli_runner,
    qaudit_host,
    qaudit_plugins,
    qaudit_register,
    tiny_dataset,
    tiny_model,
)
from qaudit.sdk.testing.hosts import make_host, using_host
from qaudit.sdk.testing.parametrize import kind_of, parametrize_with_checks, plugin_checks
from qaudit.sdk.testing.runner import CliResult, QauditCliRunner
from qaudit.sdk.testing.sample_data import sample_report, synthetic_outputs, timeless
from qaudit.sdk.testing.sample_model import (
    TINY_OPTIONS,
    TINY_SIZES,
    TinyModel,
    _exact_backend,  # noqa: F401 - a private helper the test suite imports from here
    load_tiny_dataset,
    train_tiny_model,
)

__all__ = [
    "AttackCheck", "Check", "CliResult", "QauditCliRunner", "TinyModel", "TINY_OPTIONS", "TINY_SIZES",
    "attack_checks", "backend_checks", "backend_reference", "check_attack", "check_backend", "check_model",
    "check_executor", "check_importer", "check_reporter", "check_unlearning_method", "default_tasks", "exact_reference",
    "executor_checks", "importer_checks", "kind_of",
    "load_tiny_dataset", "make_host", "model_checks", "parametrize_with_checks", "plugin_checks",
    "reporter_checks", "sample_report", "synthetic_outputs", "timeless", "train_tiny_model",
    "unlearning_method_checks", "using_host",
]
