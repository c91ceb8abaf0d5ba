"""qaudit: membership-privacy audits and machine unlearning for quantum neural networks."""

__version__ = "0.1.0"

#: Version of the plugin API (hookspecs + protocols). A plugin may declare the
#: major version it was written for as a module attribute ``QAUDIT_API = "2"``;
#: a plugin declaring another major version is refused with a clear message.
API_VERSION = "2.1"

from qaudit.hookspecs import hookimpl  # noqa: E402

__all__ = ["__version__", "API_VERSION", "hookimpl"]
