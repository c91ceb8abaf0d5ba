"""qaudit: membership-privacy audits and machine unlearning for quantum neural networks."""

__version__ = "0.1.0"

#: ``API_VERSION``: version of the plugin API (hookspecs + protocols), defined in :mod:`qaudit.hookspecs`.
from qaudit.hookspecs import API_VERSION, hookimpl  # noqa: E402

__all__ = ["__version__", "API_VERSION", "hookimpl"]
