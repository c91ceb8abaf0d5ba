"""qaudit: membership-privacy audits and machine unlearning for quantum neural networks."""

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
import warnings

__version__ = "0.1.0"

#: ``API_VERSION``: version of the plugin API (hookspecs + protocols), defined in :mod:`qaudit.sdk.hookspecs`.
from qaudit.sdk.hookspecs import API_VERSION, hookimpl  # noqa: E402

__all__ = ["__version__", "API_VERSION", "hookimpl"]


#: Module paths published before the host was arranged in workflow folders (0.1), kept for one release:
#: importing one warns (DeprecationWarning) and gives the module at its new place. Plugins import ``qaudit.sdk``.
MOVED_MODULES = {
    "qaudit.audit": "qaudit.leak.audit",
    "qaudit.checkpoints": "qaudit.files.checkpoints",
    "qaudit.data": "qaudit.files.data",
    "qaudit.errors": "qaudit.sdk.errors",
    "qaudit.hookspecs": "qaudit.sdk.hookspecs",
    "qaudit.limits": "qaudit.sdk.limits",
    "qaudit.model": "qaudit.files.model_file",
    "qaudit.parallel": "qaudit.run.parallel",
    "qaudit.plugins": "qaudit.sdk.host",
    "qaudit.progress": "qaudit.sdk.progress",
    "qaudit.protocols": "qaudit.sdk.protocols",
    "qaudit.qnn": "qaudit.train.classifier",
    "qaudit.query": "qaudit.run.query",
    "qaudit.results": "qaudit.report.results",
    "qaudit.shot_study": "qaudit.shots",
    "qaudit.testing": "qaudit.sdk.testing",
    "qaudit.workflows": "qaudit.train.workflows",
}


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds the 0.1 module paths of :data:`MOVED_MODULES` (after every real module: a real one always wins)."""

    def __init__(self) -> None:
        self._specs: dict[str, importlib.machinery.ModuleSpec | None] = {}

    def find_spec(self, name: str, path: object = None, target: object = None) -> importlib.machinery.ModuleSpec | None:
        if name not in MOVED_MODULES:
            return None
        return importlib.machinery.ModuleSpec(name, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        new = MOVED_MODULES[spec.name]
        warnings.warn(f"{spec.name} moved to {new} in qaudit 0.2 (plugins: import qaudit.sdk); "
                      "the old path goes in the next release", DeprecationWarning, stacklevel=2)
        module = importlib.import_module(new)
        self._specs[new] = module.__spec__
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        """The module at its new place is already executed; give it back its own spec (the import set the alias's)."""
        module.__spec__ = self._specs.get(module.__name__, module.__spec__)


if not any(isinstance(finder, _MovedModules) for finder in sys.meta_path):
    sys.meta_path.append(_MovedModules())
